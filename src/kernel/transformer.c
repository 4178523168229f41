/*
 * transformer.c
 *		The transformer kernels (see transformer.h): embeddings, LayerNorm,
 *		GELU, attention with masks and a KV cache, linear layers, pooling.
 *
 * The elementwise loops are written once, as always-inline bodies in plain
 * C that the compiler vectorises, and compiled three times: for AVX-512,
 * for AVX2 + FMA, and for the baseline x86-64 (or whatever the build
 * targets).  The variant is picked once from the CPU's feature bits (never
 * -march=native).  The bodies avoid libm inside the loops, since a call to
 * expf or erff keeps a loop scalar: exp is a Cody-Waite range reduction and
 * a Taylor polynomial, with 2^n built from the exponent bits; erfc (for
 * BERT's GELU) is
 *
 *		erfc(z) = t exp(-z^2 + P(u)),	t = 1 / (1 + z/2),	u = 2.4 t - 1.4,
 *
 * with P a polynomial fitted to log(erfc(z)/t) + z^2 on z in [0, 10]
 * (test/unit/fit_erfc.py): degree 10 in double (7e-9 relative), degree 9
 * in float (5e-8).  The baseline variant computes GELU in double, where
 * z^2 = x^2/2 is exact for a float x; the FMA variants compute it in float
 * with twice the lanes, carrying x^2/2 as an exact two-float sum into exp's
 * range reduction.  Either way the tails keep their relative accuracy: x
 * Phi(x) far below zero is a tiny number that 0.5 x (1 + erf(x / sqrt 2))
 * in float would lose to cancellation.  GELU-tanh is computed in double in
 * every variant (GPT-2 needs few of them per token).
 */
#include "transformer.h"

#include <math.h>
#include <string.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- vectorisable math (bodies) ---- */

