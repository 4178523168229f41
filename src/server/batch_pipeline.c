/*
 * batch_pipeline.c
 *		Batch k's forward pass on the async worker while the backend reads
 *		batch k + 1 (see batch_pipeline.h).
 *
 * When.  maas.batch_pipeline = auto pipelines when maas.blas_threads is 2
 * or more, a batch holds at least PIPELINE_MIN_MACS multiply-adds and the
 * products give the same outputs on fewer threads (thread_invariant): then
 * one core reads and checks rows (PostgreSQL's work, which only the
 * backend's thread may do) while the worker runs the products with the
 * other maas.blas_threads - 1 threads, instead of the library's threads
 * idling while the backend reads.  With maas.blas_threads = 1 (the
 * default, for many sessions at once) a backend uses one core, serially,
 * as before.  on pipelines every batch the model allows, whatever the
 * threads (tests compare it with off); the worker then has
 * maas.blas_threads - 1 threads where that changes no output, else all of
 * them.  Models that stay serial: remote ones (their calls ereport and
 * tick), those with bfloat16 or int8 weights (their kernels take scratch
 * from maas_kalloc, which a pool thread may not call), text models, and
 * statements a canary or shadow routes (predict_batch.c decides those).
 *
 * Results.  The worker runs the same maas_net_run() on the same rows, with
 * the same kernels, as the serial path: with fewer threads only where the
 * thread count changes no bit of the outputs, so the answers are the
 * serial path's exactly (test/sql/batch_pipeline.sql compares them).
 *
 * Memory.  Two batches' rows and keys (the one read, the one in flight),
 * one workspace (one forward pass at a time), and the collected batch's
 * outputs and keys: maas_pipeline_row_bytes() tells maas_batch_rows() the
 * extra, so a batch still fits maas.batch_memory.  Joined, the one
 * workspace is made only if the batch must run again serially (a block
 * failed); the two takers' workspaces are sized for a block of at most
 * 255 rows each (together no more than the batch's own for batches of
 * 510 rows or more; not counted), and the blocks' outputs are one more
 * output a row (counted).
 *
 * Joined.  When the worker has fewer BLAS threads than maas.blas_threads
 * (auto's case, oneDNN), the batch is cut into blocks (net_split.h): the
 * worker takes them in turn, and the backend, once it has read the next
 * batch or when there is none, takes them too on one thread (the core the
 * worker leaves) rather than wait.  So the products run on both cores
 * whenever there is nothing to read, and the last batch on both.  oneDNN
 * gave a row the same bits in a block of 128 rows as in the batch (AVX-512
 * brgemm; a CPU where it would not fails batch_pipeline.sql), and
 * a block's rows never depend on which thread took it, so the answers are
 * still the serial path's (batch_pipeline.sql, test_net_split.c).
 */
#include "batch_pipeline.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "ops_remote.h"
#include "stats.h"
#include "threads.h"

/* a batch below this many multiply-adds is not worth a handoff */
#define PIPELINE_MIN_MACS (8.0 * 1024 * 1024)

typedef enum PipelineSetting
{
	PIPELINE_AUTO,
	PIPELINE_ON,
	PIPELINE_OFF
} PipelineSetting;

static const struct config_enum_entry pipeline_options[] = {
	{"auto", PIPELINE_AUTO, false},
	{"on", PIPELINE_ON, false},
	{"off", PIPELINE_OFF, false},
	{NULL, 0, false}
};

static int	pipeline_setting = PIPELINE_AUTO;
static bool join_setting = true;
static bool exit_hook = false;

