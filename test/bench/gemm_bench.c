/*
 * gemm_bench.c
 *		The GEMM and GEMV floors of every backend on this machine, against
 *		the CPU's peak: what test/bench/gemm prints.
 *
 *	  gemm_bench peak			the CPU, its features, the clock and the
 *								per-core peaks, measured by microbenchmarks
 *	  gemm_bench run T			every implementation at the MLP's shapes, with
 *								T threads (OPENBLAS_CORETYPE from maas)
 *	  gemm_bench detected T		OpenBLAS as it detects the CPU by itself (run
 *								in a fresh process: the core type is read once)
 *
 * Shapes: the 784-512-10 MLP, a batch of 1024 rows (1024x512x784 and
 * 1024x10x512) and one row (512x784 and 10x512).  Each case is timed as the
 * best of 3 runs of at least 0.1 s; GFLOP/s counts 2 m n k (GOP/s for
 * int8).  Besides the wall-clock rate and its share of the peak, each line
 * shows how busy the process was (CPU time over wall time x threads) and
 * the rate per CPU-second x threads: on a machine shared with other work
 * the wall rate falls with "busy", and the cpu-rate is the fairer way to
 * compare implementations (it still counts threads that spin-wait).
 * Rough on a loaded machine; the script matters, not the figures.  Never
 * fails on time.
 *
 * Peaks.  Per core, from microbenchmarks of independent instructions (so
 * the count of units is measured, not assumed): f32 FMA on zmm (16 lanes,
 * 2 flops), int8 vpdpbusd on zmm (64 MACs), AMX tdpbssd / tdpbf16ps on full
 * 16x64-byte tiles; the clock from a chain of dependent integer adds (one
 * cycle each) and, for comparison, /proc/cpuinfo.  Peak = cores x (units x
 * lanes x ops) x clock; a case with T threads is compared with T cores.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blas.h"
#include "gemm.h"
#include "quantize.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define B(f) MAAS_CPU_BIT(MAAS_CPU_##f)

/* ---- maas_kalloc for the benchmark: blocks freed together ---- */

typedef struct Block
{
	struct Block *next;
	long double align;
} Block;

static Block *blocks = NULL;

void *
maas_kalloc(size_t size)
{
	Block	   *b = malloc(sizeof(Block) + size);

	if (b == NULL)
		return NULL;
	b->next = blocks;
	blocks = b;
	return b + 1;
}

