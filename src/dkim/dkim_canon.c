/*
 * dkim_canon - DKIM canonicalization (RFC 6376 3.4) and the header section
 * of a message, pure.
 *
 *	dkim_body_canon_*()	simple and relaxed body, streamed
 *	dkim_header_canon()	simple and relaxed header field
 *	dkim_hdrs_*()		collect the header section from chunks, split
 *				it into fields
 *	dkim_hash_headers()	the fields h= names, bottom-up (5.4.2)
 *
 * Line ends: CRLF, bare LF and bare CR each end a line and come out as
 * CRLF (see dkim.h).  The body canonicalizer holds back trailing empty
 * lines (and, relaxed, white space) as counters rather than bytes, so a
 * body of millions of empty lines costs no memory.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "dkim/dkim.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Body.
 */

void
dkim_body_canon_init(struct dkim_body_canon *bc, enum dkim_canon canon,
    uint64_t limit, void (*out)(void *, const void *, size_t), void *ctx)
{
	memset(bc, 0, sizeof(*bc));
	bc->canon = canon;
	bc->limit = limit;
	bc->out = out;
	bc->ctx = ctx;
}

static void
flush(struct dkim_body_canon *bc)
{
	if (bc->olen > 0)
		bc->out(bc->ctx, bc->obuf, bc->olen);
	bc->olen = 0;
}

/* One canonical byte: counted, passed on while under the limit. */
static void
put(struct dkim_body_canon *bc, char c)
{
	if (bc->total++ >= bc->limit)
		return;
	if (bc->olen == sizeof(bc->obuf))
		flush(bc);
	bc->obuf[bc->olen++] = (unsigned char)c;
}

/* A byte of line content: what was held back goes first. */
static void
content(struct dkim_body_canon *bc, char c)
{
	for (; bc->crlfs > 0; bc->crlfs--) {
		put(bc, '\r');
		put(bc, '\n');
	}
	if (bc->wsp) {
		put(bc, ' ');
		bc->wsp = false;
	}
	put(bc, c);
	bc->content = true;
}

static void
line_end(struct dkim_body_canon *bc)
{
	bc->wsp = false;	/* relaxed: white space ending a line goes */
	bc->crlfs++;
}

void
dkim_body_canon_feed(struct dkim_body_canon *bc, const void *p, size_t len)
{
	const char *s = p;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (bc->cr) {
			bc->cr = false;
			line_end(bc);
			if (c == '\n')
				continue;	/* CRLF */
			/* A bare CR ended the line; c starts the next. */
		}
		if (c == '\r')
			bc->cr = true;
		else if (c == '\n')
			line_end(bc);		/* bare LF */
		else if (bc->canon == DKIM_CANON_RELAXED && is_wsp(c))
			bc->wsp = true;
		else
			content(bc, c);
	}
	flush(bc);
}

void
dkim_body_canon_finish(struct dkim_body_canon *bc)
{
	if (bc->cr) {
		bc->cr = false;
		line_end(bc);
	}
	/*
	 * Empty lines at the end are dropped; the last line with content
	 * gets its CRLF, added when it had none.  The empty body is one
	 * CRLF when simple (3.4.3) and nothing when relaxed (3.4.4).
	 */
	if (bc->content || bc->canon == DKIM_CANON_SIMPLE) {
		put(bc, '\r');
		put(bc, '\n');
	}
	bc->crlfs = 0;
	bc->wsp = false;
	flush(bc);
}

/*
 * Header fields.
 */

void
dkim_header_canon(enum dkim_canon canon, const char *s, size_t len,
    struct buf *out)
{
	size_t colon, i, name_end;
	bool space = false, any = false;

	if (canon == DKIM_CANON_SIMPLE) {
		for (i = 0; i < len; i++) {
			if (s[i] == '\r') {
				buf_puts(out, "\r\n");
				if (i + 1 < len && s[i + 1] == '\n')
					i++;
			} else if (s[i] == '\n')
				buf_puts(out, "\r\n");
			else
				buf_putc(out, s[i]);
		}
		buf_puts(out, "\r\n");
		return;
	}

	/* relaxed: name lower-cased, no white space around the colon. */
	for (colon = 0; colon < len && s[colon] != ':'; colon++)
		;
	name_end = colon;
	while (name_end > 0 && (is_wsp(s[name_end - 1]) ||
	    s[name_end - 1] == '\r' || s[name_end - 1] == '\n'))
		name_end--;
	for (i = 0; i < name_end; i++)
		buf_putc(out, lower(s[i]));
	if (colon == len) {
		buf_puts(out, "\r\n");
		return;
	}
	buf_putc(out, ':');
	/* Unfold (line breaks go), one SP per white space run, trimmed. */
	for (i = colon + 1; i < len; i++) {
		char c = s[i];

		if (c == '\r' || c == '\n')
			continue;
		if (is_wsp(c)) {
			space = true;
			continue;
		}
		if (space && any)
			buf_putc(out, ' ');
		space = false;
		buf_putc(out, c);
		any = true;
	}
	buf_puts(out, "\r\n");
}

