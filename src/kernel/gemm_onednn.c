/*
 * gemm_onednn.c
 *		The oneDNN backend: libdnnl.so.2 opened with dlopen() on first use,
 *		dnnl_sgemm, the legacy u8s8s32 GEMM, and the matmul primitive for
 *		f32, bf16 and int8 with a cache of primitives by shape.
 *
 * Why a cache.  Making a matmul primitive costs 0.3-9 ms (oneDNN picks an
 * implementation and generates its code); running one on the MLP's shapes
 * costs 0.01-3 ms.  So primitives are kept, by kind, shape, leading
 * dimensions, weight layout and thread count, in a small table (least
 * recently used out), and the buffers are bound to each call with
 * dnnl_memory_set_data_handle().  A layer used at a few batch sizes keeps a
 * few primitives.  What oneDNN allocates (primitives, their memory objects,
 * its own scratch) is library memory, bounded by the table's size and
 * living as long as the process; weights are never copied into it.
 *
 * Packed weights.  For the matmul's blocked weight layouts (AMX wants
 * them), maas_dnn_pack() reorders a layer's weights once into memory the
 * caller owns (maas_kalloc), headed by the memory descriptor oneDNN chose;
 * the layout does not depend on the batch size (u8 activations, bf16, f32),
 * so one packed copy serves every m.
 *
 * Threads.  Debian builds oneDNN with OpenMP (libgomp).  The thread count
 * is set with omp_set_num_threads() from the calling thread, and the
 * OpenMP team is started at once, with every signal blocked, so that its
 * threads inherit a blocked mask and PostgreSQL's handlers never run on
 * them.  The library's ISA is capped with dnnl_set_max_cpu_isa() before
 * its first kernel is made, to what the enabled features allow.
 *
 * Two callers at once.  The batch path's worker thread (threads.h) and the
 * backend's thread may run products at the same time (batch_pipeline.c
 * joins them on one batch): each has a slot of its own, the backend's 0
 * and the other thread's 1, with its own primitive table (the memory objects
 * bound to a call's buffers are per entry), stream and OpenMP thread
 * count, so nothing the calls change is shared.  oneDNN's primitives and
 * its own cache are safe to use from two threads.
 *
 * Built only against oneDNN 2.x headers (Debian 12's libdnnl-dev); without
 * them every entry point reports that oneDNN is not available.
 */
#include "gemm_onednn_int.h"
#include "signals.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define B(f) MAAS_CPU_BIT(MAAS_CPU_##f)
#define VNNI512 (MAAS_CPU_AVX512_CORE | B(AVX512_VNNI))
#define BF16512 (VNNI512 | B(AVX512_BF16))

/* oneDNN 2.x's ISA levels, best first, and the features each executes */
static const struct
{
	const char *name;
	unsigned	isa;			/* dnnl_cpu_isa_t */
	MaasCpuMask needs;
}			dnn_isas[] = {
	{"avx512_core_amx", 0x3e7, BF16512 | B(AMX_TILE) | B(AMX_INT8) | B(AMX_BF16)},
	{"avx512_core_bf16", 0xe7, BF16512},
	{"avx512_core_vnni", 0x67, VNNI512},
	{"avx512_core", 0x27, MAAS_CPU_AVX512_CORE},
	{"avx2_vnni", 0x407, B(AVX2) | B(FMA) | B(AVX_VNNI)},
	{"avx2", 0x7, B(AVX2) | B(FMA)},
	{"avx", 0x3, B(AVX)},
	{"sse41", 0x1, B(SSE41)},
};
#define N_ISAS ((int) (sizeof(dnn_isas) / sizeof(dnn_isas[0])))

static int
isa_index_for(MaasCpuMask features)
{
	for (int i = 0; i < N_ISAS; i++)
		if ((dnn_isas[i].needs & features) == dnn_isas[i].needs)
			return i;
	return -1;
}

