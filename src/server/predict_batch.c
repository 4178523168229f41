/*
 * predict_batch.c
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
 * What lives in memory: the matrix (rows x n_in floats), the runtime's
 * workspace for those rows, the keys of one batch, and the tuplestore up to
 * work_mem.  A batch holds batch_size rows, or fewer when that many would
 * not fit maas.batch_memory (a wide model), and its buffers grow with the
 * rows actually read, so a short query allocates little whatever the batch
 * size.  So memory is bounded by the settings whatever the number of rows.
 * Interrupts are checked per batch, and by the executor per row.
 *
 * With maas.batch_pipeline (batch_pipeline.h), a full batch goes to a
 * worker thread for its forward pass while the backend reads the next one
 * into a second set of buffers, and its rows are emitted when it comes
 * back; an error or a cancel waits for the worker before it unwinds.
 * Text models, embeddings and statements a canary or shadow routes stay
 * serial.
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
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "batch_features.h"
#include "batch_pipeline.h"
#include "predict_batch.h"
#include "remote.h"
#include "rollout.h"
#include "stats.h"
#include "text.h"

/*
 * Text models: rows are (key, text).  Each text is tokenized as it is read;
 * a batch is padded to its longest text (the attention mask hides the
 * padding) and also ends when its padded size reaches this many tokens, so
 * that a batch's activations stay bounded whatever the texts' lengths.
 */
#define TEXT_BATCH_TOKENS	16384

int			maas_batch_size = 1024;
static int	batch_memory_kb = 65536;

typedef enum BatchAnswer
{
	BATCH_PREDICT,				/* (key, prediction) */
	BATCH_PROBA,				/* (key, prediction, probabilities) */
	BATCH_EMBED					/* (key, embedding): text encoders */
} BatchAnswer;

typedef struct BatchScorer
{
	MaasSourceReader reader;	/* must be first */

	MaasServeState *st;
	BatchAnswer answer;
	const MaasBlas *blas;

	/* text models: the batch's token ids, row after row */
	bool		text;
	int32	   *ids;			/* cap_ids */
	int			n_ids;
	int			cap_ids;
	int32	   *row_off;		/* buf.max_rows: where each row's ids start */
	int32	   *row_len;		/* buf.max_rows */
	int			max_len;		/* the longest row of the batch */
	const char **texts;			/* a remote text model: the batch's texts,
								 * UTF-8, in out_cxt */

	/* the result */
	Tuplestorestate *out;
	TupleDesc	out_desc;

	/* one batch */
	int			batch_size;		/* asked for */
	int			n;				/* rows in the batch so far */
	MaasBatchBuffers buf;		/* the rows, their keys, the workspace */
	MemoryContext batch_cxt;	/* the whole call's buffers */
	MemoryContext row_cxt;		/* detoasted features, reset per row */
	MemoryContext out_cxt;		/* output arrays, reset per batch */

	/* rows whose features are read when the batch is scored */
	MaasBatchFeatures waiting;

	/* the batch before, scored by a worker thread meanwhile */
	bool		pipelined;
	MaasBatchPipeline pipe;

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
	DefineCustomIntVariable("maas.batch_memory",
							"Memory one batch of maas_predict_batch or maas_evaluate may use.",
							"A batch that would need more for its rows and workspace "
							"has fewer rows, never fewer than one.",
							&batch_memory_kb,
							65536, 1024, MAX_KILOBYTES,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	maas_pipeline_init_setting();
}

/* bytes of input and workspace one row of a batch takes (and extra), or false */
static bool
row_bytes(const MaasNet *net, size_t extra, size_t *bytes)
{
	size_t		one,
				two;

	/* the workspace is linear in the rows: its per-row part */
	if (!maas_net_workspace(net, 1, 1, &one) || !maas_net_workspace(net, 2, 1, &two))
		return false;
	return maas_add_size(two - one, (size_t) net->n_in, bytes) &&
		maas_mul_size(*bytes, sizeof(float), bytes) &&
		maas_add_size(*bytes, sizeof(int64) + extra, bytes);
}

static int
batch_rows(const MaasNet *net, int want, size_t extra)
{
	size_t		per_row;
	size_t		budget = (size_t) batch_memory_kb * 1024;

	if (want <= 1)
		return 1;
	if (!row_bytes(net, extra, &per_row))
		return 1;
	return (int) Max(1, Min((size_t) want, budget / Max(per_row, 1)));
}

int
maas_batch_rows(const MaasNet *net, int want)
{
	return batch_rows(net, want, 0);
}

static void
batch_error_context(void *arg)
{
	BatchScorer *b = (BatchScorer *) arg;

	if (b->have_key)
		errcontext("scoring the row with key %lld (row %llu of the query)",
				   (long long) b->key, (unsigned long long) b->rows);
}

/* a text batch through the model: padded ids, lengths, one forward pass */
static const float *
text_forward(BatchScorer *b)
{
	const MaasModel *m = b->st->m;
	int			T = b->max_len;
	int32	   *padded = palloc(sizeof(int32) * (size_t) b->n * T);
	int32		pad = m->tok->pad_id >= 0 ? m->tok->pad_id : 0;
	MaasBatch	batch = {.n = b->n, .t = T, .ids = padded, .lengths = b->row_len};
	size_t		nwork;
	float	   *work;
	MaasError	err;
	const float *y;

	for (int r = 0; r < b->n; r++)
	{
		memcpy(padded + (size_t) r * T, b->ids + b->row_off[r], sizeof(int32) * b->row_len[r]);
		for (int t = b->row_len[r]; t < T; t++)
			padded[(size_t) r * T + t] = pad;
	}
	if (!maas_net_workspace(&m->net, b->n, T, &nwork))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("batch of %d texts is too large for model \"%s\"", b->n, b->st->model)));
	work = palloc_extended(sizeof(float) * nwork, MCXT_ALLOC_HUGE);
	y = maas_net_run(&m->net, b->blas, &batch,
					 b->answer == BATCH_EMBED ? m->embed_value : 0, work, &err);
	if (y == NULL)
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE,
				   psprintf("could not run model \"%s\"", b->st->model), NULL);
	return y;
}

