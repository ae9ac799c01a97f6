/*
 * dkim_verify - checking the DKIM-Signature fields of a message (RFC 6376
 * 6), with the keys fetched through an asynchronous struct dns_resolver.
 *
 * dkim_verify_run():
 *	1. read the header section (bounded) and parse the first
 *	   DKIM_MAX_SIGS DKIM-Signature fields, top first; a signature that
 *	   is malformed, unsupported or expired is decided here, without DNS;
 *	2. start one TXT lookup of s._domainkey.d per remaining signature,
 *	   all at once;
 *	3. stream the body once through one canonicalizer and SHA-256 per
 *	   signature (each has its own c= and l=);
 *	4. when the last answer is in (and the body is hashed), compare the
 *	   body hashes, verify the header signatures and call done().
 *
 * `pending` counts the answers still due plus one while run() itself is
 * working, so done() runs exactly once, after both, whether the resolver
 * answers at once (tables in tests) or later (libunbound).  An object freed
 * while lookups are out stays alive, marked, until the last answer.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/spool.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "dkim/dkim.h"
#include "dns/dns.h"

/* s "._domainkey." d, each part bounded; the whole is checked <= 253. */
#define QNAME_MAX	(254 + 12 + 254)

struct sig {
	struct dkim_verify *v;
	struct dkim_sig_result *res;
	size_t		 field;		/* in v->hdrs */
	bool		 decided;	/* res is final */
	enum dkim_alg	 alg;
	enum dkim_canon	 hc, bc;
	struct dkim_name h[DKIM_H_MAX];
	size_t		 nh;
	struct buf	 b, bh;		/* decoded */
	size_t		 b_start, b_end; /* b='s value with its FWS, in the
					   field */
	bool		 has_l;
	uint64_t	 l;
	const char	*i_domain;	/* in the field; NULL without i= */
	size_t		 i_domain_len;
	char		 qname[QNAME_MAX];
	struct dkim_body_canon canon;
	EVP_MD_CTX	*md;
	unsigned char	 body_hash[32];
	EVP_PKEY	*pkey;
	struct dkim_key_info key;
};

struct dkim_verify {
	struct dns_resolver resolver;
	struct dkim_hdrs hdrs;
	struct sig	 sig[DKIM_MAX_SIGS];
	size_t		 nsig;
	struct dkim_results results;
	unsigned	 pending;
	bool		 ran;
	bool		 freed;
	time_t		 now;
	void		(*done)(void *, const struct dkim_results *);
	void		*ctx;
};

/*
 * Results.
 */

enum dkim_result
dkim_reason_result(enum dkim_reason r)
{
	switch (r) {
	case DKIM_R_OK:
		return DKIM_PASS;
	case DKIM_R_SYNTAX:
	case DKIM_R_VERSION:
	case DKIM_R_ALGORITHM:
	case DKIM_R_CANON:
	case DKIM_R_QUERY:
	case DKIM_R_FROM_UNSIGNED:
	case DKIM_R_DOMAIN:
		return DKIM_NEUTRAL;
	case DKIM_R_EXPIRED:
	case DKIM_R_KEY_REVOKED:
	case DKIM_R_STRICT:
	case DKIM_R_BODY_SHORT:
	case DKIM_R_BODY_HASH:
	case DKIM_R_SIGNATURE:
		return DKIM_FAIL;
	case DKIM_R_KEY_TEMPFAIL:
	case DKIM_R_READ:
		return DKIM_TEMPERROR;
	case DKIM_R_KEY_MISSING:
	case DKIM_R_KEY_SYNTAX:
	case DKIM_R_KEY_TYPE:
	case DKIM_R_KEY_HASH:
	case DKIM_R_KEY_SERVICE:
	case DKIM_R_KEY_SIZE:
	case DKIM_R_HEADER:
		return DKIM_PERMERROR;
	}
	return DKIM_PERMERROR;
}

