/*
 * xgboost_json.c
 *		XGBoost's JSON model (Booster.save_model("x.json")) into the trees
 *		form (see trees.h).
 *
 * The parts of the document that matter, as XGBoost 1.7 writes them:
 *
 *	{"version": [1, 7, 4],
 *	 "learner": {
 *	   "learner_model_param": {"base_score": "5E-1", "num_class": "3",
 *							   "num_feature": "4", "num_target": "1"},
 *	   "objective": {"name": "multi:softprob", ...},
 *	   "feature_names": [...], "attributes": {"best_iteration": "19"},
 *	   "gradient_booster": {"name": "gbtree", "model": {
 *		   "gbtree_model_param": {"num_trees": "60", "num_parallel_tree": "1"},
 *		   "tree_info": [0, 1, 2, 0, ...],
 *		   "trees": [{"tree_param": {"num_nodes": "7", ...},
 *					  "left_children": [1, 3, ...], "right_children": [...],
 *					  "split_indices": [...], "split_conditions": [...],
 *					  "default_left": [...], "split_type": [...],
 *					  "loss_changes": [...], "sum_hessian": [...], ...}]}}}}
 *
 * The model parameters are strings holding numbers ("5E-1"); 2.x and 3.x
 * write base_score as "[5E-1]", which is read too.  At a leaf,
 * split_conditions holds the leaf value (learning rate applied).  A dart
 * booster wraps the same model in "gbtree" and adds weight_drop, one
 * factor per tree, folded here into the tree's leaves.
 *
 * Trees are copied node by node in depth-first order from the root, which
 * puts children after parents whatever order XGBoost numbered them in, and
 * leaves out nodes the root does not reach (XGBoost's deleted nodes).  A
 * node reached twice (a cycle or a shared child) is an error.
 */
#include "trees.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

typedef struct ObjectiveInfo
{
	const char *name;
	MaasTreesObjective transform;
	bool		classification;
	bool		multi;
} ObjectiveInfo;

static const ObjectiveInfo objectives[] = {
	{"binary:logistic", MAAS_TREES_LOGISTIC, true, false},
	{"binary:logitraw", MAAS_TREES_LOGISTIC, true, false},
	{"reg:logistic", MAAS_TREES_LOGISTIC, false, false},
	{"multi:softprob", MAAS_TREES_SOFTMAX, true, true},
	{"multi:softmax", MAAS_TREES_SOFTMAX, true, true},
	{"reg:squarederror", MAAS_TREES_REGRESSION, false, false},
	{"reg:linear", MAAS_TREES_REGRESSION, false, false},
	{"reg:pseudohubererror", MAAS_TREES_REGRESSION, false, false},
	{"reg:absoluteerror", MAAS_TREES_REGRESSION, false, false},
	{"reg:squaredlogerror", MAAS_TREES_REGRESSION, false, false},
};

/* ---- reading pieces, each with a message naming what is wrong ---- */

static const MaasJson *
need(const MaasJson *obj, const char *key, MaasJsonType type, const char *where,
	 MaasError *err)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL)
	{
		maas_error(err, MAAS_ERR_INVALID, "%s has no \"%s\"", where, key);
		return NULL;
	}
	if (v->type != type)
	{
		maas_error(err, MAAS_ERR_INVALID, "\"%s\" in %s is %s, not %s", key, where,
				   maas_json_type_name(v->type), maas_json_type_name(type));
		return NULL;
	}
	return v;
}

/*
 * A parameter that XGBoost writes as a string of a number ("5E-1", "3") or,
 * in some versions, as a number or "[5E-1]".  Returns false with err set
 * when it is there but not a finite number; *present says whether it was.
 */
