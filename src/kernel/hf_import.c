/*
 * hf_import.c
 *		GPT-2 and BERT configs as layer programs (see hf_import.h).
 *
 * GPT-2 (pre-norm blocks, fused query/key/value, Conv1D weights [in, out]):
 *
 *	embedding(wte, wpe) -> r0
 *	block i:  layernorm ln_1 -> dense c_attn (3C) -> attention (causal)
 *			  -> dense c_proj -> add r_i -> a_i
 *			  layernorm ln_2 -> dense c_fc -> gelu -> dense c_proj -> add a_i -> r_i+1
 *	layernorm ln_f -> "hidden" -> pool last -> dense wte^T (tied) -> "logits"
 *
 * BERT (post-norm blocks, separate query/key/value, Linear weights [out, in]):
 *
 *	embedding(word, position, token type) -> layernorm -> r0
 *	layer i:  dense query / key / value (each of r_i) -> attention (padded)
 *			  -> dense -> add r_i -> layernorm -> a_i
 *			  dense intermediate -> gelu -> dense output -> add a_i -> layernorm -> r_i+1
 *	"hidden" -> pool mean -> "embedding"    (or pool first, "pooling": "cls")
 *	classifier: pool first -> dense pooler -> tanh -> dense classifier -> softmax
 *
 * The program names the values it reads twice (the residual stream); the
 * runtime plans buffers from that.
 */
#include "hf_import.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct Tr
{
	MaasBuf    *out;
	const StFile *w;
	const char *prefix;
	int			n_layers;		/* written so far */
	MaasError  *err;
} Tr;

static bool
tr_error(Tr *tr, const char *fmt,...)
	__attribute__((format(printf, 2, 3)));

static bool
tr_error(Tr *tr, const char *fmt,...)
{
	va_list		ap;
	char		msg[MAAS_ERRLEN];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return maas_error(tr->err, MAAS_ERR_INVALID, "%s", msg);
}

/* the tensor's full name (prefix + formatted), in buf */
static const char *
tname(Tr *tr, char *buf, size_t cap, const char *fmt,...)
	__attribute__((format(printf, 4, 5)));

static const char *
tname(Tr *tr, char *buf, size_t cap, const char *fmt,...)
{
	va_list		ap;
	size_t		n = (size_t) snprintf(buf, cap, "%s", tr->prefix);

	va_start(ap, fmt);
	if (n < cap)
		vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
	return buf;
}

static void
begin(Tr *tr, const char *op, const char *name)
{
	maas_buf_printf(tr->out, "%s{\"op\": \"%s\"", tr->n_layers ? ",\n  " : "\n  ", op);
	if (name != NULL)
		maas_buf_printf(tr->out, ", \"name\": \"%s\"", name);
	tr->n_layers++;
}

static void
key_str(Tr *tr, const char *key, const char *value)
{
	maas_buf_printf(tr->out, ", \"%s\": ", key);
	maas_json_write_string(tr->out, value, strlen(value));
}

static void
inputs(Tr *tr, int n, ...)
{
	va_list		ap;

	va_start(ap, n);
	maas_buf_puts(tr->out, n == 1 ? ", \"input\": " : ", \"input\": [");
	for (int i = 0; i < n; i++)
	{
		const char *s = va_arg(ap, const char *);

		if (i)
			maas_buf_puts(tr->out, ", ");
		maas_json_write_string(tr->out, s, strlen(s));
	}
	if (n != 1)
		maas_buf_puts(tr->out, "]");
	va_end(ap);
}

static void
end(Tr *tr)
{
	maas_buf_puts(tr->out, "}");
}

static void
dense(Tr *tr, const char *name, const char *weight, const char *bias, bool in_out)
{
	begin(tr, "dense", name);
	key_str(tr, "weight", weight);
	if (bias != NULL)
		key_str(tr, "bias", bias);
	if (in_out)
		key_str(tr, "layout", "in_out");
	end(tr);
}

static void
layernorm(Tr *tr, const char *name, const char *input, const char *weight,
		  const char *bias, double eps)
{
	begin(tr, "layernorm", name);
	if (input != NULL)
		inputs(tr, 1, input);
	key_str(tr, "weight", weight);
	key_str(tr, "bias", bias);
	maas_buf_puts(tr->out, ", \"eps\": ");
	maas_json_write_number(tr->out, eps, false);
	end(tr);
}

