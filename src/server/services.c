/*
 * services.c
 *		The services kernels and the SQL glue get from the server: maas_kalloc
 *		(the kernels' one allocator, kernel.h), the interrupt tick, the one
 *		way a kernel's error becomes an ereport, and the matrix backend
 *		(blas.h) with its settings.
 *
 * The matrix backend is opened in the postmaster when maas is preloaded
 * (maas_services_preload, maas.preload_libraries), otherwise on a backend's
 * first product, with what the settings say (maas.blas_library,
 * maas.blas_threads, maas.gemm_backend, maas.cpu_features_disable); after
 * that, maas_get_blas() returns the same interface without asking the
 * kernel again until one of those settings changes (their assign hooks
 * mark it), so the per-row path pays one comparison for it.
 */
#include "services.h"
#include "threads.h"

#include <dirent.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/guc.h"
#include "utils/memutils.h"

static int	blas_threads = 1;
static char *blas_library = NULL;
static int	gemm_backend = MAAS_BACKEND_AUTO;
static char *cpu_disable_text = NULL;
static MaasCpuMask cpu_disable = 0;
static bool preload_libraries = true;

/* the interface maas_get_blas_threads() returned last, and its threads */
static const MaasBlas *blas_now = NULL;
static int	blas_now_threads = 0;
static bool blas_stale = true;

/* blas_now while it is what maas_get_blas() would return (services.h) */
const MaasBlas *maas_blas_ready = NULL;

static const struct config_enum_entry gemm_backend_options[] = {
	{"auto", MAAS_BACKEND_AUTO, false},
	{"blas", MAAS_BACKEND_BLAS, false},
	{"onednn", MAAS_BACKEND_ONEDNN, false},
	{NULL, 0, false}
};

/* maas.conv_algorithm */
typedef enum ConvAlgorithm
{
	CONV_AUTO,
	CONV_DIRECT
} ConvAlgorithm;

static int	conv_algorithm = CONV_AUTO;

static const struct config_enum_entry conv_algorithm_options[] = {
	{"auto", CONV_AUTO, false},
	{"direct", CONV_DIRECT, false},
	{NULL, 0, false}
};

static void
assign_conv_algorithm(int newval, void *extra)
{
	maas_dnn_conv_winograd = newval == CONV_AUTO;
}

/* a setting of the backend changed: ask the kernel at the next product */
static void
assign_blas_threads(int newval, void *extra)
{
	blas_stale = true;
	maas_blas_ready = NULL;
}

static void
assign_gemm_backend(int newval, void *extra)
{
	blas_stale = true;
	maas_blas_ready = NULL;
}

/*
 * maas.cpu_features_disable: a list of CPU feature names (cpu.h); the
 * parsed mask travels as the setting's extra, malloc'd as PostgreSQL 15
 * wants it.
 */
static bool
check_cpu_disable(char **newval, void **extra, GucSource source)
{
	MaasCpuMask mask;
	MaasError	err;
	MaasCpuMask *copy;

	if (!maas_cpu_parse_features(*newval, &mask, &err))
	{
		GUC_check_errdetail("%s.", err.msg);
		GUC_check_errhint("Use names such as avx512f, avx2, amx or all, separated by commas.");
		return false;
	}
	copy = malloc(sizeof(MaasCpuMask));
	if (copy == NULL)
		return false;
	*copy = mask;
	*extra = copy;
	return true;
}

static void
assign_cpu_disable(const char *newval, void *extra)
{
	cpu_disable = extra ? *(MaasCpuMask *) extra : 0;
	blas_stale = true;
	maas_blas_ready = NULL;
}

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
							NULL, assign_blas_threads, NULL);

	DefineCustomStringVariable("maas.blas_library",
							   "Shared library that provides CBLAS.",
							   "Empty means libopenblas.so.0, then libblas.so.3.",
							   &blas_library,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomEnumVariable("maas.gemm_backend",
							 "Which library runs the matrix products.",
							 "auto picks per operation from the CPU's features and "
							 "measurements; blas forces the BLAS library (and maas's "
							 "own int8 and bf16 kernels); onednn forces oneDNN.",
							 &gemm_backend,
							 MAAS_BACKEND_AUTO,
							 gemm_backend_options,
							 PGC_USERSET,
							 0,
							 NULL, assign_gemm_backend, NULL);

	DefineCustomEnumVariable("maas.conv_algorithm",
							 "How oneDNN computes 3x3 convolutions.",
							 "auto uses its Winograd primitive for 3x3 convolutions of "
							 "stride 1 where it has one (about half the time of the "
							 "direct one, results within about 1e-6 of it); direct "
							 "always uses the direct primitive.",
							 &conv_algorithm,
							 CONV_AUTO,
							 conv_algorithm_options,
							 PGC_USERSET,
							 0,
							 NULL, assign_conv_algorithm, NULL);

	DefineCustomStringVariable("maas.cpu_features_disable",
							   "CPU features the matrix kernels must not use.",
							   "A list such as \"avx512f, amx\": maas chooses its kernels "
							   "as on a CPU without them.  Libraries read it when a "
							   "backend first loads them.",
							   &cpu_disable_text,
							   "",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   check_cpu_disable, assign_cpu_disable, NULL);

	/* a restart setting: defined only where it can be set */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomBoolVariable("maas.preload_libraries",
							 "Open the matrix libraries in the postmaster.",
							 "With maas in shared_preload_libraries, OpenBLAS and oneDNN "
							 "are opened and initialized once, on one thread, and every "
							 "backend inherits them; off, each backend opens them at "
							 "its first product.",
							 &preload_libraries,
							 true,
							 PGC_POSTMASTER,
							 0,
							 NULL, NULL, NULL);
}

