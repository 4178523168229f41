/*
 * onnx_translate_dense.c
 *		The ONNX ops of MLPs in the translator: Gemm and MatMul (dense),
 *		Add / Sub / Mul / Div (a bias or a scale absorbed by the layer before,
 *		an affine layer, a residual add, a gate), the activations, Softmax
 *		and LogSoftmax.  The views that move no data (Reshape, Flatten,
 *		Squeeze, Unsqueeze, Transpose of unit axes, Identity, Dropout) are
 *		in onnx_translate_view.c.
 *
 * A run-time value lies as the runtime keeps it when its batch axis is
 * first, a sequence axis (text models) second, and the rest row-major: the
 * runtime's vector is then everything after the batch (and sequence) axes.
 */
#include "onnx_translate_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* the first axis of the vector: 1 for a row value, 2 for a sequence */
static int
vec_axis(const TxVal *v)
{
	return v->seq ? 2 : 1;
}

/* floats of v's vector, or -1 if a dimension is not known */
int64_t
tx_vec_width(const TxVal *v)
{
	int64_t		w = 1;

	for (int d = vec_axis(v); d < v->ndim; d++)
	{
		if (!tx_dim_known(v->dims[d]) || v->dims[d].k < 0 ||
			__builtin_mul_overflow(w, v->dims[d].k, &w) || w > INT32_MAX)
			return -1;
	}
	return w;
}

/* is the shape batch first (then the sequence), the rest known */
bool
tx_std_shape(const TxVal *v)
{
	if (v->ndim < 1 || !tx_dim_eq(v->dims[0], tx_dim_B))
		return false;
	if (v->seq && (v->ndim < 2 || !tx_dim_eq(v->dims[1], tx_dim_T)))
		return false;
	return tx_vec_width(v) > 0;
}

bool
tx_require_std(Tx *tx, const TxVal *v, const char *what)
{
	char		s[128];

	if (v->kind == TX_EMB && !tx_materialize(tx, (TxVal *) v))
		return false;
	if (v->kind == TX_TOKENS || v->kind == TX_TYPES || v->kind == TX_MASKIN)
		return tx_unsupported(tx, "%s \"%s\" is read from the token inputs in a way maas does not translate",
							  what, v->name);
	if (v->kind != TX_RUN)
		return tx_unsupported(tx, "%s \"%s\" is not a value computed at run time", what, v->name);
	if (v->layer < 0 || !tx_std_shape(v))
		return tx_unsupported(tx, "%s \"%s\" of shape %s is not laid out as maas keeps a value (batch first%s, then one vector)",
							  what, v->name, tx_shape_str(v, s, sizeof(s)),
							  v->seq ? ", then the sequence" : "");
	return true;
}

/* is v's program value computed by a layer of this op */
static TxLayer *
layer_op(Tx *tx, const TxVal *v, const char *op)
{
	TxLayer    *l = tx_layer_of(tx, v->layer);

	return l != NULL && strcmp(l->op, op) == 0 ? l : NULL;
}

/* a run-time value's shape after an op that keeps it */
static void
same_shape(TxVal *out, const TxVal *in)
{
	out->kind = TX_RUN;
	out->dtype = in->dtype;
	out->ndim = in->ndim;
	memcpy(out->dims, in->dims, sizeof(TxDim) * (size_t) in->ndim);
	out->seq = in->seq;
	out->std = in->std;
	out->layer = -1;
}


/* ----------------------------------------------------------------
 *		constants over a vector
 * ----------------------------------------------------------------
 */

/*
 * The constant c broadcast over x's vector: width floats.  c may not vary
 * along the batch or sequence axes.
 */
