/*
 * toast_batch.c
 *		Out-of-line values of a batch of rows, fetched together (see
 *		toast_batch.h).
 *
 * Why.  A row of real[784] stored EXTERNAL is a TOAST pointer to two
 * chunks; PostgreSQL's detoast of one value opens the toast table and each
 * of its indexes (locks, relcache lookups), starts an index scan (a
 * descent of the btree), reads the chunks and closes it all again: about
 * 2 us a row on this machine, as much as the forward pass of a 784-512-10
 * MLP.  Rows loaded together have value ids that follow each other, so a
 * batch of rows has its chunks side by side in the toast index.
 *
 * How.  fetch sorts the batch's values by (toast table, value id), opens
 * each toast table and its indexes once, and reads the chunks of each run
 * of close ids with one ordered scan of the valid index over the id range
 * [first, last], skipping the chunks of ids that are not the batch's.  A
 * run grows while its range stays within RANGE_SPAN times the values in
 * it, so skipped chunks cost at most that much more than the values read;
 * a value whose neighbours are far (a query that picks every 97th row) is
 * a run of its own, an equality scan like PostgreSQL's but for the opens.
 * The same value twice in a batch (a join) is read once.
 *
 * What is checked, as PostgreSQL's heap_fetch_toast_slice does: each chunk's
 * id and sequence number are not null, its data is a plain or short
 * varlena, the sequence numbers of a value run 0, 1, ... without gap or
 * repeat up to the number its size gives, and every chunk has exactly the
 * size the value's size gives it.  A failed check is ERRCODE_DATA_CORRUPTED,
 * raised with the value id and the toast table, never a wrong answer.
 *
 * Visibility is PostgreSQL's: the toast snapshot (init_toast_snapshot, from
 * the oldest snapshot the backend holds, which also keeps vacuum from
 * removing the chunks of any row that snapshot sees) on the toast table's
 * valid index (toast_open_indexes), as a value's own detoast would use.  A
 * toast table of another table access method than heap, whose chunk layout
 * is its own, has its values fetched one by one by PostgreSQL.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/toast_internals.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "toast_batch.h"

/* a run of value ids is read with one scan while it spans at most this many ids per value */
#define RANGE_SPAN	4

/*
 * A value's bytes (its data, after the varlena header) go to two places:
 * the first skip bytes to head, the rest to dst.  A value added whole has
 * them all in data's buffer (head = VARDATA(data), skip = size, no dst);
 * one added "into" a caller's buffer has its head in a buffer of its own
 * and the rest in the caller's.
 */
struct MaasToastValue
{
	struct varatt_external ptr; /* the TOAST pointer */
	int32		size;			/* bytes of data (the pointer's extsize) */
	int32		chunks;			/* chunks the size makes */
	int32		next;			/* the next chunk expected */
	int			same;			/* the value it repeats (read once), or its own index */
	int32		skip;			/* bytes that go to head */
	char	   *head;
	char	   *dst;			/* the size - skip bytes after them, or NULL */
	struct varlena *data;		/* a value added whole, or one assembled */
};

void
maas_toast_batch_init(MaasToastBatch *tb, MemoryContext parent)
{
	memset(tb, 0, sizeof(*tb));
	tb->cxt = AllocSetContextCreate(parent, "maas toast batch", ALLOCSET_DEFAULT_SIZES);
	tb->current = -1;
}

int32
maas_toast_batch_size(Datum d)
{
	struct varatt_external ptr;

	VARATT_EXTERNAL_GET_POINTER(ptr, DatumGetPointer(d));
	return VARATT_EXTERNAL_GET_EXTSIZE(ptr);
}

bool
maas_toast_batchable(Datum d)
{
	struct varlena *attr = (struct varlena *) DatumGetPointer(d);
	struct varatt_external ptr;

	if (!VARATT_IS_EXTERNAL_ONDISK(attr))
		return false;
	VARATT_EXTERNAL_GET_POINTER(ptr, attr);
	return !VARATT_EXTERNAL_IS_COMPRESSED(ptr) &&
		VARATT_EXTERNAL_GET_EXTSIZE(ptr) <= MAAS_TOAST_BATCH_VALUE_MAX;
}

int
maas_toast_batch_add(MaasToastBatch *tb, Datum d)
{
	return maas_toast_batch_add_into(tb, d, NULL, 0);
}

