/*
 * smtp_client - the outbound SMTP client state machine.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "dane.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_parse.h"
#include "smtp_client.h"

#define REPLY_LINE_MAX	4096
#define REPLY_MAX	((size_t)64 * 1024)
#define BODY_CHUNK	((size_t)64 * 1024)
#define BODY_HIGH	((size_t)256 * 1024)
#define DATA_BLOCK_TIMEOUT	180	/* RFC 5321 4.5.3.2.5 */
#define FINAL_TIMEOUT		600	/* RFC 5321 4.5.3.2.6 */

enum smtpc_state {
	C_CONNECTING,
	C_GREETING,
	C_EHLO,
	C_HELO,
	C_STARTTLS,
	C_TLS,
	C_READY,
	C_MAIL,		/* waiting for MAIL / RCPT / DATA replies */
	C_BODY,		/* sending the message */
	C_DOT,		/* waiting for the final reply */
	C_RSET,
	C_QUIT,
	C_DEAD,
};

/* The replies a pipelined group expects, in order. */
enum expect {
	X_MAIL,
	X_RCPT,
	X_DATA,
};

struct smtpc {
	struct event_base *base;
	struct bufferevent *bev;
	struct event	*deadline;	/* for the whole reply awaited */
	unsigned	 timeout;	/* its length, seconds */
	int		 fd;
	SSL		*ssl;
	struct smtpc_opts opts;
	char		*helo_name;
	char		*peer_name;
	char		*policy;
	struct dns_tlsa	*tlsa;		/* copies of opts.tlsa */
	size_t		 ntlsa;
	char		*dane_names[SMTPC_DANE_NAMES];
	char		*sni;
	const struct smtpc_ops *ops;
	void		*ctx;
	enum smtpc_state state;
	bool		 tls_up;
	bool		 freeing;
	int		 verified;	/* smtpc_tls_verified() */
	bool		 policy_failed;
	char		 verify_detail[160];
	char		 tls_info[96];
	char		 peer[256];

	/* Extensions from EHLO. */
	bool		 ext_pipelining;
	bool		 ext_starttls;
	bool		 ext_8bitmime;
	bool		 ext_size;
	bool		 ext_dsn;
	bool		 ext_smtputf8;
	uint64_t	 size_limit;

	/* The reply being read. */
	int		 code;
	struct buf	 reply;		/* all lines, joined by spaces */
	size_t		 reply_lines;

	/* The transaction. */
	struct smtpc_txn txn;
	struct smtpc_result res;
	enum expect	*expects;
	size_t		 nexpect;
	size_t		 xpos;
	size_t		 rcpt_i;
	size_t		 accepted;
	bool		 mail_ok;
	uint64_t	 body_off;
	struct smtp_stuff_state stuff;
	struct buf	 chunk;
	struct buf	 out;
};

static SSL_CTX *client_ctx;

