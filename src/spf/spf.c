/*
 * spf - check_host() of RFC 7208 as a state machine over an asynchronous
 * resolver (see spf.h for the API and the choices made).
 *
 * One query is outstanding at a time.  query() records the state to
 * resume in and calls the resolver; the callback copies what it needs out
 * of the answer (which is only valid during the callback) and, unless it
 * ran synchronously from inside query(), drives spf_step() again.
 * spf_step() dispatches states until a query is pending or the check is
 * done, so a resolver answering from a table never makes us recurse.
 *
 * include pushes a frame (at most SPF_MAX_DNS_TERMS + 1 of them, since
 * each include is one of the ten DNS terms), redirect replaces the
 * current one, so exp= is taken from the record that finally decided at
 * the top level (6.2: an include's exp= and a redirecting record's exp=
 * are never used).
 *
 * Threats: everything in records and answers is hostile.  Records are
 * parsed whole before evaluation; the term, void, MX and PTR limits bound
 * the DNS traffic we can be made to generate (~125 queries at most); all
 * expansions are capped (SPF_MACRO_MAX) and explanations are reduced to
 * printable ASCII of bounded length before anyone sees them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "spf/spf.h"

enum spf_state {
	ST_IDLE = 0,
	ST_FETCH,		/* TXT of the current frame's domain */
	ST_FETCH_ANS,
	ST_TERMS,		/* evaluate the current term */
	ST_A_ANS,
	ST_MX_ANS,
	ST_MX_ADDR,		/* address of the next MX name */
	ST_MX_ADDR_ANS,
	ST_EXISTS_ANS,
	ST_P_PTR,		/* validated names of the client (ptr, %{p}) */
	ST_P_PTR_ANS,
	ST_P_ADDR,
	ST_P_ADDR_ANS,
	ST_EXP,			/* exp= of a fail */
	ST_EXP_ANS,
	ST_EXP_TEXT,
	ST_DONE,
};

struct spf_ip {
	int		 af;		/* AF_INET or AF_INET6 */
	uint8_t		 a[16];
};

/* What we keep of a DNS answer. */
struct spf_answer {
	enum dns_status	 status;
	size_t		 n;
	char		**str;		/* TXT (with len), MX and PTR names */
	size_t		*len;
	struct spf_ip	*ip;		/* A, AAAA */
};

struct spf_frame {
	char		*domain;	/* <domain>, no trailing dot */
	struct spf_record *rec;		/* NULL until fetched */
	size_t		 next;		/* the term being evaluated */
	bool		 none_is_error;	/* include or redirect target */
};

#define SPF_MAX_FRAMES	(SPF_MAX_DNS_TERMS + 1)

struct spf_check {
	const struct dns_resolver *resolver;

	/* Identity and macro values, fixed at creation. */
	struct spf_ip	 ip;
	char		*ip_i;		/* %{i} */
	char		*ip_c;		/* %{c} */
	char		*ip_rev;	/* reverse lookup name */
	char		*helo;
	char		*sender;
	char		*local;
	char		*sender_domain;
	char		*receiver;
	uint64_t	 now;

	/* Per run. */
	enum spf_state	 state;
	spf_done_cb	*done;
	void		*done_ctx;
	char		*domain;
	struct spf_frame frames[SPF_MAX_FRAMES];
	size_t		 depth;
	unsigned	 dns_terms;
	unsigned	 voids;
	struct buf	 target;	/* expanded query name */
	char		**mx;		/* MX names of the current term */
	size_t		 mx_n;
	size_t		 mx_i;
	struct buf	 exp_txt;
	struct spf_result res;
	struct buf	 reason;
	struct buf	 explanation;
	char		*mech;

	/* Validated PTR names of the client; kept across runs. */
	bool		 p_done;
	enum dns_status	 p_status;
	char		*pnames[SPF_MAX_PTR_NAMES];
	bool		 pvalid[SPF_MAX_PTR_NAMES];
	size_t		 pn;
	size_t		 pi;
	enum spf_state	 p_return;

	/* The outstanding query. */
	char		*qname;
	int		 qtype;
	struct spf_answer ans;
	bool		 pending;
	bool		 in_step;
	bool		 dead;		/* freed while a query was pending */
	unsigned	 queries;
};

