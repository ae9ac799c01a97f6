/*
 * dmarc - RFC 7489 policy records, From-domain extraction, identifier
 * alignment and policy evaluation over an asynchronous resolver (see
 * dmarc.h).
 *
 * The check is a state machine of at most five queries: TXT at the From
 * domain, TXT at the organizational domain, and A/AAAA/MX to decide
 * whether a subdomain exists (only when np= is published).  As in spf.c,
 * query() notes the state to resume in; the callback copies the little it
 * needs from the answer and drives dmarc_step() unless it ran inside
 * query() (a synchronous resolver), so nothing recurses.
 *
 * Threats: records, header values and answers are hostile.  Records are
 * bounded (DMARC_RECORD_MAX) and parsed without copying more than the
 * kept tags; the From parser is linear in the value and never reads past
 * the given length; names built for queries are length-checked.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "dmarc/dmarc.h"

const char *
dmarc_status_name(enum dmarc_status s)
{
	switch (s) {
	case DMARC_NONE:	return "none";
	case DMARC_PASS:	return "pass";
	case DMARC_FAIL:	return "fail";
	case DMARC_TEMPERROR:	return "temperror";
	case DMARC_PERMERROR:	return "permerror";
	}
	return "permerror";
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_UNSET:	return "unset";
	case DMARC_POLICY_NONE:		return "none";
	case DMARC_POLICY_QUARANTINE:	return "quarantine";
	case DMARC_POLICY_REJECT:	return "reject";
	}
	return "none";
}

/*
 * Records (6.3, 6.4).
 */
static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && is_wsp(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_wsp((*s)[*len - 1]))
		(*len)--;
}

bool
dmarc_record_is_dmarc(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && is_wsp(s[i]))
		i++;
	if (i >= len || (s[i] != 'v' && s[i] != 'V'))
		return false;
	for (i++; i < len && is_wsp(s[i]); i++)
		;
	if (i >= len || s[i] != '=')
		return false;
	for (i++; i < len && is_wsp(s[i]); i++)
		;
	if (len - i < 6 || strncasecmp(s + i, "DMARC1", 6) != 0)
		return false;
	for (i += 6; i < len && is_wsp(s[i]); i++)
		;
	return i == len || s[i] == ';';
}

static enum dmarc_policy
policy_parse(const char *v, size_t len)
{
	if (ascii_strcaseeq_n(v, len, "none"))
		return DMARC_POLICY_NONE;
	if (ascii_strcaseeq_n(v, len, "quarantine"))
		return DMARC_POLICY_QUARANTINE;
	if (ascii_strcaseeq_n(v, len, "reject"))
		return DMARC_POLICY_REJECT;
	return DMARC_POLICY_UNSET;
}

/* fo = 0 / 1 / d / s, separated by ":" (with optional WSP). */
static bool
fo_valid(const char *v, size_t len)
{
	size_t i = 0;

	for (;;) {
		while (i < len && is_wsp(v[i]))
			i++;
		if (i >= len || (v[i] != '0' && v[i] != '1' && v[i] != 'd' &&
		    v[i] != 's'))
			return false;
		for (i++; i < len && is_wsp(v[i]); i++)
			;
		if (i == len)
			return true;
		if (v[i++] != ':')
			return false;
	}
}

