/*
 * evaluate.c
 *		maas_evaluate: a model version's metrics on new labelled rows.
 *
 * The rows are read like maas_train reads them (a table, view or query,
 * through SPI into a DestReceiver) and encoded by the model's own inputs,
 * the way maas_predict(model, row) does; they are scored in chunks through
 * the serving runtime, so the numbers are those of the served model.  Only
 * the outputs and the true labels are kept, not the rows.
 */
#include "serve.h"
#include "source.h"
#include "inputs.h"
#include "predict_batch.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/* rows scored together, unless maas.batch_memory allows fewer */
#define EVAL_CHUNK	256

typedef struct EvalJob
{
	MaasSourceReader reader;	/* must be first */
	MaasServeState *st;
	MaasInputs *inputs;
	MaasBinding *bind;
	MaasBinding target_b;
	int			target_attno;
	const char *target;
	const MaasBlas *blas;
	int			k;				/* outputs kept per row */
	/* the model's classes by label, looked up per row */
	MaasStringSet *label_set;	/* label texts -> class */
	float8	   *value_sorted;	/* numeric labels, sorted */
	int32	   *value_class;	/* ... and their classes */
	MemoryContext cxt;
	MemoryContext row_cxt;
	/* the chunk being filled */
	MaasBatchBuffers chunk;
	int			in_chunk;
	/* kept, for the metrics: k outputs and the label of each row */
	float	   *out;
	int32	   *cls;
	float	   *y;
	int64		n;
	int64		cap;
	Size		limit;			/* maas.max_training_memory */
	Size		fixed;			/* what the metrics need besides the rows */
} EvalJob;

/* inputs for a model that does not name its columns: every other column */
static MaasInputs *
positional_inputs(EvalJob *ej, TupleDesc td)
{
	MaasInputs *inputs = palloc0(sizeof(MaasInputs));
	int			n_in = ej->st->m->net.n_in;
	int			numbers = 0,
				arrays = 0,
				offset = 0;

	inputs->in = palloc0(sizeof(MaasInput) * Max(td->natts, 1));
	inputs->impute = MAAS_IMPUTE_ERROR;
	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(td, i);
		MaasInput  *in;

		if (att->attisdropped || i + 1 == ej->target_attno)
			continue;
		in = &inputs->in[inputs->n++];
		in->name = pstrdup(NameStr(att->attname));
		if (!maas_feature_kind(att->atttypid, &in->kind) || in->kind == MAAS_INPUT_CATEGORY)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" has type %s, which cannot be a feature of this model",
							in->name, format_type_be(att->atttypid)),
					 errdetail("Model \"%s\" does not name its columns, so every column but the target is a feature, in order: numbers or numeric arrays.",
							   ej->st->model)));
		if (in->kind == MAAS_INPUT_NUMBER)
			numbers++;
		else
			arrays++;
	}
	if (arrays > 1 || (arrays == 0 && numbers != n_in) || (arrays == 1 && numbers >= n_in))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the source's columns do not make the %d features model \"%s\" takes",
						n_in, ej->st->model),
				 errdetail("The model does not name its columns; the source must have, besides the target, "
						   "one numeric array column or %d number columns.", n_in)));
	for (int i = 0; i < inputs->n; i++)
	{
		MaasInput  *in = &inputs->in[i];

		in->width = in->kind == MAAS_INPUT_NUMBER ? 1 : n_in - numbers;
		in->length = in->width;
		in->offset = offset;
		offset += in->width;
	}
	inputs->width = offset;
	return inputs;
}

static int
cmp_value_class(const void *a, const void *b, void *arg)
{
	const float8 *v = (const float8 *) arg;
	float8		x = v[*(const int32 *) a],
				y = v[*(const int32 *) b];

	return (x > y) - (x < y);
}

/*
 * Index the model's labels once, so that each row's class is a hash or a
 * binary search away whatever the number of classes.
 */
