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
 */
#include "train_gbdt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "threads.h"

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#define CHUNK			8192	/* rows per reduction chunk */
#define BIN_SAMPLE		200000	/* rows whose values place the cuts */
#define SPLIT_EPS		1e-6	/* XGBoost's kRtEps: a smaller gain is none */
#define MISSING_NONE	256		/* miss_code of a feature without NaN */
#define FLUSH_ROWS		4096	/* rows summed in float before adding in double */
#define SCRATCH_BINS	4096	/* float pairs of scratch per thread */
#define PREFETCH		24		/* rows ahead: a row's bins and gradients */
#define SLAB_ROWS		262144	/* rows binned between two ticks */
#define SLAB_UPDATES	(INT64_C(1) << 24)	/* histogram updates between ticks */

typedef struct GradPair
{
	float		g;
	float		h;
} GradPair;

typedef struct HistBin
{
	double		g;
	double		h;
} HistBin;

typedef struct HistTask
{
	HistBin    *hist;			/* build into this */
	int64_t		begin;
	int64_t		end;
	HistBin    *parent;			/* then parent -= hist (NULL: no) */
	bool		zero;			/* this piece starts the histogram */
} HistTask;

/* a node of the tree being grown */
typedef struct Node
{
	int64_t		begin;			/* its rows: rows[begin .. end) */
	int64_t		end;
	double		G;
	double		H;
	int			depth;
	int			slot;			/* histogram, or -1 */
	/* the best split found, if any */
	int			feature;		/* -1: a leaf */
	int			split_bin;		/* bins <= split_bin go left */
	bool		default_left;
	double		gain;
	double		GL;
	double		HL;
	int			left;
	int			right;
	float		value;			/* as a leaf: eta times its weight */
} Node;

typedef struct Gbdt
{
	const MaasGbdtConfig *cfg;
	const MaasTrainSet *data;
	const MaasTrainSet *val;
	int64_t		n;
	int			d;
	int			K;
	int			threads;

	/* binning */
	uint8_t    *bins;			/* n * bstride, row-major: histograms */
	int			bstride;		/* d rounded up to 8: rows stay in one line */
	uint8_t    *cbins;			/* d * n, column-major: partitions */
	uint8_t    *dir;			/* n: 1 if the row at that position goes left */
	void	   *scratch;		/* threads * SCRATCH_BINS float pairs */
	float	   *lossbuf;		/* threads * CHUNK: per-row losses */
	int		   *nbins;
	int		   *miss_code;
	int		   *hoff;
	int		   *steps;			/* binary search steps of each feature */
	int			hist_len;		/* HistBins in a slot */
	float	  **cuts;

	/* per round */
	GradPair   *gh;
	float	   *margin;
	float	   *weight;			/* per row, or NULL */
	float	   *val_margin;
	double	   *chunk_sum;		/* one per chunk of rows (of train or val) */
	double	   *chunk_sum2;

	/* per tree */
	int32_t    *rows;
	int32_t    *tmp;
	int64_t		n_rows;			/* sampled rows of the tree */
	int32_t    *unsampled;
	int64_t		n_unsampled;
	int		   *feats;
	int			n_feats;
	Node	   *nodes;
	MaasTreeNode *packed;		/* the grown tree for evaluation */
	int			n_nodes;
	int			max_nodes;
	int		   *level;			/* nodes of the level being split */
	int		   *next;
	uint8_t    *kind;			/* EntryKind of each node of the level */
	int64_t    *nleft;
	HistTask   *tasks;
	int64_t    *part_start;		/* partition: max_slots + 1 */
	int64_t    *part_count;		/* max_slots * threads each */
	int64_t    *part_lpos;
	int64_t    *part_rpos;
	HistBin   **slots;
	int		   *free_slots;
	int			n_free;
	int			n_slots;		/* allocated */
	int			max_slots;
	uint64_t	rng;

	/* the model being built */
	int32_t		cap_nodes;
	int32_t		out_nodes;
	int32_t		cap_trees;
	int32_t		out_trees;
	int32_t    *o_roots;
	int32_t    *o_groups;
	int32_t    *o_feature;
	float	   *o_threshold;
	int32_t    *o_left;
	int32_t    *o_right;
	uint8_t    *o_dleft;
	float	   *o_value;
	float	   *o_gain;
	float	   *o_cover;
} Gbdt;

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

