/*
 * https_get - a small HTTP/1.1 GET client over libevent's OpenSSL
 * bufferevents, made for MTA-STS policy fetches.
 *
 * The TCP connect runs on a plain bufferevent; once connected, the socket
 * is handed to an OpenSSL bufferevent (as smtp_client does for STARTTLS).
 * The certificate is checked after the handshake (SSL_VERIFY_NONE plus
 * SSL_get_verify_result), so a failure can be named in the log.  The
 * response is kept whole (it is small and bounded) and re-parsed after
 * each read: headers up to HTTP_HEADER_MAX, the body up to max_body,
 * Content-Length, chunked or close-delimited.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "https_get.h"

struct https_get {
	struct event_base *base;
	char		*host;
	char		*path;
	char		*media_type;
	size_t		 max_body;
	unsigned	 connect_timeout;
	struct sockaddr_storage *addrs;
	size_t		 naddrs;
	size_t		 ai;		/* the address being tried */
	uint16_t	 port;
	int		 fd;		/* ours until the TLS bufferevent */
	struct bufferevent *bev;
	bool		 tls;		/* bev is the OpenSSL one (owns fd) */
	struct event	*deadline;
	struct event	*kick;		/* starts the first connect */
	https_get_cb	*cb;
	void		*ctx;
	bool		 finished;
	bool		 cancelled;
	char		 err[300];
};

static SSL_CTX *https_ctx;

