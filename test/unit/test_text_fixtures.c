/*
 * test_text_fixtures.c
 *		The transformer kernels wired by hand into GPT-2 and BERT, run on
 *		the fixtures of test/fixtures/text/ and compared with the plain-torch
 *		reference (make_text_fixtures.py).
 *
 * This driver is test-only: in the server the layer runtime wires the same
 * kernels as ops.  It proves the kernels and the Hugging Face layouts as
 * stored -- Conv1D [in, out], Linear [out, in], names with or without the
 * "transformer." / "bert." prefix, buffers (attn.bias, attn.masked_bias,
 * embeddings.position_ids) ignored, the LM head tied to wte, F32, F16 and
 * BF16 -- before the runtime exists: logits within 1e-4 of torch at every
 * position, the same greedy tokens with the KV cache, the same classifier
 * probabilities, pooler output and mean-pooled embeddings.  And the
 * fixtures' tokenizer files give, through maas's own tokenizers, the very
 * ids the fixture script encoded.
 *
 * The fixtures are found from test/unit (where "make -C test/unit" runs),
 * or under $MAAS_TEXT_FIXTURES.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "blas.h"
#include "json.h"
#include "safetensors.h"
#include "sampling.h"
#include "tokenizer.h"
#include "transformer.h"
#include "unit.h"

static const MaasBlas *blas;

#define TOL 1e-4

/* a CHECK after which the test cannot go on */
#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
		{ \
			unit_fail(__FILE__, __LINE__, #cond); \
			return; \
		} \
	} while (0)
#define MAX_LAYERS 4

/* ---- files ---- */

static const char *
fixture_path(const char *rel)
{
	static char path[1024];
	const char *dir = getenv("MAAS_TEXT_FIXTURES");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "../fixtures/text", rel);
	return path;
}

static uint8_t *
read_file(const char *rel, size_t *len)
{
	const char *path = fixture_path(rel);
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf;
	long		n;

	if (f == NULL)
	{
		fprintf(stderr, "    cannot open %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = maas_kalloc((size_t) n + 1);
	if (fread(buf, 1, (size_t) n, f) != (size_t) n)
		n = -1;
	fclose(f);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	*len = (size_t) n;
	return buf;
}

static MaasJson *
read_json(const char *rel)
{
	size_t		len;
	uint8_t    *text = read_file(rel, &len);
	MaasError	err;
	MaasJson   *j;

	if (text == NULL)
		return NULL;
	j = maas_json_parse((const char *) text, len, 0, NULL, &err);
	if (j == NULL)
		fprintf(stderr, "    %s: %s\n", rel, err.msg);
	return j;
}

static bool
read_st(const char *rel, StFile *st)
{
	size_t		len;
	uint8_t    *buf = read_file(rel, &len);
	MaasError	err;

	if (buf == NULL)
		return false;
	if (!st_parse(buf, len, st, &err))
	{
		fprintf(stderr, "    %s: %s\n", rel, err.msg);
		return false;
	}
	return true;
}

static int64_t
json_int(const MaasJson *obj, const char *key)
{
	int64_t		v = -1;

	if (!maas_json_int(maas_json_get(obj, key), 0, INT32_MAX, &v))
		fprintf(stderr, "    config has no integer \"%s\"\n", key);
	return v;
}

static double
json_num(const MaasJson *obj, const char *key)
{
	double		v = NAN;

	if (!maas_json_finite(maas_json_get(obj, key), false, &v))
		fprintf(stderr, "    config has no number \"%s\"\n", key);
	return v;
}

/* an int array of JSON into int32 (n entries), or NULL */
static int32_t *
json_ids(const MaasJson *arr, int *n)
{
	int32_t    *ids;

	if (arr == NULL || arr->type != MAAS_JSON_ARRAY)
		return NULL;
	ids = maas_kalloc(sizeof(int32_t) * (arr->n + 1));
	for (int i = 0; i < arr->n; i++)
	{
		int64_t		v;

		if (!maas_json_int(maas_json_at(arr, i), 0, INT32_MAX, &v))
			return NULL;
		ids[i] = (int32_t) v;
	}
	*n = arr->n;
	return ids;
}

/*
 * A weight as float32: looked up under its name with the prefix, then
 * without (both are found in the wild), its shape checked.
 */
static float *
weight(const StFile *st, const char *prefix, const char *name, int ndim,
	   int64_t d0, int64_t d1)
{
	char		full[256];
	const StTensor *t;
	float	   *out;

	snprintf(full, sizeof(full), "%s%s", prefix, name);
	t = st_find(st, full);
	if (t == NULL)
		t = st_find(st, name);
	if (t == NULL)
	{
		fprintf(stderr, "    missing tensor \"%s\"\n", name);
		return NULL;
	}
	if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1))
	{
		fprintf(stderr, "    tensor \"%s\" has the wrong shape\n", name);
		return NULL;
	}
	out = maas_kalloc(sizeof(float) * t->numel);
	if (!st_to_f32(t, out))
	{
		fprintf(stderr, "    tensor \"%s\" is not floating point\n", name);
		return NULL;
	}
	return out;
}

