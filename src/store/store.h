/*
 * store - everything posthorn keeps: domains, accounts, aliases, the outbound
 * queue, and every account's mailboxes and messages.
 *
 * This is the one interface protocol code sees; SQL and the backend type
 * never leak out of src/store/<backend>/ (DESIGN.md "Store").  The sqlite
 * backend keeps data_dir/posthorn.db for the directory and queue, and
 * data_dir/accounts/<id>/mail.db for each account.
 *
 * Threads: every function may be called from any thread.  Handles are cached
 * per thread, so nothing here is shared between threads except files.  The
 * functions are synchronous: callers on an I/O thread may only use the
 * read-only ones that touch a few rows (lookups, status, message metadata);
 * every write and every big scan goes through the worker pool.
 *
 * Errors: -1 with *error_r set to a static string (or one valid until the
 * next store call on this thread).  Functions that look something up return
 * 1 found, 0 not found, -1 error.
 */
#ifndef POSTHORN_STORE_H
#define POSTHORN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "core/spool.h"
#include "core/util.h"

struct store;

/* IMAP system flags as stored; \Recent is per session, never stored. */
#define MAIL_SEEN	0x01
#define MAIL_ANSWERED	0x02
#define MAIL_FLAGGED	0x04
#define MAIL_DELETED	0x08
#define MAIL_DRAFT	0x10
#define MAIL_FLAGS_ALL	0x1f

/* SPECIAL-USE attributes (RFC 6154) of a mailbox. */
#define MBOX_SU_ALL	0x01
#define MBOX_SU_ARCHIVE	0x02
#define MBOX_SU_DRAFTS	0x04
#define MBOX_SU_FLAGGED	0x08
#define MBOX_SU_JUNK	0x10
#define MBOX_SU_SENT	0x20
#define MBOX_SU_TRASH	0x40

/* Longest mailbox name in bytes (UTF-8). */
#define MBOX_NAME_MAX	255

/*
 * Opening and closing.  store_open creates data_dir, data_dir/accounts and
 * data_dir/tmp when missing and applies the numbered schema migrations.
 */
int	 store_open(const char *data_dir, struct store **,
	    const char **error_r);
void	 store_close(struct store **);
const char *store_tmpdir(const struct store *);
/* Closes the calling thread's cached handles (call before a thread exits). */
void	 store_thread_done(struct store *);
/*
 * Hands the calling thread's account connections back to the store's pool
 * of idle ones, for any thread to reuse (worker threads, after each job).
 */
void	 store_thread_release(struct store *);

/*
 * Change notification.  The store calls fn after every committed change to a
 * mailbox (new mail, flags, expunge, rename, delete), from the thread that
 * committed.  Set once at start-up, before any other thread uses the store.
 */
typedef void store_change_fn(void *ctx, int64_t account_id,
    int64_t mailbox_id);
void	 store_set_change_hook(struct store *, store_change_fn *, void *ctx);

/* Domains (names lower-cased by the store). */
int	 store_domain_add(struct store *, const char *, const char **error_r);
int	 store_domain_del(struct store *, const char *, const char **error_r);
int	 store_domain_exists(struct store *, const char *);
int	 store_domain_list(struct store *,
	    void (*cb)(void *, const char *name), void *ctx);

/* Protocols an account may use (switches per account and per domain). */
#define PROTO_IMAP		0x01
#define PROTO_POP3		0x02
#define PROTO_SUBMISSION	0x04
#define PROTO_WEBMAIL		0x08
#define PROTO_ALL		0x0f
#define PROTO_COUNT		4
extern const char *const proto_names[PROTO_COUNT];	/* "imap", ... */

/* Per-domain defaults. */
struct domain_info {
	int64_t	 id;
	char	*name;
	unsigned protocols;	/* PROTO_* allowed by default */
	uint64_t quota;		/* default bytes per account, 0 = none */
	bool	 pop3_keep;	/* POP3 DELE marks \Deleted \Seen only */
};
void	 domain_info_clear(struct domain_info *);
int	 store_domain_get(struct store *, const char *, struct domain_info *);
/* Sets what is given: protocols with mask, quota when >= 0, pop3_keep
 * when >= 0. */
