/*
 * imap_snap - the message table of big mailboxes (uids, flags, keyword
 * hashes) kept in memory between SELECTs, shared by every session and
 * thread.  A SELECT copies the newest snapshot of its mailbox and reads
 * only the store's change feed since it (mails with a higher modseq,
 * expunge tombstones), where a load would read every mail of the mailbox:
 * a 100,000-message INBOX is 0.9 MB to copy instead of 100,000 rows.
 * This is what Dovecot's mmap'd index gives its SELECT.
 *
 * Snapshots are immutable once published; a loader that applied changes
 * publishes a new one, and the old one is freed by its last reader.  They
 * are kept for mailboxes of SNAP_MIN messages or more (smaller ones load
 * in well under a millisecond) up to SNAP_BYTES in all, least recently
 * used first out.  Correctness needs only what the change feed already
 * promises the sessions (store.h): every change to a mail raises its
 * modseq, every expunge leaves a tombstone, and modseqs are handed out in
 * commit order.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "imap_session.h"
#include "server.h"
#include "store/store.h"

/* A build with -DSNAP_MIN=1 snapshots every mailbox (imaptest stress). */
#ifndef SNAP_MIN
#define SNAP_MIN	1024
#endif
#define SNAP_BYTES	(64UL << 20)
#define SNAP_MAX	256

struct snap {
	int64_t		 account;
	int64_t		 mailbox;
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 modseq;
	uint32_t	 count;
	uint32_t	*uids;
	uint8_t		*flags;
	uint32_t	*kwhash;
	char		*keywords;
	size_t		 kwlen;
	size_t		 bytes;
	unsigned	 refs;		/* the table's and each reader's */
	uint64_t	 used;		/* LRU clock */
};

static pthread_mutex_t snap_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct snap *table[SNAP_MAX];
static size_t nsnaps, snap_bytes;
static uint64_t snap_clock;

/* With snap_mtx held. */
static void
snap_unref_locked(struct snap *sn)
{
	if (--sn->refs > 0)
		return;
	free(sn->uids);
	free(sn->flags);
	free(sn->kwhash);
	free(sn->keywords);
	free(sn);
}

static void
unlink_at(size_t i)
{
	struct snap *sn = table[i];

	snap_bytes -= sn->bytes;
	table[i] = table[--nsnaps];
	snap_unref_locked(sn);
}

static ssize_t
find_locked(int64_t account, int64_t mailbox)
{
	for (size_t i = 0; i < nsnaps; i++)
		if (table[i]->account == account &&
		    table[i]->mailbox == mailbox)
			return (ssize_t)i;
	return -1;
}

static void
view_reserve(struct imap_view *v, uint32_t need)
{
	if (need <= v->cap)
		return;
	v->cap = need + need / 8 + 64;
	v->uids = xreallocarray(v->uids, v->cap, sizeof(*v->uids));
	v->flags = xreallocarray(v->flags, v->cap, sizeof(*v->flags));
	v->kwhash = xreallocarray(v->kwhash, v->cap, sizeof(*v->kwhash));
}

/*
 * Applies the changes silently: this view has not been shown to anyone.
 * A row is the mail's whole state, so applying one twice is harmless; a
 * tombstone for a uid the view lacks is too.
 */
static void
delta_apply(struct imap_view *v, const struct imap_changes *d)
{
	for (size_t i = 0; i < d->nrows; i++) {
		const struct mail_row *r = &d->rows[i];
		bool found;
		uint32_t at = imap_view_index(v, r->uid, &found);

		if (!found) {
			view_reserve(v, v->count + 1);
			memmove(&v->uids[at + 1], &v->uids[at],
			    (v->count - at) * sizeof(*v->uids));
			memmove(&v->flags[at + 1], &v->flags[at],
			    (v->count - at) * sizeof(*v->flags));
			memmove(&v->kwhash[at + 1], &v->kwhash[at],
			    (v->count - at) * sizeof(*v->kwhash));
			v->uids[at] = r->uid;
			v->count++;
		}
		v->flags[at] = (uint8_t)(r->flags & MAIL_FLAGS_ALL);
		v->kwhash[at] = imap_keyword_hash(r->keywords);
		if (r->keywords != NULL && *r->keywords != '\0')
			imap_view_add_keywords(v, r->keywords);
		if (r->uid >= v->uidnext)
			v->uidnext = r->uid + 1;
	}
	if (d->nexpunged == 0)
		return;
	/* Tombstones come in uid order: one pass marks them all. */
	for (uint32_t i = 0, g = 0; i < v->count; i++) {
		while (g < d->nexpunged && d->expunged[g] < v->uids[i])
			g++;
		if (g < d->nexpunged && d->expunged[g] == v->uids[i])
			v->flags[i] = VIEW_DROP;
	}
	imap_view_drop_marked(v);
}

