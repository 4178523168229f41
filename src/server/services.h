/*
 * services.h
 *		What the server lends every part of maas: the kernels' allocator
 *		(maas_kalloc, declared in kernel.h, defined in services.c) and BLAS,
 *		opened on first use in a backend with its settings.
 */
#ifndef MAAS_SERVICES_H
#define MAAS_SERVICES_H

#include "postgres.h"

#include "blas.h"
#include "kernel.h"

/* maas.blas_threads and maas.blas_library, from _PG_init */
extern void maas_services_init(void);

/*
 * BLAS, opened on first use in this backend (never in the postmaster, see
 * blas.h), with maas.blas_threads threads, or with the given number (0:
 * the setting).  Raises when the library cannot be opened.
 */
extern const MaasBlas *maas_get_blas(void);
extern const MaasBlas *maas_get_blas_threads(int threads);

#endif							/* MAAS_SERVICES_H */
