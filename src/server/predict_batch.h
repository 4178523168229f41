/*
 * batch.h
 *		Scoring row sets in batches (batch.c).
 */
#ifndef MAAS_BATCH_H
#define MAAS_BATCH_H

/* maas.batch_size: rows per matrix-matrix pass */
extern int	maas_batch_size;

extern void maas_batch_init(void);

#endif							/* MAAS_BATCH_H */
