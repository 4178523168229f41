/*
 * train_cnn.c
 *		Mini-batch training of convolutional networks (see train.h): each
 *		convolution followed by ReLU and, optionally, max pooling, then the
 *		dense stack of the MLP and its head, trained by the MLP's loop
 *		(train_int.h): the same optimizers, dropout, early stopping,
 *		divergence checks, hooks and validation through the runtime.
 *
 * What lives in memory, besides the loop's parameters, gradients, moments,
 * best copy and mini-batch: per convolution, its output for the batch
 * (after pooling when it pools: ReLU after max pooling gives the same
 * values as before it, on a quarter of them, and the same gradients) and
 * the pooling's argmax; one shared buffer for a convolution's output
 * before pooling (backward does not need it: the convolution's backward
 * pass takes its input, and pooling's its argmax); two gradient buffers as
 * large as the largest convolution output; the convolutions' scratch
 * (im2col columns of a chunk of rows); and the dense stack's batch.
 *
 * Per batch (rows x, m of them, [m, c, h, w]):
 *
 *	forward		z = conv_i(x_i); x_(i+1) = relu(maxpool(z)) (or relu(z));
 *				logits = dense stack (flatten is free: NCHW rows are
 *				already torch's flatten order)
 *	backward	the dense stack's gradient at its input; then per
 *				convolution, last first: g *= (x_(i+1) > 0); g through the
 *				pooling's argmax; the convolution's backward pass (dW, db,
 *				and the gradient at its input, except for the first)
 *
 * The convolutions run on the matrix backend's own (oneDNN's forward and
 * backward primitives, MaasBlas.conv2d and conv2d_backward) where it has
 * them, else on maas's kernels (conv.c: im2col for these shapes): see
 * conv_forward and conv_backward.
 *
 * The stored model is the same program as a layer program of ops_conv.c
 * (conv2d, maxpool2d, relu, ..., flatten, dense, softmax): validation and
 * prediction run through it.
 */
#include "train_int.h"
#include "threads.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define EVAL_ROWS		64		/* images per evaluation chunk */
#define MAX_NET_LAYERS	(3 * MAAS_CNN_MAX_CONV + 1 + 2 * NN_MAX_LAYERS + 1)

/* a weight and a bias segment per convolution and per dense layer */
_Static_assert(2 * MAAS_CNN_MAX_CONV + 2 * NN_MAX_LAYERS <= NN_MAX_SEGMENTS,
			   "NN_MAX_SEGMENTS is too small for a cnn");

typedef struct CnnState
{
	NnFit		fit;
	const MaasCnnConfig *cfg;
	MaasCnnModel shapes;		/* geometries (weights: offsets below) */
	int			n_conv;
	size_t		w_off[MAAS_CNN_MAX_CONV];
	size_t		b_off[MAAS_CNN_MAX_CONV];
	size_t		out_size[MAAS_CNN_MAX_CONV];	/* floats of x_(i+1) a row */
	size_t		conv_size[MAAS_CNN_MAX_CONV];	/* floats of z a row */
	size_t		max_size;		/* largest of both, and the flattened input */
	size_t		scratch_floats;
	NnDense		dense;
	/* one mini-batch */
	float	   *out[MAAS_CNN_MAX_CONV];
	int32_t    *argmax[MAAS_CNN_MAX_CONV];
	float	   *z;
	float	   *g0;
	float	   *g1;
	float	   *scratch;
	/* the split convolutions (conv_split): the other parts' gradients */
	int			parts;			/* 1 to MAAS_CONV_SLOTS: cfg->threads */
	size_t		part_floats;	/* floats of a convolution's weights and bias, the most */
	float	   *part_grads;		/* parts - 1 of them */
	bool		no_split[MAAS_CNN_MAX_CONV][2];	/* a part of the forward (0) or
												 * backward (1) did not run */
	MaasLayer	layers[MAX_NET_LAYERS];
	int			conv_layer[MAAS_CNN_MAX_CONV];	/* in the evaluation net */
} CnnState;

/* ---- the geometry ---- */

