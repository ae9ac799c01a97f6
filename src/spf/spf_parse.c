/*
 * spf_parse - SPF record syntax (RFC 7208 sections 4.5, 4.6, 5, 6, 7.1,
 * 12): spf_record_is_spf() picks version 1 records out of a TXT RRset,
 * spf_record_parse() turns one into terms and modifiers.
 *
 * Pure: no DNS, no globals.  The whole record is checked before anything
 * is evaluated, because a syntax error anywhere is a permerror (4.6).
 * Where the grammar is ambiguous we follow the RFC 7208 test suite: a
 * dual-cidr-length is taken from the end of an a/mx term ("a:x/y.z/24"
 * has domain "x/y.z"), leading zeros in CIDR lengths and in ip4 octets
 * are errors, a name followed by "=" is a modifier (so "moo.cow/x=y" is
 * an unknown mechanism), "redirect" and "exp" are never unknown
 * modifiers.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xmalloc.h"
#include "spf/spf.h"

bool
spf_record_is_spf(const char *s, size_t len)
{
	return len >= 6 && strncasecmp(s, "v=spf1", 6) == 0 &&
	    (len == 6 || s[6] == ' ');
}

static bool
name_is(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return n == len && strncasecmp(s, lit, n) == 0;
}

/* "0" / %x31-39 0*2DIGIT, at most max.  Returns the value or -1. */
static int
cidr_parse(const char *s, size_t len, int max)
{
	int v = 0;

	if (len == 0 || len > 3 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* ip4-network = qnum "." qnum "." qnum "." qnum, no leading zeros. */
static int
ip4_parse(const char *s, size_t len, uint8_t out[4])
{
	size_t i = 0;

	for (int q = 0; q < 4; q++) {
		size_t b = i;
		unsigned v = 0;

		if (q > 0) {
			if (i >= len || s[i] != '.')
				return -1;
			b = ++i;
		}
		while (i < len && isdigit((unsigned char)s[i]) && i - b < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == b || v > 255 || (s[b] == '0' && i - b > 1))
			return -1;
		out[q] = (uint8_t)v;
	}
	return i == len ? 0 : -1;
}

static int
ip6_parse(const char *s, size_t len, uint8_t out[16])
{
	char tmp[INET6_ADDRSTRLEN + 1];

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1 ? 0 : -1;
}

/* ":" domain-spec, required (include, exists) or optional (a, mx, ptr). */
static int
domain_arg(struct spf_term *t, const char *rest, size_t len, bool required,
    const char **error_r)
{
	if (len == 0) {
		if (!required)
			return 0;
		*error_r = "mechanism needs a domain-spec";
		return -1;
	}
	if (rest[0] != ':') {
		*error_r = "unexpected text after the mechanism name";
		return -1;
	}
	if (!spf_domain_spec_valid(rest + 1, len - 1)) {
		*error_r = "bad domain-spec";
		return -1;
	}
	t->domain_spec = xstrndup(rest + 1, len - 1);
	return 0;
}

/* a, mx: [ ":" domain-spec ] [ ip4-cidr-length ] [ "/" ip6-cidr-length ] */
static int
dual_cidr_arg(struct spf_term *t, const char *rest, size_t len,
    const char **error_r)
{
	size_t d = len;

	while (d > 0 && isdigit((unsigned char)rest[d - 1]))
		d--;
	if (d < len && d >= 2 && rest[d - 1] == '/' && rest[d - 2] == '/') {
		if ((t->cidr6 = cidr_parse(rest + d, len - d, 128)) == -1) {
			*error_r = "bad ip6-cidr-length";
			return -1;
		}
		len = d - 2;
		d = len;
		while (d > 0 && isdigit((unsigned char)rest[d - 1]))
			d--;
	}
	if (d < len && d >= 1 && rest[d - 1] == '/') {
		if ((t->cidr4 = cidr_parse(rest + d, len - d, 32)) == -1) {
			*error_r = "bad ip4-cidr-length";
			return -1;
		}
		len = d - 1;
	}
	return domain_arg(t, rest, len, false, error_r);
}

/* ip4 / ip6: ":" network [ "/" length ] */
static int
ip_arg(struct spf_term *t, const char *rest, size_t len, bool v6,
    const char **error_r)
{
	const char *net, *slash;
	size_t netlen;
	int max = v6 ? 128 : 32, c = max;

	if (len < 2 || rest[0] != ':') {
		*error_r = v6 ? "ip6 needs a network" : "ip4 needs a network";
		return -1;
	}
	net = rest + 1;
	slash = memchr(net, '/', len - 1);
	netlen = slash != NULL ? (size_t)(slash - net) : len - 1;
	if ((v6 ? ip6_parse(net, netlen, t->net) :
	    ip4_parse(net, netlen, t->net)) == -1) {
		*error_r = v6 ? "bad ip6-network" : "bad ip4-network";
		return -1;
	}
	if (slash != NULL &&
	    (c = cidr_parse(slash + 1, (size_t)(rest + len - slash - 1),
	    max)) == -1) {
		*error_r = v6 ? "bad ip6-cidr-length" : "bad ip4-cidr-length";
		return -1;
	}
	if (v6)
		t->cidr6 = c;
	else
		t->cidr4 = c;
	return 0;
}

static int
parse_modifier(struct spf_record *rec, const char *name, size_t nlen,
    const char *val, size_t vlen, const char **error_r)
{
	char **slot;

	if (name_is(name, nlen, "redirect"))
		slot = &rec->redirect;
	else if (name_is(name, nlen, "exp"))
		slot = &rec->exp;
	else {
		/* unknown-modifier = name "=" macro-string; ignored. */
		if (spf_macro_check(val, vlen, false, true, NULL) == -1) {
			*error_r = "bad macro-string in a modifier";
			return -1;
		}
		return 0;
	}
	if (*slot != NULL) {
		*error_r = slot == &rec->redirect ? "redirect= appears twice" :
		    "exp= appears twice";
		return -1;
	}
	if (!spf_domain_spec_valid(val, vlen)) {
		*error_r = slot == &rec->redirect ?
		    "bad redirect= domain-spec" : "bad exp= domain-spec";
		return -1;
	}
	*slot = xstrndup(val, vlen);
	return 0;
}

static int
parse_directive(struct spf_record *rec, const char *s, size_t len,
    const char **error_r)
{
	static const struct {
		const char	*name;
		enum spf_mech	 mech;
	} mechs[] = {
		{ "all", SPF_MECH_ALL },
		{ "include", SPF_MECH_INCLUDE },
		{ "a", SPF_MECH_A },
		{ "mx", SPF_MECH_MX },
		{ "ptr", SPF_MECH_PTR },
		{ "ip4", SPF_MECH_IP4 },
		{ "ip6", SPF_MECH_IP6 },
		{ "exists", SPF_MECH_EXISTS },
	};
	struct spf_term *t;
	enum spf_result_code qual = SPF_PASS;
	const char *p = s, *end = s + len, *rest;
	size_t i, rlen;
	int r;

	switch (*p) {
	case '+': qual = SPF_PASS; p++; break;
	case '-': qual = SPF_FAIL; p++; break;
	case '~': qual = SPF_SOFTFAIL; p++; break;
	case '?': qual = SPF_NEUTRAL; p++; break;
	}
	rest = p;
	while (rest < end && *rest != ':' && *rest != '/')
		rest++;
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (name_is(p, (size_t)(rest - p), mechs[i].name))
			break;
	if (i == sizeof(mechs) / sizeof(mechs[0])) {
		*error_r = "unknown mechanism";
		return -1;
	}
	rec->terms = xreallocarray(rec->terms, rec->nterms + 1,
	    sizeof(*rec->terms));
	t = &rec->terms[rec->nterms++];
	memset(t, 0, sizeof(*t));
	t->mech = mechs[i].mech;
	t->qual = qual;
	t->cidr4 = t->cidr6 = -1;
	t->text = xstrndup(s, len);
	rlen = (size_t)(end - rest);
	switch (t->mech) {
	case SPF_MECH_ALL:
		if ((r = rlen == 0 ? 0 : -1) == -1)
			*error_r = "unexpected text after \"all\"";
		break;
	case SPF_MECH_INCLUDE:
	case SPF_MECH_EXISTS:
		r = domain_arg(t, rest, rlen, true, error_r);
		break;
	case SPF_MECH_PTR:
		r = domain_arg(t, rest, rlen, false, error_r);
		break;
	case SPF_MECH_A:
	case SPF_MECH_MX:
		r = dual_cidr_arg(t, rest, rlen, error_r);
		break;
	case SPF_MECH_IP4:
		r = ip_arg(t, rest, rlen, false, error_r);
		break;
	case SPF_MECH_IP6:
	default:
		r = ip_arg(t, rest, rlen, true, error_r);
		break;
	}
	return r;
}

static int
parse_term(struct spf_record *rec, const char *s, size_t len,
    const char **error_r)
{
	size_t n = 0;

	/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), then "=". */
	if (isalpha((unsigned char)s[0])) {
		n = 1;
		while (n < len && (isalnum((unsigned char)s[n]) ||
		    s[n] == '-' || s[n] == '_' || s[n] == '.'))
			n++;
	}
	if (n > 0 && n < len && s[n] == '=')
		return parse_modifier(rec, s, n, s + n + 1, len - n - 1,
		    error_r);
	return parse_directive(rec, s, len, error_r);
}

int
spf_record_parse(const char *s, size_t len, struct spf_record **out,
    const char **error_r)
{
	struct spf_record *rec;
	size_t i;

	*out = NULL;
	if (!spf_record_is_spf(s, len)) {
		*error_r = "not an SPF record";
		return -1;
	}
	if (len > SPF_RECORD_MAX) {
		*error_r = "record too long";
		return -1;
	}
	/* 3.1: records are 7-bit ASCII; terms hold no controls. */
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
			*error_r = "non-ASCII or control character in record";
			return -1;
		}
	}
	rec = xcalloc(1, sizeof(*rec));
	i = 6;
	while (i < len) {
		size_t j;

		if (s[i] == ' ') {
			i++;
			continue;
		}
		for (j = i; j < len && s[j] != ' '; j++)
			;
		if (parse_term(rec, s + i, j - i, error_r) == -1) {
			spf_record_free(&rec);
			return -1;
		}
		i = j;
	}
	*out = rec;
	return 0;
}

void
spf_record_free(struct spf_record **recp)
{
	struct spf_record *rec = *recp;

	if (rec == NULL)
		return;
	for (size_t i = 0; i < rec->nterms; i++) {
		free(rec->terms[i].domain_spec);
		free(rec->terms[i].text);
	}
	free(rec->terms);
	free(rec->redirect);
	free(rec->exp);
	free(rec);
	*recp = NULL;
}
