/*
 * batch.c
 *		Scoring a row set in batches: maas_predict_batch and
 *		maas_predict_proba_batch.
 *
 * The caller gives a model and a query whose rows are (key, features).  The
 * query runs once, to completion, through SPI with our own DestReceiver:
 * each row's features are checked by maas_serve_features (the very check
 * maas_predict makes, with the same errors) and copied into a float32
 * matrix of batch_size rows; when the matrix is full the layer runtime runs
 * it as one batch (sgemm), and the (key, prediction) rows go to the
 * function's result tuplestore, which spills to disk beyond work_mem.
 *
 * What lives in memory: the matrix (batch_size x n_in floats), the runtime's
 * workspace for batch_size rows, the keys of one batch, and the tuplestore
 * up to work_mem.  So memory is bounded by maas.batch_size whatever the
 * number of rows.  Interrupts are checked per batch, and by the executor
 * per row.
 *
 * The model is resolved with the per-row serving state (maas_serve_resolve)
 * under the statement's snapshot, so the batch and per-row paths agree on
 * which version serves, and their answers come from the same functions
 * (maas_serve_value, maas_serve_proba).  Each batch counts as one call
 * in maas.stats, with all its rows.
 */
#include "serve.h"
#include "source.h"

#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "predict_batch.h"
#include "stats.h"

int			maas_batch_size = 1024;

typedef struct BatchScorer
{
	MaasSourceReader reader;	/* must be first */

	MaasServeState *st;
	bool		proba;			/* also return the probabilities */
	const MaasBlas *blas;

	/* the result */
	Tuplestorestate *out;
	TupleDesc	out_desc;

	/* one batch */
	int			batch_size;
	int			n;				/* rows in the batch so far */
	float	   *x;				/* batch_size x n_in */
	float	   *work;			/* runtime workspace for batch_size rows */
	int64	   *keys;
	MemoryContext row_cxt;		/* detoasted features, reset per row */
	MemoryContext out_cxt;		/* output arrays, reset per batch */

	/* the row being read, for the error context */
	int64		key;
	bool		have_key;
	uint64		rows;			/* rows read so far */
} BatchScorer;

void
maas_batch_init(void)
{
	DefineCustomIntVariable("maas.batch_size",
							"Rows scored together by maas_predict_batch.",
							"Each batch is one matrix-matrix product per layer; memory "
							"is batch_size x (features + 2 x widest layer) x 4 bytes.",
							&maas_batch_size,
							1024, 1, 1000000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

static void
batch_error_context(void *arg)
{
	BatchScorer *b = (BatchScorer *) arg;

	if (b->have_key)
		errcontext("scoring the row with key %lld (row %llu of the query)",
				   (long long) b->key, (unsigned long long) b->rows);
}

/* run the model over the rows gathered so far and emit them */
static void
batch_flush(BatchScorer *b)
{
	const MaasModel *m = b->st->m;
	const float *y;
	int			n_out = m->net.n_out;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	MemoryContext old;

	if (b->n == 0)
		return;
	CHECK_FOR_INTERRUPTS();

	y = maas_net_forward(&m->net, b->blas, b->n, b->x, b->work);
	maas_stats_end(b->st, b->n, b->x, y);

	old = MemoryContextSwitchTo(b->out_cxt);
	for (int r = 0; r < b->n; r++)
	{
		float	   *row = (float *) y + (size_t) r * n_out;

		values[0] = Int64GetDatum(b->keys[r]);
		values[1] = Float8GetDatum(maas_serve_value(m, row));
		if (b->proba)
			values[2] = PointerGetDatum(maas_serve_proba(m, row));
		tuplestore_putvalues(b->out, b->out_desc, values, nulls);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(b->out_cxt);
	b->n = 0;
}

static void
batch_startup(MaasSourceReader *reader, TupleDesc desc)
{
	Oid			keytype;
	Oid			ftype;

	if (desc->natts != 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("query must return two columns: a key and the features"),
				 errdetail("The query returns %d columns.", desc->natts),
				 errhint("Write it as SELECT key, features FROM ...; join the result back by key for other columns.")));

	keytype = TupleDescAttr(desc, 0)->atttypid;
	if (keytype != INT8OID && keytype != INT4OID && keytype != INT2OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("key column \"%s\" must be smallint, integer or bigint",
						NameStr(TupleDescAttr(desc, 0)->attname)),
				 errdetail("It is of type %s.", format_type_be(keytype)),
				 errhint("Number the rows in the query, for example with row_number() OVER ().")));

	ftype = TupleDescAttr(desc, 1)->atttypid;
	if (ftype != FLOAT4ARRAYOID && ftype != FLOAT8ARRAYOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("features must be real[] or double precision[]"),
				 errdetail("Column \"%s\" is of type %s.",
						   NameStr(TupleDescAttr(desc, 1)->attname),
						   format_type_be(ftype))));
}

