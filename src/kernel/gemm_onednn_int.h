/*
 * gemm_onednn_int.h
 *		What the oneDNN backend's files share (gemm_onednn.c, the matmuls
 *		and the library; gemm_onednn_conv.c and gemm_onednn_convbwd.c, the
 *		convolution forward and backward; gemm_onednn_stub.c, the build
 *		without oneDNN's headers).
 *
 * MAAS_ONEDNN is defined when oneDNN 2.x's headers were found at build
 * time (libdnnl-dev); the library itself is opened at run time.
 */
#ifndef MAAS_GEMM_ONEDNN_INT_H
#define MAAS_GEMM_ONEDNN_INT_H

#include "conv.h"
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

/*
 * What gemm_onednn_conv.c looks up in the library for the convolutions,
 * forward (there) and backward (gemm_onednn_convbwd.c): a table, filled
 * in by maas_dnn_conv_env_at's first call.
 */
#define MAAS_DNN_CONV_FUNCS(X) \
	X(dnnl_stream_wait) \
	X(dnnl_stream_create) \
	X(dnnl_primitive_attr_set_scratchpad_mode) \
	X(dnnl_memory_desc_init_by_tag) \
	X(dnnl_memory_desc_get_size) \
	X(dnnl_memory_desc_equal) \
	X(dnnl_dilated_convolution_forward_desc_init) \
	X(dnnl_dilated_convolution_backward_data_desc_init) \
	X(dnnl_dilated_convolution_backward_weights_desc_init) \
	X(dnnl_post_ops_create) \
	X(dnnl_post_ops_append_eltwise) \
	X(dnnl_post_ops_destroy) \
	X(dnnl_primitive_attr_create) \
	X(dnnl_primitive_attr_set_post_ops) \
	X(dnnl_primitive_attr_destroy) \
	X(dnnl_primitive_desc_create) \
	X(dnnl_primitive_desc_destroy) \
	X(dnnl_primitive_desc_query) \
	X(dnnl_primitive_desc_query_md) \
	X(dnnl_reorder_primitive_desc_create) \
	X(dnnl_primitive_create) \
	X(dnnl_primitive_destroy) \
	X(dnnl_primitive_execute) \
	X(dnnl_memory_create) \
	X(dnnl_memory_set_data_handle) \
	X(dnnl_memory_destroy)

#define MAAS_DNN_FUNC_PTR(f) __typeof__(f) *f;

typedef struct MaasDnnConvFuncs
{
	MAAS_DNN_CONV_FUNCS(MAAS_DNN_FUNC_PTR)
} MaasDnnConvFuncs;

extern MaasDnnConvFuncs maas_dnn_cf;

/*
 * The convolution's library opened (the table filled in): its engine and
 * the stream of slot (0 to MAAS_CONV_SLOTS - 1, as maas_dnn_conv2d_at's;
 * 0 the backend thread's); false when oneDNN cannot run.
 */
extern bool maas_dnn_conv_env_at(int slot, dnnl_engine_t *engine, dnnl_stream_t *stream);

/*
 * The calling thread's OpenMP thread count set to threads for a
 * convolution primitive; returns what to give maas_dnn_conv_threads_end
 * to put the previous count back (nothing happens when the library has no
 * OpenMP functions).
 */
extern int	maas_dnn_conv_threads_begin(int threads);
extern void maas_dnn_conv_threads_end(int was, int threads);

/*
 * What a convolution primitive is made for, the part of a cache key both
 * the forward (gemm_onednn_conv.c) and the backward primitives
 * (gemm_onednn_convbwd.c) share: rows, the convolution's shape, threads.
 * Keys are compared with memcmp, so one is zeroed before it is filled.
 */
typedef struct MaasDnnConvShape
{
	int			n,
				c_in,
				h,
				w,
				c_out,
				kh,
				kw,
				sh,
				sw,
				pt,
				pl,
				pb,
				pr,
				dh,
				dw,
				groups,
				threads;
} MaasDnnConvShape;

extern void maas_dnn_conv_shape(MaasDnnConvShape *s, const MaasConv2d *p, int n, int threads);

/*
 * A tensor as maas lays it (plain) and as a primitive wants it (inner, in
 * buf, with a reorder between them), or plain only when they agree.
 * make: to_inner, the reorder goes plain to want (an input), else want to
 * plain (an output).  bind: data becomes the plain side; an input is
 * reordered in.  out: an output's reorder, inner to plain.
 */
typedef struct MaasDnnStaged
{
	dnnl_memory_t plain,
				inner;
	dnnl_primitive_t reorder;
	void	   *buf;
} MaasDnnStaged;

extern dnnl_status_t maas_dnn_staged_make(MaasDnnStaged *t, const dnnl_memory_desc_t *plain,
										  const dnnl_memory_desc_t *want, bool to_inner);
extern dnnl_memory_t maas_dnn_staged_inner(const MaasDnnStaged *t);
extern dnnl_status_t maas_dnn_staged_bind(MaasDnnStaged *t, const void *data, bool to_inner,
										  dnnl_stream_t stream);
extern dnnl_status_t maas_dnn_staged_out(MaasDnnStaged *t, dnnl_stream_t stream);
extern void maas_dnn_staged_free(MaasDnnStaged *t);
#endif

#endif							/* MAAS_GEMM_ONEDNN_INT_H */
