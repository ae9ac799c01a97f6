/*
 * cmd_any - IMAP commands of any state and of the login phase:
 * CAPABILITY, ENABLE (RFC 5161), NOOP, CHECK, LOGOUT, ID, NAMESPACE,
 * STARTTLS, LOGIN, AUTHENTICATE, and IDLE (RFC 2177).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "auth/auth_sasl.h"
#include "auth/sasl.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap_quote.h"
#include "imap_session.h"
#include "server.h"

void
cmd_capability(struct imap_cmd *cmd)
{
	struct buf b = BUF_INIT;

	if (cmd->a.count != 0) {
		imap_cmd_done(cmd, "BAD", "CAPABILITY takes no arguments");
		return;
	}
	imap_capabilities(cmd->s, &b);
	imap_send(cmd->s, "* CAPABILITY %s", buf_cstr(&b));
	buf_free(&b);
	imap_cmd_done(cmd, "OK", "Capability completed.");
}

/*
 * ENABLE: the extensions that change how the server talks.  The answer
 * lists those newly enabled (RFC 5161 3.1); unknown names are ignored.
 * RFC 5161 means it for the authenticated state; like Dovecot we take it
 * with a mailbox selected too.
 */
void
cmd_enable(struct imap_cmd *cmd)
{
	static const struct {
		const char *name;
		unsigned bits;
	} ext[] = {
		{ "CONDSTORE", IMAP_EN_CONDSTORE },
		{ "QRESYNC", IMAP_EN_QRESYNC | IMAP_EN_CONDSTORE },
		{ "UTF8=ACCEPT", IMAP_EN_UTF8 },
		{ "IMAP4rev2", IMAP_EN_REV2 },
	};
	struct imap_session *s = cmd->s;
	struct buf out = BUF_INIT;

	if (cmd->a.count == 0) {
		imap_cmd_done(cmd, "BAD", "ENABLE needs capability names");
		return;
	}
	for (size_t i = 0; i < cmd->a.count; i++) {
		const struct imap_arg *a = &cmd->a.args[i];

		if (a->type != IMAP_ARG_ATOM) {
			buf_free(&out);
			imap_cmd_done(cmd, "BAD", "Invalid capability name");
			return;
		}
		for (size_t k = 0; k < sizeof(ext) / sizeof(ext[0]); k++) {
			if (strcasecmp(a->str, ext[k].name) != 0 ||
			    (s->enabled & ext[k].bits) == ext[k].bits)
				continue;
			if (ext[k].bits & IMAP_EN_CONDSTORE)
				imap_condstore_enable(s);
			s->enabled |= ext[k].bits;
			buf_putc(&out, ' ');
			buf_puts(&out, ext[k].name);
		}
	}
	imap_send(s, "* ENABLED%s", buf_cstr(&out));
	buf_free(&out);
	imap_cmd_done(cmd, "OK", "Enabled.");
}

/* COMPRESS DEFLATE (RFC 4978): the reply is the last uncompressed line. */
void
cmd_compress(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;

	if (cmd->a.count != 1 || !imap_arg_atom_eq(&cmd->a.args[0],
	    "DEFLATE")) {
		imap_cmd_done(cmd, "BAD", "Unsupported compression mechanism");
		return;
	}
	if (s->conn->under != NULL) {
		imap_cmd_done(cmd, "NO", "[COMPRESSIONACTIVE] DEFLATE active");
		return;
	}
	imap_cmd_done(cmd, "OK", "DEFLATE active");
	if (conn_compress(s->conn) < 0)
		conn_close(s->conn, "compression failed");
}

void
cmd_noop(struct imap_cmd *cmd)
{
	if (cmd->a.count != 0) {
		imap_cmd_done(cmd, "BAD", "NOOP takes no arguments");
		return;
	}
	imap_cmd_done(cmd, "OK", "NOOP completed.");
}

void
cmd_check(struct imap_cmd *cmd)
{
	/* Every change is committed when it is made. */
	imap_cmd_done(cmd, "OK", "Check completed.");
}

void
cmd_logout(struct imap_cmd *cmd)
{
	imap_send(cmd->s, "* BYE Logging out");
	cmd->s->state = IMAP_LOGOUT;
	imap_cmd_done(cmd, "OK", "Logout completed.");
}

void
cmd_id(struct imap_cmd *cmd)
{
	const struct imap_arg *a = cmd->a.args;

	/* RFC 2971: a list of string pairs or NIL; we only answer. */
	if (cmd->a.count != 1 || (a->type != IMAP_ARG_NIL &&
	    a->type != IMAP_ARG_LIST)) {
		imap_cmd_done(cmd, "BAD", "Invalid ID parameters");
		return;
	}
	imap_send(cmd->s, "* ID (\"name\" \"posthorn\" \"version\" \"%s\")",
	    POSTHORN_VERSION);
	imap_cmd_done(cmd, "OK", "ID completed.");
}

