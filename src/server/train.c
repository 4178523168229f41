/*
 * training.c
 *		maas_train: from a table or query to a stored, evaluated and
 *		(by rule) deployed model version.
 *
 * What happens, in order, all inside the caller's transaction:
 *
 *	1. parameters are checked against the algorithm, before any row is read;
 *	2. the source is described (LIMIT 0) and its columns planned: the target,
 *	   and each feature as a number, a flattened array (its length taken
 *	   from the first non-null value) or a one-hot category;
 *	3. one pass reads every row through a DestReceiver straight into one
 *	   float32 matrix (one row of "raw" slots per row: a category is one slot
 *	   holding its index) in a dedicated memory context, grown by realloc
 *	   and bounded by maas.max_training_memory;
 *	4. the rows are split (stratified for classification) and permuted in
 *	   place so that training rows come first; NULLs are imputed with the
 *	   training rows' means, categories expanded to one-hot (categories seen
 *	   only in holdout rows are dropped, as at predict time), and every slot
 *	   standardized with the training rows' mean and std;
 *	5. a trainer (train.h) fits the training rows; the holdout rows are
 *	   scored through the serving runtime and the metrics computed;
 *	6. weights (safetensors) and config are stored by maas_store_version,
 *	   the deploy rule applied through maas_deploy_version, and the run
 *	   recorded in maas.training_run.
 *
 * Long loops check for interrupts (every mini-batch, chunk of rows or
 * epoch), so a cancel or statement_timeout stops a training promptly, and
 * since nothing is written before step 6, an error leaves no trace but
 * the error.  The per-backend progress slot (progress.c) is cleared on
 * every way out.
 */
#include "model.h"
#include "registry.h"
#include "services.h"
#include "train_job.h"
#include "inputs.h"
#include "progress.h"
#include "source.h"
#include "train.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

/* settings */
static int	max_training_memory_kb = 1048576;
static bool training_notices = true;
static int	training_threads = 0;

/* integer targets with at most this many values are classes by default */
#define AUTO_CLASS_LIMIT		20

typedef enum Algorithm
{
	ALG_AUTO = 1,
	ALG_LINEAR = 2,
	ALG_LOGISTIC = 4,
	ALG_MLP = 8
} Algorithm;

#define ALG_ALL		(ALG_AUTO | ALG_LINEAR | ALG_LOGISTIC | ALG_MLP)
#define ALG_NN		(ALG_LOGISTIC | ALG_MLP)

/* how features are scaled: a standardize layer (x - shift) / div */
#define SCALE_STANDARD	0		/* shift mean, divide by std */
#define SCALE_MINMAX	1		/* shift min, divide by max - min */
#define SCALE_NONE		2

static const char *const scale_names[] = {"standard", "minmax", "none"};

typedef enum DeployRule
{
	DEPLOY_IF_BETTER,
	DEPLOY_ALWAYS,
	DEPLOY_NEVER
} DeployRule;

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
	{"hidden", ALG_MLP}, {"activation", ALG_MLP}, {"dropout", ALG_MLP},
	{"weight_decay", ALG_MLP}, {"early_stopping", ALG_MLP},
	{"validation_fraction", ALG_MLP},
};

typedef struct TrainParams
{
	Algorithm	algorithm;
	bool		task_set;
	MaasTask	task;
	double		test_size;
	uint64		seed;
	MaasImpute	impute;
	int			scale;			/* SCALE_* */
	int			n_features;		/* named in params.features, or 0 */
	char	  **features;
	DeployRule	deploy;
	double		l2;
	bool		l2_set;
	double		lr;
	int			epochs;			/* 0: by the data size */
	int			batch_size;
	MaasOptimizer optimizer;
	double		momentum;
	double		tol;
	bool		tol_set;
	int			patience;
	bool		patience_set;
	int			n_hidden;
	int			hidden[MAAS_NN_MAX_HIDDEN];
	MaasOp		activation;
	double		dropout;
	double		weight_decay;
	bool		early_stopping;
	double		validation_fraction;
} TrainParams;

typedef struct TrainJob
{
	MemoryContext cxt;			/* everything of this training */
	MemoryContext row_cxt;		/* reset per row while loading */
	TrainParams p;
	char	   *model;
	char	   *target;
	char	   *source_sql;		/* SELECT * FROM ... */
	TimestampTz started;
	Size		limit;			/* maas.max_training_memory in bytes */
	Size		peak;

	/* columns */
	int			target_attno;
	MaasBinding target_b;
	bool		target_is_text;
	MaasInputs	inputs;
	MaasBinding *bind;
	int			raw_width;

	/* rows */
	float	   *x;
	double	   *y;
	int64		n;
	int64		cap;
	int64		skipped;		/* NULL target */
	MaasStringSet *target_set;	/* text targets */
	HTAB	   *target_values;	/* numeric targets: distinct values */
	int			n_target_values;

	/* after the split */
	MaasTask	task;
	int			n_classes;
	char	  **label_json;		/* n_classes JSON values */
	char	  **label_text;
	int64		n_train;
	int64		n_test;
	int32	   *cls;
	float	   *yf;				/* regression target */
	int			width;			/* model input */
	float	   *mean;			/* per input slot, training rows */
	float	   *std;
	double	   *var;
	float	   *shift;			/* the standardize layer: (x - shift) / div */
	float	   *div;

	/* training */
	const char *algorithm_name;
	double		loss_scale;		/* regression MLP: target variance */
	int			epochs_run;
	double	   *loss;
	double	   *val_loss;
	bool		val_is_holdout;
	TupleDesc	source_desc;	/* the source's columns, as planned */
} TrainJob;

/* ---- settings ---- */

void
maas_train_init(void)
{
	DefineCustomIntVariable("maas.max_training_memory",
							"Memory one maas_train call may use for its data and model.",
							"The training matrix (float32), the model, its optimizer "
							"state and workspace must fit; larger trainings fail at once.",
							&max_training_memory_kb,
							1048576, 1024, MAX_KILOBYTES,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("maas.training_notices",
							 "Report each epoch of maas_train as a NOTICE.",
							 NULL,
							 &training_notices,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("maas.training_threads",
							"Threads BLAS may use while maas_train runs.",
							"0 means the value of maas.blas_threads.",
							&training_threads,
							0, 0, 64,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/* ---- parameters ---- */

static const char *
algorithm_name(Algorithm a)
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

static void
parse_params(Jsonb *params, TrainParams *p)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	/* defaults */
	p->test_size = 0.2;
	p->seed = 42;
	p->impute = MAAS_IMPUTE_MEAN;
	p->scale = SCALE_STANDARD;
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
		/* auto accepts what linear or logistic do, checked again once chosen */
		if (allowed < 0 ||
			!(allowed & (p->algorithm == ALG_AUTO ? ALG_AUTO | ALG_LINEAR | ALG_LOGISTIC : p->algorithm)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown parameter \"%s\" for algorithm \"%s\"",
							key, algorithm_name(p->algorithm)),
					 errhint("See doc/training.md for the parameters of each algorithm.")));

		if (strcmp(key, "task") == 0)
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
			p->scale = param_choice(key, &v, scale_names, 3,
									"\"standard\", \"minmax\" or \"none\"");
		else if (strcmp(key, "deploy") == 0)
			p->deploy = (DeployRule) param_choice(key, &v, deploy_names, 3,
												  "\"if_better\", \"always\" or \"never\"");
		else if (strcmp(key, "features") == 0)
		{
			JsonbContainer *arr;

			if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data) ||
				JsonContainerSize(v.val.binary.data) == 0)
				param_range_error(key, "a non-empty array of column names");
			arr = v.val.binary.data;
			p->n_features = JsonContainerSize(arr);
			p->features = palloc(sizeof(char *) * p->n_features);
			for (int i = 0; i < p->n_features; i++)
			{
				JsonbValue *e = getIthJsonbValueFromContainer(arr, i);

				if (e->type != jbvString)
					param_range_error(key, "a non-empty array of column names");
				p->features[i] = pnstrdup(e->val.string.val, e->val.string.len);
				for (int j = 0; j < i; j++)
					if (strcmp(p->features[i], p->features[j]) == 0)
						ereport(ERROR,
								(errcode(ERRCODE_DUPLICATE_COLUMN),
								 errmsg("column \"%s\" appears twice in parameter \"features\"",
										p->features[i])));
			}
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

/* ---- planning the columns ---- */

static int
find_column(TupleDesc td, const char *name)
{
	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(td, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i + 1;
	}
	return 0;
}

static void
plan_feature(TrainJob *job, MaasInput *in, TupleDesc td, int attno)
{
	Form_pg_attribute att = TupleDescAttr(td, attno - 1);
	Oid			elem = get_element_type(getBaseType(att->atttypid));

	in->name = pstrdup(NameStr(att->attname));
	if (!maas_feature_kind(att->atttypid, &in->kind))
	{
		if (OidIsValid(elem))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("array column \"%s\" must hold numbers", in->name),
					 errdetail("Its type is %s.", format_type_be(att->atttypid)),
					 errhint("Leave the column out with params.features.")));
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" has type %s, which cannot be a feature",
						in->name, format_type_be(att->atttypid)),
				 errhint("Features are numbers, booleans, numeric arrays, text and enums; "
						 "leave the column out with params.features.")));
	}
	maas_bind_column(td, attno, &job->bind[in - job->inputs.in]);
	switch (in->kind)
	{
		case MAAS_INPUT_NUMBER:
			in->width = 1;
			break;
		case MAAS_INPUT_CATEGORY:
			in->width = 1;		/* the index, until the split */
			in->collect = maas_string_set_create(MAAS_MAX_CATEGORIES);
			break;
		case MAAS_INPUT_ARRAY:
			{
				const char *col = quote_identifier(in->name);
				char	   *q = psprintf("SELECT pg_catalog.cardinality(%s) FROM (%s) AS s "
										 "WHERE %s IS NOT NULL LIMIT 1",
										 col, job->source_sql, col);
				bool		isnull;
				int			len = 0;

				if (SPI_execute(q, true, 1) != SPI_OK_SELECT)
					elog(ERROR, "could not read the length of array column \"%s\"", in->name);
				/* SPI returns to its own context, which SPI_finish frees */
				MemoryContextSwitchTo(job->cxt);
				if (SPI_processed == 1)
					len = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1, &isnull));
				if (SPI_processed == 0 || len <= 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("array column \"%s\" has no non-empty values", in->name),
							 errhint("Leave the column out with params.features.")));
				in->length = in->width = len;
				break;
			}
	}
}

