/*
 * serve.c
 *		The serving core: the state of a call site, resolving a model name
 *		to a pinned model, checking arguments and features, and reading a
 *		model's outputs as a value, probabilities or a label.
 *
 * Each call site keeps a MaasServeState in fn_extra.  The model name is
 * resolved to a version, and the version's model pinned in the cache, once
 * per snapshot: a statement runs under one snapshot, so that is once per
 * statement, and a deploy committed meanwhile is seen by the next statement
 * and never half-way through this one.  The per-row functions (predict.c,
 * predict_row.c), the batch path (predict_batch.c) and maas_evaluate share
 * it, so they resolve, check and answer alike.  Nothing here writes, so the
 * functions that use it are PARALLEL SAFE and run on hot standbys.
 */
#include "serve.h"
#include "remote.h"
#include "rollout.h"
#include "stats.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "nodes/primnodes.h"
#include "parser/scansup.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "common/shortest_dec.h"

/* is argument argno of the call a Const of the query? */
static bool
arg_is_const(FmgrInfo *flinfo, int argno)
{
	Node	   *expr = flinfo ? flinfo->fn_expr : NULL;
	List	   *args;

	if (expr == NULL || !IsA(expr, FuncExpr))
		return false;
	args = ((FuncExpr *) expr)->args;
	return argno < list_length(args) && IsA(list_nth(args, argno), Const);
}

static void
serve_state_release(void *arg)
{
	MaasServeState *st = (MaasServeState *) arg;

	maas_stats_flush(st);
	if (st->entry)
		maas_cache_unpin(st->entry);
	st->entry = NULL;
	st->m = NULL;
	st->answers_checked = NULL;
}

/* the serving state of a call site, made on first use */
MaasServeState *
maas_serve_state(FmgrInfo *flinfo)
{
	MaasServeState *st = (MaasServeState *) flinfo->fn_extra;

	if (st == NULL)
	{
		st = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(MaasServeState));
		st->cxt = flinfo->fn_mcxt;
		st->release.func = serve_state_release;
		st->release.arg = st;
		MemoryContextRegisterResetCallback(flinfo->fn_mcxt, &st->release);
		st->model_const = arg_is_const(flinfo, 0) ? 1 : 0;
		flinfo->fn_extra = st;
	}
	return st;
}

/*
 * The lookup made last still holds: same snapshot, version and model name.
 * A name that is a constant of the query is the same text on every call of
 * the call site, so it is compared once.
 */
static inline bool
same_lookup(MaasServeState *st, Snapshot snap, text *model, int32 version)
{
	return st->entry != NULL && maas_serve_same_snapshot(st, snap) &&
		st->version == version &&
		(st->model_const == 1 ||
		 (st->model_len == VARSIZE_ANY_EXHDR(model) &&
		  memcmp(st->model, VARDATA_ANY(model), st->model_len) == 0));
}


/*
 * Resolve the model (and version, 0 for the deployed one) and pin it; done
 * again only when the model named, the version or the snapshot changes.
 */
void
maas_serve_resolve(MaasServeState *st, text *model, int32 version)
{
	Snapshot	snap = GetActiveSnapshot();
	MaasVersionRef ref;
	char	   *name;

	if (same_lookup(st, snap, model, version))
		return;
	/* a new statement: what the last one counted goes to shared memory */
	maas_stats_flush(st);

	name = text_to_cstring(model);
	maas_lookup_version(name, version, &ref);

	if (st->entry == NULL ||
		st->ref.catalog != ref.catalog || st->ref.version_id != ref.version_id)
	{
		MaasCacheEntry *entry = maas_cache_pin(&ref);
		MaasModel  *m = maas_cache_model(entry);
		float	   *input = MemoryContextAllocExtended(st->cxt,
													   sizeof(float) * m->net.n_in,
													   MCXT_ALLOC_NO_OOM);

		if (input == NULL)
		{
			maas_cache_unpin(entry);
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		}
		serve_state_release(st);
		if (st->input)
			pfree(st->input);
		st->entry = entry;
		st->m = m;
		st->answers_checked = NULL;
		st->input = input;
		/* the head of a plain real[n_in]; a text model takes none */
		st->plain_head[0] = 0;
		st->plain_head[1] = maas_model_is_text(m) ? InvalidOid : FLOAT4OID;
		st->plain_head[2] = m->net.n_in;
	}
	/* only now that everything succeeded does the state change */
	{
		char	   *copy = MemoryContextStrdup(st->cxt, name);

		if (st->model)
			pfree(st->model);
		st->model = copy;
		st->model_len = strlen(copy);
	}
	st->version = version;
	st->ref = ref;
	st->xmin = snap->xmin;
	st->xmax = snap->xmax;
	st->curcid = snap->curcid;
	st->completions = snap->snapXactCompletionCount;
	maas_stats_attach(st);

	/* a remote model reads its secrets again in every statement */
	if (maas_net_remote(&st->m->net) != NULL || st->m->remote != NULL)
		maas_remote_attach(st, st->model);
	else
		maas_remote_detach(st);

	/* a canary or shadow, read under the same snapshot */
	maas_rollout_resolve(st, version == 0 ? ref.model_id : 0);
}

