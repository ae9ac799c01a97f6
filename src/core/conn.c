/*
 * conn - client connections over libevent bufferevents, plain or TLS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "conn.h"
#include "core/ratelimit.h"
#include "core/util.h"
#include "log.h"
#include "loop.h"
#include "tls/tls.h"
#include "xmalloc.h"

#define READ_HIGH_MARK	((size_t)256 * 1024)
#define CLOSE_FLUSH_SECS 10
#define IPCOUNT_BUCKETS	4096

struct ipcount {
	char		 ip[INET6_ADDRSTRLEN];
	unsigned	 n;
	struct ipcount	*next;
};

static pthread_mutex_t ip_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct ipcount *ip_buckets[IPCOUNT_BUCKETS];
static struct conn_limits limits = { 50, 0, 0, NULL, 0, 0, 128 };

const char conn_refusal_busy[] = "server busy";
static struct ratelimit *conn_rl, *msg_rl;

/* Each thread's live connections, for the shutdown broadcast. */
static __thread struct conn *thread_conns;

static void conn_setup_bev(struct conn *);
static void conn_schedule_reap(struct conn *);

void
conn_set_limits(const struct conn_limits *l)
{
	limits = *l;
	ratelimit_free(&conn_rl);
	ratelimit_free(&msg_rl);
	conn_rl = ratelimit_new(l->conn_rate);
	msg_rl = ratelimit_new(l->msg_rate);
}

static unsigned
ip_hash(const char *ip)
{
	unsigned h = 5381;

	for (; *ip != '\0'; ip++)
		h = h * 33 + (unsigned char)*ip;
	return h % IPCOUNT_BUCKETS;
}

static unsigned
ipcount_add(const char *ip, int delta)
{
	struct ipcount **pp, *e;
	unsigned h = ip_hash(ip), n = 0;

	pthread_mutex_lock(&ip_mtx);
	for (pp = &ip_buckets[h]; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->ip, ip) == 0)
			break;
	if (e == NULL && delta > 0) {
		e = xcalloc(1, sizeof(*e));
		snprintf(e->ip, sizeof(e->ip), "%s", ip);
		e->next = ip_buckets[h];
		ip_buckets[h] = e;
		pp = &ip_buckets[h];
	}
	if (e != NULL) {
		if (delta < 0 && e->n > 0)
			e->n--;
		else if (delta > 0)
			e->n++;
		n = e->n;
		if (n == 0) {
			*pp = e->next;
			free(e);
		}
	}
	pthread_mutex_unlock(&ip_mtx);
	return n;
}

static void
conn_log_tls(struct conn *c)
{
	tls_describe(c->ssl, c->tls_version, sizeof(c->tls_version),
	    c->tls_cipher, sizeof(c->tls_cipher));
	log_info("s=%s %s tls version=%s cipher=%s", c->sid, c->ops->proto,
	    c->tls_version, c->tls_cipher);
}

/*
 * libevent 2.1 reads a plain socket 4 KiB per wake-up (its
 * EVBUFFER_MAX_READ), each time with a FIONREAD, a readv and a trip
 * through the loop and the protocol: a 40 KB message took ten.  When that
 * read came back full, whatever else the kernel holds is taken at once,
 * up to TOPUP_MAX and never past the read high-water mark.  Not under TLS
 * or COMPRESS, whose layers read the socket themselves.  An EOF or error
 * is left for libevent's next read to find.
 */
#define TOPUP_MAX	((size_t)128 * 1024)
#define LIBEVENT_READ	4096