void
maas_pipeline_init_setting(void)
{
	DefineCustomEnumVariable("maas.batch_pipeline",
							 "Whether maas_predict_batch reads the next batch while a "
							 "worker thread scores this one.",
							 "auto does when maas.blas_threads is 2 or more and the "
							 "model is large enough; on whenever the model allows it; "
							 "off never.",
							 &pipeline_setting,
							 PIPELINE_AUTO,
							 pipeline_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("maas.batch_join",
							 "Whether the backend's thread, once it has read the next "
							 "batch, takes part of the products of the batch in flight.",
							 "When the pipeline's worker has fewer threads than "
							 "maas.blas_threads, the batch is cut into blocks of rows "
							 "that both threads take.",
							 &join_setting,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}

/* multiply-adds a row costs, roughly: the dense layers' (a conv net: many) */
static double
row_macs(const MaasNet *net)
{
	double		macs = 0;

	for (int i = 0; i < net->n_layers; i++)
	{
		const MaasLayer *l = &net->layers[i];

		if (l->op == MAAS_OP_DENSE)
			macs += (double) l->n_in * l->n_out;
		else if (l->op == MAAS_OP_CONV2D)
			macs += PIPELINE_MIN_MACS;
	}
	return macs;
}

/*
 * Are net's outputs the same whatever the BLAS threads: its products are
 * oneDNN's float32 matmul (maas.gemm_backend auto on a CPU with AVX2 or
 * AVX-512, or onednn), which splits a product over rows and columns, never
 * over the sum.  OpenBLAS does not promise it (its sgemm takes another
 * kernel for small products on one thread), nor do convolutions, which
 * call sgemm.
 */
static bool
thread_invariant(const MaasNet *net)
{
	const MaasBlasInfo *in = maas_get_blas()->info;
	const char *be = in != NULL ? in->ops[MAAS_GEMM_F32_ROWS].backend : NULL;

	if (be == NULL || strcmp(be, "onednn") != 0)
		return false;
	for (int i = 0; i < net->n_layers; i++)
		if (net->layers[i].op == MAAS_OP_CONV2D)
			return false;
	return true;
}

/*
 * The worker's BLAS threads: maas.blas_threads - 1, the backend's thread
 * being the other core, when that gives the same outputs; otherwise as
 * many as the serial path would use, so that it still does.
 */
static int
worker_threads(const MaasNet *net)
{
	int			t = maas_blas_threads();

	return t > 1 && thread_invariant(net) ? t - 1 : t;
}

/* may the worker run net: nothing in its forward pass needs the server */
static bool
net_runs_on_worker(const MaasNet *net)
{
	if (net->input != MAAS_NET_FEATURES || maas_net_remote(net) != NULL)
		return false;
	for (int i = 0; i < net->n_layers; i++)
	{
		const MaasLayer *l = &net->layers[i];

		if (l->op == MAAS_OP_REMOTE)
			return false;
		if (l->op == MAAS_OP_DENSE && l->wt.data != NULL && l->wt.type != MAAS_W_F32)
			return false;
	}
	return true;
}

bool
maas_pipeline_wanted(MaasServeState *st, int rows)
{
	const MaasNet *net = &st->m->net;

	if (pipeline_setting == PIPELINE_OFF || st->remote != NULL ||
		st->m->remote != NULL || !net_runs_on_worker(net))
		return false;
	if (pipeline_setting == PIPELINE_ON)
		return true;
	/* auto: one core reads while the others run the products */
	return maas_blas_threads() >= 2 && rows * row_macs(net) >= PIPELINE_MIN_MACS &&
		worker_threads(net) < maas_blas_threads();
}

size_t
maas_pipeline_row_bytes(const MaasNet *net)
{
	/* the rows and key of the batch in flight, a collected output, and the
	 * joined blocks' outputs */
	return sizeof(float) * ((size_t) net->n_in + 2 * net->n_out) + 2 * sizeof(int64);
}

/* a backend that exits with a batch in flight: the worker is done first */
static void
pipeline_exit(int code, Datum arg)
{
	maas_async_wait();
}

void
maas_pipeline_start(MaasBatchPipeline *p, MaasServeState *st, int max_rows)
{
	const MaasNet *net = &st->m->net;

	memset(p, 0, sizeof(*p));
	p->st = st;
	p->threads = worker_threads(net);
	maas_batch_buffers_init(&p->rows, net, max_rows, true);
	/* the backend's thread is the core the worker leaves: it may join */
	p->join = join_setting && p->threads < maas_blas_threads();
	if (p->join)
	{
		size_t		nwork;

		if (!maas_net_split_workspace(net, max_rows, MAAS_SPLIT_BLOCK, &nwork))
			p->join = false;
		else
		{
			for (int i = 0; i < 2; i++)
				p->split_work[i] = MemoryContextAllocHuge(p->rows.cxt, sizeof(float) * nwork);
			p->y_split = MemoryContextAllocHuge(p->rows.cxt, sizeof(float) *
												(size_t) max_rows * net->n_out);
		}
	}
	if (!exit_hook)
	{
		before_shmem_exit(pipeline_exit, 0);
		exit_hook = true;
	}
}

void
maas_pipeline_first_row(MaasBatchPipeline *p)
{
	if (p->in_flight > 0)
	{
		INSTR_TIME_SET_CURRENT(p->next_start);
		p->next_begun = true;
	}
	else
		maas_stats_begin(p->st, true);
}

/* on the worker: the forward pass, nothing else */
static void
job_run(void *arg)
{
	MaasBatchJob *j = arg;
	MaasBatch	batch = {.n = j->n, .t = 1, .x = j->x};

	maas_blas_bind_thread();
	if (j->split != NULL)
		(void) maas_net_split_take(j->split, 1, j->work, NULL);
	else
		j->y = maas_net_run(j->net, j->blas, &batch, 0, j->work, &j->err);
}

/*
 * Joined: the backend takes blocks of the batch in flight until none is
 * left, then waits for the worker's last.  A pending interrupt stops both
 * between blocks; if the tick returns, the rest goes on (the worker again
 * too).  With may_tick false (an error unwinds) it only stops them.
 */
static void
join_blocks(MaasBatchPipeline *p, bool may_tick)
{
	MaasNetSplit *s = &p->split;
	const volatile sig_atomic_t *flag = &InterruptPending;
	instr_time	t0,
				t1;

	if (!may_tick)
	{
		maas_net_split_stop(s);
		return;
	}
	INSTR_TIME_SET_CURRENT(t0);
	maas_blas_bind_thread();
	maas_blas_cap_thread(1);
	for (;;)
	{
		(void) maas_net_split_take(s, 0, p->split_work[0], flag);
		if (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) ||
			__atomic_load_n(&s->failed, __ATOMIC_ACQUIRE))
			break;
		/* an interrupt: both stop, and the backend ticks */
		maas_async_wait();
		maas_blas_cap_thread(0);
		CHECK_FOR_INTERRUPTS();
		/* it returned: the rest, the worker too; no second tick this batch
		 * if the flag stays set (interrupts held off) */
		if (InterruptPending)
			flag = NULL;
		maas_net_split_resume(s);
		/* no thread: the backend takes them all */
		(void) maas_async_start(job_run, &p->job);
		maas_blas_bind_thread();
		maas_blas_cap_thread(1);
	}
	maas_blas_cap_thread(0);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	p->join_ms += INSTR_TIME_GET_MILLISEC(t1);
}

/* the worker is done: the backend runs products again, with its count */
static int
join(MaasBatchPipeline *p, bool may_tick)
{
	int			n = p->in_flight;
	instr_time	t0,
				t1;
	double		joined = p->join_ms;

	INSTR_TIME_SET_CURRENT(t0);
	if (p->job.split != NULL)
		join_blocks(p, may_tick);
	joined = p->join_ms - joined;
	maas_async_wait();
	INSTR_TIME_SET_CURRENT(t1);
	maas_blas_bind_thread();
	INSTR_TIME_SUBTRACT(t1, t0);
	p->wait_ms += INSTR_TIME_GET_MILLISEC(t1) - joined;
	INSTR_TIME_SUBTRACT(t0, p->sent_at);
	p->read_ms += INSTR_TIME_GET_MILLISEC(t0);
	p->batches++;
	p->in_flight = 0;
	if (p->job.split != NULL)
	{
		p->blocks[0] += p->split.taken[0];
		p->blocks[1] += p->split.taken[1];
		p->job.y = maas_net_split_done(&p->split) ? p->y_split : NULL;
	}
	return n;
}

/* the next batch's call, once the one before it ended */
static void
begin_next(MaasBatchPipeline *p)
{
	if (p->next_begun)
		maas_stats_begin_at(p->st, p->next_start);
	p->next_begun = false;
}

const float *
maas_pipeline_collect(MaasBatchPipeline *p, int *n)
{
	const MaasNet *net = &p->st->m->net;
	const float *y;

	if (p->in_flight == 0)
		return NULL;
	*n = join(p, true);
	y = p->job.y;
	/* it failed on the worker: again here, to raise what the serial path does */
	if (y == NULL)
		y = maas_serve_forward(p->st, p->blas, *n, p->rows.x,
							   maas_batch_work(&p->rows, *n));
	maas_stats_end(p->st, *n, p->rows.x, y);
	begin_next(p);
	/* sized by the first batch, the largest but for a short query's one */
	if (*n > p->done_rows)
	{
		if (p->y_done != NULL)
		{
			pfree(p->y_done);
			pfree(p->keys_done);
		}
		p->y_done = MemoryContextAllocHuge(p->rows.cxt,
										   sizeof(float) * (size_t) *n * net->n_out);
		p->keys_done = MemoryContextAllocHuge(p->rows.cxt, sizeof(int64) * (size_t) *n);
		p->done_rows = *n;
	}
	memcpy(p->y_done, y, sizeof(float) * (size_t) *n * net->n_out);
	memcpy(p->keys_done, p->rows.keys, sizeof(int64) * (size_t) *n);
	return p->y_done;
}

void
maas_pipeline_send(MaasBatchPipeline *p, MaasBatchBuffers *bb, int n)
{
	MaasBatchBuffers *r = &p->rows;
	float	   *x = r->x;
	int64	   *keys = r->keys;
	int			cap = r->cap;

	Assert(p->in_flight == 0 && n > 0);
	r->x = bb->x;
	r->keys = bb->keys;
	r->cap = bb->cap;
	bb->x = x;
	bb->keys = keys;
	bb->cap = cap;

	/* cheap when nothing changed; a nested maas_predict may have changed it */
	p->blas = maas_get_blas_threads(p->threads);
	p->job.net = &p->st->m->net;
	p->job.blas = p->blas;
	p->job.n = n;
	p->job.x = r->x;
	p->job.y = NULL;
	p->job.err.status = MAAS_OK;
	p->job.split = NULL;
	if (p->join)
	{
		maas_net_split_init(&p->split, p->job.net, p->blas, n, r->x, p->y_split,
							MAAS_SPLIT_BLOCK);
		p->job.split = &p->split;
		p->job.work = p->split_work[1];
	}
	else
		p->job.work = maas_batch_work(r, n);
	p->in_flight = n;
	INSTR_TIME_SET_CURRENT(p->sent_at);
	if (!maas_async_start(job_run, &p->job))
		job_run(&p->job);		/* no thread: the same pass, here */
	/* a product on this thread waits for the worker (services.h) */
	maas_blas_ready = NULL;
}

void
maas_pipeline_end(MaasBatchPipeline *p)
{
	/* reading that outlasts the products: the worker waited, not the backend */
	elog(DEBUG1, "maas_predict_batch pipelined %d batches with %d BLAS thread%s: "
		 "%.1f ms reading while the worker ran, %.1f ms waiting for it",
		 p->batches, p->threads, p->threads > 1 ? "s" : "", p->read_ms, p->wait_ms);
	if (p->join)
		elog(DEBUG1, "maas_predict_batch joined: the backend ran %lld blocks of %d rows "
			 "(%.1f ms), the worker %lld",
			 (long long) p->blocks[0], MAAS_SPLIT_BLOCK, p->join_ms,
			 (long long) p->blocks[1]);
}

void
maas_pipeline_abort(MaasBatchPipeline *p)
{
	int			n;

	if (p->in_flight == 0)
		return;
	n = join(p, false);
	/* the batch scored: its call ended, the one being read raised */
	if (p->job.y != NULL)
		maas_stats_end(p->st, n, p->rows.x, p->job.y);
	begin_next(p);
}