/*
 * Run the resolved model over n rows of features x, in work (the model's
 * row_work for one row): what every serving path calls.  Its outputs, or an
 * error: a remote model raises what went wrong with its call; a local
 * feature model's forward pass fails only when the matrix backend cannot
 * get scratch memory or a library fails without a fallback, and the error
 * names the model.
 */
const float *
maas_serve_forward(MaasServeState *st, const MaasBlas *blas, int n,
				   const float *x, float *work)
{
	MaasBatch	batch = {.n = n, .t = 1, .x = x};
	MaasError	err;
	const float *out;

	if (st->remote != NULL)
		return maas_remote_forward(st, blas, n, x, work);
	out = maas_net_run(&st->m->net, blas, &batch, 0, work, &err);
	if (unlikely(out == NULL))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE,
				   psprintf("could not run model \"%s\"", st->model), NULL);
	return out;
}

/* may features come as an array of this type (SQL declares the same set) */
bool
maas_serve_feature_type(Oid arraytype)
{
	switch (arraytype)
	{
		case FLOAT4ARRAYOID:
		case FLOAT8ARRAYOID:
		case NUMERICARRAYOID:
		case INT2ARRAYOID:
		case INT4ARRAYOID:
		case INT8ARRAYOID:
			return true;
		default:
			return false;
	}
}

/* numeric[] elements (no nulls) as floats: NaN, infinities and values past
 * float range come out non-finite, for the check that follows */
static void
numeric_features(ArrayType *arr, int n, float *dst)
{
	array_iter	it;
	bool		isnull;

	array_iter_setup(&it, (AnyArrayType *) arr);
	for (int i = 0; i < n; i++)
	{
		Datum		d = array_iter_next(&it, &isnull, i, -1, false, TYPALIGN_INT);

		dst[i] = (float) DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
															d));
	}
}

/* what is wrong with feature i of arr, which became the non-finite f */
static const char *
feature_problem(ArrayType *arr, int i, float f)
{
	if (isnan(f))
		return "NaN";
	switch (ARR_ELEMTYPE(arr))
	{
		case FLOAT8OID:
			if (isfinite(((const float8 *) ARR_DATA_PTR(arr))[i]))
				return "out of range for real";
			break;
		case NUMERICOID:
			{
				array_iter	it;
				bool		isnull;
				Datum		d = 0;

				array_iter_setup(&it, (AnyArrayType *) arr);
				for (int j = 0; j <= i; j++)
					d = array_iter_next(&it, &isnull, j, -1, false, TYPALIGN_INT);
				if (!numeric_is_inf(DatumGetNumeric(d)))
					return "out of range for real";
				break;
			}
		default:
			break;
	}
	return "infinite";
}

/*
 * The n features dst of arr, checked finite: an error that names the first
 * that is not, unless the model takes NaN as missing and only NaNs are.
 */