static void
kfree_all(void)
{
	while (blocks)
	{
		Block	   *n = blocks->next;

		free(blocks);
		blocks = n;
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Best seconds per call of fn(ctx): 3 runs of at least 0.1 s each.  busy
 * is the process's CPU time over (wall time x threads) in that run: near
 * 100% when the machine gave the case its cores, lower when it was shared.
 */
static int	threads = 1;
static double busy;
static double cpu_per_call;

static double
proc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double
time_it(void (*fn) (void *), void *ctx)
{
	double		best = 1e30;

	fn(ctx);					/* warm up: primitives, caches */
	for (int run = 0; run < 3; run++)
	{
		long		n = 0;
		double		t0 = now(),
					c0 = proc_now(),
					t;

		do
		{
			fn(ctx);
			n++;
			t = now() - t0;
		} while (t < 0.1);
		if (t / n < best)
		{
			best = t / n;
			cpu_per_call = (proc_now() - c0) / n;
			busy = cpu_per_call / (best * threads);
		}
	}
	return best;
}

/* ---- peaks ---- */

/*
 * The peaks are measured in this thread's CPU time, so that a machine
 * shared with other work still shows what one core can do.
 */
static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define REP10(x) x x x x x x x x x x

/* a chain of dependent register adds (one cycle each, not foldable) */
static double
measure_hz(void)
{
	uint64_t	v = 0,
				one = 1;
	long		iters = 1000000;
	double		best = 0;

	for (int r = 0; r < 5; r++)
	{
		double		t0 = cpu_now();

		for (long i = 0; i < iters; i++)
			__asm__ volatile (REP10(REP10("add %1, %0\n\t")) : "+r"(v) : "r"(one));
		best = fmax(best, iters * 100.0 / (cpu_now() - t0));
	}
	return best;
}

#if defined(__x86_64__)
#define REG16(op) \
	op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) \
	op(8) op(9) op(10) op(11) op(12) op(13) op(14) op(15)
#define ZERO_Z(i) "vpxord %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
#define FMA_Z(i) "vfmadd231ps %%zmm16, %%zmm17, %%zmm" #i "\n\t"
#define VNNI_Z(i) "vpdpbusd %%zmm16, %%zmm17, %%zmm" #i "\n\t"
#define ZERO_Y(i) "vpxor %%ymm" #i ", %%ymm" #i ", %%ymm" #i "\n\t"
#define FMA_Y(i) "vfmadd231ps %%ymm14, %%ymm15, %%ymm" #i "\n\t"
#define CLOBBER_Z "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
	"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", \
	"xmm16", "xmm17"

/* instructions a second: 16 independent accumulators, zeros (no denormals) */
__attribute__((target("avx512f")))
static double
rate_fma512(void)
{
	long		n = 4000000;
	double		t0 = cpu_now();

	__asm__ volatile (REG16(ZERO_Z) "vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
					  "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
					  "1:\n\t" REG16(FMA_Z) "dec %0\n\tjnz 1b\n\t"
					  : "+r"(n) : : CLOBBER_Z, "cc");
	return 4000000 * 16.0 / (cpu_now() - t0);
}

__attribute__((target("avx512f,avx512vnni")))
static double
rate_vnni512(void)
{
	long		n = 4000000;
	double		t0 = cpu_now();

	__asm__ volatile (REG16(ZERO_Z) "vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
					  "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
					  "1:\n\t" REG16(VNNI_Z) "dec %0\n\tjnz 1b\n\t"
					  : "+r"(n) : : CLOBBER_Z, "cc");
	return 4000000 * 16.0 / (cpu_now() - t0);
}

#define REG12(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11)

__attribute__((target("avx2,fma")))
static double
rate_fma256(void)
{
	long		n = 4000000;
	double		t0 = cpu_now();

	__asm__ volatile (REG12(ZERO_Y) "vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
					  "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
					  "1:\n\t" REG12(FMA_Y) "dec %0\n\tjnz 1b\n\t"
					  : "+r"(n) : : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
					  "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14",
					  "xmm15", "cc");
	return 4000000 * 12.0 / (cpu_now() - t0);
}

typedef struct TileConfig
{
	uint8_t		palette;
	uint8_t		start_row;
	uint8_t		reserved[14];
	uint16_t	colsb[16];
	uint8_t		rows[16];
} TileConfig;

static void
full_tiles(TileConfig *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->palette = 1;
	for (int t = 0; t < 8; t++)
	{
		tc->colsb[t] = 64;
		tc->rows[t] = 16;
	}
}

/* tile products per second: 4 independent accumulators */
__attribute__((target("amx-tile,amx-int8")))
static double
rate_amx_int8(void)
{
	static int8_t buf[16 * 64];
	static int32_t out[16 * 16];
	TileConfig	tc;
	long		iters = 200000;
	double		t0;

	full_tiles(&tc);
	memset(buf, 1, sizeof(buf));
	_tile_loadconfig(&tc);
	_tile_zero(0);
	_tile_zero(1);
	_tile_zero(2);
	_tile_zero(3);
	_tile_loadd(4, buf, 64);
	_tile_loadd(5, buf, 64);
	_tile_loadd(6, buf, 64);
	_tile_loadd(7, buf, 64);
	t0 = cpu_now();
	for (long i = 0; i < iters; i++)
	{
		_tile_dpbssd(0, 4, 6);
		_tile_dpbssd(1, 4, 7);
		_tile_dpbssd(2, 5, 6);
		_tile_dpbssd(3, 5, 7);
	}
	t0 = cpu_now() - t0;
	_tile_stored(0, out, 64);
	_tile_release();
	return iters * 4.0 / t0;
}

__attribute__((target("amx-tile,amx-bf16")))
static double
rate_amx_bf16(void)
{
	static uint16_t buf[16 * 32];
	static float out[16 * 16];
	TileConfig	tc;
	long		iters = 200000;
	double		t0;

	full_tiles(&tc);
	for (int i = 0; i < 16 * 32; i++)
		buf[i] = 0x3c00;		/* small, so sums stay finite */
	_tile_loadconfig(&tc);
	_tile_zero(0);
	_tile_zero(1);
	_tile_zero(2);
	_tile_zero(3);
	_tile_loadd(4, buf, 64);
	_tile_loadd(5, buf, 64);
	_tile_loadd(6, buf, 64);
	_tile_loadd(7, buf, 64);
	t0 = cpu_now();
	for (long i = 0; i < iters; i++)
	{
		_tile_dpbf16ps(0, 4, 6);
		_tile_dpbf16ps(1, 4, 7);
		_tile_dpbf16ps(2, 5, 6);
		_tile_dpbf16ps(3, 5, 7);
	}
	t0 = cpu_now() - t0;
	_tile_stored(0, out, 64);
	_tile_release();
	return iters * 4.0 / t0;
}
#endif

typedef struct Peaks
{
	double		hz;
	int			cores;
	double		f32;			/* flops per cycle per core */
	double		int8;			/* ops per cycle per core, best vector
								 * instruction */
	double		amx_int8;
	double		amx_bf16;
} Peaks;

static int
cpuinfo_int(const char *key)
{
	FILE	   *f = fopen("/proc/cpuinfo", "r");
	char		line[512];
	int			v = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && strchr(line, ':'))
		{
			v = atoi(strchr(line, ':') + 1);
			break;
		}
	fclose(f);
	return v;
}