static void
plan_columns(TrainJob *job)
{
	TupleDesc	td;
	int			n = 0;
	Oid			ttype;
	MaasInputKind tkind;

	td = maas_source_describe(job->source_sql);
	job->source_desc = td;

	job->target_attno = find_column(td, job->target);
	if (job->target_attno == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target column \"%s\" does not exist", job->target)));
	maas_bind_column(td, job->target_attno, &job->target_b);
	ttype = TupleDescAttr(td, job->target_attno - 1)->atttypid;
	if (!maas_feature_kind(ttype, &tkind) || tkind == MAAS_INPUT_ARRAY)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("target column \"%s\" has type %s, which cannot be a target",
						job->target, format_type_be(ttype)),
				 errhint("A target is a number, a boolean, text or an enum.")));
	job->target_is_text = tkind == MAAS_INPUT_CATEGORY;

	job->inputs.in = palloc0(sizeof(MaasInput) * Max(td->natts, 1));
	job->bind = palloc0(sizeof(MaasBinding) * Max(td->natts, 1));
	job->inputs.impute = job->p.impute;
	if (job->p.n_features > 0)
	{
		for (int i = 0; i < job->p.n_features; i++)
		{
			int			attno = find_column(td, job->p.features[i]);

			if (attno == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" does not exist", job->p.features[i]),
						 errdetail("It is named in parameter \"features\".")));
			if (attno == job->target_attno)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the target column \"%s\" cannot also be a feature", job->target)));
			plan_feature(job, &job->inputs.in[n++], td, attno);
			job->inputs.n = n;
		}
	}
	else
	{
		for (int i = 0; i < td->natts; i++)
		{
			if (TupleDescAttr(td, i)->attisdropped || i + 1 == job->target_attno)
				continue;
			plan_feature(job, &job->inputs.in[n++], td, i + 1);
			job->inputs.n = n;
		}
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the source has no feature columns"),
				 errdetail("Every column but the target \"%s\" is a feature, and there is none.",
						   job->target)));

	job->raw_width = 0;
	for (int i = 0; i < n; i++)
	{
		MaasInput  *in = &job->inputs.in[i];

		in->offset = job->raw_width;
		if (in->width > 100000000 - job->raw_width)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the source has too many feature values per row")));
		job->raw_width += in->width;
	}
}

/* ---- loading ---- */

typedef struct LoadReceiver
{
	MaasSourceReader reader;	/* must be first */
	TrainJob   *job;
} LoadReceiver;

static void
memory_error(TrainJob *job, const char *what, Size need)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("training would need more memory than maas.max_training_memory allows"),
			 errdetail("%s needs %zu kB; the setting allows %d kB.",
					   what, need / 1024, max_training_memory_kb),
			 errhint("Raise maas.max_training_memory, train on fewer rows (TABLESAMPLE, LIMIT), "
					 "or choose a smaller model.")));
}

static void
grow_rows(TrainJob *job)
{
	int64		cap = job->cap == 0 ? 1024 : job->cap * 2;
	Size		per_row = sizeof(float) * (Size) job->raw_width + sizeof(double);
	Size		max_rows = job->limit / per_row;

	if ((Size) cap > max_rows)
		cap = (int64) max_rows;
	if (cap > (int64) INT32_MAX - 1)
		cap = (int64) INT32_MAX - 1;
	if (cap <= job->n)
		memory_error(job, psprintf("Reading more than %lld rows of %d values",
								   (long long) job->n, job->raw_width),
					 (Size) (job->n + 1) * per_row);
	if (job->x == NULL)
	{
		job->x = MemoryContextAllocExtended(job->cxt, sizeof(float) * job->raw_width * cap,
											MCXT_ALLOC_HUGE);
		job->y = MemoryContextAllocExtended(job->cxt, sizeof(double) * cap, MCXT_ALLOC_HUGE);
	}
	else
	{
		job->x = repalloc_huge(job->x, sizeof(float) * job->raw_width * cap);
		job->y = repalloc_huge(job->y, sizeof(double) * cap);
	}
	job->cap = cap;
}

static void
add_target_value(TrainJob *job, double v)
{
	bool		found;

	if (job->n_target_values > MAAS_MAX_CLASSES)
		return;
	hash_search(job->target_values, &v, HASH_ENTER, &found);
	if (!found)
		job->n_target_values++;
}

static void
load_receive(MaasSourceReader *reader, TupleTableSlot *slot)
{
	TrainJob   *job = ((LoadReceiver *) reader)->job;
	MemoryContext old;
	Datum		tv;
	bool		tnull;
	float	   *row;
	int64		rowno = job->n + job->skipped + 1;

	slot_getallattrs(slot);
	tv = slot->tts_values[job->target_attno - 1];
	tnull = slot->tts_isnull[job->target_attno - 1];
	if (tnull)
	{
		job->skipped++;
		return;
	}
	if (job->n == job->cap)
		grow_rows(job);
	if ((job->n & 4095) == 0)
	{
		CHECK_FOR_INTERRUPTS();
		maas_progress_phase(MAAS_PHASE_LOADING, job->n);
	}

	old = MemoryContextSwitchTo(job->row_cxt);
	row = job->x + (size_t) job->n * job->raw_width;
	for (int i = 0; i < job->inputs.n; i++)
	{
		MaasInput  *in = &job->inputs.in[i];
		int			a = job->bind[i].attno - 1;
		Datum		d = slot->tts_values[a];

		/* the common scalar types inline; anything else, or trouble, encodes */
		if (in->kind == MAAS_INPUT_NUMBER && !slot->tts_isnull[a])
		{
			float		f;

			switch (job->bind[i].typid)
			{
				case FLOAT4OID:
					f = DatumGetFloat4(d);
					break;
				case FLOAT8OID:
					f = (float) DatumGetFloat8(d);
					break;
				case INT4OID:
					f = (float) DatumGetInt32(d);
					break;
				case INT8OID:
					f = (float) DatumGetInt64(d);
					break;
				default:
					f = NAN;
					break;
			}
			if (isfinite(f))
			{
				row[in->offset] = f;
				continue;
			}
		}
		maas_encode(&job->inputs, in, &job->bind[i], d, slot->tts_isnull[a],
					row + in->offset, false, rowno);
	}

	if (job->target_is_text)
	{
		bool		full;
		int			idx = maas_string_set_add(job->target_set,
											  maas_datum_text(tv, &job->target_b), &full);

		if (full)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("target column \"%s\" has more than %d classes",
							job->target, MAAS_MAX_CLASSES)));
		job->y[job->n] = idx;
	}
	else
	{
		double		v = maas_datum_number(tv, job->target_b.typid);

		if (v == 0)
			v = 0;				/* -0 and 0 are one value, and one class */
		if (!isfinite(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target column \"%s\" holds a value that is not finite", job->target),
					 errdetail("The value in row %lld is %s.", (long long) rowno,
							   isnan(v) ? "NaN" : "infinite")));
		job->y[job->n] = v;
		MemoryContextSwitchTo(job->cxt);
		add_target_value(job, v);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(job->row_cxt);
	job->n++;
}

