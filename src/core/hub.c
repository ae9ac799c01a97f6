/*
 * hub - in-process change notification between threads.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "hub.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

#define HUB_BUCKETS	1024

struct hub_sub {
	int64_t		 account;
	int64_t		 mailbox;
	hub_fn		*fn;
	void		*ctx;
	struct iothread	*thr;
	unsigned	 refs;		/* 1 for the table + posts in flight */
	bool		 pending;	/* a post is in flight */
	bool		 dead;
	struct hub_sub	*next;
};

static pthread_mutex_t hub_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct hub_sub *buckets[HUB_BUCKETS];

static unsigned
bucket(int64_t account)
{
	return (unsigned)((uint64_t)account * 0x9E3779B97F4A7C15ULL >> 54) %
	    HUB_BUCKETS;
}

struct hub_sub *
hub_subscribe(int64_t account, int64_t mailbox, hub_fn *fn, void *ctx)
{
	struct hub_sub *s = xcalloc(1, sizeof(*s));
	unsigned b = bucket(account);

	s->account = account;
	s->mailbox = mailbox;
	s->fn = fn;
	s->ctx = ctx;
	s->thr = iothread_self();
	PH_ASSERT(s->thr != NULL);
	s->refs = 1;
	pthread_mutex_lock(&hub_mtx);
	s->next = buckets[b];
	buckets[b] = s;
	pthread_mutex_unlock(&hub_mtx);
	return s;
}

static void
sub_unref_locked(struct hub_sub *s)
{
	if (--s->refs == 0)
		free(s);
}

void
hub_unsubscribe(struct hub_sub **sp)
{
	struct hub_sub *s = *sp, **pp;

	if (s == NULL)
		return;
	pthread_mutex_lock(&hub_mtx);
	for (pp = &buckets[bucket(s->account)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->dead = true;
	sub_unref_locked(s);
	pthread_mutex_unlock(&hub_mtx);
	*sp = NULL;
}

static void
deliver_cb(void *arg)
{
	struct hub_sub *s = arg;
	bool dead;

	pthread_mutex_lock(&hub_mtx);
	s->pending = false;
	dead = s->dead;
	pthread_mutex_unlock(&hub_mtx);
	/*
	 * Unsubscribe happens on this same thread, so s->dead can't change
	 * between the check and the call.
	 */
	if (!dead)
		s->fn(s->ctx);
	pthread_mutex_lock(&hub_mtx);
	sub_unref_locked(s);
	pthread_mutex_unlock(&hub_mtx);
}

void
hub_publish(int64_t account, int64_t mailbox)
{
	pthread_mutex_lock(&hub_mtx);
	for (struct hub_sub *s = buckets[bucket(account)]; s != NULL;
	    s = s->next) {
		if (s->account != account || s->dead || s->pending)
			continue;
		if (s->mailbox != 0 && s->mailbox != mailbox)
			continue;
		s->pending = true;
		s->refs++;
		iothread_post(s->thr, deliver_cb, s);
	}
	pthread_mutex_unlock(&hub_mtx);
}
