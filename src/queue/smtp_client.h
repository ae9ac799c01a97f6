/*
 * smtp_client - one outbound SMTP connection (RFC 5321), asynchronous on
 * an event base: greeting, EHLO (HELO as a fallback), STARTTLS whenever
 * offered, then any number of transactions, PIPELINING when offered.
 * The TLS policy (opts.tls) may require STARTTLS and a certificate that
 * verifies (WebPKI, for MTA-STS) or matches TLSA records (DANE); when it
 * is not met the connection fails and smtpc_policy_failed() says so.
 *
 *	c = smtpc_connect(base, addr, name, &opts, &ops, ctx);
 *	... ops.ready(c): smtpc_send(c, &txn) ... ops.done(c, &result)
 *	... ops.ready(c) again: another smtpc_send() or smtpc_quit(c)
 *	... ops.failed(c, ...) when the connection breaks; c is then gone.
 *
 * After failed() or smtpc_quit()/smtpc_abort() the connection frees
 * itself; no callback runs after smtpc_quit()/smtpc_abort().
 */
#ifndef POSTHORN_SMTP_CLIENT_H
#define POSTHORN_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "dns/dns.h"

struct event_base;
struct smtpc;
typedef struct ssl_ctx_st SSL_CTX;

enum smtpc_tls {
	SMTPC_TLS_MAY,		/* STARTTLS when offered, no verification */
	SMTPC_TLS_ENCRYPT,	/* STARTTLS required, no verification */
	SMTPC_TLS_VERIFY,	/* STARTTLS required, WebPKI name check */
	SMTPC_TLS_DANE,		/* STARTTLS required, TLSA match (RFC 7672) */
};

#define SMTPC_DANE_NAMES	3

struct smtpc_opts {
	const char	*helo_name;	/* our host name */
	const char	*peer_name;	/* the MX name: SNI and checks */
	enum smtpc_tls	 tls;
	/* Names the policy in failure reasons ("dane: ..."); NULL: "tls". */
	const char	*policy;
	/*
	 * SMTPC_TLS_DANE: the usable TLSA records (copied), and the
	 * reference identifiers a DANE-TA(2) certificate may carry
	 * (RFC 7672 3.2.2): dane_names[0] is the primary one, the others
	 * may be NULL.  DANE-EE(3) records are matched without name
	 * checks.  dane_sni: the TLSA base domain, sent as SNI (RFC 7672
	 * 8.1; NULL: peer_name); it differs from peer_name when the MX
	 * name is an alias (2.2.2).
	 */
	const struct dns_tlsa *tlsa;
	size_t		 ntlsa;
	const char	*dane_names[SMTPC_DANE_NAMES];
	const char	*dane_sni;
	/*
	 * SMTPC_TLS_MAY: check the certificate as SMTPC_TLS_VERIFY does
	 * but only report the outcome (MTA-STS "testing", RFC 8461 5).
	 */
	bool		 verify_report;
	unsigned	 connect_timeout;	/* seconds */
	unsigned	 command_timeout;	/* seconds */
};

/* Reads len bytes of the message at off into out; 0 or -1. */
typedef int smtpc_reader(void *ctx, uint64_t off, size_t len, struct buf *);

struct smtpc_txn {
	const char	*sender;	/* "" for the null sender */
	const char *const *rcpts;
	size_t		 nrcpts;
	uint64_t	 size;
	bool		 eightbit;	/* BODY=8BITMIME if offered */
	bool		 smtputf8;	/* needs SMTPUTF8, else 5.6.7 */
	/* DSN (RFC 3461), passed on when the next hop offers DSN. */
	int		 ret;		/* 0, SMTP_RET_FULL, SMTP_RET_HDRS */
	const char	*envid;
	const unsigned	*notify;	/* per recipient, 0 = none */
	const char *const *orcpt;	/* per recipient "type;addr" */
	smtpc_reader	*read;
	void		*read_ctx;
};

/* Reply texts in results and failure reasons: printable ASCII, cut here. */
#define SMTPC_TEXT_MAX	512

struct smtpc_result {
	/*
	 * Per recipient: the reply code (250, 4xx, 5xx) and text; a
	 * recipient accepted at RCPT gets the final reply after the data.
	 */
	int		*code;
	char		**text;
	size_t		 n;
	/* The next hop took the DSN request over (it offered DSN). */
	bool		 dsn_passed;
};

struct smtpc_ops {
	void	(*ready)(struct smtpc *, void *ctx);
	void	(*done)(struct smtpc *, void *ctx, const struct smtpc_result *);
	/*
	 * The connection is unusable.  permanent is set only for the few
	 * cases that can't get better by retrying the same host (e.g. it
	 * is ourselves: a mail loop).
	 */
	void	(*failed)(struct smtpc *, void *ctx, bool permanent,
		    const char *reason);
};

/*
 * The client TLS context (TLS 1.2+), made once at start: the system CA
 * store plus ca_file (may be NULL) for SMTPC_TLS_VERIFY, and DANE.
 */
int	 smtpc_tls_init(const char *ca_file, const char **error_r);
struct smtpc *smtpc_connect(struct event_base *, const struct sockaddr *,
	    socklen_t, const struct smtpc_opts *, const struct smtpc_ops *,
	    void *ctx);
void	 smtpc_send(struct smtpc *, const struct smtpc_txn *);
void	 smtpc_quit(struct smtpc *);
void	 smtpc_abort(struct smtpc *);
/* "TLSv1.3/TLS_AES_256_GCM_SHA384" or "" (for logs and Received). */
const char *smtpc_tls_info(const struct smtpc *);
/* The remote host's name from its greeting (for DSNs and logs). */
const char *smtpc_peer(const struct smtpc *);
/*
 * How the server's certificate fared: 1 verified (by the policy: DANE
 * or WebPKI), 0 not checked, -1 failed (only with verify_report, which
 * goes on regardless).  *detail_r: "DANE-EE", a reason, or "".
 */
int	 smtpc_tls_verified(const struct smtpc *, const char **detail_r);
/*
 * In ops.failed(): the connection failed because the TLS policy was not
 * met (no STARTTLS, a certificate that does not verify or match).
 */
bool	 smtpc_policy_failed(const struct smtpc *);

#endif
