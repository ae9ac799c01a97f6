/*
 * mime_decode_header - header field text: RFC 2047 encoded-words, RFC
 * 2231 parameter values and the RFC 5256 base subject (API in
 * mime_decode.h).
 *
 * Threats: header values are attacker text of up to the parser's
 * max_header_field (64 KiB by default).  Every scan here is bounded so the
 * whole value is looked at a constant number of times: an encoded-word
 * candidate ends at its third '?' (a charset is at most EW_CHARSET_MAX
 * bytes), RFC 2231 sections are indexed by number (at most
 * MIME_PARAM_SECTIONS_MAX, no sorting of attacker-sized lists), and the
 * base subject loop removes text from both ends of one buffer and
 * remembers where a leader match failed, so "[a][a][a]..." is not
 * rescanned once per removed blob.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/base64.h"
#include "core/buf.h"
#include "core/xmalloc.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_decode_int.h"

/* Longest "charset*language" of an encoded-word we try to read. */
#define EW_CHARSET_MAX	100

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool
is_lwsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * RFC 2047.
 */

struct ew {
	size_t		 cs_off, cs_len;	/* charset, no *language */
	char		 enc;			/* 'b' or 'q' */
	size_t		 text_off, text_len;
	size_t		 end;			/* just past "?=" */
};

/* An encoded-word at s[p] == '=', s[p + 1] == '?'? */
static bool
ew_parse(const char *s, size_t len, size_t p, struct ew *ew)
{
	size_t i = p + 2, j, star = 0;

	while (i < len && s[i] != '?' && i - (p + 2) < EW_CHARSET_MAX) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == '=' || c >= 0x7f)
			return false;
		if (c == '*' && star == 0)
			star = i;
		i++;
	}
	if (i >= len || s[i] != '?' || i == p + 2)
		return false;
	ew->cs_off = p + 2;
	ew->cs_len = (star != 0 ? star : i) - ew->cs_off;
	if (ew->cs_len == 0 || i + 2 >= len || s[i + 2] != '?')
		return false;
	switch (s[i + 1]) {
	case 'B':
	case 'b':
		ew->enc = 'b';
		break;
	case 'Q':
	case 'q':
		ew->enc = 'q';
		break;
	default:
		return false;
	}
	ew->text_off = i + 3;
	for (j = ew->text_off; j < len && s[j] != '?'; j++)
		;
	if (j + 1 >= len || s[j + 1] != '=')
		return false;
	ew->text_len = j - ew->text_off;
	ew->end = j + 2;
	return true;
}

/* RFC 2047 4.2 "Q": '_' is a space, "=XX" a byte, the rest literal. */
static bool
q_decode(const char *s, size_t len, struct buf *out)
{
	bool clean = true;
	int h1, h2;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '_') {
			buf_putc(out, ' ');
		} else if (s[i] == '=' && i + 2 < len &&
		    (h1 = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (h2 = hexval((unsigned char)s[i + 2])) >= 0) {
			buf_putc(out, (char)(h1 << 4 | h2));
			i += 2;
		} else {
			if (s[i] == '=')
				clean = false;
			buf_putc(out, s[i]);
		}
	}
	return clean;
}

struct hdec {
	struct buf		 *out;
	struct mime_charset_conv *conv;	/* of the previous word */
	char			 cs[MIME_CHARSET_NAME_MAX + 1];
	struct utf8_stream	 u8;
	struct buf		 raw;
	unsigned		 flags;
};

static void
hdec_end_word(struct hdec *h)
{
	if (h->conv == NULL)
		return;
	h->flags |= mime_charset_conv_finish(h->conv, h->out);
	mime_charset_conv_free(&h->conv);
}

/* Text outside encoded-words: UTF-8 (RFC 6532), unfolded. */
static void
hdec_text(struct hdec *h, const char *s, size_t len)
{
	size_t i = 0, start;

	hdec_end_word(h);
	while (i < len) {
		start = i;
		while (i < len && s[i] != '\r' && s[i] != '\n')
			i++;
		utf8_stream_feed(&h->u8, s + start, i - start, h->out);
		while (i < len && (s[i] == '\r' || s[i] == '\n'))
			i++;
	}
	if (utf8_stream_finish(&h->u8, h->out))
		h->flags |= MIME_DEC_INVALID;
}

