/*
 * quantize.c
 *		int8, bf16 and f16 weights, the u8 row quantizer of int8 GEMM, and
 *		magnitude pruning (see quantize.h).
 *
 * The SIMD variants here exist for speed only: each is checked in the unit
 * tests to give exactly what the plain C version gives.  They use the same
 * IEEE operations in the same order (one multiply, one rounding in the
 * current mode), or integer arithmetic, so that holds on any input.
 */
#include "quantize.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define MAAS_X86_SIMD 1
#endif

/* ---- f16 ---- */

uint16_t
maas_f32_to_f16(float f)
{
	uint32_t	u;
	uint32_t	sign;
	uint32_t	a;

	memcpy(&u, &f, 4);
	sign = (u >> 16) & 0x8000u;
	a = u & 0x7fffffffu;

	if (a > 0x7f800000u)		/* NaN: quiet, top of the payload kept */
		return (uint16_t) (sign | 0x7e00u | ((a >> 13) & 0x3ffu));
	if (a >= 0x477ff000u)		/* 65520 and up round to infinity */
		return (uint16_t) (sign | 0x7c00u);
	if (a >= 0x38800000u)		/* 2^-14 and up: a normal half */
	{
		uint32_t	r = a - 0x38000000u;	/* exponent bias 127 to 15 */

		r += 0xfffu + ((r >> 13) & 1u);
		return (uint16_t) (sign | (r >> 13));
	}
	if (a <= 0x33000000u)		/* 2^-25 and below round to zero */
		return (uint16_t) sign;
	{
		/* a subnormal half: h units of 2^-24 */
		uint32_t	m = (a & 0x7fffffu) | 0x800000u;
		int			shift = 126 - (int) (a >> 23);	/* 14 .. 24 */
		uint32_t	h = m >> shift;
		uint32_t	rem = m & ((1u << shift) - 1u);
		uint32_t	half = 1u << (shift - 1);

		if (rem > half || (rem == half && (h & 1u)))
			h++;
		return (uint16_t) (sign | h);
	}
}

float
maas_f16_to_f32(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000u) << 16;
	uint32_t	e = (h >> 10) & 0x1fu;
	uint32_t	m = h & 0x3ffu;
	uint32_t	u;
	float		f;

	if (e == 0x1f)
		u = sign | 0x7f800000u | (m << 13) | (m != 0 ? 0x400000u : 0);
	else if (e == 0)
	{
		f = (float) m * 0x1p-24f;	/* exact */
		return sign ? -f : f;
	}
	else
		u = sign | ((e + 112u) << 23) | (m << 13);
	memcpy(&f, &u, 4);
	return f;
}

/*
 * The array forms.  The bf16 ones are integer arithmetic, the same steps
 * as maas_f32_to_bf16() on 8 or 16 lanes.  F16C converts halves in
 * hardware, with the rounding and NaN rules of the plain versions.
 */
static void
f32_to_bf16_c(const float *x, size_t n, uint16_t *y)
{
	for (size_t i = 0; i < n; i++)
		y[i] = maas_f32_to_bf16(x[i]);
}

static void
bf16_to_f32_c(const uint16_t *x, size_t n, float *y)
{
	for (size_t i = 0; i < n; i++)
		y[i] = maas_bf16_to_f32(x[i]);
}

#ifdef MAAS_X86_SIMD
__attribute__((target("avx512f,avx512bw")))
static void
f32_to_bf16_avx512(const float *x, size_t n, uint16_t *y)
{
	const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
	const __m512i inf = _mm512_set1_epi32(0x7f800000);
	const __m512i one = _mm512_set1_epi32(1);
	const __m512i bias = _mm512_set1_epi32(0x7fff);
	const __m512i quiet = _mm512_set1_epi32(0x40);
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m512i		u = _mm512_loadu_si512((const void *) (x + i));
		__mmask16	nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, absmask), inf);
		__m512i		hi = _mm512_srli_epi32(u, 16);
		__m512i		r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias),
														   _mm512_and_si512(hi, one)), 16);

		r = _mm512_mask_blend_epi32(nan, r, _mm512_or_si512(hi, quiet));
		_mm256_storeu_si256((__m256i *) (y + i), _mm512_cvtepi32_epi16(r));
	}
	f32_to_bf16_c(x + i, n - i, y + i);
}