static float
max_abs_diff(const float *a, const float *b, size_t n)
{
	float		m = 0;

	for (size_t i = 0; i < n; i++)
	{
		float		d = fabsf(a[i] - b[i]);

		if (!(d <= m))
			m = isnan(d) ? INFINITY : d;
	}
	return m;
}

/* ---- GPT-2 ---- */

typedef struct Gpt2Layer
{
	float	   *ln1_w,
			   *ln1_b,
			   *attn_w,				/* [C, 3C] */
			   *attn_b,
			   *proj_w,				/* [C, C] */
			   *proj_b,
			   *ln2_w,
			   *ln2_b,
			   *fc_w,				/* [C, 4C] */
			   *fc_b,
			   *fcp_w,				/* [4C, C] */
			   *fcp_b;
} Gpt2Layer;

typedef struct Gpt2
{
	int			C,
				H,
				L,
				V,
				n_pos;
	float		eps;
	float	   *wte,				/* (V, C), also the LM head */
			   *wpe,
			   *lnf_w,
			   *lnf_b;
	Gpt2Layer	layer[MAX_LAYERS];
} Gpt2;

/* activations for B x T positions, and the KV cache of B x n_pos */
typedef struct Gpt2Run
{
	int			B,
				T;
	float	   *x,
			   *a,
			   *qkv,
			   *att,
			   *h,
			   *scratch,
			   *last,
			   *kc[MAX_LAYERS],
			   *vc[MAX_LAYERS];
} Gpt2Run;

static bool
gpt2_load(Gpt2 *m, const char *weights_file)
{
	MaasJson   *cfg = read_json("tiny_gpt2/config.json");
	StFile		st;
	const char *pre = "transformer.";
	int			C;

	if (cfg == NULL || !read_st(weights_file, &st))
		return false;
	m->C = C = (int) json_int(cfg, "n_embd");
	m->H = (int) json_int(cfg, "n_head");
	m->L = (int) json_int(cfg, "n_layer");
	m->V = (int) json_int(cfg, "vocab_size");
	m->n_pos = (int) json_int(cfg, "n_positions");
	m->eps = (float) json_num(cfg, "layer_norm_epsilon");
	if (m->L < 1 || m->L > MAX_LAYERS || C <= 0 || m->H <= 0 || C % m->H != 0)
		return false;
	/* tied: there is no lm_head.weight */
	if (st_find(&st, "lm_head.weight") || st_find(&st, "transformer.lm_head.weight"))
		return false;
	m->wte = weight(&st, pre, "wte.weight", 2, m->V, C);
	m->wpe = weight(&st, pre, "wpe.weight", 2, m->n_pos, C);
	m->lnf_w = weight(&st, pre, "ln_f.weight", 1, C, 0);
	m->lnf_b = weight(&st, pre, "ln_f.bias", 1, C, 0);
	if (!m->wte || !m->wpe || !m->lnf_w || !m->lnf_b)
		return false;
	for (int l = 0; l < m->L; l++)
	{
		Gpt2Layer  *y = &m->layer[l];
		char		n[64];

#define W(field, suffix, nd, a, b) \
		do { \
			snprintf(n, sizeof(n), "h.%d.%s", l, suffix); \
			if ((y->field = weight(&st, pre, n, nd, a, b)) == NULL) \
				return false; \
		} while (0)
		W(ln1_w, "ln_1.weight", 1, C, 0);
		W(ln1_b, "ln_1.bias", 1, C, 0);
		W(attn_w, "attn.c_attn.weight", 2, C, 3 * C);
		W(attn_b, "attn.c_attn.bias", 1, 3 * C, 0);
		W(proj_w, "attn.c_proj.weight", 2, C, C);
		W(proj_b, "attn.c_proj.bias", 1, C, 0);
		W(ln2_w, "ln_2.weight", 1, C, 0);
		W(ln2_b, "ln_2.bias", 1, C, 0);
		W(fc_w, "mlp.c_fc.weight", 2, C, 4 * C);
		W(fc_b, "mlp.c_fc.bias", 1, 4 * C, 0);
		W(fcp_w, "mlp.c_proj.weight", 2, 4 * C, C);
		W(fcp_b, "mlp.c_proj.bias", 1, C, 0);
#undef W
	}
	return true;
}

