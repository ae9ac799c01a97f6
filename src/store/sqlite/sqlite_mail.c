/*
 * sqlite_mail - one account's mailboxes and messages in
 * data_dir/accounts/<id>/mail.db.
 *
 * A message body is stored once (messages + bodies, reference counted) and
 * never changes; a mailbox entry (mails) points at it with its uid, flags,
 * keywords and modification sequence.  Every change of a mailbox takes the
 * next modseq of that mailbox; expunged uids leave a tombstone (expunged) so
 * other sessions, and later QRESYNC, can learn what went away.  The
 * mailboxes row carries counters (messages, unseen, size) that every change
 * keeps exact, so STATUS never scans.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "sqlite_int.h"

#define MBOX_COLS "id, name, uidvalidity, uidnext, highestmodseq, " \
	"first_recent_uid, special_use, messages, unseen, size, " \
	"EXISTS (SELECT 1 FROM subscriptions s WHERE s.name = mailboxes.name)"

static void
mbox_from_row(sqlite3_stmt *st, struct mailbox_info *mi)
{
	const char *name = (const char *)sqlite3_column_text(st, 1);

	memset(mi, 0, sizeof(*mi));
	mi->id = sqlite3_column_int64(st, 0);
	snprintf(mi->name, sizeof(mi->name), "%s", name ? name : "");
	mi->uidvalidity = (uint32_t)sqlite3_column_int64(st, 2);
	mi->uidnext = (uint32_t)sqlite3_column_int64(st, 3);
	mi->highestmodseq = (uint64_t)sqlite3_column_int64(st, 4);
	mi->first_recent_uid = (uint32_t)sqlite3_column_int64(st, 5);
	mi->special_use = (unsigned)sqlite3_column_int(st, 6);
	mi->messages = (uint32_t)sqlite3_column_int64(st, 7);
	mi->unseen = (uint32_t)sqlite3_column_int64(st, 8);
	mi->size = (uint64_t)sqlite3_column_int64(st, 9);
	mi->subscribed = sqlite3_column_int(st, 10) != 0;
}

int
store_mailbox_list(struct store *s, int64_t account,
    void (*cb)(void *, const struct mailbox_info *), void *ctx)
{
	struct mailbox_info *list = NULL;
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	size_t n = 0;
	int r;

	if ((db = sq_acct(s, account, &err)) == NULL ||
	    (st = db_prep(db, "SELECT " MBOX_COLS " FROM mailboxes ORDER BY "
	    "name = 'INBOX' DESC, name", &err)) == NULL)
		return -1;
	/* Collect first: the callback may use the store. */
	while ((r = db_step(st)) == 1) {
		list = xgrowarray(list, n, sizeof(*list));
		mbox_from_row(st, &list[n++]);
	}
	sqlite3_reset(st);
	for (size_t i = 0; r == 0 && i < n; i++)
		cb(ctx, &list[i]);
	free(list);
	return r < 0 ? -1 : 0;
}

int
store_mailbox_get(struct store *s, int64_t account, const char *name,
    struct mailbox_info *mi)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_acct(s, account, &err)) == NULL)
		return -1;
	if (strcasecmp(name, "INBOX") == 0)
		name = "INBOX";
	if ((st = db_prep(db, "SELECT " MBOX_COLS " FROM mailboxes WHERE "
	    "name = ?", &err)) == NULL)
		return -1;
	db_bind_text(st, 1, name);
	r = db_step(st);
	if (r == 1)
		mbox_from_row(st, mi);
	sqlite3_reset(st);
	return r;
}

int
store_mailbox_get_id(struct store *s, int64_t account, int64_t id,
    struct mailbox_info *mi)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_acct(s, account, &err)) == NULL ||
	    (st = db_prep(db, "SELECT " MBOX_COLS " FROM mailboxes WHERE "
	    "id = ?", &err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	r = db_step(st);
	if (r == 1)
		mbox_from_row(st, mi);
	sqlite3_reset(st);
	return r;
}

int
store_mailbox_count_from(struct store *s, int64_t account, int64_t mailbox,
    uint32_t uid, uint32_t *count_r)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	*count_r = 0;
	if ((db = sq_acct(s, account, &err)) == NULL ||
	    (st = db_prep(db, "SELECT COUNT(*) FROM mails WHERE "
	    "mailbox_id = ? AND uid >= ?", &err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox);
	sqlite3_bind_int64(st, 2, uid);
	r = db_step(st);
	if (r == 1)
		*count_r = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return r < 0 ? -1 : 0;
}

static int
next_uidvalidity(struct db *db, uint32_t *uv, const char **error_r)
{
	sqlite3_stmt *st;
	int64_t last = 0, now = (int64_t)time(NULL);

	if ((st = db_prep(db, "SELECT value FROM meta WHERE key = "
	    "'last_uidvalidity'", error_r)) == NULL)
		return -1;
	if (db_step(st) == 1)
		last = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (now <= last)
		now = last + 1;
	if (now > 0xffffffffLL)
		now = 1;
	if ((st = db_prep(db, "INSERT OR REPLACE INTO meta (key, value) "
	    "VALUES ('last_uidvalidity', ?)", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "uidvalidity");
		return -1;
	}
	*uv = (uint32_t)now;
	return 0;
}

static int
mbox_exists(struct db *db, const char *name, const char **error_r)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_prep(db, "SELECT 1 FROM mailboxes WHERE name = ?",
	    error_r)) == NULL)
		return -1;
	db_bind_text(st, 1, name);
	r = db_step(st);
	sqlite3_reset(st);
	if (r < 0)
		*error_r = db_err(db, "mailbox lookup");
	return r;
}

static int
mbox_insert(struct db *db, const char *name, unsigned su,
    const char **error_r)
{
	sqlite3_stmt *st;
	uint32_t uv;

	if (next_uidvalidity(db, &uv, error_r) < 0)
		return -1;
	if ((st = db_prep(db, "INSERT INTO mailboxes (name, uidvalidity, "
	    "special_use) VALUES (?, ?, ?)", error_r)) == NULL)
		return -1;
	db_bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, uv);
	sqlite3_bind_int(st, 3, (int)su);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "creating mailbox");
		return -1;
	}
	return 0;
}

