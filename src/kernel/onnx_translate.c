/*
 * onnx_translate.c
 *		The ONNX translator (onnx_translate.h): its passes, the values it
 *		tracks, the graph inputs, and the entry point.
 *
 * The passes, over the nodes in topological order:
 *
 *	1. needed: which nodes the served output(s) depend on at all (through
 *	   data or through a Shape); the rest is never looked at.
 *	2. eval: every needed node's outputs get a kind (onnx_translate_int.h)
 *	   and a shape; constants are computed (Shape of a run-time value gives
 *	   integers in B and T, so torch's shape arithmetic folds), run-time
 *	   values get their shape and whether they lie as the runtime keeps a
 *	   value.  An operator with no eval function is refused here, at its
 *	   first node.
 *	3. uses: which run-time values are read as data, and how often (a Shape
 *	   does not read its input's data, and a node whose outputs are all
 *	   constants reads nothing at run time).
 *	4. patterns: the idioms that become one layer (onnx_translate_pattern.c)
 *	   are matched; each covers its nodes and is emitted at its last one.
 *	5. lower: every node that computes a run-time value becomes layers.  A
 *	   layer can absorb what follows it while it has one reader (a bias, a
 *	   batch norm, a scale): the lower functions check tx_sole_reader.
 *
 * Values are numbered: initializers, then graph inputs, then each node's
 * outputs.  The program's values are numbered as net.h does (0 the input,
 * k + 1 layer k).  Layers are kept as structures until the end, then
 * written as the config's "layers", each named after the ONNX value it
 * computes (onnx_translate_config.c).  What the ops build with (errors,
 * attributes, layers, tensors) is in onnx_translate_build.c.
 */
#include "onnx_translate_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const TxDim tx_dim_B = {1, 1, 0, false};
const TxDim tx_dim_T = {1, 0, 1, false};
const TxDim tx_dim_unknown = {0, 0, 0, true};

/* the op of an operator type, from the families' tables */
static const TxOp *
find_op(const char *op_type)
{
	static const struct
	{
		const TxOp *ops;
		const int  *n;
	}			families[] = {
		{tx_fold_ops, &tx_n_fold_ops},
		{tx_dense_ops, &tx_n_dense_ops},
		{tx_view_ops, &tx_n_view_ops},
		{tx_conv_ops, &tx_n_conv_ops},
		{tx_text_ops, &tx_n_text_ops},
	};

	for (int f = 0; f < (int) (sizeof(families) / sizeof(families[0])); f++)
		for (int i = 0; i < *families[f].n; i++)
			if (strcmp(families[f].ops[i].op_type, op_type) == 0)
				return &families[f].ops[i];
	return NULL;
}


/* ----------------------------------------------------------------
 *		values
 * ----------------------------------------------------------------
 */

/* the value a node input refers to */
static TxVal *
node_input(Tx *tx, int node, int k)
{
	int			id = tx->in_val[tx->in_base[node] + k];

	return id >= 0 ? &tx->vals[id] : NULL;
}

static bool
lookup_value(Tx *tx, const char *name, int *id)
{
	MaasOnnxProducer p;

	if (!maas_onnx_lookup(tx->g, name, &p))
		return false;
	switch (p.source)
	{
		case MAAS_ONNX_FROM_INITIALIZER:
			*id = p.index;
			return true;
		case MAAS_ONNX_FROM_INPUT:
			*id = tx->g->n_initializers + p.index;
			return true;
		case MAAS_ONNX_FROM_NODE:
			*id = tx->out_base[p.index] + p.slot;
			return true;
	}
	return false;
}

static void
const_from_tensor(TxVal *v, const MaasOnnxTensor *t)
{
	v->kind = TX_CONST;
	v->dtype = t->dtype;
	v->ndim = t->ndim;
	for (int d = 0; d < t->ndim; d++)
		v->dims[d] = tx_dim(t->dims[d]);
	v->numel = t->numel;
	v->src = t;
}

