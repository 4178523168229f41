/*
 * net_tiles.c
 *		The layer runtime's image layers (net.c): a batch in tiles of rows,
 *		the NHWC layout between the convolutions, and the tiles on several
 *		threads.
 *
 * Tiles.  A network of image layers runs a large batch in tiles of rows,
 * each tile through the image steps before the next: a CNN's activations
 * are tens of kilobytes a row, so a layer-by-layer pass over 1,024 rows
 * streams tens of megabytes through memory at every layer, while a tile of
 * a few rows stays in the cache between the convolution, its activation
 * and its pooling (test/bench/cnn_net.c measures it).  The values of a
 * tile lie at the start of their buffers.  The tiled steps are the plan's
 * first ones, up to the last image step: the rows of its value are copied
 * into an area of the workspace of their own (the front), and the steps
 * after it (flatten, the dense layers) run once over the whole batch from
 * there, as large products, unless one of them reads a value of the tiles
 * other than that one (then every step runs in tiles, and the front
 * gathers the output).  Rows are independent in a feature model, so the
 * results are a whole-batch pass's but for GEMM blocking (float noise).
 *
 * Layouts.  maas lays images NCHW, as torch; oneDNN's fast convolutions
 * read and write NHWC (or blocked) layouts, and a reorder in and out of
 * every convolution costs what the primitive saves.  So a value written by
 * a conv2d (or by a max pooling of an NHWC value) and read only by conv2d
 * and max pooling steps among the tiled ones, not the output, is kept
 * NHWC: the convolution writes it so, the pooling reads it so (and writes
 * NHWC, or NCHW when its own value is not kept NHWC).  The layouts are
 * NetStep.layout, used when the backend runs the convolutions
 * (MaasBlas.conv2d_ready): a net whose conv2d steps would all fall back to
 * im2col runs NCHW as before, and a shape the backend refuses runs through
 * transposes (ops_conv.c).  The first layer's input of one channel is NCHW
 * and NHWC alike.  run_to (net.c) runs NCHW.
 *
 * Threads.  With maas.blas_threads above 1, tiled steps of only image
 * kernels that call no BLAS (conv2d on the backend's convolution, pooling,
 * batchnorm, relu) run their tiles on that many threads at once (threads.c),
 * a tile per thread, each convolution on its thread alone (MaasBlas.conv2d_at
 * with the thread's slot), instead of each small convolution split over two
 * OpenMP threads with a barrier each.  Each thread's values lie in its own
 * stretch of the buffers (thread t's at row t * tile); the threads take the
 * next tile from a shared counter, so a thread slowed by the machine's load
 * takes fewer.  A tile a thread cannot run (a convolution the backend
 * refused, which would need BLAS) stops the threads, and it and the tiles
 * not started run after, on the caller's thread, the usual way.
 */
#include "net_plan.h"

#include <stdatomic.h>
#include <string.h>

#include "threads.h"

static bool
image_step(const NetStep *s)
{
	return !s->layer->shape.seq && s->layer->shape.h > 0;
}

/* an op that may run on a thread of tiles (no BLAS, no allocation) */
static bool
apart_op(MaasOp op)
{
	return op == MAAS_OP_CONV2D || op == MAAS_OP_MAXPOOL2D || op == MAAS_OP_AVGPOOL2D ||
		op == MAAS_OP_GLOBAL_AVGPOOL || op == MAAS_OP_BATCHNORM || op == MAAS_OP_RELU ||
		op == MAAS_OP_DROPOUT || op == MAAS_OP_STANDARDIZE;
}

/* the value ids step s reads */
static int
step_inputs(const MaasNet *net, const NetStep *s, int *ids)
{
	return maas_net_layer_inputs(s->layer, (int) (s->layer - net->layers), ids);
}


/*
 * A feature model with an image layer among its steps, and only row
 * values, runs in tiles: the bytes of a row of its input and buffers.  A
 * remote layer (one request a call) or a KV cache keeps one pass.
 */