/* No '"' or '\' in these: they go into a quoted-string. */
const char *
dkim_reason_text(enum dkim_reason r)
{
	switch (r) {
	case DKIM_R_OK:			return "good signature";
	case DKIM_R_SYNTAX:		return "bad signature syntax";
	case DKIM_R_VERSION:		return "unsupported version";
	case DKIM_R_ALGORITHM:		return "unsupported algorithm";
	case DKIM_R_CANON:		return "unsupported canonicalization";
	case DKIM_R_QUERY:		return "unsupported query method";
	case DKIM_R_FROM_UNSIGNED:	return "From not signed";
	case DKIM_R_DOMAIN:		return "i= not in the d= domain";
	case DKIM_R_EXPIRED:		return "signature expired";
	case DKIM_R_KEY_REVOKED:	return "key revoked";
	case DKIM_R_STRICT:		return "i= sub-domain with a t=s key";
	case DKIM_R_BODY_SHORT:		return "body shorter than l=";
	case DKIM_R_BODY_HASH:		return "body hash mismatch";
	case DKIM_R_SIGNATURE:		return "signature mismatch";
	case DKIM_R_KEY_TEMPFAIL:	return "key lookup failed";
	case DKIM_R_READ:		return "message unreadable";
	case DKIM_R_KEY_MISSING:	return "no key";
	case DKIM_R_KEY_SYNTAX:		return "bad key record";
	case DKIM_R_KEY_TYPE:		return "key type mismatch";
	case DKIM_R_KEY_HASH:		return "key does not allow sha256";
	case DKIM_R_KEY_SERVICE:	return "key not for email";
	case DKIM_R_KEY_SIZE:		return "key size out of range";
	case DKIM_R_HEADER:		return "header section too large";
	}
	return "unknown";
}

const char *
dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_PASS:		return "pass";
	case DKIM_FAIL:		return "fail";
	case DKIM_NEUTRAL:	return "neutral";
	case DKIM_TEMPERROR:	return "temperror";
	case DKIM_PERMERROR:	return "permerror";
	}
	return "permerror";
}

static void
decide(struct sig *s, enum dkim_reason r)
{
	s->decided = true;
	s->res->reason = r;
	s->res->result = dkim_reason_result(r);
}

/*
 * Parsing a signature field.
 */

static bool
eq_nocase(const char *p, size_t len, const char *s)
{
	return ascii_strcaseeq_n(p, len, s);
}

static bool
is_fws_byte(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Copy without FWS into a fixed array; false when it does not fit. */
static bool
copy_nofws(char *dst, size_t size, const char *p, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (is_fws_byte(p[i]))
			continue;
		if (n + 1 >= size) {
			dst[n] = '\0';
			return false;
		}
		dst[n++] = p[i];
	}
	dst[n] = '\0';
	return true;
}

static int
parse_canon(const char *p, size_t len, enum dkim_canon *hc,
    enum dkim_canon *bc)
{
	const char *slash = memchr(p, '/', len);
	size_t hl = slash != NULL ? (size_t)(slash - p) : len;

	if (eq_nocase(p, hl, "simple"))
		*hc = DKIM_CANON_SIMPLE;
	else if (eq_nocase(p, hl, "relaxed"))
		*hc = DKIM_CANON_RELAXED;
	else
		return -1;
	*bc = DKIM_CANON_SIMPLE;
	if (slash == NULL)
		return 0;
	p += hl + 1;
	len -= hl + 1;
	if (eq_nocase(p, len, "simple"))
		*bc = DKIM_CANON_SIMPLE;
	else if (eq_nocase(p, len, "relaxed"))
		*bc = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

static bool
ftext(const char *p, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x21 || c > 0x7e || c == ':')
			return false;
	}
	return true;
}

static int
parse_number(const struct dkim_tag *t, uint64_t *n)
{
	return parse_u64(t->value, t->value_len, UINT64_MAX, n);
}

static void
md_update(void *ctx, const void *p, size_t len)
{
	if (EVP_DigestUpdate(ctx, p, len) != 1)
		panic("dkim: SHA-256 failed");
}

/*
 * Parse and check one DKIM-Signature field (RFC 6376 3.5, 6.1.1).  What
 * can be reported (d=, s=, a=, i=, b=) is copied first, so even a rejected
 * signature names its domain when it has a usable one.
 */
