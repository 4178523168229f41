/*
 * gemm_onednn_convbwd.c
 *		oneDNN's convolution backward primitives for the CNN trainer
 *		(MaasBlas.conv2d_backward): backward data (the gradient at the
 *		input) and backward weights (the weights' and the bias's
 *		gradients), NCHW rows in and out as maas lays them, primitives
 *		cached by shape across mini-batches.
 *
 * As the forward primitive (gemm_onednn_conv.c, whose library, engine,
 * stream and tensor staging this file uses), every tensor is asked for in
 * format "any", so that oneDNN picks its direct kernels on blocked
 * layouts, and reordered from or to maas's layout on each call: the
 * gradient at the output and the input in, the gradients out.  When both
 * primitives want the output gradient in the same layout, it is reordered
 * once.  The backward descriptors need a forward one as their hint; it is
 * made for forward training with the same shapes and never run.
 *
 * The trainer's loop calls this on the backend's thread (slot 0), or on
 * each of the threads that share its mini-batch (slot t for thread t of
 * maas_parallel), each slot with its own primitives and stream, as the
 * forward primitive's slots; the OpenMP thread count is set for the call
 * and put back, and signals are blocked, as for the forward primitive.
 * False (the caller then runs im2col) when oneDNN is not loaded, has no
 * primitive for the shape, or fails.
 */
#include "conv.h"
#include "gemm_onednn_int.h"
#include "signals.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#ifdef MAAS_ONEDNN

#define cf maas_dnn_cf

typedef struct BwdKey
{
	MaasDnnConvShape s;
	bool		data;			/* the gradient at the input too */
} BwdKey;

typedef struct BwdEntry
{
	bool		used;
	bool		failed;			/* no primitive for this key: not retried */
	uint64_t	stamp;
	BwdKey		key;
	/* backward data: dout and the weights in, dinp out */
	dnnl_primitive_t data;
	MaasDnnStaged dd_data,
				wei,
				dsrc;
	/* backward weights: inp and dout in, dweight and dbias out */
	dnnl_primitive_t weights;
	MaasDnnStaged src,
				dd_wts,
				dwei;
	bool		dd_shared;		/* dd_wts would be dd_data's inner layout */
	dnnl_memory_t dbias;
	dnnl_memory_t sp_data,
				sp_wts;
	void	   *spbuf_data,
			   *spbuf_wts;
} BwdEntry;

#define BWD_CACHE 8

static BwdEntry caches[MAAS_CONV_SLOTS][BWD_CACHE];
static uint64_t clocks[MAAS_CONV_SLOTS];

static void
entry_free(BwdEntry *e)
{
	if (e->data)
		cf.dnnl_primitive_destroy(e->data);
	if (e->weights)
		cf.dnnl_primitive_destroy(e->weights);
	maas_dnn_staged_free(&e->dd_data);
	maas_dnn_staged_free(&e->wei);
	maas_dnn_staged_free(&e->dsrc);
	maas_dnn_staged_free(&e->src);
	maas_dnn_staged_free(&e->dd_wts);
	maas_dnn_staged_free(&e->dwei);
	if (e->dbias)
		cf.dnnl_memory_destroy(e->dbias);
	if (e->sp_data)
		cf.dnnl_memory_destroy(e->sp_data);
	if (e->sp_wts)
		cf.dnnl_memory_destroy(e->sp_wts);
	free(e->spbuf_data);
	free(e->spbuf_wts);
	memset(e, 0, sizeof(*e));
}

static void
key_of(BwdKey *k, const MaasConv2d *p, int n, int threads, bool data)
{
	memset(k, 0, sizeof(*k));
	maas_dnn_conv_shape(&k->s, p, n, threads);
	k->data = data;
}

