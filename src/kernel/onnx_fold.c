/*
 * onnx_fold.c
 *		Constants in the ONNX translator: values known at import, folded
 *		through the ops that compute them, and the integers a graph derives
 *		from its shapes, known up to the batch size B and the sequence length
 *		T (onnx_translate_int.h).  torch.onnx.export writes its reshapes as
 *		Shape -> Gather -> Unsqueeze -> Concat -> Reshape and its position
 *		ids and causal masks as Range -> Reshape -> LessOrEqual; all of it
 *		folds here into a shape, a Range(0, T) or a mask predicate, and never
 *		reaches the runtime.
 *
 * The ops here are those that only ever fold (Constant, Shape, Cast,
 * Range, comparisons, ...): a run-time input makes them unsupported, apart
 * from a Cast that changes nothing.  Folded tensors are capped at
 * FOLD_MAX elements.
 */
#include "onnx_translate_int.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#define FOLD_MAX	((int64_t) 1 << 26)

bool
tx_is_float_dtype(int32_t dtype)
{
	return dtype == MAAS_ONNX_FLOAT || dtype == MAAS_ONNX_DOUBLE ||
		dtype == MAAS_ONNX_FLOAT16 || dtype == MAAS_ONNX_BFLOAT16;
}

bool
tx_is_value(const TxVal *v)
{
	return v != NULL && (v->kind == TX_CONST || v->kind == TX_SYM);
}

static bool
shape_numel(Tx *tx, int ndim, const int64_t *dims, int64_t *numel)
{
	int64_t		n = 1;

	for (int d = 0; d < ndim; d++)
	{
		if (dims[d] < 0 || __builtin_mul_overflow(n, dims[d], &n) || n > FOLD_MAX)
			return tx_fail(tx, MAAS_ERR_LIMIT,
						   "a constant of more than %" PRId64 " elements is too large to fold",
						   FOLD_MAX);
	}
	*numel = n;
	return true;
}

bool
tx_make_const(Tx *tx, TxVal *v, int32_t dtype, int ndim, const int64_t *dims)
{
	int64_t		numel = 0;

	if (ndim > TX_RANK)
		return tx_unsupported(tx, "a constant of %d dimensions", ndim);
	if (!shape_numel(tx, ndim, dims, &numel))
		return false;
	v->kind = TX_CONST;
	v->dtype = dtype;
	v->ndim = ndim;
	for (int d = 0; d < ndim; d++)
		v->dims[d] = tx_dim(dims[d]);
	v->numel = numel;
	v->src = NULL;
	v->f = NULL;
	v->i = NULL;
	if (tx_is_float_dtype(dtype))
		v->f = tx_alloc(tx, (size_t) numel, sizeof(float));
	else
		v->i = tx_alloc(tx, (size_t) numel, sizeof(int64_t));
	return v->f != NULL || v->i != NULL;
}

const float *
tx_const_f(Tx *tx, const TxVal *cv)
{
	TxVal	   *v = (TxVal *) cv;	/* the decoded values are cached */
	float	   *f;

	if (v->f != NULL)
		return v->f;
	if (v->kind != TX_CONST || !tx_is_float_dtype(v->dtype))
	{
		tx_invalid(tx, "\"%s\" is not a floating-point constant", v->name);
		return NULL;
	}
	if (v->src->dtype == MAAS_ONNX_FLOAT && ((uintptr_t) v->src->data % sizeof(float)) == 0)
		return v->f = v->src->data;
	if ((f = tx_alloc(tx, (size_t) v->numel, sizeof(float))) == NULL ||
		!maas_onnx_tensor_f32(v->src, f, tx->err))
		return NULL;
	return v->f = f;
}

const int64_t *
tx_const_i(Tx *tx, const TxVal *cv)
{
	TxVal	   *v = (TxVal *) cv;
	int64_t    *i;

	if (v->i != NULL)
		return v->i;
	if (v->kind == TX_SYM)
	{
		if ((i = tx_alloc(tx, (size_t) v->numel, sizeof(int64_t))) == NULL)
			return NULL;
		for (int64_t k = 0; k < v->numel; k++)
		{
			if (!tx_dim_known(v->s[k]))
			{
				tx_unsupported(tx, "\"%s\" depends on the batch size or the sequence length", v->name);
				return NULL;
			}
			i[k] = v->s[k].k;
		}
		return v->i = i;
	}
	if (v->kind != TX_CONST || tx_is_float_dtype(v->dtype) || v->src == NULL)
	{
		tx_invalid(tx, "\"%s\" is not an integer constant", v->name);
		return NULL;
	}
	if ((i = tx_alloc(tx, (size_t) v->numel, sizeof(int64_t))) == NULL ||
		!maas_onnx_tensor_i64(v->src, i, tx->err))
		return NULL;
	return v->i = i;
}

bool
tx_int_list(Tx *tx, const TxVal *v, const char *what, int *n, TxDim *out, int cap)
{
	if (v == NULL || (v->kind != TX_CONST && v->kind != TX_SYM) || v->ndim > 1 ||
		(v->kind == TX_CONST && tx_is_float_dtype(v->dtype)))
		return tx_unsupported(tx, "%s must be a list of integers known at import", what);
	if (v->numel > cap)
		return tx_unsupported(tx, "%s has %" PRId64 " values, more than %d", what, v->numel, cap);
	*n = (int) v->numel;
	if (v->kind == TX_SYM)
		memcpy(out, v->s, sizeof(TxDim) * (size_t) v->numel);
	else
	{
		const int64_t *i = tx_const_i(tx, v);

		if (i == NULL)
			return false;
		for (int k = 0; k < *n; k++)
			out[k] = tx_dim(i[k]);
	}
	return true;
}

