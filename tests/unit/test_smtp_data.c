/*
 * test_smtp_data - unit tests for smtp/smtp_data: the DATA reader
 * (dot-unstuffing, the only end-of-data sequence, bare CR/LF handling,
 * SMTP smuggling variants) and the outbound dot-stuffer.
 *
 * Every fixed case is fed whole, split at every point into two and three
 * chunks, and one byte at a time; every feeding must give the same output,
 * the same verdict and the same consumed count.  Random inputs are checked
 * against an independent line-based model of the rules, and stuffing then
 * reading must give back the normalized content.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "smtp/smtp_data.h"

struct sink {
	struct buf	out;
	size_t		calls;
};

static void
sink_emit(void *ctx, const char *p, size_t n)
{
	struct sink *s = ctx;

	assert_true(n > 0);
	buf_append(&s->out, p, n);
	s->calls++;
}

struct result {
	struct buf	out;
	int		ended;
	size_t		consumed;	/* bytes of the input used */
	struct smtp_data_reader r;
};

/*
 * Feed in[0..len) cut at the given points (sorted, each in 0..len) and
 * return what the reader did.  Each chunk is an exact-size heap copy.
 */
static void
feed_cuts(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    struct result *res)
{
	struct sink s = { BUF_INIT, 0 };
	size_t start = 0;

	smtp_data_init(&res->r);
	res->ended = 0;
	res->consumed = 0;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len, used = 99999;
		char *chunk = malloc(end - start + 1);
		int ret;

		assert_non_null(chunk);
		memcpy(chunk, in + start, end - start);
		ret = smtp_data_feed(&res->r, chunk, end - start, &used,
		    sink_emit, &s);
		free(chunk);
		if (ret == 1) {
			assert_true(used <= end - start);
			res->ended = 1;
			res->consumed = start + used;
			break;
		}
		assert_int_equal(ret, 0);
		assert_int_equal(used, end - start);
		start = end;
	}
	if (!res->ended)
		res->consumed = len;
	res->out = s.out;
}

static void
feed_whole(const char *in, size_t len, struct result *res)
{
	feed_cuts(in, len, NULL, 0, res);
}

static void
same(const struct result *a, const struct result *b)
{
	assert_int_equal(a->ended, b->ended);
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->out.len, b->out.len);
	assert_memory_equal(buf_cstr(&a->out), buf_cstr(&b->out), a->out.len);
	assert_true(a->r.bytes == b->r.bytes);
	assert_true(a->r.lines == b->r.lines);
	assert_true(a->r.max_line_len == b->r.max_line_len);
	assert_int_equal(a->r.saw_bare_lf, b->r.saw_bare_lf);
	assert_int_equal(a->r.saw_bare_cr, b->r.saw_bare_cr);
	assert_int_equal(a->r.saw_8bit, b->r.saw_8bit);
	assert_int_equal(a->r.saw_nul, b->r.saw_nul);
}

/* Whole, every 2- and 3-way split, and byte by byte: all identical. */
static void
check_all_splits(const char *in, size_t len, struct result *whole)
{
	struct result r;
	size_t cuts[2], *bytes;

	feed_whole(in, len, whole);
	assert_true(whole->r.bytes == whole->out.len);
	for (size_t i = 0; i <= len; i++) {
		cuts[0] = i;
		feed_cuts(in, len, cuts, 1, &r);
		same(whole, &r);
		buf_free(&r.out);
		if (len > 64)
			continue;
		for (size_t j = i; j <= len; j++) {
			cuts[1] = j;
			feed_cuts(in, len, cuts, 2, &r);
			same(whole, &r);
			buf_free(&r.out);
		}
	}
	bytes = malloc((len + 1) * sizeof(*bytes));
	assert_non_null(bytes);
	for (size_t i = 0; i < len; i++)
		bytes[i] = i + 1;
	feed_cuts(in, len, bytes, len > 0 ? len - 1 : 0, &r);
	same(whole, &r);
	buf_free(&r.out);
	free(bytes);
}