int
maas_toast_batch_add_into(MaasToastBatch *tb, Datum d, void *dst, int32 skip)
{
	struct varlena *attr = (struct varlena *) DatumGetPointer(d);
	MaasToastValue *v;

	Assert(maas_toast_batchable(d));
	if (tb->n == tb->cap)
	{
		int			cap = tb->cap == 0 ? 64 : tb->cap * 2;

		tb->values = tb->values == NULL ?
			MemoryContextAlloc(tb->cxt, sizeof(MaasToastValue) * cap) :
			repalloc(tb->values, sizeof(MaasToastValue) * cap);
		tb->cap = cap;
	}
	v = &tb->values[tb->n];
	VARATT_EXTERNAL_GET_POINTER(v->ptr, attr);
	v->size = VARATT_EXTERNAL_GET_EXTSIZE(v->ptr);
	v->chunks = v->size == 0 ? 0 : (v->size - 1) / TOAST_MAX_CHUNK_SIZE + 1;
	v->next = 0;
	v->same = tb->n;
	v->data = NULL;
	v->dst = dst;
	v->skip = dst != NULL ? skip : v->size;
	v->head = NULL;
	Assert(v->skip >= 0 && v->skip <= v->size);
	tb->bytes += v->size;
	return tb->n++;
}

/* order of values: by toast table, then value id, then as added */
static int
cmp_value(const void *a, const void *b, void *arg)
{
	const MaasToastValue *values = arg;
	const MaasToastValue *x = &values[*(const int *) a];
	const MaasToastValue *y = &values[*(const int *) b];

	if (x->ptr.va_toastrelid != y->ptr.va_toastrelid)
		return x->ptr.va_toastrelid < y->ptr.va_toastrelid ? -1 : 1;
	if (x->ptr.va_valueid != y->ptr.va_valueid)
		return x->ptr.va_valueid < y->ptr.va_valueid ? -1 : 1;
	return *(const int *) a - *(const int *) b;
}

static void pg_attribute_noreturn()
corrupt(Relation rel, Oid valueid, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg_internal("%s for toast value %u in %s", what, valueid,
							 RelationGetRelationName(rel))));
}

/*
 * Where v's bytes go: a whole varlena when it has no destination, else
 * its first skip bytes (the array's head) apart and the rest to dst
 */
static void
make_room(MaasToastValue *v)
{
	if (v->dst == NULL)
	{
		v->data = palloc(VARHDRSZ + (Size) v->size);
		SET_VARSIZE(v->data, VARHDRSZ + v->size);
		v->head = VARDATA(v->data);
	}
	else
		v->head = palloc(Max(v->skip, 1));
}

/* len bytes of v's data from off: to head, then dst */
static inline void
put(MaasToastValue *v, int32 off, const char *bytes, int32 len)
{
	if (off < v->skip)
	{
		int32		n = Min(len, v->skip - off);

		memcpy(v->head + off, bytes, n);
		off += n;
		bytes += n;
		len -= n;
	}
	if (len > 0)
		memcpy(v->dst + (off - v->skip), bytes, len);
}

/* the whole of v's data, from where it went, to out */
static void
get(const MaasToastValue *v, char *out)
{
	memcpy(out, v->head, v->skip);
	if (v->size > v->skip)
		memcpy(out + v->skip, v->dst, v->size - v->skip);
}

/* one chunk of value i, checked, into its place */
static void
add_chunk(MaasToastBatch *tb, Relation rel, HeapTuple tup, int i)
{
	MaasToastValue *v = &tb->values[i];
	TupleDesc	desc = RelationGetDescr(rel);
	bool		isnull;
	int32		seq;
	Pointer		chunk;
	char	   *bytes;
	int32		size;
	int32		expected;

	tb->current = i;
	seq = DatumGetInt32(fastgetattr(tup, 2, desc, &isnull));
	if (isnull)
		corrupt(rel, v->ptr.va_valueid, "null chunk number");
	chunk = DatumGetPointer(fastgetattr(tup, 3, desc, &isnull));
	if (isnull)
		corrupt(rel, v->ptr.va_valueid, psprintf("null data in chunk %d", seq));
	if (!VARATT_IS_EXTENDED(chunk))
	{
		size = VARSIZE(chunk) - VARHDRSZ;
		bytes = VARDATA(chunk);
	}
	else if (VARATT_IS_SHORT(chunk))
	{
		size = VARSIZE_SHORT(chunk) - VARHDRSZ_SHORT;
		bytes = VARDATA_SHORT(chunk);
	}
	else
		corrupt(rel, v->ptr.va_valueid, psprintf("toasted data in chunk %d", seq));

	if (seq != v->next)
		corrupt(rel, v->ptr.va_valueid,
				psprintf("unexpected chunk number %d (expected %d)", seq, v->next));
	if (seq >= v->chunks)
		corrupt(rel, v->ptr.va_valueid,
				psprintf("unexpected chunk number %d (out of range 0..%d)", seq, v->chunks - 1));
	expected = seq < v->chunks - 1 ? TOAST_MAX_CHUNK_SIZE :
		v->size - (v->chunks - 1) * TOAST_MAX_CHUNK_SIZE;
	if (size != expected)
		corrupt(rel, v->ptr.va_valueid,
				psprintf("unexpected chunk size %d (expected %d) in chunk %d of %d",
						 size, expected, seq, v->chunks));
	put(v, seq * TOAST_MAX_CHUNK_SIZE, bytes, size);
	v->next++;
}

