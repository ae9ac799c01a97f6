/*
 * dns - libunbound on the event loop.
 *
 * One validating resolver context for the process: lookups may be started
 * from any thread (libunbound is thread safe), its file descriptor is
 * watched on the first I/O thread, which decodes each answer and posts it
 * to the thread that asked.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <unbound.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/xmalloc.h"
#include "dns.h"

#define ROOT_KEY	"/usr/share/dns/root.key"

struct dns_req {
	struct dns_req	*prev, *next;	/* in flight in libunbound */
	dns_cb		*cb;
	void		*ctx;
	struct iothread	*thr;
	int		 type;
	struct dns_answer ans;
	char		 error[128];
};

static struct ub_ctx *ubctx;
static struct event *ub_event;
/* Queries libunbound still holds: freed at shutdown if never answered. */
static pthread_mutex_t	 inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dns_req	*inflight;

static void
inflight_add(struct dns_req *r)
{
	pthread_mutex_lock(&inflight_lock);
	r->prev = NULL;
	r->next = inflight;
	if (inflight != NULL)
		inflight->prev = r;
	inflight = r;
	pthread_mutex_unlock(&inflight_lock);
}

static void
inflight_del(struct dns_req *r)
{
	pthread_mutex_lock(&inflight_lock);
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		inflight = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	pthread_mutex_unlock(&inflight_lock);
}

static void
real_lookup(void *impl, const char *name, int type, dns_cb *cb, void *ctx)
{
	dns_lookup(name, type, cb, ctx);
}

const struct dns_resolver dns_real_resolver = { real_lookup, NULL };

/*
 * Reads an uncompressed wire name at p (rdata), lower case, no final dot.
 * Only host names: labels of letters, digits, '-' and '_' (a label may
 * hold any byte in DNS; as Postfix does, an MX or PTR name that is no
 * host name is not used, so no NUL, dot, space or control character
 * inside a label reaches a lookup, a log line or a DSN).
 */
static int
wire_name(const unsigned char *p, size_t len, size_t *used, char *out,
    size_t outlen)
{
	size_t i = 0, o = 0;

	for (;;) {
		size_t l;

		if (i >= len)
			return -1;
		l = p[i++];
		if (l == 0)
			break;
		if (l > 63 || i + l > len)	/* compression is not used */
			return -1;
		if (o > 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = '.';
		}
		if (o + l >= outlen)
			return -1;
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[i + k];

			if (!(c >= '0' && c <= '9') && !((c | 32) >= 'a' &&
			    (c | 32) <= 'z') && c != '-' && c != '_')
				return -1;
			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		i += l;
	}
	out[o] = '\0';
	*used = i;
	return 0;
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return (int)x->pref - (int)y->pref;
}

int
dns_answer_decode(struct dns_answer *ans, int type,
    const unsigned char *const *rdata, const int *len, size_t n)
{
	size_t k = 0;

	ans->type = type;
	ans->n = 0;
	switch (type) {
	case DNS_T_TXT:
		ans->txt = xcalloc(n + 1, sizeof(char *));
		ans->txt_len = xcalloc(n + 1, sizeof(size_t));
		for (size_t i = 0; i < n; i++) {
			char *t = xmalloc((size_t)len[i] + 1);
			size_t tl = 0;

			for (int j = 0; j < len[i];) {
				int l = rdata[i][j++];

				if (j + l > len[i])
					break;
				memcpy(t + tl, rdata[i] + j, (size_t)l);
				tl += (size_t)l;
				j += l;
			}
			t[tl] = '\0';
			ans->txt[k] = t;
			ans->txt_len[k++] = tl;
		}
		break;
	case DNS_T_MX:
		ans->mx = xcalloc(n + 1, sizeof(*ans->mx));
		for (size_t i = 0; i < n; i++) {
			size_t used;

			if (len[i] < 3 || wire_name(rdata[i] + 2,
			    (size_t)len[i] - 2, &used, ans->mx[k].name,
			    sizeof(ans->mx[k].name)) < 0)
				continue;
			ans->mx[k].pref = (uint16_t)(rdata[i][0] << 8 |
			    rdata[i][1]);
			k++;
		}
		qsort(ans->mx, k, sizeof(*ans->mx), mx_cmp);
		break;
	case DNS_T_A:
	case DNS_T_AAAA:
		ans->addr = xcalloc(n + 1, sizeof(*ans->addr));
		for (size_t i = 0; i < n; i++) {
			if (type == DNS_T_A && len[i] == 4) {
				struct sockaddr_in *sin = (void *)&ans->addr[k];

				sin->sin_family = AF_INET;
				memcpy(&sin->sin_addr, rdata[i], 4);
				k++;
			} else if (type == DNS_T_AAAA && len[i] == 16) {
				struct sockaddr_in6 *s6 = (void *)&ans->addr[k];

				s6->sin6_family = AF_INET6;
				memcpy(&s6->sin6_addr, rdata[i], 16);
				k++;
			}
		}
		break;
	case DNS_T_PTR:
		ans->names = xcalloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			char name[256];
			size_t used;

			/* The root is no host (only MX has a use for it). */
			if (wire_name(rdata[i], (size_t)len[i], &used, name,
			    sizeof(name)) == 0 && name[0] != '\0')
				ans->names[k++] = xstrdup(name);
		}
		break;
	case DNS_T_TLSA:
		ans->tlsa = xcalloc(n + 1, sizeof(*ans->tlsa));
		for (size_t i = 0; i < n; i++) {
			unsigned char *d;

			if (len[i] < 4)
				continue;
			ans->tlsa[k].usage = rdata[i][0];
			ans->tlsa[k].selector = rdata[i][1];
			ans->tlsa[k].mtype = rdata[i][2];
			ans->tlsa[k].len = (size_t)len[i] - 3;
			d = xmalloc(ans->tlsa[k].len);
			memcpy(d, rdata[i] + 3, ans->tlsa[k].len);
			ans->tlsa[k].data = d;
			k++;
		}
		break;
	default:
		return -1;
	}
	ans->n = k;
	return 0;
}

