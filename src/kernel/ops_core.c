/*
 * ops_core.c
 *		The core layers of the runtime: standardize, dense, the
 *		activations, softmax and logsoftmax, dropout, affine, add, mul and
 *		flatten (see net_ops.h).
 *
 * A dense layer is one call of the matrix backend (blas.h: maas_dense),
 * which picks the library and kernel for one row or for a batch from the
 * CPU's features, takes the bias into the product, and runs packed weights
 * when the model was packed (maas_net_pack, at load); a tiny layer's one
 * row is a plain loop, so the per-row path of a small model pays no call.
 * GPT-2's [in, out] weights go to sgemm/sgemv with the transposes that fit
 * them, in place.  Every layer works on row values and on sequence values
 * alike: a sequence of t positions is just t times as many vectors.
 */
#include "net_ops.h"
#include "quantize.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* GCC's vector extension: SSE on any x86-64, no -march */
typedef float v4sf __attribute__((vector_size(16)));

/* ---- standardize ---- */

static bool
standardize_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	const char *mean = NULL;
	const char *std = NULL;
	int64_t		shape[1] = {in[0].width};
	float	   *scale;

	if (!maas_build_string(b, obj, "mean", false, &mean) ||
		!maas_build_string(b, obj, "std", false, &std))
		return false;
	if (mean == NULL || std == NULL)
		return maas_build_error(b, "Layer %d (standardize) needs \"mean\" and \"std\".",
								maas_build_layer_no(b));
	l->n_in = in[0].width;
	if ((l->shift = maas_build_tensor(b, mean, 1, shape, false)) == NULL)
		return false;
	if ((scale = (float *) maas_build_tensor(b, std, 1, shape, true)) == NULL)
		return false;
	for (int j = 0; j < in[0].width; j++)
	{
		if (!(scale[j] > 0.0f))
			return maas_build_error(b, "Layer %d (standardize): std of feature %d is %g; it must be positive.",
									maas_build_layer_no(b), j + 1, (double) scale[j]);
		scale[j] = 1.0f / scale[j];
	}
	l->scale = scale;
	return true;
}

static bool
standardize_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out,
				  MaasError *err)
{
	if (l->n_in != in[0].width)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (standardize) has %d features but receives %d",
						  no, l->n_in, in[0].width);
	if (l->shift == NULL || l->scale == NULL)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (standardize) has no mean or std", no);
	*out = in[0];
	l->n_out = l->n_in;
	return true;
}

static bool
standardize_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	size_t		rows = maas_run_vectors(run, &l->shape);
	int			n = l->n_in;
	const float *shift = l->shift;
	const float *scale = l->scale;

	/* four at a time (GCC's vector extension, SSE on any x86-64), then the tail */
	for (size_t r = 0; r < rows; r++)
	{
		const float *x = in[0] + r * n;
		float	   *y = out + r * n;
		int			j = 0;

		for (; j + 4 <= n; j += 4)
		{
			v4sf		a,
						m,
						s;

			memcpy(&a, x + j, sizeof(a));
			memcpy(&m, shift + j, sizeof(m));
			memcpy(&s, scale + j, sizeof(s));
			a = (a - m) * s;
			memcpy(y + j, &a, sizeof(a));
		}
		for (; j < n; j++)
			y[j] = (x[j] - shift[j]) * scale[j];
	}
	return true;
}

static const char *const standardize_keys[] = {"mean", "std", NULL};

const MaasOpInfo maas_op_standardize = {
	.name = "standardize", .min_inputs = 1, .max_inputs = 1,
	.keys = standardize_keys, .parse = standardize_parse,
	.check = standardize_check, .forward = standardize_forward,
};

/* ---- dense ---- */

/*
 * Stored quantized weights (maas_quantize, doc/optimization.md): an I8
 * tensor [n_out, n_in] with an F32 tensor of one scale per output channel
 * ("scale"), or a BF16 tensor, both in the out_in layout, run as they are
 * stored through the int8 or bf16 kernels.  Any other floating tensor is
 * float32 (converted when it is not).
 */
