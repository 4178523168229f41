/*
 * onnx_translate_config.c
 *		The end of the ONNX translator: the served output's layer, the pool a
 *		generation or embedding model needs, the layers' names, the task, the
 *		inputs and tensors of the import, and the config JSON it writes.
 */
#include "onnx_translate_int.h"
#include "net.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>


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
bool
tx_name_layers(Tx *tx)
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
bool
tx_describe_inputs(Tx *tx, MaasOnnxImport *out)
{
	const MaasOnnxGraph *g = tx->g;

	out->inputs = tx_alloc(tx, (size_t) g->n_inputs, sizeof(MaasOnnxInput));
	if (out->inputs == NULL)
		return false;
	for (int i = 0; i < g->n_inputs; i++)
	{
		int			id = g->n_initializers + i;
		MaasOnnxInput *mi;

		if (g->inputs[i].initializer >= 0 || tx_bound_input(tx, g->inputs[i].name) != NULL)
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
bool
tx_output_layer(Tx *tx, TxVal *v)
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
bool
tx_pool_for_generation(Tx *tx, int *value)
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
bool
tx_collect_tensors(Tx *tx, MaasOnnxImport *out)
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

/*
 * The runtime refuses a tensor that is not finite (net_build.c); the
 * writer says so first, naming the initializer.  Each block is checked
 * just after the writer copied it, so the check reads no memory twice.
 */
typedef struct FiniteCheck
{
	const MaasOnnxImport *imp;
	MaasError  *err;
} FiniteCheck;

static bool
finite_block(void *arg, int tensor, const uint8_t *copy, size_t n)
{
	FiniteCheck *c = arg;

	if (maas_all_finite((const float *) copy, n / sizeof(float)))
		return true;
	return maas_error(c->err, MAAS_ERR_INVALID, "initializer \"%s\" holds NaN or infinite values",
					  c->imp->tensors[tensor].name);
}

uint8_t *
maas_onnx_write_weights(const MaasOnnxImport *imp, size_t *len, MaasError *err)
{
	FiniteCheck c = {imp, err};

	return st_write_checked(imp->tensors, imp->n_tensors, finite_block, &c, len, err);
}

const char *
tx_derive_task(Tx *tx, int value, int vocab)
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

bool
tx_write_config(Tx *tx, MaasOnnxImport *out, int served, const char *task)
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
