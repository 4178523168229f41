/*
 * train_nn.c
 *		Mini-batch training of dense networks: logistic regression (no
 *		hidden layer) and the MLP (see train.h).
 *
 * What lives in memory: all weights and biases in one float buffer, with
 * their gradients, the optimizer's state (Adam: first and second moments;
 * SGD: velocity) and a copy of the best weights in buffers of the same
 * layout, so that each optimizer step is one pass over contiguous memory.
 * One mini-batch of activations per layer (before and after dropout), the
 * dropout masks, two gradient buffers, and a permutation of the training
 * rows.  The training matrix itself belongs to the caller and is only read:
 * each batch is gathered from it in shuffled order.
 *
 * Per batch: forward through sgemm (x W^T), a fused bias + activation +
 * dropout pass, the loss and its gradient at the head, then backward (dW =
 * dZ^T x and dX = dZ W through sgemm, a fused mask + activation-derivative
 * pass), then the optimizer step.  The elementwise passes are small static
 * kernels written so that the compiler vectorises them; they are compiled
 * for AVX-512, AVX2 and baseline x86-64 and picked at load time
 * (target_clones), never with -march=native.  Validation and prediction run
 * through the serving runtime (maas_net_forward), so what is measured here
 * is what will be served.
 */
#include "train.h"

#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	!defined(__SANITIZE_ADDRESS__)
#define MAAS_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MAAS_SIMD
#endif

#define EVAL_ROWS		256
#define MAX_LAYERS		(MAAS_NN_MAX_HIDDEN + 1)

typedef struct NnState
{
	const MaasNnConfig *cfg;
	int			n_layers;
	int			n_in[MAX_LAYERS];
	int			n_out[MAX_LAYERS];
	size_t		w_off[MAX_LAYERS];
	size_t		b_off[MAX_LAYERS];
	size_t		n_params;
	int			max_width;
	float	   *params;
	float	   *grads;
	float	   *m1;				/* Adam first moment, or SGD velocity */
	float	   *m2;				/* Adam second moment */
	float	   *best;
	/* one mini-batch */
	int			batch;
	float	   *xb;
	int32_t    *cb;
	float	   *yb;
	float	   *h[MAX_LAYERS];	/* activations, before dropout */
	float	   *d[MAX_LAYERS];	/* after dropout (== h without dropout) */
	float	   *mask[MAX_LAYERS];
	uint32_t   *rnd;
	float	   *g0;
	float	   *g1;
	int32_t    *idx;
	/* evaluation through the runtime */
	MaasNet		net;
	float	   *eval_work;
	float	   *eval_out;
	uint64_t	rng;
	float		lr;				/* the current learning rate */
} NnState;

/* ---- elementwise kernels ---- */

MAAS_SIMD static void
bias_relu(int m, int n, float *restrict h, const float *restrict b)
{
	for (int r = 0; r < m; r++)
	{
		float	   *row = h + (size_t) r * n;

		for (int j = 0; j < n; j++)
		{
			float		v = row[j] + b[j];

			row[j] = v > 0.0f ? v : 0.0f;
		}
	}
}

MAAS_SIMD static void
bias_add(int m, int n, float *restrict h, const float *restrict b)
{
	for (int r = 0; r < m; r++)
	{
		float	   *row = h + (size_t) r * n;

		for (int j = 0; j < n; j++)
			row[j] += b[j];
	}
}

static void
bias_act(int m, int n, float *h, const float *b, MaasOp act)
{
	size_t		total = (size_t) m * n;

	if (act == MAAS_OP_RELU)
	{
		bias_relu(m, n, h, b);
		return;
	}
	bias_add(m, n, h, b);
	if (act == MAAS_OP_TANH)
		for (size_t j = 0; j < total; j++)
			h[j] = tanhf(h[j]);
	else if (act == MAAS_OP_SIGMOID)
		for (size_t j = 0; j < total; j++)
			h[j] = 1.0f / (1.0f + expf(-h[j]));
}

/* counter-based random bits: element i of the stream at base */
MAAS_SIMD static void
fill_random(size_t n, uint32_t *restrict out, uint64_t base)
{
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	z = base + (uint64_t) (i + 1) * UINT64_C(0x9E3779B97F4A7C15);

		z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
		out[i] = (uint32_t) ((z ^ (z >> 31)) >> 32);
	}
}

