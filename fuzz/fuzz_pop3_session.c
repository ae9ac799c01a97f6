/*
 * fuzz_pop3_session - a whole POP3 session (pop3/pop3_session.c with
 * auth/, store/sqlite/, core/conn.c) against a real store; the server and
 * its data are set up by fuzz_session.h.
 *
 * Input: a control byte (how the rest is cut into the chunks the client
 * sends: fuzz_chunker), then what a POP3 client sends.  USER
 * u@example.test / PASS p (or AUTH PLAIN) logs in; u's INBOX holds five
 * messages.  Checked, beyond fuzz_session.h's checks (no stall, the
 * session ends, bounded output):
 *  - the output is a sequence of responses: a status line ("+OK", "-ERR"
 *    or a SASL "+ " continuation) ending in CRLF, without control
 *    characters; only "+OK" may be followed by a multi-line body, which
 *    ends with the line "." and dot-stuffs every other line that starts
 *    with a dot;
 *  - "+OK N octets" (RETR) is followed by exactly N octets of message
 *    once unstuffed;
 *  - the greeting is "+OK", and nothing follows the goodbye of QUIT or of
 *    too many bad commands;
 *  - the output ends at a line end;
 *  - no amplification: at most 1 KiB + 128 bytes per input byte (the
 *    store holds only the seeded messages for POP3: "RETR 3" sends the
 *    largest, 670 bytes).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_session.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool
starts(const char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(p, prefix, n) == 0;
}

static bool
status_line(const char *p, size_t len)
{
	return starts(p, len, "+OK") || starts(p, len, "-ERR") ||
	    starts(p, len, "+ ");
}

/* "+OK N octets": N, else -1. */
static long long
octets(const char *p, size_t len)
{
	long long n = 0;
	size_t i = 4;

	if (!starts(p, len, "+OK ") || i >= len || p[i] < '0' || p[i] > '9')
		return -1;
	for (; i < len && p[i] >= '0' && p[i] <= '9'; i++)
		n = n * 10 + (p[i] - '0');
	return len - i == 8 && memcmp(p + i, " octets\r\n", 8) == 0 ? n : -1;
}

static void
check_output(const char *out, size_t len)
{
	size_t pos = 0;
	bool first = true, last = false;

	while (pos < len) {
		const char *l = out + pos;
		const char *lf = memchr(l, '\n', len - pos);
		size_t n;
		long long want;

		FUZZ_CHECK(lf != NULL, "output ends inside a line: %.*s",
		    (int)(len - pos > 80 ? 80 : len - pos), l);
		n = (size_t)(lf - l) + 1;
		FUZZ_CHECK(!last, "output after the goodbye: %.*s",
		    (int)(n > 80 ? 80 : n), l);
		FUZZ_CHECK(n >= 2 && l[n - 2] == '\r', "line without CRLF: "
		    "%.*s", (int)(n > 80 ? 80 : n), l);
		FUZZ_CHECK(status_line(l, n), "not a status line: %.*s",
		    (int)(n > 80 ? 80 : n), l);
		FUZZ_CHECK(!first || starts(l, n, "+OK"), "greeting %.*s",
		    (int)(n > 80 ? 80 : n), l);
		for (size_t i = 0; i + 2 < n; i++)
			FUZZ_CHECK(((unsigned char)l[i] >= 32 && l[i] != 127) ||
			    l[i] == '\t', "control character 0x%02x in a "
			    "status line: %.*s", (unsigned char)l[i],
			    (int)(n > 80 ? 80 : n), l);
		first = false;
		last = starts(l, n, "+OK Logging out") ||
		    starts(l, n, "-ERR Too many bad commands.");
		want = octets(l, n);
		pos += n;
		/* A multi-line body follows when the next line is no status. */
		if (!starts(l, n, "+OK") || pos >= len ||
		    status_line(out + pos, len - pos)) {
			FUZZ_CHECK(want < 0, "RETR size without a body");
			continue;
		}
		{
			long long got = 0;
			bool ended = false;

			while (pos < len) {
				const char *d = out + pos;
				const char *e = memchr(d, '\n', len - pos);
				size_t k;

				FUZZ_CHECK(e != NULL, "body ends mid-line");
				k = (size_t)(e - d) + 1;
				FUZZ_CHECK(k >= 2 && d[k - 2] == '\r' &&
				    memchr(d, '\r', k - 2) == NULL,
				    "body line without CRLF or with a bare CR");
				pos += k;
				if (k == 3 && d[0] == '.') {
					ended = true;
					break;
				}
				FUZZ_CHECK(d[0] != '.' ||
				    (k > 3 && d[1] == '.'),
				    "unstuffed dot: %.*s",
				    (int)(k > 80 ? 80 : k), d);
				got += (long long)k - (d[0] == '.');
			}
			FUZZ_CHECK(ended, "multi-line response without its "
			    "terminating \".\"");
			FUZZ_CHECK(want < 0 || got == want, "RETR announced "
			    "%lld octets and sent %lld", want, got);
		}
	}
}

static const struct fuzz_session_proto pop3 = { pop3_accept, NULL, NULL };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT;

	if (size < 1)
		return 0;
	fuzz_session_run(&pop3, LISTEN_POP3, data + 1, size - 1, data[0],
	    &out);
	check_output(out.data ? out.data : "", out.len);
	FUZZ_CHECK(out.len <= 1024 + 128 * size, "%zu bytes of replies to %zu "
	    "bytes", out.len, size);
	buf_free(&out);
	return 0;
}
