/*
 * fts_index - fills an account's full-text index in the background.
 *
 * SEARCH answers BODY and TEXT from the index for the messages the index
 * holds and decodes the others as it goes (no search waits for indexing);
 * then it calls fts_index_kick(), and the rest of the account is indexed
 * in the background, one batch per job: the text is extracted on the
 * background lane (nice 19, worker.h) and written on the store lane, so
 * that indexing takes only the CPU nobody else wants, holds the account's
 * write lock only for its insert, and the next search finds it filled.
 */
#ifndef POSTHORN_FTS_INDEX_H
#define POSTHORN_FTS_INDEX_H

#include <stdint.h>

struct store;

/* Messages indexed per job; their text is bounded by FTS_INDEX_TEXT_MAX. */
#define FTS_INDEX_BATCH		200
/* Most text indexed per message; a longer one is marked incomplete. */
#define FTS_INDEX_TEXT_MAX	((size_t)1024 * 1024)

/* Starts indexing the account unless it is already under way. */
void	 fts_index_kick(struct store *, int64_t account);
/* No batch starts after this (before workers_stop()). */
void	 fts_index_stop(void);
/* Indexes one batch now, on the calling thread: 1 more to do, 0, -1. */
int	 fts_index_batch(struct store *, int64_t account, const char **error_r);

#endif
