/*
 * net.c
 *		The layer runtime (see net.h).
 *
 * Activations live in two ping-pong buffers of n_rows * max_width floats
 * supplied by the caller; elementwise layers work in place.  A dense layer
 * starts its output from the bias and lets BLAS add x W^T (beta = 1), so
 * the bias costs one copy per row and no second pass.
 */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const op_names[] = {
	[MAAS_OP_STANDARDIZE] = "standardize",
	[MAAS_OP_DENSE] = "dense",
	[MAAS_OP_RELU] = "relu",
	[MAAS_OP_TANH] = "tanh",
	[MAAS_OP_SIGMOID] = "sigmoid",
	[MAAS_OP_SOFTMAX] = "softmax",
	[MAAS_OP_DROPOUT] = "dropout",
};

#define N_OPS ((int) (sizeof(op_names) / sizeof(op_names[0])))

const char *
maas_op_name(MaasOp op)
{
	if ((int) op < 0 || (int) op >= N_OPS)
		return "?";
	return op_names[op];
}

bool
maas_op_from_name(const char *name, MaasOp *op)
{
	for (int i = 0; i < N_OPS; i++)
	{
		if (strcmp(name, op_names[i]) == 0)
		{
			*op = (MaasOp) i;
			return true;
		}
	}
	return false;
}

bool
maas_net_check(MaasNet *net, char *err, size_t errlen)
{
	int			width = net->n_in;
	int			max_width = width;

	if (width <= 0)
	{
		snprintf(err, errlen, "the model must take at least one feature");
		return false;
	}
	if (net->n_layers <= 0)
	{
		snprintf(err, errlen, "the model has no layers");
		return false;
	}

	for (int i = 0; i < net->n_layers; i++)
	{
		MaasLayer  *l = &net->layers[i];

		switch (l->op)
		{
			case MAAS_OP_DENSE:
				if (l->n_in != width)
				{
					snprintf(err, errlen,
							 "layer %d (dense) takes %d inputs but receives %d",
							 i + 1, l->n_in, width);
					return false;
				}
				if (l->n_out <= 0 || l->w == NULL)
				{
					snprintf(err, errlen, "layer %d (dense) has no weights", i + 1);
					return false;
				}
				width = l->n_out;
				break;
			case MAAS_OP_STANDARDIZE:
				if (l->n_in != width)
				{
					snprintf(err, errlen,
							 "layer %d (standardize) has %d features but receives %d",
							 i + 1, l->n_in, width);
					return false;
				}
				if (l->shift == NULL || l->scale == NULL)
				{
					snprintf(err, errlen, "layer %d (standardize) has no mean or std", i + 1);
					return false;
				}
				l->n_out = width;
				break;
			case MAAS_OP_RELU:
			case MAAS_OP_TANH:
			case MAAS_OP_SIGMOID:
			case MAAS_OP_SOFTMAX:
			case MAAS_OP_DROPOUT:
				l->n_in = l->n_out = width;
				break;
			default:
				snprintf(err, errlen, "layer %d has an unknown op", i + 1);
				return false;
		}
		if (width > max_width)
			max_width = width;
	}
	net->n_out = width;
	net->max_width = max_width;
	return true;
}

bool
maas_net_workspace(const MaasNet *net, int n_rows, size_t *nfloats)
{
	size_t		per_buffer;

	if (n_rows <= 0)
		return false;
	if (!maas_mul_size((size_t) n_rows, (size_t) net->max_width, &per_buffer))
		return false;
	return maas_mul_size(per_buffer, 2, nfloats);
}

static inline void
standardize(int n, const float *restrict x, const float *restrict shift,
			const float *restrict scale, float *restrict y)
{
	for (int j = 0; j < n; j++)
		y[j] = (x[j] - shift[j]) * scale[j];
}

static inline void
relu(size_t n, float *v)
{
	for (size_t j = 0; j < n; j++)
		v[j] = v[j] > 0.0f ? v[j] : 0.0f;
}

static inline void
sigmoid(size_t n, float *v)
{
	for (size_t j = 0; j < n; j++)
	{
		float		x = v[j];

		if (x >= 0.0f)
			v[j] = 1.0f / (1.0f + expf(-x));
		else
		{
			float		e = expf(x);

			v[j] = e / (1.0f + e);
		}
	}
}