static size_t
tile_row_bytes(const MaasNet *net, const NetPlan *plan)
{
	bool		image = false;
	size_t		floats = (size_t) net->n_in;

	if (net->input != MAAS_NET_FEATURES)
		return 0;
	for (int i = 0; i < plan->n_steps; i++)
	{
		const MaasLayer *l = plan->steps[i].layer;

		if (l->op == MAAS_OP_REMOTE || maas_op_info(l->op)->kv_cache || l->shape.seq)
			return 0;
		if (l->op == MAAS_OP_CONV2D || l->op == MAAS_OP_MAXPOOL2D ||
			l->op == MAAS_OP_AVGPOOL2D || l->op == MAAS_OP_GLOBAL_AVGPOOL)
			image = true;
	}
	if (!image)
		return 0;
	for (int b = 0; b < net->n_buffers; b++)
		floats += plan->row_width[b] + plan->seq_width[b];
	return floats * sizeof(float);
}

/* the steps in tiles, the front's buffer, and whether threads may run them */
static void
plan_split(const MaasNet *net, NetPlan *plan)
{
	int			last = -1;
	int			split;

	for (int i = 0; i < plan->n_steps; i++)
		if (image_step(&plan->steps[i]))
			last = i;
	split = last + 1;
	/* the steps after read only the split value, their own, or x */
	for (int i = split; split > 0 && i < plan->n_steps; i++)
	{
		int			ids[MAAS_LAYER_MAX_INPUTS];
		int			n = step_inputs(net, &plan->steps[i], ids);

		for (int k = 0; k < n; k++)
		{
			bool		ok = ids[k] == 0 || ids[k] == plan->steps[split - 1].value;

			for (int j = split; !ok && j < i; j++)
				ok = ids[k] == plan->steps[j].value;
			if (!ok)
				split = 0;
		}
	}
	plan->n_tiled = split > 0 ? split : plan->n_steps;
	plan->tiled_buf = plan->steps[plan->n_tiled - 1].out_buf;
	plan->tiles_apart = true;
	for (int i = 0; i < plan->n_tiled; i++)
		if (!apart_op(plan->steps[i].layer->op))
			plan->tiles_apart = false;
}

/* may value v of the tiled steps be NHWC: read only by conv2d and max pooling */
static bool
nhwc_readers(const MaasNet *net, const NetPlan *plan, int v, int after)
{
	int			readers = 0;

	if (v == plan->output)
		return false;
	for (int i = after; i < plan->n_steps; i++)
	{
		int			ids[MAAS_LAYER_MAX_INPUTS];
		int			n = step_inputs(net, &plan->steps[i], ids);
		MaasOp		op = plan->steps[i].layer->op;

		for (int k = 0; k < n; k++)
		{
			if (ids[k] != v)
				continue;
			if (i >= plan->n_tiled || n != 1 ||
				(op != MAAS_OP_CONV2D && op != MAAS_OP_MAXPOOL2D))
				return false;
			readers++;
		}
	}
	return readers > 0;
}

static void
plan_layouts(const MaasNet *net, NetPlan *plan)
{
	bool		small[256];
	bool	   *nhwc = small;
	int			L = net->n_layers;

	plan->nhwc = false;
	for (int i = 0; i < plan->n_steps; i++)
		plan->steps[i].layout = 0;
	if (plan->tile_row_bytes == 0 ||
		(L + 1 > (int) sizeof(small) &&
		 (nhwc = maas_kalloc_array((size_t) L + 1, sizeof(bool))) == NULL))
		return;					/* NCHW: right, only slower; the array
								 * goes with the net's memory */
	memset(nhwc, 0, sizeof(bool) * ((size_t) L + 1));
	/* one channel: the input is NCHW and NHWC alike */
	nhwc[0] = net->in_h > 0 && net->in_c == 1;
	for (int i = 0; i < plan->n_tiled; i++)
	{
		NetStep    *s = &plan->steps[i];
		MaasOp		op = s->layer->op;
		int			ids[MAAS_LAYER_MAX_INPUTS];
		int			v = s->value;
		bool		in;

		if (op != MAAS_OP_CONV2D && op != MAAS_OP_MAXPOOL2D)
			continue;
		if (step_inputs(net, s, ids) != 1)
			continue;
		/* a value of one channel is NCHW and NHWC alike (a standardize's) */
		in = nhwc[ids[0]] ||
			(ids[0] > 0 && net->layers[ids[0] - 1].shape.h > 0 &&
			 net->layers[ids[0] - 1].shape.c == 1);
		if (op == MAAS_OP_MAXPOOL2D && !in)
			continue;
		nhwc[v] = nhwc_readers(net, plan, v, i + 1);
		s->layout = (in ? MAAS_CONV_IN_NHWC : 0) | (nhwc[v] ? MAAS_CONV_OUT_NHWC : 0);
		if (nhwc[v])
			plan->nhwc = true;
	}
}

