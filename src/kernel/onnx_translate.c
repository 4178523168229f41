/*
 * onnx_translate.c
 *		The ONNX translator (onnx_translate.h): its passes, the values it
 *		tracks, the layers and tensors it makes, and the config it writes.
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
 *	4. patterns: the idioms that become one layer (onnx_translate_text.c)
 *	   are matched; each covers its nodes and is emitted at its last one.
 *	5. lower: every node that computes a run-time value becomes layers.  A
 *	   layer can absorb what follows it while it has one reader (a bias, a
 *	   batch norm, a scale): the lower functions check tx_sole_reader.
 *
 * Values are numbered: initializers, then graph inputs, then each node's
 * outputs.  The program's values are numbered as net.h does (0 the input,
 * k + 1 layer k).  Layers are kept as structures until the end, then
 * written as the config's "layers", each named after the ONNX value it
 * computes.
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
 *		errors, memory, attributes
 * ----------------------------------------------------------------
 */

static bool tx_vfail(Tx *tx, MaasStatus status, const char *fmt, va_list ap)
			__attribute__((format(printf, 3, 0)));

static bool
tx_vfail(Tx *tx, MaasStatus status, const char *fmt, va_list ap)
{
	char		msg[MAAS_ERRLEN];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (tx->node >= 0)
		return maas_error(tx->err, status, "%s: %s", tx->label, msg);
	return maas_error(tx->err, status, "%s", msg);
}

bool
tx_fail(Tx *tx, MaasStatus status, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	tx_vfail(tx, status, fmt, ap);
	va_end(ap);
	return false;
}

bool
tx_unsupported(Tx *tx, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	tx_vfail(tx, MAAS_ERR_UNSUPPORTED, fmt, ap);
	va_end(ap);
	return false;
}

bool
tx_invalid(Tx *tx, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	tx_vfail(tx, MAAS_ERR_INVALID, fmt, ap);
	va_end(ap);
	return false;
}

bool
tx_hint(Tx *tx, const char *hint)
{
	return maas_error_hint(tx->err, hint);
}

void *
tx_alloc(Tx *tx, size_t n, size_t size)
{
	void	   *p = maas_kalloc_array(n > 0 ? n : 1, size);

	if (p == NULL)
		maas_error_nomem(tx->err);
	else
		memset(p, 0, (n > 0 ? n : 1) * size);
	return p;
}

