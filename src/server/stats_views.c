/*
 * stats_views.c
 *		Serving statistics as SQL sees them: maas.stats, maas.drift,
 *		maas.prediction_distribution, maas.stats_info and the reset.
 *
 * Each function copies the entries of the current database out of shared
 * memory, then looks each version up in the registry (under the query's
 * snapshot, so it works on standbys): versions that are gone are not
 * shown, and a role sees only versions of models it may use: all of them
 * for members of pg_read_all_stats, otherwise those of models it may
 * predict with (its own, its roles', and those granted with maas_grant).
 *
 * The training statistics drift is measured against are read from
 * maas.version.train_stats, a jsonb object (doc/monitoring.md):
 *
 *	{"n": 1437,
 *	 "features": [{"name": "x1", "mean": 4.2, "var": 1.7}, ...],
 *	 "classes": {"label": count, ...},		(classifiers)
 *	 "target": {"mean": 152.1, "var": 5929.0}}	(regression)
 *
 * with population variances (divided by n) of the raw inputs, in the
 * order the model takes them.  Anything missing or malformed just leaves
 * the corresponding score NULL.
 */
#include "serve.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "drift.h"
#include "stats.h"

/* below this many rows a score is noted as rough */
#define DRIFT_MIN_ROWS	100

static void
require_stats(void)
{
	if (maas_stats_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("serving statistics are not enabled"),
				 errdetail("The maas library was not loaded at server start."),
				 errhint("Add maas to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* ------------------------------------------------------------------------
 * Reading the table
 * ------------------------------------------------------------------------
 */

typedef struct Viewer
{
	Oid			userid;
	bool		sees_all;
} Viewer;

static void
viewer_init(Viewer *v, FunctionCallInfo fcinfo)
{
	v->userid = GetUserId();
	v->sees_all = has_privs_of_role(v->userid, ROLE_PG_READ_ALL_STATS);
}

/* a role sees the models it may predict with (see maas_model_usable) */
static bool
viewer_sees(const Viewer *v, const MaasVersionInfo *info)
{
	return v->sees_all || info->usable;
}

/*
 * Copies of this database's entries (with their features if with_data),
 * each paired with its registry row; only those the user may see.  e is a
 * MaasStatsEntry or, for the windows, a MaasWindowEntry.
 */
typedef struct Seen
{
	void	   *e;
	MaasVersionInfo info;
} Seen;

/* where collect_entries() finds what it needs in an entry of a table */
typedef struct EntryLayout
{
	HTAB	   *hash;
	LWLock	   *lock;			/* the table's shape */
	Size		size;			/* bytes copied of each entry */
	Size		mutex_at;		/* offsetof(entry, mutex) */
	Size		version_at;		/* offsetof(entry, version), an int32 */
	Size		start_at;		/* offsetof(entry, key.start), or 0: no windows */
	TimestampTz oldest;			/* windows that start before it are not shown */
} EntryLayout;

/* the size, mutex_at and version_at of an EntryLayout for entries of type T */
#define ENTRY_LAYOUT(T, full_size, with_data) \
	((with_data) ? (full_size) : offsetof(T, data)), \
	offsetof(T, mutex), offsetof(T, version)

/*
 * The key of each entry starts as a MaasStatsKey does (database, OID of
 * maas.version, version id).
 */
StaticAssertDecl(offsetof(MaasWindowKey, dbid) == offsetof(MaasStatsKey, dbid) &&
				 offsetof(MaasWindowKey, catalog) == offsetof(MaasStatsKey, catalog) &&
				 offsetof(MaasWindowKey, version_id) == offsetof(MaasStatsKey, version_id),
				 "a window's key starts as a stats entry's");

static List *
collect_entries(FunctionCallInfo fcinfo, const EntryLayout *l)
{
	List	   *copies = NIL;
	List	   *seen = NIL;
	HASH_SEQ_STATUS hs;
	char	   *e;
	ListCell   *lc;
	Viewer		viewer;

	viewer_init(&viewer, fcinfo);

	LWLockAcquire(l->lock, LW_SHARED);
	hash_seq_init(&hs, l->hash);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		slock_t    *mutex = (slock_t *) (e + l->mutex_at);
		char	   *copy;

		if (((MaasStatsKey *) e)->dbid != MyDatabaseId ||
			(l->start_at != 0 && *(TimestampTz *) (e + l->start_at) < l->oldest))
			continue;
		copy = palloc(l->size);
		SpinLockAcquire(mutex);
		memcpy(copy, e, l->size);
		SpinLockRelease(mutex);
		copies = lappend(copies, copy);
	}
	LWLockRelease(l->lock);

	/* the registry lookups, with no lock held */
	foreach(lc, copies)
	{
		Seen	   *s = palloc0(sizeof(Seen));
		const MaasStatsKey *key;
		MaasVersionRef ref;

		s->e = lfirst(lc);
		key = s->e;
		ref.catalog = key->catalog;
		ref.version_id = key->version_id;
		ref.version = *(int32 *) ((char *) s->e + l->version_at);
		if (maas_version_info(&ref, &s->info) && viewer_sees(&viewer, &s->info))
			seen = lappend(seen, s);
	}
	return seen;
}

static List *
collect(FunctionCallInfo fcinfo, bool with_data)
{
	require_stats();
	return collect_entries(fcinfo, &(EntryLayout) {
		maas_stats_hash, maas_stats_shared->lock,
		ENTRY_LAYOUT(MaasStatsEntry, maas_stats_entry_size(), with_data)
	});
}

/*
 * One row per model version counted in this database; the 0.1 function
 * has no tokens column.
 */
static Datum
stats_rows(FunctionCallInfo fcinfo, bool with_tokens)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *seen;
	ListCell   *lc;

	seen = collect(fcinfo, false);
	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, seen)
	{
		Seen	   *s = lfirst(lc);
		MaasStatsEntry *e = s->e;
		Datum		values[11];
		bool		nulls[11] = {0};
		int			k = 0;

		values[k++] = CStringGetTextDatum(s->info.model);
		values[k++] = Int32GetDatum(e->version);
		values[k++] = Int64GetDatum(e->calls);
		values[k++] = Int64GetDatum(e->rows);
		if (with_tokens)
			values[k++] = Int64GetDatum(e->tokens);
		values[k++] = Int64GetDatum(e->errors);
		values[k++] = Float8GetDatum(e->total_ms);
		nulls[k] = e->calls == 0;
		values[k++] = Float8GetDatum(e->calls > 0 ? e->total_ms / e->calls : 0);
		values[k++] = Float8GetDatum(e->max_ms);
		values[k++] = TimestampTzGetDatum(e->last_call);
		values[k++] = TimestampTzGetDatum(e->stats_since);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* maas_stats(): the maas.stats view of 0.1 */
PG_FUNCTION_INFO_V1(maas_stats);
Datum
maas_stats(PG_FUNCTION_ARGS)
{
	return stats_rows(fcinfo, false);
}

/* maas_stats(): the maas.stats view, with the tokens text models generated */
PG_FUNCTION_INFO_V1(maas_stats_0_2);
Datum
maas_stats_0_2(PG_FUNCTION_ARGS)
{
	return stats_rows(fcinfo, true);
}

/*
 * maas_rollout_stats(): per version that ran in a shadow, the rows compared
 * with the live version's answers, how many agreed on the class, and the
 * sum of |value difference| (the maas.rollout view divides).
 */
PG_FUNCTION_INFO_V1(maas_rollout_stats);
Datum
maas_rollout_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *seen;
	ListCell   *lc;

	seen = collect(fcinfo, false);
	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, seen)
	{
		Seen	   *s = lfirst(lc);
		MaasStatsEntry *e = s->e;
		Datum		values[5];
		bool		nulls[5] = {0};

		if (e->compared == 0)
			continue;
		values[0] = CStringGetTextDatum(s->info.model);
		values[1] = Int32GetDatum(e->version);
		values[2] = Int64GetDatum(e->compared);
		values[3] = Int64GetDatum(e->agreed);
		values[4] = Float8GetDatum(e->abs_diff);
		/* a classifier's comparison is its class, a regression's its value */
		nulls[3] = e->n_classes == 0;
		nulls[4] = e->n_classes > 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * maas_stats_info(): when the statistics were last reset, and how many
 * times entries were evicted since (the maas.stats_info view).
 */
PG_FUNCTION_INFO_V1(maas_stats_info);
Datum
maas_stats_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {0};
	int64		dealloc;
	TimestampTz reset;
	long		entries;

	require_stats();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LWLockAcquire(maas_stats_shared->lock, LW_SHARED);
	entries = hash_get_num_entries(maas_stats_hash);
	SpinLockAcquire(&maas_stats_shared->mutex);
	dealloc = maas_stats_shared->dealloc;
	reset = maas_stats_shared->stats_reset;
	SpinLockRelease(&maas_stats_shared->mutex);
	LWLockRelease(maas_stats_shared->lock);

	values[0] = Int64GetDatum(dealloc);
	values[1] = TimestampTzGetDatum(reset);
	values[2] = Int64GetDatum((int64) entries);
	values[3] = Int32GetDatum(maas_stats_max);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * maas_stats_reset([model [, version]]): forget the counters of every
 * version of every database, or of one model (or one version of it) in
 * this database; returns the time of the reset.  Caller: granted EXECUTE.
 */
PG_FUNCTION_INFO_V1(maas_stats_reset);
Datum
maas_stats_reset(PG_FUNCTION_ARGS)
{
	char	   *model = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		version;

	require_stats();
	if (model == NULL && !PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null when a version is given")));
	version = maas_arg_version(fcinfo, 1, true);
	PG_RETURN_TIMESTAMPTZ(maas_stats_remove(model, version));
}

/* ------------------------------------------------------------------------
 * Training statistics and drift
 * ------------------------------------------------------------------------
 */

typedef struct TrainStats
{
	double	   *mean;			/* n_in, NaN where unknown */
	double	   *var;
	char	  **names;			/* n_in, NULL where unknown */
	JsonbContainer *classes;	/* object label -> count, or NULL */
	double		target_mean;	/* NaN when unknown */
	double		target_var;
} TrainStats;

static double
json_number(JsonbValue *v)
{
	double		d;

	if (v == NULL || v->type != jbvNumeric)
		return NAN;
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	return isfinite(d) ? d : NAN;
}

static JsonbValue *
json_get(JsonbContainer *obj, const char *key)
{
	if (obj == NULL || !JsonContainerIsObject(obj))
		return NULL;
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

/* the container of v if it is an object (want_array false) or an array */
static JsonbContainer *
json_container(JsonbValue *v, bool want_array)
{
	if (v == NULL || v->type != jbvBinary)
		return NULL;
	if (want_array ? !JsonContainerIsArray(v->val.binary.data) :
		!JsonContainerIsObject(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

/* what train_stats says, for n_in features; false if there is none */
static bool
train_stats_read(Jsonb *ts, int n_in, TrainStats *t)
{
	JsonbContainer *root;
	JsonbContainer *features;
	JsonbContainer *target;
	int			n = 0;

	t->mean = palloc(sizeof(double) * Max(n_in, 1));
	t->var = palloc(sizeof(double) * Max(n_in, 1));
	t->names = palloc0(sizeof(char *) * Max(n_in, 1));
	for (int j = 0; j < n_in; j++)
		t->mean[j] = t->var[j] = NAN;
	t->classes = NULL;
	t->target_mean = t->target_var = NAN;
	if (ts == NULL || !JB_ROOT_IS_OBJECT(ts))
		return false;
	root = &ts->root;

	features = json_container(json_get(root, "features"), true);
	if (features)
		n = Min((int) JsonContainerSize(features), n_in);
	for (int j = 0; j < n; j++)
	{
		JsonbValue *f = getIthJsonbValueFromContainer(features, j);
		JsonbContainer *obj = json_container(f, false);
		JsonbValue *name;

		if (obj == NULL)
			continue;
		t->mean[j] = json_number(json_get(obj, "mean"));
		t->var[j] = json_number(json_get(obj, "var"));
		if (t->var[j] < 0)
			t->var[j] = NAN;
		name = json_get(obj, "name");
		if (name && name->type == jbvString)
			t->names[j] = pnstrdup(name->val.string.val, name->val.string.len);
	}
	t->classes = json_container(json_get(root, "classes"), false);
	target = json_container(json_get(root, "target"), false);
	if (target)
	{
		t->target_mean = json_number(json_get(target, "mean"));
		t->target_var = json_number(json_get(target, "var"));
		if (t->target_var < 0)
			t->target_var = NAN;
	}
	return true;
}

/* the text of each class, as maas_predict_label returns it */
static char **
class_labels(Jsonb *config, int n_classes)
{
	char	  **labels = palloc(sizeof(char *) * Max(n_classes, 1));
	JsonbContainer *arr = JB_ROOT_IS_OBJECT(config) ?
		json_container(json_get(&config->root, "labels"), true) : NULL;

	for (int c = 0; c < n_classes; c++)
	{
		JsonbValue *v = arr && c < (int) JsonContainerSize(arr) ?
			getIthJsonbValueFromContainer(arr, c) : NULL;

		if (v && v->type == jbvString)
			labels[c] = pnstrdup(v->val.string.val, v->val.string.len);
		else if (v && v->type == jbvNumeric)
			labels[c] = DatumGetCString(DirectFunctionCall1(numeric_out,
															NumericGetDatum(v->val.numeric)));
		else if (v && v->type == jbvBool)
			labels[c] = pstrdup(v->val.boolean ? "true" : "false");
		else
			labels[c] = psprintf("%d", c);
	}
	return labels;
}

/* training counts of each class, by label; false if training gave none */
static bool
train_class_counts(const TrainStats *t, char **labels, int n_classes, double *counts)
{
	bool		any = false;

	for (int c = 0; c < n_classes; c++)
	{
		counts[c] = json_number(json_get(t->classes, labels[c]));
		if (isnan(counts[c]) || counts[c] < 0)
			counts[c] = 0;
		else
			any = true;
	}
	return any;
}

/* one version's (or one window's) counters, as drift is computed from them */
typedef struct DriftIn
{
	const char *model;
	int32		version;
	bool		windowed;		/* two more columns: the window's start and end */
	TimestampTz start;
	int			n_in;
	int			nf;				/* features tracked, never past n_in */
	const double *mean;			/* nf means, then (m2) nf M2s */
	const double *m2;
	int64		sampled;		/* rows the moments are over */
	int64		rows;
	int			n_classes;
	const int64 *classes;
	double		out_mean;
	double		out_m2;
	Jsonb	   *config;
	Jsonb	   *train_stats;
} DriftIn;

#define DRIFT_COLS 14

static void
put_drift_row(ReturnSetInfo *rsinfo, const DriftIn *d, const char *kind,
			  int feature, const char *name,
			  double train_mean, double serve_mean, double train_var, double serve_var,
			  double score, const char *note)
{
	Datum		values[DRIFT_COLS];
	bool		nulls[DRIFT_COLS] = {0};
	int			k = 0;

	values[k++] = CStringGetTextDatum(d->model);
	values[k++] = Int32GetDatum(d->version);
	if (d->windowed)
	{
		values[k++] = TimestampTzGetDatum(d->start);
		values[k++] = TimestampTzGetDatum(d->start + USECS_PER_HOUR);
	}
	values[k++] = CStringGetTextDatum(kind);
	nulls[k] = feature <= 0;
	values[k++] = Int32GetDatum(feature);
	nulls[k] = name == NULL;
	values[k++] = name ? CStringGetTextDatum(name) : (Datum) 0;
	nulls[k] = isnan(train_mean);
	values[k++] = Float8GetDatum(train_mean);
	nulls[k] = isnan(serve_mean);
	values[k++] = Float8GetDatum(serve_mean);
	nulls[k] = isnan(train_var);
	values[k++] = Float8GetDatum(sqrt(train_var));
	nulls[k] = isnan(serve_var);
	values[k++] = Float8GetDatum(sqrt(serve_var));
	nulls[k] = isnan(score);
	values[k++] = Float8GetDatum(score);
	values[k++] = Int64GetDatum(d->rows);
	nulls[k] = note == NULL;
	values[k++] = note ? CStringGetTextDatum(note) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * The drift rows of one version (or window): a row per tracked feature,
 * one for the predictions and one for the model.
 */
static void
drift_rows(ReturnSetInfo *rsinfo, const DriftIn *d)
{
	int			nf = d->nf;
	const double *mean = d->mean;
	const double *m2 = d->m2;
	double		rows = (double) d->sampled;	/* the moments are over these */
	TrainStats	t;
	bool		have_train = train_stats_read(d->train_stats, d->n_in, &t);
	double		best = NAN;
	int			best_feature = 0;
	double		pred_score = NAN;
	const char *note = NULL;

	CHECK_FOR_INTERRUPTS();

	/* features */
	for (int j = 0; j < nf; j++)
	{
		double		sm = rows > 0 ? mean[j] : NAN;
		double		sv = rows > 0 ? m2[j] / rows : NAN;
		double		score = NAN;

		if (rows > 0 && !isnan(t.mean[j]) && !isnan(t.var[j]))
			score = maas_hellinger_normal(t.mean[j], t.var[j], sm, sv);
		if (!isnan(score) && (isnan(best) || score > best))
		{
			best = score;
			best_feature = j + 1;
		}
		put_drift_row(rsinfo, d, "feature", j + 1, t.names[j], t.mean[j], sm,
					  t.var[j], sv, score,
					  have_train && isnan(t.mean[j]) ?
					  "no training statistics for this feature" : NULL);
	}

	/* predictions: class shares, or the predicted value */
	if (d->n_classes > 0)
	{
		double	   *p = palloc(sizeof(double) * d->n_classes);
		double	   *q = palloc(sizeof(double) * d->n_classes);

		for (int c = 0; c < d->n_classes; c++)
			q[c] = (double) d->classes[c];
		if (rows > 0 &&
			train_class_counts(&t, class_labels(d->config, d->n_classes), d->n_classes, p))
		{
			pred_score = maas_hellinger_counts(d->n_classes, p, q);
			if (pred_score < 0)
				pred_score = NAN;
		}
		put_drift_row(rsinfo, d, "prediction", 0, NULL, NAN, NAN, NAN, NAN,
					  pred_score,
					  have_train && t.classes == NULL ?
					  "no class counts in the training statistics" : NULL);
	}
	else
	{
		double		sm = rows > 0 ? d->out_mean : NAN;
		double		sv = rows > 0 ? d->out_m2 / rows : NAN;

		if (rows > 0 && !isnan(t.target_mean) && !isnan(t.target_var))
			pred_score = maas_hellinger_normal(t.target_mean, t.target_var, sm, sv);
		put_drift_row(rsinfo, d, "prediction", 0, NULL, t.target_mean, sm,
					  t.target_var, sv, pred_score,
					  have_train && isnan(t.target_mean) ?
					  "no target statistics in the training statistics" : NULL);
	}

	/* the model: its largest score, naming the feature that moved most */
	if (!isnan(pred_score) && (isnan(best) || pred_score > best))
	{
		best = pred_score;
		best_feature = 0;
	}
	if (!have_train)
		note = "no training statistics for this version";
	else if (d->sampled == 0)
		note = "no rows scored yet";
	else if (nf < d->n_in)
		note = psprintf("only the first %d of %d features are tracked", nf, d->n_in);
	else if (d->sampled < DRIFT_MIN_ROWS)
		note = psprintf("fewer than %d rows scored: scores are rough", DRIFT_MIN_ROWS);
	else if (!isnan(best) && best_feature == 0)
		note = "the predictions moved most";
	put_drift_row(rsinfo, d, "model", best_feature,
				  best_feature > 0 ? t.names[best_feature - 1] : NULL,
				  NAN, NAN, NAN, NAN, best, note);
}

/*
 * maas_stats_drift(): per version, a row per tracked feature, one for the
 * predictions and one for the model, each with its drift score (the
 * maas.drift view).
 */
PG_FUNCTION_INFO_V1(maas_stats_drift);
Datum
maas_stats_drift(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *seen;
	ListCell   *lc;

	seen = collect(fcinfo, true);
	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, seen)
	{
		Seen	   *s = lfirst(lc);
		MaasStatsEntry *e = s->e;
		DriftIn		d;

		memset(&d, 0, sizeof(d));
		d.model = s->info.model;
		d.version = e->version;
		d.n_in = e->n_in;
		d.nf = Min(e->n_features, Max(e->n_in, 0));
		d.mean = e->data;
		d.m2 = e->data + d.nf;
		d.sampled = e->sampled;
		d.rows = e->rows;
		d.n_classes = e->n_classes;
		d.classes = e->classes;
		d.out_mean = e->out_mean;
		d.out_m2 = e->out_m2;
		d.config = s->info.config;
		d.train_stats = s->info.train_stats;
		drift_rows(rsinfo, &d);
	}
	return (Datum) 0;
}

/* ------------------------------------------------------------------------
 * Windows (stats_window.c): maas.stats_window, maas.drift_window
 * ------------------------------------------------------------------------
 */

/* copies of this database's windows that are not expired, as collect() */
static List *
collect_windows(FunctionCallInfo fcinfo, bool with_data)
{
	require_stats();
	if (maas_window_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("windowed serving statistics are not enabled"),
				 errdetail("maas.stats_window_max is 0."),
				 errhint("Set maas.stats_window_max in postgresql.conf and restart the server.")));
	return collect_entries(fcinfo, &(EntryLayout) {
		maas_window_hash, maas_window_shared->lock,
		ENTRY_LAYOUT(MaasWindowEntry, maas_window_entry_size(), with_data),
		offsetof(MaasWindowEntry, key.start), maas_window_oldest(GetCurrentTimestamp())
	});
}

/*
 * maas_stats_window(): per version and hour, what maas.stats counts, and
 * a shadow's comparisons (the maas.stats_window view).
 */
PG_FUNCTION_INFO_V1(maas_stats_window);
Datum
maas_stats_window(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *seen;
	ListCell   *lc;

	seen = collect_windows(fcinfo, false);
	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, seen)
	{
		Seen	   *s = lfirst(lc);
		MaasWindowEntry *e = s->e;
		Datum		values[16];
		bool		nulls[16] = {0};
		int			k = 0;

		values[k++] = CStringGetTextDatum(s->info.model);
		values[k++] = Int32GetDatum(e->version);
		values[k++] = TimestampTzGetDatum(e->key.start);
		values[k++] = TimestampTzGetDatum(e->key.start + USECS_PER_HOUR);
		values[k++] = Int64GetDatum(e->calls);
		values[k++] = Int64GetDatum(e->rows);
		values[k++] = Int64GetDatum(e->tokens);
		values[k++] = Int64GetDatum(e->errors);
		values[k++] = Float8GetDatum(e->total_ms);
		nulls[k] = e->calls == 0;
		values[k++] = Float8GetDatum(e->calls > 0 ? e->total_ms / e->calls : 0);
		values[k++] = Float8GetDatum(e->max_ms);
		values[k++] = TimestampTzGetDatum(e->last_call);
		/* a shadow's comparisons: its class for a classifier, its value else */
		nulls[k] = e->compared == 0;
		values[k++] = Int64GetDatum(e->compared);
		nulls[k] = e->compared == 0 || e->n_classes == 0;
		values[k++] = Int64GetDatum(e->agreed);
		nulls[k] = e->compared == 0 || e->n_classes > 0;
		values[k++] = Float8GetDatum(e->abs_diff);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* maas_stats_drift_window(): maas.drift's rows, per version and hour */
PG_FUNCTION_INFO_V1(maas_stats_drift_window);
Datum
maas_stats_drift_window(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *seen;
	ListCell   *lc;

	seen = collect_windows(fcinfo, true);
	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, seen)
	{
		Seen	   *s = lfirst(lc);
		MaasWindowEntry *e = s->e;
		DriftIn		d;

		memset(&d, 0, sizeof(d));
		d.model = s->info.model;
		d.version = e->version;
		d.windowed = true;
		d.start = e->key.start;
		d.n_in = e->n_in;
		d.nf = Min(e->n_features, Max(e->n_in, 0));
		d.mean = e->data;
		d.m2 = e->data + d.nf;
		d.sampled = e->sampled;
		d.rows = e->rows;
		d.n_classes = e->n_classes;
		d.classes = e->classes;
		d.out_mean = e->out_mean;
		d.out_m2 = e->out_m2;
		d.config = s->info.config;
		d.train_stats = s->info.train_stats;
		drift_rows(rsinfo, &d);
	}
	return (Datum) 0;
}

/*
 * maas_stats_predictions(): per classifier version, per class, how
 * often serving predicted it and how often training saw it.
 */
PG_FUNCTION_INFO_V1(maas_stats_predictions);
Datum
maas_stats_predictions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *seen;
	ListCell   *lc;

	seen = collect(fcinfo, false);
	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, seen)
	{
		Seen	   *s = lfirst(lc);
		MaasStatsEntry *e = s->e;
		char	  **labels;
		double	   *train;
		double		train_total = 0;
		bool		have_train;
		TrainStats	t;

		if (e->n_classes == 0)
			continue;
		labels = class_labels(s->info.config, e->n_classes);
		train = palloc0(sizeof(double) * e->n_classes);
		have_train = train_stats_read(s->info.train_stats, 0, &t) &&
			train_class_counts(&t, labels, e->n_classes, train);
		for (int c = 0; c < e->n_classes; c++)
			train_total += have_train ? train[c] : 0;

		for (int c = 0; c < e->n_classes; c++)
		{
			Datum		values[8];
			bool		nulls[8] = {0};

			values[0] = CStringGetTextDatum(s->info.model);
			values[1] = Int32GetDatum(e->version);
			values[2] = Int32GetDatum(c);
			values[3] = CStringGetTextDatum(labels[c]);
			values[4] = Int64GetDatum((int64) train[c]);
			nulls[4] = !have_train;
			values[5] = Float8GetDatum(train_total > 0 ? train[c] / train_total : 0);
			nulls[5] = !have_train || !(train_total > 0);
			values[6] = Int64GetDatum(e->classes[c]);
			values[7] = Float8GetDatum(e->rows > 0 ? (double) e->classes[c] / e->rows : 0);
			nulls[7] = e->rows == 0;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