static const float *
check_finite(MaasServeState *st, ArrayType *arr, const float *dst, int n)
{
	if (!maas_all_finite(dst, n))
	{
		int			i = 0;

		while (isfinite(dst[i]) || (st->m->missing_ok && isnan(dst[i])))
			if (++i == n)
				return dst;		/* NaNs only, which trees take as missing */
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must be finite numbers"),
				 errdetail("Feature %d is %s.", i + 1, feature_problem(arr, i, dst[i]))));
	}
	return dst;
}

/*
 * An image model (input_shape [c, h, w]) also takes its features as
 * real[c][h][w] or, with one channel, real[h][w]: the same numbers in the
 * same order
 */
static bool
image_dims(const MaasNet *net, ArrayType *arr)
{
	const int  *d = ARR_DIMS(arr);

	if (net->in_c <= 0)
		return false;
	if (ARR_NDIM(arr) == 3)
		return d[0] == net->in_c && d[1] == net->in_h && d[2] == net->in_w;
	return ARR_NDIM(arr) == 2 && net->in_c == 1 && d[0] == net->in_h && d[1] == net->in_w;
}

/*
 * The features of an array with nulls, for a model whose trees take a
 * missing value (NULL, NaN) as such: each element as a float, a null as
 * NaN, into dst or the state's buffer; infinities are still refused.
 */
static const float *
missing_features(MaasServeState *st, ArrayType *arr, float *dst)
{
	array_iter	it;
	int			n = ARR_DIMS(arr)[0];
	Oid			elem = ARR_ELEMTYPE(arr);
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (dst == NULL)
		dst = st->input;
	get_typlenbyvalalign(elem, &typlen, &typbyval, &typalign);
	array_iter_setup(&it, (AnyArrayType *) arr);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = array_iter_next(&it, &isnull, i, typlen, typbyval, typalign);
		double		v;

		if (isnull)
		{
			dst[i] = NAN;
			continue;
		}
		switch (elem)
		{
			case FLOAT4OID:
				v = DatumGetFloat4(d);
				break;
			case FLOAT8OID:
				v = DatumGetFloat8(d);
				break;
			case INT2OID:
				v = DatumGetInt16(d);
				break;
			case INT4OID:
				v = DatumGetInt32(d);
				break;
			case INT8OID:
				v = (double) DatumGetInt64(d);
				break;
			case NUMERICOID:
				v = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, d));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("features must be an array of numbers"),
						 errdetail("Its elements are of type %s.", format_type_be(elem))));
		}
		dst[i] = (float) v;
		if (isinf(dst[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("features must be finite numbers"),
					 errdetail("Feature %d is %s.", i + 1,
							   isinf(v) ? "infinite" : "out of range for real")));
	}
	return dst;
}

/*
 * Check one row's features (an array of real, double precision, numeric,
 * smallint, integer or bigint) against the model, or raise an error that
 * says what is wrong with them.  Returns the n_in floats: copied to dst when
 * dst is given (the batch path fills its matrix so), else read in place from
 * a real[] and converted into the state's buffer from the other types.
 */
