/*
 * onnx_translate_text.c
 *		The ONNX ops of transformers in the translator, and the idioms of
 *		torch.onnx.export that become one layer each.
 *
 * Values of the token inputs never reach a layer as such: a Gather of a
 * constant table by the token ids is an embedding (TX_EMB), by Range(0, T)
 * the position table (TX_POS), by the token types the type table; their
 * sum is one embedding layer, made when a layer first reads it.  The
 * attention mask input, cast, unsqueezed and turned into (1 - m) * -big,
 * stays a linear form of the mask (TX_MASKIN) until an attention reads it
 * as its padding (the runtime reads each row's length).
 *
 * The patterns (onnx_translate_pattern.c), matched over the live nodes
 * before any layer is made and emitted at their last node:
 *
 *	layernorm	ReduceMean(x) -> Sub -> Pow 2 (or Mul by itself) -> ReduceMean ->
 *				Add eps -> Sqrt -> Div [-> Mul gamma] [-> Add beta]
 *	gelu		Div(x, sqrt 2) (or Mul by 1 / sqrt 2) -> Erf -> Add 1, times x
 *				and 0.5 in any grouping; or the tanh form, 0.5 x (1 +
 *				tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
 *	attention	q, k, v [B, T, C] -> Reshape [B, T, H, hs] -> Transpose (k to
 *				[B, H, hs, T]) -> MatMul q k -> Div sqrt(hs) (or Mul) ->
 *				[Where(causal mask, s, -big)] [Add padding mask] -> Softmax ->
 *				MatMul v -> Transpose -> Reshape [B, T, C]; q, k and v may be
 *				the three parts of a Split of one value (GPT-2's c_attn)
 *
 * A pattern's inner values must be read only inside it; anything else is
 * translated node by node (and refused where the runtime has no layer).
 */
#include "onnx_translate_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>


/* ----------------------------------------------------------------
 *		embeddings and the mask input
 * ----------------------------------------------------------------
 */

/* x op c for the attention mask's linear form (Sub(1, m), Mul by -big, ...) */
static bool
mask_arith(Tx *tx, const char *op, TxVal *a, TxVal *b, TxVal *out)
{
	TxVal	   *m = a->kind == TX_MASKIN ? a : b;
	TxVal	   *c = m == a ? b : a;
	double		k;
	TxVal		shape;

	if (!tx_float_scalar(tx, c, &k))
		return tx_unsupported(tx, "%s of the attention mask and \"%s\" is not supported", op, c->name);
	if (!tx_broadcast(tx, a, b, &shape))
		return false;
	tx_copy_val(out, m);
	out->ndim = shape.ndim;
	memcpy(out->dims, shape.dims, sizeof(TxDim) * (size_t) shape.ndim);
	switch (op[0])
	{
		case 'A':
			out->c += k;
			break;
		case 'S':
			if (m == a)
				out->c -= k;
			else
			{
				out->a = -out->a;
				out->c = k - out->c;
			}
			break;
		case 'M':
			out->a *= k;
			out->c *= k;
			break;
		case 'D':
			if (m != a || k == 0)
				return tx_unsupported(tx, "a division by the attention mask");
			out->a /= k;
			out->c /= k;
			break;
	}
	return true;
}

/* an embedding value [B, T, C] from a table */
static void
emb_shape(TxVal *out, const TxVal *table, int32_t dtype)
{
	out->kind = TX_EMB;
	out->dtype = dtype;
	out->ndim = 3;
	out->dims[0] = tx_dim_B;
	out->dims[1] = tx_dim_T;
	out->dims[2] = table->dims[1];
	out->seq = true;
	out->std = true;
	out->layer = -1;
}

/*
 * The arithmetic eval of Add, Sub, Mul and Div calls this first: sums of
 * embeddings, and the mask's linear form.  *handled says whether it did.
 */