static float *
over_vector(Tx *tx, const TxVal *x, const TxVal *c)
{
	int64_t		width = tx_vec_width(x);
	int			first = vec_axis(x);
	int			r = x->ndim;
	float	   *v;
	const float *cf;
	int64_t		cstride[TX_RANK];
	int64_t		s = 1;
	char		s1[128],
				s2[128];

	if (c->ndim > r)
	{
		tx_unsupported(tx, "the constant \"%s\" of shape %s has more dimensions than \"%s\" %s",
					   c->name, tx_shape_str(c, s1, sizeof(s1)), x->name,
					   tx_shape_str(x, s2, sizeof(s2)));
		return NULL;
	}
	for (int d = 0; d < c->ndim; d++)
	{
		int			xd = d + (r - c->ndim);

		if (xd < first && !tx_dim_is(c->dims[d], 1))
		{
			tx_unsupported(tx, "the constant \"%s\" of shape %s varies along the %s axis of \"%s\" %s",
						   c->name, tx_shape_str(c, s1, sizeof(s1)),
						   xd == 0 ? "batch" : "sequence", x->name, tx_shape_str(x, s2, sizeof(s2)));
			return NULL;
		}
		if (!tx_dim_is(c->dims[d], 1) && !tx_dim_eq(c->dims[d], x->dims[xd]))
		{
			if (tx_dim_symbolic(x->dims[xd]))
				tx_unsupported(tx, "shapes %s and %s broadcast only for some batch or sequence sizes",
							   tx_shape_str(c, s1, sizeof(s1)), tx_shape_str(x, s2, sizeof(s2)));
			else
				tx_invalid(tx, "shapes %s and %s do not broadcast",
						   tx_shape_str(c, s1, sizeof(s1)), tx_shape_str(x, s2, sizeof(s2)));
			return NULL;
		}
	}
	if ((cf = tx_const_f(tx, c)) == NULL || (v = tx_alloc(tx, (size_t) width, sizeof(float))) == NULL)
		return NULL;
	for (int d = r - 1; d >= 0; d--)
	{
		int			cd = d - (r - c->ndim);

		cstride[d] = cd >= 0 && !tx_dim_is(c->dims[cd], 1) ? s : 0;
		if (cd >= 0)
			s *= c->dims[cd].k;
	}
	for (int64_t j = 0; j < width; j++)
	{
		int64_t		rem = j,
					off = 0;

		for (int d = r - 1; d >= first; d--)
		{
			int64_t		idx = rem % x->dims[d].k;

			rem /= x->dims[d].k;
			off += idx * cstride[d];
		}
		v[j] = cf[off];
	}
	return v;
}

/* a tensor of our own for a vector of floats */
static int
vector_tensor(Tx *tx, const char *base, const char *suffix, const float *v, int64_t n)
{
	char		name[512];
	int			t;

	snprintf(name, sizeof(name), "%.480s%s", base, suffix);
	if ((t = tx_tensor_new(tx, name, 1, &n)) < 0)
		return -1;
	memcpy(tx->tensors[t].data, v, sizeof(float) * (size_t) n);
	return t;
}

/* the bias of a dense layer, made (zero) if it has none */
static float *
dense_bias(Tx *tx, TxLayer *l)
{
	int			t = tx_layer_tensor(l, "bias");
	char		name[512];
	float	   *b;

	if (t >= 0)
	{
		if (tx->tensors[t].refs > 1)
		{
			/* shared with another layer: a copy of our own */
			const float *src = tx_tensor_read(tx, t);
			int			copy = vector_tensor(tx, tx->tensors[t].name, "", src, l->width);

			if (copy < 0 || !tx_key_tensor(tx, l, "bias", copy))
				return NULL;
			t = copy;
		}
		return tx_tensor_mut(tx, t);
	}
	snprintf(name, sizeof(name), "%.490s.bias", l->name ? l->name : "dense");
	if ((t = tx_tensor_new(tx, name, 1, &l->width)) < 0 || !tx_key_tensor(tx, l, "bias", t))
		return NULL;
	b = tx->tensors[t].data;
	return b;
}

/* the weight of a dense layer, to change (copied if shared) */
static float *
dense_weight(Tx *tx, TxLayer *l)
{
	int			t = tx_layer_tensor(l, "weight");

	if (tx->tensors[t].refs > 1)
	{
		TxTensor   *src = &tx->tensors[t];
		int			copy = tx_tensor_new(tx, src->name, src->ndim, src->shape);
		const float *from;

		if (copy < 0)
			return NULL;
		src = &tx->tensors[t];
		if ((from = tx_tensor_read(tx, t)) == NULL)
			return NULL;
		memcpy(tx->tensors[copy].data, from, sizeof(float) * (size_t) src->numel);
		if (!tx_key_tensor(tx, l, "weight", copy))
			return NULL;
		t = copy;
	}
	return tx_tensor_mut(tx, t);
}

