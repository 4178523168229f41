/*
 * test_quantize.c
 *		Unit tests of src/kernel/quantize.c: bf16 and f16 conversion, int8
 *		weights per output channel, the u8 row quantizer, the int8 GEMM's
 *		dequantization step (gemm_int8.c), and pruning.
 *
 * Conversions are checked against references computed in double (nearest,
 * ties to even) over every half and many floats; SIMD variants (chosen by
 * the enabled features, which the tests force off one level at a time)
 * must give the plain C results bit for bit; pruning masks must equal a
 * sort-based reference exactly, ties included.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "gemm.h"
#include "quantize.h"
#include "unit.h"

#define B(f) MAAS_CPU_BIT(MAAS_CPU_##f)

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t) (rng >> 16);
}

static float
rnd_unit(void)
{
	return (float) ((rnd32() & 0xffffff) / (double) 0x800000 - 1.0);
}

static float
bits_f(uint32_t u)
{
	float		f;

	memcpy(&f, &u, 4);
	return f;
}

static uint32_t
f_bits(float f)
{
	uint32_t	u;

	memcpy(&u, &f, 4);
	return u;
}

/* the SIMD levels the tests step through: everything, no AVX-512, no AVX */
static const MaasCpuMask levels[] = {0, B(AVX512F), B(AVX2), B(AVX)};
#define N_LEVELS (sizeof(levels) / sizeof(levels[0]))

/* ---- bf16 ---- */

/* nearest bf16 of finite f, ties to even, by comparing in double */
static uint16_t
ref_bf16(float f)
{
	uint32_t	u = f_bits(f);
	uint32_t	lo = u & 0xffff0000u;
	uint32_t	hi = lo + 0x10000u;	/* next magnitude, same sign */
	double		dl = fabs((double) f - (double) bits_f(lo));
	double		dh;

	if ((hi & 0x7fffffffu) >= 0x7f800000u)	/* past the largest: infinity */
	{
		/* halfway to 2^128 rounds up, as IEEE does */
		double		top = ldexp(1.0, 128) * (f < 0 ? -1 : 1);

		dh = fabs((double) f - top);
	}
	else
		dh = fabs((double) f - (double) bits_f(hi));
	if (dl < dh || (dl == dh && ((lo >> 16) & 1u) == 0))
		return (uint16_t) (lo >> 16);
	return (uint16_t) (hi >> 16);
}

static void
test_bf16_rounding(void)
{
	const float special[] = {
		0.0f, -0.0f, 1.0f, -1.0f, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f,
		bits_f(0x3f808000u),	/* halfway, even below: down */
		bits_f(0x3f818000u),	/* halfway, odd below: up */
		bits_f(0x3f808001u), bits_f(0x3f807fffu),
		bits_f(0x7f7f8000u),	/* halfway past the largest bf16 */
		bits_f(0x7f7f7fffu),
	};
	int			bad = 0;

	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		CHECK(maas_f32_to_bf16(special[i]) == ref_bf16(special[i]));
	CHECK(maas_f32_to_bf16(bits_f(0x7f7f8000u)) == 0x7f80);	/* to infinity */
	CHECK(maas_f32_to_bf16(INFINITY) == 0x7f80);
	CHECK(maas_f32_to_bf16(-INFINITY) == 0xff80);
	/* NaN stays NaN, even with the payload in the low half only */
	CHECK((maas_f32_to_bf16(bits_f(0x7f800001u)) & 0x7fff) > 0x7f80);
	CHECK((maas_f32_to_bf16(bits_f(0xff800001u)) & 0x8000) != 0);
	CHECK((maas_f32_to_bf16(NAN) & 0x7fff) > 0x7f80);

	for (int i = 0; i < 2000000; i++)
	{
		uint32_t	u = rnd32() ^ (rnd32() << 16);
		float		f = bits_f(u);

		if (!isfinite(f))
			continue;
		if (maas_f32_to_bf16(f) != ref_bf16(f))
			bad++;
	}
	CHECK(bad == 0);

	/* bf16 to float is exact */
	for (uint32_t h = 0; h < 65536; h++)
		CHECK(f_bits(maas_bf16_to_f32((uint16_t) h)) == h << 16);
}

