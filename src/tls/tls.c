/*
 * tls - server contexts, SNI and the first-start self-signed certificate.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "tls.h"

/* Mozilla "intermediate" TLS 1.2 suites; TLS 1.3 suites are OpenSSL's. */
#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

struct sni_entry {
	char	*name;		/* lower case; "*.example.com" allowed */
	SSL_CTX	*ctx;
};

static SSL_CTX *default_ctx;
static struct sni_entry *sni;
static size_t nsni;
static char tls_errbuf[512];

/* "[file: ]what: OpenSSL's reason" in a static buffer. */
static const char *
ssl_error_file(const char *file, const char *what)
{
	unsigned long e = ERR_get_error();
	char ebuf[256];

	ERR_error_string_n(e, ebuf, sizeof(ebuf));
	snprintf(tls_errbuf, sizeof(tls_errbuf), "%.200s%s%s: %s",
	    file ? file : "", file ? ": " : "", what,
	    e ? ebuf : "unknown error");
	ERR_clear_error();
	return tls_errbuf;
}

static const char *
ssl_error(const char *what)
{
	return ssl_error_file(NULL, what);
}

static bool
name_matches(const char *pattern, const char *name)
{
	if (strcasecmp(pattern, name) == 0)
		return true;
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = strchr(name, '.');

		return dot != NULL && strcasecmp(pattern + 1, dot) == 0;
	}
	return false;
}

static int
sni_cb(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (name == NULL)
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < nsni; i++)
		if (name_matches(sni[i].name, name)) {
			if (sni[i].ctx != SSL_get_SSL_CTX(ssl))
				SSL_set_SSL_CTX(ssl, sni[i].ctx);
			return SSL_TLSEXT_ERR_OK;
		}
	/* Unknown names get the default certificate, as nginx does. */
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
ctx_new(const char *cert, const char *key, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*error_r = ssl_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle connections give their buffers back (memory per session). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		*error_r = ssl_error("cipher list");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"posthorn",
	    8);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*error_r = ssl_error_file(cert, "certificate");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = ssl_error_file(key, "private key");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	return ctx;
}

int
tls_make_selfsigned(const char *name, const char *certfile,
    const char *keyfile, const char **error_r)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	X509_NAME *subj;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	char san[300];
	FILE *fp = NULL;
	int fd, rc = -1;

	if ((pkey = EVP_EC_gen("P-256")) == NULL) {
		*error_r = ssl_error("key generation");
		goto out;
	}
	x = X509_new();
	X509_set_version(x, 2);
	{
		unsigned char serial[16];
		BIGNUM *bn;

		if (RAND_bytes(serial, sizeof(serial)) != 1)
			goto sslfail;
		serial[0] &= 0x7f;
		bn = BN_bin2bn(serial, sizeof(serial), NULL);
		BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
		BN_free(bn);
	}
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400);
	X509_set_pubkey(x, pkey);
	subj = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, subj);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	snprintf(san, sizeof(san), "DNS:%s", name);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    san)) == NULL)
		goto sslfail;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:FALSE")) != NULL) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage,
	    "serverAuth")) != NULL) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, pkey, EVP_sha256()) == 0)
		goto sslfail;
	if ((fd = open(keyfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0 || (fp = fdopen(fd, "w")) == NULL) {
		snprintf(tls_errbuf, sizeof(tls_errbuf), "%.300s: %s", keyfile,
		    strerror(errno));
		*error_r = tls_errbuf;
		goto out;
	}
	if (PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto sslfail;
	fclose(fp);
	fp = NULL;
	if ((fp = fopen(certfile, "w")) == NULL) {
		snprintf(tls_errbuf, sizeof(tls_errbuf), "%.300s: %s",
		    certfile, strerror(errno));
		*error_r = tls_errbuf;
		goto out;
	}
	if (PEM_write_X509(fp, x) != 1)
		goto sslfail;
	rc = 0;
	goto out;
sslfail:
	*error_r = ssl_error("self-signed certificate");
out:
	if (fp != NULL && fclose(fp) != 0 && rc == 0) {
		*error_r = "writing the certificate failed";
		rc = -1;
	}
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

int
tls_init(const struct config *cfg, const char **error_r)
{
	const char *defcert = NULL, *defkey = NULL;
	char *sscert = NULL, *sskey = NULL;

	for (size_t i = 0; i < cfg->ncerts; i++)
		if (cfg->certs[i].name == NULL) {
			defcert = cfg->certs[i].cert;
			defkey = cfg->certs[i].key;
		}
	if (defcert == NULL && cfg->ncerts > 0) {
		defcert = cfg->certs[0].cert;
		defkey = cfg->certs[0].key;
	}
	if (defcert == NULL) {
		char *dir = xasprintf("%s/tls", cfg->data_dir);

		sscert = xasprintf("%s/selfsigned.crt", dir);
		sskey = xasprintf("%s/selfsigned.key", dir);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			snprintf(tls_errbuf, sizeof(tls_errbuf), "%.300s: %s",
			    dir, strerror(errno));
			*error_r = tls_errbuf;
			free(dir);
			goto fail;
		}
		free(dir);
		if (access(sscert, R_OK) != 0 || access(sskey, R_OK) != 0) {
			if (tls_make_selfsigned(cfg->hostname, sscert, sskey,
			    error_r) < 0)
				goto fail;
			log_info("tls: created a self-signed certificate for "
			    "%s in %s", cfg->hostname, sscert);
		}
		log_warnx("tls: no certificate configured; using the "
		    "self-signed certificate %s (mail programs will warn; set "
		    "[tls] cert and key)", sscert);
		defcert = sscert;
		defkey = sskey;
	}
	if ((default_ctx = ctx_new(defcert, defkey, error_r)) == NULL)
		goto fail;
	if (sscert == NULL) {
		X509 *x = SSL_CTX_get0_certificate(default_ctx);

		if (x != NULL && X509_check_issued(x, x) == X509_V_OK)
			log_warnx("tls: %s is self-signed; mail programs will "
			    "warn about it", defcert);
	}
	for (size_t i = 0; i < cfg->ncerts; i++) {
		SSL_CTX *ctx;

		if (cfg->certs[i].name == NULL)
			continue;
		if ((ctx = ctx_new(cfg->certs[i].cert, cfg->certs[i].key,
		    error_r)) == NULL)
			goto fail;
		sni = xreallocarray(sni, nsni + 1, sizeof(*sni));
		sni[nsni].name = xstrdup(cfg->certs[i].name);
		sni[nsni].ctx = ctx;
		nsni++;
	}
	free(sscert);
	free(sskey);
	return 0;
fail:
	free(sscert);
	free(sskey);
	tls_deinit();
	return -1;
}

void
tls_deinit(void)
{
	for (size_t i = 0; i < nsni; i++) {
		free(sni[i].name);
		SSL_CTX_free(sni[i].ctx);
	}
	free(sni);
	sni = NULL;
	nsni = 0;
	SSL_CTX_free(default_ctx);
	default_ctx = NULL;
}

SSL *
tls_server_new(void)
{
	SSL *ssl = SSL_new(default_ctx);

	if (ssl == NULL)
		log_warnx("%s", ssl_error("SSL_new"));
	return ssl;
}

void
tls_describe(SSL *ssl, char *version, size_t vlen, char *cipher, size_t clen)
{
	snprintf(version, vlen, "%s", SSL_get_version(ssl));
	snprintf(cipher, clen, "%s", SSL_get_cipher_name(ssl));
}
