/*
 * loop - the I/O threads: one libevent event_base per thread, each owning
 * the connections it accepted (DESIGN.md "Process and threads").
 *
 * Anything may hand a function to an I/O thread with iothread_post(); it
 * runs on that thread, in order, soon.  This is how worker results and
 * change notifications reach a connection without locks.
 */
#ifndef POSTHORN_LOOP_H
#define POSTHORN_LOOP_H

#include <stdbool.h>

struct event_base;
struct iothread;

typedef void iothread_fn(void *);

/* Must be called once before any event_base is created. */
void	 loop_global_init(void);
/* Creates n threads (not yet running). */
void	 iothreads_create(unsigned n);
/* Starts them; each runs its loop until iothreads_stop(). */
void	 iothreads_run(void);
/* Asks every loop to exit once it has no connections left, then joins. */
void	 iothreads_stop(void);
unsigned iothread_count(void);
struct iothread *iothread_get(unsigned);
/* The I/O thread we run on, or NULL on any other thread. */
struct iothread *iothread_self(void);
/*
 * For a test or fuzzing harness: the calling thread acts as thr from now on
 * (iothread_self() returns it) and runs thr's event_base itself, so thr
 * must never be started by iothreads_run().
 */
void	 iothread_adopt(struct iothread *thr);
struct event_base *iothread_base(struct iothread *);
/* Thread safe; fn(arg) runs on thr.  Never fails (aborts on OOM). */
void	 iothread_post(struct iothread *, iothread_fn *, void *arg);
/* Called on each thread by the shutdown broadcast (set by the server). */
void	 iothreads_set_shutdown_hook(void (*fn)(struct iothread *));
/* Called on each thread right before it exits (store handles etc.). */
void	 iothreads_set_exit_hook(void (*fn)(void));
/* Number of live connections on thr; the conn layer keeps it. */
void	 iothread_conn_add(struct iothread *, int delta);

#endif
