/*
 * smtp_checks - what a receiving server checks of mail from other servers
 * (port 25): SPF of MAIL FROM and HELO (RFC 7208), DKIM signatures (RFC
 * 6376), the DMARC policy of the From domain (RFC 7489); the results in an
 * Authentication-Results field (RFC 8601) and a verdict.
 *
 * SPF starts at MAIL and runs while the client sends RCPT and the data;
 * DKIM starts when the data is complete, then DMARC needs both.  All DNS
 * goes through dns_lookup() on the session's I/O thread, so the callbacks
 * run there too.  The body hash is computed on the I/O thread as well
 * (dkim_verify_run streams it from the spool).
 *
 * The verdict: a DMARC "reject" (when dmarc_policy = apply) is 550 5.7.1;
 * "quarantine" delivers into Junk; an SPF "fail" of MAIL FROM is 550
 * 5.7.23 unless DMARC passed (a forwarder breaks SPF, not DKIM) or
 * spf_fail = mark.  DNS trouble never rejects: the message is accepted
 * with "temperror" in the header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "authres/authres.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/spool.h"
#include "core/xmalloc.h"
#include "dkim/dkim.h"
#include "dmarc/dmarc.h"
#include "dns/dns.h"
#include "server.h"
#include "smtp/smtp_int.h"
#include "spf/spf.h"

struct smtp_checks {
	char		 ip[INET6_ADDRSTRLEN];
	char		 helo[SMTP_DOMAIN_MAX + 1];
	char		 mail_from[SMTP_PATH_MAX + 1];
	char		 sid[ID_HEX_LEN + 1];

	struct spf_check *spf_mf;	/* MAIL FROM (HELO for <>) */
	struct spf_check *spf_helo;	/* HELO, when MAIL FROM is not <> */
	bool		 mf_done, helo_done;
	struct spf_result mf, helo_res;

	struct dkim_verify *dkim;
	bool		 dkim_done;
	struct dkim_results dkim_res;

	struct dmarc_check *dmarc;
	bool		 finishing;
	bool		 concluded;
	enum dmarc_from_status from_status;
	struct buf	 from_domain;

	void		(*done)(void *, struct smtp_verdict *);
	void		*ctx;
	struct smtp_verdict v;
};

bool
smtp_checks_wanted(const struct smtp_session *s)
{
	const struct config *cfg = srv->cfg;

	return cfg->checks && !s->submission && !s->authenticated &&
	    !netlist_match(cfg->checks_skip, cfg->nchecks_skip,
	    s->conn->peer_ip);
}

static void conclude(struct smtp_checks *);

static void
maybe_continue(struct smtp_checks *c)
{
	if (c->finishing && c->mf_done && c->helo_done && c->dkim_done &&
	    c->dmarc == NULL && !c->concluded)
		conclude(c);
}

static void
spf_mf_done(void *arg, const struct spf_result *r)
{
	struct smtp_checks *c = arg;

	c->mf = *r;
	c->mf_done = true;
	maybe_continue(c);
}

static void
spf_helo_done(void *arg, const struct spf_result *r)
{
	struct smtp_checks *c = arg;

	c->helo_res = *r;
	c->helo_done = true;
	maybe_continue(c);
}

struct smtp_checks *
smtp_checks_start(const struct smtp_session *s)
{
	struct smtp_checks *c = xcalloc(1, sizeof(*c));
	bool literal = s->helo[0] == '[';

	snprintf(c->ip, sizeof(c->ip), "%s", s->conn->peer_ip);
	snprintf(c->helo, sizeof(c->helo), "%s", s->helo);
	snprintf(c->mail_from, sizeof(c->mail_from), "%s", s->mail_from);
	memcpy(c->sid, s->conn->sid, sizeof(c->sid));
	buf_init(&c->from_domain);
	buf_init(&c->v.header);
	c->mf.result = c->helo_res.result = SPF_NONE;
	c->helo_done = true;
	if (c->mail_from[0] == '\0' && literal) {
		/* No identity to check (RFC 7208 2.3: HELO is a domain). */
		c->mf_done = true;
		return c;
	}
	c->spf_mf = spf_check_new(&dns_real_resolver, c->ip,
	    literal ? "unknown" : c->helo, c->mail_from, smtp_hostname());
	if (c->spf_mf == NULL) {
		c->mf_done = true;
		return c;
	}
	if (c->mail_from[0] != '\0' && !literal) {
		c->helo_done = false;
		c->spf_helo = spf_check_new(&dns_real_resolver, c->ip,
		    c->helo, "", smtp_hostname());
		if (c->spf_helo == NULL)
			c->helo_done = true;
	}
	/* Either may call back at once; maybe_continue waits for finish. */
	spf_check_run(c->spf_mf, NULL, spf_mf_done, c);
	if (c->spf_helo != NULL)
		spf_check_run(c->spf_helo, c->helo, spf_helo_done, c);
	return c;
}

