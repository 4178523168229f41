/*
 * batch_buffers.c
 *		The buffers of a batch of rows (MaasBatchBuffers, predict_batch.h):
 *		the rows' features, their keys and the runtime's workspace, grown
 *		with the rows actually read up to the batch's rows.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "predict_batch.h"

static void
batch_too_large(const MaasNet *net, int rows)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("a batch of %d rows of %d features is too large", rows, net->n_in),
			 errhint("Lower batch_size, maas.batch_size or maas.batch_memory.")));
}

void
maas_batch_buffers_init(MaasBatchBuffers *bb, const MaasNet *net, int max_rows,
						bool with_keys)
{
	memset(bb, 0, sizeof(*bb));
	bb->cxt = CurrentMemoryContext;
	bb->net = net;
	bb->max_rows = max_rows;
	bb->with_keys = with_keys;
}

/*
 * A new buffer of n * size bytes for a batch of rows rows, the first keep
 * bytes of old copied into it and old freed.
 */
static void *
grow(MaasBatchBuffers *bb, void *old, size_t keep, size_t n, size_t size, int rows)
{
	size_t		bytes;
	void	   *p;

	if (!maas_mul_size(n, size, &bytes) || !AllocHugeSizeIsValid(bytes))
		batch_too_large(bb->net, rows);
	p = MemoryContextAllocExtended(bb->cxt, Max(bytes, 1), MCXT_ALLOC_HUGE);
	if (old)
	{
		memcpy(p, old, keep);
		pfree(old);
	}
	return p;
}

void
maas_batch_reserve(MaasBatchBuffers *bb, int n)
{
	int			cap;

	if (n < bb->cap)
		return;
	cap = bb->cap == 0 ? Min(8, bb->max_rows) : Min(bb->cap * 2, bb->max_rows);
	Assert(n < cap);
	bb->x = grow(bb, bb->x, sizeof(float) * (size_t) bb->cap * bb->net->n_in,
				 (size_t) cap * bb->net->n_in, sizeof(float), cap);
	if (bb->with_keys)
		bb->keys = grow(bb, bb->keys, sizeof(int64) * bb->cap, cap, sizeof(int64), cap);
	bb->cap = cap;
}

float *
maas_batch_work(MaasBatchBuffers *bb, int n)
{
	size_t		nwork;

	if (n <= bb->work_rows)
		return bb->work;
	if (!maas_net_workspace(bb->net, n, 1, &nwork))
		batch_too_large(bb->net, n);
	if (bb->work)
		pfree(bb->work);
	bb->work = NULL;
	bb->work_rows = 0;
	bb->work = grow(bb, NULL, 0, nwork, sizeof(float), n);
	bb->work_rows = n;
	return bb->work;
}
