/*
 * batch_pipeline.h
 *		The batch path's pipeline (batch_pipeline.c): while the backend reads
 *		and checks the rows of batch k + 1, the kernels' async worker thread
 *		(threads.h) runs the forward pass of batch k.
 *
 * The backend fills a batch in its MaasBatchBuffers as the serial path
 * does, then maas_pipeline_collect() waits for the batch before it (its
 * outputs and keys are copied out, its call ends in maas.stats) and
 * maas_pipeline_send() swaps the full rows into the pipeline's buffers and
 * starts the worker on them; the backend emits the collected rows while
 * the worker runs and goes on reading.  The worker runs maas_net_run()
 * only, with maas.blas_threads - 1 BLAS threads (at least 1); it touches
 * nothing of PostgreSQL.  If its forward pass fails, the backend runs the
 * batch again itself, so a kernel's error is raised there, after the
 * join, with the serial path's message.
 *
 * Joined (when the worker has fewer BLAS threads than maas.blas_threads,
 * which is auto's case): the batch is cut into blocks of rows (net_split.h)
 * that the worker takes in turn, and the backend, once it has read the
 * next batch (or when there is none), takes blocks too, on one thread,
 * instead of waiting.  Computing, it calls nothing of PostgreSQL; between
 * blocks it looks at InterruptPending, and when it is set stops both,
 * ticks and, if the tick returns, goes on.
 *
 * Whoever may unwind past a batch in flight (an error, a cancel) must call
 * maas_pipeline_abort() first: it waits for the worker.  A backend that
 * exits waits too (a before_shmem_exit callback).
 */
#ifndef MAAS_BATCH_PIPELINE_H
#define MAAS_BATCH_PIPELINE_H

#include "serve.h"

#include "portability/instr_time.h"

#include "net_split.h"
#include "predict_batch.h"

typedef struct MaasBatchJob
{
	const MaasNet *net;
	const MaasBlas *blas;
	int			n;
	const float *x;
	float	   *work;
	const float *y;				/* the outputs, or NULL: it failed */
	MaasError	err;
	MaasNetSplit *split;		/* joined: the blocks, else NULL */
} MaasBatchJob;

typedef struct MaasBatchPipeline
{
	MaasServeState *st;
	int			threads;		/* the worker's BLAS threads */
	const MaasBlas *blas;
	MaasBatchBuffers rows;		/* the batch in flight: rows, keys, workspace */
	int			in_flight;		/* its rows, 0 when none */
	MaasBatchJob job;
	/* joined: the backend takes blocks of the batch once it has read */
	bool		join;
	MaasNetSplit split;
	float	   *split_work[2];	/* the backend's (0) and the worker's (1) */
	float	   *y_split;		/* the batch in flight's outputs */
	bool		next_begun;		/* the next batch's first row was read ... */
	instr_time	next_start;		/* ... then */
	float	   *y_done;			/* the collected batch's outputs */
	int64	   *keys_done;		/* and keys */
	int			done_rows;		/* rows they hold */
	/* for the DEBUG1 summary: how the two threads kept each other busy */
	instr_time	sent_at;		/* when the batch in flight was sent */
	int			batches;
	double		read_ms;		/* backend: from a send to the next collect */
	double		wait_ms;		/* backend: waiting for the worker */
	double		join_ms;		/* backend: taking blocks of its batch */
	int64		blocks[2];		/* blocks the backend and the worker ran */
} MaasBatchPipeline;

/* maas.batch_pipeline, from maas_batch_init */
extern void maas_pipeline_init_setting(void);

/*
 * Should batches of rows rows of st's model go through the pipeline: the
 * setting, the model (a local model whose forward pass allocates nothing:
 * float32 weights, no remote layer) and, for "auto", two BLAS threads or
 * more and enough work in a batch to repay the handoff.
 */
extern bool maas_pipeline_wanted(MaasServeState *st, int rows);

/* extra bytes per row of a pipelined batch, for maas.batch_memory */
extern size_t maas_pipeline_row_bytes(const MaasNet *net);

/* set up p for batches of up to max_rows rows, in the current context */
extern void maas_pipeline_start(MaasBatchPipeline *p, MaasServeState *st,
								int max_rows);

/* a batch's first row was read: its call begins (now, or when the batch
 * in flight ends) */
extern void maas_pipeline_first_row(MaasBatchPipeline *p);

/*
 * Wait for the batch in flight and end its call; its outputs (n rows, in
 * p->y_done, keys in p->keys_done), or NULL when none was in flight.
 */
extern const float *maas_pipeline_collect(MaasBatchPipeline *p, int *n);

/* start the worker on bb's n rows (collect first); bb gets spare buffers */
extern void maas_pipeline_send(MaasBatchPipeline *p, MaasBatchBuffers *bb, int n);

/* the statement's last batch came back: a DEBUG1 line of the timings */
extern void maas_pipeline_end(MaasBatchPipeline *p);

/* an error unwinds: wait for the worker, never raise */
extern void maas_pipeline_abort(MaasBatchPipeline *p);

#endif							/* MAAS_BATCH_PIPELINE_H */
