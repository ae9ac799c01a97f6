/*
 * imap_recent - who saw a message first (RFC 3501 \Recent).
 *
 * A message is \Recent in exactly one session: the first to be told about
 * it.  Sessions claim "everything below uidnext" of a mailbox atomically
 * here; the value also persists in the store at SELECT, so a restart does
 * not make old mail recent again.  Kept in memory because the claim happens
 * on the I/O thread whenever new mail shows up, where a durable write
 * would block.
 */
#include <pthread.h>
#include <stdlib.h>

#include "core/xmalloc.h"
#include "imap_session.h"

#define RECENT_BUCKETS	1024

struct recent_entry {
	int64_t		 account;
	int64_t		 mailbox;
	uint32_t	 first_recent;
	struct recent_entry *next;
};

static pthread_mutex_t recent_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct recent_entry *recent_buckets[RECENT_BUCKETS];

static struct recent_entry *
recent_find(unsigned b, int64_t account, int64_t mailbox)
{
	struct recent_entry *e;

	for (e = recent_buckets[b]; e != NULL; e = e->next)
		if (e->account == account && e->mailbox == mailbox)
			break;
	return e;
}

uint32_t
imap_recent_peek(int64_t account, int64_t mailbox, uint32_t stored_first)
{
	unsigned b = (unsigned)(((uint64_t)account * 31 + (uint64_t)mailbox) %
	    RECENT_BUCKETS);
	struct recent_entry *e;
	uint32_t first = stored_first;

	pthread_mutex_lock(&recent_mtx);
	if ((e = recent_find(b, account, mailbox)) != NULL &&
	    e->first_recent > first)
		first = e->first_recent;
	pthread_mutex_unlock(&recent_mtx);
	return first;
}

uint32_t
imap_recent_claim(int64_t account, int64_t mailbox, uint32_t stored_first,
    uint32_t uidnext)
{
	unsigned b = (unsigned)(((uint64_t)account * 31 + (uint64_t)mailbox) %
	    RECENT_BUCKETS);
	struct recent_entry *e;
	uint32_t prev;

	pthread_mutex_lock(&recent_mtx);
	if ((e = recent_find(b, account, mailbox)) == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->account = account;
		e->mailbox = mailbox;
		e->first_recent = stored_first;
		e->next = recent_buckets[b];
		recent_buckets[b] = e;
	}
	prev = e->first_recent;
	if (uidnext > e->first_recent)
		e->first_recent = uidnext;
	pthread_mutex_unlock(&recent_mtx);
	return prev;
}
