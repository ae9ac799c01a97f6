/*
 * dkim_key - DKIM keys: generation, the signer (a private key with its
 * domain and selector), the DNS record text, key records from DNS, and
 * the two signature primitives.
 *
 * Every use of a private key is in this file (dkim_signer_sign()), so the
 * key could move into a separate process later without touching the
 * signing logic.
 *
 *	rsa-sha256	RSASSA-PKCS1-v1_5 with SHA-256 over the signed data
 *	ed25519-sha256	PureEd25519 over the SHA-256 hash of the signed data
 *			(RFC 8463 section 3: the hash is what Ed25519 signs)
 *
 * OpenSSL's per-thread error queue is cleared after every failure: the
 * TLS code on the same I/O thread reads it to interpret its own errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/base64.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "dkim/dkim.h"

#define ED25519_KEY_LEN	32
#define ED25519_SIG_LEN	64

struct dkim_signer {
	char		*domain;
	char		*selector;
	enum dkim_alg	 alg;
	EVP_PKEY	*pkey;
};

const char *
dkim_alg_name(enum dkim_alg alg)
{
	return alg == DKIM_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

/*
 * Names.  d= is an ASCII domain (A-labels); a selector is dot-separated
 * labels of letters, digits, '-' and (seen in the wild) '_'.
 */
bool
dkim_domain_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return domain_valid(s, len);
}

bool
dkim_selector_valid(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label != 0;
}

/* The record text for a public key. */
static void
pubkey_txt(EVP_PKEY *pkey, enum dkim_alg alg, struct buf *out)
{
	if (alg == DKIM_ED25519_SHA256) {
		unsigned char raw[ED25519_KEY_LEN];
		size_t len = sizeof(raw);

		if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 ||
		    len != sizeof(raw))
			panic("dkim: no raw Ed25519 public key");
		buf_puts(out, "v=DKIM1; k=ed25519; p=");
		base64_encode(raw, len, out);
	} else {
		unsigned char *der = NULL;
		int len = i2d_PUBKEY(pkey, &der);

		if (len <= 0)
			panic("dkim: cannot encode an RSA public key");
		buf_puts(out, "v=DKIM1; k=rsa; p=");
		base64_encode(der, (size_t)len, out);
		OPENSSL_free(der);
	}
}

