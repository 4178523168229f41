/*
 * optimize_eval.c
 *		Measuring the new version against its parent on the same rows: the
 *		parent's holdout rebuilt from its training run, or rows sampled from
 *		the training statistics (or random token ids); each version's
 *		outputs and speed (rows or tokens per second, one thread's batch),
 *		their agreement, and maas_evaluate of both on params.evaluate.
 */
#include "optimize_int.h"
#include "registry.h"
#include "services.h"
#include "source.h"

#include <math.h>
#include <time.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the net's outputs over the sample, once to warm up, then timed */
void
opt_run_model(const MaasModel *m, const Sample *s, Measure *r)
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
float *
opt_class_outputs(const MaasModel *m, const Measure *r, int n)
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

TrainJob *
opt_rebuild_holdout(Opt *o)
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
void
opt_skip_standardize(MaasModel *m)
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
void
opt_synthetic_sample(Opt *o, Sample *s)
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
void
opt_agreement(const Measure *a, const Measure *b, int n, double *top1, double *maxdiff)
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

Jsonb *
opt_jsonb_text(const char *s)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

/* maas_evaluate of a version on the user's query */
Jsonb *
opt_evaluate_query(Opt *o, int32 version)
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

double
opt_metric_of(Jsonb *metrics, const char *key)
{
	JsonbValue *v;

	if (metrics == NULL)
		return NAN;
	v = getKeyJsonValueFromContainer(&metrics->root, key, strlen(key), NULL);
	if (v == NULL || v->type != jbvNumeric)
		return NAN;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

Jsonb *
opt_with_optimization(Jsonb *metrics, const char *record)
{
	Jsonb	   *o = opt_jsonb_text(psprintf("{\"optimization\": %s}", record));

	if (metrics == NULL)
		return o;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(metrics), JsonbPGetDatum(o)));
}