/* inverted dropout: kept units are scaled so the expectation is unchanged */
MAAS_SIMD static void
dropout_apply(size_t n, const float *restrict h, const uint32_t *restrict rnd,
			  uint32_t threshold, float scale, float *restrict mask,
			  float *restrict out)
{
	for (size_t i = 0; i < n; i++)
	{
		float		k = rnd[i] >= threshold ? scale : 0.0f;

		mask[i] = k;
		out[i] = h[i] * k;
	}
}

/* g *= mask * act'(h), with h the activation's output */
MAAS_SIMD static void
relu_backward(size_t n, float *restrict g, const float *restrict h,
			  const float *restrict mask)
{
	if (mask)
		for (size_t i = 0; i < n; i++)
			g[i] = h[i] > 0.0f ? g[i] * mask[i] : 0.0f;
	else
		for (size_t i = 0; i < n; i++)
			g[i] = h[i] > 0.0f ? g[i] : 0.0f;
}

MAAS_SIMD static void
smooth_backward(size_t n, float *restrict g, const float *restrict h,
				const float *restrict mask, bool is_tanh)
{
	for (size_t i = 0; i < n; i++)
	{
		float		dv = is_tanh ? 1.0f - h[i] * h[i] : h[i] * (1.0f - h[i]);

		g[i] *= dv * (mask ? mask[i] : 1.0f);
	}
}

/* Adam as torch.optim.Adam: L2 weight decay added to the gradient */
MAAS_SIMD static void
adam_step(size_t n, float *restrict p, const float *restrict g,
		  float *restrict m, float *restrict v, float b1, float b2,
		  float step, float inv_sqrt_bc2, float eps, float wd)
{
	for (size_t i = 0; i < n; i++)
	{
		float		gi = g[i] + wd * p[i];
		float		mi = b1 * m[i] + (1.0f - b1) * gi;
		float		vi = b2 * v[i] + (1.0f - b2) * gi * gi;

		m[i] = mi;
		v[i] = vi;
		p[i] -= step * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
	}
}

/* SGD with momentum as torch.optim.SGD (dampening 0, not Nesterov) */
MAAS_SIMD static void
sgd_step(size_t n, float *restrict p, const float *restrict g,
		 float *restrict vel, float lr, float momentum, float wd)
{
	for (size_t i = 0; i < n; i++)
	{
		float		gi = g[i] + wd * p[i];
		float		vi = momentum * vel[i] + gi;

		vel[i] = vi;
		p[i] -= lr * vi;
	}
}

MAAS_SIMD static void
column_sums(int m, int n, const float *restrict g, float *restrict out)
{
	memset(out, 0, sizeof(float) * n);
	for (int r = 0; r < m; r++)
	{
		const float *row = g + (size_t) r * n;

		for (int j = 0; j < n; j++)
			out[j] += row[j];
	}
}

/* ---- the loss at the head ---- */