/* the primitive of pd, its scratchpad (mode "user") into *mem and *buf */
static dnnl_status_t
make_prim(dnnl_primitive_desc_t pd, dnnl_engine_t engine, dnnl_primitive_t *prim,
		  dnnl_memory_t *mem, void **buf)
{
	const dnnl_memory_desc_t *spad;
	dnnl_status_t st = cf.dnnl_primitive_create(prim, pd);
	size_t		size;

	if (st != dnnl_success)
		return st;
	spad = cf.dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	size = spad ? cf.dnnl_memory_desc_get_size(spad) : 0;
	if (size == 0)
		return dnnl_success;
	if (posix_memalign(buf, 64, size) != 0)
	{
		*buf = NULL;
		return dnnl_out_of_memory;
	}
	return cf.dnnl_memory_create(mem, spad, engine, *buf);
}

static bool
entry_make(BwdEntry *e, const MaasConv2d *p, const BwdKey *k, dnnl_engine_t engine)
{
	dnnl_memory_desc_t smd,
				sany,
				wany,
				wplain,
				bmd,
				dmd,
				dany;
	dnnl_convolution_desc_t fdesc,
				ddesc,
				wdesc;
	dnnl_primitive_desc_t fpd = NULL,
				dpd = NULL,
				wpd = NULL;
	dnnl_primitive_attr_t attr = NULL;
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
	dnnl_status_t st;

	st = cf.dnnl_memory_desc_init_by_tag(&smd, 4, sdims, dnnl_f32, dnnl_nchw);
	if (st == dnnl_success)
		st = cf.dnnl_memory_desc_init_by_tag(&sany, 4, sdims, dnnl_f32, dnnl_format_tag_any);
	if (st == dnnl_success)
		st = cf.dnnl_memory_desc_init_by_tag(&dmd, 4, ddims, dnnl_f32, dnnl_nchw);
	if (st == dnnl_success)
		st = cf.dnnl_memory_desc_init_by_tag(&dany, 4, ddims, dnnl_f32, dnnl_format_tag_any);
	if (st == dnnl_success)
		st = g > 1 ? cf.dnnl_memory_desc_init_by_tag(&wany, 5, gdims, dnnl_f32, dnnl_format_tag_any)
			: cf.dnnl_memory_desc_init_by_tag(&wany, 4, wdims, dnnl_f32, dnnl_format_tag_any);
	if (st == dnnl_success)
		st = g > 1 ? cf.dnnl_memory_desc_init_by_tag(&wplain, 5, gdims, dnnl_f32, dnnl_goihw)
			: cf.dnnl_memory_desc_init_by_tag(&wplain, 4, wdims, dnnl_f32, dnnl_oihw);
	if (st == dnnl_success)
		st = cf.dnnl_memory_desc_init_by_tag(&bmd, 1, bdims, dnnl_f32, dnnl_x);
	if (st == dnnl_success)
		st = cf.dnnl_dilated_convolution_forward_desc_init(&fdesc, dnnl_forward_training,
														   dnnl_convolution_direct,
														   &sany, &wany, &bmd, &dany,
														   strides, dilates, pad_l, pad_r);
	if (st == dnnl_success)
		st = cf.dnnl_primitive_desc_create(&fpd, &fdesc, NULL, engine, NULL);
	if (st == dnnl_success)
		st = cf.dnnl_primitive_attr_create(&attr);
	if (st == dnnl_success)
		st = cf.dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
	if (st == dnnl_success && k->data)
		st = cf.dnnl_dilated_convolution_backward_data_desc_init(&ddesc, dnnl_convolution_direct,
																 &sany, &wany, &dany, strides,
																 dilates, pad_l, pad_r);
	if (st == dnnl_success && k->data)
		st = cf.dnnl_primitive_desc_create(&dpd, &ddesc, attr, engine, fpd);
	if (st == dnnl_success)
		st = cf.dnnl_dilated_convolution_backward_weights_desc_init(&wdesc, dnnl_convolution_direct,
																	&sany, &wany, &bmd, &dany,
																	strides, dilates, pad_l, pad_r);
	if (st == dnnl_success)
		st = cf.dnnl_primitive_desc_create(&wpd, &wdesc, attr, engine, fpd);
	if (attr)
		cf.dnnl_primitive_attr_destroy(attr);

	/* backward data */
	if (st == dnnl_success && k->data)
	{
		st = make_prim(dpd, engine, &e->data, &e->sp_data, &e->spbuf_data);
		if (st == dnnl_success)
			st = maas_dnn_staged_make(&e->dd_data, &dmd,
									  cf.dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_dst_md, 0), true);
		if (st == dnnl_success)
			st = maas_dnn_staged_make(&e->wei, &wplain,
									  cf.dnnl_primitive_desc_query_md(dpd, dnnl_query_weights_md, 0), true);
		if (st == dnnl_success)
			st = maas_dnn_staged_make(&e->dsrc, &smd,
									  cf.dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_src_md, 0), false);
	}
	/* backward weights */
	if (st == dnnl_success)
	{
		const dnnl_memory_desc_t *dd = cf.dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_dst_md, 0);

		st = make_prim(wpd, engine, &e->weights, &e->sp_wts, &e->spbuf_wts);
		if (st == dnnl_success)
			st = maas_dnn_staged_make(&e->src, &smd,
									  cf.dnnl_primitive_desc_query_md(wpd, dnnl_query_src_md, 0), true);
		e->dd_shared = k->data && dd != NULL &&
			cf.dnnl_memory_desc_equal(dd, cf.dnnl_primitive_desc_query_md(dpd, dnnl_query_diff_dst_md, 0));
		if (st == dnnl_success && !e->dd_shared)
			st = maas_dnn_staged_make(&e->dd_wts, &dmd, dd, true);
		if (st == dnnl_success)
			st = maas_dnn_staged_make(&e->dwei, &wplain,
									  cf.dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0), false);
		if (st == dnnl_success)
			st = cf.dnnl_memory_create(&e->dbias, &bmd, engine, DNNL_MEMORY_NONE);
	}
	if (fpd)
		cf.dnnl_primitive_desc_destroy(fpd);
	if (dpd)
		cf.dnnl_primitive_desc_destroy(dpd);
	if (wpd)
		cf.dnnl_primitive_desc_destroy(wpd);
	if (st != dnnl_success)
	{
		entry_free(e);
		return false;
	}
	e->used = true;
	e->key = *k;
	return true;
}