bool
tx_text_add(Tx *tx, const MaasOnnxNode *n, TxVal *a, TxVal *b, TxVal *out, bool *handled)
{
	const char *op = n->op_type;

	*handled = false;
	if ((a->kind == TX_MASKIN || b->kind == TX_MASKIN) && a->kind != TX_RUN && b->kind != TX_RUN)
	{
		*handled = true;
		if (a->kind == TX_MASKIN && b->kind == TX_MASKIN)
			return tx_unsupported(tx, "%s of the attention mask with itself", op);
		return mask_arith(tx, op, a, b, out);
	}
	if (a->kind != TX_EMB && a->kind != TX_POS && b->kind != TX_EMB && b->kind != TX_POS)
		return true;
	*handled = true;
	if (op[0] != 'A' || (a->kind != TX_EMB && a->kind != TX_POS) ||
		(b->kind != TX_EMB && b->kind != TX_POS))
	{
		/* an embedding in other arithmetic is a layer's value */
		if (a->kind == TX_POS || b->kind == TX_POS)
			return tx_unsupported(tx, "%s of a position table is not supported", op);
		*handled = false;
		return true;
	}
	/* a sum of embeddings: each table once */
	tx_copy_val(out, a->kind == TX_EMB ? a : b);
	out->kind = TX_EMB;
	{
		TxVal	   *parts[2] = {a, b};

		out->tok_table = out->pos_table = out->type_table = -1;
		for (int k = 0; k < 2; k++)
		{
			TxVal	   *p = parts[k];

			if ((p->tok_table >= 0 && out->tok_table >= 0) ||
				(p->pos_table >= 0 && out->pos_table >= 0) ||
				(p->type_table >= 0 && out->type_table >= 0))
				return tx_unsupported(tx, "a sum of two embeddings of the same ids");
			if (p->tok_table >= 0)
				out->tok_table = p->tok_table;
			if (p->pos_table >= 0)
				out->pos_table = p->pos_table;
			if (p->type_table >= 0)
				out->type_table = p->type_table;
		}
		if (out->tok_table < 0 && out->type_table < 0)
		{
			/* positions only: still a table over T */
			out->kind = TX_POS;
			return true;
		}
		{
			const TxVal *t = &tx->vals[out->tok_table >= 0 ? out->tok_table : out->type_table];

			emb_shape(out, t, t->dtype);
		}
	}
	return true;
}

bool
tx_materialize(Tx *tx, TxVal *v)
{
	TxLayer    *l;
	int			in = 0;
	int			t;

	if (v->kind != TX_EMB)
		return true;
	if (v->tok_table < 0)
		return tx_unsupported(tx, "an embedding of the token types without the token ids");
	if (v->pos_table < 0)
	{
		tx_unsupported(tx, "the token embedding \"%s\" has no position embedding added to it",
					   v->name);
		return tx_hint(tx, "maas numbers positions itself (absolute position embeddings): rotary or relative positions are not supported.");
	}
	if ((l = tx_layer(tx, "embedding", 1, &in)) == NULL)
		return false;
	l->width = tx->vals[v->tok_table].dims[1].k;
	l->seq = true;
	l->name = v->name;
	if ((t = tx_tensor_const(tx, v->tok_table, NULL)) < 0 || !tx_key_tensor(tx, l, "tokens", t) ||
		(t = tx_tensor_const(tx, v->pos_table, NULL)) < 0 || !tx_key_tensor(tx, l, "positions", t))
		return false;
	if (v->type_table >= 0 &&
		((t = tx_tensor_const(tx, v->type_table, NULL)) < 0 || !tx_key_tensor(tx, l, "token_types", t)))
		return false;
	for (int k = 0; k < 3; k++)
	{
		int			id = k == 0 ? v->tok_table : k == 1 ? v->pos_table : v->type_table;

		if (id >= 0 && tx->vals[id].dims[1].k != l->width)
			return tx_invalid(tx, "the embedding tables have different widths");
	}
	tx_set_output(tx, v, l);
	return true;
}


/* ----------------------------------------------------------------
 *		Gather
 * ----------------------------------------------------------------
 */

