/*
 * test_trees.c
 *		Unit tests of the trees form (trees.c): hand-made trees and their
 *		exact outputs (missing values going left and right, single-leaf
 *		trees, multiclass groups, deep trees), batch against one row
 *		against a plain recursive reference on random ensembles, the
 *		checker refusing every kind of damage, importance, and out of
 *		memory at every allocation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trees.h"
#include "unit.h"

/* a growable ensemble for building test trees by hand */
typedef struct Build
{
	int32_t		n_features;
	int32_t		n_groups;
	int32_t		n_trees;
	int32_t		n_nodes;
	int32_t		roots[4096];
	int32_t		groups[4096];
	float		base[16];
	int32_t		feature[65536];
	float		threshold[65536];
	int32_t		left[65536];
	int32_t		right[65536];
	uint8_t		dleft[65536];
	float		value[65536];
	float		gain[65536];
	float		cover[65536];
} Build;

static Build *
build_new(int n_features, int n_groups)
{
	Build	   *b = maas_kalloc(sizeof(Build));

	memset(b, 0, sizeof(Build));
	b->n_features = n_features;
	b->n_groups = n_groups;
	return b;
}

static void
build_tree(Build *b, int group)
{
	b->roots[b->n_trees] = b->n_nodes;
	b->groups[b->n_trees] = group;
	b->n_trees++;
}

/* a node; children as indices local to the current tree (-1: leaf) */
static int
build_node(Build *b, int feature, float threshold, int left, int right, bool dl, float value)
{
	int			base = b->roots[b->n_trees - 1];
	int			i = b->n_nodes++;

	b->feature[i] = feature;
	b->threshold[i] = threshold;
	b->left[i] = left < 0 ? -1 : base + left;
	b->right[i] = right < 0 ? -1 : base + right;
	b->dleft[i] = dl;
	b->value[i] = value;
	b->gain[i] = feature >= 0 ? 10.0f * (i + 1) : 0.0f;
	b->cover[i] = 100.0f - i;
	return i - base;
}

static void
build_leaf(Build *b, float value)
{
	build_node(b, -1, 0.0f, -1, -1, false, value);
}

static MaasTrees
view(const Build *b)
{
	MaasTrees	t = {
		b->n_features, b->n_groups, b->n_trees, b->n_nodes,
		b->roots, b->groups, b->base, b->feature, b->threshold, b->left, b->right,
		b->dleft, b->value, b->gain, b->cover
	};

	return t;
}

/*
 * tree: x0 < 0.5 (missing left) ? 1 : (x1 < 2 (missing right) ? 2 : 3)
 */
static Build *
small_tree(void)
{
	Build	   *b = build_new(2, 1);

	b->base[0] = 0.5f;
	build_tree(b, 0);
	build_node(b, 0, 0.5f, 1, 2, true, 0.0f);
	build_leaf(b, 1.0f);
	build_node(b, 1, 2.0f, 3, 4, false, 0.0f);
	build_leaf(b, 2.0f);
	build_leaf(b, 3.0f);
	return b;
}

static void
test_hand_made(void)
{
	Build	   *b = small_tree();
	MaasTrees	t = view(b);
	MaasError	err;
	MaasTreesPlan *p = maas_trees_compile(&t, &err);
	float		x[][2] = {
		{0.0f, 0.0f}, {1.0f, 1.0f}, {1.0f, 3.0f}, {NAN, 3.0f}, {1.0f, NAN},
		{0.5f, 2.0f}, {0.4999f, 100.0f}, {NAN, NAN}, {-INFINITY, 0}, {INFINITY, -INFINITY}
	};
	float		want[] = {1.5f, 2.5f, 3.5f, 1.5f, 3.5f, 3.5f, 1.5f, 1.5f, 1.5f, 2.5f};
	int			n = sizeof(want) / sizeof(want[0]);
	float		out[16];

	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(p->max_depth == 2);
	maas_trees_forward(p, n, &x[0][0], out);
	for (int i = 0; i < n; i++)
		CHECK(out[i] == want[i]);
	for (int i = 0; i < n; i++)
	{
		float		one;

		maas_trees_forward(p, 1, x[i], &one);
		CHECK(one == want[i]);
	}
}

