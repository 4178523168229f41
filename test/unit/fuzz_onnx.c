/*
 * fuzz_onnx.c
 *		libFuzzer target for the ONNX reader.
 *
 * Each input is read as a model (subgraphs refused, then kept as stubs) and
 * as a standalone tensor.  When a read succeeds, every promise of onnx.h is
 * checked: tensors inside the buffer and of the size their dtype and dims
 * say, names valid UTF-8, every node input produced and the order
 * topological, lookups consistent, the op counts adding up; every tensor is
 * converted.  When it fails, the message must be set, NUL-terminated and
 * valid UTF-8.  A model read is then translated (onnx_translate.h): the
 * translation fails with such a message or gives a program the runtime's
 * builder accepts, its config valid JSON and its tensors the ones it names.
 * A broken promise traps.  Seeds: test_onnx --corpus.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "net_build.h"
#include "onnx.h"
#include "onnx_translate.h"
#include "unit.h"
#include "utf8.h"

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

static const uint8_t *in_buf;
static size_t in_len;

static void
check_name(const char *s, bool nonempty)
{
	REQUIRE(s != NULL);
	REQUIRE(!nonempty || s[0] != '\0');
	REQUIRE(maas_utf8_valid((const uint8_t *) s, strlen(s)));
}

static void
check_tensor(const MaasOnnxTensor *t)
{
	size_t		size = maas_onnx_dtype_size(t->dtype);
	int64_t		numel = 1;
	int			i;

	check_name(t->name, false);
	REQUIRE(size > 0);
	REQUIRE(t->ndim >= 0 && t->ndim <= MAAS_ONNX_MAX_DIMS);
	for (i = 0; i < t->ndim; i++)
	{
		REQUIRE(t->dims[i] >= 0);
		REQUIRE(!__builtin_mul_overflow(numel, t->dims[i], &numel));
	}
	REQUIRE(numel == t->numel);
	REQUIRE((uint64_t) t->numel * size == t->nbytes);
	REQUIRE(t->data != NULL);
	if (t->in_place)
	{
		REQUIRE(t->offset <= in_len && t->nbytes <= in_len - t->offset);
		REQUIRE((const uint8_t *) t->data == in_buf + t->offset);
	}
	else
		REQUIRE(t->offset == 0);

	/* the conversions read every element */
	{
		float	   *f = malloc((size_t) t->numel * sizeof(float) + 1);
		int64_t    *v = malloc((size_t) t->numel * sizeof(int64_t) + 1);
		MaasError	err;
		bool		floating = t->dtype == MAAS_ONNX_FLOAT || t->dtype == MAAS_ONNX_DOUBLE ||
			t->dtype == MAAS_ONNX_FLOAT16 || t->dtype == MAAS_ONNX_BFLOAT16;

		REQUIRE(f != NULL && v != NULL);
		REQUIRE(maas_onnx_tensor_f32(t, f, &err) == floating);
		if (floating)
			REQUIRE(!maas_onnx_tensor_i64(t, v, &err));
		else if (!maas_onnx_tensor_i64(t, v, &err))
			REQUIRE(t->dtype == MAAS_ONNX_UINT64);
		free(f);
		free(v);
	}
}

static void
check_value(const MaasOnnxValueInfo *v)
{
	int			i;

	check_name(v->name, true);
	REQUIRE(v->kind >= MAAS_ONNX_VALUE_UNKNOWN && v->kind <= MAAS_ONNX_VALUE_SPARSE_TENSOR);
	REQUIRE(v->ndim >= -1 && v->ndim <= MAAS_ONNX_MAX_RANK);
	for (i = 0; i < v->ndim; i++)
	{
		REQUIRE(v->dims[i].value >= -1);
		if (v->dims[i].param != NULL)
			check_name(v->dims[i].param, true);
	}
}

