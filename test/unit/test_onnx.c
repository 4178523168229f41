/*
 * test_onnx.c
 *		Unit tests of the ONNX reader (src/kernel/onnx_read.c): models built
 *		byte by byte with a small protobuf encoder, one for each error the
 *		reader must give; the three torch exports of test/fixtures/onnx
 *		checked against their NAME.expect.json (nodes and attributes as the
 *		onnx package reads them, initializer values from torch); out of
 *		memory at every allocation; every truncation and many mutations.
 *
 * Run without arguments to test.  "test_onnx --corpus DIR" writes seed
 * inputs for the fuzzer (fuzz_onnx.c), "--dict FILE" a libFuzzer dictionary.
 * The fixtures are found in ../fixtures/onnx (make runs the tests from
 * test/unit), or in $MAAS_ONNX_FIXTURES.
 */
#include <math.h>
#include <stdlib.h>

#include "json.h"
#include "onnx.h"
#include "onnx_pb.h"
#include "unit.h"
#include "utf8.h"

static MaasError err;


static const int64_t dims_n4[2] = {-1, 4};
static const int64_t dims_n3[2] = {-1, 3};
static const int64_t dims_43[2] = {4, 3};
static const int64_t dims_3[1] = {3};

/*
 * The standard small model: y = relu(x @ W + B), W raw_data [4, 3], B in
 * float_data [3], x [N, 4], plus a Gemm-style attribute on the MatMul.
 */
