/*
 * train_kmeans.c
 *		k-means (see train_kmeans.h for the algorithm and the serving op).
 *
 * What lives in memory for n rows of d features and k clusters: the
 * centers (float, k * d) and their sums (double), the labels (n int32; two
 * arrays with n_init > 1, the best run's kept), one slab of dot products
 * (up to SLAB_ROWS rows * k floats, fewer for a big k), a loss and a count
 * per block of BLOCK rows, and for k-means++ (or an empty cluster) the
 * squared distance of each row to its nearest center (n floats).  The rows
 * themselves belong to the caller.
 *
 * An assignment goes slab by slab: the calling thread multiplies the slab
 * by the centers with one sgemm (BLAS, or oneDNN, with threads of its own:
 * the pool's threads never call it), then the pool takes each row's nearest
 * center.  The new centers are summed by the pool split by clusters, each
 * cluster's rows in row order, and the block losses are added in block
 * order: the same clusters for any thread count.
 */
#include "train_kmeans.h"

#include <math.h>
#include <string.h>

#include "threads.h"

#define CHUNK			16384	/* rows per partial sum (statistics, k-means++) */
#define BLOCK			512		/* rows per loss partial sum; serving's sgemm */
#define SLAB_ROWS		262144	/* rows per sgemm of the assignment, at most */
#define SLAB_FLOATS		(1 << 22)	/* dot products per slab, at most */
#define EXACT_KD		4096	/* serving: exact distances up to this k * d */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	!defined(__SANITIZE_ADDRESS__)
#define MAAS_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MAAS_SIMD
#endif

typedef struct Km
{
	const MaasBlas *blas;
	const MaasKmeansConfig *cfg;
	int64_t		n;
	int			d;
	int			k;
	int			threads;
	const float *x;
	int64_t		chunks;

	float	   *centers;		/* k * d, the current ones */
	float	   *cnorm;			/* k */
	int32_t    *labels;			/* n */
	double	   *cfeat;			/* chunks * d: feature sums (statistics) */
	double	   *cval;			/* chunks: a double per chunk */
	int64_t		slab;			/* rows per sgemm */
	float	   *dots;			/* slab * k */
	int64_t		s_lo;			/* the slab being assigned */
	int64_t		s_hi;
	double	   *bloss;			/* blocks: sum of the rows' distances */
	int32_t    *bchanged;		/* blocks: rows whose label changed */
	float	   *closest;		/* n, or NULL until needed */
	double	   *sums;			/* k * d */
	int64_t    *counts;			/* k */
	bool		update;			/* statistics: first pass (sums) or second */
	int64_t		c_lo;			/* the chunks of the current parallel call */
	int64_t		c_hi;
	const MaasTrainHooks *hooks;
} Km;

#define SLAB_CHUNKS		16		/* chunks (256k rows) between two ticks */

/* fn(arg) over the chunks in slabs, ticking between them */
static void
chunks_in_slabs(Km *km, MaasParallelFn fn, void *arg)
{
	for (int64_t c = 0; c < km->chunks; c += SLAB_CHUNKS)
	{
		km->c_lo = c;
		km->c_hi = c + SLAB_CHUNKS < km->chunks ? c + SLAB_CHUNKS : km->chunks;
		maas_parallel(km->threads, fn, arg);
		if (km->hooks && km->hooks->tick)
			km->hooks->tick(km->hooks->arg);
	}
}

void
maas_kmeans_defaults(MaasKmeansConfig *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->k = 8;
	cfg->max_iter = 300;
	cfg->tol = 1e-4;
	cfg->n_init = 1;
	cfg->init = NULL;
	cfg->silhouette_sample = MAAS_KMEANS_SILHOUETTE;
	cfg->threads = 1;
	cfg->seed = 42;
}

/* rows per sgemm of the assignment: SLAB_ROWS, fewer for a big k */
static int64_t
slab_rows(int k, int64_t n)
{
	int64_t		s = SLAB_FLOATS / (k > 0 ? k : 1);

	s = s > SLAB_ROWS ? SLAB_ROWS : s < BLOCK ? BLOCK : s;
	s = s / BLOCK * BLOCK;
	return s < n ? s : (n > 0 ? n : 1);
}

