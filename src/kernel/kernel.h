/*
 * kernel.h
 *		What every SQL-free part of maas shares: fixed-width types, the
 *		allocation contract, the one error convention, and the interrupt
 *		hook.
 *
 * Kernel files include no PostgreSQL header, so they build into the C unit
 * tests under test/unit without a server.
 *
 * Memory.  Kernels allocate only through maas_kalloc() and never free: the
 * caller owns the lifetime.  In the server maas_kalloc() is a palloc in the
 * current memory context, so a context reset releases everything a kernel
 * made; the unit tests supply an arena.  maas_kalloc() returns NULL when the
 * request cannot be met, and kernels turn that into MAAS_ERR_NOMEM, never an
 * exit.  Memory a library allocates itself (oneDNN, libcurl, XGBoost) is
 * not kernel memory: whoever creates such a handle also arranges for it to
 * be freed when an error unwinds.
 *
 * Errors.  A kernel that can fail takes a MaasError * as its last argument
 * and returns false (or NULL) after maas_error() has filled it in: a status
 * that tells the server which errcode to raise, and a message in
 * PostgreSQL's style (lower case, no trailing period, values in double
 * quotes) that the server shows as the detail of its own message.
 *
 * Interrupts.  A loop whose length comes from the data calls maas_tick()
 * every so often (a mini-batch, a few thousand rows, a token).  In the
 * server the hook checks for interrupts and may not return (it raises the
 * cancel error with a longjmp), so code between ticks must hold nothing
 * but kernel memory, and ticks are made only from the calling thread --
 * never from inside a BLAS or OpenMP thread.
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

/* maas_kalloc of n elements of size each, NULL on overflow or no memory */
static inline void *
maas_kalloc_array(size_t n, size_t size)
{
	size_t		bytes;

	if (!maas_mul_size(n, size, &bytes))
		return NULL;
	return maas_kalloc(bytes);
}

/* ---- errors ---- */

#define MAAS_ERRLEN 256

typedef enum MaasStatus
{
	MAAS_OK = 0,
	MAAS_ERR_INVALID,			/* the input is wrong: bytes, config or data */
	MAAS_ERR_UNSUPPORTED,		/* well-formed, but not something maas does */
	MAAS_ERR_LIMIT,				/* a size or count beyond what is allowed */
	MAAS_ERR_NOMEM,				/* maas_kalloc (or a library) ran out */
	MAAS_ERR_DIVERGED,			/* training: loss or weights stopped being finite */
	MAAS_ERR_LIBRARY,			/* a library is missing or failed (BLAS, oneDNN) */
	MAAS_ERR_IO,				/* a transfer failed: connection, timeout, HTTP */
	MAAS_ERR_CANCELED			/* stopped because an interrupt was pending */
} MaasStatus;

typedef struct MaasError
{
	MaasStatus	status;
	char		msg[MAAS_ERRLEN];
	const char *hint;			/* a sentence the server adds as errhint, or
								 * NULL; static or maas_kalloc memory */
} MaasError;

/*
 * Record an error and return false.  The message is cut to MAAS_ERRLEN - 1
 * bytes at a character boundary, so it stays valid UTF-8.  err may be NULL.
 */
extern bool maas_error(MaasError *err, MaasStatus status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* maas_error, then a hint (a full sentence); returns false */
extern bool maas_error_hint(MaasError *err, const char *hint);

/* maas_error(err, MAAS_ERR_NOMEM, "out of memory") */
extern bool maas_error_nomem(MaasError *err);

/* a short name of a status, for tests and logs ("invalid", "nomem", ...) */
extern const char *maas_status_name(MaasStatus status);

/* ---- interrupts ---- */

typedef struct MaasTick
{
	void		(*fn) (void *arg);	/* may not return */
	void	   *arg;
} MaasTick;

static inline void
maas_tick(const MaasTick *tick)
{
	if (tick != NULL && tick->fn != NULL)
		tick->fn(tick->arg);
}

#endif							/* MAAS_KERNEL_H */