static bool
init_values(Tx *tx)
{
	const MaasOnnxGraph *g = tx->g;
	size_t		n = (size_t) g->n_initializers + (size_t) g->n_inputs;
	size_t		n_in = 0;

	tx->out_base = tx_alloc(tx, (size_t) g->n_nodes, sizeof(int32_t));
	tx->in_base = tx_alloc(tx, (size_t) g->n_nodes, sizeof(int32_t));
	tx->ops = tx_alloc(tx, (size_t) g->n_nodes, sizeof(TxOp *));
	tx->live = tx_alloc(tx, (size_t) g->n_nodes, sizeof(bool));
	tx->covered = tx_alloc(tx, (size_t) g->n_nodes, sizeof(int32_t));
	tx->anchor = tx_alloc(tx, (size_t) g->n_nodes, sizeof(int32_t));
	if (tx->out_base == NULL || tx->in_base == NULL || tx->ops == NULL ||
		tx->live == NULL || tx->covered == NULL || tx->anchor == NULL)
		return false;
	for (int i = 0; i < g->n_nodes; i++)
	{
		tx->out_base[i] = (int32_t) n;
		n += (size_t) g->nodes[i].n_outputs;
		tx->in_base[i] = (int32_t) n_in;
		n_in += (size_t) g->nodes[i].n_inputs;
		tx->covered[i] = tx->anchor[i] = -1;
	}
	if (n > INT32_MAX / 2 || n_in > INT32_MAX / 2)
		return maas_error(tx->err, MAAS_ERR_LIMIT, "the graph has too many values");
	tx->n_vals = (int) n;
	if ((tx->vals = tx_alloc(tx, n, sizeof(TxVal))) == NULL ||
		(tx->in_val = tx_alloc(tx, n_in, sizeof(int32_t))) == NULL)
		return false;

	for (int i = 0; i < tx->n_vals; i++)
	{
		tx->vals[i].producer = -1;
		tx->vals[i].layer = -1;
		tx->vals[i].tok_table = tx->vals[i].pos_table = tx->vals[i].type_table = -1;
	}
	for (int i = 0; i < g->n_initializers; i++)
	{
		tx->vals[i].name = g->initializers[i].name;
		const_from_tensor(&tx->vals[i], &g->initializers[i]);
	}
	for (int i = 0; i < g->n_inputs; i++)
		tx->vals[g->n_initializers + i].name = g->inputs[i].name;
	for (int i = 0; i < g->n_nodes; i++)
	{
		const MaasOnnxNode *node = &g->nodes[i];

		for (int k = 0; k < node->n_outputs; k++)
		{
			TxVal	   *v = &tx->vals[tx->out_base[i] + k];

			v->name = node->outputs[k];
			v->producer = i;
		}
		for (int k = 0; k < node->n_inputs; k++)
		{
			int			id = -1;

			if (node->inputs[k][0] != '\0' && !lookup_value(tx, node->inputs[k], &id))
				return maas_error(tx->err, MAAS_ERR_INVALID, "input \"%s\" is not produced",
								  node->inputs[k]);
			tx->in_val[tx->in_base[i] + k] = id;
		}
	}
	return true;
}

/* the graph outputs the translation serves: value ids */
static bool
served_outputs(Tx *tx, int *ids, int *n)
{
	const MaasOnnxGraph *g = tx->g;
	const MaasOnnxTranslateOptions *o = tx->opts;

	*n = 0;
	if (g->n_outputs == 0)
		return maas_error(tx->err, MAAS_ERR_INVALID, "the graph has no output");
	if (o != NULL && o->all_outputs)
	{
		for (int i = 0; i < g->n_outputs; i++)
			if (!lookup_value(tx, g->outputs[i].name, &ids[(*n)++]))
				return maas_error(tx->err, MAAS_ERR_INVALID, "graph output \"%s\" is not produced",
								  g->outputs[i].name);
		return true;
	}
	if (o != NULL && o->output != NULL)
	{
		for (int i = 0; i < g->n_outputs; i++)
			if (strcmp(g->outputs[i].name, o->output) == 0)
			{
				*n = 1;
				return lookup_value(tx, o->output, &ids[0]);
			}
		maas_error(tx->err, MAAS_ERR_INVALID, "the graph has no output \"%s\"", o->output);
		return false;
	}
	if (g->n_outputs > 1)
	{
		char		hint[MAAS_ERRLEN];

		maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
				   "the graph has %d outputs (\"%s\", \"%s\"%s); a model serves one",
				   g->n_outputs, g->outputs[0].name, g->outputs[1].name,
				   g->n_outputs > 2 ? ", ..." : "");
		snprintf(hint, sizeof(hint),
				 "Choose the output to serve in the config: '{\"onnx\": {\"output\": \"%s\"}}'.",
				 g->outputs[0].name);
		return maas_error_hint(tx->err, tx_strdup(tx, hint));
	}
	*n = 1;
	return lookup_value(tx, g->outputs[0].name, &ids[0]);
}