static inline double
softplus(double z)
{
	return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/*
 * Sum of the losses of m rows of head outputs z, and dz, the gradient of
 * their mean.  Softmax rows are normalised in place of dz.
 */
static double
head_loss(const MaasNnConfig *cfg, int m, const float *z, const int32_t *cls,
		  const float *y, float *dz)
{
	double		sum = 0.0;
	float		inv_m = 1.0f / (float) m;
	int			k = cfg->n_out;

	switch (cfg->loss)
	{
		case MAAS_LOSS_SOFTMAX_CE:
			for (int r = 0; r < m; r++)
			{
				const float *zr = z + (size_t) r * k;
				float	   *dr = dz + (size_t) r * k;
				float		max = zr[0];
				double		s = 0.0;

				for (int j = 1; j < k; j++)
					if (zr[j] > max)
						max = zr[j];
				for (int j = 0; j < k; j++)
				{
					dr[j] = expf(zr[j] - max);
					s += dr[j];
				}
				sum += log(s) - (double) (zr[cls[r]] - max);
				for (int j = 0; j < k; j++)
					dr[j] = (float) (dr[j] / s) * inv_m;
				dr[cls[r]] -= inv_m;
			}
			break;
		case MAAS_LOSS_SIGMOID_CE:
			for (int r = 0; r < m; r++)
			{
				double		zr = z[r];
				float		p = (float) (zr >= 0 ? 1.0 / (1.0 + exp(-zr)) :
										 exp(zr) / (1.0 + exp(zr)));

				sum += softplus(zr) - zr * cls[r];
				dz[r] = (p - (float) cls[r]) * inv_m;
			}
			break;
		case MAAS_LOSS_MSE:
			for (int r = 0; r < m; r++)
			{
				float		e = z[r] - y[r];

				sum += (double) e * e;
				dz[r] = 2.0f * e * inv_m;
			}
			break;
	}
	return sum;
}

/* ---- setup ---- */

static void
layer_shapes(const MaasNnConfig *cfg, NnState *st)
{
	size_t		off = 0;
	int			width = cfg->n_in;

	st->n_layers = cfg->n_hidden + 1;
	st->max_width = cfg->n_in;
	for (int l = 0; l < st->n_layers; l++)
	{
		st->n_in[l] = width;
		st->n_out[l] = l < cfg->n_hidden ? cfg->hidden[l] : cfg->n_out;
		st->w_off[l] = off;
		off += (size_t) st->n_out[l] * st->n_in[l];
		st->b_off[l] = off;
		off += st->n_out[l];
		width = st->n_out[l];
		if (width > st->max_width)
			st->max_width = width;
	}
	st->n_params = off;
}

/* all sizes in floats; false on overflow */
static bool
batch_floats(const MaasNnConfig *cfg, const NnState *st, size_t *total)
{
	size_t		sum = 0,
				t;
	size_t		B = (size_t) cfg->batch_size;

	/* xb, targets, two gradient buffers */
	if (!maas_mul_size(B, (size_t) cfg->n_in + 2 + 2 * (size_t) st->max_width, &t) ||
		!maas_add_size(sum, t, &sum))
		return false;
	for (int l = 0; l < st->n_layers; l++)
	{
		/* h, d, mask, random bits */
		if (!maas_mul_size(B, (size_t) st->n_out[l] * 4, &t) ||
			!maas_add_size(sum, t, &sum))
			return false;
	}
	/* evaluation: workspace of two buffers and the outputs (at least 2 wide) */
	if (!maas_mul_size((size_t) EVAL_ROWS,
					   2 * (size_t) st->max_width + (st->max_width > 2 ? st->max_width : 2),
					   &t) ||
		!maas_add_size(sum, t, &sum))
		return false;
	*total = sum;
	return true;
}

bool
maas_nn_memory(const MaasNnConfig *cfg, int64_t n_train, size_t *bytes)
{
	NnState		st;
	size_t		floats,
				params,
				t;

	memset(&st, 0, sizeof(st));
	layer_shapes(cfg, &st);
	if (!batch_floats(cfg, &st, &floats))
		return false;
	/* params, grads, two moments, best copy */
	if (!maas_mul_size(st.n_params, 5, &params) ||
		!maas_add_size(floats, params, &floats) ||
		!maas_mul_size(floats, sizeof(float), &t) ||
		!maas_add_size(t, (size_t) n_train * sizeof(int32_t), bytes))
		return false;
	return true;
}

static float *
alloc_floats(size_t n)
{
	size_t		bytes;

	if (!maas_mul_size(n, sizeof(float), &bytes))
		return NULL;
	return maas_kalloc(bytes);
}

static bool
build_eval_net(NnState *st, const float *params)
{
	const MaasNnConfig *cfg = st->cfg;
	int			n = 0;
	MaasError	err;

	st->net.layers = maas_kalloc(sizeof(MaasLayer) * (2 * st->n_layers + 1));
	if (st->net.layers == NULL)
		return false;
	memset(st->net.layers, 0, sizeof(MaasLayer) * (2 * st->n_layers + 1));
	for (int l = 0; l < st->n_layers; l++)
	{
		MaasLayer  *dl = &st->net.layers[n++];

		dl->op = MAAS_OP_DENSE;
		dl->n_in = st->n_in[l];
		dl->n_out = st->n_out[l];
		dl->w = params + st->w_off[l];
		dl->b = params + st->b_off[l];
		if (l < cfg->n_hidden)
			st->net.layers[n++].op = cfg->activation;
	}
	if (cfg->loss == MAAS_LOSS_SOFTMAX_CE)
		st->net.layers[n++].op = MAAS_OP_SOFTMAX;
	else if (cfg->loss == MAAS_LOSS_SIGMOID_CE)
		st->net.layers[n++].op = MAAS_OP_SIGMOID;
	st->net.n_layers = n;
	st->net.n_in = cfg->n_in;
	return maas_net_check(&st->net, &err);
}

static void
point_eval_net(NnState *st, const float *params)
{
	int			l = 0;

	for (int i = 0; i < st->net.n_layers; i++)
	{
		MaasLayer  *dl = &st->net.layers[i];

		if (dl->op == MAAS_OP_DENSE)
		{
			dl->w = params + st->w_off[l];
			dl->b = params + st->b_off[l];
			l++;
		}
	}
}

static bool
state_init(NnState *st, const MaasNnConfig *cfg, int64_t n_train, bool train)
{
	size_t		B = (size_t) cfg->batch_size;

	memset(st, 0, sizeof(*st));
	st->cfg = cfg;
	layer_shapes(cfg, st);
	st->rng = cfg->seed;
	st->lr = cfg->lr;
	/* a sigmoid head's outputs are expanded to two columns (1 - p, p) */
	if ((st->eval_work = alloc_floats((size_t) EVAL_ROWS * 2 * st->max_width)) == NULL ||
		(st->eval_out = alloc_floats((size_t) EVAL_ROWS * (st->max_width > 2 ? st->max_width : 2))) == NULL)
		return false;
	if (!train)
		return true;

	st->batch = cfg->batch_size;
	if ((st->params = alloc_floats(st->n_params)) == NULL ||
		(st->grads = alloc_floats(st->n_params)) == NULL ||
		(st->m1 = alloc_floats(st->n_params)) == NULL ||
		(st->m2 = alloc_floats(st->n_params)) == NULL ||
		(st->best = alloc_floats(st->n_params)) == NULL ||
		(st->xb = alloc_floats(B * cfg->n_in)) == NULL ||
		(st->cb = maas_kalloc(sizeof(int32_t) * B)) == NULL ||
		(st->yb = alloc_floats(B)) == NULL ||
		(st->g0 = alloc_floats(B * st->max_width)) == NULL ||
		(st->g1 = alloc_floats(B * st->max_width)) == NULL ||
		(st->rnd = maas_kalloc(sizeof(uint32_t) * B * st->max_width)) == NULL ||
		(st->idx = maas_kalloc(sizeof(int32_t) * (size_t) (n_train > 0 ? n_train : 1))) == NULL)
		return false;
	for (int l = 0; l < st->n_layers; l++)
	{
		size_t		n = B * st->n_out[l];

		if ((st->h[l] = alloc_floats(n)) == NULL)
			return false;
		st->d[l] = st->h[l];
		if (l < cfg->n_hidden && cfg->dropout > 0.0f)
		{
			if ((st->d[l] = alloc_floats(n)) == NULL ||
				(st->mask[l] = alloc_floats(n)) == NULL)
				return false;
		}
	}
	memset(st->m1, 0, sizeof(float) * st->n_params);
	memset(st->m2, 0, sizeof(float) * st->n_params);

	/* Glorot uniform weights, zero biases (Keras' defaults) */
	for (int l = 0; l < st->n_layers; l++)
	{
		float	   *w = st->params + st->w_off[l];
		size_t		nw = (size_t) st->n_out[l] * st->n_in[l];
		double		limit = sqrt(6.0 / (double) (st->n_in[l] + st->n_out[l]));

		for (size_t i = 0; i < nw; i++)
			w[i] = (float) ((2.0 * maas_rng_uniform(&st->rng) - 1.0) * limit);
		memset(st->params + st->b_off[l], 0, sizeof(float) * st->n_out[l]);
	}
	for (int64_t i = 0; i < n_train; i++)
		st->idx[i] = (int32_t) i;
	return build_eval_net(st, st->params);
}

/* ---- one mini-batch ---- */

static double
train_batch(NnState *st, const MaasBlas *blas, int m)
{
	const MaasNnConfig *cfg = st->cfg;
	int			L = st->n_layers;
	const float *in = st->xb;
	float	   *dz,
			   *dnext;
	double		loss;
	uint32_t	threshold = (uint32_t) ((double) cfg->dropout * 4294967296.0);
	float		keep_scale = cfg->dropout > 0.0f ? 1.0f / (1.0f - cfg->dropout) : 1.0f;

	/* forward */
	for (int l = 0; l < L; l++)
	{
		int			n_out = st->n_out[l];
		const float *w = st->params + st->w_off[l];
		const float *b = st->params + st->b_off[l];

		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
					m, n_out, st->n_in[l], 1.0f, in, st->n_in[l], w, st->n_in[l],
					0.0f, st->h[l], n_out);
		if (l < cfg->n_hidden)
		{
			bias_act(m, n_out, st->h[l], b, cfg->activation);
			if (st->mask[l])
			{
				size_t		n = (size_t) m * n_out;

				fill_random(n, st->rnd, maas_rng_next(&st->rng));
				dropout_apply(n, st->h[l], st->rnd, threshold, keep_scale,
							  st->mask[l], st->d[l]);
			}
		}
		else
			bias_add(m, n_out, st->h[l], b);
		in = st->d[l];
	}

	/* head */
	dz = st->g0;
	dnext = st->g1;
	loss = head_loss(cfg, m, st->h[L - 1], st->cb, st->yb, dz);

	/* backward */
	for (int l = L - 1; l >= 0; l--)
	{
		int			n_out = st->n_out[l];
		int			n_in = st->n_in[l];
		const float *x = l == 0 ? st->xb : st->d[l - 1];
		float	   *tmp;

		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_TRANS, MAAS_CBLAS_NO_TRANS,
					n_out, n_in, m, 1.0f, dz, n_out, x, n_in,
					0.0f, st->grads + st->w_off[l], n_in);
		column_sums(m, n_out, dz, st->grads + st->b_off[l]);
		if (l == 0)
			break;
		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
					m, n_in, n_out, 1.0f, dz, n_out, st->params + st->w_off[l], n_in,
					0.0f, dnext, n_in);
		if (cfg->activation == MAAS_OP_RELU)
			relu_backward((size_t) m * n_in, dnext, st->h[l - 1], st->mask[l - 1]);
		else
			smooth_backward((size_t) m * n_in, dnext, st->h[l - 1], st->mask[l - 1],
							cfg->activation == MAAS_OP_TANH);
		tmp = dz;
		dz = dnext;
		dnext = tmp;
	}
	return loss;
}