static bool
fold_gather(Tx *tx, TxVal *data, TxVal *idx, int ax, TxVal *out)
{
	const int64_t *iv = tx_const_i(tx, idx);
	int			r = data->ndim;
	int64_t		dims[TX_RANK];
	int			rr = 0;
	int64_t		outer = 1,
				inner = 1,
				n = data->dims[ax].k;

	if (iv == NULL)
		return false;
	if (r - 1 + idx->ndim > TX_RANK)
		return tx_unsupported(tx, "a gather of %d dimensions", r - 1 + idx->ndim);
	for (int d = 0; d < ax; d++)
		dims[rr++] = data->dims[d].k;
	for (int d = 0; d < idx->ndim; d++)
		dims[rr++] = idx->dims[d].k;
	for (int d = ax + 1; d < r; d++)
		dims[rr++] = data->dims[d].k;
	for (int d = 0; d < ax; d++)
		outer *= data->dims[d].k;
	for (int d = ax + 1; d < r; d++)
		inner *= data->dims[d].k;
	for (int64_t k = 0; k < idx->numel; k++)
		if (iv[k] < -n || iv[k] >= n)
			return tx_invalid(tx, "index %" PRId64 " is out of range for %" PRId64, iv[k], n);
	if (data->kind == TX_SYM)
	{
		TxDim	   *s;

		if (r != 1 || idx->ndim > 1)
			return tx_unsupported(tx, "a gather of a shape value of %d dimensions", r);
		if ((s = tx_alloc(tx, (size_t) idx->numel, sizeof(TxDim))) == NULL)
			return false;
		for (int64_t k = 0; k < idx->numel; k++)
			s[k] = data->s[iv[k] < 0 ? iv[k] + n : iv[k]];
		tx_copy_val(out, data);
		out->s = s;
		out->ndim = idx->ndim;
		out->dims[0] = tx_dim(idx->numel);
		out->numel = idx->numel;
		out->i = NULL;
		/* known now? */
		for (int64_t k = 0; k < idx->numel; k++)
			if (!tx_dim_known(s[k]))
				return true;
		{
			int64_t		nd[1] = {idx->numel};

			if (!tx_make_const(tx, out, data->dtype, idx->ndim, nd))
				return false;
			for (int64_t k = 0; k < idx->numel; k++)
				((int64_t *) out->i)[k] = s[k].k;
		}
		return true;
	}
	if (!tx_make_const(tx, out, data->dtype, rr, dims))
		return false;
	{
		bool		fl = out->f != NULL;
		const float *f = fl ? tx_const_f(tx, data) : NULL;
		const int64_t *di = fl ? NULL : tx_const_i(tx, data);

		if (fl ? f == NULL : di == NULL)
			return false;
		for (int64_t o = 0; o < outer; o++)
			for (int64_t k = 0; k < idx->numel; k++)
			{
				int64_t		j = iv[k] < 0 ? iv[k] + n : iv[k];
				int64_t		dst = (o * idx->numel + k) * inner;
				int64_t		src = (o * n + j) * inner;

				if (fl)
					memcpy((float *) out->f + dst, f + src, sizeof(float) * (size_t) inner);
				else
					memcpy((int64_t *) out->i + dst, di + src, sizeof(int64_t) * (size_t) inner);
			}
	}
	return true;
}

static bool
eval_gather(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		axis;
	int			ax;
	TxVal	   *data = in[0],
			   *idx = in[1];

	if (!tx_attr_int(tx, n, "axis", 0, &axis) || !tx_axis(tx, axis, data->ndim, "axis", &ax))
		return false;
	if (tx_is_value(data) && idx->kind == TX_CONST)
		return fold_gather(tx, data, idx, ax, out[0]);
	if (data->kind == TX_CONST && ax == 0 && data->ndim == 2 &&
		(idx->kind == TX_TOKENS || idx->kind == TX_TYPES))
	{
		if (!tx_is_float_dtype(data->dtype))
			return tx_unsupported(tx, "an embedding table of type %s", maas_onnx_dtype_name(data->dtype));
		emb_shape(out[0], data, data->dtype);
		out[0]->tok_table = out[0]->pos_table = out[0]->type_table = -1;
		if (idx->kind == TX_TOKENS)
			out[0]->tok_table = tx_val_id(tx, data);
		else
			out[0]->type_table = tx_val_id(tx, data);
		return true;
	}
	if (data->kind == TX_CONST && ax == 0 && data->ndim == 2 && idx->kind == TX_IOTA)
	{
		int			axis_t = -1;

		/* Range(0, T), perhaps unsqueezed: rows 0 .. T-1 */
		for (int d = 0; d < idx->ndim; d++)
			if (!tx_dim_is(idx->dims[d], 1))
			{
				if (axis_t >= 0)
					axis_t = -2;
				else
					axis_t = d;
			}
		if (axis_t < 0 || !tx_dim_eq(idx->dims[axis_t], tx_dim_T) || idx->coef[axis_t] != 1 ||
			idx->c0 != 0)
			return tx_unsupported(tx, "a gather of \"%s\" by a range other than the positions 0 .. sequence - 1",
								  data->name);
		out[0]->kind = TX_POS;
		out[0]->dtype = data->dtype;
		out[0]->ndim = idx->ndim + 1;
		memcpy(out[0]->dims, idx->dims, sizeof(TxDim) * (size_t) idx->ndim);
		out[0]->dims[idx->ndim] = data->dims[1];
		out[0]->tok_table = out[0]->type_table = -1;
		out[0]->pos_table = tx_val_id(tx, data);
		return true;
	}
	if (data->kind == TX_RUN && data->seq && ax == 1 && idx->kind == TX_CONST && idx->ndim == 0)
	{
		/* one position of each row: the first or the last */
		out[0]->kind = TX_RUN;
		out[0]->dtype = data->dtype;
		out[0]->ndim = data->ndim - 1;
		out[0]->dims[0] = data->dims[0];
		for (int d = 2; d < data->ndim; d++)
			out[0]->dims[d - 1] = data->dims[d];
		out[0]->seq = false;
		out[0]->std = data->std;
		out[0]->layer = -1;
		return true;
	}
	return tx_unsupported(tx, "a gather of \"%s\" by \"%s\" is not supported", data->name, idx->name);
}