int	 store_domain_set(struct store *, const char *name, unsigned protocols,
	    unsigned mask, int64_t quota, int pop3_keep, const char **error_r);

/* Accounts.  Addresses are stored with the domain lower-cased. */
struct account {
	int64_t	 id;
	char	*address;
	char	*password_hash;
	char	*scram;		/* SCRAM-SHA-256 credentials, or NULL */
	bool	 enabled;
	bool	 receive;	/* mail still accepted while disabled */
	/* Effective settings: the account's own, else its domain's. */
	unsigned protocols;
	uint64_t quota;		/* bytes, 0 = unlimited */
	bool	 pop3_keep;
	/* The account's own values (-1: the domain default applies). */
	int	 own_proto[PROTO_COUNT];
	int64_t	 own_quota;
};
void	 account_clear(struct account *);
int	 store_account_add(struct store *, const char *address,
	    const char *hash, const char *scram, int64_t *id_r,
	    const char **error_r);
int	 store_account_passwd(struct store *, const char *address,
	    const char *hash, const char *scram, const char **error_r);
/*
 * Changes settings: each own_proto[i] >= 0 (0/1) or -2 (back to the domain
 * default); -1 leaves it.  quota: >= 0 bytes, -2 domain default, -1
 * unchanged.  enabled: 0/1 or -1; receive: 0/1 or -1.
 */
struct account_change {
	int	 proto[PROTO_COUNT];
	int64_t	 quota;
	int	 enabled;
	int	 receive;
};
void	 account_change_init(struct account_change *);
int	 store_account_set(struct store *, const char *address,
	    const struct account_change *, const char **error_r);
/* Bytes stored in all mailboxes of the account. */
int	 store_account_usage(struct store *, int64_t account, uint64_t *);

/*
 * App passwords: several named passwords per account for mail programs,
 * each limited to some protocols.  They are generated by us (high
 * entropy), so a salted SHA-256 is enough and checking all of them is
 * fast.
 */
struct app_password {
	int64_t	 id;
	char	*name;
	char	*hash;
	unsigned protocols;
	time_t	 created;
	time_t	 last_used;
};
int	 store_apppass_add(struct store *, const char *address,
	    const char *name, const char *hash, unsigned protocols,
	    const char **error_r);
int	 store_apppass_del(struct store *, const char *address,
	    const char *name, const char **error_r);
/* Calls cb for each app password of the account (by id). */
int	 store_apppass_list(struct store *, int64_t account,
	    void (*cb)(void *, const struct app_password *), void *ctx);
int	 store_apppass_used(struct store *, int64_t id);

/*
 * DKIM signing keys: each domain may have several (say one RSA and one
 * Ed25519), each a selector and a PEM file.  Outgoing mail is signed with
 * every key of its From domain.
 */
struct dkim_key_row {
	const char	*domain;
	const char	*selector;
	const char	*algorithm;	/* "rsa-sha256", "ed25519-sha256" */
	const char	*file;
	time_t		 created;
};
/* The domain must exist; a selector is unique within its domain. */
int	 store_dkim_add(struct store *, const char *domain,
	    const char *selector, const char *algorithm, const char *file,
	    const char **error_r);
/* On success *file_r (malloc'd) is the key's file, for the caller. */
int	 store_dkim_del(struct store *, const char *domain,
	    const char *selector, char **file_r, const char **error_r);
/* Keys of one domain (NULL: all), by domain then selector. */
int	 store_dkim_list(struct store *, const char *domain,
	    void (*cb)(void *, const struct dkim_key_row *), void *ctx);

