/*
 * gram_syrk.c
 *		The rank-k update of a narrow Gram matrix, G += sign B^T B, for the
 *		normal equations summed while reading (train_linear.c, train.h).
 *
 * B is a block of m rows of w doubles each, stored with a row stride ld (a
 * multiple of 8) whose columns w .. ld - 1 are zero, and G is ld x ld,
 * row-major.  For the 50-odd columns of a typical table, BLAS's dsyrk
 * spends as much time packing the block as multiplying it; here the
 * product is done in register tiles straight from the block: a tile of 8
 * rows by 16 columns of G (AVX-512, 16 accumulators) or 4 by 8 (AVX2 and
 * FMA), over chunks of SYRK_KC rows that stay in the L1 cache.  The tiles
 * cover the upper triangle; the diagonal tiles also sum some entries just
 * below it, to their correct (symmetric) values.  The code path is chosen
 * at run time from the CPU's features (cpu.h), never at build time.
 */
#include "train.h"
#include "cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define MAAS_X86_SIMD 1
#endif

/* rows of B a tile loop runs over before the next tile: 64 x ld doubles */
#define SYRK_KC		64

static void
syrk_scalar(int w, int ld, int m, double sign, const double *restrict b,
			double *restrict g)
{
	for (int r = 0; r < m; r++)
	{
		const double *restrict row = b + (size_t) r * ld;

		for (int i = 0; i < w; i++)
		{
			double		a = sign * row[i];
			double	   *restrict gi = g + (size_t) i * ld;

			for (int j = i; j < w; j++)
				gi[j] += a * row[j];
		}
	}
}

#ifdef MAAS_X86_SIMD

/* G[i0 .. i0 + 7][j0 .. j0 + 16 * nv - 1] += sign B^T B over kc rows */
#define AVX512_TILE(NV) \
	__attribute__((target("avx512f"))) \
	static inline void \
	tile512_##NV(int ld, int kc, double sign, const double *restrict b, \
				 int i0, int j0, double *restrict g) \
	{ \
		__m512d		c[8][NV]; \
		__m512d		s = _mm512_set1_pd(sign); \
		\
		for (int ii = 0; ii < 8; ii++) \
			for (int v = 0; v < NV; v++) \
				c[ii][v] = _mm512_setzero_pd(); \
		for (int r = 0; r < kc; r++) \
		{ \
			const double *restrict row = b + (size_t) r * ld; \
			__m512d		x[NV]; \
			\
			for (int v = 0; v < NV; v++) \
				x[v] = _mm512_loadu_pd(row + j0 + 8 * v); \
			for (int ii = 0; ii < 8; ii++) \
			{ \
				__m512d		a = _mm512_set1_pd(row[i0 + ii]); \
				\
				for (int v = 0; v < NV; v++) \
					c[ii][v] = _mm512_fmadd_pd(a, x[v], c[ii][v]); \
			} \
		} \
		for (int ii = 0; ii < 8; ii++) \
			for (int v = 0; v < NV; v++) \
			{ \
				double	   *p = g + (size_t) (i0 + ii) * ld + j0 + 8 * v; \
				\
				_mm512_storeu_pd(p, _mm512_fmadd_pd(s, c[ii][v], _mm512_loadu_pd(p))); \
			} \
	}

AVX512_TILE(2)
AVX512_TILE(1)

__attribute__((target("avx512f")))
static void
syrk_avx512(int w, int ld, int m, double sign, const double *restrict b,
			double *restrict g)
{
	for (int r0 = 0; r0 < m; r0 += SYRK_KC)
	{
		int			kc = m - r0 < SYRK_KC ? m - r0 : SYRK_KC;
		const double *bk = b + (size_t) r0 * ld;

		for (int i0 = 0; i0 < w; i0 += 8)
		{
			int			j0;

			/* i0 + 7 < ld and ld - j0 is a multiple of 8 */
			for (j0 = i0; j0 < w && j0 + 16 <= ld; j0 += 16)
				tile512_2(ld, kc, sign, bk, i0, j0, g);
			if (j0 < w)
				tile512_1(ld, kc, sign, bk, i0, j0, g);
		}
	}
}