const char *
maas_dnn_isa_for(MaasCpuMask features)
{
	int			i = isa_index_for(features);

	return i < 0 ? "none" : dnn_isas[i].name;
}

static MaasDnnInfo info;
static int	loaded_isa = -1;		/* index into dnn_isas, once loaded */
static int	loaded_version = 0;

bool
maas_dnn_fits(MaasCpuMask features)
{
	return info.loaded && loaded_isa >= 0 &&
		(dnn_isas[loaded_isa].needs & features) == dnn_isas[loaded_isa].needs;
}

/* a string into a fixed buffer, cut to fit */
static void __attribute__((format(printf, 3, 4)))
set_str(char *dst, size_t size, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
}

const MaasDnnInfo *
maas_dnn_info(void)
{
	return &info;
}

void
maas_dnn_set_status(const char *status)
{
	set_str(info.status, sizeof(info.status), "%s", status);
}

#ifdef MAAS_ONEDNN

#define DNN_FUNCS(X) \
	X(dnnl_version) \
	X(dnnl_set_max_cpu_isa) \
	X(dnnl_get_effective_cpu_isa) \
	X(dnnl_set_primitive_cache_capacity) \
	X(dnnl_engine_create) \
	X(dnnl_stream_create) \
	X(dnnl_stream_wait) \
	X(dnnl_memory_desc_init_by_strides) \
	X(dnnl_memory_desc_init_by_tag) \
	X(dnnl_memory_desc_get_size) \
	X(dnnl_memory_desc_equal) \
	X(dnnl_matmul_desc_init) \
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
	X(dnnl_memory_destroy) \
	X(dnnl_sgemm) \
	X(dnnl_gemm_u8s8s32)

#define DNN_PTR(f) __typeof__(f) *f;

static struct
{
	DNN_FUNCS(DNN_PTR)
} dn;

static void *handle = NULL;
static bool tried = false;
static MaasError open_error;
static dnnl_engine_t engine;

/*
 * A caller's slot: 0 for the thread that opened oneDNN (the postmaster's,
 * so a backend's own thread after the fork), 1 for any other.
 */
#define DNN_SLOTS 2
#define SLOT() (pthread_equal(pthread_self(), owner) ? 0 : 1)

static pthread_t owner;

static dnnl_stream_t streams[DNN_SLOTS];
static void (*omp_set_threads) (int);
static void (*gomp_parallel) (void (*) (void *), void *, unsigned, unsigned);
static int	threads_now = 1;		/* the setting */
static int	threads_omp[DNN_SLOTS] = {1, 1};	/* what each slot's OpenMP
												 * was last told */
static int	threads_cap[DNN_SLOTS];	/* a slot's most threads, 0: the setting */
static int	threads_started = 1;

/*
 * Work below this many multiply-adds a thread runs on fewer threads: an
 * OpenMP team costs a wake-up and a barrier per call, which a small product
 * (a GEMV, the MLP's 10-wide last layer) does not repay, and which costs a
 * scheduler time slice when the machine is oversubscribed (as a database
 * server with many backends is).  Measured with test/bench/gemm.
 */
#define DNN_MACS_PER_THREAD (8.0 * 1024 * 1024)

static int
threads_for(int m, int n, int k)
{
	double		macs = (double) m * n * k;
	int			slot = SLOT();
	int			t = threads_now;

	if (threads_cap[slot] > 0 && t > threads_cap[slot])
		t = threads_cap[slot];
	while (t > 1 && macs < DNN_MACS_PER_THREAD * t)
		t--;
	if (t != threads_omp[slot] && omp_set_threads != NULL)
	{
		omp_set_threads(t);
		threads_omp[slot] = t;
	}
	return t;
}

/* the primitive cache */
#define DNN_CACHE 32

typedef struct DnnEntry
{
	bool		used;
	uint64_t	stamp;
	MaasDnnKind kind;
	int			m,
				n,
				k,
				lda,
				ldw,
				ldc,
				threads;
	bool		packed;
	bool		bias;
	dnnl_memory_desc_t wmd;
	dnnl_primitive_t prim;
	dnnl_memory_t src,
				wei,
				bmem,
				dst;
} DnnEntry;

