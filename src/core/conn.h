/*
 * conn - one client connection: a libevent bufferevent (plain or OpenSSL)
 * plus the hooks of the protocol session that owns it.
 *
 * Protocol code reads complete lines from conn->in (an evbuffer), writes
 * with conn_write/conn_printf, and never touches a socket or SSL object.
 * STARTTLS: the session writes its "go ahead" reply and calls
 * conn_starttls(); the conn flushes that reply, throws away every byte the
 * client sent in plaintext after the command (never read as if it came over
 * TLS), and continues on a TLS bufferevent over the same socket.
 *
 * Lifetime: a conn is freed only from its thread's event loop, never inside
 * a session callback (STYLE.md 11).  conn_close() flushes pending output and
 * then frees; while worker jobs hold the conn (conn_hold/conn_release), it
 * waits for them.  ops->on_close is the session's last call and must free
 * the session.
 */
#ifndef POSTHORN_CONN_H
#define POSTHORN_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "util.h"

struct bufferevent;
struct evbuffer;
struct event;
struct iothread;
struct conn;
typedef struct ssl_st SSL;

struct conn_ops {
	const char *proto;			/* "smtp", "imap", "pop3" */
	void	(*on_read)(struct conn *);	/* bytes in conn->in */
	void	(*on_drain)(struct conn *);	/* output fell below low mark */
	void	(*on_tls)(struct conn *);	/* handshake completed */
	void	(*on_timeout)(struct conn *);	/* idle; session says bye */
	void	(*on_shutdown)(struct conn *);	/* server stopping */
	/* The account may no longer be here: say why; the conn closes. */
	void	(*on_kicked)(struct conn *, const char *reason);
	void	(*on_close)(struct conn *);	/* free the session */
};

struct conn {
	char		 sid[ID_HEX_LEN + 1];	/* log key */
	struct iothread	*thr;
	struct bufferevent *bev;
	struct evbuffer	*in;
	struct evbuffer	*out;
	int		 fd;
	enum listen_kind kind;
	char		 peer_ip[INET6_ADDRSTRLEN];
	/* What per-address limits count it under (ip_limit_key()). */
	char		 peer_net[INET6_ADDRSTRLEN + 4];
	int		 peer_port;
	bool		 loopback;
	int		 local_port;

	bool		 tls;		/* TLS is up (or being set up) */
	bool		 tls_done;	/* handshake completed */
	SSL		*ssl;
	char		 tls_version[16];
	char		 tls_cipher[64];

	const struct conn_ops *ops;
	void		*session;
	int64_t		 account;	/* logged-in account, 0 before */

	unsigned	 holds;		/* outstanding async jobs */
	bool		 closing;
	bool		 reap_scheduled;
	bool		 starttls_pending;
	unsigned	 timeout;	/* idle seconds (conn_set_timeout) */
	struct bufferevent *under;	/* below the COMPRESS filter, or NULL */
	bool		 shutdown_requested;
	const char	*close_reason;
	size_t		 drain_mark;	/* on_drain low-water mark */
	struct event	*close_timer;	/* bounds the final flush */
	uint64_t	 bytes_in, bytes_out;
	uint64_t	 started_ms;
	struct conn	*next, *prev;	/* the thread's list */
};

/*
 * Set by the server once, before any connection: connections at a time
 * and new connections and messages per minute from one address (0: no
 * limit); the rates do not apply to the exempt networks.  IPv6 clients
 * are counted by their v6_prefix-bit network (peer_net).  A connection
 * whose descriptor is fd_high or above (0: no limit) is refused as "server
 * busy": the descriptors left are kept for the store, spools and outbound
 * mail.
 */
struct conn_limits {
	uint64_t		 max_per_ip;
	unsigned		 conn_rate;
	unsigned		 msg_rate;
	const struct netmask	*exempt;
	size_t			 nexempt;
	int			 fd_high;
	unsigned		 v6_prefix;	/* IPv6 counted by network */
};
void	 conn_set_limits(const struct conn_limits *);

/*
 * Takes over an accepted socket on the calling I/O thread.  implicit_tls
 * starts a TLS handshake at once.  Returns NULL (socket closed) when the
 * peer has too many connections or resources ran out; the caller already
 * logged nothing, conn logs the refusal.
 */
struct conn *conn_new(int fd, const struct sockaddr *, socklen_t,
	    enum listen_kind, bool implicit_tls, const struct conn_ops *,
	    void *session);
/*
 * Called once by each session when it starts: NULL when the peer may go
 * on, else why not: conn_refusal_busy (the server is short of descriptors:
 * "try later", not the peer's fault), "too many connections" or
 * "connection rate".  Counts the connection for the rate.
 */
const char *conn_refusal(const struct conn *);
extern const char conn_refusal_busy[];
/* At SMTP MAIL: counts a message; true when over message_rate_per_ip. */
bool	 conn_message_rate_hit(const struct conn *);

void	 conn_write(struct conn *, const void *, size_t);
void	 conn_puts(struct conn *, const char *);
void	 conn_printf(struct conn *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Bytes waiting to be sent. */
size_t	 conn_outq(const struct conn *);
/* on_drain fires when the output queue drops to or below this mark. */
void	 conn_set_drain_mark(struct conn *, size_t);
/* Idle timeout in seconds while waiting for the client (0 = none). */
void	 conn_set_timeout(struct conn *, unsigned);
void	 conn_pause_read(struct conn *);
void	 conn_resume_read(struct conn *);
/* Calls ops->on_read soon, from the loop (to resume after async work). */
void	 conn_kick(struct conn *);

int	 conn_starttls(struct conn *);
/*
 * COMPRESS=DEFLATE (RFC 4978): what is queued now goes out as it is; from
 * here on both directions are raw deflate streams (bytes the client sent
 * after its command are inflated too).  Returns 0, or -1 when the
 * connection is compressed already or zlib fails.
 */
int	 conn_compress(struct conn *);

/* Flush and close; idempotent; reason is a static string for the log. */
void	 conn_close(struct conn *, const char *reason);
void	 conn_hold(struct conn *);
void	 conn_release(struct conn *);

/* Calls fn for every connection of the calling I/O thread. */
void	 conn_foreach(void (*fn)(struct conn *, void *), void *ctx);
/* Ends a logged-in session whose account lost access. */
void	 conn_evict(struct conn *, const char *reason);

/* Called by the shutdown broadcast on each I/O thread. */
void	 conn_shutdown_thread(struct iothread *);

#endif
