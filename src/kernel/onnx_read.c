/*
 * onnx_read.c
 *		A checked, hand-written decoder of the subset of onnx.proto that
 *		maas imports: ModelProto, GraphProto, NodeProto, AttributeProto,
 *		TensorProto, ValueInfoProto/TypeProto shapes and opset imports,
 *		plus standalone TensorProto files.  This file holds the entry
 *		points, the graph and its checks (names, producers, topological
 *		order); the phases before it are in onnx_wire.c, onnx_tensor.c and
 *		onnx_node.c, the lookups after it in onnx_lookup.c (onnx_int.h).
 *
 * Why not protobuf-c.  Debian ships onnx.proto and protobuf-c 1.4.1, which
 * would generate a reader at build time.  Measured on two ~100 MB models
 * that torch.onnx.export wrote (make -C test/onnx bench; rough figures, a
 * loaded 2-core machine): reading the file takes 50-180 ms; protobuf-c's
 * unpack takes another 15-200 ms and allocates a second copy of the model,
 * because it copies every bytes field (raw_data); this decoder takes
 * 0.04-0.3 ms and allocates 4-62 KB, because raw_data is used in place.
 * Beyond the memory, protobuf-c's unpack returns NULL without saying why or
 * where, so the errors maas must give ("truncated protobuf at byte N",
 * "node 12 (Conv ...)") would need a second decoder anyway; it recurses on
 * nested messages without a depth bound; and it adds three build
 * dependencies (libonnx-dev for the schema, protobuf-c-compiler,
 * libprotobuf-c-dev) and a code-generation rule.  The subset is small and
 * its wire format simple, so it is decoded here, against the field numbers
 * and types of onnx.proto (IR version 8, ONNX 1.12).
 *
 * How it reads.  The protobuf wire format allows fields in any order and
 * repeated fields interleaved, so each message is walked twice: the first
 * walk checks every tag, wire type, varint and length, keeps the last value
 * of each singular field (protobuf's rule) and counts the repeated ones; the
 * arrays are then allocated at their exact sizes and the second walk fills
 * them.  Singular embedded messages (a model's graph, a value's type) given
 * twice are refused rather than merged.  Nothing recurses: each message
 * type has its own reader, and subgraphs (the only recursive part of the
 * schema that maas meets) are refused or skipped whole.  Unknown fields are
 * skipped by their wire type; groups (wire types 3 and 4, absent from
 * onnx.proto) are refused.
 *
 * Every allocation is charged against a budget (MaasOnnxOptions), so a
 * small crafted file cannot make the reader allocate without bound: counts
 * are capped by the limits of onnx.h, and the rest is at most a small
 * multiple of the buffer.
 */
#include "onnx_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const FieldSpec model_fields[] = {
	{1, W_VARINT, "ir_version"}, {2, W_LEN, "producer_name"},
	{3, W_LEN, "producer_version"}, {4, W_LEN, "domain"},
	{5, W_VARINT, "model_version"}, {6, W_LEN, "doc_string"},
	{7, W_LEN, "graph"}, {8, W_LEN, "opset_import"},
	{14, W_LEN, "metadata_props"}, {20, W_LEN, "training_info"},
	{25, W_LEN, "functions"},
};
static const FieldSpec opset_fields[] = {
	{1, W_LEN, "domain"}, {2, W_VARINT, "version"},
};
static const FieldSpec graph_fields[] = {
	{1, W_LEN, "node"}, {2, W_LEN, "name"}, {5, W_LEN, "initializer"},
	{10, W_LEN, "doc_string"}, {11, W_LEN, "input"}, {12, W_LEN, "output"},
	{13, W_LEN, "value_info"}, {14, W_LEN, "quantization_annotation"},
	{15, W_LEN, "sparse_initializer"},
};
static const MsgSpec ModelSpec = MSG("ModelProto", model_fields);
static const MsgSpec OpsetSpec = MSG("OperatorSetIdProto", opset_fields);
static const MsgSpec GraphSpec = MSG("GraphProto", graph_fields);


