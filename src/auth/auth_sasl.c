/*
 * auth_sasl - the SASL exchange of a session (PLAIN, LOGIN, SCRAM-SHA-256).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "auth_sasl.h"
#include "core/buf.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/util.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "sasl.h"
#include "scram.h"
#include "server.h"
#include "store/store.h"

struct auth_sasl {
	struct conn	*conn;
	struct sasl_server *sasl;
	const struct auth_sasl_ops *ops;
	void		*ctx;
	char		 mech[32];
	bool		 busy;
};

struct scram_lookup {
	struct auth_sasl *a;
	char		*user;
	struct scram_creds creds;
	bool		 found;
};

static unsigned char scram_secret[32];

void
auth_sasl_set_secret(const unsigned char secret[32])
{
	memcpy(scram_secret, secret, sizeof(scram_secret));
}

struct auth_sasl *
auth_sasl_new(struct conn *c, const char *mech, const struct auth_sasl_ops *ops,
    void *ctx)
{
	struct auth_sasl *a;
	struct sasl_server *s = sasl_server_new(mech);

	if (s == NULL)
		return NULL;
	a = xcalloc(1, sizeof(*a));
	a->conn = c;
	a->sasl = s;
	a->ops = ops;
	a->ctx = ctx;
	snprintf(a->mech, sizeof(a->mech), "%s", sasl_server_mech(s));
	sasl_server_set_scram_secret(s, scram_secret);
	return a;
}

void
auth_sasl_free(struct auth_sasl **ap)
{
	struct auth_sasl *a = *ap;

	if (a == NULL)
		return;
	sasl_server_free(&a->sasl);
	free(a);
	*ap = NULL;
}

bool
auth_sasl_busy(const struct auth_sasl *a)
{
	return a->busy;
}

const char *
auth_sasl_mech(const struct auth_sasl *a)
{
	return a->mech;
}

static void
result_cb(struct conn *c, void *ctx, const struct auth_result *res)
{
	struct auth_sasl *a = ctx;

	a->busy = false;
	/* Last action: the session may free the exchange here. */
	a->ops->done(a->ctx, res);
}

static void
lookup_work(void *arg)
{
	struct scram_lookup *l = arg;
	struct account a;

	memset(&a, 0, sizeof(a));
	if (store_account_get(srv->store, l->user, &a) == 1 && a.scram != NULL &&
	    scram_creds_parse(a.scram, &l->creds) == 0)
		l->found = true;
	else {
		/*
		 * Unknown users (and accounts without SCRAM credentials) get
		 * a salt that is stable per name, like a real one; the name
		 * is folded the way lookups fold it.
		 */
		char *folded = xstrdup(l->user);

		ascii_lower(folded);
		scram_creds_fake(folded, scram_secret, &l->creds);
		free(folded);
		if (a.id != 0 && a.scram == NULL)
			log_info("s=%s %s account %s has no SCRAM "
			    "credentials; set its password again",
			    l->a->conn->sid, l->a->conn->ops->proto,
			    a.address);
	}
	account_clear(&a);
}

static void step_result(struct auth_sasl *, int, struct buf *);

static void
lookup_done(void *arg)
{
	struct scram_lookup *l = arg;
	struct auth_sasl *a = l->a;
	struct conn *c = a->conn;
	struct buf chal = BUF_INIT;
	int r;

	if (!c->closing) {
		a->busy = false;
		r = sasl_server_set_scram(a->sasl, &l->creds, &chal);
		step_result(a, r, &chal);
		/*
		 * The session left its input alone while the lookup ran:
		 * whatever the client sent meanwhile is read now, not when
		 * (if ever) more arrives.
		 */
		conn_kick(c);
	}
	buf_free(&chal);
	scram_creds_wipe(&l->creds);
	free(l->user);
	free(l);
	conn_release(c);
}

static void
step_result(struct auth_sasl *a, int r, struct buf *chal)
{
	const struct sasl_creds *cr;
	const char *err;

	switch (r) {
	case SASL_STEP_CONTINUE:
		a->ops->challenge(a->ctx, buf_cstr(chal));
		return;
	case SASL_STEP_NEED_CREDS: {
		struct scram_lookup *l = xcalloc(1, sizeof(*l));

		cr = sasl_server_creds(a->sasl);
		l->a = a;
		l->user = xstrdup(cr->authcid);
		a->busy = true;
		conn_hold(a->conn);
		worker_submit_to(WORKER_AUTH, lookup_work, lookup_done, l);
		return;
	}
	case SASL_STEP_DONE:
		cr = sasl_server_creds(a->sasl);
		a->busy = true;
		if (cr->authzid[0] != '\0' &&
		    strcasecmp(cr->authzid, cr->authcid) != 0)
			auth_reject(a->conn, a->mech, cr->authcid,
			    "authorization identity not allowed", result_cb, a);
		else if (sasl_server_authenticated(a->sasl))
			auth_authorize(a->conn, a->mech, cr->authcid,
			    result_cb, a);
		else
			auth_start(a->conn, a->mech, cr->authcid, cr->passwd,
			    result_cb, a);
		return;
	case SASL_STEP_CANCELLED:
		a->ops->aborted(a->ctx, true, "cancelled");
		return;
	default:
		err = sasl_server_error(a->sasl);
		if (err != NULL && strcmp(err, SASL_ERROR_AUTH_FAILED) == 0) {
			cr = sasl_server_creds(a->sasl);
			a->busy = true;
			auth_reject(a->conn, a->mech, cr ? cr->authcid : "",
			    "wrong password", result_cb, a);
			return;
		}
		a->ops->aborted(a->ctx, false, err ? err : "invalid response");
		return;
	}
}

void
auth_sasl_input(struct auth_sasl *a, const char *resp, size_t len)
{
	struct buf chal = BUF_INIT;
	int r;

	r = sasl_server_step(a->sasl, resp, len, &chal);
	step_result(a, r, &chal);
	buf_free(&chal);
}
