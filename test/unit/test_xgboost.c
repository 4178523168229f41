/*
 * test_xgboost.c
 *		Unit tests of the XGBoost JSON reader (xgboost_json.c): the models
 *		of test/fixtures/xgb_*.json give XGBoost's own predictions within
 *		1e-5; hand-written models with renumbered and deleted nodes, dart
 *		weights and every base_score spelling; every kind of bad document
 *		with its exact message; out of memory at every allocation.
 *
 * Run without arguments to test.  "test_xgboost --corpus DIR" writes seed
 * inputs for fuzz_xgboost, "--dict FILE" a libFuzzer dictionary.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture_data.h"
#include "trees.h"
#include "unit.h"

/* ---- a small model to start from ---- */

#define TREE0 \
	"{\"tree_param\":{\"num_nodes\":\"3\",\"num_feature\":\"2\",\"num_deleted\":\"0\"," \
	"\"size_leaf_vector\":\"0\"},\"id\":0,\"left_children\":[1,-1,-1]," \
	"\"right_children\":[2,-1,-1],\"parents\":[2147483647,0,0],\"split_indices\":[0,0,0]," \
	"\"split_conditions\":[0.5,-0.25,0.75],\"default_left\":[1,0,0],\"split_type\":[0,0,0]," \
	"\"loss_changes\":[3.5,0,0],\"sum_hessian\":[10,4,6],\"base_weights\":[0,-0.5,0.5]," \
	"\"categories\":[],\"categories_nodes\":[],\"categories_segments\":[],\"categories_sizes\":[]}"

/* x1 < 1 (missing right) ? 0.1 : (x0 < 2 (missing left) ? -0.2 : 0.3) */
#define TREE1 \
	"{\"tree_param\":{\"num_nodes\":\"5\",\"num_feature\":\"2\",\"num_deleted\":\"0\"," \
	"\"size_leaf_vector\":\"0\"},\"id\":1,\"left_children\":[1,-1,3,-1,-1]," \
	"\"right_children\":[2,-1,4,-1,-1],\"parents\":[2147483647,0,0,2,2]," \
	"\"split_indices\":[1,0,0,0,0],\"split_conditions\":[1.0,0.1,2.0,-0.2,0.3]," \
	"\"default_left\":[0,0,1,0,0],\"split_type\":[0,0,0,0,0]," \
	"\"loss_changes\":[2.0,0,1.5,0,0],\"sum_hessian\":[10,3,7,4,3]," \
	"\"base_weights\":[0,0,0,0,0],\"categories\":[],\"categories_nodes\":[]," \
	"\"categories_segments\":[],\"categories_sizes\":[]}"

#define MODEL(objective, num_class, base, trees, ntrees, tree_info) \
	"{\"learner\":{\"attributes\":{\"best_iteration\":\"1\"},\"feature_names\":[]," \
	"\"feature_types\":[],\"gradient_booster\":{\"model\":{\"gbtree_model_param\":" \
	"{\"num_parallel_tree\":\"1\",\"num_trees\":\"" ntrees "\",\"size_leaf_vector\":\"0\"}," \
	"\"tree_info\":" tree_info ",\"trees\":[" trees "]},\"name\":\"gbtree\"}," \
	"\"learner_model_param\":{\"base_score\":\"" base "\",\"boost_from_average\":\"1\"," \
	"\"num_class\":\"" num_class "\",\"num_feature\":\"2\",\"num_target\":\"1\"}," \
	"\"objective\":{\"name\":\"" objective "\",\"reg_loss_param\":{\"scale_pos_weight\":\"1\"}}}," \
	"\"version\":[1,7,4]}"

static const char base_model[] =
	MODEL("binary:logistic", "0", "5E-1", TREE0 "," TREE1, "2", "[0,0]");

