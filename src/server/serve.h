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
#include "utils/snapmgr.h"

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
	int32		plain_head[3];	/* the dataoffset, element type and length
								 * of a plain real[n_in] for m (one
								 * dimension, no nulls), as an ArrayType
								 * has them after its ndim */

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
extern const float *maas_serve_small_row(MaasServeState *st, ArrayType *arr,
										 const float *x);
extern const float *maas_serve_forward(MaasServeState *st, const MaasBlas *blas,
									   int n, const float *x, float *work);
extern MaasTextInput maas_serve_text_input(MaasServeState *st, text *input);
extern ArrayType *maas_serve_proba(const MaasModel *m, float *out);
extern text *maas_serve_label(const MaasModel *m, const float *out);
extern text *maas_serve_json(MaasServeState *st, float *out);
extern void maas_serve_require_classifier(MaasServeState *st);
extern void maas_serve_require_predictor(MaasServeState *st);
extern Datum maas_serve_answer(MaasServeState *st, MaasAnswer what,
							   const float *x, const float *out);

/* the lookup st made last was made under the snapshot snap */
static inline bool
maas_serve_same_snapshot(const MaasServeState *st, Snapshot snap)
{
	return st->xmin == snap->xmin && st->xmax == snap->xmax &&
		st->curcid == snap->curcid &&
		st->completions == snap->snapXactCompletionCount;
}

/*
 * The lookup st made last holds for a call (model, features) whose model
 * name is a constant of the query: what maas_serve_resolve checks first,
 * without the call, for the per-row calls of a statement after its first
 */
static inline bool
maas_serve_current(const MaasServeState *st)
{
	return st->entry != NULL && st->model_const == 1 && st->version == 0 &&
		maas_serve_same_snapshot(st, GetActiveSnapshot());
}

/*
 * The class one row's outputs predict: for one sigmoid output, whether
 * p(class 1) is at least 0.5; for clustering, the nearest center (the first
 * on ties); else the largest output.
 */
static inline int
maas_serve_class(const MaasModel *m, const float *out)
{
	if (m->sigmoid_binary)
		return out[0] >= 0.5f ? 1 : 0;
	if (m->task == MAAS_TASK_CLUSTERING)
	{
		int			best = 0;

		for (int j = 1; j < m->n_classes; j++)
			if (out[j] < out[best])
				best = j;
		return best;
	}
	return maas_argmax(out, m->n_classes);
}

/*
 * What maas_predict returns for one row's outputs: the value of a
 * regression, or the class (its label when labels are numbers, else its
 * index).  The batch path uses it too, so both give the same answer.
 */
static inline float8
maas_serve_value(const MaasModel *m, const float *out)
{
	int			cls;

	if (m->task == MAAS_TASK_REGRESSION)
		return (float8) out[0];
	cls = maas_serve_class(m, out);
	if (m->label_values)
		return m->label_values[cls];
	return (float8) cls;
}

/*
 * Ask the CPU for a coming row while this row is worked on.  A sequential
 * scan hands rows over as they lie in the heap page, where each row is
 * stored just below the one before it: the row after the next one is most
 * likely in the len bytes (this array's size, about a row's) a row's
 * length below this array, with its tuple header just under it.  The next
 * row is too close to arrive in time; that one is not.  A prefetch never
 * faults, so a wrong guess (an array that is not in a page, rows of other
 * sizes) costs the prefetch and nothing else.  On 1M rows of real[50] this
 * hides the cache misses of reading each array, about 40% of a per-row
 * call's time without it.
 */
static inline void
maas_prefetch_coming_row(const ArrayType *arr)
{
	uintptr_t	p = (uintptr_t) arr;
	size_t		len = VARSIZE(arr);

	/* addresses, not pointers: below the array is outside it */
	if (len > 2048)
		return;
	for (size_t off = len + 32; off < 2 * len + 96; off += 64)
		__builtin_prefetch((const void *) (p - off));
}

/*
 * The features of a per-row call read in place when arr is a plain
 * real[n_in] for the model st resolved (one dimension, no nulls, real, its
 * length: one compare of the array's head), else NULL; not checked finite
 * (maas_serve_small_row does that).  The usual path, maas_serve_features,
 * takes every other array, or says what is wrong with it.
 */
static inline const float *
maas_serve_plain_features(const MaasServeState *st, ArrayType *arr)
{
	maas_prefetch_coming_row(arr);
	/* an array of one dimension has its dims[0] after the fields compared */
	if (ARR_NDIM(arr) == 1 &&
		memcmp(&arr->dataoffset, st->plain_head, sizeof(st->plain_head)) == 0)
		return (const float *) ARR_DATA_PTR(arr);
	return NULL;
}

#endif							/* MAAS_SERVE_H */
