/*
 * blas.c
 *		The matrix backend's loader and dispatcher (see blas.h).
 *
 * Loading.  On the first maas_blas_open() in a process the BLAS library is
 * opened with OPENBLAS_CORETYPE set to the best OpenBLAS core the enabled
 * features can run (coretype_for(): from feature bits only), and oneDNN is
 * opened if it is installed, its ISA capped the same way.  Both are opened,
 * and their threads started, with every signal blocked.
 *
 * Choosing.  choose() gives every operation (MaasGemmOp) an implementation,
 * from maas.gemm_backend, the enabled features and what loaded.  The rule
 * for "auto" was written from test/bench/gemm on a Sapphire Rapids class
 * Xeon (AVX-512, VNNI, BF16, AMX), OpenBLAS 0.3.21 and oneDNN 2.6; see the
 * comment above choose() for the figures it rests on.  A choice that needs
 * something a call does not have (packed weights, oneDNN accepting the
 * call) falls back to the op's second choice, which always works: the BLAS
 * library for f32, maas's kernels for bf16 and int8.  A oneDNN failure at
 * run time is counted in the info and never changes a result beyond the
 * op's precision (int8 results are identical on every path).
 */
#include "blas.h"
#include "gemm.h"
#include "quantize.h"
#include "signals.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B(f) MAAS_CPU_BIT(MAAS_CPU_##f)

typedef enum Impl
{
	IMPL_BLAS,					/* the BLAS library's cblas_sgemm/sgemv */
	IMPL_DNN_SGEMM,				/* dnnl_sgemm */
	IMPL_DNN_MATMUL,			/* the matmul primitive */
	IMPL_DNN_MATMUL_PACKED,		/* ... only with packed weights */
	IMPL_DNN_GEMM_U8S8,			/* dnnl_gemm_u8s8s32 */
	IMPL_MAAS,					/* a maas kernel */
	IMPL_MAAS_WIDEN				/* bf16 widened to f32, then sgemm */
} Impl;

typedef struct Choice
{
	Impl		first;
	Impl		second;			/* when first cannot take the call */
	const MaasKernel *kernel;	/* for IMPL_MAAS */
	bool		small_maas;		/* one row of a small layer: the kernel */
} Choice;

/*
 * A one-row product of fewer weights than this is a few hundred
 * nanoseconds of work, less than a library call costs; maas's own kernel
 * runs it (10x512: 0.25 us against 0.4-1.5 us in the libraries).
 */
#define ROW_SMALL 32768

static const char *const op_names[MAAS_GEMM_N_OPS] = {
	[MAAS_GEMM_SGEMM] = "sgemm",
	[MAAS_GEMM_SGEMV] = "sgemv",
	[MAAS_GEMM_F32_ROWS] = "gemm_f32 rows",
	[MAAS_GEMM_F32_ROW] = "gemm_f32 one row",
	[MAAS_GEMM_BF16_ROWS] = "gemm_bf16 rows",
	[MAAS_GEMM_BF16_ROW] = "gemm_bf16 one row",
	[MAAS_GEMM_S8_ROWS] = "gemm_s8 rows",
	[MAAS_GEMM_S8_ROW] = "gemm_s8 one row",
};

static struct
{
	void	   *handle;
	char		opened[128];
	maas_sgemm_fn lib_sgemm;
	maas_sgemv_fn lib_sgemv;
	void		(*lib_set_threads) (int);
	char	   *(*lib_corename) (void);
	char	   *(*lib_config) (void);
	bool		dnn;			/* oneDNN loaded */
	int			threads;
	MaasGemmBackend backend;
	MaasCpuMask features;		/* what choose() saw */
	Choice		op[MAAS_GEMM_N_OPS];
	MaasBlas	api;
	MaasBlasInfo info;
} S;

static const char *const default_libraries[] = {
	"libopenblas.so.0",
	"libblas.so.3",
	NULL
};

/* a string into a fixed buffer, cut to fit (the info's fields) */
static void __attribute__((format(printf, 3, 4)))
set_str(char *dst, size_t size, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
}

/* ---- settings ---- */

static const char *const backend_names[] = {
	[MAAS_BACKEND_AUTO] = "auto",
	[MAAS_BACKEND_BLAS] = "blas",
	[MAAS_BACKEND_ONEDNN] = "onednn",
};

const char *
maas_gemm_backend_name(MaasGemmBackend b)
{
	if ((int) b < 0 || (size_t) b >= sizeof(backend_names) / sizeof(backend_names[0]))
		return "unknown";
	return backend_names[b];
}

bool
maas_gemm_backend_from_name(const char *name, MaasGemmBackend *b)
{
	for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++)
		if (name != NULL && strcmp(name, backend_names[i]) == 0)
		{
			*b = (MaasGemmBackend) i;
			return true;
		}
	return false;
}

/*
 * The best core type OpenBLAS 0.3.21 knows for these features.  Newer
 * OpenBLAS releases know more (SapphireRapids from 0.3.22), but they also
 * detect those CPUs themselves; every release since 0.3.10 knows these.
 * OpenBLAS builds each core's kernels with that core's -march, so a core
 * is named only when every feature of that -march we track is usable.
 */