static void
publish(const struct imap_view *v, int64_t account)
{
	struct snap *sn = xcalloc(1, sizeof(*sn));
	ssize_t at;

	sn->account = account;
	sn->mailbox = v->mailbox;
	sn->uidvalidity = v->uidvalidity;
	sn->uidnext = v->uidnext;
	sn->modseq = v->modseq;
	sn->count = v->count;
	sn->uids = xcalloc(v->count, sizeof(*sn->uids));
	sn->flags = xcalloc(v->count, sizeof(*sn->flags));
	sn->kwhash = xcalloc(v->count, sizeof(*sn->kwhash));
	memcpy(sn->uids, v->uids, v->count * sizeof(*sn->uids));
	memcpy(sn->flags, v->flags, v->count * sizeof(*sn->flags));
	memcpy(sn->kwhash, v->kwhash, v->count * sizeof(*sn->kwhash));
	sn->kwlen = v->keywords.len;
	sn->keywords = xmalloc(sn->kwlen + 1);
	memcpy(sn->keywords, v->keywords.data ? v->keywords.data : "",
	    sn->kwlen);
	sn->bytes = sizeof(*sn) + sn->kwlen + (size_t)v->count *
	    (sizeof(*sn->uids) + sizeof(*sn->flags) + sizeof(*sn->kwhash));
	sn->refs = 1;

	pthread_mutex_lock(&snap_mtx);
	sn->used = ++snap_clock;
	if ((at = find_locked(account, v->mailbox)) >= 0) {
		/* Someone else published a newer one meanwhile: keep it. */
		if (table[at]->uidvalidity == sn->uidvalidity &&
		    table[at]->modseq >= sn->modseq) {
			table[at]->used = sn->used;
			snap_unref_locked(sn);
			pthread_mutex_unlock(&snap_mtx);
			return;
		}
		unlink_at((size_t)at);
	}
	while (nsnaps > 0 && (nsnaps == SNAP_MAX ||
	    snap_bytes + sn->bytes > SNAP_BYTES)) {
		size_t old = 0;

		for (size_t i = 1; i < nsnaps; i++)
			if (table[i]->used < table[old]->used)
				old = i;
		unlink_at(old);
	}
	if (sn->bytes <= SNAP_BYTES) {
		table[nsnaps++] = sn;
		snap_bytes += sn->bytes;
	} else
		snap_unref_locked(sn);
	pthread_mutex_unlock(&snap_mtx);
}

/* The snapshot of v's mailbox copied into v, or false if there is none. */
static bool
copy_snapshot(struct imap_view *v, int64_t account)
{
	struct snap *sn;
	ssize_t at;

	pthread_mutex_lock(&snap_mtx);
	at = find_locked(account, v->mailbox);
	if (at >= 0 && table[at]->uidvalidity != v->uidvalidity) {
		unlink_at((size_t)at);
		at = -1;
	}
	if (at < 0) {
		pthread_mutex_unlock(&snap_mtx);
		return false;
	}
	sn = table[at];
	sn->refs++;
	sn->used = ++snap_clock;
	pthread_mutex_unlock(&snap_mtx);

	/* Immutable while referenced: copied without the lock. */
	view_reserve(v, sn->count);
	memcpy(v->uids, sn->uids, sn->count * sizeof(*v->uids));
	memcpy(v->flags, sn->flags, sn->count * sizeof(*v->flags));
	memcpy(v->kwhash, sn->kwhash, sn->count * sizeof(*v->kwhash));
	v->count = sn->count;
	v->modseq = sn->modseq;
	if (sn->uidnext > v->uidnext)
		v->uidnext = sn->uidnext;
	buf_reset(&v->keywords);
	buf_append(&v->keywords, sn->keywords, sn->kwlen);

	pthread_mutex_lock(&snap_mtx);
	snap_unref_locked(sn);
	pthread_mutex_unlock(&snap_mtx);
	return true;
}

int
imap_snap_load(struct imap_view *v, int64_t account, uint64_t highestmodseq,
    const char **error_r)
{
	struct imap_changes d;
	uint64_t since;

	if (!copy_snapshot(v, account))
		return 0;
	since = v->modseq;
	if (highestmodseq > since) {
		if (imap_changes_read(account, v->mailbox, since, &d,
		    error_r) < 0) {
			imap_changes_free(&d);
			v->count = 0;
			return -1;
		}
		delta_apply(v, &d);
		imap_changes_free(&d);
		v->modseq = highestmodseq;
		publish(v, account);
	}
	return 1;
}

void
imap_snap_put(const struct imap_view *v, int64_t account)
{
	if (v->count >= SNAP_MIN)
		publish(v, account);
}

void
imap_snap_stats(size_t *count_r, size_t *bytes_r)
{
	pthread_mutex_lock(&snap_mtx);
	*count_r = nsnaps;
	*bytes_r = snap_bytes;
	pthread_mutex_unlock(&snap_mtx);
}
