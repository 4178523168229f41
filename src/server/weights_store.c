/*
 * weights_store.c
 *		A version's weights as chunks in maas.weight_chunk: written with the
 *		version, read back a chunk at a time.
 *
 * Chunk n of a version holds bytes [n * C, (n + 1) * C) of its safetensors
 * bytes, C = MAAS_WEIGHT_CHUNK = 8120, every chunk full but the last, so a
 * version may exceed the 1 GB a value can hold, and reading or writing one
 * never needs more than a chunk of memory beyond the caller's own buffer.
 * Each chunk is a bytea stored PLAIN, in its row, a row filling a page: no
 * TOAST (floats do not compress, and cutting each chunk again into 2 KB
 * TOAST tuples, each with its own index entry and WAL record, cost most of
 * a registration, doc/onnx.md).  The writer runs inside the registry's
 * catalog session (registry_write.c), as the catalog's owner, and inserts
 * the rows straight into the heap and the primary key (write_direct); the
 * reader is the serving path's, plain ordered
 * index scans under the active snapshot, so it works in parallel workers
 * and on standbys.  Versions written by maas 0.1 and restored from a 0.1
 * dump keep their weights in maas.version.weights; the reader serves
 * those alike.
 *
 * The chunks are checked as they are read against what the version's row
 * says (numbered from 0, each full but the last, adding up to its size):
 * a mismatch is reported as data corruption, never passed on.  Their
 * sha256 is not recomputed here: the bytes are PostgreSQL's to keep, as
 * any table's; the sha256 checks copies outside the database
 * (weights_shared.c) and exports.
 */
#include "weights.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

/* maas.weight_chunk */
#define Anum_weight_chunk_version_id	1
#define Anum_weight_chunk_chunk			2
#define Anum_weight_chunk_data			3

/*
 * A full chunk's tuple (a 24-byte header, the bigint, the integer, the
 * bytea's 4-byte header and its bytes) fills a heap page, so the chunks
 * are stored in line (STORAGE PLAIN) one a page.
 */
StaticAssertDecl(MAXALIGN(SizeofHeapTupleHeader) + sizeof(int64) + sizeof(int32) +
				 VARHDRSZ + MAAS_WEIGHT_CHUNK <= MaxHeapTupleSize,
				 "a chunk of weights must fit in a heap page");

/* ------------------------------------------------------------------------
 * SHA-256
 * ------------------------------------------------------------------------
 */

void
maas_weights_sha256(const uint8 *data, size_t len, uint8 *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, data, len) < 0 ||
		pg_cryptohash_final(ctx, out, MAAS_SHA256_LEN) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
}

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------
 */

/*
 * Does the registry keep weights in chunks?  Not in a database whose
 * extension is still at 0.1 (before ALTER EXTENSION maas UPDATE), where
 * the row holds them.
 */
bool
maas_weights_chunked(void)
{
	Oid			nsp = get_namespace_oid("maas", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("weight_chunk", nsp));
}

/*
 * The chunks through SPI, one INSERT each: what the writer falls back on
 * when the table is not as the extension made it (write_direct).
 */
static void
write_spi(int64 version_id, const uint8 *data, size_t len, size_t n_chunks)
{
	Oid			types[3] = {INT8OID, INT4OID, BYTEAOID};
	Datum		values[3];
	SPIPlanPtr	plan;
	bytea	   *chunk = palloc(VARHDRSZ + MAAS_WEIGHT_CHUNK);

	plan = SPI_prepare("INSERT INTO maas.weight_chunk (version_id, chunk, data) "
					   "VALUES ($1, $2, $3)", 3, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));

	values[0] = Int64GetDatum(version_id);
	values[2] = PointerGetDatum(chunk);
	for (size_t n = 0; n < n_chunks; n++)
	{
		size_t		off = n * MAAS_WEIGHT_CHUNK;
		size_t		part = Min((size_t) MAAS_WEIGHT_CHUNK, len - off);
		int			rc;

		CHECK_FOR_INTERRUPTS();
		SET_VARSIZE(chunk, VARHDRSZ + part);
		memcpy(VARDATA(chunk), data + off, part);
		values[1] = Int32GetDatum((int32) n);
		rc = SPI_execute_plan(plan, values, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not store chunk %zu of model weights (%d)", n, rc);
	}
	SPI_freeplan(plan);
	pfree(chunk);
}

