/*
 * gemm_int8.c
 *		maas's own int8 GEMM: u8 activations times s8 weights, summed
 *		exactly in int32, then the dequantization every backend shares.
 *
 * Four variants of one operation, c[i, j] = sum_k a[i, k] * w[j, k] with
 * a u8 and w s8 (both row-major, k contiguous):
 *
 *	  avx512_vnni  vpdpbusd on 64 bytes, blocks of 4 rows x 4 channels
 *	  avx_vnni	   vpdpbusd (VEX) on 32 bytes, blocks of 2 x 4
 *	  avx2		   widen to 16 bits and vpmaddwd (no vpmaddubsw: that one
 *				   saturates at 16 bits), blocks of 2 x 4
 *	  c			   plain loops
 *
 * Integer sums do not depend on the order they are taken in, and none can
 * overflow for k <= MAAS_S8_MAX_K (blas.h gives the bound), so every
 * variant returns the same int32 matrix; the unit tests check that against
 * an int64 reference.  Each variant is a dot-product kernel over rows of a
 * and rows of w as they are stored: no packing, so one row (the serving
 * path's GEMV) costs one pass over the weights.  oneDNN's AMX kernels are
 * faster for batches; these are what runs when it is absent or capped.
 */
#include "gemm.h"
#include "quantize.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define MAAS_X86_SIMD 1
#endif

/* ---- plain C ---- */

static void
s8_c(int m, int n, int k, const uint8_t *a, size_t lda,
	 const int8_t *w, size_t ldw, int32_t *c, size_t ldc)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++)
		{
			const uint8_t *ar = a + (size_t) i * lda;
			const int8_t *wr = w + (size_t) j * ldw;
			int32_t		s = 0;

			for (int p = 0; p < k; p++)
				s += (int32_t) ar[p] * (int32_t) wr[p];
			c[(size_t) i * ldc + j] = s;
		}
}

#ifdef MAAS_X86_SIMD

/* ---- AVX-512 VNNI ---- */

#define VNNI_TARGET "avx512f,avx512bw,avx512vl,avx512vnni"

__attribute__((target(VNNI_TARGET)))
static inline __mmask64
tail_mask64(int left)
{
	return left >= 64 ? ~(__mmask64) 0 : (((__mmask64) 1 << left) - 1);
}

/* the sum of the 16 lanes of each of four vectors, as one 128-bit vector */
__attribute__((target(VNNI_TARGET)))
static inline __m128i
sum4_512(__m512i a0, __m512i a1, __m512i a2, __m512i a3)
{
	__m512i		t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
	__m512i		t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
	__m512i		u = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
	__m256i		h = _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));

	return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/*
 * MR rows of a by NR rows of w; MR and NR are constants at each call, so
 * the accumulators stay in registers.
 */
#define VNNI_BLOCK(MR, NR) \
__attribute__((target(VNNI_TARGET))) \
static void \
vnni_##MR##x##NR(int k, const uint8_t *a, size_t lda, const int8_t *w, \
				 size_t ldw, int32_t *c, size_t ldc) \
{ \
	__m512i		acc[MR][4]; \
	for (int r = 0; r < MR; r++) \
		for (int j = 0; j < 4; j++) \
			acc[r][j] = _mm512_setzero_si512(); \
	for (int p = 0; p < k; p += 64) \
	{ \
		__mmask64	msk = tail_mask64(k - p); \
		__m512i		av[MR]; \
		for (int r = 0; r < MR; r++) \
			av[r] = _mm512_maskz_loadu_epi8(msk, a + r * lda + p); \
		for (int j = 0; j < NR; j++) \
		{ \
			__m512i		wv = _mm512_maskz_loadu_epi8(msk, w + j * ldw + p); \
			for (int r = 0; r < MR; r++) \
				acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], av[r], wv); \
		} \
	} \
	for (int r = 0; r < MR; r++) \
	{ \
		int32_t		out[4]; \
		_mm_storeu_si128((__m128i *) out, sum4_512(acc[r][0], acc[r][1], acc[r][2], acc[r][3])); \
		for (int j = 0; j < NR; j++) \
			c[r * ldc + j] = out[j]; \
	} \
}

