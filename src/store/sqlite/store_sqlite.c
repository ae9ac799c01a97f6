/*
 * store_sqlite - the embedded backend: opening, per-thread connection caches
 * and schema migrations of posthorn.db and every account's mail.db.
 *
 * A sqlite connection is used by one thread at a time (WAL lets one writer
 * and many readers work side by side).  Each thread keeps its posthorn.db
 * connection and the ACCT_CACHE account connections it used last.  Worker
 * threads hand their account connections back to a pool shared by all
 * threads after every job (store_thread_release), and sq_acct takes an
 * idle one from there before it opens a new one: opening costs a schema
 * read, the migration check and WAL setup, and when per-thread caches were
 * all there was, every worker opened its own connection to every busy
 * account (with more busy accounts than a cache holds, a third of all IMAP
 * commands opened and closed a database).  The pool keeps at most
 * pool_max idle connections, the least recently released closed first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "sqlite_int.h"

#define ACCT_CACHE	8
#define POOL_MAX	512

static const char *const dir_migrations[] = {
	/* 1: the directory of domains, accounts and aliases; the queue. */
	"CREATE TABLE domains ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE accounts ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  domain_id INTEGER NOT NULL REFERENCES domains(id),"
	"  address TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  password TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE aliases ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  domain_id INTEGER NOT NULL REFERENCES domains(id),"
	"  address TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  targets TEXT NOT NULL);"
	"CREATE TABLE queue ("
	"  id TEXT PRIMARY KEY,"
	"  sender TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  body BLOB NOT NULL);"
	"CREATE TABLE queue_rcpts ("
	"  queue_id TEXT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,"
	"  rcpt TEXT NOT NULL,"
	"  status INTEGER NOT NULL DEFAULT 0,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_try INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  PRIMARY KEY (queue_id, rcpt));",
	/* 2: protocol switches, quotas, app passwords, SCRAM, change counter. */
	"ALTER TABLE domains ADD COLUMN imap INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE domains ADD COLUMN pop3 INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE domains ADD COLUMN submission INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE domains ADD COLUMN webmail INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE domains ADD COLUMN quota INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE domains ADD COLUMN pop3_keep INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE accounts ADD COLUMN imap INTEGER;"
	"ALTER TABLE accounts ADD COLUMN pop3 INTEGER;"
	"ALTER TABLE accounts ADD COLUMN submission INTEGER;"
	"ALTER TABLE accounts ADD COLUMN webmail INTEGER;"
	"ALTER TABLE accounts ADD COLUMN quota INTEGER;"
	"ALTER TABLE accounts ADD COLUMN receive INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE accounts ADD COLUMN scram TEXT;"
	"CREATE TABLE app_passwords ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id)"
	"    ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  protocols INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER,"
	"  UNIQUE (account_id, name));"
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL);"
	"INSERT INTO meta (key, value) VALUES ('directory_gen', 1);"
	"CREATE TABLE secrets ("
	"  name TEXT PRIMARY KEY,"
	"  value BLOB NOT NULL);"
	"CREATE TRIGGER gen_dom_i AFTER INSERT ON domains BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_dom_u AFTER UPDATE ON domains BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_dom_d AFTER DELETE ON domains BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_acc_i AFTER INSERT ON accounts BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_acc_u AFTER UPDATE ON accounts BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_acc_d AFTER DELETE ON accounts BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_ali_i AFTER INSERT ON aliases BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_ali_u AFTER UPDATE ON aliases BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_ali_d AFTER DELETE ON aliases BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_app_i AFTER INSERT ON app_passwords BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_app_d AFTER DELETE ON app_passwords BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;",
	/* 3: the outbound queue's delivery state and DSN parameters. */
	"ALTER TABLE queue ADD COLUMN envid TEXT;"
	"ALTER TABLE queue ADD COLUMN ret INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE queue_rcpts ADD COLUMN domain TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE queue_rcpts ADD COLUMN last_try INTEGER NOT NULL "
	"  DEFAULT 0;"
	"ALTER TABLE queue_rcpts ADD COLUMN remote TEXT;"
	"ALTER TABLE queue_rcpts ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE queue_rcpts ADD COLUMN orcpt TEXT;"
	"ALTER TABLE queue_rcpts ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;"
	"UPDATE queue_rcpts SET domain = lower(substr(rcpt, "
	"  instr(rcpt, '@') + 1));"
	"CREATE INDEX queue_rcpts_due ON queue_rcpts (status, next_try);",
	/* 4: SMTPUTF8 messages; recipients whose success was reported. */
	"ALTER TABLE queue ADD COLUMN smtputf8 INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE queue_rcpts ADD COLUMN dsn_done INTEGER NOT NULL "
	"  DEFAULT 0;",
	/* 5: DKIM signing keys, several per domain (one per algorithm). */
	"CREATE TABLE dkim_keys ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,"
	"  selector TEXT NOT NULL,"
	"  algorithm TEXT NOT NULL,"
	"  file TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (domain_id, selector));"
	"CREATE TRIGGER gen_dkim_i AFTER INSERT ON dkim_keys BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;"
	"CREATE TRIGGER gen_dkim_d AFTER DELETE ON dkim_keys BEGIN "
	"  UPDATE meta SET value = value + 1 WHERE key = 'directory_gen'; END;",
	/* 6: MTA-STS policies of other domains (RFC 8461 5.1). */
	"CREATE TABLE mta_sts ("
	"  domain TEXT PRIMARY KEY COLLATE NOCASE,"
	"  policy_id TEXT NOT NULL,"
	"  policy TEXT NOT NULL,"
	"  fetched INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL);",
};