static bool
run(BwdEntry *e, dnnl_stream_t stream, const float *dout, const float *inp,
	const float *weight, float *dinp, float *dweight, float *dbias)
{
	dnnl_status_t st = dnnl_success;
	dnnl_exec_arg_t args[5];
	int			nargs;

	/* oneDNN does not write through dout, inp or the weights */
	if (e->data)
	{
		st = maas_dnn_staged_bind(&e->dd_data, dout, true, stream);
		if (st == dnnl_success)
			st = maas_dnn_staged_bind(&e->wei, weight, true, stream);
		if (st == dnnl_success)
			st = maas_dnn_staged_bind(&e->dsrc, dinp, false, stream);
		nargs = 0;
		args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_DIFF_DST, maas_dnn_staged_inner(&e->dd_data)};
		args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_WEIGHTS, maas_dnn_staged_inner(&e->wei)};
		args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_DIFF_SRC, maas_dnn_staged_inner(&e->dsrc)};
		if (e->sp_data)
			args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_SCRATCHPAD, e->sp_data};
		if (st == dnnl_success)
			st = cf.dnnl_primitive_execute(e->data, stream, nargs, args);
		if (st == dnnl_success)
			st = maas_dnn_staged_out(&e->dsrc, stream);
	}
	if (st == dnnl_success)
		st = maas_dnn_staged_bind(&e->src, inp, true, stream);
	if (st == dnnl_success && !e->dd_shared)
		st = maas_dnn_staged_bind(&e->dd_wts, dout, true, stream);
	if (st == dnnl_success)
		st = maas_dnn_staged_bind(&e->dwei, dweight, false, stream);
	if (st == dnnl_success)
		st = cf.dnnl_memory_set_data_handle(e->dbias, dbias);
	nargs = 0;
	args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_SRC, maas_dnn_staged_inner(&e->src)};
	args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_DIFF_DST,
		maas_dnn_staged_inner(e->dd_shared ? &e->dd_data : &e->dd_wts)};
	args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_DIFF_WEIGHTS, maas_dnn_staged_inner(&e->dwei)};
	args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_DIFF_BIAS, e->dbias};
	if (e->sp_wts)
		args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_SCRATCHPAD, e->sp_wts};
	if (st == dnnl_success)
		st = cf.dnnl_primitive_execute(e->weights, stream, nargs, args);
	if (st == dnnl_success)
		st = maas_dnn_staged_out(&e->dwei, stream);
	if (st == dnnl_success)
		st = cf.dnnl_stream_wait(stream);
	return st == dnnl_success;
}