static Pb
std_graph(void)
{
	static const float w[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	Pb			g = pb_new();
	Pb			x = mk_value("x", MAAS_ONNX_FLOAT, 2, dims_n4);
	Pb			y = mk_value("y", MAAS_ONNX_FLOAT, 2, dims_n3);
	Pb			wt = mk_tensor("W", MAAS_ONNX_FLOAT, 2, dims_43, w, sizeof(w));
	Pb			bt = mk_tensor("B", MAAS_ONNX_FLOAT, 1, dims_3, NULL, 0);
	Pb			mm = mk_node("MatMul", "mm", "x W", "h");
	Pb			add = mk_node("Add", "add", "h B", "s");
	Pb			relu = mk_node("Relu", "", "s", "y");
	Pb			alpha = mk_attr_float("alpha", 0.5f);

	pb_f32(&bt, 4, -1.0f);		/* float_data, not packed */
	pb_f32(&bt, 4, 0.0f);
	pb_f32(&bt, 4, 2.5f);
	node_attr(&mm, &alpha);
	pb_str(&g, 2, "std");
	pb_sub(&g, 11, &x);
	pb_sub(&g, 5, &wt);
	pb_sub(&g, 5, &bt);
	pb_sub(&g, 1, &mm);
	pb_sub(&g, 1, &add);
	pb_sub(&g, 1, &relu);
	pb_sub(&g, 12, &y);
	return g;
}

static Pb
std_model(void)
{
	Pb			g = std_graph();

	return mk_model(&g, 13);
}

static MaasOnnxModel *
read_model(const Pb *b)
{
	memset(&err, 0, sizeof(err));
	return maas_onnx_read(b->p, b->len, NULL, NULL, &err);
}

/* a model whose graph has these extra pieces after the standard ones */
static MaasOnnxModel *
read_graph_plus(const Pb *extra, uint32_t field)
{
	Pb			g = std_graph();
	Pb			m;

	pb_sub(&g, field, extra);
	m = mk_model(&g, 13);
	return read_model(&m);
}

/* a model of a graph holding just one initializer */
static MaasOnnxModel *
read_one_initializer(const Pb *t)
{
	Pb			g = pb_new();
	Pb			m;

	pb_sub(&g, 5, t);
	m = mk_model(&g, 13);
	return read_model(&m);
}

#define CHECK_STATUS(s) CHECK(err.status == (s))


/* ----------------------------------------------------------------
 *		reading what was built
 * ----------------------------------------------------------------
 */

static void
test_standard_model(void)
{
	Pb			b = std_model();
	MaasOnnxModel *m = read_model(&b);
	const MaasOnnxGraph *g;
	const MaasOnnxTensor *w;
	const MaasOnnxTensor *bias;
	const MaasOnnxAttr *a;
	MaasOnnxProducer p;
	float		v[12];
	int			i;

	CHECK(m != NULL);
	if (m == NULL)
	{
		fprintf(stderr, "    %s\n", err.msg);
		return;
	}
	g = &m->graph;
	CHECK(m->ir_version == 8);
	CHECK(strcmp(m->producer_name, "test") == 0 && strcmp(m->producer_version, "1.0") == 0);
	CHECK(m->n_opsets == 1 && m->opsets[0].domain[0] == '\0' && m->opsets[0].version == 13);
	CHECK(maas_onnx_opset(m, "") == 13 && maas_onnx_opset(m, "ai.onnx") == 13);
	CHECK(maas_onnx_opset(m, "ai.onnx.ml") == 0);
	CHECK(strcmp(g->name, "std") == 0);

	CHECK(g->n_inputs == 1 && strcmp(g->inputs[0].name, "x") == 0);
	CHECK(g->inputs[0].kind == MAAS_ONNX_VALUE_TENSOR);
	CHECK(g->inputs[0].elem_type == MAAS_ONNX_FLOAT && g->inputs[0].ndim == 2);
	CHECK(g->inputs[0].dims[0].value == -1 && strcmp(g->inputs[0].dims[0].param, "N") == 0);
	CHECK(g->inputs[0].dims[1].value == 4 && g->inputs[0].dims[1].param == NULL);
	CHECK(g->inputs[0].initializer == -1);
	CHECK(g->n_outputs == 1 && strcmp(g->outputs[0].name, "y") == 0);

	CHECK(g->n_initializers == 2);
	w = maas_onnx_initializer(g, "W");
	bias = maas_onnx_initializer(g, "B");
	CHECK(w == &g->initializers[0] && bias == &g->initializers[1]);
	CHECK(w->dtype == MAAS_ONNX_FLOAT && w->ndim == 2 && w->dims[0] == 4 && w->dims[1] == 3);
	CHECK(w->numel == 12 && w->nbytes == 48 && w->in_place);
	CHECK((const uint8_t *) w->data == b.p + w->offset);
	CHECK(maas_onnx_tensor_f32(w, v, &err));
	for (i = 0; i < 12; i++)
		CHECK(v[i] == (float) (i + 1));
	CHECK(!bias->in_place && bias->offset == 0 && bias->numel == 3);
	CHECK(maas_onnx_tensor_f32(bias, v, &err));
	CHECK(v[0] == -1.0f && v[1] == 0.0f && v[2] == 2.5f);

	CHECK(g->n_nodes == 3);
	CHECK(strcmp(g->nodes[0].op_type, "MatMul") == 0 && strcmp(g->nodes[0].name, "mm") == 0);
	CHECK(g->nodes[0].n_inputs == 2 && strcmp(g->nodes[0].inputs[1], "W") == 0);
	CHECK(g->nodes[0].n_outputs == 1 && strcmp(g->nodes[0].outputs[0], "h") == 0);
	CHECK(g->nodes[0].domain[0] == '\0');
	CHECK(g->nodes[2].name[0] == '\0');
	a = maas_onnx_attr(&g->nodes[0], "alpha");
	CHECK(a != NULL && a->type == MAAS_ONNX_ATTR_FLOAT && a->f == 0.5f);
	CHECK(a->i == 0 && a->n == 0 && a->s == NULL && a->t == NULL);
	CHECK(maas_onnx_attr(&g->nodes[0], "beta") == NULL);
	for (i = 0; i < 3; i++)
		CHECK(g->order[i] == i);

	CHECK(maas_onnx_lookup(g, "x", &p) && p.source == MAAS_ONNX_FROM_INPUT && p.index == 0);
	CHECK(maas_onnx_lookup(g, "B", &p) && p.source == MAAS_ONNX_FROM_INITIALIZER && p.index == 1);
	CHECK(maas_onnx_lookup(g, "s", &p) && p.source == MAAS_ONNX_FROM_NODE && p.index == 1 && p.slot == 0);
	CHECK(!maas_onnx_lookup(g, "nothing", &p) && !maas_onnx_lookup(g, "", &p));
	CHECK(maas_onnx_initializer(g, "x") == NULL && maas_onnx_initializer(g, "h") == NULL);
	CHECK(m->buf == b.p && m->len == b.len);
}

static void
test_node_labels(void)
{
	Pb			g = pb_new();
	Pb			a = mk_node("Gelu", "g1", "x", "y");
	Pb			c = mk_node("Relu", NULL, "y", "z");
	Pb			x = mk_value("x", MAAS_ONNX_FLOAT, 1, dims_3);
	Pb			m = pb_new();
	Pb			op1 = pb_new();
	Pb			op2 = pb_new();
	MaasOnnxModel *model;
	char		label[64];
	char		tiny[8];

	pb_str(&a, 7, "com.microsoft");
	pb_str(&c, 7, "ai.onnx");	/* the default domain, by its name */
	pb_sub(&g, 11, &x);
	pb_sub(&g, 1, &a);
	pb_sub(&g, 1, &c);
	pb_sub(&m, 7, &g);
	pb_str(&op1, 1, "ai.onnx");	/* the default domain, by its name */
	pb_int(&op1, 2, 17);
	pb_str(&op2, 1, "com.microsoft");
	pb_int(&op2, 2, 1);
	pb_sub(&m, 8, &op1);
	pb_sub(&m, 8, &op2);
	model = read_model(&m);
	CHECK(model != NULL);
	if (model == NULL)
		return;
	CHECK(model->opsets[0].domain[0] == '\0' && maas_onnx_opset(model, "") == 17);
	CHECK(maas_onnx_opset(model, "com.microsoft") == 1);
	maas_onnx_node_label(&model->graph, 0, label, sizeof(label));
	CHECK(strcmp(label, "node 0 (com.microsoft.Gelu \"g1\")") == 0);
	maas_onnx_node_label(&model->graph, 1, label, sizeof(label));
	CHECK(strcmp(label, "node 1 (Relu)") == 0 && model->graph.nodes[1].domain[0] == '\0');
	maas_onnx_node_label(&model->graph, 7, label, sizeof(label));
	CHECK(strcmp(label, "node 7") == 0);
	maas_onnx_node_label(&model->graph, 0, tiny, sizeof(tiny));
	CHECK(strcmp(tiny, "node 0 ") == 0);
	CHECK(model->producer_name[0] == '\0' && model->ir_version == 0);
}

/* fields onnx.proto does not have, of every wire type, are skipped */
static void
test_unknown_fields(void)
{
	Pb			g = std_graph();
	Pb			m;
	Pb			grp = pb_new();
	MaasOnnxModel *model;
	uint64_t	fixed = 0x0123456789abcdefULL;

	pb_int(&g, 99, 12345);
	pb_key(&g, 100, 1);
	pb_raw(&g, &fixed, 8);
	pb_key(&g, 101, 5);
	pb_raw(&g, &fixed, 4);
	pb_str(&g, 102, "ignored");
	pb_str(&g, 10, "a doc string");
	pb_str(&grp, 1, "annotation");
	pb_sub(&g, 14, &grp);		/* quantization_annotation: skipped */
	m = mk_model(&g, 13);
	pb_int(&m, 536870911, 1);	/* the largest field number */
	pb_str(&m, 6, "model doc");
	pb_str(&m, 14, "metadata");
	model = read_model(&m);
	CHECK(model != NULL && model->graph.n_nodes == 3);
	if (model == NULL)
		fprintf(stderr, "    %s\n", err.msg);
}

/* nodes out of order are sorted so every node follows its producers */
static void
test_topological_order(void)
{
	Pb			g = pb_new();
	Pb			m;
	Pb			x = mk_value("x", MAAS_ONNX_FLOAT, 1, dims_3);
	Pb			y = mk_value("d", MAAS_ONNX_FLOAT, 1, dims_3);
	const char *const nodes[4][3] = {
		{"Add", "c b", "d"},	/* needs b and c */
		{"Relu", "a", "c"},		/* needs a */
		{"Relu", "x", "a"},
		{"Neg", "a", "b"},
	};
	MaasOnnxModel *model;
	int			pos[4];
	int			i;

	pb_sub(&g, 11, &x);
	for (i = 0; i < 4; i++)
	{
		Pb			n = mk_node(nodes[i][0], NULL, nodes[i][1], nodes[i][2]);

		pb_sub(&g, 1, &n);
	}
	pb_sub(&g, 12, &y);
	m = mk_model(&g, 13);
	model = read_model(&m);
	CHECK(model != NULL);
	if (model == NULL)
		return;
	for (i = 0; i < 4; i++)
		pos[model->graph.order[i]] = i;
	CHECK(pos[2] < pos[1] && pos[2] < pos[3]);
	CHECK(pos[1] < pos[0] && pos[3] < pos[0]);
	CHECK(pos[0] == 3 && pos[2] == 0);
}

/* an initializer listed among the graph inputs (old IR versions) */
static void
test_initializer_as_input(void)
{
	Pb			g = std_graph();
	Pb			m;
	Pb			w = mk_value("W", MAAS_ONNX_FLOAT, 2, dims_43);
	MaasOnnxModel *model;
	MaasOnnxProducer p;

	pb_sub(&g, 11, &w);
	m = mk_model(&g, 13);
	model = read_model(&m);
	CHECK(model != NULL);
	if (model == NULL)
		return;
	CHECK(model->graph.n_inputs == 2);
	CHECK(model->graph.inputs[0].initializer == -1 && model->graph.inputs[1].initializer == 0);
	CHECK(maas_onnx_lookup(&model->graph, "W", &p) && p.source == MAAS_ONNX_FROM_INITIALIZER);
}

/* omitted optional inputs and outputs are empty names, not values */
static void
test_optional_io(void)
{
	Pb			g = pb_new();
	Pb			m;
	Pb			x = mk_value("x", MAAS_ONNX_FLOAT, 1, dims_3);
	Pb			y = mk_value("y", MAAS_ONNX_FLOAT, 1, dims_3);
	Pb			n1 = mk_node("Clip", "c", "x - -", "y");
	Pb			n2 = mk_node("Dropout", "d", "y", "z -");
	MaasOnnxModel *model;

	pb_sub(&g, 11, &x);
	pb_sub(&g, 1, &n1);
	pb_sub(&g, 1, &n2);
	pb_sub(&g, 12, &y);
	m = mk_model(&g, 13);
	model = read_model(&m);
	CHECK(model != NULL);
	if (model == NULL)
		return;
	CHECK(model->graph.nodes[0].n_inputs == 3 && model->graph.nodes[0].inputs[1][0] == '\0');
	CHECK(model->graph.nodes[1].n_outputs == 2 && model->graph.nodes[1].outputs[1][0] == '\0');
}

/* value types other than tensors, shapes without dims or without a shape */
static void
test_value_kinds(void)
{
	Pb			g = std_graph();
	Pb			m;
	Pb			seq = pb_new();
	Pb			seqtype = pb_new();
	Pb			inner = pb_new();
	Pb			untyped = pb_new();
	Pb			noshape = mk_value("ns", MAAS_ONNX_STRING, -1, NULL);
	Pb			scalar = mk_value("sc", MAAS_ONNX_INT64, 0, NULL);
	Pb			unknown_dim = pb_new();
	Pb			t = pb_new();
	Pb			tt = pb_new();
	Pb			shape = pb_new();
	Pb			dim = pb_new();
	MaasOnnxModel *model;
	const MaasOnnxValueInfo *vi;

	{
		/* map, optional and sparse tensor values */
		static const uint32_t fields[3] = {5, 9, 8};
		static const char *const names[3] = {"map", "opt", "sparse"};

		for (int i = 0; i < 3; i++)
		{
			Pb			ty = pb_new();
			Pb			vi = pb_new();
			Pb			body = pb_new();

			if (fields[i] == 8)
				pb_int(&body, 1, MAAS_ONNX_INT64);
			pb_sub(&ty, fields[i], &body);
			pb_str(&vi, 1, names[i]);
			pb_sub(&vi, 2, &ty);
			pb_sub(&g, 13, &vi);
		}
	}
	pb_sub(&seqtype, 1, &inner);
	pb_sub(&seq, 4, &seqtype);
	pb_str(&untyped, 1, "seq");
	pb_sub(&untyped, 2, &seq);
	pb_sub(&g, 13, &untyped);
	untyped = pb_new();
	pb_str(&untyped, 1, "bare");
	pb_sub(&g, 13, &untyped);
	pb_sub(&g, 13, &noshape);
	pb_sub(&g, 13, &scalar);
	pb_str(&dim, 3, "a denotation only");
	pb_sub(&shape, 1, &dim);
	pb_int(&tt, 1, MAAS_ONNX_FLOAT);
	pb_sub(&tt, 2, &shape);
	pb_sub(&t, 1, &tt);
	pb_str(&unknown_dim, 1, "ud");
	pb_sub(&unknown_dim, 2, &t);
	pb_sub(&g, 13, &unknown_dim);
	m = mk_model(&g, 13);
	model = read_model(&m);
	CHECK(model != NULL);
	if (model == NULL)
		return;
	CHECK(model->graph.n_value_info == 8);
	CHECK(model->graph.value_info[0].kind == MAAS_ONNX_VALUE_MAP);
	CHECK(model->graph.value_info[1].kind == MAAS_ONNX_VALUE_OPTIONAL);
	CHECK(model->graph.value_info[2].kind == MAAS_ONNX_VALUE_SPARSE_TENSOR);
	CHECK(model->graph.value_info[2].elem_type == MAAS_ONNX_INT64 && model->graph.value_info[2].ndim == -1);
	vi = &model->graph.value_info[3 + 0];
	CHECK(strcmp(vi->name, "seq") == 0 && vi->kind == MAAS_ONNX_VALUE_SEQUENCE);
	vi = &model->graph.value_info[3 + 1];
	CHECK(vi->kind == MAAS_ONNX_VALUE_UNKNOWN && vi->ndim == -1);
	vi = &model->graph.value_info[3 + 2];
	CHECK(vi->kind == MAAS_ONNX_VALUE_TENSOR && vi->elem_type == MAAS_ONNX_STRING && vi->ndim == -1);
	vi = &model->graph.value_info[3 + 3];
	CHECK(vi->elem_type == MAAS_ONNX_INT64 && vi->ndim == 0);
	vi = &model->graph.value_info[3 + 4];
	CHECK(vi->ndim == 1 && vi->dims[0].value == -1 && vi->dims[0].param == NULL);
	CHECK(strcmp(maas_onnx_value_kind_name(MAAS_ONNX_VALUE_SEQUENCE), "sequence") == 0);
	CHECK(strcmp(maas_onnx_value_kind_name(MAAS_ONNX_VALUE_UNKNOWN), "untyped") == 0);
	CHECK(strcmp(maas_onnx_value_kind_name(42), "unknown") == 0);

	/* a negative element type */
	{
		Pb			ty = pb_new();
		Pb			tt = pb_new();
		Pb			bad = pb_new();

		pb_int(&tt, 1, -3);
		pb_sub(&ty, 1, &tt);
		pb_str(&bad, 1, "neg");
		pb_sub(&bad, 2, &ty);
		CHECK_ERR(read_graph_plus(&bad, 13) != NULL, err.msg, "value_info \"neg\": element type -3");
	}
}


/* ----------------------------------------------------------------
 *		attributes
 * ----------------------------------------------------------------
 */

static void
test_attributes(void)
{
	static const int64_t ints[4] = {1, -2, 3000000000LL, INT64_MIN};
	static const int64_t tdims[1] = {2};
	static const int32_t tval[2] = {7, -9};
	Pb			g = pb_new();
	Pb			m;
	Pb			n = mk_node("Custom", "c", "x", "y");
	Pb			a;
	Pb			t = mk_tensor(NULL, MAAS_ONNX_INT32, 1, tdims, tval, sizeof(tval));
	Pb			x = mk_value("x", MAAS_ONNX_FLOAT, 1, dims_3);
	MaasOnnxModel *model;
	const MaasOnnxNode *node;
	const MaasOnnxAttr *at;
	int64_t		iv[2];

	a = mk_attr_int("axis", -1);
	node_attr(&n, &a);
	a = mk_attr_ints("packed", ints, 4, true);
	node_attr(&n, &a);
	a = mk_attr_ints("unpacked", ints, 4, false);
	node_attr(&n, &a);
	a = mk_attr_ints("none", NULL, 0, true);
	node_attr(&n, &a);
	a = mk_attr_str("mode", "SAME_UPPER");
	node_attr(&n, &a);
	a = pb_new();				/* floats, one packed run and two loose */
	{
		float		f[2] = {0.25f, -8.0f};

		pb_str(&a, 1, "scales");
		pb_int(&a, 20, MAAS_ONNX_ATTR_FLOATS);
		pb_blob(&a, 7, f, sizeof(f));
		pb_f32(&a, 7, 3.0f);
		pb_f32(&a, 7, INFINITY);
	}
	node_attr(&n, &a);
	a = pb_new();				/* strings, one holding a NUL */
	pb_str(&a, 1, "names");
	pb_int(&a, 20, MAAS_ONNX_ATTR_STRINGS);
	pb_str(&a, 9, "first");
	pb_blob(&a, 9, "a\0b", 3);
	node_attr(&n, &a);
	a = pb_new();
	pb_str(&a, 1, "value");
	pb_int(&a, 20, MAAS_ONNX_ATTR_TENSOR);
	pb_sub(&a, 5, &t);
	node_attr(&n, &a);
	a = pb_new();				/* no type: taken from the value given */
	pb_str(&a, 1, "old");
	pb_int(&a, 3, 42);
	node_attr(&n, &a);
	a = pb_new();				/* type FLOAT with no value: 0 */
	pb_str(&a, 1, "zero");
	pb_int(&a, 20, MAAS_ONNX_ATTR_FLOAT);
	pb_int(&a, 3, 5);			/* an int the type says to ignore */
	node_attr(&n, &a);

	pb_sub(&g, 11, &x);
	pb_sub(&g, 1, &n);
	m = mk_model(&g, 13);
	model = read_model(&m);
	CHECK(model != NULL);
	if (model == NULL)
	{
		fprintf(stderr, "    %s\n", err.msg);
		return;
	}
	node = &model->graph.nodes[0];
	CHECK(node->n_attrs == 10);
	at = maas_onnx_attr(node, "axis");
	CHECK(at->type == MAAS_ONNX_ATTR_INT && at->i == -1);
	at = maas_onnx_attr(node, "packed");
	CHECK(at->type == MAAS_ONNX_ATTR_INTS && at->n == 4);
	CHECK(at->ints[0] == 1 && at->ints[1] == -2 && at->ints[2] == 3000000000LL && at->ints[3] == INT64_MIN);
	at = maas_onnx_attr(node, "unpacked");
	CHECK(at->n == 4 && at->ints[1] == -2 && at->ints[3] == INT64_MIN);
	at = maas_onnx_attr(node, "none");
	CHECK(at->type == MAAS_ONNX_ATTR_INTS && at->n == 0);
	at = maas_onnx_attr(node, "mode");
	CHECK(at->type == MAAS_ONNX_ATTR_STRING && at->s_len == 10 && strcmp(at->s, "SAME_UPPER") == 0);
	at = maas_onnx_attr(node, "scales");
	CHECK(at->type == MAAS_ONNX_ATTR_FLOATS && at->n == 4);
	CHECK(at->floats[0] == 0.25f && at->floats[1] == -8.0f && at->floats[2] == 3.0f);
	CHECK(isinf(at->floats[3]) && at->ints == NULL);
	at = maas_onnx_attr(node, "names");
	CHECK(at->type == MAAS_ONNX_ATTR_STRINGS && at->n == 2);
	CHECK(strcmp(at->strings[0], "first") == 0 && at->string_lens[0] == 5);
	CHECK(at->string_lens[1] == 3 && memcmp(at->strings[1], "a\0b", 4) == 0);
	at = maas_onnx_attr(node, "value");
	CHECK(at->type == MAAS_ONNX_ATTR_TENSOR && at->t != NULL);
	CHECK(at->t->dtype == MAAS_ONNX_INT32 && at->t->numel == 2 && at->t->name[0] == '\0');
	CHECK(maas_onnx_tensor_i64(at->t, iv, &err) && iv[0] == 7 && iv[1] == -9);
	at = maas_onnx_attr(node, "old");
	CHECK(at->type == MAAS_ONNX_ATTR_INT && at->i == 42);
	at = maas_onnx_attr(node, "zero");
	CHECK(at->type == MAAS_ONNX_ATTR_FLOAT && at->f == 0.0f && at->i == 0);
	CHECK(strcmp(maas_onnx_attr_type_name(MAAS_ONNX_ATTR_INTS), "ints") == 0);
	CHECK(strcmp(maas_onnx_attr_type_name(99), "unknown") == 0);
}

/* a node with a subgraph attribute: refused, or kept as a stub on request */
static Pb
subgraph_model(void)
{
	Pb			g = pb_new();
	Pb			body = pb_new();
	Pb			n = mk_node("If", "branch", "c", "y");
	Pb			a = pb_new();
	Pb			c = mk_value("c", MAAS_ONNX_BOOL, 0, NULL);
	Pb			inner = mk_node("Identity", NULL, "outer", "y");

	pb_sub(&body, 1, &inner);	/* never read: it names an outer value */
	pb_str(&a, 1, "then_branch");
	pb_int(&a, 20, MAAS_ONNX_ATTR_GRAPH);
	pb_sub(&a, 6, &body);
	node_attr(&n, &a);
	a = pb_new();
	pb_str(&a, 1, "bodies");
	pb_int(&a, 20, MAAS_ONNX_ATTR_GRAPHS);
	pb_sub(&a, 11, &body);
	pb_sub(&a, 11, &body);
	node_attr(&n, &a);
	pb_sub(&g, 11, &c);
	pb_sub(&g, 1, &n);
	return mk_model(&g, 16);
}

static void
test_subgraphs(void)
{
	Pb			b = subgraph_model();
	MaasOnnxOptions opts = {MAAS_ONNX_OPAQUE_SUBGRAPHS, 0};
	MaasOnnxModel *m;
	const MaasOnnxAttr *a;

	CHECK_ERR(read_model(&b) != NULL, err.msg,
			  "node 0 (If \"branch\"), attribute \"then_branch\": subgraphs (If, Loop, Scan) are not supported");
	CHECK_STATUS(MAAS_ERR_UNSUPPORTED);
	CHECK(err.hint != NULL && strstr(err.hint, "without control flow") != NULL);

	m = maas_onnx_read(b.p, b.len, &opts, NULL, &err);
	CHECK(m != NULL);
	if (m == NULL)
		return;
	a = maas_onnx_attr(&m->graph.nodes[0], "then_branch");
	CHECK(a->type == MAAS_ONNX_ATTR_GRAPH && a->n == 1);
	a = maas_onnx_attr(&m->graph.nodes[0], "bodies");
	CHECK(a->type == MAAS_ONNX_ATTR_GRAPHS && a->n == 2);
}

static void
test_attribute_errors(void)
{
	static const struct
	{
		int32_t		type;
		uint32_t	field;
		const char *message;
	}			refused[] = {
		{MAAS_ONNX_ATTR_TENSORS, 10, "tensor list attributes are not supported"},
		{MAAS_ONNX_ATTR_SPARSE_TENSOR, 22, "sparse tensors are not supported"},
		{MAAS_ONNX_ATTR_SPARSE_TENSORS, 23, "sparse tensors are not supported"},
		{MAAS_ONNX_ATTR_TYPE_PROTO, 14, "type attributes are not supported"},
		{MAAS_ONNX_ATTR_TYPE_PROTOS, 15, "type attributes are not supported"},
		{77, 4, "attribute type 77 is not supported"},
	};
	Pb			empty = pb_new();
	size_t		i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
	{
		Pb			n = mk_node("Op", "o", "x", "q");
		Pb			a = pb_new();

		pb_str(&a, 1, "a");
		pb_int(&a, 20, refused[i].type);
		pb_sub(&a, refused[i].field, &empty);
		node_attr(&n, &a);
		CHECK(read_graph_plus(&n, 1) == NULL && strstr(err.msg, refused[i].message) != NULL);
		CHECK_ERR(false, err.msg, "node 3 (Op \"o\"), attribute \"a\": ");
		CHECK_STATUS(MAAS_ERR_UNSUPPORTED);
	}

	{
		Pb			n = mk_node("Op", "o", "x", "q");
		Pb			a = mk_attr_int("k", 1);

		node_attr(&n, &a);
		a = mk_attr_float("k", 2.0f);
		node_attr(&n, &a);
		CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
				  "node 3 (Op \"o\"): attribute \"k\" appears twice");
		CHECK_STATUS(MAAS_ERR_INVALID);
	}
	{
		Pb			n = mk_node("Op", "o", "x", "q");
		Pb			a = pb_new();

		pb_int(&a, 3, 1);
		node_attr(&n, &a);
		CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
				  "node 3 (Op \"o\"), attribute 0: no name");
	}
	{
		Pb			n = mk_node("Op", "o", "x", "q");
		Pb			a = pb_new();

		pb_str(&a, 1, "untyped");	/* no type, no value */
		node_attr(&n, &a);
		CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg, "attribute \"untyped\": no type");
	}
	{
		Pb			n = mk_node("Op", "o", "x", "q");
		Pb			a = pb_new();

		pb_str(&a, 1, "two");	/* no type, two kinds of value */
		pb_int(&a, 3, 1);
		pb_f32(&a, 2, 1.0f);
		node_attr(&n, &a);
		CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg, "attribute \"two\": no type");
	}
	{
		Pb			n = mk_node("Op", "o", "x", "q");
		Pb			a = pb_new();

		pb_str(&a, 1, "t");
		pb_int(&a, 20, MAAS_ONNX_ATTR_TENSOR);
		node_attr(&n, &a);
		CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
				  "attribute \"t\": a tensor attribute without a tensor");
	}
	{
		static const int64_t d[1] = {1};
		Pb			n = mk_node("Op", "o", "x", "q");
		Pb			a = pb_new();
		Pb			t = mk_tensor(NULL, MAAS_ONNX_FLOAT, 1, d, "abcd", 4);

		pb_str(&a, 1, "tt");
		pb_int(&a, 20, MAAS_ONNX_ATTR_TENSOR);
		pb_sub(&a, 5, &t);
		pb_sub(&a, 5, &t);
		node_attr(&n, &a);
		CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg, "attribute 0: invalid protobuf at byte");
		CHECK_ERR(false, err.msg, "two tensors");
	}
	{
		Pb			n = mk_node("Op", "o", "x", "q");
		Pb			a = mk_attr_int("r", 1);

		pb_str(&a, 21, "outer_attr");
		node_attr(&n, &a);
		CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
				  "attribute \"r\": refers to a function attribute (ref_attr_name) outside a function");
	}
	{
		/* the tensor of an attribute gets the same checks as initializers */
		static const int64_t d[1] = {2};
		Pb			n = mk_node("Constant", "k", "", "q");
		Pb			a = pb_new();
		Pb			t = mk_tensor(NULL, MAAS_ONNX_FLOAT, 1, d, "abc", 3);

		pb_str(&a, 1, "value");
		pb_int(&a, 20, MAAS_ONNX_ATTR_TENSOR);
		pb_sub(&a, 5, &t);
		node_attr(&n, &a);
		CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
				  "node 3 (Constant \"k\"), attribute \"value\": raw_data has 3 bytes but FLOAT [2] needs 8");
	}
	{
		Pb			n = mk_node("Op", "o", "x", "q");
		Pb			a = pb_new();
		float		f = 1.0f;

		pb_str(&a, 1, "fl");
		pb_int(&a, 20, MAAS_ONNX_ATTR_FLOATS);
		pb_blob(&a, 7, &f, 3);	/* a packed float run of 3 bytes */
		node_attr(&n, &a);
		CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
				  "packed floats of 3 bytes is not a multiple of 4");
	}
}


