/*
 * train_gbdt.c
 *		The histogram trainer of gradient-boosted trees (see train_gbdt.h
 *		for the parameters and why it is native).
 *
 * What lives in memory, for n training rows of d features and K output
 * groups (K = classes for multiclass, else 1):
 *
 *	bins		n * d bytes: each value's bin, row-major.  Feature f has
 *				nbins[f] value bins (cut at cuts[f]) and, when it had NaN in
 *				the training rows, the code nbins[f] for missing.
 *	cbins		the same, column-major: a partition reads one column
 *	gh			K * n (gradient, hessian) float pairs of the current round
 *	margin		n * K floats: the ensemble's output so far
 *	rows, tmp	n int32: the rows of each node of the tree being grown, as
 *				consecutive segments (a split partitions its segment)
 *	slots		histograms of (gradient, hessian) double sums, one bin after
 *				another for every feature (hoff[f] is where f starts), one
 *				per node still to split: at most 2^(max_depth-1)
 *	the trees	grown arrays in the trees form (trees.h)
 *
 * A tree grows depth-wise, one level at a time: the best split of every
 * node of the level from its histogram; the rows partitioned; the
 * histogram of the smaller child built from its rows and the larger one's
 * obtained by subtracting it from the parent's (in the parent's slot); the
 * last level needs no histograms at all.  A level's histograms are built
 * in one parallel pass split by features, so every sum is made by one
 * thread in row order: the model does not depend on the thread count.
 * Reductions over rows (losses, sums) go by fixed chunks for the same
 * reason.  Threads (threads.h) never tick or allocate; the calling thread
 * ticks between passes.
 *
 * The trainer's files, by phase: this one has the parameters, the margins
 * and the whole fit; gbdt_bin.c the cuts and the bins; gbdt_hist.c the
 * gradients, the losses and the histograms; gbdt_grow.c the splits, the
 * partition of a level's rows, growing one tree and appending it to the
 * model's arrays.  What they share is in train_gbdt_int.h.
 */
#include "train_gbdt_int.h"

/* ---- parameters ---- */

void
maas_gbdt_defaults(MaasGbdtConfig *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->objective = MAAS_GBDT_BINARY;
	cfg->n_classes = 2;
	cfg->n_estimators = 100;
	cfg->eta = 0.3;
	cfg->max_depth = 6;
	cfg->min_child_weight = 1.0;
	cfg->lambda = 1.0;
	cfg->alpha = 0.0;
	cfg->gamma = 0.0;
	cfg->subsample = 1.0;
	cfg->colsample_bytree = 1.0;
	cfg->max_bin = 256;
	cfg->base_score = NAN;
	cfg->class_weight = NULL;
	cfg->early_stopping_rounds = 0;
	cfg->threads = 1;
	cfg->seed = 42;
}

static bool
check_real(double v, double lo, bool lo_open, double hi, const char *name,
		   MaasError *err)
{
	if (!isfinite(v) || (lo_open ? v <= lo : v < lo) || v > hi)
	{
		if (isinf(hi))
			return maas_error(err, MAAS_ERR_INVALID, "%s must be %s %g, not %g",
							  name, lo_open ? "greater than" : "at least", lo, v);
		return maas_error(err, MAAS_ERR_INVALID, "%s must be %s %g and at most %g, not %g",
						  name, lo_open ? "greater than" : "at least", lo, hi, v);
	}
	return true;
}

static bool
check_int(int v, int lo, int hi, const char *name, MaasError *err)
{
	if (v < lo || v > hi)
		return maas_error(err, MAAS_ERR_INVALID, "%s must be between %d and %d, not %d",
						  name, lo, hi, v);
	return true;
}