static DnnEntry caches[DNN_SLOTS][DNN_CACHE];
static uint64_t clocks[DNN_SLOTS];

/* what maas_dnn_pack writes before the data */
#define PACK_MAGIC 0x6d61617364706b31ull	/* "maasdpk1" */

typedef struct DnnPacked
{
	uint64_t	magic;
	MaasDnnKind kind;
	int			n,
				k;
	int			isa;			/* the effective ISA it was made for */
	int			version;		/* and oneDNN's version, major * 10000 + ... */
	size_t		offset;			/* from the header to the data */
	dnnl_memory_desc_t md;
} DnnPacked;

static const dnnl_data_type_t src_type[MAAS_DNN_N_KINDS] = {dnnl_f32, dnnl_bf16, dnnl_u8};
static const dnnl_data_type_t wei_type[MAAS_DNN_N_KINDS] = {dnnl_f32, dnnl_bf16, dnnl_s8};
static const dnnl_data_type_t dst_type[MAAS_DNN_N_KINDS] = {dnnl_f32, dnnl_f32, dnnl_s32};

static bool
dnn_fail(MaasError *err, dnnl_status_t st, const char *what)
{
	static const char *const names[] = {
		"success", "out of memory", "invalid arguments", "unimplemented",
		"iterator ends", "runtime error", "not required"
	};
	const char *name = (unsigned) st < sizeof(names) / sizeof(names[0])
		? names[st] : "unknown status";

	return maas_error(err, st == dnnl_out_of_memory ? MAAS_ERR_NOMEM : MAAS_ERR_LIBRARY,
					  "oneDNN could not %s: %s", what, name);
}

static void
noop(void *arg)
{
	(void) arg;
}

/*
 * Set the OpenMP thread count, starting any new threads with every signal
 * blocked (see the top of the file).
 */
static void
apply_threads(int threads)
{
	sigset_t	old;

	if (threads < 1)
		threads = 1;
	if (omp_set_threads != NULL)
		omp_set_threads(threads);
	threads_omp[SLOT()] = threads;
	if (gomp_parallel != NULL && threads > threads_started)
	{
		maas_block_signals(&old);
		gomp_parallel(noop, NULL, (unsigned) threads, 0);
		maas_restore_signals(&old);
		threads_started = threads;
	}
	threads_now = threads;
}

void
maas_dnn_set_threads(int threads)
{
	if (handle != NULL && threads != threads_now)
		apply_threads(threads);
}

/*
 * OpenMP's thread count is the calling thread's: a thread that did not set
 * it (the batch worker) would run oneDNN with OpenMP's default, every
 * core.  threads_for() then keeps it in step as on the backend's thread.
 */
void
maas_dnn_bind_thread(void)
{
	if (handle != NULL && omp_set_threads != NULL)
		omp_set_threads(threads_omp[SLOT()]);
}

/* the calling thread's products on at most threads threads (0: no cap) */
void
maas_dnn_cap_thread(int threads)
{
	threads_cap[SLOT()] = threads > 0 ? threads : 0;
}

bool
maas_dnn_shared(void **library, dnnl_engine_t *eng, dnnl_stream_t *str)
{
	if (handle == NULL)
		return false;
	*library = handle;
	*eng = engine;
	*str = streams[0];
	return true;
}

static const char *
isa_name(unsigned isa)
{
	for (int i = 0; i < N_ISAS; i++)
		if (dnn_isas[i].isa == isa)
			return dnn_isas[i].name;
	return isa == 0 ? "all" : "unknown";
}

