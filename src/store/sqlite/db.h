/*
 * db - thin helpers over one sqlite3 connection, private to the sqlite
 * backend: a prepared-statement cache, transactions with BEGIN IMMEDIATE,
 * numbered migrations kept in PRAGMA user_version, and per-thread errors.
 */
#ifndef POSTHORN_SQLITE_DB_H
#define POSTHORN_SQLITE_DB_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define DB_STMT_CACHE	64
#define DB_BUSY_SECS	10	/* a writer waits this long for the lock */

struct db {
	sqlite3		*h;
	const char	*keys[DB_STMT_CACHE];
	sqlite3_stmt	*stmts[DB_STMT_CACHE];
	int64_t		 account;	/* -1 for posthorn.db */
	uint64_t	 last_used;
	int		 in_tx;
	int		 nospace;	/* the last failure was a full disk */
	/*
	 * Shared by this process's connections to the same file: writers
	 * queue here and the next one starts the moment the last commits,
	 * where sqlite's busy handler would have them sleep 1, 2, 5, 10...
	 * ms between tries.  NULL: sqlite's busy handler alone.
	 */
	pthread_mutex_t	*wlock;
};

/* Opens path (creating it), sets WAL, synchronous=FULL, busy timeout. */
int	 db_open(const char *path, struct db **, const char **error_r);
void	 db_close(struct db **);
/* Applies migrations[version..n-1]; each one in its own transaction. */
int	 db_migrate(struct db *, const char *const *migrations, int n,
	    const char **error_r);
/*
 * Returns a reset, unbound statement for sql, prepared once per connection.
 * sql must be a string literal (its address is the cache key).
 */
sqlite3_stmt *db_prep(struct db *, const char *sql, const char **error_r);
int	 db_exec(struct db *, const char *sql, const char **error_r);
int	 db_begin(struct db *, const char **error_r);
int	 db_commit(struct db *, const char **error_r);
void	 db_rollback(struct db *);
/* Formats "what: sqlite message" into a per-thread buffer. */
const char *db_err(struct db *, const char *what);
const char *db_errmsg(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* -1, or STORE_NOSPACE when the last failure was a full disk. */
int	 db_failure(struct db *);

/* Binds helpers; text may be NULL (binds NULL). */
void	 db_bind_text(sqlite3_stmt *, int, const char *);
/*
 * sqlite3_step that treats SQLITE_ROW/DONE as success: 1 row, 0 done,
 * -1 error.  Inline, so that the static analyzer sees that nothing else
 * comes back (it would follow "2" paths with outputs left unwritten).
 */
static inline int
db_step(sqlite3_stmt *st)
{
	int r = sqlite3_step(st);

	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE)
		return 0;
	return -1;
}

#endif