static void
test_single_leaf_and_empty(void)
{
	Build	   *b = build_new(3, 1);
	MaasTrees	t;
	MaasError	err;
	MaasTreesPlan *p;
	float		x[3] = {1, 2, 3};
	float		out;

	b->base[0] = -1.0f;
	build_tree(b, 0);
	build_leaf(b, 0.25f);
	build_tree(b, 0);
	build_leaf(b, 0.5f);
	t = view(b);
	p = maas_trees_compile(&t, &err);
	CHECK(p != NULL && p->max_depth == 0);
	maas_trees_forward(p, 1, x, &out);
	CHECK(out == -0.25f);

	/* no trees at all: the base score */
	t.n_trees = 0;
	t.n_nodes = 0;
	p = maas_trees_compile(&t, &err);
	CHECK(p != NULL);
	maas_trees_forward(p, 1, x, &out);
	CHECK(out == -1.0f);
}

static void
test_multiclass_groups(void)
{
	Build	   *b = build_new(1, 3);
	MaasTrees	t;
	MaasError	err;
	MaasTreesPlan *p;
	float		x[2] = {0.0f, 5.0f};
	float		out[6];

	b->base[0] = 0.5f;
	b->base[1] = 0.5f;
	b->base[2] = 0.5f;
	/* two rounds of three trees, round-robin: tree t adds to group t % 3 */
	for (int round = 0; round < 2; round++)
		for (int g = 0; g < 3; g++)
		{
			build_tree(b, g);
			build_node(b, 0, 1.0f, 1, 2, false, 0.0f);
			build_leaf(b, (float) (g + 1) * (round + 1));
			build_leaf(b, -(float) (g + 1));
		}
	t = view(b);
	p = maas_trees_compile(&t, &err);
	CHECK(p != NULL);
	maas_trees_forward(p, 2, x, out);
	/* x = 0: left leaves, (g+1)*1 + (g+1)*2 */
	CHECK(out[0] == 0.5f + 3.0f && out[1] == 0.5f + 6.0f && out[2] == 0.5f + 9.0f);
	/* x = 5: right leaves, -(g+1) twice */
	CHECK(out[3] == 0.5f - 2.0f && out[4] == 0.5f - 4.0f && out[5] == 0.5f - 6.0f);
}

/* ---- random ensembles against a recursive reference ---- */

static uint64_t rng_state = 12345;

static uint32_t
rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t) ((rng_state >> 33) % n);
}

/* a random subtree of at most depth levels; returns its local index */
static int
random_subtree(Build *b, int depth, int n_features)
{
	int			base = b->roots[b->n_trees - 1];
	int			i;

	if (depth == 0 || rnd(5) == 0 || b->n_nodes > 60000 ||
		(b->n_trees > 8 && depth > 12 && rnd(2) == 0))
	{
		i = build_node(b, -1, 0.0f, -1, -1, false, (float) ((int) rnd(2001) - 1000) / 256.0f);
		return i;
	}
	i = build_node(b, (int) rnd(n_features), (float) ((int) rnd(21) - 10) / 4.0f, -1, -1,
				   rnd(2), 0.0f);
	{
		int			l = random_subtree(b, depth - 1, n_features);
		int			r = random_subtree(b, depth - 1, n_features);

		b->left[base + i] = base + l;
		b->right[base + i] = base + r;
	}
	return i;
}

static float
reference_tree(const Build *b, int node, const float *x)
{
	while (b->feature[node] >= 0)
	{
		float		v = x[b->feature[node]];

		if (isnan(v))
			node = b->dleft[node] ? b->left[node] : b->right[node];
		else
			node = v < b->threshold[node] ? b->left[node] : b->right[node];
	}
	return b->value[node];
}