VNNI_BLOCK(4, 4)
VNNI_BLOCK(4, 1)
VNNI_BLOCK(1, 4)
VNNI_BLOCK(1, 1)

__attribute__((target(VNNI_TARGET)))
static void
s8_avx512_vnni(int m, int n, int k, const uint8_t *a, size_t lda,
			   const int8_t *w, size_t ldw, int32_t *c, size_t ldc)
{
	int			i = 0;

	for (; i + 4 <= m; i += 4)
	{
		int			j = 0;

		for (; j + 4 <= n; j += 4)
			vnni_4x4(k, a + i * lda, lda, w + j * ldw, ldw, c + i * ldc + j, ldc);
		for (; j < n; j++)
			vnni_4x1(k, a + i * lda, lda, w + j * ldw, ldw, c + i * ldc + j, ldc);
	}
	for (; i < m; i++)
	{
		int			j = 0;

		for (; j + 4 <= n; j += 4)
			vnni_1x4(k, a + i * lda, lda, w + j * ldw, ldw, c + i * ldc + j, ldc);
		for (; j < n; j++)
			vnni_1x1(k, a + i * lda, lda, w + j * ldw, ldw, c + i * ldc + j, ldc);
	}
}

/* ---- AVX2, and AVX-VNNI: the same blocks on 256-bit vectors ---- */

__attribute__((target("avx2")))
static inline __m128i
sum4_256(__m256i a0, __m256i a1, __m256i a2, __m256i a3)
{
	__m256i		t0 = _mm256_hadd_epi32(a0, a1);
	__m256i		t1 = _mm256_hadd_epi32(a2, a3);
	__m256i		u = _mm256_hadd_epi32(t0, t1);

	return _mm_add_epi32(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1));
}

/* the products of 16 bytes of a and w, summed in pairs into 8 int32 */
__attribute__((target("avx2")))
static inline __m256i
madd16_avx2(__m256i a16, const int8_t *w)
{
	__m256i		w16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) w));

	return _mm256_madd_epi16(a16, w16);
}

/*
 * Blocks of MR (1 or 2) rows by NR (1..4) channels on k rounded down to a
 * multiple of STEP; the rest of k in plain C.
 */
#define AVX2_BLOCK(NAME, TARGET, STEP, MR, NR, LOADA, DOT) \
__attribute__((target(TARGET))) \
static void \
NAME##_##MR##x##NR(int k, const uint8_t *a, size_t lda, const int8_t *w, \
				   size_t ldw, int32_t *c, size_t ldc) \
{ \
	__m256i		acc[MR][4]; \
	int			p = 0; \
	for (int r = 0; r < MR; r++) \
		for (int j = 0; j < 4; j++) \
			acc[r][j] = _mm256_setzero_si256(); \
	for (; p + STEP <= k; p += STEP) \
	{ \
		__m256i		av[MR]; \
		for (int r = 0; r < MR; r++) \
			av[r] = LOADA(a + r * lda + p); \
		for (int j = 0; j < NR; j++) \
			for (int r = 0; r < MR; r++) \
				acc[r][j] = DOT(acc[r][j], av[r], w + j * ldw + p); \
	} \
	for (int r = 0; r < MR; r++) \
	{ \
		int32_t		out[4]; \
		_mm_storeu_si128((__m128i *) out, sum4_256(acc[r][0], acc[r][1], acc[r][2], acc[r][3])); \
		for (int j = 0; j < NR; j++) \
		{ \
			int32_t		s = out[j]; \
			for (int q = p; q < k; q++) \
				s += (int32_t) a[r * lda + q] * (int32_t) w[j * ldw + q]; \
			c[r * ldc + j] = s; \
		} \
	} \
}

#define AVX2_LOADA(p)	_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *) (p)))
#define AVX2_DOT(acc, av, wp)	_mm256_add_epi32((acc), madd16_avx2((av), (wp)))