/* Check a case: exact output, whether DATA ended, bytes consumed. */
static void
expect(const char *in, size_t inlen, const char *out, size_t outlen,
    int ended, size_t consumed)
{
	struct result w;

	check_all_splits(in, inlen, &w);
	if (w.ended != ended)
		fail_msg("ended=%d for input of %zu bytes", w.ended, inlen);
	assert_int_equal(w.consumed, consumed);
	assert_int_equal(w.out.len, outlen);
	assert_memory_equal(buf_cstr(&w.out), out, outlen);
	buf_free(&w.out);
}

#define EXPECT(in, out, ended, consumed) \
	expect(in, sizeof(in) - 1, out, sizeof(out) - 1, ended, consumed)

static void
test_basic(void **state)
{
	EXPECT("Hello\r\n.\r\n", "Hello\r\n", 1, 10);
	/* An empty message: ".\r\n" as the very first line. */
	EXPECT(".\r\n", "", 1, 3);
	EXPECT("\r\n.\r\n", "\r\n", 1, 5);
	/* Dot-unstuffing. */
	EXPECT("..\r\n.\r\n", ".\r\n", 1, 7);
	EXPECT("a\r\n..b\r\n...\r\n.\r\n", "a\r\n.b\r\n..\r\n", 1, 16);
	EXPECT(".x\r\n.\r\n", "x\r\n", 1, 7);
	EXPECT("a\r\n. \r\n.\r\n", "a\r\n \r\n", 1, 10);
	/* Dots elsewhere are content. */
	EXPECT("a.\r\nb . c\r\n.\r\n", "a.\r\nb . c\r\n", 1, 14);
	/* Not finished yet. */
	EXPECT("Hello\r\n", "Hello\r\n", 0, 7);
	EXPECT("Hello\r\n.", "Hello\r\n", 0, 8);
	EXPECT("Hello\r\n.\r", "Hello\r\n", 0, 9);
	EXPECT("", "", 0, 0);
	/* ". \r\n" and ".x" are not terminators. */
	EXPECT("a\r\n. \r\nb", "a\r\n \r\nb", 0, 8);
	EXPECT("a\r\n.\r\n\r\n", "a\r\n", 1, 6);
}

static void
test_pipelining(void **state)
{
	static const char in[] = "a\r\n.\r\nQUIT\r\n";
	size_t used;
	struct sink s = { BUF_INIT, 0 };
	struct smtp_data_reader r;

	EXPECT("a\r\n.\r\nQUIT\r\n", "a\r\n", 1, 6);
	EXPECT(".\r\nRSET\r\n", "", 1, 3);

	/* Done is sticky until init. */
	smtp_data_init(&r);
	assert_int_equal(smtp_data_feed(&r, in, sizeof(in) - 1, &used,
	    sink_emit, &s), 1);
	assert_int_equal(used, 6);
	assert_true(r.done);
	assert_int_equal(smtp_data_feed(&r, in + used, sizeof(in) - 1 - used,
	    &used, sink_emit, &s), 1);
	assert_int_equal(used, 0);
	assert_string_equal(buf_cstr(&s.out), "a\r\n");
	/* After init the reader starts over. */
	smtp_data_init(&r);
	assert_false(r.done);
	assert_int_equal(smtp_data_feed(&r, in + 6, sizeof(in) - 7, &used,
	    sink_emit, &s), 0);
	assert_string_equal(buf_cstr(&s.out), "a\r\nQUIT\r\n");
	buf_free(&s.out);
}

/*
 * SMTP smuggling (SEC Consult, December 2023): sequences that some MTA
 * somewhere takes for the end of data.  None of them may end DATA here, the
 * output must be exactly what the rules say, and a real terminator after
 * them must still work.
 */
