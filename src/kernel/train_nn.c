/*
 * train_nn.c
 *		What every mini-batch trainer shares (train_int.h): the dense stack,
 *		the loss at the head and the loop.  The MLP itself (logistic
 *		regression with no hidden layer) is train_mlp.c; the CNN is
 *		train_cnn.c.
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
 * through the serving runtime (maas_net_run), so what is measured here is
 * what will be served.
 *
 * The loop (maas_nn_fit_run) knows a model only through its NnFit: the
 * MLP trainer (train_mlp.c) runs it on the dense stack alone, the CNN
 * trainer (train_cnn.c) puts convolutions before the same dense stack and
 * runs the same loop.
 */
#include "train_int.h"

#include <math.h>
#include <string.h>

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

void
maas_nn_relu_backward(size_t n, float *g, const float *h)
{
	relu_backward(n, g, h, NULL);
}

/* ---- the loss at the head ---- */

static inline double
softplus(double z)
{
	return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* softmax rows are normalised in place of dz */
double
maas_nn_head_loss(const MaasNnConfig *cfg, int m, const float *z, const int32_t *cls,
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

/* ---- the dense stack ---- */

void
maas_nn_dense_layout(NnDense *d, const MaasNnConfig *cfg, int n_in, size_t *off)
{
	int			width = n_in;

	memset(d, 0, sizeof(*d));
	d->n_hidden = cfg->n_hidden;
	d->n_layers = cfg->n_hidden + 1;
	d->activation = cfg->activation;
	d->dropout = cfg->dropout;
	d->max_width = n_in;
	for (int l = 0; l < d->n_layers; l++)
	{
		d->n_in[l] = width;
		d->n_out[l] = l < cfg->n_hidden ? cfg->hidden[l] : cfg->n_out;
		d->w_off[l] = *off;
		*off += (size_t) d->n_out[l] * d->n_in[l];
		d->b_off[l] = *off;
		*off += d->n_out[l];
		width = d->n_out[l];
		if (width > d->max_width)
			d->max_width = width;
	}
}

bool
maas_nn_dense_floats(const NnDense *d, size_t B, size_t *floats)
{
	size_t		sum,
				t;

	/* two gradient buffers and the random bits */
	if (!maas_mul_size(B, 3 * (size_t) d->max_width, &sum))
		return false;
	for (int l = 0; l < d->n_layers; l++)
	{
		/* h, d, mask */
		if (!maas_mul_size(B, (size_t) d->n_out[l] * 3, &t) ||
			!maas_add_size(sum, t, &sum))
			return false;
	}
	*floats = sum;
	return true;
}

static float *
alloc_floats(size_t n)
{
	return maas_kalloc_array(n > 0 ? n : 1, sizeof(float));
}

bool
maas_nn_dense_alloc(NnDense *d, size_t B)
{
	if ((d->g0 = alloc_floats(B * d->max_width)) == NULL ||
		(d->g1 = alloc_floats(B * d->max_width)) == NULL ||
		(d->rnd = maas_kalloc_array(B * d->max_width, sizeof(uint32_t))) == NULL)
		return false;
	for (int l = 0; l < d->n_layers; l++)
	{
		size_t		n = B * d->n_out[l];

		if ((d->h[l] = alloc_floats(n)) == NULL)
			return false;
		d->d[l] = d->h[l];
		d->mask[l] = NULL;
		if (l < d->n_hidden && d->dropout > 0.0f)
		{
			if ((d->d[l] = alloc_floats(n)) == NULL ||
				(d->mask[l] = alloc_floats(n)) == NULL)
				return false;
		}
	}
	return true;
}

void
maas_nn_dense_init(const NnDense *d, float *params, bool torch_init, uint64_t *rng)
{
	for (int l = 0; l < d->n_layers; l++)
	{
		float	   *w = params + d->w_off[l];
		float	   *b = params + d->b_off[l];
		size_t		nw = (size_t) d->n_out[l] * d->n_in[l];
		double		limit = torch_init ? 1.0 / sqrt((double) d->n_in[l]) :
			sqrt(6.0 / (double) (d->n_in[l] + d->n_out[l]));

		for (size_t i = 0; i < nw; i++)
			w[i] = (float) ((2.0 * maas_rng_uniform(rng) - 1.0) * limit);
		if (torch_init)
			for (int j = 0; j < d->n_out[l]; j++)
				b[j] = (float) ((2.0 * maas_rng_uniform(rng) - 1.0) * limit);
		else
			memset(b, 0, sizeof(float) * d->n_out[l]);
	}
}

const float *
maas_nn_dense_forward(NnDense *d, const MaasBlas *blas, const float *params,
					  const float *in, int m, uint64_t *rng)
{
	uint32_t	threshold = (uint32_t) ((double) d->dropout * 4294967296.0);
	float		keep_scale = d->dropout > 0.0f ? 1.0f / (1.0f - d->dropout) : 1.0f;

	for (int l = 0; l < d->n_layers; l++)
	{
		int			n_out = d->n_out[l];
		const float *w = params + d->w_off[l];
		const float *b = params + d->b_off[l];

		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
					m, n_out, d->n_in[l], 1.0f, in, d->n_in[l], w, d->n_in[l],
					0.0f, d->h[l], n_out);
		if (l < d->n_hidden)
		{
			bias_act(m, n_out, d->h[l], b, d->activation);
			if (d->mask[l])
			{
				size_t		n = (size_t) m * n_out;

				fill_random(n, d->rnd, maas_rng_next(rng));
				dropout_apply(n, d->h[l], d->rnd, threshold, keep_scale,
							  d->mask[l], d->d[l]);
			}
		}
		else
			bias_add(m, n_out, d->h[l], b);
		in = d->d[l];
	}
	return d->h[d->n_layers - 1];
}

void
maas_nn_dense_backward(NnDense *d, const MaasBlas *blas, const float *params,
					   float *grads, const float *in, int m, float *dx)
{
	float	   *dz = d->g0,
			   *dnext = d->g1;

	for (int l = d->n_layers - 1; l >= 0; l--)
	{
		int			n_out = d->n_out[l];
		int			n_in = d->n_in[l];
		const float *x = l == 0 ? in : d->d[l - 1];
		float	   *tmp;

		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_TRANS, MAAS_CBLAS_NO_TRANS,
					n_out, n_in, m, 1.0f, dz, n_out, x, n_in,
					0.0f, grads + d->w_off[l], n_in);
		column_sums(m, n_out, dz, grads + d->b_off[l]);
		if (l == 0)
		{
			if (dx)
				blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
							m, n_in, n_out, 1.0f, dz, n_out, params + d->w_off[l], n_in,
							0.0f, dx, n_in);
			break;
		}
		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
					m, n_in, n_out, 1.0f, dz, n_out, params + d->w_off[l], n_in,
					0.0f, dnext, n_in);
		if (d->activation == MAAS_OP_RELU)
			relu_backward((size_t) m * n_in, dnext, d->h[l - 1], d->mask[l - 1]);
		else
			smooth_backward((size_t) m * n_in, dnext, d->h[l - 1], d->mask[l - 1],
							d->activation == MAAS_OP_TANH);
		tmp = dz;
		dz = dnext;
		dnext = tmp;
	}
}

