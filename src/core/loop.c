/*
 * loop - I/O threads, each with its own event_base.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"
#include "util.h"
#include "loop.h"
#include "xmalloc.h"

#define STOP_MAX_MS	15000

struct post {
	iothread_fn	*fn;
	void		*arg;
	struct post	*next;
};

struct iothread {
	unsigned	 index;
	pthread_t	 tid;
	struct event_base *base;
	struct event	*wake;		/* activated by iothread_post */
	pthread_mutex_t	 mtx;
	struct post	*head, *tail;
	int		 conns;
	bool		 stopping;
	uint64_t	 stop_started;
	struct event	*stop_check;
};

static struct iothread **threads;
static unsigned nthreads;
static __thread struct iothread *self;
static void (*shutdown_hook)(struct iothread *);
static void (*exit_hook)(void);

void
loop_global_init(void)
{
	if (evthread_use_pthreads() < 0)
		fatalx("libevent: no pthreads support");
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct iothread *t = arg;
	struct post *list, *p;

	pthread_mutex_lock(&t->mtx);
	list = t->head;
	t->head = t->tail = NULL;
	pthread_mutex_unlock(&t->mtx);
	while ((p = list) != NULL) {
		list = p->next;
		p->fn(p->arg);
		free(p);
	}
}

static void
stop_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct iothread *t = arg;

	/* Connections get a bounded time to say goodbye and flush. */
	if (t->conns <= 0 || mono_ms() - t->stop_started > STOP_MAX_MS) {
		if (t->conns > 0)
			log_warnx("stopping with %d connections still open",
			    t->conns);
		event_base_loopexit(t->base, NULL);
	}
}

void
iothreads_create(unsigned n)
{
	threads = xcalloc(n, sizeof(struct iothread *));
	nthreads = n;
	for (unsigned i = 0; i < n; i++) {
		struct iothread *t = xcalloc(1, sizeof(*t));
		struct event_config *ec = event_config_new();

		t->index = i;
		event_config_set_flag(ec, EVENT_BASE_FLAG_NO_CACHE_TIME);
		t->base = event_base_new_with_config(ec);
		event_config_free(ec);
		if (t->base == NULL)
			fatalx("event_base_new failed");
		pthread_mutex_init(&t->mtx, NULL);
		t->wake = event_new(t->base, -1, EV_PERSIST, wake_cb, t);
		/* A persistent no-fd event keeps the loop alive. */
		event_add(t->wake, NULL);
		threads[i] = t;
	}
}

static void *
iothread_main(void *arg)
{
	struct iothread *t = arg;

	self = t;
	event_base_loop(t->base, 0);
	/* Run what was posted last (e.g. closing notifications). */
	wake_cb(-1, 0, t);
	if (exit_hook != NULL)
		exit_hook();
	return NULL;
}

void
iothreads_run(void)
{
	for (unsigned i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i]->tid, NULL, iothread_main,
		    threads[i]) != 0)
			fatal("pthread_create");
}

static void
begin_stop(void *arg)
{
	struct iothread *t = arg;
	struct timeval tv = { 0, 100000 };

	t->stopping = true;
	t->stop_started = mono_ms();
	if (shutdown_hook != NULL)
		shutdown_hook(t);
	t->stop_check = event_new(t->base, -1, EV_PERSIST, stop_check_cb, t);
	event_add(t->stop_check, &tv);
	stop_check_cb(-1, 0, t);
}

void
iothreads_stop(void)
{
	for (unsigned i = 0; i < nthreads; i++)
		iothread_post(threads[i], begin_stop, threads[i]);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(threads[i]->tid, NULL);
}

unsigned
iothread_count(void)
{
	return nthreads;
}

struct iothread *
iothread_get(unsigned i)
{
	return i < nthreads ? threads[i] : NULL;
}

struct iothread *
iothread_self(void)
{
	return self;
}

void
iothread_adopt(struct iothread *t)
{
	self = t;
	t->tid = pthread_self();
}

struct event_base *
iothread_base(struct iothread *t)
{
	return t->base;
}

void
iothread_post(struct iothread *t, iothread_fn *fn, void *arg)
{
	struct post *p = xmalloc(sizeof(*p));

	p->fn = fn;
	p->arg = arg;
	p->next = NULL;
	pthread_mutex_lock(&t->mtx);
	if (t->tail != NULL)
		t->tail->next = p;
	else
		t->head = p;
	t->tail = p;
	pthread_mutex_unlock(&t->mtx);
	event_active(t->wake, EV_READ, 0);
}

void
iothreads_set_shutdown_hook(void (*fn)(struct iothread *))
{
	shutdown_hook = fn;
}

void
iothreads_set_exit_hook(void (*fn)(void))
{
	exit_hook = fn;
}

void
iothread_conn_add(struct iothread *t, int delta)
{
	t->conns += delta;
}
