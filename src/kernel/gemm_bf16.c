/*
 * gemm_bf16.c
 *		maas's own one-row kernels: y = W x for a single row x, with bf16 or
 *		f32 weights W [n, k] as stored (no packing).
 *
 * One row is the per-row serving path, where a matrix-vector product is
 * bound by how fast the weights stream from cache or memory, and a
 * library's call overhead and its packing (made for batches) are what
 * costs.  These kernels read each weight once, four output channels at a
 * time against one pass of x.
 *
 *	  bf16 weights:  avx512_bf16 (vdpbf16ps: x rounded to bf16 too),
 *					 avx512 and avx2 (weights widened to f32, f32 FMA), c
 *	  f32 weights:	 avx512, avx2 (FMA), c
 *
 * Batches of rows go to a library (blas.c): oneDNN's bf16 matmul, or the
 * weights widened to f32 a block at a time and the BLAS sgemm.
 */
#include "gemm.h"
#include "quantize.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define MAAS_X86_SIMD 1
#endif

#define B(f) MAAS_CPU_BIT(MAAS_CPU_##f)

/* ---- plain C ---- */

static void
bf16_row_c(int n, int k, const float *x, const uint16_t *w, size_t ldw, float *y)
{
	for (int j = 0; j < n; j++)
	{
		const uint16_t *wr = w + (size_t) j * ldw;
		float		s0 = 0,
					s1 = 0;
		int			p = 0;

		for (; p + 2 <= k; p += 2)
		{
			s0 += x[p] * maas_bf16_to_f32(wr[p]);
			s1 += x[p + 1] * maas_bf16_to_f32(wr[p + 1]);
		}
		for (; p < k; p++)
			s0 += x[p] * maas_bf16_to_f32(wr[p]);
		y[j] = s0 + s1;
	}
}

static void
f32_row_c(int n, int k, const float *x, const float *w, size_t ldw, float *y)
{
	for (int j = 0; j < n; j++)
	{
		const float *wr = w + (size_t) j * ldw;
		float		s0 = 0,
					s1 = 0,
					s2 = 0,
					s3 = 0;
		int			p = 0;

		for (; p + 4 <= k; p += 4)
		{
			s0 += x[p] * wr[p];
			s1 += x[p + 1] * wr[p + 1];
			s2 += x[p + 2] * wr[p + 2];
			s3 += x[p + 3] * wr[p + 3];
		}
		for (; p < k; p++)
			s0 += x[p] * wr[p];
		y[j] = (s0 + s1) + (s2 + s3);
	}
}

#ifdef MAAS_X86_SIMD

#define AVX512_TARGET "avx512f,avx512bw,avx512vl"

__attribute__((target(AVX512_TARGET)))
static inline __mmask16
mask16(int left)
{
	return left <= 0 ? 0 : left >= 16 ? 0xffff : (__mmask16) ((1u << left) - 1);
}

__attribute__((target(AVX512_TARGET)))
static inline __m512
widen_bf16_16(__mmask16 m, const uint16_t *p)
{
	__m256i		h = _mm256_maskz_loadu_epi16(m, p);

	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/*
 * NR channels against x, 16 inputs a step: LOADW(m, row, p) gives 16
 * weights as floats.
 */
#define AVX512_ROWS(NAME, T, LOADW) \
__attribute__((target(AVX512_TARGET))) \
static void \
NAME(int n, int k, const float *x, const T *w, size_t ldw, float *y) \
{ \
	int			j = 0; \
	for (; j + 4 <= n; j += 4) \
	{ \
		const T    *w0 = w + (size_t) j * ldw; \
		__m512		a0 = _mm512_setzero_ps(), \
					a1 = _mm512_setzero_ps(), \
					a2 = _mm512_setzero_ps(), \
					a3 = _mm512_setzero_ps(); \
		for (int p = 0; p < k; p += 16) \
		{ \
			__mmask16	m = mask16(k - p); \
			__m512		xv = _mm512_maskz_loadu_ps(m, x + p); \
			a0 = _mm512_fmadd_ps(xv, LOADW(m, w0, p), a0); \
			a1 = _mm512_fmadd_ps(xv, LOADW(m, w0 + ldw, p), a1); \
			a2 = _mm512_fmadd_ps(xv, LOADW(m, w0 + 2 * ldw, p), a2); \
			a3 = _mm512_fmadd_ps(xv, LOADW(m, w0 + 3 * ldw, p), a3); \
		} \
		y[j] = _mm512_reduce_add_ps(a0); \
		y[j + 1] = _mm512_reduce_add_ps(a1); \
		y[j + 2] = _mm512_reduce_add_ps(a2); \
		y[j + 3] = _mm512_reduce_add_ps(a3); \
	} \
	for (; j < n; j++) \
	{ \
		const T    *w0 = w + (size_t) j * ldw; \
		__m512		a0 = _mm512_setzero_ps(); \
		for (int p = 0; p < k; p += 16) \
		{ \
			__mmask16	m = mask16(k - p); \
			a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + p), LOADW(m, w0, p), a0); \
		} \
		y[j] = _mm512_reduce_add_ps(a0); \
	} \
}