static void
test_bf16_arrays_match(void)
{
	size_t		n = 100003;
	float	   *x = maas_kalloc(sizeof(float) * n);
	uint16_t   *want = maas_kalloc(sizeof(uint16_t) * n);
	uint16_t   *got = maas_kalloc(sizeof(uint16_t) * n);
	float	   *back = maas_kalloc(sizeof(float) * n);

	for (size_t i = 0; i < n; i++)
		x[i] = bits_f(rnd32() ^ (rnd32() << 16));	/* NaNs and infinities too */
	for (size_t i = 0; i < n; i++)
		want[i] = maas_f32_to_bf16(x[i]);
	for (size_t l = 0; l < N_LEVELS; l++)
	{
		maas_cpu_set_disabled(levels[l]);
		maas_f32_to_bf16_n(x, n, got);
		CHECK(memcmp(got, want, sizeof(uint16_t) * n) == 0);
		maas_bf16_to_f32_n(want, n, back);
		for (size_t i = 0; i < n; i++)
			CHECK(f_bits(back[i]) == (uint32_t) want[i] << 16);
	}
	maas_cpu_set_disabled(0);
}

/* ---- f16 ---- */

static double
ref_f16_value(uint16_t h)
{
	int			e = (h >> 10) & 0x1f;
	int			m = h & 0x3ff;
	double		v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);

	return (h & 0x8000) ? -v : v;
}

static void
test_f16_all_halves(void)
{
	int			bad = 0;

	for (uint32_t h = 0; h < 65536; h++)
	{
		int			e = (h >> 10) & 0x1f;
		float		f = maas_f16_to_f32((uint16_t) h);

		if (e == 0x1f)
		{
			if ((h & 0x3ff) == 0)
				CHECK(isinf(f) && (signbit(f) != 0) == ((h & 0x8000) != 0));
			else
			{
				CHECK(isnan(f));
				CHECK((maas_f32_to_f16(f) & 0x7c00) == 0x7c00 && (maas_f32_to_f16(f) & 0x3ff) != 0);
			}
			continue;
		}
		if ((double) f != ref_f16_value((uint16_t) h))
			bad++;
		if (maas_f32_to_f16(f) != h)
			bad++;

		/* the midpoint to the next half up (exact in float) rounds to even */
		if ((h & 0x7fff) < 0x7bff)
		{
			uint16_t	up = (uint16_t) (h + 1);
			double		mid = (ref_f16_value((uint16_t) h) + ref_f16_value(up)) / 2;
			uint16_t	even = (h & 1) ? up : (uint16_t) h;
			float		fm = (float) mid;

			if ((double) fm != mid || maas_f32_to_f16(fm) != even)
				bad++;
			/* just above or below the midpoint: the nearer one */
			if (maas_f32_to_f16(nextafterf(fm, (h & 0x8000) ? -INFINITY : INFINITY)) != up ||
				maas_f32_to_f16(nextafterf(fm, 0.0f)) != h)
				bad++;
		}
	}
	CHECK(bad == 0);
	CHECK(maas_f32_to_f16(65504.0f) == 0x7bff);
	CHECK(maas_f32_to_f16(65519.996f) == 0x7bff);
	CHECK(maas_f32_to_f16(65520.0f) == 0x7c00);
	CHECK(maas_f32_to_f16(-1e30f) == 0xfc00);
	CHECK(maas_f32_to_f16(0x1p-25f) == 0x0000);
	CHECK(maas_f32_to_f16(nextafterf(0x1p-25f, 1.0f)) == 0x0001);
	CHECK(maas_f32_to_f16(-0x1p-26f) == 0x8000);
	CHECK(maas_f32_to_f16(1e-45f) == 0x0000);
}