static inline uint64_t
bits_d(double d)
{
	uint64_t	u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static inline double
from_bits_d(uint64_t u)
{
	double		d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static inline uint32_t
bits_f(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static inline float
from_bits_f(uint32_t u)
{
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* exp(a) in double for a in [-708, 708] (clamped there; NaN -> exp(-708)) */
ALWAYS_INLINE double
exp_d(double a)
{
	const double shifter = 0x1.8p52;
	double		z,
				n,
				r,
				p;
	uint64_t	e;

	a = a > -708.0 ? a : -708.0;
	a = a < 708.0 ? a : 708.0;
	z = a * 1.4426950408889634 + shifter;	/* round(a / ln 2) in the low bits */
	n = z - shifter;
	r = a - n * 6.93147180369123816490e-01;	/* ln 2, high part: n * it is exact */
	r = r - n * 1.90821492927058770002e-10;	/* ln 2, low part */
	/* Taylor to degree 8: |r| <= ln(2)/2 gives 2e-10 relative */
	p = 1.0 / 40320.0;
	p = p * r + 1.0 / 5040.0;
	p = p * r + 1.0 / 720.0;
	p = p * r + 1.0 / 120.0;
	p = p * r + 1.0 / 24.0;
	p = p * r + 1.0 / 6.0;
	p = p * r + 0.5;
	p = p * r + 1.0;
	p = p * r + 1.0;
	e = (bits_d(z) - bits_d(shifter) + 1023) << 52;
	return p * from_bits_d(e);
}

#define EXPF_LO		-87.33654f	/* ln 2^-126: below, exp is not normal */
#define EXPF_HI		88.3f

/* exp(x) in float within 2 ulp on [EXPF_LO, EXPF_HI]; 0 below; clamped above */
ALWAYS_INLINE float
exp_f(float x)
{
	const float shifter = 0x1.8p23f;
	float		xc,
				z,
				n,
				r,
				p;
	uint32_t	e;

	xc = x > EXPF_LO ? x : EXPF_LO;
	xc = xc < EXPF_HI ? xc : EXPF_HI;
	z = xc * 1.44269504f + shifter;
	n = z - shifter;
	r = xc - n * 0.693145751953125f;	/* ln 2 = 0x1.62e4p-1 + ... */
	r = r - n * 1.428606765330187e-06f;
	/* Taylor to degree 7: 5e-9 relative, under float rounding */
	p = 1.0f / 5040.0f;
	p = p * r + 1.0f / 720.0f;
	p = p * r + 1.0f / 120.0f;
	p = p * r + 1.0f / 24.0f;
	p = p * r + 1.0f / 6.0f;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	e = (bits_f(z) - bits_f(shifter) + 127) << 23;
	p = p * from_bits_f(e);
	return x >= EXPF_LO ? p : 0.0f;
}

/*
 * x Phi(x), with Phi the standard normal CDF.  With z = |x| / sqrt 2,
 * Phi(x) = 1 - erfc(z)/2 for x >= 0 and erfc(z)/2 for x < 0: both
 * relatively accurate, as erfc is.  erfc(z) = t exp(-z^2 + P(u)), t = 1 /
 * (1 + z/2), u = 2.4 t - 1.4 in [-1, 1] for z in [0, 10] (beyond, the
 * result is below any float and u is clamped).
 */
static const double erfc_p10[11] = {
	-0.558595354, 0.570307103, 0.0157450741, -0.0294703369, -0.00104555184,
	0.00370747674, -0.000275961158, -0.00053432061, 0.000129868214,
	5.48602468e-05, -2.28557696e-05
};

/* in double: 7e-9 relative for P, exact z^2 (x is a float) */
ALWAYS_INLINE double
gelu_erf_d(double x)
{
	double		t = 1.0 / (1.0 + 0.35355339059327376 * fabs(x));
	double		u = t * 2.4 - 1.4;
	double		p = erfc_p10[10];
	double		ec;

	u = u > -1.0 ? u : -1.0;
	for (int i = 9; i >= 0; i--)
		p = p * u + erfc_p10[i];
	ec = t * exp_d(p - 0.5 * x * x);
	return x * (x >= 0.0 ? 1.0 - 0.5 * ec : 0.5 * ec);
}

/*
 * In float, for the variants with FMA (16 lanes instead of 8): a degree-9
 * P (5e-8 fit, 1.2e-7 evaluated in float), and z^2 carried as the exact sum
 * h + hl into exp's range reduction, so the deep negative tail keeps its
 * relative accuracy (3e-7 worst, test_transformer.c).
 */
static const float erfc_p9[10] = {
	-0.558595398f, 0.570307103f, 0.0157473061f, -0.0294703369f,
	-0.00106340791f, 0.00370747674f, -0.000225964162f, -0.000534320611f,
	7.27287902e-05f, 5.48602469e-05f
};

ALWAYS_INLINE float
gelu_erf_fma(float x)
{
	const float shifter = 0x1.8p23f;
	const float lo = -103.9f;	/* ln 2^-150: below, x Phi(x) is no float */
	float		t = 1.0f / (1.0f + 0.35355339f * fabsf(x));
	float		u = t * 2.4f - 1.4f;
	float		p = erfc_p9[9];
	float		hx = 0.5f * x;
	float		h = hx * x;
	float		hl = fmaf(hx, x, -h);	/* x^2/2 = h + hl exactly */
	float		a,
				ac,
				z,
				n,
				r,
				e,
				ec;
	uint32_t	bits;

	u = u > -1.0f ? u : -1.0f;
	for (int i = 8; i >= 0; i--)
		p = p * u + erfc_p9[i];
	a = p - h;
	ac = a > lo ? a : lo;
	z = ac * 1.44269504f + shifter;
	n = z - shifter;
	r = fmaf(-n, 0.693145751953125f, -h);
	r = fmaf(-n, 1.428606765330187e-06f, r + (p - hl));
	e = 1.0f / 5040.0f;
	e = e * r + 1.0f / 720.0f;
	e = e * r + 1.0f / 120.0f;
	e = e * r + 1.0f / 24.0f;
	e = e * r + 1.0f / 6.0f;
	e = e * r + 0.5f;
	e = e * r + 1.0f;
	e = e * r + 1.0f;

	/*
	 * erfc(z) 2^24, kept normal down to the smallest result (a <= 0, so
	 * n + 24 is in [-126, 24]); the 2^-24 comes last, one rounding into
	 * the result even where it is subnormal.
	 */
	bits = (bits_f(z) - bits_f(shifter) + 127 + 24) << 23;
	ec = a >= lo ? t * (e * from_bits_f(bits)) : 0.0f;
	if (x >= 0.0f)
		return x * (1.0f - 0.5f * 0x1p-24f * ec);
	return (x * (0.5f * ec)) * 0x1p-24f;
}

/* 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3) */
ALWAYS_INLINE double
gelu_tanh_d(double x)
{
	double		u = 0.79788456080286536 * (x + 0.044715 * x * x * x);

	return x / (1.0 + exp_d(-2.0 * u));
}

ALWAYS_INLINE void
exp_body(float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = exp_f(v[i]);
}

ALWAYS_INLINE void
gelu_tanh_body(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (float) gelu_tanh_d(inp[i]);
}

ALWAYS_INLINE void
gelu_erf_body(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (float) gelu_erf_d(inp[i]);
}

ALWAYS_INLINE void
gelu_erf_body_fma(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = gelu_erf_fma(inp[i]);
}

/* sum of v[0..n) in double, eight independent lanes (they vectorise) */
ALWAYS_INLINE double
sum_d(const float *v, int n)
{
	double		acc[8] = {0};
	double		s = 0.0;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		for (int l = 0; l < 8; l++)
			acc[l] += v[i + l];
	for (; i < n; i++)
		s += v[i];
	for (int l = 0; l < 8; l++)
		s += acc[l];
	return s;
}

/* sum of (v[i] - m)^2 in double */
ALWAYS_INLINE double
sumsq_d(const float *v, int n, double m)
{
	double		acc[8] = {0};
	double		s = 0.0;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		for (int l = 0; l < 8; l++)
		{
			double		d = v[i + l] - m;

			acc[l] += d * d;
		}
	for (; i < n; i++)
	{
		double		d = v[i] - m;

		s += d * d;
	}
	for (int l = 0; l < 8; l++)
		s += acc[l];
	return s;
}

ALWAYS_INLINE void
layernorm_body(float *out, const float *inp, const float *weight,
			   const float *bias, size_t N, int C, float eps)
{
	for (size_t r = 0; r < N; r++)
	{
		const float *x = inp + r * C;
		float	   *y = out + r * C;
		double		mean = sum_d(x, C) / C;
		double		var = sumsq_d(x, C, mean) / C;
		float		m = (float) mean;
		float		rs = (float) (1.0 / sqrt(var + eps));

		for (int i = 0; i < C; i++)
			y[i] = (x[i] - m) * rs * weight[i] + bias[i];
	}
}

/* float dot product with sixteen independent lanes */
ALWAYS_INLINE float
dot_body(const float *a, const float *b, int n)
{
	float		acc[16] = {0};
	float		s = 0.0f;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		for (int l = 0; l < 16; l++)
			acc[l] += a[i + l] * b[i + l];
	for (; i < n; i++)
		s += a[i] * b[i];
	/* a tree, not a chain of sixteen dependent adds */
	for (int w = 8; w >= 1; w /= 2)
		for (int l = 0; l < w; l++)
			acc[l] += acc[l + w];
	return s + acc[0];
}

/*
 * One query row of one head over n keys and values (row stride ld): the
 * scores, their softmax, the weighted sum into o (hs).  s holds n floats.
 */
ALWAYS_INLINE void
attend_one_body(float *o, float *s, const float *q, const float *k,
				const float *v, int ld, int n, int hs, float scale)
{
	float		max = -INFINITY;
	float		inv;

	for (int j = 0; j < n; j++)
	{
		s[j] = dot_body(q, k + (size_t) j * ld, hs) * scale;
		max = s[j] > max ? s[j] : max;
	}
	for (int j = 0; j < n; j++)
		s[j] -= max;
	exp_body(s, n);
	inv = (float) (1.0 / sum_d(s, n));
	for (int c = 0; c < hs; c++)
		o[c] = 0.0f;
	for (int j = 0; j < n; j++)
	{
		const float *vj = v + (size_t) j * ld;
		float		p = s[j] * inv;

		for (int c = 0; c < hs; c++)
			o[c] += p * vj[c];
	}
}

/* ---- the three variants and the pick ---- */

typedef struct VecKernels
{
	const char *name;
	void		(*exp_inplace) (float *v, size_t n);
	void		(*gelu_tanh) (float *out, const float *inp, size_t n);
	void		(*gelu_erf) (float *out, const float *inp, size_t n);
	void		(*layernorm) (float *out, const float *inp, const float *w,
							  const float *b, size_t N, int C, float eps);
	void		(*attend_one) (float *o, float *s, const float *q, const float *k,
							   const float *v, int ld, int n, int hs, float scale);
} VecKernels;

#define DEFINE_VARIANT(suffix, attr, erf_body) \
	attr static void exp_##suffix(float *v, size_t n) \
	{ exp_body(v, n); } \
	attr static void gelu_tanh_##suffix(float *out, const float *inp, size_t n) \
	{ gelu_tanh_body(out, inp, n); } \
	attr static void gelu_erf_##suffix(float *out, const float *inp, size_t n) \
	{ erf_body(out, inp, n); } \
	attr static void layernorm_##suffix(float *out, const float *inp, \
										const float *w, const float *b, \
										size_t N, int C, float eps) \
	{ layernorm_body(out, inp, w, b, N, C, eps); } \
	attr static void attend_one_##suffix(float *o, float *s, const float *q, \
										 const float *k, const float *v, int ld, \
										 int n, int hs, float scale) \
	{ attend_one_body(o, s, q, k, v, ld, n, hs, scale); } \
	static const VecKernels kernels_##suffix = { \
		#suffix, exp_##suffix, gelu_tanh_##suffix, gelu_erf_##suffix, \
		layernorm_##suffix, attend_one_##suffix \
	};

DEFINE_VARIANT(generic,, gelu_erf_body)

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_VARIANTS 1
DEFINE_VARIANT(avx2, __attribute__((target("avx2,fma"))), gelu_erf_body_fma)
DEFINE_VARIANT(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma"))),
			   gelu_erf_body_fma)
#endif

static const VecKernels *vec_picked = NULL;
static bool vec_force_generic = false;

static const VecKernels *
vec(void)
{
	if (vec_force_generic)
		return &kernels_generic;
	if (vec_picked == NULL)
	{
		const VecKernels *k = &kernels_generic;

#ifdef HAVE_X86_VARIANTS
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx512f") &&
			__builtin_cpu_supports("avx512dq") &&
			__builtin_cpu_supports("avx512vl") &&
			__builtin_cpu_supports("avx512bw") &&
			__builtin_cpu_supports("avx2") &&
			__builtin_cpu_supports("fma"))
			k = &kernels_avx512;
		else if (__builtin_cpu_supports("avx2") &&
				 __builtin_cpu_supports("fma"))
			k = &kernels_avx2;
#endif
		vec_picked = k;
	}
	return vec_picked;
}