static void	spf_step(struct spf_check *);

const char *
spf_result_name(enum spf_result_code r)
{
	switch (r) {
	case SPF_NONE:		return "none";
	case SPF_NEUTRAL:	return "neutral";
	case SPF_PASS:		return "pass";
	case SPF_FAIL:		return "fail";
	case SPF_SOFTFAIL:	return "softfail";
	case SPF_TEMPERROR:	return "temperror";
	case SPF_PERMERROR:	return "permerror";
	}
	return "permerror";
}

/*
 * Answers.
 */
static void
answer_clear(struct spf_answer *a)
{
	for (size_t i = 0; a->str != NULL && i < a->n; i++)
		free(a->str[i]);
	free(a->str);
	free(a->len);
	free(a->ip);
	memset(a, 0, sizeof(*a));
}

static void
answer_copy(struct spf_answer *dst, const struct dns_answer *src, int type)
{
	size_t n = src->status == DNS_OK ? src->n : 0;

	answer_clear(dst);
	dst->status = src->status;
	switch (type) {
	case DNS_T_TXT:
		if (src->txt == NULL || src->txt_len == NULL)
			n = 0;
		dst->str = xcalloc(n + 1, sizeof(*dst->str));
		dst->len = xcalloc(n + 1, sizeof(*dst->len));
		for (size_t i = 0; i < n; i++) {
			dst->str[i] = xmalloc(src->txt_len[i] + 1);
			memcpy(dst->str[i], src->txt[i], src->txt_len[i]);
			dst->str[i][src->txt_len[i]] = '\0';
			dst->len[i] = src->txt_len[i];
		}
		break;
	case DNS_T_MX:
	case DNS_T_PTR:
		if (type == DNS_T_MX ? src->mx == NULL : src->names == NULL)
			n = 0;
		dst->str = xcalloc(n + 1, sizeof(*dst->str));
		for (size_t i = 0; i < n; i++)
			dst->str[i] = xstrdup(type == DNS_T_MX ?
			    src->mx[i].name : src->names[i]);
		break;
	default:			/* A, AAAA */
		if (src->addr == NULL)
			n = 0;
		dst->ip = xcalloc(n + 1, sizeof(*dst->ip));
		for (size_t i = 0; i < n; i++) {
			const struct sockaddr_storage *ss = &src->addr[i];

			dst->ip[i].af = ss->ss_family;
			if (ss->ss_family == AF_INET)
				memcpy(dst->ip[i].a, &((const struct
				    sockaddr_in *)ss)->sin_addr, 4);
			else if (ss->ss_family == AF_INET6)
				memcpy(dst->ip[i].a, &((const struct
				    sockaddr_in6 *)ss)->sin6_addr, 16);
		}
		break;
	}
	dst->n = n;
	if (dst->status == DNS_OK && n == 0)
		dst->status = DNS_NODATA;
}

static void
spf_dns_cb(void *arg, const struct dns_answer *a)
{
	struct spf_check *c = arg;

	PH_ASSERT(c->pending);
	c->pending = false;
	if (c->dead) {
		spf_check_free(&c);
		return;
	}
	answer_copy(&c->ans, a, c->qtype);
	if (!c->in_step)
		spf_step(c);
}

static void
query(struct spf_check *c, const char *name, int type, enum spf_state next)
{
	free(c->qname);
	c->qname = xstrdup(name);
	c->qtype = type;
	c->state = next;
	c->pending = true;
	c->queries++;
	c->resolver->lookup(c->resolver->impl, c->qname, type, spf_dns_cb, c);
}

static int
addr_type(const struct spf_check *c)
{
	return c->ip.af == AF_INET ? DNS_T_A : DNS_T_AAAA;
}

static bool
temp_failure(enum dns_status s)
{
	return s == DNS_TEMPFAIL || s == DNS_BOGUS;
}

/*
 * Results.
 */
