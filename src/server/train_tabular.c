/*
 * train_tabular.c
 *		maas_train's boosted trees ('gbdt') and k-means ('kmeans'): their
 *		params, the fit by the kernels (train_gbdt.h, train_kmeans.h), the
 *		holdout outputs or clustering metrics, and the stored layer
 *		program ("trees" then sigmoid or softmax; "kmeans").
 *
 * The rows come as for every trainer (train_load.c), with two
 * differences.  Boosted trees take the rows unimputed and unscaled: a NULL
 * stays NaN, which the trees route by the default direction each split
 * learned ("impute": "none" in the config, so that maas_predict leaves
 * NULLs missing too), and a split's threshold is in the column's own
 * units.  k-means has no target and no holdout: it clusters every row,
 * and its metrics (inertia, silhouette on a sample) are of those rows.
 *
 * Early stopping watches the holdout (XGBoost's eval set): the version
 * keeps the rounds up to the best holdout loss, so its holdout metrics are
 * those of the rows that chose the round.
 *
 * 'auto' (doc/training.md) fits its linear candidate (logistic or linear)
 * first, then boosted trees with their defaults on a copy of the rows as
 * they were read, split alike (the split depends on the seed and the
 * classes only), and keeps the trees only when their holdout primary
 * metric (macro F1, R²) beats the linear model's by more than
 * AUTO_MARGIN: the linear model is smaller, faster to serve and to read.
 */
#include "train_job.h"
#include "progress.h"
#include "services.h"

#include "threads.h"

#include <float.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/memutils.h"

/* what boosted trees must win by for 'auto' to keep them */
#define AUTO_MARGIN		0.01

/* ---- params ---- */

void
maas_train_tabular_defaults(TrainParams *p)
{
	maas_gbdt_defaults(&p->gbdt);
	maas_kmeans_defaults(&p->kmeans);
	p->scale_pos_weight = 0;
	p->n_class_weight = 0;
	p->init = NULL;
	if (p->algorithm == ALG_GBDT)
	{
		p->impute = MAAS_IMPUTE_NONE;
		p->scale = MAAS_SCALE_NONE;
	}
	else if (p->algorithm == ALG_KMEANS)
	{
		p->test_size = 0;
		p->scale = MAAS_SCALE_NONE;
	}
}

static const char *const gbdt_keys[] = {
	"task", "test_size", "seed", "features", "deploy",
	"n_estimators", "max_depth", "learning_rate", "eta", "min_child_weight",
	"lambda", "reg_lambda", "alpha", "reg_alpha", "gamma", "subsample",
	"colsample_bytree", "max_bin", "early_stopping_rounds", "scale_pos_weight",
	"class_weight", "base_score", NULL
};

static const char *const kmeans_keys[] = {
	"seed", "features", "deploy", "impute", "scale",
	"k", "max_iter", "tol", "n_init", "init", "silhouette_sample", NULL
};

/* the mask of algorithms that take key, as train_params.c's table has it */
int
maas_train_tabular_allows(Algorithm a, const char *key, int allowed)
{
	const char *const *keys = a == ALG_GBDT ? gbdt_keys : kmeans_keys;

	for (int i = 0; keys[i]; i++)
		if (strcmp(keys[i], key) == 0)
			return (allowed < 0 ? 0 : allowed) | a;
	return allowed < 0 ? -1 : allowed & ~a;
}

static void
parse_class_weight(TrainParams *p, const char *key, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	k,
				w;
	JsonbIteratorToken tok;
	const char *range = "an object of class labels and weights of at least 0";
	int			n;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		maas_train_param_error(key, range);
	n = JsonContainerSize(v->val.binary.data);
	if (n == 0 || n > MAAS_MAX_CLASSES)
		maas_train_param_error(key, range);
	p->class_weight_label = palloc(sizeof(char *) * n);
	p->class_weight = palloc(sizeof(double) * n);
	p->n_class_weight = 0;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		p->class_weight_label[p->n_class_weight] = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &w, true);
		p->class_weight[p->n_class_weight++] =
			maas_train_param_number(key, &w, 0.0, 1e30, false, range);
	}
}

