/*
 * test_threads.c
 *		The kernels' thread pool (threads.c): maas_parallel's parts, and the
 *		async worker that runs one job while the caller goes on.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "threads.h"
#include "unit.h"

typedef struct Job
{
	int			n;
	double		sum;			/* written by the worker */
	bool		on_worker;
	bool		signals_blocked;
	atomic_int	runs;
} Job;

static void
job_fn(void *arg)
{
	Job		   *j = arg;
	sigset_t	now;
	double		s = 0;

	for (int i = 1; i <= j->n; i++)
		s += 1.0 / i;
	j->sum = s;
	j->on_worker = maas_worker_thread;
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	j->signals_blocked = sigismember(&now, SIGINT) && sigismember(&now, SIGUSR1) &&
		sigismember(&now, SIGALRM) && sigismember(&now, SIGTERM);
	atomic_fetch_add(&j->runs, 1);
}

/* a job runs on another thread, with every signal blocked, once */
static void
test_async_runs_once(void)
{
	Job			j;

	memset(&j, 0, sizeof(j));
	j.n = 1000000;
	CHECK(!maas_async_pending());
	maas_async_wait();			/* nothing to wait for */
	CHECK(maas_async_start(job_fn, &j));
	maas_async_wait();
	CHECK(!maas_async_pending());
	CHECK(atomic_load(&j.runs) == 1);
	CHECK(j.on_worker);
	CHECK(j.signals_blocked);
	CHECK(j.sum > 14.39 && j.sum < 14.40);
	CHECK(!maas_worker_thread);
	maas_async_wait();
	CHECK(atomic_load(&j.runs) == 1);
}

/* jobs back to back, the caller working meanwhile, and start joining the last */
static void
test_async_back_to_back(void)
{
	Job			j[2];
	int			total = 0;

	memset(j, 0, sizeof(j));
	for (int k = 0; k < 2000; k++)
	{
		Job		   *cur = &j[k % 2];

		cur->n = k % 7 == 0 ? 20000 : 10;
		/* start waits for the job before it: its result is complete */
		CHECK(maas_async_start(job_fn, cur));
		total++;
		if (k % 3 == 0)
			maas_async_wait();
	}
	maas_async_wait();
	CHECK(atomic_load(&j[0].runs) + atomic_load(&j[1].runs) == total);
	CHECK(j[0].on_worker && j[1].on_worker);
}

typedef struct Parts
{
	atomic_int	seen;
	bool		worker[4];
} Parts;

static void
part_fn(void *arg, int t, int m)
{
	Parts	   *p = arg;

	(void) m;
	p->worker[t] = maas_worker_thread;
	atomic_fetch_add(&p->seen, 1 << t);
}

/* maas_parallel beside the async worker: the caller runs part 0 */
static void
test_parallel_beside_async(void)
{
	Parts		p;
	Job			j;

	memset(&p, 0, sizeof(p));
	memset(&j, 0, sizeof(j));
	j.n = 100000;
	CHECK(maas_async_start(job_fn, &j));
	maas_parallel(3, part_fn, &p);
	maas_async_wait();
	CHECK(atomic_load(&p.seen) == 7);
	CHECK(!p.worker[0] && p.worker[1] && p.worker[2]);
	CHECK(atomic_load(&j.runs) == 1);
}

int
main(void)
{
	UNIT_RUN(test_async_runs_once);
	UNIT_RUN(test_async_back_to_back);
	UNIT_RUN(test_parallel_beside_async);
	return unit_finish("threads");
}