static void
finish(struct spf_check *c, enum spf_result_code r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
finish(struct spf_check *c, enum spf_result_code r, const char *fmt, ...)
{
	va_list ap;

	c->res.result = r;
	buf_reset(&c->reason);
	va_start(ap, fmt);
	buf_vprintf(&c->reason, fmt, ap);
	va_end(ap);
	c->state = ST_DONE;
}

static struct spf_frame *
top(struct spf_check *c)
{
	PH_ASSERT(c->depth > 0);
	return &c->frames[c->depth - 1];
}

static void
frame_clear(struct spf_frame *f)
{
	free(f->domain);
	spf_record_free(&f->rec);
	memset(f, 0, sizeof(*f));
}

static void
next_term(struct spf_check *c)
{
	top(c)->next++;
	c->state = ST_TERMS;
}

/*
 * The current frame's record evaluated to r (term: the mechanism that
 * matched, or NULL).  An include frame hands it to its parent (5.2: pass
 * matches, fail/softfail/neutral do not); errors never come here.
 */
static void
frame_finish(struct spf_check *c, enum spf_result_code r,
    const struct spf_term *term)
{
	for (;;) {
		struct spf_frame *f = top(c);

		if (c->depth == 1) {
			c->res.result = r;
			free(c->mech);
			c->mech = term != NULL ? xstrdup(term->text) : NULL;
			buf_reset(&c->reason);
			buf_printf(&c->reason, "%s", term != NULL ?
			    "mechanism matched" : "no mechanism matched");
			if (r == SPF_FAIL && f->rec->exp != NULL)
				c->state = ST_EXP;
			else
				c->state = ST_DONE;
			return;
		}
		frame_clear(f);
		c->depth--;
		if (r != SPF_PASS) {
			next_term(c);
			return;
		}
		/* The include matched: its qualifier decides the parent. */
		f = top(c);
		term = &f->rec->terms[f->next];
		r = term->qual;
	}
}

static void
term_match(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	const struct spf_term *t = &f->rec->terms[f->next];

	frame_finish(c, t->qual, t);
}

/* A void lookup (4.6.4): returns -1 when that was one too many. */
static int
void_lookup(struct spf_check *c)
{
	if (++c->voids > SPF_MAX_VOID_LOOKUPS) {
		finish(c, SPF_PERMERROR, "more than %d void DNS lookups",
		    SPF_MAX_VOID_LOOKUPS);
		return -1;
	}
	return 0;
}

/*
 * Macros and targets.
 */
static bool
name_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* name is domain or a subdomain of it. */
static bool
name_within(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n == d)
		return strcasecmp(name, domain) == 0;
	return n > d && name[n - d - 1] == '.' &&
	    strcasecmp(name + n - d, domain) == 0;
}

/* 7.3: %{p} prefers <domain>, then a subdomain, then any validated name. */
static const char *
p_choose(const struct spf_check *c, const char *domain)
{
	const char *any = NULL, *sub = NULL;

	for (size_t i = 0; i < c->pn; i++) {
		if (!c->pvalid[i])
			continue;
		if (name_eq(c->pnames[i], domain))
			return c->pnames[i];
		if (sub == NULL && name_within(c->pnames[i], domain))
			sub = c->pnames[i];
		if (any == NULL)
			any = c->pnames[i];
	}
	return sub != NULL ? sub : any != NULL ? any : "unknown";
}

static void
env_fill(const struct spf_check *c, struct spf_macro_env *env,
    const char *domain)
{
	memset(env, 0, sizeof(*env));
	env->s = c->sender;
	env->l = c->local;
	env->o = c->sender_domain;
	env->d = domain;
	env->i = c->ip_i;
	env->p = c->p_done ? p_choose(c, domain) : NULL;
	env->v = c->ip.af == AF_INET ? "in-addr" : "ip6";
	env->h = c->helo;
	env->c = c->ip_c;
	env->r = c->receiver;
	env->t = c->now;
}

/* Starts finding the validated names; comes back to state back. */
static void
p_start(struct spf_check *c, enum spf_state back)
{
	c->p_return = back;
	c->state = ST_P_PTR;
}

static bool
needs_p(const struct spf_check *c, const char *spec)
{
	return !c->p_done && spec != NULL &&
	    spf_macro_uses_p(spec, strlen(spec));
}

