/*
 * optimize.c
 *		maas_quantize and maas_prune: a smaller or faster copy of a version,
 *		stored as a new version with its parent, method and parameters,
 *		and measured against the parent (doc/optimization.md).
 *
 * Both build the new version's weights and config from the parent's
 * (quantize.h has the kernels), then measure the two side by side on the
 * same rows before anything is stored:
 *
 *	- a model trained by maas_train: its holdout, rebuilt from the training
 *	  run (same source, same params, so the same split), with the metrics
 *	  of both versions on exactly those rows;
 *	- with params.evaluate (a query) and a target: maas_evaluate of both on
 *	  the query's rows;
 *	- always: the agreement of the two (top-1 and the largest difference of
 *	  the outputs) and their speed (rows or tokens per second, one thread's
 *	  batch) on the holdout, or on rows sampled from the training
 *	  statistics (or standard normal) for a model registered from elsewhere,
 *	  or random token ids for a text model.
 *
 * This file holds the SQL entry points, the params, the parent, the new
 * version's config and weights file (which layers now read which tensors)
 * and its storing and deploying; optimize_quant.c makes the quantized
 * tensors, optimize_prune.c the pruned ones (and fine-tunes),
 * optimize_eval.c measures both versions (optimize_int.h between them).
 *
 * The new version goes through the common registration path
 * (maas_store_version_bytes), which checks it as any registered model.
 * Quantized versions keep their int8 (with F32 scales) or BF16/F16
 * tensors; the config's "quantization" says so, and the version's dtype.
 */
#include "optimize_int.h"
#include "registry.h"
#include "services.h"
#include "weights.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"

static const char *const method_names[] = {
	[OPT_INT8] = "int8",
	[OPT_BF16] = "bf16",
	[OPT_F16] = "f16",
	[OPT_PRUNE_MAGNITUDE] = "magnitude",
	[OPT_PRUNE_UNITS] = "units",
};

/* ---- arguments and params ---- */

static JsonbValue *
param_get(Jsonb *params, const char *key)
{
	if (params == NULL)
		return NULL;
	return getKeyJsonValueFromContainer(&params->root, key, strlen(key), NULL);
}

static char *
param_string(Jsonb *params, const char *key)
{
	JsonbValue *v = param_get(params, key);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"%s\" must be a string", key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static bool
param_number(Jsonb *params, const char *key, double *out)
{
	JsonbValue *v = param_get(params, key);

	if (v == NULL || v->type == jbvNull)
		return false;
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"%s\" must be a number", key)));
	*out = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	return true;
}

static int
param_int(Jsonb *params, const char *key, int def, int min, int max)
{
	double		d;

	if (!param_number(params, key, &d))
		return def;
	if (!(d >= min && d <= max) || d != floor(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"%s\" must be an integer from %d to %d", key, min, max)));
	return (int) d;
}