/* ---- binning ---- */

/* float as an unsigned key in the same order (no NaN here) */
static inline uint32_t
float_key(float x)
{
	uint32_t	u;

	memcpy(&u, &x, sizeof(u));
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline float
key_float(uint32_t k)
{
	uint32_t	u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
	float		x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

/* sort v[0..m) by LSD radix on 11-bit digits; tmp holds m values */
static void
sort_floats(float *v, int64_t m, float *tmp)
{
	uint32_t   *a = (uint32_t *) v;
	uint32_t   *b = (uint32_t *) tmp;

	for (int64_t i = 0; i < m; i++)
		a[i] = float_key(v[i]);
	for (int shift = 0; shift < 32; shift += 11)
	{
		int64_t		count[2048];
		int64_t		sum = 0;
		uint32_t   *t;

		memset(count, 0, sizeof(count));
		for (int64_t i = 0; i < m; i++)
			count[(a[i] >> shift) & 2047]++;
		for (int j = 0; j < 2048; j++)
		{
			int64_t		c = count[j];

			count[j] = sum;
			sum += c;
		}
		for (int64_t i = 0; i < m; i++)
			b[count[(a[i] >> shift) & 2047]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	/* three passes: the result is in tmp's buffer */
	for (int64_t i = 0; i < m; i++)
		v[i] = key_float(a[i]);
}

typedef struct CutJob
{
	Gbdt	   *s;
	const int32_t *sample;		/* rows */
	int64_t		n_sample;
	float	   *buf;			/* 2 * n_sample floats per thread */
	bool	   *has_nan;
	int			f_lo;			/* this call's features */
	int			f_hi;
} CutJob;

/*
 * Cuts of feature f from the sorted non-missing values v[0..m): distinct
 * values each their own bin when there are few enough, else quantiles.
 * A cut c puts x in the bin above when x >= c.
 */
static int
make_cuts(const float *v, int64_t m, int max_bins, float *cuts)
{
	int64_t		distinct = 0;
	int			nc = 0;

	for (int64_t i = 0; i < m; i++)
		if (i == 0 || v[i] != v[i - 1])
			distinct++;
	if (distinct <= max_bins)
	{
		/* between consecutive distinct values, at the midpoint */
		for (int64_t i = 1; i < m; i++)
			if (v[i] != v[i - 1])
			{
				float		mid = v[i - 1] + (v[i] - v[i - 1]) * 0.5f;

				if (!(mid > v[i - 1]) || !isfinite(mid))
					mid = v[i];
				cuts[nc++] = mid;
			}
		return nc;
	}
	for (int j = 1; j < max_bins; j++)
	{
		float		c = v[(int64_t) ((double) j * m / max_bins)];

		if (c > v[0] && (nc == 0 || c > cuts[nc - 1]))
			cuts[nc++] = c;
	}
	return nc;
}

static void
cut_part(void *arg, int t, int m)
{
	CutJob	   *job = arg;
	Gbdt	   *s = job->s;
	float	   *buf = job->buf + (size_t) t * 2 * job->n_sample;
	int64_t		f0,
				f1;

	maas_split_range(job->f_hi - job->f_lo, t, m, &f0, &f1);
	for (int64_t f = job->f_lo + f0; f < job->f_lo + f1; f++)
	{
		int64_t		k = 0;
		int			max_bins = s->cfg->max_bin;

		for (int64_t i = 0; i < job->n_sample; i++)
		{
			float		x = s->data->x[(size_t) job->sample[i] * s->d + f];

			if (!isnan(x))
				buf[k++] = x;
		}
		sort_floats(buf, k, buf + job->n_sample);
		if (job->has_nan[f] && max_bins > 255)
			max_bins = 255;
		s->nbins[f] = make_cuts(buf, k, max_bins, s->cuts[f]) + 1;
		s->miss_code[f] = job->has_nan[f] ? s->nbins[f] : MISSING_NONE;
	}
}

typedef struct RowsJob
{
	Gbdt	   *s;
	bool	   *has_nan;		/* per thread: d flags */
	int64_t		r_lo;			/* this call's rows */
	int64_t		r_hi;
} RowsJob;

static void
nan_part(void *arg, int t, int m)
{
	RowsJob    *job = arg;
	Gbdt	   *s = job->s;
	bool	   *flags = job->has_nan + (size_t) t * s->d;
	int64_t		r0,
				r1;

	maas_split_range(job->r_hi - job->r_lo, t, m, &r0, &r1);
	for (int64_t r = job->r_lo + r0; r < job->r_lo + r1; r++)
	{
		const float *row = s->data->x + (size_t) r * s->d;

		for (int f = 0; f < s->d; f++)
			flags[f] |= isnan(row[f]);
	}
}

/*
 * Number of cuts <= x: the bin of a non-missing x.  Cuts are padded with
 * +inf to MAAS_GBDT_MAX_BIN - 1 entries, so a branch-free search of fixed
 * steps works (x = +inf is clamped back to the last bin).
 */
static inline int
bin_of(const float *cuts, int steps, int nc, float x)
{
	int			base = 0;

	for (int half = 1 << (steps - 1); half > 0; half >>= 1)
		base += cuts[base + half - 1] <= x ? half : 0;
	return base < nc ? base : nc;
}

static void
bin_part(void *arg, int t, int m)
{
	RowsJob    *job = arg;
	Gbdt	   *s = job->s;
	int64_t		r0,
				r1;

	maas_split_range(job->r_hi - job->r_lo, t, m, &r0, &r1);
	for (int64_t r = job->r_lo + r0; r < job->r_lo + r1; r++)
	{
		const float *row = s->data->x + (size_t) r * s->d;
		uint8_t    *b = s->bins + (size_t) r * s->bstride;

		for (int f = 0; f < s->d; f++)
		{
			int			nc = s->nbins[f] - 1;
			int			st = s->steps[f];

			b[f] = isnan(row[f]) ? (uint8_t) s->miss_code[f]
				: (uint8_t) (st == 0 ? 0 : bin_of(s->cuts[f], st, nc, row[f]));
		}
	}
}

/* the column-major copy, by blocks of rows */
static void
transpose_part(void *arg, int t, int m)
{
	RowsJob    *job = arg;
	Gbdt	   *s = job->s;
	int64_t		f0,
				f1;

	maas_split_range(s->d, t, m, &f0, &f1);
	for (int64_t r0 = job->r_lo; r0 < job->r_hi; r0 += 4096)
	{
		int64_t		r1 = r0 + 4096 < job->r_hi ? r0 + 4096 : job->r_hi;

		for (int64_t f = f0; f < f1; f++)
		{
			uint8_t    *c = s->cbins + (size_t) f * s->n;

			for (int64_t r = r0; r < r1; r++)
				c[r] = s->bins[(size_t) r * s->bstride + f];
		}
	}
}

/* fn over the rows in slabs of SLAB_ROWS, ticking between them */
static void
rows_in_slabs(Gbdt *s, MaasParallelFn fn, RowsJob *job, const MaasTrainHooks *hooks)
{
	for (int64_t r = 0; r < s->n; r += SLAB_ROWS)
	{
		job->r_lo = r;
		job->r_hi = r + SLAB_ROWS < s->n ? r + SLAB_ROWS : s->n;
		maas_parallel(s->threads, fn, job);
		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);
	}
}

static bool
build_bins(Gbdt *s, const MaasTrainHooks *hooks, MaasError *err)
{
	int64_t		n_sample = s->n < BIN_SAMPLE ? s->n : BIN_SAMPLE;
	int32_t    *sample = maas_kalloc_array(n_sample, sizeof(int32_t));
	bool	   *flags = maas_kalloc_array((size_t) s->threads, (size_t) s->d);
	bool	   *has_nan = maas_kalloc(s->d);
	float	   *buf = maas_kalloc_array((size_t) n_sample * 2 * s->threads, sizeof(float));
	RowsJob		rj = {s, flags, 0, 0};
	CutJob		cj;
	int			off = 0;

	s->bstride = (s->d + 7) & ~7;
	s->bins = maas_kalloc_array((size_t) s->n, (size_t) s->bstride);
	s->nbins = maas_kalloc_array(s->d, sizeof(int));
	s->miss_code = maas_kalloc_array(s->d, sizeof(int));
	s->hoff = maas_kalloc_array(s->d, sizeof(int));
	s->steps = maas_kalloc_array(s->d, sizeof(int));
	s->cbins = maas_kalloc_array((size_t) s->n, (size_t) s->d);
	s->dir = maas_kalloc((size_t) s->n);
	s->cuts = maas_kalloc_array(s->d, sizeof(float *));
	if (!sample || !flags || !has_nan || !buf || !s->bins || !s->nbins ||
		!s->miss_code || !s->hoff || !s->steps || !s->cbins || !s->dir || !s->cuts)
		return maas_error_nomem(err);
	for (int f = 0; f < s->d; f++)
		if ((s->cuts[f] = maas_kalloc_array(MAAS_GBDT_MAX_BIN, sizeof(float))) == NULL)
			return maas_error_nomem(err);

	/* which features have missing values anywhere */
	memset(flags, 0, (size_t) s->threads * s->d);
	rows_in_slabs(s, nan_part, &rj, hooks);
	memset(has_nan, 0, s->d);
	for (int t = 0; t < s->threads; t++)
		for (int f = 0; f < s->d; f++)
			has_nan[f] |= flags[(size_t) t * s->d + f];

	/* a seeded sample of rows (all of them when there are few) */
	if (n_sample == s->n)
		for (int64_t i = 0; i < n_sample; i++)
			sample[i] = (int32_t) i;
	else
	{
		/* a stride through the rows from a random start, then sorted */
		uint64_t	rng = s->cfg->seed ^ UINT64_C(0x243F6A8885A308D3);

		for (int64_t i = 0; i < n_sample; i++)
			sample[i] = (int32_t) ((i * s->n + (int64_t) maas_rng_below(&rng, (uint32_t) (s->n / n_sample))) /
								   n_sample);
	}
	cj.s = s;
	cj.sample = sample;
	cj.n_sample = n_sample;
	cj.buf = buf;
	cj.has_nan = has_nan;
	for (int f = 0; f < s->d; f += s->threads)
	{
		cj.f_lo = f;
		cj.f_hi = f + s->threads < s->d ? f + s->threads : s->d;
		maas_parallel(s->threads, cut_part, &cj);
		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);
	}

	/* histogram layout: feature after feature, 4-bin aligned */
	for (int f = 0; f < s->d; f++)
	{
		int			len = s->nbins[f] + (has_nan[f] ? 1 : 0);

		s->hoff[f] = off;
		off += (len + 3) & ~3;
		/* the search: pad the cuts with +inf to a power of two - 1 */
		s->steps[f] = 0;
		while ((1 << s->steps[f]) < s->nbins[f])
			s->steps[f]++;
		for (int j = s->nbins[f] - 1; j < MAAS_GBDT_MAX_BIN; j++)
			s->cuts[f][j] = INFINITY;
	}
	s->hist_len = off;
	rows_in_slabs(s, bin_part, &rj, hooks);
	rows_in_slabs(s, transpose_part, &rj, hooks);
	return true;
}

/* ---- gradients and losses ---- */

/*
 * exp and log1p in float, written so that a loop over rows vectorises
 * (libm's are scalar calls): exp by 2^n e^r, |r| <= ln 2 / 2, with a
 * degree-6 polynomial (relative error about 2e-7); log1p of e in [0, 1] as
 * 2 atanh(e / (2 + e)) by its series (error below 1e-7).
 */
static inline float
fast_expf(float x)
{
	float		n,
				r,
				p;
	int32_t		bits;
	float		scale;

	x = x < -87.0f ? -87.0f : x;	/* not fminf: that is a call */
	x = x > 88.0f ? 88.0f : x;
	n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;	/* round to nearest */
	r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
	p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 +
														 r * (1.0f / 120 + r * (1.0f / 720))))));
	bits = ((int32_t) n + 127) << 23;
	memcpy(&scale, &bits, sizeof(scale));
	return p * scale;
}

