/*
 * ratelimit - events per minute per key (see ratelimit.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "xmalloc.h"

#define RL_BUCKETS	1024
#define RL_WINDOW_MS	60000ULL
#define RL_SWEEP	4096

struct rl_entry {
	struct rl_entry	*next;
	uint64_t	 window;	/* now_ms / RL_WINDOW_MS */
	unsigned	 cur;		/* events in that window */
	unsigned	 prev;		/* events in the window before */
	char		 key[];
};

struct ratelimit {
	pthread_mutex_t	 mtx;
	unsigned	 limit;
	unsigned	 nkeys;
	unsigned	 hits;		/* a full sweep every RL_SWEEP */
	struct rl_entry	*bucket[RL_BUCKETS];
};

struct ratelimit *
ratelimit_new(unsigned per_minute)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	pthread_mutex_init(&rl->mtx, NULL);
	rl->limit = per_minute;
	return rl;
}

void
ratelimit_free(struct ratelimit **rlp)
{
	struct ratelimit *rl = *rlp;

	if (rl == NULL)
		return;
	for (size_t i = 0; i < RL_BUCKETS; i++) {
		struct rl_entry *e, *next;

		for (e = rl->bucket[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&rl->mtx);
	free(rl);
	*rlp = NULL;
}

static unsigned
rl_hash(const char *key)
{
	unsigned h = 5381;

	for (; *key != '\0'; key++)
		h = h * 33 + (unsigned char)*key;
	return h % RL_BUCKETS;
}

/* Moves an entry's counts to the window of now. */
static void
rl_roll(struct rl_entry *e, uint64_t window)
{
	if (window == e->window)
		return;
	e->prev = window == e->window + 1 ? e->cur : 0;
	e->cur = 0;
	e->window = window;
}

/* Forgets every key idle for two windows (keys of buckets not hit again). */
static void
rl_sweep(struct ratelimit *rl, uint64_t window)
{
	for (size_t i = 0; i < RL_BUCKETS; i++) {
		struct rl_entry **pp, *e;

		for (pp = &rl->bucket[i]; (e = *pp) != NULL;) {
			if (e->window + 2 <= window) {
				*pp = e->next;
				free(e);
				rl->nkeys--;
			} else
				pp = &e->next;
		}
	}
}

bool
ratelimit_hit(struct ratelimit *rl, const char *key, uint64_t now_ms)
{
	uint64_t window = now_ms / RL_WINDOW_MS;
	uint64_t into = now_ms % RL_WINDOW_MS;
	struct rl_entry **pp, *e, *found = NULL;
	unsigned h;
	uint64_t estimate;
	bool over;

	if (rl == NULL || rl->limit == 0)
		return false;
	h = rl_hash(key);
	pthread_mutex_lock(&rl->mtx);
	if (++rl->hits % RL_SWEEP == 0)
		rl_sweep(rl, window);
	/* Look for the key; drop what has been idle for two windows. */
	for (pp = &rl->bucket[h]; (e = *pp) != NULL;) {
		if (strcmp(e->key, key) == 0) {
			found = e;
			pp = &e->next;
			continue;
		}
		if (e->window + 2 <= window) {
			*pp = e->next;
			free(e);
			rl->nkeys--;
			continue;
		}
		pp = &e->next;
	}
	if ((e = found) == NULL) {
		size_t len = strlen(key) + 1;

		e = xcalloc(1, sizeof(*e) + len);
		memcpy(e->key, key, len);
		e->window = window;
		e->next = rl->bucket[h];
		rl->bucket[h] = e;
		rl->nkeys++;
	}
	rl_roll(e, window);
	if (e->cur < UINT32_MAX)
		e->cur++;
	/* The last minute: all of this window, the rest of the last. */
	estimate = e->cur + (uint64_t)e->prev * (RL_WINDOW_MS - into) /
	    RL_WINDOW_MS;
	over = estimate > rl->limit;
	pthread_mutex_unlock(&rl->mtx);
	return over;
}

unsigned
ratelimit_keys(struct ratelimit *rl)
{
	unsigned n;

	pthread_mutex_lock(&rl->mtx);
	n = rl->nkeys;
	pthread_mutex_unlock(&rl->mtx);
	return n;
}