/*
 * MTA-STS policies of other domains (RFC 8461 5.1), cached by domain: the
 * policy file as fetched, the id of the TXT record it was fetched for,
 * when it was fetched and when it expires (fetched + max_age).  Reading
 * is cheap (one row, any thread); a put is a write (worker pool).
 */
struct sts_cache_row {
	char	*domain;		/* lower case */
	char	*id;
	char	*policy;
	time_t	 fetched;
	time_t	 expires;
};
/* 1 found (free with store_sts_row_free), 0 none, -1 error. */
int	 store_sts_get(struct store *, const char *domain,
	    struct sts_cache_row *);
/* Adds or replaces the domain's policy. */
int	 store_sts_put(struct store *, const struct sts_cache_row *,
	    const char **error_r);
void	 store_sts_row_free(struct sts_cache_row *);

/*
 * A counter that every change of domains, accounts, aliases, DKIM keys or
 * app passwords increases (from any process, e.g. the CLI), so the server can
 * notice and re-check open sessions.
 */
int	 store_directory_generation(struct store *, uint64_t *);

/*
 * A named 32-byte secret of this installation (e.g. what keys fake SCRAM
 * salts), made from random bytes the first time it is asked for and the
 * same for every process and node afterwards.
 */
int	 store_secret(struct store *, const char *name, unsigned char out[32],
	    const char **error_r);
int	 store_account_del(struct store *, const char *address,
	    const char **error_r);
int	 store_account_get(struct store *, const char *address,
	    struct account *);
int	 store_account_get_id(struct store *, int64_t id, struct account *);
int	 store_account_list(struct store *,
	    void (*cb)(void *, const struct account *), void *ctx);

/* Aliases: one address to one or more targets (accounts, other aliases or
 * remote addresses). */
int	 store_alias_add(struct store *, const char *alias,
	    const char *const *targets, size_t ntargets, const char **error_r);
int	 store_alias_del(struct store *, const char *alias,
	    const char **error_r);
int	 store_alias_list(struct store *,
	    void (*cb)(void *, const char *alias, const char *targets),
	    void *ctx);

/*
 * Recipient resolution, following aliases (at most 10 levels, loops cut).
 * Local accounts found are appended to account_ids (duplicates removed);
 * remote addresses to remote (NUL-separated in a buf, count in nremote).
 * Returns 1 when the address resolved to something, 0 when its domain is
 * local but nothing is there (550 5.1.1; rr->disabled tells a disabled
 * account apart: 550 5.2.1), 2 when the domain is not local (a relay
 * request), -1 on error.  Disabled accounts that keep receiving count as
 * found; other disabled accounts reached through an alias are skipped.
 */
struct rcpt_resolution {
	int64_t	*account_ids;
	size_t	 naccounts;
	struct buf remote;
	size_t	 nremote;
	/* A disabled account that refuses mail was met (the address or an
	 * alias target); what decides 550 5.2.1 over 5.1.1 when nothing
	 * else was found. */
	bool	 disabled;
};
/*
 * Characters that start an address extension (user+ext@domain goes to
 * user@domain when no account or alias has the whole address); "" turns
 * extensions off.  The default is "+".
 */
void	 store_set_recipient_delimiter(struct store *, const char *);
void	 rcpt_resolution_init(struct rcpt_resolution *);
void	 rcpt_resolution_free(struct rcpt_resolution *);
int	 store_resolve_rcpt(struct store *, const char *address,
	    struct rcpt_resolution *, const char **error_r);

/*
 * A message as handed to the store: the bytes (spool) and its parsed MIME
 * structure serialized by mime_serialize().
 */
/*
 * A message to store: prefix (header fields added on the way in, such as
 * Authentication-Results or DKIM-Signature; may be empty) followed by the
 * spool.  mime is the serialized MIME tree of the whole message, prefix
 * included (mime_part_shift() moves a tree parsed from the spool alone).
 */
