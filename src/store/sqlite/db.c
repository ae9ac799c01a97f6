/*
 * db - helpers over one sqlite3 connection (sqlite backend only).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "db.h"

static __thread char db_errbuf[512];

const char *
db_errmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(db_errbuf, sizeof(db_errbuf), fmt, ap);
	va_end(ap);
	return db_errbuf;
}

const char *
db_err(struct db *db, const char *what)
{
	return db_errmsg("%s: %s", what, db && db->h ? sqlite3_errmsg(db->h) :
	    "no database");
}

/*
 * Setting journal_mode can meet SQLITE_BUSY without sqlite calling the
 * busy handler: the first connections to a new database race to switch
 * it to WAL, each reads the header and then wants the write lock, and
 * sqlite refuses that read-to-write upgrade at once while another holds
 * it (waiting could deadlock).  Retry for as long as the busy timeout, a
 * few milliseconds apart; a retry finds WAL already set.
 */
static int
db_journal_wal(struct db *db, const char **error_r)
{
	struct timespec now, until, pause = { 0, 2000000L };

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += DB_BUSY_SECS;
	for (;;) {
		if (db_exec(db, "PRAGMA journal_mode=WAL", error_r) == 0)
			return 0;
		if ((sqlite3_errcode(db->h) & 0xff) != SQLITE_BUSY)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > until.tv_sec || (now.tv_sec == until.tv_sec &&
		    now.tv_nsec >= until.tv_nsec))
			return -1;
		nanosleep(&pause, NULL);
	}
}

int
db_open(const char *path, struct db **dbp, const char **error_r)
{
	struct db *db = xcalloc(1, sizeof(*db));
	int r;

	db->account = -1;
	r = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (r != SQLITE_OK) {
		*error_r = db_errmsg("%s: %s", path, db->h ?
		    sqlite3_errmsg(db->h) : sqlite3_errstr(r));
		sqlite3_close(db->h);
		free(db);
		return -1;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, DB_BUSY_SECS * 1000);
	if (db_journal_wal(db, error_r) < 0 ||
	    db_exec(db, "PRAGMA synchronous=FULL", error_r) < 0 ||
	    db_exec(db, "PRAGMA foreign_keys=ON", error_r) < 0 ||
	    db_exec(db, "PRAGMA secure_delete=OFF", error_r) < 0) {
		db_close(&db);
		return -1;
	}
	*dbp = db;
	return 0;
}

void
db_close(struct db **dbp)
{
	struct db *db = *dbp;

	if (db == NULL)
		return;
	if (db->in_tx)
		db_rollback(db);
	for (int i = 0; i < DB_STMT_CACHE; i++)
		if (db->stmts[i] != NULL)
			sqlite3_finalize(db->stmts[i]);
	sqlite3_close(db->h);
	free(db);
	*dbp = NULL;
}

int
db_exec(struct db *db, const char *sql, const char **error_r)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*error_r = db_errmsg("%s", msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int
db_migrate(struct db *db, const char *const *migrations, int n,
    const char **error_r)
{
	sqlite3_stmt *st;
	int version = 0;

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK) {
		*error_r = db_err(db, "user_version");
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > n) {
		*error_r = db_errmsg("database schema version %d is newer "
		    "than this program (%d)", version, n);
		return -1;
	}
	for (int v = version; v < n; v++) {
		char pragma[64];

		if (db_begin(db, error_r) < 0)
			return -1;
		/* Another process may have migrated meanwhile. */
		if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st,
		    NULL) == SQLITE_OK) {
			int now = 0;

			if (sqlite3_step(st) == SQLITE_ROW)
				now = sqlite3_column_int(st, 0);
			sqlite3_finalize(st);
			if (now > v) {
				db_rollback(db);
				v = now - 1;
				continue;
			}
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d",
		    v + 1);
		if (db_exec(db, migrations[v], error_r) < 0 ||
		    db_exec(db, pragma, error_r) < 0) {
			db_rollback(db);
			*error_r = db_errmsg("migration %d: %s", v + 1,
			    *error_r);
			return -1;
		}
		if (db_commit(db, error_r) < 0)
			return -1;
	}
	return 0;
}

sqlite3_stmt *
db_prep(struct db *db, const char *sql, const char **error_r)
{
	uintptr_t h = (uintptr_t)sql;
	unsigned slot = (unsigned)((h >> 3) ^ (h >> 11)) % DB_STMT_CACHE;
	sqlite3_stmt *st;

	for (unsigned i = 0; i < DB_STMT_CACHE; i++) {
		unsigned s = (slot + i) % DB_STMT_CACHE;

		if (db->keys[s] == sql) {
			sqlite3_reset(db->stmts[s]);
			sqlite3_clear_bindings(db->stmts[s]);
			return db->stmts[s];
		}
		if (db->keys[s] == NULL) {
			slot = s;
			goto prepare;
		}
	}
	/* Cache full: evict the home slot. */
	sqlite3_finalize(db->stmts[slot]);
	db->stmts[slot] = NULL;
	db->keys[slot] = NULL;
prepare:
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK) {
		*error_r = db_err(db, "prepare");
		log_warnx("sqlite prepare failed: %s: %s", sqlite3_errmsg(db->h),
		    sql);
		return NULL;
	}
	db->keys[slot] = sql;
	db->stmts[slot] = st;
	return st;
}

static bool
db_full_now(struct db *db)
{
	int ext = sqlite3_extended_errcode(db->h);

	return (ext & 0xff) == SQLITE_FULL || ((ext & 0xff) == SQLITE_IOERR &&
	    sqlite3_system_errno(db->h) == ENOSPC);
}

static void
db_unlock(struct db *db)
{
	if (db->wlock != NULL && db->in_tx)
		pthread_mutex_unlock(db->wlock);
	db->in_tx = 0;
}

int
db_begin(struct db *db, const char **error_r)
{
	if (db->in_tx) {
		log_warnx("db: a transaction was left open; rolled back");
		db_rollback(db);
	}
	if (db->wlock != NULL) {
		struct timespec until;

		/* As long as sqlite's busy timeout (db_open). */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += DB_BUSY_SECS;
		if (pthread_mutex_timedlock(db->wlock, &until) != 0) {
			*error_r = db_errmsg("database is locked");
			return -1;
		}
	}
	db->in_tx = 1;
	if (db_exec(db, "BEGIN IMMEDIATE", error_r) < 0) {
		db_unlock(db);
		return -1;
	}
	return 0;
}

int
db_commit(struct db *db, const char **error_r)
{
	if (db_exec(db, "COMMIT", error_r) < 0) {
		/* Remember why before ROLLBACK replaces the error code. */
		db->nospace = db_full_now(db);
		db_rollback(db);
		return -1;
	}
	db_unlock(db);
	return 0;
}

void
db_rollback(struct db *db)
{
	const char *err;

	if (!db->nospace)
		db->nospace = db_full_now(db);
	if (sqlite3_get_autocommit(db->h) == 0)
		(void)db_exec(db, "ROLLBACK", &err);
	db_unlock(db);
}

int
db_failure(struct db *db)
{
	bool full = db->nospace || db_full_now(db);

	db->nospace = false;
	return full ? -3 : -1;	/* -3: STORE_NOSPACE */
}

void
db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}
