/*
 * smtp_session - the SMTP server side of a connection (RFC 5321), for the
 * MX port (25) and the submission ports (587/2525 with STARTTLS, 465 with
 * implicit TLS; RFC 6409, 8314).
 *
 * One command table says when each command may run; smtp_process() reads
 * complete lines from the connection and runs them in order (PIPELINING,
 * RFC 2920: replies are queued and flushed when the input runs dry).
 * DATA is streamed through the dot-unstuffing reader into a spool and the
 * MIME parser at once; the durable commit runs on a worker and only then is
 * "250" sent (DESIGN.md "Mail flow").
 *
 * Limits are enforced while reading: command line length (the excess is
 * skipped, then "500"), message size (counted as it arrives, the rest is
 * swallowed, then "552"), recipients per message, bad commands per session.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#include "auth/auth.h"
#include "auth/auth_sasl.h"
#include "auth/sasl.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/spool.h"
#include "core/util.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "mime/mime.h"
#include "server.h"
#include "smtp_data.h"
#include "smtp_parse.h"
#include "store/store.h"

enum smtp_state {
	SMTP_CMD,		/* reading commands */
	SMTP_DATA,		/* reading the message after 354 */
	SMTP_AUTH,		/* reading SASL responses after 334 */
	SMTP_BUSY,		/* a worker job or auth check runs */
};

struct smtp_rcpt {
	char	 addr[SMTP_PATH_MAX + 1];
};

struct smtp_session {
	struct conn	*conn;
	enum smtp_state	 state;
	bool		 submission;	/* 587/2525/465: AUTH required */
	bool		 helo_seen;
	bool		 esmtp;
	char		 helo[SMTP_DOMAIN_MAX + 1];
	bool		 authenticated;
	int64_t		 auth_account;
	char		*auth_user;
	struct auth_sasl *sasl;		/* AUTH exchange in progress */
	bool		 skip_line;	/* discarding an over-long line */
	unsigned	 errors;
	bool		 quit;

	/* The transaction. */
	bool		 in_tx;
	char		 mail_from[SMTP_PATH_MAX + 1];
	uint64_t	 declared_size;	/* MAIL FROM SIZE=, 0 if none */
	struct smtp_rcpt *rcpts;
	size_t		 nrcpts;
	int64_t		*accounts;	/* local accounts, deduplicated */
	size_t		 naccounts;
	struct buf	 remote;	/* remote recipients, NUL-separated */
	size_t		 nremote;

	/* DATA. */
	struct smtp_data_reader dr;
	struct spool	 spool;
	struct mime_parser *mp;
	bool		 too_big;
	bool		 write_error;
	char		 qid[ID_HEX_LEN + 1];
};

/* A delivery handed to a worker. */
struct smtp_delivery {
	struct smtp_session *s;
	struct conn	*conn;
	struct spool	 spool;
	struct mime_part *mime;
	int64_t		*accounts;
	size_t		 naccounts;
	struct buf	 remote;
	size_t		 nremote;
	char		 mail_from[SMTP_PATH_MAX + 1];
	char		 qid[ID_HEX_LEN + 1];
	int		 rc;
	const char	*error;
};

static void smtp_process(struct smtp_session *);

static const char *
hostname(void)
{
	return srv->cfg->hostname;
}

static void
reply(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	conn_write(s->conn, line, (size_t)n);
}

static void
tx_reset(struct smtp_session *s)
{
	s->in_tx = false;
	s->mail_from[0] = '\0';
	s->declared_size = 0;
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = 0;
	free(s->accounts);
	s->accounts = NULL;
	s->naccounts = 0;
	buf_reset(&s->remote);
	s->nremote = 0;
	spool_reset(&s->spool);
	if (s->mp != NULL) {
		struct mime_part *p = mime_parser_finish(&s->mp);

		mime_part_free(&p);
	}
	s->too_big = false;
	s->write_error = false;
}

static bool
bad_command(struct smtp_session *s)
{
	if (++s->errors >= srv->cfg->max_bad_commands) {
		reply(s, "421 4.7.0 %s Error: too many errors", hostname());
		conn_close(s->conn, "too many errors");
		return true;
	}
	return false;
}