const float *
maas_serve_features(MaasServeState *st, ArrayType *arr, float *dst)
{
	int			n;
	int			n_in = st->m->net.n_in;

	maas_prefetch_coming_row(arr);
	if (maas_model_is_text(st->m))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("model \"%s\" reads text, not features", st->model),
				 errhint("Pass the text itself: maas_predict('%s', body).", st->model)));
	if (ARR_NDIM(arr) > 1 && !image_dims(&st->m->net, arr))
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("features must be a one-dimensional array"),
				 errdetail("The array has %d dimensions.", ARR_NDIM(arr)),
				 st->m->net.in_c > 0 ?
				 errhint("Model \"%s\" reads [%d, %d, %d] images: real[%d], real[%d][%d] or real[%d][%d][%d].",
						 st->model, st->m->net.in_c, st->m->net.in_h, st->m->net.in_w, n_in,
						 st->m->net.in_h, st->m->net.in_w,
						 st->m->net.in_c, st->m->net.in_h, st->m->net.in_w) : 0));
	n = ARR_NDIM(arr) == 0 ? 0 : ARR_NDIM(arr) > 1 ? n_in : ARR_DIMS(arr)[0];
	if (n != n_in)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wrong number of features for model \"%s\"", st->model),
				 errdetail("The model takes %d features; the array has %d.", n_in, n)));
	if (ARR_HASNULL(arr) && st->m->missing_ok)
		return missing_features(st, arr, dst);
	if (ARR_HASNULL(arr))
	{
		bits8	   *bitmap = ARR_NULLBITMAP(arr);
		int			i = 0;

		while (i < n && (bitmap[i / 8] & (1 << (i % 8))))
			i++;
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("features must not contain nulls"),
				 errdetail("Feature %d is null.", i + 1)));
	}

	if (ARR_ELEMTYPE(arr) == FLOAT4OID)
	{
		if (dst)
			memcpy(dst, ARR_DATA_PTR(arr), sizeof(float) * n);
		else
			dst = (float *) ARR_DATA_PTR(arr);
	}
	else
	{
		const void *data = ARR_DATA_PTR(arr);

		if (dst == NULL)
			dst = st->input;
		switch (ARR_ELEMTYPE(arr))
		{
			case FLOAT8OID:
				for (int i = 0; i < n; i++)
					dst[i] = (float) ((const float8 *) data)[i];
				break;
			case INT2OID:
				for (int i = 0; i < n; i++)
					dst[i] = (float) ((const int16 *) data)[i];
				break;
			case INT4OID:
				for (int i = 0; i < n; i++)
					dst[i] = (float) ((const int32 *) data)[i];
				break;
			case INT8OID:
				for (int i = 0; i < n; i++)
					dst[i] = (float) ((const int64 *) data)[i];
				break;
			case NUMERICOID:
				numeric_features(arr, n, dst);
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("features must be an array of numbers"),
						 errdetail("Its elements are of type %s.",
								   format_type_be(ARR_ELEMTYPE(arr)))));
		}
	}

	return check_finite(st, arr, dst, n);
}

/*
 * The fast path of a per-row call on a plain real[n_in] x (the elements of
 * arr, maas_serve_plain_features) for a local model that runs one row
 * without the run loop (a logistic or linear model, maas_net_small_row): its
 * outputs, with the features checked as maas_serve_features checks them, or
 * NULL when the model is not such a one (the caller takes the usual path).
 * The pass itself shows the features finite in nearly every row; only when
 * it does not are they checked one by one, after it.
 */
const float *
maas_serve_small_row(MaasServeState *st, ArrayType *arr, const float *x)
{
	bool		x_finite;
	const float *out;

	if (st->remote != NULL)
		return NULL;
	out = maas_net_small_row(&st->m->net, x, st->m->row_work, &x_finite);
	if (likely(x_finite) || out == NULL)
		return out;
	check_finite(st, arr, x, st->m->net.n_in);
	return out;
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && scanner_isspace(*p))
		p++;
	return p;
}

/*
 * How the text argument of a call is read by the model st resolved: the
 * one place where text meets the two kinds of model, for every predict
 * function.  A text model (its net reads token ids) takes the text itself,
 * to tokenize.  A feature model reads features written out as text, which
 * is what an untyped driver parameter or a quoted literal is: JSON, an
 * array ('[1, 2]') or an object by column name ('{"sepal_length": 5.1}'),
 * or an array literal ('{1,2}', or '{"1","2"}' as node-postgres writes a
 * list).  An object's first key is followed by a colon, which no array
 * literal has, and '[1:2]={...}' is an array literal with its bounds.
 */
MaasTextInput
maas_serve_text_input(MaasServeState *st, text *input)
{
	const char *p = VARDATA_ANY(input);
	const char *end = p + VARSIZE_ANY_EXHDR(input);

	if (maas_model_is_text(st->m))
		return MAAS_TEXT_TOKENS;

	p = skip_space(p, end);
	if (p < end && *p == '[')
	{
		p = skip_space(p + 1, end);
		if (p < end && (*p == '-' || *p == '+'))
			p++;
		if (p < end && isdigit((unsigned char) *p))
		{
			while (p < end && isdigit((unsigned char) *p))
				p++;
			p = skip_space(p, end);
			if (p < end && *p == ':')
				return MAAS_TEXT_ARRAY;
		}
		return MAAS_TEXT_JSON;
	}
	if (p < end && *p == '{')
	{
		p = skip_space(p + 1, end);
		if (p < end && *p == '"')
		{
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\' && p + 1 < end)
					p++;
			if (p >= end)
				return MAAS_TEXT_ARRAY;
			p = skip_space(p + 1, end);
			if (p < end && *p == ':')
				return MAAS_TEXT_JSON;
		}
	}
	return MAAS_TEXT_ARRAY;
}

