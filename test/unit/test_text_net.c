/*
 * test_text_net.c
 *		The text fixtures (test/fixtures/text) through the whole runtime:
 *		Hugging Face config -> layer program (hf_import.c) -> net
 *		(net_build.c) -> forward passes (net.c, ops_text.c, ops_core.c),
 *		against the plain-torch reference the fixture script saved.
 *
 * GPT-2: the logits after every prefix of every prompt (every position),
 * and greedy generation with the KV cache, one token a step.  BERT: a
 * padded batch of four -- class probabilities, mean-pooled embeddings and
 * the last hidden states at the valid positions.  Also the F16 and BF16
 * checkpoints, and the program's errors for damaged checkpoints.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "hf_import.h"
#include "json.h"
#include "net_build.h"
#include "safetensors.h"
#include "generate.h"
#include "sampling.h"
#include "unit.h"

static const MaasBlas *blas;
static MaasError err;

static uint8_t *
read_file(const char *dir, const char *name, size_t *len)
{
	char		path[512];
	FILE	   *f;
	uint8_t    *buf;
	long		n;

	snprintf(path, sizeof(path), "%s/text/%s/%s",
			 getenv("MAAS_FIXTURES") ? getenv("MAAS_FIXTURES") : "../fixtures", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
	{
		fprintf(stderr, "cannot open %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = maas_kalloc((size_t) n + 1);
	if (fread(buf, 1, (size_t) n, f) != (size_t) n)
		exit(1);
	fclose(f);
	buf[n] = 0;
	*len = (size_t) n;
	return buf;
}

static MaasJson *
read_json(const char *dir, const char *name)
{
	size_t		len;
	uint8_t    *text = read_file(dir, name, &len);
	MaasJson   *v = maas_json_parse((const char *) text, len, 0, NULL, &err);

	if (v == NULL)
	{
		fprintf(stderr, "%s/%s: %s\n", dir, name, err.msg);
		exit(1);
	}
	return v;
}

static StFile *
read_st(const char *dir, const char *name)
{
	size_t		len;
	uint8_t    *buf = read_file(dir, name, &len);
	StFile	   *f = maas_kalloc(sizeof(StFile));

	if (!st_parse(buf, len, f, &err))
	{
		fprintf(stderr, "%s/%s: %s\n", dir, name, err.msg);
		exit(1);
	}
	return f;
}

/* translate and build; NULL with err set when either fails */
static MaasNet *
build(MaasHfArch arch, const MaasJson *hf, const StFile *w)
{
	MaasBuf		out;
	MaasJson   *program;
	MaasNet    *net = maas_kalloc(sizeof(MaasNet));

	maas_buf_init(&out);
	if (!maas_hf_translate(arch, hf, w, &out, &err))
		return NULL;
	program = maas_json_parse(out.data, out.len, 0, NULL, &err);
	if (program == NULL)
	{
		fprintf(stderr, "translated program is not JSON: %s\n%s\n", err.msg, out.data);
		return NULL;
	}
	if (!maas_net_build(net, program, w, true, &err))
		return NULL;
	return net;
}

static float *
workspace(const MaasNet *net, int n, int t, int n_keys)
{
	size_t		nf;

	CHECK(maas_net_workspace_kv(net, n, t, n_keys, &nf));
	return maas_kalloc(sizeof(float) * nf);
}

static double
max_diff(const float *a, const float *b, size_t n)
{
	double		m = 0;

	for (size_t i = 0; i < n; i++)
		if (fabs((double) a[i] - b[i]) > m)
			m = fabs((double) a[i] - b[i]);
	return m;
}

static void
ids_of(const MaasJson *arr, int32_t *ids, int *n)
{
	*n = arr->n;
	for (int i = 0; i < arr->n; i++)
		ids[i] = (int32_t) maas_json_at(arr, i)->integer;
}