const char *
maas_transformer_isa(void)
{
	return vec()->name;
}

void
maas_transformer_force_generic(bool generic)
{
	vec_force_generic = generic;
}

void
maas_exp_inplace(float *v, size_t n)
{
	vec()->exp_inplace(v, n);
}

/* ---- embeddings ---- */

bool
maas_embedding_forward(float *out, const int32_t *ids, const int32_t *types,
					   int B, int T, int past,
					   const float *wte, int V, const float *wpe, int n_pos,
					   const float *wtt, int n_types, int C, MaasError *err)
{
	size_t		n = (size_t) B * T;

	if (B < 0 || T < 0 || C <= 0 || past < 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "invalid embedding shape B=%d T=%d C=%d past=%d",
						  B, T, C, past);
	if ((int64_t) past + T > n_pos)
		return maas_error(err, MAAS_ERR_LIMIT,
						  "position %lld is beyond the context of %d positions",
						  (long long) past + T - 1, n_pos);
	for (size_t i = 0; i < n; i++)
	{
		if (ids[i] < 0 || ids[i] >= V)
			return maas_error(err, MAAS_ERR_INVALID,
							  "token id \"%d\" is out of range for a vocabulary of %d tokens",
							  ids[i], V);
		if (types != NULL && wtt != NULL &&
			(types[i] < 0 || types[i] >= n_types))
			return maas_error(err, MAAS_ERR_INVALID,
							  "token type \"%d\" is out of range for %d token types",
							  types[i], n_types);
	}
	if (wtt != NULL && types == NULL && n_types < 1)
		return maas_error(err, MAAS_ERR_INVALID, "the model has no token types");

	for (int b = 0; b < B; b++)
	{
		for (int t = 0; t < T; t++)
		{
			size_t		i = (size_t) b * T + t;
			float	   *o = out + i * C;
			const float *we = wte + (size_t) ids[i] * C;
			const float *pe = wpe + (size_t) (past + t) * C;

			if (wtt != NULL)
			{
				const float *te = wtt + (size_t) (types ? types[i] : 0) * C;

				for (int c = 0; c < C; c++)
					o[c] = (we[c] + te[c]) + pe[c];
			}
			else
			{
				for (int c = 0; c < C; c++)
					o[c] = we[c] + pe[c];
			}
		}
	}
	return true;
}

