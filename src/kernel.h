/*
 * kernel.h
 *		What the SQL-free parts of maas (safetensors, layer runtime, BLAS
 *		shim) share: fixed-width types and the allocation contract.
 *
 * Kernel files include no PostgreSQL header, so they build into the C unit
 * tests under test/unit without a server.  They allocate only through
 * maas_kalloc() and never free: the caller owns the lifetime.  In the server
 * maas_kalloc() is a palloc in the current memory context (see maas.c), so a
 * context reset releases everything a kernel made; the unit tests supply an
 * arena.  maas_kalloc() returns NULL when the request cannot be met, and
 * kernels turn that into an error code, never an exit.
 */
#ifndef MAAS_KERNEL_H
#define MAAS_KERNEL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

extern void *maas_kalloc(size_t size);

/* a * b, or false when it overflows size_t */
static inline bool
maas_mul_size(size_t a, size_t b, size_t *result)
{
	return !__builtin_mul_overflow(a, b, result);
}

static inline bool
maas_add_size(size_t a, size_t b, size_t *result)
{
	return !__builtin_add_overflow(a, b, result);
}

#endif							/* MAAS_KERNEL_H */