static void
parse_init(TrainParams *p, const char *key, JsonbValue *v)
{
	const char *range = "an array of k centers, each an array of numbers";
	JsonbContainer *arr;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		maas_train_param_error(key, range);
	arr = v->val.binary.data;
	p->init_rows = JsonContainerSize(arr);
	if (p->init_rows < 1 || p->init_rows > MAAS_KMEANS_MAX_K)
		maas_train_param_error(key, range);
	for (int i = 0; i < p->init_rows; i++)
	{
		JsonbValue *c = getIthJsonbValueFromContainer(arr, i);
		int			d;

		CHECK_FOR_INTERRUPTS();
		if (c->type != jbvBinary || !JsonContainerIsArray(c->val.binary.data))
			maas_train_param_error(key, range);
		d = JsonContainerSize(c->val.binary.data);
		if (d < 1 || (i > 0 && d != p->init_cols))
			maas_train_param_error(key, "an array of k centers of the same length");
		if (i == 0)
		{
			if ((Size) d * p->init_rows > MaxAllocSize / sizeof(float))
				maas_train_param_error(key, range);
			p->init_cols = d;
			p->init = palloc(sizeof(float) * d * p->init_rows);
		}
		for (int j = 0; j < d; j++)
			p->init[(Size) i * d + j] = (float)
				maas_train_param_number(key, getIthJsonbValueFromContainer(c->val.binary.data, j),
										-FLT_MAX, FLT_MAX, false,
										"an array of k centers of finite real numbers");
	}
	p->kmeans.k = p->init_rows;
}

/*
 * An algorithm's own key: parsed and checked against its range (the
 * ranges the kernels' checks hold to, in the words of train_params.c);
 * false for a key of train_params.c's.
 */