static const char *const mail_migrations[] = {
	/* 1: mailboxes, messages stored once, mailbox entries, tombstones. */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL);"
	"CREATE TABLE mailboxes ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  uidvalidity INTEGER NOT NULL,"
	"  uidnext INTEGER NOT NULL DEFAULT 1,"
	"  highestmodseq INTEGER NOT NULL DEFAULT 1,"
	"  first_recent_uid INTEGER NOT NULL DEFAULT 1,"
	"  special_use INTEGER NOT NULL DEFAULT 0,"
	"  messages INTEGER NOT NULL DEFAULT 0,"
	"  unseen INTEGER NOT NULL DEFAULT 0,"
	"  size INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE subscriptions ("
	"  name TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  refs INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  internaldate INTEGER NOT NULL,"
	"  mime BLOB NOT NULL);"
	"CREATE TABLE bodies ("
	"  id INTEGER PRIMARY KEY,"
	"  data BLOB NOT NULL);"
	"CREATE TABLE mails ("
	"  mailbox_id INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  message_id INTEGER NOT NULL,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  keywords TEXT,"
	"  modseq INTEGER NOT NULL,"
	"  PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE INDEX mails_modseq ON mails (mailbox_id, modseq);"
	"CREATE TABLE expunged ("
	"  mailbox_id INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);",
	/*
	 * 2: the full-text index (store.h): trigrams of the folded text,
	 * rowid = messages.id; fts_docs lists what has been indexed.
	 */
	"CREATE VIRTUAL TABLE fts USING fts5(text,"
	"  tokenize = 'trigram case_sensitive 1');"
	"CREATE TABLE fts_docs ("
	"  id INTEGER PRIMARY KEY,"
	"  complete INTEGER NOT NULL);",
	/*
	 * 3: messages no longer referenced wait STORE_BODY_GRACE seconds
	 * (gone_at) before they are deleted.
	 */
	"ALTER TABLE messages ADD COLUMN gone_at INTEGER;"
	"CREATE INDEX messages_gone ON messages (gone_at)"
	"  WHERE gone_at IS NOT NULL;",
};

struct thread_cache {
	uint64_t	 generation;
	struct db	*dir;
	struct db	*accts[ACCT_CACHE];
	uint64_t	 clock;
};

static __thread struct thread_cache tcache;
static atomic_uint_fast64_t store_generations = 1;

/* Idle account connections, oldest release first; see the top comment. */
struct pooled {
	struct db	*db;
	uint64_t	 generation;
};

static pthread_mutex_t pool_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct pooled pool[POOL_MAX];
static int npool, pool_max = -1;
static atomic_uint_fast64_t acct_opens;

/* Three descriptors a connection (db, -wal, -shm): an eighth of the limit. */
static int
pool_limit(void)
{
	struct rlimit rl;
	rlim_t n = POOL_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 24 < n)
		n = rl.rlim_cur / 24;
	return (int)n;
}

/* A connection goes back idle: no transaction may stay open on it. */
static void
pool_put(struct db *db, uint64_t generation)
{
	struct db *evict = NULL;

	if (db->in_tx || !sqlite3_get_autocommit(db->h)) {
		log_warn("store: account %lld connection released inside a "
		    "transaction; rolled back", (long long)db->account);
		db_rollback(db);
	}
	pthread_mutex_lock(&pool_mtx);
	if (pool_max < 0)
		pool_max = pool_limit();
	if (pool_max == 0)
		evict = db;
	else {
		if (npool == pool_max) {
			evict = pool[0].db;
			memmove(&pool[0], &pool[1], (size_t)(npool - 1) *
			    sizeof(pool[0]));
			npool--;
		}
		pool[npool].db = db;
		pool[npool].generation = generation;
		npool++;
	}
	pthread_mutex_unlock(&pool_mtx);
	db_close(&evict);
}

