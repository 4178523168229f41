/*
 * gbdt_hist.c
 *		The boosted-trees trainer's gradients and losses of a round, and the
 *		histograms of (gradient, hessian) sums of the nodes being split, with
 *		their slots (train_gbdt.c has the overview).
 */
#include "train_gbdt_int.h"

/* ---- gradients and losses ---- */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	!defined(__SANITIZE_ADDRESS__)
#define MAAS_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MAAS_SIMD
#endif

/*
 * Binary logistic gradients of n rows, and each row's loss into loss[]:
 * p = sigmoid(m), g = (p - y) w, h = max(p (1 - p), 1e-16) w.
 */
static inline void
binary_grad_row(int r, const float *restrict margin, const int32_t *restrict cls,
				float w, float *restrict gh, float *restrict loss)
{
	/* every select picks between values already computed: no branches */
	float		m = margin[r];
	float		a = fabsf(m);
	float		e = fast_expf(-a);
	float		inv = 1.0f / (1.0f + e);
	float		einv = e * inv;
	float		p = m >= 0.0f ? inv : einv;
	float		y = cls[r] != 0 ? 1.0f : 0.0f;
	float		h = p * (1.0f - p);
	float		l1 = log1p_unit(e);
	float		la = l1 + a;

	h = h > 1e-16f ? h : 1e-16f;
	gh[2 * r] = (p - y) * w;
	gh[2 * r + 1] = h * w;
	loss[r] = ((m >= 0.0f) != (y != 0.0f) ? la : l1) * w;
}

MAAS_SIMD static void
binary_grad(int n, const float *restrict margin, const int32_t *restrict cls,
			const float *restrict weight, float *restrict gh, float *restrict loss)
{
	if (weight)
		for (int r = 0; r < n; r++)
			binary_grad_row(r, margin, cls, weight[r], gh, loss);
	else
		for (int r = 0; r < n; r++)
			binary_grad_row(r, margin, cls, 1.0f, gh, loss);
}

typedef struct GradJob
{
	Gbdt	   *s;
	bool		with_loss;
} GradJob;

/* gradients of chunk c of the training rows, and their loss sum */
static void
grad_chunk(Gbdt *s, int t, int64_t c, bool with_loss)
{
	int64_t		r0 = c * CHUNK;
	int64_t		r1 = r0 + CHUNK < s->n ? r0 + CHUNK : s->n;
	const int	K = s->K;
	double		loss = 0.0;
	double		wsum = 0.0;

	if (s->cfg->objective == MAAS_GBDT_BINARY)
	{
		float	   *lbuf = s->lossbuf + (size_t) t * CHUNK;

		binary_grad((int) (r1 - r0), s->margin + r0, s->data->cls + r0,
					s->weight ? s->weight + r0 : NULL, (float *) (s->gh + r0), lbuf);
		if (with_loss)
			for (int64_t r = r0; r < r1; r++)
			{
				loss += lbuf[r - r0];
				wsum += s->weight ? s->weight[r] : 1.0f;
			}
	}
	else if (s->cfg->objective == MAAS_GBDT_MULTI)
	{
		float		p[64];
		float	   *pp = K <= 64 ? p : NULL;

		for (int64_t r = r0; r < r1; r++)
		{
			const float *m = s->margin + (size_t) r * K;
			float		w = s->weight ? s->weight[r] : 1.0f;
			int			y = s->data->cls[r];
			float		mx = m[0];
			float		sum = 0.0f;

			for (int k = 1; k < K; k++)
				if (m[k] > mx)
					mx = m[k];
			for (int k = 0; k < K; k++)
			{
				float		e = fast_expf(m[k] - mx);

				if (pp)
					pp[k] = e;
				sum += e;
			}
			for (int k = 0; k < K; k++)
			{
				float		pk = (pp ? pp[k] : fast_expf(m[k] - mx)) / sum;
				float		h = 2.0f * pk * (1.0f - pk);
				GradPair   *gp = &s->gh[(size_t) k * s->n + r];

				gp->g = (pk - (k == y ? 1.0f : 0.0f)) * w;
				gp->h = (h > 1e-16f ? h : 1e-16f) * w;
				if (with_loss && k == y)
				{
					/* -log p_y = log(sum) - (m_y - mx) */
					loss += w * (logf(sum) - (m[k] - mx));
					wsum += w;
				}
			}
		}
	}
	else
	{
		for (int64_t r = r0; r < r1; r++)
		{
			float		w = s->weight ? s->weight[r] : 1.0f;
			float		e = s->margin[r] - s->data->y[r];

			s->gh[r].g = e * w;
			s->gh[r].h = w;
			if (with_loss)
			{
				loss += (double) w * e * e;
				wsum += w;
			}
		}
	}
	s->chunk_sum[c] = loss;
	s->chunk_sum2[c] = wsum;
}

static void
grad_part(void *arg, int t, int m)
{
	GradJob    *job = arg;
	int64_t		chunks = (job->s->n + CHUNK - 1) / CHUNK;
	int64_t		c0,
				c1;

	maas_split_range(chunks, t, m, &c0, &c1);
	for (int64_t c = c0; c < c1; c++)
		grad_chunk(job->s, t, c, job->with_loss);
}

