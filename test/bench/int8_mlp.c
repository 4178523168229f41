/*
 * int8_mlp.c
 *		The runtime's float32 and int8 784-512-10 MLP side by side, at the
 *		kernel level (no server): what test/bench/int8_mlp prints.
 *
 *	  int8_mlp WEIGHTS IMAGES [ROWS] [CHUNK] [LABELS]
 *
 * WEIGHTS: the MLP's float32 weights, fc1.weight [512, 784], fc1.bias,
 * fc2.weight [10, 512], fc2.bias, back to back (test/bench/int8_mlp writes
 * them from test/bench/optimize.py's trained model); IMAGES: ROWS (10000)
 * rows of 784 uint8 pixels.  The nets are those maas_quantize makes: a
 * standardize layer (pixels / 255), fc1, relu, fc2, softmax; the int8 one
 * with fc1 quantized per output channel and fc2 kept float32 (its 10
 * outputs are under min_outputs).  Both run the rows in chunks of CHUNK
 * (256, what maas_quantize's measurement runs) with one thread, packed as
 * the server packs them, alternately, best of several runs; each run is
 * timed by wall clock and by the thread's CPU time (the fairer of the two
 * on a shared machine).  Then the parts of the int8 dense layer one by one
 * on one chunk.  Prints; never fails on time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm.h"
#include "net_build.h"
#include "quantize.h"
#include "safetensors.h"

/*
 * maas_kalloc: while the nets run, from an arena emptied before each chunk
 * (as the server's memory context is reset per batch, its memory reused);
 * otherwise blocks that live to the end.
 */
#define ARENA_SIZE ((size_t) 64 << 20)

static char *arena;
static size_t arena_used;
static bool arena_on;

void *
maas_kalloc(size_t size)
{
	void	   *p;

	size = (size + 63) & ~(size_t) 63;
	if (arena_on && arena != NULL && size <= ARENA_SIZE - arena_used)
	{
		p = arena + arena_used;
		arena_used += size;
		return p;
	}
	return posix_memalign(&p, 64, size > 0 ? size : 64) == 0 ? p : NULL;
}

static double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *
read_file(const char *path, size_t want)
{
	FILE	   *f = fopen(path, "rb");
	void	   *p = malloc(want);

	if (f == NULL || p == NULL || fread(p, 1, want, f) != want)
	{
		fprintf(stderr, "cannot read %zu bytes of %s\n", want, path);
		exit(1);
	}
	fclose(f);
	return p;
}

#define N_IN 784
#define N_H 512
#define N_OUT 10

static MaasNet *
build(const char *config, const uint8_t *buf, size_t len)
{
	StFile	   *f = maas_kalloc(sizeof(StFile));
	MaasNet    *net = maas_kalloc(sizeof(MaasNet));
	MaasJson   *c;
	MaasError	err;

	memset(net, 0, sizeof(*net));
	if (!st_parse(buf, len, f, &err) ||
		(c = maas_json_parse(config, strlen(config), 0, NULL, &err)) == NULL ||
		!maas_net_build(net, c, f, true, &err))
	{
		fprintf(stderr, "cannot build the net: %s\n", err.msg);
		exit(1);
	}
	return net;
}

typedef struct Run
{
	const MaasNet *net;
	const MaasBlas *blas;
	const float *x;
	int			rows;
	int			chunk;
	float	   *work;
	float	   *out;
} Run;

static void
run_net(Run *r)
{
	for (int r0 = 0; r0 < r->rows; r0 += r->chunk)
	{
		int			c = r->rows - r0 < r->chunk ? r->rows - r0 : r->chunk;
		MaasBatch	b;
		MaasError	err;
		const float *y;

		memset(&b, 0, sizeof(b));
		b.n = c;
		b.t = 1;
		b.x = r->x + (size_t) r0 * N_IN;
		arena_used = 0;
		arena_on = true;
		y = maas_net_run(r->net, r->blas, &b, 0, r->work, &err);
		arena_on = false;
		if (y == NULL)
		{
			fprintf(stderr, "run failed: %s\n", err.msg);
			exit(1);
		}
		memcpy(r->out + (size_t) r0 * N_OUT, y, sizeof(float) * c * N_OUT);
	}
}

static int
accuracy(const float *out, const uint8_t *labels, int rows)
{
	int			right = 0;

	for (int i = 0; i < rows; i++)
		right += maas_argmax(out + (size_t) i * N_OUT, N_OUT) == labels[i];
	return right;
}

/* the parts of the int8 layer on one chunk */
typedef struct Parts
{
	const MaasWeights *w;
	const float *x;
	const float *bias;
	int			m;
	uint8_t    *q;
	float	   *sx;
	int32_t    *zero;
	int32_t    *acc;
	float	   *y;
	const MaasBlas *blas;
	const MaasKernel *s8;
} Parts;