/*
 * The result rows of n outputs y (n_out floats each) of model m: (key,
 * prediction[, probabilities]) or (key, embedding).  In out_cxt.
 */
static void
emit_rows(BatchScorer *b, const MaasModel *m, const float *y, int n_out,
		  const int64 *keys, int n)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	for (int r = 0; r < n; r++)
	{
		float	   *row = (float *) y + (size_t) r * n_out;

		values[0] = Int64GetDatum(keys[r]);
		if (b->answer == BATCH_EMBED)
		{
			Datum	   *d = palloc(sizeof(Datum) * n_out);

			for (int j = 0; j < n_out; j++)
				d[j] = Float4GetDatum(row[j]);
			values[1] = PointerGetDatum(construct_array(d, n_out, FLOAT4OID, sizeof(float4),
														true, TYPALIGN_INT));
		}
		else
		{
			values[1] = Float8GetDatum(maas_serve_value(m, row));
			if (b->answer == BATCH_PROBA)
				values[2] = PointerGetDatum(maas_serve_proba(m, row));
		}
		tuplestore_putvalues(b->out, b->out_desc, values, nulls);
	}
}

/* the candidate's forward pass over n rows of x, in a workspace of its own */
static const float *
routed_forward(BatchScorer *b, MaasServeState *cand, int n, const float *x)
{
	size_t		nwork;

	if (!maas_net_workspace(&cand->m->net, n, 1, &nwork))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("batch of %d rows is too large for model \"%s\"", n, cand->model)));
	return maas_serve_forward(cand, b->blas, n, x,
							  palloc_extended(sizeof(float) * nwork, MCXT_ALLOC_HUGE));
}

