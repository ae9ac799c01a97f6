/*
 * worker - the blocking-work thread pools.
 *
 * Three lanes, each a FIFO queue served by its own threads: the store lane
 * (durable commits, mailbox work, scans), the auth lane (password
 * hashing, deliberately slow) and the background lane (work nobody waits
 * for, such as filling the full-text index).  Apart, a burst of logins
 * cannot make a logged-in user's SELECT wait behind a queue of hashes; the
 * kernel shares the cores between the store and auth lanes, and gives the
 * background lane's one thread, at nice 19, only what they leave.  A
 * background job must not take a write lock (a starved thread would hold
 * it): it hands its writes to the store lane.
 */
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

struct lane {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	struct job	*head, *tail;
	pthread_t	*tids;
	unsigned	 ntids;
	bool		 stopping;
	int		 nice;
};

#define LANE_INIT(nice) { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, \
	NULL, NULL, NULL, 0, false, (nice) }

static struct lane lanes[3] = {
	[WORKER_STORE] = LANE_INIT(0),
	[WORKER_AUTH] = LANE_INIT(0),
	[WORKER_BACKGROUND] = LANE_INIT(19),
};
static void (*exit_hook)(void);
static void (*job_hook)(void);
static void (*idle_hook)(void);

/* A thread whose lane had no job for this long runs the idle hook. */
#define IDLE_SECONDS	1

/*
 * Waits, lane locked, until the lane has a job or stops.  The first wait
 * after a job is bounded: when it runs out, the idle hook runs once.
 */
static void
lane_wait(struct lane *l, bool *idle)
{
	struct timespec ts;

	if (idle_hook != NULL && !*idle && l->head == NULL && !l->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += IDLE_SECONDS;
		while (l->head == NULL && !l->stopping &&
		    pthread_cond_clockwait(&l->cond, &l->mtx, CLOCK_MONOTONIC,
		    &ts) != ETIMEDOUT)
			;
		if (l->head == NULL && !l->stopping) {
			pthread_mutex_unlock(&l->mtx);
			idle_hook();
			pthread_mutex_lock(&l->mtx);
		}
		*idle = true;
	}
	while (l->head == NULL && !l->stopping)
		pthread_cond_wait(&l->cond, &l->mtx);
}

static void *
worker_main(void *arg)
{
	struct lane *l = arg;
	bool idle = true;

	/* Per thread on Linux: the thread's own id as the process. */
	if (l->nice != 0 && setpriority(PRIO_PROCESS,
	    (id_t)syscall(SYS_gettid), l->nice) < 0)
		log_warn("worker: setpriority");
	for (;;) {
		struct job *j;

		pthread_mutex_lock(&l->mtx);
		lane_wait(l, &idle);
		if (l->head == NULL) {
			pthread_mutex_unlock(&l->mtx);
			break;
		}
		j = l->head;
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
		pthread_mutex_unlock(&l->mtx);
		idle = false;
		j->work(j->arg);
		if (job_hook != NULL)
			job_hook();
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

static void
lane_start(struct lane *l, unsigned n)
{
	l->stopping = false;
	l->tids = xcalloc(n, sizeof(*l->tids));
	l->ntids = n;
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&l->tids[i], NULL, worker_main, l) != 0)
			fatal("pthread_create");
}

static void
lane_stop(struct lane *l)
{
	pthread_mutex_lock(&l->mtx);
	l->stopping = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mtx);
	for (unsigned i = 0; i < l->ntids; i++)
		pthread_join(l->tids[i], NULL);
	free(l->tids);
	l->tids = NULL;
	l->ntids = 0;
}

void
workers_start(unsigned n)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned nauth;

	if (n == 0)
		n = 1;
	/* Hashing is all CPU: more threads than cores only queue inside. */
	nauth = cores < 1 ? 1 : (unsigned)cores;
	if (nauth > n)
		nauth = n;
	lane_start(&lanes[WORKER_STORE], n);
	lane_start(&lanes[WORKER_AUTH], nauth);
	lane_start(&lanes[WORKER_BACKGROUND], 1);
}

void
workers_stop(void)
{
	/*
	 * Auth and background jobs may look accounts up in the store or hand
	 * it work: stop them first.
	 */
	lane_stop(&lanes[WORKER_AUTH]);
	lane_stop(&lanes[WORKER_BACKGROUND]);
	lane_stop(&lanes[WORKER_STORE]);
}

void
worker_submit_to(enum worker_lane lane, worker_fn *work, worker_fn *done,
    void *arg)
{
	struct lane *l = &lanes[lane];
	struct job *j = xmalloc(sizeof(*j));

	j->work = work;
	j->done = done;
	j->arg = arg;
	j->origin = iothread_self();
	j->next = NULL;
	pthread_mutex_lock(&l->mtx);
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->mtx);
}

void
worker_submit(worker_fn *work, worker_fn *done, void *arg)
{
	worker_submit_to(WORKER_STORE, work, done, arg);
}

void
workers_set_exit_hook(void (*fn)(void))
{
	exit_hook = fn;
}

void
workers_set_job_hook(void (*fn)(void))
{
	job_hook = fn;
}

void
workers_set_idle_hook(void (*fn)(void))
{
	idle_hook = fn;
}
