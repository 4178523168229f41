/*
 * generate.c
 *		Text generation (see generate.h).
 *
 * What lives in memory for one call: the KV cache for the prompt and the
 * new tokens (2 x attention layers x positions x width floats), one
 * workspace big enough for the prefill and for a step (a step's attention
 * sees every position so far), the sampler's scratch, and the ids.
 * Nothing is allocated per token.  Stop strings are looked for in the text
 * decoded so far, which is as cheap as the decode itself next to a forward
 * pass.
 */
#include "generate.h"

#include <string.h>

static const char *const finish_names[] = {
	[MAAS_GEN_LENGTH] = "length",
	[MAAS_GEN_EOS] = "eos",
	[MAAS_GEN_STOP] = "stop",
};

const char *
maas_gen_finish_name(MaasGenFinish finish)
{
	return finish_names[finish];
}

/* the offset of the first stop string in text, or -1 */
static ptrdiff_t
find_stop(const MaasGenParams *p, const char *text, size_t len)
{
	ptrdiff_t	best = -1;

	for (int s = 0; s < p->n_stop; s++)
	{
		size_t		n = p->stop_len[s];

		if (n == 0 || n > len)
			continue;
		for (size_t i = 0; i + n <= len; i++)
			if (memcmp(text + i, p->stop[s], n) == 0)
			{
				if (best < 0 || (ptrdiff_t) i < best)
					best = (ptrdiff_t) i;
				break;
			}
	}
	return best;
}

bool
maas_lm_generate(const MaasNet *net, const MaasBlas *blas, const MaasTokenizer *tok,
			  int n_positions, const int32_t *prompt, int n_prompt,
			  const MaasGenParams *p, MaasGenResult *out,
			  const MaasTick *tick, MaasError *err)
{
	int			V = net->n_out;
	int			n_ctx;
	size_t		prefill,
				step,
				nbytes;
	float	   *work;
	void	   *sample_scratch;
	int32_t    *ids;
	MaasKvCache *cache;
	MaasBatch	b;
	uint64_t	rng = p->seed;

	memset(out, 0, sizeof(*out));
	if (net->input != MAAS_NET_TOKENS || net->out_seq)
		return maas_error(err, MAAS_ERR_INVALID, "the model does not predict next tokens");
	if (n_prompt <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "the prompt has no tokens");
	if (p->max_new_tokens <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "max_new_tokens must be at least 1");
	if (n_prompt > n_positions)
		return maas_error(err, MAAS_ERR_LIMIT,
						  "the prompt has %d tokens, more than the model's context of %d",
						  n_prompt, n_positions);
	if (p->max_new_tokens > n_positions - n_prompt)
		return maas_error(err, MAAS_ERR_LIMIT,
						  "the prompt's %d tokens and max_new_tokens %d do not fit the model's context of %d",
						  n_prompt, p->max_new_tokens, n_positions);
	if (!maas_sampling_check(&p->sampling, err))
		return false;
	if (tok != NULL && tok->n_vocab > V)
		return maas_error(err, MAAS_ERR_INVALID,
						  "the tokenizer has %d tokens but the model predicts %d",
						  tok->n_vocab, V);

	/* the last step writes no cache entry: the context holds what is read */
	n_ctx = n_prompt + p->max_new_tokens;
	if (!maas_net_workspace_kv(net, 1, n_prompt, n_prompt, &prefill) ||
		!maas_net_workspace_kv(net, 1, 1, n_ctx, &step) ||
		!maas_sample_scratch(V, &nbytes))
		return maas_error(err, MAAS_ERR_LIMIT, "the generation's workspace is too large");
	work = maas_kalloc_array(prefill > step ? prefill : step, sizeof(float));
	sample_scratch = maas_kalloc(nbytes);
	ids = maas_kalloc_array((size_t) n_ctx, sizeof(int32_t));
	if (work == NULL || sample_scratch == NULL || ids == NULL)
		return maas_error_nomem(err);
	if ((cache = maas_kv_cache_new(net, 1, n_ctx, err)) == NULL)
		return false;
	memcpy(ids, prompt, sizeof(int32_t) * (size_t) n_prompt);

	out->ids = ids + n_prompt;
	out->finish = MAAS_GEN_LENGTH;
	b = (MaasBatch) {.n = 1, .t = n_prompt, .ids = ids, .cache = cache, .past = 0};
	for (int k = 0; k < p->max_new_tokens; k++)
	{
		const float *logits;
		int32_t		next;

		maas_tick(tick);
		logits = maas_net_run(net, blas, &b, 0, work, err);
		if (logits == NULL)
			return false;
		if (!maas_sample(logits, V, &p->sampling, &rng, sample_scratch, &next, err))
			return false;
		if (p->stop_at_eos && tok != NULL && next == tok->eos_id)
		{
			out->finish = MAAS_GEN_EOS;
			break;
		}
		b.past += b.t;
		ids[b.past] = next;
		b.ids = ids + b.past;
		b.t = 1;
		out->n_ids++;

		if (p->n_stop > 0 && tok != NULL)
		{
			size_t		len;
			char	   *text = maas_tokenizer_decode(tok, out->ids, (size_t) out->n_ids,
													 true, &len, tick, err);
			ptrdiff_t	at;

			if (text == NULL)
				return false;
			if ((at = find_stop(p, text, len)) >= 0)
			{
				text[at] = '\0';
				out->text = text;
				out->len = (size_t) at;
				out->finish = MAAS_GEN_STOP;
				return true;
			}
		}
	}
	if (tok != NULL)
	{
		out->text = maas_tokenizer_decode(tok, out->ids, (size_t) out->n_ids, true,
										  &out->len, tick, err);
		if (out->text == NULL)
			return false;
	}
	return true;
}