static void
helo_accept(struct smtp_session *s, const char *name, bool ehlo)
{
	struct buf mechs = BUF_INIT;

	tx_reset(s);
	snprintf(s->helo, sizeof(s->helo), "%s", name);
	s->helo_seen = true;
	s->esmtp = ehlo;
	if (!ehlo) {
		reply(s, "250 %s", hostname());
		return;
	}
	reply(s, "250-%s", hostname());
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %llu", (unsigned long long)srv->cfg->message_size);
	if (!s->conn->tls)
		reply(s, "250-STARTTLS");
	/* No AUTH at all before TLS (RFC 8314), unless loopback is trusted. */
	if (s->submission && !s->authenticated &&
	    server_plaintext_ok(s->conn)) {
		sasl_mech_list(&mechs, true);
		if (mechs.len > 0)
			reply(s, "250-AUTH %s", buf_cstr(&mechs));
		buf_free(&mechs);
	}
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250 8BITMIME");
}

/* helo_strict: the name given on port 25 must resolve (off the loop). */
struct helo_check {
	struct smtp_session *s;
	struct conn	*conn;
	char		 name[SMTP_DOMAIN_MAX + 1];
	bool		 ehlo;
	bool		 ok;
};

static void
helo_check_work(void *arg)
{
	struct helo_check *h = arg;
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	h->ok = getaddrinfo(h->name, NULL, &hints, &res) == 0;
	if (res != NULL)
		freeaddrinfo(res);
}

static void
helo_check_done(void *arg)
{
	struct helo_check *h = arg;
	struct conn *c = h->conn;
	struct smtp_session *s = h->s;

	if (!c->closing) {
		s->state = SMTP_CMD;
		if (h->ok)
			helo_accept(s, h->name, h->ehlo);
		else {
			log_info("s=%s smtp helo rejected name=%s reason=\"does "
			    "not resolve\"", c->sid, h->name);
			reply(s, "550 5.7.1 <%s>: Helo command rejected: Host "
			    "not found", h->name);
		}
		smtp_process(s);
	}
	free(h);
	conn_release(c);
}

static void
cmd_helo(struct smtp_session *s, const struct smtp_cmd *cmd, bool ehlo)
{
	char name[SMTP_DOMAIN_MAX + 1];

	if (smtp_parse_helo_arg(cmd->arg, cmd->arg_len, name) < 0) {
		reply(s, "501 5.5.2 <%.*s>: Helo command rejected: need "
		    "fully-qualified hostname or address literal",
		    (int)(cmd->arg_len > 100 ? 100 : cmd->arg_len), cmd->arg);
		bad_command(s);
		return;
	}
	if (srv->cfg->helo_strict && !s->submission && name[0] != '[') {
		struct helo_check *h;

		if (strchr(name, '.') == NULL ||
		    strcasecmp(name, "localhost") == 0 ||
		    strcasecmp(name, "localhost.localdomain") == 0) {
			reply(s, "550 5.7.1 <%s>: Helo command rejected: need "
			    "fully-qualified hostname", name);
			bad_command(s);
			return;
		}
		h = xcalloc(1, sizeof(*h));
		h->s = s;
		h->conn = s->conn;
		h->ehlo = ehlo;
		snprintf(h->name, sizeof(h->name), "%s", name);
		s->state = SMTP_BUSY;
		conn_hold(s->conn);
		worker_submit(helo_check_work, helo_check_done, h);
		return;
	}
	helo_accept(s, name, ehlo);
}