static bool
dense_parse_typed(MaasBuild *b, MaasLayer *l, const char *weight,
				  const char *scale, const StTensor *t, int n_in)
{
	int64_t		n_out = t->ndim == 2 ? t->shape[0] : 0;
	MaasError  *err = maas_build_err(b);

	if (l->w_in_out)
		return maas_build_error(b, "Layer %d (dense): tensor \"%s\" of dtype %s needs \"layout\" \"out_in\".",
								maas_build_layer_no(b), weight, st_dtype_name(t->dtype));
	if (t->ndim != 2 || t->shape[1] != n_in || n_out < 1 || n_out > INT_MAX)
		return maas_build_error(b, "Layer %d (dense) needs tensor \"%s\" of shape [?, %d].",
								maas_build_layer_no(b), weight, n_in);
	l->n_out = (int) n_out;
	if (t->dtype == ST_I8)
	{
		int64_t		sshape[1] = {n_out};
		const float *s;

		if (scale == NULL)
			return maas_build_error(b, "Layer %d (dense): int8 tensor \"%s\" needs \"scale\", a tensor of one scale per output.",
									maas_build_layer_no(b), weight);
		if ((s = maas_build_tensor(b, scale, 1, sshape, false)) == NULL)
			return false;
		if (!maas_weights_s8((const int8_t *) t->data, s, l->n_out, n_in, &l->wt, err))
		{
			char		msg[MAAS_ERRLEN];

			if (err->status == MAAS_ERR_NOMEM)
				return false;
			snprintf(msg, sizeof(msg), "%s", err->msg);
			return maas_build_error(b, "Layer %d (dense): %s.", maas_build_layer_no(b), msg);
		}
		return true;
	}
	/* BF16, used in place when aligned */
	{
		const uint16_t *d = (const uint16_t *) t->data;
		size_t		n = (size_t) t->numel;

		if (scale != NULL)
			return maas_build_error(b, "Layer %d (dense): \"scale\" goes only with an int8 weight tensor.",
									maas_build_layer_no(b));
		if (((uintptr_t) d % sizeof(uint16_t)) != 0)
		{
			uint16_t   *copy = maas_kalloc_array(n, sizeof(uint16_t));

			if (copy == NULL)
				return maas_error_nomem(err);
			memcpy(copy, t->data, n * sizeof(uint16_t));
			d = copy;
		}
		if (maas_build_checks_values(b))
			for (size_t i = 0; i < n; i++)
			{
				uint16_t	h;

				memcpy(&h, (const uint8_t *) d + i * 2, 2);
				if ((h & 0x7f80u) == 0x7f80u)
					return maas_build_error(b, "Tensor \"%s\" holds NaN or infinite values.", weight);
			}
		memset(&l->wt, 0, sizeof(l->wt));
		l->wt.type = MAAS_W_BF16;
		l->wt.n = l->n_out;
		l->wt.k = n_in;
		l->wt.data = d;
		return true;
	}
}