/* an integer key of the Hugging Face config */
static bool
hf_int(Tr *tr, const MaasJson *hf, const char *key, const char *alt,
	   int64_t min, int64_t max, int64_t dflt, int64_t *out)
{
	const MaasJson *v = maas_json_get(hf, key);
	const char *name = key;

	if (v == NULL && alt != NULL && (v = maas_json_get(hf, alt)) != NULL)
		name = alt;
	if (v == NULL)
	{
		if (dflt >= 0)
		{
			*out = dflt;
			return true;
		}
		if (alt != NULL)
			return tr_error(tr, "The config has no \"%s\" (or \"%s\").", key, alt);
		return tr_error(tr, "The config has no \"%s\".", key);
	}
	if (!maas_json_int(v, min, max, out))
		return tr_error(tr, "\"%s\" must be a whole number between %" PRId64 " and %" PRId64 ".",
						name, min, max);
	return true;
}

static bool
hf_float(Tr *tr, const MaasJson *hf, const char *key, double dflt, double *out)
{
	const MaasJson *v = maas_json_get(hf, key);

	if (v == NULL || v->type == MAAS_JSON_NULL)
	{
		*out = dflt;
		return true;
	}
	if (!maas_json_finite(v, true, out) || *out <= 0)
		return tr_error(tr, "\"%s\" must be a positive number.", key);
	return true;
}

/* "gelu_new" and friends -> the gelu op's form, or relu */
static bool
activation(Tr *tr, const MaasJson *hf, const char *key, const char *dflt,
		   const char **op, const char **approx)
{
	const MaasJson *v = maas_json_get(hf, key);
	const char *a = dflt;

	if (v != NULL)
	{
		if (v->type != MAAS_JSON_STRING)
			return tr_error(tr, "\"%s\" must be a string.", key);
		a = v->u.string;
	}
	*op = "gelu";
	*approx = NULL;
	if (strcmp(a, "gelu_new") == 0 || strcmp(a, "gelu_pytorch_tanh") == 0 ||
		strcmp(a, "gelu_fast") == 0)
		*approx = "tanh";
	else if (strcmp(a, "gelu") == 0)
		*approx = "none";
	else if (strcmp(a, "relu") == 0)
		*op = "relu";
	else
		return tr_error(tr, "\"%s\" is \"%s\"; maas knows gelu, gelu_new, gelu_pytorch_tanh and relu.",
						key, a);
	return true;
}

static void
act(Tr *tr, const char *op, const char *approx)
{
	begin(tr, op, NULL);
	if (approx != NULL)
		key_str(tr, "approximate", approx);
	end(tr);
}

/* the prefix under which name exists, among the candidates, or NULL */
static const char *
find_prefix(const StFile *w, const char *name, const char *const *prefixes)
{
	char		buf[256];

	for (const char *const *p = prefixes; *p; p++)
	{
		snprintf(buf, sizeof(buf), "%s%s", *p, name);
		if (st_find(w, buf) != NULL)
			return *p;
	}
	return NULL;
}

