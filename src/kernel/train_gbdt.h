/*
 * train_gbdt.h
 *		Gradient-boosted decision trees: a native histogram trainer whose
 *		result is the trees form of trees.h.
 *
 * Why native rather than Debian's libxgboost (measured, doc/training.md
 * "Boosted trees: native, not libxgboost"): libxgboost is what
 * python3-xgboost runs, so it could at best tie XGBoost's own time; this
 * trainer took 0.31x-0.41x of it (800,000 x 30 rows, 300 trees of depth 6,
 * 2 threads, DMatrix + train, on a loaded machine), 0.63x of its CPU per
 * tree side by side on one thread, at the same holdout AUC (to 1e-4).  And
 * it keeps every byte in kernel memory (bounded up front by
 * maas_gbdt_memory, freed by the caller's context on any error or cancel),
 * ticks between every level of every tree and every few million histogram
 * updates (a cancel lands within milliseconds, not after a boosting round
 * or a DMatrix build), runs its threads with signals blocked (threads.h),
 * gives the same model bit for bit for any thread count, and brings no C++
 * runtime or OpenMP into the backend.
 *
 * The parameters are XGBoost's, with its meaning (hist, depthwise growth):
 * the split gain of a node with gradient sum G and hessian sum H is
 * T(G_L)^2/(H_L+lambda) + T(G_R)^2/(H_R+lambda) - T(G)^2/(H+lambda), T the
 * soft threshold by alpha; a split needs gain > 1e-6 and >= gamma and
 * both children's H >= min_child_weight; a leaf's value is
 * -eta T(G)/(H+lambda).  Features are cut into at most max_bin bins at
 * quantiles of (a sample of) the training rows; NaN is a bin of its own,
 * and each split learns which side missing values take (the right side,
 * as XGBoost, when the node had none).  Differences from XGBoost 1.7:
 * base_score defaults to the training rows' mean (logit of the positive
 * rate, log class priors, mean target), as XGBoost 2 does; max_bin is at
 * most 256 (255 for a feature with missing values).
 */
#ifndef MAAS_TRAIN_GBDT_H
#define MAAS_TRAIN_GBDT_H

#include "kernel.h"
#include "train.h"
#include "trees.h"

#define MAAS_GBDT_MAX_DEPTH		16
#define MAAS_GBDT_MAX_BIN		256
#define MAAS_GBDT_MAX_ROUNDS	100000

typedef enum MaasGbdtObjective
{
	MAAS_GBDT_BINARY,			/* binary:logistic, classes 0/1 */
	MAAS_GBDT_MULTI,			/* multi:softprob, n_classes groups */
	MAAS_GBDT_REGRESSION		/* reg:squarederror */
} MaasGbdtObjective;

typedef struct MaasGbdtConfig
{
	MaasGbdtObjective objective;
	int			n_classes;		/* BINARY: 2; MULTI: 2 or more */
	int			n_estimators;	/* boosting rounds, 1 .. MAAS_GBDT_MAX_ROUNDS */
	double		eta;			/* learning_rate, (0, 1] */
	int			max_depth;		/* 1 .. MAAS_GBDT_MAX_DEPTH */
	double		min_child_weight;	/* >= 0 */
	double		lambda;			/* reg_lambda, >= 0 */
	double		alpha;			/* reg_alpha, >= 0 */
	double		gamma;			/* min_split_loss, >= 0 */
	double		subsample;		/* rows per tree, (0, 1] */
	double		colsample_bytree;	/* features per tree, (0, 1] */
	int			max_bin;		/* 2 .. MAAS_GBDT_MAX_BIN */
	double		base_score;		/* NaN: from the training rows; else in
								 * XGBoost's space (a probability for BINARY) */
	const double *class_weight; /* n_classes weights (>= 0), or NULL */
	int			early_stopping_rounds;	/* 0: none; else needs val rows */
	int			threads;		/* 1 .. MAAS_POOL_MAX_THREADS */
	uint64_t	seed;			/* row and feature sampling, binning sample */
} MaasGbdtConfig;

/* XGBoost's defaults (n_estimators 100, eta 0.3, max_depth 6, ...) */
extern void maas_gbdt_defaults(MaasGbdtConfig *cfg);

/* every parameter in range, named as XGBoost names it */
extern bool maas_gbdt_check_config(const MaasGbdtConfig *cfg, MaasError *err);

/*
 * An upper bound of the bytes maas_gbdt_fit allocates for n_train rows of
 * d features and n_val validation rows (the caller's matrices not
 * counted), or false on overflow.
 */
extern bool maas_gbdt_memory(const MaasGbdtConfig *cfg, int64_t n_train, int d,
							 int64_t n_val, size_t *bytes);

typedef struct MaasGbdtResult
{
	MaasTrees	trees;			/* the model (best_round rounds), ready to
								 * store; gain and cover filled in */
	int			rounds_run;
	int			best_round;		/* 1-based; the model keeps rounds 1 .. it */
	double	   *train_loss;		/* rounds_run: mean loss after each round */
	double	   *val_loss;		/* rounds_run, or NULL without val rows */
	double	   *val_score;		/* accuracy, or R^2 */
	int			n_bins_max;		/* largest number of bins of a feature */
} MaasGbdtResult;

/*
 * Train on data (x: n * d floats, NaN missing; cls for classification, y
 * for regression).  val (n may be 0; NULL allowed) gives the per-round
 * validation loss (log loss, multiclass log loss, or mean squared error)
 * and score, and early stopping.  hooks->tick is called between every
 * level of every tree on the calling thread (and may not return);
 * hooks->epoch after every round (epoch = round).  Returns false with err:
 * MAAS_ERR_INVALID for a bad config or data (a class out of range, one
 * class only, a non-finite target), MAAS_ERR_NOMEM.
 */
extern bool maas_gbdt_fit(const MaasGbdtConfig *cfg, const MaasTrainSet *data,
						  const MaasTrainSet *val, const MaasTrainHooks *hooks,
						  MaasGbdtResult *result, MaasError *err);

#endif							/* MAAS_TRAIN_GBDT_H */
