/*
 * threads.c
 *		The worker threads behind maas_parallel (see threads.h).
 *
 * One job at a time: the caller publishes (fn, arg, m) under the mutex,
 * bumps the generation and wakes the workers; worker w runs part w + 1 if
 * w + 1 < m, then counts itself done.  The caller runs part 0 and waits
 * for the count.  Workers spin briefly on the generation before sleeping,
 * because the trainer dispatches a job every few milliseconds and a
 * condition-variable wake-up costs tens of microseconds; briefly (about
 * a tenth of a millisecond), because on a busy machine a spinning thread
 * takes the core from one with work.
 *
 * The async worker (maas_async_start) is one more thread, with a job slot
 * of its own: the caller posts a job by bumping a counter, the worker
 * spins briefly then sleeps waiting for it, runs it and bumps a second
 * counter, which maas_async_wait() spins briefly then sleeps waiting for.
 *
 * If the process forks (PostgreSQL backends do not, but a test harness
 * might), the child has none of the parent's threads: the pool notices by
 * the pid and starts over.
 */
#include "threads.h"
#include "signals.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#define SPIN_ROUNDS		2000

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax()		__builtin_ia32_pause()
#else
#define cpu_relax()		((void) 0)
#endif

typedef struct Pool
{
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* workers wait here for a new generation */
	pthread_cond_t done;		/* the caller waits here for pending == 0 */
	int			n_workers;		/* started so far */
	pid_t		pid;			/* of the process that started them */
	atomic_uint generation;
	atomic_int	pending;		/* workers still running the current job */
	MaasParallelFn fn;
	void	   *arg;
	int			m;
	bool		busy;			/* a job is running: nested calls go serial */
} Pool;

static Pool pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

typedef struct Worker
{
	int			id;				/* 0-based: runs part id + 1 */
	unsigned	start_gen;		/* the generation when it was started */
} Worker;

static Worker workers[MAAS_POOL_MAX_THREADS];

__thread bool maas_worker_thread = false;

typedef struct Async
{
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* the worker waits here for a job */
	pthread_cond_t done;		/* maas_async_wait waits here */
	bool		running;		/* the thread exists (in process pid) */
	pid_t		pid;
	atomic_uint posted;			/* jobs posted */
	atomic_uint finished;		/* jobs the worker finished */
	MaasAsyncFn fn;
	void	   *arg;
} Async;

static Async async = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

static void *
worker_main(void *p)
{
	const Worker *self = p;
	unsigned	seen = self->start_gen;

	maas_worker_thread = true;
	for (;;)
	{
		unsigned	gen;
		int			spins = 0;

		while ((gen = atomic_load_explicit(&pool.generation,
										   memory_order_acquire)) == seen &&
			   spins < SPIN_ROUNDS)
		{
			cpu_relax();
			spins++;
		}
		if (gen == seen)
		{
			pthread_mutex_lock(&pool.lock);
			while ((gen = atomic_load(&pool.generation)) == seen)
				pthread_cond_wait(&pool.wake, &pool.lock);
			pthread_mutex_unlock(&pool.lock);
		}
		seen = gen;
		if (self->id + 1 < pool.m)
			pool.fn(pool.arg, self->id + 1, pool.m);
		if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1)
		{
			pthread_mutex_lock(&pool.lock);
			pthread_cond_signal(&pool.done);
			pthread_mutex_unlock(&pool.lock);
		}
	}
	return NULL;
}

/* start workers until there are want of them; returns how many there are */
static int
pool_grow(int want)
{
	sigset_t	old;

	if (pool.pid != getpid())
	{
		/* a fresh process (or a forked child): no threads of ours exist */
		pool.n_workers = 0;
		pool.pid = getpid();
	}
	if (want <= pool.n_workers)
		return pool.n_workers;

	/* threads inherit the creator's mask: block everything around it */
	maas_block_signals(&old);
	while (pool.n_workers < want)
	{
		pthread_t	th;
		pthread_attr_t attr;
		Worker	   *w = &workers[pool.n_workers];
		int			rc;

		w->id = pool.n_workers;
		w->start_gen = atomic_load(&pool.generation);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 1024 * 1024);
		rc = pthread_create(&th, &attr, worker_main, w);
		pthread_attr_destroy(&attr);
		if (rc != 0)
			break;
		pool.n_workers++;
	}
	maas_restore_signals(&old);
	return pool.n_workers;
}

