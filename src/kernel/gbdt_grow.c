/*
 * gbdt_grow.c
 *		The boosted-trees trainer's tree growing: the best split of a node,
 *		the partition of a level's rows, growing one tree depth-wise, and
 *		appending it to the model's arrays (train_gbdt.c has the overview).
 */
#include "train_gbdt_int.h"

/* ---- splits ---- */

static inline double
threshold_l1(double g, double alpha)
{
	if (g > alpha)
		return g - alpha;
	if (g < -alpha)
		return g + alpha;
	return 0.0;
}

static inline double
calc_gain(const MaasGbdtConfig *cfg, double G, double H)
{
	double		t;

	if (H < cfg->min_child_weight || H <= 0.0)
		return 0.0;
	t = threshold_l1(G, cfg->alpha);
	return t * t / (H + cfg->lambda);
}

static inline double
calc_weight(const MaasGbdtConfig *cfg, double G, double H)
{
	if (H < cfg->min_child_weight || H <= 0.0)
		return 0.0;
	return -threshold_l1(G, cfg->alpha) / (H + cfg->lambda);
}

/* the best split of node nd from its histogram (feature -1: none) */
static void
find_split(const Gbdt *s, Node *nd)
{
	const MaasGbdtConfig *cfg = s->cfg;
	const HistBin *hist = s->slots[nd->slot];
	double		parent_gain = calc_gain(cfg, nd->G, nd->H);
	double		mcw = cfg->min_child_weight;

	nd->feature = -1;
	nd->gain = 0.0;
	for (int k = 0; k < s->n_feats; k++)
	{
		int			f = s->feats[k];
		const HistBin *h = hist + s->hoff[f];
		int			nb = s->nbins[f];
		double		gm = 0.0,
					hm = 0.0;
		double		GL = 0.0,
					HL = 0.0;
		bool		missing;

		if (s->miss_code[f] != MISSING_NONE)
		{
			gm = h[nb].g;
			hm = h[nb].h;
		}
		missing = hm > 0.0;
		for (int b = 0; b < nb - 1; b++)
		{
			GL += h[b].g;
			HL += h[b].h;
			/* missing values to the right */
			{
				double		hr = nd->H - HL;

				if (HL >= mcw && hr >= mcw)
				{
					double		gain = calc_gain(cfg, GL, HL) +
						calc_gain(cfg, nd->G - GL, hr) - parent_gain;

					if (gain > nd->gain)
					{
						nd->gain = gain;
						nd->feature = f;
						nd->split_bin = b;
						nd->default_left = false;
						nd->GL = GL;
						nd->HL = HL;
					}
				}
			}
			/* missing values to the left, if there are any */
			if (missing)
			{
				double		gl = GL + gm,
							hl = HL + hm;
				double		hr = nd->H - hl;

				if (hl >= mcw && hr >= mcw)
				{
					double		gain = calc_gain(cfg, gl, hl) +
						calc_gain(cfg, nd->G - gl, hr) - parent_gain;

					if (gain > nd->gain)
					{
						nd->gain = gain;
						nd->feature = f;
						nd->split_bin = b;
						nd->default_left = true;
						nd->GL = gl;
						nd->HL = hl;
					}
				}
			}
		}
	}
	if (nd->feature >= 0 && (nd->gain <= SPLIT_EPS || nd->gain < cfg->gamma))
		nd->feature = -1;
}

typedef struct SplitJob
{
	Gbdt	   *s;
	const int  *level;
	int			n_level;
} SplitJob;

static void
split_part(void *arg, int t, int m)
{
	SplitJob   *job = arg;
	int64_t		i0,
				i1;

	maas_split_range(job->n_level, t, m, &i0, &i1);
	for (int64_t i = i0; i < i1; i++)
		find_split(job->s, &job->s->nodes[job->level[i]]);
}

/* ---- a level's rows ---- */

