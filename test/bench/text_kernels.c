/*
 * text_kernels.c
 *		Where a token's time goes, before the runtime exists: the
 *		transformer kernels (src/kernel/transformer.c) and the sampler at
 *		GPT-2 small's shape (12 layers, 768 wide, 12 heads, 50,257 tokens),
 *		one decoding step at a context of 100, and one BERT-base layer on a
 *		batch of 32 x 128.
 *
 *	gcc -O3 -fno-math-errno -fno-trapping-math -Isrc/kernel -o /tmp/text_kernels \
 *		test/bench/text_kernels.c src/kernel/transformer.c src/kernel/sampling.c \
 *		src/kernel/blas.c src/kernel/blas_dispatch.c src/kernel/error.c -ldl -lm
 *	/tmp/text_kernels [threads (2)] [tokens (20)] [attention|sampling]
 *
 * The decode step runs over 12 distinct layers of weights (340 MB) and the
 * 154 MB LM head, so weights come from memory as in a real generation;
 * each op's time is the median over the tokens, and the weight bytes it
 * reads per second are printed beside it.  Random weights: the time of
 * these kernels does not depend on the values.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "sampling.h"
#include "train.h"
#include "transformer.h"

void *
maas_kalloc(size_t size)
{
	return malloc(size);
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t rng = 12345;

static float *
rnd(size_t n, float scale)
{
	float	   *v = malloc(sizeof(float) * n);

	if (v == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		v[i] = scale * (float) (2.0 * maas_rng_uniform(&rng) - 1.0);
	return v;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return v[n / 2];
}

#define C 768
#define H 12
#define L 12
#define V 50257
#define CTX 100
#define N_CTX 1024

enum
{
	OP_LN1, OP_QKV, OP_ATTN, OP_PROJ, OP_RES1, OP_LN2, OP_FC, OP_GELU,
	OP_FCPROJ, OP_RES2, OP_LNF, OP_HEAD, N_OPS
};
static const char *const op_names[N_OPS] = {
	"ln_1", "c_attn (768x2304)", "attention, ctx 100", "attn.c_proj (768x768)",
	"residual", "ln_2", "mlp.c_fc (768x3072)", "gelu_tanh (3072)",
	"mlp.c_proj (3072x768)", "residual", "ln_f", "lm_head (768x50257)"
};
/* weight bytes each op reads */
static const double op_bytes[N_OPS] = {
	0, 4.0 * C * 3 * C, 0, 4.0 * C * C, 0, 0, 4.0 * C * 4 * C, 0,
	4.0 * 4 * C * C, 0, 0, 4.0 * V * C
};

typedef struct Layer
{
	float	   *ln1_w,
			   *ln1_b,
			   *attn_w,
			   *attn_b,
			   *proj_w,
			   *proj_b,
			   *ln2_w,
			   *ln2_b,
			   *fc_w,
			   *fc_b,
			   *fcp_w,
			   *fcp_b,
			   *kc,
			   *vc;
} Layer;

/* the kernel's sgemm path for one query over the cache, for comparison */
static void
attention_sgemm_t1(const MaasBlas *blas, float *out, float *s, const float *q,
				   const float *kc, const float *vc, int nk)
{
	int			hs = C / H;
	float		scale = 1.0f / sqrtf((float) hs);

	for (int h = 0; h < H; h++)
	{
		float		max = -INFINITY,
					sum = 0;

		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
					1, nk, hs, scale, q + h * hs, 3 * C, kc + h * hs, C, 0.0f, s, nk);
		for (int j = 0; j < nk; j++)
			max = s[j] > max ? s[j] : max;
		for (int j = 0; j < nk; j++)
			s[j] -= max;
		maas_exp_inplace(s, nk);
		for (int j = 0; j < nk; j++)
			sum += s[j];
		for (int j = 0; j < nk; j++)
			s[j] /= sum;
		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
					1, hs, nk, 1.0f, s, nk, vc + h * hs, C, 0.0f, out + h * hs, C);
	}
}

