/*
 * services.c
 *		The services kernels and the SQL glue get from the server: maas_kalloc
 *		(the kernels' one allocator, kernel.h) and BLAS with its settings.
 */
#include "services.h"

#include "utils/guc.h"
#include "utils/memutils.h"

static int	blas_threads = 1;
static char *blas_library = NULL;

void
maas_services_init(void)
{
	DefineCustomIntVariable("maas.blas_threads",
							"Threads BLAS may use in each backend.",
							"Keep 1 when many backends serve at once; raise it "
							"for one large batch or training on an idle server.",
							&blas_threads,
							1, 1, 64,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("maas.blas_library",
							   "Shared library that provides CBLAS.",
							   "Empty means libopenblas.so.0, then libblas.so.3.",
							   &blas_library,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
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

const MaasBlas *
maas_get_blas_threads(int threads)
{
	char		err[256];
	const MaasBlas *blas;

	blas = maas_blas_load(blas_library, threads > 0 ? threads : blas_threads,
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