static void
test_random_ensembles(void)
{
	for (int trial = 0; trial < 20; trial++)
	{
		int			nf = 1 + (int) rnd(12);
		int			ng = 1 + (int) rnd(4);
		int			nt = (int) rnd(40) * ng;
		int			depth = (int) rnd(trial < 18 ? 9 : 40);
		int			rows = 1 + (int) rnd(300);
		Build	   *b = build_new(nf, ng);
		MaasTrees	t;
		MaasError	err;
		MaasTreesPlan *p;
		float	   *x = maas_kalloc(sizeof(float) * rows * nf);
		float	   *out = maas_kalloc(sizeof(float) * rows * ng);
		float	   *par = maas_kalloc(sizeof(float) * rows * ng);
		float	   *one = maas_kalloc(sizeof(float) * ng);
		bool		same = true;

		for (int g = 0; g < ng; g++)
			b->base[g] = (float) g * 0.125f;
		for (int k = 0; k < nt; k++)
		{
			build_tree(b, k % ng);
			random_subtree(b, depth, nf);
		}
		t = view(b);
		p = maas_trees_compile(&t, &err);
		CHECK(p != NULL);
		if (p == NULL)
		{
			fprintf(stderr, "    %s\n", err.msg);
			return;
		}
		for (int i = 0; i < rows * nf; i++)
			x[i] = rnd(10) == 0 ? NAN : (float) ((int) rnd(25) - 12) / 4.0f;
		maas_trees_forward(p, rows, x, out);
		maas_trees_forward_parallel(p, rows, x, par, 2);
		for (int r = 0; r < rows; r++)
		{
			float		ref[4];

			for (int g = 0; g < ng; g++)
				ref[g] = b->base[g];
			for (int k = 0; k < nt; k++)
				ref[b->groups[k]] += reference_tree(b, b->roots[k], x + r * nf);
			maas_trees_forward(p, 1, x + r * nf, one);
			for (int g = 0; g < ng; g++)
				same &= out[r * ng + g] == ref[g] && one[g] == ref[g] &&
					par[r * ng + g] == ref[g];
		}
		CHECK(same);
	}
}

static void
test_parallel_big_batch(void)
{
	Build	   *b = build_new(6, 2);
	MaasTrees	t;
	MaasError	err;
	MaasTreesPlan *p;
	int			rows = 20000;
	float	   *x = maas_kalloc(sizeof(float) * rows * 6);
	float	   *a = maas_kalloc(sizeof(float) * rows * 2);
	float	   *c = maas_kalloc(sizeof(float) * rows * 2);

	for (int k = 0; k < 50; k++)
	{
		build_tree(b, k % 2);
		random_subtree(b, 6, 6);
	}
	t = view(b);
	p = maas_trees_compile(&t, &err);
	CHECK(p != NULL);
	for (int i = 0; i < rows * 6; i++)
		x[i] = rnd(20) == 0 ? NAN : (float) ((int) rnd(25) - 12) / 4.0f;
	maas_trees_forward(p, rows, x, a);
	maas_trees_forward_parallel(p, rows, x, c, 2);
	CHECK(memcmp(a, c, sizeof(float) * rows * 2) == 0);
	maas_trees_forward_parallel(p, rows, x, c, 7);
	CHECK(memcmp(a, c, sizeof(float) * rows * 2) == 0);
}

/* a chain: each node's right child is a leaf, the left one goes on */
static Build *
chain(int depth)
{
	Build	   *b = build_new(1, 1);

	build_tree(b, 0);
	for (int i = 0; i < depth; i++)
	{
		build_node(b, 0, (float) -i, 2 * i + 2, 2 * i + 1, false, 0.0f);
		build_leaf(b, (float) i);
	}
	build_leaf(b, -1.0f);
	return b;
}

static void
test_deep_tree(void)
{
	Build	   *b = chain(200);
	MaasTrees	t = view(b);
	MaasError	err;
	MaasTreesPlan *p = maas_trees_compile(&t, &err);
	float		x,
				out;

	CHECK(p != NULL && p->max_depth == 200);
	/* x < -i goes on; x = -50.5 stops at the first i with -i <= x: 51 */
	x = -50.5f;
	maas_trees_forward(p, 1, &x, &out);
	CHECK(out == 51.0f);
	x = -1000.0f;
	maas_trees_forward(p, 1, &x, &out);
	CHECK(out == -1.0f);
	{
		float		xs[3] = {-50.5f, -1000.0f, 5.0f};
		float		outs[3];

		maas_trees_forward(p, 3, xs, outs);
		CHECK(outs[0] == 51.0f && outs[1] == -1.0f && outs[2] == 0.0f);
	}

	b = chain(MAAS_TREES_MAX_DEPTH + 1);
	t = view(b);
	CHECK_ERR(maas_trees_check(&t, &err), err.msg, "deeper than 1024");
	b = chain(MAAS_TREES_MAX_DEPTH);
	t = view(b);
	CHECK(maas_trees_check(&t, &err));
}