static void
test_f16_arrays_match(void)
{
	size_t		n = 100003;
	float	   *x = maas_kalloc(sizeof(float) * n);
	uint16_t   *h = maas_kalloc(sizeof(uint16_t) * n);
	uint16_t   *want = maas_kalloc(sizeof(uint16_t) * n);
	float	   *got = maas_kalloc(sizeof(float) * n);

	for (size_t i = 0; i < n; i++)
	{
		/* mostly in the half range, some beyond it, NaNs */
		uint32_t	u = rnd32() ^ (rnd32() << 16);

		if (i % 4 != 0)
			u = (u & 0x807fffffu) | ((uint32_t) (100 + rnd32() % 50) << 23);
		x[i] = bits_f(u);
	}
	for (size_t i = 0; i < n; i++)
		want[i] = maas_f32_to_f16(x[i]);
	for (size_t l = 0; l < N_LEVELS; l++)
	{
		maas_cpu_set_disabled(levels[l]);
		maas_f32_to_f16_n(x, n, h);
		CHECK(memcmp(h, want, sizeof(uint16_t) * n) == 0);
		maas_f16_to_f32_n(want, n, got);
		for (size_t i = 0; i < n; i++)
		{
			float		r = maas_f16_to_f32(want[i]);

			CHECK(f_bits(got[i]) == f_bits(r));
		}
	}
	maas_cpu_set_disabled(0);
	printf("    f16 arrays: %s\n", maas_cpu_has(B(F16C)) ? "F16C and plain C agree" :
		   "no F16C here: plain C only");
}

/* ---- int8 weights ---- */

static void
test_weights_s8(void)
{
	int			n = 9,
				k = 37;
	float	   *w = maas_kalloc(sizeof(float) * n * k);
	MaasWeights q;
	MaasError	err;
	float	   *back = maas_kalloc(sizeof(float) * n * k);

	for (int i = 0; i < n * k; i++)
		w[i] = rnd_unit() * (1 + i / k);	/* rows of different ranges */
	for (int i = 0; i < k; i++)
		w[3 * k + i] = 0.0f;	/* a zero row */
	for (int i = 0; i < k; i++)
		w[5 * k + i] = 1e-39f * (i % 3 - 1);	/* below FLT_MIN */
	w[7 * k + 4] = -50.0f;		/* the largest magnitude negative */

	CHECK(maas_quantize_weights_s8(w, n, k, &q, &err));
	CHECK(q.type == MAAS_W_S8 && q.n == n && q.k == k && q.packed == NULL);
	maas_dequantize_weights_s8(&q, back);
	for (int j = 0; j < n; j++)
	{
		const int8_t *qr = (const int8_t *) q.data + j * k;
		int			amax = 0;
		int32_t		s = 0;
		float		wmax = 0;

		for (int i = 0; i < k; i++)
		{
			wmax = fmaxf(wmax, fabsf(w[j * k + i]));
			amax = abs(qr[i]) > amax ? abs(qr[i]) : amax;
			s += qr[i];
			CHECK(qr[i] >= -127 && qr[i] <= 127);
			/* half a step of error at most; below FLT_MIN rows go to 0 */
			if (j == 5)
				CHECK(back[j * k + i] == 0.0f && fabsf(w[j * k + i]) < FLT_MIN);
			else
				CHECK(fabsf(back[j * k + i] - w[j * k + i]) <= q.scale[j] * 0.5001f);
		}
		CHECK(q.sum[j] == s);
		if (j == 3 || j == 5)
			CHECK(q.scale[j] == 0.0f && amax == 0);
		else
		{
			CHECK(amax == 127);
			CHECK(q.scale[j] == wmax / 127.0f);
		}
	}
	CHECK(((const int8_t *) q.data)[7 * k + 4] == -127);

	/* bad weights */
	w[2] = NAN;
	CHECK_ERR(maas_quantize_weights_s8(w, n, k, &q, &err), err.msg, "weight [0, 2] is not finite");
	CHECK(err.status == MAAS_ERR_INVALID);
	w[2] = INFINITY;
	CHECK_ERR(maas_quantize_weights_s8(w, n, k, &q, &err), err.msg, "is not finite");
	CHECK_ERR(maas_quantize_weights_s8(w, 0, k, &q, &err), err.msg, "is empty");
	{
		float		one = 1.0f;

		CHECK_ERR(maas_quantize_weights_s8(&one, 1, MAAS_S8_MAX_K + 1, &q, &err), err.msg,
				  "at most 65536 inputs, not 65537");
		CHECK(err.status == MAAS_ERR_LIMIT);
	}
	w[2] = 0.5f;
	arena_fail_after(1);
	CHECK_ERR(maas_quantize_weights_s8(w, n, k, &q, &err), err.msg, "out of memory");
	CHECK(err.status == MAAS_ERR_NOMEM);
	arena_fail_after(-1);
}