#define LOADW_BF16_512(m, row, p)	widen_bf16_16((m), (row) + (p))
#define LOADW_F32_512(m, row, p)	_mm512_maskz_loadu_ps((m), (row) + (p))

AVX512_ROWS(bf16_row_avx512, uint16_t, LOADW_BF16_512)
AVX512_ROWS(f32_row_avx512, float, LOADW_F32_512)

/*
 * AVX512-BF16: x is rounded to bf16 (vcvtne2ps2bf16) 32 at a time, and
 * vdpbf16ps multiplies pairs and adds them in f32.  Four channels share
 * each converted chunk of x.
 */
#define BF16_TARGET "avx512f,avx512bw,avx512vl,avx512bf16"

__attribute__((target(BF16_TARGET)))
static inline __m512i
x_bf16_32(const float *x, int left)
{
	__m512		lo = _mm512_maskz_loadu_ps(mask16(left), x);
	__m512		hi = _mm512_maskz_loadu_ps(mask16(left - 16), x + 16);

	return (__m512i) _mm512_cvtne2ps_pbh(hi, lo);
}

__attribute__((target(BF16_TARGET)))
static inline __mmask32
mask32(int left)
{
	return left >= 32 ? 0xffffffffu : (__mmask32) ((1u << left) - 1);
}

#define DPBF16(acc, xv, row, p, m) \
	_mm512_dpbf16_ps((acc), (__m512bh) (xv), \
					 (__m512bh) _mm512_maskz_loadu_epi16((m), (row) + (p)))

__attribute__((target(BF16_TARGET)))
static void
bf16_row_avx512bf16(int n, int k, const float *x, const uint16_t *w, size_t ldw, float *y)
{
	int			j = 0;

	for (; j + 4 <= n; j += 4)
	{
		const uint16_t *w0 = w + (size_t) j * ldw;
		__m512		a0 = _mm512_setzero_ps(),
					a1 = _mm512_setzero_ps(),
					a2 = _mm512_setzero_ps(),
					a3 = _mm512_setzero_ps();

		for (int p = 0; p < k; p += 32)
		{
			__mmask32	m = mask32(k - p);
			__m512i		xv = x_bf16_32(x + p, k - p);

			a0 = DPBF16(a0, xv, w0, p, m);
			a1 = DPBF16(a1, xv, w0 + ldw, p, m);
			a2 = DPBF16(a2, xv, w0 + 2 * ldw, p, m);
			a3 = DPBF16(a3, xv, w0 + 3 * ldw, p, m);
		}
		y[j] = _mm512_reduce_add_ps(a0);
		y[j + 1] = _mm512_reduce_add_ps(a1);
		y[j + 2] = _mm512_reduce_add_ps(a2);
		y[j + 3] = _mm512_reduce_add_ps(a3);
	}
	for (; j < n; j++)
	{
		const uint16_t *w0 = w + (size_t) j * ldw;
		__m512		a0 = _mm512_setzero_ps();

		for (int p = 0; p < k; p += 32)
			a0 = DPBF16(a0, x_bf16_32(x + p, k - p), w0, p, mask32(k - p));
		y[j] = _mm512_reduce_add_ps(a0);
	}
}