/*
 * The header section.
 */

void
dkim_hdrs_init(struct dkim_hdrs *h)
{
	memset(h, 0, sizeof(*h));
	buf_init(&h->raw);
}

void
dkim_hdrs_free(struct dkim_hdrs *h)
{
	buf_free(&h->raw);
	free(h->f);
	h->f = NULL;
	h->n = 0;
}

/*
 * A line ended.  Returns true when it was the empty line that ends the
 * section; its bytes are taken back out of raw.
 */
static bool
hdrs_line_end(struct dkim_hdrs *h, size_t term_len)
{
	if (h->line_len == 0) {
		buf_truncate(&h->raw, h->raw.len - term_len);
		h->done = true;
		return true;
	}
	h->line_len = 0;
	return false;
}

int
dkim_hdrs_feed(struct dkim_hdrs *h, const char *s, size_t len, size_t *used)
{
	size_t i;

	*used = 0;
	if (h->done)
		return 1;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (h->cr) {
			h->cr = false;
			if (c == '\n') {
				buf_putc(&h->raw, c);
				if (hdrs_line_end(h, 2)) {
					*used = i + 1;
					return 1;
				}
				continue;
			}
			/* A bare CR ended the line; c is not used yet. */
			if (hdrs_line_end(h, 1)) {
				*used = i;
				return 1;
			}
		}
		/* Limits first: nothing is appended past them. */
		if (h->raw.len >= DKIM_HDRS_MAX)
			return -1;
		buf_putc(&h->raw, c);
		if (c == '\r')
			h->cr = true;
		else if (c == '\n') {
			if (hdrs_line_end(h, 1)) {
				*used = i + 1;
				return 1;
			}
		} else
			h->line_len++;
	}
	*used = len;
	return 0;
}

/* Length of the line end at raw[i] (0 when none). */
static size_t
eol_len(const char *s, size_t len, size_t i)
{
	if (s[i] == '\r')
		return i + 1 < len && s[i + 1] == '\n' ? 2 : 1;
	return s[i] == '\n' ? 1 : 0;
}

int
dkim_hdrs_finish(struct dkim_hdrs *h)
{
	const char *s = h->raw.data;
	size_t len = h->raw.len, i = 0, cap = 0;

	if (h->cr) {
		/* A CR ended the last line at the end of the message. */
		h->cr = false;
		if (h->line_len == 0)
			buf_truncate(&h->raw, h->raw.len - 1);
		len = h->raw.len;
	}
	h->done = true;
	free(h->f);
	h->f = NULL;
	h->n = 0;
	while (i < len) {
		size_t start = i, end, n;
		struct dkim_field *f;

		/* One line. */
		while (i < len && eol_len(s, len, i) == 0)
			i++;
		end = i;
		if (i < len)
			i += eol_len(s, len, i);
		if (is_wsp(s[start]) && h->n > 0) {
			/* A continuation: the field above grows. */
			f = &h->f[h->n - 1];
			f->len = end - f->off;
			continue;
		}
		if (h->n == DKIM_FIELDS_MAX)
			return -1;
		if (h->n == cap) {
			cap = cap ? cap * 2 : 32;
			h->f = xreallocarray(h->f, cap, sizeof(*h->f));
		}
		f = &h->f[h->n++];
		f->off = start;
		f->len = end - start;
		for (n = 0; n < f->len && s[start + n] != ':'; n++)
			;
		f->has_colon = n < f->len;
		while (n > 0 && is_wsp(s[start + n - 1]))
			n--;
		f->name_len = f->has_colon ? n : 0;
	}
	return 0;
}

bool
dkim_hdrs_is(const struct dkim_hdrs *h, size_t i, const char *name,
    size_t len)
{
	const char *p = h->raw.data + h->f[i].off;

	if (h->f[i].name_len != len || len == 0)
		return false;
	for (size_t k = 0; k < len; k++)
		if (lower(p[k]) != lower(name[k]))
			return false;
	return true;
}

void
dkim_hash_headers(const struct dkim_hdrs *h, enum dkim_canon canon,
    const struct dkim_name *names, size_t n, struct buf *out)
{
	bool *used;

	if (h->n == 0)
		return;
	used = xcalloc(h->n, sizeof(*used));
	for (size_t k = 0; k < n; k++) {
		for (size_t i = h->n; i-- > 0;) {
			if (used[i] ||
			    !dkim_hdrs_is(h, i, names[k].p, names[k].len))
				continue;
			used[i] = true;
			dkim_header_canon(canon, h->raw.data + h->f[i].off,
			    h->f[i].len, out);
			break;
		}
	}
	free(used);
}
