/*
 * gemm_onednn_stub.c
 *		The oneDNN backend of a build without oneDNN 2.x's headers: every
 *		entry point says it is not there, so that the dispatcher
 *		(blas_dispatch.c) keeps to OpenBLAS and maas's own kernels.
 */
#include "gemm_onednn_int.h"

#ifndef MAAS_ONEDNN

#pragma GCC diagnostic ignored "-Wunused-parameter"

static const char not_built[] = "maas was built without the oneDNN 2.x headers (libdnnl-dev)";

bool
maas_dnn_open(const char *library, int threads, MaasCpuMask features, MaasError *err)
{
	(void) library;
	(void) threads;
	(void) features;
	maas_dnn_set_status(not_built);
	return maas_error(err, MAAS_ERR_UNSUPPORTED, "%s", not_built);
}

void
maas_dnn_set_threads(int threads)
{
	(void) threads;
}

void
maas_dnn_bind_thread(void)
{
}

void
maas_dnn_cap_thread(int threads)
{
	(void) threads;
}

bool
maas_dnn_sgemm(bool ta, bool tb, int m, int n, int k, float alpha,
			   const float *a, int lda, const float *b, int ldb,
			   float beta, float *c, int ldc)
{
	return false;
}

bool
maas_dnn_gemm_u8s8(int m, int n, int k, const uint8_t *a, int lda,
				   const int8_t *w, int ldw, int32_t *c, int ldc)
{
	return false;
}

bool
maas_dnn_matmul(MaasDnnKind kind, int m, int n, int k,
				const void *a, int lda, const void *w, int ldw,
				const void *packed, const float *bias,
				void *c, int ldc, MaasError *err)
{
	return maas_error(err, MAAS_ERR_UNSUPPORTED, "%s", not_built);
}

const void *
maas_dnn_pack(MaasDnnKind kind, int n, int k, const void *w, int ldw, MaasError *err)
{
	maas_error(err, MAAS_ERR_UNSUPPORTED, "%s", not_built);
	return NULL;
}

bool
maas_dnn_packed_ok(const void *packed, MaasDnnKind kind, int n, int k)
{
	return false;
}

void
maas_dnn_cache_clear(void)
{
}
#else
/* built with oneDNN: gemm_onednn.c has the real entry points */
typedef int maas_onednn_stub_unused;
#endif							/* MAAS_ONEDNN */