bool
tx_int_scalar(Tx *tx, const TxVal *v, const char *what, int64_t *out)
{
	TxDim		d[1];
	int			n;

	if (!tx_int_list(tx, v, what, &n, d, 1))
		return false;
	if (n != 1 || !tx_dim_known(d[0]))
		return tx_unsupported(tx, "%s must be one integer known at import", what);
	*out = d[0].k;
	return true;
}

bool
tx_float_scalar(const Tx *tx, const TxVal *v, double *out)
{
	if (v == NULL || v->kind != TX_CONST || v->numel != 1)
		return false;
	if (tx_is_float_dtype(v->dtype))
	{
		const float *f = tx_const_f((Tx *) tx, v);

		if (f == NULL)
			return false;
		*out = f[0];
	}
	else
	{
		const int64_t *i = tx_const_i((Tx *) tx, v);

		if (i == NULL)
			return false;
		*out = (double) i[0];
	}
	return true;
}

bool
tx_axis(Tx *tx, int64_t axis, int rank, const char *what, int *out)
{
	if (axis < -rank || axis >= rank)
		return tx_invalid(tx, "%s %" PRId64 " is out of range for %d dimensions", what, axis, rank);
	*out = (int) (axis < 0 ? axis + rank : axis);
	return true;
}

bool
tx_broadcast(Tx *tx, const TxVal *a, const TxVal *b, TxVal *out)
{
	int			n = a->ndim > b->ndim ? a->ndim : b->ndim;
	char		s1[128],
				s2[128];

	for (int d = 0; d < n; d++)
	{
		int			da = d - (n - a->ndim);
		int			db = d - (n - b->ndim);
		TxDim		x = da >= 0 ? a->dims[da] : tx_dim(1);
		TxDim		y = db >= 0 ? b->dims[db] : tx_dim(1);

		if (tx_dim_is(x, 1))
			out->dims[d] = y;
		else if (tx_dim_is(y, 1) || tx_dim_eq(x, y))
			out->dims[d] = x;
		else if (tx_dim_symbolic(x) || tx_dim_symbolic(y))
			return tx_unsupported(tx, "shapes %s and %s broadcast only for some batch or sequence sizes",
								  tx_shape_str(a, s1, sizeof(s1)), tx_shape_str(b, s2, sizeof(s2)));
		else
			return tx_invalid(tx, "shapes %s and %s do not broadcast",
							  tx_shape_str(a, s1, sizeof(s1)), tx_shape_str(b, s2, sizeof(s2)));
	}
	out->ndim = n;
	return true;
}

/* row-major strides of v over an output of rank n (0 along broadcast axes) */
static void
bcast_strides(const TxVal *v, int n, const int64_t *out_dims, int64_t *strides)
{
	int64_t		s = 1;

	for (int d = n - 1; d >= 0; d--)
	{
		int			dv = d - (n - v->ndim);

		if (dv < 0 || v->dims[dv].k == 1)
			strides[d] = 0;
		else
			strides[d] = s;
		if (dv >= 0)
			s *= v->dims[dv].k;
		(void) out_dims;
	}
}

/* the flat source offsets of output element k */
static void
bcast_offsets(int n, const int64_t *dims, int64_t k, const int64_t *sa,
			  const int64_t *sb, int64_t *oa, int64_t *ob)
{
	*oa = *ob = 0;
	for (int d = n - 1; d >= 0; d--)
	{
		int64_t		idx = k % dims[d];

		k /= dims[d];
		*oa += idx * sa[d];
		*ob += idx * sb[d];
	}
}

static double
apply_f(const char *op, double x, double y)
{
	switch (op[0])
	{
		case 'A':
			return x + y;
		case 'S':
			return x - y;
		case 'M':
			return x * y;
		case 'D':
			return x / y;
		case 'P':
			return pow(x, y);
	}
	return NAN;
}

/* symbolic integers: k B^b T^t */
static TxDim
sym_op(const char *op, TxDim x, TxDim y)
{
	TxDim		r = tx_dim_unknown;

	if (x.unknown || y.unknown)
		return r;
	switch (op[0])
	{
		case 'M':
			if (__builtin_mul_overflow(x.k, y.k, &r.k))
				return tx_dim_unknown;
			r.b = (int8_t) (x.b + y.b);
			r.t = (int8_t) (x.t + y.t);
			r.unknown = false;
			if (r.k == 0)
				r = tx_dim(0);
			return r;
		case 'A':
		case 'S':
			if (tx_dim_is(y, 0))
				return x;
			if (tx_dim_is(x, 0) && op[0] == 'A')
				return y;
			if (x.b == y.b && x.t == y.t)
			{
				if (op[0] == 'A' ? __builtin_add_overflow(x.k, y.k, &r.k) :
					__builtin_sub_overflow(x.k, y.k, &r.k))
					return tx_dim_unknown;
				r.b = x.b;
				r.t = x.t;
				r.unknown = false;
				if (r.k == 0)
					r = tx_dim(0);
			}
			return r;
		case 'D':
			if (y.k == 0)
				return r;
			if (tx_dim_known(y) && x.k % y.k == 0)
			{
				r = x;
				r.k = x.k / y.k;
				if (tx_dim_known(x) && ((x.k < 0) != (y.k < 0)) && x.k % y.k != 0)
					r.k--;		/* floor, as ONNX integer division */
				return r;
			}
			if (tx_dim_known(y) && tx_dim_known(x))
			{
				int64_t		q = x.k / y.k;

				if ((x.k % y.k != 0) && ((x.k < 0) != (y.k < 0)))
					q--;
				return tx_dim(q);
			}
			if (x.b == y.b && x.t == y.t && x.k % y.k == 0)
				return tx_dim(x.k / y.k);
			return r;
	}
	return r;
}