static void
optimizer_step(NnState *st, int64_t t)
{
	const MaasNnConfig *cfg = st->cfg;

	for (int l = 0; l < st->n_layers; l++)
	{
		/* weights, then biases (no decay) */
		for (int part = 0; part < 2; part++)
		{
			size_t		off = part == 0 ? st->w_off[l] : st->b_off[l];
			size_t		n = part == 0 ? (size_t) st->n_out[l] * st->n_in[l] : (size_t) st->n_out[l];
			float		wd = part == 0 ? cfg->weight_decay : 0.0f;

			if (cfg->optimizer == MAAS_OPTIM_ADAM)
			{
				double		bc1 = 1.0 - pow(cfg->beta1, (double) t);
				double		bc2 = 1.0 - pow(cfg->beta2, (double) t);

				adam_step(n, st->params + off, st->grads + off, st->m1 + off,
						  st->m2 + off, cfg->beta1, cfg->beta2,
						  (float) (st->lr / bc1), (float) (1.0 / sqrt(bc2)),
						  cfg->eps, wd);
			}
			else
				sgd_step(n, st->params + off, st->grads + off, st->m1 + off,
						 st->lr, cfg->momentum, wd);
		}
	}
}

/* ---- evaluation through the runtime ---- */

/*
 * Run the net over n rows of x in chunks; out gets probabilities (n * k) or
 * values (n).  With cls/y given, also the mean loss and the score.
 */