static void
cmd_starttls(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (s->conn->tls) {
		reply(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (cmd->arg_len > 0) {
		reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	tx_reset(s);
	s->helo_seen = false;
	s->esmtp = false;
	s->helo[0] = '\0';
	conn_starttls(s->conn);
}

static void
sasl_challenge(void *ctx, const char *b64)
{
	struct smtp_session *s = ctx;

	s->state = SMTP_AUTH;
	reply(s, "334 %s", b64);
}

static void
sasl_done(void *ctx, const struct auth_result *res)
{
	struct smtp_session *s = ctx;

	auth_sasl_free(&s->sasl);
	s->state = SMTP_CMD;
	if (res->ok && res->allowed) {
		s->authenticated = true;
		s->auth_account = res->account_id;
		s->conn->account = res->account_id;
		free(s->auth_user);
		s->auth_user = xstrdup(res->address);
		reply(s, "235 2.7.0 Authentication successful");
	} else if (res->ok) {
		reply(s, "535 5.7.1 %s", res->refusal);
	} else {
		reply(s, "535 5.7.8 Error: authentication failed");
		if (bad_command(s))
			return;
	}
	smtp_process(s);
}

static void
sasl_aborted(void *ctx, bool cancelled, const char *error)
{
	struct smtp_session *s = ctx;

	auth_sasl_free(&s->sasl);
	s->state = SMTP_CMD;
	if (cancelled)
		reply(s, "501 5.7.0 Authentication aborted");
	else
		reply(s, "501 5.5.2 Error: %s", error);
}

static const struct auth_sasl_ops smtp_sasl_ops = {
	sasl_challenge, sasl_done, sasl_aborted,
};

static void
cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const char *sp;
	char mech[32];
	size_t mlen;

	if (!s->submission) {
		reply(s, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (!s->esmtp) {
		reply(s, "503 5.5.1 Error: send EHLO first");
		return;
	}
	if (s->authenticated) {
		reply(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->in_tx) {
		reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	sp = memchr(cmd->arg, ' ', cmd->arg_len);
	mlen = sp ? (size_t)(sp - cmd->arg) : cmd->arg_len;
	if (mlen == 0 || mlen >= sizeof(mech)) {
		reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return;
	}
	memcpy(mech, cmd->arg, mlen);
	mech[mlen] = '\0';
	if (!server_plaintext_ok(s->conn)) {
		reply(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	if ((s->sasl = auth_sasl_new(s->conn, mech, &smtp_sasl_ops,
	    s)) == NULL) {
		reply(s, "504 5.5.4 Error: authentication mechanism not "
		    "supported");
		return;
	}
	s->state = SMTP_AUTH;
	if (sp != NULL) {
		const char *ir = sp + 1;

		auth_sasl_input(s->sasl, ir, cmd->arg_len -
		    (size_t)(ir - cmd->arg));
	} else
		auth_sasl_input(s->sasl, NULL, 0);
}

static bool
need_auth(struct smtp_session *s)
{
	if (!s->submission || s->authenticated)
		return false;
	if (!s->conn->tls && !server_plaintext_ok(s->conn))
		reply(s, "530 5.7.0 Must issue a STARTTLS command first");
	else
		reply(s, "530 5.7.0 Authentication required");
	return true;
}

static void
cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_parse_opts opts = { false };
	struct smtp_path path;
	const char *err;

	if (!s->helo_seen) {
		reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (need_auth(s))
		return;
	if (s->in_tx) {
		reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (smtp_parse_mail_from(cmd->arg, cmd->arg_len, &opts, &path,
	    &err) < 0) {
		reply(s, "%s", err);
		bad_command(s);
		return;
	}
	for (size_t i = 0; i < path.nparams; i++) {
		const struct smtp_param *p = &path.params[i];

		if (strcmp(p->keyword, "SIZE") == 0) {
			uint64_t size;

			if (smtp_param_size(p, &size) < 0) {
				reply(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			if (size > srv->cfg->message_size) {
				reply(s, "552 5.3.4 Message size exceeds "
				    "fixed limit");
				return;
			}
			s->declared_size = size;
		} else if (strcmp(p->keyword, "BODY") == 0) {
			enum smtp_body body;

			if (smtp_param_body(p, &body) < 0 ||
			    body == SMTP_BODY_BINARYMIME) {
				reply(s, "501 5.5.4 Unsupported BODY "
				    "parameter");
				return;
			}
		} else {
			reply(s, "555 5.5.4 Unsupported option: %s",
			    p->keyword);
			return;
		}
	}
	snprintf(s->mail_from, sizeof(s->mail_from), "%s", path.addr);
	s->in_tx = true;
	reply(s, "250 2.1.0 Ok");
}

static void
add_account(struct smtp_session *s, int64_t id)
{
	for (size_t i = 0; i < s->naccounts; i++)
		if (s->accounts[i] == id)
			return;
	s->accounts = xreallocarray(s->accounts, s->naccounts + 1,
	    sizeof(*s->accounts));
	s->accounts[s->naccounts++] = id;
}

static void
add_remote(struct smtp_session *s, const char *addr)
{
	const char *p = s->remote.data;

	for (size_t i = 0; i < s->nremote; i++) {
		if (strcasecmp(p, addr) == 0)
			return;
		p += strlen(p) + 1;
	}
	buf_append(&s->remote, addr, strlen(addr) + 1);
	s->nremote++;
}

static bool
account_full(struct smtp_session *s, int64_t id)
{
	struct account a;
	uint64_t used;
	bool full = false;

	memset(&a, 0, sizeof(a));
	if (store_account_get_id(srv->store, id, &a) != 1)
		return false;
	if (a.quota > 0 && store_account_usage(srv->store, id, &used) == 0)
		full = used >= a.quota || used + s->declared_size > a.quota;
	account_clear(&a);
	return full;
}

static void
cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_parse_opts opts = { false };
	struct rcpt_resolution rr;
	struct smtp_path path;
	char addr[SMTP_PATH_MAX + 1];
	const char *err;
	int r;

	if (!s->in_tx) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (smtp_parse_rcpt_to(cmd->arg, cmd->arg_len, &opts, &path,
	    &err) < 0) {
		reply(s, "%s", err);
		bad_command(s);
		return;
	}
	if (path.nparams > 0) {
		reply(s, "555 5.5.4 Unsupported option: %s",
		    path.params[0].keyword);
		return;
	}
	if (s->nrcpts >= srv->cfg->max_recipients) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (path.postmaster) {
		/* RFC 5321 4.5.1: <Postmaster> must be accepted. */
		const char *dot = strchr(hostname(), '.');

		snprintf(addr, sizeof(addr), "postmaster@%s", hostname());
		if (store_domain_exists(srv->store, hostname()) != 1 &&
		    dot != NULL)
			snprintf(addr, sizeof(addr), "postmaster@%s", dot + 1);
	} else
		snprintf(addr, sizeof(addr), "%s", path.addr);
	if (smtp_addr_has_relay_tricks(addr)) {
		reply(s, "554 5.7.1 <%s>: Relay access denied", addr);
		return;
	}
	rcpt_resolution_init(&rr);
	r = store_resolve_rcpt(srv->store, addr, &rr, &err);
	if (r < 0) {
		log_warnx("s=%s smtp recipient lookup failed: %s",
		    s->conn->sid, err);
		reply(s, "451 4.3.0 <%s>: Temporary lookup failure", addr);
		rcpt_resolution_free(&rr);
		return;
	}
	if (r == 2) {
		rcpt_resolution_free(&rr);
		if (!s->authenticated) {
			reply(s, "554 5.7.1 <%s>: Relay access denied", addr);
			return;
		}
		add_remote(s, addr);
	} else if (r == 0) {
		if (rr.disabled)
			reply(s, "550 5.2.1 <%s>: Recipient address rejected: "
			    "Mailbox disabled", addr);
		else
			reply(s, "550 5.1.1 <%s>: Recipient address rejected: "
			    "User unknown in local recipient table", addr);
		rcpt_resolution_free(&rr);
		return;
	} else {
		const char *p = rr.remote.data;
		size_t full = 0;

		/*
		 * Quota: refuse at RCPT when a mailbox is already full or
		 * the announced size would not fit (452 4.2.2, temporary:
		 * the sender retries; nothing is dropped in silence, even
		 * when only one target of an alias is full).  The message
		 * that crosses the line is let in.
		 */
		for (size_t i = 0; i < rr.naccounts; i++)
			if (account_full(s, rr.account_ids[i]))
				full++;
		if (full > 0) {
			reply(s, "452 4.2.2 <%s>: Mailbox full", addr);
			rcpt_resolution_free(&rr);
			return;
		}
		for (size_t i = 0; i < rr.naccounts; i++)
			add_account(s, rr.account_ids[i]);
		for (size_t i = 0; i < rr.nremote; i++) {
			add_remote(s, p);
			p += strlen(p) + 1;
		}
		rcpt_resolution_free(&rr);
	}
	s->rcpts = xreallocarray(s->rcpts, s->nrcpts + 1, sizeof(*s->rcpts));
	snprintf(s->rcpts[s->nrcpts].addr, sizeof(s->rcpts[0].addr), "%s",
	    addr);
	s->nrcpts++;
	reply(s, "250 2.1.5 Ok");
}

static void
spool_emit(void *ctx, const char *p, size_t n)
{
	struct smtp_session *s = ctx;

	if (s->too_big || s->write_error)
		return;
	if (s->spool.size + n > srv->cfg->message_size) {
		s->too_big = true;
		return;
	}
	if (spool_write(&s->spool, p, n) < 0) {
		s->write_error = true;
		return;
	}
	mime_parser_feed(s->mp, p, n);
}

static void
cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct buf rcv = BUF_INIT;
	char date[64];
	const char *proto;

	if (!s->in_tx) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpts == 0) {
		reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (cmd->arg_len > 0) {
		reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	random_id(s->qid);
	spool_init(&s->spool, store_tmpdir(srv->store));
	s->mp = mime_parser_create(NULL);
	smtp_data_init(&s->dr);
	/* RFC 5321 4.4 trace header; RFC 3848 protocol names. */
	proto = s->esmtp ? (s->conn->tls ? (s->authenticated ? "ESMTPSA" :
	    "ESMTPS") : (s->authenticated ? "ESMTPA" : "ESMTP")) : "SMTP";
	rfc5322_date(time(NULL), date, sizeof(date));
	buf_printf(&rcv, "Received: from %s ([%s])\r\n\tby %s (posthorn) "
	    "with %s id %s", s->helo, s->conn->peer_ip, hostname(), proto,
	    s->qid);
	if (s->conn->tls && s->conn->tls_done)
		buf_printf(&rcv, "\r\n\t(version=%s cipher=%s)",
		    s->conn->tls_version, s->conn->tls_cipher);
	if (s->nrcpts == 1)
		buf_printf(&rcv, "\r\n\tfor <%s>", s->rcpts[0].addr);
	buf_printf(&rcv, "; %s\r\n", date);
	spool_emit(s, rcv.data, rcv.len);
	buf_free(&rcv);
	s->state = SMTP_DATA;
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
delivery_work(void *arg)
{
	struct smtp_delivery *d = arg;
	struct store_msg msg;
	struct buf ser = BUF_INIT;
	uint32_t *uids;

	mime_serialize(d->mime, &ser);
	msg.spool = &d->spool;
	msg.mime = ser.data;
	msg.mime_len = ser.len;
	msg.internaldate = time(NULL);
	uids = xcalloc(d->naccounts ? d->naccounts : 1, sizeof(*uids));
	d->rc = 0;
	if (d->naccounts > 0)
		d->rc = store_deliver(srv->store, d->accounts, d->naccounts,
		    &msg, uids, &d->error);
	if (d->rc == 0 && d->nremote > 0) {
		const char **rcpts = xcalloc(d->nremote, sizeof(char *));
		const char *p = d->remote.data;

		for (size_t i = 0; i < d->nremote; i++) {
			rcpts[i] = p;
			p += strlen(p) + 1;
		}
		d->rc = store_queue_add(srv->store, d->mail_from, rcpts,
		    d->nremote, &msg, d->qid, NULL, &d->error);
		free(rcpts);
	}
	free(uids);
	buf_free(&ser);
}

static void
delivery_done(void *arg)
{
	struct smtp_delivery *d = arg;
	struct smtp_session *s = d->s;
	struct conn *c = d->conn;

	if (!c->closing) {
		if (d->rc == 0) {
			log_info("s=%s smtp message accepted id=%s size=%llu "
			    "rcpts=%zu local=%zu queued=%zu from=<%s>", c->sid,
			    d->qid, (unsigned long long)d->spool.size,
			    s->nrcpts, d->naccounts, d->nremote, d->mail_from);
			reply(s, "250 2.0.0 Ok: queued as %s", d->qid);
		} else {
			log_warnx("s=%s smtp message %s not stored: %s",
			    c->sid, d->qid, d->error ? d->error : "?");
			if (d->rc == STORE_NOSPACE)
				reply(s, "452 4.3.1 Insufficient system "
				    "storage");
			else
				reply(s, "451 4.3.0 Error: queue file write "
				    "error");
		}
		tx_reset(s);
		s->state = SMTP_CMD;
	}
	spool_free(&d->spool);
	mime_part_free(&d->mime);
	free(d->accounts);
	buf_free(&d->remote);
	free(d);
	if (!c->closing)
		smtp_process(s);
	conn_release(c);
}

static void
data_finished(struct smtp_session *s)
{
	struct smtp_delivery *d;
	struct mime_part *root = mime_parser_finish(&s->mp);

	if (s->too_big || s->write_error) {
		mime_part_free(&root);
		if (s->too_big) {
			reply(s, "552 5.3.4 Error: message file too big");
			log_info("s=%s smtp message rejected: too big",
			    s->conn->sid);
		} else {
			if (s->spool.error == ENOSPC)
				reply(s, "452 4.3.1 Insufficient system "
				    "storage");
			else
				reply(s, "451 4.3.0 Error: queue file write "
				    "error");
			log_warnx("s=%s smtp spool write failed: %s",
			    s->conn->sid, strerror(s->spool.error));
		}
		tx_reset(s);
		s->state = SMTP_CMD;
		return;
	}
	d = xcalloc(1, sizeof(*d));
	d->s = s;
	d->conn = s->conn;
	spool_move(&d->spool, &s->spool);
	d->mime = root;
	d->accounts = s->accounts;
	d->naccounts = s->naccounts;
	s->accounts = NULL;
	s->naccounts = 0;
	d->remote = s->remote;
	d->nremote = s->nremote;
	buf_init(&s->remote);
	s->nremote = 0;
	snprintf(d->mail_from, sizeof(d->mail_from), "%s", s->mail_from);
	memcpy(d->qid, s->qid, sizeof(d->qid));
	s->state = SMTP_BUSY;
	conn_hold(s->conn);
	worker_submit(delivery_work, delivery_done, d);
}

static void
smtp_command(struct smtp_session *s, char *line, size_t len)
{
	struct smtp_cmd cmd;

	if (smtp_cmd_split(line, len, &cmd) < 0) {
		reply(s, "500 5.5.2 Error: bad syntax");
		bad_command(s);
		return;
	}
	switch (cmd.verb) {
	case SMTP_CMD_HELO:
		cmd_helo(s, &cmd, false);
		break;
	case SMTP_CMD_EHLO:
		cmd_helo(s, &cmd, true);
		break;
	case SMTP_CMD_STARTTLS:
		cmd_starttls(s, &cmd);
		break;
	case SMTP_CMD_AUTH:
		cmd_auth(s, &cmd);
		break;
	case SMTP_CMD_MAIL:
		cmd_mail(s, &cmd);
		break;
	case SMTP_CMD_RCPT:
		cmd_rcpt(s, &cmd);
		break;
	case SMTP_CMD_DATA:
		cmd_data(s, &cmd);
		break;
	case SMTP_CMD_RSET:
		tx_reset(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_CMD_NOOP:
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_CMD_QUIT:
		reply(s, "221 2.0.0 Bye");
		s->quit = true;
		conn_close(s->conn, "quit");
		break;
	case SMTP_CMD_VRFY:
		reply(s, "252 2.0.0 Cannot VRFY user, but will accept message "
		    "and attempt delivery");
		break;
	case SMTP_CMD_EXPN:
		reply(s, "502 5.5.1 Error: command not implemented");
		break;
	case SMTP_CMD_HELP:
		reply(s, "214 2.0.0 See RFC 5321");
		break;
	case SMTP_CMD_BDAT:
		reply(s, "502 5.5.1 Error: command not implemented");
		break;
	default:
		reply(s, "500 5.5.2 Error: command not recognized");
		bad_command(s);
		break;
	}
}

/*
 * Runs as many complete commands as the input holds, in order, until a
 * command needs to wait (DATA commit, AUTH check) or the input runs dry.
 */
static void
smtp_process(struct smtp_session *s)
{
	struct conn *c = s->conn;
	size_t maxline = srv->cfg->smtp_line_max;

	while (!c->closing && s->state != SMTP_BUSY && !c->starttls_pending &&
	    !(s->sasl != NULL && auth_sasl_busy(s->sasl))) {
		size_t avail = evbuffer_get_length(c->in);
		struct evbuffer_ptr eol;
		size_t eol_len = 0, len;
		char *line;

		if (avail == 0)
			return;
		if (s->state == SMTP_DATA) {
			struct evbuffer_iovec v;
			size_t used;
			int r;

			/* Feed the contiguous first chunk, then loop. */
			if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1)
				return;
			r = smtp_data_feed(&s->dr, v.iov_base, v.iov_len,
			    &used, spool_emit, s);
			evbuffer_drain(c->in, used);
			c->bytes_in += used;
			if (r == 1)
				data_finished(s);
			continue;
		}
		eol = evbuffer_search_eol(c->in, NULL, &eol_len,
		    EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (avail > maxline) {
				/* Enforced before the line is complete. */
				evbuffer_drain(c->in, avail);
				s->skip_line = true;
			}
			return;
		}
		len = (size_t)eol.pos;
		if (s->skip_line || len > maxline) {
			evbuffer_drain(c->in, len + eol_len);
			s->skip_line = false;
			reply(s, "500 5.5.2 Error: line too long");
			if (bad_command(s))
				return;
			continue;
		}
		line = xmalloc(len + 1);
		evbuffer_remove(c->in, line, len);
		evbuffer_drain(c->in, eol_len);
		c->bytes_in += len + eol_len;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		if (s->state == SMTP_AUTH && s->sasl != NULL)
			auth_sasl_input(s->sasl, line, len);
		else
			smtp_command(s, line, len);
		explicit_bzero(line, len);
		free(line);
	}
}

static void
smtp_on_read(struct conn *c)
{
	smtp_process(c->session);
}

static void
smtp_greet(struct smtp_session *s)
{
	if (srv->cfg->greeting != NULL)
		reply(s, "220 %s ESMTP %s", hostname(), srv->cfg->greeting);
	else
		reply(s, "220 %s ESMTP posthorn", hostname());
}

static void
smtp_on_tls(struct conn *c)
{
	smtp_process(c->session);
}

static void
smtp_on_timeout(struct conn *c)
{
	struct smtp_session *s = c->session;

	reply(s, "421 4.4.2 %s Error: timeout exceeded", hostname());
}

static void
smtp_on_shutdown(struct conn *c)
{
	struct smtp_session *s = c->session;

	if (!s->quit)
		reply(s, "421 4.3.2 %s Service shutting down", hostname());
}

static void
smtp_on_kicked(struct conn *c, const char *reason)
{
	struct smtp_session *s = c->session;

	reply(s, "421 4.7.0 %s %s", hostname(), reason);
}

static void
smtp_on_close(struct conn *c)
{
	struct smtp_session *s = c->session;

	if (s == NULL)
		return;
	tx_reset(s);
	spool_free(&s->spool);
	buf_free(&s->remote);
	auth_sasl_free(&s->sasl);
	free(s->auth_user);
	free(s);
	c->session = NULL;
}

static const struct conn_ops smtp_ops = {
	.proto = "smtp",
	.on_read = smtp_on_read,
	.on_tls = smtp_on_tls,
	.on_timeout = smtp_on_timeout,
	.on_shutdown = smtp_on_shutdown,
	.on_kicked = smtp_on_kicked,
	.on_close = smtp_on_close,
};

void
smtp_accept(int fd, const struct sockaddr *sa, socklen_t salen,
    enum listen_kind kind)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	struct conn *c;

	c = conn_new(fd, sa, salen, kind, kind == LISTEN_SUBMISSIONS,
	    &smtp_ops, s);
	if (c == NULL) {
		free(s);
		return;
	}
	s->conn = c;
	s->submission = kind != LISTEN_SMTP;
	s->state = SMTP_CMD;
	buf_init(&s->remote);
	spool_init(&s->spool, store_tmpdir(srv->store));
	conn_set_timeout(c, (unsigned)srv->cfg->smtp_timeout);
	if (conn_over_limit(c)) {
		reply(s, "421 4.7.0 %s Error: too many connections from %s",
		    hostname(), c->peer_ip);
		conn_close(c, "too many connections");
		return;
	}
	/* With implicit TLS (465) the greeting waits for the handshake. */
	smtp_greet(s);
}