/* ---- elementwise ---- */

void
maas_layernorm_forward(float *out, const float *inp, const float *weight,
					   const float *bias, size_t N, int C, float eps)
{
	vec()->layernorm(out, inp, weight, bias, N, C, eps);
}

void
maas_gelu_tanh_forward(float *out, const float *inp, size_t N)
{
	vec()->gelu_tanh(out, inp, N);
}

void
maas_gelu_erf_forward(float *out, const float *inp, size_t N)
{
	vec()->gelu_erf(out, inp, N);
}

void
maas_residual_forward(float *out, const float *a, const float *b, size_t N)
{
	for (size_t i = 0; i < N; i++)
		out[i] = a[i] + b[i];
}

void
maas_tanh_forward(float *v, size_t N)
{
	for (size_t i = 0; i < N; i++)
		v[i] = tanhf(v[i]);
}

/* ---- linear ---- */

bool
maas_linear_forward(float *out, const float *inp, const float *w,
					MaasWeightLayout layout, const float *bias,
					size_t N, int C_in, int C_out,
					const MaasBlas *blas, MaasError *err)
{
	bool		in_out = layout == MAAS_W_IN_OUT;

	if (C_in <= 0 || C_out <= 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "invalid linear layer shape %d x %d", C_in, C_out);
	if (N > INT_MAX)
		return maas_error(err, MAAS_ERR_LIMIT,
						  "a batch of %zu rows is too large", N);
	if (N == 0)
		return true;

	if (bias != NULL)
		for (size_t r = 0; r < N; r++)
			memcpy(out + r * C_out, bias, sizeof(float) * C_out);

	if (N == 1 && blas->sgemv != NULL)
	{
		/* y = W^T x for [in, out], W x for [out, in] */
		if (in_out)
			blas->sgemv(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_TRANS, C_in, C_out,
						1.0f, w, C_out, inp, 1, bias ? 1.0f : 0.0f, out, 1);
		else
			blas->sgemv(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, C_out, C_in,
						1.0f, w, C_in, inp, 1, bias ? 1.0f : 0.0f, out, 1);
		return true;
	}
	blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS,
				in_out ? MAAS_CBLAS_NO_TRANS : MAAS_CBLAS_TRANS,
				(int) N, C_out, C_in, 1.0f, inp, C_in,
				w, in_out ? C_out : C_in,
				bias ? 1.0f : 0.0f, out, C_out);
	return true;
}