bool
maas_dnn_open(const char *library, int threads, MaasCpuMask features, MaasError *err)
{
	const dnnl_version_t *v;
	int			isa;
	dnnl_status_t st;

	if (tried)
	{
		if (handle != NULL)
		{
			maas_dnn_set_threads(threads);
			return true;
		}
		if (err != NULL)
			*err = open_error;
		return false;
	}
	tried = true;
	owner = pthread_self();
	if (library == NULL || library[0] == '\0')
		library = "libdnnl.so.2";
	set_str(info.library, sizeof(info.library), "%s", library);

	isa = isa_index_for(features);
	if (isa < 0)
	{
		maas_error(&open_error, MAAS_ERR_UNSUPPORTED,
				   "oneDNN needs at least SSE4.1, which is disabled or absent");
		goto fail;
	}

	/*
	 * OpenMP threads that finish first sleep at once rather than spin: on
	 * a database server other backends want the cores, and the products
	 * that get several threads (threads_for) are long enough that a
	 * wake-up is noise.  Read by libgomp when it loads; a value the DBA
	 * set in the server's environment is kept.
	 */
	setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
	handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL)
	{
		const char *why = dlerror();

		maas_error(&open_error, MAAS_ERR_LIBRARY, "%s", why ? why : "cannot open oneDNN");
		goto fail;
	}
#define DNN_SYM(f) \
	dn.f = (__typeof__(f) *) dlsym(handle, #f); \
	if (dn.f == NULL) \
	{ \
		maas_error(&open_error, MAAS_ERR_LIBRARY, \
				   "library \"%s\" has no function \"%s\"", library, #f); \
		goto fail_close; \
	}
	DNN_FUNCS(DNN_SYM)
#undef DNN_SYM

	v = dn.dnnl_version();
	if (v == NULL || v->major != DNNL_VERSION_MAJOR)
	{
		maas_error(&open_error, MAAS_ERR_UNSUPPORTED,
				   "library \"%s\" is oneDNN %d, maas was built for %d.x",
				   library, v ? v->major : -1, DNNL_VERSION_MAJOR);
		goto fail_close;
	}
	set_str(info.version, sizeof(info.version), "%d.%d.%d", v->major, v->minor, v->patch);
	loaded_version = v->major * 10000 + v->minor * 100 + v->patch;
	set_str(info.runtime, sizeof(info.runtime), "%s",
			 v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp" :
			 v->cpu_runtime == DNNL_RUNTIME_TBB ? "tbb" :
			 v->cpu_runtime == DNNL_RUNTIME_SEQ ? "seq" :
			 v->cpu_runtime == DNNL_RUNTIME_THREADPOOL ? "threadpool" : "other");

	/* before any kernel is generated */
	st = dn.dnnl_set_max_cpu_isa((dnnl_cpu_isa_t) dnn_isas[isa].isa);
	if (st != dnnl_success)
	{
		maas_error(&open_error, MAAS_ERR_LIBRARY,
				   "oneDNN was used in this process before maas could cap its ISA to \"%s\"",
				   dnn_isas[isa].name);
		goto fail_close;
	}
	info.max_isa = (int) dnn_isas[isa].isa;
	loaded_isa = isa;
	set_str(info.isa, sizeof(info.isa), "%s", isa_name(dn.dnnl_get_effective_cpu_isa()));
	dn.dnnl_set_primitive_cache_capacity(2 * DNN_CACHE);

	st = dn.dnnl_engine_create(&engine, dnnl_cpu, 0);
	if (st == dnnl_success)
		st = dn.dnnl_stream_create(&streams[0], engine, dnnl_stream_default_flags);
	if (st != dnnl_success)
	{
		dnn_fail(&open_error, st, "create its CPU engine");
		goto fail_close;
	}

	omp_set_threads = (void (*) (int)) dlsym(handle, "omp_set_num_threads");
	gomp_parallel = (void (*) (void (*) (void *), void *, unsigned, unsigned))
		dlsym(handle, "GOMP_parallel");
	threads_now = 0;
	apply_threads(threads);

	info.loaded = true;
	info.status[0] = '\0';
	return true;

fail_close:
	dlclose(handle);
	handle = NULL;
fail:
	set_str(info.status, sizeof(info.status), "%s", open_error.msg);
	if (err != NULL)
		*err = open_error;
	return false;
}

static bool
dnn_sgemm(bool ta, bool tb, int m, int n, int k, float alpha,
		  const float *a, int lda, const float *b, int ldb,
		  float beta, float *c, int ldc)
{
	if (handle == NULL)
		return false;
	threads_for(m, n, k);
	return dn.dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha,
						 a, lda, b, ldb, beta, c, ldc) == dnnl_success;
}