/*
 * After a level's splits are chosen, one pass over the rows of each of its
 * nodes does what that node needs:
 *	LEAF		the node does not split: its rows get its value
 *	SPLIT_LAST	it splits into two leaves (the last level): each row gets
 *				the value of the side it goes to; no partition needed
 *	SPLIT		it splits and the children go on: each row's direction is
 *				noted and counted, then a second pass writes the left rows
 *				and the right rows of the node, in order, to the other row
 *				buffer, which becomes the current one (rows of leaves are
 *				not needed any more)
 * The rows of all the level's nodes are cut into equal pieces, one a part.
 */
typedef enum EntryKind
{
	ENTRY_LEAF,
	ENTRY_SPLIT_LAST,
	ENTRY_SPLIT
} EntryKind;

typedef struct LevelJob
{
	Gbdt	   *s;
	int			k;				/* the output group */
	const int  *nodes;			/* the level's nodes */
	const uint8_t *kind;		/* EntryKind of each */
	int			n;
	int64_t    *start;			/* n + 1: prefix of their sizes */
	int64_t    *count;			/* n * parts: left rows per node and piece */
	int64_t    *lpos;			/* n * parts: where each piece writes */
	int64_t    *rpos;
	int			parts;
	int			phase;
} LevelJob;

static void
level_piece(LevelJob *job, int t)
{
	Gbdt	   *s = job->s;
	const int	K = s->K;
	float	   *margin = s->margin + job->k;
	int64_t		total = job->start[job->n];
	int64_t		p0,
				p1;
	int			i;

	maas_split_range(total, t, job->parts, &p0, &p1);
	if (p0 == p1)
		return;
	/* the first node whose rows hold position p0 */
	{
		int			lo = 0,
					hi = job->n - 1;

		while (lo < hi)
		{
			int			mid = (lo + hi + 1) >> 1;

			if (job->start[mid] <= p0)
				lo = mid;
			else
				hi = mid - 1;
		}
		i = lo;
	}
	for (; i < job->n && job->start[i] < p1; i++)
	{
		const Node *nd = &s->nodes[job->nodes[i]];
		int64_t		a = p0 > job->start[i] ? p0 : job->start[i];
		int64_t		b = p1 < job->start[i + 1] ? p1 : job->start[i + 1];
		int64_t		q0 = nd->begin + (a - job->start[i]);
		int64_t		q1 = nd->begin + (b - job->start[i]);
		const int32_t *rows = s->rows;

		if (job->kind[i] == ENTRY_LEAF)
		{
			if (job->phase == 0)
				for (int64_t q = q0; q < q1; q++)
					margin[(size_t) rows[q] * K] += nd->value;
			continue;
		}
		if (job->kind[i] == ENTRY_SPLIT_LAST)
		{
			if (job->phase == 0)
			{
				const uint8_t *col = s->cbins + (size_t) nd->feature * s->n;
				int			sb = nd->split_bin;
				int			miss = nd->default_left ? s->miss_code[nd->feature] : -1;
				float		vl = s->nodes[nd->left].value;
				float		vr = s->nodes[nd->right].value;

				for (int64_t q = q0; q < q1; q++)
				{
					int32_t		r = rows[q];
					int			code = col[r];

					margin[(size_t) r * K] += ((code <= sb) | (code == miss)) ? vl : vr;
				}
			}
			continue;
		}
		if (job->phase == 0)
		{
			int64_t		c = 0;
			const uint8_t *col = s->cbins + (size_t) nd->feature * s->n;
			int			sb = nd->split_bin;
			int			miss = nd->default_left ? s->miss_code[nd->feature] : -1;

			for (int64_t q = q0; q < q1; q++)
			{
				int			code = col[rows[q]];
				uint8_t		l = (code <= sb) | (code == miss);

				s->dir[q] = l;
				c += l;
			}
			job->count[(size_t) i * job->parts + t] = c;
		}
		else
		{
			int64_t		lp = job->lpos[(size_t) i * job->parts + t];
			int64_t		rp = job->rpos[(size_t) i * job->parts + t];
			int32_t    *out = s->tmp;

			/*
			 * Branch-free (a direction is as likely one way as the other;
			 * written with masks, as a conditional here becomes a branch)
			 */
			for (int64_t q = q0; q < q1; q++)
			{
				int64_t		left = s->dir[q];
				int64_t		at = rp ^ ((lp ^ rp) & -left);

				out[at] = rows[q];
				lp += left;
				rp += 1 - left;
			}
		}
	}
}