/* The algorithm a private key signs with, or -1 (with *error_r). */
static int
key_alg(EVP_PKEY *pkey, enum dkim_alg *alg, const char **error_r)
{
	int bits;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_ED25519:
		*alg = DKIM_ED25519_SHA256;
		return 0;
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < DKIM_RSA_MIN_BITS || bits > DKIM_RSA_MAX_BITS) {
			*error_r = "RSA key size out of range (1024-8192 bits)";
			return -1;
		}
		*alg = DKIM_RSA_SHA256;
		return 0;
	default:
		*error_r = "key is neither RSA nor Ed25519";
		return -1;
	}
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
dkim_key_generate(enum dkim_alg alg, const char *path, struct buf *dns_txt_out,
    const char **error_r)
{
	EVP_PKEY *pkey;
	BIO *mem = NULL;
	char *pem;
	long pem_len;
	int fd, ret = -1;

	if (alg == DKIM_ED25519_SHA256)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (pkey == NULL) {
		*error_r = "key generation failed";
		goto out;
	}
	if ((mem = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(mem, pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 || (pem_len = BIO_get_mem_data(mem, &pem)) <= 0) {
		*error_r = "cannot encode the private key";
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		*error_r = strerror(errno);
		goto out;
	}
	if (write_all(fd, pem, (size_t)pem_len) < 0 || fsync(fd) < 0) {
		*error_r = strerror(errno);
		close(fd);
		unlink(path);
		goto out;
	}
	if (close(fd) < 0) {
		*error_r = strerror(errno);
		unlink(path);
		goto out;
	}
	pubkey_txt(pkey, alg, dns_txt_out);
	ret = 0;
out:
	if (ret < 0)
		ERR_clear_error();
	BIO_free(mem);
	EVP_PKEY_free(pkey);
	return ret;
}

/* A passphrase-protected key is refused rather than prompted for. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

struct dkim_signer *
dkim_signer_load(const char *domain, const char *selector,
    const char *pem_path, const char **error_r)
{
	struct dkim_signer *sg;
	EVP_PKEY *pkey;
	enum dkim_alg alg;
	BIO *bio;

	if (!dkim_domain_valid(domain, strlen(domain))) {
		*error_r = "invalid signing domain";
		return NULL;
	}
	if (!dkim_selector_valid(selector, strlen(selector)) ||
	    strlen(selector) + strlen("._domainkey.") + strlen(domain) > 253) {
		*error_r = "invalid selector";
		return NULL;
	}
	if ((bio = BIO_new_file(pem_path, "r")) == NULL) {
		*error_r = errno != 0 ? strerror(errno) :
		    "cannot open the key file";
		ERR_clear_error();
		return NULL;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_clear_error();	/* the decoders may leave some on success */
	if (pkey == NULL) {
		*error_r = "no usable PEM private key (encrypted keys are "
		    "not supported)";
		return NULL;
	}
	if (key_alg(pkey, &alg, error_r) < 0) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	sg = xcalloc(1, sizeof(*sg));
	sg->domain = xstrdup(domain);
	ascii_lower(sg->domain);
	sg->selector = xstrdup(selector);
	ascii_lower(sg->selector);
	sg->alg = alg;
	sg->pkey = pkey;
	return sg;
}

void
dkim_signer_free(struct dkim_signer **sgp)
{
	struct dkim_signer *sg = *sgp;

	if (sg == NULL)
		return;
	*sgp = NULL;
	free(sg->domain);
	free(sg->selector);
	EVP_PKEY_free(sg->pkey);
	free(sg);
}

enum dkim_alg
dkim_signer_alg(const struct dkim_signer *sg)
{
	return sg->alg;
}

const char *
dkim_signer_domain(const struct dkim_signer *sg)
{
	return sg->domain;
}

const char *
dkim_signer_selector(const struct dkim_signer *sg)
{
	return sg->selector;
}

void
dkim_signer_dns_txt(const struct dkim_signer *sg, struct buf *out)
{
	pubkey_txt(sg->pkey, sg->alg, out);
}

int
dkim_signer_sign(const struct dkim_signer *sg, const void *data, size_t len,
    struct buf *sig_out, const char **error_r)
{
	EVP_MD_CTX *mctx;
	unsigned char digest[32], *sig = NULL;
	size_t siglen = 0;
	int ok;

	if ((mctx = EVP_MD_CTX_new()) == NULL)
		panic("dkim: out of memory");
	if (sg->alg == DKIM_ED25519_SHA256) {
		if (EVP_Digest(data, len, digest, NULL, EVP_sha256(),
		    NULL) != 1)
			panic("dkim: SHA-256 failed");
		data = digest;
		len = sizeof(digest);
		ok = EVP_DigestSignInit(mctx, NULL, NULL, NULL,
		    sg->pkey) == 1;
	} else
		ok = EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL,
		    sg->pkey) == 1;
	if (ok) {
		siglen = (size_t)EVP_PKEY_get_size(sg->pkey);
		sig = xmalloc(siglen);
		ok = EVP_DigestSign(mctx, sig, &siglen, data, len) == 1;
	}
	if (ok)
		base64_encode(sig, siglen, sig_out);
	else {
		*error_r = "signing failed";
		ERR_clear_error();
	}
	free(sig);
	EVP_MD_CTX_free(mctx);
	return ok ? 0 : -1;
}

int
dkim_key_verify(EVP_PKEY *pkey, enum dkim_alg alg, const void *data,
    size_t len, const void *sig, size_t siglen)
{
	EVP_MD_CTX *mctx;
	unsigned char digest[32];
	int ok;

	if ((mctx = EVP_MD_CTX_new()) == NULL)
		panic("dkim: out of memory");
	if (alg == DKIM_ED25519_SHA256) {
		if (EVP_Digest(data, len, digest, NULL, EVP_sha256(),
		    NULL) != 1)
			panic("dkim: SHA-256 failed");
		ok = siglen == ED25519_SIG_LEN &&
		    EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, pkey) == 1 &&
		    EVP_DigestVerify(mctx, sig, siglen, digest,
		    sizeof(digest)) == 1;
	} else
		ok = EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL,
		    pkey) == 1 &&
		    EVP_DigestVerify(mctx, sig, siglen, data, len) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	return ok ? 1 : 0;
}

/*
 * Key records.
 */

