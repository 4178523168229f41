/*
 * train_params.c
 *		maas_train's algorithm and params: which keys each algorithm takes,
 *		their ranges and defaults, all checked before any row is read.
 */
#include "train_job.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"

static const char *const scale_names[] = {"standard", "minmax", "none"};
static const char *const deploy_names[] = {"if_better", "always", "never"};

/* what params may hold, and for which algorithms */
static const struct
{
	const char *name;
	int			algorithms;
}			param_table[] = {
	{"task", ALG_ALL}, {"test_size", ALG_ALL}, {"seed", ALG_ALL},
	{"impute", ALG_ALL}, {"scale", ALG_ALL}, {"features", ALG_ALL},
	{"deploy", ALG_ALL},
	{"l2", ALG_LINEAR | ALG_LOGISTIC},
	{"lr", ALG_NN}, {"epochs", ALG_NN}, {"batch_size", ALG_NN},
	{"optimizer", ALG_NN}, {"momentum", ALG_NN}, {"tol", ALG_NN},
	{"patience", ALG_NN},
	{"hidden", ALG_DENSE}, {"activation", ALG_DENSE}, {"dropout", ALG_DENSE},
	{"weight_decay", ALG_DENSE}, {"early_stopping", ALG_DENSE},
	{"validation_fraction", ALG_DENSE},
	{"input_shape", ALG_CNN}, {"conv", ALG_CNN}, {"pool", ALG_CNN},
};

const char *
maas_train_algorithm_name(Algorithm a)
{
	switch (a)
	{
		case ALG_AUTO:
			return "auto";
		case ALG_LINEAR:
			return "linear";
		case ALG_LOGISTIC:
			return "logistic";
		case ALG_MLP:
			return "mlp";
		case ALG_CNN:
			return "cnn";
		case ALG_GBDT:
			return "gbdt";
		case ALG_KMEANS:
			return "kmeans";
	}
	return "?";
}

static void
param_range_error(const char *key, const char *range)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("parameter \"%s\" must be %s", key, range)));
}

static double
param_number(const char *key, JsonbValue *v, double min, double max,
			 bool min_open, const char *range)
{
	double		d;

	if (v->type != jbvNumeric)
		param_range_error(key, range);
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	if (!isfinite(d) || d < min || d > max || (min_open && d == min))
		param_range_error(key, range);
	return d;
}

static int
param_int(const char *key, JsonbValue *v, int min, int max, const char *range)
{
	double		d = param_number(key, v, -1e300, 1e300, false, range);

	if (d != floor(d) || d < min || d > max)
		param_range_error(key, range);
	return (int) d;
}

static bool
param_bool(const char *key, JsonbValue *v)
{
	if (v->type != jbvBool)
		param_range_error(key, "true or false");
	return v->val.boolean;
}

/* index of the string value in names[0..n), or an error listing them */
static int
param_choice(const char *key, JsonbValue *v, const char *const *names, int n,
			 const char *range)
{
	if (v->type == jbvString)
		for (int i = 0; i < n; i++)
			if (strlen(names[i]) == (size_t) v->val.string.len &&
				memcmp(names[i], v->val.string.val, v->val.string.len) == 0)
				return i;
	param_range_error(key, range);
	return 0;
}

