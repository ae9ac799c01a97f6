/*
 * dane - which TLSA records (RFC 6698, 7671) count for SMTP (RFC 7672).
 *
 * RFC 7672 3.1.3: the PKIX usages PKIX-TA(0) and PKIX-EE(1) are unusable
 * for SMTP, so only DANE-TA(2) and DANE-EE(3) records are, with a known
 * selector (Cert(0), SPKI(1)) and matching type (Full(0), SHA2-256(1),
 * SHA2-512(2)) whose data has the right length.  A secure TLSA RRset
 * with usable records makes authenticated TLS mandatory; one without
 * makes (unauthenticated) TLS mandatory (RFC 7672 2.2).  Pure functions.
 */
#ifndef POSTHORN_DANE_H
#define POSTHORN_DANE_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns.h"

#define DANE_USAGE_PKIX_TA	0
#define DANE_USAGE_PKIX_EE	1
#define DANE_USAGE_DANE_TA	2
#define DANE_USAGE_DANE_EE	3

bool	 dane_tlsa_usable(const struct dns_tlsa *);
/*
 * Copies the usable records of in[0..n-1] (data included) into a new
 * array *out_r; returns how many (0: *out_r is NULL).
 */
size_t	 dane_tlsa_filter(const struct dns_tlsa *in, size_t n,
	    struct dns_tlsa **out_r);
void	 dane_tlsa_free(struct dns_tlsa *, size_t);
/* "DANE-EE", "DANE-TA", "PKIX-TA", "PKIX-EE" or "usage unknown". */
const char *dane_usage_name(unsigned);

#endif
