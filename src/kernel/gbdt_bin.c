/*
 * gbdt_bin.c
 *		The boosted-trees trainer's binning (train_gbdt.c has the overview):
 *		each feature's cuts from a sample of the training rows, then every
 *		value's bin, row-major and column-major.
 */
#include "train_gbdt_int.h"

/* ---- binning ---- */

/* float as an unsigned key in the same order (no NaN here) */
static inline uint32_t
float_key(float x)
{
	uint32_t	u;

	memcpy(&u, &x, sizeof(u));
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline float
key_float(uint32_t k)
{
	uint32_t	u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
	float		x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

/* sort v[0..m) by LSD radix on 11-bit digits; tmp holds m values */
static void
sort_floats(float *v, int64_t m, float *tmp)
{
	uint32_t   *a = (uint32_t *) v;
	uint32_t   *b = (uint32_t *) tmp;

	for (int64_t i = 0; i < m; i++)
		a[i] = float_key(v[i]);
	for (int shift = 0; shift < 32; shift += 11)
	{
		int64_t		count[2048];
		int64_t		sum = 0;
		uint32_t   *t;

		memset(count, 0, sizeof(count));
		for (int64_t i = 0; i < m; i++)
			count[(a[i] >> shift) & 2047]++;
		for (int j = 0; j < 2048; j++)
		{
			int64_t		c = count[j];

			count[j] = sum;
			sum += c;
		}
		for (int64_t i = 0; i < m; i++)
			b[count[(a[i] >> shift) & 2047]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	/* three passes: the result is in tmp's buffer */
	for (int64_t i = 0; i < m; i++)
		v[i] = key_float(a[i]);
}

typedef struct CutJob
{
	Gbdt	   *s;
	const int32_t *sample;		/* rows */
	int64_t		n_sample;
	float	   *buf;			/* 2 * n_sample floats per thread */
	bool	   *has_nan;
	int			f_lo;			/* this call's features */
	int			f_hi;
} CutJob;

/*
 * Cuts of feature f from the sorted non-missing values v[0..m): distinct
 * values each their own bin when there are few enough, else quantiles.
 * A cut c puts x in the bin above when x >= c.
 */
static int
make_cuts(const float *v, int64_t m, int max_bins, float *cuts)
{
	int64_t		distinct = 0;
	int			nc = 0;

	for (int64_t i = 0; i < m; i++)
		if (i == 0 || v[i] != v[i - 1])
			distinct++;
	if (distinct <= max_bins)
	{
		/* between consecutive distinct values, at the midpoint */
		for (int64_t i = 1; i < m; i++)
			if (v[i] != v[i - 1])
			{
				float		mid = v[i - 1] + (v[i] - v[i - 1]) * 0.5f;

				if (!(mid > v[i - 1]) || !isfinite(mid))
					mid = v[i];
				cuts[nc++] = mid;
			}
		return nc;
	}
	for (int j = 1; j < max_bins; j++)
	{
		float		c = v[(int64_t) ((double) j * m / max_bins)];

		if (c > v[0] && (nc == 0 || c > cuts[nc - 1]))
			cuts[nc++] = c;
	}
	return nc;
}

static void
cut_part(void *arg, int t, int m)
{
	CutJob	   *job = arg;
	Gbdt	   *s = job->s;
	float	   *buf = job->buf + (size_t) t * 2 * job->n_sample;
	int64_t		f0,
				f1;

	maas_split_range(job->f_hi - job->f_lo, t, m, &f0, &f1);
	for (int64_t f = job->f_lo + f0; f < job->f_lo + f1; f++)
	{
		int64_t		k = 0;
		int			max_bins = s->cfg->max_bin;

		for (int64_t i = 0; i < job->n_sample; i++)
		{
			float		x = s->data->x[(size_t) job->sample[i] * s->d + f];

			if (!isnan(x))
				buf[k++] = x;
		}
		sort_floats(buf, k, buf + job->n_sample);
		if (job->has_nan[f] && max_bins > 255)
			max_bins = 255;
		s->nbins[f] = make_cuts(buf, k, max_bins, s->cuts[f]) + 1;
		s->miss_code[f] = job->has_nan[f] ? s->nbins[f] : MISSING_NONE;
	}
}

typedef struct RowsJob
{
	Gbdt	   *s;
	bool	   *has_nan;		/* per thread: d flags */
	int64_t		r_lo;			/* this call's rows */
	int64_t		r_hi;
} RowsJob;

static void
nan_part(void *arg, int t, int m)
{
	RowsJob    *job = arg;
	Gbdt	   *s = job->s;
	bool	   *flags = job->has_nan + (size_t) t * s->d;
	int64_t		r0,
				r1;

	maas_split_range(job->r_hi - job->r_lo, t, m, &r0, &r1);
	for (int64_t r = job->r_lo + r0; r < job->r_lo + r1; r++)
	{
		const float *row = s->data->x + (size_t) r * s->d;

		for (int f = 0; f < s->d; f++)
			flags[f] |= isnan(row[f]);
	}
}

/*
 * Number of cuts <= x: the bin of a non-missing x.  Cuts are padded with
 * +inf to MAAS_GBDT_MAX_BIN - 1 entries, so a branch-free search of fixed
 * steps works (x = +inf is clamped back to the last bin).
 */
static inline int
bin_of(const float *cuts, int steps, int nc, float x)
{
	int			base = 0;

	for (int half = 1 << (steps - 1); half > 0; half >>= 1)
		base += cuts[base + half - 1] <= x ? half : 0;
	return base < nc ? base : nc;
}

static void
bin_part(void *arg, int t, int m)
{
	RowsJob    *job = arg;
	Gbdt	   *s = job->s;
	int64_t		r0,
				r1;

	maas_split_range(job->r_hi - job->r_lo, t, m, &r0, &r1);
	for (int64_t r = job->r_lo + r0; r < job->r_lo + r1; r++)
	{
		const float *row = s->data->x + (size_t) r * s->d;
		uint8_t    *b = s->bins + (size_t) r * s->bstride;

		for (int f = 0; f < s->d; f++)
		{
			int			nc = s->nbins[f] - 1;
			int			st = s->steps[f];

			b[f] = isnan(row[f]) ? (uint8_t) s->miss_code[f]
				: (uint8_t) (st == 0 ? 0 : bin_of(s->cuts[f], st, nc, row[f]));
		}
	}
}

/* the column-major copy, by blocks of rows */
static void
transpose_part(void *arg, int t, int m)
{
	RowsJob    *job = arg;
	Gbdt	   *s = job->s;
	int64_t		f0,
				f1;

	maas_split_range(s->d, t, m, &f0, &f1);
	for (int64_t r0 = job->r_lo; r0 < job->r_hi; r0 += 4096)
	{
		int64_t		r1 = r0 + 4096 < job->r_hi ? r0 + 4096 : job->r_hi;

		for (int64_t f = f0; f < f1; f++)
		{
			uint8_t    *c = s->cbins + (size_t) f * s->n;

			for (int64_t r = r0; r < r1; r++)
				c[r] = s->bins[(size_t) r * s->bstride + f];
		}
	}
}

/* fn over the rows in slabs of SLAB_ROWS, ticking between them */
static void
rows_in_slabs(Gbdt *s, MaasParallelFn fn, RowsJob *job, const MaasTrainHooks *hooks)
{
	for (int64_t r = 0; r < s->n; r += SLAB_ROWS)
	{
		job->r_lo = r;
		job->r_hi = r + SLAB_ROWS < s->n ? r + SLAB_ROWS : s->n;
		maas_parallel(s->threads, fn, job);
		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);
	}
}

bool
gbdt_build_bins(Gbdt *s, const MaasTrainHooks *hooks, MaasError *err)
{
	int64_t		n_sample = s->n < BIN_SAMPLE ? s->n : BIN_SAMPLE;
	int32_t    *sample = maas_kalloc_array(n_sample, sizeof(int32_t));
	bool	   *flags = maas_kalloc_array((size_t) s->threads, (size_t) s->d);
	bool	   *has_nan = maas_kalloc(s->d);
	float	   *buf = maas_kalloc_array((size_t) n_sample * 2 * s->threads, sizeof(float));
	RowsJob		rj = {s, flags, 0, 0};
	CutJob		cj;
	int			off = 0;

	s->bstride = (s->d + 7) & ~7;
	s->bins = maas_kalloc_array((size_t) s->n, (size_t) s->bstride);
	s->nbins = maas_kalloc_array(s->d, sizeof(int));
	s->miss_code = maas_kalloc_array(s->d, sizeof(int));
	s->hoff = maas_kalloc_array(s->d, sizeof(int));
	s->steps = maas_kalloc_array(s->d, sizeof(int));
	s->cbins = maas_kalloc_array((size_t) s->n, (size_t) s->d);
	s->dir = maas_kalloc((size_t) s->n);
	s->cuts = maas_kalloc_array(s->d, sizeof(float *));
	if (!sample || !flags || !has_nan || !buf || !s->bins || !s->nbins ||
		!s->miss_code || !s->hoff || !s->steps || !s->cbins || !s->dir || !s->cuts)
		return maas_error_nomem(err);
	for (int f = 0; f < s->d; f++)
		if ((s->cuts[f] = maas_kalloc_array(MAAS_GBDT_MAX_BIN, sizeof(float))) == NULL)
			return maas_error_nomem(err);

	/* which features have missing values anywhere */
	memset(flags, 0, (size_t) s->threads * s->d);
	rows_in_slabs(s, nan_part, &rj, hooks);
	memset(has_nan, 0, s->d);
	for (int t = 0; t < s->threads; t++)
		for (int f = 0; f < s->d; f++)
			has_nan[f] |= flags[(size_t) t * s->d + f];

	/* a seeded sample of rows (all of them when there are few) */
	if (n_sample == s->n)
		for (int64_t i = 0; i < n_sample; i++)
			sample[i] = (int32_t) i;
	else
	{
		/* a stride through the rows from a random start, then sorted */
		uint64_t	rng = s->cfg->seed ^ UINT64_C(0x243F6A8885A308D3);

		for (int64_t i = 0; i < n_sample; i++)
			sample[i] = (int32_t) ((i * s->n + (int64_t) maas_rng_below(&rng, (uint32_t) (s->n / n_sample))) /
								   n_sample);
	}
	cj.s = s;
	cj.sample = sample;
	cj.n_sample = n_sample;
	cj.buf = buf;
	cj.has_nan = has_nan;
	for (int f = 0; f < s->d; f += s->threads)
	{
		cj.f_lo = f;
		cj.f_hi = f + s->threads < s->d ? f + s->threads : s->d;
		maas_parallel(s->threads, cut_part, &cj);
		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);
	}

	/* histogram layout: feature after feature, 4-bin aligned */
	for (int f = 0; f < s->d; f++)
	{
		int			len = s->nbins[f] + (has_nan[f] ? 1 : 0);

		s->hoff[f] = off;
		off += (len + 3) & ~3;
		/* the search: pad the cuts with +inf to a power of two - 1 */
		s->steps[f] = 0;
		while ((1 << s->steps[f]) < s->nbins[f])
			s->steps[f]++;
		for (int j = s->nbins[f] - 1; j < MAAS_GBDT_MAX_BIN; j++)
			s->cuts[f][j] = INFINITY;
	}
	s->hist_len = off;
	rows_in_slabs(s, bin_part, &rj, hooks);
	rows_in_slabs(s, transpose_part, &rj, hooks);
	return true;
}