void
maas_train_parse_params(Jsonb *params, TrainParams *p)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	/* defaults */
	p->test_size = 0.2;
	p->seed = 42;
	p->impute = MAAS_IMPUTE_MEAN;
	p->scale = MAAS_SCALE_STANDARD;
	p->deploy = DEPLOY_IF_BETTER;
	p->l2 = 0.0;				/* logistic: 1 / n_train unless given */
	p->lr = p->algorithm == ALG_LOGISTIC ? 0.01 : 0.001;
	p->batch_size = p->algorithm == ALG_LOGISTIC ? 64 : 32;
	p->optimizer = MAAS_OPTIM_ADAM;
	p->momentum = 0.9;
	p->tol = 1e-4;
	p->patience = p->algorithm == ALG_LOGISTIC ? 5 : 10;
	p->n_hidden = 1;
	p->hidden[0] = 100;
	p->activation = MAAS_OP_RELU;
	p->validation_fraction = 0.1;
	if (p->algorithm == ALG_CNN)
		maas_train_cnn_defaults(p);
	maas_train_tabular_defaults(p);

	if (params == NULL)
		return;
	if (!JsonContainerIsObject(&params->root) || JsonContainerIsScalar(&params->root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object")));

	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;
		int			allowed = -1;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		for (int i = 0; i < lengthof(param_table); i++)
			if (strcmp(param_table[i].name, key) == 0)
				allowed = param_table[i].algorithms;
		if (p->algorithm & ALG_TABULAR)
			allowed = maas_train_tabular_allows(p->algorithm, key, allowed);
		/* auto accepts what linear or logistic do, checked again once chosen */
		if (allowed < 0 ||
			!(allowed & (p->algorithm == ALG_AUTO ? ALG_AUTO | ALG_LINEAR | ALG_LOGISTIC : p->algorithm)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown parameter \"%s\" for algorithm \"%s\"",
							key, maas_train_algorithm_name(p->algorithm)),
					 errhint("See doc/training.md for the parameters of each algorithm.")));

		if ((p->algorithm & ALG_TABULAR) && maas_train_tabular_param(p, key, &v))
		{
			pfree(key);
			continue;
		}
		if (maas_train_cnn_param(key, &v, p))
			;
		else if (strcmp(key, "task") == 0)
		{
			static const char *const names[] = {"classification", "regression"};

			p->task = param_choice(key, &v, names, 2, "\"classification\" or \"regression\"") == 0 ?
				MAAS_TASK_CLASSIFICATION : MAAS_TASK_REGRESSION;
			p->task_set = true;
		}
		else if (strcmp(key, "test_size") == 0)
			p->test_size = param_number(key, &v, 0.0, 0.9, false,
										"a number from 0 to 0.9");
		else if (strcmp(key, "seed") == 0)
			p->seed = (uint64) param_number(key, &v, 0, 9007199254740991.0, false,
											"an integer from 0 to 2^53 - 1");
		else if (strcmp(key, "impute") == 0)
		{
			static const char *const names[] = {"mean", "zero", "error"};

			p->impute = (MaasImpute) param_choice(key, &v, names, 3,
												  "\"mean\", \"zero\" or \"error\"");
		}
		else if (strcmp(key, "scale") == 0)
			p->scale = (MaasScale) param_choice(key, &v, scale_names, 3,
									"\"standard\", \"minmax\" or \"none\"");
		else if (strcmp(key, "deploy") == 0)
			p->deploy = (DeployRule) param_choice(key, &v, deploy_names, 3,
												  "\"if_better\", \"always\" or \"never\"");
		else if (strcmp(key, "features") == 0)
		{
			JsonbContainer *arr;
			MaasStringSet *seen;

			if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data) ||
				JsonContainerSize(v.val.binary.data) == 0)
				param_range_error(key, "a non-empty array of column names");
			arr = v.val.binary.data;
			p->n_features = JsonContainerSize(arr);
			p->features = palloc_extended(sizeof(char *) * p->n_features, MCXT_ALLOC_HUGE);
			/* duplicates by hashing: a caller may name any number of columns */
			seen = maas_string_set_create(p->n_features);
			for (int i = 0; i < p->n_features; i++)
			{
				JsonbValue *e = getIthJsonbValueFromContainer(arr, i);
				bool		full;

				CHECK_FOR_INTERRUPTS();
				if (e->type != jbvString)
					param_range_error(key, "a non-empty array of column names");
				p->features[i] = pnstrdup(e->val.string.val, e->val.string.len);
				pfree(e);
				if (maas_string_set_add(seen, p->features[i], &full) != i)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("column \"%s\" appears twice in parameter \"features\"",
									p->features[i])));
			}
			maas_string_set_free(seen);
		}
		else if (strcmp(key, "l2") == 0)
		{
			p->l2 = param_number(key, &v, 0.0, 1e12, false, "a number from 0 to 1e12");
			p->l2_set = true;
		}
		else if (strcmp(key, "lr") == 0)
			p->lr = param_number(key, &v, 0.0, 10.0, true,
								 "a number greater than 0 and at most 10");
		else if (strcmp(key, "epochs") == 0)
			p->epochs = param_int(key, &v, 1, 10000, "an integer from 1 to 10000");
		else if (strcmp(key, "batch_size") == 0)
			p->batch_size = param_int(key, &v, 1, 65536, "an integer from 1 to 65536");
		else if (strcmp(key, "optimizer") == 0)
		{
			static const char *const names[] = {"adam", "sgd"};

			p->optimizer = param_choice(key, &v, names, 2, "\"adam\" or \"sgd\"") == 0 ?
				MAAS_OPTIM_ADAM : MAAS_OPTIM_SGD;
		}
		else if (strcmp(key, "momentum") == 0)
			p->momentum = param_number(key, &v, 0.0, 0.999, false, "a number from 0 to 0.999");
		else if (strcmp(key, "tol") == 0)
		{
			p->tol = param_number(key, &v, 0.0, 1.0, false, "a number from 0 to 1");
			p->tol_set = true;
		}
		else if (strcmp(key, "patience") == 0)
		{
			p->patience = param_int(key, &v, 1, 10000, "an integer from 1 to 10000");
			p->patience_set = true;
		}
		else if (strcmp(key, "hidden") == 0)
		{
			JsonbContainer *arr;
			const char *range = "an array of 1 to 16 layer sizes from 1 to 100000";

			if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
				param_range_error(key, range);
			arr = v.val.binary.data;
			p->n_hidden = JsonContainerSize(arr);
			if (p->n_hidden < 1 || p->n_hidden > MAAS_NN_MAX_HIDDEN)
				param_range_error(key, range);
			for (int i = 0; i < p->n_hidden; i++)
				p->hidden[i] = param_int(key, getIthJsonbValueFromContainer(arr, i),
										 1, 100000, range);
		}
		else if (strcmp(key, "activation") == 0)
		{
			static const char *const names[] = {"relu", "tanh", "sigmoid"};
			static const MaasOp ops[] = {MAAS_OP_RELU, MAAS_OP_TANH, MAAS_OP_SIGMOID};

			p->activation = ops[param_choice(key, &v, names, 3,
											 "\"relu\", \"tanh\" or \"sigmoid\"")];
		}
		else if (strcmp(key, "dropout") == 0)
			p->dropout = param_number(key, &v, 0.0, 0.95, false, "a number from 0 to 0.95");
		else if (strcmp(key, "weight_decay") == 0)
			p->weight_decay = param_number(key, &v, 0.0, 1.0, false, "a number from 0 to 1");
		else if (strcmp(key, "early_stopping") == 0)
			p->early_stopping = param_bool(key, &v);
		else if (strcmp(key, "validation_fraction") == 0)
			p->validation_fraction = param_number(key, &v, 0.0, 0.5, true,
												  "a number greater than 0 and at most 0.5");
		pfree(key);
	}
}

