/*
 * onnx_translate_view.c
 *		The views of the ONNX translator, ops that move no data: Identity,
 *		Dropout, Flatten, Reshape, Squeeze, Unsqueeze and Transpose (of unit
 *		axes, or of constants, which fold).
 *
 * A view keeps a run-time value as the runtime lays it out (batch first,
 * then the sequence, the rest row-major: onnx_translate_dense.c) and
 * changes only its ONNX shape; anything that would move data between rows
 * or positions is refused.
 */
#include "onnx_translate_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>


/* ----------------------------------------------------------------
 *		views
 * ----------------------------------------------------------------
 */

/* out has in's kind and values with new dims (a view of the same data) */
static bool
view_of(Tx *tx, TxVal *in, TxVal *out, int ndim, const TxDim *dims)
{
	int64_t		n_in = 1,
				n_out = 1;

	if (ndim > TX_RANK)
		return tx_unsupported(tx, "a value of %d dimensions", ndim);
	if (in->kind == TX_IOTA || in->kind == TX_MASK)
	{
		/* only unit axes may come or go: the others keep their order */
		int			j = 0;
		int64_t		coef[TX_RANK];

		memset(coef, 0, sizeof(coef));
		for (int d = 0; d < ndim; d++)
		{
			if (tx_dim_is(dims[d], 1))
				continue;
			while (j < in->ndim && tx_dim_is(in->dims[j], 1))
				j++;
			if (j >= in->ndim || !tx_dim_eq(in->dims[j], dims[d]))
				return tx_unsupported(tx, "a reshape of the range \"%s\" is not supported", in->name);
			coef[d] = in->coef[j++];
		}
		tx_copy_val(out, in);
		memcpy(out->coef, coef, sizeof(coef));
	}
	else if (in->kind == TX_CONST)
	{
		for (int d = 0; d < ndim; d++)
		{
			if (!tx_dim_known(dims[d]))
				return tx_invalid(tx, "a constant reshaped to a symbolic shape");
			n_out *= dims[d].k;
		}
		if (n_out != in->numel)
			return tx_invalid(tx, "a constant of %" PRId64 " elements reshaped to %" PRId64,
							  in->numel, n_out);
		tx_copy_val(out, in);
	}
	else if (in->kind == TX_SYM)
	{
		for (int d = 0; d < ndim; d++)
			n_out *= dims[d].k;
		if (ndim > 1 || n_out != in->numel)
			return tx_unsupported(tx, "a reshape of the shape value \"%s\"", in->name);
		tx_copy_val(out, in);
	}
	else
	{
		tx_copy_val(out, in);
		out->layer = -1;
		(void) n_in;
	}
	out->ndim = ndim;
	memcpy(out->dims, dims, sizeof(TxDim) * (size_t) ndim);
	if (out->kind == TX_RUN)
		out->std = in->std && tx_std_shape(out) && tx_vec_width(out) == tx_vec_width(in);
	return true;
}

static bool
lower_view(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	char		s1[128],
				s2[128];

	bool		moves = false;

	if (out[0]->kind != TX_RUN)
		return true;			/* token inputs, masks: read by patterns */
	if (!tx_require_std(tx, in[0], "the input"))
		return false;
	if (strcmp(n->op_type, "Transpose") == 0)
	{
		int			count;
		const int64_t *perm;
		int			last = -1;

		/* nothing moves when the axes that are not 1 keep their order */
		if (!tx_attr_ints(tx, n, "perm", &count, &perm))
			return false;
		for (int d = 0; d < in[0]->ndim; d++)
		{
			int64_t		p = count >= 0 ? perm[d] : in[0]->ndim - 1 - d;

			if (tx_dim_is(in[0]->dims[p], 1))
				continue;
			if (p < last)
				moves = true;
			last = (int) p;
		}
	}
	if (moves || out[0]->seq != in[0]->seq || !tx_std_shape(out[0]) ||
		tx_vec_width(out[0]) != tx_vec_width(in[0]))
		return tx_unsupported(tx, "%s of \"%s\" %s to %s moves data between %s",
							  n->op_type, in[0]->name, tx_shape_str(in[0], s1, sizeof(s1)),
							  tx_shape_str(out[0], s2, sizeof(s2)),
							  in[0]->seq ? "rows or positions" : "rows");
	tx_alias(tx, out[0], in[0]);
	return true;
}

