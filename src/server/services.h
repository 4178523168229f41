/*
 * services.h
 *		What the server lends every part of maas: the kernels' allocator
 *		(maas_kalloc, declared in kernel.h, defined in services.c), their
 *		interrupt tick, turning their errors into ereports, and BLAS, opened
 *		with its settings by the postmaster when maas is preloaded
 *		(maas_services_preload), otherwise on first use in a backend.
 */
#ifndef MAAS_SERVICES_H
#define MAAS_SERVICES_H

#include "postgres.h"

#include "blas.h"
#include "kernel.h"

/* maas.blas_threads and maas.blas_library, from _PG_init */
extern void maas_services_init(void);
extern void maas_services_preload(void);

/*
 * BLAS, opened on first use in this backend (never in the postmaster, see
 * blas.h), with maas.blas_threads threads, or with the given number (0:
 * the setting).  Raises when the library cannot be opened.
 */
extern const MaasBlas *maas_get_blas_threads(int threads);

/* maas.blas_threads */
extern int	maas_blas_threads(void);

/*
 * The interface maas_get_blas() returned last, while no setting of the
 * backend changed since and it has the setting's threads (NULL otherwise):
 * the per-row path's one test.  The batch pipeline sets it to NULL while its
 * worker runs products, so that a product on the backend's thread first
 * waits for the worker (maas_get_blas_threads does).
 */
extern PGDLLIMPORT const MaasBlas *maas_blas_ready;

static inline const MaasBlas *
maas_get_blas(void)
{
	if (likely(maas_blas_ready != NULL))
		return maas_blas_ready;
	return maas_get_blas_threads(0);
}

/*
 * The kernels' tick (kernel.h) in the server: CHECK_FOR_INTERRUPTS(), which
 * does not return when a cancel or a timeout is pending.
 */
extern void maas_check_interrupts(void *arg);
extern const MaasTick maas_interrupts_tick;

/*
 * Raise a kernel's error (kernel.h) as an ERROR.  The errcode follows the
 * status; MAAS_ERR_INVALID takes invalid_code, which only the caller knows
 * (ERRCODE_INVALID_PARAMETER_VALUE for bad arguments or data,
 * ERRCODE_INVALID_BINARY_REPRESENTATION for bad bytes, ...).  With a
 * message, that is the primary message and the kernel's its detail;
 * without (NULL), the kernel's message is the primary one.  The hint is
 * the caller's, or else the kernel's (MaasError.hint), or none.
 */
extern void maas_raise(const MaasError *err, int invalid_code,
					   const char *message, const char *hint)
			pg_attribute_noreturn();

#endif							/* MAAS_SERVICES_H */
