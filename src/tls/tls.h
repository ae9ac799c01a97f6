/*
 * tls - OpenSSL server contexts: certificates per host name (SNI), TLS 1.2
 * and 1.3 only, and a self-signed certificate made at first start when none
 * is configured.  Protocol code never calls SSL_* itself; the connection
 * layer (core/conn.c) does.
 *
 * Keys are loaded here and nowhere else, so a later key-holding helper
 * process (STYLE.md 14) replaces this file only.
 */
#ifndef POSTHORN_TLS_H
#define POSTHORN_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct config;

/*
 * Loads every configured certificate; when the configuration names none,
 * uses (and at first start creates) data_dir/tls/selfsigned.{crt,key} for
 * the host name, and logs a warning.  Returns 0 or -1 with *error_r.
 */
int	 tls_init(const struct config *, const char **error_r);
void	 tls_deinit(void);
/* A new server-side SSL object (SNI picks the certificate). */
SSL	*tls_server_new(void);
/* "TLSv1.3", "TLS_AES_256_GCM_SHA384" after the handshake. */
void	 tls_describe(SSL *, char *version, size_t, char *cipher, size_t);
/* Writes a self-signed certificate and key for name (EC P-256, SAN). */
int	 tls_make_selfsigned(const char *name, const char *certfile,
	    const char *keyfile, const char **error_r);

#endif