int
smtpc_tls_init(const char *ca_file, const char **error_r)
{
	if ((client_ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*error_r = "cannot create the client TLS context";
		return -1;
	}
	SSL_CTX_set_min_proto_version(client_ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(client_ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(client_ctx, SSL_MODE_RELEASE_BUFFERS);
	/* WebPKI roots for the policies that verify (MTA-STS). */
	SSL_CTX_set_default_verify_paths(client_ctx);
	if (ca_file != NULL && SSL_CTX_load_verify_locations(client_ctx,
	    ca_file, NULL) != 1) {
		ERR_clear_error();
		log_warnx("queue: cannot load tls_ca_file %s; only the system "
		    "CA store is trusted", ca_file);
	}
	/* Per connection SSL_dane_enable() turns DANE on (RFC 7672). */
	if (SSL_CTX_dane_enable(client_ctx) <= 0) {
		ERR_clear_error();
		log_warnx("queue: OpenSSL has no DANE support; hosts with TLSA "
		    "records are not delivered to");
	}
	return 0;
}

static const char *
policy_name(const struct smtpc *c)
{
	return c->policy != NULL ? c->policy : "tls";
}

static void smtpc_free(struct smtpc *);
static void on_read(struct bufferevent *, void *);
static void on_write(struct bufferevent *, void *);
static void on_event(struct bufferevent *, short, void *);

static void
fail(struct smtpc *c, bool permanent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct smtpc *c, bool permanent, const char *fmt, ...)
{
	char reason[600];
	va_list ap;

	if (c->state == C_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	c->state = C_DEAD;
	if (c->ops->failed != NULL && !c->freeing)
		c->ops->failed(c, c->ctx, permanent, reason);
	smtpc_free(c);
}

/* The TLS policy was not met: the caller may try another host. */
static void
policy_fail(struct smtpc *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
policy_fail(struct smtpc *c, const char *fmt, ...)
{
	char reason[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	c->policy_failed = true;
	fail(c, false, "%s", reason);
}

/* Without TLS: a failure when TLS is required, else maybe a report. */
static bool
no_tls(struct smtpc *c, const char *why)
{
	if (c->opts.tls != SMTPC_TLS_MAY) {
		policy_fail(c, "%s: %s %s", policy_name(c), c->peer_name, why);
		return false;
	}
	if (c->opts.verify_report) {
		c->verified = -1;
		snprintf(c->verify_detail, sizeof(c->verify_detail), "%s",
		    why);
	}
	return true;
}

static void
send_line(struct smtpc *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
send_line(struct smtpc *c, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_append(&b, "\r\n", 2);
	bufferevent_write(c->bev, b.data, b.len);
	buf_free(&b);
}

/*
 * secs for each read and write, and, unless the message is being sent,
 * for the whole reply awaited (RFC 5321 4.5.3.2: the timeouts are for
 * the reply, so a server that trickles a byte now and then does not hold
 * the connection for ever).  on_read() starts the deadline again for each
 * further reply.
 */
static void
set_timeout(struct smtpc *c, unsigned secs)
{
	struct timeval tv = { secs, 0 };

	bufferevent_set_timeouts(c->bev, &tv, &tv);
	c->timeout = secs;
	if (c->state == C_BODY)
		evtimer_del(c->deadline);
	else
		evtimer_add(c->deadline, &tv);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc *c = arg;

	(void)fd;
	(void)what;
	fail(c, false, "timeout talking to %s", c->peer_name);
}

static void
result_reset(struct smtpc *c)
{
	for (size_t i = 0; i < c->res.n; i++)
		free(c->res.text[i]);
	free(c->res.code);
	free(c->res.text);
	memset(&c->res, 0, sizeof(c->res));
	free(c->expects);
	c->expects = NULL;
	c->nexpect = c->xpos = c->rcpt_i = c->accepted = 0;
}

static void
set_result(struct smtpc *c, size_t i, int code, const char *text)
{
	free(c->res.text[i]);
	c->res.code[i] = code;
	c->res.text[i] = xstrdup(text);
}

static void
parse_ehlo(struct smtpc *c)
{
	/* The reply text holds the lines joined by '\n' here. */
	const char *p = buf_cstr(&c->reply);

	c->ext_pipelining = c->ext_starttls = c->ext_8bitmime = false;
	c->ext_size = c->ext_dsn = c->ext_smtputf8 = false;
	c->size_limit = 0;
	/* The first line names the peer. */
	{
		size_t n = strcspn(p, " \n");

		snprintf(c->peer, sizeof(c->peer), "%.*s", (int)n, p);
	}
	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (strncasecmp(p, "PIPELINING", 10) == 0 &&
		    (p[10] == '\n' || p[10] == '\0' || p[10] == ' '))
			c->ext_pipelining = true;
		else if (strncasecmp(p, "STARTTLS", 8) == 0 &&
		    (p[8] == '\n' || p[8] == '\0' || p[8] == ' '))
			c->ext_starttls = true;
		else if (strncasecmp(p, "8BITMIME", 8) == 0)
			c->ext_8bitmime = true;
		else if (strncasecmp(p, "DSN", 3) == 0 &&
		    (p[3] == '\n' || p[3] == '\0' || p[3] == ' '))
			c->ext_dsn = true;
		else if (strncasecmp(p, "SMTPUTF8", 8) == 0 &&
		    (p[8] == '\n' || p[8] == '\0' || p[8] == ' '))
			c->ext_smtputf8 = true;
		else if (strncasecmp(p, "SIZE", 4) == 0 &&
		    (p[4] == ' ' || p[4] == '\n' || p[4] == '\0')) {
			c->ext_size = true;
			c->size_limit = strtoull(p + 4, NULL, 10);
		}
	}
}

/*
 * The joined reply text, for results and diagnostics: one line of
 * printable ASCII (anything else becomes '?') of at most SMTPC_TEXT_MAX
 * bytes, as it goes into logs, the queue and DSNs (whose lines must stay
 * under RFC 5322's 998).
 */
static const char *
reply_text(struct smtpc *c)
{
	if (c->reply.len > SMTPC_TEXT_MAX)
		buf_truncate(&c->reply, SMTPC_TEXT_MAX);
	for (size_t i = 0; i < c->reply.len; i++) {
		unsigned char ch = (unsigned char)c->reply.data[i];

		if (ch == '\n')
			c->reply.data[i] = ' ';
		else if (ch < 0x20 || ch >= 0x7f)
			c->reply.data[i] = '?';
	}
	return buf_cstr(&c->reply);
}

static void start_tls(struct smtpc *);
static void send_body(struct smtpc *);
static void rcpt_line(struct smtpc *, size_t);

static void
transaction_done(struct smtpc *c)
{
	struct smtpc_result res = c->res;

	c->state = C_READY;
	/* The caller gets the results; we keep ownership until reset. */
	if (c->ops->done != NULL)
		c->ops->done(c, c->ctx, &res);
	if (c->state == C_READY && c->ops->ready != NULL && !c->freeing)
		c->ops->ready(c, c->ctx);
}

static void
send_next_unpipelined(struct smtpc *c)
{
	if (c->xpos >= c->nexpect)
		return;
	switch (c->expects[c->xpos]) {
	case X_RCPT:
		rcpt_line(c, c->rcpt_i);
		break;
	case X_DATA:
		send_line(c, "DATA");
		break;
	default:
		break;
	}
}

/* One complete reply arrived while a transaction runs. */
static void
txn_reply(struct smtpc *c)
{
	const char *text = reply_text(c);
	enum expect x = c->expects[c->xpos++];

	switch (x) {
	case X_MAIL:
		if (c->code / 100 == 2)
			c->mail_ok = true;
		else {
			for (size_t i = 0; i < c->txn.nrcpts; i++)
				set_result(c, i, c->code, text);
		}
		break;
	case X_RCPT:
		if (c->mail_ok) {
			set_result(c, c->rcpt_i, c->code, text);
			if (c->code / 100 == 2)
				c->accepted++;
		}
		c->rcpt_i++;
		break;
	case X_DATA:
		if (c->code == 354) {
			if (c->accepted == 0 || !c->mail_ok) {
				/* RFC 2920 3.1: end the empty data. */
				send_line(c, ".");
				c->state = C_RSET;
				c->xpos = c->nexpect = 0;
				return;
			}
			c->state = C_BODY;
			c->body_off = 0;
			smtp_stuff_init(&c->stuff);
			set_timeout(c, DATA_BLOCK_TIMEOUT);
			send_body(c);
			return;
		}
		/* DATA refused: every accepted recipient shares the reply. */
		for (size_t i = 0; i < c->txn.nrcpts; i++)
			if (c->res.code[i] / 100 == 2)
				set_result(c, i, c->code / 100 == 2 ? 451 :
				    c->code, text);
		send_line(c, "RSET");
		c->state = C_RSET;
		return;
	}
	if (c->xpos >= c->nexpect)
		return;
	if (!c->ext_pipelining) {
		if (!c->mail_ok) {
			/* MAIL failed: nothing more to send; reset. */
			send_line(c, "RSET");
			c->state = C_RSET;
			return;
		}
		if (c->expects[c->xpos] == X_DATA && c->accepted == 0) {
			send_line(c, "RSET");
			c->state = C_RSET;
			return;
		}
		send_next_unpipelined(c);
	}
}

static void
handle_reply(struct smtpc *c)
{
	int code = c->code;

	/*
	 * RFC 5321 3.8: 421 is the server closing the channel; whatever was
	 * under way failed, and nothing more is sent.  (A reply to RSET
	 * still ends its transaction, whose outcomes are known: nothing in
	 * it was accepted.)
	 */
	if (code == 421 && c->state != C_GREETING && c->state != C_RSET &&
	    c->state != C_QUIT) {
		fail(c, false, "%s", reply_text(c));
		return;
	}
	switch (c->state) {
	case C_GREETING:
		if (code != 220) {
			fail(c, false, "greeting: %s", reply_text(c));
			return;
		}
		send_line(c, "EHLO %s", c->helo_name);
		c->state = C_EHLO;
		break;
	case C_EHLO:
		if (code / 100 != 2) {
			send_line(c, "HELO %s", c->helo_name);
			c->state = C_HELO;
			break;
		}
		parse_ehlo(c);
		if (strcasecmp(c->peer, c->helo_name) == 0) {
			fail(c, true, "mail for %s loops back to myself",
			    c->peer_name);
			return;
		}
		if (!c->tls_up && c->ext_starttls && client_ctx != NULL) {
			send_line(c, "STARTTLS");
			c->state = C_STARTTLS;
			break;
		}
		if (!c->tls_up && !no_tls(c, c->ext_starttls ?
		    "offers STARTTLS but TLS is not available here" :
		    "does not offer STARTTLS"))
			return;
		c->state = C_READY;
		if (c->ops->ready != NULL)
			c->ops->ready(c, c->ctx);
		break;
	case C_HELO:
		if (code / 100 != 2) {
			fail(c, false, "HELO: %s", reply_text(c));
			return;
		}
		if (!c->tls_up && !no_tls(c, "speaks only HELO (no STARTTLS)"))
			return;
		c->state = C_READY;
		if (c->ops->ready != NULL)
			c->ops->ready(c, c->ctx);
		break;
	case C_STARTTLS:
		if (code != 220) {
			if (!no_tls(c, "refuses STARTTLS"))
				return;
			/* Opportunistic: go on in plaintext. */
			c->state = C_READY;
			if (c->ops->ready != NULL)
				c->ops->ready(c, c->ctx);
			break;
		}
		start_tls(c);
		break;
	case C_MAIL:
		txn_reply(c);
		break;
	case C_DOT:
		for (size_t i = 0; i < c->txn.nrcpts; i++)
			if (c->res.code[i] / 100 == 2)
				set_result(c, i, code, reply_text(c));
		set_timeout(c, c->opts.command_timeout);
		transaction_done(c);
		break;
	case C_RSET:
		set_timeout(c, c->opts.command_timeout);
		transaction_done(c);
		break;
	case C_QUIT:
		smtpc_free(c);
		break;
	default:
		break;
	}
}

/* Reads replies; returns when more input is needed or c is gone. */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct smtpc *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (c->state != C_DEAD && !c->freeing) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);

		if (line == NULL) {
			if (evbuffer_get_length(in) > REPLY_LINE_MAX)
				fail(c, false, "reply line too long");
			return;
		}
		/* The same limit however the line arrived. */
		if (len > REPLY_LINE_MAX) {
			free(line);
			fail(c, false, "reply line too long");
			return;
		}
		if (len < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' || (len > 3 && line[3] != ' ' &&
		    line[3] != '-')) {
			free(line);
			fail(c, false, "malformed reply from %s", c->peer_name);
			return;
		}
		if (c->reply_lines == 0) {
			buf_reset(&c->reply);
			c->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
			    (line[2] - '0');
		}
		if (c->reply.len + len > REPLY_MAX) {
			free(line);
			fail(c, false, "reply too long");
			return;
		}
		/* EHLO keywords are parsed from the lines; keep them apart. */
		if (c->reply_lines > 0)
			buf_putc(&c->reply, '\n');
		if (c->reply_lines == 0 || c->state == C_EHLO)
			buf_append(&c->reply, c->reply_lines == 0 ? line :
			    line + 4, c->reply_lines == 0 ? len :
			    (len > 4 ? len - 4 : 0));
		else if (len > 4)
			buf_append(&c->reply, line + 4, len - 4);
		c->reply_lines++;
		if (len == 3 || line[3] == ' ') {
			c->reply_lines = 0;
			/* The first line starts with the code; EHLO parsing
			 * wants the name at the start. */
			if (c->state == C_EHLO && c->reply.len >= 4)
				buf_consume(&c->reply, 4);
			free(line);
			handle_reply(c);
			/*
			 * STARTTLS replaced the connection: what else came in
			 * plaintext is not read, or a man in the middle could
			 * add to what the server says over TLS (RFC 3207 5).
			 */
			if (c->bev != bev)
				return;
			if (c->state == C_DEAD || c->freeing)
				continue;
			/* The next reply gets its own deadline; none idle. */
			if (c->state == C_READY || c->state == C_BODY)
				evtimer_del(c->deadline);
			else
				set_timeout(c, c->timeout);
			continue;
		}
		free(line);
	}
}

static void
send_body(struct smtpc *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (c->state == C_BODY && evbuffer_get_length(out) < BODY_HIGH) {
		uint64_t left = c->txn.size - c->body_off;
		size_t n = left > BODY_CHUNK ? BODY_CHUNK : (size_t)left;

		if (n == 0) {
			buf_reset(&c->out);
			smtp_dot_stuff_finish(&c->out, &c->stuff);
			bufferevent_write(c->bev, c->out.data, c->out.len);
			c->state = C_DOT;
			set_timeout(c, FINAL_TIMEOUT);
			return;
		}
		buf_reset(&c->chunk);
		if (c->txn.read(c->txn.read_ctx, c->body_off, n, &c->chunk) <
		    0 || c->chunk.len != n) {
			fail(c, false, "reading the queued message failed");
			return;
		}
		buf_reset(&c->out);
		smtp_dot_stuff(&c->out, c->chunk.data, n, &c->stuff);
		bufferevent_write(c->bev, c->out.data, c->out.len);
		c->body_off += n;
	}
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct smtpc *c = arg;

	if (c->state == C_BODY)
		send_body(c);
}

/* WebPKI: a chain to a trusted root and the MX name (RFC 8461 4.2). */
static bool
webpki_ok(struct smtpc *c)
{
	long vr = SSL_get_verify_result(c->ssl);

	if (SSL_get0_peer_certificate(c->ssl) == NULL)
		snprintf(c->verify_detail, sizeof(c->verify_detail),
		    "no certificate");
	else if (vr != X509_V_OK)
		snprintf(c->verify_detail, sizeof(c->verify_detail),
		    "certificate of %s does not verify: %s", c->peer_name,
		    X509_verify_cert_error_string(vr));
	else {
		c->verified = 1;
		c->verify_detail[0] = '\0';
		return true;
	}
	c->verified = -1;
	return false;
}

/* RFC 7672 3: the chain matches a TLSA record. */
static bool
dane_ok(struct smtpc *c)
{
	long vr = SSL_get_verify_result(c->ssl);
	uint8_t usage = 0, sel, mtype;
	const unsigned char *data;
	size_t dlen;

	c->verified = -1;
	if (SSL_get0_peer_certificate(c->ssl) == NULL) {
		snprintf(c->verify_detail, sizeof(c->verify_detail),
		    "no certificate");
		return false;
	}
	if (vr == X509_V_ERR_DANE_NO_MATCH ||
	    (vr == X509_V_OK && SSL_get0_dane_tlsa(c->ssl, &usage, &sel,
	    &mtype, &data, &dlen) < 0)) {
		snprintf(c->verify_detail, sizeof(c->verify_detail),
		    "certificate does not match TLSA");
		return false;
	}
	if (vr != X509_V_OK) {
		snprintf(c->verify_detail, sizeof(c->verify_detail),
		    "certificate does not verify: %s",
		    X509_verify_cert_error_string(vr));
		return false;
	}
	c->verified = 1;
	snprintf(c->verify_detail, sizeof(c->verify_detail), "%s",
	    dane_usage_name(usage));
	return true;
}

/* After the handshake: false when c failed (the policy was not met). */
static bool
check_certificate(struct smtpc *c)
{
	switch (c->opts.tls) {
	case SMTPC_TLS_DANE:
		if (!dane_ok(c)) {
			policy_fail(c, "%s: %s", policy_name(c),
			    c->verify_detail);
			return false;
		}
		break;
	case SMTPC_TLS_VERIFY:
		if (!webpki_ok(c)) {
			policy_fail(c, "%s: %s", policy_name(c),
			    c->verify_detail);
			return false;
		}
		break;
	case SMTPC_TLS_MAY:
		if (c->opts.verify_report)
			(void)webpki_ok(c);
		break;
	default:
		break;
	}
	return true;
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpc *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == C_CONNECTING) {
			c->state = C_GREETING;
			set_timeout(c, c->opts.command_timeout);
		} else if (c->state == C_TLS) {
			c->tls_up = true;
			snprintf(c->tls_info, sizeof(c->tls_info), "%s/%s",
			    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
			if (!check_certificate(c))
				return;
			send_line(c, "EHLO %s", c->helo_name);
			c->state = C_EHLO;
			set_timeout(c, c->opts.command_timeout);
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		fail(c, false, "timeout talking to %s", c->peer_name);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char ebuf[200] = "";

		if (e != 0)
			ERR_error_string_n(e, ebuf, sizeof(ebuf));
		if (c->state == C_CONNECTING)
			fail(c, false, "cannot connect to %s: %s", c->peer_name,
			    strerror(EVUTIL_SOCKET_ERROR()));
		else if (c->state == C_TLS)
			fail(c, false, "TLS handshake with %s failed%s%s",
			    c->peer_name, ebuf[0] ? ": " : "", ebuf);
		else
			fail(c, false, "connection to %s lost%s%s",
			    c->peer_name, ebuf[0] ? ": " : "", ebuf);
	}
}

/*
 * RFC 7672 3.1, 3.2: the TLSA records as OpenSSL's DANE trust anchors;
 * DANE-EE(3) without name checks, DANE-TA(2) with the reference names.
 */
static bool
dane_setup(struct smtpc *c)
{
	size_t added = 0;

	if (SSL_dane_enable(c->ssl, c->dane_names[0]) <= 0) {
		ERR_clear_error();
		policy_fail(c, "%s: DANE is not available", policy_name(c));
		return false;
	}
	SSL_dane_set_flags(c->ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (int i = 1; i < SMTPC_DANE_NAMES; i++)
		if (c->dane_names[i] != NULL)
			SSL_add1_host(c->ssl, c->dane_names[i]);
	for (size_t i = 0; i < c->ntlsa; i++)
		if (SSL_dane_tlsa_add(c->ssl, c->tlsa[i].usage,
		    c->tlsa[i].selector, c->tlsa[i].mtype, c->tlsa[i].data,
		    c->tlsa[i].len) > 0)
			added++;
	ERR_clear_error();
	if (added == 0) {
		policy_fail(c, "%s: no TLSA record of %s can be used",
		    policy_name(c), c->peer_name);
		return false;
	}
	return true;
}

static void
start_tls(struct smtpc *c)
{
	struct bufferevent *plain = c->bev;

	if ((c->ssl = SSL_new(client_ctx)) == NULL) {
		fail(c, false, "SSL_new failed");
		return;
	}
	SSL_set_tlsext_host_name(c->ssl, c->sni ? c->sni : c->peer_name);
	/* Checked after the handshake, so the log can say why. */
	SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	if (c->opts.tls == SMTPC_TLS_VERIFY || (c->opts.tls == SMTPC_TLS_MAY &&
	    c->opts.verify_report)) {
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		SSL_set1_host(c->ssl, c->peer_name);
	} else if (c->opts.tls == SMTPC_TLS_DANE && !dane_setup(c))
		return;
	/* Nothing learnt before TLS counts (RFC 3207 4.2). */
	c->reply_lines = 0;
	buf_reset(&c->reply);
	c->peer[0] = '\0';
	bufferevent_setcb(plain, NULL, NULL, NULL, NULL);
	bufferevent_disable(plain, EV_READ | EV_WRITE);
	bufferevent_free(plain);
	c->bev = bufferevent_openssl_socket_new(c->base, c->fd, c->ssl,
	    BUFFEREVENT_SSL_CONNECTING, 0);
	if (c->bev == NULL) {
		fail(c, false, "TLS setup failed");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	set_timeout(c, c->opts.command_timeout);
	c->state = C_TLS;
}

static void
smtpc_free_fields(struct smtpc *c)
{
	if (c->deadline != NULL)
		event_free(c->deadline);
	result_reset(c);
	buf_free(&c->reply);
	buf_free(&c->chunk);
	buf_free(&c->out);
	dane_tlsa_free(c->tlsa, c->ntlsa);
	for (int i = 0; i < SMTPC_DANE_NAMES; i++)
		free(c->dane_names[i]);
	free(c->sni);
	free(c->policy);
	free(c->helo_name);
	free(c->peer_name);
	free(c);
}

struct smtpc *
smtpc_connect(struct event_base *base, const struct sockaddr *sa,
    socklen_t salen, const struct smtpc_opts *opts,
    const struct smtpc_ops *ops, void *ctx)
{
	struct smtpc *c = xcalloc(1, sizeof(*c));
	struct timeval tv = { opts->connect_timeout, 0 };

	c->base = base;
	c->opts = *opts;
	c->helo_name = xstrdup(opts->helo_name);
	c->peer_name = xstrdup(opts->peer_name);
	c->opts.helo_name = c->helo_name;
	c->opts.peer_name = c->peer_name;
	c->policy = opts->policy ? xstrdup(opts->policy) : NULL;
	c->opts.policy = c->policy;
	if (opts->tls == SMTPC_TLS_DANE) {
		c->ntlsa = dane_tlsa_filter(opts->tlsa, opts->ntlsa, &c->tlsa);
		for (int i = 0; i < SMTPC_DANE_NAMES; i++)
			c->dane_names[i] = opts->dane_names[i] ?
			    xstrdup(opts->dane_names[i]) : NULL;
		if (c->dane_names[0] == NULL)
			c->dane_names[0] = xstrdup(opts->peer_name);
		if (opts->dane_sni != NULL)
			c->sni = xstrdup(opts->dane_sni);
	}
	c->opts.tlsa = NULL;
	c->opts.ntlsa = 0;
	for (int i = 0; i < SMTPC_DANE_NAMES; i++)
		c->opts.dane_names[i] = NULL;
	c->opts.dane_sni = NULL;
	c->ops = ops;
	c->ctx = ctx;
	c->state = C_CONNECTING;
	c->deadline = evtimer_new(base, deadline_cb, c);
	buf_init(&c->reply);
	buf_init(&c->chunk);
	buf_init(&c->out);
	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd >= 0) {
		int one = 1;

		/*
		 * The message's last piece (".\r\n", the last BDAT chunk) is
		 * a small write after a big one: with Nagle it waits for the
		 * ACK the peer delays by 40 ms, once per message.
		 */
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (c->fd < 0 || (c->bev = bufferevent_socket_new(base, c->fd,
	    0)) == NULL) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		smtpc_free_fields(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, sa, (int)salen) < 0) {
		close(c->fd);
		c->fd = -1;
		bufferevent_free(c->bev);
		smtpc_free_fields(c);
		return NULL;
	}
	return c;
}

/* RFC 3461 4: xtext for ENVID and ORCPT values. */
static void
put_xtext(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 33 || ch > 126 || ch == '+' || ch == '=')
			buf_printf(b, "+%02X", ch);
		else
			buf_putc(b, (char)ch);
	}
}

static void
rcpt_line(struct smtpc *c, size_t i)
{
	struct buf cmd = BUF_INIT;

	buf_printf(&cmd, "RCPT TO:<%s>", c->txn.rcpts[i]);
	if (c->ext_dsn && c->txn.notify != NULL && c->txn.notify[i] != 0) {
		unsigned n = c->txn.notify[i];

		buf_puts(&cmd, " NOTIFY=");
		if (n & SMTP_NOTIFY_NEVER)
			buf_puts(&cmd, "NEVER");
		else {
			bool first = true;

			if (n & SMTP_NOTIFY_SUCCESS) {
				buf_puts(&cmd, "SUCCESS");
				first = false;
			}
			if (n & SMTP_NOTIFY_FAILURE) {
				buf_puts(&cmd, first ? "FAILURE" : ",FAILURE");
				first = false;
			}
			if (n & SMTP_NOTIFY_DELAY)
				buf_puts(&cmd, first ? "DELAY" : ",DELAY");
		}
	}
	if (c->ext_dsn && c->txn.orcpt != NULL && c->txn.orcpt[i] != NULL) {
		const char *semi = strchr(c->txn.orcpt[i], ';');

		if (semi != NULL) {
			buf_printf(&cmd, " ORCPT=%.*s;",
			    (int)(semi - c->txn.orcpt[i]), c->txn.orcpt[i]);
			put_xtext(&cmd, semi + 1);
		}
	}
	send_line(c, "%s", buf_cstr(&cmd));
	buf_free(&cmd);
}

void
smtpc_send(struct smtpc *c, const struct smtpc_txn *t)
{
	struct buf cmd = BUF_INIT;

	PH_ASSERT(c->state == C_READY);
	result_reset(c);
	c->txn = *t;
	c->res.n = t->nrcpts;
	c->res.code = xcalloc(t->nrcpts + 1, sizeof(int));
	c->res.text = xcalloc(t->nrcpts + 1, sizeof(char *));
	for (size_t i = 0; i < t->nrcpts; i++)
		set_result(c, i, 451, "4.4.0 no reply");
	c->expects = xcalloc(t->nrcpts + 2, sizeof(*c->expects));
	c->expects[c->nexpect++] = X_MAIL;
	for (size_t i = 0; i < t->nrcpts; i++)
		c->expects[c->nexpect++] = X_RCPT;
	c->expects[c->nexpect++] = X_DATA;
	c->mail_ok = false;
	c->res.dsn_passed = c->ext_dsn;
	set_timeout(c, c->opts.command_timeout);
	if (t->smtputf8 && !c->ext_smtputf8) {
		/* RFC 6531 3.2: such a message can't be sent here. */
		for (size_t i = 0; i < t->nrcpts; i++)
			set_result(c, i, 553, "5.6.7 the receiving server does "
			    "not support SMTPUTF8, which this message needs");
		send_line(c, "NOOP");
		c->state = C_RSET;
		return;
	}
	c->state = C_MAIL;
	buf_printf(&cmd, "MAIL FROM:<%s>", t->sender);
	if (c->ext_size)
		buf_printf(&cmd, " SIZE=%llu", (unsigned long long)t->size);
	if (c->ext_8bitmime && t->eightbit)
		buf_puts(&cmd, " BODY=8BITMIME");
	if (c->ext_smtputf8 && t->smtputf8)
		buf_puts(&cmd, " SMTPUTF8");
	if (c->ext_dsn && t->ret != 0)
		buf_puts(&cmd, t->ret == SMTP_RET_FULL ? " RET=FULL" :
		    " RET=HDRS");
	if (c->ext_dsn && t->envid != NULL) {
		buf_puts(&cmd, " ENVID=");
		put_xtext(&cmd, t->envid);
	}
	send_line(c, "%s", buf_cstr(&cmd));
	buf_free(&cmd);
	if (c->ext_pipelining) {
		/* RFC 2920: MAIL, every RCPT and DATA in one go. */
		for (size_t i = 0; i < t->nrcpts; i++)
			rcpt_line(c, i);
		send_line(c, "DATA");
	}
}

void
smtpc_quit(struct smtpc *c)
{
	c->freeing = true;
	if (c->state == C_READY && c->bev != NULL) {
		send_line(c, "QUIT");
		c->state = C_QUIT;
		set_timeout(c, 10);
		return;
	}
	smtpc_free(c);
}

void
smtpc_abort(struct smtpc *c)
{
	c->freeing = true;
	smtpc_free(c);
}

static void
free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc *c = arg;

	if (c->bev != NULL) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(c->bev);
	}
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	smtpc_free_fields(c);
}

static void
smtpc_free(struct smtpc *c)
{
	/* Never inside our own callbacks' stack: from the loop. */
	evtimer_del(c->deadline);
	if (c->bev != NULL) {
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	}
	c->freeing = true;
	c->state = C_DEAD;
	event_base_once(c->base, -1, EV_TIMEOUT, free_cb, c,
	    &(struct timeval){ 0, 0 });
}

const char *
smtpc_tls_info(const struct smtpc *c)
{
	return c->tls_info;
}

const char *
smtpc_peer(const struct smtpc *c)
{
	return c->peer[0] ? c->peer : c->peer_name;
}

int
smtpc_tls_verified(const struct smtpc *c, const char **detail_r)
{
	*detail_r = c->verify_detail;
	return c->verified;
}

bool
smtpc_policy_failed(const struct smtpc *c)
{
	return c->policy_failed;
}
