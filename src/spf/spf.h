/*
 * spf - Sender Policy Framework evaluation (RFC 7208), check_host().
 *
 *	struct spf_check *c = spf_check_new(resolver, "192.0.2.3",
 *	    "mx.example.org", "alice@example.org", "mail.example.test");
 *	spf_check_run(c, NULL, done, ctx);	(NULL: the MAIL FROM domain)
 *	...  done(ctx, result) runs once, possibly before spf_check_run()
 *	     returns when the resolver answers synchronously ...
 *	spf_check_free(&c);
 *
 * Everything of RFC 7208 is implemented: record selection (TXT only,
 * exactly one "v=spf1" record), every mechanism with its CIDR lengths,
 * qualifiers, redirect= and exp= (unknown modifiers are checked for
 * syntax and ignored), macros (section 7, with transformers, delimiters,
 * URL escaping and the validated %{p}), the limits of 4.6.4 (10 terms
 * that query the DNS, 10 MX names per "mx", 10 PTR names, 2 void
 * lookups), IPv4-mapped IPv6 clients treated as IPv4, temperror on DNS
 * failures.  A whole record is parsed before it is evaluated, so a
 * syntax error anywhere is a permerror (4.6).
 *
 * DNS goes only through the struct dns_resolver given, so tests answer
 * from tables.  The evaluation is a state machine driven by the
 * resolver's callbacks: no recursion whatever the nesting of include and
 * redirect (bounded by the limits anyway), and a resolver that answers
 * from inside lookup() is fine too.  At most one query is outstanding.
 *
 * Choices where RFC 7208 leaves room (all listed as acceptable by the
 * RFC 7208 test suite): a target name that cannot be queried after macro
 * expansion (empty label, label over 63) does not match; more than 10 MX
 * names is a permerror, PTR names past the tenth are ignored; a DNSSEC
 * "bogus" answer counts as a temporary DNS failure; the void lookup count
 * covers the query of a, mx, ptr and exists terms (not the address
 * lookups of MX hosts, not include/redirect, not exp=).  No overall time
 * limit is kept here: the resolver's timeouts bound each query and there
 * are at most ~125 of them.
 *
 * The parser (spf_parse.c) and the macro expander (spf_macro.c) are pure
 * and exposed at the end of this header for spf.c and for tests.
 */
#ifndef POSTHORN_SPF_H
#define POSTHORN_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "dns/dns.h"

