/*
 * test_transformer.c
 *		Unit tests of the transformer kernels (src/kernel/transformer.c) and
 *		the sampler (src/kernel/sampling.c).
 *
 * Every kernel is checked against a double-precision reference written
 * here, at odd sizes (C not a multiple of 8, T = 1, B > 1, H = 1 and H =
 * C); attention under causal and padding masks, with and without the KV
 * cache (T tokens at once = T single steps); fully masked rows without NaN;
 * the vectorised GELU and exp against libm in double over dense sweeps, in
 * the picked variant and the generic one; the sampler's determinism, its
 * top-k and top-p sets and its frequencies.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "blas.h"
#include "sampling.h"
#include "train.h"
#include "transformer.h"
#include "unit.h"

static const MaasBlas *blas;

static uint64_t rng_state = 42;

/* uniform in [-1, 1) */
static float
rnd(void)
{
	return (float) (2.0 * maas_rng_uniform(&rng_state) - 1.0);
}

static float *
rnd_vec(size_t n, float scale)
{
	float	   *v = maas_kalloc(sizeof(float) * n);

	for (size_t i = 0; i < n; i++)
		v[i] = scale * rnd();
	return v;
}

static float *
fvec(size_t n)
{
	return maas_kalloc(sizeof(float) * (n ? n : 1));
}

/* |a - b| <= tol (1 + |b|) for every element; reports the first miss */
static bool
close_vec(const float *a, const double *b, size_t n, double tol)
{
	for (size_t i = 0; i < n; i++)
	{
		if (!(fabs((double) a[i] - b[i]) <= tol * (1.0 + fabs(b[i]))))
		{
			fprintf(stderr, "    at %zu: %.9g vs %.9g\n", i, a[i], b[i]);
			return false;
		}
	}
	return true;
}

static bool
close_ff(const float *a, const float *b, size_t n, double tol)
{
	for (size_t i = 0; i < n; i++)
	{
		if (!(fabs((double) a[i] - b[i]) <= tol * (1.0 + fabs((double) b[i]))))
		{
			fprintf(stderr, "    at %zu: %.9g vs %.9g\n", i, a[i], b[i]);
			return false;
		}
	}
	return true;
}

static bool
all_finite(const float *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(a[i]))
			return false;
	return true;
}

/* ---- embeddings ---- */

static void
test_embedding(void)
{
	int			B = 2,
				T = 3,
				C = 13,
				V = 11,
				n_pos = 9,
				n_types = 2,
				past = 4;
	float	   *wte = rnd_vec((size_t) V * C, 1);
	float	   *wpe = rnd_vec((size_t) n_pos * C, 1);
	float	   *wtt = rnd_vec((size_t) n_types * C, 1);
	int32_t		ids[6] = {0, 10, 5, 3, 3, 7};
	int32_t		types[6] = {0, 1, 1, 0, 0, 1};
	float	   *out = fvec((size_t) B * T * C);
	double	   *ref = maas_kalloc(sizeof(double) * B * T * C);
	MaasError	err;

	/* GPT-2: word + position, from position past */
	CHECK(maas_embedding_forward(out, ids, NULL, B, T, past, wte, V, wpe, n_pos,
								 NULL, 0, C, &err));
	for (int i = 0; i < B * T; i++)
		for (int c = 0; c < C; c++)
			ref[i * C + c] = (double) wte[ids[i] * C + c] +
				wpe[(past + i % T) * C + c];
	CHECK(close_vec(out, ref, (size_t) B * T * C, 1e-7));

	/* BERT: word + type + position, from 0 */
	CHECK(maas_embedding_forward(out, ids, types, B, T, 0, wte, V, wpe, n_pos,
								 wtt, n_types, C, &err));
	for (int i = 0; i < B * T; i++)
		for (int c = 0; c < C; c++)
			ref[i * C + c] = (double) wte[ids[i] * C + c] +
				wtt[types[i] * C + c] + wpe[(i % T) * C + c];
	CHECK(close_vec(out, ref, (size_t) B * T * C, 1e-6));

	/* token types table without types: every token is type 0 */
	CHECK(maas_embedding_forward(out, ids, NULL, B, T, 0, wte, V, wpe, n_pos,
								 wtt, n_types, C, &err));
	for (int i = 0; i < B * T; i++)
		for (int c = 0; c < C; c++)
			ref[i * C + c] = (double) wte[ids[i] * C + c] + wtt[c] +
				wpe[(i % T) * C + c];
	CHECK(close_vec(out, ref, (size_t) B * T * C, 1e-6));

	/* out of range: false, and nothing written */
	for (int i = 0; i < B * T * C; i++)
		out[i] = 123.0f;
	ids[4] = V;
	CHECK_ERR(maas_embedding_forward(out, ids, NULL, B, T, 0, wte, V, wpe, n_pos,
									 NULL, 0, C, &err), err.msg,
			  "token id \"11\" is out of range for a vocabulary of 11 tokens");
	CHECK(err.status == MAAS_ERR_INVALID);
	ids[4] = -1;
	CHECK_ERR(maas_embedding_forward(out, ids, NULL, B, T, 0, wte, V, wpe, n_pos,
									 NULL, 0, C, &err), err.msg,
			  "token id \"-1\" is out of range");
	ids[4] = 3;
	types[2] = 2;
	CHECK_ERR(maas_embedding_forward(out, ids, types, B, T, 0, wte, V, wpe, n_pos,
									 wtt, n_types, C, &err), err.msg,
			  "token type \"2\" is out of range for 2 token types");
	CHECK_ERR(maas_embedding_forward(out, ids, NULL, B, T, 7, wte, V, wpe, n_pos,
									 NULL, 0, C, &err), err.msg,
			  "position 9 is beyond the context of 9 positions");
	CHECK(err.status == MAAS_ERR_LIMIT);
	for (int i = 0; i < B * T * C; i++)
		CHECK(out[i] == 123.0f);
	/* the last position that fits */
	CHECK(maas_embedding_forward(out, ids, NULL, B, T, 6, wte, V, wpe, n_pos,
								 NULL, 0, C, &err));
}

