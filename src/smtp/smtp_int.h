/*
 * smtp_int - private to src/smtp: the SMTP server session shared by
 * smtp_session.c (connection, greeting, EHLO, STARTTLS, AUTH, the command
 * loop) and smtp_txn.c (the mail transaction: MAIL, RCPT, DATA and the
 * durable delivery behind the 250).
 */
#ifndef POSTHORN_SMTP_INT_H
#define POSTHORN_SMTP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/spool.h"
#include "core/util.h"
#include "smtp_data.h"
#include "smtp_parse.h"

struct auth_sasl;
struct conn;
struct smtp_checks;
struct mime_parser;
struct mime_part;

enum smtp_state {
	SMTP_CMD,		/* reading commands */
	SMTP_DATA,		/* reading the message after 354 */
	SMTP_AUTH,		/* reading SASL responses after 334 */
	SMTP_BDAT,		/* reading the bytes of a BDAT chunk */
	SMTP_BUSY,		/* a worker job or auth check runs */
};

/* A recipient as given in RCPT, with its DSN parameters (RFC 3461). */
struct smtp_rcpt {
	char	 addr[SMTP_PATH_MAX + 1];
	unsigned notify;	/* SMTP_NOTIFY_*, 0 when not given */
	char	*orcpt;		/* "type;address" decoded, or NULL */
	bool	 local;		/* reached at least one local mailbox */
};

/* A remote destination and the recipient it came from. */
struct smtp_remote {
	char	*addr;
	size_t	 rcpt;
};

struct smtp_session {
	struct conn	*conn;
	enum smtp_state	 state;
	bool		 submission;	/* 587/2525/465: AUTH required */
	bool		 helo_seen;
	bool		 esmtp;
	char		 helo[SMTP_DOMAIN_MAX + 1];
	bool		 authenticated;
	int64_t		 auth_account;
	char		*auth_user;
	struct auth_sasl *sasl;		/* AUTH exchange in progress */
	bool		 skip_line;	/* discarding an over-long line */
	unsigned	 errors;
	bool		 quit;

	/* The transaction. */
	bool		 in_tx;
	char		 mail_from[SMTP_PATH_MAX + 1];
	bool		 mail_from_owned; /* sender_owned() said yes */
	uint64_t	 declared_size;	/* MAIL FROM SIZE=, 0 if none */
	bool		 smtputf8;	/* MAIL FROM ... SMTPUTF8 */
	int		 ret;		/* DSN RET=, 0 when not given */
	char		*envid;		/* DSN ENVID=, decoded */
	struct smtp_rcpt *rcpts;
	size_t		 nrcpts;
	int64_t		*accounts;	/* local accounts, deduplicated */
	size_t		 naccounts;
	struct smtp_remote *remotes;	/* remote recipients, deduplicated */
	size_t		 nremotes;

	/* DATA or BDAT. */
	bool		 body_started;	/* spool, parser, Received set up */
	struct smtp_data_reader dr;
	struct spool	 spool;
	struct mime_parser *mp;
	bool		 too_big;
	bool		 write_error;
	char		 qid[ID_HEX_LEN + 1];
	uint64_t	 bdat_left;	/* bytes of the current chunk */
	uint64_t	 bdat_chunk;	/* its size, for the reply */
	bool		 bdat_last;
	bool		 bdat_used;	/* this transaction uses BDAT */
	bool		 bdat_discard;	/* the chunk is read, not kept */
	const char	*bdat_error;	/* reply for a discarded chunk */
	bool		 bdat_cr;	/* the last chunk byte was CR */

	/* Port 25: SPF from MAIL on, DKIM and DMARC after the data. */
	struct smtp_checks *checks;
	struct mime_part *root;		/* the parsed message meanwhile */
};

/* A byte range of the spool. */
struct smtp_range {
	uint64_t off, len;
};

enum smtp_verdict_action {
	SMTP_VERDICT_ACCEPT,
	SMTP_VERDICT_JUNK,		/* DMARC quarantine */
	SMTP_VERDICT_REJECT,		/* reply says why */
};

/* What the checks of a message from another server concluded. */
struct smtp_verdict {
	enum smtp_verdict_action action;
	char		 reply[512];	/* REJECT: the whole reply line */
	struct buf	 header;	/* Authentication-Results field(s) */
	struct smtp_range *strip;	/* forged AR fields to remove */
	size_t		 nstrip;
	char		 summary[128];	/* "spf=pass dkim=none dmarc=none" */
};

/* A delivery handed to a worker. */
struct smtp_delivery {
	struct smtp_session *s;
	struct conn	*conn;
	struct spool	 spool;
	struct mime_part *mime;
	int64_t		*accounts;
	size_t		 naccounts;
	struct smtp_remote *remotes;
	size_t		 nremotes;
	struct smtp_rcpt *rcpts;	/* for DSN parameters */
	size_t		 nrcpts;
	char		*envid;
	int		 ret;
	bool		 smtputf8;
	char		 mail_from[SMTP_PATH_MAX + 1];
	char		 qid[ID_HEX_LEN + 1];
	bool		 authenticated;	/* a user's mail: DKIM-sign it */
	struct buf	 prefix;	/* header fields to put first */
	struct smtp_range *strip;	/* spool ranges to leave out */
	size_t		 nstrip;
	bool		 junk;
	char		 summary[128];	/* the checks, for the log */
	int		 rc;
	const char	*error;
};

const char *smtp_hostname(void);
void	 smtp_reply(struct smtp_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Forgets the transaction (RSET, EHLO, STARTTLS, after delivery). */
void	 smtp_tx_reset(struct smtp_session *);
/* Counts a bad command; true when the session was closed for it. */
bool	 smtp_bad_command(struct smtp_session *);
/* Runs the commands (and data) waiting in the input, in order. */
void	 smtp_process(struct smtp_session *);

void	 smtp_cmd_mail(struct smtp_session *, const struct smtp_cmd *);
void	 smtp_cmd_rcpt(struct smtp_session *, const struct smtp_cmd *);
void	 smtp_cmd_data(struct smtp_session *, const struct smtp_cmd *);
void	 smtp_cmd_bdat(struct smtp_session *, const struct smtp_cmd *);
/* In SMTP_DATA: takes what arrived; false when nothing was there. */
bool	 smtp_data_input(struct smtp_session *);
/* In SMTP_BDAT: the same for the bytes of a chunk. */
bool	 smtp_bdat_input(struct smtp_session *);

/* smtp_checks.c: SPF, DKIM, DMARC of mail from other servers. */
bool	 smtp_checks_wanted(const struct smtp_session *);
/* At MAIL: starts SPF of MAIL FROM and HELO. */
struct smtp_checks *smtp_checks_start(const struct smtp_session *);
/*
 * After the data: verifies DKIM, evaluates DMARC and calls done(ctx,
 * verdict) once (maybe at once).  The verdict lives as long as the checks;
 * done may free them.  The spool must stay as it is until then.
 */
void	 smtp_checks_finish(struct smtp_checks *, const struct spool *,
	    void (*done)(void *, struct smtp_verdict *), void *ctx);
void	 smtp_checks_free(struct smtp_checks **);

/*
 * smtp_dkim.c: appends a DKIM-Signature for each key of the From domain
 * (or of the MAIL FROM domain) to out; returns how many.
 */
int	 smtp_dkim_sign(const struct mime_part *, const char *mail_from,
	    const struct spool *, struct buf *out);

#endif