static bool
param_number(const MaasJson *obj, const char *key, const char *where,
			 bool *present, double *out, MaasError *err)
{
	const MaasJson *v = maas_json_get(obj, key);
	char		buf[64];
	const char *s;
	size_t		len;
	char	   *end;
	double		d;

	*present = v != NULL;
	if (v == NULL)
		return true;
	if (v->type == MAAS_JSON_NUMBER)
	{
		if (!maas_json_finite(v, false, out))
			return maas_error(err, MAAS_ERR_INVALID, "\"%s\" in %s is not finite",
							  key, where);
		return true;
	}
	if (v->type != MAAS_JSON_STRING)
		return maas_error(err, MAAS_ERR_INVALID, "\"%s\" in %s is %s, not a number",
						  key, where, maas_json_type_name(v->type));
	s = v->u.string;
	len = v->n;
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']')
	{
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return maas_error(err, MAAS_ERR_INVALID, "\"%s\" in %s is not a number",
						  key, where);
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	d = strtod(buf, &end);
	if (*end != '\0' || buf[0] == ' ' || !isfinite(d))
		return maas_error(err, MAAS_ERR_INVALID, "\"%s\" in %s is not a number: \"%s\"",
						  key, where, buf);
	*out = d;
	return true;
}

static bool
param_int(const MaasJson *obj, const char *key, const char *where, int64_t min,
		  int64_t max, int64_t dflt, int64_t *out, MaasError *err)
{
	bool		present;
	double		d;

	if (!param_number(obj, key, where, &present, &d, err))
		return false;
	if (!present)
	{
		if (dflt < min)
			return maas_error(err, MAAS_ERR_INVALID, "%s has no \"%s\"", where, key);
		*out = dflt;
		return true;
	}
	if (d != floor(d) || d < (double) min || d > (double) max)
		return maas_error(err, MAAS_ERR_INVALID,
						  "\"%s\" in %s is %g, expected a whole number from %lld to %lld",
						  key, where, d, (long long) min, (long long) max);
	*out = (int64_t) d;
	return true;
}

/* an array of exactly n entries */
static const MaasJson *
need_array(const MaasJson *obj, const char *key, int64_t n, const char *where,
		   bool optional, MaasError *err)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL && optional)
		return NULL;
	v = need(obj, key, MAAS_JSON_ARRAY, where, err);
	if (v == NULL)
		return NULL;
	if (v->n != n)
	{
		maas_error(err, MAAS_ERR_INVALID, "\"%s\" in %s has %d entries, expected %lld",
				   key, where, v->n, (long long) n);
		return NULL;
	}
	return v;
}

/* ---- one tree ---- */

typedef struct TreeArrays
{
	const MaasJson *left;
	const MaasJson *right;
	const MaasJson *split_index;
	const MaasJson *split_cond;
	const MaasJson *default_left;
	const MaasJson *loss_changes;	/* or NULL */
	const MaasJson *sum_hessian;	/* or NULL */
} TreeArrays;

static bool
child_index(const MaasJson *arr, int i, int32_t n_nodes, const char *where,
			int32_t *out, MaasError *err)
{
	int64_t		c;

	if (!maas_json_int(maas_json_at(arr, i), -1, INT32_MAX, &c))
		return maas_error(err, MAAS_ERR_INVALID,
						  "%s: child of node %d is not a node index", where, i);
	if (c >= n_nodes)
		return maas_error(err, MAAS_ERR_INVALID,
						  "%s: child %lld of node %d is out of range (the tree has %d nodes)",
						  where, (long long) c, i, n_nodes);
	*out = (int32_t) c;
	return true;
}

/*
 * Copy tree t (n_nodes nodes as XGBoost numbers them) into the output
 * arrays from position base, in depth-first order.  *used gets the nodes
 * written.  scratch holds 2 * n_nodes int32 (the stack and the new index of
 * each node).
 */