static const char *
tx_strdup(Tx *tx, const char *s)
{
	size_t		n = strlen(s);
	char	   *p = tx_alloc(tx, n + 1, 1);

	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

const char *
tx_shape_str(const TxVal *v, char *buf, size_t cap)
{
	size_t		used = 0;

	used += (size_t) snprintf(buf + used, cap - used, "[");
	for (int d = 0; d < v->ndim && used < cap; d++)
	{
		TxDim		x = v->dims[d];
		const char *sep = d ? ", " : "";

		if (x.unknown)
			used += (size_t) snprintf(buf + used, cap - used, "%s?", sep);
		else if (x.b == 0 && x.t == 0)
			used += (size_t) snprintf(buf + used, cap - used, "%s%" PRId64, sep, x.k);
		else
		{
			char		k[32] = "";

			if (x.k != 1)
				snprintf(k, sizeof(k), "%" PRId64 " * ", x.k);
			used += (size_t) snprintf(buf + used, cap - used, "%s%s%s%s%s", sep, k,
									  x.b ? "batch" : "", x.b && x.t ? " * " : "",
									  x.t ? "sequence" : "");
		}
	}
	if (used < cap)
		snprintf(buf + used, cap - used, "]");
	return buf;
}

static const MaasOnnxAttr *
attr_of(Tx *tx, const MaasOnnxNode *n, const char *name, int type, const char *what)
{
	const MaasOnnxAttr *a = maas_onnx_attr(n, name);

	if (a != NULL && a->type != type)
	{
		tx_invalid(tx, "attribute \"%s\" is of type %s, expected %s", name,
				   maas_onnx_attr_type_name(a->type), what);
		return NULL;
	}
	return a;
}

bool
tx_attr_int(Tx *tx, const MaasOnnxNode *n, const char *name, int64_t def, int64_t *out)
{
	const MaasOnnxAttr *a = attr_of(tx, n, name, MAAS_ONNX_ATTR_INT, "int");

	if (a == NULL && maas_onnx_attr(n, name) != NULL)
		return false;
	*out = a != NULL ? a->i : def;
	return true;
}

bool
tx_attr_float(Tx *tx, const MaasOnnxNode *n, const char *name, double def, double *out)
{
	const MaasOnnxAttr *a = attr_of(tx, n, name, MAAS_ONNX_ATTR_FLOAT, "float");

	if (a == NULL && maas_onnx_attr(n, name) != NULL)
		return false;
	*out = a != NULL ? a->f : def;
	return true;
}

bool
tx_attr_ints(Tx *tx, const MaasOnnxNode *n, const char *name, int *count,
			 const int64_t **out)
{
	const MaasOnnxAttr *a = attr_of(tx, n, name, MAAS_ONNX_ATTR_INTS, "ints");

	if (a == NULL && maas_onnx_attr(n, name) != NULL)
		return false;
	*count = a != NULL ? a->n : -1;
	*out = a != NULL ? a->ints : NULL;
	return true;
}

bool
tx_attr_string(Tx *tx, const MaasOnnxNode *n, const char *name, const char *def,
			   const char **out)
{
	const MaasOnnxAttr *a = attr_of(tx, n, name, MAAS_ONNX_ATTR_STRING, "string");

	if (a == NULL && maas_onnx_attr(n, name) != NULL)
		return false;
	*out = a != NULL ? a->s : def;
	return true;
}


/* ----------------------------------------------------------------
 *		layers and tensors
 * ----------------------------------------------------------------
 */

int
tx_val_id(const Tx *tx, const TxVal *v)
{
	return (int) (v - tx->vals);
}

TxLayer *
tx_layer(Tx *tx, const char *op, int n_in, const int *in)
{
	TxLayer    *l;

	if (tx->n_layers == tx->cap_layers)
	{
		int			cap = tx->cap_layers ? 2 * tx->cap_layers : 64;
		TxLayer    *grown = tx_alloc(tx, (size_t) cap, sizeof(TxLayer));

		if (grown == NULL)
			return NULL;
		if (tx->n_layers > 0)
			memcpy(grown, tx->layers, sizeof(TxLayer) * (size_t) tx->n_layers);
		tx->layers = grown;
		tx->cap_layers = cap;
	}
	if (tx->n_layers >= 10000)
	{
		maas_error(tx->err, MAAS_ERR_LIMIT, "the graph makes more than 10000 layers");
		return NULL;
	}
	l = &tx->layers[tx->n_layers++];
	memset(l, 0, sizeof(*l));
	l->op = op;
	l->node = tx->node;
	l->n_in = n_in;
	for (int k = 0; k < n_in && k < 4; k++)
		l->in[k] = in[k];
	/* the shape of a one-input layer follows its input until set */
	if (n_in >= 1)
	{
		if (in[0] == 0)
		{
			l->width = tx->text ? 0 : tx->n_features;
			l->seq = tx->text;
			l->c = tx->in_c;
			l->h = tx->in_h;
			l->w = tx->in_w;
		}
		else
		{
			const TxLayer *p = &tx->layers[in[0] - 1];

			l->width = p->width;
			l->seq = p->seq;
			l->c = p->c;
			l->h = p->h;
			l->w = p->w;
		}
	}
	return l;
}

TxLayer *
tx_layer_of(Tx *tx, int value)
{
	if (value <= 0 || value > tx->n_layers)
		return NULL;
	return &tx->layers[value - 1];
}

static TxKey *
new_key(Tx *tx, TxLayer *l, const char *key, int type)
{
	TxKey	   *k;

	for (int i = 0; i < l->n_keys; i++)
		if (strcmp(l->keys[i].key, key) == 0)
		{
			l->keys[i].type = (uint8_t) type;
			return &l->keys[i];
		}
	if (l->n_keys == TX_MAX_KEYS)
	{
		maas_error(tx->err, MAAS_ERR_LIMIT, "a layer has too many keys");
		return NULL;
	}
	k = &l->keys[l->n_keys++];
	memset(k, 0, sizeof(*k));
	k->key = key;
	k->type = (uint8_t) type;
	return k;
}

bool
tx_key_tensor(Tx *tx, TxLayer *l, const char *key, int tensor)
{
	int			old = tx_layer_tensor(l, key);
	TxKey	   *k = new_key(tx, l, key, TK_TENSOR);

	if (k == NULL)
		return false;
	if (old >= 0)
		tx->tensors[old].refs--;
	k->tensor = tensor;
	tx->tensors[tensor].refs++;
	return true;
}

bool
tx_key_num(Tx *tx, TxLayer *l, const char *key, double v)
{
	TxKey	   *k = new_key(tx, l, key, TK_NUM);

	if (k != NULL)
		k->num = v;
	return k != NULL;
}

bool
tx_key_int(Tx *tx, TxLayer *l, const char *key, int64_t v)
{
	TxKey	   *k = new_key(tx, l, key, TK_INT);

	if (k != NULL)
		k->ints[0] = v;
	return k != NULL;
}

bool
tx_key_str(Tx *tx, TxLayer *l, const char *key, const char *v)
{
	TxKey	   *k = new_key(tx, l, key, TK_STR);

	if (k != NULL)
		k->str = v;
	return k != NULL;
}

bool
tx_key_bool(Tx *tx, TxLayer *l, const char *key, bool v)
{
	TxKey	   *k = new_key(tx, l, key, TK_BOOL);

	if (k != NULL)
		k->b = v;
	return k != NULL;
}

bool
tx_key_ints(Tx *tx, TxLayer *l, const char *key, const int64_t *v, int n)
{
	TxKey	   *k = new_key(tx, l, key, TK_INTS);

	if (k == NULL)
		return false;
	if (n > 8)
		return maas_error(tx->err, MAAS_ERR_LIMIT, "a layer key has too many values");
	memcpy(k->ints, v, sizeof(int64_t) * (size_t) n);
	k->n_ints = n;
	return true;
}

int
tx_layer_tensor(const TxLayer *l, const char *key)
{
	for (int i = 0; i < l->n_keys; i++)
		if (l->keys[i].type == TK_TENSOR && strcmp(l->keys[i].key, key) == 0)
			return l->keys[i].tensor;
	return -1;
}

void
tx_set_output(Tx *tx, TxVal *out, TxLayer *l)
{
	out->kind = TX_RUN;
	out->layer = (int) (l - tx->layers) + 1;
	out->std = true;
	out->seq = l->seq;
	if (l->name == NULL)
		l->name = out->name;
	l->uses += out->uses;
}

void
tx_alias(Tx *tx, TxVal *out, const TxVal *in)
{
	out->kind = TX_RUN;
	out->layer = in->layer;
	out->seq = in->seq;
	out->std = true;
	if (in->layer > 0)
		tx->layers[in->layer - 1].uses += out->uses;
}

bool
tx_sole_reader(Tx *tx, const TxVal *in)
{
	const TxLayer *l = tx_layer_of(tx, in->layer);

	return l != NULL && l->uses == 1;
}

static bool
tensor_name_taken(const Tx *tx, const char *name)
{
	for (int i = 0; i < tx->n_tensors; i++)
		if (strcmp(tx->tensors[i].name, name) == 0)
			return true;
	return false;
}

/* name, or name~2, name~3, ... when taken */
static const char *
unique_tensor_name(Tx *tx, const char *name)
{
	char		buf[512];

	if (!tensor_name_taken(tx, name))
		return tx_strdup(tx, name);
	for (int k = 2;; k++)
	{
		snprintf(buf, sizeof(buf), "%.480s~%d", name, k);
		if (!tensor_name_taken(tx, buf))
			return tx_strdup(tx, buf);
	}
}

static int
add_tensor(Tx *tx, const char *name, int ndim, const int64_t *shape)
{
	TxTensor   *t;

	if (tx->n_tensors == tx->cap_tensors)
	{
		int			cap = tx->cap_tensors ? 2 * tx->cap_tensors : 64;
		TxTensor   *grown = tx_alloc(tx, (size_t) cap, sizeof(TxTensor));

		if (grown == NULL)
			return -1;
		if (tx->n_tensors > 0)
			memcpy(grown, tx->tensors, sizeof(TxTensor) * (size_t) tx->n_tensors);
		tx->tensors = grown;
		tx->cap_tensors = cap;
	}
	t = &tx->tensors[tx->n_tensors];
	memset(t, 0, sizeof(*t));
	if ((t->name = unique_tensor_name(tx, name)) == NULL)
		return -1;
	t->ndim = ndim;
	t->numel = 1;
	for (int d = 0; d < ndim; d++)
	{
		t->shape[d] = shape[d];
		t->numel *= shape[d];
	}
	t->from = -1;
	return tx->n_tensors++;
}

int
tx_tensor_new(Tx *tx, const char *name, int ndim, const int64_t *shape)
{
	int			id = add_tensor(tx, name, ndim, shape);

	if (id < 0)
		return -1;
	if ((tx->tensors[id].data = tx_alloc(tx, (size_t) tx->tensors[id].numel,
										 sizeof(float))) == NULL)
		return -1;
	return id;
}

int
tx_tensor_const(Tx *tx, int val, const char *suffix)
{
	TxVal	   *v = &tx->vals[val];
	int64_t		shape[TX_RANK];
	int			id;
	char		name[512];

	for (int i = 0; i < tx->n_tensors; i++)
		if (tx->tensors[i].from == val && suffix == NULL)
			return i;
	for (int d = 0; d < v->ndim; d++)
		shape[d] = v->dims[d].k;
	snprintf(name, sizeof(name), "%.400s%s", v->name[0] ? v->name : "constant",
			 suffix ? suffix : "");
	if ((id = add_tensor(tx, name, v->ndim, shape)) < 0)
		return -1;
	tx->tensors[id].from = suffix == NULL ? val : -1;
	if (v->src != NULL && v->src->dtype == MAAS_ONNX_FLOAT && v->src->numel == v->numel)
		tx->tensors[id].raw = v->src->data;
	else
	{
		const float *f = tx_const_f(tx, v);

		if (f == NULL)
			return -1;
		if ((tx->tensors[id].data = tx_alloc(tx, (size_t) v->numel, sizeof(float))) == NULL)
			return -1;
		memcpy(tx->tensors[id].data, f, sizeof(float) * (size_t) v->numel);
	}
	return id;
}

float *
tx_tensor_mut(Tx *tx, int tensor)
{
	TxTensor   *t = &tx->tensors[tensor];

	if (t->data == NULL)
	{
		float	   *data = tx_alloc(tx, (size_t) t->numel, sizeof(float));

		if (data == NULL)
			return NULL;
		memcpy(data, t->raw, sizeof(float) * (size_t) t->numel);
		t->data = data;
		t->raw = NULL;
	}
	t->from = -1;				/* no longer the constant as it was */
	return t->data;
}

const float *
tx_tensor_read(Tx *tx, int tensor)
{
	TxTensor   *t = &tx->tensors[tensor];

	if (t->data != NULL)
		return t->data;
	if (((uintptr_t) t->raw % sizeof(float)) == 0)
		return t->raw;
	return tx_tensor_mut(tx, tensor);
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

static const MaasOnnxTensor *
bound_input(const Tx *tx, const char *name)
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
		if ((t = bound_input(tx, vi->name)) != NULL)
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

/* pass 2: kinds, shapes and constants */
static bool
eval_nodes(Tx *tx)
{
	const MaasOnnxGraph *g = tx->g;
	TxVal	   *in[64];
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
		for (int k = n->n_inputs; k < 64 && k < n->n_inputs + 8; k++)
			in[k] = NULL;
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


/* ----------------------------------------------------------------
 *		the output, the task, and the config
 * ----------------------------------------------------------------
 */

static const char *
layer_name(const Tx *tx, int value)
{
	return value == 0 ? "input" : tx->layers[value - 1].name;
}

/* give every layer a unique name that is not reserved */
static bool
name_layers(Tx *tx)
{
	for (int i = 0; i < tx->n_layers; i++)
	{
		TxLayer    *l = &tx->layers[i];
		char		buf[512];
		bool		clash;
		int			k = 1;

		if (l->name == NULL || l->name[0] == '\0')
		{
			snprintf(buf, sizeof(buf), "layer%d", i + 1);
			l->name = tx_strdup(tx, buf);
		}
		do
		{
			clash = strcmp(l->name, "input") == 0 || strcmp(l->name, "_prev") == 0 ||
				l->name[0] == '_';
			for (int j = 0; j < i && !clash; j++)
				clash = strcmp(tx->layers[j].name, l->name) == 0;
			if (clash)
			{
				snprintf(buf, sizeof(buf), "%.480s~%d", l->name, ++k);
				l->name = tx_strdup(tx, buf);
			}
		} while (clash && l->name != NULL);
		if (l->name == NULL)
			return false;
	}
	return true;
}

static void
write_layer(Tx *tx, MaasBuf *b, int i)
{
	const TxLayer *l = &tx->layers[i];

	maas_buf_puts(b, "{\"op\": ");
	maas_json_write_string(b, l->op, strlen(l->op));
	maas_buf_puts(b, ", \"name\": ");
	maas_json_write_string(b, l->name, strlen(l->name));
	if (l->n_in == 1 && l->in[0] != i)
	{
		const char *nm = layer_name(tx, l->in[0]);

		maas_buf_puts(b, ", \"input\": ");
		maas_json_write_string(b, nm, strlen(nm));
	}
	else if (l->n_in > 1)
	{
		maas_buf_puts(b, ", \"input\": [");
		for (int k = 0; k < l->n_in; k++)
		{
			const char *nm = layer_name(tx, l->in[k]);

			if (k)
				maas_buf_puts(b, ", ");
			maas_json_write_string(b, nm, strlen(nm));
		}
		maas_buf_puts(b, "]");
	}
	for (int k = 0; k < l->n_keys; k++)
	{
		const TxKey *key = &l->keys[k];

		maas_buf_puts(b, ", ");
		maas_json_write_string(b, key->key, strlen(key->key));
		maas_buf_puts(b, ": ");
		switch (key->type)
		{
			case TK_TENSOR:
				maas_json_write_string(b, tx->tensors[key->tensor].name,
									   strlen(tx->tensors[key->tensor].name));
				break;
			case TK_NUM:
				maas_json_write_number(b, key->num, false);
				break;
			case TK_INT:
				maas_buf_printf(b, "%" PRId64, key->ints[0]);
				break;
			case TK_STR:
				maas_json_write_string(b, key->str, strlen(key->str));
				break;
			case TK_BOOL:
				maas_buf_puts(b, key->b ? "true" : "false");
				break;
			case TK_INTS:
				maas_buf_puts(b, "[");
				for (int j = 0; j < key->n_ints; j++)
					maas_buf_printf(b, "%s%" PRId64, j ? ", " : "", key->ints[j]);
				maas_buf_puts(b, "]");
				break;
		}
	}
	maas_buf_puts(b, "}");
}

static const char *
role_name(MaasOnnxInputRole r)
{
	static const char *const names[] = {"features", "tokens", "types", "attention mask", "unused"};

	return names[r];
}

/* the inputs the config records, and the import's input list */
static bool
describe_inputs(Tx *tx, MaasOnnxImport *out)
{
	const MaasOnnxGraph *g = tx->g;

	out->inputs = tx_alloc(tx, (size_t) g->n_inputs, sizeof(MaasOnnxInput));
	if (out->inputs == NULL)
		return false;
	for (int i = 0; i < g->n_inputs; i++)
	{
		int			id = g->n_initializers + i;
		MaasOnnxInput *mi;

		if (g->inputs[i].initializer >= 0 || bound_input(tx, g->inputs[i].name) != NULL)
			continue;
		mi = &out->inputs[out->n_inputs++];
		mi->name = g->inputs[i].name;
		mi->role = id == tx->features_in ? MAAS_ONNX_IN_FEATURES :
			id == tx->tokens_in ? MAAS_ONNX_IN_TOKENS :
			id == tx->types_in ? MAAS_ONNX_IN_TYPES :
			id == tx->mask_in ? MAAS_ONNX_IN_MASK : MAAS_ONNX_IN_UNUSED;
		mi->numel = mi->role == MAAS_ONNX_IN_FEATURES ? tx->n_features : 0;
	}
	return true;
}

/* the net's served value: a layer, made if the output is the input itself */
static bool
output_layer(Tx *tx, TxVal *v)
{
	if (v->kind == TX_EMB && !tx_materialize(tx, v))
		return false;
	if (v->kind != TX_RUN)
		return maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
						  "graph output \"%s\" does not depend on a computed value maas can serve",
						  v->name);
	if (!tx_std_shape(v))
		return maas_error(tx->err, MAAS_ERR_UNSUPPORTED,
						  "graph output \"%s\" is not laid out batch first", v->name);
	if (v->layer == 0)
	{
		int			in = 0;
		TxLayer    *l = tx_layer(tx, "dropout", 1, &in);

		if (l == NULL)
			return false;
		l->name = v->name;
		v->layer = tx->n_layers;
	}
	return true;
}

/* how many layers read program value v */
static int
readers(const Tx *tx, int v)
{
	int			n = 0;

	for (int i = 0; i < tx->n_layers; i++)
		for (int k = 0; k < tx->layers[i].n_in; k++)
			if (tx->layers[i].in[k] == v)
				n++;
	return n;
}

/*
 * A generation model must give next-token logits per row: the last
 * position of the sequence it computes.  The pool goes before the head, the
 * position-wise layers at the end (dense, activations, norms), so that they
 * run on one position a row.  Returns the served value, which moved.
 */
static bool
pool_for_generation(Tx *tx, int *value)
{
	int			first = *value;
	TxLayer    *p;

	/* walk back over one-input position-wise layers that only feed the next */
	while (first > 0)
	{
		const TxLayer *l = &tx->layers[first - 1];
		int			src = l->in[0];

		if (l->n_in != 1 || !l->seq || src <= 0 ||
			(strcmp(l->op, "dense") != 0 && strcmp(l->op, "layernorm") != 0 &&
			 strcmp(l->op, "gelu") != 0 && strcmp(l->op, "relu") != 0 &&
			 strcmp(l->op, "tanh") != 0 && strcmp(l->op, "affine") != 0) ||
			readers(tx, src) != 1)
			break;
		first = src;
	}

	/* the pool becomes layer index first (value first + 1); later ones shift */
	if (tx_layer(tx, "pool", 1, &first) == NULL)
		return false;
	memmove(&tx->layers[first + 1], &tx->layers[first],
			sizeof(TxLayer) * (size_t) (tx->n_layers - 1 - first));
	p = &tx->layers[first];
	memset(p, 0, sizeof(*p));
	p->op = "pool";
	p->n_in = 1;
	p->in[0] = first;
	p->width = tx->layers[first - 1].width;
	p->name = "last_position";
	p->node = -1;
	if (!tx_key_str(tx, p, "mode", "last"))
		return false;
	for (int i = first + 1; i < tx->n_layers; i++)
	{
		TxLayer    *l = &tx->layers[i];

		for (int k = 0; k < l->n_in; k++)
			if (l->in[k] > first)
				l->in[k]++;
			else if (l->in[k] == first)
				l->in[k] = first + 1;	/* the head reads the pool */
		l->seq = false;
	}
	for (int v = 0; v < tx->n_vals; v++)
		if (tx->vals[v].kind == TX_RUN && tx->vals[v].layer > first)
			tx->vals[v].layer++;
	*value += 1;
	return true;
}

/* the tensors the layers name, in order of first use */
static bool
collect_tensors(Tx *tx, MaasOnnxImport *out)
{
	int		   *seen = tx_alloc(tx, (size_t) tx->n_tensors, sizeof(int));
	int64_t    *shapes;

	out->tensors = tx_alloc(tx, (size_t) tx->n_tensors, sizeof(StWriteTensor));
	shapes = tx_alloc(tx, (size_t) tx->n_tensors * TX_RANK, sizeof(int64_t));
	if (seen == NULL || out->tensors == NULL || shapes == NULL)
		return false;
	for (int i = 0; i < tx->n_layers; i++)
		for (int k = 0; k < tx->layers[i].n_keys; k++)
		{
			const TxKey *key = &tx->layers[i].keys[k];
			TxTensor   *t;
			StWriteTensor *w;

			if (key->type != TK_TENSOR || seen[key->tensor])
				continue;
			seen[key->tensor] = 1;
			t = &tx->tensors[key->tensor];
			w = &out->tensors[out->n_tensors];
			w->name = t->name;
			w->dtype = ST_F32;
			w->ndim = t->ndim;
			memcpy(&shapes[out->n_tensors * TX_RANK], t->shape, sizeof(int64_t) * TX_RANK);
			w->shape = &shapes[out->n_tensors * TX_RANK];
			w->data = t->data != NULL ? (const void *) t->data : t->raw;
			out->n_tensors++;
		}
	return true;
}

static const char *
derive_task(Tx *tx, int value, int vocab)
{
	const TxLayer *l = tx_layer_of(tx, value);

	if (tx->opts != NULL && tx->opts->task != NULL)
		return tx->opts->task;
	if (l->seq)
		return tx->text && l->width == vocab ? "generation" : "embedding";
	if (l->width == 1)
		return strcmp(l->op, "sigmoid") == 0 ? "classification" : "regression";
	return "classification";
}

static bool
write_config(Tx *tx, MaasOnnxImport *out, int served, const char *task)
{
	MaasBuf    *b = &out->config;
	const MaasOnnxModel *m = tx->m;

	maas_buf_init(b);
	maas_buf_puts(b, "{\"task\": ");
	maas_json_write_string(b, task, strlen(task));
	if (tx->text)
		maas_buf_puts(b, ", \"input\": \"tokens\"");
	else
	{
		maas_buf_printf(b, ", \"n_features\": %d", tx->n_features);
		if (tx->in_h > 0)
			maas_buf_printf(b, ", \"input_shape\": [%d, %d, %d]", tx->in_c, tx->in_h, tx->in_w);
	}
	maas_buf_puts(b, ",\n \"layers\": [\n  ");
	for (int i = 0; i < tx->n_layers; i++)
	{
		if (i)
			maas_buf_puts(b, ",\n  ");
		write_layer(tx, b, i);
	}
	maas_buf_puts(b, "]");
	if (served != tx->n_layers)
	{
		maas_buf_puts(b, ",\n \"output\": ");
		maas_json_write_string(b, layer_name(tx, served), strlen(layer_name(tx, served)));
	}
	maas_buf_puts(b, ",\n \"onnx\": {\"producer\": ");
	{
		char		prod[512];

		snprintf(prod, sizeof(prod), "%.200s%s%.200s", m->producer_name,
				 m->producer_version[0] ? " " : "", m->producer_version);
		maas_json_write_string(b, prod, strlen(prod));
	}
	maas_buf_printf(b, ", \"ir_version\": %" PRId64 ", \"opset\": %" PRId64, m->ir_version, tx->opset);
	maas_buf_puts(b, ", \"inputs\": {");
	for (int i = 0; i < out->n_inputs; i++)
	{
		const char *r = role_name(out->inputs[i].role);

		if (i)
			maas_buf_puts(b, ", ");
		maas_json_write_string(b, out->inputs[i].name, strlen(out->inputs[i].name));
		maas_buf_puts(b, ": ");
		maas_json_write_string(b, r, strlen(r));
	}
	maas_buf_puts(b, "}, \"output\": ");
	maas_json_write_string(b, out->outputs[0].name, strlen(out->outputs[0].name));
	maas_buf_puts(b, "}}");
	if (b->oom)
		return maas_error_nomem(tx->err);
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
		if (!output_layer(&tx, v))
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
		return describe_inputs(&tx, out);
	}
	task = derive_task(&tx, served, 0);
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
		task = derive_task(&tx, served, vocab);
		if (strcmp(task, "generation") == 0 && tx.layers[served - 1].seq)
		{
			if (!pool_for_generation(&tx, &served))
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
	if (!name_layers(&tx))
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
	if (!describe_inputs(&tx, out) || !collect_tensors(&tx, out) ||
		!write_config(&tx, out, served, task))
		return false;
	return true;
}