static bool
lower_gather(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	const int64_t *iv;
	TxLayer    *l;

	(void) n;
	if (out[0]->kind != TX_RUN)
		return true;			/* an embedding: made when read */
	if (!tx_require_std(tx, in[0], "the input") || (iv = tx_const_i(tx, in[1])) == NULL)
		return false;
	if (iv[0] != 0 && iv[0] != -1)
		return tx_unsupported(tx, "a gather of position %" PRId64 " of each row: maas pools the first or the last",
							  iv[0]);
	if ((l = tx_layer(tx, "pool", 1, &in[0]->layer)) == NULL ||
		!tx_key_str(tx, l, "mode", iv[0] == 0 ? "first" : "last"))
		return false;
	l->seq = false;
	tx_set_output(tx, out[0], l);
	return true;
}


/* ----------------------------------------------------------------
 *		ops that run only inside patterns (or fold)
 * ----------------------------------------------------------------
 */

static void
run_like(TxVal *out, const TxVal *in, bool std)
{
	out->kind = TX_RUN;
	out->dtype = in->dtype;
	out->ndim = in->ndim;
	memcpy(out->dims, in->dims, sizeof(TxDim) * (size_t) in->ndim);
	out->seq = in->seq;
	out->std = std;
	out->layer = -1;
}

static bool
eval_elementwise(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	if (strcmp(n->op_type, "Pow") == 0)
	{
		if (tx_is_value(in[0]) && tx_is_value(in[1]))
			return tx_fold_binary(tx, "Pow", in[0], in[1], out[0]);
		if (in[1]->kind != TX_CONST)
			return tx_unsupported(tx, "a power by a computed exponent");
	}
	else if (tx_is_value(in[0]))
		return tx_fold_unary(tx, n->op_type, in[0], out[0]);
	if (in[0]->kind != TX_RUN && in[0]->kind != TX_EMB)
		return tx_unsupported(tx, "%s of \"%s\" is not supported", n->op_type, in[0]->name);
	run_like(out[0], in[0], false);
	return true;
}

static bool
lower_pattern_only(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	(void) in;
	(void) out;
	if (strcmp(n->op_type, "Erf") == 0)
		return tx_unsupported(tx, "Erf is supported only within GELU (x * 0.5 * (1 + erf(x / sqrt(2))))");
	if (strcmp(n->op_type, "Where") == 0)
		return tx_unsupported(tx, "Where of a computed value is supported only as the causal mask of an attention");
	if (strcmp(n->op_type, "Split") == 0)
		return tx_unsupported(tx, "Split of a computed value is supported only into the query, key and value of an attention");
	return tx_unsupported(tx, "%s of a computed value is supported only within a LayerNorm or GELU pattern",
						  n->op_type);
}