bool
maas_train_tabular_param(TrainParams *p, const char *key, JsonbValue *v)
{
	MaasGbdtConfig *g = &p->gbdt;
	MaasKmeansConfig *km = &p->kmeans;
	char		range[64];

	if (p->algorithm == ALG_GBDT)
	{
		if (strcmp(key, "n_estimators") == 0)
			g->n_estimators = maas_train_param_int(key, v, 1, MAAS_GBDT_MAX_ROUNDS,
												   "an integer from 1 to 100000");
		else if (strcmp(key, "max_depth") == 0)
		{
			snprintf(range, sizeof(range), "an integer from 1 to %d", MAAS_GBDT_MAX_DEPTH);
			g->max_depth = maas_train_param_int(key, v, 1, MAAS_GBDT_MAX_DEPTH, range);
		}
		else if (strcmp(key, "learning_rate") == 0 || strcmp(key, "eta") == 0)
			g->eta = maas_train_param_number(key, v, 0.0, 1.0, true,
											 "a number greater than 0 and at most 1");
		else if (strcmp(key, "min_child_weight") == 0)
			g->min_child_weight = maas_train_param_number(key, v, 0.0, 1e30, false,
														  "a number of at least 0");
		else if (strcmp(key, "lambda") == 0 || strcmp(key, "reg_lambda") == 0)
			g->lambda = maas_train_param_number(key, v, 0.0, 1e30, false, "a number of at least 0");
		else if (strcmp(key, "alpha") == 0 || strcmp(key, "reg_alpha") == 0)
			g->alpha = maas_train_param_number(key, v, 0.0, 1e30, false, "a number of at least 0");
		else if (strcmp(key, "gamma") == 0)
			g->gamma = maas_train_param_number(key, v, 0.0, 1e30, false, "a number of at least 0");
		else if (strcmp(key, "subsample") == 0)
			g->subsample = maas_train_param_number(key, v, 0.0, 1.0, true,
												   "a number greater than 0 and at most 1");
		else if (strcmp(key, "colsample_bytree") == 0)
			g->colsample_bytree = maas_train_param_number(key, v, 0.0, 1.0, true,
														  "a number greater than 0 and at most 1");
		else if (strcmp(key, "max_bin") == 0)
		{
			snprintf(range, sizeof(range), "an integer from 2 to %d", MAAS_GBDT_MAX_BIN);
			g->max_bin = maas_train_param_int(key, v, 2, MAAS_GBDT_MAX_BIN, range);
		}
		else if (strcmp(key, "early_stopping_rounds") == 0)
			g->early_stopping_rounds = maas_train_param_int(key, v, 0, MAAS_GBDT_MAX_ROUNDS,
															"an integer from 0 to 100000");
		else if (strcmp(key, "scale_pos_weight") == 0)
			p->scale_pos_weight = maas_train_param_number(key, v, 0.0, 1e30, true,
														  "a number greater than 0");
		else if (strcmp(key, "class_weight") == 0)
			parse_class_weight(p, key, v);
		else if (strcmp(key, "base_score") == 0)
			g->base_score = maas_train_param_number(key, v, -1e30, 1e30, false,
													"a finite number");
		else
			return false;
		return true;
	}

	if (strcmp(key, "k") == 0)
	{
		snprintf(range, sizeof(range), "an integer from 1 to %d", MAAS_KMEANS_MAX_K);
		km->k = maas_train_param_int(key, v, 1, MAAS_KMEANS_MAX_K, range);
	}
	else if (strcmp(key, "max_iter") == 0)
		km->max_iter = maas_train_param_int(key, v, 1, 100000, "an integer from 1 to 100000");
	else if (strcmp(key, "tol") == 0)
		km->tol = maas_train_param_number(key, v, 0.0, 1.0, false, "a number from 0 to 1");
	else if (strcmp(key, "n_init") == 0)
		km->n_init = maas_train_param_int(key, v, 1, 1000, "an integer from 1 to 1000");
	else if (strcmp(key, "silhouette_sample") == 0)
		km->silhouette_sample = maas_train_param_int(key, v, 0, 1000000,
													 "an integer from 0 to 1000000");
	else if (strcmp(key, "init") == 0)
		parse_init(p, key, v);
	else
		return false;
	return true;
}

/* what the version and the run record keep of the params */
void
maas_train_tabular_params_json(TrainJob *job, StringInfo s)
{
	TrainParams *p = &job->p;

	if (p->algorithm == ALG_GBDT)
	{
		MaasGbdtConfig *g = &p->gbdt;

		appendStringInfo(s, ", \"n_estimators\": %d, \"max_depth\": %d, \"learning_rate\": %s",
						 g->n_estimators, g->max_depth, float8out_internal(g->eta));
		appendStringInfo(s, ", \"min_child_weight\": %s", float8out_internal(g->min_child_weight));
		appendStringInfo(s, ", \"lambda\": %s", float8out_internal(g->lambda));
		appendStringInfo(s, ", \"alpha\": %s", float8out_internal(g->alpha));
		appendStringInfo(s, ", \"gamma\": %s", float8out_internal(g->gamma));
		appendStringInfo(s, ", \"subsample\": %s", float8out_internal(g->subsample));
		appendStringInfo(s, ", \"colsample_bytree\": %s", float8out_internal(g->colsample_bytree));
		appendStringInfo(s, ", \"max_bin\": %d, \"early_stopping_rounds\": %d",
						 g->max_bin, g->early_stopping_rounds);
		if (!isnan(g->base_score))
			appendStringInfo(s, ", \"base_score\": %s", float8out_internal(g->base_score));
		if (p->scale_pos_weight > 0)
			appendStringInfo(s, ", \"scale_pos_weight\": %s", float8out_internal(p->scale_pos_weight));
		if (p->n_class_weight > 0)
		{
			appendStringInfoString(s, ", \"class_weight\": {");
			for (int i = 0; i < p->n_class_weight; i++)
			{
				if (i)
					appendStringInfoString(s, ", ");
				escape_json(s, p->class_weight_label[i]);
				appendStringInfo(s, ": %s", float8out_internal(p->class_weight[i]));
			}
			appendStringInfoChar(s, '}');
		}
	}
	else if (p->algorithm == ALG_KMEANS)
	{
		MaasKmeansConfig *km = &p->kmeans;

		appendStringInfo(s, ", \"k\": %d, \"max_iter\": %d, \"tol\": %s, \"n_init\": %d, "
						 "\"silhouette_sample\": " INT64_FORMAT ", \"init\": %s",
						 km->k, km->max_iter, float8out_internal(km->tol), km->n_init,
						 km->silhouette_sample, p->init ? "\"given\"" : "\"k-means++\"");
	}
}