struct store_msg {
	const struct spool *spool;
	const void	*prefix;
	size_t		 prefix_len;
	const void	*mime;
	size_t		 mime_len;
	time_t		 internaldate;
	bool		 junk;		/* store_deliver(): into the \Junk
					   mailbox (INBOX when none) */
};

/* Bytes of the whole message: prefix and spool. */
uint64_t store_msg_size(const struct store_msg *);

/*
 * Durable delivery into the INBOX (or \Junk, msg->junk) of each account.  Returns 0 once every
 * copy is committed to disk (fsync), -1 if any failed (then none of the
 * remaining are attempted; uids_r[i] is 0 for those not delivered).
 * Quotas are not checked here: SMTP checks them at RCPT time, and the
 * message that crosses the limit is let in (a grace of one message, as
 * Dovecot's quota_grace does).
 */
int	 store_deliver(struct store *, const int64_t *account_ids, size_t n,
	    const struct store_msg *, uint32_t *uids_r, const char **error_r);

/*
 * Outbound queue: one message for remote recipients, committed durably.
 * Each recipient has a state: pending (with the time of its next try),
 * sent, or failed; a message leaves the queue when no recipient is
 * pending any more (the caller bounces the failed ones first).
 */
struct queue_params {
	const char	*envid;		/* DSN ENVID (RFC 3461), or NULL */
	int		 ret;		/* 0, 1 = FULL, 2 = HDRS */
	const unsigned	*notify;	/* per recipient (SMTP_NOTIFY_*), NULL */
	const char *const *orcpt;	/* per recipient ORCPT, NULL */
	bool		 smtputf8;	/* needs SMTPUTF8 (RFC 6531) */
};
int	 store_queue_add(struct store *, const char *sender,
	    const char *const *rcpts, size_t nrcpts, const struct store_msg *,
	    const char *id, const struct queue_params *, const char **error_r);
int	 store_queue_count(struct store *, uint64_t *);

enum queue_rcpt_state {
	QRCPT_PENDING = 0,
	QRCPT_SENT = 1,
	QRCPT_FAILED = 2,
};

struct queue_rcpt {
	char		*addr;
	char		*domain;
	enum queue_rcpt_state state;
	unsigned	 attempts;
	time_t		 next_try;
	time_t		 last_try;
	char		*last_error;	/* the remote's reply or our reason */
	char		*remote;	/* the host that answered last */
	unsigned	 notify;
	char		*orcpt;
	bool		 warned;	/* a delay DSN was sent */
	/* A "relayed"/"delivered" DSN is owed: NOTIFY=SUCCESS and the
	 * next hop did not take the DSN request over. */
	bool		 success_dsn;
};

struct queue_msg {
	char		 id[ID_HEX_LEN + 1];
	char		*sender;
	time_t		 created;
	uint64_t	 size;
	char		*envid;
	int		 ret;
	bool		 smtputf8;
	time_t		 expires;	/* when the queue gives up; 0: not
					   known (not stored: from config) */
	struct queue_rcpt *rcpts;
	size_t		 nrcpts;
};
void	 queue_msg_free(struct queue_msg *);

/* One message with the recipients of one destination that are due. */
struct queue_due {
	char		 id[ID_HEX_LEN + 1];
	char		*domain;
};

/*
 * The (message, domain) pairs with pending recipients due at or before
 * now, oldest first, at most max.
 */
int	 store_queue_due(struct store *, time_t now, size_t max,
	    void (*cb)(void *, const struct queue_due *), void *ctx);
/* The earliest next_try of any pending recipient (0 if none). */
int	 store_queue_next_time(struct store *, time_t *);
int	 store_queue_get(struct store *, const char *id, struct queue_msg *);
/* Appends len bytes of the message at off to out. */
int	 store_queue_read(struct store *, const char *id, uint64_t off,
	    size_t len, struct buf *out, const char **error_r);
/* Records the outcome of one try for one recipient. */
int	 store_queue_update(struct store *, const char *id, const char *rcpt,
	    enum queue_rcpt_state, time_t next_try, const char *error,
	    const char *remote, const char **error_r);