static bool
eq_nocase(const char *p, size_t len, const char *s)
{
	return ascii_strcaseeq_n(p, len, s);
}

/* Whether the ':'-list holds one of the given words (case-insensitive). */
static bool
list_has(const struct dkim_tag *t, const char *w1, const char *w2)
{
	size_t pos = 0, len;
	const char *item;

	while (dkim_tags_item(t->value, t->value_len, &pos, &item, &len) == 1)
		if (eq_nocase(item, len, w1) ||
		    (w2 != NULL && eq_nocase(item, len, w2)))
			return true;
	return false;
}

static EVP_PKEY *
rsa_from_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey;

	/* SubjectPublicKeyInfo, what everyone publishes ... */
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (pkey != NULL && p == der + len)
		return pkey;
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	/* ... or the bare RSAPublicKey RFC 6376 3.6.1 literally names. */
	p = der;
	pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
	if (pkey != NULL && p == der + len)
		return pkey;
	EVP_PKEY_free(pkey);
	return NULL;
}

int
dkim_key_record_parse(const char *s, size_t len, enum dkim_alg alg,
    EVP_PKEY **pkey_r, struct dkim_key_info *info, enum dkim_reason *reason_r)
{
	struct dkim_taglist tl;
	const struct dkim_tag *v, *h, *k, *sv, *t, *p;
	struct buf der = BUF_INIT;
	EVP_PKEY *pkey = NULL;
	enum dkim_alg key_alg_;
	const char *error;
	int bits;

	memset(info, 0, sizeof(*info));
	*pkey_r = NULL;
	*reason_r = DKIM_R_KEY_SYNTAX;
	if (len > DKIM_KEY_RECORD_MAX || memchr(s, '\0', len) != NULL ||
	    dkim_tags_parse(s, len, &tl, &error) < 0)
		return -1;
	v = dkim_tags_find(&tl, "v");
	if (v != NULL && (v != &tl.tag[0] ||
	    !(v->value_len == 5 && memcmp(v->value, "DKIM1", 5) == 0)))
		return -1;
	if ((p = dkim_tags_find(&tl, "p")) == NULL)
		return -1;
	if (p->value_len == 0) {
		*reason_r = DKIM_R_KEY_REVOKED;
		return -1;
	}
	if ((h = dkim_tags_find(&tl, "h")) != NULL &&
	    !list_has(h, "sha256", NULL)) {
		*reason_r = DKIM_R_KEY_HASH;
		return -1;
	}
	k = dkim_tags_find(&tl, "k");
	if (k == NULL || eq_nocase(k->value, k->value_len, "rsa"))
		key_alg_ = DKIM_RSA_SHA256;
	else if (eq_nocase(k->value, k->value_len, "ed25519"))
		key_alg_ = DKIM_ED25519_SHA256;
	else {
		*reason_r = DKIM_R_KEY_TYPE;
		return -1;
	}
	if (key_alg_ != alg) {
		*reason_r = DKIM_R_KEY_TYPE;
		return -1;
	}
	if ((sv = dkim_tags_find(&tl, "s")) != NULL &&
	    !list_has(sv, "*", "email")) {
		*reason_r = DKIM_R_KEY_SERVICE;
		return -1;
	}
	if ((t = dkim_tags_find(&tl, "t")) != NULL) {
		info->testing = list_has(t, "y", NULL);
		info->strict = list_has(t, "s", NULL);
	}
	if (dkim_b64_decode(p->value, p->value_len, &der) < 0)
		goto out;
	if (alg == DKIM_ED25519_SHA256) {
		if (der.len != ED25519_KEY_LEN)
			goto out;
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    (const unsigned char *)der.data, der.len);
		if (pkey == NULL)
			goto out;
		info->bits = 256;
	} else {
		pkey = rsa_from_der((const unsigned char *)der.data, der.len);
		if (pkey == NULL)
			goto out;
		if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
			*reason_r = DKIM_R_KEY_TYPE;
			goto out;
		}
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < DKIM_RSA_MIN_BITS || bits > DKIM_RSA_MAX_BITS) {
			*reason_r = DKIM_R_KEY_SIZE;
			goto out;
		}
		info->bits = (unsigned)bits;
	}
	buf_free(&der);
	ERR_clear_error();
	*pkey_r = pkey;
	*reason_r = DKIM_R_OK;
	return 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	buf_free(&der);
	return -1;
}
