/*
 * scram - SCRAM-SHA-256 (RFC 5802, RFC 7677) credentials and the server's
 * message checks.
 *
 *	SaltedPassword	= PBKDF2-HMAC-SHA-256(password, salt, iter)
 *	ClientKey	= HMAC(SaltedPassword, "Client Key")
 *	StoredKey	= SHA-256(ClientKey)
 *	ServerKey	= HMAC(SaltedPassword, "Server Key")
 *	AuthMessage	= client-first-bare "," server-first ","
 *			  client-final-without-proof
 *	ClientProof	= ClientKey XOR HMAC(StoredKey, AuthMessage)
 *	ServerSignature	= HMAC(ServerKey, AuthMessage)
 *
 * The server checks a proof by recovering ClientKey from it and comparing
 * its hash with StoredKey in constant time.  Every attribute value of a
 * SCRAM message is free of ',' (names escape it as "=2C"), so a message is
 * parsed as a comma-separated list in a fixed order.  Everything that
 * depends on the password (keys, proofs, the AuthMessage) is wiped after
 * use.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/base64.h"
#include "auth/scram.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"

#define CREDS_PREFIX	"SCRAM-SHA-256$"
#define SNONCE_RAW	24	/* random bytes in our nonce: 32 base64 chars */
/* RFC 5802 section 5.1: attribute names a SCRAM message may not reuse as
 * an extension. */
#define SCRAM_ATTRS	"aceimnprsv"

#define ERR_ORDER	"SCRAM exchange out of order"
#define ERR_FIRST	"malformed SCRAM client-first message"
#define ERR_FINAL	"malformed SCRAM client-final message"
#define ERR_CRYPTO	"SCRAM cryptography failed"

enum {
	X_WANT_FIRST = 0,
	X_WANT_CREDS,
	X_WANT_FINAL,
	X_DONE,
	X_FAILED,
};

struct scram_server {
	int			 state;
	char			 authcid[SCRAM_NAME_MAX + 1];
	char			 authzid[SCRAM_NAME_MAX + 1];
	char			 snonce[SCRAM_SNONCE_MAX + 1];	/* "": random */
	struct buf		 gs2;		/* gs2-header, as sent */
	struct buf		 first_bare;	/* client-first-message-bare */
	struct buf		 nonce;		/* c-nonce [s-nonce] */
	struct buf		 server_first;
	struct scram_creds	 creds;
};

static bool
hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int outlen = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out,
	    &outlen) == NULL)
		return false;
	return outlen == SCRAM_KEY_LEN;
}

static bool
sha256(const void *data, size_t len, unsigned char out[SCRAM_KEY_LEN])
{
	return SHA256(data, len, out) != NULL;
}

void
scram_creds_wipe(struct scram_creds *c)
{
	explicit_bzero(c, sizeof(*c));
}

static bool
creds_in_range(const struct scram_creds *c, uint32_t min_iter)
{
	return c->iter >= min_iter && c->iter <= SCRAM_ITER_MAX &&
	    c->salt_len >= SCRAM_SALT_MIN && c->salt_len <= SCRAM_SALT_MAX;
}

int
scram_creds_make_salt(const char *password, const void *salt,
    size_t saltlen, uint32_t iter, struct scram_creds *out)
{
	unsigned char salted[SCRAM_KEY_LEN], ckey[SCRAM_KEY_LEN];
	unsigned char saltcopy[SCRAM_SALT_MAX];
	size_t pwlen = strlen(password);
	int ret = -1;

	if (iter == 0)
		iter = SCRAM_ITER_DEFAULT;
	if (iter < SCRAM_ITER_MIN || iter > SCRAM_ITER_MAX ||
	    saltlen < SCRAM_SALT_MIN || saltlen > SCRAM_SALT_MAX ||
	    pwlen == 0 || pwlen > INT_MAX) {
		scram_creds_wipe(out);
		return -1;
	}
	/* salt may point into *out. */
	memcpy(saltcopy, salt, saltlen);
	scram_creds_wipe(out);
	if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, saltcopy, (int)saltlen,
	    (int)iter, EVP_sha256(), SCRAM_KEY_LEN, salted) != 1)
		goto done;
	if (!hmac_sha256(salted, sizeof(salted), "Client Key", 10, ckey) ||
	    !sha256(ckey, sizeof(ckey), out->stored_key) ||
	    !hmac_sha256(salted, sizeof(salted), "Server Key", 10,
	    out->server_key))
		goto done;
	out->iter = iter;
	out->salt_len = saltlen;
	memcpy(out->salt, saltcopy, saltlen);
	ret = 0;
done:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ckey, sizeof(ckey));
	if (ret < 0)
		scram_creds_wipe(out);
	return ret;
}

int
scram_creds_make(const char *password, uint32_t iter,
    struct scram_creds *out)
{
	unsigned char salt[SCRAM_SALT_LEN];

	random_bytes(salt, sizeof(salt));
	return scram_creds_make_salt(password, salt, sizeof(salt), iter, out);
}

int
scram_creds_format(const struct scram_creds *c, struct buf *out)
{
	if (c->fake || !creds_in_range(c, 1))
		return -1;
	buf_puts(out, CREDS_PREFIX);
	buf_put_u64(out, c->iter);
	buf_putc(out, ':');
	base64_encode(c->salt, c->salt_len, out);
	buf_putc(out, '$');
	base64_encode(c->stored_key, SCRAM_KEY_LEN, out);
	buf_putc(out, ':');
	base64_encode(c->server_key, SCRAM_KEY_LEN, out);
	return 0;
}

/* Strict base64 of exactly minlen..maxlen bytes into dst. */
static bool
decode_field(const char *s, size_t len, void *dst, size_t minlen,
    size_t maxlen, size_t *outlen)
{
	struct buf tmp = BUF_INIT;
	bool ok;

	ok = base64_decode(s, len, &tmp) == 0 && tmp.len >= minlen &&
	    tmp.len <= maxlen;
	if (ok) {
		memcpy(dst, tmp.data, tmp.len);
		*outlen = tmp.len;
	}
	buf_free_secret(&tmp);
	return ok;
}

int
scram_creds_parse(const char *s, struct scram_creds *out)
{
	const size_t plen = sizeof(CREDS_PREFIX) - 1;
	const char *p, *end, *sep;
	uint64_t iter;
	size_t n;

	scram_creds_wipe(out);
	end = s + strlen(s);
	if ((size_t)(end - s) < plen || memcmp(s, CREDS_PREFIX, plen) != 0)
		goto fail;
	p = s + plen;

	/* Iteration count: no sign, no leading zero, no 0. */
	if ((sep = memchr(p, ':', (size_t)(end - p))) == NULL || *p == '0' ||
	    parse_u64(p, (size_t)(sep - p), SCRAM_ITER_MAX, &iter) < 0)
		goto fail;
	out->iter = (uint32_t)iter;
	p = sep + 1;

	if ((sep = memchr(p, '$', (size_t)(end - p))) == NULL ||
	    !decode_field(p, (size_t)(sep - p), out->salt, SCRAM_SALT_MIN,
	    SCRAM_SALT_MAX, &out->salt_len))
		goto fail;
	p = sep + 1;

	if ((sep = memchr(p, ':', (size_t)(end - p))) == NULL ||
	    !decode_field(p, (size_t)(sep - p), out->stored_key,
	    SCRAM_KEY_LEN, SCRAM_KEY_LEN, &n))
		goto fail;
	p = sep + 1;

	if (!decode_field(p, (size_t)(end - p), out->server_key,
	    SCRAM_KEY_LEN, SCRAM_KEY_LEN, &n))
		goto fail;
	return 0;
fail:
	scram_creds_wipe(out);
	return -1;
}