/* base with the first occurrence of from replaced by to (arena memory) */
static char *
mutate(const char *base, const char *from, const char *to)
{
	const char *at = strstr(base, from);
	size_t		len = strlen(base) - strlen(from) + strlen(to);
	char	   *out = maas_kalloc(len + 1);

	if (at == NULL)
	{
		fprintf(stderr, "    mutate: \"%s\" not found\n", from);
		return NULL;
	}
	memcpy(out, base, at - base);
	strcpy(out + (at - base), to);
	strcat(out, at + strlen(from));
	return out;
}

static bool
read_text(const char *text, MaasXgbModel *m, MaasError *err)
{
	return maas_xgb_read(text, strlen(text), NULL, m, err);
}

static float
predict1(const MaasXgbModel *m, float x0, float x1)
{
	MaasError	err;
	MaasTreesPlan *p = maas_trees_compile(&m->trees, &err);
	float		x[2] = {x0, x1};
	float		out = NAN;

	if (p == NULL)
		return NAN;
	maas_trees_forward(p, 1, x, &out);
	return out;
}

static void
test_base_model(void)
{
	MaasXgbModel m;
	MaasError	err;

	CHECK(read_text(base_model, &m, &err));
	CHECK(strcmp(m.objective, "binary:logistic") == 0);
	CHECK(m.transform == MAAS_TREES_LOGISTIC && m.classification && m.n_classes == 2);
	CHECK(m.trees.n_trees == 2 && m.trees.n_nodes == 8 && m.trees.n_groups == 1);
	CHECK(m.trees.n_features == 2 && m.n_rounds == 2 && m.best_iteration == 1);
	CHECK(m.base_score == 0.5 && m.trees.base_score[0] == 0.0f);
	CHECK(m.feature_names == NULL);
	CHECK(fabsf(predict1(&m, 0.0f, 0.0f) - (-0.15f)) < 1e-7f);
	CHECK(fabsf(predict1(&m, 3.0f, 5.0f) - 1.05f) < 1e-7f);
	CHECK(fabsf(predict1(&m, NAN, NAN) - (-0.45f)) < 1e-7f);
	CHECK(fabsf(predict1(&m, 1.0f, NAN) - (0.75f - 0.2f)) < 1e-7f);
	/* gain and cover come along, leaves have no gain */
	CHECK(m.trees.gain[0] == 3.5f && m.trees.gain[1] == 0.0f && m.trees.cover[2] == 6.0f);
	{
		MaasImportance imp[2];

		maas_trees_importance(&m.trees, imp);
		CHECK(imp[0].weight == 2 && imp[0].total_gain == 5.0 && imp[0].gain == 2.5);
		CHECK(imp[1].weight == 1 && imp[1].total_gain == 2.0 && imp[1].cover == 10.0);
	}
}

static void
test_base_score_spellings(void)
{
	MaasXgbModel m;
	MaasError	err;
	const char *objectives[] = {"reg:squarederror", "reg:linear", "reg:absoluteerror",
	"reg:pseudohubererror", "reg:squaredlogerror"};

	/* 2.x writes a vector */
	CHECK(read_text(mutate(base_model, "\"5E-1\"", "\"[2.5E-1]\""), &m, &err));
	CHECK(fabsf(m.trees.base_score[0] - (-logf(1.0f / 0.25f - 1.0f))) < 1e-7f);
	/* a plain number */
	CHECK(read_text(mutate(base_model, "\"5E-1\"", "0.75"), &m, &err));
	CHECK(fabsf(m.trees.base_score[0] - logf(3.0f)) < 1e-6f);
	/* regression objectives take base_score as the margin */
	for (int i = 0; i < 5; i++)
	{
		char	   *t = mutate(base_model, "binary:logistic", objectives[i]);

		t = mutate(t, "\"5E-1\"", "\"1.5E2\"");
		CHECK(read_text(t, &m, &err));
		CHECK(m.transform == MAAS_TREES_REGRESSION && !m.classification && m.n_classes == 0);
		CHECK(m.trees.base_score[0] == 150.0f);
		CHECK(fabsf(predict1(&m, 0.0f, 0.0f) - 149.85f) < 1e-4f);
	}
	/* reg:logistic: sigmoid, but regression */
	CHECK(read_text(mutate(base_model, "binary:logistic", "reg:logistic"), &m, &err));
	CHECK(m.transform == MAAS_TREES_LOGISTIC && !m.classification);
	/* no base_score at all: 0.5 */
	CHECK(read_text(mutate(base_model, "\"base_score\":\"5E-1\",", ""), &m, &err));
	CHECK(m.base_score == 0.5);
}

