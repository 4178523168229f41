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
 * The new version goes through the common registration path
 * (maas_store_version_bytes), which checks it as any registered model.
 * Quantized versions keep their int8 (with F32 scales) or BF16/F16
 * tensors; the config's "quantization" says so, and the version's dtype.
 */
#include "train_job.h"
#include "registry.h"
#include "services.h"
#include "source.h"
#include "weights.h"

#include "quantize.h"

#include <math.h>
#include <time.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

typedef enum OptMethod
{
	OPT_INT8,
	OPT_BF16,
	OPT_F16,
	OPT_PRUNE_MAGNITUDE,
	OPT_PRUNE_UNITS
} OptMethod;

static const char *const method_names[] = {
	[OPT_INT8] = "int8",
	[OPT_BF16] = "bf16",
	[OPT_F16] = "f16",
	[OPT_PRUNE_MAGNITUDE] = "magnitude",
	[OPT_PRUNE_UNITS] = "units",
};

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

/* ---- the new weights ---- */

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

static void
add_tensor(Builder *bd, const char *name, StDtype dtype, int ndim, int64_t d0,
		   int64_t d1, const void *data)
{
	NewTensor  *t;

	if (bd->n_add == bd->cap_add)
	{
		bd->cap_add = Max(16, bd->cap_add * 2);
		bd->add = bd->add ? repalloc(bd->add, sizeof(NewTensor) * bd->cap_add) :
			palloc(sizeof(NewTensor) * bd->cap_add);
	}
	t = &bd->add[bd->n_add++];
	t->name = pstrdup(name);
	t->dtype = dtype;
	t->ndim = ndim;
	t->shape[0] = d0;
	t->shape[1] = d1;
	t->data = data;
}

static char *
json_quote(const char *s)
{
	StringInfoData b;

	initStringInfo(&b);
	escape_json(&b, s);
	return b.data;
}

/* a tensor's floats, aligned, [rows, cols] or transposed to [cols, rows] */
static float *
tensor_floats(const StTensor *t, bool transpose)
{
	size_t		n = (size_t) t->numel;
	float	   *f = palloc_extended(sizeof(float) * Max(n, 1), MCXT_ALLOC_HUGE);

	if (!st_to_f32(t, f))
		elog(ERROR, "tensor \"%s\" is not floating", t->name);
	if (transpose)
	{
		int64_t		r = t->shape[0],
					c = t->shape[1];
		float	   *tr = palloc_extended(sizeof(float) * Max(n, 1), MCXT_ALLOC_HUGE);

		for (int64_t i = 0; i < r; i++)
		{
			CHECK_FOR_INTERRUPTS();
			for (int64_t j = 0; j < c; j++)
				tr[j * r + i] = f[i * c + j];
		}
		pfree(f);
		f = tr;
	}
	return f;
}

static const char *
layer_string(const MaasJson *layer, const char *key)
{
	const MaasJson *v = maas_json_get(layer, key);

	return v != NULL && v->type == MAAS_JSON_STRING ? v->u.string : NULL;
}