/*
 * A batch of feature rows while a canary or shadow routes (rollout.h).  A
 * canary: the rows are split by the hash of each key's decimal text (the
 * text the row form hashes for an integer key column) or by call, the
 * canary's rows moved to the end of the batch, and each part goes through
 * its version; its rows are one call in the canary's maas.stats.  A
 * shadow: the live version answers every row, then the candidate scores
 * them all (in the share of batches maas.shadow_fraction gives) and they
 * are compared.
 */
static void
batch_flush_routed(BatchScorer *b)
{
	MaasServeState *st = b->st;
	MaasRollout *ro = st->routing;
	int			n_in = st->m->net.n_in;
	int			n_live = b->n;
	const float *y;
	MemoryContext old = MemoryContextSwitchTo(b->out_cxt);

	if (ro->kind == MAAS_ROLLOUT_CANARY)
	{
		float	   *row = palloc(sizeof(float) * n_in);
		char		key[24];

		/* a stable partition would keep order; rows are found by key anyway */
		for (int r = 0; r < n_live;)
		{
			int			len = 0;

			if (ro->key[0])
				len = snprintf(key, sizeof(key), INT64_FORMAT, b->buf.keys[r]);
			if (!maas_rollout_to_canary(ro, ro->key[0] ? key : NULL, len))
			{
				r++;
				continue;
			}
			n_live--;
			if (r != n_live)
			{
				int64		k = b->buf.keys[r];

				memcpy(row, b->buf.x + (size_t) r * n_in, sizeof(float) * n_in);
				memcpy(b->buf.x + (size_t) r * n_in, b->buf.x + (size_t) n_live * n_in,
					   sizeof(float) * n_in);
				memcpy(b->buf.x + (size_t) n_live * n_in, row, sizeof(float) * n_in);
				b->buf.keys[r] = b->buf.keys[n_live];
				b->buf.keys[n_live] = k;
			}
		}
		if (n_live < b->n)
		{
			int			n = b->n - n_live;
			const float *x = b->buf.x + (size_t) n_live * n_in;

			maas_stats_begin(ro->cand, true);
			y = routed_forward(b, ro->cand, n, x);
			maas_stats_end(ro->cand, n, x, y);
			emit_rows(b, ro->cand->m, y, ro->cand->m->net.n_out, b->buf.keys + n_live, n);
		}
	}
	if (n_live == 0)
	{
		/* every row went to the canary: the live version's call scored none */
		maas_stats_end(st, 0, NULL, NULL);
		MemoryContextSwitchTo(old);
		MemoryContextReset(b->out_cxt);
		b->n = 0;
		return;
	}
	y = maas_serve_forward(st, b->blas, n_live, b->buf.x, maas_batch_work(&b->buf, b->n));
	if (ro->kind == MAAS_ROLLOUT_SHADOW && maas_rollout_shadow_sampled(ro))
	{
		const float *y2;
		size_t		nwork;

		/* a shadow's failure is counted as its error, never raised */
		maas_stats_begin(ro->cand, true);
		y2 = maas_net_workspace(&ro->cand->m->net, n_live, 1, &nwork) ?
			maas_rollout_shadow_forward(ro->cand, b->blas, n_live, b->buf.x,
										palloc_extended(sizeof(float) * nwork,
														MCXT_ALLOC_HUGE)) : NULL;
		if (y2 != NULL)
		{
			maas_stats_end(ro->cand, n_live, b->buf.x, y2);
			maas_rollout_compare(st, n_live, y, y2);
		}
	}
	maas_stats_end(st, n_live, b->buf.x, y);
	emit_rows(b, st->m, y, st->m->net.n_out, b->buf.keys, n_live);

	MemoryContextSwitchTo(old);
	MemoryContextReset(b->out_cxt);
	b->n = 0;
}

/*
 * The pipeline's turn: the batch in flight comes back, the rows gathered
 * go to the worker, and the first batch's rows are emitted while the
 * worker runs the second.  With none gathered, the last batch comes back.
 */
