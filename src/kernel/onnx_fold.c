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
 * Here: the arithmetic of folding (elementwise ops with numpy
 * broadcasting, symbolic integers, slices); the ops that only ever fold
 * (Constant, Shape, Cast, Range, comparisons, ...) are in onnx_fold_ops.c.
 * Folded tensors are capped at FOLD_MAX elements.
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
void
tx_bcast_strides(const TxVal *v, int n, const int64_t *out_dims, int64_t *strides)
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
void
tx_bcast_offsets(int n, const int64_t *dims, int64_t k, const int64_t *sa,
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
TxDim
tx_sym_op(const char *op, TxDim x, TxDim y)
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
bool
tx_as_sym(Tx *tx, const TxVal *v, TxDim *out)
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
bool
tx_set_sym(Tx *tx, TxVal *out, int32_t dtype, int ndim, int64_t numel, TxDim *s)
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
		if (x == NULL || y == NULL || r == NULL || !tx_as_sym(tx, a, x) || !tx_as_sym(tx, b, y))
			return false;
		for (int64_t k = 0; k < n; k++)
			r[k] = tx_sym_op(op, x[a->numel == 1 ? 0 : k], y[b->numel == 1 ? 0 : k]);
		return tx_set_sym(tx, out, a->dtype, shape.ndim, n, r);
	}
	for (int d = 0; d < shape.ndim; d++)
		dims[d] = shape.dims[d].k;
	if (!tx_make_const(tx, out, a->dtype, shape.ndim, dims))
		return false;
	tx_bcast_strides(a, shape.ndim, dims, sa);
	tx_bcast_strides(b, shape.ndim, dims, sb);
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

			tx_bcast_offsets(shape.ndim, dims, k, sa, sb, &oa, &ob);
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

			tx_bcast_offsets(shape.ndim, dims, k, sa, sb, &oa, &ob);
			if (op[0] == 'P')
			{
				r[k] = (int64_t) pow((double) x[oa], (double) y[ob]);
				continue;
			}
			if (op[0] == 'D' && y[ob] == 0)
				return tx_invalid(tx, "integer division by zero");
			v = tx_sym_op(op, tx_dim(x[oa]), tx_dim(y[ob]));
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
			return tx_set_sym(tx, out, x->dtype, r, r ? count[0] : 1, sym);
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