/* ---- the checker ---- */

typedef void (*Damage) (Build *b);

static void d_root0(Build *b) { b->roots[0] = 1; }
static void d_roots_order(Build *b) { b->roots[1] = b->roots[0]; }
static void d_root_range(Build *b) { b->roots[1] = b->n_nodes + 3; }
static void d_group(Build *b) { b->groups[1] = 1; }
static void d_group_neg(Build *b) { b->groups[0] = -1; }
static void d_feature_big(Build *b) { b->feature[0] = 2; }
static void d_feature_neg(Build *b) { b->feature[0] = -2; }
static void d_leaf_child(Build *b) { b->left[1] = 2; }
static void d_child_before(Build *b) { b->left[2] = 0; }
static void d_child_self(Build *b) { b->right[2] = 2; }
static void d_child_other_tree(Build *b) { b->right[2] = 5; }
static void d_child_range(Build *b) { b->right[b->roots[1]] = 999; }
static void d_same_children(Build *b) { b->right[0] = b->left[0]; }
static void d_child_is_sibling(Build *b) { b->left[2] = 1; }
static void d_threshold_nan(Build *b) { b->threshold[0] = NAN; }
static void d_value_nan(Build *b) { b->value[1] = NAN; }
static void d_value_inf(Build *b) { b->value[3] = INFINITY; }
static void d_gain_nan(Build *b) { b->gain[0] = NAN; }
static void d_dleft(Build *b) { b->dleft[0] = 2; }
static void d_groups0(Build *b) { b->n_groups = 0; }
static void d_base_nan(Build *b) { b->base[0] = NAN; }
static void d_features0(Build *b) { b->n_features = 0; }
static void d_more_trees(Build *b) { b->n_trees = b->n_nodes + 1; }
static void d_unreached(Build *b)
{
	/* the second tree gets an extra node nobody points to */
	b->feature[b->n_nodes] = -1;
	b->left[b->n_nodes] = b->right[b->n_nodes] = -1;
	b->value[b->n_nodes] = 0;
	b->dleft[b->n_nodes] = 0;
	b->n_nodes++;
}