static void
hdec_word(struct hdec *h, const char *s, const struct ew *ew)
{
	char cs[MIME_CHARSET_NAME_MAX + 1];
	size_t n = ew->cs_len < MIME_CHARSET_NAME_MAX ?
	    ew->cs_len : MIME_CHARSET_NAME_MAX;
	bool clean;

	/* Compare names as written (lowercased); aliases rarely mix. */
	for (size_t i = 0; i < n; i++) {
		char c = s[ew->cs_off + i];

		cs[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	cs[n] = '\0';
	buf_reset(&h->raw);
	if (ew->enc == 'b')
		clean = base64_decode_mime(s + ew->text_off, ew->text_len,
		    &h->raw) == 0;
	else
		clean = q_decode(s + ew->text_off, ew->text_len, &h->raw);
	if (!clean)
		h->flags |= MIME_DEC_INVALID;
	if (h->conv == NULL || strcmp(cs, h->cs) != 0) {
		hdec_end_word(h);
		/* A name of MIME_CHARSET_NAME_MAX bytes is refused there. */
		h->conv = mime_charset_conv_create(cs);
		memcpy(h->cs, cs, n + 1);
	}
	mime_charset_conv_feed(h->conv, h->raw.data, h->raw.len, h->out);
}

unsigned
mime_header_decode(const char *s, size_t len, struct buf *out)
{
	struct hdec h;
	struct ew ew;
	size_t pos = 0, text = 0;
	bool prev_word = false;
	const char *p;

	memset(&h, 0, sizeof(h));
	h.out = out;
	utf8_stream_init(&h.u8);
	buf_init(&h.raw);
	while (pos + 1 < len) {
		p = memchr(s + pos, '=', len - pos - 1);
		if (p == NULL)
			break;
		pos = (size_t)(p - s);
		if (s[pos + 1] != '?' || !ew_parse(s, len, pos, &ew)) {
			pos++;
			continue;
		}
		if (pos > text) {
			bool blank = true;

			for (size_t i = text; i < pos && blank; i++)
				blank = is_lwsp((unsigned char)s[i]);
			/* RFC 2047 6.2: blanks between two words go. */
			if (!prev_word || !blank)
				hdec_text(&h, s + text, pos - text);
		}
		hdec_word(&h, s, &ew);
		prev_word = true;
		pos = text = ew.end;
	}
	if (text < len)
		hdec_text(&h, s + text, len - text);
	hdec_end_word(&h);
	buf_free(&h.raw);
	return h.flags;
}

/*
 * RFC 2231.
 */

/* Percent-decodes s into out; a stray '%' is kept.  Returns clean. */
static bool
pct_decode(const char *s, size_t len, struct buf *out)
{
	bool clean = true;
	int h1, h2;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    (h1 = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (h2 = hexval((unsigned char)s[i + 2])) >= 0) {
			buf_putc(out, (char)(h1 << 4 | h2));
			i += 2;
		} else {
			if (s[i] == '%')
				clean = false;
			buf_putc(out, s[i]);
		}
	}
	return clean;
}

/*
 * charset'language'value: the charset goes to cs (empty when absent or
 * unreadable), the percent-decoded value to raw.  Returns clean.
 */
static bool
ext_value(const char *v, char cs[MIME_CHARSET_NAME_MAX], struct buf *raw)
{
	const char *q1 = strchr(v, '\''), *q2;
	size_t n;

	cs[0] = '\0';
	q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
	if (q2 == NULL) {
		/* No charset'language' prefix: take it all, flag it. */
		(void)pct_decode(v, strlen(v), raw);
		return false;
	}
	n = (size_t)(q1 - v);
	if (n < MIME_CHARSET_NAME_MAX) {
		memcpy(cs, v, n);
		cs[n] = '\0';
	}
	return pct_decode(q2 + 1, strlen(q2 + 1), raw);
}

/* name*N or name*N* with N a section number: returns N, or -1. */
static int
section_number(const char *pname, const char *name, size_t nlen, bool *ext)
{
	const char *s;
	int n = 0;

	if (strncasecmp(pname, name, nlen) != 0 || pname[nlen] != '*')
		return -1;
	s = pname + nlen + 1;
	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' &&
	    s[1] <= '9'))
		return -1;
	while (*s >= '0' && *s <= '9') {
		n = n * 10 + (*s++ - '0');
		if (n >= MIME_PARAM_SECTIONS_MAX)
			return -1;
	}
	*ext = *s == '*';
	if (*ext)
		s++;
	return *s == '\0' ? n : -1;
}