__attribute__((target("avx2")))
static void
f32_to_bf16_avx2(const float *x, size_t n, uint16_t *y)
{
	const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
	const __m256i inf = _mm256_set1_epi32(0x7f800000);
	const __m256i one = _mm256_set1_epi32(1);
	const __m256i bias = _mm256_set1_epi32(0x7fff);
	const __m256i quiet = _mm256_set1_epi32(0x40);
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256i		r[2];

		for (int h = 0; h < 2; h++)
		{
			__m256i		u = _mm256_loadu_si256((const __m256i *) (x + i + 8 * h));
			/* |u| fits a signed compare */
			__m256i		nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absmask), inf);
			__m256i		hi = _mm256_srli_epi32(u, 16);
			__m256i		v = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, bias),
															   _mm256_and_si256(hi, one)), 16);

			r[h] = _mm256_blendv_epi8(v, _mm256_or_si256(hi, quiet), nan);
		}
		/* values fit 16 bits; undo packus's lane interleave */
		_mm256_storeu_si256((__m256i *) (y + i),
							_mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xd8));
	}
	f32_to_bf16_c(x + i, n - i, y + i);
}

__attribute__((target("avx2")))
static void
bf16_to_f32_avx2(const uint16_t *x, size_t n, float *y)
{
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256i		w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *) (x + i)));

		_mm256_storeu_si256((__m256i *) (y + i), _mm256_slli_epi32(w, 16));
	}
	bf16_to_f32_c(x + i, n - i, y + i);
}

__attribute__((target("avx,f16c")))
static void
f32_to_f16_f16c(const float *x, size_t n, uint16_t *y)
{
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *) (y + i),
						 _mm256_cvtps_ph(_mm256_loadu_ps(x + i),
										 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	for (; i < n; i++)
		y[i] = maas_f32_to_f16(x[i]);
}

__attribute__((target("avx,f16c")))
static void
f16_to_f32_f16c(const uint16_t *x, size_t n, float *y)
{
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (x + i))));
	for (; i < n; i++)
		y[i] = maas_f16_to_f32(x[i]);
}
#endif

#define HAS(f) maas_cpu_has(MAAS_CPU_BIT(MAAS_CPU_##f))

void
maas_f32_to_bf16_n(const float *x, size_t n, uint16_t *y)
{
#ifdef MAAS_X86_SIMD
	if (maas_cpu_has(MAAS_CPU_BIT(MAAS_CPU_AVX512F) | MAAS_CPU_BIT(MAAS_CPU_AVX512BW)))
		return f32_to_bf16_avx512(x, n, y);
	if (HAS(AVX2))
		return f32_to_bf16_avx2(x, n, y);
#endif
	f32_to_bf16_c(x, n, y);
}

void
maas_bf16_to_f32_n(const uint16_t *x, size_t n, float *y)
{
#ifdef MAAS_X86_SIMD
	if (HAS(AVX2))
		return bf16_to_f32_avx2(x, n, y);
#endif
	bf16_to_f32_c(x, n, y);
}

void
maas_f32_to_f16_n(const float *x, size_t n, uint16_t *y)
{
#ifdef MAAS_X86_SIMD
	if (HAS(F16C))
		return f32_to_f16_f16c(x, n, y);
#endif
	for (size_t i = 0; i < n; i++)
		y[i] = maas_f32_to_f16(x[i]);
}

void
maas_f16_to_f32_n(const uint16_t *x, size_t n, float *y)
{
#ifdef MAAS_X86_SIMD
	if (HAS(F16C))
		return f16_to_f32_f16c(x, n, y);
#endif
	for (size_t i = 0; i < n; i++)
		y[i] = maas_f16_to_f32(x[i]);
}

/* ---- int8 weights ---- */

static bool
check_shape(int n, int k, MaasError *err)
{
	if (n < 1 || k < 1)
		return maas_error(err, MAAS_ERR_INVALID, "weight shape [%d, %d] is empty", n, k);
	if (k > MAAS_S8_MAX_K)
		return maas_error(err, MAAS_ERR_LIMIT,
						  "int8 weights may have at most %d inputs, not %d",
						  MAAS_S8_MAX_K, k);
	return true;
}