/* At least one "scheme:rest[!size]" in the comma-separated list. */
static bool
rua_valid(const char *v)
{
	while (v != NULL && *v != '\0') {
		const char *end = strchr(v, ','), *p = v;
		size_t len = end != NULL ? (size_t)(end - v) : strlen(v);

		trim(&p, &len);
		if (len > 0 && ((*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z'))) {
			size_t i = 1;

			while (i < len && (isalnum((unsigned char)p[i]) ||
			    p[i] == '+' || p[i] == '-' || p[i] == '.'))
				i++;
			if (i + 1 < len && p[i] == ':' && !is_wsp(p[i + 1]))
				return true;
		}
		v = end != NULL ? end + 1 : NULL;
	}
	return false;
}

void
dmarc_record_clear(struct dmarc_record *rec)
{
	free(rec->rua);
	free(rec->ruf);
	free(rec->fo);
	free(rec->rf);
	memset(rec, 0, sizeof(*rec));
}

int
dmarc_record_parse(const char *s, size_t len, struct dmarc_record *rec,
    const char **error_r)
{
	enum { T_P, T_SP, T_NP, T_ADKIM, T_ASPF, T_PCT, T_RI, T_FO, T_RF,
	    T_RUA, T_RUF, T_COUNT };
	static const char *const names[T_COUNT] = {
		"p", "sp", "np", "adkim", "aspf", "pct", "ri", "fo", "rf",
		"rua", "ruf",
	};
	bool seen[T_COUNT] = { false };
	bool p_bad = true, sp_bad = false;
	size_t i = 0;
	bool first = true;

	memset(rec, 0, sizeof(*rec));
	if (len > DMARC_RECORD_MAX) {
		*error_r = "DMARC record too long";
		return -1;
	}
	if (!dmarc_record_is_dmarc(s, len)) {
		*error_r = "not a DMARC record";
		return -1;
	}
	rec->pct = 100;
	rec->ri = 86400;
	while (i <= len) {
		const char *tag = s + i, *eq, *val;
		size_t tlen = 0, nlen, vlen;
		int t;
		uint64_t u;

		while (i + tlen < len && s[i + tlen] != ';')
			tlen++;
		i += tlen + 1;
		trim(&tag, &tlen);
		if (first) {		/* "v=DMARC1", checked above */
			first = false;
			continue;
		}
		if (tlen == 0 || (eq = memchr(tag, '=', tlen)) == NULL)
			continue;
		nlen = (size_t)(eq - tag);
		val = eq + 1;
		vlen = tlen - nlen - 1;
		trim(&tag, &nlen);
		trim(&val, &vlen);
		for (t = 0; t < T_COUNT; t++)
			if (ascii_strcaseeq_n(tag, nlen, names[t]))
				break;
		if (t == T_COUNT || seen[t])
			continue;	/* unknown or repeated: ignored */
		seen[t] = true;
		switch (t) {
		case T_P:
			rec->p = policy_parse(val, vlen);
			p_bad = rec->p == DMARC_POLICY_UNSET;
			break;
		case T_SP:
			rec->sp = policy_parse(val, vlen);
			sp_bad = rec->sp == DMARC_POLICY_UNSET;
			break;
		case T_NP:
			rec->np = policy_parse(val, vlen);
			break;
		case T_ADKIM:
		case T_ASPF:
			if (vlen == 1 && (*val == 's' || *val == 'S')) {
				if (t == T_ADKIM)
					rec->adkim_strict = true;
				else
					rec->aspf_strict = true;
			}
			break;
		case T_PCT:
			if (parse_u64(val, vlen, 100, &u) == 0)
				rec->pct = (unsigned)u;
			break;
		case T_RI:
			if (parse_u64(val, vlen, UINT32_MAX, &u) == 0)
				rec->ri = (uint32_t)u;
			break;
		case T_FO:
			if (fo_valid(val, vlen))
				rec->fo = xstrndup(val, vlen);
			break;
		case T_RF:
			if (vlen > 0)
				rec->rf = xstrndup(val, vlen);
			break;
		case T_RUA:
			rec->rua = xstrndup(val, vlen);
			break;
		case T_RUF:
			rec->ruf = xstrndup(val, vlen);
			break;
		}
	}
	if (rec->fo == NULL)
		rec->fo = xstrdup("0");
	if (rec->rf == NULL)
		rec->rf = xstrdup("afrf");
	if (p_bad || sp_bad) {
		/* 6.6.3: with a valid rua, act as if p=none. */
		if (!rua_valid(rec->rua)) {
			*error_r = p_bad ?
			    "no valid p= tag in the DMARC record" :
			    "invalid sp= tag in the DMARC record";
			return -1;
		}
		rec->p = DMARC_POLICY_NONE;
		rec->sp = DMARC_POLICY_UNSET;
		rec->p_fallback = true;
	}
	return 0;
}

/*
 * The From header field.
 */

/* Skips a comment at s[*i] == '('; returns -1 if it never ends. */
static int
skip_comment(const char *s, size_t len, size_t *i)
{
	size_t depth = 0;

	for (; *i < len; (*i)++) {
		if (s[*i] == '\\') {
			(*i)++;
		} else if (s[*i] == '(') {
			depth++;
		} else if (s[*i] == ')') {
			if (--depth == 0) {
				(*i)++;
				return 0;
			}
		}
	}
	return -1;
}

/* Copies a quoted string at s[*i] == '"' (quotes kept) to out. */
static int
copy_quoted(const char *s, size_t len, size_t *i, struct buf *out)
{
	buf_putc(out, '"');
	for ((*i)++; *i < len; (*i)++) {
		if (s[*i] == '\\' && *i + 1 < len) {
			buf_putc(out, s[*i]);
			buf_putc(out, s[++(*i)]);
		} else if (s[*i] == '"') {
			buf_putc(out, '"');
			(*i)++;
			return 0;
		} else
			buf_putc(out, s[*i]);
	}
	return -1;
}

struct from_parse {
	struct buf	 tok;		/* addr-spec or display name words */
	struct buf	 angle;		/* inside <...> */
	struct buf	 first;		/* the first address found */
	bool		 has_angle;
	bool		 gap;		/* CFWS since the last character */
	size_t		 count;
};

/*
 * Appends c to the current word buffer; words that were separated by
 * CFWS get one space between them, except around "@" and "." (obsolete
 * "john . doe @ example . com" is one address, "a@b c@d" is not).
 */
static void
from_put(struct from_parse *fp, struct buf *cur, char c)
{
	if (fp->gap && cur->len > 0 && c != '@' && c != '.' &&
	    cur->data[cur->len - 1] != '@' && cur->data[cur->len - 1] != '.')
		buf_putc(cur, ' ');
	fp->gap = false;
	buf_putc(cur, c);
}

static void
from_address_end(struct from_parse *fp)
{
	struct buf *a = fp->has_angle ? &fp->angle : &fp->tok;

	if (a->len > 0) {
		if (fp->count++ == 0)
			buf_append(&fp->first, a->data, a->len);
	}
	buf_reset(&fp->tok);
	buf_reset(&fp->angle);
	fp->has_angle = false;
	fp->gap = false;
}

/* Splits the value into addresses; fp->first gets the first addr-spec. */
static enum dmarc_from_status
from_scan(const char *s, size_t len, struct from_parse *fp)
{
	bool in_angle = false;
	size_t i = 0;

	while (i < len) {
		struct buf *cur = in_angle ? &fp->angle : &fp->tok;
		char c = s[i];

		switch (c) {
		case ' ': case '\t': case '\r': case '\n':
			fp->gap = true;
			i++;
			break;
		case '(':
			if (skip_comment(s, len, &i) == -1)
				return DMARC_FROM_INVALID;
			fp->gap = true;
			break;
		case '"':
			from_put(fp, cur, '"');
			buf_truncate(cur, cur->len - 1);
			if (copy_quoted(s, len, &i, cur) == -1)
				return DMARC_FROM_INVALID;
			break;
		case '[':
			from_put(fp, cur, s[i++]);
			while (i < len && s[i] != ']')
				buf_putc(cur, s[i++]);
			if (i >= len)
				return DMARC_FROM_INVALID;
			buf_putc(cur, s[i++]);
			break;
		case '<':
			if (in_angle || fp->has_angle)
				return DMARC_FROM_INVALID;
			in_angle = fp->has_angle = true;
			fp->gap = false;
			i++;
			break;
		case '>':
			if (!in_angle)
				return DMARC_FROM_INVALID;
			in_angle = false;
			fp->gap = false;
			i++;
			break;
		case ':':
			/* Inside <>: the end of an obsolete route. */
			if (in_angle) {
				if (fp->angle.len == 0 ||
				    fp->angle.data[0] != '@')
					return DMARC_FROM_INVALID;
				buf_reset(&fp->angle);
			} else {
				/* A group: its name is not an address. */
				buf_reset(&fp->tok);
			}
			fp->gap = false;
			i++;
			break;
		case ',':
			if (in_angle)	/* route "@a,@b:" */
				buf_putc(cur, c);
			else
				from_address_end(fp);
			i++;
			break;
		case ';':
			if (in_angle)
				return DMARC_FROM_INVALID;
			from_address_end(fp);
			i++;
			break;
		default:
			from_put(fp, cur, c);
			i++;
			break;
		}
	}
	if (in_angle)
		return DMARC_FROM_INVALID;
	from_address_end(fp);
	if (fp->count == 0)
		return DMARC_FROM_NONE;
	return fp->count > 1 ? DMARC_FROM_MULTIPLE : DMARC_FROM_OK;
}

/* Lower-cased A-label form of a domain, without a trailing dot. */
static int
domain_normalize(const char *d, size_t len, struct buf *out)
{
	size_t base = out->len;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || psl_to_ascii(d, len, out) == -1)
		return -1;
	if (!domain_valid(out->data + base, out->len - base)) {
		buf_truncate(out, base);
		return -1;
	}
	return 0;
}

enum dmarc_from_status
dmarc_from_domain(const char *s, size_t len, struct buf *out)
{
	struct from_parse fp;
	enum dmarc_from_status st;
	const char *a, *at = NULL;
	bool quoted = false, words = false;

	memset(&fp, 0, sizeof(fp));
	st = from_scan(s, len, &fp);
	if (st == DMARC_FROM_OK) {
		a = buf_cstr(&fp.first);
		/* The last "@" outside quotes separates the domain. */
		for (size_t i = 0; i < fp.first.len; i++) {
			if (a[i] == '\\' && quoted)
				i++;
			else if (a[i] == '"')
				quoted = !quoted;
			else if (a[i] == '@' && !quoted)
				at = a + i;
			else if (a[i] == ' ' && !quoted)
				words = true;	/* "a@b c@d": no addr-spec */
		}
		if (words || at == NULL || at == a || at[1] == '[' ||
		    domain_normalize(at + 1,
		    fp.first.len - (size_t)(at + 1 - a), out) == -1)
			st = DMARC_FROM_INVALID;
	}
	buf_free(&fp.tok);
	buf_free(&fp.angle);
	buf_free(&fp.first);
	return st;
}

/*
 * The check.
 */
enum dmarc_state {
	DS_IDLE = 0,
	DS_FROM,
	DS_FROM_ANS,		/* TXT _dmarc.<From domain> */
	DS_ORG,
	DS_ORG_ANS,		/* TXT _dmarc.<organizational domain> */
	DS_EVAL,
	DS_EXIST,		/* A, AAAA, MX of the From domain for np */
	DS_EXIST_ANS,
	DS_POLICY,
	DS_DONE,
};

struct dmarc_check {
	const struct dns_resolver *resolver;
	const struct psl *psl;

	enum dmarc_state state;
	dmarc_done_cb	*done;
	void		*done_ctx;
	bool		 spf_pass;
	char		*spf_domain;
	char		**dkim;
	size_t		 n_dkim;
	uint32_t	(*random)(void *);
	void		*random_ctx;

	char		*from;
	char		*org;
	const char	*policy_domain;	/* from or org */
	struct dmarc_record rec;
	bool		 have_rec;
	int		 exist_i;
	struct dmarc_result res;
	struct buf	 reason;

	/* The outstanding query. */
	char		*qname;
	int		 qtype;
	enum dns_status	 ans_status;
	size_t		 ans_n;
	char		**txt;
	size_t		*txt_len;
	bool		 pending;
	bool		 in_step;
	bool		 dead;
	unsigned	 queries;
};

static void	dmarc_step(struct dmarc_check *);

static void
answer_clear(struct dmarc_check *c)
{
	for (size_t i = 0; c->txt != NULL && i < c->ans_n; i++)
		free(c->txt[i]);
	free(c->txt);
	free(c->txt_len);
	c->txt = NULL;
	c->txt_len = NULL;
	c->ans_n = 0;
}

static void
dmarc_dns_cb(void *arg, const struct dns_answer *a)
{
	struct dmarc_check *c = arg;
	size_t n;

	PH_ASSERT(c->pending);
	c->pending = false;
	if (c->dead) {
		dmarc_check_free(&c);
		return;
	}
	answer_clear(c);
	c->ans_status = a->status;
	n = a->status == DNS_OK ? a->n : 0;
	if (c->qtype == DNS_T_TXT && n > 0 && a->txt != NULL &&
	    a->txt_len != NULL) {
		c->txt = xcalloc(n, sizeof(*c->txt));
		c->txt_len = xcalloc(n, sizeof(*c->txt_len));
		for (size_t i = 0; i < n; i++) {
			c->txt[i] = xstrndup(a->txt[i], a->txt_len[i]);
			c->txt_len[i] = a->txt_len[i];
		}
	}
	c->ans_n = n;
	if (c->ans_status == DNS_OK && n == 0)
		c->ans_status = DNS_NODATA;
	if (!c->in_step)
		dmarc_step(c);
}

static void
query(struct dmarc_check *c, const char *name, int type,
    enum dmarc_state next)
{
	free(c->qname);
	c->qname = xstrdup(name);
	c->qtype = type;
	c->state = next;
	c->pending = true;
	c->queries++;
	c->resolver->lookup(c->resolver->impl, c->qname, type, dmarc_dns_cb,
	    c);
}

static void
finish(struct dmarc_check *c, enum dmarc_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
finish(struct dmarc_check *c, enum dmarc_status st, const char *fmt, ...)
{
	va_list ap;

	c->res.result = st;
	buf_reset(&c->reason);
	va_start(ap, fmt);
	buf_vprintf(&c->reason, fmt, ap);
	va_end(ap);
	c->state = DS_DONE;
}

static bool
temp_failure(enum dns_status s)
{
	return s == DNS_TEMPFAIL || s == DNS_BOGUS;
}

/* Queries TXT _dmarc.<domain>; false when the name would be too long. */
static bool
query_record(struct dmarc_check *c, const char *domain,
    enum dmarc_state next)
{
	char name[256];

	if (snprintf(name, sizeof(name), "_dmarc.%s", domain) > 253)
		return false;
	query(c, name, DNS_T_TXT, next);
	return true;
}

static const char *
org_of(const struct dmarc_check *c, const char *d)
{
	const char *org = psl_org_domain(c->psl, d);

	return org != NULL ? org : d;
}

/*
 * The TXT answer at _dmarc.<domain>: 1 record found and parsed, 0 none
 * there, -1 the check is finished (error).
 */
static int
record_answer(struct dmarc_check *c, const char *domain)
{
	const char *found = NULL, *error;
	size_t flen = 0, n = 0;

	if (temp_failure(c->ans_status)) {
		finish(c, DMARC_TEMPERROR, "DNS failure looking up _dmarc.%s",
		    domain);
		return -1;
	}
	for (size_t i = 0; i < c->ans_n; i++) {
		if (dmarc_record_is_dmarc(c->txt[i], c->txt_len[i])) {
			found = c->txt[i];
			flen = c->txt_len[i];
			n++;
		}
	}
	if (n == 0)
		return 0;
	if (n > 1) {
		finish(c, DMARC_PERMERROR, "several DMARC records at _dmarc.%s",
		    domain);
		return -1;
	}
	dmarc_record_clear(&c->rec);
	if (dmarc_record_parse(found, flen, &c->rec, &error) == -1) {
		finish(c, DMARC_PERMERROR, "%s at _dmarc.%s", error, domain);
		return -1;
	}
	c->have_rec = true;
	c->policy_domain = domain;
	c->state = DS_EVAL;
	return 1;
}

static void
st_from(struct dmarc_check *c)
{
	if (query_record(c, c->from, DS_FROM_ANS))
		return;
	/* "_dmarc." does not fit before this name: try the org domain. */
	if (strcmp(c->org, c->from) != 0)
		c->state = DS_ORG;
	else
		finish(c, DMARC_NONE, "no DMARC record for %s", c->from);
}

static void
st_from_ans(struct dmarc_check *c)
{
	if (record_answer(c, c->from) != 0)
		return;
	if (strcmp(c->org, c->from) != 0)
		c->state = DS_ORG;
	else
		finish(c, DMARC_NONE, "no DMARC record for %s", c->from);
}

static void
st_org(struct dmarc_check *c)
{
	if (!query_record(c, c->org, DS_ORG_ANS))
		finish(c, DMARC_NONE, "no DMARC record for %s", c->from);
}

static void
st_org_ans(struct dmarc_check *c)
{
	if (record_answer(c, c->org) == 0)
		finish(c, DMARC_NONE, "no DMARC record for %s", c->from);
}

/* Identifier alignment (3.1) of d with the From domain. */
static bool
aligned(const struct dmarc_check *c, const char *d, bool strict)
{
	struct buf n = BUF_INIT;
	bool ok = false;

	if (d != NULL && domain_normalize(d, strlen(d), &n) == 0) {
		if (strict)
			ok = strcmp(n.data, c->from) == 0;
		else
			ok = strcmp(org_of(c, n.data), c->org) == 0;
	}
	buf_free(&n);
	return ok;
}

/* The policy for this From domain: p, sp or np. */
static enum dmarc_policy
applicable_policy(const struct dmarc_check *c)
{
	const struct dmarc_record *r = &c->rec;

	if (c->policy_domain == c->from)
		return r->p;
	if (c->res.nonexistent && r->np != DMARC_POLICY_UNSET)
		return r->np;
	return r->sp != DMARC_POLICY_UNSET ? r->sp : r->p;
}

static void
st_eval(struct dmarc_check *c)
{
	c->res.spf_aligned = c->spf_pass &&
	    aligned(c, c->spf_domain, c->rec.aspf_strict);
	for (size_t i = 0; i < c->n_dkim; i++) {
		if (aligned(c, c->dkim[i], c->rec.adkim_strict)) {
			c->res.dkim_aligned = true;
			c->res.dkim_domain = c->dkim[i];
			break;
		}
	}
	if (c->res.spf_aligned || c->res.dkim_aligned) {
		c->res.policy = applicable_policy(c);
		finish(c, DMARC_PASS, "%s", c->res.dkim_aligned ?
		    "aligned DKIM pass" : "aligned SPF pass");
		return;
	}
	if (c->policy_domain != c->from && c->rec.np != DMARC_POLICY_UNSET) {
		c->exist_i = 0;
		c->state = DS_EXIST;
	} else
		c->state = DS_POLICY;
}

static const int exist_types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX };

static void
st_exist_ans(struct dmarc_check *c)
{
	/* Records, or a failure: the domain is taken to exist. */
	if (c->ans_status != DNS_NXDOMAIN && c->ans_status != DNS_NODATA) {
		c->state = DS_POLICY;
		return;
	}
	if (++c->exist_i == 3) {
		c->res.nonexistent = true;
		c->state = DS_POLICY;
	} else
		c->state = DS_EXIST;
}

static void
st_policy(struct dmarc_check *c)
{
	enum dmarc_policy p = applicable_policy(c);

	c->res.policy = p;
	c->res.disposition = p;
	if (p > DMARC_POLICY_NONE && c->rec.pct < 100) {
		uint32_t roll = c->random != NULL ? c->random(c->random_ctx) :
		    random_u32();

		/* 6.6.4: outside the sample, the next lower policy. */
		if (roll % 100 >= c->rec.pct) {
			c->res.sampled_out = true;
			c->res.disposition = p == DMARC_POLICY_REJECT ?
			    DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
		}
	}
	finish(c, DMARC_FAIL, "no aligned SPF or DKIM pass");
}

static void
dmarc_dispatch(struct dmarc_check *c)
{
	switch (c->state) {
	case DS_FROM:
		st_from(c);
		break;
	case DS_FROM_ANS:
		st_from_ans(c);
		break;
	case DS_ORG:
		st_org(c);
		break;
	case DS_ORG_ANS:
		st_org_ans(c);
		break;
	case DS_EVAL:
		st_eval(c);
		break;
	case DS_EXIST:
		query(c, c->from, exist_types[c->exist_i], DS_EXIST_ANS);
		break;
	case DS_EXIST_ANS:
		st_exist_ans(c);
		break;
	case DS_POLICY:
		st_policy(c);
		break;
	case DS_IDLE:
	case DS_DONE:
		panic("dmarc: dispatch in state %d", (int)c->state);
	}
}

static void
dmarc_step(struct dmarc_check *c)
{
	dmarc_done_cb *done;
	void *ctx;

	c->in_step = true;
	while (!c->pending && c->state != DS_DONE)
		dmarc_dispatch(c);
	c->in_step = false;
	if (c->pending)
		return;
	c->state = DS_IDLE;
	if (c->res.result != DMARC_FAIL)
		c->res.disposition = DMARC_POLICY_NONE;
	if (c->res.policy == DMARC_POLICY_UNSET)
		c->res.policy = DMARC_POLICY_NONE;
	c->res.from_domain = c->from;
	c->res.org_domain = c->org;
	c->res.policy_domain = c->have_rec ? c->policy_domain : NULL;
	c->res.record = c->have_rec ? &c->rec : NULL;
	c->res.reason = buf_cstr(&c->reason);
	c->res.queries = c->queries;
	done = c->done;
	ctx = c->done_ctx;
	c->done = NULL;
	/* The callback may free or rerun the check: nothing after it. */
	done(ctx, &c->res);
}

struct dmarc_check *
dmarc_check_new(const struct dns_resolver *resolver, const struct psl *psl)
{
	struct dmarc_check *c = xcalloc(1, sizeof(*c));

	c->resolver = resolver;
	c->psl = psl;
	return c;
}

static void
run_reset(struct dmarc_check *c)
{
	answer_clear(c);
	dmarc_record_clear(&c->rec);
	c->have_rec = false;
	free(c->spf_domain);
	c->spf_domain = NULL;
	for (size_t i = 0; i < c->n_dkim; i++)
		free(c->dkim[i]);
	free(c->dkim);
	c->dkim = NULL;
	c->n_dkim = 0;
	free(c->from);
	c->from = NULL;
	free(c->org);
	c->org = NULL;
	c->policy_domain = NULL;
	buf_reset(&c->reason);
	memset(&c->res, 0, sizeof(c->res));
	c->queries = 0;
}

void
dmarc_check_run(struct dmarc_check *c, const char *from_domain,
    const struct dmarc_auth_inputs *in, dmarc_done_cb *done, void *ctx)
{
	struct buf n = BUF_INIT;

	PH_ASSERT(c->state == DS_IDLE && !c->pending);
	run_reset(c);
	c->done = done;
	c->done_ctx = ctx;
	c->spf_pass = in->spf_pass;
	c->spf_domain = in->spf_domain != NULL ? xstrdup(in->spf_domain) :
	    NULL;
	if (in->n_dkim > 0) {
		c->dkim = xcalloc(in->n_dkim, sizeof(*c->dkim));
		for (size_t i = 0; i < in->n_dkim; i++)
			if (in->dkim_domains[i] != NULL)
				c->dkim[c->n_dkim++] =
				    xstrdup(in->dkim_domains[i]);
	}
	c->random = in->random;
	c->random_ctx = in->random_ctx;
	if (from_domain == NULL ||
	    domain_normalize(from_domain, strlen(from_domain), &n) == -1) {
		c->from = xstrdup(from_domain != NULL ? from_domain : "");
		c->org = xstrdup("");
		finish(c, DMARC_PERMERROR, "invalid From domain");
	} else {
		c->from = buf_steal(&n);
		c->org = xstrdup(org_of(c, c->from));
		c->state = DS_FROM;
	}
	buf_free(&n);
	dmarc_step(c);
}

void
dmarc_check_free(struct dmarc_check **cp)
{
	struct dmarc_check *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->pending) {
		c->dead = true;		/* the callback frees it */
		return;
	}
	run_reset(c);
	buf_free(&c->reason);
	free(c->qname);
	free(c);
}
