/*
 * worker - the blocking-work thread pool.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "loop.h"
#include "worker.h"
#include "xmalloc.h"

struct job {
	worker_fn	*work;
	worker_fn	*done;
	void		*arg;
	struct iothread	*origin;
	struct job	*next;
};

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct job *head, *tail;
static pthread_t *tids;
static unsigned ntids;
static bool stopping;
static void (*exit_hook)(void);

static void *
worker_main(void *unused)
{
	for (;;) {
		struct job *j;

		pthread_mutex_lock(&mtx);
		while (head == NULL && !stopping)
			pthread_cond_wait(&cond, &mtx);
		if (head == NULL) {
			pthread_mutex_unlock(&mtx);
			break;
		}
		j = head;
		head = j->next;
		if (head == NULL)
			tail = NULL;
		pthread_mutex_unlock(&mtx);
		j->work(j->arg);
		if (j->done != NULL) {
			if (j->origin != NULL)
				iothread_post(j->origin, j->done, j->arg);
			else
				j->done(j->arg);
		}
		free(j);
	}
	if (exit_hook != NULL)
		exit_hook();
	return NULL;
}

void
workers_start(unsigned n)
{
	stopping = false;
	tids = xcalloc(n, sizeof(*tids));
	ntids = n;
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&tids[i], NULL, worker_main, NULL) != 0)
			fatal("pthread_create");
}

void
workers_stop(void)
{
	pthread_mutex_lock(&mtx);
	stopping = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mtx);
	for (unsigned i = 0; i < ntids; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	tids = NULL;
	ntids = 0;
}

void
worker_submit(worker_fn *work, worker_fn *done, void *arg)
{
	struct job *j = xmalloc(sizeof(*j));

	j->work = work;
	j->done = done;
	j->arg = arg;
	j->origin = iothread_self();
	j->next = NULL;
	pthread_mutex_lock(&mtx);
	if (tail != NULL)
		tail->next = j;
	else
		head = j;
	tail = j;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mtx);
}

void
workers_set_exit_hook(void (*fn)(void))
{
	exit_hook = fn;
}