static void
conn_topup(struct conn *c)
{
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	size_t have = evbuffer_get_length(c->in), want;
	ssize_t r;
	int n;

	if (c->ssl != NULL || c->under != NULL || c->starttls_pending ||
	    have < LIBEVENT_READ || have >= READ_HIGH_MARK)
		return;
	want = READ_HIGH_MARK - have;
	if (want > TOPUP_MAX)
		want = TOPUP_MAX;
	/* The socket bufferevent keeps its input's end frozen but while
	 * it reads itself; so do we. */
	evbuffer_unfreeze(c->in, 0);
	n = evbuffer_reserve_space(c->in, (ev_ssize_t)want, v, 2);
	if (n <= 0) {
		evbuffer_freeze(c->in, 0);
		return;
	}
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	r = readv(c->fd, iov, n);
	if (r <= 0) {
		evbuffer_commit_space(c->in, v, 0);
		evbuffer_freeze(c->in, 0);
		return;
	}
	for (int i = 0; i < n; i++) {
		if ((size_t)r < v[i].iov_len)
			v[i].iov_len = (size_t)r;
		r -= (ssize_t)v[i].iov_len;
		if (v[i].iov_len == 0) {
			n = i;
			break;
		}
	}
	evbuffer_commit_space(c->in, v, n);
	evbuffer_freeze(c->in, 0);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing) {
		evbuffer_drain(c->in, evbuffer_get_length(c->in));
		return;
	}
	conn_topup(c);
	c->ops->on_read(c);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->starttls_pending) {
		if (evbuffer_get_length(c->out) == 0) {
			struct bufferevent *old = c->bev;

			/*
			 * The reply has gone out.  Anything the client sent
			 * in plaintext after STARTTLS is thrown away; bytes
			 * still in the kernel are read by the TLS layer,
			 * where injected plaintext fails the handshake.
			 */
			evbuffer_drain(c->in, evbuffer_get_length(c->in));
			c->starttls_pending = false;
			bufferevent_disable(old, EV_READ | EV_WRITE);
			bufferevent_setcb(old, NULL, NULL, NULL, NULL);
			bufferevent_free(old);
			c->bev = NULL;
			c->tls = true;
			conn_setup_bev(c);
			if (c->bev == NULL)
				conn_close(c, "tls setup failed");
		}
		return;
	}
	if (c->closing) {
		if (conn_outq(c) == 0)
			conn_schedule_reap(c);
		return;
	}
	if (c->ops->on_drain != NULL)
		c->ops->on_drain(c);
}

/* Nothing more can be sent: forget what is queued, at every layer. */
static void
conn_drop_output(struct conn *c)
{
	evbuffer_drain(c->out, evbuffer_get_length(c->out));
	if (c->under != NULL) {
		struct evbuffer *o = bufferevent_get_output(c->under);

		evbuffer_drain(o, evbuffer_get_length(o));
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (log_debug_enabled())
		log_debug("s=%s %s event what=0x%x closing=%d out=%zu", c->sid,
		    c->ops->proto, (unsigned)what, c->closing,
		    evbuffer_get_length(c->out));

	if (what & BEV_EVENT_CONNECTED) {
		if (c->ssl != NULL && !c->tls_done) {
			c->tls_done = true;
			conn_log_tls(c);
			if (c->ops->on_tls != NULL && !c->closing)
				c->ops->on_tls(c);
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->closing) {
			conn_schedule_reap(c);
			return;
		}
		/* Before a TLS handshake nothing can be said: just close. */
		if (c->ops->on_timeout != NULL &&
		    (c->ssl == NULL || c->tls_done)) {
			c->ops->on_timeout(c);
			/* The session says goodbye; give it a moment. */
			bufferevent_set_timeouts(c->bev, NULL,
			    &(struct timeval){ 10, 0 });
		}
		conn_close(c, "timeout");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->close_reason = c->close_reason ? c->close_reason :
		    "client closed";
	} else if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);

		if (e != 0) {
			char ebuf[200];

			ERR_error_string_n(e, ebuf, sizeof(ebuf));
			log_info("s=%s %s tls error=\"%s\"", c->sid,
			    c->ops->proto, ebuf);
			c->close_reason = c->close_reason ? c->close_reason :
			    (c->tls_done ? "tls error" :
			    "tls handshake failed");
		} else
			c->close_reason = c->close_reason ? c->close_reason :
			    (errno == ECONNRESET ? "connection reset" :
			    "network error");
	}
	/*
	 * After an error, or an EOF met while writing, nothing more can be
	 * sent.  After an EOF met while reading the client may only have
	 * shut down its sending side (QUIT, then close): what we still owe
	 * it is flushed by conn_close, within a bounded time.
	 */
	if ((what & BEV_EVENT_ERROR) || (what & BEV_EVENT_WRITING))
		conn_drop_output(c);
	if (c->closing && conn_outq(c) == 0)
		conn_schedule_reap(c);
	conn_close(c, c->close_reason);
}