static void
parse_params(Opt *o)
{
	static const char *const common[] = {"evaluate", "target", "sample_rows", "deploy", "seed", NULL};
	static const char *const quant[] = {"min_outputs", NULL};
	static const char *const prune[] = {"sparsity", "method", "scope", "finetune_epochs", NULL};
	Jsonb	   *p = o->params;
	char	   *s;

	if (p != NULL)
	{
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;

		if (!JsonContainerIsObject(&p->root) || JsonContainerIsScalar(&p->root))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params must be a JSON object")));
		it = JsonbIteratorInit(&p->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			char	   *key;
			bool		known = false;

			if (tok != WJB_KEY)
				continue;
			key = pnstrdup(v.val.string.val, v.val.string.len);
			for (const char *const *k = common; *k && !known; k++)
				known = strcmp(key, *k) == 0;
			for (const char *const *k = o->is_prune ? prune : quant; *k && !known; k++)
				known = strcmp(key, *k) == 0;
			if (!known)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown parameter \"%s\"", key),
						 errhint(o->is_prune ?
								 "maas_prune takes sparsity, method, scope, finetune_epochs, evaluate, target, sample_rows, deploy and seed." :
								 "maas_quantize takes min_outputs, evaluate, target, sample_rows, deploy and seed.")));
		}
	}
	o->evaluate = param_string(p, "evaluate");
	o->target = param_string(p, "target");
	o->sample_rows = param_int(p, "sample_rows", 1000, 1, 1000000);
	o->min_outputs = param_int(p, "min_outputs", 64, 1, INT_MAX);
	o->seed = (uint64) param_int(p, "seed", 42, 0, INT_MAX);
	o->deploy = DEPLOY_NEVER;
	if ((s = param_string(p, "deploy")) != NULL)
	{
		if (strcmp(s, "never") == 0)
			o->deploy = DEPLOY_NEVER;
		else if (strcmp(s, "always") == 0)
			o->deploy = DEPLOY_ALWAYS;
		else if (strcmp(s, "if_better") == 0)
			o->deploy = DEPLOY_IF_BETTER;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for parameter \"deploy\": \"%s\"", s),
					 errhint("Use \"never\", \"always\" or \"if_better\".")));
	}
	if (o->is_prune)
	{
		double		sp;

		if (!param_number(p, "sparsity", &sp))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("maas_prune needs parameter \"sparsity\""),
					 errhint("The share of weights (or, with \"method\": \"units\", of hidden units) to remove, in [0, 1).")));
		if (!(sp >= 0.0 && sp < 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"sparsity\" must be in [0, 1), not %g", sp)));
		o->sparsity = sp;
		o->method = OPT_PRUNE_MAGNITUDE;
		if ((s = param_string(p, "method")) != NULL)
		{
			if (strcmp(s, "magnitude") == 0)
				o->method = OPT_PRUNE_MAGNITUDE;
			else if (strcmp(s, "units") == 0)
				o->method = OPT_PRUNE_UNITS;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown pruning method \"%s\"", s),
						 errhint("The methods are \"magnitude\" (weights) and \"units\" (whole hidden units).")));
		}
		o->scope = MAAS_PRUNE_GLOBAL;
		if ((s = param_string(p, "scope")) != NULL)
		{
			if (strcmp(s, "global") == 0)
				o->scope = MAAS_PRUNE_GLOBAL;
			else if (strcmp(s, "layer") == 0)
				o->scope = MAAS_PRUNE_PER_TENSOR;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for parameter \"scope\": \"%s\"", s),
						 errhint("Use \"global\" or \"layer\".")));
		}
	}
	o->finetune_epochs = param_int(p, "finetune_epochs", 0, 0, 1000);
	if (o->finetune_epochs > 0 && o->method != OPT_PRUNE_UNITS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"finetune_epochs\" needs \"method\": \"units\""),
				 errdetail("Fine-tuning would bring back the weights magnitude pruning set to zero.")));
	if (o->evaluate != NULL && o->target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"evaluate\" needs parameter \"target\""),
				 errhint("Name the column of the query that holds the true values.")));
}

/* 'latest' or digits */
static int32
parse_version_text(const char *s)
{
	char	   *end;
	long		v;

	if (strcmp(s, "latest") == 0)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 1 || v > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid version \"%s\"", s),
				 errhint("Give a version number or 'latest'.")));
	return (int32) v;
}

/* ---- the parent ---- */