void
maas_parallel(int n_threads, MaasParallelFn fn, void *arg)
{
	int			m;

	if (n_threads > MAAS_POOL_MAX_THREADS)
		n_threads = MAAS_POOL_MAX_THREADS;
	if (n_threads <= 1 || pool.busy)
	{
		fn(arg, 0, 1);
		return;
	}
	m = pool_grow(n_threads - 1) + 1;
	if (m > n_threads)
		m = n_threads;
	if (m <= 1)
	{
		fn(arg, 0, 1);
		return;
	}

	pool.busy = true;
	pthread_mutex_lock(&pool.lock);
	pool.fn = fn;
	pool.arg = arg;
	pool.m = m;
	atomic_store(&pool.pending, pool.n_workers);
	atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
	pthread_cond_broadcast(&pool.wake);
	pthread_mutex_unlock(&pool.lock);

	fn(arg, 0, m);

	/* every worker answers each generation, also those with no part */
	for (int spins = 0; atomic_load_explicit(&pool.pending,
											 memory_order_acquire) != 0 &&
		 spins < SPIN_ROUNDS; spins++)
		cpu_relax();
	if (atomic_load(&pool.pending) != 0)
	{
		pthread_mutex_lock(&pool.lock);
		while (atomic_load(&pool.pending) != 0)
			pthread_cond_wait(&pool.done, &pool.lock);
		pthread_mutex_unlock(&pool.lock);
	}
	pool.busy = false;
}

static void *
async_main(void *p)
{
	unsigned	seen = atomic_load(&async.finished);

	(void) p;
	maas_worker_thread = true;
	for (;;)
	{
		int			spins = 0;

		while (atomic_load_explicit(&async.posted, memory_order_acquire) == seen &&
			   spins < SPIN_ROUNDS)
		{
			cpu_relax();
			spins++;
		}
		if (atomic_load_explicit(&async.posted, memory_order_acquire) == seen)
		{
			pthread_mutex_lock(&async.lock);
			while (atomic_load(&async.posted) == seen)
				pthread_cond_wait(&async.wake, &async.lock);
			pthread_mutex_unlock(&async.lock);
		}
		async.fn(async.arg);
		seen++;
		pthread_mutex_lock(&async.lock);
		atomic_store_explicit(&async.finished, seen, memory_order_release);
		pthread_cond_signal(&async.done);
		pthread_mutex_unlock(&async.lock);
	}
	return NULL;
}

/* the async worker exists in this process, or false if it cannot */
static bool
async_ready(void)
{
	sigset_t	old;
	pthread_t	th;
	pthread_attr_t attr;
	int			rc;

	if (async.running && async.pid == getpid())
		return true;
	/* a fresh process or a forked child: no job of ours runs here */
	async.running = false;
	atomic_store(&async.finished, atomic_load(&async.posted));
	maas_block_signals(&old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* the libraries' kernels run on it: a full-size stack */
	pthread_attr_setstacksize(&attr, 8 * 1024 * 1024);
	rc = pthread_create(&th, &attr, async_main, NULL);
	pthread_attr_destroy(&attr);
	maas_restore_signals(&old);
	if (rc != 0)
		return false;
	async.running = true;
	async.pid = getpid();
	return true;
}

bool
maas_async_start(MaasAsyncFn fn, void *arg)
{
	maas_async_wait();
	if (!async_ready())
		return false;
	pthread_mutex_lock(&async.lock);
	async.fn = fn;
	async.arg = arg;
	atomic_fetch_add_explicit(&async.posted, 1, memory_order_release);
	pthread_cond_signal(&async.wake);
	pthread_mutex_unlock(&async.lock);
	return true;
}

bool
maas_async_pending(void)
{
	return async.running && async.pid == getpid() &&
		atomic_load_explicit(&async.finished, memory_order_acquire) !=
		atomic_load_explicit(&async.posted, memory_order_relaxed);
}

void
maas_async_wait(void)
{
	unsigned	want;

	if (!maas_async_pending())
		return;
	want = atomic_load(&async.posted);
	for (int spins = 0; spins < SPIN_ROUNDS; spins++)
	{
		if (atomic_load_explicit(&async.finished, memory_order_acquire) == want)
			return;
		cpu_relax();
	}
	pthread_mutex_lock(&async.lock);
	while (atomic_load(&async.finished) != want)
		pthread_cond_wait(&async.done, &async.lock);
	pthread_mutex_unlock(&async.lock);
}