/* scale output j of a dense layer by s[j] (weights and bias) */
static bool
dense_scale(Tx *tx, TxLayer *l, const float *s)
{
	float	   *w = dense_weight(tx, l);
	int			t = tx_layer_tensor(l, "weight");
	bool		in_out = false;
	int64_t		n_out = l->width;
	int64_t		n_in;

	if (w == NULL)
		return false;
	t = tx_layer_tensor(l, "weight");
	for (int k = 0; k < l->n_keys; k++)
		if (strcmp(l->keys[k].key, "layout") == 0)
			in_out = true;
	n_in = tx->tensors[t].numel / n_out;
	for (int64_t j = 0; j < n_out; j++)
		for (int64_t i = 0; i < n_in; i++)
			w[in_out ? i * n_out + j : j * n_in + i] *= s[j];
	if (tx_layer_tensor(l, "bias") >= 0)
	{
		float	   *b = dense_bias(tx, l);

		if (b == NULL)
			return false;
		for (int64_t j = 0; j < n_out; j++)
			b[j] *= s[j];
	}
	return true;
}

/* an affine layer's scale or shift, made if absent (ones, zeros) */
static float *
affine_part(Tx *tx, TxLayer *l, const char *key)
{
	int			t = tx_layer_tensor(l, key);
	char		name[512];

	if (t < 0)
	{
		snprintf(name, sizeof(name), "%.490s.%s", l->name ? l->name : "affine", key);
		if ((t = tx_tensor_new(tx, name, 1, &l->width)) < 0 || !tx_key_tensor(tx, l, key, t))
			return NULL;
		if (strcmp(key, "scale") == 0)
			for (int64_t j = 0; j < l->width; j++)
				tx->tensors[t].data[j] = 1.0f;
		return tx->tensors[t].data;
	}
	return tx_tensor_mut(tx, t);
}

/* v (over an image layer's c * h * w) is one value per channel, or NULL */
static bool
per_channel(const TxLayer *l, const float *v)
{
	int64_t		hw = (int64_t) l->h * l->w;

	if (v == NULL)
		return true;
	if (l->c <= 0 || hw <= 0)
		return false;
	for (int64_t o = 0; o < l->c; o++)
		for (int64_t i = 1; i < hw; i++)
			if (v[o * hw + i] != v[o * hw])
				return false;
	return true;
}

/*
 * A per-channel scale and shift folded into the convolution before: the
 * weights of output channel o times scale[o], its bias times scale[o]
 * plus shift[o] (a batch norm after a Conv, as torch exports it in eval
 * mode when it does not fold it itself).
 */
static bool
conv_affine(Tx *tx, TxLayer *l, TxVal *x, const float *scale, const float *shift,
			TxVal *out)
{
	int64_t		hw = (int64_t) l->h * l->w;
	int64_t		n_out = l->c;
	float	   *b;

	if (scale != NULL)
	{
		float	   *w = dense_weight(tx, l);
		int64_t		per;

		if (w == NULL)
			return false;
		per = tx->tensors[tx_layer_tensor(l, "weight")].numel / n_out;
		for (int64_t o = 0; o < n_out; o++)
			for (int64_t i = 0; i < per; i++)
				w[o * per + i] *= scale[o * hw];
	}
	/* the bias (zeros if it had none), with the width of the channels */
	{
		int64_t		width = l->width;

		l->width = n_out;
		b = dense_bias(tx, l);
		l->width = width;
	}
	if (b == NULL)
		return false;
	for (int64_t o = 0; o < n_out; o++)
		b[o] = b[o] * (scale ? scale[o * hw] : 1.0f) + (shift ? shift[o * hw] : 0.0f);
	tx_alias(tx, out, x);
	return true;
}