/* ---- attention ---- */

/*
 * Up to this many new positions the scores are plain loops: the one-token
 * generation step costs a few dot products per key, less than two sgemm
 * calls per head (test/bench/text_kernels.c measures both).
 */
#define ATTN_LOOP_T 1

bool
maas_attention_scratch(int T, int n_keys, size_t *nfloats)
{
	if (T <= 0 || n_keys <= 0)
		return false;
	return maas_mul_size((size_t) T, (size_t) n_keys, nfloats);
}

/* softmax of s[0..n) in place; n >= 1 */
static void
softmax_row(const VecKernels *vk, float *s, int n)
{
	float		max = s[0];
	float		sum;
	float		inv;

	for (int j = 1; j < n; j++)
		max = s[j] > max ? s[j] : max;
	for (int j = 0; j < n; j++)
		s[j] -= max;
	vk->exp_inplace(s, n);
	sum = (float) sum_d(s, n);
	inv = 1.0f / sum;
	for (int j = 0; j < n; j++)
		s[j] *= inv;
}

bool
maas_attention_forward(float *out, float *scratch,
					   const float *q, int ldq,
					   const float *k, const float *v, int ldkv,
					   float *kcache, float *vcache, int n_ctx, int past,
					   const int32_t *lengths, bool causal,
					   int B, int T, int C, int H,
					   const MaasBlas *blas, MaasError *err)
{
	const VecKernels *vk = vec();
	int			hs;
	int			nk;
	float		scale;

	if (B <= 0 || T <= 0 || C <= 0 || H <= 0 || past < 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "invalid attention shape B=%d T=%d C=%d H=%d past=%d",
						  B, T, C, H, past);
	if (C % H != 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "%d heads do not divide the width %d", H, C);
	if (ldq < C || ldkv < C)
		return maas_error(err, MAAS_ERR_INVALID,
						  "row strides %d and %d are less than the width %d",
						  ldq, ldkv, C);
	if ((kcache == NULL) != (vcache == NULL))
		return maas_error(err, MAAS_ERR_INVALID,
						  "a key cache needs a value cache");
	if (kcache == NULL && past != 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "past positions need a KV cache");
	if (kcache != NULL && (int64_t) past + T > n_ctx)
		return maas_error(err, MAAS_ERR_LIMIT,
						  "%d positions exceed the KV cache of %d positions",
						  past + T, n_ctx);
	if ((int64_t) past + T > INT_MAX)
		return maas_error(err, MAAS_ERR_LIMIT, "too many positions");
	nk = past + T;
	if (lengths != NULL)
		for (int b = 0; b < B; b++)
			if (lengths[b] < 0 || lengths[b] > nk)
				return maas_error(err, MAAS_ERR_INVALID,
								  "sequence length %d is outside [0, %d]",
								  lengths[b], nk);

	hs = C / H;
	scale = 1.0f / sqrtf((float) hs);

	for (int b = 0; b < B; b++)
	{
		const float *qb = q + (size_t) b * T * ldq;
		const float *keys;
		const float *vals;
		int			ldk;
		int			nvalid = lengths ? lengths[b] : nk;

		if (kcache != NULL)
		{
			float	   *kc = kcache + (size_t) b * n_ctx * C;
			float	   *vc = vcache + (size_t) b * n_ctx * C;

			for (int t = 0; t < T; t++)
			{
				memcpy(kc + (size_t) (past + t) * C,
					   k + ((size_t) b * T + t) * ldkv, sizeof(float) * C);
				memcpy(vc + (size_t) (past + t) * C,
					   v + ((size_t) b * T + t) * ldkv, sizeof(float) * C);
			}
			keys = kc;
			vals = vc;
			ldk = C;
		}
		else
		{
			keys = k + (size_t) b * T * ldkv;
			vals = v + (size_t) b * T * ldkv;
			ldk = ldkv;
		}

		for (int h = 0; h < H; h++)
		{
			const float *qh = qb + (size_t) h * hs;
			const float *kh = keys + (size_t) h * hs;
			const float *vh = vals + (size_t) h * hs;
			float	   *oh = out + (size_t) b * T * C + (size_t) h * hs;

			if (T <= ATTN_LOOP_T)
			{
				for (int t = 0; t < T; t++)
				{
					const float *qt = qh + (size_t) t * ldq;
					float	   *ot = oh + (size_t) t * C;
					int			n = causal && past + t + 1 < nvalid ? past + t + 1 : nvalid;

					if (n == 0)
						memset(ot, 0, sizeof(float) * hs);
					else
						vk->attend_one(ot, scratch, qt, kh, vh, ldk, n, hs, scale);
				}
				continue;
			}

			/* (T, nvalid) scores, masked softmax per row, then times V */
			if (nvalid == 0)
			{
				for (int t = 0; t < T; t++)
					memset(oh + (size_t) t * C, 0, sizeof(float) * hs);
				continue;
			}
			blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
						T, nvalid, hs, scale, qh, ldq, kh, ldk,
						0.0f, scratch, nvalid);
			for (int t = 0; t < T; t++)
			{
				float	   *s = scratch + (size_t) t * nvalid;
				int			n = causal && past + t + 1 < nvalid ? past + t + 1 : nvalid;

				softmax_row(vk, s, n);
				if (n < nvalid)
					memset(s + n, 0, sizeof(float) * (nvalid - n));
			}
			blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
						T, hs, nvalid, 1.0f, scratch, nvalid, vh, ldk,
						0.0f, oh, C);
		}
	}
	return true;
}