/* attention at T = 1: the kernel's loop against sgemm per head */
static void
attention_bench(const MaasBlas *blas)
{
	float	   *kc = rnd((size_t) N_CTX * C, 1);
	float	   *vc = rnd((size_t) N_CTX * C, 1);
	float	   *qkv = rnd(3 * C, 1);
	float	   *att = malloc(sizeof(float) * C);
	float	   *scratch = malloc(sizeof(float) * N_CTX);
	MaasError	err;

	printf("\n== attention, one query over the cache (per layer): the kernel's loop vs sgemm per head\n");
	for (int ctx = 100; ctx <= 1000; ctx = ctx == 100 ? 500 : ctx * 2)
	{
		double		tl[50],
					tg[50];

		for (int r = 0; r < 50; r++)
		{
			double		t0 = now();

			maas_attention_forward(att, scratch, qkv, 3 * C, qkv + C, qkv + 2 * C, 3 * C,
								   kc, vc, N_CTX, ctx - 1, NULL, true,
								   1, 1, C, H, blas, &err);
			tl[r] = now() - t0;
			t0 = now();
			attention_sgemm_t1(blas, att, scratch, qkv, kc, vc, ctx);
			tg[r] = now() - t0;
		}
		printf("context %4d: loop %.1f us, sgemm %.1f us\n", ctx,
			   median(tl, 50) * 1e6, median(tg, 50) * 1e6);
	}
}

