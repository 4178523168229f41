/*
 * importance.c
 *		maas_feature_importance(model [, version]): how much each input slot
 *		of a version counts, most important first.
 *
 *	boosted trees	XGBoost's importance types over every split on the slot
 *					(trees.h, maas_trees_importance): importance is "gain",
 *					the mean loss reduction of its splits (XGBoost's default),
 *					with the number of splits (weight), their total gain and
 *					their mean cover (hessian sum); needs the trees' optional
 *					gain tensor, which maas_train and the XGBoost importer
 *					write.
 *	linear, logistic  a single dense layer: the coefficient's absolute value
 *					on standardized inputs (|w| after a standardize layer,
 *					|w| * std of the training rows without one), the mean
 *					over the classes of a multinomial model.
 *
 * A slot is named as in the training statistics: the column, column[i] of
 * an array, column=category of a one-hot category; f0, f1, ... (XGBoost's
 * names) when the config names no inputs.  Other models have no importance
 * and get an error saying so.
 */
#include "postgres.h"

#include "model.h"
#include "registry.h"
#include "inputs.h"
#include "serve.h"
#include "services.h"
#include "trees.h"

#include <math.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

typedef struct Importance
{
	int			slot;
	double		importance;
	bool		trees;
	int64		weight;
	double		total_gain;
	double		cover;
} Importance;

static int
cmp_importance(const void *a, const void *b)
{
	const Importance *x = a,
			   *y = b;

	if (x->importance != y->importance)
		return x->importance > y->importance ? -1 : 1;
	return x->slot - y->slot;
}

/* the name of each input slot */
static char **
slot_names(Jsonb *config, int n)
{
	char	  **names = palloc(sizeof(char *) * Max(n, 1));
	MaasInputs *inputs = maas_inputs_from_config(config);
	int			slot = 0;

	if (inputs != NULL && inputs->width == n)
	{
		for (int i = 0; i < inputs->n; i++)
		{
			MaasInput  *in = &inputs->in[i];

			for (int j = 0; j < in->width; j++)
				names[slot++] = in->kind == MAAS_INPUT_NUMBER ? in->name :
					in->kind == MAAS_INPUT_ARRAY ? psprintf("%s[%d]", in->name, j + 1) :
					psprintf("%s=%s", in->name, in->categories[j]);
		}
		return names;
	}
	for (int i = 0; i < n; i++)
		names[i] = psprintf("f%d", i);
	return names;
}

/* a 1-D tensor of the trees layer, copied (aligned), or NULL if absent */
static const void *
trees_array(const StFile *file, const char *prefix, const char *suffix,
			StDtype dtype, int64 n, bool required)
{
	const StTensor *t = st_find(file, psprintf("%s.%s", prefix, suffix));
	void	   *copy;

	if (t == NULL || t->dtype != dtype || t->ndim != 1 || (n >= 0 && t->shape[0] != n))
	{
		if (required)
			elog(ERROR, "trees tensor \"%s.%s\" is missing or malformed", prefix, suffix);
		return NULL;
	}
	copy = palloc_extended(Max(t->nbytes, 1), MCXT_ALLOC_HUGE);
	memcpy(copy, t->data, t->nbytes);
	return copy;
}

/* the prefix of the first trees layer's tensors, or NULL without one */
static const char *
trees_prefix(Jsonb *config)
{
	const MaasJson *layers = maas_json_get(maas_config_tree(config), "layers");

	if (layers == NULL || layers->type != MAAS_JSON_ARRAY)
		return NULL;
	for (int i = 0; i < layers->n; i++)
	{
		const MaasJson *l = &layers->u.items[i];
		const MaasJson *op = maas_json_get(l, "op");
		const MaasJson *t;

		if (op == NULL || op->type != MAAS_JSON_STRING || strcmp(op->u.string, "trees") != 0)
			continue;
		t = maas_json_get(l, "tensors");
		return t && t->type == MAAS_JSON_STRING ? pstrdup(t->u.string) : "trees";
	}
	return NULL;
}

