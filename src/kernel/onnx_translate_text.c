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
 * The patterns, matched over the live nodes before any layer is made and
 * emitted at their last node:
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

typedef enum PatternType
{
	PAT_LAYERNORM,
	PAT_GELU,
	PAT_ATTENTION
} PatternType;

typedef struct TxPattern
{
	PatternType type;
	int			anchor;			/* its last node */
	int			out;			/* value ids */
	int			x;				/* layernorm, gelu: the input; attention: q */
	int			k,
				v;
	int			fused;			/* attention: the value split into q, k, v */
	int			gamma,
				beta;			/* layernorm: constants or -1 */
	double		eps;
	bool		tanh;			/* gelu */
	int			heads;
	bool		causal;
	bool		padded;
} TxPattern;


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
static bool
emit_layernorm(Tx *tx, TxVal *x, int gamma, int beta, double eps, TxVal *out)
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
	return emit_layernorm(tx, in[0], tx_val_id(tx, in[1]),
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


/* ----------------------------------------------------------------
 *		matching
 * ----------------------------------------------------------------
 */

typedef struct Match
{
	Tx		   *tx;
	int32_t    *first;			/* CSR: consumers of value v */
	int32_t    *cons;
	int			covered[64];	/* nodes of the pattern being matched */
	int			n_covered;
} Match;

static int
n_readers(const Match *m, int v)
{
	return m->first[v + 1] - m->first[v];
}

/* the one node reading v, or -1 */
static int
sole_reader(const Match *m, int v)
{
	int			k = m->first[v];

	if (n_readers(m, v) < 1)
		return -1;
	for (int j = k + 1; j < m->first[v + 1]; j++)
		if (m->cons[j] != m->cons[k])
			return -1;
	return m->cons[k];
}

static const MaasOnnxNode *
node_of(const Match *m, int node)
{
	return &m->tx->g->nodes[node];
}

static bool
is(const Match *m, int node, const char *op)
{
	return node >= 0 && strcmp(node_of(m, node)->op_type, op) == 0;
}

/* value id of input k of a node, or -1 */
static int
in_of(const Match *m, int node, int k)
{
	if (k >= node_of(m, node)->n_inputs)
		return -1;
	return m->tx->in_val[m->tx->in_base[node] + k];
}

static int
out_of(const Match *m, int node)
{
	return m->tx->out_base[node];
}

static int
producer(const Match *m, int v)
{
	return v >= 0 ? m->tx->vals[v].producer : -1;
}

static bool
cover(Match *m, int node)
{
	if (node < 0 || m->n_covered >= 64 || m->tx->covered[node] >= 0)
		return false;
	for (int k = 0; k < m->n_covered; k++)
		if (m->covered[k] == node)
			return true;
	m->covered[m->n_covered++] = node;
	return true;
}

static bool
const_near(const Match *m, int v, double want, double rel)
{
	double		x;

	return v >= 0 && tx_float_scalar(m->tx, &m->tx->vals[v], &x) &&
		fabs(x - want) <= rel * fabs(want);
}

/* the other input of a binary node than value v (-1 if v is not one) */
static int
other_input(const Match *m, int node, int v)
{
	if (in_of(m, node, 0) == v)
		return in_of(m, node, 1);
	if (in_of(m, node, 1) == v)
		return in_of(m, node, 0);
	return -1;
}

/* a ReduceMean over the last axis, keeping it */
static bool
mean_last(const Match *m, int node)
{
	const MaasOnnxNode *n = node_of(m, node);
	const MaasOnnxAttr *axes = maas_onnx_attr(n, "axes");
	const MaasOnnxAttr *keep = maas_onnx_attr(n, "keepdims");
	int			r = m->tx->vals[in_of(m, node, 0)].ndim;

	if (!is(m, node, "ReduceMean") || axes == NULL || axes->type != MAAS_ONNX_ATTR_INTS ||
		axes->n != 1)
		return false;
	if (keep != NULL && (keep->type != MAAS_ONNX_ATTR_INT || keep->i != 1))
		return false;
	return axes->ints[0] == -1 || axes->ints[0] == r - 1;
}

static void
commit(Match *m, TxPattern *p)
{
	Tx		   *tx = m->tx;
	int			last = -1;

	/* the anchor: the covered node that comes last in the order */
	for (int i = 0; i < tx->g->n_nodes; i++)
		for (int k = 0; k < m->n_covered; k++)
			if (tx->g->order[i] == m->covered[k])
				last = tx->g->order[i];
	p->anchor = last;
	for (int k = 0; k < m->n_covered; k++)
		tx->covered[m->covered[k]] = tx->n_patterns;
	tx->anchor[last] = tx->n_patterns;
	tx->patterns[tx->n_patterns++] = *p;
}

static bool
match_layernorm(Match *m, int r1, TxPattern *p)
{
	int			x = in_of(m, r1, 0);
	int			mean = out_of(m, r1);
	int			sub,
				d,
				sq,
				r2,
				add,
				sqrt_n,
				div,
				cur;
	int			eps_v;

	if (!mean_last(m, r1) || (m->tx->vals[x].kind != TX_RUN && m->tx->vals[x].kind != TX_EMB))
		return false;
	if ((sub = sole_reader(m, mean)) < 0 || !is(m, sub, "Sub") ||
		in_of(m, sub, 0) != x || in_of(m, sub, 1) != mean)
		return false;
	d = out_of(m, sub);
	if (n_readers(m, d) < 2 || n_readers(m, d) > 3)
		return false;
	sq = div = -1;
	for (int j = m->first[d]; j < m->first[d + 1]; j++)
	{
		int			c = m->cons[j];

		if (is(m, c, "Pow") && in_of(m, c, 0) == d && const_near(m, in_of(m, c, 1), 2.0, 0))
			sq = c;
		else if (is(m, c, "Mul") && in_of(m, c, 0) == d && in_of(m, c, 1) == d)
			sq = c;
		else if (is(m, c, "Div") && in_of(m, c, 0) == d)
			div = c;
		else
			return false;
	}
	if (sq < 0 || div < 0)
		return false;
	if ((r2 = sole_reader(m, out_of(m, sq))) < 0 || !mean_last(m, r2) ||
		(add = sole_reader(m, out_of(m, r2))) < 0 || !is(m, add, "Add") ||
		(eps_v = other_input(m, add, out_of(m, r2))) < 0 ||
		!tx_float_scalar(m->tx, &m->tx->vals[eps_v], &p->eps) ||
		(sqrt_n = sole_reader(m, out_of(m, add))) < 0 || !is(m, sqrt_n, "Sqrt") ||
		sole_reader(m, out_of(m, sqrt_n)) != div || in_of(m, div, 1) != out_of(m, sqrt_n))
		return false;
	if (!cover(m, r1) || !cover(m, sub) || !cover(m, sq) || !cover(m, r2) || !cover(m, add) ||
		!cover(m, sqrt_n) || !cover(m, div))
		return false;
	p->type = PAT_LAYERNORM;
	p->x = x;
	p->gamma = p->beta = -1;
	cur = out_of(m, div);
	/* the scale, then the bias, constants of the last axis */
	{
		int			mul = sole_reader(m, cur);
		int			c;

		if (is(m, mul, "Mul") && (c = other_input(m, mul, cur)) >= 0 &&
			m->tx->vals[c].kind == TX_CONST && cover(m, mul))
		{
			p->gamma = c;
			cur = out_of(m, mul);
		}
	}
	{
		int			add2 = sole_reader(m, cur);
		int			c;

		if (is(m, add2, "Add") && (c = other_input(m, add2, cur)) >= 0 &&
			m->tx->vals[c].kind == TX_CONST && cover(m, add2))
		{
			p->beta = c;
			cur = out_of(m, add2);
		}
	}
	p->out = cur;
	return true;
}

/*
 * From value a (1 + erf or 1 + tanh), the Mul nodes that multiply it by x
 * and by 0.5 in any grouping; the value they give, or -1.
 */
static int
times_half_x(Match *m, int a, int x)
{
	bool		have_x = false,
				have_half = false;
	int			cur = a;

	for (int step = 0; step < 3 && !(have_x && have_half); step++)
	{
		int			mul = sole_reader(m, cur);
		int			o;

		if (!is(m, mul, "Mul") || (o = other_input(m, mul, cur)) < 0 || !cover(m, mul))
			return -1;
		if (o == x && !have_x)
			have_x = true;
		else if (const_near(m, o, 0.5, 1e-6) && !have_half)
			have_half = true;
		else
		{
			int			h = producer(m, o);
			int			y;

			if (!is(m, h, "Mul") || sole_reader(m, o) != mul ||
				(y = other_input(m, h, x)) < 0 || !const_near(m, y, 0.5, 1e-6) ||
				have_x || have_half || !cover(m, h))
				return -1;
			have_x = have_half = true;
		}
		cur = out_of(m, mul);
	}
	return have_x && have_half ? cur : -1;
}

static bool
match_gelu_erf(Match *m, int erf, TxPattern *p)
{
	int			u = in_of(m, erf, 0);
	int			scale = producer(m, u);
	int			x,
				c,
				add,
				one,
				out;

	if (scale < 0 || sole_reader(m, u) != erf)
		return false;
	if (is(m, scale, "Div"))
	{
		x = in_of(m, scale, 0);
		if (!const_near(m, in_of(m, scale, 1), sqrt(2.0), 1e-6))
			return false;
	}
	else if (is(m, scale, "Mul"))
	{
		x = in_of(m, scale, 0);
		c = in_of(m, scale, 1);
		if (!const_near(m, c, sqrt(0.5), 1e-6))
		{
			x = c;
			if (!const_near(m, in_of(m, scale, 0), sqrt(0.5), 1e-6))
				return false;
		}
	}
	else
		return false;
	if (m->tx->vals[x].kind != TX_RUN && m->tx->vals[x].kind != TX_EMB)
		return false;
	if ((add = sole_reader(m, out_of(m, erf))) < 0 || !is(m, add, "Add") ||
		(one = other_input(m, add, out_of(m, erf))) < 0 || !const_near(m, one, 1.0, 0))
		return false;
	if (!cover(m, scale) || !cover(m, erf) || !cover(m, add))
		return false;
	if ((out = times_half_x(m, out_of(m, add), x)) < 0)
		return false;
	p->type = PAT_GELU;
	p->x = x;
	p->out = out;
	p->tanh = false;
	return true;
}

static bool
match_gelu_tanh(Match *m, int tanh_n, TxPattern *p)
{
	int			s = in_of(m, tanh_n, 0);
	int			mul_s = producer(m, s);
	int			r,
				add_r,
				q,
				mul_q,
				pw,
				x,
				add,
				one,
				out,
				c;

	if (!is(m, mul_s, "Mul") || sole_reader(m, s) != tanh_n)
		return false;
	r = in_of(m, mul_s, 0);
	c = in_of(m, mul_s, 1);
	if (!const_near(m, c, sqrt(2.0 / M_PI), 1e-6))
	{
		r = c;
		if (!const_near(m, in_of(m, mul_s, 0), sqrt(2.0 / M_PI), 1e-6))
			return false;
	}
	if ((add_r = producer(m, r)) < 0 || !is(m, add_r, "Add") || sole_reader(m, r) != mul_s)
		return false;
	/* x + 0.044715 x^3: one input is x, the other the cubic term */
	for (int k = 0; k < 2; k++)
	{
		x = in_of(m, add_r, k);
		q = in_of(m, add_r, 1 - k);
		mul_q = producer(m, q);
		if (!is(m, mul_q, "Mul") || sole_reader(m, q) != add_r)
			continue;
		pw = producer(m, in_of(m, mul_q, 0));
		c = in_of(m, mul_q, 1);
		if (!const_near(m, c, 0.044715, 1e-6))
		{
			pw = producer(m, in_of(m, mul_q, 1));
			c = in_of(m, mul_q, 0);
		}
		if (!const_near(m, c, 0.044715, 1e-6) || !is(m, pw, "Pow") || in_of(m, pw, 0) != x ||
			!const_near(m, in_of(m, pw, 1), 3.0, 0) || sole_reader(m, out_of(m, pw)) != mul_q)
			continue;
		if (m->tx->vals[x].kind != TX_RUN && m->tx->vals[x].kind != TX_EMB)
			return false;
		if ((add = sole_reader(m, out_of(m, tanh_n))) < 0 || !is(m, add, "Add") ||
			(one = other_input(m, add, out_of(m, tanh_n))) < 0 || !const_near(m, one, 1.0, 0))
			return false;
		if (!cover(m, pw) || !cover(m, mul_q) || !cover(m, add_r) || !cover(m, mul_s) ||
			!cover(m, tanh_n) || !cover(m, add))
			return false;
		if ((out = times_half_x(m, out_of(m, add), x)) < 0)
			return false;
		p->type = PAT_GELU;
		p->x = x;
		p->out = out;
		p->tanh = true;
		return true;
	}
	return false;
}

/* a Transpose with this permutation of rank 4 */
static bool
transpose_is(const Match *m, int node, int a, int b, int c, int d)
{
	const MaasOnnxAttr *perm;

	if (!is(m, node, "Transpose"))
		return false;
	perm = maas_onnx_attr(node_of(m, node), "perm");
	return perm != NULL && perm->type == MAAS_ONNX_ATTR_INTS && perm->n == 4 &&
		perm->ints[0] == a && perm->ints[1] == b && perm->ints[2] == c && perm->ints[3] == d;
}

/*
 * head of value v: Transpose(Reshape(x, [B, T, H, hs]), perm) with x a
 * sequence [B, T, C]; returns x (and H, hs) or -1
 */
static int
head_split(Match *m, int v, int a, int b, int c, int d, int *heads, int64_t *hs)
{
	int			t = producer(m, v);
	int			r,
				x;
	const TxVal *rv,
			   *xv;

	if (!transpose_is(m, t, a, b, c, d) || sole_reader(m, v) < 0)
		return -1;
	r = producer(m, in_of(m, t, 0));
	if (!is(m, r, "Reshape") || sole_reader(m, out_of(m, r)) != t)
		return -1;
	rv = &m->tx->vals[out_of(m, r)];
	x = in_of(m, r, 0);
	xv = &m->tx->vals[x];
	if (rv->ndim != 4 || !tx_dim_eq(rv->dims[0], tx_dim_B) || !tx_dim_eq(rv->dims[1], tx_dim_T) ||
		!tx_dim_known(rv->dims[2]) || !tx_dim_known(rv->dims[3]) ||
		xv->kind != TX_RUN || !xv->seq || xv->ndim != 3)
		return -1;
	if (!cover(m, t) || !cover(m, r))
		return -1;
	*heads = (int) rv->dims[2].k;
	*hs = rv->dims[3].k;
	return x;
}

/* the causal mask: allowed iff key <= query over the last two axes */
static bool
is_causal(const TxVal *mask)
{
	int			r = mask->ndim;

	if (mask->kind != TX_MASK || r < 2)
		return false;
	for (int d = 0; d < r - 2; d++)
		if (mask->coef[d] != 0)
			return false;
	return mask->coef[r - 2] == 1 && mask->coef[r - 1] == -1 && mask->c0 == 0 &&
		tx_dim_eq(mask->dims[r - 2], tx_dim_T) && tx_dim_eq(mask->dims[r - 1], tx_dim_T);
}

/* the padding mask: (1 - m) * -big, m the attention mask [B, 1, 1, T] */
static bool
is_padding(const TxVal *v)
{
	if (v->kind != TX_MASKIN || v->ndim != 4 || !tx_dim_eq(v->dims[0], tx_dim_B) ||
		!tx_dim_is(v->dims[1], 1) || !tx_dim_is(v->dims[2], 1) || !tx_dim_eq(v->dims[3], tx_dim_T))
		return false;
	/* m = 1: no change; m = 0: at most -10000 */
	return fabs(v->a + v->c) <= 1e-6 * (fabs(v->c) + 1) && v->c <= -1e4;
}

static bool
match_attention(Match *m, int softmax, TxPattern *p)
{
	Tx		   *tx = m->tx;
	int			s = in_of(m, softmax, 0);
	int			mm2,
				o,
				t_o,
				y_r,
				qk,
				q,
				k,
				v;
	double		scale = 1.0;
	int			heads,
				hk,
				hv;
	int64_t		hs,
				hsk,
				hsv;
	const MaasOnnxAttr *axis = maas_onnx_attr(node_of(m, softmax), "axis");

	if (axis == NULL || axis->type != MAAS_ONNX_ATTR_INT || (axis->i != -1 && axis->i != 3))
		return false;
	if (tx->vals[s].ndim != 4)
		return false;
	/* softmax -> MatMul v -> Transpose -> Reshape [B, T, C] */
	if ((mm2 = sole_reader(m, out_of(m, softmax))) < 0 || !is(m, mm2, "MatMul") ||
		in_of(m, mm2, 0) != out_of(m, softmax))
		return false;
	o = out_of(m, mm2);
	if ((t_o = sole_reader(m, o)) < 0 || !transpose_is(m, t_o, 0, 2, 1, 3) ||
		(y_r = sole_reader(m, out_of(m, t_o))) < 0 || !is(m, y_r, "Reshape"))
		return false;
	{
		const TxVal *y = &tx->vals[out_of(m, y_r)];

		if (y->ndim != 3 || !y->seq || !tx_std_shape(y))
			return false;
	}
	if (!cover(m, softmax) || !cover(m, mm2) || !cover(m, t_o) || !cover(m, y_r))
		return false;
	/* back from the softmax: masks and the scale, down to MatMul(q, k^T) */
	p->causal = p->padded = false;
	for (qk = producer(m, s); qk >= 0 && !is(m, qk, "MatMul"); qk = producer(m, s))
	{
		int			node = qk;

		if (sole_reader(m, s) < 0 || !cover(m, node))
			return false;
		if (is(m, node, "Where") && is_causal(&tx->vals[in_of(m, node, 0)]) && !p->causal)
		{
			double		neg;

			if (!tx_float_scalar(tx, &tx->vals[in_of(m, node, 2)], &neg) || !(neg <= -1e4))
				return false;
			p->causal = true;
			s = in_of(m, node, 1);
		}
		else if (is(m, node, "Add") && !p->padded &&
				 (is_padding(&tx->vals[in_of(m, node, 1)]) || is_padding(&tx->vals[in_of(m, node, 0)])))
		{
			p->padded = true;
			s = is_padding(&tx->vals[in_of(m, node, 1)]) ? in_of(m, node, 0) : in_of(m, node, 1);
		}
		else if ((is(m, node, "Div") || is(m, node, "Mul")) &&
				 tx->vals[in_of(m, node, 1)].kind == TX_CONST)
		{
			double		c;

			if (!tx_float_scalar(tx, &tx->vals[in_of(m, node, 1)], &c) || c == 0)
				return false;
			scale *= is(m, node, "Div") ? 1.0 / c : c;
			s = in_of(m, node, 0);
		}
		else
			return false;
	}
	if (qk < 0 || sole_reader(m, s) < 0 || !cover(m, qk))
		return false;
	/* q: [B, H, T, hs]; k^T: [B, H, hs, T] directly or through [B, H, T, hs] */
	if ((q = head_split(m, in_of(m, qk, 0), 0, 2, 1, 3, &heads, &hs)) < 0)
		return false;
	k = head_split(m, in_of(m, qk, 1), 0, 2, 3, 1, &hk, &hsk);
	if (k < 0)
	{
		int			t2 = producer(m, in_of(m, qk, 1));

		if (!transpose_is(m, t2, 0, 1, 3, 2) || sole_reader(m, in_of(m, qk, 1)) != qk ||
			(k = head_split(m, in_of(m, t2, 0), 0, 2, 1, 3, &hk, &hsk)) < 0 || !cover(m, t2))
			return false;
	}
	if ((v = head_split(m, in_of(m, mm2, 1), 0, 2, 1, 3, &hv, &hsv)) < 0)
		return false;
	if (hk != heads || hv != heads || hsk != hs || hsv != hs ||
		tx->vals[q].dims[2].k != heads * hs)
		return false;
	if (fabs(scale * sqrt((double) hs) - 1.0) > 1e-5)
		return false;
	p->type = PAT_ATTENTION;
	p->heads = heads;
	p->x = q;
	p->k = k;
	p->v = v;
	p->fused = -1;
	p->out = out_of(m, y_r);
	/* q, k, v as the three parts of one Split: the runtime reads the whole */
	{
		int			sp = producer(m, q);

		if (is(m, sp, "Split") && producer(m, k) == sp && producer(m, v) == sp &&
			q == out_of(m, sp) && k == out_of(m, sp) + 1 && v == out_of(m, sp) + 2 &&
			node_of(m, sp)->n_outputs == 3 && tx->vals[q].dims[2].k * 3 ==
			tx->vals[in_of(m, sp, 0)].dims[2].k &&
			sole_reader(m, q) >= 0 && sole_reader(m, k) >= 0 && sole_reader(m, v) >= 0)
		{
			const TxVal *xs = &tx->vals[in_of(m, sp, 0)];
			const MaasOnnxAttr *ax = maas_onnx_attr(node_of(m, sp), "axis");

			if (ax != NULL && ax->type == MAAS_ONNX_ATTR_INT &&
				(ax->i == 2 || ax->i == -1) && xs->kind == TX_RUN && xs->seq && cover(m, sp))
				p->fused = in_of(m, sp, 0);
		}
	}
	return true;
}

bool
tx_find_patterns(Tx *tx)
{
	const MaasOnnxGraph *g = tx->g;
	Match		m;
	int64_t		n_edges = 0;

	memset(&m, 0, sizeof(m));
	m.tx = tx;
	if ((m.first = tx_alloc(tx, (size_t) tx->n_vals + 1, sizeof(int32_t))) == NULL)
		return false;
	for (int i = 0; i < g->n_nodes; i++)
		if (tx->live[i] && !tx->ops[i]->reads_shape_only)
			for (int k = 0; k < g->nodes[i].n_inputs; k++)
			{
				int			id = tx->in_val[tx->in_base[i] + k];

				if (id >= 0)
				{
					m.first[id + 1]++;
					n_edges++;
				}
			}
	for (int v = 0; v < tx->n_vals; v++)
		m.first[v + 1] += m.first[v];
	if ((m.cons = tx_alloc(tx, (size_t) n_edges + 1, sizeof(int32_t))) == NULL)
		return false;
	{
		int32_t    *fill = tx_alloc(tx, (size_t) tx->n_vals + 1, sizeof(int32_t));

		if (fill == NULL)
			return false;
		memcpy(fill, m.first, sizeof(int32_t) * ((size_t) tx->n_vals + 1));
		for (int i = 0; i < g->n_nodes; i++)
			if (tx->live[i] && !tx->ops[i]->reads_shape_only)
				for (int k = 0; k < g->nodes[i].n_inputs; k++)
				{
					int			id = tx->in_val[tx->in_base[i] + k];

					if (id >= 0)
						m.cons[fill[id]++] = i;
				}
	}
	/* graph outputs count as readers outside any pattern */
	tx->cap_patterns = 16;
	if ((tx->patterns = tx_alloc(tx, (size_t) tx->cap_patterns, sizeof(TxPattern))) == NULL)
		return false;

	for (int i = 0; i < g->n_nodes; i++)
	{
		int			node = g->order[i];
		TxPattern	p;
		bool		found = false;

		if (!tx->live[node] || tx->covered[node] >= 0)
			continue;
		m.n_covered = 0;
		memset(&p, 0, sizeof(p));
		if (is(&m, node, "ReduceMean"))
			found = match_layernorm(&m, node, &p);
		else if (is(&m, node, "Erf"))
			found = match_gelu_erf(&m, node, &p);
		else if (is(&m, node, "Tanh"))
			found = match_gelu_tanh(&m, node, &p);
		else if (is(&m, node, "Softmax"))
			found = match_attention(&m, node, &p);
		if (!found)
			continue;
		/* inner values read only inside: the output's readers are outside */
		for (int k = 0; k < m.n_covered && found; k++)
		{
			const MaasOnnxNode *n = node_of(&m, m.covered[k]);

			for (int o = 0; o < n->n_outputs && found; o++)
			{
				int			v = out_of(&m, m.covered[k]) + o;

				if (v == p.out || tx->vals[v].uses == 0)
					continue;
				for (int j = m.first[v]; j < m.first[v + 1] && found; j++)
				{
					bool		inside = false;

					for (int c = 0; c < m.n_covered; c++)
						if (m.cons[j] == m.covered[c])
							inside = true;
					found = inside;
				}
				/* a graph output among the inner values */
				for (int go = 0; go < tx->g->n_outputs && found; go++)
					if (strcmp(tx->g->outputs[go].name, tx->vals[v].name) == 0)
						found = false;
			}
		}
		if (!found)
			continue;
		if (tx->n_patterns == tx->cap_patterns)
		{
			TxPattern  *grown = tx_alloc(tx, (size_t) tx->cap_patterns * 2, sizeof(TxPattern));

			if (grown == NULL)
				return false;
			memcpy(grown, tx->patterns, sizeof(TxPattern) * (size_t) tx->n_patterns);
			tx->patterns = grown;
			tx->cap_patterns *= 2;
		}
		commit(&m, &p);
	}
	return true;
}

bool
tx_emit_pattern(Tx *tx, int pattern)
{
	const TxPattern *p = &tx->patterns[pattern];
	TxVal	   *out = &tx->vals[p->out];
	TxVal	   *x = &tx->vals[p->x];
	TxLayer    *l;

	switch (p->type)
	{
		case PAT_LAYERNORM:
			return emit_layernorm(tx, x, p->gamma, p->beta, p->eps, out);
		case PAT_GELU:
			if (!tx_require_std(tx, x, "the input") ||
				(l = tx_layer(tx, "gelu", 1, &x->layer)) == NULL ||
				(p->tanh && !tx_key_str(tx, l, "approximate", "tanh")))
				return false;
			l->name = out->name;
			tx_set_output(tx, out, l);
			return true;
		case PAT_ATTENTION:
			{
				int			ids[3];
				int			n = 0;

				if (p->fused >= 0)
				{
					if (!tx_require_std(tx, &tx->vals[p->fused], "the query, key and value"))
						return false;
					ids[n++] = tx->vals[p->fused].layer;
				}
				else
				{
					int			parts[3] = {p->x, p->k, p->v};

					for (int k = 0; k < 3; k++)
					{
						if (!tx_require_std(tx, &tx->vals[parts[k]], k == 0 ? "the query" :
											k == 1 ? "the key" : "the value"))
							return false;
						ids[n++] = tx->vals[parts[k]].layer;
					}
				}
				if ((l = tx_layer(tx, "attention", n, ids)) == NULL ||
					!tx_key_int(tx, l, "heads", p->heads) ||
					(p->causal && !tx_key_bool(tx, l, "causal", true)))
					return false;
				l->width = out->dims[2].k;
				l->seq = true;
				l->name = out->name;
				tx_set_output(tx, out, l);
				return true;
			}
	}
	return false;
}

static const char *const no_attrs[] = {NULL};
static const char *const axis_attrs[] = {"axis", NULL};
static const char *const reduce_attrs[] = {"axes", "keepdims", NULL};
static const char *const split_attrs[] = {"axis", "split", NULL};
static const char *const ln_attrs[] = {"axis", "epsilon", "stash_type", NULL};
static const char *const gelu_attrs[] = {"approximate", NULL};

const TxOp	tx_text_ops[] = {
	{"Gather", axis_attrs, eval_gather, lower_gather, false},
	{"LayerNormalization", ln_attrs, eval_layernorm_op, lower_layernorm_op, false},
	{"Gelu", gelu_attrs, eval_gelu_op, lower_gelu_op, false},
	{"ReduceMean", reduce_attrs, eval_reduce_mean, lower_pattern_only, false},
	{"Pow", no_attrs, eval_elementwise, lower_pattern_only, false},
	{"Sqrt", no_attrs, eval_elementwise, lower_pattern_only, false},
	{"Erf", no_attrs, eval_elementwise, lower_pattern_only, false},
	{"Split", split_attrs, eval_split, lower_pattern_only, false},
	{"Where", no_attrs, eval_where, lower_pattern_only, false},
};

const int	tx_n_text_ops = (int) (sizeof(tx_text_ops) / sizeof(tx_text_ops[0]));