int
store_mailbox_create(struct store *s, int64_t account, const char *name,
    unsigned su, const char **error_r)
{
	struct db *db;
	char *copy;
	int r;

	if (strcasecmp(name, "INBOX") == 0) {
		*error_r = "INBOX exists already";
		return -1;
	}
	if ((db = sq_acct(s, account, error_r)) == NULL ||
	    db_begin(db, error_r) < 0)
		return -1;
	if ((r = mbox_exists(db, name, error_r)) != 0) {
		if (r > 0)
			*error_r = "Mailbox exists already";
		db_rollback(db);
		return -1;
	}
	/* Create missing superiors ("a/b/c" needs "a" and "a/b"). */
	copy = xstrdup(name);
	for (char *p = strchr(copy, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		r = mbox_exists(db, copy, error_r);
		if (r == 0 && strcasecmp(copy, "INBOX") != 0)
			r = mbox_insert(db, copy, 0, error_r);
		*p = '/';
		if (r < 0) {
			free(copy);
			db_rollback(db);
			return -1;
		}
	}
	free(copy);
	if (mbox_insert(db, name, su, error_r) < 0) {
		db_rollback(db);
		return -1;
	}
	return db_commit(db, error_r);
}

/*
 * Drops one reference to a message.  When none are left, its full-text
 * entry goes at once, but the message and its body stay STORE_BODY_GRACE
 * seconds longer: another session may have started to send it (a FETCH
 * promises a literal's length before it reads the body) and must be able
 * to finish.  msg_purge() deletes them afterwards.
 */
static int
msg_unref(struct db *db, int64_t message_id, const char **error_r)
{
	sqlite3_stmt *st;

	if ((st = db_prep(db, "UPDATE messages SET refs = refs - 1 WHERE "
	    "id = ?", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, message_id);
	if (db_step(st) < 0)
		goto fail;
	if ((st = db_prep(db, "UPDATE messages SET gone_at = ? WHERE id = ? "
	    "AND refs <= 0 AND gone_at IS NULL", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 2, message_id);
	if (db_step(st) < 0)
		goto fail;
	if (sqlite3_changes(db->h) > 0) {
		/* Its full-text entry, if it has one, goes now. */
		if ((st = db_prep(db, "DELETE FROM fts_docs WHERE id = ?",
		    error_r)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, message_id);
		if (db_step(st) < 0)
			goto fail;
		if (sqlite3_changes(db->h) > 0) {
			if ((st = db_prep(db, "DELETE FROM fts WHERE rowid = ?",
			    error_r)) == NULL)
				return -1;
			sqlite3_bind_int64(st, 1, message_id);
			if (db_step(st) < 0)
				goto fail;
		}
	}
	return 0;
fail:
	*error_r = db_err(db, "message unref");
	return -1;
}

/* Deletes the messages unreferenced for longer than STORE_BODY_GRACE. */
static int
msg_purge(struct db *db, time_t now, const char **error_r)
{
	int64_t before = (int64_t)now - STORE_BODY_GRACE;
	sqlite3_stmt *st;

	if ((st = db_prep(db, "DELETE FROM bodies WHERE id IN (SELECT id "
	    "FROM messages WHERE gone_at <= ?)", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, before);
	if (db_step(st) < 0)
		goto fail;
	if ((st = db_prep(db, "DELETE FROM messages WHERE gone_at <= ?",
	    error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, before);
	if (db_step(st) < 0)
		goto fail;
	return 0;
fail:
	*error_r = db_err(db, "purging expunged messages");
	return -1;
}

void
sq_purge_later(struct store *s, int64_t account, int64_t due)
{
	size_t i;

	pthread_mutex_lock(&s->purge_mtx);
	for (i = 0; i < s->npurge; i++)
		if (s->purge[i].account == account)
			break;
	if (i == s->npurge) {
		s->purge = xgrowarray(s->purge, s->npurge,
		    sizeof(*s->purge));
		s->purge[s->npurge].account = account;
		s->purge[s->npurge++].due = due;
	} else if (due < s->purge[i].due)
		s->purge[i].due = due;
	pthread_mutex_unlock(&s->purge_mtx);
}

/* Purges one account; 1 with the time the next purge is due, 0, -1. */
static int
purge_account(struct store *s, int64_t account, time_t now, int64_t *next_r,
    const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_acct(s, account, error_r)) == NULL ||
	    db_begin(db, error_r) < 0)
		return -1;
	if (msg_purge(db, now, error_r) < 0) {
		db_rollback(db);
		return -1;
	}
	if ((st = db_prep(db, "SELECT min(gone_at) FROM messages WHERE "
	    "gone_at IS NOT NULL", error_r)) == NULL) {
		db_rollback(db);
		return -1;
	}
	r = db_step(st);
	*next_r = r == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL ?
	    sqlite3_column_int64(st, 0) + STORE_BODY_GRACE : 0;
	sqlite3_reset(st);
	if (r < 0) {
		*error_r = db_err(db, "purge");
		db_rollback(db);
		return -1;
	}
	if (db_commit(db, error_r) < 0)
		return -1;
	return *next_r != 0;
}

int
store_purge_due(struct store *s, time_t now, const char **error_r)
{
	int64_t *due = NULL;
	size_t n = 0, k = 0;
	int rc = 0;

	pthread_mutex_lock(&s->purge_mtx);
	for (size_t i = 0; i < s->npurge; i++) {
		if (s->purge[i].due <= (int64_t)now) {
			due = xgrowarray(due, n, sizeof(*due));
			due[n++] = s->purge[i].account;
		} else
			s->purge[k++] = s->purge[i];
	}
	s->npurge = k;
	pthread_mutex_unlock(&s->purge_mtx);
	for (size_t i = 0; i < n; i++) {
		int64_t next = 0;
		int r = purge_account(s, due[i], now, &next, error_r);

		if (r < 0) {
			/* Try again later; a deleted account has nothing. */
			sq_purge_later(s, due[i], (int64_t)now +
			    STORE_BODY_GRACE);
			rc = -1;
		} else if (r == 1)
			sq_purge_later(s, due[i], next);
	}
	free(due);
	return rc < 0 ? -1 : (int)n;
}

int
store_mailbox_delete(struct store *s, int64_t account, const char *name,
    const char **error_r)
{
	struct mailbox_info mi;
	struct db *db;
	sqlite3_stmt *st;
	char *pattern;
	int64_t *ids = NULL;
	size_t n = 0;
	int r;

	if (strcasecmp(name, "INBOX") == 0) {
		*error_r = "INBOX can't be deleted";
		return -1;
	}
	if ((db = sq_acct(s, account, error_r)) == NULL)
		return -1;
	if ((r = store_mailbox_get(s, account, name, &mi)) <= 0) {
		*error_r = r == 0 ? "Mailbox doesn't exist" :
		    "mailbox lookup failed";
		return -1;
	}
	if (db_begin(db, error_r) < 0)
		return -1;
	if ((st = db_prep(db, "SELECT 1 FROM mailboxes WHERE substr(name, 1, "
	    "?2) = ?1 LIMIT 1", error_r)) == NULL)
		goto fail;
	pattern = xasprintf("%s/", name);
	db_bind_text(st, 1, pattern);
	sqlite3_bind_int(st, 2, (int)strlen(pattern));
	free(pattern);
	r = db_step(st);
	sqlite3_reset(st);
	if (r != 0) {
		*error_r = r > 0 ? "Mailbox has children, delete them first" :
		    db_err(db, "child lookup");
		goto fail;
	}
	if ((st = db_prep(db, "SELECT message_id FROM mails WHERE "
	    "mailbox_id = ?", error_r)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, mi.id);
	while ((r = db_step(st)) == 1) {
		ids = xgrowarray(ids, n, sizeof(*ids));
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (r < 0) {
		*error_r = db_err(db, "listing messages");
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		if (msg_unref(db, ids[i], error_r) < 0)
			goto fail;
	if (msg_purge(db, time(NULL), error_r) < 0)
		goto fail;
	if ((st = db_prep(db, "DELETE FROM mails WHERE mailbox_id = ?",
	    error_r)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, mi.id);
	if (db_step(st) < 0)
		goto dberr;
	if ((st = db_prep(db, "DELETE FROM expunged WHERE mailbox_id = ?",
	    error_r)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, mi.id);
	if (db_step(st) < 0)
		goto dberr;
	if ((st = db_prep(db, "DELETE FROM mailboxes WHERE id = ?",
	    error_r)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, mi.id);
	if (db_step(st) < 0)
		goto dberr;
	free(ids);
	if (db_commit(db, error_r) < 0)
		return -1;
	if (n > 0)
		sq_purge_later(s, account, (int64_t)time(NULL) +
		    STORE_BODY_GRACE);
	sq_changed(s, account, mi.id);
	return 0;
dberr:
	*error_r = db_err(db, "deleting mailbox");
fail:
	free(ids);
	db_rollback(db);
	return -1;
}

/* Moves every message of src to dst inside an open transaction. */
static int move_all(struct store *, struct db *, int64_t src, int64_t dst,
    const char **error_r);

int
store_mailbox_rename(struct store *s, int64_t account, const char *from,
    const char *to, const char **error_r)
{
	struct mailbox_info mi;
	struct db *db;
	sqlite3_stmt *st;
	char *copy;
	int r;

	if (strcasecmp(to, "INBOX") == 0) {
		*error_r = "Mailbox exists already";
		return -1;
	}
	if ((db = sq_acct(s, account, error_r)) == NULL)
		return -1;
	if ((r = store_mailbox_get(s, account, from, &mi)) <= 0) {
		*error_r = r == 0 ? "Mailbox doesn't exist" :
		    "mailbox lookup failed";
		return -1;
	}
	if (db_begin(db, error_r) < 0)
		return -1;
	if ((r = mbox_exists(db, to, error_r)) != 0) {
		if (r > 0)
			*error_r = "Mailbox exists already";
		goto fail;
	}
	if (strncmp(to, mi.name, strlen(mi.name)) == 0 &&
	    to[strlen(mi.name)] == '/') {
		*error_r = "Can't rename a mailbox under itself";
		goto fail;
	}
	/* Superiors of the new name. */
	copy = xstrdup(to);
	for (char *p = strchr(copy, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		r = mbox_exists(db, copy, error_r);
		if (r == 0 && strcasecmp(copy, "INBOX") != 0)
			r = mbox_insert(db, copy, 0, error_r);
		*p = '/';
		if (r < 0) {
			free(copy);
			goto fail;
		}
	}
	free(copy);
	if (strcmp(mi.name, "INBOX") == 0) {
		struct mailbox_info dst;

		if (mbox_insert(db, to, 0, error_r) < 0)
			goto fail;
		if ((st = db_prep(db, "SELECT " MBOX_COLS " FROM mailboxes "
		    "WHERE name = ?", error_r)) == NULL)
			goto fail;
		db_bind_text(st, 1, to);
		if (db_step(st) != 1) {
			sqlite3_reset(st);
			*error_r = db_err(db, "rename");
			goto fail;
		}
		memset(&dst, 0, sizeof(dst));
		dst.id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (move_all(s, db, mi.id, dst.id, error_r) < 0)
			goto fail;
		if (db_commit(db, error_r) < 0)
			return -1;
		sq_changed(s, account, mi.id);
		return 0;
	}
	/* The mailbox itself and every child keep their uidvalidity. */
	if ((st = db_prep(db, "UPDATE mailboxes SET name = ?2 || substr(name, "
	    "?3) WHERE name = ?1 OR substr(name, 1, ?3) = ?1 || '/'",
	    error_r)) == NULL)
		goto fail;
	db_bind_text(st, 1, mi.name);
	db_bind_text(st, 2, to);
	sqlite3_bind_int(st, 3, (int)strlen(mi.name) + 1);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "rename");
		goto fail;
	}
	if ((st = db_prep(db, "UPDATE OR REPLACE subscriptions SET name = ?2 "
	    "|| substr(name, ?3) WHERE name = ?1 OR substr(name, 1, ?3) = "
	    "?1 || '/'", error_r)) == NULL)
		goto fail;
	db_bind_text(st, 1, mi.name);
	db_bind_text(st, 2, to);
	sqlite3_bind_int(st, 3, (int)strlen(mi.name) + 1);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "rename subscriptions");
		goto fail;
	}
	if (db_commit(db, error_r) < 0)
		return -1;
	sq_changed(s, account, mi.id);
	return 0;
fail:
	db_rollback(db);
	return -1;
}

int
store_mailbox_subscribe(struct store *s, int64_t account, const char *name,
    bool on, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;

	if (strcasecmp(name, "INBOX") == 0)
		name = "INBOX";
	if ((db = sq_acct(s, account, error_r)) == NULL)
		return -1;
	st = on ? db_prep(db, "INSERT OR IGNORE INTO subscriptions (name) "
	    "VALUES (?)", error_r) : db_prep(db, "DELETE FROM subscriptions "
	    "WHERE name = ?", error_r);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, name);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "subscription");
		return -1;
	}
	return 0;
}

int
store_subscription_list(struct store *s, int64_t account,
    void (*cb)(void *, const char *), void *ctx)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_acct(s, account, &err)) == NULL ||
	    (st = db_prep(db, "SELECT name FROM subscriptions ORDER BY "
	    "name = 'INBOX' DESC, name", &err)) == NULL)
		return -1;
	while ((r = db_step(st)) == 1)
		cb(ctx, (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return r < 0 ? -1 : 0;
}

int
store_mailbox_claim_recent(struct store *s, int64_t account, int64_t mailbox,
    uint32_t *first_r, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_acct(s, account, error_r)) == NULL ||
	    db_begin(db, error_r) < 0)
		return -1;
	if ((st = db_prep(db, "SELECT first_recent_uid FROM mailboxes WHERE "
	    "id = ?", error_r)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, mailbox);
	r = db_step(st);
	if (r == 1)
		*first_r = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (r != 1) {
		*error_r = r == 0 ? "Mailbox doesn't exist" :
		    db_err(db, "recent");
		goto fail;
	}
	if ((st = db_prep(db, "UPDATE mailboxes SET first_recent_uid = "
	    "uidnext WHERE id = ?", error_r)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, mailbox);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "recent");
		goto fail;
	}
	return db_commit(db, error_r);
fail:
	db_rollback(db);
	return -1;
}

static int
usage_locked(struct db *db, uint64_t *out, const char **error_r)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_prep(db, "SELECT coalesce(sum(size), 0) FROM mailboxes",
	    error_r)) == NULL)
		return -1;
	if ((r = db_step(st)) == 1)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (r != 1) {
		*error_r = db_err(db, "usage");
		return -1;
	}
	return 0;
}

int
store_account_usage(struct store *s, int64_t account, uint64_t *out)
{
	const char *err;
	struct db *db;

	if ((db = sq_acct(s, account, &err)) == NULL)
		return -1;
	return usage_locked(db, out, &err);
}

/*
 * The size needs the message's row: a lookup per mail that SELECT and the
 * change feed do without.
 */
static int
mails_scan(struct store *s, int64_t account, int64_t mailbox, uint64_t since,
    bool sizes, void (*cb)(void *, const struct mail_row *), void *ctx,
    const char **error_r)
{
	static const char *const sql[2][2] = {
		{ "SELECT uid, flags, modseq, keywords, 0 FROM mails "
		  "WHERE mailbox_id = ? ORDER BY uid",
		  "SELECT uid, flags, modseq, keywords, 0 FROM mails "
		  "WHERE mailbox_id = ? AND modseq > ? ORDER BY uid" },
		{ "SELECT m.uid, m.flags, m.modseq, m.keywords, g.size "
		  "FROM mails m JOIN messages g ON g.id = m.message_id "
		  "WHERE m.mailbox_id = ? ORDER BY m.uid",
		  "SELECT m.uid, m.flags, m.modseq, m.keywords, g.size "
		  "FROM mails m JOIN messages g ON g.id = m.message_id "
		  "WHERE m.mailbox_id = ? AND m.modseq > ? ORDER BY m.uid" },
	};
	struct db *db;
	sqlite3_stmt *st;
	struct mail_row row;
	int r;

	if ((db = sq_acct(s, account, error_r)) == NULL ||
	    (st = db_prep(db, sql[sizes][since != 0], error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox);
	if (since != 0)
		sqlite3_bind_int64(st, 2, (int64_t)since);
	while ((r = db_step(st)) == 1) {
		row.uid = (uint32_t)sqlite3_column_int64(st, 0);
		row.flags = (uint32_t)sqlite3_column_int(st, 1);
		row.modseq = (uint64_t)sqlite3_column_int64(st, 2);
		row.keywords = (const char *)sqlite3_column_text(st, 3);
		row.size = (uint64_t)sqlite3_column_int64(st, 4);
		cb(ctx, &row);
	}
	sqlite3_reset(st);
	if (r < 0) {
		*error_r = db_err(db, "scanning mailbox");
		return -1;
	}
	return 0;
}

int
store_mails_scan(struct store *s, int64_t account, int64_t mailbox,
    uint64_t since, void (*cb)(void *, const struct mail_row *), void *ctx,
    const char **error_r)
{
	return mails_scan(s, account, mailbox, since, false, cb, ctx, error_r);
}

int
store_mails_scan_sized(struct store *s, int64_t account, int64_t mailbox,
    void (*cb)(void *, const struct mail_row *), void *ctx,
    const char **error_r)
{
	return mails_scan(s, account, mailbox, 0, true, cb, ctx, error_r);
}

int
store_expunged_scan(struct store *s, int64_t account, int64_t mailbox,
    uint64_t since, void (*cb)(void *, uint32_t), void *ctx,
    const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_acct(s, account, error_r)) == NULL ||
	    (st = db_prep(db, "SELECT uid FROM expunged WHERE mailbox_id = ? "
	    "AND modseq > ? ORDER BY uid", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox);
	sqlite3_bind_int64(st, 2, (int64_t)since);
	while ((r = db_step(st)) == 1)
		cb(ctx, (uint32_t)sqlite3_column_int64(st, 0));
	sqlite3_reset(st);
	if (r < 0) {
		*error_r = db_err(db, "scanning expunges");
		return -1;
	}
	return 0;
}

void
mail_meta_init(struct mail_meta *m)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->keywords);
	buf_init(&m->mime);
}

void
mail_meta_free(struct mail_meta *m)
{
	buf_free(&m->keywords);
	buf_free(&m->mime);
}

/*
 * Columns from col on: message_id, size, internaldate, flags, modseq,
 * keywords[, mime].
 */
static void
meta_from_row(sqlite3_stmt *st, int col, bool want_mime, struct mail_meta *m)
{
	const char *kw = (const char *)sqlite3_column_text(st, col + 5);

	m->message_id = sqlite3_column_int64(st, col);
	m->size = (uint64_t)sqlite3_column_int64(st, col + 1);
	m->internaldate = (time_t)sqlite3_column_int64(st, col + 2);
	m->flags = (uint32_t)sqlite3_column_int(st, col + 3);
	m->modseq = (uint64_t)sqlite3_column_int64(st, col + 4);
	buf_reset(&m->keywords);
	if (kw != NULL)
		buf_puts(&m->keywords, kw);
	buf_reset(&m->mime);
	if (want_mime)
		buf_append(&m->mime, sqlite3_column_blob(st, col + 6),
		    (size_t)sqlite3_column_bytes(st, col + 6));
}

int
store_mail_meta(struct store *s, int64_t account, int64_t mailbox,
    uint32_t uid, bool want_mime, struct mail_meta *m)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_acct(s, account, &err)) == NULL)
		return -1;
	if (want_mime)
		st = db_prep(db, "SELECT m.message_id, g.size, g.internaldate, "
		    "m.flags, m.modseq, m.keywords, g.mime FROM mails m JOIN "
		    "messages g ON g.id = m.message_id WHERE m.mailbox_id = ? "
		    "AND m.uid = ?", &err);
	else
		st = db_prep(db, "SELECT m.message_id, g.size, g.internaldate, "
		    "m.flags, m.modseq, m.keywords FROM mails m JOIN "
		    "messages g ON g.id = m.message_id WHERE m.mailbox_id = ? "
		    "AND m.uid = ?", &err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox);
	sqlite3_bind_int64(st, 2, uid);
	if ((r = db_step(st)) == 1)
		meta_from_row(st, 0, want_mime, m);
	sqlite3_reset(st);
	return r;
}

