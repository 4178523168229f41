/*
 * maas.c
 *		Module load: each part of maas defines its settings and asks for its
 *		shared memory in its own *_init, called from here.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "cache.h"
#include "predict_batch.h"
#include "progress.h"
#include "remote.h"
#include "rollout.h"
#include "services.h"
#include "stats.h"
#include "train_job.h"
#include "weights.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	maas_services_init();		/* maas.blas_threads, maas.blas_library */
	maas_cache_init();			/* maas.cache_size */
	maas_weights_init();		/* maas.shared_model_memory, shared copies */
	maas_batch_init();			/* maas.batch_size */
	maas_stats_init();			/* maas.stats_*, the statistics table */
	maas_train_init();			/* maas.max_training_memory, training_* */
	maas_progress_init();		/* the training progress slots */
	maas_remote_init();			/* maas.remote_* */
	maas_rollout_init();		/* maas.shadow_fraction */

	MarkGUCPrefixReserved("maas");

	/* last: the settings are read; in the postmaster only */
	maas_services_preload();	/* maas.preload_libraries */
}