static Importance *
trees_importance(Jsonb *config, const StFile *file, const char *prefix, int n_in)
{
	MaasTrees	tr;
	MaasImportance *imp;
	MaasError	err;
	Importance *out;
	int64		n_trees,
				n_nodes,
				n_groups;
	const StTensor *t;

	memset(&tr, 0, sizeof(tr));
	if ((t = st_find(file, psprintf("%s.roots", prefix))) == NULL)
		elog(ERROR, "trees tensor \"%s.roots\" is missing", prefix);
	n_trees = t->shape[0];
	if ((t = st_find(file, psprintf("%s.feature", prefix))) == NULL)
		elog(ERROR, "trees tensor \"%s.feature\" is missing", prefix);
	n_nodes = t->shape[0];
	if ((t = st_find(file, psprintf("%s.base_score", prefix))) == NULL)
		elog(ERROR, "trees tensor \"%s.base_score\" is missing", prefix);
	n_groups = t->shape[0];
	tr.n_features = n_in;
	tr.n_trees = (int32) n_trees;
	tr.n_nodes = (int32) n_nodes;
	tr.n_groups = (int32) n_groups;
	tr.roots = trees_array(file, prefix, "roots", ST_I32, n_trees, true);
	tr.groups = trees_array(file, prefix, "groups", ST_I32, n_trees, true);
	tr.base_score = trees_array(file, prefix, "base_score", ST_F32, n_groups, true);
	tr.feature = trees_array(file, prefix, "feature", ST_I32, n_nodes, true);
	tr.threshold = trees_array(file, prefix, "threshold", ST_F32, n_nodes, true);
	tr.left = trees_array(file, prefix, "left", ST_I32, n_nodes, true);
	tr.right = trees_array(file, prefix, "right", ST_I32, n_nodes, true);
	tr.default_left = trees_array(file, prefix, "default_left", ST_U8, n_nodes, true);
	tr.value = trees_array(file, prefix, "value", ST_F32, n_nodes, true);
	tr.gain = trees_array(file, prefix, "gain", ST_F32, n_nodes, false);
	tr.cover = trees_array(file, prefix, "cover", ST_F32, n_nodes, false);
	if (tr.gain == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the trees of this model have no gain"),
				 errdetail("Feature importance needs the tensor \"%s.gain\", which maas_train and the XGBoost importer write.",
						   prefix)));
	if (!maas_trees_check(&tr, &err))
		maas_raise(&err, ERRCODE_DATA_CORRUPTED, "invalid trees", NULL);

	imp = palloc0(sizeof(MaasImportance) * Max(n_in, 1));
	maas_trees_importance(&tr, imp);
	out = palloc0(sizeof(Importance) * Max(n_in, 1));
	for (int j = 0; j < n_in; j++)
	{
		out[j].slot = j;
		out[j].trees = true;
		out[j].importance = imp[j].gain;
		out[j].weight = imp[j].weight;
		out[j].total_gain = imp[j].total_gain;
		out[j].cover = imp[j].cover;
	}
	return out;
}

