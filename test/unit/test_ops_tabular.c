/*
 * test_ops_tabular.c
 *		Unit tests of the runtime's "trees" and "kmeans" layers
 *		(ops_tabular.c): XGBoost's own models, written as the tensors of
 *		trees.h and built from a layer config, give XGBoost's predictions
 *		within 1e-5 through maas_net_run, batch and row by row; damaged
 *		tensors are refused when the net is built, with their message;
 *		k-means distances equal hand-computed ones.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_data.h"
#include "net_build.h"
#include "safetensors.h"
#include "trees.h"
#include "unit.h"

static const MaasBlas *blas;

/* the tensors of a trees form under prefix "trees", as a safetensors file */
static uint8_t *
write_trees(const MaasTrees *t, size_t *len)
{
	static int64_t s_trees[1],
				s_nodes[1],
				s_groups[1];
	StWriteTensor w[9];
	const char *names[9] = {"trees.roots", "trees.groups", "trees.base_score",
		"trees.feature", "trees.threshold", "trees.left", "trees.right",
	"trees.default_left", "trees.value"};
	const void *data[9] = {t->roots, t->groups, t->base_score, t->feature,
		t->threshold, t->left, t->right, t->default_left, t->value};
	StDtype		dt[9] = {ST_I32, ST_I32, ST_F32, ST_I32, ST_F32, ST_I32, ST_I32,
	ST_U8, ST_F32};
	const int64_t *shape[9] = {s_trees, s_trees, s_groups, s_nodes, s_nodes, s_nodes,
	s_nodes, s_nodes, s_nodes};
	MaasError	err;
	uint8_t    *buf;

	s_trees[0] = t->n_trees;
	s_nodes[0] = t->n_nodes;
	s_groups[0] = t->n_groups;
	for (int i = 0; i < 9; i++)
	{
		w[i].name = names[i];
		w[i].dtype = dt[i];
		w[i].ndim = 1;
		w[i].shape = shape[i];
		w[i].data = data[i];
	}
	buf = st_write(w, 9, NULL, NULL, 0, len, &err);
	CHECK(buf != NULL);
	return buf;
}

/* build the net config over the weights; NULL with err set */
static MaasNet *
build(const char *config, const uint8_t *buf, size_t len, MaasError *err)
{
	StFile	   *f = maas_kalloc(sizeof(StFile));
	MaasJson   *c;
	MaasNet    *net = maas_kalloc(sizeof(MaasNet));

	if (!st_parse(buf, len, f, err))
		return NULL;
	c = maas_json_parse(config, strlen(config), 0, NULL, err);
	CHECK(c != NULL);
	if (c == NULL || !maas_net_build(net, c, f, true, err))
		return NULL;
	return net;
}

static const float *
run(const MaasNet *net, int n, const float *x)
{
	size_t		nf;
	float	   *work;
	MaasBatch	b;
	MaasError	err;

	CHECK(maas_net_workspace(net, n, 1, &nf));
	work = maas_kalloc(sizeof(float) * (nf > 0 ? nf : 1));
	memset(&b, 0, sizeof(b));
	b.n = n;
	b.t = 1;
	b.x = x;
	return maas_net_run(net, blas, &b, 0, work, &err);
}