/* GPT-2's LayerNorm tensors (weight/bias) */
static bool
gpt2(Tr *tr, const MaasJson *hf)
{
	static const char *const prefixes[] = {"", "transformer.", NULL};
	int64_t		C,
				L,
				H,
				P;
	double		eps;
	const char *aop,
			   *approx;
	char		a[256],
				b[256];
	char		r[32],
				ai[32],
				next[32];

	if ((tr->prefix = find_prefix(tr->w, "wte.weight", prefixes)) == NULL)
		return tr_error(tr, "The weights have no token embedding \"wte.weight\" (or \"transformer.wte.weight\").");
	if (!hf_int(tr, hf, "n_embd", "hidden_size", 1, 65536, -1, &C) ||
		!hf_int(tr, hf, "n_layer", "num_hidden_layers", 1, 1000, -1, &L) ||
		!hf_int(tr, hf, "n_head", "num_attention_heads", 1, 65536, -1, &H) ||
		!hf_int(tr, hf, "n_positions", "n_ctx", 1, 1 << 20, -1, &P) ||
		!hf_float(tr, hf, "layer_norm_epsilon", 1e-5, &eps) ||
		!activation(tr, hf, "activation_function", "gelu_new", &aop, &approx))
		return false;
	if (C % H != 0)
		return tr_error(tr, "\"n_head\" (%" PRId64 ") does not divide \"n_embd\" (%" PRId64 ").", H, C);

	maas_buf_puts(tr->out, "{\"architecture\": \"gpt2\", \"task\": \"generation\", "
				  "\"input\": \"tokens\", ");
	maas_buf_printf(tr->out, "\"n_positions\": %" PRId64 ", \"output\": \"logits\", \"layers\": [", P);

	begin(tr, "embedding", "r0");
	key_str(tr, "tokens", tname(tr, a, sizeof(a), "wte.weight"));
	key_str(tr, "positions", tname(tr, b, sizeof(b), "wpe.weight"));
	end(tr);
	for (int i = 0; i < L; i++)
	{
		snprintf(r, sizeof(r), "r%d", i);
		snprintf(ai, sizeof(ai), "a%d", i);
		snprintf(next, sizeof(next), i + 1 < L ? "r%d" : "final", i + 1);

		layernorm(tr, NULL, r, tname(tr, a, sizeof(a), "h.%d.ln_1.weight", i),
				  tname(tr, b, sizeof(b), "h.%d.ln_1.bias", i), eps);
		dense(tr, NULL, tname(tr, a, sizeof(a), "h.%d.attn.c_attn.weight", i),
			  tname(tr, b, sizeof(b), "h.%d.attn.c_attn.bias", i), true);
		begin(tr, "attention", NULL);
		maas_buf_printf(tr->out, ", \"heads\": %" PRId64 ", \"causal\": true", H);
		end(tr);
		dense(tr, NULL, tname(tr, a, sizeof(a), "h.%d.attn.c_proj.weight", i),
			  tname(tr, b, sizeof(b), "h.%d.attn.c_proj.bias", i), true);
		begin(tr, "add", ai);
		inputs(tr, 2, r, "_prev");
		end(tr);

		layernorm(tr, NULL, NULL, tname(tr, a, sizeof(a), "h.%d.ln_2.weight", i),
				  tname(tr, b, sizeof(b), "h.%d.ln_2.bias", i), eps);
		dense(tr, NULL, tname(tr, a, sizeof(a), "h.%d.mlp.c_fc.weight", i),
			  tname(tr, b, sizeof(b), "h.%d.mlp.c_fc.bias", i), true);
		act(tr, aop, approx);
		dense(tr, NULL, tname(tr, a, sizeof(a), "h.%d.mlp.c_proj.weight", i),
			  tname(tr, b, sizeof(b), "h.%d.mlp.c_proj.bias", i), true);
		begin(tr, "add", next);
		inputs(tr, 2, ai, "_prev");
		end(tr);
	}
	layernorm(tr, "hidden", NULL, tname(tr, a, sizeof(a), "ln_f.weight"),
			  tname(tr, b, sizeof(b), "ln_f.bias"), eps);
	begin(tr, "pool", NULL);
	key_str(tr, "mode", "last");
	end(tr);
	/* the head: its own weights if the checkpoint has them, else tied */
	if (st_find(tr->w, "lm_head.weight") != NULL)
		dense(tr, "logits", "lm_head.weight", NULL, false);
	else
		dense(tr, "logits", tname(tr, a, sizeof(a), "wte.weight"), NULL, false);
	maas_buf_puts(tr->out, "]}");
	return true;
}

/* BERT's LayerNorm tensors are weight/bias, or gamma/beta in old files */
static void
bert_layernorm(Tr *tr, const char *name, const char *base, double eps)
{
	char		a[256],
				b[256];
	char		probe[256];

	snprintf(probe, sizeof(probe), "%s%s.weight", tr->prefix, base);
	if (st_find(tr->w, probe) == NULL)
	{
		snprintf(probe, sizeof(probe), "%s%s.gamma", tr->prefix, base);
		if (st_find(tr->w, probe) != NULL)
		{
			layernorm(tr, name, NULL, tname(tr, a, sizeof(a), "%s.gamma", base),
					  tname(tr, b, sizeof(b), "%s.beta", base), eps);
			return;
		}
	}
	layernorm(tr, name, NULL, tname(tr, a, sizeof(a), "%s.weight", base),
			  tname(tr, b, sizeof(b), "%s.bias", base), eps);
}