static const char *
coretype_for(MaasCpuMask f)
{
	if ((f & (MAAS_CPU_AVX512_CORE | B(AVX512_VNNI) | B(AVX512_BF16))) ==
		(MAAS_CPU_AVX512_CORE | B(AVX512_VNNI) | B(AVX512_BF16)))
		return "Cooperlake";
	if ((f & MAAS_CPU_AVX512_CORE) == MAAS_CPU_AVX512_CORE)
		return "SkylakeX";
	if ((f & (B(AVX2) | B(FMA) | B(F16C))) == (B(AVX2) | B(FMA) | B(F16C)))
		return "Haswell";
	if (f & B(AVX))
		return "Sandybridge";
	if (f & B(SSE42))
		return "Nehalem";
	if (f & B(SSSE3))
		return "Core2";
	return "Prescott";
}

/* ---- loading ---- */

static bool
open_blas(const char *library, int threads, MaasCpuMask features, MaasError *err)
{
	const char *const *names = default_libraries;
	const char *one[2] = {library, NULL};
	char		threads_env[16];
	const char *core = coretype_for(features);
	sigset_t	old;

	if (library != NULL && library[0] != '\0')
		names = one;

	/*
	 * OpenBLAS reads both when it is loaded: the core type (its own
	 * detection goes by model number and falls back to Prescott on CPUs it
	 * does not know), and the size of its thread pool.
	 */
	snprintf(threads_env, sizeof(threads_env), "%d", threads > 0 ? threads : 1);
	setenv("OPENBLAS_NUM_THREADS", threads_env, 1);
	setenv("OPENBLAS_CORETYPE", core, 1);
	set_str(S.info.blas_coretype, sizeof(S.info.blas_coretype), "%s", core);

	maas_block_signals(&old);
	for (; *names != NULL; names++)
	{
		S.handle = dlopen(*names, RTLD_NOW | RTLD_LOCAL);
		if (S.handle != NULL)
		{
			set_str(S.opened, sizeof(S.opened), "%s", *names);
			break;
		}
	}
	maas_restore_signals(&old);
	if (S.handle == NULL)
	{
		const char *why = dlerror();

		maas_error(err, MAAS_ERR_LIBRARY, "%s", why ? why : "no BLAS library found");
		return maas_error_hint(err, "Install libopenblas0 or set maas.blas_library.");
	}

	S.lib_sgemm = (maas_sgemm_fn) dlsym(S.handle, "cblas_sgemm");
	S.lib_sgemv = (maas_sgemv_fn) dlsym(S.handle, "cblas_sgemv");
	S.lib_set_threads = (void (*) (int)) dlsym(S.handle, "openblas_set_num_threads");
	S.lib_corename = (char *(*) (void)) dlsym(S.handle, "openblas_get_corename");
	S.lib_config = (char *(*) (void)) dlsym(S.handle, "openblas_get_config");
	S.api.dsyrk = (maas_dsyrk_fn) dlsym(S.handle, "cblas_dsyrk");
	S.api.dpotrf = (maas_dpotrf_fn) dlsym(S.handle, "dpotrf_");
	S.api.dpotrs = (maas_dpotrs_fn) dlsym(S.handle, "dpotrs_");
	if (S.lib_sgemm == NULL || S.lib_sgemv == NULL)
	{
		maas_error(err, MAAS_ERR_LIBRARY, "library \"%s\" has no cblas_sgemm or cblas_sgemv",
				   S.opened);
		dlclose(S.handle);
		S.handle = NULL;
		S.opened[0] = '\0';
		return false;
	}
	S.threads = threads > 0 ? threads : 1;

	set_str(S.info.blas_library, sizeof(S.info.blas_library), "%s", S.opened);
	if (S.lib_config)
		set_str(S.info.blas_version, sizeof(S.info.blas_version), "%s", S.lib_config());
	if (S.lib_corename)
	{
		const char *c = S.lib_corename();

		set_str(S.info.blas_core, sizeof(S.info.blas_core), "%s", c ? c : "");
	}
	return true;
}

static void
set_threads(int threads)
{
	sigset_t	old;

	if (threads < 1 || threads == S.threads)
		return;
	/* OpenBLAS may start threads here */
	maas_block_signals(&old);
	if (S.lib_set_threads)
		S.lib_set_threads(threads);
	maas_restore_signals(&old);
	if (S.dnn)
		maas_dnn_set_threads(threads);
	S.threads = threads;
}

/* ---- choosing ---- */