/*
 * Expands spec (NULL: the current domain) into c->target, a query name.
 * %{p} must be known already (needs_p() false).  Returns 0 or -1 when
 * the expansion cannot be queried.
 */
static int
target_prepare(struct spf_check *c, const char *spec, const char *domain)
{
	struct spf_macro_env env;
	const char *error;

	buf_reset(&c->target);
	if (spec == NULL) {
		buf_puts(&c->target, domain);
		return 0;
	}
	env_fill(c, &env, domain);
	if (spf_macro_expand(&c->target, spec, strlen(spec), false, &env,
	    &error) == -1)
		return -1;
	return spf_target_name(&c->target);
}

/*
 * Address matching.
 */
static bool
prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static bool
ip_in(const struct spf_ip *client, const struct spf_ip *net, int cidr4,
    int cidr6)
{
	if (client->af != net->af)
		return false;
	if (client->af == AF_INET)
		return prefix_match(client->a, net->a, cidr4 < 0 ? 32 : cidr4);
	return prefix_match(client->a, net->a, cidr6 < 0 ? 128 : cidr6);
}

static bool
answer_matches(const struct spf_check *c, const struct spf_term *t)
{
	for (size_t i = 0; i < c->ans.n; i++)
		if (ip_in(&c->ip, &c->ans.ip[i], t->cidr4, t->cidr6))
			return true;
	return false;
}

/*
 * States.
 */
static void
st_fetch_ans(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	const char *found = NULL, *error;
	size_t flen = 0, nspf = 0;

	if (temp_failure(c->ans.status)) {
		finish(c, SPF_TEMPERROR, "DNS failure looking up TXT %s",
		    f->domain);
		return;
	}
	for (size_t i = 0; i < c->ans.n; i++) {
		if (spf_record_is_spf(c->ans.str[i], c->ans.len[i])) {
			found = c->ans.str[i];
			flen = c->ans.len[i];
			nspf++;
		}
	}
	if (nspf == 0) {
		if (f->none_is_error)
			finish(c, SPF_PERMERROR, "no SPF record at %s",
			    f->domain);
		else
			finish(c, SPF_NONE, "no SPF record at %s", f->domain);
		return;
	}
	if (nspf > 1) {
		finish(c, SPF_PERMERROR, "several SPF records at %s",
		    f->domain);
		return;
	}
	if (spf_record_parse(found, flen, &f->rec, &error) == -1) {
		finish(c, SPF_PERMERROR, "%s in the SPF record of %s", error,
		    f->domain);
		return;
	}
	f->next = 0;
	c->state = ST_TERMS;
}

/* All terms evaluated without a match: redirect= or neutral (4.7). */
static void
end_of_record(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	const char *spec = f->rec->redirect;

	if (spec == NULL) {
		frame_finish(c, SPF_NEUTRAL, NULL);
		return;
	}
	if (needs_p(c, spec)) {
		p_start(c, ST_TERMS);
		return;
	}
	if (++c->dns_terms > SPF_MAX_DNS_TERMS) {
		finish(c, SPF_PERMERROR, "more than %d DNS lookups",
		    SPF_MAX_DNS_TERMS);
		return;
	}
	if (target_prepare(c, spec, f->domain) == -1) {
		finish(c, SPF_PERMERROR, "bad redirect= target in %s",
		    f->domain);
		return;
	}
	/* 6.1: the redirect target replaces this record, exp= included. */
	spf_record_free(&f->rec);
	free(f->domain);
	f->domain = xstrdup(buf_cstr(&c->target));
	f->next = 0;
	f->none_is_error = true;
	c->state = ST_FETCH;
}