static void
load_parent(Opt *o, int32 version)
{
	MaasCatalogSession cs;
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(o->model), Int32GetDatum(version)};
	bool		isnull;
	MaasVersionRef ref;
	Datum		d;

	maas_require_model_owner(o->model);
	maas_catalog_begin(&cs);
	if (maas_catalog_query("SELECT v.version, v.algorithm, v.metrics, v.train_stats, v.bytes "
						   "FROM maas.version v JOIN maas.model m USING (model_id) "
						   "WHERE m.name = $1 AND v.version = CASE WHEN $2 = 0 THEN "
						   "(SELECT max(w.version) FROM maas.version w WHERE w.model_id = m.model_id) "
						   "ELSE $2 END",
						   2, types, values, NULL, SPI_OK_SELECT) == 0)
	{
		bool		exists = maas_catalog_query("SELECT 1 FROM maas.model WHERE name = $1",
												1, types, values, NULL, SPI_OK_SELECT) > 0;

		if (!exists)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", o->model)));
		if (version == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" has no versions", o->model)));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("version %d of model \"%s\" does not exist", version, o->model)));
	}
	{
		MemoryContext spi = MemoryContextSwitchTo(cs.caller_cxt);

		o->parent = DatumGetInt32(maas_catalog_result(0, 1, &isnull));
		o->algorithm = TextDatumGetCString(maas_catalog_result(0, 2, &isnull));
		d = maas_catalog_result(0, 3, &isnull);
		o->metrics = isnull ? NULL : DatumGetJsonbPCopy(d);
		d = maas_catalog_result(0, 4, &isnull);
		o->train_stats = isnull ? NULL : DatumGetJsonbPCopy(d);
		o->bytes = DatumGetInt64(maas_catalog_result(0, 5, &isnull));
		MemoryContextSwitchTo(spi);
	}
	maas_catalog_end(&cs);

	maas_lookup_version(o->model, o->parent, &ref);
	maas_fetch_version(&ref, &o->config, &o->weights);
	maas_parse_safetensors(o->weights, &o->file);
}

/* what the parent is, before anything is made of it */
static void
check_parent(Opt *o)
{
	JsonbValue *q = getKeyJsonValueFromContainer(&o->config->root, "quantization",
												 strlen("quantization"), NULL);
	bool		dense = false;

	if (q != NULL)
	{
		JsonbValue *pv = NULL;
		JsonbValue *mv = NULL;

		if (q->type == jbvBinary && JsonContainerIsObject(q->val.binary.data))
		{
			pv = getKeyJsonValueFromContainer(q->val.binary.data, "parent_version",
											  strlen("parent_version"), NULL);
			mv = getKeyJsonValueFromContainer(q->val.binary.data, "method",
											  strlen("method"), NULL);
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version %d of model \"%s\" is quantized already", o->parent, o->model),
				 mv && mv->type == jbvString ?
				 errdetail("Its weights are %.*s.", mv->val.string.len, mv->val.string.val) : 0,
				 pv && pv->type == jbvNumeric ?
				 errhint("Quantize or prune its parent, version %s, instead.",
						 DatumGetCString(DirectFunctionCall1(numeric_out,
															 NumericGetDatum(pv->val.numeric)))) :
				 errhint("Quantize or prune the version it was made from.")));
	}
	o->pm = maas_model_build(o->config, &o->file);
	if (o->pm->remote != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" is served remotely and cannot be %s", o->model,
						o->is_prune ? "pruned" : "quantized"),
				 errdetail("Its weights are on the remote server.")));
	for (int i = 0; i < o->pm->net.n_layers; i++)
	{
		if (o->pm->net.layers[i].op == MAAS_OP_REMOTE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("model \"%s\" has remote layers and cannot be %s", o->model,
							o->is_prune ? "pruned" : "quantized")));
		if (o->pm->net.layers[i].op == MAAS_OP_DENSE)
			dense = true;
	}
	if (!dense)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %d of model \"%s\" (algorithm \"%s\") has no dense layers to %s",
						o->parent, o->model, o->algorithm, o->is_prune ? "prune" : "quantize"),
				 errdetail("Quantization and pruning apply to the dense layers of neural networks, linear and logistic models and transformers.")));
}

/* ---- the new version: its weights file and config ---- */

/* is name still read by a layer of the new config */
static bool
still_read(Builder *bd, const char *name)
{
	for (int i = 0; i < bd->layers->n; i++)
	{
		const MaasJson *l = maas_json_at(bd->layers, i);

		for (int k = 0; k < l->n; k++)
		{
			const MaasJson *v = &l->u.members[k].value;

			if (v->type != MAAS_JSON_STRING || strcmp(v->u.string, name) != 0)
				continue;
			/* a key a patch replaced no longer names it */
			if (bd->patch[i] != NULL &&
				strstr(bd->patch[i], psprintf("\"%s\":", l->u.members[k].key)) != NULL)
				continue;
			return true;
		}
	}
	return false;
}