/* quantize every dense layer that gains from it */
static void
quantize_layers(Opt *o, Builder *bd)
{
	MaasError	err;

	for (int i = 0; i < bd->layers->n; i++)
	{
		const MaasJson *l = maas_json_at(bd->layers, i);
		const char *op = layer_string(l, "op");
		const char *wname = layer_string(l, "weight");
		const char *layout = layer_string(l, "layout");
		bool		in_out = layout != NULL && strcmp(layout, "in_out") == 0;
		const StTensor *t;
		int64_t		n,
					k;
		float	   *w;
		char	   *nm;

		CHECK_FOR_INTERRUPTS();
		if (op == NULL || strcmp(op, "dense") != 0 || wname == NULL ||
			(t = st_find(&o->file, wname)) == NULL || t->ndim != 2)
			continue;
		if (t->dtype != ST_F32)
		{
			o->n_kept++;
			continue;
		}
		n = in_out ? t->shape[1] : t->shape[0];
		k = in_out ? t->shape[0] : t->shape[1];
		if (o->method == OPT_INT8 && (n < o->min_outputs || k > MAAS_S8_MAX_K))
		{
			o->n_kept++;
			continue;
		}
		w = tensor_floats(t, in_out && o->method != OPT_F16);
		if (o->method == OPT_INT8)
		{
			MaasWeights q;

			if (!maas_quantize_weights_s8(w, (int) n, (int) k, &q, &err))
				maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE,
						   psprintf("could not quantize tensor \"%s\"", wname), NULL);
			nm = psprintf("%s.int8", wname);
			add_tensor(bd, nm, ST_I8, 2, n, k, q.data);
			add_tensor(bd, psprintf("%s.scale", wname), ST_F32, 1, n, 0, q.scale);
			bd->patch[i] = psprintf("\"weight\": %s, \"scale\": %s, \"layout\": \"out_in\"",
									json_quote(nm), json_quote(psprintf("%s.scale", wname)));
		}
		else
		{
			uint16_t   *h = palloc_extended(sizeof(uint16_t) * Max(t->numel, 1), MCXT_ALLOC_HUGE);

			if (o->method == OPT_BF16)
			{
				maas_f32_to_bf16_n(w, (size_t) t->numel, h);
				nm = psprintf("%s.bf16", wname);
				add_tensor(bd, nm, ST_BF16, 2, n, k, h);
				bd->patch[i] = psprintf("\"weight\": %s, \"layout\": \"out_in\"", json_quote(nm));
			}
			else
			{
				maas_f32_to_f16_n(w, (size_t) t->numel, h);
				nm = psprintf("%s.f16", wname);
				add_tensor(bd, nm, ST_F16, 2, t->shape[0], t->shape[1], h);
				bd->patch[i] = psprintf("\"weight\": %s", json_quote(nm));
			}
		}
		pfree(w);
		bd->replaced[i] = pstrdup(wname);
		o->n_changed++;
		o->total += t->numel;

		/*
		 * A tied LM head (GPT-2's wte): the embedding reads the same copy,
		 * widened when the net is built, so the float32 table goes.
		 */
		if (!in_out || o->method == OPT_F16)
			for (int j = 0; j < bd->layers->n; j++)
			{
				const MaasJson *e = maas_json_at(bd->layers, j);
				const char *eop = layer_string(e, "op");
				const char *tok = layer_string(e, "tokens");

				if (eop == NULL || strcmp(eop, "embedding") != 0 || tok == NULL ||
					strcmp(tok, wname) != 0 || bd->patch[j] != NULL)
					continue;
				bd->patch[j] = o->method == OPT_INT8 ?
					psprintf("\"tokens\": %s, \"tokens_scale\": %s", json_quote(nm),
							 json_quote(psprintf("%s.scale", wname))) :
					psprintf("\"tokens\": %s", json_quote(nm));
				o->n_tied++;
			}
	}
}

/* is layer i a dense layer whose weight is an F32 [n_out, n_in] tensor */
static const StTensor *
dense_f32(Opt *o, const MaasJson *l)
{
	const char *op = layer_string(l, "op");
	const char *wname = layer_string(l, "weight");
	const char *layout = layer_string(l, "layout");
	const StTensor *t;

	if (op == NULL || strcmp(op, "dense") != 0 || wname == NULL ||
		(layout != NULL && strcmp(layout, "out_in") != 0) ||
		(t = st_find(&o->file, wname)) == NULL || t->ndim != 2 || t->dtype != ST_F32)
		return NULL;
	return t;
}

static int
tensor_index(const StFile *f, const StTensor *t)
{
	return (int) (t - f->tensors);
}

/* magnitude pruning of every dense layer's weights (not biases) */
static void
prune_magnitude(Opt *o, Builder *bd)
{
	int			n = 0;
	const float **w = palloc(sizeof(float *) * Max(bd->layers->n, 1));
	size_t	   *len = palloc(sizeof(size_t) * Max(bd->layers->n, 1));
	uint8_t   **mask = palloc(sizeof(uint8_t *) * Max(bd->layers->n, 1));
	int		   *idx = palloc(sizeof(int) * Max(bd->layers->n, 1));
	size_t		pruned = 0;
	MaasError	err;

	for (int i = 0; i < bd->layers->n; i++)
	{
		const StTensor *t = dense_f32(o, maas_json_at(bd->layers, i));

		if (t == NULL || bd->data[tensor_index(&o->file, t)] != NULL)
			continue;
		idx[n] = tensor_index(&o->file, t);
		bd->data[idx[n]] = tensor_floats(t, false);
		w[n] = bd->data[idx[n]];
		len[n] = (size_t) t->numel;
		mask[n] = palloc_extended(Max(len[n], 1), MCXT_ALLOC_HUGE);
		o->total += t->numel;
		n++;
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %d of model \"%s\" has no float32 dense layers to prune",
						o->parent, o->model)));
	if (!maas_prune_magnitude(n, w, len, o->sparsity, o->scope, mask, &pruned,
							  &maas_interrupts_tick, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "could not prune the weights", NULL);
	for (int j = 0; j < n; j++)
		maas_prune_apply(bd->data[idx[j]], mask[j], len[j]);
	o->n_changed = n;
	o->pruned = (int64) pruned;
}