AVX2_BLOCK(avx2, "avx2", 16, 2, 4, AVX2_LOADA, AVX2_DOT)
AVX2_BLOCK(avx2, "avx2", 16, 2, 1, AVX2_LOADA, AVX2_DOT)
AVX2_BLOCK(avx2, "avx2", 16, 1, 4, AVX2_LOADA, AVX2_DOT)
AVX2_BLOCK(avx2, "avx2", 16, 1, 1, AVX2_LOADA, AVX2_DOT)

#define AVXVNNI_TARGET "avx2,avxvnni"
#define AVXVNNI_LOADA(p)	_mm256_loadu_si256((const __m256i *) (p))
#define AVXVNNI_DOT(acc, av, wp) \
	_mm256_dpbusd_avx_epi32((acc), (av), _mm256_loadu_si256((const __m256i *) (wp)))

AVX2_BLOCK(avxvnni, AVXVNNI_TARGET, 32, 2, 4, AVXVNNI_LOADA, AVXVNNI_DOT)
AVX2_BLOCK(avxvnni, AVXVNNI_TARGET, 32, 2, 1, AVXVNNI_LOADA, AVXVNNI_DOT)
AVX2_BLOCK(avxvnni, AVXVNNI_TARGET, 32, 1, 4, AVXVNNI_LOADA, AVXVNNI_DOT)
AVX2_BLOCK(avxvnni, AVXVNNI_TARGET, 32, 1, 1, AVXVNNI_LOADA, AVXVNNI_DOT)

#define AVX2_DRIVER(NAME, TARGET) \
__attribute__((target(TARGET))) \
static void \
s8_##NAME(int m, int n, int k, const uint8_t *a, size_t lda, \
		  const int8_t *w, size_t ldw, int32_t *c, size_t ldc) \
{ \
	int			i = 0; \
	for (; i + 2 <= m; i += 2) \
	{ \
		int			j = 0; \
		for (; j + 4 <= n; j += 4) \
			NAME##_2x4(k, a + i * lda, lda, w + j * ldw, ldw, c + i * ldc + j, ldc); \
		for (; j < n; j++) \
			NAME##_2x1(k, a + i * lda, lda, w + j * ldw, ldw, c + i * ldc + j, ldc); \
	} \
	for (; i < m; i++) \
	{ \
		int			j = 0; \
		for (; j + 4 <= n; j += 4) \
			NAME##_1x4(k, a + i * lda, lda, w + j * ldw, ldw, c + i * ldc + j, ldc); \
		for (; j < n; j++) \
			NAME##_1x1(k, a + i * lda, lda, w + j * ldw, ldw, c + i * ldc + j, ldc); \
	} \
}

AVX2_DRIVER(avx2, "avx2")
AVX2_DRIVER(avxvnni, AVXVNNI_TARGET)
#endif							/* MAAS_X86_SIMD */

#define B(f) MAAS_CPU_BIT(MAAS_CPU_##f)

const MaasKernel maas_s8_kernels[] = {
#ifdef MAAS_X86_SIMD
	{"avx512_vnni", B(AVX512F) | B(AVX512BW) | B(AVX512VL) | B(AVX512_VNNI), (void *) s8_avx512_vnni},
	{"avx_vnni", B(AVX2) | B(AVX_VNNI), (void *) s8_avxvnni},
	{"avx2", B(AVX2), (void *) s8_avx2},
#endif
	{"c", 0, (void *) s8_c},
	{NULL, 0, NULL}
};

const MaasKernel *
maas_s8_pick(MaasCpuMask have)
{
	const MaasKernel *kern = maas_s8_kernels;

	while ((kern->needs & have) != kern->needs)
		kern++;
	return kern;
}

/* ---- the last step: dequantize, bias, relu ---- */

/*
 * The plain C reference, kept without a target attribute on purpose: the
 * baseline x86-64 ISA has no FMA, so the compiler cannot fuse the multiply
 * and the add.  The SIMD variants below take the same steps (an exact
 * integer difference, one conversion, one multiply, one add, the select of
 * relu), each rounded on its own, so all give the same bits.
 *
 * acc may be y itself (ldacc == ldy): each element is read before it is
 * written, at the same place.
 */