static void
dkim_done(void *arg, const struct dkim_results *r)
{
	struct smtp_checks *c = arg;

	c->dkim_res = *r;
	c->dkim_done = true;
	maybe_continue(c);
}

/*
 * The header fields that matter here: the From domain (one From field
 * with one address, RFC 7489 6.6.1) and Authentication-Results fields that
 * claim our host name, which must not reach the user (RFC 8601 5).
 */
static void
scan_header(struct smtp_checks *c, const struct spool *sp)
{
	struct dkim_hdrs h;
	const char *err;
	uint64_t body_off;
	size_t nfrom = 0;

	c->from_status = DMARC_FROM_NONE;
	dkim_hdrs_init(&h);
	if (dkim_read_header(sp, &h, &body_off, &err) < 0) {
		c->from_status = DMARC_FROM_INVALID;
		dkim_hdrs_free(&h);
		return;
	}
	for (size_t i = 0; i < h.n; i++) {
		const struct dkim_field *f = &h.f[i];
		const char *p = h.raw.data + f->off;
		const char *colon;

		if (authres_field_claims_id(p, f->len, smtp_hostname())) {
			size_t len = f->len, rest = h.raw.len - f->off;

			/* The field with its line end (len stops before). */
			if (len < rest && p[len] == '\r')
				len++;
			if (len < rest && p[len] == '\n')
				len++;
			c->v.strip = xgrowarray(c->v.strip, c->v.nstrip,
			    sizeof(*c->v.strip));
			c->v.strip[c->v.nstrip].off = f->off;
			c->v.strip[c->v.nstrip].len = len;
			c->v.nstrip++;
			continue;
		}
		if (!dkim_hdrs_is(&h, i, "From", 4) || !f->has_colon)
			continue;
		if (++nfrom > 1) {
			c->from_status = DMARC_FROM_MULTIPLE;
			continue;
		}
		colon = memchr(p, ':', f->len);
		c->from_status = dmarc_from_domain(colon + 1,
		    f->len - (size_t)(colon + 1 - p), &c->from_domain);
	}
	if (nfrom > 1) {
		c->from_status = DMARC_FROM_MULTIPLE;
		buf_reset(&c->from_domain);
	}
	dkim_hdrs_free(&h);
}

void
smtp_checks_finish(struct smtp_checks *c, const struct spool *sp,
    void (*done)(void *, struct smtp_verdict *), void *ctx)
{
	c->done = done;
	c->ctx = ctx;
	scan_header(c, sp);
	c->dkim = dkim_verify_new(&dns_real_resolver);
	c->finishing = true;
	dkim_verify_run(c->dkim, sp, time(NULL), dkim_done, c);
}

/*
 * Whether a DKIM signature that passed is of the From domain or of its
 * organizational domain (relaxed alignment, RFC 7489 3.1.1).
 */
static bool
author_signed(const struct smtp_checks *c)
{
	const char *from_org;

	if (c->from_status != DMARC_FROM_OK)
		return false;
	from_org = psl_org_domain(srv->psl, buf_cstr(&c->from_domain));
	for (size_t i = 0; i < c->dkim_res.n; i++) {
		const struct dkim_sig_result *r = &c->dkim_res.sig[i];
		const char *org;

		if (r->result != DKIM_PASS || r->d[0] == '\0')
			continue;
		if (strcasecmp(r->d, buf_cstr(&c->from_domain)) == 0)
			return true;
		org = psl_org_domain(srv->psl, r->d);
		if (org != NULL && from_org != NULL &&
		    strcasecmp(org, from_org) == 0)
			return true;
	}
	return false;
}