static bool
dense_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	const char *weight = NULL;
	const char *bias = NULL;
	const char *layout = NULL;
	const char *scale = NULL;
	const MaasJson *bv = maas_json_get(obj, "bias");
	const StTensor *raw;
	int64_t		shape[2];

	if (!maas_build_string(b, obj, "weight", false, &weight) ||
		!maas_build_string(b, obj, "layout", false, &layout) ||
		!maas_build_string(b, obj, "scale", false, &scale))
		return false;
	if (weight == NULL)
		return maas_build_error(b, "Layer %d (dense) has no \"weight\".",
								maas_build_layer_no(b));
	if (bv != NULL && bv->type != MAAS_JSON_NULL &&
		!maas_build_string(b, obj, "bias", false, &bias))
		return false;
	if (layout != NULL && strcmp(layout, "out_in") != 0 && strcmp(layout, "in_out") != 0)
		return maas_build_error(b, "Layer %d (dense): \"layout\" must be \"out_in\" or \"in_out\", not \"%s\".",
								maas_build_layer_no(b), layout);
	l->w_in_out = layout != NULL && strcmp(layout, "in_out") == 0;
	l->n_in = in[0].width;

	if ((raw = maas_build_raw_tensor(b, weight)) == NULL)
		return false;
	if (raw->dtype == ST_I8 || (raw->dtype == ST_BF16 && !l->w_in_out) || scale != NULL)
	{
		if (raw->dtype != ST_I8 && raw->dtype != ST_BF16)
			return maas_build_error(b, "Layer %d (dense): \"scale\" goes only with an int8 weight tensor.",
									maas_build_layer_no(b));
		if (!dense_parse_typed(b, l, weight, scale, raw, in[0].width))
			return false;
	}
	else
	{
		/* [n_out, n_in] as torch's Linear, or [n_in, n_out] as GPT-2's Conv1D */
		shape[l->w_in_out ? 0 : 1] = in[0].width;
		shape[l->w_in_out ? 1 : 0] = -1;
		if ((l->w = maas_build_tensor(b, weight, 2, shape, false)) == NULL)
			return false;
		l->n_out = (int) shape[l->w_in_out ? 1 : 0];
	}
	if (bias != NULL)
	{
		int64_t		bshape[1] = {l->n_out};

		if ((l->b = maas_build_tensor(b, bias, 1, bshape, false)) == NULL)
			return false;
	}
	return true;
}

static bool
dense_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	if (l->n_in != in[0].width)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (dense) takes %d inputs but receives %d",
						  no, l->n_in, in[0].width);
	if (l->n_out <= 0 || (l->w == NULL && l->wt.data == NULL))
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (dense) has no weights", no);
	if (l->w == NULL && (l->w_in_out || l->wt.n != l->n_out || l->wt.k != l->n_in))
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (dense) has weights of another shape", no);
	memset(out, 0, sizeof(*out));
	out->seq = in[0].seq;
	out->width = l->n_out;
	return true;
}

/*
 * A layer this small (a logistic regression's, say) costs less in a plain
 * loop than in a call through the matrix backend.  Four vectors of four
 * accumulators (GCC's vector extension: SSE on any x86-64, no -march),
 * then the tail, summed at the end.
 */
#define SMALL_LAYER 2048

static inline v4sf
load4(const float *p)
{
	v4sf		v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void
dense_row_small(const MaasLayer *l, const float *restrict x, float *restrict y)
{
	int			n_in = l->n_in;

	for (int j = 0; j < l->n_out; j++)
	{
		const float *restrict w = l->w + (size_t) j * n_in;
		v4sf		a0 = {0},
					a1 = {0},
					a2 = {0},
					a3 = {0};
		float		s = 0.0f;
		int			k = 0;

		for (; k + 16 <= n_in; k += 16)
		{
			a0 += load4(w + k) * load4(x + k);
			a1 += load4(w + k + 4) * load4(x + k + 4);
			a2 += load4(w + k + 8) * load4(x + k + 8);
			a3 += load4(w + k + 12) * load4(x + k + 12);
		}
		for (; k + 4 <= n_in; k += 4)
			a0 += load4(w + k) * load4(x + k);
		for (; k < n_in; k++)
			s += w[k] * x[k];
		a0 = (a0 + a1) + (a2 + a3);
		y[j] = (l->b ? l->b[j] : 0.0f) + (((a0[0] + a0[1]) + (a0[2] + a0[3])) + s);
	}
}

/*
 * The layer's weights as the matrix backend takes them: l->wt when it was
 * made for these weights (packed, or of another type), else w as float32.
 */
static inline const MaasWeights *
dense_weights(const MaasLayer *l, MaasWeights *plain)
{
	if (l->wt.data != NULL && (l->wt.type != MAAS_W_F32 || l->wt.data == l->w))
		return &l->wt;
	memset(plain, 0, sizeof(*plain));
	plain->type = MAAS_W_F32;
	plain->n = l->n_out;
	plain->k = l->n_in;
	plain->data = l->w;
	return plain;
}

/* W is [n_in, n_out] (GPT-2's Conv1D): y = x W + b, through sgemm/sgemv */
static void
dense_in_out(const MaasLayer *l, const MaasBlas *blas, const float *x, float *y,
			 int rows)
{
	float		beta = 0.0f;

	if (l->b != NULL)
	{
		for (int r = 0; r < rows; r++)
			memcpy(y + (size_t) r * l->n_out, l->b, sizeof(float) * l->n_out);
		beta = 1.0f;
	}
	if (rows == 1)
		blas->sgemv(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_TRANS,
					l->n_in, l->n_out, 1.0f, l->w, l->n_out,
					x, 1, beta, y, 1);
	else
		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
					rows, l->n_out, l->n_in, 1.0f,
					x, l->n_in, l->w, l->n_out,
					beta, y, l->n_out);
}

