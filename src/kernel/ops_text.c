/*
 * ops_text.c
 *		The layers of text models: embedding, layernorm, gelu, attention and
 *		pool (see net_ops.h), over the kernels of transformer.c.
 *
 * A text model's input is token ids; its embedding layer turns them into a
 * sequence value (one vector per position), on which dense, layernorm,
 * gelu, add and attention work position by position (attention across
 * them), until a pool makes one vector per row for a head.  Generation runs
 * the same program with a KV cache: each attention layer that keeps one
 * owns a slot of the batch's cache, and the batch says how many positions
 * the cache already holds (past), which is also where the embedding's
 * positions start.
 *
 * Config keys:
 *	embedding	"tokens" [V, C], "positions" [P, C], "token_types" [n, C]
 *				(optional): reads the token ids (the net's input)
 *	layernorm	"weight", "bias" [C], "eps" (default 1e-5)
 *	gelu		"approximate": "none" (erf, the default) or "tanh"
 *	attention	"heads", "causal" (default false): reads one value of width
 *				3C (query | key | value, as GPT-2's c_attn makes) or three
 *				values of width C; writes C
 *	pool		"mode": "mean" (over the valid positions), "first" or "last"
 */
#include "net_ops.h"
#include "transformer.h"

#include <float.h>
#include <limits.h>

#include <string.h>

/* the valid positions of each row, or NULL when every position is */
static const int32_t *
batch_lengths(const MaasRun *run)
{
	return run->batch->lengths;
}

/* ---- embedding ---- */

typedef struct EmbeddingParams
{
	const float *wte;
	int			V;
	const float *wpe;
	int			n_pos;
	const float *wtt;
	int			n_types;
	int			C;
} EmbeddingParams;

/*
 * A token table stored in int8 with one scale per token (maas_quantize
 * makes it so for a tied LM head, which reads the same tensor as a dense
 * layer): widened to float32 once, when the net is built.
 */
static bool
embedding_int8(MaasBuild *b, EmbeddingParams *p, const char *tokens,
			   const char *tokens_scale)
{
	const StTensor *t = maas_build_raw_tensor(b, tokens);
	int64_t		sshape[1];
	const float *scale;
	float	   *w;

	if (t == NULL)
		return false;
	if (t->dtype != ST_I8 || t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 1 ||
		t->shape[0] > INT_MAX || t->shape[1] > INT_MAX)
		return maas_build_error(b, "Layer %d (embedding): \"tokens_scale\" needs \"tokens\" to be a 2-dimensional int8 tensor.",
								maas_build_layer_no(b));
	sshape[0] = t->shape[0];
	if ((scale = maas_build_tensor(b, tokens_scale, 1, sshape, false)) == NULL)
		return false;
	for (int64_t v = 0; v < t->shape[0]; v++)
		if (!(scale[v] >= 0.0f && scale[v] <= FLT_MAX))
			return maas_build_error(b, "Layer %d (embedding): the scale of token %lld is not a finite non-negative number.",
									maas_build_layer_no(b), (long long) v);
	if ((w = maas_kalloc_array((size_t) t->numel, sizeof(float))) == NULL)
		return maas_error_nomem(maas_build_err(b));
	for (int64_t v = 0; v < t->shape[0]; v++)
	{
		const int8_t *q = (const int8_t *) t->data + v * t->shape[1];

		for (int64_t c = 0; c < t->shape[1]; c++)
			w[v * t->shape[1] + c] = (float) q[c] * scale[v];
	}
	p->wte = w;
	p->V = (int) t->shape[0];
	p->C = (int) t->shape[1];
	return true;
}

