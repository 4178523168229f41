/*
 * onnx_translate_pattern.c
 *		The idioms of torch.onnx.export that the ONNX translator turns into
 *		one layer each (layernorm, gelu, attention; onnx_translate_text.c
 *		describes them): matched over the live nodes before any layer is
 *		made, and emitted at their last node.
 */
#include "onnx_translate_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>


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
	return v >= 0 ? m->first[v + 1] - m->first[v] : 0;
}

/* the one node reading v, or -1 */
static int
sole_reader(const Match *m, int v)
{
	int			k;

	if (n_readers(m, v) < 1)
		return -1;
	k = m->first[v];
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

/*
 * The value of id, or when id is -1 (an omitted input: in_of, other_input)
 * a value of no kind that matches nothing: a matcher never indexes by -1.
 */
static const TxVal *
val_of(const Match *m, int id)
{
	static const TxVal none = {.kind = TX_NONE, .producer = -1, .layer = -1};

	return id >= 0 ? &m->tx->vals[id] : &none;
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

	return v >= 0 && tx_float_scalar(m->tx, val_of(m, v), &x) &&
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
	int			r = val_of(m, in_of(m, node, 0))->ndim;

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

	if (!mean_last(m, r1) || (val_of(m, x)->kind != TX_RUN && val_of(m, x)->kind != TX_EMB))
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
		!tx_float_scalar(m->tx, val_of(m, eps_v), &p->eps) ||
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
			val_of(m, c)->kind == TX_CONST && cover(m, mul))
		{
			p->gamma = c;
			cur = out_of(m, mul);
		}
	}
	{
		int			add2 = sole_reader(m, cur);
		int			c;

		if (is(m, add2, "Add") && (c = other_input(m, add2, cur)) >= 0 &&
			val_of(m, c)->kind == TX_CONST && cover(m, add2))
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
	if (val_of(m, x)->kind != TX_RUN && val_of(m, x)->kind != TX_EMB)
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
		if (val_of(m, x)->kind != TX_RUN && val_of(m, x)->kind != TX_EMB)
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
	rv = val_of(m, out_of(m, r));
	x = in_of(m, r, 0);
	xv = val_of(m, x);
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
	if (val_of(m, s)->ndim != 4)
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
		const TxVal *y = val_of(m, out_of(m, y_r));

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
		if (is(m, node, "Where") && is_causal(val_of(m, in_of(m, node, 0))) && !p->causal)
		{
			double		neg;

			if (!tx_float_scalar(tx, val_of(m, in_of(m, node, 2)), &neg) || !(neg <= -1e4))
				return false;
			p->causal = true;
			s = in_of(m, node, 1);
		}
		else if (is(m, node, "Add") && !p->padded &&
				 (is_padding(val_of(m, in_of(m, node, 1))) || is_padding(val_of(m, in_of(m, node, 0)))))
		{
			p->padded = true;
			s = is_padding(val_of(m, in_of(m, node, 1))) ? in_of(m, node, 0) : in_of(m, node, 1);
		}
		else if ((is(m, node, "Div") || is(m, node, "Mul")) &&
				 val_of(m, in_of(m, node, 1))->kind == TX_CONST)
		{
			double		c;

			if (!tx_float_scalar(tx, val_of(m, in_of(m, node, 1)), &c) || c == 0)
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
		val_of(m, q)->dims[2].k != heads * hs)
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
			node_of(m, sp)->n_outputs == 3 && val_of(m, q)->dims[2].k * 3 ==
			val_of(m, in_of(m, sp, 0))->dims[2].k &&
			sole_reader(m, q) >= 0 && sole_reader(m, k) >= 0 && sole_reader(m, v) >= 0)
		{
			const TxVal *xs = val_of(m, in_of(m, sp, 0));
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
			return tx_emit_layernorm(tx, x, p->gamma, p->beta, p->eps, out);
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