/* ---- layernorm ---- */

static void
layernorm_ref(double *out, const float *x, const float *w, const float *b,
			  int N, int C, double eps)
{
	for (int r = 0; r < N; r++)
	{
		double		m = 0,
					v = 0;

		for (int c = 0; c < C; c++)
			m += x[r * C + c];
		m /= C;
		for (int c = 0; c < C; c++)
			v += (x[r * C + c] - m) * (x[r * C + c] - m);
		v /= C;
		for (int c = 0; c < C; c++)
			out[r * C + c] = (x[r * C + c] - m) / sqrt(v + eps) * w[c] + b[c];
	}
}

static void
test_layernorm(void)
{
	static const int Cs[] = {1, 7, 13, 64, 100, 768};
	static const float offsets[] = {0.0f, 1000.0f};

	for (int g = 0; g < 2; g++)
	{
		maas_transformer_force_generic(g == 1);
		for (size_t ci = 0; ci < sizeof(Cs) / sizeof(Cs[0]); ci++)
			for (int oi = 0; oi < 2; oi++)
			{
				int			C = Cs[ci],
							N = 5;
				float	   *x = rnd_vec((size_t) N * C, 3);
				float	   *w = rnd_vec(C, 1);
				float	   *b = rnd_vec(C, 1);
				float	   *out = fvec((size_t) N * C);
				double	   *ref = maas_kalloc(sizeof(double) * N * C);

				/* a large common offset: a one-pass variance would lose it */
				for (int i = 0; i < N * C; i++)
					x[i] += offsets[oi];
				layernorm_ref(ref, x, w, b, N, C, 1e-5);
				maas_layernorm_forward(out, x, w, b, N, C, 1e-5f);
				CHECK(close_vec(out, ref, (size_t) N * C, offsets[oi] ? 2e-4 : 2e-6));
				/* BERT's eps, in place */
				layernorm_ref(ref, x, w, b, N, C, 1e-12);
				maas_layernorm_forward(x, x, w, b, N, C, 1e-12f);
				CHECK(close_vec(x, ref, (size_t) N * C, offsets[oi] ? 2e-4 : 2e-6));
			}
	}
	maas_transformer_force_generic(false);

	/* a constant row: zero variance gives the bias, finite */
	{
		float		x[5] = {2, 2, 2, 2, 2};
		float		w[5] = {1, 2, 3, 4, 5};
		float		b[5] = {0.5f, -1, 0, 1, 2};

		maas_layernorm_forward(x, x, w, b, 1, 5, 1e-5f);
		for (int c = 0; c < 5; c++)
			CHECK(x[c] == b[c]);
	}
}

/* ---- GELU and exp ---- */

static double
gelu_erf_ref(double x)
{
	return x * 0.5 * erfc(-x / sqrt(2.0));
}

static double
gelu_tanh_ref(double x)
{
	/* 0.5 x (1 + tanh u) written so the negative tail keeps its digits */
	double		u = sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);

	return x / (1.0 + exp(-2.0 * u));
}

/*
 * Relative error at most rel where the exact value is a normal float;
 * below that (the far negative tail) an absolute error of FLT_MIN.
 */
static bool
check_gelu(void (*fn) (float *, const float *, size_t), double (*ref) (double),
		   double rel, const char *what)
{
	size_t		n = 0;
	size_t		cap = 2 * 40 * 4096 + 20000;
	float	   *x = fvec(cap);
	float	   *y = fvec(cap);
	double		worst = 0,
				worst_x = 0;
	bool		ok = true;

	for (int i = -40 * 4096; i < 40 * 4096; i++)
		x[n++] = (float) i / 4096.0f;	/* [-40, 40) by 2^-12 */
	for (int i = 0; i < 20000; i++)
	{
		/* random magnitudes from 1e-30 to 1e3 of both signs */
		double		e = -30 + 33 * maas_rng_uniform(&rng_state);

		x[n++] = (float) ((rnd() < 0 ? -1 : 1) * pow(10.0, e));
	}
	fn(y, x, n);
	for (size_t i = 0; i < n; i++)
	{
		double		r = ref(x[i]);
		double		e = fabs(y[i] - r);

		if (fabs(r) >= FLT_MIN)
		{
			if (e / fabs(r) > worst)
			{
				worst = e / fabs(r);
				worst_x = x[i];
			}
		}
		else if (e > FLT_MIN)
		{
			fprintf(stderr, "    %s(%.9g) = %.9g, expected %.9g\n", what,
					x[i], y[i], r);
			ok = false;
		}
	}
	if (worst > rel)
	{
		fprintf(stderr, "    %s: relative error %.3g at %.9g\n", what, worst,
				worst_x);
		ok = false;
	}
	/* in place gives the same */
	{
		float	   *z = fvec(n);

		memcpy(z, x, sizeof(float) * n);
		fn(z, z, n);
		if (memcmp(z, y, sizeof(float) * n) != 0)
			ok = false;
	}
	return ok;
}