static int
dtype_rank(StDtype d)
{
	/* F32 first, then 2-byte, then 1-byte: every tensor stays aligned */
	return d == ST_I8 || d == ST_U8 || d == ST_BOOL ? 2 :
		st_dtype_size(d) == 2 ? 1 : 0;
}

static char *
opt_record(Opt *o)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"method\": \"%s\", \"parent_version\": %d", method_names[o->method], o->parent);
	if (o->method == OPT_INT8)
		appendStringInfo(&s, ", \"weights\": \"int8 per output channel, symmetric\", "
						 "\"activations\": \"uint8 per row, dynamic\", \"min_outputs\": %d",
						 o->min_outputs);
	if (o->is_prune)
	{
		appendStringInfo(&s, ", \"sparsity\": %s", float8out_internal(o->sparsity));
		if (o->method == OPT_PRUNE_MAGNITUDE)
			appendStringInfo(&s, ", \"scope\": \"%s\"", o->scope == MAAS_PRUNE_GLOBAL ? "global" : "layer");
		appendStringInfo(&s, ", \"pruned\": " INT64_FORMAT ", \"of\": " INT64_FORMAT, o->pruned, o->total);
		if (o->finetune_epochs > 0)
			appendStringInfo(&s, ", \"finetune_epochs\": %d", o->finetune_epochs);
	}
	appendStringInfo(&s, ", \"layers\": %d", o->n_changed);
	if (!o->is_prune)
		appendStringInfo(&s, ", \"float_layers\": %d, \"tied_embeddings\": %d", o->n_kept, o->n_tied);
	if (o->params)
		appendStringInfo(&s, ", \"params\": %s",
						 JsonbToCString(NULL, &o->params->root, VARSIZE(o->params)));
	appendStringInfoChar(&s, '}');
	return s.data;
}

/* the new version's config and weights */
static void
build_new(Opt *o)
{
	MaasJson   *tree = maas_config_tree(o->config);
	Builder		bd;
	StWriteTensor *wt;
	int			n = 0;
	StringInfoData ls;
	Datum		layers;
	Datum		cfg;

	memset(&bd, 0, sizeof(bd));
	bd.layers = maas_json_get(tree, "layers");
	if (bd.layers == NULL || bd.layers->type != MAAS_JSON_ARRAY)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %d of model \"%s\" has no layer program", o->parent, o->model)));
	bd.patch = palloc0(sizeof(char *) * Max(bd.layers->n, 1));
	bd.replaced = palloc0(sizeof(char *) * Max(bd.layers->n, 1));
	bd.data = palloc0(sizeof(float *) * Max(o->file.n_tensors, 1));

	switch (o->method)
	{
		case OPT_INT8:
		case OPT_BF16:
		case OPT_F16:
			opt_quantize_layers(o, &bd);
			if (o->n_changed == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("version %d of model \"%s\" has no dense layer to quantize", o->parent, o->model),
						 o->method == OPT_INT8 ?
						 errdetail("Every dense layer has fewer than %d outputs (min_outputs), where float32 is faster.", o->min_outputs) : 0,
						 o->method == OPT_INT8 ? errhint("Set params.min_outputs lower, or use \"bf16\".") : 0));
			break;
		case OPT_PRUNE_MAGNITUDE:
			opt_prune_magnitude(o, &bd);
			break;
		case OPT_PRUNE_UNITS:
			opt_prune_units(o, &bd);
			break;
	}

	/* tensors: the parent's still read (pruned data replaced), then the new */
	wt = palloc0(sizeof(StWriteTensor) * (o->file.n_tensors + bd.n_add));
	for (int rank = 0; rank < 3; rank++)
	{
		for (int i = 0; i < o->file.n_tensors; i++)
		{
			const StTensor *t = &o->file.tensors[i];

			if (dtype_rank(t->dtype) != rank || !still_read(&bd, t->name))
				continue;
			wt[n].name = t->name;
			wt[n].dtype = t->dtype;
			wt[n].ndim = t->ndim;
			wt[n].shape = t->shape;
			wt[n].data = bd.data[i] ? (const void *) bd.data[i] : (const void *) t->data;
			n++;
		}
		for (int i = 0; i < bd.n_add; i++)
		{
			NewTensor  *t = &bd.add[i];

			if (dtype_rank(t->dtype) != rank)
				continue;
			wt[n].name = t->name;
			wt[n].dtype = t->dtype;
			wt[n].ndim = t->ndim;
			wt[n].shape = t->shape;
			wt[n].data = t->data;
			n++;
		}
	}
	{
		const char *keys[1] = {"format"};
		const char *vals[1] = {"pt"};

		o->new_weights = maas_write_safetensors(wt, n, keys, vals, 1);
	}
	maas_parse_safetensors(o->new_weights, &o->new_file);

	/* the config: the layers patched, and what was done */
	initStringInfo(&ls);
	appendStringInfoChar(&ls, '[');
	layers = DirectFunctionCall2(jsonb_object_field, JsonbPGetDatum(o->config),
								 CStringGetTextDatum("layers"));
	for (int i = 0; i < bd.layers->n; i++)
	{
		Datum		l = DirectFunctionCall2(jsonb_array_element, layers, Int32GetDatum(i));

		if (bd.patch[i] != NULL)
			l = DirectFunctionCall2(jsonb_concat, l,
									DirectFunctionCall1(jsonb_in,
														CStringGetDatum(psprintf("{%s}", bd.patch[i]))));
		if (i)
			appendStringInfoString(&ls, ", ");
		appendStringInfoString(&ls, JsonbToCString(NULL, &DatumGetJsonbP(l)->root, VARSIZE(DatumGetJsonbP(l))));
	}
	appendStringInfoChar(&ls, ']');
	cfg = DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(o->config),
							  DirectFunctionCall1(jsonb_in,
												  CStringGetDatum(psprintf("{\"layers\": %s, \"%s\": %s}",
																		   ls.data,
																		   o->is_prune ? "pruning" : "quantization",
																		   opt_record(o)))));
	o->new_config = DatumGetJsonbP(cfg);
	o->cm = maas_model_build(o->new_config, &o->new_file);
}