/* what dense layers point at until they have weights: the plan needs only shapes */
static const float no_weights[1];

void
maas_nn_dense_layers(const NnDense *d, const MaasNnConfig *cfg, const float *params,
					 MaasLayer *layers, int *n)
{
	for (int l = 0; l < d->n_layers; l++)
	{
		MaasLayer  *dl = &layers[(*n)++];

		memset(dl, 0, sizeof(*dl));
		dl->op = MAAS_OP_DENSE;
		dl->n_in = d->n_in[l];
		dl->n_out = d->n_out[l];
		dl->w = params ? params + d->w_off[l] : no_weights;
		dl->b = params ? params + d->b_off[l] : no_weights;
		if (l < d->n_hidden)
		{
			memset(&layers[*n], 0, sizeof(MaasLayer));
			layers[(*n)++].op = cfg->activation;
		}
	}
	if (cfg->loss != MAAS_LOSS_MSE)
	{
		memset(&layers[*n], 0, sizeof(MaasLayer));
		layers[(*n)++].op = cfg->loss == MAAS_LOSS_SOFTMAX_CE ? MAAS_OP_SOFTMAX : MAAS_OP_SIGMOID;
	}
}

/* ---- the loop ---- */

void
maas_nn_fit_segment(NnFit *fit, size_t off, size_t n, bool decay)
{
	NnSegment  *s = &fit->segments[fit->n_segments++];

	s->off = off;
	s->n = n;
	s->decay = decay;
}

int
maas_nn_out_columns(const MaasNnConfig *cfg)
{
	return cfg->loss == MAAS_LOSS_SOFTMAX_CE ? cfg->n_out :
		cfg->loss == MAAS_LOSS_SIGMOID_CE ? 2 : 1;
}

