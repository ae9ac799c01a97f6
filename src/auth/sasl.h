/*
 * sasl - server side of SASL (RFC 4422) mechanisms, as pure state machines.
 *
 * The session owns the wire: it reads the client's base64 lines, passes
 * them to sasl_server_step() and sends back the challenges ("334 <b64>" in
 * SMTP, "+ <b64>" in IMAP and POP3).  Checking the password is the
 * caller's job once the exchange is done: nothing here knows about
 * accounts, and nothing here logs (so a secret can never reach a log).
 *
 *	s = sasl_server_new("PLAIN");		NULL: unsupported
 *	ret = sasl_server_step(s, ir, irlen, &chal);	initial response or
 *						NULL for none
 *	while (ret == SASL_STEP_CONTINUE)
 *		send chal, read line, ret = sasl_server_step(s, line, ...)
 *	if (ret == SASL_STEP_DONE)
 *		creds = sasl_server_creds(s) -> verify the password
 *	sasl_server_free(&s);			wipes every secret
 *
 * Mechanisms: PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login).
 * Both send the password in the clear; the session offers them only over
 * TLS (or per configuration, see DESIGN.md).  The driver keeps the base64
 * and wire-level rules ("*" cancels, "=" is an empty initial response) out
 * of the mechanisms, which see decoded bytes only; a challenge-response
 * mechanism (SCRAM-SHA-256, a later issue) plugs in as one more table entry
 * with its own private context, and will add a step result asking the
 * caller for the stored secret of sasl_server_creds()->authcid before it
 * can answer.
 */
#ifndef POSTHORN_SASL_H
#define POSTHORN_SASL_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* RFC 4616: each of authzid, authcid and passwd is at most 255 octets. */
#define SASL_FIELD_MAX		255
/* Longest base64 client response accepted by sasl_server_step(). */
#define SASL_RESPONSE_MAX	4096

/*
 * Credentials from a finished exchange, each NUL-terminated (no field can
 * hold a NUL).  authzid is "" when the client asked for none.  Wipe with
 * sasl_creds_wipe() when the struct is the caller's own.
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

/* Results of sasl_server_step(). */
#define SASL_STEP_DONE		0	/* credentials are ready */
#define SASL_STEP_CONTINUE	1	/* send the challenge, read again */
#define SASL_STEP_ERROR		-1	/* bad base64 or protocol violation */
#define SASL_STEP_CANCELLED	-2	/* the client sent "*" */

/* True for a mechanism name we implement (case-insensitive). */
bool	 sasl_mech_supported(const char *name);
/*
 * Append the space-separated names of our mechanisms to out, for EHLO
 * "AUTH ..." and the IMAP/POP3 capabilities; the plaintext ones only when
 * plaintext_ok.  Appends nothing when none qualifies.
 */
void	 sasl_mech_list(struct buf *out, bool plaintext_ok);

struct sasl_server;

/*
 * A new exchange for the named mechanism (case-insensitive), or NULL when
 * we do not implement it (the session answers 504 5.5.4 / NO).
 */
struct sasl_server *sasl_server_new(const char *mech_name);

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
 * SASL_STEP_ERROR (see sasl_server_error()) or SASL_STEP_CANCELLED.  After
 * anything but CONTINUE the exchange is over and further steps return
 * SASL_STEP_ERROR.  Decoded responses are wiped after use.
 */
int	 sasl_server_step(struct sasl_server *, const char *client_b64,
	    size_t len, struct buf *challenge_b64_out);

/*
 * The credentials once a step returned SASL_STEP_DONE, else NULL.  Valid
 * until sasl_server_free().
 */
const struct sasl_creds *sasl_server_creds(const struct sasl_server *);

/* Canonical upper-case name of the mechanism ("PLAIN"). */
const char *sasl_server_mech(const struct sasl_server *);

/*
 * Why the last step failed: a static string with no client data in it,
 * safe to log; NULL when none failed.
 */
const char *sasl_server_error(const struct sasl_server *);

/* Wipe every secret, free, and set *sp to NULL.  NULL-safe. */
void	 sasl_server_free(struct sasl_server **sp);

#endif