static double
decode_bench(const MaasBlas *blas, int tokens)
{
	Layer	   *layers = malloc(sizeof(Layer) * L);
	float	   *wte = rnd((size_t) V * C, 0.1f);
	float	   *lnf_w = rnd(C, 1),
			   *lnf_b = rnd(C, 0.1f);
	float	   *x = rnd(C, 1);
	float	   *a = malloc(sizeof(float) * C);
	float	   *qkv = malloc(sizeof(float) * 3 * C);
	float	   *att = malloc(sizeof(float) * C);
	float	   *hbuf = malloc(sizeof(float) * 4 * C);
	float	   *logits = malloc(sizeof(float) * V);
	float	   *scratch = malloc(sizeof(float) * N_CTX);
	double	   *t[N_OPS];
	double		total_ms = 0,
				total_bytes = 0;
	MaasError	err;

	for (int i = 0; i < N_OPS; i++)
		t[i] = calloc(tokens, sizeof(double));
	for (int l = 0; l < L; l++)
	{
		Layer	   *y = &layers[l];

		y->ln1_w = rnd(C, 1);
		y->ln1_b = rnd(C, 0.1f);
		y->attn_w = rnd((size_t) C * 3 * C, 0.05f);
		y->attn_b = rnd(3 * C, 0.05f);
		y->proj_w = rnd((size_t) C * C, 0.05f);
		y->proj_b = rnd(C, 0.05f);
		y->ln2_w = rnd(C, 1);
		y->ln2_b = rnd(C, 0.1f);
		y->fc_w = rnd((size_t) C * 4 * C, 0.05f);
		y->fc_b = rnd(4 * C, 0.05f);
		y->fcp_w = rnd((size_t) 4 * C * C, 0.05f);
		y->fcp_b = rnd(C, 0.05f);
		y->kc = rnd((size_t) N_CTX * C, 1);	/* positions [0, CTX) in use */
		y->vc = rnd((size_t) N_CTX * C, 1);
	}

	for (int tok = -2; tok < tokens; tok++)	/* two warm-up tokens */
	{
		double		s[N_OPS] = {0};
		double		t0;

		for (int l = 0; l < L; l++)
		{
			Layer	   *y = &layers[l];

			t0 = now();
			maas_layernorm_forward(a, x, y->ln1_w, y->ln1_b, 1, C, 1e-5f);
			s[OP_LN1] += now() - t0;
			t0 = now();
			maas_linear_forward(qkv, a, y->attn_w, MAAS_W_IN_OUT, y->attn_b, 1, C, 3 * C, blas, &err);
			s[OP_QKV] += now() - t0;
			t0 = now();
			if (!maas_attention_forward(att, scratch, qkv, 3 * C, qkv + C, qkv + 2 * C, 3 * C,
										y->kc, y->vc, N_CTX, CTX, NULL, true, 1, 1, C, H,
										blas, &err))
			{
				fprintf(stderr, "attention: %s\n", err.msg);
				exit(1);
			}
			s[OP_ATTN] += now() - t0;
			t0 = now();
			maas_linear_forward(a, att, y->proj_w, MAAS_W_IN_OUT, y->proj_b, 1, C, C, blas, &err);
			s[OP_PROJ] += now() - t0;
			t0 = now();
			maas_residual_forward(x, x, a, C);
			s[OP_RES1] += now() - t0;
			t0 = now();
			maas_layernorm_forward(a, x, y->ln2_w, y->ln2_b, 1, C, 1e-5f);
			s[OP_LN2] += now() - t0;
			t0 = now();
			maas_linear_forward(hbuf, a, y->fc_w, MAAS_W_IN_OUT, y->fc_b, 1, C, 4 * C, blas, &err);
			s[OP_FC] += now() - t0;
			t0 = now();
			maas_gelu_tanh_forward(hbuf, hbuf, 4 * C);
			s[OP_GELU] += now() - t0;
			t0 = now();
			maas_linear_forward(a, hbuf, y->fcp_w, MAAS_W_IN_OUT, y->fcp_b, 1, 4 * C, C, blas, &err);
			s[OP_FCPROJ] += now() - t0;
			t0 = now();
			maas_residual_forward(x, x, a, C);
			s[OP_RES2] += now() - t0;
			maas_layernorm_forward(x, x, y->ln2_w, y->ln2_b, 1, C, 1e-5f);	/* keep x bounded */
		}
		t0 = now();
		maas_layernorm_forward(a, x, lnf_w, lnf_b, 1, C, 1e-5f);
		s[OP_LNF] += now() - t0;
		t0 = now();
		maas_linear_forward(logits, a, wte, MAAS_W_OUT_IN, NULL, 1, C, V, blas, &err);
		s[OP_HEAD] += now() - t0;
		if (tok >= 0)
			for (int i = 0; i < N_OPS; i++)
				t[i][tok] = s[i];
	}

	printf("\n== GPT-2 small, one decoding step (batch 1, context %d), median of %d tokens\n",
		   CTX, tokens);
	printf("%-24s %10s %8s %10s\n", "op (x12 layers)", "ms/token", "share", "GB/s read");
	{
		double		med[N_OPS];

		for (int i = 0; i < N_OPS; i++)
		{
			med[i] = median(t[i], tokens) * 1e3;
			total_ms += med[i];
			total_bytes += op_bytes[i] * (i == OP_HEAD || i == OP_LNF ? 1 : L);
		}
		for (int i = 0; i < N_OPS; i++)
		{
			double		bytes = op_bytes[i] * (i == OP_HEAD || i == OP_LNF ? 1 : L);

			if (bytes > 0)
				printf("%-24s %10.3f %7.1f%% %10.1f\n", op_names[i], med[i],
					   100 * med[i] / total_ms, bytes / (med[i] * 1e-3) / 1e9);
			else
				printf("%-24s %10.3f %7.1f%%\n", op_names[i], med[i], 100 * med[i] / total_ms);
		}
	}
	printf("%-24s %10.3f   -> %.1f tokens/s, %.0f MB of weights a token, %.1f GB/s\n",
		   "total", total_ms, 1e3 / total_ms, total_bytes / 1e6,
		   total_bytes / (total_ms * 1e-3) / 1e9);
	printf("RESULT decode_step_ms %.3f weight_bytes %.0f\n", total_ms, total_bytes);

	return total_ms;
}