static double
time_part(Parts *p, int which)
{
	double		best = 1e30;

	for (int rep = 0; rep < 7; rep++)
	{
		double		t0 = cpu_now();
		int			n = 0;
		MaasError	err;

		do
		{
			arena_used = 0;
			arena_on = true;
			switch (which)
			{
				case 0:
					maas_quantize_rows_u8(p->m, p->w->k, p->x, p->w->k, p->q, p->w->k, p->sx, p->zero);
					break;
				case 1:
					if (!maas_dnn_matmul(MAAS_DNN_U8S8, p->m, p->w->n, p->w->k, p->q, p->w->k,
										 p->w->data, p->w->k, p->w->packed, NULL, p->acc,
										 p->w->n, &err))
						((MaasS8Fn) p->s8->fn) (p->m, p->w->n, p->w->k, p->q, p->w->k,
												p->w->data, p->w->k, p->acc, p->w->n);
					break;
				case 2:
					maas_s8_dequantize(p->m, p->acc, p->w->n, p->sx, p->zero, p->w, p->bias, true, p->y, p->w->n);
					break;
				case 3:
					maas_dense(p->blas, p->w, p->m, p->x, p->w->k, p->bias, p->y, p->w->n, &err);
					break;
				case 4:
					((MaasS8Fn) p->s8->fn) (p->m, p->w->n, p->w->k, p->q, p->w->k,
											p->w->data, p->w->k, p->acc, p->w->n);
					break;
			}
			arena_on = false;
			n++;
		} while (cpu_now() - t0 < 0.05);
		if ((cpu_now() - t0) / n < best)
			best = (cpu_now() - t0) / n;
	}
	return best;
}