static void
check_model(const MaasOnnxModel *m, bool opaque)
{
	const MaasOnnxGraph *g = &m->graph;
	int32_t    *position;
	MaasOnnxOpCount *ops;
	MaasError	err;
	int32_t		n_ops;
	int32_t		total = 0;
	int32_t		i;
	int32_t		k;

	REQUIRE(m->buf == in_buf && m->len == in_len);
	check_name(m->producer_name, false);
	check_name(m->producer_version, false);
	REQUIRE(m->n_opsets >= 0 && m->n_opsets <= MAAS_ONNX_MAX_OPSETS);
	for (i = 0; i < m->n_opsets; i++)
	{
		REQUIRE(m->opsets[i].version >= 1);
		REQUIRE(strcmp(m->opsets[i].domain, "ai.onnx") != 0);
		REQUIRE(maas_onnx_opset(m, m->opsets[i].domain) == m->opsets[i].version);
	}
	for (i = 0; i < g->n_initializers; i++)
	{
		MaasOnnxProducer p;

		check_tensor(&g->initializers[i]);
		REQUIRE(maas_onnx_lookup(g, g->initializers[i].name, &p));
		REQUIRE(p.source == MAAS_ONNX_FROM_INITIALIZER && p.index == i);
		REQUIRE(maas_onnx_initializer(g, g->initializers[i].name) == &g->initializers[i]);
	}
	for (i = 0; i < g->n_inputs; i++)
	{
		MaasOnnxProducer p;

		check_value(&g->inputs[i]);
		REQUIRE(maas_onnx_lookup(g, g->inputs[i].name, &p));
		if (g->inputs[i].initializer >= 0)
		{
			REQUIRE(g->inputs[i].initializer < g->n_initializers);
			REQUIRE(p.source == MAAS_ONNX_FROM_INITIALIZER);
			REQUIRE(strcmp(g->initializers[g->inputs[i].initializer].name, g->inputs[i].name) == 0);
		}
		else
			REQUIRE(p.source == MAAS_ONNX_FROM_INPUT && p.index == i);
	}
	for (i = 0; i < g->n_outputs; i++)
	{
		MaasOnnxProducer p;

		check_value(&g->outputs[i]);
		REQUIRE(maas_onnx_lookup(g, g->outputs[i].name, &p));
		for (k = 0; k < i; k++)
			REQUIRE(strcmp(g->outputs[k].name, g->outputs[i].name) != 0);
	}
	for (i = 0; i < g->n_value_info; i++)
		check_value(&g->value_info[i]);

	/* order is a permutation in which producers come first */
	position = malloc(((size_t) g->n_nodes + 1) * sizeof(int32_t));
	REQUIRE(position != NULL);
	for (i = 0; i < g->n_nodes; i++)
		position[i] = -1;
	for (i = 0; i < g->n_nodes; i++)
	{
		REQUIRE(g->order[i] >= 0 && g->order[i] < g->n_nodes);
		REQUIRE(position[g->order[i]] == -1);
		position[g->order[i]] = i;
	}
	for (i = 0; i < g->n_nodes; i++)
	{
		const MaasOnnxNode *node = &g->nodes[i];
		char		label[MAAS_ERRLEN];

		check_name(node->op_type, true);
		check_name(node->name, false);
		check_name(node->domain, false);
		REQUIRE(maas_onnx_opset(m, node->domain) > 0);
		maas_onnx_node_label(g, i, label, sizeof(label));
		REQUIRE(maas_utf8_valid((const uint8_t *) label, strlen(label)));
		for (k = 0; k < node->n_inputs; k++)
		{
			MaasOnnxProducer p;

			check_name(node->inputs[k], false);
			if (node->inputs[k][0] == '\0')
				continue;
			REQUIRE(maas_onnx_lookup(g, node->inputs[k], &p));
			if (p.source == MAAS_ONNX_FROM_NODE)
			{
				REQUIRE(position[p.index] < position[i]);
				REQUIRE(strcmp(g->nodes[p.index].outputs[p.slot], node->inputs[k]) == 0);
			}
		}
		for (k = 0; k < node->n_outputs; k++)
		{
			MaasOnnxProducer p;

			check_name(node->outputs[k], false);
			if (node->outputs[k][0] == '\0')
				continue;
			REQUIRE(maas_onnx_lookup(g, node->outputs[k], &p));
			REQUIRE(p.source == MAAS_ONNX_FROM_NODE && p.index == i && p.slot == k);
		}
		for (k = 0; k < node->n_attrs; k++)
		{
			const MaasOnnxAttr *a = &node->attrs[k];
			int32_t		j;

			check_name(a->name, true);
			REQUIRE(maas_onnx_attr(node, a->name) == a);
			switch (a->type)
			{
				case MAAS_ONNX_ATTR_FLOAT:
				case MAAS_ONNX_ATTR_INT:
					break;
				case MAAS_ONNX_ATTR_STRING:
					REQUIRE(a->s != NULL && a->s[a->s_len] == '\0');
					break;
				case MAAS_ONNX_ATTR_TENSOR:
					check_tensor(a->t);
					break;
				case MAAS_ONNX_ATTR_GRAPH:
				case MAAS_ONNX_ATTR_GRAPHS:
					REQUIRE(opaque && a->n >= 0);
					break;
				case MAAS_ONNX_ATTR_FLOATS:
					REQUIRE(a->n >= 0 && a->floats != NULL);
					break;
				case MAAS_ONNX_ATTR_INTS:
					REQUIRE(a->n >= 0 && a->ints != NULL);
					break;
				case MAAS_ONNX_ATTR_STRINGS:
					REQUIRE(a->n >= 0 && a->strings != NULL && a->string_lens != NULL);
					for (j = 0; j < a->n; j++)
						REQUIRE(a->strings[j][a->string_lens[j]] == '\0');
					break;
				default:
					REQUIRE(false);
			}
		}
	}
	free(position);

	ops = maas_onnx_op_counts(m, maas_onnx_supported_ops, &n_ops, &err);
	REQUIRE(ops != NULL && n_ops >= 0 && n_ops <= g->n_nodes);
	for (i = 0; i < n_ops; i++)
	{
		REQUIRE(ops[i].count > 0 && ops[i].first_node < g->n_nodes);
		REQUIRE(strcmp(g->nodes[ops[i].first_node].op_type, ops[i].op_type) == 0);
		total += ops[i].count;
	}
	REQUIRE(total == g->n_nodes);
}

