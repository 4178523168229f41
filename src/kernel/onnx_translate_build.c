/*
 * onnx_translate_build.c
 *		The program the ONNX translator builds, as its ops see it: errors
 *		about the node being translated, memory, attributes, the layers and
 *		their config keys, and the tensors the layers name (made, or used in
 *		place from the model's initializers).
 */
#include "onnx_translate_int.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>


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

const char *
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
	/* ONNX strings are bytes: what maas compares and quotes is UTF-8 text */
	if (a != NULL && (strlen(a->s) != (size_t) a->s_len ||
					  !maas_utf8_valid((const uint8_t *) a->s, (size_t) a->s_len)))
		return tx_invalid(tx, "attribute \"%s\" is not valid UTF-8 text", name);
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