Algorithm
maas_train_parse_algorithm(const char *name)
{
	static const Algorithm all[] = {ALG_AUTO, ALG_LINEAR, ALG_LOGISTIC, ALG_MLP, ALG_CNN,
	ALG_GBDT, ALG_KMEANS};

	for (int i = 0; i < lengthof(all); i++)
		if (strcmp(name, maas_train_algorithm_name(all[i])) == 0)
			return all[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown algorithm \"%s\"", name),
			 errhint("Use \"linear\", \"logistic\", \"mlp\", \"cnn\", \"gbdt\", \"kmeans\" or \"auto\".")));
	return ALG_AUTO;
}

const char *
maas_train_scale_name(MaasScale scale)
{
	return scale_names[scale];
}

const char *
maas_train_deploy_name(DeployRule rule)
{
	return deploy_names[rule];
}

/* the checks above, for the params of train_tabular.c */
void
maas_train_param_error(const char *key, const char *range)
{
	param_range_error(key, range);
	pg_unreachable();
}

double
maas_train_param_number(const char *key, JsonbValue *v, double min, double max,
						bool min_open, const char *range)
{
	return param_number(key, v, min, max, min_open, range);
}

int
maas_train_param_int(const char *key, JsonbValue *v, int min, int max, const char *range)
{
	return param_int(key, v, min, max, range);
}
