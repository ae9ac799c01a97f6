/*
 * fuzz_mailauth_eval - the evaluations behind every inbound message's
 * Authentication-Results, fed hostile DNS: SPF (spf_check_*: records,
 * include/redirect chains, macros, exp=), DKIM verification
 * (dkim_verify_*: DKIM-Signature fields, key records, hashing) and DMARC
 * (dmarc_check_*: record discovery, alignment, policy).
 *
 * Input: a selector byte (low 2 bits: 0 SPF, 1 DKIM, 2 DMARC, 3 DMARC
 * after SPF), a mode byte, then text: a zone, a line "%%", and the query.
 * With bit 2 of the selector set the rest is raw rdata for
 * dns_answer_decode() instead: a type byte (A, AAAA, MX, TXT, PTR, TLSA),
 * then records, each a length byte and its bytes; checked: no more
 * records than given, TXT text shorter than its rdata and terminated, MX
 * and PTR names host names, MX sorted, address families, TLSA data.
 *	zone lines	NAME TYPE DATA, TYPE one of TXT (DATA up to the line
 *			end, one record per line), A, AAAA, MX ("10 host"),
 *			PTR; or NAME NX / TEMP / BOGUS (the name's status)
 *	SPF query	"IP HELO MAIL-FROM" (MAIL-FROM may be "<>")
 *	DKIM query	the message (CRLF or LF)
 *	DMARC query	"FROM-DOMAIN SPF-PASS(0/1) SPF-DOMAIN DKIM-D..."
 * Mode: bit 0 answers deferred (queued, delivered after the run, bit 1:
 * newest first), bit 2 the check is freed after (bits 3-5) answers, or
 * from inside done() when answers are synchronous, bit 6 answers carry
 * the DNSSEC secure flag, bit 7 a fixed time (the RFC 8463 example's)
 * rather than the present.
 *
 * Checked, beyond no crash, leak or UB: done() runs exactly once, or
 * never once the check was freed; results within their enums, texts set
 * where the headers promise them, printable and bounded; SPF: at most one
 * query outstanding, the query count it reports is the resolver's, never
 * more than the RFC 7208 4.6.4 limits allow; an explanation only on fail;
 * DKIM: at most DKIM_MAX_SIGS results, result = dkim_reason_result(
 * reason), pass only with a key, d= lower case, at most one key lookup
 * per signature, the Authentication-Results text one line of printable
 * ASCII; DMARC: disposition none unless fail, lower-case domains, a
 * bounded number of queries.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "core/buf.h"
#include "core/spool.h"
#include "core/xmalloc.h"
#include "dkim/dkim.h"
#include "dmarc/dmarc.h"
#include "dmarc/psl.h"
#include "dns/dns.h"
#include "fuzz_common.h"
#include "spf/spf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define ZONE_MAX	256	/* records */
#define QUEUE_MAX	512	/* deferred queries */
#define ANS_MAX		32	/* records in one answer */
#define RFC8463_T	1528637909

struct rr {
	const char	*name;
	size_t		 name_len;
	int		 type;		/* 0: a status line */
	enum dns_status	 status;
	const char	*data;
	size_t		 data_len;
};

struct pending {
	char		*name;
	int		 type;
	dns_cb		*cb;
	void		*ctx;
};

struct fz {
	struct rr	 zone[ZONE_MAX];
	size_t		 nzone;
	bool		 deferred, newest_first, secure;
	struct pending	 q[QUEUE_MAX];
	size_t		 nq;
	unsigned	 lookups;
	size_t		 max_outstanding;
	int		 done_calls;
	bool		 freed;
	bool		 free_in_done;
	void		*check;		/* the check under way */
	void		(*free_check)(void *);
	bool		 one_query;	/* SPF: one query out at a time */
	enum spf_result_code spf_result;
	/*
	 * The query itself has control characters, which the SMTP server
	 * never passes on (its parsers refuse them): a reason may quote them.
	 */
	bool		 dirty_query;
};

static struct psl *psl;
static int verbose = -1;	/* FUZZ_VERBOSE set: print each result */

static bool
name_eq(const struct rr *r, const char *name)
{
	size_t n = strlen(name);

	while (n > 0 && name[n - 1] == '.')
		n--;
	return r->name_len == n && strncasecmp(r->name, name, n) == 0;
}

