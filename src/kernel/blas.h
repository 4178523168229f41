/*
 * blas.h
 *		The matrix backend: every GEMM/GEMV in maas goes through MaasBlas.
 *
 * One interface, several implementations, picked at run time in the
 * backend from the CPU's feature bits (cpu.h), never from a model number
 * and never at build time:
 *
 *	  blas     the BLAS library (OpenBLAS; maas.blas_library), opened with
 *			   OPENBLAS_CORETYPE set from the feature bits first, so that a
 *			   build that does not know the CPU (Debian's 0.3.21 on Sapphire
 *			   Rapids says "Prescott") still runs its AVX-512 kernels.  It
 *			   also provides LAPACK for the trainers.
 *	  onednn   oneDNN 2.x (libdnnl.so.2), when it is installed: dnnl_sgemm,
 *			   the matmul primitive for f32, bf16 and int8 (AMX, AVX-512
 *			   VNNI/BF16), its legacy u8s8s32 GEMM; its ISA capped to the
 *			   enabled features.
 *	  maas	   maas's own kernels (gemm_int8.c, gemm_bf16.c): int8 GEMM that
 *			   is bit-for-bit equal to a scalar reference (C, AVX2, AVX-VNNI,
 *			   AVX-512 VNNI), bf16 and f32 one-row kernels (AVX512-BF16,
 *			   AVX-512, AVX2, C), and the bf16 batch fallback (weights
 *			   widened, then sgemm).  Single-threaded.
 *
 * Which one runs is chosen per operation and shape class (MaasGemmOp: one
 * row or a batch; one row of a small layer) by a rule written from
 * measurements (see choose() in blas.c); the choice, the libraries'
 * versions and kernels are in maas_blas_info().  Small products run on
 * fewer OpenMP threads than the setting allows (a team costs more than
 * they take), and OpenMP threads wait passively.
 *
 * Libraries are opened with dlopen() on first use in a process.  With maas
 * in shared_preload_libraries the postmaster opens them (maas_blas_preload:
 * one thread, no pool), so every backend inherits them mapped, relocated
 * and initialized by fork; the threads are started by each backend that
 * wants more than one (maas.blas_threads).  Every library thread is created with all
 * signals blocked, so PostgreSQL's signal handlers only ever run in the
 * backend's own thread, and no library thread calls PostgreSQL.  Only the
 * calling thread uses this interface.  No PostgreSQL header here: the unit
 * tests use this file too.
 */
#ifndef MAAS_BLAS_H
#define MAAS_BLAS_H

#include "cpu.h"
#include "kernel.h"

/* row-major only; trans flags say whether the operand is transposed */
typedef void (*maas_sgemm_fn) (int order, int transa, int transb,
							   int m, int n, int k, float alpha,
							   const float *a, int lda, const float *b, int ldb,
							   float beta, float *c, int ldc);
typedef void (*maas_sgemv_fn) (int order, int trans, int m, int n, float alpha,
							   const float *a, int lda, const float *x, int incx,
							   float beta, float *y, int incy);

typedef void (*maas_dsyrk_fn) (int order, int uplo, int trans, int n, int k,
							   double alpha, const double *a, int lda,
							   double beta, double *c, int ldc);
/* LAPACK (Fortran calling convention, column-major), as OpenBLAS exports it */
typedef void (*maas_dpotrf_fn) (const char *uplo, const int *n, double *a,
								const int *lda, int *info);
typedef void (*maas_dpotrs_fn) (const char *uplo, const int *n, const int *nrhs,
								const double *a, const int *lda, double *b,
								const int *ldb, int *info);

/*
 * The weights of a dense layer, y = x W^T + b, in one of three types.
 * W is [n, k] row-major (n output channels of k inputs, torch's layout),
 * rows k elements apart.
 *
 *	 F32	data is float.
 *	 BF16	data is uint16_t, the upper half of a float (quantize.h converts).
 *	 S8		data is int8_t, symmetric per output channel: W[j, :] is
 *			data[j, :] * scale[j].  sum[j] = sum over k of data[j, k], for
 *			the zero-point compensation.  k <= MAAS_S8_MAX_K.
 *			maas_quantize_weights_s8() and maas_weights_s8() (quantize.h)
 *			fill it in.
 *
 * packed is NULL, or a copy of W in the layout the chosen backend runs
 * fastest, made by MaasBlas.pack() in the caller's memory context (kernel
 * memory: it goes when the model goes).  A packed copy made for another
 * backend or CPU setting is ignored, never misread.
 */