static void
dq_c(int m, int n, const int32_t *acc, size_t ldacc, const float *sx,
	 const int32_t *zero, const float *ws, const int32_t *wsum,
	 const float *bias, bool relu, float *y, size_t ldy)
{
	for (int i = 0; i < m; i++)
	{
		const int32_t *ar = acc + (size_t) i * ldacc;
		float	   *yr = y + (size_t) i * ldy;
		float		s = sx[i];
		uint32_t	z = (uint32_t) zero[i];

		/*
		 * acc - zero * sum is the exact sum of (a - zero) * w, which fits
		 * int32 (blas.h); computed modulo 2^32 so that no intermediate can
		 * be an undefined overflow.
		 */
		for (int j = 0; j < n; j++)
		{
			float		v = (float) (int32_t) ((uint32_t) ar[j] - z * (uint32_t) wsum[j]) *
				(s * ws[j]);

			if (bias != NULL)
				v = v + bias[j];
			if (relu)
				v = v > 0.0f ? v : 0.0f;
			yr[j] = v;
		}
	}
}

#ifdef MAAS_X86_SIMD

/*
 * AVX-512: explicit rounding forms of the multiply and add (builtins the
 * compiler never contracts into an FMA, which AVX512F has); max(v, 0)
 * returns its second operand, 0, for NaN and for -0, as the select does.
 */
__attribute__((target("avx512f")))
static void
dq_avx512(int m, int n, const int32_t *acc, size_t ldacc, const float *sx,
		  const int32_t *zero, const float *ws, const int32_t *wsum,
		  const float *bias, bool relu, float *y, size_t ldy)
{
	const __m512 vzero = _mm512_setzero_ps();

	for (int i = 0; i < m; i++)
	{
		const int32_t *ar = acc + (size_t) i * ldacc;
		float	   *yr = y + (size_t) i * ldy;
		__m512		vs = _mm512_set1_ps(sx[i]);
		__m512i		vz = _mm512_set1_epi32(zero[i]);

		for (int j = 0; j < n; j += 16)
		{
			__mmask16	k = n - j >= 16 ? 0xffff : (__mmask16) ((1u << (n - j)) - 1);
			__m512i		d = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(k, ar + j),
											 _mm512_mullo_epi32(vz, _mm512_maskz_loadu_epi32(k, wsum + j)));
			__m512		sc = _mm512_mul_round_ps(vs, _mm512_maskz_loadu_ps(k, ws + j),
												 _MM_FROUND_CUR_DIRECTION);
			__m512		v = _mm512_mul_round_ps(_mm512_cvtepi32_ps(d), sc, _MM_FROUND_CUR_DIRECTION);

			if (bias != NULL)
				v = _mm512_add_round_ps(v, _mm512_maskz_loadu_ps(k, bias + j),
										_MM_FROUND_CUR_DIRECTION);
			if (relu)
				v = _mm512_max_ps(v, vzero);
			_mm512_mask_storeu_ps(yr + j, k, v);
		}
	}
}

/* AVX2 without FMA in the target: the multiply and add stay apart */
__attribute__((target("avx2")))
static void
dq_avx2(int m, int n, const int32_t *acc, size_t ldacc, const float *sx,
		const int32_t *zero, const float *ws, const int32_t *wsum,
		const float *bias, bool relu, float *y, size_t ldy)
{
	const __m256 vzero = _mm256_setzero_ps();

	for (int i = 0; i < m; i++)
	{
		const int32_t *ar = acc + (size_t) i * ldacc;
		float	   *yr = y + (size_t) i * ldy;
		__m256		vs = _mm256_set1_ps(sx[i]);
		__m256i		vz = _mm256_set1_epi32(zero[i]);
		int			j = 0;

		for (; j + 8 <= n; j += 8)
		{
			__m256i		d = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *) (ar + j)),
											 _mm256_mullo_epi32(vz, _mm256_loadu_si256((const __m256i *) (wsum + j))));
			__m256		sc = _mm256_mul_ps(vs, _mm256_loadu_ps(ws + j));
			__m256		v = _mm256_mul_ps(_mm256_cvtepi32_ps(d), sc);

			if (bias != NULL)
				v = _mm256_add_ps(v, _mm256_loadu_ps(bias + j));
			if (relu)
				v = _mm256_max_ps(v, vzero);
			_mm256_storeu_ps(yr + j, v);
		}
		if (j < n)
			dq_c(1, n - j, ar + j, ldacc, sx + i, zero + i, ws + j, wsum + j,
				 bias ? bias + j : NULL, relu, yr + j, ldy);
	}
}
#endif							/* MAAS_X86_SIMD */