bool
maas_cnn_check(const MaasCnnConfig *cfg, MaasCnnModel *model, MaasError *err)
{
	int			c = cfg->in_c,
				h = cfg->in_h,
				w = cfg->in_w;
	MaasError	kerr;

	memset(model, 0, sizeof(*model));
	if (c <= 0 || h <= 0 || w <= 0 || (int64_t) c * h * w != cfg->nn.n_in)
		return maas_error(err, MAAS_ERR_INVALID,
						  "the input shape [%d, %d, %d] does not make %d features",
						  c, h, w, cfg->nn.n_in);
	if (cfg->n_conv < 1 || cfg->n_conv > MAAS_CNN_MAX_CONV)
		return maas_error(err, MAAS_ERR_INVALID, "a cnn has 1 to %d convolutions, not %d",
						  MAAS_CNN_MAX_CONV, cfg->n_conv);
	model->n_conv = cfg->n_conv;
	for (int i = 0; i < cfg->n_conv; i++)
	{
		const MaasCnnConv *cv = &cfg->conv[i];
		MaasConv2d *g = &model->conv[i];
		int64_t		hp = (int64_t) h + 2 * (int64_t) cv->padding,
					wp = (int64_t) w + 2 * (int64_t) cv->padding;

		if (cv->filters <= 0 || cv->kernel <= 0 || cv->stride <= 0 || cv->padding < 0 ||
			cv->pool <= 0)
			return maas_error(err, MAAS_ERR_INVALID,
							  "convolution %d has a size that is not positive", i + 1);
		if (cv->kernel > hp || cv->kernel > wp)
			return maas_error(err, MAAS_ERR_INVALID,
							  "convolution %d has a %dx%d kernel, larger than its %dx%d input%s",
							  i + 1, cv->kernel, cv->kernel, h, w,
							  cv->padding > 0 ? " with its padding" : "");
		maas_conv2d_init(g, c, h, w, cv->filters, cv->kernel, cv->kernel);
		g->stride_h = g->stride_w = cv->stride;
		g->pad_top = g->pad_left = g->pad_bottom = g->pad_right = cv->padding;
		if (!maas_conv2d_check(g, &kerr))
			return maas_error(err, kerr.status, "convolution %d: %s", i + 1, kerr.msg);
		c = g->c_out;
		h = g->h_out;
		w = g->w_out;
		if (cv->pool > 1)
		{
			MaasPool2d *p = &model->pool[i];

			if (cv->pool > h || cv->pool > w)
				return maas_error(err, MAAS_ERR_INVALID,
								  "the pooling after convolution %d has a %dx%d window, larger than its %dx%d input",
								  i + 1, cv->pool, cv->pool, h, w);
			maas_pool2d_init(p, c, h, w, cv->pool, cv->pool);
			if (!maas_pool2d_check(p, &kerr))
				return maas_error(err, kerr.status, "the pooling after convolution %d: %s",
								  i + 1, kerr.msg);
			model->pooled[i] = true;
			h = p->h_out;
			w = p->w_out;
		}
	}
	/* the head reads the last image, flattened (the kernels kept it an int) */
	model->head.n_layers = cfg->nn.n_hidden + 1;
	model->head.n_in[0] = c * h * w;
	for (int l = 0; l < model->head.n_layers; l++)
	{
		model->head.n_out[l] = l < cfg->nn.n_hidden ? cfg->nn.hidden[l] : cfg->nn.n_out;
		if (l > 0)
			model->head.n_in[l] = model->head.n_out[l - 1];
	}
	return true;
}

/* ---- kernels ---- */

MAAS_SIMD static void
relu_inplace(size_t n, float *restrict v)
{
	for (size_t i = 0; i < n; i++)
		v[i] = v[i] > 0.0f ? v[i] : 0.0f;
}

/*
 * The step's own passes over the activations (pooling forward and
 * backward, ReLU and its gradient) split by rows over the training
 * threads (threads.h): the convolutions and products already run on them,
 * and these passes, each a few hundred microseconds on one thread, left
 * the other cores idle between them.  Each row's values are computed as
 * on one thread, so a model trains to the same bits whatever the threads.
 */
typedef enum RowPass
{
	PASS_POOL,					/* max pooling forward, with its argmax */
	PASS_RELU,					/* relu of the pooled (or unpooled) output */
	PASS_POOL_BACK,				/* relu's gradient, then the pooling's */
	PASS_RELU_BACK				/* relu's gradient alone */
} RowPass;

typedef struct RowJob
{
	RowPass		pass;
	int			m;				/* rows */
	const MaasPool2d *pool;
	size_t		in_size,		/* floats a row of the pass's input */
				out_size;		/* ... of its output (the pooled) */
	const float *in;
	float	   *out;
	int32_t    *argmax;
	float	   *g;				/* the gradient at the output */
} RowJob;