/* gradients for the round; returns the mean loss at the current margins */
double
gbdt_gradients(Gbdt *s, bool with_loss)
{
	GradJob		job = {s, with_loss};
	int64_t		chunks = (s->n + CHUNK - 1) / CHUNK;
	double		loss = 0.0,
				wsum = 0.0;

	maas_parallel(s->threads, grad_part, &job);
	for (int64_t c = 0; c < chunks; c++)
	{
		loss += s->chunk_sum[c];
		wsum += s->chunk_sum2[c];
	}
	return wsum > 0.0 ? loss / wsum : 0.0;
}

/* ---- histograms ---- */

typedef struct HistJob
{
	Gbdt	   *s;
	const GradPair *gh;
	HistTask   *tasks;
	int			n_tasks;
} HistJob;

/*
 * The histogram kernel.  A slot's double sums of a few features do not fit
 * in the L1 cache (256 bins of 16 bytes each), so a thread first sums
 * FLUSH_ROWS rows at a time into float pairs of its own (at most
 * SCRATCH_BINS of them, 32 kB) and then adds those into the slot in
 * double.  Where the blocks start depends only on row positions, so the
 * sums are the same for any thread count.
 */
typedef struct FloatPair
{
	float		g;
	float		h;
} FloatPair;

static void
hist_group(FloatPair *restrict sc, const Gbdt *s, const GradPair *restrict gh,
		   const int *gf, const int *lo, int nf, int64_t begin, int64_t end)
{
	const int	bs = s->bstride;
	const uint8_t *restrict bins = s->bins;
	const int32_t *restrict rows = s->rows;

	for (int64_t i = begin; i < end; i++)
	{
		int32_t		r = rows[i];
		const uint8_t *b = bins + (size_t) r * bs;

#if defined(__x86_64__)
		__m128		v = _mm_castpd_ps(_mm_load_sd((const double *) &gh[r]));

		if (i + PREFETCH < end)
		{
			_mm_prefetch((const char *) (bins + (size_t) rows[i + PREFETCH] * bs), _MM_HINT_T0);
			_mm_prefetch((const char *) &gh[rows[i + PREFETCH]], _MM_HINT_T0);
		}
		for (int k = 0; k < nf; k++)
		{
			double	   *e = (double *) &sc[lo[k] + b[gf[k]]];

			_mm_store_sd(e, _mm_castps_pd(_mm_add_ps(_mm_castpd_ps(_mm_load_sd(e)), v)));
		}
#else
		float		g = gh[r].g,
					h = gh[r].h;

		for (int k = 0; k < nf; k++)
		{
			FloatPair  *e = &sc[lo[k] + b[gf[k]]];

			e->g += g;
			e->h += h;
		}
#endif
	}
}

/*
 * The same for nf consecutive features from f0, each given L scratch
 * pairs (the common case: every feature of the tree), with no per-feature
 * lookups in the inner loop.
 */
static void
hist_group_seq(FloatPair *restrict sc, const Gbdt *s, const GradPair *restrict gh,
			   int f0, int nf, int L, int64_t begin, int64_t end)
{
	const int	bs = s->bstride;
	const uint8_t *restrict bins = s->bins + f0;
	const int32_t *restrict rows = s->rows;

	for (int64_t i = begin; i < end; i++)
	{
		int32_t		r = rows[i];
		const uint8_t *b = bins + (size_t) r * bs;
		FloatPair  *e = sc;

#if defined(__x86_64__)
		__m128		v = _mm_castpd_ps(_mm_load_sd((const double *) &gh[r]));

		if (i + PREFETCH < end)
		{
			_mm_prefetch((const char *) (bins + (size_t) rows[i + PREFETCH] * bs), _MM_HINT_T0);
			_mm_prefetch((const char *) &gh[rows[i + PREFETCH]], _MM_HINT_T0);
		}
#pragma GCC unroll 4
		for (int k = 0; k < nf; k++)
		{
			double	   *p = (double *) (e + b[k]);

			_mm_store_sd(p, _mm_castps_pd(_mm_add_ps(_mm_castpd_ps(_mm_load_sd(p)), v)));
			e += L;
		}
#else
		float		g = gh[r].g,
					h = gh[r].h;

		for (int k = 0; k < nf; k++)
		{
			e[b[k]].g += g;
			e[b[k]].h += h;
			e += L;
		}
#endif
	}
}

