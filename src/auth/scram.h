/*
 * scram - SCRAM-SHA-256 (RFC 5802, RFC 7677): the stored credentials and
 * the server's half of the message exchange, as pure functions.
 *
 * Credentials, for the account database:
 *	scram_creds_make()	password -> salted keys (PBKDF2, slow: call it
 *				where the password is set, on a worker)
 *	scram_creds_format()	-> "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:
 *				<ServerKey>" (base64 fields)
 *	scram_creds_parse()	the reverse, strict
 *	scram_creds_fake()	stable stand-in for an unknown user
 *
 * Exchange: sessions never call scram_server_*() directly; auth/sasl.c
 * drives them behind sasl_server_step() ("SCRAM-SHA-256").  Messages are
 * the decoded (raw) SASL payloads:
 *
 *	x = scram_server_new();
 *	scram_server_client_first(x, msg, len, &err)	-> authcid, authzid
 *	(the caller looks up the stored credentials)
 *	scram_server_first(x, creds, &out, &err)	server-first-message
 *	scram_server_client_final(x, msg, len, &out, &err)
 *							0: proof verified,
 *							out: server-final
 *	scram_server_free(&x);				wipes everything
 *
 * Each call must come in that order, once; any error ends the exchange
 * (later calls fail).  Error strings are static, carry no client data and
 * are safe to log and to send.
 *
 * No SASLprep: user names and passwords are used as the bytes given.  For
 * ASCII this is what SASLprep yields; a client that normalizes a
 * non-ASCII password differently from what was hashed will fail.
 * No channel binding (SCRAM-SHA-256-PLUS): a "p=" request is refused, "y"
 * is accepted since we never advertise -PLUS (RFC 5802 section 6).
 */
#ifndef POSTHORN_SCRAM_H
#define POSTHORN_SCRAM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define SCRAM_KEY_LEN		32	/* SHA-256 output */
#define SCRAM_SALT_LEN		16	/* what scram_creds_make() generates */
#define SCRAM_SALT_MIN		16	/* accepted by parse and the exchange */
#define SCRAM_SALT_MAX		64
#define SCRAM_ITER_DEFAULT	4096
/* RFC 7677 section 4: at least 4096.  Fewer is refused everywhere but by
 * scram_creds_parse(), so that a weak stored entry is reported as such. */
#define SCRAM_ITER_MIN		4096
#define SCRAM_ITER_MAX		INT_MAX	/* PKCS5_PBKDF2_HMAC() takes an int */
#define SCRAM_SECRET_LEN	32	/* scram_creds_fake()'s server secret */
/* Longest decoded user name or authzid (as SASL_FIELD_MAX). */
#define SCRAM_NAME_MAX		255
/* Longest server nonce part scram_server_set_nonce() accepts. */
#define SCRAM_SNONCE_MAX	64

struct scram_creds {
	uint32_t	iter;
	size_t		salt_len;	/* SCRAM_SALT_MIN..SCRAM_SALT_MAX */
	unsigned char	salt[SCRAM_SALT_MAX];
	unsigned char	stored_key[SCRAM_KEY_LEN];	/* H(ClientKey) */
	unsigned char	server_key[SCRAM_KEY_LEN];
	/* Set by scram_creds_fake() only: no proof ever verifies. */
	bool		fake;
};

/*
 * Derive credentials from a password (any bytes but NUL, non-empty) with a
 * fresh random salt of SCRAM_SALT_LEN bytes.  iter 0 means
 * SCRAM_ITER_DEFAULT; otherwise it must be within SCRAM_ITER_MIN..
 * SCRAM_ITER_MAX.  Returns 0, or -1 (bad argument, OpenSSL failure) with
 * *out wiped.
 */
int	 scram_creds_make(const char *password, uint32_t iter,
	    struct scram_creds *out);
/*
 * The same with a given salt (SCRAM_SALT_MIN..SCRAM_SALT_MAX bytes); for
 * tests and imports, never use a fixed salt for real accounts.
 */
int	 scram_creds_make_salt(const char *password, const void *salt,
	    size_t saltlen, uint32_t iter, struct scram_creds *out);