/* rows one call of the backend takes, so that m fits an int */
#define DENSE_CHUNK (1 << 30)

/*
 * max(x, 0), NaN to 0, over n floats (y may be x): four at a time with a
 * compare and a mask, no branch (a branch on the sign of activations
 * mispredicts about half the time), then the tail.
 */
typedef int32_t v4si __attribute__((vector_size(16)));

static void
relu_n(const float *x, float *y, size_t n)
{
	const v4sf	zero = {0};
	size_t		j = 0;

	for (; j + 4 <= n; j += 4)
	{
		v4sf		v = load4(x + j);
		v4si		r = (v4si) v & (v > zero);

		memcpy(y + j, &r, sizeof(r));
	}
	for (; j < n; j++)
		y[j] = x[j] > 0.0f ? x[j] : 0.0f;
}

/*
 * y = x W^T + b over the value's vectors: one dense call of the matrix
 * backend (maas_dense, any weight type, packed weights when the model was
 * packed), which picks the implementation for one row or a batch.  With
 * relu (a relu layer fused after it, net.c), int8 weights apply it in
 * their dequantization pass; the others after the product.
 */
static bool
dense_run(const MaasLayer *l, MaasRun *run, const float *x, float *y, bool relu)
{
	size_t		rows = maas_run_vectors(run, &l->shape);
	MaasWeights plain;
	const MaasWeights *w = dense_weights(l, &plain);

	if (rows == 1 && w->type == MAAS_W_F32 && !l->w_in_out &&
		(size_t) l->n_in * l->n_out <= SMALL_LAYER)
		dense_row_small(l, x, y);
	else if (relu && w->type == MAAS_W_S8 && !l->w_in_out)
	{
		for (size_t r = 0; r < rows; r += DENSE_CHUNK)
		{
			int			m = (int) (rows - r < DENSE_CHUNK ? rows - r : DENSE_CHUNK);

			if (!run->blas->gemm_s8_relu(w, m, x + r * l->n_in, l->n_in, l->b,
										 y + r * l->n_out, l->n_out, run->err))
				return false;
		}
		return true;
	}
	else
		for (size_t r = 0; r < rows; r += DENSE_CHUNK)
		{
			int			m = (int) (rows - r < DENSE_CHUNK ? rows - r : DENSE_CHUNK);
			const float *xr = x + r * l->n_in;
			float	   *yr = y + r * l->n_out;

			if (l->w_in_out)
				dense_in_out(l, run->blas, xr, yr, m);
			else if (!maas_dense(run->blas, w, m, xr, l->n_in, l->b, yr, l->n_out, run->err))
				return false;
		}
	if (relu)
		relu_n(y, y, rows * (size_t) l->n_out);
	return true;
}

static bool
dense_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *y)
{
	return dense_run(l, run, in[0], y, run->relu);
}