/* a constant or symbolic value as symbolic integers */
static bool
as_sym(Tx *tx, const TxVal *v, TxDim *out)
{
	if (v->kind == TX_SYM)
	{
		memcpy(out, v->s, sizeof(TxDim) * (size_t) v->numel);
		return true;
	}
	{
		const int64_t *i = tx_const_i(tx, v);

		if (i == NULL)
			return false;
		for (int64_t k = 0; k < v->numel; k++)
			out[k] = tx_dim(i[k]);
	}
	return true;
}

/* a symbolic result: a constant when every element is known */
static bool
set_sym(Tx *tx, TxVal *out, int32_t dtype, int ndim, int64_t numel, TxDim *s)
{
	bool		known = true;

	for (int64_t k = 0; k < numel; k++)
		if (!tx_dim_known(s[k]))
			known = false;
	if (known)
	{
		int64_t		dims[1] = {numel};
		int64_t    *i;

		if (!tx_make_const(tx, out, dtype, ndim, dims))
			return false;
		if (out->i == NULL)
		{
			for (int64_t k = 0; k < numel; k++)
				((float *) out->f)[k] = (float) s[k].k;
			return true;
		}
		i = (int64_t *) out->i;
		for (int64_t k = 0; k < numel; k++)
			i[k] = s[k].k;
		return true;
	}
	out->kind = TX_SYM;
	out->dtype = dtype;
	out->ndim = ndim;
	out->dims[0] = tx_dim(numel);
	out->numel = numel;
	out->s = s;
	return true;
}

bool
tx_fold_binary(Tx *tx, const char *op, const TxVal *a, const TxVal *b, TxVal *out)
{
	int64_t		dims[TX_RANK];
	int64_t		sa[TX_RANK],
				sb[TX_RANK];
	bool		fl = tx_is_float_dtype(a->dtype);
	TxVal		shape;

	if (!tx_broadcast(tx, a, b, &shape))
		return false;
	if (a->kind == TX_SYM || b->kind == TX_SYM)
	{
		TxDim	   *x,
				   *y,
				   *r;
		int64_t		n = shape.ndim == 0 ? 1 : shape.dims[0].k;

		if (shape.ndim > 1 || fl || op[0] == 'P')
			return tx_unsupported(tx, "%s of shape values is not supported", op);
		x = tx_alloc(tx, (size_t) a->numel, sizeof(TxDim));
		y = tx_alloc(tx, (size_t) b->numel, sizeof(TxDim));
		r = tx_alloc(tx, (size_t) n, sizeof(TxDim));
		if (x == NULL || y == NULL || r == NULL || !as_sym(tx, a, x) || !as_sym(tx, b, y))
			return false;
		for (int64_t k = 0; k < n; k++)
			r[k] = sym_op(op, x[a->numel == 1 ? 0 : k], y[b->numel == 1 ? 0 : k]);
		return set_sym(tx, out, a->dtype, shape.ndim, n, r);
	}
	for (int d = 0; d < shape.ndim; d++)
		dims[d] = shape.dims[d].k;
	if (!tx_make_const(tx, out, a->dtype, shape.ndim, dims))
		return false;
	bcast_strides(a, shape.ndim, dims, sa);
	bcast_strides(b, shape.ndim, dims, sb);
	if (fl)
	{
		const float *x = tx_const_f(tx, a);
		const float *y = tx_const_f(tx, b);
		float	   *r = (float *) out->f;

		if (x == NULL || y == NULL)
			return false;
		for (int64_t k = 0; k < out->numel; k++)
		{
			int64_t		oa,
						ob;

			bcast_offsets(shape.ndim, dims, k, sa, sb, &oa, &ob);
			r[k] = (float) apply_f(op, x[oa], y[ob]);
		}
	}
	else
	{
		const int64_t *x = tx_const_i(tx, a);
		const int64_t *y = tx_const_i(tx, b);
		int64_t    *r = (int64_t *) out->i;

		if (x == NULL || y == NULL)
			return false;
		for (int64_t k = 0; k < out->numel; k++)
		{
			int64_t		oa,
						ob;
			TxDim		v;

			bcast_offsets(shape.ndim, dims, k, sa, sb, &oa, &ob);
			if (op[0] == 'P')
			{
				r[k] = (int64_t) pow((double) x[oa], (double) y[ob]);
				continue;
			}
			if (op[0] == 'D' && y[ob] == 0)
				return tx_invalid(tx, "integer division by zero");
			v = sym_op(op, tx_dim(x[oa]), tx_dim(y[ob]));
			if (v.unknown)
				return tx_unsupported(tx, "integer overflow while folding %s", op);
			r[k] = v.k;
		}
	}
	return true;
}

bool
tx_fold_unary(Tx *tx, const char *op, const TxVal *a, TxVal *out)
{
	int64_t		dims[TX_RANK];

	for (int d = 0; d < a->ndim; d++)
		dims[d] = a->dims[d].k;
	if (a->kind != TX_CONST)
		return tx_unsupported(tx, "%s of a shape value is not supported", op);
	if (!tx_make_const(tx, out, a->dtype, a->ndim, dims))
		return false;
	if (tx_is_float_dtype(a->dtype))
	{
		const float *x = tx_const_f(tx, a);
		float	   *r = (float *) out->f;

		if (x == NULL)
			return false;
		for (int64_t k = 0; k < a->numel; k++)
		{
			double		v = x[k];

			if (strcmp(op, "Neg") == 0)
				v = -v;
			else if (strcmp(op, "Sqrt") == 0)
				v = sqrt(v);
			else if (strcmp(op, "Reciprocal") == 0)
				v = 1.0 / v;
			else if (strcmp(op, "Relu") == 0)
				v = v > 0 ? v : 0;
			else if (strcmp(op, "Tanh") == 0)
				v = tanh(v);
			else if (strcmp(op, "Sigmoid") == 0)
				v = 1.0 / (1.0 + exp(-v));
			else if (strcmp(op, "Erf") == 0)
				v = erf(v);
			else if (strcmp(op, "Identity") != 0)
				return tx_unsupported(tx, "folding %s is not supported", op);
			r[k] = (float) v;
		}
		return true;
	}
	{
		const int64_t *x = tx_const_i(tx, a);
		int64_t    *r = (int64_t *) out->i;

		if (x == NULL)
			return false;
		for (int64_t k = 0; k < a->numel; k++)
		{
			if (strcmp(op, "Neg") == 0)
				r[k] = -x[k];
			else if (strcmp(op, "Not") == 0)
				r[k] = !x[k];
			else if (strcmp(op, "Relu") == 0)
				r[k] = x[k] > 0 ? x[k] : 0;
			else if (strcmp(op, "Identity") == 0)
				r[k] = x[k];
			else
				return tx_unsupported(tx, "folding %s of integers is not supported", op);
		}
	}
	return true;
}