/* ---- the fit ---- */

static void
tabular_failed(const MaasError *err)
{
	if (err->status == MAAS_ERR_NOMEM)
		maas_raise(err, 0, "out of memory while training", NULL);
	maas_raise(err, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL);
}

/*
 * The statistics of each input slot over the training rows, NaN (missing)
 * left out: what drift compares serving rows with.
 */
void
maas_train_gbdt_stats(TrainJob *job)
{
	int			w = job->width;
	int64	   *cnt = palloc0(sizeof(int64) * Max(w, 1));
	double	   *sum = palloc0(sizeof(double) * Max(w, 1));
	double	   *ss = palloc0(sizeof(double) * Max(w, 1));

	for (int64 r = 0; r < job->n_train; r++)
	{
		const float *x = job->x + (size_t) r * w;

		if ((r & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < w; j++)
			if (!isnan(x[j]))
			{
				cnt[j]++;
				sum[j] += x[j];
			}
	}
	for (int j = 0; j < w; j++)
		job->mean[j] = cnt[j] ? (float) (sum[j] / cnt[j]) : 0.0f;
	for (int64 r = 0; r < job->n_train; r++)
	{
		const float *x = job->x + (size_t) r * w;

		if ((r & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < w; j++)
			if (!isnan(x[j]))
			{
				double		dlt = x[j] - job->mean[j];

				ss[j] += dlt * dlt;
			}
	}
	for (int j = 0; j < w; j++)
		job->var[j] = cnt[j] ? ss[j] / cnt[j] : 0.0;
}

/* per class weights from params.class_weight or scale_pos_weight, or NULL */
static const double *
class_weights(TrainJob *job)
{
	TrainParams *p = &job->p;
	double	   *w;

	if (p->scale_pos_weight == 0 && p->n_class_weight == 0)
		return NULL;
	if (job->task != MAAS_TASK_CLASSIFICATION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"%s\" needs a classification target",
						p->n_class_weight ? "class_weight" : "scale_pos_weight")));
	if (p->scale_pos_weight > 0 && job->n_classes != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"scale_pos_weight\" needs a target with two classes"),
				 errdetail("Target column \"%s\" has %d classes.", job->target, job->n_classes),
				 errhint("Use params.class_weight.")));
	w = palloc(sizeof(double) * job->n_classes);
	for (int c = 0; c < job->n_classes; c++)
		w[c] = 1.0;
	if (p->scale_pos_weight > 0)
		w[1] = p->scale_pos_weight;
	for (int i = 0; i < p->n_class_weight; i++)
	{
		int			c = 0;

		while (c < job->n_classes && strcmp(job->label_text[c], p->class_weight_label[i]) != 0)
			c++;
		if (c == job->n_classes)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"class_weight\" names class \"%s\", which the target does not have",
							p->class_weight_label[i]),
					 errhint("Name the classes as maas_predict_label returns them.")));
		w[c] = p->class_weight[i];
	}
	return w;
}