/* a linear or logistic model's one dense layer, or an error */
static Importance *
linear_importance(const char *model, MaasModel *m, Jsonb *train_stats)
{
	const MaasNet *net = &m->net;
	const MaasLayer *dense = NULL;
	bool		standardized = false;
	int			n_in = net->n_in;
	Importance *out;
	double	   *sd = NULL;

	for (int i = 0; i < net->n_layers; i++)
	{
		const MaasLayer *l = &net->layers[i];

		if (l->op == MAAS_OP_STANDARDIZE && dense == NULL && i == 0)
			standardized = true;
		else if (l->op == MAAS_OP_DENSE && dense == NULL)
			dense = l;
		else if ((l->op == MAAS_OP_SIGMOID || l->op == MAAS_OP_SOFTMAX) && dense != NULL &&
				 i == net->n_layers - 1)
			continue;
		else
		{
			dense = NULL;
			break;
		}
	}
	if (dense == NULL || dense->n_in != n_in || dense->w == NULL || dense->w_in_out)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" has no feature importance", model),
				 errdetail("Importance is defined for boosted trees (gain) and for linear and logistic models (standardized coefficients)."),
				 errhint("Measure any model's reliance on a column by predicting with the column permuted.")));

	/* without a standardize layer: scale each coefficient by its input's std */
	if (!standardized)
	{
		JsonbValue	kv;
		JsonbValue *feats = NULL;

		sd = palloc(sizeof(double) * n_in);
		for (int j = 0; j < n_in; j++)
			sd[j] = 1.0;
		if (train_stats)
		{
			kv.type = jbvString;
			kv.val.string.val = "features";
			kv.val.string.len = 8;
			feats = findJsonbValueFromContainer(&train_stats->root, JB_FOBJECT, &kv);
		}
		if (feats && feats->type == jbvBinary &&
			JsonContainerIsArray(feats->val.binary.data) &&
			JsonContainerSize(feats->val.binary.data) == (uint32) n_in)
			for (int j = 0; j < n_in; j++)
			{
				JsonbValue *f = getIthJsonbValueFromContainer(feats->val.binary.data, j);
				JsonbValue *v;

				kv.val.string.val = "var";
				kv.val.string.len = 3;
				if (f->type == jbvBinary &&
					(v = findJsonbValueFromContainer(f->val.binary.data, JB_FOBJECT, &kv)) != NULL &&
					v->type == jbvNumeric)
					sd[j] = sqrt(Max(DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																		 NumericGetDatum(v->val.numeric))), 0.0));
			}
	}

	out = palloc0(sizeof(Importance) * Max(n_in, 1));
	for (int j = 0; j < n_in; j++)
	{
		double		s = 0;

		for (int o = 0; o < dense->n_out; o++)
			s += fabs((double) dense->w[(size_t) o * n_in + j]);
		out[j].slot = j;
		out[j].importance = s / dense->n_out * (sd ? sd[j] : 1.0);
	}
	return out;
}

/*
 * maas_feature_importance(model, version): one row a model input slot,
 * most important first (the deployed version when version is NULL).
 */
PG_FUNCTION_INFO_V1(maas_feature_importance);
Datum
maas_feature_importance(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *model;
	int32		version;
	MaasVersionRef ref;
	MaasVersionInfo info;
	Jsonb	   *config;
	bytea	   *weights;
	StFile		file;
	MaasModel  *m;
	const char *prefix;
	Importance *imp;
	char	  **names;
	int			n_in;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	version = maas_arg_version(fcinfo, 1, true);
	InitMaterializedSRF(fcinfo, 0);

	maas_lookup_version(model, version, &ref);
	if (!maas_version_info(&ref, &info))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", model)));
	maas_fetch_version(&ref, &config, &weights);
	maas_parse_safetensors(weights, &file);
	m = maas_model_load(config, &file);
	if (maas_model_is_text(m))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" has no feature importance", model),
				 errdetail("It is a text model.")));
	n_in = m->net.n_in;

	if ((prefix = trees_prefix(config)) != NULL)
		imp = trees_importance(config, &file, prefix, n_in);
	else
		imp = linear_importance(model, m, info.train_stats);
	names = slot_names(config, n_in);
	qsort(imp, n_in, sizeof(Importance), cmp_importance);

	for (int i = 0; i < n_in; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		values[0] = CStringGetTextDatum(names[imp[i].slot]);
		values[1] = Float8GetDatum(imp[i].importance);
		if (imp[i].trees)
		{
			values[2] = Int64GetDatum(imp[i].weight);
			values[3] = Float8GetDatum(imp[i].total_gain);
			values[4] = Float8GetDatum(imp[i].cover);
		}
		else
			nulls[2] = nulls[3] = nulls[4] = true;
		values[5] = Int32GetDatum(i + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
