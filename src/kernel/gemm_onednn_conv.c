/*
 * gemm_onednn_conv.c
 *		oneDNN's convolution forward primitive (inference) for the conv2d
 *		op: NCHW in and out as maas lays images, the weights reordered to
 *		the layout the primitive chose, the bias and a fused ReLU (post-op
 *		eltwise_relu), primitives cached by shape.
 *
 * It runs on the library, engine and stream gemm_onednn.c opened
 * (maas_dnn_shared), looking up only its own functions there.  Every call runs with all signals blocked, as gemm_onednn.c's
 * (see there why).  The caller (blas_dispatch.c) falls back to im2col when
 * this returns false: oneDNN not loaded, a shape it has no primitive for,
 * or a failure.
 *
 * The weights: the primitive is made with weights of format "any", so it
 * picks its fast (blocked) layout.  A layer packed at model load
 * (maas_dnn_conv2d_pack, into memory the caller owns, headed by the memory
 * descriptor oneDNN chose) passes its packed copy, which a primitive whose
 * weights descriptor is the same reads as it is.  Otherwise a reorder
 * primitive kept in the cache entry copies the layer's goihw weights into
 * the entry's buffer on each call: nothing depends on the weights' address
 * staying the same model.  That copy is small against a tile of rows'
 * convolution, but it was a fifth of the second layer's time with one row
 * a call (18,432 weights against one 13x13 image, test/bench/cnn_net.c).
 *
 * Winograd: a packed layer's 3x3 convolution of stride 1 with 16 channels
 * or more, on 4 rows or more, runs on oneDNN's Winograd primitive where it
 * has one (maas_dnn_conv_winograd; winograd_for says why those), in its own
 * layouts; its weights, which its layout transforms, are reordered once
 * per primitive and layer, not on every call (weights_bind).
 *
 * The OpenMP thread count is the calling thread's; it is set to the
 * backend's for the call and put back.
 */
#include "conv.h"
#include "gemm_onednn_int.h"
#include "signals.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* the implementations of the primitives made, each once, for maas_blas_info */
static char conv_impl[160] = "";

bool		maas_dnn_conv_winograd = true;

const char *
maas_dnn_conv_impl(void)
{
	return conv_impl;
}

#ifdef MAAS_ONEDNN

/* the functions of gemm_onednn_int.h's table, looked up by conv_open */
MaasDnnConvFuncs maas_dnn_cf;

#define cf maas_dnn_cf

static void *lib = NULL;
static bool tried = false;
static dnnl_engine_t engine;
static dnnl_stream_t stream0;	/* gemm_onednn.c's, slot 0's */
static void (*omp_set) (int);
static int	(*omp_get) (void);

/* the shape a primitive is made for */
typedef struct ConvKey
{
	MaasDnnConvShape s;
	int			layout;			/* MAAS_CONV_IN_NHWC | MAAS_CONV_OUT_NHWC */
	bool		bias,
				relu,
				winograd;		/* tried first (winograd_for) */
} ConvKey;

#define CONV_CACHE 16

typedef struct ConvEntry
{
	bool		used;
	uint64_t	stamp;
	ConvKey		key;
	dnnl_primitive_t prim;
	MaasDnnStaged		src,
				wei,
				dst;
	dnnl_memory_t bmem;
	dnnl_memory_t smem;			/* the scratchpad (its slot's), or NULL */
	dnnl_memory_desc_t wmd;		/* the weights' layout the primitive reads */
	uint64_t	wei_id;			/* the packed layer whose weights wei holds
								 * reordered, or 0 */
} ConvEntry;

/* the fewest rows, and channels in and out, Winograd runs on (winograd_for) */
#define CONV_WINOGRAD_ROWS 4
#define CONV_WINOGRAD_CHANNELS 16

/* packed layers made so far, each one's id (backend thread only) */
static uint64_t pack_count = 0;