int	 store_queue_set_warned(struct store *, const char *id,
	    const char *rcpt);
/* Marks that a success DSN is owed for a sent recipient (relayed to a
 * host without DSN). */
int	 store_queue_set_success_dsn(struct store *, const char *id,
	    const char *rcpt);
/* Makes every pending recipient of id (or of all messages, id NULL) due. */
int	 store_queue_retry(struct store *, const char *id, const char **);
int	 store_queue_delete(struct store *, const char *id, const char **);
/* Every queued message, oldest first. */
int	 store_queue_list(struct store *,
	    void (*cb)(void *, const struct queue_msg *), void *ctx);
/* Called after a commit that added to the queue (the runner wakes up). */
void	 store_set_queue_hook(struct store *, void (*fn)(void *), void *);

/*
 * Mailboxes of one account.
 */
struct mailbox_info {
	int64_t	 id;
	char	 name[MBOX_NAME_MAX + 1];
	unsigned special_use;
	bool	 subscribed;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen;
	uint32_t first_recent_uid;
	uint64_t size;
};

int	 store_mailbox_list(struct store *, int64_t account,
	    void (*cb)(void *, const struct mailbox_info *), void *ctx);
/* Looks a mailbox up by exact name ("INBOX" case-insensitively). */
int	 store_mailbox_get(struct store *, int64_t account, const char *name,
	    struct mailbox_info *);
int	 store_mailbox_get_id(struct store *, int64_t account, int64_t id,
	    struct mailbox_info *);
int	 store_mailbox_create(struct store *, int64_t account,
	    const char *name, unsigned special_use, const char **error_r);
/* Deleting INBOX or a mailbox with children is refused (error_r). */
int	 store_mailbox_delete(struct store *, int64_t account,
	    const char *name, const char **error_r);
/* Renames the mailbox and its children; renaming INBOX moves its messages
 * into the new mailbox and leaves INBOX empty (RFC 3501 6.3.5). */
int	 store_mailbox_rename(struct store *, int64_t account,
	    const char *from, const char *to, const char **error_r);
int	 store_mailbox_subscribe(struct store *, int64_t account,
	    const char *name, bool on, const char **error_r);
/* Names subscribed to (they may not exist). */
int	 store_subscription_list(struct store *, int64_t account,
	    void (*cb)(void *, const char *name), void *ctx);
/*
 * Marks every message with uid >= first_recent_uid as seen by a session:
 * returns the previous first_recent_uid in *first_r and moves it to uidnext
 * (RFC 3501 \Recent: only one session sees a message as recent).
 */
int	 store_mailbox_claim_recent(struct store *, int64_t account,
	    int64_t mailbox, uint32_t *first_r, const char **error_r);
/* How many messages of the mailbox have a uid >= uid.  0 or -1. */
int	 store_mailbox_count_from(struct store *, int64_t account,
	    int64_t mailbox, uint32_t uid, uint32_t *count_r);

/* One message in a mailbox. */
struct mail_row {
	uint32_t uid;
	uint32_t flags;		/* MAIL_* */
	uint64_t modseq;
	uint64_t size;		/* octets of the stored message; 0 except
				   from store_mails_scan_sized() */
	const char *keywords;	/* space separated, NULL or "" for none;
				   valid during the callback only */
};

/*
 * Calls cb for every message with modseq > since (0 = all), in uid order.
 */
int	 store_mails_scan(struct store *, int64_t account, int64_t mailbox,
	    uint64_t since_modseq, void (*cb)(void *, const struct mail_row *),
	    void *ctx, const char **error_r);
/* All messages with their sizes (POP3), in uid order. */
int	 store_mails_scan_sized(struct store *, int64_t account,
	    int64_t mailbox, void (*cb)(void *, const struct mail_row *),
	    void *ctx, const char **error_r);