bool
maas_kmeans_memory(const MaasKmeansConfig *cfg, int64_t n, int d, size_t *bytes)
{
	size_t		total = 0,
				part;
	int64_t		chunks = n / CHUNK + 1;
	int64_t		m = cfg->silhouette_sample < n ? cfg->silhouette_sample : n;

	if (n < 0 || d < 1 || cfg->k < 1)
		return false;
	if (!maas_mul_size((size_t) n, 2 * sizeof(int32_t) + sizeof(float), &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) (n / BLOCK + 1), sizeof(double) + sizeof(int32_t), &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) chunks, (size_t) d * sizeof(double) + sizeof(double), &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) slab_rows(cfg->k, n), (size_t) cfg->k * sizeof(float), &part) ||
		!maas_add_size(total, part, &total) ||
		!maas_mul_size((size_t) cfg->k, (size_t) d * (2 * sizeof(float) + sizeof(double)) +
					   3 * sizeof(int64_t), &part) ||
		!maas_add_size(total, part, &total))
		return false;
	/* the silhouette's sample, its columns and per-thread sums */
	if (m > 0 &&
		(!maas_mul_size((size_t) m, (size_t) d * sizeof(float) + 2 * sizeof(int32_t) +
						sizeof(double), &part) ||
		 !maas_add_size(total, part, &total) ||
		 !maas_mul_size((size_t) cfg->threads, (size_t) cfg->k * (sizeof(double) + sizeof(int64_t)) +
						256 * sizeof(float), &part) ||
		 !maas_add_size(total, part, &total)))
		return false;
	*bytes = total;
	return true;
}

static bool
check_config(const MaasKmeansConfig *cfg, int64_t n, int d, const float *x, MaasError *err)
{
	if (n < 1 || d < 1)
		return maas_error(err, MAAS_ERR_INVALID, "no rows to cluster");
	if (cfg->k < 1 || cfg->k > MAAS_KMEANS_MAX_K)
		return maas_error(err, MAAS_ERR_INVALID, "k must be between 1 and %d, not %d",
						  MAAS_KMEANS_MAX_K, cfg->k);
	if (cfg->k > n)
		return maas_error(err, MAAS_ERR_INVALID,
						  "k (%d) must be at most the number of rows (%lld)",
						  cfg->k, (long long) n);
	if (cfg->max_iter < 1 || cfg->max_iter > 100000)
		return maas_error(err, MAAS_ERR_INVALID, "max_iter must be between 1 and 100000, not %d",
						  cfg->max_iter);
	if (!(cfg->tol >= 0.0) || !isfinite(cfg->tol))
		return maas_error(err, MAAS_ERR_INVALID, "tol must be a finite number of at least 0");
	if (cfg->n_init < 1 || cfg->n_init > 1000)
		return maas_error(err, MAAS_ERR_INVALID, "n_init must be between 1 and 1000, not %d",
						  cfg->n_init);
	if (cfg->init != NULL && cfg->n_init != 1)
		return maas_error(err, MAAS_ERR_INVALID, "n_init must be 1 with initial centers");
	if (cfg->silhouette_sample < 0)
		return maas_error(err, MAAS_ERR_INVALID, "silhouette sample must be at least 0");
	if (cfg->threads < 1 || cfg->threads > MAAS_POOL_MAX_THREADS)
		return maas_error(err, MAAS_ERR_INVALID, "number of threads must be between 1 and %d, not %d",
						  MAAS_POOL_MAX_THREADS, cfg->threads);
	(void) x;
	if (cfg->init != NULL)
		for (int64_t i = 0; i < (int64_t) cfg->k * d; i++)
			if (!isfinite(cfg->init[i]))
				return maas_error(err, MAAS_ERR_INVALID,
								  "initial center %lld is not finite", (long long) (i / d));
	return true;
}

/* ---- small kernels ---- */

static inline float
sqdist(const float *a, const float *b, int d)
{
	float		s = 0.0f;

	for (int f = 0; f < d; f++)
	{
		float		t = a[f] - b[f];

		s += t * t;
	}
	return s;
}

static void
center_norms(Km *km)
{
	maas_kmeans_norms(km->k, km->d, km->centers, km->cnorm);
}