static bool
per_unit_op(const char *op)
{
	return strcmp(op, "relu") == 0 || strcmp(op, "tanh") == 0 ||
		strcmp(op, "sigmoid") == 0 || strcmp(op, "gelu") == 0 ||
		strcmp(op, "dropout") == 0;
}

/*
 * Structured pruning: in a plain chain of layers (none names its inputs),
 * each dense layer followed, through per-unit activations only, by another
 * dense layer loses the hidden units of lowest score (quantize.h:
 * maas_prune_units): its weight rows and biases, and the next layer's
 * columns.  The dense layers become smaller.
 */
static void
prune_units(Opt *o, Builder *bd)
{
	MaasError	err;
	int			nl = bd->layers->n;

	for (int i = 0; i < nl; i++)
		if (maas_json_get(maas_json_at(bd->layers, i), "input") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("version %d of model \"%s\" is not a plain chain of layers", o->parent, o->model),
					 errdetail("Pruning whole units needs a network whose layers each read the one before (an MLP)."),
					 errhint("Use \"method\": \"magnitude\".")));

	for (int i = 0; i < nl; i++)
	{
		const MaasJson *a = maas_json_at(bd->layers, i);
		const StTensor *ta = dense_f32(o, a);
		const StTensor *tb = NULL;
		const StTensor *bias;
		const char *bname;
		int			j;
		int			h,
					n_in,
					n_out,
					kept = 0;
		float	   *wa,
				   *wb,
				   *ba = NULL;
		uint8_t    *keep;

		if (ta == NULL)
			continue;
		for (j = i + 1; j < nl; j++)
		{
			const MaasJson *l = maas_json_at(bd->layers, j);
			const char *op = layer_string(l, "op");

			if (op == NULL)
				break;
			if (strcmp(op, "dense") == 0)
			{
				tb = dense_f32(o, l);
				break;
			}
			if (!per_unit_op(op))
				break;
		}
		if (tb == NULL || j >= nl)
			continue;
		h = (int) ta->shape[0];
		n_in = (int) ta->shape[1];
		n_out = (int) tb->shape[0];
		if (tb->shape[1] != h || h < 2 ||
			bd->data[tensor_index(&o->file, ta)] != NULL ||
			bd->data[tensor_index(&o->file, tb)] != NULL)
			continue;
		/* a layer already shrunk by the pair before reads fewer inputs */
		if (bd->patch[i] != NULL)
			continue;
		wa = tensor_floats(ta, false);
		wb = tensor_floats(tb, false);
		keep = palloc(h);
		if (!maas_prune_units(h, n_in, wa, n_out, wb, o->sparsity, keep, &err))
			maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "could not prune the units", NULL);
		bname = layer_string(a, "bias");
		bias = bname ? st_find(&o->file, bname) : NULL;
		if (bias != NULL && (bias->dtype != ST_F32 || bias->numel != h))
			bias = NULL;
		if (bias != NULL)
			ba = tensor_floats(bias, false);
		for (int u = 0; u < h; u++)
			kept += keep[u] ? 1 : 0;
		{
			float	   *na = palloc_extended(sizeof(float) * (size_t) kept * n_in, MCXT_ALLOC_HUGE);
			float	   *nb = palloc_extended(sizeof(float) * (size_t) n_out * kept, MCXT_ALLOC_HUGE);
			float	   *nba = ba ? palloc(sizeof(float) * kept) : NULL;
			char	   *wa_name = psprintf("%s.pruned", ta->name);
			char	   *wb_name = psprintf("%s.pruned", tb->name);
			int			c = 0;

			for (int u = 0; u < h; u++)
			{
				if (!keep[u])
					continue;
				memcpy(na + (size_t) c * n_in, wa + (size_t) u * n_in, sizeof(float) * n_in);
				if (nba)
					nba[c] = ba[u];
				for (int r = 0; r < n_out; r++)
					nb[(size_t) r * kept + c] = wb[(size_t) r * h + u];
				c++;
			}
			add_tensor(bd, wa_name, ST_F32, 2, kept, n_in, na);
			add_tensor(bd, wb_name, ST_F32, 2, n_out, kept, nb);
			if (nba)
			{
				char	   *nban = psprintf("%s.pruned", bias->name);

				add_tensor(bd, nban, ST_F32, 1, kept, 0, nba);
				bd->patch[i] = psprintf("\"weight\": %s, \"bias\": %s",
										json_quote(wa_name), json_quote(nban));
			}
			else
				bd->patch[i] = psprintf("\"weight\": %s", json_quote(wa_name));
			bd->patch[j] = psprintf("\"weight\": %s", json_quote(wb_name));
			bd->replaced[i] = pstrdup(ta->name);
			bd->replaced[j] = pstrdup(tb->name);
		}
		o->n_changed++;
		o->pruned += h - kept;
		o->total += h;
		/*
		 * Layer j now reads fewer inputs; its own units are left as they
		 * are (a pair starts at a layer whose weights are the parent's).
		 */
		i = j;
	}
	if (o->n_changed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %d of model \"%s\" has no hidden units to prune", o->parent, o->model),
				 errdetail("Pruning units needs a dense layer followed, through activations, by another dense layer.")));
}

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
			quantize_layers(o, &bd);
			if (o->n_changed == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("version %d of model \"%s\" has no dense layer to quantize", o->parent, o->model),
						 o->method == OPT_INT8 ?
						 errdetail("Every dense layer has fewer than %d outputs (min_outputs), where float32 is faster.", o->min_outputs) : 0,
						 o->method == OPT_INT8 ? errhint("Set params.min_outputs lower, or use \"bf16\".") : 0));
			break;
		case OPT_PRUNE_MAGNITUDE:
			prune_magnitude(o, &bd);
			break;
		case OPT_PRUNE_UNITS:
			prune_units(o, &bd);
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

