/*
 * fuzz_smtp_data - the DATA reader and the dot-stuffer (smtp/smtp_data.h).
 *
 * Input: one control byte (chunk sizes, see fuzz_common.h), then the bytes
 * a client sends after "354".  Checked:
 *  - the reader, fed in fuzzer-chosen chunks, agrees exactly with a small
 *    reference model written from the header's rules: where DATA ends
 *    (only at the first <CR><LF>.<CR><LF>, or ".<CR><LF>" as the first
 *    line), what is emitted (dots unstuffed at every line start, bare LF
 *    made CRLF, bare CR kept); while the end is not seen yet, the output
 *    may only lag the model by the bytes still held back;
 *  - the statistics (bytes, lines, line_len, max_line_len, saw_8bit,
 *    saw_nul) describe the emitted bytes, and no emitted LF is bare;
 *  - smtp_dot_stuff() is chunk-independent, and reading its output back
 *    with the reader ends exactly at its end and yields the content with
 *    every line ending made CRLF (the no-smuggling round trip).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "smtp/smtp_data.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
emit_cb(void *ctx, const char *p, size_t n)
{
	struct buf *b = ctx;

	FUZZ_CHECK(n > 0, "emit with length 0");
	buf_append(b, p, n);
}

/* The rules of smtp_data.h, byte by byte.  Returns true when done. */
static bool
model_read(const char *in, size_t len, struct buf *out, size_t *consumed_r)
{
	bool bol = true, prev_cr = false;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (bol && c == '.') {
			bool hard = i == 0 || (i >= 2 && in[i - 1] == '\n' &&
			    in[i - 2] == '\r');

			if (hard && len - i >= 3 && in[i + 1] == '\r' &&
			    in[i + 2] == '\n') {
				*consumed_r = i + 3;
				return true;
			}
			bol = false;
			prev_cr = false;
			continue;
		}
		bol = false;
		if (c == '\n') {
			if (!prev_cr)
				buf_putc(out, '\r');
			buf_putc(out, '\n');
			bol = true;
		} else
			buf_putc(out, c);
		prev_cr = c == '\r';
	}
	*consumed_r = len;
	return false;
}

static void
check_stats(const struct smtp_data_reader *r, const struct buf *out)
{
	uint64_t lines = 0, max_line = 0, cur = 0;
	bool eight = false, nul = false;

	for (size_t i = 0; i < out->len; i++) {
		unsigned char c = (unsigned char)out->data[i];

		if (c == '\n') {
			FUZZ_CHECK(i > 0 && out->data[i - 1] == '\r',
			    "bare LF emitted at %zu", i);
			if (cur - 1 > max_line)
				max_line = cur - 1;
			cur = 0;
			lines++;
			continue;
		}
		cur++;
		if (c >= 0x80)
			eight = true;
		if (c == '\0')
			nul = true;
	}
	FUZZ_CHECK(r->bytes == out->len, "bytes %llu, emitted %zu",
	    (unsigned long long)r->bytes, out->len);
	FUZZ_CHECK(r->lines == lines, "lines %llu, counted %llu",
	    (unsigned long long)r->lines, (unsigned long long)lines);
	FUZZ_CHECK(r->line_len == cur, "line_len %llu, counted %llu",
	    (unsigned long long)r->line_len, (unsigned long long)cur);
	FUZZ_CHECK(r->max_line_len == max_line, "max_line_len %llu, want %llu",
	    (unsigned long long)r->max_line_len,
	    (unsigned long long)max_line);
	FUZZ_CHECK(r->saw_8bit == eight && r->saw_nul == nul,
	    "saw_8bit %d/%d saw_nul %d/%d", r->saw_8bit, eight, r->saw_nul,
	    nul);
}

/* Feed in chunks; returns the reader's verdict and total consumption. */
static int
read_chunked(const char *in, size_t len, uint8_t control,
    struct smtp_data_reader *r, struct buf *out, size_t *consumed_r)
{
	struct fuzz_chunker ch;
	size_t off = 0, used;
	int ret = 0;