/* ----------------------------------------------------------------
 *		the graph inputs
 * ----------------------------------------------------------------
 */

const MaasOnnxTensor *
tx_bound_input(const Tx *tx, const char *name)
{
	const MaasOnnxTranslateOptions *o = tx->opts;

	if (o == NULL)
		return NULL;
	for (int i = 0; i < o->n_bound; i++)
		if (strcmp(o->bound_names[i], name) == 0)
			return o->bound[i];
	return NULL;
}

/*
 * Which integer input holds token ids and which token types: each is read
 * by a Gather as the indices into a table; the ids index the largest.
 * Any other integer input the output reads is the attention mask.
 */
static void
text_roles(Tx *tx, int *tokens, int *types)
{
	const MaasOnnxGraph *g = tx->g;
	int64_t		best = -1;

	*tokens = *types = -1;
	for (int i = 0; i < g->n_nodes; i++)
	{
		const MaasOnnxNode *node = &g->nodes[i];
		TxVal	   *table,
				   *idx;

		if (strcmp(node->op_type, "Gather") != 0 || node->n_inputs != 2 || !tx->live[i])
			continue;
		table = node_input(tx, i, 0);
		idx = node_input(tx, i, 1);
		if (table == NULL || idx == NULL || table->kind != TX_CONST || table->ndim != 2)
			continue;
		if (tx_val_id(tx, idx) < g->n_initializers ||
			tx_val_id(tx, idx) >= g->n_initializers + g->n_inputs)
			continue;
		{
			int32_t		et = g->inputs[tx_val_id(tx, idx) - g->n_initializers].elem_type;

			if (et != MAAS_ONNX_INT64 && et != MAAS_ONNX_INT32)
				continue;
		}
		if (table->dims[0].k > best)
		{
			if (*tokens >= 0 && *tokens != tx_val_id(tx, idx))
				*types = *tokens;
			*tokens = tx_val_id(tx, idx);
			best = table->dims[0].k;
		}
		else if (tx_val_id(tx, idx) != *tokens)
			*types = tx_val_id(tx, idx);
	}
}