/* Answers one query from the zone. */
static void
answer(struct fz *f, const char *name, int type, dns_cb *cb, void *ctx)
{
	struct dns_answer a;
	const char *txt[ANS_MAX];
	size_t txt_len[ANS_MAX];
	struct dns_mx mx[ANS_MAX];
	struct sockaddr_storage addr[ANS_MAX];
	char *names[ANS_MAX];
	char tmp[256];
	bool exists = false;
	size_t nalloc = 0;	/* PTR names to free */

	memset(&a, 0, sizeof(a));
	a.type = type;
	a.secure = f->secure;
	a.ttl = 300;
	a.txt = txt;
	a.txt_len = txt_len;
	a.mx = mx;
	a.addr = addr;
	a.names = names;
	a.status = DNS_NODATA;
	for (size_t i = 0; i < f->nzone; i++) {
		const struct rr *r = &f->zone[i];
		size_t n = r->data_len < sizeof(tmp) - 1 ? r->data_len :
		    sizeof(tmp) - 1;

		if (!name_eq(r, name))
			continue;
		exists = true;
		if (r->type == 0) {
			a.status = r->status;
			a.error = "fuzz";
			a.n = 0;
			break;
		}
		if (r->type != type || a.n >= ANS_MAX)
			continue;
		memcpy(tmp, r->data, n);
		tmp[n] = '\0';
		switch (type) {
		case DNS_T_TXT:
			txt[a.n] = r->data;
			txt_len[a.n] = r->data_len;
			break;
		case DNS_T_A:
		case DNS_T_AAAA: {
			struct sockaddr_in *s4 = (void *)&addr[a.n];
			struct sockaddr_in6 *s6 = (void *)&addr[a.n];

			memset(&addr[a.n], 0, sizeof(addr[a.n]));
			if (type == DNS_T_A) {
				s4->sin_family = AF_INET;
				if (inet_pton(AF_INET, tmp, &s4->sin_addr) != 1)
					continue;
			} else {
				s6->sin6_family = AF_INET6;
				if (inet_pton(AF_INET6, tmp, &s6->sin6_addr) != 1)
					continue;
			}
			break;
		}
		case DNS_T_MX: {
			unsigned pref = 0;
			char host[256] = "";

			if (sscanf(tmp, "%u %255s", &pref, host) < 1)
				continue;
			mx[a.n].pref = (uint16_t)pref;
			snprintf(mx[a.n].name, sizeof(mx[a.n].name), "%s",
			    strcmp(host, ".") == 0 ? "" : host);
			break;
		}
		case DNS_T_PTR:
			names[a.n] = xstrdup(tmp);
			nalloc = a.n + 1;
			break;
		default:
			continue;
		}
		a.n++;
		a.status = DNS_OK;
	}
	if (!exists && a.status == DNS_NODATA)
		a.status = DNS_NXDOMAIN;
	if (a.status != DNS_OK)
		a.n = 0;
	cb(ctx, &a);
	for (size_t i = 0; i < nalloc; i++)
		free(names[i]);
}

static void
fz_lookup(void *impl, const char *name, int type, dns_cb *cb, void *ctx)
{
	struct fz *f = impl;

	FUZZ_CHECK(name != NULL && name[0] != '\0', "lookup of no name");
	FUZZ_CHECK(strlen(name) <= 255, "lookup of a %zu-byte name",
	    strlen(name));
	f->lookups++;
	if (!f->deferred) {
		answer(f, name, type, cb, ctx);
		return;
	}
	FUZZ_CHECK(f->nq < QUEUE_MAX, "more than %d queries out", QUEUE_MAX);
	FUZZ_CHECK(!f->one_query || f->nq == 0, "%zu SPF queries out at once",
	    f->nq + 1);
	f->q[f->nq].name = xstrdup(name);
	f->q[f->nq].type = type;
	f->q[f->nq].cb = cb;
	f->q[f->nq].ctx = ctx;
	f->nq++;
	if (f->nq > f->max_outstanding)
		f->max_outstanding = f->nq;
}

/* Deferred mode: answers one queued query; false when none is left. */
static bool
pump(struct fz *f)
{
	struct pending p;

	if (f->nq == 0)
		return false;
	if (f->newest_first)
		p = f->q[--f->nq];
	else {
		p = f->q[0];
		memmove(&f->q[0], &f->q[1], (f->nq - 1) * sizeof(f->q[0]));
		f->nq--;
	}
	answer(f, p.name, p.type, p.cb, p.ctx);
	free(p.name);
	return true;
}