static bool
dnn_gemm_u8s8(int m, int n, int k, const uint8_t *a, int lda,
			  const int8_t *w, int ldw, int32_t *c, int ldc)
{
	const int32_t co = 0;

	if (handle == NULL)
		return false;
	threads_for(m, n, k);
	return dn.dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.0f, a, lda, 0,
								w, ldw, 0, 0.0f, c, ldc, &co) == dnnl_success;
}

static void
entry_free(DnnEntry *e)
{
	if (e->prim)
		dn.dnnl_primitive_destroy(e->prim);
	if (e->src)
		dn.dnnl_memory_destroy(e->src);
	if (e->wei)
		dn.dnnl_memory_destroy(e->wei);
	if (e->bmem)
		dn.dnnl_memory_destroy(e->bmem);
	if (e->dst)
		dn.dnnl_memory_destroy(e->dst);
	memset(e, 0, sizeof(*e));
}

void
maas_dnn_cache_clear(void)
{
	if (handle == NULL)
		return;
	for (int s = 0; s < DNN_SLOTS; s++)
		for (int i = 0; i < DNN_CACHE; i++)
			if (caches[s][i].used)
				entry_free(&caches[s][i]);
	/* and oneDNN's own cache of primitives */
	dn.dnnl_set_primitive_cache_capacity(0);
	dn.dnnl_set_primitive_cache_capacity(2 * DNN_CACHE);
}

/* w [n, k] row-major, as oneDNN's k x n weights */
static dnnl_status_t
plain_weights_md(dnnl_memory_desc_t *md, MaasDnnKind kind, int n, int k, int ldw)
{
	dnnl_dims_t dims = {k, n};
	dnnl_dims_t strides = {1, ldw};

	return dn.dnnl_memory_desc_init_by_strides(md, 2, dims, wei_type[kind], strides);
}

/*
 * A matmul primitive descriptor for kind and shape with the given weights
 * md (plain, packed, or format "any").
 */
static dnnl_status_t
matmul_pd(dnnl_primitive_desc_t *pd, MaasDnnKind kind, int m, int n, int k,
		  int lda, int ldc, const dnnl_memory_desc_t *wmd, bool bias)
{
	dnnl_memory_desc_t smd,
				bmd,
				dmd;
	dnnl_matmul_desc_t desc;
	dnnl_dims_t sdims = {m, k},
				sstr = {lda, 1};
	dnnl_dims_t ddims = {m, n},
				dstr = {ldc, 1};
	dnnl_dims_t bdims = {1, n},
				bstr = {n, 1};
	dnnl_status_t st;

	st = dn.dnnl_memory_desc_init_by_strides(&smd, 2, sdims, src_type[kind], sstr);
	if (st == dnnl_success)
		st = dn.dnnl_memory_desc_init_by_strides(&dmd, 2, ddims, dst_type[kind], dstr);
	if (st == dnnl_success && bias)
		st = dn.dnnl_memory_desc_init_by_strides(&bmd, 2, bdims, dnnl_f32, bstr);
	if (st == dnnl_success)
		st = dn.dnnl_matmul_desc_init(&desc, &smd, wmd, bias ? &bmd : NULL, &dmd);
	if (st == dnnl_success)
		st = dn.dnnl_primitive_desc_create(pd, &desc, NULL, engine, NULL);
	return st;
}