const MaasKernel maas_s8_dequant_kernels[] = {
#ifdef MAAS_X86_SIMD
	{"avx512", B(AVX512F), (void *) dq_avx512},
	{"avx2", B(AVX2), (void *) dq_avx2},
#endif
	{"c", 0, (void *) dq_c},
	{NULL, 0, NULL}
};

void
maas_s8_dequantize(int m, const int32_t *acc, size_t ldacc,
				   const float *sx, const int32_t *zero,
				   const MaasWeights *w, const float *bias, bool relu,
				   float *y, size_t ldy)
{
	const MaasKernel *kern = maas_s8_dequant_kernels;
	MaasCpuMask have = maas_cpu_features();

	while ((kern->needs & have) != kern->needs)
		kern++;
	((MaasS8DequantFn) kern->fn) (m, w->n, acc, ldacc, sx, zero, w->scale, w->sum,
								  bias, relu, y, ldy);
}

/* ---- the driver ---- */

/*
 * q, the quantized rows of a block, lives on the stack up to this size;
 * the int32 products go into y itself (an int32 takes the room of the
 * float it becomes), so a block needs no other scratch.  oneDNN's matmul
 * runs as fast on blocks of 32 rows as on 256 (test/bench/int8_mlp).
 */
#define S8_Q_STACK 32768
#define S8_BLOCK_MIN 16
#define S8_BLOCK_MAX 64

bool
maas_s8_blocks(const MaasWeights *w, int m, const float *x, size_t ldx,
			   const float *bias, bool relu, float *y, size_t ldy,
			   MaasS8Product product, void *ctx, MaasError *err)
{
	char		qbuf[S8_Q_STACK] __attribute__((aligned(64)));
	float		sx[S8_BLOCK_MAX];
	int32_t		zero[S8_BLOCK_MAX];
	int			k = w->k;
	int			rows = S8_Q_STACK / k;
	uint8_t    *q = (uint8_t *) qbuf;

	if (m <= 0)
		return true;
	rows = rows > S8_BLOCK_MAX ? S8_BLOCK_MAX : rows < S8_BLOCK_MIN ? S8_BLOCK_MIN : rows;
	if (rows > m)
		rows = m;
	if ((size_t) rows * k > sizeof(qbuf))
	{
		q = maas_kalloc_array((size_t) rows, (size_t) k);
		if (q == NULL)
			return maas_error_nomem(err);
	}

	for (int i = 0; i < m; i += rows)
	{
		int			mb = m - i < rows ? m - i : rows;
		float	   *yb = y + (size_t) i * ldy;
		int32_t    *acc = (int32_t *) yb;

		maas_quantize_rows_u8(mb, k, x + (size_t) i * ldx, ldx, q, k, sx, zero);
		product(ctx, mb, q, acc, ldy);
		maas_s8_dequantize(mb, acc, ldy, sx, zero, w, bias, relu, yb, ldy);
	}
	return true;
}

typedef struct KernelProduct
{
	const MaasKernel *s8;
	const MaasWeights *w;
} KernelProduct;

static void
kernel_product(void *ctx, int m, const uint8_t *q, int32_t *c, size_t ldc)
{
	KernelProduct *kp = ctx;

	((MaasS8Fn) kp->s8->fn) (m, kp->w->n, kp->w->k, q, kp->w->k, kp->w->data, kp->w->k, c, ldc);
}

bool
maas_s8_gemm(const MaasKernel *s8, const MaasWeights *w, int m,
			 const float *x, size_t ldx, const float *bias, bool relu,
			 float *y, size_t ldy, MaasError *err)
{
	KernelProduct kp = {s8, w};

	return maas_s8_blocks(w, m, x, ldx, bias, relu, y, ldy, kernel_product, &kp, err);
}
