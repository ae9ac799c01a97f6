/*
 * fuzz_pop3 - POP3 command lines and byte-stuffing (pop3/pop3_parse.h).
 *
 * Input: a client transcript; each line (split at LF, a CR before it
 * dropped) goes through pop3_parse_line() and, by verb, through
 * pop3_parse_msgnum() and pop3_parse_top().  The whole input is then
 * byte-stuffed as if it were a message, in chunks chosen by its last byte.
 * Checked:
 *  - parse_line returns 0 exactly for known verbs, the argument lies
 *    inside the line;
 *  - a message number is 0 or within 1..max, and consistent across
 *    maxima (n for a large max means n for every max >= n, 0 below);
 *    TOP gives a message number within 1..max;
 *  - stuffing does not depend on chunking; the output ends with the one
 *    ".\r\n" line that terminates it (no earlier line is a lone "."), and
 *    unstuffing it (drop the terminator, then one leading dot per line)
 *    gives the input back, plus the CRLF finish adds when the input did
 *    not end with a line end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "pop3/pop3_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
msgnum(const char *arg, size_t len)
{
	static const uint32_t maxes[] = { 1, 2, 9, 10, 100, 65536, UINT32_MAX };
	uint32_t big = pop3_parse_msgnum(arg, len, UINT32_MAX);

	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		uint32_t v = pop3_parse_msgnum(arg, len, maxes[i]);

		FUZZ_CHECK(v <= maxes[i], "msgnum %u > max %u", v, maxes[i]);
		FUZZ_CHECK(v == (big <= maxes[i] ? big : 0),
		    "msgnum %u with max %u, %u with max 2^32-1", v, maxes[i],
		    big);
	}
	FUZZ_CHECK(pop3_parse_msgnum(arg, len, 0) == 0, "msgnum with max 0");
}

static void
one_line(const char *line, size_t len)
{
	struct pop3_cmd cmd;
	uint32_t msg;
	uint64_t lines;
	int rc;

	memset(&cmd, 0x5a, sizeof(cmd));
	rc = pop3_parse_line(line, len, &cmd);
	FUZZ_CHECK((rc == 0) == (cmd.verb != POP3_UNKNOWN),
	    "parse_line %d with verb %d", rc, (int)cmd.verb);
	if (rc < 0)
		return;
	if (cmd.arg_len > 0)
		FUZZ_CHECK(cmd.arg >= line && cmd.arg + cmd.arg_len <= line +
		    len, "argument outside the line");
	msgnum(cmd.arg_len > 0 ? cmd.arg : "", cmd.arg_len);
	msg = 0;
	if (pop3_parse_top(cmd.arg_len > 0 ? cmd.arg : "", cmd.arg_len, 50,
	    &msg, &lines) == 0)
		FUZZ_CHECK(msg >= 1 && msg <= 50, "TOP message %u", msg);
}

static void
stuffing(const char *in, size_t len, uint8_t control)
{
	struct pop3_stuff st;
	struct fuzz_chunker ch;
	struct buf whole = BUF_INIT, parts = BUF_INIT, un = BUF_INIT;
	size_t body;

	pop3_stuff_init(&st);
	pop3_stuff_feed(&st, in, len, &whole);
	pop3_stuff_finish(&st, &whole);
	FUZZ_CHECK(st.line_start, "finish did not reset");
	fuzz_chunker_init(&ch, control);
	for (size_t off = 0; off < len;) {
		size_t n = fuzz_chunker_next(&ch, len - off);

		pop3_stuff_feed(&st, in + off, n, &parts);
		off += n;
	}
	pop3_stuff_finish(&st, &parts);
	FUZZ_CHECK(fuzz_mem_eq(whole.data, whole.len, parts.data, parts.len),
	    "stuffing depends on chunking");

	FUZZ_CHECK(whole.len >= 3 &&
	    memcmp(whole.data + whole.len - 3, ".\r\n", 3) == 0,
	    "no terminator");
	body = whole.len - 3;
	FUZZ_CHECK(body == 0 || whole.data[body - 1] == '\n',
	    "terminator not on its own line");
	/* Unstuff, and look for an early terminator line. */
	for (size_t i = 0; i < body; i++) {
		bool bol = i == 0 || whole.data[i - 1] == '\n';

		if (bol && whole.data[i] == '.') {
			FUZZ_CHECK(i + 1 < body && whole.data[i + 1] == '.',
			    "unstuffed dot at a line start (offset %zu)", i);
			i++;
		}
		buf_putc(&un, whole.data[i]);
	}
	if (fuzz_mem_eq(un.data, un.len, in, len)) {
		FUZZ_CHECK(len == 0 || in[len - 1] == '\n',
		    "no CRLF added after a last line without line end");
	} else {
		FUZZ_CHECK(len > 0 && in[len - 1] != '\n' &&
		    un.len == len + 2 && memcmp(un.data, in, len) == 0 &&
		    memcmp(un.data + len, "\r\n", 2) == 0,
		    "unstuffing does not give the input back");
	}
	buf_free(&whole);
	buf_free(&parts);
	buf_free(&un);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((lf != NULL ? lf : end) - p);
		size_t m = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
		char *line = malloc(m > 0 ? m : 1);

		memcpy(line, p, m);
		one_line(line, m);
		free(line);
		p += n + (lf != NULL);
	}
	stuffing((const char *)data, size, size > 0 ? data[size - 1] : 0);
	return 0;
}