static bool
read_tree(const TreeArrays *a, int32_t t, int32_t n_nodes, int32_t n_features,
		  float weight, MaasTrees *tr, int32_t base, int32_t *scratch,
		  int32_t *used, MaasError *err)
{
	int32_t    *stack = scratch;
	int32_t    *newidx = scratch + n_nodes;
	int32_t		top = 0;
	int32_t		count = 0;
	int32_t    *feature = (int32_t *) tr->feature;
	float	   *threshold = (float *) tr->threshold;
	int32_t    *left = (int32_t *) tr->left;
	int32_t    *right = (int32_t *) tr->right;
	uint8_t    *dleft = (uint8_t *) tr->default_left;
	float	   *value = (float *) tr->value;
	float	   *gain = (float *) tr->gain;
	float	   *cover = (float *) tr->cover;
	char		where[48];

	snprintf(where, sizeof(where), "tree %d", t);
	for (int32_t i = 0; i < n_nodes; i++)
		newidx[i] = -1;

	/* first pass: number the nodes in preorder, refusing shared nodes */
	stack[top++] = 0;
	while (top > 0)
	{
		int32_t		i = stack[--top];
		int32_t		l,
					r;

		if (newidx[i] >= 0)
			return maas_error(err, MAAS_ERR_INVALID,
							  "%s: node %d is reached twice", where, i);
		newidx[i] = count++;
		if (!child_index(a->left, i, n_nodes, where, &l, err) ||
			!child_index(a->right, i, n_nodes, where, &r, err))
			return false;
		if ((l < 0) != (r < 0))
			return maas_error(err, MAAS_ERR_INVALID,
							  "%s: node %d has one child", where, i);
		if (l < 0)
			continue;
		if (newidx[l] >= 0 || newidx[r] >= 0 || l == r)
			return maas_error(err, MAAS_ERR_INVALID,
							  "%s: node %d is reached twice", where, newidx[l] >= 0 ? l : r);
		/* each node is pushed at most once before being numbered: fits */
		if (top + 2 > n_nodes)
			return maas_error(err, MAAS_ERR_INVALID,
							  "%s: node %d is reached twice", where, l);
		stack[top++] = r;
		stack[top++] = l;
	}

	/* second pass: the nodes' contents at their new places */
	for (int32_t i = 0; i < n_nodes; i++)
	{
		int32_t		k = newidx[i];
		int32_t		l,
					r;
		double		cond;
		int64_t		f = 0;
		const MaasJson *dl = maas_json_at(a->default_left, i);
		bool		is_left;

		if (k < 0)
			continue;			/* unreachable: deleted */
		k += base;
		if (!child_index(a->left, i, n_nodes, where, &l, err) ||
			!child_index(a->right, i, n_nodes, where, &r, err))
			return false;
		if (!maas_json_finite(maas_json_at(a->split_cond, i), true, &cond))
			return maas_error(err, MAAS_ERR_INVALID,
							  "%s: split condition of node %d is not a finite number",
							  where, i);
		if (dl != NULL && dl->type == MAAS_JSON_BOOL)
			is_left = dl->u.boolean;
		else
		{
			int64_t		b;

			if (!maas_json_int(dl, 0, 1, &b))
				return maas_error(err, MAAS_ERR_INVALID,
								  "%s: default_left of node %d is not 0 or 1", where, i);
			is_left = b == 1;
		}
		gain[k] = 0.0f;
		cover[k] = 0.0f;
		if (a->loss_changes != NULL)
		{
			double		g;

			if (!maas_json_finite(maas_json_at(a->loss_changes, i), true, &g))
				return maas_error(err, MAAS_ERR_INVALID,
								  "%s: loss change of node %d is not a finite number",
								  where, i);
			gain[k] = (float) g;
		}
		if (a->sum_hessian != NULL)
		{
			double		h;

			if (!maas_json_finite(maas_json_at(a->sum_hessian, i), true, &h))
				return maas_error(err, MAAS_ERR_INVALID,
								  "%s: hessian sum of node %d is not a finite number",
								  where, i);
			cover[k] = (float) h;
		}
		dleft[k] = is_left ? 1 : 0;
		if (l < 0)
		{
			float		v = (float) cond * weight;

			if (!isfinite(v))
				return maas_error(err, MAAS_ERR_INVALID,
								  "%s: leaf value of node %d is not finite", where, i);
			feature[k] = -1;
			threshold[k] = 0.0f;
			left[k] = -1;
			right[k] = -1;
			value[k] = v;
			gain[k] = 0.0f;
			continue;
		}
		if (!maas_json_int(maas_json_at(a->split_index, i), 0, INT32_MAX, &f) ||
			f >= n_features)
			return maas_error(err, MAAS_ERR_INVALID,
							  "%s: split feature of node %d is out of range (0 to %d)",
							  where, i, n_features - 1);
		feature[k] = (int32_t) f;
		threshold[k] = (float) cond;
		left[k] = base + newidx[l];
		right[k] = base + newidx[r];
		value[k] = 0.0f;
	}
	*used = count;
	return true;
}