static void
load_rows(TrainJob *job)
{
	LoadReceiver r;

	memset(&r, 0, sizeof(r));
	r.reader.planned = job->source_desc;
	r.reader.receive = load_receive;
	r.job = job;

	{
		MemoryContext old = MemoryContextSwitchTo(job->cxt);
		HASHCTL		ctl;

		if (job->target_is_text)
			job->target_set = maas_string_set_create(MAAS_MAX_CLASSES);
		else
		{
			ctl.keysize = sizeof(double);
			ctl.entrysize = sizeof(double);
			ctl.hcxt = job->cxt;
			job->target_values = hash_create("maas target values", 64, &ctl,
											 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		}
		MemoryContextSwitchTo(old);
	}

	maas_source_scan(job->source_sql, &r.reader, false);
	maas_progress_phase(MAAS_PHASE_PREPROCESSING, job->n);
	job->peak = Max(job->peak, MemoryContextMemAllocated(job->cxt, true));
}

/* ---- classes, split, preprocessing ---- */

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

typedef struct TextIndex
{
	char	   *text;
	int			index;
} TextIndex;

static int
cmp_text_index(const void *a, const void *b)
{
	return strcmp(((const TextIndex *) a)->text, ((const TextIndex *) b)->text);
}

static char *
json_number_text(double v)
{
	return float8out_internal(v);
}

/* decide the task, number the classes 0..k-1 in sorted label order */
static void
resolve_task(TrainJob *job)
{
	Oid			base = job->target_b.typid;
	bool		integer = base == INT2OID || base == INT4OID || base == INT8OID;

	if (job->n == 0)
	{
		if (job->skipped > 0)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("target column \"%s\" has only null values", job->target),
					 errdetail("The source has %lld rows.", (long long) job->skipped)));
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("the source has no rows")));
	}

	if (job->p.task_set)
		job->task = job->p.task;
	else if (job->target_is_text || base == BOOLOID)
		job->task = MAAS_TASK_CLASSIFICATION;
	else if (integer && job->n_target_values <= AUTO_CLASS_LIMIT)
		job->task = MAAS_TASK_CLASSIFICATION;
	else
		job->task = MAAS_TASK_REGRESSION;

	if (job->task == MAAS_TASK_REGRESSION)
	{
		if (job->target_is_text)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("target column \"%s\" is not numeric, so it cannot be a regression target",
							job->target),
					 errhint("Use params.task \"classification\".")));
		job->yf = MemoryContextAllocExtended(job->cxt, sizeof(float) * job->n, MCXT_ALLOC_HUGE);
		for (int64 r = 0; r < job->n; r++)
			job->yf[r] = (float) job->y[r];
		return;
	}

	job->cls = MemoryContextAllocExtended(job->cxt, sizeof(int32) * job->n, MCXT_ALLOC_HUGE);
	if (job->target_is_text)
	{
		MaasStringSet *set = job->target_set;
		TextIndex  *ti = palloc(sizeof(TextIndex) * Max(set->n, 1));
		int		   *map = palloc(sizeof(int) * Max(set->n, 1));

		for (int i = 0; i < set->n; i++)
		{
			ti[i].text = set->items[i];
			ti[i].index = i;
		}
		qsort(ti, set->n, sizeof(TextIndex), cmp_text_index);
		job->n_classes = set->n;
		job->label_json = palloc(sizeof(char *) * Max(set->n, 1));
		job->label_text = palloc(sizeof(char *) * Max(set->n, 1));
		for (int i = 0; i < set->n; i++)
		{
			StringInfoData s;

			map[ti[i].index] = i;
			initStringInfo(&s);
			escape_json(&s, ti[i].text);
			job->label_json[i] = s.data;
			job->label_text[i] = ti[i].text;
		}
		for (int64 r = 0; r < job->n; r++)
			job->cls[r] = map[(int) job->y[r]];
	}
	else
	{
		HASH_SEQ_STATUS seq;
		double	   *e;
		double	   *values;
		int			k = 0;

		if (job->n_target_values > MAAS_MAX_CLASSES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("target column \"%s\" has more than %d classes",
							job->target, MAAS_MAX_CLASSES),
					 errhint("Use params.task \"regression\" for a continuous target.")));
		values = palloc(sizeof(double) * Max(job->n_target_values, 1));
		hash_seq_init(&seq, job->target_values);
		while ((e = hash_seq_search(&seq)) != NULL)
			values[k++] = *e;
		qsort(values, k, sizeof(double), cmp_double);
		job->n_classes = k;
		job->label_json = palloc(sizeof(char *) * Max(k, 1));
		job->label_text = palloc(sizeof(char *) * Max(k, 1));
		for (int i = 0; i < k; i++)
		{
			if (base == BOOLOID)
				job->label_json[i] = pstrdup(values[i] != 0 ? "true" : "false");
			else
				job->label_json[i] = json_number_text(values[i]);
			job->label_text[i] = job->label_json[i];
		}
		for (int64 r = 0; r < job->n; r++)
		{
			double	   *hit = bsearch(&job->y[r], values, k, sizeof(double), cmp_double);

			job->cls[r] = (int32) (hit - values);
		}
	}
	if (job->n_classes < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target column \"%s\" has only one class", job->target),
				 errdetail("Every row with a target has the value \"%s\".", job->label_text[0]),
				 errhint("A classifier needs at least two classes.")));
}

static void
too_few_rows(TrainJob *job, int64 n_train, int64 n_test)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("too few rows to train"),
			 errdetail("The source has %lld rows with a target; with a test_size of %g "
					   "the holdout would have %lld rows and the training set %lld.",
					   (long long) job->n, job->p.test_size,
					   (long long) n_test, (long long) n_train),
			 errhint("Training needs at least 2 rows and the holdout at least 1; "
					 "add rows or change test_size.")));
}

/*
 * The new order of the rows: training rows first, then the holdout.
 * Stratified for classification: each class gives round(n_c * test_size)
 * rows to the holdout, leaving at least one in training.
 */
static int32 *
split_order(TrainJob *job)
{
	int64		n = job->n;
	int32	   *order = MemoryContextAllocExtended(job->cxt, sizeof(int32) * n, MCXT_ALLOC_HUGE);
	uint64		rng = job->p.seed;
	int64		n_test = 0;

	for (int64 r = 0; r < n; r++)
		order[r] = (int32) r;
	maas_shuffle(order, n, &rng);

	if (job->task == MAAS_TASK_CLASSIFICATION)
	{
		int64	   *count = palloc0(sizeof(int64) * job->n_classes);
		int64	   *quota = palloc0(sizeof(int64) * job->n_classes);
		int32	   *tmp = MemoryContextAllocExtended(job->cxt, sizeof(int32) * n, MCXT_ALLOC_HUGE);
		int64		ti = 0,
					si;

		for (int64 r = 0; r < n; r++)
			count[job->cls[r]]++;
		for (int c = 0; c < job->n_classes; c++)
		{
			quota[c] = (int64) floor((double) count[c] * job->p.test_size + 0.5);
			if (quota[c] > count[c] - 1)
				quota[c] = count[c] - 1;
			n_test += quota[c];
		}
		/* the first quota[c] rows of each class (in shuffled order) are held out */
		si = n - n_test;
		for (int64 r = 0; r < n; r++)
		{
			int32		c = job->cls[order[r]];

			if (quota[c] > 0)
			{
				quota[c]--;
				tmp[si++] = order[r];
			}
			else
				tmp[ti++] = order[r];
		}
		memcpy(order, tmp, sizeof(int32) * n);
		pfree(tmp);
	}
	else
	{
		n_test = (int64) floor((double) n * job->p.test_size + 0.5);
		/* shuffled already: the last n_test rows are the holdout */
	}
	job->n_test = n_test;
	job->n_train = n - n_test;
	/* test_size 0: no holdout, asked for */
	if ((job->n_test < 1 && job->p.test_size > 0) || job->n_train < 2)
		too_few_rows(job, job->n_train, job->n_test);
	return order;
}