void
scram_creds_fake(const char *username,
    const unsigned char secret[SCRAM_SECRET_LEN], struct scram_creds *out)
{
	unsigned char mac[SCRAM_KEY_LEN];

	scram_creds_wipe(out);
	/*
	 * The salt must not change between attempts (a real user's does
	 * not), hence a keyed hash of the name rather than random bytes.
	 */
	if (!hmac_sha256(secret, SCRAM_SECRET_LEN, username, strlen(username),
	    mac))
		fatalx("scram: HMAC-SHA-256 failed");
	memcpy(out->salt, mac, SCRAM_SALT_LEN);
	out->salt_len = SCRAM_SALT_LEN;
	out->iter = SCRAM_ITER_DEFAULT;
	random_bytes(out->stored_key, sizeof(out->stored_key));
	random_bytes(out->server_key, sizeof(out->server_key));
	out->fake = true;
	explicit_bzero(mac, sizeof(mac));
}

struct scram_server *
scram_server_new(void)
{
	return xcalloc(1, sizeof(struct scram_server));
}

void
scram_server_free(struct scram_server **xp)
{
	struct scram_server *x = *xp;

	if (x == NULL)
		return;
	buf_free_secret(&x->gs2);
	buf_free_secret(&x->first_bare);
	buf_free_secret(&x->nonce);
	buf_free_secret(&x->server_first);
	xfree_secret(x, sizeof(*x));
	*xp = NULL;
}

static int
fail(struct scram_server *x, const char **error_r, const char *error)
{
	x->state = X_FAILED;
	x->authcid[0] = '\0';
	x->authzid[0] = '\0';
	*error_r = error;
	return -1;
}

/* printable = %x21-2B / %x2D-7E (RFC 5802 section 7). */
static bool
nonce_ok(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return false;
	return true;
}

int
scram_server_set_nonce(struct scram_server *x, const char *snonce)
{
	size_t len = strlen(snonce);

	if (x->state > X_WANT_CREDS || len > SCRAM_SNONCE_MAX ||
	    !nonce_ok(snonce, len))
		return -1;
	memcpy(x->snonce, snonce, len + 1);
	return 0;
}

/* Length of the attribute at p: up to the next ',' or end. */
static size_t
attr_len(const char *p, const char *end)
{
	const char *c = memchr(p, ',', (size_t)(end - p));

	return c != NULL ? (size_t)(c - p) : (size_t)(end - p);
}

static bool
attr_is(const char *p, size_t len, char name)
{
	return len >= 2 && p[0] == name && p[1] == '=';
}

/*
 * saslname = 1*(value-safe-char / "=2C" / "=3D").  ABNF literals are
 * case-insensitive, so "=2c" and "=3d" are accepted too.  The caller has
 * checked that there is no NUL, and an attribute holds no ','.
 */
static bool
saslname_decode(const char *s, size_t len, char out[SCRAM_NAME_MAX + 1])
{
	size_t o = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '=') {
			if (len - i < 3)
				return false;
			if (s[i + 1] == '2' && (s[i + 2] == 'C' ||
			    s[i + 2] == 'c'))
				c = ',';
			else if (s[i + 1] == '3' && (s[i + 2] == 'D' ||
			    s[i + 2] == 'd'))
				c = '=';
			else
				return false;
			i += 2;
		}
		if (o == SCRAM_NAME_MAX)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

/*
 * *("," ALPHA "=" 1*value-char) from p to end.  Unknown extensions are
 * ignored as RFC 5802 asks, but one may not repeat or shadow a SCRAM
 * attribute.
 */