/*
 * The sampler on two rows of logits: "flat" (4 u^3, u uniform in [-1, 1]:
 * thousands of plausible tokens, the hard case for top-p) and "peaky" (a
 * few tokens far ahead, as a trained model's usually are).  step_ms, the
 * decode step's time, sets the scale (0: not measured).
 */
static void
sampling_bench(double step_ms)
{
	static const struct
	{
		const char *name;
		MaasSampling s;
	}			cases[] = {
		{"greedy", {0.0f, 0, 1.0f}},
		{"temperature 0.8", {0.8f, 0, 1.0f}},
		{"top_k 40", {0.8f, 40, 1.0f}},
		{"top_k 40 + top_p 0.95", {0.8f, 40, 0.95f}},
		{"top_p 0.95 alone", {0.8f, 0, 0.95f}},
	};
	size_t		nscr;
	void	   *scr;
	float	   *flat = rnd(V, 1);
	float	   *peaky = rnd(V, 1);
	uint64_t	srng = 7;
	MaasError	err;

	for (int i = 0; i < V; i++)
	{
		flat[i] = 4.0f * flat[i] * flat[i] * flat[i];
		peaky[i] = 2.0f * peaky[i] + (i % 997 == 0 ? 12.0f : 0.0f);
	}
	maas_sample_scratch(V, &nscr);
	scr = malloc(nscr);
	printf("\n== sampling one token from %d logits", V);
	if (step_ms > 0)
		printf(" (the decode step above: %.2f ms)", step_ms);
	printf("\n%-24s %10s %10s\n", "", "flat, us", "peaky, us");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		double		med[2];

		for (int which = 0; which < 2; which++)
		{
			double		ts[50];
			int32_t		tok;

			for (int r = 0; r < 50; r++)
			{
				double		t0 = now();

				maas_sample(which ? peaky : flat, V, &cases[c].s, &srng, scr, &tok, &err);
				ts[r] = now() - t0;
			}
			med[which] = median(ts, 50) * 1e6;
		}
		printf("%-24s %10.1f %10.1f", cases[c].name, med[0], med[1]);
		if (step_ms > 0)
			printf("   (at most %.2f%% of a step)", 100 * (med[0] > med[1] ? med[0] : med[1]) * 1e-3 / step_ms);
		printf("\n");
	}
}

