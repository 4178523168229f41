/*
 * trees.c
 *		The trees form: its checker, the packing into evaluation nodes, the
 *		evaluator, and feature importance (see trees.h).
 *
 * Evaluation.  Packed nodes are 16 bytes (threshold or leaf value, feature
 * with the default-left and leaf bits, the left child's index), renumbered
 * breadth-first so that the right child is the left one's neighbour, and a
 * leaf is its own child, so walking a tree for exactly its depth ends on
 * the row's leaf whatever path the row took.  That makes the walk
 * branch-free: each step is a load of the row's feature, two compares and
 * an add.  A batch goes through in blocks of BLOCK_ROWS rows; each tree
 * walks the whole block one level at a time, so the block's rows are
 * independent chains the CPU overlaps, and the tree's nodes and the block's
 * rows stay in cache.  One row walks LANES trees at a time, the same way.
 * Trees deeper than SYNC_DEPTH (rare: lossguide growth) are walked with an
 * ordinary loop that stops at the leaf.
 */
#include "trees.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "threads.h"

#define BLOCK_ROWS		64
#define LANES			8
#define SYNC_DEPTH		24
#define PARALLEL_ROWS	4096	/* below this, one thread */

/* ---- the checker ---- */

static bool
node_error(MaasError *err, int32_t t, int32_t node, const char *what)
{
	return maas_error(err, MAAS_ERR_INVALID, "tree %d node %d: %s", t, node, what);
}

bool
maas_trees_check(const MaasTrees *tr, MaasError *err)
{
	uint8_t    *parents;
	uint16_t   *depth;

	if (tr->n_features < 1)
		return maas_error(err, MAAS_ERR_INVALID, "trees need at least one feature");
	if (tr->n_groups < 1 || tr->n_groups > MAAS_TREES_MAX_GROUPS)
		return maas_error(err, MAAS_ERR_INVALID,
						  "number of output groups %d is out of range (1 to %d)",
						  tr->n_groups, MAAS_TREES_MAX_GROUPS);
	if (tr->n_trees < 0 || tr->n_nodes < 0 || tr->n_nodes > MAAS_TREES_MAX_NODES)
		return maas_error(err, MAAS_ERR_INVALID, "number of trees or nodes is out of range");
	if (tr->n_trees == 0 && tr->n_nodes != 0)
		return maas_error(err, MAAS_ERR_INVALID, "nodes without trees");
	if (tr->n_trees > tr->n_nodes)
		return maas_error(err, MAAS_ERR_INVALID,
						  "%d trees but only %d nodes", tr->n_trees, tr->n_nodes);
	for (int g = 0; g < tr->n_groups; g++)
		if (!isfinite(tr->base_score[g]))
			return maas_error(err, MAAS_ERR_INVALID,
							  "base score of group %d is not finite", g);
	if (tr->n_trees == 0)
		return true;

	for (int32_t t = 0; t < tr->n_trees; t++)
	{
		int32_t		r = tr->roots[t];
		int32_t		next = t + 1 < tr->n_trees ? tr->roots[t + 1] : tr->n_nodes;

		if (t == 0 && r != 0)
			return maas_error(err, MAAS_ERR_INVALID, "first tree does not start at node 0");
		if (r < 0 || next <= r || next > tr->n_nodes)
			return maas_error(err, MAAS_ERR_INVALID,
							  "tree %d: root %d is out of order or out of range", t, r);
		if (tr->groups[t] < 0 || tr->groups[t] >= tr->n_groups)
			return maas_error(err, MAAS_ERR_INVALID,
							  "tree %d: group %d is out of range (0 to %d)",
							  t, tr->groups[t], tr->n_groups - 1);
	}

	parents = maas_kalloc(tr->n_nodes);
	depth = maas_kalloc_array(tr->n_nodes, sizeof(uint16_t));
	if (parents == NULL || depth == NULL)
		return maas_error_nomem(err);
	memset(parents, 0, tr->n_nodes);

	for (int32_t t = 0; t < tr->n_trees; t++)
	{
		int32_t		r = tr->roots[t];
		int32_t		end = t + 1 < tr->n_trees ? tr->roots[t + 1] : tr->n_nodes;

		depth[r] = 0;
		for (int32_t i = r; i < end; i++)
		{
			int32_t		f = tr->feature[i];
			int32_t		l = tr->left[i];
			int32_t		rt = tr->right[i];

			if (i != r && parents[i] != 1)
				return node_error(err, t, i - r,
								  parents[i] == 0 ? "node is not reached from the root"
								  : "node has more than one parent");
			if (!isfinite(tr->value[i]))
				return node_error(err, t, i - r, "value is not finite");
			if ((tr->gain && !isfinite(tr->gain[i])) ||
				(tr->cover && !isfinite(tr->cover[i])))
				return node_error(err, t, i - r, "gain or cover is not finite");
			if (tr->default_left[i] > 1)
				return node_error(err, t, i - r, "default_left is neither 0 nor 1");
			if (f == -1)
			{
				if (l != -1 || rt != -1)
					return node_error(err, t, i - r, "leaf has children");
				continue;
			}
			if (f < 0 || f >= tr->n_features)
			{
				char		msg[96];

				snprintf(msg, sizeof(msg), "split feature %d is out of range (0 to %d)",
						 f, tr->n_features - 1);
				return node_error(err, t, i - r, msg);
			}
			if (isnan(tr->threshold[i]))
				return node_error(err, t, i - r, "threshold is NaN");
			if (l <= i || l >= end || rt <= i || rt >= end || l == rt)
			{
				char		msg[128];

				snprintf(msg, sizeof(msg),
						 "children %d and %d are not two distinct nodes after it in its tree",
						 l - r, rt - r);
				return node_error(err, t, i - r, msg);
			}
			if (depth[i] >= MAAS_TREES_MAX_DEPTH)
				return maas_error(err, MAAS_ERR_INVALID,
								  "tree %d is deeper than %d", t, MAAS_TREES_MAX_DEPTH);
			/* a node seen twice would have parents 2; saturate there */
			parents[l] = parents[l] ? 2 : 1;
			parents[rt] = parents[rt] ? 2 : 1;
			depth[l] = depth[i] + 1;
			depth[rt] = depth[i] + 1;
		}
	}
	return true;
}