static void
conn_setup_bev(struct conn *c)
{
	struct event_base *base = iothread_base(c->thr);

	if (c->tls) {
		c->ssl = tls_server_new();
		if (c->ssl == NULL)
			return;
		c->bev = bufferevent_openssl_socket_new(base, c->fd, c->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, 0);
		if (c->bev == NULL) {
			SSL_free(c->ssl);
			c->ssl = NULL;
			return;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(base, c->fd, 0);
		if (c->bev == NULL)
			return;
	}
	c->in = bufferevent_get_input(c->bev);
	c->out = bufferevent_get_output(c->bev);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH_MARK);
	bufferevent_setwatermark(c->bev, EV_WRITE, c->drain_mark, 0);
	/* The idle timeout outlives a STARTTLS switch of bufferevents. */
	if (c->timeout > 0)
		bufferevent_set_timeouts(c->bev,
		    &(struct timeval){ c->timeout, 0 }, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

struct conn *
conn_new(int fd, const struct sockaddr *sa, socklen_t salen,
    enum listen_kind kind, bool implicit_tls, const struct conn_ops *ops,
    void *session)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	int one = 1;

	random_id(c->sid);
	c->fd = fd;
	c->thr = iothread_self();
	c->kind = kind;
	c->ops = ops;
	c->session = session;
	c->started_ms = mono_ms();
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, c->peer_ip,
		    sizeof(c->peer_ip));
		c->peer_port = ntohs(sin->sin_port);
		c->loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			struct in_addr a4;

			memcpy(&a4, &sin6->sin6_addr.s6_addr[12], 4);
			inet_ntop(AF_INET, &a4, c->peer_ip,
			    sizeof(c->peer_ip));
			c->loopback = (ntohl(a4.s_addr) >> 24) == 127;
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, c->peer_ip,
			    sizeof(c->peer_ip));
			c->loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		}
		c->peer_port = ntohs(sin6->sin6_port);
	} else
		snprintf(c->peer_ip, sizeof(c->peer_ip), "unknown");
	ip_limit_key(c->peer_ip, limits.v6_prefix, c->peer_net,
	    sizeof(c->peer_net));
	if (implicit_tls && limits.fd_high > 0 && fd >= limits.fd_high) {
		/* Nothing can be said before a handshake it would cost. */
		log_info("s=%s %s connect from=%s refused: %s", c->sid,
		    ops->proto, c->peer_ip, conn_refusal_busy);
		close(fd);
		free(c);
		return NULL;
	}
	memset(&local, 0, sizeof(local));
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
		c->local_port = ntohs(local.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&local)->sin6_port :
		    ((struct sockaddr_in *)&local)->sin_port);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	evutil_make_socket_nonblocking(fd);
	c->tls = implicit_tls;
	conn_setup_bev(c);
	if (c->bev == NULL) {
		log_warnx("s=%s %s cannot set up connection from %s", c->sid,
		    ops->proto, c->peer_ip);
		close(fd);
		free(c);
		return NULL;
	}
	ipcount_add(c->peer_net, 1);
	iothread_conn_add(c->thr, 1);
	c->next = thread_conns;
	if (thread_conns != NULL)
		thread_conns->prev = c;
	thread_conns = c;
	log_info("s=%s %s connect from=%s port=%d local_port=%d%s", c->sid,
	    ops->proto, c->peer_ip, c->peer_port, c->local_port,
	    implicit_tls ? " tls=implicit" : "");
	return c;
}

const char *
conn_refusal(const struct conn *c)
{
	unsigned n;

	if (limits.fd_high > 0 && c->fd >= limits.fd_high)
		return conn_refusal_busy;
	pthread_mutex_lock(&ip_mtx);
	n = 0;
	for (struct ipcount *e = ip_buckets[ip_hash(c->peer_net)]; e != NULL;
	    e = e->next)
		if (strcmp(e->ip, c->peer_net) == 0)
			n = e->n;
	pthread_mutex_unlock(&ip_mtx);
	if (n > limits.max_per_ip)
		return "too many connections";
	if (!netlist_match(limits.exempt, limits.nexempt, c->peer_ip) &&
	    ratelimit_hit(conn_rl, c->peer_net, mono_ms()))
		return "connection rate";
	return NULL;
}