static void
batch_flush_pipelined(BatchScorer *b)
{
	const MaasModel *m = b->st->m;
	const float *y;
	int			n = 0;
	MemoryContext old;

	y = maas_pipeline_collect(&b->pipe, &n);
	if (b->n > 0)
	{
		maas_pipeline_send(&b->pipe, &b->buf, b->n);
		b->n = 0;
	}
	if (y == NULL)
		return;
	old = MemoryContextSwitchTo(b->out_cxt);
	emit_rows(b, m, y, m->net.n_out, b->pipe.keys_done, n);
	MemoryContextSwitchTo(old);
	MemoryContextReset(b->out_cxt);
}

/* run the model over the rows gathered so far and emit them */
static void
batch_flush(BatchScorer *b)
{
	const MaasModel *m = b->st->m;
	const float *y;
	int			n_out;
	MemoryContext old;

	maas_features_resolve(&b->waiting, b->buf.x, b->buf.keys);
	if (b->n == 0)
		return;
	CHECK_FOR_INTERRUPTS();
	if (b->pipelined)
	{
		batch_flush_pipelined(b);
		return;
	}
	if (unlikely(b->st->routing != NULL) && !b->text && b->answer != BATCH_EMBED)
	{
		batch_flush_routed(b);
		return;
	}

	old = MemoryContextSwitchTo(b->out_cxt);
	if (b->text && m->remote != NULL)
	{
		/* embeddings only: a remote text model predicts nothing */
		y = maas_remote_embed_texts(b->st, b->texts, b->n, &n_out);
		maas_stats_end(b->st, b->n, NULL, NULL);
	}
	else if (b->text)
	{
		y = text_forward(b);
		n_out = b->answer == BATCH_EMBED ?
			m->net.layers[m->embed_value - 1].shape.width : m->net.n_out;
		maas_stats_end(b->st, b->n, y, b->answer == BATCH_EMBED ? NULL : y);
	}
	else
	{
		y = maas_serve_forward(b->st, b->blas, b->n, b->buf.x, maas_batch_work(&b->buf, b->n));
		n_out = m->net.n_out;
		maas_stats_end(b->st, b->n, b->buf.x, y);
	}

	emit_rows(b, m, y, n_out, b->buf.keys, b->n);
	MemoryContextSwitchTo(old);
	MemoryContextReset(b->out_cxt);
	b->n = 0;
	b->n_ids = 0;
	b->max_len = 0;
}

static void
batch_startup(MaasSourceReader *reader, TupleDesc desc)
{
	Oid			keytype;
	Oid			ftype;

	BatchScorer *b = (BatchScorer *) reader;

	if (desc->natts != 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg(b->text ? "query must return two columns: a key and the text" :
						"query must return two columns: a key and the features"),
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
	if (b->text)
	{
		if (ftype != TEXTOID && ftype != VARCHAROID && ftype != BPCHAROID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("model \"%s\" reads text", b->st->model),
					 errdetail("Column \"%s\" is of type %s.",
							   NameStr(TupleDescAttr(desc, 1)->attname),
							   format_type_be(ftype))));
	}
	else if (!maas_serve_feature_type(ftype))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("features must be an array of numbers"),
				 errdetail("Column \"%s\" is of type %s.",
						   NameStr(TupleDescAttr(desc, 1)->attname),
						   format_type_be(ftype))));
}