static void
index_labels(EvalJob *ej)
{
	const MaasModel *m = ej->st->m;

	if (m->labels != NULL)
	{
		bool		full;

		ej->label_set = maas_string_set_create(m->n_classes);
		for (int i = 0; i < m->n_classes; i++)
		{
			CHECK_FOR_INTERRUPTS();
			(void) maas_string_set_add(ej->label_set, m->labels[i], &full);
		}
	}
	if (m->label_values != NULL)
	{
		ej->value_class = palloc_extended(sizeof(int32) * m->n_classes, MCXT_ALLOC_HUGE);
		ej->value_sorted = palloc_extended(sizeof(float8) * m->n_classes, MCXT_ALLOC_HUGE);
		for (int i = 0; i < m->n_classes; i++)
			ej->value_class[i] = i;
		qsort_arg(ej->value_class, m->n_classes, sizeof(int32), cmp_value_class,
				  m->label_values);
		for (int i = 0; i < m->n_classes; i++)
			ej->value_sorted[i] = m->label_values[ej->value_class[i]];
	}
}

/* the class whose numeric label is d, or -1 */
static int32
value_to_class(EvalJob *ej, double d)
{
	int			lo = 0,
				hi = ej->st->m->n_classes - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (ej->value_sorted[mid] == d)
			return ej->value_class[mid];
		if (ej->value_sorted[mid] < d)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static int32
target_class(EvalJob *ej, Datum v)
{
	const MaasModel *m = ej->st->m;
	bool		number = maas_type_is_number(ej->target_b.typid);
	char	   *text;
	int32		cls;

	if (number && (m->label_values || m->labels == NULL))
	{
		double		d = maas_datum_number(v, ej->target_b.typid);

		if (m->label_values)
		{
			if ((cls = value_to_class(ej, d)) >= 0)
				return cls;
		}
		else if (d == floor(d) && d >= 0 && d < m->n_classes)
			return (int32) d;
		text = float8out_internal(d);
	}
	else
	{
		text = maas_datum_text(v, &ej->target_b);
		if (m->labels && (cls = maas_string_set_find(ej->label_set, text)) >= 0)
			return cls;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("target column \"%s\" holds \"%s\", which is not a class of model \"%s\"",
					ej->target, text, ej->st->model),
			 errhint("maas_evaluate scores rows whose labels the model knows.")));
	return 0;
}

static void
flush_chunk(EvalJob *ej)
{
	const MaasModel *m = ej->st->m;
	const float *o;

	if (ej->in_chunk == 0)
		return;
	CHECK_FOR_INTERRUPTS();
	o = maas_serve_forward(ej->st, ej->blas, ej->in_chunk, ej->chunk.x,
						   maas_batch_work(&ej->chunk, ej->in_chunk));
	for (int r = 0; r < ej->in_chunk; r++)
	{
		float	   *dst = ej->out + (ej->n - ej->in_chunk + r) * ej->k;
		const float *src = o + (size_t) r * m->net.n_out;

		if (m->task == MAAS_TASK_REGRESSION)
			dst[0] = src[0];
		else if (m->sigmoid_binary)
		{
			dst[0] = 1.0f - src[0];
			dst[1] = src[0];
		}
		else
		{
			memcpy(dst, src, sizeof(float) * ej->k);
			if (!m->outputs_proba)
				maas_softmax(dst, ej->k);
		}
	}
	ej->in_chunk = 0;
}

/* bytes the kept arrays take for rows rows */
static Size
kept_bytes(const EvalJob *ej, int64 rows)
{
	return (Size) rows * (sizeof(float) * (Size) ej->k + sizeof(int32) + sizeof(float));
}

static void
evaluation_too_large(const EvalJob *ej, const char *what, Size need)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("evaluation would need more memory than maas.max_training_memory allows"),
			 errdetail("%s needs %zu kB; the setting allows %zu kB.",
					   what, need / 1024, ej->limit / 1024),
			 errhint("Evaluate on fewer rows, or raise maas.max_training_memory.")));
}

