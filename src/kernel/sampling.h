/*
 * sampling.h
 *		Choosing the next token from a row of logits: greedy, temperature,
 *		top-k and top-p (nucleus), with a seeded generator.
 *
 * The filters apply in Hugging Face's order: temperature, then top-k, then
 * top-p on the probabilities renormalised over what top-k kept.  Ranking
 * is by logit, ties broken by the lower token id, so every choice is
 * deterministic: the same logits, settings and generator state give the
 * same token on every run.  The generator is maas_rng_next (splitmix64,
 * train.h); a sampled token consumes exactly one draw, a greedy one none,
 * so a seed fixes a whole generation.
 *
 * top-k selects with a k-entry heap (O(V log k)), never a sort of the
 * vocabulary.  top-p alone first drops every token but the most likely
 * whose probability is below (1 - p) / (V - 1) -- such a token is never
 * inside the nucleus, since it and the tokens after it in rank together
 * weigh less than 1 - p -- then finds the nucleus among the rest by a
 * quickselect on probability that carries the mass above it (O(V)
 * expected, no sort).  A draw walks the kept tokens in rank order (top-k)
 * or in id order (top-p alone, temperature alone).
 */
#ifndef MAAS_SAMPLING_H
#define MAAS_SAMPLING_H

#include "kernel.h"

typedef struct MaasSampling
{
	float		temperature;	/* 0: greedy (argmax); else > 0 */
	int			top_k;			/* keep the k most likely; 0: all */
	float		top_p;			/* keep the smallest prefix of mass >= p, in
								 * (0, 1]; 1: all */
} MaasSampling;

/*
 * Checks the settings: temperature finite and >= 0, top_k >= 0, top_p in
 * (0, 1].  MAAS_ERR_INVALID with a message naming the setting otherwise.
 */
extern bool maas_sampling_check(const MaasSampling *s, MaasError *err);

/* bytes of scratch maas_sample needs for a vocabulary of V */
extern bool maas_sample_scratch(int V, size_t *nbytes);

/*
 * Picks a token from logits (V).  Logits may be -inf (never chosen) but
 * not NaN or +inf, and at least one must be finite: MAAS_ERR_INVALID
 * otherwise.  rng is advanced by one draw unless the choice is greedy
 * (temperature 0 or top_k 1).  scratch holds maas_sample_scratch(V) bytes,
 * aligned for float.
 */
extern bool maas_sample(const float *logits, int V, const MaasSampling *s,
						uint64_t *rng, void *scratch, int32_t *token,
						MaasError *err);

/* the index of the largest logit, the lowest one among equals; -1 if none
 * is above -inf or any is NaN */
extern int32_t maas_logits_argmax(const float *logits, int V);

#endif							/* MAAS_SAMPLING_H */