bool
maas_quantize_weights_s8(const float *w, int n, int k, MaasWeights *out,
						 MaasError *err)
{
	int8_t	   *q;
	float	   *scale;
	int32_t    *sum;
	size_t		nk;

	if (!check_shape(n, k, err))
		return false;
	nk = (size_t) n * (size_t) k;
	q = maas_kalloc(nk);
	scale = maas_kalloc_array(n, sizeof(float));
	sum = maas_kalloc_array(n, sizeof(int32_t));
	if (q == NULL || scale == NULL || sum == NULL)
		return maas_error_nomem(err);

	for (int j = 0; j < n; j++)
	{
		const float *row = w + (size_t) j * k;
		int8_t	   *qrow = q + (size_t) j * k;
		float		amax = 0.0f;
		int32_t		s = 0;

		for (int i = 0; i < k; i++)
		{
			float		a = fabsf(row[i]);

			if (!(a <= FLT_MAX))
				return maas_error(err, MAAS_ERR_INVALID,
								  "weight [%d, %d] is not finite", j, i);
			if (a > amax)
				amax = a;
		}
		if (amax < FLT_MIN)
		{
			scale[j] = 0.0f;
			memset(qrow, 0, k);
		}
		else
		{
			float		inv = 127.0f / amax;

			scale[j] = amax / 127.0f;
			for (int i = 0; i < k; i++)
			{
				float		t = rintf(row[i] * inv);

				/* |row[i] * inv| <= 127 up to one rounding */
				t = t > 127.0f ? 127.0f : t < -127.0f ? -127.0f : t;
				qrow[i] = (int8_t) t;
				s += qrow[i];
			}
		}
		sum[j] = s;
	}

	out->type = MAAS_W_S8;
	out->n = n;
	out->k = k;
	out->data = q;
	out->scale = scale;
	out->sum = sum;
	out->packed = NULL;
	return true;
}

bool
maas_weights_s8(const int8_t *q, const float *scale, int n, int k,
				MaasWeights *out, MaasError *err)
{
	int32_t    *sum;

	if (!check_shape(n, k, err))
		return false;
	for (int j = 0; j < n; j++)
		if (!(scale[j] >= 0.0f && scale[j] <= FLT_MAX))
			return maas_error(err, MAAS_ERR_INVALID,
							  "scale of output channel %d is not a finite non-negative number", j);
	sum = maas_kalloc_array(n, sizeof(int32_t));
	if (sum == NULL)
		return maas_error_nomem(err);
	for (int j = 0; j < n; j++)
	{
		const int8_t *row = q + (size_t) j * k;
		int32_t		s = 0;		/* |s| <= 128 * 65536 */

		for (int i = 0; i < k; i++)
			s += row[i];
		sum[j] = s;
	}
	out->type = MAAS_W_S8;
	out->n = n;
	out->k = k;
	out->data = q;
	out->scale = scale;
	out->sum = sum;
	out->packed = NULL;
	return true;
}

void
maas_dequantize_weights_s8(const MaasWeights *w, float *out)
{
	const int8_t *q = w->data;

	for (int j = 0; j < w->n; j++)
		for (int i = 0; i < w->k; i++)
			out[(size_t) j * w->k + i] = (float) q[(size_t) j * w->k + i] * w->scale[j];
}

bool
maas_weights_bf16(const float *w, int n, int k, MaasWeights *out, MaasError *err)
{
	uint16_t   *d;

	if (n < 1 || k < 1)
		return maas_error(err, MAAS_ERR_INVALID, "weight shape [%d, %d] is empty", n, k);
	d = maas_kalloc_array((size_t) n * (size_t) k, sizeof(uint16_t));
	if (d == NULL)
		return maas_error_nomem(err);
	maas_f32_to_bf16_n(w, (size_t) n * k, d);
	memset(out, 0, sizeof(*out));
	out->type = MAAS_W_BF16;
	out->n = n;
	out->k = k;
	out->data = d;
	return true;
}

/* ---- the row quantizer ---- */

/*
 * From a row's range to its scale, zero point and the factor q is made
 * with; false when the row quantizes to all zeros (scale 0 or NaN, set).
 */
static inline bool
row_params(float lo, float hi, bool finite, float *scale, int32_t *zero, float *inv)
{
	float		range = hi - lo;

	*zero = 0;
	if (!finite || !(range <= FLT_MAX))
	{
		*scale = NAN;
		return false;
	}
	*inv = 255.0f / range;
	if (range == 0.0f || !(*inv <= FLT_MAX))
	{
		*scale = 0.0f;
		return false;
	}
	*scale = range / 255.0f;
	*zero = (int32_t) rintf(-lo * *inv);	/* 0 .. 255 */
	return true;
}