void
maas_softmax(float *v, int n)
{
	float		max = v[0];
	float		sum = 0.0f;

	for (int j = 1; j < n; j++)
		if (v[j] > max)
			max = v[j];
	for (int j = 0; j < n; j++)
	{
		v[j] = expf(v[j] - max);
		sum += v[j];
	}
	for (int j = 0; j < n; j++)
		v[j] /= sum;
}

/*
 * A layer this small (a logistic regression's, say) costs less in a plain
 * loop than in a BLAS call's set-up.  Four accumulators keep the adds
 * independent.
 */
#define SMALL_LAYER 2048

static void
dense_row_small(const MaasLayer *l, const float *restrict x,
				float *restrict y, bool add)
{
	int			n_in = l->n_in;

	for (int j = 0; j < l->n_out; j++)
	{
		const float *restrict w = l->w + (size_t) j * n_in;
		float		s0 = 0,
					s1 = 0,
					s2 = 0,
					s3 = 0;
		int			k = 0;

		for (; k + 4 <= n_in; k += 4)
		{
			s0 += w[k] * x[k];
			s1 += w[k + 1] * x[k + 1];
			s2 += w[k + 2] * x[k + 2];
			s3 += w[k + 3] * x[k + 3];
		}
		for (; k < n_in; k++)
			s0 += w[k] * x[k];
		y[j] = (add ? y[j] : 0.0f) + ((s0 + s1) + (s2 + s3));
	}
}

static void
dense(const MaasBlas *blas, const MaasLayer *l, int n_rows,
	  const float *x, float *y)
{
	float		beta = 0.0f;

	if (l->b != NULL)
	{
		for (int r = 0; r < n_rows; r++)
			memcpy(y + (size_t) r * l->n_out, l->b, sizeof(float) * l->n_out);
		beta = 1.0f;
	}

	if (n_rows == 1 && (size_t) l->n_in * l->n_out <= SMALL_LAYER)
		dense_row_small(l, x, y, beta != 0.0f);
	else if (n_rows == 1)
		blas->sgemv(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS,
					l->n_out, l->n_in, 1.0f, l->w, l->n_in,
					x, 1, beta, y, 1);
	else
		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
					n_rows, l->n_out, l->n_in, 1.0f,
					x, l->n_in, l->w, l->n_in,
					beta, y, l->n_out);
}

const float *
maas_net_forward(const MaasNet *net, const MaasBlas *blas,
				 int n_rows, const float *x, float *work)
{
	float	   *buf[2];
	const float *cur = x;
	int			next = 0;

	buf[0] = work;
	buf[1] = work + (size_t) n_rows * net->max_width;

	for (int i = 0; i < net->n_layers; i++)
	{
		const MaasLayer *l = &net->layers[i];
		size_t		n = (size_t) n_rows * l->n_out;
		float	   *out;

		/* elementwise ops run in place once the input is in a buffer */
		if (cur == x || l->op == MAAS_OP_DENSE || l->op == MAAS_OP_STANDARDIZE)
		{
			out = buf[next];
			next ^= 1;
		}
		else
			out = (float *) cur;

		switch (l->op)
		{
			case MAAS_OP_DENSE:
				dense(blas, l, n_rows, cur, out);
				break;
			case MAAS_OP_STANDARDIZE:
				for (int r = 0; r < n_rows; r++)
					standardize(l->n_in, cur + (size_t) r * l->n_in,
								l->shift, l->scale, out + (size_t) r * l->n_in);
				break;
			case MAAS_OP_RELU:
			case MAAS_OP_TANH:
			case MAAS_OP_SIGMOID:
			case MAAS_OP_DROPOUT:
			case MAAS_OP_SOFTMAX:
				if (out != cur)
					memcpy(out, cur, sizeof(float) * n);
				if (l->op == MAAS_OP_RELU)
					relu(n, out);
				else if (l->op == MAAS_OP_TANH)
					for (size_t j = 0; j < n; j++)
						out[j] = tanhf(out[j]);
				else if (l->op == MAAS_OP_SIGMOID)
					sigmoid(n, out);
				else if (l->op == MAAS_OP_SOFTMAX)
					for (int r = 0; r < n_rows; r++)
						maas_softmax(out + (size_t) r * l->n_out, l->n_out);
				break;
		}
		cur = out;
	}
	return cur;
}

int
maas_argmax(const float *v, int n)
{
	int			best = 0;

	for (int j = 1; j < n; j++)
		if (v[j] > v[best])
			best = j;
	return best;
}

bool
maas_all_finite(const float *v, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (!isfinite(v[j]))
			return false;
	return true;
}
