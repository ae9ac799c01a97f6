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
#include "smtp_int.h"
#include "store/store.h"

const char *
smtp_hostname(void)
{
	return srv->cfg->hostname;
}

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
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
	/* Reply text is %d09 / %d32-126 (RFC 5321 4.2): no echoed CR. */
	for (int i = 0; i < n; i++)
		if (((unsigned char)line[i] < 32 && line[i] != '\t') ||
		    line[i] == 127)
			line[i] = '?';
	line[n++] = '\r';
	line[n++] = '\n';
	conn_write(s->conn, line, (size_t)n);
}

static bool
has_ctl(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 32 || p[i] == 127)
			return true;
	return false;
}

void
smtp_tx_reset(struct smtp_session *s)
{
	s->in_tx = false;
	s->mail_from[0] = '\0';
	s->mail_from_owned = false;
	s->declared_size = 0;
	s->smtputf8 = false;
	s->ret = 0;
	free(s->envid);
	s->envid = NULL;
	for (size_t i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i].orcpt);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = 0;
	free(s->accounts);
	s->accounts = NULL;
	s->naccounts = 0;
	for (size_t i = 0; i < s->nremotes; i++)
		free(s->remotes[i].addr);
	free(s->remotes);
	s->remotes = NULL;
	s->nremotes = 0;
	smtp_checks_free(&s->checks);
	mime_part_free(&s->root);
	spool_reset(&s->spool);
	if (s->mp != NULL) {
		struct mime_part *p = mime_parser_finish(&s->mp);

		mime_part_free(&p);
	}
	s->body_started = false;
	s->bdat_used = false;
	s->too_big = false;
	s->write_error = false;
}

bool
smtp_bad_command(struct smtp_session *s)
{
	if (++s->errors >= srv->cfg->max_bad_commands) {
		smtp_reply(s, "421 4.7.0 %s Error: too many errors",
		    smtp_hostname());
		conn_close(s->conn, "too many errors");
		return true;
	}
	return false;
}

