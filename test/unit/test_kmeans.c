/*
 * test_kmeans.c
 *		Unit tests of k-means (train_kmeans.c): a case computed by hand,
 *		scikit-learn's KMeans from the same initial centers on three data
 *		sets (same labels, centers, inertia, iterations and silhouette:
 *		test/fixtures/kmeans_reference.json), seeds and thread counts, empty
 *		clusters, every bad input, the serving distances, out of memory.
 */
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_data.h"
#include "json.h"
#include "train_kmeans.h"
#include "unit.h"

static const MaasBlas *blas;

static void
test_hand_computed(void)
{
	float		x[4] = {0.0f, 1.0f, 10.0f, 11.0f};
	float		init[2] = {0.0f, 1.0f};
	MaasKmeansConfig cfg;
	MaasKmeansResult res;
	MaasError	err;
	double		s_near,
				s_far,
				want;

	maas_kmeans_defaults(&cfg);
	cfg.k = 2;
	cfg.init = init;
	CHECK(maas_kmeans_fit(blas, &cfg, 4, 1, x, NULL, &res, &err));
	/*
	 * iteration 1: {0} and {1, 10, 11} -> centers 0, 7.33; iteration 2:
	 * {0, 1} and {10, 11} -> 0.5, 10.5; iteration 3: no row moves
	 */
	CHECK(res.n_iter == 3 && res.converged);
	CHECK(res.labels[0] == 0 && res.labels[1] == 0 && res.labels[2] == 1 && res.labels[3] == 1);
	CHECK(res.centers[0] == 0.5f && res.centers[1] == 10.5f);
	CHECK(res.inertia == 1.0);
	CHECK(res.sizes[0] == 2 && res.sizes[1] == 2);
	/* silhouette: a = 1 for every row; b = 10.5 (rows 0, 3) or 9.5 (1, 2) */
	s_far = (10.5 - 1.0) / 10.5;
	s_near = (9.5 - 1.0) / 9.5;
	want = (2 * s_far + 2 * s_near) / 4;
	CHECK(fabs(res.silhouette - want) < 1e-6 && res.silhouette_rows == 4);
}