/* ----------------------------------------------------------------
 *		tensors: typed fields, dtypes, shapes, standalone files
 * ----------------------------------------------------------------
 */

static void
test_typed_fields(void)
{
	static const int64_t d2[1] = {2};
	static const int64_t d3[1] = {3};
	MaasOnnxModel *m;
	const MaasOnnxTensor *t;
	Pb			g = pb_new();
	Pb			model;
	Pb			tp;
	int64_t		iv[3];
	float		fv[3];
	double		dv[2] = {0.1, -1e300};
	int64_t		i64[3] = {-5, 0, INT64_MAX};
	int64_t		i8[3] = {-128, 0, 127};
	int64_t		u8[3] = {255, 0, 1};
	int64_t		boolean[3] = {1, 0, 1};
	int64_t		f16[3] = {0x3C00, 0xC000, 0x7C00};	/* 1, -2, inf */
	int64_t		bf16[3] = {0x3F80, 0x4049, 0xFF80};	/* 1, 3.140625, -inf */
	int64_t		u32[2] = {4294967295LL, 7};
	int64_t		u64[2] = {-1, 3};	/* 2^64 - 1 on the wire */
	int64_t		i16[2] = {-32768, 32767};

	tp = mk_tensor("i64", MAAS_ONNX_INT64, 1, d3, NULL, 0);
	pb_packed(&tp, 7, i64, 3);
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("i8", MAAS_ONNX_INT8, 1, d3, NULL, 0);
	pb_packed(&tp, 5, i8, 3);
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("u8", MAAS_ONNX_UINT8, 1, d3, NULL, 0);
	pb_int(&tp, 5, u8[0]);		/* unpacked */
	pb_int(&tp, 5, u8[1]);
	pb_int(&tp, 5, u8[2]);
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("bool", MAAS_ONNX_BOOL, 1, d3, NULL, 0);
	pb_packed(&tp, 5, boolean, 3);
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("f16", MAAS_ONNX_FLOAT16, 1, d3, NULL, 0);
	pb_packed(&tp, 5, f16, 3);
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("bf16", MAAS_ONNX_BFLOAT16, 1, d3, NULL, 0);
	pb_packed(&tp, 5, bf16, 2);	/* one packed run and one loose value */
	pb_int(&tp, 5, bf16[2]);
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("f64", MAAS_ONNX_DOUBLE, 1, d2, NULL, 0);
	pb_blob(&tp, 10, dv, sizeof(dv));
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("u32", MAAS_ONNX_UINT32, 1, d2, NULL, 0);
	pb_packed(&tp, 11, u32, 2);
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("u64", MAAS_ONNX_UINT64, 1, d2, NULL, 0);
	pb_packed(&tp, 11, u64, 2);
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("i16", MAAS_ONNX_INT16, 1, d2, NULL, 0);
	pb_packed(&tp, 5, i16, 2);
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("f32", MAAS_ONNX_FLOAT, 0, NULL, NULL, 0);
	pb_f32(&tp, 4, 6.5f);		/* a scalar */
	pb_sub(&g, 5, &tp);
	tp = mk_tensor("empty", MAAS_ONNX_FLOAT, 1, (const int64_t[]) {0}, NULL, 0);
	pb_sub(&g, 5, &tp);
	model = mk_model(&g, 13);
	m = read_model(&model);
	CHECK(m != NULL);
	if (m == NULL)
	{
		fprintf(stderr, "    %s\n", err.msg);
		return;
	}

	t = maas_onnx_initializer(&m->graph, "i64");
	CHECK(t->nbytes == 24 && maas_onnx_tensor_i64(t, iv, &err));
	CHECK(iv[0] == -5 && iv[1] == 0 && iv[2] == INT64_MAX);
	t = maas_onnx_initializer(&m->graph, "i8");
	CHECK(t->nbytes == 3 && maas_onnx_tensor_i64(t, iv, &err));
	CHECK(iv[0] == -128 && iv[1] == 0 && iv[2] == 127);
	t = maas_onnx_initializer(&m->graph, "u8");
	CHECK(maas_onnx_tensor_i64(t, iv, &err) && iv[0] == 255 && iv[2] == 1);
	t = maas_onnx_initializer(&m->graph, "bool");
	CHECK(t->nbytes == 3 && memcmp(t->data, "\1\0\1", 3) == 0);
	t = maas_onnx_initializer(&m->graph, "f16");
	CHECK(t->nbytes == 6 && maas_onnx_tensor_f32(t, fv, &err));
	CHECK(fv[0] == 1.0f && fv[1] == -2.0f && isinf(fv[2]) && fv[2] > 0);
	t = maas_onnx_initializer(&m->graph, "bf16");
	CHECK(maas_onnx_tensor_f32(t, fv, &err));
	CHECK(fv[0] == 1.0f && fv[1] == 3.140625f && isinf(fv[2]) && fv[2] < 0);
	t = maas_onnx_initializer(&m->graph, "f64");
	CHECK(t->nbytes == 16 && memcmp(t->data, dv, 16) == 0);
	CHECK(maas_onnx_tensor_f32(t, fv, &err) && fv[0] == 0.1f && isinf(fv[1]));
	t = maas_onnx_initializer(&m->graph, "u32");
	CHECK(maas_onnx_tensor_i64(t, iv, &err) && iv[0] == 4294967295LL && iv[1] == 7);
	t = maas_onnx_initializer(&m->graph, "u64");
	CHECK_ERR(maas_onnx_tensor_i64(t, iv, &err), err.msg,
			  "tensor \"u64\": value 18446744073709551615 does not fit in int64");
	t = maas_onnx_initializer(&m->graph, "i16");
	CHECK(maas_onnx_tensor_i64(t, iv, &err) && iv[0] == -32768 && iv[1] == 32767);
	t = maas_onnx_initializer(&m->graph, "f32");
	CHECK(t->ndim == 0 && t->numel == 1 && maas_onnx_tensor_f32(t, fv, &err) && fv[0] == 6.5f);
	CHECK_ERR(maas_onnx_tensor_i64(t, iv, &err), err.msg,
			  "tensor \"f32\" of type FLOAT is not an integer tensor");
	t = maas_onnx_initializer(&m->graph, "empty");
	CHECK(t->numel == 0 && t->nbytes == 0 && t->data != NULL);
	CHECK(maas_onnx_tensor_f32(t, fv, &err));
	CHECK_ERR(maas_onnx_tensor_i64(t, iv, &err), err.msg,
			  "tensor \"empty\" of type FLOAT is not an integer tensor");
	t = maas_onnx_initializer(&m->graph, "i8");
	CHECK_ERR(maas_onnx_tensor_f32(t, fv, &err), err.msg,
			  "tensor \"i8\" of type INT8 is not floating point");
}