/*
 * out = x * scale + shift, each a vector (NULL: 1, 0), absorbed by the layer
 * before when it has no other reader (a dense layer, an affine layer), else
 * a new affine layer.
 */
static bool
apply_affine(Tx *tx, TxVal *x, const float *scale, const float *shift, TxVal *out)
{
	int64_t		width = tx_vec_width(x);
	TxLayer    *l;

	if (tx_sole_reader(tx, x) && !tx->layers[x->layer - 1].seq == !x->seq)
	{
		if ((l = layer_op(tx, x, "dense")) != NULL && l->width == width)
		{
			if (scale != NULL && !dense_scale(tx, l, scale))
				return false;
			if (shift != NULL)
			{
				float	   *b = dense_bias(tx, l);

				if (b == NULL)
					return false;
				for (int64_t j = 0; j < width; j++)
					b[j] += shift[j];
			}
			tx_alias(tx, out, x);
			return true;
		}
		if ((l = layer_op(tx, x, "conv2d")) != NULL && l->width == width &&
			per_channel(l, scale) && per_channel(l, shift))
			return conv_affine(tx, l, x, scale, shift, out);
		if ((l = layer_op(tx, x, "affine")) != NULL && l->width == width)
		{
			float	   *s1 = affine_part(tx, l, "scale");
			float	   *b1 = affine_part(tx, l, "shift");

			if (s1 == NULL || b1 == NULL)
				return false;
			for (int64_t j = 0; j < width; j++)
			{
				float		s2 = scale ? scale[j] : 1.0f;

				s1[j] *= s2;
				b1[j] = b1[j] * s2 + (shift ? shift[j] : 0.0f);
			}
			tx_alias(tx, out, x);
			return true;
		}
	}
	if ((l = tx_layer(tx, "affine", 1, &x->layer)) == NULL)
		return false;
	l->width = width;
	l->name = out->name;
	if (scale != NULL)
	{
		int			t = vector_tensor(tx, out->name, ".scale", scale, width);

		if (t < 0 || !tx_key_tensor(tx, l, "scale", t))
			return false;
	}
	if (shift != NULL)
	{
		int			t = vector_tensor(tx, out->name, ".shift", shift, width);

		if (t < 0 || !tx_key_tensor(tx, l, "shift", t))
			return false;
	}
	tx_set_output(tx, out, l);
	return true;
}

bool
tx_lower_affine(Tx *tx, TxVal *x, const TxVal *scale, const TxVal *shift, TxVal *out)
{
	float	   *s = NULL,
			   *b = NULL;

	if (!tx_require_std(tx, x, "the input"))
		return false;
	if (scale != NULL && (s = over_vector(tx, x, scale)) == NULL)
		return false;
	if (shift != NULL && (b = over_vector(tx, x, shift)) == NULL)
		return false;
	return apply_affine(tx, x, s, b, out);
}


/* ----------------------------------------------------------------
 *		Add, Sub, Mul, Div
 * ----------------------------------------------------------------
 */

