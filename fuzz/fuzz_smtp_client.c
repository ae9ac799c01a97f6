/*
 * fuzz_smtp_client - the outbound SMTP client (queue/smtp_client.c) talking
 * to a hostile server: the fuzzer's bytes are everything the server says.
 *
 * Input: a control byte (low 3 bits chunking, fuzz_common.h; bits 3-4
 * smtpc_abort(): 1 or 2 at that ready()/done() call, 3 from outside once
 * half the server's bytes are written), an options byte, then the
 * server's bytes.  Options: bits 0-1 the TLS policy (may, encrypt,
 * verify, DANE with one TLSA record), bit 2 verify_report, bits 3-4 how
 * many transactions to send (0-3; transaction i has i + 1 recipients),
 * bit 5 the transactions need SMTPUTF8 (a UTF-8 recipient), bit 6 DSN
 * parameters (RET, ENVID, NOTIFY, ORCPT), bit 7 8BITMIME and a body with
 * dot lines.
 *
 * The client runs on a libevent base in this thread and connects over an
 * AF_UNIX socket; the harness writes the server's bytes in chunks,
 * running the loop between them, then closes its sending side.  Checked:
 *  - callbacks: ready() only when no transaction is under way, done()
 *    exactly once for each smtpc_send() and before the next ready(),
 *    nothing after failed() or after smtpc_quit() or smtpc_abort();
 *  - results: one per recipient, codes 200-599, every text set; texts
 *    and failure reasons one line of printable ASCII, bounded;
 *  - what the client sends: CRLF-terminated lines without CR, LF or NUL
 *    inside, each a command it may send (EHLO/HELO with our name,
 *    STARTTLS, MAIL FROM:<, RCPT TO:<, DATA, RSET, NOOP, QUIT, the "."
 *    that ends an empty DATA) or, after DATA, exactly the dot-stuffed
 *    message and its ".": nothing after QUIT; a non-ASCII address only in
 *    a transaction whose MAIL carried SMTPUTF8; no more MAIL commands
 *    than transactions sent.  A TLS record ends the check (the fuzzer
 *    cannot finish a handshake); plaintext commands still unsent when
 *    the server's 220 to STARTTLS came are dropped, so it may come
 *    early when the server answers before it has read them;
 *  - the client ends once the server has closed (no stall), and frees
 *    everything (LeakSanitizer).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "queue/smtp_client.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_parse.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define HELO	"client.test"
#define NTXN	3
#define OUT_MAX	((size_t)1 << 20)

static const char body_plain[] = "Subject: t\r\n\r\nhello\r\n";
static const char body_dots[] = "Subject: d\r\n\r\n.\r\n..x\r\n.\r\nend\r\n"
    "\xc3\xa9t\xc3\xa9\r\n";

static const char *const rcpts_ascii[NTXN] = {
	"a@r.test", "b@r.test", "c@r.test"
};
static const char *const rcpts_utf8[NTXN] = {
	"\xce\xb4@r.test", "b@r.test", "c@\xc3\xa9.test"
};
static const unsigned notify[NTXN] = {
	SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE, SMTP_NOTIFY_NEVER,
	SMTP_NOTIFY_DELAY
};
static const char *const orcpt[NTXN] = {
	"rfc822;a+b=c@r.test", NULL, "rfc822;\x01x@r.test"
};

static const unsigned char tlsa_data[32] = { 1, 2, 3 };

static struct sockaddr_un sun;
static socklen_t sun_len;
static int lfd = -1;
static bool verbose;		/* FUZZ_VERBOSE set: show each exchange */

struct fc {
	struct smtpc	*c;
	struct smtpc_txn txn;
	const char	*body;
	size_t		 ntxn;		/* transactions to send */
	size_t		 sent;		/* smtpc_send() calls */
	bool		 in_txn;
	bool		 failed;
	bool		 quit;		/* smtpc_quit() or _abort() called */
	unsigned	 abort_at;	/* see the top comment */
	unsigned	 events;	/* ready() and done() calls */
	struct buf	 out;		/* what the client sent */
};

static int
body_read(void *ctx, uint64_t off, size_t len, struct buf *out)
{
	struct fc *f = ctx;

	FUZZ_CHECK(off + len <= strlen(f->body), "read past the message: "
	    "%llu + %zu", (unsigned long long)off, len);
	buf_append(out, f->body + off, len);
	return 0;
}

/* Texts for logs, the queue and DSNs: one line of printable ASCII. */
static void
check_text(const char *s, const char *what)
{
	size_t n = strlen(s);

	FUZZ_CHECK(n <= 600, "%s of %zu bytes", what, n);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 &&
		    (unsigned char)s[i] < 0x7f, "%s: byte 0x%02x: %s", what,
		    (unsigned char)s[i], s);
}