/* what maas_dnn_conv2d_pack writes before the data */
#define CONV_PACK_MAGIC 0x6d61617363707731ULL	/* "maascpw1" */

typedef struct ConvPacked
{
	uint64_t	magic;
	uint64_t	id;				/* this process's n-th packed layer, from 1 */
	const float *from;			/* the weights it was packed from */
	size_t		offset;			/* from the header to the data */
	dnnl_memory_desc_t md;
} ConvPacked;

/*
 * Per slot (a thread of the layer runtime's tiles in parallel, net.c; 0
 * the backend's own thread): the primitives, made and run on that thread
 * only, one after the other, so they share one scratchpad (mode "user"),
 * the size of the largest one's: a Winograd primitive's is about 6.7 MB
 * whatever its rows, a direct one's a few kB; and a stream.
 */
typedef struct ConvSlot
{
	ConvEntry	cache[CONV_CACHE];
	uint64_t	clock;
	void	   *scratch;
	size_t		scratch_size;
	dnnl_stream_t stream;
} ConvSlot;

static ConvSlot slots[MAAS_CONV_SLOTS];

static bool
conv_open(void)
{
	if (tried)
		return lib != NULL;
	tried = true;
	if (!maas_dnn_shared(&lib, &engine, &stream0))
		return false;
#define CONV_SYM(f) \
	cf.f = (__typeof__(f) *) dlsym(lib, #f); \
	if (cf.f == NULL) \
		goto fail;
	MAAS_DNN_CONV_FUNCS(CONV_SYM)
#undef CONV_SYM
	omp_set = (void (*) (int)) dlsym(lib, "omp_set_num_threads");
	omp_get = (int (*) (void)) dlsym(lib, "omp_get_max_threads");
	return true;
fail:
	lib = NULL;					/* gemm_onednn.c's: not closed here */
	return false;
}

int
maas_dnn_conv_threads_begin(int threads)
{
	int			was;

	if (omp_set == NULL || omp_get == NULL)
		return threads;
	was = omp_get();
	if (was != threads)
		omp_set(threads);
	return was;
}

void
maas_dnn_conv_threads_end(int was, int threads)
{
	if (omp_set != NULL && was != threads)
		omp_set(was);
}

void
maas_dnn_staged_free(MaasDnnStaged *t)
{
	if (t->reorder)
		cf.dnnl_primitive_destroy(t->reorder);
	if (t->plain)
		cf.dnnl_memory_destroy(t->plain);
	if (t->inner)
		cf.dnnl_memory_destroy(t->inner);
	free(t->buf);
}

static void
entry_free(ConvEntry *e)
{
	if (e->prim)
		cf.dnnl_primitive_destroy(e->prim);
	maas_dnn_staged_free(&e->src);
	maas_dnn_staged_free(&e->wei);
	maas_dnn_staged_free(&e->dst);
	if (e->bmem)
		cf.dnnl_memory_destroy(e->bmem);
	if (e->smem)
		cf.dnnl_memory_destroy(e->smem);
	memset(e, 0, sizeof(*e));
}

/* see gemm_onednn_int.h */
dnnl_status_t
maas_dnn_staged_make(MaasDnnStaged *t, const dnnl_memory_desc_t *plain,
			const dnnl_memory_desc_t *want, bool to_inner)
{
	dnnl_primitive_desc_t rpd = NULL;
	size_t		size;
	dnnl_status_t st;

	st = cf.dnnl_memory_create(&t->plain, plain, engine, DNNL_MEMORY_NONE);
	if (st != dnnl_success || cf.dnnl_memory_desc_equal(plain, want))
		return st;
	size = cf.dnnl_memory_desc_get_size(want);
	if (posix_memalign(&t->buf, 64, size > 0 ? size : 64) != 0)
	{
		t->buf = NULL;
		return dnnl_out_of_memory;
	}
	st = cf.dnnl_memory_create(&t->inner, want, engine, t->buf);
	if (st == dnnl_success)
		st = to_inner
			? cf.dnnl_reorder_primitive_desc_create(&rpd, plain, engine, want, engine, NULL)
			: cf.dnnl_reorder_primitive_desc_create(&rpd, want, engine, plain, engine, NULL);
	if (st == dnnl_success)
		st = cf.dnnl_primitive_create(&t->reorder, rpd);
	if (rpd)
		cf.dnnl_primitive_desc_destroy(rpd);
	return st;
}

/* the memory the primitive reads or writes */
dnnl_memory_t
maas_dnn_staged_inner(const MaasDnnStaged *t)
{
	return t->reorder ? t->inner : t->plain;
}

/* bind data to t's plain side; run the reorder when to_inner */
dnnl_status_t
maas_dnn_staged_bind(MaasDnnStaged *t, const void *data, bool to_inner, dnnl_stream_t stream)
{
	dnnl_status_t st = cf.dnnl_memory_set_data_handle(t->plain, (void *) data);

	if (st == dnnl_success && to_inner && t->reorder)
	{
		dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, t->plain}, {DNNL_ARG_TO, t->inner}};

		st = cf.dnnl_primitive_execute(t->reorder, stream, 2, r);
	}
	return st;
}