/* the config's keys after the layers: labels, target, inputs, algorithm, params */
static void
config_tail(TrainJob *job, StringInfo s, const char *params)
{
	if (job->task == MAAS_TASK_CLASSIFICATION)
	{
		appendStringInfoString(s, ", \"labels\": [");
		for (int i = 0; i < job->n_classes; i++)
			appendStringInfo(s, "%s%s", i ? ", " : "", job->label_json[i]);
		appendStringInfoChar(s, ']');
	}
	if (job->target)
	{
		appendStringInfoString(s, ", \"target\": ");
		escape_json(s, job->target);
	}
	appendStringInfoString(s, ", ");
	maas_inputs_to_json(&job->inputs, s);
	appendStringInfo(s, ", \"algorithm\": \"%s\", \"params\": %s}", job->algorithm_name, params);
}

static void
gbdt_fit(TrainJob *job, float **out, char **metrics, double *primary,
		 bytea **weights, Jsonb **config, const char *params)
{
	MaasGbdtConfig cfg = job->p.gbdt;
	MaasTrainHooks hooks;
	MaasTrainSet data,
				val;
	MaasGbdtResult res;
	MaasTreesPlan *plan;
	MaasError	err;
	size_t		need;
	int64		nt = job->n_train;
	int			k = job->task == MAAS_TASK_CLASSIFICATION ? job->n_classes : 1;
	float	   *margin;
	StWriteTensor t[MAAS_TREES_TENSORS];
	int64		shapes[3];
	int			n_t;
	StringInfoData s;
	const char *meta_keys[1] = {"format"};
	const char *meta_vals[1] = {"pt"};

	if (job->task == MAAS_TASK_REGRESSION)
		cfg.objective = MAAS_GBDT_REGRESSION;
	else
		cfg.objective = job->n_classes == 2 ? MAAS_GBDT_BINARY : MAAS_GBDT_MULTI;
	cfg.n_classes = job->task == MAAS_TASK_CLASSIFICATION ? job->n_classes : 0;
	cfg.class_weight = class_weights(job);
	cfg.threads = Max(1, Min(maas_train_threads(), MAAS_POOL_MAX_THREADS));
	cfg.seed = job->p.seed;
	if (cfg.early_stopping_rounds > 0 && job->n_test == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("early stopping needs a holdout"),
				 errhint("Set params.test_size above 0, or leave out params.early_stopping_rounds.")));
	if (!maas_gbdt_check_config(&cfg, &err))
		tabular_failed(&err);

	maas_train_gbdt_stats(job);

	memset(&data, 0, sizeof(data));
	memset(&val, 0, sizeof(val));
	data.n = nt;
	data.d = job->width;
	data.x = job->x;
	data.cls = job->cls;
	data.y = job->yf;
	val.n = job->n_test;
	val.d = job->width;
	val.x = job->x + (size_t) nt * job->width;
	val.cls = job->cls ? job->cls + nt : NULL;
	val.y = job->yf ? job->yf + nt : NULL;
	job->val_is_holdout = true;
	job->loss_scale = 1.0;

	if (!maas_gbdt_memory(&cfg, nt, job->width, job->n_test, &need))
		need = SIZE_MAX;
	maas_train_check_memory(job, "Boosting (its bins, gradients, histograms and trees)", need);

	maas_train_hooks(job, &hooks);
	maas_progress_epoch(0, cfg.n_estimators, NAN);
	if (!maas_gbdt_fit(&cfg, &data, &val, &hooks, &res, &err))
		tabular_failed(&err);
	job->epochs_run = res.rounds_run;
	job->loss = res.train_loss;
	job->val_loss = res.val_loss;
	if (cfg.early_stopping_rounds > 0 && res.best_round < res.rounds_run)
		ereport(NOTICE,
				(errmsg("early stopping after round %d kept the %d rounds of the best holdout loss",
						res.rounds_run, res.best_round)));
	job->peak = Max(job->peak, MemoryContextMemAllocated(job->cxt, true));

	/* the holdout's class probabilities or values, as the served model gives them */
	maas_progress_phase(MAAS_PHASE_EVALUATING, -1);
	if ((plan = maas_trees_compile(&res.trees, &err)) == NULL)
		tabular_failed(&err);
	maas_train_check_memory(job, "The outputs of the holdout rows",
							2 * sizeof(float) * (Size) k * Max(job->n_test, 1));
	margin = palloc_extended(sizeof(float) * plan->n_groups * Max(job->n_test, 1), MCXT_ALLOC_HUGE);
	*out = palloc_extended(sizeof(float) * k * Max(job->n_test, 1), MCXT_ALLOC_HUGE);
	maas_trees_forward(plan, job->n_test, val.x, margin);
	for (int64 r = 0; r < job->n_test; r++)
	{
		float	   *o = *out + (size_t) r * k;
		const float *m = margin + (size_t) r * plan->n_groups;

		if (cfg.objective == MAAS_GBDT_REGRESSION)
			o[0] = m[0];
		else if (cfg.objective == MAAS_GBDT_BINARY)
		{
			o[1] = (float) (1.0 / (1.0 + exp(-(double) m[0])));
			o[0] = 1.0f - o[1];
		}
		else
		{
			memcpy(o, m, sizeof(float) * k);
			maas_softmax(o, k);
		}
	}
	if (job->n_test > 0)
		*metrics = maas_train_metrics_json(job, *out, primary);

	/* the version: the trees, then the output transform */
	n_t = maas_trees_tensors(&res.trees, t, shapes);
	initStringInfo(&s);
	appendStringInfo(&s, "{\"task\": \"%s\", \"n_features\": %d, \"layers\": [{\"op\": \"trees\"}%s]",
					 maas_task_name(job->task), job->width,
					 cfg.objective == MAAS_GBDT_BINARY ? ", {\"op\": \"sigmoid\"}" :
					 cfg.objective == MAAS_GBDT_MULTI ? ", {\"op\": \"softmax\"}" : "");
	appendStringInfo(&s, ", \"rounds\": %d", res.best_round);
	config_tail(job, &s, params);
	*weights = maas_write_safetensors(t, n_t, meta_keys, meta_vals, 1);
	*config = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