/* the pool may run fewer threads than job->parts: each takes every m-th piece */
static void
level_part(void *arg, int t, int m)
{
	LevelJob   *job = arg;

	for (int p = t; p < job->parts; p += m)
		level_piece(job, p);
}

/*
 * The pass over a level's nodes (see above); for the SPLIT ones, nleft[i]
 * gets the number of left rows.
 */
static void
level_pass(Gbdt *s, int k, const int *nodes, const uint8_t *kind, int n, int64_t *nleft)
{
	LevelJob	job;
	int			parts = s->threads;
	bool		any_split = false;

	job.s = s;
	job.k = k;
	job.nodes = nodes;
	job.kind = kind;
	job.n = n;
	job.parts = parts;
	job.start = s->part_start;
	job.count = s->part_count;
	job.lpos = s->part_lpos;
	job.rpos = s->part_rpos;
	job.start[0] = 0;
	for (int i = 0; i < n; i++)
	{
		const Node *nd = &s->nodes[nodes[i]];

		job.start[i + 1] = job.start[i] + (nd->end - nd->begin);
		any_split |= kind[i] == ENTRY_SPLIT;
	}
	memset(job.count, 0, sizeof(int64_t) * n * parts);

	job.phase = 0;
	maas_parallel(s->threads, level_part, &job);
	if (!any_split)
		return;
	for (int i = 0; i < n; i++)
	{
		const Node *nd = &s->nodes[nodes[i]];
		int64_t		left = 0;
		int64_t		lp,
					rp;

		if (kind[i] != ENTRY_SPLIT)
			continue;
		for (int t = 0; t < parts; t++)
			left += job.count[(size_t) i * parts + t];
		nleft[i] = left;
		lp = nd->begin;
		rp = nd->begin + left;
		for (int t = 0; t < parts; t++)
		{
			int64_t		c = job.count[(size_t) i * parts + t];
			int64_t		a,
						b,
						len;

			/* the size of piece t of this node */
			maas_split_range(job.start[n], t, parts, &a, &b);
			a = a > job.start[i] ? a : job.start[i];
			b = b < job.start[i + 1] ? b : job.start[i + 1];
			len = b > a ? b - a : 0;
			job.lpos[(size_t) i * parts + t] = lp;
			job.rpos[(size_t) i * parts + t] = rp;
			lp += c;
			rp += len - c;
		}
	}
	job.phase = 1;
	maas_parallel(s->threads, level_part, &job);
	{
		int32_t    *t = s->rows;

		s->rows = s->tmp;
		s->tmp = t;
	}
}

/* ---- growing one tree ---- */
static void
new_node(Node *nd, int64_t begin, int64_t end, double G, double H, int depth)
{
	nd->begin = begin;
	nd->end = end;
	nd->G = G;
	nd->H = H;
	nd->depth = depth;
	nd->slot = -1;
	nd->feature = -1;
	nd->split_bin = 0;
	nd->default_left = false;
	nd->gain = 0.0;
	nd->GL = nd->HL = 0.0;
	nd->left = nd->right = -1;
	nd->value = 0.0f;
}

static float
leaf_value(const Gbdt *s, const Node *nd)
{
	return (float) s->cfg->eta * (float) calc_weight(s->cfg, nd->G, nd->H);
}

