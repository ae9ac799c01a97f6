/*
 * smtp_data - DATA dot-unstuffing reader and dot-stuffing writer.
 *
 * The reader is a byte-level state machine whose whole state is one enum:
 * the only byte it ever holds back is the CR of a ".<CR>" line start, until
 * the next byte says whether that line is the terminator.  Everything else
 * is emitted as spans of the caller's input.  See smtp_data.h for the
 * smuggling rules; the point of this file is that exactly one byte
 * sequence, CRLF "." CRLF, leaves the DATA state.
 */
#include <string.h>

#include "core/buf.h"
#include "smtp/smtp_data.h"

enum {
	ST_BOL = 0,	/* at a line start after a real CRLF (or first line) */
	ST_BOL_SOFT,	/* at a line start after a bare LF: never the end */
	ST_DOT,		/* ST_BOL then '.': the dot was dropped */
	ST_DOT_CR,	/* ST_DOT then CR: that CR is held back */
	ST_TEXT,	/* inside a line, the previous byte was not CR */
	ST_CR,		/* inside a line, the previous byte (emitted) was CR */
	ST_DONE,
};

void
smtp_data_init(struct smtp_data_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->state = ST_BOL;
}

/*
 * Eight bytes at a time: HAS_ZERO(v) is non-zero exactly when one of v's
 * bytes is zero (which one does not matter here); BYTES(c) repeats c.
 */
#define BYTES(c)	(0x0101010101010101ULL * (uint8_t)(c))
#define HAS_ZERO(v)	(((v) - BYTES(1)) & ~(v) & BYTES(0x80))

static inline uint64_t
load8(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The index of the first CR or LF in p[0..n), or n. */
static size_t
scan_line(const char *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v = load8(p + i);

		if (HAS_ZERO(v ^ BYTES('\r')) | HAS_ZERO(v ^ BYTES('\n')))
			break;
	}
	while (i < n && p[i] != '\r' && p[i] != '\n')
		i++;
	return i;
}

/* Notes 8-bit and NUL bytes in p[0..n). */
static void
scan_bytes(struct smtp_data_reader *r, const char *p, size_t n)
{
	uint64_t any = 0, nul = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v = load8(p + i);

		any |= v;
		nul |= HAS_ZERO(v);
	}
	for (; i < n; i++) {
		any |= (unsigned char)p[i];
		nul |= p[i] == '\0';
	}
	if (any & BYTES(0x80))
		r->saw_8bit = true;
	if (nul != 0)
		r->saw_nul = true;
}

/* Hand one span to the caller and account for it. */
static void
out(struct smtp_data_reader *r, const char *p, size_t n,
    void (*emit)(void *, const char *, size_t), void *ctx)
{
	size_t i = 0;

	if (n == 0)
		return;
	r->bytes += n;
	while (i < n) {
		const char *lf = memchr(p + i, '\n', n - i);
		size_t end = lf != NULL ? (size_t)(lf - p) : n;

		if (!r->saw_8bit || !r->saw_nul)
			scan_bytes(r, p + i, end - i);
		r->line_len += end - i;
		if (lf == NULL)
			break;
		/* Every emitted LF follows an emitted CR. */
		if (r->line_len > 0 && r->line_len - 1 > r->max_line_len)
			r->max_line_len = r->line_len - 1;
		r->line_len = 0;
		r->lines++;
		i = end + 1;
	}
	emit(ctx, p, n);
}

int
smtp_data_feed(struct smtp_data_reader *r, const char *in, size_t inlen,
    size_t *consumed_r, void (*emit)(void *, const char *, size_t), void *ctx)
{
	size_t i = 0, span = 0;		/* in[span..i) is still to emit */
	char c;

	if (r->state == ST_DONE) {
		*consumed_r = 0;
		return 1;
	}
	while (i < inlen) {
		switch (r->state) {
		case ST_TEXT:
			/* The fast path: plain line content. */
			i += scan_line(in + i, inlen - i);
			if (i == inlen)
				continue;
			break;
		case ST_BOL:
			if (in[i] == '.') {
				out(r, in + span, i - span, emit, ctx);
				span = ++i;
				r->state = ST_DOT;
				continue;
			}
			break;
		case ST_BOL_SOFT:
			if (in[i] == '.') {
				/* Unstuffed, but this line cannot end DATA. */
				out(r, in + span, i - span, emit, ctx);
				span = ++i;
				r->state = ST_TEXT;
				continue;
			}
			break;
		case ST_DOT:
			if (in[i] == '\r') {
				out(r, in + span, i - span, emit, ctx);
				span = ++i;
				r->state = ST_DOT_CR;
				continue;
			}
			break;
		case ST_DOT_CR:
			if (in[i] == '\n') {
				out(r, in + span, i - span, emit, ctx);
				r->state = ST_DONE;
				r->done = true;
				*consumed_r = i + 1;
				return 1;
			}
			/* ".\r" + something else: a bare CR, dot dropped. */
			out(r, in + span, i - span, emit, ctx);
			span = i;
			out(r, "\r", 1, emit, ctx);
			r->saw_bare_cr = true;
			break;
		case ST_CR:
			if (in[i] == '\n') {
				i++;
				r->state = ST_BOL;
				continue;
			}
			r->saw_bare_cr = true;
			break;
		}

		/* in[i] as line content. */
		c = in[i];
		if (c == '\r') {
			i++;
			r->state = ST_CR;
		} else if (c == '\n') {
			/* Bare LF: emit CRLF; the next line cannot end DATA. */
			out(r, in + span, i - span, emit, ctx);
			out(r, "\r", 1, emit, ctx);
			span = i++;
			r->saw_bare_lf = true;
			r->state = ST_BOL_SOFT;
		} else {
			i++;
			r->state = ST_TEXT;
		}
	}
	out(r, in + span, i - span, emit, ctx);
	*consumed_r = inlen;
	return 0;
}

void
smtp_stuff_init(struct smtp_stuff_state *st)
{
	st->line_start = true;
	st->after_cr = false;
}

void
smtp_dot_stuff(struct buf *b, const char *in, size_t len,
    struct smtp_stuff_state *st)
{
	size_t span = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (st->after_cr) {
			st->after_cr = false;
			st->line_start = true;
			if (c == '\n')
				continue;
			/* A bare CR: complete it to CRLF. */
			buf_append(b, in + span, i - span);
			buf_putc(b, '\n');
			span = i;
		}
		if (c == '\r') {
			st->after_cr = true;
			st->line_start = false;
		} else if (c == '\n') {
			/* A bare LF: insert the CR. */
			buf_append(b, in + span, i - span);
			buf_putc(b, '\r');
			span = i;
			st->line_start = true;
		} else {
			if (st->line_start && c == '.') {
				buf_append(b, in + span, i - span);
				buf_putc(b, '.');
				span = i;
			}
			st->line_start = false;
		}
	}
	buf_append(b, in + span, len - span);
}

void
smtp_dot_stuff_finish(struct buf *b, struct smtp_stuff_state *st)
{
	if (st->after_cr)
		buf_putc(b, '\n');
	else if (!st->line_start)
		buf_append(b, "\r\n", 2);
	buf_append(b, ".\r\n", 3);
	smtp_stuff_init(st);
}