static void
kmeans_fit(TrainJob *job, char **metrics, double *primary, bytea **weights,
		   Jsonb **config, const char *params)
{
	MaasKmeansConfig cfg = job->p.kmeans;
	MaasKmeansResult res;
	MaasTrainHooks hooks;
	MaasError	err;
	const MaasBlas *blas;
	size_t		need;
	StWriteTensor t[3];
	int64		shapes[3];
	int			n_t = 0;
	StringInfoData s;
	const char *meta_keys[1] = {"format"};
	const char *meta_vals[1] = {"pt"};

	cfg.threads = Max(1, Min(maas_train_threads(), MAAS_POOL_MAX_THREADS));
	cfg.seed = job->p.seed;
	if (job->p.init)
	{
		if (job->p.init_cols != job->width)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("parameter \"init\" has centers of %d values, but a row has %d",
							job->p.init_cols, job->width),
					 errhint("Give each center a value for each input slot, in the order of the inputs.")));
		cfg.init = job->p.init;
	}
	job->loss_scale = 1.0;
	job->val_is_holdout = false;

	if (!maas_kmeans_memory(&cfg, job->n_train, job->width, &need))
		need = SIZE_MAX;
	maas_train_check_memory(job, "Clustering (its centers, distances and sums)", need);

	maas_train_hooks(job, &hooks);
	blas = maas_get_blas_threads(maas_train_threads());
	maas_progress_epoch(0, cfg.max_iter, NAN);
	if (!maas_kmeans_fit(blas, &cfg, job->n_train, job->width, job->x, &hooks, &res, &err))
		tabular_failed(&err);
	(void) maas_get_blas();
	job->epochs_run = res.n_iter;	/* no loss curve: inertia is in the metrics */
	job->peak = Max(job->peak, MemoryContextMemAllocated(job->cxt, true));

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"inertia\": ");
	appendStringInfoString(&s, float8out_internal(res.inertia));
	appendStringInfoString(&s, ", \"silhouette\": ");
	appendStringInfoString(&s, isfinite(res.silhouette) ? float8out_internal(res.silhouette) : "null");
	appendStringInfo(&s, ", \"silhouette_rows\": " INT64_FORMAT ", \"n_iter\": %d, \"converged\": %s, \"sizes\": [",
					 res.silhouette_rows, res.n_iter, res.converged ? "true" : "false");
	for (int c = 0; c < cfg.k; c++)
		appendStringInfo(&s, "%s" INT64_FORMAT, c ? ", " : "", res.sizes[c]);
	appendStringInfo(&s, "], \"n_train\": " INT64_FORMAT "}", job->n_train);
	*metrics = s.data;
	*primary = isfinite(res.silhouette) ? res.silhouette : NAN;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"task\": \"clustering\", \"n_features\": %d, \"layers\": [", job->width);
	if (job->p.scale != MAAS_SCALE_NONE)
	{
		shapes[0] = job->width;
		t[n_t++] = (StWriteTensor) {"scaler.mean", ST_F32, 1, &shapes[0], job->shift};
		t[n_t++] = (StWriteTensor) {"scaler.std", ST_F32, 1, &shapes[0], job->div};
		appendStringInfoString(&s, "{\"op\": \"standardize\", \"mean\": \"scaler.mean\", \"std\": \"scaler.std\"}, ");
	}
	shapes[1] = cfg.k;
	shapes[2] = job->width;
	t[n_t++] = (StWriteTensor) {"kmeans.centers", ST_F32, 2, &shapes[1], res.centers};
	appendStringInfoString(&s, "{\"op\": \"kmeans\"}]");
	config_tail(job, &s, params);
	*weights = maas_write_safetensors(t, n_t, meta_keys, meta_vals, 1);
	*config = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