static void
test_tensor_errors(void)
{
	static const int64_t d22[2] = {2, 2};
	static const int64_t d3[1] = {3};
	static const int64_t neg[2] = {2, -1};
	static const int64_t huge[2] = {(int64_t) 1 << 40, (int64_t) 1 << 40};
	static const int64_t big[2] = {(int64_t) 1 << 31, (int64_t) 1 << 31};
	static const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	Pb			t;
	Pb			e;
	int64_t		v3[3] = {1, 2, 3};
	int64_t		v300[3] = {1, 300, 3};

	t = mk_tensor("w", MAAS_ONNX_FLOAT, 2, d22, "twelve bytes", 12);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "initializer \"w\": raw_data has 12 bytes but FLOAT [2, 2] needs 16");
	CHECK_STATUS(MAAS_ERR_INVALID);

	t = mk_tensor("w", MAAS_ONNX_FLOAT, 2, neg, NULL, 0);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "initializer \"w\": dimension 1 is -1");

	t = mk_tensor("w", MAAS_ONNX_FLOAT, 2, huge, "", 0);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "initializer \"w\": FLOAT [1099511627776, 1099511627776] has too many elements");
	CHECK_STATUS(MAAS_ERR_LIMIT);
	t = mk_tensor("w", MAAS_ONNX_DOUBLE, 2, big, "", 0);	/* 2^62 * 8 bytes */
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "has too many elements");
	CHECK_STATUS(MAAS_ERR_LIMIT);

	t = mk_tensor("w", MAAS_ONNX_FLOAT, 9, nine, "abcd", 4);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "initializer \"w\": 9 dimensions, more than the 8 supported");
	CHECK_STATUS(MAAS_ERR_LIMIT);

	t = mk_tensor("s", MAAS_ONNX_STRING, 1, d3, NULL, 0);
	pb_str(&t, 6, "a");
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "initializer \"s\": data type STRING is not supported");
	CHECK_STATUS(MAAS_ERR_UNSUPPORTED);
	t = mk_tensor("c", MAAS_ONNX_COMPLEX64, 1, d3, NULL, 0);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "data type COMPLEX64 is not supported");
	t = mk_tensor("f8", 17, 1, d3, "abc", 3);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "data type FLOAT8E4M3FN is not supported");
	t = mk_tensor("q", 99, 1, d3, "abc", 3);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "data type 99 is not supported");
	CHECK_STATUS(MAAS_ERR_UNSUPPORTED);
	t = mk_tensor("u", MAAS_ONNX_UNDEFINED, 1, d3, "abc", 3);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "initializer \"u\": no data type");
	CHECK_STATUS(MAAS_ERR_INVALID);

	/* external data, with and without a location */
	t = mk_tensor("w", MAAS_ONNX_FLOAT, 1, d3, NULL, 0);
	e = pb_new();
	pb_str(&e, 1, "location");
	pb_str(&e, 2, "weights/w.bin");
	pb_sub(&t, 13, &e);
	e = pb_new();
	pb_str(&e, 1, "offset");
	pb_str(&e, 2, "0");
	pb_sub(&t, 13, &e);
	pb_int(&t, 14, 1);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "initializer \"w\": data is in the external file \"weights/w.bin\"; external data is not supported");
	CHECK_STATUS(MAAS_ERR_UNSUPPORTED);
	CHECK(err.hint != NULL && strstr(err.hint, "save_as_external_data=False") != NULL);
	t = mk_tensor("w", MAAS_ONNX_FLOAT, 1, d3, NULL, 0);
	pb_int(&t, 14, 1);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "data is in an external file; external data is not supported");
	CHECK(err.hint != NULL);
	t = mk_tensor("w", MAAS_ONNX_FLOAT, 1, d3, NULL, 0);
	pb_int(&t, 14, 2);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "data_location 2 is not DEFAULT (0) or EXTERNAL (1)");
	CHECK(err.hint == NULL);

	t = mk_tensor("w", MAAS_ONNX_FLOAT, 1, d3, NULL, 0);
	e = pb_new();
	pb_int(&e, 1, 0);
	pb_sub(&t, 3, &e);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "segmented tensors are not supported");

	/* typed values: counts, fields, ranges */
	t = mk_tensor("w", MAAS_ONNX_INT64, 1, d3, NULL, 0);
	pb_packed(&t, 7, v3, 2);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "initializer \"w\": int64_data has 2 values but INT64 [3] has 3 elements");
	t = mk_tensor("w", MAAS_ONNX_FLOAT, 1, d3, NULL, 0);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "float_data has 0 values but FLOAT [3] has 3 elements");
	t = mk_tensor("w", MAAS_ONNX_FLOAT, 1, d3, NULL, 0);
	pb_packed(&t, 7, v3, 3);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "FLOAT tensor has int64_data, expected its values in float_data");
	t = mk_tensor("w", MAAS_ONNX_INT64, 1, d3, "0123456789abcdef01234567", 24);
	pb_packed(&t, 7, v3, 3);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "both raw_data and int64_data");
	t = mk_tensor("w", MAAS_ONNX_UINT8, 1, d3, NULL, 0);
	pb_packed(&t, 5, v300, 3);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "int32_data value 300 at byte");
	CHECK_ERR(false, err.msg, "is out of range for UINT8");
	t = mk_tensor("w", MAAS_ONNX_INT32, 1, d3, NULL, 0);
	pb_packed(&t, 5, (const int64_t[]) {1, (int64_t) 1 << 40, 3}, 3);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "is out of range for INT32");
	t = mk_tensor("w", MAAS_ONNX_UINT32, 1, d3, NULL, 0);
	pb_packed(&t, 11, (const int64_t[]) {1, (int64_t) 1 << 40, 3}, 3);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "uint64_data value 1099511627776 at byte");
	t = mk_tensor("w", MAAS_ONNX_DOUBLE, 1, d3, NULL, 0);
	pb_blob(&t, 10, "0123456789abcdef", 12);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
			  "packed double_data of 12 bytes is not a multiple of 8");
	t = mk_tensor("w", MAAS_ONNX_INT32, 1, d3, NULL, 0);
	pb_int(&t, 2, (int64_t) 1 << 33);	/* data_type out of int32's range */
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "data_type 8589934592 is out of range for int32");

	t = mk_tensor(NULL, MAAS_ONNX_FLOAT, 1, d3, "0123456789ab", 12);
	CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "initializer 0 has no name");
}

static void
test_standalone_tensor(void)
{
	static const int64_t d[3] = {1, 2, 3};
	static const float v[6] = {0.5f, 1, 2, 3, 4, -5};
	Pb			t = mk_tensor("input", MAAS_ONNX_FLOAT, 3, d, v, sizeof(v));
	MaasOnnxTensor *r;
	float		out[6];

	r = maas_onnx_read_tensor(t.p, t.len, NULL, NULL, &err);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	CHECK(strcmp(r->name, "input") == 0 && r->ndim == 3 && r->numel == 6);
	CHECK(r->in_place && r->data == t.p + r->offset && r->offset == t.len - sizeof(v));
	CHECK(maas_onnx_tensor_f32(r, out, &err) && memcmp(out, v, sizeof(v)) == 0);

	/* a nameless one; and errors name the tensor */
	t = mk_tensor(NULL, MAAS_ONNX_INT64, 0, NULL, "12345678", 8);
	r = maas_onnx_read_tensor(t.p, t.len, NULL, NULL, &err);
	CHECK(r != NULL && r->name[0] == '\0' && r->numel == 1);
	t = mk_tensor("out", MAAS_ONNX_INT64, 0, NULL, "1234", 4);
	CHECK_ERR(maas_onnx_read_tensor(t.p, t.len, NULL, NULL, &err) != NULL, err.msg,
			  "tensor \"out\": raw_data has 4 bytes but INT64 [] needs 8");
	t = mk_tensor(NULL, MAAS_ONNX_INT64, 0, NULL, "1234", 4);
	CHECK_ERR(maas_onnx_read_tensor(t.p, t.len, NULL, NULL, &err) != NULL, err.msg,
			  "raw_data has 4 bytes but INT64 [] needs 8");
	CHECK(strncmp(err.msg, "raw_data", 8) == 0);
	CHECK_ERR(maas_onnx_read_tensor(NULL, 0, NULL, NULL, &err) != NULL, err.msg, "no data type");
	CHECK_ERR(maas_onnx_read_tensor((const uint8_t *) "\x08", 1, NULL, NULL, &err) != NULL,
			  err.msg, "truncated protobuf at byte 1: varint past the end of the TensorProto");
}