/*
 * The rule for "auto", per operation.  Interleaved A/B runs, thread CPU
 * time, one thread, on a Xeon of the Sapphire Rapids class (AVX-512, VNNI,
 * BF16, AMX) with OpenBLAS 0.3.21 and oneDNN 2.6, a shared machine (rough;
 * test/bench/gemm prints the whole table):
 *
 *	                 1024x512x784  1024x10x512  1x512x784   1x10x512
 *	 f32  openblas    89 GFLOP/s     28          37 us      0.41 us
 *	      dnnl_sgemm  96             48          38         0.50
 *	      matmul     105 (packed 108) 62 (73)   108 (31)    2.9 (1.5)
 *	      maas row     -              -          40         0.25
 *	 bf16 matmul     233 (packed 401) 180 (205)  56 (13)    1.9 (1.4)
 *	      maas row     -              -          24         0.27
 *	 int8 matmul     674 (packed 848) 402 (471)  30 (10)    1.0 (0.8)
 *	      gemm_u8s8  330             140          7.0       0.28
 *	      maas vnni   93              67         12         0.10
 *
 * So: batches go to the matmul primitive (packed weights when the caller
 * packed them), one row of a large layer to oneDNN's packed matmul (bf16,
 * f32) or its u8s8s32 GEMM (int8), one row of a small layer to maas's own
 * kernel; the CBLAS sgemm the trainers call goes to dnnl_sgemm (its
 * transposes and shapes vary too much for a primitive cache), and sgemv
 * stays on OpenBLAS, which ties with oneDNN there.
 *
 * oneDNN's int8 is used only with VNNI or AMX: without them it multiplies
 * with vpmaddubsw, which saturates at 16 bits, and the result would not be
 * exact.  Its bf16 is used only with AVX512-BF16 or AMX-BF16 (otherwise it
 * emulates).  On CPUs without AVX-512 the advantage has not been measured,
 * and f32 stays on the BLAS library (OpenBLAS's Haswell kernels).
 */
static void
choose(void)
{
	MaasCpuMask f = maas_cpu_features();

	/*
	 * oneDNN's ISA was capped when it was loaded; if features were forced
	 * off since, it may not run at all now.
	 */
	bool		dnn = S.dnn && maas_dnn_fits(f);
	const char *isa = dnn ? maas_dnn_info()->isa : "";
	bool		dnn512 = dnn && strncmp(isa, "avx512_core", 11) == 0;
	bool		dnn_int8 = dnn && (strcmp(isa, "avx512_core_vnni") == 0 ||
								   strcmp(isa, "avx512_core_bf16") == 0 ||
								   strcmp(isa, "avx512_core_amx") == 0 ||
								   strcmp(isa, "avx2_vnni") == 0);
	bool		dnn_bf16 = dnn && (strcmp(isa, "avx512_core_bf16") == 0 ||
								   strcmp(isa, "avx512_core_amx") == 0);
	const MaasKernel *s8 = maas_s8_pick(f);
	const MaasKernel *bf16 = maas_bf16_row_pick(f);
	const MaasKernel *f32 = maas_f32_row_pick(f);
	Choice	   *op = S.op;

	S.features = f;
	/* what works everywhere: the BLAS library, maas's kernels */
	for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
		op[i] = (Choice) {IMPL_BLAS, IMPL_BLAS, NULL, false};
	op[MAAS_GEMM_F32_ROW] = (Choice) {IMPL_MAAS, IMPL_BLAS, f32, true};
	op[MAAS_GEMM_BF16_ROWS] = (Choice) {IMPL_MAAS_WIDEN, IMPL_MAAS_WIDEN, NULL, false};
	op[MAAS_GEMM_BF16_ROW] = (Choice) {IMPL_MAAS, IMPL_MAAS, bf16, true};
	op[MAAS_GEMM_S8_ROWS] = (Choice) {IMPL_MAAS, IMPL_MAAS, s8, false};
	op[MAAS_GEMM_S8_ROW] = (Choice) {IMPL_MAAS, IMPL_MAAS, s8, true};

	switch (S.backend)
	{
		case MAAS_BACKEND_BLAS:
			op[MAAS_GEMM_F32_ROW] = (Choice) {IMPL_BLAS, IMPL_BLAS, NULL, false};
			op[MAAS_GEMM_BF16_ROW].small_maas = false;
			op[MAAS_GEMM_S8_ROW].small_maas = false;
			break;
		case MAAS_BACKEND_ONEDNN:
			if (!dnn)
				break;
			op[MAAS_GEMM_SGEMM].first = IMPL_DNN_SGEMM;
			op[MAAS_GEMM_SGEMV].first = IMPL_DNN_SGEMM;
			op[MAAS_GEMM_F32_ROWS].first = IMPL_DNN_MATMUL;
			op[MAAS_GEMM_F32_ROW] = (Choice) {IMPL_DNN_MATMUL_PACKED, IMPL_DNN_SGEMM, NULL, false};
			op[MAAS_GEMM_BF16_ROWS].first = IMPL_DNN_MATMUL;
			op[MAAS_GEMM_BF16_ROW] = (Choice) {IMPL_DNN_MATMUL, IMPL_MAAS, bf16, false};
			if (dnn_int8)
			{
				op[MAAS_GEMM_S8_ROWS].first = IMPL_DNN_MATMUL;
				op[MAAS_GEMM_S8_ROW] = (Choice) {IMPL_DNN_GEMM_U8S8, IMPL_MAAS, s8, false};
			}
			break;
		case MAAS_BACKEND_AUTO:
			if (dnn512)
			{
				op[MAAS_GEMM_SGEMM].first = IMPL_DNN_SGEMM;
				op[MAAS_GEMM_F32_ROWS] = (Choice) {IMPL_DNN_MATMUL, IMPL_BLAS, NULL, false};
				op[MAAS_GEMM_F32_ROW].first = IMPL_DNN_MATMUL_PACKED;
				op[MAAS_GEMM_F32_ROW].second = IMPL_MAAS;
			}
			if (dnn_bf16)
			{
				op[MAAS_GEMM_BF16_ROWS].first = IMPL_DNN_MATMUL;
				op[MAAS_GEMM_BF16_ROW].first = IMPL_DNN_MATMUL_PACKED;
			}
			if (dnn_int8)
			{
				op[MAAS_GEMM_S8_ROWS].first = IMPL_DNN_MATMUL;
				op[MAAS_GEMM_S8_ROW].first = IMPL_DNN_GEMM_U8S8;
			}
			break;
	}
}