/* ---- measuring ---- */

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

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the net's outputs over the sample, once to warm up, then timed */
static void
run_model(const MaasModel *m, const Sample *s, Measure *r)
{
	const MaasBlas *blas = maas_get_blas();
	int			chunk = s->t > 1 ? 8 : 256;
	size_t		nwork;
	float	   *work;
	MaasError	err;
	double		best = INFINITY;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "maas optimize run",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;

	r->k = m->net.n_out;
	r->out = palloc_extended(sizeof(float) * (size_t) s->n * r->k, MCXT_ALLOC_HUGE);
	if (!maas_net_workspace(&m->net, chunk, Max(s->t, 1), &nwork))
		elog(ERROR, "the model is too large to measure");
	work = palloc_extended(sizeof(float) * Max(nwork, 1), MCXT_ALLOC_HUGE);
	for (int rep = 0; rep < 4; rep++)
	{
		double		t0 = now_seconds();

		for (int r0 = 0; r0 < s->n; r0 += chunk)
		{
			int			c = Min(chunk, s->n - r0);
			MaasBatch	b;
			const float *y;

			CHECK_FOR_INTERRUPTS();
			memset(&b, 0, sizeof(b));
			b.n = c;
			b.t = Max(s->t, 1);
			if (s->ids)
			{
				b.ids = s->ids + (size_t) r0 * s->t;
				b.lengths = s->lengths + r0;
			}
			else
				b.x = s->x + (size_t) r0 * m->net.n_in;
			old = MemoryContextSwitchTo(cxt);
			y = maas_net_run(&m->net, blas, &b, 0, work, &err);
			MemoryContextSwitchTo(old);
			if (y == NULL)
				maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "could not run the model", NULL);
			if (rep == 0)
				memcpy(r->out + (size_t) r0 * r->k, y, sizeof(float) * (size_t) c * r->k);
			MemoryContextReset(cxt);
		}
		if (rep > 0)
			best = Min(best, now_seconds() - t0);
	}
	MemoryContextDelete(cxt);
	best = Max(best, 1e-9);
	r->rows_per_second = s->n / best;
	r->tokens_per_second = (double) s->n * Max(s->t, 1) / best;
}

