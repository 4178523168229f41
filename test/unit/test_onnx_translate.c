/*
 * test_onnx_translate.c
 *		Unit tests of the ONNX translator (src/kernel/onnx_translate*.c,
 *		onnx_fold.c): the torch exports of test/fixtures/onnx (made by
 *		make_onnx_models.py) translated, built and run by the layer runtime,
 *		matching torch within 1e-4 on every fixture row; the programs they
 *		become (what fused into what); and graphs built byte by byte for each
 *		refusal, with its exact message.
 *
 * The fixtures are found in ../fixtures/onnx (make runs the tests from
 * test/unit), or in $MAAS_ONNX_FIXTURES.
 */
#include <math.h>
#include <stdlib.h>

#include "json.h"
#include "onnx_pb.h"
#include "onnx_testutil.h"
#include "unit.h"

static const MaasBlas *blas;
static MaasError err;

static const char *
fixture_dir(void)
{
	const char *d = getenv("MAAS_ONNX_FIXTURES");

	return d != NULL ? d : "../fixtures/onnx";
}

static uint8_t *
fixture(const char *name, size_t *len)
{
	char		path[1024];
	uint8_t    *buf;

	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
	if ((buf = onnx_read_file(path, len)) == NULL)
		fprintf(stderr, "cannot read %s\n", path);
	return buf;
}

static MaasJson *
rows_of(const char *model)
{
	char		name[256];
	size_t		len;
	uint8_t    *text;

	snprintf(name, sizeof(name), "%s.rows.json", model);
	if ((text = fixture(name, &len)) == NULL)
		return NULL;
	return maas_json_parse((const char *) text, len, 0, NULL, &err);
}

/* floats of a JSON array into dst (at most cap); returns the count */
static int
floats(const MaasJson *a, float *dst, int cap)
{
	int			n = 0;

	for (int i = 0; a != NULL && i < a->n && n < cap; i++)
		dst[n++] = (float) maas_json_at(a, i)->u.number;
	return n;
}

/* the layer ops of the program, as one string "dense relu dense softmax" */
static const char *
ops_of(const MaasNet *net)
{
	static char buf[4096];
	size_t		used = 0;

	buf[0] = '\0';
	for (int i = 0; i < net->n_layers && used < sizeof(buf) - 32; i++)
		used += (size_t) snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? " " : "",
								  maas_op_name(net->layers[i].op));
	return buf;
}

/* every row of a feature model's fixture, as one batch, within tol */
static double
check_feature_rows(const char *model, const OnnxNet *on)
{
	MaasJson   *rows = rows_of(model);
	const MaasJson *list = maas_json_get(rows, "rows");
	int			n = list != NULL ? list->n : 0;
	int			n_in = on->net.n_in;
	int			n_out = on->net.n_out;
	float	   *x = maas_kalloc(sizeof(float) * (size_t) (n * n_in + 1));
	float	   *want = maas_kalloc(sizeof(float) * (size_t) (n * n_out + 1));
	size_t		nwork;
	float	   *work;
	const float *y;
	double		worst = 0.0;

	CHECK(n > 0);
	for (int r = 0; r < n; r++)
	{
		const MaasJson *row = maas_json_at(list, r);

		CHECK(floats(maas_json_get(row, "x"), x + r * n_in, n_in) == n_in);
		CHECK(floats(maas_json_get(row, "y"), want + r * n_out, n_out) == n_out);
	}
	CHECK(maas_net_workspace(&on->net, n, 1, &nwork));
	work = maas_kalloc(sizeof(float) * nwork);
	y = maas_net_forward(&on->net, blas, n, x, work);
	CHECK(y != NULL);
	for (int j = 0; y != NULL && j < n * n_out; j++)
		if (fabs((double) y[j] - want[j]) > worst)
			worst = fabs((double) y[j] - want[j]);
	/* one row at a time gives the same */
	for (int r = 0; r < n; r++)
	{
		const float *y1 = maas_net_forward(&on->net, blas, 1, x + r * n_in, work);

		for (int j = 0; j < n_out; j++)
			if (fabs((double) y1[j] - want[r * n_out + j]) > worst)
				worst = fabs((double) y1[j] - want[r * n_out + j]);
	}
	return worst;
}