dnnl_status_t
maas_dnn_staged_out(MaasDnnStaged *t, dnnl_stream_t stream)
{
	dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, t->inner}, {DNNL_ARG_TO, t->plain}};

	if (t->reorder == NULL)
		return dnnl_success;
	return cf.dnnl_primitive_execute(t->reorder, stream, 2, r);
}

/* add an implementation's name to conv_impl, unless it is there */
static void
name_impl(const char *impl, const char *layout)
{
	char		name[80];
	size_t		len = strlen(conv_impl);

	snprintf(name, sizeof(name), "%s%s", impl, layout);
	for (const char *at = conv_impl; (at = strstr(at, name)) != NULL; at++)
		if ((at == conv_impl || at[-1] == ' ') && (at[strlen(name)] == ',' || at[strlen(name)] == '\0'))
			return;
	if (len + strlen(name) + 3 > sizeof(conv_impl))
		return;
	snprintf(conv_impl + len, sizeof(conv_impl) - len, "%s%s", len > 0 ? ", " : "", name);
}

/* the shape part of a cache key (gemm_onednn_int.h) */
void
maas_dnn_conv_shape(MaasDnnConvShape *s, const MaasConv2d *p, int n, int threads)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->c_in = p->c_in;
	s->h = p->h;
	s->w = p->w;
	s->c_out = p->c_out;
	s->kh = p->kh;
	s->kw = p->kw;
	s->sh = p->stride_h;
	s->sw = p->stride_w;
	s->pt = p->pad_top;
	s->pl = p->pad_left;
	s->pb = p->pad_bottom;
	s->pr = p->pad_right;
	s->dh = p->dil_h;
	s->dw = p->dil_w;
	s->groups = p->groups;
	s->threads = threads;
}

/*
 * Whether the primitive is Winograd's, where oneDNN has one: a 3x3
 * convolution of stride 1 (undilated, ungrouped) of 16 channels or more in
 * and out, of a packed layer on a few rows at least.  Measured on oneDNN
 * 2.6, one thread, Zen 4, 16 rows a call: its F(4x4, 3x3) kernel took
 * 0.50-0.83x the direct one's time from 16 channels (0.57x for the classic
 * CNN's second layer, 32 to 64 on 13x13), and 1.5-6x below (it blocks
 * channels by 16: one channel in, as a first layer has, is 16).  Its
 * weights are transformed, 0.5 ms for that layer's 18,432, so only once
 * per primitive and layer (weights_bind): a trainer's weights change every
 * step, and one row is the direct kernel's.
 */