static void
convert_raw(const char *cs, const struct buf *raw, struct buf *out,
    unsigned *flags)
{
	*flags |= mime_charset_to_utf8(cs[0] != '\0' ? cs : NULL,
	    raw->data, raw->len, out);
}

int
mime_param_decode(const struct mime_param *list, const char *name,
    struct buf *out, unsigned *flags_r)
{
	const struct mime_param *p, **sec = NULL;
	char cs[MIME_CHARSET_NAME_MAX];
	struct buf raw = BUF_INIT;
	size_t nlen = strlen(name);
	unsigned flags = 0, ext_mask[(MIME_PARAM_SECTIONS_MAX + 31) / 32];
	int n;
	bool ext;

	if (flags_r != NULL)
		*flags_r = 0;
	/* name*: one extended value. */
	for (p = list; p != NULL; p = p->next) {
		if (strncasecmp(p->name, name, nlen) == 0 &&
		    strcmp(p->name + nlen, "*") == 0) {
			if (!ext_value(p->value, cs, &raw))
				flags |= MIME_DEC_INVALID;
			convert_raw(cs, &raw, out, &flags);
			goto found;
		}
	}
	/* name*0, name*1*, ...: the first of each number counts. */
	memset(ext_mask, 0, sizeof(ext_mask));
	for (p = list; p != NULL; p = p->next) {
		if ((n = section_number(p->name, name, nlen, &ext)) < 0)
			continue;
		if (sec == NULL)
			sec = xcalloc(MIME_PARAM_SECTIONS_MAX,
			    sizeof(const struct mime_param *));
		if (sec[n] != NULL)
			continue;
		sec[n] = p;
		if (ext)
			ext_mask[n / 32] |= 1U << (n % 32);
	}
	if (sec != NULL && sec[0] != NULL) {
		cs[0] = '\0';
		for (n = 0; n < MIME_PARAM_SECTIONS_MAX && sec[n] != NULL;
		    n++) {
			const char *v = sec[n]->value;

			if ((ext_mask[n / 32] & 1U << (n % 32)) == 0)
				buf_append(&raw, v, strlen(v));
			else if (n == 0 ? !ext_value(v, cs, &raw) :
			    !pct_decode(v, strlen(v), &raw))
				flags |= MIME_DEC_INVALID;
		}
		convert_raw(cs, &raw, out, &flags);
		goto found;
	}
	/* The plain parameter; encoded-words are what Outlook sends. */
	for (p = list; p != NULL; p = p->next) {
		if (strcasecmp(p->name, name) == 0) {
			if (strstr(p->value, "=?") != NULL)
				flags |= mime_header_decode(p->value,
				    strlen(p->value), out);
			else if (!mime_utf8_repair(p->value, strlen(p->value),
			    out))
				flags |= MIME_DEC_INVALID;
			goto found;
		}
	}
	free(sec);
	return 0;
found:
	free(sec);
	buf_free(&raw);
	if (flags_r != NULL)
		*flags_r = flags;
	return 1;
}

/*
 * RFC 5256 2.1 base subject.  The text lives in t[s..e); steps only move
 * s forward and e backward.
 */

struct subj {
	const char	*t;
	size_t		 s, e;
	size_t		 no_leader;	/* step (3) fails before here */
	bool		 refwd;
};

static bool
ascii_prefix_ci(const char *t, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && strncasecmp(t, word, n) == 0;
}

/*
 * subj-blob = "[" *BLOBCHAR "]" *WSP at t[*i] (blanks are single spaces
 * by now): advances *i past it.
 */
