/*
 * blas.c
 *		The matrix backend's loader, its choice per operation and its entry
 *		points (see blas.h); the calls themselves are in blas_dispatch.c.
 *
 * Loading.  On the first maas_blas_open() in a process the BLAS library is
 * opened with OPENBLAS_CORETYPE set to the best OpenBLAS core the enabled
 * features can run (coretype_for(): from feature bits only), and oneDNN is
 * opened if it is installed, its ISA capped the same way.  Both are opened,
 * and their threads started, with every signal blocked.  That first call
 * is maas_blas_preload() in the postmaster when maas is preloaded: one
 * thread (OPENBLAS_NUM_THREADS=1 starts no pool, and no OpenMP team is
 * started), and oneDNN's first kernels made on it (warm_up()), so that the
 * backends it forks inherit all of it; each then sets its own threads.
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
 * op's precision (int8 results are identical on every path).  The choices
 * are carried out in blas_dispatch.c; what the two files share is in
 * blas_int.h.
 */
#include "blas_int.h"
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

BlasState	blas_state;

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
	set_str(blas_state.info.blas_coretype, sizeof(blas_state.info.blas_coretype), "%s", core);

	maas_block_signals(&old);
	for (; *names != NULL; names++)
	{
		blas_state.handle = dlopen(*names, RTLD_NOW | RTLD_LOCAL);
		if (blas_state.handle != NULL)
		{
			set_str(blas_state.opened, sizeof(blas_state.opened), "%s", *names);
			break;
		}
	}
	maas_restore_signals(&old);
	if (blas_state.handle == NULL)
	{
		const char *why = dlerror();

		maas_error(err, MAAS_ERR_LIBRARY, "%s", why ? why : "no BLAS library found");
		return maas_error_hint(err, "Install libopenblas0 or set maas.blas_library.");
	}

	blas_state.lib_sgemm = (maas_sgemm_fn) dlsym(blas_state.handle, "cblas_sgemm");
	blas_state.lib_sgemv = (maas_sgemv_fn) dlsym(blas_state.handle, "cblas_sgemv");
	blas_state.lib_set_threads = (void (*) (int)) dlsym(blas_state.handle, "openblas_set_num_threads");
	blas_state.lib_corename = (char *(*) (void)) dlsym(blas_state.handle, "openblas_get_corename");
	blas_state.lib_config = (char *(*) (void)) dlsym(blas_state.handle, "openblas_get_config");
	blas_state.api.dsyrk = (maas_dsyrk_fn) dlsym(blas_state.handle, "cblas_dsyrk");
	blas_state.api.dpotrf = (maas_dpotrf_fn) dlsym(blas_state.handle, "dpotrf_");
	blas_state.api.dpotrs = (maas_dpotrs_fn) dlsym(blas_state.handle, "dpotrs_");
	if (blas_state.lib_sgemm == NULL || blas_state.lib_sgemv == NULL)
	{
		maas_error(err, MAAS_ERR_LIBRARY, "library \"%s\" has no cblas_sgemm or cblas_sgemv",
				   blas_state.opened);
		dlclose(blas_state.handle);
		blas_state.handle = NULL;
		blas_state.opened[0] = '\0';
		return false;
	}
	blas_state.threads = threads > 0 ? threads : 1;

	set_str(blas_state.info.blas_library, sizeof(blas_state.info.blas_library), "%s",
			blas_state.opened);
	if (blas_state.lib_config)
		set_str(blas_state.info.blas_version, sizeof(blas_state.info.blas_version), "%s",
				blas_state.lib_config());
	if (blas_state.lib_corename)
	{
		const char *c = blas_state.lib_corename();

		set_str(blas_state.info.blas_core, sizeof(blas_state.info.blas_core), "%s", c ? c : "");
	}
	return true;
}