/* model.onnx of the fixtures, imported into on (printing its program) */
static bool
import_fixture(const char *model, OnnxNet *on)
{
	char		file[256];
	size_t		len;
	uint8_t    *buf;

	snprintf(file, sizeof(file), "%s.onnx", model);
	buf = fixture(file, &len);
	CHECK(buf != NULL);
	if (buf == NULL)
		return false;
	memset(&err, 0, sizeof(err));
	if (!onnx_import(buf, len, NULL, on, &err))
	{
		unit_fail(__FILE__, __LINE__, err.msg);
		return false;
	}
	printf("    %s: %s\n", model, ops_of(&on->net));
	return true;
}

/*
 * The feature models of the fixtures: the program each becomes, its task
 * and inputs (when given), and torch's outputs on every row within 1e-4.
 * A program that starts with a conv2d knows its input's image shape.
 */
static void
test_feature_models(void)
{
	static const struct
	{
		const char *model;
		const char *ops;
		const char *task;		/* NULL: not checked */
		int			n_in;		/* 0: not checked */
	}			cases[] = {
		/* the view of [batch, 2, 5] is no layer; each Gemm is one dense layer */
		{"mlp_tanh", "dense tanh dense sigmoid dense logsoftmax", "classification", 10},
		/* the batch norm folds into the first dense, the bias Add into the
		 * MatMul's dense, the scale and shift (x * 0.5 - 0.25) into an affine */
		{"mlp_bn", "dense relu dense relu affine dense", "regression", 0},
		/* each Conv a conv2d layer with its batch norm folded in, the pools
		 * their layers, the flatten no layer */
		{"cnn_bn", "conv2d relu maxpool2d conv2d relu global_avgpool dense", NULL, 0},
		/* the second batch norm folds into its conv before the residual add */
		{"resblock", "conv2d relu conv2d add relu", NULL, 0},
		{"mlp", "dense relu dense softmax", NULL, 0},
	};

	for (int i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++)
	{
		OnnxNet		on;
		double		d;

		if (!import_fixture(cases[i].model, &on))
			continue;
		CHECK(strcmp(ops_of(&on.net), cases[i].ops) == 0);
		CHECK(cases[i].n_in == 0 || on.net.n_in == cases[i].n_in);
		CHECK(cases[i].task == NULL || strcmp(on.imp.task, cases[i].task) == 0);
		CHECK(strncmp(cases[i].ops, "conv2d", 6) != 0 ||
			  (on.net.in_c > 0 && on.net.in_h > 0 && on.net.in_w > 0));
		d = check_feature_rows(cases[i].model, &on);
		printf("    %s: max abs diff %.3g\n", cases[i].model, d);
		CHECK(d < 1e-4);
	}
}

/*
 * Every row of a text model's fixture as one padded batch (the rows give
 * each row's valid length, the runtime's form of the attention mask).
 */
static double
check_text_rows(const char *model, const OnnxNet *on)
{
	MaasJson   *rows = rows_of(model);
	const MaasJson *list = maas_json_get(rows, "rows");
	int			n = list != NULL ? list->n : 0;
	int			t = n > 0 ? maas_json_get(maas_json_at(list, 0), "ids")->n : 0;
	int			n_out = on->net.n_out;
	int32_t    *ids = maas_kalloc(sizeof(int32_t) * (size_t) (n * t + 1));
	int32_t    *types = maas_kalloc(sizeof(int32_t) * (size_t) (n * t + 1));
	int32_t    *lengths = maas_kalloc(sizeof(int32_t) * (size_t) (n + 1));
	float	   *want = maas_kalloc(sizeof(float) * (size_t) (n * n_out + 1));
	bool		has_types = false;
	size_t		nwork;
	float	   *work;
	const float *y;
	MaasBatch	batch;
	double		worst = 0.0;

	CHECK(n > 0 && t > 0);
	for (int r = 0; r < n; r++)
	{
		const MaasJson *row = maas_json_at(list, r);
		const MaasJson *ty = maas_json_get(row, "types");

		for (int k = 0; k < t; k++)
		{
			ids[r * t + k] = (int32_t) maas_json_at(maas_json_get(row, "ids"), k)->integer;
			types[r * t + k] = ty != NULL ? (int32_t) maas_json_at(ty, k)->integer : 0;
		}
		has_types = has_types || ty != NULL;
		lengths[r] = (int32_t) maas_json_get(row, "length")->integer;
		CHECK(floats(maas_json_get(row, "y"), want + r * n_out, n_out) == n_out);
	}
	memset(&batch, 0, sizeof(batch));
	batch.n = n;
	batch.t = t;
	batch.ids = ids;
	batch.lengths = lengths;
	batch.types = has_types ? types : NULL;
	CHECK(maas_net_workspace(&on->net, n, t, &nwork));
	work = maas_kalloc(sizeof(float) * nwork);
	y = maas_net_run(&on->net, blas, &batch, 0, work, &err);
	CHECK(y != NULL);
	for (int j = 0; y != NULL && j < n * n_out; j++)
		if (fabs((double) y[j] - want[j]) > worst)
			worst = fabs((double) y[j] - want[j]);
	return worst;
}