/* permute rows in place: row i becomes old row order[i] */
static void
permute_rows(TrainJob *job, const int32 *order)
{
	int64		n = job->n;
	int			w = job->raw_width;
	float	   *tmp = palloc(sizeof(float) * w);
	bool	   *done = MemoryContextAllocExtended(job->cxt, n, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	size_t		rb = sizeof(float) * w;

	for (int64 start = 0; start < n; start++)
	{
		int64		j = start;
		double		ty;
		int32		tc = 0;
		float		tf = 0;

		if (done[start])
			continue;
		if ((start & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		memcpy(tmp, job->x + (size_t) start * w, rb);
		ty = job->y[start];
		if (job->cls)
			tc = job->cls[start];
		if (job->yf)
			tf = job->yf[start];
		for (;;)
		{
			int64		k = order[j];

			done[j] = true;
			if (k == start)
			{
				memcpy(job->x + (size_t) j * w, tmp, rb);
				job->y[j] = ty;
				if (job->cls)
					job->cls[j] = tc;
				if (job->yf)
					job->yf[j] = tf;
				break;
			}
			memcpy(job->x + (size_t) j * w, job->x + (size_t) k * w, rb);
			job->y[j] = job->y[k];
			if (job->cls)
				job->cls[j] = job->cls[k];
			if (job->yf)
				job->yf[j] = job->yf[k];
			j = k;
		}
	}
	pfree(done);
	pfree(tmp);
}

/*
 * Impute NULLs, expand categories to one-hot, compute the training rows'
 * mean and variance of every input slot, and standardize.
 */
static void
preprocess(TrainJob *job)
{
	int64		n = job->n,
				nt = job->n_train;
	int			rw = job->raw_width;
	bool		expand = false;
	int		  **cat_map;
	float	   *x;
	int			w = 0;

	/*
	 * Fill values: means (or 0) of the training rows' raw slots, in one
	 * row-major pass (a category's slot holds its index, never NaN).
	 */
	{
		double	   *sum = palloc0(sizeof(double) * rw);
		int64	   *cnt = palloc0(sizeof(int64) * rw);
		float	   *fill = palloc0(sizeof(float) * rw);
		bool		any_nan = false;

		for (int64 r = 0; r < nt; r++)
		{
			const float *v = job->x + (size_t) r * rw;

			if ((r & 4095) == 0)
				CHECK_FOR_INTERRUPTS();
			for (int j = 0; j < rw; j++)
			{
				bool		nan = isnan(v[j]);

				sum[j] += nan ? 0.0 : v[j];
				cnt[j] += !nan;
				any_nan |= nan;
			}
		}
		for (int64 r = nt; r < n && !any_nan; r++)
			any_nan = !maas_all_finite(job->x + (size_t) r * rw, rw);

		for (int i = 0; i < job->inputs.n; i++)
		{
			MaasInput  *in = &job->inputs.in[i];

			if (in->kind == MAAS_INPUT_CATEGORY)
			{
				expand = true;
				continue;
			}
			for (int j = 0; j < in->width; j++)
			{
				int			k = in->offset + j;

				fill[k] = job->p.impute == MAAS_IMPUTE_MEAN && cnt[k] > 0 ?
					(float) (sum[k] / cnt[k]) : 0.0f;
			}
			if (job->p.impute != MAAS_IMPUTE_ERROR)
			{
				in->fill = palloc(sizeof(float) * in->width);
				memcpy(in->fill, fill + in->offset, sizeof(float) * in->width);
			}
		}
		if (any_nan)
		{
			for (int64 r = 0; r < n; r++)
			{
				float	   *v = job->x + (size_t) r * rw;

				if ((r & 4095) == 0)
					CHECK_FOR_INTERRUPTS();
				for (int j = 0; j < rw; j++)
					if (isnan(v[j]))
						v[j] = fill[j];
			}
		}
		pfree(sum);
		pfree(cnt);
		pfree(fill);
	}

	/* categories: keep those seen in training rows, sorted */
	cat_map = palloc0(sizeof(int *) * job->inputs.n);
	for (int i = 0; i < job->inputs.n; i++)
	{
		MaasInput  *in = &job->inputs.in[i];
		MaasStringSet *set = in->collect;
		bool	   *seen;
		TextIndex  *ti;
		int			k = 0;

		if (in->kind != MAAS_INPUT_CATEGORY)
			continue;
		seen = palloc0(sizeof(bool) * Max(set->n, 1));
		for (int64 r = 0; r < nt; r++)
		{
			int			c = (int) job->x[(size_t) r * rw + in->offset];

			if (c >= 0)
				seen[c] = true;
		}
		ti = palloc(sizeof(TextIndex) * Max(set->n, 1));
		for (int c = 0; c < set->n; c++)
			if (seen[c])
			{
				ti[k].text = set->items[c];
				ti[k++].index = c;
			}
		if (k == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" has only null values in the training rows", in->name),
					 errhint("Leave the column out with params.features.")));
		qsort(ti, k, sizeof(TextIndex), cmp_text_index);
		cat_map[i] = palloc(sizeof(int) * Max(set->n, 1));
		for (int c = 0; c < set->n; c++)
			cat_map[i][c] = -1;
		in->n_categories = k;
		in->categories = palloc(sizeof(char *) * k);
		for (int c = 0; c < k; c++)
		{
			in->categories[c] = ti[c].text;
			cat_map[i][ti[c].index] = c;
		}
	}

	/* final layout */
	for (int i = 0; i < job->inputs.n; i++)
	{
		MaasInput  *in = &job->inputs.in[i];

		if (in->kind == MAAS_INPUT_CATEGORY)
			in->width = in->n_categories;
		w += in->width;
		if (w > 100000000)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the one-hot encoded features are too wide")));
	}
	job->width = w;
	if (expand)
	{
		Size		need = sizeof(float) * (Size) w * n;

		if (need + MemoryContextMemAllocated(job->cxt, true) > job->limit)
			memory_error(job, "One-hot encoding the rows", need + MemoryContextMemAllocated(job->cxt, true));
		x = MemoryContextAllocExtended(job->cxt, need, MCXT_ALLOC_HUGE);
		job->peak = Max(job->peak, MemoryContextMemAllocated(job->cxt, true));
		for (int64 r = 0; r < n; r++)
		{
			const float *src = job->x + (size_t) r * rw;
			float	   *dst = x + (size_t) r * w;
			int			o = 0;

			if ((r & 4095) == 0)
				CHECK_FOR_INTERRUPTS();
			for (int i = 0; i < job->inputs.n; i++)
			{
				MaasInput  *in = &job->inputs.in[i];

				if (in->kind == MAAS_INPUT_CATEGORY)
				{
					int			c = (int) src[in->offset];

					memset(dst + o, 0, sizeof(float) * in->width);
					if (c >= 0 && cat_map[i][c] >= 0)
						dst[o + cat_map[i][c]] = 1.0f;
				}
				else
					memcpy(dst + o, src + in->offset, sizeof(float) * in->width);
				o += in->width;
			}
		}
		pfree(job->x);
		job->x = x;
	}
	x = job->x;
	{
		int			o = 0;

		for (int i = 0; i < job->inputs.n; i++)
		{
			job->inputs.in[i].offset = o;
			o += job->inputs.in[i].width;
		}
		job->inputs.width = w;
	}

	/* mean and variance of each slot over the training rows, in double */
	{
		double	   *sum = palloc0(sizeof(double) * w);
		double	   *ss = palloc0(sizeof(double) * w);
		float	   *lo = palloc(sizeof(float) * w);
		float	   *hi = palloc(sizeof(float) * w);

		memcpy(lo, x, sizeof(float) * w);
		memcpy(hi, x, sizeof(float) * w);

		job->mean = palloc(sizeof(float) * w);
		job->std = palloc(sizeof(float) * w);
		job->var = palloc(sizeof(double) * w);
		/*
		 * One pass: sums and sums of squares of each slot shifted by its
		 * value in the first row (which keeps the variance accurate when the
		 * mean is large against the spread), and the range.
		 */
		for (int64 r = 0; r < nt; r++)
		{
			const float *v = x + (size_t) r * w;

			if ((r & 4095) == 0)
				CHECK_FOR_INTERRUPTS();
			for (int j = 0; j < w; j++)
			{
				double		d = (double) v[j] - (double) x[j];

				sum[j] += d;
				ss[j] += d * d;
				lo[j] = v[j] < lo[j] ? v[j] : lo[j];
				hi[j] = v[j] > hi[j] ? v[j] : hi[j];
			}
		}
		for (int j = 0; j < w; j++)
		{
			double		m = sum[j] / (double) nt;

			ss[j] = ss[j] - m * m * (double) nt;
			if (ss[j] < 0)
				ss[j] = 0;
			sum[j] = m + (double) x[j];
		}
		for (int j = 0; j < w; j++)
		{
			double		var = ss[j] / (double) nt;
			double		sd = sqrt(var);

			job->var[j] = var;
			job->mean[j] = (float) sum[j];
			job->std[j] = (float) (sd > 1e-6 * Max(1.0, fabs(sum[j])) ? sd : 1.0);
		}
		/* what the standardize layer stores: shift and divisor */
		job->shift = job->mean;
		job->div = job->std;
		if (job->p.scale == SCALE_MINMAX)
		{
			job->shift = lo;
			job->div = hi;
			for (int j = 0; j < w; j++)
			{
				double		range = (double) hi[j] - (double) lo[j];

				job->div[j] = (float) (range > 1e-6 * Max(1.0, fabs(lo[j])) ? range : 1.0);
			}
		}
	}

	if (job->p.scale != SCALE_NONE)
	{
		float	   *shift = job->shift;
		float	   *scale = palloc(sizeof(float) * w);

		for (int j = 0; j < w; j++)
			scale[j] = 1.0f / job->div[j];	/* as the runtime computes it */
		for (int64 r = 0; r < n; r++)
		{
			float	   *v = x + (size_t) r * w;

			if ((r & 4095) == 0)
				CHECK_FOR_INTERRUPTS();
			for (int j = 0; j < w; j++)
				v[j] = (v[j] - shift[j]) * scale[j];
		}
	}
}

/* ---- training ---- */

static void
train_tick(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

static void
train_epoch(void *arg, const MaasEpochReport *r)
{
	TrainJob   *job = (TrainJob *) arg;
	double		secs = (double) (GetCurrentTimestamp() - job->started) / 1e6;
	int			every = r->epochs <= 50 ? 1 : (r->epochs + 49) / 50;

	maas_progress_epoch(r->epoch, r->epochs, r->loss * job->loss_scale);
	if (!training_notices || (r->epoch % every != 0 && r->epoch != 1))
		return;
	if (r->has_val)
		ereport(NOTICE,
				(errmsg("epoch %d of %d: loss %.4f, %s loss %.4f, %s %s %.4f, %.1f s",
						r->epoch, r->epochs, r->loss * job->loss_scale,
						job->val_is_holdout ? "holdout" : "validation",
						r->val_loss * job->loss_scale,
						job->val_is_holdout ? "holdout" : "validation",
						job->task == MAAS_TASK_CLASSIFICATION ? "accuracy" : "r2",
						r->val_score, secs)));
	else
		ereport(NOTICE,
				(errmsg("epoch %d of %d: loss %.4f, %.1f s",
						r->epoch, r->epochs, r->loss * job->loss_scale, secs)));
}

static void
train_failed(TrainJob *job, MaasTrainStatus st, const char *err, int epoch)
{
	if (st == MAAS_TRAIN_DIVERGED)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("training diverged: %s", err),
				 errhint("Use a lower learning rate (params.lr)%s.",
						 job->p.algorithm == ALG_LINEAR ? " or a positive l2" : "")));
	if (st == MAAS_TRAIN_NOLAPACK)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the BLAS library lacks what linear training needs"),
				 errdetail("%s.", err),
				 errhint("Use OpenBLAS (libopenblas0), which includes LAPACK.")));
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory while training"),
			 errdetail("%s.", err)));
}