enum spf_result_code {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* Lower-case name as in Received-SPF and Authentication-Results. */
const char *spf_result_name(enum spf_result_code);

/*
 * What spf_check_run() reports.  Every pointer stays valid until the
 * check is run again or freed.
 */
struct spf_result {
	enum spf_result_code result;
	/* The domain checked: the one given to spf_check_run(). */
	const char	*domain;
	/*
	 * The term of the evaluated record (after redirects; for an
	 * include, the "include:" term itself) that decided, as written
	 * ("-all", "ip4:192.0.2.0/24", "include:_spf.example.net"); NULL
	 * when no mechanism matched (default neutral) and for none and the
	 * errors.
	 */
	const char	*mechanism;
	/*
	 * For fail only: the exp= text, fetched and macro-expanded, printable
	 * US-ASCII, at most SPF_EXP_MAX bytes; NULL when there is no exp= or
	 * it could not be used (DNS errors, several TXT records, bad syntax
	 * are all ignored, 6.2).  The caller adds its own default text.
	 */
	const char	*explanation;
	/* For none, temperror and permerror: why, for logs (never NULL). */
	const char	*reason;
	/* DNS queries made, exp= included (for logs and tests). */
	unsigned	 queries;
};

#define SPF_EXP_MAX		 512
/* 4.6.4: terms that query the DNS: include a mx ptr exists redirect. */
#define SPF_MAX_DNS_TERMS	 10
#define SPF_MAX_MX_NAMES	 10
#define SPF_MAX_PTR_NAMES	 10
#define SPF_MAX_VOID_LOOKUPS	 2

struct spf_check;

typedef void spf_done_cb(void *ctx, const struct spf_result *);

/*
 * ip: the client address as text, IPv4 dotted quad or IPv6 (an
 * IPv4-mapped IPv6 address is treated as IPv4).  helo: the HELO/EHLO
 * argument (%{h}).  mail_from: the MAIL FROM address without brackets;
 * "" for the null reverse-path, in which case the sender is
 * "postmaster@" helo (RFC 7208 2.4); a missing local part becomes
 * "postmaster" (4.3).  For the HELO identity (2.3) make a check with
 * mail_from "" and run it with domain = helo.  receiver_hostname is
 * %{r} (NULL: "unknown").  The strings are copied; the resolver must
 * outlive the check.  Returns NULL when ip is not an IP address.
 */
struct spf_check *spf_check_new(const struct dns_resolver *, const char *ip,
	    const char *helo, const char *mail_from,
	    const char *receiver_hostname);

/*
 * check_host(ip, domain, sender).  domain NULL means the domain of the
 * sender (MAIL FROM, or HELO for the null sender).  done runs exactly
 * once with the result (from inside this call when the resolver answers
 * synchronously).  The check must not be running already; it may be run
 * again from done or after it.
 */
void	 spf_check_run(struct spf_check *, const char *domain,
	    spf_done_cb *done, void *ctx);

/*
 * Frees the check and sets *cp to NULL.  Allowed at any time, also from
 * done: when a DNS query is outstanding the memory is released when its
 * answer comes, and done is not called.
 */
void	 spf_check_free(struct spf_check **);

/* %{t}: the time used (default: time(NULL) at spf_check_new). */
void	 spf_check_set_time(struct spf_check *, time_t);

/*
 * Parser (spf_parse.c).
 */
enum spf_mech {
	SPF_MECH_ALL = 0,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

struct spf_term {
	enum spf_mech	 mech;
	/* SPF_PASS ('+', the default), SPF_FAIL, SPF_SOFTFAIL, SPF_NEUTRAL. */
	enum spf_result_code qual;
	/* include/exists: always; a, mx, ptr: NULL when absent. */
	char		*domain_spec;
	/* a, mx: -1 when absent (then 32 and 128); ip4/ip6: the prefix. */
	int		 cidr4;
	int		 cidr6;
	/* ip4: 4 bytes, ip6: 16 bytes, network order. */
	uint8_t		 net[16];
	/* The term as written, for struct spf_result. */
	char		*text;
};

struct spf_record {
	struct spf_term	*terms;
	size_t		 nterms;
	char		*redirect;	/* domain-spec, or NULL */
	char		*exp;		/* domain-spec, or NULL */
};

/* Longest record accepted (a DNS message cannot carry more anyway). */
#define SPF_RECORD_MAX	65535

/*
 * True when the TXT record is an SPF version 1 record: "v=spf1"
 * (case-insensitive) followed by a space or the end (4.5).
 */
bool	 spf_record_is_spf(const char *, size_t);

/*
 * Parses a whole record (spf_record_is_spf() must be true): any syntax
 * error anywhere is -1 with *error_r (a static string), else 0 and *out
 * (free with spf_record_free).  Rejects bytes outside printable ASCII,
 * unknown mechanisms, bad CIDR lengths (leading zeros, > 32, > 128), bad
 * ip4/ip6 networks, bad domain-specs (7.1: must end in a macro or in "."
 * toplabel), bad macros, duplicate redirect=/exp=, bad modifier names.
 */
int	 spf_record_parse(const char *, size_t, struct spf_record **,
	    const char **error_r);
void	 spf_record_free(struct spf_record **);

/*
 * Macros (spf_macro.c), RFC 7208 section 7.
 */
struct spf_macro_env {
	const char	*s;	/* sender: local@domain */
	const char	*l;	/* local part */
	const char	*o;	/* domain of the sender */
	const char	*d;	/* current domain */
	const char	*i;	/* IP: dotted quad, or 32 dotted nibbles */
	const char	*p;	/* validated name, "unknown"; NULL: not known */
	const char	*v;	/* "in-addr" or "ip6" */
	const char	*h;	/* HELO/EHLO domain */
	const char	*c;	/* readable IP (exp only) */
	const char	*r;	/* receiving host (exp only) */
	uint64_t	 t;	/* timestamp (exp only) */
};

/* Longest expansion accepted (a hostile record could ask for more). */
#define SPF_MACRO_MAX	8192

/*
 * Syntax of a macro-string: macro-literals are %x21-24 / %x26-7E, plus
 * %x20 when exp_text; "%{" letter *DIGIT ["r"] *delimiter "}", "%%",
 * "%_", "%-".  Letters c, r, t only when exp_text or all_letters (an
 * unknown modifier).  *ends_macro_r (may be NULL) tells whether the
 * string ends with a macro-expand.  Returns 0 or -1.
 */
int	 spf_macro_check(const char *, size_t, bool exp_text, bool all_letters,
	    bool *ends_macro_r);
/*
 * domain-spec syntax (7.1): a macro-string ending in a macro or in
 * "." toplabel ["."].
 */
bool	 spf_domain_spec_valid(const char *, size_t);
/* Whether the (valid) macro-string uses %{p}, which needs DNS lookups. */
bool	 spf_macro_uses_p(const char *, size_t);
/*
 * Appends the expansion of a valid macro-string to out.  env->p must be
 * set when the string uses %{p}.  Returns -1 (*error_r) on bad syntax or
 * when the result would exceed SPF_MACRO_MAX bytes.
 */
int	 spf_macro_expand(struct buf *out, const char *, size_t, bool exp_text,
	    const struct spf_macro_env *, const char **error_r);
/*
 * Turns an expanded domain-spec into a query name: drops one trailing
 * dot, then removes labels from the left while longer than 253 (7.3).
 * Returns -1 when the result cannot be queried (empty, empty label,
 * label over 63 bytes).
 */
int	 spf_target_name(struct buf *);

#endif