static void
measure_peaks(Peaks *p, bool print)
{
	MaasCpuMask f = maas_cpu_features();
	int			mhz = cpuinfo_int("cpu MHz");

	memset(p, 0, sizeof(*p));
	p->cores = cpuinfo_int("cpu cores");
	if (p->cores <= 0)
		p->cores = (int) sysconf(_SC_NPROCESSORS_ONLN);
	p->hz = measure_hz();
	if (print)
		printf("clock: %.2f GHz measured (a chain of dependent register adds, one a cycle, "
			   "in thread CPU time); /proc/cpuinfo says %d MHz; %d cores\n",
			   p->hz * 1e-9, mhz, p->cores);
#if defined(__x86_64__)
	if ((f & MAAS_CPU_AVX512_CORE) == MAAS_CPU_AVX512_CORE)
	{
		double		ipc = rate_fma512() / p->hz;

		p->f32 = round(ipc) * 16 * 2;
		if (print)
			printf("f32:  %.2f zmm FMAs a cycle a core -> %d FMA units x 16 lanes x 2 = %.0f flops/cycle\n",
				   ipc, (int) round(ipc), p->f32);
	}
	else if ((f & (B(AVX2) | B(FMA))) == (B(AVX2) | B(FMA)))
	{
		double		ipc = rate_fma256() / p->hz;

		p->f32 = round(ipc) * 8 * 2;
		if (print)
			printf("f32:  %.2f ymm FMAs a cycle a core -> %d FMA units x 8 lanes x 2 = %.0f flops/cycle\n",
				   ipc, (int) round(ipc), p->f32);
	}
	if ((f & (B(AVX512F) | B(AVX512_VNNI))) == (B(AVX512F) | B(AVX512_VNNI)))
	{
		double		ipc = rate_vnni512() / p->hz;

		p->int8 = round(ipc) * 64 * 2;
		if (print)
			printf("int8: %.2f zmm vpdpbusd a cycle a core -> %d units x 64 MACs x 2 = %.0f ops/cycle\n",
				   ipc, (int) round(ipc), p->int8);
	}
	if (maas_cpu_has(B(AMX_INT8)))
	{
		double		tpc = rate_amx_int8() / p->hz;

		/*
		 * Intel's figure for the tile unit: one 16x16x64 tdpbssd every 16
		 * cycles, 2048 ops a cycle.  What this run reached is printed
		 * beside it (a shared core, or a sibling thread on the host,
		 * lowers it).
		 */
		p->amx_int8 = 2048;
		if (print)
			printf("amx int8: %.4f tdpbssd a cycle measured = %.0f ops/cycle (Intel's figure: 1/16 = 2048)\n",
				   tpc, tpc * 16 * 16 * 64 * 2);
	}
	if (maas_cpu_has(B(AMX_BF16)))
	{
		double		tpc = rate_amx_bf16() / p->hz;

		p->amx_bf16 = 1024;
		if (print)
			printf("amx bf16: %.4f tdpbf16ps a cycle measured = %.0f flops/cycle (Intel's figure: 1/16 = 1024)\n",
				   tpc, tpc * 16 * 16 * 32 * 2);
	}
#endif
	if (p->int8 == 0)
		p->int8 = p->f32 * 2;	/* no VNNI: pairs of 16-bit products */
	if (print)
		printf("peak, %d cores at %.2f GHz: f32 %.0f GFLOP/s, int8 %.0f GOP/s (vector)%s",
			   p->cores, p->hz * 1e-9, p->cores * p->f32 * p->hz * 1e-9,
			   p->cores * p->int8 * p->hz * 1e-9, p->amx_int8 > 0 ? "," : "\n");
	if (print && p->amx_int8 > 0)
		printf(" int8 %.0f GOP/s (AMX), bf16 %.0f GFLOP/s (AMX)\n",
			   p->cores * p->amx_int8 * p->hz * 1e-9, p->cores * p->amx_bf16 * p->hz * 1e-9);
}

/* ---- the cases ---- */

typedef struct Ctx
{
	const MaasBlas *blas;
	int			m,
				n,
				k;
	const float *x;
	float	   *y;
	float	   *bias;
	MaasWeights w;
	const uint8_t *xq;
	int32_t    *acc;
	const uint16_t *xb;
	const MaasKernel *kern;
	const void *packed;
	int			mode;
	/* a library opened by hand (the "detected" mode) */
	void		(*sgemm) (int, int, int, int, int, int, float, const float *, int,
						  const float *, int, float, float *, int);
	void		(*sgemv) (int, int, int, int, float, const float *, int,
						  const float *, int, float, float *, int);
} Ctx;

