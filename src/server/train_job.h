/*
 * train_job.h
 *		maas_train (train.c).
 */
#ifndef MAAS_TRAIN_JOB_H
#define MAAS_TRAIN_JOB_H

/* maas.max_training_memory, maas.training_notices, maas.training_threads */
extern void maas_train_init(void);

#endif							/* MAAS_TRAIN_JOB_H */