/* tokenize one row's text into the batch (flushing first if it must) */
static void
text_row(BatchScorer *b, Datum d, TupleTableSlot *slot)
{
	text	   *t = DatumGetTextPP(d);
	int			len = VARSIZE_ANY_EXHDR(t);
	char	   *s = pg_server_to_any(VARDATA_ANY(t), len, PG_UTF8);
	int32		n;
	int32	   *ids;
	int			longest;

	if (b->st->m->remote != NULL)
	{
		/* sent as text, batch_size rows a batch, the endpoint's a request */
		size_t		n_bytes = s == VARDATA_ANY(t) ? (size_t) len : strlen(s);
		char	   *copy;

		if (n_bytes == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the input is empty")));
		copy = MemoryContextAlloc(b->out_cxt, n_bytes + 1);
		memcpy(copy, s, n_bytes);
		copy[n_bytes] = '\0';
		b->texts[b->n] = copy;
		return;
	}
	ids = maas_text_encode(b->st, s, s == VARDATA_ANY(t) ? (size_t) len : strlen(s),
						   true, &n);

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the input has no tokens")));
	/* a row that would make the padded batch too big starts the next one */
	longest = Max(b->max_len, n);
	if (b->n > 0 && (int64) (b->n + 1) * longest > TEXT_BATCH_TOKENS)
	{
		batch_flush(b);
		maas_stats_begin(b->st, true);
	}
	if (b->n_ids + n > b->cap_ids)
	{
		int			cap = Max(b->cap_ids * 2, b->n_ids + n);
		int32	   *bigger = MemoryContextAlloc(b->batch_cxt, sizeof(int32) * cap);

		if (b->n_ids > 0)
			memcpy(bigger, b->ids, sizeof(int32) * b->n_ids);
		b->ids = bigger;
		b->cap_ids = cap;
	}
	memcpy(b->ids + b->n_ids, ids, sizeof(int32) * n);
	b->row_off[b->n] = b->n_ids;
	b->row_len[b->n] = n;
	b->n_ids += n;
	b->max_len = Max(b->max_len, n);
	(void) slot;
}

static void
batch_receive(MaasSourceReader *reader, TupleTableSlot *slot)
{
	BatchScorer *b = (BatchScorer *) reader;
	ErrorContextCallback errcb;
	Datum		d;
	bool		isnull;
	MemoryContext old;

	/*
	 * the rows waiting are read before the matrix grows (and moves), and
	 * before a row that raises (errors keep the rows' order)
	 */
	if (b->n >= b->buf.cap || slot_attisnull(slot, 1) || slot_attisnull(slot, 2))
		maas_features_resolve(&b->waiting, b->buf.x, b->buf.keys);

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
				 errmsg(b->text ? "input must not be null" : "features must not be null")));
	/* a batch is one call for maas.stats; a bad row makes it an error */
	if (b->n == 0 && b->pipelined)
		maas_pipeline_first_row(&b->pipe);
	else if (b->n == 0)
		maas_stats_begin(b->st, true);
	maas_batch_reserve(&b->buf, b->n);
	if (b->text ||
		!maas_features_defer(&b->waiting, d, b->n, b->rows,
							 b->buf.x + (size_t) b->n * b->st->m->net.n_in))
	{
		/* read now, after the rows waiting (errors keep the rows' order) */
		maas_features_resolve(&b->waiting, b->buf.x, b->buf.keys);
		old = MemoryContextSwitchTo(b->row_cxt);
		if (b->text)
			text_row(b, d, slot);
		else
			maas_serve_features(b->st, DatumGetArrayTypeP(d),
								b->buf.x + (size_t) b->n * b->st->m->net.n_in);
		MemoryContextSwitchTo(old);
		MemoryContextReset(b->row_cxt);
	}
	b->buf.keys[b->n++] = b->key;

	error_context_stack = errcb.previous;

	if (b->n == b->buf.max_rows)
		batch_flush(b);
	else if (maas_features_full(&b->waiting))
		maas_features_resolve(&b->waiting, b->buf.x, b->buf.keys);
}

/*
 * The buffers of a batch: for a text model its rows' offsets and lengths
 * (a batch holds at most TEXT_BATCH_TOKENS rows, each at least one token),
 * for both the keys, the rows and the workspace, which grow with the rows
 * read (MaasBatchBuffers).
 */
static void
batch_alloc(BatchScorer *b)
{
	const MaasNet *net = &b->st->m->net;
	int			rows = b->text ? Min(b->batch_size, TEXT_BATCH_TOKENS) :
		maas_batch_rows(net, b->batch_size);

	/* canaries, shadows, text and embeddings stay serial */
	if (!b->text && b->answer != BATCH_EMBED && b->st->routing == NULL &&
		maas_pipeline_wanted(b->st, rows))
	{
		b->pipelined = true;
		rows = batch_rows(net, b->batch_size, maas_pipeline_row_bytes(net));
		maas_pipeline_start(&b->pipe, b->st, rows);
	}
	maas_batch_buffers_init(&b->buf, net, rows, true);
	if (b->text)
	{
		/* workspace is made per batch, for the batch's longest text */
		b->row_off = palloc(sizeof(int32) * rows);
		b->row_len = palloc(sizeof(int32) * rows);
		b->texts = palloc(sizeof(char *) * rows);
	}
}