static inline float
log1p_unit(float e)
{
	float		t = e / (2.0f + e);
	float		t2 = t * t;

	return 2.0f * t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 +
														  t2 * (1.0f / 9 + t2 * (1.0f / 11))))));
}

/*
 * Log loss of a binary row from its margin m and e = exp(-|m|):
 * log(1 + e) + (|m| if the sign of m disagrees with y).
 */
static inline float
logloss_margin(float m, float e, int y)
{
	return log1p_unit(e) + ((m >= 0.0f) != (y != 0) ? fabsf(m) : 0.0f);
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	!defined(__SANITIZE_ADDRESS__)
#define MAAS_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MAAS_SIMD
#endif

/*
 * Binary logistic gradients of n rows, and each row's loss into loss[]:
 * p = sigmoid(m), g = (p - y) w, h = max(p (1 - p), 1e-16) w.
 */
static inline void
binary_grad_row(int r, const float *restrict margin, const int32_t *restrict cls,
				float w, float *restrict gh, float *restrict loss)
{
	/* every select picks between values already computed: no branches */
	float		m = margin[r];
	float		a = fabsf(m);
	float		e = fast_expf(-a);
	float		inv = 1.0f / (1.0f + e);
	float		einv = e * inv;
	float		p = m >= 0.0f ? inv : einv;
	float		y = cls[r] != 0 ? 1.0f : 0.0f;
	float		h = p * (1.0f - p);
	float		l1 = log1p_unit(e);
	float		la = l1 + a;

	h = h > 1e-16f ? h : 1e-16f;
	gh[2 * r] = (p - y) * w;
	gh[2 * r + 1] = h * w;
	loss[r] = ((m >= 0.0f) != (y != 0.0f) ? la : l1) * w;
}

MAAS_SIMD static void
binary_grad(int n, const float *restrict margin, const int32_t *restrict cls,
			const float *restrict weight, float *restrict gh, float *restrict loss)
{
	if (weight)
		for (int r = 0; r < n; r++)
			binary_grad_row(r, margin, cls, weight[r], gh, loss);
	else
		for (int r = 0; r < n; r++)
			binary_grad_row(r, margin, cls, 1.0f, gh, loss);
}

typedef struct GradJob
{
	Gbdt	   *s;
	bool		with_loss;
} GradJob;

/* gradients of chunk c of the training rows, and their loss sum */
static void
grad_chunk(Gbdt *s, int t, int64_t c, bool with_loss)
{
	int64_t		r0 = c * CHUNK;
	int64_t		r1 = r0 + CHUNK < s->n ? r0 + CHUNK : s->n;
	const int	K = s->K;
	double		loss = 0.0;
	double		wsum = 0.0;

	if (s->cfg->objective == MAAS_GBDT_BINARY)
	{
		float	   *lbuf = s->lossbuf + (size_t) t * CHUNK;

		binary_grad((int) (r1 - r0), s->margin + r0, s->data->cls + r0,
					s->weight ? s->weight + r0 : NULL, (float *) (s->gh + r0), lbuf);
		if (with_loss)
			for (int64_t r = r0; r < r1; r++)
			{
				loss += lbuf[r - r0];
				wsum += s->weight ? s->weight[r] : 1.0f;
			}
	}
	else if (s->cfg->objective == MAAS_GBDT_MULTI)
	{
		float		p[64];
		float	   *pp = K <= 64 ? p : NULL;

		for (int64_t r = r0; r < r1; r++)
		{
			const float *m = s->margin + (size_t) r * K;
			float		w = s->weight ? s->weight[r] : 1.0f;
			int			y = s->data->cls[r];
			float		mx = m[0];
			float		sum = 0.0f;

			for (int k = 1; k < K; k++)
				if (m[k] > mx)
					mx = m[k];
			for (int k = 0; k < K; k++)
			{
				float		e = fast_expf(m[k] - mx);

				if (pp)
					pp[k] = e;
				sum += e;
			}
			for (int k = 0; k < K; k++)
			{
				float		pk = (pp ? pp[k] : fast_expf(m[k] - mx)) / sum;
				float		h = 2.0f * pk * (1.0f - pk);
				GradPair   *gp = &s->gh[(size_t) k * s->n + r];

				gp->g = (pk - (k == y ? 1.0f : 0.0f)) * w;
				gp->h = (h > 1e-16f ? h : 1e-16f) * w;
				if (with_loss && k == y)
				{
					/* -log p_y = log(sum) - (m_y - mx) */
					loss += w * (logf(sum) - (m[k] - mx));
					wsum += w;
				}
			}
		}
	}
	else
	{
		for (int64_t r = r0; r < r1; r++)
		{
			float		w = s->weight ? s->weight[r] : 1.0f;
			float		e = s->margin[r] - s->data->y[r];

			s->gh[r].g = e * w;
			s->gh[r].h = w;
			if (with_loss)
			{
				loss += (double) w * e * e;
				wsum += w;
			}
		}
	}
	s->chunk_sum[c] = loss;
	s->chunk_sum2[c] = wsum;
}

static void
grad_part(void *arg, int t, int m)
{
	GradJob    *job = arg;
	int64_t		chunks = (job->s->n + CHUNK - 1) / CHUNK;
	int64_t		c0,
				c1;

	maas_split_range(chunks, t, m, &c0, &c1);
	for (int64_t c = c0; c < c1; c++)
		grad_chunk(job->s, t, c, job->with_loss);
}

/* gradients for the round; returns the mean loss at the current margins */
static double
gradients(Gbdt *s, bool with_loss)
{
	GradJob		job = {s, with_loss};
	int64_t		chunks = (s->n + CHUNK - 1) / CHUNK;
	double		loss = 0.0,
				wsum = 0.0;

	maas_parallel(s->threads, grad_part, &job);
	for (int64_t c = 0; c < chunks; c++)
	{
		loss += s->chunk_sum[c];
		wsum += s->chunk_sum2[c];
	}
	return wsum > 0.0 ? loss / wsum : 0.0;
}

/* ---- histograms ---- */

typedef struct HistJob
{
	Gbdt	   *s;
	const GradPair *gh;
	HistTask   *tasks;
	int			n_tasks;
} HistJob;

/*
 * The histogram kernel.  A slot's double sums of a few features do not fit
 * in the L1 cache (256 bins of 16 bytes each), so a thread first sums
 * FLUSH_ROWS rows at a time into float pairs of its own (at most
 * SCRATCH_BINS of them, 32 kB) and then adds those into the slot in
 * double.  Where the blocks start depends only on row positions, so the
 * sums are the same for any thread count.
 */
typedef struct FloatPair
{
	float		g;
	float		h;
} FloatPair;

static void
hist_group(FloatPair *restrict sc, const Gbdt *s, const GradPair *restrict gh,
		   const int *gf, const int *lo, int nf, int64_t begin, int64_t end)
{
	const int	bs = s->bstride;
	const uint8_t *restrict bins = s->bins;
	const int32_t *restrict rows = s->rows;

	for (int64_t i = begin; i < end; i++)
	{
		int32_t		r = rows[i];
		const uint8_t *b = bins + (size_t) r * bs;

#if defined(__x86_64__)
		__m128		v = _mm_castpd_ps(_mm_load_sd((const double *) &gh[r]));

		if (i + PREFETCH < end)
		{
			_mm_prefetch((const char *) (bins + (size_t) rows[i + PREFETCH] * bs), _MM_HINT_T0);
			_mm_prefetch((const char *) &gh[rows[i + PREFETCH]], _MM_HINT_T0);
		}
		for (int k = 0; k < nf; k++)
		{
			double	   *e = (double *) &sc[lo[k] + b[gf[k]]];

			_mm_store_sd(e, _mm_castps_pd(_mm_add_ps(_mm_castpd_ps(_mm_load_sd(e)), v)));
		}
#else
		float		g = gh[r].g,
					h = gh[r].h;

		for (int k = 0; k < nf; k++)
		{
			FloatPair  *e = &sc[lo[k] + b[gf[k]]];

			e->g += g;
			e->h += h;
		}
#endif
	}
}

/*
 * The same for nf consecutive features from f0, each given L scratch
 * pairs (the common case: every feature of the tree), with no per-feature
 * lookups in the inner loop.
 */
static void
hist_group_seq(FloatPair *restrict sc, const Gbdt *s, const GradPair *restrict gh,
			   int f0, int nf, int L, int64_t begin, int64_t end)
{
	const int	bs = s->bstride;
	const uint8_t *restrict bins = s->bins + f0;
	const int32_t *restrict rows = s->rows;

	for (int64_t i = begin; i < end; i++)
	{
		int32_t		r = rows[i];
		const uint8_t *b = bins + (size_t) r * bs;
		FloatPair  *e = sc;

#if defined(__x86_64__)
		__m128		v = _mm_castpd_ps(_mm_load_sd((const double *) &gh[r]));

		if (i + PREFETCH < end)
		{
			_mm_prefetch((const char *) (bins + (size_t) rows[i + PREFETCH] * bs), _MM_HINT_T0);
			_mm_prefetch((const char *) &gh[rows[i + PREFETCH]], _MM_HINT_T0);
		}
#pragma GCC unroll 4
		for (int k = 0; k < nf; k++)
		{
			double	   *p = (double *) (e + b[k]);

			_mm_store_sd(p, _mm_castps_pd(_mm_add_ps(_mm_castpd_ps(_mm_load_sd(p)), v)));
			e += L;
		}
#else
		float		g = gh[r].g,
					h = gh[r].h;

		for (int k = 0; k < nf; k++)
		{
			e[b[k]].g += g;
			e[b[k]].h += h;
			e += L;
		}
#endif
	}
}

static void
hist_part(void *arg, int t, int m)
{
	HistJob    *job = arg;
	Gbdt	   *s = job->s;
	FloatPair  *sc = (FloatPair *) s->scratch + (size_t) t * SCRATCH_BINS;
	int64_t		k0,
				k1;

	maas_split_range(s->n_feats, t, m, &k0, &k1);
	if (k0 == k1)
		return;
	for (int i = 0; i < job->n_tasks; i++)
	{
		HistTask   *task = &job->tasks[i];

		for (int64_t ga = k0; ga < k1;)
		{
			int			gf[SCRATCH_BINS / 2];
			int			lo[SCRATCH_BINS / 2];
			int			nf = 0;
			int			used = 0;
			int64_t		gb = ga;

			int			maxlen = 0;
			bool		seq = true;

			/* a group of features whose bins fit the scratch */
			while (gb < k1)
			{
				int			f = s->feats[gb];
				int			len = s->nbins[f] + (s->miss_code[f] != MISSING_NONE);

				if (nf > 0 && used + len > SCRATCH_BINS)
					break;
				gf[nf] = f;
				lo[nf] = used;
				used += len;
				seq &= nf == 0 || f == gf[nf - 1] + 1;
				maxlen = len > maxlen ? len : maxlen;
				nf++;
				gb++;
				if (task->zero)
					memset(task->hist + s->hoff[f], 0, sizeof(HistBin) * len);
			}
			/* consecutive features: lay them out maxlen apart if that fits */
			if (seq && nf * maxlen <= SCRATCH_BINS)
			{
				for (int k = 0; k < nf; k++)
					lo[k] = k * maxlen;
				used = nf * maxlen;
			}
			else
				seq = false;
			memset(sc, 0, sizeof(FloatPair) * used);
			for (int64_t b0 = task->begin; b0 < task->end; b0 += FLUSH_ROWS)
			{
				int64_t		b1 = b0 + FLUSH_ROWS < task->end ? b0 + FLUSH_ROWS : task->end;

				if (seq)
					hist_group_seq(sc, s, job->gh, gf[0], nf, maxlen, b0, b1);
				else
					hist_group(sc, s, job->gh, gf, lo, nf, b0, b1);
				for (int k = 0; k < nf; k++)
				{
					int			len = s->nbins[gf[k]] + (s->miss_code[gf[k]] != MISSING_NONE);
					HistBin    *h = task->hist + s->hoff[gf[k]];
					FloatPair  *l = sc + lo[k];

					for (int j = 0; j < len; j++)
					{
						h[j].g += l[j].g;
						h[j].h += l[j].h;
					}
				}
				memset(sc, 0, sizeof(FloatPair) * used);
			}
			ga = gb;
		}
		if (task->parent)
			for (int64_t k = k0; k < k1; k++)
			{
				int			f = s->feats[k];
				int			len = s->nbins[f] + (s->miss_code[f] != MISSING_NONE);
				HistBin    *p = task->parent + s->hoff[f];
				const HistBin *c = task->hist + s->hoff[f];

				for (int j = 0; j < len; j++)
				{
					p[j].g -= c[j].g;
					p[j].h -= c[j].h;
				}
			}
	}
}

static int
slot_get(Gbdt *s, MaasError *err)
{
	if (s->n_free > 0)
		return s->free_slots[--s->n_free];
	if (s->n_slots >= s->max_slots)
	{
		maas_error(err, MAAS_ERR_INVALID, "out of histogram slots");	/* can't happen */
		return -1;
	}
	s->slots[s->n_slots] = maas_kalloc_array(s->hist_len > 0 ? s->hist_len : 1, sizeof(HistBin));
	if (s->slots[s->n_slots] == NULL)
	{
		maas_error_nomem(err);
		return -1;
	}
	return s->n_slots++;
}

static void
slot_put(Gbdt *s, int slot)
{
	if (slot >= 0)
		s->free_slots[s->n_free++] = slot;
}

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

static inline bool
goes_left(const Gbdt *s, const Node *nd, int32_t r)
{
	int			code = s->cbins[(size_t) nd->feature * s->n + r];

	return code <= nd->split_bin ||
		(code == s->miss_code[nd->feature] && nd->default_left);
}

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

/*
 * Build the histograms of s->tasks[0 .. n_tasks), ticking every
 * SLAB_UPDATES bin updates or so: a big node is built in pieces of whole
 * FLUSH_ROWS blocks (so the sums are the same as in one go), the first
 * piece zeroing the histogram and the last one subtracting it from the
 * parent.
 */
static void
build_hists(Gbdt *s, const GradPair *gh, int n_tasks, const MaasTrainHooks *hooks)
{
	int64_t		piece_rows = SLAB_UPDATES / (s->n_feats > 0 ? s->n_feats : 1);
	HistTask	piece[64];
	int			n_piece = 0;
	int64_t		work = 0;

	piece_rows = (piece_rows / FLUSH_ROWS + 1) * FLUSH_ROWS;
	for (int i = 0; i < n_tasks; i++)
	{
		const HistTask *task = &s->tasks[i];

		for (int64_t b = task->begin; b < task->end || b == task->begin; b += piece_rows)
		{
			HistTask   *p = &piece[n_piece++];

			p->hist = task->hist;
			p->begin = b;
			p->end = b + piece_rows < task->end ? b + piece_rows : task->end;
			p->zero = b == task->begin;
			p->parent = p->end == task->end ? task->parent : NULL;
			work += (p->end - p->begin) * s->n_feats;
			if (n_piece == 64 || work >= SLAB_UPDATES)
			{
				HistJob		job = {s, gh, piece, n_piece};

				maas_parallel(s->threads, hist_part, &job);
				if (hooks && hooks->tick)
					hooks->tick(hooks->arg);
				n_piece = 0;
				work = 0;
			}
			if (p->end == task->end)
				break;
		}
	}
	if (n_piece > 0)
	{
		HistJob		job = {s, gh, piece, n_piece};

		maas_parallel(s->threads, hist_part, &job);
	}
}

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
static bool
grow_tree(Gbdt *s, int k, const MaasTrainHooks *hooks, MaasError *err)
{
	const GradPair *gh = s->gh + (size_t) k * s->n;
	const int	max_depth = s->cfg->max_depth;
	int		   *level = s->level;
	int		   *next = s->next;
	int			n_level = 1;
	Node	   *root = &s->nodes[0];

	s->n_nodes = 1;
	new_node(root, 0, s->n_rows, 0.0, 0.0, 0);
	if ((root->slot = slot_get(s, err)) < 0)
		return false;
	s->tasks[0].hist = s->slots[root->slot];
	s->tasks[0].begin = 0;
	s->tasks[0].end = s->n_rows;
	s->tasks[0].parent = NULL;
	build_hists(s, gh, 1, hooks);
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
				slot_put(s, nd->slot);
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
			if ((small->slot = slot_get(s, err)) < 0)
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
			build_hists(s, gh, n_tasks, hooks);
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
static bool
emit_tree(Gbdt *s, int k, MaasError *err)
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
	if (!build_bins(s, hooks, err))
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
		loss = gradients(s, round > 1);
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
			if (!grow_tree(s, k, hooks, err))
				return false;
			root = s->out_nodes;
			if (!emit_tree(s, k, err))
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
	res->train_loss[rounds - 1] = gradients(s, true);
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