static void
set_threads(int threads)
{
	sigset_t	old;

	if (threads < 1 || threads == blas_state.threads)
		return;
	/* OpenBLAS may start threads here */
	maas_block_signals(&old);
	if (blas_state.lib_set_threads)
		blas_state.lib_set_threads(threads);
	maas_restore_signals(&old);
	if (blas_state.dnn)
		maas_dnn_set_threads(threads);
	blas_state.threads = threads;
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
	bool		dnn = blas_state.dnn && maas_dnn_fits(f);
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
	Choice	   *op = blas_state.op;

	blas_state.features = f;
	/* the convolution primitive: any ISA oneDNN runs, unless 'blas' */
	blas_state.conv_dnn = dnn && blas_state.backend != MAAS_BACKEND_BLAS;
	/* what works everywhere: the BLAS library, maas's kernels */
	for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
		op[i] = (Choice) {IMPL_BLAS, IMPL_BLAS, NULL, false};
	op[MAAS_GEMM_F32_ROW] = (Choice) {IMPL_MAAS, IMPL_BLAS, f32, true};
	op[MAAS_GEMM_BF16_ROWS] = (Choice) {IMPL_MAAS_WIDEN, IMPL_MAAS_WIDEN, NULL, false};
	op[MAAS_GEMM_BF16_ROW] = (Choice) {IMPL_MAAS, IMPL_MAAS, bf16, true};
	op[MAAS_GEMM_S8_ROWS] = (Choice) {IMPL_MAAS, IMPL_MAAS, s8, false};
	op[MAAS_GEMM_S8_ROW] = (Choice) {IMPL_MAAS, IMPL_MAAS, s8, true};

	switch (blas_state.backend)
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
	const Choice *c = &blas_state.op[i];
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
					 blas_state.info.blas_core[0] ? blas_state.info.blas_core : blas_state.opened);
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
					 blas_state.op[MAAS_GEMM_SGEMM].first == IMPL_BLAS ? "blas" : "onednn");
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
	MaasBlasInfo *in = &blas_state.info;

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
	in->threads = blas_state.threads;
	in->backend = maas_gemm_backend_name(blas_state.backend);
	for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
		describe((MaasGemmOp) i, &in->ops[i]);
	if (!blas_state.conv_dnn)
		set_str(in->conv2d, sizeof(in->conv2d), "im2col");
	else
		set_str(in->conv2d, sizeof(in->conv2d), "onednn %s",
				maas_dnn_conv_impl()[0] ? maas_dnn_conv_impl() : "convolution");
}

/* ---- the entry points ---- */

const MaasBlas *
maas_blas_open(const MaasBlasConfig *config, MaasError *err)
{
	int			threads = config->threads > 0 ? config->threads : 1;

	maas_cpu_set_disabled(config->cpu_disable);
	if (blas_state.handle == NULL)
	{
		MaasCpuMask f = maas_cpu_features();
		MaasError	dnn_err;

		if (!open_blas(config->library, threads, f, err))
			return NULL;
		blas_state.dnn = maas_dnn_open(config->onednn_library, threads, f, &dnn_err);

		blas_state.api.sgemm = blas_sgemm;
		blas_state.api.sgemv = blas_sgemv;
		blas_state.api.set_num_threads = blas_state.lib_set_threads;
		blas_state.api.gemm_f32 = blas_gemm_f32;
		blas_state.api.gemm_bf16 = blas_gemm_bf16;
		blas_state.api.gemm_s8 = blas_gemm_s8;
		blas_state.api.gemm_s8_relu = blas_gemm_s8_relu;
		blas_state.api.pack = blas_pack;
		blas_state.api.conv2d = blas_conv2d;
		blas_state.api.conv2d_at = blas_conv2d_at;
		blas_state.api.conv2d_pack = blas_conv2d_pack;
		blas_state.api.conv2d_ready = blas_conv2d_ready;
		blas_state.api.conv2d_backward = blas_conv2d_backward;
		blas_state.api.info = &blas_state.info;
		blas_state.backend = (MaasGemmBackend) -1;
	}
	if (config->backend == MAAS_BACKEND_ONEDNN && !blas_state.dnn)
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
	if (blas_state.backend != config->backend || blas_state.features != maas_cpu_features())
	{
		blas_state.backend = config->backend;
		choose();
		refresh_info();
	}
	else
		blas_state.info.threads = blas_state.threads;
	return &blas_state.api;
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

void
maas_blas_bind_thread(void)
{
	if (blas_state.dnn)
		maas_dnn_bind_thread();
}

void
maas_blas_cap_thread(int threads)
{
	if (blas_state.dnn)
		maas_dnn_cap_thread(threads);
}

const char *
maas_blas_library(void)
{
	return blas_state.handle != NULL ? blas_state.opened : NULL;
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
		Impl		f = blas_state.op[i].first;
		int			m = (i == MAAS_GEMM_F32_ROW || i == MAAS_GEMM_BF16_ROW ||
						 i == MAAS_GEMM_S8_ROW) ? 1 : PN;
		MaasDnnKind kind = (i == MAAS_GEMM_BF16_ROWS || i == MAAS_GEMM_BF16_ROW) ? MAAS_DNN_BF16 :
		(i == MAAS_GEMM_S8_ROWS || i == MAAS_GEMM_S8_ROW) ? MAAS_DNN_U8S8 : MAAS_DNN_F32;
		MaasError	e;

		if (f == IMPL_DNN_MATMUL || f == IMPL_DNN_MATMUL_PACKED)
			(void) maas_dnn_matmul(kind, m, PN, PK, x, PK, w, PK, NULL, NULL, y, PN, &e);
	}
}