static bool
eval_identity(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	(void) n;
	return view_of(tx, in[0], out[0], in[0]->ndim, in[0]->dims);
}

static bool
eval_dropout(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		mode = 0;

	if (n->n_inputs >= 3 && in[2] != NULL && !tx_int_scalar(tx, in[2], "training_mode", &mode))
		return false;
	if (mode != 0)
		return tx_unsupported(tx, "dropout in training mode");
	if (!view_of(tx, in[0], out[0], in[0]->ndim, in[0]->dims))
		return false;
	if (n->n_outputs >= 2 && n->outputs[1][0] != '\0')
	{
		int64_t		dims[TX_RANK];

		for (int d = 0; d < in[0]->ndim; d++)
		{
			if (!tx_dim_known(in[0]->dims[d]))
				return tx_unsupported(tx, "the mask output of a dropout over computed values");
			dims[d] = in[0]->dims[d].k;
		}
		if (!tx_make_const(tx, out[1], MAAS_ONNX_BOOL, in[0]->ndim, dims))
			return false;
		for (int64_t k = 0; k < out[1]->numel; k++)
			((int64_t *) out[1]->i)[k] = 1;
	}
	return true;
}

static bool
eval_flatten(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		axis;
	int			ax;
	TxDim		dims[2] = {tx_dim(1), tx_dim(1)};

	if (!tx_attr_int(tx, n, "axis", 1, &axis) ||
		!tx_axis(tx, axis, in[0]->ndim + 1, "axis", &ax))
		return false;
	if (axis < 0)
		ax = (int) axis + in[0]->ndim;
	for (int d = 0; d < in[0]->ndim; d++)
	{
		TxDim	   *t = &dims[d < ax ? 0 : 1];

		if (!tx_dim_mul(*t, in[0]->dims[d], t))
			return tx_unsupported(tx, "the input has more elements than maas translates");
	}
	if (!view_of(tx, in[0], out[0], 2, dims))
		return false;
	if (out[0]->kind == TX_RUN && in[0]->seq)
		out[0]->std = false;	/* the sequence is gone: rows and positions mix */
	if (out[0]->kind == TX_RUN)
		out[0]->seq = false;
	return true;
}

static bool
eval_reshape(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxDim		shape[TX_RANK];
	int			r;
	int64_t		allowzero = 0;
	int			infer = -1;
	TxDim		known = tx_dim(1),
				total = tx_dim(1);

	if (!tx_attr_int(tx, n, "allowzero", 0, &allowzero))
		return false;
	if (tx->opset < 5)
		return tx_unsupported(tx, "Reshape of opset before 5");
	if (!tx_int_list(tx, in[1], "the shape", &r, shape, TX_RANK))
		return false;
	for (int d = 0; d < r; d++)
	{
		if (tx_dim_is(shape[d], 0) && !allowzero)
		{
			if (d >= in[0]->ndim)
				return tx_invalid(tx, "dimension %d of the shape copies a dimension the input lacks", d);
			shape[d] = in[0]->dims[d];
		}
		else if (tx_dim_is(shape[d], -1))
		{
			if (infer >= 0)
				return tx_invalid(tx, "the shape has two -1");
			infer = d;
			continue;
		}
		/* a graph exported with a fixed batch size: its leading size is the batch */
		if (d == 0 && tx->batch0 > 0 && tx_dim_is(shape[0], tx->batch0) &&
			in[0]->kind == TX_RUN && tx_dim_eq(in[0]->dims[0], tx_dim_B))
			shape[0] = tx_dim_B;
		if (shape[d].unknown)
			return tx_unsupported(tx, "dimension %d of the shape is not known at import", d);
		if (!tx_dim_mul(known, shape[d], &known))
			return tx_unsupported(tx, "the shape has more elements than maas translates");
	}
	for (int d = 0; d < in[0]->ndim; d++)
	{
		if (in[0]->dims[d].unknown)
			return tx_unsupported(tx, "the input's dimension %d is not known at import", d);
		if (!tx_dim_mul(total, in[0]->dims[d], &total))
			return tx_unsupported(tx, "the input has more elements than maas translates");
	}
	if (infer >= 0)
	{
		if (known.k == 0 || total.k % known.k != 0 || total.b < known.b || total.t < known.t)
		{
			if (tx_dim_symbolic(known) || tx_dim_symbolic(total))
				return tx_unsupported(tx, "the shape divides the input only for some batch or sequence sizes");
			return tx_invalid(tx, "the shape does not divide the input");
		}
		shape[infer] = (TxDim) {total.k / known.k, (int8_t) (total.b - known.b),
			(int8_t) (total.t - known.t), false};
	}
	else if (!tx_dim_eq(known, total) && (tx_dim_symbolic(known) || tx_dim_symbolic(total)))
		return tx_unsupported(tx, "the shape has as many elements as the input only for some batch or sequence sizes");
	else if (!tx_dim_eq(known, total))
		return tx_invalid(tx, "the shape does not have as many elements as the input");
	if (!view_of(tx, in[0], out[0], r, shape))
		return false;
	return true;
}