static bool
init_inputs(Tx *tx)
{
	const MaasOnnxGraph *g = tx->g;
	int			tokens,
				types;
	int			n_features = 0;

	tx->features_in = tx->tokens_in = tx->types_in = tx->mask_in = -1;
	tx->batch0 = -2;			/* not seen yet */
	text_roles(tx, &tokens, &types);
	for (int i = 0; i < g->n_inputs; i++)
	{
		const MaasOnnxValueInfo *vi = &g->inputs[i];
		int			id = g->n_initializers + i;
		TxVal	   *v = &tx->vals[id];
		const MaasOnnxTensor *t;

		if (vi->initializer >= 0)
			continue;
		if ((t = tx_bound_input(tx, vi->name)) != NULL)
		{
			const_from_tensor(v, t);
			continue;
		}
		v->dtype = vi->elem_type;
		if (vi->kind != MAAS_ONNX_VALUE_TENSOR)
			return maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
							  "graph input \"%s\" is a %s; maas reads tensors",
							  vi->name, maas_onnx_value_kind_name(vi->kind));
		if (vi->ndim < 0)
			return maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
							  "graph input \"%s\" has no shape", vi->name);
		if (vi->ndim < 1 || vi->ndim > TX_RANK)
			return maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
							  "graph input \"%s\" has %d dimensions; maas reads a batch of rows (1 to %d dimensions, the first the batch)",
							  vi->name, vi->ndim, TX_RANK);
		/* the first dimension is the batch, whatever the file calls it */
		if (vi->dims[0].value >= 0)
		{
			if (tx->batch0 == -2)
				tx->batch0 = vi->dims[0].value;
			else if (tx->batch0 != vi->dims[0].value)
				tx->batch0 = -1;
		}
		else
			tx->batch0 = -1;
		v->ndim = vi->ndim;
		v->dims[0] = tx_dim_B;
		for (int d = 1; d < vi->ndim; d++)
			v->dims[d] = vi->dims[d].value >= 0 ? tx_dim(vi->dims[d].value) : tx_dim_unknown;

		if (id == tokens || id == types ||
			vi->elem_type == MAAS_ONNX_INT64 || vi->elem_type == MAAS_ONNX_INT32)
		{
			if (vi->ndim != 2)
				return maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
								  "graph input \"%s\" holds integers of %d dimensions; maas reads token ids [batch, sequence]",
								  vi->name, vi->ndim);
			if (vi->dims[1].value >= 0)
			{
				maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
						   "graph input \"%s\" has a fixed sequence length of %" PRId64,
						   vi->name, vi->dims[1].value);
				return maas_error_hint(tx->err,
									   "Export with a symbolic sequence axis: dynamic_axes={\"input_ids\": {0: \"batch\", 1: \"sequence\"}, ...}.");
			}
			v->dims[1] = tx_dim_T;
			v->seq = true;
			if (id == tokens)
			{
				v->kind = TX_TOKENS;
				tx->tokens_in = id;
			}
			else if (id == types)
			{
				v->kind = TX_TYPES;
				tx->types_in = id;
			}
			else
			{
				v->kind = TX_MASKIN;
				v->a = 1.0;
				v->c = 0.0;
				tx->mask_in = id;
			}
			tx->text = true;
			continue;
		}
		if (vi->elem_type != MAAS_ONNX_FLOAT)
			return maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
							  "graph input \"%s\" holds %s; maas reads FLOAT (float32) features or INT64 token ids",
							  vi->name, maas_onnx_dtype_name(vi->elem_type));
		for (int d = 1; d < vi->ndim; d++)
			if (vi->dims[d].value < 0)
				return maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
								  "graph input \"%s\" has a symbolic dimension %d (\"%s\"); maas reads rows of a fixed number of features",
								  vi->name, d, vi->dims[d].param ? vi->dims[d].param : "?");
		if (tx->features_in >= 0)
		{
			maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
					   "the graph has two feature inputs (\"%s\" and \"%s\"); maas serves models with one",
					   tx->vals[tx->features_in].name, vi->name);
			return maas_error_hint(tx->err, "Export a model that takes one tensor of features per row.");
		}
		tx->features_in = id;
		v->kind = TX_RUN;
		v->layer = 0;
		v->std = true;
		n_features = 1;
		for (int d = 1; d < vi->ndim; d++)
		{
			if (vi->dims[d].value == 0 || vi->dims[d].value > 100000000 ||
				n_features > 100000000 / vi->dims[d].value)
				return maas_error(tx->err, MAAS_ERR_LIMIT,
								  "graph input \"%s\" has %s features a row; maas takes 1 to 100000000",
								  vi->name, vi->dims[d].value == 0 ? "no" : "too many");
			n_features *= (int) vi->dims[d].value;
		}
		tx->n_features = n_features;
		if (vi->ndim == 4)
		{
			tx->in_c = (int) vi->dims[1].value;
			tx->in_h = (int) vi->dims[2].value;
			tx->in_w = (int) vi->dims[3].value;
		}
	}
	if (tx->batch0 == -2)
		tx->batch0 = -1;
	if (tx->features_in >= 0 && tx->text)
		return maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
						  "the graph reads both features and token ids; maas serves one or the other");
	return true;
}