typedef enum MaasWeightType
{
	MAAS_W_F32,
	MAAS_W_BF16,
	MAAS_W_S8
} MaasWeightType;

typedef struct MaasWeights
{
	MaasWeightType type;
	int			n;				/* output channels */
	int			k;				/* inputs */
	const void *data;			/* [n, k] */
	const float *scale;			/* S8: [n] */
	const int32_t *sum;			/* S8: [n] */
	const void *packed;			/* NULL or made by pack() */
} MaasWeights;

/*
 * int8 products accumulate in int32 without overflow for k <= 2^16: the
 * activations are u8 (0..255 after the zero point), the weights s8
 * (-128..127), so |sum| <= 255 * 128 * 65536 = 2,139,095,040 < 2^31 - 1.
 */
#define MAAS_S8_MAX_K		65536

/*
 * y[m, n] = x[m, k] W^T + bias, for weights of one type; bias may be NULL;
 * y is overwritten, and must not overlap x (int8 puts its integer products
 * there before it dequantizes them in place).  m may be 0.  Returns false with err set only for bad
 * arguments (MAAS_ERR_INVALID: a type mismatch, ldx < k, ...;
 * MAAS_ERR_LIMIT: int8 with k > MAAS_S8_MAX_K) and out of memory.  Scratch
 * comes from the stack while it fits in 16 kB (one row of any layer up to
 * about 3000 x 3000 allocates nothing) and from maas_kalloc beyond (bf16
 * needs 2 m k bytes on oneDNN, 256 k floats widened; int8 quantizes blocks
 * of 16 to 64 rows on the stack, and allocates 16 k bytes only when k is
 * over 2048 and m over 32768 / k): call it in a memory context that is
 * reset per batch.  A oneDNN failure falls back to another backend and
 * is counted in the info, never returned.
 *
 * gemm_s8 quantizes each row of x to u8 with its own scale and zero point
 * (min and max of the row, 0 included), multiplies in integers (int32
 * accumulation, exact), and dequantizes:
 *		y[i, j] = (float) (acc[i, j] - zero[i] * sum[j]) * (sx[i] * scale[j])
 *				  + bias[j]
 * with acc the exact integer dot product.  Every backend computes acc
 * exactly and shares the quantizer and this last step, so the result is
 * bit-for-bit the same whichever backend runs.  A row of x holding NaN or
 * infinity gives a row of NaN.
 *
 * gemm_bf16 computes in float with bf16 weights; where it runs on bf16
 * instructions (AMX, AVX512-BF16) the activations are rounded to bf16 as
 * well, so each product carries a relative error up to 2^-8.
 */
struct MaasConv2d;

typedef bool (*maas_gemm_w_fn) (const MaasWeights *w, int m,
								const float *x, int ldx, const float *bias,
								float *y, int ldy, MaasError *err);

/* the operations, by shape class, that may each pick a backend */
typedef enum MaasGemmOp
{
	MAAS_GEMM_SGEMM,			/* f32 sgemm, m > 1 and n > 1 */
	MAAS_GEMM_SGEMV,			/* f32 sgemv, and sgemm with m or n = 1 */
	MAAS_GEMM_F32_ROWS,			/* gemm_f32, m > 1 */
	MAAS_GEMM_F32_ROW,			/* gemm_f32, m = 1 */
	MAAS_GEMM_BF16_ROWS,		/* gemm_bf16, m > 1 */
	MAAS_GEMM_BF16_ROW,			/* gemm_bf16, m = 1 */
	MAAS_GEMM_S8_ROWS,			/* gemm_s8, m > 1 */
	MAAS_GEMM_S8_ROW,			/* gemm_s8, m = 1 */
	MAAS_GEMM_N_OPS
} MaasGemmOp;