/*
 * oneDNN's work that a first product pays whatever the model: the
 * dnnl_sgemm kernels of both transposes of B, for one row and for several
 * (generated once per process and kept), the u8s8s32 GEMM's, and a matmul
 * of each chosen kind (probe()).  All on one thread: oneDNN runs a
 * one-thread call inline, without an OpenMP team.
 */
static void
warm_up(void)
{
	enum
	{
		WN = 64
	};
	float	   *a = maas_kalloc_array(WN * WN, sizeof(float));
	float	   *b = maas_kalloc_array(WN * WN, sizeof(float));
	float	   *c = maas_kalloc_array(WN * WN, sizeof(float));
	int32_t    *acc = maas_kalloc_array(WN * WN, sizeof(int32_t));
	static const int rows[] = {1, 8, WN};

	if (a == NULL || b == NULL || c == NULL || acc == NULL)
		return;
	memset(a, 0, sizeof(float) * WN * WN);
	memset(b, 0, sizeof(float) * WN * WN);
	for (int r = 0; r < (int) (sizeof(rows) / sizeof(rows[0])); r++)
		for (int tb = 0; tb < 2; tb++)
			(void) maas_dnn_sgemm(false, tb, rows[r], WN, WN, 1.0f, a, WN, b, WN,
								  0.0f, c, WN);
	for (int r = 0; r < (int) (sizeof(rows) / sizeof(rows[0])); r++)
		(void) maas_dnn_gemm_u8s8(rows[r], WN, WN, (const uint8_t *) a, WN,
								  (const int8_t *) b, WN, acc, WN);
	probe();
	/* the small shapes' primitives are of no use to a model */
	maas_dnn_cache_clear();
}

/*
 * The variables open_blas() and maas_dnn_open() set for the libraries to
 * read as they load: the postmaster puts its own back afterwards, so that
 * the processes it forks, and the programs they run, get the environment
 * the server was started with.
 */
static const char *const load_env[] = {
	"OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OMP_WAIT_POLICY"
};
#define N_LOAD_ENV ((int) (sizeof(load_env) / sizeof(load_env[0])))

const MaasBlas *
maas_blas_preload(const MaasBlasConfig *config, bool warm, MaasError *err)
{
	MaasBlasConfig one = *config;
	const MaasBlas *blas;
	char	   *saved[N_LOAD_ENV];
	bool		had[N_LOAD_ENV];

	for (int i = 0; i < N_LOAD_ENV; i++)
	{
		const char *v = getenv(load_env[i]);

		had[i] = v != NULL;
		saved[i] = had[i] ? strdup(v) : NULL;
	}
	/* no thread pool before fork: each backend starts its own */
	one.threads = 1;
	blas = maas_blas_open(&one, err);
	for (int i = 0; i < N_LOAD_ENV; i++)
	{
		if (saved[i] != NULL)
			setenv(load_env[i], saved[i], 1);
		else if (!had[i])
			unsetenv(load_env[i]);
		free(saved[i]);
	}
	if (blas == NULL)
		return NULL;
	blas_state.info.preloaded = true;
	/*
	 * oneDNN runs a one-thread call inline with OpenMP (and sequentially);
	 * another runtime (TBB, a thread pool) may start its workers: no
	 * warm-up then.
	 */
	if (warm && blas_state.dnn && maas_dnn_fits(maas_cpu_features()) &&
		(strcmp(maas_dnn_info()->runtime, "omp") == 0 ||
		 strcmp(maas_dnn_info()->runtime, "seq") == 0))
		warm_up();
	return blas;
}

const MaasBlasInfo *
maas_blas_info(bool probe_first)
{
	if (blas_state.handle == NULL)
		return NULL;
	if (probe_first && blas_state.dnn)
		probe();
	refresh_info();
	return &blas_state.info;
}