void
maas_kmeans_norms(int k, int d, const float *centers, float *norms)
{
	for (int j = 0; j < k; j++)
	{
		const float *c = centers + (size_t) j * d;
		float		s = 0.0f;

		for (int f = 0; f < d; f++)
			s += c[f] * c[f];
		norms[j] = s;
	}
}

/* ---- the assignment (E-step), and the sums for the update ---- */

/* nearest centers of the slab's rows from the slab's dot products */
static void
assign_part(void *arg, int t, int m)
{
	Km		   *km = arg;
	const int	k = km->k;
	const int	d = km->d;
	int64_t		b_lo = km->s_lo / BLOCK;
	int64_t		b_hi = (km->s_hi + BLOCK - 1) / BLOCK;
	int64_t		b0,
				b1;

	maas_split_range(b_hi - b_lo, t, m, &b0, &b1);
	for (int64_t b = b_lo + b0; b < b_lo + b1; b++)
	{
		int64_t		r1 = (b + 1) * BLOCK < km->s_hi ? (b + 1) * BLOCK : km->s_hi;
		double		loss = 0.0;
		int32_t		changed = 0;

		for (int64_t r = b * BLOCK; r < r1; r++)
		{
			const float *row = km->x + (size_t) r * d;
			const float *dt = km->dots + (size_t) (r - km->s_lo) * k;
			int			best = 0;
			float		bd = km->cnorm[0] - 2.0f * dt[0];
			float		xx = 0.0f;

			for (int j = 1; j < k; j++)
			{
				float		v = km->cnorm[j] - 2.0f * dt[j];

				if (v < bd)
				{
					bd = v;
					best = j;
				}
			}
			for (int f = 0; f < d; f++)
				xx += row[f] * row[f];
			loss += fmax((double) xx + bd, 0.0);
			changed += km->labels[r] != best;
			km->labels[r] = best;
		}
		km->bloss[b] = loss;
		km->bchanged[b] = changed;
	}
}

/* the sums and counts of the rows of each cluster, split by clusters */
static void
sums_part(void *arg, int t, int m)
{
	Km		   *km = arg;
	const int	d = km->d;
	int64_t		j0,
				j1;

	maas_split_range(km->k, t, m, &j0, &j1);
	if (j0 == j1)
		return;
	memset(km->sums + (size_t) j0 * d, 0, sizeof(double) * (j1 - j0) * d);
	memset(km->counts + j0, 0, sizeof(int64_t) * (j1 - j0));
	for (int64_t r = 0; r < km->n; r++)
	{
		int32_t		j = km->labels[r];

		if (j >= j0 && j < j1)
		{
			const float *row = km->x + (size_t) r * d;
			double	   *s = km->sums + (size_t) j * d;

			km->counts[j]++;
			for (int f = 0; f < d; f++)
				s[f] += row[f];
		}
	}
}

/*
 * Assign every row to its nearest center (labels, block losses and
 * changes); with update, also the clusters' sums and counts.
 */
static void
estep(Km *km, bool update)
{
	center_norms(km);
	for (int64_t s0 = 0; s0 < km->n; s0 += km->slab)
	{
		int64_t		m = km->n - s0 < km->slab ? km->n - s0 : km->slab;

		/* dots = X[s0 .. s0 + m) C^T, on this thread */
		km->blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
						(int) m, km->k, km->d, 1.0f, km->x + (size_t) s0 * km->d, km->d,
						km->centers, km->d, 0.0f, km->dots, km->k);
		km->s_lo = s0;
		km->s_hi = s0 + m;
		maas_parallel(km->threads, assign_part, km);
		if (km->hooks && km->hooks->tick)
			km->hooks->tick(km->hooks->arg);
	}
	if (update)
		maas_parallel(km->threads, sums_part, km);
}

/* exact squared distance of each row to its assigned center, into closest */
static void
assigned_part(void *arg, int t, int m)
{
	Km		   *km = arg;
	int64_t		c0,
				c1;

	maas_split_range(km->c_hi - km->c_lo, t, m, &c0, &c1);
	for (int64_t r = (km->c_lo + c0) * CHUNK; r < (km->c_lo + c1) * CHUNK && r < km->n; r++)
		km->closest[r] = sqdist(km->x + (size_t) r * km->d,
								km->centers + (size_t) km->labels[r] * km->d, km->d);
}

