/*
 * fts_index - background filling of the full-text index (fts_index.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "fts_index.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "store.h"

/* Accounts being indexed: one chain of jobs each. */
#define ACTIVE_MAX	64

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static int64_t active[ACTIVE_MAX];
static size_t nactive;
static bool stopping;

struct reader {
	struct store	*st;
	int64_t		 account;
	int64_t		 message_id;
	struct buf	 tmp;
};

static ssize_t
body_read(void *ctx, void *dst, size_t len, uint64_t off)
{
	struct reader *r = ctx;
	const char *err;

	buf_reset(&r->tmp);
	if (store_body_read(r->st, r->account, r->message_id, off, len,
	    &r->tmp, &err) < 0)
		return -1;
	if (r->tmp.len > 0)
		memcpy(dst, r->tmp.data, r->tmp.len);
	return (ssize_t)r->tmp.len;
}

/* The folded text of one message's text parts; NULL if not whole. */
static char *
message_text(struct store *st, int64_t account, int64_t id,
    const struct buf *mime, size_t *len_r)
{
	struct mime_part *root;
	struct reader r;
	struct buf raw = BUF_INIT, folded = BUF_INIT;
	const char *err;
	int ret;

	*len_r = 0;
	if ((root = mime_deserialize(mime->data, mime->len, &err)) == NULL)
		return NULL;
	memset(&r, 0, sizeof(r));
	r.st = st;
	r.account = account;
	r.message_id = id;
	buf_init(&r.tmp);
	ret = mime_text_extract(root, body_read, &r, MIME_WALK_HTML,
	    FTS_INDEX_TEXT_MAX, 0, &raw);
	buf_free(&r.tmp);
	mime_part_free(&root);
	if (ret != 0) {
		buf_free(&raw);
		return NULL;
	}
	mime_fold_utf8(raw.data ? raw.data : "", raw.len, &folded);
	buf_free(&raw);
	*len_r = folded.len;
	return buf_steal(&folded);
}

/* One batch: its texts are made on the background lane, stored on the
 * store lane. */
struct batch {
	struct store	*st;
	int64_t		 account;
	struct store_fts_doc *docs;
	size_t		 n;
	int		 rc;		/* -1 if the todo list failed */
	const char	*error;
};

static void
batch_extract(struct batch *b)
{
	struct buf *mimes;
	int64_t *ids;

	b->n = 0;
	b->docs = NULL;
	mimes = xcalloc(FTS_INDEX_BATCH, sizeof(*mimes));
	if (store_fts_todo(b->st, b->account, FTS_INDEX_BATCH, &ids, mimes,
	    &b->n, &b->error) < 0) {
		free(mimes);
		b->rc = -1;
		return;
	}
	b->rc = 0;
	b->docs = xcalloc(b->n + 1, sizeof(*b->docs));
	for (size_t i = 0; i < b->n; i++) {
		b->docs[i].message_id = ids[i];
		/* NULL text: recorded as incomplete, searched by decoding. */
		b->docs[i].text = message_text(b->st, b->account, ids[i],
		    &mimes[i], &b->docs[i].len);
		buf_free(&mimes[i]);
	}
	free(mimes);
	free(ids);
}

/* 1 if there may be more to do, 0 if not, -1 on error. */
static int
batch_store(struct batch *b)
{
	int rc = b->rc;

	if (rc == 0 && b->n > 0)
		rc = store_fts_add(b->st, b->account, b->docs, b->n,
		    &b->error) < 0 ? -1 : b->n == FTS_INDEX_BATCH;
	for (size_t i = 0; i < b->n; i++)
		free((char *)b->docs[i].text);
	free(b->docs);
	b->docs = NULL;
	b->n = 0;
	return rc;
}

int
fts_index_batch(struct store *st, int64_t account, const char **error_r)
{
	struct batch b;
	int rc;

	memset(&b, 0, sizeof(b));
	b.st = st;
	b.account = account;
	batch_extract(&b);
	if ((rc = batch_store(&b)) < 0)
		*error_r = b.error;
	return rc;
}

static void
active_remove(int64_t account)
{
	pthread_mutex_lock(&mtx);
	for (size_t i = 0; i < nactive; i++)
		if (active[i] == account) {
			active[i] = active[--nactive];
			break;
		}
	pthread_mutex_unlock(&mtx);
}

static bool
is_stopping(void)
{
	bool r;

	pthread_mutex_lock(&mtx);
	r = stopping;
	pthread_mutex_unlock(&mtx);
	return r;
}

static void store_work(void *);

/*
 * Decoding and folding, the CPU-heavy part, runs on the background lane;
 * the index's write transaction runs on the store lane at normal
 * priority, so no starved thread ever holds the account's write lock.
 */
static void
extract_work(void *arg)
{
	struct batch *b = arg;

	if (is_stopping()) {
		active_remove(b->account);
		free(b);
		return;
	}
	batch_extract(b);
	worker_submit(store_work, NULL, b);
}

static void
store_work(void *arg)
{
	struct batch *b = arg;
	int rc = batch_store(b);

	if (rc < 0)
		log_warnx("full-text index of account %lld: %s",
		    (long long)b->account, b->error ? b->error :
		    "store error");
	if (rc == 1) {
		/* Under the lock: fts_index_stop() then sees it queued. */
		pthread_mutex_lock(&mtx);
		if (!stopping) {
			worker_submit_to(WORKER_BACKGROUND, extract_work,
			    NULL, b);
			pthread_mutex_unlock(&mtx);
			return;
		}
		pthread_mutex_unlock(&mtx);
	}
	active_remove(b->account);
	free(b);
}

void
fts_index_kick(struct store *st, int64_t account)
{
	struct batch *b;

	pthread_mutex_lock(&mtx);
	for (size_t i = 0; i < nactive; i++)
		if (active[i] == account) {
			pthread_mutex_unlock(&mtx);
			return;
		}
	if (stopping || nactive == ACTIVE_MAX) {
		/* The next search asks again. */
		pthread_mutex_unlock(&mtx);
		return;
	}
	active[nactive++] = account;
	pthread_mutex_unlock(&mtx);
	b = xcalloc(1, sizeof(*b));
	b->st = st;
	b->account = account;
	worker_submit_to(WORKER_BACKGROUND, extract_work, NULL, b);
}

void
fts_index_stop(void)
{
	pthread_mutex_lock(&mtx);
	stopping = true;
	pthread_mutex_unlock(&mtx);
}