bool
maas_gbdt_check_config(const MaasGbdtConfig *cfg, MaasError *err)
{
	if (cfg->objective == MAAS_GBDT_BINARY && cfg->n_classes != 2)
		return maas_error(err, MAAS_ERR_INVALID, "binary objective needs 2 classes, not %d",
						  cfg->n_classes);
	if (cfg->objective == MAAS_GBDT_MULTI &&
		!check_int(cfg->n_classes, 2, MAAS_TREES_MAX_GROUPS, "number of classes", err))
		return false;
	if (!check_int(cfg->n_estimators, 1, MAAS_GBDT_MAX_ROUNDS, "n_estimators", err) ||
		!check_real(cfg->eta, 0.0, true, 1.0, "learning_rate", err) ||
		!check_int(cfg->max_depth, 1, MAAS_GBDT_MAX_DEPTH, "max_depth", err) ||
		!check_real(cfg->min_child_weight, 0.0, false, INFINITY, "min_child_weight", err) ||
		!check_real(cfg->lambda, 0.0, false, INFINITY, "reg_lambda", err) ||
		!check_real(cfg->alpha, 0.0, false, INFINITY, "reg_alpha", err) ||
		!check_real(cfg->gamma, 0.0, false, INFINITY, "gamma", err) ||
		!check_real(cfg->subsample, 0.0, true, 1.0, "subsample", err) ||
		!check_real(cfg->colsample_bytree, 0.0, true, 1.0, "colsample_bytree", err) ||
		!check_int(cfg->max_bin, 2, MAAS_GBDT_MAX_BIN, "max_bin", err) ||
		!check_int(cfg->early_stopping_rounds, 0, MAAS_GBDT_MAX_ROUNDS,
				   "early_stopping_rounds", err) ||
		!check_int(cfg->threads, 1, MAAS_POOL_MAX_THREADS, "number of threads", err))
		return false;
	if (!isnan(cfg->base_score))
	{
		if (cfg->objective == MAAS_GBDT_BINARY)
		{
			if (!(cfg->base_score > 0.0 && cfg->base_score < 1.0))
				return maas_error(err, MAAS_ERR_INVALID,
								  "base_score must be between 0 and 1 for a binary objective, not %g",
								  cfg->base_score);
		}
		else if (!isfinite(cfg->base_score) || fabs(cfg->base_score) > 1e30)
			return maas_error(err, MAAS_ERR_INVALID, "base_score must be finite");
	}
	if (cfg->class_weight != NULL)
	{
		bool		any = false;

		if (cfg->objective == MAAS_GBDT_REGRESSION)
			return maas_error(err, MAAS_ERR_INVALID, "class weights need a classification objective");
		for (int c = 0; c < cfg->n_classes; c++)
		{
			if (!isfinite(cfg->class_weight[c]) || cfg->class_weight[c] < 0.0)
				return maas_error(err, MAAS_ERR_INVALID,
								  "class weight %d must be a finite number of at least 0", c);
			any |= cfg->class_weight[c] > 0.0;
		}
		if (!any)
			return maas_error(err, MAAS_ERR_INVALID, "class weights are all 0");
	}
	return true;
}

static int
n_groups_of(const MaasGbdtConfig *cfg)
{
	return cfg->objective == MAAS_GBDT_MULTI ? cfg->n_classes : 1;
}

static int64_t
max_slots_of(const MaasGbdtConfig *cfg, int64_t n)
{
	int64_t		s = (int64_t) 1 << (cfg->max_depth - 1);

	return s < n ? s : (n > 0 ? n : 1);
}

static int64_t
max_nodes_of(const MaasGbdtConfig *cfg, int64_t n)
{
	int64_t		s = ((int64_t) 2 << cfg->max_depth) - 1;
	int64_t		m = 2 * (n > 0 ? n : 1) - 1;

	return s < m ? s : m;
}

/* bytes of one histogram slot for d features (at most 257 bins each, padded) */
static size_t
slot_bytes(int d)
{
	return (size_t) d * (MAAS_GBDT_MAX_BIN + 4) * sizeof(HistBin);
}

