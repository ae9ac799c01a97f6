/*
 * ratelimit - events per minute per key (a client address), like Postfix's
 * anvil: a sliding window estimated from this minute's and the last
 * minute's counts, so a burst at a minute boundary is not let through
 * twice.  Thread-safe; the table forgets keys idle for two minutes.
 *
 *	static struct ratelimit *conns;
 *	conns = ratelimit_new(120);
 *	if (ratelimit_hit(conns, ip, mono_ms()))
 *		... refuse: over 120 in the last minute ...
 */
#ifndef POSTHORN_RATELIMIT_H
#define POSTHORN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

/* per_minute 0 means no limit (ratelimit_hit is always false). */
struct ratelimit *ratelimit_new(unsigned per_minute);
void	 ratelimit_free(struct ratelimit **);
/*
 * Counts one event of key at now_ms (a monotonic clock) and returns true
 * when the events of the last minute, this one included, are more than the
 * limit.  Refused events count too: a client that keeps trying stays out.
 */
bool	 ratelimit_hit(struct ratelimit *, const char *key, uint64_t now_ms);
/* Keys currently remembered (for tests). */
unsigned ratelimit_keys(struct ratelimit *);

#endif