/* per chunk: whether all values are finite (cval 1 or 0), sums of each feature */
static void
stats_part(void *arg, int t, int m)
{
	Km		   *km = arg;
	int64_t		c0,
				c1;

	maas_split_range(km->c_hi - km->c_lo, t, m, &c0, &c1);
	for (int64_t c = km->c_lo + c0; c < km->c_lo + c1; c++)
	{
		int64_t		r1 = (c + 1) * CHUNK < km->n ? (c + 1) * CHUNK : km->n;
		double	   *sum = km->cfeat + (size_t) c * km->d;
		bool		finite = true;

		/* feature sums; then, in a second pass, squares around the means */
		if (km->update)
		{
			for (int f = 0; f < km->d; f++)
				sum[f] = 0.0;
			for (int64_t r = c * CHUNK; r < r1; r++)
			{
				const float *row = km->x + (size_t) r * km->d;

				for (int f = 0; f < km->d; f++)
				{
					finite &= isfinite(row[f]);
					sum[f] += row[f];
				}
			}
			km->cval[c] = finite ? 1.0 : 0.0;
		}
		else
		{
			double		ss = 0.0;

			for (int64_t r = c * CHUNK; r < r1; r++)
			{
				const float *row = km->x + (size_t) r * km->d;

				for (int f = 0; f < km->d; f++)
				{
					double		v = row[f] - km->sums[f];

					ss += v * v;
				}
			}
			km->cval[c] = ss;
		}
	}
}

/*
 * Lloyd from the centers in km->centers; returns the iterations run and
 * whether it stopped on its own; the centers, labels and inertia at the
 * end.
 */
static bool
lloyd(Km *km, double tol_abs, const MaasTrainHooks *hooks, int *n_iter, bool *converged,
	  double *inertia, MaasError *err)
{
	const int	k = km->k;
	const int	d = km->d;
	const int	max_iter = km->cfg->max_iter;
	bool		strict = false;
	int			it;

	for (int64_t r = 0; r < km->n; r++)
		km->labels[r] = -1;
	*converged = false;
	for (it = 0; it < max_iter; it++)
	{
		int64_t		changed = 0;
		double		loss = 0.0;
		double		shift = 0.0;
		int			empty = 0;

		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);
		estep(km, true);
		for (int64_t b = 0; b < (km->n + BLOCK - 1) / BLOCK; b++)
		{
			changed += km->bchanged[b];
			loss += km->bloss[b];
		}
		for (int j = 0; j < k; j++)
			empty += km->counts[j] == 0;

		/* empty clusters take the rows farthest from their centers */
		if (empty > 0)
		{
			if (km->closest == NULL &&
				(km->closest = maas_kalloc_array(km->n, sizeof(float))) == NULL)
				return maas_error_nomem(err);
			chunks_in_slabs(km, assigned_part, km);
			for (int j = 0; j < k; j++)
			{
				int64_t		far = -1;
				int			old;

				if (km->counts[j] != 0)
					continue;
				for (int64_t r = 0; r < km->n; r++)
					if (km->closest[r] >= 0.0f && (far < 0 || km->closest[r] > km->closest[far]))
						far = r;
				if (far < 0)
					break;
				old = km->labels[far];
				km->closest[far] = -1.0f;	/* taken */
				for (int f = 0; f < d; f++)
				{
					double		v = km->x[(size_t) far * d + f];

					km->sums[(size_t) old * d + f] -= v;
					km->sums[(size_t) j * d + f] = v;
				}
				km->counts[old]--;
				km->counts[j] = 1;
			}
		}

		/* the new centers, and how far they moved */
		for (int j = 0; j < k; j++)
		{
			float	   *c = km->centers + (size_t) j * d;
			double		s2 = 0.0;

			if (km->counts[j] <= 0)
				continue;
			for (int f = 0; f < d; f++)
			{
				float		v = (float) (km->sums[(size_t) j * d + f] / km->counts[j]);
				double		t = (double) v - c[f];

				s2 += t * t;
				c[f] = v;
			}
			shift += s2;
		}
		if (hooks && hooks->epoch)
		{
			MaasEpochReport rep = {it + 1, max_iter, loss / km->n, false, 0.0, 0.0, true};

			hooks->epoch(hooks->arg, &rep);
		}
		if (changed == 0)
		{
			strict = true;
			*converged = true;
			break;
		}
		if (shift <= tol_abs)
		{
			*converged = true;
			break;
		}
	}
	*n_iter = it < max_iter ? it + 1 : max_iter;

	/* labels for the final centers */
	if (!strict)
		estep(km, false);
	if (km->closest == NULL &&
		(km->closest = maas_kalloc_array(km->n, sizeof(float))) == NULL)
		return maas_error_nomem(err);
	chunks_in_slabs(km, assigned_part, km);
	*inertia = 0.0;
	for (int64_t c = 0; c < km->chunks; c++)
	{
		int64_t		r1 = (c + 1) * CHUNK < km->n ? (c + 1) * CHUNK : km->n;
		double		s = 0.0;

		for (int64_t r = c * CHUNK; r < r1; r++)
			s += km->closest[r];
		*inertia += s;
	}
	return true;
}