static void
test_multiclass(void)
{
	MaasXgbModel m;
	MaasError	err;
	static const char multi[] =
		MODEL("multi:softprob", "3", "5E-1", TREE0 "," TREE1 "," TREE0 "," TREE1 "," TREE0 "," TREE1,
			  "6", "[0,1,2,0,1,2]");
	MaasTreesPlan *p;
	float		x[2] = {0.0f, 0.0f};
	float		out[3];

	CHECK(read_text(multi, &m, &err));
	CHECK(m.transform == MAAS_TREES_SOFTMAX && m.n_classes == 3 && m.trees.n_groups == 3);
	CHECK(m.n_rounds == 2);
	/* multi: every class starts from base_score itself */
	CHECK(m.trees.base_score[0] == 0.5f && m.trees.base_score[2] == 0.5f);
	p = maas_trees_compile(&m.trees, &err);
	CHECK(p != NULL);
	maas_trees_forward(p, 1, x, out);
	/* group 0: trees 0 and 3 = TREE0 + TREE1; group 1: TREE1 + TREE0 */
	CHECK(fabsf(out[0] - (0.5f - 0.25f + 0.1f)) < 1e-7f);
	CHECK(fabsf(out[1] - (0.5f + 0.1f - 0.25f)) < 1e-7f);
	CHECK(fabsf(out[2] - (0.5f - 0.25f + 0.1f)) < 1e-7f);
	CHECK(read_text(mutate(multi, "multi:softprob", "multi:softmax"), &m, &err));
	CHECK(m.transform == MAAS_TREES_SOFTMAX);
}

static void
test_renumbered_and_deleted(void)
{
	MaasXgbModel m;
	MaasError	err;

	/* TREE1 numbered with children before their parent: 0 -> (4, 1), 1 -> (2, 3) */
	static const char renum[] =
		MODEL("binary:logistic", "0", "5E-1",
			  "{\"tree_param\":{\"num_nodes\":\"5\"},\"left_children\":[4,2,-1,-1,-1],"
			  "\"right_children\":[1,3,-1,-1,-1],\"split_indices\":[1,0,0,0,0],"
			  "\"split_conditions\":[1.0,2.0,-0.2,0.3,0.1],\"default_left\":[0,1,0,0,0]}",
			  "1", "[0]");

	/* TREE0 with two deleted nodes after it that nothing points to */
	static const char deleted[] =
		MODEL("binary:logistic", "0", "5E-1",
			  "{\"tree_param\":{\"num_nodes\":\"5\"},\"left_children\":[1,-1,-1,-1,-1],"
			  "\"right_children\":[2,-1,-1,-1,-1],\"split_indices\":[0,0,0,0,0],"
			  "\"split_conditions\":[0.5,-0.25,0.75,9,9],\"default_left\":[1,0,0,0,0]}",
			  "1", "[0]");

	CHECK(read_text(renum, &m, &err));
	CHECK(m.trees.n_nodes == 5);
	CHECK(fabsf(predict1(&m, 0.0f, 0.0f) - 0.1f) < 1e-7f);
	CHECK(fabsf(predict1(&m, 1.0f, 5.0f) - (-0.2f)) < 1e-7f);
	CHECK(fabsf(predict1(&m, NAN, 5.0f) - (-0.2f)) < 1e-7f);
	CHECK(fabsf(predict1(&m, 3.0f, NAN) - 0.3f) < 1e-7f);
	/* depth-first: children after parents */
	for (int i = 0; i < m.trees.n_nodes; i++)
		CHECK(m.trees.left[i] == -1 || (m.trees.left[i] > i && m.trees.right[i] > i));
	/* no gain or cover in the file: zeros */
	CHECK(m.trees.gain[0] == 0.0f && m.trees.cover[0] == 0.0f);

	CHECK(read_text(deleted, &m, &err));
	CHECK(m.trees.n_nodes == 3);
	CHECK(predict1(&m, 0.0f, 0.0f) == -0.25f && predict1(&m, 1.0f, 0.0f) == 0.75f);
}

