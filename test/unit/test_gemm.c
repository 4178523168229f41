/*
 * test_gemm.c
 *		Unit tests of the matrix backend (blas.c, gemm_*.c): every backend
 *		present on this machine against double-precision references, int8
 *		bit for bit, selection under forced-off features, and the threads
 *		the libraries start.
 *
 * Backends are forced with maas.gemm_backend's values ("blas", "onednn",
 * "auto"); one that cannot load here is reported as skipped, with why, and
 * its cases are not counted.  Float results must lie within the rigorous
 * bound of their arithmetic: (k + 2) 2^-24 sum |a b| for f32, plus 2^-8
 * sum |a b| where bf16 instructions round the activations.  int8 results
 * must equal, bit for bit, the documented formula (blas.h) evaluated on an
 * int64 reference product, on every backend and every kernel variant.
 *
 * Libraries read some settings once, when they load; the tests that need
 * a differently configured load (features forced off, OpenBLAS left to
 * detect the CPU itself) run in a forked child.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blas.h"
#include "gemm.h"
#include "quantize.h"
#include "unit.h"

#define B(f) MAAS_CPU_BIT(MAAS_CPU_##f)
#define RM MAAS_CBLAS_ROW_MAJOR
#define CM MAAS_CBLAS_COL_MAJOR
#define NT MAAS_CBLAS_NO_TRANS
#define TR MAAS_CBLAS_TRANS

static const MaasBlas *blas;
static bool have_onednn;

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t
rnd32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t) (rng >> 20);
}

static float
rnd_unit(void)
{
	return (float) ((rnd32() & 0xfffff) / (double) 0x80000 - 1.0);
}

static float *
rnd_vec(size_t n)
{
	float	   *v = maas_kalloc(sizeof(float) * (n ? n : 1));

	for (size_t i = 0; i < n; i++)
		v[i] = rnd_unit();
	return v;
}

static const MaasBlas *
open_with(MaasGemmBackend backend, MaasCpuMask disable, int threads, MaasError *err)
{
	MaasBlasConfig config = {.threads = threads, .backend = backend, .cpu_disable = disable};

	return maas_blas_open(&config, err);
}

/* the backends to run every case on; NULL-terminated names */
static const struct
{
	const char *name;
	MaasGemmBackend b;
}			backends[] = {
	{"blas", MAAS_BACKEND_BLAS},
	{"onednn", MAAS_BACKEND_ONEDNN},
	{"auto", MAAS_BACKEND_AUTO},
};
#define N_BACKENDS ((int) (sizeof(backends) / sizeof(backends[0])))

/* switch to backend i; false (and a note, once) when it is not here */
static bool
use_backend(int i)
{
	MaasError	err;
	static bool noted = false;

	blas = open_with(backends[i].b, 0, 1, &err);
	if (blas == NULL)
	{
		if (!noted)
			printf("    skipped backend \"%s\": %s\n", backends[i].name, err.msg);
		noted = true;
		blas = open_with(MAAS_BACKEND_AUTO, 0, 1, &err);
		return false;
	}
	return true;
}

/* ---- references ---- */

/* element (i, j) of op(X) for a matrix stored with order and ld */
static double
at(const float *x, int order, bool trans, int ld, int i, int j)
{
	if (trans)
	{
		int			t = i;

		i = j;
		j = t;
	}
	return order == RM ? x[(size_t) i * ld + j] : x[(size_t) j * ld + i];
}

static bool
close_to(double got, double ref, double bound)
{
	return fabs(got - ref) <= bound;
}

/* ---- info ---- */

static const struct
{
	const char *core;
	MaasCpuMask needs;
}			cores[] = {
	{"cooperlake", MAAS_CPU_AVX512_CORE | B(AVX512_VNNI) | B(AVX512_BF16)},
	{"skylakex", MAAS_CPU_AVX512_CORE},
	{"haswell", B(AVX2) | B(FMA) | B(F16C)},
	{"sandybridge", B(AVX)},
	{"nehalem", B(SSE42)},
	{"core2", B(SSSE3)},
	{"prescott", 0},
};

/* the best OpenBLAS core these features run, lower case as it names it */
static const char *
expected_core(MaasCpuMask f)
{
	for (size_t i = 0; i < sizeof(cores) / sizeof(cores[0]); i++)
		if ((cores[i].needs & f) == cores[i].needs)
			return cores[i].core;
	return "prescott";
}

static void
print_info(const MaasBlasInfo *in)
{
	printf("    cpu: %s (family %d model %d)\n", in->cpu_brand, in->cpu_family, in->cpu_model);
	printf("    features: %s\n", in->cpu_features);
	if (in->cpu_disabled[0])
		printf("    disabled: %s\n", in->cpu_disabled);
	printf("    blas: %s, %s, core %s (OPENBLAS_CORETYPE=%s)\n", in->blas_library,
		   in->blas_version, in->blas_core, in->blas_coretype);
	if (in->onednn_loaded)
		printf("    onednn: %s %s, isa %s, runtime %s\n", in->onednn_library,
			   in->onednn_version, in->onednn_isa, in->onednn_runtime);
	else
		printf("    onednn: not loaded: %s\n", in->onednn_status);
	printf("    backend %s, %d threads\n", in->backend, in->threads);
	for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
		printf("      %-18s %-7s %s%s%s\n", in->ops[i].op, in->ops[i].backend, in->ops[i].kernel,
			   in->ops[i].detail[0] ? "; " : "", in->ops[i].detail);
}