static Peaks peaks;

static void
report(const char *what, const char *impl, const Ctx *c, double secs, double peak_per_core)
{
	double		ops = 2.0 * c->m * c->n * c->k;
	double		rate = ops / secs * 1e-9;
	double		peak = peak_per_core * peaks.hz * 1e-9 * threads;

	printf("%-19s %-56s %9.1f us %7.1f G/s", what, impl, secs * 1e6, rate);
	if (peak > 0)
		printf(" %5.1f%%", 100.0 * rate / peak);
	else
		printf("       ");
	printf(" %4.0f%% %7.1f G/s\n", 100.0 * busy, ops * threads / cpu_per_call * 1e-9);
	fflush(stdout);
}

static void
do_sgemm(void *p)
{
	Ctx		   *c = p;

	if (c->m == 1)
		c->blas->sgemv(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, c->n, c->k, 1.0f,
					   c->w.data, c->k, c->x, 1, 0.0f, c->y, 1);
	else
		c->blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
					   c->m, c->n, c->k, 1.0f, c->x, c->k, c->w.data, c->k, 0.0f, c->y, c->n);
}

static void
do_lib(void *p)
{
	Ctx		   *c = p;

	if (c->m == 1)
		c->sgemv(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, c->n, c->k, 1.0f,
				 c->w.data, c->k, c->x, 1, 0.0f, c->y, 1);
	else
		c->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
				 c->m, c->n, c->k, 1.0f, c->x, c->k, c->w.data, c->k, 0.0f, c->y, c->n);
}

static void
do_dnn_sgemm(void *p)
{
	Ctx		   *c = p;

	maas_dnn_sgemm(false, true, c->m, c->n, c->k, 1.0f, c->x, c->k, c->w.data, c->k,
				   0.0f, c->y, c->n);
}

static void
do_dnn_matmul(void *p)
{
	Ctx		   *c = p;
	MaasError	e;
	MaasDnnKind kind = c->mode;
	const void *a = kind == MAAS_DNN_F32 ? (const void *) c->x :
		kind == MAAS_DNN_BF16 ? (const void *) c->xb : (const void *) c->xq;
	void	   *out = kind == MAAS_DNN_U8S8 ? (void *) c->acc : (void *) c->y;

	if (!maas_dnn_matmul(kind, c->m, c->n, c->k, a, c->k, c->w.data, c->k, c->packed,
						 NULL, out, c->n, &e))
	{
		fprintf(stderr, "matmul failed: %s\n", e.msg);
		exit(1);
	}
}

static void
do_dnn_u8s8(void *p)
{
	Ctx		   *c = p;

	maas_dnn_gemm_u8s8(c->m, c->n, c->k, c->xq, c->k, c->w.data, c->k, c->acc, c->n);
}

static void
do_s8_kernel(void *p)
{
	Ctx		   *c = p;

	((MaasS8Fn) c->kern->fn) (c->m, c->n, c->k, c->xq, c->k, c->w.data, c->k, c->acc, c->n);
}

static void
do_row_kernel(void *p)
{
	Ctx		   *c = p;

	if (c->w.type == MAAS_W_F32)
		((MaasF32RowFn) c->kern->fn) (c->n, c->k, c->x, c->w.data, c->k, c->y);
	else
		((MaasBf16RowFn) c->kern->fn) (c->n, c->k, c->x, c->w.data, c->k, c->y);
}

/* the whole dense layer through the interface: y = x W^T + b */
static void
do_dense(void *p)
{
	Ctx		   *c = p;
	MaasError	e;
	Block	   *mark = blocks;

	if (!maas_dense(c->blas, &c->w, c->m, c->x, c->k, c->bias, c->y, c->n, &e))
	{
		fprintf(stderr, "dense failed: %s\n", e.msg);
		exit(1);
	}
	/* scratch of this call */
	while (blocks != mark)
	{
		Block	   *n = blocks->next;

		free(blocks);
		blocks = n;
	}
}

static const MaasBlas *
use(MaasGemmBackend b)
{
	MaasBlasConfig cfg = {.threads = threads, .backend = b};
	MaasError	e;
	const MaasBlas *blas = maas_blas_open(&cfg, &e);

	if (blas == NULL)
	{
		fprintf(stderr, "cannot open the backend: %s\n", e.msg);
		exit(1);
	}
	return blas;
}