/* an XGBoost fixture through trees + its transform layer */
static void
check_fixture(const char *model, const char *rows, const char *transform, int groups)
{
	size_t		len;
	char	   *text = fx_read(model, &len);
	MaasXgbModel m;
	MaasError	err;
	FxTable		t;
	uint8_t    *buf;
	size_t		blen;
	char		config[512];
	MaasNet    *net;
	float	   *x;
	const float *out;
	int			d,
				want_col;
	double		worst = 0.0;

	CHECK(text != NULL && maas_xgb_read(text, len, NULL, &m, &err));
	if (text == NULL || err.status != MAAS_OK)
		return;
	CHECK(m.trees.n_groups == groups);
	CHECK(fx_load_table(rows, &t));
	d = m.trees.n_features;
	want_col = fx_column(&t, transform ? "proba" : "value");
	CHECK(want_col == d || (transform && want_col == d + groups));
	buf = write_trees(&m.trees, &blen);
	snprintf(config, sizeof(config),
			 "{\"n_features\": %d, \"layers\": [{\"op\": \"trees\", \"name\": \"margins\"}%s%s%s]}",
			 d, transform ? ", {\"op\": \"" : "", transform ? transform : "",
			 transform ? "\"}" : "");
	net = build(config, buf, blen, &err);
	CHECK(net != NULL);
	if (net == NULL)
	{
		fprintf(stderr, "    %s: %s\n", model, err.msg);
		return;
	}
	CHECK(net->n_out == groups);
	x = maas_kalloc(sizeof(float) * t.n_rows * d);
	for (int64_t r = 0; r < t.n_rows; r++)
		memcpy(x + r * d, t.v + r * t.n_cols, sizeof(float) * d);
	out = run(net, (int) t.n_rows, x);
	CHECK(out != NULL);
	for (int64_t r = 0; out && r < t.n_rows; r++)
	{
		const float *want = t.v + r * t.n_cols + want_col;
		const float *one = run(net, 1, x + r * d);

		for (int g = 0; g < groups; g++)
		{
			worst = fmax(worst, fabs(out[r * groups + g] - want[g]) /
						 (transform ? 1.0 : fmax(1.0, fabs(want[g]))));
			/* one row alone gives the batch's answer */
			CHECK(one != NULL && one[g] == out[r * groups + g]);
		}
	}
	if (worst > 1e-5)
		fprintf(stderr, "    %s: largest difference %g\n", model, worst);
	CHECK(worst <= 1e-5);
	CHECK(t.n_rows >= 20);
}

static void
test_xgboost_models(void)
{
	check_fixture("xgb_cancer.json", "xgb_cancer_test.csv", "sigmoid", 1);
	check_fixture("xgb_iris.json", "xgb_iris_test.csv", "softmax", 3);
	check_fixture("xgb_diabetes.json", "xgb_diabetes_test.csv", NULL, 1);
}

/*
 * A hand-made ensemble over 2 features, 2 groups:
 *	tree 0 (group 0): x0 < 1 (missing left) ? 1 : 2
 *	tree 1 (group 1): x1 < 0 (missing right) ? -1 : (x0 < 5 ? 10 : 20)
 *	tree 2 (group 0): a single leaf 0.5
 * base scores 0.25 and -0.25.
 */
static int32_t h_roots[] = {0, 3, 8};
static int32_t h_groups[] = {0, 1, 0};
static float h_base[] = {0.25f, -0.25f};
static int32_t h_feature[] = {0, -1, -1, 1, -1, 0, -1, -1, -1};
static float h_threshold[] = {1, 0, 0, 0, 0, 5, 0, 0, 0};
static int32_t h_left[] = {1, -1, -1, 4, -1, 6, -1, -1, -1};
static int32_t h_right[] = {2, -1, -1, 5, -1, 7, -1, -1, -1};
static uint8_t h_default_left[] = {1, 0, 0, 0, 0, 0, 0, 0, 0};
static float h_value[] = {0, 1, 2, 0, -1, 0, 10, 20, 0.5f};

static MaasTrees
hand_trees(void)
{
	MaasTrees	t = {
		.n_features = 2, .n_groups = 2, .n_trees = 3, .n_nodes = 9,
		.roots = h_roots, .groups = h_groups, .base_score = h_base,
		.feature = h_feature, .threshold = h_threshold, .left = h_left,
		.right = h_right, .default_left = h_default_left, .value = h_value,
	};

	return t;
}

#define HAND_CONFIG "{\"n_features\": 2, \"layers\": [{\"op\": \"trees\"}]}"