static void
test_load_and_info(void)
{
	MaasError	err;
	const MaasBlasInfo *in;

	/* the first open in the process: nothing forced off */
	blas = open_with(MAAS_BACKEND_AUTO, 0, 1, &err);
	CHECK(blas != NULL);
	if (blas == NULL)
	{
		printf("    cannot load BLAS: %s\n", err.msg);
		exit(1);
	}
	in = maas_blas_info(true);
	CHECK(in == blas->info);
	print_info(in);
	have_onednn = in->onednn_loaded;
	CHECK(strcmp(in->backend, "auto") == 0);
	CHECK(in->threads == 1);
	CHECK(strcmp(in->blas_library, maas_blas_library()) == 0);
	CHECK(blas->sgemm && blas->sgemv && blas->gemm_f32 && blas->gemm_bf16 &&
		  blas->gemm_s8 && blas->pack);
	if (in->blas_core[0] != '\0')
	{
		/* OpenBLAS runs the core maas chose from the feature bits */
		CHECK(strcasecmp(in->blas_core, in->blas_coretype) == 0);
		CHECK(strcasecmp(in->blas_core, expected_core(maas_cpu_features())) == 0);
	}
	if (have_onednn)
	{
		CHECK(strcmp(in->onednn_isa, maas_dnn_isa_for(maas_cpu_features())) == 0);
		CHECK(in->onednn_version[0] == '2');
	}
	else
		CHECK(in->onednn_status[0] != '\0');
	for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
		CHECK(in->ops[i].op != NULL && in->ops[i].backend != NULL && in->ops[i].kernel[0]);

	/* the old entry point still works, and a bad backend name is refused */
	{
		char		msg[256];
		MaasGemmBackend b;

		CHECK(maas_blas_load(NULL, 1, msg, sizeof(msg)) == blas);
		CHECK(maas_gemm_backend_from_name("onednn", &b) && b == MAAS_BACKEND_ONEDNN);
		CHECK(!maas_gemm_backend_from_name("mkl", &b));
		CHECK(strcmp(maas_gemm_backend_name(MAAS_BACKEND_BLAS), "blas") == 0);
	}
}

/* ---- sgemm ---- */

static int
sgemm_case(int order, int ta, int tb, int m, int n, int k, float alpha, float beta)
{
	bool		ta_ = ta == TR,
				tb_ = tb == TR;
	int			lda = (order == RM) == !ta_ ? k + 3 : m + 3;
	int			ldb = (order == RM) == !tb_ ? n + 1 : k + 1;
	int			ldc = (order == RM ? n : m) + 2;
	size_t		sa = (size_t) lda * ((order == RM) == !ta_ ? m : k);
	size_t		sb = (size_t) ldb * ((order == RM) == !tb_ ? k : n);
	size_t		sc = (size_t) ldc * (order == RM ? m : n);
	float	   *a = rnd_vec(sa),
			   *b = rnd_vec(sb),
			   *c = rnd_vec(sc),
			   *c0 = maas_kalloc(sizeof(float) * sc);
	int			bad = 0;

	if (beta == 0.0f)
		for (size_t i = 0; i < sc; i++)
			c[i] = NAN;			/* must not be read */
	memcpy(c0, c, sizeof(float) * sc);
	blas->sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++)
		{
			double		ref = 0,
						mag = 0;
			size_t		ci = order == RM ? (size_t) i * ldc + j : (size_t) j * ldc + i;

			for (int p = 0; p < k; p++)
			{
				double		t = at(a, order, ta_, lda, i, p) * at(b, order, tb_, ldb, p, j);

				ref += t;
				mag += fabs(t);
			}
			ref *= alpha;
			mag *= fabs(alpha);
			if (beta != 0.0f)
			{
				ref += (double) beta * c0[ci];
				mag += fabs((double) beta * c0[ci]);
			}
			if (!close_to(c[ci], ref, (k + 2) * 0x1p-24 * mag + 1e-30))
				bad++;
		}
	return bad;
}

static void
test_sgemm(void)
{
	static const int shapes[][3] = {
		{1, 1, 1}, {7, 13, 5}, {1, 13, 5}, {7, 1, 5}, {7, 13, 1}, {33, 17, 65}, {64, 64, 64},
		{0, 3, 4}, {3, 0, 4}, {3, 4, 0},
	};
	static const float ab[][2] = {{1, 0}, {0.5f, 1}, {-2, -0.5f}};
	int			orders[2] = {RM, CM};
	int			trans[2] = {NT, TR};

	for (int bi = 0; bi < N_BACKENDS; bi++)
	{
		int			bad = 0,
					cases = 0;

		if (!use_backend(bi))
			continue;
		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
			for (int o = 0; o < 2; o++)
				for (int x = 0; x < 2; x++)
					for (int y = 0; y < 2; y++)
						for (size_t v = 0; v < sizeof(ab) / sizeof(ab[0]); v++)
						{
							bad += sgemm_case(orders[o], trans[x], trans[y], shapes[s][0],
											  shapes[s][1], shapes[s][2], ab[v][0], ab[v][1]);
							cases++;
						}
		printf("    %-6s sgemm: %d cases, %d elements off\n", backends[bi].name, cases, bad);
		CHECK(bad == 0);
	}
	use_backend(N_BACKENDS - 1);
}

/* 1024 x 784 x 512, as the MLP's first layer sees a batch: x W^T and x W */
static void
test_sgemm_large(void)
{
	int			m = 1024,
				k = 784,
				n = 512;
	float	   *x = rnd_vec((size_t) m * k);
	float	   *w = rnd_vec((size_t) n * k);
	double	   *ref = maas_kalloc(sizeof(double) * m * n);
	double	   *mag = maas_kalloc(sizeof(double) * m * n);
	float	   *y = maas_kalloc(sizeof(float) * m * n);
	float	   *wt = maas_kalloc(sizeof(float) * n * k);

	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++)
		{
			double		s = 0,
						a = 0;

			for (int p = 0; p < k; p++)
			{
				double		t = (double) x[(size_t) i * k + p] * w[(size_t) j * k + p];

				s += t;
				a += fabs(t);
			}
			ref[(size_t) i * n + j] = s;
			mag[(size_t) i * n + j] = a;
		}
	for (int j = 0; j < n; j++)
		for (int p = 0; p < k; p++)
			wt[(size_t) p * n + j] = w[(size_t) j * k + p];

	for (int bi = 0; bi < N_BACKENDS; bi++)
	{
		int			bad = 0;

		if (!use_backend(bi))
			continue;
		for (int form = 0; form < 2; form++)
		{
			if (form == 0)
				blas->sgemm(RM, NT, TR, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
			else
				blas->sgemm(RM, NT, NT, m, n, k, 1.0f, x, k, wt, n, 0.0f, y, n);
			for (size_t i = 0; i < (size_t) m * n; i++)
				if (!close_to(y[i], ref[i], (k + 2) * 0x1p-24 * mag[i]))
					bad++;
		}
		printf("    %-6s sgemm 1024x784x512: %d elements off\n", backends[bi].name, bad);
		CHECK(bad == 0);
	}
	use_backend(N_BACKENDS - 1);
}