/* G[i0 .. i0 + 3][j0 .. j0 + 4 * nv - 1] += sign B^T B over kc rows */
#define AVX2_TILE(NV) \
	__attribute__((target("avx2,fma"))) \
	static inline void \
	tile256_##NV(int ld, int kc, double sign, const double *restrict b, \
				 int i0, int j0, double *restrict g) \
	{ \
		__m256d		c[4][NV]; \
		__m256d		s = _mm256_set1_pd(sign); \
		\
		for (int ii = 0; ii < 4; ii++) \
			for (int v = 0; v < NV; v++) \
				c[ii][v] = _mm256_setzero_pd(); \
		for (int r = 0; r < kc; r++) \
		{ \
			const double *restrict row = b + (size_t) r * ld; \
			__m256d		x[NV]; \
			\
			for (int v = 0; v < NV; v++) \
				x[v] = _mm256_loadu_pd(row + j0 + 4 * v); \
			for (int ii = 0; ii < 4; ii++) \
			{ \
				__m256d		a = _mm256_broadcast_sd(row + i0 + ii); \
				\
				for (int v = 0; v < NV; v++) \
					c[ii][v] = _mm256_fmadd_pd(a, x[v], c[ii][v]); \
			} \
		} \
		for (int ii = 0; ii < 4; ii++) \
			for (int v = 0; v < NV; v++) \
			{ \
				double	   *p = g + (size_t) (i0 + ii) * ld + j0 + 4 * v; \
				\
				_mm256_storeu_pd(p, _mm256_fmadd_pd(s, c[ii][v], _mm256_loadu_pd(p))); \
			} \
	}

AVX2_TILE(2)
AVX2_TILE(1)

__attribute__((target("avx2,fma")))
static void
syrk_avx2(int w, int ld, int m, double sign, const double *restrict b,
		  double *restrict g)
{
	for (int r0 = 0; r0 < m; r0 += SYRK_KC)
	{
		int			kc = m - r0 < SYRK_KC ? m - r0 : SYRK_KC;
		const double *bk = b + (size_t) r0 * ld;

		for (int i0 = 0; i0 < w; i0 += 4)
		{
			int			j0;

			/* i0 + 3 < ld and ld - j0 is a multiple of 4 */
			for (j0 = i0; j0 < w && j0 + 8 <= ld; j0 += 8)
				tile256_2(ld, kc, sign, bk, i0, j0, g);
			if (j0 < w)
				tile256_1(ld, kc, sign, bk, i0, j0, g);
		}
	}
}
#endif							/* MAAS_X86_SIMD */

static bool
isa_usable(MaasSyrkIsa isa)
{
	switch (isa)
	{
		case MAAS_SYRK_SCALAR:
			return true;
#ifdef MAAS_X86_SIMD
		case MAAS_SYRK_AVX2:
			return maas_cpu_has(MAAS_CPU_BIT(MAAS_CPU_AVX2) | MAAS_CPU_BIT(MAAS_CPU_FMA));
		case MAAS_SYRK_AVX512:
			return maas_cpu_has(MAAS_CPU_BIT(MAAS_CPU_AVX512F));
#endif
		default:
			return false;
	}
}

MaasSyrkIsa
maas_syrk_isa(MaasSyrkIsa want)
{
	if (want == MAAS_SYRK_AUTO)
		want = MAAS_SYRK_AVX512;
	while (want > MAAS_SYRK_SCALAR && !isa_usable(want))
		want--;
	return want;
}

const char *
maas_syrk_isa_name(MaasSyrkIsa isa)
{
	switch (isa)
	{
		case MAAS_SYRK_AVX512:
			return "avx512";
		case MAAS_SYRK_AVX2:
			return "avx2";
		case MAAS_SYRK_SCALAR:
			return "scalar";
		default:
			return "auto";
	}
}

void
maas_syrk_upper(MaasSyrkIsa isa, int w, int ld, int m, double sign,
				const double *b, double *g)
{
	if (w <= 0 || m <= 0)
		return;
	switch (maas_syrk_isa(isa))
	{
#ifdef MAAS_X86_SIMD
		case MAAS_SYRK_AVX512:
			syrk_avx512(w, ld, m, sign, b, g);
			return;
		case MAAS_SYRK_AVX2:
			syrk_avx2(w, ld, m, sign, b, g);
			return;
#endif
		default:
			syrk_scalar(w, ld, m, sign, b, g);
			return;
	}
}