static float *
rnd(size_t n)
{
	float	   *v = maas_kalloc(sizeof(float) * n);
	uint32_t	s = 12345;

	for (size_t i = 0; i < n; i++)
	{
		s = s * 1103515245u + 12345u;
		v[i] = ((s >> 8) & 0xffff) / 32768.0f - 1.0f;
	}
	return v;
}

/* the layer shapes: batch and one row of the 784-512-10 MLP */
static const int shapes[][3] = {
	{1024, 512, 784}, {1024, 10, 512}, {1, 512, 784}, {1, 10, 512},
};
#define N_SHAPES 4

/* best time a layer shape took per type, for the floors */
static double best[3][N_SHAPES];

static void
note_best(int type, int s, double t)
{
	if (best[type][s] == 0 || t < best[type][s])
		best[type][s] = t;
}

static void
run_f32(int s)
{
	Ctx			c = {.m = shapes[s][0], .n = shapes[s][1], .k = shapes[s][2]};
	char		what[64],
				impl[96];
	const MaasBlasInfo *in;
	double		t;
	MaasError	e;

	snprintf(what, sizeof(what), "f32 %dx%dx%d", c.m, c.n, c.k);
	c.x = rnd((size_t) c.m * c.k);
	c.y = maas_kalloc(sizeof(float) * c.m * c.n);
	c.bias = rnd(c.n);
	c.w = (MaasWeights) {.type = MAAS_W_F32, .n = c.n, .k = c.k, .data = rnd((size_t) c.n * c.k)};

	c.blas = use(MAAS_BACKEND_BLAS);
	in = maas_blas_info(false);
	snprintf(impl, sizeof(impl), "openblas %s (coretype set) %s", in->blas_core,
			 c.m == 1 ? "sgemv" : "sgemm");
	t = time_it(do_sgemm, &c);
	report(what, impl, &c, t, peaks.f32);
	note_best(0, s, t);
	if (in->onednn_loaded)
	{
		t = time_it(do_dnn_sgemm, &c);
		snprintf(impl, sizeof(impl), "onednn dnnl_sgemm (%s)", in->onednn_isa);
		report(what, impl, &c, t, peaks.f32);
		note_best(0, s, t);
		c.mode = MAAS_DNN_F32;
		c.packed = NULL;
		t = time_it(do_dnn_matmul, &c);
		snprintf(impl, sizeof(impl), "onednn matmul %s", maas_dnn_info()->impl[MAAS_DNN_F32][c.m == 1]);
		report(what, impl, &c, t, peaks.f32);
		note_best(0, s, t);
		c.packed = maas_dnn_pack(MAAS_DNN_F32, c.n, c.k, c.w.data, c.k, &e);
		t = time_it(do_dnn_matmul, &c);
		snprintf(impl, sizeof(impl), "onednn matmul %s packed", maas_dnn_info()->impl[MAAS_DNN_F32][c.m == 1]);
		report(what, impl, &c, t, peaks.f32);
		note_best(0, s, t);
		c.packed = NULL;
	}
	if (c.m == 1)
		for (const MaasKernel *k = maas_f32_row_kernels; k->name; k++)
		{
			if (!maas_cpu_has(k->needs))
				continue;
			c.kern = k;
			t = time_it(do_row_kernel, &c);
			snprintf(impl, sizeof(impl), "maas %s row kernel (1 thread)", k->name);
			report(what, impl, &c, t, peaks.f32);
			note_best(0, s, t);
		}
	/* what gemm_f32 runs (auto), with bias, packed as the runtime would */
	c.blas = use(MAAS_BACKEND_AUTO);
	in = maas_blas_info(false);
	if (!c.blas->pack(&c.w, &e))
		fprintf(stderr, "pack: %s\n", e.msg);
	t = time_it(do_dense, &c);
	snprintf(impl, sizeof(impl), "auto gemm_f32: %s %s", in->ops[c.m == 1 ? MAAS_GEMM_F32_ROW : MAAS_GEMM_F32_ROWS].backend,
			 in->ops[c.m == 1 ? MAAS_GEMM_F32_ROW : MAAS_GEMM_F32_ROWS].kernel);
	report(what, impl, &c, t, peaks.f32);
}