/* Calls cb for every uid expunged with modseq > since, ascending. */
int	 store_expunged_scan(struct store *, int64_t account, int64_t mailbox,
	    uint64_t since_modseq, void (*cb)(void *, uint32_t uid), void *ctx,
	    const char **error_r);

/* What FETCH and POP3 need of one message. */
struct mail_meta {
	int64_t	 message_id;
	uint64_t size;
	time_t	 internaldate;
	uint32_t flags;
	uint64_t modseq;
	struct buf keywords;
	struct buf mime;	/* serialized MIME structure */
};
void	 mail_meta_init(struct mail_meta *);
void	 mail_meta_free(struct mail_meta *);
int	 store_mail_meta(struct store *, int64_t account, int64_t mailbox,
	    uint32_t uid, bool want_mime, struct mail_meta *);
/*
 * The same for many messages of one mailbox asked for in ascending uid
 * order (SEARCH, SORT): one statement walks the mailbox instead of a
 * lookup per message, and the walk keeps one read snapshot.  get returns
 * 1 with *m filled, 0 if the mailbox has no such uid, -1 on error; a uid
 * below the last one asked for is looked up on its own.  Close it before
 * the worker job ends.
 */
struct store_meta_cursor;
struct store_meta_cursor *store_meta_cursor_open(struct store *,
	    int64_t account, int64_t mailbox, const char **error_r);
int	 store_meta_cursor_get(struct store_meta_cursor *, uint32_t uid,
	    struct mail_meta *);
void	 store_meta_cursor_close(struct store_meta_cursor **);
/* Appends up to len bytes of message_id's body starting at off to out. */
int	 store_body_read(struct store *, int64_t account, int64_t message_id,
	    uint64_t off, size_t len, struct buf *out, const char **error_r);

/*
 * Full-text index for SEARCH BODY and TEXT: per message, the text of its
 * text parts as SEARCH decodes it, case-folded (mime_text_extract() then
 * mime_fold_utf8()), in an index of character trigrams, so a folded
 * needle of STORE_FTS_MIN_CHARS or more characters is found as an exact
 * substring without decoding any message.  SEARCH fills it as it goes
 * (as Dovecot's fts does without autoindex); a message's entry goes
 * with the message.  A message whose text was cut at the extraction
 * limit is recorded as incomplete: SEARCH decodes it every time.
 */
#define STORE_FTS_MIN_CHARS	3

struct store_fts_doc {
	int64_t		 message_id;
	const char	*text;		/* folded UTF-8; NULL if incomplete */
	size_t		 len;
};

/* The messages with an index entry, ascending; complete[i] for each. */
struct store_fts_docs {
	int64_t		*ids;
	bool		*complete;
	size_t		 n;
};
void	 store_fts_docs_free(struct store_fts_docs *);
int	 store_fts_docs(struct store *, int64_t account,
	    struct store_fts_docs *, const char **error_r);
/*
 * The messages whose complete entry contains needle (folded UTF-8 of at
 * least STORE_FTS_MIN_CHARS characters), ascending, in *ids_r (free()).
 */
int	 store_fts_match(struct store *, int64_t account, const char *needle,
	    size_t len, int64_t **ids_r, size_t *n_r, const char **error_r);
/* Adds entries in one transaction; ones already there are kept. */
int	 store_fts_add(struct store *, int64_t account,
	    const struct store_fts_doc *, size_t n, const char **error_r);
/*
 * Up to max messages of the account that the index does not know yet
 * (ascending ids, in *ids_r, free()), with each one's serialized MIME
 * structure appended to mimes[i] (an array of max bufs the caller
 * initialized and frees).
 */
int	 store_fts_todo(struct store *, int64_t account, size_t max,
	    int64_t **ids_r, struct buf *mimes, size_t *n_r,
	    const char **error_r);

/*
 * Seconds an expunged message's body stays readable after its last
 * mailbox entry went, for sessions that are sending it at that moment.
 */
