/*
 * floor.c
 *		The model's share of the inference floor, outside the database:
 *		the 784-512-10 MLP forward over the 10,000 Fashion-MNIST test rows
 *		with OpenBLAS and nothing else (no SQL, no conversions).
 *
 *	  batch B : rows in chunks of B, each chunk one sgemm per dense layer
 *	            (what maas_predict_batch does with batch_size B)
 *	  row     : one row at a time, one sgemv per dense layer (per-row
 *	            maas_predict's limit)
 *
 * Prints "RESULT name seconds rows" lines, the median of 5 runs.
 * Build: gcc -O2 -o floor floor.c -lopenblas
 *        gcc -O2 -DFLOOR_DNNL -o floor_dnnl floor.c -ldnnl   (oneDNN's dnnl_sgemm)
 * Run:   OPENBLAS_NUM_THREADS=2 ./floor DATADIR BATCH
 *        OMP_NUM_THREADS=2 ./floor_dnnl DATADIR BATCH
 * (On a CPU that OpenBLAS 0.3.21 does not know, set OPENBLAS_CORETYPE as
 * maas does -- maas_blas_info() names it -- or its floor is SSE3's.)
 * DATADIR holds mlp.{W1,b1,W2,b2}.f32 (torch layout, out x in) and
 * test_x.f32 from prepare.py.
 */
#ifdef FLOOR_DNNL
#include <oneapi/dnnl/dnnl.h>
#else
#include <cblas.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_IN 784
#define N_HID 512
#define N_OUT 10
#define N_ROWS 10000
#define RUNS 5

static float *
load(const char *dir, const char *name, size_t n)
{
	char		path[1024];
	FILE	   *f;
	float	   *p = malloc(n * sizeof(float));

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL || p == NULL || fread(p, sizeof(float), n, f) != n)
	{
		fprintf(stderr, "cannot read %zu floats from %s\n", n, path);
		exit(1);
	}
	fclose(f);
	return p;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

static float *w1, *b1, *w2, *b2, *x, *h, *z;
static long checksum;

#ifdef FLOOR_DNNL
/* the same products through oneDNN's sgemm (row-major, C = A B^T + C) */
static void
layer(int n, int out, int in, const float *w, const float *a, float *c)
{
	dnnl_sgemm('N', 'T', n, out, in, 1.0f, a, in, w, in, 1.0f, c, out);
}
#else
static void
layer(int n, int out, int in, const float *w, const float *a, float *c)
{
	if (n == 1)
		cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, a, 1, 1.0f, c, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f,
					a, in, w, in, 1.0f, c, out);
}
#endif

/* n rows of x through the net, as sgemm (n > 1) or sgemv (n == 1) */
static void
forward(const float *xr, int n)
{
	for (int r = 0; r < n; r++)
		memcpy(h + (size_t) r * N_HID, b1, sizeof(float) * N_HID);
	layer(n, N_HID, N_IN, w1, xr, h);
	for (size_t j = 0; j < (size_t) n * N_HID; j++)
		h[j] = h[j] > 0 ? h[j] : 0;
	for (int r = 0; r < n; r++)
		memcpy(z + (size_t) r * N_OUT, b2, sizeof(float) * N_OUT);
	layer(n, N_OUT, N_HID, w2, h, z);
	for (int r = 0; r < n; r++)
	{
		int			best = 0;

		for (int k = 1; k < N_OUT; k++)
			if (z[r * N_OUT + k] > z[r * N_OUT + best])
				best = k;
		checksum += best;
	}
}

static double
run(int batch)
{
	double		t[RUNS];

	for (int i = 0; i < RUNS; i++)
	{
		double		t0 = now();

		for (int r = 0; r < N_ROWS; r += batch)
			forward(x + (size_t) r * N_IN, r + batch <= N_ROWS ? batch : N_ROWS - r);
		t[i] = now() - t0;
	}
	qsort(t, RUNS, sizeof(double), cmp_double);
	return t[RUNS / 2];
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	int			batch = argc > 2 ? atoi(argv[2]) : 1024;

	if (batch < 1)
		batch = 1;
	w1 = load(dir, "mlp.W1.f32", (size_t) N_HID * N_IN);
	b1 = load(dir, "mlp.b1.f32", N_HID);
	w2 = load(dir, "mlp.W2.f32", (size_t) N_OUT * N_HID);
	b2 = load(dir, "mlp.b2.f32", N_OUT);
	x = load(dir, "test_x.f32", (size_t) N_ROWS * N_IN);
	h = malloc(sizeof(float) * (size_t) N_ROWS * N_HID);
	z = malloc(sizeof(float) * (size_t) N_ROWS * N_OUT);

	run(batch);					/* warm up */
	printf("RESULT batch%d %.6f %d\n", batch, run(batch), N_ROWS);
	printf("RESULT batch%d %.6f %d\n", N_ROWS, run(N_ROWS), N_ROWS);
	printf("RESULT row %.6f %d\n", run(1), N_ROWS);
	fprintf(stderr, "checksum %ld\n", checksum);
	return 0;
}