/* Rows this far ahead of the cursor are sought, not stepped to. */
#define CURSOR_SKIP	64

struct store_meta_cursor {
	struct store	*store;
	struct db	*db;
	int64_t		 account;
	int64_t		 mailbox;
	sqlite3_stmt	*st;		/* own: the statement cache may reuse */
	bool		 started;
	bool		 on_row;	/* st holds a row, of uid cur */
	uint32_t	 cur;		/* else: no row at or after cur */
};

struct store_meta_cursor *
store_meta_cursor_open(struct store *s, int64_t account, int64_t mailbox,
    const char **error_r)
{
	struct store_meta_cursor *c;
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_acct(s, account, error_r)) == NULL)
		return NULL;
	if (sqlite3_prepare_v3(db->h, "SELECT m.uid, m.message_id, g.size, "
	    "g.internaldate, m.flags, m.modseq, m.keywords, g.mime FROM mails "
	    "m JOIN messages g ON g.id = m.message_id WHERE m.mailbox_id = ? "
	    "AND m.uid >= ? ORDER BY m.uid", -1, 0, &st, NULL) != SQLITE_OK) {
		*error_r = db_err(db, "prepare");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->store = s;
	c->db = db;
	c->account = account;
	c->mailbox = mailbox;
	c->st = st;
	return c;
}

