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

struct job {
	struct store	*st;
	int64_t		 account;
};

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

int
fts_index_batch(struct store *st, int64_t account, const char **error_r)
{
	struct store_fts_doc *docs;
	struct buf *mimes;
	int64_t *ids;
	size_t n;
	int rc;

	mimes = xcalloc(FTS_INDEX_BATCH, sizeof(*mimes));
	if (store_fts_todo(st, account, FTS_INDEX_BATCH, &ids, mimes, &n,
	    error_r) < 0) {
		free(mimes);
		return -1;
	}
	docs = xcalloc(n + 1, sizeof(*docs));
	for (size_t i = 0; i < n; i++) {
		docs[i].message_id = ids[i];
		/* NULL text: recorded as incomplete, searched by decoding. */
		docs[i].text = message_text(st, account, ids[i], &mimes[i],
		    &docs[i].len);
		buf_free(&mimes[i]);
	}
	rc = store_fts_add(st, account, docs, n, error_r) < 0 ? -1 :
	    n == FTS_INDEX_BATCH;
	for (size_t i = 0; i < n; i++)
		free((char *)docs[i].text);
	free(docs);
	free(mimes);
	free(ids);
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

static void
index_work(void *arg)
{
	struct job *j = arg;
	const char *err = NULL;
	int rc;

	pthread_mutex_lock(&mtx);
	rc = stopping ? 0 : 2;
	pthread_mutex_unlock(&mtx);
	if (rc == 2 && (rc = fts_index_batch(j->st, j->account, &err)) < 0)
		log_warnx("full-text index of account %lld: %s",
		    (long long)j->account, err ? err : "store error");
	if (rc == 1) {
		/* The next batch queues behind whatever came meanwhile. */
		worker_submit(index_work, NULL, j);
		return;
	}
	active_remove(j->account);
	free(j);
}

void
fts_index_kick(struct store *st, int64_t account)
{
	struct job *j;

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
	j = xcalloc(1, sizeof(*j));
	j->st = st;
	j->account = account;
	worker_submit(index_work, NULL, j);
}

void
fts_index_stop(void)
{
	pthread_mutex_lock(&mtx);
	stopping = true;
	pthread_mutex_unlock(&mtx);
}