static void
test_dtype_table(void)
{
	StDtype		st;

	CHECK(strcmp(maas_onnx_dtype_name(MAAS_ONNX_BFLOAT16), "BFLOAT16") == 0);
	CHECK(strcmp(maas_onnx_dtype_name(MAAS_ONNX_UNDEFINED), "UNDEFINED") == 0);
	CHECK(strcmp(maas_onnx_dtype_name(-1), "unknown") == 0);
	CHECK(strcmp(maas_onnx_dtype_name(500), "unknown") == 0);
	CHECK(maas_onnx_dtype_size(MAAS_ONNX_FLOAT16) == 2 && maas_onnx_dtype_size(MAAS_ONNX_BOOL) == 1);
	CHECK(maas_onnx_dtype_size(MAAS_ONNX_UINT64) == 8 && maas_onnx_dtype_size(MAAS_ONNX_STRING) == 0);
	CHECK(maas_onnx_dtype_size(MAAS_ONNX_COMPLEX64) == 0);
	for (int32_t d = 0; d < 30; d++)
	{
		bool		has = maas_onnx_st_dtype(d, &st);

		CHECK(has == (maas_onnx_dtype_size(d) > 0));
		if (has)
			CHECK(st_dtype_size(st) == maas_onnx_dtype_size(d));
	}
	CHECK(maas_onnx_st_dtype(MAAS_ONNX_BFLOAT16, &st) && st == ST_BF16);
	CHECK(maas_onnx_st_dtype(MAAS_ONNX_FLOAT, &st) && st == ST_F32);
}


/* ----------------------------------------------------------------
 *		wire-level errors
 * ----------------------------------------------------------------
 */

static MaasOnnxModel *
read_bytes(const char *bytes, size_t n)
{
	memset(&err, 0, sizeof(err));
	return maas_onnx_read((const uint8_t *) bytes, n, NULL, NULL, &err);
}

static void
test_wire_errors(void)
{
	static const char eleven[] = "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
	Pb			b;

	/* a tag whose varint runs past the end */
	CHECK_ERR(read_bytes("\x08\x01\x80", 3) != NULL, err.msg,
			  "truncated protobuf at byte 2: varint past the end of the ModelProto");
	/* a value that does */
	CHECK_ERR(read_bytes("\x08\xff\xff", 3) != NULL, err.msg,
			  "truncated protobuf at byte 1: varint past the end of the ModelProto");
	/* 10 bytes is the longest a varint may be */
	CHECK_ERR(read_bytes("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x01", 12) != NULL, err.msg,
			  "invalid protobuf at byte 1: varint longer than 10 bytes");
	CHECK_ERR(read_bytes("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11) != NULL, err.msg,
			  "invalid protobuf at byte 1: varint overflows 64 bits");
	/* the largest 10-byte varint is fine (ir_version 2^64 - 1 as -1) */
	CHECK_ERR(read_bytes(eleven, 11) != NULL, err.msg, "the model has no graph");
	/* a length past the buffer */
	CHECK_ERR(read_bytes("\x3a\x80\x20\x0a\x00", 5) != NULL, err.msg,
			  "truncated protobuf at byte 1: length 4096 past the end (2 bytes left in the ModelProto)");
	/* a length past its enclosing message, though inside the buffer */
	CHECK_ERR(read_bytes("\x3a\x02\x0a\x05\x08\x01", 6) != NULL, err.msg,
			  "truncated protobuf at byte 3: length 5 past the end (0 bytes left in the GraphProto)");
	/* fixed-size values past the end */
	CHECK_ERR(read_bytes("\x79\x01\x02", 3) != NULL, err.msg,
			  "truncated protobuf at byte 1: 8-byte value past the end of the ModelProto");
	CHECK_ERR(read_bytes("\x7d\x01\x02", 3) != NULL, err.msg,
			  "truncated protobuf at byte 1: 4-byte value past the end");
	/* wire types */
	CHECK_ERR(read_bytes("\x38\x01", 2) != NULL, err.msg,
			  "invalid protobuf at byte 0: field 7 (graph) of ModelProto has wire type 0, expected 2 (length-delimited)");
	CHECK_ERR(read_bytes("\x0a\x00", 2) != NULL, err.msg,
			  "field 1 (ir_version) of ModelProto has wire type 2, expected 0 (varint)");
	CHECK_ERR(read_bytes("\x7b\x0c", 2) != NULL, err.msg,
			  "invalid protobuf at byte 0: group (wire type 3) in ModelProto");
	CHECK_ERR(read_bytes("\xfb\x01\x00", 3) != NULL, err.msg, "group (wire type 3) in ModelProto");
	CHECK_ERR(read_bytes("\x7e", 1) != NULL, err.msg, "invalid protobuf at byte 0: wire type 6 in ModelProto");
	CHECK_ERR(read_bytes("\x7f", 1) != NULL, err.msg, "wire type 7");
	CHECK_ERR(read_bytes("\x02\x00", 2) != NULL, err.msg,
			  "invalid protobuf at byte 0: field number 0 in ModelProto");
	CHECK_ERR(read_bytes("\x80\x80\x80\x80\x10\x00", 6) != NULL, err.msg,
			  "field number 536870912 in ModelProto");
	CHECK_STATUS(MAAS_ERR_INVALID);

	/* inside a tensor: raw_data as a varint, dims truncated, named where */
	{
		Pb			t = pb_new();

		pb_str(&t, 8, "w");
		pb_int(&t, 9, 3);
		CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
				  "initializer 0: invalid protobuf at byte");
		CHECK_ERR(false, err.msg, "field 9 (raw_data) of TensorProto has wire type 0, expected 2 (length-delimited)");
		t = pb_new();
		pb_blob(&t, 1, "\x02\x83", 2);	/* packed dims ending mid-varint */
		CHECK_ERR(read_one_initializer(&t) != NULL, err.msg, "varint past the end of the packed field");
		t = pb_new();
		pb_key(&t, 4, 1);		/* float_data as 64-bit */
		pb_raw(&t, "12345678", 8);
		CHECK_ERR(read_one_initializer(&t) != NULL, err.msg,
				  "field 4 (float_data) of TensorProto has wire type 1, expected 5 or 2 (packed)");
	}
	/* the ints of an attribute, packed and cut mid-varint */
	{
		Pb			n = mk_node("Op", "o", "x", "q");
		Pb			a = pb_new();

		pb_str(&a, 1, "ints");
		pb_int(&a, 20, MAAS_ONNX_ATTR_INTS);
		pb_blob(&a, 8, "\x01\x82", 2);
		node_attr(&n, &a);
		CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
				  "node 3 (Op \"o\"), attribute 0: truncated protobuf at byte");
		CHECK_ERR(false, err.msg, "varint past the end of packed ints");
	}

	/* a node whose bytes are cut: the node is named */
	b = std_model();
	{
		Pb			g = std_graph();
		Pb			m;

		pb_key(&g, 1, 2);
		pb_varint(&g, 4);
		pb_raw(&g, "\x22\x09Re", 4);	/* op_type claims 9 bytes, 2 given */
		m = mk_model(&g, 13);
		CHECK_ERR(read_model(&m) != NULL, err.msg,
				  "node 3: truncated protobuf at byte");
		CHECK_ERR(false, err.msg, "length 9 past the end (2 bytes left in the NodeProto)");
	}
	(void) b;
}

/* every prefix of a valid model is refused, with a message, never a crash */
static void
test_truncation(void)
{
	Pb			b = std_model();
	size_t		n;
	int			truncated = 0;

	for (n = 0; n < b.len; n++)
	{
		uint8_t    *copy = malloc(n + 1);

		memcpy(copy, b.p, n);	/* a buffer of exactly n bytes for ASan */
		memset(&err, 0, sizeof(err));
		CHECK(maas_onnx_read(copy, n, NULL, NULL, &err) == NULL);
		CHECK(err.status != MAAS_OK && err.msg[0] != '\0');
		if (strstr(err.msg, "truncated protobuf") != NULL)
			truncated++;
		free(copy);
	}
	CHECK(truncated > (int) b.len / 2);
	CHECK(read_model(&b) != NULL);
}

/* each byte of a valid model changed to other values: no crash */
static void
test_mutations(void)
{
	static const uint8_t values[] = {0x00, 0x01, 0x02, 0x05, 0x08, 0x0a, 0x7f, 0x80, 0xff};
	Pb			b = std_model();
	uint8_t    *copy = malloc(b.len);
	size_t		i;
	size_t		k;
	int			parsed = 0;
	int			failed = 0;

	for (i = 0; i < b.len; i++)
	{
		for (k = 0; k < sizeof(values); k++)
		{
			MaasOnnxModel *m;

			memcpy(copy, b.p, b.len);
			copy[i] = values[k];
			memset(&err, 0, sizeof(err));
			m = maas_onnx_read(copy, b.len, NULL, NULL, &err);
			if (m != NULL)
			{
				parsed++;
				CHECK(m->graph.n_nodes <= 3 + 1);
			}
			else
			{
				failed++;
				CHECK(err.msg[0] != '\0' && maas_utf8_valid((const uint8_t *) err.msg, strlen(err.msg)));
			}
		}
		arena_reset();
		b = std_model();
	}
	CHECK(parsed > 0 && failed > 0);
	free(copy);
}


/* ----------------------------------------------------------------
 *		graph-level errors
 * ----------------------------------------------------------------
 */