static void
row_part(void *arg, int t, int parts)
{
	const RowJob *j = arg;
	int64_t		r0,
				r1;
	size_t		n;

	maas_split_range(j->m, t, parts, &r0, &r1);
	n = (size_t) (r1 - r0);
	if (n == 0)
		return;
	switch (j->pass)
	{
		case PASS_POOL:
			maas_maxpool2d_forward(j->pool, (int) n, j->in + r0 * j->in_size,
								   j->out + r0 * j->out_size, j->argmax + r0 * j->out_size);
			relu_inplace(n * j->out_size, j->out + r0 * j->out_size);
			break;
		case PASS_RELU:
			relu_inplace(n * j->out_size, j->out + r0 * j->out_size);
			break;
		case PASS_POOL_BACK:
			maas_nn_relu_backward(n * j->out_size, j->g + r0 * j->out_size,
								  j->in + r0 * j->out_size);
			maas_maxpool2d_backward(j->pool, (int) n, j->g + r0 * j->out_size,
									j->argmax + r0 * j->out_size, j->out + r0 * j->in_size);
			break;
		case PASS_RELU_BACK:
			maas_nn_relu_backward(n * j->out_size, j->g + r0 * j->out_size,
								  j->in + r0 * j->out_size);
			break;
	}
}

/* the parts m rows are split into: as many as there are threads and rows for */
static int
row_parts(const MaasBlas *blas, int m)
{
	int			threads = blas->info != NULL ? blas->info->threads : 1;

	return threads < m ? threads : m;
}

/* a pass over m rows, in row_parts parts */
static void
row_pass(const MaasBlas *blas, RowJob *j)
{
	int			threads = row_parts(blas, j->m);

	if (threads > 1)
		maas_parallel(threads, row_part, j);
	else
		row_part(j, 0, 1);
}

/*
 * A convolution of the mini-batch split by rows over the training threads,
 * each part on oneDNN's primitives of its own slot, on one thread
 * (MaasBlas.conv2d_at and conv2d_backward with a thread), instead of one
 * call that oneDNN's threads share: on two threads such a call of 64 rows
 * ran the second convolution's forward and backward only 1.3-1.4x faster
 * than on one (AMD EPYC Zen 4, doc/training.md).  The parts' weight and
 * bias gradients are summed in the parts' order, so a run is the same on
 * the same threads.  False when a part did not run on the backend (no
 * oneDNN, a shape it refused, few input channels under "auto"): the caller
 * then runs the whole batch as before, and this convolution is not split
 * again in this fit.
 */
typedef struct ConvSplit
{
	const MaasConv2d *g;
	const MaasBlas *blas;
	int			m;
	bool		backward;
	const float *x;				/* the convolution's input */
	const float *w;
	const float *b;				/* forward */
	float	   *out;			/* forward: the output */
	const float *dz;			/* backward: the gradient at the output */
	float	   *dinp;			/* backward: at the input, or NULL */
	float	   *dw[MAAS_CONV_SLOTS];
	float	   *db[MAAS_CONV_SLOTS];
	bool		ok[MAAS_CONV_SLOTS];
	int			parts;			/* as maas_parallel ran them */
} ConvSplit;

long		maas_cnn_split_runs = 0;

static void
conv_part(void *arg, int t, int parts)
{
	ConvSplit  *j = arg;
	size_t		isz = maas_conv2d_in_size(j->g),
				osz = maas_conv2d_out_size(j->g);
	int64_t		r0,
				r1;
	int			n;

	j->parts = parts;
	maas_split_range(j->m, t, parts, &r0, &r1);
	n = (int) (r1 - r0);
	if (!j->backward)
		j->ok[t] = j->blas->conv2d_at(j->g, n, j->x + r0 * isz, j->w, NULL, j->b, false,
									  j->out + r0 * osz, 0, t);
	else
		j->ok[t] = j->blas->conv2d_backward(j->g, n, j->dz + r0 * osz, j->x + r0 * isz, j->w,
											j->dinp != NULL ? j->dinp + r0 * isz : NULL,
											j->dw[t], j->db[t], t);
}

