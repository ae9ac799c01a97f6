/*
 * auth - checks a user name and password for a session, off the I/O thread.
 *
 * auth_start() looks the account up and verifies the password on a worker:
 * first the account's app passwords (fast), then its main yescrypt hash.
 * The callback runs back on the connection's thread, after the configured
 * failure delay when the check failed; it is not called at all if the
 * connection closed meanwhile.
 *
 * A valid password is not enough to get in: the account must be enabled
 * and allowed to use the protocol of the connection (per-account switches,
 * domain defaults), and an app password must be valid for that protocol.
 * Those refusals are given only to someone who knew the password (ok set,
 * allowed clear, refusal says why), so a guesser learns nothing.  Every
 * outcome is logged here (user name, never the password).
 */
#ifndef POSTHORN_AUTH_H
#define POSTHORN_AUTH_H

#include <stdbool.h>
#include <stdint.h>

struct conn;

struct auth_result {
	bool		 ok;		/* the password was right */
	bool		 allowed;	/* ...and the account may log in here */
	const char	*refusal;	/* why not, when ok && !allowed */
	int64_t		 account_id;
	char		*address;	/* canonical form; valid in callback */
	unsigned	 protocols;	/* PROTO_* the account may use */
	uint64_t	 quota;		/* bytes, 0 = none */
	bool		 pop3_keep;	/* domain: POP3 DELE only marks */
	int64_t		 apppass_id;	/* 0 for the main password */
};

typedef void auth_cb(struct conn *, void *ctx, const struct auth_result *);

void	 auth_start(struct conn *, const char *mech, const char *user,
	    const char *password, auth_cb *, void *ctx);
/* The password was proven another way (SCRAM): check the policy only. */
void	 auth_authorize(struct conn *, const char *mech, const char *user,
	    auth_cb *, void *ctx);
/* The exchange failed another way: log it and delay like a failure. */
void	 auth_reject(struct conn *, const char *mech, const char *user,
	    const char *reason, auth_cb *, void *ctx);
/* The PROTO_* bit of the service a connection's listener offers. */
unsigned auth_conn_protocol(const struct conn *);

#endif