static bool
eval_reduce_mean(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int			count;
	const int64_t *axes;
	int64_t		keep;
	bool		red[TX_RANK] = {false};
	int			r = 0;
	TxVal	   *x = in[0];

	if (!tx_attr_ints(tx, n, "axes", &count, &axes) || !tx_attr_int(tx, n, "keepdims", 1, &keep))
		return false;
	if (x->kind != TX_RUN && x->kind != TX_EMB)
		return tx_unsupported(tx, "ReduceMean of \"%s\" is not supported", x->name);
	for (int k = 0; k < (count < 0 ? x->ndim : count); k++)
	{
		int			ax = k;

		if (count >= 0 && !tx_axis(tx, axes[k], x->ndim, "axis", &ax))
			return false;
		red[ax] = true;
	}
	run_like(out[0], x, false);
	for (int d = 0; d < x->ndim; d++)
	{
		if (!red[d])
			out[0]->dims[r++] = x->dims[d];
		else if (keep)
			out[0]->dims[r++] = tx_dim(1);
	}
	out[0]->ndim = r;
	return true;
}

static bool
eval_split(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		axis;
	int			ax;
	int64_t		parts[64];
	int			np = n->n_outputs;
	TxVal	   *x = in[0];
	int64_t		total = 0;

	if (!tx_attr_int(tx, n, "axis", 0, &axis) || !tx_axis(tx, axis, x->ndim, "axis", &ax))
		return false;
	if (!tx_dim_known(x->dims[ax]))
		return tx_unsupported(tx, "a Split along a symbolic axis");
	if (tx->opset >= 13 && n->n_inputs >= 2 && in[1] != NULL)
	{
		TxDim		d[64];
		int			c;

		if (!tx_int_list(tx, in[1], "split", &c, d, 64))
			return false;
		if (c != np)
			return tx_invalid(tx, "split has %d sizes for %d outputs", c, np);
		for (int k = 0; k < c; k++)
			parts[k] = d[k].k;
	}
	else if (maas_onnx_attr(n, "split") != NULL)
	{
		const int64_t *p;
		int			c;

		if (!tx_attr_ints(tx, n, "split", &c, &p))
			return false;
		if (c != np)
			return tx_invalid(tx, "split has %d sizes for %d outputs", c, np);
		for (int k = 0; k < c; k++)
			parts[k] = p[k];
	}
	else
	{
		if (x->dims[ax].k % np != 0)
			return tx_invalid(tx, "%" PRId64 " does not split into %d equal parts", x->dims[ax].k, np);
		for (int k = 0; k < np; k++)
			parts[k] = x->dims[ax].k / np;
	}
	for (int k = 0; k < np; k++)
		total += parts[k];
	if (total != x->dims[ax].k)
		return tx_invalid(tx, "the parts add up to %" PRId64 ", not %" PRId64, total, x->dims[ax].k);
	if (x->kind == TX_CONST)
	{
		int64_t		off = 0;

		for (int k = 0; k < np; k++)
		{
			TxDim		starts[1] = {tx_dim(off)};
			TxDim		ends[1] = {tx_dim(off + parts[k])};
			TxDim		axes[1] = {tx_dim(ax)};

			off += parts[k];
			if (!tx_slice(tx, x, 1, starts, ends, axes, NULL, out[k]))
				return false;
		}
		return true;
	}
	if (x->kind != TX_RUN)
		return tx_unsupported(tx, "Split of \"%s\" is not supported", x->name);
	for (int k = 0; k < np; k++)
	{
		run_like(out[k], x, false);
		out[k]->dims[ax] = tx_dim(parts[k]);
	}
	return true;
}

