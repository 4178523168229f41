/*
 * transformer.h
 *		The compute kernels of GPT-2 and BERT: embeddings, LayerNorm, GELU,
 *		multi-head attention with causal or padding masks and a KV cache,
 *		residual adds, linear layers in Hugging Face's two weight layouts,
 *		and pooling.
 *
 * In llm.c's style: each kernel is a *_forward over plain float32
 * row-major arrays, shapes given in the comment above it ((B,T,C) is B
 * sequences of T positions of C channels).  Kernels allocate nothing: the
 * one that needs scratch says how much through a *_scratch function.  GEMMs
 * go through the BLAS shim (blas.h).  Kernels make no interrupt ticks:
 * each call is bounded by its B*T*C work, and the runtime ticks between
 * ops.  out may equal inp for the elementwise kernels (layernorm, gelu,
 * residual); nowhere else may outputs overlap inputs.
 *
 * Layout facts for the runtime (Hugging Face checkpoints as stored):
 *
 *	- GPT-2's Conv1D weights (attn.c_attn, attn.c_proj, mlp.c_fc,
 *	  mlp.c_proj) are [in, out]: MAAS_W_IN_OUT, no transposition needed.
 *	  c_attn's output is one (B,T,3C) buffer: q at +0, k at +C, v at +2C,
 *	  each with row stride 3C -- pass it to maas_attention_forward as is.
 *	- BERT's nn.Linear weights (query/key/value, attention.output.dense,
 *	  intermediate.dense, output.dense, pooler.dense, classifier) are
 *	  [out, in]: MAAS_W_OUT_IN (sgemm with transB).
 *	- The tied LM head is logits (N,V) = h (N,C) . wte^T, with wte (V,C)
 *	  as stored: maas_linear_forward(logits, h, wte, MAAS_W_OUT_IN, NULL,
 *	  N, C, V, blas), that is sgemm(RowMajor, NoTrans, Trans, N, V, C,
 *	  1, h, C, wte, C, 0, logits, V).  In generation only the rows asked
 *	  for need it: maas_select_last_forward first, then the head on B rows.
 *	- GPT-2 is pre-LN: x += attn(ln_1(x)); x += mlp(ln_2(x)); ln_f at the
 *	  end; gelu_tanh ("gelu_new"); eps 1e-5.  BERT is post-LN: x =
 *	  LN(x + attn(x)); x = LN(x + mlp(x)); gelu_erf ("gelu"); eps 1e-12;
 *	  embeddings are LN(word + token_type + position); pooler =
 *	  tanh(dense(h[:, 0])); classifier on the pooler output.
 */
#ifndef MAAS_TRANSFORMER_H
#define MAAS_TRANSFORMER_H

#include "blas.h"
#include "kernel.h"

/*
 * Token + position (+ token type) embeddings.
 * out is (B,T,C); ids and types are (B,T); wte is (V,C), wpe is (n_pos,C),
 * wtt is (n_types,C).  Position of (b,t) is past + t.  types and wtt are
 * NULL for GPT-2 (no token types); with wtt and no types, every token is
 * type 0.  Sums in Hugging Face's order, (word + type) + position.  Every
 * id, type and position is checked before anything is written: out of
 * range gives false with MAAS_ERR_INVALID (ids, types) or MAAS_ERR_LIMIT
 * (positions beyond n_pos).
 */
extern bool maas_embedding_forward(float *out, const int32_t *ids,
								   const int32_t *types, int B, int T, int past,
								   const float *wte, int V,
								   const float *wpe, int n_pos,
								   const float *wtt, int n_types, int C,
								   MaasError *err);

/*
 * LayerNorm over the last dimension, with a two-pass mean and variance
 * accumulated in double.
 * out and inp are (N,C); weight and bias are (C).  out may equal inp.
 */
extern void maas_layernorm_forward(float *out, const float *inp,
								   const float *weight, const float *bias,
								   size_t N, int C, float eps);

/*
 * GELU, both forms Hugging Face uses; inp and out are (N), out may equal
 * inp.  gelu_tanh is GPT-2's "gelu_new", 0.5 x (1 + tanh(sqrt(2/pi) (x +
 * 0.044715 x^3))); gelu_erf is BERT's exact "gelu", x Phi(x).  Both are
 * computed through vectorised exp (and erfc) approximations,
 * within 1e-6 relative of the exact function wherever the result is a
 * normal float (test_transformer.c checks it).  gelu_erf runs in float
 * (twice the lanes) where the CPU has FMA, in double elsewhere.
 */
extern void maas_gelu_tanh_forward(float *out, const float *inp, size_t N);
extern void maas_gelu_erf_forward(float *out, const float *inp, size_t N);