bool
maas_gbdt_memory(const MaasGbdtConfig *cfg, int64_t n, int d, int64_t n_val,
				 size_t *bytes)
{
	size_t		total = 0;
	size_t		part;
	int			K = n_groups_of(cfg);
	int64_t		chunks = (n > n_val ? n : n_val) / CHUNK + 2;
	int64_t		nodes_total;

	if (n < 0 || d < 1 || n_val < 0)
		return false;
	/* bins (two layouts), gradients, margins, weights, rows, tmp,
	 * unsampled, directions */
	if (!maas_mul_size((size_t) n, (size_t) ((d + 7) & ~7) + d + 1, &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) n, (size_t) K * (sizeof(GradPair) + sizeof(float)), &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) n, sizeof(float) + 3 * sizeof(int32_t), &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) n_val, (size_t) K * sizeof(float), &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) chunks, 2 * sizeof(double), &part) ||
		!maas_add_size(total, part, &total))
		return false;
	/* cuts and binning sample: d features, per-feature sample buffers */
	if (!maas_mul_size((size_t) d, MAAS_GBDT_MAX_BIN * sizeof(float) + 8 * sizeof(int), &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) (n < BIN_SAMPLE ? n : BIN_SAMPLE),
					   (size_t) (cfg->threads + 1) * sizeof(float), &part) ||
		!maas_add_size(total, part, &total))
		return false;
	/* per-thread float scratch, histogram slots, the tree being grown */
	if (!maas_mul_size((size_t) cfg->threads, (SCRATCH_BINS * 2 + CHUNK) * sizeof(float), &part) ||
		!maas_add_size(total, part, &total))
		return false;
	if (!maas_mul_size((size_t) max_slots_of(cfg, n), slot_bytes(d) + 2 * sizeof(int) + sizeof(void *), &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) max_nodes_of(cfg, n), sizeof(Node) + sizeof(MaasTreeNode), &part) ||
		!maas_add_size(total, part, &total))
		return false;
	/* the model, grown by doubling: at most twice its final size, and
	 * the per-round losses */
	nodes_total = (int64_t) cfg->n_estimators * K * max_nodes_of(cfg, n);
	if (!maas_mul_size((size_t) nodes_total, 2 * (7 * sizeof(int32_t) + 1), &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) cfg->n_estimators * K, 4 * sizeof(int32_t) + 3 * sizeof(double), &part) ||
		!maas_add_size(total, part, &total))
		return false;
	*bytes = total;
	return true;
}

/* ---- margins ---- */

typedef struct MarginJob
{
	Gbdt	   *s;
	int			k;
	int32_t		root;			/* the tree in the model arrays */
} MarginJob;

/* rows the tree did not see (subsample < 1): walk it on their bins */
static void
margin_part(void *arg, int t, int m)
{
	MarginJob  *job = arg;
	Gbdt	   *s = job->s;
	int64_t		p0,
				p1;

	maas_split_range(s->n_unsampled, t, m, &p0, &p1);
	for (int64_t q = p0; q < p1; q++)
	{
		int32_t		r = s->unsampled[q];
		int			i = 0;

		while (s->nodes[i].left >= 0)
			i = goes_left(s, &s->nodes[i], r) ? s->nodes[i].left : s->nodes[i].right;
		s->margin[(size_t) r * s->K + job->k] += s->nodes[i].value;
	}
}

typedef struct ValJob
{
	Gbdt	   *s;
	int			k;
	int			depth;			/* of the new tree, packed in s->packed */
} ValJob;

/* the new tree's output added to the validation rows' margins */
static void
val_part(void *arg, int t, int m)
{
	ValJob	   *job = arg;
	Gbdt	   *s = job->s;
	int64_t		r0,
				r1;

	maas_split_range(s->val->n, t, m, &r0, &r1);
	if (r0 < r1)
		maas_tree_add(s->packed, 0, job->depth, r1 - r0, s->val->x + (size_t) r0 * s->d,
					  s->d, s->val_margin + (size_t) r0 * s->K + job->k, s->K);
}

