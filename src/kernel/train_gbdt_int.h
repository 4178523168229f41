/*
 * train_gbdt_int.h
 *		What the files of the boosted-trees trainer (train_gbdt.c, gbdt_bin.c,
 *		gbdt_hist.c, gbdt_grow.c) share: its sizes, its state (Gbdt), the
 *		float exp and log1p, and the functions one file calls in another.
 *		See train_gbdt.c for what lives in memory and how a tree grows.
 */
#ifndef MAAS_TRAIN_GBDT_INT_H
#define MAAS_TRAIN_GBDT_INT_H

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

/* whether row r goes to the left child of split node nd (gbdt_grow.c, train_gbdt.c) */
static inline bool
goes_left(const Gbdt *s, const Node *nd, int32_t r)
{
	int			code = s->cbins[(size_t) nd->feature * s->n + r];

	return code <= nd->split_bin ||
		(code == s->miss_code[nd->feature] && nd->default_left);
}

/* gbdt_bin.c */
extern bool gbdt_build_bins(Gbdt *s, const MaasTrainHooks *hooks, MaasError *err);

/* gbdt_hist.c */
extern double gbdt_gradients(Gbdt *s, bool with_loss);
extern void gbdt_build_hists(Gbdt *s, const GradPair *gh, int n_tasks,
							 const MaasTrainHooks *hooks);
extern int	gbdt_slot_get(Gbdt *s, MaasError *err);
extern void gbdt_slot_put(Gbdt *s, int slot);

/* gbdt_grow.c */
extern bool gbdt_grow_tree(Gbdt *s, int k, const MaasTrainHooks *hooks, MaasError *err);
extern bool gbdt_emit_tree(Gbdt *s, int k, MaasError *err);

#endif							/* MAAS_TRAIN_GBDT_INT_H */