static bool
winograd_for(const MaasConv2d *p, int n, bool packed)
{
	return maas_dnn_conv_winograd && packed && n >= CONV_WINOGRAD_ROWS &&
		p->kh == 3 && p->kw == 3 && p->stride_h == 1 && p->stride_w == 1 &&
		p->dil_h == 1 && p->dil_w == 1 && p->groups == 1 &&
		p->c_in >= CONV_WINOGRAD_CHANNELS && p->c_out >= CONV_WINOGRAD_CHANNELS;
}

static void
key_of(ConvKey *k, const MaasConv2d *p, int n, bool bias, bool relu, int threads,
	   int layout, bool packed)
{
	memset(k, 0, sizeof(*k));
	maas_dnn_conv_shape(&k->s, p, n, threads);
	k->layout = layout;
	k->bias = bias;
	k->relu = relu;
	k->winograd = winograd_for(p, n, packed);
}

/*
 * The primitive and its memories for key k, into e (freed on failure).
 * A source or destination in NCHW is asked for in format "any", and
 * reordered from or to NCHW on each call: at NCHW oneDNN 2.x has only its
 * GEMM-based convolution (an im2col of its own), which measured slower
 * than maas's im2col on the benchmark's CNN, while its direct kernels on
 * NHWC or blocked layouts, reorders in and out included, are faster.  One
 * in NHWC (k->layout) is taken as it is, with no reorder: the layer
 * runtime keeps that layout between its image layers.
 */