/* The AR field and the verdict, once DMARC has answered (or was not run). */
static void
verdict(struct smtp_checks *c, const struct dmarc_result *dr)
{
	struct authres_item items[2 + DKIM_MAX_SIGS + 1];
	char bprefix[DKIM_MAX_SIGS][DKIM_B_MAX + 1];
	char comment[128], helo_addr[SMTP_DOMAIN_MAX + 16];
	enum dmarc_policy dis = DMARC_POLICY_NONE;
	const struct dkim_results *dk = &c->dkim_res;
	size_t n = 0;
	struct buf sum = BUF_INIT;
	bool dmarc_pass = dr != NULL && dr->result == DMARC_PASS;

	memset(items, 0, sizeof(items));
	/* SPF: MAIL FROM (or HELO for the null sender), then HELO. */
	items[n].method = "spf";
	items[n].result = spf_result_name(c->mf.result);
	if (c->mf.result == SPF_TEMPERROR || c->mf.result == SPF_PERMERROR)
		items[n].reason = c->mf.reason;
	if (c->mail_from[0] != '\0')
		items[n].props[0] = (struct authres_prop){ "smtp", "mailfrom",
		    c->mail_from };
	else {
		snprintf(helo_addr, sizeof(helo_addr), "%s", c->helo);
		items[n].props[0] = (struct authres_prop){ "smtp", "helo",
		    helo_addr };
	}
	n++;
	if (c->spf_helo != NULL) {
		items[n].method = "spf";
		items[n].result = spf_result_name(c->helo_res.result);
		items[n].props[0] = (struct authres_prop){ "smtp", "helo",
		    c->helo };
		n++;
	}
	/* DKIM: each signature, or none. */
	if (dk->n == 0) {
		items[n].method = "dkim";
		items[n].result = "none";
		n++;
	}
	for (size_t i = 0; i < dk->n; i++) {
		const struct dkim_sig_result *r = &dk->sig[i];
		size_t np = 0, bp = dkim_result_b_prefix(dk, i);

		items[n].method = "dkim";
		items[n].result = dkim_result_name(r->result);
		if (r->result != DKIM_PASS)
			items[n].reason = dkim_reason_text(r->reason);
		if (r->d[0] != '\0')
			items[n].props[np++] = (struct authres_prop){
			    "header", "d", r->d };
		if (r->s[0] != '\0')
			items[n].props[np++] = (struct authres_prop){
			    "header", "s", r->s };
		if (r->alg_known)
			items[n].props[np++] = (struct authres_prop){
			    "header", "a", dkim_alg_name(r->alg) };
		if (bp > 0) {
			snprintf(bprefix[i], sizeof(bprefix[i]), "%.*s",
			    (int)bp, r->b);
			items[n].props[np++] = (struct authres_prop){
			    "header", "b", bprefix[i] };
		}
		n++;
	}
	/* DMARC: dis= is what we do, after [smtp] dmarc_policy. */
	if (dr != NULL) {
		dis = dr->disposition;
		if (srv->cfg->dmarc_policy == CONFIG_DMARC_NONE)
			dis = DMARC_POLICY_NONE;
		else if (srv->cfg->dmarc_policy == CONFIG_DMARC_QUARANTINE &&
		    dis == DMARC_POLICY_REJECT)
			dis = DMARC_POLICY_QUARANTINE;
	}
	items[n].method = "dmarc";
	if (dr != NULL) {
		items[n].result = dmarc_status_name(dr->result);
		if (dr->record != NULL) {
			snprintf(comment, sizeof(comment), "p=%s dis=%s",
			    dmarc_policy_name(dr->policy),
			    dmarc_policy_name(dis));
			items[n].comment = comment;
		}
		if (dr->result == DMARC_TEMPERROR ||
		    dr->result == DMARC_PERMERROR)
			items[n].reason = dr->reason;
		items[n].props[0] = (struct authres_prop){ "header", "from",
		    dr->from_domain };
	} else {
		items[n].result = c->from_status == DMARC_FROM_NONE ? "none" :
		    "permerror";
		items[n].reason = c->from_status == DMARC_FROM_MULTIPLE ?
		    "several From addresses" : c->from_status ==
		    DMARC_FROM_NONE ? NULL : "unusable From address";
	}
	n++;

	buf_puts(&c->v.header, "Authentication-Results: ");
	authres_format(&c->v.header, smtp_hostname(), items, n);
	buf_puts(&c->v.header, "\r\n");

	/* The summary for the log: "spf=pass dkim=pass dmarc=fail". */
	buf_printf(&sum, "spf=%s dkim=%s dmarc=%s", items[0].result,
	    dk->n == 0 ? "none" : dkim_result_name(dk->sig[0].result),
	    items[n - 1].result);
	snprintf(c->v.summary, sizeof(c->v.summary), "%s", buf_cstr(&sum));
	buf_free(&sum);

	c->v.action = SMTP_VERDICT_ACCEPT;
	if (dr != NULL && dr->result == DMARC_FAIL) {
		if (dis == DMARC_POLICY_REJECT) {
			c->v.action = SMTP_VERDICT_REJECT;
			snprintf(c->v.reply, sizeof(c->v.reply), "550 5.7.1 "
			    "Unauthenticated email from %s is not accepted "
			    "due to its DMARC policy", dr->from_domain);
			return;
		}
		if (dis == DMARC_POLICY_QUARANTINE)
			c->v.action = SMTP_VERDICT_JUNK;
	}
	/*
	 * An SPF fail is forgiven when the author's domain signed the
	 * message: forwarding breaks SPF, not DKIM.
	 */
	if (c->mf.result == SPF_FAIL && !dmarc_pass && !author_signed(c) &&
	    srv->cfg->spf_fail == CONFIG_SPF_REJECT) {
		const char *dom = strrchr(c->mail_from, '@');

		c->v.action = SMTP_VERDICT_REJECT;
		if (c->mf.explanation != NULL)
			snprintf(c->v.reply, sizeof(c->v.reply), "550 5.7.23 "
			    "SPF: %s", c->mf.explanation);
		else
			snprintf(c->v.reply, sizeof(c->v.reply), "550 5.7.23 "
			    "SPF: %s is not allowed to send mail for %s",
			    c->ip, dom != NULL ? dom + 1 : c->helo);
	}
}

