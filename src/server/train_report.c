/*
 * train_report.c
 *		What maas_train leaves behind: the metrics, training statistics and
 *		params as JSON, the model's weights and config, the deploy rule, and
 *		the run recorded in maas.training_run.  The metrics writers serve
 *		maas_evaluate too.
 */
#include "train_job.h"
#include "registry.h"
#include "services.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"

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

/*
 * The holdout metrics as JSON, from the outputs of the holdout rows, and
 * the primary metric the deploy rule compares (macro F1 of a classifier,
 * R² of a regression; NaN if not finite, as JSON has it null).
 */
char *
maas_train_metrics_json(TrainJob *job, const float *out, double *primary)
{
	StringInfoData s;
	int64		nt = job->n_train;
	MaasError	err;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	if (job->task == MAAS_TASK_CLASSIFICATION)
	{
		MaasClassMetrics m;

		if (!maas_class_metrics(job->n_test, job->n_classes, job->cls + nt, out, &m, &err))
			maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE,
					   "could not compute the metrics", NULL);
		maas_append_class_metrics(&s, &m);
		*primary = m.f1;
	}
	else
	{
		MaasRegMetrics m;

		maas_reg_metrics(job->n_test, job->yf + nt, out, &m);
		maas_append_reg_metrics(&s, &m);
		*primary = m.r2;
	}
	if (!isfinite(*primary))
		*primary = NAN;
	appendStringInfo(&s, ", \"n_train\": " INT64_FORMAT ", \"n_test\": " INT64_FORMAT "}",
					 job->n_train, job->n_test);
	return s.data;
}

char *
maas_train_stats_json(TrainJob *job)
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

			if ((slot & 4095) == 0)
				CHECK_FOR_INTERRUPTS();
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

char *
maas_train_params_json(TrainJob *job)
{
	TrainParams *p = &job->p;
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"task\": \"%s\", \"test_size\": ", maas_task_name(job->task));
	append_double(&s, p->test_size);
	appendStringInfo(&s, ", \"seed\": " UINT64_FORMAT ", \"impute\": \"%s\", \"scale\": \"%s\", \"deploy\": \"%s\"",
					 p->seed, maas_impute_name(p->impute), maas_train_scale_name(p->scale),
					 maas_train_deploy_name(p->deploy));
	if (p->algorithm & ALG_TABULAR)
		maas_train_tabular_params_json(job, &s);
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
	if (p->algorithm == ALG_CNN)
		maas_train_cnn_params_json(p, &s);
	if (p->algorithm & ALG_DENSE)
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
void
maas_train_build_model(TrainJob *job, const MaasNnConfig *c, const MaasNnModel *m,
			bytea **weights, Jsonb **config)
{
	int			n_t = 2 + 2 * m->n_layers + maas_train_cnn_tensors(job);
	StWriteTensor *t = palloc0(sizeof(StWriteTensor) * n_t);
	int64	   *shapes = palloc(sizeof(int64) * 2 * n_t);
	int			k = 0;
	StringInfoData s;
	const char *meta_keys[1] = {"format"};
	const char *meta_vals[1] = {"pt"};

	initStringInfo(&s);
	appendStringInfo(&s, "{\"task\": \"%s\", \"n_features\": %d, ",
					 maas_task_name(job->task), job->width);
	if (job->cnn)
		appendStringInfo(&s, "\"input_shape\": [%d, %d, %d], ",
						 job->p.cnn.in_c, job->p.cnn.in_h, job->p.cnn.in_w);
	appendStringInfoString(&s, "\"layers\": [");
	if (job->p.scale != MAAS_SCALE_NONE)
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
	if (job->cnn)
		maas_train_cnn_layers(job, t, &k, &s);
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
					 job->algorithm_name, maas_train_params_json(job));

	*weights = maas_write_safetensors(t, k, meta_keys, meta_vals, 1);
	*config = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
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
bool
maas_train_deploy(TrainJob *job, int32 version, double primary)
{
	const char *key = job->task == MAAS_TASK_CLASSIFICATION ? "f1" :
		job->task == MAAS_TASK_CLUSTERING ? "silhouette" : "r2";
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

void
maas_train_record_run(TrainJob *job, int32 version, bool deployed, const char *source,
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
	if (job->target)
		values[5] = CStringGetTextDatum(job->target);
	else
		nulls[5] = 'n';			/* k-means */
	values[6] = DirectFunctionCall1(jsonb_in, CStringGetDatum(maas_train_params_json(job)));
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