/* ---- the model ---- */

bool
maas_xgb_read(const char *text, size_t len, const MaasTick *tick,
			  MaasXgbModel *out, MaasError *err)
{
	const MaasJson *root;
	const MaasJson *learner;
	const MaasJson *mparam;
	const MaasJson *obj;
	const MaasJson *objname;
	const MaasJson *booster;
	const MaasJson *bname;
	const MaasJson *model;
	const MaasJson *gparam;
	const MaasJson *trees;
	const MaasJson *tree_info;
	const MaasJson *weight_drop = NULL;
	const MaasJson *names;
	const ObjectiveInfo *info = NULL;
	int64_t		num_class,
				num_feature,
				num_target,
				num_trees,
				num_parallel;
	double		base_score = 0.5;
	bool		present;
	int32_t		n_groups;
	int64_t		total_nodes = 0;
	int32_t		max_nodes = 1;
	int32_t    *scratch;
	int32_t		pos = 0;
	MaasTrees  *tr = &out->trees;
	float		margin;

	memset(out, 0, sizeof(*out));
	out->best_iteration = -1;

	root = maas_json_parse(text, len, 0, tick, err);
	if (root == NULL)
		return false;
	if (root->type != MAAS_JSON_OBJECT || maas_json_get(root, "learner") == NULL)
		return maas_error(err, MAAS_ERR_INVALID,
						  "not an XGBoost JSON model: no \"learner\" object at the top");
	if ((learner = need(root, "learner", MAAS_JSON_OBJECT, "the model", err)) == NULL ||
		(mparam = need(learner, "learner_model_param", MAAS_JSON_OBJECT, "the learner", err)) == NULL ||
		(obj = need(learner, "objective", MAAS_JSON_OBJECT, "the learner", err)) == NULL ||
		(objname = need(obj, "name", MAAS_JSON_STRING, "the objective", err)) == NULL ||
		(booster = need(learner, "gradient_booster", MAAS_JSON_OBJECT, "the learner", err)) == NULL ||
		(bname = need(booster, "name", MAAS_JSON_STRING, "the booster", err)) == NULL)
		return false;

	/* the objective, by name */
	for (size_t i = 0; i < sizeof(objectives) / sizeof(objectives[0]); i++)
		if (strcmp(objname->u.string, objectives[i].name) == 0)
			info = &objectives[i];
	if (info == NULL)
		return maas_error(err, MAAS_ERR_UNSUPPORTED,
						  "XGBoost objective \"%.60s\" is not supported", objname->u.string);
	snprintf(out->objective, sizeof(out->objective), "%s", info->name);
	out->transform = info->transform;
	out->classification = info->classification;

	/* the booster: gbtree, or dart around a gbtree */
	if (strcmp(bname->u.string, "dart") == 0)
	{
		const MaasJson *inner = need(booster, "gbtree", MAAS_JSON_OBJECT, "the dart booster", err);

		if (inner == NULL ||
			(weight_drop = need(booster, "weight_drop", MAAS_JSON_ARRAY, "the dart booster", err)) == NULL)
			return false;
		booster = inner;
	}
	else if (strcmp(bname->u.string, "gbtree") != 0)
		return maas_error(err, MAAS_ERR_UNSUPPORTED,
						  "XGBoost booster \"%.60s\" is not supported (only gbtree and dart)",
						  bname->u.string);
	if ((model = need(booster, "model", MAAS_JSON_OBJECT, "the booster", err)) == NULL ||
		(gparam = need(model, "gbtree_model_param", MAAS_JSON_OBJECT, "the booster model", err)) == NULL ||
		(trees = need(model, "trees", MAAS_JSON_ARRAY, "the booster model", err)) == NULL)
		return false;

	/* model parameters */
	if (!param_int(mparam, "num_class", "learner_model_param", 0, MAAS_TREES_MAX_GROUPS, 0, &num_class, err) ||
		!param_int(mparam, "num_feature", "learner_model_param", 1, 100000000, 0, &num_feature, err) ||
		!param_int(mparam, "num_target", "learner_model_param", 0, INT32_MAX, 1, &num_target, err) ||
		!param_number(mparam, "base_score", "learner_model_param", &present, &base_score, err) ||
		!param_int(gparam, "num_trees", "gbtree_model_param", 0, INT32_MAX, 0, &num_trees, err) ||
		!param_int(gparam, "num_parallel_tree", "gbtree_model_param", 1, INT32_MAX, 1, &num_parallel, err))
		return false;
	if (!present)
		base_score = 0.5;
	if (num_target > 1)
		return maas_error(err, MAAS_ERR_UNSUPPORTED,
						  "XGBoost models with %lld targets are not supported",
						  (long long) num_target);
	{
		int64_t		leaf_vector;

		if (!param_int(gparam, "size_leaf_vector", "gbtree_model_param", 0, INT32_MAX, 0,
					   &leaf_vector, err))
			return false;
		if (leaf_vector > 1)
			return maas_error(err, MAAS_ERR_UNSUPPORTED,
							  "XGBoost trees with vector leaves are not supported");
	}
	if (info->multi)
	{
		if (num_class < 2)
			return maas_error(err, MAAS_ERR_INVALID,
							  "objective \"%s\" needs num_class of at least 2, not %lld",
							  info->name, (long long) num_class);
		n_groups = (int32_t) num_class;
		out->n_classes = n_groups;
	}
	else
	{
		if (num_class > 1)
			return maas_error(err, MAAS_ERR_INVALID,
							  "objective \"%s\" does not take num_class %lld",
							  info->name, (long long) num_class);
		n_groups = 1;
		out->n_classes = info->classification ? 2 : 0;
	}
	if (trees->n != num_trees)
		return maas_error(err, MAAS_ERR_INVALID,
						  "the model has %d trees but num_trees says %lld",
						  trees->n, (long long) num_trees);
	if (num_trees % ((int64_t) n_groups * num_parallel) != 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "%lld trees do not make whole rounds of %d groups",
						  (long long) num_trees, n_groups);
	if ((tree_info = need_array(model, "tree_info", num_trees, "the booster model", false, err)) == NULL)
		return false;
	if (weight_drop != NULL && weight_drop->n != num_trees)
		return maas_error(err, MAAS_ERR_INVALID,
						  "\"weight_drop\" has %d entries, expected %lld",
						  weight_drop->n, (long long) num_trees);

	/* base margin: ProbToMargin of the objective, in float as XGBoost */
	if (info->transform == MAAS_TREES_LOGISTIC)
	{
		float		bs = (float) base_score;

		if (!(bs > 0.0f && bs < 1.0f))
			return maas_error(err, MAAS_ERR_INVALID,
							  "base_score %g is not between 0 and 1, as objective \"%s\" needs",
							  base_score, info->name);
		margin = -logf(1.0f / bs - 1.0f);
	}
	else
		margin = (float) base_score;
	if (!isfinite(margin))
		return maas_error(err, MAAS_ERR_INVALID, "base_score %g is out of range", base_score);
	out->base_score = base_score;
	out->n_rounds = (int32_t) (num_trees / ((int64_t) n_groups * num_parallel));

	/* attributes and feature names, when there */
	{
		const MaasJson *attrs = maas_json_get(learner, "attributes");
		int64_t		best;

		if (attrs != NULL && attrs->type == MAAS_JSON_OBJECT &&
			maas_json_get(attrs, "best_iteration") != NULL)
		{
			if (!param_int(attrs, "best_iteration", "the attributes", 0, INT32_MAX, 0, &best, err))
				return false;
			out->best_iteration = (int32_t) best;
		}
	}
	names = maas_json_get(learner, "feature_names");
	if (names != NULL && names->type == MAAS_JSON_ARRAY && names->n > 0)
	{
		if (names->n != num_feature)
			return maas_error(err, MAAS_ERR_INVALID,
							  "the model has %d feature names for %lld features",
							  names->n, (long long) num_feature);
		out->feature_names = maas_kalloc_array(names->n, sizeof(char *));
		if (out->feature_names == NULL)
			return maas_error_nomem(err);
		for (int i = 0; i < names->n; i++)
		{
			const MaasJson *nm = maas_json_at(names, i);

			if (nm->type != MAAS_JSON_STRING)
				return maas_error(err, MAAS_ERR_INVALID, "feature name %d is not a string", i);
			out->feature_names[i] = (char *) nm->u.string;	/* tree memory */
		}
	}
	{
		const MaasJson *types = maas_json_get(learner, "feature_types");

		if (types != NULL && types->type == MAAS_JSON_ARRAY)
			for (int i = 0; i < types->n; i++)
			{
				const MaasJson *ty = maas_json_at(types, i);

				if (ty->type == MAAS_JSON_STRING && strcmp(ty->u.string, "c") == 0)
					return maas_error(err, MAAS_ERR_UNSUPPORTED,
									  "XGBoost models with categorical features are not supported");
			}
	}

	/* sizes of every tree, checked before anything is allocated */
	for (int t = 0; t < trees->n; t++)
	{
		const MaasJson *tree = maas_json_at(trees, t);
		const MaasJson *tparam;
		int64_t		nn;
		char		where[48];

		snprintf(where, sizeof(where), "tree %d", t);
		if (tree->type != MAAS_JSON_OBJECT)
			return maas_error(err, MAAS_ERR_INVALID, "%s is not an object", where);
		if ((tparam = need(tree, "tree_param", MAAS_JSON_OBJECT, where, err)) == NULL ||
			!param_int(tparam, "num_nodes", where, 1, INT32_MAX, 0, &nn, err))
			return false;
		total_nodes += nn;
		if (total_nodes > MAAS_TREES_MAX_NODES)
			return maas_error(err, MAAS_ERR_LIMIT, "the model has more than %d nodes",
							  MAAS_TREES_MAX_NODES);
		if (nn > max_nodes)
			max_nodes = (int32_t) nn;
	}

	tr->n_features = (int32_t) num_feature;
	tr->n_groups = n_groups;
	tr->n_trees = (int32_t) num_trees;
	tr->roots = maas_kalloc_array(num_trees > 0 ? num_trees : 1, sizeof(int32_t));
	tr->groups = maas_kalloc_array(num_trees > 0 ? num_trees : 1, sizeof(int32_t));
	tr->base_score = maas_kalloc_array(n_groups, sizeof(float));
	tr->feature = maas_kalloc_array(total_nodes > 0 ? total_nodes : 1, sizeof(int32_t));
	tr->threshold = maas_kalloc_array(total_nodes > 0 ? total_nodes : 1, sizeof(float));
	tr->left = maas_kalloc_array(total_nodes > 0 ? total_nodes : 1, sizeof(int32_t));
	tr->right = maas_kalloc_array(total_nodes > 0 ? total_nodes : 1, sizeof(int32_t));
	tr->default_left = maas_kalloc(total_nodes > 0 ? total_nodes : 1);
	tr->value = maas_kalloc_array(total_nodes > 0 ? total_nodes : 1, sizeof(float));
	tr->gain = maas_kalloc_array(total_nodes > 0 ? total_nodes : 1, sizeof(float));
	tr->cover = maas_kalloc_array(total_nodes > 0 ? total_nodes : 1, sizeof(float));
	scratch = maas_kalloc_array(max_nodes, 2 * sizeof(int32_t));
	if (!tr->roots || !tr->groups || !tr->base_score || !tr->feature ||
		!tr->threshold || !tr->left || !tr->right || !tr->default_left ||
		!tr->value || !tr->gain || !tr->cover || !scratch)
		return maas_error_nomem(err);
	for (int g = 0; g < n_groups; g++)
		((float *) tr->base_score)[g] = margin;

	for (int t = 0; t < trees->n; t++)
	{
		const MaasJson *tree = maas_json_at(trees, t);
		int64_t		nn;
		int64_t		group;
		float		weight = 1.0f;
		TreeArrays	a;
		int32_t		used = 0;
		char		where[48];

		maas_tick(tick);
		snprintf(where, sizeof(where), "tree %d", t);
		(void) param_int(maas_json_get(tree, "tree_param"), "num_nodes", where, 1,
						 INT32_MAX, 0, &nn, err);
		if (!maas_json_int(maas_json_at(tree_info, t), 0, n_groups - 1, &group))
			return maas_error(err, MAAS_ERR_INVALID,
							  "tree_info of tree %d is not a group from 0 to %d", t, n_groups - 1);
		if (weight_drop != NULL)
		{
			double		w;

			if (!maas_json_finite(maas_json_at(weight_drop, t), true, &w))
				return maas_error(err, MAAS_ERR_INVALID,
								  "weight_drop of tree %d is not a finite number", t);
			weight = (float) w;
		}
		{
			const MaasJson *st = maas_json_get(tree, "split_type");
			const MaasJson *cn = maas_json_get(tree, "categories_nodes");

			if (st != NULL && st->type == MAAS_JSON_ARRAY)
				for (int i = 0; i < st->n; i++)
				{
					int64_t		kind;

					if (!maas_json_int(maas_json_at(st, i), 0, 0, &kind))
						return maas_error(err, MAAS_ERR_UNSUPPORTED,
										  "%s: categorical splits are not supported", where);
				}
			if (cn != NULL && cn->type == MAAS_JSON_ARRAY && cn->n > 0)
				return maas_error(err, MAAS_ERR_UNSUPPORTED,
								  "%s: categorical splits are not supported", where);
		}
		if ((a.left = need_array(tree, "left_children", nn, where, false, err)) == NULL ||
			(a.right = need_array(tree, "right_children", nn, where, false, err)) == NULL ||
			(a.split_index = need_array(tree, "split_indices", nn, where, false, err)) == NULL ||
			(a.split_cond = need_array(tree, "split_conditions", nn, where, false, err)) == NULL ||
			(a.default_left = need_array(tree, "default_left", nn, where, false, err)) == NULL)
			return false;
		a.loss_changes = need_array(tree, "loss_changes", nn, where, true, err);
		if (a.loss_changes == NULL && maas_json_get(tree, "loss_changes") != NULL)
			return false;
		a.sum_hessian = need_array(tree, "sum_hessian", nn, where, true, err);
		if (a.sum_hessian == NULL && maas_json_get(tree, "sum_hessian") != NULL)
			return false;

		((int32_t *) tr->roots)[t] = pos;
		((int32_t *) tr->groups)[t] = (int32_t) group;
		if (!read_tree(&a, t, (int32_t) nn, (int32_t) num_feature, weight, tr, pos,
					   scratch, &used, err))
			return false;
		pos += used;
	}
	tr->n_nodes = pos;

	/* what the rest of maas relies on, checked the same way as stored trees */
	return maas_trees_check(tr, err);
}