/* the grown tree as evaluation nodes (trees.h), for the validation rows */
static int
pack_tree(Gbdt *s)
{
	int			depth = 0;

	for (int i = 0; i < s->n_nodes; i++)
	{
		const Node *nd = &s->nodes[i];
		MaasTreeNode *p = &s->packed[i];

		/* children are made in pairs (right = left + 1), as packing needs */
		p->reserved = 0;
		if (nd->left < 0)
		{
			p->value = nd->value;
			p->split = MAAS_TREE_LEAF;
			p->left = i;
			depth = nd->depth > depth ? nd->depth : depth;
		}
		else
		{
			p->value = s->cuts[nd->feature][nd->split_bin];
			p->split = (uint32_t) nd->feature | (nd->default_left ? MAAS_TREE_DEFAULT_LEFT : 0);
			p->left = nd->left;
		}
	}
	return depth;
}

/* validation loss (chunk_sum) and correct predictions (chunk_sum2) */
static void
val_loss_part(void *arg, int t, int m)
{
	Gbdt	   *s = arg;
	const MaasTrainSet *val = s->val;
	const int	K = s->K;
	int64_t		chunks = (val->n + CHUNK - 1) / CHUNK;
	int64_t		c0,
				c1;

	maas_split_range(chunks, t, m, &c0, &c1);
	for (int64_t c = c0; c < c1; c++)
	{
		int64_t		r1 = (c + 1) * CHUNK < val->n ? (c + 1) * CHUNK : val->n;
		double		loss = 0.0,
					good = 0.0;

		for (int64_t r = c * CHUNK; r < r1; r++)
		{
			const float *mg = s->val_margin + (size_t) r * K;

			if (s->cfg->objective == MAAS_GBDT_BINARY)
			{
				loss += logloss_margin(mg[0], fast_expf(-fabsf(mg[0])), val->cls[r]);
				good += (mg[0] >= 0.0f) == (val->cls[r] == 1);
			}
			else if (s->cfg->objective == MAAS_GBDT_MULTI)
			{
				float		mx = mg[0];
				int			arg = 0;
				double		sum = 0.0;

				for (int k = 1; k < K; k++)
					if (mg[k] > mx)
					{
						mx = mg[k];
						arg = k;
					}
				for (int k = 0; k < K; k++)
					sum += exp((double) mg[k] - mx);
				loss += log(sum) - ((double) mg[val->cls[r]] - mx);
				good += arg == val->cls[r];
			}
			else
			{
				double		e = (double) mg[0] - val->y[r];

				loss += e * e;
			}
		}
		s->chunk_sum[c] = loss;
		s->chunk_sum2[c] = good;
	}
}

/* ---- the whole fit ---- */

static bool
check_data(const MaasGbdtConfig *cfg, const MaasTrainSet *set, int d, bool train,
		   MaasError *err)
{
	const char *what = train ? "training" : "validation";

	if (set->n > 0 && set->d != d)
		return maas_error(err, MAAS_ERR_INVALID, "%s rows have %d features, expected %d",
						  what, set->d, d);
	if (set->n > INT32_MAX)
		return maas_error(err, MAAS_ERR_LIMIT, "more than %d %s rows", INT32_MAX, what);
	if (cfg->objective == MAAS_GBDT_REGRESSION)
	{
		for (int64_t r = 0; r < set->n; r++)
			if (!isfinite(set->y[r]))
				return maas_error(err, MAAS_ERR_INVALID,
								  "target of %s row %lld is not finite", what, (long long) r);
	}
	else
	{
		for (int64_t r = 0; r < set->n; r++)
			if (set->cls[r] < 0 || set->cls[r] >= cfg->n_classes)
				return maas_error(err, MAAS_ERR_INVALID,
								  "class %d of %s row %lld is out of range (0 to %d)",
								  set->cls[r], what, (long long) r, cfg->n_classes - 1);
	}
	return true;
}

