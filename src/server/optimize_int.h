/*
 * optimize_int.h
 *		What the files of maas_quantize and maas_prune share (optimize.c,
 *		optimize_quant.c, optimize_prune.c, optimize_eval.c): the call's
 *		state, the new weights being built, the rows both versions are
 *		measured on, and the functions between the files.  Not for the rest
 *		of maas.
 */
#ifndef MAAS_OPTIMIZE_INT_H
#define MAAS_OPTIMIZE_INT_H

#include "train_job.h"

#include "quantize.h"

#include "utils/jsonb.h"

typedef enum OptMethod
{
	OPT_INT8,
	OPT_BF16,
	OPT_F16,
	OPT_PRUNE_MAGNITUDE,
	OPT_PRUNE_UNITS
} OptMethod;

/* one call: the parent, the params, the new version's parts */
typedef struct Opt
{
	char	   *model;
	int32		parent;
	OptMethod	method;
	bool		is_prune;
	Jsonb	   *params;			/* as given, or NULL */

	/* params */
	char	   *evaluate;		/* a query, or NULL */
	char	   *target;			/* its target column */
	int			sample_rows;
	int			min_outputs;	/* int8: narrower layers stay float32 */
	double		sparsity;
	MaasPruneScope scope;
	int			finetune_epochs;	/* units: epochs on the training rows after */
	DeployRule	deploy;
	uint64		seed;

	/* the parent */
	char	   *algorithm;
	Jsonb	   *config;
	bytea	   *weights;
	StFile		file;
	Jsonb	   *metrics;
	Jsonb	   *train_stats;
	int64		bytes;
	MaasModel  *pm;

	/* the new version */
	Jsonb	   *new_config;
	bytea	   *new_weights;
	StFile		new_file;
	MaasModel  *cm;
	int			n_changed;		/* layers quantized or pruned */
	int			n_kept;			/* dense layers left float32 */
	int			n_tied;			/* embeddings reading a quantized LM head */
	int64		pruned;			/* weights or units removed */
	int64		total;			/* of how many */
} Opt;

/* the new weights, as they are built */
typedef struct NewTensor
{
	char	   *name;
	StDtype		dtype;
	int			ndim;
	int64_t		shape[2];
	const void *data;
} NewTensor;

typedef struct Builder
{
	const MaasJson *layers;		/* the parent's, from its config */
	char	  **patch;			/* per layer: JSON members to merge, or NULL */
	char	  **replaced;		/* per layer: the weight it no longer reads */
	NewTensor  *add;
	int			n_add;
	int			cap_add;
	float	  **data;			/* pruning: new F32 data by tensor index */
} Builder;

/* the rows both versions are measured on, and what one version does on them */
typedef struct Sample
{
	const char *kind;			/* "holdout", "training statistics", ... */
	int			n;
	int			t;				/* token positions, text models */
	float	   *x;				/* n * n_in */
	int32	   *ids;			/* n * t */
	int32	   *lengths;
	TrainJob   *job;			/* the holdout's */
} Sample;

typedef struct Measure
{
	float	   *out;			/* n * k */
	int			k;
	double		rows_per_second;
	double		tokens_per_second;
} Measure;

/* the new tensors (optimize_quant.c): shared by the quantizer and the pruners */
extern void opt_add_tensor(Builder *bd, const char *name, StDtype dtype, int ndim,
						   int64_t d0, int64_t d1, const void *data);
extern char *opt_json_quote(const char *s);
extern float *opt_tensor_floats(const StTensor *t, bool transpose);
extern const char *opt_layer_string(const MaasJson *layer, const char *key);
/* int8, bf16 or f16 weights for every dense layer that gains from it */
extern void opt_quantize_layers(Opt *o, Builder *bd);

/* pruning, and fine-tuning a units-pruned MLP (optimize_prune.c) */
extern void opt_prune_magnitude(Opt *o, Builder *bd);
extern void opt_prune_units(Opt *o, Builder *bd);
extern void opt_finetune(Opt *o, TrainJob *job);

/* measuring both versions (optimize_eval.c) */
extern TrainJob *opt_rebuild_holdout(Opt *o);
extern void opt_skip_standardize(MaasModel *m);
extern void opt_synthetic_sample(Opt *o, Sample *s);
extern void opt_run_model(const MaasModel *m, const Sample *s, Measure *r);
extern float *opt_class_outputs(const MaasModel *m, const Measure *r, int n);
extern void opt_agreement(const Measure *a, const Measure *b, int n,
						  double *top1, double *maxdiff);
extern Jsonb *opt_jsonb_text(const char *s);
extern Jsonb *opt_evaluate_query(Opt *o, int32 version);
extern double opt_metric_of(Jsonb *metrics, const char *key);
extern Jsonb *opt_with_optimization(Jsonb *metrics, const char *record);

#endif							/* MAAS_OPTIMIZE_INT_H */