void
cmd_namespace(struct imap_cmd *cmd)
{
	imap_send(cmd->s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_cmd_done(cmd, "OK", "Namespace completed.");
}

void
cmd_starttls(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;

	if (s->conn->tls) {
		imap_cmd_done(cmd, "BAD", "TLS is already active.");
		return;
	}
	if (cmd->a.count != 0) {
		imap_cmd_done(cmd, "BAD", "STARTTLS takes no arguments");
		return;
	}
	/* Pipelined commands after STARTTLS are dropped by the conn. */
	imap_cmd_done(cmd, "OK", "Begin TLS negotiation now.");
	conn_starttls(s->conn);
}

static void
login_checked(struct conn *c, void *ctx, const struct auth_result *res)
{
	struct imap_cmd *cmd = ctx;
	struct imap_session *s = cmd->s;

	if (res->ok && res->allowed) {
		struct buf caps = BUF_INIT;

		imap_session_login_done(s, res->account_id, res->address);
		imap_capabilities(s, &caps);
		imap_cmd_done(cmd, "OK", "[CAPABILITY %s] Logged in",
		    buf_cstr(&caps));
		buf_free(&caps);
	} else if (res->ok)
		imap_cmd_done(cmd, "NO", "[NOPERM] %s.", res->refusal);
	else
		imap_cmd_done(cmd, "NO", "[AUTHENTICATIONFAILED] "
		    "Authentication failed.");
}

void
cmd_login(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const char *user, *pass;

	if (cmd->a.count != 2 ||
	    (user = imap_arg_astring(&cmd->a.args[0])) == NULL ||
	    (pass = imap_arg_astring(&cmd->a.args[1])) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid LOGIN arguments");
		return;
	}
	if (!server_plaintext_ok(s->conn)) {
		imap_cmd_done(cmd, "NO", "[PRIVACYREQUIRED] Plaintext "
		    "authentication disallowed on non-secure (SSL/TLS) "
		    "connections.");
		return;
	}
	auth_start(s->conn, "LOGIN", user, pass, login_checked, cmd);
}

static void
sasl_challenge(void *ctx, const char *b64)
{
	struct imap_session *s = ctx;

	imap_send(s, "+ %s", b64);
}

static void
sasl_done(void *ctx, const struct auth_result *res)
{
	struct imap_session *s = ctx;

	auth_sasl_free(&s->sasl);
	login_checked(s->conn, s->cmd, res);
}

static void
sasl_aborted(void *ctx, bool cancelled, const char *error)
{
	struct imap_session *s = ctx;

	auth_sasl_free(&s->sasl);
	if (cancelled)
		imap_cmd_done(s->cmd, "BAD", "Authentication cancelled.");
	else
		imap_cmd_done(s->cmd, "BAD", "%s", error);
}

static const struct auth_sasl_ops imap_sasl_ops = {
	sasl_challenge, sasl_done, sasl_aborted,
};

void
imap_auth_continue(struct imap_session *s, const char *line, size_t len)
{
	auth_sasl_input(s->sasl, line, len);
}

void
cmd_authenticate(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const char *mech, *ir = NULL;

	if (cmd->a.count < 1 || cmd->a.count > 2 ||
	    cmd->a.args[0].type != IMAP_ARG_ATOM) {
		imap_cmd_done(cmd, "BAD", "Invalid AUTHENTICATE arguments");
		return;
	}
	mech = cmd->a.args[0].str;
	if (cmd->a.count == 2 &&
	    (ir = imap_arg_astring(&cmd->a.args[1])) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid initial response");
		return;
	}
	if (!server_plaintext_ok(s->conn)) {
		imap_cmd_done(cmd, "NO", "[PRIVACYREQUIRED] Plaintext "
		    "authentication disallowed on non-secure (SSL/TLS) "
		    "connections.");
		return;
	}
	if ((s->sasl = auth_sasl_new(s->conn, mech, &imap_sasl_ops,
	    s)) == NULL) {
		imap_cmd_done(cmd, "NO", "Unsupported authentication "
		    "mechanism.");
		return;
	}
	auth_sasl_input(s->sasl, ir, ir ? strlen(ir) : 0);
}

void
cmd_idle(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;

	if (cmd->a.count != 0) {
		imap_cmd_done(cmd, "BAD", "IDLE takes no arguments");
		return;
	}
	if (s->view != NULL)
		imap_view_sync(s, true);
	s->idling = true;
	conn_set_timeout(s->conn, (unsigned)srv->cfg->imap_idle_timeout);
	imap_send(s, "+ idling");
}

void
imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	struct imap_cmd *cmd = s->cmd;

	s->idling = false;
	conn_set_timeout(s->conn, (unsigned)srv->cfg->imap_timeout);
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
		imap_cmd_done(cmd, "OK", "Idle completed.");
	else
		imap_cmd_done(cmd, "BAD", "Expected DONE.");
}
