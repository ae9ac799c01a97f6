/*
 * mime_decode - Content-Transfer-Encoding decoders, charset conversion to
 * UTF-8 and UTF-8 repair (API in mime_decode.h).
 *
 * Every decoder is a byte-driven state machine whose state between two
 * chunks is a handful of bytes, so where a chunk ends can never change the
 * output: the quoted-printable decoder holds back an "=", "=X" or a run of
 * blanks (at most MIME_QP_BLANKS_MAX, so a hostile run cannot grow it),
 * base64 at most three sextets (auth/base64.c's tolerant decoder), the
 * UTF-8 repairer three bytes, the UTF-7 decoder a few bits, and the iconv
 * converter one CONV_BLOCK of input plus CONV_PEND_MAX bytes of an
 * unfinished character.
 *
 * iconv is fed only canonical names made of [a-z0-9-_.:+()] (see
 * charset_name_ok()): glibc reads "//TRANSLIT" or "//IGNORE" suffixes from
 * the name, and a label in a message must never choose that behaviour.
 */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/base64.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "mime/mime_decode.h"
#include "mime/mime_decode_int.h"

/*
 * UTF-8.
 */

int
mime_utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	uint32_t v;
	int n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xc2 || c > 0xf4)
		return -1;
	if (c < 0xe0) {
		n = 2;
		v = c & 0x1f;
	} else if (c < 0xf0) {
		n = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else {
		n = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	}
	for (int i = 1; i < n; i++) {
		if ((size_t)i >= len)
			return 0;
		if (s[i] < lo || s[i] > hi)
			return -i;
		v = v << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = v;
	return n;
}

bool
mime_utf8_valid(const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i = 0;
	uint32_t cp;
	int n;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = mime_utf8_next(s + i, len - i, &cp);
		if (n <= 0)
			return false;
		i += (size_t)n;
	}
	return true;
}