static int
cursor_step(struct store_meta_cursor *c)
{
	int r = db_step(c->st);

	c->on_row = r == 1;
	if (r == 1)
		c->cur = (uint32_t)sqlite3_column_int64(c->st, 0);
	return r;
}

int
store_meta_cursor_get(struct store_meta_cursor *c, uint32_t uid,
    struct mail_meta *m)
{
	sqlite3_stmt *st = c->st;

	if (c->started && uid < c->cur)
		return store_mail_meta(c->store, c->account, c->mailbox, uid,
		    true, m);
	if (!c->started || (c->on_row && uid > c->cur + CURSOR_SKIP)) {
		/* (Re)start at uid. */
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, c->mailbox);
		sqlite3_bind_int64(st, 2, uid);
		c->started = true;
		c->cur = uid;
		if (cursor_step(c) < 0)
			return -1;
	}
	while (c->on_row && c->cur < uid)
		if (cursor_step(c) < 0)
			return -1;
	if (!c->on_row || c->cur != uid)
		return 0;
	meta_from_row(st, 1, true, m);
	return 1;
}

void
store_meta_cursor_close(struct store_meta_cursor **cp)
{
	struct store_meta_cursor *c = *cp;

	if (c == NULL)
		return;
	sqlite3_finalize(c->st);
	free(c);
	*cp = NULL;
}

int
store_body_read(struct store *s, int64_t account, int64_t message_id,
    uint64_t off, size_t len, struct buf *out, const char **error_r)
{
	struct db *db;
	sqlite3_blob *blob;
	uint64_t total;

	if ((db = sq_acct(s, account, error_r)) == NULL)
		return -1;
	if (sqlite3_blob_open(db->h, "main", "bodies", "data", message_id, 0,
	    &blob) != SQLITE_OK) {
		*error_r = db_err(db, "opening message body");
		return -1;
	}
	total = (uint64_t)sqlite3_blob_bytes(blob);
	if (off >= total) {
		sqlite3_blob_close(blob);
		return 0;
	}
	if (len > total - off)
		len = (size_t)(total - off);
	buf_reserve(out, len);
	if (sqlite3_blob_read(blob, out->data + out->len, (int)len,
	    (int)off) != SQLITE_OK) {
		*error_r = db_err(db, "reading message body");
		sqlite3_blob_close(blob);
		return -1;
	}
	out->len += len;
	out->data[out->len] = '\0';
	sqlite3_blob_close(blob);
	return 0;
}

void
store_fts_docs_free(struct store_fts_docs *d)
{
	free(d->ids);
	free(d->complete);
	memset(d, 0, sizeof(*d));
}

int
store_fts_docs(struct store *s, int64_t account, struct store_fts_docs *d,
    const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	size_t cap = 0;
	int r;

	memset(d, 0, sizeof(*d));
	if ((db = sq_acct(s, account, error_r)) == NULL)
		return -1;
	if ((st = db_prep(db, "SELECT id, complete FROM fts_docs ORDER BY id",
	    error_r)) == NULL)
		return -1;
	while ((r = db_step(st)) == 1) {
		if (d->n == cap) {
			cap = cap ? cap * 2 : 1024;
			d->ids = xreallocarray(d->ids, cap, sizeof(*d->ids));
			d->complete = xreallocarray(d->complete, cap,
			    sizeof(*d->complete));
		}
		d->ids[d->n] = sqlite3_column_int64(st, 0);
		d->complete[d->n++] = sqlite3_column_int(st, 1) != 0;
	}
	sqlite3_reset(st);
	if (r < 0) {
		*error_r = db_err(db, "reading the full-text index");
		store_fts_docs_free(d);
		return -1;
	}
	return 0;
}