static void
on_ready(struct smtpc *c, void *ctx)
{
	struct fc *f = ctx;

	FUZZ_CHECK(!f->failed && !f->quit, "ready() after the end");
	FUZZ_CHECK(!f->in_txn, "ready() during a transaction");
	if (++f->events == f->abort_at) {
		f->quit = true;
		smtpc_abort(c);
		return;
	}
	if (f->sent < f->ntxn) {
		f->txn.nrcpts = f->sent + 1;
		f->sent++;
		f->in_txn = true;
		smtpc_send(c, &f->txn);
		return;
	}
	f->quit = true;
	smtpc_quit(c);
}

static void
on_done(struct smtpc *c, void *ctx, const struct smtpc_result *res)
{
	struct fc *f = ctx;

	FUZZ_CHECK(!f->failed && !f->quit, "done() after the end");
	FUZZ_CHECK(f->in_txn, "done() without a transaction");
	f->in_txn = false;
	FUZZ_CHECK(res->n == f->txn.nrcpts, "%zu results for %zu recipients",
	    res->n, f->txn.nrcpts);
	for (size_t i = 0; i < res->n; i++) {
		FUZZ_CHECK(res->code[i] >= 200 && res->code[i] <= 599,
		    "recipient %zu: code %d", i, res->code[i]);
		FUZZ_CHECK(res->text[i] != NULL, "recipient %zu: no text", i);
		check_text(res->text[i], "result text");
	}
	if (++f->events == f->abort_at) {
		f->quit = true;
		smtpc_abort(c);
	}
}

static void
on_failed(struct smtpc *c, void *ctx, bool permanent, const char *reason)
{
	struct fc *f = ctx;

	(void)c;
	(void)permanent;
	FUZZ_CHECK(!f->failed && !f->quit, "failed() after the end");
	FUZZ_CHECK(reason != NULL && reason[0] != '\0', "no reason");
	check_text(reason, "failure reason");
	f->failed = true;
	f->c = NULL;
}

static const struct smtpc_ops ops = { on_ready, on_done, on_failed };

static bool
starts(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(line, prefix, n) == 0;
}

static bool
has_8bit(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

/* What the client sent, against the rules in the top comment. */
static void
check_output(const struct fc *f)
{
	const char *p = f->out.data, *end;
	struct buf stuffed = BUF_INIT;
	struct smtp_stuff_state st;
	size_t mails = 0;
	bool quit = false, utf8_mail = false, after_data = false;

	if (f->out.len == 0)
		return;
	end = p + f->out.len;
	smtp_stuff_init(&st);
	smtp_dot_stuff(&stuffed, f->body, strlen(f->body), &st);
	smtp_dot_stuff_finish(&stuffed, &st);
	while (p < end) {
		const char *eol;
		size_t len;

		FUZZ_CHECK(!quit, "sent after QUIT: %.40s", p);
		if (after_data) {
			size_t n = (size_t)(end - p) < stuffed.len ?
			    (size_t)(end - p) : stuffed.len;

			after_data = false;
			if (n > 0 && memcmp(p, stuffed.data, n) == 0 &&
			    starts(p, (size_t)(end - p), "Subject:")) {
				p += n;
				continue;
			}
		}
		/*
		 * A TLS handshake record: after a 220 to STARTTLS.  The
		 * plaintext commands before it may be missing: a server
		 * that answers before it has read them has them dropped.
		 */
		if ((unsigned char)p[0] == 0x16)
			break;
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (eol == NULL)
			break;		/* cut by the close: a prefix */
		len = (size_t)(eol - p);
		FUZZ_CHECK(memchr(p, '\r', len) == NULL &&
		    memchr(p, '\n', len) == NULL && memchr(p, '\0', len) == NULL,
		    "CR, LF or NUL inside a line: %.*s", (int)len, p);
		if (len == 8 && memcmp(p, "STARTTLS", 8) == 0)
			;	/* TLS records follow, or commands if refused */
		else if (starts(p, len, "MAIL FROM:<")) {
			mails++;
			FUZZ_CHECK(mails <= f->sent, "MAIL number %zu, %zu sent",
			    mails, f->sent);
			utf8_mail = memmem(p, len, " SMTPUTF8", 9) != NULL;
			FUZZ_CHECK(!utf8_mail || f->txn.smtputf8,
			    "SMTPUTF8 for an ASCII message");
			if (!utf8_mail)
				FUZZ_CHECK(!has_8bit(p, len), "8-bit MAIL "
				    "without SMTPUTF8: %.*s", (int)len, p);
		} else if (starts(p, len, "RCPT TO:<")) {
			FUZZ_CHECK(mails > 0, "RCPT before MAIL");
			if (!utf8_mail)
				FUZZ_CHECK(!has_8bit(p, len), "8-bit RCPT "
				    "without SMTPUTF8: %.*s", (int)len, p);
		} else if (len == 4 && memcmp(p, "DATA", 4) == 0) {
			FUZZ_CHECK(mails > 0, "DATA before MAIL");
			after_data = true;
		} else if (len == 4 && memcmp(p, "QUIT", 4) == 0)
			quit = true;
		else
			FUZZ_CHECK((len == 4 && (memcmp(p, "RSET", 4) == 0 ||
			    memcmp(p, "NOOP", 4) == 0)) ||
			    (len == 1 && p[0] == '.') ||
			    (len == 5 + strlen(HELO) &&
			    (starts(p, len, "EHLO " HELO) ||
			    starts(p, len, "HELO " HELO))),
			    "unexpected line: %.*s", (int)len, p);
		p = eol + 2;
	}
	buf_free(&stuffed);
}

/* Takes what the client sent; false once it closed. */
static bool
drain(int fd, struct fc *f)
{
	char tmp[16384];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));

		if (n > 0) {
			if (f->out.len < OUT_MAX)
				buf_append(&f->out, tmp, (size_t)n);
			continue;
		}
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
}

