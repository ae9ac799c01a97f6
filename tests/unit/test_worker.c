/*
 * test_worker - unit tests for core/worker: jobs run on their lane, and
 * the idle hook runs once on a thread after its lane has gone a second
 * without a job (not on threads that had none, not again until the next
 * job), which is when a thread gives back what it kept for the next job.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "core/worker.h"

static atomic_int jobs_done;
static atomic_int idle_calls;
static _Thread_local int thread_jobs;	/* jobs this thread ran */
static atomic_int idle_without_job;

static void
job(void *arg)
{
	(void)arg;
	thread_jobs++;
	atomic_fetch_add(&jobs_done, 1);
}

static void
idle(void)
{
	if (thread_jobs == 0)
		atomic_fetch_add(&idle_without_job, 1);
	atomic_fetch_add(&idle_calls, 1);
}

static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits, at most 20 s (valgrind is slow), for *v to reach want. */
static int
wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 2000 && atomic_load(v) < want; i++)
		nap(10);
	return atomic_load(v);
}

static void
test_idle_hook(void **state)
{
	(void)state;
	workers_set_idle_hook(idle);
	workers_start(2);

	worker_submit_to(WORKER_AUTH, job, NULL, NULL);
	assert_int_equal(wait_for(&jobs_done, 1), 1);
	/* The thread that ran it, a second later; no other thread. */
	assert_int_equal(wait_for(&idle_calls, 1), 1);
	nap(1500);
	assert_int_equal(atomic_load(&idle_calls), 1);

	/* A job on each lane: each thread that ran one idles once more. */
	worker_submit_to(WORKER_STORE, job, NULL, NULL);
	worker_submit_to(WORKER_BACKGROUND, job, NULL, NULL);
	assert_int_equal(wait_for(&jobs_done, 3), 3);
	assert_int_equal(wait_for(&idle_calls, 3), 3);
	nap(1500);
	assert_int_equal(atomic_load(&idle_calls), 3);
	assert_int_equal(atomic_load(&idle_without_job), 0);

	workers_stop();
	workers_set_idle_hook(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
