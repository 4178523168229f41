/*
 * threads.h
 *		A small process-wide pool of worker threads for the kernels that
 *		split one loop over a few cores (the boosted-trees trainer, batch
 *		tree evaluation).
 *
 * maas_parallel(n, fn, arg) runs fn(arg, t, m) for t = 0 .. m-1 and returns
 * when all have returned; the caller runs t = 0 itself.  m is n, or fewer
 * when threads could not be started (the work is then split m ways: a
 * caller that divides work by m gets the same results either way).
 *
 * The workers are created on first use, in the process that uses them (a
 * backend, never the postmaster), with every signal blocked, so a
 * PostgreSQL signal handler only ever runs on the backend's own thread.
 * Between calls they sleep on a condition variable: nothing of theirs is
 * live when maas_parallel returns, so the caller may then tick (and be
 * unwound by a longjmp) freely.  fn must not tick, allocate with
 * maas_kalloc, or call anything of PostgreSQL: it runs on threads that are
 * not the backend's.  Calls are not reentrant: fn must not call
 * maas_parallel (a nested call runs serially, m = 1).
 */
#ifndef MAAS_THREADS_H
#define MAAS_THREADS_H

#include "kernel.h"

#define MAAS_POOL_MAX_THREADS	64

typedef void (*MaasParallelFn) (void *arg, int thread, int n_threads);

/* run fn on up to n_threads threads (n_threads <= 1: just the caller) */
extern void maas_parallel(int n_threads, MaasParallelFn fn, void *arg);

typedef void (*MaasAsyncFn) (void *arg);

extern __thread bool maas_worker_thread;

/* start fn(arg) on the async worker; false if no thread could be started */
extern bool maas_async_start(MaasAsyncFn fn, void *arg);

/* wait for the job maas_async_start started, if any (cheap when none) */
extern void maas_async_wait(void);

/* a job started and not yet joined by maas_async_wait() */
extern bool maas_async_pending(void);

/* the range [*begin, *end) of part t of m parts of n items */
static inline void
maas_split_range(int64_t n, int t, int m, int64_t *begin, int64_t *end)
{
	*begin = n * t / m;
	*end = n * (t + 1) / m;
}

#endif							/* MAAS_THREADS_H */