static inline uint8_t
quant1(float a, float inv, int32_t zero)
{
	int32_t		t;
	float		r = a * inv;

	/* NaN, and values far out of range, clamp without an undefined cast */
	if (!(r > -512.0f))
		return 0;
	if (!(r < 512.0f))
		return 255;
	t = (int32_t) rintf(r) + zero;
	return (uint8_t) (t < 0 ? 0 : t > 255 ? 255 : t);
}

static void
quant_row_c(const float *a, int k, uint8_t *q, float *scale, int32_t *zero)
{
	float		lo = 0.0f,
				hi = 0.0f,
				inv;
	bool		finite = true;

	for (int i = 0; i < k; i++)
	{
		float		v = a[i];

		if (!(fabsf(v) <= FLT_MAX))
			finite = false;
		else
		{
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
	}
	if (!row_params(lo, hi, finite, scale, zero, &inv))
	{
		memset(q, 0, k);
		return;
	}
	for (int i = 0; i < k; i++)
		q[i] = quant1(a[i], inv, *zero);
}

void
maas_quantize_u8(const float *a, int k, float inv_scale, int32_t zero, uint8_t *q)
{
	for (int i = 0; i < k; i++)
		q[i] = quant1(a[i], inv_scale, zero);
}

#ifdef MAAS_X86_SIMD
__attribute__((target("avx512f,avx512bw,avx512vl")))
static void
quant_row_avx512(const float *a, int k, uint8_t *q, float *scale, int32_t *zero)
{
	__m512		lo = _mm512_setzero_ps(),
				hi = _mm512_setzero_ps();
	const __m512 big = _mm512_set1_ps(FLT_MAX);
	__mmask16	bad = 0;
	float		inv;
	int			i;

	for (i = 0; i < k; i += 16)
	{
		__mmask16	m = k - i >= 16 ? 0xffff : (__mmask16) ((1u << (k - i)) - 1);
		__m512		v = _mm512_maskz_loadu_ps(m, a + i);

		bad |= _mm512_cmp_ps_mask(_mm512_abs_ps(v), big, _CMP_NLE_UQ);
		lo = _mm512_min_ps(lo, v);
		hi = _mm512_max_ps(hi, v);
	}
	if (!row_params(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi), bad == 0,
					scale, zero, &inv))
	{
		memset(q, 0, k);
		return;
	}
	{
		const __m512 vinv = _mm512_set1_ps(inv);
		const __m512i vz = _mm512_set1_epi32(*zero);
		const __m512i v0 = _mm512_setzero_si512();
		const __m512i v255 = _mm512_set1_epi32(255);

		for (i = 0; i < k; i += 16)
		{
			__mmask16	m = k - i >= 16 ? 0xffff : (__mmask16) ((1u << (k - i)) - 1);
			__m512		v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), vinv);
			__m512i		t = _mm512_add_epi32(_mm512_cvtps_epi32(v), vz);

			t = _mm512_min_epi32(_mm512_max_epi32(t, v0), v255);
			_mm_mask_storeu_epi8(q + i, m, _mm512_cvtepi32_epi8(t));
		}
	}
}