bool
conn_message_rate_hit(const struct conn *c)
{
	return !netlist_match(limits.exempt, limits.nexempt, c->peer_ip) &&
	    ratelimit_hit(msg_rl, c->peer_net, mono_ms());
}

void
conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->closing && c->reap_scheduled)
		return;
	if (c->bev == NULL)
		return;
	evbuffer_add(c->out, p, n);
	c->bytes_out += n;
}

void
conn_puts(struct conn *c, const char *s)
{
	conn_write(c, s, strlen(s));
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	char small[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		conn_write(c, small, (size_t)n);
		return;
	}
	{
		char *big;

		va_start(ap, fmt);
		big = xvasprintf(fmt, ap);
		va_end(ap);
		conn_write(c, big, strlen(big));
		free(big);
	}
}

size_t
conn_outq(const struct conn *c)
{
	size_t n = c->out != NULL ? evbuffer_get_length(c->out) : 0;

	if (c->under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(c->under));
	return n;
}

void
conn_set_drain_mark(struct conn *c, size_t mark)
{
	c->drain_mark = mark;
	if (c->bev != NULL)
		bufferevent_setwatermark(c->bev, EV_WRITE, mark, 0);
}

void
conn_set_timeout(struct conn *c, unsigned seconds)
{
	struct timeval tv = { seconds, 0 };

	c->timeout = seconds;
	if (c->bev != NULL && !c->closing)
		bufferevent_set_timeouts(c->bev, seconds ? &tv : NULL, NULL);
}

void
conn_pause_read(struct conn *c)
{
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ);
}

void
conn_resume_read(struct conn *c)
{
	if (c->bev != NULL && !c->closing && !c->starttls_pending)
		bufferevent_enable(c->bev, EV_READ);
}

static void
kick_cb(void *arg)
{
	struct conn *c = arg;

	if (!c->closing && c->bev != NULL)
		c->ops->on_read(c);
	conn_release(c);
}

void
conn_kick(struct conn *c)
{
	conn_hold(c);
	iothread_post(c->thr, kick_cb, c);
}

int
conn_starttls(struct conn *c)
{
	if (c->tls || c->closing)
		return -1;
	c->starttls_pending = true;
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	log_info("s=%s %s starttls", c->sid, c->ops->proto);
	if (evbuffer_get_length(c->out) == 0)
		write_cb(c->bev, c);
	return 0;
}

/*
 * COMPRESS=DEFLATE: a bufferevent filter over the socket (or TLS) one.
 * Compressed bytes that would expand past the reader's room stay in the
 * lower buffer until the session reads (a bomb does not fill memory); the
 * deflater flushes at the end of every write so replies are not held
 * back, and writes at most what the lower buffer's high watermark allows,
 * so a big FETCH still waits for the socket.
 */
#define Z_CHUNK		16384
#define Z_LOWER_HIGH	((size_t)64 * 1024)

struct zfilter {
	z_stream	 in;
	z_stream	 out;
	bool		 in_init, out_init;
};

static void
zfilter_free(void *arg)
{
	struct zfilter *z = arg;

	if (z->in_init)
		inflateEnd(&z->in);
	if (z->out_init)
		deflateEnd(&z->out);
	free(z);
}

static enum bufferevent_filter_result
inflate_cb(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct zfilter *z = arg;
	size_t produced = 0;

	(void)mode;
	while (evbuffer_get_length(src) > 0 &&
	    (limit <= 0 || produced < (size_t)limit)) {
		struct evbuffer_iovec in, out;
		size_t used;
		int r;

		if (evbuffer_peek(src, -1, NULL, &in, 1) < 1)
			break;
		z->in.next_in = in.iov_base;
		z->in.avail_in = (uInt)in.iov_len;
		if (evbuffer_reserve_space(dst, Z_CHUNK, &out, 1) < 1)
			return BEV_ERROR;
		z->in.next_out = out.iov_base;
		z->in.avail_out = (uInt)out.iov_len;
		r = inflate(&z->in, Z_SYNC_FLUSH);
		out.iov_len -= z->in.avail_out;
		evbuffer_commit_space(dst, &out, 1);
		produced += out.iov_len;
		used = in.iov_len - z->in.avail_in;
		evbuffer_drain(src, used);
		if (r == Z_STREAM_END || (r != Z_OK && r != Z_BUF_ERROR))
			return BEV_ERROR;
		if (used == 0 && out.iov_len == 0)
			break;		/* needs more input */
	}
	return BEV_OK;
}

