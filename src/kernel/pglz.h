/*
 * pglz.h
 *		Decoding PostgreSQL's pglz compression (pglz.c), for the batch path's
 *		feature arrays: a real[] of a few hundred elements or more is
 *		stored compressed in its row by default, and reading a batch of
 *		them is mostly decompression.
 *
 * The format is PostgreSQL's (src/common/pg_lzcompress.c describes it): a
 * control byte, then eight items, each a literal byte (its bit 0) or a
 * back reference (its bit 1) of two bytes -- the high nibble of the first
 * and the second are an offset of 1..4095 back into the output, the low
 * nibble a length of 3..17 -- or three, a low nibble of 15 making the third
 * byte more length (18..273).  A reference may overlap what it writes.
 *
 * The decoder is strict: a stream is good only if it is consumed to its
 * last byte and makes exactly the bytes expected, and no reference reaches
 * before the output or past its end.  A stream it refuses, the caller
 * hands to PostgreSQL, which decides (and raises its own error when the
 * value is corrupt), so what a caller reads is always what PostgreSQL
 * would have given.  Plain C on bytes: safe on any thread.
 */
#ifndef MAAS_PGLZ_H
#define MAAS_PGLZ_H

#include "kernel.h"

/*
 * Decode the srclen bytes at src into exactly rawlen bytes at dst; false
 * (dst then holds anything) when the stream is not a whole, good pglz
 * stream of rawlen bytes.
 */
extern bool maas_pglz_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t rawlen);

/*
 * One compressed array of a batch: its stream, the row of the matrix its
 * floats go to, and whether they did.
 */
typedef struct MaasPglzArray
{
	const uint8_t *src;
	size_t		srclen;
	float	   *row;
	bool		ok;				/* out */
} MaasPglzArray;

/*
 * Decode n compressed arrays, each made of head_len bytes of array header
 * and then n_floats floats, on up to threads threads (threads.h).  An array
 * is ok when its stream is good, its header's first cmp_len bytes are
 * head's, and its floats are all finite: they are then in its row.  What
 * is not ok the caller reads another way (its row holds anything).
 * scratch is threads x (head_len + 4 n_floats) bytes.
 */
extern void maas_pglz_arrays(MaasPglzArray *a, int n, const void *head, size_t head_len,
							 size_t cmp_len, size_t n_floats, uint8_t *scratch, int threads);

#endif							/* MAAS_PGLZ_H */