/* ---- the calls ---- */

static Datum
optimize(FunctionCallInfo fcinfo, Opt *o, int32 version)
{
	TupleDesc	tupdesc;
	Sample		s;
	Measure		before,
				after;
	double		top1,
				maxdiff;
	Jsonb	   *m_before = NULL;
	Jsonb	   *m_after = NULL;
	char	   *record;
	int32		new_version;
	bool		deployed = false;
	Datum		result[13];
	bool		nulls[13];
	const char *key;
	int32		deployed_version = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	PreventCommandIfReadOnly(o->is_prune ? "maas_prune()" : "maas_quantize()");
	parse_params(o);
	load_parent(o, version);
	check_parent(o);
	build_new(o);

	/* the rows both are measured on */
	memset(&s, 0, sizeof(s));
	if (!maas_model_is_text(o->pm) && (o->evaluate == NULL || o->finetune_epochs > 0))
		s.job = opt_rebuild_holdout(o);
	if (s.job != NULL)
	{
		s.kind = "holdout";
		s.n = (int) Min(s.job->n_test, (int64) INT_MAX);
		s.x = s.job->x + (size_t) s.job->n_train * s.job->width;
		opt_skip_standardize(o->pm);
		opt_skip_standardize(o->cm);
	}
	else
		opt_synthetic_sample(o, &s);
	if (o->finetune_epochs > 0)
	{
		if (s.job == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("version %d of model \"%s\" has no training run to fine-tune on", o->parent, o->model),
					 errhint("Fine-tuning needs a version trained by maas_train, whose source can be read again.")));
		opt_finetune(o, s.job);
	}
	opt_run_model(o->pm, &s, &before);
	opt_run_model(o->cm, &s, &after);
	opt_agreement(&before, &after, s.n, &top1, &maxdiff);

	if (s.job != NULL)
	{
		double		p;

		m_before = opt_jsonb_text(maas_train_metrics_json(s.job, opt_class_outputs(o->pm, &before, s.n), &p));
		m_after = opt_jsonb_text(maas_train_metrics_json(s.job, opt_class_outputs(o->cm, &after, s.n), &p));
	}

	key = o->pm->task == MAAS_TASK_CLASSIFICATION ? "f1" : "r2";
	{
		StringInfoData r;

		initStringInfo(&r);
		appendStringInfo(&r, "{\"method\": \"%s\", \"parent_version\": %d, \"evaluated_on\": ",
						 method_names[o->method], o->parent);
		escape_json(&r, o->evaluate ? "the query of params.evaluate" : s.kind);
		appendStringInfo(&r, ", \"rows\": %d, \"bytes_before\": " INT64_FORMAT ", \"bytes_after\": %zu",
						 s.n, o->bytes, VARSIZE_ANY_EXHDR(o->new_weights));
		appendStringInfo(&r, ", \"rows_per_second_before\": %s, \"rows_per_second_after\": %s",
						 float8out_internal(before.rows_per_second), float8out_internal(after.rows_per_second));
		if (s.t > 1)
			appendStringInfo(&r, ", \"tokens_per_second_before\": %s, \"tokens_per_second_after\": %s",
							 float8out_internal(before.tokens_per_second),
							 float8out_internal(after.tokens_per_second));
		appendStringInfo(&r, ", \"top1_agreement\": %s, \"max_abs_diff\": %s",
						 isfinite(top1) ? float8out_internal(top1) : "null",
						 isfinite(maxdiff) ? float8out_internal(maxdiff) : "null");
		if (m_before != NULL)
			appendStringInfo(&r, ", \"metrics_before\": %s",
							 JsonbToCString(NULL, &m_before->root, VARSIZE(m_before)));
		appendStringInfoChar(&r, '}');
		record = r.data;
	}

	new_version = maas_store_version_bytes(o->model, o->algorithm,
										   (const uint8 *) VARDATA_ANY(o->new_weights),
										   VARSIZE_ANY_EXHDR(o->new_weights),
										   o->new_config, opt_with_optimization(m_after, record),
										   o->train_stats, o->parent);

	/* a query of the user's: both measured by maas_evaluate, then stored */
	if (o->evaluate != NULL)
	{
		Oid			types[3] = {JSONBOID, TEXTOID, INT4OID};
		Datum		values[3];

		CommandCounterIncrement();
		m_before = opt_evaluate_query(o, o->parent);
		m_after = opt_evaluate_query(o, new_version);
		record = psprintf("%s, \"metrics_before\": %s}", pnstrdup(record, strlen(record) - 1),
						  JsonbToCString(NULL, &m_before->root, VARSIZE(m_before)));
		values[0] = JsonbPGetDatum(opt_with_optimization(m_after, record));
		values[1] = CStringGetTextDatum(o->model);
		values[2] = Int32GetDatum(new_version);
		maas_catalog_execute("UPDATE maas.version v SET metrics = $1 FROM maas.model m "
							 "WHERE m.model_id = v.model_id AND m.name = $2 AND v.version = $3",
							 3, types, values, NULL, SPI_OK_UPDATE);
	}

	/* the deploy rule, on the same rows: the parent is what it is measured against */
	if (o->deploy == DEPLOY_ALWAYS)
	{
		maas_deploy_version(o->model, new_version, NULL);
		deployed = true;
	}
	else if (o->deploy == DEPLOY_IF_BETTER)
	{
		MaasCatalogSession cs;
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(o->model)};
		bool		isnull;
		double		a = opt_metric_of(m_after, key),
					b = opt_metric_of(m_before, key);

		maas_catalog_begin(&cs);
		maas_catalog_query("SELECT deployed_version FROM maas.model WHERE name = $1",
						   1, types, values, NULL, SPI_OK_SELECT);
		deployed_version = DatumGetInt32(maas_catalog_result(0, 1, &isnull));
		if (isnull)
			deployed_version = 0;
		maas_catalog_end(&cs);
		if (deployed_version != 0 && deployed_version != o->parent)
			ereport(NOTICE,
					(errmsg("version %d of model \"%s\" was not deployed", new_version, o->model),
					 errdetail("The deployed version %d is not its parent, and was not measured on the same rows.",
							   deployed_version)));
		else if (isnan(a) || isnan(b))
			ereport(NOTICE,
					(errmsg("version %d of model \"%s\" was not deployed", new_version, o->model),
					 errdetail("There is no %s of both versions on the same rows to compare.", key)));
		else if (!(a > b))
			ereport(NOTICE,
					(errmsg("version %d of model \"%s\" was not deployed", new_version, o->model),
					 errdetail("Its %s of %.4f does not beat the %.4f of version %d on the same rows.",
							   key, a, b, o->parent)));
		else
		{
			maas_deploy_version(o->model, new_version, NULL);
			deployed = true;
		}
	}

	memset(nulls, 0, sizeof(nulls));
	result[0] = CStringGetTextDatum(o->model);
	result[1] = Int32GetDatum(new_version);
	result[2] = Int32GetDatum(o->parent);
	result[3] = CStringGetTextDatum(method_names[o->method]);
	result[4] = Int64GetDatum(o->bytes);
	result[5] = Int64GetDatum((int64) VARSIZE_ANY_EXHDR(o->new_weights));
	result[6] = m_before ? JsonbPGetDatum(m_before) : (Datum) 0;
	nulls[6] = m_before == NULL;
	result[7] = m_after ? JsonbPGetDatum(m_after) : (Datum) 0;
	nulls[7] = m_after == NULL;
	result[8] = Float8GetDatum(s.t > 1 ? before.tokens_per_second : before.rows_per_second);
	result[9] = Float8GetDatum(s.t > 1 ? after.tokens_per_second : after.rows_per_second);
	result[10] = Float8GetDatum(top1);
	nulls[10] = !isfinite(top1);
	result[11] = Float8GetDatum(maxdiff);
	nulls[11] = !isfinite(maxdiff);
	result[12] = BoolGetDatum(deployed);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, nulls)));
}