static void
test_smuggling(void **state)
{
	/* <LF>.<LF> */
	EXPECT("a\n.\nMAIL FROM:<x@y>\r\n",
	    "a\r\n\r\nMAIL FROM:<x@y>\r\n", 0, 21);
	/* <LF>.<CR><LF> */
	EXPECT("a\n.\r\nMAIL FROM:<x@y>\r\n",
	    "a\r\n\r\nMAIL FROM:<x@y>\r\n", 0, 22);
	/* <CR><LF>.<LF> */
	EXPECT("a\r\n.\nMAIL FROM:<x@y>\r\n",
	    "a\r\n\r\nMAIL FROM:<x@y>\r\n", 0, 22);
	/* <CR>.<CR><LF>: the dot does not start a line. */
	EXPECT("a\r.\r\nMAIL FROM:<x@y>\r\n",
	    "a\r.\r\nMAIL FROM:<x@y>\r\n", 0, 22);
	/* <CR>.<CR> */
	EXPECT("a\r.\rMAIL FROM:<x@y>\r\n",
	    "a\r.\rMAIL FROM:<x@y>\r\n", 0, 21);
	/* <CR><LF>.<CR> followed by more data */
	EXPECT("a\r\n.\rMAIL FROM:<x@y>\r\n",
	    "a\r\n\rMAIL FROM:<x@y>\r\n", 0, 22);
	EXPECT("a\r\n.\r.\r\nX", "a\r\n\r.\r\nX", 0, 9);
	/* <LF>.<CR> */
	EXPECT("a\n.\rX", "a\r\n\rX", 0, 5);
	/* <CR><LF>.<NUL><CR><LF> */
	EXPECT("a\r\n.\0\r\nX", "a\r\n\0\r\nX", 0, 8);
	/* <CR><CR><LF>.<CR><CR><LF> */
	EXPECT("a\r\r\n.\r\r\nX", "a\r\r\n\r\r\nX", 0, 9);
	/* Bare LF at the very start then ".\r\n". */
	EXPECT("\n.\r\nX", "\r\n\r\nX", 0, 5);
	EXPECT("\n.\nX", "\r\n\r\nX", 0, 4);

	/* After each, a real <CR><LF>.<CR><LF> does end it. */
	EXPECT("a\n.\nb\r\n.\r\nRSET\r\n", "a\r\n\r\nb\r\n", 1, 10);
	EXPECT("a\n.\r\n.\r\n", "a\r\n\r\n", 1, 8);
	EXPECT("a\r.\r\n.\r\n", "a\r.\r\n", 1, 8);
	EXPECT("a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", 1, 11);
	/* "\n.\r\n" is unstuffed, and the CRLF it ends IS real. */
	EXPECT("\n.\r\n.\r\n", "\r\n\r\n", 1, 7);
}

static void
test_normalize_and_flags(void **state)
{
	struct result w;
	static const char lf[] = "a\nb\n.\r\n";
	static const char st[] = "abc\r\nde\r\n\r\n.\r\n";
	static const char cr[] = "a\rb\r\n.\r\n";
	static const char bin[] = "\xc3\xa9\0x\r\n.\r\n";

	/* Bare LF -> CRLF; ".\r\n" after a bare LF does not end DATA. */
	EXPECT("a\nb\n.\r\n", "a\r\nb\r\n\r\n", 0, 7);
	feed_whole(lf, sizeof(lf) - 1, &w);
	assert_true(w.r.saw_bare_lf);
	assert_false(w.r.saw_bare_cr);
	assert_true(w.r.lines == 3);
	buf_free(&w.out);

	feed_whole(st, sizeof(st) - 1, &w);
	assert_int_equal(w.ended, 1);
	assert_string_equal(buf_cstr(&w.out), "abc\r\nde\r\n\r\n");
	assert_true(w.r.bytes == 11);
	assert_true(w.r.lines == 3);
	assert_true(w.r.max_line_len == 3);
	assert_false(w.r.saw_bare_lf);
	assert_false(w.r.saw_8bit);
	assert_false(w.r.saw_nul);
	buf_free(&w.out);

	feed_whole(cr, sizeof(cr) - 1, &w);
	assert_int_equal(w.ended, 1);
	assert_string_equal(buf_cstr(&w.out), "a\rb\r\n");
	assert_true(w.r.saw_bare_cr);
	assert_false(w.r.saw_bare_lf);
	assert_true(w.r.max_line_len == 3);	/* a CR b */
	buf_free(&w.out);

	feed_whole(bin, sizeof(bin) - 1, &w);
	assert_int_equal(w.ended, 1);
	assert_int_equal(w.out.len, 6);
	assert_memory_equal(w.out.data, "\xc3\xa9\0x\r\n", 6);
	assert_true(w.r.saw_8bit);
	assert_true(w.r.saw_nul);
	buf_free(&w.out);
}

