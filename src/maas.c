/*
 * maas.c
 *		Module load, settings, and the services kernels get from the server.
 */
#include "maas.h"
#include "stats.h"

#include "predict_batch.h"

#include "fmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"

PG_MODULE_MAGIC;

int			maas_cache_size_kb = 65536;
int			maas_blas_threads = 1;
char	   *maas_blas_library_setting = NULL;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("maas.cache_size",
							"Memory each backend may keep for deserialized models.",
							"Least recently used models are evicted beyond it; "
							"a model in use by a running statement is never evicted.",
							&maas_cache_size_kb,
							65536, 0, MAX_KILOBYTES,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("maas.blas_threads",
							"Threads BLAS may use in each backend.",
							"Keep 1 when many backends serve at once; raise it "
							"for one large batch or training on an idle server.",
							&maas_blas_threads,
							1, 1, 64,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("maas.blas_library",
							   "Shared library that provides CBLAS.",
							   "Empty means libopenblas.so.0, then libblas.so.3.",
							   &maas_blas_library_setting,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	maas_batch_init();
	maas_stats_init();
	maas_training_init();

	MarkGUCPrefixReserved("maas");
}

/*
 * Kernels allocate through this (kernel.h): the current memory context,
 * huge allocations allowed, NULL instead of an error when it cannot be had.
 */
void *
maas_kalloc(size_t size)
{
	if (size == 0)
		size = 1;
	if (!AllocHugeSizeIsValid(size))
		return NULL;
	return palloc_extended(size, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

/*
 * BLAS, opened on first use in this backend (never in the postmaster, see
 * blas.h), with the given number of threads (0: maas.blas_threads).
 */
const MaasBlas *
maas_get_blas_threads(int threads)
{
	char		err[256];
	const MaasBlas *blas;

	blas = maas_blas_load(maas_blas_library_setting,
						  threads > 0 ? threads : maas_blas_threads,
						  err, sizeof(err));
	if (blas == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("could not load the BLAS library"),
				 errdetail("%s", err),
				 errhint("Install libopenblas0 or set maas.blas_library.")));
	return blas;
}

const MaasBlas *
maas_get_blas(void)
{
	return maas_get_blas_threads(0);
}
