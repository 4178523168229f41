/*
 * preprocess.h
 *		What maas_train does to its rows before a trainer sees them, without
 *		PostgreSQL: the holdout split, the permutation that puts the training
 *		rows first, imputing NULLs, one-hot categories and scaling.
 *
 * The rows arrive as a float32 matrix of raw slots, row after row: a
 * number is one slot (NaN for NULL), a numeric array one slot per element,
 * a category one slot holding the index of its value among the values
 * collected while loading (-1 for NULL).  Every statistic -- fill values,
 * the categories kept, means, variances, ranges -- comes from the training
 * rows alone (the first n_train rows once permuted), and the holdout rows
 * are transformed with them, as rows are at predict time.
 *
 * The steps run in this order: maas_prep_split, maas_prep_permute, then on
 * a MaasPrepSet maas_prep_impute, maas_prep_categories, maas_prep_onehot
 * (when a column is a category) and maas_prep_scale.  Memory comes from
 * maas_kalloc and is never freed here (kernel.h); the two buffers whose
 * size is that of the data -- the order and the one-hot matrix -- are the
 * caller's, so that it can free them.  Loops over rows call tick every
 * 4096 rows.
 */
#ifndef MAAS_PREPROCESS_H
#define MAAS_PREPROCESS_H

#include "kernel.h"

/* what replaces a NULL number: the training rows' mean, 0, or nothing */
typedef enum MaasImpute
{
	MAAS_IMPUTE_MEAN,
	MAAS_IMPUTE_ZERO,
	MAAS_IMPUTE_ERROR,			/* NULLs were refused while loading */
	MAAS_IMPUTE_NONE			/* NULLs stay NaN: boosted trees route them */
} MaasImpute;

/* how slots are scaled, by a standardize layer (x - shift) / div */
typedef enum MaasScale
{
	MAAS_SCALE_STANDARD,		/* shift the mean, divide by the std */
	MAAS_SCALE_MINMAX,			/* shift the minimum, divide by the range */
	MAAS_SCALE_NONE
} MaasScale;

/* one column of the source, as raw slots and then as model input slots */
typedef struct MaasPrepColumn
{
	const char *name;			/* for messages */
	bool		category;
	int			offset;			/* first raw slot */
	int			width;			/* raw slots: 1 for a category */
	int			n_seen;			/* category: values collected, by index */
	char	   *const *seen;

	/* set by the steps */
	float	   *fill;			/* number: width values for NULLs, or NULL
								 * with impute "error" */
	int			n_categories;	/* category: values seen in training rows */
	char	  **categories;		/* those, sorted by their bytes */
	int		   *slot;			/* n_seen: one-hot slot of each value, -1 for
								 * one seen only in the holdout */
	int			out_offset;		/* first slot in the model input */
	int			out_width;		/* slots in the model input */
} MaasPrepColumn;

typedef struct MaasPrepSet
{
	int64_t		n;				/* rows */
	int64_t		n_train;		/* the first n_train rows are the training rows */
	int			raw_width;		/* raw slots a row */
	float	   *x;				/* n x raw_width; n x width after one-hot */
	int			n_columns;
	MaasPrepColumn *columns;

	/* set by maas_prep_categories */
	int			width;			/* model input slots */
	bool		has_categories; /* maas_prep_onehot has work to do */

	/* set by maas_prep_scale: per model input slot, over the training rows */
	float	   *mean;
	float	   *std;			/* 1 where a slot does not vary */
	double	   *var;			/* population variance */
	float	   *shift;			/* what the standardize layer stores */
	float	   *div;
} MaasPrepSet;

/*
 * The order that puts the training rows first (order has n entries): the
 * rows are shuffled from seed and the last n_test form the holdout,
 * n_test = round(n * test_size).  With classes (cls not NULL, values below
 * n_classes) the split is stratified: each class gives round(its rows *
 * test_size) rows to the holdout, but keeps at least one for training.
 */
extern bool maas_prep_split(int64_t n, const int32_t *cls, int n_classes,
							double test_size, uint64_t seed, int32_t *order,
							int64_t *n_test, MaasError *err);

/*
 * Permute rows in place so that row i becomes old row order[i]: x (width
 * floats a row) and, when not NULL, cls and y.
 */
extern bool maas_prep_permute(int64_t n, const int32_t *order, float *x,
							  int width, int32_t *cls, float *y,
							  const MaasTick *tick, MaasError *err);

/*
 * Fill values of the number columns (the training rows' means, or 0), kept
 * in each column's fill unless impute is "error", and every NaN of every
 * row replaced by its slot's fill value.  With "none" nothing is done: the
 * NaNs stay for a trainer that handles them (boosted trees).
 */
extern bool maas_prep_impute(MaasPrepSet *set, MaasImpute impute,
							 const MaasTick *tick, MaasError *err);

/*
 * The categories of each category column that occur in training rows,
 * sorted, and the model input layout: a slot per number, per array element
 * and per category kept.  Fails when a category column has no value in
 * the training rows, or the layout would be wider than 100 million slots.
 */
extern bool maas_prep_categories(MaasPrepSet *set, MaasError *err);

/*
 * Sort texts[0 .. n) by their bytes (strcmp), carrying index[] along: the
 * order of categories and of text class labels.
 */
extern bool maas_sort_texts(int n, char **texts, int *index, MaasError *err);

/*
 * The rows with categories one-hot encoded, into dst (n x width floats):
 * a value seen only in the holdout, and NULL, give all zeros.
 */
extern void maas_prep_onehot(const MaasPrepSet *set, float *dst,
							 const MaasTick *tick);

/*
 * The mean, population variance and range of every slot over the training
 * rows, and every row scaled in place as the standardize layer will
 * (nothing is changed with MAAS_SCALE_NONE).  A slot that does not vary
 * gets a divisor of 1.
 */
extern bool maas_prep_scale(MaasPrepSet *set, MaasScale scale,
							const MaasTick *tick, MaasError *err);

/*
 * Instead of maas_prep_impute, maas_prep_categories and maas_prep_scale
 * when the rows are summed while read (train.h's MaasGram) and hold no
 * NaN: the fill values, layout and scaling statistics from each slot's
 * mean and population variance over the training rows (raw_width each),
 * with the arithmetic of those steps; the rows are not touched.  Not for
 * categories or min-max scaling, which need the rows.
 */
extern bool maas_prep_moments(MaasPrepSet *set, MaasImpute impute, MaasScale scale,
							  const double *mean, const double *var, MaasError *err);

/*
 * Rows rows[0 .. n) of x (w floats each) copied to dst one after the
 * other, scaled as maas_prep_scale scales them, (x - shift) * inv, unless
 * shift is NULL.
 */
extern void maas_prep_gather(const float *x, int w, const int32_t *rows, int64_t n,
							 const float *shift, const float *inv, float *dst);

/*
 * n float32 values copied from src (any alignment: a row of real columns
 * in a heap tuple) to dst; false when one is not finite (dst then holds
 * them all the same).
 */
extern bool maas_prep_copy_finite(const void *src, int n, float *dst);

/*
 * n float32 values from the low 32 bits of 64-bit words (a row of real
 * columns as PostgreSQL passes them by value) into dst; false when one is
 * flagged in isnull or is not finite (dst then holds what the words held).
 */
extern bool maas_prep_float_words(const uint64_t *words, const bool *isnull,
								  int n, float *dst);

#endif							/* MAAS_PREPROCESS_H */