static void
gpt2_run_init(const Gpt2 *m, Gpt2Run *r, int B, int T)
{
	size_t		n = (size_t) B * T;
	size_t		ns;

	r->B = B;
	r->T = T;
	r->x = maas_kalloc(sizeof(float) * n * m->C);
	r->a = maas_kalloc(sizeof(float) * n * m->C);
	r->att = maas_kalloc(sizeof(float) * n * m->C);
	r->qkv = maas_kalloc(sizeof(float) * n * 3 * m->C);
	r->h = maas_kalloc(sizeof(float) * n * 4 * m->C);
	r->last = maas_kalloc(sizeof(float) * B * m->C);
	CHECK(maas_attention_scratch(T, m->n_pos, &ns));
	r->scratch = maas_kalloc(sizeof(float) * ns);
	for (int l = 0; l < m->L; l++)
	{
		r->kc[l] = maas_kalloc(sizeof(float) * B * m->n_pos * m->C);
		r->vc[l] = maas_kalloc(sizeof(float) * B * m->n_pos * m->C);
	}
}

/*
 * One forward over ids (B,T) at positions past.., through the cache.  With
 * all_logits, logits (B,T,V) of every position; else (B,V) of the last
 * valid one (lengths, or T).
 */
static bool
gpt2_forward(const Gpt2 *m, Gpt2Run *r, const int32_t *ids, int B, int T,
			 int past, const int32_t *lengths, bool all_logits, float *logits)
{
	int			C = m->C;
	size_t		N = (size_t) B * T;
	MaasError	err;

	if (!maas_embedding_forward(r->x, ids, NULL, B, T, past, m->wte, m->V,
								m->wpe, m->n_pos, NULL, 0, C, &err))
	{
		fprintf(stderr, "    %s\n", err.msg);
		return false;
	}
	for (int l = 0; l < m->L; l++)
	{
		const Gpt2Layer *y = &m->layer[l];

		maas_layernorm_forward(r->a, r->x, y->ln1_w, y->ln1_b, N, C, m->eps);
		if (!maas_linear_forward(r->qkv, r->a, y->attn_w, MAAS_W_IN_OUT, y->attn_b,
								 N, C, 3 * C, blas, &err) ||
			!maas_attention_forward(r->att, r->scratch, r->qkv, 3 * C,
									r->qkv + C, r->qkv + 2 * C, 3 * C,
									r->kc[l], r->vc[l], m->n_pos, past,
									NULL, true, B, T, C, m->H, blas, &err) ||
			!maas_linear_forward(r->a, r->att, y->proj_w, MAAS_W_IN_OUT, y->proj_b,
								 N, C, C, blas, &err))
		{
			fprintf(stderr, "    %s\n", err.msg);
			return false;
		}
		maas_residual_forward(r->x, r->x, r->a, N * C);
		maas_layernorm_forward(r->a, r->x, y->ln2_w, y->ln2_b, N, C, m->eps);
		if (!maas_linear_forward(r->h, r->a, y->fc_w, MAAS_W_IN_OUT, y->fc_b,
								 N, C, 4 * C, blas, &err))
			return false;
		maas_gelu_tanh_forward(r->h, r->h, N * 4 * C);
		if (!maas_linear_forward(r->a, r->h, y->fcp_w, MAAS_W_IN_OUT, y->fcp_b,
								 N, 4 * C, C, blas, &err))
			return false;
		maas_residual_forward(r->x, r->x, r->a, N * C);
	}
	if (all_logits)
	{
		maas_layernorm_forward(r->x, r->x, m->lnf_w, m->lnf_b, N, C, m->eps);
		return maas_linear_forward(logits, r->x, m->wte, MAAS_W_OUT_IN, NULL,
								   N, C, m->V, blas, &err);
	}
	/* generation: ln_f and the head only for the rows that are asked for */
	if (!maas_select_last_forward(r->last, r->x, lengths, B, T, C, &err))
		return false;
	maas_layernorm_forward(r->last, r->last, m->lnf_w, m->lnf_b, B, C, m->eps);
	return maas_linear_forward(logits, r->last, m->wte, MAAS_W_OUT_IN, NULL,
							   B, C, m->V, blas, &err);
}

/* greedy generation of n tokens after ids (one sequence), with the cache */
static bool
gpt2_greedy(const Gpt2 *m, const int32_t *ids, int n_ids, int n_new, int32_t *out)
{
	Gpt2Run		r;
	float	   *logits = maas_kalloc(sizeof(float) * m->V);
	void	   *scr;
	size_t		nscr;
	MaasSampling greedy = {0.0f, 0, 1.0f};
	uint64_t	rng = 1;
	MaasError	err;

	gpt2_run_init(m, &r, 1, n_ids);
	CHECK(maas_sample_scratch(m->V, &nscr));
	scr = maas_kalloc(nscr);
	if (!gpt2_forward(m, &r, ids, 1, n_ids, 0, NULL, false, logits))
		return false;
	for (int i = 0; i < n_new; i++)
	{
		if (!maas_sample(logits, m->V, &greedy, &rng, scr, &out[i], &err))
			return false;
		if (i + 1 < n_new &&
			!gpt2_forward(m, &r, &out[i], 1, 1, n_ids + i, NULL, false, logits))
			return false;
	}
	return true;
}