static DnnEntry *
entry_make(MaasDnnKind kind, int m, int n, int k, int lda, int ldw, int ldc,
		   const dnnl_memory_desc_t *wmd, bool packed, bool bias, int threads,
		   MaasError *err)
{
	DnnEntry   *e;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_status_t st;
	const char *impl = NULL;

	e = MAAS_DNN_LRU_SLOT(caches[SLOT()], DNN_CACHE);
	if (e->used)
		entry_free(e);

	st = matmul_pd(&pd, kind, m, n, k, lda, ldc, wmd, bias);
	if (st == dnnl_success)
		st = dn.dnnl_primitive_create(&e->prim, pd);
	if (st == dnnl_success)
		st = dn.dnnl_memory_create(&e->src, dn.dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
								   engine, DNNL_MEMORY_NONE);
	if (st == dnnl_success)
		st = dn.dnnl_memory_create(&e->wei, wmd, engine, DNNL_MEMORY_NONE);
	if (st == dnnl_success && bias)
		st = dn.dnnl_memory_create(&e->bmem, dn.dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1),
								   engine, DNNL_MEMORY_NONE);
	if (st == dnnl_success)
		st = dn.dnnl_memory_create(&e->dst, dn.dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
								   engine, DNNL_MEMORY_NONE);
	if (st == dnnl_success &&
		dn.dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
		impl != NULL && SLOT() == 0)
		set_str(info.impl[kind][m == 1], sizeof(info.impl[kind][m == 1]), "%s", impl);
	if (pd != NULL)
		dn.dnnl_primitive_desc_destroy(pd);
	if (st != dnnl_success)
	{
		entry_free(e);
		dnn_fail(err, st, "make a matmul primitive");
		return NULL;
	}
	e->used = true;
	e->kind = kind;
	e->m = m;
	e->n = n;
	e->k = k;
	e->lda = lda;
	e->ldw = ldw;
	e->ldc = ldc;
	e->threads = threads;
	e->packed = packed;
	e->bias = bias;
	e->wmd = *wmd;
	return e;
}

static const DnnPacked *
packed_header(const void *packed)
{
	return (const DnnPacked *) packed;
}

bool
maas_dnn_packed_ok(const void *packed, MaasDnnKind kind, int n, int k)
{
	const DnnPacked *h = packed_header(packed);

	return handle != NULL && h != NULL && h->magic == PACK_MAGIC && h->kind == kind &&
		h->n == n && h->k == k && h->isa == (int) dn.dnnl_get_effective_cpu_isa() &&
		h->version == loaded_version;
}

