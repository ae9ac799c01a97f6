/*
 * fuzz_smtp_session - a whole SMTP session (smtp/smtp_session.c,
 * smtp_txn.c, smtp_data.c with auth/, queue/, store/sqlite/,
 * core/conn.c) against a real store; the server and its data are set up by
 * fuzz_session.h.
 *
 * Input: a control byte, then what an SMTP client sends.  The control
 * byte's low bits choose how the input is cut into the chunks the client
 * sends (fuzz_chunker); its top bit picks the listener: clear for the MX
 * port (25: no AUTH, local recipients only), set for submission (587:
 * AUTH PLAIN / LOGIN with u@example.test and password "p", then relaying;
 * remote recipients go into the queue, which never runs here).  Messages
 * to local recipients are delivered into the store.  Checked, beyond
 * fuzz_session.h's checks (no stall, the session ends, bounded output):
 *  - every line is a reply line: three digits (2xx-5xx), then a space or
 *    a hyphen, then text without control characters, ending in CRLF;
 *  - the lines of a multi-line reply have one code and end with a line
 *    whose code is followed by a space; the output ends at the end of a
 *    reply;
 *  - the greeting is 220 (or 421), and nothing follows a 221 or a 421;
 *  - no amplification: at most 1 KiB + 64 bytes per input byte (the
 *    most is EHLO's reply to "EHLO a"; anyone may connect to port 25).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_session.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_output(const char *out, size_t len)
{
	size_t pos = 0;
	char code[4] = "";	/* of the reply being read */
	bool in_reply = false, first = true, last = false;

	while (pos < len) {
		const char *l = out + pos;
		const char *lf = memchr(l, '\n', len - pos);
		int show;
		size_t n;

		FUZZ_CHECK(lf != NULL, "output ends inside a line: %.*s",
		    (int)(len - pos > 80 ? 80 : len - pos), l);
		n = (size_t)(lf - l) + 1;
		show = (int)(n > 80 ? 80 : n);
		FUZZ_CHECK(!last, "output after 221/421: %.*s", show, l);
		FUZZ_CHECK(n >= 6 && l[n - 2] == '\r', "short line or no CRLF: "
		    "%.*s", show, l);
		FUZZ_CHECK(l[0] >= '2' && l[0] <= '5' && l[1] >= '0' &&
		    l[1] <= '5' && l[2] >= '0' && l[2] <= '9' &&
		    (l[3] == ' ' || l[3] == '-'), "not a reply line: %.*s",
		    show, l);
		for (size_t i = 4; i + 2 < n; i++)
			FUZZ_CHECK(((unsigned char)l[i] >= 32 && l[i] != 127) ||
			    l[i] == '\t', "control character 0x%02x: %.*s",
			    (unsigned char)l[i], show, l);
		if (in_reply)
			FUZZ_CHECK(memcmp(code, l, 3) == 0, "code changes "
			    "inside a multi-line reply: %s then %.*s", code,
			    show, l);
		else {
			memcpy(code, l, 3);
			if (first)
				FUZZ_CHECK(strcmp(code, "220") == 0 ||
				    strcmp(code, "421") == 0, "greeting %.*s",
				    show, l);
		}
		in_reply = l[3] == '-';
		if (!in_reply) {
			first = false;
			last = strcmp(code, "221") == 0 ||
			    strcmp(code, "421") == 0;
		}
		pos += n;
	}
	FUZZ_CHECK(!in_reply, "output ends inside a multi-line reply");
}

static const struct fuzz_session_proto smtp = { smtp_accept, NULL, NULL };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT;

	if (size < 1)
		return 0;
	fuzz_session_run(&smtp, (data[0] & 0x80) ? LISTEN_SUBMISSION :
	    LISTEN_SMTP, data + 1, size - 1, data[0], &out);
	check_output(out.data ? out.data : "", out.len);
	FUZZ_CHECK(out.len <= 1024 + 64 * size, "%zu bytes of replies to %zu "
	    "bytes", out.len, size);
	buf_free(&out);
	return 0;
}