/* the setting maas.gemm_backend */
typedef enum MaasGemmBackend
{
	MAAS_BACKEND_AUTO,			/* per operation, by the measured rule */
	MAAS_BACKEND_BLAS,			/* f32 from the BLAS library, int8/bf16
								 * from maas's kernels */
	MAAS_BACKEND_ONEDNN			/* everything oneDNN can do (an error if it
								 * cannot be loaded) */
} MaasGemmBackend;

/* what was picked, for maas_blas_info() */
typedef struct MaasBlasOpInfo
{
	const char *op;				/* "sgemm", "sgemv", "gemm_s8 rows", ... */
	const char *backend;		/* "blas", "onednn" or "maas" */
	char		kernel[64];		/* "Cooperlake", "avx512_vnni", "matmul
								 * brg:avx512_core_amx_int8", ... */
	char		detail[128];	/* when another one runs, or "" */
} MaasBlasOpInfo;

typedef struct MaasBlasInfo
{
	/* the CPU */
	char		cpu_brand[49];
	int			cpu_family;
	int			cpu_model;
	char		cpu_features[320];	/* usable, less the disabled ones */
	char		cpu_disabled[320];	/* maas.cpu_features_disable */
	/* the BLAS library */
	char		blas_library[128];	/* the file opened */
	char		blas_version[128];	/* openblas_get_config(), or "" */
	char		blas_coretype[32];	/* OPENBLAS_CORETYPE maas set, or "" */
	char		blas_core[32];	/* openblas_get_corename(), or "" */
	/* oneDNN */
	bool		onednn_loaded;
	char		onednn_library[64];
	char		onednn_version[32]; /* "2.6.3" */
	char		onednn_isa[32];	/* the effective ISA: "avx512_core_amx" */
	char		onednn_runtime[16]; /* "omp", "tbb", "seq", ... */
	char		onednn_status[MAAS_ERRLEN]; /* why not loaded, or "" */
	long		onednn_failures;	/* calls that fell back, see blas.c */
	/* both opened by maas_blas_preload() in the postmaster, before fork */
	bool		preloaded;
	/* the choice */
	int			threads;
	const char *backend;		/* the setting: "auto", "blas", "onednn" */
	MaasBlasOpInfo ops[MAAS_GEMM_N_OPS];
	/* what runs the conv2d op at inference: "im2col", "onednn <impl>" */
	char		conv2d[176];
} MaasBlasInfo;

