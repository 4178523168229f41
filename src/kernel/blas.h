/*
 * blas.h
 *		The BLAS routines maas uses, reached through a run-time loader.
 *
 * maas.so does not link OpenBLAS.  The library is opened with dlopen() on
 * first use in a backend, so loading maas through shared_preload_libraries
 * never starts BLAS (or its threads) in the postmaster, and every process
 * that forks from it starts clean.  The thread count is set before the
 * first call.  No PostgreSQL header here: the unit tests use this file too.
 */
#ifndef MAAS_BLAS_H
#define MAAS_BLAS_H

#include "kernel.h"

/* row-major only; trans flags say whether the operand is transposed */
typedef void (*maas_sgemm_fn) (int order, int transa, int transb,
							   int m, int n, int k, float alpha,
							   const float *a, int lda, const float *b, int ldb,
							   float beta, float *c, int ldc);
typedef void (*maas_sgemv_fn) (int order, int trans, int m, int n, float alpha,
							   const float *a, int lda, const float *x, int incx,
							   float beta, float *y, int incy);

typedef void (*maas_dsyrk_fn) (int order, int uplo, int trans, int n, int k,
							   double alpha, const double *a, int lda,
							   double beta, double *c, int ldc);
/* LAPACK (Fortran calling convention, column-major), as OpenBLAS exports it */
typedef void (*maas_dpotrf_fn) (const char *uplo, const int *n, double *a,
								const int *lda, int *info);
typedef void (*maas_dpotrs_fn) (const char *uplo, const int *n, const int *nrhs,
								const double *a, const int *lda, double *b,
								const int *ldb, int *info);

typedef struct MaasBlas
{
	maas_sgemm_fn sgemm;
	maas_sgemv_fn sgemv;
	void		(*set_num_threads) (int n);	/* NULL if the library has none */
	/* used by the trainers; NULL when the library lacks them */
	maas_dsyrk_fn dsyrk;
	maas_dpotrf_fn dpotrf;
	maas_dpotrs_fn dpotrs;
} MaasBlas;

/* CBLAS enum values, fixed by the CBLAS standard */
#define MAAS_CBLAS_ROW_MAJOR	101
#define MAAS_CBLAS_NO_TRANS		111
#define MAAS_CBLAS_TRANS		112
#define MAAS_CBLAS_UPPER		121
#define MAAS_CBLAS_LOWER		122

/*
 * Open the library (first call only) and return its entry points, or NULL
 * with a message in err.  library is a file name for dlopen(); NULL means
 * the default list (libopenblas.so.0, then libblas.so.3).  threads is
 * applied through the library's own setter when it changes.
 */
extern const MaasBlas *maas_blas_load(const char *library, int threads,
									  char *err, size_t errlen);

/* which library was opened, or NULL */
extern const char *maas_blas_library(void);

#endif							/* MAAS_BLAS_H */