int
https_client_init(const char *ca_file, const char **error_r)
{
	if (https_ctx != NULL)
		return 0;
	if ((https_ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*error_r = "cannot create the HTTPS client TLS context";
		return -1;
	}
	SSL_CTX_set_min_proto_version(https_ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(https_ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_default_verify_paths(https_ctx);
	if (ca_file != NULL && SSL_CTX_load_verify_locations(https_ctx,
	    ca_file, NULL) != 1) {
		ERR_clear_error();
		SSL_CTX_free(https_ctx);
		https_ctx = NULL;
		*error_r = "cannot load the extra CA file";
		return -1;
	}
	return 0;
}

void
https_client_deinit(void)
{
	SSL_CTX_free(https_ctx);
	https_ctx = NULL;
}

/* -- the response parser ------------------------------------------------ */

/*
 * The line at p (ended by LF, an optional CR before it stripped): its
 * length, with *next after the LF; -1 when no LF has arrived.
 */
static long
line_at(const char *p, const char *end, const char **next)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	size_t n;

	if (lf == NULL)
		return -1;
	*next = lf + 1;
	n = (size_t)(lf - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return (long)n;
}

static void
trim(const char **v, size_t *n)
{
	while (*n > 0 && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*n)--;
	}
	while (*n > 0 && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
		(*n)--;
}

static bool
name_is(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* The chunked body at p: 1 complete, 0 more needed, -1 bad. */
static int
parse_chunked(const char *p, const char *end, size_t max_body, struct buf *out,
    const char **error_r)
{
	for (;;) {
		const char *next;
		long n = line_at(p, end, &next);
		uint64_t size = 0;
		size_t i = 0;

		if (n < 0) {
			if (end - p <= 1024)
				return 0;
			*error_r = "bad chunk size";
			return -1;
		}
		for (; i < (size_t)n && i < 16; i++) {
			char c = p[i];
			unsigned d;

			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				break;
			size = size * 16 + d;
		}
		/* chunk-ext after ';' is ignored. */
		if (i == 0 || (i < (size_t)n && p[i] != ';' && p[i] != ' ' &&
		    p[i] != '\t')) {
			*error_r = "bad chunk size";
			return -1;
		}
		p = next;
		if (size == 0)
			break;
		if (size > max_body - out->len) {
			*error_r = "body too large";
			return -1;
		}
		if ((uint64_t)(end - p) < size + 1)
			return 0;
		buf_append(out, p, (size_t)size);
		p += size;
		if (*p == '\r') {
			if (end - p < 2)
				return 0;
			p++;
		}
		if (*p != '\n') {
			*error_r = "bad chunk end";
			return -1;
		}
		p++;
	}
	/* Trailer fields up to an empty line. */
	for (;;) {
		const char *next;
		long n = line_at(p, end, &next);

		if (n < 0) {
			if (end - p <= HTTP_HEADER_MAX)
				return 0;
			*error_r = "trailer too large";
			return -1;
		}
		p = next;
		if (n == 0)
			return 1;
	}
}

int
http_response_parse(const char *buf, size_t len, bool eof, size_t max_body,
    struct http_response *r, const char **error_r)
{
	const char *p = buf, *end = buf + len, *next;
	bool chunked = false, have_cl = false;
	uint64_t cl = 0;
	long n;
	int rc;

	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	/* status-line = HTTP-version SP status-code SP reason-phrase */
	if ((n = line_at(p, end, &next)) < 0)
		goto more_head;
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' ||
	    p[7] > '9' || p[8] != ' ' || p[9] < '1' || p[9] > '5' ||
	    p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
	    (n > 12 && p[12] != ' ')) {
		*error_r = "malformed HTTP status line";
		return -1;
	}
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	p = next;
	for (;;) {
		const char *colon, *v;
		size_t vl;

		if ((n = line_at(p, end, &next)) < 0)
			goto more_head;
		if (next - buf > HTTP_HEADER_MAX) {
			*error_r = "HTTP header too large";
			return -1;
		}
		if (n == 0) {
			p = next;
			break;
		}
		if (p[0] == ' ' || p[0] == '\t' || (colon = memchr(p, ':',
		    (size_t)n)) == NULL || colon == p) {
			*error_r = "malformed HTTP header field";
			return -1;
		}
		v = colon + 1;
		vl = (size_t)(p + n - v);
		trim(&v, &vl);
		if (name_is(p, (size_t)(colon - p), "content-length")) {
			uint64_t x = 0;

			if (vl == 0 || vl > 15) {
				*error_r = "bad Content-Length";
				return -1;
			}
			for (size_t i = 0; i < vl; i++) {
				if (v[i] < '0' || v[i] > '9') {
					*error_r = "bad Content-Length";
					return -1;
				}
				x = x * 10 + (uint64_t)(v[i] - '0');
			}
			if (have_cl && x != cl) {
				*error_r = "conflicting Content-Length";
				return -1;
			}
			have_cl = true;
			cl = x;
		} else if (name_is(p, (size_t)(colon - p),
		    "transfer-encoding")) {
			if (!name_is(v, vl, "chunked")) {
				*error_r = "unsupported Transfer-Encoding";
				return -1;
			}
			chunked = true;
		} else if (name_is(p, (size_t)(colon - p), "content-type")) {
			const char *semi = memchr(v, ';', vl);
			size_t tl = semi ? (size_t)(semi - v) : vl;

			trim(&v, &tl);
			if (tl >= sizeof(r->media_type))
				tl = sizeof(r->media_type) - 1;
			for (size_t i = 0; i < tl; i++)
				r->media_type[i] = (char)(v[i] >= 'A' &&
				    v[i] <= 'Z' ? v[i] + 32 : v[i]);
			r->media_type[tl] = '\0';
		}
		p = next;
	}
	if (r->status != 200)
		return 1;
	if (chunked) {
		if ((rc = parse_chunked(p, end, max_body, &r->body,
		    error_r)) == 1)
			return 1;
		buf_free(&r->body);
		if (rc == 0 && eof) {
			*error_r = "truncated HTTP body";
			return -1;
		}
		return rc;
	}
	if (have_cl) {
		if (cl > max_body) {
			*error_r = "body too large";
			return -1;
		}
		if ((uint64_t)(end - p) >= cl) {
			buf_append(&r->body, p, (size_t)cl);
			return 1;
		}
		if (eof) {
			*error_r = "truncated HTTP body";
			return -1;
		}
		return 0;
	}
	if ((size_t)(end - p) > max_body) {
		*error_r = "body too large";
		return -1;
	}
	if (!eof)
		return 0;
	buf_append(&r->body, p, (size_t)(end - p));
	return 1;
more_head:
	if (len > HTTP_HEADER_MAX) {
		*error_r = "HTTP header too large";
		return -1;
	}
	if (eof) {
		*error_r = "truncated HTTP response";
		return -1;
	}
	return 0;
}

/* -- the client ------------------------------------------------------------ */

static void try_next_addr(struct https_get *);

static void
free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct https_get *g = arg;

	if (g->bev != NULL) {
		bufferevent_setcb(g->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(g->bev);
	}
	if (g->fd >= 0)
		close(g->fd);
	if (g->deadline != NULL)
		event_free(g->deadline);
	if (g->kick != NULL)
		event_free(g->kick);
	free(g->host);
	free(g->path);
	free(g->media_type);
	free(g->addrs);
	free(g);
}

/* Calls back once and frees g from the loop (never inside its stack). */
static void
finish(struct https_get *g, const char *body, size_t len, const char *error)
{
	if (g->finished)
		return;
	g->finished = true;
	if (g->bev != NULL) {
		bufferevent_disable(g->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(g->bev, NULL, NULL, NULL, NULL);
	}
	if (g->deadline != NULL)
		event_del(g->deadline);
	if (g->kick != NULL)
		event_del(g->kick);
	if (!g->cancelled)
		g->cb(g->ctx, body, len, error);
	event_base_once(g->base, -1, EV_TIMEOUT, free_cb, g,
	    &(struct timeval){ 0, 0 });
}

static void
fail(struct https_get *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct https_get *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->err, sizeof(g->err), fmt, ap);
	va_end(ap);
	finish(g, NULL, 0, g->err);
}

static void
check_response(struct https_get *g, bool eof)
{
	struct evbuffer *in = bufferevent_get_input(g->bev);
	size_t len = evbuffer_get_length(in);
	struct http_response r;
	const char *err, *data;
	int rc;

	/* Room for the headers and chunk framing around the body. */
	if (len > HTTP_HEADER_MAX + 2 * g->max_body + 1024) {
		fail(g, "response from %s too large", g->host);
		return;
	}
	data = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	rc = http_response_parse(data, len, eof, g->max_body, &r, &err);
	if (rc == 0)
		return;
	if (rc < 0) {
		fail(g, "%s from %s", err, g->host);
		return;
	}
	if (r.status != 200)
		fail(g, "HTTP status %d from %s%s", r.status, g->host,
		    r.status / 100 == 3 ? " (redirects are not followed)" :
		    "");
	else if (g->media_type != NULL && strcmp(r.media_type,
	    g->media_type) != 0)
		fail(g, "Content-Type is \"%s\", not %s", r.media_type,
		    g->media_type);
	else
		finish(g, r.body.data ? r.body.data : "", r.body.len, NULL);
	buf_free(&r.body);
}

static void
tls_read(struct bufferevent *bev, void *arg)
{
	check_response(arg, false);
}

static void
tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct https_get *g = arg;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		long vr = SSL_get_verify_result(ssl);
		struct evbuffer *out = bufferevent_get_output(bev);

		if (SSL_get0_peer_certificate(ssl) == NULL) {
			fail(g, "%s sent no certificate", g->host);
			return;
		}
		if (vr != X509_V_OK) {
			fail(g, "certificate of %s does not verify: %s",
			    g->host, X509_verify_cert_error_string(vr));
			return;
		}
		evbuffer_add_printf(out, "GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: posthorn\r\nAccept: %s\r\n"
		    "Connection: close\r\n\r\n", g->path, g->host,
		    g->media_type ? g->media_type : "*/*");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		check_response(g, true);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		fail(g, "timeout talking to %s", g->host);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char ebuf[200] = "";

		if (e != 0)
			ERR_error_string_n(e, ebuf, sizeof(ebuf));
		fail(g, "TLS with %s failed%s%s", g->host, ebuf[0] ? ": " : "",
		    ebuf);
	}
}

static void
start_tls(struct https_get *g)
{
	struct timeval tv = { g->connect_timeout, 0 };
	SSL *ssl;

	bufferevent_setcb(g->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(g->bev, EV_READ | EV_WRITE);
	bufferevent_free(g->bev);
	g->bev = NULL;
	if (https_ctx == NULL || (ssl = SSL_new(https_ctx)) == NULL) {
		fail(g, "no TLS client context");
		return;
	}
	SSL_set_tlsext_host_name(ssl, g->host);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_set1_host(ssl, g->host);
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	/* From here the bufferevent owns the socket and the SSL. */
	g->bev = bufferevent_openssl_socket_new(g->base, g->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (g->bev == NULL) {
		SSL_free(ssl);
		fail(g, "TLS setup failed");
		return;
	}
	g->fd = -1;
	g->tls = true;
	bufferevent_openssl_set_allow_dirty_shutdown(g->bev, 1);
	bufferevent_setcb(g->bev, tls_read, NULL, tls_event, g);
	bufferevent_set_timeouts(g->bev, &tv, &tv);
	bufferevent_enable(g->bev, EV_READ | EV_WRITE);
}

static void
plain_event(struct bufferevent *bev, short what, void *arg)
{
	struct https_get *g = arg;

	if (what & BEV_EVENT_CONNECTED) {
		start_tls(g);
		return;
	}
	snprintf(g->err, sizeof(g->err), "cannot connect to %s: %s", g->host,
	    what & BEV_EVENT_TIMEOUT ? "timeout" :
	    strerror(EVUTIL_SOCKET_ERROR()));
	bufferevent_setcb(g->bev, NULL, NULL, NULL, NULL);
	bufferevent_free(g->bev);
	g->bev = NULL;
	close(g->fd);
	g->fd = -1;
	g->ai++;
	try_next_addr(g);
}

static void
try_next_addr(struct https_get *g)
{
	struct timeval tv = { g->connect_timeout, 0 };

	for (; g->ai < g->naddrs; g->ai++) {
		struct sockaddr_storage *ss = &g->addrs[g->ai];
		socklen_t sl;

		if (ss->ss_family == AF_INET) {
			((struct sockaddr_in *)ss)->sin_port = htons(g->port);
			sl = sizeof(struct sockaddr_in);
		} else if (ss->ss_family == AF_INET6) {
			((struct sockaddr_in6 *)ss)->sin6_port = htons(g->port);
			sl = sizeof(struct sockaddr_in6);
		} else
			continue;
		g->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (g->fd < 0)
			continue;
		if ((g->bev = bufferevent_socket_new(g->base, g->fd, 0)) ==
		    NULL) {
			close(g->fd);
			g->fd = -1;
			continue;
		}
		bufferevent_setcb(g->bev, NULL, NULL, plain_event, g);
		bufferevent_set_timeouts(g->bev, &tv, &tv);
		bufferevent_enable(g->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(g->bev, (struct sockaddr *)ss,
		    (int)sl) == 0)
			return;
		bufferevent_free(g->bev);
		g->bev = NULL;
		close(g->fd);
		g->fd = -1;
	}
	if (g->err[0] == '\0')
		fail(g, "no address to connect to");
	else
		finish(g, NULL, 0, g->err);	/* the last connect error */
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct https_get *g = arg;

	fail(g, "fetching from %s took too long", g->host);
}

static void
start_cb(evutil_socket_t fd, short what, void *arg)
{
	try_next_addr(arg);
}

struct https_get *
https_get_start(struct event_base *base, const struct sockaddr_storage *addrs,
    size_t naddrs, uint16_t port, const struct https_get_opts *o,
    https_get_cb *cb, void *ctx)
{
	struct https_get *g = xcalloc(1, sizeof(*g));
	struct timeval tv = { o->timeout, 0 }, now = { 0, 0 };

	g->base = base;
	g->host = xstrdup(o->host);
	g->path = xstrdup(o->path);
	g->media_type = o->media_type ? xstrdup(o->media_type) : NULL;
	g->max_body = o->max_body;
	g->connect_timeout = o->connect_timeout;
	g->addrs = xcalloc(naddrs + 1, sizeof(*addrs));
	memcpy(g->addrs, addrs, naddrs * sizeof(*addrs));
	g->naddrs = naddrs;
	g->port = port;
	g->fd = -1;
	g->cb = cb;
	g->ctx = ctx;
	g->deadline = evtimer_new(base, deadline_cb, g);
	evtimer_add(g->deadline, &tv);
	/* Never call back from inside the caller's stack. */
	g->kick = evtimer_new(base, start_cb, g);
	evtimer_add(g->kick, &now);
	return g;
}

void
https_get_cancel(struct https_get *g)
{
	g->cancelled = true;
	finish(g, NULL, 0, "cancelled");
}