static bool
eval_arith(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxVal	   *a = in[0],
			   *b = in[1];
	const char *op = n->op_type;
	bool		handled = false;

	if (a == NULL || b == NULL)
		return tx_invalid(tx, "%s takes two inputs", op);
	if (tx_is_value(a) && tx_is_value(b))
		return tx_fold_binary(tx, op, a, b, out[0]);
	if (!tx_text_add(tx, n, a, b, out[0], &handled))
		return false;
	if (handled)
		return true;
	/* a range moved by a constant (position ids) */
	if ((a->kind == TX_IOTA || b->kind == TX_IOTA) && (op[0] == 'A' || op[0] == 'S'))
	{
		TxVal	   *it = a->kind == TX_IOTA ? a : b;
		TxVal	   *c = it == a ? b : a;
		int64_t		k;

		if (c->kind != TX_CONST || c->numel != 1 || !tx_int_scalar(tx, c, "the offset", &k))
			return tx_unsupported(tx, "%s of a range and \"%s\" is not supported", op, c->name);
		if (op[0] == 'S' && it == b)
			return tx_unsupported(tx, "a constant minus a range is not supported");
		tx_copy_val(out[0], it);
		out[0]->c0 += op[0] == 'S' ? -k : k;
		return true;
	}
	if (a->kind == TX_IOTA || b->kind == TX_IOTA || a->kind == TX_MASK || b->kind == TX_MASK ||
		a->kind == TX_SYM || b->kind == TX_SYM)
		return tx_unsupported(tx, "%s of \"%s\" and \"%s\" is not supported", op, a->name, b->name);
	if (a->kind == TX_TOKENS || a->kind == TX_TYPES || b->kind == TX_TOKENS || b->kind == TX_TYPES)
		return tx_unsupported(tx, "arithmetic on token ids is not supported");
	/* a run-time value with a constant or another run-time value */
	{
		TxVal		shape;

		if (!tx_broadcast(tx, a, b, &shape))
			return false;
		out[0]->kind = TX_RUN;
		out[0]->dtype = a->kind == TX_CONST ? b->dtype : a->dtype;
		out[0]->ndim = shape.ndim;
		memcpy(out[0]->dims, shape.dims, sizeof(TxDim) * (size_t) shape.ndim);
		out[0]->seq = (a->kind == TX_RUN && a->seq) || (b->kind == TX_RUN && b->seq);
		out[0]->std = (a->kind != TX_RUN || a->std) && (b->kind != TX_RUN || b->std);
		out[0]->layer = -1;
	}
	return true;
}

static bool
same_dims(const TxVal *a, const TxVal *b)
{
	if (a->ndim != b->ndim)
		return false;
	for (int d = 0; d < a->ndim; d++)
		if (!tx_dim_eq(a->dims[d], b->dims[d]))
			return false;
	return true;
}

static bool
lower_arith(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxVal	   *a = in[0],
			   *b = in[1];
	const char *op = n->op_type;
	char		s1[128],
				s2[128];

	if (out[0]->kind != TX_RUN)
		return true;			/* virtual: an embedding sum, a mask */
	if (a->kind == TX_CONST || b->kind == TX_CONST)
	{
		TxVal	   *x = a->kind == TX_CONST ? b : a;
		TxVal	   *c = a->kind == TX_CONST ? a : b;
		float	   *v,
				   *ones = NULL;
		int64_t		width;

		if (!tx_require_std(tx, x, "the input"))
			return false;
		if (!same_dims(out[0], x))
			return tx_unsupported(tx, "%s broadcasts \"%s\" %s to %s; maas does not expand a value",
								  op, x->name, tx_shape_str(x, s1, sizeof(s1)),
								  tx_shape_str(out[0], s2, sizeof(s2)));
		if (!tx_is_float_dtype(c->dtype))
			return tx_unsupported(tx, "%s with the %s constant \"%s\"", op,
								  maas_onnx_dtype_name(c->dtype), c->name);
		if ((v = over_vector(tx, x, c)) == NULL)
			return false;
		width = tx_vec_width(x);
		switch (op[0])
		{
			case 'A':
				return apply_affine(tx, x, NULL, v, out[0]);
			case 'S':
				if (x == a)
				{
					for (int64_t j = 0; j < width; j++)
						v[j] = -v[j];
					return apply_affine(tx, x, NULL, v, out[0]);
				}
				if ((ones = tx_alloc(tx, (size_t) width, sizeof(float))) == NULL)
					return false;
				for (int64_t j = 0; j < width; j++)
					ones[j] = -1.0f;
				return apply_affine(tx, x, ones, v, out[0]);
			case 'M':
				return apply_affine(tx, x, v, NULL, out[0]);
			case 'D':
				if (x != a)
					return tx_unsupported(tx, "the reciprocal of a computed value (a constant divided by \"%s\") is not supported",
										  x->name);
				for (int64_t j = 0; j < width; j++)
					v[j] = 1.0f / v[j];
				return apply_affine(tx, x, v, NULL, out[0]);
		}
		return tx_unsupported(tx, "%s is not supported", op);
	}
	/* two run-time values */
	if (!tx_require_std(tx, a, "the first input") || !tx_require_std(tx, b, "the second input"))
		return false;
	if (!same_dims(a, b))
		return tx_unsupported(tx, "%s of \"%s\" %s and \"%s\" %s broadcasts; maas adds and multiplies values of one shape",
							  op, a->name, tx_shape_str(a, s1, sizeof(s1)), b->name,
							  tx_shape_str(b, s2, sizeof(s2)));
	if (op[0] == 'A' || op[0] == 'M')
	{
		int			ids[2] = {a->layer, b->layer};
		TxLayer    *l = tx_layer(tx, op[0] == 'A' ? "add" : "mul", 2, ids);

		if (l == NULL)
			return false;
		tx_set_output(tx, out[0], l);
		return true;
	}
	return tx_unsupported(tx, "%s of two computed values is not supported outside a LayerNorm",
						  op);
}


