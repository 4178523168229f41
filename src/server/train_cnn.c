/*
 * train_cnn.c
 *		maas_train's algorithm "cnn": its params (input_shape, conv, pool;
 *		the dense layers, optimizer, batches and stopping are the mlp's),
 *		the features checked against the input shape before any row is
 *		read, the convolutional trainer of the kernel (train.h,
 *		maas_cnn_fit) run in the mlp's place, and the convolutions written
 *		into the stored layer program before its dense layers.
 *
 * train.c treats a cnn as an mlp whose first layers are convolutions: the
 * same config (nn_config), target standardization, validation split,
 * holdout and metrics; what differs is asked of this file.  The stored
 * config has "input_shape" and the layers
 *
 *		[standardize], conv2d, [maxpool2d], relu, ..., flatten,
 *		dense, relu, [dropout], ..., dense, softmax | sigmoid
 *
 * which the image ops of the runtime (ops_conv.c) serve like any model.
 */
#include "train_job.h"
#include "services.h"

#include <math.h>

#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#define CNN_MAX_SIDE		65536
#define CNN_MAX_FILTERS		4096
#define CNN_MAX_KERNEL		64

typedef struct TrainCnn
{
	MaasCnnConfig cfg;
	MaasCnnResult res;
} TrainCnn;

void
maas_train_cnn_defaults(TrainParams *p)
{
	/* the classic MNIST CNN: two 3x3 convolutions, each pooled 2x2 */
	memset(&p->cnn, 0, sizeof(p->cnn));
	p->cnn.pool = 2;
	p->cnn.n_conv = 2;
	p->cnn.conv[0] = (MaasCnnConv) {32, 3, 1, 0, 0};
	p->cnn.conv[1] = (MaasCnnConv) {64, 3, 1, 0, 0};
	p->hidden[0] = 128;
	p->batch_size = 64;
	p->epochs = 10;
}

static void
cnn_param_error(const char *key, const char *range)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("parameter \"%s\" must be %s", key, range)));
}

/* a whole number in [min, max] of a JSON value, or the error of range */
static int
cnn_int(JsonbValue *v, int min, int max, const char *key, const char *range)
{
	double		d;

	if (v == NULL || v->type != jbvNumeric)
		cnn_param_error(key, range);
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	if (!isfinite(d) || d != floor(d) || d < min || d > max)
		cnn_param_error(key, range);
	return (int) d;
}

static void
parse_conv(JsonbValue *v, TrainParams *p)
{
	const char *range = "an array of 1 to 8 convolutions, each {\"filters\", \"kernel\"} "
		"with optional \"stride\", \"padding\" and \"pool\"";
	JsonbContainer *arr;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		cnn_param_error("conv", range);
	arr = v->val.binary.data;
	p->cnn.n_conv = JsonContainerSize(arr);
	if (p->cnn.n_conv < 1 || p->cnn.n_conv > MAAS_CNN_MAX_CONV)
		cnn_param_error("conv", range);
	for (int i = 0; i < p->cnn.n_conv; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(arr, i);
		MaasCnnConv *cv = &p->cnn.conv[i];
		JsonbIterator *it;
		JsonbValue	k,
					val;
		JsonbIteratorToken tok;

		if (e->type != jbvBinary || !JsonContainerIsObject(e->val.binary.data))
			cnn_param_error("conv", range);
		*cv = (MaasCnnConv) {0, 0, 1, 0, 0};
		it = JsonbIteratorInit(e->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			char	   *key;

			if (tok != WJB_KEY)
				continue;
			key = pnstrdup(k.val.string.val, k.val.string.len);
			(void) JsonbIteratorNext(&it, &val, true);
			if (strcmp(key, "filters") == 0)
				cv->filters = cnn_int(&val, 1, CNN_MAX_FILTERS, "conv",
									  "an array of convolutions whose \"filters\" are whole numbers from 1 to 4096");
			else if (strcmp(key, "kernel") == 0)
				cv->kernel = cnn_int(&val, 1, CNN_MAX_KERNEL, "conv",
									 "an array of convolutions whose \"kernel\" is a whole number from 1 to 64");
			else if (strcmp(key, "stride") == 0)
				cv->stride = cnn_int(&val, 1, CNN_MAX_KERNEL, "conv",
									 "an array of convolutions whose \"stride\" is a whole number from 1 to 64");
			else if (strcmp(key, "padding") == 0)
				cv->padding = cnn_int(&val, 0, CNN_MAX_KERNEL, "conv",
									  "an array of convolutions whose \"padding\" is a whole number from 0 to 64");
			else if (strcmp(key, "pool") == 0)
				cv->pool = cnn_int(&val, 1, CNN_MAX_KERNEL, "conv",
								   "an array of convolutions whose \"pool\" is a whole number from 1 to 64");
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown key \"%s\" in convolution %d of parameter \"conv\"", key, i + 1),
						 errhint("A convolution has \"filters\", \"kernel\", \"stride\", \"padding\" and \"pool\".")));
			pfree(key);
		}
		if (cv->filters == 0 || cv->kernel == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("convolution %d of parameter \"conv\" needs \"filters\" and \"kernel\"", i + 1)));
	}
}