static bool
eval_where(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	TxVal		s1,
				s2;

	(void) n;
	if (tx_is_value(in[0]) && tx_is_value(in[1]) && tx_is_value(in[2]))
	{
		/* c ? x : y as c * x + (1 - c) * y would lose NaN and infinities */
		const int64_t *c = tx_const_i(tx, in[0]);
		TxVal		zero;
		TxVal	   *x = in[1],
				   *y = in[2];

		if (c == NULL || !tx_broadcast(tx, in[0], x, &s1) || !tx_broadcast(tx, &s1, y, &s2))
			return false;
		memset(&zero, 0, sizeof(zero));
		/* shape of the result via an addition of zeros, then select */
		{
			int64_t		dims[TX_RANK];
			int64_t		sc[TX_RANK],
						sx[TX_RANK],
						sy[TX_RANK];
			int			r = s2.ndim;
			const float *fx = NULL,
					   *fy = NULL;
			const int64_t *ix = NULL,
					   *iy = NULL;
			bool		fl = tx_is_float_dtype(x->dtype);

			for (int d = 0; d < r; d++)
			{
				if (!tx_dim_known(s2.dims[d]))
					return tx_unsupported(tx, "Where over a symbolic shape");
				dims[d] = s2.dims[d].k;
			}
			if (fl ? ((fx = tx_const_f(tx, x)) == NULL || (fy = tx_const_f(tx, y)) == NULL) :
				((ix = tx_const_i(tx, x)) == NULL || (iy = tx_const_i(tx, y)) == NULL))
				return false;
			if (!tx_make_const(tx, out[0], x->dtype, r, dims))
				return false;
			{
				const TxVal *vs[3] = {in[0], x, y};
				int64_t    *st[3] = {sc, sx, sy};

				for (int k = 0; k < 3; k++)
				{
					int64_t		s = 1;

					for (int d = r - 1; d >= 0; d--)
					{
						int			dv = d - (r - vs[k]->ndim);

						st[k][d] = dv < 0 || vs[k]->dims[dv].k == 1 ? 0 : s;
						if (dv >= 0)
							s *= vs[k]->dims[dv].k;
					}
				}
			}
			for (int64_t k = 0; k < out[0]->numel; k++)
			{
				int64_t		rem = k,
							oc = 0,
							ox = 0,
							oy = 0;

				for (int d = r - 1; d >= 0; d--)
				{
					int64_t		idx = rem % dims[d];

					rem /= dims[d];
					oc += idx * sc[d];
					ox += idx * sx[d];
					oy += idx * sy[d];
				}
				if (fl)
					((float *) out[0]->f)[k] = c[oc] ? fx[ox] : fy[oy];
				else
					((int64_t *) out[0]->i)[k] = c[oc] ? ix[ox] : iy[oy];
			}
		}
		return true;
	}
	if (in[1]->kind != TX_RUN && in[2]->kind != TX_RUN)
		return tx_unsupported(tx, "Where of \"%s\" and \"%s\" is not supported", in[1]->name, in[2]->name);
	if (!tx_broadcast(tx, in[0], in[1], &s1) || !tx_broadcast(tx, &s1, in[2], &s2))
		return false;
	run_like(out[0], in[1]->kind == TX_RUN ? in[1] : in[2], false);
	out[0]->ndim = s2.ndim;
	memcpy(out[0]->dims, s2.dims, sizeof(TxDim) * (size_t) s2.ndim);
	return true;
}

static bool
eval_layernorm_op(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	(void) n;
	if (in[0]->kind != TX_RUN && in[0]->kind != TX_EMB)
		return tx_unsupported(tx, "LayerNormalization of \"%s\" is not supported", in[0]->name);
	if (in[1] == NULL || in[1]->kind != TX_CONST || (in[2] != NULL && in[2]->kind != TX_CONST))
		return tx_unsupported(tx, "a LayerNormalization with a computed scale or bias");
	for (int k = 1; k < n->n_outputs; k++)
		if (n->outputs[k][0] != '\0')
			return tx_unsupported(tx, "the mean and inverse deviation outputs of a LayerNormalization");
	run_like(out[0], in[0], in[0]->std);
	return true;
}

/* a layernorm layer over x's vector, weight and bias constants of [C] or absent */
bool
tx_emit_layernorm(Tx *tx, TxVal *x, int gamma, int beta, double eps, TxVal *out)
{
	int64_t		c;
	TxLayer    *l;
	int			t;

	if (!tx_require_std(tx, x, "the input"))
		return false;
	c = x->dims[x->ndim - 1].k;
	if (x->ndim != (x->seq ? 3 : 2))
		return tx_unsupported(tx, "a layer norm of \"%s\", which has %d dimensions", x->name, x->ndim);
	if (!(eps > 0))
		return tx_invalid(tx, "epsilon %g is not positive", eps);
	if ((l = tx_layer(tx, "layernorm", 1, &x->layer)) == NULL)
		return false;
	l->name = out->name;
	for (int k = 0; k < 2; k++)
	{
		int			id = k == 0 ? gamma : beta;

		if (id >= 0)
		{
			TxVal	   *v = &tx->vals[id];

			if (v->numel != c || !tx_is_float_dtype(v->dtype))
				return tx_unsupported(tx, "a layer norm whose %s \"%s\" is not %" PRId64 " floats",
									  k == 0 ? "scale" : "bias", v->name, c);
			if (v->ndim == 1)
				t = tx_tensor_const(tx, id, NULL);
			else
			{
				const float *f = tx_const_f(tx, v);

				if (f == NULL || (t = tx_tensor_new(tx, v->name, 1, &c)) < 0)
					return false;
				memcpy(tx->tensors[t].data, f, sizeof(float) * (size_t) c);
			}
		}
		else
		{
			char		name[512];

			snprintf(name, sizeof(name), "%.490s.%s", out->name, k == 0 ? "weight" : "bias");
			if ((t = tx_tensor_new(tx, name, 1, &c)) < 0)
				return false;
			if (k == 0)
				for (int64_t j = 0; j < c; j++)
					tx->tensors[t].data[j] = 1.0f;
		}
		if (t < 0 || !tx_key_tensor(tx, l, k == 0 ? "weight" : "bias", t))
			return false;
	}
	if (!tx_key_num(tx, l, "eps", (float) eps))
		return false;
	tx_set_output(tx, out, l);
	return true;
}