/* the axes of Squeeze / Unsqueeze: an attribute before opset 13 */
static bool
axes_of(Tx *tx, const MaasOnnxNode *n, TxVal **in, int *count, int64_t *axes)
{
	if (tx->opset >= 13 && n->n_inputs >= 2 && in[1] != NULL)
	{
		TxDim		d[TX_RANK];

		if (!tx_int_list(tx, in[1], "axes", count, d, TX_RANK))
			return false;
		for (int k = 0; k < *count; k++)
		{
			if (!tx_dim_known(d[k]))
				return tx_unsupported(tx, "symbolic axes");
			axes[k] = d[k].k;
		}
		return true;
	}
	{
		const int64_t *p;

		if (!tx_attr_ints(tx, n, "axes", count, &p))
			return false;
		if (*count > TX_RANK)
			return tx_unsupported(tx, "%d axes", *count);
		for (int k = 0; k < *count; k++)
			axes[k] = p[k];
	}
	return true;
}

static bool
eval_squeeze(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int			count;
	int64_t		axes[TX_RANK];
	bool		drop[TX_RANK] = {false};
	TxDim		dims[TX_RANK];
	int			r = 0;

	if (!axes_of(tx, n, in, &count, axes))
		return false;
	if (count < 0)
	{
		for (int d = 0; d < in[0]->ndim; d++)
			drop[d] = tx_dim_is(in[0]->dims[d], 1);
	}
	for (int k = 0; k < count; k++)
	{
		int			ax;

		if (!tx_axis(tx, axes[k], in[0]->ndim, "axis", &ax))
			return false;
		if (tx_dim_symbolic(in[0]->dims[ax]))
			return tx_unsupported(tx, "axis %d has size 1 only for some batch or sequence sizes", ax);
		if (!tx_dim_is(in[0]->dims[ax], 1))
			return tx_invalid(tx, "axis %d has size other than 1", ax);
		drop[ax] = true;
	}
	for (int d = 0; d < in[0]->ndim; d++)
		if (!drop[d])
			dims[r++] = in[0]->dims[d];
	return view_of(tx, in[0], out[0], r, dims);
}

static bool
eval_unsqueeze(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int			count;
	int64_t		axes[TX_RANK];
	bool		ins[TX_RANK] = {false};
	TxDim		dims[TX_RANK];
	int			r;
	int			j = 0;

	if (!axes_of(tx, n, in, &count, axes))
		return false;
	if (count < 0)
		return tx_invalid(tx, "Unsqueeze without axes");
	r = in[0]->ndim + count;
	if (r > TX_RANK)
		return tx_unsupported(tx, "a value of %d dimensions", r);
	for (int k = 0; k < count; k++)
	{
		int			ax;

		if (!tx_axis(tx, axes[k], r, "axis", &ax))
			return false;
		ins[ax] = true;
	}
	for (int d = 0; d < r; d++)
		dims[d] = ins[d] ? tx_dim(1) : in[0]->dims[j++];
	/* a shape value's scalar becomes a list of one */
	if (in[0]->kind == TX_SYM)
	{
		tx_copy_val(out[0], in[0]);
		out[0]->ndim = r;
		memcpy(out[0]->dims, dims, sizeof(TxDim) * (size_t) r);
		if (r > 1)
			return tx_unsupported(tx, "a shape value of %d dimensions", r);
		return true;
	}
	if (!view_of(tx, in[0], out[0], r, dims))
		return false;
	if (out[0]->kind == TX_RUN && in[0]->seq && ins[0 + 1])
		out[0]->std = false;	/* an axis before the sequence moves it */
	return true;
}

