/*
 * trees.h
 *		Decision-tree ensembles (boosted trees) in the form maas stores and
 *		serves, the checker that refuses damaged ones, the evaluator behind
 *		the runtime's "trees" op, feature importance, and the XGBoost JSON
 *		model reader.
 *
 * The stored form, MaasTrees, is a set of flat arrays, one a tensor in a
 * version's safetensors file.  With the tensor prefix P (the trees layer's
 * "tensors" key, "trees" for a model with one such layer):
 *
 *	P.roots			I32 [n_trees]	first node of each tree; tree t owns the
 *									nodes [roots[t], roots[t+1]), the last
 *									one up to n_nodes; roots[0] = 0
 *	P.groups		I32 [n_trees]	output group the tree adds to (class for
 *									multiclass, round-robin as XGBoost)
 *	P.base_score	F32 [n_groups]	margin every group starts from
 *	P.feature		I32 [n_nodes]	split feature, -1 at a leaf
 *	P.threshold		F32 [n_nodes]	a row goes left when x[feature] <
 *									threshold (0 at a leaf)
 *	P.left			I32 [n_nodes]	children: node indices (over the whole
 *	P.right			I32 [n_nodes]	array) inside the tree, after the
 *									parent; -1 at a leaf
 *	P.default_left	U8  [n_nodes]	1: a missing (NaN) value goes left
 *	P.value			F32 [n_nodes]	leaf value, learning rate applied
 *									(0 at inner nodes)
 *	P.gain			F32 [n_nodes]	optional: loss reduction of the split
 *	P.cover			F32 [n_nodes]	optional: sum of hessians in the node
 *
 * n_trees = len(P.roots), n_nodes = len(P.feature), n_groups =
 * len(P.base_score); the layer reads n_features inputs and yields
 * n_groups margins.  The output transform (sigmoid for binary, softmax
 * for multiclass, none for regression) is the next layer of the program,
 * not part of the trees.
 *
 * maas_trees_check() is what registration runs on arrays read from outside:
 * lengths, every index in range, children inside their tree and after
 * their parent (so no cycles), each node the child of exactly one parent,
 * leaves terminal, depth bounded, values finite.  maas_trees_compile()
 * checks and packs the arrays into 16-byte nodes for the evaluator; the
 * arrays may go away afterwards.
 */
#ifndef MAAS_TREES_H
#define MAAS_TREES_H

#include "kernel.h"

#define MAAS_TREES_MAX_DEPTH	1024	/* deeper trees are refused */
#define MAAS_TREES_MAX_NODES	(INT32_MAX - 1)
#define MAAS_TREES_MAX_GROUPS	100000

typedef struct MaasTrees
{
	int32_t		n_features;		/* inputs a row has */
	int32_t		n_groups;
	int32_t		n_trees;
	int32_t		n_nodes;
	const int32_t *roots;		/* n_trees */
	const int32_t *groups;		/* n_trees */
	const float *base_score;	/* n_groups */
	const int32_t *feature;		/* n_nodes */
	const float *threshold;
	const int32_t *left;
	const int32_t *right;
	const uint8_t *default_left;
	const float *value;
	const float *gain;			/* or NULL */
	const float *cover;			/* or NULL */
} MaasTrees;

/*
 * A packed node.  Siblings are adjacent (the right child is left + 1), so
 * a step is next = left + 1 - go_left without a branch; a leaf is its own
 * left child and always "goes left", so a walk can run a fixed number of
 * steps.
 */
typedef struct MaasTreeNode
{
	float		value;			/* threshold; at a leaf, the leaf value */
	uint32_t	split;			/* feature | MAAS_TREE_DEFAULT_LEFT | MAAS_TREE_LEAF */
	int32_t		left;			/* absolute; a leaf: its own index */
	int32_t		reserved;
} MaasTreeNode;

#define MAAS_TREE_DEFAULT_LEFT	0x80000000u
#define MAAS_TREE_LEAF			0x40000000u
#define MAAS_TREE_FEATURE_MASK	0x3fffffffu

typedef struct MaasTreesPlan
{
	int32_t		n_features;
	int32_t		n_groups;
	int32_t		n_trees;
	int32_t		n_nodes;
	MaasTreeNode *nodes;
	int32_t    *roots;
	int32_t    *groups;
	uint16_t   *depth;			/* n_trees: longest root-to-leaf path */
	float	   *base_score;
	int32_t		max_depth;
} MaasTreesPlan;

/*
 * Check arrays read from outside (see above).  The arrays must be aligned
 * for their types.  MAAS_ERR_INVALID with a message naming the tree and
 * node, e.g. "tree 3 node 17: left child 12 is not after its parent".
 */