static bool
conv_split(CnnState *st, int i, ConvSplit *j)
{
	int			parts = row_parts(j->blas, j->m);
	size_t		nw = maas_conv2d_weights(j->g);

	if (parts > st->parts)
		parts = st->parts;
	if (parts < 2 || st->no_split[i][j->backward] || j->blas->conv2d_at == NULL ||
		j->blas->conv2d_ready == NULL || !j->blas->conv2d_ready())
		return false;
	for (int t = 1; t < parts; t++)
	{
		j->dw[t] = st->part_grads + (size_t) (t - 1) * st->part_floats;
		j->db[t] = j->dw[t] + nw;
	}
	memset(j->ok, 0, sizeof(j->ok));
	j->parts = 0;
	maas_parallel(parts, conv_part, j);
	for (int t = 0; t < j->parts; t++)
		if (!j->ok[t])
		{
			st->no_split[i][j->backward] = true;
			return false;
		}
	maas_cnn_split_runs++;
	if (j->backward)
		for (int t = 1; t < j->parts; t++)
		{
			for (size_t k = 0; k < nw; k++)
				j->dw[0][k] += j->dw[t][k];
			for (int k = 0; k < j->g->c_out; k++)
				j->db[0][k] += j->db[t][k];
		}
	return j->parts > 0;
}

/*
 * Convolution i forward and backward in training: split over the threads
 * (conv_split), else in one call on the backend's own convolution
 * (oneDNN's primitives, MaasBlas.conv2d and conv2d_backward) when it runs
 * it, else maas's (im2col for the CNN's shapes)
 */
static void
conv_forward(CnnState *st, int i, const MaasBlas *blas, int m, const float *x,
			 const float *w, const float *b, float *out)
{
	const MaasConv2d *g = &st->shapes.conv[i];
	ConvSplit	cs = {.g = g, .blas = blas, .m = m, .x = x, .w = w, .b = b, .out = out};

	if (conv_split(st, i, &cs) ||
		(blas->conv2d != NULL && blas->conv2d(g, m, x, w, b, false, out)))
		return;
	maas_conv2d_forward(g, blas, m, x, w, b, out, st->scratch, NULL);
}

static void
conv_backward(CnnState *st, int i, const MaasBlas *blas, int m, const float *dz,
			  const float *in, const float *w, float *dinp, float *dw, float *db)
{
	const MaasConv2d *g = &st->shapes.conv[i];
	ConvSplit	cs = {.g = g, .blas = blas, .m = m, .backward = true, .x = in, .w = w,
	.dz = dz, .dinp = dinp, .dw = {dw}, .db = {db}};

	if (conv_split(st, i, &cs) ||
		(blas->conv2d_backward != NULL &&
		 blas->conv2d_backward(g, m, dz, in, w, dinp, dw, db, -1)))
		return;
	maas_conv2d_backward(g, blas, m, dz, in, w, dinp, dw, db, st->scratch, NULL);
}

/* ---- one mini-batch ---- */

static double
cnn_step(NnFit *fit, const MaasBlas *blas, int m)
{
	CnnState   *st = fit->model;
	const MaasCnnModel *sh = &st->shapes;
	const float *x = fit->xb;
	const float *logits;
	float	   *g,
			   *other;
	double		loss;

	/* forward */
	for (int i = 0; i < st->n_conv; i++)
	{
		const float *w = fit->params + st->w_off[i];
		const float *b = fit->params + st->b_off[i];

		RowJob		j = {.m = m, .pool = &sh->pool[i], .in_size = st->conv_size[i],
		.out_size = st->out_size[i], .in = st->z, .out = st->out[i], .argmax = st->argmax[i]};

		conv_forward(st, i, blas, m, x, w, b, sh->pooled[i] ? st->z : st->out[i]);
		j.pass = sh->pooled[i] ? PASS_POOL : PASS_RELU;
		row_pass(blas, &j);
		x = st->out[i];
	}
	logits = maas_nn_dense_forward(&st->dense, blas, fit->params, x, m, &fit->rng);
	loss = maas_nn_head_loss(fit->cfg, m, logits, fit->cb, fit->yb, st->dense.g0);

	/* backward */
	g = st->g0;
	other = st->g1;
	maas_nn_dense_backward(&st->dense, blas, fit->params, fit->grads, x, m, g);
	for (int i = st->n_conv - 1; i >= 0; i--)
	{
		const float *in = i == 0 ? fit->xb : st->out[i - 1];
		float	   *dz = g;
		float	   *t;

		RowJob		j = {.m = m, .pool = &sh->pool[i], .in_size = st->conv_size[i],
		.out_size = st->out_size[i], .in = st->out[i], .out = other, .argmax = st->argmax[i],
		.g = g};

		j.pass = sh->pooled[i] ? PASS_POOL_BACK : PASS_RELU_BACK;
		row_pass(blas, &j);
		if (sh->pooled[i])
		{
			dz = other;
			other = g;
		}
		conv_backward(st, i, blas, m, dz, in, fit->params + st->w_off[i],
					  i > 0 ? other : NULL, fit->grads + st->w_off[i],
					  fit->grads + st->b_off[i]);
		/* the gradient at this convolution's input is the next one's g */
		t = other;
		other = dz;
		g = t;
	}
	return loss;
}