/*
 * May the chunks be inserted into rel directly?  When it is the table the
 * extension made: a heap of (bigint, integer, bytea) whose one index is its
 * primary key on the first two columns, and whose only insert trigger is
 * its foreign key's check.  That check is what a direct insert skips: the
 * writer inserts the version's row first, in the same transaction, so the
 * key holds by construction (and ON DELETE CASCADE is maas.version's
 * trigger, which sees these rows as any others).
 */
static bool
direct_insert_ok(Relation rel, Oid *pkey)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *indexes;

	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID || desc->natts != 3 ||
		TupleDescAttr(desc, 0)->atttypid != INT8OID ||
		TupleDescAttr(desc, 1)->atttypid != INT4OID ||
		TupleDescAttr(desc, 2)->atttypid != BYTEAOID ||
		TupleDescAttr(desc, 0)->attisdropped ||
		TupleDescAttr(desc, 1)->attisdropped ||
		TupleDescAttr(desc, 2)->attisdropped ||
		rel->rd_rel->relhasrules || rel->rd_rel->relforcerowsecurity)
		return false;
	indexes = RelationGetIndexList(rel);
	*pkey = RelationGetPrimaryKeyIndex(rel);
	if (list_length(indexes) != 1 || linitial_oid(indexes) != *pkey)
		return false;
	{
		Relation	index = index_open(*pkey, AccessShareLock);
		Form_pg_index ix = index->rd_index;
		bool		plain = ix->indnatts == 2 && ix->indnkeyatts == 2 &&
			ix->indkey.values[0] == Anum_weight_chunk_version_id &&
			ix->indkey.values[1] == Anum_weight_chunk_chunk &&
			RelationGetIndexExpressions(index) == NIL &&
			RelationGetIndexPredicate(index) == NIL;

		index_close(index, AccessShareLock);
		if (!plain)
			return false;
	}
	if (rel->trigdesc != NULL)
	{
		for (int i = 0; i < rel->trigdesc->numtriggers; i++)
		{
			Trigger    *t = &rel->trigdesc->triggers[i];

			if (TRIGGER_FOR_INSERT(t->tgtype) && t->tgfoid != F_RI_FKEY_CHECK_INS)
				return false;
		}
	}
	return true;
}

/* a chunk's tuple */
static HeapTuple
form_chunk(TupleDesc desc, int64 version_id, int32 no, const uint8 *data,
		   size_t part)
{
	bytea	   *chunk = palloc(VARHDRSZ + part);
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	HeapTuple	tup;

	SET_VARSIZE(chunk, VARHDRSZ + part);
	memcpy(VARDATA(chunk), data, part);
	values[0] = Int64GetDatum(version_id);
	values[1] = Int32GetDatum(no);
	values[2] = PointerGetDatum(chunk);
	tup = heap_form_tuple(desc, values, nulls);
	pfree(chunk);
	return tup;
}

/*
 * A full chunk's tuple, made once and refilled in place for the next ones:
 * where its chunk number and bytes are.  False when they are not where
 * heap_form_tuple puts them for this table (the integer after the bigint,
 * the bytea after it with a 4-byte header): then each tuple is made anew.
 */
typedef struct ChunkTuple
{
	HeapTuple	tup;
	char	   *chunk_no;
	char	   *data;
} ChunkTuple;