/*
 * Grow a tree on the gradients of group k over rows[0 .. n_rows) and the
 * features feats[0 .. n_feats), adding its values to the margins of those
 * rows as its leaves are settled.
 */
bool
gbdt_grow_tree(Gbdt *s, int k, const MaasTrainHooks *hooks, MaasError *err)
{
	const GradPair *gh = s->gh + (size_t) k * s->n;
	const int	max_depth = s->cfg->max_depth;
	int		   *level = s->level;
	int		   *next = s->next;
	int			n_level = 1;
	Node	   *root = &s->nodes[0];

	s->n_nodes = 1;
	new_node(root, 0, s->n_rows, 0.0, 0.0, 0);
	if ((root->slot = gbdt_slot_get(s, err)) < 0)
		return false;
	s->tasks[0].hist = s->slots[root->slot];
	s->tasks[0].begin = 0;
	s->tasks[0].end = s->n_rows;
	s->tasks[0].parent = NULL;
	gbdt_build_hists(s, gh, 1, hooks);
	{
		/* the root's sums: every row is in one bin of any feature */
		int			f = s->feats[0];
		int			len = s->nbins[f] + (s->miss_code[f] != MISSING_NONE);
		const HistBin *h = s->slots[root->slot] + s->hoff[f];

		for (int j = 0; j < len; j++)
		{
			root->G += h[j].g;
			root->H += h[j].h;
		}
	}
	level[0] = 0;

	for (int depth = 0; n_level > 0; depth++)
	{
		SplitJob	sj = {s, level, n_level};
		bool		last = depth + 1 >= max_depth;
		int			n_next = 0;
		int			n_tasks = 0;
		int		   *tmp;

		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);

		maas_parallel(n_level > 1 ? s->threads : 1, split_part, &sj);
		for (int i = 0; i < n_level; i++)
		{
			Node	   *nd = &s->nodes[level[i]];

			if (nd->feature >= 0 && s->n_nodes + 2 <= s->max_nodes)
			{
				int			l = s->n_nodes++;
				int			r = s->n_nodes++;

				new_node(&s->nodes[l], -1, -1, nd->GL, nd->HL, depth + 1);
				new_node(&s->nodes[r], -1, -1, nd->G - nd->GL, nd->H - nd->HL, depth + 1);
				s->nodes[l].value = leaf_value(s, &s->nodes[l]);
				s->nodes[r].value = leaf_value(s, &s->nodes[r]);
				nd->left = l;
				nd->right = r;
				s->kind[i] = last ? ENTRY_SPLIT_LAST : ENTRY_SPLIT;
			}
			else
			{
				nd->feature = -1;
				nd->value = leaf_value(s, nd);
				s->kind[i] = ENTRY_LEAF;
			}
			if (s->kind[i] != ENTRY_SPLIT)
			{
				gbdt_slot_put(s, nd->slot);
				nd->slot = -1;
			}
		}
		level_pass(s, k, level, s->kind, n_level, s->nleft);
		if (last)
			break;

		for (int i = 0; i < n_level; i++)
		{
			Node	   *nd = &s->nodes[level[i]];
			Node	   *L,
					   *R,
					   *small,
					   *large;

			if (s->kind[i] != ENTRY_SPLIT)
				continue;
			L = &s->nodes[nd->left];
			R = &s->nodes[nd->right];
			L->begin = nd->begin;
			L->end = nd->begin + s->nleft[i];
			R->begin = L->end;
			R->end = nd->end;
			small = (L->end - L->begin <= R->end - R->begin) ? L : R;
			large = small == L ? R : L;
			large->slot = nd->slot;
			nd->slot = -1;
			if ((small->slot = gbdt_slot_get(s, err)) < 0)
				return false;
			s->tasks[n_tasks].hist = s->slots[small->slot];
			s->tasks[n_tasks].begin = small->begin;
			s->tasks[n_tasks].end = small->end;
			s->tasks[n_tasks].parent = s->slots[large->slot];
			n_tasks++;
			next[n_next++] = nd->left;
			next[n_next++] = nd->right;
		}
		if (n_tasks > 0)
			gbdt_build_hists(s, gh, n_tasks, hooks);
		tmp = level;
		level = next;
		next = tmp;
		n_level = n_next;
	}
	return true;
}