/* logits after every prefix, and greedy generation with the cache */
static void
gpt2_case(const char *weights_file, const char *greedy_key, bool every_position)
{
	MaasJson   *hf = read_json("tiny_gpt2", "config.json");
	MaasJson   *expect = read_json("tiny_gpt2", "expected.json");
	StFile	   *w = read_st("tiny_gpt2", weights_file);
	StFile	   *ref = read_st("tiny_gpt2", "expected.safetensors");
	MaasNet    *net = build(MAAS_HF_GPT2, hf, w);
	const MaasJson *prompts = maas_json_get(expect, "prompts");
	int			V = 448;
	double		worst = 0;

	CHECK(net != NULL);
	if (net == NULL)
	{
		fprintf(stderr, "    %s\n", err.msg);
		return;
	}
	CHECK(net->input == MAAS_NET_TOKENS && net->n_out == V && !net->out_seq);
	CHECK(net->n_caches == 2);

	for (int p = 0; p < prompts->n; p++)
	{
		const MaasJson *pr = maas_json_at(prompts, p);
		int32_t		ids[64];
		int			n;
		const MaasJson *greedy = maas_json_get(pr, greedy_key);
		char		name[32];
		const StTensor *t;
		float	   *logits_ref;
		float	   *work = workspace(net, 1, 64, 64);
		MaasKvCache *cache;
		MaasBatch	b = {.n = 1};
		const float *out;

		ids_of(maas_json_get(pr, "ids"), ids, &n);

		/* every position, prefix by prefix */
		snprintf(name, sizeof(name), "logits.%d", p);
		t = st_find(ref, name);
		if (every_position && t != NULL)
		{
			logits_ref = maas_kalloc(sizeof(float) * (size_t) t->numel);
			CHECK(st_to_f32(t, logits_ref));
			for (int k = 1; k <= n; k++)
			{
				b.t = k;
				b.ids = ids;
				out = maas_net_run(net, blas, &b, 0, work, &err);
				CHECK(out != NULL);
				if (out)
				{
					double		d = max_diff(out, logits_ref + (size_t) (k - 1) * V, V);

					if (d > worst)
						worst = d;
				}
			}
		}

		/* greedy with the KV cache: prefill, then one token a step */
		cache = maas_kv_cache_new(net, 1, 64, &err);
		CHECK(cache != NULL);
		b = (MaasBatch) {.n = 1, .t = n, .ids = ids, .cache = cache, .past = 0};
		for (int step = 0; step < greedy->n; step++)
		{
			int32_t		next;

			out = maas_net_run(net, blas, &b, 0, work, &err);
			CHECK(out != NULL);
			if (out == NULL)
				break;
			next = maas_logits_argmax(out, V);
			CHECK(next == (int32_t) maas_json_at(greedy, step)->integer);
			b.past += b.t;
			ids[b.past] = next;
			b.ids = ids + b.past;
			b.t = 1;
		}
	}
	if (every_position)
	{
		CHECK(worst < 1e-4);
		printf("    %s: logits at every position within %.2g of torch\n", weights_file, worst);
	}
}

static void
test_gpt2(void)
{
	gpt2_case("model.safetensors", "greedy", true);
}

static void
test_gpt2_half(void)
{
	/* F16 and BF16 checkpoints (prefixed "transformer.", with F16 buffers) */
	gpt2_case("model.fp16.safetensors", "greedy_fp16", false);
	gpt2_case("model.bf16.safetensors", "greedy_bf16", false);
}

static void
test_bert(void)
{
	MaasJson   *hf = read_json("tiny_bert", "config.json");
	StFile	   *w = read_st("tiny_bert", "model.safetensors");
	StFile	   *ref = read_st("tiny_bert", "expected.safetensors");
	MaasNet    *net = build(MAAS_HF_BERT, hf, w);
	const StTensor *ids_t = st_find(ref, "input_ids");
	const StTensor *mask_t = st_find(ref, "attention_mask");
	int			B = 4,
				T = 27,
				C = 32;
	int32_t		ids[4 * 27],
				types[4 * 27],
				mask[4 * 27],
				lengths[4];
	float		probs[12],
				mean[4 * 32];
	float	   *hidden = maas_kalloc(sizeof(float) * B * T * C);
	float	   *work;
	MaasBatch	b = {.n = B, .t = T, .ids = ids, .types = types, .lengths = lengths};
	const float *out;

	CHECK(net != NULL);
	if (net == NULL)
	{
		fprintf(stderr, "    %s\n", err.msg);
		return;
	}
	CHECK(ids_t && mask_t);
	memcpy(ids, ids_t->data, sizeof(ids));
	memcpy(mask, mask_t->data, sizeof(mask));
	memcpy(types, st_find(ref, "token_type_ids")->data, sizeof(types));
	for (int r = 0; r < B; r++)
	{
		lengths[r] = 0;
		for (int t = 0; t < T; t++)
			lengths[r] += mask[r * T + t];
	}
	CHECK(st_to_f32(st_find(ref, "probabilities"), probs));
	CHECK(st_to_f32(st_find(ref, "mean_pooled"), mean));
	CHECK(st_to_f32(st_find(ref, "last_hidden_state"), hidden));
	work = workspace(net, B, T, T);

	out = maas_net_run(net, blas, &b, 0, work, &err);
	CHECK(out != NULL && net->n_out == 3);
	if (out)
		CHECK(max_diff(out, probs, 12) < 1e-4);
	out = maas_net_run(net, blas, &b, maas_net_find(net, "embedding"), work, &err);
	CHECK(out != NULL);
	if (out)
		CHECK(max_diff(out, mean, (size_t) B * C) < 1e-4);
	out = maas_net_run(net, blas, &b, maas_net_find(net, "hidden"), work, &err);
	CHECK(out != NULL);
	if (out)
		for (int r = 0; r < B; r++)
			CHECK(max_diff(out + (size_t) r * T * C, hidden + (size_t) r * T * C,
						   (size_t) lengths[r] * C) < 1e-4);

	/* one row alone gives what it gave in the batch */
	{
		MaasBatch	one = {.n = 1, .t = lengths[2], .ids = ids + 2 * T,
		.types = types + 2 * T, .lengths = lengths + 2};
		float	   *w1 = workspace(net, 1, lengths[2], lengths[2]);

		out = maas_net_run(net, blas, &one, 0, w1, &err);
		CHECK(out != NULL);
		if (out)
			CHECK(max_diff(out, probs + 6, 3) < 1e-4);
	}
}

