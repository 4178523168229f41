/*
 * rollout.c
 *		Canary and shadow deployments: maas_deploy(model, version, options),
 *		maas_promote(model), and the routing of calls in the serving core.
 *
 * A rollout is one row of maas.candidate: the candidate version, canary or
 * shadow, the canary's fraction and key column.  maas_serve_resolve() reads
 * it under the statement's snapshot right after the deployed version
 * (maas_rollout_resolve), so a deploy or promote that commits is seen by
 * the next statement of every backend and never half-way through one.
 *
 * A canary's call goes to the candidate when the hash of its key falls in
 * the first fraction of the hash space.  The hash is computed here, over
 * bytes, with no platform's or release's hash function: 64-bit FNV-1a over
 * the model name, the candidate's number (4 bytes, little-endian) and the
 * key's text, then the murmur3 finalizer to spread FNV's weak low bits.  So
 * the same key goes the same way in every backend, after a restart, on a
 * standby and on another machine.  The seed includes the candidate's
 * number, so the next canary picks its own share of keys, and raising a
 * canary's fraction keeps the keys it already had.
 *
 * A shadow never answers: the live version does, then the candidate scores
 * the same row (for a share of calls: maas.shadow_fraction) and the two are
 * compared in the candidate's statistics entry (stats.c): rows compared,
 * same class, sum of |value difference|.  Its calls, latency and drift are
 * counted in maas.stats under its own version.  Its failures (a remote
 * candidate's HTTP errors and timeouts) are counted as its errors and
 * never raised (maas_rollout_shadow_forward).  A text model has no shadow.
 *
 * Every call form routes: the row form by its key column (predict_row.c),
 * JSON objects by their key member (predict_json.c), batches by each row's
 * key (predict_batch.c), maas_generate by its "key" parameter
 * (text_generate.c); arrays and the other text functions by call.
 */
#include "remote.h"
#include "rollout.h"
#include "registry.h"
#include "stats.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* maas.candidate */
#define Anum_candidate_model_id		1
#define Anum_candidate_version		2
#define Anum_candidate_strategy		3
#define Anum_candidate_fraction		4
#define Anum_candidate_key			5

double		maas_shadow_fraction = 1.0;