static void
check_text(const char *s, size_t max, const char *what)
{
	size_t n;

	FUZZ_CHECK(s != NULL, "%s: NULL", what);
	n = strlen(s);
	FUZZ_CHECK(n <= max, "%s: %zu bytes", what, n);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f,
		    "%s: control character 0x%02x", what, (unsigned char)s[i]);
}

static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void
check_lower(const char *s, const char *what)
{
	for (; s != NULL && *s != '\0'; s++)
		FUZZ_CHECK(*s < 'A' || *s > 'Z', "%s not lower case", what);
}

static void
free_spf(void *p)
{
	struct spf_check *c = p;

	spf_check_free(&c);
}

static void
free_dkim(void *p)
{
	struct dkim_verify *v = p;

	dkim_verify_free(&v);
}

static void
free_dmarc(void *p)
{
	struct dmarc_check *c = p;

	dmarc_check_free(&c);
}

/* Frees the check (once), from done() or from the driver. */
static void
fz_free(struct fz *f)
{
	if (!f->freed) {
		f->freed = true;
		f->free_check(f->check);
	}
}

/*
 * After the run: answers the queued queries, freeing the check after
 * free_after of them (0: never) when done() has not come yet; then checks
 * that done() ran once, or never when the check was freed before it.
 * Frees the check if that has not happened.
 */
static void
drive(struct fz *f, unsigned free_after, const char *what)
{
	unsigned answered = 0;

	while (f->deferred && !f->freed) {
		if (f->done_calls == 0 && free_after > 0 &&
		    answered == free_after) {
			fz_free(f);
			break;
		}
		if (!pump(f))
			break;
		answered++;
	}
	while (pump(f))
		;
	FUZZ_CHECK(f->done_calls == (f->freed && f->done_calls == 0 ? 0 : 1),
	    "%s done ran %d times", what, f->done_calls);
}

/* -- SPF ----------------------------------------------------------- */

static void
spf_done(void *ctx, const struct spf_result *r)
{
	struct fz *f = ctx;

	f->done_calls++;
	f->spf_result = r->result;
	FUZZ_CHECK(!f->freed, "SPF done after free");
	FUZZ_CHECK(r->result >= SPF_NONE && r->result <= SPF_PERMERROR,
	    "SPF result %d", (int)r->result);
	check_text(spf_result_name(r->result), 16, "SPF result name");
	if (!f->dirty_query)
		check_text(r->reason, 4096, "SPF reason");
	else
		FUZZ_CHECK(r->reason != NULL, "no SPF reason");
	FUZZ_CHECK(r->explanation == NULL || r->result == SPF_FAIL,
	    "an explanation with %s", spf_result_name(r->result));
	if (r->explanation != NULL)
		check_text(r->explanation, SPF_EXP_MAX, "SPF explanation");
	if (r->mechanism != NULL)
		check_text(r->mechanism, 4096, "SPF mechanism");
	FUZZ_CHECK(r->queries == f->lookups, "SPF says %u queries, the "
	    "resolver had %u", r->queries, f->lookups);
	if (verbose)
		fprintf(stderr, "spf=%s (%s) mechanism=%s exp=%s queries=%u\n",
		    spf_result_name(r->result), r->reason,
		    r->mechanism ? r->mechanism : "-",
		    r->explanation ? r->explanation : "-", r->queries);
	if (f->free_in_done)
		fz_free(f);
}

static void
run_spf(struct fz *f, char *q, unsigned free_after, bool dmarc_too,
    bool *spf_pass, char *spf_domain, size_t spf_domain_size)
{
	char *ip = strtok(q, " \t\r\n"), *helo = strtok(NULL, " \t\r\n");
	char *from = strtok(NULL, " \t\r\n");
	struct dns_resolver res = { fz_lookup, f };
	struct spf_check *c;

	if (ip == NULL || helo == NULL)
		return;
	if (from == NULL || strcmp(from, "<>") == 0)
		from = "";
	f->dirty_query = has_ctl(ip) || has_ctl(helo) || has_ctl(from);
	c = spf_check_new(&res, ip, helo, from, "mx.receiver.test");
	if (c == NULL)
		return;
	f->check = c;
	f->free_check = free_spf;
	f->one_query = true;
	spf_check_set_time(c, RFC8463_T);
	spf_check_run(c, NULL, spf_done, f);
	drive(f, free_after, "SPF");
	/* 4.6.4: 10 terms, each MX name resolved, PTR, exp=, the record. */
	FUZZ_CHECK(f->lookups <= 1 + SPF_MAX_DNS_TERMS *
	    (1 + SPF_MAX_MX_NAMES * 2) + 1, "%u SPF queries", f->lookups);
	if (dmarc_too && !f->freed) {
		/* The caller's DMARC step reads the MAIL FROM domain. */
		const char *at = strrchr(from, '@');

		*spf_pass = f->done_calls > 0 && f->spf_result == SPF_PASS;
		snprintf(spf_domain, spf_domain_size, "%s",
		    at != NULL ? at + 1 : helo);
	}
	fz_free(f);
}

