/*
 * config - the one INI file (-c FILE) and the read-only settings object built
 * from it.
 *
 * config_load() parses the file with inih; every unknown section or key and
 * every bad value makes it fail with "FILE:LINE: message".  The returned
 * struct config is written only here, at start-up, and read everywhere else
 * (STYLE.md 14: all global mutable state in one object).
 */
#ifndef POSTHORN_CONFIG_H
#define POSTHORN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/util.h"

enum listen_kind {
	LISTEN_SMTP = 0,	/* 25: MX, STARTTLS offered, no AUTH */
	LISTEN_SUBMISSION,	/* 587/2525: STARTTLS, AUTH required */
	LISTEN_SUBMISSIONS,	/* 465: implicit TLS, AUTH required */
	LISTEN_IMAP,		/* 143: STARTTLS */
	LISTEN_IMAPS,		/* 993: implicit TLS */
	LISTEN_POP3,		/* 110: STLS */
	LISTEN_POP3S,		/* 995: implicit TLS */
	LISTEN_KIND_COUNT
};

struct listen_addr {
	enum listen_kind	 kind;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			*text;		/* as written, for logs */
};

struct tls_cert_conf {
	char	*name;		/* host name for SNI; NULL for the default */
	char	*cert;
	char	*key;
};

struct config {
	char		*path;
	/* [server] */
	char		*hostname;
	char		*data_dir;
	char		*user;		/* drop to this user when started as root */
	unsigned	 io_threads;	/* 0 = one per core */
	unsigned	 workers;	/* blocking-work pool */
	bool		 sandbox;	/* landlock + seccomp once serving */
	int		 log_level;
	/* [tls] */
	struct tls_cert_conf *certs;
	size_t		 ncerts;
	/* [auth] */
	bool		 plaintext_on_loopback;
	bool		 plaintext_without_tls;
	uint64_t	 auth_fail_delay_ms;	/* after the first failure */
	uint64_t	 auth_max_delay_ms;	/* the delay doubles up to this */
	uint64_t	 auth_lockout_failures;	/* per address, then locked */
	uint64_t	 auth_lockout_time;	/* seconds */
	/* [listen] */
	struct listen_addr *listens;
	size_t		 nlistens;
	/* [limits] */
	uint64_t	 message_size;		/* SMTP SIZE, APPEND limit */
	uint64_t	 max_recipients;
	uint64_t	 smtp_line_max;		/* command line, bytes */
	uint64_t	 imap_line_max;		/* command incl. small literals */
	uint64_t	 smtp_timeout;		/* seconds */
	uint64_t	 imap_timeout;		/* seconds, non-IDLE idle time */
	uint64_t	 imap_idle_timeout;	/* seconds in IDLE */
	uint64_t	 pop3_timeout;
	uint64_t	 login_timeout;		/* IMAP/POP3 before login */
	uint64_t	 max_bad_commands;
	uint64_t	 max_connections_per_ip;
	unsigned	 ipv6_prefix_length;	/* IPv6 clients counted by */
	uint64_t	 connection_rate_per_ip;	/* per minute, 0 = off */
	uint64_t	 message_rate_per_ip;		/* per minute, 0 = off */
	struct netmask	*rate_exempt;
	size_t		 nrate_exempt;
	/* [smtp] */
	bool		 helo_strict;
	char		*greeting;
	bool		 checks;		/* SPF, DKIM, DMARC on port 25 */
	struct netmask	*checks_skip;		/* clients not checked */
	size_t		 nchecks_skip;
	int		 spf_fail;		/* CONFIG_SPF_* */
	int		 dmarc_policy;		/* CONFIG_DMARC_* */
	int		 sender_check;		/* CONFIG_SENDER_* */
	char		 recipient_delimiter[8];	/* "+" */
	bool		 srs;			/* rewrite forwarded senders */
	char		*srs_domain;		/* NULL: the hostname */
	/* [dns] */
	char		*dns_resolver;		/* forwarders, NULL = recursive */
	bool		 dnssec;
	char		*dns_trust_anchor;
	/* [delivery] */
	unsigned	 delivery_port;		/* remote SMTP port (25) */
	uint64_t	 retry_first;		/* seconds */
	uint64_t	 retry_max;		/* longest interval */
	uint64_t	 queue_lifetime;	/* give up after */
	uint64_t	 delay_warning;		/* warn the sender after */
	unsigned	 max_connections;	/* outbound, in all */
	unsigned	 max_per_destination;	/* outbound, per domain */
	unsigned	 mx_address_limit;	/* addresses tried per attempt */
	unsigned	 mx_session_limit;	/* sessions per attempt */
	uint64_t	 connect_timeout;
	uint64_t	 command_timeout;
	bool		 dane;			/* RFC 7672 where published */
	bool		 mta_sts;		/* RFC 8461 where published */
	char		*tls_ca_file;		/* extra trust anchors */
};

/* spf_fail: what an SPF "fail" of MAIL FROM leads to without DMARC pass. */
#define CONFIG_SPF_REJECT	0
#define CONFIG_SPF_MARK		1
/* dmarc_policy: how much of the published policy is applied. */
#define CONFIG_DMARC_APPLY	0	/* reject and quarantine */
#define CONFIG_DMARC_QUARANTINE	1	/* reject becomes quarantine */
#define CONFIG_DMARC_NONE	2	/* recorded only */

/* sender_check: which sender addresses a user must own on submission. */
#define CONFIG_SENDER_FROM	0	/* MAIL FROM and the From field */
#define CONFIG_SENDER_ENVELOPE	1	/* MAIL FROM only */
#define CONFIG_SENDER_OFF	2

extern const char *listen_kind_names[LISTEN_KIND_COUNT];

/*
 * Returns a new config or NULL with *error_r set to a static or
 * config-owned message of the form "FILE:LINE: what is wrong".
 */
struct config *config_load(const char *path, const char **error_r);
void	 config_free(struct config **);
/* Sets the built-in defaults (used by config_load and by unit tests). */
void	 config_defaults(struct config *);
/* Parses "1.2.3.4:25", "[::1]:143", "*:25" (all IPv4), "[::]:25". */
int	 listen_addr_parse(const char *, struct sockaddr_storage *,
	    socklen_t *);

#endif
