/*
 * stream.c
 *		The memory-bandwidth limit the text benchmarks compare against: a
 *		STREAM-style triad, a[i] = b[i] + s * c[i], over arrays far larger
 *		than the caches, on OMP_NUM_THREADS threads.
 *
 *	gcc -O3 -fopenmp -o stream stream.c && OMP_NUM_THREADS=2 ./stream [doubles]
 *
 * Prints "RESULT stream triad threads=T median X GB/s", counting 24 bytes an
 * element (two reads, one write), as STREAM does.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static int
cmp(const void *x, const void *y)
{
	double		a = *(const double *) x,
				b = *(const double *) y;

	return (a > b) - (a < b);
}

int
main(int argc, char **argv)
{
	long		n = argc > 1 ? atol(argv[1]) : 1L << 25;
	int			reps = 11;
	double	   *a = malloc(sizeof(double) * n),
			   *b = malloc(sizeof(double) * n),
			   *c = malloc(sizeof(double) * n);
	double		t[11];
	double		s = 3.0;

	if (!a || !b || !c || n < 1024)
		return 1;
#pragma omp parallel for
	for (long i = 0; i < n; i++)
	{
		a[i] = 1.0;
		b[i] = 2.0;
		c[i] = 0.5;
	}
	for (int r = 0; r < reps; r++)
	{
		double		t0 = now();

#pragma omp parallel for
		for (long i = 0; i < n; i++)
			a[i] = b[i] + s * c[i];
		t[r] = now() - t0;
	}
	qsort(t, reps, sizeof(double), cmp);
	printf("RESULT stream triad threads=%d median %.1f GB/s (check %.1f)\n",
		   omp_get_max_threads(), 24.0 * n / t[reps / 2] / 1e9, a[n / 2]);
	return 0;
}