/* ---- sgemv ---- */

static int
sgemv_case(int order, int trans, int m, int n, int inc, float alpha, float beta)
{
	int			lda = (order == RM ? n : m) + 3;
	int			nx = trans == TR ? m : n;
	int			ny = trans == TR ? n : m;
	float	   *a = rnd_vec((size_t) lda * (order == RM ? m : n));
	float	   *x = rnd_vec((size_t) nx * inc);
	float	   *y = rnd_vec((size_t) ny * inc);
	float	   *y0 = maas_kalloc(sizeof(float) * ny * inc);
	int			bad = 0;

	if (beta == 0.0f)
		for (int i = 0; i < ny * inc; i++)
			y[i] = NAN;
	memcpy(y0, y, sizeof(float) * ny * inc);
	blas->sgemv(order, trans, m, n, alpha, a, lda, x, inc, beta, y, inc);
	for (int i = 0; i < ny; i++)
	{
		double		ref = 0,
					mag = 0;

		for (int p = 0; p < nx; p++)
		{
			double		t = at(a, order, trans == TR, lda, i, p) * x[p * inc];

			ref += t;
			mag += fabs(t);
		}
		ref *= alpha;
		mag *= fabs(alpha);
		if (beta != 0.0f)
		{
			ref += (double) beta * y0[i * inc];
			mag += fabs((double) beta * y0[i * inc]);
		}
		if (m == 0 || n == 0)
		{
			/* BLAS returns at once: y is not touched, not even scaled */
			if (memcmp(&y[i * inc], &y0[i * inc], sizeof(float)) != 0)
				bad++;
		}
		else if (!close_to(y[i * inc], ref, (nx + 2) * 0x1p-24 * mag + 1e-30))
			bad++;
		/* the gaps between strided elements are left alone */
		for (int g = 1; g < inc; g++)
			if (memcmp(&y[i * inc + g], &y0[i * inc + g], sizeof(float)) != 0)
				bad++;
	}
	return bad;
}

static void
test_sgemv(void)
{
	static const int shapes[][2] = {{1, 1}, {13, 7}, {7, 13}, {512, 784}, {10, 512}, {0, 5}, {5, 0}};
	static const float ab[][2] = {{1, 0}, {1, 1}, {0.5f, -2}};
	int			orders[2] = {RM, CM};
	int			trans[2] = {NT, TR};

	for (int bi = 0; bi < N_BACKENDS; bi++)
	{
		int			bad = 0,
					cases = 0;

		if (!use_backend(bi))
			continue;
		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
			for (int o = 0; o < 2; o++)
				for (int t = 0; t < 2; t++)
					for (int inc = 1; inc <= 2; inc++)
						for (size_t v = 0; v < sizeof(ab) / sizeof(ab[0]); v++)
						{
							bad += sgemv_case(orders[o], trans[t], shapes[s][0], shapes[s][1],
											  inc, ab[v][0], ab[v][1]);
							cases++;
						}
		printf("    %-6s sgemv: %d cases, %d elements off\n", backends[bi].name, cases, bad);
		CHECK(bad == 0);
	}
	use_backend(N_BACKENDS - 1);
}

/* ---- dense layers, f32 and bf16 ---- */

/* y = x W^T + b in double, and the sum of |products| per element */
static void
dense_ref(int m, int n, int k, const float *x, int ldx, const float *w,
		  const float *bias, double *ref, double *mag)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++)
		{
			double		s = bias ? bias[j] : 0,
						a = bias ? fabs(bias[j]) : 0;

			for (int p = 0; p < k; p++)
			{
				double		t = (double) x[(size_t) i * ldx + p] * w[(size_t) j * k + p];

				s += t;
				a += fabs(t);
			}
			ref[(size_t) i * n + j] = s;
			mag[(size_t) i * n + j] = a;
		}
}

static const int dense_shapes[][3] = {
	/* m, n, k */
	{1, 1, 1}, {1, 13, 7}, {7, 13, 5}, {5, 3, 130}, {1, 512, 784}, {64, 512, 784},
	{1024, 512, 784}, {1024, 10, 512}, {1, 10, 512},
};
#define N_DENSE ((int) (sizeof(dense_shapes) / sizeof(dense_shapes[0])))

/*
 * Run a dense layer of the given type on every shape and backend, with and
 * without bias and packing; rel is the relative bound beyond f32's.  The
 * reference is computed once a shape.
 */
static void
dense_cases(MaasWeightType type, double rel)
{
	MaasError	err;
	int			bad[N_BACKENDS] = {0},
				cases[N_BACKENDS] = {0};
	bool		ran[N_BACKENDS] = {false};

	for (int s = 0; s < N_DENSE; s++)
	{
		int			m = dense_shapes[s][0],
					n = dense_shapes[s][1],
					k = dense_shapes[s][2];
		int			ldx = k + (s % 2),
					ldy = n + (s % 3);
		float	   *x = rnd_vec((size_t) m * ldx);
		float	   *w = rnd_vec((size_t) n * k);
		float	   *bias = rnd_vec(n);
		float	   *y = maas_kalloc(sizeof(float) * m * ldy);
		double	   *ref = maas_kalloc(sizeof(double) * m * n);
		double	   *mag = maas_kalloc(sizeof(double) * m * n);
		MaasWeights wt;

		if (type == MAAS_W_BF16)
		{
			CHECK(maas_weights_bf16(w, n, k, &wt, &err));
			/* the reference uses the bf16 weights, exactly */
			maas_bf16_to_f32_n(wt.data, (size_t) n * k, w);
		}
		else
			wt = (MaasWeights) {.type = MAAS_W_F32, .n = n, .k = k, .data = w};
		dense_ref(m, n, k, x, ldx, w, NULL, ref, mag);

		for (int bi = 0; bi < N_BACKENDS; bi++)
		{
			if (!use_backend(bi))
				continue;
			ran[bi] = true;
			wt.packed = NULL;
			for (int variant = 0; variant < 4; variant++)
			{
				const float *b = (variant & 1) ? bias : NULL;

				if (variant == 2)
					CHECK(blas->pack(&wt, &err));
				for (size_t i = 0; i < (size_t) m * ldy; i++)
					y[i] = NAN;
				CHECK(maas_dense(blas, &wt, m, x, ldx, b, y, ldy, &err));
				for (int i = 0; i < m; i++)
					for (int j = 0; j < n; j++)
					{
						size_t		r = (size_t) i * n + j;
						double		want = ref[r] + (b ? b[j] : 0);
						double		size = mag[r] + (b ? fabs(b[j]) : 0);

						if (!close_to(y[(size_t) i * ldy + j], want,
									  ((k + 3) * 0x1p-24 + rel) * size + k * FLT_MIN))
							bad[bi]++;
					}
				cases[bi]++;
			}
		}
	}
	for (int bi = 0; bi < N_BACKENDS; bi++)
		if (ran[bi])
		{
			printf("    %-6s %s dense: %d cases, %d elements off\n", backends[bi].name,
				   type == MAAS_W_F32 ? "f32" : "bf16", cases[bi], bad[bi]);
			CHECK(bad[bi] == 0);
		}
	use_backend(N_BACKENDS - 1);
}