__attribute__((target("avx2")))
static void
quant_row_avx2(const float *a, int k, uint8_t *q, float *scale, int32_t *zero)
{
	__m256		lo = _mm256_setzero_ps(),
				hi = _mm256_setzero_ps();
	const __m256 big = _mm256_set1_ps(FLT_MAX);
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256		bad = _mm256_setzero_ps();
	float		l8[8],
				h8[8],
				lof,
				hif,
				inv;
	int			i;

	for (i = 0; i + 8 <= k; i += 8)
	{
		__m256		v = _mm256_loadu_ps(a + i);

		bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_and_ps(v, absmask), big, _CMP_NLE_UQ));
		lo = _mm256_min_ps(lo, v);
		hi = _mm256_max_ps(hi, v);
	}
	_mm256_storeu_ps(l8, lo);
	_mm256_storeu_ps(h8, hi);
	lof = 0.0f;
	hif = 0.0f;
	for (int j = 0; j < 8; j++)
	{
		lof = l8[j] < lof ? l8[j] : lof;
		hif = h8[j] > hif ? h8[j] : hif;
	}
	{
		bool		finite = _mm256_movemask_ps(bad) == 0;

		for (; i < k; i++)
		{
			float		v = a[i];

			if (!(fabsf(v) <= FLT_MAX))
				finite = false;
			else
			{
				lof = v < lof ? v : lof;
				hif = v > hif ? v : hif;
			}
		}
		if (!row_params(lof, hif, finite, scale, zero, &inv))
		{
			memset(q, 0, k);
			return;
		}
	}
	{
		const __m256 vinv = _mm256_set1_ps(inv);
		const __m256i vz = _mm256_set1_epi32(*zero);

		for (i = 0; i + 16 <= k; i += 16)
		{
			__m256i		t0 = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + i), vinv)), vz);
			__m256i		t1 = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + i + 8), vinv)), vz);
			/* saturating packs clamp to 0..255; lanes interleave by 128 */
			__m256i		w = _mm256_packs_epi32(t0, t1);
			__m128i		b = _mm_packus_epi16(_mm256_castsi256_si128(w),
											 _mm256_extracti128_si256(w, 1));

			b = _mm_shuffle_epi32(b, _MM_SHUFFLE(3, 1, 2, 0));
			_mm_storeu_si128((__m128i *) (q + i), b);
		}
		for (; i < k; i++)
			q[i] = quant1(a[i], inv, *zero);
	}
}
#endif

void
maas_quantize_rows_u8(int m, int k, const float *a, size_t lda,
					  uint8_t *q, size_t ldq, float *scale, int32_t *zero)
{
	void		(*row) (const float *, int, uint8_t *, float *, int32_t *) = quant_row_c;

#ifdef MAAS_X86_SIMD
	if (maas_cpu_has(MAAS_CPU_BIT(MAAS_CPU_AVX512F) | MAAS_CPU_BIT(MAAS_CPU_AVX512BW) |
					 MAAS_CPU_BIT(MAAS_CPU_AVX512VL)))
		row = quant_row_avx512;
	else if (HAS(AVX2))
		row = quant_row_avx2;
#endif
	for (int i = 0; i < m; i++)
		row(a + (size_t) i * lda, k, q + (size_t) i * ldq, scale + i, zero + i);
}

/* ---- pruning ---- */

static inline uint32_t
mag_bits(float v)
{
	uint32_t	u;

	memcpy(&u, &v, 4);
	return u & 0x7fffffffu;		/* orders like |v| for finite v */
}

/*
 * The bit pattern t of the count-th smallest magnitude (count >= 1) over
 * the tensors, by radix selection: three passes with 1024-, 2048- and
 * 1024-bin histograms, no copy of the data.  *below gets how many
 * magnitudes are smaller than t.
 */
static uint32_t
radix_select(int n, const float *const *w, const size_t *len, size_t count,
			 size_t *below, size_t *hist, const MaasTick *tick)
{
	static const int shifts[3] = {21, 10, 0};
	static const int widths[3] = {10, 11, 10};
	uint32_t	prefix = 0;
	uint32_t	prefix_mask = 0;
	size_t		less = 0;

	for (int pass = 0; pass < 3; pass++)
	{
		int			bins = 1 << widths[pass];
		uint32_t	bmask = (uint32_t) bins - 1;
		size_t		acc = 0;
		int			b;

		memset(hist, 0, sizeof(size_t) * 2048);
		for (int t = 0; t < n; t++)
		{
			maas_tick(tick);
			for (size_t i = 0; i < len[t]; i++)
			{
				uint32_t	u = mag_bits(w[t][i]);

				if ((u & prefix_mask) == prefix)
					hist[(u >> shifts[pass]) & bmask]++;
			}
		}
		/* the bin holding the (count - less)-th of the candidates */
		for (b = 0; b < bins; b++)
		{
			if (less + acc + hist[b] >= count)
				break;
			acc += hist[b];
		}
		less += acc;
		prefix |= (uint32_t) b << shifts[pass];
		prefix_mask |= bmask << shifts[pass];
	}
	*below = less;
	return prefix;
}