static void
check_error(const MaasError *err)
{
	REQUIRE(err->status != MAAS_OK);
	REQUIRE(memchr(err->msg, '\0', sizeof(err->msg)) != NULL && err->msg[0] != '\0');
	REQUIRE(maas_utf8_valid((const uint8_t *) err->msg, strlen(err->msg)));
	REQUIRE(err->hint == NULL || err->hint[0] != '\0');
}

/* the translation of a model read: an error, or a program that builds */
static void
check_translate(const MaasOnnxModel *m)
{
	MaasOnnxImport imp;
	MaasError	err;
	uint8_t    *st;
	size_t		st_len;
	StFile		file;
	MaasJson   *config;
	MaasNet		net;

	memset(&err, 'x', sizeof(err));
	if (!maas_onnx_translate(m, NULL, &imp, NULL, &err))
	{
		check_error(&err);
		return;
	}
	REQUIRE(imp.n_layers >= 0 && imp.n_tensors >= 0 && imp.task != NULL);
	REQUIRE(imp.n_outputs == 1);
	for (int i = 0; i < imp.n_tensors; i++)
		check_name(imp.tensors[i].name, true);
	config = maas_json_parse(imp.config.data, imp.config.len, 0, NULL, &err);
	REQUIRE(config != NULL && config->type == MAAS_JSON_OBJECT);
	if (imp.n_layers == 0)
		return;					/* the output is a constant */
	/* non-finite weights are refused here, as the tensors are written */
	memset(&err, 'x', sizeof(err));
	st = maas_onnx_write_weights(&imp, &st_len, &err);
	if (st == NULL)
	{
		check_error(&err);
		return;
	}
	REQUIRE(st_parse(st, st_len, &file, &err));
	memset(&err, 'x', sizeof(err));
	if (!maas_net_build(&net, config, &file, true, &err))
	{
		/* the runtime's limits may refuse what the translator made */
		REQUIRE(err.status == MAAS_ERR_LIMIT);
		check_error(&err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MaasOnnxOptions strict = {0, 64 * size + (1 << 20)};
	MaasOnnxOptions opaque = {MAAS_ONNX_OPAQUE_SUBGRAPHS, 64 * size + (1 << 20)};
	MaasError	err;
	MaasOnnxModel *m;
	MaasOnnxTensor *t;

	in_buf = data;
	in_len = size;
	memset(&err, 'x', sizeof(err));
	m = maas_onnx_read(data, size, &strict, NULL, &err);
	if (m != NULL)
	{
		check_model(m, false);
		check_translate(m);
	}
	else
		check_error(&err);
	arena_reset();

	memset(&err, 'x', sizeof(err));
	m = maas_onnx_read(data, size, &opaque, NULL, &err);
	if (m != NULL)
		check_model(m, true);
	else
		check_error(&err);
	arena_reset();

	memset(&err, 'x', sizeof(err));
	t = maas_onnx_read_tensor(data, size, &strict, NULL, &err);
	if (t != NULL)
		check_tensor(t);
	else
		check_error(&err);
	arena_reset();
	return 0;
}