int
store_fts_match(struct store *s, int64_t account, const char *needle,
    size_t len, int64_t **ids_r, size_t *n_r, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	struct buf q = BUF_INIT;
	size_t n = 0, cap = 0;
	int64_t *ids = NULL;
	int r;

	*ids_r = NULL;
	*n_r = 0;
	if ((db = sq_acct(s, account, error_r)) == NULL)
		return -1;
	/* One FTS5 string: the trigrams of needle in a row. */
	buf_putc(&q, '"');
	for (size_t i = 0; i < len; i++) {
		if (needle[i] == '"')
			buf_putc(&q, '"');
		buf_putc(&q, needle[i]);
	}
	buf_putc(&q, '"');
	if ((st = db_prep(db, "SELECT rowid FROM fts WHERE fts MATCH ? "
	    "ORDER BY rowid", error_r)) == NULL) {
		buf_free(&q);
		return -1;
	}
	sqlite3_bind_text(st, 1, q.data, (int)q.len, SQLITE_STATIC);
	while ((r = db_step(st)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			ids = xreallocarray(ids, cap, sizeof(*ids));
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	buf_free(&q);
	if (r < 0) {
		*error_r = db_err(db, "searching the full-text index");
		free(ids);
		return -1;
	}
	*ids_r = ids;
	*n_r = n;
	return 0;
}

int
store_fts_todo(struct store *s, int64_t account, size_t max,
    int64_t **ids_r, struct buf *mimes, size_t *n_r, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	int64_t *ids;
	size_t n = 0;
	int r = 0;

	*ids_r = NULL;
	*n_r = 0;
	if ((db = sq_acct(s, account, error_r)) == NULL)
		return -1;
	if ((st = db_prep(db, "SELECT m.id, m.mime FROM messages m WHERE "
	    "m.gone_at IS NULL AND NOT EXISTS (SELECT 1 FROM fts_docs d "
	    "WHERE d.id = m.id) ORDER BY m.id LIMIT ?", error_r)) == NULL)
		return -1;
	ids = xcalloc(max + 1, sizeof(*ids));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while (n < max && (r = db_step(st)) == 1) {
		ids[n] = sqlite3_column_int64(st, 0);
		buf_append(&mimes[n], sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1));
		n++;
	}
	if (n < max && r < 0) {
		*error_r = db_err(db, "listing messages to index");
		sqlite3_reset(st);
		free(ids);
		return -1;
	}
	sqlite3_reset(st);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

int
store_fts_add(struct store *s, int64_t account,
    const struct store_fts_doc *docs, size_t n, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;

	if (n == 0)
		return 0;
	if ((db = sq_acct(s, account, error_r)) == NULL ||
	    db_begin(db, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct store_fts_doc *d = &docs[i];

		/*
		 * Only for a message still there, and only once (another
		 * session may have indexed it meanwhile).
		 */
		if ((st = db_prep(db, "INSERT OR IGNORE INTO fts_docs (id, "
		    "complete) SELECT id, ? FROM messages WHERE id = ? AND "
		    "gone_at IS NULL",
		    error_r)) == NULL)
			goto fail;
		sqlite3_bind_int(st, 1, d->text != NULL);
		sqlite3_bind_int64(st, 2, d->message_id);
		if (db_step(st) < 0)
			goto fail_db;
		if (sqlite3_changes(db->h) == 0 || d->text == NULL)
			continue;
		if ((st = db_prep(db, "INSERT INTO fts (rowid, text) VALUES "
		    "(?, ?)", error_r)) == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, d->message_id);
		sqlite3_bind_text(st, 2, d->text, (int)d->len, SQLITE_STATIC);
		if (db_step(st) < 0)
			goto fail_db;
	}
	return db_commit(db, error_r);
fail_db:
	*error_r = db_err(db, "adding to the full-text index");
fail:
	db_rollback(db);
	return -1;
}

/*
 * Keywords are kept as one space-separated string per mailbox entry,
 * compared case-insensitively (RFC 9051 flags are case-insensitive).
 */
static bool
kw_has(const char *list, const char *kw, size_t kwlen)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == kwlen && strncasecmp(p, kw, n) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static void
kw_apply(enum store_flag_op op, const char *cur, const char *given,
    struct buf *out)
{
	const char *p;

	buf_reset(out);
	if (op != FLAGS_SET) {
		for (p = cur; p != NULL && *p != '\0';) {
			const char *e = strchr(p, ' ');
			size_t n = e ? (size_t)(e - p) : strlen(p);

			if (n > 0 && !(op == FLAGS_REMOVE &&
			    kw_has(given, p, n))) {
				if (out->len > 0)
					buf_putc(out, ' ');
				buf_append(out, p, n);
			}
			p = e ? e + 1 : NULL;
		}
	}
	if (op == FLAGS_REMOVE)
		return;
	for (p = given; p != NULL && *p != '\0';) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n > 0 && !kw_has(buf_cstr(out), p, n)) {
			if (out->len > 0)
				buf_putc(out, ' ');
			buf_append(out, p, n);
		}
		p = e ? e + 1 : NULL;
	}
}

static bool
kw_same(const char *a, const char *b)
{
	const char *p;

	a = a ? a : "";
	b = b ? b : "";
	for (p = a; *p != '\0';) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n > 0 && !kw_has(b, p, n))
			return false;
		p = e ? e + 1 : p + n;
	}
	for (p = b; *p != '\0';) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n > 0 && !kw_has(a, p, n))
			return false;
		p = e ? e + 1 : p + n;
	}
	return true;
}