/*
 * Room for twice the rows kept so far (from 64), counted against the limit
 * with what the metrics need before it is allocated.
 */
static void
grow_kept(EvalJob *ej)
{
	int64		cap = ej->cap == 0 ? 64 : ej->cap * 2;
	Size		need;

	if ((uint64) cap > (uint64) (MaxAllocHugeSize / (sizeof(float) * (Size) ej->k + 8)))
		evaluation_too_large(ej, psprintf("Keeping the outputs of %lld rows", (long long) cap),
							 MaxAllocHugeSize);
	need = kept_bytes(ej, cap) + ej->fixed +
		(ej->k == 2 ? sizeof(float) * 2 * (Size) cap : 0);	/* ROC AUC sorts the scores */
	if (need > ej->limit)
		evaluation_too_large(ej, psprintf("Keeping the outputs of %lld rows of %d classes",
										  (long long) ej->n + 1, ej->k), need);
	if (ej->out == NULL)
	{
		/* the receiver runs in the executor's memory: ours is ej->cxt */
		ej->out = MemoryContextAllocExtended(ej->cxt, sizeof(float) * ej->k * cap, MCXT_ALLOC_HUGE);
		ej->cls = MemoryContextAllocExtended(ej->cxt, sizeof(int32) * cap, MCXT_ALLOC_HUGE);
		ej->y = MemoryContextAllocExtended(ej->cxt, sizeof(float) * cap, MCXT_ALLOC_HUGE);
	}
	else
	{
		ej->out = repalloc_huge(ej->out, sizeof(float) * ej->k * cap);
		ej->cls = repalloc_huge(ej->cls, sizeof(int32) * cap);
		ej->y = repalloc_huge(ej->y, sizeof(float) * cap);
	}
	ej->cap = cap;
}

static void
eval_receive(MaasSourceReader *reader, TupleTableSlot *slot)
{
	EvalJob    *ej = (EvalJob *) reader;
	MemoryContext old;
	float	   *row;
	int			t = ej->target_attno - 1;

	slot_getallattrs(slot);
	if (slot->tts_isnull[t])
		return;
	if (ej->n == ej->cap)
		grow_kept(ej);
	maas_batch_reserve(&ej->chunk, ej->in_chunk);
	old = MemoryContextSwitchTo(ej->row_cxt);
	row = ej->chunk.x + (size_t) ej->in_chunk * ej->inputs->width;
	for (int i = 0; i < ej->inputs->n; i++)
	{
		MaasInput  *in = &ej->inputs->in[i];
		int			a = ej->bind[i].attno - 1;

		maas_encode(ej->inputs, in, &ej->bind[i], slot->tts_values[a], slot->tts_isnull[a],
					row + in->offset, true, ej->n + 1);
	}
	if (ej->st->m->task == MAAS_TASK_REGRESSION)
	{
		float		v = (float) maas_datum_number(slot->tts_values[t], ej->target_b.typid);

		if (!isfinite(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target column \"%s\" holds a value that is not finite", ej->target),
					 errdetail("The value in row %lld is %s.", (long long) ej->n + 1,
							   isnan(v) ? "NaN" : "infinite")));
		ej->y[ej->n] = v;
	}
	else
		ej->cls[ej->n] = target_class(ej, slot->tts_values[t]);
	MemoryContextSwitchTo(old);
	MemoryContextReset(ej->row_cxt);
	ej->n++;
	if (++ej->in_chunk == ej->chunk.max_rows)
		flush_chunk(ej);
}

/*
 * maas_evaluate(model, source, target [, version]): metrics of the
 * deployed (or given) version on the labelled rows of source, as jsonb.
 */