/* floats of everything but the index and the workspace */
static bool
fit_floats(const NnFit *fit, size_t *floats)
{
	size_t		B = fit->batch > 0 ? (size_t) fit->batch : 0;
	size_t		k = (size_t) maas_nn_out_columns(fit->cfg);
	size_t		sum,
				t;

	/* params, and in training grads, two moments and the best copy */
	if (!maas_mul_size(fit->n_params, B > 0 ? 5 : 1, &sum) ||
		!maas_mul_size(B, (size_t) fit->n_in + 2, &t) ||
		!maas_add_size(sum, t, &sum) ||
		!maas_mul_size((size_t) fit->eval_rows, k, &t) ||
		!maas_add_size(sum, t, floats))
		return false;
	return true;
}

bool
maas_nn_fit_bytes(const NnFit *fit, int64_t n_train, size_t work_floats,
				  size_t *bytes)
{
	size_t		floats,
				t;

	if (!fit_floats(fit, &floats) ||
		!maas_add_size(floats, work_floats, &floats) ||
		!maas_mul_size(floats, sizeof(float), &t) ||
		!maas_add_size(t, (size_t) (n_train > 0 ? n_train : 0) * sizeof(int32_t), bytes))
		return false;
	return true;
}

/* with fit->batch 0, only the parameters and the evaluation outputs */
bool
maas_nn_fit_alloc(NnFit *fit, int64_t n_train, size_t work_floats)
{
	size_t		B = fit->batch > 0 ? (size_t) fit->batch : 0;
	size_t		k = (size_t) maas_nn_out_columns(fit->cfg);

	fit->lr = fit->cfg->lr;
	if ((fit->params = alloc_floats(fit->n_params)) == NULL ||
		(fit->eval_out = maas_kalloc_array((size_t) fit->eval_rows, k * sizeof(float))) == NULL ||
		(fit->eval_work = alloc_floats(work_floats)) == NULL)
		return false;
	if (B == 0)
		return true;
	if ((fit->grads = alloc_floats(fit->n_params)) == NULL ||
		(fit->m1 = alloc_floats(fit->n_params)) == NULL ||
		(fit->m2 = alloc_floats(fit->n_params)) == NULL ||
		(fit->best = alloc_floats(fit->n_params)) == NULL ||
		(fit->xb = maas_kalloc_array(B, (size_t) fit->n_in * sizeof(float))) == NULL ||
		(fit->cb = maas_kalloc_array(B, sizeof(int32_t))) == NULL ||
		(fit->yb = alloc_floats(B)) == NULL ||
		(fit->idx = maas_kalloc_array((size_t) (n_train > 0 ? n_train : 1), sizeof(int32_t))) == NULL)
		return false;
	memset(fit->m1, 0, sizeof(float) * fit->n_params);
	memset(fit->m2, 0, sizeof(float) * fit->n_params);
	for (int64_t i = 0; i < n_train; i++)
		fit->idx[i] = (int32_t) i;
	return true;
}

static void
optimizer_step(NnFit *fit, int64_t t)
{
	const MaasNnConfig *cfg = fit->cfg;

	for (int s = 0; s < fit->n_segments; s++)
	{
		size_t		off = fit->segments[s].off;
		size_t		n = fit->segments[s].n;
		float		wd = fit->segments[s].decay ? cfg->weight_decay : 0.0f;

		if (cfg->optimizer == MAAS_OPTIM_ADAM)
		{
			double		bc1 = 1.0 - pow(cfg->beta1, (double) t);
			double		bc2 = 1.0 - pow(cfg->beta2, (double) t);

			adam_step(n, fit->params + off, fit->grads + off, fit->m1 + off,
					  fit->m2 + off, cfg->beta1, cfg->beta2,
					  (float) (fit->lr / bc1), (float) (1.0 / sqrt(bc2)),
					  cfg->eps, wd);
		}
		else
			sgd_step(n, fit->params + off, fit->grads + off, fit->m1 + off,
					 fit->lr, cfg->momentum, wd);
	}
}