void
maas_net_plan_tiles(const MaasNet *net, NetPlan *plan)
{
	plan->tile_row_bytes = tile_row_bytes(net, plan);
	plan->n_tiled = plan->n_steps;
	plan->tiled_buf = plan->steps[plan->n_steps - 1].out_buf;
	plan->tiles_apart = false;
	if (plan->tile_row_bytes > 0)
		plan_split(net, plan);
	plan_layouts(net, plan);
}

bool
maas_net_nhwc(const NetPlan *plan, const MaasBlas *blas)
{
	return plan->nhwc && blas->conv2d_at != NULL && blas->conv2d_ready != NULL &&
		blas->conv2d_ready();
}

/*
 * The conv2d steps' weights packed for the backend's convolution, for the
 * layouts they run with (maas_net_pack, as the model is loaded)
 */
bool
maas_net_pack_images(const MaasNet *net, const MaasBlas *blas, MaasError *err)
{
	const NetPlan *plan = net->plan;
	bool		ok = true;
	MaasError	later;

	if (plan == NULL || !maas_net_nhwc(plan, blas))
		return true;			/* NCHW runs conv2d, which packs nothing */
	for (int i = 0; i < plan->n_steps; i++)
	{
		const NetStep *s = &plan->steps[i];

		/* a failed layer stays unpacked; the first failure is reported */
		if (s->layer->op == MAAS_OP_CONV2D && s->layout != 0 &&
			!maas_conv2d_pack((MaasLayer *) s->layer, blas, s->layout, s->relu,
							  ok ? err : &later))
			ok = false;
	}
	return ok;
}

/* what the threads of one batch share */
typedef struct TileJob
{
	const MaasNet *net;
	const NetPlan *plan;
	const MaasRun *run;			/* the caller's */
	float	   *const *bufs;
	float	   *front;
	size_t		per_row[MAAS_NET_MAX_BUFFERS];	/* floats a row of each buffer */
	size_t		width;			/* floats a row of the tiled value */
	int			tile;
	int			n_tiles;
	bool		nhwc;
	atomic_int	next;			/* the next tile to take */
	atomic_bool stop;
	int			failed[MAAS_CONV_SLOTS];	/* a tile thread t could not run, or -1 */
	bool		error;			/* one thread only: its steps failed */
} TileJob;

/* tile k on thread t's buffers; false when a step failed */
static bool
run_tile(TileJob *j, MaasRun *run, MaasBatch *part, float *const *bufs, int k)
{
	const MaasBatch *batch = j->run->batch;
	int			r0 = k * j->tile;

	part->n = batch->n - r0 < j->tile ? batch->n - r0 : j->tile;
	part->x = batch->x + (size_t) r0 * j->net->n_in;
	if (!maas_net_run_steps(j->plan, run, part->x, bufs, 0, j->plan->n_tiled, j->nhwc))
		return false;
	memcpy(j->front + (size_t) r0 * j->width, bufs[j->plan->tiled_buf],
		   sizeof(float) * (size_t) part->n * j->width);
	return true;
}

