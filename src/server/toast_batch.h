/*
 * toast_batch.h
 *		Fetching the out-of-line values of many rows at once (toast_batch.c),
 *		for the paths that read rows in batches: maas_predict_batch, and any
 *		reader of real[] rows that can wait for a batch of them.
 *
 * A value stored out of line and uncompressed (STORAGE EXTERNAL, or
 * EXTENDED when compression did not pay) is a TOAST pointer in its row;
 * PostgreSQL's detoast opens the toast table and its index and runs an
 * index scan for each value.  Here the caller adds the pointers of a batch
 * of rows (maas_toast_batch_add), fetch reads all their chunks with one
 * table and index open per toast table and one ordered index scan per run
 * of close value ids, and each value comes back as the plain varlena
 * PostgreSQL's detoast would give (maas_toast_batch_value).  Anything else
 * (inline, short, compressed, in memory, expanded) is not batchable and
 * goes PostgreSQL's way.
 */
#ifndef MAAS_TOAST_BATCH_H
#define MAAS_TOAST_BATCH_H

#include "postgres.h"

/* bytes one fetch assembles at most: the caller fetches once full */
#define MAAS_TOAST_BATCH_BYTES	(16 * 1024 * 1024)
/* a larger value goes PostgreSQL's way */
#define MAAS_TOAST_BATCH_VALUE_MAX	(1024 * 1024)

typedef struct MaasToastValue MaasToastValue;

typedef struct MaasToastBatch
{
	MemoryContext cxt;			/* the values; reset by maas_toast_batch_reset */
	MaasToastValue *values;		/* cap, in the order added */
	int			n;
	int			cap;
	Size		bytes;			/* the values' sizes added up */
	int			current;		/* while fetching: the value whose chunk is
								 * read (for an error context), else -1 */
	/* what the fetches did, for DEBUG1 lines and tests */
	uint64		n_values;		/* values fetched */
	uint64		n_scans;		/* index scans */
	uint64		n_skipped;		/* chunks of values not asked for */
} MaasToastBatch;

/* an empty batch whose values live in a child of parent */
extern void maas_toast_batch_init(MaasToastBatch *tb, MemoryContext parent);

/* is d a value fetch can batch: on disk, uncompressed, not too large */
extern bool maas_toast_batchable(Datum d);

/* the bytes of a batchable d's data (after its varlena header) */
extern int32 maas_toast_batch_size(Datum d);

/* add a batchable d; returns its index for maas_toast_batch_value */
extern int	maas_toast_batch_add(MaasToastBatch *tb, Datum d);

/*
 * Add a batchable d whose data from byte skip on (size - skip bytes) the
 * fetch writes straight to dst, the first skip bytes kept apart
 * (maas_toast_batch_head): an array's elements into the caller's matrix,
 * its header to be checked.  dst must stay valid until the reset.
 */
extern int	maas_toast_batch_add_into(MaasToastBatch *tb, Datum d, void *dst,
									  int32 skip);

static inline bool
maas_toast_batch_full(const MaasToastBatch *tb)
{
	return tb->bytes >= MAAS_TOAST_BATCH_BYTES;
}

/*
 * Fetch every value added since the last reset, checking each chunk as
 * PostgreSQL does (a corrupt toast table raises ERRCODE_DATA_CORRUPTED),
 * under the toast snapshot PostgreSQL's detoast uses.
 */
extern void maas_toast_batch_fetch(MaasToastBatch *tb);

/*
 * Value i, after the fetch: a plain 4-byte-header varlena, in tb->cxt (one
 * added into a buffer is assembled from its head and that buffer, which
 * must not have changed).
 */
extern struct varlena *maas_toast_batch_value(MaasToastBatch *tb, int i);

/* the bytes of value i's data */
extern int32 maas_toast_batch_size_of(const MaasToastBatch *tb, int i);

/* the first skip bytes of value i's data, after the fetch */
extern const char *maas_toast_batch_head(const MaasToastBatch *tb, int i);

/* forget the values (and free them) for the next batch */
extern void maas_toast_batch_reset(MaasToastBatch *tb);

#endif							/* MAAS_TOAST_BATCH_H */