static bool
entry_make(ConvEntry *e, const MaasConv2d *p, const ConvKey *k, ConvSlot *sl, bool name_it)
{
	dnnl_memory_desc_t smd,
				sany,
				wany,
				wplain,
				bmd,
				dmd,
				dany,
				wino_any,
				wino_dany;
	dnnl_convolution_desc_t desc;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	const char *impl = NULL;
	int			g = p->groups;
	dnnl_dims_t sdims = {k->s.n, p->c_in, p->h, p->w};
	dnnl_dims_t ddims = {k->s.n, p->c_out, p->h_out, p->w_out};
	dnnl_dims_t wdims = {p->c_out, p->c_in, p->kh, p->kw};
	dnnl_dims_t gdims = {g, p->c_out / g, p->c_in / g, p->kh, p->kw};
	dnnl_dims_t bdims = {p->c_out};
	dnnl_dims_t strides = {p->stride_h, p->stride_w};
	dnnl_dims_t dilates = {p->dil_h - 1, p->dil_w - 1};
	dnnl_dims_t pad_l = {p->pad_top, p->pad_left};
	dnnl_dims_t pad_r = {p->pad_bottom, p->pad_right};
	bool		in_nhwc = (k->layout & MAAS_CONV_IN_NHWC) != 0,
				out_nhwc = (k->layout & MAAS_CONV_OUT_NHWC) != 0;
	const dnnl_memory_desc_t *spad;
	dnnl_status_t st;

	st = cf.dnnl_memory_desc_init_by_tag(&smd, 4, sdims, dnnl_f32, in_nhwc ? dnnl_nhwc : dnnl_nchw);
	if (st == dnnl_success)
		st = cf.dnnl_memory_desc_init_by_tag(&sany, 4, sdims, dnnl_f32,
											 in_nhwc ? dnnl_nhwc : dnnl_format_tag_any);
	if (st == dnnl_success)
		st = cf.dnnl_memory_desc_init_by_tag(&dmd, 4, ddims, dnnl_f32, out_nhwc ? dnnl_nhwc : dnnl_nchw);
	if (st == dnnl_success)
		st = cf.dnnl_memory_desc_init_by_tag(&dany, 4, ddims, dnnl_f32,
											 out_nhwc ? dnnl_nhwc : dnnl_format_tag_any);
	if (st == dnnl_success)
		st = g > 1 ? cf.dnnl_memory_desc_init_by_tag(&wany, 5, gdims, dnnl_f32, dnnl_format_tag_any)
			: cf.dnnl_memory_desc_init_by_tag(&wany, 4, wdims, dnnl_f32, dnnl_format_tag_any);
	if (st == dnnl_success)
		st = g > 1 ? cf.dnnl_memory_desc_init_by_tag(&wplain, 5, gdims, dnnl_f32, dnnl_goihw)
			: cf.dnnl_memory_desc_init_by_tag(&wplain, 4, wdims, dnnl_f32, dnnl_oihw);
	if (st == dnnl_success && k->bias)
		st = cf.dnnl_memory_desc_init_by_tag(&bmd, 1, bdims, dnnl_f32, dnnl_x);
	if (st == dnnl_success)
		st = cf.dnnl_primitive_attr_create(&attr);
	if (st == dnnl_success)
		st = cf.dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
	if (st == dnnl_success && k->relu)
	{
		st = cf.dnnl_post_ops_create(&po);
		if (st == dnnl_success)
			st = cf.dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
		if (st == dnnl_success)
			st = cf.dnnl_primitive_attr_set_post_ops(attr, po);
	}
	/* Winograd's layouts are its own: source and destination reordered */
	if (st == dnnl_success && k->winograd)
		st = cf.dnnl_memory_desc_init_by_tag(&wino_any, 4, sdims, dnnl_f32, dnnl_format_tag_any);
	if (st == dnnl_success && k->winograd)
		st = cf.dnnl_memory_desc_init_by_tag(&wino_dany, 4, ddims, dnnl_f32, dnnl_format_tag_any);
	if (st == dnnl_success && k->winograd &&
		cf.dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference,
													  dnnl_convolution_winograd,
													  &wino_any, &wany, k->bias ? &bmd : NULL,
													  &wino_dany, strides, dilates, pad_l,
													  pad_r) == dnnl_success &&
		cf.dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL) != dnnl_success)
		pd = NULL;
	if (st == dnnl_success && pd == NULL)
		st = cf.dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference,
														   dnnl_convolution_direct,
														   &sany, &wany, k->bias ? &bmd : NULL,
														   &dany, strides, dilates, pad_l, pad_r);
	if (st == dnnl_success && pd == NULL)
		st = cf.dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL);
	if (po)
		cf.dnnl_post_ops_destroy(po);
	if (attr)
		cf.dnnl_primitive_attr_destroy(attr);
	if (st != dnnl_success)
		return false;

	st = cf.dnnl_primitive_create(&e->prim, pd);
	if (st == dnnl_success)
		e->wmd = *cf.dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	if (st == dnnl_success)
		st = maas_dnn_staged_make(&e->src, &smd, cf.dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), true);
	if (st == dnnl_success)
		st = maas_dnn_staged_make(&e->wei, &wplain, cf.dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), true);
	if (st == dnnl_success)
		st = maas_dnn_staged_make(&e->dst, &dmd, cf.dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), false);
	if (st == dnnl_success && k->bias)
		st = cf.dnnl_memory_create(&e->bmem, &bmd, engine, DNNL_MEMORY_NONE);
	spad = st == dnnl_success ? cf.dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0) : NULL;
	if (spad != NULL && cf.dnnl_memory_desc_get_size(spad) > 0)
	{
		size_t		size = cf.dnnl_memory_desc_get_size(spad);

		/* the slot's scratchpad grows to it; each call binds it (dnn_conv) */
		if (size > sl->scratch_size)
		{
			void	   *buf;

			if (posix_memalign(&buf, 64, size) != 0)
				st = dnnl_out_of_memory;
			else
			{
				free(sl->scratch);
				sl->scratch = buf;
				sl->scratch_size = size;
			}
		}
		if (st == dnnl_success)
			st = cf.dnnl_memory_create(&e->smem, spad, engine, DNNL_MEMORY_NONE);
	}
	if (st == dnnl_success && name_it &&
		cf.dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
		impl != NULL)
		name_impl(impl, e->src.reorder || e->dst.reorder ? " (blocked)" :
				  k->layout != 0 ? " (nhwc)" : "");
	cf.dnnl_primitive_desc_destroy(pd);
	if (st != dnnl_success)
	{
		entry_free(e);
		return false;
	}
	e->used = true;
	e->key = *k;
	return true;
}