/* ---- packing ---- */

MaasTreesPlan *
maas_trees_compile(const MaasTrees *tr, MaasError *err)
{
	MaasTreesPlan *p;

	if (!maas_trees_check(tr, err))
		return NULL;
	p = maas_kalloc(sizeof(MaasTreesPlan));
	if (p == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	p->n_features = tr->n_features;
	p->n_groups = tr->n_groups;
	p->n_trees = tr->n_trees;
	p->n_nodes = tr->n_nodes;
	p->max_depth = 0;
	p->nodes = maas_kalloc_array(tr->n_nodes > 0 ? tr->n_nodes : 1, sizeof(MaasTreeNode));
	p->roots = maas_kalloc_array(tr->n_trees > 0 ? tr->n_trees : 1, sizeof(int32_t));
	p->groups = maas_kalloc_array(tr->n_trees > 0 ? tr->n_trees : 1, sizeof(int32_t));
	p->depth = maas_kalloc_array(tr->n_trees > 0 ? tr->n_trees : 1, sizeof(uint16_t));
	p->base_score = maas_kalloc_array(tr->n_groups, sizeof(float));
	if (!p->nodes || !p->roots || !p->groups || !p->depth || !p->base_score)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memcpy(p->base_score, tr->base_score, sizeof(float) * tr->n_groups);
	if (tr->n_trees > 0)
	{
		memcpy(p->roots, tr->roots, sizeof(int32_t) * tr->n_trees);
		memcpy(p->groups, tr->groups, sizeof(int32_t) * tr->n_trees);
	}

	/*
	 * Breadth-first from each root: a node's children get the next two
	 * places, so siblings are adjacent.  queue holds old indices in new
	 * order (new index = place in the queue), depth the new nodes' depths.
	 */
	{
		int32_t    *queue = maas_kalloc_array(tr->n_nodes > 0 ? tr->n_nodes : 1, sizeof(int32_t));
		uint16_t   *depth = maas_kalloc_array(tr->n_nodes > 0 ? tr->n_nodes : 1, sizeof(uint16_t));

		if (queue == NULL || depth == NULL)
		{
			maas_error_nomem(err);
			return NULL;
		}
		for (int32_t t = 0; t < tr->n_trees; t++)
		{
			int32_t		r = tr->roots[t];
			int32_t		tail = r;	/* next free new index */
			int			maxd = 0;

			queue[tail++] = r;
			depth[r] = 0;
			for (int32_t i = r; i < tail; i++)
			{
				int32_t		old = queue[i];
				MaasTreeNode *n = &p->nodes[i];

				n->reserved = 0;
				if (tr->feature[old] < 0)
				{
					n->value = tr->value[old];
					n->split = MAAS_TREE_LEAF;
					n->left = i;
					if (depth[i] > maxd)
						maxd = depth[i];
					continue;
				}
				n->value = tr->threshold[old];
				n->split = (uint32_t) tr->feature[old] |
					(tr->default_left[old] ? MAAS_TREE_DEFAULT_LEFT : 0);
				n->left = tail;
				depth[tail] = depth[tail + 1] = depth[i] + 1;
				queue[tail++] = tr->left[old];
				queue[tail++] = tr->right[old];
			}
			p->depth[t] = (uint16_t) maxd;
			if (maxd > p->max_depth)
				p->max_depth = maxd;
		}
	}
	return p;
}

/* ---- evaluation ---- */

static inline int32_t
step(const MaasTreeNode *nodes, int32_t i, const float *row)
{
	const MaasTreeNode *n = &nodes[i];
	uint32_t	split = n->split;
	float		v = row[split & MAAS_TREE_FEATURE_MASK];

	/* every term computed, no short-circuit: the CPU never guesses */
	uint32_t	go = (uint32_t) (v < n->value) |
		((uint32_t) (v != v) & (split >> 31)) | ((split >> 30) & 1u);

	return n->left + 1 - (int32_t) go;
}

/* leaf of a deep tree, by an ordinary walk */
static inline int32_t
walk(const MaasTreeNode *nodes, int32_t i, const float *row)
{
	while (!(nodes[i].split & MAAS_TREE_LEAF))
		i = step(nodes, i, row);
	return i;
}

/* the leaves of rows [0, m) of x (m <= BLOCK_ROWS) in a tree, into idx */
static inline void
walk_block(const MaasTreeNode *nodes, int32_t root, int depth, int m,
		   const float *x, int nf, int32_t *idx)
{
	if (depth > SYNC_DEPTH)
	{
		for (int r = 0; r < m; r++)
			idx[r] = walk(nodes, root, x + (size_t) r * nf);
		return;
	}
	for (int r = 0; r < m; r++)
		idx[r] = root;
	for (int d = 0; d < depth; d++)
		for (int r = 0; r < m; r++)
			idx[r] = step(nodes, idx[r], x + (size_t) r * nf);
}

/* rows [0, m) of x (m <= BLOCK_ROWS) into out */
static void
forward_block(const MaasTreesPlan *p, int m, const float *x, float *out)
{
	const MaasTreeNode *nodes = p->nodes;
	const int	nf = p->n_features;
	const int	ng = p->n_groups;
	int32_t		idx[BLOCK_ROWS];

	for (int r = 0; r < m; r++)
		memcpy(out + (size_t) r * ng, p->base_score, sizeof(float) * ng);

	for (int32_t t = 0; t < p->n_trees; t++)
	{
		float	   *o = out + p->groups[t];

		walk_block(nodes, p->roots[t], p->depth[t], m, x, nf, idx);
		for (int r = 0; r < m; r++)
			o[(size_t) r * ng] += nodes[idx[r]].value;
	}
}

void
maas_tree_add(const MaasTreeNode *nodes, int32_t root, int depth, int64_t n_rows,
			  const float *x, int n_features, float *out, int out_stride)
{
	int32_t		idx[BLOCK_ROWS];

	for (int64_t r0 = 0; r0 < n_rows; r0 += BLOCK_ROWS)
	{
		int			m = n_rows - r0 < BLOCK_ROWS ? (int) (n_rows - r0) : BLOCK_ROWS;

		walk_block(nodes, root, depth, m, x + r0 * n_features, n_features, idx);
		for (int r = 0; r < m; r++)
			out[(r0 + r) * out_stride] += nodes[idx[r]].value;
	}
}

/* one row: LANES trees at a time, then added in tree order */
static void
forward_row(const MaasTreesPlan *p, const float *row, float *out)
{
	const MaasTreeNode *nodes = p->nodes;

	memcpy(out, p->base_score, sizeof(float) * p->n_groups);
	for (int32_t t0 = 0; t0 < p->n_trees; t0 += LANES)
	{
		int32_t		idx[LANES];
		int			lanes = p->n_trees - t0 < LANES ? p->n_trees - t0 : LANES;
		int			depth = 0;

		for (int k = 0; k < lanes; k++)
		{
			idx[k] = p->roots[t0 + k];
			if (p->depth[t0 + k] > depth)
				depth = p->depth[t0 + k];
		}
		if (depth > SYNC_DEPTH)
		{
			for (int k = 0; k < lanes; k++)
				idx[k] = walk(nodes, idx[k], row);
		}
		else if (lanes == LANES)
		{
			for (int d = 0; d < depth; d++)
				for (int k = 0; k < LANES; k++)
					idx[k] = step(nodes, idx[k], row);
		}
		else
		{
			for (int d = 0; d < depth; d++)
				for (int k = 0; k < lanes; k++)
					idx[k] = step(nodes, idx[k], row);
		}
		for (int k = 0; k < lanes; k++)
			out[p->groups[t0 + k]] += nodes[idx[k]].value;
	}
}

void
maas_trees_forward(const MaasTreesPlan *p, int64_t n_rows, const float *x,
				   float *out)
{
	if (n_rows == 1)
	{
		forward_row(p, x, out);
		return;
	}
	for (int64_t r0 = 0; r0 < n_rows; r0 += BLOCK_ROWS)
	{
		int			m = n_rows - r0 < BLOCK_ROWS ? (int) (n_rows - r0) : BLOCK_ROWS;

		forward_block(p, m, x + r0 * p->n_features, out + r0 * p->n_groups);
	}
}

typedef struct ForwardJob
{
	const MaasTreesPlan *plan;
	int64_t		n_blocks;
	int64_t		n_rows;
	const float *x;
	float	   *out;
} ForwardJob;

static void
forward_part(void *arg, int t, int m)
{
	const ForwardJob *job = arg;
	int64_t		b0,
				b1;

	maas_split_range(job->n_blocks, t, m, &b0, &b1);
	for (int64_t b = b0; b < b1; b++)
	{
		int64_t		r0 = b * BLOCK_ROWS;
		int			rows = job->n_rows - r0 < BLOCK_ROWS ? (int) (job->n_rows - r0) : BLOCK_ROWS;

		forward_block(job->plan, rows, job->x + r0 * job->plan->n_features,
					  job->out + r0 * job->plan->n_groups);
	}
}

void
maas_trees_forward_parallel(const MaasTreesPlan *p, int64_t n_rows,
							const float *x, float *out, int n_threads)
{
	ForwardJob	job = {p, (n_rows + BLOCK_ROWS - 1) / BLOCK_ROWS, n_rows, x, out};

	if (n_threads <= 1 || n_rows < PARALLEL_ROWS)
	{
		maas_trees_forward(p, n_rows, x, out);
		return;
	}
	maas_parallel(n_threads, forward_part, &job);
}

/* ---- importance ---- */

void
maas_trees_importance(const MaasTrees *tr, MaasImportance *out)
{
	memset(out, 0, sizeof(MaasImportance) * tr->n_features);
	for (int32_t i = 0; i < tr->n_nodes; i++)
	{
		int32_t		f = tr->feature[i];

		if (f < 0)
			continue;
		out[f].weight++;
		if (tr->gain)
			out[f].total_gain += tr->gain[i];
		if (tr->cover)
			out[f].total_cover += tr->cover[i];
	}
	for (int32_t f = 0; f < tr->n_features; f++)
		if (out[f].weight > 0)
		{
			out[f].gain = out[f].total_gain / out[f].weight;
			out[f].cover = out[f].total_cover / out[f].weight;
		}
}