size_t
mime_utf8_count(const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

size_t
mime_utf8_encode(uint32_t cp, char u[4])
{
	if (cp < 0x80) {
		u[0] = (char)cp;
		return 1;
	}
	/* Surrogates and values past Unicode become U+FFFD, 3 bytes. */
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (char)(0xf0 | cp >> 18);
	u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

void
mime_utf8_put(struct buf *out, uint32_t cp)
{
	char u[4];

	if (cp < 0x80)
		buf_putc(out, (char)cp);
	else
		buf_append(out, u, mime_utf8_encode(cp, u));
}

void
utf8_stream_init(struct utf8_stream *st)
{
	memset(st, 0, sizeof(*st));
}

static void
utf8_stream_bad(struct utf8_stream *st, struct buf *out)
{
	if (!st->bad)
		buf_append(out, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
	st->bad = true;
	st->invalid = true;
}

void
utf8_stream_feed(struct utf8_stream *st, const void *p, size_t len,
    struct buf *out)
{
	const unsigned char *s = p;
	size_t i = 0, start;
	uint32_t cp;
	int n;

	/*
	 * Finish a character held back from the previous chunk.  The held
	 * bytes are a valid unfinished prefix, so a failure is caused by the
	 * byte just added: the prefix is the invalid subpart and that byte is
	 * read again below.
	 */
	while (st->npend > 0 && i < len) {
		st->pend[st->npend++] = s[i++];
		n = mime_utf8_next(st->pend, st->npend, &cp);
		if (n == 0)
			continue;
		if (n > 0) {
			buf_append(out, st->pend, (size_t)n);
			st->bad = false;
		} else {
			utf8_stream_bad(st, out);
			i--;
		}
		st->npend = 0;
	}
	while (i < len) {
		start = i;
		while (i < len && s[i] < 0x80)
			i++;
		if (i > start) {
			buf_append(out, s + start, i - start);
			st->bad = false;
			continue;
		}
		n = mime_utf8_next(s + i, len - i, &cp);
		if (n > 0) {
			buf_append(out, s + i, (size_t)n);
			st->bad = false;
			i += (size_t)n;
		} else if (n == 0) {
			memcpy(st->pend, s + i, len - i);
			st->npend = len - i;
			break;
		} else {
			utf8_stream_bad(st, out);
			i += (size_t)-n;
		}
	}
}

bool
utf8_stream_finish(struct utf8_stream *st, struct buf *out)
{
	bool invalid;

	if (st->npend > 0)
		utf8_stream_bad(st, out);
	invalid = st->invalid;
	utf8_stream_init(st);
	return invalid;
}

bool
mime_utf8_repair(const void *p, size_t len, struct buf *out)
{
	struct utf8_stream st;

	utf8_stream_init(&st);
	utf8_stream_feed(&st, p, len, out);
	return !utf8_stream_finish(&st, out);
}

/*
 * Content-Transfer-Encoding.
 */

enum qp_state {
	QP_TEXT,
	QP_BLANKS,	/* blanks held back: trailing or not? */
	QP_LONG_BLANKS,	/* a run too long to hold: written as it comes */
	QP_CR,		/* CR seen (held blanks still held) */
	QP_EQ,		/* "=" */
	QP_EQ_HEX,	/* "=" and one hex digit */
	QP_EQ_BLANKS,	/* "=" and blanks: a soft break, or garbage */
	QP_EQ_CR,	/* "=" [blanks] CR */
};

struct mime_cte_decoder {
	enum mime_cte		 cte;
	unsigned		 flags;
	enum qp_state		 qs;
	char			 hex1;
	size_t			 nblank;
	char			 blanks[MIME_QP_BLANKS_MAX];
	struct base64_mime_state b64;
};

static bool
ascii_eq_trim(const char *s, const char *word)
{
	size_t len, wlen = strlen(word);

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return len == wlen && strncasecmp(s, word, len) == 0;
}

enum mime_cte
mime_cte_parse(const char *s)
{
	if (s == NULL || ascii_eq_trim(s, "") || ascii_eq_trim(s, "7bit"))
		return MIME_CTE_7BIT;
	if (ascii_eq_trim(s, "8bit"))
		return MIME_CTE_8BIT;
	if (ascii_eq_trim(s, "binary"))
		return MIME_CTE_BINARY;
	if (ascii_eq_trim(s, "quoted-printable"))
		return MIME_CTE_QP;
	if (ascii_eq_trim(s, "base64"))
		return MIME_CTE_BASE64;
	return MIME_CTE_UNKNOWN;
}

struct mime_cte_decoder *
mime_cte_decoder_create(enum mime_cte cte)
{
	struct mime_cte_decoder *d = xcalloc(1, sizeof(*d));

	d->cte = cte;
	d->qs = QP_TEXT;
	base64_mime_init(&d->b64);
	return d;
}

void
mime_cte_decoder_free(struct mime_cte_decoder **dp)
{
	free(*dp);
	*dp = NULL;
}

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

static void
qp_flush_blanks(struct mime_cte_decoder *d, struct buf *out)
{
	buf_append(out, d->blanks, d->nblank);
	d->nblank = 0;
}

/* Anything but these four is plain text to the QP state machine. */
static bool
qp_special(unsigned char c)
{
	return c == '=' || c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

static void
qp_decode(struct mime_cte_decoder *d, const unsigned char *s, size_t len,
    struct buf *out)
{
	size_t i = 0, start;
	unsigned char c;
	int h, h1;

	/*
	 * A "continue" without i++ reads the byte again in QP_TEXT: every
	 * state that does so has just moved to QP_TEXT, which consumes any
	 * byte, so the loop always advances.
	 */
	while (i < len) {
		c = s[i];
		switch (d->qs) {
		case QP_TEXT:
			start = i;
			while (i < len && !qp_special(s[i]))
				i++;
			if (i > start) {
				buf_append(out, s + start, i - start);
				continue;
			}
			if (c == ' ' || c == '\t') {
				d->blanks[d->nblank++] = (char)c;
				d->qs = QP_BLANKS;
			} else if (c == '\r')
				d->qs = QP_CR;
			else if (c == '\n')
				buf_append(out, "\r\n", 2);
			else
				d->qs = QP_EQ;
			break;
		case QP_BLANKS:
			if (c == ' ' || c == '\t') {
				if (d->nblank < sizeof(d->blanks)) {
					d->blanks[d->nblank++] = (char)c;
					break;
				}
				/* Not from an encoder: keep it as data. */
				qp_flush_blanks(d, out);
				buf_putc(out, (char)c);
				d->flags |= MIME_DEC_INVALID;
				d->qs = QP_LONG_BLANKS;
			} else if (c == '\r') {
				d->qs = QP_CR;
			} else if (c == '\n') {
				d->nblank = 0;
				buf_append(out, "\r\n", 2);
				d->qs = QP_TEXT;
			} else {
				qp_flush_blanks(d, out);
				d->qs = QP_TEXT;
				continue;
			}
			break;
		case QP_LONG_BLANKS:
			if (c == ' ' || c == '\t') {
				buf_putc(out, (char)c);
				break;
			}
			d->qs = QP_TEXT;
			continue;
		case QP_CR:
			if (c == '\n') {
				d->nblank = 0;
				buf_append(out, "\r\n", 2);
				d->qs = QP_TEXT;
				break;
			}
			/* A bare CR: kept, and so are the blanks before it. */
			qp_flush_blanks(d, out);
			buf_putc(out, '\r');
			d->flags |= MIME_DEC_INVALID;
			d->qs = QP_TEXT;
			continue;
		case QP_EQ:
			if (hexval(c) >= 0) {
				d->hex1 = (char)c;
				d->qs = QP_EQ_HEX;
			} else if (c == ' ' || c == '\t') {
				d->blanks[d->nblank++] = (char)c;
				d->qs = QP_EQ_BLANKS;
			} else if (c == '\r') {
				d->qs = QP_EQ_CR;
			} else if (c == '\n') {
				d->qs = QP_TEXT;	/* soft line break */
			} else {
				buf_putc(out, '=');
				d->flags |= MIME_DEC_INVALID;
				d->qs = QP_TEXT;
				continue;
			}
			break;
		case QP_EQ_HEX:
			/* QP_EQ keeps only a hex digit in hex1. */
			h1 = hexval((unsigned char)d->hex1);
			PH_ASSERT(h1 >= 0);
			h = hexval(c);
			if (h >= 0) {
				buf_putc(out, (char)(h1 << 4 | h));
				d->qs = QP_TEXT;
				break;
			}
			buf_putc(out, '=');
			buf_putc(out, d->hex1);
			d->flags |= MIME_DEC_INVALID;
			d->qs = QP_TEXT;
			continue;
		case QP_EQ_BLANKS:
			if (c == ' ' || c == '\t') {
				/* Dropped at the line break anyway. */
				if (d->nblank < sizeof(d->blanks))
					d->blanks[d->nblank++] = (char)c;
				break;
			}
			if (c == '\r') {
				d->qs = QP_EQ_CR;
				break;
			}
			if (c == '\n') {
				d->nblank = 0;
				d->qs = QP_TEXT;
				break;
			}
			buf_putc(out, '=');
			qp_flush_blanks(d, out);
			d->flags |= MIME_DEC_INVALID;
			d->qs = QP_TEXT;
			continue;
		case QP_EQ_CR:
			if (c == '\n') {
				d->nblank = 0;
				d->qs = QP_TEXT;
				break;
			}
			buf_putc(out, '=');
			qp_flush_blanks(d, out);
			buf_putc(out, '\r');
			d->flags |= MIME_DEC_INVALID;
			d->qs = QP_TEXT;
			continue;
		}
		i++;
	}
}

static void
qp_finish(struct mime_cte_decoder *d, struct buf *out)
{
	switch (d->qs) {
	case QP_TEXT:
	case QP_LONG_BLANKS:
	case QP_BLANKS:
	case QP_EQ:
	case QP_EQ_BLANKS:
	case QP_EQ_CR:
		/* Nothing, or blanks or a soft break ending the last line. */
		break;
	case QP_CR:
		qp_flush_blanks(d, out);
		buf_putc(out, '\r');
		d->flags |= MIME_DEC_INVALID;
		break;
	case QP_EQ_HEX:
		buf_putc(out, '=');
		buf_putc(out, d->hex1);
		d->flags |= MIME_DEC_INVALID;
		break;
	}
	d->nblank = 0;
	d->qs = QP_TEXT;
}

void
mime_cte_decode(struct mime_cte_decoder *d, const void *p, size_t len,
    struct buf *out)
{
	switch (d->cte) {
	case MIME_CTE_QP:
		qp_decode(d, p, len, out);
		break;
	case MIME_CTE_BASE64:
		base64_mime_feed(&d->b64, p, len, out);
		break;
	case MIME_CTE_7BIT:
	case MIME_CTE_8BIT:
	case MIME_CTE_BINARY:
	case MIME_CTE_UNKNOWN:
		buf_append(out, p, len);
		break;
	}
}

unsigned
mime_cte_decoder_finish(struct mime_cte_decoder *d, struct buf *out)
{
	unsigned flags;

	switch (d->cte) {
	case MIME_CTE_QP:
		qp_finish(d, out);
		break;
	case MIME_CTE_BASE64:
		if (base64_mime_finish(&d->b64, out) != 0)
			d->flags |= MIME_DEC_INVALID;
		break;
	case MIME_CTE_UNKNOWN:
		d->flags |= MIME_DEC_UNKNOWN_CTE;
		break;
	case MIME_CTE_7BIT:
	case MIME_CTE_8BIT:
	case MIME_CTE_BINARY:
		break;
	}
	flags = d->flags;
	d->flags = 0;
	return flags;
}

unsigned
mime_cte_decode_all(enum mime_cte cte, const void *p, size_t len,
    struct buf *out)
{
	struct mime_cte_decoder *d = mime_cte_decoder_create(cte);
	unsigned flags;

	mime_cte_decode(d, p, len, out);
	flags = mime_cte_decoder_finish(d, out);
	mime_cte_decoder_free(&d);
	return flags;
}

/*
 * Charset names.
 */

static const struct {
	const char	*alias;
	const char	*name;
} charset_aliases[] = {
	/* Read as UTF-8 without iconv. */
	{ "utf8", "utf-8" },
	{ "unicode-1-1-utf-8", "utf-8" },
	{ "unicode-2-0-utf-8", "utf-8" },
	{ "x-unicode20utf8", "utf-8" },
	{ "ascii", "us-ascii" },
	{ "us", "us-ascii" },
	{ "ansi_x3.4-1968", "us-ascii" },
	{ "ansi_x3.4-1986", "us-ascii" },
	{ "iso646-us", "us-ascii" },
	{ "iso_646.irv:1991", "us-ascii" },
	{ "iso-ir-6", "us-ascii" },
	{ "cp367", "us-ascii" },
	{ "ibm367", "us-ascii" },
	{ "csascii", "us-ascii" },
	{ "646", "us-ascii" },
	/* Built-in windows-1252 (WHATWG: latin1 labels mean cp1252). */
	{ "iso-8859-1", "windows-1252" },
	{ "iso8859-1", "windows-1252" },
	{ "iso_8859-1", "windows-1252" },
	{ "iso_8859-1:1987", "windows-1252" },
	{ "iso88591", "windows-1252" },
	{ "latin1", "windows-1252" },
	{ "latin-1", "windows-1252" },
	{ "l1", "windows-1252" },
	{ "iso-ir-100", "windows-1252" },
	{ "csisolatin1", "windows-1252" },
	{ "cp819", "windows-1252" },
	{ "ibm819", "windows-1252" },
	{ "cp1252", "windows-1252" },
	{ "x-cp1252", "windows-1252" },
	/* Supersets, as the WHATWG Encoding Standard reads them. */
	{ "shift_jis", "cp932" },
	{ "shift-jis", "cp932" },
	{ "sjis", "cp932" },
	{ "x-sjis", "cp932" },
	{ "ms_kanji", "cp932" },
	{ "csshiftjis", "cp932" },
	{ "windows-31j", "cp932" },
	{ "ms932", "cp932" },
	{ "gb2312", "gb18030" },
	{ "gbk", "gb18030" },
	{ "x-gbk", "gb18030" },
	{ "euc-cn", "gb18030" },
	{ "cp936", "gb18030" },
	{ "csgb2312", "gb18030" },
	{ "gb_2312-80", "gb18030" },
	{ "chinese", "gb18030" },
	{ "euc-kr", "cp949" },
	{ "ks_c_5601-1987", "cp949" },
	{ "ks_c_5601-1989", "cp949" },
	{ "ksc5601", "cp949" },
	{ "ksc_5601", "cp949" },
	{ "cseuckr", "cp949" },
	{ "windows-949", "cp949" },
	{ "korean", "cp949" },
	{ "big5", "big5-hkscs" },
	{ "x-x-big5", "big5-hkscs" },
	{ "cn-big5", "big5-hkscs" },
	{ "csbig5", "big5-hkscs" },
	{ "tis-620", "cp874" },
	{ "iso-8859-11", "cp874" },
	{ "windows-874", "cp874" },
	{ "dos-874", "cp874" },
	{ "iso-8859-9", "cp1254" },
	{ "iso8859-9", "cp1254" },
	{ "latin5", "cp1254" },
	{ "windows-1254", "cp1254" },
	{ "iso-8859-8-i", "iso-8859-8" },
	{ "iso-8859-8-e", "iso-8859-8" },
	{ "iso-8859-6-i", "iso-8859-6" },
	{ "iso-8859-6-e", "iso-8859-6" },
	{ "x-mac-roman", "macintosh" },
	{ "mac", "macintosh" },
	{ "unicode-1-1-utf-7", "utf-7" },
	/* Labels that name no charset: read as UTF-8 (Dovecot). */
	{ "unknown", "x-unknown" },
	{ "unknown-8bit", "x-unknown" },
	{ "x-unknown-8bit", "x-unknown" },
	{ "x-user-defined", "x-unknown" },
	{ "default", "x-unknown" },
};

static bool
charset_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("-_.:+()", c) != NULL;
}

bool
mime_charset_normalize(const char *name, char out[MIME_CHARSET_NAME_MAX])
{
	size_t len, i;

	out[0] = '\0';
	if (name == NULL)
		return false;
	while (*name == ' ' || *name == '\t')
		name++;
	len = strlen(name);
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= MIME_CHARSET_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '\0' || !charset_name_char(c)) {
			out[0] = '\0';
			return false;
		}
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	out[len] = '\0';
	for (i = 0; i < sizeof(charset_aliases) / sizeof(charset_aliases[0]);
	    i++) {
		if (strcmp(out, charset_aliases[i].alias) == 0) {
			/* Every canonical name is shorter than the limit. */
			snprintf(out, MIME_CHARSET_NAME_MAX, "%s",
			    charset_aliases[i].name);
			break;
		}
	}
	return true;
}

/*
 * Conversion.
 */

enum conv_kind {
	CONV_UTF8,	/* utf-8, us-ascii and unknown charsets */
	CONV_CP1252,
	CONV_UTF7,	/* built in: glibc's depends on where chunks end */
	CONV_ICONV,
};

/* Longest unfinished multibyte sequence held between chunks. */
#define CONV_PEND_MAX	16
/* New bytes joined to held-back ones to finish their character. */
#define CONV_JOIN	32
/* iconv sees the input in blocks of this size (see iconv_feed()). */
#define CONV_BLOCK	4096

struct mime_charset_conv {
	enum conv_kind		 kind;
	bool			 known;
	bool			 bad;	/* last output: U+FFFD */
	bool			 invalid;
	iconv_t			 cd;
	struct utf8_stream	 u8;
	unsigned char		 pend[CONV_PEND_MAX];
	size_t			 npend;
	unsigned char		*blk;		/* CONV_BLOCK bytes */
	size_t			 nblk;
	/* UTF-7: base64 run state */
	bool			 u7_b64;	/* inside "+..." */
	bool			 u7_plus;	/* just after the '+' */
	uint32_t		 u7_bits;
	unsigned		 u7_nbits;
	uint32_t		 u7_high;	/* pending high surrogate */
};

/* windows-1252 0x80-0x9F (WHATWG index; holes map to the C1 control). */
const uint16_t mime_cp1252_c1[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

struct mime_charset_conv *
mime_charset_conv_create(const char *charset)
{
	struct mime_charset_conv *c = xcalloc(1, sizeof(*c));
	char name[MIME_CHARSET_NAME_MAX];

	c->cd = (iconv_t)-1;
	c->kind = CONV_UTF8;
	utf8_stream_init(&c->u8);
	if (charset == NULL) {
		c->known = true;
		return c;
	}
	if (!mime_charset_normalize(charset, name) ||
	    strcmp(name, "x-unknown") == 0)
		return c;
	c->known = true;
	if (strcmp(name, "utf-8") == 0 || strcmp(name, "us-ascii") == 0)
		return c;
	if (strcmp(name, "windows-1252") == 0) {
		c->kind = CONV_CP1252;
		return c;
	}
	if (strcmp(name, "utf-7") == 0) {
		c->kind = CONV_UTF7;
		return c;
	}
	c->cd = iconv_open("UTF-8", name);
	if (c->cd == (iconv_t)-1) {
		c->known = false;
	} else {
		c->kind = CONV_ICONV;
		c->blk = xmalloc(CONV_BLOCK);
	}
	return c;
}

bool
mime_charset_conv_known(const struct mime_charset_conv *c)
{
	return c->known;
}

bool
mime_charset_supported(const char *charset)
{
	struct mime_charset_conv *c;
	bool known;

	if (charset == NULL)
		return false;
	c = mime_charset_conv_create(charset);
	known = c->known;
	mime_charset_conv_free(&c);
	return known;
}

void
mime_charset_conv_free(struct mime_charset_conv **cp)
{
	struct mime_charset_conv *c = *cp;

	if (c == NULL)
		return;
	if (c->cd != (iconv_t)-1)
		iconv_close(c->cd);
	free(c->blk);
	free(c);
	*cp = NULL;
}

static void
conv_bad(struct mime_charset_conv *c, struct buf *out)
{
	if (!c->bad)
		buf_append(out, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
	c->bad = true;
	c->invalid = true;
}

static void
cp1252_feed(struct mime_charset_conv *c, const unsigned char *s, size_t len,
    struct buf *out)
{
	size_t i = 0, start;

	while (i < len) {
		start = i;
		while (i < len && s[i] < 0x80)
			i++;
		buf_append(out, s + start, i - start);
		if (i < len) {
			mime_utf8_put(out, s[i] < 0xa0 ?
			    mime_cp1252_c1[s[i] - 0x80] : s[i]);
			i++;
		}
	}
	if (len > 0)
		c->bad = false;
}

/*
 * UTF-7 (RFC 2152), byte by byte so chunking cannot matter.  Lenient like
 * the rest: any ASCII byte outside a base64 run is itself; an 8-bit byte,
 * a lone surrogate, a '+' followed by neither base64 nor '-', and non-zero
 * leftover bits at the end of a run are replaced.
 */
static int
u7_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static void
u7_put(struct mime_charset_conv *c, uint32_t cp, struct buf *out)
{
	mime_utf8_put(out, cp);
	c->bad = false;
}

static void
u7_unit(struct mime_charset_conv *c, uint32_t u, struct buf *out)
{
	if (c->u7_high != 0) {
		uint32_t high = c->u7_high;

		c->u7_high = 0;
		if (u >= 0xdc00 && u <= 0xdfff) {
			u7_put(c, 0x10000 + ((high - 0xd800) << 10) +
			    (u - 0xdc00), out);
			return;
		}
		conv_bad(c, out);
	}
	if (u >= 0xd800 && u <= 0xdbff)
		c->u7_high = u;
	else if (u >= 0xdc00 && u <= 0xdfff)
		conv_bad(c, out);
	else
		u7_put(c, u, out);
}

/* Ends a base64 run (at a non-base64 byte or the end of the input). */
static void
u7_end_run(struct mime_charset_conv *c, struct buf *out)
{
	if (c->u7_high != 0 || c->u7_plus ||
	    (c->u7_bits & ((1U << c->u7_nbits) - 1)) != 0)
		conv_bad(c, out);
	c->u7_b64 = c->u7_plus = false;
	c->u7_bits = c->u7_nbits = c->u7_high = 0;
}

static void
utf7_feed(struct mime_charset_conv *c, const unsigned char *s, size_t len,
    struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		int v;

		if (!c->u7_b64) {
			if (s[i] == '+') {
				c->u7_b64 = c->u7_plus = true;
			} else if (s[i] < 0x80) {
				buf_putc(out, (char)s[i]);
				c->bad = false;
			} else
				conv_bad(c, out);
			continue;
		}
		if ((v = u7_value(s[i])) >= 0) {
			c->u7_plus = false;
			c->u7_bits = (c->u7_bits << 6 | (uint32_t)v) & 0x3fffff;
			c->u7_nbits += 6;
			if (c->u7_nbits >= 16) {
				c->u7_nbits -= 16;
				u7_unit(c, (c->u7_bits >> c->u7_nbits) & 0xffff,
				    out);
			}
			continue;
		}
		if (c->u7_plus && s[i] == '-') {
			/* "+-" is a plus sign. */
			c->u7_b64 = c->u7_plus = false;
			u7_put(c, '+', out);
			continue;
		}
		u7_end_run(c, out);
		if (s[i] != '-')
			i--;	/* read again as a direct character */
	}
}

/*
 * iconv output, checked: glibc reads many labels as its own "UTF-8"
 * (it drops punctuation from names: "u+tf-8", "ut(f-8"), and its UTF-8
 * decoder passes 5- and 6-byte forms and surrogates through.  glibc only
 * writes whole characters, so each piece can be checked on its own.
 */
static void
iconv_out(struct mime_charset_conv *c, const char *s, size_t len,
    struct buf *out)
{
	if (mime_utf8_valid(s, len)) {
		buf_append(out, s, len);
		c->bad = false;
	} else {
		(void)mime_utf8_repair(s, len, out);
		c->invalid = true;
		c->bad = false;
	}
}

/*
 * Converts s[0..len) until it is used up or ends in an unfinished
 * sequence (EINVAL); a byte iconv cannot read (EILSEQ) becomes U+FFFD and
 * is skipped.  Returns the bytes consumed.
 */
static size_t
iconv_chunk(struct mime_charset_conv *c, const unsigned char *s, size_t len,
    struct buf *out)
{
	char tmp[4096], *in = (char *)(uintptr_t)s, *o;
	size_t inleft = len, oleft, r;
	int err;

	while (inleft > 0) {
		o = tmp;
		oleft = sizeof(tmp);
		r = iconv(c->cd, &in, &inleft, &o, &oleft);
		err = errno;
		if (o > tmp)
			iconv_out(c, tmp, (size_t)(o - tmp), out);
		if (r != (size_t)-1)
			break;
		if (err == E2BIG)
			continue;
		if (err == EINVAL)
			break;
		conv_bad(c, out);
		/*
		 * EILSEQ: skip the byte.  glibc's stateful decoders
		 * (ISO-2022-CN-EXT) can also fail after using everything.
		 */
		if (inleft == 0)
			break;
		in++;
		inleft--;
	}
	return len - inleft;
}

/* Converts input that ends where this feed ends; holds back the tail. */
static void
iconv_tail(struct mime_charset_conv *c, const unsigned char *s, size_t len,
    struct buf *out)
{
	size_t used;

	for (;;) {
		used = iconv_chunk(c, s, len, out);
		s += used;
		len -= used;
		if (len <= CONV_PEND_MAX) {
			memcpy(c->pend, s, len);
			c->npend = len;
			return;
		}
		/* No charset has an unfinished sequence that long. */
		conv_bad(c, out);
		s++;
		len--;
	}
}

static void
iconv_block(struct mime_charset_conv *c, const unsigned char *s, size_t len,
    struct buf *out)
{
	unsigned char join[CONV_PEND_MAX + CONV_JOIN];
	size_t i = 0, take, jn, used;

	/*
	 * Finish the held-back character from a small joined buffer, then
	 * go on in the caller's memory.
	 */
	while (c->npend > 0 && i < len) {
		take = len - i < CONV_JOIN ? len - i : CONV_JOIN;
		memcpy(join, c->pend, c->npend);
		memcpy(join + c->npend, s + i, take);
		jn = c->npend + take;
		if (i + take == len) {
			c->npend = 0;
			iconv_tail(c, join, jn, out);
			return;
		}
		used = iconv_chunk(c, join, jn, out);
		if (used >= c->npend) {
			i += used - c->npend;
			c->npend = 0;
			break;
		}
		/* Still unfinished after CONV_JOIN more bytes: garbage. */
		conv_bad(c, out);
		c->npend -= used + 1;
		memmove(c->pend, join + used + 1, c->npend);
	}
	if (i < len)
		iconv_tail(c, s + i, len - i, out);
}

/*
 * glibc's stateful decoders (ISO-2022-CN-EXT, UTF-7...) treat malformed
 * input differently depending on where a call's input ends, so iconv is
 * only ever called on CONV_BLOCK-byte blocks at fixed offsets of the
 * stream: its output then cannot depend on the caller's chunks.
 */
static void
iconv_feed(struct mime_charset_conv *c, const unsigned char *s, size_t len,
    struct buf *out)
{
	size_t n;

	while (len > 0) {
		if (c->nblk == 0 && len >= CONV_BLOCK) {
			iconv_block(c, s, CONV_BLOCK, out);
			s += CONV_BLOCK;
			len -= CONV_BLOCK;
			continue;
		}
		n = CONV_BLOCK - c->nblk < len ? CONV_BLOCK - c->nblk : len;
		memcpy(c->blk + c->nblk, s, n);
		c->nblk += n;
		s += n;
		len -= n;
		if (c->nblk == CONV_BLOCK) {
			iconv_block(c, c->blk, CONV_BLOCK, out);
			c->nblk = 0;
		}
	}
}

void
mime_charset_conv_feed(struct mime_charset_conv *c, const void *p,
    size_t len, struct buf *out)
{
	switch (c->kind) {
	case CONV_UTF8:
		utf8_stream_feed(&c->u8, p, len, out);
		break;
	case CONV_CP1252:
		cp1252_feed(c, p, len, out);
		break;
	case CONV_UTF7:
		utf7_feed(c, p, len, out);
		break;
	case CONV_ICONV:
		iconv_feed(c, p, len, out);
		break;
	}
}

unsigned
mime_charset_conv_finish(struct mime_charset_conv *c, struct buf *out)
{
	unsigned flags = 0;
	char tmp[256], *o = tmp;
	size_t oleft = sizeof(tmp);

	switch (c->kind) {
	case CONV_UTF8:
		if (utf8_stream_finish(&c->u8, out))
			c->invalid = true;
		break;
	case CONV_CP1252:
		break;
	case CONV_UTF7:
		if (c->u7_b64)
			u7_end_run(c, out);
		break;
	case CONV_ICONV:
		iconv_block(c, c->blk, c->nblk, out);
		c->nblk = 0;
		if (c->npend > 0)
			conv_bad(c, out);
		c->npend = 0;
		/* Whatever a converter still buffers, then its reset. */
		if (iconv(c->cd, NULL, NULL, &o, &oleft) != (size_t)-1 &&
		    o > tmp)
			iconv_out(c, tmp, (size_t)(o - tmp), out);
		(void)iconv(c->cd, NULL, NULL, NULL, NULL);
		break;
	}
	if (c->invalid)
		flags |= MIME_DEC_INVALID;
	if (!c->known)
		flags |= MIME_DEC_UNKNOWN_CHARSET;
	c->invalid = false;
	c->bad = false;
	return flags;
}

unsigned
mime_charset_to_utf8(const char *charset, const void *p, size_t len,
    struct buf *out)
{
	struct mime_charset_conv *c = mime_charset_conv_create(charset);
	unsigned flags;

	mime_charset_conv_feed(c, p, len, out);
	flags = mime_charset_conv_finish(c, out);
	mime_charset_conv_free(&c);
	return flags;
}