static void
test_gelu(void)
{
	for (int g = 0; g < 2; g++)
	{
		maas_transformer_force_generic(g == 1);
		CHECK(check_gelu(maas_gelu_erf_forward, gelu_erf_ref, 1e-6, "gelu_erf"));
		CHECK(check_gelu(maas_gelu_tanh_forward, gelu_tanh_ref, 1e-6, "gelu_tanh"));
		{
			float		x[6] = {NAN, INFINITY, 0.0f, -0.0f, 1e30f, -1e30f};
			float		y[6];

			maas_gelu_erf_forward(y, x, 6);
			CHECK(isnan(y[0]));
			CHECK(y[1] == INFINITY);
			CHECK(y[2] == 0.0f && y[3] == 0.0f);
			CHECK(y[4] == 1e30f && y[5] == 0.0f);
			maas_gelu_tanh_forward(y, x, 6);
			CHECK(isnan(y[0]));
			CHECK(y[1] == INFINITY);
			CHECK(y[2] == 0.0f && y[3] == 0.0f);
			CHECK(y[4] == 1e30f && y[5] == 0.0f);
		}
	}
	maas_transformer_force_generic(false);
	CHECK(strcmp(maas_transformer_isa(), "avx512") == 0 ||
		  strcmp(maas_transformer_isa(), "avx2") == 0 ||
		  strcmp(maas_transformer_isa(), "generic") == 0);
	printf("# vectorised kernels: %s\n", maas_transformer_isa());
}

static void
test_exp(void)
{
	size_t		n = 400000;
	float	   *x = fvec(n);
	float	   *y = fvec(n);

	for (int g = 0; g < 2; g++)
	{
		double		worst = 0;

		maas_transformer_force_generic(g == 1);
		for (size_t i = 0; i < n; i++)
			x[i] = y[i] = -87.3f + 175.6f * (float) i / (float) n;
		maas_exp_inplace(y, n);
		for (size_t i = 0; i < n; i++)
		{
			double		r = exp((double) x[i]);
			double		e = fabs(y[i] - r) / r;

			worst = e > worst ? e : worst;
		}
		CHECK(worst < 2.5e-7);	/* 2 ulp */
		{
			float		v[5] = {-INFINITY, -1000.0f, -87.5f, 0.0f, 1.0f};

			maas_exp_inplace(v, 5);
			CHECK(v[0] == 0.0f && v[1] == 0.0f && v[2] == 0.0f);
			CHECK(v[3] == 1.0f);
			CHECK(fabs(v[4] - M_E) < 3e-7);
		}
	}
	maas_transformer_force_generic(false);
}

static void
test_elementwise(void)
{
	size_t		n = 37;
	float	   *a = rnd_vec(n, 5);
	float	   *b = rnd_vec(n, 5);
	float	   *o = fvec(n);
	double	   *ref = maas_kalloc(sizeof(double) * n);

	maas_residual_forward(o, a, b, n);
	for (size_t i = 0; i < n; i++)
		CHECK(o[i] == a[i] + b[i]);
	maas_residual_forward(a, a, b, n);
	CHECK(memcmp(a, o, sizeof(float) * n) == 0);
	for (size_t i = 0; i < n; i++)
		ref[i] = tanh((double) o[i]);
	maas_tanh_forward(o, n);
	CHECK(close_vec(o, ref, n, 1e-7));
}

/* ---- linear ---- */

static void
test_linear(void)
{
	static const int shapes[][3] = {{1, 13, 7}, {5, 13, 7}, {3, 1, 9}, {4, 64, 33}};
	MaasError	err;

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		int			N = shapes[s][0],
					I = shapes[s][1],
					O = shapes[s][2];
		float	   *x = rnd_vec((size_t) N * I, 1);
		float	   *w = rnd_vec((size_t) I * O, 1);
		float	   *bias = rnd_vec(O, 1);
		float	   *y = fvec((size_t) N * O);
		double	   *ref = maas_kalloc(sizeof(double) * N * O);

		for (int layout = 0; layout < 2; layout++)
			for (int with_bias = 0; with_bias < 2; with_bias++)
			{
				for (int r = 0; r < N; r++)
					for (int o = 0; o < O; o++)
					{
						double		acc = with_bias ? bias[o] : 0.0;

						for (int i = 0; i < I; i++)
							acc += (double) x[r * I + i] *
								(layout == MAAS_W_IN_OUT ? w[i * O + o] : w[o * I + i]);
						ref[r * O + o] = acc;
					}
				for (int i = 0; i < N * O; i++)
					y[i] = NAN;	/* the kernel must not read its output */
				CHECK(maas_linear_forward(y, x, w, (MaasWeightLayout) layout,
										  with_bias ? bias : NULL, N, I, O,
										  blas, &err));
				CHECK(close_vec(y, ref, (size_t) N * O, 1e-5));
			}
	}
	CHECK_ERR(maas_linear_forward(NULL, NULL, NULL, MAAS_W_IN_OUT, NULL, 1, 0, 3,
								  blas, &err), err.msg, "invalid linear layer shape");
	CHECK(maas_linear_forward(NULL, NULL, NULL, MAAS_W_IN_OUT, NULL, 0, 3, 3,
							  blas, &err));
}

/* ---- attention ---- */

/*
 * The reference: q (B,T,C) at stride ldq; keys and values of each sequence
 * kk, vv (B,nk,C) at stride C, the last T of them the new ones.
 */