/* The most recently released idle connection to account, or NULL. */
static struct db *
pool_take(uint64_t generation, int64_t account)
{
	struct db *db = NULL;

	pthread_mutex_lock(&pool_mtx);
	for (int i = npool - 1; i >= 0; i--) {
		if (pool[i].generation != generation ||
		    pool[i].db->account != account)
			continue;
		db = pool[i].db;
		memmove(&pool[i], &pool[i + 1], (size_t)(npool - i - 1) *
		    sizeof(pool[0]));
		npool--;
		break;
	}
	pthread_mutex_unlock(&pool_mtx);
	return db;
}

/* Closes the idle connections of one store (account < 0: all accounts). */
static void
pool_drop(uint64_t generation, int64_t account)
{
	struct db *gone[POOL_MAX];
	int n = 0, k = 0;

	pthread_mutex_lock(&pool_mtx);
	for (int i = 0; i < npool; i++) {
		if (pool[i].generation == generation && (account < 0 ||
		    pool[i].db->account == account))
			gone[n++] = pool[i].db;
		else
			pool[k++] = pool[i];
	}
	npool = k;
	pthread_mutex_unlock(&pool_mtx);
	for (int i = 0; i < n; i++)
		db_close(&gone[i]);
}

/*
 * Makes directory dir's entries durable: a new file or directory in it
 * survives a power loss only once its directory is synced (SQLite does
 * this for the journals it creates, not for a new directory).
 */
static int
dir_sync(const char *dir)
{
	int fd, r, saved;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/*
 * Creates one directory; a new one is made durable in its parent.  If
 * that fails it is removed again, so that the next try syncs it.
 */
static int
mkdir_synced(char *path, mode_t mode)
{
	char *slash;
	int r, saved;

	if (mkdir(path, mode) < 0)
		return errno == EEXIST ? 0 : -1;
	if ((slash = strrchr(path, '/')) == NULL)
		r = dir_sync(".");
	else if (slash == path)
		r = dir_sync("/");
	else {
		*slash = '\0';
		r = dir_sync(path);
		*slash = '/';
	}
	if (r < 0) {
		saved = errno;
		(void)rmdir(path);
		errno = saved;
	}
	return r;
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir_synced(tmp, mode) < 0)
			return -1;
		*p = '/';
	}
	return mkdir_synced(tmp, mode);
}

static void
tcache_reset(void)
{
	db_close(&tcache.dir);
	for (int i = 0; i < ACCT_CACHE; i++)
		db_close(&tcache.accts[i]);
	tcache.generation = 0;
}

static void
tcache_check(struct store *st)
{
	if (tcache.generation != st->generation) {
		tcache_reset();
		tcache.generation = st->generation;
	}
}

struct db *
sq_dir(struct store *st, const char **error_r)
{
	char *path;
	int r;

	tcache_check(st);
	if (tcache.dir != NULL)
		return tcache.dir;
	path = xasprintf("%s/posthorn.db", st->data_dir);
	r = db_open(path, &tcache.dir, error_r);
	free(path);
	if (r < 0)
		return NULL;
	tcache.dir->wlock = &st->dir_wlock;
	return tcache.dir;
}

