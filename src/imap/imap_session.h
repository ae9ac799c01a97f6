/*
 * imap_session - private to src/imap: the IMAP4rev1 (RFC 3501) session, its
 * command framework and the selected-mailbox view.
 *
 * Framing (imap_session.c): a command is read line by line; a literal at a
 * line end ({N}, {N+}) is read into the command buffer (bounded by
 * imap_line_max, much smaller before login), except the message literal of
 * APPEND, which streams into a spool.  The complete command is parsed by
 * imap_parse_command() and dispatched by the command table below.
 *
 * Running: one command at a time.  A handler answers at once with
 * imap_cmd_done(), or hands work to a worker with imap_cmd_async(), or
 * streams (FETCH) by setting cmd->cont, which is called again whenever the
 * output queue drains.  Input that arrives meanwhile waits in the
 * connection buffer (pipelining).
 *
 * Untagged updates: other sessions' changes reach us through the hub as a
 * "dirty" flag; imap_view_sync() reads the store's change feed and sends
 * EXISTS / FETCH FLAGS / EXPUNGE before the tagged reply of a command, or at
 * once while idling; EXPUNGE waits when the command forbids it (FETCH,
 * STORE, SEARCH without UID: RFC 3501 7.4.1).
 */
#ifndef POSTHORN_IMAP_SESSION_H
#define POSTHORN_IMAP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/spool.h"
#include "imap_parse.h"
#include "imap_seqset.h"

struct conn;
struct hub_sub;
struct mailbox_info;
struct auth_sasl;

enum imap_state {
	IMAP_NOTAUTH,
	IMAP_AUTH,
	IMAP_SELECTED,
	IMAP_LOGOUT,
};

/* Flags of a command table entry. */
#define CMD_NOTAUTH	0x01	/* allowed before login */
#define CMD_AUTH	0x02	/* allowed when authenticated */
#define CMD_SEL		0x04	/* allowed with a mailbox selected */
#define CMD_UID		0x08	/* may follow "UID" */
#define CMD_NO_EXPUNGE	0x10	/* no untagged EXPUNGE (unless UID form) */

struct imap_cmd;
struct imap_session;

struct imap_cmd_def {
	const char	*name;
	void		(*fn)(struct imap_cmd *);
	unsigned	 flags;
};

struct imap_cmd {
	struct imap_session *s;
	const struct imap_cmd_def *def;
	struct imap_cmd_args a;
	/* Message literals of APPEND, in order (spools[i].size bytes). */
	struct spool	*spools;
	size_t		 nspools;
	/* Command-specific state. */
	void		*ctx;
	void		(*ctx_free)(void *);
	/* Streaming: called when the output queue drains. */
	void		(*cont)(struct imap_cmd *);
	/* Async: work runs on a worker, done back on the I/O thread. */
	void		(*work)(struct imap_cmd *);
	void		(*done)(struct imap_cmd *);
};

/* Per-message state in the selected mailbox. */
#define VIEW_RECENT	0x80	/* \Recent for this session (not stored) */
#define VIEW_DROP	0xff	/* marked for imap_view_drop_marked() */

struct imap_view {
	int64_t		 mailbox;
	char		*name;		/* UTF-8 */
	bool		 readonly;	/* EXAMINE */
	bool		 no_recent;	/* IMAP4rev2: \Recent is gone */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 modseq;	/* change feed read up to here */
	uint32_t	*uids;		/* ascending */
	uint8_t		*flags;		/* MAIL_* | VIEW_RECENT */
	uint32_t	*kwhash;	/* 0 = no keywords */
	uint32_t	 count;
	uint32_t	 cap;
	uint32_t	 recent;
	uint32_t	 first_recent;
	/* Expunged in the store, still numbered here until announced. */
	uint32_t	*gone;
	uint32_t	 ngone;
	struct buf	 keywords;	/* known keywords, space separated */
	struct hub_sub	*sub;
	bool		 dirty;
	/* SEARCHRES (RFC 5182): the saved result "$", as ascending uids. */
	uint32_t	*searchres;
	uint32_t	 nsearchres;
};

/* Extensions a client turned on (ENABLE, RFC 5161, or implicitly). */
#define IMAP_EN_CONDSTORE	0x01	/* RFC 7162 */
#define IMAP_EN_QRESYNC		0x02	/* RFC 7162 */
#define IMAP_EN_UTF8		0x04	/* RFC 6855 UTF8=ACCEPT */
#define IMAP_EN_REV2		0x08	/* RFC 9051 */

struct imap_session {
	struct conn	*conn;
	enum imap_state	 state;
	int64_t		 account;
	char		*user;
	unsigned	 bad;
	unsigned	 enabled;	/* IMAP_EN_* */