static void
test_spans(void **state)
{
	struct buf in = BUF_INIT;
	struct sink s = { BUF_INIT, 0 };
	struct smtp_data_reader r;
	size_t used;

	for (int i = 0; i < 2000; i++)
		buf_puts(&in,
		    "The quick brown fox jumps over the lazy dog\r\n");
	buf_puts(&in, ".\r\n");
	smtp_data_init(&r);
	assert_int_equal(smtp_data_feed(&r, in.data, in.len, &used, sink_emit,
	    &s), 1);
	assert_int_equal(used, in.len);
	assert_int_equal(s.out.len, in.len - 3);
	/* Plain content goes out in one span, not per byte or per line. */
	assert_int_equal(s.calls, 1);
	assert_true(r.lines == 2000);
	assert_true(r.max_line_len == 43);
	buf_free(&s.out);

	/* Each stuffed dot costs one extra span, no more. */
	buf_reset(&in);
	for (int i = 0; i < 100; i++)
		buf_puts(&in, "..stuffed\r\nplain\r\n");
	buf_puts(&in, ".\r\n");
	s.calls = 0;
	smtp_data_init(&r);
	assert_int_equal(smtp_data_feed(&r, in.data, in.len, &used, sink_emit,
	    &s), 1);
	assert_true(s.calls <= 101);
	buf_free(&s.out);
	buf_free(&in);
}

/* ---- an independent model of the rules, line by line ---------------- */

static void
model(const char *in, size_t len, struct buf *out, int *ended,
    size_t *consumed)
{
	size_t pos = 0;
	bool prev_real = true;	/* previous line ended with CRLF (or none) */

	*ended = 0;
	while (pos < len) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t llen = nl != NULL ? (size_t)(nl - (in + pos)) + 1 :
		    len - pos;
		const char *l = in + pos;
		bool complete = nl != NULL;
		bool real = complete && llen >= 2 && l[llen - 2] == '\r';
		size_t adv = llen;

		if (prev_real && complete && llen == 3 && l[0] == '.' &&
		    l[1] == '\r') {
			*ended = 1;
			*consumed = pos + 3;
			return;
		}
		if (prev_real && !complete && llen == 2 && l[0] == '.' &&
		    l[1] == '\r')
			break;	/* maybe the terminator: the CR is held */
		if (l[0] == '.') {
			l++;
			llen--;
		}
		if (complete && !real) {
			/* Bare LF line end -> CRLF. */
			buf_append(out, l, llen - 1);
			buf_append(out, "\r\n", 2);
		} else
			buf_append(out, l, llen);
		prev_real = real;
		pos += adv;
	}
	*consumed = len;
}

static uint32_t rng_state = 4242;

static uint32_t
rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

