/*
 * train_job.h
 *		One maas_train call, shared by the files of its phases: train.c (the
 *		entry point, settings and fitting), train_params.c (params),
 *		train_load.c (columns, rows, task), train_prep.c (the split and
 *		preprocessing) and train_report.c
 *		(metrics, the stored model, the deploy rule and the run record).
 */
#ifndef MAAS_TRAIN_JOB_H
#define MAAS_TRAIN_JOB_H

#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "inputs.h"
#include "model.h"
#include "train.h"
#include "train_gbdt.h"
#include "train_kmeans.h"

typedef enum Algorithm
{
	ALG_AUTO = 1,
	ALG_LINEAR = 2,
	ALG_LOGISTIC = 4,
	ALG_MLP = 8,
	ALG_CNN = 16,
	ALG_GBDT = 32,				/* boosted trees (train_tabular.c) */
	ALG_KMEANS = 64				/* k-means clustering (train_tabular.c) */
} Algorithm;

#define ALG_TABULAR	(ALG_GBDT | ALG_KMEANS)

#define ALG_ALL		(ALG_AUTO | ALG_LINEAR | ALG_LOGISTIC | ALG_MLP | ALG_CNN)
#define ALG_NN		(ALG_LOGISTIC | ALG_MLP | ALG_CNN)
#define ALG_DENSE	(ALG_MLP | ALG_CNN) /* hidden layers, dropout, early stopping */

typedef enum DeployRule
{
	DEPLOY_IF_BETTER,
	DEPLOY_ALWAYS,
	DEPLOY_NEVER
} DeployRule;

/* the convolutions of a cnn (train_cnn.c); the dense layers are the mlp's */
typedef struct TrainCnnParams
{
	bool		shape_set;
	int			in_c,
				in_h,
				in_w;
	int			pool;			/* after every convolution; 1: none */
	int			n_conv;
	MaasCnnConv conv[MAAS_CNN_MAX_CONV];
} TrainCnnParams;

typedef struct TrainParams
{
	Algorithm	algorithm;
	bool		task_set;
	MaasTask	task;
	double		test_size;
	uint64		seed;
	MaasImpute	impute;
	MaasScale	scale;
	int			n_features;		/* named in params.features, or 0 */
	char	  **features;
	DeployRule	deploy;
	double		l2;
	bool		l2_set;
	double		lr;
	int			epochs;			/* 0: by the data size */
	int			batch_size;
	MaasOptimizer optimizer;
	double		momentum;
	double		tol;
	bool		tol_set;
	int			patience;
	bool		patience_set;
	int			n_hidden;
	int			hidden[MAAS_NN_MAX_HIDDEN];
	MaasOp		activation;
	double		dropout;
	double		weight_decay;
	bool		early_stopping;
	double		validation_fraction;
	TrainCnnParams cnn;

	/* gbdt and kmeans (train_tabular.c) */
	MaasGbdtConfig gbdt;
	double		scale_pos_weight;	/* 0: not given */
	int			n_class_weight;		/* params.class_weight: label -> weight */
	char	  **class_weight_label;
	double	   *class_weight;
	MaasKmeansConfig kmeans;
	int			init_rows;			/* params.init: init_rows x init_cols */
	int			init_cols;
	float	   *init;
} TrainParams;

typedef struct TrainJob
{
	MemoryContext cxt;			/* everything of this training */
	MemoryContext row_cxt;		/* reset per row while loading */
	TrainParams p;
	char	   *model;
	char	   *target;
	char	   *source_sql;		/* SELECT * FROM ... */
	Oid			source_relid;	/* the table or view named, or InvalidOid */
	TimestampTz started;
	Size		limit;			/* maas.max_training_memory in bytes */
	Size		reserved;		/* what later phases will allocate (below) */
	Size		peak;

	/* columns */
	int			target_attno;
	MaasBinding target_b;
	bool		target_is_text;
	MaasInputs	inputs;
	MaasBinding *bind;
	int			raw_width;

	/* rows */
	float	   *x;
	double	   *y;
	int64		n;
	int64		cap;
	bool		cap_estimated;	/* cap is the table's estimated rows */
	int64		skipped;		/* NULL target */
	MaasStringSet *target_set;	/* text targets */
	HTAB	   *target_values;	/* numeric targets: distinct values */
	int			n_target_values;

	/*
	 * Linear least squares: its normal equations summed while the rows are
	 * read (train_load.c), when maas_train asks (want_gram) and the rows
	 * allow it: numbers only, none NULL, no min-max scaling.  Then the rows
	 * are not moved for the split: holdout lists the n_test holdout rows in
	 * the split's order, where they lie in x, unscaled.
	 */
	bool		want_gram;
	MaasGram   *gram;
	int32	   *holdout;

	/* after the split */
	MaasTask	task;
	int			n_classes;
	char	  **label_json;		/* n_classes JSON values */
	char	  **label_text;
	int64		n_train;
	int64		n_test;
	int32	   *cls;
	float	   *yf;				/* regression target */
	int			width;			/* model input */
	float	   *mean;			/* per input slot, training rows */
	float	   *std;
	double	   *var;
	float	   *shift;			/* the standardize layer: (x - shift) / div */
	float	   *div;

	/* training */
	const char *algorithm_name;
	double		loss_scale;		/* regression MLP: target variance */
	int			epochs_run;
	double	   *loss;
	double	   *val_loss;
	bool		val_is_holdout;
	TupleDesc	source_desc;	/* the source's columns, as planned */
	struct TrainCnn *cnn;		/* a cnn's convolutions (train_cnn.c) */
} TrainJob;