static void
check_text_model(const char *model, const char *ops, const char *task)
{
	OnnxNet		on;
	double		d;

	if (!import_fixture(model, &on))
		return;
	CHECK(strcmp(ops_of(&on.net), ops) == 0);
	CHECK(strcmp(on.imp.task, task) == 0);
	d = check_text_rows(model, &on);
	printf("    %s: max abs diff %.3g\n", model, d);
	CHECK(d < 1e-4);
}

static void
test_gpt2(void)
{
	check_text_model("gpt2_tiny",
					 "embedding layernorm dense attention dense add layernorm dense gelu dense add "
					 "layernorm dense attention dense add layernorm dense gelu dense add "
					 "pool layernorm dense", "generation");
}

static void
test_bert(void)
{
	const char *ops = "embedding layernorm dense dense dense attention dense add layernorm "
		"dense gelu dense add layernorm dense dense dense attention dense add layernorm "
		"dense gelu dense add layernorm pool dense tanh dense";

	check_text_model("bert_tiny", ops, "classification");
	check_text_model("bert_tiny_ln", ops, "classification");
}

/* ----------------------------------------------------------------
 *		graphs built byte by byte
 * ----------------------------------------------------------------
 */

static const int64_t dims_n4[2] = {-1, 4};
static const int64_t dims_n3[2] = {-1, 3};
static const int64_t dims_43[2] = {4, 3};
static const int64_t dims_3[1] = {3};
static const float w43[12] = {0.5f, -1, 2, 1.5f, 0.25f, -0.5f, -2, 1, 0.75f, 3, -0.25f, 1};
static const float b3[3] = {0.1f, -0.2f, 0.3f};

/*
 * y = op(x @ W + B), x [N, 4], W [4, 3], B [3]: the last node, of op, has
 * inputs ins and outputs outs ("-": an empty name), and attr when it is not
 * NULL; a second graph output "s" when two_outputs.
 */
static Pb
build_small(const char *op, const Pb *attr, const char *ins, const char *outs,
			bool two_outputs)
{
	Pb			g = pb_new();
	Pb			x = mk_value("x", MAAS_ONNX_FLOAT, 2, dims_n4);
	Pb			y = mk_value("y", MAAS_ONNX_FLOAT, 2, dims_n3);
	Pb			wt = mk_tensor("W", MAAS_ONNX_FLOAT, 2, dims_43, w43, sizeof(w43));
	Pb			bt = mk_tensor("B", MAAS_ONNX_FLOAT, 1, dims_3, b3, sizeof(b3));
	Pb			mm = mk_node("MatMul", "mm", "x W", "h");
	Pb			add = mk_node("Add", "add", "h B", "s");
	Pb			last = mk_node(op, "last", ins, outs);

	if (attr != NULL)
		node_attr(&last, attr);
	pb_str(&g, 2, "small");
	pb_sub(&g, 11, &x);
	pb_sub(&g, 5, &wt);
	pb_sub(&g, 5, &bt);
	pb_sub(&g, 1, &mm);
	pb_sub(&g, 1, &add);
	pb_sub(&g, 1, &last);
	pb_sub(&g, 12, &y);
	if (two_outputs)
	{
		Pb			sv = mk_value("s", MAAS_ONNX_FLOAT, 2, dims_n3);

		pb_sub(&g, 12, &sv);
	}
	return mk_model(&g, 13);
}

/* y = op(s) */
static Pb
small_model(const char *op, const Pb *attr, bool two_outputs)
{
	return build_small(op, attr, "s", "y", two_outputs);
}

/*
 * Import a byte-built model of x [N, 4] -> y [N, 3] into on, check its
 * program, and run it on the two rows of x; NULL when it fails.
 */