static bool
dnn_backward(const MaasConv2d *p, int threads, int n, const float *dout,
			 const float *inp, const float *weight, float *dinp, float *dweight,
			 float *dbias, int slot)
{
	BwdEntry   *cache = caches[slot];
	dnnl_engine_t engine;
	dnnl_stream_t stream;
	int			omp_was;
	BwdKey		k;
	BwdEntry   *e = NULL;
	bool		ok;

	if (!maas_dnn_conv_env_at(slot, &engine, &stream))
		return false;
	key_of(&k, p, n, threads, dinp != NULL);
	for (int i = 0; i < BWD_CACHE; i++)
		if (cache[i].used && memcmp(&cache[i].key, &k, sizeof(k)) == 0)
		{
			e = &cache[i];
			break;
		}
	if (e != NULL && e->failed)
		return false;
	omp_was = maas_dnn_conv_threads_begin(threads);
	if (e == NULL)
	{
		e = MAAS_DNN_LRU_SLOT(cache, BWD_CACHE);
		if (e->used)
			entry_free(e);
		if (!entry_make(e, p, &k, engine))
		{
			/* remembered, so that the shape is not tried on every call */
			e->used = true;
			e->failed = true;
			e->key = k;
		}
	}
	e->stamp = ++clocks[slot];
	ok = !e->failed && run(e, stream, dout, inp, weight, dinp, dweight, dbias);
	maas_dnn_conv_threads_end(omp_was, threads);
	return ok;
}

bool
maas_dnn_conv2d_backward(const MaasConv2d *p, int threads, int n, const float *dout,
						 const float *inp, const float *weight, float *dinp,
						 float *dweight, float *dbias, int slot)
{
	sigset_t	old;
	bool		ok;

	if (n < 1 || threads < 1 || dweight == NULL || dbias == NULL || slot < 0 ||
		slot >= MAAS_CONV_SLOTS)
		return false;
	maas_block_signals(&old);
	ok = dnn_backward(p, threads, n, dout, inp, weight, dinp, dweight, dbias, slot);
	maas_restore_signals(&old);
	return ok;
}

void
maas_dnn_conv_backward_clear(void)
{
	for (int s = 0; s < MAAS_CONV_SLOTS; s++)
		for (int i = 0; i < BWD_CACHE; i++)
			if (caches[s][i].used)
				entry_free(&caches[s][i]);
}

#else							/* !MAAS_ONEDNN */

bool
maas_dnn_conv2d_backward(const MaasConv2d *p, int threads, int n, const float *dout,
						 const float *inp, const float *weight, float *dinp,
						 float *dweight, float *dbias, int slot)
{
	(void) slot;
	(void) p;
	(void) threads;
	(void) n;
	(void) dout;
	(void) inp;
	(void) weight;
	(void) dinp;
	(void) dweight;
	(void) dbias;
	return false;
}

void
maas_dnn_conv_backward_clear(void)
{
}
#endif							/* MAAS_ONEDNN */