static void
test_hand_trees(void)
{
	MaasTrees	t = hand_trees();
	size_t		len;
	uint8_t    *buf = write_trees(&t, &len);
	MaasError	err;
	MaasNet    *net = build(HAND_CONFIG, buf, len, &err);
	float		x[] = {0, 0, 3, -1, NAN, NAN, 7, 2};
	float		want[] = {
		0.25f + 1 + 0.5f, -0.25f + 10,
		0.25f + 2 + 0.5f, -0.25f - 1,
		0.25f + 1 + 0.5f, -0.25f + 20,	/* x0 missing: left; x1 missing: right */
		0.25f + 2 + 0.5f, -0.25f + 20,
	};
	const float *out;

	CHECK(net != NULL);
	if (net == NULL)
		return;
	CHECK(net->n_out == 2 && maas_net_value_op(net, 1) == MAAS_OP_TREES);
	out = run(net, 4, x);
	CHECK(out != NULL);
	for (int i = 0; out && i < 8; i++)
		CHECK(out[i] == want[i]);
}

/* the hand-made trees with one array changed; the build error */
static void
check_damage(void (*damage) (MaasTrees *, int32_t *, int32_t *, float *),
			 const char *config, const char *fragment)
{
	MaasTrees	t = hand_trees();
	int32_t		left[9],
				right[9];
	float		value[9];
	size_t		len;
	uint8_t    *buf;
	MaasError	err;

	memcpy(left, h_left, sizeof(left));
	memcpy(right, h_right, sizeof(right));
	memcpy(value, h_value, sizeof(value));
	t.left = left;
	t.right = right;
	t.value = value;
	damage(&t, left, right, value);
	buf = write_trees(&t, &len);
	if (build(config, buf, len, &err) != NULL || strstr(err.msg, fragment) == NULL)
	{
		unit_fail(__FILE__, __LINE__, fragment);
		fprintf(stderr, "    got: %s\n", err.msg);
	}
	arena_reset();
}

static void
d_cycle(MaasTrees *t, int32_t *l, int32_t *r, float *v)
{
	(void) t, (void) r, (void) v;
	l[5] = 3;					/* back to the tree's root */
}

static void
d_out_of_range(MaasTrees *t, int32_t *l, int32_t *r, float *v)
{
	(void) t, (void) l, (void) v;
	r[0] = 9;
}

static void
d_other_tree(MaasTrees *t, int32_t *l, int32_t *r, float *v)
{
	(void) t, (void) r, (void) v;
	l[3] = 1;					/* into tree 0 */
}

static void
d_nan_leaf(MaasTrees *t, int32_t *l, int32_t *r, float *v)
{
	(void) t, (void) l, (void) r;
	v[7] = NAN;					/* tree 1's leaf 20 */
}

static void
d_fewer_roots(MaasTrees *t, int32_t *l, int32_t *r, float *v)
{
	(void) l, (void) r, (void) v;
	t->n_trees = 2;				/* roots and groups of 2, nodes of tree 2 orphaned */
}

static void
d_none(MaasTrees *t, int32_t *l, int32_t *r, float *v)
{
	(void) t, (void) l, (void) r, (void) v;
}