static void
test_gemm_f32(void)
{
	dense_cases(MAAS_W_F32, 0.0);
}

static void
test_gemm_bf16(void)
{
	/* bf16 instructions round the activations: 2^-8 relative each */
	dense_cases(MAAS_W_BF16, 0x1p-8);
}

/* every one-row kernel variant this CPU runs, called directly */
static void
test_row_kernels(void)
{
	int			n = 37,
				k = 301;
	float	   *x = rnd_vec(k);
	float	   *w = rnd_vec((size_t) n * k);
	uint16_t   *wb = maas_kalloc(sizeof(uint16_t) * n * k);
	float	   *wbf = maas_kalloc(sizeof(float) * n * k);
	float	   *y = maas_kalloc(sizeof(float) * n);
	double	   *ref = maas_kalloc(sizeof(double) * n);
	double	   *mag = maas_kalloc(sizeof(double) * n);
	MaasCpuMask have = maas_cpu_features();

	maas_f32_to_bf16_n(w, (size_t) n * k, wb);
	maas_bf16_to_f32_n(wb, (size_t) n * k, wbf);
	for (int pass = 0; pass < 2; pass++)
	{
		const MaasKernel *kern = pass == 0 ? maas_f32_row_kernels : maas_bf16_row_kernels;

		dense_ref(1, n, k, x, k, pass == 0 ? w : wbf, NULL, ref, mag);
		for (; kern->name != NULL; kern++)
		{
			int			bad = 0;

			if ((kern->needs & have) != kern->needs)
			{
				printf("    skipped %s row kernel %s: this CPU lacks its features\n",
					   pass == 0 ? "f32" : "bf16", kern->name);
				continue;
			}
			for (int kk = 1; kk <= k; kk += (kk < 70 ? 1 : 77))
			{
				dense_ref(1, n, kk, x, kk, pass == 0 ? w : wbf, NULL, ref, mag);
				/* weights rows k apart, only the first kk of each used */
				for (int j = 0; j < n; j++)
				{
					double		s = 0,
								a = 0;

					for (int p = 0; p < kk; p++)
					{
						double		t = (double) x[p] * (pass == 0 ? w : wbf)[(size_t) j * k + p];

						s += t;
						a += fabs(t);
					}
					ref[j] = s;
					mag[j] = a;
				}
				if (pass == 0)
					((MaasF32RowFn) kern->fn) (n, kk, x, w, k, y);
				else
					((MaasBf16RowFn) kern->fn) (n, kk, x, wb, k, y);
				for (int j = 0; j < n; j++)
					if (!close_to(y[j], ref[j], ((kk + 2) * 0x1p-24 + (pass ? 0x1p-8 : 0)) * mag[j] +
								  kk * FLT_MIN))
						bad++;
			}
			printf("    %s row kernel %s: %d off\n", pass == 0 ? "f32" : "bf16", kern->name, bad);
			CHECK(bad == 0);
		}
	}
}

/* ---- int8 ---- */

static void
s8_ref(int m, int n, int k, const uint8_t *a, const int8_t *w, int64_t *c)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++)
		{
			int64_t		s = 0;

			for (int p = 0; p < k; p++)
				s += (int64_t) a[(size_t) i * k + p] * w[(size_t) j * k + p];
			c[(size_t) i * n + j] = s;
		}
}

static void
test_s8_kernels(void)
{
	static const int shapes[][3] = {
		{1, 1, 1}, {7, 13, 5}, {5, 9, 130}, {4, 8, 64}, {13, 11, 1000}, {2, 5, 63},
		{3, 4, 65}, {1, 512, 784}, {9, 6, 33},
	};
	MaasCpuMask have = maas_cpu_features();

	for (const MaasKernel *kern = maas_s8_kernels; kern->name != NULL; kern++)
	{
		int			bad = 0;

		if ((kern->needs & have) != kern->needs)
		{
			printf("    skipped int8 kernel %s: this CPU lacks its features\n", kern->name);
			continue;
		}
		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		{
			int			m = shapes[s][0],
						n = shapes[s][1],
						k = shapes[s][2];
			uint8_t    *a = maas_kalloc((size_t) m * k);
			int8_t	   *w = maas_kalloc((size_t) n * k);
			int32_t    *c = maas_kalloc(sizeof(int32_t) * m * (n + 1));
			int64_t    *ref = maas_kalloc(sizeof(int64_t) * m * n);

			for (int i = 0; i < m * k; i++)
				a[i] = (uint8_t) rnd32();
			for (int i = 0; i < n * k; i++)
				w[i] = (int8_t) rnd32();
			/* the extremes too */
			a[0] = 255;
			w[0] = -128;
			s8_ref(m, n, k, a, w, ref);
			((MaasS8Fn) kern->fn) (m, n, k, a, k, w, k, c, n + 1);
			for (int i = 0; i < m; i++)
				for (int j = 0; j < n; j++)
					if (c[(size_t) i * (n + 1) + j] != ref[(size_t) i * n + j])
						bad++;
		}

		/*
		 * k = 2^16 at the extremes: the largest sums int32 must hold
		 * (blas.h's bound), -2,139,095,040 and 2,122,383,360.
		 */
		{
			int			k = MAAS_S8_MAX_K;
			uint8_t    *a = maas_kalloc((size_t) 2 * k);
			int8_t	   *w = maas_kalloc((size_t) 3 * k);
			int32_t		c[6];

			memset(a, 255, (size_t) 2 * k);
			memset(w, -128, k);
			memset(w + k, 127, k);
			memset(w + 2 * k, 0, k);
			((MaasS8Fn) kern->fn) (2, 3, k, a, k, w, k, c, 3);
			CHECK(c[0] == -2139095040 && c[3] == -2139095040);
			CHECK(c[1] == 2122383360 && c[4] == 2122383360);
			CHECK(c[2] == 0);
		}
		printf("    int8 kernel %s: %d of the products differ from int64\n", kern->name, bad);
		CHECK(bad == 0);
	}
}