static bool
eval_transpose(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int			count;
	const int64_t *perm;
	int64_t		p[TX_RANK];
	TxVal	   *x = in[0];
	int			r = x->ndim;
	int			last = -1;
	bool		moves = false;

	if (!tx_attr_ints(tx, n, "perm", &count, &perm))
		return false;
	if (count >= 0 && count != r)
		return tx_invalid(tx, "perm has %d axes for %d dimensions", count, r);
	for (int d = 0; d < r; d++)
		p[d] = count >= 0 ? perm[d] : r - 1 - d;
	for (int d = 0; d < r; d++)
		if (p[d] < 0 || p[d] >= r)
			return tx_invalid(tx, "perm is not a permutation");
	tx_copy_val(out[0], x);
	for (int d = 0; d < r; d++)
		out[0]->dims[d] = x->dims[p[d]];
	if (x->kind == TX_IOTA || x->kind == TX_MASK)
	{
		for (int d = 0; d < r; d++)
			out[0]->coef[d] = x->coef[p[d]];
		return true;
	}
	if (x->kind == TX_CONST)
	{
		int64_t		dims[TX_RANK],
					strides[TX_RANK],
					s = 1;
		const float *f = NULL;
		const int64_t *iv = NULL;
		TxVal	   *o = out[0];

		for (int d = r - 1; d >= 0; d--)
		{
			strides[d] = s;
			s *= x->dims[d].k;
		}
		for (int d = 0; d < r; d++)
			dims[d] = x->dims[p[d]].k;
		if (tx_is_float_dtype(x->dtype) ? (f = tx_const_f(tx, x)) == NULL :
			(iv = tx_const_i(tx, x)) == NULL)
			return false;
		if (!tx_make_const(tx, o, x->dtype, r, dims))
			return false;
		for (int64_t k = 0; k < o->numel; k++)
		{
			int64_t		rem = k,
						off = 0;

			for (int d = r - 1; d >= 0; d--)
			{
				off += (rem % dims[d]) * strides[p[d]];
				rem /= dims[d];
			}
			if (f != NULL)
				((float *) o->f)[k] = f[off];
			else
				((int64_t *) o->i)[k] = iv[off];
		}
		return true;
	}
	if (x->kind != TX_RUN && x->kind != TX_MASKIN)
		return tx_unsupported(tx, "Transpose of \"%s\" is not supported", x->name);
	/* nothing moves when the axes that are not 1 keep their order */
	for (int d = 0; d < r; d++)
	{
		if (tx_dim_is(x->dims[p[d]], 1))
			continue;
		if (p[d] < last)
			moves = true;
		last = (int) p[d];
	}
	out[0]->layer = -1;
	if (x->kind == TX_RUN)
		out[0]->std = x->std && !moves && tx_std_shape(out[0]);
	else if (moves)
		return tx_unsupported(tx, "Transpose of the attention mask");
	return true;
}

static const char *const no_attrs[] = {NULL};
static const char *const axis_attrs[] = {"axis", NULL};
static const char *const dropout_attrs[] = {"ratio", "seed", NULL};
static const char *const reshape_attrs[] = {"allowzero", NULL};
static const char *const axes_attrs[] = {"axes", NULL};
static const char *const perm_attrs[] = {"perm", NULL};

const TxOp	tx_view_ops[] = {
	{"Identity", no_attrs, eval_identity, lower_view, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Dropout", dropout_attrs, eval_dropout, lower_view, false,
	TX_ARITY(1, 3, TX_OPT(1) | TX_OPT(2), 1, 2)},
	{"Flatten", axis_attrs, eval_flatten, lower_view, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Reshape", reshape_attrs, eval_reshape, lower_view, false,
	TX_ARITY2(1, 1, 0, 1, 1, 5, 2, 2, 0)},
	{"Squeeze", axes_attrs, eval_squeeze, lower_view, false,
	TX_ARITY2(1, 1, 0, 1, 1, 13, 1, 2, TX_OPT(1))},
	{"Unsqueeze", axes_attrs, eval_unsqueeze, lower_view, false,
	TX_ARITY2(1, 1, 0, 1, 1, 13, 2, 2, 0)},
	{"Transpose", perm_attrs, eval_transpose, lower_view, false,
	TX_ARITY(1, 1, 0, 1, 1)},
};

const int	tx_n_view_ops = (int) (sizeof(tx_view_ops) / sizeof(tx_view_ops[0]));