static void
test_dart(void)
{
	MaasXgbModel m;
	MaasError	err;
	static const char dart[] =
		"{\"learner\":{\"gradient_booster\":{\"gbtree\":{\"model\":{\"gbtree_model_param\":"
		"{\"num_trees\":\"2\"},\"tree_info\":[0,0],\"trees\":[" TREE0 "," TREE1 "]},"
		"\"name\":\"gbtree\"},\"name\":\"dart\",\"weight_drop\":[0.5,2.0]},"
		"\"learner_model_param\":{\"base_score\":\"0\",\"num_class\":\"0\",\"num_feature\":\"2\"},"
		"\"objective\":{\"name\":\"reg:squarederror\"}}}";

	CHECK(read_text(dart, &m, &err));
	CHECK(fabsf(predict1(&m, 0.0f, 0.0f) - (-0.125f + 0.2f)) < 1e-7f);
	CHECK(fabsf(predict1(&m, 3.0f, 5.0f) - (0.375f + 0.6f)) < 1e-7f);
	CHECK_ERR(read_text(mutate(dart, "[0.5,2.0]", "[0.5]"), &m, &err), err.msg,
			  "\"weight_drop\" has 1 entries, expected 2");
}

/* ---- bad documents ---- */

static void
test_errors(void)
{
	static const struct
	{
		const char *from;
		const char *to;
		MaasStatus	status;
		const char *msg;
	}			cases[] = {
		{"binary:logistic", "count:poisson", MAAS_ERR_UNSUPPORTED,
		"XGBoost objective \"count:poisson\" is not supported"},
		{"binary:logistic", "rank:pairwise", MAAS_ERR_UNSUPPORTED, "\"rank:pairwise\" is not supported"},
		{"\"name\":\"gbtree\"", "\"name\":\"gblinear\"", MAAS_ERR_UNSUPPORTED,
		"XGBoost booster \"gblinear\" is not supported (only gbtree and dart)"},
		{"\"left_children\":[1,-1,-1]", "\"left_children\":[7,-1,-1]", MAAS_ERR_INVALID,
		"tree 0: child 7 of node 0 is out of range (the tree has 3 nodes)"},
		{"\"left_children\":[1,-1,-1]", "\"left_children\":[\"1\",-1,-1]", MAAS_ERR_INVALID,
		"tree 0: child of node 0 is not a node index"},
		{"\"left_children\":[1,-1,-1]", "\"left_children\":[-2,-1,-1]", MAAS_ERR_INVALID,
		"tree 0: child of node 0 is not a node index"},
		{"\"left_children\":[1,-1,-1]", "\"left_children\":[1.5,-1,-1]", MAAS_ERR_INVALID,
		"tree 0: child of node 0 is not a node index"},
		{"\"left_children\":[1,-1,-1]", "\"left_children\":[1,-1]", MAAS_ERR_INVALID,
		"\"left_children\" in tree 0 has 2 entries, expected 3"},
		{"\"left_children\":[1,-1,-1]", "\"left_children\":{}", MAAS_ERR_INVALID,
		"\"left_children\" in tree 0 is object, not array"},
		{"\"left_children\":[1,-1,-1]", "\"left_children\":[-1,-1,-1]", MAAS_ERR_INVALID,
		"tree 0: node 0 has one child"},
		{"\"left_children\":[1,-1,3,-1,-1]", "\"left_children\":[1,-1,0,-1,-1]", MAAS_ERR_INVALID,
		"tree 1: node 0 is reached twice"},
		{"\"left_children\":[1,-1,3,-1,-1]", "\"left_children\":[1,-1,1,-1,-1]", MAAS_ERR_INVALID,
		"tree 1: node 1 is reached twice"},
		{"\"left_children\":[1,-1,3,-1,-1]", "\"left_children\":[1,-1,4,-1,-1]", MAAS_ERR_INVALID,
		"tree 1: node 4 is reached twice"},
		{"\"split_indices\":[0,0,0]", "\"split_indices\":[2,0,0]", MAAS_ERR_INVALID,
		"tree 0: split feature of node 0 is out of range (0 to 1)"},
		{"\"split_indices\":[0,0,0]", "\"split_indices\":[-1,0,0]", MAAS_ERR_INVALID,
		"tree 0: split feature of node 0 is out of range"},
		{"\"split_conditions\":[0.5,", "\"split_conditions\":[1e39,", MAAS_ERR_INVALID,
		"tree 0: split condition of node 0 is not a finite number"},
		{"\"split_conditions\":[0.5,", "\"split_conditions\":[null,", MAAS_ERR_INVALID,
		"tree 0: split condition of node 0 is not a finite number"},
		{"\"default_left\":[1,0,0]", "\"default_left\":[2,0,0]", MAAS_ERR_INVALID,
		"tree 0: default_left of node 0 is not 0 or 1"},
		{"\"default_left\":[1,0,0]", "\"default_left\":[true,false,false]", MAAS_OK, ""},
		{"\"split_type\":[0,0,0]", "\"split_type\":[1,0,0]", MAAS_ERR_UNSUPPORTED,
		"tree 0: categorical splits are not supported"},
		{"\"categories_nodes\":[]", "\"categories_nodes\":[0]", MAAS_ERR_UNSUPPORTED,
		"tree 0: categorical splits are not supported"},
		{"\"feature_types\":[]", "\"feature_types\":[\"q\",\"c\"]", MAAS_ERR_UNSUPPORTED,
		"XGBoost models with categorical features are not supported"},
		{"\"loss_changes\":[3.5,0,0]", "\"loss_changes\":[3.5,0]", MAAS_ERR_INVALID,
		"\"loss_changes\" in tree 0 has 2 entries, expected 3"},
		{"\"sum_hessian\":[10,4,6]", "\"sum_hessian\":[10,\"4\",6]", MAAS_ERR_INVALID,
		"tree 0: hessian sum of node 1 is not a finite number"},
		{"\"num_nodes\":\"3\"", "\"num_nodes\":\"x\"", MAAS_ERR_INVALID,
		"\"num_nodes\" in tree 0 is not a number: \"x\""},
		{"\"num_nodes\":\"3\"", "\"num_nodes\":\"0\"", MAAS_ERR_INVALID,
		"\"num_nodes\" in tree 0 is 0, expected a whole number from 1 to"},
		{"\"num_nodes\":\"3\"", "\"num_nodes\":\"4\"", MAAS_ERR_INVALID,
		"\"left_children\" in tree 0 has 3 entries, expected 4"},
		{"\"tree_info\":[0,0]", "\"tree_info\":[0,1]", MAAS_ERR_INVALID,
		"tree_info of tree 1 is not a group from 0 to 0"},
		{"\"tree_info\":[0,0]", "\"tree_info\":[0]", MAAS_ERR_INVALID,
		"\"tree_info\" in the booster model has 1 entries, expected 2"},
		{"\"num_trees\":\"2\"", "\"num_trees\":\"3\"", MAAS_ERR_INVALID,
		"the model has 2 trees but num_trees says 3"},
		{"\"5E-1\"", "\"1.5E0\"", MAAS_ERR_INVALID,
		"base_score 1.5 is not between 0 and 1, as objective \"binary:logistic\" needs"},
		{"\"5E-1\"", "\"abc\"", MAAS_ERR_INVALID,
		"\"base_score\" in learner_model_param is not a number: \"abc\""},
		{"\"5E-1\"", "\"5E-1 \"", MAAS_ERR_INVALID, "is not a number: \"5E-1 \""},
		{"\"5E-1\"", "[0.5]", MAAS_ERR_INVALID,
		"\"base_score\" in learner_model_param is array, not a number"},
		{"\"num_class\":\"0\"", "\"num_class\":\"3\"", MAAS_ERR_INVALID,
		"objective \"binary:logistic\" does not take num_class 3"},
		{"\"num_target\":\"1\"", "\"num_target\":\"2\"", MAAS_ERR_UNSUPPORTED,
		"XGBoost models with 2 targets are not supported"},
		{"\"num_feature\":\"2\",\"num_target\"", "\"num_feature\":\"0\",\"num_target\"", MAAS_ERR_INVALID,
		"\"num_feature\" in learner_model_param is 0, expected a whole number from 1"},
		{"\"num_feature\":\"2\",\"num_target\"", "\"num_target\"", MAAS_ERR_INVALID,
		"learner_model_param has no \"num_feature\""},
		{"\"objective\":{\"name\"", "\"objectives\":{\"name\"", MAAS_ERR_INVALID,
		"the learner has no \"objective\""},
		{"\"gradient_booster\":{", "\"gradient_booster\":[{", MAAS_ERR_INVALID,
		"not an XGBoost JSON model"},	/* the brackets no longer balance */
		{"\"size_leaf_vector\":\"0\"},\"tree_info\"", "\"size_leaf_vector\":\"3\"},\"tree_info\"",
		MAAS_ERR_UNSUPPORTED, "XGBoost trees with vector leaves are not supported"},
		{"\"feature_names\":[]", "\"feature_names\":[\"a\"]", MAAS_ERR_INVALID,
		"the model has 1 feature names for 2 features"},
		{"\"feature_names\":[]", "\"feature_names\":[\"a\",2]", MAAS_ERR_INVALID,
		"feature name 1 is not a string"},
		{"\"best_iteration\":\"1\"", "\"best_iteration\":\"-1\"", MAAS_ERR_INVALID,
		"\"best_iteration\" in the attributes is -1"},
		{"{\"learner\":", "{\"lerner\":", MAAS_ERR_INVALID,
		"not an XGBoost JSON model: no \"learner\" object at the top"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *t = mutate(base_model, cases[i].from, cases[i].to);
		MaasXgbModel m;
		MaasError	err;
		bool		ok;

		if (t == NULL)
		{
			unit_fail(__FILE__, __LINE__, cases[i].from);
			continue;
		}
		memset(&err, 0, sizeof(err));
		ok = read_text(t, &m, &err);
		if (cases[i].status == MAAS_OK)
		{
			CHECK(ok);
			continue;
		}
		/* the bracket case is invalid JSON: any parse error will do */
		if (ok || err.status != cases[i].status ||
			(strstr(err.msg, cases[i].msg) == NULL &&
			 strcmp(cases[i].msg, "not an XGBoost JSON model") != 0))
		{
			unit_fail(__FILE__, __LINE__, cases[i].msg);
			fprintf(stderr, "    got: %s (%s)\n", ok ? "success" : err.msg,
					maas_status_name(err.status));
		}
	}

	/* not XGBoost at all */
	{
		MaasXgbModel m;
		MaasError	err;

		CHECK_ERR(read_text("{}", &m, &err), err.msg, "not an XGBoost JSON model");
		CHECK_ERR(read_text("[1,2]", &m, &err), err.msg, "not an XGBoost JSON model");
		CHECK_ERR(read_text("{\"ir_version\": 7, \"graph\": {}}", &m, &err), err.msg,
				  "not an XGBoost JSON model");
		CHECK_ERR(read_text("{\"learner\": 1}", &m, &err), err.msg,
				  "\"learner\" in the model is number, not object");
		CHECK_ERR(read_text("", &m, &err), err.msg, "");
		CHECK(err.status == MAAS_ERR_INVALID);
	}
	/* multiclass needs num_class */
	{
		MaasXgbModel m;
		MaasError	err;
		char	   *t = mutate(base_model, "binary:logistic", "multi:softprob");

		CHECK_ERR(read_text(mutate(t, "\"num_class\":\"0\"", "\"num_class\":\"1\""), &m, &err),
				  err.msg, "objective \"multi:softprob\" needs num_class of at least 2, not 1");
		t = mutate(t, "\"num_class\":\"0\"", "\"num_class\":\"3\"");
		CHECK_ERR(read_text(t, &m, &err), err.msg, "2 trees do not make whole rounds of 3 groups");
	}
}

/* every prefix of a model is refused, none crashes */
static void
test_truncated(void)
{
	size_t		len = strlen(base_model);
	int			refused = 0;

	for (size_t cut = 0; cut < len; cut++)
	{
		MaasXgbModel m;
		MaasError	err;

		if (!maas_xgb_read(base_model, cut, NULL, &m, &err))
			refused++;
		else
			unit_fail(__FILE__, __LINE__, "a truncated model was read");
		if ((cut & 63) == 0)
			arena_reset();
	}
	CHECK(refused == (int) len);
}

static void
test_out_of_memory(void)
{
	bool		done = false;

	for (long i = 0; i < 100000 && !done; i++)
	{
		MaasXgbModel m;
		MaasError	err;

		arena_fail_after(i);
		done = read_text(base_model, &m, &err);
		arena_fail_after(-1);
		if (!done)
			CHECK(err.status == MAAS_ERR_NOMEM);
		arena_reset();
	}
	CHECK(done);
}

/* ---- XGBoost's own models and predictions ---- */

static void
check_fixture(const char *model, const char *rows, MaasTreesObjective transform, int groups)
{
	size_t		len;
	char	   *text = fx_read(model, &len);
	MaasXgbModel m;
	MaasError	err;
	FxTable		t;
	MaasTreesPlan *p;
	float	   *x,
			   *out;
	int			d;
	double		worst = 0.0;
	int			c_margin,
				c_proba,
				c_value;

	CHECK(text != NULL);
	if (text == NULL)
		return;
	CHECK(maas_xgb_read(text, len, NULL, &m, &err));
	if (err.status != MAAS_OK && m.trees.n_trees == 0)
	{
		fprintf(stderr, "    %s: %s\n", model, err.msg);
		return;
	}
	CHECK(m.transform == transform && m.trees.n_groups == groups);
	CHECK(fx_load_table(rows, &t));
	d = m.trees.n_features;
	c_margin = fx_column(&t, "margin");
	c_proba = fx_column(&t, "proba");
	c_value = fx_column(&t, "value");
	CHECK(fx_column(&t, "f0") == 0 && (c_value == d || c_margin == d));
	p = maas_trees_compile(&m.trees, &err);
	CHECK(p != NULL);
	x = maas_kalloc(sizeof(float) * t.n_rows * d);
	out = maas_kalloc(sizeof(float) * t.n_rows * groups);
	for (int64_t r = 0; r < t.n_rows; r++)
		memcpy(x + r * d, t.v + r * t.n_cols, sizeof(float) * d);
	maas_trees_forward(p, t.n_rows, x, out);
	for (int64_t r = 0; r < t.n_rows; r++)
	{
		const float *want = t.v + r * t.n_cols;
		float	   *o = out + r * groups;

		if (c_value >= 0)
		{
			double		e = fabs(o[0] - want[c_value]) / fmax(1.0, fabs(want[c_value]));

			worst = fmax(worst, e);
			continue;
		}
		for (int g = 0; g < groups; g++)
			worst = fmax(worst, fabs(o[g] - want[c_margin + g]));
		if (transform == MAAS_TREES_LOGISTIC)
			worst = fmax(worst, fabs(1.0f / (1.0f + expf(-o[0])) - want[c_proba]));
		else
		{
			float		mx = o[0],
						sum = 0.0f;

			for (int g = 1; g < groups; g++)
				mx = fmaxf(mx, o[g]);
			for (int g = 0; g < groups; g++)
				sum += expf(o[g] - mx);
			for (int g = 0; g < groups; g++)
				worst = fmax(worst, fabs(expf(o[g] - mx) / sum - want[c_proba + g]));
		}
	}
	if (worst > 1e-5)
		fprintf(stderr, "    %s: largest difference %g\n", model, worst);
	CHECK(worst <= 1e-5);
	CHECK(t.n_rows >= 20);
}

static void
test_fixtures(void)
{
	check_fixture("xgb_cancer.json", "xgb_cancer_test.csv", MAAS_TREES_LOGISTIC, 1);
	check_fixture("xgb_iris.json", "xgb_iris_test.csv", MAAS_TREES_SOFTMAX, 3);
	check_fixture("xgb_diabetes.json", "xgb_diabetes_test.csv", MAAS_TREES_REGRESSION, 1);
	check_fixture("xgb_diabetes_dart.json", "xgb_diabetes_dart_test.csv",
				  MAAS_TREES_REGRESSION, 1);
}

static void
test_fixture_contents(void)
{
	size_t		len;
	char	   *text = fx_read("xgb_iris.json", &len);
	MaasXgbModel m;
	MaasError	err;

	CHECK(text && maas_xgb_read(text, len, NULL, &m, &err));
	CHECK(strcmp(m.objective, "multi:softprob") == 0 && m.n_classes == 3);
	CHECK(m.n_rounds == 20 && m.trees.n_trees == 60);
	for (int t = 0; t < m.trees.n_trees; t++)
		CHECK(m.trees.groups[t] == t % 3);
	text = fx_read("xgb_cancer.json", &len);
	CHECK(text && maas_xgb_read(text, len, NULL, &m, &err));
	CHECK(m.n_rounds == 20 && m.trees.n_features == 30 && m.n_classes == 2);
	/* some split sends missing values left, some right */
	{
		int			left = 0,
					right = 0;

		for (int i = 0; i < m.trees.n_nodes; i++)
			if (m.trees.feature[i] >= 0)
			{
				left += m.trees.default_left[i];
				right += !m.trees.default_left[i];
			}
		CHECK(left > 0 && right > 0);
	}
}

/* ---- fuzzing support ---- */

static int
write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return 1;
	fwrite(data, 1, len, f);
	fclose(f);
	return 0;
}