/* ---- the evaluation net ---- */

static void
cnn_point(NnFit *fit, const float *params)
{
	CnnState   *st = fit->model;
	int			l = 0;

	for (int i = 0; i < st->n_conv; i++)
		maas_layer_conv2d_point(&st->layers[st->conv_layer[i]], params + st->w_off[i],
								params + st->b_off[i]);
	for (int i = 0; i < fit->net.n_layers; i++)
		if (st->layers[i].op == MAAS_OP_DENSE)
		{
			st->layers[i].w = params + st->dense.w_off[l];
			st->layers[i].b = params + st->dense.b_off[l];
			l++;
		}
}

/* what conv2d layers point at until they have weights (cnn_point) */
static const float no_weights[1];

/* the layout, the loop's view and the evaluation net (without weights) */
static bool
cnn_setup(CnnState *st, const MaasCnnConfig *cfg, bool train, MaasError *err)
{
	NnFit	   *fit = &st->fit;
	MaasCnnModel *sh = &st->shapes;
	size_t		off = 0;
	int			n = 0;
	int			B = train ? cfg->nn.batch_size : 0;

	memset(st, 0, sizeof(*st));
	st->cfg = cfg;
	st->parts = cfg->threads < 1 ? 1 : cfg->threads > MAAS_CONV_SLOTS ? MAAS_CONV_SLOTS :
		cfg->threads;
	if (!maas_cnn_check(cfg, sh, err))
		return false;
	st->n_conv = sh->n_conv;
	fit->cfg = &cfg->nn;
	fit->n_in = cfg->nn.n_in;
	fit->batch = B;
	fit->rng = cfg->nn.seed;
	fit->eval_rows = EVAL_ROWS;
	fit->step = cnn_step;
	fit->point = cnn_point;
	fit->model = st;
	st->max_size = (size_t) cfg->nn.n_in;
	for (int i = 0; i < st->n_conv; i++)
	{
		const MaasConv2d *g = &sh->conv[i];
		size_t		nw = maas_conv2d_weights(g);
		size_t		scratch;

		st->w_off[i] = off;
		st->b_off[i] = off + nw;
		if (nw + (size_t) g->c_out > st->part_floats)
			st->part_floats = nw + (size_t) g->c_out;
		maas_nn_fit_segment(fit, off, nw, true);
		maas_nn_fit_segment(fit, off + nw, (size_t) g->c_out, false);
		off += nw + (size_t) g->c_out;
		st->conv_size[i] = maas_conv2d_out_size(g);
		st->out_size[i] = sh->pooled[i] ? maas_pool2d_out_size(&sh->pool[i]) : st->conv_size[i];
		if (st->conv_size[i] > st->max_size)
			st->max_size = st->conv_size[i];
		if (B > 0)
		{
			if (!maas_conv2d_scratch(g, B, &scratch))
				return maas_error(err, MAAS_ERR_LIMIT, "convolution %d needs too much scratch", i + 1);
			if (scratch > st->scratch_floats)
				st->scratch_floats = scratch;
		}
	}
	maas_nn_dense_layout(&st->dense, &cfg->nn, sh->head.n_in[0], &off);
	for (int l = 0; l < st->dense.n_layers; l++)
	{
		maas_nn_fit_segment(fit, st->dense.w_off[l],
							(size_t) st->dense.n_out[l] * st->dense.n_in[l], true);
		maas_nn_fit_segment(fit, st->dense.b_off[l], st->dense.n_out[l], false);
	}
	fit->n_params = off;

	/* conv2d, maxpool2d, relu, ..., flatten, the dense stack and the head */
	for (int i = 0; i < st->n_conv; i++)
	{
		memset(&st->layers[n], 0, sizeof(MaasLayer));
		st->conv_layer[i] = n;
		if (!maas_layer_conv2d(&st->layers[n++], &sh->conv[i], no_weights, NULL, err))
			return false;
		if (sh->pooled[i])
		{
			memset(&st->layers[n], 0, sizeof(MaasLayer));
			if (!maas_layer_pool2d(&st->layers[n++], MAAS_OP_MAXPOOL2D, &sh->pool[i], err))
				return false;
		}
		memset(&st->layers[n], 0, sizeof(MaasLayer));
		st->layers[n++].op = MAAS_OP_RELU;
	}
	memset(&st->layers[n], 0, sizeof(MaasLayer));
	st->layers[n++].op = MAAS_OP_FLATTEN;
	maas_nn_dense_layers(&st->dense, &cfg->nn, NULL, st->layers, &n);
	fit->net.layers = st->layers;
	fit->net.n_layers = n;
	fit->net.n_in = cfg->nn.n_in;
	fit->net.in_c = cfg->in_c;
	fit->net.in_h = cfg->in_h;
	fit->net.in_w = cfg->in_w;
	return maas_net_check(&fit->net, err);
}

