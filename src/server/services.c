/*
 * services.c
 *		The services kernels and the SQL glue get from the server: maas_kalloc
 *		(the kernels' one allocator, kernel.h), the interrupt tick, the one
 *		way a kernel's error becomes an ereport, and BLAS with its settings.
 */
#include "services.h"

#include "miscadmin.h"
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

void
maas_check_interrupts(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

const MaasTick maas_interrupts_tick = {maas_check_interrupts, NULL};

/* the errcode of a kernel's status (kernel.h) */
static int
status_errcode(MaasStatus status, int invalid_code)
{
	switch (status)
	{
		case MAAS_ERR_INVALID:
			return invalid_code;
		case MAAS_ERR_UNSUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case MAAS_ERR_LIMIT:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		case MAAS_ERR_NOMEM:
			return ERRCODE_OUT_OF_MEMORY;
		case MAAS_ERR_DIVERGED:
			return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
		case MAAS_ERR_LIBRARY:
			return ERRCODE_UNDEFINED_FILE;
		case MAAS_ERR_IO:
			return ERRCODE_CONNECTION_EXCEPTION;
		case MAAS_ERR_CANCELED:
			return ERRCODE_QUERY_CANCELED;
		case MAAS_OK:
			break;
	}
	return ERRCODE_INTERNAL_ERROR;
}

void
maas_raise(const MaasError *err, int invalid_code, const char *message,
		   const char *hint)
{
	if (err->status == MAAS_OK)
		elog(ERROR, "a kernel failed without saying why");
	if (hint == NULL)
		hint = err->hint;
	if (message)
		ereport(ERROR,
				(errcode(status_errcode(err->status, invalid_code)),
				 errmsg("%s", message),
				 errdetail("%s", err->msg),
				 hint ? errhint("%s", hint) : 0));
	ereport(ERROR,
			(errcode(status_errcode(err->status, invalid_code)),
			 errmsg("%s", err->msg),
			 hint ? errhint("%s", hint) : 0));
	pg_unreachable();
}

const MaasBlas *
maas_get_blas_threads(int threads)
{
	MaasError	err;
	const MaasBlas *blas;

	/* blas.c keeps a message buffer of its own; the status is ours */
	blas = maas_blas_load(blas_library, threads > 0 ? threads : blas_threads,
						  err.msg, sizeof(err.msg));
	if (blas == NULL)
	{
		err.status = MAAS_ERR_LIBRARY;
		err.hint = NULL;
		maas_raise(&err, 0, "could not load the BLAS library",
				   "Install libopenblas0 or set maas.blas_library.");
	}
	return blas;
}

const MaasBlas *
maas_get_blas(void)
{
	return maas_get_blas_threads(0);
}
