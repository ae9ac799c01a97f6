/*
 * authfail - remembers failed logins per client address and per user name
 * to slow guessing down and then stop it (issue: brute force).
 *
 * Each failure doubles the delay before the failure is answered, starting
 * at [auth] failure_delay and capped at max_failure_delay, counting the
 * worse of the address and the user name.  After lockout_failures failures
 * from one address it is locked out for lockout_time: its attempts are
 * answered as failures without looking at the password.  A user name is
 * never locked, so its owner can still log in from elsewhere while
 * someone guesses.  Counts are forgotten lockout_time after the last
 * failure, and a success clears the address and the user name.
 */
#ifndef POSTHORN_AUTHFAIL_H
#define POSTHORN_AUTHFAIL_H

#include <stdbool.h>
#include <stdint.h>

struct authfail_limits {
	uint64_t	 base_ms;
	uint64_t	 max_ms;
	uint64_t	 lockout_failures;	/* 0: never lock */
	uint64_t	 lockout_secs;
};

void	 authfail_configure(const struct authfail_limits *);
/* Is the address locked out now? */
bool	 authfail_locked(const char *ip);
/*
 * Records a failure; returns the delay in ms before answering it and sets
 * *locked when this failure locked the address out.
 */
uint64_t authfail_record(const char *ip, const char *user, bool *locked);
void	 authfail_success(const char *ip, const char *user);
/* For tests: forget everything. */
void	 authfail_reset(void);

#endif