/* 2 probabilities from a sigmoid's one, for the metrics */
static float *
class_outputs(const MaasModel *m, const Measure *r, int n)
{
	float	   *o;

	if (!m->sigmoid_binary)
		return r->out;
	o = palloc_extended(sizeof(float) * 2 * (size_t) Max(n, 1), MCXT_ALLOC_HUGE);
	for (int i = 0; i < n; i++)
	{
		o[2 * i] = 1.0f - r->out[i];
		o[2 * i + 1] = r->out[i];
	}
	return o;
}

static uint64
rng_next(uint64 *s)
{
	uint64		z = (*s += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static double
rng_normal(uint64 *s)
{
	double		u = ((rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
	double		v = ((rng_next(s) >> 11) + 0.5) / 9007199254740992.0;

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/*
 * The parent's holdout, rebuilt: the training run's source read again with
 * the params recorded in the config, so that the split is the same; NULL
 * when the version was not trained by maas_train (or its run is gone).
 */
static void
holdout_context(void *arg)
{
	Opt		   *o = (Opt *) arg;

	errcontext("reading the training source of version %d of model \"%s\" again, for its holdout",
			   o->parent, o->model);
}

static TrainJob *
rebuild_holdout(Opt *o)
{
	JsonbValue *alg = getKeyJsonValueFromContainer(&o->config->root, "algorithm", 9, NULL);
	JsonbValue *params = getKeyJsonValueFromContainer(&o->config->root, "params", 6, NULL);
	JsonbValue *target = getKeyJsonValueFromContainer(&o->config->root, "target", 6, NULL);
	MaasInputs *inputs = maas_inputs_from_config(o->config);
	char	   *source = NULL;
	TrainJob   *job;
	MaasCatalogSession cs;

	if (alg == NULL || alg->type != jbvString || params == NULL || params->type != jbvBinary ||
		target == NULL || target->type != jbvString || inputs == NULL)
		return NULL;
	{
		Oid			types[2] = {TEXTOID, INT4OID};
		Datum		values[2] = {CStringGetTextDatum(o->model), Int32GetDatum(o->parent)};
		bool		isnull;

		maas_catalog_begin(&cs);
		if (maas_catalog_query("SELECT source FROM maas.training_run WHERE model = $1 AND version = $2 "
							   "ORDER BY run_id DESC LIMIT 1",
							   2, types, values, NULL, SPI_OK_SELECT) > 0)
		{
			MemoryContext spi = MemoryContextSwitchTo(cs.caller_cxt);

			source = TextDatumGetCString(maas_catalog_result(0, 1, &isnull));
			MemoryContextSwitchTo(spi);
		}
		maas_catalog_end(&cs);
	}
	if (source == NULL)
		return NULL;

	job = palloc0(sizeof(TrainJob));
	job->started = GetCurrentTimestamp();
	job->model = o->model;
	job->target = pnstrdup(target->val.string.val, target->val.string.len);
	job->p.algorithm = maas_train_parse_algorithm(pnstrdup(alg->val.string.val, alg->val.string.len));
	{
		Jsonb	   *pj = JsonbValueToJsonb(params);

		maas_train_parse_params(pj, &job->p);
	}
	job->p.n_features = inputs->n;
	job->p.features = palloc(sizeof(char *) * Max(inputs->n, 1));
	for (int i = 0; i < inputs->n; i++)
		job->p.features[i] = inputs->in[i].name;
	job->limit = maas_max_training_memory();
	job->cxt = AllocSetContextCreate(CurrentMemoryContext, "maas optimize holdout", ALLOCSET_DEFAULT_SIZES);
	job->row_cxt = AllocSetContextCreate(job->cxt, "maas optimize row", ALLOCSET_SMALL_SIZES);
	{
		MemoryContext caller = MemoryContextSwitchTo(job->cxt);
		ErrorContextCallback ctx;

		ctx.callback = holdout_context;
		ctx.arg = o;
		ctx.previous = error_context_stack;
		error_context_stack = &ctx;
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		MemoryContextSwitchTo(job->cxt);
		job->source_sql = MemoryContextStrdup(job->cxt, maas_source_sql(source));
		maas_train_plan_columns(job);
		maas_train_load_rows(job);
		SPI_finish();
		MemoryContextSwitchTo(job->cxt);
		maas_train_resolve_task(job);
		maas_train_preprocess(job);
		error_context_stack = ctx.previous;
		MemoryContextSwitchTo(caller);
	}
	if (job->width != o->pm->net.n_in ||
		(job->task == MAAS_TASK_CLASSIFICATION && job->n_classes != o->pm->n_classes))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the training source of version %d of model \"%s\" has changed", o->parent, o->model),
				 errdetail("Its rows no longer make the model's %d features%s.", o->pm->net.n_in,
						   job->task == MAAS_TASK_CLASSIFICATION ? " and classes" : ""),
				 errhint("Measure the new version on a query of your own with params.evaluate and params.target.")));
	if (job->n_test < 1)
		return NULL;
	return job;
}

/* the standardize layer of a net measured on standardized rows: identity */
static void
skip_standardize(MaasModel *m)
{
	MaasLayer  *l = &m->net.layers[0];
	float	   *zero;
	float	   *one;

	if (m->net.n_layers < 1 || l->op != MAAS_OP_STANDARDIZE)
		return;
	zero = palloc0(sizeof(float) * l->n_in);
	one = palloc(sizeof(float) * l->n_in);
	for (int j = 0; j < l->n_in; j++)
		one[j] = 1.0f;
	l->shift = zero;
	l->scale = one;
}

/* rows to measure on when there is no holdout */
static void
synthetic_sample(Opt *o, Sample *s)
{
	const MaasModel *m = o->pm;
	uint64		rng = o->seed;

	s->n = o->sample_rows;
	if (maas_model_is_text(m))
	{
		int			t = Min(16, m->n_positions);

		s->n = Min(s->n, 32);
		s->t = t;
		s->ids = palloc(sizeof(int32) * (size_t) s->n * t);
		s->lengths = palloc(sizeof(int32) * s->n);
		for (int i = 0; i < s->n; i++)
		{
			s->lengths[i] = t;
			for (int j = 0; j < t; j++)
				s->ids[(size_t) i * t + j] = (int32) (rng_next(&rng) % (uint64) (m->tok ? m->tok->n_vocab : m->vocab));
		}
		s->kind = "random token ids";
		return;
	}
	{
		int			d = m->net.n_in;
		double	   *mean = palloc0(sizeof(double) * Max(d, 1));
		double	   *sd = palloc(sizeof(double) * Max(d, 1));
		bool		stats = false;
		bool		standardized = false;

		for (int j = 0; j < d; j++)
			sd[j] = 1.0;
		if (o->train_stats != NULL)
		{
			JsonbValue *f = getKeyJsonValueFromContainer(&o->train_stats->root, "features", 8, NULL);

			if (f != NULL && f->type == jbvBinary && JsonContainerIsArray(f->val.binary.data) &&
				JsonContainerSize(f->val.binary.data) == d)
			{
				stats = true;
				for (int j = 0; j < d; j++)
				{
					JsonbValue *e = getIthJsonbValueFromContainer(f->val.binary.data, j);
					JsonbValue *mv,
							   *vv;

					if (e == NULL || e->type != jbvBinary)
						continue;
					mv = getKeyJsonValueFromContainer(e->val.binary.data, "mean", 4, NULL);
					vv = getKeyJsonValueFromContainer(e->val.binary.data, "var", 3, NULL);
					if (mv && mv->type == jbvNumeric)
						mean[j] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(mv->val.numeric)));
					if (vv && vv->type == jbvNumeric)
						sd[j] = sqrt(Max(DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																			NumericGetDatum(vv->val.numeric))), 0.0));
				}
			}
		}
		/* else the model's own standardize layer says where its inputs lie */
		if (!stats && m->net.n_layers > 0 && m->net.layers[0].op == MAAS_OP_STANDARDIZE &&
			m->net.layers[0].n_in == d)
		{
			const MaasLayer *l = &m->net.layers[0];

			for (int j = 0; j < d; j++)
			{
				mean[j] = l->shift[j];
				sd[j] = l->scale[j] > 0 ? 1.0 / l->scale[j] : 1.0;
			}
			standardized = true;
		}
		s->x = palloc_extended(sizeof(float) * (size_t) s->n * Max(d, 1), MCXT_ALLOC_HUGE);
		for (int i = 0; i < s->n; i++)
			for (int j = 0; j < d; j++)
				s->x[(size_t) i * d + j] = (float) (mean[j] + sd[j] * rng_normal(&rng));
		s->kind = stats ? "rows drawn from the training statistics" :
			standardized ? "rows drawn from the model's standardize layer" : "standard normal rows";
	}
}