	/* Framing of the next command. */
	struct buf	 cmdbuf;
	uint64_t	 literal_left;	/* bytes of literal still to read */
	bool		 literal_spool;	/* ...into spools[nspools - 1] */
	struct spool	*spools;
	size_t		 nspools;
	bool		 skip_line;	/* discarding an over-long line */
	bool		 in_process;	/* imap_process() on the stack */

	struct imap_cmd	*cmd;		/* running command */
	struct imap_view *view;

	/* IDLE and AUTHENTICATE continuations. */
	bool		 idling;
	char		*idle_tag;
	struct auth_sasl *sasl;
	char		*auth_tag;
};

/* Responses. */
void	 imap_send(struct imap_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 imap_send_buf(struct imap_session *, const struct buf *);
/*
 * Ends the running command: sends pending untagged updates (EXPUNGE only
 * when the command allows it), then "tag status text".
 */
void	 imap_cmd_done(struct imap_cmd *, const char *status,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Runs work(cmd) on a worker, then done(cmd) here; the conn is held. */
void	 imap_cmd_async(struct imap_cmd *, void (*work)(struct imap_cmd *),
	    void (*done)(struct imap_cmd *));
/*
 * A CONDSTORE enabling command (RFC 7162 3.1) ran: from now on untagged
 * FETCH responses carry UID and MODSEQ; the first time, with a mailbox
 * selected, its HIGHESTMODSEQ is announced.
 */
void	 imap_condstore_enable(struct imap_session *);
/* Writes a VANISHED response (QRESYNC) or the EXPUNGE equivalent. */
void	 imap_write_vanished(struct buf *, bool earlier, const uint32_t *uids,
	    size_t n);
/* The capability list for the current state (without "CAPABILITY"). */
void	 imap_capabilities(struct imap_session *, struct buf *);

/* The account's storage quota in bytes (0 = none), read fresh. */
uint64_t imap_account_quota(struct imap_session *);

/*
 * Mailbox names on the wire <-> stored (UTF-8).  On the wire they are
 * modified UTF-7, or UTF-8 once the session enabled UTF8=ACCEPT (RFC 6855
 * 3) or IMAP4rev2 (RFC 9051 5.1).
 */
#define IMAP_UTF8_NAMES(s)	(((s)->enabled & (IMAP_EN_UTF8 | \
				    IMAP_EN_REV2)) != 0)
int	 imap_mailbox_from_wire(const struct imap_session *, const char *,
	    struct buf *utf8, const char **error_r);
void	 imap_mailbox_to_wire(const struct imap_session *, const char *utf8,
	    struct buf *out);

/* Flags. */
/* Parses a flag list (or single flag) into system flags + keywords. */
int	 imap_parse_flags(const struct imap_arg *, uint32_t *flags,
	    struct buf *keywords, bool allow_recent, const char **error_r);
/* Writes "(\Seen \Answered ... kw)" for a message. */
void	 imap_write_flags(struct buf *, uint32_t flags, bool recent,
	    const char *keywords);
uint32_t imap_keyword_hash(const char *);

/*
 * Resolves a sequence set (or UID set when uid) against the view: sets
 * idx[i] for every existing message (ascending indexes into view arrays).
 * Returns the count (0..view->count); -1 for a syntax error and -2 when a
 * message number is out of range (RFC: BAD).
 */
int	 imap_view_resolve(struct imap_view *, const char *set, bool uid,
	    uint32_t **idx_r);

/*
 * \Recent (imap_recent.c): claims the messages of a mailbox below uidnext
 * for the caller and returns the first uid that is recent for it (those
 * from the returned uid up to uidnext - 1).  stored_first seeds the
 * mailbox's entry from the store the first time.
 */
uint32_t imap_recent_claim(int64_t account, int64_t mailbox,
	    uint32_t stored_first, uint32_t uidnext);
/*
 * The first uid nobody has claimed yet, without claiming: for EXAMINE and
 * STATUS.  stored_first is the store's value, used when no session of this
 * process has claimed anything in the mailbox.
 */
uint32_t imap_recent_peek(int64_t account, int64_t mailbox,
	    uint32_t stored_first);

/* The view (imap_view.c). */
struct imap_view *imap_view_new(const struct mailbox_info *, bool readonly);
/* Loads every message row: worker thread. */
int	 imap_view_load(struct imap_view *, int64_t account,
	    const char **error_r);
void	 imap_view_free(struct imap_view **);

