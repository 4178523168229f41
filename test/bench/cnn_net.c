/*
 * cnn_net.c
 *		The layer runtime on an imported CNN at the kernels, no SQL: the
 *		batch inference of maas_predict_batch (batches of 1,024 rows, the
 *		default maas.batch_size) over the benchmark's 10,000 test rows, with
 *		the runtime's tiles of rows (net.c) of several sizes against one
 *		pass over each batch, and one row at a time.  Checks that every
 *		variant gives the one-pass outputs (max abs difference printed).
 *		The variants run interleaved, best of 5 rounds each.
 *
 *	[CPU=1] cnn_net DIR [threads]
 *
 * DIR holds cnn.onnx and test_x.f32 (test/bench/cnn_torch.py --save DIR);
 * test/bench/cnn_net.sh builds and runs it.  Prints figures; never fails
 * on time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "onnx_testutil.h"

#define BATCH 1024
#define N_TILES 6
#define ROUNDS 5

/*
 * Wall time, or with CPU=1 in the environment the process's CPU time: on a
 * loaded machine the less noisy measure of one thread's work (with more
 * threads it counts their spinning too)
 */
static double
now(void)
{
	static int	cpu = -1;
	struct timespec ts;

	if (cpu < 0)
		cpu = getenv("CPU") != NULL && strcmp(getenv("CPU"), "1") == 0;
	clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* seconds of the best of runs passes over n rows in batches of batch */
static double
run_all(const MaasNet *net, const MaasBlas *blas, const float *x, int n,
		int batch, float *work, float *out, int runs)
{
	double		best = 1e30;

	for (int r = 0; r < runs; r++)
	{
		double		t0 = now();

		for (int r0 = 0; r0 < n; r0 += batch)
		{
			int			nb = n - r0 < batch ? n - r0 : batch;
			const float *y = maas_net_forward(net, blas, nb, x + (size_t) r0 * net->n_in, work);

			memcpy(out + (size_t) r0 * net->n_out, y, sizeof(float) * (size_t) nb * net->n_out);
		}
		if (now() - t0 < best)
			best = now() - t0;
	}
	return best;
}

static double
max_diff(const float *a, const float *b, size_t n)
{
	double		m = 0;

	for (size_t i = 0; i < n; i++)
		if (fabs((double) a[i] - b[i]) > m || a[i] != a[i] || b[i] != b[i])
			m = a[i] != a[i] || b[i] != b[i] ? INFINITY : fabs((double) a[i] - b[i]);
	return m;
}

int
main(int argc, char **argv)
{
	char		path[4096];
	char		msg[256];
	size_t		len,
				xlen,
				nwork;
	uint8_t    *buf,
			   *xb;
	OnnxNet		on,
				raw;
	MaasError	err;
	const MaasBlas *blas;
	int			threads = argc > 2 ? atoi(argv[2]) : 2;
	int			n;
	float	   *work,
			   *ref,
			   *out;
	double		t_ref,
				t;
	const size_t tiles[N_TILES] = {64 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20};
	double		best[N_TILES + 5],
				diff[N_TILES + 4];
	MaasBlas	im2col,
				nopack;
	int			n_one;

	if (argc < 2)
	{
		fprintf(stderr, "usage: cnn_net DIR [threads]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/cnn.onnx", argv[1]);
	if ((buf = onnx_read_file(path, &len)) == NULL)
	{
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/test_x.f32", argv[1]);
	if ((xb = onnx_read_file(path, &xlen)) == NULL)
	{
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	if (!onnx_import(buf, len, NULL, &on, &err))
	{
		fprintf(stderr, "import: %s\n", err.msg);
		return 1;
	}
	if ((blas = maas_blas_load(NULL, threads, msg, sizeof(msg))) == NULL)
	{
		fprintf(stderr, "no BLAS: %s\n", msg);
		return 1;
	}
	/*
	 * Weights packed as the server packs a model it loads (maas_net_pack);
	 * a second import with its convolutions unpacked (the dense layers
	 * packed), for the comparison of one row a call
	 */
	nopack = *blas;
	nopack.conv2d_pack = NULL;
	if (!onnx_import(buf, len, NULL, &raw, &err) ||
		!maas_net_pack(&on.net, blas, &err) || !maas_net_pack(&raw.net, &nopack, &err))
	{
		fprintf(stderr, "pack: %s\n", err.msg);
		return 1;
	}
	/* the same backend with the conv2d op on im2col, for the comparison */
	im2col = *blas;
	im2col.conv2d = NULL;
	im2col.conv2d_at = NULL;
	im2col.conv2d_ready = NULL;
	n = (int) (xlen / sizeof(float) / (size_t) on.net.n_in);
	n_one = n > 2000 ? 2000 : n;
	if (!maas_net_workspace(&on.net, BATCH, 1, &nwork))
		return 1;
	work = malloc(nwork * sizeof(float));
	ref = malloc(sizeof(float) * (size_t) n * on.net.n_out);
	out = malloc(sizeof(float) * (size_t) n * on.net.n_out);
	printf("# %s, %d thread(s), %d rows in batches of %d, %d layers, workspace %.1f MB, %s time\n",
		   maas_blas_library(), threads, n, BATCH, on.net.n_layers, nwork * 4 / 1e6,
		   getenv("CPU") && strcmp(getenv("CPU"), "1") == 0 ? "CPU" : "wall");

	/*
	 * The variants interleaved, best of ROUNDS each, so that the load of a
	 * shared machine falls on all alike: one pass over each batch (tiles
	 * as large as the batch), the tiles, one row a call
	 */
	maas_net_tile_bytes = SIZE_MAX;
	run_all(&on.net, blas, (const float *) xb, n, BATCH, work, ref, 1);
	/* PROFILE=k: only the default variant, k passes (for perf record) */
	if (getenv("PROFILE") != NULL)
	{
		int			k = atoi(getenv("PROFILE"));

		maas_net_tile_bytes = MAAS_NET_TILE_BYTES;
		t = run_all(&on.net, blas, (const float *) xb, n, BATCH, work, out, k > 0 ? k : 1);
		printf("default, best of %d      %8.0f rows/s  max diff %.2g\n", k, n / t,
			   max_diff(ref, out, (size_t) n * on.net.n_out));
		return 0;
	}
	/* PROFILE_ROW=k: one row a call over n_one rows, k passes (perf record) */
	if (getenv("PROFILE_ROW") != NULL)
	{
		int			k = atoi(getenv("PROFILE_ROW"));

		maas_net_tile_bytes = MAAS_NET_TILE_BYTES;
		t = run_all(getenv("UNPACKED") != NULL ? &raw.net : &on.net, blas, (const float *) xb,
					n_one, 1, work, out, k > 0 ? k : 1);
		printf("one row a call%s, best of %d %8.0f rows/s  max diff %.2g\n",
			   getenv("UNPACKED") != NULL ? " (conv2d unpacked)" : "", k, n_one / t,
			   max_diff(ref, out, (size_t) n_one * on.net.n_out));
		return 0;
	}
	for (int r = 0; r < ROUNDS; r++)
	{
		maas_net_tile_bytes = SIZE_MAX;
		t = run_all(&on.net, blas, (const float *) xb, n, BATCH, work, ref, 1);
		best[0] = r == 0 || t < best[0] ? t : best[0];
		for (int i = 0; i < N_TILES; i++)
		{
			maas_net_tile_bytes = tiles[i];
			t = run_all(&on.net, blas, (const float *) xb, n, BATCH, work, out, 1);
			best[i + 1] = r == 0 || t < best[i + 1] ? t : best[i + 1];
			diff[i] = max_diff(ref, out, (size_t) n * on.net.n_out);
		}
		maas_net_tile_bytes = MAAS_NET_TILE_BYTES;
		t = run_all(&on.net, blas, (const float *) xb, n_one, 1, work, out, 1);
		best[N_TILES + 1] = r == 0 || t < best[N_TILES + 1] ? t : best[N_TILES + 1];
		diff[N_TILES] = max_diff(ref, out, (size_t) n_one * on.net.n_out);
		t = run_all(&raw.net, blas, (const float *) xb, n_one, 1, work, out, 1);
		best[N_TILES + 4] = r == 0 || t < best[N_TILES + 4] ? t : best[N_TILES + 4];
		diff[N_TILES + 3] = max_diff(ref, out, (size_t) n_one * on.net.n_out);
		t = run_all(&on.net, &im2col, (const float *) xb, n, BATCH, work, out, 1);
		best[N_TILES + 2] = r == 0 || t < best[N_TILES + 2] ? t : best[N_TILES + 2];
		diff[N_TILES + 1] = max_diff(ref, out, (size_t) n * on.net.n_out);
		maas_net_tile_bytes = tiles[N_TILES - 1];
		t = run_all(&on.net, &im2col, (const float *) xb, n, BATCH, work, out, 1);
		best[N_TILES + 3] = r == 0 || t < best[N_TILES + 3] ? t : best[N_TILES + 3];
		diff[N_TILES + 2] = max_diff(ref, out, (size_t) n * on.net.n_out);
		maas_net_tile_bytes = MAAS_NET_TILE_BYTES;
	}
	t_ref = best[0];
	printf("one pass a batch        %8.0f rows/s\n", n / t_ref);
	for (int i = 0; i < N_TILES; i++)
		printf("tiles of %5zu KB        %8.0f rows/s  %.2fx  max diff %.2g%s\n",
			   tiles[i] >> 10, n / best[i + 1], t_ref / best[i + 1], diff[i],
			   tiles[i] == MAAS_NET_TILE_BYTES ? "  (the default)" : "");
	printf("one row a call          %8.0f rows/s  max diff %.2g\n",
		   n_one / best[N_TILES + 1], diff[N_TILES]);
	printf("one row, conv2d unpacked %6.0f rows/s  max diff %.2g  (packed %.2fx)\n",
		   n_one / best[N_TILES + 4], diff[N_TILES + 3], best[N_TILES + 4] / best[N_TILES + 1]);
	printf("conv2d on im2col        %8.0f rows/s  %.2fx  max diff %.2g  (default tiles; "
		   "the others: conv2d on %s)\n",
		   n / best[N_TILES + 2], t_ref / best[N_TILES + 2], diff[N_TILES + 1],
		   maas_blas_info(false) ? maas_blas_info(false)->conv2d : "?");
	printf("conv2d on im2col, %zu KB %8.0f rows/s  %.2fx  max diff %.2g\n",
		   tiles[N_TILES - 1] >> 10, n / best[N_TILES + 3], t_ref / best[N_TILES + 3],
		   diff[N_TILES + 2]);
	return 0;
}
