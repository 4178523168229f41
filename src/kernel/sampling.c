/*
 * sampling.c
 *		Next-token choice: greedy, temperature, top-k, top-p (see
 *		sampling.h).
 *
 * Scratch is V floats (the candidates' weights), V int32 (their ids) and
 * V (weight, id) pairs for ranking the top-p candidates.
 * Weights are exp((logit - max) / temperature) in float, through the
 * kernels' vectorised exp; masses are summed in double.
 */
#include "sampling.h"

#include <math.h>
#include <stdlib.h>

#include "train.h"
#include "transformer.h"

bool
maas_sampling_check(const MaasSampling *s, MaasError *err)
{
	if (!isfinite(s->temperature) || s->temperature < 0.0f)
		return maas_error(err, MAAS_ERR_INVALID,
						  "temperature must be a finite number >= 0, not %g",
						  (double) s->temperature);
	if (s->top_k < 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "top_k must be >= 0, not %d", s->top_k);
	if (!(s->top_p > 0.0f && s->top_p <= 1.0f))
		return maas_error(err, MAAS_ERR_INVALID,
						  "top_p must be in (0, 1], not %g", (double) s->top_p);
	return true;
}

bool
maas_sample_scratch(int V, size_t *nbytes)
{
	if (V <= 0)
		return false;
	return maas_mul_size((size_t) V, 2 * sizeof(float) + 2 * sizeof(int32_t), nbytes);
}

int32_t
maas_argmax(const float *logits, int V)
{
	int32_t		best = -1;
	float		max = -INFINITY;

	for (int i = 0; i < V; i++)
	{
		if (isnan(logits[i]))
			return -1;
		if (logits[i] > max)
		{
			max = logits[i];
			best = i;
		}
	}
	return best;
}

/* a ranks before b: higher logit, or the same and a lower id */
static inline bool
ranks_before(const float *logits, int32_t a, int32_t b)
{
	return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
}

/*
 * The k best ids of logits into ids[0..k), best first.  A min-heap (by
 * rank) of the k best so far: its root is the worst of them, replaced when
 * a better id comes.
 */
static void
select_top_k(const float *logits, int V, int k, int32_t *ids)
{
	int			n = 0;

	for (int32_t i = 0; i < V; i++)
	{
		int			pos;

		if (n < k)
		{
			/* sift up */
			pos = n++;
			while (pos > 0)
			{
				int			parent = (pos - 1) / 2;

				if (!ranks_before(logits, ids[parent], i))
					break;
				ids[pos] = ids[parent];
				pos = parent;
			}
			ids[pos] = i;
			continue;
		}
		if (!ranks_before(logits, i, ids[0]))
			continue;
		/* sift down from the root */
		pos = 0;
		for (;;)
		{
			int			c = 2 * pos + 1;

			if (c >= k)
				break;
			if (c + 1 < k && ranks_before(logits, ids[c], ids[c + 1]))
				c++;			/* the worse child */
			if (!ranks_before(logits, i, ids[c]))
				break;
			ids[pos] = ids[c];
			pos = c;
		}
		ids[pos] = i;
	}

	/* heap sort: move the worst to the end, k times */
	for (int end = k - 1; end > 0; end--)
	{
		int32_t		last = ids[end];
		int			pos = 0;

		ids[end] = ids[0];
		for (;;)
		{
			int			c = 2 * pos + 1;

			if (c >= end)
				break;
			if (c + 1 < end && ranks_before(logits, ids[c], ids[c + 1]))
				c++;
			if (!ranks_before(logits, last, ids[c]))
				break;
			ids[pos] = ids[c];
			pos = c;
		}
		ids[pos] = last;
	}
}

/* a candidate being sorted for top-p: by weight, then by id */
typedef struct Cand
{
	float		w;
	int32_t		id;
} Cand;

static int
cand_cmp(const void *pa, const void *pb)
{
	const Cand *a = pa;
	const Cand *b = pb;

	if (a->w != b->w)
		return a->w > b->w ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

bool
maas_sample(const float *logits, int V, const MaasSampling *s,
			uint64_t *rng, void *scratch, int32_t *token, MaasError *err)
{
	float	   *w = scratch;
	int32_t    *ids = (int32_t *) (w + V);
	Cand	   *cand = (Cand *) (ids + V);
	int32_t		best;
	float		max;
	float		inv_temp;
	int			n;				/* candidates, in w[] and ids[] */
	bool		ranked;			/* best first */
	double		mass;
	double		cum;
	double		u;

	if (V <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "the vocabulary is empty");
	if (!maas_sampling_check(s, err))
		return false;
	for (int i = 0; i < V; i++)
		if (isnan(logits[i]) || logits[i] == INFINITY)
			return maas_error(err, MAAS_ERR_INVALID,
							  "logit of token %d is not finite", i);
	best = maas_argmax(logits, V);
	if (best < 0)
		return maas_error(err, MAAS_ERR_INVALID, "every logit is -infinity");
	if (s->temperature == 0.0f || s->top_k == 1)
	{
		*token = best;
		return true;
	}
	max = logits[best];
	inv_temp = 1.0f / s->temperature;

	/* the candidates: the top k, ranked, or every token in id order */
	if (s->top_k > 0 && s->top_k < V)
	{
		n = s->top_k;
		select_top_k(logits, V, n, ids);
		ranked = true;
	}
	else
	{
		n = V;
		for (int j = 0; j < V; j++)
			ids[j] = j;
		ranked = false;
	}
	for (int j = 0; j < n; j++)
		w[j] = (logits[ids[j]] - max) * inv_temp;
	maas_exp_inplace(w, n);
	mass = 0.0;
	for (int j = 0; j < n; j++)
		mass += w[j];

	if (s->top_p < 1.0f)
	{
		double		target = mass * s->top_p;
		int			keep;

		if (!ranked)
		{
			/*
			 * Drop what cannot be in the nucleus (any token but the first
			 * in rank with a weight under the cutoff), rank the rest.
			 */
			double		cutoff = V > 1 ? mass * (1.0 - s->top_p) / (V - 1) : 0.0;
			int			m = 0;

			for (int j = 0; j < n; j++)
				if (w[j] >= cutoff || ids[j] == best)
				{
					cand[m].w = w[j];
					cand[m].id = ids[j];
					m++;
				}
			qsort(cand, m, sizeof(Cand), cand_cmp);
			for (int j = 0; j < m; j++)
			{
				w[j] = cand[j].w;
				ids[j] = cand[j].id;
			}
			n = m;
		}
		keep = n;
		cum = 0.0;
		for (int j = 0; j < n; j++)
		{
			cum += w[j];
			if (cum >= target)
			{
				keep = j + 1;
				break;
			}
		}
		n = keep;
		mass = 0.0;
		for (int j = 0; j < n; j++)
			mass += w[j];
	}

	/* one draw: the first candidate whose cumulative weight passes it */
	u = maas_rng_uniform(rng) * mass;
	cum = 0.0;
	for (int j = 0; j < n; j++)
	{
		cum += w[j];
		if (u < cum)
		{
			*token = ids[j];
			return true;
		}
	}
	/* u within rounding of the total: the last candidate with weight */
	for (int j = n - 1; j >= 0; j--)
		if (w[j] > 0.0f)
		{
			*token = ids[j];
			return true;
		}
	*token = best;
	return true;
}