static void
test_weights_s8_stored(void)
{
	int8_t		q[6] = {-128, 127, 0, 5, -5, 1};
	float		scale[2] = {0.5f, 0.0f};
	MaasWeights w;
	MaasError	err;

	CHECK(maas_weights_s8(q, scale, 2, 3, &w, &err));
	CHECK(w.data == q && w.scale == scale && w.sum[0] == -1 && w.sum[1] == 1);
	scale[1] = -1.0f;
	CHECK_ERR(maas_weights_s8(q, scale, 2, 3, &w, &err), err.msg,
			  "scale of output channel 1 is not a finite non-negative number");
	scale[1] = NAN;
	CHECK_ERR(maas_weights_s8(q, scale, 2, 3, &w, &err), err.msg, "channel 1");
	scale[1] = INFINITY;
	CHECK_ERR(maas_weights_s8(q, scale, 2, 3, &w, &err), err.msg, "channel 1");
	scale[1] = 1.0f;
	CHECK_ERR(maas_weights_s8(q, scale, 2, MAAS_S8_MAX_K + 1, &w, &err), err.msg,
			  "at most 65536 inputs");
}

/* ---- the row quantizer ---- */

static void
check_row(const float *a, int k, const uint8_t *q, float scale, int32_t zero)
{
	bool		finite = true;
	float		lo = 0,
				hi = 0;

	for (int i = 0; i < k; i++)
	{
		if (!isfinite(a[i]))
			finite = false;
		else
		{
			lo = fminf(lo, a[i]);
			hi = fmaxf(hi, a[i]);
		}
	}
	if (!finite)
	{
		CHECK(isnan(scale) && zero == 0);
		for (int i = 0; i < k; i++)
			CHECK(q[i] == 0);
		return;
	}
	if (hi == lo)
	{
		CHECK(scale == 0.0f && zero == 0);
		return;
	}
	CHECK(scale == (hi - lo) / 255.0f);
	CHECK(zero >= 0 && zero <= 255);
	if (hi == 0.0f)
		CHECK(zero == 255);
	if (lo == 0.0f)
		CHECK(zero == 0);
	for (int i = 0; i < k; i++)
	{
		float		back = (float) (q[i] - zero) * scale;

		/* half a step each for the value and the zero point */
		CHECK(fabsf(back - a[i]) <= scale * 1.0001f);
		if (a[i] == 0.0f)
			CHECK(q[i] == zero);
		if (a[i] == hi)
			CHECK(q[i] >= 254);
		if (a[i] == lo)
			CHECK(q[i] == 0);
	}
}

static void
test_rows_u8(void)
{
	enum
	{
		M = 12, K = 133, LDA = 140
	};
	float	   *a = maas_kalloc(sizeof(float) * M * LDA);
	uint8_t    *want = maas_kalloc(M * K);
	uint8_t    *got = maas_kalloc(M * K);
	float		ws[M],
				gs[M];
	int32_t		wz[M],
				gz[M];

	for (int i = 0; i < M * LDA; i++)
		a[i] = rnd_unit() * 3;
	for (int i = 0; i < K; i++)
	{
		a[1 * LDA + i] = 0.0f;	/* zero row */
		a[2 * LDA + i] = fabsf(a[2 * LDA + i]);	/* ReLU-like: zero point 0 */
		a[3 * LDA + i] = -fabsf(a[3 * LDA + i]);	/* all negative */
		a[4 * LDA + i] = (float) (i % 7) * 0.5f - 1.5f;	/* many ties at .5 */
		a[6 * LDA + i] = 1e-38f * (i % 5);	/* range too small to invert */
		a[7 * LDA + i] = (i % 2 ? 1 : -1) * 1e38f * 3;	/* a range past FLT_MAX */
		a[9 * LDA + i] = 1.0f;	/* one value */
	}
	a[5 * LDA + 17] = NAN;
	a[8 * LDA + 100] = -INFINITY;
	a[10 * LDA + K - 1] = 1e30f;	/* the outlier in the tail lanes */

	maas_cpu_set_disabled(~(MaasCpuMask) 0);
	maas_quantize_rows_u8(M, K, a, LDA, want, K, ws, wz);
	for (int i = 0; i < M; i++)
		if (i != 6 && i != 7)
			check_row(a + i * LDA, K, want + i * K, ws[i], wz[i]);
	CHECK(ws[6] == 0.0f && wz[6] == 0);
	CHECK(isnan(ws[7]));
	CHECK(wz[2] == 0 && wz[3] == 255);

	for (size_t l = 0; l < N_LEVELS; l++)
	{
		maas_cpu_set_disabled(levels[l]);
		for (int k = 1; k <= K; k += (k < 40 ? 1 : 31))
		{
			maas_quantize_rows_u8(M, k, a, LDA, got, k, gs, gz);
			maas_cpu_set_disabled(~(MaasCpuMask) 0);
			maas_quantize_rows_u8(M, k, a, LDA, want, k, ws, wz);
			maas_cpu_set_disabled(levels[l]);
			CHECK(memcmp(got, want, (size_t) M * k) == 0);
			CHECK(memcmp(gz, wz, sizeof(wz)) == 0);
			for (int i = 0; i < M; i++)
				CHECK(f_bits(gs[i]) == f_bits(ws[i]) || (isnan(gs[i]) && isnan(ws[i])));
		}
	}
	maas_cpu_set_disabled(0);
}