static void
describe(MaasGemmOp i, MaasBlasOpInfo *o)
{
	const Choice *c = &S.op[i];
	const MaasDnnInfo *dni = maas_dnn_info();
	MaasDnnKind kind = (i == MAAS_GEMM_BF16_ROWS || i == MAAS_GEMM_BF16_ROW) ? MAAS_DNN_BF16 :
		(i == MAAS_GEMM_S8_ROWS || i == MAAS_GEMM_S8_ROW) ? MAAS_DNN_U8S8 : MAAS_DNN_F32;
	bool		row = i == MAAS_GEMM_SGEMV || i == MAAS_GEMM_F32_ROW ||
		i == MAAS_GEMM_BF16_ROW || i == MAAS_GEMM_S8_ROW;
	const char *impl = dni->impl[kind][row];

	o->op = op_names[i];
	switch (c->first)
	{
		case IMPL_BLAS:
			o->backend = "blas";
			set_str(o->kernel, sizeof(o->kernel), "%s",
					 S.info.blas_core[0] ? S.info.blas_core : S.opened);
			break;
		case IMPL_DNN_SGEMM:
			o->backend = "onednn";
			set_str(o->kernel, sizeof(o->kernel), "dnnl_sgemm %s", dni->isa);
			break;
		case IMPL_DNN_MATMUL:
		case IMPL_DNN_MATMUL_PACKED:
			o->backend = "onednn";
			set_str(o->kernel, sizeof(o->kernel), "matmul %s%s",
					 impl[0] ? impl : dni->isa,
					 c->first == IMPL_DNN_MATMUL_PACKED ? " (packed)" : "");
			break;
		case IMPL_DNN_GEMM_U8S8:
			o->backend = "onednn";
			set_str(o->kernel, sizeof(o->kernel), "dnnl_gemm_u8s8s32 %s", dni->isa);
			break;
		case IMPL_MAAS:
			o->backend = "maas";
			set_str(o->kernel, sizeof(o->kernel), "%s", c->kernel->name);
			break;
		case IMPL_MAAS_WIDEN:
			o->backend = "maas";
			set_str(o->kernel, sizeof(o->kernel), "bf16 to f32, then %s sgemm",
					 S.op[MAAS_GEMM_SGEMM].first == IMPL_BLAS ? "blas" : "onednn");
			break;
	}

	/* when something else runs */
	o->detail[0] = '\0';
	if (c->first == IMPL_DNN_MATMUL_PACKED || c->small_maas)
	{
		const char *second = c->second == IMPL_MAAS ? "maas" :
			c->second == IMPL_DNN_SGEMM ? "onednn dnnl_sgemm" : "blas";
		const char *kname = c->kernel ? c->kernel->name : "";

		if (c->first == IMPL_DNN_MATMUL_PACKED && c->small_maas)
			set_str(o->detail, sizeof(o->detail),
					"unpacked weights: %s %s; layers under %d weights: maas %s",
					second, c->second == IMPL_MAAS ? kname : "", ROW_SMALL, kname);
		else if (c->first == IMPL_DNN_MATMUL_PACKED)
			set_str(o->detail, sizeof(o->detail), "unpacked weights: %s %s", second,
					c->second == IMPL_MAAS ? kname : "");
		else if (c->first != IMPL_MAAS)
			set_str(o->detail, sizeof(o->detail), "layers under %d weights: maas %s",
					ROW_SMALL, kname);
	}
	else if (c->first == IMPL_DNN_MATMUL)
		set_str(o->detail, sizeof(o->detail), "packed weights when pack() made them");
}

static void
refresh_info(void)
{
	const MaasCpu *cpu = maas_cpu();
	const MaasDnnInfo *dni = maas_dnn_info();
	MaasBlasInfo *in = &S.info;

	set_str(in->cpu_brand, sizeof(in->cpu_brand), "%s", cpu->brand);
	in->cpu_family = cpu->family;
	in->cpu_model = cpu->model;
	maas_cpu_format(maas_cpu_features(), in->cpu_features, sizeof(in->cpu_features));
	maas_cpu_format(maas_cpu_disabled() & cpu->usable, in->cpu_disabled, sizeof(in->cpu_disabled));
	in->onednn_loaded = dni->loaded;
	set_str(in->onednn_library, sizeof(in->onednn_library), "%s", dni->library);
	set_str(in->onednn_version, sizeof(in->onednn_version), "%s", dni->version);
	set_str(in->onednn_isa, sizeof(in->onednn_isa), "%s", dni->isa);
	set_str(in->onednn_runtime, sizeof(in->onednn_runtime), "%s", dni->runtime);
	set_str(in->onednn_status, sizeof(in->onednn_status), "%s", dni->status);
	in->threads = S.threads;
	in->backend = maas_gemm_backend_name(S.backend);
	for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
		describe((MaasGemmOp) i, &in->ops[i]);
}