/* ----------------------------------------------------------------
 *		the passes
 * ----------------------------------------------------------------
 */

static bool
is_runtime(const TxVal *v)
{
	return v->kind == TX_RUN || v->kind == TX_TOKENS || v->kind == TX_TYPES ||
		v->kind == TX_MASKIN || v->kind == TX_EMB;
}

/* pass 1: the nodes the served outputs depend on */
static bool
mark_needed(Tx *tx, const int *outs, int n_outs)
{
	const MaasOnnxGraph *g = tx->g;
	bool	   *want = tx_alloc(tx, (size_t) tx->n_vals, sizeof(bool));

	if (want == NULL)
		return false;
	for (int k = 0; k < n_outs; k++)
		want[outs[k]] = true;
	for (int i = g->n_nodes - 1; i >= 0; i--)
	{
		int			node = g->order[i];
		const MaasOnnxNode *n = &g->nodes[node];

		for (int k = 0; k < n->n_outputs && !tx->live[node]; k++)
			if (want[tx->out_base[node] + k])
				tx->live[node] = true;
		if (!tx->live[node])
			continue;
		for (int k = 0; k < n->n_inputs; k++)
		{
			int			id = tx->in_val[tx->in_base[node] + k];

			if (id >= 0)
				want[id] = true;
		}
	}
	return true;
}

static void
set_label(Tx *tx, int node)
{
	tx->node = node;
	if (node >= 0)
		maas_onnx_node_label(tx->g, node, tx->label, sizeof(tx->label));
}

static const char *
ordinal(int k)
{
	static const char *const names[] = {"first", "second", "third", "fourth", "fifth"};

	return k < 5 ? names[k] : "next";
}

/* v's dimensions within the bounds every op may count on (TX_DIM_MAX...) */
static bool
check_dims(Tx *tx, const TxVal *v)
{
	TxDim		total = tx_dim(1);

	if (v->ndim < 0 || v->ndim > TX_RANK)
		return tx_unsupported(tx, "\"%s\" has %d dimensions; maas translates up to %d",
							  v->name, v->ndim, TX_RANK);
	for (int d = 0; d < v->ndim; d++)
	{
		TxDim		x = v->dims[d];

		if (x.unknown)
			continue;
		if (x.k < 0 || x.k > TX_DIM_MAX || x.b < 0 || x.b > TX_POW_MAX ||
			x.t < 0 || x.t > TX_POW_MAX || !tx_dim_mul(total, x, &total))
			return tx_unsupported(tx, "\"%s\" is larger than maas translates", v->name);
	}
	return true;
}

/*
 * A node against its operator's arity (onnx_translate_int.h), before its
 * eval or lower function sees it: the count of inputs and outputs, every
 * required input given, and every input given computed by the node that
 * writes it (an output that node leaves unset, say the mask of a Dropout
 * nobody asked for, cannot be read).
 */