static void
st_terms(struct spf_check *c)
{
	struct spf_frame *f = top(c);
	const struct spf_term *t;

	if (f->next == f->rec->nterms) {
		end_of_record(c);
		return;
	}
	t = &f->rec->terms[f->next];
	switch (t->mech) {
	case SPF_MECH_ALL:
		term_match(c);
		return;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6: {
		struct spf_ip net;

		net.af = t->mech == SPF_MECH_IP4 ? AF_INET : AF_INET6;
		memcpy(net.a, t->net, sizeof(net.a));
		/* 5.6: an IPv4 client never matches ip6, and the reverse. */
		if (ip_in(&c->ip, &net, t->cidr4, t->cidr6))
			term_match(c);
		else
			next_term(c);
		return;
	}
	default:
		break;
	}
	/* The DNS terms.  ptr needs the validated names too. */
	if (needs_p(c, t->domain_spec) ||
	    (t->mech == SPF_MECH_PTR && !c->p_done)) {
		p_start(c, ST_TERMS);
		return;
	}
	if (++c->dns_terms > SPF_MAX_DNS_TERMS) {
		finish(c, SPF_PERMERROR, "more than %d DNS lookups",
		    SPF_MAX_DNS_TERMS);
		return;
	}
	if (target_prepare(c, t->domain_spec, f->domain) == -1) {
		if (t->mech == SPF_MECH_INCLUDE) {
			finish(c, SPF_PERMERROR, "bad include target in %s",
			    f->domain);
			return;
		}
		/* Not a name we can query: treat as non-existent. */
		next_term(c);
		return;
	}
	switch (t->mech) {
	case SPF_MECH_A:
		query(c, buf_cstr(&c->target), addr_type(c), ST_A_ANS);
		break;
	case SPF_MECH_MX:
		query(c, buf_cstr(&c->target), DNS_T_MX, ST_MX_ANS);
		break;
	case SPF_MECH_EXISTS:
		/* 5.7: always an A query, whatever the client's family. */
		query(c, buf_cstr(&c->target), DNS_T_A, ST_EXISTS_ANS);
		break;
	case SPF_MECH_PTR:
		if (c->p_status == DNS_NXDOMAIN || c->p_status == DNS_NODATA) {
			if (void_lookup(c) == -1)
				return;
		}
		for (size_t i = 0; i < c->pn; i++) {
			if (c->pvalid[i] &&
			    name_within(c->pnames[i], buf_cstr(&c->target))) {
				term_match(c);
				return;
			}
		}
		next_term(c);
		break;
	case SPF_MECH_INCLUDE:
	default:
		PH_ASSERT(c->depth < SPF_MAX_FRAMES);
		f = &c->frames[c->depth++];
		memset(f, 0, sizeof(*f));
		f->domain = xstrdup(buf_cstr(&c->target));
		f->none_is_error = true;
		c->state = ST_FETCH;
		break;
	}
}

/* Answer to the a, exists, or an MX host's address query. */
static int
addr_answer(struct spf_check *c, const char *what)
{
	if (temp_failure(c->ans.status)) {
		finish(c, SPF_TEMPERROR, "DNS failure looking up %s %s", what,
		    c->qname);
		return -1;
	}
	return 0;
}

static void
st_a_ans(struct spf_check *c)
{
	struct spf_frame *f = top(c);

	if (addr_answer(c, "the address of") == -1)
		return;
	if (c->ans.status != DNS_OK) {
		if (void_lookup(c) == 0)
			next_term(c);
		return;
	}
	if (answer_matches(c, &f->rec->terms[f->next]))
		term_match(c);
	else
		next_term(c);
}

static void
st_exists_ans(struct spf_check *c)
{
	if (addr_answer(c, "A") == -1)
		return;
	if (c->ans.status != DNS_OK) {
		if (void_lookup(c) == 0)
			next_term(c);
		return;
	}
	term_match(c);
}

static void
mx_clear(struct spf_check *c)
{
	for (size_t i = 0; i < c->mx_n; i++)
		free(c->mx[i]);
	free(c->mx);
	c->mx = NULL;
	c->mx_n = c->mx_i = 0;
}

static void
st_mx_ans(struct spf_check *c)
{
	size_t n = 0;

	if (addr_answer(c, "MX") == -1)
		return;
	if (c->ans.status != DNS_OK) {
		if (void_lookup(c) == 0)
			next_term(c);
		return;
	}
	for (size_t i = 0; i < c->ans.n; i++)
		if (c->ans.str[i][0] != '\0')	/* not a null MX */
			n++;
	if (n > SPF_MAX_MX_NAMES) {
		finish(c, SPF_PERMERROR, "more than %d MX names for %s",
		    SPF_MAX_MX_NAMES, c->qname);
		return;
	}
	mx_clear(c);
	c->mx = xcalloc(n + 1, sizeof(*c->mx));
	for (size_t i = 0; i < c->ans.n; i++)
		if (c->ans.str[i][0] != '\0')
			c->mx[c->mx_n++] = xstrdup(c->ans.str[i]);
	c->state = ST_MX_ADDR;
}