static void
attention_ref(double *out, const float *q, int ldq, const float *kk,
			  const float *vv, int nk, int past, const int32_t *lengths,
			  bool causal, int B, int T, int C, int H)
{
	int			hs = C / H;
	double	   *s = maas_kalloc(sizeof(double) * nk);

	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int h = 0; h < H; h++)
			{
				const float *qt = q + ((size_t) b * T + t) * ldq + h * hs;
				double		max = -INFINITY,
							sum = 0;
				double	   *o = out + ((size_t) b * T + t) * C + h * hs;

				for (int j = 0; j < nk; j++)
				{
					bool		ok = (!causal || j <= past + t) &&
						(lengths == NULL || j < lengths[b]);

					s[j] = -INFINITY;
					if (ok)
					{
						double		d = 0;

						for (int c = 0; c < hs; c++)
							d += (double) qt[c] * kk[((size_t) b * nk + j) * C + h * hs + c];
						s[j] = d / sqrt((double) hs);
						max = s[j] > max ? s[j] : max;
					}
				}
				for (int c = 0; c < hs; c++)
					o[c] = 0;
				if (max == -INFINITY)
					continue;
				for (int j = 0; j < nk; j++)
				{
					s[j] = s[j] == -INFINITY ? 0 : exp(s[j] - max);
					sum += s[j];
				}
				for (int j = 0; j < nk; j++)
					for (int c = 0; c < hs; c++)
						o[c] += s[j] / sum * vv[((size_t) b * nk + j) * C + h * hs + c];
			}
}

static float *
attn_scratch(int T, int nk)
{
	size_t		n;

	CHECK(maas_attention_scratch(T, nk, &n));
	return fvec(n);
}

/* one configuration, no cache: fused (stride 3C) and separate (stride C) */
static void
attention_case(int B, int T, int C, int H, bool causal, const int32_t *lengths)
{
	float	   *qkv = rnd_vec((size_t) B * T * 3 * C, 2);
	float	   *q = fvec((size_t) B * T * C);
	float	   *k = fvec((size_t) B * T * C);
	float	   *v = fvec((size_t) B * T * C);
	float	   *out = fvec((size_t) B * T * C);
	double	   *ref = maas_kalloc(sizeof(double) * B * T * C);
	MaasError	err;

	for (int i = 0; i < B * T; i++)
	{
		memcpy(q + (size_t) i * C, qkv + (size_t) i * 3 * C, sizeof(float) * C);
		memcpy(k + (size_t) i * C, qkv + (size_t) i * 3 * C + C, sizeof(float) * C);
		memcpy(v + (size_t) i * C, qkv + (size_t) i * 3 * C + 2 * C, sizeof(float) * C);
	}
	attention_ref(ref, q, C, k, v, T, 0, lengths, causal, B, T, C, H);

	CHECK(maas_attention_forward(out, attn_scratch(T, T), qkv, 3 * C,
								 qkv + C, qkv + 2 * C, 3 * C, NULL, NULL, 0, 0,
								 lengths, causal, B, T, C, H, blas, &err));
	if (!close_vec(out, ref, (size_t) B * T * C, 2e-5))
		fprintf(stderr, "    fused B=%d T=%d C=%d H=%d causal=%d\n", B, T, C, H, causal);
	CHECK(close_vec(out, ref, (size_t) B * T * C, 2e-5));
	CHECK(maas_attention_forward(out, attn_scratch(T, T), q, C, k, v, C,
								 NULL, NULL, 0, 0, lengths, causal,
								 B, T, C, H, blas, &err));
	CHECK(close_vec(out, ref, (size_t) B * T * C, 2e-5));
	CHECK(all_finite(out, (size_t) B * T * C));
}

static void
test_attention_masks(void)
{
	int32_t		len2[2] = {5, 2};
	int32_t		len3[3] = {1, 7, 4};
	int32_t		len1[1] = {1};

	/* causal, GPT-2 shapes and odd ones */
	attention_case(2, 5, 12, 3, true, NULL);
	attention_case(1, 9, 64, 4, true, NULL);
	attention_case(2, 7, 13, 1, true, NULL);	/* H = 1, C odd */
	attention_case(2, 7, 13, 13, true, NULL);	/* H = C: heads of 1 */
	attention_case(3, 1, 12, 4, true, NULL);	/* T = 1 */
	/* padded, BERT */
	attention_case(2, 5, 12, 3, false, len2);
	attention_case(3, 7, 20, 4, false, len3);
	attention_case(1, 1, 12, 2, false, len1);
	attention_case(2, 6, 9, 9, false, NULL);	/* bidirectional, unpadded */
	/* both masks */
	attention_case(3, 7, 20, 4, true, len3);
}

/*
 * Running T tokens at once gives what T single steps with the cache give;
 * so does a prefill of P tokens into the cache followed by single steps.
 */