/* ----------------------------------------------------------------
 *		the name index
 * ----------------------------------------------------------------
 */


uint32_t
onnx_name_hash(const char *s)
{
	uint32_t	h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t) *s) * 16777619u;
	return h;
}

/* the slot for name: the one holding it, or the empty one it would take */
static NameSlot *
names_slot(const MaasOnnxNames *names, const char *name, uint32_t hash)
{
	size_t		i = hash & names->mask;

	for (;;)
	{
		NameSlot   *slot = &names->slots[i];

		if (slot->name == NULL ||
			(slot->hash == hash && strcmp(slot->name, name) == 0))
			return slot;
		i = (i + 1) & names->mask;
	}
}

static MaasOnnxNames *
names_create(Rd *rd, size_t n)
{
	MaasOnnxNames *names;
	size_t		cap = 16;

	while (cap < 2 * n)
	{
		if (cap > SIZE_MAX / 4)
		{
			maas_error(rd->err, MAAS_ERR_LIMIT, "too many names in the graph");
			return NULL;
		}
		cap *= 2;
	}
	if ((names = onnx_alloc(rd, sizeof(MaasOnnxNames))) == NULL ||
		(names->slots = onnx_alloc_array(rd, cap, sizeof(NameSlot))) == NULL)
		return NULL;
	memset(names->slots, 0, cap * sizeof(NameSlot));
	names->mask = cap - 1;
	return names;
}

/* "graph input \"x\"", "initializer \"w\"", "node 3 (Relu \"r\")" */
static void
producer_label(const MaasOnnxGraph *g, const NameSlot *slot, char *buf, size_t cap)
{
	if (slot->source == MAAS_ONNX_FROM_NODE)
		maas_onnx_node_label(g, slot->index, buf, cap);
	else if (slot->source == MAAS_ONNX_FROM_INPUT)
		snprintf(buf, cap, "graph input %d", slot->index);
	else
		snprintf(buf, cap, "initializer %d", slot->index);
}


/* ----------------------------------------------------------------
 *		GraphProto: reading, then the checks
 * ----------------------------------------------------------------
 */

/* index every value the graph produces: inputs, initializers, node outputs */
static bool
index_names(Rd *rd, MaasOnnxGraph *g, MaasOnnxValueInfo *inputs)
{
	MaasOnnxNames *names;
	size_t		n = (size_t) g->n_inputs + (size_t) g->n_initializers;
	int32_t		i;
	int32_t		k;

	for (i = 0; i < g->n_nodes; i++)
		n += (size_t) g->nodes[i].n_outputs;
	if ((names = names_create(rd, n)) == NULL)
		return false;
	g->names = names;

	for (i = 0; i < g->n_inputs; i++)
	{
		const char *name = inputs[i].name;
		uint32_t	h = onnx_name_hash(name);
		NameSlot   *slot = names_slot(names, name, h);

		rd_tick(rd);
		if (slot->name != NULL)
			return onnx_fail(rd, MAAS_ERR_INVALID, "graph input \"%.*s\" appears twice",
						   onnx_show_len(name), name);
		*slot = (NameSlot) {name, h, MAAS_ONNX_FROM_INPUT, i, 0};
	}
	for (i = 0; i < g->n_initializers; i++)
	{
		const char *name = g->initializers[i].name;
		uint32_t	h;
		NameSlot   *slot;

		rd_tick(rd);
		if (name[0] == '\0')
			return onnx_fail(rd, MAAS_ERR_INVALID, "initializer %d has no name", i);
		h = onnx_name_hash(name);
		slot = names_slot(names, name, h);
		if (slot->name != NULL && slot->source == MAAS_ONNX_FROM_INITIALIZER)
			return onnx_fail(rd, MAAS_ERR_INVALID, "initializer \"%.*s\" appears twice",
						   onnx_show_len(name), name);
		if (slot->name != NULL)
			inputs[slot->index].initializer = i;	/* an input with a default */
		*slot = (NameSlot) {name, h, MAAS_ONNX_FROM_INITIALIZER, i, 0};
	}
	for (i = 0; i < g->n_nodes; i++)
	{
		const MaasOnnxNode *node = &g->nodes[i];

		rd_tick(rd);
		for (k = 0; k < node->n_outputs; k++)
		{
			const char *name = node->outputs[k];
			uint32_t	h;
			NameSlot   *slot;

			if (name[0] == '\0')
				continue;
			h = onnx_name_hash(name);
			slot = names_slot(names, name, h);
			if (slot->name != NULL)
			{
				char		self[MAAS_ERRLEN];
				char		other[MAAS_ERRLEN];

				maas_onnx_node_label(g, i, self, sizeof(self));
				producer_label(g, slot, other, sizeof(other));
				if (slot->source == MAAS_ONNX_FROM_NODE && slot->index == i)
					snprintf(other, sizeof(other), "another output of the node");
				return maas_error(rd->err, MAAS_ERR_INVALID,
								  "%s: output \"%.*s\" is already produced by %s",
								  self, onnx_show_len(name), name, other);
			}
			*slot = (NameSlot) {name, h, MAAS_ONNX_FROM_NODE, i, k};
		}
	}
	return true;
}

