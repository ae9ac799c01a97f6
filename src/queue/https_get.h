/*
 * https_get - one HTTPS GET (HTTP/1.1) on an I/O thread, for fetching
 * MTA-STS policies (RFC 8461 3.3): the certificate must verify for the
 * host name against the system CA store (plus an extra CA file), only a
 * 200 answer counts, redirects are not followed, the body is limited in
 * size and the whole fetch in time.  Asynchronous: nothing here blocks.
 *
 *	g = https_get_start(base, addrs, n, 443, &opts, done, ctx);
 *	... done(ctx, body, len, NULL) or done(ctx, NULL, 0, why) once;
 *	    g is gone after the callback (or after https_get_cancel(g),
 *	    which means no callback at all).
 *
 * The response parser is a pure function, exposed for unit tests.
 */
#ifndef POSTHORN_HTTPS_GET_H
#define POSTHORN_HTTPS_GET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"

struct event_base;
struct https_get;

#define HTTP_HEADER_MAX	(16L * 1024)

struct https_get_opts {
	const char	*host;		/* SNI, certificate name, Host: */
	const char	*path;		/* "/.well-known/mta-sts.txt" */
	const char	*media_type;	/* required Content-Type, or NULL */
	size_t		 max_body;
	unsigned	 connect_timeout;	/* seconds, per address */
	unsigned	 timeout;		/* seconds, the whole fetch */
};

/* body is valid during the call only; error is NULL on success. */
typedef void https_get_cb(void *ctx, const char *body, size_t len,
    const char *error);

/* The client TLS context: system CAs plus ca_file (may be NULL). */
int	 https_client_init(const char *ca_file, const char **error_r);
void	 https_client_deinit(void);

/* addrs are tried in order; port is set on each.  Never NULL. */
struct https_get *https_get_start(struct event_base *,
	    const struct sockaddr_storage *addrs, size_t naddrs, uint16_t port,
	    const struct https_get_opts *, https_get_cb *, void *ctx);
void	 https_get_cancel(struct https_get *);

struct http_response {
	int		 status;
	char		 media_type[64];	/* lower case, no parameters */
	struct buf	 body;			/* decoded (chunked) */
};

/*
 * Parses a whole HTTP/1.x response held in buf (the bytes so far; eof
 * when the server closed): 1 complete (r filled; free r->body), 0 more
 * bytes needed, -1 malformed or over max_body (*error_r static).  Bodies
 * of answers other than 200 are not read.
 */
int	 http_response_parse(const char *buf, size_t len, bool eof,
	    size_t max_body, struct http_response *r, const char **error_r);

#endif