/* ---- f32 ---- */

static bool
valid_trans(int t)
{
	return t == MAAS_CBLAS_NO_TRANS || t == MAAS_CBLAS_TRANS || t == 113;
}

static void
d_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha,
		const float *a, int lda, const float *b, int ldb,
		float beta, float *c, int ldc)
{
	MaasGemmOp op = (m == 1 || n == 1) ? MAAS_GEMM_SGEMV : MAAS_GEMM_SGEMM;

	/*
	 * oneDNN leaves C alone when k is 0, where BLAS scales it by beta:
	 * empty products go to the library.
	 */
	if (S.op[op].first == IMPL_DNN_SGEMM && valid_trans(ta) && valid_trans(tb) &&
		m > 0 && n > 0 && k > 0)
	{
		bool		ok = false;

		if (order == MAAS_CBLAS_ROW_MAJOR)
			ok = maas_dnn_sgemm(ta != MAAS_CBLAS_NO_TRANS, tb != MAAS_CBLAS_NO_TRANS,
								m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
		else if (order == MAAS_CBLAS_COL_MAJOR)
			ok = maas_dnn_sgemm(tb != MAAS_CBLAS_NO_TRANS, ta != MAAS_CBLAS_NO_TRANS,
								n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
		if (ok)
			return;
		S.info.onednn_failures++;
	}
	S.lib_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void
d_sgemv(int order, int trans, int m, int n, float alpha,
		const float *a, int lda, const float *x, int incx,
		float beta, float *y, int incy)
{
	if (S.op[MAAS_GEMM_SGEMV].first == IMPL_DNN_SGEMM && incx == 1 && incy == 1 &&
		valid_trans(trans) && m > 0 && n > 0 &&
		(order == MAAS_CBLAS_ROW_MAJOR || order == MAAS_CBLAS_COL_MAJOR))
	{
		/*
		 * y as one row: y^T = x^T op(A)^T.  Row-major A is [m, n]; a
		 * column-major A is the row-major [n, m] matrix transposed.
		 */
		bool		t = trans != MAAS_CBLAS_NO_TRANS;
		bool		row = order == MAAS_CBLAS_ROW_MAJOR;
		int			ny = t ? n : m;
		int			nx = t ? m : n;

		if (maas_dnn_sgemm(false, row != t, 1, ny, nx, alpha, x, nx, a, lda,
						   beta, y, ny))
			return;
		S.info.onednn_failures++;
	}
	S.lib_sgemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

/* ---- the dense-layer entry points ---- */

static bool
check_dense(const MaasWeights *w, MaasWeightType type, int m, const float *x,
			int ldx, float *y, int ldy, MaasError *err)
{
	static const char *const names[] = {"f32", "bf16", "int8"};

	if (w == NULL || w->type != type)
		return maas_error(err, MAAS_ERR_INVALID, "weights are not of type %s", names[type]);
	if (w->n < 1 || w->k < 1 || w->data == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "weight shape [%d, %d] is empty", w->n, w->k);
	if (m < 0 || ldx < w->k || ldy < w->n)
		return maas_error(err, MAAS_ERR_INVALID,
						  "bad dense call: %d rows, ldx %d for %d inputs, ldy %d for %d outputs",
						  m, ldx, w->k, ldy, w->n);
	if (m > 0 && (x == NULL || y == NULL))
		return maas_error(err, MAAS_ERR_INVALID, "dense call without input or output");
	if (type == MAAS_W_S8)
	{
		if (w->k > MAAS_S8_MAX_K)
			return maas_error(err, MAAS_ERR_LIMIT,
							  "int8 weights may have at most %d inputs, not %d",
							  MAAS_S8_MAX_K, w->k);
		if (w->scale == NULL || w->sum == NULL)
			return maas_error(err, MAAS_ERR_INVALID, "int8 weights without scales or sums");
	}
	return true;
}

/* y rows = bias, so that a product can be added with beta 1 */
static float
fill_bias(int m, int n, const float *bias, float *y, int ldy)
{
	if (bias == NULL)
		return 0.0f;
	for (int i = 0; i < m; i++)
		memcpy(y + (size_t) i * ldy, bias, sizeof(float) * n);
	return 1.0f;
}

static void
add_bias(int n, const float *bias, float *y)
{
	if (bias != NULL)
		for (int j = 0; j < n; j++)
			y[j] += bias[j];
}

static bool
f32_blas(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
		 float *y, int ldy, bool dnn)
{
	float		beta = fill_bias(m, w->n, bias, y, ldy);

	if (dnn)
		return maas_dnn_sgemm(false, true, m, w->n, w->k, 1.0f, x, ldx, w->data, w->k,
							  beta, y, ldy);
	if (m == 1)
		S.lib_sgemv(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, w->n, w->k, 1.0f,
					w->data, w->k, x, 1, beta, y, 1);
	else
		S.lib_sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
					m, w->n, w->k, 1.0f, x, ldx, w->data, w->k, beta, y, ldy);
	return true;
}

static bool
run_f32(Impl impl, const Choice *c, const MaasWeights *w, int m, const float *x,
		int ldx, const float *bias, float *y, int ldy, MaasError *err)
{
	switch (impl)
	{
		case IMPL_DNN_MATMUL_PACKED:
			if (!maas_dnn_packed_ok(w->packed, MAAS_DNN_F32, w->n, w->k))
				return false;
			/* fall through */
		case IMPL_DNN_MATMUL:
			return maas_dnn_matmul(MAAS_DNN_F32, m, w->n, w->k, x, ldx, w->data, w->k,
								   w->packed, bias, y, ldy, err);
		case IMPL_DNN_SGEMM:
			return f32_blas(w, m, x, ldx, bias, y, ldy, true);
		case IMPL_MAAS:
			for (int i = 0; i < m; i++)
			{
				((MaasF32RowFn) (c->kernel ? c->kernel : maas_f32_row_pick(S.features))->fn)
					(w->n, w->k, x + (size_t) i * ldx,
												w->data, w->k, y + (size_t) i * ldy);
				add_bias(w->n, bias, y + (size_t) i * ldy);
			}
			return true;
		default:
			return f32_blas(w, m, x, ldx, bias, y, ldy, false);
	}
}

static bool
gemm_f32(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
		 float *y, int ldy, MaasError *err)
{
	const Choice *c;
	MaasError	e;

	if (!check_dense(w, MAAS_W_F32, m, x, ldx, y, ldy, err))
		return false;
	if (m == 0)
		return true;
	c = &S.op[m == 1 ? MAAS_GEMM_F32_ROW : MAAS_GEMM_F32_ROWS];
	if (m == 1 && c->small_maas && (size_t) w->n * w->k < ROW_SMALL)
		return run_f32(IMPL_MAAS, c, w, m, x, ldx, bias, y, ldy, err);
	e.status = MAAS_OK;
	if (run_f32(c->first, c, w, m, x, ldx, bias, y, ldy, &e))
		return true;
	if (e.status != MAAS_OK)
		S.info.onednn_failures++;
	e.status = MAAS_OK;
	if (run_f32(c->second, c, w, m, x, ldx, bias, y, ldy, &e))
		return true;
	if (e.status != MAAS_OK)
		S.info.onednn_failures++;
	return run_f32(IMPL_BLAS, c, w, m, x, ldx, bias, y, ldy, err);
}

/* ---- bf16 ---- */

/* output channels widened at a time by the batch fallback */
#define WIDEN_BLOCK 256

static bool
bf16_widen(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
		   float *y, int ldy, MaasError *err)
{
	int			nb = w->n < WIDEN_BLOCK ? w->n : WIDEN_BLOCK;
	float	   *wf = maas_kalloc_array((size_t) nb * (size_t) w->k, sizeof(float));
	float		beta = fill_bias(m, w->n, bias, y, ldy);

	if (wf == NULL)
		return maas_error_nomem(err);
	for (int j = 0; j < w->n; j += nb)
	{
		int			cnt = w->n - j < nb ? w->n - j : nb;

		maas_bf16_to_f32_n((const uint16_t *) w->data + (size_t) j * w->k,
						   (size_t) cnt * w->k, wf);
		d_sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
				m, cnt, w->k, 1.0f, x, ldx, wf, w->k, beta, y + j, ldy);
	}
	return true;
}

static bool
run_bf16(Impl impl, const Choice *c, const MaasWeights *w, int m, const float *x,
		 int ldx, const float *bias, float *y, int ldy, MaasError *err)
{
	switch (impl)
	{
		case IMPL_DNN_MATMUL:
		case IMPL_DNN_MATMUL_PACKED:
			{
				uint16_t   *xb;

				MAAS_SCRATCH_ON_STACK(sc);

				if (impl == IMPL_DNN_MATMUL_PACKED &&
					!maas_dnn_packed_ok(w->packed, MAAS_DNN_BF16, w->n, w->k))
					return false;
				xb = maas_scratch(&sc, (size_t) m * (size_t) w->k, sizeof(uint16_t));
				if (xb == NULL)
					return maas_error_nomem(err);
				for (int i = 0; i < m; i++)
					maas_f32_to_bf16_n(x + (size_t) i * ldx, w->k, xb + (size_t) i * w->k);
				return maas_dnn_matmul(MAAS_DNN_BF16, m, w->n, w->k, xb, w->k, w->data, w->k,
									   w->packed, bias, y, ldy, err);
			}
		case IMPL_MAAS:
			for (int i = 0; i < m; i++)
			{
				((MaasBf16RowFn) c->kernel->fn) (w->n, w->k, x + (size_t) i * ldx,
												 w->data, w->k, y + (size_t) i * ldy);
				add_bias(w->n, bias, y + (size_t) i * ldy);
			}
			return true;
		default:
			return bf16_widen(w, m, x, ldx, bias, y, ldy, err);
	}
}

static bool
gemm_bf16(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
		  float *y, int ldy, MaasError *err)
{
	const Choice *c;
	MaasError	e;

	if (!check_dense(w, MAAS_W_BF16, m, x, ldx, y, ldy, err))
		return false;
	if (m == 0)
		return true;
	c = &S.op[m == 1 ? MAAS_GEMM_BF16_ROW : MAAS_GEMM_BF16_ROWS];
	if (m == 1 && c->small_maas && (size_t) w->n * w->k < ROW_SMALL)
		return run_bf16(IMPL_MAAS, c, w, m, x, ldx, bias, y, ldy, err);
	e.status = MAAS_OK;
	if (run_bf16(c->first, c, w, m, x, ldx, bias, y, ldy, &e))
		return true;
	if (e.status == MAAS_ERR_NOMEM)
		return maas_error_nomem(err);
	if (e.status != MAAS_OK)
		S.info.onednn_failures++;
	return run_bf16(c->second, c, w, m, x, ldx, bias, y, ldy, err);
}

/* ---- int8 ---- */

/* rows a oneDNN int8 call quantizes at once (bounds its scratch) */
#define S8_DNN_ROWS 2048

static bool
s8_dnn(Impl impl, const MaasKernel *fallback, const MaasWeights *w, int m,
	   const float *x, int ldx, const float *bias, float *y, int ldy, MaasError *err)
{
	int			rows = m < S8_DNN_ROWS ? m : S8_DNN_ROWS;

	MAAS_SCRATCH_ON_STACK(sc);
	uint8_t    *q = maas_scratch(&sc, (size_t) rows, (size_t) w->k);
	int32_t    *acc = maas_scratch(&sc, (size_t) rows * (size_t) w->n, sizeof(int32_t));
	float	   *sx = maas_scratch(&sc, rows, sizeof(float));
	int32_t    *zero = maas_scratch(&sc, rows, sizeof(int32_t));
	const void *packed = maas_dnn_packed_ok(w->packed, MAAS_DNN_U8S8, w->n, w->k) ? w->packed : NULL;

	if (q == NULL || acc == NULL || sx == NULL || zero == NULL)
		return maas_error_nomem(err);
	for (int i = 0; i < m; i += rows)
	{
		int			mb = m - i < rows ? m - i : rows;
		bool		ok;
		MaasError	e;

		maas_quantize_rows_u8(mb, w->k, x + (size_t) i * ldx, ldx, q, w->k, sx, zero);
		if (impl == IMPL_DNN_GEMM_U8S8)
			ok = maas_dnn_gemm_u8s8(mb, w->n, w->k, q, w->k, w->data, w->k, acc, w->n);
		else
			ok = maas_dnn_matmul(MAAS_DNN_U8S8, mb, w->n, w->k, q, w->k, w->data, w->k,
								 packed, NULL, acc, w->n, &e);
		if (!ok)
		{
			/* the same integers from maas's kernel */
			S.info.onednn_failures++;
			((MaasS8Fn) fallback->fn) (mb, w->n, w->k, q, w->k, w->data, w->k, acc, w->n);
		}
		maas_s8_dequantize(mb, acc, w->n, sx, zero, w, bias, y + (size_t) i * ldy, ldy);
	}
	return true;
}

static bool
gemm_s8(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
		float *y, int ldy, MaasError *err)
{
	const Choice *c;

	if (!check_dense(w, MAAS_W_S8, m, x, ldx, y, ldy, err))
		return false;
	if (m == 0)
		return true;
	c = &S.op[m == 1 ? MAAS_GEMM_S8_ROW : MAAS_GEMM_S8_ROWS];
	if (c->first == IMPL_MAAS ||
		(m == 1 && c->small_maas && (size_t) w->n * w->k < ROW_SMALL))
		return maas_s8_gemm(c->kernel, w, m, x, ldx, bias, y, ldy, err);
	return s8_dnn(c->first, c->kernel, w, m, x, ldx, bias, y, ldy, err);
}

/* ---- packing ---- */

/* does op run w on the matmul primitive, which packed weights speed up? */
static bool
uses_matmul(MaasGemmOp op, const MaasWeights *w)
{
	const Choice *c = &S.op[op];
	bool		row = op == MAAS_GEMM_F32_ROW || op == MAAS_GEMM_BF16_ROW ||
		op == MAAS_GEMM_S8_ROW;

	if (row && c->small_maas && (size_t) w->n * w->k < ROW_SMALL)
		return false;
	return c->first == IMPL_DNN_MATMUL || c->first == IMPL_DNN_MATMUL_PACKED;
}

static bool
pack(MaasWeights *w, MaasError *err)
{
	MaasDnnKind kind;
	bool		want = false;

	if (w == NULL || w->n < 1 || w->k < 1 || w->data == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "weights to pack are empty");
	switch (w->type)
	{
		case MAAS_W_F32:
			kind = MAAS_DNN_F32;
			want = uses_matmul(MAAS_GEMM_F32_ROW, w) || uses_matmul(MAAS_GEMM_F32_ROWS, w);
			break;
		case MAAS_W_BF16:
			kind = MAAS_DNN_BF16;
			want = uses_matmul(MAAS_GEMM_BF16_ROW, w) || uses_matmul(MAAS_GEMM_BF16_ROWS, w);
			break;
		case MAAS_W_S8:
			kind = MAAS_DNN_U8S8;
			want = uses_matmul(MAAS_GEMM_S8_ROW, w) || uses_matmul(MAAS_GEMM_S8_ROWS, w);
			break;
		default:
			return maas_error(err, MAAS_ERR_INVALID, "unknown weight type %d", (int) w->type);
	}
	if (!want || maas_dnn_packed_ok(w->packed, kind, w->n, w->k))
		return true;
	w->packed = maas_dnn_pack(kind, w->n, w->k, w->data, w->k, err);
	return w->packed != NULL;
}

/* ---- the entry points ---- */

const MaasBlas *
maas_blas_open(const MaasBlasConfig *config, MaasError *err)
{
	int			threads = config->threads > 0 ? config->threads : 1;

	maas_cpu_set_disabled(config->cpu_disable);
	if (S.handle == NULL)
	{
		MaasCpuMask f = maas_cpu_features();
		MaasError	dnn_err;

		if (!open_blas(config->library, threads, f, err))
			return NULL;
		S.dnn = maas_dnn_open(config->onednn_library, threads, f, &dnn_err);

		S.api.sgemm = d_sgemm;
		S.api.sgemv = d_sgemv;
		S.api.set_num_threads = S.lib_set_threads;
		S.api.gemm_f32 = gemm_f32;
		S.api.gemm_bf16 = gemm_bf16;
		S.api.gemm_s8 = gemm_s8;
		S.api.pack = pack;
		S.api.info = &S.info;
		S.backend = (MaasGemmBackend) -1;
	}
	if (config->backend == MAAS_BACKEND_ONEDNN && !S.dnn)
	{
		maas_error(err, MAAS_ERR_LIBRARY, "oneDNN is not available: %s",
				   maas_dnn_info()->status);
		maas_error_hint(err, "Install libdnnl2, or set maas.gemm_backend to \"auto\".");
		return NULL;
	}
	if (config->backend == MAAS_BACKEND_ONEDNN && !maas_dnn_fits(maas_cpu_features()))
	{
		maas_error(err, MAAS_ERR_UNSUPPORTED,
				   "oneDNN was loaded for ISA \"%s\", which needs CPU features disabled since",
				   maas_dnn_info()->isa);
		maas_error_hint(err, "Set maas.cpu_features_disable before the first prediction of a session.");
		return NULL;
	}
	set_threads(threads);
	if (S.backend != config->backend || S.features != maas_cpu_features())
	{
		S.backend = config->backend;
		choose();
		refresh_info();
	}
	else
		S.info.threads = S.threads;
	return &S.api;
}

const MaasBlas *
maas_blas_load(const char *library, int threads, char *err, size_t errlen)
{
	MaasBlasConfig config = {.library = library, .threads = threads};
	MaasError	e;
	const MaasBlas *blas = maas_blas_open(&config, &e);

	if (blas == NULL)
		snprintf(err, errlen, "%s", e.msg);
	return blas;
}

const char *
maas_blas_library(void)
{
	return S.handle != NULL ? S.opened : NULL;
}

/*
 * Run each chosen oneDNN matmul once on a small shape, so that the info
 * names the implementation oneDNN picked (its primitive is made then).
 */
static void
probe(void)
{
	enum
	{
		PN = 64, PK = 64
	};
	float	   *x = maas_kalloc_array(PN * PK, sizeof(float));
	float	   *y = maas_kalloc_array(PN * PN, sizeof(float));
	void	   *w = maas_kalloc_array(PN * PK, sizeof(float));

	if (x == NULL || y == NULL || w == NULL)
		return;
	memset(x, 0, sizeof(float) * PN * PK);
	memset(w, 0, sizeof(float) * PN * PK);
	for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
	{
		Impl		f = S.op[i].first;
		int			m = (i == MAAS_GEMM_F32_ROW || i == MAAS_GEMM_BF16_ROW ||
						 i == MAAS_GEMM_S8_ROW) ? 1 : PN;
		MaasDnnKind kind = (i == MAAS_GEMM_BF16_ROWS || i == MAAS_GEMM_BF16_ROW) ? MAAS_DNN_BF16 :
		(i == MAAS_GEMM_S8_ROWS || i == MAAS_GEMM_S8_ROW) ? MAAS_DNN_U8S8 : MAAS_DNN_F32;
		MaasError	e;

		if (f == IMPL_DNN_MATMUL || f == IMPL_DNN_MATMUL_PACKED)
			(void) maas_dnn_matmul(kind, m, PN, PK, x, PK, w, PK, NULL, NULL, y, PN, &e);
	}
}

const MaasBlasInfo *
maas_blas_info(bool probe_first)
{
	if (S.handle == NULL)
		return NULL;
	if (probe_first && S.dnn)
		probe();
	refresh_info();
	return &S.info;
}
