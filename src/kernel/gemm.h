/*
 * gemm.h
 *		Inside the matrix backend: maas's own kernels (gemm_int8.c,
 *		gemm_bf16.c) and the oneDNN backend (gemm_onednn.c), as blas.c
 *		dispatches to them and the unit tests check them one by one.
 *
 * Callers outside the backend use blas.h only.
 */
#ifndef MAAS_GEMM_H
#define MAAS_GEMM_H

#include "blas.h"
#include "cpu.h"
#include "kernel.h"

/*
 * A kernel variant: what it is called, the CPU features it executes, and
 * the function.  Tables list the variants best first and end with a
 * plain C one that needs nothing; *_pick() returns the first whose needs
 * are all in have.
 */
typedef struct MaasKernel
{
	const char *name;
	MaasCpuMask needs;
	void	   *fn;
} MaasKernel;

/*
 * Scratch for one call: from the caller's stack buffer while it lasts, so
 * that the one-row serving path allocates nothing, then maas_kalloc.  Every
 * block is 64-byte aligned.  NULL on overflow or no memory.
 */
#define MAAS_STACK_SCRATCH 16384

typedef struct MaasScratch
{
	char	   *buf;
	size_t		used;
	size_t		size;
} MaasScratch;

#define MAAS_SCRATCH_ON_STACK(name) \
	char		name##_buf[MAAS_STACK_SCRATCH] __attribute__((aligned(64))); \
	MaasScratch name = {name##_buf, 0, sizeof(name##_buf)}

static inline void *
maas_scratch(MaasScratch *s, size_t n, size_t size)
{
	size_t		bytes;

	if (!maas_mul_size(n, size, &bytes) || !maas_add_size(bytes, 63, &bytes))
		return NULL;
	bytes &= ~(size_t) 63;
	if (bytes <= s->size - s->used)
	{
		void	   *p = s->buf + s->used;

		s->used += bytes;
		return p;
	}
	{
		char	   *p = maas_kalloc(bytes + 64);

		return p ? (void *) (((uintptr_t) p + 63) & ~(uintptr_t) 63) : NULL;
	}
}

/* ---- int8 (gemm_int8.c) ---- */

/* c[i, j] = sum over k of a[i, :] * w[j, :], exactly (k <= MAAS_S8_MAX_K) */
typedef void (*MaasS8Fn) (int m, int n, int k, const uint8_t *a, size_t lda,
						  const int8_t *w, size_t ldw, int32_t *c, size_t ldc);

extern const MaasKernel maas_s8_kernels[];	/* ends with {NULL} */
extern const MaasKernel *maas_s8_pick(MaasCpuMask have);

/*
 * The last step every int8 backend shares (see gemm_s8 in blas.h):
 * y[i, j] = (float) (acc[i, j] - zero[i] * w->sum[j]) * (sx[i] *
 * w->scale[j]) + bias[j], then max(y, 0) with relu (NaN to 0, as the relu
 * layer does).  acc may be y itself, with ldacc == ldy.  Variants by CPU
 * (maas_s8_dequant_kernels, best first), all bit for bit the plain C one.
 */
typedef void (*MaasS8DequantFn) (int m, int n, const int32_t *acc, size_t ldacc,
								 const float *sx, const int32_t *zero,
								 const float *scale, const int32_t *sum,
								 const float *bias, bool relu,
								 float *y, size_t ldy);

extern const MaasKernel maas_s8_dequant_kernels[];	/* ends with {NULL} */

extern void maas_s8_dequantize(int m, const int32_t *acc, size_t ldacc,
							   const float *sx, const int32_t *zero,
							   const MaasWeights *w, const float *bias, bool relu,
							   float *y, size_t ldy);

/*
 * The integer product of a block of m quantized rows q (k = w->k bytes
 * each) into c [m, n], ldc apart: a kernel, or oneDNN.
 */
typedef void (*MaasS8Product) (void *ctx, int m, const uint8_t *q, int32_t *c,
							   size_t ldc);

/*
 * gemm_s8 in blocks of rows: each block quantized (maas_quantize_rows_u8),
 * multiplied by product into y's own memory as int32, and dequantized
 * there in one pass with the bias and, with relu, the activation.  Scratch
 * on the stack unless a block of 16 rows needs more than 32 kB.
 */
extern bool maas_s8_blocks(const MaasWeights *w, int m, const float *x, size_t ldx,
						   const float *bias, bool relu, float *y, size_t ldy,
						   MaasS8Product product, void *ctx, MaasError *err);

/* gemm_s8 on maas's kernel s8 (a maas_s8_kernels entry) */
extern bool maas_s8_gemm(const MaasKernel *s8, const MaasWeights *w, int m,
						 const float *x, size_t ldx, const float *bias, bool relu,
						 float *y, size_t ldy, MaasError *err);

/* ---- bf16 (gemm_bf16.c) ---- */

/* y[j] = sum over k of x[:] * bf16 w[j, :], for one row x */
typedef void (*MaasBf16RowFn) (int n, int k, const float *x,
							   const uint16_t *w, size_t ldw, float *y);

extern const MaasKernel maas_bf16_row_kernels[];	/* ends with {NULL} */
extern const MaasKernel *maas_bf16_row_pick(MaasCpuMask have);

/* ---- f32 (gemm_bf16.c: the same row kernels, f32 weights) ---- */

typedef void (*MaasF32RowFn) (int n, int k, const float *x,
							  const float *w, size_t ldw, float *y);

extern const MaasKernel maas_f32_row_kernels[];
extern const MaasKernel *maas_f32_row_pick(MaasCpuMask have);

/* ---- oneDNN (gemm_onednn.c) ---- */

typedef enum MaasDnnKind
{
	MAAS_DNN_F32,				/* f32 x f32 -> f32, + bias */
	MAAS_DNN_BF16,				/* bf16 x bf16 -> f32, + bias */
	MAAS_DNN_U8S8,				/* u8 x s8 -> s32 */
	MAAS_DNN_N_KINDS
} MaasDnnKind;

typedef struct MaasDnnInfo
{
	bool		loaded;
	char		library[64];
	char		version[32];
	char		isa[32];
	char		runtime[16];
	char		status[MAAS_ERRLEN];	/* why it is not loaded */
	int			max_isa;		/* dnnl_cpu_isa_t it was capped to */
	/* the implementation of the last matmul made, by kind and row class */
	char		impl[MAAS_DNN_N_KINDS][2][48];
} MaasDnnInfo;

/*
 * Open oneDNN (first call) with its ISA capped to what features allow, and
 * set its thread count.  Returns false with err set when it cannot be
 * opened; later calls then fail at once with the same message.
 */
extern bool maas_dnn_open(const char *library, int threads, MaasCpuMask features,
						  MaasError *err);
extern void maas_dnn_set_threads(int threads);
/* give the calling thread, if it is not the one that set them, the threads */
extern void maas_dnn_bind_thread(void);
/* the calling thread's products on at most threads threads (0: no cap) */
extern void maas_dnn_cap_thread(int threads);
extern const MaasDnnInfo *maas_dnn_info(void);

/* the ISA oneDNN would use with these features, as it names them */
extern const char *maas_dnn_isa_for(MaasCpuMask features);

/*
 * True when oneDNN is loaded and the ISA it was capped to at load needs no
 * feature outside features (which may have shrunk since, by the setting).
 */
extern bool maas_dnn_fits(MaasCpuMask features);

/*
 * dnnl_sgemm: row-major, c = alpha op(a) op(b) + beta c.  False when
 * oneDNN refused (the caller then runs the BLAS library).
 */
extern bool maas_dnn_sgemm(bool ta, bool tb, int m, int n, int k, float alpha,
						   const float *a, int lda, const float *b, int ldb,
						   float beta, float *c, int ldc);

/* dnnl_gemm_u8s8s32: c[m, n] = a[m, k] w[n, k]^T, exact */
extern bool maas_dnn_gemm_u8s8(int m, int n, int k, const uint8_t *a, int lda,
							   const int8_t *w, int ldw, int32_t *c, int ldc);

/*
 * The matmul primitive, cached by shape: c[m, n] = a[m, k] W^T (+ bias for
 * F32 and BF16), W given as w [n, k] row-major (packed NULL) or as packed
 * (made by maas_dnn_pack for the same kind, n and k).  a is f32, bf16 or
 * u8; c is f32 or s32, by kind.  False with err set when oneDNN failed.
 */
extern bool maas_dnn_matmul(MaasDnnKind kind, int m, int n, int k,
							const void *a, int lda, const void *w, int ldw,
							const void *packed, const float *bias,
							void *c, int ldc, MaasError *err);

/*
 * A copy of w [n, k] in the layout oneDNN's matmul prefers on this CPU
 * (maas_kalloc'd), or NULL with err set.
 */
extern const void *maas_dnn_pack(MaasDnnKind kind, int n, int k, const void *w,
								 int ldw, MaasError *err);

/* true when packed was made by maas_dnn_pack for kind, n, k in this process */
extern bool maas_dnn_packed_ok(const void *packed, MaasDnnKind kind, int n, int k);

/* drop every cached primitive, maas's and oneDNN's own (its primitive cache) */
extern void maas_dnn_cache_clear(void);

/* ---- oneDNN's convolution (gemm_onednn_conv.c) ---- */

/*
 * p (checked by maas_conv2d_check) forward at inference on n rows, as
 * maas_conv2d_forward_act, on oneDNN's convolution primitive with threads
 * OpenMP threads; relu fused as a post-op.  False when it did not run
 * (oneDNN not loaded, no primitive for the shape, a failure): the caller
 * then computes it itself.  Signals blocked for the call.
 */
struct MaasConv2d;
extern bool maas_dnn_conv2d(const struct MaasConv2d *p, int threads, int n,
							const float *inp, const float *weight,
							const float *bias, bool relu, float *out);
/*
 * The same with layouts (MaasBlas.conv2d_at) on slot, 0 to MAAS_CONV_SLOTS
 * - 1: the primitives a slot makes are its own and run only on the thread
 * that uses the slot (0: the backend's thread, which maas_dnn_conv_ready
 * must have opened the library on first).
 */
extern bool maas_dnn_conv2d_at(const struct MaasConv2d *p, int threads, int n,
							   const float *inp, const float *weight,
							   const void *packed, const float *bias, bool relu,
							   float *out, int layout, int slot);
/*
 * A conv2d's weights packed for the primitive of one row (threads,
 * layout, on slot 0, which it makes and keeps), in maas_kalloc memory, for
 * maas_dnn_conv2d_at's packed: read as they are by every primitive whose
 * weights layout is the same, ignored by the others.  True with *packed
 * NULL when there is nothing to pack (oneDNN not loaded, no primitive,
 * the plain layout); false only on out of memory or a failed reorder.
 */
extern bool maas_dnn_conv2d_pack(const struct MaasConv2d *p, int threads,
								 const float *weight, bool bias, bool relu,
								 int layout, const void **packed, MaasError *err);
/* opens the library for the convolution: false when it cannot run */
extern bool maas_dnn_conv_ready(void);
/* the implementations of the convolution primitives made so far, or "" */
extern const char *maas_dnn_conv_impl(void);
extern void maas_dnn_conv_clear(void);

/* ---- its backward primitives (gemm_onednn_convbwd.c) ---- */

/*
 * The backward pass of p on n NCHW rows, as maas_conv2d_backward: dweight
 * and dbias (both required) and, when dinp is not NULL, the gradient at
 * the input, all overwritten; on oneDNN's backward weights and data
 * primitives with threads OpenMP threads, cached by shape, on slot (0
 * to MAAS_CONV_SLOTS - 1; 0 the backend's thread, t thread t of
 * maas_parallel; each slot's primitives its own).  False when it did not
 * run (the caller computes it itself).  Signals blocked for the call.
 */
extern bool maas_dnn_conv2d_backward(const struct MaasConv2d *p, int threads, int n,
									 const float *dout, const float *inp,
									 const float *weight, float *dinp,
									 float *dweight, float *dbias, int slot);
extern void maas_dnn_conv_backward_clear(void);

#endif							/* MAAS_GEMM_H */