int
main(int argc, char **argv)
{
	int			rows = argc > 3 ? atoi(argv[3]) : 10000;
	int			chunk = argc > 4 ? atoi(argv[4]) : 256;
	float	   *wts;
	uint8_t    *pix,
			   *labels = NULL;
	float	   *x;
	float		mean[N_IN],
				std[N_IN];
	MaasWeights q;
	MaasError	err;
	char		msg[256];
	const MaasBlas *blas;
	size_t		len,
				nwork;
	uint8_t    *file;
	MaasNet    *f32,
			   *s8;
	Run			runs[2];
	double		best_wall[2] = {1e30, 1e30},
				best_cpu[2] = {1e30, 1e30};

	if (argc < 3)
	{
		fprintf(stderr, "usage: %s WEIGHTS IMAGES [ROWS] [CHUNK] [LABELS]\n", argv[0]);
		return 2;
	}
	if (posix_memalign((void **) &arena, 64, ARENA_SIZE) != 0)
		return 1;
	memset(arena, 0, ARENA_SIZE);
	blas = maas_blas_load(NULL, 1, msg, sizeof(msg));
	if (blas == NULL)
	{
		fprintf(stderr, "cannot load BLAS: %s\n", msg);
		return 1;
	}
	wts = read_file(argv[1], sizeof(float) * (N_H * N_IN + N_H + N_OUT * N_H + N_OUT));
	pix = read_file(argv[2], (size_t) rows * N_IN);
	if (argc > 5)
		labels = read_file(argv[5], rows);
	x = maas_kalloc(sizeof(float) * rows * N_IN);
	for (size_t i = 0; i < (size_t) rows * N_IN; i++)
		x[i] = pix[i];
	for (int i = 0; i < N_IN; i++)
	{
		mean[i] = 0.0f;
		std[i] = 255.0f;
	}
	if (!maas_quantize_weights_s8(wts, N_H, N_IN, &q, &err))
	{
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	{
		static int64_t s_in[1] = {N_IN},
					s1[2] = {N_H, N_IN},
					sb1[1] = {N_H},
					s2[2] = {N_OUT, N_H},
					sb2[1] = {N_OUT};
		StWriteTensor t[8] = {
			{"mean", ST_F32, 1, s_in, mean},
			{"std", ST_F32, 1, s_in, std},
			{"fc1.weight", ST_F32, 2, s1, wts},
			{"fc1.bias", ST_F32, 1, sb1, wts + N_H * N_IN},
			{"fc2.weight", ST_F32, 2, s2, wts + N_H * N_IN + N_H},
			{"fc2.bias", ST_F32, 1, sb2, wts + N_H * N_IN + N_H + N_OUT * N_H},
			{"fc1.weight.scale", ST_F32, 1, sb1, q.scale},
			{"fc1.weight.int8", ST_I8, 2, s1, q.data},
		};

		file = st_write(t, 8, NULL, NULL, 0, &len, &err);
		if (file == NULL)
		{
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
	}
#define MLP(W1, EXTRA) \
	"{\"n_features\": 784, \"layers\": [" \
	"{\"op\": \"standardize\", \"mean\": \"mean\", \"std\": \"std\"}," \
	"{\"op\": \"dense\", \"weight\": \"" W1 "\", \"bias\": \"fc1.bias\"" EXTRA "}, {\"op\": \"relu\"}," \
	"{\"op\": \"dense\", \"weight\": \"fc2.weight\", \"bias\": \"fc2.bias\"}, {\"op\": \"softmax\"}]}"
	f32 = build(MLP("fc1.weight", ""), file, len);
	s8 = build(MLP("fc1.weight.int8", ", \"scale\": \"fc1.weight.scale\""), file, len);
	if (!maas_net_pack(f32, blas, &err) || !maas_net_pack(s8, blas, &err))
		fprintf(stderr, "packing failed: %s\n", err.msg);

	{
		const MaasBlasInfo *in = maas_blas_info(true);

		printf("cpu: %s\nfeatures: %s\noneDNN %s isa %s\n", in->cpu_brand, in->cpu_features,
			   in->onednn_version, in->onednn_isa);
		for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
			printf("  %-18s %-8s %s %s\n", in->ops[i].op, in->ops[i].backend,
				   in->ops[i].kernel, in->ops[i].detail);
	}

	for (int v = 0; v < 2; v++)
	{
		runs[v].net = v == 0 ? f32 : s8;
		runs[v].blas = blas;
		runs[v].x = x;
		runs[v].rows = rows;
		runs[v].chunk = chunk;
		if (!maas_net_workspace(runs[v].net, chunk, 1, &nwork))
			return 1;
		runs[v].work = maas_kalloc(sizeof(float) * nwork);
		runs[v].out = maas_kalloc(sizeof(float) * rows * N_OUT);
		run_net(&runs[v]);
	}
	if (getenv("INT8_MLP_ONLY") != NULL)
	{
		/* one net only, for a profiler: f32 or int8 */
		Run		   *r = &runs[strcmp(getenv("INT8_MLP_ONLY"), "f32") == 0 ? 0 : 1];

		for (int rep = 0; rep < 20; rep++)
			run_net(r);
		return 0;
	}
	for (int rep = 0; rep < 7; rep++)
		for (int v = 0; v < 2; v++)
		{
			double		w0 = wall_now(),
						c0 = cpu_now();

			run_net(&runs[v]);
			best_wall[v] = fmin(best_wall[v], wall_now() - w0);
			best_cpu[v] = fmin(best_cpu[v], cpu_now() - c0);
		}
	printf("\n%d rows in chunks of %d, one thread, best of 7\n", rows, chunk);
	printf("%-8s %12s %12s %14s\n", "net", "rows/s wall", "rows/s cpu", "us/row (cpu)");
	for (int v = 0; v < 2; v++)
		printf("%-8s %12.0f %12.0f %14.3f\n", v == 0 ? "f32" : "int8",
			   rows / best_wall[v], rows / best_cpu[v], 1e6 * best_cpu[v] / rows);
	printf("int8/f32: %.2fx wall, %.2fx cpu\n", best_wall[0] / best_wall[1], best_cpu[0] / best_cpu[1]);
	{
		int			agree = 0;
		double		maxd = 0;

		for (int i = 0; i < rows; i++)
		{
			agree += maas_argmax(runs[0].out + i * N_OUT, N_OUT) == maas_argmax(runs[1].out + i * N_OUT, N_OUT);
			for (int j = 0; j < N_OUT; j++)
				maxd = fmax(maxd, fabs(runs[0].out[i * N_OUT + j] - runs[1].out[i * N_OUT + j]));
		}
		printf("agreement %.4f, max abs diff %.5f", (double) agree / rows, maxd);
		if (labels)
			printf(", accuracy f32 %.4f int8 %.4f", (double) accuracy(runs[0].out, labels, rows) / rows,
				   (double) accuracy(runs[1].out, labels, rows) / rows);
		printf("\n");
	}

	/* the int8 layer's parts on one chunk of standardized rows */
	{
		Parts		p;
		int			m = chunk;
		float	   *xs = maas_kalloc(sizeof(float) * m * N_IN);
		static const char *const names[] = {"quantize rows", "u8s8 matmul (oneDNN)",
		"dequantize+bias+relu", "whole gemm_s8", "u8s8 maas kernel"};

		for (size_t i = 0; i < (size_t) m * N_IN; i++)
			xs[i] = x[i] / 255.0f;
		p.w = &s8->layers[1].wt;
		p.x = xs;
		p.bias = s8->layers[1].b;
		p.m = m;
		p.q = maas_kalloc(m * N_IN);
		p.sx = maas_kalloc(sizeof(float) * m);
		p.zero = maas_kalloc(sizeof(int32_t) * m);
		p.acc = maas_kalloc(sizeof(int32_t) * m * N_H);
		p.y = maas_kalloc(sizeof(float) * m * N_H);
		p.blas = blas;
		p.s8 = maas_s8_pick(maas_cpu_features());
		maas_quantize_rows_u8(m, N_IN, xs, N_IN, p.q, N_IN, p.sx, p.zero);
		printf("\nthe int8 layer on %d rows, cpu us per row (maas kernel: %s):\n", m, p.s8->name);
		for (int i = 0; i < 5; i++)
			printf("  %-22s %8.3f\n", names[i], 1e6 * time_part(&p, i) / m);
	}
	return 0;
}