/* ----------------------------------------------------------------
 *		activations, softmax
 * ----------------------------------------------------------------
 */

static bool
eval_unary(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	if (tx_is_value(in[0]))
		return tx_fold_unary(tx, n->op_type, in[0], out[0]);
	if (in[0]->kind != TX_RUN && in[0]->kind != TX_EMB)
		return tx_unsupported(tx, "%s of \"%s\" is not supported", n->op_type, in[0]->name);
	if (!tx_is_float_dtype(in[0]->dtype))
		return tx_unsupported(tx, "%s of %s values", n->op_type, maas_onnx_dtype_name(in[0]->dtype));
	same_shape(out[0], in[0]);
	return true;
}

static bool
lower_activation(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	const char *op = strcmp(n->op_type, "Relu") == 0 ? "relu" :
		strcmp(n->op_type, "Tanh") == 0 ? "tanh" : "sigmoid";
	TxLayer    *l;

	if (!tx_require_std(tx, in[0], "the input") ||
		(l = tx_layer(tx, op, 1, &in[0]->layer)) == NULL)
		return false;
	tx_set_output(tx, out[0], l);
	return true;
}

static bool
lower_softmax(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxVal	   *x = in[0];
	int64_t		axis;
	int			ax;
	int			first;
	bool		ok = true;
	char		s[128];
	TxLayer    *l;

	if (!tx_require_std(tx, x, "the input"))
		return false;
	first = vec_axis(x);
	if (!tx_attr_int(tx, n, "axis", tx->opset >= 13 ? -1 : 1, &axis) ||
		!tx_axis(tx, axis, x->ndim, "axis", &ax))
		return false;
	if (tx->opset >= 13)
	{
		/* over one axis: the vector's, all others of it being 1 */
		if (ax < first)
			ok = false;
		for (int d = first; d < x->ndim; d++)
			if (d != ax && !tx_dim_is(x->dims[d], 1))
				ok = false;
	}
	else
		ok = ax == first;		/* over the flattened axes from axis on */
	if (!ok)
		return tx_unsupported(tx, "%s over axis %" PRId64 " of \"%s\" %s: maas normalizes over each vector (%s)",
							  n->op_type, axis, x->name, tx_shape_str(x, s, sizeof(s)),
							  x->seq ? "the axes after the sequence" : "the axes after the batch");
	if ((l = tx_layer(tx, strcmp(n->op_type, "Softmax") == 0 ? "softmax" : "logsoftmax",
					  1, &x->layer)) == NULL)
		return false;
	tx_set_output(tx, out[0], l);
	return true;
}


/* ----------------------------------------------------------------
 *		Gemm, MatMul
 * ----------------------------------------------------------------
 */

static bool
eval_gemm(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		ta,
				tb;
	TxVal	   *a = in[0],
			   *b = in[1];

	if (!tx_attr_int(tx, n, "transA", 0, &ta) || !tx_attr_int(tx, n, "transB", 0, &tb))
		return false;
	if (a == NULL || b == NULL || a->ndim != 2 || b->ndim != 2)
		return tx_invalid(tx, "Gemm takes two matrices");
	if (a->kind != TX_RUN)
		return tx_unsupported(tx, "Gemm of \"%s\", not a value computed at run time, is not supported",
							  a->name);
	if (b->kind != TX_CONST || (in[2] != NULL && in[2]->kind != TX_CONST))
		return tx_unsupported(tx, "Gemm with a computed weight or bias is not supported");
	out[0]->kind = TX_RUN;
	out[0]->dtype = a->dtype;
	out[0]->ndim = 2;
	out[0]->dims[0] = ta ? a->dims[1] : a->dims[0];
	out[0]->dims[1] = tb ? b->dims[0] : b->dims[1];
	out[0]->std = true;
	out[0]->layer = -1;
	if (ta)
		return tx_unsupported(tx, "transA = 1 transposes the batch axis of \"%s\"", a->name);
	if (!tx_dim_eq(a->dims[1], tb ? b->dims[1] : b->dims[0]))
		return tx_invalid(tx, "the matrices' inner dimensions differ");
	return true;
}