/* ----------------------------------------------------------------
 *		the ops that only fold
 * ----------------------------------------------------------------
 */

static bool
eval_constant(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	const MaasOnnxAttr *a;
	int64_t		one[1] = {1};

	(void) in;
	if ((a = maas_onnx_attr(n, "value")) != NULL)
	{
		if (a->type != MAAS_ONNX_ATTR_TENSOR)
			return tx_invalid(tx, "\"value\" is not a tensor");
		out[0]->kind = TX_CONST;
		out[0]->dtype = a->t->dtype;
		out[0]->ndim = a->t->ndim;
		for (int d = 0; d < a->t->ndim; d++)
			out[0]->dims[d] = tx_dim(a->t->dims[d]);
		out[0]->numel = a->t->numel;
		out[0]->src = a->t;
		return true;
	}
	if ((a = maas_onnx_attr(n, "value_float")) != NULL && a->type == MAAS_ONNX_ATTR_FLOAT)
	{
		if (!tx_make_const(tx, out[0], MAAS_ONNX_FLOAT, 0, one))
			return false;
		((float *) out[0]->f)[0] = a->f;
		return true;
	}
	if ((a = maas_onnx_attr(n, "value_int")) != NULL && a->type == MAAS_ONNX_ATTR_INT)
	{
		if (!tx_make_const(tx, out[0], MAAS_ONNX_INT64, 0, one))
			return false;
		((int64_t *) out[0]->i)[0] = a->i;
		return true;
	}
	if ((a = maas_onnx_attr(n, "value_floats")) != NULL && a->type == MAAS_ONNX_ATTR_FLOATS)
	{
		int64_t		dims[1] = {a->n};

		if (!tx_make_const(tx, out[0], MAAS_ONNX_FLOAT, 1, dims))
			return false;
		memcpy((float *) out[0]->f, a->floats, sizeof(float) * (size_t) a->n);
		return true;
	}
	if ((a = maas_onnx_attr(n, "value_ints")) != NULL && a->type == MAAS_ONNX_ATTR_INTS)
	{
		int64_t		dims[1] = {a->n};

		if (!tx_make_const(tx, out[0], MAAS_ONNX_INT64, 1, dims))
			return false;
		memcpy((int64_t *) out[0]->i, a->ints, sizeof(int64_t) * (size_t) a->n);
		return true;
	}
	return tx_invalid(tx, "a Constant without a value");
}

static bool
eval_shape(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		start,
				end;
	int			r = in[0]->ndim;
	TxDim	   *s;

	if (in[0]->kind == TX_NONE)
		return tx_invalid(tx, "its input has no shape");
	if (!tx_attr_int(tx, n, "start", 0, &start) || !tx_attr_int(tx, n, "end", r, &end))
		return false;
	if (start < 0)
		start += r;
	if (end < 0)
		end += r;
	start = start < 0 ? 0 : start > r ? r : start;
	end = end < start ? start : end > r ? r : end;
	if ((s = tx_alloc(tx, (size_t) (end - start), sizeof(TxDim))) == NULL)
		return false;
	for (int64_t d = start; d < end; d++)
	{
		if (in[0]->dims[d].unknown)
			return tx_unsupported(tx, "dimension %" PRId64 " of \"%s\" is not known at import",
								  d, in[0]->name);
		s[d - start] = in[0]->dims[d];
	}
	return set_sym(tx, out[0], MAAS_ONNX_INT64, 1, end - start, s);
}

static bool
eval_size(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxDim	   *s = tx_alloc(tx, 1, sizeof(TxDim));

	(void) n;
	if (s == NULL)
		return false;
	s[0] = tx_dim(1);
	for (int d = 0; d < in[0]->ndim; d++)
		s[0] = sym_op("Mul", s[0], in[0]->dims[d]);
	if (s[0].unknown)
		return tx_unsupported(tx, "the size of \"%s\" is not known at import", in[0]->name);
	if (!set_sym(tx, out[0], MAAS_ONNX_INT64, 0, 1, s))
		return false;
	out[0]->ndim = 0;
	return true;
}