typedef struct Gpt2Expect
{
	int			n;
	int32_t    *ids[8];
	int			len[8];
	int32_t    *greedy[8],
			   *greedy_fp16[8],
			   *greedy_bf16[8];
	int			n_new;
} Gpt2Expect;

static bool
gpt2_expected(Gpt2Expect *e)
{
	MaasJson   *j = read_json("tiny_gpt2/expected.json");
	const MaasJson *prompts = maas_json_get(j, "prompts");
	int			n;

	if (prompts == NULL || prompts->n > 8)
		return false;
	e->n = prompts->n;
	e->n_new = (int) json_int(j, "max_new_tokens");
	for (int i = 0; i < e->n; i++)
	{
		const MaasJson *p = maas_json_at(prompts, i);

		e->ids[i] = json_ids(maas_json_get(p, "ids"), &e->len[i]);
		e->greedy[i] = json_ids(maas_json_get(p, "greedy"), &n);
		e->greedy_fp16[i] = json_ids(maas_json_get(p, "greedy_fp16"), &n);
		e->greedy_bf16[i] = json_ids(maas_json_get(p, "greedy_bf16"), &n);
		if (!e->ids[i] || !e->greedy[i] || !e->greedy_fp16[i] || !e->greedy_bf16[i] ||
			n != e->n_new)
			return false;
	}
	return e->n > 0;
}

/* logits at every position of every prompt, one prompt at a time */
static void
test_gpt2_logits(void)
{
	Gpt2		m;
	Gpt2Expect	e;
	StFile		ex;

	REQUIRE(gpt2_load(&m, "tiny_gpt2/model.safetensors"));
	REQUIRE(gpt2_expected(&e));
	REQUIRE(read_st("tiny_gpt2/expected.safetensors", &ex));
	for (int p = 0; p < e.n; p++)
	{
		char		name[32];
		const StTensor *t;
		Gpt2Run		r;
		int			T = e.len[p];
		float	   *logits = maas_kalloc(sizeof(float) * T * m.V);
		float	   *want = maas_kalloc(sizeof(float) * T * m.V);
		float		d;

		snprintf(name, sizeof(name), "logits.%d", p);
		t = st_find(&ex, name);
		CHECK(t != NULL && t->numel == (int64_t) T * m.V && st_to_f32(t, want));
		gpt2_run_init(&m, &r, 1, T);
		CHECK(gpt2_forward(&m, &r, e.ids[p], 1, T, 0, NULL, true, logits));
		d = max_abs_diff(logits, want, (size_t) T * m.V);
		printf("# gpt2 prompt %d: %d positions, max |logit - torch| %.2g\n", p, T, d);
		CHECK(d <= TOL);
	}
}

/*
 * The prompts as one right-padded batch (B = 4): causal attention keeps
 * the valid positions exact, and the last valid logits of each row match.
 */
static void
test_gpt2_batch(void)
{
	Gpt2		m;
	Gpt2Expect	e;
	StFile		ex;
	int			T = 0;
	int32_t    *ids;
	int32_t		lengths[8];
	float	   *all,
			   *last;
	Gpt2Run		r;

	REQUIRE(gpt2_load(&m, "tiny_gpt2/model.safetensors"));
	REQUIRE(gpt2_expected(&e));
	REQUIRE(read_st("tiny_gpt2/expected.safetensors", &ex));
	for (int p = 0; p < e.n; p++)
		T = e.len[p] > T ? e.len[p] : T;
	ids = maas_kalloc(sizeof(int32_t) * e.n * T);
	for (int p = 0; p < e.n; p++)
	{
		lengths[p] = e.len[p];
		for (int t = 0; t < T; t++)
			ids[p * T + t] = t < e.len[p] ? e.ids[p][t] : 0;	/* pad: any id */
	}
	all = maas_kalloc(sizeof(float) * e.n * T * m.V);
	last = maas_kalloc(sizeof(float) * e.n * m.V);
	gpt2_run_init(&m, &r, e.n, T);
	CHECK(gpt2_forward(&m, &r, ids, e.n, T, 0, NULL, true, all));
	gpt2_run_init(&m, &r, e.n, T);
	CHECK(gpt2_forward(&m, &r, ids, e.n, T, 0, lengths, false, last));
	for (int p = 0; p < e.n; p++)
	{
		char		name[32];
		const StTensor *t;
		float	   *want = maas_kalloc(sizeof(float) * e.len[p] * m.V);

		snprintf(name, sizeof(name), "logits.%d", p);
		t = st_find(&ex, name);
		CHECK(t != NULL && st_to_f32(t, want));
		CHECK(max_abs_diff(all + (size_t) p * T * m.V, want,
						   (size_t) e.len[p] * m.V) <= TOL);
		CHECK(max_abs_diff(last + (size_t) p * m.V,
						   want + (size_t) (e.len[p] - 1) * m.V, m.V) <= TOL);
	}
}