static int
acct_create_defaults(struct db *db, const char **error_r)
{
	static const struct {
		const char *name;
		unsigned su;
	} defs[] = {
		{ "INBOX", 0 },
		{ "Drafts", MBOX_SU_DRAFTS },
		{ "Sent", MBOX_SU_SENT },
		{ "Trash", MBOX_SU_TRASH },
		{ "Junk", MBOX_SU_JUNK },
		{ "Archive", MBOX_SU_ARCHIVE },
	};
	sqlite3_stmt *st;
	int64_t uv = (int64_t)time(NULL), n;

	/* The common case, without taking the write lock. */
	if ((st = db_prep(db, "SELECT COUNT(*) FROM mailboxes", error_r)) ==
	    NULL || db_step(st) != 1)
		return -1;
	n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (n > 0)
		return 0;
	if (db_begin(db, error_r) < 0)
		return -1;
	/* Someone else may have initialized it meanwhile. */
	st = db_prep(db, "SELECT COUNT(*) FROM mailboxes", error_r);
	if (st == NULL || db_step(st) != 1)
		goto fail;
	if (sqlite3_column_int64(st, 0) > 0) {
		sqlite3_reset(st);
		db_rollback(db);
		return 0;
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		st = db_prep(db, "INSERT INTO mailboxes (name, uidvalidity, "
		    "special_use) VALUES (?, ?, ?)", error_r);
		if (st == NULL)
			goto fail;
		sqlite3_bind_text(st, 1, defs[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, uv);
		sqlite3_bind_int(st, 3, (int)defs[i].su);
		if (db_step(st) < 0)
			goto fail;
		st = db_prep(db, "INSERT OR IGNORE INTO subscriptions (name) "
		    "VALUES (?)", error_r);
		if (st == NULL)
			goto fail;
		sqlite3_bind_text(st, 1, defs[i].name, -1, SQLITE_STATIC);
		if (db_step(st) < 0)
			goto fail;
	}
	st = db_prep(db, "INSERT OR REPLACE INTO meta (key, value) "
	    "VALUES ('last_uidvalidity', ?)", error_r);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, uv);
	if (db_step(st) < 0)
		goto fail;
	return db_commit(db, error_r);
fail:
	if (*error_r == NULL)
		*error_r = db_err(db, "creating default mailboxes");
	db_rollback(db);
	return -1;
}

struct db *
sq_acct(struct store *st, int64_t account, const char **error_r)
{
	struct db *db = NULL;
	char *dir, *path;
	int slot = -1, oldest = 0;

	tcache_check(st);
	tcache.clock++;
	for (int i = 0; i < ACCT_CACHE; i++) {
		if (tcache.accts[i] == NULL) {
			if (slot < 0)
				slot = i;
			continue;
		}
		if (tcache.accts[i]->account == account) {
			tcache.accts[i]->last_used = tcache.clock;
			return tcache.accts[i];
		}
		if (tcache.accts[oldest] == NULL ||
		    tcache.accts[i]->last_used <
		    tcache.accts[oldest]->last_used)
			oldest = i;
	}
	if (slot < 0) {
		slot = oldest;
		pool_put(tcache.accts[slot], tcache.generation);
		tcache.accts[slot] = NULL;
	}
	if ((db = pool_take(st->generation, account)) != NULL) {
		db->last_used = tcache.clock;
		tcache.accts[slot] = db;
		return db;
	}
	/* Never create files for an account that doesn't exist. */
	{
		struct db *d = sq_dir(st, error_r);
		sqlite3_stmt *q;
		int r;

		if (d == NULL || (q = db_prep(d, "SELECT 1 FROM accounts WHERE "
		    "id = ?", error_r)) == NULL)
			return NULL;
		sqlite3_bind_int64(q, 1, account);
		r = db_step(q);
		sqlite3_reset(q);
		if (r != 1) {
			*error_r = r == 0 ? "no such account" :
			    db_err(d, "account lookup");
			return NULL;
		}
	}
	dir = xasprintf("%s/accounts/%lld", st->data_dir, (long long)account);
	if (mkdir_p(dir, 0700) < 0) {
		*error_r = db_errmsg("mkdir %s: %s", dir, strerror(errno));
		free(dir);
		return NULL;
	}
	path = xasprintf("%s/mail.db", dir);
	free(dir);
	if (db_open(path, &db, error_r) < 0) {
		free(path);
		return NULL;
	}
	free(path);
	atomic_fetch_add(&acct_opens, 1);
	*error_r = NULL;
	if (db_migrate(db, mail_migrations, (int)(sizeof(mail_migrations) /
	    sizeof(mail_migrations[0])), error_r) < 0 ||
	    acct_create_defaults(db, error_r) < 0) {
		db_close(&db);
		return NULL;
	}
	db->account = account;
	db->last_used = tcache.clock;
	tcache.accts[slot] = db;
	return db;
}

uint64_t
sq_acct_opens(void)
{
	return atomic_load(&acct_opens);
}

void
sq_acct_remove_files(struct store *st, int64_t account)
{
	static const char *const files[] = { "mail.db", "mail.db-wal",
	    "mail.db-shm", "mail.db-journal" };
	char *dir;

	/* Drop our own cached connection and the idle ones first. */
	for (int i = 0; i < ACCT_CACHE; i++)
		if (tcache.accts[i] != NULL &&
		    tcache.accts[i]->account == account)
			db_close(&tcache.accts[i]);
	pool_drop(st->generation, account);
	dir = xasprintf("%s/accounts/%lld", st->data_dir, (long long)account);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *p = xasprintf("%s/%s", dir, files[i]);

		if (unlink(p) < 0 && errno != ENOENT)
			log_warn("unlink %s", p);
		free(p);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("rmdir %s", dir);
	free(dir);
}

