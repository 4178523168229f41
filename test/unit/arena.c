/*
 * arena.c
 *		maas_kalloc() for the unit tests, and the harness functions of
 *		unit.h.
 *
 * Each block is malloc'd with a header that links it into a list, so
 * arena_reset() can free everything (LeakSanitizer stays quiet) and ASan
 * sees every block on its own, with redzones.  New blocks are filled with
 * 0x7f so that code relying on zeroed memory shows up.  arena_fail_after()
 * makes a chosen allocation return NULL, to test out-of-memory paths.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "unit.h"

typedef union ArenaBlock
{
	union ArenaBlock *next;
	long double align_ld;		/* keep the payload maximally aligned */
	uint64_t	align_u64;
	void	   *align_ptr;
} ArenaBlock;

static ArenaBlock *arena_head = NULL;
static size_t arena_bytes = 0;
static long arena_countdown = -1;

void *
maas_kalloc(size_t size)
{
	ArenaBlock *block;

	if (arena_countdown == 0)
		return NULL;
	if (arena_countdown > 0)
		arena_countdown--;
	if (size > ((size_t) 1 << 34) || size > SIZE_MAX - sizeof(ArenaBlock))
		return NULL;			/* like a server allocation limit */
	block = malloc(sizeof(ArenaBlock) + size);
	if (block == NULL)
		return NULL;
	block->next = arena_head;
	arena_head = block;
	arena_bytes += size;
	memset(block + 1, 0x7f, size);
	return block + 1;
}

void
arena_reset(void)
{
	while (arena_head != NULL)
	{
		ArenaBlock *next = arena_head->next;

		free(arena_head);
		arena_head = next;
	}
	arena_bytes = 0;
	arena_countdown = -1;
}

size_t
arena_in_use(void)
{
	return arena_bytes;
}

void
arena_fail_after(long n)
{
	arena_countdown = n;
}


/* the harness */

static int	unit_passed = 0;
static int	unit_failed = 0;
static int	unit_failures_now = 0;
static const char *unit_current = "?";

void
unit_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "FAIL %s: %s:%d: %s\n", unit_current, file, line, what);
	unit_failures_now++;
}

void
unit_run(const char *name, void (*fn) (void))
{
	unit_current = name;
	unit_failures_now = 0;
	fn();
	arena_reset();
	if (unit_failures_now == 0)
		unit_passed++;
	else
		unit_failed++;
	printf("%s %s\n", unit_failures_now == 0 ? "ok  " : "FAIL", name);
	fflush(stdout);
}

int
unit_finish(const char *suite)
{
	printf("RESULT %s %d %d\n", suite, unit_passed, unit_failed);
	fflush(stdout);
	return unit_failed == 0 ? 0 : 1;
}

/*
 * The worst element of got against want (floats or doubles: one of wf, wd),
 * and the scale max(1, max |want|) its error is measured against.
 */
static double
worst_error(size_t n, const float *got, const float *wf, const double *wd,
			size_t *at, double *scale)
{
	double		worst = 0.0;

	*scale = 1.0;
	*at = 0;
	for (size_t i = 0; i < n; i++)
	{
		double		w = wf ? wf[i] : wd[i];

		if (fabs(w) > *scale)
			*scale = fabs(w);
	}
	for (size_t i = 0; i < n; i++)
	{
		double		e = fabs((double) got[i] - (wf ? wf[i] : wd[i]));

		if (!(e <= worst))
		{
			worst = e;
			*at = i;
		}
	}
	return worst;
}

static bool
close_within(const char *what, size_t n, const float *got, const float *wf,
			 const double *wd, double tol)
{
	size_t		at;
	double		scale;
	double		worst = worst_error(n, got, wf, wd, &at, &scale);

	if (worst <= tol * scale)
		return true;
	fprintf(stderr, "    %s: element %zu is %.9g, want %.9g (error %.3g, allowed %.3g)\n",
			what, at, got[at], wf ? wf[at] : wd[at], worst, tol * scale);
	return false;
}

bool
unit_close(const char *what, size_t n, const float *got, const double *want, double tol)
{
	return close_within(what, n, got, NULL, want, tol);
}

bool
unit_close_f(const char *what, size_t n, const float *got, const float *want, double tol)
{
	return close_within(what, n, got, want, NULL, tol);
}

double
unit_rel_diff_f(size_t n, const float *got, const float *want)
{
	size_t		at;
	double		scale;
	double		worst = worst_error(n, got, want, NULL, &at, &scale);

	return worst / scale;
}

double
unit_urand(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	z ^= z >> 31;
	return (double) (z >> 11) * (1.0 / 9007199254740992.0);
}

bool
unit_write_file(const char *dir, const char *name, const void *data, size_t n)
{
	char		path[4096];
	FILE	   *f;
	bool		ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		return false;
	ok = fwrite(data, 1, n, f) == n;
	return fclose(f) == 0 && ok;
}