	fuzz_chunker_init(&ch, control);
	smtp_data_init(r);
	do {
		size_t n = fuzz_chunker_next(&ch, len - off);

		ret = smtp_data_feed(r, in + off, n, &used, emit_cb, out);
		FUZZ_CHECK(ret == 0 || ret == 1, "feed returned %d", ret);
		FUZZ_CHECK(used <= n, "consumed %zu of %zu", used, n);
		if (ret == 0)
			FUZZ_CHECK(used == n, "need more but used %zu of %zu",
			    used, n);
		off += used;
	} while (ret == 0 && off < len);
	FUZZ_CHECK(r->done == (ret == 1), "done flag %d, ret %d", r->done,
	    ret);
	if (ret == 1) {
		/* Done is sticky. */
		FUZZ_CHECK(smtp_data_feed(r, "x\r\n", 3, &used, emit_cb,
		    out) == 1 && used == 0, "feed after done");
	}
	*consumed_r = off;
	return ret;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_data_reader r;
	struct smtp_stuff_state st = SMTP_STUFF_INIT;
	struct fuzz_chunker ch;
	struct buf got = BUF_INIT, want = BUF_INIT, stuffed = BUF_INIT,
	    stuffed1 = BUF_INIT, canon = BUF_INIT, back = BUF_INIT;
	const char *in;
	size_t len, consumed, mconsumed, off;
	uint8_t control;
	bool mdone;
	int ret;

	if (size == 0)
		return 0;
	control = data[0];
	in = (const char *)data + 1;
	len = size - 1;

	/* 1. The reader against the model. */
	ret = read_chunked(in, len, control, &r, &got, &consumed);
	mdone = model_read(in, len, &want, &mconsumed);
	FUZZ_CHECK(mdone == (ret == 1), "reader done=%d, model done=%d",
	    ret == 1, mdone);
	if (mdone) {
		FUZZ_CHECK(consumed == mconsumed, "ends at %zu, model at %zu",
		    consumed, mconsumed);
		FUZZ_CHECK(fuzz_mem_eq(got.data, got.len, want.data, want.len),
		    "emitted %zu bytes, model %zu", got.len, want.len);
	} else {
		FUZZ_CHECK(got.len <= want.len && want.len - got.len <= 1 &&
		    fuzz_mem_eq(got.data, got.len, want.data, got.len),
		    "emitted %zu bytes, not a prefix of the model's %zu",
		    got.len, want.len);
	}
	check_stats(&r, &got);

	/* 2. Stuff the input as message content, whole and in chunks. */
	smtp_dot_stuff(&stuffed1, in, len, &st);
	smtp_dot_stuff_finish(&stuffed1, &st);
	FUZZ_CHECK(st.line_start && !st.after_cr, "state not reset");
	fuzz_chunker_init(&ch, (uint8_t)(control ^ 0x5a));
	for (off = 0; off < len;) {
		size_t n = fuzz_chunker_next(&ch, len - off);

		smtp_dot_stuff(&stuffed, in + off, n, &st);
		off += n;
	}
	smtp_dot_stuff_finish(&stuffed, &st);
	FUZZ_CHECK(fuzz_mem_eq(stuffed.data, stuffed.len, stuffed1.data,
	    stuffed1.len),
	    "dot-stuffing depends on chunking");

	/* Content with every line ending canonical. */
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r') {
			buf_append(&canon, "\r\n", 2);
			if (i + 1 < len && in[i + 1] == '\n')
				i++;
		} else if (in[i] == '\n')
			buf_append(&canon, "\r\n", 2);
		else
			buf_putc(&canon, in[i]);
	}
	if (canon.len > 0 && canon.data[canon.len - 1] != '\n')
		buf_append(&canon, "\r\n", 2);

	/* 3. Reading the stuffed form back ends exactly at its end. */
	ret = read_chunked(stuffed.data, stuffed.len, control, &r, &back,
	    &consumed);
	FUZZ_CHECK(ret == 1 && consumed == stuffed.len,
	    "stuffed message: done=%d consumed %zu of %zu", ret, consumed,
	    stuffed.len);
	FUZZ_CHECK(fuzz_mem_eq(back.data, back.len, canon.data, canon.len),
	    "round trip: %zu bytes back, %zu expected", back.len, canon.len);
	FUZZ_CHECK(!r.saw_bare_lf && !r.saw_bare_cr,
	    "bare line ending in stuffed output");
	check_stats(&r, &back);

	buf_free(&got);
	buf_free(&want);
	buf_free(&stuffed);
	buf_free(&stuffed1);
	buf_free(&canon);
	buf_free(&back);
	return 0;
}