/* the trainer's config from the params and the data */
static void
nn_config(TrainJob *job, MaasNnConfig *c, int64 n_fit)
{
	TrainParams *p = &job->p;
	int64		batches;

	memset(c, 0, sizeof(*c));
	c->n_in = job->width;
	if (job->task == MAAS_TASK_REGRESSION)
	{
		c->n_out = 1;
		c->loss = MAAS_LOSS_MSE;
	}
	else if (job->n_classes == 2)
	{
		c->n_out = 1;
		c->loss = MAAS_LOSS_SIGMOID_CE;
	}
	else
	{
		c->n_out = job->n_classes;
		c->loss = MAAS_LOSS_SOFTMAX_CE;
	}
	if (p->algorithm == ALG_MLP)
	{
		c->n_hidden = p->n_hidden;
		memcpy(c->hidden, p->hidden, sizeof(int) * p->n_hidden);
		c->activation = p->activation;
		c->dropout = (float) p->dropout;
		c->weight_decay = (float) p->weight_decay;
	}
	else
	{
		/* logistic: l2 by default 1 / n, the penalty of scikit-learn's C = 1 */
		if (!p->l2_set)
			p->l2 = 1.0 / (double) n_fit;
		c->weight_decay = (float) p->l2;
		c->halve_on_plateau = true;
	}
	c->optimizer = p->optimizer;
	c->lr = (float) p->lr;
	c->momentum = (float) p->momentum;
	c->beta1 = 0.9f;
	c->beta2 = 0.999f;
	c->eps = 1e-8f;
	c->batch_size = (int) Min((int64) p->batch_size, n_fit);
	c->seed = p->seed;
	batches = (n_fit + c->batch_size - 1) / c->batch_size;
	if (p->epochs > 0)
		c->epochs = p->epochs;
	else if (p->algorithm == ALG_LOGISTIC)
		c->epochs = (int) Max(10, Min(1000, (20000 + batches - 1) / batches));
	else
		c->epochs = (int) Max(5, Min(200, (20000 + batches - 1) / batches));
	/* stopping: logistic on its training loss; mlp on validation if asked */
	if (p->algorithm == ALG_LOGISTIC || p->patience_set || p->early_stopping)
	{
		c->patience = p->patience;
		c->tol = p->tol;
	}
	c->monitor_val = p->early_stopping;
	p->epochs = c->epochs;
	p->batch_size = c->batch_size;
}

/* ---- output ---- */

static void
append_double(StringInfo s, double v)
{
	if (isfinite(v))
		appendStringInfoString(s, float8out_internal(v));
	else
		appendStringInfoString(s, "null");
}

void
maas_append_class_metrics(StringInfo s, const MaasClassMetrics *m)
{
	int			k = m->k;

	appendStringInfoString(s, "\"accuracy\": ");
	append_double(s, m->accuracy);
	appendStringInfoString(s, ", \"precision\": ");
	append_double(s, m->precision);
	appendStringInfoString(s, ", \"recall\": ");
	append_double(s, m->recall);
	appendStringInfoString(s, ", \"f1\": ");
	append_double(s, m->f1);
	appendStringInfoString(s, ", \"log_loss\": ");
	append_double(s, m->log_loss);
	if (m->has_auc)
	{
		appendStringInfoString(s, ", \"roc_auc\": ");
		append_double(s, m->roc_auc);
	}
	appendStringInfoString(s, ", \"confusion_matrix\": [");
	for (int i = 0; i < k; i++)
	{
		appendStringInfoString(s, i ? ", [" : "[");
		for (int j = 0; j < k; j++)
			appendStringInfo(s, "%s" INT64_FORMAT, j ? ", " : "", m->confusion[(size_t) i * k + j]);
		appendStringInfoChar(s, ']');
	}
	appendStringInfoChar(s, ']');
}

void
maas_append_reg_metrics(StringInfo s, const MaasRegMetrics *m)
{
	appendStringInfoString(s, "\"mse\": ");
	append_double(s, m->mse);
	appendStringInfoString(s, ", \"rmse\": ");
	append_double(s, sqrt(m->mse));
	appendStringInfoString(s, ", \"mae\": ");
	append_double(s, m->mae);
	appendStringInfoString(s, ", \"r2\": ");
	append_double(s, m->r2);
}