static void
test_graph_errors(void)
{
	Pb			g;
	Pb			m;
	Pb			n;
	Pb			v;

	/* a cycle: a = Relu(b), b = Neg(a) */
	g = pb_new();
	v = mk_value("x", MAAS_ONNX_FLOAT, 1, dims_3);
	pb_sub(&g, 11, &v);
	n = mk_node("Relu", "first", "x b", "a");
	pb_sub(&g, 1, &n);
	n = mk_node("Neg", "second", "a", "b");
	pb_sub(&g, 1, &n);
	m = mk_model(&g, 13);
	CHECK_ERR(read_model(&m) != NULL, err.msg,
			  "the graph has a cycle: node 0 (Relu \"first\") depends on its own output \"a\"");
	CHECK_STATUS(MAAS_ERR_INVALID);

	/* a node that reads its own output */
	g = pb_new();
	n = mk_node("Add", "self", "x s", "s");
	pb_sub(&g, 11, &v);
	pb_sub(&g, 1, &n);
	m = mk_model(&g, 13);
	CHECK_ERR(read_model(&m) != NULL, err.msg,
			  "the graph has a cycle: node 0 (Add \"self\") depends on its own output \"s\"");

	/* a cycle behind a node that is fine: the message names one on it */
	g = pb_new();
	pb_sub(&g, 11, &v);
	n = mk_node("Relu", "tail", "c", "d");
	pb_sub(&g, 1, &n);
	n = mk_node("Relu", "p", "x r", "q");
	pb_sub(&g, 1, &n);
	n = mk_node("Relu", "r", "q", "r");
	pb_sub(&g, 1, &n);
	n = mk_node("Relu", "c", "r", "c");
	pb_sub(&g, 1, &n);
	m = mk_model(&g, 13);
	CHECK_ERR(read_model(&m) != NULL, err.msg, "the graph has a cycle: node ");
	CHECK(strstr(err.msg, "tail") == NULL);

	/* two nodes with one output name, and a node with it twice */
	n = mk_node("Relu", "again", "x", "h");
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
			  "node 3 (Relu \"again\"): output \"h\" is already produced by node 0 (MatMul \"mm\")");
	n = mk_node("Split", "sp", "x", "u u");
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
			  "node 3 (Split \"sp\"): output \"u\" is already produced by another output of the node");
	n = mk_node("Relu", "shadow", "x", "W");
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
			  "node 3 (Relu \"shadow\"): output \"W\" is already produced by initializer 0");
	n = mk_node("Relu", "shadow", "h", "x");
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
			  "output \"x\" is already produced by graph input 0");

	/* an input nothing produces */
	n = mk_node("Add", "lost", "x q", "z");
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
			  "node 3 (Add \"lost\"): input \"q\" is not produced by any node, initializer or graph input");

	/* graph outputs: produced, unique, named */
	v = mk_value("nowhere", MAAS_ONNX_FLOAT, 1, dims_3);
	CHECK_ERR(read_graph_plus(&v, 12) != NULL, err.msg,
			  "graph output \"nowhere\" is not produced by any node, initializer or graph input");
	v = mk_value("y", MAAS_ONNX_FLOAT, 1, dims_3);
	CHECK_ERR(read_graph_plus(&v, 12) != NULL, err.msg, "graph output \"y\" appears twice");
	v = pb_new();
	pb_str(&v, 3, "only a doc string");
	CHECK_ERR(read_graph_plus(&v, 12) != NULL, err.msg, "graph output 1: no name");

	/* graph inputs and initializers given twice */
	v = mk_value("x", MAAS_ONNX_FLOAT, 1, dims_3);
	CHECK_ERR(read_graph_plus(&v, 11) != NULL, err.msg, "graph input \"x\" appears twice");
	{
		static const float w[3] = {1, 2, 3};
		Pb			t = mk_tensor("B", MAAS_ONNX_FLOAT, 1, dims_3, w, sizeof(w));

		CHECK_ERR(read_graph_plus(&t, 5) != NULL, err.msg, "initializer \"B\" appears twice");
	}

	/* shapes of values */
	{
		static const int64_t neg[2] = {3, -2};

		v = mk_value("vi", MAAS_ONNX_FLOAT, 2, neg);
		CHECK_ERR(read_graph_plus(&v, 13) != NULL, err.msg, "value_info \"vi\": dimension 1 is -2");
	}
	{
		Pb			type = pb_new();
		Pb			t = pb_new();
		Pb			shape = pb_new();
		Pb			dim = pb_new();
		int			i;

		pb_int(&dim, 1, 1);
		for (i = 0; i < MAAS_ONNX_MAX_RANK + 1; i++)
			pb_sub(&shape, 1, &dim);
		pb_sub(&t, 2, &shape);
		pb_sub(&type, 1, &t);
		v = pb_new();
		pb_str(&v, 1, "deep");
		pb_sub(&v, 2, &type);
		CHECK_ERR(read_graph_plus(&v, 13) != NULL, err.msg,
				  "value_info \"deep\": 65 dimensions, more than the 64 supported");
		CHECK_STATUS(MAAS_ERR_LIMIT);
		pb_sub(&v, 2, &type);
		CHECK_ERR(read_graph_plus(&v, 13) != NULL, err.msg, "value_info 0: invalid protobuf at byte");
		CHECK_ERR(false, err.msg, "two types");
	}

	/* nodes */
	n = mk_node("", "anon", "x", "z");
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg, "node 3: no op_type");
	n = mk_node("Relu", "ok", "x", "z");
	pb_str(&n, 7, "com.example");
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
			  "node 3 (com.example.Relu \"ok\"): the model imports no opset for domain \"com.example\"");

	/* sparse initializers */
	v = pb_new();
	CHECK_ERR(read_graph_plus(&v, 15) != NULL, err.msg, "sparse initializers are not supported");
	CHECK_STATUS(MAAS_ERR_UNSUPPORTED);
}

static void
test_model_errors(void)
{
	Pb			g = std_graph();
	Pb			m;
	Pb			op = pb_new();

	CHECK_ERR(read_bytes("", 0) != NULL, err.msg, "the model has no graph");
	CHECK_ERR(maas_onnx_read(NULL, 5, NULL, NULL, &err) != NULL, err.msg, "no buffer");

	m = mk_model(&g, 13);
	pb_sub(&m, 7, &g);
	CHECK_ERR(read_model(&m) != NULL, err.msg, "invalid protobuf at byte");
	CHECK_ERR(false, err.msg, "the model has two graphs");

	m = mk_model(&g, 13);
	pb_str(&op, 1, "ai.onnx");
	pb_int(&op, 2, 12);
	pb_sub(&m, 8, &op);
	CHECK_ERR(read_model(&m) != NULL, err.msg, "the opset of domain \"\" is imported twice");

	m = mk_model(&g, 0);
	CHECK_ERR(read_model(&m) != NULL, err.msg, "opset_import 0: version 0 of domain \"\"");

	/* no opset at all: the default domain's nodes have none */
	m = pb_new();
	pb_sub(&m, 7, &g);
	CHECK_ERR(read_model(&m) != NULL, err.msg,
			  "node 0 (MatMul \"mm\"): the model imports no opset for domain \"\"");

	/* too many opsets */
	m = mk_model(&g, 13);
	for (int i = 0; i < MAAS_ONNX_MAX_OPSETS; i++)
	{
		char		name[16];

		snprintf(name, sizeof(name), "d%d", i);
		op = pb_new();
		pb_str(&op, 1, name);
		pb_int(&op, 2, 1);
		pb_sub(&m, 8, &op);
	}
	CHECK_ERR(read_model(&m) != NULL, err.msg, "the model imports 65 opsets, more than the 64 supported");
	CHECK_STATUS(MAAS_ERR_LIMIT);
}

static void
test_names(void)
{
	Pb			n;
	char		longname[600];
	int			i;

	n = mk_node("Relu", "bad\xc3(", "x", "z");
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg, "node 3: the name is not valid UTF-8");
	n = mk_node("Relu", "ok", "x", "z");
	pb_blob(&n, 1, "a\0b", 3);
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg, "node 3 (Relu \"ok\"): input 1 contains a NUL byte");
	n = mk_node("Re\xff", "ok", "x", "z");
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg, "op_type is not valid UTF-8");

	/* a long name of two-byte characters: cut, still valid UTF-8 */
	for (i = 0; i < 299; i++)
	{
		longname[2 * i] = (char) 0xc3;
		longname[2 * i + 1] = (char) 0xa9;
	}
	longname[598] = '\0';
	n = mk_node("Relu", longname, "x", "h");
	CHECK(read_graph_plus(&n, 1) == NULL);
	CHECK(strlen(err.msg) < MAAS_ERRLEN);
	CHECK(maas_utf8_valid((const uint8_t *) err.msg, strlen(err.msg)));
	CHECK(strstr(err.msg, "node 3 (Relu \"\xc3\xa9\xc3\xa9") != NULL);
	n = mk_node("Relu", "r", "x", longname);
	pb_str(&n, 2, longname);
	CHECK(read_graph_plus(&n, 1) == NULL);
	CHECK(maas_utf8_valid((const uint8_t *) err.msg, strlen(err.msg)));
	CHECK(strstr(err.msg, "already produced by another output") == NULL ||
		  strlen(err.msg) < MAAS_ERRLEN);
}


/* ----------------------------------------------------------------
 *		limits, memory, ticks
 * ----------------------------------------------------------------
 */

static void
test_limits(void)
{
	Pb			n = mk_node("Concat", "wide", "", "z");
	int			i;
	MaasOnnxOptions small = {0, 4096};
	Pb			b;

	for (i = 0; i <= MAAS_ONNX_MAX_NODE_IO; i++)
		pb_blob(&n, 1, "x", 1);
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
			  "node 3 (Concat \"wide\"): 65537 inputs and 1 outputs, more than the 65536 supported");
	CHECK_STATUS(MAAS_ERR_LIMIT);

	n = mk_node("Op", "many", "x", "z");
	for (i = 0; i <= MAAS_ONNX_MAX_ATTRS; i++)
	{
		char		name[16];
		Pb			a;

		snprintf(name, sizeof(name), "a%d", i);
		a = mk_attr_int(name, i);
		node_attr(&n, &a);
	}
	CHECK_ERR(read_graph_plus(&n, 1) != NULL, err.msg,
			  "node 3 (Op \"many\"): 1025 attributes, more than the 1024 supported");

	/* the memory budget */
	b = std_model();
	CHECK(maas_onnx_read(b.p, b.len, &small, NULL, &err) != NULL);
	small.max_memory = 512;
	CHECK_ERR(maas_onnx_read(b.p, b.len, &small, NULL, &err) != NULL, err.msg,
			  "reading the model needs more than 512 bytes of memory");
	CHECK_STATUS(MAAS_ERR_LIMIT);
	/* int64_data costs 8 bytes an element from 1 byte of file */
	{
		Pb			t = mk_tensor("big", MAAS_ONNX_INT64, 1, (const int64_t[]) {100000}, NULL, 0);
		Pb			body = pb_new();
		Pb			g = pb_new();
		MaasOnnxOptions opts = {0, 500000};

		for (i = 0; i < 100000; i++)
			pb_byte(&body, 0);
		pb_sub(&t, 7, &body);
		pb_sub(&g, 5, &t);
		b = mk_model(&g, 13);
		CHECK_ERR(maas_onnx_read(b.p, b.len, &opts, NULL, &err) != NULL, err.msg,
				  "reading the model needs more than 500000 bytes of memory");
		opts.max_memory = 900000;
		CHECK(maas_onnx_read(b.p, b.len, &opts, NULL, &err) != NULL);
	}
}

static int	ticks;

static void
count_tick(void *arg)
{
	(void) arg;
	ticks++;
}

/* a long chain of nodes: read, sorted when reversed, ticking as it goes */
static void
test_many_nodes(void)
{
	const int	n = 20000;
	Pb			fwd = pb_new();
	Pb			rev = pb_new();
	Pb			v = mk_value("v0", MAAS_ONNX_FLOAT, 1, dims_3);
	Pb			m;
	Pb			nodes[2];
	MaasOnnxModel *model;
	MaasTick	tick = {count_tick, NULL};
	int			i;
	int			k;

	pb_sub(&fwd, 11, &v);
	pb_sub(&rev, 11, &v);
	nodes[0] = fwd;
	nodes[1] = rev;
	for (k = 0; k < 2; k++)
	{
		for (i = 0; i < n; i++)
		{
			int			j = k == 0 ? i : n - 1 - i;
			char		in[16];
			char		out[16];
			char		ins[40];
			Pb			node;

			snprintf(in, sizeof(in), "v%d", j);
			snprintf(out, sizeof(out), "v%d", j + 1);
			snprintf(ins, sizeof(ins), "%s", in);
			node = mk_node("Relu", NULL, ins, out);
			pb_sub(&nodes[k], 1, &node);
		}
	}
	for (k = 0; k < 2; k++)
	{
		m = mk_model(&nodes[k], 13);
		ticks = 0;
		memset(&err, 0, sizeof(err));
		model = maas_onnx_read(m.p, m.len, NULL, &tick, &err);
		CHECK(model != NULL);
		if (model == NULL)
		{
			fprintf(stderr, "    %s\n", err.msg);
			continue;
		}
		CHECK(model->graph.n_nodes == n);
		CHECK(ticks > 10);
		for (i = 0; i < n; i++)
		{
			int32_t		node = model->graph.order[i];

			if (k == 0)
				CHECK(node == i);
			else
				CHECK(node == n - 1 - i);
		}
	}
}