/* the bias of a dense layer from a constant broadcast to [n_out] */
static bool
bias_from(Tx *tx, TxLayer *l, const TxVal *c, double beta, const TxVal *x)
{
	TxVal		row;
	float	   *v;
	int			t;

	/* the bias broadcasts over the output [B, n_out] */
	memset(&row, 0, sizeof(row));
	row.kind = TX_RUN;
	row.ndim = 2;
	row.dims[0] = tx_dim_B;
	row.dims[1] = tx_dim(l->width);
	row.name = x->name;
	if ((v = over_vector(tx, &row, c)) == NULL)
		return false;
	for (int64_t j = 0; j < l->width; j++)
		v[j] = (float) (beta * v[j]);
	if ((t = vector_tensor(tx, c->name, "", v, l->width)) < 0)
		return false;
	if (beta == 1.0 && c->ndim == 1 && c->dims[0].k == l->width && c->src != NULL)
	{
		/* the initializer as it is, under its own name */
		int			same = tx_tensor_const(tx, tx_val_id(tx, c), NULL);

		if (same < 0)
			return false;
		t = same;
	}
	return tx_key_tensor(tx, l, "bias", t);
}

static bool
lower_gemm(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		ta,
				tb;
	double		alpha,
				beta;
	TxVal	   *a = in[0],
			   *b = in[1];
	TxLayer    *l;
	int			w;

	if (!tx_attr_int(tx, n, "transA", 0, &ta) || !tx_attr_int(tx, n, "transB", 0, &tb) ||
		!tx_attr_float(tx, n, "alpha", 1.0, &alpha) || !tx_attr_float(tx, n, "beta", 1.0, &beta))
		return false;
	if (ta)
		return tx_unsupported(tx, "transA = 1 transposes the batch axis of \"%s\"", a->name);
	if (!tx_require_std(tx, a, "the input") || a->seq)
		return a->seq ? tx_unsupported(tx, "Gemm of a sequence") : false;
	if (!tx_is_float_dtype(b->dtype))
		return tx_unsupported(tx, "a weight of type %s", maas_onnx_dtype_name(b->dtype));
	if ((l = tx_layer(tx, "dense", 1, &a->layer)) == NULL)
		return false;
	l->name = out[0]->name;
	l->width = tb ? b->dims[0].k : b->dims[1].k;
	l->seq = false;
	l->c = l->h = l->w = 0;
	if ((w = tx_tensor_const(tx, tx_val_id(tx, b), NULL)) < 0 || !tx_key_tensor(tx, l, "weight", w))
		return false;
	if (!tb && !tx_key_str(tx, l, "layout", "in_out"))
		return false;
	if (alpha != 1.0)
	{
		float	   *s = tx_alloc(tx, (size_t) l->width, sizeof(float));

		if (s == NULL)
			return false;
		for (int64_t j = 0; j < l->width; j++)
			s[j] = (float) alpha;
		if (!dense_scale(tx, l, s))
			return false;
	}
	if (in[2] != NULL && beta != 0.0 && !bias_from(tx, l, in[2], beta, a))
		return false;
	tx_set_output(tx, out[0], l);
	return true;
}