static void
evaluate(NnState *st, const MaasBlas *blas, const float *x, int64_t n,
		 const int32_t *cls, const float *y, const MaasTrainHooks *hooks,
		 float *out, double *loss, double *score)
{
	const MaasNnConfig *cfg = st->cfg;
	int			k = cfg->loss == MAAS_LOSS_SOFTMAX_CE ? cfg->n_out :
		cfg->loss == MAAS_LOSS_SIGMOID_CE ? 2 : 1;
	double		lsum = 0.0;
	int64_t		correct = 0;
	double		ymean = 0.0,
				sstot = 0.0;

	for (int64_t start = 0; start < n; start += EVAL_ROWS)
	{
		int			m = (int) (n - start < EVAL_ROWS ? n - start : EVAL_ROWS);
		const float *o;
		float	   *dst = out ? out + start * k : st->eval_out;

		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);
		o = maas_net_forward(&st->net, blas, m, x + (size_t) start * cfg->n_in,
							 st->eval_work);
		for (int r = 0; r < m; r++)
		{
			if (cfg->loss == MAAS_LOSS_SIGMOID_CE)
			{
				dst[r * 2] = 1.0f - o[r];
				dst[r * 2 + 1] = o[r];
			}
			else
				memcpy(dst + (size_t) r * k, o + (size_t) r * k, sizeof(float) * k);
		}
		if (cls == NULL && y == NULL)
			continue;
		for (int r = 0; r < m; r++)
		{
			const float *p = dst + (size_t) r * k;

			if (cfg->loss == MAAS_LOSS_MSE)
			{
				double		e = p[0] - y[start + r];

				lsum += e * e;
			}
			else
			{
				double		pt = p[cls[start + r]];

				lsum -= log(pt < 1e-15 ? 1e-15 : pt);
				correct += maas_argmax(p, k) == cls[start + r];
			}
		}
	}
	if (loss == NULL || n == 0)
		return;
	*loss = lsum / (double) n;
	if (cfg->loss != MAAS_LOSS_MSE)
		*score = (double) correct / (double) n;
	else
	{
		for (int64_t r = 0; r < n; r++)
			ymean += y[r];
		ymean /= (double) n;
		for (int64_t r = 0; r < n; r++)
			sstot += ((double) y[r] - ymean) * ((double) y[r] - ymean);
		*score = sstot > 0.0 ? 1.0 - lsum / sstot : 0.0;
	}
}