static char *
metrics_json(TrainJob *job, const float *out)
{
	StringInfoData s;
	int64		nt = job->n_train;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	if (job->task == MAAS_TASK_CLASSIFICATION)
	{
		MaasClassMetrics m;

		if (!maas_class_metrics(job->n_test, job->n_classes, job->cls + nt, out, &m))
			elog(ERROR, "out of memory computing metrics");
		maas_append_class_metrics(&s, &m);
	}
	else
	{
		MaasRegMetrics m;

		maas_reg_metrics(job->n_test, job->yf + nt, out, &m);
		maas_append_reg_metrics(&s, &m);
	}
	appendStringInfo(&s, ", \"n_train\": " INT64_FORMAT ", \"n_test\": " INT64_FORMAT "}",
					 job->n_train, job->n_test);
	return s.data;
}

static char *
train_stats_json(TrainJob *job)
{
	StringInfoData s;
	int			slot = 0;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"n\": " INT64_FORMAT ", \"features\": [", job->n_train);
	for (int i = 0; i < job->inputs.n; i++)
	{
		MaasInput  *in = &job->inputs.in[i];

		for (int j = 0; j < in->width; j++, slot++)
		{
			char	   *name;

			if (in->kind == MAAS_INPUT_NUMBER)
				name = in->name;
			else if (in->kind == MAAS_INPUT_ARRAY)
				name = psprintf("%s[%d]", in->name, j + 1);
			else
				name = psprintf("%s=%s", in->name, in->categories[j]);
			appendStringInfoString(&s, slot ? ", {\"name\": " : "{\"name\": ");
			escape_json(&s, name);
			appendStringInfoString(&s, ", \"mean\": ");
			append_double(&s, job->mean[slot]);
			appendStringInfoString(&s, ", \"var\": ");
			append_double(&s, job->var[slot]);
			appendStringInfoChar(&s, '}');
		}
	}
	appendStringInfoChar(&s, ']');
	if (job->task == MAAS_TASK_CLASSIFICATION)
	{
		int64	   *count = palloc0(sizeof(int64) * job->n_classes);

		for (int64 r = 0; r < job->n_train; r++)
			count[job->cls[r]]++;
		appendStringInfoString(&s, ", \"classes\": {");
		for (int c = 0; c < job->n_classes; c++)
		{
			if (c)
				appendStringInfoString(&s, ", ");
			escape_json(&s, job->label_text[c]);
			appendStringInfo(&s, ": " INT64_FORMAT, count[c]);
		}
		appendStringInfoChar(&s, '}');
	}
	appendStringInfoChar(&s, '}');
	return s.data;
}

static char *
params_json(TrainJob *job)
{
	TrainParams *p = &job->p;
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"task\": \"%s\", \"test_size\": ", maas_task_name(job->task));
	append_double(&s, p->test_size);
	appendStringInfo(&s, ", \"seed\": " UINT64_FORMAT ", \"impute\": \"%s\", \"scale\": \"%s\", \"deploy\": \"%s\"",
					 p->seed, maas_impute_name(p->impute), scale_names[p->scale],
					 deploy_names[p->deploy]);
	if (p->algorithm == ALG_LINEAR || p->algorithm == ALG_LOGISTIC)
	{
		appendStringInfoString(&s, ", \"l2\": ");
		append_double(&s, p->l2);
	}
	if (p->algorithm & ALG_NN)
	{
		appendStringInfo(&s, ", \"optimizer\": \"%s\", \"lr\": ",
						 p->optimizer == MAAS_OPTIM_ADAM ? "adam" : "sgd");
		append_double(&s, p->lr);
		appendStringInfo(&s, ", \"epochs\": %d, \"batch_size\": %d", p->epochs, p->batch_size);
		if (p->optimizer == MAAS_OPTIM_SGD)
		{
			appendStringInfoString(&s, ", \"momentum\": ");
			append_double(&s, p->momentum);
		}
	}
	if (p->algorithm == ALG_MLP)
	{
		appendStringInfoString(&s, ", \"hidden\": [");
		for (int i = 0; i < p->n_hidden; i++)
			appendStringInfo(&s, "%s%d", i ? ", " : "", p->hidden[i]);
		appendStringInfo(&s, "], \"activation\": \"%s\", \"dropout\": ",
						 maas_op_name(p->activation));
		append_double(&s, p->dropout);
		appendStringInfoString(&s, ", \"weight_decay\": ");
		append_double(&s, p->weight_decay);
		appendStringInfo(&s, ", \"early_stopping\": %s", p->early_stopping ? "true" : "false");
		if (p->early_stopping)
		{
			appendStringInfoString(&s, ", \"validation_fraction\": ");
			append_double(&s, p->validation_fraction);
		}
	}
	appendStringInfoChar(&s, '}');
	return s.data;
}

static char *
curve_json(const double *v, int n, double scale)
{
	StringInfoData s;

	if (v == NULL)
		return NULL;
	initStringInfo(&s);
	appendStringInfoChar(&s, '[');
	for (int i = 0; i < n; i++)
	{
		if (i)
			appendStringInfoString(&s, ", ");
		append_double(&s, v[i] * scale);
	}
	appendStringInfoChar(&s, ']');
	return s.data;
}

/*
 * Weights (safetensors) and config of a net: an optional standardize layer,
 * then dense layers (activation and dropout between them) and the head.
 */
static void
build_model(TrainJob *job, const MaasNnConfig *c, const MaasNnModel *m,
			bytea **weights, Jsonb **config)
{
	int			n_t = 2 + 2 * m->n_layers;
	StWriteTensor *t = palloc0(sizeof(StWriteTensor) * n_t);
	int64	   *shapes = palloc(sizeof(int64) * 2 * n_t);
	int			k = 0;
	StringInfoData s;
	const char *meta_keys[1] = {"format"};
	const char *meta_vals[1] = {"pt"};

	initStringInfo(&s);
	appendStringInfo(&s, "{\"task\": \"%s\", \"n_features\": %d, \"layers\": [",
					 maas_task_name(job->task), job->width);
	if (job->p.scale != SCALE_NONE)
	{
		shapes[0] = job->width;
		t[k++] = (StWriteTensor)
		{
			"scaler.mean", ST_F32, 1, &shapes[0], job->shift
		};
		t[k++] = (StWriteTensor)
		{
			"scaler.std", ST_F32, 1, &shapes[0], job->div
		};
		appendStringInfoString(&s, "{\"op\": \"standardize\", \"mean\": \"scaler.mean\", \"std\": \"scaler.std\"}, ");
	}
	for (int l = 0; l < m->n_layers; l++)
	{
		int64	   *ws = &shapes[2 + 4 * l];
		int64	   *bs = &shapes[4 + 4 * l];

		ws[0] = m->n_out[l];
		ws[1] = m->n_in[l];
		bs[0] = m->n_out[l];
		t[k++] = (StWriteTensor)
		{
			psprintf("fc%d.weight", l + 1), ST_F32, 2, ws, m->w[l]
		};
		t[k++] = (StWriteTensor)
		{
			psprintf("fc%d.bias", l + 1), ST_F32, 1, bs, m->b[l]
		};
		appendStringInfo(&s, "%s{\"op\": \"dense\", \"weight\": \"fc%d.weight\", \"bias\": \"fc%d.bias\"}",
						 l ? ", " : "", l + 1, l + 1);
		if (l < c->n_hidden)
		{
			appendStringInfo(&s, ", {\"op\": \"%s\"}", maas_op_name(c->activation));
			if (c->dropout > 0)
			{
				appendStringInfoString(&s, ", {\"op\": \"dropout\", \"p\": ");
				append_double(&s, c->dropout);
				appendStringInfoChar(&s, '}');
			}
		}
	}
	if (c->loss == MAAS_LOSS_SOFTMAX_CE)
		appendStringInfoString(&s, ", {\"op\": \"softmax\"}");
	else if (c->loss == MAAS_LOSS_SIGMOID_CE)
		appendStringInfoString(&s, ", {\"op\": \"sigmoid\"}");
	appendStringInfoString(&s, "]");
	if (job->task == MAAS_TASK_CLASSIFICATION)
	{
		appendStringInfoString(&s, ", \"labels\": [");
		for (int i = 0; i < job->n_classes; i++)
			appendStringInfo(&s, "%s%s", i ? ", " : "", job->label_json[i]);
		appendStringInfoChar(&s, ']');
	}
	appendStringInfoString(&s, ", \"target\": ");
	escape_json(&s, job->target);
	appendStringInfoString(&s, ", ");
	maas_inputs_to_json(&job->inputs, &s);
	appendStringInfo(&s, ", \"algorithm\": \"%s\", \"params\": %s}",
					 job->algorithm_name, params_json(job));

	*weights = maas_write_safetensors(t, k, meta_keys, meta_vals, 1);
	*config = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

/* ---- the registry ---- */

/* fail early, before reading any row, if the caller may not add versions */
static void
check_may_train(const char *model)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(model)};
	bool		isnull;

	if (SPI_execute_with_args("SELECT owner::pg_catalog.text FROM maas.models "
							  "WHERE model OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up model \"%s\"", model);
	if (SPI_processed == 1)
	{
		char	   *owner = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 1, &isnull));
		Oid			owner_id = get_role_oid(owner, true);

		if (!superuser() && !(OidIsValid(owner_id) && has_privs_of_role(GetUserId(), owner_id)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of model \"%s\"", model),
					 errdetail("The model belongs to role \"%s\".", owner)));
	}
}