/* the params only a cnn has; false for any other key */
bool
maas_train_cnn_param(const char *key, JsonbValue *v, TrainParams *p)
{
	if (strcmp(key, "input_shape") == 0)
	{
		const char *range = "[channels, height, width], whole numbers from 1 to 65536";
		JsonbContainer *arr;
		int			d[3];

		if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data) ||
			JsonContainerSize(v->val.binary.data) != 3)
			cnn_param_error(key, range);
		arr = v->val.binary.data;
		for (int i = 0; i < 3; i++)
			d[i] = cnn_int(getIthJsonbValueFromContainer(arr, i), 1, CNN_MAX_SIDE, key, range);
		if ((int64) d[0] * d[1] * d[2] > 100000000)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("parameter \"input_shape\" [%d, %d, %d] makes more than 100000000 values a row",
							d[0], d[1], d[2])));
		p->cnn.in_c = d[0];
		p->cnn.in_h = d[1];
		p->cnn.in_w = d[2];
		p->cnn.shape_set = true;
		return true;
	}
	if (strcmp(key, "conv") == 0)
	{
		parse_conv(v, p);
		return true;
	}
	if (strcmp(key, "pool") == 0)
	{
		p->cnn.pool = cnn_int(v, 1, CNN_MAX_KERNEL, key, "a whole number from 1 to 64");
		return true;
	}
	return false;
}

/* the kernel's config of the params, for n_in inputs and n_out outputs */
static void
cnn_config(const TrainParams *p, const MaasNnConfig *nn, MaasCnnConfig *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nn = *nn;
	cfg->in_c = p->cnn.in_c;
	cfg->in_h = p->cnn.in_h;
	cfg->in_w = p->cnn.in_w;
	cfg->n_conv = p->cnn.n_conv;
	memcpy(cfg->conv, p->cnn.conv, sizeof(MaasCnnConv) * p->cnn.n_conv);
	cfg->threads = maas_train_threads();
}

/* the dimensions of the first non-null value of an array column */
static void
check_array_dims(TrainJob *job, const MaasInput *in)
{
	const TrainCnnParams *s = &job->p.cnn;
	const char *col = quote_identifier(in->name);
	char	   *q = psprintf("SELECT pg_catalog.array_ndims(%s), pg_catalog.array_length(%s, 1), "
							 "pg_catalog.array_length(%s, 2), pg_catalog.array_length(%s, 3) "
							 "FROM (%s) AS s WHERE %s IS NOT NULL LIMIT 1",
							 col, col, col, col, job->source_sql, col);
	int			d[4] = {0, 0, 0, 0};
	bool		ok;

	if (SPI_execute(q, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the dimensions of array column \"%s\"", in->name);
	MemoryContextSwitchTo(job->cxt);
	if (SPI_processed != 1)
		return;					/* train_load.c reports an empty column */
	for (int i = 0; i < 4; i++)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);

		d[i] = isnull ? 0 : DatumGetInt32(v);
	}
	switch (d[0])
	{
		case 1:
			ok = true;
			break;
		case 2:
			ok = s->in_c == 1 && d[1] == s->in_h && d[2] == s->in_w;
			break;
		case 3:
			ok = d[1] == s->in_c && d[2] == s->in_h && d[3] == s->in_w;
			break;
		default:
			ok = false;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("array column \"%s\" has %d dimensions that do not match parameter \"input_shape\" [%d, %d, %d]",
						in->name, d[0], s->in_c, s->in_h, s->in_w),
				 errdetail("Its first value is %s.",
						   d[0] == 2 ? psprintf("[%d][%d]", d[1], d[2]) :
						   d[0] == 3 ? psprintf("[%d][%d][%d]", d[1], d[2], d[3]) :
						   psprintf("an array of %d dimensions", d[0])),
				 errhint("Images are real[c * h * w], real[h][w] (one channel) or real[c][h][w].")));
}

