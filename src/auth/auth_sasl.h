/*
 * auth_sasl - one SASL exchange of a session, whatever the protocol:
 * decodes the client's responses, sends challenges through the session,
 * looks up SCRAM credentials and checks passwords off the I/O thread, and
 * ends with the same result auth_start() gives (ok, allowed, refusal).
 *
 * The session passes each client line with auth_sasl_input() unless
 * auth_sasl_busy() says a lookup is running (then it leaves input queued).
 * Callbacks run on the connection's thread, never after the connection
 * closed; the session may free the exchange inside done() and aborted().
 */
#ifndef POSTHORN_AUTH_SASL_H
#define POSTHORN_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>

struct auth_result;
struct auth_sasl;
struct conn;

struct auth_sasl_ops {
	/* Send a continuation: "334 <b64>" (SMTP), "+ <b64>" (IMAP, POP3). */
	void	(*challenge)(void *ctx, const char *b64);
	/* Over: authenticated or not (see struct auth_result). */
	void	(*done)(void *ctx, const struct auth_result *);
	/* Over without a result: bad base64/syntax, or the client's "*". */
	void	(*aborted)(void *ctx, bool cancelled, const char *error);
};

/* The persistent 32-byte secret that keys fake SCRAM salts. */
void	 auth_sasl_set_secret(const unsigned char secret[32]);

/* NULL when the mechanism is not supported. */
struct auth_sasl *auth_sasl_new(struct conn *, const char *mech,
	    const struct auth_sasl_ops *, void *ctx);
/*
 * Feeds a client response: the initial response of the command (NULL when
 * it had none, "=" for an empty one) the first time, then each line.
 */
void	 auth_sasl_input(struct auth_sasl *, const char *, size_t);
bool	 auth_sasl_busy(const struct auth_sasl *);
const char *auth_sasl_mech(const struct auth_sasl *);
void	 auth_sasl_free(struct auth_sasl **);

#endif