static bool
eval_cast(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		to;
	TxVal	   *x = in[0];

	if (!tx_attr_int(tx, n, "to", 0, &to))
		return false;
	if (maas_onnx_dtype_size((int32_t) to) == 0)
		return tx_unsupported(tx, "a cast to %s is not supported", maas_onnx_dtype_name((int32_t) to));
	if (x->kind == TX_CONST)
	{
		int64_t		dims[TX_RANK];

		for (int d = 0; d < x->ndim; d++)
			dims[d] = x->dims[d].k;
		if (!tx_make_const(tx, out[0], (int32_t) to, x->ndim, dims))
			return false;
		if (tx_is_float_dtype(x->dtype))
		{
			const float *f = tx_const_f(tx, x);

			if (f == NULL)
				return false;
			for (int64_t k = 0; k < x->numel; k++)
			{
				if (out[0]->f != NULL)
					((float *) out[0]->f)[k] = f[k];
				else if (to == MAAS_ONNX_BOOL)
					((int64_t *) out[0]->i)[k] = f[k] != 0.0f;
				else
				{
					if (!(fabsf(f[k]) < 9.2e18f))
						return tx_unsupported(tx, "a cast of %g to an integer", (double) f[k]);
					((int64_t *) out[0]->i)[k] = (int64_t) f[k];
				}
			}
		}
		else
		{
			const int64_t *i = tx_const_i(tx, x);

			if (i == NULL)
				return false;
			for (int64_t k = 0; k < x->numel; k++)
			{
				if (out[0]->f != NULL)
					((float *) out[0]->f)[k] = (float) i[k];
				else
					((int64_t *) out[0]->i)[k] = to == MAAS_ONNX_BOOL ? i[k] != 0 : i[k];
			}
		}
		return true;
	}
	/* everything else keeps its kind and takes the new type */
	tx_copy_val(out[0], x);
	out[0]->dtype = (int32_t) to;
	if (x->kind == TX_SYM && tx_is_float_dtype((int32_t) to))
		return tx_unsupported(tx, "a cast of a shape value to %s is not supported",
							  maas_onnx_dtype_name((int32_t) to));
	if (x->kind == TX_RUN && !(tx_is_float_dtype(x->dtype) && to == MAAS_ONNX_FLOAT))
		return tx_unsupported(tx, "a cast of a computed %s value to %s is not supported",
							  maas_onnx_dtype_name(x->dtype), maas_onnx_dtype_name((int32_t) to));
	out[0]->layer = -1;
	return true;
}

static bool
lower_cast(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	(void) n;
	if (out[0]->kind != TX_RUN)
		return true;			/* the mask input, token ids: read by patterns */
	if (!tx_require_std(tx, in[0], "its input"))
		return false;
	tx_alias(tx, out[0], in[0]);
	return true;
}

static bool
eval_range(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxDim		start[1],
				limit[1],
				delta[1];
	int			k;

	(void) n;
	if (tx_is_float_dtype(in[0]->dtype))
	{
		double		s,
					l,
					d;
		int64_t		count;

		if (!tx_float_scalar(tx, in[0], &s) || !tx_float_scalar(tx, in[1], &l) ||
			!tx_float_scalar(tx, in[2], &d) || d == 0)
			return tx_unsupported(tx, "a Range of floats must have constant bounds");
		count = (int64_t) ceil((l - s) / d);
		if (count < 0)
			count = 0;
		if (!tx_make_const(tx, out[0], in[0]->dtype, 1, &count))
			return false;
		for (int64_t i = 0; i < count; i++)
			((float *) out[0]->f)[i] = (float) (s + (double) i * d);
		return true;
	}
	if (!tx_int_list(tx, in[0], "start", &k, start, 1) ||
		!tx_int_list(tx, in[1], "limit", &k, limit, 1) ||
		!tx_int_list(tx, in[2], "delta", &k, delta, 1))
		return false;
	if (tx_dim_known(start[0]) && tx_dim_known(limit[0]) && tx_dim_known(delta[0]))
	{
		int64_t		count;

		if (delta[0].k == 0)
			return tx_invalid(tx, "delta is 0");
		count = (limit[0].k - start[0].k + delta[0].k + (delta[0].k > 0 ? -1 : 1)) / delta[0].k;
		if (count < 0)
			count = 0;
		if (!tx_make_const(tx, out[0], in[0]->dtype, 1, &count))
			return false;
		for (int64_t i = 0; i < count; i++)
			((int64_t *) out[0]->i)[i] = start[0].k + i * delta[0].k;
		return true;
	}
	if (!tx_dim_known(start[0]) || !tx_dim_is(delta[0], 1))
		return tx_unsupported(tx, "a Range with a symbolic start or step is not supported");
	/* start .. limit: limit - start elements, element i = start + i */
	out[0]->kind = TX_IOTA;
	out[0]->dtype = in[0]->dtype;
	out[0]->ndim = 1;
	out[0]->dims[0] = sym_op("Sub", limit[0], start[0]);
	if (out[0]->dims[0].unknown)
		return tx_unsupported(tx, "the length of the Range is not known at import");
	out[0]->coef[0] = 1;
	out[0]->c0 = start[0].k;
	return true;
}

static bool
eval_constant_of_shape(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxDim		shape[TX_RANK];
	int64_t		dims[TX_RANK];
	int			r;
	const MaasOnnxAttr *a = maas_onnx_attr(n, "value");
	int32_t		dtype = MAAS_ONNX_FLOAT;
	double		fill = 0.0;
	int64_t		ifill = 0;

	if (!tx_int_list(tx, in[0], "the shape", &r, shape, TX_RANK))
		return false;
	if (a != NULL && a->type == MAAS_ONNX_ATTR_TENSOR)
	{
		TxVal		v;

		memset(&v, 0, sizeof(v));
		v.kind = TX_CONST;
		v.dtype = a->t->dtype;
		v.numel = a->t->numel;
		v.src = a->t;
		v.name = "value";
		dtype = a->t->dtype;
		if (a->t->numel != 1)
			return tx_invalid(tx, "\"value\" must have one element");
		if (tx_is_float_dtype(dtype))
		{
			const float *f = tx_const_f(tx, &v);

			if (f == NULL)
				return false;
			fill = f[0];
		}
		else
		{
			const int64_t *i = tx_const_i(tx, &v);

			if (i == NULL)
				return false;
			ifill = i[0];
		}
	}
	for (int d = 0; d < r; d++)
	{
		if (!tx_dim_known(shape[d]))
			return tx_unsupported(tx, "a ConstantOfShape of a symbolic shape is not supported");
		dims[d] = shape[d].k;
	}
	if (!tx_make_const(tx, out[0], dtype, r, dims))
		return false;
	for (int64_t k = 0; k < out[0]->numel; k++)
	{
		if (out[0]->f != NULL)
			((float *) out[0]->f)[k] = (float) fill;
		else
			((int64_t *) out[0]->i)[k] = ifill;
	}
	return true;
}