static void
run_bf16(int s)
{
	Ctx			c = {.m = shapes[s][0], .n = shapes[s][1], .k = shapes[s][2]};
	char		what[64],
				impl[96];
	const MaasBlasInfo *in;
	double		t;
	MaasError	e;
	float	   *wf;
	uint16_t   *xb;
	double		peak = peaks.amx_bf16 > 0 ? peaks.amx_bf16 : peaks.f32;

	snprintf(what, sizeof(what), "bf16 %dx%dx%d", c.m, c.n, c.k);
	c.x = rnd((size_t) c.m * c.k);
	c.y = maas_kalloc(sizeof(float) * c.m * c.n);
	c.bias = rnd(c.n);
	wf = rnd((size_t) c.n * c.k);
	if (!maas_weights_bf16(wf, c.n, c.k, &c.w, &e))
		exit(1);
	xb = maas_kalloc(sizeof(uint16_t) * c.m * c.k);
	maas_f32_to_bf16_n(c.x, (size_t) c.m * c.k, xb);
	c.xb = xb;

	c.blas = use(MAAS_BACKEND_AUTO);
	in = maas_blas_info(false);
	if (in->onednn_loaded)
	{
		c.mode = MAAS_DNN_BF16;
		c.packed = NULL;
		t = time_it(do_dnn_matmul, &c);
		snprintf(impl, sizeof(impl), "onednn matmul %s", maas_dnn_info()->impl[MAAS_DNN_BF16][c.m == 1]);
		report(what, impl, &c, t, peak);
		c.packed = maas_dnn_pack(MAAS_DNN_BF16, c.n, c.k, c.w.data, c.k, &e);
		t = time_it(do_dnn_matmul, &c);
		snprintf(impl, sizeof(impl), "onednn matmul %s packed", maas_dnn_info()->impl[MAAS_DNN_BF16][c.m == 1]);
		report(what, impl, &c, t, peak);
		c.packed = NULL;
	}
	if (c.m == 1)
		for (const MaasKernel *k = maas_bf16_row_kernels; k->name; k++)
		{
			if (!maas_cpu_has(k->needs))
				continue;
			c.kern = k;
			t = time_it(do_row_kernel, &c);
			snprintf(impl, sizeof(impl), "maas %s row kernel (1 thread)", k->name);
			report(what, impl, &c, t, peak);
		}
	for (int b = 0; b < 2; b++)
	{
		int			op = c.m == 1 ? MAAS_GEMM_BF16_ROW : MAAS_GEMM_BF16_ROWS;

		c.blas = use(b == 0 ? MAAS_BACKEND_BLAS : MAAS_BACKEND_AUTO);
		in = maas_blas_info(false);
		c.w.packed = NULL;
		if (!c.blas->pack(&c.w, &e))
			fprintf(stderr, "pack: %s\n", e.msg);
		t = time_it(do_dense, &c);
		snprintf(impl, sizeof(impl), "%s gemm_bf16: %s %s", b == 0 ? "blas" : "auto",
				 in->ops[op].backend, in->ops[op].kernel);
		report(what, impl, &c, t, peak);
		note_best(1, s, t);
	}
}

static void
run_s8(int s)
{
	Ctx			c = {.m = shapes[s][0], .n = shapes[s][1], .k = shapes[s][2]};
	char		what[64],
				impl[96];
	const MaasBlasInfo *in;
	double		t;
	MaasError	e;
	float	   *wf,
			   *sx;
	int32_t    *zero;
	uint8_t    *xq;
	double		peak = peaks.amx_int8 > 0 ? peaks.amx_int8 : peaks.int8;

	snprintf(what, sizeof(what), "int8 %dx%dx%d", c.m, c.n, c.k);
	c.x = rnd((size_t) c.m * c.k);
	c.y = maas_kalloc(sizeof(float) * c.m * c.n);
	c.acc = maas_kalloc(sizeof(int32_t) * c.m * c.n);
	c.bias = rnd(c.n);
	wf = rnd((size_t) c.n * c.k);
	if (!maas_quantize_weights_s8(wf, c.n, c.k, &c.w, &e))
		exit(1);
	xq = maas_kalloc((size_t) c.m * c.k);
	sx = maas_kalloc(sizeof(float) * c.m);
	zero = maas_kalloc(sizeof(int32_t) * c.m);
	maas_quantize_rows_u8(c.m, c.k, c.x, c.k, xq, c.k, sx, zero);
	c.xq = xq;

	c.blas = use(MAAS_BACKEND_AUTO);
	in = maas_blas_info(false);
	if (in->onednn_loaded)
	{
		c.mode = MAAS_DNN_U8S8;
		c.packed = NULL;
		t = time_it(do_dnn_matmul, &c);
		snprintf(impl, sizeof(impl), "onednn matmul %s (u8s8s32 only)", maas_dnn_info()->impl[MAAS_DNN_U8S8][c.m == 1]);
		report(what, impl, &c, t, peak);
		c.packed = maas_dnn_pack(MAAS_DNN_U8S8, c.n, c.k, c.w.data, c.k, &e);
		t = time_it(do_dnn_matmul, &c);
		snprintf(impl, sizeof(impl), "onednn matmul %s packed (u8s8s32 only)", maas_dnn_info()->impl[MAAS_DNN_U8S8][c.m == 1]);
		report(what, impl, &c, t, peak);
		c.packed = NULL;
		t = time_it(do_dnn_u8s8, &c);
		report(what, "onednn dnnl_gemm_u8s8s32 (u8s8s32 only)", &c, t, peak);
	}
	for (const MaasKernel *k = maas_s8_kernels; k->name; k++)
	{
		if (!maas_cpu_has(k->needs) || (c.m > 1 && strcmp(k->name, "c") == 0))
			continue;
		c.kern = k;
		t = time_it(do_s8_kernel, &c);
		snprintf(impl, sizeof(impl), "maas %s (u8s8s32 only, 1 thread)", k->name);
		report(what, impl, &c, t, peak);
	}
	for (int b = 0; b < 2; b++)
	{
		int			op = c.m == 1 ? MAAS_GEMM_S8_ROW : MAAS_GEMM_S8_ROWS;

		c.blas = use(b == 0 ? MAAS_BACKEND_BLAS : MAAS_BACKEND_AUTO);
		in = maas_blas_info(false);
		c.w.packed = NULL;
		if (!c.blas->pack(&c.w, &e))
			fprintf(stderr, "pack: %s\n", e.msg);
		t = time_it(do_dense, &c);
		snprintf(impl, sizeof(impl), "%s gemm_s8: %s %s", b == 0 ? "blas" : "auto",
				 in->ops[op].backend, in->ops[op].kernel);
		report(what, impl, &c, t, peak);
		note_best(2, s, t);
	}
}

