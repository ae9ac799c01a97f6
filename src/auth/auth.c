/*
 * auth - asynchronous password checks with a delay after failures.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "apppass.h"
#include "auth.h"
#include "authfail.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "password.h"
#include "server.h"
#include "store/store.h"

#define AUTH_USER_MAX	320

enum auth_kind {
	AUTH_PASSWORD,		/* verify the password, then the policy */
	AUTH_POLICY,		/* verified elsewhere (SCRAM): policy only */
	AUTH_FAIL,		/* failed elsewhere: log, delay, report */
};

struct auth_job {
	enum auth_kind	 kind;
	struct conn	*conn;
	const char	*mech;
	unsigned	 proto;
	char		*user;
	char		*password;
	auth_cb		*cb;
	void		*ctx;
	struct auth_result res;
	const char	*reason;
	struct event	*timer;
};

struct apppass_check {
	const char	*password;
	int64_t		 id;
	unsigned	 protocols;
};

static const char *const disabled_text[PROTO_COUNT] = {
	"IMAP is disabled for this account",
	"POP3 is disabled for this account",
	"Sending mail is disabled for this account",
	"Webmail is disabled for this account",
};

static const char *const apppass_text[PROTO_COUNT] = {
	"This app password is not valid for IMAP",
	"This app password is not valid for POP3",
	"This app password is not valid for sending mail",
	"This app password is not valid for webmail",
};

unsigned
auth_conn_protocol(const struct conn *c)
{
	switch (c->kind) {
	case LISTEN_IMAP:
	case LISTEN_IMAPS:
		return PROTO_IMAP;
	case LISTEN_POP3:
	case LISTEN_POP3S:
		return PROTO_POP3;
	case LISTEN_SUBMISSION:
	case LISTEN_SUBMISSIONS:
		return PROTO_SUBMISSION;
	default:
		return 0;
	}
}

static int
proto_index(unsigned proto)
{
	for (int i = 0; i < PROTO_COUNT; i++)
		if (proto == 1U << i)
			return i;
	return 0;
}

static void
apppass_cb(void *ctx, const struct app_password *ap)
{
	struct apppass_check *ck = ctx;

	if (ck->id == 0 && apppass_verify(ck->password, ap->hash)) {
		ck->id = ap->id;
		ck->protocols = ap->protocols;
	}
}

static void
auth_work(void *arg)
{
	struct auth_job *j = arg;
	struct apppass_check ck = { j->password, 0, 0 };
	struct account a;
	int r;

	memset(&a, 0, sizeof(a));
	if (j->kind == AUTH_FAIL)
		goto out;
	r = store_account_get(srv->store, j->user, &a);
	if (j->kind == AUTH_POLICY) {
		if (r != 1) {
			j->reason = r == 0 ? "unknown user" : "store error";
			goto out;
		}
		ck.id = 0;
		goto verified;
	}
	if (r < 0) {
		j->reason = "store error";
		(void)password_verify(j->password, NULL);
		goto out;
	}
	if (r == 0) {
		j->reason = "unknown user";
		/* Same work as a real check: no user enumeration by timing. */
		(void)password_verify(j->password, NULL);
		goto out;
	}
	(void)store_apppass_list(srv->store, a.id, apppass_cb, &ck);
	if (ck.id == 0 && !password_verify(j->password, a.password_hash)) {
		j->reason = "wrong password";
		goto out;
	}
verified:
	j->res.ok = true;
	j->res.account_id = a.id;
	j->res.address = xstrdup(a.address);
	j->res.protocols = a.protocols;
	j->res.quota = a.quota;
	j->res.pop3_keep = a.pop3_keep;
	j->res.apppass_id = ck.id;
	if (!a.enabled)
		j->res.refusal = "Account is disabled";
	else if (j->proto != 0 && !(a.protocols & j->proto))
		j->res.refusal = disabled_text[proto_index(j->proto)];
	else if (ck.id != 0 && j->proto != 0 && !(ck.protocols & j->proto))
		j->res.refusal = apppass_text[proto_index(j->proto)];
	else {
		j->res.allowed = true;
		if (ck.id != 0)
			(void)store_apppass_used(srv->store, ck.id);
	}
out:
	account_clear(&a);
	if (j->password != NULL)
		xfree_secret(j->password, strlen(j->password));
	j->password = NULL;
}

