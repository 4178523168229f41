/*
 * onnx_lookup.c
 *		Lookups in a graph the reader returned (producers, initializers,
 *		attributes, opsets, node labels for messages) and the operators a
 *		model uses, with their counts.
 */
#include "onnx_int.h"

#include <stdio.h>
#include <string.h>

/* ----------------------------------------------------------------
 *		lookups
 * ----------------------------------------------------------------
 */

bool
maas_onnx_lookup(const MaasOnnxGraph *graph, const char *name, MaasOnnxProducer *producer)
{
	const NameSlot *slot;

	if (graph->names == NULL || name == NULL || name[0] == '\0')
		return false;
	slot = onnx_find_name(graph->names, name);
	if (slot == NULL)
		return false;
	producer->source = slot->source;
	producer->index = slot->index;
	producer->slot = slot->slot;
	return true;
}

const MaasOnnxTensor *
maas_onnx_initializer(const MaasOnnxGraph *graph, const char *name)
{
	MaasOnnxProducer p;

	if (!maas_onnx_lookup(graph, name, &p) || p.source != MAAS_ONNX_FROM_INITIALIZER)
		return NULL;
	return &graph->initializers[p.index];
}

const MaasOnnxAttr *
maas_onnx_attr(const MaasOnnxNode *node, const char *name)
{
	int32_t		i;

	for (i = 0; i < node->n_attrs; i++)
	{
		if (strcmp(node->attrs[i].name, name) == 0)
			return &node->attrs[i];
	}
	return NULL;
}

int64_t
maas_onnx_opset(const MaasOnnxModel *model, const char *domain)
{
	int32_t		i;

	if (strcmp(domain, "ai.onnx") == 0)
		domain = "";
	for (i = 0; i < model->n_opsets; i++)
	{
		if (strcmp(model->opsets[i].domain, domain) == 0)
			return model->opsets[i].version;
	}
	return 0;
}

void
maas_onnx_node_label(const MaasOnnxGraph *graph, int32_t index, char *buf, size_t cap)
{
	if (cap == 0)
		return;
	if (index < 0 || index >= graph->n_nodes)
	{
		snprintf(buf, cap, "node %d", index);
		return;
	}
	onnx_node_label(&graph->nodes[index], index, buf, cap);
}


/* ----------------------------------------------------------------
 *		what a model uses
 * ----------------------------------------------------------------
 */

/* what the translator translates (onnx_translate_*.c, onnx_fold_ops.c:
 * each has its TxOp) */
const MaasOnnxOpSupport maas_onnx_supported_ops[] = {
	/* MLPs */
	{"", "Gemm", "dense"},
	{"", "MatMul", "dense (with a constant); within attention"},
	{"", "Add", "bias or affine with a constant, add of two values; folded"},
	{"", "Sub", "affine with a constant; within LayerNorm; folded"},
	{"", "Mul", "affine with a constant; within GELU; folded"},
	{"", "Div", "affine with a constant; within LayerNorm; folded"},
	{"", "Relu", "relu"},
	{"", "Tanh", "tanh; within GELU"},
	{"", "Sigmoid", "sigmoid"},
	{"", "Softmax", "softmax; within attention"},
	{"", "LogSoftmax", "logsoftmax"},
	{"", "Flatten", "a view"},
	{"", "Reshape", "a view; folded"},
	{"", "Identity", "a view"},
	{"", "Dropout", "identity at inference"},
	{"", "Squeeze", "a view; folded"},
	{"", "Unsqueeze", "a view; folded"},
	/* CNNs (2-D images, NCHW) */
	{"", "Conv", "conv2d"},
	{"", "MaxPool", "maxpool2d"},
	{"", "AveragePool", "avgpool2d"},
	{"", "GlobalAveragePool", "global_avgpool"},
	{"", "BatchNormalization", "folded into the conv or dense layer before; affine"},
	/* transformers */
	{"", "Gather", "embedding; pool (first position); folded"},
	{"", "LayerNormalization", "layernorm"},
	{"", "ReduceMean", "within LayerNorm"},
	{"", "Pow", "within LayerNorm and GELU; folded"},
	{"", "Sqrt", "within LayerNorm; folded"},
	{"", "Erf", "within GELU"},
	{"", "Gelu", "gelu"},
	{"", "Transpose", "within attention; a view when nothing moves; folded"},
	{"", "Split", "within attention (fused query, key, value); folded"},
	{"", "Slice", "folded"},
	{"", "Concat", "folded"},
	{"", "Where", "within attention (causal mask); folded"},
	/* folded at import */
	{"", "Constant", "folded"},
	{"", "Shape", "folded"},
	{"", "Size", "folded"},
	{"", "Cast", "folded; a view when it changes nothing"},
	{"", "Range", "folded"},
	{"", "ConstantOfShape", "folded"},
	{"", "Equal", "folded"},
	{"", "Less", "folded"},
	{"", "LessOrEqual", "folded; within attention (causal mask)"},
	{"", "Greater", "folded"},
	{"", "GreaterOrEqual", "folded"},
	{"", "Not", "folded"},
	{"", "Neg", "folded"},
	{"", "Reciprocal", "folded"},
	{"", "Expand", "folded"},
	{NULL, NULL, NULL}
};

/* the entry of a table for an operator, or NULL */
static const MaasOnnxOpSupport *
op_supported(const MaasOnnxOpSupport *table, const char *domain, const char *op)
{
	if (table == NULL)
		return NULL;
	for (; table->op_type != NULL; table++)
	{
		const char *d = table->domain != NULL ? table->domain : "";

		if (strcmp(table->op_type, op) == 0 &&
			(strcmp(d, domain) == 0 || (strcmp(d, "ai.onnx") == 0 && domain[0] == '\0')))
			return table;
	}
	return NULL;
}

MaasOnnxOpCount *
maas_onnx_op_counts(const MaasOnnxModel *model, const MaasOnnxOpSupport *supported,
					int32_t *n_ops, MaasError *err)
{
	const MaasOnnxGraph *g = &model->graph;
	MaasOnnxOpCount *ops;
	int32_t    *table;			/* hash of (domain, op_type) -> index + 1 */
	size_t		cap = 16;
	int32_t		n = 0;
	int32_t		i;

	while (cap < 2 * (size_t) g->n_nodes)
		cap *= 2;
	ops = maas_kalloc_array((size_t) g->n_nodes + 1, sizeof(MaasOnnxOpCount));
	table = maas_kalloc_array(cap, sizeof(int32_t));
	if (ops == NULL || table == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(table, 0, cap * sizeof(int32_t));
	for (i = 0; i < g->n_nodes; i++)
	{
		const MaasOnnxNode *node = &g->nodes[i];
		uint32_t	h = onnx_name_hash(node->op_type) * 31u + onnx_name_hash(node->domain);
		size_t		k = h & (cap - 1);

		while (table[k] != 0)
		{
			MaasOnnxOpCount *op = &ops[table[k] - 1];

			if (strcmp(op->op_type, node->op_type) == 0 &&
				strcmp(op->domain, node->domain) == 0)
				break;
			k = (k + 1) & (cap - 1);
		}
		if (table[k] == 0)
		{
			const MaasOnnxOpSupport *entry = op_supported(supported, node->domain,
														  node->op_type);

			ops[n].domain = node->domain;
			ops[n].op_type = node->op_type;
			ops[n].count = 0;
			ops[n].first_node = i;
			ops[n].supported = entry != NULL;
			ops[n].note = entry != NULL ? entry->note : NULL;
			table[k] = ++n;
		}
		ops[table[k] - 1].count++;
	}
	*n_ops = n;
	return ops;
}