PG_FUNCTION_INFO_V1(maas_evaluate);
Datum
maas_evaluate(PG_FUNCTION_ARGS)
{
	EvalJob    *ej = palloc0(sizeof(EvalJob));
	MaasServeState *st = maas_serve_state(fcinfo->flinfo);
	char	   *source;
	char	   *sql;
	int32		version;
	TupleDesc	td;
	Jsonb	   *config;
	StringInfoData s;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null",
							i == 0 ? "model name" : i == 1 ? "source" : "target")));
	version = maas_arg_version(fcinfo, 3, true);
	maas_serve_resolve(st, PG_GETARG_TEXT_PP(0), version);
	source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ej->target = text_to_cstring(PG_GETARG_TEXT_PP(2));
	ej->st = st;
	ej->blas = maas_get_blas();
	ej->cxt = CurrentMemoryContext;
	ej->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "maas evaluate row",
										ALLOCSET_SMALL_SIZES);
	ej->k = st->m->task == MAAS_TASK_REGRESSION ? 1 : st->m->n_classes;
	if (st->m->task == MAAS_TASK_CLASSIFICATION)
		index_labels(ej);
	config = maas_fetch_config(&st->ref, NULL);
	ej->inputs = maas_inputs_from_config(config);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(ej->cxt);
	sql = maas_source_sql(source);
	td = maas_source_describe(sql);
	ej->target_attno = maas_find_column(td, ej->target, "source");
	if (ej->target_attno == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target column \"%s\" does not exist", ej->target)));
	maas_bind_column(td, ej->target_attno, &ej->target_b);
	if (st->m->task == MAAS_TASK_REGRESSION && !maas_type_is_number(ej->target_b.typid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("target column \"%s\" is not numeric, but model \"%s\" is a regression model",
						ej->target, st->model)));
	if (ej->inputs == NULL)
		ej->inputs = positional_inputs(ej, td);
	maas_check_inputs_width(ej->inputs, st->m->net.n_in);
	ej->bind = palloc0(sizeof(MaasBinding) * Max(ej->inputs->n, 1));
	for (int i = 0; i < ej->inputs->n; i++)
		maas_bind_input(&ej->inputs->in[i], td, &ej->bind[i], "source",
						"maas_evaluate reads the columns the model was trained on, by name.");

	/*
	 * The buffers grow with the rows read: a chunk of at most EVAL_CHUNK
	 * rows within maas.batch_memory, and the kept outputs within
	 * maas.max_training_memory together with the confusion matrix of the
	 * metrics (k x k counts), which is checked first.
	 */
	maas_batch_buffers_init(&ej->chunk, &st->m->net,
							maas_batch_rows(&st->m->net, EVAL_CHUNK), false);
	ej->limit = maas_max_training_memory();
	if (st->m->task == MAAS_TASK_CLASSIFICATION)
	{
		double		cells = (double) ej->k * ej->k * sizeof(int64);

		ej->fixed = cells > (double) ej->limit ? ej->limit + 1 : (Size) cells;
		if (ej->fixed > ej->limit)
			evaluation_too_large(ej, psprintf("The confusion matrix of %d classes", ej->k),
								 cells > (double) MaxAllocHugeSize ? MaxAllocHugeSize : (Size) cells);
	}

	ej->reader.planned = td;
	ej->reader.receive = eval_receive;
	maas_source_scan(sql, &ej->reader, false);
	flush_chunk(ej);
	SPI_finish();

	if (ej->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("the source has no rows with a target")));

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	if (st->m->task == MAAS_TASK_CLASSIFICATION)
	{
		MaasClassMetrics m;
		MaasError	err;

		if (!maas_class_metrics(ej->n, ej->k, ej->cls, ej->out, &m, &err))
			maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE,
					   "could not compute the metrics", NULL);
		maas_append_class_metrics(&s, &m);
	}
	else
	{
		MaasRegMetrics m;

		maas_reg_metrics(ej->n, ej->y, ej->out, &m);
		maas_append_reg_metrics(&s, &m);
	}
	appendStringInfo(&s, ", \"n\": " INT64_FORMAT ", \"version\": %d}", ej->n, st->ref.version);
	PG_RETURN_JSONB_P(DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data))));
}