const NameSlot *
onnx_find_name(const MaasOnnxNames *names, const char *name)
{
	const NameSlot *slot = names_slot(names, name, onnx_name_hash(name));

	return slot->name != NULL ? slot : NULL;
}

/*
 * Check that every node input and graph output is produced, and sort the
 * nodes topologically (Kahn's algorithm over the producer edges), or name
 * a node on a cycle.
 */
static bool
order_nodes(Rd *rd, MaasOnnxGraph *g)
{
	int32_t		n = g->n_nodes;
	int32_t    *order;
	int32_t    *indeg;
	int32_t    *first;			/* CSR: edges from node p are
								 * consumer[first[p] .. first[p + 1]) */
	int32_t    *consumer;
	size_t		n_edges = 0;
	bool		sorted = true;
	int32_t		i;
	int32_t		k;
	int32_t		head;
	int32_t		tail;

	for (i = 0; i < n; i++)
	{
		const MaasOnnxNode *node = &g->nodes[i];

		rd_tick(rd);
		for (k = 0; k < node->n_inputs; k++)
		{
			const NameSlot *slot;

			if (node->inputs[k][0] == '\0')
				continue;
			slot = onnx_find_name(g->names, node->inputs[k]);
			if (slot == NULL)
			{
				char		self[MAAS_ERRLEN];

				maas_onnx_node_label(g, i, self, sizeof(self));
				return maas_error(rd->err, MAAS_ERR_INVALID,
								  "%s: input \"%.*s\" is not produced by any node, initializer or graph input",
								  self, onnx_show_len(node->inputs[k]), node->inputs[k]);
			}
			if (slot->source == MAAS_ONNX_FROM_NODE)
			{
				n_edges++;
				if (slot->index >= i)
					sorted = false;
			}
		}
	}
	if (n_edges > INT32_MAX)
		return maas_error(rd->err, MAAS_ERR_LIMIT, "the graph has more than %d edges", INT32_MAX);
	for (i = 0; i < g->n_outputs; i++)
	{
		if (onnx_find_name(g->names, g->outputs[i].name) == NULL)
			return maas_error(rd->err, MAAS_ERR_INVALID,
							  "graph output \"%.*s\" is not produced by any node, initializer or graph input",
							  onnx_show_len(g->outputs[i].name), g->outputs[i].name);
	}

	if (g->n_outputs > 1)		/* graph outputs are unique */
	{
		const char **sorted;

		if ((sorted = onnx_alloc_array(rd, (size_t) g->n_outputs, sizeof(char *))) == NULL)
			return false;
		for (i = 0; i < g->n_outputs; i++)
			sorted[i] = g->outputs[i].name;
		qsort(sorted, (size_t) g->n_outputs, sizeof(char *), onnx_cmp_strptr);
		for (i = 1; i < g->n_outputs; i++)
		{
			if (strcmp(sorted[i - 1], sorted[i]) == 0)
				return maas_error(rd->err, MAAS_ERR_INVALID, "graph output \"%.*s\" appears twice",
								  onnx_show_len(sorted[i]), sorted[i]);
		}
	}

	if ((order = onnx_alloc_array(rd, (size_t) n, sizeof(int32_t))) == NULL)
		return false;
	g->order = order;
	if (sorted)
	{
		for (i = 0; i < n; i++)
			order[i] = i;
		return true;
	}

	if ((indeg = onnx_alloc_array(rd, (size_t) n, sizeof(int32_t))) == NULL ||
		(first = onnx_alloc_array(rd, (size_t) n + 1, sizeof(int32_t))) == NULL ||
		(consumer = onnx_alloc_array(rd, n_edges, sizeof(int32_t))) == NULL)
		return false;
	memset(indeg, 0, (size_t) n * sizeof(int32_t));
	memset(first, 0, ((size_t) n + 1) * sizeof(int32_t));
	for (i = 0; i < n; i++)		/* count the edges of each producer */
	{
		const MaasOnnxNode *node = &g->nodes[i];

		for (k = 0; k < node->n_inputs; k++)
		{
			const NameSlot *slot;

			if (node->inputs[k][0] == '\0')
				continue;
			slot = onnx_find_name(g->names, node->inputs[k]);
			if (slot->source == MAAS_ONNX_FROM_NODE)
			{
				first[slot->index + 1]++;
				indeg[i]++;
			}
		}
	}
	for (i = 0; i < n; i++)
		first[i + 1] += first[i];
	for (i = 0; i < n; i++)		/* fill them (indeg as a cursor) */
	{
		const MaasOnnxNode *node = &g->nodes[i];

		rd_tick(rd);
		for (k = 0; k < node->n_inputs; k++)
		{
			const NameSlot *slot;

			if (node->inputs[k][0] == '\0')
				continue;
			slot = onnx_find_name(g->names, node->inputs[k]);
			if (slot->source == MAAS_ONNX_FROM_NODE)
				consumer[first[slot->index]++] = i;
		}
	}
	for (i = n; i > 0; i--)		/* first[] was advanced: shift it back */
		first[i] = first[i - 1];
	first[0] = 0;

	head = tail = 0;
	for (i = 0; i < n; i++)
	{
		if (indeg[i] == 0)
			order[tail++] = i;
	}
	while (head < tail)
	{
		int32_t		p = order[head++];
		int32_t		e;

		rd_tick(rd);
		for (e = first[p]; e < first[p + 1]; e++)
		{
			if (--indeg[consumer[e]] == 0)
				order[tail++] = consumer[e];
		}
	}
	if (tail < n)
	{
		/*
		 * A cycle.  From any node left over, step to a producer of one of
		 * its inputs that is left over too (one exists: its in-degree is
		 * not zero), until a node comes round again: that one is on a
		 * cycle.  indeg[] marks the steps taken.
		 */
		int32_t		u = -1;
		int32_t		step = 1;
		const char *via = NULL;
		char		self[MAAS_ERRLEN];

		for (i = 0; i < n && u < 0; i++)
		{
			if (indeg[i] > 0)
				u = i;
		}
		for (i = 0; i < n; i++)
			indeg[i] = indeg[i] > 0 ? -1 : 0;	/* -1: left over, unvisited */
		while (u >= 0 && indeg[u] == -1)
		{
			const MaasOnnxNode *node = &g->nodes[u];
			int32_t		next = -1;

			indeg[u] = step++;
			for (k = 0; k < node->n_inputs && next < 0; k++)
			{
				const NameSlot *slot;

				if (node->inputs[k][0] == '\0')
					continue;
				slot = onnx_find_name(g->names, node->inputs[k]);
				if (slot->source == MAAS_ONNX_FROM_NODE && indeg[slot->index] != 0)
				{
					next = slot->index;
					via = node->inputs[k];
				}
			}
			u = next;
		}
		if (u < 0 || via == NULL)	/* cannot happen: see above */
			return maas_error(rd->err, MAAS_ERR_INVALID, "the graph has a cycle");
		maas_onnx_node_label(g, u, self, sizeof(self));
		return maas_error(rd->err, MAAS_ERR_INVALID,
						  "the graph has a cycle: %s depends on its own output \"%.*s\"",
						  self, onnx_show_len(via), via);
	}
	return true;
}