/* margins the ensemble starts from, per group */
static bool
base_margins(Gbdt *s, float *base, MaasError *err)
{
	const MaasGbdtConfig *cfg = s->cfg;
	const MaasTrainSet *data = s->data;
	double		wsum = 0.0;
	double	   *acc = maas_kalloc_array(s->K > 1 ? s->K : 2, sizeof(double));
	int			classes = 0;

	if (acc == NULL)
		return maas_error_nomem(err);
	memset(acc, 0, sizeof(double) * (s->K > 1 ? s->K : 2));
	if (cfg->objective != MAAS_GBDT_REGRESSION)
	{
		int			nc = cfg->n_classes;
		double	   *cnt = maas_kalloc_array(nc, sizeof(double));

		if (cnt == NULL)
			return maas_error_nomem(err);
		memset(cnt, 0, sizeof(double) * nc);
		for (int64_t r = 0; r < data->n; r++)
			cnt[data->cls[r]] += s->weight ? s->weight[r] : 1.0;
		for (int c = 0; c < nc; c++)
		{
			classes += cnt[c] > 0.0;
			wsum += cnt[c];
		}
		if (classes < 2)
			return maas_error(err, MAAS_ERR_INVALID,
							  "the training rows have only one class");
		if (cfg->objective == MAAS_GBDT_BINARY)
		{
			double		p = cnt[1] / wsum;

			if (!isnan(cfg->base_score))
				p = cfg->base_score;
			p = p < 1e-7 ? 1e-7 : p > 1.0 - 1e-7 ? 1.0 - 1e-7 : p;
			base[0] = (float) log(p / (1.0 - p));
		}
		else
			for (int c = 0; c < nc; c++)
			{
				double		p = cnt[c] / wsum;

				base[c] = !isnan(cfg->base_score) ? (float) cfg->base_score :
					(float) log(p > 1e-7 ? p : 1e-7);
			}
	}
	else
	{
		double		sum = 0.0;

		for (int64_t r = 0; r < data->n; r++)
		{
			double		w = s->weight ? s->weight[r] : 1.0;

			sum += w * data->y[r];
			wsum += w;
		}
		base[0] = !isnan(cfg->base_score) ? (float) cfg->base_score :
			(float) (wsum > 0.0 ? sum / wsum : 0.0);
	}
	return true;
}

static void
sample_tree(Gbdt *s, int *perm)
{
	const MaasGbdtConfig *cfg = s->cfg;

	/* rows: each kept with probability subsample */
	if (cfg->subsample >= 1.0)
	{
		for (int64_t r = 0; r < s->n; r++)
			s->rows[r] = (int32_t) r;
		s->n_rows = s->n;
		s->n_unsampled = 0;
	}
	else
	{
		uint64_t	limit = (uint64_t) (cfg->subsample * 18446744073709551616.0);

		s->n_rows = 0;
		s->n_unsampled = 0;
		for (int64_t r = 0; r < s->n; r++)
		{
			if (maas_rng_next(&s->rng) < limit)
				s->rows[s->n_rows++] = (int32_t) r;
			else
				s->unsampled[s->n_unsampled++] = (int32_t) r;
		}
	}
	/* features: floor(colsample_bytree * d), at least 1, in order */
	if (cfg->colsample_bytree >= 1.0)
	{
		for (int f = 0; f < s->d; f++)
			s->feats[f] = f;
		s->n_feats = s->d;
	}
	else
	{
		int			m = (int) (cfg->colsample_bytree * s->d);

		if (m < 1)
			m = 1;
		for (int f = 0; f < s->d; f++)
			perm[f] = f;
		for (int i = 0; i < m; i++)
		{
			int			j = i + (int) maas_rng_below(&s->rng, (uint32_t) (s->d - i));
			int			tmp = perm[i];

			perm[i] = perm[j];
			perm[j] = tmp;
		}
		/* sorted, so features are scanned in order */
		memset(s->feats, 0, sizeof(int) * s->d);
		for (int i = 0; i < m; i++)
			s->feats[perm[i]] = 1;
		s->n_feats = 0;
		for (int f = 0; f < s->d; f++)
			if (s->feats[f])
				perm[s->n_feats++] = f;
		memcpy(s->feats, perm, sizeof(int) * s->n_feats);
	}
}