void
sq_changed(struct store *st, int64_t account, int64_t mailbox)
{
	if (st->change_fn != NULL)
		st->change_fn(st->change_ctx, account, mailbox);
}

void
store_set_recipient_delimiter(struct store *st, const char *d)
{
	snprintf(st->rcpt_delimiter, sizeof(st->rcpt_delimiter), "%s", d);
}

int
store_open(const char *data_dir, struct store **stp, const char **error_r)
{
	struct store *st = xcalloc(1, sizeof(*st));
	struct db *db;
	char *p;

	pthread_mutex_init(&st->dir_wlock, NULL);
	pthread_mutex_init(&st->purge_mtx, NULL);
	st->data_dir = xstrdup(data_dir);
	st->tmp_dir = xasprintf("%s/tmp", data_dir);
	store_set_recipient_delimiter(st, "+");
	st->generation = atomic_fetch_add(&store_generations, 1);
	p = xasprintf("%s/accounts", data_dir);
	if (mkdir_p(data_dir, 0750) < 0 || mkdir_p(p, 0700) < 0 ||
	    mkdir_p(st->tmp_dir, 0700) < 0) {
		*error_r = db_errmsg("cannot create %s: %s", p,
		    strerror(errno));
		free(p);
		store_close(&st);
		return -1;
	}
	free(p);
	if ((db = sq_dir(st, error_r)) == NULL ||
	    db_migrate(db, dir_migrations, (int)(sizeof(dir_migrations) /
	    sizeof(dir_migrations[0])), error_r) < 0) {
		store_close(&st);
		return -1;
	}
	*stp = st;
	return 0;
}

void
store_close(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
	if (tcache.generation == st->generation)
		tcache_reset();
	pool_drop(st->generation, -1);
	pthread_mutex_destroy(&st->dir_wlock);
	pthread_mutex_destroy(&st->purge_mtx);
	free(st->purge);
	free(st->data_dir);
	free(st->tmp_dir);
	free(st);
	*stp = NULL;
}

void
store_thread_done(struct store *st)
{
	if (tcache.generation == st->generation)
		tcache_reset();
}

void
store_thread_release(struct store *st)
{
	if (tcache.generation != st->generation)
		return;
	for (int i = 0; i < ACCT_CACHE; i++)
		if (tcache.accts[i] != NULL) {
			pool_put(tcache.accts[i], tcache.generation);
			tcache.accts[i] = NULL;
		}
}

const char *
store_tmpdir(const struct store *st)
{
	return st->tmp_dir;
}

void
store_set_change_hook(struct store *st, store_change_fn *fn, void *ctx)
{
	st->change_fn = fn;
	st->change_ctx = ctx;
}

static int
check_one(struct db *db, const char *name, struct buf *report)
{
	sqlite3_stmt *st;
	int ok = 1;

	if (sqlite3_prepare_v2(db->h, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK) {
		buf_printf(report, "%s: %s\n", name, sqlite3_errmsg(db->h));
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (t == NULL || strcmp(t, "ok") != 0) {
			ok = 0;
			buf_printf(report, "%s: %s\n", name, t ? t : "?");
		}
	}
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

static void
check_account_cb(void *ctx, const struct account *a)
{
	void **args = ctx;
	struct store *st = args[0];
	struct buf *report = args[1];
	int *rc = args[2];
	const char *err;
	struct db *db;
	char *path;
	int exists;

	/* A check must not write: an account never used has no files. */
	path = xasprintf("%s/accounts/%lld/mail.db", st->data_dir,
	    (long long)a->id);
	exists = access(path, F_OK) == 0 || errno != ENOENT;
	free(path);
	if (!exists)
		return;
	if ((db = sq_acct(st, a->id, &err)) == NULL) {
		buf_printf(report, "%s: %s\n", a->address, err);
		*rc = -1;
	} else if (check_one(db, a->address, report) < 0)
		*rc = -1;
}

int
store_check(struct store *st, struct buf *report)
{
	const char *err;
	struct db *db = sq_dir(st, &err);
	int rc = 0;
	void *args[3] = { st, report, &rc };

	if (db == NULL) {
		buf_printf(report, "posthorn.db: %s\n", err);
		return -1;
	}
	if (check_one(db, "posthorn.db", report) < 0)
		rc = -1;
	if (store_account_list(st, check_account_cb, args) < 0)
		rc = -1;
	return rc;
}