static void
test_errors(void)
{
	float		x[6] = {0, 1, 2, 3, 4, 5};
	float		bad[6] = {0, 1, NAN, 3, 4, 5};
	float		init[2] = {0, INFINITY};
	static const struct
	{
		const char *msg;
	}			want[] = {
		{"k (7) must be at most the number of rows (6)"},
		{"k must be between 1 and 10000, not 0"},
		{"max_iter must be between 1 and 100000, not 0"},
		{"tol must be a finite number of at least 0"},
		{"n_init must be between 1 and 1000, not 0"},
		{"n_init must be 1 with initial centers"},
		{"row 2 has a missing or infinite value"},
		{"initial center 1 is not finite"},
		{"number of threads must be between 1 and 64, not 0"},
		{"no rows to cluster"},
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
	{
		MaasKmeansConfig cfg;
		MaasKmeansResult res;
		MaasError	err;
		const float *data = x;
		int64_t		n = 6;

		maas_kmeans_defaults(&cfg);
		cfg.k = 2;
		switch (i)
		{
			case 0: cfg.k = 7; break;
			case 1: cfg.k = 0; break;
			case 2: cfg.max_iter = 0; break;
			case 3: cfg.tol = -1; break;
			case 4: cfg.n_init = 0; break;
			case 5: cfg.n_init = 2; cfg.init = x; break;
			case 6: data = bad; break;
			case 7: cfg.init = init; cfg.k = 2; break;
			case 8: cfg.threads = 0; break;
			case 9: n = 0; break;
		}
		memset(&err, 0, sizeof(err));
		if (maas_kmeans_fit(blas, &cfg, n, 1, data, NULL, &res, &err) ||
			strcmp(err.msg, want[i].msg) != 0 || err.status != MAAS_ERR_INVALID)
		{
			unit_fail(__FILE__, __LINE__, want[i].msg);
			fprintf(stderr, "    got: %s\n", err.msg);
		}
	}
}

/* ---- against scikit-learn ---- */

static void
test_against_sklearn(void)
{
	size_t		len;
	char	   *text = fx_read("kmeans_reference.json", &len);
	MaasError	err;
	MaasJson   *root = text ? maas_json_parse(text, len, 0, NULL, &err) : NULL;
	const MaasJson *cases = maas_json_get(root, "cases");

	CHECK(cases != NULL && cases->n == 3);
	for (int c = 0; cases && c < cases->n; c++)
	{
		const MaasJson *e = maas_json_at(cases, c);
		const char *file = maas_json_get(e, "file")->u.string;
		const MaasJson *rows = maas_json_get(e, "init_rows");
		const MaasJson *labels = maas_json_get(e, "labels");
		const MaasJson *centers = maas_json_get(e, "centers");
		int			k = (int) maas_json_get(e, "k")->u.number;
		FxData		data;
		MaasKmeansConfig cfg;
		MaasKmeansResult res;
		float	   *init;
		int64_t		same = 0;
		double		worst = 0.0;

		CHECK(fx_load_dataset(file, false, &data));
		init = maas_kalloc(sizeof(float) * k * data.d);
		for (int j = 0; j < k; j++)
			memcpy(init + j * data.d, data.x + (int64_t) maas_json_at(rows, j)->u.number * data.d,
				   sizeof(float) * data.d);
		maas_kmeans_defaults(&cfg);
		cfg.k = k;
		cfg.init = init;
		cfg.tol = maas_json_get(e, "tol")->u.number;
		cfg.max_iter = (int) maas_json_get(e, "max_iter")->u.number;
		CHECK(maas_kmeans_fit(blas, &cfg, data.n, data.d, data.x, NULL, &res, &err));
		CHECK(labels->n == data.n);
		for (int64_t r = 0; r < data.n; r++)
			same += res.labels[r] == (int32_t) maas_json_at(labels, (int) r)->u.number;
		for (int j = 0; j < k; j++)
			for (int f = 0; f < data.d; f++)
			{
				double		want = maas_json_at(maas_json_at(centers, j), f)->u.number;

				worst = fmax(worst, fabs(res.centers[j * data.d + f] - want) / fmax(1.0, fabs(want)));
			}
		printf("    %-12s k %2d: %lld of %lld labels as scikit-learn, iterations %d (%d), "
			   "inertia %.6g (%.6g), silhouette %.6f (%.6f), centers within %.1e\n",
			   file, k, (long long) same, (long long) data.n, res.n_iter,
			   (int) maas_json_get(e, "n_iter")->u.number, res.inertia,
			   maas_json_get(e, "inertia")->u.number, res.silhouette,
			   maas_json_get(e, "silhouette")->u.number, worst);
		CHECK(same == data.n);
		CHECK(res.n_iter == (int) maas_json_get(e, "n_iter")->u.number);
		CHECK(worst < 1e-4);
		CHECK(fabs(res.inertia - maas_json_get(e, "inertia")->u.number) <=
			  1e-5 * maas_json_get(e, "inertia")->u.number);
		CHECK(fabs(res.silhouette - maas_json_get(e, "silhouette")->u.number) < 1e-4);
	}
}

/* ---- seeds, threads, empty clusters ---- */

/* n points around 5 centers in 3-d, with a little noise */
static float *
blobs(int64_t n, uint64_t seed)
{
	float	   *x = maas_kalloc(sizeof(float) * n * 3);
	uint64_t	rng = seed;

	for (int64_t r = 0; r < n; r++)
	{
		int			c = (int) (r % 5);

		for (int f = 0; f < 3; f++)
			x[r * 3 + f] = (float) (c * 3 * (f + 1) % 7) + (float) (maas_rng_uniform(&rng) - 0.5);
	}
	return x;
}

static void
test_seeds_and_threads(void)
{
	int64_t		n = 20000;
	float	   *x = blobs(n, 1);
	MaasKmeansConfig cfg;
	MaasKmeansResult a,
				b,
				c;
	MaasError	err;

	maas_kmeans_defaults(&cfg);
	cfg.k = 5;
	cfg.silhouette_sample = 1000;
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, NULL, &a, &err));
	cfg.threads = 2;
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, NULL, &b, &err));
	cfg.threads = 3;
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, NULL, &c, &err));
	CHECK(memcmp(a.centers, b.centers, sizeof(float) * 15) == 0);
	CHECK(memcmp(a.centers, c.centers, sizeof(float) * 15) == 0);
	CHECK(memcmp(a.labels, c.labels, sizeof(int32_t) * n) == 0);
	CHECK(a.inertia == c.inertia && a.silhouette == c.silhouette && a.n_iter == c.n_iter);
	/* five well separated blobs: found, each with a fifth of the rows */
	for (int j = 0; j < 5; j++)
		CHECK(a.sizes[j] == n / 5);
	CHECK(a.silhouette > 0.7 && a.silhouette_rows == 1000);
	/* another seed: another sample at least */
	cfg.seed = 7;
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, NULL, &b, &err));
	CHECK(b.silhouette != a.silhouette);
	/* more runs can only lower the inertia of the first */
	cfg.seed = 42;
	cfg.k = 9;
	cfg.threads = 1;
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, NULL, &a, &err));
	cfg.n_init = 4;
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, NULL, &b, &err));
	CHECK(b.inertia <= a.inertia);
}

