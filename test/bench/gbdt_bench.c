/*
 * gbdt_bench.c
 *		The C side of the boosted-trees and k-means benchmarks (run by
 *		test/bench/gbdt.py): trains maas's kernels on a data file the
 *		Python side wrote, and prints timings and holdout metrics, one
 *		"key value" a line.
 *
 *	gbdt_bench train FILE [key=value ...]	boosted trees (train_gbdt.c)
 *	gbdt_bench kmeans FILE k=8 ...			k-means (train_kmeans.c): keys k,
 *											n_init, max_iter, tol, threads,
 *											seed, silhouette (sample rows)
 *
 * FILE: int64 n, d, n_train, n_classes (0: regression), then n * d float32
 * features (row-major, NaN missing), then n targets (int32 classes, or
 * float32 values for regression).  The first n_train rows train, the rest
 * are the holdout.  Keys: the MaasGbdtConfig fields by their XGBoost names
 * (n_estimators, eta, max_depth, ..., threads, seed), and predict=1 to time
 * per-row and batch prediction on the holdout rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel.h"
#include "threads.h"
#include "train.h"
#include "train_gbdt.h"
#include "train_kmeans.h"
#include "trees.h"

void *
maas_kalloc(size_t size)
{
	return malloc(size > 0 ? size : 1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct Data
{
	int64_t		n,
				d,
				n_train,
				n_classes;
	float	   *x;
	int32_t    *cls;
	float	   *y;
} Data;

static void
read_data(const char *path, Data *data)
{
	FILE	   *f = fopen(path, "rb");
	int64_t		hdr[4];

	if (f == NULL || fread(hdr, sizeof(int64_t), 4, f) != 4)
	{
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	data->n = hdr[0];
	data->d = hdr[1];
	data->n_train = hdr[2];
	data->n_classes = hdr[3];
	data->x = malloc(sizeof(float) * data->n * data->d);
	data->cls = malloc(sizeof(int32_t) * data->n);
	data->y = malloc(sizeof(float) * data->n);
	if (fread(data->x, sizeof(float), data->n * data->d, f) != (size_t) (data->n * data->d) ||
		fread(data->n_classes ? (void *) data->cls : (void *) data->y, 4, data->n, f) !=
		(size_t) data->n)
	{
		fprintf(stderr, "%s is short\n", path);
		exit(2);
	}
	fclose(f);
}

static const char *
arg(int argc, char **argv, const char *key, const char *dflt)
{
	size_t		len = strlen(key);

	for (int i = 3; i < argc; i++)
		if (strncmp(argv[i], key, len) == 0 && argv[i][len] == '=')
			return argv[i] + len + 1;
	return dflt;
}

static void
tick(void *arg)
{
	(void) arg;
}

static void
bench_train(int argc, char **argv, const Data *data)
{
	MaasGbdtConfig cfg;
	MaasTrainSet tr = {data->n_train, (int) data->d, data->x, data->cls, data->y};
	MaasTrainSet va = {data->n - data->n_train, (int) data->d,
		data->x + data->n_train * data->d, data->cls + data->n_train, data->y + data->n_train};
	MaasTrainHooks hooks = {NULL, tick, NULL};
	MaasGbdtResult res;
	MaasError	err;
	MaasTreesPlan *plan;
	float	   *out;
	int			K;
	double		t0,
				t1;
	size_t		bytes;

	maas_gbdt_defaults(&cfg);
	cfg.objective = data->n_classes == 0 ? MAAS_GBDT_REGRESSION :
		data->n_classes == 2 ? MAAS_GBDT_BINARY : MAAS_GBDT_MULTI;
	cfg.n_classes = data->n_classes ? (int) data->n_classes : 2;
	cfg.n_estimators = atoi(arg(argc, argv, "n_estimators", "100"));
	cfg.eta = atof(arg(argc, argv, "eta", "0.3"));
	cfg.max_depth = atoi(arg(argc, argv, "max_depth", "6"));
	cfg.min_child_weight = atof(arg(argc, argv, "min_child_weight", "1"));
	cfg.lambda = atof(arg(argc, argv, "lambda", "1"));
	cfg.gamma = atof(arg(argc, argv, "gamma", "0"));
	cfg.subsample = atof(arg(argc, argv, "subsample", "1"));
	cfg.colsample_bytree = atof(arg(argc, argv, "colsample_bytree", "1"));
	cfg.max_bin = atoi(arg(argc, argv, "max_bin", "256"));
	cfg.base_score = atof(arg(argc, argv, "base_score", "nan"));
	cfg.early_stopping_rounds = atoi(arg(argc, argv, "early_stopping_rounds", "0"));
	cfg.threads = atoi(arg(argc, argv, "threads", "2"));
	cfg.seed = strtoull(arg(argc, argv, "seed", "42"), NULL, 10);

	if (maas_gbdt_memory(&cfg, tr.n, tr.d, va.n, &bytes))
		printf("memory_bound_mb %.1f\n", bytes / 1048576.0);
	t0 = now();
	if (!maas_gbdt_fit(&cfg, &tr, &va, &hooks, &res, &err))
	{
		fprintf(stderr, "fit failed: %s\n", err.msg);
		exit(1);
	}
	t1 = now();
	printf("train_s %.3f\n", t1 - t0);
	printf("rounds %d\nbest_round %d\nnodes %d\n", res.rounds_run, res.best_round,
		   res.trees.n_nodes);

	if (atoi(arg(argc, argv, "predict", "1")) == 0)
		return;
	plan = maas_trees_compile(&res.trees, &err);
	if (plan == NULL)
	{
		fprintf(stderr, "compile failed: %s\n", err.msg);
		exit(1);
	}
	K = plan->n_groups;
	out = malloc(sizeof(float) * va.n * K);
	t0 = now();
	maas_trees_forward_parallel(plan, va.n, va.x, out, cfg.threads);
	t1 = now();
	printf("predict_batch_rows_per_s %.0f\n", va.n / (t1 - t0));
	t0 = now();
	maas_trees_forward(plan, va.n, va.x, out);
	t1 = now();
	printf("predict_batch1_rows_per_s %.0f\n", va.n / (t1 - t0));
	{
		int64_t		m = va.n < 100000 ? va.n : 100000;
		float		sink = 0;

		t0 = now();
		for (int64_t r = 0; r < m; r++)
		{
			maas_trees_forward(plan, 1, va.x + r * va.d, out);
			sink += out[0];
		}
		t1 = now();
		printf("predict_row_us %.3f\n", (t1 - t0) / m * 1e6);
		maas_trees_forward(plan, va.n, va.x, out);
		(void) sink;
	}
	if (cfg.objective == MAAS_GBDT_REGRESSION)
	{
		MaasRegMetrics rm;

		maas_reg_metrics(va.n, va.y, out, &rm);
		printf("holdout_mse %.6f\nholdout_r2 %.6f\n", rm.mse, rm.r2);
	}
	else
	{
		float	   *proba = malloc(sizeof(float) * va.n * cfg.n_classes);
		MaasClassMetrics cm;

		for (int64_t r = 0; r < va.n; r++)
		{
			if (K == 1)
			{
				float		p = 1.0f / (1.0f + expf(-out[r]));

				proba[2 * r] = 1.0f - p;
				proba[2 * r + 1] = p;
			}
			else
			{
				memcpy(proba + r * K, out + r * K, sizeof(float) * K);
				maas_softmax(proba + r * K, K);
			}
		}
		if (!maas_class_metrics(va.n, cfg.n_classes, va.cls, proba, &cm, &err))
		{
			fprintf(stderr, "metrics: %s\n", err.msg);
			exit(1);
		}
		printf("holdout_accuracy %.6f\nholdout_logloss %.6f\n", cm.accuracy, cm.log_loss);
		if (cm.has_auc)
			printf("holdout_auc %.6f\n", cm.roc_auc);
	}
}

static void
bench_kmeans(int argc, char **argv, const Data *data)
{
	MaasKmeansConfig cfg;
	MaasKmeansResult res;
	MaasError	err;
	char		msg[256];
	const MaasBlas *blas;
	double		t0,
				t1;

	maas_kmeans_defaults(&cfg);
	/* BLAS gets the same threads as the pool (maas.training_threads) */
	blas = maas_blas_load(NULL, atoi(arg(argc, argv, "threads", "2")), msg, sizeof(msg));
	if (blas == NULL)
	{
		fprintf(stderr, "no BLAS: %s\n", msg);
		exit(1);
	}
	cfg.k = atoi(arg(argc, argv, "k", "8"));
	cfg.n_init = atoi(arg(argc, argv, "n_init", "1"));
	cfg.max_iter = atoi(arg(argc, argv, "max_iter", "300"));
	cfg.tol = atof(arg(argc, argv, "tol", "1e-4"));
	cfg.threads = atoi(arg(argc, argv, "threads", "2"));
	cfg.seed = strtoull(arg(argc, argv, "seed", "42"), NULL, 10);
	cfg.silhouette_sample = atoll(arg(argc, argv, "silhouette", "0"));
	t0 = now();
	if (!maas_kmeans_fit(blas, &cfg, data->n, (int) data->d, data->x, NULL, &res, &err))
	{
		fprintf(stderr, "kmeans failed: %s\n", err.msg);
		exit(1);
	}
	t1 = now();
	printf("kmeans_s %.3f\ninertia %.6g\nn_iter %d\n", t1 - t0, res.inertia, res.n_iter);
	if (cfg.silhouette_sample > 0)
		printf("silhouette %.6f\n", res.silhouette);
}

int
main(int argc, char **argv)
{
	Data		data;

	if (argc < 3)
	{
		fprintf(stderr, "usage: gbdt_bench train|kmeans FILE [key=value ...]\n");
		return 2;
	}
	read_data(argv[2], &data);
	if (strcmp(argv[1], "train") == 0)
		bench_train(argc, argv, &data);
	else if (strcmp(argv[1], "kmeans") == 0)
		bench_kmeans(argc, argv, &data);
	else
	{
		fprintf(stderr, "unknown command %s\n", argv[1]);
		return 2;
	}
	return 0;
}