/*
 * Fit boosted trees or k-means on the preprocessed rows: the holdout
 * outputs (gbdt; NULL for k-means), the metrics as JSON (NULL without a
 * holdout) and the primary metric of the deploy rule, the weights and the
 * config of the version.
 */
void
maas_train_tabular_fit(TrainJob *job, float **out, char **metrics, double *primary,
					   bytea **weights, Jsonb **config)
{
	*out = NULL;
	*metrics = NULL;
	*primary = NAN;
	if (job->p.algorithm == ALG_GBDT)
		gbdt_fit(job, out, metrics, primary, weights, config, maas_train_params_json(job));
	else
		kmeans_fit(job, metrics, primary, weights, config, maas_train_params_json(job));
}

/* ---- 'auto' ---- */

/* the rows as read, before the linear candidate's preprocessing */
typedef struct TrainAutoSnapshot
{
	float	   *x;
	int32	   *cls;
	float	   *yf;
	MaasInput  *in;
	MaasInputs	inputs;
} TrainAutoSnapshot;

TrainAutoSnapshot *
maas_train_auto_save(TrainJob *job)
{
	TrainAutoSnapshot *snap;
	Size		xbytes = sizeof(float) * (Size) job->raw_width * job->n;

	/* without a holdout there is nothing to choose by */
	if (job->p.test_size == 0)
		return NULL;
	maas_train_check_memory(job, "A copy of the rows for the second candidate of \"auto\"",
							xbytes + 2 * sizeof(float) * (Size) job->n);
	snap = palloc0(sizeof(TrainAutoSnapshot));
	snap->x = palloc_extended(Max(xbytes, 1), MCXT_ALLOC_HUGE);
	memcpy(snap->x, job->x, xbytes);
	if (job->cls)
	{
		snap->cls = palloc_extended(sizeof(int32) * job->n, MCXT_ALLOC_HUGE);
		memcpy(snap->cls, job->cls, sizeof(int32) * job->n);
	}
	if (job->yf)
	{
		snap->yf = palloc_extended(sizeof(float) * job->n, MCXT_ALLOC_HUGE);
		memcpy(snap->yf, job->yf, sizeof(float) * job->n);
	}
	snap->inputs = job->inputs;
	snap->in = palloc(sizeof(MaasInput) * Max(job->inputs.n, 1));
	memcpy(snap->in, job->inputs.in, sizeof(MaasInput) * job->inputs.n);
	return snap;
}