static MaasJson *
json(const char *s)
{
	return maas_json_parse(s, strlen(s), 0, NULL, &err);
}

/* damaged checkpoints and configs: clear errors, never a crash */
static void
test_errors(void)
{
	MaasJson   *hf = read_json("tiny_gpt2", "config.json");
	StFile	   *w = read_st("tiny_gpt2", "model.safetensors");
	StFile		missing = *w;
	MaasJson   *bad;
	MaasNet    *net;

	/* a missing tensor: drop h.1.mlp.c_fc.weight from the file's table */
	missing.tensors = maas_kalloc(sizeof(StTensor) * w->n_tensors);
	missing.n_tensors = 0;
	for (int i = 0; i < w->n_tensors; i++)
		if (strcmp(w->tensors[i].name, "h.1.mlp.c_fc.weight") != 0)
			missing.tensors[missing.n_tensors++] = w->tensors[i];
	net = build(MAAS_HF_GPT2, hf, &missing);
	CHECK_ERR(net != NULL, err.msg, "names tensor \"h.1.mlp.c_fc.weight\", which is not in the weights");

	/* a head count that does not divide the width */
	bad = json("{\"n_embd\": 32, \"n_layer\": 2, \"n_head\": 5, \"n_positions\": 64}");
	net = build(MAAS_HF_GPT2, bad, w);
	CHECK_ERR(net != NULL, err.msg, "\"n_head\" (5) does not divide \"n_embd\" (32)");

	/* a config that disagrees with the tensors */
	bad = json("{\"n_embd\": 32, \"n_layer\": 3, \"n_head\": 4, \"n_positions\": 64}");
	net = build(MAAS_HF_GPT2, bad, w);
	CHECK_ERR(net != NULL, err.msg, "names tensor \"h.2.ln_1.weight\", which is not in the weights");

	/* no token embedding at all */
	net = build(MAAS_HF_BERT, hf, w);
	CHECK_ERR(net != NULL, err.msg, "no word embedding");

	/* a missing key */
	bad = json("{\"n_embd\": 32, \"n_layer\": 2, \"n_head\": 4}");
	net = build(MAAS_HF_GPT2, bad, w);
	CHECK_ERR(net != NULL, err.msg, "The config has no \"n_positions\"");

	/* an id beyond the vocabulary, a position beyond the context */
	net = build(MAAS_HF_GPT2, hf, w);
	CHECK(net != NULL);
	if (net)
	{
		int32_t		ids[70] = {0};
		MaasBatch	b = {.n = 1, .t = 2, .ids = ids};
		float	   *work = workspace(net, 1, 70, 70);

		ids[1] = 448;
		CHECK(maas_net_run(net, blas, &b, 0, work, &err) == NULL);
		CHECK(err.status == MAAS_ERR_INVALID);
		ids[1] = 0;
		b.t = 65;
		CHECK(maas_net_run(net, blas, &b, 0, work, &err) == NULL);
		CHECK(err.status == MAAS_ERR_LIMIT);
	}
}

/* the GPT-2 fixture's tokenizer, from its files */
static MaasTokenizer *
gpt2_tokenizer(void)
{
	MaasJson   *vocab = read_json("tiny_gpt2", "vocab.json");
	size_t		len;
	uint8_t    *merges = read_file("tiny_gpt2", "merges.txt", &len);
	MaasTokenizer *tok = maas_bpe_build(vocab, (const char *) merges, len, 64, NULL, &err);

	CHECK(tok != NULL);
	return tok;
}