static void
st_mx_addr(struct spf_check *c)
{
	if (c->mx_i == c->mx_n) {
		mx_clear(c);
		next_term(c);
		return;
	}
	query(c, c->mx[c->mx_i], addr_type(c), ST_MX_ADDR_ANS);
}

static void
st_mx_addr_ans(struct spf_check *c)
{
	struct spf_frame *f = top(c);

	if (addr_answer(c, "the address of") == -1)
		return;
	if (c->ans.status == DNS_OK &&
	    answer_matches(c, &f->rec->terms[f->next])) {
		mx_clear(c);
		term_match(c);
		return;
	}
	c->mx_i++;
	c->state = ST_MX_ADDR;
}

static void
p_finish(struct spf_check *c)
{
	c->p_done = true;
	c->state = c->p_return;
}

static void
st_p_ptr_ans(struct spf_check *c)
{
	c->p_status = c->ans.status;
	c->pn = c->pi = 0;
	/* 4.6.4: PTR names past the tenth are ignored. */
	for (size_t i = 0; i < c->ans.n && c->pn < SPF_MAX_PTR_NAMES; i++) {
		char *name = c->ans.str[i];
		size_t len = strlen(name);

		if (len > 0 && name[len - 1] == '.')
			name[--len] = '\0';
		if (len == 0)
			continue;
		c->pvalid[c->pn] = false;
		c->pnames[c->pn++] = xstrdup(name);
	}
	c->state = ST_P_ADDR;
}

static void
st_p_addr(struct spf_check *c)
{
	if (c->pi == c->pn) {
		p_finish(c);
		return;
	}
	query(c, c->pnames[c->pi], addr_type(c), ST_P_ADDR_ANS);
}

static void
st_p_addr_ans(struct spf_check *c)
{
	/* 5.5: a DNS error on the address lookup skips that name. */
	if (c->ans.status == DNS_OK) {
		for (size_t i = 0; i < c->ans.n; i++) {
			if (ip_in(&c->ip, &c->ans.ip[i], -1, -1)) {
				c->pvalid[c->pi] = true;
				break;
			}
		}
	}
	c->pi++;
	c->state = ST_P_ADDR;
}

static bool
printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void
st_exp(struct spf_check *c)
{
	struct spf_frame *f = &c->frames[0];

	if (needs_p(c, f->rec->exp)) {
		p_start(c, ST_EXP);
		return;
	}
	/* 6.2: any problem with exp= just means no explanation. */
	if (target_prepare(c, f->rec->exp, f->domain) == -1) {
		c->state = ST_DONE;
		return;
	}
	query(c, buf_cstr(&c->target), DNS_T_TXT, ST_EXP_ANS);
}

static void
st_exp_ans(struct spf_check *c)
{
	c->state = ST_DONE;
	if (c->ans.status != DNS_OK || c->ans.n != 1 ||
	    !printable(c->ans.str[0], c->ans.len[0]) ||
	    spf_macro_check(c->ans.str[0], c->ans.len[0], true, false,
	    NULL) == -1)
		return;
	buf_reset(&c->exp_txt);
	buf_append(&c->exp_txt, c->ans.str[0], c->ans.len[0]);
	c->state = ST_EXP_TEXT;
}

static void
st_exp_text(struct spf_check *c)
{
	struct spf_macro_env env;
	const char *error;

	if (needs_p(c, buf_cstr(&c->exp_txt))) {
		p_start(c, ST_EXP_TEXT);
		return;
	}
	c->state = ST_DONE;
	env_fill(c, &env, c->frames[0].domain);
	buf_reset(&c->explanation);
	if (spf_macro_expand(&c->explanation, buf_cstr(&c->exp_txt),
	    c->exp_txt.len, true, &env, &error) == -1 ||
	    !printable(buf_cstr(&c->explanation), c->explanation.len)) {
		buf_reset(&c->explanation);
		return;
	}
	buf_truncate(&c->explanation, SPF_EXP_MAX);
	c->res.explanation = buf_cstr(&c->explanation);
}