static void
set_model(const NnState *st, const float *params, MaasNnModel *model)
{
	model->n_layers = st->n_layers;
	for (int l = 0; l < st->n_layers; l++)
	{
		model->n_in[l] = st->n_in[l];
		model->n_out[l] = st->n_out[l];
		model->w[l] = (float *) params + st->w_off[l];
		model->b[l] = (float *) params + st->b_off[l];
	}
}

bool
maas_nn_fit(const MaasBlas *blas, const MaasNnConfig *cfg,
			const MaasTrainSet *data, const MaasTrainSet *val,
			const MaasTrainHooks *hooks, MaasNnResult *result, MaasError *err)
{
	NnState		st;
	int64_t		n = data->n;
	int64_t		step = 0;
	double		best = INFINITY;
	double		lowest = INFINITY;
	int			since_best = 0;
	bool		has_val = val != NULL && val->n > 0;

	memset(result, 0, sizeof(*result));
	if (!state_init(&st, cfg, n, true) ||
		(result->loss = maas_kalloc(sizeof(double) * cfg->epochs)) == NULL ||
		(has_val && (result->val_loss = maas_kalloc(sizeof(double) * cfg->epochs)) == NULL) ||
		(has_val && (result->val_score = maas_kalloc(sizeof(double) * cfg->epochs)) == NULL))
		return maas_error(err, MAAS_ERR_NOMEM, "out of memory for the network");
	memcpy(st.best, st.params, sizeof(float) * st.n_params);

	for (int epoch = 1; epoch <= cfg->epochs; epoch++)
	{
		double		loss_sum = 0.0;
		MaasEpochReport rep;
		double		monitored;

		maas_shuffle(st.idx, n, &st.rng);
		for (int64_t start = 0; start < n; start += st.batch)
		{
			int			m = (int) (n - start < st.batch ? n - start : st.batch);
			double		bl;

			if (hooks && hooks->tick)
				hooks->tick(hooks->arg);
			for (int r = 0; r < m; r++)
			{
				int64_t		src = st.idx[start + r];

				memcpy(st.xb + (size_t) r * cfg->n_in, data->x + (size_t) src * cfg->n_in,
					   sizeof(float) * cfg->n_in);
				if (data->cls)
					st.cb[r] = data->cls[src];
				else
					st.yb[r] = data->y[src];
			}
			bl = train_batch(&st, blas, m);
			if (!isfinite(bl))
			{
				result->diverged_epoch = epoch;
				result->epochs_run = epoch - 1;
				return maas_error(err, MAAS_ERR_DIVERGED,
								  "training diverged: the loss became %s in epoch %d",
								  isnan(bl) ? "NaN" : "infinite", epoch);
			}
			loss_sum += bl;
			optimizer_step(&st, ++step);
		}

		memset(&rep, 0, sizeof(rep));
		rep.epoch = epoch;
		rep.epochs = cfg->epochs;
		rep.loss = loss_sum / (double) n;
		result->loss[epoch - 1] = rep.loss;
		result->epochs_run = epoch;
		if (!maas_all_finite(st.params, st.n_params))
		{
			result->diverged_epoch = epoch;
			return maas_error(err, MAAS_ERR_DIVERGED,
							  "training diverged: the weights became NaN or infinite in epoch %d",
							  epoch);
		}
		if (has_val)
		{
			point_eval_net(&st, st.params);
			evaluate(&st, blas, val->x, val->n, val->cls, val->y, hooks, NULL,
					 &rep.val_loss, &rep.val_score);
			rep.has_val = true;
			result->val_loss[epoch - 1] = rep.val_loss;
			result->val_score[epoch - 1] = rep.val_score;
		}
		monitored = cfg->monitor_val && has_val ? rep.val_loss : rep.loss;
		if (!isfinite(monitored))
		{
			result->diverged_epoch = epoch;
			return maas_error(err, MAAS_ERR_DIVERGED,
							  "training diverged: the validation loss became NaN in epoch %d",
							  epoch);
		}
		/* a loss worse than the best so far: the step is too large */
		if (cfg->halve_on_plateau && epoch > 1 && monitored > lowest)
			st.lr *= 0.5f;
		if (monitored < lowest)
			lowest = monitored;
		if (monitored < best - cfg->tol || epoch == 1)
		{
			rep.improved = true;
			best = monitored;
			result->best_epoch = epoch;
			since_best = 0;
			if (cfg->patience > 0)
				memcpy(st.best, st.params, sizeof(float) * st.n_params);
		}
		else
			since_best++;
		if (hooks && hooks->epoch)
			hooks->epoch(hooks->arg, &rep);
		if (cfg->patience > 0 && since_best >= cfg->patience)
			break;
	}

	/* with early stopping the best weights, else the last ones */
	set_model(&st, cfg->patience > 0 ? st.best : st.params, &result->model);
	if (cfg->patience == 0)
		result->best_epoch = result->epochs_run;
	return true;
}

