/*
 * imap_quote - write IMAP atoms, quoted strings and literals (API in
 * imap_quote.h).
 */
#include <string.h>

#include "core/buf.h"
#include "imap/imap_quote.h"

bool
imap_is_atom_char(unsigned char c)
{
	/* atom-specials: ( ) { SP CTL % * " \ ] and 8-bit (not CHAR) */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

static bool
can_quote(const char *s, size_t len)
{
	if (len >= IMAP_QUOTED_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			return false;
	}
	return true;
}

void
imap_write_string(struct buf *b, const char *s, size_t len)
{
	size_t i, start, nuls = 0;

	if (can_quote(s, len)) {
		buf_putc(b, '"');
		for (i = start = 0; i < len; i++) {
			if (s[i] == '"' || s[i] == '\\') {
				buf_append(b, s + start, i - start);
				buf_putc(b, '\\');
				start = i;
			}
		}
		buf_append(b, s + start, len - start);
		buf_putc(b, '"');
		return;
	}
	for (i = 0; i < len; i++)
		if (s[i] == '\0')
			nuls++;
	buf_putc(b, '{');
	buf_put_u64(b, len - nuls);
	buf_puts(b, "}\r\n");
	if (nuls == 0) {
		buf_append(b, s, len);
		return;
	}
	for (i = start = 0; i < len; i++) {
		if (s[i] == '\0') {
			buf_append(b, s + start, i - start);
			start = i + 1;
		}
	}
	buf_append(b, s + start, len - start);
}

void
imap_write_astring(struct buf *b, const char *s, size_t len)
{
	size_t i;

	/*
	 * ASTRING-CHAR = ATOM-CHAR / "]".  An atom with "[" is quoted too:
	 * "BODY[" or "BINARY.PEEK[" would read back as the start of a fetch
	 * section, in our parser and in clients'.
	 */
	for (i = 0; i < len; i++)
		if ((!imap_is_atom_char((unsigned char)s[i]) &&
		    s[i] != ']') || s[i] == '[')
			break;
	if (len > 0 && i == len) {
		buf_append(b, s, len);
		return;
	}
	imap_write_string(b, s, len);
}

void
imap_write_nstring(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_puts(b, "NIL");
	else
		imap_write_string(b, s, strlen(s));
}

void
imap_write_nstring_len(struct buf *b, const char *s, size_t len)
{
	if (s == NULL)
		buf_puts(b, "NIL");
	else
		imap_write_string(b, s, len);
}