static void
hist_part(void *arg, int t, int m)
{
	HistJob    *job = arg;
	Gbdt	   *s = job->s;
	FloatPair  *sc = (FloatPair *) s->scratch + (size_t) t * SCRATCH_BINS;
	int64_t		k0,
				k1;

	maas_split_range(s->n_feats, t, m, &k0, &k1);
	if (k0 == k1)
		return;
	for (int i = 0; i < job->n_tasks; i++)
	{
		HistTask   *task = &job->tasks[i];

		for (int64_t ga = k0; ga < k1;)
		{
			int			gf[SCRATCH_BINS / 2];
			int			lo[SCRATCH_BINS / 2];
			int			nf = 0;
			int			used = 0;
			int64_t		gb = ga;

			int			maxlen = 0;
			bool		seq = true;

			/* a group of features whose bins fit the scratch */
			while (gb < k1)
			{
				int			f = s->feats[gb];
				int			len = s->nbins[f] + (s->miss_code[f] != MISSING_NONE);

				if (nf > 0 && used + len > SCRATCH_BINS)
					break;
				gf[nf] = f;
				lo[nf] = used;
				used += len;
				seq &= nf == 0 || f == gf[nf - 1] + 1;
				maxlen = len > maxlen ? len : maxlen;
				nf++;
				gb++;
				if (task->zero)
					memset(task->hist + s->hoff[f], 0, sizeof(HistBin) * len);
			}
			/* consecutive features: lay them out maxlen apart if that fits */
			if (seq && nf * maxlen <= SCRATCH_BINS)
			{
				for (int k = 0; k < nf; k++)
					lo[k] = k * maxlen;
				used = nf * maxlen;
			}
			else
				seq = false;
			memset(sc, 0, sizeof(FloatPair) * used);
			for (int64_t b0 = task->begin; b0 < task->end; b0 += FLUSH_ROWS)
			{
				int64_t		b1 = b0 + FLUSH_ROWS < task->end ? b0 + FLUSH_ROWS : task->end;

				if (seq)
					hist_group_seq(sc, s, job->gh, gf[0], nf, maxlen, b0, b1);
				else
					hist_group(sc, s, job->gh, gf, lo, nf, b0, b1);
				for (int k = 0; k < nf; k++)
				{
					int			len = s->nbins[gf[k]] + (s->miss_code[gf[k]] != MISSING_NONE);
					HistBin    *h = task->hist + s->hoff[gf[k]];
					FloatPair  *l = sc + lo[k];

					for (int j = 0; j < len; j++)
					{
						h[j].g += l[j].g;
						h[j].h += l[j].h;
					}
				}
				memset(sc, 0, sizeof(FloatPair) * used);
			}
			ga = gb;
		}
		if (task->parent)
			for (int64_t k = k0; k < k1; k++)
			{
				int			f = s->feats[k];
				int			len = s->nbins[f] + (s->miss_code[f] != MISSING_NONE);
				HistBin    *p = task->parent + s->hoff[f];
				const HistBin *c = task->hist + s->hoff[f];

				for (int j = 0; j < len; j++)
				{
					p[j].g -= c[j].g;
					p[j].h -= c[j].h;
				}
			}
	}
}

int
gbdt_slot_get(Gbdt *s, MaasError *err)
{
	if (s->n_free > 0)
		return s->free_slots[--s->n_free];
	if (s->n_slots >= s->max_slots)
	{
		maas_error(err, MAAS_ERR_INVALID, "out of histogram slots");	/* can't happen */
		return -1;
	}
	s->slots[s->n_slots] = maas_kalloc_array(s->hist_len > 0 ? s->hist_len : 1, sizeof(HistBin));
	if (s->slots[s->n_slots] == NULL)
	{
		maas_error_nomem(err);
		return -1;
	}
	return s->n_slots++;
}

void
gbdt_slot_put(Gbdt *s, int slot)
{
	if (slot >= 0)
		s->free_slots[s->n_free++] = slot;
}

/*
 * Build the histograms of s->tasks[0 .. n_tasks), ticking every
 * SLAB_UPDATES bin updates or so: a big node is built in pieces of whole
 * FLUSH_ROWS blocks (so the sums are the same as in one go), the first
 * piece zeroing the histogram and the last one subtracting it from the
 * parent.
 */
void
gbdt_build_hists(Gbdt *s, const GradPair *gh, int n_tasks, const MaasTrainHooks *hooks)
{
	int64_t		piece_rows = SLAB_UPDATES / (s->n_feats > 0 ? s->n_feats : 1);
	HistTask	piece[64];
	int			n_piece = 0;
	int64_t		work = 0;

	piece_rows = (piece_rows / FLUSH_ROWS + 1) * FLUSH_ROWS;
	for (int i = 0; i < n_tasks; i++)
	{
		const HistTask *task = &s->tasks[i];

		for (int64_t b = task->begin; b < task->end || b == task->begin; b += piece_rows)
		{
			HistTask   *p = &piece[n_piece++];

			p->hist = task->hist;
			p->begin = b;
			p->end = b + piece_rows < task->end ? b + piece_rows : task->end;
			p->zero = b == task->begin;
			p->parent = p->end == task->end ? task->parent : NULL;
			work += (p->end - p->begin) * s->n_feats;
			if (n_piece == 64 || work >= SLAB_UPDATES)
			{
				HistJob		job = {s, gh, piece, n_piece};

				maas_parallel(s->threads, hist_part, &job);
				if (hooks && hooks->tick)
					hooks->tick(hooks->arg);
				n_piece = 0;
				work = 0;
			}
			if (p->end == task->end)
				break;
		}
	}
	if (n_piece > 0)
	{
		HistJob		job = {s, gh, piece, n_piece};

		maas_parallel(s->threads, hist_part, &job);
	}
}