/*
 * gemm_s8 as blas.h documents it, from the quantizer's output and an int64
 * product: what every backend must give, bit for bit, with and without
 * bias (want, want_bias).
 */
static void
s8_expected(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
			float *want, float *want_bias, float *sx_out)
{
	uint8_t    *q = maas_kalloc((size_t) m * w->k);
	float	   *sx = maas_kalloc(sizeof(float) * m);
	int32_t    *zero = maas_kalloc(sizeof(int32_t) * m);
	int64_t    *acc = maas_kalloc(sizeof(int64_t) * m * w->n);

	maas_quantize_rows_u8(m, w->k, x, ldx, q, w->k, sx, zero);
	s8_ref(m, w->n, w->k, q, w->data, acc);
	for (int i = 0; i < m; i++)
	{
		if (sx_out)
			sx_out[i] = sx[i];
		for (int j = 0; j < w->n; j++)
		{
			int64_t		v = acc[(size_t) i * w->n + j] - (int64_t) zero[i] * w->sum[j];
			float		r = (float) (int32_t) v * (sx[i] * w->scale[j]);

			want[(size_t) i * w->n + j] = r;
			if (want_bias)
				want_bias[(size_t) i * w->n + j] = r + bias[j];
		}
	}
}

static void
test_gemm_s8(void)
{
	MaasError	err;
	int			bad[N_BACKENDS] = {0},
				far[N_BACKENDS] = {0},
				cases[N_BACKENDS] = {0};
	bool		ran[N_BACKENDS] = {false};

	for (int s = 0; s < N_DENSE; s++)
	{
		int			m = dense_shapes[s][0],
					n = dense_shapes[s][1],
					k = dense_shapes[s][2];
		int			ldx = k + (s % 2),
					ldy = n + (s % 3);
		float	   *x = rnd_vec((size_t) m * ldx);
		float	   *w = rnd_vec((size_t) n * k);
		float	   *bias = rnd_vec(n);
		float	   *y = maas_kalloc(sizeof(float) * m * ldy);
		float	   *want[2] = {maas_kalloc(sizeof(float) * m * n),
		maas_kalloc(sizeof(float) * m * n)};
		float	   *sx = maas_kalloc(sizeof(float) * m);
		double	   *ref = maas_kalloc(sizeof(double) * m * n);
		double	   *mag = maas_kalloc(sizeof(double) * m * n);
		double	   *x1 = maas_kalloc(sizeof(double) * m);
		double	   *w1 = maas_kalloc(sizeof(double) * n);
		MaasWeights wq;

		/* ReLU-like rows, a zero row, a NaN row */
		for (int i = 0; i < m; i += 3)
			for (int p = 0; p < k; p++)
				x[(size_t) i * ldx + p] = fabsf(x[(size_t) i * ldx + p]);
		if (m > 4)
		{
			memset(x + 4 * (size_t) ldx, 0, sizeof(float) * k);
			x[2 * (size_t) ldx + k / 2] = NAN;
		}
		CHECK(maas_quantize_weights_s8(w, n, k, &wq, &err));
		s8_expected(&wq, m, x, ldx, bias, want[0], want[1], sx);
		dense_ref(m, n, k, x, ldx, w, NULL, ref, mag);
		for (int i = 0; i < m; i++)
		{
			x1[i] = 0;
			for (int p = 0; p < k; p++)
				x1[i] += fabs(x[(size_t) i * ldx + p]);
		}
		for (int j = 0; j < n; j++)
		{
			w1[j] = 0;
			for (int p = 0; p < k; p++)
				w1[j] += fabs(w[(size_t) j * k + p]);
		}

		for (int bi = 0; bi < N_BACKENDS; bi++)
		{
			if (!use_backend(bi))
				continue;
			ran[bi] = true;
			wq.packed = NULL;
			/* bias (1), packed (2), the fused relu (4) */
			for (int variant = 0; variant < 8; variant++)
			{
				const float *b = (variant & 1) ? bias : NULL;
				const float *e = want[variant & 1];
				bool		relu = (variant & 4) != 0;

				if (variant == 2 || variant == 6)
					CHECK(blas->pack(&wq, &err));
				if (variant == 4)
					wq.packed = NULL;
				for (size_t i = 0; i < (size_t) m * ldy; i++)
					y[i] = -1.0f;
				if (relu)
					CHECK(blas->gemm_s8_relu(&wq, m, x, ldx, b, y, ldy, &err));
				else
					CHECK(blas->gemm_s8(&wq, m, x, ldx, b, y, ldy, &err));
				for (int i = 0; i < m; i++)
					for (int j = 0; j < n; j++)
					{
						float		g = y[(size_t) i * ldy + j],
									ev = e[(size_t) i * n + j];
						double		bound;

						if (relu)
						{
							/* max(v, 0) of the same bits; NaN and -0 to +0 */
							ev = ev > 0.0f ? ev : 0.0f;
							bad[bi] += memcmp(&g, &ev, sizeof(float)) != 0;
							continue;
						}
						if (memcmp(&g, &ev, sizeof(float)) != 0 && !(isnan(g) && isnan(ev)))
							bad[bi]++;
						if (m > 4 && i == 2)
						{
							bad[bi] += !isnan(g);
							continue;
						}
						/* and it is the product, within the quantization error */
						bound = sx[i] * w1[j] + x1[i] * wq.scale[j] * 0.5 +
							k * (double) sx[i] * wq.scale[j];
						if (!close_to(g, ref[(size_t) i * n + j] + (b ? b[j] : 0),
									  bound * 1.01 + 1e-6 * mag[(size_t) i * n + j] + 1e-6))
							far[bi]++;
					}
				cases[bi]++;
			}
		}
	}
	for (int bi = 0; bi < N_BACKENDS; bi++)
		if (ran[bi])
		{
			printf("    %-6s gemm_s8: %d cases, %d elements not bit-exact, %d beyond the bound\n",
				   backends[bi].name, cases[bi], bad[bi], far[bi]);
			CHECK(bad[bi] == 0);
			CHECK(far[bi] == 0);
		}
	use_backend(N_BACKENDS - 1);
}