void
maas_nn_fit_evaluate(NnFit *fit, const MaasBlas *blas, const float *x, int64_t n,
					 const int32_t *cls, const float *y, const MaasTrainHooks *hooks,
					 float *out, double *loss, double *score)
{
	const MaasNnConfig *cfg = fit->cfg;
	int			k = maas_nn_out_columns(cfg);
	int			rows = fit->eval_rows;
	double		lsum = 0.0;
	int64_t		correct = 0;
	double		ymean = 0.0,
				sstot = 0.0;

	for (int64_t start = 0; start < n; start += rows)
	{
		int			m = (int) (n - start < rows ? n - start : rows);
		const float *o;
		float	   *dst = out ? out + start * k : fit->eval_out;

		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);
		o = maas_net_forward(&fit->net, blas, m, x + (size_t) start * fit->n_in,
							 fit->eval_work);
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

bool
maas_nn_fit_run(NnFit *fit, const MaasBlas *blas, const MaasTrainSet *data,
				const MaasTrainSet *val, const MaasTrainHooks *hooks,
				NnCurve *curve, MaasError *err)
{
	const MaasNnConfig *cfg = fit->cfg;
	int64_t		n = data->n;
	int			d = fit->n_in;
	int64_t		step = 0;
	double		best = INFINITY;
	double		lowest = INFINITY;
	int			since_best = 0;
	bool		has_val = val != NULL && val->n > 0;

	memset(curve, 0, sizeof(*curve));
	if ((curve->loss = maas_kalloc(sizeof(double) * cfg->epochs)) == NULL ||
		(has_val && (curve->val_loss = maas_kalloc(sizeof(double) * cfg->epochs)) == NULL) ||
		(has_val && (curve->val_score = maas_kalloc(sizeof(double) * cfg->epochs)) == NULL))
		return maas_error(err, MAAS_ERR_NOMEM, "out of memory for the network");
	memcpy(fit->best, fit->params, sizeof(float) * fit->n_params);

	for (int epoch = 1; epoch <= cfg->epochs; epoch++)
	{
		double		loss_sum = 0.0;
		MaasEpochReport rep;
		double		monitored;

		maas_shuffle(fit->idx, n, &fit->rng);
		for (int64_t start = 0; start < n; start += fit->batch)
		{
			int			m = (int) (n - start < fit->batch ? n - start : fit->batch);
			double		bl;

			if (hooks && hooks->tick)
				hooks->tick(hooks->arg);
			for (int r = 0; r < m; r++)
			{
				int64_t		src = fit->idx[start + r];

				memcpy(fit->xb + (size_t) r * d, data->x + (size_t) src * d,
					   sizeof(float) * d);
				if (data->cls)
					fit->cb[r] = data->cls[src];
				else
					fit->yb[r] = data->y[src];
			}
			bl = fit->step(fit, blas, m);
			if (!isfinite(bl))
			{
				curve->diverged_epoch = epoch;
				curve->epochs_run = epoch - 1;
				return maas_error(err, MAAS_ERR_DIVERGED,
								  "training diverged: the loss became %s in epoch %d",
								  isnan(bl) ? "NaN" : "infinite", epoch);
			}
			loss_sum += bl;
			optimizer_step(fit, ++step);
		}

		memset(&rep, 0, sizeof(rep));
		rep.epoch = epoch;
		rep.epochs = cfg->epochs;
		rep.loss = loss_sum / (double) n;
		curve->loss[epoch - 1] = rep.loss;
		curve->epochs_run = epoch;
		if (!maas_all_finite(fit->params, fit->n_params))
		{
			curve->diverged_epoch = epoch;
			return maas_error(err, MAAS_ERR_DIVERGED,
							  "training diverged: the weights became NaN or infinite in epoch %d",
							  epoch);
		}
		if (has_val)
		{
			fit->point(fit, fit->params);
			maas_nn_fit_evaluate(fit, blas, val->x, val->n, val->cls, val->y, hooks,
								 NULL, &rep.val_loss, &rep.val_score);
			rep.has_val = true;
			curve->val_loss[epoch - 1] = rep.val_loss;
			curve->val_score[epoch - 1] = rep.val_score;
		}
		monitored = cfg->monitor_val && has_val ? rep.val_loss : rep.loss;
		if (!isfinite(monitored))
		{
			curve->diverged_epoch = epoch;
			return maas_error(err, MAAS_ERR_DIVERGED,
							  "training diverged: the validation loss became NaN in epoch %d",
							  epoch);
		}
		/* a loss worse than the best so far: the step is too large */
		if (cfg->halve_on_plateau && epoch > 1 && monitored > lowest)
			fit->lr *= 0.5f;
		if (monitored < lowest)
			lowest = monitored;
		if (monitored < best - cfg->tol || epoch == 1)
		{
			rep.improved = true;
			best = monitored;
			curve->best_epoch = epoch;
			since_best = 0;
			if (cfg->patience > 0)
				memcpy(fit->best, fit->params, sizeof(float) * fit->n_params);
		}
		else
			since_best++;
		if (hooks && hooks->epoch)
			hooks->epoch(hooks->arg, &rep);
		if (cfg->patience > 0 && since_best >= cfg->patience)
			break;
	}

	/* with early stopping the best weights, else the last ones */
	curve->weights = cfg->patience > 0 ? fit->best : fit->params;
	if (cfg->patience == 0)
		curve->best_epoch = curve->epochs_run;
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