static bool
check_arity(Tx *tx, const MaasOnnxNode *n, const TxOp *op, TxVal **in)
{
	const TxArity *a = &op->arity[0];
	int			given = n->n_inputs;

	if (op->arity[1].since > 0 && tx->opset >= op->arity[1].since)
		a = &op->arity[1];
	/* trailing omitted inputs are as if not given */
	while (given > 0 && in[given - 1] == NULL)
		given--;
	if (given < a->min_in || (a->max_in >= 0 && given > a->max_in))
	{
		if (a->min_in == a->max_in)
			return tx_invalid(tx, "%s takes %d input%s, not %d", n->op_type,
							  a->min_in, a->min_in == 1 ? "" : "s", given);
		if (a->max_in < 0)
			return tx_invalid(tx, "%s takes at least %d input%s, not %d", n->op_type,
							  a->min_in, a->min_in == 1 ? "" : "s", given);
		return tx_invalid(tx, "%s takes %d to %d inputs, not %d", n->op_type,
						  a->min_in, a->max_in, given);
	}
	if (n->n_outputs < a->min_out || (a->max_out >= 0 && n->n_outputs > a->max_out))
	{
		if (a->min_out == a->max_out)
			return tx_invalid(tx, "%s has %d output%s, not %d", n->op_type,
							  a->min_out, a->min_out == 1 ? "" : "s", n->n_outputs);
		return tx_invalid(tx, "%s has %d to %d outputs, not %d", n->op_type,
						  a->min_out, a->max_out, n->n_outputs);
	}
	if (n->outputs[0][0] == '\0')
		return tx_invalid(tx, "the first output of %s has no name", n->op_type);
	for (int k = 0; k < given; k++)
	{
		bool		optional = k < 16 && (a->optional & (1u << k)) != 0;

		if (in[k] == NULL)
		{
			if (optional)
				continue;
			return tx_invalid(tx, "the %s input of %s is required, but its name is empty",
							  ordinal(k), n->op_type);
		}
		if (!check_dims(tx, in[k]))
			return false;
		if (in[k]->kind == TX_NONE)
		{
			if (in[k]->producer >= 0)
			{
				char		label[MAAS_ERRLEN];

				maas_onnx_node_label(tx->g, in[k]->producer, label, sizeof(label));
				return tx_unsupported(tx, "it reads \"%s\", an output %s does not compute",
									  in[k]->name, label);
			}
			return tx_unsupported(tx, "it reads \"%s\", which has no value", in[k]->name);
		}
	}
	return true;
}

/* pass 2: kinds, shapes and constants */
static bool
eval_nodes(Tx *tx)
{
	const MaasOnnxGraph *g = tx->g;
	TxVal	   *in[64 + 8];
	TxVal	   *out[64];

	for (int i = 0; i < g->n_nodes; i++)
	{
		int			node = g->order[i];
		const MaasOnnxNode *n = &g->nodes[node];
		const TxOp *op;

		if (!tx->live[node])
			continue;
		maas_tick(tx->tick);
		set_label(tx, node);
		if (n->domain[0] != '\0')
		{
			tx_unsupported(tx, "operator \"%s.%s\" is not supported", n->domain, n->op_type);
			return tx_hint(tx, "maas translates operators of the default ONNX domain; maas_onnx_inspect lists what a model uses.");
		}
		if ((op = find_op(n->op_type)) == NULL)
		{
			tx_unsupported(tx, "operator \"%s\" is not supported", n->op_type);
			return tx_hint(tx, "maas_onnx_inspect lists the operators of a model and which maas translates (doc/onnx.md).");
		}
		tx->ops[node] = op;
		for (int a = 0; a < n->n_attrs; a++)
		{
			bool		known = false;

			for (const char *const *k = op->attrs; k != NULL && *k != NULL; k++)
				if (strcmp(*k, n->attrs[a].name) == 0)
					known = true;
			if (!known)
				return tx_unsupported(tx, "attribute \"%s\" of %s is not supported",
									  n->attrs[a].name, n->op_type);
		}
		if (n->n_inputs > 64 || n->n_outputs > 64)
			return tx_unsupported(tx, "%d inputs and %d outputs are more than maas translates",
								  n->n_inputs, n->n_outputs);
		for (int k = 0; k < n->n_inputs; k++)
			in[k] = node_input(tx, node, k);
		for (int k = 0; k < n->n_outputs; k++)
			out[k] = &tx->vals[tx->out_base[node] + k];
		for (int k = n->n_inputs; k < 64 + 8; k++)
			in[k] = NULL;
		if (!check_arity(tx, n, op, in))
			return false;
		if (!op->eval(tx, n, in, out))
			return false;
	}
	set_label(tx, -1);
	return true;
}