/* -- DKIM ---------------------------------------------------------- */

static void
dkim_done(void *ctx, const struct dkim_results *r)
{
	struct fz *f = ctx;
	struct buf ar = BUF_INIT;

	f->done_calls++;
	FUZZ_CHECK(!f->freed, "DKIM done after free");
	FUZZ_CHECK(r->n <= DKIM_MAX_SIGS, "%zu DKIM results", r->n);
	FUZZ_CHECK(f->lookups <= r->n, "%u key lookups for %zu signatures",
	    f->lookups, r->n);
	for (size_t i = 0; i < r->n; i++) {
		const struct dkim_sig_result *s = &r->sig[i];

		FUZZ_CHECK(s->result >= DKIM_PASS &&
		    s->result <= DKIM_PERMERROR, "result %d", (int)s->result);
		if (s->result == DKIM_PASS)
			FUZZ_CHECK(s->reason == DKIM_R_OK && s->key_bits > 0 &&
			    s->d[0] != '\0' && s->s[0] != '\0',
			    "pass without a key, d= or s=");
		else
			FUZZ_CHECK(dkim_reason_result(s->reason) == s->result,
			    "reason %d gives %d, not %d", (int)s->reason,
			    (int)dkim_reason_result(s->reason), (int)s->result);
		check_text(dkim_reason_text(s->reason), 128, "reason text");
		check_lower(s->d, "d=");
		FUZZ_CHECK(memchr(s->d, '\0', sizeof(s->d)) != NULL &&
		    memchr(s->s, '\0', sizeof(s->s)) != NULL &&
		    memchr(s->i, '\0', sizeof(s->i)) != NULL &&
		    memchr(s->b, '\0', sizeof(s->b)) != NULL,
		    "an unterminated field");
	}
	dkim_results_format(r, &ar);
	check_text(buf_cstr(&ar), 64 * 1024, "Authentication-Results dkim");
	FUZZ_CHECK(strncmp(buf_cstr(&ar), "dkim=", 5) == 0, "starts %.20s",
	    buf_cstr(&ar));
	if (verbose)
		fprintf(stderr, "%s\n", buf_cstr(&ar));
	buf_free(&ar);
	if (f->free_in_done)
		fz_free(f);
}

static void
run_dkim(struct fz *f, const char *msg, size_t len, unsigned free_after,
    time_t now)
{
	struct dns_resolver res = { fz_lookup, f };
	struct dkim_verify *v = dkim_verify_new(&res);
	struct spool sp;

	spool_init(&sp, "/tmp");
	FUZZ_CHECK(spool_write(&sp, msg, len) == 0, "spool_write");
	f->check = v;
	f->free_check = free_dkim;
	dkim_verify_run(v, &sp, now, dkim_done, f);
	drive(f, free_after, "DKIM");
	fz_free(f);
	spool_free(&sp);
}

/* -- DMARC --------------------------------------------------------- */

static void
dmarc_done(void *ctx, const struct dmarc_result *r)
{
	struct fz *f = ctx;

	f->done_calls++;
	FUZZ_CHECK(!f->freed, "DMARC done after free");
	check_text(dmarc_status_name(r->result), 32, "DMARC result");
	check_text(dmarc_policy_name(r->policy), 32, "DMARC policy");
	check_text(r->reason, 4096, "DMARC reason");
	if (r->result != DMARC_FAIL)
		FUZZ_CHECK(r->disposition == DMARC_POLICY_NONE ||
		    r->disposition == DMARC_POLICY_UNSET,
		    "disposition %s with %s", dmarc_policy_name(r->disposition),
		    dmarc_status_name(r->result));
	/* An invalid From domain is reported as given (org_domain ""). */
	if (r->org_domain[0] != '\0')
		check_lower(r->from_domain, "from domain");
	check_lower(r->org_domain, "org domain");
	check_lower(r->policy_domain, "policy domain");
	FUZZ_CHECK(r->dkim_domain == NULL || r->dkim_aligned,
	    "a DKIM domain without alignment");
	FUZZ_CHECK(r->queries == f->lookups, "DMARC says %u queries, the "
	    "resolver had %u", r->queries, f->lookups);
	if (verbose)
		fprintf(stderr, "dmarc=%s (%s) policy=%s disposition=%s "
		    "queries=%u\n", dmarc_status_name(r->result), r->reason,
		    dmarc_policy_name(r->policy),
		    dmarc_policy_name(r->disposition), r->queries);
	if (f->free_in_done)
		fz_free(f);
}