/* The reader's statistics, recomputed from what the model emits. */
static void
model_stats(const struct buf *m, const struct smtp_data_reader *r)
{
	const char *p = buf_cstr(m);
	uint64_t lines = 0, max = 0, cur = 0;
	bool hi = false, nul = false;

	for (size_t i = 0; i < m->len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n') {
			if (cur > 0 && cur - 1 > max)
				max = cur - 1;
			cur = 0;
			lines++;
			continue;
		}
		cur++;
		hi |= c >= 0x80;
		nul |= c == '\0';
	}
	assert_true(r->bytes == m->len);
	assert_true(r->lines == lines);
	assert_true(r->line_len == cur);
	assert_true(r->max_line_len == max);
	assert_int_equal(r->saw_8bit, hi);
	assert_int_equal(r->saw_nul, nul);
}

/*
 * Random input from a few bytes, in two shapes: short mixes of the
 * special bytes, and long lines where they are rare (the reader scans
 * eight bytes at a time, so their positions inside a word matter).
 */
static void
test_random_vs_model(void **state)
{
	static const char alphabet[] = { 'a', '.', '\r', '\n', '\0', 'b',
	    '\x80', '\xff' };
	char in[200];

	for (int iter = 0; iter < 30000; iter++) {
		bool longer = iter % 3 == 2;
		size_t len = rng() % (longer ? sizeof(in) : 48);
		struct buf m = BUF_INIT;
		struct result w, r;
		size_t cuts[4];
		int ended;
		size_t consumed;

		for (size_t i = 0; i < len; i++)
			in[i] = longer && rng() % 16 != 0 ? (char)('c' +
			    rng() % 20) : alphabet[rng() % sizeof(alphabet)];
		model(in, len, &m, &ended, &consumed);
		feed_whole(in, len, &w);
		if (w.ended != ended || w.consumed != consumed ||
		    w.out.len != m.len ||
		    memcmp(buf_cstr(&w.out), buf_cstr(&m), m.len) != 0) {
			for (size_t i = 0; i < len; i++)
				fprintf(stderr, "%02x ", (unsigned char)in[i]);
			fprintf(stderr, "\nended %d/%d consumed %zu/%zu\n",
			    w.ended, ended, w.consumed, consumed);
			fail_msg("model mismatch at iteration %d", iter);
		}
		model_stats(&m, &w.r);
		/* A random 4-way split agrees. */
		for (size_t k = 0; k < 4; k++)
			cuts[k] = len ? rng() % (len + 1) : 0;
		for (size_t a = 0; a < 4; a++)
			for (size_t b = a + 1; b < 4; b++)
				if (cuts[b] < cuts[a]) {
					size_t t = cuts[a];

					cuts[a] = cuts[b];
					cuts[b] = t;
				}
		feed_cuts(in, len, cuts, 4, &r);
		same(&w, &r);
		buf_free(&r.out);
		buf_free(&w.out);
		buf_free(&m);
	}
	/* And exhaustively every split of a few nasty ones. */
	{
		static const char nasty[] =
		    "\r\n.\r\r\n.\n..\r\r\n\n.\r\n.\r\nX";
		struct result w;

		check_all_splits(nasty, sizeof(nasty) - 1, &w);
		buf_free(&w.out);
	}
}

/* ---- outbound stuffing -------------------------------------------- */

static void
stuff_expect(const char *in, size_t len, const char *want, size_t wantlen)
{
	struct buf whole = BUF_INIT, split = BUF_INIT;
	struct smtp_stuff_state st = SMTP_STUFF_INIT;

	smtp_dot_stuff(&whole, in, len, &st);
	smtp_dot_stuff_finish(&whole, &st);
	assert_int_equal(whole.len, wantlen);
	assert_memory_equal(buf_cstr(&whole), want, wantlen);
	assert_true(st.line_start && !st.after_cr);

	/* Every 2-way split, and bytewise. */
	for (size_t i = 0; i <= len; i++) {
		buf_reset(&split);
		smtp_stuff_init(&st);
		smtp_dot_stuff(&split, in, i, &st);
		smtp_dot_stuff(&split, in + i, len - i, &st);
		smtp_dot_stuff_finish(&split, &st);
		assert_int_equal(split.len, wantlen);
		assert_memory_equal(buf_cstr(&split), want, wantlen);
	}
	buf_reset(&split);
	for (size_t i = 0; i < len; i++)
		smtp_dot_stuff(&split, in + i, 1, &st);
	smtp_dot_stuff_finish(&split, &st);
	assert_int_equal(split.len, wantlen);
	assert_memory_equal(buf_cstr(&split), want, wantlen);
	buf_free(&whole);
	buf_free(&split);
}