static bool
embedding_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	EmbeddingParams *p = maas_kalloc(sizeof(EmbeddingParams));
	const char *tokens = NULL,
			   *positions = NULL,
			   *types = NULL,
			   *tokens_scale = NULL;
	int64_t		shape[2] = {-1, -1};

	(void) in;
	if (p == NULL)
		return maas_build_error(b, "out of memory");
	memset(p, 0, sizeof(*p));
	if (!maas_build_string(b, obj, "tokens", true, &tokens) ||
		!maas_build_string(b, obj, "positions", true, &positions) ||
		!maas_build_string(b, obj, "token_types", false, &types) ||
		!maas_build_string(b, obj, "tokens_scale", false, &tokens_scale))
		return false;
	if (tokens_scale != NULL)
	{
		if (!embedding_int8(b, p, tokens, tokens_scale))
			return false;
	}
	else
	{
		if ((p->wte = maas_build_tensor(b, tokens, 2, shape, false)) == NULL)
			return false;
		p->V = (int) shape[0];
		p->C = (int) shape[1];
	}
	shape[0] = -1;
	if ((p->wpe = maas_build_tensor(b, positions, 2, shape, false)) == NULL)
		return false;
	p->n_pos = (int) shape[0];
	if (types != NULL)
	{
		shape[0] = -1;
		if ((p->wtt = maas_build_tensor(b, types, 2, shape, false)) == NULL)
			return false;
		p->n_types = (int) shape[0];
	}
	l->params = p;
	return true;
}

static bool
embedding_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out,
				MaasError *err)
{
	const EmbeddingParams *p = l->params;

	if (!in[0].seq || in[0].width != 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (embedding) must read the token ids, the model's input", no);
	if (p == NULL || p->C <= 0 || p->V <= 0 || p->n_pos <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (embedding) has no tables", no);
	memset(out, 0, sizeof(*out));
	out->seq = true;
	out->width = p->C;
	l->n_in = 0;
	l->n_out = p->C;
	return true;
}

static bool
embedding_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const EmbeddingParams *p = l->params;
	const MaasBatch *b = run->batch;

	(void) in;
	return maas_embedding_forward(out, b->ids, b->types, b->n, b->t, b->past,
								  p->wte, p->V, p->wpe, p->n_pos,
								  p->wtt, p->n_types, p->C, run->err);
}

static const char *const embedding_keys[] = {"tokens", "positions", "token_types", "tokens_scale", NULL};

const MaasOpInfo maas_op_embedding = {
	.name = "embedding", .min_inputs = 1, .max_inputs = 1,
	.keys = embedding_keys, .parse = embedding_parse,
	.check = embedding_check, .forward = embedding_forward,
};

/* the table sizes an embedding layer allows: for the serving glue */
bool
maas_net_token_limits(const MaasNet *net, int *vocab, int *positions, int *types)
{
	for (int i = 0; i < net->n_layers; i++)
		if (net->layers[i].op == MAAS_OP_EMBEDDING)
		{
			const EmbeddingParams *p = net->layers[i].params;

			*vocab = p->V;
			*positions = p->n_pos;
			*types = p->wtt ? p->n_types : 0;
			return true;
		}
	return false;
}

/* ---- layernorm ---- */

typedef struct NormParams
{
	const float *weight;
	const float *bias;
	float		eps;
} NormParams;

static bool
layernorm_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	NormParams *p = maas_kalloc(sizeof(NormParams));
	const char *weight = NULL,
			   *bias = NULL;
	double		eps = 1e-5;
	int64_t		shape[1] = {in[0].width};

	if (p == NULL)
		return maas_build_error(b, "out of memory");
	if (!maas_build_string(b, obj, "weight", true, &weight) ||
		!maas_build_string(b, obj, "bias", true, &bias) ||
		!maas_build_float(b, obj, "eps", false, &eps))
		return false;
	if (!(eps > 0))
		return maas_build_error(b, "Layer %d (layernorm): \"eps\" must be positive.",
								maas_build_layer_no(b));
	if ((p->weight = maas_build_tensor(b, weight, 1, shape, false)) == NULL ||
		(p->bias = maas_build_tensor(b, bias, 1, shape, false)) == NULL)
		return false;
	p->eps = (float) eps;
	l->params = p;
	return true;
}