void
maas_rollout_init(void)
{
	DefineCustomRealVariable("maas.shadow_fraction",
							 "Share of a shadow deployment's calls that its candidate also scores.",
							 "Shadow scoring runs a second model on the row: this bounds "
							 "the extra cost.  0 scores none.",
							 &maas_shadow_fraction,
							 1.0, 0.0, 1.0,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * The hash
 * ------------------------------------------------------------------------
 */

#define FNV_OFFSET	UINT64CONST(14695981039346656037)
#define FNV_PRIME	UINT64CONST(1099511628211)

static uint64
fnv_add(uint64 h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

static uint64
mix64(uint64 h)
{
	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

uint64
maas_route_hash(uint64 seed, const void *data, size_t len)
{
	return mix64(fnv_add(seed, data, len));
}

static uint64
rollout_seed(const char *model, int32 version)
{
	unsigned char v[4] = {version & 0xff, (version >> 8) & 0xff,
		(version >> 16) & 0xff, (version >> 24) & 0xff};
	uint64		h = fnv_add(FNV_OFFSET, model, strlen(model) + 1);

	return fnv_add(h, v, 4);
}

/* ------------------------------------------------------------------------
 * Serving
 * ------------------------------------------------------------------------
 */

static Oid
candidate_relid(void)
{
	Oid			nsp = get_namespace_oid("maas", true);

	/* a 0.1 schema not updated yet has no rollouts */
	return OidIsValid(nsp) ? get_relname_relid("candidate", nsp) : InvalidOid;
}

/*
 * The model's rollout under the active snapshot, into st->routing (NULL
 * when there is none, or the call site asked for a version by number:
 * model_id 0).  Raises only what resolving the candidate raises.
 */
void
maas_rollout_resolve(MaasServeState *st, int64 model_id)
{
	Oid			relid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	MaasRollout *ro = st->rollout;
	CommandId	curcid = st->curcid;
	bool		found = false;

	if (st->routing != NULL)
	{
		/* what the candidate counted in the last statement */
		maas_stats_flush(st->routing->cand);
		st->routing = NULL;
	}
	if (model_id == 0 || !OidIsValid(relid = candidate_relid()))
		return;

	/* until this succeeds, the next call looks the model up again */
	st->curcid = InvalidCommandId;

	/* locked until the transaction ends, as the registry (registry_read.c) */
	rel = table_open(relid, AccessShareLock);
	ScanKeyInit(&key, Anum_candidate_model_id, BTEqualStrategyNumber,
				F_INT8EQ, Int64GetDatum(model_id));
	scan = systable_beginscan(rel, InvalidOid, false, GetActiveSnapshot(), 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		TupleDesc	td = RelationGetDescr(rel);
		bool		isnull;
		char	   *strategy;
		Datum		d;

		if (ro == NULL)
		{
			ro = MemoryContextAllocZero(st->cxt, sizeof(MaasRollout));
			ro->shim.fn_mcxt = st->cxt;
			st->rollout = ro;
		}
		found = true;
		ro->version = DatumGetInt32(heap_getattr(tup, Anum_candidate_version, td, &isnull));
		strategy = TextDatumGetCString(heap_getattr(tup, Anum_candidate_strategy, td, &isnull));
		ro->kind = strcmp(strategy, "shadow") == 0 ? MAAS_ROLLOUT_SHADOW : MAAS_ROLLOUT_CANARY;
		d = heap_getattr(tup, Anum_candidate_fraction, td, &isnull);
		ro->fraction = isnull ? 0 : DatumGetFloat8(d);
		ro->threshold = (uint64) (ro->fraction * 9007199254740992.0);	/* 2^53 */
		d = heap_getattr(tup, Anum_candidate_key, td, &isnull);
		if (isnull)
			ro->key[0] = '\0';
		else
			strlcpy(ro->key, TextDatumGetCString(d), sizeof(ro->key));
	}
	systable_endscan(scan);
	table_close(rel, NoLock);

	if (found)
	{
		MaasServeState *cand = maas_serve_state(&ro->shim);

		maas_serve_resolve(cand, cstring_to_text(st->model), ro->version);
		ro->cand = cand;
		ro->seed = rollout_seed(st->model, ro->version);
		/*
		 * The deploy checked these; a candidate that differs is not routed
		 * to.  A text model's shadow is not scored: its answers (generated
		 * text, embeddings) have no comparison here.
		 */
		if (cand->m->net.n_in == st->m->net.n_in &&
			cand->m->task == st->m->task &&
			cand->m->n_classes == st->m->n_classes &&
			maas_model_is_text(cand->m) == maas_model_is_text(st->m) &&
			!(ro->kind == MAAS_ROLLOUT_SHADOW && maas_model_is_text(st->m)))
			st->routing = ro;
	}
	st->curcid = curcid;
}

/* does the canary answer this call: by the key's text, or by call (NULL) */
bool
maas_rollout_to_canary(MaasRollout *ro, const char *key, size_t len)
{
	uint64		h;

	if (key != NULL)
		h = maas_route_hash(ro->seed, key, len);
	else
		h = mix64(ro->seed ^ ((uint64) MyProcPid << 40) ^ ro->calls++);
	return (h >> 11) < ro->threshold;
}

/* does the shadow score this call (maas.shadow_fraction of them) */
bool
maas_rollout_shadow_sampled(MaasRollout *ro)
{
	uint64		h;

	if (maas_shadow_fraction <= 0)
		return false;
	if (maas_shadow_fraction >= 1)
		return true;
	h = mix64(ro->seed ^ ((uint64) MyProcPid << 40) ^ ro->calls++);
	return (double) (h >> 11) < maas_shadow_fraction * 9007199254740992.0;
}

MaasServeState *
maas_rollout_route(MaasServeState *st, const char *key, size_t len)
{
	MaasRollout *ro = st->routing;

	if (ro->kind != MAAS_ROLLOUT_CANARY || !maas_rollout_to_canary(ro, key, len))
		return st;

	/* the call begun on the live version is the candidate's */
	if (st->stats != NULL && st->stats->started > 0)
	{
		st->stats->started--;
		st->stats->timed = false;
	}
	maas_stats_begin(ro->cand, false);
	return ro->cand;
}

static int
class_of(const MaasModel *m, const float *out)
{
	if (m->sigmoid_binary)
		return out[0] >= 0.5f ? 1 : 0;
	return maas_argmax(out, m->n_classes);
}

/*
 * n rows the live version of st answered with y_live, and its shadow with
 * y_cand, row after row: counted in the shadow's statistics.
 */
void
maas_rollout_compare(MaasServeState *st, int n, const float *y_live,
					 const float *y_cand)
{
	MaasServeState *cand = st->routing->cand;
	MaasStatsLocal *s = cand->stats;
	int			n_out = st->m->net.n_out;

	if (s == NULL)
		return;
	s->compared += n;
	for (int r = 0; r < n; r++)
	{
		const float *a = y_live + (size_t) r * n_out;
		const float *b = y_cand + (size_t) r * n_out;

		if (st->m->task == MAAS_TASK_CLASSIFICATION)
			s->agreed += class_of(st->m, a) == class_of(cand->m, b);
		else
			s->abs_diff += fabs(maas_serve_value(st->m, a) - maas_serve_value(cand->m, b));
	}
}

/*
 * The shadow's forward pass over n rows of x: NULL when it fails, having
 * raised nothing (a remote candidate's HTTP errors and timeouts, a local
 * one's kernel errors).  Its call was begun on cand and is left unended,
 * so maas.stats counts it as the candidate's error.  A cancel or
 * statement_timeout that arrived meanwhile is raised here, as it would be
 * anywhere.
 */
const float *
maas_rollout_shadow_forward(MaasServeState *cand, const MaasBlas *blas, int n,
							const float *x, float *work)
{
	const float *y;

	if (cand->remote != NULL)
		y = maas_remote_forward_quiet(cand, blas, n, x, work);
	else
	{
		MaasBatch	batch = {.n = n, .t = 1, .x = x};
		MaasError	err;

		y = maas_net_run(&cand->m->net, blas, &batch, 0, work, &err);
	}
	if (y == NULL)
		CHECK_FOR_INTERRUPTS();
	return y;
}

void
maas_rollout_shadow(MaasServeState *st, const float *x, const float *out)
{
	MaasRollout *ro = st->routing;
	MaasServeState *cand = ro->cand;
	const float *o2;

	if (ro->kind != MAAS_ROLLOUT_SHADOW || !maas_rollout_shadow_sampled(ro))
		return;
	maas_stats_begin(cand, false);
	o2 = maas_rollout_shadow_forward(cand, maas_get_blas(), 1, x, cand->m->row_work);
	if (o2 == NULL)
		return;					/* counted as the shadow's error */
	maas_stats_end(cand, 1, x, o2);
	maas_rollout_compare(st, 1, out, o2);
}

/*
 * maas_route(model, key): the version that answers a call whose key has
 * this text, under the statement's snapshot: the canary's or the live
 * one.  Scoring is deterministic, so with it labels that arrive later give
 * the live accuracy of each version (doc/rollouts.md).
 */
PG_FUNCTION_INFO_V1(maas_route);
Datum
maas_route(PG_FUNCTION_ARGS)
{
	MaasServeState *st = maas_serve_state(fcinfo->flinfo);
	MaasRollout *ro;
	text	   *key;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	maas_serve_resolve(st, PG_GETARG_TEXT_PP(0), 0);
	ro = st->routing;
	if (ro == NULL || ro->kind != MAAS_ROLLOUT_CANARY || PG_ARGISNULL(1))
		PG_RETURN_INT32(st->ref.version);
	if (ro->key[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the canary of model \"%s\" routes by call, not by key", st->model),
				 errhint("Deploy the canary with a \"key\" to route each key the same way.")));
	key = PG_GETARG_TEXT_PP(1);
	PG_RETURN_INT32(maas_rollout_to_canary(ro, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)) ?
					ro->version : st->ref.version);
}

/* ------------------------------------------------------------------------
 * Deploying
 * ------------------------------------------------------------------------
 */

/* end a model's rollout (inside a catalog session); true if it had one */
bool
maas_rollout_end(int64 model_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(model_id)};

	if (!OidIsValid(candidate_relid()))
		return false;
	return maas_catalog_query("DELETE FROM maas.candidate WHERE model_id = $1",
							  1, types, values, NULL, SPI_OK_DELETE) > 0;
}

typedef struct RolloutOptions
{
	const char *strategy;
	double		fraction;		/* -1: not given */
	const char *key;
} RolloutOptions;

static void
parse_options(Jsonb *options, RolloutOptions *o)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;

	o->strategy = NULL;
	o->fraction = -1;
	o->key = NULL;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rollout options must be a JSON object"),
				 errhint("For example '{\"strategy\": \"canary\", \"fraction\": 0.1}'.")));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			name = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (strcmp(name, "strategy") == 0 || strcmp(name, "key") == 0)
		{
			char	   *s;

			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("rollout option \"%s\" must be a string", name)));
			s = pnstrdup(v.val.string.val, v.val.string.len);
			if (name[0] == 's')
				o->strategy = s;
			else
				o->key = s;
		}
		else if (strcmp(name, "fraction") == 0)
		{
			if (v.type != jbvNumeric)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("rollout option \"fraction\" must be a number")));
			o->fraction = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
															 NumericGetDatum(v.val.numeric)));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown rollout option \"%s\"", name),
					 errhint("The options are \"strategy\", \"fraction\" and \"key\".")));
	}
	if (o->strategy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rollout options must name a strategy"),
				 errhint("Use {\"strategy\": \"canary\", \"fraction\": 0.1} or {\"strategy\": \"shadow\"}.")));
	if (strcmp(o->strategy, "canary") == 0)
	{
		if (o->fraction < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a canary needs a fraction"),
					 errhint("Give the share of calls it answers, e.g. \"fraction\": 0.1.")));
		if (!(o->fraction > 0 && o->fraction < 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("canary fraction must be between 0 and 1, exclusive"),
					 errdetail("The fraction is %g.", o->fraction)));
		if (o->key != NULL && (o->key[0] == '\0' || strlen(o->key) >= NAMEDATALEN))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rollout key must be a column name of 1 to %d bytes",
							NAMEDATALEN - 1)));
	}
	else if (strcmp(o->strategy, "shadow") == 0)
	{
		if (o->fraction >= 0 || o->key != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a shadow takes no \"%s\"", o->fraction >= 0 ? "fraction" : "key"),
					 errhint("A shadow scores every call, up to maas.shadow_fraction of them.")));
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown rollout strategy \"%s\"", o->strategy),
				 errhint("Use \"canary\" or \"shadow\"; deploy a version outright with maas_deploy(model, version).")));
}