static bool
subj_blob(const struct subj *sj, size_t *i)
{
	size_t k = *i;

	if (k >= sj->e || sj->t[k] != '[')
		return false;
	for (k++; k < sj->e && sj->t[k] != '[' && sj->t[k] != ']'; k++)
		;
	if (k >= sj->e || sj->t[k] != ']')
		return false;
	k++;
	if (k < sj->e && sj->t[k] == ' ')
		k++;
	*i = k;
	return true;
}

/* (2) subj-trailer = "(fwd)" / WSP, repeatedly. */
static void
subj_trailers(struct subj *sj)
{
	while (sj->e > sj->s) {
		if (sj->t[sj->e - 1] == ' ') {
			sj->e--;
		} else if (sj->e - sj->s >= 5 &&
		    strncasecmp(sj->t + sj->e - 5, "(fwd)", 5) == 0) {
			sj->e -= 5;
			sj->refwd = true;
		} else
			break;
	}
}

/*
 * (3) subj-leader = (*subj-blob subj-refwd) / WSP
 *     subj-refwd  = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
 */
static bool
subj_leader(struct subj *sj)
{
	size_t i;

	if (sj->s < sj->e && sj->t[sj->s] == ' ') {
		sj->s++;
		return true;
	}
	if (sj->s < sj->no_leader)
		return false;
	i = sj->s;
	while (i < sj->e && sj->t[i] == '[')
		if (!subj_blob(sj, &i))
			break;
	if (ascii_prefix_ci(sj->t + i, sj->e - i, "fwd"))
		i += 3;
	else if (ascii_prefix_ci(sj->t + i, sj->e - i, "re") ||
	    ascii_prefix_ci(sj->t + i, sj->e - i, "fw"))
		i += 2;
	else
		goto fail;
	if (i < sj->e && sj->t[i] == ' ')
		i++;
	if (i < sj->e && sj->t[i] == '[' && !subj_blob(sj, &i))
		goto fail;
	if (i >= sj->e || sj->t[i] != ':')
		goto fail;
	sj->s = i + 1;
	sj->refwd = true;
	return true;
fail:
	/*
	 * Step (4) only removes whole blobs of the run just read, so every
	 * later start before i reads the same blobs and fails here again.
	 */
	sj->no_leader = i;
	return false;
}

/* (4) a leading subj-blob, when something is left after it. */
static bool
subj_blob_prefix(struct subj *sj)
{
	size_t i = sj->s;

	if (!subj_blob(sj, &i) || i >= sj->e)
		return false;
	sj->s = i;
	return true;
}

/* (6) subj-fwd = "[fwd:" subject "]" */
static bool
subj_fwd(struct subj *sj)
{
	if (sj->e - sj->s < 6 || strncasecmp(sj->t + sj->s, "[fwd:", 5) != 0 ||
	    sj->t[sj->e - 1] != ']')
		return false;
	sj->s += 5;
	sj->e--;
	sj->refwd = true;
	return true;
}

bool
mime_base_subject(const char *raw, size_t len, struct buf *out)
{
	struct buf dec = BUF_INIT;
	struct subj sj;
	size_t w = 0;
	bool found;

	/* (1) Decode; every run of blanks becomes one space. */
	(void)mime_header_decode(raw, len, &dec);
	if (dec.len == 0) {
		buf_free(&dec);
		return false;
	}
	for (size_t r = 0; r < dec.len; r++) {
		char c = dec.data[r];

		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && w > 0 && dec.data[w - 1] == ' ')
			continue;
		dec.data[w++] = c;
	}
	memset(&sj, 0, sizeof(sj));
	sj.t = dec.data;
	sj.e = w;
	do {
		subj_trailers(&sj);			/* (2) */
		sj.no_leader = 0;
		do {
			found = subj_leader(&sj);	/* (3) */
			if (subj_blob_prefix(&sj))	/* (4) */
				found = true;
		} while (found);			/* (5) */
	} while (subj_fwd(&sj));			/* (6) */
	if (sj.e > sj.s)
		buf_append(out, sj.t + sj.s, sj.e - sj.s);
	buf_free(&dec);
	return sj.refwd;
}
