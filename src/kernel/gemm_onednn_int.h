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

/*
 * The slot of a primitive cache (an array of entries with `used` and
 * `stamp`) that a new entry takes: a free one, else the least recently
 * used.  A macro, as each file's entries are a struct of its own.
 */
#define MAAS_DNN_LRU_SLOT(cache, n) \
	({ \
		__typeof__(&(cache)[0]) slot_ = &(cache)[0]; \
		for (int i_ = 0; i_ < (n); i_++) \
		{ \
			if (!(cache)[i_].used) \
			{ \
				slot_ = &(cache)[i_]; \
				break; \
			} \
			if ((cache)[i_].stamp < slot_->stamp) \
				slot_ = &(cache)[i_]; \
		} \
		slot_; \
	})

#ifdef MAAS_ONEDNN
/*
 * The library gemm_onednn.c opened, its engine and its stream, for the
 * convolution (gemm_onednn_conv.c) to run on; false when oneDNN is not
 * loaded.
 */
extern bool maas_dnn_shared(void **library, dnnl_engine_t *engine, dnnl_stream_t *stream);
#endif

#endif							/* MAAS_GEMM_ONEDNN_INT_H */