/* ---- k-means++ ---- */

typedef struct PlusJob
{
	Km		   *km;
	const float *cand;			/* n_cand candidate rows (pointers' targets) */
	int			n_cand;
	double	   *pot;			/* chunks * n_cand */
	bool		update;			/* closest = min(closest, candidate 0) */
	const float *center;		/* the first center: closest = its distance */
} PlusJob;

static void
plus_part(void *arg, int t, int m)
{
	PlusJob    *job = arg;
	Km		   *km = job->km;
	int64_t		c0,
				c1;

	maas_split_range(km->c_hi - km->c_lo, t, m, &c0, &c1);
	for (int64_t c = km->c_lo + c0; c < km->c_lo + c1; c++)
	{
		int64_t		r1 = (c + 1) * CHUNK < km->n ? (c + 1) * CHUNK : km->n;

		if (job->center)
		{
			double		s = 0.0;

			for (int64_t r = c * CHUNK; r < r1; r++)
			{
				km->closest[r] = sqdist(km->x + (size_t) r * km->d, job->center, km->d);
				s += km->closest[r];
			}
			job->pot[c] = s;
			continue;
		}
		for (int q = 0; q < job->n_cand; q++)
		{
			const float *cand = job->cand + (size_t) q * km->d;
			double		s = 0.0;

			for (int64_t r = c * CHUNK; r < r1; r++)
			{
				float		v = sqdist(km->x + (size_t) r * km->d, cand, km->d);

				if (v > km->closest[r])
					v = km->closest[r];
				else if (job->update)
					km->closest[r] = v;
				s += v;
			}
			job->pot[(size_t) c * job->n_cand + q] = s;
		}
	}
}