static void
report_round(const MaasTrainHooks *hooks, MaasGbdtResult *res, int round,
			 int rounds, bool has_val, int best)
{
	MaasEpochReport rep;

	if (hooks == NULL || hooks->epoch == NULL)
		return;
	rep.epoch = round;
	rep.epochs = rounds;
	rep.loss = res->train_loss[round - 1];
	rep.has_val = has_val;
	rep.val_loss = has_val ? res->val_loss[round - 1] : 0.0;
	rep.val_score = has_val ? res->val_score[round - 1] : 0.0;
	rep.improved = best == round;
	hooks->epoch(hooks->arg, &rep);
}

bool
maas_gbdt_fit(const MaasGbdtConfig *cfg, const MaasTrainSet *data,
			  const MaasTrainSet *val, const MaasTrainHooks *hooks,
			  MaasGbdtResult *res, MaasError *err)
{
	Gbdt		st;
	Gbdt	   *s = &st;
	float	   *base;
	int		   *perm;
	bool		has_val;
	int64_t		chunks;
	int			best = 0;
	double		best_loss = INFINITY;
	double		val_ss = 0.0;
	int			rounds = 0;

	memset(res, 0, sizeof(*res));
	memset(s, 0, sizeof(*s));
	if (!maas_gbdt_check_config(cfg, err))
		return false;
	if (data->n < 1 || data->d < 1)
		return maas_error(err, MAAS_ERR_INVALID, "no training rows");
	has_val = val != NULL && val->n > 0;
	if (!check_data(cfg, data, data->d, true, err) ||
		(has_val && !check_data(cfg, val, data->d, false, err)))
		return false;
	if (cfg->early_stopping_rounds > 0 && !has_val)
		return maas_error(err, MAAS_ERR_INVALID,
						  "early stopping needs validation rows");

	s->cfg = cfg;
	s->data = data;
	s->val = has_val ? val : NULL;
	s->n = data->n;
	s->d = data->d;
	s->K = n_groups_of(cfg);
	s->threads = cfg->threads;
	s->rng = cfg->seed;
	s->max_slots = (int) max_slots_of(cfg, s->n);
	s->max_nodes = (int) max_nodes_of(cfg, s->n);

	chunks = ((s->n > (has_val ? val->n : 0) ? s->n : val->n) + CHUNK - 1) / CHUNK;
	s->gh = maas_kalloc_array((size_t) s->n * s->K, sizeof(GradPair));
	s->margin = maas_kalloc_array((size_t) s->n * s->K, sizeof(float));
	s->rows = maas_kalloc_array(s->n, sizeof(int32_t));
	s->tmp = maas_kalloc_array(s->n, sizeof(int32_t));
	s->unsampled = cfg->subsample < 1.0 ? maas_kalloc_array(s->n, sizeof(int32_t)) : NULL;
	s->chunk_sum = maas_kalloc_array(chunks, sizeof(double));
	s->chunk_sum2 = maas_kalloc_array(chunks, sizeof(double));
	s->feats = maas_kalloc_array(s->d, sizeof(int));
	s->scratch = maas_kalloc_array((size_t) s->threads * SCRATCH_BINS, 2 * sizeof(float));
	s->lossbuf = maas_kalloc_array((size_t) s->threads * CHUNK, sizeof(float));
	perm = maas_kalloc_array(s->d, sizeof(int));
	s->nodes = maas_kalloc_array(s->max_nodes, sizeof(Node));
	s->packed = has_val ? maas_kalloc_array(s->max_nodes, sizeof(MaasTreeNode)) : NULL;
	s->slots = maas_kalloc_array(s->max_slots, sizeof(HistBin *));
	s->free_slots = maas_kalloc_array(s->max_slots, sizeof(int));
	s->level = maas_kalloc_array(s->max_nodes, sizeof(int));
	s->next = maas_kalloc_array(s->max_nodes, sizeof(int));
	s->kind = maas_kalloc(s->max_nodes);
	s->nleft = maas_kalloc_array(s->max_nodes, sizeof(int64_t));
	s->tasks = maas_kalloc_array(s->max_nodes, sizeof(HistTask));
	s->part_start = maas_kalloc_array(s->max_nodes + 1, sizeof(int64_t));
	s->part_count = maas_kalloc_array((size_t) s->max_nodes * s->threads, sizeof(int64_t));
	s->part_lpos = maas_kalloc_array((size_t) s->max_nodes * s->threads, sizeof(int64_t));
	s->part_rpos = maas_kalloc_array((size_t) s->max_nodes * s->threads, sizeof(int64_t));
	base = maas_kalloc_array(s->K, sizeof(float));
	res->train_loss = maas_kalloc_array(cfg->n_estimators, sizeof(double));
	if (has_val)
	{
		s->val_margin = maas_kalloc_array((size_t) val->n * s->K, sizeof(float));
		res->val_loss = maas_kalloc_array(cfg->n_estimators, sizeof(double));
		res->val_score = maas_kalloc_array(cfg->n_estimators, sizeof(double));
		if (!s->val_margin || !res->val_loss || !res->val_score)
			return maas_error_nomem(err);
	}
	if ((has_val && !s->packed) || !s->gh || !s->margin || !s->rows || !s->tmp || (cfg->subsample < 1.0 && !s->unsampled) ||
		!s->chunk_sum || !s->chunk_sum2 || !s->feats || !s->scratch || !s->lossbuf || !perm || !s->nodes || !s->slots ||
		!s->free_slots || !s->level || !s->next || !s->kind || !s->nleft || !s->tasks ||
		!s->part_start || !s->part_count || !s->part_lpos || !s->part_rpos || !base ||
		!res->train_loss)
		return maas_error_nomem(err);

	/* class weights become row weights */
	if (cfg->class_weight != NULL)
	{
		s->weight = maas_kalloc_array(s->n, sizeof(float));
		if (s->weight == NULL)
			return maas_error_nomem(err);
		for (int64_t r = 0; r < s->n; r++)
			s->weight[r] = (float) cfg->class_weight[data->cls[r]];
	}
	if (!base_margins(s, base, err))
		return false;
	for (int64_t r = 0; r < s->n; r++)
		memcpy(s->margin + (size_t) r * s->K, base, sizeof(float) * s->K);
	if (has_val)
	{
		for (int64_t r = 0; r < val->n; r++)
			memcpy(s->val_margin + (size_t) r * s->K, base, sizeof(float) * s->K);
		if (cfg->objective == MAAS_GBDT_REGRESSION)
		{
			double		mean = 0.0;

			for (int64_t r = 0; r < val->n; r++)
				mean += val->y[r];
			mean /= val->n;
			for (int64_t r = 0; r < val->n; r++)
				val_ss += (val->y[r] - mean) * (val->y[r] - mean);
		}
	}

	if (hooks && hooks->tick)
		hooks->tick(hooks->arg);
	if (!gbdt_build_bins(s, hooks, err))
		return false;
	res->n_bins_max = 0;
	for (int f = 0; f < s->d; f++)
		if (s->nbins[f] > res->n_bins_max)
			res->n_bins_max = s->nbins[f];

	s->cap_trees = 16;
	s->cap_nodes = 1024;
	s->o_roots = maas_kalloc_array(s->cap_trees, sizeof(int32_t));
	s->o_groups = maas_kalloc_array(s->cap_trees, sizeof(int32_t));
	s->o_feature = maas_kalloc_array(s->cap_nodes, sizeof(int32_t));
	s->o_threshold = maas_kalloc_array(s->cap_nodes, sizeof(float));
	s->o_left = maas_kalloc_array(s->cap_nodes, sizeof(int32_t));
	s->o_right = maas_kalloc_array(s->cap_nodes, sizeof(int32_t));
	s->o_dleft = maas_kalloc(s->cap_nodes);
	s->o_value = maas_kalloc_array(s->cap_nodes, sizeof(float));
	s->o_gain = maas_kalloc_array(s->cap_nodes, sizeof(float));
	s->o_cover = maas_kalloc_array(s->cap_nodes, sizeof(float));
	if (!s->o_roots || !s->o_groups || !s->o_feature || !s->o_threshold || !s->o_left ||
		!s->o_right || !s->o_dleft || !s->o_value || !s->o_gain || !s->o_cover)
		return maas_error_nomem(err);

	for (int round = 1; round <= cfg->n_estimators; round++)
	{
		double		loss;

		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);
		loss = gbdt_gradients(s, round > 1);
		if (round > 1)
		{
			/* the loss after the previous round, now that it is known */
			res->train_loss[round - 2] = loss;
			report_round(hooks, res, round - 1, cfg->n_estimators, has_val, best);
		}
		for (int k = 0; k < s->K; k++)
		{
			MarginJob	mj;
			int32_t		root;

			sample_tree(s, perm);
			if (!gbdt_grow_tree(s, k, hooks, err))
				return false;
			root = s->out_nodes;
			if (!gbdt_emit_tree(s, k, err))
				return false;
			mj.s = s;
			mj.k = k;
			mj.root = root;
			if (s->n_unsampled > 0)
				maas_parallel(s->threads, margin_part, &mj);
			if (has_val)
			{
				ValJob		vj = {s, k, pack_tree(s)};

				maas_parallel(s->threads, val_part, &vj);
			}
		}
		rounds = round;
		if (has_val)
		{
			int64_t		vchunks = (val->n + CHUNK - 1) / CHUNK;
			double		vl = 0.0,
						good = 0.0;

			maas_parallel(s->threads, val_loss_part, s);
			for (int64_t c = 0; c < vchunks; c++)
			{
				vl += s->chunk_sum[c];
				good += s->chunk_sum2[c];
			}
			res->val_loss[round - 1] = vl / val->n;
			res->val_score[round - 1] = cfg->objective == MAAS_GBDT_REGRESSION ?
				(val_ss > 0.0 ? 1.0 - vl / val_ss : (vl == 0.0 ? 1.0 : 0.0)) :
				good / val->n;
			if (res->val_loss[round - 1] < best_loss)
			{
				best_loss = res->val_loss[round - 1];
				best = round;
			}
			if (cfg->early_stopping_rounds > 0 &&
				round - best >= cfg->early_stopping_rounds)
				break;
		}
		else
			best = round;
	}
	res->train_loss[rounds - 1] = gbdt_gradients(s, true);
	report_round(hooks, res, rounds, cfg->n_estimators, has_val, best);

	res->rounds_run = rounds;
	res->best_round = cfg->early_stopping_rounds > 0 ? best : rounds;
	{
		MaasTrees  *tr = &res->trees;
		int32_t		n_trees = res->best_round * s->K;

		tr->n_features = s->d;
		tr->n_groups = s->K;
		tr->n_trees = n_trees;
		tr->n_nodes = n_trees < s->out_trees ? s->o_roots[n_trees] : s->out_nodes;
		tr->roots = s->o_roots;
		tr->groups = s->o_groups;
		tr->base_score = base;
		tr->feature = s->o_feature;
		tr->threshold = s->o_threshold;
		tr->left = s->o_left;
		tr->right = s->o_right;
		tr->default_left = s->o_dleft;
		tr->value = s->o_value;
		tr->gain = s->o_gain;
		tr->cover = s->o_cover;
	}
	return true;
}