static void
batch_receive(MaasSourceReader *reader, TupleTableSlot *slot)
{
	BatchScorer *b = (BatchScorer *) reader;
	ErrorContextCallback errcb;
	Datum		d;
	bool		isnull;
	MemoryContext old;

	b->rows++;
	b->have_key = false;
	errcb.callback = batch_error_context;
	errcb.arg = b;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	d = slot_getattr(slot, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key must not be null"),
				 errdetail("Row %llu of the query has a null key.",
						   (unsigned long long) b->rows)));
	switch (TupleDescAttr(slot->tts_tupleDescriptor, 0)->atttypid)
	{
		case INT2OID:
			b->key = DatumGetInt16(d);
			break;
		case INT4OID:
			b->key = DatumGetInt32(d);
			break;
		default:
			b->key = DatumGetInt64(d);
			break;
	}
	b->have_key = true;

	/* the same rules, and errors, as maas_predict's */
	d = slot_getattr(slot, 2, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("features must not be null")));
	/* a batch is one call for maas.stats; a bad row makes it an error */
	if (b->n == 0)
		maas_stats_begin(b->st, true);
	old = MemoryContextSwitchTo(b->row_cxt);
	maas_serve_features(b->st, DatumGetArrayTypeP(d),
						b->x + (size_t) b->n * b->st->m->net.n_in);
	MemoryContextSwitchTo(old);
	MemoryContextReset(b->row_cxt);
	b->keys[b->n++] = b->key;

	error_context_stack = errcb.previous;

	if (b->n == b->batch_size)
		batch_flush(b);
}

/* the buffers of a batch, with sizes checked against overflow */
static void
batch_alloc(BatchScorer *b)
{
	const MaasNet *net = &b->st->m->net;
	size_t		nx;
	size_t		nwork;

	if (!maas_mul_size((size_t) b->batch_size, (size_t) net->n_in, &nx) ||
		!maas_mul_size(nx, sizeof(float), &nx) ||
		!maas_net_workspace(net, b->batch_size, 1, &nwork) ||
		!maas_mul_size(nwork, sizeof(float), &nwork) ||
		(b->x = maas_kalloc(nx)) == NULL ||
		(b->work = maas_kalloc(nwork)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("batch of %d rows is too large for model \"%s\"",
						b->batch_size, b->st->model),
				 errhint("Lower batch_size or maas.batch_size.")));
	b->keys = palloc(sizeof(int64) * b->batch_size);
}

static Datum
predict_batch(FunctionCallInfo fcinfo, bool proba)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	BatchScorer b;
	MemoryContext batch_cxt;
	MemoryContext old;
	char	   *query;
	int32		version;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query must not be null")));
	memset(&b, 0, sizeof(b));
	b.batch_size = PG_ARGISNULL(2) ? maas_batch_size : PG_GETARG_INT32(2);
	if (b.batch_size < 1 || b.batch_size > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch size must be between 1 and 1000000"),
				 errdetail("It is %d.", b.batch_size)));
	version = maas_arg_version(fcinfo, 3, true);

	/* the model, exactly as maas_predict resolves it */
	b.st = maas_serve_state(fcinfo->flinfo);
	maas_serve_resolve(b.st, PG_GETARG_TEXT_PP(0), version);
	if (proba)
		maas_serve_require_classifier(b.st);
	b.proba = proba;
	b.blas = maas_get_blas();

	InitMaterializedSRF(fcinfo, 0);
	b.out = rsinfo->setResult;
	b.out_desc = rsinfo->setDesc;

	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "maas batch",
									  ALLOCSET_DEFAULT_SIZES);
	b.row_cxt = AllocSetContextCreate(batch_cxt, "maas batch row",
									  ALLOCSET_DEFAULT_SIZES);
	b.out_cxt = AllocSetContextCreate(batch_cxt, "maas batch output",
									  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(batch_cxt);
	batch_alloc(&b);
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	MemoryContextSwitchTo(old);

	b.reader.startup = batch_startup;
	b.reader.receive = batch_receive;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* run to completion, so the planner may choose a parallel scan */
	maas_source_scan(query, &b.reader, true);
	batch_flush(&b);

	SPI_finish();
	MemoryContextDelete(batch_cxt);
	return (Datum) 0;
}

/*
 * maas_predict_batch(model, query, batch_size, version): (key, prediction)
 * for every row of query, which yields (key, features).
 */
PG_FUNCTION_INFO_V1(maas_predict_batch);
Datum
maas_predict_batch(PG_FUNCTION_ARGS)
{
	return predict_batch(fcinfo, false);
}

/*
 * maas_predict_proba_batch(model, query, batch_size, version):
 * (key, prediction, probabilities) for every row of query.
 */
PG_FUNCTION_INFO_V1(maas_predict_proba_batch);
Datum
maas_predict_proba_batch(PG_FUNCTION_ARGS)
{
	return predict_batch(fcinfo, true);
}