static enum bufferevent_filter_result
deflate_cb(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct zfilter *z = arg;
	bool more;

	(void)mode;
	do {
		struct evbuffer_iovec in, out;
		size_t used = 0;
		int r;

		more = evbuffer_peek(src, -1, NULL, &in, 1) >= 1;
		z->out.next_in = more ? in.iov_base : NULL;
		z->out.avail_in = more ? (uInt)in.iov_len : 0;
		/* Flush when all there is has gone in. */
		do {
			if (evbuffer_reserve_space(dst, Z_CHUNK, &out, 1) < 1)
				return BEV_ERROR;
			z->out.next_out = out.iov_base;
			z->out.avail_out = (uInt)out.iov_len;
			r = deflate(&z->out, (more && in.iov_len <
			    evbuffer_get_length(src)) ? Z_NO_FLUSH :
			    Z_SYNC_FLUSH);
			out.iov_len -= z->out.avail_out;
			evbuffer_commit_space(dst, &out, 1);
			if (r == Z_STREAM_ERROR)
				return BEV_ERROR;
		} while (z->out.avail_out == 0);
		if (more) {
			used = in.iov_len - z->out.avail_in;
			evbuffer_drain(src, used);
		}
	} while (more && evbuffer_get_length(src) > 0 &&
	    (limit <= 0 || evbuffer_get_length(dst) < (size_t)limit));
	return BEV_OK;
}

/*
 * The filter calls write_cb only when it has just moved bytes down, not
 * when the socket layer below drains: a conn closing after its last
 * compressed bytes (LOGOUT) learns here that they are out, instead of
 * waiting for the close timer with the socket open.
 */
static void
under_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn *c = arg;

	if (info->n_deleted > 0 && c->closing && conn_outq(c) == 0)
		conn_schedule_reap(c);
}

int
conn_compress(struct conn *c)
{
	struct zfilter *z;
	struct bufferevent *f;

	if (c->under != NULL || c->bev == NULL || c->closing)
		return -1;
	z = xcalloc(1, sizeof(*z));
	if (inflateInit2(&z->in, -MAX_WBITS) != Z_OK) {
		free(z);
		return -1;
	}
	z->in_init = true;
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
	    -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		zfilter_free(z);
		return -1;
	}
	z->out_init = true;
	/*
	 * A filter runs its callbacks at once, from inside the
	 * conn_write() that filled it; deferred, they come from the loop as
	 * a socket's do, and a session is never re-entered mid-command
	 * (on_drain inside a FETCH's own write ended and freed it).
	 */
	f = bufferevent_filter_new(c->bev, inflate_cb, deflate_cb,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, zfilter_free, z);
	if (f == NULL) {
		zfilter_free(z);
		return -1;
	}
	c->under = c->bev;
	evbuffer_add_cb(bufferevent_get_output(c->under), under_output_cb, c);
	bufferevent_setwatermark(c->under, EV_WRITE, 0, Z_LOWER_HIGH);
	bufferevent_setwatermark(c->under, EV_READ, 0, READ_HIGH_MARK);
	c->bev = f;
	c->in = bufferevent_get_input(f);
	c->out = bufferevent_get_output(f);
	bufferevent_setcb(f, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(f, EV_READ, 0, READ_HIGH_MARK);
	bufferevent_setwatermark(f, EV_WRITE, c->drain_mark, 0);
	if (c->timeout > 0)
		bufferevent_set_timeouts(f, &(struct timeval){ c->timeout, 0 },
		    NULL);
	bufferevent_enable(f, EV_READ | EV_WRITE);
	/* Bytes that came after the command are compressed already. */
	if (evbuffer_get_length(bufferevent_get_input(c->under)) > 0)
		bufferevent_trigger(c->under, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS);
	log_info("s=%s %s compress=deflate", c->sid, c->ops->proto);
	return 0;
}

