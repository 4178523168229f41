/*
 * maas.h
 *		Declarations shared by the SQL-facing files of maas.
 *
 * The files under src/ split in two.  Kernels (net.c, safetensors.c,
 * blas.c) know nothing of PostgreSQL.  The rest, declared here, is the glue:
 * maas.c (module load, settings), catalog.c (reading the registry on the
 * serving path), model.c (config + weights -> runtime model), cache.c (the
 * per-backend model cache), registry.c (register, deploy, drop, export) and
 * predict.c (the maas_predict family).
 */
#ifndef MAAS_H
#define MAAS_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/jsonb.h"

#include "blas.h"
#include "net.h"
#include "safetensors.h"

#define MAAS_MODEL_NAME_MAX		200

/* settings (maas.c) */
extern int	maas_cache_size_kb;
extern int	maas_blas_threads;
extern char *maas_blas_library_setting;

typedef enum MaasTask
{
	MAAS_TASK_CLASSIFICATION,
	MAAS_TASK_REGRESSION
} MaasTask;

/*
 * A model ready to run: the net plus what is needed to read its output.
 * Everything it points to lives in one memory context.
 */
typedef struct MaasModel
{
	MaasTask	task;
	MaasNet		net;
	int			n_classes;		/* classification: 2 for a sigmoid output */
	bool		sigmoid_binary; /* one sigmoid output: p(class 1) */
	bool		outputs_proba;	/* the last layer yields probabilities */
	char	  **labels;			/* n_classes texts, or NULL */
	float8	   *label_values;	/* n_classes numbers if labels are numeric */
	float	   *row_work;		/* workspace for one row */
} MaasModel;

/* maas.c */
extern const MaasBlas *maas_get_blas(void);
extern const MaasBlas *maas_get_blas_threads(int threads);

/* training.c: settings and the progress segment, from _PG_init */
extern void maas_training_init(void);

/* model.c */
extern const char *maas_task_name(MaasTask task);
extern MaasModel *maas_model_build(Jsonb *config, const StFile *weights);
extern void maas_parse_safetensors(bytea *weights, StFile *file);
extern bytea *maas_write_safetensors(const StWriteTensor *tensors, int n_tensors,
									 const char *const *meta_keys,
									 const char *const *meta_values, int n_meta);

/* registry.c: writing the registry (as its owner, after checking the caller) */
extern void maas_check_model_name(const char *name);
extern int32 maas_store_version(const char *model, const char *algorithm,
								bytea *weights, Jsonb *config, Jsonb *metrics,
								Jsonb *train_stats, int32 parent_version);
extern int32 maas_deploy_version(const char *model, int32 version,
								 const char *strategy);
extern void maas_catalog_execute(const char *sql, int nargs, Oid *types,
								 Datum *values, const char *nulls, int expect);

/* catalog.c: the registry as the serving path reads it, without SPI */
typedef struct MaasVersionRef
{
	Oid			catalog;		/* OID of maas.version: part of the cache key */
	int64		version_id;		/* immutable, never reused */
	int32		version;		/* number within the model */
} MaasVersionRef;

extern bool maas_model_usable(const char *owner, Datum acl, bool acl_isnull);
extern void maas_lookup_version(const char *model, int32 version,
								MaasVersionRef *ref);
extern void maas_fetch_version(const MaasVersionRef *ref,
							   Jsonb **config, bytea **weights);

/* what the monitoring views show of a version (stats_views.c) */
typedef struct MaasVersionInfo
{
	char	   *model;
	char	   *owner;			/* role name, as maas.model keeps it */
	bool		usable;			/* may the current user predict with it */
	int32		version;
	Jsonb	   *config;
	Jsonb	   *train_stats;	/* NULL when training stored none */
} MaasVersionInfo;

extern bool maas_version_info(const MaasVersionRef *ref, MaasVersionInfo *info);

/*
 * predict.c: the serving state of one call site (fn_extra).  The per-row
 * functions and the batch path both use it: resolve the model once per
 * snapshot, then check and copy each row's features.
 */
typedef struct MaasServeState
{
	MemoryContext cxt;			/* fn_mcxt: lives as long as the call site */

	/* what was asked for */
	char	   *model;
	int32		version;		/* 0: the deployed version */

	/* the snapshot the lookup was made under */
	TransactionId xmin;
	TransactionId xmax;
	CommandId	curcid;
	uint64		completions;

	/* what it resolved to */
	MaasVersionRef ref;
	struct MaasCacheEntry *entry;
	MaasModel  *m;
	float	   *input;			/* n_in floats: the row being predicted */
	struct MaasStatsLocal *stats;	/* serving statistics (stats.h), or NULL */

	MemoryContextCallback release;	/* unpins when the call site goes away */
} MaasServeState;

extern MaasServeState *maas_serve_state(FmgrInfo *flinfo);
extern void maas_serve_resolve(MaasServeState *st, text *model, int32 version);
extern void maas_serve_call(FunctionCallInfo fcinfo, MaasServeState *st);
extern const float *maas_serve_features(MaasServeState *st, ArrayType *arr,
										float *dst);
extern float8 maas_serve_value(const MaasModel *m, const float *out);
extern ArrayType *maas_serve_proba(const MaasModel *m, float *out);
extern text *maas_serve_label(const MaasModel *m, const float *out);
extern void maas_serve_require_classifier(MaasServeState *st);

/* cache.c */
typedef struct MaasCacheEntry MaasCacheEntry;

extern MaasCacheEntry *maas_cache_pin(const MaasVersionRef *ref);
extern void maas_cache_unpin(MaasCacheEntry *entry);
extern MaasModel *maas_cache_model(MaasCacheEntry *entry);

#endif							/* MAAS_H */
