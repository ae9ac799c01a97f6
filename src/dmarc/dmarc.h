/*
 * dmarc - DMARC policy discovery and evaluation (RFC 7489, with the "np"
 * tag of RFC 9091).
 *
 *	struct buf from = BUF_INIT;
 *	if (dmarc_from_domain(value, len, &from) != DMARC_FROM_OK)
 *		... dmarc=permerror (none or several From addresses) ...
 *	struct dmarc_check *d = dmarc_check_new(resolver, psl);
 *	struct dmarc_auth_inputs in = {
 *		.spf_pass = spf_result == SPF_PASS,
 *		.spf_domain = "example.org",	   MAIL FROM domain, or HELO
 *		.dkim_domains = dkim_pass_d, .n_dkim = n,
 *	};
 *	dmarc_check_run(d, buf_cstr(&from), &in, done, ctx);
 *	... done(ctx, result) runs once (maybe from inside the call) ...
 *	dmarc_check_free(&d);
 *
 * Discovery (6.6.3): TXT at _dmarc.<From domain>; when there is no DMARC
 * record there (no name, no TXT, no "v=DMARC1" record), TXT at
 * _dmarc.<organizational domain>.  A DNS failure is temperror; several
 * DMARC records, or one without a usable "p" (and no "rua" to fall back
 * to p=none), is permerror.  Alignment (3.1) is strict (equal names) or
 * relaxed (same organizational domain, from the Public Suffix List).  On
 * failure the policy is p for the From domain itself, sp for a subdomain
 * (default p), np for a subdomain that does not exist (A, AAAA and MX all
 * NXDOMAIN or NODATA; default sp) - the existence queries are only made
 * when np is published.  pct sampling (6.6.4) uses the caller's random
 * function, and a message outside the sample gets the next lower policy
 * (reject -> quarantine -> none).
 *
 * DNS goes only through the struct dns_resolver (tests answer from
 * tables); the check is a small state machine like spf's, never recursing
 * whatever the resolver does.
 */
#ifndef POSTHORN_DMARC_H
#define POSTHORN_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "dmarc/psl.h"
#include "dns/dns.h"

enum dmarc_status {
	DMARC_NONE = 0,		/* no policy published */
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR,
	DMARC_PERMERROR,
};

enum dmarc_policy {
	DMARC_POLICY_UNSET = 0,	/* tag absent (records only) */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

/* "none", "pass", ... as in Authentication-Results (RFC 7489 11.2). */
const char *dmarc_status_name(enum dmarc_status);
/* "none", "quarantine", "reject" ("unset" for DMARC_POLICY_UNSET). */
const char *dmarc_policy_name(enum dmarc_policy);

/*
 * A parsed record.  Invalid optional tags get their defaults (6.3: syntax
 * errors in the rest of the record are discarded); unknown tags are
 * ignored; a repeated tag keeps its first value.
 */
struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp;		/* UNSET: same as p */
	enum dmarc_policy np;		/* UNSET: same as sp (RFC 9091) */
	bool		 p_fallback;	/* p missing or bad: p=none for rua */
	bool		 adkim_strict;
	bool		 aspf_strict;
	unsigned	 pct;		/* 0..100, default 100 */
	uint32_t	 ri;		/* default 86400 */
	char		*rua;		/* as published, or NULL */
	char		*ruf;
	char		*fo;		/* default "0" */
	char		*rf;		/* default "afrf" */
};

#define DMARC_RECORD_MAX	4096

/* "v=DMARC1" (with optional spaces around "=") then ";" or the end. */
bool	 dmarc_record_is_dmarc(const char *, size_t);
/*
 * Parses a record into rec (cleared first; free with dmarc_record_clear
 * even on failure).  Returns -1 (*error_r) when it is not a DMARC record
 * or has no usable p= (6.6.3: a bad p or sp without a valid rua URI).
 */
int	 dmarc_record_parse(const char *, size_t, struct dmarc_record *,
	    const char **error_r);
void	 dmarc_record_clear(struct dmarc_record *);

enum dmarc_from_status {
	DMARC_FROM_OK = 0,
	DMARC_FROM_NONE,	/* no address (empty, group, "<>") */
	DMARC_FROM_MULTIPLE,	/* several addresses: RFC 7489 6.6.1 */
	DMARC_FROM_INVALID,	/* unparseable, no domain, domain literal */
};

/*
 * The RFC5322.From domain from a From header field value (unfolded or
 * not; comments, quoted strings, display names and obsolete routes are
 * understood).  On DMARC_FROM_OK the domain is appended to out: lower
 * case, no trailing dot, U-labels converted to A-labels, valid host name
 * syntax.  Several From fields are the caller's to refuse (MULTIPLE).
 */
enum dmarc_from_status dmarc_from_domain(const char *, size_t,
	    struct buf *out);

/* What SPF and DKIM found; pointers are read during dmarc_check_run(). */
struct dmarc_auth_inputs {
	bool		 spf_pass;	/* the SPF result was pass */
	const char	*spf_domain;	/* SPF's: MAIL FROM, or HELO */
	const char *const *dkim_domains; /* d= of each passing signature */
	size_t		 n_dkim;
	/* For pct; NULL: random_u32(). */
	uint32_t	(*random)(void *);
	void		*random_ctx;
};

/* Valid until the check is run again or freed. */
struct dmarc_result {
	enum dmarc_status result;
	const char	*from_domain;	/* normalized */
	const char	*org_domain;	/* of the From domain */
	const char	*policy_domain;	/* the record's, or NULL */
	const struct dmarc_record *record;	/* NULL when none */
	bool		 spf_aligned;
	bool		 dkim_aligned;
	const char	*dkim_domain;	/* the aligned d=, or NULL */
	/*
	 * policy: the published policy for this From domain (p, sp or np),
	 * DMARC_POLICY_NONE when there is none.  disposition: what to do,
	 * NONE unless result is fail; policy downgraded when the message
	 * fell outside the pct sample (sampled_out).
	 */
	enum dmarc_policy policy;
	enum dmarc_policy disposition;
	bool		 sampled_out;
	bool		 nonexistent;	/* np applied */
	const char	*reason;	/* for logs, never NULL */
	unsigned	 queries;
};

struct dmarc_check;

typedef void dmarc_done_cb(void *ctx, const struct dmarc_result *);

/* The resolver and the list must outlive the check.  Never NULL. */
struct dmarc_check *dmarc_check_new(const struct dns_resolver *,
	    const struct psl *);
/*
 * Evaluates DMARC for from_domain (as given by dmarc_from_domain; it is
 * normalized again here).  done runs exactly once.  The check must not
 * be running; it may be run again from done or after it.
 */
void	 dmarc_check_run(struct dmarc_check *, const char *from_domain,
	    const struct dmarc_auth_inputs *, dmarc_done_cb *done, void *ctx);
/*
 * Allowed at any time, also from done: when a DNS query is outstanding
 * the memory is released when its answer comes, and done is not called.
 */
void	 dmarc_check_free(struct dmarc_check **);

#endif