static void
auth_finish(struct auth_job *j)
{
	struct conn *c = j->conn;

	if (!c->closing)
		j->cb(c, j->ctx, &j->res);
	if (j->timer != NULL)
		event_free(j->timer);
	free(j->res.address);
	free(j->user);
	free(j);
	conn_release(c);
}

static void
delay_cb(evutil_socket_t fd, short what, void *arg)
{
	auth_finish(arg);
}

static void
auth_done(void *arg)
{
	struct auth_job *j = arg;
	struct conn *c = j->conn;
	struct timeval tv;
	uint64_t ms;
	bool locked;

	if (j->res.ok)
		authfail_success(c->peer_net, j->user);
	if (j->res.ok && j->res.allowed) {
		log_info("s=%s %s auth ok user=%s mech=%s%s", c->sid,
		    c->ops->proto, j->res.address, j->mech,
		    j->res.apppass_id ? " app_password=yes" : "");
		auth_finish(j);
		return;
	}
	if (j->res.ok) {
		log_info("s=%s %s auth refused user=%s mech=%s reason=\"%s\"",
		    c->sid, c->ops->proto, j->res.address, j->mech,
		    j->res.refusal);
		auth_finish(j);
		return;
	}
	log_info("s=%s %s auth failed user=%s mech=%s reason=\"%s\" from=%s",
	    c->sid, c->ops->proto, j->user, j->mech, j->reason, c->peer_ip);
	ms = authfail_record(c->peer_net, j->user, &locked);
	if (locked)
		log_warnx("auth lockout from=%s for %llus after %llu failures "
		    "(last user=%s)", c->peer_net,
		    (unsigned long long)srv->cfg->auth_lockout_time,
		    (unsigned long long)srv->cfg->auth_lockout_failures,
		    j->user);
	if (ms == 0 || c->closing) {
		auth_finish(j);
		return;
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	j->timer = evtimer_new(iothread_base(c->thr), delay_cb, j);
	evtimer_add(j->timer, &tv);
}

static void
auth_submit(enum auth_kind kind, struct conn *c, const char *mech,
    const char *user, const char *password, const char *reason,
    auth_cb *cb, void *ctx)
{
	struct auth_job *j = xcalloc(1, sizeof(*j));
	size_t ulen = strlen(user);

	/* A locked-out address gets failures without a look at passwords. */
	if (kind != AUTH_FAIL && authfail_locked(c->peer_net)) {
		kind = AUTH_FAIL;
		password = NULL;
		reason = "address locked out";
	}
	j->kind = kind;
	j->conn = c;
	j->mech = mech;
	j->proto = auth_conn_protocol(c);
	j->user = xstrndup(user, ulen > AUTH_USER_MAX ? AUTH_USER_MAX : ulen);
	j->password = password != NULL ? xstrdup(password) : NULL;
	j->reason = reason;
	j->cb = cb;
	j->ctx = ctx;
	conn_hold(c);
	worker_submit_to(WORKER_AUTH, auth_work, auth_done, j);
}

void
auth_start(struct conn *c, const char *mech, const char *user,
    const char *password, auth_cb *cb, void *ctx)
{
	auth_submit(AUTH_PASSWORD, c, mech, user, password, NULL, cb, ctx);
}

void
auth_authorize(struct conn *c, const char *mech, const char *user,
    auth_cb *cb, void *ctx)
{
	auth_submit(AUTH_POLICY, c, mech, user, NULL, NULL, cb, ctx);
}

void
auth_reject(struct conn *c, const char *mech, const char *user,
    const char *reason, auth_cb *cb, void *ctx)
{
	auth_submit(AUTH_FAIL, c, mech, user, NULL, reason, cb, ctx);
}