static bool
extensions_ok(const char *p, const char *end)
{
	uint64_t seen = 0;

	while (p < end) {
		size_t len;
		unsigned bit;
		char c;

		if (*p++ != ',')
			return false;
		len = attr_len(p, end);
		if (len < 3 || p[1] != '=')
			return false;
		c = p[0];
		if (c >= 'a' && c <= 'z')
			bit = (unsigned)(c - 'a');
		else if (c >= 'A' && c <= 'Z')
			bit = 26 + (unsigned)(c - 'A');
		else
			return false;
		if (strchr(SCRAM_ATTRS, c) != NULL ||
		    (seen & ((uint64_t)1 << bit)) != 0)
			return false;
		seen |= (uint64_t)1 << bit;
		p += len;
	}
	return true;
}

int
scram_server_client_first(struct scram_server *x, const char *msg,
    size_t len, const char **error_r)
{
	const char *p = msg, *end = msg + len, *bare;
	size_t n;

	if (x->state != X_WANT_FIRST)
		return fail(x, error_r, ERR_ORDER);
	if (memchr(msg, '\0', len) != NULL)
		return fail(x, error_r, ERR_FIRST);

	/* gs2-cbind-flag "," */
	n = attr_len(p, end);
	if (attr_is(p, n, 'p'))
		return fail(x, error_r, "SCRAM channel binding not supported");
	if (n != 1 || (p[0] != 'n' && p[0] != 'y') || p + n == end)
		return fail(x, error_r, ERR_FIRST);
	p += n + 1;

	/* [ "a=" saslname ] "," */
	n = attr_len(p, end);
	if (n > 0 && (!attr_is(p, n, 'a') ||
	    !saslname_decode(p + 2, n - 2, x->authzid)))
		return fail(x, error_r, ERR_FIRST);
	if (p + n == end)
		return fail(x, error_r, ERR_FIRST);
	p += n + 1;
	bare = p;

	/* "n=" saslname "," */
	n = attr_len(p, end);
	if (attr_is(p, n, 'm'))
		return fail(x, error_r,
		    "SCRAM mandatory extension not supported");
	if (!attr_is(p, n, 'n') || !saslname_decode(p + 2, n - 2, x->authcid) ||
	    p + n == end)
		return fail(x, error_r, ERR_FIRST);
	p += n + 1;

	/* "r=" c-nonce */
	n = attr_len(p, end);
	if (!attr_is(p, n, 'r'))
		return fail(x, error_r, ERR_FIRST);
	if (!nonce_ok(p + 2, n - 2))
		return fail(x, error_r, "malformed SCRAM nonce");
	buf_append(&x->nonce, p + 2, n - 2);
	p += n;

	if (!extensions_ok(p, end))
		return fail(x, error_r, ERR_FIRST);

	buf_append(&x->gs2, msg, (size_t)(bare - msg));
	buf_append(&x->first_bare, bare, (size_t)(end - bare));
	x->state = X_WANT_CREDS;
	return 0;
}

const char *
scram_server_authcid(const struct scram_server *x)
{
	return x->authcid;
}

const char *
scram_server_authzid(const struct scram_server *x)
{
	return x->authzid;
}

int
scram_server_first(struct scram_server *x, const struct scram_creds *c,
    struct buf *out, const char **error_r)
{
	struct buf *sf = &x->server_first;

	if (x->state != X_WANT_CREDS)
		return fail(x, error_r, ERR_ORDER);
	if (!creds_in_range(c, SCRAM_ITER_MIN))
		return fail(x, error_r, "unusable stored SCRAM credentials");
	x->creds = *c;

	if (x->snonce[0] == '\0') {
		unsigned char raw[SNONCE_RAW];

		/* The base64 alphabet is all printable and has no ','. */
		random_bytes(raw, sizeof(raw));
		base64_encode(raw, sizeof(raw), &x->nonce);
	} else
		buf_puts(&x->nonce, x->snonce);

	buf_puts(sf, "r=");
	buf_append(sf, x->nonce.data, x->nonce.len);
	buf_puts(sf, ",s=");
	base64_encode(c->salt, c->salt_len, sf);
	buf_puts(sf, ",i=");
	buf_put_u64(sf, c->iter);
	buf_append(out, sf->data, sf->len);
	x->state = X_WANT_FINAL;
	return 0;
}

