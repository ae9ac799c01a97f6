/*
 * Private to the sqlite backend: the store object and per-thread handles.
 */
#ifndef POSTHORN_SQLITE_INT_H
#define POSTHORN_SQLITE_INT_H

#include "db.h"
#include "store/store.h"

struct store {
	char		*data_dir;
	char		*tmp_dir;
	uint64_t	 generation;	/* tells thread caches apart */
	pthread_mutex_t	 dir_wlock;	/* posthorn.db writers (db.h) */
	/* Accounts with expunged messages to purge, and from when. */
	pthread_mutex_t	 purge_mtx;
	struct {
		int64_t	 account;
		int64_t	 due;
	}		*purge;
	size_t		 npurge;
	store_change_fn	*change_fn;
	void		*change_ctx;
	void		(*queue_fn)(void *);
	void		*queue_ctx;
	char		 rcpt_delimiter[8];	/* "+": user+ext@domain */
};

/* The calling thread's connection to posthorn.db / an account's mail.db. */
struct db *sq_dir(struct store *, const char **error_r);
struct db *sq_acct(struct store *, int64_t account, const char **error_r);
void	 sq_changed(struct store *, int64_t account, int64_t mailbox);
/* Purge the account's unreferenced messages once due (store_purge_due). */
void	 sq_purge_later(struct store *, int64_t account, int64_t due);
/* How many account connections were opened so far (for tests). */
uint64_t sq_acct_opens(void);
/* Removes data_dir/accounts/<id> (after the account row is gone). */
void	 sq_acct_remove_files(struct store *, int64_t account);
/* Streams a spool into the zero-filled blob column of an existing row. */
int	 sq_write_blob(struct db *, const char *table, const char *column,
	    int64_t rowid, const struct store_msg *, const char **error_r);

#endif