/* out = a + b; all (N); out may equal a or b */
extern void maas_residual_forward(float *out, const float *a, const float *b,
								  size_t N);

/* elementwise tanh, in place (BERT's pooler); v is (N) */
extern void maas_tanh_forward(float *v, size_t N);

/*
 * A linear layer, out = inp . W (+ bias), one sgemm (one sgemv when N is
 * 1).  inp is (N,C_in), out is (N,C_out), bias (C_out) or NULL.  W is
 * [C_in, C_out] for MAAS_W_IN_OUT (GPT-2's Conv1D) and [C_out, C_in] for
 * MAAS_W_OUT_IN (nn.Linear, and the tied LM head's wte).  Returns false
 * (MAAS_ERR_LIMIT) when a size does not fit the BLAS int arguments.
 */
typedef enum MaasWeightLayout
{
	MAAS_W_IN_OUT,
	MAAS_W_OUT_IN
} MaasWeightLayout;

extern bool maas_linear_forward(float *out, const float *inp, const float *w,
								MaasWeightLayout layout, const float *bias,
								size_t N, int C_in, int C_out,
								const MaasBlas *blas, MaasError *err);

/*
 * Multi-head scaled dot-product self-attention.
 *
 * out is (B,T,C).  q is (B,T,*) with row stride ldq floats; k and v are
 * (B,T,*) with row stride ldkv: for GPT-2's fused c_attn output, q = qkv,
 * k = qkv + C, v = qkv + 2C, ldq = ldkv = 3C; for BERT's three denses,
 * ldq = ldkv = C.  H heads of hs = C/H channels (H must divide C), scores
 * scaled by 1/sqrt(hs).
 *
 * KV cache: kcache and vcache are (B,n_ctx,C) with positions [0, past)
 * already filled.  The kernel writes the T new keys and values at [past,
 * past+T) and attends over [0, past+T).  Without a cache (kcache and
 * vcache NULL) past must be 0 and keys and values are read from k and v.
 * The caches for one layer are its own; past is the same for every layer
 * of a step, and the runtime advances it after the step.
 *
 * Masks: causal (GPT-2): query t sees keys j <= past + t.  lengths (BERT,
 * or NULL): key positions j >= lengths[b] are masked, per sequence; query
 * rows of padding still attend to the valid keys, so they stay finite.  A
 * query that sees no key at all (lengths[b] = 0) gets zeros.  Both masks
 * may be given.
 *
 * Score blocks are computed with sgemm per (b, head) when T > 1 and with
 * plain loops for the one-token generation step.  scratch holds
 * maas_attention_scratch(T, past + T) floats.
 */
extern bool maas_attention_scratch(int T, int n_keys, size_t *nfloats);

extern bool maas_attention_forward(float *out, float *scratch,
								   const float *q, int ldq,
								   const float *k, const float *v, int ldkv,
								   float *kcache, float *vcache,
								   int n_ctx, int past,
								   const int32_t *lengths, bool causal,
								   int B, int T, int C, int H,
								   const MaasBlas *blas, MaasError *err);

/*
 * Pooling of the last hidden states; inp is (B,T,C), out is (B,C).
 *
 * mean: the mean over positions t < lengths[b] ([CLS] and [SEP] included,
 * sentence-transformers' convention); lengths NULL means every position; a
 * length of 0 gives zeros.  cls: position 0 of each sequence.  last: the
 * last valid position (lengths[b] - 1, or T - 1 when lengths is NULL), the
 * row the LM head needs in generation.  A length outside [0, T] (or [1, T]
 * for last) is MAAS_ERR_INVALID.
 */
extern bool maas_pool_mean_forward(float *out, const float *inp,
								   const int32_t *lengths, int B, int T, int C,
								   MaasError *err);
extern void maas_pool_cls_forward(float *out, const float *inp,
								  int B, int T, int C);
extern bool maas_select_last_forward(float *out, const float *inp,
									 const int32_t *lengths, int B, int T,
									 int C, MaasError *err);

/*
 * The vectorised float exp the kernels use (softmax, sampling), exported
 * for the sampler and the tests: v[i] = exp(v[i]) within 2 ulp for v[i] in
 * [-87.3, 88.3]; below, 0 (-inf gives 0); above, clamped.
 */
extern void maas_exp_inplace(float *v, size_t n);

/*
 * Which variant of the vectorised loops runs ("avx512", "avx2", or
 * "generic"), picked once from the CPU's feature bits; the tests may force
 * "generic" to check that all variants agree.
 */
extern const char *maas_transformer_isa(void);
extern void maas_transformer_force_generic(bool generic);

#endif							/* MAAS_TRANSFORMER_H */