static void
spf_dispatch(struct spf_check *c)
{
	switch (c->state) {
	case ST_FETCH:
		query(c, top(c)->domain, DNS_T_TXT, ST_FETCH_ANS);
		break;
	case ST_FETCH_ANS:
		st_fetch_ans(c);
		break;
	case ST_TERMS:
		st_terms(c);
		break;
	case ST_A_ANS:
		st_a_ans(c);
		break;
	case ST_MX_ANS:
		st_mx_ans(c);
		break;
	case ST_MX_ADDR:
		st_mx_addr(c);
		break;
	case ST_MX_ADDR_ANS:
		st_mx_addr_ans(c);
		break;
	case ST_EXISTS_ANS:
		st_exists_ans(c);
		break;
	case ST_P_PTR:
		query(c, c->ip_rev, DNS_T_PTR, ST_P_PTR_ANS);
		break;
	case ST_P_PTR_ANS:
		st_p_ptr_ans(c);
		break;
	case ST_P_ADDR:
		st_p_addr(c);
		break;
	case ST_P_ADDR_ANS:
		st_p_addr_ans(c);
		break;
	case ST_EXP:
		st_exp(c);
		break;
	case ST_EXP_ANS:
		st_exp_ans(c);
		break;
	case ST_EXP_TEXT:
		st_exp_text(c);
		break;
	case ST_IDLE:
	case ST_DONE:
		panic("spf: dispatch in state %d", (int)c->state);
	}
}

static void
spf_step(struct spf_check *c)
{
	spf_done_cb *done;
	void *ctx;

	c->in_step = true;
	while (!c->pending && c->state != ST_DONE)
		spf_dispatch(c);
	c->in_step = false;
	if (c->pending)
		return;
	c->state = ST_IDLE;
	if (c->res.result != SPF_FAIL)
		c->res.explanation = NULL;
	c->res.mechanism = c->res.result <= SPF_SOFTFAIL ? c->mech : NULL;
	c->res.reason = buf_cstr(&c->reason);
	c->res.domain = c->domain;
	c->res.queries = c->queries;
	done = c->done;
	ctx = c->done_ctx;
	c->done = NULL;
	/* The callback may free or rerun the check: nothing after it. */
	done(ctx, &c->res);
}

/*
 * Setup.
 */

/* 4.3: a multi-label name of 1..63-byte labels, at most 253 bytes. */
static bool
initial_domain_valid(const char *d)
{
	size_t len = strlen(d), label = 0, labels = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)d[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			labels++;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && labels >= 1;
}

static void
ip_strings(struct spf_check *c)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char lhex[] = "0123456789abcdef";
	char text[INET6_ADDRSTRLEN];
	struct buf b = BUF_INIT;

	if (c->ip.af == AF_INET) {
		const uint8_t *a = c->ip.a;

		inet_ntop(AF_INET, a, text, sizeof(text));
		c->ip_i = xstrdup(text);
		c->ip_c = xstrdup(text);
		c->ip_rev = xasprintf("%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]);
		return;
	}
	inet_ntop(AF_INET6, c->ip.a, text, sizeof(text));
	c->ip_c = xstrdup(text);
	/* %{i}: dotted nibbles, upper case as in the RFC 7208 7.4 examples. */
	for (int i = 0; i < 16; i++) {
		if (i > 0)
			buf_putc(&b, '.');
		buf_putc(&b, hex[c->ip.a[i] >> 4]);
		buf_putc(&b, '.');
		buf_putc(&b, hex[c->ip.a[i] & 15]);
	}
	c->ip_i = buf_steal(&b);
	for (int i = 15; i >= 0; i--) {
		buf_putc(&b, lhex[c->ip.a[i] & 15]);
		buf_putc(&b, '.');
		buf_putc(&b, lhex[c->ip.a[i] >> 4]);
		buf_putc(&b, '.');
	}
	buf_puts(&b, "ip6.arpa");
	c->ip_rev = buf_steal(&b);
}