static void
spin(struct event_base *base, int fd, struct fc *f, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		(void)drain(fd, f);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *err;

	(void)argc;
	(void)argv;
	if (smtpc_tls_init(NULL, &err) < 0) {
		fprintf(stderr, "smtpc_tls_init: %s\n", err);
		abort();
	}
	/* As the server does: a closed peer is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* Abstract: nothing on the file system. */
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
	    "posthorn-fuzz-smtpc-%d", (int)getpid());
	sun_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(sun.sun_path + 1));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sun_len) < 0 ||
	    listen(lfd, 4) < 0) {
		perror("fuzz_smtp_client: listen");
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_chunker ch;
	struct smtpc_opts opts;
	struct dns_tlsa tlsa;
	struct event_base *base;
	struct fc f;
	uint8_t o;
	unsigned abort_at;
	size_t half;
	int fd, rounds;

	if (size < 2)
		return 0;
	fuzz_chunker_init(&ch, data[0]);
	abort_at = (data[0] >> 3) & 3;
	o = data[1];
	data += 2;
	size -= 2;

	memset(&f, 0, sizeof(f));
	buf_init(&f.out);
	f.ntxn = (o >> 3) & 3;
	f.abort_at = abort_at < 3 ? abort_at : 0;
	f.body = (o & 0x80) ? body_dots : body_plain;
	f.txn.sender = (o & 0x40) ? "s@client.test" : "";
	f.txn.rcpts = (o & 0x20) ? rcpts_utf8 : rcpts_ascii;
	f.txn.size = strlen(f.body);
	f.txn.eightbit = (o & 0x80) != 0;
	f.txn.smtputf8 = (o & 0x20) != 0;
	if (o & 0x40) {
		f.txn.ret = SMTP_RET_HDRS;
		f.txn.envid = "env+id=1";
		f.txn.notify = notify;
		f.txn.orcpt = orcpt;
	}
	f.txn.read = body_read;
	f.txn.read_ctx = &f;

	memset(&opts, 0, sizeof(opts));
	opts.helo_name = HELO;
	opts.peer_name = "mx.r.test";
	opts.tls = (enum smtpc_tls)(o & 3);
	opts.verify_report = (o & 4) != 0;
	opts.connect_timeout = 30;
	opts.command_timeout = 30;
	if (opts.tls == SMTPC_TLS_DANE) {
		tlsa.usage = 3;
		tlsa.selector = 1;
		tlsa.mtype = 1;
		tlsa.data = tlsa_data;
		tlsa.len = sizeof(tlsa_data);
		opts.tlsa = &tlsa;
		opts.ntlsa = 1;
	}

	base = event_base_new();
	FUZZ_CHECK(base != NULL, "event_base_new");
	f.c = smtpc_connect(base, (struct sockaddr *)&sun, sun_len, &opts,
	    &ops, &f);
	FUZZ_CHECK(f.c != NULL, "smtpc_connect");
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	FUZZ_CHECK(fd >= 0, "accept");

	spin(base, fd, &f, 2);
	half = size / 2;
	while (size > 0) {
		if (abort_at == 3 && size <= half && !f.failed && !f.quit) {
			/* As the queue does at shutdown: mid-way. */
			f.quit = true;
			smtpc_abort(f.c);
		}
		size_t n = fuzz_chunker_next(&ch, size);
		ssize_t w = write(fd, data, n);

		if (w > 0) {
			data += w;
			size -= (size_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			break;		/* the client closed */
		spin(base, fd, &f, 2);
	}
	shutdown(fd, SHUT_WR);
	/* The client must notice the close and end. */
	for (rounds = 0; rounds < 1000; rounds++) {
		if (event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED |
		    EVENT_BASE_COUNT_ACTIVE) == 0)
			break;
		spin(base, fd, &f, 1);
	}
	FUZZ_CHECK(rounds < 1000, "the client did not end after the "
	    "server closed");
	(void)drain(fd, &f);
	FUZZ_CHECK(!f.in_txn || f.failed || f.quit, "a transaction without "
	    "done(), failed() or an abort");
	if (verbose)
		fprintf(stderr, "sent %zu, done %s, failed %d; the client "
		    "sent %zu bytes:\n%.*s\n", f.sent, f.in_txn ? "no" :
		    "yes", f.failed, f.out.len, (int)f.out.len,
		    f.out.len > 0 ? f.out.data : "");
	check_output(&f);
	close(fd);
	event_base_free(base);
	buf_free(&f.out);
	return 0;
}