/* the model's row, locked, with the caller checked as its owner */
static void
lock_model(MaasCatalogSession *cs, const char *model, int64 *model_id,
		   int32 *deployed)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(model)};
	bool		isnull;
	Datum		d;

	if (maas_catalog_query("SELECT model_id, deployed_version "
						   "FROM maas.model WHERE name = $1 FOR UPDATE",
						   1, types, values, NULL, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", model)));
	*model_id = DatumGetInt64(maas_catalog_result(0, 1, &isnull));
	d = maas_catalog_result(0, 2, &isnull);
	*deployed = isnull ? 0 : DatumGetInt32(d);
	/* raises unless the caller owns it */
	(void) maas_catalog_model_owner(cs, model);
}

static void
record_deployment(MaasCatalogSession *cs, int64 model_id, int32 version,
				  int32 previous, const char *strategy, Jsonb *params)
{
	Oid			types[6] = {INT8OID, INT4OID, INT4OID, TEXTOID, NAMEOID, JSONBOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', previous ? ' ' : 'n', ' ', ' ', params ? ' ' : 'n'};

	values[0] = Int64GetDatum(model_id);
	values[1] = Int32GetDatum(version);
	values[2] = Int32GetDatum(previous);
	values[3] = CStringGetTextDatum(strategy);
	values[4] = DirectFunctionCall1(namein,
									CStringGetDatum(GetUserNameFromId(cs->caller, false)));
	values[5] = PointerGetDatum(params);
	maas_catalog_query("INSERT INTO maas.deployment (model_id, version, previous_version, "
					   "strategy, deployed_by, params) VALUES ($1, $2, $3, $4, $5, $6) "
					   "RETURNING deployment_id",
					   6, types, values, nulls, SPI_OK_INSERT_RETURNING);
}

static char *
arg_model(FunctionCallInfo fcinfo)
{
	char	   *model;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	maas_check_model_name(model);
	return model;
}

/*
 * maas_deploy(model, version, options): start a canary or a shadow of the
 * version next to the deployed one.  Returns the candidate's number.
 */
PG_FUNCTION_INFO_V1(maas_deploy_rollout);
Datum
maas_deploy_rollout(PG_FUNCTION_ARGS)
{
	char	   *model = arg_model(fcinfo);
	int32		version;
	Jsonb	   *options;
	RolloutOptions o;
	MaasCatalogSession cs;
	int64		model_id;
	int32		deployed;
	bool		isnull;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("version must not be null")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rollout options must not be null")));
	version = PG_GETARG_INT32(1);
	options = PG_GETARG_JSONB_P(2);
	parse_options(options, &o);

	PreventCommandIfReadOnly("maas_deploy()");
	maas_catalog_begin(&cs);
	lock_model(&cs, model, &model_id, &deployed);
	if (deployed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no deployed version", model),
				 errhint("A %s runs next to the deployed version: deploy one first with maas_deploy('%s', version).",
						 o.strategy, model)));
	if (version == deployed)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version %d of model \"%s\" is the deployed version", version, model),
				 errhint("A %s must be another version than the one deployed.", o.strategy)));

	/* the candidate exists and reads what the deployed version reads */
	{
		Oid			types[3] = {INT8OID, INT4OID, INT4OID};
		Datum		values[3] = {Int64GetDatum(model_id), Int32GetDatum(version),
		Int32GetDatum(deployed)};

		if (maas_catalog_query("SELECT c.n_features = d.n_features AND c.task = d.task "
							   "AND c.n_outputs = d.n_outputs "
							   "AND c.config->'inputs' IS NOT DISTINCT FROM d.config->'inputs', "
							   "c.task IN ('generation', 'embedding') OR c.config ? 'tokenizer' "
							   "FROM maas.version c, maas.version d "
							   "WHERE c.model_id = $1 AND c.version = $2 "
							   "AND d.model_id = $1 AND d.version = $3",
							   3, types, values, NULL, SPI_OK_SELECT) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("version %d of model \"%s\" does not exist", version, model)));
		if (!DatumGetBool(maas_catalog_result(0, 1, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("version %d of model \"%s\" does not read and answer like the deployed version %d",
							version, model, deployed),
					 errdetail("A canary or shadow must have the deployed version's task, features, outputs and input columns.")));
		if (strcmp(o.strategy, "shadow") == 0 &&
			DatumGetBool(maas_catalog_result(0, 2, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a text model cannot have a shadow"),
					 errdetail("Version %d of model \"%s\" reads text; a shadow is compared on the features of a row.",
							   version, model),
					 errhint("Deploy it as a canary: maas_deploy('%s', %d, '{\"strategy\": \"canary\", \"fraction\": 0.1}').",
							 model, version)));
	}

	/* one candidate at a time */
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(model_id)};

		if (maas_catalog_query("SELECT version, strategy FROM maas.candidate WHERE model_id = $1",
							   1, types, values, NULL, SPI_OK_SELECT) > 0)
		{
			int32		other = DatumGetInt32(maas_catalog_result(0, 1, &isnull));
			char	   *strategy = TextDatumGetCString(maas_catalog_result(0, 2, &isnull));

			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" already has a %s: version %d", model, strategy, other),
					 errhint("Promote it with maas_promote('%s'), or end it with maas_deploy('%s', %d).",
							 model, model, deployed)));
		}
	}

	record_deployment(&cs, model_id, version, deployed, o.strategy, options);
	{
		Oid			types[6] = {INT8OID, INT4OID, TEXTOID, FLOAT8OID, TEXTOID, INT8OID};
		Datum		values[6];
		char		nulls[6] = {' ', ' ', ' ', o.fraction >= 0 ? ' ' : 'n',
		o.key ? ' ' : 'n', ' '};

		values[5] = maas_catalog_result(0, 1, &isnull);
		values[0] = Int64GetDatum(model_id);
		values[1] = Int32GetDatum(version);
		values[2] = CStringGetTextDatum(o.strategy);
		values[3] = Float8GetDatum(o.fraction);
		values[4] = o.key ? CStringGetTextDatum(o.key) : (Datum) 0;
		maas_catalog_query("INSERT INTO maas.candidate (model_id, version, strategy, "
						   "fraction, key, deployment_id) VALUES ($1, $2, $3, $4, $5, $6)",
						   6, types, values, nulls, SPI_OK_INSERT);
	}
	maas_catalog_end(&cs);
	PG_RETURN_INT32(version);
}

