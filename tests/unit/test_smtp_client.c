/*
 * test_smtp_client - the outbound SMTP client (queue/smtp_client.c)
 * against scripted servers on loopback, each a thread with blocking
 * sockets and OpenSSL for STARTTLS:
 *  - a transaction with PIPELINING (MAIL, every RCPT and DATA in one go)
 *    and without (one command per reply): per-recipient results, the
 *    body dot-stuffed and ended by CRLF.CRLF; reply texts made one line
 *    of printable ASCII and cut at SMTPC_TEXT_MAX;
 *  - STARTTLS: what the server (or a man in the middle) sends in
 *    plaintext after its 220 must not count as said over TLS (RFC 3207
 *    4.2, 5): neither a peer name nor an extension of it is used;
 *  - EHLO refused after TLS: HELO over TLS meets a TLS-requiring policy;
 *  - a malformed reply, or a reply line over the limit (also when it
 *    arrives in one piece), fails the connection;
 *  - a 421 in a transaction ends the session (RFC 5321 3.8): the
 *    connection fails with its text and nothing more is sent;
 *  - a reply trickled in a byte at a time, each read within the timeout,
 *    still times out as a whole (RFC 5321 4.5.3.2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "core/buf.h"
#include "queue/smtp_client.h"
#include "tls/tls.h"

/* The server's end of one connection. */
struct peer {
	int		 fd;
	SSL		*ssl;
	char		 sent[8192];	/* what the client sent, lines */
	size_t		 sent_len;
	bool		 broken;	/* a read failed or timed out */
};

struct server {
	int		 lfd;
	struct sockaddr_in sa;
	void		(*script)(struct peer *);
	struct peer	 peer;
	pthread_t	 th;
};

static SSL_CTX *server_ctx;
static unsigned command_timeout = 10;	/* seconds, for the client */
static char tmpdir[] = "/tmp/test_smtp_client.XXXXXX";

static void
p_send(struct peer *p, const char *s)
{
	size_t len = strlen(s);

	/* A peer that has gone away shows in what the test reads next. */
	if (p->ssl != NULL)
		(void)SSL_write(p->ssl, s, (int)len);
	else if (write(p->fd, s, len) != (ssize_t)len)
		p->broken = true;
}

/* One line without its CRLF into line; false at EOF or timeout. */
static bool
p_readline(struct peer *p, char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		char ch;
		ssize_t r = p->ssl != NULL ? SSL_read(p->ssl, &ch, 1) :
		    read(p->fd, &ch, 1);

		if (r != 1) {
			p->broken = true;
			return false;
		}
		if (p->sent_len + 1 < sizeof(p->sent))
			p->sent[p->sent_len++] = ch;
		if (ch == '\n')
			break;
		if (n + 1 < size)
			line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return true;
}

/* Reads a line and checks it. */
static void
p_expect(struct peer *p, const char *want)
{
	char line[1024];

	if (!p_readline(p, line, sizeof(line)) || strcmp(line, want) != 0)
		p->broken = true;
}

static void
p_starttls(struct peer *p)
{
	p->ssl = SSL_new(server_ctx);
	SSL_set_fd(p->ssl, p->fd);
	if (SSL_accept(p->ssl) != 1)
		p->broken = true;
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	struct timeval tv = { 10, 0 };

	s->peer.fd = accept(s->lfd, NULL, NULL);
	if (s->peer.fd < 0) {
		s->peer.broken = true;
		return NULL;
	}
	/* A client that waits where it should send fails, not hangs. */
	setsockopt(s->peer.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	s->script(&s->peer);
	if (s->peer.ssl != NULL) {
		SSL_shutdown(s->peer.ssl);
		SSL_free(s->peer.ssl);
	}
	close(s->peer.fd);
	return NULL;
}

static void
server_start(struct server *s, void (*script)(struct peer *))
{
	socklen_t len = sizeof(s->sa);

	memset(s, 0, sizeof(*s));
	s->script = script;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	s->sa.sin_family = AF_INET;
	s->sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&s->sa,
	    sizeof(s->sa)), 0);
	assert_int_equal(listen(s->lfd, 1), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&s->sa, &len),
	    0);
	assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void