static bool
read_graph(Rd *rd, Span s, MaasOnnxGraph *g)
{
	enum
	{
		T_NODE, T_NAME, T_INIT, T_INPUT, T_OUTPUT, T_VALUE_INFO, T_SPARSE
	};
	Tally		t[] = {
		{.number = 1}, {.number = 2}, {.number = 5}, {.number = 11}, {.number = 12},
		{.number = 13}, {.number = 15, .stop = true}
	};
	Cursor		c;
	Field		f;
	size_t		n_node;
	size_t		n_init;
	size_t		n_in;
	size_t		n_out;
	size_t		n_vi;
	MaasOnnxNode *nodes;
	MaasOnnxTensor *inits;
	MaasOnnxValueInfo *inputs;
	MaasOnnxValueInfo *outputs;
	MaasOnnxValueInfo *value_info;

	memset(g, 0, sizeof(*g));
	if (!onnx_pb_tally(rd, s, &GraphSpec, t, (int) (sizeof(t) / sizeof(t[0]))))
		return false;
	if (t[T_SPARSE].count > 0)
		return onnx_fail(rd, MAAS_ERR_UNSUPPORTED, "sparse initializers are not supported");
	n_node = t[T_NODE].count;
	n_init = t[T_INIT].count;
	n_in = t[T_INPUT].count;
	n_out = t[T_OUTPUT].count;
	n_vi = t[T_VALUE_INFO].count;
	if (!onnx_rd_name(rd, t[T_NAME].last, &g->name, "the graph name"))
		return false;
	if (n_node > MAAS_ONNX_MAX_NODES)
		return onnx_fail(rd, MAAS_ERR_LIMIT, "the graph has %zu nodes, more than the %d supported",
					   n_node, MAAS_ONNX_MAX_NODES);
	if (n_init > MAAS_ONNX_MAX_VALUES || n_in > MAAS_ONNX_MAX_VALUES ||
		n_out > MAAS_ONNX_MAX_VALUES || n_vi > MAAS_ONNX_MAX_VALUES)
		return onnx_fail(rd, MAAS_ERR_LIMIT,
					   "the graph has %zu initializers, %zu inputs, %zu outputs and %zu value_info entries, more than the %d supported",
					   n_init, n_in, n_out, n_vi, MAAS_ONNX_MAX_VALUES);
	if ((nodes = onnx_alloc_array(rd, n_node, sizeof(MaasOnnxNode))) == NULL ||
		(inits = onnx_alloc_array(rd, n_init, sizeof(MaasOnnxTensor))) == NULL ||
		(inputs = onnx_alloc_array(rd, n_in, sizeof(MaasOnnxValueInfo))) == NULL ||
		(outputs = onnx_alloc_array(rd, n_out, sizeof(MaasOnnxValueInfo))) == NULL ||
		(value_info = onnx_alloc_array(rd, n_vi, sizeof(MaasOnnxValueInfo))) == NULL)
		return false;

	n_node = n_init = n_in = n_out = n_vi = 0;
	c = cursor(s.pos, s.len, &GraphSpec);
	for (;;)
	{
		size_t		outer = rd->where_len;
		bool		ok = true;

		if (!onnx_pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		switch (f.number)
		{
			case 1:
				ok = onnx_read_node(rd, field_span(&f), (int32_t) n_node, &nodes[n_node]);
				n_node++;
				break;
			case 5:
				ok = onnx_read_tensor_proto(rd, field_span(&f), "initializer", (int32_t) n_init, &inits[n_init]);
				n_init++;
				break;
			case 11:
				ok = onnx_read_value_info(rd, field_span(&f), "graph input", (int32_t) n_in, &inputs[n_in]);
				n_in++;
				break;
			case 12:
				ok = onnx_read_value_info(rd, field_span(&f), "graph output", (int32_t) n_out, &outputs[n_out]);
				n_out++;
				break;
			case 13:
				ok = onnx_read_value_info(rd, field_span(&f), "value_info", (int32_t) n_vi, &value_info[n_vi]);
				n_vi++;
				break;
		}
		if (!ok)
			return false;
		onnx_where_set(rd, outer);
	}
	g->n_nodes = (int32_t) n_node;
	g->nodes = nodes;
	g->n_initializers = (int32_t) n_init;
	g->initializers = inits;
	g->n_inputs = (int32_t) n_in;
	g->inputs = inputs;
	g->n_outputs = (int32_t) n_out;
	g->outputs = outputs;
	g->n_value_info = (int32_t) n_vi;
	g->value_info = value_info;

	return index_names(rd, g, inputs) && order_nodes(rd, g);
}


/* ----------------------------------------------------------------
 *		ModelProto
 * ----------------------------------------------------------------
 */

static bool
read_opset(Rd *rd, Span s, int32_t index, MaasOnnxOpset *op)
{
	Cursor		c = cursor(s.pos, s.len, &OpsetSpec);
	Field		f;
	Span		domain = {0};
	size_t		outer = rd->where_len;

	op->version = 0;
	onnx_where_add(rd, "opset_import %d", index);
	for (;;)
	{
		if (!onnx_pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
			domain = field_span(&f);
		else if (f.number == 2)
			op->version = (int64_t) f.value;
	}
	if (!onnx_rd_name(rd, domain, &op->domain, "the domain"))
		return false;
	if (strcmp(op->domain, "ai.onnx") == 0)
		op->domain = "";
	if (op->version < 1)
		return onnx_fail(rd, MAAS_ERR_INVALID, "version %" PRId64 " of domain \"%.*s\"",
					   op->version, onnx_show_len(op->domain), op->domain);
	onnx_where_set(rd, outer);
	return true;
}

static void
rd_init(Rd *rd, const uint8_t *buf, size_t len, const MaasOnnxOptions *opts,
		const MaasTick *tick, MaasError *err)
{
	memset(rd, 0, sizeof(*rd));
	rd->buf = buf;
	rd->len = len;
	rd->flags = opts != NULL ? opts->flags : 0;
	rd->max_memory = opts != NULL && opts->max_memory > 0 ?
		opts->max_memory : MAAS_ONNX_DEFAULT_MAX_MEMORY;
	rd->budget = rd->max_memory;
	rd->tick = tick;
	rd->err = err;
}

MaasOnnxModel *
maas_onnx_read(const uint8_t *buf, size_t len, const MaasOnnxOptions *opts,
			   const MaasTick *tick, MaasError *err)
{
	Rd			rd;
	Cursor		c;
	Field		f;
	MaasOnnxModel *m;
	MaasOnnxOpset *opsets;
	Span		producer = {0};
	Span		producer_version = {0};
	Span		domain = {0};
	Span		graph = {0};
	size_t		n_opsets = 0;
	size_t		n_functions = 0;
	int32_t		i;
	int32_t		j;

	rd_init(&rd, buf, len, opts, tick, err);
	if (buf == NULL && len > 0)
	{
		maas_error(err, MAAS_ERR_INVALID, "no buffer");
		return NULL;
	}
	if ((m = onnx_alloc(&rd, sizeof(MaasOnnxModel))) == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->len = len;

	c = cursor(0, len, &ModelSpec);
	for (;;)
	{
		if (!onnx_pb_next(&rd, &c, &f))
			return NULL;
		if (f.number == 0)
			break;
		switch (f.number)
		{
			case 1:
				m->ir_version = (int64_t) f.value;
				break;
			case 2:
				producer = field_span(&f);
				break;
			case 3:
				producer_version = field_span(&f);
				break;
			case 4:
				domain = field_span(&f);
				break;
			case 5:
				m->model_version = (int64_t) f.value;
				break;
			case 7:
				if (graph.set)
				{
					onnx_fail(&rd, MAAS_ERR_INVALID,
							"invalid protobuf at byte %zu: the model has two graphs", f.at);
					return NULL;
				}
				graph = field_span(&f);
				break;
			case 8:
				n_opsets++;
				break;
			case 25:
				n_functions++;
				break;
		}
	}
	if (!onnx_rd_name(&rd, producer, &m->producer_name, "producer_name") ||
		!onnx_rd_name(&rd, producer_version, &m->producer_version, "producer_version") ||
		!onnx_rd_name(&rd, domain, &m->domain, "the model domain"))
		return NULL;
	if (!graph.set)
	{
		maas_error(err, MAAS_ERR_INVALID, "the model has no graph");
		return NULL;
	}
	if (n_opsets > MAAS_ONNX_MAX_OPSETS)
	{
		maas_error(err, MAAS_ERR_LIMIT, "the model imports %zu opsets, more than the %d supported",
				   n_opsets, MAAS_ONNX_MAX_OPSETS);
		return NULL;
	}
	m->n_functions = (int32_t) (n_functions > INT32_MAX ? INT32_MAX : n_functions);
	if ((opsets = onnx_alloc_array(&rd, n_opsets, sizeof(MaasOnnxOpset))) == NULL)
		return NULL;
	n_opsets = 0;
	c = cursor(0, len, &ModelSpec);
	for (;;)
	{
		if (!onnx_pb_next(&rd, &c, &f))
			return NULL;
		if (f.number == 0)
			break;
		if (f.number == 8)
		{
			if (!read_opset(&rd, field_span(&f), (int32_t) n_opsets, &opsets[n_opsets]))
				return NULL;
			for (j = 0; j < (int32_t) n_opsets; j++)
			{
				if (strcmp(opsets[j].domain, opsets[n_opsets].domain) == 0)
				{
					maas_error(err, MAAS_ERR_INVALID, "the opset of domain \"%.*s\" is imported twice",
							   onnx_show_len(opsets[j].domain), opsets[j].domain);
					return NULL;
				}
			}
			n_opsets++;
		}
	}
	m->n_opsets = (int32_t) n_opsets;
	m->opsets = opsets;

	if (!read_graph(&rd, graph, &m->graph))
		return NULL;

	/* every node's domain has an opset */
	for (i = 0; i < m->graph.n_nodes; i++)
	{
		const MaasOnnxNode *node = &m->graph.nodes[i];

		rd_tick(&rd);
		if (i > 0 && strcmp(node->domain, m->graph.nodes[i - 1].domain) == 0)
			continue;
		if (maas_onnx_opset(m, node->domain) == 0)
		{
			char		self[MAAS_ERRLEN];

			maas_onnx_node_label(&m->graph, i, self, sizeof(self));
			maas_error(err, MAAS_ERR_INVALID, "%s: the model imports no opset for domain \"%.*s\"",
					   self, onnx_show_len(node->domain), node->domain);
			return NULL;
		}
	}
	return m;
}

MaasOnnxTensor *
maas_onnx_read_tensor(const uint8_t *buf, size_t len, const MaasOnnxOptions *opts,
					  const MaasTick *tick, MaasError *err)
{
	Rd			rd;
	MaasOnnxTensor *t;
	Span		all = {0, len, true};

	rd_init(&rd, buf, len, opts, tick, err);
	if (buf == NULL && len > 0)
	{
		maas_error(err, MAAS_ERR_INVALID, "no buffer");
		return NULL;
	}
	if ((t = onnx_alloc(&rd, sizeof(MaasOnnxTensor))) == NULL ||
		!onnx_read_tensor_proto(&rd, all, "tensor", -1, t))
		return NULL;
	return t;
}