static void
test_dense_errors(void)
{
	MaasError	err;
	float		x[4] = {1, 2, 3, 4},
				y[4];
	float		wf[4] = {1, 1, 1, 1};
	MaasWeights w = {.type = MAAS_W_F32, .n = 2, .k = 2, .data = wf};
	MaasWeights big;
	int8_t		q[2] = {1, 1};
	float		sc[1] = {1};
	int32_t		sum[1] = {2};

	CHECK_ERR(blas->gemm_s8(&w, 1, x, 2, NULL, y, 2, &err), err.msg, "weights are not of type int8");
	CHECK(err.status == MAAS_ERR_INVALID);
	CHECK_ERR(blas->gemm_bf16(&w, 1, x, 2, NULL, y, 2, &err), err.msg, "not of type bf16");
	CHECK_ERR(blas->gemm_f32(&w, 1, x, 1, NULL, y, 2, &err), err.msg, "ldx 1 for 2 inputs");
	CHECK_ERR(blas->gemm_f32(&w, 1, x, 2, NULL, y, 1, &err), err.msg, "ldy 1 for 2 outputs");
	CHECK_ERR(blas->gemm_f32(&w, -1, x, 2, NULL, y, 2, &err), err.msg, "-1 rows");
	CHECK(blas->gemm_f32(&w, 0, NULL, 2, NULL, NULL, 2, &err));
	big = (MaasWeights) {.type = MAAS_W_S8, .n = 1, .k = MAAS_S8_MAX_K + 1, .data = q,
	.scale = sc, .sum = sum};
	CHECK_ERR(blas->gemm_s8(&big, 1, x, MAAS_S8_MAX_K + 1, NULL, y, 1, &err), err.msg,
			  "at most 65536 inputs, not 65537");
	CHECK(err.status == MAAS_ERR_LIMIT);
	big.k = 2;
	big.sum = NULL;
	CHECK_ERR(blas->gemm_s8(&big, 1, x, 2, NULL, y, 1, &err), err.msg, "without scales or sums");
	w.type = (MaasWeightType) 9;
	CHECK_ERR(maas_dense(blas, &w, 1, x, 2, NULL, y, 2, &err), err.msg, "unknown weight type 9");

	/*
	 * out of memory in scratch is an error, not a crash: 17 rows of 4096
	 * inputs quantize in blocks of 16 rows, 64 kB, beyond the stack's share
	 */
	{
		float	   *wx = rnd_vec(2 * 4096),
				   *xx = rnd_vec(17 * 4096),
				   *yy = maas_kalloc(sizeof(float) * 17 * 2);
		MaasWeights w8;

		CHECK(maas_quantize_weights_s8(wx, 2, 4096, &w8, &err));
		arena_fail_after(0);
		CHECK_ERR(blas->gemm_s8(&w8, 17, xx, 4096, NULL, yy, 2, &err), err.msg, "out of memory");
		CHECK(err.status == MAAS_ERR_NOMEM);
		arena_fail_after(-1);
	}
}

/*
 * One row through each dense entry point allocates nothing (the per-row
 * serving path runs in a context that is not reset per row), on every
 * backend, packed or not, for a large and a small layer.
 */
static void
test_row_allocates_nothing(void)
{
	static const int sizes[][2] = {{512, 784}, {10, 512}};
	MaasError	err;

	for (int bi = 0; bi < N_BACKENDS; bi++)
	{
		if (!use_backend(bi))
			continue;
		for (int s = 0; s < 2; s++)
		{
			int			n = sizes[s][0],
						k = sizes[s][1];
			float	   *x = rnd_vec(k),
					   *w = rnd_vec((size_t) n * k),
					   *b = rnd_vec(n),
					   *y = maas_kalloc(sizeof(float) * n);
			MaasWeights wt[3];

			wt[0] = (MaasWeights) {.type = MAAS_W_F32, .n = n, .k = k, .data = w};
			CHECK(maas_weights_bf16(w, n, k, &wt[1], &err));
			CHECK(maas_quantize_weights_s8(w, n, k, &wt[2], &err));
			for (int packed = 0; packed < 2; packed++)
				for (int t = 0; t < 3; t++)
				{
					size_t		before;

					if (packed)
						CHECK(blas->pack(&wt[t], &err));
					/* the first call may make a primitive; the next must not allocate */
					CHECK(maas_dense(blas, &wt[t], 1, x, k, b, y, n, &err));
					before = arena_in_use();
					CHECK(maas_dense(blas, &wt[t], 1, x, k, b, y, n, &err));
					if (arena_in_use() != before)
						printf("    %s: one row of type %d, %dx%d%s allocated %zu bytes\n",
							   backends[bi].name, t, n, k, packed ? " packed" : "",
							   arena_in_use() - before);
					CHECK(arena_in_use() == before);
				}
		}
	}
	use_backend(N_BACKENDS - 1);
}

/* ---- selection with features forced off ---- */

/*
 * The features each choice executes must all be enabled; with blas_core,
 * the BLAS library's core too (only a fresh load can choose it).
 */