static bool
layernorm_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out,
				MaasError *err)
{
	if (l->params == NULL || in[0].width <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (layernorm) has no weights", no);
	*out = in[0];
	l->n_in = l->n_out = in[0].width;
	return true;
}

static bool
layernorm_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const NormParams *p = l->params;

	maas_layernorm_forward(out, in[0], p->weight, p->bias,
						   maas_run_vectors(run, &l->shape), l->n_in, p->eps);
	return true;
}

static const char *const layernorm_keys[] = {"weight", "bias", "eps", NULL};

const MaasOpInfo maas_op_layernorm = {
	.name = "layernorm", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = layernorm_keys, .parse = layernorm_parse,
	.check = layernorm_check, .forward = layernorm_forward,
};

/* ---- gelu ---- */

static bool
gelu_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	const char *approx = NULL;

	(void) in;
	if (!maas_build_string(b, obj, "approximate", false, &approx))
		return false;
	if (approx != NULL && strcmp(approx, "none") != 0 && strcmp(approx, "tanh") != 0)
		return maas_build_error(b, "Layer %d (gelu): \"approximate\" must be \"none\" or \"tanh\", not \"%s\".",
								maas_build_layer_no(b), approx);
	/* params is non-NULL for the tanh form */
	l->params = approx != NULL && strcmp(approx, "tanh") == 0 ? (const void *) "tanh" : NULL;
	return true;
}

static bool
gelu_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	size_t		n = maas_run_vectors(run, &l->shape) * (size_t) l->n_out;

	if (l->params != NULL)
		maas_gelu_tanh_forward(out, in[0], n);
	else
		maas_gelu_erf_forward(out, in[0], n);
	return true;
}

static const char *const gelu_keys[] = {"approximate", NULL};

const MaasOpInfo maas_op_gelu = {
	.name = "gelu", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = gelu_keys, .parse = gelu_parse, .forward = gelu_forward,
};

/* ---- attention ---- */

typedef struct AttentionParams
{
	int			heads;
	bool		causal;
} AttentionParams;

static bool
attention_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	AttentionParams *p = maas_kalloc(sizeof(AttentionParams));
	int64_t		heads = 0;
	bool		causal = false;

	(void) in;
	if (p == NULL)
		return maas_build_error(b, "out of memory");
	if (!maas_build_int(b, obj, "heads", true, 1, 65536, &heads) ||
		!maas_build_bool(b, obj, "causal", false, &causal))
		return false;
	p->heads = (int) heads;
	p->causal = causal;
	l->params = p;
	return true;
}

static bool
attention_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out,
				MaasError *err)
{
	const AttentionParams *p = l->params;
	int			n_in = l->n_inputs == 0 ? 1 : l->n_inputs;
	int			C;

	if (p == NULL || p->heads <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (attention) has no \"heads\"", no);
	if (n_in != 1 && n_in != 3)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (attention) reads one value (query, key and value side by side) or three",
						  no);
	for (int k = 0; k < n_in; k++)
		if (!in[k].seq)
			return maas_error(err, MAAS_ERR_INVALID,
							  "layer %d (attention) needs sequence values", no);
	if (n_in == 1)
	{
		if (in[0].width % 3 != 0)
			return maas_error(err, MAAS_ERR_INVALID,
							  "layer %d (attention) reads %d values a position, not three equal parts",
							  no, in[0].width);
		C = in[0].width / 3;
	}
	else
	{
		C = in[0].width;
		if (in[1].width != C || in[2].width != C)
			return maas_error(err, MAAS_ERR_INVALID,
							  "layer %d (attention) has query, key and value of different widths", no);
	}
	if (C <= 0 || C % p->heads != 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (attention) has %d heads, which do not divide its width %d",
						  no, p->heads, C);
	memset(out, 0, sizeof(*out));
	out->seq = true;
	out->width = C;
	l->n_in = in[0].width;
	l->n_out = C;
	return true;
}

