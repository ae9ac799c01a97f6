/*
 * worker - small pools of threads for work that blocks: password hashing,
 * durable commits, big scans (DESIGN.md).  A job's done function runs back
 * on the I/O thread that submitted it, so it may touch its connection.
 * Password hashing has a lane of its own, so that logins never hold up
 * store work queued behind them.
 */
#ifndef POSTHORN_WORKER_H
#define POSTHORN_WORKER_H

typedef void worker_fn(void *);

enum worker_lane {
	WORKER_STORE,		/* n threads (workers_start) */
	WORKER_AUTH,		/* one per core, at most n */
	WORKER_BACKGROUND,	/* one thread at nice 19; no write locks */
};

void	 workers_start(unsigned n);
/* Finishes every queued job, then joins the threads. */
void	 workers_stop(void);
/*
 * work(arg) runs on a worker thread; then done(arg) runs on the calling I/O
 * thread (or on the worker, when called from elsewhere).  done may be NULL.
 */
void	 worker_submit(worker_fn *work, worker_fn *done, void *arg);
void	 worker_submit_to(enum worker_lane, worker_fn *work, worker_fn *done,
	    void *arg);
/* Called on each worker thread right before it exits. */
void	 workers_set_exit_hook(void (*fn)(void));
/* Called on the worker thread after each job's work, before its done. */
void	 workers_set_job_hook(void (*fn)(void));
/*
 * Called on a worker thread that has had no job for a second (once, until
 * its next job): a thread gives back what it keeps for the next job.
 */
void	 workers_set_idle_hook(void (*fn)(void));

#endif