static void
test_empty_cluster(void)
{
	/* two groups; the third initial center is far from everything */
	float		x[8] = {0, 0.5f, 1, 1.5f, 10, 10.5f, 11, 11.5f};
	float		init[3] = {0.0f, 10.0f, 1000.0f};
	MaasKmeansConfig cfg;
	MaasKmeansResult res;
	MaasError	err;

	maas_kmeans_defaults(&cfg);
	cfg.k = 3;
	cfg.init = init;
	CHECK(maas_kmeans_fit(blas, &cfg, 8, 1, x, NULL, &res, &err));
	/* the far center took a row and every cluster has rows */
	CHECK(res.sizes[0] > 0 && res.sizes[1] > 0 && res.sizes[2] > 0);
	CHECK(res.centers[2] < 100.0f);
	CHECK(res.sizes[0] + res.sizes[1] + res.sizes[2] == 8);
	{
		double		inertia = 0.0;

		for (int r = 0; r < 8; r++)
		{
			double		t = x[r] - res.centers[res.labels[r]];

			inertia += t * t;
		}
		CHECK(fabs(inertia - res.inertia) < 1e-6);
	}
	/* k = 1: the mean */
	cfg.k = 1;
	cfg.init = NULL;
	CHECK(maas_kmeans_fit(blas, &cfg, 8, 1, x, NULL, &res, &err));
	CHECK(fabsf(res.centers[0] - 5.75f) < 1e-6f && isnan(res.silhouette));
	/* k = n with duplicates: every cluster still gets a row */
	{
		float		dup[5] = {1, 1, 1, 2, 3};

		cfg.k = 5;
		CHECK(maas_kmeans_fit(blas, &cfg, 5, 1, dup, NULL, &res, &err));
		CHECK(res.inertia < 1e-9);
	}
}

typedef struct Count
{
	int			ticks;
	int			epochs;
} Count;

static void
count_tick(void *arg)
{
	((Count *) arg)->ticks++;
}

static void
count_epoch(void *arg, const MaasEpochReport *rep)
{
	((Count *) arg)->epochs++;
	if (!(rep->loss >= 0.0))
		unit_fail(__FILE__, __LINE__, "iteration without a loss");
}

static void
test_progress(void)
{
	int64_t		n = 5000;
	float	   *x = blobs(n, 3);
	MaasKmeansConfig cfg;
	MaasKmeansResult res;
	MaasError	err;
	Count		cnt = {0, 0};
	MaasTrainHooks hooks = {&cnt, count_tick, count_epoch};

	maas_kmeans_defaults(&cfg);
	cfg.k = 4;
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, &hooks, &res, &err));
	CHECK(cnt.epochs == res.n_iter);
	CHECK(cnt.ticks >= res.n_iter + cfg.k - 1);
	cfg.max_iter = 1;
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, NULL, &res, &err));
	CHECK(res.n_iter == 1);
}

/* ---- serving ---- */

static void
test_distances(void)
{
	int			k = 70;
	int			d = 80;			/* k * d > 4096: the sgemm path */
	int64_t		n = 700;
	float	   *c = maas_kalloc(sizeof(float) * k * d);
	float	   *x = maas_kalloc(sizeof(float) * n * d);
	float	   *norms = maas_kalloc(sizeof(float) * k);
	float	   *out = maas_kalloc(sizeof(float) * n * k);
	float	   *work = maas_kalloc(sizeof(float) * maas_kmeans_workspace(k, n));
	uint64_t	rng = 5;
	double		worst = 0.0;

	for (int i = 0; i < k * d; i++)
		c[i] = (float) maas_rng_uniform(&rng);
	for (int64_t i = 0; i < n * d; i++)
		x[i] = (float) maas_rng_uniform(&rng);
	maas_kmeans_norms(k, d, c, norms);
	maas_kmeans_distances(blas, k, d, c, norms, n, x, out, work);
	for (int64_t r = 0; r < n; r++)
		for (int j = 0; j < k; j++)
		{
			double		s = 0.0;

			for (int f = 0; f < d; f++)
				s += ((double) x[r * d + f] - c[j * d + f]) * ((double) x[r * d + f] - c[j * d + f]);
			worst = fmax(worst, fabs(out[r * k + j] - sqrt(s)));
		}
	CHECK(worst < 1e-4);
	/* small models: exact, the nearest is the training label */
	{
		float		pts[4] = {0.0f, 1.0f, 10.0f, 11.0f};
		float		cen[2] = {0.5f, 10.5f};
		float		nn[2];
		float		dist[8];

		maas_kmeans_norms(2, 1, cen, nn);
		maas_kmeans_distances(blas, 2, 1, cen, nn, 4, pts, dist, NULL);
		CHECK(dist[0] == 0.5f && dist[1] == 10.5f && dist[6] == 10.5f && dist[7] == 0.5f);
	}
}