/* slot's stream, made on its first call; NULL when oneDNN cannot run */
static dnnl_stream_t
slot_stream(int slot)
{
	ConvSlot   *sl = &slots[slot];

	/* slot 0's thread opened the library (maas_dnn_conv_ready) */
	if (slot == 0 ? !conv_open() : lib == NULL)
		return NULL;
	if (slot == 0)
		sl->stream = stream0;
	else if (sl->stream == NULL &&
			 cf.dnnl_stream_create(&sl->stream, engine, dnnl_stream_default_flags) != dnnl_success)
		sl->stream = NULL;
	return sl->stream;
}

bool
maas_dnn_conv_env_at(int slot, dnnl_engine_t *eng, dnnl_stream_t *stream)
{
	if (slot < 0 || slot >= MAAS_CONV_SLOTS || (*stream = slot_stream(slot)) == NULL)
		return false;
	*eng = engine;
	return true;
}

/*
 * The cache entry of key k in slot, made when missing (with the OpenMP
 * threads of the key set): NULL when oneDNN has no primitive for it
 */
static ConvEntry *
entry_get(const MaasConv2d *p, const ConvKey *k, int slot)
{
	ConvSlot   *sl = &slots[slot];
	ConvEntry  *cache = sl->cache;
	ConvEntry  *e = NULL;

	for (int i = 0; i < CONV_CACHE; i++)
		if (cache[i].used && memcmp(&cache[i].key, k, sizeof(*k)) == 0)
		{
			e = &cache[i];
			break;
		}
	if (e == NULL)
	{
		e = MAAS_DNN_LRU_SLOT(cache, CONV_CACHE);
		if (e->used)
			entry_free(e);
		if (!entry_make(e, p, k, sl, slot == 0))
		{
			/* remembered, so that the shape is not tried on every call */
			e->used = true;
			e->key = *k;
		}
	}
	e->stamp = ++sl->clock;
	return e->prim != NULL ? e : NULL;
}

/* packed weights made for what e reads, or NULL */
static const void *
packed_data(const ConvEntry *e, const void *packed)
{
	const ConvPacked *h = packed;

	if (h == NULL || h->magic != CONV_PACK_MAGIC || e->wei.reorder == NULL ||
		!cf.dnnl_memory_desc_equal(&h->md, &e->wmd))
		return NULL;
	return (const char *) h + h->offset;
}

/*
 * Bind the weights: the packed copy when e reads its layout; else those
 * e's buffer holds when they are the same packed layer's as on the call
 * before (a packed layer's weights never change, its id is never
 * another's, and weight must be what it was packed from); else reordered
 * into e's buffer now.
 */
static dnnl_status_t
weights_bind(ConvEntry *e, const float *weight, const void *packed, dnnl_stream_t stream)
{
	const ConvPacked *h = packed;
	const void *data = packed_data(e, packed);
	uint64_t	id = h != NULL && h->magic == CONV_PACK_MAGIC && h->from == weight ? h->id : 0;
	dnnl_status_t st;

	if (e->wei.reorder == NULL)
		return maas_dnn_staged_bind(&e->wei, weight, true, stream);
	if (data != NULL)
		return cf.dnnl_memory_set_data_handle(e->wei.inner, (void *) data);
	if (cf.dnnl_memory_set_data_handle(e->wei.inner, e->wei.buf) != dnnl_success)
		return dnnl_runtime_error;
	if (id != 0 && e->wei_id == id)
		return dnnl_success;
	e->wei_id = 0;
	st = maas_dnn_staged_bind(&e->wei, weight, true, stream);
	if (st == dnnl_success)
		e->wei_id = id;
	return st;
}