/*
 * The linear candidate is fit and its version built (weights, config,
 * metrics, primary, stats): fit boosted trees on the saved rows, keep
 * whichever wins by the rule above, and say which.
 */
void
maas_train_auto_gbdt(TrainJob *job, TrainAutoSnapshot *snap, bytea **weights,
					 Jsonb **config, char **metrics, double *primary, char **stats)
{
	TrainJob	linear = *job;
	const char *key = job->task == MAAS_TASK_CLASSIFICATION ? "f1" : "r2";
	float	   *out;
	bytea	   *g_weights;
	Jsonb	   *g_config;
	char	   *g_metrics;
	double		g_primary;
	bool		trees;

	if (snap == NULL)
	{
		ereport(NOTICE,
				(errmsg("algorithm \"auto\" chose \"%s\" for a %s target",
						job->algorithm_name, maas_task_name(job->task)),
				 errdetail("Without a holdout (test_size 0) it does not compare it with \"gbdt\".")));
		return;
	}

	/* the trees' rows: as read, unimputed, unscaled */
	job->x = snap->x;
	job->cls = snap->cls;
	job->yf = snap->yf;
	job->inputs = snap->inputs;
	job->inputs.in = snap->in;
	job->inputs.impute = MAAS_IMPUTE_NONE;
	job->p.algorithm = ALG_GBDT;
	maas_train_tabular_defaults(&job->p);
	job->algorithm_name = "gbdt";
	job->loss = job->val_loss = NULL;
	job->epochs_run = 0;
	maas_progress_phase(MAAS_PHASE_PREPROCESSING, job->n);
	maas_train_preprocess(job);
	maas_progress_phase(MAAS_PHASE_TRAINING, job->n);
	maas_train_tabular_fit(job, &out, &g_metrics, &g_primary, &g_weights, &g_config);

	trees = g_metrics != NULL && !isnan(g_primary) &&
		(isnan(*primary) || g_primary > *primary + AUTO_MARGIN);
	ereport(NOTICE,
			(errmsg("algorithm \"auto\" chose \"%s\" for a %s target",
					trees ? "gbdt" : linear.algorithm_name, maas_task_name(job->task)),
			 errdetail("Holdout %s: %s %.3f, gbdt %.3f; boosted trees are kept when they beat the linear model by more than %.2f.",
					   key, linear.algorithm_name, *primary, g_primary, AUTO_MARGIN)));
	if (trees)
	{
		*weights = g_weights;
		*config = g_config;
		*metrics = g_metrics;
		*primary = g_primary;
		*stats = maas_train_stats_json(job);
		return;
	}
	/* the linear model stays: what the run record reads of it */
	job->p = linear.p;
	job->algorithm_name = linear.algorithm_name;
	job->width = linear.width;
	job->inputs = linear.inputs;
	job->epochs_run = linear.epochs_run;
	job->loss = linear.loss;
	job->val_loss = linear.val_loss;
	job->loss_scale = linear.loss_scale;
	job->val_is_holdout = linear.val_is_holdout;
}