static void
test_attention_cache(void)
{
	int			B = 2,
				T = 9,
				C = 20,
				H = 4,
				n_ctx = 12;
	float	   *qkv = rnd_vec((size_t) B * T * 3 * C, 2);
	float	   *full = fvec((size_t) B * T * C);
	float	   *kc = fvec((size_t) B * n_ctx * C);
	float	   *vc = fvec((size_t) B * n_ctx * C);
	float	   *step_qkv = fvec((size_t) B * 3 * C);
	float	   *step_out = fvec((size_t) B * C);
	float	   *scratch = attn_scratch(T, n_ctx);
	MaasError	err;

	CHECK(maas_attention_forward(full, scratch, qkv, 3 * C, qkv + C, qkv + 2 * C,
								 3 * C, NULL, NULL, 0, 0, NULL, true,
								 B, T, C, H, blas, &err));

	for (int prefill = 0; prefill <= 4; prefill += 4)
	{
		int			t0 = 0;

		if (prefill > 0)
		{
			float	   *pq = fvec((size_t) B * prefill * 3 * C);
			float	   *po = fvec((size_t) B * prefill * C);

			for (int b = 0; b < B; b++)
				memcpy(pq + (size_t) b * prefill * 3 * C,
					   qkv + (size_t) b * T * 3 * C,
					   sizeof(float) * prefill * 3 * C);
			CHECK(maas_attention_forward(po, scratch, pq, 3 * C, pq + C, pq + 2 * C,
										 3 * C, kc, vc, n_ctx, 0, NULL, true,
										 B, prefill, C, H, blas, &err));
			for (int b = 0; b < B; b++)
				CHECK(close_ff(po + (size_t) b * prefill * C,
							   full + (size_t) b * T * C, (size_t) prefill * C, 1e-5));
			t0 = prefill;
		}
		for (int t = t0; t < T; t++)
		{
			for (int b = 0; b < B; b++)
				memcpy(step_qkv + (size_t) b * 3 * C,
					   qkv + ((size_t) b * T + t) * 3 * C, sizeof(float) * 3 * C);
			CHECK(maas_attention_forward(step_out, scratch, step_qkv, 3 * C,
										 step_qkv + C, step_qkv + 2 * C, 3 * C,
										 kc, vc, n_ctx, t, NULL, true,
										 B, 1, C, H, blas, &err));
			for (int b = 0; b < B; b++)
				CHECK(close_ff(step_out + (size_t) b * C,
							   full + ((size_t) b * T + t) * C, C, 1e-5));
		}
		/* the cache holds every key and value, at its position */
		for (int b = 0; b < B; b++)
			for (int t = 0; t < T; t++)
			{
				CHECK(memcmp(kc + ((size_t) b * n_ctx + t) * C,
							 qkv + ((size_t) b * T + t) * 3 * C + C,
							 sizeof(float) * C) == 0);
				CHECK(memcmp(vc + ((size_t) b * n_ctx + t) * C,
							 qkv + ((size_t) b * T + t) * 3 * C + 2 * C,
							 sizeof(float) * C) == 0);
			}
	}

	/* two tokens at a time over the cache (the sgemm path with past > 0) */
	{
		int			P = 5;
		float	   *two = fvec((size_t) B * 2 * 3 * C);
		float	   *out2 = fvec((size_t) B * 2 * C);

		for (int b = 0; b < B; b++)
			memcpy(two + (size_t) b * 2 * 3 * C,
				   qkv + ((size_t) b * T + P) * 3 * C, sizeof(float) * 2 * 3 * C);
		CHECK(maas_attention_forward(out2, scratch, two, 3 * C, two + C, two + 2 * C,
									 3 * C, kc, vc, n_ctx, P, NULL, true,
									 B, 2, C, H, blas, &err));
		for (int b = 0; b < B; b++)
			CHECK(close_ff(out2 + (size_t) b * 2 * C,
						   full + ((size_t) b * T + P) * C, (size_t) 2 * C, 1e-5));
	}

	/* the cache is full */
	CHECK_ERR(maas_attention_forward(step_out, scratch, step_qkv, 3 * C,
									 step_qkv + C, step_qkv + 2 * C, 3 * C,
									 kc, vc, n_ctx, n_ctx, NULL, true,
									 B, 1, C, H, blas, &err), err.msg,
			  "13 positions exceed the KV cache of 12 positions");
	CHECK(err.status == MAAS_ERR_LIMIT);
}

