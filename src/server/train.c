/*
 * train.c
 *		maas_train: from a table or query to a stored, evaluated and
 *		(by rule) deployed model version.  This file holds the entry point,
 *		the settings and the fitting; the phases before and after it live
 *		in train_params.c, train_load.c and train_report.c (train_job.h).
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
#include "train_job.h"
#include "progress.h"
#include "registry.h"
#include "services.h"
#include "source.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

/* settings */
static int	max_training_memory_kb = 1048576;
static bool training_notices = true;
static int	training_threads = 0;

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

/* maas.max_training_memory in bytes, for maas_train and maas_evaluate */
Size
maas_max_training_memory(void)
{
	return (Size) max_training_memory_kb * 1024;
}

void
maas_train_memory_error(TrainJob *job, const char *what, Size need)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("training would need more memory than maas.max_training_memory allows"),
			 errdetail("%s needs %zu kB; the setting allows %d kB.",
					   what, need / 1024, max_training_memory_kb),
			 errhint("Raise maas.max_training_memory, train on fewer rows (TABLESAMPLE, LIMIT), "
					 "or choose a smaller model.")));
}

/*
 * Raise unless need more bytes fit the limit with what is allocated and
 * reserved (train_job.h); sizes that overflow do not fit.
 */
void
maas_train_check_memory(TrainJob *job, const char *what, Size need)
{
	size_t		total;

	if (!maas_add_size(MemoryContextMemAllocated(job->cxt, true), job->reserved, &total) ||
		!maas_add_size(total, need, &total))
		total = SIZE_MAX;
	if (total > job->limit)
		maas_train_memory_error(job, what, total);
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
				(errmsg("%s %d of %d: loss %.4f, %s loss %.4f, %s %s %.4f, %.1f s",
						job->p.algorithm == ALG_GBDT ? "round" : "epoch",
						r->epoch, r->epochs, r->loss * job->loss_scale,
						job->val_is_holdout ? "holdout" : "validation",
						r->val_loss * job->loss_scale,
						job->val_is_holdout ? "holdout" : "validation",
						job->task == MAAS_TASK_CLASSIFICATION ? "accuracy" : "r2",
						r->val_score, secs)));
	else
		ereport(NOTICE,
				(errmsg("%s %d of %d: loss %.4f, %.1f s",
						job->p.algorithm == ALG_GBDT ? "round" :
						job->p.algorithm == ALG_KMEANS ? "iteration" : "epoch",
						r->epoch, r->epochs, r->loss * job->loss_scale, secs)));
}

/* the per-epoch hooks of a trainer: interrupts, progress, notices */
void
maas_train_hooks(TrainJob *job, MaasTrainHooks *hooks)
{
	hooks->arg = job;
	hooks->tick = maas_check_interrupts;
	hooks->epoch = train_epoch;
}

/* the threads a trainer's own pool may use: maas.training_threads, or
 * maas.blas_threads when that is 0 */
int
maas_train_threads(void)
{
	const char *v;

	if (training_threads > 0)
		return training_threads;
	v = GetConfigOption("maas.blas_threads", true, false);
	return v ? Max(atoi(v), 1) : 1;
}

