/*
 * kmeans_silhouette.c
 *		The silhouette score of a clustering (see train_kmeans.h), on a
 *		sample of the rows, split off train_kmeans.c.
 */
#include "train_kmeans.h"

#include <math.h>
#include <string.h>

#include "threads.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	!defined(__SANITIZE_ADDRESS__)
#define MAAS_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MAAS_SIMD
#endif

typedef struct SilJob
{
	int64_t		m;
	int			d;
	int			k;
	const float *cols;			/* d * m: the sample by feature */
	const int32_t *lab;			/* m */
	const int64_t *cnt;			/* k: sample rows in each cluster */
	double	   *s;				/* m: each row's silhouette */
	double	   *sums;			/* threads * k */
	float	   *dist;			/* threads * 256 */
} SilJob;

/* distances from row i of the sample to rows j0 .. j0 + len (len <= 256) */
MAAS_SIMD static void
sil_block(const float *cols, int64_t m, int d, int64_t i, int64_t j0, int len, float *dist)
{
	for (int j = 0; j < len; j++)
		dist[j] = 0.0f;
	for (int f = 0; f < d; f++)
	{
		const float *c = cols + (size_t) f * m + j0;
		float		xi = cols[(size_t) f * m + i];

		for (int j = 0; j < len; j++)
		{
			float		t = c[j] - xi;

			dist[j] += t * t;
		}
	}
	for (int j = 0; j < len; j++)
		dist[j] = sqrtf(dist[j]);
}

static void
sil_part(void *arg, int t, int mt)
{
	SilJob	   *job = arg;
	double	   *sums = job->sums + (size_t) t * job->k;
	float	   *dist = job->dist + (size_t) t * 256;
	int64_t		i0,
				i1;

	maas_split_range(job->m, t, mt, &i0, &i1);
	for (int64_t i = i0; i < i1; i++)
	{
		int			own = job->lab[i];
		double		a,
					b = INFINITY;

		memset(sums, 0, sizeof(double) * job->k);
		for (int64_t j0 = 0; j0 < job->m; j0 += 256)
		{
			int			len = job->m - j0 < 256 ? (int) (job->m - j0) : 256;

			sil_block(job->cols, job->m, job->d, i, j0, len, dist);
			for (int j = 0; j < len; j++)
				sums[job->lab[j0 + j]] += dist[j];
		}
		if (job->cnt[own] <= 1)
		{
			job->s[i] = 0.0;
			continue;
		}
		a = sums[own] / (job->cnt[own] - 1);
		for (int c = 0; c < job->k; c++)
			if (c != own && job->cnt[c] > 0 && sums[c] / job->cnt[c] < b)
				b = sums[c] / job->cnt[c];
		job->s[i] = fmax(a, b) > 0.0 ? (b - a) / fmax(a, b) : 0.0;
	}
}

bool
maas_silhouette(int64_t n, int d, const float *x, const int32_t *labels, int k,
				int64_t sample, uint64_t seed, int threads, const MaasTick *tick,
				double *out, MaasError *err)
{
	int64_t		m = sample < n ? sample : n;
	SilJob		job;
	float	   *cols;
	int32_t    *lab;
	int64_t    *cnt;
	int			present = 0;
	uint64_t	rng = seed;
	double		total = 0.0;

	*out = NAN;
	if (m < 2 || k < 2)
		return true;
	if (threads < 1)
		threads = 1;
	cols = maas_kalloc_array((size_t) m, (size_t) d * sizeof(float));
	lab = maas_kalloc_array(m, sizeof(int32_t));
	cnt = maas_kalloc_array(k, sizeof(int64_t));
	job.s = maas_kalloc_array(m, sizeof(double));
	job.sums = maas_kalloc_array((size_t) threads, (size_t) k * sizeof(double));
	job.dist = maas_kalloc_array((size_t) threads * 256, sizeof(float));
	if (!cols || !lab || !cnt || !job.s || !job.sums || !job.dist)
		return maas_error_nomem(err);

	/* m of the n rows, each equally likely, in order (Knuth's algorithm S) */
	memset(cnt, 0, sizeof(int64_t) * k);
	for (int64_t r = 0, taken = 0; r < n && taken < m; r++)
	{
		if (m < n && (double) (n - r) * maas_rng_uniform(&rng) >= (double) (m - taken))
			continue;
		for (int f = 0; f < d; f++)
			cols[(size_t) f * m + taken] = x[(size_t) r * d + f];
		if (labels[r] < 0 || labels[r] >= k)
			return maas_error(err, MAAS_ERR_INVALID, "label %d of row %lld is out of range",
							  labels[r], (long long) r);
		lab[taken] = labels[r];
		cnt[labels[r]]++;
		taken++;
	}
	for (int c = 0; c < k; c++)
		present += cnt[c] > 0;
	if (present < 2 || present >= m)
		return true;			/* undefined, as scikit-learn refuses it */

	maas_tick(tick);
	job.m = m;
	job.d = d;
	job.k = k;
	job.cols = cols;
	job.lab = lab;
	job.cnt = cnt;
	maas_parallel(threads, sil_part, &job);
	for (int64_t i = 0; i < m; i++)
		total += job.s[i];
	*out = total / m;
	return true;
}