/*
 * Shared snapshots of big mailboxes (imap_snap.c).  imap_snap_load() fills
 * an empty view from its mailbox's snapshot brought up to highestmodseq:
 * 1 if it did, 0 if there is none, -1 on a store error.  imap_snap_put()
 * publishes a freshly loaded view if it is big enough to be worth it.
 */
/*
 * The store's change feed of a mailbox since a modseq, read at once:
 * every mail changed since (its whole state, keywords copied) and every
 * uid expunged since, ascending.
 */
struct imap_changes {
	struct mail_row	*rows;
	char		**kws;
	size_t		 nrows;
	uint32_t	*expunged;
	size_t		 nexpunged;
};
int	 imap_changes_read(int64_t account, int64_t mailbox, uint64_t since,
	    struct imap_changes *, const char **error_r);
void	 imap_changes_free(struct imap_changes *);
/* Removes the messages whose flags were set to VIEW_DROP, in order. */
void	 imap_view_drop_marked(struct imap_view *);
/* Where uid is in the view, or would be; *found says if it is. */
uint32_t imap_view_index(const struct imap_view *, uint32_t uid,
	    bool *found);

int	 imap_snap_load(struct imap_view *, int64_t account,
	    uint64_t highestmodseq, const char **error_r);
void	 imap_snap_put(const struct imap_view *, int64_t account);
void	 imap_snap_stats(size_t *count_r, size_t *bytes_r);
/* Marks the messages this session is the first to see as \Recent. */
void	 imap_view_claim_recent(struct imap_view *, int64_t account,
	    uint32_t stored_first);
/* Starts watching for changes (I/O thread, after load). */
void	 imap_view_watch(struct imap_session *);
/*
 * Sends untagged updates for changes since the last sync.  Expunges are
 * announced only when allow_expunge; otherwise they stay pending.
 */
void	 imap_view_sync(struct imap_session *, bool allow_expunge);
/* 1-based sequence number of uid, or 0. */
uint32_t imap_view_seq(const struct imap_view *, uint32_t uid);
/* Learns keywords so FLAGS/PERMANENTFLAGS show them; true if one was new. */
bool	 imap_view_add_keywords(struct imap_view *, const char *);
/* Appends "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" for the view. */
void	 imap_view_write_flags(const struct imap_view *, struct buf *);
/*
 * Learns keywords (space separated, may be NULL); when one is new, sends
 * FLAGS and PERMANENTFLAGS at once, so that they precede any FETCH that
 * shows it (RFC 3501 7.2.6).
 */
void	 imap_view_learn_keywords(struct imap_session *, const char *);
/* True when the message at idx was expunged but is still numbered. */
bool	 imap_view_is_gone(const struct imap_view *, uint32_t idx);

/* Commands (cmd_*.c). */
void	 cmd_capability(struct imap_cmd *);
void	 cmd_enable(struct imap_cmd *);
void	 cmd_compress(struct imap_cmd *);
void	 cmd_noop(struct imap_cmd *);
void	 cmd_logout(struct imap_cmd *);
void	 cmd_starttls(struct imap_cmd *);
void	 cmd_login(struct imap_cmd *);
void	 cmd_authenticate(struct imap_cmd *);
void	 cmd_id(struct imap_cmd *);
void	 cmd_namespace(struct imap_cmd *);
void	 cmd_select(struct imap_cmd *);
void	 cmd_create(struct imap_cmd *);
void	 cmd_delete(struct imap_cmd *);
void	 cmd_rename(struct imap_cmd *);
void	 cmd_subscribe(struct imap_cmd *);
void	 cmd_list(struct imap_cmd *);
void	 cmd_status(struct imap_cmd *);
void	 cmd_append(struct imap_cmd *);
void	 cmd_check(struct imap_cmd *);
void	 cmd_close(struct imap_cmd *);
void	 cmd_expunge(struct imap_cmd *);
void	 cmd_search(struct imap_cmd *);
void	 cmd_sort(struct imap_cmd *);	/* SORT and THREAD */
void	 cmd_fetch(struct imap_cmd *);
void	 cmd_store(struct imap_cmd *);
void	 cmd_copy(struct imap_cmd *);
void	 cmd_idle(struct imap_cmd *);
void	 cmd_getquotaroot(struct imap_cmd *);
void	 cmd_getquota(struct imap_cmd *);
void	 cmd_setquota(struct imap_cmd *);

/* AUTHENTICATE continuation lines and IDLE's DONE (cmd_auth.c/cmd_idle). */
void	 imap_auth_continue(struct imap_session *, const char *, size_t);
void	 imap_idle_line(struct imap_session *, const char *, size_t);
void	 imap_session_login_done(struct imap_session *, int64_t account,
	    const char *user);

#endif