static bool
dnn_matmul(MaasDnnKind kind, int m, int n, int k,
		   const void *a, int lda, const void *w, int ldw,
		   const void *packed, const float *bias,
		   void *c, int ldc, MaasError *err)
{
	DnnEntry   *e = NULL;
	dnnl_memory_desc_t plain;
	const dnnl_memory_desc_t *wmd;
	const void *wdata;
	bool		has_bias = bias != NULL && kind != MAAS_DNN_U8S8;
	dnnl_status_t st;
	dnnl_exec_arg_t args[4];
	int			nargs = 0;
	int			threads;
	int			slot = SLOT();
	DnnEntry   *cache = caches[slot];

	if (handle == NULL)
		return maas_error(err, MAAS_ERR_LIBRARY, "oneDNN is not loaded");
	if (streams[slot] == NULL)
	{
		st = dn.dnnl_stream_create(&streams[slot], engine, dnnl_stream_default_flags);
		if (st != dnnl_success)
		{
			streams[slot] = NULL;
			return dnn_fail(err, st, "create a stream");
		}
	}
	if (packed != NULL && maas_dnn_packed_ok(packed, kind, n, k))
	{
		const DnnPacked *h = packed_header(packed);

		wmd = &h->md;
		wdata = (const char *) packed + h->offset;
		ldw = 0;
	}
	else
	{
		packed = NULL;
		st = plain_weights_md(&plain, kind, n, k, ldw);
		if (st != dnnl_success)
			return dnn_fail(err, st, "describe the weights");
		wmd = &plain;
		wdata = w;
	}

	/* a primitive is planned for the thread count it is made with */
	threads = threads_for(m, n, k);
	for (int i = 0; i < DNN_CACHE; i++)
	{
		DnnEntry   *x = &cache[i];

		if (x->used && x->kind == kind && x->m == m && x->n == n && x->k == k &&
			x->lda == lda && x->ldw == ldw && x->ldc == ldc &&
			x->threads == threads && x->packed == (packed != NULL) &&
			x->bias == has_bias &&
			(packed == NULL || dn.dnnl_memory_desc_equal(&x->wmd, wmd)))
		{
			e = x;
			break;
		}
	}
	if (e == NULL)
	{
		e = entry_make(kind, m, n, k, lda, ldw, ldc, wmd, packed != NULL, has_bias, threads, err);
		if (e == NULL)
			return false;
	}
	e->stamp = ++clocks[slot];

	/* oneDNN does not write through src, weights or bias */
	st = dn.dnnl_memory_set_data_handle(e->src, (void *) a);
	if (st == dnnl_success)
		st = dn.dnnl_memory_set_data_handle(e->wei, (void *) wdata);
	if (st == dnnl_success && has_bias)
		st = dn.dnnl_memory_set_data_handle(e->bmem, (void *) bias);
	if (st == dnnl_success)
		st = dn.dnnl_memory_set_data_handle(e->dst, c);
	if (st != dnnl_success)
		return dnn_fail(err, st, "bind the buffers of a matmul");

	args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_SRC, e->src};
	args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_WEIGHTS, e->wei};
	if (has_bias)
		args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_BIAS, e->bmem};
	args[nargs++] = (dnnl_exec_arg_t) {DNNL_ARG_DST, e->dst};
	st = dn.dnnl_primitive_execute(e->prim, streams[slot], nargs, args);
	if (st == dnnl_success)
		st = dn.dnnl_stream_wait(streams[slot]);
	if (st != dnnl_success)
		return dnn_fail(err, st, "run a matmul");
	return true;
}

/* the batch size the packed layout is chosen for (it does not depend on it) */
#define PACK_M 64

static const void *
dnn_pack(MaasDnnKind kind, int n, int k, const void *w, int ldw, MaasError *err)
{
	dnnl_memory_desc_t any,
				plain;
	dnnl_dims_t dims = {k, n};
	dnnl_primitive_desc_t pd = NULL,
				rpd = NULL;
	dnnl_primitive_t reorder = NULL;
	dnnl_memory_t from = NULL,
				to = NULL;
	const dnnl_memory_desc_t *wq;
	DnnPacked  *h = NULL;
	char	   *buf;
	size_t		size,
				offset,
				total;
	dnnl_status_t st;

	if (handle == NULL)
	{
		maas_error(err, MAAS_ERR_LIBRARY, "oneDNN is not loaded");
		return NULL;
	}
	st = dn.dnnl_memory_desc_init_by_tag(&any, 2, dims, wei_type[kind], dnnl_format_tag_any);
	if (st == dnnl_success)
		st = matmul_pd(&pd, kind, PACK_M, n, k, k, n, &any, kind != MAAS_DNN_U8S8);
	if (st != dnnl_success)
	{
		dnn_fail(err, st, "choose a weight layout");
		return NULL;
	}
	wq = dn.dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	size = dn.dnnl_memory_desc_get_size(wq);
	offset = (sizeof(DnnPacked) + 63) & ~(size_t) 63;
	if (!maas_add_size(offset + 64, size, &total) || (buf = maas_kalloc(total)) == NULL)
	{
		dn.dnnl_primitive_desc_destroy(pd);
		maas_error_nomem(err);
		return NULL;
	}
	/* the data starts 64-byte aligned; the header sits just before it */
	{
		uintptr_t	data = ((uintptr_t) buf + offset + 63) & ~(uintptr_t) 63;

		h = (DnnPacked *) (data - offset);
	}
	memset(h, 0, sizeof(*h));
	h->magic = PACK_MAGIC;
	h->kind = kind;
	h->n = n;
	h->k = k;
	h->isa = (int) dn.dnnl_get_effective_cpu_isa();
	h->version = loaded_version;
	h->offset = offset;
	h->md = *wq;
	dn.dnnl_primitive_desc_destroy(pd);

	st = plain_weights_md(&plain, kind, n, k, ldw);
	if (st == dnnl_success)
		st = dn.dnnl_reorder_primitive_desc_create(&rpd, &plain, engine, &h->md, engine, NULL);
	if (st == dnnl_success)
		st = dn.dnnl_primitive_create(&reorder, rpd);
	if (st == dnnl_success)
		st = dn.dnnl_memory_create(&from, &plain, engine, (void *) w);
	if (st == dnnl_success)
		st = dn.dnnl_memory_create(&to, &h->md, engine, (char *) h + offset);
	if (st == dnnl_success)
	{
		dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};

		st = dn.dnnl_primitive_execute(reorder, streams[0], 2, args);
		if (st == dnnl_success)
			st = dn.dnnl_stream_wait(streams[0]);
	}
	if (from)
		dn.dnnl_memory_destroy(from);
	if (to)
		dn.dnnl_memory_destroy(to);
	if (reorder)
		dn.dnnl_primitive_destroy(reorder);
	if (rpd)
		dn.dnnl_primitive_desc_destroy(rpd);
	if (st != dnnl_success)
	{
		dnn_fail(err, st, "reorder the weights");
		return NULL;
	}
	return h;
}

