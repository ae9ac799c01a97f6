/*
 * mta_sts - the text formats of MTA-STS (RFC 8461): the _mta-sts TXT
 * record (3.1), the policy file (3.2) and MX host matching (4.1).
 * Pure functions, no I/O: the fetching and caching are in sts.c.
 *
 *	switch (sts_txt_select(txt, len, n, id, &why)) ...	TXT answer
 *	sts_policy_parse(body, len, &pol, &why)			policy file
 *	sts_mx_match(&pol, "mx1.example.com")			4.1
 *	sts_policy_free(&pol)
 */
#ifndef POSTHORN_MTA_STS_H
#define POSTHORN_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STS_ID_MAX	32		/* 1*32(ALPHA / DIGIT) */
#define STS_MAX_AGE_MAX	31557600	/* one year (3.2) */
#define STS_POLICY_MAX	((size_t)64 * 1024)	/* body size limit (3.3) */

enum sts_mode {
	STS_MODE_NONE = 0,
	STS_MODE_TESTING,
	STS_MODE_ENFORCE,
};

struct sts_policy {
	enum sts_mode	 mode;
	uint32_t	 max_age;	/* seconds, at most STS_MAX_AGE_MAX */
	char		**mx;		/* lower case; "*.example.com" */
	size_t		 nmx;
};

/*
 * One TXT record's text: 1 and *id set when it is a valid STSv1 record,
 * 0 when it is not an STSv1 record at all (another TXT record at the
 * name), -1 when it begins like one but is malformed.
 */
int	 sts_txt_parse(const char *, size_t, char id[STS_ID_MAX + 1]);
/*
 * Chooses among the n TXT records at _mta-sts.<domain> (3.1): records not
 * beginning with "v=STSv1" are ignored; exactly one valid record must
 * remain.  Returns 1 with *id, or 0 (no policy) with *why_r.
 */
int	 sts_txt_select(const char *const *txt, const size_t *len, size_t n,
	    char id[STS_ID_MAX + 1], const char **why_r);

/*
 * Parses a policy file (3.2): lines "key: value" ended by LF or CRLF;
 * version (STSv1), mode and max_age required, at least one mx unless
 * mode is none; the first of repeated fields counts (mx excepted);
 * unknown fields are ignored.  Returns 0, or -1 with *error_r (static).
 * On success the policy owns memory: sts_policy_free().
 */
int	 sts_policy_parse(const char *, size_t, struct sts_policy *,
	    const char **error_r);
void	 sts_policy_free(struct sts_policy *);
/* A copy of a parsed policy. */
void	 sts_policy_copy(struct sts_policy *dst, const struct sts_policy *);

/*
 * 4.1: host (an MX name, any case, trailing dot allowed) matches pattern
 * ("mail.example.com" exactly, "*.example.com" for one more label).
 */
bool	 sts_pattern_match(const char *pattern, const char *host);
bool	 sts_mx_match(const struct sts_policy *, const char *host);

const char *sts_mode_name(enum sts_mode);

#endif
