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
maas_logits_argmax(const float *logits, int V)
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

/* sum of v[0..n) in double, eight independent lanes */
static double
mass_of(const float *v, int n)
{
	double		acc[8] = {0};
	double		sum = 0.0;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		for (int l = 0; l < 8; l++)
			acc[l] += v[i + l];
	for (; i < n; i++)
		sum += v[i];
	for (int l = 0; l < 8; l++)
		sum += acc[l];
	return sum;
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

/*
 * The nucleus of the candidates c[0..m) without sorting them: a
 * quickselect on weight (three-way partitions around pivots from a fixed
 * sequence, so the same input takes the same steps) that carries the mass
 * of everything above the range it looks at, until the pivot's group of
 * equal weights is where the mass reaches target.  Within that group the
 * lower ids come first.  Sets the weight of the nucleus's last member and
 * the largest id kept at that weight; false when rounding left the whole
 * mass of c under target (then every candidate is in).  O(m) expected.
 */
static bool
nucleus_threshold(Cand *c, int m, double target, float *w_star, int32_t *last_tie)
{
	int			lo = 0,
				hi = m;
	double		acc = 0.0;
	uint64_t	pick = 0x5DEECE66DULL;

	while (lo < hi)
	{
		float		pivot = c[lo + (int) (maas_rng_next(&pick) % (uint64_t) (hi - lo))].w;
		int			gt = lo,
					i = lo,
					lt = hi;
		double		m_gt = 0.0,
					m_eq = 0.0;

		/* [lo, gt) above the pivot, [gt, lt) equal, [lt, hi) below */
		while (i < lt)
		{
			Cand		x = c[i];

			if (x.w > pivot)
			{
				c[i] = c[gt];
				c[gt++] = x;
				m_gt += x.w;
				i++;
			}
			else if (x.w < pivot)
			{
				c[i] = c[--lt];
				c[lt] = x;
			}
			else
			{
				m_eq += x.w;
				i++;
			}
		}
		if (acc + m_gt >= target)
		{
			hi = gt;			/* not empty: acc < target */
			continue;
		}
		if (acc + m_gt + m_eq >= target)
		{
			double		cum = acc + m_gt;
			int			j = gt;

			qsort(c + gt, lt - gt, sizeof(Cand), cand_cmp);	/* by id */
			for (; j < lt - 1; j++)
			{
				cum += c[j].w;
				if (cum >= target)
					break;
			}
			*w_star = pivot;
			*last_tie = c[j].id;
			return true;
		}
		acc += m_gt + m_eq;
		lo = lt;
	}
	return false;
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
	/* one branch-free pass for the maximum and any NaN or +inf, then its id */
	{
		bool		bad = false;

		max = -INFINITY;
		for (int i = 0; i < V; i++)
		{
			float		l = logits[i];

			bad |= !(l < INFINITY);	/* NaN or +inf */
			max = l > max ? l : max;
		}
		if (bad)
			for (int i = 0; i < V; i++)
				if (!(logits[i] < INFINITY))
					return maas_error(err, MAAS_ERR_INVALID,
									  "logit of token %d is not finite", i);
		best = -1;
		if (max > -INFINITY)
			for (int i = 0; i < V; i++)
				if (logits[i] == max)
				{
					best = i;
					break;
				}
	}
	if (best < 0)
		return maas_error(err, MAAS_ERR_INVALID, "every logit is -infinity");
	if (s->temperature == 0.0f || s->top_k == 1)
	{
		*token = best;
		return true;
	}
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
	mass = mass_of(w, n);

	if (s->top_p < 1.0f)
	{
		double		target = mass * s->top_p;

		if (!ranked)
		{
			/*
			 * Drop what cannot be in the nucleus (any token but the first
			 * in rank with a weight under the cutoff), find the nucleus
			 * among the rest, and keep it in id order.
			 */
			double		cutoff = V > 1 ? mass * (1.0 - s->top_p) / (V - 1) : 0.0;
			int			m = 0;
			float		w_star;
			int32_t		last_tie;

			for (int j = 0; j < n; j++)
				if (w[j] >= cutoff || ids[j] == best)
				{
					cand[m].w = w[j];
					cand[m].id = ids[j];
					m++;
				}
			if (!nucleus_threshold(cand, m, target, &w_star, &last_tie))
			{
				w_star = -1.0f;	/* rounding: keep every token */
				last_tie = V;
			}
			m = 0;
			for (int j = 0; j < n; j++)
				if (w[j] > w_star || (w[j] == w_star && ids[j] <= last_tie) ||
					ids[j] == best)
				{
					w[m] = w[j];
					ids[m] = ids[j];
					m++;
				}
			n = m;
		}
		else
		{
			/* ranked: the smallest prefix that reaches the mass */
			cum = 0.0;
			for (int j = 0; j < n; j++)
			{
				cum += w[j];
				if (cum >= target)
				{
					n = j + 1;
					break;
				}
			}
		}
		mass = mass_of(w, n);
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
