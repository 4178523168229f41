/*
 * net_split.c
 *		A batch's forward pass in blocks of rows that two threads take in
 *		turn (see net_split.h).
 *
 * A taker claims a block with an atomic increment of the next block's
 * number, runs maas_net_run over its rows into its own workspace and copies
 * the outputs to the block's rows of y; blocks write disjoint rows, so
 * takers share nothing else.  The count of finished blocks is published
 * with release order, and whoever reads it with acquire order (after both
 * takers have returned, which the caller's join orders anyway) sees the
 * outputs.
 */
#include "net_split.h"

#include <string.h>

/* the rows [*r0, *r1) of block b */
static void
block_rows(const MaasNetSplit *s, int b, int *r0, int *r1)
{
	*r0 = b * s->block;
	*r1 = b == s->n_blocks - 1 ? s->n : *r0 + s->block;
}

bool
maas_net_split_workspace(const MaasNet *net, int rows, int block, size_t *nfloats)
{
	int			most = rows < 2 * block - 1 ? rows : 2 * block - 1;

	return maas_net_workspace(net, most < 1 ? 1 : most, 1, nfloats);
}

void
maas_net_split_init(MaasNetSplit *s, const MaasNet *net, const MaasBlas *blas,
					int n, const float *x, float *y, int block)
{
	memset(s, 0, sizeof(*s));
	s->net = net;
	s->blas = blas;
	s->n = n;
	s->block = block < 1 ? 1 : block;
	/* the last block takes the rest: no block of one row but a batch's */
	s->n_blocks = n / s->block;
	if (s->n_blocks < 1)
		s->n_blocks = 1;
	s->x = x;
	s->y = y;
}

bool
maas_net_split_take(MaasNetSplit *s, int taker, float *work,
					const volatile sig_atomic_t *interrupt)
{
	const int	n_in = s->net->n_in;
	const int	n_out = s->net->n_out;

	for (;;)
	{
		int			b,
					r0,
					r1;
		MaasBatch	batch;
		const float *out;

		if (interrupt != NULL && *interrupt)
			maas_net_split_stop(s);
		if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
			return true;
		b = __atomic_fetch_add(&s->next, 1, __ATOMIC_ACQ_REL);
		if (b >= s->n_blocks)
			return true;
		block_rows(s, b, &r0, &r1);
		memset(&batch, 0, sizeof(batch));
		batch.n = r1 - r0;
		batch.t = 1;
		batch.x = s->x + (size_t) r0 * n_in;
		out = maas_net_run(s->net, s->blas, &batch, 0, work, &s->err[taker]);
		if (out == NULL)
		{
			__atomic_store_n(&s->failed, 1, __ATOMIC_RELEASE);
			maas_net_split_stop(s);
			return false;
		}
		memcpy(s->y + (size_t) r0 * n_out, out, sizeof(float) * (size_t) (r1 - r0) * n_out);
		s->taken[taker]++;
		__atomic_fetch_add(&s->finished, 1, __ATOMIC_RELEASE);
	}
}

bool
maas_net_split_done(const MaasNetSplit *s)
{
	return __atomic_load_n(&s->finished, __ATOMIC_ACQUIRE) == s->n_blocks &&
		!__atomic_load_n(&s->failed, __ATOMIC_ACQUIRE);
}

void
maas_net_split_stop(MaasNetSplit *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
}

void
maas_net_split_resume(MaasNetSplit *s)
{
	int			finished = __atomic_load_n(&s->finished, __ATOMIC_ACQUIRE);

	/* blocks are taken in order: the ones claimed all finished */
	__atomic_store_n(&s->next, finished, __ATOMIC_RELAXED);
	__atomic_store_n(&s->stop, 0, __ATOMIC_RELEASE);
}