/* floats of one mini-batch (the loop's own buffers aside) */
static bool
batch_floats(const CnnState *st, size_t B, size_t *floats)
{
	size_t		sum = 0,
				t;

	/* outputs and argmax (int32, counted as floats) of each convolution */
	for (int i = 0; i < st->n_conv; i++)
		if (!maas_mul_size(B, st->out_size[i] * (st->shapes.pooled[i] ? 2 : 1), &t) ||
			!maas_add_size(sum, t, &sum))
			return false;
	/* z and two gradient buffers, the scratch, the dense stack, the parts' gradients */
	if (!maas_mul_size(B, 3 * st->max_size, &t) ||
		!maas_add_size(sum, t, &sum) ||
		!maas_add_size(sum, (size_t) (st->parts - 1) * st->part_floats, &sum) ||
		!maas_add_size(sum, st->scratch_floats, &sum) ||
		!maas_nn_dense_floats(&st->dense, B, &t) ||
		!maas_add_size(sum, t, floats))
		return false;
	return true;
}

static bool
batch_alloc(CnnState *st, size_t B)
{
	for (int i = 0; i < st->n_conv; i++)
	{
		if ((st->out[i] = maas_kalloc_array(B * st->out_size[i], sizeof(float))) == NULL)
			return false;
		if (st->shapes.pooled[i] &&
			(st->argmax[i] = maas_kalloc_array(B * st->out_size[i], sizeof(int32_t))) == NULL)
			return false;
	}
	return (st->z = maas_kalloc_array(B * st->max_size, sizeof(float))) != NULL &&
		(st->g0 = maas_kalloc_array(B * st->max_size, sizeof(float))) != NULL &&
		(st->g1 = maas_kalloc_array(B * st->max_size, sizeof(float))) != NULL &&
		(st->scratch = maas_kalloc_array(st->scratch_floats > 0 ? st->scratch_floats : 1,
										 sizeof(float))) != NULL &&
		(st->parts < 2 ||
		 (st->part_grads = maas_kalloc_array((size_t) (st->parts - 1) * st->part_floats,
											 sizeof(float))) != NULL) &&
		maas_nn_dense_alloc(&st->dense, B);
}

bool
maas_cnn_memory(const MaasCnnConfig *cfg, int64_t n_train, size_t *bytes)
{
	CnnState   *st = maas_kalloc(sizeof(CnnState));
	MaasError	err;
	size_t		work,
				batch;

	if (st == NULL || !cnn_setup(st, cfg, true, &err) ||
		!maas_net_workspace(&st->fit.net, st->fit.eval_rows, 1, &work) ||
		!batch_floats(st, (size_t) cfg->nn.batch_size, &batch) ||
		!maas_add_size(work, batch, &work))
		return false;
	return maas_nn_fit_bytes(&st->fit, n_train, work, bytes);
}