/* ---- AVX2 + FMA: 8 inputs a step, the rest of k in plain C ---- */

__attribute__((target("avx2,fma")))
static inline float
hsum256(__m256 v)
{
	__m128		s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

#define LOADW_BF16_256(row, p) \
	_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32( \
		_mm_loadu_si128((const __m128i *) ((row) + (p)))), 16))
#define LOADW_F32_256(row, p)	_mm256_loadu_ps((row) + (p))
#define SCALAR_BF16(v)	maas_bf16_to_f32(v)
#define SCALAR_F32(v)	(v)

#define AVX2_ROWS(NAME, T, LOADW, SCALAR) \
__attribute__((target("avx2,fma"))) \
static void \
NAME(int n, int k, const float *x, const T *w, size_t ldw, float *y) \
{ \
	int			j = 0; \
	int			k8 = k & ~7; \
	for (; j + 4 <= n; j += 4) \
	{ \
		const T    *w0 = w + (size_t) j * ldw; \
		__m256		a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), \
							_mm256_setzero_ps(), _mm256_setzero_ps()}; \
		for (int p = 0; p < k8; p += 8) \
		{ \
			__m256		xv = _mm256_loadu_ps(x + p); \
			for (int r = 0; r < 4; r++) \
				a[r] = _mm256_fmadd_ps(xv, LOADW(w0 + r * ldw, p), a[r]); \
		} \
		for (int r = 0; r < 4; r++) \
		{ \
			float		s = hsum256(a[r]); \
			for (int p = k8; p < k; p++) \
				s += x[p] * SCALAR(w0[r * ldw + p]); \
			y[j + r] = s; \
		} \
	} \
	for (; j < n; j++) \
	{ \
		const T    *w0 = w + (size_t) j * ldw; \
		__m256		a0 = _mm256_setzero_ps(); \
		float		s; \
		for (int p = 0; p < k8; p += 8) \
			a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p), LOADW(w0, p), a0); \
		s = hsum256(a0); \
		for (int p = k8; p < k; p++) \
			s += x[p] * SCALAR(w0[p]); \
		y[j] = s; \
	} \
}

AVX2_ROWS(bf16_row_avx2, uint16_t, LOADW_BF16_256, SCALAR_BF16)
AVX2_ROWS(f32_row_avx2, float, LOADW_F32_256, SCALAR_F32)
#endif							/* MAAS_X86_SIMD */

const MaasKernel maas_bf16_row_kernels[] = {
#ifdef MAAS_X86_SIMD
	{"avx512_bf16", B(AVX512F) | B(AVX512BW) | B(AVX512VL) | B(AVX512_BF16),
	(void *) bf16_row_avx512bf16},
	{"avx512", B(AVX512F) | B(AVX512BW) | B(AVX512VL), (void *) bf16_row_avx512},
	{"avx2", B(AVX2) | B(FMA), (void *) bf16_row_avx2},
#endif
	{"c", 0, (void *) bf16_row_c},
	{NULL, 0, NULL}
};

const MaasKernel maas_f32_row_kernels[] = {
#ifdef MAAS_X86_SIMD
	{"avx512", B(AVX512F) | B(AVX512BW) | B(AVX512VL), (void *) f32_row_avx512},
	{"avx2", B(AVX2) | B(FMA), (void *) f32_row_avx2},
#endif
	{"c", 0, (void *) f32_row_c},
	{NULL, 0, NULL}
};

static const MaasKernel *
pick(const MaasKernel *kern, MaasCpuMask have)
{
	while ((kern->needs & have) != kern->needs)
		kern++;
	return kern;
}

const MaasKernel *
maas_bf16_row_pick(MaasCpuMask have)
{
	return pick(maas_bf16_row_kernels, have);
}

const MaasKernel *
maas_f32_row_pick(MaasCpuMask have)
{
	return pick(maas_f32_row_kernels, have);
}