/* an iota or a constant integer broadcast: the affine form of its values */
static bool
affine_form(Tx *tx, const TxVal *v, int n, int64_t *coef, int64_t *c0)
{
	memset(coef, 0, sizeof(int64_t) * (size_t) n);
	if (v->kind == TX_IOTA)
	{
		for (int d = 0; d < v->ndim; d++)
			coef[d + (n - v->ndim)] = v->coef[d];
		*c0 = v->c0;
		return true;
	}
	if (v->kind == TX_CONST && v->numel == 1 && !tx_is_float_dtype(v->dtype))
	{
		const int64_t *i = tx_const_i(tx, v);

		if (i == NULL)
			return false;
		*c0 = i[0];
		return true;
	}
	return tx_unsupported(tx, "a comparison of \"%s\" is not supported", v->name);
}

static bool
eval_compare(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	const char *op = n->op_type;

	if (in[0]->kind == TX_IOTA || in[1]->kind == TX_IOTA)
	{
		int64_t		ca[TX_RANK],
					cb[TX_RANK],
					a0,
					b0;
		TxVal		shape;

		if (!tx_broadcast(tx, in[0], in[1], &shape) ||
			!affine_form(tx, in[0], shape.ndim, ca, &a0) ||
			!affine_form(tx, in[1], shape.ndim, cb, &b0))
			return false;
		out[0]->kind = TX_MASK;
		out[0]->dtype = MAAS_ONNX_BOOL;
		out[0]->ndim = shape.ndim;
		memcpy(out[0]->dims, shape.dims, sizeof(TxDim) * (size_t) shape.ndim);
		/* as form >= 0 */
		for (int d = 0; d < shape.ndim; d++)
			out[0]->coef[d] = strcmp(op, "LessOrEqual") == 0 || strcmp(op, "Less") == 0 ?
				cb[d] - ca[d] : ca[d] - cb[d];
		if (strcmp(op, "LessOrEqual") == 0)
			out[0]->c0 = b0 - a0;
		else if (strcmp(op, "Less") == 0)
			out[0]->c0 = b0 - a0 - 1;
		else if (strcmp(op, "GreaterOrEqual") == 0)
			out[0]->c0 = a0 - b0;
		else if (strcmp(op, "Greater") == 0)
			out[0]->c0 = a0 - b0 - 1;
		else
			return tx_unsupported(tx, "%s of ranges is not supported", op);
		return true;
	}
	if (!tx_is_value(in[0]) || !tx_is_value(in[1]))
		return tx_unsupported(tx, "%s of a value computed at run time is not supported", op);
	{
		TxVal		shape;
		int64_t		dims[TX_RANK],
					sa[TX_RANK],
					sb[TX_RANK];
		bool		fl = tx_is_float_dtype(in[0]->dtype);
		const float *fa = NULL,
				   *fb = NULL;
		const int64_t *ia = NULL,
				   *ib = NULL;

		if (!tx_broadcast(tx, in[0], in[1], &shape))
			return false;
		for (int d = 0; d < shape.ndim; d++)
		{
			if (!tx_dim_known(shape.dims[d]))
				return tx_unsupported(tx, "%s over a symbolic shape is not supported", op);
			dims[d] = shape.dims[d].k;
		}
		if (fl ? ((fa = tx_const_f(tx, in[0])) == NULL || (fb = tx_const_f(tx, in[1])) == NULL) :
			((ia = tx_const_i(tx, in[0])) == NULL || (ib = tx_const_i(tx, in[1])) == NULL))
			return false;
		if (!tx_make_const(tx, out[0], MAAS_ONNX_BOOL, shape.ndim, dims))
			return false;
		bcast_strides(in[0], shape.ndim, dims, sa);
		bcast_strides(in[1], shape.ndim, dims, sb);
		for (int64_t k = 0; k < out[0]->numel; k++)
		{
			int64_t		oa,
						ob;
			double		x,
						y;
			bool		r;

			bcast_offsets(shape.ndim, dims, k, sa, sb, &oa, &ob);
			x = fl ? fa[oa] : (double) ia[oa];
			y = fl ? fb[ob] : (double) ib[ob];
			if (strcmp(op, "Equal") == 0)
				r = fl ? x == y : ia[oa] == ib[ob];
			else if (strcmp(op, "Less") == 0)
				r = fl ? x < y : ia[oa] < ib[ob];
			else if (strcmp(op, "LessOrEqual") == 0)
				r = fl ? x <= y : ia[oa] <= ib[ob];
			else if (strcmp(op, "Greater") == 0)
				r = fl ? x > y : ia[oa] > ib[ob];
			else
				r = fl ? x >= y : ia[oa] >= ib[ob];
			((int64_t *) out[0]->i)[k] = r;
		}
	}
	return true;
}

static bool
eval_not(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	if (in[0]->kind == TX_MASK)
	{
		tx_copy_val(out[0], in[0]);
		/* not (f >= 0) is -f - 1 >= 0 over the integers */
		for (int d = 0; d < in[0]->ndim; d++)
			out[0]->coef[d] = -in[0]->coef[d];
		out[0]->c0 = -in[0]->c0 - 1;
		return true;
	}
	if (!tx_is_value(in[0]))
		return tx_unsupported(tx, "%s of a value computed at run time is not supported", n->op_type);
	return tx_fold_unary(tx, n->op_type, in[0], out[0]);
}

static bool
eval_unary_const(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	if (!tx_is_value(in[0]))
		return tx_unsupported(tx, "%s of a value computed at run time is not supported", n->op_type);
	return tx_fold_unary(tx, n->op_type, in[0], out[0]);
}

