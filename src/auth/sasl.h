/*
 * sasl - server side of SASL (RFC 4422) mechanisms, as pure state machines.
 *
 * The session owns the wire: it reads the client's base64 lines, passes
 * them to sasl_server_step() and sends back the challenges ("334 <b64>" in
 * SMTP, "+ <b64>" in IMAP and POP3).  Looking accounts up and checking
 * passwords is the caller's job: nothing here knows about accounts, and
 * nothing here logs (so a secret can never reach a log).
 *
 *	s = sasl_server_new("PLAIN");		NULL: unsupported
 *	sasl_server_set_scram_secret(s, secret);	(SCRAM-SHA-256 only)
 *	ret = sasl_server_step(s, ir, irlen, &chal);	initial response or
 *						NULL for none
 *	loop:
 *	CONTINUE:   send chal, read line, ret = sasl_server_step(s, line, ...)
 *	NEED_CREDS: look up sasl_server_creds(s)->authcid's SCRAM credentials
 *		    (off the I/O thread), then
 *		    ret = sasl_server_set_scram(s, creds or NULL, &chal)
 *	DONE:	    PLAIN/LOGIN: verify sasl_server_creds(s)->passwd;
 *		    SCRAM: sasl_server_authenticated(s) is true, the proof
 *		    was verified here, there is no password to check
 *	ERROR, CANCELLED: the exchange is over
 *	sasl_server_free(&s);			wipes every secret
 *
 * Mechanisms, in the order sasl_mech_list() advertises them:
 * SCRAM-SHA-256 (RFC 5802, RFC 7677; no channel binding, so no -PLUS),
 * which never sends the password and is offered on any connection, then
 * PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login), which send the
 * password in the clear: the session offers those only over TLS (or per
 * configuration, see DESIGN.md).  The driver keeps the base64 and
 * wire-level rules ("*" cancels, "=" is an empty initial response) out of
 * the mechanisms, which see decoded bytes only.
 *
 * A SCRAM-SHA-256 exchange, as the session sees it:
 *	C: AUTHENTICATE SCRAM-SHA-256 [client-first]
 *	   (without initial response: S: empty challenge, C: client-first)
 *	-> SASL_STEP_NEED_CREDS; authcid/authzid in sasl_server_creds()
 *	   caller: sasl_server_set_scram() -> CONTINUE, S: server-first
 *	C: client-final (with the proof)
 *	-> CONTINUE with server-final "v=..." (sasl_server_authenticated()
 *	   is now true) or ERROR, SASL_ERROR_AUTH_FAILED for a wrong proof
 *	C: empty line (the client checked v=)
 *	-> DONE
 * The stored credentials come from scram_creds_parse() (auth/scram.h) of
 * what scram_creds_make()/scram_creds_format() stored when the password
 * was set.
 */
#ifndef POSTHORN_SASL_H
#define POSTHORN_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/scram.h"

struct buf;

/* RFC 4616: each of authzid, authcid and passwd is at most 255 octets. */
#define SASL_FIELD_MAX		255
/* Longest base64 client response accepted by sasl_server_step(). */
#define SASL_RESPONSE_MAX	4096

/*
 * Credentials from a finished exchange, each NUL-terminated (no field can
 * hold a NUL).  authzid is "" when the client asked for none; passwd is
 * always "" for SCRAM-SHA-256.  Wipe with sasl_creds_wipe() when the
 * struct is the caller's own.
 */
struct sasl_creds {
	char	authzid[SASL_FIELD_MAX + 1];
	char	authcid[SASL_FIELD_MAX + 1];
	char	passwd[SASL_FIELD_MAX + 1];
};

/*
 * Decode an RFC 4616 PLAIN message (already base64-decoded):
 * [authzid] NUL authcid NUL passwd, exactly two NULs, each field at most
 * SASL_FIELD_MAX bytes, authcid and passwd non-empty; authzid and authcid
 * must be well-formed UTF-8 without control characters (they end up in
 * logs and lookups).  The password may be any bytes but NUL.
 * Returns 0, or -1 with *out wiped.
 */
int	 sasl_plain_decode(const char *decoded, size_t len,
	    struct sasl_creds *out);

/*
 * True when the client asked to act as someone else: authzid is non-empty
 * and differs from authcid.  We do not support proxy authorization, so
 * the caller refuses this (535 5.7.8 / NO [AUTHORIZATIONFAILED]).
 */
bool	 sasl_creds_authz_differs(const struct sasl_creds *);

void	 sasl_creds_wipe(struct sasl_creds *);

/* Results of sasl_server_step() and sasl_server_set_scram(). */
#define SASL_STEP_DONE		0	/* credentials are ready */
#define SASL_STEP_CONTINUE	1	/* send the challenge, read again */
#define SASL_STEP_NEED_CREDS	2	/* SCRAM: sasl_server_set_scram() */
#define SASL_STEP_ERROR		(-1)	/* bad base64, protocol violation, or
					   SASL_ERROR_AUTH_FAILED */
#define SASL_STEP_CANCELLED	(-2)	/* the client sent "*" */

/*
 * sasl_server_error() after a well-formed SCRAM exchange whose proof did
 * not verify (wrong password or unknown user): the session answers it as
 * a wrong password (535 5.7.8 / NO [AUTHENTICATIONFAILED] / -ERR [AUTH]),
 * not as a syntax error.  Compare with strcmp().
 */
#define SASL_ERROR_AUTH_FAILED	"authentication failed"

