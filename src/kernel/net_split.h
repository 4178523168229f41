/*
 * net_split.h
 *		One batch's forward pass shared by two threads (net_split.c): the
 *		rows are cut into blocks, each block a maas_net_run of its own, and
 *		whichever thread is free takes the next block.
 *
 * The batch path's pipeline (src/server/batch_pipeline.c) gives a batch to
 * its worker thread, which starts taking blocks; the backend's thread
 * joins once it has read the next batch, and the batch is done when both
 * have returned.  The blocks are fixed by the batch's rows and the block
 * size, never by who takes them or when: the same rows, the same products,
 * the same bits, whichever thread ran a block (with a backend whose
 * products give the same bits on any thread count: oneDNN's matmul).  No
 * block has one row but a batch of one row (a one-row product takes
 * another kernel): the last block takes the rest, up to 2 * block - 1
 * rows.
 *
 * Nothing here knows PostgreSQL: the backend passes the address of its
 * interrupt flag, and a taker that sees it set stops taking blocks (and
 * makes the other stop), so that the caller may tick and then resume.
 */
#ifndef MAAS_NET_SPLIT_H
#define MAAS_NET_SPLIT_H

#include <signal.h>

#include "net.h"

/* rows a block: a product of this many rows runs at the kernel's speed */
#define MAAS_SPLIT_BLOCK 128

typedef struct MaasNetSplit
{
	const MaasNet *net;
	const MaasBlas *blas;
	int			n;				/* rows */
	int			block;			/* rows a block (the last: up to 2x) */
	int			n_blocks;
	const float *x;				/* n * n_in */
	float	   *y;				/* n * n_out, written block by block */
	/* between the takers: __atomic builtins */
	int			next;			/* the next block to take */
	int			finished;		/* blocks run */
	int			stop;			/* take no more */
	int			failed;			/* a block failed: y is not whole */
	int			taken[2];		/* blocks each taker ran (taker 0, 1) */
	MaasError	err[2];			/* each taker's failure */
} MaasNetSplit;

/* floats of workspace a taker needs for blocks of net with rows rows */
extern bool maas_net_split_workspace(const MaasNet *net, int rows, int block,
									 size_t *nfloats);

/* set s up for the n rows of x, outputs into y */
extern void maas_net_split_init(MaasNetSplit *s, const MaasNet *net,
								const MaasBlas *blas, int n, const float *x,
								float *y, int block);

/*
 * Take blocks until none is left, one fails, or the split is stopped (also
 * when *interrupt, if given, becomes nonzero: then it stops the split).
 * taker is 0 or 1; work is its workspace.  False when a block it ran
 * failed (err[taker] says why).
 */
extern bool maas_net_split_take(MaasNetSplit *s, int taker, float *work,
								const volatile sig_atomic_t *interrupt);

/* all blocks ran (once every taker has returned) */
extern bool maas_net_split_done(const MaasNetSplit *s);

/* stop the takers: they finish the block they run and return */
extern void maas_net_split_stop(MaasNetSplit *s);

/* after a stop: blocks may be taken again (none runs now) */
extern void maas_net_split_resume(MaasNetSplit *s);

#endif							/* MAAS_NET_SPLIT_H */