bool
maas_net_pack(MaasNet *net, const MaasBlas *blas, MaasError *err)
{
	bool		ok = true;
	MaasError	later;

	for (int i = 0; i < net->n_layers; i++)
	{
		MaasLayer  *l = &net->layers[i];
		MaasWeights w;

		if (l->op != MAAS_OP_DENSE || l->w_in_out)
			continue;
		/* int8 and bf16 weights (dense_parse_typed) pack as they are */
		if (l->wt.data != NULL && l->wt.type != MAAS_W_F32)
		{
			w = l->wt;
			if (w.packed == NULL && !blas->pack(&w, ok ? err : &later))
				ok = false;
			else
				l->wt = w;
			continue;
		}
		if (l->w == NULL)
			continue;
		memset(&w, 0, sizeof(w));
		w.type = MAAS_W_F32;
		w.n = l->n_out;
		w.k = l->n_in;
		w.data = l->w;
		/* a failed layer stays unpacked; the first failure is reported */
		if (!blas->pack(&w, ok ? err : &later))
		{
			ok = false;
			continue;
		}
		l->wt = w;
	}
	/* and the convolutions' */
	if (!maas_net_pack_images(net, blas, ok ? err : &later))
		ok = false;
	return ok;
}

static const char *const dense_keys[] = {"weight", "bias", "layout", "scale", NULL};

const MaasOpInfo maas_op_dense = {
	.name = "dense", .min_inputs = 1, .max_inputs = 1,
	.keys = dense_keys, .parse = dense_parse,
	.check = dense_check, .forward = dense_forward,
	.fuses_relu = true,
};

/* ---- elementwise activations ---- */

static size_t
value_floats(const MaasLayer *l, MaasRun *run)
{
	return maas_run_vectors(run, &l->shape) * (size_t) l->n_out;
}

static void
copy_if_apart(const float *in, float *out, size_t n)
{
	if (in != out)
		memcpy(out, in, sizeof(float) * n);
}

static bool
relu_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	relu_n(in[0], out, value_floats(l, run));
	return true;
}

static bool
tanh_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	size_t		n = value_floats(l, run);
	const float *x = in[0];

	for (size_t j = 0; j < n; j++)
		out[j] = tanhf(x[j]);
	return true;
}

/*
 * With e = exp(-|v|) <= 1 nothing overflows: 1 / (1 + e) for v >= 0,
 * e / (1 + e) below.  One exp and a select, no branch on the sign.
 */
static inline float
sigmoidf(float v)
{
	float		e = expf(-fabsf(v));
	float		p = 1.0f / (1.0f + e);

	return v >= 0.0f ? p : e * p;
}

static bool
sigmoid_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	size_t		n = value_floats(l, run);
	const float *x = in[0];

	for (size_t j = 0; j < n; j++)
		out[j] = sigmoidf(x[j]);
	return true;
}

static bool
softmax_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	size_t		rows = maas_run_vectors(run, &l->shape);

	copy_if_apart(in[0], out, rows * (size_t) l->n_out);
	for (size_t r = 0; r < rows; r++)
		maas_softmax(out + r * l->n_out, l->n_out);
	return true;
}

/* x - max - log(sum(exp(x - max))), in double for the sum */
static bool
logsoftmax_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	size_t		rows = maas_run_vectors(run, &l->shape);
	int			n = l->n_out;

	for (size_t r = 0; r < rows; r++)
	{
		const float *x = in[0] + r * n;
		float	   *y = out + r * n;
		float		max = x[0];
		double		sum = 0.0;
		float		lse;

		for (int j = 1; j < n; j++)
			if (x[j] > max)
				max = x[j];
		for (int j = 0; j < n; j++)
			sum += exp((double) (x[j] - max));
		lse = max + (float) log(sum);
		for (int j = 0; j < n; j++)
			y[j] = x[j] - lse;
	}
	return true;
}

static bool
identity_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	copy_if_apart(in[0], out, value_floats(l, run));
	return true;
}

static const char *const no_keys[] = {NULL};
static const char *const dropout_keys[] = {"p", NULL};

const MaasOpInfo maas_op_relu = {
	.name = "relu", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = no_keys, .forward = relu_forward,
};

const MaasOpInfo maas_op_tanh = {
	.name = "tanh", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = no_keys, .forward = tanh_forward,
};

const MaasOpInfo maas_op_sigmoid = {
	.name = "sigmoid", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = no_keys, .forward = sigmoid_forward,
};

