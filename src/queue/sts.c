/*
 * sts - MTA-STS policy discovery, fetching and caching (RFC 8461).
 *
 * A lookup lives until its callback has run and nothing it started is
 * still in flight (DNS answers and the cache write cannot be called
 * back), so a cancelled lookup is freed only when those return.
 *
 * A fetch that failed is not repeated for the same domain and TXT id for
 * STS_REFETCH_AFTER seconds (3.3: senders may rate-limit fetches), so a
 * broken policy host is not asked again by every retry and every
 * parallel connection.  That memory is the queue thread's alone.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "dns/dns.h"
#include "https_get.h"
#include "server.h"
#include "store/store.h"
#include "sts.h"

#define STS_PORT		443
#define STS_PATH		"/.well-known/mta-sts.txt"
#define STS_FETCH_TIMEOUT	60	/* seconds, the whole fetch (3.3) */
#define STS_REFETCH_AFTER	300	/* seconds after a failed fetch */
#define STS_FAILED_MAX		256	/* failed fetches remembered */

struct sts_failed {
	char		*domain;
	char		 id[STS_ID_MAX + 1];
	time_t		 until;
	char		*why;
	struct sts_failed *next;
};

static struct sts_failed *failed_fetches;

struct sts_lookup {
	char		*domain;
	sts_cb		*cb;
	void		*ctx;
	bool		 done;		/* the callback ran (or never will) */
	bool		 cancelled;
	unsigned	 pending;	/* DNS lookups, the cache write */
	struct https_get *get;

	/* The cached policy, when it is valid and not expired. */
	struct sts_cache_row cached;
	struct sts_policy cached_pol;
	bool		 cached_ok;

	char		 id[STS_ID_MAX + 1];	/* of the TXT record */
	struct sockaddr_storage *addrs;		/* of mta-sts.<domain> */
	size_t		 naddrs;
	struct sts_policy fresh;
	struct sts_cache_row row;		/* being written */
};

int
sts_init(const char *ca_file, const char **error_r)
{
	return https_client_init(ca_file, error_r);
}

/* The reason of a recent failed fetch of domain's policy id, or NULL. */
static const char *
failed_recently(const char *domain, const char *id)
{
	time_t now = time(NULL);

	for (struct sts_failed *f = failed_fetches; f != NULL; f = f->next)
		if (f->until > now && strcmp(f->id, id) == 0 &&
		    strcasecmp(f->domain, domain) == 0)
			return f->why;
	return NULL;
}

static void
failed_free(struct sts_failed *f)
{
	free(f->domain);
	free(f->why);
	free(f);
}

static void
remember_failure(const char *domain, const char *id, const char *why)
{
	struct sts_failed **pp, *f;
	time_t now = time(NULL);
	size_t n = 0;

	/* Drop what expired, and the oldest beyond the limit. */
	for (pp = &failed_fetches; (f = *pp) != NULL;) {
		if (f->until <= now || n >= STS_FAILED_MAX - 1 ||
		    strcasecmp(f->domain, domain) == 0) {
			*pp = f->next;
			failed_free(f);
			continue;
		}
		n++;
		pp = &f->next;
	}
	f = xcalloc(1, sizeof(*f));
	f->domain = xstrdup(domain);
	snprintf(f->id, sizeof(f->id), "%s", id);
	f->until = now + STS_REFETCH_AFTER;
	f->why = xstrdup(why);
	f->next = failed_fetches;
	failed_fetches = f;
}

void
sts_deinit(void)
{
	while (failed_fetches != NULL) {
		struct sts_failed *f = failed_fetches;

		failed_fetches = f->next;
		failed_free(f);
	}
	https_client_deinit();
}

static void
maybe_free(struct sts_lookup *l)
{
	if (!l->done || l->pending > 0 || l->get != NULL)
		return;
	store_sts_row_free(&l->cached);
	store_sts_row_free(&l->row);
	sts_policy_free(&l->cached_pol);
	sts_policy_free(&l->fresh);
	free(l->addrs);
	free(l->domain);
	free(l);
}

static void
deliver(struct sts_lookup *l, const struct sts_policy *p)
{
	if (l->done)
		return;
	l->done = true;
	if (!l->cancelled)
		l->cb(l->ctx, p);
}

static void
fetch_failed(struct sts_lookup *l, const char *why)
{
	log_warnx("queue domain=%s mta-sts policy fetch failed: %s%s",
	    l->domain, why, l->cached_ok ? "; the cached policy stays in "
	    "force" : "");
	remember_failure(l->domain, l->id, why);
	deliver(l, l->cached_ok ? &l->cached_pol : NULL);
	maybe_free(l);
}

static void
put_work(void *arg)
{
	struct sts_lookup *l = arg;
	const char *err;

	if (store_sts_put(srv->store, &l->row, &err) < 0)
		log_warnx("queue domain=%s mta-sts policy not cached: %s",
		    l->domain, err);
}

static void
put_done(void *arg)
{
	struct sts_lookup *l = arg;

	l->pending--;
	deliver(l, &l->fresh);
	maybe_free(l);
}