server_join(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* -- the client ------------------------------------------------------- */

#define BODY	"Subject: t\r\n\r\n.leading dot\r\nline\r\n"

struct client {
	const struct smtpc_txn *txn;	/* sent at the first ready */
	int		 readies;
	char		 peer_at_ready[256];
	char		 tls_info[96];
	int		 codes[8];
	char		 texts[8][128];
	char		 text0[1024];	/* the first result, whole */
	size_t		 nres;
	bool		 done;
	bool		 failed;
	struct timespec	 failed_at;
	char		 reason[600];
};

static int
body_read(void *ctx, uint64_t off, size_t len, struct buf *out)
{
	(void)ctx;
	if (off + len > strlen(BODY))
		return -1;
	buf_append(out, BODY + off, len);
	return 0;
}

static void
on_ready(struct smtpc *c, void *arg)
{
	struct client *cl = arg;

	if (cl->readies++ == 0) {
		snprintf(cl->peer_at_ready, sizeof(cl->peer_at_ready), "%s",
		    smtpc_peer(c));
		snprintf(cl->tls_info, sizeof(cl->tls_info), "%s",
		    smtpc_tls_info(c));
		if (cl->txn != NULL) {
			smtpc_send(c, cl->txn);
			return;
		}
	}
	smtpc_quit(c);
}

static void
on_done(struct smtpc *c, void *arg, const struct smtpc_result *res)
{
	struct client *cl = arg;

	(void)c;
	cl->done = true;
	cl->nres = res->n;
	if (res->n > 0)
		snprintf(cl->text0, sizeof(cl->text0), "%s", res->text[0]);
	for (size_t i = 0; i < res->n && i < 8; i++) {
		cl->codes[i] = res->code[i];
		snprintf(cl->texts[i], sizeof(cl->texts[i]), "%s",
		    res->text[i]);
	}
}

static void
on_failed(struct smtpc *c, void *arg, bool permanent, const char *reason)
{
	struct client *cl = arg;

	(void)c;
	(void)permanent;
	cl->failed = true;
	clock_gettime(CLOCK_MONOTONIC, &cl->failed_at);
	snprintf(cl->reason, sizeof(cl->reason), "%s", reason);
}

static const struct smtpc_ops ops = { on_ready, on_done, on_failed };

/* Runs one connection to a server playing script. */
static void
run(void (*script)(struct peer *), enum smtpc_tls tls, struct client *cl,
    struct peer *peer_r)
{
	struct event_base *base = event_base_new();
	struct smtpc_opts opts;
	struct server s;

	memset(&opts, 0, sizeof(opts));
	opts.helo_name = "client.test";
	opts.peer_name = "mx.test";
	opts.tls = tls;
	opts.connect_timeout = 10;
	opts.command_timeout = command_timeout;
	server_start(&s, script);
	assert_non_null(smtpc_connect(base, (struct sockaddr *)&s.sa,
	    sizeof(s.sa), &opts, &ops, cl));
	event_base_dispatch(base);
	server_join(&s);
	event_base_free(base);
	*peer_r = s.peer;
}

/* -- transactions ------------------------------------------------------ */

static const char *const rcpts[] = { "a@r.test", "bad@r.test", "b@r.test" };

static const struct smtpc_txn txn3 = {
	.sender = "s@client.test",
	.rcpts = rcpts,
	.nrcpts = 3,
	.size = sizeof(BODY) - 1,
	.read = body_read,
};

static void
greet(struct peer *p, const char *ehlo_reply)
{
	p_send(p, "220 mx.test ESMTP\r\n");
	p_expect(p, "EHLO client.test");
	p_send(p, ehlo_reply);
}

static void
body_and_quit(struct peer *p)
{
	p_expect(p, "Subject: t");
	p_expect(p, "");
	p_expect(p, "..leading dot");
	p_expect(p, "line");
	p_expect(p, ".");
	p_send(p, "250 2.0.0 queued as X1\r\n");
	p_expect(p, "QUIT");
	p_send(p, "221 bye\r\n");
}

static void
script_pipelined(struct peer *p)
{
	greet(p, "250-mx.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
	/* Everything up to DATA before a single reply. */
	p_expect(p, "MAIL FROM:<s@client.test> SIZE=34");
	p_expect(p, "RCPT TO:<a@r.test>");
	p_expect(p, "RCPT TO:<bad@r.test>");
	p_expect(p, "RCPT TO:<b@r.test>");
	p_expect(p, "DATA");
	p_send(p, "250 ok\r\n250 ok a\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n"
	    "250 ok b\r\n354 go\r\n");
	body_and_quit(p);
}

static void
script_lockstep(struct peer *p)
{
	greet(p, "250 mx.test\r\n");
	p_expect(p, "MAIL FROM:<s@client.test>");
	p_send(p, "250 ok\r\n");
	p_expect(p, "RCPT TO:<a@r.test>");
	p_send(p, "250 ok a\r\n");
	p_expect(p, "RCPT TO:<bad@r.test>");
	p_send(p, "550 5.1.1 no such user\r\n");
	p_expect(p, "RCPT TO:<b@r.test>");
	p_send(p, "250 ok b\r\n");
	p_expect(p, "DATA");
	p_send(p, "354 go\r\n");
	body_and_quit(p);
}

static void
check_txn3(const struct client *cl, const struct peer *p)
{
	assert_false(p->broken);
	assert_false(cl->failed);
	assert_true(cl->done);
	assert_int_equal(cl->nres, 3);
	assert_int_equal(cl->codes[0], 250);
	assert_string_equal(cl->texts[0], "250 2.0.0 queued as X1");
	assert_int_equal(cl->codes[1], 550);
	assert_int_equal(cl->codes[2], 250);
	assert_string_equal(cl->texts[2], "250 2.0.0 queued as X1");
	assert_int_equal(cl->readies, 2);
}

static void
test_pipelined(void **state)
{
	struct client cl = { .txn = &txn3 };
	struct peer p;

	(void)state;
	run(script_pipelined, SMTPC_TLS_MAY, &cl, &p);
	check_txn3(&cl, &p);
	assert_string_equal(cl.peer_at_ready, "mx.test");
	/* The lines of a multi-line reply are joined. */
	assert_string_equal(cl.texts[1], "550-5.1.1 no such 5.1.1 user");
}

static void
test_lockstep(void **state)
{
	struct client cl = { .txn = &txn3 };
	struct peer p;

	(void)state;
	run(script_lockstep, SMTPC_TLS_MAY, &cl, &p);
	check_txn3(&cl, &p);
	assert_string_equal(cl.texts[1], "550 5.1.1 no such user");
}

static void
script_dirty_reply(struct peer *p)
{
	char line[1200];

	greet(p, "250 mx.test\r\n");
	p_expect(p, "MAIL FROM:<s@client.test>");
	p_send(p, "250 ok\r\n");
	p_expect(p, "RCPT TO:<a@r.test>");
	/* Control characters, 8-bit, and more than SMTPC_TEXT_MAX. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "550 5.1.1 a\x01" "b\x1b[31mc\xc3\xa9", 21);
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	p_send(p, "550-5.1.1 first\r\n");
	p_send(p, line);
	p_expect(p, "RSET");
	p_send(p, "250 reset\r\n");
	p_expect(p, "QUIT");
	p_send(p, "221 bye\r\n");
}

static const struct smtpc_txn txn1 = {
	.sender = "s@client.test",
	.rcpts = rcpts,
	.nrcpts = 1,
	.size = sizeof(BODY) - 1,
	.read = body_read,
};

/* Result texts go into logs, the queue and DSNs: one printable line. */
static void
test_reply_text_cleaned(void **state)
{
	struct client cl = { .txn = &txn1 };
	struct peer p;
	char want[SMTPC_TEXT_MAX + 1];

	(void)state;
	run(script_dirty_reply, SMTPC_TLS_MAY, &cl, &p);
	assert_false(p.broken);
	assert_true(cl.done);
	assert_int_equal(cl.codes[0], 550);
	memset(want, 'x', SMTPC_TEXT_MAX);
	want[SMTPC_TEXT_MAX] = '\0';
	memcpy(want, "550-5.1.1 first 5.1.1 a?b?[31mc??", 33);
	assert_int_equal(strlen(cl.text0), SMTPC_TEXT_MAX);
	assert_string_equal(cl.text0, want);
}

static void
script_421(struct peer *p)
{
	char line[256];
	size_t before;

	greet(p, "250 mx.test\r\n");
	p_expect(p, "MAIL FROM:<s@client.test>");
	p_send(p, "250 ok\r\n");
	p_expect(p, "RCPT TO:<a@r.test>");
	p_send(p, "421 4.3.2 going down\r\n");
	/* Broken if anything (RSET, the next RCPT, QUIT) follows. */
	before = p->sent_len;
	(void)p_readline(p, line, sizeof(line));
	p->broken = p->sent_len != before;
}

static void
test_421_ends_session(void **state)
{
	struct client cl = { .txn = &txn3 };
	struct peer p;

	(void)state;
	run(script_421, SMTPC_TLS_MAY, &cl, &p);
	assert_false(p.broken);
	assert_true(cl.failed);
	assert_false(cl.done);
	assert_string_equal(cl.reason, "421 4.3.2 going down");
}

/* -- STARTTLS ---------------------------------------------------------- */

static void
script_injection(struct peer *p)
{
	greet(p, "250-mx.test\r\n250 STARTTLS\r\n");
	p_expect(p, "STARTTLS");
	/* One write: the 220 and what an attacker adds in plaintext. */
	p_send(p, "220 2.0.0 go ahead\r\n250-injected.test\r\n250-SMTPUTF8\r\n");
	p_starttls(p);
	p_expect(p, "EHLO client.test");
	p_send(p, "250-real.test\r\n250 PIPELINING\r\n");
	/* The message needs SMTPUTF8, which the server did not offer. */
	p_expect(p, "NOOP");
	p_send(p, "250 ok\r\n");
	p_expect(p, "QUIT");
	p_send(p, "221 bye\r\n");
}

static const struct smtpc_txn txn_utf8 = {
	.sender = "s@client.test",
	.rcpts = rcpts,
	.nrcpts = 1,
	.size = sizeof(BODY) - 1,
	.smtputf8 = true,
	.read = body_read,
};

static void
test_starttls_plaintext_ignored(void **state)
{
	struct client cl = { .txn = &txn_utf8 };
	struct peer p;

	(void)state;
	run(script_injection, SMTPC_TLS_ENCRYPT, &cl, &p);
	assert_false(p.broken);
	assert_false(cl.failed);
	assert_string_equal(cl.peer_at_ready, "real.test");
	assert_true(strncmp(cl.tls_info, "TLSv1.", 6) == 0);
	assert_true(cl.done);
	assert_int_equal(cl.codes[0], 553);
	assert_null(strstr(p.sent, "MAIL FROM"));
}

static void
script_helo_over_tls(struct peer *p)
{
	greet(p, "250-mx.test\r\n250 STARTTLS\r\n");
	p_expect(p, "STARTTLS");
	p_send(p, "220 go ahead\r\n");
	p_starttls(p);
	p_expect(p, "EHLO client.test");
	p_send(p, "502 5.5.1 no EHLO here\r\n");
	p_expect(p, "HELO client.test");
	p_send(p, "250 mx.test\r\n");
	p_expect(p, "QUIT");
	p_send(p, "221 bye\r\n");
}

static void
test_helo_over_tls(void **state)
{
	struct client cl = { 0 };
	struct peer p;

	(void)state;
	run(script_helo_over_tls, SMTPC_TLS_ENCRYPT, &cl, &p);
	assert_false(p.broken);
	assert_false(cl.failed);
	assert_int_equal(cl.readies, 1);
}

static void
script_malformed(struct peer *p)
{
	p_send(p, "22O mx.test ESMTP\r\n");
	p_expect(p, "EHLO client.test");	/* not sent: EOF */
}

static void
test_malformed_reply(void **state)
{
	struct client cl = { 0 };
	struct peer p;

	(void)state;
	run(script_malformed, SMTPC_TLS_MAY, &cl, &p);
	assert_true(cl.failed);
	assert_string_equal(cl.reason, "malformed reply from mx.test");
	assert_int_equal(cl.readies, 0);
	assert_int_equal(p.sent_len, 0);
}

static void
script_long_line(struct peer *p)
{
	char line[6000];

	/* Over the limit in one piece: refused as when it comes in parts. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "220 ", 4);
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	p_send(p, line);
	p_expect(p, "EHLO client.test");	/* not sent: EOF */
}

static void
test_long_reply_line(void **state)
{
	struct client cl = { 0 };
	struct peer p;

	(void)state;
	run(script_long_line, SMTPC_TLS_MAY, &cl, &p);
	assert_true(cl.failed);
	assert_string_equal(cl.reason, "reply line too long");
	assert_int_equal(p.sent_len, 0);
}

static void
script_trickle(struct peer *p)
{
	const char *greeting = "220 mx.test ESMTP\r\n";

	/*
	 * A byte every 0.3 s: each read in time, the reply never.  Stops
	 * once the client has closed.
	 */
	for (const char *q = greeting; *q != '\0'; q++) {
		struct timespec ts = { 0, 300 * 1000 * 1000 };

		if (write(p->fd, q, 1) != 1)
			break;
		nanosleep(&ts, NULL);
	}
}

static void
test_trickled_reply_times_out(void **state)
{
	struct client cl = { 0 };
	struct peer p;
	struct timespec t0;

	(void)state;
	command_timeout = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run(script_trickle, SMTPC_TLS_MAY, &cl, &p);
	command_timeout = 10;
	assert_true(cl.failed);
	assert_string_equal(cl.reason, "timeout talking to mx.test");
	assert_int_equal(cl.readies, 0);
	/* The greeting would take 5.7 s to trickle in. */
	assert_true(cl.failed_at.tv_sec - t0.tv_sec < 5);
}

static int
setup(void **state)
{
	char crt[64], key[64];
	const char *err;

	(void)state;
	/* As the server does: a closed peer is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(crt, sizeof(crt), "%s/c.crt", tmpdir);
	snprintf(key, sizeof(key), "%s/c.key", tmpdir);
	if (tls_make_selfsigned("mx.test", crt, key, &err) < 0 ||
	    smtpc_tls_init(NULL, &err) < 0)
		return -1;
	server_ctx = SSL_CTX_new(TLS_server_method());
	if (SSL_CTX_use_certificate_file(server_ctx, crt,
	    SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(server_ctx, key, SSL_FILETYPE_PEM) != 1)
		return -1;
	unlink(crt);
	unlink(key);
	rmdir(tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	SSL_CTX_free(server_ctx);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_lockstep),
		cmocka_unit_test(test_reply_text_cleaned),
		cmocka_unit_test(test_421_ends_session),
		cmocka_unit_test(test_starttls_plaintext_ignored),
		cmocka_unit_test(test_helo_over_tls),
		cmocka_unit_test(test_malformed_reply),
		cmocka_unit_test(test_long_reply_line),
		cmocka_unit_test(test_trickled_reply_times_out),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