static Datum
predict_batch(FunctionCallInfo fcinfo, BatchAnswer answer)
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
	b.text = maas_model_is_text(b.st->m);
	if (answer == BATCH_EMBED)
	{
		if (b.st->m->remote != NULL ? b.st->m->task != MAAS_TASK_EMBEDDING :
			b.st->m->embed_value <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("model \"%s\" has no embedding output", b.st->model),
					 errhint("maas_embed_batch needs a text encoder such as BERT.")));
	}
	else
	{
		maas_serve_require_predictor(b.st);
		if (answer == BATCH_PROBA)
			maas_serve_require_classifier(b.st);
	}
	b.answer = answer;
	b.blas = maas_get_blas();

	InitMaterializedSRF(fcinfo, 0);
	b.out = rsinfo->setResult;
	b.out_desc = rsinfo->setDesc;

	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "maas batch",
									  ALLOCSET_DEFAULT_SIZES);
	b.batch_cxt = batch_cxt;
	b.row_cxt = AllocSetContextCreate(batch_cxt, "maas batch row",
									  ALLOCSET_DEFAULT_SIZES);
	b.out_cxt = AllocSetContextCreate(batch_cxt, "maas batch output",
									  ALLOCSET_DEFAULT_SIZES);
	maas_features_init(&b.waiting, b.st, batch_cxt);
	old = MemoryContextSwitchTo(batch_cxt);
	batch_alloc(&b);
	/* compressed features are decoded on the batch's threads, if idle */
	b.waiting.threads = b.pipelined ? 1 : maas_blas_threads();
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	MemoryContextSwitchTo(old);

	b.reader.startup = batch_startup;
	b.reader.receive = batch_receive;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* run to completion, so the planner may choose a parallel scan */
	PG_TRY();
	{
		maas_source_scan(query, &b.reader, true);
		batch_flush(&b);
		if (b.pipelined)
		{
			batch_flush_pipelined(&b);
			maas_pipeline_end(&b.pipe);
		}
	}
	PG_CATCH();
	{
		/* the worker may be writing into batch_cxt: it finishes first */
		if (b.pipelined)
			maas_pipeline_abort(&b.pipe);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (b.waiting.toast.n_values > 0)
		elog(DEBUG1, "maas_predict_batch read %llu out-of-line values in %llu index scans, "
			 "skipping %llu chunks of other values",
			 (unsigned long long) b.waiting.toast.n_values,
			 (unsigned long long) b.waiting.toast.n_scans,
			 (unsigned long long) b.waiting.toast.n_skipped);
	if (b.waiting.n_decoded > 0)
		elog(DEBUG1, "maas_predict_batch decoded %llu compressed arrays",
			 (unsigned long long) b.waiting.n_decoded);

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
	return predict_batch(fcinfo, BATCH_PREDICT);
}

/*
 * maas_predict_proba_batch(model, query, batch_size, version):
 * (key, prediction, probabilities) for every row of query.
 */
PG_FUNCTION_INFO_V1(maas_predict_proba_batch);
Datum
maas_predict_proba_batch(PG_FUNCTION_ARGS)
{
	return predict_batch(fcinfo, BATCH_PROBA);
}

/*
 * maas_embed_batch(model, query, batch_size, version): (key, embedding) for
 * every row of query, which yields (key, text), many texts a forward pass.
 */
PG_FUNCTION_INFO_V1(maas_embed_batch);
Datum
maas_embed_batch(PG_FUNCTION_ARGS)
{
	return predict_batch(fcinfo, BATCH_EMBED);
}
