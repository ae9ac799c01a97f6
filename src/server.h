/*
 * server - the running service: configuration and store shared read-only
 * by every session, listeners, privilege drop and the graceful stop.
 */
#ifndef POSTHORN_SERVER_H
#define POSTHORN_SERVER_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/config.h"

struct store;
struct conn;

struct psl;

struct server {
	struct config	*cfg;
	struct store	*store;
	struct psl	*psl;		/* public suffixes, for DMARC */
	unsigned char	 srs_secret[32];	/* store secret "srs" */
	bool		 stopping;
};

/* Set up by server_run (or by a unit test); read-only afterwards. */
extern struct server *srv;

/* Runs `posthorn serve` until SIGTERM/SIGINT; returns the exit status. */
int	 server_run(struct config *);

/*
 * Prepares data_dir as root (creates it, gives it to the service user) and
 * then drops privileges; used by serve and by the CLI.  Does nothing when
 * not started as root.  Returns 0 or -1 (logged).
 */
int	 server_prepare_and_drop(struct config *, bool for_cli);

/* The protocol entry points (smtp/, imap/, pop3/). */
void	 smtp_accept(int fd, const struct sockaddr *, socklen_t,
	    enum listen_kind);
void	 imap_accept(int fd, const struct sockaddr *, socklen_t,
	    enum listen_kind);
void	 pop3_accept(int fd, const struct sockaddr *, socklen_t,
	    enum listen_kind);

/* The domain of SRS addresses ([smtp] srs_domain or the hostname). */
const char *server_srs_domain(void);

/* Frees the DKIM signing keys (at stop). */
void	 smtp_dkim_shutdown(void);

/* May a password be sent on this connection now? (DESIGN.md limits) */
bool	 server_plaintext_ok(const struct conn *);

#endif