/*
 * The entry points: every call into oneDNN runs with all signals blocked.
 * A cancel or a statement_timeout that arrived while a trainer's sgemm ran
 * in oneDNN's generated code corrupted the heap (glibc: "corrupted size vs.
 * prev_size" when the aborted training's memory was freed; 3 of 15 runs of
 * test/t/020_train_cancel.pl on a loaded machine, none in 12 with the same
 * sgemm on OpenBLAS).  Blocked for the call, the signal is taken when it
 * returns, and the interrupt is seen at the caller's next tick.  It costs
 * two pthread_sigmask() calls, well under a microsecond, against calls of
 * tens of microseconds and more (small one-row products never come here).
 */
bool
maas_dnn_sgemm(bool ta, bool tb, int m, int n, int k, float alpha,
			   const float *a, int lda, const float *b, int ldb,
			   float beta, float *c, int ldc)
{
	sigset_t	old;
	bool		ok;

	maas_block_signals(&old);
	ok = dnn_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	maas_restore_signals(&old);
	return ok;
}

bool
maas_dnn_gemm_u8s8(int m, int n, int k, const uint8_t *a, int lda,
				   const int8_t *w, int ldw, int32_t *c, int ldc)
{
	sigset_t	old;
	bool		ok;

	maas_block_signals(&old);
	ok = dnn_gemm_u8s8(m, n, k, a, lda, w, ldw, c, ldc);
	maas_restore_signals(&old);
	return ok;
}

bool
maas_dnn_matmul(MaasDnnKind kind, int m, int n, int k,
				const void *a, int lda, const void *w, int ldw,
				const void *packed, const float *bias,
				void *c, int ldc, MaasError *err)
{
	sigset_t	old;
	bool		ok;

	maas_block_signals(&old);
	ok = dnn_matmul(kind, m, n, k, a, lda, w, ldw, packed, bias, c, ldc, err);
	maas_restore_signals(&old);
	return ok;
}

const void *
maas_dnn_pack(MaasDnnKind kind, int n, int k, const void *w, int ldw, MaasError *err)
{
	sigset_t	old;
	const void *p;

	maas_block_signals(&old);
	p = dnn_pack(kind, n, k, w, ldw, err);
	maas_restore_signals(&old);
	return p;
}

#endif							/* MAAS_ONEDNN */