static bool
eval_matmul(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxVal	   *a = in[0],
			   *b = in[1];
	int			r;

	(void) n;
	if (a == NULL || b == NULL || a->ndim < 1 || b->ndim < 1)
		return tx_invalid(tx, "MatMul takes two tensors");
	if (a->kind != TX_RUN && a->kind != TX_EMB && b->kind != TX_RUN)
		return tx_unsupported(tx, "MatMul of two constants is not supported");
	if (a->ndim < 2 || b->ndim < 2)
		return tx_unsupported(tx, "MatMul of a vector is not supported");
	if (!tx_dim_eq(a->dims[a->ndim - 1], b->dims[b->ndim - 2]))
		return tx_invalid(tx, "the inner dimensions of \"%s\" and \"%s\" differ", a->name, b->name);
	/* numpy: the leading axes broadcast */
	{
		TxVal		la = *a,
					lb = *b,
					shape;

		la.ndim -= 2;
		lb.ndim -= 2;
		if (!tx_broadcast(tx, &la, &lb, &shape))
			return false;
		r = shape.ndim;
		memcpy(out[0]->dims, shape.dims, sizeof(TxDim) * (size_t) r);
	}
	out[0]->dims[r] = a->dims[a->ndim - 2];
	out[0]->dims[r + 1] = b->dims[b->ndim - 1];
	out[0]->ndim = r + 2;
	out[0]->kind = TX_RUN;
	out[0]->dtype = a->kind == TX_RUN ? a->dtype : b->dtype;
	out[0]->seq = (a->kind == TX_RUN && a->seq) || (b->kind == TX_RUN && b->seq);
	out[0]->std = a->kind == TX_RUN && a->std && b->kind == TX_CONST && b->ndim == 2;
	out[0]->layer = -1;
	return true;
}

static bool
lower_matmul(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxVal	   *a = in[0],
			   *b = in[1];
	TxLayer    *l;
	int			w;
	char		s[128];

	(void) n;
	if (b->kind != TX_CONST)
		return tx_unsupported(tx, "MatMul of two computed values is supported only within attention");
	if (!tx_require_std(tx, a, "the input"))
		return false;
	if (b->ndim != 2)
		return tx_unsupported(tx, "MatMul with a weight of %d dimensions", b->ndim);
	if (a->ndim != vec_axis(a) + 1)
		return tx_unsupported(tx, "MatMul of \"%s\" %s: maas multiplies each row's (or position's) vector",
							  a->name, tx_shape_str(a, s, sizeof(s)));
	if (!tx_is_float_dtype(b->dtype))
		return tx_unsupported(tx, "a weight of type %s", maas_onnx_dtype_name(b->dtype));
	if ((l = tx_layer(tx, "dense", 1, &a->layer)) == NULL)
		return false;
	l->name = out[0]->name;
	l->width = b->dims[1].k;
	l->c = l->h = l->w = 0;
	if ((w = tx_tensor_const(tx, tx_val_id(tx, b), NULL)) < 0 ||
		!tx_key_tensor(tx, l, "weight", w) || !tx_key_str(tx, l, "layout", "in_out"))
		return false;
	tx_set_output(tx, out[0], l);
	return true;
}

static const char *const no_attrs[] = {NULL};
static const char *const gemm_attrs[] = {"alpha", "beta", "transA", "transB", NULL};
static const char *const axis_attrs[] = {"axis", NULL};

const TxOp	tx_dense_ops[] = {
	{"Add", no_attrs, eval_arith, lower_arith, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"Sub", no_attrs, eval_arith, lower_arith, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"Mul", no_attrs, eval_arith, lower_arith, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"Div", no_attrs, eval_arith, lower_arith, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"Relu", no_attrs, eval_unary, lower_activation, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Tanh", no_attrs, eval_unary, lower_activation, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Sigmoid", no_attrs, eval_unary, lower_activation, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Softmax", axis_attrs, eval_unary, lower_softmax, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"LogSoftmax", axis_attrs, eval_unary, lower_softmax, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Gemm", gemm_attrs, eval_gemm, lower_gemm, false,
	TX_ARITY(2, 3, TX_OPT(2), 1, 1)},
	{"MatMul", no_attrs, eval_matmul, lower_matmul, false,
	TX_ARITY(2, 2, 0, 1, 1)},
};

const int	tx_n_dense_ops = (int) (sizeof(tx_dense_ops) / sizeof(tx_dense_ops[0]));