#define STUFF(in, want) stuff_expect(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void
test_dot_stuff(void **state)
{
	STUFF("", ".\r\n");
	STUFF("a\r\n", "a\r\n.\r\n");
	STUFF("abc", "abc\r\n.\r\n");
	STUFF(".", "..\r\n.\r\n");
	STUFF(".\r\n", "..\r\n.\r\n");
	STUFF("a\r\n.b\r\n..c\r\n", "a\r\n..b\r\n...c\r\n.\r\n");
	STUFF("a.b\r\n", "a.b\r\n.\r\n");
	/* Bare LF and bare CR become CRLF, so no receiver can misread. */
	STUFF("a\nb", "a\r\nb\r\n.\r\n");
	STUFF("a\n.\n", "a\r\n..\r\n.\r\n");
	STUFF("a\r.\r", "a\r\n..\r\n.\r\n");
	STUFF("a\r", "a\r\n.\r\n");
	STUFF("\r\r\n\n", "\r\n\r\n\r\n.\r\n");
	STUFF("x\r\n.\r\nMAIL FROM:<a@b>\r\n",
	    "x\r\n..\r\nMAIL FROM:<a@b>\r\n.\r\n");
}

static void
stuff_sink(void *ctx, const char *p, size_t n)
{
	buf_append(ctx, p, n);
}

/* Reading back what we stuffed gives the normalized content. */
static void
test_stuff_roundtrip(void **state)
{
	static const char alphabet[] = { 'a', '.', '\r', '\n', 'b' };
	char in[40];

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = rng() % sizeof(in), cut, used;
		struct buf wire = BUF_INIT, back = BUF_INIT, norm = BUF_INIT;
		struct smtp_stuff_state st = SMTP_STUFF_INIT;
		struct smtp_data_reader r;

		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rng() % sizeof(alphabet)];
		/* The expected normalization: every line end CRLF. */
		for (size_t i = 0; i < len; i++) {
			if (in[i] == '\r') {
				buf_append(&norm, "\r\n", 2);
				if (i + 1 < len && in[i + 1] == '\n')
					i++;
			} else if (in[i] == '\n')
				buf_append(&norm, "\r\n", 2);
			else
				buf_putc(&norm, in[i]);
		}
		if (norm.len > 0 && (norm.len < 2 ||
		    memcmp(norm.data + norm.len - 2, "\r\n", 2) != 0))
			buf_append(&norm, "\r\n", 2);

		cut = len ? rng() % (len + 1) : 0;
		smtp_dot_stuff(&wire, in, cut, &st);
		smtp_dot_stuff(&wire, in + cut, len - cut, &st);
		smtp_dot_stuff_finish(&wire, &st);

		smtp_data_init(&r);
		assert_int_equal(smtp_data_feed(&r, wire.data, wire.len, &used,
		    stuff_sink, &back), 1);
		assert_int_equal(used, wire.len);
		assert_false(r.saw_bare_lf);
		assert_false(r.saw_bare_cr);
		if (back.len != norm.len ||
		    memcmp(buf_cstr(&back), buf_cstr(&norm), norm.len) != 0)
			fail_msg("roundtrip mismatch at iteration %d", iter);
		buf_free(&wire);
		buf_free(&back);
		buf_free(&norm);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_normalize_and_flags),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_random_vs_model),
		cmocka_unit_test(test_dot_stuff),
		cmocka_unit_test(test_stuff_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