/* the whole MLP through the interface (auto, packed): what maas would run */
typedef struct Mlp
{
	const MaasBlas *blas;
	MaasWeights w1,
				w2;
	float	   *b1,
			   *b2,
			   *x,
			   *h,
			   *y;
	int			m;
} Mlp;

static void
do_mlp(void *p)
{
	Mlp		   *c = p;
	MaasError	e;
	Block	   *mark = blocks;

	if (!maas_dense(c->blas, &c->w1, c->m, c->x, 784, c->b1, c->h, 512, &e))
		exit(1);
	for (size_t i = 0; i < (size_t) c->m * 512; i++)
		c->h[i] = c->h[i] > 0 ? c->h[i] : 0;
	if (!maas_dense(c->blas, &c->w2, c->m, c->h, 512, c->b2, c->y, 10, &e))
		exit(1);
	while (blocks != mark)
	{
		Block	   *n = blocks->next;

		free(blocks);
		blocks = n;
	}
}

static void
run_mlp(void)
{
	MaasError	e;

	printf("the 784-512-10 MLP through gemm_f32/bf16/s8 (auto, packed weights, bias, ReLU):\n");
	for (int type = 0; type < 3; type++)
	{
		Mlp			c;
		float	   *w1 = rnd(512 * 784),
				   *w2 = rnd(10 * 512);
		const char *name = type == 0 ? "f32" : type == 1 ? "bf16" : "int8";

		c.blas = use(MAAS_BACKEND_AUTO);
		if (type == 0)
		{
			c.w1 = (MaasWeights) {.type = MAAS_W_F32, .n = 512, .k = 784, .data = w1};
			c.w2 = (MaasWeights) {.type = MAAS_W_F32, .n = 10, .k = 512, .data = w2};
		}
		else if (type == 1)
		{
			maas_weights_bf16(w1, 512, 784, &c.w1, &e);
			maas_weights_bf16(w2, 10, 512, &c.w2, &e);
		}
		else
		{
			maas_quantize_weights_s8(w1, 512, 784, &c.w1, &e);
			maas_quantize_weights_s8(w2, 10, 512, &c.w2, &e);
		}
		if (!c.blas->pack(&c.w1, &e) || !c.blas->pack(&c.w2, &e))
			fprintf(stderr, "pack: %s\n", e.msg);
		c.b1 = rnd(512);
		c.b2 = rnd(10);
		c.x = rnd(1024 * 784);
		c.h = maas_kalloc(sizeof(float) * 1024 * 512);
		c.y = maas_kalloc(sizeof(float) * 1024 * 10);
		for (int row = 0; row < 2; row++)
		{
			double		t,
						floor;

			c.m = row ? 1 : 1024;
			t = time_it(do_mlp, &c);
			floor = row ? best[type][2] + best[type][3] : best[type][0] + best[type][1];
			printf("    %-4s %-13s %9.1f us = %9.0f rows/s, %.2fx the floor above (busy %.0f%%)\n",
				   name, row ? "one row" : "batch of 1024", t * 1e6, c.m / t, t / floor,
				   100 * busy);
		}
		kfree_all();
	}
}