/* pass 3: the data each live node reads at run time */
static void
count_uses(Tx *tx, const int *outs, int n_outs)
{
	const MaasOnnxGraph *g = tx->g;

	for (int k = 0; k < n_outs; k++)
		tx->vals[outs[k]].uses++;
	for (int i = g->n_nodes - 1; i >= 0; i--)
	{
		int			node = g->order[i];
		const MaasOnnxNode *n = &g->nodes[node];
		bool		reads = false;

		if (!tx->live[node])
			continue;
		for (int k = 0; k < n->n_outputs; k++)
		{
			TxVal	   *v = &tx->vals[tx->out_base[node] + k];

			if (is_runtime(v) && v->uses > 0)
				reads = true;
		}
		tx->live[node] = reads;
		if (!reads || tx->ops[node]->reads_shape_only)
			continue;
		for (int k = 0; k < n->n_inputs; k++)
		{
			TxVal	   *v = node_input(tx, node, k);

			if (v != NULL && is_runtime(v))
				v->uses++;
		}
	}
}

/* pass 5: layers */
static bool
lower_nodes(Tx *tx)
{
	const MaasOnnxGraph *g = tx->g;
	TxVal	   *in[72];
	TxVal	   *out[64];

	for (int i = 0; i < g->n_nodes; i++)
	{
		int			node = g->order[i];
		const MaasOnnxNode *n = &g->nodes[node];

		if (!tx->live[node])
			continue;
		maas_tick(tx->tick);
		set_label(tx, node);
		for (int k = 0; k < n->n_inputs; k++)
			in[k] = node_input(tx, node, k);
		for (int k = n->n_inputs; k < n->n_inputs + 8; k++)
			in[k] = NULL;
		for (int k = 0; k < n->n_outputs; k++)
			out[k] = &tx->vals[tx->out_base[node] + k];
		if (tx->anchor[node] >= 0)
		{
			if (!tx_emit_pattern(tx, tx->anchor[node]))
				return false;
		}
		else if (tx->covered[node] < 0)
		{
			/* an embedding sum read by a layer is made one first */
			for (int k = 0; k < n->n_inputs; k++)
				if (in[k] != NULL && in[k]->kind == TX_EMB &&
					tx->ops[node]->lower != NULL &&
					strcmp(n->op_type, "Add") != 0 && !tx_materialize(tx, in[k]))
					return false;
			if (tx->ops[node]->lower == NULL)
				return tx_unsupported(tx, "%s of a value computed at run time is not supported",
									  n->op_type);
			if (!tx->ops[node]->lower(tx, n, in, out))
				return false;
		}
		/* this node's reads are done */
		for (int k = 0; k < n->n_inputs; k++)
		{
			TxLayer    *l;

			if (in[k] != NULL && in[k]->kind == TX_RUN &&
				(l = tx_layer_of(tx, in[k]->layer)) != NULL)
				l->uses--;
		}
	}
	set_label(tx, -1);
	return true;
}