/* Reads the modseq counter and counters of a mailbox inside a transaction. */
static int
mbox_lock_row(struct db *db, int64_t mailbox, uint64_t *hms, uint32_t *uidnext,
    const char **error_r)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_prep(db, "SELECT highestmodseq, uidnext FROM mailboxes "
	    "WHERE id = ?", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox);
	r = db_step(st);
	if (r == 1) {
		*hms = (uint64_t)sqlite3_column_int64(st, 0);
		if (uidnext != NULL)
			*uidnext = (uint32_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (r != 1) {
		*error_r = r == 0 ? "Mailbox doesn't exist" :
		    db_err(db, "mailbox");
		return -1;
	}
	return 0;
}

/* Adds deltas to a mailbox's counters and sets its modseq / uidnext. */
static int
mbox_update(struct db *db, int64_t mailbox, uint64_t hms, uint32_t uidnext,
    int64_t dmessages, int64_t dunseen, int64_t dsize, const char **error_r)
{
	sqlite3_stmt *st;

	if ((st = db_prep(db, "UPDATE mailboxes SET highestmodseq = ?2, "
	    "uidnext = max(uidnext, ?3), messages = messages + ?4, "
	    "unseen = unseen + ?5, size = size + ?6 WHERE id = ?1",
	    error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox);
	sqlite3_bind_int64(st, 2, (int64_t)hms);
	sqlite3_bind_int64(st, 3, uidnext);
	sqlite3_bind_int64(st, 4, dmessages);
	sqlite3_bind_int64(st, 5, dunseen);
	sqlite3_bind_int64(st, 6, dsize);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "mailbox update");
		return -1;
	}
	return 0;
}

int
store_mails_flags(struct store *s, int64_t account, int64_t mailbox,
    const uint32_t *uids, size_t n, enum store_flag_op op, uint32_t flags,
    const char *keywords, uint64_t unchangedsince,
    struct flag_change *changes, const char **error_r)
{
	struct buf kw = BUF_INIT;
	struct db *db;
	sqlite3_stmt *st;
	uint64_t hms;
	int64_t dunseen = 0;
	bool any = false;

	if ((db = sq_acct(s, account, error_r)) == NULL ||
	    db_begin(db, error_r) < 0)
		return -1;
	if (mbox_lock_row(db, mailbox, &hms, NULL, error_r) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		uint32_t cur, nf;
		uint64_t modseq;
		char *curkw;
		int r;

		changes[i].uid = uids[i];
		changes[i].changed = false;
		changes[i].conflict = false;
		changes[i].flags = 0;
		changes[i].modseq = 0;
		if ((st = db_prep(db, "SELECT flags, keywords, modseq FROM mails "
		    "WHERE mailbox_id = ? AND uid = ?", error_r)) == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, mailbox);
		sqlite3_bind_int64(st, 2, uids[i]);
		if ((r = db_step(st)) != 1) {
			sqlite3_reset(st);
			if (r < 0) {
				*error_r = db_err(db, "flags");
				goto fail;
			}
			continue;
		}
		cur = (uint32_t)sqlite3_column_int(st, 0);
		curkw = sqlite3_column_text(st, 1) ? xstrdup((const char *)
		    sqlite3_column_text(st, 1)) : NULL;
		modseq = (uint64_t)sqlite3_column_int64(st, 2);
		sqlite3_reset(st);
		changes[i].flags = cur;
		changes[i].modseq = modseq;
		if (unchangedsince != STORE_UNCONDITIONAL &&
		    modseq > unchangedsince) {
			changes[i].conflict = true;
			free(curkw);
			continue;
		}
		flags &= MAIL_FLAGS_ALL;
		switch (op) {
		case FLAGS_SET:
			nf = flags;
			break;
		case FLAGS_ADD:
			nf = cur | flags;
			break;
		default:
			nf = cur & ~flags;
			break;
		}
		kw_apply(op, curkw, keywords, &kw);
		if (nf == cur && kw_same(curkw, buf_cstr(&kw))) {
			free(curkw);
			continue;
		}
		free(curkw);
		hms++;
		if ((st = db_prep(db, "UPDATE mails SET flags = ?, keywords = "
		    "?, modseq = ? WHERE mailbox_id = ? AND uid = ?",
		    error_r)) == NULL)
			goto fail;
		sqlite3_bind_int(st, 1, (int)nf);
		db_bind_text(st, 2, kw.len > 0 ? buf_cstr(&kw) : NULL);
		sqlite3_bind_int64(st, 3, (int64_t)hms);
		sqlite3_bind_int64(st, 4, mailbox);
		sqlite3_bind_int64(st, 5, uids[i]);
		if (db_step(st) < 0) {
			*error_r = db_err(db, "flags update");
			goto fail;
		}
		if ((cur & MAIL_SEEN) && !(nf & MAIL_SEEN))
			dunseen++;
		else if (!(cur & MAIL_SEEN) && (nf & MAIL_SEEN))
			dunseen--;
		changes[i].flags = nf;
		changes[i].modseq = hms;
		changes[i].changed = true;
		any = true;
	}
	buf_free(&kw);
	if (!any) {
		db_rollback(db);
		return 0;
	}
	if (mbox_update(db, mailbox, hms, 0, 0, dunseen, 0, error_r) < 0)
		goto fail;
	if (db_commit(db, error_r) < 0)
		return -1;
	sq_changed(s, account, mailbox);
	return 0;
fail:
	buf_free(&kw);
	db_rollback(db);
	return -1;
}

/*
 * Inserts a mailbox entry for message_id with the next uid of dst inside an
 * open transaction; *uidnext and *hms are advanced.
 */
static int
entry_insert(struct db *db, int64_t dst, int64_t message_id, uint32_t flags,
    const char *keywords, uint32_t *uidnext, uint64_t *hms,
    const char **error_r)
{
	sqlite3_stmt *st;

	if (*uidnext == 0xffffffffU) {
		*error_r = "mailbox is out of UIDs";
		return -1;
	}
	(*hms)++;
	if ((st = db_prep(db, "INSERT INTO mails (mailbox_id, uid, "
	    "message_id, flags, keywords, modseq) VALUES (?, ?, ?, ?, ?, ?)",
	    error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, dst);
	sqlite3_bind_int64(st, 2, *uidnext);
	sqlite3_bind_int64(st, 3, message_id);
	sqlite3_bind_int(st, 4, (int)flags);
	db_bind_text(st, 5, keywords && *keywords ? keywords : NULL);
	sqlite3_bind_int64(st, 6, (int64_t)*hms);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "adding message to mailbox");
		return -1;
	}
	(*uidnext)++;
	return 0;
}

static int
tombstone(struct db *db, int64_t mailbox, uint32_t uid, uint64_t modseq,
    const char **error_r)
{
	sqlite3_stmt *st;

	if ((st = db_prep(db, "DELETE FROM mails WHERE mailbox_id = ? AND "
	    "uid = ?", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox);
	sqlite3_bind_int64(st, 2, uid);
	if (db_step(st) < 0)
		goto fail;
	if ((st = db_prep(db, "INSERT OR REPLACE INTO expunged (mailbox_id, "
	    "uid, modseq) VALUES (?, ?, ?)", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, (int64_t)modseq);
	if (db_step(st) < 0)
		goto fail;
	return 0;
fail:
	*error_r = db_err(db, "expunge");
	return -1;
}

static int
copy_one(struct db *db, int64_t src, uint32_t uid, int64_t dst, bool move,
    uint32_t *dst_uidnext, uint64_t *dst_hms, uint64_t *src_hms,
    int64_t *dsrc_unseen, int64_t *dsrc_size, int64_t *ddst_unseen,
    int64_t *ddst_size, uint32_t *new_uid, const char **error_r)
{
	sqlite3_stmt *st;
	int64_t message_id, size;
	uint32_t flags;
	char *kw;
	int r;

	*new_uid = 0;
	if ((st = db_prep(db, "SELECT m.message_id, m.flags, m.keywords, "
	    "g.size FROM mails m JOIN messages g ON g.id = m.message_id "
	    "WHERE m.mailbox_id = ? AND m.uid = ?", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, src);
	sqlite3_bind_int64(st, 2, uid);
	if ((r = db_step(st)) != 1) {
		sqlite3_reset(st);
		if (r < 0)
			*error_r = db_err(db, "copy");
		return r;
	}
	message_id = sqlite3_column_int64(st, 0);
	flags = (uint32_t)sqlite3_column_int(st, 1);
	kw = sqlite3_column_text(st, 2) ? xstrdup((const char *)
	    sqlite3_column_text(st, 2)) : NULL;
	size = sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	*new_uid = *dst_uidnext;
	r = entry_insert(db, dst, message_id, flags, kw, dst_uidnext, dst_hms,
	    error_r);
	free(kw);
	if (r < 0)
		return -1;
	if (!(flags & MAIL_SEEN))
		(*ddst_unseen)++;
	*ddst_size += size;
	if (move) {
		(*src_hms)++;
		if (tombstone(db, src, uid, *src_hms, error_r) < 0)
			return -1;
		if (!(flags & MAIL_SEEN))
			(*dsrc_unseen)--;
		*dsrc_size -= size;
	} else {
		if ((st = db_prep(db, "UPDATE messages SET refs = refs + 1 "
		    "WHERE id = ?", error_r)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, message_id);
		if (db_step(st) < 0) {
			*error_r = db_err(db, "copy");
			return -1;
		}
	}
	return 1;
}

int
store_mails_copy(struct store *s, int64_t account, int64_t src,
    const uint32_t *uids, size_t n, int64_t dst, bool move, uint64_t quota,
    uint32_t *new_uids, uint32_t *dst_uidvalidity, const char **error_r)
{
	struct mailbox_info dmi;
	struct db *db;
	uint64_t src_hms, dst_hms;
	uint32_t dst_uidnext, src_uidnext;
	int64_t dsu = 0, dss = 0, ddu = 0, dds = 0, moved = 0, copied = 0;

	if ((db = sq_acct(s, account, error_r)) == NULL)
		return -1;
	if (store_mailbox_get_id(s, account, dst, &dmi) != 1) {
		*error_r = "Mailbox doesn't exist";
		return -1;
	}
	*dst_uidvalidity = dmi.uidvalidity;
	if (db_begin(db, error_r) < 0)
		return -1;
	if (mbox_lock_row(db, src, &src_hms, &src_uidnext, error_r) < 0 ||
	    mbox_lock_row(db, dst, &dst_hms, &dst_uidnext, error_r) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		int r;

		if (src == dst) {
			/*
			 * Into the same mailbox: one modseq counter.  A move
			 * gives the message a new uid, as in Dovecot; the new
			 * uids are above every uid being moved.
			 */
			r = copy_one(db, src, uids[i], dst, move, &dst_uidnext,
			    &dst_hms, &dst_hms, &dsu, &dss, &ddu, &dds,
			    &new_uids[i], error_r);
		} else
			r = copy_one(db, src, uids[i], dst, move, &dst_uidnext,
			    &dst_hms, &src_hms, &dsu, &dss, &ddu, &dds,
			    &new_uids[i], error_r);
		if (r < 0)
			goto fail;
		if (r > 0) {
			copied++;
			if (move)
				moved++;
		}
	}
	if (copied == 0) {
		db_rollback(db);
		return 0;
	}
	if (!move && quota > 0) {
		uint64_t used;

		if (usage_locked(db, &used, error_r) < 0)
			goto fail;
		if (used + (uint64_t)dds > quota) {
			db_rollback(db);
			*error_r = "Quota exceeded";
			return STORE_OVERQUOTA;
		}
	}
	if (src == dst) {
		/* One row: a move's new entries and tombstones cancel. */
		copied -= moved;
		ddu += dsu;
		dds += dss;
	}
	if (mbox_update(db, dst, dst_hms, dst_uidnext, copied, ddu, dds,
	    error_r) < 0)
		goto fail;
	if (move && src != dst && mbox_update(db, src, src_hms, 0, -moved,
	    dsu, dss, error_r) < 0)
		goto fail;
	if (db_commit(db, error_r) < 0)
		return -1;
	sq_changed(s, account, dst);
	if (move && src != dst)
		sq_changed(s, account, src);
	return 0;
fail:
	db_rollback(db);
	return -1;
}

static int
move_all(struct store *s, struct db *db, int64_t src, int64_t dst,
    const char **error_r)
{
	sqlite3_stmt *st;
	uint32_t *uids = NULL, dst_uidnext, src_uidnext, nu;
	uint64_t src_hms, dst_hms;
	int64_t dsu = 0, dss = 0, ddu = 0, dds = 0;
	size_t n = 0;
	int r;

	if ((st = db_prep(db, "SELECT uid FROM mails WHERE mailbox_id = ? "
	    "ORDER BY uid", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, src);
	while ((r = db_step(st)) == 1) {
		uids = xgrowarray(uids, n, sizeof(*uids));
		uids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (r < 0 || mbox_lock_row(db, src, &src_hms, &src_uidnext,
	    error_r) < 0 || mbox_lock_row(db, dst, &dst_hms, &dst_uidnext,
	    error_r) < 0) {
		free(uids);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (copy_one(db, src, uids[i], dst, true, &dst_uidnext,
		    &dst_hms, &src_hms, &dsu, &dss, &ddu, &dds, &nu,
		    error_r) < 0) {
			free(uids);
			return -1;
		}
	free(uids);
	if (mbox_update(db, dst, dst_hms, dst_uidnext, (int64_t)n, ddu, dds,
	    error_r) < 0 || mbox_update(db, src, src_hms, 0, -(int64_t)n, dsu,
	    dss, error_r) < 0)
		return -1;
	(void)s;
	return 0;
}

static int expunge_sorted(struct store *, int64_t, int64_t,
    const uint32_t *, size_t, bool, void (*)(void *, uint32_t), void *,
    const char **);

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
store_mails_expunge(struct store *s, int64_t account, int64_t mailbox,
    const uint32_t *uids_in, size_t n, bool only_deleted,
    void (*cb)(void *, uint32_t), void *ctx, const char **error_r)
{
	uint32_t *uids = NULL;
	int rc;

	/* The scan below walks both lists in ascending order. */
	if (uids_in != NULL) {
		uids = xcalloc(n + 1, sizeof(*uids));
		memcpy(uids, uids_in, n * sizeof(*uids));
		qsort(uids, n, sizeof(*uids), cmp_u32);
	}
	rc = expunge_sorted(s, account, mailbox, uids, n, only_deleted, cb,
	    ctx, error_r);
	free(uids);
	return rc;
}

static int
expunge_sorted(struct store *s, int64_t account, int64_t mailbox,
    const uint32_t *uids, size_t n, bool only_deleted,
    void (*cb)(void *, uint32_t), void *ctx, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	struct {
		uint32_t uid;
		uint32_t flags;
		int64_t message_id;
		int64_t size;
	} *gone = NULL;
	size_t ngone = 0;
	uint64_t hms;
	int64_t dunseen = 0, dsize = 0;
	size_t j = 0;
	int r;

	if ((db = sq_acct(s, account, error_r)) == NULL ||
	    db_begin(db, error_r) < 0)
		return -1;
	if (mbox_lock_row(db, mailbox, &hms, NULL, error_r) < 0)
		goto fail;
	if ((st = db_prep(db, "SELECT m.uid, m.flags, m.message_id, g.size "
	    "FROM mails m JOIN messages g ON g.id = m.message_id WHERE "
	    "m.mailbox_id = ? ORDER BY m.uid", error_r)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, mailbox);
	while ((r = db_step(st)) == 1) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);
		uint32_t flags = (uint32_t)sqlite3_column_int(st, 1);

		if (only_deleted && !(flags & MAIL_DELETED))
			continue;
		if (uids != NULL) {
			while (j < n && uids[j] < uid)
				j++;
			if (j >= n || uids[j] != uid)
				continue;
		}
		gone = xgrowarray(gone, ngone, sizeof(*gone));
		gone[ngone].uid = uid;
		gone[ngone].flags = flags;
		gone[ngone].message_id = sqlite3_column_int64(st, 2);
		gone[ngone].size = sqlite3_column_int64(st, 3);
		ngone++;
	}
	sqlite3_reset(st);
	if (r < 0) {
		*error_r = db_err(db, "expunge");
		goto fail;
	}
	if (ngone == 0) {
		db_rollback(db);
		free(gone);
		return 0;
	}
	for (size_t i = 0; i < ngone; i++) {
		hms++;
		if (tombstone(db, mailbox, gone[i].uid, hms, error_r) < 0 ||
		    msg_unref(db, gone[i].message_id, error_r) < 0)
			goto fail;
		if (!(gone[i].flags & MAIL_SEEN))
			dunseen--;
		dsize -= gone[i].size;
	}
	if (mbox_update(db, mailbox, hms, 0, -(int64_t)ngone, dunseen, dsize,
	    error_r) < 0 || msg_purge(db, time(NULL), error_r) < 0)
		goto fail;
	if (db_commit(db, error_r) < 0) {
		free(gone);
		return -1;
	}
	sq_purge_later(s, account, (int64_t)time(NULL) + STORE_BODY_GRACE);
	sq_changed(s, account, mailbox);
	if (cb != NULL)
		for (size_t i = 0; i < ngone; i++)
			cb(ctx, gone[i].uid);
	free(gone);
	return 0;
fail:
	free(gone);
	db_rollback(db);
	return -1;
}

/* Stores the message bytes once inside an open transaction. */
static int
msg_insert(struct db *db, const struct store_msg *msg, int64_t *id_r,
    const char **error_r)
{
	sqlite3_stmt *st;
	int64_t id;

	if (store_msg_size(msg) > 0x7fffffffU) {
		*error_r = "message too large";
		return -1;
	}
	if ((st = db_prep(db, "INSERT INTO messages (refs, size, internaldate, "
	    "mime) VALUES (1, ?, ?, ?)", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)store_msg_size(msg));
	sqlite3_bind_int64(st, 2, (int64_t)msg->internaldate);
	sqlite3_bind_blob(st, 3, msg->mime ? msg->mime : "", (int)msg->mime_len,
	    SQLITE_STATIC);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "storing message");
		return -1;
	}
	id = sqlite3_last_insert_rowid(db->h);
	if ((st = db_prep(db, "INSERT INTO bodies (id, data) VALUES (?, ?)",
	    error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_zeroblob(st, 2, (int)store_msg_size(msg));
	if (db_step(st) < 0) {
		*error_r = db_err(db, "storing message body");
		return -1;
	}
	if (sq_write_blob(db, "bodies", "data", id, msg, error_r) < 0)
		return -1;
	*id_r = id;
	return 0;
}

/*
 * Appends n messages in one transaction (MULTIAPPEND is all or nothing):
 * uids_r[i] gets each one's uid.
 */
static int
append_many(struct db *db, int64_t mailbox, const struct store_msg *msgs,
    size_t n, const uint32_t *flags, const char *const *keywords,
    uint64_t quota, uint32_t *uids_r, const char **error_r)
{
	uint64_t hms, used, total = 0;
	uint32_t uidnext;
	int64_t id, dunseen = 0;

	for (size_t i = 0; i < n; i++)
		total += store_msg_size(&msgs[i]);
	if (db_begin(db, error_r) < 0)
		return -1;
	if (quota > 0) {
		/* Inside the write transaction: no race with other writers. */
		if (usage_locked(db, &used, error_r) < 0)
			goto fail;
		if (used + total > quota) {
			db_rollback(db);
			*error_r = "Quota exceeded";
			return STORE_OVERQUOTA;
		}
	}
	if (mbox_lock_row(db, mailbox, &hms, &uidnext, error_r) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		uint32_t fl = flags[i] & MAIL_FLAGS_ALL;

		if (msg_insert(db, &msgs[i], &id, error_r) < 0)
			goto fail;
		uids_r[i] = uidnext;
		if (entry_insert(db, mailbox, id, fl, keywords[i], &uidnext,
		    &hms, error_r) < 0)
			goto fail;
		if (!(fl & MAIL_SEEN))
			dunseen++;
	}
	if (mbox_update(db, mailbox, hms, uidnext, (int64_t)n, dunseen,
	    (int64_t)total, error_r) < 0)
		goto fail;
	if (db_commit(db, error_r) < 0)
		return db_failure(db);
	return 0;
fail:
	{
		int rc = db_failure(db);

		db_rollback(db);
		return rc;
	}
}

static int
append_one(struct store *s, struct db *db, int64_t mailbox,
    const struct store_msg *msg, uint32_t flags, const char *keywords,
    uint64_t quota, uint32_t *uid_r, const char **error_r)
{
	(void)s;
	return append_many(db, mailbox, msg, 1, &flags, &keywords, quota,
	    uid_r, error_r);
}

int
store_append_many(struct store *s, int64_t account, int64_t mailbox,
    const struct store_msg *msgs, size_t n, const uint32_t *flags,
    const char *const *keywords, uint64_t quota, uint32_t *uids_r,
    uint32_t *uidvalidity_r, const char **error_r)
{
	struct mailbox_info mi;
	struct db *db;
	int r;

	if ((db = sq_acct(s, account, error_r)) == NULL)
		return -1;
	if (store_mailbox_get_id(s, account, mailbox, &mi) != 1) {
		*error_r = "Mailbox doesn't exist";
		return -1;
	}
	if ((r = append_many(db, mailbox, msgs, n, flags, keywords, quota,
	    uids_r, error_r)) < 0)
		return r;
	*uidvalidity_r = mi.uidvalidity;
	sq_changed(s, account, mailbox);
	return 0;
}

int
store_append(struct store *s, int64_t account, int64_t mailbox,
    const struct store_msg *msg, uint32_t flags, const char *keywords,
    uint64_t quota, uint32_t *uid_r, uint32_t *uidvalidity_r,
    const char **error_r)
{
	struct mailbox_info mi;
	struct db *db;
	int r;

	if ((db = sq_acct(s, account, error_r)) == NULL)
		return -1;
	if (store_mailbox_get_id(s, account, mailbox, &mi) != 1) {
		*error_r = "Mailbox doesn't exist";
		return -1;
	}
	if ((r = append_one(s, db, mailbox, msg, flags & MAIL_FLAGS_ALL,
	    keywords, quota, uid_r, error_r)) < 0)
		return r;
	*uidvalidity_r = mi.uidvalidity;
	sq_changed(s, account, mailbox);
	return 0;
}

/* The account's first mailbox marked \Junk: 1, 0 when none, -1. */
static int
junk_mailbox(struct store *s, struct db *db, int64_t account,
    struct mailbox_info *mi)
{
	sqlite3_stmt *st;
	const char *err;
	int64_t id = 0;
	int r;

	if ((st = db_prep(db, "SELECT id FROM mailboxes WHERE special_use & ? "
	    "ORDER BY id LIMIT 1", &err)) == NULL)
		return -1;
	sqlite3_bind_int(st, 1, MBOX_SU_JUNK);
	if ((r = db_step(st)) == 1)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (r != 1)
		return r;
	return store_mailbox_get_id(s, account, id, mi);
}

/*
 * Group commit (DESIGN.md): deliveries into the same account that arrive
 * while one is being committed wait, and are then committed together in
 * one transaction, so one fsync covers all of them.  The first thread to
 * find no commit under way is the leader: it takes every waiting request
 * of the account, commits them, wakes their threads and goes on while more
 * have arrived.  A batch that fails is retried one request at a time, so
 * one bad request does not fail the others.
 */
struct gc_req {
	int64_t		 mailbox;
	const struct store_msg *msg;
	uint32_t	 uid;
	int		 rc;
	bool		 done;
	char		 error[256];
	struct gc_req	*next;
};

struct gc_queue {
	int64_t		 account;
	bool		 busy;		/* a leader is committing */
	struct gc_req	*head;
	struct gc_req	**tail;
	struct gc_queue	*next;
};

#define GC_BUCKETS	256

static pthread_mutex_t gc_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gc_cond = PTHREAD_COND_INITIALIZER;
static struct gc_queue *gc_buckets[GC_BUCKETS];

static struct gc_queue *
gc_queue_get(int64_t account)
{
	struct gc_queue **pp = &gc_buckets[(uint64_t)account % GC_BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->account == account)
			return *pp;
	*pp = xcalloc(1, sizeof(**pp));
	(*pp)->account = account;
	(*pp)->tail = &(*pp)->head;
	return *pp;
}

/* One transaction for the batch; 0, or the store error of the batch. */
static int
gc_commit(struct db *db, struct gc_req *batch, const char **error_r)
{
	if (db_begin(db, error_r) < 0)
		return -1;
	for (struct gc_req *r = batch; r != NULL; r = r->next) {
		uint64_t hms;
		uint32_t uidnext;
		int64_t id;

		if (mbox_lock_row(db, r->mailbox, &hms, &uidnext,
		    error_r) < 0 || msg_insert(db, r->msg, &id, error_r) < 0)
			goto fail;
		r->uid = uidnext;
		if (entry_insert(db, r->mailbox, id, 0, NULL, &uidnext, &hms,
		    error_r) < 0 || mbox_update(db, r->mailbox, hms, uidnext,
		    1, 1, (int64_t)store_msg_size(r->msg), error_r) < 0)
			goto fail;
	}
	if (db_commit(db, error_r) < 0)
		return db_failure(db);
	return 0;
fail:
	{
		int rc = db_failure(db);

		db_rollback(db);
		return rc;
	}
}

static void
gc_lead(struct store *s, struct gc_queue *q)
{
	const char *err = NULL;
	struct db *db;

	while (q->head != NULL) {
		struct gc_req *batch = q->head;
		int rc;

		q->head = NULL;
		q->tail = &q->head;
		pthread_mutex_unlock(&gc_mtx);
		if ((db = sq_acct(s, q->account, &err)) == NULL)
			rc = -1;
		else if ((rc = gc_commit(db, batch, &err)) < 0 &&
		    batch->next != NULL) {
			/* Alone, each request gets its own answer. */
			for (struct gc_req *r = batch; r != NULL; r = r->next) {
				struct gc_req *next = r->next;
				const char *e = NULL;

				r->next = NULL;
				r->rc = gc_commit(db, r, &e);
				if (r->rc < 0)
					snprintf(r->error, sizeof(r->error),
					    "%s", e ? e : "store error");
				r->next = next;
			}
			rc = 1;		/* answered one by one */
		}
		pthread_mutex_lock(&gc_mtx);
		for (struct gc_req *r = batch, *next; r != NULL; r = next) {
			next = r->next;
			if (rc <= 0) {
				r->rc = rc;
				if (rc < 0)
					snprintf(r->error, sizeof(r->error),
					    "%s", err ? err : "store error");
			}
			r->done = true;
		}
		pthread_cond_broadcast(&gc_cond);
	}
	q->busy = false;
}

/* Delivers into one mailbox of an account, sharing the commit. */
static int
gc_deliver(struct store *s, int64_t account, int64_t mailbox,
    const struct store_msg *msg, uint32_t *uid_r, const char **error_r)
{
	struct gc_req req;
	struct gc_queue *q;

	memset(&req, 0, sizeof(req));
	req.mailbox = mailbox;
	req.msg = msg;
	pthread_mutex_lock(&gc_mtx);
	q = gc_queue_get(account);
	*q->tail = &req;
	q->tail = &req.next;
	if (!q->busy) {
		q->busy = true;
		gc_lead(s, q);
	}
	while (!req.done)
		pthread_cond_wait(&gc_cond, &gc_mtx);
	pthread_mutex_unlock(&gc_mtx);
	if (req.rc < 0) {
		*error_r = db_errmsg("%s", req.error);
		return req.rc;
	}
	*uid_r = req.uid;
	return 0;
}

int
store_deliver(struct store *s, const int64_t *accounts, size_t n,
    const struct store_msg *msg, uint32_t *uids_r, const char **error_r)
{
	for (size_t i = 0; i < n; i++)
		uids_r[i] = 0;
	for (size_t i = 0; i < n; i++) {
		struct mailbox_info mi;
		struct db *db;
		int rc;

		if ((db = sq_acct(s, accounts[i], error_r)) == NULL)
			return -1;
		if ((!msg->junk || junk_mailbox(s, db, accounts[i], &mi) != 1) &&
		    store_mailbox_get(s, accounts[i], "INBOX", &mi) != 1) {
			*error_r = "INBOX is missing";
			return -1;
		}
		if ((rc = gc_deliver(s, accounts[i], mi.id, msg, &uids_r[i],
		    error_r)) < 0)
			return rc;
		sq_changed(s, accounts[i], mi.id);
	}
	return 0;
}