static int
cmd_run(void)
{
	const MaasBlas *blas = use(MAAS_BACKEND_AUTO);
	const MaasBlasInfo *in = maas_blas_info(true);

	(void) blas;
	measure_peaks(&peaks, false);
	printf("== %d thread%s (peaks for %d core%s: f32 %.0f GFLOP/s, int8 %.0f GOP/s%s)\n",
		   threads, threads > 1 ? "s" : "", threads, threads > 1 ? "s" : "",
		   peaks.f32 * peaks.hz * 1e-9 * threads, peaks.int8 * peaks.hz * 1e-9 * threads,
		   peaks.amx_int8 > 0 ? ", AMX peaks for int8 and bf16" : "");
	printf("blas %s core %s; onednn %s %s; auto picks:\n", in->blas_library, in->blas_core,
		   in->onednn_loaded ? in->onednn_version : "-",
		   in->onednn_loaded ? in->onednn_isa : in->onednn_status);
	for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
		printf("    %-18s %-7s %s%s%s\n", in->ops[i].op, in->ops[i].backend, in->ops[i].kernel,
			   in->ops[i].detail[0] ? "; " : "", in->ops[i].detail);
	printf("%-19s %-56s %12s %11s %6s %5s %11s\n", "case", "implementation", "time", "rate",
		   "%peak", "busy", "cpu-rate");
	for (int s = 0; s < N_SHAPES; s++)
	{
		run_f32(s);
		kfree_all();
		run_bf16(s);
		kfree_all();
		run_s8(s);
		kfree_all();
		maas_dnn_cache_clear();
	}
	printf("floors of the 784-512-10 MLP (best layer times, dense with bias, %d thread%s):\n",
		   threads, threads > 1 ? "s" : "");
	for (int type = 0; type < 3; type++)
	{
		const char *name = type == 0 ? "f32" : type == 1 ? "bf16" : "int8";
		double		batch = best[type][0] + best[type][1];
		double		row = best[type][2] + best[type][3];

		printf("    %-4s batch of 1024: %8.1f us = %9.0f rows/s; one row: %6.2f us = %8.0f rows/s"
			   " (maas_predict target <= %.2f us)\n",
			   name, batch * 1e6, 1024 / batch, row * 1e6, 1 / row, 1.2 * row * 1e6);
	}
	run_mlp();
	return 0;
}

/* OpenBLAS as it picks its kernels with nothing set: a fresh process */
static int
cmd_detected(void)
{
	Ctx			c;
	void	   *h;
	char	   *(*core) (void);
	char		env[16];

	unsetenv("OPENBLAS_CORETYPE");
	snprintf(env, sizeof(env), "%d", threads);
	setenv("OPENBLAS_NUM_THREADS", env, 1);
	h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
	{
		printf("no libopenblas.so.0: %s\n", dlerror());
		return 0;
	}
	core = (char *(*) (void)) dlsym(h, "openblas_get_corename");
	measure_peaks(&peaks, false);
	for (int s = 0; s < N_SHAPES; s++)
	{
		char		what[64],
					impl[96];

		if (shapes[s][1] == 10)
			continue;
		memset(&c, 0, sizeof(c));
		c.m = shapes[s][0];
		c.n = shapes[s][1];
		c.k = shapes[s][2];
		c.sgemm = dlsym(h, "cblas_sgemm");
		c.sgemv = dlsym(h, "cblas_sgemv");
		c.x = rnd((size_t) c.m * c.k);
		c.y = maas_kalloc(sizeof(float) * c.m * c.n);
		c.w = (MaasWeights) {.type = MAAS_W_F32, .n = c.n, .k = c.k, .data = rnd((size_t) c.n * c.k)};
		snprintf(what, sizeof(what), "f32 %dx%dx%d", c.m, c.n, c.k);
		snprintf(impl, sizeof(impl), "openblas %s (as detected) %s", core ? core() : "?",
				 c.m == 1 ? "sgemv" : "sgemm");
		report(what, impl, &c, time_it(do_lib, &c), peaks.f32);
		kfree_all();
	}
	return 0;
}

static int
cmd_peak(void)
{
	const MaasCpu *cpu = maas_cpu();
	char		buf[512];

	printf("cpu: %s (%s family %d model %d stepping %d)\n", cpu->brand, cpu->vendor,
		   cpu->family, cpu->model, cpu->stepping);
	printf("usable features: %s\n", maas_cpu_format(maas_cpu_features(), buf, sizeof(buf)));
	measure_peaks(&peaks, true);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 3)
		threads = atoi(argv[2]) > 0 ? atoi(argv[2]) : 1;
	if (argc >= 2 && strcmp(argv[1], "peak") == 0)
		return cmd_peak();
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run();
	if (argc >= 2 && strcmp(argv[1], "detected") == 0)
		return cmd_detected();
	fprintf(stderr, "usage: %s peak | run THREADS | detected THREADS\n", argv[0]);
	return 2;
}
