/*
 * dkim_tags - RFC 6376 section 3.2 tag=value lists, pure.
 *
 *	tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
 *	tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *	tag-name  = ALPHA *ALNUMPUNC
 *	tag-value = [ tval *( 1*(WSP / FWS) tval ) ]
 *	tval      = 1*VALCHAR		(%x21-3A / %x3C-7E)
 *
 * Both the DKIM-Signature field and the key records use this syntax.  The
 * parser keeps pointers into the input and the byte span of each value
 * including the FWS around it, which the verifier needs to blank b= out of
 * the signature field exactly.  A duplicate tag is an error (RFC 6376
 * 3.2): taking either copy would let an attacker choose which one the
 * verifier sees.
 */
#include <string.h>

#include "auth/base64.h"
#include "core/buf.h"
#include "dkim/dkim.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_alnumpunc(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

static bool
is_valchar(char ch)
{
	unsigned char c = (unsigned char)ch;

	return (c >= 0x21 && c <= 0x7e && c != ';') || c >= 0x80;
}

/*
 * Skip FWS: WSP, and a line break (CRLF or a bare LF) only when WSP follows
 * it.  A line break without WSP after it is left for the caller to refuse.
 */
static size_t
skip_fws(const char *s, size_t len, size_t i)
{
	while (i < len) {
		if (is_wsp(s[i]))
			i++;
		else if (s[i] == '\r' && i + 2 < len && s[i + 1] == '\n' &&
		    is_wsp(s[i + 2]))
			i += 3;
		else if (s[i] == '\n' && i + 1 < len && is_wsp(s[i + 1]))
			i += 2;
		else
			break;
	}
	return i;
}

int
dkim_tags_parse(const char *s, size_t len, struct dkim_taglist *tl,
    const char **error_r)
{
	size_t i = 0;

	tl->n = 0;
	if (len > DKIM_TAGLIST_MAX) {
		*error_r = "tag list too long";
		return -1;
	}
	for (;;) {
		struct dkim_tag *t;
		size_t name, name_len, raw_start, vstart, vend;

		i = skip_fws(s, len, i);
		if (i == len) {
			/* Only after a ';' (or for empty input). */
			if (tl->n == 0) {
				*error_r = "empty tag list";
				return -1;
			}
			return 0;
		}
		if (!is_alpha(s[i])) {
			*error_r = s[i] == ';' ? "empty tag" :
			    "tag name must start with a letter";
			return -1;
		}
		name = i;
		while (i < len && is_alnumpunc(s[i]))
			i++;
		name_len = i - name;
		i = skip_fws(s, len, i);
		if (i == len || s[i] != '=') {
			*error_r = "tag without '='";
			return -1;
		}
		raw_start = ++i;
		i = skip_fws(s, len, i);
		vstart = vend = i;
		while (i < len && s[i] != ';') {
			if (is_valchar(s[i]))
				vend = ++i;
			else {
				size_t j = skip_fws(s, len, i);

				if (j == i) {
					*error_r = "bad character in tag value";
					return -1;
				}
				i = j;
			}
		}
		for (size_t k = 0; k < tl->n; k++)
			if (tl->tag[k].name_len == name_len &&
			    memcmp(tl->tag[k].name, s + name, name_len) == 0) {
				*error_r = "duplicate tag";
				return -1;
			}
		if (tl->n == DKIM_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		t = &tl->tag[tl->n++];
		t->name = s + name;
		t->name_len = name_len;
		t->value = s + vstart;
		t->value_len = vend - vstart;
		t->raw_start = raw_start;
		t->raw_end = i;
		if (i == len)
			return 0;
		i++;		/* ';' */
	}
}

const struct dkim_tag *
dkim_tags_find(const struct dkim_taglist *tl, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < tl->n; i++)
		if (tl->tag[i].name_len == len &&
		    memcmp(tl->tag[i].name, name, len) == 0)
			return &tl->tag[i];
	return NULL;
}

static bool
is_fws_byte(char c)
{
	return is_wsp(c) || c == '\r' || c == '\n';
}

int
dkim_tags_item(const char *s, size_t len, size_t *pos, const char **item,
    size_t *item_len)
{
	size_t i = *pos, start, end;

	/* *pos == len + 1 marks the end; an empty value has no items. */
	if (len == 0 || i > len)
		return 0;
	while (i < len && is_fws_byte(s[i]))
		i++;
	start = i;
	while (i < len && s[i] != ':')
		i++;
	end = i;
	while (end > start && is_fws_byte(s[end - 1]))
		end--;
	*item = s + start;
	*item_len = end - start;
	/* After a ':' that ends the value an empty item is still due. */
	*pos = i < len ? i + 1 : len + 1;
	return 1;
}

int
dkim_b64_decode(const char *s, size_t len, struct buf *out)
{
	struct buf clean = BUF_INIT;
	int r;

	for (size_t i = 0; i < len; i++)
		if (!is_fws_byte(s[i]))
			buf_putc(&clean, s[i]);
	r = base64_decode(clean.data != NULL ? clean.data : "", clean.len,
	    out);
	buf_free(&clean);
	return r;
}