int
scram_server_client_final(struct scram_server *x, const char *msg,
    size_t len, struct buf *out, const char **error_r)
{
	const char *p = msg, *end = msg + len, *wend, *proof;
	unsigned char pr[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
	unsigned char ckey[SCRAM_KEY_LEN], h[SCRAM_KEY_LEN];
	struct buf cb = BUF_INIT, am = BUF_INIT;
	const char *error = NULL;
	size_t n;
	int match;

	if (x->state != X_WANT_FINAL)
		return fail(x, error_r, ERR_ORDER);
	if (memchr(msg, '\0', len) != NULL)
		return fail(x, error_r, ERR_FINAL);

	/* The proof is the last attribute and ends the message. */
	if ((wend = memrchr(msg, ',', len)) == NULL)
		return fail(x, error_r, ERR_FINAL);
	proof = wend + 1;
	if (!attr_is(proof, (size_t)(end - proof), 'p') ||
	    !decode_field(proof + 2, (size_t)(end - proof - 2), pr,
	    SCRAM_KEY_LEN, SCRAM_KEY_LEN, &n))
		return fail(x, error_r, ERR_FINAL);

	/* "c=" base64(gs2-header): no channel binding data with n and y. */
	n = attr_len(p, wend);
	if (!attr_is(p, n, 'c') || base64_decode(p + 2, n - 2, &cb) < 0) {
		error = ERR_FINAL;
		goto done;
	}
	if (cb.len != x->gs2.len || memcmp(cb.data, x->gs2.data, cb.len) != 0) {
		error = "SCRAM channel binding mismatch";
		goto done;
	}
	p += n;

	/* "," "r=" c-nonce s-nonce */
	if (p == wend || *p++ != ',' ||
	    !attr_is(p, (n = attr_len(p, wend)), 'r')) {
		error = ERR_FINAL;
		goto done;
	}
	if (n - 2 != x->nonce.len || memcmp(p + 2, x->nonce.data, n - 2) != 0) {
		error = "SCRAM nonce mismatch";
		goto done;
	}
	p += n;
	if (!extensions_ok(p, wend)) {
		error = ERR_FINAL;
		goto done;
	}

	buf_append(&am, x->first_bare.data, x->first_bare.len);
	buf_putc(&am, ',');
	buf_append(&am, x->server_first.data, x->server_first.len);
	buf_putc(&am, ',');
	buf_append(&am, msg, (size_t)(wend - msg));

	/* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage) */
	if (!hmac_sha256(x->creds.stored_key, SCRAM_KEY_LEN, am.data, am.len,
	    sig)) {
		error = ERR_CRYPTO;
		goto done;
	}
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		ckey[i] = pr[i] ^ sig[i];
	if (!sha256(ckey, sizeof(ckey), h)) {
		error = ERR_CRYPTO;
		goto done;
	}
	match = CRYPTO_memcmp(h, x->creds.stored_key, SCRAM_KEY_LEN);
	if (match != 0 || x->creds.fake) {
		error = "authentication failed";
		goto done;
	}
	if (!hmac_sha256(x->creds.server_key, SCRAM_KEY_LEN, am.data, am.len,
	    sig)) {
		error = ERR_CRYPTO;
		goto done;
	}
	buf_puts(out, "v=");
	base64_encode(sig, sizeof(sig), out);
	x->state = X_DONE;
done:
	explicit_bzero(pr, sizeof(pr));
	explicit_bzero(sig, sizeof(sig));
	explicit_bzero(ckey, sizeof(ckey));
	explicit_bzero(h, sizeof(h));
	buf_free_secret(&cb);
	buf_free_secret(&am);
	return error != NULL ? fail(x, error_r, error) : 0;
}