static jmp_buf cancel_jmp;
static int	cancel_at;
static int	cancel_ticks;

static void
cancel_tick(void *arg)
{
	(void) arg;
	if (++cancel_ticks == cancel_at)
		longjmp(cancel_jmp, 1);
}

/* a tick that does not return (the server's cancel) at every point */
static void
test_cancel(void)
{
	int64_t		n = 600000;
	float	   *x = blobs(n, 4);
	MaasTrainHooks hooks = {NULL, cancel_tick, NULL};
	MaasKmeansConfig cfg;
	MaasKmeansResult res;
	MaasError	err;
	int			total;

	maas_kmeans_defaults(&cfg);
	cfg.k = 5;
	cfg.threads = 2;
	cfg.max_iter = 5;
	cfg.silhouette_sample = 500;
	cancel_ticks = 0;
	cancel_at = -1;
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, &hooks, &res, &err));
	total = cancel_ticks;
	/* slabs of rows tick: more than one tick an iteration */
	CHECK(total > 2 * res.n_iter + cfg.k);
	for (int at = 1; at <= total; at += (at < 10 ? 1 : 7))
	{
		volatile bool returned = false;

		cancel_ticks = 0;
		cancel_at = at;
		if (setjmp(cancel_jmp) == 0)
		{
			maas_kmeans_fit(blas, &cfg, n, 3, x, &hooks, &res, &err);
			returned = true;
		}
		CHECK(!returned && cancel_ticks == at);
	}
	cancel_at = -1;
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, &hooks, &res, &err));
}

static void
test_out_of_memory(void)
{
	int64_t		n = 300;
	float	   *x = blobs(n, 9);
	bool		done = false;
	long		i;

	for (i = 0; i < 1000 && !done; i++)
	{
		MaasKmeansConfig cfg;
		MaasKmeansResult res;
		MaasError	err;

		maas_kmeans_defaults(&cfg);
		cfg.k = 4;
		cfg.n_init = 2;
		arena_fail_after(i);
		done = maas_kmeans_fit(blas, &cfg, n, 3, x, NULL, &res, &err);
		arena_fail_after(-1);
		if (!done)
			CHECK(err.status == MAAS_ERR_NOMEM);
	}
	CHECK(done && i > 10);
}

static void
test_memory_bound(void)
{
	int64_t		n = 50000;
	float	   *x = blobs(n, 2);
	MaasKmeansConfig cfg;
	MaasKmeansResult res;
	MaasError	err;
	size_t		bound,
				before;

	maas_kmeans_defaults(&cfg);
	cfg.k = 6;
	cfg.n_init = 2;
	cfg.threads = 2;
	CHECK(maas_kmeans_memory(&cfg, n, 3, &bound));
	before = arena_in_use();
	CHECK(maas_kmeans_fit(blas, &cfg, n, 3, x, NULL, &res, &err));
	CHECK(arena_in_use() - before <= bound);
}

int
main(void)
{
	char		err[256];

	blas = maas_blas_load(NULL, 1, err, sizeof(err));
	if (blas == NULL)
	{
		unit_fail(__FILE__, __LINE__, "no BLAS library");
		fprintf(stderr, "    %s\n", err);
		return unit_finish("kmeans");
	}
	UNIT_RUN(test_hand_computed);
	UNIT_RUN(test_errors);
	UNIT_RUN(test_against_sklearn);
	UNIT_RUN(test_seeds_and_threads);
	UNIT_RUN(test_empty_cluster);
	UNIT_RUN(test_progress);
	UNIT_RUN(test_distances);
	UNIT_RUN(test_cancel);
	UNIT_RUN(test_out_of_memory);
	UNIT_RUN(test_memory_bound);
	return unit_finish("kmeans");
}