/* greedy generation with the KV cache, in F32, F16 and BF16 */
static void
test_gpt2_greedy(void)
{
	static const char *const files[3] = {
		"tiny_gpt2/model.safetensors", "tiny_gpt2/model.fp16.safetensors",
		"tiny_gpt2/model.bf16.safetensors"
	};
	Gpt2Expect	e;

	REQUIRE(gpt2_expected(&e));
	for (int v = 0; v < 3; v++)
	{
		Gpt2		m;

		REQUIRE(gpt2_load(&m, files[v]));
		for (int p = 0; p < e.n; p++)
		{
			int32_t    *got = maas_kalloc(sizeof(int32_t) * e.n_new);
			int32_t    *want = v == 0 ? e.greedy[p] : v == 1 ? e.greedy_fp16[p] : e.greedy_bf16[p];

			CHECK(gpt2_greedy(&m, e.ids[p], e.len[p], e.n_new, got));
			CHECK(memcmp(got, want, sizeof(int32_t) * e.n_new) == 0);
		}
	}
}

/* the F16 and BF16 checkpoints: last-position logits of each prompt */
static void
test_gpt2_half(void)
{
	static const char *const files[2] = {
		"tiny_gpt2/model.fp16.safetensors", "tiny_gpt2/model.bf16.safetensors"
	};
	static const char *const keys[2] = {"fp16", "bf16"};
	Gpt2Expect	e;
	StFile		ex;

	REQUIRE(gpt2_expected(&e));
	REQUIRE(read_st("tiny_gpt2/expected.safetensors", &ex));
	for (int v = 0; v < 2; v++)
	{
		Gpt2		m;
		StFile		st;
		const StTensor *buf;

		REQUIRE(gpt2_load(&m, files[v]));
		/* what there is to ignore: buffers in F16, in BOOL, or none */
		REQUIRE(read_st(files[v], &st));
		buf = st_find(&st, "transformer.h.0.attn.bias");
		REQUIRE(v == 0 ? buf != NULL && buf->dtype == ST_BOOL : buf == NULL);
		for (int p = 0; p < e.n; p++)
		{
			char		name[48];
			const StTensor *t;
			float	   *want = maas_kalloc(sizeof(float) * m.V);
			float	   *got = maas_kalloc(sizeof(float) * m.V);
			Gpt2Run		r;

			snprintf(name, sizeof(name), "last_logits_%s.%d", keys[v], p);
			t = st_find(&ex, name);
			CHECK(t != NULL && t->numel == m.V && st_to_f32(t, want));
			gpt2_run_init(&m, &r, 1, e.len[p]);
			CHECK(gpt2_forward(&m, &r, e.ids[p], 1, e.len[p], 0, NULL, false, got));
			CHECK(max_abs_diff(got, want, m.V) <= TOL);
		}
	}
}

/* ---- BERT ---- */

typedef struct BertLayer
{
	float	   *q_w,
			   *q_b,
			   *k_w,
			   *k_b,
			   *v_w,
			   *v_b,				/* [C, C], Linear [out, in] */
			   *o_w,
			   *o_b,
			   *ln1_w,
			   *ln1_b,
			   *i_w,				/* [I, C] */
			   *i_b,
			   *out_w,				/* [C, I] */
			   *out_b,
			   *ln2_w,
			   *ln2_b;
} BertLayer;

typedef struct Bert
{
	int			C,
				H,
				L,
				I,
				V,
				n_pos,
				n_types,
				n_labels;
	float		eps;
	float	   *wte,
			   *wpe,
			   *wtt,
			   *emb_ln_w,
			   *emb_ln_b,
			   *pool_w,
			   *pool_b,
			   *cls_w,
			   *cls_b;
	BertLayer	layer[MAX_LAYERS];
} Bert;