static void
test_damage(void)
{
	MaasError	err;

	/* node numbers in messages count from the tree's root */
	check_damage(d_cycle, HAND_CONFIG,
				 "Layer 1 (trees): tree 1 node 2: children 0 and 4 are not two distinct nodes after it in its tree.");
	check_damage(d_out_of_range, HAND_CONFIG, "Layer 1 (trees): tree 0 node 0");
	check_damage(d_other_tree, HAND_CONFIG,
				 "Layer 1 (trees): tree 1 node 0: children -2 and 2 are not two distinct nodes after it in its tree.");
	check_damage(d_nan_leaf, HAND_CONFIG, "Layer 1 (trees): tree 1 node 4: value is not finite.");
	check_damage(d_fewer_roots, HAND_CONFIG, "Layer 1 (trees)");
	/* a model over more features than the rows have */
	check_damage(d_none, "{\"n_features\": 1, \"layers\": [{\"op\": \"trees\"}]}",
				 "Layer 1 (trees): tree 1 node 0: split feature 1 is out of range (0 to 0).");
	/* tensors under another prefix, or missing */
	check_damage(d_none, "{\"n_features\": 2, \"layers\": [{\"op\": \"trees\", \"tensors\": \"gbm\"}]}",
				 "Layer 1 (trees) names tensor \"gbm.roots\", which is not in the weights.");

	/* a tensor of the wrong dtype or length */
	{
		int64_t		s3[1] = {3},
					s9[1] = {9},
					s2[1] = {2},
					s8[1] = {8};
		float		froots[3] = {0, 3, 8};
		StWriteTensor w[9] = {
			{"trees.roots", ST_F32, 1, s3, froots},
			{"trees.groups", ST_I32, 1, s3, h_groups},
			{"trees.base_score", ST_F32, 1, s2, h_base},
			{"trees.feature", ST_I32, 1, s9, h_feature},
			{"trees.threshold", ST_F32, 1, s9, h_threshold},
			{"trees.left", ST_I32, 1, s9, h_left},
			{"trees.right", ST_I32, 1, s9, h_right},
			{"trees.default_left", ST_U8, 1, s9, h_default_left},
			{"trees.value", ST_F32, 1, s9, h_value},
		};
		size_t		len;
		uint8_t    *buf = st_write(w, 9, NULL, NULL, 0, &len, &err);

		CHECK_ERR(build(HAND_CONFIG, buf, len, &err) != NULL, err.msg,
				  "Layer 1 (trees): tensor \"trees.roots\" must be I32 1-D, not F32 [3].");
		w[0].dtype = ST_I32;
		w[0].data = h_roots;
		w[8].shape = s8;
		buf = st_write(w, 9, NULL, NULL, 0, &len, &err);
		CHECK_ERR(build(HAND_CONFIG, buf, len, &err) != NULL, err.msg,
				  "Layer 1 (trees): tensor \"trees.value\" must be F32 [9], not F32 [8].");
		arena_reset();
	}
}

/* ---- kmeans ---- */

static void
test_kmeans(void)
{
	float		centers[] = {0, 0, 3, 4, -1, 1};
	int64_t		shape[2] = {3, 2};
	StWriteTensor w[1] = {{"kmeans.centers", ST_F32, 2, shape, centers}};
	size_t		len;
	MaasError	err;
	uint8_t    *buf = st_write(w, 1, NULL, NULL, 0, &len, &err);
	MaasNet    *net = build("{\"n_features\": 2, \"layers\": [{\"op\": \"kmeans\"}]}",
							buf, len, &err);
	float		x[] = {0, 0, 3, 0, 3, 4};
	const float *out;

	CHECK(net != NULL && net->n_out == 3);
	if (net == NULL)
		return;
	out = run(net, 3, x);
	CHECK(out != NULL);
	if (out)
	{
		float		want[] = {0, 5, sqrtf(2), 3, 4, sqrtf(17), 5, 0, sqrtf(25)};

		for (int i = 0; i < 9; i++)
			CHECK(fabsf(out[i] - want[i]) < 1e-6f);
	}
	/* a batch equals its rows one at a time */
	for (int r = 0; out && r < 3; r++)
	{
		const float *one = run(net, 1, x + 2 * r);

		for (int j = 0; j < 3; j++)
			CHECK(one != NULL && one[j] == out[r * 3 + j]);
	}

	CHECK_ERR(build("{\"n_features\": 3, \"layers\": [{\"op\": \"kmeans\"}]}", buf, len, &err) != NULL,
			  err.msg, "Layer 1 (kmeans) needs tensor \"kmeans.centers\" of shape [3, 3], but it has shape [3, 2].");
	CHECK_ERR(build("{\"n_features\": 2, \"layers\": [{\"op\": \"kmeans\", \"centers\": \"c\"}]}",
					buf, len, &err) != NULL,
			  err.msg, "Layer 1 (kmeans) names tensor \"c\", which is not in the weights.");
	arena_reset();
}

int
main(void)
{
	char		err[256];

	blas = maas_blas_load(NULL, 1, err, sizeof(err));
	if (blas == NULL)
	{
		fprintf(stderr, "cannot load BLAS: %s\n", err);
		return 1;
	}
	UNIT_RUN(test_xgboost_models);
	UNIT_RUN(test_hand_trees);
	UNIT_RUN(test_damage);
	UNIT_RUN(test_kmeans);
	return unit_finish("ops_tabular");
}
