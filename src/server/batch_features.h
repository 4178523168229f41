/*
 * batch_features.h
 *		The feature arrays of a batch's rows, read when the batch is scored
 *		rather than row by row (batch_features.c), so that the rows stored
 *		out of line have their values fetched together (toast_batch.h).
 *
 * The batch path hands each row's features datum over as it reads it
 * (maas_features_defer); a row stored out of line, uncompressed, waits for
 * its value with the others', and once one waits, the other rows wait too
 * (a copy of their datum) so that the rows are checked in their order and
 * a bad row raises the error, with the row named, that it would raise read
 * alone.  maas_features_resolve fetches the values and checks each row with
 * maas_serve_features into its row of the matrix, exactly as the row would
 * have been read; a clean real[n_in] goes straight from the toast chunks to
 * the matrix.  A real[n_in] compressed in its row with pglz (what the
 * default storage makes of an array that compresses) waits too, even
 * alone: the waiting ones are decoded together on the batch's threads
 * (pglz.h), straight into their rows when they are clean.  A datum that
 * cannot wait (in memory, another external kind) makes the caller resolve
 * first and read it as before.
 */
#ifndef MAAS_BATCH_FEATURES_H
#define MAAS_BATCH_FEATURES_H

#include "serve.h"

#include "pglz.h"
#include "toast_batch.h"

typedef struct MaasBatchFeatures
{
	MaasServeState *st;
	MaasToastBatch toast;		/* the out-of-line values */
	MemoryContext cxt;			/* the waiting rows' copies */
	int			n;				/* rows waiting */
	int			cap;
	int		   *row;			/* each one's row of the matrix */
	uint64	   *rownum;			/* and of the query, for errors */
	int		   *value;			/* its value in toast, or -1 */
	Datum	   *copy;			/* or a copy of its datum */
	int		   *packed;			/* its compressed array in arrays, or -1 */
	MaasPglzArray *arrays;		/* the pglz-compressed real[n_in] waiting */
	int			n_arrays;
	int			threads;		/* to decode them on (1 by default) */
	uint8	   *scratch;		/* threads x the size of one decoded */
	uint64		n_decoded;		/* arrays decoded into their rows */
	Size		bytes;			/* the copies' sizes */
	int			current;		/* the row being checked, or -1 */
	const int64 *keys;			/* while resolving: the batch's keys */
} MaasBatchFeatures;

/* an empty set for st's model, in a child of parent */
extern void maas_features_init(MaasBatchFeatures *bf, MaasServeState *st,
							   MemoryContext parent);

/*
 * Let the features d of matrix row row (query row rownum) wait, x being
 * that row of the matrix, which must stay where it is until resolved;
 * false when d cannot wait: resolve, then read it now.
 */
extern bool maas_features_defer(MaasBatchFeatures *bf, Datum d, int row, uint64 rownum,
								float *x);

/* rows waiting, and is it time to resolve them (their memory) */
static inline bool
maas_features_waiting(const MaasBatchFeatures *bf)
{
	return bf->n > 0;
}

static inline bool
maas_features_full(const MaasBatchFeatures *bf)
{
	return maas_toast_batch_full(&bf->toast) || bf->bytes >= MAAS_TOAST_BATCH_BYTES;
}

/*
 * Read the waiting rows into x (matrix rows of n_in floats), in order,
 * keys[row] naming each in an error's context; then none waits.
 */
extern void maas_features_resolve(MaasBatchFeatures *bf, float *x, const int64 *keys);

#endif							/* MAAS_BATCH_FEATURES_H */
