/*
 * train_kmeans.h
 *		k-means clustering: k-means++ seeding, Lloyd iterations with the
 *		distances through sgemm, the silhouette on a sample, and the
 *		distances the serving op returns.
 *
 * The algorithm is scikit-learn's KMeans(algorithm="lloyd"), step for step,
 * so the same initial centers give the same clusters: each iteration
 * assigns every row to the nearest center (the first on ties; distances as
 * |c|^2 - 2 x.c from sgemm over blocks of rows), moves each center to the
 * mean of its rows, and re-seeds an empty cluster with the row farthest from
 * its center (taken from that row's cluster).  It stops when no row changed
 * cluster ("strict convergence"), when the centers moved by at most tol
 * (the sum of their squared shifts, tol relative to the mean variance of
 * the features, as scikit-learn), or after max_iter; without strict
 * convergence the rows are assigned once more to the final centers.  The
 * inertia is the sum of exact squared distances.  The sgemm runs on the
 * calling thread (with the BLAS library's own threads); the pool's threads
 * (cfg->threads) take the nearest centers and the sums and never call BLAS.  Greedy k-means++ as
 * scikit-learn's: 2 + floor(ln k) candidates a step, the best kept.
 *
 * Serving: the model is one "kmeans" layer over its centers (tensor
 * "kmeans.centers", F32 [k, d]) that yields the Euclidean distance to each
 * center -- scikit-learn's transform() -- and maas_predict is the nearest
 * (the arg-min, first on ties).  Not a dense layer with W = 2C and
 * b = -|c|^2 (whose arg-max is the same cluster): its outputs are no
 * distances, and a softmax over them is no probability, so
 * maas_predict_proba would mislead; the distances are what a user can read.
 */
#ifndef MAAS_TRAIN_KMEANS_H
#define MAAS_TRAIN_KMEANS_H

#include "blas.h"
#include "kernel.h"
#include "train.h"

#define MAAS_KMEANS_MAX_K		10000
#define MAAS_KMEANS_SILHOUETTE	10000	/* default sample */

typedef struct MaasKmeansConfig
{
	int			k;				/* clusters, 1 .. min(n, MAAS_KMEANS_MAX_K) */
	int			max_iter;		/* 1 .. 100000 (300) */
	double		tol;			/* >= 0 (1e-4), relative as scikit-learn */
	int			n_init;			/* k-means++ runs, the best kept (1) */
	const float *init;			/* k * d initial centers, or NULL */
	int64_t		silhouette_sample;	/* rows for the silhouette, 0: none */
	int			threads;		/* 1 .. MAAS_POOL_MAX_THREADS */
	uint64_t	seed;
} MaasKmeansConfig;

extern void maas_kmeans_defaults(MaasKmeansConfig *cfg);

typedef struct MaasKmeansResult
{
	float	   *centers;		/* k * d */
	int32_t    *labels;			/* n: the cluster of each row */
	int64_t    *sizes;			/* k: rows in each */
	double		inertia;		/* sum of squared distances to the nearest center */
	int			n_iter;			/* Lloyd iterations of the run kept */
	bool		converged;		/* stopped before max_iter */
	double		silhouette;		/* mean silhouette on the sample; NaN if none */
	int64_t		silhouette_rows;
} MaasKmeansResult;

/* an upper bound of the bytes maas_kmeans_fit allocates */
extern bool maas_kmeans_memory(const MaasKmeansConfig *cfg, int64_t n, int d, size_t *bytes);

/*
 * Cluster n rows of d features (all finite).  hooks->tick between
 * iterations and k-means++ steps; hooks->epoch after each iteration
 * (epoch = iteration, loss = inertia of the assignment it made, divided by
 * n).  MAAS_ERR_INVALID for a bad config or data, MAAS_ERR_NOMEM.
 */
extern bool maas_kmeans_fit(const MaasBlas *blas, const MaasKmeansConfig *cfg,
							int64_t n, int d, const float *x,
							const MaasTrainHooks *hooks, MaasKmeansResult *res,
							MaasError *err);

/*
 * Mean silhouette of n labelled rows, on a seeded sample of at most sample
 * rows (all when n <= sample): for each, a = mean distance to the others of
 * its cluster, b = the smallest mean distance to another cluster's,
 * s = (b - a) / max(a, b), 0 for a row alone in its cluster.  NaN with
 * fewer than 2 clusters in the sample.  Distances are exact (no sgemm).
 */
extern bool maas_silhouette(int64_t n, int d, const float *x, const int32_t *labels,
							int k, int64_t sample, uint64_t seed, int threads,
							const MaasTick *tick, double *out, MaasError *err);

/* ---- serving ---- */

/* |c|^2 of each center (k), for maas_kmeans_distances */
extern void maas_kmeans_norms(int k, int d, const float *centers, float *norms);

/* floats of work maas_kmeans_distances needs for n_rows rows */
extern size_t maas_kmeans_workspace(int k, int64_t n_rows);

/*
 * Euclidean distances of n rows to the k centers: out[r * k + j].  Small
 * models (k * d <= 4096) compute them exactly row by row; bigger ones as
 * sqrt(max(|x|^2 + |c|^2 - 2 x.c, 0)) with sgemm over blocks of rows.
 */
extern void maas_kmeans_distances(const MaasBlas *blas, int k, int d,
								  const float *centers, const float *norms,
								  int64_t n, const float *x, float *out, float *work);

#endif							/* MAAS_TRAIN_KMEANS_H */