static bool
bert_load(Bert *m)
{
	MaasJson   *cfg = read_json("tiny_bert/config.json");
	StFile		st;
	const char *pre = "bert.";
	const StTensor *pos;
	int			C;

	if (cfg == NULL || !read_st("tiny_bert/model.safetensors", &st))
		return false;
	m->C = C = (int) json_int(cfg, "hidden_size");
	m->H = (int) json_int(cfg, "num_attention_heads");
	m->L = (int) json_int(cfg, "num_hidden_layers");
	m->I = (int) json_int(cfg, "intermediate_size");
	m->V = (int) json_int(cfg, "vocab_size");
	m->n_pos = (int) json_int(cfg, "max_position_embeddings");
	m->n_types = (int) json_int(cfg, "type_vocab_size");
	m->eps = (float) json_num(cfg, "layer_norm_eps");
	m->n_labels = maas_json_get(cfg, "id2label") ? maas_json_get(cfg, "id2label")->n : 0;
	if (m->L < 1 || m->L > MAX_LAYERS || C % m->H != 0 || m->n_labels < 2)
		return false;
	/* a buffer, I64, to be ignored */
	pos = st_find(&st, "bert.embeddings.position_ids");
	if (pos == NULL || pos->dtype != ST_I64)
		return false;

	m->wte = weight(&st, pre, "embeddings.word_embeddings.weight", 2, m->V, C);
	m->wpe = weight(&st, pre, "embeddings.position_embeddings.weight", 2, m->n_pos, C);
	m->wtt = weight(&st, pre, "embeddings.token_type_embeddings.weight", 2, m->n_types, C);
	m->emb_ln_w = weight(&st, pre, "embeddings.LayerNorm.weight", 1, C, 0);
	m->emb_ln_b = weight(&st, pre, "embeddings.LayerNorm.bias", 1, C, 0);
	m->pool_w = weight(&st, pre, "pooler.dense.weight", 2, C, C);
	m->pool_b = weight(&st, pre, "pooler.dense.bias", 1, C, 0);
	/* the head has no prefix */
	m->cls_w = weight(&st, "", "classifier.weight", 2, m->n_labels, C);
	m->cls_b = weight(&st, "", "classifier.bias", 1, m->n_labels, 0);
	if (!m->wte || !m->wpe || !m->wtt || !m->emb_ln_w || !m->emb_ln_b ||
		!m->pool_w || !m->pool_b || !m->cls_w || !m->cls_b)
		return false;
	for (int l = 0; l < m->L; l++)
	{
		BertLayer  *y = &m->layer[l];
		char		n[96];

#define W(field, suffix, nd, a, b) \
		do { \
			snprintf(n, sizeof(n), "encoder.layer.%d.%s", l, suffix); \
			if ((y->field = weight(&st, pre, n, nd, a, b)) == NULL) \
				return false; \
		} while (0)
		W(q_w, "attention.self.query.weight", 2, C, C);
		W(q_b, "attention.self.query.bias", 1, C, 0);
		W(k_w, "attention.self.key.weight", 2, C, C);
		W(k_b, "attention.self.key.bias", 1, C, 0);
		W(v_w, "attention.self.value.weight", 2, C, C);
		W(v_b, "attention.self.value.bias", 1, C, 0);
		W(o_w, "attention.output.dense.weight", 2, C, C);
		W(o_b, "attention.output.dense.bias", 1, C, 0);
		W(ln1_w, "attention.output.LayerNorm.weight", 1, C, 0);
		W(ln1_b, "attention.output.LayerNorm.bias", 1, C, 0);
		W(i_w, "intermediate.dense.weight", 2, m->I, C);
		W(i_b, "intermediate.dense.bias", 1, m->I, 0);
		W(out_w, "output.dense.weight", 2, C, m->I);
		W(out_b, "output.dense.bias", 1, C, 0);
		W(ln2_w, "output.LayerNorm.weight", 1, C, 0);
		W(ln2_b, "output.LayerNorm.bias", 1, C, 0);
#undef W
	}
	return true;
}

