/*
 * generate.h
 *		Text generation with a language model's layer program: the prompt
 *		once (prefill), then one position a token with the KV cache, each
 *		token chosen by the sampler (sampling.h) and decoded by the
 *		tokenizer (tokenizer.h).
 */
#ifndef MAAS_GENERATE_H
#define MAAS_GENERATE_H

#include "net.h"
#include "sampling.h"
#include "tokenizer.h"

typedef struct MaasGenParams
{
	int			max_new_tokens; /* at least 1 */
	MaasSampling sampling;		/* temperature 0: greedy */
	uint64_t	seed;			/* the generator's start */
	bool		stop_at_eos;	/* the end-of-text token ends the text */
	int			n_stop;			/* stop strings: the text ends before the */
	const char *const *stop;	/* first of them it contains */
	const size_t *stop_len;
} MaasGenParams;

typedef enum MaasGenFinish
{
	MAAS_GEN_LENGTH,			/* max_new_tokens reached */
	MAAS_GEN_EOS,				/* the end-of-text token */
	MAAS_GEN_STOP				/* a stop string */
} MaasGenFinish;

typedef struct MaasGenResult
{
	int32_t    *ids;			/* the tokens generated (not the prompt) */
	int			n_ids;
	char	   *text;			/* their text, valid UTF-8, without the stop
								 * string or the end-of-text token */
	size_t		len;
	MaasGenFinish finish;
} MaasGenResult;

/*
 * Generate after prompt[0 .. n_prompt) (at least one id) with a net whose
 * input is tokens and whose output is the next-token logits of the last
 * position.  n_positions is the model's context: the prompt and the new
 * tokens must fit in it (MAAS_ERR_LIMIT otherwise, before any work).
 * tick is called once a token.
 */
extern bool maas_lm_generate(const MaasNet *net, const MaasBlas *blas,
						  const MaasTokenizer *tok, int n_positions,
						  const int32_t *prompt, int n_prompt,
						  const MaasGenParams *params, MaasGenResult *out,
						  const MaasTick *tick, MaasError *err);

/* "length", "eos", "stop" */
extern const char *maas_gen_finish_name(MaasGenFinish finish);

#endif							/* MAAS_GENERATE_H */
