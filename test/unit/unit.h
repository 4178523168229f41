/*
 * unit.h
 *		A tiny harness for the C unit tests, and the test arena behind
 *		maas_kalloc() (both implemented in arena.c).
 *
 * A test is a void function run with UNIT_RUN(); it fails when any CHECK in
 * it fails.  unit_finish() prints one machine-readable line,
 *		RESULT <suite> <passed> <failed>
 * which the Makefile adds up across test binaries.
 */
#ifndef MAAS_UNIT_H
#define MAAS_UNIT_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"

/* the arena: every maas_kalloc'd block, freed together by arena_reset() */
extern void arena_reset(void);
extern size_t arena_in_use(void);
/* make the allocation after the next n fail (n < 0: never fail) */
extern void arena_fail_after(long n);

extern void unit_fail(const char *file, int line, const char *what);
extern void unit_run(const char *name, void (*fn) (void));
extern int	unit_finish(const char *suite);

/*
 * got within tol * max(1, max |want|) of want, element by element (printing
 * the worst element when not); the worst error over that scale
 */
extern bool unit_close(const char *what, size_t n, const float *got, const double *want, double tol);
extern bool unit_close_f(const char *what, size_t n, const float *got, const float *want, double tol);
extern double unit_rel_diff_f(size_t n, const float *got, const float *want);

/*
 * The next number of a SplitMix64 sequence whose state is *state,
 * uniform in [0, 1): each test keeps its own state, so that its numbers do
 * not depend on other tests
 */
extern double unit_urand(uint64_t *state);

/*
 * Write n bytes of data to the file dir/name (a fuzzer's seed, for the
 * --corpus option of the tests that have one); false when it cannot
 */
extern bool unit_write_file(const char *dir, const char *name, const void *data, size_t n);

#define UNIT_RUN(fn) unit_run(#fn, fn)

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			unit_fail(__FILE__, __LINE__, #cond); \
	} while (0)

/* a failed call whose message contains fragment */
#define CHECK_ERR(ok, err, fragment) \
	do { \
		bool		unit_ok_ = (ok); \
		if (unit_ok_ || strstr((err), (fragment)) == NULL) \
		{ \
			unit_fail(__FILE__, __LINE__, "error containing: " fragment); \
			fprintf(stderr, "    got: %s (%s)\n", unit_ok_ ? "success" : "failure", \
					(err)); \
		} \
	} while (0)

#endif							/* MAAS_UNIT_H */
