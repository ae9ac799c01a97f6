/*
 * sts - the MTA-STS policy in force for a destination domain (RFC 8461
 * 3 and 5.1): the TXT record at _mta-sts.<domain>, the policy cached in
 * the store, and a fresh fetch from
 * https://mta-sts.<domain>/.well-known/mta-sts.txt when nothing valid is
 * cached or the record's id differs from the cached policy's.  A failed
 * fetch falls back to the cached policy while it has not expired, else
 * to "no policy" (3.3).
 *
 *	l = sts_lookup_start("example.com", done, ctx);
 *	... done(ctx, policy or NULL) once, on the calling I/O thread;
 *	    policy is valid during the call only (sts_policy_copy()).
 *	sts_lookup_cancel(l) instead: no callback.
 *
 * Lookups and the fetch are asynchronous; the cache is read on the I/O
 * thread (one row) and written on the worker pool.
 */
#ifndef POSTHORN_STS_H
#define POSTHORN_STS_H

#include "mta_sts.h"

struct sts_lookup;

typedef void sts_cb(void *ctx, const struct sts_policy *);

/* Once, on an I/O thread: the HTTPS client (extra CAs in ca_file). */
int	 sts_init(const char *ca_file, const char **error_r);
void	 sts_deinit(void);
struct sts_lookup *sts_lookup_start(const char *domain, sts_cb *, void *ctx);
void	 sts_lookup_cancel(struct sts_lookup *);

#endif
