/*
 * blas_int.h
 *		What blas.c (loading, choosing, the info, the entry points) and
 *		blas_dispatch.c (the calls the backend serves, packing) share: the
 *		implementations an operation can be given, the choice per operation,
 *		and the backend's state.  Internal to the matrix backend.
 */
#ifndef MAAS_BLAS_INT_H
#define MAAS_BLAS_INT_H

#include "blas.h"
#include "gemm.h"

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

/* the backend's state, one per process */
typedef struct BlasState
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
	bool		conv_dnn;		/* conv2d on oneDNN's primitive */
	MaasBlas	api;
	MaasBlasInfo info;
} BlasState;

extern BlasState blas_state;

/* blas_dispatch.c: the calls behind the MaasBlas table */
extern void blas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha,
					   const float *a, int lda, const float *b, int ldb,
					   float beta, float *c, int ldc);
extern void blas_sgemv(int order, int trans, int m, int n, float alpha,
					   const float *a, int lda, const float *x, int incx,
					   float beta, float *y, int incy);
extern bool blas_gemm_f32(const MaasWeights *w, int m, const float *x, int ldx,
						  const float *bias, float *y, int ldy, MaasError *err);
extern bool blas_gemm_bf16(const MaasWeights *w, int m, const float *x, int ldx,
						   const float *bias, float *y, int ldy, MaasError *err);
extern bool blas_gemm_s8(const MaasWeights *w, int m, const float *x, int ldx,
						 const float *bias, float *y, int ldy, MaasError *err);
extern bool blas_gemm_s8_relu(const MaasWeights *w, int m, const float *x, int ldx,
							  const float *bias, float *y, int ldy, MaasError *err);
extern bool blas_pack(MaasWeights *w, MaasError *err);
extern bool blas_conv2d(const struct MaasConv2d *p, int n, const float *inp,
						const float *weight, const float *bias, bool relu,
						float *out);
extern bool blas_conv2d_at(const struct MaasConv2d *p, int n, const float *inp,
						   const float *weight, const void *packed,
						   const float *bias, bool relu, float *out, int layout,
						   int thread);
extern bool blas_conv2d_pack(const struct MaasConv2d *p, const float *weight, bool bias,
							 bool relu, int layout, const void **packed, MaasError *err);
extern bool blas_conv2d_ready(void);
extern bool blas_conv2d_backward(const struct MaasConv2d *p, int n, const float *dout,
								 const float *inp, const float *weight, float *dinp,
								 float *dweight, float *dbias, int thread);

#endif							/* MAAS_BLAS_INT_H */