static void
dmarc_done(void *arg, const struct dmarc_result *r)
{
	struct smtp_checks *c = arg;

	verdict(c, r);
	c->concluded = true;
	c->done(c->ctx, &c->v);
}

static void
conclude(struct smtp_checks *c)
{
	const char *dkim_d[DKIM_MAX_SIGS];
	struct dmarc_auth_inputs in;
	const char *at;
	size_t nd = 0;

	if (c->from_status != DMARC_FROM_OK) {
		verdict(c, NULL);
		c->concluded = true;
		c->done(c->ctx, &c->v);
		return;
	}
	for (size_t i = 0; i < c->dkim_res.n; i++)
		if (c->dkim_res.sig[i].result == DKIM_PASS &&
		    c->dkim_res.sig[i].d[0] != '\0')
			dkim_d[nd++] = c->dkim_res.sig[i].d;
	memset(&in, 0, sizeof(in));
	in.spf_pass = c->mf.result == SPF_PASS;
	in.spf_domain = (at = strrchr(c->mail_from, '@')) != NULL ? at + 1 :
	    c->helo;
	in.dkim_domains = dkim_d;
	in.n_dkim = nd;
	c->dmarc = dmarc_check_new(&dns_real_resolver, srv->psl);
	dmarc_check_run(c->dmarc, buf_cstr(&c->from_domain), &in, dmarc_done,
	    c);
}

void
smtp_checks_free(struct smtp_checks **cp)
{
	struct smtp_checks *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	spf_check_free(&c->spf_mf);
	spf_check_free(&c->spf_helo);
	dkim_verify_free(&c->dkim);
	dmarc_check_free(&c->dmarc);
	buf_free(&c->from_domain);
	buf_free(&c->v.header);
	free(c->v.strip);
	free(c);
}