/* top-1 agreement and the largest difference of the outputs */
static void
agreement(const Measure *a, const Measure *b, int n, double *top1, double *maxdiff)
{
	int64		same = 0;
	double		md = 0;

	for (int i = 0; i < n; i++)
	{
		const float *x = a->out + (size_t) i * a->k;
		const float *y = b->out + (size_t) i * b->k;

		if (a->k == 1)
			same += (x[0] >= 0.5f) == (y[0] >= 0.5f);
		else
			same += maas_argmax(x, a->k) == maas_argmax(y, b->k);
		for (int j = 0; j < a->k; j++)
		{
			double		d = fabs((double) x[j] - (double) y[j]);

			if (d > md || isnan(d))
				md = isnan(d) ? INFINITY : d;
		}
	}
	*top1 = n > 0 ? (double) same / n : NAN;
	*maxdiff = md;
}

static Jsonb *
jsonb_text(const char *s)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

/* maas_evaluate of a version on the user's query */
static Jsonb *
evaluate_query(Opt *o, int32 version)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[4] = {CStringGetTextDatum(o->model), CStringGetTextDatum(o->evaluate),
		CStringGetTextDatum(o->target), Int32GetDatum(version)};
	bool		isnull;
	Jsonb	   *r;
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT maas_evaluate($1, $2, $3, $4)", 4, types, values, NULL,
							  false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not evaluate version %d of model \"%s\"", version, o->model);
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext spi = MemoryContextSwitchTo(caller);

		r = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return r;
}