/* True for a mechanism name we implement (case-insensitive). */
bool	 sasl_mech_supported(const char *name);
/*
 * True for a mechanism we implement that sends the password in the clear
 * (PLAIN, LOGIN): refuse those on connections where sasl_mech_list()
 * would be called with plaintext_ok false.
 */
bool	 sasl_mech_is_plaintext(const char *name);
/*
 * Append the space-separated names of our mechanisms to out, for EHLO
 * "AUTH ..." and the IMAP/POP3 capabilities: "SCRAM-SHA-256" always, then
 * "PLAIN LOGIN" when plaintext_ok.
 */
void	 sasl_mech_list(struct buf *out, bool plaintext_ok);

struct sasl_server;

/*
 * A new exchange for the named mechanism (case-insensitive), or NULL when
 * we do not implement it (the session answers 504 5.5.4 / NO).
 */
struct sasl_server *sasl_server_new(const char *mech_name);

/*
 * SCRAM-SHA-256: the server-wide secret (SCRAM_SECRET_LEN bytes, copied)
 * from which sasl_server_set_scram() derives the stand-in credentials of
 * unknown users.  It must be random, kept, and the same in every process
 * and across restarts, or an unknown user's salt changes where a real
 * user's does not.  Call it after sasl_server_new(); a no-op for other
 * mechanisms.
 */
void	 sasl_server_set_scram_secret(struct sasl_server *,
	    const unsigned char secret[SCRAM_SECRET_LEN]);

/*
 * Test hook (SCRAM-SHA-256): use nonce, printable ASCII but ',' and at
 * most SCRAM_SNONCE_MAX bytes, as the server's nonce part instead of a
 * random one.  Before sasl_server_set_scram().  Returns 0, or -1 (bad
 * nonce, other mechanism, too late).  Never call it outside tests.
 */
int	 sasl_server_set_test_nonce(struct sasl_server *, const char *nonce);

/*
 * Feed one client response.  The first call carries the initial response
 * of "AUTH <mech> <ir>" (SASL-IR): client_b64 == NULL means the client sent
 * none, "=" means an empty one.  Later calls carry the client's line
 * without CRLF; an empty line is an empty response (as is "=").
 * A response of "*" cancels the exchange, at any step.  Responses longer
 * than SASL_RESPONSE_MAX are an error.
 *
 * Returns SASL_STEP_CONTINUE with the base64 challenge APPENDED to
 * challenge_b64_out (possibly nothing: send "334 " / "+ "), SASL_STEP_DONE,
 * SASL_STEP_NEED_CREDS (SCRAM only; nothing appended: the exchange waits
 * for sasl_server_set_scram()), SASL_STEP_ERROR (see sasl_server_error())
 * or SASL_STEP_CANCELLED.  After DONE, ERROR or CANCELLED the exchange is
 * over and further steps return SASL_STEP_ERROR.  Decoded responses are
 * wiped after use.
 */
int	 sasl_server_step(struct sasl_server *, const char *client_b64,
	    size_t len, struct buf *challenge_b64_out);

/*
 * SCRAM-SHA-256, after a step returned SASL_STEP_NEED_CREDS: the stored
 * credentials of sasl_server_creds()->authcid (copied; the caller's may
 * go away), or NULL when there is no such user, in which case stand-in
 * credentials derived from the secret of sasl_server_set_scram_secret()
 * carry the exchange on to a certain failure at the proof, exactly as a
 * wrong password would.  sasl_server_step() must not be called in
 * between (it fails the exchange).
 *
 * Returns SASL_STEP_CONTINUE with the base64 server-first-message
 * appended to challenge_b64_out, or SASL_STEP_ERROR and the exchange is
 * over: not waiting for credentials, no secret set while creds is NULL,
 * or stored credentials outside the accepted ranges (an iteration count
 * below SCRAM_ITER_MIN, say: an administrator must reset that password;
 * log it, and answer as a temporary failure).
 */
int	 sasl_server_set_scram(struct sasl_server *,
	    const struct scram_creds *creds, struct buf *challenge_b64_out);

/*
 * True once a SCRAM client proof verified, and until a later step errs or
 * is cancelled: a session may call the exchange complete when the step
 * that sent the server-final-message returns, without waiting for the
 * client's empty response, where its protocol can carry the challenge as
 * additional data with the success reply.  SMTP, IMAP and POP3 cannot:
 * they send "334 v=..." / "+ v=..." and wait for the DONE step.  Always
 * false for PLAIN and LOGIN (their password is checked by the caller).
 */
bool	 sasl_server_authenticated(const struct sasl_server *);

/*
 * The credentials once a step returned SASL_STEP_DONE, or, for
 * SCRAM-SHA-256, SASL_STEP_NEED_CREDS (then they stay, even when the
 * exchange fails later, so the session can log the user name); else NULL.
 * Valid until sasl_server_free().
 */
const struct sasl_creds *sasl_server_creds(const struct sasl_server *);

/* Canonical upper-case name of the mechanism ("PLAIN", "SCRAM-SHA-256"). */
const char *sasl_server_mech(const struct sasl_server *);

/*
 * Why the last step failed: a static string with no client data in it,
 * safe to log; NULL when none failed.
 */
const char *sasl_server_error(const struct sasl_server *);

/* Wipe every secret, free, and set *sp to NULL.  NULL-safe. */
void	 sasl_server_free(struct sasl_server **sp);

#endif