/* a trainer's error (train.h) as the user sees it */
static void
train_failed(TrainJob *job, const MaasError *err)
{
	switch (err->status)
	{
		case MAAS_ERR_DIVERGED:
			maas_raise(err, 0, NULL,
					   job->p.algorithm == ALG_LINEAR ?
					   "Use a lower learning rate (params.lr) or a positive l2." :
					   "Use a lower learning rate (params.lr).");
		case MAAS_ERR_UNSUPPORTED:
			maas_raise(err, 0, "the BLAS library lacks what linear training needs",
					   "Use OpenBLAS (libopenblas0), which includes LAPACK.");
		case MAAS_ERR_NOMEM:
			maas_raise(err, 0, "out of memory while training", NULL);
		default:
			maas_raise(err, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL);
	}
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
	if (p->algorithm & ALG_DENSE)
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

/* fail early, before reading any row, if the caller may not add versions */
static void
check_may_train(const char *model)
{
	maas_require_model_owner(model);
}

static const MaasBlas *
training_blas(void)
{
	return maas_get_blas_threads(training_threads);
}

/* 1 / div of each input slot, as the standardize layer computes it */
static float *
holdout_inv(TrainJob *job)
{
	float	   *inv = palloc(sizeof(float) * Max(job->width, 1));

	for (int j = 0; j < job->width; j++)
		inv[j] = 1.0f / job->div[j];
	return inv;
}

/*
 * The holdout's outputs when its rows were not moved (job->holdout, the
 * normal equations summed while reading): a block of them at a time,
 * gathered in the split's order and scaled as maas_prep_scale would have.
 */
#define HOLDOUT_BLOCK	256

static void
predict_holdout(TrainJob *job, const MaasBlas *blas, const MaasNnConfig *c,
				const MaasNnModel *m, const MaasTrainHooks *hooks, float *out)
{
	bool		scaled = job->p.scale != MAAS_SCALE_NONE;
	float	   *inv = scaled ? holdout_inv(job) : NULL;
	float	   *block = palloc(sizeof(float) * HOLDOUT_BLOCK * job->width);
	MaasError	err;

	for (int64 i = 0; i < job->n_test; i += HOLDOUT_BLOCK)
	{
		int64		k = Min(HOLDOUT_BLOCK, job->n_test - i);

		CHECK_FOR_INTERRUPTS();
		maas_prep_gather(job->x, job->width, job->holdout + i, k,
						 scaled ? job->shift : NULL, inv, block);
		if (!maas_nn_predict(blas, c, m, block, k, hooks, out + i, &err))
			train_failed(job, &err);
	}
}

/*
 * Fit the algorithm on the training rows, score the holdout; returns the
 * net and fills out (holdout outputs).
 */
static void
fit(TrainJob *job, MaasNnConfig *c, MaasNnModel *m, float **out)
{
	const MaasBlas *blas = training_blas();
	MaasTrainHooks hooks = {job, maas_check_interrupts, train_epoch};
	MaasTrainSet data;
	MaasTrainSet val;
	MaasError	err;
	int64		nt = job->n_train;
	int			k = job->task == MAAS_TASK_CLASSIFICATION ? job->n_classes : 1;
	float	   *ys = NULL;
	double		ymean = 0,
				ystd = 1;
	size_t		need;
	bool		scaled = job->p.scale != MAAS_SCALE_NONE;

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

		if (!maas_mul_size((size_t) job->width, (size_t) job->width * 2 + 2048, &need) ||
			!maas_mul_size(need, sizeof(double), &need))
			need = SIZE_MAX;
		maas_train_check_memory(job, "The normal equations", need);
		if (job->gram)
		{
			if (!maas_linear_fit_gram(blas, job->gram, scaled ? job->shift : NULL,
									  scaled ? holdout_inv(job) : NULL, job->p.l2,
									  &hooks, &lr, &err))
				train_failed(job, &err);
		}
		else if (!maas_linear_fit(blas, &data, job->p.l2, &hooks, &lr, &err))
			train_failed(job, &err);
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
			maas_train_check_memory(job, "The standardized target", sizeof(float) * (Size) job->n);
			ys = MemoryContextAllocExtended(job->cxt, sizeof(float) * job->n, MCXT_ALLOC_HUGE);
			for (int64 r = 0; r < job->n; r++)
				ys[r] = (float) ((job->yf[r] - ymean) / ystd);
			data.y = ys;
			job->loss_scale = ystd * ystd;
		}

		if (!(job->p.algorithm == ALG_CNN ? maas_train_cnn_memory(job, c, n_fit, &need) :
			  maas_nn_memory(c, n_fit, &need)))
			need = SIZE_MAX;
		maas_train_check_memory(job, "The network, its optimizer state and workspace", need);

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
		if (!(job->p.algorithm == ALG_CNN ?
			  maas_train_cnn_fit(job, blas, c, &data, &val, &hooks, &res, &err) :
			  maas_nn_fit(blas, c, &data, &val, &hooks, &res, &err)))
			train_failed(job, &err);
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
	maas_train_check_memory(job, "The outputs of the holdout rows",
							sizeof(float) * (Size) k * Max(job->n_test, 1));
	*out = MemoryContextAllocExtended(job->cxt, sizeof(float) * k * Max(job->n_test, 1),
									  MCXT_ALLOC_HUGE);
	if (job->holdout)
		predict_holdout(job, blas, c, m, &hooks, *out);
	else if (!(job->p.algorithm == ALG_CNN ?
			   maas_train_cnn_predict(job, blas, job->x + (size_t) nt * job->width, job->n_test,
									  &hooks, *out, &err) :
			   maas_nn_predict(blas, c, m, job->x + (size_t) nt * job->width, job->n_test,
							   &hooks, *out, &err)))
		train_failed(job, &err);
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
	Jsonb	   *metrics = NULL;
	int32		version = 0;
	bool		deployed = false;
	Datum		result[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i) && !(i == 2 && !PG_ARGISNULL(3) &&
								 strcmp(text_to_cstring(PG_GETARG_TEXT_PP(3)), "kmeans") == 0))
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
	job->target = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	maas_check_model_name(job->model);
	job->p.algorithm = maas_train_parse_algorithm(text_to_cstring(PG_GETARG_TEXT_PP(3)));
	if (job->p.algorithm == ALG_KMEANS && job->target != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("algorithm \"kmeans\" takes no target"),
				 errhint("Pass NULL as the target: every column named is a feature.")));
	maas_train_parse_params(PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4), &job->p);
	job->limit = maas_max_training_memory();

	job->cxt = AllocSetContextCreate(caller, "maas training", ALLOCSET_DEFAULT_SIZES);
	job->row_cxt = AllocSetContextCreate(job->cxt, "maas training row", ALLOCSET_SMALL_SIZES);

	maas_progress_begin(job->model, maas_train_algorithm_name(job->p.algorithm));
	PG_TRY();
	{
		MaasNnConfig c;
		MaasNnModel m;
		float	   *out;
		bytea	   *weights;
		Jsonb	   *config;
		char	   *metrics_text = NULL;
		char	   *stats;
		double		primary = NAN;
		bool		is_auto = false;
		struct TrainAutoSnapshot *snap = NULL;

		MemoryContextSwitchTo(job->cxt);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* SPI_connect moved to its own context, which SPI_finish frees */
		MemoryContextSwitchTo(job->cxt);
		check_may_train(job->model);
		MemoryContextSwitchTo(job->cxt);
		job->source_sql = MemoryContextStrdup(job->cxt, maas_source_sql(source));
		job->source_relid = maas_source_relid(source);
		maas_train_plan_columns(job);
		job->want_gram = job->p.algorithm == ALG_LINEAR;
		if (job->p.algorithm == ALG_CNN)
			maas_train_cnn_check_inputs(job);
		maas_train_load_rows(job);
		SPI_finish();
		MemoryContextSwitchTo(job->cxt);

		if (job->p.algorithm == ALG_KMEANS)
		{
			if (job->n == 0)
				ereport(ERROR,
						(errcode(ERRCODE_NO_DATA_FOUND),
						 errmsg("the source has no rows")));
			job->task = MAAS_TASK_CLUSTERING;
		}
		else
			maas_train_resolve_task(job);
		if (job->p.algorithm == ALG_AUTO)
		{
			/*
			 * The linear candidate with its defaults, then the params again;
			 * boosted trees are the other (train_tabular.c), once it is fit.
			 */
			job->p.algorithm = job->task == MAAS_TASK_CLASSIFICATION ? ALG_LOGISTIC : ALG_LINEAR;
			maas_train_parse_params(PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4), &job->p);
			is_auto = true;
		}
		job->algorithm_name = maas_train_algorithm_name(job->p.algorithm);
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

		if (is_auto)
			snap = maas_train_auto_save(job);
		maas_train_preprocess(job);

		maas_progress_phase(MAAS_PHASE_TRAINING, job->n);
		if (job->p.algorithm & ALG_TABULAR)
			maas_train_tabular_fit(job, &out, &metrics_text, &primary, &weights, &config);
		else
		{
			fit(job, &c, &m, &out);
			if (job->n_test > 0)
				metrics_text = maas_train_metrics_json(job, out, &primary);
		}
		stats = maas_train_stats_json(job);

		maas_progress_phase(MAAS_PHASE_STORING, -1);
		if (!(job->p.algorithm & ALG_TABULAR))
			maas_train_build_model(job, &c, &m, &weights, &config);
		if (is_auto)
			maas_train_auto_gbdt(job, snap, &weights, &config, &metrics_text, &primary, &stats);
		MemoryContextSwitchTo(caller);
		/* the metrics are stored and returned: one Jsonb for both */
		if (metrics_text)
			metrics = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics_text)));
		version = maas_store_version(job->model, job->algorithm_name, weights, config, metrics,
									 DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(stats))),
									 0);
		if (metrics_text == NULL)	/* k-means has metrics without a holdout */
			ereport(NOTICE,
					(errmsg("no holdout: version %d of model \"%s\" has no metrics",
							version, job->model),
					 errhint("Measure it with maas_evaluate on labelled rows it was not trained on.")));
		deployed = maas_train_deploy(job, version, primary);
		maas_train_record_run(job, version, deployed, source, job->width);
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
		result[4] = JsonbPGetDatum(metrics);
	else
		nulls[4] = true;
	result[5] = BoolGetDatum(deployed);
	MemoryContextDelete(job->cxt);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, nulls)));
}
