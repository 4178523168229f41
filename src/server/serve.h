/*
 * serve.h
 *		The serving core (serve.c): the state of one call site, which the
 *		per-row functions, the batch path, maas_evaluate and the statistics
 *		all use.  It resolves the model once per snapshot, checks and
 *		copies each row's features, and reads the model's outputs.
 */
#ifndef MAAS_SERVE_H
#define MAAS_SERVE_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/jsonb.h"

#include "cache.h"
#include "services.h"

typedef struct MaasRemoteCall MaasRemoteCall;
typedef struct MaasRollout MaasRollout;

typedef struct MaasServeState
{
	MemoryContext cxt;			/* fn_mcxt: lives as long as the call site */

	/* what was asked for */
	char	   *model;
	int			model_len;
	int32		version;		/* 0: the deployed version */
	int8		model_const;	/* the name is a constant of the query: 1,
								 * it is not: 0, not known yet: -1 */

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
	const MaasModel *answers_checked;	/* m when the call site's answer
										 * suits it (maas_serve_answer) */
	struct MaasStatsLocal *stats;	/* serving statistics (stats.h), or NULL */
	MaasRemoteCall *remote;	/* a remote model's call environment
									 * (remote.h), or NULL */
	MaasRollout *rollout;		/* a canary's or shadow's state (rollout.h) */
	MaasRollout *routing;		/* rollout while one routes this statement,
								 * else NULL */

	MemoryContextCallback release;	/* unpins when the call site goes away */
} MaasServeState;

/* what a per-row call answers */
typedef enum MaasAnswer
{
	MAAS_ANSWER_VALUE,			/* maas_predict */
	MAAS_ANSWER_PROBA,			/* maas_predict_proba */
	MAAS_ANSWER_LABEL,			/* maas_predict_label */
	MAAS_ANSWER_JSON			/* maas_predict_json: all of it, as json */
} MaasAnswer;

/* how a text argument is read by the model a call resolved */
typedef enum MaasTextInput
{
	MAAS_TEXT_ARRAY,			/* features as an array literal: '{1,2,3}' */
	MAAS_TEXT_JSON,				/* features as JSON: '[1,2,3]', '{"col": 1}' */
	MAAS_TEXT_TOKENS			/* text for a text model, whose net reads
								 * token ids (MAAS_NET_TOKENS) */
} MaasTextInput;

extern MaasServeState *maas_serve_state(FmgrInfo *flinfo);
extern int32 maas_arg_version(FunctionCallInfo fcinfo, int argno, bool nullable);
extern void maas_serve_resolve(MaasServeState *st, text *model, int32 version);
extern void maas_serve_call(FunctionCallInfo fcinfo, MaasServeState *st);
extern bool maas_serve_feature_type(Oid arraytype);
extern const float *maas_serve_features(MaasServeState *st, ArrayType *arr,
										float *dst);
extern const float *maas_serve_forward(MaasServeState *st, const MaasBlas *blas,
									   int n, const float *x, float *work);
extern MaasTextInput maas_serve_text_input(MaasServeState *st, text *input);
extern float8 maas_serve_value(const MaasModel *m, const float *out);
extern ArrayType *maas_serve_proba(const MaasModel *m, float *out);
extern text *maas_serve_label(const MaasModel *m, const float *out);
extern text *maas_serve_json(MaasServeState *st, float *out);
extern void maas_serve_require_classifier(MaasServeState *st);
extern void maas_serve_require_predictor(MaasServeState *st);
extern Datum maas_serve_answer(MaasServeState *st, MaasAnswer what,
							   const float *x, const float *out);

#endif							/* MAAS_SERVE_H */