/* the deployed version's primary metric: false if nothing is deployed */
static bool
deployed_metric(const char *model, const char *key, int32 *version, bool *has,
				double *value)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(model), CStringGetTextDatum(key)};
	bool		isnull;
	Datum		d;

	SPI_connect();
	if (SPI_execute_with_args("SELECT version, (metrics OPERATOR(pg_catalog.->>) $2)::pg_catalog.float8 "
							  "FROM maas.versions WHERE model OPERATOR(pg_catalog.=) $1 AND deployed",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up the deployed version of \"%s\"", model);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}
	*version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	*has = !isnull;
	if (!isnull)
		*value = DatumGetFloat8(d);
	SPI_finish();
	return true;
}

/* apply the deploy rule to a new version; true if it was deployed */
static bool
apply_deploy_rule(TrainJob *job, int32 version, double primary)
{
	const char *key = job->task == MAAS_TASK_CLASSIFICATION ? "f1" : "r2";
	int32		current = 0;
	bool		has = false;
	double		value = 0;

	if (job->p.deploy == DEPLOY_NEVER)
		return false;
	if (job->p.deploy == DEPLOY_IF_BETTER &&
		deployed_metric(job->model, key, &current, &has, &value))
	{
		if (!has)
		{
			ereport(NOTICE,
					(errmsg("version %d of model \"%s\" was not deployed", version, job->model),
					 errdetail("The deployed version %d has no %s to compare with.", current, key),
					 errhint("Deploy it with maas_deploy('%s', %d), or train with params.deploy \"always\".",
							 job->model, version)));
			return false;
		}
		if (isnan(primary))
		{
			ereport(NOTICE,
					(errmsg("version %d of model \"%s\" was not deployed", version, job->model),
					 errdetail("It has no %s to compare with the deployed version %d.", key, current)));
			return false;
		}
		if (!(primary > value))
		{
			ereport(NOTICE,
					(errmsg("version %d of model \"%s\" was not deployed", version, job->model),
					 errdetail("Its %s of %.4f does not beat the %.4f of the deployed version %d.",
							   key, primary, value, current)));
			return false;
		}
	}
	maas_deploy_version(job->model, version, NULL);
	return true;
}

static void
record_run(TrainJob *job, int32 version, bool deployed, const char *source,
		   int n_features)
{
	Oid			types[18] = {TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		JSONBOID, INT8OID, INT8OID, INT4OID, INT4OID, FLOAT8OID, JSONBOID, JSONBOID,
	INT8OID, TEXTOID, NAMEOID, TIMESTAMPTZOID};
	Datum		values[18];
	char		nulls[18];
	char	   *loss = curve_json(job->loss, job->epochs_run, job->loss_scale);
	char	   *val = curve_json(job->val_loss, job->epochs_run, job->loss_scale);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(job->model);
	values[1] = Int32GetDatum(version);
	values[2] = CStringGetTextDatum(job->algorithm_name);
	values[3] = CStringGetTextDatum(maas_task_name(job->task));
	values[4] = CStringGetTextDatum(source);
	values[5] = CStringGetTextDatum(job->target);
	values[6] = DirectFunctionCall1(jsonb_in, CStringGetDatum(params_json(job)));
	values[7] = Int64GetDatum(job->n_train);
	values[8] = Int64GetDatum(job->n_test);
	values[9] = Int32GetDatum(n_features);
	values[10] = Int32GetDatum(job->epochs_run);
	values[11] = Float8GetDatum((double) (GetCurrentTimestamp() - job->started) / 1e6);
	if (loss)
		values[12] = DirectFunctionCall1(jsonb_in, CStringGetDatum(loss));
	else
		nulls[12] = 'n';
	if (val)
		values[13] = DirectFunctionCall1(jsonb_in, CStringGetDatum(val));
	else
		nulls[13] = 'n';
	values[14] = Int64GetDatum((int64) job->peak);
	values[15] = CStringGetTextDatum(deployed ? "deployed" : "stored");
	values[16] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	values[17] = TimestampTzGetDatum(job->started);
	maas_catalog_execute("INSERT INTO maas.training_run (model, version, algorithm, task, "
						 "source, target, params, rows_train, rows_test, n_features, epochs, "
						 "seconds, loss, val_loss, peak_memory, outcome, trained_by, started_at) "
						 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
						 "$15, $16, $17, $18)",
						 18, types, values, nulls, SPI_OK_INSERT);
}

/* ---- the entry point ---- */

static Algorithm
parse_algorithm(const char *name)
{
	static const Algorithm all[] = {ALG_AUTO, ALG_LINEAR, ALG_LOGISTIC, ALG_MLP};

	for (int i = 0; i < lengthof(all); i++)
		if (strcmp(name, algorithm_name(all[i])) == 0)
			return all[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown algorithm \"%s\"", name),
			 errhint("Use \"linear\", \"logistic\", \"mlp\" or \"auto\".")));
	return ALG_AUTO;
}

static const MaasBlas *
training_blas(void)
{
	return maas_get_blas_threads(training_threads);
}

/*
 * Fit the algorithm on the training rows, score the holdout; returns the
 * net and fills out (holdout outputs).
 */