typedef struct MaasBlas
{
	maas_sgemm_fn sgemm;
	maas_sgemv_fn sgemv;
	void		(*set_num_threads) (int n);	/* NULL if the library has none */
	/* used by the trainers; NULL when the library lacks them */
	maas_dsyrk_fn dsyrk;
	maas_dpotrf_fn dpotrf;
	maas_dpotrs_fn dpotrs;

	/* dense layers: y = x W^T + b, by weight type (see above) */
	maas_gemm_w_fn gemm_f32;
	maas_gemm_w_fn gemm_bf16;
	maas_gemm_w_fn gemm_s8;
	maas_gemm_w_fn gemm_s8_relu;	/* gemm_s8, then max(y, 0), in one pass */

	/*
	 * Make w->packed for the backend gemm_* picks for w's type, when that
	 * backend has a faster layout; otherwise leave it NULL.  Allocates
	 * through maas_kalloc (call it in the model's memory context).
	 */
	bool		(*pack) (MaasWeights *w, MaasError *err);

	/*
	 * A 2-D convolution forward at inference (conv.h: p checked, NCHW
	 * rows, relu fused) on the backend's own convolution, oneDNN's
	 * primitive, when it runs it: false when it does not (no oneDNN,
	 * maas.gemm_backend 'blas', features disabled, a shape or failure it
	 * refused), and the caller computes it itself (im2col).
	 */
	bool		(*conv2d) (const struct MaasConv2d *p, int n, const float *inp,
						   const float *weight, const float *bias, bool relu,
						   float *out);

	/*
	 * conv2d with layouts and a thread: inp and out are NHWC rows (h, w,
	 * c) when layout has MAAS_CONV_IN_NHWC and MAAS_CONV_OUT_NHWC, else
	 * NCHW; packed is NULL or conv2d_pack's copy of weight.  thread -1 runs on the backend's threads as conv2d; thread t
	 * in [0, MAAS_CONV_SLOTS) on the calling thread alone, with
	 * primitives of slot t that only thread t of the layer runtime's
	 * tiles in parallel (net.c) uses, so that two threads run at once.
	 * Any other false: the caller computes it itself.
	 */
	bool		(*conv2d_at) (const struct MaasConv2d *p, int n, const float *inp,
							  const float *weight, const void *packed,
							  const float *bias, bool relu, float *out,
							  int layout, int thread);

	/*
	 * The weights of a conv2d run by conv2d_at with layout (and the ReLU,
	 * a bias or not) packed once, as a model is loaded, in the layout the
	 * backend's primitive for one row reads, so that a call does not copy
	 * them into it: in maas_kalloc memory (the model's), for conv2d_at's
	 * packed (NULL: none).  A call whose primitive reads another layout
	 * ignores them.  True with *packed NULL when there is nothing to pack;
	 * false with err set only on out of memory or a library failure.
	 */
	bool		(*conv2d_pack) (const struct MaasConv2d *p, const float *weight,
								bool bias, bool relu, int layout,
								const void **packed, MaasError *err);

	/*
	 * Whether conv2d runs on the backend now (oneDNN loaded, the backend
	 * not "blas", features allowing); opens it.  Call it on the backend's
	 * thread before conv2d_at on other threads.
	 */
	bool		(*conv2d_ready) (void);

	/*
	 * A 2-D convolution's backward pass in training (conv.h: p checked,
	 * NCHW rows), as maas_conv2d_backward: dweight and dbias (both
	 * required) and, when dinp is not NULL, the gradient at the input,
	 * overwritten; on oneDNN's backward primitives when it runs them.
	 * thread -1: on the backend's threads, from the backend's thread;
	 * thread t in [0, MAAS_CONV_SLOTS): on the calling thread alone, thread
	 * t of maas_parallel, with primitives of slot t (as conv2d_at), so
	 * that the threads each take a part of a mini-batch.  False when it
	 * does not (as conv2d), and the caller computes it itself.
	 */
	bool		(*conv2d_backward) (const struct MaasConv2d *p, int n, const float *dout,
									const float *inp, const float *weight, float *dinp,
									float *dweight, float *dbias, int thread);

	/* what is loaded and chosen; valid as long as this struct */
	const MaasBlasInfo *info;
} MaasBlas;

/*
 * Whether a 3x3 convolution of stride 1, undilated and ungrouped, runs on
 * oneDNN's Winograd primitive where it has one (true, the default), or
 * always on its direct one (maas.conv_algorithm).  A primitive is cached
 * with the choice it was made under.
 */
extern bool maas_dnn_conv_winograd;

/* MaasBlas.conv2d_at's layouts, and its threads at once */
#define MAAS_CONV_IN_NHWC	1
#define MAAS_CONV_OUT_NHWC	2
#define MAAS_CONV_SLOTS		4

/* CBLAS enum values, fixed by the CBLAS standard */
#define MAAS_CBLAS_ROW_MAJOR	101
#define MAAS_CBLAS_COL_MAJOR	102
#define MAAS_CBLAS_NO_TRANS		111
#define MAAS_CBLAS_TRANS		112
#define MAAS_CBLAS_UPPER		121
#define MAAS_CBLAS_LOWER		122

/* what the settings say; read on every maas_blas_open() */
typedef struct MaasBlasConfig
{
	const char *library;		/* maas.blas_library: a file name for
								 * dlopen(); NULL or "" for the default list
								 * (libopenblas.so.0, then libblas.so.3) */
	int			threads;		/* maas.blas_threads, for every library */
	MaasGemmBackend backend;	/* maas.gemm_backend */
	MaasCpuMask cpu_disable;	/* maas.cpu_features_disable, parsed with
								 * maas_cpu_parse_features() */
	const char *onednn_library; /* NULL: "libdnnl.so.2" */
} MaasBlasConfig;