static bool
eval_expand(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxDim		shape[TX_RANK];
	int			r;
	TxVal		target;
	TxVal		ones;

	(void) n;
	if (!tx_int_list(tx, in[1], "the shape", &r, shape, TX_RANK))
		return false;
	memset(&target, 0, sizeof(target));
	target.ndim = r;
	memcpy(target.dims, shape, sizeof(TxDim) * (size_t) r);
	if (in[0]->kind != TX_CONST)
		return tx_unsupported(tx, "Expand of a value computed at run time is not supported");
	for (int d = 0; d < r; d++)
		if (!tx_dim_known(shape[d]))
			return tx_unsupported(tx, "Expand to a symbolic shape is not supported");
	/* x broadcast against a tensor of ones of the target shape */
	memset(&ones, 0, sizeof(ones));
	{
		int64_t		dims[TX_RANK];

		for (int d = 0; d < r; d++)
			dims[d] = shape[d].k;
		if (!tx_make_const(tx, &ones, in[0]->dtype, r, dims))
			return false;
		for (int64_t k = 0; k < ones.numel; k++)
		{
			if (ones.f != NULL)
				((float *) ones.f)[k] = 1.0f;
			else
				((int64_t *) ones.i)[k] = 1;
		}
	}
	ones.name = "ones";
	return tx_fold_binary(tx, "Mul", in[0], &ones, out[0]);
}

static bool
eval_concat(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		axis;
	int			ax;
	int			r = in[0]->ndim;

	if (!tx_attr_int(tx, n, "axis", 0, &axis))
		return false;
	for (int k = 0; k < n->n_inputs; k++)
		if (in[k] == NULL || !tx_is_value(in[k]))
			return tx_unsupported(tx, "Concat of values computed at run time is not supported");
	if (!tx_axis(tx, axis, r > 0 ? r : 1, "axis", &ax))
		return false;
	/* shape values: one-dimensional */
	for (int k = 0; k < n->n_inputs; k++)
		if (in[k]->kind == TX_SYM)
		{
			int64_t		total = 0;
			TxDim	   *s;

			for (int j = 0; j < n->n_inputs; j++)
			{
				if (in[j]->ndim != 1)
					return tx_unsupported(tx, "Concat of shape values of %d dimensions", in[j]->ndim);
				total += in[j]->numel;
			}
			if (total > 64 || (s = tx_alloc(tx, (size_t) total, sizeof(TxDim))) == NULL)
				return total > 64 ? tx_unsupported(tx, "a shape of %" PRId64 " values", total) : false;
			total = 0;
			for (int j = 0; j < n->n_inputs; j++)
			{
				if (!as_sym(tx, in[j], s + total))
					return false;
				total += in[j]->numel;
			}
			return set_sym(tx, out[0], in[0]->dtype, 1, total, s);
		}
	{
		int64_t		dims[TX_RANK];
		int64_t		outer = 1,
					inner = 1;
		int64_t		pos = 0;
		size_t		esz;

		for (int d = 0; d < r; d++)
			dims[d] = in[0]->dims[d].k;
		dims[ax] = 0;
		for (int k = 0; k < n->n_inputs; k++)
		{
			if (in[k]->ndim != r)
				return tx_invalid(tx, "inputs of different ranks");
			for (int d = 0; d < r; d++)
				if (d != ax && in[k]->dims[d].k != in[0]->dims[d].k)
					return tx_invalid(tx, "inputs of different shapes");
			dims[ax] += in[k]->dims[ax].k;
		}
		if (!tx_make_const(tx, out[0], in[0]->dtype, r, dims))
			return false;
		for (int d = 0; d < ax; d++)
			outer *= dims[d];
		for (int d = ax + 1; d < r; d++)
			inner *= dims[d];
		esz = out[0]->f != NULL ? sizeof(float) : sizeof(int64_t);
		for (int k = 0; k < n->n_inputs; k++)
		{
			const void *src = out[0]->f != NULL ? (const void *) tx_const_f(tx, in[k]) :
				(const void *) tx_const_i(tx, in[k]);
			int64_t		len = in[k]->dims[ax].k * inner;

			if (src == NULL)
				return false;
			for (int64_t o = 0; o < outer; o++)
				memcpy((char *) (out[0]->f != NULL ? (void *) out[0]->f : (void *) out[0]->i) +
					   (size_t) ((o * dims[ax] * inner + pos * inner)) * esz,
					   (const char *) src + (size_t) (o * len) * esz, (size_t) len * esz);
			pos += in[k]->dims[ax].k;
		}
	}
	return true;
}

/* the effective [start, end) and step of a slice along a dimension */
static bool
slice_bounds(int64_t dim, int64_t start, int64_t end, int64_t step,
			 int64_t *s, int64_t *count)
{
	if (step == 0)
		return false;
	if (start < 0)
		start += dim;
	if (end < 0)
		end += dim;
	if (step > 0)
	{
		start = start < 0 ? 0 : start > dim ? dim : start;
		end = end < 0 ? 0 : end > dim ? dim : end;
		*count = end > start ? (end - start + step - 1) / step : 0;
	}
	else
	{
		start = start < 0 ? -1 : start > dim - 1 ? dim - 1 : start;
		end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
		*count = start > end ? (start - end - step - 1) / (-step) : 0;
	}
	*s = start;
	return true;
}

