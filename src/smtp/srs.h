/*
 * srs - the Sender Rewriting Scheme, so that mail we forward to another
 * domain passes SPF there and its bounces find their way back.
 *
 *	alice@example.org forwarded by us (srs domain mail.example.test):
 *	    SRS0=HHHH=TT=example.org=alice@mail.example.test
 *	an SRS0 address of first.example forwarded again:
 *	    SRS1=HHHH=first.example==HHHH=TT=example.org=alice@mail.example.test
 *
 * HHHH is the first 4 characters of base64(HMAC-SHA1(secret, the lower-
 * cased rest)), TT the day (base32, modulo 1024) as libsrs2 writes them,
 * so Postfix's postsrsd and others read our addresses and we read theirs.
 * A reversed address must carry a valid hash and be at most max_age days
 * old: nobody can use us to send mail anywhere by making up an SRS
 * address.
 */
#ifndef POSTHORN_SRS_H
#define POSTHORN_SRS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SRS_SECRET_LEN		32
#define SRS_MAX_AGE_DAYS	21
#define SRS_ADDR_MAX		512

/*
 * Rewrites sender (local@domain, not empty) for forwarding from
 * srs_domain.  Returns 0, or -1 when it does not fit out (size) or is not
 * an address.
 */
int	 srs_forward(const unsigned char secret[SRS_SECRET_LEN],
	    const char *sender, const char *srs_domain, time_t now,
	    char *out, size_t size);

/* Whether the local part of addr starts with "SRS0=" or "SRS1=". */
bool	 srs_is_srs(const char *addr);

/*
 * The address a bounce to addr (one of ours: an SRS local part at our
 * srs domain) goes back to.  Returns 0, or -1 with *error_r ("bad hash",
 * "expired", "malformed").
 */
int	 srs_reverse(const unsigned char secret[SRS_SECRET_LEN],
	    const char *addr, time_t now, char *out, size_t size,
	    const char **error_r);

/*
 * For a recipient: 1 when addr is an SRS address at srs_domain and out is
 * where it goes back to; 0 when it is not ours (out unchanged); -1 with
 * *error_r when it is ours but not valid.
 */
int	 srs_reverse_ours(const unsigned char secret[SRS_SECRET_LEN],
	    const char *srs_domain, const char *addr, time_t now, char *out,
	    size_t size, const char **error_r);

#endif