static bool
bert_labels(Tr *tr, const MaasJson *hf, int64_t n)
{
	const MaasJson *id2label = maas_json_get(hf, "id2label");

	if (id2label == NULL || id2label->type == MAAS_JSON_NULL)
		return true;
	if (id2label->type != MAAS_JSON_OBJECT)
		return tr_error(tr, "\"id2label\" must be an object.");
	if (id2label->n != n)
		return tr_error(tr, "\"id2label\" has %d labels but the classifier outputs %" PRId64 ".",
						id2label->n, n);
	maas_buf_puts(tr->out, "\"labels\": [");
	for (int64_t i = 0; i < n; i++)
	{
		char		key[24];
		const MaasJson *v;

		snprintf(key, sizeof(key), "%" PRId64, i);
		v = maas_json_get(id2label, key);
		if (v == NULL || v->type != MAAS_JSON_STRING)
			return tr_error(tr, "\"id2label\" has no label text for class %" PRId64 ".", i);
		if (i)
			maas_buf_puts(tr->out, ", ");
		maas_json_write_string(tr->out, v->u.string, (size_t) v->n);
	}
	maas_buf_puts(tr->out, "], ");
	return true;
}

static bool
bert(Tr *tr, const MaasJson *hf)
{
	static const char *const prefixes[] = {"bert.", "", NULL};
	int64_t		C,
				L,
				H,
				P;
	double		eps;
	const char *aop,
			   *approx;
	const char *pooling = "mean";
	const MaasJson *pv = maas_json_get(hf, "pooling");
	const StTensor *cls;
	bool		types;
	char		a[256],
				b[256],
				base[128];
	char		r[32],
				ai[32],
				next[32],
				q[32],
				k[32];

	if ((tr->prefix = find_prefix(tr->w, "embeddings.word_embeddings.weight", prefixes)) == NULL)
		return tr_error(tr, "The weights have no word embedding \"bert.embeddings.word_embeddings.weight\".");
	if (!hf_int(tr, hf, "hidden_size", NULL, 1, 65536, -1, &C) ||
		!hf_int(tr, hf, "num_hidden_layers", NULL, 1, 1000, -1, &L) ||
		!hf_int(tr, hf, "num_attention_heads", NULL, 1, 65536, -1, &H) ||
		!hf_int(tr, hf, "max_position_embeddings", NULL, 1, 1 << 20, -1, &P) ||
		!hf_float(tr, hf, "layer_norm_eps", 1e-12, &eps) ||
		!activation(tr, hf, "hidden_act", "gelu", &aop, &approx))
		return false;
	if (C % H != 0)
		return tr_error(tr, "\"num_attention_heads\" (%" PRId64 ") does not divide \"hidden_size\" (%" PRId64 ").",
						H, C);
	if (pv != NULL)
	{
		if (pv->type != MAAS_JSON_STRING ||
			(strcmp(pv->u.string, "mean") != 0 && strcmp(pv->u.string, "cls") != 0))
			return tr_error(tr, "\"pooling\" must be \"mean\" or \"cls\".");
		pooling = pv->u.string;
	}
	cls = st_find(tr->w, "classifier.weight");
	if (cls != NULL && (cls->ndim != 2 || cls->shape[0] < 2 || cls->shape[0] > 100000))
		return tr_error(tr, "Tensor \"classifier.weight\" must have 2 dimensions and 2 to 100000 rows.");

	maas_buf_printf(tr->out, "{\"architecture\": \"bert\", \"task\": \"%s\", "
					"\"input\": \"tokens\", \"n_positions\": %" PRId64 ", ",
					cls ? "classification" : "embedding", P);
	if (cls && !bert_labels(tr, hf, cls->shape[0]))
		return false;
	maas_buf_printf(tr->out, "\"embedding\": \"embedding\", \"output\": \"%s\", \"layers\": [",
					cls ? "proba" : "embedding");

	begin(tr, "embedding", NULL);
	key_str(tr, "tokens", tname(tr, a, sizeof(a), "embeddings.word_embeddings.weight"));
	key_str(tr, "positions", tname(tr, b, sizeof(b), "embeddings.position_embeddings.weight"));
	tname(tr, a, sizeof(a), "embeddings.token_type_embeddings.weight");
	types = st_find(tr->w, a) != NULL;
	if (types)
		key_str(tr, "token_types", a);
	end(tr);
	bert_layernorm(tr, "r0", "embeddings.LayerNorm", eps);

	for (int i = 0; i < L; i++)
	{
		snprintf(r, sizeof(r), "r%d", i);
		snprintf(ai, sizeof(ai), "a%d", i);
		snprintf(q, sizeof(q), "q%d", i);
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(next, sizeof(next), i + 1 < L ? "r%d" : "hidden", i + 1);
		snprintf(base, sizeof(base), "encoder.layer.%d.", i);

		begin(tr, "dense", q);
		inputs(tr, 1, r);
		key_str(tr, "weight", tname(tr, a, sizeof(a), "%sattention.self.query.weight", base));
		key_str(tr, "bias", tname(tr, b, sizeof(b), "%sattention.self.query.bias", base));
		end(tr);
		begin(tr, "dense", k);
		inputs(tr, 1, r);
		key_str(tr, "weight", tname(tr, a, sizeof(a), "%sattention.self.key.weight", base));
		key_str(tr, "bias", tname(tr, b, sizeof(b), "%sattention.self.key.bias", base));
		end(tr);
		begin(tr, "dense", NULL);
		inputs(tr, 1, r);
		key_str(tr, "weight", tname(tr, a, sizeof(a), "%sattention.self.value.weight", base));
		key_str(tr, "bias", tname(tr, b, sizeof(b), "%sattention.self.value.bias", base));
		end(tr);
		begin(tr, "attention", NULL);
		inputs(tr, 3, q, k, "_prev");
		maas_buf_printf(tr->out, ", \"heads\": %" PRId64 ", \"causal\": false", H);
		end(tr);
		dense(tr, NULL, tname(tr, a, sizeof(a), "%sattention.output.dense.weight", base),
			  tname(tr, b, sizeof(b), "%sattention.output.dense.bias", base), false);
		begin(tr, "add", NULL);
		inputs(tr, 2, "_prev", r);
		end(tr);
		snprintf(a, sizeof(a), "%sattention.output.LayerNorm", base);
		bert_layernorm(tr, ai, a, eps);

		dense(tr, NULL, tname(tr, a, sizeof(a), "%sintermediate.dense.weight", base),
			  tname(tr, b, sizeof(b), "%sintermediate.dense.bias", base), false);
		act(tr, aop, approx);
		dense(tr, NULL, tname(tr, a, sizeof(a), "%soutput.dense.weight", base),
			  tname(tr, b, sizeof(b), "%soutput.dense.bias", base), false);
		begin(tr, "add", NULL);
		inputs(tr, 2, "_prev", ai);
		end(tr);
		snprintf(a, sizeof(a), "%soutput.LayerNorm", base);
		bert_layernorm(tr, next, a, eps);
	}

	begin(tr, "pool", "embedding");
	inputs(tr, 1, "hidden");
	key_str(tr, "mode", strcmp(pooling, "cls") == 0 ? "first" : "mean");
	end(tr);
	if (cls)
	{
		begin(tr, "pool", NULL);
		inputs(tr, 1, "hidden");
		key_str(tr, "mode", "first");
		end(tr);
		dense(tr, NULL, tname(tr, a, sizeof(a), "pooler.dense.weight"),
			  tname(tr, b, sizeof(b), "pooler.dense.bias"), false);
		act(tr, "tanh", NULL);
		dense(tr, NULL, "classifier.weight",
			  st_find(tr->w, "classifier.bias") ? "classifier.bias" : NULL, false);
		begin(tr, "softmax", "proba");
		end(tr);
	}
	maas_buf_puts(tr->out, "]}");
	return true;
}

bool
maas_hf_translate(MaasHfArch arch, const MaasJson *hf, const StFile *weights,
				  MaasBuf *out, MaasError *err)
{
	Tr			tr = {.out = out, .w = weights, .prefix = "", .err = err};
	bool		ok;

	if (hf == NULL || hf->type != MAAS_JSON_OBJECT)
		return tr_error(&tr, "The config must be a JSON object.");
	ok = arch == MAAS_HF_GPT2 ? gpt2(&tr, hf) : bert(&tr, hf);
	if (ok && out->oom)
		return maas_error_nomem(err);
	return ok;
}