/*
 * The version argument argno of a call: 0 (the deployed version) when it is
 * absent or NULL and nullable, else a positive number, or an error.
 */
int32
maas_arg_version(FunctionCallInfo fcinfo, int argno, bool nullable)
{
	int32		version;

	if (argno >= PG_NARGS() || PG_ARGISNULL(argno))
	{
		if (!nullable)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("version must not be null")));
		return 0;
	}
	version = PG_GETARG_INT32(argno);
	if (version <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version must be a positive number")));
	return version;
}

/*
 * The arguments (model, [version,] features or row) of a per-row call:
 * checked, the model resolved (once per statement), and the call begun for
 * maas.stats.  The features argument is checked for NULL only.
 */
void
maas_serve_call(FunctionCallInfo fcinfo, MaasServeState *st)
{
	int32		version = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	if (PG_NARGS() == 3)
		version = maas_arg_version(fcinfo, 1, false);
	maas_serve_resolve(st, PG_GETARG_TEXT_PP(0), version);
	maas_stats_begin(st, false);

	if (PG_ARGISNULL(PG_NARGS() - 1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 maas_model_is_text(st->m) ?
				 errmsg("input must not be null") :
				 errmsg("features must not be null")));
}

/*
 * The class probabilities of one row's outputs, in the order of the
 * model's labels: out itself, its logits normalised in place (out is the
 * caller's), or for one sigmoid output the two probabilities in pair.
 */
static const float *
class_proba(const MaasModel *m, float *out, float pair[2])
{
	if (m->sigmoid_binary)
	{
		pair[0] = 1.0f - out[0];
		pair[1] = out[0];
		return pair;
	}
	if (m->task == MAAS_TASK_CLUSTERING)
		return out;				/* the distances to the centers, as they are */
	if (!m->outputs_proba)
		maas_softmax(out, m->n_classes);
	return out;
}

/* the class probabilities of one row's outputs as a real[] */
ArrayType *
maas_serve_proba(const MaasModel *m, float *out)
{
	Datum	   *values = palloc(sizeof(Datum) * m->n_classes);
	float		pair[2];
	const float *p = class_proba(m, out, pair);

	for (int i = 0; i < m->n_classes; i++)
		values[i] = Float4GetDatum(p[i]);
	return construct_array(values, m->n_classes, FLOAT4OID,
						   sizeof(float4), true, TYPALIGN_INT);
}

static const char *
class_label(const MaasModel *m, int cls)
{
	return m->labels ? m->labels[cls] : psprintf("%d", cls);
}

/* the predicted class of one row's outputs as text: its label, or index */
text *
maas_serve_label(const MaasModel *m, const float *out)
{
	return cstring_to_text(class_label(m, maas_serve_class(m, out)));
}

/* JSON has no NaN or infinity: a model that outputs one gets an error */
static void
json_check_finite(MaasServeState *st, double v)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("model \"%s\" output a value that is not a finite number", st->model),
				 errdetail("JSON has no %s.", isnan(v) ? "NaN" : "infinity")));
}

/*
 * Everything a per-row call can answer, as one JSON object (json, so that
 * it reads in this order), for a client to get in one round trip along
 * with which version answered:
 *
 *	{"model": ..., "version": ..., "prediction": <maas_predict's value>,
 *	 "label": <maas_predict_label's text>, "proba": {<label>: p, ...}}
 *
 * label and proba are null for a regression model.  Numbers are written in
 * their shortest form that reads back exactly (a double for the
 * prediction, a real for each probability), so a client reads the very
 * values the other functions return.  Logits are normalised in place, as
 * for proba.
 */