/* out of memory at every allocation of a read, then success */
static void
oom_every_allocation(const uint8_t *buf, size_t len, bool tensor, uint32_t flags)
{
	MaasOnnxOptions opts = {flags, 0};
	long		n;
	bool		done = false;

	for (n = 0; n < 100000 && !done; n++)
	{
		void	   *r;

		memset(&err, 0, sizeof(err));
		arena_fail_after(n);
		r = tensor ? (void *) maas_onnx_read_tensor(buf, len, &opts, NULL, &err) :
			(void *) maas_onnx_read(buf, len, &opts, NULL, &err);
		arena_fail_after(-1);
		if (r != NULL)
			done = true;
		else
		{
			CHECK(err.status == MAAS_ERR_NOMEM);
			CHECK(strcmp(err.msg, "out of memory") == 0);
		}
	}
	CHECK(done && n > 3);
}

static void
test_out_of_memory(void)
{
	Pb			b = std_model();
	static const int64_t d[1] = {2};
	Pb			t = mk_tensor("t", MAAS_ONNX_INT64, 1, d, NULL, 0);
	Pb			s = subgraph_model();

	oom_every_allocation(b.p, b.len, false, 0);
	pb_packed(&t, 7, (const int64_t[]) {4, 5}, 2);
	oom_every_allocation(t.p, t.len, true, 0);
	oom_every_allocation(s.p, s.len, false, MAAS_ONNX_OPAQUE_SUBGRAPHS);
}


/* ----------------------------------------------------------------
 *		what a model uses
 * ----------------------------------------------------------------
 */

static void
test_op_counts(void)
{
	Pb			g = std_graph();
	Pb			m;
	Pb			n = mk_node("Relu", NULL, "y", "y2");
	Pb			o = mk_node("Relu", NULL, "y2", "y3");
	Pb			p = mk_node("Relu", NULL, "y3", "y4");
	MaasOnnxModel *model;
	MaasOnnxOpCount *ops;
	int32_t		n_ops = -1;
	static const MaasOnnxOpSupport mine[] = {{"", "Relu", NULL}, {"ai.onnx", "MatMul", NULL}, {NULL, NULL, NULL}};

	pb_str(&p, 7, "com.x");
	pb_sub(&g, 1, &n);
	pb_sub(&g, 1, &o);
	pb_sub(&g, 1, &p);
	m = mk_model(&g, 13);
	{
		Pb			op = pb_new();

		pb_str(&op, 1, "com.x");
		pb_int(&op, 2, 1);
		pb_sub(&m, 8, &op);
	}
	model = read_model(&m);
	CHECK(model != NULL);
	if (model == NULL)
		return;
	ops = maas_onnx_op_counts(model, maas_onnx_supported_ops, &n_ops, &err);
	CHECK(ops != NULL && n_ops == 4);
	CHECK(strcmp(ops[0].op_type, "MatMul") == 0 && ops[0].count == 1 && ops[0].supported);
	CHECK(strcmp(ops[1].op_type, "Add") == 0 && ops[1].first_node == 1 && ops[1].supported);
	CHECK(strcmp(ops[2].op_type, "Relu") == 0 && ops[2].count == 3 && ops[2].first_node == 2);
	CHECK(ops[2].supported && ops[2].domain[0] == '\0');
	CHECK(strcmp(ops[3].op_type, "Relu") == 0 && strcmp(ops[3].domain, "com.x") == 0);
	CHECK(ops[3].count == 1 && !ops[3].supported && ops[3].first_node == 5);

	ops = maas_onnx_op_counts(model, mine, &n_ops, &err);
	CHECK(n_ops == 4 && ops[0].supported && !ops[1].supported && ops[2].supported);
	ops = maas_onnx_op_counts(model, NULL, &n_ops, &err);
	CHECK(n_ops == 4 && !ops[0].supported && !ops[2].supported);
	arena_fail_after(0);
	CHECK_ERR(maas_onnx_op_counts(model, NULL, &n_ops, &err) != NULL, err.msg, "out of memory");
	arena_fail_after(-1);
}


/* ----------------------------------------------------------------
 *		the torch exports in test/fixtures/onnx
 * ----------------------------------------------------------------
 */