static void
common_args(FunctionCallInfo fcinfo, Opt *o, const char *what)
{
	memset(o, 0, sizeof(*o));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("version must not be null"),
				 errhint("Give a version number or 'latest'.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	o->model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	maas_check_model_name(o->model);
}

static int32
version_arg(FunctionCallInfo fcinfo)
{
	if (get_fn_expr_argtype(fcinfo->flinfo, 1) == INT4OID)
	{
		int32		v = PG_GETARG_INT32(1);

		if (v < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid version %d", v),
					 errhint("Give a version number or 'latest'.")));
		return v;
	}
	return parse_version_text(text_to_cstring(PG_GETARG_TEXT_PP(1)));
}

/*
 * maas_quantize(model, version, method [, params]): a new version with the
 * dense layers' weights in int8, bf16 or f16, measured against its parent.
 */
PG_FUNCTION_INFO_V1(maas_quantize);
Datum
maas_quantize(PG_FUNCTION_ARGS)
{
	Opt			o;
	char	   *method;

	common_args(fcinfo, &o, "method");
	method = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(method, "int8") == 0)
		o.method = OPT_INT8;
	else if (strcmp(method, "bf16") == 0)
		o.method = OPT_BF16;
	else if (strcmp(method, "f16") == 0)
		o.method = OPT_F16;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown quantization method \"%s\"", method),
				 errhint("The methods are \"int8\", \"bf16\" and \"f16\"; maas_prune prunes.")));
	o.params = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	return optimize(fcinfo, &o, version_arg(fcinfo));
}

/*
 * maas_prune(model, version, params): a new version with the smallest
 * weights set to zero ("magnitude") or the weakest hidden units removed
 * ("units"), measured against its parent.
 */
PG_FUNCTION_INFO_V1(maas_prune);
Datum
maas_prune(PG_FUNCTION_ARGS)
{
	Opt			o;

	common_args(fcinfo, &o, "params");
	o.is_prune = true;
	o.params = PG_GETARG_JSONB_P(2);
	return optimize(fcinfo, &o, version_arg(fcinfo));
}
