/*
 * authfail - failed-login bookkeeping: growing delays, address lock-out.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authfail.h"
#include "core/util.h"
#include "core/xmalloc.h"

#define AF_BUCKETS	4096
#define AF_MAX_ENTRIES	100000
#define AF_KEY_MAX	340

struct af_entry {
	char		 key[AF_KEY_MAX];	/* "i:1.2.3.4" or "u:name" */
	unsigned	 failures;
	time_t		 last;
	time_t		 locked_until;
	struct af_entry	*next;
};

static pthread_mutex_t af_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct af_entry *af_buckets[AF_BUCKETS];
static size_t af_count;
static struct authfail_limits af_limits = { 2000, 15000, 20, 900 };

void
authfail_configure(const struct authfail_limits *l)
{
	pthread_mutex_lock(&af_mtx);
	af_limits = *l;
	pthread_mutex_unlock(&af_mtx);
}

static unsigned
af_hash(const char *k)
{
	unsigned h = 2166136261U;

	for (; *k != '\0'; k++) {
		h ^= (unsigned char)*k;
		h *= 16777619U;
	}
	return h % AF_BUCKETS;
}

static void
make_key(char *out, char kind, const char *s)
{
	size_t i;

	out[0] = kind;
	out[1] = ':';
	/* User names are compared the way lookups compare them. */
	for (i = 0; s[i] != '\0' && i + 3 < AF_KEY_MAX; i++)
		out[i + 2] = kind == 'u' && s[i] >= 'A' && s[i] <= 'Z' ?
		    (char)(s[i] + 32) : s[i];
	out[i + 2] = '\0';
}

/* Drops entries that have been quiet for the whole window. */
static void
af_expire(time_t now)
{
	for (unsigned b = 0; b < AF_BUCKETS; b++) {
		struct af_entry **pp = &af_buckets[b], *e;

		while ((e = *pp) != NULL) {
			if (e->locked_until <= now && now - e->last >
			    (time_t)af_limits.lockout_secs) {
				*pp = e->next;
				free(e);
				af_count--;
			} else
				pp = &e->next;
		}
	}
}

static struct af_entry *
af_get(const char *key, bool create, time_t now)
{
	unsigned h = af_hash(key);
	struct af_entry *e;

	for (e = af_buckets[h]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0) {
			/* A quiet window forgets old failures. */
			if (e->locked_until <= now && now - e->last >
			    (time_t)af_limits.lockout_secs)
				e->failures = 0;
			return e;
		}
	if (!create)
		return NULL;
	if (af_count >= AF_MAX_ENTRIES) {
		af_expire(now);
		if (af_count >= AF_MAX_ENTRIES)
			return NULL;	/* under attack from everywhere */
	}
	e = xcalloc(1, sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->next = af_buckets[h];
	af_buckets[h] = e;
	af_count++;
	return e;
}

bool
authfail_locked(const char *ip)
{
	char key[AF_KEY_MAX];
	struct af_entry *e;
	time_t now = time(NULL);
	bool locked;

	make_key(key, 'i', ip);
	pthread_mutex_lock(&af_mtx);
	e = af_get(key, false, now);
	locked = e != NULL && e->locked_until > now;
	pthread_mutex_unlock(&af_mtx);
	return locked;
}

uint64_t
authfail_record(const char *ip, const char *user, bool *locked)
{
	char ikey[AF_KEY_MAX], ukey[AF_KEY_MAX];
	struct af_entry *ie, *ue;
	time_t now = time(NULL);
	unsigned n = 1;
	uint64_t delay;

	*locked = false;
	make_key(ikey, 'i', ip);
	make_key(ukey, 'u', user);
	pthread_mutex_lock(&af_mtx);
	if ((ie = af_get(ikey, true, now)) != NULL) {
		ie->failures++;
		ie->last = now;
		n = ie->failures;
		if (af_limits.lockout_failures > 0 && ie->locked_until <= now &&
		    ie->failures >= af_limits.lockout_failures) {
			ie->locked_until = now + (time_t)af_limits.lockout_secs;
			*locked = true;
		}
	}
	if (user[0] != '\0' && (ue = af_get(ukey, true, now)) != NULL) {
		ue->failures++;
		ue->last = now;
		if (ue->failures > n)
			n = ue->failures;
	}
	delay = af_limits.base_ms;
	for (unsigned i = 1; i < n && delay < af_limits.max_ms; i++)
		delay *= 2;
	if (delay > af_limits.max_ms)
		delay = af_limits.max_ms;
	pthread_mutex_unlock(&af_mtx);
	return delay;
}

void
authfail_success(const char *ip, const char *user)
{
	char key[AF_KEY_MAX];
	struct af_entry *e;
	time_t now = time(NULL);

	pthread_mutex_lock(&af_mtx);
	make_key(key, 'i', ip);
	if ((e = af_get(key, false, now)) != NULL && e->locked_until <= now)
		e->failures = 0;
	make_key(key, 'u', user);
	if ((e = af_get(key, false, now)) != NULL)
		e->failures = 0;
	pthread_mutex_unlock(&af_mtx);
}

void
authfail_reset(void)
{
	pthread_mutex_lock(&af_mtx);
	for (unsigned b = 0; b < AF_BUCKETS; b++) {
		struct af_entry *e, *next;

		for (e = af_buckets[b]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
		af_buckets[b] = NULL;
	}
	af_count = 0;
	pthread_mutex_unlock(&af_mtx);
}
