/*
 * rollout.h
 *		Canary and shadow deployments (rollout.c): which version answers a
 *		call while a model has a candidate next to its deployed version.
 *
 * maas_serve_resolve() reads a model's rollout under the statement's
 * snapshot together with its deployed version, so a statement sees one
 * routing from start to end: the live version and at most one candidate,
 * whose serving state (a second MaasServeState, resolved to the
 * candidate's version number) hangs off the live one.  A call site with no
 * rollout has st->routing == NULL and pays one pointer test per call.
 */
#ifndef MAAS_ROLLOUT_H
#define MAAS_ROLLOUT_H

#include "serve.h"

typedef enum MaasRolloutKind
{
	MAAS_ROLLOUT_CANARY,		/* a share of calls answered by the candidate */
	MAAS_ROLLOUT_SHADOW			/* the candidate scores calls, only compared */
} MaasRolloutKind;

typedef struct MaasRollout
{
	MaasRolloutKind kind;
	int32		version;		/* the candidate's number */
	double		fraction;		/* canary: the share of calls it answers */
	uint64		threshold;		/* fraction scaled to 2^53 */
	char		key[NAMEDATALEN];	/* canary: the row form's key column; "" by call */
	uint64		seed;			/* the hash of model name and version */
	uint64		calls;			/* calls routed by call (no key) */
	FmgrInfo	shim;			/* fn_extra holds the candidate's state */
	MaasServeState *cand;
} MaasRollout;

/* maas.shadow_fraction */
extern double maas_shadow_fraction;

extern void maas_rollout_init(void);

/* st resolved its deployed version: read the model's rollout too */
extern void maas_rollout_resolve(MaasServeState *st, int64 model_id);

/*
 * The state that answers this call of st: st, or the canary's.  key is the
 * routing key's text (NULL: route by call).  The call begun on st moves to
 * the candidate's statistics when the candidate answers.
 */
extern MaasServeState *maas_rollout_route(MaasServeState *st, const char *key,
										  size_t len);

/* the routing decisions, for the batch path: canary or not, shadow or not */
extern bool maas_rollout_to_canary(MaasRollout *ro, const char *key, size_t len);
extern bool maas_rollout_shadow_sampled(MaasRollout *ro);

/* n rows' outputs of the live version and of its shadow, compared */
extern void maas_rollout_compare(MaasServeState *st, int n, const float *y_live,
								 const float *y_cand);

/* a shadow's forward pass: NULL on failure, counted, never raised */
extern const float *maas_rollout_shadow_forward(MaasServeState *cand,
												const MaasBlas *blas, int n,
												const float *x, float *work);

/* a shadow scores the row x the live version answered with out */
extern void maas_rollout_shadow(MaasServeState *st, const float *x,
								const float *out);

/* the stable routing hash (a 64-bit FNV-1a folded with a final mix) */
extern uint64 maas_route_hash(uint64 seed, const void *data, size_t len);

/* end a model's rollout inside a catalog session; true if there was one */
extern bool maas_rollout_end(int64 model_id);

static inline MaasServeState *
maas_serve_route(MaasServeState *st, const char *key, size_t len)
{
	if (likely(st->routing == NULL))
		return st;
	return maas_rollout_route(st, key, len);
}

#endif							/* MAAS_ROLLOUT_H */