static void
test_static_saturates(void)
{
	float		a[8] = {-10.0f, -0.6f, 0.0f, 0.3f, 1.0f, 1e9f, NAN, -INFINITY};
	uint8_t		q[8];

	/* scale 0.01, zero 50: the range is [-0.5, 2.05] */
	maas_quantize_u8(a, 8, 100.0f, 50, q);
	CHECK(q[0] == 0);			/* saturated low */
	CHECK(q[1] == 0);
	CHECK(q[2] == 50);
	CHECK(q[3] == 80);
	CHECK(q[4] == 150);
	CHECK(q[5] == 255);			/* saturated high */
	CHECK(q[6] == 0);			/* NaN */
	CHECK(q[7] == 0);
	{
		float		b[2] = {2.05f, 2.06f};

		maas_quantize_u8(b, 2, 100.0f, 50, q);
		CHECK(q[0] == 255 && q[1] == 255);
	}
}

/* ---- pruning ---- */

typedef struct Ref
{
	float		mag;
	size_t		pos;
} Ref;

static int
ref_cmp(const void *a, const void *b)
{
	const Ref  *x = a,
			   *y = b;

	if (x->mag != y->mag)
		return x->mag < y->mag ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* the mask a sort gives: the count smallest (mag, position) pruned */
static void
ref_prune(int n, float *const *w, const size_t *len, double s, uint8_t **mask)
{
	size_t		total = 0,
				pos = 0,
				count;
	Ref		   *r;

	for (int t = 0; t < n; t++)
		total += len[t];
	r = maas_kalloc(sizeof(Ref) * (total + 1));
	for (int t = 0; t < n; t++)
		for (size_t i = 0; i < len[t]; i++, pos++)
		{
			r[pos].mag = fabsf(w[t][i]);
			r[pos].pos = pos;
			mask[t][i] = 1;
		}
	qsort(r, total, sizeof(Ref), ref_cmp);
	count = (size_t) floor(s * (double) total);
	for (size_t i = 0; i < count; i++)
	{
		size_t		p = r[i].pos;

		for (int t = 0; t < n; t++)
		{
			if (p < len[t])
			{
				mask[t][p] = 0;
				break;
			}
			p -= len[t];
		}
	}
}

static int ticks = 0;

static void
count_tick(void *arg)
{
	(void) arg;
	ticks++;
}

static void
test_prune_magnitude(void)
{
	enum
	{
		NT = 3
	};
	size_t		len[NT] = {1000, 37, 4096};
	float	   *w[NT];
	uint8_t    *mask[NT],
			   *want[NT];
	double		sp[] = {0.0, 0.1, 0.5, 0.8, 0.999};
	MaasTick	tick = {count_tick, NULL};
	MaasError	err;
	size_t		pruned;

	for (int t = 0; t < NT; t++)
	{
		w[t] = maas_kalloc(sizeof(float) * len[t]);
		mask[t] = maas_kalloc(len[t]);
		want[t] = maas_kalloc(len[t]);
		for (size_t i = 0; i < len[t]; i++)
			w[t][i] = rnd_unit() * (t == 1 ? 0.01f : 1.0f);
	}
	/* ties, signs, zeros and subnormals */
	for (size_t i = 0; i < 300; i++)
		w[2][i * 7] = (i % 2 ? 0.25f : -0.25f);
	for (size_t i = 0; i < 20; i++)
		w[0][i * 13] = (i % 3 == 0) ? 0.0f : (i % 3 == 1 ? -0.0f : 1e-42f);

	for (size_t s = 0; s < sizeof(sp) / sizeof(sp[0]); s++)
	{
		size_t		total = len[0] + len[1] + len[2];

		ticks = 0;
		CHECK(maas_prune_magnitude(NT, (const float *const *) w, len, sp[s],
								   MAAS_PRUNE_GLOBAL, mask, &pruned, &tick, &err));
		CHECK(pruned == (size_t) floor(sp[s] * total));
		CHECK(ticks > 0);
		ref_prune(NT, w, len, sp[s], want);
		for (int t = 0; t < NT; t++)
			CHECK(memcmp(mask[t], want[t], len[t]) == 0);

		CHECK(maas_prune_magnitude(NT, (const float *const *) w, len, sp[s],
								   MAAS_PRUNE_PER_TENSOR, mask, &pruned, NULL, &err));
		{
			size_t		expect = 0;

			for (int t = 0; t < NT; t++)
			{
				ref_prune(1, w + t, len + t, sp[s], want + t);
				CHECK(memcmp(mask[t], want[t], len[t]) == 0);
				expect += (size_t) floor(sp[s] * len[t]);
			}
			CHECK(pruned == expect);
		}
	}

	/* globally, the small tensor goes first */
	CHECK(maas_prune_magnitude(NT, (const float *const *) w, len, 0.05,
							   MAAS_PRUNE_GLOBAL, mask, &pruned, NULL, &err));
	{
		int			kept = 0;

		for (size_t i = 0; i < len[1]; i++)
			kept += mask[1][i];
		CHECK(kept == 0);
	}

	/* applying */
	{
		float		v[4] = {1, 2, 3, 4};
		uint8_t		m[4] = {1, 0, 1, 0};

		maas_prune_apply(v, m, 4);
		CHECK(v[0] == 1 && v[1] == 0 && v[2] == 3 && v[3] == 0);
	}

	/* bad input */
	CHECK_ERR(maas_prune_magnitude(NT, (const float *const *) w, len, 1.0,
								   MAAS_PRUNE_GLOBAL, mask, &pruned, NULL, &err), err.msg,
			  "sparsity must be at least 0 and less than 1, not 1");
	CHECK_ERR(maas_prune_magnitude(NT, (const float *const *) w, len, -0.1,
								   MAAS_PRUNE_GLOBAL, mask, &pruned, NULL, &err), err.msg,
			  "sparsity must be");
	CHECK_ERR(maas_prune_magnitude(NT, (const float *const *) w, len, NAN,
								   MAAS_PRUNE_GLOBAL, mask, &pruned, NULL, &err), err.msg,
			  "sparsity must be");
	w[1][5] = INFINITY;
	CHECK_ERR(maas_prune_magnitude(NT, (const float *const *) w, len, 0.5,
								   MAAS_PRUNE_GLOBAL, mask, &pruned, NULL, &err), err.msg,
			  "weight 5 of tensor 1 is not finite");
	CHECK(err.status == MAAS_ERR_INVALID);
}

static void
test_prune_units(void)
{
	enum
	{
		H = 10, NI = 6, NO = 4
	};
	float		win[H * NI],
				wout[NO * H];
	uint8_t		keep[H];
	MaasError	err;

	for (int u = 0; u < H; u++)
		for (int i = 0; i < NI; i++)
			win[u * NI + i] = (float) (u + 1) * (i % 2 ? 1 : -1);
	for (int o = 0; o < NO; o++)
		for (int u = 0; u < H; u++)
			wout[o * H + u] = 1.0f;
	wout[2 * H + 9] = 0.0f;
	for (int o = 0; o < NO; o++)
		wout[o * H + 9] = 0.0f; /* unit 9 is read by nobody: score 0 */

	CHECK(maas_prune_units(H, NI, win, NO, wout, 0.3, keep, &err));
	/* scores: unit u ~ (u + 1) except unit 9 (0): drop 9, 0, 1 */
	for (int u = 0; u < H; u++)
		CHECK(keep[u] == (u != 9 && u != 0 && u != 1));
	CHECK(maas_prune_units(H, NI, win, NO, wout, 0.0, keep, &err));
	for (int u = 0; u < H; u++)
		CHECK(keep[u] == 1);
	CHECK_ERR(maas_prune_units(H, NI, win, NO, wout, 1.0, keep, &err), err.msg,
			  "fraction of units must be at least 0 and less than 1");
	win[3] = NAN;
	CHECK_ERR(maas_prune_units(H, NI, win, NO, wout, 0.5, keep, &err), err.msg,
			  "weights of unit 0 are not finite");
}

/*
 * Every variant of the dequantization step gives the plain C one's bits:
 * random and extreme sums, a zero, a NaN and an infinite row scale, with
 * and without bias and relu, apart from and in place of the sums.
 */
static void
test_s8_dequant_kernels(void)
{
	static const int widths[] = {1, 3, 7, 8, 15, 16, 17, 33, 515};
	const MaasKernel *ref = maas_s8_dequant_kernels;
	MaasCpuMask have = maas_cpu_features();
	int			m = 6;

	while (ref[1].name != NULL)
		ref++;					/* the last, plain C */
	CHECK(strcmp(ref->name, "c") == 0);
	for (const MaasKernel *kern = maas_s8_dequant_kernels; kern->name != NULL; kern++)
	{
		int			bad = 0;

		if ((kern->needs & have) != kern->needs)
		{
			printf("    skipped dequantization %s: this CPU lacks its features\n", kern->name);
			continue;
		}
		for (size_t wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++)
		{
			int			n = widths[wi],
						ld = n + 2;
			int32_t    *acc = maas_kalloc(sizeof(int32_t) * m * ld);
			int32_t    *sum = maas_kalloc(sizeof(int32_t) * n);
			float	   *ws = maas_kalloc(sizeof(float) * n),
					   *bias = maas_kalloc(sizeof(float) * n),
					   *want = maas_kalloc(sizeof(float) * m * ld),
					   *got = maas_kalloc(sizeof(float) * m * ld);
			float		sx[6] = {0.01f, 0.0f, NAN, INFINITY, 3e-5f, 1.5f};
			int32_t		zero[6] = {0, 17, 0, 255, 128, 3};

			for (int i = 0; i < m * ld; i++)
				acc[i] = (int32_t) rnd32();
			for (int j = 0; j < n; j++)
			{
				sum[j] = (int32_t) (rnd32() % 65536) - 32768;
				ws[j] = fabsf(rnd_unit()) * 0.01f;
				bias[j] = rnd_unit();
			}
			acc[0] = INT32_MIN;
			acc[ld - 1] = INT32_MAX;
			acc[ld] = 0;
			for (int v = 0; v < 8; v++)
			{
				const float *b = (v & 1) ? bias : NULL;
				bool		relu = (v & 2) != 0;
				bool		in_place = (v & 4) != 0;

				((MaasS8DequantFn) ref->fn) (m, n, acc, ld, sx, zero, ws, sum, b, relu, want, ld);
				if (in_place)
				{
					int32_t    *a2 = (int32_t *) got;

					memcpy(a2, acc, sizeof(int32_t) * m * ld);
					((MaasS8DequantFn) kern->fn) (m, n, a2, ld, sx, zero, ws, sum, b, relu, got, ld);
				}
				else
					((MaasS8DequantFn) kern->fn) (m, n, acc, ld, sx, zero, ws, sum, b, relu, got, ld);
				for (int i = 0; i < m; i++)
					bad += memcmp(want + (size_t) i * ld, got + (size_t) i * ld,
								  sizeof(float) * n) != 0;
			}
		}
		printf("    dequantization %s: %d rows differ from plain C\n", kern->name, bad);
		CHECK(bad == 0);
	}
}

int
main(void)
{
	UNIT_RUN(test_bf16_rounding);
	UNIT_RUN(test_bf16_arrays_match);
	UNIT_RUN(test_f16_all_halves);
	UNIT_RUN(test_f16_arrays_match);
	UNIT_RUN(test_weights_s8);
	UNIT_RUN(test_s8_dequant_kernels);
	UNIT_RUN(test_weights_s8_stored);
	UNIT_RUN(test_rows_u8);
	UNIT_RUN(test_static_saturates);
	UNIT_RUN(test_prune_magnitude);
	UNIT_RUN(test_prune_units);
	return unit_finish("quantize");
}