static void
fit(TrainJob *job, MaasNnConfig *c, MaasNnModel *m, float **out)
{
	const MaasBlas *blas = training_blas();
	MaasTrainHooks hooks = {job, train_tick, train_epoch};
	MaasTrainSet data;
	MaasTrainSet val;
	char		err[MAAS_TRAIN_ERRLEN];
	MaasTrainStatus st;
	int64		nt = job->n_train;
	int			k = job->task == MAAS_TASK_CLASSIFICATION ? job->n_classes : 1;
	float	   *ys = NULL;
	double		ymean = 0,
				ystd = 1;
	size_t		need;

	memset(&data, 0, sizeof(data));
	memset(&val, 0, sizeof(val));
	data.d = job->width;
	data.x = job->x;
	data.n = nt;
	data.cls = job->cls;
	data.y = job->yf;
	job->loss_scale = 1.0;

	if (job->p.algorithm == ALG_LINEAR)
	{
		MaasLinearResult lr;

		need = sizeof(double) * ((size_t) job->width * job->width * 2 + (size_t) 2048 * job->width);
		if (need + MemoryContextMemAllocated(job->cxt, true) > job->limit)
			memory_error(job, "The normal equations", need + MemoryContextMemAllocated(job->cxt, true));
		st = maas_linear_fit(blas, &data, job->p.l2, &hooks, &lr, err);
		if (st != MAAS_TRAIN_OK)
			train_failed(job, st, err, 0);
		if (lr.jitter > 0)
			ereport(NOTICE,
					(errmsg("the features are collinear; a small ridge was added to solve for them"),
					 errhint("Leave out redundant columns, or set params.l2.")));
		memset(c, 0, sizeof(*c));
		c->n_in = job->width;
		c->n_out = 1;
		c->loss = MAAS_LOSS_MSE;
		c->batch_size = 1;
		memset(m, 0, sizeof(*m));
		m->n_layers = 1;
		m->n_in[0] = job->width;
		m->n_out[0] = 1;
		m->w[0] = lr.w;
		m->b[0] = palloc(sizeof(float));
		m->b[0][0] = lr.b;
		job->epochs_run = 0;
	}
	else
	{
		MaasNnResult res;
		int64		n_fit = nt;

		if (job->p.early_stopping)
		{
			int64		n_val = (int64) floor((double) nt * job->p.validation_fraction + 0.5);

			if (n_val < 1 || nt - n_val < 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("too few rows for early stopping"),
						 errdetail("The training set has %lld rows; a validation_fraction of %g leaves %lld for validation.",
								   (long long) nt, job->p.validation_fraction, (long long) n_val)));
			n_fit = nt - n_val;
		}
		nn_config(job, c, n_fit);

		/* regression: learn a standardized target, fold it back afterwards */
		if (job->task == MAAS_TASK_REGRESSION)
		{
			double		s = 0,
						ss = 0;

			for (int64 r = 0; r < n_fit; r++)
				s += job->yf[r];
			ymean = s / (double) n_fit;
			for (int64 r = 0; r < n_fit; r++)
				ss += (job->yf[r] - ymean) * (job->yf[r] - ymean);
			ystd = sqrt(ss / (double) n_fit);
			if (!(ystd > 0))
				ystd = 1;
			ys = MemoryContextAllocExtended(job->cxt, sizeof(float) * job->n, MCXT_ALLOC_HUGE);
			for (int64 r = 0; r < job->n; r++)
				ys[r] = (float) ((job->yf[r] - ymean) / ystd);
			data.y = ys;
			job->loss_scale = ystd * ystd;
		}

		if (!maas_nn_memory(c, n_fit, &need) ||
			need + MemoryContextMemAllocated(job->cxt, true) > job->limit)
			memory_error(job, "The network, its optimizer state and workspace",
						 need + MemoryContextMemAllocated(job->cxt, true));

		data.n = n_fit;
		val.d = job->width;
		if (job->p.early_stopping)
		{
			val.n = nt - n_fit;
			val.x = job->x + (size_t) n_fit * job->width;
			val.cls = job->cls ? job->cls + n_fit : NULL;
			val.y = ys ? ys + n_fit : NULL;
			job->val_is_holdout = false;
		}
		else
		{
			/* the holdout, only watched: nothing is chosen by it */
			val.n = job->n_test;	/* may be 0 */
			val.x = job->x + (size_t) nt * job->width;
			val.cls = job->cls ? job->cls + nt : NULL;
			val.y = ys ? ys + nt : NULL;
			job->val_is_holdout = true;
		}

		maas_progress_epoch(0, c->epochs, NAN);
		st = maas_nn_fit(blas, c, &data, &val, &hooks, &res, err);
		if (st != MAAS_TRAIN_OK)
			train_failed(job, st, err, res.diverged_epoch);
		*m = res.model;
		job->epochs_run = res.epochs_run;
		job->loss = res.loss;
		job->val_loss = res.val_loss;

		if (job->task == MAAS_TASK_REGRESSION)
		{
			int			l = m->n_layers - 1;
			size_t		nw = (size_t) m->n_in[l];

			for (size_t i = 0; i < nw; i++)
				m->w[l][i] *= (float) ystd;
			m->b[l][0] = (float) (m->b[l][0] * ystd + ymean);
		}
	}
	job->peak = Max(job->peak, MemoryContextMemAllocated(job->cxt, true));

	maas_progress_phase(MAAS_PHASE_EVALUATING, -1);
	*out = MemoryContextAllocExtended(job->cxt, sizeof(float) * k * Max(job->n_test, 1),
									  MCXT_ALLOC_HUGE);
	st = maas_nn_predict(blas, c, m, job->x + (size_t) nt * job->width, job->n_test,
						 &hooks, *out, err);
	if (st != MAAS_TRAIN_OK)
		train_failed(job, st, err, 0);
	/* back to the serving thread count */
	(void) maas_get_blas();
}

/*
 * maas_train(model, source, target, algorithm, params): train on a table,
 * view or query, evaluate on a holdout, store a new version of the model
 * and deploy it by params.deploy.  Returns model, version, task,
 * algorithm, metrics, deployed.
 */
PG_FUNCTION_INFO_V1(maas_train);
Datum
maas_train(PG_FUNCTION_ARGS)
{
	TrainJob   *job;
	MemoryContext caller = CurrentMemoryContext;
	TupleDesc	tupdesc;
	char	   *source;
	char	   *metrics = NULL;
	char	   *stats = NULL;
	int32		version = 0;
	bool		deployed = false;
	Datum		result[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null",
							i == 0 ? "model name" : i == 1 ? "source" : i == 2 ? "target" : "algorithm")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	job = palloc0(sizeof(TrainJob));
	job->started = GetCurrentTimestamp();
	job->model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	job->target = text_to_cstring(PG_GETARG_TEXT_PP(2));
	maas_check_model_name(job->model);
	job->p.algorithm = parse_algorithm(text_to_cstring(PG_GETARG_TEXT_PP(3)));
	parse_params(PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4), &job->p);
	job->limit = (Size) max_training_memory_kb * 1024;

	job->cxt = AllocSetContextCreate(caller, "maas training", ALLOCSET_DEFAULT_SIZES);
	job->row_cxt = AllocSetContextCreate(job->cxt, "maas training row", ALLOCSET_SMALL_SIZES);

	maas_progress_begin(job->model, algorithm_name(job->p.algorithm));
	PG_TRY();
	{
		MaasNnConfig c;
		MaasNnModel m;
		float	   *out;
		bytea	   *weights;
		Jsonb	   *config;
		int32	   *order;

		MemoryContextSwitchTo(job->cxt);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* SPI_connect moved to its own context, which SPI_finish frees */
		MemoryContextSwitchTo(job->cxt);
		check_may_train(job->model);
		MemoryContextSwitchTo(job->cxt);
		job->source_sql = MemoryContextStrdup(job->cxt, maas_source_sql(source));
		plan_columns(job);
		load_rows(job);
		SPI_finish();
		MemoryContextSwitchTo(job->cxt);

		resolve_task(job);
		if (job->p.algorithm == ALG_AUTO)
		{
			/* the defaults of the algorithm chosen, then the params again */
			job->p.algorithm = job->task == MAAS_TASK_CLASSIFICATION ? ALG_LOGISTIC : ALG_LINEAR;
			parse_params(PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4), &job->p);
			ereport(NOTICE,
					(errmsg("algorithm \"auto\" chose \"%s\" for a %s target",
							algorithm_name(job->p.algorithm), maas_task_name(job->task))));
		}
		job->algorithm_name = algorithm_name(job->p.algorithm);
		if (job->p.algorithm == ALG_LINEAR && job->task != MAAS_TASK_REGRESSION)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("algorithm \"linear\" needs a regression target"),
					 errdetail("Target column \"%s\" is a classification target.", job->target),
					 errhint("Use \"logistic\" or \"mlp\", or set params.task to \"regression\".")));
		if (job->p.algorithm == ALG_LOGISTIC && job->task != MAAS_TASK_CLASSIFICATION)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("algorithm \"logistic\" needs a classification target"),
					 errdetail("Target column \"%s\" is a regression target.", job->target),
					 errhint("Use \"linear\" or \"mlp\", or set params.task to \"classification\".")));

		order = split_order(job);
		permute_rows(job, order);
		pfree(order);
		preprocess(job);

		maas_progress_phase(MAAS_PHASE_TRAINING, job->n);
		fit(job, &c, &m, &out);
		if (job->n_test > 0)
			metrics = metrics_json(job, out);
		else
			ereport(NOTICE,
					(errmsg("no holdout: version of model \"%s\" has no metrics", job->model),
					 errhint("Measure it with maas_evaluate on labelled rows it was not trained on.")));
		stats = train_stats_json(job);

		maas_progress_phase(MAAS_PHASE_STORING, -1);
		build_model(job, &c, &m, &weights, &config);
		MemoryContextSwitchTo(caller);
		{
			Jsonb	   *mj = metrics ? DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics))) : NULL;
			JsonbValue *pv = mj ? getKeyJsonValueFromContainer(&mj->root,
															   job->task == MAAS_TASK_CLASSIFICATION ? "f1" : "r2",
															   2, NULL) : NULL;
			double		primary = pv && pv->type == jbvNumeric ?
				DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
												   NumericGetDatum(pv->val.numeric))) : NAN;

			version = maas_store_version(job->model, job->algorithm_name, weights, config, mj,
										 DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(stats))),
										 0);
			deployed = apply_deploy_rule(job, version, primary);
		}
		record_run(job, version, deployed, source, job->width);
	}
	PG_FINALLY();
	{
		maas_progress_end();
	}
	PG_END_TRY();

	MemoryContextSwitchTo(caller);
	result[0] = CStringGetTextDatum(job->model);
	result[1] = Int32GetDatum(version);
	result[2] = CStringGetTextDatum(maas_task_name(job->task));
	result[3] = CStringGetTextDatum(job->algorithm_name);
	if (metrics)
		result[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics));
	else
		nulls[4] = true;
	result[5] = BoolGetDatum(deployed);
	MemoryContextDelete(job->cxt);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, nulls)));
}