static bool
chunk_tuple_make(ChunkTuple *ct, TupleDesc desc, int64 version_id,
				 const uint8 *data)
{
	char	   *base;
	Pointer		d;
	bool		isnull;
	int32		probe = 12345;

	ct->tup = form_chunk(desc, version_id, 0, data, MAAS_WEIGHT_CHUNK);
	base = (char *) ct->tup->t_data + ct->tup->t_data->t_hoff;
	d = DatumGetPointer(heap_getattr(ct->tup, Anum_weight_chunk_data, desc, &isnull));
	if (!VARATT_IS_4B_U(d) || d != base + 2 * sizeof(int64) ||
		VARSIZE(d) != VARHDRSZ + MAAS_WEIGHT_CHUNK)
		return false;
	ct->chunk_no = base + sizeof(int64);
	ct->data = VARDATA(d);
	memcpy(ct->chunk_no, &probe, sizeof(int32));
	if (DatumGetInt32(heap_getattr(ct->tup, Anum_weight_chunk_chunk, desc, &isnull)) != probe)
		return false;
	return true;
}

/*
 * The chunks inserted straight into the heap and its primary key, as
 * PostgreSQL's TOAST code fills its own tables: one tuple a page (the chunk
 * is sized for it, STORAGE PLAIN), logged as any heap insert (so replicated
 * and recovered), with no executor, SPI call or trigger event per chunk.
 * No bulk-insert state: its ring of 16 MB of buffers makes this backend
 * write each page out again as the ring comes round, flushing the WAL up
 * to it first, and measured slower (doc/onnx.md); the pages go through
 * shared buffers as any INSERT's do.
 */
static void
write_direct(Relation rel, Oid pkey, int64 version_id, const uint8 *data,
			 size_t len, size_t n_chunks)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Relation	index = index_open(pkey, RowExclusiveLock);
	IndexInfo  *ii = BuildIndexInfo(index);
	CommandId	cid = GetCurrentCommandId(true);
	ChunkTuple	ct = {NULL, NULL, NULL};
	bool		in_place = false;
	Datum		keys[2];
	bool		nulls[2] = {false, false};

	keys[0] = Int64GetDatum(version_id);
	if (len >= MAAS_WEIGHT_CHUNK)
		in_place = chunk_tuple_make(&ct, desc, version_id, data);
	for (size_t n = 0; n < n_chunks; n++)
	{
		size_t		off = n * MAAS_WEIGHT_CHUNK;
		size_t		part = Min((size_t) MAAS_WEIGHT_CHUNK, len - off);
		int32		no = (int32) n;
		HeapTuple	tup;

		CHECK_FOR_INTERRUPTS();
		if (in_place && part == MAAS_WEIGHT_CHUNK)
		{
			memcpy(ct.chunk_no, &no, sizeof(int32));
			memcpy(ct.data, data + off, part);
			tup = ct.tup;
		}
		else
			tup = form_chunk(desc, version_id, no, data + off, part);
		heap_insert(rel, tup, cid, 0, NULL);
		keys[1] = Int32GetDatum(no);
		index_insert(index, keys, nulls, &tup->t_self, rel, UNIQUE_CHECK_YES,
					 false, ii);
		if (tup != ct.tup)
			heap_freetuple(tup);
	}
	if (ct.tup != NULL)
		heap_freetuple(ct.tup);
	index_close(index, NoLock);
}

/*
 * Store data as the chunks of version_id.  The caller is connected to SPI
 * as the catalog's owner, in the transaction that has just inserted the
 * version's row.
 */