const MaasOpInfo maas_op_softmax = {
	.name = "softmax", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = no_keys, .forward = softmax_forward,
};

const MaasOpInfo maas_op_logsoftmax = {
	.name = "logsoftmax", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = no_keys, .forward = logsoftmax_forward,
};

const MaasOpInfo maas_op_dropout = {
	.name = "dropout", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = dropout_keys, .forward = identity_forward,
};

/* ---- affine: a scale and a shift per element of each vector ---- */

typedef struct AffineParams
{
	const float *scale;			/* width, or NULL for 1 */
	const float *shift;			/* width, or NULL for 0 */
} AffineParams;

static bool
affine_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	AffineParams *p = maas_kalloc(sizeof(AffineParams));
	const char *scale = NULL;
	const char *shift = NULL;
	int64_t		shape[1] = {in[0].width};

	if (p == NULL)
		return maas_build_error(b, "out of memory");
	memset(p, 0, sizeof(*p));
	if (!maas_build_string(b, obj, "scale", false, &scale) ||
		!maas_build_string(b, obj, "shift", false, &shift))
		return false;
	if (scale == NULL && shift == NULL)
		return maas_build_error(b, "Layer %d (affine) needs \"scale\" or \"shift\".",
								maas_build_layer_no(b));
	if (scale != NULL && (p->scale = maas_build_tensor(b, scale, 1, shape, false)) == NULL)
		return false;
	if (shift != NULL && (p->shift = maas_build_tensor(b, shift, 1, shape, false)) == NULL)
		return false;
	l->n_in = in[0].width;
	l->params = p;
	return true;
}

static bool
affine_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	if (l->params == NULL || l->n_in != in[0].width || in[0].width <= 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (affine) has %d values a vector but receives %d",
						  no, l->n_in, in[0].width);
	*out = in[0];
	l->n_out = l->n_in;
	return true;
}

static bool
affine_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const AffineParams *p = l->params;
	size_t		rows = maas_run_vectors(run, &l->shape);
	int			n = l->n_in;
	const float *restrict scale = p->scale;
	const float *restrict shift = p->shift;

	for (size_t r = 0; r < rows; r++)
	{
		const float *x = in[0] + r * n;
		float	   *y = out + r * n;

		if (scale != NULL && shift != NULL)
			for (int j = 0; j < n; j++)
				y[j] = x[j] * scale[j] + shift[j];
		else if (scale != NULL)
			for (int j = 0; j < n; j++)
				y[j] = x[j] * scale[j];
		else
			for (int j = 0; j < n; j++)
				y[j] = x[j] + shift[j];
	}
	return true;
}

static const char *const affine_keys[] = {"scale", "shift", NULL};

const MaasOpInfo maas_op_affine = {
	.name = "affine", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = affine_keys, .parse = affine_parse,
	.check = affine_check, .forward = affine_forward,
};

/* ---- add: the residual connection ---- */

static bool
add_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	if (in[0].seq != in[1].seq || in[0].width != in[1].width)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (add) adds values of different shapes (%s%d and %s%d wide)",
						  no, in[0].seq ? "sequence " : "", in[0].width,
						  in[1].seq ? "sequence " : "", in[1].width);
	if (in[0].width <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (add) has no input to work on", no);
	*out = in[0];
	l->n_in = l->n_out = in[0].width;
	return true;
}

static bool
add_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	size_t		n = value_floats(l, run);
	const float *a = in[0];
	const float *b = in[1];

	for (size_t j = 0; j < n; j++)
		out[j] = a[j] + b[j];
	return true;
}

const MaasOpInfo maas_op_add = {
	.name = "add", .min_inputs = 2, .max_inputs = 2, .elementwise = true,
	.keys = no_keys, .check = add_check, .forward = add_forward,
};

/* ---- mul: a gate, the product of two values of one shape ---- */