/* ---- pooling ---- */

bool
maas_pool_mean_forward(float *out, const float *inp, const int32_t *lengths,
					   int B, int T, int C, MaasError *err)
{
	if (lengths != NULL)
		for (int b = 0; b < B; b++)
			if (lengths[b] < 0 || lengths[b] > T)
				return maas_error(err, MAAS_ERR_INVALID,
								  "sequence length %d is outside [0, %d]",
								  lengths[b], T);
	for (int b = 0; b < B; b++)
	{
		int			n = lengths ? lengths[b] : T;
		float	   *o = out + (size_t) b * C;
		float		inv = n > 0 ? 1.0f / (float) n : 0.0f;

		memset(o, 0, sizeof(float) * C);
		for (int t = 0; t < n; t++)
		{
			const float *x = inp + ((size_t) b * T + t) * C;

			for (int c = 0; c < C; c++)
				o[c] += x[c];
		}
		for (int c = 0; c < C; c++)
			o[c] *= inv;
	}
	return true;
}

void
maas_pool_cls_forward(float *out, const float *inp, int B, int T, int C)
{
	for (int b = 0; b < B; b++)
		memcpy(out + (size_t) b * C, inp + (size_t) b * T * C,
			   sizeof(float) * C);
}

bool
maas_select_last_forward(float *out, const float *inp, const int32_t *lengths,
						 int B, int T, int C, MaasError *err)
{
	if (lengths != NULL)
		for (int b = 0; b < B; b++)
			if (lengths[b] < 1 || lengths[b] > T)
				return maas_error(err, MAAS_ERR_INVALID,
								  "sequence length %d is outside [1, %d]",
								  lengths[b], T);
	for (int b = 0; b < B; b++)
	{
		int			t = lengths ? lengths[b] - 1 : T - 1;

		memcpy(out + (size_t) b * C, inp + ((size_t) b * T + t) * C,
			   sizeof(float) * C);
	}
	return true;
}