static void
parse_sig(struct dkim_verify *v, struct sig *s)
{
	const struct dkim_field *f = &v->hdrs.f[s->field];
	const char *raw = v->hdrs.raw.data + f->off, *val, *error, *at, *item;
	const struct dkim_tag *tv, *ta, *tb, *tbh, *tc, *td, *th, *ti, *tl;
	const struct dkim_tag *tq, *ts, *tt, *tx;
	struct dkim_sig_result *res = s->res;
	struct dkim_taglist *tags;
	size_t colon, vlen, pos, len;
	bool from = false;

	tags = xmalloc(sizeof(*tags));
	colon = (const char *)memchr(raw, ':', f->len) - raw;
	val = raw + colon + 1;
	vlen = f->len - colon - 1;
	if (dkim_tags_parse(val, vlen, tags, &error) < 0) {
		decide(s, DKIM_R_SYNTAX);
		goto out;
	}
	tv = dkim_tags_find(tags, "v");
	ta = dkim_tags_find(tags, "a");
	tb = dkim_tags_find(tags, "b");
	tbh = dkim_tags_find(tags, "bh");
	tc = dkim_tags_find(tags, "c");
	td = dkim_tags_find(tags, "d");
	th = dkim_tags_find(tags, "h");
	ti = dkim_tags_find(tags, "i");
	tl = dkim_tags_find(tags, "l");
	tq = dkim_tags_find(tags, "q");
	ts = dkim_tags_find(tags, "s");
	tt = dkim_tags_find(tags, "t");
	tx = dkim_tags_find(tags, "x");

	/* What the report shows. */
	if (td != NULL && dkim_domain_valid(td->value, td->value_len)) {
		memcpy(res->d, td->value, td->value_len);
		res->d[td->value_len] = '\0';
		ascii_lower(res->d);
	}
	if (ts != NULL && dkim_selector_valid(ts->value, ts->value_len)) {
		memcpy(res->s, ts->value, ts->value_len);
		res->s[ts->value_len] = '\0';
	}
	if (ta != NULL && eq_nocase(ta->value, ta->value_len, "rsa-sha256")) {
		res->alg_known = true;
		res->alg = s->alg = DKIM_RSA_SHA256;
	} else if (ta != NULL &&
	    eq_nocase(ta->value, ta->value_len, "ed25519-sha256")) {
		res->alg_known = true;
		res->alg = s->alg = DKIM_ED25519_SHA256;
	}
	if (tb != NULL)
		(void)copy_nofws(res->b, sizeof(res->b), tb->value,
		    tb->value_len);

	/* Required tags, then each value. */
	if (tv == NULL || ta == NULL || tb == NULL || tbh == NULL ||
	    td == NULL || th == NULL || ts == NULL) {
		decide(s, DKIM_R_SYNTAX);
		goto out;
	}
	if (!(tv->value_len == 1 && tv->value[0] == '1')) {
		decide(s, DKIM_R_VERSION);
		goto out;
	}
	if (!res->alg_known) {
		decide(s, DKIM_R_ALGORITHM);	/* rsa-sha1: RFC 8301 */
		goto out;
	}
	if (dkim_b64_decode(tb->value, tb->value_len, &s->b) < 0 ||
	    s->b.len == 0 ||
	    dkim_b64_decode(tbh->value, tbh->value_len, &s->bh) < 0 ||
	    s->bh.len != 32 || res->d[0] == '\0' || res->s[0] == '\0' ||
	    strlen(res->s) + strlen("._domainkey.") + strlen(res->d) >= 254) {
		decide(s, DKIM_R_SYNTAX);
		goto out;
	}
	s->b_start = (size_t)(val - raw) + tb->raw_start;
	s->b_end = (size_t)(val - raw) + tb->raw_end;
	s->hc = s->bc = DKIM_CANON_SIMPLE;
	if (tc != NULL &&
	    parse_canon(tc->value, tc->value_len, &s->hc, &s->bc) < 0) {
		decide(s, DKIM_R_CANON);
		goto out;
	}
	pos = 0;
	while (dkim_tags_item(th->value, th->value_len, &pos, &item,
	    &len) == 1) {
		if (!ftext(item, len) || s->nh == DKIM_H_MAX) {
			decide(s, DKIM_R_SYNTAX);
			goto out;
		}
		s->h[s->nh].p = item;
		s->h[s->nh].len = len;
		s->nh++;
		if (eq_nocase(item, len, "from"))
			from = true;
	}
	if (!from) {
		decide(s, DKIM_R_FROM_UNSIGNED);
		goto out;
	}
	if (ti != NULL) {
		const char *d;
		size_t dl;

		if (!copy_nofws(res->i, sizeof(res->i), ti->value,
		    ti->value_len)) {
			decide(s, DKIM_R_SYNTAX);
			goto out;
		}
		/* [local-part] "@" domain: the domain is after the last @. */
		at = memrchr(ti->value, '@', ti->value_len);
		if (at == NULL) {
			decide(s, DKIM_R_SYNTAX);
			goto out;
		}
		d = at + 1;
		dl = ti->value_len - (size_t)(d - ti->value);
		if (!dkim_domain_valid(d, dl)) {
			decide(s, DKIM_R_SYNTAX);
			goto out;
		}
		len = strlen(res->d);
		if (!(eq_nocase(d, dl, res->d) || (dl > len + 1 &&
		    d[dl - len - 1] == '.' &&
		    eq_nocase(d + dl - len, len, res->d)))) {
			decide(s, DKIM_R_DOMAIN);
			goto out;
		}
		s->i_domain = d;
		s->i_domain_len = dl;
	}
	if (tl != NULL) {
		if (parse_number(tl, &s->l) < 0) {
			decide(s, DKIM_R_SYNTAX);
			goto out;
		}
		s->has_l = res->has_l = true;
		res->l = s->l;
	}
	if (tq != NULL) {
		bool dns = false;

		pos = 0;
		while (dkim_tags_item(tq->value, tq->value_len, &pos, &item,
		    &len) == 1)
			if (eq_nocase(item, len, "dns/txt"))
				dns = true;
		if (!dns) {
			decide(s, DKIM_R_QUERY);
			goto out;
		}
	}
	if ((tt != NULL && parse_number(tt, &res->t) < 0) ||
	    (tx != NULL && parse_number(tx, &res->x) < 0)) {
		decide(s, DKIM_R_SYNTAX);
		goto out;
	}
	res->has_t = tt != NULL;
	res->has_x = tx != NULL;
	if (res->has_t && res->has_x && res->x < res->t) {
		decide(s, DKIM_R_SYNTAX);	/* x= must follow t= (3.5) */
		goto out;
	}
	if (res->has_x && v->now > 0 && res->x < (uint64_t)v->now) {
		decide(s, DKIM_R_EXPIRED);
		goto out;
	}

	/* Ready for the key and the body. */
	snprintf(s->qname, sizeof(s->qname), "%s._domainkey.%s", res->s,
	    res->d);
	if ((s->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
		panic("dkim: SHA-256 failed");
	dkim_body_canon_init(&s->canon, s->bc,
	    s->has_l ? s->l : UINT64_MAX, md_update, s->md);
out:
	free(tags);
}

/*
 * The key.
 */

static void
take_key(struct sig *s, const struct dns_answer *a)
{
	enum dkim_reason first = DKIM_R_KEY_MISSING, r;
	EVP_PKEY *pkey;

	switch (a->status) {
	case DNS_OK:
		break;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		decide(s, DKIM_R_KEY_MISSING);
		return;
	case DNS_TEMPFAIL:
	case DNS_BOGUS:
	default:
		decide(s, DKIM_R_KEY_TEMPFAIL);
		return;
	}
	/* Several records: the first usable one (RFC 6376 6.1.2 lets us
	 * choose); none usable: what was wrong with the first. */
	for (size_t k = 0; k < a->n; k++) {
		struct dkim_key_info info;

		if (dkim_key_record_parse(a->txt[k], a->txt_len[k], s->alg,
		    &pkey, &info, &r) == 0) {
			s->pkey = pkey;
			s->key = info;
			s->res->testing = info.testing;
			s->res->key_bits = info.bits;
			return;
		}
		if (k == 0)
			first = r;
	}
	decide(s, first);
}

static void finish(struct dkim_verify *);
static void destroy(struct dkim_verify *);

static void
key_answer(void *ctx, const struct dns_answer *a)
{
	struct sig *s = ctx;
	struct dkim_verify *v = s->v;

	if (!v->freed && !s->decided)
		take_key(s, a);
	PH_ASSERT(v->pending > 0);
	if (--v->pending > 0)
		return;
	if (v->freed)
		destroy(v);
	else
		finish(v);
}

/*
 * The body, and the end.
 */

static void
body_feed(void *ctx, const char *p, size_t len)
{
	struct dkim_verify *v = ctx;

	for (size_t k = 0; k < v->nsig; k++)
		if (!v->sig[k].decided)
			dkim_body_canon_feed(&v->sig[k].canon, p, len);
}

static void
check(struct dkim_verify *v, struct sig *s)
{
	const struct dkim_field *f = &v->hdrs.f[s->field];
	const char *raw = v->hdrs.raw.data + f->off;
	struct buf data = BUF_INIT, blank = BUF_INIT;

	if (s->pkey == NULL) {
		decide(s, DKIM_R_KEY_MISSING);
		return;
	}
	if (s->key.strict && s->i_domain != NULL &&
	    !eq_nocase(s->i_domain, s->i_domain_len, s->res->d)) {
		decide(s, DKIM_R_STRICT);
		return;
	}
	if (s->has_l && s->canon.total < s->l) {
		decide(s, DKIM_R_BODY_SHORT);
		return;
	}
	if (memcmp(s->body_hash, s->bh.data, 32) != 0) {
		decide(s, DKIM_R_BODY_HASH);
		return;
	}
	/* The fields h= names, then this one with b= empty, no CRLF. */
	dkim_hash_headers(&v->hdrs, s->hc, s->h, s->nh, &data);
	buf_append(&blank, raw, s->b_start);
	buf_append(&blank, raw + s->b_end, f->len - s->b_end);
	dkim_header_canon(s->hc, blank.data, blank.len, &data);
	buf_truncate(&data, data.len - 2);
	if (dkim_key_verify(s->pkey, s->alg, data.data, data.len, s->b.data,
	    s->b.len) == 1)
		decide(s, DKIM_R_OK);
	else
		decide(s, DKIM_R_SIGNATURE);
	buf_free(&data);
	buf_free(&blank);
}

static void
finish(struct dkim_verify *v)
{
	for (size_t k = 0; k < v->nsig; k++)
		if (!v->sig[k].decided)
			check(v, &v->sig[k]);
	/* Last: done() may free v. */
	v->done(v->ctx, &v->results);
}

struct dkim_verify *
dkim_verify_new(const struct dns_resolver *resolver)
{
	struct dkim_verify *v = xcalloc(1, sizeof(*v));

	v->resolver = *resolver;
	dkim_hdrs_init(&v->hdrs);
	return v;
}

void
dkim_verify_run(struct dkim_verify *v, const struct spool *sp, time_t now,
    void (*done)(void *, const struct dkim_results *), void *ctx)
{
	struct dkim_results *r = &v->results;
	const char *error;
	uint64_t body_off;
	bool body = false;
	int st;

	PH_ASSERT(!v->ran);
	v->ran = true;
	v->now = now;
	v->done = done;
	v->ctx = ctx;
	v->pending = 1;
	if ((st = dkim_read_header(sp, &v->hdrs, &body_off, &error)) < 0) {
		/* Nothing to go by: one result says why. */
		r->n = 1;
		r->sig[0].reason = st == -2 ? DKIM_R_HEADER : DKIM_R_READ;
		r->sig[0].result = dkim_reason_result(r->sig[0].reason);
		goto end;
	}
	for (size_t i = 0; i < v->hdrs.n; i++) {
		struct sig *s;

		if (!dkim_hdrs_is(&v->hdrs, i, "DKIM-Signature", 14))
			continue;
		if (v->nsig == DKIM_MAX_SIGS) {
			r->ignored++;
			continue;
		}
		s = &v->sig[v->nsig];
		s->v = v;
		s->res = &r->sig[v->nsig];
		s->field = i;
		v->nsig++;
		r->n = v->nsig;
		parse_sig(v, s);
	}

	/* All lookups first, so they overlap with the body hashing. */
	for (size_t k = 0; k < v->nsig; k++)
		if (!v->sig[k].decided)
			v->pending++;
	for (size_t k = 0; k < v->nsig; k++)
		if (!v->sig[k].decided)
			v->resolver.lookup(v->resolver.impl, v->sig[k].qname,
			    DNS_T_TXT, key_answer, &v->sig[k]);

	for (size_t k = 0; k < v->nsig; k++)
		if (!v->sig[k].decided)
			body = true;
	if (body && dkim_read_body(sp, body_off, body_feed, v, &error) < 0) {
		for (size_t k = 0; k < v->nsig; k++)
			if (!v->sig[k].decided)
				decide(&v->sig[k], DKIM_R_READ);
	}
	for (size_t k = 0; k < v->nsig; k++) {
		struct sig *s = &v->sig[k];

		if (s->decided)
			continue;
		dkim_body_canon_finish(&s->canon);
		if (EVP_DigestFinal_ex(s->md, s->body_hash, NULL) != 1)
			panic("dkim: SHA-256 failed");
	}
end:
	if (--v->pending == 0)
		finish(v);
}

static void
destroy(struct dkim_verify *v)
{
	for (size_t k = 0; k < v->nsig; k++) {
		struct sig *s = &v->sig[k];

		buf_free(&s->b);
		buf_free(&s->bh);
		EVP_MD_CTX_free(s->md);
		EVP_PKEY_free(s->pkey);
	}
	dkim_hdrs_free(&v->hdrs);
	free(v);
}

void
dkim_verify_free(struct dkim_verify **vp)
{
	struct dkim_verify *v = *vp;

	if (v == NULL)
		return;
	*vp = NULL;
	v->freed = true;
	if (v->pending == 0)
		destroy(v);
}

/*
 * RFC 8601 / RFC 6008 formatting.
 */

/* A value that is a MIME token as it is, or a quoted-string. */
static void
put_value(struct buf *out, const char *p, size_t len)
{
	bool token = len > 0;

	for (size_t i = 0; i < len && token; i++)
		if (strchr("()<>@,;:\\\"/[]?= \t", p[i]) != NULL ||
		    (unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			token = false;
	if (token) {
		buf_append(out, p, len);
		return;
	}
	buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, p[i]);
	}
	buf_putc(out, '"');
}

size_t
dkim_result_b_prefix(const struct dkim_results *r, size_t i)
{
	const struct dkim_sig_result *s = &r->sig[i];
	size_t blen = strlen(s->b), n = blen < 8 ? blen : 8;

	/* Long enough to tell this signature from the others (RFC 6008). */
	for (size_t j = 0; j < r->n; j++) {
		if (j == i)
			continue;
		while (n < blen && strncmp(s->b, r->sig[j].b, n) == 0)
			n++;
	}
	return n;
}

void
dkim_result_format(const struct dkim_results *r, size_t i, struct buf *out)
{
	const struct dkim_sig_result *s = &r->sig[i];
	size_t n = dkim_result_b_prefix(r, i);

	buf_printf(out, "dkim=%s", dkim_result_name(s->result));
	if (s->result != DKIM_PASS)
		buf_printf(out, " reason=\"%s\"", dkim_reason_text(s->reason));
	if (s->d[0] != '\0')
		buf_printf(out, " header.d=%s", s->d);
	if (s->s[0] != '\0')
		buf_printf(out, " header.s=%s", s->s);
	if (s->alg_known)
		buf_printf(out, " header.a=%s", dkim_alg_name(s->alg));
	if (n == 0)
		return;
	buf_puts(out, " header.b=");
	put_value(out, s->b, n);
}

void
dkim_results_format(const struct dkim_results *r, struct buf *out)
{
	if (r->n == 0) {
		buf_puts(out, "dkim=none");
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (i > 0)
			buf_puts(out, "; ");
		dkim_result_format(r, i, out);
	}
}