static void
fetched(void *ctx, const char *body, size_t len, const char *error)
{
	struct sts_lookup *l = ctx;
	const char *why;
	time_t now = time(NULL);

	l->get = NULL;
	if (l->cancelled) {
		maybe_free(l);
		return;
	}
	if (error != NULL) {
		fetch_failed(l, error);
		return;
	}
	if (sts_policy_parse(body, len, &l->fresh, &why) < 0) {
		fetch_failed(l, why);
		return;
	}
	log_info("queue domain=%s mta-sts policy fetched id=%s mode=%s "
	    "max_age=%u mx=%zu", l->domain, l->id, sts_mode_name(l->fresh.mode),
	    l->fresh.max_age, l->fresh.nmx);
	/* The cache is written before the policy is used (5.1). */
	l->row.domain = xstrdup(l->domain);
	l->row.id = xstrdup(l->id);
	l->row.policy = xstrndup(body, len);
	l->row.fetched = now;
	l->row.expires = now + (time_t)l->fresh.max_age;
	l->pending++;
	worker_submit(put_work, put_done, l);
}

static void
start_fetch(struct sts_lookup *l)
{
	struct https_get_opts o;
	char host[300];

	if (l->naddrs == 0) {
		snprintf(host, sizeof(host), "no address for mta-sts.%s",
		    l->domain);
		fetch_failed(l, host);
		return;
	}
	snprintf(host, sizeof(host), "mta-sts.%s", l->domain);
	memset(&o, 0, sizeof(o));
	o.host = host;
	o.path = STS_PATH;
	o.media_type = "text/plain";
	o.max_body = STS_POLICY_MAX;
	o.connect_timeout = (unsigned)srv->cfg->connect_timeout;
	o.timeout = STS_FETCH_TIMEOUT;
	l->get = https_get_start(iothread_base(iothread_self()), l->addrs,
	    l->naddrs, STS_PORT, &o, fetched, l);
}

static void
addr_answer(void *ctx, const struct dns_answer *ans)
{
	struct sts_lookup *l = ctx;

	l->pending--;
	if (!l->cancelled && ans->status == DNS_OK && ans->n > 0) {
		l->addrs = xreallocarray(l->addrs, l->naddrs + ans->n,
		    sizeof(*l->addrs));
		memcpy(l->addrs + l->naddrs, ans->addr,
		    ans->n * sizeof(*l->addrs));
		l->naddrs += ans->n;
	}
	if (l->pending > 0 || l->cancelled) {
		maybe_free(l);
		return;
	}
	start_fetch(l);
}

static void
txt_answer(void *ctx, const struct dns_answer *ans)
{
	struct sts_lookup *l = ctx;
	const char *why = "no STSv1 TXT record";
	char name[300];
	int have = 0;

	l->pending--;
	if (l->cancelled) {
		maybe_free(l);
		return;
	}
	if (ans->status == DNS_OK)
		have = sts_txt_select(ans->txt, ans->txt_len, ans->n, l->id,
		    &why);
	else if (ans->status == DNS_TEMPFAIL || ans->status == DNS_BOGUS)
		why = ans->error ? ans->error : "TXT lookup failed";
	if (!have) {
		/* 5.1: a cached policy outlives its TXT record. */
		log_debug("queue domain=%s mta-sts: %s%s", l->domain, why,
		    l->cached_ok ? "; the cached policy is used" : "");
		deliver(l, l->cached_ok ? &l->cached_pol : NULL);
		maybe_free(l);
		return;
	}
	if (l->cached_ok && strcmp(l->cached.id, l->id) == 0) {
		deliver(l, &l->cached_pol);
		maybe_free(l);
		return;
	}
	if ((why = failed_recently(l->domain, l->id)) != NULL) {
		log_debug("queue domain=%s mta-sts: the fetch failed lately "
		    "(%s)%s", l->domain, why, l->cached_ok ? "; the cached "
		    "policy is used" : "");
		deliver(l, l->cached_ok ? &l->cached_pol : NULL);
		maybe_free(l);
		return;
	}
	/* New (or expired, or changed): fetch it (3.3). */
	snprintf(name, sizeof(name), "mta-sts.%s", l->domain);
	l->pending = 2;
	dns_lookup(name, DNS_T_A, addr_answer, l);
	dns_lookup(name, DNS_T_AAAA, addr_answer, l);
}

struct sts_lookup *
sts_lookup_start(const char *domain, sts_cb *cb, void *ctx)
{
	struct sts_lookup *l = xcalloc(1, sizeof(*l));
	char name[300];
	const char *why;

	l->domain = xstrdup(domain);
	l->cb = cb;
	l->ctx = ctx;
	if (store_sts_get(srv->store, domain, &l->cached) == 1) {
		if (l->cached.expires > time(NULL) &&
		    sts_policy_parse(l->cached.policy, strlen(l->cached.policy),
		    &l->cached_pol, &why) == 0)
			l->cached_ok = true;
	}
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	l->pending = 1;
	dns_lookup(name, DNS_T_TXT, txt_answer, l);
	return l;
}

void
sts_lookup_cancel(struct sts_lookup *l)
{
	l->cancelled = true;
	l->done = true;
	if (l->get != NULL) {
		https_get_cancel(l->get);
		l->get = NULL;
	}
	maybe_free(l);
}