static uint32_t
fixed_random(void *ctx)
{
	(void)ctx;
	return 0x7fffffff;
}

static void
run_dmarc(struct fz *f, char *q, unsigned free_after, bool spf_pass_in,
    const char *spf_domain_in)
{
	struct dns_resolver res = { fz_lookup, f };
	struct dmarc_auth_inputs in;
	const char *dkim[8];
	char *from = strtok(q, " \t\r\n"), *pass = strtok(NULL, " \t\r\n");
	char *spf_domain = strtok(NULL, " \t\r\n"), *d;
	struct dmarc_check *c;

	if (from == NULL)
		return;
	memset(&in, 0, sizeof(in));
	in.spf_pass = spf_pass_in || (pass != NULL && pass[0] == '1');
	in.spf_domain = spf_domain_in != NULL ? spf_domain_in : spf_domain;
	while (in.n_dkim < 8 && (d = strtok(NULL, " \t\r\n")) != NULL)
		dkim[in.n_dkim++] = d;
	in.dkim_domains = dkim;
	in.random = fixed_random;
	c = dmarc_check_new(&res, psl);
	f->check = c;
	f->free_check = free_dmarc;
	dmarc_check_run(c, from, &in, dmarc_done, f);
	drive(f, free_after, "DMARC");
	FUZZ_CHECK(f->lookups <= 16, "%u DMARC queries", f->lookups);
	fz_free(f);
}

/* -- rdata decoding ------------------------------------------------ */

static void
check_host(const char *name)
{
	size_t n = strlen(name);

	FUZZ_CHECK(n <= 253, "a %zu-byte name", n);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    c == '-' || c == '_' || (c == '.' && i > 0 && i + 1 < n &&
		    name[i + 1] != '.'), "no host name: %s", name);
	}
}

/*
 * dns_answer_decode() on raw rdata: a type byte, then records, each a
 * length byte and that many bytes.
 */
static void
run_decode(const uint8_t *p, size_t len)
{
	static const int types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX,
	    DNS_T_TXT, DNS_T_PTR, DNS_T_TLSA };
	const unsigned char *rd[64];
	int rdlen[64];
	size_t n = 0;
	struct dns_answer a;
	int type;

	if (len < 1)
		return;
	type = types[p[0] % 6];
	p++;
	len--;
	while (len > 0 && n < 64) {
		size_t l = p[0] < len - 1 ? p[0] : len - 1;

		rd[n] = p + 1;
		rdlen[n++] = (int)l;
		p += 1 + l;
		len -= 1 + l;
	}
	memset(&a, 0, sizeof(a));
	FUZZ_CHECK(dns_answer_decode(&a, type, rd, rdlen, n) == 0, "decode");
	FUZZ_CHECK(a.n <= n, "%zu records from %zu", a.n, n);
	for (size_t i = 0; i < a.n; i++) {
		switch (type) {
		case DNS_T_TXT:
			FUZZ_CHECK(a.txt_len[i] < (size_t)rdlen[i] ||
			    a.txt_len[i] == 0, "TXT of %zu bytes from %d",
			    a.txt_len[i], rdlen[i]);
			FUZZ_CHECK(a.txt[i][a.txt_len[i]] == '\0', "TXT not "
			    "terminated");
			break;
		case DNS_T_MX:
			check_host(a.mx[i].name);
			FUZZ_CHECK(i == 0 || a.mx[i - 1].pref <= a.mx[i].pref,
			    "MX not sorted");
			break;
		case DNS_T_PTR:
			check_host(a.names[i]);
			FUZZ_CHECK(a.names[i][0] != '\0', "empty PTR name");
			break;
		case DNS_T_A:
		case DNS_T_AAAA:
			FUZZ_CHECK(a.addr[i].ss_family == (type == DNS_T_A ?
			    AF_INET : AF_INET6), "address family");
			break;
		case DNS_T_TLSA:
			FUZZ_CHECK(a.tlsa[i].len > 0, "empty TLSA data");
			break;
		}
	}
	dns_answer_free(&a);
}