/* ---- the model arrays ---- */

static bool
grow_array(void **p, int32_t used, int32_t cap, size_t elem)
{
	void	   *q = maas_kalloc_array(cap, elem);

	if (q == NULL)
		return false;
	if (used > 0)
		memcpy(q, *p, (size_t) used * elem);
	*p = q;
	return true;
}

/* append the grown tree to the model, for group k */
bool
gbdt_emit_tree(Gbdt *s, int k, MaasError *err)
{
	int32_t		base = s->out_nodes;

	if (s->out_trees + 1 > s->cap_trees)
	{
		int32_t		cap = s->cap_trees * 2;

		if (!grow_array((void **) &s->o_roots, s->out_trees, cap, sizeof(int32_t)) ||
			!grow_array((void **) &s->o_groups, s->out_trees, cap, sizeof(int32_t)))
			return maas_error_nomem(err);
		s->cap_trees = cap;
	}
	if ((int64_t) s->out_nodes + s->n_nodes > MAAS_TREES_MAX_NODES)
		return maas_error(err, MAAS_ERR_LIMIT, "the model would have more than %d nodes",
						  MAAS_TREES_MAX_NODES);
	if (s->out_nodes + s->n_nodes > s->cap_nodes)
	{
		int64_t		want = (int64_t) s->cap_nodes * 2;
		int32_t		cap;

		if (want < (int64_t) s->out_nodes + s->n_nodes)
			want = (int64_t) s->out_nodes + s->n_nodes;
		if (want > MAAS_TREES_MAX_NODES)
			want = MAAS_TREES_MAX_NODES;
		cap = (int32_t) want;
		if (!grow_array((void **) &s->o_feature, s->out_nodes, cap, sizeof(int32_t)) ||
			!grow_array((void **) &s->o_threshold, s->out_nodes, cap, sizeof(float)) ||
			!grow_array((void **) &s->o_left, s->out_nodes, cap, sizeof(int32_t)) ||
			!grow_array((void **) &s->o_right, s->out_nodes, cap, sizeof(int32_t)) ||
			!grow_array((void **) &s->o_dleft, s->out_nodes, cap, 1) ||
			!grow_array((void **) &s->o_value, s->out_nodes, cap, sizeof(float)) ||
			!grow_array((void **) &s->o_gain, s->out_nodes, cap, sizeof(float)) ||
			!grow_array((void **) &s->o_cover, s->out_nodes, cap, sizeof(float)))
			return maas_error_nomem(err);
		s->cap_nodes = cap;
	}
	s->o_roots[s->out_trees] = base;
	s->o_groups[s->out_trees] = k;
	s->out_trees++;
	for (int i = 0; i < s->n_nodes; i++)
	{
		const Node *nd = &s->nodes[i];
		int32_t		o = base + i;

		s->o_cover[o] = (float) nd->H;
		if (nd->left < 0)
		{
			s->o_feature[o] = -1;
			s->o_threshold[o] = 0.0f;
			s->o_left[o] = -1;
			s->o_right[o] = -1;
			s->o_dleft[o] = 0;
			s->o_value[o] = nd->value;
			s->o_gain[o] = 0.0f;
		}
		else
		{
			s->o_feature[o] = nd->feature;
			s->o_threshold[o] = s->cuts[nd->feature][nd->split_bin];
			s->o_left[o] = base + nd->left;
			s->o_right[o] = base + nd->right;
			s->o_dleft[o] = nd->default_left ? 1 : 0;
			s->o_value[o] = 0.0f;
			s->o_gain[o] = (float) nd->gain;
		}
	}
	s->out_nodes += s->n_nodes;
	return true;
}