void
maas_weights_write(int64 version_id, const uint8 *data, size_t len)
{
	size_t		n_chunks = (len + MAAS_WEIGHT_CHUNK - 1) / MAAS_WEIGHT_CHUNK;
	Oid			relid = get_relname_relid("weight_chunk", get_namespace_oid("maas", false));
	Relation	rel;
	Oid			pkey;

	if (len == 0 || n_chunks > (size_t) PG_INT32_MAX)
		elog(ERROR, "cannot store %zu bytes of weights", len);
	if (!OidIsValid(relid))
		elog(ERROR, "table maas.weight_chunk is missing");
	rel = table_open(relid, RowExclusiveLock);
	if (direct_insert_ok(rel, &pkey))
		write_direct(rel, pkey, version_id, data, len, n_chunks);
	else
		write_spi(version_id, data, len, n_chunks);
	table_close(rel, NoLock);
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------
 */

/* the stored weights of a version do not match its row */
static void
damaged(const MaasVersionRef *ref, const char *fmt, int64 a, int64 b)
{
	MaasVersionInfo vi;
	char	   *what;

	if (maas_version_info(ref, &vi))
		what = psprintf("version %d of model \"%s\"", vi.version, vi.model);
	else
		what = psprintf("model version %lld", (long long) ref->version_id);
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the stored weights of %s are damaged", what),
			 errdetail_internal(fmt, (long long) a, (long long) b)));
}

/*
 * Read bytes [start, end) of a version's weights, in order, into sink.
 */