/*
 * Append "SCRAM-SHA-256$<iter>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>"
 * (the layout PostgreSQL stores in pg_authid) to out.  Returns 0, or -1
 * without touching out when the credentials are out of range or fake.
 */
int	 scram_creds_format(const struct scram_creds *, struct buf *out);

/*
 * Parse what scram_creds_format() writes, strictly: exact prefix,
 * decimal iteration count 1..SCRAM_ITER_MAX without sign or leading zero
 * (counts below SCRAM_ITER_MIN parse, and are refused at use), canonical
 * base64 (auth/base64.h) for all three fields, a salt of SCRAM_SALT_MIN..
 * SCRAM_SALT_MAX bytes, keys of exactly SCRAM_KEY_LEN bytes, nothing
 * after.  Returns 0, or -1 with *out wiped.
 */
int	 scram_creds_parse(const char *, struct scram_creds *out);

/*
 * Credentials for a user that does not exist, so that the exchange looks
 * the same up to the proof (no user enumeration): salt = the first 16
 * bytes of HMAC-SHA-256(secret, username), iteration count
 * SCRAM_ITER_DEFAULT, random keys, fake = true.  The salt is stable for a
 * given secret and name, so secret must be the same for every process
 * and across restarts.  Never fails.
 */
void	 scram_creds_fake(const char *username,
	    const unsigned char secret[SCRAM_SECRET_LEN],
	    struct scram_creds *out);

void	 scram_creds_wipe(struct scram_creds *);

struct scram_server;

struct scram_server *scram_server_new(void);

/*
 * Test hook: use snonce (printable ASCII but ',', 1..SCRAM_SNONCE_MAX
 * bytes) as the server's nonce part instead of 24 random bytes in base64.
 * Only before scram_server_first().  Returns 0 or -1.
 */
int	 scram_server_set_nonce(struct scram_server *, const char *snonce);

/*
 * Parse a client-first-message:
 *	gs2-header = ("n" / "y") "," ["a=" saslname] ","
 *	"n=" saslname "," "r=" c-nonce *("," ext)
 * saslname is decoded ("=2C" -> ",", "=3D" -> "="; any other '=' is an
 * error), non-empty, at most SCRAM_NAME_MAX bytes once decoded, without
 * NUL.  The nonce is printable ASCII but ','.  Unknown optional extensions
 * (a letter but a SCRAM attribute, '=', a non-empty value) are ignored;
 * a duplicate, "m=" (a mandatory extension) and "p=" (channel binding)
 * are refused.  Returns 0 or -1 with *error_r set.
 */
int	 scram_server_client_first(struct scram_server *, const char *msg,
	    size_t len, const char **error_r);
/*
 * The decoded names once client_first succeeded; "" before, after a failed
 * step, and for an absent authzid.  Valid until scram_server_free().
 */
const char *scram_server_authcid(const struct scram_server *);
const char *scram_server_authzid(const struct scram_server *);

/*
 * Append the server-first-message "r=<c-nonce><s-nonce>,s=<b64 salt>,
 * i=<iter>" to out, from the stored credentials (copied; the caller's may
 * go away).  Refuses credentials outside the ranges above (a weak
 * iteration count included).  Returns 0 or -1 with *error_r set.
 */
int	 scram_server_first(struct scram_server *, const struct scram_creds *,
	    struct buf *out, const char **error_r);

/*
 * Check a client-final-message "c=<b64 gs2-header>,r=<nonce>*(",",ext),
 * p=<b64 proof>": the channel binding must be the gs2-header of the first
 * message, byte for byte, the nonce the combined one.  On a valid proof
 * appends the server-final-message "v=<b64 ServerSignature>" to out and
 * returns 0; else returns -1 with *error_r set, "authentication failed"
 * for a well-formed message with a wrong proof (or fake credentials).
 */
int	 scram_server_client_final(struct scram_server *, const char *msg,
	    size_t len, struct buf *out, const char **error_r);

/* Wipe, free, set *xp to NULL.  NULL-safe. */
void	 scram_server_free(struct scram_server **xp);

#endif