void
dns_answer_free(struct dns_answer *ans)
{
	for (size_t i = 0; i < ans->n; i++) {
		if (ans->txt != NULL)
			free((char *)ans->txt[i]);
		if (ans->names != NULL)
			free(ans->names[i]);
		if (ans->tlsa != NULL)
			free((void *)ans->tlsa[i].data);
	}
	free(ans->txt);
	free(ans->txt_len);
	free(ans->mx);
	free(ans->addr);
	free(ans->names);
	free(ans->tlsa);
	memset(ans, 0, sizeof(*ans));
}

static void
deliver(void *arg)
{
	struct dns_req *r = arg;

	r->cb(r->ctx, &r->ans);
	dns_answer_free(&r->ans);
	free(r);
}

/* canon, lower case and without its trailing dot, if it is not qname. */
static void
canon_name(const char *qname, const char *canon, char *out, size_t size)
{
	size_t ql = strlen(qname), cl = strlen(canon);

	if (ql > 0 && qname[ql - 1] == '.')
		ql--;
	if (cl > 0 && canon[cl - 1] == '.')
		cl--;
	if (cl == 0 || cl >= size || (ql == cl &&
	    strncasecmp(qname, canon, cl) == 0))
		return;
	for (size_t i = 0; i < cl; i++)
		out[i] = (char)tolower((unsigned char)canon[i]);
	out[cl] = '\0';
}

static void
ub_done(void *mydata, int err, struct ub_result *res)
{
	struct dns_req *r = mydata;

	inflight_del(r);
	memset(&r->ans, 0, sizeof(r->ans));
	r->ans.type = r->type;
	if (err != 0 || res == NULL) {
		r->ans.status = DNS_TEMPFAIL;
		snprintf(r->error, sizeof(r->error), "%s", ub_strerror(err));
	} else if (res->bogus) {
		r->ans.status = DNS_BOGUS;
		snprintf(r->error, sizeof(r->error), "DNSSEC: %s",
		    res->why_bogus ? res->why_bogus : "bogus");
	} else if (res->havedata) {
		size_t n = 0;

		while (res->data[n] != NULL)
			n++;
		r->ans.status = DNS_OK;
		dns_answer_decode(&r->ans, r->type,
		    (const unsigned char *const *)res->data, res->len, n);
		if (r->ans.n == 0 && r->type == DNS_T_MX) {
			/*
			 * MX records, none usable: not "no MX" (which would
			 * send the mail to the domain's own address).
			 */
			r->ans.status = DNS_TEMPFAIL;
			snprintf(r->error, sizeof(r->error),
			    "malformed MX records");
		} else if (r->ans.n == 0)
			r->ans.status = DNS_NODATA;
	} else if (res->nxdomain)
		r->ans.status = DNS_NXDOMAIN;
	else if (res->rcode == 2 || res->rcode == 5) {	/* SERVFAIL, REFUSED */
		r->ans.status = DNS_TEMPFAIL;
		snprintf(r->error, sizeof(r->error), "rcode %d", res->rcode);
	} else
		r->ans.status = DNS_NODATA;
	if (res != NULL && res->canonname != NULL && res->qname != NULL)
		canon_name(res->qname, res->canonname, r->ans.canon,
		    sizeof(r->ans.canon));
	if (res != NULL) {
		r->ans.secure = res->secure != 0;
		r->ans.ttl = res->ttl > 0 ? (uint32_t)res->ttl : 0;
		ub_resolve_free(res);
	}
	r->ans.error = r->error[0] ? r->error : NULL;
	iothread_post(r->thr, deliver, r);
}