static void
weights_read_range(const MaasVersionRef *ref, const MaasWeightsInfo *info,
				   int64 start, int64 end, MaasWeightsSink sink, void *arg)
{
	Relation	rel;
	Relation	index;
	Oid			indexid;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int64		bytes = info->bytes;
	int32		expect = (int32) (start / MAAS_WEIGHT_CHUNK);
	int64		last;

	Assert(start >= 0 && start <= end && end <= bytes);
	if (start == end)
		return;
	if (info->inline_weights != NULL)
	{
		if ((int64) VARSIZE_ANY_EXHDR(info->inline_weights) != bytes)
			damaged(ref, "The row holds %lld bytes of weights but says %lld.",
					(int64) VARSIZE_ANY_EXHDR(info->inline_weights), bytes);
		sink(arg, (const uint8 *) VARDATA_ANY(info->inline_weights) + start,
			 (size_t) (end - start));
		return;
	}
	last = (end - 1) / MAAS_WEIGHT_CHUNK;

	rel = maas_registry_open("weight_chunk");
	indexid = get_relname_relid("weight_chunk_pkey", RelationGetNamespace(rel));
	if (!OidIsValid(indexid))
		elog(ERROR, "index maas.weight_chunk_pkey is missing");
	index = index_open(indexid, AccessShareLock);
	ScanKeyInit(&keys[0], Anum_weight_chunk_version_id, BTEqualStrategyNumber,
				F_INT8EQ, Int64GetDatum(ref->version_id));
	ScanKeyInit(&keys[1], Anum_weight_chunk_chunk, BTGreaterEqualStrategyNumber,
				F_INT4GE, Int32GetDatum(expect));
	scan = systable_beginscan_ordered(rel, index, GetActiveSnapshot(), 2, keys);

	while (expect <= last &&
		   (tup = systable_getnext_ordered(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		int32		n = DatumGetInt32(heap_getattr(tup, Anum_weight_chunk_chunk,
												   RelationGetDescr(rel), &isnull));
		Datum		d = heap_getattr(tup, Anum_weight_chunk_data,
									 RelationGetDescr(rel), &isnull);
		int64		off = (int64) n * MAAS_WEIGHT_CHUNK;
		int64		want;
		bytea	   *data;
		int64		from;
		int64		to;

		CHECK_FOR_INTERRUPTS();
		if (n != expect)
			damaged(ref, "Chunk %lld is missing (the next one stored is %lld).",
					expect, n);
		want = Min((int64) MAAS_WEIGHT_CHUNK, bytes - off);
		data = DatumGetByteaPP(d);
		if ((int64) VARSIZE_ANY_EXHDR(data) != want)
			damaged(ref, "Chunk %lld has %lld bytes.", n,
					(int64) VARSIZE_ANY_EXHDR(data));
		from = Max(start, off) - off;
		to = Min(end, off + want) - off;
		sink(arg, (const uint8 *) VARDATA_ANY(data) + from, (size_t) (to - from));
		if ((Pointer) data != DatumGetPointer(d))
			pfree(data);
		expect++;
	}
	/* the version's last chunk must be its last: nothing stored after it */
	if (expect > last && end == bytes &&
		(tup = systable_getnext_ordered(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;

		damaged(ref, "Chunk %lld is stored after the last one, %lld.",
				DatumGetInt32(heap_getattr(tup, Anum_weight_chunk_chunk,
										   RelationGetDescr(rel), &isnull)),
				last);
	}
	systable_endscan_ordered(scan);
	index_close(index, AccessShareLock);
	table_close(rel, NoLock);
	if (expect <= last)
		damaged(ref, "Chunk %lld of %lld is missing.", expect, last + 1);
}

void
maas_weights_read(const MaasVersionRef *ref, const MaasWeightsInfo *info,
				  int64 start, int64 end, MaasWeightsSink sink, void *arg)
{
	if (info->bytes <= 0)
		damaged(ref, "The row says %lld bytes of weights.", info->bytes, 0);
	if (start < 0 || start > end || end > info->bytes)
		elog(ERROR, "bytes %lld to %lld of model weights of %lld bytes asked for",
			 (long long) start, (long long) end, (long long) info->bytes);
	weights_read_range(ref, info, start, end, sink, arg);
}

/*
 * Gathering: the chunks a sink gets are 8120 bytes; one that writes a file
 * would make a system call for each (130,000 a GB), so it gets them
 * gathered into pieces of MAAS_WEIGHT_IO bytes instead.
 */
void
maas_gather_init(MaasGather *g, MaasWeightsSink sink, void *arg)
{
	g->sink = sink;
	g->arg = arg;
	g->buf = palloc(MAAS_WEIGHT_IO);
	g->fill = 0;
}

void
maas_gather_sink(void *arg, const uint8 *data, size_t len)
{
	MaasGather *g = (MaasGather *) arg;

	while (len > 0)
	{
		size_t		take = Min(len, (size_t) MAAS_WEIGHT_IO - g->fill);

		/* a piece of a whole buffer or more, with nothing gathered: as it is */
		if (g->fill == 0 && len >= MAAS_WEIGHT_IO)
		{
			g->sink(g->arg, data, len);
			return;
		}
		memcpy(g->buf + g->fill, data, take);
		g->fill += take;
		data += take;
		len -= take;
		if (g->fill == MAAS_WEIGHT_IO)
			maas_gather_flush(g);
	}
}

void
maas_gather_flush(MaasGather *g)
{
	if (g->fill > 0)
	{
		size_t		fill = g->fill;

		g->fill = 0;
		g->sink(g->arg, g->buf, fill);
	}
}

typedef struct CopyInto
{
	uint8	   *dst;
	size_t		pos;
} CopyInto;

static void
copy_into(void *arg, const uint8 *data, size_t len)
{
	CopyInto   *c = (CopyInto *) arg;

	memcpy(c->dst + c->pos, data, len);
	c->pos += len;
}

void
maas_weights_read_into(const MaasVersionRef *ref, const MaasWeightsInfo *info,
					   uint8 *dst)
{
	CopyInto	c = {dst, 0};

	maas_weights_read(ref, info, 0, info->bytes, copy_into, &c);
}

uint8 *
maas_weights_read_all(const MaasVersionRef *ref, const MaasWeightsInfo *info)
{
	uint8	   *all;

	if (info->bytes <= 0 || (uint64) info->bytes > MaxAllocHugeSize)
		damaged(ref, "The row says %lld bytes of weights; at most %lld fit in memory.",
				info->bytes, (int64) MaxAllocHugeSize);
	all = palloc_extended((Size) info->bytes, MCXT_ALLOC_HUGE);
	maas_weights_read_into(ref, info, all);
	return all;
}

uint8 *
maas_weights_read_head(const MaasVersionRef *ref, const MaasWeightsInfo *info,
					   size_t len)
{
	uint8	   *head = palloc_extended(Max(len, 1), MCXT_ALLOC_HUGE);
	CopyInto	c = {head, 0};

	maas_weights_read(ref, info, 0, (int64) len, copy_into, &c);
	return head;
}