static void
test_bert(void)
{
	Bert		m;
	StFile		ex;
	const StTensor *t_ids,
			   *t_types,
			   *t_mask;
	int			B,
				T,
				C;
	size_t		N,
				ns;
	int32_t    *ids,
			   *types,
			   *mask,
			   *lengths;
	float	   *x,
			   *q,
			   *k,
			   *v,
			   *att,
			   *a,
			   *h,
			   *scratch,
			   *cls,
			   *pooled,
			   *logits,
			   *mean,
			   *want;
	MaasError	err;

	REQUIRE(bert_load(&m));
	REQUIRE(read_st("tiny_bert/expected.safetensors", &ex));
	t_ids = st_find(&ex, "input_ids");
	t_types = st_find(&ex, "token_type_ids");
	t_mask = st_find(&ex, "attention_mask");
	REQUIRE(t_ids && t_types && t_mask && t_ids->dtype == ST_I32 && t_ids->ndim == 2);
	B = (int) t_ids->shape[0];
	T = (int) t_ids->shape[1];
	C = m.C;
	N = (size_t) B * T;
	ids = maas_kalloc(sizeof(int32_t) * N);
	types = maas_kalloc(sizeof(int32_t) * N);
	mask = maas_kalloc(sizeof(int32_t) * N);
	lengths = maas_kalloc(sizeof(int32_t) * B);
	memcpy(ids, t_ids->data, sizeof(int32_t) * N);
	memcpy(types, t_types->data, sizeof(int32_t) * N);
	memcpy(mask, t_mask->data, sizeof(int32_t) * N);
	for (int b = 0; b < B; b++)
	{
		lengths[b] = 0;
		for (int t = 0; t < T; t++)
			lengths[b] += mask[b * T + t];
	}

	x = maas_kalloc(sizeof(float) * N * C);
	q = maas_kalloc(sizeof(float) * N * C);
	k = maas_kalloc(sizeof(float) * N * C);
	v = maas_kalloc(sizeof(float) * N * C);
	att = maas_kalloc(sizeof(float) * N * C);
	a = maas_kalloc(sizeof(float) * N * C);
	h = maas_kalloc(sizeof(float) * N * m.I);
	CHECK(maas_attention_scratch(T, T, &ns));
	scratch = maas_kalloc(sizeof(float) * ns);
	cls = maas_kalloc(sizeof(float) * B * C);
	pooled = maas_kalloc(sizeof(float) * B * C);
	mean = maas_kalloc(sizeof(float) * B * C);
	logits = maas_kalloc(sizeof(float) * B * m.n_labels);
	want = maas_kalloc(sizeof(float) * N * C);

	/* embeddings: LN(word + type + position) */
	CHECK(maas_embedding_forward(x, ids, types, B, T, 0, m.wte, m.V, m.wpe, m.n_pos,
								 m.wtt, m.n_types, C, &err));
	maas_layernorm_forward(x, x, m.emb_ln_w, m.emb_ln_b, N, C, m.eps);
	for (int l = 0; l < m.L; l++)
	{
		const BertLayer *y = &m.layer[l];

		CHECK(maas_linear_forward(q, x, y->q_w, MAAS_W_OUT_IN, y->q_b, N, C, C, blas, &err));
		CHECK(maas_linear_forward(k, x, y->k_w, MAAS_W_OUT_IN, y->k_b, N, C, C, blas, &err));
		CHECK(maas_linear_forward(v, x, y->v_w, MAAS_W_OUT_IN, y->v_b, N, C, C, blas, &err));
		CHECK(maas_attention_forward(att, scratch, q, C, k, v, C, NULL, NULL, 0, 0,
									 lengths, false, B, T, C, m.H, blas, &err));
		CHECK(maas_linear_forward(a, att, y->o_w, MAAS_W_OUT_IN, y->o_b, N, C, C, blas, &err));
		maas_residual_forward(x, x, a, N * C);
		maas_layernorm_forward(x, x, y->ln1_w, y->ln1_b, N, C, m.eps);
		CHECK(maas_linear_forward(h, x, y->i_w, MAAS_W_OUT_IN, y->i_b, N, C, m.I, blas, &err));
		maas_gelu_erf_forward(h, h, N * m.I);
		CHECK(maas_linear_forward(a, h, y->out_w, MAAS_W_OUT_IN, y->out_b, N, m.I, C, blas, &err));
		maas_residual_forward(x, x, a, N * C);
		maas_layernorm_forward(x, x, y->ln2_w, y->ln2_b, N, C, m.eps);
	}
	/* every position, padding included: its queries saw the valid keys */
	CHECK(st_to_f32(st_find(&ex, "last_hidden_state"), want));
	printf("# bert last hidden states: max |h - torch| %.2g\n",
		   max_abs_diff(x, want, N * C));
	CHECK(max_abs_diff(x, want, N * C) <= TOL);

	/* pooler: tanh(dense(h[:, 0])); classifier; softmax */
	maas_pool_cls_forward(cls, x, B, T, C);
	CHECK(maas_linear_forward(pooled, cls, m.pool_w, MAAS_W_OUT_IN, m.pool_b, B, C, C,
							  blas, &err));
	maas_tanh_forward(pooled, (size_t) B * C);
	CHECK(st_to_f32(st_find(&ex, "pooler_output"), want));
	CHECK(max_abs_diff(pooled, want, (size_t) B * C) <= TOL);
	CHECK(maas_linear_forward(logits, pooled, m.cls_w, MAAS_W_OUT_IN, m.cls_b, B, C,
							  m.n_labels, blas, &err));
	CHECK(st_to_f32(st_find(&ex, "logits"), want));
	CHECK(max_abs_diff(logits, want, (size_t) B * m.n_labels) <= TOL);
	for (int b = 0; b < B; b++)
	{
		float	   *l = logits + b * m.n_labels;
		float		max = l[maas_logits_argmax(l, m.n_labels)];
		float		sum = 0;

		for (int i = 0; i < m.n_labels; i++)
			l[i] -= max;
		maas_exp_inplace(l, m.n_labels);
		for (int i = 0; i < m.n_labels; i++)
			sum += l[i];
		for (int i = 0; i < m.n_labels; i++)
			l[i] /= sum;
	}
	CHECK(st_to_f32(st_find(&ex, "probabilities"), want));
	printf("# bert probabilities: max |p - torch| %.2g\n",
		   max_abs_diff(logits, want, (size_t) B * m.n_labels));
	CHECK(max_abs_diff(logits, want, (size_t) B * m.n_labels) <= TOL);

	/* sentence embeddings: the mean over the tokens with mask 1 */
	CHECK(maas_pool_mean_forward(mean, x, lengths, B, T, C, &err));
	CHECK(st_to_f32(st_find(&ex, "mean_pooled"), want));
	CHECK(max_abs_diff(mean, want, (size_t) B * C) <= TOL);
}

