/*
 * blas_dispatch.c
 *		The matrix backend's dispatcher (see blas.h): the calls behind the
 *		MaasBlas table that blas.c fills in.  Each runs its operation's first
 *		choice (blas.c's choose()) and falls back to the second when the first
 *		cannot take the call; packing makes oneDNN's packed weights for the
 *		operations whose choice runs the matmul primitive.
 */
#include "blas_int.h"
#include "conv.h"
#include "quantize.h"

#include <stdint.h>
#include <string.h>

/* ---- f32 ---- */

static bool
valid_trans(int t)
{
	return t == MAAS_CBLAS_NO_TRANS || t == MAAS_CBLAS_TRANS || t == 113;
}

void
blas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha,
		const float *a, int lda, const float *b, int ldb,
		float beta, float *c, int ldc)
{
	MaasGemmOp op = (m == 1 || n == 1) ? MAAS_GEMM_SGEMV : MAAS_GEMM_SGEMM;

	/*
	 * oneDNN leaves C alone when k is 0, where BLAS scales it by beta:
	 * empty products go to the library.
	 */
	if (blas_state.op[op].first == IMPL_DNN_SGEMM && valid_trans(ta) && valid_trans(tb) &&
		m > 0 && n > 0 && k > 0)
	{
		bool		ok = false;

		if (order == MAAS_CBLAS_ROW_MAJOR)
			ok = maas_dnn_sgemm(ta != MAAS_CBLAS_NO_TRANS, tb != MAAS_CBLAS_NO_TRANS,
								m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
		else if (order == MAAS_CBLAS_COL_MAJOR)
			ok = maas_dnn_sgemm(tb != MAAS_CBLAS_NO_TRANS, ta != MAAS_CBLAS_NO_TRANS,
								n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
		if (ok)
			return;
		blas_state.info.onednn_failures++;
	}
	blas_state.lib_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void
blas_sgemv(int order, int trans, int m, int n, float alpha,
		const float *a, int lda, const float *x, int incx,
		float beta, float *y, int incy)
{
	if (blas_state.op[MAAS_GEMM_SGEMV].first == IMPL_DNN_SGEMM && incx == 1 && incy == 1 &&
		valid_trans(trans) && m > 0 && n > 0 &&
		(order == MAAS_CBLAS_ROW_MAJOR || order == MAAS_CBLAS_COL_MAJOR))
	{
		/*
		 * y as one row: y^T = x^T op(A)^T.  Row-major A is [m, n]; a
		 * column-major A is the row-major [n, m] matrix transposed.
		 */
		bool		t = trans != MAAS_CBLAS_NO_TRANS;
		bool		row = order == MAAS_CBLAS_ROW_MAJOR;
		int			ny = t ? n : m;
		int			nx = t ? m : n;

		if (maas_dnn_sgemm(false, row != t, 1, ny, nx, alpha, x, nx, a, lda,
						   beta, y, ny))
			return;
		blas_state.info.onednn_failures++;
	}
	blas_state.lib_sgemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

/* ---- the dense-layer entry points ---- */

static bool
check_dense(const MaasWeights *w, MaasWeightType type, int m, const float *x,
			int ldx, float *y, int ldy, MaasError *err)
{
	static const char *const names[] = {"f32", "bf16", "int8"};

	if (w == NULL || w->type != type)
		return maas_error(err, MAAS_ERR_INVALID, "weights are not of type %s", names[type]);
	if (w->n < 1 || w->k < 1 || w->data == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "weight shape [%d, %d] is empty", w->n, w->k);
	if (m < 0 || ldx < w->k || ldy < w->n)
		return maas_error(err, MAAS_ERR_INVALID,
						  "bad dense call: %d rows, ldx %d for %d inputs, ldy %d for %d outputs",
						  m, ldx, w->k, ldy, w->n);
	if (m > 0 && (x == NULL || y == NULL))
		return maas_error(err, MAAS_ERR_INVALID, "dense call without input or output");
	if (type == MAAS_W_S8)
	{
		if (w->k > MAAS_S8_MAX_K)
			return maas_error(err, MAAS_ERR_LIMIT,
							  "int8 weights may have at most %d inputs, not %d",
							  MAAS_S8_MAX_K, w->k);
		if (w->scale == NULL || w->sum == NULL)
			return maas_error(err, MAAS_ERR_INVALID, "int8 weights without scales or sums");
	}
	return true;
}

/* y rows = bias, so that a product can be added with beta 1 */
static float
fill_bias(int m, int n, const float *bias, float *y, int ldy)
{
	if (bias == NULL)
		return 0.0f;
	for (int i = 0; i < m; i++)
		memcpy(y + (size_t) i * ldy, bias, sizeof(float) * n);
	return 1.0f;
}

static void
add_bias(int n, const float *bias, float *y)
{
	if (bias != NULL)
		for (int j = 0; j < n; j++)
			y[j] += bias[j];
}

static bool
f32_blas(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
		 float *y, int ldy, bool dnn)
{
	float		beta = fill_bias(m, w->n, bias, y, ldy);

	if (dnn)
		return maas_dnn_sgemm(false, true, m, w->n, w->k, 1.0f, x, ldx, w->data, w->k,
							  beta, y, ldy);
	if (m == 1)
		blas_state.lib_sgemv(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, w->n, w->k, 1.0f,
					w->data, w->k, x, 1, beta, y, 1);
	else
		blas_state.lib_sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
					m, w->n, w->k, 1.0f, x, ldx, w->data, w->k, beta, y, ldy);
	return true;
}

static bool
run_f32(Impl impl, const Choice *c, const MaasWeights *w, int m, const float *x,
		int ldx, const float *bias, float *y, int ldy, MaasError *err)
{
	switch (impl)
	{
		case IMPL_DNN_MATMUL_PACKED:
			if (!maas_dnn_packed_ok(w->packed, MAAS_DNN_F32, w->n, w->k))
				return false;
			/* fall through */
		case IMPL_DNN_MATMUL:
			return maas_dnn_matmul(MAAS_DNN_F32, m, w->n, w->k, x, ldx, w->data, w->k,
								   w->packed, bias, y, ldy, err);
		case IMPL_DNN_SGEMM:
			return f32_blas(w, m, x, ldx, bias, y, ldy, true);
		case IMPL_MAAS:
			for (int i = 0; i < m; i++)
			{
				((MaasF32RowFn) (c->kernel ? c->kernel : maas_f32_row_pick(blas_state.features))->fn)
					(w->n, w->k, x + (size_t) i * ldx,
												w->data, w->k, y + (size_t) i * ldy);
				add_bias(w->n, bias, y + (size_t) i * ldy);
			}
			return true;
		default:
			return f32_blas(w, m, x, ldx, bias, y, ldy, false);
	}
}

bool
blas_gemm_f32(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
		 float *y, int ldy, MaasError *err)
{
	const Choice *c;
	MaasError	e;

	if (!check_dense(w, MAAS_W_F32, m, x, ldx, y, ldy, err))
		return false;
	if (m == 0)
		return true;
	c = &blas_state.op[m == 1 ? MAAS_GEMM_F32_ROW : MAAS_GEMM_F32_ROWS];
	if (m == 1 && c->small_maas && (size_t) w->n * w->k < ROW_SMALL)
		return run_f32(IMPL_MAAS, c, w, m, x, ldx, bias, y, ldy, err);
	e.status = MAAS_OK;
	if (run_f32(c->first, c, w, m, x, ldx, bias, y, ldy, &e))
		return true;
	if (e.status != MAAS_OK)
		blas_state.info.onednn_failures++;
	e.status = MAAS_OK;
	if (run_f32(c->second, c, w, m, x, ldx, bias, y, ldy, &e))
		return true;
	if (e.status != MAAS_OK)
		blas_state.info.onednn_failures++;
	return run_f32(IMPL_BLAS, c, w, m, x, ldx, bias, y, ldy, err);
}

/* ---- bf16 ---- */

/* output channels widened at a time by the batch fallback */
#define WIDEN_BLOCK 256

static bool
bf16_widen(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
		   float *y, int ldy, MaasError *err)
{
	int			nb = w->n < WIDEN_BLOCK ? w->n : WIDEN_BLOCK;
	float	   *wf = maas_kalloc_array((size_t) nb * (size_t) w->k, sizeof(float));
	float		beta = fill_bias(m, w->n, bias, y, ldy);

	if (wf == NULL)
		return maas_error_nomem(err);
	for (int j = 0; j < w->n; j += nb)
	{
		int			cnt = w->n - j < nb ? w->n - j : nb;

		maas_bf16_to_f32_n((const uint16_t *) w->data + (size_t) j * w->k,
						   (size_t) cnt * w->k, wf);
		blas_sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
				m, cnt, w->k, 1.0f, x, ldx, wf, w->k, beta, y + j, ldy);
	}
	return true;
}

static bool
run_bf16(Impl impl, const Choice *c, const MaasWeights *w, int m, const float *x,
		 int ldx, const float *bias, float *y, int ldy, MaasError *err)
{
	switch (impl)
	{
		case IMPL_DNN_MATMUL:
		case IMPL_DNN_MATMUL_PACKED:
			{
				uint16_t   *xb;

				MAAS_SCRATCH_ON_STACK(sc);

				if (impl == IMPL_DNN_MATMUL_PACKED &&
					!maas_dnn_packed_ok(w->packed, MAAS_DNN_BF16, w->n, w->k))
					return false;
				xb = maas_scratch(&sc, (size_t) m * (size_t) w->k, sizeof(uint16_t));
				if (xb == NULL)
					return maas_error_nomem(err);
				for (int i = 0; i < m; i++)
					maas_f32_to_bf16_n(x + (size_t) i * ldx, w->k, xb + (size_t) i * w->k);
				return maas_dnn_matmul(MAAS_DNN_BF16, m, w->n, w->k, xb, w->k, w->data, w->k,
									   w->packed, bias, y, ldy, err);
			}
		case IMPL_MAAS:
			for (int i = 0; i < m; i++)
			{
				((MaasBf16RowFn) c->kernel->fn) (w->n, w->k, x + (size_t) i * ldx,
												 w->data, w->k, y + (size_t) i * ldy);
				add_bias(w->n, bias, y + (size_t) i * ldy);
			}
			return true;
		default:
			return bf16_widen(w, m, x, ldx, bias, y, ldy, err);
	}
}

bool
blas_gemm_bf16(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
		  float *y, int ldy, MaasError *err)
{
	const Choice *c;
	MaasError	e;

	if (!check_dense(w, MAAS_W_BF16, m, x, ldx, y, ldy, err))
		return false;
	if (m == 0)
		return true;
	c = &blas_state.op[m == 1 ? MAAS_GEMM_BF16_ROW : MAAS_GEMM_BF16_ROWS];
	if (m == 1 && c->small_maas && (size_t) w->n * w->k < ROW_SMALL)
		return run_bf16(IMPL_MAAS, c, w, m, x, ldx, bias, y, ldy, err);
	e.status = MAAS_OK;
	if (run_bf16(c->first, c, w, m, x, ldx, bias, y, ldy, &e))
		return true;
	if (e.status == MAAS_ERR_NOMEM)
		return maas_error_nomem(err);
	if (e.status != MAAS_OK)
		blas_state.info.onednn_failures++;
	return run_bf16(c->second, c, w, m, x, ldx, bias, y, ldy, err);
}

/* ---- int8 ---- */

/* oneDNN's integer product of a block, maas's kernel when it fails */
typedef struct DnnProduct
{
	Impl		impl;
	const MaasKernel *fallback;
	const MaasWeights *w;
	const void *packed;
} DnnProduct;

static void
dnn_product(void *ctx, int m, const uint8_t *q, int32_t *c, size_t ldc)
{
	DnnProduct *dp = ctx;
	const MaasWeights *w = dp->w;
	MaasError	e;
	bool		ok;

	if (dp->impl == IMPL_DNN_GEMM_U8S8)
		ok = maas_dnn_gemm_u8s8(m, w->n, w->k, q, w->k, w->data, w->k, c, (int) ldc);
	else
		ok = maas_dnn_matmul(MAAS_DNN_U8S8, m, w->n, w->k, q, w->k, w->data, w->k,
							 dp->packed, NULL, c, (int) ldc, &e);
	if (!ok)
	{
		/* the same integers from maas's kernel */
		blas_state.info.onednn_failures++;
		((MaasS8Fn) dp->fallback->fn) (m, w->n, w->k, q, w->k, w->data, w->k, c, ldc);
	}
}

static bool
gemm_s8_act(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
			bool relu, float *y, int ldy, MaasError *err)
{
	const Choice *c;
	DnnProduct	dp;

	if (!check_dense(w, MAAS_W_S8, m, x, ldx, y, ldy, err))
		return false;
	if (m == 0)
		return true;
	c = &blas_state.op[m == 1 ? MAAS_GEMM_S8_ROW : MAAS_GEMM_S8_ROWS];
	if (c->first == IMPL_MAAS ||
		(m == 1 && c->small_maas && (size_t) w->n * w->k < ROW_SMALL))
		return maas_s8_gemm(c->kernel, w, m, x, ldx, bias, relu, y, ldy, err);
	dp.impl = c->first;
	dp.fallback = c->kernel;
	dp.w = w;
	dp.packed = maas_dnn_packed_ok(w->packed, MAAS_DNN_U8S8, w->n, w->k) ? w->packed : NULL;
	return maas_s8_blocks(w, m, x, ldx, bias, relu, y, ldy, dnn_product, &dp, err);
}

bool
blas_gemm_s8(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
			 float *y, int ldy, MaasError *err)
{
	return gemm_s8_act(w, m, x, ldx, bias, false, y, ldy, err);
}

bool
blas_gemm_s8_relu(const MaasWeights *w, int m, const float *x, int ldx, const float *bias,
				  float *y, int ldy, MaasError *err)
{
	return gemm_s8_act(w, m, x, ldx, bias, true, y, ldy, err);
}

/* ---- convolution ---- */

/*
 * Under "auto", a convolution with few input channels a group stays on
 * im2col: its columns are few (9 rows for the CNN's first layer, 1 -> 32
 * channels 3x3), and oneDNN's kernel with the reorders of its output to
 * and from the blocked layout measured 0.87x im2col there, while on the
 * second layer (32 -> 64) the network ran 1.11x faster with oneDNN
 * (test/bench/cnn_net.sh, one thread).  The threshold between 1 and 32 is
 * a guess; "onednn" runs every shape on oneDNN.
 */
#define CONV_DNN_MIN_CIG 8
#define CONV_MACS_PER_THREAD (8.0 * 1024 * 1024)

/* does oneDNN take a convolution of this layout under the setting */
static bool
conv_on_dnn(const struct MaasConv2d *p, int layout, int thread)
{
	if (!blas_state.conv_dnn || thread < -1 || thread >= MAAS_CONV_SLOTS)
		return false;
	/*
	 * The few-channel rule is for NCHW in and out, where the reorders
	 * weigh; a layer of the layer runtime's NHWC chain has none
	 */
	return blas_state.backend == MAAS_BACKEND_ONEDNN || layout != 0 ||
		p->c_in / p->groups >= CONV_DNN_MIN_CIG;
}

/*
 * The OpenMP threads of a call of n rows; as gemm_onednn.c's threads_for:
 * an OpenMP team costs a wake-up and a barrier a call, which a call of a
 * few rows does not repay (one row a call of the CNN ran 4x slower on two
 * threads than on one).  A thread of tiles (thread >= 0) runs on its own.
 * passes: 1 for the forward pass, 2 for the backward (twice its
 * multiply-adds).
 */
static int
conv_threads(const struct MaasConv2d *p, int n, int thread, double passes)
{
	int			threads = thread >= 0 ? 1 : blas_state.threads;
	double		macs = passes * n * p->c_out * p->h_out * p->w_out *
		(double) (p->c_in / p->groups) * p->kh * p->kw;

	while (threads > 1 && macs < CONV_MACS_PER_THREAD * threads)
		threads--;
	return threads;
}

bool
blas_conv2d_at(const struct MaasConv2d *p, int n, const float *inp,
			   const float *weight, const void *packed, const float *bias,
			   bool relu, float *out, int layout, int thread)
{
	if (!conv_on_dnn(p, layout, thread))
		return false;
	if (maas_dnn_conv2d_at(p, conv_threads(p, n, thread, 1.0), n, inp, weight, packed, bias,
						   relu, out, layout, thread < 0 ? 0 : thread))
		return true;
	__atomic_fetch_add(&blas_state.info.onednn_failures, 1, __ATOMIC_RELAXED);
	return false;
}

bool
blas_conv2d(const struct MaasConv2d *p, int n, const float *inp,
			const float *weight, const float *bias, bool relu, float *out)
{
	return blas_conv2d_at(p, n, inp, weight, NULL, bias, relu, out, 0, -1);
}

/* for one row a call on the backend's thread, as maas_predict runs it */
bool
blas_conv2d_pack(const struct MaasConv2d *p, const float *weight, bool bias,
				 bool relu, int layout, const void **packed, MaasError *err)
{
	*packed = NULL;
	if (!conv_on_dnn(p, layout, -1) || !maas_dnn_conv_ready())
		return true;
	return maas_dnn_conv2d_pack(p, conv_threads(p, 1, -1, 1.0), weight, bias, relu, layout,
								packed, err);
}

/*
 * The backward pass: few input channels a group stay on im2col under
 * "auto" when the gradient at the input is wanted, as in the forward pass;
 * without it (a first layer: the weights' and bias's gradients only) they
 * run on oneDNN, which measured faster there (the CNN's first layer, 1 ->
 * 32 channels, 20,000 rows in batches of 64: 0.27-0.34 s against im2col's
 * 0.49-0.55 s, on one thread or two; AMD EPYC Zen 4).  Threads by the
 * multiply-adds (backward has twice the forward's); a thread of
 * maas_parallel (thread >= 0) runs on its own.
 */
bool
blas_conv2d_backward(const struct MaasConv2d *p, int n, const float *dout,
					 const float *inp, const float *weight, float *dinp,
					 float *dweight, float *dbias, int thread)
{
	if (!blas_state.conv_dnn || thread < -1 || thread >= MAAS_CONV_SLOTS)
		return false;
	if (blas_state.backend != MAAS_BACKEND_ONEDNN && p->c_in / p->groups < CONV_DNN_MIN_CIG &&
		dinp != NULL)
		return false;
	if (maas_dnn_conv2d_backward(p, conv_threads(p, n, thread, 2.0), n, dout, inp, weight,
								 dinp, dweight, dbias, thread < 0 ? 0 : thread))
		return true;
	__atomic_fetch_add(&blas_state.info.onednn_failures, 1, __ATOMIC_RELAXED);
	return false;
}

bool
blas_conv2d_ready(void)
{
	return blas_state.conv_dnn && maas_dnn_conv_ready();
}

/* ---- packing ---- */

/* does op run w on the matmul primitive, which packed weights speed up? */
static bool
uses_matmul(MaasGemmOp op, const MaasWeights *w)
{
	const Choice *c = &blas_state.op[op];
	bool		row = op == MAAS_GEMM_F32_ROW || op == MAAS_GEMM_BF16_ROW ||
		op == MAAS_GEMM_S8_ROW;

	if (row && c->small_maas && (size_t) w->n * w->k < ROW_SMALL)
		return false;
	return c->first == IMPL_DNN_MATMUL || c->first == IMPL_DNN_MATMUL_PACKED;
}

bool
blas_pack(MaasWeights *w, MaasError *err)
{
	MaasDnnKind kind;
	bool		want = false;

	if (w == NULL || w->n < 1 || w->k < 1 || w->data == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "weights to pack are empty");
	switch (w->type)
	{
		case MAAS_W_F32:
			kind = MAAS_DNN_F32;
			want = uses_matmul(MAAS_GEMM_F32_ROW, w) || uses_matmul(MAAS_GEMM_F32_ROWS, w);
			break;
		case MAAS_W_BF16:
			kind = MAAS_DNN_BF16;
			want = uses_matmul(MAAS_GEMM_BF16_ROW, w) || uses_matmul(MAAS_GEMM_BF16_ROWS, w);
			break;
		case MAAS_W_S8:
			kind = MAAS_DNN_U8S8;
			want = uses_matmul(MAAS_GEMM_S8_ROW, w) || uses_matmul(MAAS_GEMM_S8_ROWS, w);
			break;
		default:
			return maas_error(err, MAAS_ERR_INVALID, "unknown weight type %d", (int) w->type);
	}
	if (!want || maas_dnn_packed_ok(w->packed, kind, w->n, w->k))
		return true;
	w->packed = maas_dnn_pack(kind, w->n, w->k, w->data, w->k, err);
	return w->packed != NULL;
}