static double
metric_of(Jsonb *metrics, const char *key)
{
	JsonbValue *v;

	if (metrics == NULL)
		return NAN;
	v = getKeyJsonValueFromContainer(&metrics->root, key, strlen(key), NULL);
	if (v == NULL || v->type != jbvNumeric)
		return NAN;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

static Jsonb *
with_optimization(Jsonb *metrics, const char *record)
{
	Jsonb	   *o = jsonb_text(psprintf("{\"optimization\": %s}", record));

	if (metrics == NULL)
		return o;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(metrics), JsonbPGetDatum(o)));
}

/*
 * Fine-tuning a pruned MLP trained by maas_train: finetune_epochs more
 * epochs on its training rows (those of the rebuilt holdout's split), from
 * the pruned weights, with the parent's optimizer and params.  The new
 * weights are written over the pruned ones in the new version's file.
 */
/* does p point into the new version's stored bytes (a tensor used in place) */
static bool
in_file(const Opt *o, const float *p)
{
	const char *d = VARDATA_ANY(o->new_weights);

	return (const char *) p >= d && (const char *) p < d + VARSIZE_ANY_EXHDR(o->new_weights);
}

static void
finetune(Opt *o, TrainJob *job)
{
	MaasNnConfig c;
	MaasNnModel init;
	MaasNnResult res;
	MaasTrainSet data;
	MaasTrainSet val;
	MaasTrainHooks hooks = {job, maas_check_interrupts, NULL};
	MaasError	err;
	MaasLayer  *dense[MAAS_NN_MAX_HIDDEN + 1];
	int			nd = 0;
	size_t		need;

	if (job->p.algorithm != ALG_MLP || job->task != MAAS_TASK_CLASSIFICATION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("parameter \"finetune_epochs\" fine-tunes classifiers trained by maas_train with algorithm \"mlp\""),
				 errdetail("Version %d of model \"%s\" is a %s %s.", o->parent, o->model,
						   maas_task_name(job->task), maas_train_algorithm_name(job->p.algorithm))));
	for (int i = 0; i < o->cm->net.n_layers; i++)
	{
		MaasLayer  *l = &o->cm->net.layers[i];

		if (l->op != MAAS_OP_DENSE)
			continue;
		if (nd == MAAS_NN_MAX_HIDDEN + 1 || l->w == NULL || l->b == NULL || l->w_in_out ||
			!in_file(o, l->w) || !in_file(o, l->b))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("version %d of model \"%s\" is not a network maas_train can fine-tune", o->parent, o->model)));
		dense[nd++] = l;
	}
	memset(&c, 0, sizeof(c));
	memset(&init, 0, sizeof(init));
	c.n_in = job->width;
	c.n_hidden = nd - 1;
	for (int l = 0; l < nd; l++)
	{
		if (l < nd - 1)
			c.hidden[l] = dense[l]->n_out;
		init.n_in[l] = dense[l]->n_in;
		init.n_out[l] = dense[l]->n_out;
		init.w[l] = (float *) dense[l]->w;
		init.b[l] = (float *) dense[l]->b;
	}
	init.n_layers = nd;
	c.activation = job->p.activation;
	c.dropout = (float) job->p.dropout;
	c.weight_decay = (float) job->p.weight_decay;
	c.n_out = job->n_classes == 2 ? 1 : job->n_classes;
	c.loss = job->n_classes == 2 ? MAAS_LOSS_SIGMOID_CE : MAAS_LOSS_SOFTMAX_CE;
	c.optimizer = job->p.optimizer;
	c.lr = (float) job->p.lr;
	c.momentum = (float) job->p.momentum;
	c.beta1 = 0.9f;
	c.beta2 = 0.999f;
	c.eps = 1e-8f;
	c.batch_size = (int) Max(1, Min((int64) job->p.batch_size, job->n_train));
	c.epochs = o->finetune_epochs;
	c.seed = job->p.seed;
	c.init = &init;
	if (!maas_nn_memory(&c, job->n_train, &need))
		need = SIZE_MAX;
	maas_train_check_memory(job, "The network, its optimizer state and workspace", need);

	memset(&data, 0, sizeof(data));
	memset(&val, 0, sizeof(val));
	data.d = job->width;
	data.x = job->x;
	data.n = job->n_train;
	data.cls = job->cls;
	val.d = job->width;
	if (!maas_nn_fit(maas_get_blas(), &c, &data, &val, &hooks, &res, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "could not fine-tune the pruned network",
				   err.status == MAAS_ERR_DIVERGED ? "Use fewer finetune_epochs." : NULL);
	/* in place: the layers' weights are the new file's tensors */
	for (int l = 0; l < nd; l++)
	{
		memcpy((float *) dense[l]->w, res.model.w[l],
			   sizeof(float) * (size_t) dense[l]->n_out * dense[l]->n_in);
		memcpy((float *) dense[l]->b, res.model.b[l], sizeof(float) * dense[l]->n_out);
	}
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
		s.job = rebuild_holdout(o);
	if (s.job != NULL)
	{
		s.kind = "holdout";
		s.n = (int) Min(s.job->n_test, (int64) INT_MAX);
		s.x = s.job->x + (size_t) s.job->n_train * s.job->width;
		skip_standardize(o->pm);
		skip_standardize(o->cm);
	}
	else
		synthetic_sample(o, &s);
	if (o->finetune_epochs > 0)
	{
		if (s.job == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("version %d of model \"%s\" has no training run to fine-tune on", o->parent, o->model),
					 errhint("Fine-tuning needs a version trained by maas_train, whose source can be read again.")));
		finetune(o, s.job);
	}
	run_model(o->pm, &s, &before);
	run_model(o->cm, &s, &after);
	agreement(&before, &after, s.n, &top1, &maxdiff);

	if (s.job != NULL)
	{
		double		p;

		m_before = jsonb_text(maas_train_metrics_json(s.job, class_outputs(o->pm, &before, s.n), &p));
		m_after = jsonb_text(maas_train_metrics_json(s.job, class_outputs(o->cm, &after, s.n), &p));
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
										   o->new_config, with_optimization(m_after, record),
										   o->train_stats, o->parent);

	/* a query of the user's: both measured by maas_evaluate, then stored */
	if (o->evaluate != NULL)
	{
		Oid			types[3] = {JSONBOID, TEXTOID, INT4OID};
		Datum		values[3];

		CommandCounterIncrement();
		m_before = evaluate_query(o, o->parent);
		m_after = evaluate_query(o, new_version);
		record = psprintf("%s, \"metrics_before\": %s}", pnstrdup(record, strlen(record) - 1),
						  JsonbToCString(NULL, &m_before->root, VARSIZE(m_before)));
		values[0] = JsonbPGetDatum(with_optimization(m_after, record));
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
		double		a = metric_of(m_after, key),
					b = metric_of(m_before, key);

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