static bool
lower_layernorm_op(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		axis;
	double		eps;
	int			ax;

	if (!tx_attr_int(tx, n, "axis", -1, &axis) || !tx_attr_float(tx, n, "epsilon", 1e-5, &eps) ||
		!tx_axis(tx, axis, in[0]->ndim, "axis", &ax))
		return false;
	if (ax != in[0]->ndim - 1)
		return tx_unsupported(tx, "a LayerNormalization over axes %d and after: maas normalizes the last axis", ax);
	return tx_emit_layernorm(tx, in[0], tx_val_id(tx, in[1]),
							 in[2] != NULL ? tx_val_id(tx, in[2]) : -1, eps, out[0]);
}

static bool
lower_gelu_op(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	const char *approx;
	TxLayer    *l;

	if (!tx_attr_string(tx, n, "approximate", "none", &approx))
		return false;
	if (strcmp(approx, "none") != 0 && strcmp(approx, "tanh") != 0)
		return tx_unsupported(tx, "approximate \"%s\"", approx);
	if (!tx_require_std(tx, in[0], "the input") ||
		(l = tx_layer(tx, "gelu", 1, &in[0]->layer)) == NULL ||
		(strcmp(approx, "tanh") == 0 && !tx_key_str(tx, l, "approximate", "tanh")))
		return false;
	tx_set_output(tx, out[0], l);
	return true;
}

static bool
eval_gelu_op(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	(void) n;
	if (in[0]->kind != TX_RUN && in[0]->kind != TX_EMB)
		return tx_unsupported(tx, "Gelu of \"%s\" is not supported", in[0]->name);
	run_like(out[0], in[0], in[0]->std);
	return true;
}


static const char *const no_attrs[] = {NULL};
static const char *const axis_attrs[] = {"axis", NULL};
static const char *const reduce_attrs[] = {"axes", "keepdims", NULL};
static const char *const split_attrs[] = {"axis", "split", NULL};
static const char *const ln_attrs[] = {"axis", "epsilon", "stash_type", NULL};
static const char *const gelu_attrs[] = {"approximate", NULL};

const TxOp	tx_text_ops[] = {
	{"Gather", axis_attrs, eval_gather, lower_gather, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"LayerNormalization", ln_attrs, eval_layernorm_op, lower_layernorm_op, false,
	TX_ARITY(2, 3, TX_OPT(2), 1, 3)},
	{"Gelu", gelu_attrs, eval_gelu_op, lower_gelu_op, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"ReduceMean", reduce_attrs, eval_reduce_mean, lower_pattern_only, false,
	TX_ARITY2(1, 1, 0, 1, 1, 18, 1, 2, TX_OPT(1))},
	{"Pow", no_attrs, eval_elementwise, lower_pattern_only, false,
	TX_ARITY(2, 2, 0, 1, 1)},
	{"Sqrt", no_attrs, eval_elementwise, lower_pattern_only, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Erf", no_attrs, eval_elementwise, lower_pattern_only, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"Split", split_attrs, eval_split, lower_pattern_only, false,
	TX_ARITY2(1, 1, 0, 1, TX_ANY, 13, 1, 2, TX_OPT(1))},
	{"Where", no_attrs, eval_where, lower_pattern_only, false,
	TX_ARITY(3, 3, 0, 1, 1)},
};

const int	tx_n_text_ops = (int) (sizeof(tx_text_ops) / sizeof(tx_text_ops[0]));