static void
helo_accept(struct smtp_session *s, const char *name, bool ehlo)
{
	struct buf mechs = BUF_INIT;

	smtp_tx_reset(s);
	snprintf(s->helo, sizeof(s->helo), "%s", name);
	s->helo_seen = true;
	s->esmtp = ehlo;
	if (!ehlo) {
		smtp_reply(s, "250 %s", smtp_hostname());
		return;
	}
	smtp_reply(s, "250-%s", smtp_hostname());
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %llu",
	    (unsigned long long)srv->cfg->message_size);
	if (!s->conn->tls)
		smtp_reply(s, "250-STARTTLS");
	/* No AUTH at all before TLS (RFC 8314), unless loopback is trusted. */
	if (s->submission && !s->authenticated &&
	    server_plaintext_ok(s->conn)) {
		sasl_mech_list(&mechs, true);
		if (mechs.len > 0)
			smtp_reply(s, "250-AUTH %s", buf_cstr(&mechs));
		buf_free(&mechs);
	}
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-DSN");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250 CHUNKING");
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
			log_info("s=%s smtp helo rejected name=%s "
			    "reason=\"does not resolve\"", c->sid, h->name);
			smtp_reply(s, "550 5.7.1 Bad HELO <%s>: Host not found",
			    h->name);
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
		smtp_reply(s, "501 5.5.2 <%.*s>: Helo command rejected: "
		    "need fully-qualified hostname or address literal",
		    (int)(cmd->arg_len > 100 ? 100 : cmd->arg_len), cmd->arg);
		smtp_bad_command(s);
		return;
	}
	if (srv->cfg->helo_strict && !s->submission && name[0] != '[') {
		struct helo_check *h;

		if (strchr(name, '.') == NULL ||
		    strcasecmp(name, "localhost") == 0 ||
		    strcasecmp(name, "localhost.localdomain") == 0 ||
		    strchr(name, '_') != NULL) {
			log_info("s=%s smtp helo rejected name=%s reason=\""
			    "not a fully-qualified host name\"", s->conn->sid,
			    name);
			smtp_reply(s, "550 5.7.1 Bad HELO <%s>: need a "
			    "fully-qualified host name", name);
			smtp_bad_command(s);
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
		smtp_reply(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (cmd->arg_len > 0) {
		smtp_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	smtp_tx_reset(s);
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
	smtp_reply(s, "334 %s", b64);
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
		smtp_reply(s, "235 2.7.0 Authentication successful");
	} else if (res->ok) {
		smtp_reply(s, "535 5.7.1 %s", res->refusal);
	} else {
		smtp_reply(s, "535 5.7.8 Error: authentication failed");
		if (smtp_bad_command(s))
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
		smtp_reply(s, "501 5.7.0 Authentication aborted");
	else
		smtp_reply(s, "501 5.5.2 Error: %s", error);
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
		smtp_reply(s, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (!s->esmtp) {
		smtp_reply(s, "503 5.5.1 Error: send EHLO first");
		return;
	}
	if (s->authenticated) {
		smtp_reply(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->in_tx) {
		smtp_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	sp = memchr(cmd->arg, ' ', cmd->arg_len);
	mlen = sp ? (size_t)(sp - cmd->arg) : cmd->arg_len;
	if (mlen == 0 || mlen >= sizeof(mech)) {
		smtp_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return;
	}
	memcpy(mech, cmd->arg, mlen);
	mech[mlen] = '\0';
	if (!server_plaintext_ok(s->conn)) {
		smtp_reply(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	if ((s->sasl = auth_sasl_new(s->conn, mech, &smtp_sasl_ops,
	    s)) == NULL) {
		smtp_reply(s, "504 5.5.4 Error: authentication mechanism not "
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

static void
smtp_command(struct smtp_session *s, char *line, size_t len)
{
	struct smtp_cmd cmd;

	if (smtp_cmd_split(line, len, &cmd) < 0) {
		smtp_reply(s, "500 5.5.2 Error: bad syntax");
		smtp_bad_command(s);
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
		smtp_cmd_mail(s, &cmd);
		break;
	case SMTP_CMD_RCPT:
		smtp_cmd_rcpt(s, &cmd);
		break;
	case SMTP_CMD_DATA:
		smtp_cmd_data(s, &cmd);
		break;
	case SMTP_CMD_RSET:
		smtp_tx_reset(s);
		smtp_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_CMD_NOOP:
		smtp_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_CMD_QUIT:
		smtp_reply(s, "221 2.0.0 Bye");
		s->quit = true;
		conn_close(s->conn, "quit");
		break;
	case SMTP_CMD_VRFY:
		/* vrfy = "VRFY" SP String (RFC 5321 4.1.1.6). */
		if (cmd.arg_len == 0 || has_ctl(cmd.arg, cmd.arg_len)) {
			smtp_reply(s, "501 5.5.4 Syntax: VRFY address");
			smtp_bad_command(s);
			break;
		}
		smtp_reply(s, "252 2.0.0 Cannot VRFY user, but will accept "
		    "message and attempt delivery");
		break;
	case SMTP_CMD_EXPN:
		smtp_reply(s, "502 5.5.1 Error: command not implemented");
		break;
	case SMTP_CMD_HELP:
		smtp_reply(s, "214 2.0.0 See RFC 5321");
		break;
	case SMTP_CMD_BDAT:
		smtp_cmd_bdat(s, &cmd);
		break;
	default:
		smtp_reply(s, "500 5.5.2 Error: command not recognized");
		smtp_bad_command(s);
		break;
	}
}

/*
 * Runs as many complete commands as the input holds, in order, until a
 * command needs to wait (DATA commit, AUTH check) or the input runs dry.
 */
void
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
			if (!smtp_data_input(s))
				return;
			continue;
		}
		if (s->state == SMTP_BDAT) {
			if (!smtp_bdat_input(s))
				return;
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
			smtp_reply(s, "500 5.5.2 Error: line too long");
			if (smtp_bad_command(s))
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
		smtp_reply(s, "220 %s ESMTP %s", smtp_hostname(),
		    srv->cfg->greeting);
	else
		smtp_reply(s, "220 %s ESMTP posthorn", smtp_hostname());
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

	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded", smtp_hostname());
}

static void
smtp_on_shutdown(struct conn *c)
{
	struct smtp_session *s = c->session;

	if (!s->quit)
		smtp_reply(s, "421 4.3.2 %s Service shutting down",
		    smtp_hostname());
}

static void
smtp_on_kicked(struct conn *c, const char *reason)
{
	struct smtp_session *s = c->session;

	smtp_reply(s, "421 4.7.0 %s %s", smtp_hostname(), reason);
}

static void
smtp_on_close(struct conn *c)
{
	struct smtp_session *s = c->session;

	if (s == NULL)
		return;
	smtp_tx_reset(s);
	spool_free(&s->spool);
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
	const char *why;

	c = conn_new(fd, sa, salen, kind, kind == LISTEN_SUBMISSIONS,
	    &smtp_ops, s);
	if (c == NULL) {
		free(s);
		return;
	}
	s->conn = c;
	s->submission = kind != LISTEN_SMTP;
	s->state = SMTP_CMD;
	spool_init(&s->spool, store_tmpdir(srv->store));
	conn_set_timeout(c, (unsigned)srv->cfg->smtp_timeout);
	if ((why = conn_refusal(c)) != NULL) {
		if (why == conn_refusal_busy)
			smtp_reply(s, "421 4.3.2 %s Service busy, try again "
			    "later", smtp_hostname());
		else
			smtp_reply(s, "421 4.7.0 %s Error: too many "
			    "connections from %s", smtp_hostname(), c->peer_ip);
		conn_close(c, why);
		return;
	}
	/* With implicit TLS (465) the greeting waits for the handshake. */
	smtp_greet(s);
}
