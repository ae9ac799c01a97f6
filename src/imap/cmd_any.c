/*
 * cmd_any - IMAP commands of any state and of the login phase:
 * CAPABILITY, NOOP, CHECK, LOGOUT, ID, NAMESPACE, STARTTLS, LOGIN,
 * AUTHENTICATE, and IDLE (RFC 2177).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
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

	if (res->ok) {
		struct buf caps = BUF_INIT;

		imap_session_login_done(s, res->account_id, res->address);
		imap_capabilities(s, &caps);
		imap_cmd_done(cmd, "OK", "[CAPABILITY %s] Logged in",
		    buf_cstr(&caps));
		buf_free(&caps);
	} else
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
auth_finish_step(struct imap_session *s, int r, struct buf *chal)
{
	struct imap_cmd *cmd = s->cmd;
	const struct sasl_creds *cr;

	switch (r) {
	case SASL_STEP_CONTINUE:
		imap_send(s, "+ %s", buf_cstr(chal));
		return;
	case SASL_STEP_DONE:
		cr = sasl_server_creds(s->sasl);
		if (sasl_creds_authz_differs(cr)) {
			sasl_server_free(&s->sasl);
			imap_cmd_done(cmd, "NO", "[AUTHORIZATIONFAILED] "
			    "Authorization identity not allowed.");
			return;
		}
		auth_start(s->conn, sasl_server_mech(s->sasl), cr->authcid,
		    cr->passwd, login_checked, cmd);
		sasl_server_free(&s->sasl);
		return;
	case SASL_STEP_CANCELLED:
		sasl_server_free(&s->sasl);
		imap_cmd_done(cmd, "BAD", "Authentication cancelled.");
		return;
	default:
		imap_cmd_done(cmd, "BAD", "%s", sasl_server_error(s->sasl));
		sasl_server_free(&s->sasl);
		return;
	}
}

void
imap_auth_continue(struct imap_session *s, const char *line, size_t len)
{
	struct buf chal = BUF_INIT;
	int r = sasl_server_step(s->sasl, line, len, &chal);

	auth_finish_step(s, r, &chal);
	buf_free(&chal);
}

void
cmd_authenticate(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const char *mech, *ir = NULL;
	struct buf chal = BUF_INIT;
	int r;

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
	if (!server_plaintext_ok(s->conn) && sasl_mech_supported(mech)) {
		imap_cmd_done(cmd, "NO", "[PRIVACYREQUIRED] Plaintext "
		    "authentication disallowed on non-secure (SSL/TLS) "
		    "connections.");
		return;
	}
	if ((s->sasl = sasl_server_new(mech)) == NULL) {
		imap_cmd_done(cmd, "NO", "Unsupported authentication "
		    "mechanism.");
		return;
	}
	r = sasl_server_step(s->sasl, ir, ir ? strlen(ir) : 0, &chal);
	auth_finish_step(s, r, &chal);
	buf_free(&chal);
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