static size_t
attention_scratch(const MaasLayer *l, const MaasShape *in, int n, int t, int n_keys)
{
	size_t		s;

	(void) l;
	(void) in;
	(void) n;
	if (!maas_attention_scratch(t, n_keys, &s))
		return SIZE_MAX;
	return s;
}

static bool
attention_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const AttentionParams *p = l->params;
	const MaasBatch *b = run->batch;
	int			C = l->n_out;
	const float *q,
			   *k,
			   *v;
	int			ldq,
				ldkv;
	float	   *kc = NULL,
			   *vc = NULL;
	int			n_ctx = 0;
	int			past = 0;

	if (l->n_inputs <= 1)
	{
		q = in[0];
		k = in[0] + C;
		v = in[0] + 2 * C;
		ldq = ldkv = 3 * C;
	}
	else
	{
		q = in[0];
		k = in[1];
		v = in[2];
		ldq = ldkv = C;
	}
	if (b->cache != NULL && l->cache_slot >= 0 && l->cache_slot < b->cache->n_slots)
	{
		kc = b->cache->k[l->cache_slot];
		vc = b->cache->v[l->cache_slot];
		n_ctx = b->cache->n_ctx;
		past = b->past;
	}
	return maas_attention_forward(out, run->scratch, q, ldq, k, v, ldkv,
								  kc, vc, n_ctx, past,
								  batch_lengths(run), p->causal,
								  b->n, b->t, C, p->heads, run->blas, run->err);
}

static const char *const attention_keys[] = {"heads", "causal", NULL};

const MaasOpInfo maas_op_attention = {
	.name = "attention", .min_inputs = 1, .max_inputs = 3,
	.keys = attention_keys, .parse = attention_parse,
	.check = attention_check, .scratch = attention_scratch,
	.forward = attention_forward, .kv_cache = true,
};

/* ---- pool ---- */

typedef enum PoolMode
{
	POOL_MEAN,
	POOL_FIRST,
	POOL_LAST
} PoolMode;

static const PoolMode pool_modes[] = {POOL_MEAN, POOL_FIRST, POOL_LAST};

static bool
pool_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	const char *mode = NULL;

	(void) in;
	if (!maas_build_string(b, obj, "mode", true, &mode))
		return false;
	if (strcmp(mode, "mean") == 0)
		l->params = &pool_modes[0];
	else if (strcmp(mode, "first") == 0)
		l->params = &pool_modes[1];
	else if (strcmp(mode, "last") == 0)
		l->params = &pool_modes[2];
	else
		return maas_build_error(b, "Layer %d (pool): \"mode\" must be \"mean\", \"first\" or \"last\", not \"%s\".",
								maas_build_layer_no(b), mode);
	return true;
}

static bool
pool_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	if (l->params == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (pool) has no \"mode\"", no);
	if (!in[0].seq || in[0].width <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (pool) needs a sequence value", no);
	memset(out, 0, sizeof(*out));
	out->width = in[0].width;
	l->n_in = l->n_out = in[0].width;
	return true;
}

static bool
pool_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const MaasBatch *b = run->batch;

	switch (*(const PoolMode *) l->params)
	{
		case POOL_MEAN:
			return maas_pool_mean_forward(out, in[0], batch_lengths(run),
										  b->n, b->t, l->n_in, run->err);
		case POOL_FIRST:
			maas_pool_cls_forward(out, in[0], b->n, b->t, l->n_in);
			return true;
		case POOL_LAST:
			return maas_select_last_forward(out, in[0], batch_lengths(run),
											b->n, b->t, l->n_in, run->err);
	}
	return false;
}

static const char *const pool_keys[] = {"mode", NULL};

const MaasOpInfo maas_op_pool = {
	.name = "pool", .min_inputs = 1, .max_inputs = 1,
	.keys = pool_keys, .parse = pool_parse,
	.check = pool_check, .forward = pool_forward,
};