/* a sequence of length 0 sees nothing: zeros, never NaN, in both paths */
static void
test_attention_fully_masked(void)
{
	int			B = 2,
				C = 8,
				H = 2;
	MaasError	err;

	for (int T = 1; T <= 4; T += 3)
	{
		float	   *qkv = rnd_vec((size_t) B * T * 3 * C, 1);
		float	   *out = fvec((size_t) B * T * C);
		double	   *ref = maas_kalloc(sizeof(double) * B * T * C);
		int32_t		lens[2] = {0, T < 3 ? T : 3};
		float	   *k = fvec((size_t) B * T * C);
		float	   *v = fvec((size_t) B * T * C);
		float	   *q = fvec((size_t) B * T * C);

		for (int i = 0; i < B * T; i++)
		{
			memcpy(q + (size_t) i * C, qkv + (size_t) i * 3 * C, sizeof(float) * C);
			memcpy(k + (size_t) i * C, qkv + (size_t) i * 3 * C + C, sizeof(float) * C);
			memcpy(v + (size_t) i * C, qkv + (size_t) i * 3 * C + 2 * C, sizeof(float) * C);
		}
		for (int causal = 0; causal < 2; causal++)
		{
			CHECK(maas_attention_forward(out, attn_scratch(T, T), qkv, 3 * C,
										 qkv + C, qkv + 2 * C, 3 * C, NULL, NULL,
										 0, 0, lens, causal, B, T, C, H, blas, &err));
			CHECK(all_finite(out, (size_t) B * T * C));
			for (int i = 0; i < T * C; i++)
				CHECK(out[i] == 0.0f);
			attention_ref(ref, q, C, k, v, T, 0, lens, causal, B, T, C, H);
			CHECK(close_vec(out, ref, (size_t) B * T * C, 2e-5));
		}
	}

	/* scores far apart: the stable softmax picks the one key, no overflow */
	{
		int			T = 3;
		float		q[3 * 4] = {100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100};
		float		k[3 * 4] = {100, 100, 100, 100, -100, -100, -100, -100, 0, 0, 0, 0};
		float		v[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
		float		out[3 * 4];

		CHECK(maas_attention_forward(out, attn_scratch(T, T), q, 4, k, v, 4,
									 NULL, NULL, 0, 0, NULL, false, 1, T, 4, 1,
									 blas, &err));
		for (int t = 0; t < T; t++)
			for (int c = 0; c < 4; c++)
				CHECK(out[t * 4 + c] == v[c]);
	}
}

static void
test_attention_errors(void)
{
	float		buf[64] = {0};
	float		scratch[64];
	int32_t		bad_len[1] = {5};
	MaasError	err;

	CHECK_ERR(maas_attention_forward(buf, scratch, buf, 12, buf, buf, 12, NULL, NULL,
									 0, 0, NULL, true, 1, 1, 12, 5, blas, &err),
			  err.msg, "5 heads do not divide the width 12");
	CHECK_ERR(maas_attention_forward(buf, scratch, buf, 12, buf, buf, 12, NULL, NULL,
									 0, 3, NULL, true, 1, 1, 12, 4, blas, &err),
			  err.msg, "past positions need a KV cache");
	CHECK_ERR(maas_attention_forward(buf, scratch, buf, 8, buf, buf, 12, NULL, NULL,
									 0, 0, NULL, true, 1, 1, 12, 4, blas, &err),
			  err.msg, "row strides 8 and 12 are less than the width 12");
	CHECK_ERR(maas_attention_forward(buf, scratch, buf, 12, buf, buf, 12, buf, NULL,
									 4, 0, NULL, true, 1, 1, 12, 4, blas, &err),
			  err.msg, "a key cache needs a value cache");
	CHECK_ERR(maas_attention_forward(buf, scratch, buf, 12, buf, buf, 12, NULL, NULL,
									 0, 0, bad_len, false, 1, 2, 12, 4, blas, &err),
			  err.msg, "sequence length 5 is outside [0, 2]");
	CHECK_ERR(maas_attention_forward(buf, scratch, buf, 12, buf, buf, 12, NULL, NULL,
									 0, 0, NULL, false, 0, 2, 12, 4, blas, &err),
			  err.msg, "invalid attention shape");
	{
		size_t		n;

		CHECK(!maas_attention_scratch(0, 3, &n));
		CHECK(maas_attention_scratch(7, 9, &n) && n == 63);
	}
}

/* ---- pooling ---- */

static void
test_pooling(void)
{
	int			B = 3,
				T = 5,
				C = 11;
	float	   *h = rnd_vec((size_t) B * T * C, 3);
	float	   *out = fvec((size_t) B * C);
	double	   *ref = maas_kalloc(sizeof(double) * B * C);
	int32_t		lengths[3] = {5, 2, 0};
	int32_t		bad[3] = {5, 6, 1};
	MaasError	err;

	CHECK(maas_pool_mean_forward(out, h, lengths, B, T, C, &err));
	for (int b = 0; b < B; b++)
		for (int c = 0; c < C; c++)
		{
			double		s = 0;

			for (int t = 0; t < lengths[b]; t++)
				s += h[((size_t) b * T + t) * C + c];
			ref[b * C + c] = lengths[b] ? s / lengths[b] : 0.0;
		}
	CHECK(close_vec(out, ref, (size_t) B * C, 1e-6));
	CHECK(maas_pool_mean_forward(out, h, NULL, B, T, C, &err));
	for (int b = 0; b < B; b++)
		for (int c = 0; c < C; c++)
		{
			double		s = 0;

			for (int t = 0; t < T; t++)
				s += h[((size_t) b * T + t) * C + c];
			ref[b * C + c] = s / T;
		}
	CHECK(close_vec(out, ref, (size_t) B * C, 1e-6));
	CHECK_ERR(maas_pool_mean_forward(out, h, bad, B, T, C, &err), err.msg,
			  "sequence length 6 is outside [0, 5]");

	maas_pool_cls_forward(out, h, B, T, C);
	for (int b = 0; b < B; b++)
		CHECK(memcmp(out + b * C, h + (size_t) b * T * C, sizeof(float) * C) == 0);

	lengths[2] = 1;
	CHECK(maas_select_last_forward(out, h, lengths, B, T, C, &err));
	for (int b = 0; b < B; b++)
		CHECK(memcmp(out + b * C, h + ((size_t) b * T + lengths[b] - 1) * C,
					 sizeof(float) * C) == 0);
	CHECK(maas_select_last_forward(out, h, NULL, B, T, C, &err));
	for (int b = 0; b < B; b++)
		CHECK(memcmp(out + b * C, h + ((size_t) b * T + T - 1) * C,
					 sizeof(float) * C) == 0);
	lengths[2] = 0;
	CHECK_ERR(maas_select_last_forward(out, h, lengths, B, T, C, &err), err.msg,
			  "sequence length 0 is outside [1, 5]");
}

/* ---- sampling ---- */

static void *
sample_scratch(int V)
{
	size_t		n;

	CHECK(maas_sample_scratch(V, &n));
	return maas_kalloc(n);
}

static int32_t
sample1(const float *logits, int V, MaasSampling s, uint64_t *rng, void *scratch)
{
	int32_t		tok = -1;
	MaasError	err;

	if (!maas_sample(logits, V, &s, rng, scratch, &tok, &err))
	{
		fprintf(stderr, "    sample: %s\n", err.msg);
		return -1;
	}
	return tok;
}

static void
test_sampling_greedy(void)
{
	float		l[6] = {0.5f, 3.0f, -1.0f, 3.0f, -INFINITY, 2.9f};
	void	   *scr = sample_scratch(6);
	uint64_t	rng = 7,
				before;
	MaasSampling greedy = {0.0f, 0, 1.0f};
	MaasSampling k1 = {1.5f, 1, 0.5f};

	CHECK(maas_logits_argmax(l, 6) == 1);	/* ties: the lower id */
	before = rng;
	CHECK(sample1(l, 6, greedy, &rng, scr) == 1);
	CHECK(sample1(l, 6, k1, &rng, scr) == 1);
	CHECK(rng == before);		/* greedy draws nothing */
}

static void
test_sampling_errors(void)
{
	float		l[3] = {1, 2, 3};
	float		nan3[3] = {1, NAN, 3};
	float		inf3[3] = {1, INFINITY, 3};
	float		ninf[3] = {-INFINITY, -INFINITY, -INFINITY};
	void	   *scr = sample_scratch(3);
	uint64_t	rng = 1;
	int32_t		tok;
	MaasError	err;
	MaasSampling ok = {1.0f, 0, 1.0f};
	MaasSampling s;

	s = ok;
	s.temperature = -0.5f;
	CHECK_ERR(maas_sample(l, 3, &s, &rng, scr, &tok, &err), err.msg,
			  "temperature must be a finite number >= 0, not -0.5");
	s.temperature = NAN;
	CHECK_ERR(maas_sampling_check(&s, &err), err.msg, "temperature must be");
	s = ok;
	s.top_p = 0.0f;
	CHECK_ERR(maas_sampling_check(&s, &err), err.msg, "top_p must be in (0, 1], not 0");
	s.top_p = 1.5f;
	CHECK_ERR(maas_sampling_check(&s, &err), err.msg, "top_p must be in (0, 1], not 1.5");
	s = ok;
	s.top_k = -1;
	CHECK_ERR(maas_sampling_check(&s, &err), err.msg, "top_k must be >= 0, not -1");
	CHECK(err.status == MAAS_ERR_INVALID);
	CHECK_ERR(maas_sample(nan3, 3, &ok, &rng, scr, &tok, &err), err.msg,
			  "logit of token 1 is not finite");
	CHECK_ERR(maas_sample(inf3, 3, &ok, &rng, scr, &tok, &err), err.msg,
			  "logit of token 1 is not finite");
	CHECK_ERR(maas_sample(ninf, 3, &ok, &rng, scr, &tok, &err), err.msg,
			  "every logit is -infinity");
	CHECK(maas_logits_argmax(nan3, 3) == -1 && maas_logits_argmax(ninf, 3) == -1);
	{
		size_t		n;

		CHECK(!maas_sample_scratch(0, &n));
	}
}

/* same seed, same tokens; another seed, other tokens */
static void
test_sampling_deterministic(void)
{
	int			V = 50257;
	float	   *l = rnd_vec(V, 4);
	void	   *scr = sample_scratch(V);
	static const MaasSampling settings[] = {
		{1.0f, 0, 1.0f}, {0.8f, 40, 1.0f}, {0.8f, 40, 0.95f}, {1.2f, 0, 0.9f}
	};

	for (size_t si = 0; si < sizeof(settings) / sizeof(settings[0]); si++)
	{
		int32_t		a[40],
					b[40],
					c[40];
		uint64_t	r1 = 7,
					r2 = 7,
					r3 = 8;
		int			differ = 0;

		for (int i = 0; i < 40; i++)
		{
			a[i] = sample1(l, V, settings[si], &r1, scr);
			b[i] = sample1(l, V, settings[si], &r2, scr);
			c[i] = sample1(l, V, settings[si], &r3, scr);
			differ += a[i] != c[i];
		}
		CHECK(memcmp(a, b, sizeof(a)) == 0);
		CHECK(r1 == r2);
		CHECK(differ > 20);
		for (int i = 0; i < 40; i++)
			CHECK(a[i] >= 0 && a[i] < V);
	}
}

/* rank of id among logits: how many tokens rank before it */
static int
rank_of(const float *l, int V, int id)
{
	int			r = 0;

	for (int i = 0; i < V; i++)
		if (l[i] > l[id] || (l[i] == l[id] && i < id))
			r++;
	return r;
}

/* top-k never picks outside the k best, ties included */
static void
test_sampling_top_k(void)
{
	int			V = 5000;
	float	   *l = rnd_vec(V, 3);
	void	   *scr = sample_scratch(V);
	uint64_t	rng = 99;
	int			seen[40] = {0};
	int			distinct = 0;

	/* plant ties at the boundary */
	for (int i = 0; i < 30; i++)
		l[100 + i] = 10.0f;
	for (int n = 0; n < 20000; n++)
	{
		MaasSampling s = {2.0f, 40, 1.0f};
		int32_t		t = sample1(l, V, s, &rng, scr);
		int			r = rank_of(l, V, t);

		CHECK(r < 40);
		if (r < 40 && seen[r]++ == 0)
			distinct++;
	}
	CHECK(distinct == 40);		/* at temperature 2, all of them come up */

	/* top_k >= V is all tokens: a token of low rank can come up */
	{
		float		l3[3] = {0.0f, 0.0f, 0.0f};
		int			counts[3] = {0};

		for (int n = 0; n < 3000; n++)
		{
			MaasSampling s = {1.0f, 7, 1.0f};

			counts[sample1(l3, 3, s, &rng, scr)]++;
		}
		CHECK(counts[0] > 800 && counts[1] > 800 && counts[2] > 800);
	}
}

/*
 * Frequencies follow the (filtered, renormalised) softmax: every count
 * within 5 standard deviations of its expectation.
 */
static bool
frequencies_match(const float *l, int V, MaasSampling s, const double *expect,
				  int draws, uint64_t seed)
{
	void	   *scr = sample_scratch(V);
	int		   *counts = maas_kalloc(sizeof(int) * V);
	uint64_t	rng = seed;
	bool		ok = true;

	memset(counts, 0, sizeof(int) * V);
	for (int n = 0; n < draws; n++)
	{
		int32_t		t = sample1(l, V, s, &rng, scr);

		if (t < 0 || t >= V)
			return false;
		counts[t]++;
	}
	for (int i = 0; i < V; i++)
	{
		double		mu = expect[i] * draws;
		double		sd = sqrt(draws * expect[i] * (1 - expect[i]));

		if (fabs(counts[i] - mu) > 5 * sd + (expect[i] == 0 ? 0 : 1))
		{
			fprintf(stderr, "    token %d: %d draws, expected %.1f\n", i, counts[i], mu);
			ok = false;
		}
	}
	return ok;
}

static void
test_sampling_distribution(void)
{
	float		l[6] = {1.0f, 2.0f, 0.5f, -1.0f, 2.0f, -INFINITY};
	double		p[6];
	double		z;
	static const float temps[] = {1.0f, 0.5f, 2.0f};

	for (size_t ti = 0; ti < 3; ti++)
	{
		MaasSampling s = {temps[ti], 0, 1.0f};

		z = 0;
		for (int i = 0; i < 6; i++)
			z += p[i] = exp(l[i] / temps[ti]);
		for (int i = 0; i < 6; i++)
			p[i] /= z;
		CHECK(frequencies_match(l, 6, s, p, 100000, 5 + ti));
	}

	/* top-k 3: the two 2.0s and the 1.0, renormalised */
	{
		MaasSampling s = {1.0f, 3, 1.0f};

		z = exp(1.0) + 2 * exp(2.0);
		p[0] = exp(1.0) / z;
		p[1] = p[4] = exp(2.0) / z;
		p[2] = p[3] = p[5] = 0;
		CHECK(frequencies_match(l, 6, s, p, 100000, 11));
	}

	/*
	 * top-p: probabilities 0.5, 0.3, 0.15, 0.05; p = 0.75 keeps the first
	 * two (0.8 >= 0.75), p = 0.81 three.
	 */
	{
		float		lp[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
		double		e2[4] = {0.5 / 0.8, 0.3 / 0.8, 0, 0};
		double		e3[4] = {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0};
		MaasSampling s = {1.0f, 0, 0.75f};

		CHECK(frequencies_match(lp, 4, s, e2, 50000, 12));
		s.top_p = 0.81f;
		CHECK(frequencies_match(lp, 4, s, e3, 50000, 13));
		s.top_k = 3;			/* top-k then top-p on the renormalised three */
		s.top_p = 0.8f;			/* 0.5/0.95 + 0.3/0.95 = 0.84 >= 0.8 */
		CHECK(frequencies_match(lp, 4, s, e2, 50000, 14));
		/* ties at the edge of the nucleus: the lower ids are in */
		{
			float		lt[4] = {logf(0.2f), logf(0.4f), logf(0.2f), logf(0.2f)};
			double		e01[4] = {0.2 / 0.6, 0.4 / 0.6, 0, 0};
			double		e012[4] = {0.25, 0.5, 0.25, 0};
			MaasSampling st = {1.0f, 0, 0.59f};

			CHECK(frequencies_match(lt, 4, st, e01, 50000, 16));
			st.top_p = 0.61f;
			CHECK(frequencies_match(lt, 4, st, e012, 50000, 17));
			st.top_k = 3;		/* the ranked path: 0.5, 0.25, 0.25 of the three */
			CHECK(frequencies_match(lt, 4, st, e01, 50000, 18));
		}
		s.top_k = 0;
		s.top_p = 0.3f;			/* the first alone */
		{
			double		e1[4] = {1, 0, 0, 0};

			CHECK(frequencies_match(lp, 4, s, e1, 1000, 15));
		}
	}
}

/*
 * top-p over a GPT-2-sized vocabulary: every draw lies in the nucleus as a
 * full sort in double defines it, and draws reach past its first few.
 */
static int
cmp_desc(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x < y) - (x > y);
}

static void
test_sampling_top_p_large(void)
{
	int			V = 50257;
	float	   *l = rnd_vec(V, 6);
	double	   *p = maas_kalloc(sizeof(double) * V);
	double	   *sorted = maas_kalloc(sizeof(double) * V);
	void	   *scr = sample_scratch(V);
	double		z = 0,
				cum = 0,
				threshold = 0;
	float		max = l[maas_logits_argmax(l, V)];
	int			nucleus = 0;
	int			max_rank = 0;
	uint64_t	rng = 3;
	MaasSampling s = {1.0f, 0, 0.9f};

	for (int i = 0; i < V; i++)
		z += p[i] = exp((double) l[i] - max);
	for (int i = 0; i < V; i++)
		sorted[i] = p[i] /= z;
	qsort(sorted, V, sizeof(double), cmp_desc);
	for (int i = 0; i < V; i++)
	{
		cum += sorted[i];
		if (cum >= 0.9)
		{
			nucleus = i + 1;
			threshold = sorted[i];
			break;
		}
	}
	CHECK(nucleus > 100 && nucleus < V / 2);
	for (int n = 0; n < 200; n++)
	{
		int32_t		t = sample1(l, V, s, &rng, scr);

		/* inside the nucleus, up to float rounding at its very edge */
		CHECK(t >= 0 && p[t] >= threshold * (1 - 1e-5));
		if (t >= 0)
		{
			int			r = 0;

			for (int i = 0; i < V && r <= nucleus; i++)
				r += p[i] > p[t];
			max_rank = r > max_rank ? r : max_rank;
		}
	}
	CHECK(max_rank > nucleus / 2);
}

int
main(void)
{
	char		err[256];

	blas = maas_blas_load(NULL, 1, err, sizeof(err));
	if (blas == NULL)
	{
		fprintf(stderr, "cannot load BLAS: %s\n", err);
		return 1;
	}

	UNIT_RUN(test_embedding);
	UNIT_RUN(test_layernorm);
	UNIT_RUN(test_gelu);
	UNIT_RUN(test_exp);
	UNIT_RUN(test_elementwise);
	UNIT_RUN(test_linear);
	UNIT_RUN(test_attention_masks);
	UNIT_RUN(test_attention_cache);
	UNIT_RUN(test_attention_fully_masked);
	UNIT_RUN(test_attention_errors);
	UNIT_RUN(test_pooling);
	UNIT_RUN(test_sampling_greedy);
	UNIT_RUN(test_sampling_errors);
	UNIT_RUN(test_sampling_deterministic);
	UNIT_RUN(test_sampling_top_k);
	UNIT_RUN(test_sampling_distribution);
	UNIT_RUN(test_sampling_top_p_large);
	return unit_finish("transformer");
}
