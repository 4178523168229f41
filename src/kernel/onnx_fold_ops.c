/*
 * onnx_fold_ops.c
 *		The ops of the ONNX translator that only ever fold (onnx_fold.c):
 *		Constant, Shape, Size, Cast, Range, ConstantOfShape, the comparisons,
 *		Not, Neg, Reciprocal, Expand, Concat and Slice.  A run-time input
 *		makes them unsupported, apart from a Cast that changes nothing.
 */
#include "onnx_translate_int.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>


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
	return tx_set_sym(tx, out[0], MAAS_ONNX_INT64, 1, end - start, s);
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
		s[0] = tx_sym_op("Mul", s[0], in[0]->dims[d]);
	if (s[0].unknown)
		return tx_unsupported(tx, "the size of \"%s\" is not known at import", in[0]->name);
	if (!tx_set_sym(tx, out[0], MAAS_ONNX_INT64, 0, 1, s))
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
	out[0]->dims[0] = tx_sym_op("Sub", limit[0], start[0]);
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
		tx_bcast_strides(in[0], shape.ndim, dims, sa);
		tx_bcast_strides(in[1], shape.ndim, dims, sb);
		for (int64_t k = 0; k < out[0]->numel; k++)
		{
			int64_t		oa,
						ob;
			double		x,
						y;
			bool		r;

			tx_bcast_offsets(shape.ndim, dims, k, sa, sb, &oa, &ob);
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
				if (!tx_as_sym(tx, in[j], s + total))
					return false;
				total += in[j]->numel;
			}
			return tx_set_sym(tx, out[0], in[0]->dtype, 1, total, s);
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
	{"Constant", constant_attrs, eval_constant, NULL, false,
	TX_ARITY(0, 0, 0, 1, 1)},
	{"Shape", shape_attrs, eval_shape, NULL, true,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Size", no_attrs, eval_size, NULL, true,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Cast", cast_attrs, eval_cast, lower_cast, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Range", no_attrs, eval_range, NULL, false,
	TX_ARITY(3, 3, 0, 1, 1)},
	{"ConstantOfShape", cos_attrs, eval_constant_of_shape, NULL, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Equal", no_attrs, eval_compare, NULL, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"Less", no_attrs, eval_compare, NULL, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"LessOrEqual", no_attrs, eval_compare, NULL, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"Greater", no_attrs, eval_compare, NULL, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"GreaterOrEqual", no_attrs, eval_compare, NULL, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"Not", no_attrs, eval_not, NULL, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Neg", no_attrs, eval_unary_const, NULL, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Reciprocal", no_attrs, eval_unary_const, NULL, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Expand", no_attrs, eval_expand, NULL, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"Concat", concat_attrs, eval_concat, NULL, false,
	TX_ARITY(1, TX_ANY, 0, 1, 1)},
	{"Slice", slice_attrs, eval_slice, NULL, false,
	TX_ARITY2(1, 1, 0, 1, 1, 10, 3, 5, TX_OPT(3) | TX_OPT(4))},
};

const int	tx_n_fold_ops = (int) (sizeof(tx_fold_ops) / sizeof(tx_fold_ops[0]));