static bool
dnn_conv(const MaasConv2d *p, int threads, int n, const float *inp,
		 const float *weight, const void *packed, const float *bias, bool relu,
		 float *out, int layout, int slot)
{
	ConvKey		k;
	ConvEntry  *e;
	dnnl_stream_t stream;
	dnnl_status_t st;
	dnnl_exec_arg_t args[5];
	int			nargs = 0;
	int			omp_was;
	bool		ok;

	if ((stream = slot_stream(slot)) == NULL)
		return false;
	key_of(&k, p, n, bias != NULL, relu, threads, layout, packed != NULL);
	omp_was = maas_dnn_conv_threads_begin(threads);
	if ((e = entry_get(p, &k, slot)) == NULL)
		goto done;

	/* oneDNN does not write through src, weights or bias */
	st = maas_dnn_staged_bind(&e->src, inp, true, stream);
	if (st == dnnl_success)
		st = weights_bind(e, weight, packed, stream);
	if (st == dnnl_success && bias != NULL)
		st = cf.dnnl_memory_set_data_handle(e->bmem, (void *) bias);
	if (st == dnnl_success)
		st = maas_dnn_staged_bind(&e->dst, out, false, stream);
	args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_SRC, maas_dnn_staged_inner(&e->src)};
	args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_WEIGHTS, maas_dnn_staged_inner(&e->wei)};
	if (bias != NULL)
		args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_BIAS, e->bmem};
	args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_DST, maas_dnn_staged_inner(&e->dst)};
	if (e->smem)
	{
		if (st == dnnl_success)
			st = cf.dnnl_memory_set_data_handle(e->smem, slots[slot].scratch);
		args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_SCRATCHPAD, e->smem};
	}
	if (st == dnnl_success)
		st = cf.dnnl_primitive_execute(e->prim, stream, nargs, args);
	if (st == dnnl_success)
		st = maas_dnn_staged_out(&e->dst, stream);
	if (st == dnnl_success)
		st = cf.dnnl_stream_wait(stream);
	if (st != dnnl_success)
	{
		e->wei_id = 0;			/* the weights' reorder may not have run */
		e = NULL;
	}
done:
	ok = e != NULL;
	maas_dnn_conv_threads_end(omp_was, threads);
	return ok;
}

bool
maas_dnn_conv2d(const MaasConv2d *p, int threads, int n, const float *inp,
				const float *weight, const float *bias, bool relu, float *out)
{
	return maas_dnn_conv2d_at(p, threads, n, inp, weight, NULL, bias, relu, out, 0, 0);
}

bool
maas_dnn_conv2d_at(const MaasConv2d *p, int threads, int n, const float *inp,
				   const float *weight, const void *packed, const float *bias,
				   bool relu, float *out, int layout, int slot)
{
	sigset_t	old;
	bool		ok;

	if (n < 1 || threads < 1 || slot < 0 || slot >= MAAS_CONV_SLOTS)
		return false;

	maas_block_signals(&old);
	ok = dnn_conv(p, threads, n, inp, weight, packed, bias, relu, out, layout, slot);
	maas_restore_signals(&old);
	return ok;
}

/*
 * The weights of a conv2d in the layout the primitive for one row (slot
 * 0, threads, layout) reads, into maas_kalloc memory after a header; that
 * primitive is made now and stays in slot 0's cache, so that a model's
 * first call has it.  *packed is NULL when the primitive reads the plain
 * layout or oneDNN has none for the shape: nothing to pack.
 */