static void
test_checker(void)
{
	static const struct
	{
		Damage		fn;
		const char *msg;
	}			cases[] = {
		{d_root0, "first tree does not start at node 0"},
		{d_roots_order, "tree 0: root 0 is out of order"},
		{d_root_range, "tree 0: root 0 is out of order or out of range"},
		{d_group, "tree 1: group 1 is out of range (0 to 0)"},
		{d_group_neg, "tree 0: group -1 is out of range"},
		{d_feature_big, "tree 0 node 0: split feature 2 is out of range (0 to 1)"},
		{d_feature_neg, "tree 0 node 0: split feature -2 is out of range"},
		{d_leaf_child, "tree 0 node 1: leaf has children"},
		{d_child_before, "tree 0 node 2: children 0 and 4 are not two distinct nodes after it"},
		{d_child_self, "tree 0 node 2: children 3 and 2 are not"},
		{d_child_other_tree, "tree 0 node 2: children 3 and 5 are not"},
		{d_child_range, "tree 1 node 0: children 1 and 994"},
		{d_same_children, "tree 0 node 0: children 1 and 1"},
		{d_child_is_sibling, "tree 0 node 2: children 1 and 4 are not"},
		{d_threshold_nan, "tree 0 node 0: threshold is NaN"},
		{d_value_nan, "tree 0 node 1: value is not finite"},
		{d_value_inf, "tree 0 node 3: value is not finite"},
		{d_gain_nan, "tree 0 node 0: gain or cover is not finite"},
		{d_dleft, "tree 0 node 0: default_left is neither 0 nor 1"},
		{d_groups0, "number of output groups 0 is out of range"},
		{d_base_nan, "base score of group 0 is not finite"},
		{d_features0, "trees need at least one feature"},
		{d_more_trees, "trees but only"},
		{d_unreached, "tree 1 node 3: node is not reached from the root"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		Build	   *b = small_tree();
		MaasTrees	t;
		MaasError	err;

		/* a second tree: x1 < 0 ? -1 : 1 */
		build_tree(b, 0);
		build_node(b, 1, 0.0f, 1, 2, false, 0.0f);
		build_leaf(b, -1.0f);
		build_leaf(b, 1.0f);
		t = view(b);
		CHECK(maas_trees_check(&t, &err));
		cases[i].fn(b);
		t = view(b);
		memset(&err, 0, sizeof(err));
		if (maas_trees_check(&t, &err) || strstr(err.msg, cases[i].msg) == NULL)
		{
			unit_fail(__FILE__, __LINE__, cases[i].msg);
			fprintf(stderr, "    got: %s\n", err.msg);
		}
		CHECK(err.status == MAAS_ERR_INVALID || err.status == MAAS_ERR_NOMEM);
		CHECK(maas_trees_compile(&t, &err) == NULL);
	}

	/* two inner nodes sharing their children */
	{
		Build	   *b = build_new(1, 1);
		MaasTrees	t;
		MaasError	err;

		build_tree(b, 0);
		build_node(b, 0, 0.0f, 1, 2, false, 0.0f);
		build_node(b, 0, -1.0f, 3, 4, false, 0.0f);
		build_node(b, 0, 1.0f, 3, 4, false, 0.0f);
		build_leaf(b, 1.0f);
		build_leaf(b, 2.0f);
		t = view(b);
		CHECK_ERR(maas_trees_check(&t, &err), err.msg,
				  "tree 0 node 3: node has more than one parent");
	}
}

static void
test_importance(void)
{
	Build	   *b = small_tree();
	MaasTrees	t;
	MaasImportance imp[3];

	/* another tree splitting on feature 1 */
	b->n_features = 3;
	build_tree(b, 0);
	build_node(b, 1, 0.0f, 1, 2, false, 0.0f);
	build_leaf(b, -1.0f);
	build_leaf(b, 1.0f);
	t = view(b);
	maas_trees_importance(&t, imp);
	/* gains: node i has 10 (i + 1), cover 100 - i: splits are nodes 0, 2, 5 */
	CHECK(imp[0].weight == 1 && imp[0].total_gain == 10.0 && imp[0].gain == 10.0);
	CHECK(imp[0].total_cover == 100.0 && imp[0].cover == 100.0);
	CHECK(imp[1].weight == 2 && imp[1].total_gain == 30.0 + 60.0 && imp[1].gain == 45.0);
	CHECK(imp[1].total_cover == 98.0 + 95.0 && imp[1].cover == (98.0 + 95.0) / 2);
	CHECK(imp[2].weight == 0 && imp[2].total_gain == 0.0 && imp[2].gain == 0.0);

	t.gain = NULL;
	t.cover = NULL;
	maas_trees_importance(&t, imp);
	CHECK(imp[1].weight == 2 && imp[1].total_gain == 0.0 && imp[1].cover == 0.0);
}

static void
test_out_of_memory(void)
{
	Build	   *b = small_tree();
	MaasTrees	t = view(b);
	bool		done = false;

	for (long i = 0; i < 100 && !done; i++)
	{
		MaasError	err;
		MaasTreesPlan *p;

		arena_fail_after(i);
		p = maas_trees_compile(&t, &err);
		arena_fail_after(-1);
		if (p != NULL)
			done = true;
		else
			CHECK(err.status == MAAS_ERR_NOMEM);
	}
	CHECK(done);
}

int
main(void)
{
	UNIT_RUN(test_hand_made);
	UNIT_RUN(test_single_leaf_and_empty);
	UNIT_RUN(test_multiclass_groups);
	UNIT_RUN(test_random_ensembles);
	UNIT_RUN(test_parallel_big_batch);
	UNIT_RUN(test_deep_tree);
	UNIT_RUN(test_checker);
	UNIT_RUN(test_importance);
	UNIT_RUN(test_out_of_memory);
	return unit_finish("trees");
}