static const float *
run_small(const Pb *m, OnnxNet *on, const char *ops, const float *x)
{
	size_t		nwork;
	float	   *work;
	const float *y;

	memset(&err, 0, sizeof(err));
	if (!onnx_import(m->p, m->len, NULL, on, &err))
	{
		unit_fail(__FILE__, __LINE__, err.msg);
		return NULL;
	}
	if (strcmp(ops_of(&on->net), ops) != 0)
	{
		unit_fail(__FILE__, __LINE__, ops);
		fprintf(stderr, "    got: %s\n", ops_of(&on->net));
	}
	CHECK(maas_net_workspace(&on->net, 2, 1, &nwork));
	work = maas_kalloc(sizeof(float) * nwork);
	y = maas_net_forward(&on->net, blas, 2, x, work);
	CHECK(y != NULL);
	return y;
}

/* x @ W + B at row r, column j, in double precision */
static double
small_s(const float *x, int r, int j)
{
	double		s = b3[j];

	for (int k = 0; k < 4; k++)
		s += (double) x[r * 4 + k] * w43[k * 3 + j];
	return s;
}

/* the byte-built model translates, runs and computes relu(x W + B) */
static void
test_small_relu(void)
{
	Pb			m = small_model("Relu", NULL, false);
	static const float x[8] = {1, -2, 0.5f, 3, -1, 0.25f, 2, -0.5f};
	OnnxNet		on;
	const float *y = run_small(&m, &on, "dense relu", x);

	if (y == NULL)
		return;
	CHECK(on.net.n_in == 4 && on.net.n_out == 3);
	for (int r = 0; r < 2; r++)
		for (int j = 0; j < 3; j++)
		{
			double		want = small_s(x, r, j);

			want = want > 0 ? want : 0;
			CHECK(fabs(y[r * 3 + j] - want) < 1e-5);
		}
}

/*
 * A gate of two run-time values and constants applied elementwise:
 * y = (s * sigmoid(s) - C) / D with s = x W + B; the gate is a mul layer,
 * the Sub and the Div by constants one affine layer.
 */
static void
test_small_gate(void)
{
	static const float c3[3] = {0.5f, -1, 2};
	static const float d3[3] = {2, 4, -0.5f};
	static const float x[8] = {1, -2, 0.5f, 3, -1, 0.25f, 2, -0.5f};
	Pb			g = pb_new();
	Pb			xv = mk_value("x", MAAS_ONNX_FLOAT, 2, dims_n4);
	Pb			yv = mk_value("y", MAAS_ONNX_FLOAT, 2, dims_n3);
	Pb			wt = mk_tensor("W", MAAS_ONNX_FLOAT, 2, dims_43, w43, sizeof(w43));
	Pb			bt = mk_tensor("B", MAAS_ONNX_FLOAT, 1, dims_3, b3, sizeof(b3));
	Pb			ct = mk_tensor("C", MAAS_ONNX_FLOAT, 1, dims_3, c3, sizeof(c3));
	Pb			dt = mk_tensor("D", MAAS_ONNX_FLOAT, 1, dims_3, d3, sizeof(d3));
	Pb			nodes[6] = {
		mk_node("MatMul", "mm", "x W", "h"),
		mk_node("Add", "add", "h B", "s"),
		mk_node("Sigmoid", "sig", "s", "g"),
		mk_node("Mul", "gate", "s g", "t"),
		mk_node("Sub", "sub", "t C", "u"),
		mk_node("Div", "div", "u D", "y"),
	};
	Pb			m;
	OnnxNet		on;
	const float *y;

	pb_str(&g, 2, "gate");
	pb_sub(&g, 11, &xv);
	pb_sub(&g, 5, &wt);
	pb_sub(&g, 5, &bt);
	pb_sub(&g, 5, &ct);
	pb_sub(&g, 5, &dt);
	for (int i = 0; i < 6; i++)
		pb_sub(&g, 1, &nodes[i]);
	pb_sub(&g, 12, &yv);
	m = mk_model(&g, 13);
	if ((y = run_small(&m, &on, "dense sigmoid mul affine", x)) == NULL)
		return;
	for (int r = 0; r < 2; r++)
		for (int j = 0; j < 3; j++)
		{
			double		sv = small_s(x, r, j);

			sv = (sv / (1 + exp(-sv)) - c3[j]) / d3[j];
			CHECK(fabs(y[r * 3 + j] - sv) < 1e-5);
		}
}