static void
tile_thread(void *arg, int t, int m)
{
	TileJob    *j = arg;
	float	   *bufs[MAAS_NET_MAX_BUFFERS];
	MaasBatch	part = *j->run->batch;
	MaasRun		run = *j->run;
	MaasError	err;

	for (int b = 0; b < j->net->n_buffers; b++)
		bufs[b] = j->bufs[b] + (size_t) t * j->tile * j->per_row[b];
	run.batch = &part;
	if (m > 1)
	{
		/* no BLAS, no scratch: what needs them runs after, apart */
		run.thread = t;
		run.scratch = NULL;
		run.err = &err;
	}
	j->failed[t] = -1;
	while (!atomic_load_explicit(&j->stop, memory_order_relaxed))
	{
		int			k = atomic_fetch_add(&j->next, 1);

		if (k >= j->n_tiles)
			break;
		if (!run_tile(j, &run, &part, bufs, k))
		{
			j->failed[t] = k;
			atomic_store(&j->stop, true);
			break;
		}
	}
}

/* the tiles of a batch; see the top */
bool
maas_net_run_tiles(const MaasNet *net, MaasRun *run, float *const *bufs,
				   float *front, const float **result)
{
	const NetPlan *plan = net->plan;
	const MaasBatch *batch = run->batch;
	const MaasBlas *blas = run->blas;
	TileJob		j;
	float	   *rest[MAAS_NET_MAX_BUFFERS];
	int			threads = blas->info != NULL && blas->info->threads > 1 ? blas->info->threads : 1;
	size_t		rows = maas_net_tile_bytes / plan->tile_row_bytes;
	int			m = 1;
	int			redo;

	*result = NULL;
	memset(&j, 0, sizeof(j));
	j.net = net;
	j.plan = plan;
	j.run = run;
	j.bufs = bufs;
	j.front = front;
	j.nhwc = maas_net_nhwc(plan, blas);
	j.width = (size_t) plan->steps[plan->n_tiled - 1].layer->shape.width;
	j.tile = rows < 1 ? 1 : rows > (size_t) batch->n ? batch->n : (int) rows;
	if (threads > MAAS_CONV_SLOTS)
		threads = MAAS_CONV_SLOTS;
	if (plan->tiles_apart && threads > 1 && batch->n >= 2 &&
		blas->conv2d_ready != NULL && blas->conv2d_ready())
	{
		/* every thread a stretch of the buffers: m tiles fit the batch */
		m = threads < batch->n ? threads : batch->n;
		if (j.tile > batch->n / m)
			j.tile = batch->n / m;
	}
	else
	{
		/* one thread of tiles, the GEMMs on all: a tile for every cache */
		rows = maas_net_tile_bytes / plan->tile_row_bytes * (size_t) threads;
		j.tile = rows < 1 ? 1 : rows > (size_t) batch->n ? batch->n : (int) rows;
	}
	if (j.tile >= batch->n && m == 1)
		return true;			/* one pass: the caller runs the steps */
	j.n_tiles = (batch->n + j.tile - 1) / j.tile;
	for (int b = 0; b < net->n_buffers; b++)
		j.per_row[b] = plan->row_width[b] > plan->seq_width[b] ?
			plan->row_width[b] : plan->seq_width[b];
	atomic_init(&j.next, 0);
	atomic_init(&j.stop, false);

	if (m > 1)
		maas_parallel(m, tile_thread, &j);
	/* serially: all of them, or those the threads left */
	redo = m > 1 ? atomic_load(&j.next) : 0;
	if (m > 1)
	{
		MaasBatch	part = *batch;
		MaasRun		one = *run;

		one.batch = &part;
		for (int t = 0; t < m; t++)
			if (j.failed[t] >= 0 && !run_tile(&j, &one, &part, bufs, j.failed[t]))
				return false;
		for (int k = redo; k < j.n_tiles; k++)
			if (!run_tile(&j, &one, &part, bufs, k))
				return false;
	}
	else
	{
		atomic_init(&j.next, 0);
		tile_thread(&j, 0, 1);
		if (j.failed[0] >= 0)
			return false;
	}

	/* the steps after the tiles, over the whole batch from the front */
	for (int b = 0; b < net->n_buffers; b++)
		rest[b] = bufs[b];
	rest[plan->tiled_buf] = front;
	if (!maas_net_run_steps(plan, run, batch->x, rest, plan->n_tiled, plan->n_steps, false))
		return false;
	*result = rest[plan->steps[plan->n_steps - 1].out_buf];
	return true;
}