static uint8_t *
load_file(const char *name, size_t *len)
{
	const char *dirs[2] = {getenv("MAAS_ONNX_FIXTURES"), "../fixtures/onnx"};
	int			i;

	for (i = 0; i < 2; i++)
	{
		char		path[1024];
		FILE	   *fp;
		long		n;
		uint8_t    *buf;

		if (dirs[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if ((fp = fopen(path, "rb")) == NULL)
			continue;
		fseek(fp, 0, SEEK_END);
		n = ftell(fp);
		fseek(fp, 0, SEEK_SET);
		buf = maas_kalloc((size_t) n + 1);
		if (buf == NULL || fread(buf, 1, (size_t) n, fp) != (size_t) n)
		{
			fclose(fp);
			return NULL;
		}
		fclose(fp);
		buf[n] = 0;
		*len = (size_t) n;
		return buf;
	}
	fprintf(stderr, "    cannot find fixture %s (run from test/unit or set MAAS_ONNX_FIXTURES)\n", name);
	return NULL;
}

static bool
json_str_eq(const MaasJson *v, const char *s)
{
	return v != NULL && v->type == MAAS_JSON_STRING && strcmp(v->u.string, s) == 0;
}

static bool
json_int_eq(const MaasJson *v, int64_t i)
{
	return v != NULL && v->type == MAAS_JSON_NUMBER && v->integral && v->integer == i;
}

/* a value's dims: numbers, or strings for symbolic dims */
static void
check_value(const MaasOnnxValueInfo *vi, const MaasJson *want)
{
	const MaasJson *dims = maas_json_get(want, "dims");
	int			i;

	CHECK(json_str_eq(maas_json_get(want, "name"), vi->name));
	CHECK(json_int_eq(maas_json_get(want, "elem_type"), vi->elem_type));
	CHECK(vi->kind == MAAS_ONNX_VALUE_TENSOR && dims != NULL && vi->ndim == dims->n);
	for (i = 0; dims != NULL && i < dims->n && i < vi->ndim; i++)
	{
		const MaasJson *d = maas_json_at(dims, i);

		if (d->type == MAAS_JSON_STRING)
			CHECK(vi->dims[i].param != NULL && strcmp(vi->dims[i].param, d->u.string) == 0 &&
				  vi->dims[i].value == -1);
		else
			CHECK(json_int_eq(d, vi->dims[i].value) && vi->dims[i].param == NULL);
	}
}

static void
check_attr(const MaasOnnxAttr *a, const MaasJson *want)
{
	const MaasJson *type = maas_json_at(want, 0);
	const MaasJson *value = maas_json_at(want, 1);
	int			i;

	CHECK(json_int_eq(type, a->type));
	switch (a->type)
	{
		case MAAS_ONNX_ATTR_INT:
			CHECK(json_int_eq(value, a->i));
			break;
		case MAAS_ONNX_ATTR_FLOAT:
			CHECK(value->type == MAAS_JSON_NUMBER && (float) value->u.number == a->f);
			break;
		case MAAS_ONNX_ATTR_STRING:
			CHECK(json_str_eq(value, a->s) && (size_t) value->n == a->s_len);
			break;
		case MAAS_ONNX_ATTR_INTS:
			CHECK(value->type == MAAS_JSON_ARRAY && value->n == a->n);
			for (i = 0; i < a->n && i < value->n; i++)
				CHECK(json_int_eq(maas_json_at(value, i), a->ints[i]));
			break;
		case MAAS_ONNX_ATTR_FLOATS:
			CHECK(value->type == MAAS_JSON_ARRAY && value->n == a->n);
			for (i = 0; i < a->n && i < value->n; i++)
				CHECK((float) maas_json_at(value, i)->u.number == a->floats[i]);
			break;
		default:
			CHECK(!"an attribute type the fixtures do not have");
	}
}

/* read fixture name.onnx and check it against name.expect.json */
static MaasOnnxModel *
check_fixture(const char *name)
{
	char		file[256];
	size_t		len;
	size_t		jlen;
	uint8_t    *buf;
	char	   *text;
	MaasJson   *want;
	MaasOnnxModel *m;
	const MaasOnnxGraph *g;
	const MaasJson *list;
	int32_t		i;
	int32_t		k;

	snprintf(file, sizeof(file), "%s.onnx", name);
	buf = load_file(file, &len);
	snprintf(file, sizeof(file), "%s.expect.json", name);
	text = (char *) load_file(file, &jlen);
	CHECK(buf != NULL && text != NULL);
	if (buf == NULL || text == NULL)
		return NULL;
	want = maas_json_parse(text, jlen, 0, NULL, &err);
	CHECK(want != NULL);
	m = maas_onnx_read(buf, len, NULL, NULL, &err);
	CHECK(m != NULL);
	if (m == NULL || want == NULL)
	{
		fprintf(stderr, "    %s: %s\n", name, err.msg);
		return NULL;
	}
	g = &m->graph;

	CHECK(json_int_eq(maas_json_get(want, "ir_version"), m->ir_version));
	CHECK(json_str_eq(maas_json_at(maas_json_get(want, "producer"), 0), m->producer_name));
	CHECK(json_str_eq(maas_json_at(maas_json_get(want, "producer"), 1), m->producer_version));
	list = maas_json_get(want, "opsets");
	CHECK(list->n == m->n_opsets);
	for (i = 0; i < m->n_opsets && i < list->n; i++)
	{
		CHECK(json_str_eq(maas_json_at(maas_json_at(list, i), 0), m->opsets[i].domain));
		CHECK(json_int_eq(maas_json_at(maas_json_at(list, i), 1), m->opsets[i].version));
	}

	list = maas_json_get(want, "inputs");
	CHECK(list->n == g->n_inputs);
	for (i = 0; i < g->n_inputs && i < list->n; i++)
		check_value(&g->inputs[i], maas_json_at(list, i));
	list = maas_json_get(want, "outputs");
	CHECK(list->n == g->n_outputs);
	for (i = 0; i < g->n_outputs && i < list->n; i++)
		check_value(&g->outputs[i], maas_json_at(list, i));

	list = maas_json_get(want, "nodes");
	CHECK(list->n == g->n_nodes);
	for (i = 0; i < g->n_nodes && i < list->n; i++)
	{
		const MaasOnnxNode *node = &g->nodes[i];
		const MaasJson *w = maas_json_at(list, i);
		const MaasJson *ins = maas_json_get(w, "inputs");
		const MaasJson *outs = maas_json_get(w, "outputs");
		const MaasJson *attrs = maas_json_get(w, "attrs");

		CHECK(json_str_eq(maas_json_get(w, "op_type"), node->op_type));
		CHECK(json_str_eq(maas_json_get(w, "name"), node->name));
		CHECK(node->domain[0] == '\0');
		CHECK(ins->n == node->n_inputs && outs->n == node->n_outputs);
		for (k = 0; k < node->n_inputs && k < ins->n; k++)
		{
			MaasOnnxProducer p;

			CHECK(json_str_eq(maas_json_at(ins, k), node->inputs[k]));
			CHECK(maas_onnx_lookup(g, node->inputs[k], &p));
			/* each input comes from an earlier node, or is no node's */
			CHECK(p.source != MAAS_ONNX_FROM_NODE || p.index < i);
		}
		for (k = 0; k < node->n_outputs && k < outs->n; k++)
			CHECK(json_str_eq(maas_json_at(outs, k), node->outputs[k]));
		CHECK(attrs->type == MAAS_JSON_OBJECT && attrs->n == node->n_attrs);
		for (k = 0; k < attrs->n; k++)
		{
			const MaasOnnxAttr *a = maas_onnx_attr(node, attrs->u.members[k].key);

			CHECK(a != NULL);
			if (a != NULL)
				check_attr(a, &attrs->u.members[k].value);
		}
		CHECK(g->order[i] == i);
	}

	list = maas_json_get(want, "initializers");
	CHECK(list->n == g->n_initializers);
	for (i = 0; i < g->n_initializers && i < list->n; i++)
	{
		const MaasOnnxTensor *t = &g->initializers[i];
		const MaasJson *w = maas_json_at(list, i);
		const MaasJson *dims = maas_json_get(w, "dims");
		const MaasJson *values = maas_json_get(w, "values");
		float	   *f = maas_kalloc_array((size_t) t->numel + 1, sizeof(float));
		int64_t		j;

		CHECK(json_str_eq(maas_json_get(w, "name"), t->name));
		CHECK(json_str_eq(maas_json_get(w, "source"), "torch"));
		CHECK(json_int_eq(maas_json_get(w, "dtype"), t->dtype) && t->dtype == MAAS_ONNX_FLOAT);
		CHECK(dims->n == t->ndim);
		for (k = 0; k < t->ndim && k < dims->n; k++)
			CHECK(json_int_eq(maas_json_at(dims, k), t->dims[k]));
		CHECK(values->n == t->numel && t->nbytes == (size_t) t->numel * 4);
		CHECK(t->in_place && (const uint8_t *) t->data == buf + t->offset);
		CHECK(t->offset + t->nbytes <= len);
		CHECK(maas_onnx_initializer(g, t->name) == t);
		CHECK(f != NULL && maas_onnx_tensor_f32(t, f, &err));
		for (j = 0; f != NULL && j < t->numel && j < values->n; j++)
			CHECK(f[j] == (float) maas_json_at(values, (int) j)->u.number);
	}
	return m;
}

/* the op types of the graph, space-separated */
static bool
ops_are(const MaasOnnxModel *m, const char *want)
{
	char		have[512] = "";
	int32_t		i;

	for (i = 0; i < m->graph.n_nodes; i++)
	{
		if (i > 0)
			strcat(have, " ");
		strncat(have, m->graph.nodes[i].op_type, sizeof(have) - strlen(have) - 2);
	}
	if (strcmp(have, want) != 0)
		fprintf(stderr, "    ops: %s\n", have);
	return strcmp(have, want) == 0;
}

static const int64_t *
ints_of(const MaasOnnxModel *m, int32_t node, const char *name, int n)
{
	const MaasOnnxAttr *a = maas_onnx_attr(&m->graph.nodes[node], name);

	if (a == NULL || a->type != MAAS_ONNX_ATTR_INTS || a->n != n)
		return NULL;
	return a->ints;
}

static void
test_fixture_mlp(void)
{
	MaasOnnxModel *m = check_fixture("mlp");
	const MaasOnnxTensor *w;
	MaasOnnxOpCount *ops;
	int32_t		n_ops;

	if (m == NULL)
		return;
	CHECK(ops_are(m, "Gemm Relu Gemm Softmax"));
	CHECK(maas_onnx_opset(m, "") == 13);
	CHECK(strcmp(m->graph.inputs[0].dims[0].param, "batch") == 0);
	CHECK(m->graph.inputs[0].dims[1].value == 8);
	w = maas_onnx_initializer(&m->graph, "fc1.weight");
	CHECK(w != NULL && w->ndim == 2 && w->dims[0] == 16 && w->dims[1] == 8);
	CHECK(maas_onnx_attr(&m->graph.nodes[0], "transB")->i == 1);
	CHECK(maas_onnx_attr(&m->graph.nodes[3], "axis")->i == 1);
	ops = maas_onnx_op_counts(m, maas_onnx_supported_ops, &n_ops, &err);
	CHECK(n_ops == 3 && ops[0].count == 2 && ops[0].supported && ops[2].supported);
}

static void
test_fixture_cnn(void)
{
	MaasOnnxModel *m = check_fixture("cnn_bn");
	const int64_t *k;
	const MaasOnnxAttr *eps;

	if (m == NULL)
		return;
	CHECK(ops_are(m, "Conv BatchNormalization Relu MaxPool Conv BatchNormalization Relu "
				  "GlobalAveragePool Flatten Gemm"));
	k = ints_of(m, 0, "kernel_shape", 2);
	CHECK(k != NULL && k[0] == 3 && k[1] == 3);
	k = ints_of(m, 0, "pads", 4);
	CHECK(k != NULL && k[0] == 1 && k[3] == 1);
	k = ints_of(m, 3, "kernel_shape", 2);
	CHECK(k != NULL && k[0] == 2 && k[1] == 2);
	k = ints_of(m, 3, "strides", 2);
	CHECK(k != NULL && k[0] == 2);
	k = ints_of(m, 4, "pads", 4);
	CHECK(k != NULL && k[0] == 0);
	eps = maas_onnx_attr(&m->graph.nodes[1], "epsilon");
	CHECK(eps != NULL && eps->type == MAAS_ONNX_ATTR_FLOAT && eps->f == 1e-5f);
	CHECK(m->graph.nodes[1].n_inputs == 5);
	CHECK(strcmp(m->graph.nodes[1].inputs[4], "bn1.running_var") == 0);
	CHECK(maas_onnx_initializer(&m->graph, "bn1.running_var")->numel == 4);
	CHECK(maas_onnx_initializer(&m->graph, "conv2.weight")->dims[1] == 4);
}

static void
test_fixture_resblock(void)
{
	MaasOnnxModel *m = check_fixture("resblock");
	MaasOnnxProducer p;
	const MaasOnnxNode *add;

	if (m == NULL)
		return;
	CHECK(ops_are(m, "Conv BatchNormalization Relu Conv BatchNormalization Add Relu"));
	add = &m->graph.nodes[5];
	/* the residual: the block's input feeds the Add */
	CHECK(add->n_inputs == 2 && maas_onnx_lookup(&m->graph, add->inputs[1], &p));
	CHECK(p.source == MAAS_ONNX_FROM_INPUT && p.index == 0);
	CHECK(maas_onnx_lookup(&m->graph, add->inputs[0], &p) && p.source == MAAS_ONNX_FROM_NODE);
	CHECK(p.index == 4);
	CHECK(m->graph.nodes[0].n_inputs == 2);	/* conv without bias */
	CHECK(m->graph.outputs[0].ndim == 4 && m->graph.outputs[0].dims[1].value == 4);
}

/* the fixtures under out of memory at every allocation, and cut anywhere */
static void
test_fixtures_hard(void)
{
	static const char *const names[3] = {"mlp.onnx", "cnn_bn.onnx", "resblock.onnx"};
	int			i;

	for (i = 0; i < 3; i++)
	{
		size_t		len;
		uint8_t    *buf = load_file(names[i], &len);
		size_t		n;

		CHECK(buf != NULL);
		if (buf == NULL)
			continue;
		oom_every_allocation(buf, len, false, 0);
		for (n = 0; n < len; n += 7)
		{
			CHECK(maas_onnx_read(buf, n, NULL, NULL, &err) == NULL);
			CHECK(err.msg[0] != '\0');
		}
		arena_reset();
	}
}


/* ----------------------------------------------------------------
 *		seeds and dictionary for the fuzzer
 * ----------------------------------------------------------------
 */

static int
write_seed(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char		path[1024];
	FILE	   *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (fp == NULL || buf == NULL || fwrite(buf, 1, len, fp) != len)
	{
		fprintf(stderr, "cannot write %s\n", path);
		if (fp)
			fclose(fp);
		return 1;
	}
	fclose(fp);
	return 0;
}

static int
write_corpus(const char *dir)
{
	/* the last, a torch export the translator turns into layers */
	static const char *const fixtures[4] = {"mlp.onnx", "cnn_bn.onnx", "resblock.onnx",
	"mlp_bn.onnx"};
	static const int64_t d3[1] = {3};
	Pb			b;
	Pb			t;
	size_t		len;
	uint8_t    *buf;
	int			rc = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		buf = load_file(fixtures[i], &len);
		rc |= write_seed(dir, fixtures[i], buf, len);
	}
	b = std_model();
	rc |= write_seed(dir, "std.onnx", b.p, b.len);
	b = subgraph_model();
	rc |= write_seed(dir, "subgraph.onnx", b.p, b.len);
	t = mk_tensor("i64", MAAS_ONNX_INT64, 1, d3, NULL, 0);
	pb_packed(&t, 7, (const int64_t[]) {-1, 0, 300}, 3);
	rc |= write_seed(dir, "tensor_i64.pb", t.p, t.len);
	t = mk_tensor("f", MAAS_ONNX_FLOAT16, 1, d3, "abcdef", 6);
	rc |= write_seed(dir, "tensor_f16.pb", t.p, t.len);
	return rc;
}

static int
write_dict(const char *path)
{
	static const char *const words[] = {
		"Conv", "Gemm", "MatMul", "Relu", "BatchNormalization", "MaxPool",
		"Add", "Constant", "If", "Loop", "kernel_shape", "pads", "strides",
		"value", "ai.onnx", "location", "batch",
		"\\x08\\x07", "\\x12\\x07pytorch", "\\x3a", "\\x42\\x02\\x10\\x0d",
		"\\x0a", "\\x12", "\\x1a", "\\x22", "\\x2a", "\\x4a", "\\x5a", "\\x62",
		"\\xa0\\x01\\x07", "\\xa0\\x01\\x05", "\\x70\\x01", "\\x10\\x01",
		"\\x10\\x07", "\\x10\\x08", "\\x10\\x0a", "\\x10\\x10", "\\x25",
		"\\x80\\x80\\x80\\x80\\x80\\x80\\x80\\x80\\x80\\x01",
	};
	FILE	   *fp = fopen(path, "w");
	size_t		i;

	if (fp == NULL)
	{
		fprintf(stderr, "cannot write %s\n", path);
		return 1;
	}
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		fprintf(fp, "\"%s\"\n", words[i]);
	fclose(fp);
	return 0;
}


int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
	{
		int			rc = write_corpus(argv[2]);

		arena_reset();
		return rc;
	}
	if (argc == 3 && strcmp(argv[1], "--dict") == 0)
		return write_dict(argv[2]);

	UNIT_RUN(test_standard_model);
	UNIT_RUN(test_node_labels);
	UNIT_RUN(test_unknown_fields);
	UNIT_RUN(test_topological_order);
	UNIT_RUN(test_initializer_as_input);
	UNIT_RUN(test_optional_io);
	UNIT_RUN(test_value_kinds);
	UNIT_RUN(test_attributes);
	UNIT_RUN(test_subgraphs);
	UNIT_RUN(test_attribute_errors);
	UNIT_RUN(test_typed_fields);
	UNIT_RUN(test_tensor_errors);
	UNIT_RUN(test_standalone_tensor);
	UNIT_RUN(test_dtype_table);
	UNIT_RUN(test_wire_errors);
	UNIT_RUN(test_truncation);
	UNIT_RUN(test_mutations);
	UNIT_RUN(test_graph_errors);
	UNIT_RUN(test_model_errors);
	UNIT_RUN(test_names);
	UNIT_RUN(test_limits);
	UNIT_RUN(test_many_nodes);
	UNIT_RUN(test_out_of_memory);
	UNIT_RUN(test_op_counts);
	UNIT_RUN(test_fixture_mlp);
	UNIT_RUN(test_fixture_cnn);
	UNIT_RUN(test_fixture_resblock);
	UNIT_RUN(test_fixtures_hard);
	return unit_finish("test_onnx");
}