static bool
dnn_conv_pack(const MaasConv2d *p, int threads, const float *weight, bool bias,
			  bool relu, int layout, const void **packed, MaasError *err)
{
	ConvKey		k;
	ConvEntry  *e;
	ConvPacked *h;
	char	   *buf;
	size_t		size,
				offset = (sizeof(ConvPacked) + 63) & ~(size_t) 63,
				total;
	dnnl_stream_t stream;
	dnnl_status_t st;
	int			omp_was;

	*packed = NULL;
	if ((stream = slot_stream(0)) == NULL)
		return true;
	key_of(&k, p, 1, bias, relu, threads, layout, true);
	omp_was = maas_dnn_conv_threads_begin(threads);
	e = entry_get(p, &k, 0);
	maas_dnn_conv_threads_end(omp_was, threads);
	if (e == NULL || e->wei.reorder == NULL)
		return true;
	size = cf.dnnl_memory_desc_get_size(&e->wmd);
	if (!maas_add_size(offset + 64, size, &total) || (buf = maas_kalloc(total)) == NULL)
		return maas_error_nomem(err);
	/* the data starts 64-byte aligned; the header sits just before it */
	h = (ConvPacked *) ((((uintptr_t) buf + offset + 63) & ~(uintptr_t) 63) - offset);
	memset(h, 0, sizeof(*h));
	h->id = ++pack_count;
	h->from = weight;
	h->offset = offset;
	h->md = e->wmd;
	st = cf.dnnl_memory_set_data_handle(e->wei.inner, (char *) h + offset);
	if (st == dnnl_success)
		st = maas_dnn_staged_bind(&e->wei, weight, true, stream);
	if (st == dnnl_success)
		st = cf.dnnl_stream_wait(stream);
	/* the entry's own buffer again, for calls without the packed copy */
	if (cf.dnnl_memory_set_data_handle(e->wei.inner, e->wei.buf) != dnnl_success ||
		st != dnnl_success)
	{
		maas_error(err, MAAS_ERR_LIBRARY, "oneDNN could not reorder a convolution's weights");
		return false;
	}
	h->magic = CONV_PACK_MAGIC;
	*packed = h;
	return true;
}

bool
maas_dnn_conv2d_pack(const MaasConv2d *p, int threads, const float *weight, bool bias,
					 bool relu, int layout, const void **packed, MaasError *err)
{
	sigset_t	old;
	bool		ok;

	*packed = NULL;
	if (threads < 1)
		return true;
	maas_block_signals(&old);
	ok = dnn_conv_pack(p, threads, weight, bias, relu, layout, packed, err);
	maas_restore_signals(&old);
	return ok;
}

bool
maas_dnn_conv_ready(void)
{
	return conv_open();
}

void
maas_dnn_conv_clear(void)
{
	conv_impl[0] = '\0';
	if (lib == NULL)
		return;
	for (int s = 0; s < MAAS_CONV_SLOTS; s++)
	{
		for (int i = 0; i < CONV_CACHE; i++)
			if (slots[s].cache[i].used)
				entry_free(&slots[s].cache[i]);
		free(slots[s].scratch);
		slots[s].scratch = NULL;
		slots[s].scratch_size = 0;
	}
}

#else							/* !MAAS_ONEDNN */

bool
maas_dnn_conv2d(const MaasConv2d *p, int threads, int n, const float *inp,
				const float *weight, const float *bias, bool relu, float *out)
{
	return maas_dnn_conv2d_at(p, threads, n, inp, weight, NULL, bias, relu, out, 0, 0);
}

bool
maas_dnn_conv2d_pack(const MaasConv2d *p, int threads, const float *weight, bool bias,
					 bool relu, int layout, const void **packed, MaasError *err)
{
	(void) p;
	(void) threads;
	(void) weight;
	(void) bias;
	(void) relu;
	(void) layout;
	(void) err;
	*packed = NULL;
	return true;
}

bool
maas_dnn_conv2d_at(const MaasConv2d *p, int threads, int n, const float *inp,
				   const float *weight, const void *packed, const float *bias,
				   bool relu, float *out, int layout, int slot)
{
	(void) p;
	(void) threads;
	(void) n;
	(void) inp;
	(void) weight;
	(void) packed;
	(void) bias;
	(void) relu;
	(void) out;
	(void) layout;
	(void) slot;
	return false;
}

bool
maas_dnn_conv_ready(void)
{
	return false;
}

void
maas_dnn_conv_clear(void)
{
}
#endif							/* MAAS_ONEDNN */