/* -- the zone ------------------------------------------------------ */

/* Parses zone lines up to "%%"; returns where the query starts. */
static const char *
parse_zone(struct fz *f, const char *p, const char *end)
{
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol != NULL ? eol : end;
		const char *sp1, *sp2, *type;
		size_t tlen;
		struct rr r;

		if (line_end - p >= 2 && p[0] == '%' && p[1] == '%')
			return eol != NULL ? eol + 1 : end;
		memset(&r, 0, sizeof(r));
		sp1 = memchr(p, ' ', (size_t)(line_end - p));
		if (sp1 == NULL || f->nzone >= ZONE_MAX)
			goto next;
		type = sp1 + 1;
		sp2 = memchr(type, ' ', (size_t)(line_end - type));
		tlen = (size_t)((sp2 != NULL ? sp2 : line_end) - type);
		if (tlen > 0 && type[tlen - 1] == '\r')
			tlen--;
		r.name = p;
		r.name_len = (size_t)(sp1 - p);
		if (sp2 != NULL) {
			r.data = sp2 + 1;
			r.data_len = (size_t)(line_end - r.data);
			if (r.data_len > 0 && r.data[r.data_len - 1] == '\r')
				r.data_len--;
		} else {
			r.data = "";
			r.data_len = 0;
		}
#define IS(s)	(tlen == strlen(s) && strncasecmp(type, s, tlen) == 0)
		if (IS("TXT"))
			r.type = DNS_T_TXT;
		else if (IS("A"))
			r.type = DNS_T_A;
		else if (IS("AAAA"))
			r.type = DNS_T_AAAA;
		else if (IS("MX"))
			r.type = DNS_T_MX;
		else if (IS("PTR"))
			r.type = DNS_T_PTR;
		else if (IS("NX"))
			r.status = DNS_NXDOMAIN;
		else if (IS("TEMP"))
			r.status = DNS_TEMPFAIL;
		else if (IS("BOGUS"))
			r.status = DNS_BOGUS;
		else
			goto next;
#undef IS
		f->zone[f->nzone++] = r;
next:
		p = eol != NULL ? eol + 1 : end;
	}
	return end;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f;
	const char *text, *end, *q;
	char *qs;
	uint8_t sel, mode;
	unsigned free_after;
	char spf_domain[256] = "";
	bool spf_pass = false;

	if (size < 2)
		return 0;
	if (psl == NULL)
		psl = psl_builtin();
	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (data[0] & 4) {
		run_decode(data + 1, size - 1);
		return 0;
	}
	sel = data[0] & 3;
	mode = data[1];
	text = (const char *)data + 2;
	end = text + (size - 2);

	f = xcalloc(1, sizeof(*f));
	f->deferred = mode & 1;
	f->newest_first = (mode & 2) != 0;
	free_after = (mode & 4) ? 1 + ((mode >> 3) & 7) : 0;
	f->free_in_done = (mode & 4) && !f->deferred;
	f->secure = (mode & 0x40) != 0;
	q = parse_zone(f, text, end);
	qs = xmalloc((size_t)(end - q) + 1);
	memcpy(qs, q, (size_t)(end - q));
	qs[end - q] = '\0';

	switch (sel) {
	case 0:
		run_spf(f, qs, free_after, false, NULL, NULL, 0);
		break;
	case 1:
		run_dkim(f, q, (size_t)(end - q), free_after,
		    (mode & 0x80) ? RFC8463_T : 0);
		break;
	case 2:
		run_dmarc(f, qs, free_after, false, NULL);
		break;
	default: {
		/* SPF for "IP HELO FROM", then DMARC of FROM's domain. */
		char *copy = xstrdup(qs);
		char *nl = strchr(copy, '\n');
		struct fz *g;

		run_spf(f, copy, 0, true, &spf_pass, spf_domain,
		    sizeof(spf_domain));
		g = xcalloc(1, sizeof(*g));
		memcpy(g->zone, f->zone, sizeof(f->zone));
		g->nzone = f->nzone;
		g->deferred = f->deferred;
		g->newest_first = f->newest_first;
		g->secure = f->secure;
		g->free_in_done = f->free_in_done;
		free(copy);
		nl = strchr(qs, '\n');
		if (nl != NULL)
			run_dmarc(g, nl + 1, free_after, spf_pass,
			    spf_domain[0] != '\0' ? spf_domain : NULL);
		free(g);
		break;
	}
	}
	free(qs);
	free(f);
	return 0;
}
