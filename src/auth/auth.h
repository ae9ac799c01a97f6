/*
 * auth - checks a user name and password for a session, off the I/O thread.
 *
 * auth_start() looks the account up and verifies the yescrypt hash on a
 * worker; the callback runs back on the connection's thread, after the
 * configured failure delay when the check failed.  It is not called at all
 * if the connection closed meanwhile.  The outcome is logged here (user
 * name, never the password).
 */
#ifndef POSTHORN_AUTH_H
#define POSTHORN_AUTH_H

#include <stdbool.h>
#include <stdint.h>

struct conn;

struct auth_result {
	bool		 ok;
	int64_t		 account_id;
	char		*address;	/* canonical form; valid in callback */
};

typedef void auth_cb(struct conn *, void *ctx, const struct auth_result *);

void	 auth_start(struct conn *, const char *mech, const char *user,
	    const char *password, auth_cb *, void *ctx);

#endif