static bool
kmeans_plus_plus(Km *km, uint64_t *rng, const MaasTrainHooks *hooks, MaasError *err)
{
	const int	k = km->k;
	const int	d = km->d;
	int			trials = 2 + (int) log((double) k);
	double	   *pot = maas_kalloc_array((size_t) km->chunks * trials, sizeof(double));
	float	   *cand = maas_kalloc_array((size_t) trials, (size_t) d * sizeof(float));
	int64_t    *cand_id = maas_kalloc_array(trials, sizeof(int64_t));
	double	   *target = maas_kalloc_array(trials, sizeof(double));
	double		current = 0.0;
	PlusJob		job;

	if (!pot || !cand || !cand_id || !target)
		return maas_error_nomem(err);
	if (km->closest == NULL &&
		(km->closest = maas_kalloc_array(km->n, sizeof(float))) == NULL)
		return maas_error_nomem(err);

	/* the first center: a row at random */
	{
		int64_t		first = (int64_t) (maas_rng_uniform(rng) * km->n);

		if (first >= km->n)
			first = km->n - 1;
		memcpy(km->centers, km->x + (size_t) first * d, sizeof(float) * d);
	}
	job.km = km;
	job.pot = pot;
	job.center = km->centers;
	job.cand = NULL;
	job.n_cand = 0;
	job.update = false;
	chunks_in_slabs(km, plus_part, &job);
	for (int64_t c = 0; c < km->chunks; c++)
		current += pot[c];

	for (int j = 1; j < k; j++)
	{
		int			best = 0;
		double		best_pot = INFINITY;

		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);
		/* candidates with probability proportional to closest: one scan */
		for (int q = 0; q < trials; q++)
		{
			target[q] = maas_rng_uniform(rng) * current;
			cand_id[q] = -1;
		}
		{
			double		run = 0.0;
			int			left = trials;

			for (int64_t r = 0; r < km->n && left > 0; r++)
			{
				run += km->closest[r];
				for (int q = 0; q < trials; q++)
					if (cand_id[q] < 0 && run >= target[q])
					{
						cand_id[q] = r;
						left--;
					}
			}
			for (int q = 0; q < trials; q++)
				if (cand_id[q] < 0)
					cand_id[q] = km->n - 1;
		}
		for (int q = 0; q < trials; q++)
			memcpy(cand + (size_t) q * d, km->x + (size_t) cand_id[q] * d, sizeof(float) * d);
		job.center = NULL;
		job.cand = cand;
		job.n_cand = trials;
		job.update = false;
		chunks_in_slabs(km, plus_part, &job);
		for (int q = 0; q < trials; q++)
		{
			double		s = 0.0;

			for (int64_t c = 0; c < km->chunks; c++)
				s += pot[(size_t) c * trials + q];
			if (s < best_pot)
			{
				best_pot = s;
				best = q;
			}
		}
		/* keep the best: closest = min(closest, its distances) */
		memcpy(km->centers + (size_t) j * d, cand + (size_t) best * d, sizeof(float) * d);
		job.cand = km->centers + (size_t) j * d;
		job.n_cand = 1;
		job.update = true;
		chunks_in_slabs(km, plus_part, &job);
		current = 0.0;
		for (int64_t c = 0; c < km->chunks; c++)
			current += pot[c];
	}
	return true;
}

/* ---- the fit ---- */