/* generation: greedy as torch, seeded sampling reproducible, stops, limits */
static void
test_generate(void)
{
	MaasJson   *hf = read_json("tiny_gpt2", "config.json");
	MaasJson   *expect = read_json("tiny_gpt2", "expected.json");
	StFile	   *w = read_st("tiny_gpt2", "model.safetensors");
	MaasNet    *net = build(MAAS_HF_GPT2, hf, w);
	MaasTokenizer *tok = gpt2_tokenizer();
	const MaasJson *pr = maas_json_at(maas_json_get(expect, "prompts"), 0);
	const MaasJson *greedy = maas_json_get(pr, "greedy");
	int32_t		ids[64];
	int			n;
	MaasGenParams p = {.max_new_tokens = 20, .stop_at_eos = true, .sampling = {.top_p = 1}};
	MaasGenResult r,
				r2;
	const char *stop[1];
	size_t		stop_len[1];

	CHECK(net != NULL && tok != NULL);
	if (net == NULL || tok == NULL)
		return;
	ids_of(maas_json_get(pr, "ids"), ids, &n);

	/* greedy: the reference's tokens, decoded as the reference did */
	if (!maas_lm_generate(net, blas, tok, 64, ids, n, &p, &r, NULL, &err))
	{
		unit_fail(__FILE__, __LINE__, err.msg);
		return;
	}
	CHECK(r.n_ids == greedy->n && r.finish == MAAS_GEN_LENGTH);
	for (int i = 0; i < r.n_ids && i < greedy->n; i++)
		CHECK(r.ids[i] == (int32_t) maas_json_at(greedy, i)->integer);
	CHECK(strcmp(r.text, maas_json_get(pr, "greedy_text")->u.string) == 0);

	/* seeded sampling: the same seed, the same text; another seed, another */
	p.sampling = (MaasSampling) {.temperature = 1.5f, .top_k = 40, .top_p = 0.95f};
	p.seed = 7;
	CHECK(maas_lm_generate(net, blas, tok, 64, ids, n, &p, &r, NULL, &err));
	CHECK(maas_lm_generate(net, blas, tok, 64, ids, n, &p, &r2, NULL, &err));
	CHECK(r.n_ids == r2.n_ids && memcmp(r.ids, r2.ids, sizeof(int32_t) * r.n_ids) == 0);
	p.seed = 8;
	CHECK(maas_lm_generate(net, blas, tok, 64, ids, n, &p, &r2, NULL, &err));
	CHECK(r.n_ids != r2.n_ids || memcmp(r.ids, r2.ids, sizeof(int32_t) * r.n_ids) != 0);

	/* a stop string ends the text before it */
	p.sampling = (MaasSampling) {.temperature = 0, .top_p = 1};
	stop[0] = "77";
	stop_len[0] = 2;
	p.stop = stop;
	p.stop_len = stop_len;
	p.n_stop = 1;
	CHECK(maas_lm_generate(net, blas, tok, 64, ids, n, &p, &r, NULL, &err));
	CHECK(r.finish == MAAS_GEN_STOP && strstr(r.text, "77") == NULL);
	CHECK(strncmp(r.text, maas_json_get(pr, "greedy_text")->u.string, r.len) == 0);
	p.n_stop = 0;

	/* the context is enforced before any work */
	p.max_new_tokens = 64 - n + 1;
	CHECK_ERR(maas_lm_generate(net, blas, tok, 64, ids, n, &p, &r, NULL, &err), err.msg,
			  "do not fit the model's context of 64");
	CHECK(err.status == MAAS_ERR_LIMIT);
	p.max_new_tokens = 64 - n;
	CHECK(maas_lm_generate(net, blas, tok, 64, ids, n, &p, &r, NULL, &err));
	CHECK(r.n_ids == 64 - n);
	CHECK_ERR(maas_lm_generate(net, blas, tok, 2, ids, n, &p, &r, NULL, &err), err.msg,
			  "the prompt has 3 tokens, more than the model's context of 2");
	CHECK_ERR(maas_lm_generate(net, blas, tok, 64, ids, 0, &p, &r, NULL, &err), err.msg,
			  "the prompt has no tokens");
	p.sampling.top_p = 1.5f;
	p.max_new_tokens = 5;
	CHECK_ERR(maas_lm_generate(net, blas, tok, 64, ids, n, &p, &r, NULL, &err), err.msg, "top_p");
}

int
main(void)
{
	char		e[256];

	blas = maas_blas_load(NULL, 1, e, sizeof(e));
	if (blas == NULL)
	{
		fprintf(stderr, "cannot load BLAS: %s\n", e);
		return 1;
	}
	UNIT_RUN(test_gpt2);
	UNIT_RUN(test_gpt2_half);
	UNIT_RUN(test_bert);
	UNIT_RUN(test_errors);
	UNIT_RUN(test_generate);
	return unit_finish("text_net");
}
