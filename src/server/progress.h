/*
 * progress.h
 *		Trainings in flight, visible from every session (maas.training_progress).
 */
#ifndef MAAS_PROGRESS_H
#define MAAS_PROGRESS_H

#include "postgres.h"

typedef enum MaasTrainPhase
{
	MAAS_PHASE_LOADING,
	MAAS_PHASE_PREPROCESSING,
	MAAS_PHASE_TRAINING,
	MAAS_PHASE_EVALUATING,
	MAAS_PHASE_STORING
} MaasTrainPhase;

/* the progress slots in shared memory, from _PG_init */
extern void maas_progress_init(void);

/* this backend starts, updates and ends its one training */
extern void maas_progress_begin(const char *model, const char *algorithm);
extern void maas_progress_phase(MaasTrainPhase phase, int64 rows);
extern void maas_progress_epoch(int epoch, int epochs, double loss);
extern void maas_progress_end(void);

#endif							/* MAAS_PROGRESS_H */
