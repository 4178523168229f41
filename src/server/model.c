/*
 * model.c
 *		From a version's config (jsonb) and weights (safetensors) to a model
 *		the layer runtime can run.
 *
 * The same code validates a model when it is registered and builds it when
 * a backend loads it, so a model that registered always loads.  Every
 * tensor a layer names must exist, be a floating type, have the shape the
 * layer chain implies and hold finite values; errors say which layer and
 * which tensor.
 */
#include "model.h"
#include "services.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

static const char *const task_names[] = {
	[MAAS_TASK_CLASSIFICATION] = "classification",
	[MAAS_TASK_REGRESSION] = "regression",
};

const char *
maas_task_name(MaasTask task)
{
	return task_names[task];
}

/* parse or raise; tensors in file point into weights */
void
maas_parse_safetensors(bytea *weights, StFile *file)
{
	MaasError	err;

	if (!st_parse((const uint8_t *) VARDATA_ANY(weights),
				  VARSIZE_ANY_EXHDR(weights), file, &err))
		maas_raise(&err, ERRCODE_INVALID_BINARY_REPRESENTATION,
				   "invalid safetensors data", NULL);
}

/*
 * Safetensors bytes as a bytea, or an error: st_write with the metadata
 * given, checked against the size a value can hold.
 */
bytea *
maas_write_safetensors(const StWriteTensor *tensors, int n_tensors,
					   const char *const *meta_keys,
					   const char *const *meta_values, int n_meta)
{
	MaasError	err;
	size_t		len;
	uint8_t    *out;
	bytea	   *result;

	out = st_write(tensors, n_tensors, meta_keys, meta_values, n_meta, &len, &err);
	if (out == NULL)
		maas_raise(&err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
				   "could not write safetensors data", NULL);
	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model weights are too large to store"),
				 errdetail("The weights take %zu bytes; a value holds at most 1 GB.", len)));
	result = palloc(len + VARHDRSZ);
	SET_VARSIZE(result, len + VARHDRSZ);
	memcpy(VARDATA(result), out, len);
	return result;
}

#define config_error(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
			 errmsg("invalid model config"), \
			 errdetail(__VA_ARGS__)))

static JsonbValue *
config_get(JsonbContainer *obj, const char *key)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

static char *
config_string(JsonbValue *v, const char *what)
{
	if (v->type != jbvString)
		config_error("%s must be a string.", what);
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static int
config_int(JsonbValue *v, const char *what, int min, int max)
{
	int32		i;
	bool		have_error = false;

	if (v->type != jbvNumeric)
		config_error("%s must be a number.", what);
	i = numeric_int4_opt_error(v->val.numeric, &have_error);
	if (have_error || i < min || i > max ||
		!DatumGetBool(DirectFunctionCall2(numeric_eq,
										  NumericGetDatum(v->val.numeric),
										  NumericGetDatum(int64_to_numeric(i)))))
		config_error("%s must be a whole number between %d and %d.", what, min, max);
	return (int) i;
}

static bool
container_is(JsonbValue *v, bool object)
{
	if (v->type != jbvBinary)
		return false;
	return object ? JsonContainerIsObject(v->val.binary.data)
		: JsonContainerIsArray(v->val.binary.data);
}

/* the tensor a layer names, converted to float32, checked for shape */
static float *
layer_tensor(const StFile *file, int layer, const char *op, const char *name,
			 int ndim, const int64 *shape)
{
	const StTensor *t = st_find(file, name);
	float	   *data;

	if (t == NULL)
		config_error("Layer %d (%s) names tensor \"%s\", which is not in the weights.",
					 layer, op, name);
	if (t->dtype != ST_F32 && t->dtype != ST_F64 &&
		t->dtype != ST_F16 && t->dtype != ST_BF16)
		config_error("Tensor \"%s\" has dtype %s; layers need F32, F64, F16 or BF16.",
					 name, st_dtype_name(t->dtype));

	if (t->ndim != ndim ||
		t->shape[0] != shape[0] ||
		(ndim == 2 && t->shape[1] != shape[1]))
	{
		StringInfoData want,
					have;

		initStringInfo(&want);
		initStringInfo(&have);
		for (int i = 0; i < ndim; i++)
			appendStringInfo(&want, "%s" INT64_FORMAT, i ? ", " : "", shape[i]);
		for (int i = 0; i < t->ndim; i++)
			appendStringInfo(&have, "%s" INT64_FORMAT, i ? ", " : "", t->shape[i]);
		config_error("Layer %d (%s) needs tensor \"%s\" of shape [%s], but it has shape [%s].",
					 layer, op, name, want.data, have.data);
	}

	data = palloc_extended(sizeof(float) * (size_t) t->numel, MCXT_ALLOC_HUGE);
	if (!st_to_f32(t, data))
		elog(ERROR, "could not convert tensor \"%s\"", name);
	if (!maas_all_finite(data, (size_t) t->numel))
		config_error("Tensor \"%s\" holds NaN or infinite values.", name);
	return data;
}

static void
check_layer_keys(JsonbContainer *obj, int layer, const char *op,
				 const char *const *allowed)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		ok = false;

		if (tok != WJB_KEY)
			continue;
		for (const char *const *a = allowed; *a; a++)
			if (strlen(*a) == (size_t) v.val.string.len &&
				memcmp(*a, v.val.string.val, v.val.string.len) == 0)
				ok = true;
		if (!ok)
			config_error("Layer %d (%s) has unknown key \"%.*s\".",
						 layer, op, v.val.string.len, v.val.string.val);
	}
}