/* what the settings say, for the matrix backend */
static void
blas_config(MaasBlasConfig *config, int threads)
{
	memset(config, 0, sizeof(*config));
	config->library = blas_library;
	config->threads = threads;
	config->backend = (MaasGemmBackend) gemm_backend;
	config->cpu_disable = cpu_disable;
}

/* threads of this process (Linux; 1 where it cannot be told) */
static int
process_threads(void)
{
	DIR		   *d = opendir("/proc/self/task");
	struct dirent *e;
	int			n = 0;

	if (d == NULL)
		return 1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n : 1;
}

/*
 * From _PG_init in the postmaster (shared_preload_libraries): open the
 * matrix libraries once, with the settings of postgresql.conf and one
 * thread (blas.h, maas_blas_preload), so that every backend inherits them
 * by fork instead of paying dlopen, relocation and oneDNN's first kernels
 * at its first product.  Neither library starts a thread here.  A failure
 * is logged and left to each backend's first product to report.
 */
void
maas_services_preload(void)
{
	MaasBlasConfig config;
	MaasError	err;
	MemoryContext cxt;
	MemoryContext old;
	instr_time	start,
				took;
	int			threads_before;

	if (!process_shared_preload_libraries_in_progress || IsUnderPostmaster ||
		!preload_libraries)
		return;
	threads_before = process_threads();
	blas_config(&config, 1);
	cxt = AllocSetContextCreate(TopMemoryContext, "maas preload", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	INSTR_TIME_SET_CURRENT(start);
	if (maas_blas_preload(&config, true, &err) == NULL)
		ereport(LOG,
				(errmsg("maas could not open the matrix libraries in the postmaster: %s",
						err.msg),
				 errdetail("Each backend tries again at its first matrix product.")));
	else
	{
		INSTR_TIME_SET_CURRENT(took);
		INSTR_TIME_SUBTRACT(took, start);
		elog(DEBUG1, "maas opened the matrix libraries in the postmaster in %.1f ms",
			 INSTR_TIME_GET_MILLISEC(took));
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	if (process_threads() > threads_before)
		ereport(WARNING,
				(errmsg("the matrix libraries started threads in the postmaster"),
				 errdetail("Backends forked with them may hang in their first parallel product."),
				 errhint("Set maas.preload_libraries to off and restart the server.")));
#ifdef __GLIBC__
	/* what the warm-up freed goes back, not to be copied by every fork */
	malloc_trim(0);
#endif
}

int
maas_blas_threads(void)
{
	return blas_threads;
}

/*
 * Kernels allocate through this (kernel.h): the current memory context,
 * huge allocations allowed, NULL instead of an error when it cannot be had.
 */
void *
maas_kalloc(size_t size)
{
	/* palloc is the backend's alone: a kernel on a pool thread gets none */
	if (unlikely(maas_worker_thread))
		return NULL;
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

/*
 * The matrix backend with the settings, and threads threads (0: the
 * setting's).  The kernel is asked only when a setting or the thread count
 * changed since the last call.
 */
const MaasBlas *
maas_get_blas_threads(int threads)
{
	MaasBlasConfig config;
	MaasError	err;
	const MaasBlas *blas;

	/* the batch worker may be running products: they take turns */
	if (unlikely(maas_async_pending()))
	{
		maas_async_wait();
		maas_blas_bind_thread();
	}
	if (threads <= 0)
		threads = blas_threads;
	if (!blas_stale && blas_now != NULL && threads == blas_now_threads)
		blas = blas_now;
	else
	{
		blas_config(&config, threads);
		maas_blas_ready = NULL;
		blas_now = NULL;
		blas = maas_blas_open(&config, &err);
		if (blas == NULL)
			maas_raise(&err, 0, "could not load the matrix backend", NULL);
		blas_now = blas;
		blas_now_threads = threads;
		blas_stale = false;
	}
	maas_blas_ready = threads == blas_threads ? blas : NULL;
	return blas;
}
