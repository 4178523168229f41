/*
 * predict_batch.h
 *		Scoring row sets in batches (predict_batch.c), and how many rows a
 *		batch may hold, which maas_evaluate uses too.
 */
#ifndef MAAS_PREDICT_BATCH_H
#define MAAS_PREDICT_BATCH_H

#include "postgres.h"

#include "net.h"

/* maas.batch_size: rows per matrix-matrix pass */
extern int	maas_batch_size;

extern void maas_batch_init(void);

/*
 * The rows of a batch of net, at most want, that fit maas.batch_memory
 * with their input and workspace; at least 1, since one row is what the
 * per-row functions need anyway.
 */
extern int	maas_batch_rows(const MaasNet *net, int want);

/*
 * Buffers of a batch that grow with the rows actually read, up to the
 * batch's rows: a one-row query never allocates a whole batch.
 */
typedef struct MaasBatchBuffers
{
	MemoryContext cxt;
	const MaasNet *net;
	int			max_rows;		/* the batch */
	int			cap;			/* rows x and keys hold */
	float	   *x;				/* cap x n_in */
	int64	   *keys;			/* cap, or NULL if not asked for */
	bool		with_keys;
	int			work_rows;		/* rows work is sized for */
	float	   *work;
} MaasBatchBuffers;

extern void maas_batch_buffers_init(MaasBatchBuffers *bb, const MaasNet *net,
									int max_rows, bool with_keys);
/* room for row n (0-based): grows x and keys when needed */
extern void maas_batch_reserve(MaasBatchBuffers *bb, int n);
/* the runtime's workspace for n rows */
extern float *maas_batch_work(MaasBatchBuffers *bb, int n);

#endif							/* MAAS_PREDICT_BATCH_H */