static void
conn_free(struct conn *c)
{
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (thread_conns == c)
		thread_conns = c->next;
	if (c->ops->on_close != NULL)
		c->ops->on_close(c);
	if (c->under != NULL)
		evbuffer_remove_cb(bufferevent_get_output(c->under),
		    under_output_cb, c);
	if (c->bev != NULL) {
		if (c->ssl != NULL && c->tls_done)
			SSL_shutdown(c->ssl);
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(c->bev);
	}
	/* bufferevent_openssl without BEV_OPT_CLOSE_ON_FREE: SSL is ours. */
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	close(c->fd);
	/* Released before it is logged: a logged disconnect has room. */
	ipcount_add(c->peer_net, -1);
	iothread_conn_add(c->thr, -1);
	log_info("s=%s %s disconnect reason=\"%s\" duration_ms=%llu",
	    c->sid, c->ops->proto, c->close_reason ? c->close_reason : "closed",
	    (unsigned long long)(mono_ms() - c->started_ms));
	free(c);
}

static void
reap_cb(void *arg)
{
	struct conn *c = arg;

	conn_free(c);
}

static void
conn_schedule_reap(struct conn *c)
{
	if (c->close_timer != NULL) {
		event_free(c->close_timer);
		c->close_timer = NULL;
	}
	if (c->reap_scheduled || c->holds > 0)
		return;
	c->reap_scheduled = true;
	iothread_post(c->thr, reap_cb, c);
}

static void
close_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	event_free(c->close_timer);
	c->close_timer = NULL;
	if (c->bev != NULL)
		conn_drop_output(c);
	conn_schedule_reap(c);
}

void
conn_close(struct conn *c, const char *reason)
{
	if (c->closing) {
		if (c->holds == 0 && conn_outq(c) == 0)
			conn_schedule_reap(c);
		return;
	}
	c->closing = true;
	c->close_reason = reason;
	if (c->bev == NULL) {
		conn_schedule_reap(c);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	/* Nothing can be flushed before a TLS handshake completes. */
	if (conn_outq(c) == 0 || c->starttls_pending ||
	    (c->ssl != NULL && !c->tls_done)) {
		conn_schedule_reap(c);
		return;
	}
	/*
	 * Give a slow reader a bounded time to take the last words; a timer
	 * of our own, because the bufferevent may have stopped writing.
	 */
	{
		struct timeval tv = { CLOSE_FLUSH_SECS, 0 };

		c->close_timer = evtimer_new(iothread_base(c->thr),
		    close_timeout_cb, c);
		evtimer_add(c->close_timer, &tv);
	}
}

void
conn_hold(struct conn *c)
{
	c->holds++;
}

void
conn_release(struct conn *c)
{
	PH_ASSERT(c->holds > 0);
	c->holds--;
	if (c->holds > 0)
		return;
	if (c->closing) {
		if (c->bev == NULL || conn_outq(c) == 0)
			conn_schedule_reap(c);
		return;
	}
	if (c->shutdown_requested) {
		if (c->ops->on_shutdown != NULL)
			c->ops->on_shutdown(c);
		conn_close(c, "server shutdown");
	}
}

void
conn_foreach(void (*fn)(struct conn *, void *), void *ctx)
{
	struct conn *c, *next;

	for (c = thread_conns; c != NULL; c = next) {
		next = c->next;
		fn(c, ctx);
	}
}

void
conn_evict(struct conn *c, const char *reason)
{
	if (c->closing)
		return;
	log_info("s=%s %s evicted account=%lld reason=\"%s\"", c->sid,
	    c->ops->proto, (long long)c->account, reason);
	if (c->ops->on_kicked != NULL)
		c->ops->on_kicked(c, reason);
	conn_close(c, reason);
}

void
conn_shutdown_thread(struct iothread *t)
{
	struct conn *c, *next;

	for (c = thread_conns; c != NULL; c = next) {
		next = c->next;
		if (c->closing)
			continue;
		c->shutdown_requested = true;
		if (c->holds == 0) {
			if (c->ops->on_shutdown != NULL)
				c->ops->on_shutdown(c);
			conn_close(c, "server shutdown");
		}
	}
}