/*
 * Open the libraries (first call only) and return the interface, or NULL
 * with err set (MAAS_ERR_LIBRARY: the BLAS library cannot be opened, or
 * backend is "onednn" and oneDNN cannot be).  A missing oneDNN is not an
 * error otherwise: maas_blas_info() says why it is not used.
 *
 * Settings that a library reads when it is loaded apply to the first call
 * only: the BLAS library file, OPENBLAS_CORETYPE and oneDNN's ISA cap
 * (both from the features less cpu_disable).  threads, backend and the
 * features maas's own kernels may use apply on every call; when features
 * are forced off after oneDNN was loaded with them, oneDNN is set aside
 * (backend "onednn" then fails with MAAS_ERR_UNSUPPORTED), while the BLAS
 * library keeps the core it was loaded with (cpu_disable is for tests and
 * for the DBA's postgresql.conf, before the first product).  Cheap when
 * nothing changed: call it before each use, as maas_get_blas() does.
 */
extern const MaasBlas *maas_blas_open(const MaasBlasConfig *config,
									  MaasError *err);

/*
 * The older entry point, kept for existing callers: maas_blas_open() with
 * the given library and threads, backend "auto", no feature disabled, and
 * the message of a failure in err[errlen].
 */
extern const MaasBlas *maas_blas_load(const char *library, int threads,
									  char *err, size_t errlen);

/*
 * What is loaded and chosen (the struct MaasBlas.info points to), brought
 * up to date.  With probe, each oneDNN matmul that is chosen first runs
 * once on a small shape (scratch from maas_kalloc; its primitive stays
 * cached), so that the kernel names are oneDNN's implementation names
 * ("brg:avx512_core_amx_int8") rather than its ISA.  NULL before the first
 * successful maas_blas_open().
 */
extern const MaasBlasInfo *maas_blas_info(bool probe);

/*
 * Products are about to run on the calling thread after another thread
 * ran them (the batch worker, then the backend again): give this thread
 * the thread count the interface was opened with.  One thread at a time
 * may run products; the caller takes turns, it never overlaps them, but
 * for oneDNN's float32 matmul, which the backend's thread and the batch
 * worker may run at once (gemm_onednn.c's slots; batch_pipeline.c).
 * (OpenBLAS's count is the process's; OpenMP's, oneDNN's, the thread's.)
 */
extern void maas_blas_bind_thread(void);

/* the calling thread's oneDNN products on at most threads threads (0: all) */
extern void maas_blas_cap_thread(int threads);

/*
 * maas_blas_open() for the postmaster, before it forks any backend: the
 * libraries are opened (dlopen, relocation, their constructors) with one
 * thread whatever config->threads says, so that neither OpenBLAS's pool
 * nor an OpenMP team exists to be forked.  With warm, oneDNN's one-time
 * work that does not depend on a model is done too, on one thread: its
 * dnnl_sgemm kernels (generated once per process), and a matmul of each
 * chosen kind on a small shape (as maas_blas_info's probe).  Scratch comes
 * from maas_kalloc.  OpenBLAS's buffers are left to the first product of
 * each backend (they are per process and written).  A backend then calls
 * maas_blas_open() as usual: nothing is opened again, its thread count and
 * choice are applied.  NULL with err set as maas_blas_open() does.
 */
extern const MaasBlas *maas_blas_preload(const MaasBlasConfig *config, bool warm,
										 MaasError *err);

/* which BLAS library was opened, or NULL */
extern const char *maas_blas_library(void);

/* maas.gemm_backend's values: "auto", "blas", "onednn" */
extern const char *maas_gemm_backend_name(MaasGemmBackend b);
extern bool maas_gemm_backend_from_name(const char *name, MaasGemmBackend *b);

/* a dense layer of any weight type */
static inline bool
maas_dense(const MaasBlas *blas, const MaasWeights *w, int m, const float *x,
		   int ldx, const float *bias, float *y, int ldy, MaasError *err)
{
	switch (w->type)
	{
		case MAAS_W_F32:
			return blas->gemm_f32(w, m, x, ldx, bias, y, ldy, err);
		case MAAS_W_BF16:
			return blas->gemm_bf16(w, m, x, ldx, bias, y, ldy, err);
		case MAAS_W_S8:
			return blas->gemm_s8(w, m, x, ldx, bias, y, ldy, err);
	}
	return maas_error(err, MAAS_ERR_INVALID, "unknown weight type %d", (int) w->type);
}

#endif							/* MAAS_BLAS_H */