static int
check_choice(const MaasBlasInfo *in, bool blas_core)
{
	MaasCpuMask f = maas_cpu_features();
	int			bad = 0;

	for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
	{
		const MaasBlasOpInfo *o = &in->ops[i];

		if (strcmp(o->backend, "maas") == 0)
		{
			const MaasKernel *tables[3] = {maas_s8_kernels, maas_bf16_row_kernels,
			maas_f32_row_kernels};
			bool		found = strncmp(o->kernel, "bf16 to f32", 11) == 0;

			for (int t = 0; t < 3; t++)
				for (const MaasKernel *k = tables[t]; k->name; k++)
					if (strcmp(k->name, o->kernel) == 0 &&
						((t == 0) == (strstr(o->op, "s8") != NULL)))
					{
						found = true;
						if ((k->needs & f) != k->needs)
						{
							printf("    %s runs %s, which needs disabled features\n", o->op, k->name);
							bad++;
						}
					}
			if (!found)
				bad++;
		}
		else if (strcmp(o->backend, "onednn") == 0 && !maas_dnn_fits(f))
		{
			printf("    %s runs oneDNN beyond the enabled features\n", o->op);
			bad++;
		}
	}
	if (blas_core && in->blas_core[0] != '\0')
		for (size_t c = 0; c < sizeof(cores) / sizeof(cores[0]); c++)
			if (strcasecmp(in->blas_core, cores[c].core) == 0 && (cores[c].needs & f) != cores[c].needs)
			{
				printf("    OpenBLAS core %s needs disabled features\n", in->blas_core);
				bad++;
			}
	return bad;
}