/*
 * Before any row is read: the features are numbers or arrays making one
 * image of input_shape a row, and the layers fit that image.
 */
void
maas_train_cnn_check_inputs(TrainJob *job)
{
	TrainCnnParams *s = &job->p.cnn;
	MaasNnConfig nn;
	MaasCnnModel shapes;
	MaasError	err;
	int64		need;

	if (!s->shape_set)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("algorithm \"cnn\" needs parameter \"input_shape\""),
				 errhint("Give the images' [channels, height, width], e.g. [1, 28, 28].")));
	for (int i = 0; i < job->inputs.n; i++)
		if (job->inputs.in[i].kind == MAAS_INPUT_CATEGORY)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" cannot be a feature of a cnn", job->inputs.in[i].name),
					 errdetail("The features of a cnn are the numbers of its images."),
					 errhint("Leave the column out with params.features.")));
	need = (int64) s->in_c * s->in_h * s->in_w;
	if (need != job->raw_width)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parameter \"input_shape\" [%d, %d, %d] makes " INT64_FORMAT " values a row, but the features have %d",
						s->in_c, s->in_h, s->in_w, need, job->raw_width),
				 errhint("The features of a cnn are its images: one array column of c * h * w numbers, or that many number columns.")));
	if (job->inputs.n == 1 && job->inputs.in[0].kind == MAAS_INPUT_ARRAY)
		check_array_dims(job, &job->inputs.in[0]);

	/* every convolution's pooling defaults to params.pool */
	for (int i = 0; i < s->n_conv; i++)
		if (s->conv[i].pool == 0)
			s->conv[i].pool = s->pool;

	/* the geometry, with the real head sized later (1 output is enough) */
	memset(&nn, 0, sizeof(nn));
	nn.n_in = job->raw_width;
	nn.n_hidden = job->p.n_hidden;
	memcpy(nn.hidden, job->p.hidden, sizeof(int) * job->p.n_hidden);
	nn.n_out = 1;
	job->cnn = MemoryContextAllocZero(job->cxt, sizeof(TrainCnn));
	cnn_config(&job->p, &nn, &job->cnn->cfg);
	if (!maas_cnn_check(&job->cnn->cfg, &shapes, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
				   "Use a smaller kernel or pool, padding, or fewer convolutions (params.conv, params.pool).");
}

bool
maas_train_cnn_memory(TrainJob *job, const MaasNnConfig *c, int64 n_fit, size_t *bytes)
{
	cnn_config(&job->p, c, &job->cnn->cfg);
	return maas_cnn_memory(&job->cnn->cfg, n_fit, bytes);
}

/* maas_cnn_fit, leaving the dense head in res as maas_nn_fit would */
bool
maas_train_cnn_fit(TrainJob *job, const MaasBlas *blas, const MaasNnConfig *c,
				   const MaasTrainSet *data, const MaasTrainSet *val,
				   const MaasTrainHooks *hooks, MaasNnResult *res, MaasError *err)
{
	TrainCnn   *cnn = job->cnn;
	bool		ok;

	cnn_config(&job->p, c, &cnn->cfg);
	ok = maas_cnn_fit(blas, &cnn->cfg, data, val, hooks, &cnn->res, err);
	memset(res, 0, sizeof(*res));
	res->model = cnn->res.model.head;
	res->epochs_run = cnn->res.epochs_run;
	res->best_epoch = cnn->res.best_epoch;
	res->loss = cnn->res.loss;
	res->val_loss = cnn->res.val_loss;
	res->val_score = cnn->res.val_score;
	res->diverged_epoch = cnn->res.diverged_epoch;
	return ok;
}

