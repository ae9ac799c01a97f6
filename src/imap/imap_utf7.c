/*
 * imap_utf7 - modified UTF-7 <-> UTF-8 and mailbox name checks.  See
 * imap_utf7.h for the exact rules.
 *
 * Threat: a lax decoder lets "&AGE-" and "a" (or "&AMk-&AMk-" and
 * "&AMkAyQ-") name different mailboxes that display identically, and a
 * decoder that accepts lone surrogates produces invalid UTF-8 for the
 * store.  Hence the canonical-form-only rules.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_utf7.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/*
 * Decode one strict UTF-8 sequence at s[*i]; returns 0 and advances *i, or
 * -1 on overlong forms, surrogates, values above U+10FFFF, stray
 * continuation bytes and truncation.
 */
static int
utf8_decode(const unsigned char *s, size_t len, size_t *i, uint32_t *cp_r)
{
	size_t p = *i, n;
	uint32_t cp, min;
	unsigned char c = s[p];

	if (c < 0x80) {
		*cp_r = c;
		*i = p + 1;
		return 0;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else
		return -1;
	if (len - p - 1 < n)
		return -1;
	for (size_t k = 1; k <= n; k++) {
		unsigned char cc = s[p + k];

		if ((cc & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (cc & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_r = cp;
	*i = p + n + 1;
	return 0;
}

static void
utf8_encode(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, b, n);
}

bool
imap_utf8_is_valid(const char *s, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len)
		if (utf8_decode((const unsigned char *)s, len, &i, &cp) < 0)
			return false;
	return true;
}

/*
 * Decode the base64 run starting at s[*i] (just after "&", not "&-") up to
 * and including its closing "-".  out may be NULL (validation only).
 */
static int
decode_run(const char *s, size_t len, size_t *i, struct buf *out)
{
	uint32_t acc = 0, hi_sur = 0;
	unsigned nbits = 0;
	size_t p = *i, units = 0;

	for (;;) {
		int v;

		if (p >= len)
			return -1;		/* "&" not closed */
		if (s[p] == '-')
			break;
		if ((v = b64val((unsigned char)s[p])) < 0)
			return -1;
		p++;
		acc = (acc << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		{
			uint32_t u = (acc >> nbits) & 0xffff;

			acc &= (1U << nbits) - 1;
			units++;
			if (hi_sur != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					return -1;
				if (out != NULL)
					utf8_encode(out, 0x10000 +
					    ((hi_sur - 0xd800) << 10) +
					    (u - 0xdc00));
				hi_sur = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				hi_sur = u;
			} else if ((u >= 0xdc00 && u <= 0xdfff) || u == 0 ||
			    (u >= 0x20 && u <= 0x7e)) {
				/*
				 * A lone low surrogate, NUL, or ASCII that
				 * must be written as is.
				 */
				return -1;
			} else if (out != NULL)
				utf8_encode(out, u);
		}
	}
	/* Leftover bits: fewer than 6 (minimal) and all zero. */
	if (units == 0 || hi_sur != 0 || nbits >= 6 || acc != 0)
		return -1;
	*i = p + 1;
	return 0;
}

static int
utf7_walk(const char *s, size_t len, struct buf *out)
{
	size_t i = 0;
	bool after_run = false;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c == '&') {
			if (i + 1 < len && s[i + 1] == '-') {
				if (out != NULL)
					buf_putc(out, '&');
				i += 2;
				after_run = false;
				continue;
			}
			/* Two runs back to back should have been one. */
			if (after_run)
				return -1;
			i++;
			if (decode_run(s, len, &i, out) < 0)
				return -1;
			after_run = true;
		} else if (c >= 0x20 && c <= 0x7e) {
			if (out != NULL)
				buf_putc(out, (char)c);
			i++;
			after_run = false;
		} else
			return -1;
	}
	return 0;
}

int
imap_utf7_to_utf8(const char *s, size_t len, struct buf *out)
{
	size_t start = out->len;

	if (utf7_walk(s, len, out) < 0) {
		if (out->data != NULL)
			buf_truncate(out, start);
		return -1;
	}
	return 0;
}

bool
imap_utf7_is_valid(const char *s, size_t len)
{
	return utf7_walk(s, len, NULL) == 0;
}

struct b64w {
	uint32_t	acc;
	unsigned	nbits;
	bool		open;
};

static void
b64_put16(struct b64w *w, struct buf *out, uint32_t u)
{
	w->acc = (w->acc << 16) | u;
	w->nbits += 16;
	while (w->nbits >= 6) {
		w->nbits -= 6;
		buf_putc(out, b64chars[(w->acc >> w->nbits) & 0x3f]);
	}
	w->acc &= (1U << w->nbits) - 1;
}

static void
b64_close(struct b64w *w, struct buf *out)
{
	if (!w->open)
		return;
	if (w->nbits > 0)
		buf_putc(out, b64chars[(w->acc << (6 - w->nbits)) & 0x3f]);
	buf_putc(out, '-');
	w->acc = 0;
	w->nbits = 0;
	w->open = false;
}

int
imap_utf8_to_utf7(const char *s, size_t len, struct buf *out)
{
	struct b64w w = { 0, 0, false };
	size_t start = out->len, i = 0;
	uint32_t cp;

	while (i < len) {
		if (utf8_decode((const unsigned char *)s, len, &i, &cp) < 0 ||
		    cp == 0) {
			if (out->data != NULL)
				buf_truncate(out, start);
			return -1;
		}
		if (cp >= 0x20 && cp <= 0x7e) {
			b64_close(&w, out);
			if (cp == '&')
				buf_puts(out, "&-");
			else
				buf_putc(out, (char)cp);
			continue;
		}
		if (!w.open) {
			buf_putc(out, '&');
			w.open = true;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			b64_put16(&w, out, 0xd800 + (cp >> 10));
			b64_put16(&w, out, 0xdc00 + (cp & 0x3ff));
		} else
			b64_put16(&w, out, cp);
	}
	b64_close(&w, out);
	return 0;
}

int
imap_mailbox_name_check(const char *s, size_t len, char sep,
    const char **error_r)
{
	size_t level_start = 0, levels = 1;

	if (len == 0) {
		*error_r = "Empty mailbox name";
		return -1;
	}
	if (len > IMAP_MAILBOX_NAME_MAX) {
		*error_r = "Mailbox name too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			*error_r = "Control characters in mailbox name";
			return -1;
		}
	}
	if (!imap_utf8_is_valid(s, len)) {
		*error_r = "Mailbox name is not valid UTF-8";
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		size_t n;

		if (i < len && s[i] != sep)
			continue;
		n = i - level_start;
		if (n == 0) {
			*error_r = "Empty hierarchy level in mailbox name";
			return -1;
		}
		if ((n == 1 && s[level_start] == '.') ||
		    (n == 2 && s[level_start] == '.' &&
		    s[level_start + 1] == '.')) {
			*error_r = "\".\" and \"..\" are not valid mailbox "
			    "name levels";
			return -1;
		}
		if (i < len && ++levels > IMAP_MAILBOX_DEPTH_MAX) {
			*error_r = "Mailbox hierarchy too deep";
			return -1;
		}
		level_start = i + 1;
	}
	return 0;
}

void
imap_mailbox_name_normalize(char *s, size_t len, char sep)
{
	if (len < 5 || strncasecmp(s, "INBOX", 5) != 0)
		return;
	if (len > 5 && s[5] != sep)
		return;
	memcpy(s, "INBOX", 5);
}