/* a small run of each operation, checked; the number of wrong results */
static int
run_all_ops(void)
{
	int			m = 9,
				n = 17,
				k = 70;
	float	   *x = rnd_vec((size_t) m * k),
			   *w = rnd_vec((size_t) n * k),
			   *y = maas_kalloc(sizeof(float) * m * n),
			   *want = maas_kalloc(sizeof(float) * m * n),
			   *sx = maas_kalloc(sizeof(float) * m);
	double	   *ref = maas_kalloc(sizeof(double) * m * n),
			   *mag = maas_kalloc(sizeof(double) * m * n);
	MaasWeights wq,
				wb;
	MaasError	err;
	int			bad = 0;

	for (int rows = 1; rows <= m; rows += m - 1)
	{
		dense_ref(rows, n, k, x, k, w, NULL, ref, mag);
		blas->sgemm(RM, NT, TR, rows, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
		for (int i = 0; i < rows * n; i++)
			bad += !close_to(y[i], ref[i], (k + 2) * 0x1p-24 * mag[i]);
		if (!maas_quantize_weights_s8(w, n, k, &wq, &err) ||
			!blas->gemm_s8(&wq, rows, x, k, NULL, y, n, &err))
			bad++;
		s8_expected(&wq, rows, x, k, NULL, want, NULL, sx);
		bad += memcmp(y, want, sizeof(float) * rows * n) != 0;
		if (!maas_weights_bf16(w, n, k, &wb, &err) ||
			!blas->gemm_bf16(&wb, rows, x, k, NULL, y, n, &err))
			bad++;
		for (int i = 0; i < rows * n; i++)
			bad += !close_to(y[i], ref[i], 0x1p-7 * mag[i] + 1e-6);
	}
	return bad;
}

/*
 * A fresh process (this binary again, so that nothing is loaded yet) that
 * runs child_main() with these arguments; returns its exit status, and
 * what it wrote to stdout in out when out is not NULL.
 */
static const char *self_path;

static int
run_child(const char *what, const char *arg, char *out, size_t outlen)
{
	int			fd[2];
	pid_t		pid;
	int			st;

	if (out != NULL && pipe(fd) != 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
	{
		if (out != NULL)
		{
			dup2(fd[1], 1);
			close(fd[0]);
			close(fd[1]);
		}
		execl(self_path, self_path, what, arg, (char *) NULL);
		_exit(127);
	}
	if (out != NULL)
	{
		size_t		got = 0;
		ssize_t		r;

		close(fd[1]);
		while (got + 1 < outlen && (r = read(fd[0], out + got, outlen - 1 - got)) > 0)
			got += r;
		out[got] = '\0';
		close(fd[0]);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* the child of test_pretend_older_cpus: load with these features off */
static int
child_pretend(const char *disable)
{
	MaasCpuMask mask;
	MaasError	err;
	const MaasBlasInfo *in;
	int			bad;

	if (!maas_cpu_parse_features(disable, &mask, &err))
		return 3;
	blas = open_with(MAAS_BACKEND_AUTO, mask, 1, &err);
	if (blas == NULL)
	{
		printf("    child: %s\n", err.msg);
		return 1;
	}
	in = maas_blas_info(true);
	bad = check_choice(in, true);
	if (in->onednn_loaded && strcmp(in->onednn_isa, maas_dnn_isa_for(maas_cpu_features())) != 0)
		bad++;
	if (in->blas_core[0] && strcasecmp(in->blas_core, expected_core(maas_cpu_features())) != 0)
		bad++;
	bad += run_all_ops();
	printf("    without %-18s blas %-11s onednn %-17s int8 %s %s, bf16 row %s %s, f32 row %s %s: %d wrong\n",
		   disable, in->blas_core, in->onednn_loaded ? in->onednn_isa : in->onednn_status,
		   in->ops[MAAS_GEMM_S8_ROWS].backend, in->ops[MAAS_GEMM_S8_ROWS].kernel,
		   in->ops[MAAS_GEMM_BF16_ROW].backend, in->ops[MAAS_GEMM_BF16_ROW].kernel,
		   in->ops[MAAS_GEMM_F32_ROW].backend, in->ops[MAAS_GEMM_F32_ROW].kernel, bad);
	return bad == 0 ? 0 : 2;
}

/* the child of test_openblas_detection: OpenBLAS with nothing set */
static int
child_detect(void)
{
	void	   *h;
	char	   *(*core) (void);

	unsetenv("OPENBLAS_CORETYPE");
	setenv("OPENBLAS_NUM_THREADS", "1", 1);
	h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
	core = h ? (char *(*) (void)) dlsym(h, "openblas_get_corename") : NULL;
	if (core == NULL)
		return 1;
	printf("%s", core());
	return 0;
}

static void
pretend(const char *disable)
{
	int			st = run_child("--pretend", disable, NULL, 0);

	if (st != 0)
		printf("    child without %s: status %d\n", disable, st);
	CHECK(st == 0);
}

static void
test_pretend_older_cpus(void)
{
	static const char *const masks[] = {
		"amx", "amx, avx512_bf16", "vnni", "avx512", "avx512, avx_vnni",
		"avx2", "avx", "all",
	};

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++)
		pretend(masks[i]);
}

/* after loading: maas's kernels follow a new mask, oneDNN steps aside */
static void
test_mask_after_load(void)
{
	static const char *const masks[] = {"amx", "avx512", "avx2", "all", ""};
	MaasError	err;

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++)
	{
		MaasCpuMask mask;
		const MaasBlasInfo *in;

		CHECK(maas_cpu_parse_features(masks[i], &mask, &err));
		blas = open_with(MAAS_BACKEND_AUTO, mask, 1, &err);
		CHECK(blas != NULL);
		in = maas_blas_info(false);
		/* OpenBLAS keeps the core it was loaded with (blas.h says so) */
		CHECK(check_choice(in, false) == 0);
		CHECK(strcasecmp(in->blas_core, in->blas_coretype) == 0);
		if (maas_cpu_features() == maas_cpu()->usable)
			CHECK(in->cpu_disabled[0] == '\0');
		else
			CHECK(in->cpu_disabled[0] != '\0');
		/* bf16 and int8 stay right whatever runs them */
		{
			int			bad = run_all_ops();

			if (bad)
				printf("    after load, without %s: %d wrong\n", masks[i], bad);
			CHECK(bad == 0);
		}
		if (have_onednn && mask != 0 && !maas_dnn_fits(maas_cpu_features()))
		{
			CHECK_ERR(open_with(MAAS_BACKEND_ONEDNN, mask, 1, &err) != NULL, err.msg,
					  "which needs CPU features disabled since");
			CHECK(err.status == MAAS_ERR_UNSUPPORTED && err.hint != NULL);
		}
	}
	blas = open_with(MAAS_BACKEND_AUTO, 0, 1, &err);
}

/* Debian's OpenBLAS left to itself, in a child: what does it pick here? */
static void
test_openblas_detection(void)
{
	char		detected[64];
	const MaasBlasInfo *in = maas_blas_info(false);

	if (in->blas_core[0] == '\0')
	{
		printf("    skipped: the BLAS library is not OpenBLAS (%s)\n", in->blas_library);
		return;
	}
	CHECK(run_child("--detect", "", detected, sizeof(detected)) == 0);
	CHECK(detected[0] != '\0');
	printf("    OpenBLAS as detected: %s; with maas's OPENBLAS_CORETYPE: %s\n",
		   detected, in->blas_core);
	if (strcasecmp(detected, "prescott") == 0 && (maas_cpu_features() & B(AVX2)))
		printf("    the gap is real here: OpenBLAS does not know this CPU\n");
	CHECK(strcasecmp(in->blas_core, expected_core(maas_cpu_features())) == 0);
}

/* ---- threads ---- */

/* the signals PostgreSQL handles in a backend */
static const int pg_signals[] = {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGALRM, SIGUSR1,
SIGUSR2, SIGCHLD, SIGURG, SIGPIPE};

/* threads of this process other than this one, and those that block all of pg_signals */
static void
count_threads(int *others, int *blocked)
{
	DIR		   *d = opendir("/proc/self/task");
	struct dirent *e;

	*others = 0;
	*blocked = 0;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		char		path[300],
					line[256];
		FILE	   *f;
		unsigned long long mask = 0;

		if (e->d_name[0] == '.' || atoi(e->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "SigBlk:", 7) == 0)
				mask = strtoull(line + 7, NULL, 16);
		fclose(f);
		(*others)++;
		{
			bool		all = true;

			for (size_t s = 0; s < sizeof(pg_signals) / sizeof(pg_signals[0]); s++)
				if (!(mask & (1ull << (pg_signals[s] - 1))))
					all = false;
			*blocked += all;
		}
	}
	closedir(d);
}

static void
test_threads(void)
{
	MaasError	err;
	int			others,
				blocked;
	int			m = 256,
				n = 256,
				k = 256;
	float	   *x = rnd_vec((size_t) m * k),
			   *w = rnd_vec((size_t) n * k),
			   *y = maas_kalloc(sizeof(float) * m * n);
	double	   *ref = maas_kalloc(sizeof(double) * m * n),
			   *mag = maas_kalloc(sizeof(double) * m * n);
	int			bad = 0;
	MaasWeights wq;
	float	   *want = maas_kalloc(sizeof(float) * m * n),
			   *sx = maas_kalloc(sizeof(float) * m);

	blas = open_with(MAAS_BACKEND_AUTO, 0, 2, &err);
	CHECK(blas != NULL && blas->info->threads == 2);
	dense_ref(m, n, k, x, k, w, NULL, ref, mag);
	blas->sgemm(RM, NT, TR, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
	for (int i = 0; i < m * n; i++)
		bad += !close_to(y[i], ref[i], (k + 2) * 0x1p-24 * mag[i]);
	CHECK(maas_quantize_weights_s8(w, n, k, &wq, &err));
	CHECK(blas->gemm_s8(&wq, m, x, k, NULL, y, n, &err));
	s8_expected(&wq, m, x, k, NULL, want, NULL, sx);
	bad += memcmp(y, want, sizeof(float) * m * n) != 0;
	CHECK(bad == 0);

	count_threads(&others, &blocked);
	printf("    2 threads: %d library threads, %d of them with PostgreSQL's signals blocked\n",
		   others, blocked);
	CHECK(others >= 1);
	CHECK(blocked == others);

	blas = open_with(MAAS_BACKEND_AUTO, 0, 1, &err);
	CHECK(blas->info->threads == 1);
}

int
main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc == 3 && strcmp(argv[1], "--pretend") == 0)
		return child_pretend(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--detect") == 0)
		return child_detect();

	UNIT_RUN(test_load_and_info);
	UNIT_RUN(test_openblas_detection);
	UNIT_RUN(test_sgemm);
	UNIT_RUN(test_sgemm_large);
	UNIT_RUN(test_sgemv);
	UNIT_RUN(test_row_kernels);
	UNIT_RUN(test_gemm_f32);
	UNIT_RUN(test_gemm_bf16);
	UNIT_RUN(test_s8_kernels);
	UNIT_RUN(test_gemm_s8);
	UNIT_RUN(test_dense_errors);
	UNIT_RUN(test_row_allocates_nothing);
	UNIT_RUN(test_pretend_older_cpus);
	UNIT_RUN(test_mask_after_load);
	UNIT_RUN(test_threads);
	return unit_finish("gemm");
}