text *
maas_serve_json(MaasServeState *st, float *out)
{
	const MaasModel *m = st->m;
	StringInfoData s;
	double		value = maas_serve_value(m, out);
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	json_check_finite(st, value);
	double_to_shortest_decimal_buf(value, buf);
	initStringInfo(&s);
	appendStringInfoString(&s, "{\"model\": ");
	escape_json(&s, st->model);
	appendStringInfo(&s, ", \"version\": %d, \"prediction\": %s",
					 st->ref.version, buf);
	if (m->task == MAAS_TASK_CLUSTERING)
	{
		/* the cluster, and the distance to each center */
		appendStringInfo(&s, ", \"label\": \"%d\", \"distances\": [", maas_serve_class(m, out));
		for (int i = 0; i < m->n_classes; i++)
		{
			json_check_finite(st, out[i]);
			float_to_shortest_decimal_buf(out[i], buf);
			appendStringInfo(&s, "%s%s", i ? ", " : "", buf);
		}
		appendStringInfoChar(&s, ']');
	}
	else if (m->task == MAAS_TASK_CLASSIFICATION)
	{
		float		pair[2];
		const float *p;

		appendStringInfoString(&s, ", \"label\": ");
		escape_json(&s, class_label(m, maas_serve_class(m, out)));
		appendStringInfoString(&s, ", \"proba\": {");
		p = class_proba(m, out, pair);
		for (int i = 0; i < m->n_classes; i++)
		{
			json_check_finite(st, p[i]);
			if (i > 0)
				appendStringInfoString(&s, ", ");
			escape_json(&s, class_label(m, i));
			float_to_shortest_decimal_buf(p[i], buf);
			appendStringInfo(&s, ": %s", buf);
		}
		appendStringInfoChar(&s, '}');
	}
	else
		appendStringInfoString(&s, ", \"label\": null, \"proba\": null");
	appendStringInfoChar(&s, '}');
	return cstring_to_text_with_len(s.data, s.len);
}

/* maas_predict and friends need a model that predicts: not a text generator or encoder */
void
maas_serve_require_predictor(MaasServeState *st)
{
	if (st->m->task == MAAS_TASK_GENERATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is a text generation model", st->model),
				 errhint("Use maas_generate('%s', prompt) or maas_logits('%s', ids).",
						 st->model, st->model)));
	if (st->m->task == MAAS_TASK_EMBEDDING)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is an embedding model", st->model),
				 errhint("Use maas_embed('%s', input).", st->model)));
}

void
maas_serve_require_classifier(MaasServeState *st)
{
	if (st->m->task != MAAS_TASK_CLASSIFICATION && st->m->task != MAAS_TASK_CLUSTERING)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is a regression model", st->model),
				 errhint("Use maas_predict for its value.")));
}

/*
 * The answer of a per-row call on st whose row x gave the outputs out, as
 * the caller asked: the value, the class probabilities or the label (these
 * two for classifiers only), or all of it as JSON.  The call ends here for
 * maas.stats.
 */
Datum
maas_serve_answer(MaasServeState *st, MaasAnswer what, const float *x,
				  const float *out)
{
	/* the model cannot change under the call site without a new resolve */
	if (unlikely(st->answers_checked != st->m))
	{
		maas_serve_require_predictor(st);
		if (what == MAAS_ANSWER_PROBA || what == MAAS_ANSWER_LABEL)
			maas_serve_require_classifier(st);
		st->answers_checked = st->m;
	}
	if (unlikely(st->routing != NULL))
		maas_rollout_shadow(st, x, out);
	maas_stats_end(st, 1, x, out);
	switch (what)
	{
		case MAAS_ANSWER_VALUE:
			return Float8GetDatum(maas_serve_value(st->m, out));
		case MAAS_ANSWER_PROBA:
			/* the output buffer is the model's workspace: ours to normalise */
			return PointerGetDatum(maas_serve_proba(st->m, (float *) out));
		case MAAS_ANSWER_LABEL:
			return PointerGetDatum(maas_serve_label(st->m, out));
		case MAAS_ANSWER_JSON:
			return PointerGetDatum(maas_serve_json(st, (float *) out));
	}
	return (Datum) 0;
}