struct spf_check *
spf_check_new(const struct dns_resolver *resolver, const char *ip,
    const char *helo, const char *mail_from, const char *receiver_hostname)
{
	struct spf_check *c;
	struct spf_ip addr;
	const char *at;

	memset(&addr, 0, sizeof(addr));
	if (ip == NULL)
		return NULL;
	if (inet_pton(AF_INET, ip, addr.a) == 1)
		addr.af = AF_INET;
	else if (inet_pton(AF_INET6, ip, addr.a) == 1) {
		/* 5: an IPv4-mapped IPv6 client is an IPv4 client. */
		static const uint8_t mapped[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
		};

		if (memcmp(addr.a, mapped, sizeof(mapped)) == 0) {
			memmove(addr.a, addr.a + 12, 4);
			memset(addr.a + 4, 0, 12);
			addr.af = AF_INET;
		} else
			addr.af = AF_INET6;
	} else
		return NULL;

	c = xcalloc(1, sizeof(*c));
	c->resolver = resolver;
	c->ip = addr;
	ip_strings(c);
	c->helo = xstrdup(helo != NULL ? helo : "");
	if (mail_from == NULL || *mail_from == '\0') {
		c->local = xstrdup("postmaster");
		c->sender_domain = xstrdup(c->helo);
	} else if ((at = strrchr(mail_from, '@')) != NULL) {
		c->local = at == mail_from ? xstrdup("postmaster") :
		    xstrndup(mail_from, (size_t)(at - mail_from));
		c->sender_domain = xstrdup(at + 1);
	} else {
		c->local = xstrdup(mail_from);
		c->sender_domain = xstrdup("");
	}
	c->sender = xasprintf("%s@%s", c->local, c->sender_domain);
	c->receiver = xstrdup(receiver_hostname != NULL ?
	    receiver_hostname : "unknown");
	c->now = (uint64_t)time(NULL);
	return c;
}

void
spf_check_set_time(struct spf_check *c, time_t t)
{
	c->now = (uint64_t)t;
}

static void
run_reset(struct spf_check *c)
{
	while (c->depth > 0)
		frame_clear(&c->frames[--c->depth]);
	mx_clear(c);
	answer_clear(&c->ans);
	free(c->domain);
	c->domain = NULL;
	free(c->mech);
	c->mech = NULL;
	buf_reset(&c->reason);
	buf_reset(&c->explanation);
	buf_reset(&c->exp_txt);
	memset(&c->res, 0, sizeof(c->res));
	c->dns_terms = c->voids = c->queries = 0;
}

void
spf_check_run(struct spf_check *c, const char *domain, spf_done_cb *done,
    void *ctx)
{
	struct spf_frame *f;
	size_t len;

	PH_ASSERT(c->state == ST_IDLE && !c->pending);
	run_reset(c);
	c->done = done;
	c->done_ctx = ctx;
	c->domain = xstrdup(domain != NULL ? domain : c->sender_domain);
	len = strlen(c->domain);
	if (len > 1 && c->domain[len - 1] == '.')
		c->domain[len - 1] = '\0';
	if (!initial_domain_valid(c->domain)) {
		finish(c, SPF_NONE, "not a valid domain name");
	} else {
		f = &c->frames[c->depth++];
		f->domain = xstrdup(c->domain);
		c->state = ST_FETCH;
	}
	spf_step(c);
}

void
spf_check_free(struct spf_check **cp)
{
	struct spf_check *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->pending) {
		c->dead = true;		/* the callback frees it */
		return;
	}
	run_reset(c);
	for (size_t i = 0; i < c->pn; i++)
		free(c->pnames[i]);
	buf_free(&c->target);
	buf_free(&c->exp_txt);
	buf_free(&c->reason);
	buf_free(&c->explanation);
	free(c->qname);
	free(c->ip_i);
	free(c->ip_c);
	free(c->ip_rev);
	free(c->helo);
	free(c->sender);
	free(c->local);
	free(c->sender_domain);
	free(c->receiver);
	free(c);
}
