/*
 * queue - the outbound queue runner: finds messages with recipients that
 * are due, resolves each destination's MX hosts, delivers with one SMTP
 * transaction per (message, destination) over a connection reused for
 * several messages, records each recipient's outcome durably, retries
 * temporary failures with back-off, and returns failed or expired mail
 * to its sender as a DSN (RFC 3464), never bouncing a bounce.
 *
 * TLS: each MX host gets DANE (RFC 7672) where its TLSA records are
 * DNSSEC-secure, else the domain's MTA-STS policy (RFC 8461, sts.c),
 * else opportunistic STARTTLS; one log line per connection names the
 * policy ("tls=dane") and how the certificate fared ("verify=ok").
 *
 * Runs on the first I/O thread; durable updates go to the worker pool.
 */
#ifndef POSTHORN_QUEUE_H
#define POSTHORN_QUEUE_H

#include <stdbool.h>

struct spool;

/* On the first I/O thread, after dns_init(). */
void	 queue_start(void);
void	 queue_stop(void);
/* Thread safe: something was queued; look soon. */
void	 queue_kick(void);

/*
 * Hands a message we made ourselves (a DSN) to the mail flow like SMTP
 * would: local recipients get it now, remote ones through the queue,
 * with SMTPUTF8 when smtputf8 is set (RFC 6531: a UTF-8 address or
 * header).  Worker thread.  Returns 0 or -1.
 */
int	 queue_inject(const char *sender, const char *rcpt,
	    const struct spool *, bool smtputf8, const char **error_r);

#endif