bool
maas_kmeans_fit(const MaasBlas *blas, const MaasKmeansConfig *cfg, int64_t n, int d,
				const float *x, const MaasTrainHooks *hooks, MaasKmeansResult *res,
				MaasError *err)
{
	Km			km;
	double		tol_abs;
	double		best = INFINITY;
	int32_t    *best_labels = NULL;
	float	   *best_centers;
	uint64_t	rng = cfg->seed;

	memset(res, 0, sizeof(*res));
	res->silhouette = NAN;
	if (!check_config(cfg, n, d, x, err))
		return false;
	memset(&km, 0, sizeof(km));
	km.blas = blas;
	km.cfg = cfg;
	km.n = n;
	km.d = d;
	km.k = cfg->k;
	km.threads = cfg->threads;
	km.x = x;
	km.chunks = (n + CHUNK - 1) / CHUNK;
	km.centers = maas_kalloc_array((size_t) km.k, (size_t) d * sizeof(float));
	km.cnorm = maas_kalloc_array(km.k, sizeof(float));
	km.labels = maas_kalloc_array(n, sizeof(int32_t));
	km.slab = slab_rows(km.k, n);
	km.cfeat = maas_kalloc_array((size_t) km.chunks, (size_t) d * sizeof(double));
	km.cval = maas_kalloc_array(km.chunks, sizeof(double));
	km.dots = maas_kalloc_array((size_t) km.slab, (size_t) km.k * sizeof(float));
	km.bloss = maas_kalloc_array(n / BLOCK + 1, sizeof(double));
	km.bchanged = maas_kalloc_array(n / BLOCK + 1, sizeof(int32_t));
	km.sums = maas_kalloc_array((size_t) km.k, (size_t) d * sizeof(double));
	km.counts = maas_kalloc_array(km.k, sizeof(int64_t));
	best_centers = maas_kalloc_array((size_t) km.k, (size_t) d * sizeof(float));
	res->sizes = maas_kalloc_array(km.k, sizeof(int64_t));
	if (!km.centers || !km.cnorm || !km.labels || !km.cfeat || !km.cval || !km.dots ||
		!km.bloss || !km.bchanged || !km.sums || !km.counts || !best_centers || !res->sizes)
		return maas_error_nomem(err);
	if (cfg->n_init > 1 && (best_labels = maas_kalloc_array(n, sizeof(int32_t))) == NULL)
		return maas_error_nomem(err);

	/*
	 * Every value finite, and tol relative to the mean variance of the
	 * features, as scikit-learn: feature sums by chunk, then the squares
	 * around the means.
	 */
	km.hooks = hooks;
	km.update = true;
	chunks_in_slabs(&km, stats_part, &km);
	memset(km.sums, 0, sizeof(double) * d);
	for (int64_t c = 0; c < km.chunks; c++)
	{
		if (km.cval[c] == 0.0)
		{
			int64_t		r1 = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;

			for (int64_t r = c * CHUNK; r < r1; r++)
				for (int f = 0; f < d; f++)
					if (!isfinite(x[(size_t) r * d + f]))
						return maas_error(err, MAAS_ERR_INVALID,
										  "row %lld has a missing or infinite value",
										  (long long) r);
		}
		for (int f = 0; f < d; f++)
			km.sums[f] += km.cfeat[(size_t) c * d + f];
	}
	for (int f = 0; f < d; f++)
		km.sums[f] /= n;
	km.update = false;
	chunks_in_slabs(&km, stats_part, &km);
	{
		double		ss = 0.0;

		for (int64_t c = 0; c < km.chunks; c++)
			ss += km.cval[c];
		tol_abs = cfg->tol * ss / n / d;
	}

	for (int run = 0; run < cfg->n_init; run++)
	{
		int			n_iter = 0;
		bool		converged = false;
		double		inertia = INFINITY;

		if (cfg->init)
			memcpy(km.centers, cfg->init, sizeof(float) * km.k * d);
		else if (!kmeans_plus_plus(&km, &rng, hooks, err))
			return false;
		if (!lloyd(&km, tol_abs, hooks, &n_iter, &converged, &inertia, err))
			return false;
		if (inertia < best)
		{
			best = inertia;
			res->inertia = inertia;
			res->n_iter = n_iter;
			res->converged = converged;
			memcpy(best_centers, km.centers, sizeof(float) * km.k * d);
			if (best_labels)
			{
				int32_t    *t = best_labels;

				best_labels = km.labels;
				km.labels = t;
			}
		}
	}
	res->centers = best_centers;
	res->labels = best_labels ? best_labels : km.labels;
	memset(res->sizes, 0, sizeof(int64_t) * km.k);
	for (int64_t r = 0; r < n; r++)
		res->sizes[res->labels[r]]++;

	if (cfg->silhouette_sample > 0 && km.k > 1)
	{
		MaasTick	tick = {hooks ? hooks->tick : NULL, hooks ? hooks->arg : NULL};

		res->silhouette_rows = cfg->silhouette_sample < n ? cfg->silhouette_sample : n;
		if (!maas_silhouette(n, d, x, res->labels, km.k, cfg->silhouette_sample,
							 cfg->seed ^ UINT64_C(0x5851F42D4C957F2D), cfg->threads,
							 &tick, &res->silhouette, err))
			return false;
	}
	return true;
}

/* ---- silhouette ---- */

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

/* ---- serving ---- */

size_t
maas_kmeans_workspace(int k, int64_t n_rows)
{
	int64_t		b = n_rows < BLOCK ? n_rows : BLOCK;

	return (size_t) b * k;
}

void
maas_kmeans_distances(const MaasBlas *blas, int k, int d, const float *centers,
					  const float *norms, int64_t n, const float *x, float *out, float *work)
{
	if ((int64_t) k * d <= EXACT_KD || blas == NULL)
	{
		for (int64_t r = 0; r < n; r++)
			for (int j = 0; j < k; j++)
				out[r * k + j] = sqrtf(sqdist(x + r * d, centers + (size_t) j * d, d));
		return;
	}
	for (int64_t b0 = 0; b0 < n; b0 += BLOCK)
	{
		int			m = n - b0 < BLOCK ? (int) (n - b0) : BLOCK;

		blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
					m, k, d, 1.0f, x + b0 * d, d, centers, d, 0.0f, work, k);
		for (int i = 0; i < m; i++)
		{
			const float *row = x + (b0 + i) * d;
			float		xx = 0.0f;

			for (int f = 0; f < d; f++)
				xx += row[f] * row[f];
			for (int j = 0; j < k; j++)
			{
				float		v = xx + norms[j] - 2.0f * work[(size_t) i * k + j];

				out[(b0 + i) * k + j] = sqrtf(v > 0.0f ? v : 0.0f);
			}
		}
	}
}