bool
maas_nn_predict(const MaasBlas *blas, const MaasNnConfig *cfg,
				const MaasNnModel *model, const float *x, int64_t n,
				const MaasTrainHooks *hooks, float *out, MaasError *err)
{
	NnState		st;
	float	   *params;

	if (!state_init(&st, cfg, 0, false) ||
		(params = alloc_floats(st.n_params)) == NULL)
		return maas_error(err, MAAS_ERR_NOMEM, "out of memory for prediction");
	for (int l = 0; l < st.n_layers; l++)
	{
		memcpy(params + st.w_off[l], model->w[l],
			   sizeof(float) * (size_t) st.n_out[l] * st.n_in[l]);
		memcpy(params + st.b_off[l], model->b[l], sizeof(float) * st.n_out[l]);
	}
	if (!build_eval_net(&st, params))
		return maas_error(err, MAAS_ERR_NOMEM, "out of memory for prediction");
	evaluate(&st, blas, x, n, NULL, NULL, hooks, out, NULL, NULL);
	return true;
}

void
maas_shuffle(int32_t *idx, int64_t n, uint64_t *rng)
{
	for (int64_t i = n - 1; i > 0; i--)
	{
		int64_t		j = (int64_t) (maas_rng_uniform(rng) * (double) (i + 1));
		int32_t		t;

		if (j > i)
			j = i;
		t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
}