/* bytes that must be refused by the translator, with this message */
static void
check_refused(const Pb *m, const MaasOnnxTranslateOptions *opts, MaasStatus status,
			  const char *msg)
{
	OnnxNet		on;

	memset(&err, 0, sizeof(err));
	CHECK(!onnx_import(m->p, m->len, opts, &on, &err));
	CHECK(err.status == status);
	if (strcmp(err.msg, msg) != 0)
	{
		char		m2[600];

		snprintf(m2, sizeof(m2), "got \"%s\", want \"%s\"", err.msg, msg);
		unit_fail(__FILE__, __LINE__, m2);
	}
}

static void
test_refusals(void)
{
	Pb			m;
	Pb			a;
	MaasOnnxTranslateOptions opts;
	static const int64_t perm[2] = {1, 0};
	static const struct
	{
		const char *op;
		const char *ins;
		const char *outs;
		const char *msg;
	}			arity[] = {
		{"Gemm", "s", "y", "node 2 (Gemm \"last\"): Gemm takes 2 to 3 inputs, not 1"},
		{"Add", "s -", "y", "node 2 (Add \"last\"): Add takes 2 inputs, not 1"},
		{"Relu", "s s", "y", "node 2 (Relu \"last\"): Relu takes 1 input, not 2"},
		{"Where", "- s s", "y",
		"node 2 (Where \"last\"): the first input of Where is required, but its name is empty"},
		{"Concat", "", "y", "node 2 (Concat \"last\"): Concat takes at least 1 input, not 0"},
		{"Slice", "s", "y", "node 2 (Slice \"last\"): Slice takes 3 to 5 inputs, not 1"},
		{"Relu", "s", "y z", "node 2 (Relu \"last\"): Relu has 1 output, not 2"},
		{"BatchNormalization", "s W B", "y",
		"node 2 (BatchNormalization \"last\"): BatchNormalization takes 5 inputs, not 3"},
	};

	/* an operator maas does not know */
	m = small_model("Celu", NULL, false);
	check_refused(&m, NULL, MAAS_ERR_UNSUPPORTED, "node 2 (Celu \"last\"): operator \"Celu\" is not supported");
	CHECK(err.hint != NULL);

	/* an attribute the translator does not know */
	a = mk_attr_int("frobnicate", 1);
	m = small_model("Relu", &a, false);
	check_refused(&m, NULL, MAAS_ERR_UNSUPPORTED, "node 2 (Relu \"last\"): attribute \"frobnicate\" of Relu is not supported");

	/* an attribute value it does not translate: a softmax over the batch */
	a = mk_attr_int("axis", 0);
	m = small_model("Softmax", &a, false);
	check_refused(&m, NULL, MAAS_ERR_UNSUPPORTED, "node 2 (Softmax \"last\"): Softmax over axis 0 of \"s\" [batch, 3]: "
				  "maas normalizes over each vector (the axes after the batch)");

	/* a transpose that moves the batch axis */
	a = mk_attr_ints("perm", perm, 2, true);
	m = small_model("Transpose", &a, false);
	check_refused(&m, NULL, MAAS_ERR_UNSUPPORTED, "node 2 (Transpose \"last\"): Transpose of \"s\" [batch, 3] to [3, batch] "
				  "moves data between rows");

	/*
	 * Arity, checked before any op sees the node: too few or too many
	 * inputs (an omitted trailing one counts as not given), a required one
	 * omitted, too many outputs.  An omitted optional input is fine.
	 */
	for (int i = 0; i < (int) (sizeof(arity) / sizeof(arity[0])); i++)
	{
		m = build_small(arity[i].op, NULL, arity[i].ins, arity[i].outs, false);
		check_refused(&m, NULL, MAAS_ERR_INVALID, arity[i].msg);
	}
	{
		OnnxNet		on;

		/* Gemm's bias omitted (an empty name): a dense layer without one */
		m = build_small("Gemm", NULL, "x W -", "y", false);
		memset(&err, 0, sizeof(err));
		CHECK(onnx_import(m.p, m.len, NULL, &on, &err));
		CHECK(strcmp(ops_of(&on.net), "dense") == 0);
	}

	/* two graph outputs where one is served */
	m = small_model("Relu", NULL, true);
	check_refused(&m, NULL, MAAS_ERR_UNSUPPORTED,
				  "the graph has 2 outputs (\"y\", \"s\"); a model serves one");
	CHECK(err.hint != NULL && strstr(err.hint, "\"output\": \"y\"") != NULL);

	/* ... unless the one is named; a name that is no output is refused */
	memset(&opts, 0, sizeof(opts));
	opts.output = "s";
	{
		OnnxNet		on;

		memset(&err, 0, sizeof(err));
		CHECK(onnx_import(m.p, m.len, &opts, &on, &err));
		CHECK(strcmp(ops_of(&on.net), "dense") == 0);
	}
	opts.output = "nope";
	check_refused(&m, &opts, MAAS_ERR_INVALID, "the graph has no output \"nope\"");
}