/* one BERT-base encoder layer on 32 x 128 tokens: where the time goes */
static void
bert_layer_bench(const MaasBlas *blas)
{
	enum
	{
		B = 32, T = 128, I = 3072
	};
	size_t		N = (size_t) B * T;
	float	   *x = rnd(N * C, 1);
	float	   *q = malloc(sizeof(float) * N * C),
			   *k = malloc(sizeof(float) * N * C),
			   *v = malloc(sizeof(float) * N * C),
			   *att = malloc(sizeof(float) * N * C),
			   *a = malloc(sizeof(float) * N * C),
			   *h = malloc(sizeof(float) * N * I);
	float	   *wq = rnd((size_t) C * C, 0.05f),
			   *wk = rnd((size_t) C * C, 0.05f),
			   *wv = rnd((size_t) C * C, 0.05f),
			   *wo = rnd((size_t) C * C, 0.05f),
			   *wi = rnd((size_t) I * C, 0.05f),
			   *wout = rnd((size_t) C * I, 0.05f),
			   *bias = rnd(I, 0.05f),
			   *g = rnd(C, 1);
	float	   *scratch = malloc(sizeof(float) * T * T);
	int32_t		lengths[B];
	double		tt[6] = {0};
	const char *names[6] = {"q, k, v denses", "attention (masked)", "output dense",
	"intermediate dense", "gelu_erf (32x128x3072)", "residual + 2 layernorm"};
	int			reps = 3;
	MaasError	err;

	for (int b = 0; b < B; b++)
		lengths[b] = T - (b * 7) % 40;
	for (int r = 0; r < reps + 1; r++)
	{
		double		t0,
					s[6] = {0};

		t0 = now();
		maas_linear_forward(q, x, wq, MAAS_W_OUT_IN, bias, N, C, C, blas, &err);
		maas_linear_forward(k, x, wk, MAAS_W_OUT_IN, bias, N, C, C, blas, &err);
		maas_linear_forward(v, x, wv, MAAS_W_OUT_IN, bias, N, C, C, blas, &err);
		s[0] = now() - t0;
		t0 = now();
		maas_attention_forward(att, scratch, q, C, k, v, C, NULL, NULL, 0, 0, lengths,
							   false, B, T, C, H, blas, &err);
		s[1] = now() - t0;
		t0 = now();
		maas_linear_forward(a, att, wo, MAAS_W_OUT_IN, bias, N, C, C, blas, &err);
		s[2] = now() - t0;
		t0 = now();
		maas_residual_forward(x, x, a, N * C);
		maas_layernorm_forward(x, x, g, bias, N, C, 1e-12f);
		s[5] = now() - t0;
		t0 = now();
		maas_linear_forward(h, x, wi, MAAS_W_OUT_IN, bias, N, C, I, blas, &err);
		s[3] = now() - t0;
		t0 = now();
		maas_gelu_erf_forward(h, h, N * I);
		s[4] = now() - t0;
		t0 = now();
		maas_linear_forward(a, h, wout, MAAS_W_OUT_IN, bias, N, I, C, blas, &err);
		s[2] += now() - t0;
		t0 = now();
		maas_residual_forward(x, x, a, N * C);
		maas_layernorm_forward(x, x, g, bias, N, C, 1e-12f);
		s[5] += now() - t0;
		if (r > 0)
			for (int i = 0; i < 6; i++)
				tt[i] += s[i] / reps;
	}
	{
		double		total = 0;
		double		gemm_flops = 2.0 * N * (4.0 * C * C + 2.0 * C * I);

		for (int i = 0; i < 6; i++)
			total += tt[i];
		printf("\n== BERT-base, one encoder layer, batch 32 x 128 (mean of %d)\n", reps);
		for (int i = 0; i < 6; i++)
			printf("%-26s %9.1f ms %6.1f%%\n", names[i], tt[i] * 1e3, 100 * tt[i] / total);
		printf("%-26s %9.1f ms  (dense GEMMs at %.0f GFLOP/s; 12 layers: %.2f s, %.1f sequences/s)\n",
			   "total", total * 1e3,
			   gemm_flops / ((tt[0] + tt[2] + tt[3]) * 1e9), 12 * total, 32 / (12 * total));
		printf("RESULT bert_layer_ms %.1f\n", total * 1e3);
	}
}

int
main(int argc, char **argv)
{
	int			threads = argc > 1 ? atoi(argv[1]) : 2;
	int			tokens = argc > 2 ? atoi(argv[2]) : 20;
	char		err[256];
	const MaasBlas *blas = maas_blas_load(NULL, threads, err, sizeof(err));
	const char *(*corename) (void);

	if (blas == NULL)
	{
		fprintf(stderr, "cannot load BLAS: %s\n", err);
		return 1;
	}
	{
		void	   *lib = dlopen(maas_blas_library(), RTLD_LAZY | RTLD_NOLOAD);

		corename = lib ? (const char *(*) (void)) dlsym(lib, "openblas_get_corename") : NULL;
	}
	printf("BLAS %s (core %s), %d threads; vectorised kernels: %s\n",
		   maas_blas_library(), corename ? corename() : "?", threads,
		   maas_transformer_isa());
	if (argc > 3 && strcmp(argv[3], "sampling") == 0)
	{
		sampling_bench(0);
		return 0;
	}
	attention_bench(blas);
	if (argc > 3 && strcmp(argv[3], "attention") == 0)
		return 0;
	sampling_bench(decode_bench(blas, tokens < 3 ? 3 : tokens));
	bert_layer_bench(blas);
	return 0;
}