bool
tx_slice(Tx *tx, TxVal *x, int ns, const TxDim *starts, const TxDim *ends,
		 const TxDim *axes, const TxDim *steps, TxVal *out)
{
	int64_t		begin[TX_RANK],
				step[TX_RANK],
				count[TX_RANK];
	int			r = x->ndim;

	if (x->kind != TX_CONST && x->kind != TX_SYM)
		return tx_unsupported(tx, "Slice of a value computed at run time is not supported");
	for (int d = 0; d < r; d++)
	{
		begin[d] = 0;
		step[d] = 1;
		count[d] = x->dims[d].k;
	}
	for (int k = 0; k < ns; k++)
	{
		int			ax;

		if (!tx_dim_known(starts[k]) || !tx_dim_known(ends[k]) ||
			(axes != NULL && !tx_dim_known(axes[k])) || (steps != NULL && !tx_dim_known(steps[k])))
			return tx_unsupported(tx, "a Slice of a constant with symbolic bounds is not supported");
		if (!tx_axis(tx, axes != NULL ? axes[k].k : k, r, "axis", &ax))
			return false;
		step[ax] = steps != NULL ? steps[k].k : 1;
		if (!slice_bounds(x->dims[ax].k, starts[k].k, ends[k].k, step[ax], &begin[ax], &count[ax]))
			return tx_invalid(tx, "a step of 0");
	}
	{
		int64_t		strides[TX_RANK];
		int64_t		s = 1;
		TxDim	   *sym = NULL;
		const float *f = NULL;
		const int64_t *iv = NULL;

		for (int d = r - 1; d >= 0; d--)
		{
			strides[d] = s;
			s *= x->dims[d].k;
		}
		if (x->kind == TX_SYM)
		{
			if ((sym = tx_alloc(tx, (size_t) (r ? count[0] : 1), sizeof(TxDim))) == NULL)
				return false;
			for (int64_t i = 0; i < (r ? count[0] : 1); i++)
				sym[i] = x->s[begin[0] + i * step[0]];
			return set_sym(tx, out, x->dtype, r, r ? count[0] : 1, sym);
		}
		if (!tx_make_const(tx, out, x->dtype, r, count))
			return false;
		if (out->f != NULL ? (f = tx_const_f(tx, x)) == NULL : (iv = tx_const_i(tx, x)) == NULL)
			return false;
		for (int64_t k = 0; k < out->numel; k++)
		{
			int64_t		rem = k,
						off = 0;

			for (int d = r - 1; d >= 0; d--)
			{
				int64_t		idx = rem % count[d];

				rem /= count[d];
				off += (begin[d] + idx * step[d]) * strides[d];
			}
			if (f != NULL)
				((float *) out->f)[k] = f[off];
			else
				((int64_t *) out->i)[k] = iv[off];
		}
	}
	return true;
}

static bool
eval_slice(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxDim		starts[TX_RANK],
				ends[TX_RANK],
				axes[TX_RANK],
				steps[TX_RANK];
	int			ns,
				ne,
				na = -1,
				nst = -1;

	if (tx->opset < 10)
	{
		const int64_t *p;
		int			c;

		if (!tx_attr_ints(tx, n, "starts", &ns, &p))
			return false;
		for (int k = 0; k < ns && k < TX_RANK; k++)
			starts[k] = tx_dim(p[k]);
		if (!tx_attr_ints(tx, n, "ends", &ne, &p))
			return false;
		for (int k = 0; k < ne && k < TX_RANK; k++)
			ends[k] = tx_dim(p[k]);
		if (!tx_attr_ints(tx, n, "axes", &c, &p))
			return false;
		na = c;
		for (int k = 0; k < c && k < TX_RANK; k++)
			axes[k] = tx_dim(p[k]);
		if (ns < 0 || ne < 0 || ns > TX_RANK || ne > TX_RANK || na > TX_RANK)
			return tx_invalid(tx, "starts and ends must be given, with at most %d values", TX_RANK);
	}
	else
	{
		if (!tx_int_list(tx, in[1], "starts", &ns, starts, TX_RANK) ||
			!tx_int_list(tx, in[2], "ends", &ne, ends, TX_RANK))
			return false;
		if (in[3] != NULL && !tx_int_list(tx, in[3], "axes", &na, axes, TX_RANK))
			return false;
		if (in[4] != NULL && !tx_int_list(tx, in[4], "steps", &nst, steps, TX_RANK))
			return false;
	}
	if (ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
		return tx_invalid(tx, "starts, ends, axes and steps differ in length");
	return tx_slice(tx, in[0], ns, starts, ends, na >= 0 ? axes : NULL,
					nst >= 0 ? steps : NULL, out[0]);
}

static const char *const no_attrs[] = {NULL};
static const char *const constant_attrs[] = {"value", "value_float", "value_floats",
"value_int", "value_ints", NULL};
static const char *const shape_attrs[] = {"start", "end", NULL};
static const char *const cast_attrs[] = {"to", NULL};
static const char *const cos_attrs[] = {"value", NULL};
static const char *const concat_attrs[] = {"axis", NULL};
static const char *const slice_attrs[] = {"starts", "ends", "axes", NULL};

const TxOp	tx_fold_ops[] = {
	{"Constant", constant_attrs, eval_constant, NULL, false},
	{"Shape", shape_attrs, eval_shape, NULL, true},
	{"Size", no_attrs, eval_size, NULL, true},
	{"Cast", cast_attrs, eval_cast, lower_cast, false},
	{"Range", no_attrs, eval_range, NULL, false},
	{"ConstantOfShape", cos_attrs, eval_constant_of_shape, NULL, false},
	{"Equal", no_attrs, eval_compare, NULL, false},
	{"Less", no_attrs, eval_compare, NULL, false},
	{"LessOrEqual", no_attrs, eval_compare, NULL, false},
	{"Greater", no_attrs, eval_compare, NULL, false},
	{"GreaterOrEqual", no_attrs, eval_compare, NULL, false},
	{"Not", no_attrs, eval_not, NULL, false},
	{"Neg", no_attrs, eval_unary_const, NULL, false},
	{"Reciprocal", no_attrs, eval_unary_const, NULL, false},
	{"Expand", no_attrs, eval_expand, NULL, false},
	{"Concat", concat_attrs, eval_concat, NULL, false},
	{"Slice", slice_attrs, eval_slice, NULL, false},
};

const int	tx_n_fold_ops = (int) (sizeof(tx_fold_ops) / sizeof(tx_fold_ops[0]));