extern bool maas_trees_check(const MaasTrees *trees, MaasError *err);

/*
 * Check, then pack for evaluation (maas_kalloc memory): each tree's nodes
 * renumbered breadth-first so that siblings are adjacent.
 */
extern MaasTreesPlan *maas_trees_compile(const MaasTrees *trees, MaasError *err);

/*
 * Margins of n_rows rows: out[r * n_groups + g] = base_score[g] + the sum
 * of the leaf values of the trees of group g, added in tree order in
 * float, as XGBoost does.  x is n_rows * n_features floats, row-major, NaN
 * for a missing value.  Rows go through in blocks (each tree over a block
 * of rows while both are in cache); one row walks several trees at once.
 */
extern void maas_trees_forward(const MaasTreesPlan *plan, int64_t n_rows,
							   const float *x, float *out);

/*
 * The same split over up to n_threads threads (threads.h), by blocks of rows:
 * for big batches.  The result does not depend on n_threads.
 */
extern void maas_trees_forward_parallel(const MaasTreesPlan *plan,
										int64_t n_rows, const float *x,
										float *out, int n_threads);

/*
 * One packed tree (root at nodes[root], longest path depth, siblings
 * adjacent and leaves as in MaasTreeNode) over n_rows rows: out[r * out_stride] += its
 * leaf value.  For a trainer that evaluates each new tree on held-out rows.
 */
extern void maas_tree_add(const MaasTreeNode *nodes, int32_t root, int depth,
						  int64_t n_rows, const float *x, int n_features,
						  float *out, int out_stride);

/* ---- feature importance ---- */

/*
 * Per feature, over every split on it (XGBoost's importance types):
 *	weight		number of splits
 *	total_gain	sum of the splits' gain (loss reduction)
 *	gain		total_gain / weight (XGBoost's "gain", the default of its
 *				get_score and of feature_importances_ before normalising)
 *	total_cover, cover	the same with the hessian sum of the split node
 * gain and cover need the optional arrays; without them they are 0.
 */
typedef struct MaasImportance
{
	int64_t		weight;
	double		total_gain;
	double		gain;
	double		total_cover;
	double		cover;
} MaasImportance;

/* out has n_features entries; trees must have passed maas_trees_check */
extern void maas_trees_importance(const MaasTrees *trees, MaasImportance *out);

/* ---- XGBoost's JSON model ---- */

typedef enum MaasTreesObjective
{
	MAAS_TREES_REGRESSION,		/* margin is the prediction */
	MAAS_TREES_LOGISTIC,		/* sigmoid(margin): binary:logistic, reg:logistic */
	MAAS_TREES_SOFTMAX			/* softmax over the groups: multi:soft{prob,max} */
} MaasTreesObjective;

typedef struct MaasXgbModel
{
	MaasTrees	trees;			/* arrays in maas_kalloc memory */
	MaasTreesObjective transform;
	bool		classification; /* binary:* and multi:*; reg:logistic is not */
	int32_t		n_classes;		/* classification: 2 or num_class */
	char		objective[64];	/* XGBoost's name, e.g. "binary:logistic" */
	double		base_score;		/* as XGBoost stores it (probability space) */
	int32_t		n_rounds;		/* boosting rounds (trees / groups / parallel) */
	int32_t		best_iteration; /* attributes.best_iteration, or -1 */
	/* feature names and types from the model, when it has them, else NULL */
	char	  **feature_names;	/* n_features */
} MaasXgbModel;

/*
 * Read XGBoost's JSON model (save_model("x.json") of 1.x, also 2.x) into
 * the trees form.  Understood: gbtree and dart boosters (dart's weight_drop
 * is folded into the leaves), numerical splits, objectives binary:logistic,
 * binary:logitraw, reg:logistic, multi:softprob, multi:softmax,
 * reg:squarederror, reg:linear, reg:pseudohubererror, reg:absoluteerror,
 * reg:squaredlogerror.  Refused by name: gblinear, categorical splits,
 * vector leaves, other objectives (count:poisson, survival:*, rank:*, ...).
 * Nodes are renumbered depth-first, so the result always has children
 * after parents, and unreachable (deleted) nodes are dropped.  Every array
 * length and index is checked; the result passes maas_trees_check.
 *
 * Predictions equal XGBoost's: the base margin is base_score through the
 * objective's ProbToMargin (logit for the logistic objectives, identity
 * otherwise -- also for multi:*, where every class starts from base_score
 * and softmax removes it), then the leaves of the trees are added in
 * order, in float, and the transform is applied.
 */
extern bool maas_xgb_read(const char *json, size_t len, const MaasTick *tick,
						  MaasXgbModel *out, MaasError *err);

#endif							/* MAAS_TREES_H */