/*
 * maas_promote(model): the canary or shadow becomes the deployed version
 * (a deployment of strategy 'promote'), and the rollout ends.  Returns the
 * version now deployed.
 */
PG_FUNCTION_INFO_V1(maas_promote);
Datum
maas_promote(PG_FUNCTION_ARGS)
{
	char	   *model = arg_model(fcinfo);
	MaasCatalogSession cs;
	int64		model_id;
	int32		deployed;
	int32		version;
	bool		isnull;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];

	PreventCommandIfReadOnly("maas_promote()");
	maas_catalog_begin(&cs);
	lock_model(&cs, model, &model_id, &deployed);
	values[0] = Int64GetDatum(model_id);
	if (!OidIsValid(candidate_relid()) ||
		maas_catalog_query("DELETE FROM maas.candidate WHERE model_id = $1 RETURNING version",
						   1, types, values, NULL, SPI_OK_DELETE_RETURNING) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no canary or shadow to promote", model),
				 errhint("Start one with maas_deploy('%s', version, '{\"strategy\": \"canary\", \"fraction\": 0.1}').",
						 model)));
	version = DatumGetInt32(maas_catalog_result(0, 1, &isnull));
	values[1] = Int32GetDatum(version);
	maas_catalog_query("UPDATE maas.model SET deployed_version = $2 WHERE model_id = $1",
					   2, types, values, NULL, SPI_OK_UPDATE);
	record_deployment(&cs, model_id, version, deployed, "promote", NULL);
	maas_catalog_end(&cs);
	PG_RETURN_INT32(version);
}
