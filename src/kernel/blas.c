/*
 * blas.c
 *		Run-time loading of the BLAS library (see blas.h for why).
 */
#include "blas.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static MaasBlas blas;
static void *blas_handle = NULL;
static const char *blas_opened = NULL;
static int	blas_threads = -1;

static const char *const default_libraries[] = {
	"libopenblas.so.0",
	"libblas.so.3",
	NULL
};

const MaasBlas *
maas_blas_load(const char *library, int threads, char *err, size_t errlen)
{
	if (blas_handle == NULL)
	{
		const char *const *names = default_libraries;
		const char *one[2] = {library, NULL};
		char		threads_env[16];

		if (library != NULL && library[0] != '\0')
			names = one;

		/*
		 * OpenBLAS sizes its thread pool when it is loaded, from the
		 * environment; set it so that no surplus threads are started.
		 */
		snprintf(threads_env, sizeof(threads_env), "%d", threads > 0 ? threads : 1);
		setenv("OPENBLAS_NUM_THREADS", threads_env, 1);

		for (; *names != NULL; names++)
		{
			blas_handle = dlopen(*names, RTLD_NOW | RTLD_LOCAL);
			if (blas_handle != NULL)
			{
				blas_opened = *names;
				break;
			}
		}
		if (blas_handle == NULL)
		{
			const char *why = dlerror();

			snprintf(err, errlen, "%s", why ? why : "no library found");
			return NULL;
		}

		blas.sgemm = (maas_sgemm_fn) dlsym(blas_handle, "cblas_sgemm");
		blas.sgemv = (maas_sgemv_fn) dlsym(blas_handle, "cblas_sgemv");
		blas.set_num_threads = (void (*) (int)) dlsym(blas_handle, "openblas_set_num_threads");
		blas.dsyrk = (maas_dsyrk_fn) dlsym(blas_handle, "cblas_dsyrk");
		blas.dpotrf = (maas_dpotrf_fn) dlsym(blas_handle, "dpotrf_");
		blas.dpotrs = (maas_dpotrs_fn) dlsym(blas_handle, "dpotrs_");
		if (blas.sgemm == NULL || blas.sgemv == NULL)
		{
			snprintf(err, errlen, "library \"%s\" has no cblas_sgemm or cblas_sgemv", blas_opened);
			dlclose(blas_handle);
			blas_handle = NULL;
			blas_opened = NULL;
			return NULL;
		}
	}

	if (threads > 0 && threads != blas_threads)
	{
		if (blas.set_num_threads)
			blas.set_num_threads(threads);
		blas_threads = threads;
	}
	return &blas;
}

const char *
maas_blas_library(void)
{
	return blas_opened;
}
