/*
 * gemm_onednn_int.h
 *		What the oneDNN backend's files share (gemm_onednn.c, the matmuls
 *		and the library; gemm_onednn_conv.c, the convolution;
 *		gemm_onednn_stub.c, the build without oneDNN's headers).
 *
 * MAAS_ONEDNN is defined when oneDNN 2.x's headers were found at build
 * time (libdnnl-dev); the library itself is opened at run time.
 */
#ifndef MAAS_GEMM_ONEDNN_INT_H
#define MAAS_GEMM_ONEDNN_INT_H

#include "gemm.h"

#if defined(__has_include) && !defined(MAAS_NO_ONEDNN)
#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>
#if DNNL_VERSION_MAJOR == 2
#define MAAS_ONEDNN 1
#endif
#endif
#endif

/* maas_dnn_info()'s status line (the stub's "not built") */
extern void maas_dnn_set_status(const char *status);

#endif							/* MAAS_GEMM_ONEDNN_INT_H */