static int
write_corpus(const char *dir)
{
	static const char multi[] =
		MODEL("multi:softprob", "3", "5E-1", TREE0 "," TREE1 "," TREE0, "3", "[0,1,2]");
	int			rc = 0;

	mkdir(dir, 0777);
	rc |= write_file(dir, "base.json", base_model, strlen(base_model));
	rc |= write_file(dir, "multi.json", multi, strlen(multi));
	return rc;
}

static int
write_dict(const char *path)
{
	static const char *const words[] = {
		"learner", "learner_model_param", "base_score", "num_class", "num_feature",
		"num_target", "objective", "name", "gradient_booster", "gbtree", "dart",
		"weight_drop", "model", "gbtree_model_param", "num_trees", "num_parallel_tree",
		"tree_info", "trees", "tree_param", "num_nodes", "left_children", "right_children",
		"split_indices", "split_conditions", "default_left", "split_type", "loss_changes",
		"sum_hessian", "categories_nodes", "feature_names", "feature_types", "attributes",
		"best_iteration", "size_leaf_vector", "binary:logistic", "multi:softprob",
		"reg:squarederror", "5E-1", "-1", "2147483647",
	};
	FILE	   *f = fopen(path, "w");

	if (f == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		fprintf(f, "\"\\\"%s\\\"\"\n", words[i]);
	fclose(f);
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

	UNIT_RUN(test_base_model);
	UNIT_RUN(test_base_score_spellings);
	UNIT_RUN(test_multiclass);
	UNIT_RUN(test_renumbered_and_deleted);
	UNIT_RUN(test_dart);
	UNIT_RUN(test_errors);
	UNIT_RUN(test_truncated);
	UNIT_RUN(test_out_of_memory);
	UNIT_RUN(test_fixtures);
	UNIT_RUN(test_fixture_contents);
	return unit_finish("xgboost");
}