#define STORE_BODY_GRACE	300
/*
 * Deletes the expunged messages whose grace has run out by now, in the
 * accounts where an expunge or mailbox deletion of this process left
 * some (the next expunge in an account purges too, also after a
 * restart).  Returns how many accounts were looked at, -1 on an error
 * (those are tried again later).
 */
int	 store_purge_due(struct store *, time_t now, const char **error_r);

/* Flag changes (STORE). */
enum store_flag_op { FLAGS_SET, FLAGS_ADD, FLAGS_REMOVE };
struct flag_change {
	uint32_t uid;
	uint32_t flags;		/* result */
	uint64_t modseq;	/* result */
	bool	 changed;
	bool	 conflict;	/* modseq > unchangedsince: not touched */
};
#define STORE_UNCONDITIONAL	UINT64_MAX
/*
 * Applies op with flags and keywords (space separated, may be NULL) to every
 * uid in uids (ascending).  Uids that no longer exist are skipped.  Results
 * go to changes (caller allocated, n entries; changed=false when nothing
 * needed to change or the uid is gone).  unchangedsince: STORE_UNCONDITIONAL,
 * or messages with modseq > unchangedsince are not touched and get
 * conflict = true (CONDSTORE; UNCHANGEDSINCE 0 refuses every message).
 */
int	 store_mails_flags(struct store *, int64_t account, int64_t mailbox,
	    const uint32_t *uids, size_t n, enum store_flag_op op,
	    uint32_t flags, const char *keywords, uint64_t unchangedsince,
	    struct flag_change *changes, const char **error_r);

/*
 * Copies (or moves, when move is true) the given uids into dst.  A copy
 * that would take the account past quota (bytes, 0 = none) is refused with
 * STORE_OVERQUOTA; a move within the account never is.  New uids
 * are written to new_uids (n entries, 0 for a uid that was gone), and
 * dst's uidvalidity to *dst_uidvalidity.  src == dst is fine: a move then
 * expunges each uid and adds the message again under a new uid.
 */
int	 store_mails_copy(struct store *, int64_t account, int64_t src,
	    const uint32_t *uids, size_t n, int64_t dst, bool move,
	    uint64_t quota, uint32_t *new_uids, uint32_t *dst_uidvalidity,
	    const char **error_r);

/*
 * Expunges the messages of mailbox that carry \Deleted, limited to uids
 * when uids != NULL (UID EXPUNGE / POP3).  Calls cb with each expunged uid
 * (ascending) after the commit.
 */
int	 store_mails_expunge(struct store *, int64_t account, int64_t mailbox,
	    const uint32_t *uids, size_t n, bool only_deleted,
	    void (*cb)(void *, uint32_t uid), void *ctx, const char **error_r);

/* Returned by store_append and store_mails_copy when the account's quota
 * would be exceeded (IMAP [OVERQUOTA]). */
#define STORE_OVERQUOTA	(-2)
/* Returned by writes (delivery, queue, append, copy) when the disk is
 * full: a temporary condition (SMTP 452 4.3.1). */
#define STORE_NOSPACE	(-3)

/* n messages at once, all or none (IMAP MULTIAPPEND, RFC 3502). */
int	 store_append_many(struct store *, int64_t account, int64_t mailbox,
	    const struct store_msg *, size_t n, const uint32_t *flags,
	    const char *const *keywords, uint64_t quota, uint32_t *uids_r,
	    uint32_t *uidvalidity_r, const char **error_r);
/* APPEND: durable, returns the new uid and the mailbox uidvalidity. */
int	 store_append(struct store *, int64_t account, int64_t mailbox,
	    const struct store_msg *, uint32_t flags, const char *keywords,
	    uint64_t quota, uint32_t *uid_r, uint32_t *uidvalidity_r,
	    const char **error_r);

/* Integrity check of every database (for tests and `posthorn check`). */
int	 store_check(struct store *, struct buf *report);

#endif