bool
maas_onnx_translate(const MaasOnnxModel *model, const MaasOnnxTranslateOptions *opts,
					MaasOnnxImport *out, const MaasTick *tick, MaasError *err)
{
	Tx			tx;
	int		   *outs;
	int			n_outs = 0;
	int			served;
	int			vocab = 0;
	const char *task;

	memset(out, 0, sizeof(*out));
	memset(&tx, 0, sizeof(tx));
	tx.m = model;
	tx.g = &model->graph;
	tx.opts = opts;
	tx.err = err;
	tx.tick = tick;
	tx.node = -1;
	tx.opset = maas_onnx_opset(model, "");
	if (tx.opset < 7)
		return maas_error(err, MAAS_ERR_UNSUPPORTED,
						  "the model imports opset %" PRId64 " of the default domain; maas translates opset 7 and later",
						  tx.opset);

	if (!init_values(&tx))
		return false;
	if ((outs = tx_alloc(&tx, (size_t) tx.g->n_outputs + 1, sizeof(int))) == NULL ||
		!served_outputs(&tx, outs, &n_outs) ||
		!mark_needed(&tx, outs, n_outs) ||
		!init_inputs(&tx) ||
		!eval_nodes(&tx))
		return false;
	count_uses(&tx, outs, n_outs);
	for (int i = 0; i < tx.g->n_nodes; i++)
		tx.anchor[i] = -1;
	if (!tx_find_patterns(&tx) || !lower_nodes(&tx))
		return false;

	/* the outputs */
	out->outputs = tx_alloc(&tx, (size_t) n_outs, sizeof(MaasOnnxOutput));
	if (out->outputs == NULL)
		return false;
	for (int k = 0; k < n_outs; k++)
	{
		TxVal	   *v = &tx.vals[outs[k]];
		MaasOnnxOutput *o = &out->outputs[k];

		o->name = v->name;
		if (v->kind == TX_CONST && opts != NULL && opts->all_outputs)
		{
			if (!tx_is_float_dtype(v->dtype))
			{
				/* integer outputs as floats (the conformance harness compares floats) */
				const int64_t *iv = tx_const_i(&tx, v);
				float	   *f = tx_alloc(&tx, (size_t) v->numel, sizeof(float));

				if (iv == NULL || f == NULL)
					return false;
				for (int64_t j = 0; j < v->numel; j++)
					f[j] = (float) iv[j];
				o->constant = f;
			}
			else if ((o->constant = tx_const_f(&tx, v)) == NULL)
				return false;
			o->numel = v->numel;
			continue;
		}
		if (!tx_output_layer(&tx, v))
			return false;
	}
	served = -1;
	for (int k = 0; k < n_outs && served < 0; k++)
		if (out->outputs[k].constant == NULL)
			served = tx.vals[outs[k]].layer;
	if (served < 0)
	{
		/* every output a constant: only the conformance runner gets here */
		out->n_outputs = n_outs;
		maas_buf_init(&out->config);
		maas_buf_puts(&out->config, "{}");
		return tx_describe_inputs(&tx, out);
	}
	task = tx_derive_task(&tx, served, 0);
	if (tx.text)
	{
		int			n_emb = 0;

		for (int i = 0; i < tx.n_layers; i++)
			if (strcmp(tx.layers[i].op, "embedding") == 0)
			{
				int			t = tx_layer_tensor(&tx.layers[i], "tokens");

				vocab = t >= 0 ? (int) tx.tensors[t].shape[0] : 0;
				n_emb++;
			}
		if (n_emb != 1)
			return maas_error(err, MAAS_ERR_UNSUPPORTED,
							  "a text model needs one embedding of its token ids; this graph has %d",
							  n_emb);
		task = tx_derive_task(&tx, served, vocab);
		if (strcmp(task, "generation") == 0 && tx.layers[served - 1].seq)
		{
			if (!tx_pool_for_generation(&tx, &served))
				return false;
		}
		else if (strcmp(task, "embedding") == 0 && tx.layers[served - 1].seq)
		{
			TxLayer    *p = tx_layer(&tx, "pool", 1, &served);
			const char *mode = opts != NULL && opts->pool != NULL ? opts->pool : "mean";

			if (p == NULL || !tx_key_str(&tx, p, "mode", mode))
				return false;
			p->seq = false;
			p->name = "pooled";
			served = tx.n_layers;
		}
	}
	if (!tx_name_layers(&tx))
		return false;
	for (int k = 0; k < n_outs; k++)
	{
		TxVal	   *v = &tx.vals[outs[k]];
		MaasOnnxOutput *o = &out->outputs[k];
		const TxLayer *l;

		if (o->constant != NULL)
			continue;
		l = k == 0 ? tx_layer_of(&tx, served) : tx_layer_of(&tx, v->layer);
		o->layer = l->name;
		o->seq = l->seq;
		o->numel = l->width;
	}
	out->n_outputs = n_outs;
	out->n_layers = tx.n_layers;
	out->task = task;
	if (tx.n_layers == 0)
		return maas_error(err, MAAS_ERR_UNSUPPORTED,
						  "the graph computes nothing at run time: its output is a constant");
	if (!tx_describe_inputs(&tx, out) || !tx_collect_tensors(&tx, out) ||
		!tx_write_config(&tx, out, served, task))
		return false;
	return true;
}