/*
 * Memory.  Everything a training allocates in proportion to its data is
 * counted against maas.max_training_memory before it is allocated: what is
 * allocated in job->cxt so far, plus job->reserved, an upper bound of what
 * the phases still to come take per input slot (preprocessing statistics,
 * the stored statistics and config as text, Jsonb and parsed again when
 * the version is stored), plus what is about to be allocated.  These are
 * the bounds, in bytes, measured on wide inputs with some margin.
 */
#define TRAIN_READ_BYTES_PER_SLOT	13	/* a row's array detoasted and split */
#define TRAIN_PREP_BYTES_PER_RAW	24	/* imputing: sums, counts, fill */
#define TRAIN_PREP_BYTES_PER_SLOT	56	/* scaling: statistics per slot */
#define TRAIN_REPORT_BYTES_PER_SLOT 2048	/* statistics and config, stored */

/* train.c */
extern void maas_train_init(void);
extern void maas_train_memory_error(TrainJob *job, const char *what, Size need)
			pg_attribute_noreturn();
extern void maas_train_check_memory(TrainJob *job, const char *what, Size need);

extern void maas_train_hooks(TrainJob *job, MaasTrainHooks *hooks);
extern int	maas_train_threads(void);

/* train_params.c */
extern void maas_train_param_error(const char *key, const char *range)
			pg_attribute_noreturn();
extern double maas_train_param_number(const char *key, JsonbValue *v, double min,
									  double max, bool min_open, const char *range);
extern int	maas_train_param_int(const char *key, JsonbValue *v, int min, int max,
								 const char *range);
extern Algorithm maas_train_parse_algorithm(const char *name);
extern const char *maas_train_algorithm_name(Algorithm a);
extern void maas_train_parse_params(Jsonb *params, TrainParams *p);
extern const char *maas_train_scale_name(MaasScale scale);
extern const char *maas_train_deploy_name(DeployRule rule);

/* train_load.c */
extern void maas_train_plan_columns(TrainJob *job);
extern void maas_train_load_rows(TrainJob *job);
extern void maas_train_resolve_task(TrainJob *job);

/* train_prep.c */
extern void maas_train_preprocess(TrainJob *job);

/* train_cnn.c */
extern void maas_train_cnn_defaults(TrainParams *p);
extern bool maas_train_cnn_param(const char *key, JsonbValue *v, TrainParams *p);
extern void maas_train_cnn_check_inputs(TrainJob *job);
extern bool maas_train_cnn_memory(TrainJob *job, const MaasNnConfig *c,
								  int64 n_fit, size_t *bytes);
extern bool maas_train_cnn_fit(TrainJob *job, const MaasBlas *blas,
							   const MaasNnConfig *c, const MaasTrainSet *data,
							   const MaasTrainSet *val, const MaasTrainHooks *hooks,
							   MaasNnResult *res, MaasError *err);
extern bool maas_train_cnn_predict(TrainJob *job, const MaasBlas *blas,
								   const float *x, int64 n,
								   const MaasTrainHooks *hooks, float *out,
								   MaasError *err);
extern int	maas_train_cnn_tensors(TrainJob *job);
extern void maas_train_cnn_layers(TrainJob *job, StWriteTensor *t, int *k,
								  StringInfo s);
extern void maas_train_cnn_params_json(const TrainParams *p, StringInfo s);

/* train_report.c */
extern char *maas_train_metrics_json(TrainJob *job, const float *out,
									 double *primary);
extern char *maas_train_stats_json(TrainJob *job);
extern char *maas_train_params_json(TrainJob *job);
extern void maas_train_build_model(TrainJob *job, const MaasNnConfig *c,
								   const MaasNnModel *m, bytea **weights,
								   Jsonb **config);
extern bool maas_train_deploy(TrainJob *job, int32 version, double primary);
extern void maas_train_record_run(TrainJob *job, int32 version, bool deployed,
								  const char *source, int n_features);

/* train_tabular.c: boosted trees and k-means */
extern void maas_train_tabular_defaults(TrainParams *p);
extern int	maas_train_tabular_allows(Algorithm a, const char *key, int allowed);
extern bool maas_train_tabular_param(TrainParams *p, const char *key, JsonbValue *v);
extern void maas_train_tabular_fit(TrainJob *job, float **out, char **metrics,
								   double *primary, bytea **weights, Jsonb **config);
extern void maas_train_tabular_params_json(TrainJob *job, StringInfo s);
extern void maas_train_gbdt_stats(TrainJob *job);
struct TrainAutoSnapshot;
extern struct TrainAutoSnapshot *maas_train_auto_save(TrainJob *job);
extern void maas_train_auto_gbdt(TrainJob *job, struct TrainAutoSnapshot *snap,
								 bytea **weights, Jsonb **config, char **metrics,
								 double *primary, char **stats);

#endif							/* MAAS_TRAIN_JOB_H */