/* every chunk of value i was read */
static void
value_done(MaasToastBatch *tb, Relation rel, int i)
{
	MaasToastValue *v = &tb->values[i];

	tb->current = i;
	if (v->next != v->chunks)
		corrupt(rel, v->ptr.va_valueid, psprintf("missing chunk number %d", v->next));
	tb->n_values++;
}

/*
 * The chunks of the m values ids[] (indexes into tb->values, ascending
 * value ids, each once, none empty), read with one scan of the id range
 * they span.
 */
static void
scan_run(MaasToastBatch *tb, Relation rel, Relation index, Snapshot snap,
		 const int *ids, int m)
{
	TupleDesc	desc = RelationGetDescr(rel);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int			j = 0;

	if (m == 1)
		/* one value: an equality scan, as its own detoast would run */
		ScanKeyInit(&key[0], (AttrNumber) 1, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(tb->values[ids[0]].ptr.va_valueid));
	else
	{
		ScanKeyInit(&key[0], (AttrNumber) 1, BTGreaterEqualStrategyNumber, F_OIDGE,
					ObjectIdGetDatum(tb->values[ids[0]].ptr.va_valueid));
		ScanKeyInit(&key[1], (AttrNumber) 1, BTLessEqualStrategyNumber, F_OIDLE,
					ObjectIdGetDatum(tb->values[ids[m - 1]].ptr.va_valueid));
	}
	scan = systable_beginscan_ordered(rel, index, snap, m == 1 ? 1 : 2, key);
	tb->n_scans++;
	while ((tup = systable_getnext_ordered(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		Oid			id = DatumGetObjectId(fastgetattr(tup, 1, desc, &isnull));

		if (isnull)
			corrupt(rel, tb->values[ids[j]].ptr.va_valueid, "chunk with a null value id");
		/* the index is on (chunk_id, chunk_seq): chunks come in that order */
		while (j < m && tb->values[ids[j]].ptr.va_valueid < id)
			value_done(tb, rel, ids[j++]);
		if (j == m)
			break;
		if (tb->values[ids[j]].ptr.va_valueid != id)
		{
			tb->n_skipped++;
			continue;
		}
		add_chunk(tb, rel, tup, ids[j]);
	}
	while (j < m)
		value_done(tb, rel, ids[j++]);
	systable_endscan_ordered(scan);
}

/* the m values ids[] (ascending value ids, each once) of toast table relid */
static void
fetch_table(MaasToastBatch *tb, Oid relid, int *ids, int m)
{
	Relation	rel = table_open(relid, AccessShareLock);
	Relation   *indexes;
	int			n_indexes;
	int			valid;
	SnapshotData snap;
	int			n = 0;

	if (rel->rd_tableam != GetHeapamTableAmRoutine())
	{
		/* its own chunks: PostgreSQL reads them, value by value */
		table_close(rel, AccessShareLock);
		for (int k = 0; k < m; k++)
		{
			MaasToastValue *v = &tb->values[ids[k]];
			char		ptr[VARHDRSZ_EXTERNAL + sizeof(struct varatt_external)];

			SET_VARTAG_EXTERNAL(ptr, VARTAG_ONDISK);
			memcpy(VARDATA_EXTERNAL(ptr), &v->ptr, sizeof(v->ptr));
			tb->current = ids[k];
			v->data = detoast_external_attr((struct varlena *) ptr);
			/* a plain varlena of the pointer's size (heap_fetch... is PostgreSQL's) */
			if (VARATT_IS_EXTENDED(v->data) || VARSIZE(v->data) - VARHDRSZ != v->size)
				corrupt(rel, v->ptr.va_valueid, "unexpected size");
			put(v, 0, VARDATA(v->data), v->size);
			tb->n_values++;
		}
		return;
	}
	valid = toast_open_indexes(rel, AccessShareLock, &indexes, &n_indexes);
	init_toast_snapshot(&snap);

	/* empty values have no chunk to read */
	for (int k = 0; k < m; k++)
		if (tb->values[ids[k]].chunks > 0)
			ids[n++] = ids[k];
		else
			tb->n_values++;
	for (int k = 0; k < n;)
	{
		Oid			first = tb->values[ids[k]].ptr.va_valueid;
		int			e = k + 1;

		/* the run: while the ids it spans are few enough for its values */
		while (e < n && (uint64) (tb->values[ids[e]].ptr.va_valueid - first) + 1 <=
			   (uint64) RANGE_SPAN * (e - k + 1))
			e++;
		CHECK_FOR_INTERRUPTS();
		scan_run(tb, rel, indexes[valid], &snap, ids + k, e - k);
		k = e;
	}
	toast_close_indexes(indexes, n_indexes, AccessShareLock);
	table_close(rel, AccessShareLock);
}

void
maas_toast_batch_fetch(MaasToastBatch *tb)
{
	int		   *order;
	int		   *ids;
	MemoryContext old;

	if (tb->n == 0)
		return;
	old = MemoryContextSwitchTo(tb->cxt);
	order = palloc(sizeof(int) * tb->n);
	ids = palloc(sizeof(int) * tb->n);
	for (int i = 0; i < tb->n; i++)
		order[i] = i;
	qsort_arg(order, tb->n, sizeof(int), cmp_value, tb->values);

	for (int k = 0; k < tb->n;)
	{
		Oid			relid = tb->values[order[k]].ptr.va_toastrelid;
		int			m = 0;

		/* this table's values, each once, with room for a whole value */
		for (; k < tb->n && tb->values[order[k]].ptr.va_toastrelid == relid; k++)
		{
			MaasToastValue *v = &tb->values[order[k]];

			if (m > 0 && tb->values[ids[m - 1]].ptr.va_valueid == v->ptr.va_valueid)
			{
				v->same = ids[m - 1];
				continue;
			}
			make_room(v);
			ids[m++] = order[k];
		}
		fetch_table(tb, relid, ids, m);
	}
	/* a value read once for several: copied to the others' places */
	for (int i = 0; i < tb->n; i++)
	{
		MaasToastValue *v = &tb->values[i];
		MaasToastValue *from = &tb->values[v->same];

		if (v->same == i)
			continue;
		if (v->dst == NULL && from->dst == NULL)
			v->data = from->data;
		else
		{
			char	   *all = palloc(Max(v->size, 1));

			get(from, all);
			make_room(v);
			put(v, 0, all, v->size);
			pfree(all);
		}
	}
	tb->current = -1;
	MemoryContextSwitchTo(old);
}

struct varlena *
maas_toast_batch_value(MaasToastBatch *tb, int i)
{
	MaasToastValue *v = &tb->values[i];

	Assert(i >= 0 && i < tb->n && v->head != NULL);
	if (v->data == NULL)
	{
		/* added into a buffer: a copy of the whole, in tb->cxt */
		v->data = MemoryContextAlloc(tb->cxt, VARHDRSZ + (Size) v->size);
		SET_VARSIZE(v->data, VARHDRSZ + v->size);
		get(v, VARDATA(v->data));
	}
	return v->data;
}

int32
maas_toast_batch_size_of(const MaasToastBatch *tb, int i)
{
	return tb->values[i].size;
}

const char *
maas_toast_batch_head(const MaasToastBatch *tb, int i)
{
	Assert(i >= 0 && i < tb->n && tb->values[i].head != NULL);
	return tb->values[i].head;
}

void
maas_toast_batch_reset(MaasToastBatch *tb)
{
	MemoryContextReset(tb->cxt);
	tb->values = NULL;
	tb->n = 0;
	tb->cap = 0;
	tb->bytes = 0;
	tb->current = -1;
}
