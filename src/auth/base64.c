/*
 * base64 - RFC 4648 base64.
 *
 * b64_value() classifies every input byte, including NUL and bytes
 * >= 0x80: -1 for bytes outside the alphabet, -2 for '='.
 */
#include <stdint.h>
#include <string.h>

#include "auth/base64.h"
#include "core/buf.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define B64_BAD		(-1)
#define B64_PAD		(-2)

static int
b64_value(unsigned char c)
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
	return c == '=' ? B64_PAD : B64_BAD;
}

size_t
base64_encoded_len(size_t n)
{
	size_t groups = n / 3 + (n % 3 != 0);

	if (groups > SIZE_MAX / 4)
		return 0;
	return groups * 4;
}

void
base64_encode(const void *p, size_t len, struct buf *out)
{
	const unsigned char *s = p;
	size_t olen = base64_encoded_len(len), i;
	char *d;

	if (len == 0)
		return;
	buf_reserve(out, olen);
	d = out->data + out->len;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 |
		    s[i + 2];

		*d++ = b64_alphabet[v >> 18];
		*d++ = b64_alphabet[(v >> 12) & 63];
		*d++ = b64_alphabet[(v >> 6) & 63];
		*d++ = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;

		*d++ = b64_alphabet[v >> 18];
		*d++ = b64_alphabet[(v >> 12) & 63];
		*d++ = '=';
		*d++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;

		*d++ = b64_alphabet[v >> 18];
		*d++ = b64_alphabet[(v >> 12) & 63];
		*d++ = b64_alphabet[(v >> 6) & 63];
		*d++ = '=';
	}
	out->len += olen;
	out->data[out->len] = '\0';
}

int
base64_decode(const char *s, size_t len, struct buf *out)
{
	size_t start = out->len;
	char *d;

	if (len % 4 != 0)
		return -1;
	if (len == 0)
		return 0;
	buf_reserve(out, len / 4 * 3);
	d = out->data + out->len;
	for (size_t i = 0; i < len; i += 4) {
		int a = b64_value((unsigned char)s[i]);
		int b = b64_value((unsigned char)s[i + 1]);
		int c = b64_value((unsigned char)s[i + 2]);
		int e = b64_value((unsigned char)s[i + 3]);
		bool last = i + 4 == len;

		if (a < 0 || b < 0)
			goto bad;
		if (c >= 0 && e >= 0) {
			uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 |
			    (uint32_t)c << 6 | (uint32_t)e;

			*d++ = (char)(v >> 16);
			*d++ = (char)(v >> 8);
			*d++ = (char)v;
			continue;
		}
		if (!last || e != B64_PAD)
			goto bad;
		if (c == B64_PAD) {
			/* "xy==": 12 bits, the low 4 must be zero. */
			if ((b & 0x0f) != 0)
				goto bad;
			*d++ = (char)(a << 2 | b >> 4);
		} else if (c >= 0) {
			/* "xyz=": 18 bits, the low 2 must be zero. */
			if ((c & 0x03) != 0)
				goto bad;
			*d++ = (char)(a << 2 | b >> 4);
			*d++ = (char)((b & 0x0f) << 4 | c >> 2);
		} else
			goto bad;
	}
	out->len = (size_t)(d - out->data);
	out->data[out->len] = '\0';
	return 0;

bad:
	/* Bytes were written past out->len, over its NUL: put it back. */
	out->len = start;
	out->data[start] = '\0';
	return -1;
}

void
base64_mime_init(struct base64_mime_state *st)
{
	memset(st, 0, sizeof(*st));
}

void
base64_mime_feed(struct base64_mime_state *st, const char *s, size_t len,
    struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		int v = b64_value(ch);

		if (st->ended) {
			if (ch != '=' && ch != '\r' && ch != '\n' &&
			    ch != ' ' && ch != '\t')
				st->irregular = true;
			continue;
		}
		if (v == B64_PAD) {
			/* Padding belongs after 2 or 3 characters only. */
			if (st->nchars < 2)
				st->irregular = true;
			st->ended = true;
			continue;
		}
		if (v < 0) {
			if (ch != '\r' && ch != '\n' && ch != ' ' &&
			    ch != '\t')
				st->irregular = true;
			continue;
		}
		st->acc = st->acc << 6 | (uint32_t)v;
		if (++st->nchars == 4) {
			char q[3] = { (char)(st->acc >> 16),
			    (char)(st->acc >> 8), (char)st->acc };

			buf_append(out, q, 3);
			st->acc = 0;
			st->nchars = 0;
		}
	}
}

int
base64_mime_finish(struct base64_mime_state *st, struct buf *out)
{
	int ret;

	switch (st->nchars) {
	case 1:
		/* Six bits cannot make a byte. */
		st->irregular = true;
		break;
	case 2:
		buf_putc(out, (char)(st->acc >> 4));
		if (!st->ended || (st->acc & 0x0f) != 0)
			st->irregular = true;
		break;
	case 3: {
		char q[2] = { (char)(st->acc >> 10), (char)(st->acc >> 2) };

		buf_append(out, q, 2);
		if (!st->ended || (st->acc & 0x03) != 0)
			st->irregular = true;
		break;
	}
	default:
		break;
	}
	ret = st->irregular ? 1 : 0;
	base64_mime_init(st);
	return ret;
}

int
base64_decode_mime(const char *s, size_t len, struct buf *out)
{
	struct base64_mime_state st;

	base64_mime_init(&st);
	base64_mime_feed(&st, s, len, out);
	return base64_mime_finish(&st, out);
}