/*
 * The outputs of n rows.  train.c folds a regression's target scale into
 * the head it got from maas_train_cnn_fit, whose weights are these.
 */
bool
maas_train_cnn_predict(TrainJob *job, const MaasBlas *blas, const float *x, int64 n,
					   const MaasTrainHooks *hooks, float *out, MaasError *err)
{
	MaasCnnConfig eval = job->cnn->cfg;
	size_t		need;

	/* what maas_cnn_predict allocates: the fit's buffers without batches */
	eval.nn.batch_size = 1;
	if (!maas_cnn_memory(&eval, 0, &need))
		need = SIZE_MAX;
	maas_train_check_memory(job, "The network's evaluation", need);
	return maas_cnn_predict(blas, &job->cnn->cfg, &job->cnn->res.model, x, n, hooks, out, err);
}

/* tensors the convolutions add to the stored weights */
int
maas_train_cnn_tensors(TrainJob *job)
{
	return job->cnn ? 2 * job->cnn->res.model.n_conv : 0;
}

/*
 * The convolutions' tensors into t (from *k on) and their layers, up to
 * the flatten the dense layers read, into s
 */
void
maas_train_cnn_layers(TrainJob *job, StWriteTensor *t, int *k, StringInfo s)
{
	const MaasCnnModel *m = &job->cnn->res.model;

	for (int i = 0; i < m->n_conv; i++)
	{
		const MaasConv2d *g = &m->conv[i];
		int64	   *ws = palloc(sizeof(int64) * 5);

		ws[0] = g->c_out;
		ws[1] = g->c_in;
		ws[2] = g->kh;
		ws[3] = g->kw;
		ws[4] = g->c_out;
		t[(*k)++] = (StWriteTensor)
		{
			psprintf("conv%d.weight", i + 1), ST_F32, 4, ws, m->w[i]
		};
		t[(*k)++] = (StWriteTensor)
		{
			psprintf("conv%d.bias", i + 1), ST_F32, 1, &ws[4], m->b[i]
		};
		appendStringInfo(s, "{\"op\": \"conv2d\", \"weight\": \"conv%d.weight\", \"bias\": \"conv%d.bias\"",
						 i + 1, i + 1);
		if (g->stride_h != 1)
			appendStringInfo(s, ", \"stride\": %d", g->stride_h);
		if (g->pad_top != 0)
			appendStringInfo(s, ", \"padding\": %d", g->pad_top);
		appendStringInfoString(s, "}, ");
		if (m->pooled[i])
			appendStringInfo(s, "{\"op\": \"maxpool2d\", \"kernel\": %d}, ", m->pool[i].kh);
		appendStringInfoString(s, "{\"op\": \"relu\"}, ");
	}
	appendStringInfoString(s, "{\"op\": \"flatten\"}, ");
}

/* the cnn's own keys of the params recorded with a version */
void
maas_train_cnn_params_json(const TrainParams *p, StringInfo s)
{
	appendStringInfo(s, ", \"input_shape\": [%d, %d, %d], \"conv\": [",
					 p->cnn.in_c, p->cnn.in_h, p->cnn.in_w);
	for (int i = 0; i < p->cnn.n_conv; i++)
	{
		const MaasCnnConv *cv = &p->cnn.conv[i];

		appendStringInfo(s, "%s{\"filters\": %d, \"kernel\": %d, \"stride\": %d, \"padding\": %d, \"pool\": %d}",
						 i ? ", " : "", cv->filters, cv->kernel, cv->stride, cv->padding,
						 cv->pool ? cv->pool : p->cnn.pool);
	}
	appendStringInfoChar(s, ']');
}
