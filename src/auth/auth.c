/*
 * auth - asynchronous password checks with a delay after failures.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "password.h"
#include "server.h"
#include "store/store.h"

#define AUTH_USER_MAX	320

struct auth_job {
	struct conn	*conn;
	const char	*mech;
	char		*user;
	char		*password;
	auth_cb		*cb;
	void		*ctx;
	struct auth_result res;
	const char	*reason;
	struct event	*timer;
};

static void
auth_work(void *arg)
{
	struct auth_job *j = arg;
	struct account a;
	int r;

	memset(&a, 0, sizeof(a));
	r = store_account_get(srv->store, j->user, &a);
	if (r < 0) {
		j->reason = "store error";
		(void)password_verify(j->password, NULL);
	} else if (r == 0) {
		j->reason = "unknown user";
		/* Same work as a real check: no user enumeration by timing. */
		(void)password_verify(j->password, NULL);
	} else if (!password_verify(j->password, a.password_hash)) {
		j->reason = "wrong password";
	} else if (!a.enabled) {
		j->reason = "account disabled";
	} else {
		j->res.ok = true;
		j->res.account_id = a.id;
		j->res.address = xstrdup(a.address);
	}
	account_clear(&a);
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
	uint64_t ms = srv->cfg->auth_fail_delay_ms;

	if (j->res.ok) {
		log_info("s=%s %s auth ok user=%s mech=%s", c->sid,
		    c->ops->proto, j->res.address, j->mech);
		auth_finish(j);
		return;
	}
	log_info("s=%s %s auth failed user=%s mech=%s reason=\"%s\" from=%s",
	    c->sid, c->ops->proto, j->user, j->mech, j->reason, c->peer_ip);
	if (ms == 0 || c->closing) {
		auth_finish(j);
		return;
	}
	{
		struct timeval tv;

		tv.tv_sec = (time_t)(ms / 1000);
		tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
		j->timer = evtimer_new(iothread_base(c->thr), delay_cb, j);
		evtimer_add(j->timer, &tv);
	}
}

void
auth_start(struct conn *c, const char *mech, const char *user,
    const char *password, auth_cb *cb, void *ctx)
{
	struct auth_job *j = xcalloc(1, sizeof(*j));
	size_t ulen = strlen(user);

	j->conn = c;
	j->mech = mech;
	j->user = xstrndup(user, ulen > AUTH_USER_MAX ? AUTH_USER_MAX : ulen);
	j->password = xstrdup(password);
	j->cb = cb;
	j->ctx = ctx;
	conn_hold(c);
	worker_submit(auth_work, auth_done, j);
}