static void
build_labels(MaasModel *model, JsonbValue *labels)
{
	JsonbContainer *arr;
	int			n;
	bool		numeric = true;

	if (!container_is(labels, false))
		config_error("\"labels\" must be an array.");
	arr = labels->val.binary.data;
	n = JsonContainerSize(arr);
	if (n != model->n_classes)
		config_error("\"labels\" has %d entries but the model outputs %d classes.",
					 n, model->n_classes);

	model->labels = palloc(sizeof(char *) * n);
	model->label_values = palloc(sizeof(float8) * n);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(arr, i);

		if (v->type == jbvString)
		{
			model->labels[i] = pnstrdup(v->val.string.val, v->val.string.len);
			numeric = false;
		}
		else if (v->type == jbvNumeric)
		{
			model->labels[i] = DatumGetCString(DirectFunctionCall1(numeric_out,
																   NumericGetDatum(v->val.numeric)));
			model->label_values[i] = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
																		NumericGetDatum(v->val.numeric)));
		}
		else if (v->type == jbvBool)
		{
			model->labels[i] = pstrdup(v->val.boolean ? "true" : "false");
			model->label_values[i] = v->val.boolean ? 1 : 0;
		}
		else
			config_error("Label %d must be a string, a number or a boolean.", i + 1);

		for (int j = 0; j < i; j++)
			if (strcmp(model->labels[i], model->labels[j]) == 0)
				config_error("Label \"%s\" appears more than once.", model->labels[i]);
	}
	if (!numeric)
		model->label_values = NULL;
}

/*
 * Build a model from its config and parsed weights, in the current memory
 * context.  Raises an error naming the first problem found.
 */