/* ---- the tokenizer files: maas's tokenizers give the fixtures' ids ---- */

static bool
same_ids(const int32_t *a, int na, const int32_t *b, int nb)
{
	return na == nb && memcmp(a, b, sizeof(int32_t) * na) == 0;
}

static void
test_tokenizer_files(void)
{
	size_t		len,
				mlen;
	MaasJson   *vocab = read_json("tiny_gpt2/vocab.json");
	char	   *merges = (char *) read_file("tiny_gpt2/merges.txt", &mlen);
	char	   *vtxt = (char *) read_file("tiny_bert/vocab.txt", &len);
	MaasJson   *gx = read_json("tiny_gpt2/expected.json");
	MaasJson   *bx = read_json("tiny_bert/expected.json");
	MaasTokenizer *bpe,
			   *wp;
	MaasError	err;
	const MaasJson *arr;

	REQUIRE(vocab && merges && vtxt && gx && bx);
	bpe = maas_bpe_build(vocab, merges, mlen, 64, NULL, &err);
	REQUIRE(bpe != NULL);
	CHECK(bpe->n_vocab == 448 && bpe->eos_id == 447);
	arr = maas_json_get(gx, "prompts");
	for (int i = 0; arr && i < arr->n; i++)
	{
		const MaasJson *p = maas_json_at(arr, i);
		const MaasJson *text = maas_json_get(p, "text");
		int			n_want;
		int32_t    *want = json_ids(maas_json_get(p, "ids"), &n_want);
		int32_t		n_got;
		int32_t    *got = maas_tokenizer_encode(bpe, text->u.string, text->n, NULL,
											   &n_got, NULL, &err);
		size_t		dlen;
		char	   *back;

		REQUIRE(got != NULL && want != NULL);
		CHECK(same_ids(got, n_got, want, n_want));
		back = maas_tokenizer_decode(bpe, got, n_got, false, &dlen, NULL, &err);
		CHECK(back != NULL && dlen == (size_t) text->n && memcmp(back, text->u.string, dlen) == 0);
	}

	wp = maas_wordpiece_build(vtxt, len, NULL, 64, NULL, &err);
	REQUIRE(wp != NULL);
	CHECK(wp->cls_id == 2 && wp->sep_id == 3 && wp->pad_id == 0);
	arr = maas_json_get(bx, "batch");
	for (int i = 0; arr && i < arr->n; i++)
	{
		const MaasJson *r = maas_json_at(arr, i);
		const MaasJson *text = maas_json_get(r, "text");
		const MaasJson *pair = maas_json_get(r, "text_pair");
		int			n_want;
		int32_t    *want = json_ids(maas_json_get(r, "ids"), &n_want);
		int32_t		na,
					nb = 0;
		int32_t    *a = maas_tokenizer_encode(wp, text->u.string, text->n, NULL,
											 &na, NULL, &err);
		int32_t    *all;

		REQUIRE(a != NULL && want != NULL);
		all = maas_kalloc(sizeof(int32_t) * (na + 64));
		memcpy(all, a, sizeof(int32_t) * na);
		if (pair != NULL && pair->type == MAAS_JSON_STRING)
		{
			/* a pair: [CLS] a [SEP] b [SEP], b with types 1 */
			MaasEncodeOptions plain = maas_encode_defaults(wp);
			int32_t    *b;

			plain.add_special = false;
			b = maas_tokenizer_encode(wp, pair->u.string, pair->n, &plain, &nb,
									  NULL, &err);
			REQUIRE(b != NULL && na + nb + 1 <= na + 64);
			memcpy(all + na, b, sizeof(int32_t) * nb);
			all[na + nb++] = wp->sep_id;
		}
		CHECK(same_ids(all, na + nb, want, n_want));
	}
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
	UNIT_RUN(test_gpt2_logits);
	UNIT_RUN(test_gpt2_batch);
	UNIT_RUN(test_gpt2_greedy);
	UNIT_RUN(test_gpt2_half);
	UNIT_RUN(test_bert);
	UNIT_RUN(test_tokenizer_files);
	return unit_finish("text_fixtures");
}