/* torch's default initialisation of Conv2d: uniform in +-1/sqrt(fan_in) */
static void
init_conv(const CnnState *st, float *params, uint64_t *rng)
{
	for (int i = 0; i < st->n_conv; i++)
	{
		const MaasConv2d *g = &st->shapes.conv[i];
		size_t		nw = maas_conv2d_weights(g);
		double		limit = 1.0 / sqrt((double) (nw / g->c_out));

		for (size_t k = 0; k < nw; k++)
			params[st->w_off[i] + k] = (float) ((2.0 * maas_rng_uniform(rng) - 1.0) * limit);
		for (int k = 0; k < g->c_out; k++)
			params[st->b_off[i] + k] = (float) ((2.0 * maas_rng_uniform(rng) - 1.0) * limit);
	}
}

static void
set_model(const CnnState *st, const float *params, MaasCnnModel *model)
{
	*model = st->shapes;
	for (int i = 0; i < st->n_conv; i++)
	{
		model->w[i] = (float *) params + st->w_off[i];
		model->b[i] = (float *) params + st->b_off[i];
	}
	for (int l = 0; l < st->dense.n_layers; l++)
	{
		model->head.w[l] = (float *) params + st->dense.w_off[l];
		model->head.b[l] = (float *) params + st->dense.b_off[l];
	}
}

bool
maas_cnn_fit(const MaasBlas *blas, const MaasCnnConfig *cfg,
			 const MaasTrainSet *data, const MaasTrainSet *val,
			 const MaasTrainHooks *hooks, MaasCnnResult *result, MaasError *err)
{
	CnnState   *st = maas_kalloc(sizeof(CnnState));
	NnCurve		curve;
	size_t		work;
	bool		ok;

	memset(result, 0, sizeof(*result));
	if (st == NULL)
		return maas_error_nomem(err);
	if (!cnn_setup(st, cfg, true, err))
		return false;
	if (!maas_net_workspace(&st->fit.net, st->fit.eval_rows, 1, &work) ||
		!maas_nn_fit_alloc(&st->fit, data->n, work) ||
		!batch_alloc(st, (size_t) cfg->nn.batch_size))
		return maas_error(err, MAAS_ERR_NOMEM, "out of memory for the network");

	/* torch's defaults, convolutions first */
	init_conv(st, st->fit.params, &st->fit.rng);
	maas_nn_dense_init(&st->dense, st->fit.params, true, &st->fit.rng);
	cnn_point(&st->fit, st->fit.params);

	ok = maas_nn_fit_run(&st->fit, blas, data, val, hooks, &curve, err);
	result->epochs_run = curve.epochs_run;
	result->best_epoch = curve.best_epoch;
	result->loss = curve.loss;
	result->val_loss = curve.val_loss;
	result->val_score = curve.val_score;
	result->diverged_epoch = curve.diverged_epoch;
	if (!ok)
		return false;
	set_model(st, curve.weights, &result->model);
	return true;
}

bool
maas_cnn_predict(const MaasBlas *blas, const MaasCnnConfig *cfg,
				 const MaasCnnModel *model, const float *x, int64_t n,
				 const MaasTrainHooks *hooks, float *out, MaasError *err)
{
	CnnState   *st = maas_kalloc(sizeof(CnnState));
	size_t		work;
	float	   *params;

	if (st == NULL)
		return maas_error_nomem(err);
	if (!cnn_setup(st, cfg, false, err))
		return false;
	if (!maas_net_workspace(&st->fit.net, st->fit.eval_rows, 1, &work) ||
		!maas_nn_fit_alloc(&st->fit, 0, work))
		return maas_error(err, MAAS_ERR_NOMEM, "out of memory for prediction");
	params = st->fit.params;
	for (int i = 0; i < st->n_conv; i++)
	{
		memcpy(params + st->w_off[i], model->w[i],
			   sizeof(float) * maas_conv2d_weights(&st->shapes.conv[i]));
		memcpy(params + st->b_off[i], model->b[i], sizeof(float) * st->shapes.conv[i].c_out);
	}
	for (int l = 0; l < st->dense.n_layers; l++)
	{
		memcpy(params + st->dense.w_off[l], model->head.w[l],
			   sizeof(float) * (size_t) st->dense.n_out[l] * st->dense.n_in[l]);
		memcpy(params + st->dense.b_off[l], model->head.b[l],
			   sizeof(float) * st->dense.n_out[l]);
	}
	cnn_point(&st->fit, params);
	maas_nn_fit_evaluate(&st->fit, blas, x, n, NULL, NULL, hooks, out, NULL, NULL);
	return true;
}