static bool
mul_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	if (in[0].seq != in[1].seq || in[0].width != in[1].width || in[0].width <= 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (mul) multiplies values of different shapes (%s%d and %s%d wide)",
						  no, in[0].seq ? "sequence " : "", in[0].width,
						  in[1].seq ? "sequence " : "", in[1].width);
	*out = in[0];
	l->n_in = l->n_out = in[0].width;
	return true;
}

static bool
mul_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	size_t		n = value_floats(l, run);
	const float *a = in[0];
	const float *b = in[1];

	for (size_t j = 0; j < n; j++)
		out[j] = a[j] * b[j];
	return true;
}

const MaasOpInfo maas_op_mul = {
	.name = "mul", .min_inputs = 2, .max_inputs = 2, .elementwise = true,
	.keys = no_keys, .check = mul_check, .forward = mul_forward,
};

/* ---- flatten: an image as a vector (the data does not move) ---- */

static bool
flatten_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	if (in[0].seq || in[0].width <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (flatten) needs an image or a row value", no);
	memset(out, 0, sizeof(*out));
	out->width = in[0].width;
	l->n_in = l->n_out = in[0].width;
	return true;
}

const MaasOpInfo maas_op_flatten = {
	.name = "flatten", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = no_keys, .check = flatten_check, .forward = identity_forward,
};

/* ---- one row of a small model, without the run loop (net.c) ---- */

/* may layer l be a step of maas_small_row (its shape is settled) */
bool
maas_small_step_ok(const MaasLayer *l)
{
	if (l->shape.seq)
		return false;
	switch (l->op)
	{
		case MAAS_OP_DENSE:
			return !l->w_in_out && (size_t) l->n_in * l->n_out <= SMALL_LAYER;
		case MAAS_OP_STANDARDIZE:
		case MAAS_OP_SIGMOID:
		case MAAS_OP_SOFTMAX:
		case MAAS_OP_DROPOUT:
			return true;
		default:
			return false;
	}
}

/*
 * *x_finite: whether the outputs of the first dense layer show every
 * element of the row finite.  They do when that layer reads the row through
 * standardize and dropout only, and its outputs are all finite: each of its
 * outputs is a sum of terms w * v, one for every element v it reads, and
 * each v is x's element or (x - shift) * scale of it.  Under IEEE 754 an
 * infinite or NaN operand of +, - or * gives a result that is infinite or
 * NaN (inf * 0 and inf - inf give NaN), whatever the other operand is, and
 * so does every sum above it, in any order.  A non-finite element would so
 * make every output non-finite; finite outputs prove the row finite.  The
 * converse does not hold (finite values can overflow), so false proves
 * nothing, and a caller checks the row itself then.
 */
const float *
maas_small_row(const MaasLayer *const *steps, const size_t *off, int n,
			   const float *x, float *work, bool *x_finite)
{
	bool		chain = true;	/* x still reaches here through +, -, * */

	*x_finite = false;
	for (int i = 0; i < n; i++)
	{
		const MaasLayer *l = steps[i];
		float	   *y = work + off[i];

		switch (l->op)
		{
			case MAAS_OP_DENSE:
				if (l->wt.data != NULL && l->wt.type != MAAS_W_F32)
					return NULL;
				dense_row_small(l, x, y);
				if (chain)
				{
					bool		finite = true;

					for (int j = 0; j < l->n_out; j++)
						finite &= isfinite(y[j]) != 0;
					*x_finite = finite;
					chain = false;
				}
				break;
			case MAAS_OP_STANDARDIZE:
				for (int j = 0; j < l->n_in; j++)
					y[j] = (x[j] - l->shift[j]) * l->scale[j];
				break;
			case MAAS_OP_SIGMOID:
				for (int j = 0; j < l->n_out; j++)
					y[j] = sigmoidf(x[j]);
				chain = false;
				break;
			case MAAS_OP_SOFTMAX:
				copy_if_apart(x, y, (size_t) l->n_out);
				maas_softmax(y, l->n_out);
				chain = false;
				break;
			default:
				copy_if_apart(x, y, (size_t) l->n_out);
				break;
		}
		x = y;
	}
	return x;
}