static void
ub_readable(evutil_socket_t fd, short what, void *arg)
{
	ub_process(ubctx);
}

static void
fail_now(void *arg)
{
	struct dns_req *r = arg;

	memset(&r->ans, 0, sizeof(r->ans));
	r->ans.type = r->type;
	r->ans.status = DNS_TEMPFAIL;
	r->ans.error = "resolver not running";
	deliver(r);
}

void
dns_lookup(const char *name, int type, dns_cb *cb, void *ctx)
{
	struct dns_req *r = xcalloc(1, sizeof(*r));
	int id;

	r->cb = cb;
	r->ctx = ctx;
	r->type = type;
	r->thr = iothread_self();
	PH_ASSERT(r->thr != NULL);
	if (ubctx == NULL) {
		iothread_post(r->thr, fail_now, r);
		return;
	}
	/* Listed first: the answer may come on another thread at once. */
	inflight_add(r);
	if (ub_resolve_async(ubctx, name, type, 1, r, ub_done, &id) != 0) {
		inflight_del(r);
		iothread_post(r->thr, fail_now, r);
	}
}

int
dns_init(const char *forwarders, const char *trust_anchor_file, bool dnssec,
    const char **error_r)
{
	static char errbuf[256];
	int r;

	if ((ubctx = ub_ctx_create()) == NULL) {
		*error_r = "cannot create the resolver";
		return -1;
	}
	/* A thread of ours, not a forked process. */
	ub_ctx_async(ubctx, 1);
	ub_ctx_set_option(ubctx, "do-not-query-localhost:", "no");
	if (forwarders != NULL && *forwarders != '\0') {
		char *copy = xstrdup(forwarders), *save = NULL, *f;

		for (f = strtok_r(copy, ", ", &save); f != NULL;
		    f = strtok_r(NULL, ", ", &save))
			if ((r = ub_ctx_set_fwd(ubctx, f)) != 0) {
				snprintf(errbuf, sizeof(errbuf), "resolver %s: "
				    "%s", f, ub_strerror(r));
				free(copy);
				*error_r = errbuf;
				dns_shutdown();
				return -1;
			}
		free(copy);
	}
	if (dnssec) {
		const char *ta = trust_anchor_file ? trust_anchor_file :
		    ROOT_KEY;

		if (access(ta, R_OK) == 0) {
			if ((r = ub_ctx_add_ta_file(ubctx, ta)) != 0) {
				snprintf(errbuf, sizeof(errbuf), "trust anchor "
				    "%s: %s", ta, ub_strerror(r));
				*error_r = errbuf;
				dns_shutdown();
				return -1;
			}
		} else
			log_warnx("dns: no DNSSEC trust anchor (%s); answers "
			    "are not validated and DANE is off", ta);
	}
	/*
	 * Names under .test (RFC 6761) are answered NXDOMAIN by the resolver
	 * library itself; with a forwarder configured, its answers for them
	 * are wanted (test and lab setups).  Last: changing the local zones
	 * finalizes the context, after which no trust anchor can be added.
	 */
	if (forwarders != NULL && *forwarders != '\0')
		(void)ub_ctx_zone_remove(ubctx, "test.");
	ub_event = event_new(iothread_base(iothread_self()), ub_fd(ubctx),
	    EV_READ | EV_PERSIST, ub_readable, NULL);
	event_add(ub_event, NULL);
	return 0;
}

void
dns_shutdown(void)
{
	if (ub_event != NULL)
		event_free(ub_event);
	ub_event = NULL;
	if (ubctx != NULL)
		ub_ctx_delete(ubctx);
	ubctx = NULL;
	/* Nobody waits for these any more: the loops have stopped. */
	pthread_mutex_lock(&inflight_lock);
	while (inflight != NULL) {
		struct dns_req *r = inflight;

		inflight = r->next;
		free(r);
	}
	pthread_mutex_unlock(&inflight_lock);
}