static bool
prune_set(int n, const float *const *w, const size_t *len, double sparsity,
		  uint8_t *const *mask, size_t *pruned, size_t *hist, const MaasTick *tick)
{
	size_t		total = 0;
	size_t		count;
	size_t		below = 0;
	size_t		ties;
	uint32_t	t = 0;

	for (int i = 0; i < n; i++)
		total += len[i];
	count = (size_t) floor(sparsity * (double) total);
	if (count > total)
		count = total;
	if (count > 0)
		t = radix_select(n, w, len, count, &below, hist, tick);

	/* prune everything below t, and the first ties at t up to count */
	ties = count - below;
	for (int i = 0; i < n; i++)
	{
		maas_tick(tick);
		for (size_t j = 0; j < len[i]; j++)
		{
			uint32_t	u = mag_bits(w[i][j]);
			uint8_t		keep = 1;

			if (count > 0 && u < t)
				keep = 0;
			else if (count > 0 && u == t && ties > 0)
			{
				keep = 0;
				ties--;
			}
			mask[i][j] = keep;
		}
	}
	*pruned += count;
	return true;
}

bool
maas_prune_magnitude(int n, const float *const *w, const size_t *len,
					 double sparsity, MaasPruneScope scope,
					 uint8_t *const *mask, size_t *pruned,
					 const MaasTick *tick, MaasError *err)
{
	size_t	   *hist;
	size_t		done = 0;

	if (!(sparsity >= 0.0 && sparsity < 1.0))
		return maas_error(err, MAAS_ERR_INVALID,
						  "sparsity must be at least 0 and less than 1, not %g", sparsity);
	if (n < 0)
		return maas_error(err, MAAS_ERR_INVALID, "tensor count %d is negative", n);
	for (int i = 0; i < n; i++)
	{
		maas_tick(tick);
		for (size_t j = 0; j < len[i]; j++)
			if (!(fabsf(w[i][j]) <= FLT_MAX))
				return maas_error(err, MAAS_ERR_INVALID,
								  "weight %zu of tensor %d is not finite", j, i);
	}
	hist = maas_kalloc_array(2048, sizeof(size_t));
	if (hist == NULL)
		return maas_error_nomem(err);

	if (scope == MAAS_PRUNE_GLOBAL)
		prune_set(n, w, len, sparsity, mask, &done, hist, tick);
	else
		for (int i = 0; i < n; i++)
			prune_set(1, w + i, len + i, sparsity, mask + i, &done, hist, tick);
	if (pruned != NULL)
		*pruned = done;
	return true;
}

void
maas_prune_apply(float *w, const uint8_t *mask, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mask[i] == 0)
			w[i] = 0.0f;
}

typedef struct UnitScore
{
	double		score;
	int			unit;
} UnitScore;

static int
unit_cmp(const void *a, const void *b)
{
	const UnitScore *x = a,
			   *y = b;

	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	return (x->unit > y->unit) - (x->unit < y->unit);
}

bool
maas_prune_units(int h, int n_in, const float *w_in, int n_out,
				 const float *w_out, double fraction, uint8_t *keep,
				 MaasError *err)
{
	UnitScore  *s;
	int			drop;

	if (!(fraction >= 0.0 && fraction < 1.0))
		return maas_error(err, MAAS_ERR_INVALID,
						  "fraction of units must be at least 0 and less than 1, not %g",
						  fraction);
	if (h < 1 || n_in < 1 || n_out < 1)
		return maas_error(err, MAAS_ERR_INVALID, "layer shape is empty");
	s = maas_kalloc_array(h, sizeof(UnitScore));
	if (s == NULL)
		return maas_error_nomem(err);
	for (int u = 0; u < h; u++)
	{
		double		a = 0.0,
					b = 0.0;

		for (int i = 0; i < n_in; i++)
			a += (double) w_in[(size_t) u * n_in + i] * w_in[(size_t) u * n_in + i];
		for (int o = 0; o < n_out; o++)
			b += (double) w_out[(size_t) o * h + u] * w_out[(size_t) o * h + u];
		if (!isfinite(a) || !isfinite(b))
			return maas_error(err, MAAS_ERR_INVALID, "weights of unit %d are not finite", u);
		s[u].score = sqrt(a) * sqrt(b);
		s[u].unit = u;
	}
	qsort(s, h, sizeof(UnitScore), unit_cmp);
	drop = (int) floor(fraction * h);
	for (int i = 0; i < h; i++)
		keep[s[i].unit] = i >= drop;
	return true;
}