MaasModel *
maas_model_build(Jsonb *config, const StFile *file)
{
	static const char *const dense_keys[] = {"op", "weight", "bias", NULL};
	static const char *const standardize_keys[] = {"op", "mean", "std", NULL};
	static const char *const dropout_keys[] = {"op", "p", NULL};
	static const char *const plain_keys[] = {"op", NULL};
	MaasModel  *model = palloc0(sizeof(MaasModel));
	JsonbContainer *root = &config->root;
	JsonbValue *v;
	JsonbContainer *layers;
	char	   *task;
	int			width;
	char		err[MAAS_ERRLEN];
	size_t		nwork;

	if (!JsonContainerIsObject(root) || JsonContainerIsScalar(root))
		config_error("The config must be a JSON object.");

	if ((v = config_get(root, "task")) == NULL)
		config_error("The config has no \"task\".");
	task = config_string(v, "\"task\"");
	if (strcmp(task, "classification") == 0)
		model->task = MAAS_TASK_CLASSIFICATION;
	else if (strcmp(task, "regression") == 0)
		model->task = MAAS_TASK_REGRESSION;
	else
		config_error("\"task\" must be \"classification\" or \"regression\", not \"%s\".", task);

	if ((v = config_get(root, "n_features")) == NULL)
		config_error("The config has no \"n_features\".");
	model->net.n_in = config_int(v, "\"n_features\"", 1, 100000000);

	if ((v = config_get(root, "layers")) == NULL)
		config_error("The config has no \"layers\".");
	if (!container_is(v, false))
		config_error("\"layers\" must be an array.");
	layers = v->val.binary.data;
	model->net.n_layers = JsonContainerSize(layers);
	if (model->net.n_layers == 0)
		config_error("\"layers\" is empty.");
	if (model->net.n_layers > 1000)
		config_error("\"layers\" has %d layers; at most 1000 are allowed.", model->net.n_layers);
	model->net.layers = palloc0(sizeof(MaasLayer) * model->net.n_layers);

	width = model->net.n_in;
	for (int i = 0; i < model->net.n_layers; i++)
	{
		MaasLayer  *l = &model->net.layers[i];
		JsonbValue *lv = getIthJsonbValueFromContainer(layers, i);
		JsonbContainer *lobj;
		char	   *opname;
		int			n = i + 1;

		if (lv == NULL || !container_is(lv, true))
			config_error("Layer %d must be a JSON object.", n);
		lobj = lv->val.binary.data;
		if ((v = config_get(lobj, "op")) == NULL)
			config_error("Layer %d has no \"op\".", n);
		opname = config_string(v, "\"op\"");
		if (!maas_op_from_name(opname, &l->op))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid model config"),
					 errdetail("Layer %d has unknown op \"%s\".", n, opname),
					 errhint("Known ops are standardize, dense, relu, tanh, sigmoid, softmax and dropout.")));

		switch (l->op)
		{
			case MAAS_OP_DENSE:
				{
					JsonbValue *wv = config_get(lobj, "weight");
					JsonbValue *bv = config_get(lobj, "bias");
					const StTensor *wt;
					int64		shape[2];

					check_layer_keys(lobj, n, opname, dense_keys);
					if (wv == NULL)
						config_error("Layer %d (dense) has no \"weight\".", n);
					wt = st_find(file, config_string(wv, "\"weight\""));
					if (wt != NULL && wt->ndim == 2 && wt->shape[0] > 0 &&
						wt->shape[0] <= INT_MAX)
						shape[0] = wt->shape[0];
					else
						shape[0] = 1;	/* layer_tensor reports the problem */
					shape[1] = width;
					l->n_in = width;
					l->n_out = (int) shape[0];
					l->w = layer_tensor(file, n, opname, config_string(wv, "\"weight\""), 2, shape);
					if (bv != NULL && bv->type != jbvNull)
						l->b = layer_tensor(file, n, opname, config_string(bv, "\"bias\""), 1, shape);
					width = l->n_out;
					break;
				}
			case MAAS_OP_STANDARDIZE:
				{
					JsonbValue *mv = config_get(lobj, "mean");
					JsonbValue *sv = config_get(lobj, "std");
					int64		shape[1] = {width};
					float	   *std;

					check_layer_keys(lobj, n, opname, standardize_keys);
					if (mv == NULL || sv == NULL)
						config_error("Layer %d (standardize) needs \"mean\" and \"std\".", n);
					l->n_in = width;
					l->shift = layer_tensor(file, n, opname, config_string(mv, "\"mean\""), 1, shape);
					std = layer_tensor(file, n, opname, config_string(sv, "\"std\""), 1, shape);
					for (int j = 0; j < width; j++)
					{
						if (!(std[j] > 0.0f))
							config_error("Layer %d (standardize): std of feature %d is %g; it must be positive.",
										 n, j + 1, (double) std[j]);
						std[j] = 1.0f / std[j];
					}
					l->scale = std;
					break;
				}
			case MAAS_OP_DROPOUT:
				check_layer_keys(lobj, n, opname, dropout_keys);
				break;
			default:
				check_layer_keys(lobj, n, opname, plain_keys);
				break;
		}
	}

	if (!maas_net_check(&model->net, err, sizeof(err)))
		config_error("%s.", err);

	/* how to read the output */
	{
		MaasOp		last = model->net.layers[model->net.n_layers - 1].op;

		if (model->task == MAAS_TASK_REGRESSION)
		{
			if (model->net.n_out != 1)
				config_error("A regression model must output 1 value; this one outputs %d.",
							 model->net.n_out);
		}
		else if (model->net.n_out == 1)
		{
			if (last != MAAS_OP_SIGMOID)
				config_error("A classification model with 1 output must end with a sigmoid layer.");
			model->sigmoid_binary = true;
			model->outputs_proba = true;
			model->n_classes = 2;
		}
		else
		{
			model->n_classes = model->net.n_out;
			model->outputs_proba = (last == MAAS_OP_SOFTMAX);
		}
	}

	if ((v = config_get(root, "labels")) != NULL && v->type != jbvNull)
	{
		if (model->task == MAAS_TASK_REGRESSION)
			config_error("A regression model has no \"labels\".");
		build_labels(model, v);
	}

	if (!maas_net_workspace(&model->net, 1, &nwork))
		config_error("The model is too large.");
	model->row_work = palloc_extended(sizeof(float) * nwork, MCXT_ALLOC_HUGE);
	return model;
}