/*
 * Inputs fuzz_onnx crashed the translator with (test/fixtures/onnx/fuzz/),
 * each now refused with its message.
 */
static void
test_fuzz_regressions(void)
{
	static const struct
	{
		const char *file;
		MaasStatus	status;
		const char *msg;
	}			cases[] = {
		/* an attribute string that is not UTF-8 was quoted in the message */
		{"fuzz/attr_not_utf8.onnx", MAAS_ERR_INVALID,
		"node 0 (MaxPool): attribute \"auto_pad\" is not valid UTF-8 text"},
		/* a Reshape to huge dimensions overflowed their product */
		{"fuzz/reshape_overflow.onnx", MAAS_ERR_UNSUPPORTED,
		"node 1 (Reshape): the shape has more elements than maas translates"},
	};

	for (int i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++)
	{
		size_t		len;
		uint8_t    *buf = fixture(cases[i].file, &len);
		OnnxNet		on;

		CHECK(buf != NULL);
		if (buf == NULL)
			continue;
		memset(&err, 0, sizeof(err));
		CHECK(!onnx_import(buf, len, NULL, &on, &err));
		CHECK(err.status == cases[i].status);
		if (strcmp(err.msg, cases[i].msg) != 0)
		{
			char		m2[700];

			snprintf(m2, sizeof(m2), "%s: got \"%s\", want \"%s\"", cases[i].file,
					 err.msg, cases[i].msg);
			unit_fail(__FILE__, __LINE__, m2);
		}
	}
}

/*
 * maas_onnx_write_weights: the bytes st_write writes, and an initializer
 * holding an infinity refused by name, wherever in its blocks it lies (the
 * check runs on each 64 KB block as it is copied).
 */
static void
test_write_weights(void)
{
	enum
	{
		N = 40000
	};
	float	   *a = calloc(N, sizeof(float));
	float	   *b = calloc(N, sizeof(float));
	int64_t		shape[1] = {N};
	StWriteTensor t[2] = {{"a", ST_F32, 1, shape, a}, {"b", ST_F32, 1, shape, b}};
	MaasOnnxImport imp;
	uint8_t    *mine;
	uint8_t    *ref;
	size_t		mine_len;
	size_t		ref_len;

	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	for (int i = 0; i < N; i++)
	{
		a[i] = (float) i - 7.5f;
		b[i] = 1.0f / ((float) i + 1.0f);
	}
	memset(&imp, 0, sizeof(imp));
	imp.tensors = t;
	imp.n_tensors = 2;
	mine = maas_onnx_write_weights(&imp, &mine_len, &err);
	ref = st_write(t, 2, NULL, NULL, 0, &ref_len, &err);
	CHECK(mine != NULL && ref != NULL);
	CHECK(mine != NULL && ref != NULL && mine_len == ref_len &&
		  memcmp(mine, ref, ref_len) == 0);

	b[N - 1] = INFINITY;		/* in the last, short block of b */
	CHECK_ERR(maas_onnx_write_weights(&imp, &mine_len, &err) != NULL, err.msg,
			  "initializer \"b\" holds NaN or infinite values");
	CHECK(err.status == MAAS_ERR_INVALID);
	b[N - 1] = 0.5f;
	a[20000] = NAN;				/* in the second block of a */
	CHECK_ERR(maas_onnx_write_weights(&imp, &mine_len, &err) != NULL, err.msg,
			  "initializer \"a\" holds NaN or infinite values");
	free(a);
	free(b);
}

int
main(void)
{
	char		msg[256];

	blas = maas_blas_load(NULL, 1, msg, sizeof(msg));
	if (blas == NULL)
	{
		fprintf(stderr, "cannot load BLAS: %s\n", msg);
		return 1;
	}
	UNIT_RUN(test_feature_models);
	UNIT_RUN(test_gpt2);
	UNIT_RUN(test_bert);
	UNIT_RUN(test_small_relu);
	UNIT_RUN(test_small_gate);
	UNIT_RUN(test_refusals);
	UNIT_RUN(test_fuzz_regressions);
	UNIT_RUN(test_write_weights);
	return unit_finish("onnx_translate");
}
