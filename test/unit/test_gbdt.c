/*
 * test_gbdt.c
 *		Unit tests of the boosted-trees trainer (train_gbdt.c): the split a
 *		perfectly separable feature gives, missing values and their learned
 *		direction, every parameter and data error, the same model for any
 *		thread count, seeds, early stopping, class weights, progress and
 *		losses, out of memory at every allocation, the memory bound, and
 *		holdout metrics against XGBoost's with the same parameters on five
 *		data sets (test/fixtures/gbdt_reference.json).
 */
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_data.h"
#include "json.h"
#include "train_gbdt.h"
#include "unit.h"

static MaasTreesPlan *
compile(const MaasGbdtResult *res)
{
	MaasError	err;
	MaasTreesPlan *p = maas_trees_compile(&res->trees, &err);

	if (p == NULL)
		fprintf(stderr, "    compile: %s\n", err.msg);
	return p;
}

/* margins of n rows through the serving path */
static float *
margins(const MaasGbdtResult *res, int64_t n, const float *x)
{
	MaasTreesPlan *p = compile(res);
	float	   *out = maas_kalloc(sizeof(float) * n * res->trees.n_groups);

	if (p == NULL)
		return NULL;
	maas_trees_forward(p, n, x, out);
	return out;
}

static void
test_separable(void)
{
	float		x[20];
	int32_t		cls[20];
	MaasTrainSet data = {20, 1, x, cls, NULL};
	MaasGbdtConfig cfg;
	MaasGbdtResult res;
	MaasError	err;
	float	   *m;

	for (int i = 0; i < 20; i++)
	{
		x[i] = (float) i;
		cls[i] = i >= 12;
	}
	maas_gbdt_defaults(&cfg);
	cfg.n_estimators = 1;
	cfg.max_depth = 1;
	cfg.min_child_weight = 0.0;
	cfg.eta = 1.0;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &res, &err));
	CHECK(res.trees.n_trees == 1 && res.trees.n_nodes == 3);
	/* the cut sits between the classes, halfway */
	CHECK(res.trees.feature[0] == 0 && res.trees.threshold[0] == 11.5f);
	CHECK(res.trees.left[0] == 1 && res.trees.right[0] == 2);
	CHECK(res.trees.value[1] < 0.0f && res.trees.value[2] > 0.0f);
	CHECK(res.trees.gain[0] > 0.0f && res.trees.cover[0] > 0.0f);
	m = margins(&res, 20, x);
	for (int i = 0; i < 20; i++)
		CHECK((m[i] > 0.0f) == (cls[i] == 1));
	CHECK(maas_trees_check(&res.trees, &err));
	/* the base margin is the logit of the positive rate */
	CHECK(fabsf(res.trees.base_score[0] - logf(8.0f / 12.0f)) < 1e-6f);

	/* with base_score given, XGBoost's way: a probability */
	cfg.base_score = 0.5;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &res, &err));
	CHECK(res.trees.base_score[0] == 0.0f);
}

static void
test_missing_values(void)
{
	/* x0 missing exactly when the class is 1; x1 is noise */
	int			n = 200;
	float	   *x = maas_kalloc(sizeof(float) * n * 2);
	int32_t    *cls = maas_kalloc(sizeof(int32_t) * n);
	MaasTrainSet data = {n, 2, x, cls, NULL};
	MaasGbdtConfig cfg;
	MaasGbdtResult res;
	MaasError	err;
	float	   *m;
	float		probe[4] = {NAN, 0.0f, 1.0f, 0.0f};
	float		out[2];
	MaasTreesPlan *p;

	for (int i = 0; i < n; i++)
	{
		cls[i] = i % 3 == 0;
		x[2 * i] = cls[i] ? NAN : (float) (i % 17);
		x[2 * i + 1] = (float) ((i * 7) % 11);
	}
	maas_gbdt_defaults(&cfg);
	cfg.n_estimators = 5;
	cfg.max_depth = 2;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &res, &err));
	/* the root splits x0 with missing values on their own side */
	CHECK(res.trees.feature[0] == 0);
	m = margins(&res, n, x);
	for (int i = 0; i < n; i++)
		CHECK((m[i] > 0.0f) == (cls[i] == 1));
	p = compile(&res);
	maas_trees_forward(p, 2, probe, out);
	CHECK(out[0] > 0.0f && out[1] < 0.0f);

	/* x0 never missing in training: NaN goes right, as XGBoost */
	for (int i = 0; i < n; i++)
		x[2 * i] = cls[i] ? 100.0f : (float) (i % 17);
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &res, &err));
	for (int i = 0; i < res.trees.n_nodes; i++)
		if (res.trees.feature[i] >= 0)
			CHECK(res.trees.default_left[i] == 0);
}

static void
test_regression(void)
{
	int			n = 500;
	float	   *x = maas_kalloc(sizeof(float) * n * 3);
	float	   *y = maas_kalloc(sizeof(float) * n);
	MaasTrainSet data = {n, 3, x, NULL, y};
	MaasGbdtConfig cfg;
	MaasGbdtResult res;
	MaasError	err;
	float	   *m;
	double		mse = 0.0;

	for (int i = 0; i < n; i++)
	{
		x[3 * i] = (float) (i % 50);
		x[3 * i + 1] = (float) ((i * 13) % 7);
		x[3 * i + 2] = (float) ((i * 29) % 101);
		y[i] = 2.0f * x[3 * i] + (x[3 * i + 1] > 3 ? 10.0f : 0.0f);
	}
	maas_gbdt_defaults(&cfg);
	cfg.objective = MAAS_GBDT_REGRESSION;
	cfg.n_estimators = 200;
	cfg.max_depth = 4;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &res, &err));
	m = margins(&res, n, x);
	for (int i = 0; i < n; i++)
		mse += (m[i] - y[i]) * (m[i] - y[i]);
	mse /= n;
	CHECK(mse < 0.5);
	/* the training loss reported is that mean squared error */
	CHECK(fabs(res.train_loss[res.rounds_run - 1] - mse) < 1e-3 * (1.0 + mse));
	for (int r = 1; r < res.rounds_run; r++)
		CHECK(res.train_loss[r] <= res.train_loss[r - 1] + 1e-9);
	/* base: the mean target */
	{
		double		mean = 0.0;

		for (int i = 0; i < n; i++)
			mean += y[i];
		CHECK(fabs(res.trees.base_score[0] - mean / n) < 1e-3);
	}
	/* importance: x0 and x1 carry it, x2 is noise */
	{
		MaasImportance imp[3];

		maas_trees_importance(&res.trees, imp);
		CHECK(imp[0].total_gain > imp[1].total_gain && imp[1].total_gain > imp[2].total_gain);
	}
}

static void
test_config_errors(void)
{
	static const struct
	{
		const char *msg;
	}			want[] = {
		{"n_estimators must be between 1 and 100000, not 0"},
		{"learning_rate must be greater than 0 and at most 1, not -0.1"},
		{"learning_rate must be greater than 0 and at most 1, not 0"},
		{"max_depth must be between 1 and 16, not 0"},
		{"max_depth must be between 1 and 16, not 100"},
		{"min_child_weight must be at least 0, not -1"},
		{"reg_lambda must be at least 0, not -1"},
		{"reg_alpha must be at least 0, not nan"},
		{"gamma must be at least 0, not -2"},
		{"subsample must be greater than 0 and at most 1, not 1.5"},
		{"colsample_bytree must be greater than 0 and at most 1, not 0"},
		{"max_bin must be between 2 and 256, not 1"},
		{"max_bin must be between 2 and 256, not 1000"},
		{"early_stopping_rounds must be between 0 and 100000, not -1"},
		{"number of threads must be between 1 and 64, not 0"},
		{"base_score must be between 0 and 1 for a binary objective, not 1"},
		{"binary objective needs 2 classes, not 3"},
		{"number of classes must be between 2 and 100000, not 1"},
		{"class weight 1 must be a finite number of at least 0"},
		{"class weights are all 0"},
		{"class weights need a classification objective"},
	};
	double		bad_w[2] = {1.0, -1.0};
	double		zero_w[2] = {0.0, 0.0};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
	{
		MaasGbdtConfig cfg;
		MaasError	err;

		maas_gbdt_defaults(&cfg);
		switch (i)
		{
			case 0: cfg.n_estimators = 0; break;
			case 1: cfg.eta = -0.1; break;
			case 2: cfg.eta = 0.0; break;
			case 3: cfg.max_depth = 0; break;
			case 4: cfg.max_depth = 100; break;
			case 5: cfg.min_child_weight = -1; break;
			case 6: cfg.lambda = -1; break;
			case 7: cfg.alpha = NAN; break;
			case 8: cfg.gamma = -2; break;
			case 9: cfg.subsample = 1.5; break;
			case 10: cfg.colsample_bytree = 0; break;
			case 11: cfg.max_bin = 1; break;
			case 12: cfg.max_bin = 1000; break;
			case 13: cfg.early_stopping_rounds = -1; break;
			case 14: cfg.threads = 0; break;
			case 15: cfg.base_score = 1.0; break;
			case 16: cfg.n_classes = 3; break;
			case 17: cfg.objective = MAAS_GBDT_MULTI; cfg.n_classes = 1; break;
			case 18: cfg.class_weight = bad_w; break;
			case 19: cfg.class_weight = zero_w; break;
			case 20: cfg.objective = MAAS_GBDT_REGRESSION; cfg.class_weight = zero_w; break;
		}
		memset(&err, 0, sizeof(err));
		if (maas_gbdt_check_config(&cfg, &err) || strcmp(err.msg, want[i].msg) != 0 ||
			err.status != MAAS_ERR_INVALID)
		{
			unit_fail(__FILE__, __LINE__, want[i].msg);
			fprintf(stderr, "    got: %s\n", err.msg);
		}
	}
	{
		MaasGbdtConfig cfg;
		MaasError	err;

		maas_gbdt_defaults(&cfg);
		CHECK(maas_gbdt_check_config(&cfg, &err));
	}
}

static void
test_data_errors(void)
{
	float		x[6] = {1, 2, 3, 4, 5, 6};
	int32_t		cls[6] = {0, 1, 0, 1, 0, 1};
	int32_t		one[6] = {1, 1, 1, 1, 1, 1};
	int32_t		bad[6] = {0, 1, 2, 1, 0, 1};
	float		y[6] = {1, 2, NAN, 4, 5, 6};
	MaasTrainSet bad_val = {2, 1, x, bad + 1, y};
	MaasTrainSet wide_val = {2, 2, x, cls, y};
	const struct
	{
		int32_t    *cls;			/* the 6 training rows' classes */
		int64_t		n;				/* training rows */
		const MaasTrainSet *val;
		MaasGbdtObjective objective;
		int			early_stopping_rounds;
		int			max_depth;
		const char *msg;
	}			cases[] = {
		{one, 6, NULL, MAAS_GBDT_BINARY, 0, 6, "the training rows have only one class"},
		{bad, 6, NULL, MAAS_GBDT_BINARY, 0, 6,
		"class 2 of training row 2 is out of range (0 to 1)"},
		{cls, 6, &bad_val, MAAS_GBDT_BINARY, 0, 6,
		"class 2 of validation row 1 is out of range (0 to 1)"},
		{cls, 6, NULL, MAAS_GBDT_BINARY, 3, 6, "early stopping needs validation rows"},
		{cls, 6, NULL, MAAS_GBDT_REGRESSION, 0, 6, "target of training row 2 is not finite"},
		{cls, 0, NULL, MAAS_GBDT_REGRESSION, 0, 6, "no training rows"},
		{cls, 6, &wide_val, MAAS_GBDT_BINARY, 0, 6,
		"validation rows have 2 features, expected 1"},
		{cls, 6, NULL, MAAS_GBDT_BINARY, 0, 0, "max_depth must be between 1 and 16, not 0"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		MaasTrainSet data = {cases[i].n, 1, x, cases[i].cls, y};
		MaasGbdtConfig cfg;
		MaasGbdtResult res;
		MaasError	err;
		bool		ok;

		maas_gbdt_defaults(&cfg);
		cfg.n_estimators = 2;
		cfg.objective = cases[i].objective;
		cfg.early_stopping_rounds = cases[i].early_stopping_rounds;
		cfg.max_depth = cases[i].max_depth;
		memset(&err, 0, sizeof(err));
		ok = maas_gbdt_fit(&cfg, &data, cases[i].val, NULL, &res, &err);
		if (ok || strstr(err.msg, cases[i].msg) == NULL)
		{
			unit_fail(__FILE__, __LINE__, cases[i].msg);
			fprintf(stderr, "    got: %s (%s)\n", ok ? "success" : "failure", err.msg);
		}
	}
}

/* a noisy two-class problem with missing values, n rows of d features */
static void
make_problem(int64_t n, int d, float **x, int32_t **cls, uint64_t seed)
{
	uint64_t	rng = seed;

	*x = maas_kalloc(sizeof(float) * n * d);
	*cls = maas_kalloc(sizeof(int32_t) * n);
	for (int64_t i = 0; i < n; i++)
	{
		double		s = 0.0;

		for (int f = 0; f < d; f++)
		{
			float		v = (float) (maas_rng_uniform(&rng) * 4.0 - 2.0);

			(*x)[i * d + f] = maas_rng_uniform(&rng) < 0.05 ? NAN : v;
			if (f < 3 && !isnan((*x)[i * d + f]))
				s += (f + 1) * v * (f == 1 ? v : 1.0);
		}
		(*cls)[i] = s + maas_rng_uniform(&rng) * 2.0 - 1.0 > 1.0;
	}
}

static bool
same_trees(const MaasTrees *a, const MaasTrees *b)
{
	size_t		n = a->n_nodes;

	return a->n_trees == b->n_trees && a->n_nodes == b->n_nodes &&
		memcmp(a->feature, b->feature, n * 4) == 0 &&
		memcmp(a->threshold, b->threshold, n * 4) == 0 &&
		memcmp(a->left, b->left, n * 4) == 0 && memcmp(a->right, b->right, n * 4) == 0 &&
		memcmp(a->default_left, b->default_left, n) == 0 &&
		memcmp(a->value, b->value, n * 4) == 0 && memcmp(a->gain, b->gain, n * 4) == 0 &&
		memcmp(a->base_score, b->base_score, a->n_groups * 4) == 0;
}

static void
test_threads_and_seeds(void)
{
	int64_t		n = 30000;
	int			d = 8;
	float	   *x;
	int32_t    *cls;
	MaasTrainSet data;
	MaasGbdtConfig cfg;
	MaasGbdtResult r1,
				r2,
				r3;
	MaasError	err;

	make_problem(n, d, &x, &cls, 7);
	data = (MaasTrainSet) {n, d, x, cls, NULL};
	maas_gbdt_defaults(&cfg);
	cfg.n_estimators = 8;
	cfg.subsample = 0.7;
	cfg.colsample_bytree = 0.6;
	cfg.max_bin = 64;
	cfg.threads = 1;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &r1, &err));
	cfg.threads = 2;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &r2, &err));
	cfg.threads = 3;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &r3, &err));
	CHECK(same_trees(&r1.trees, &r2.trees));
	CHECK(same_trees(&r1.trees, &r3.trees));
	CHECK(r1.train_loss[7] == r2.train_loss[7]);
	cfg.seed = 43;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &r3, &err));
	CHECK(!same_trees(&r1.trees, &r3.trees));
	cfg.seed = 42;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &r3, &err));
	CHECK(same_trees(&r1.trees, &r3.trees));
	/* with 8 features and colsample 0.6, each tree uses 4 of them */
	for (int t = 0; t < r1.trees.n_trees; t++)
	{
		bool		used[8] = {false};
		int			k = 0;
		int			end = t + 1 < r1.trees.n_trees ? r1.trees.roots[t + 1] : r1.trees.n_nodes;

		for (int i = r1.trees.roots[t]; i < end; i++)
			if (r1.trees.feature[i] >= 0 && !used[r1.trees.feature[i]])
			{
				used[r1.trees.feature[i]] = true;
				k++;
			}
		CHECK(k <= 4);
	}
}

typedef struct Progress
{
	int			ticks;
	int			epochs;
	int			last;
	int			improved;
} Progress;

static void
on_tick(void *arg)
{
	((Progress *) arg)->ticks++;
}

static void
on_epoch(void *arg, const MaasEpochReport *rep)
{
	Progress   *p = arg;

	p->epochs++;
	if (rep->epoch != p->last + 1)
		unit_fail(__FILE__, __LINE__, "rounds reported out of order");
	p->last = rep->epoch;
	p->improved += rep->improved;
	if (!rep->has_val || !isfinite(rep->loss) || !isfinite(rep->val_loss))
		unit_fail(__FILE__, __LINE__, "round report without losses");
}

static void
test_early_stopping_and_progress(void)
{
	int64_t		n = 6000;
	int			d = 6;
	float	   *x;
	int32_t    *cls;
	MaasTrainSet data,
				val;
	MaasGbdtConfig cfg;
	MaasGbdtResult res;
	MaasError	err;
	Progress	prog = {0, 0, 0, 0};
	MaasTrainHooks hooks = {&prog, on_tick, on_epoch};
	float	   *m;
	double		ll = 0.0;

	make_problem(n, d, &x, &cls, 11);
	data = (MaasTrainSet) {4000, d, x, cls, NULL};
	val = (MaasTrainSet) {2000, d, x + 4000 * d, cls + 4000, NULL};
	maas_gbdt_defaults(&cfg);
	cfg.n_estimators = 500;
	cfg.eta = 0.5;
	cfg.max_depth = 6;
	cfg.early_stopping_rounds = 5;
	CHECK(maas_gbdt_fit(&cfg, &data, &val, &hooks, &res, &err));
	CHECK(res.rounds_run < 500);
	CHECK(res.best_round == res.rounds_run - 5);
	CHECK(res.trees.n_trees == res.best_round);
	CHECK(maas_trees_check(&res.trees, &err));
	CHECK(prog.epochs == res.rounds_run && prog.last == res.rounds_run);
	CHECK(prog.ticks >= res.rounds_run * cfg.max_depth);
	CHECK(prog.improved >= 1);
	/* the best round's validation loss is the smallest, and it is the log
	 * loss the served model gives on those rows */
	for (int r = 0; r < res.rounds_run; r++)
		CHECK(res.val_loss[r] >= res.val_loss[res.best_round - 1]);
	m = margins(&res, val.n, val.x);
	for (int64_t i = 0; i < val.n; i++)
	{
		double		p = 1.0 / (1.0 + exp(-(double) m[i]));

		ll -= log(val.cls[i] ? p : 1.0 - p);
	}
	ll /= val.n;
	CHECK(fabs(ll - res.val_loss[res.best_round - 1]) < 1e-4);
	CHECK(res.val_score[res.best_round - 1] > 0.8);
	/* the last training loss reported is the log loss of all the rounds run
	 * (the model keeps fewer): refit without stopping to compare */
	{
		MaasGbdtResult full;
		float	   *mt;
		double		tl = 0.0;

		cfg.early_stopping_rounds = 0;
		cfg.n_estimators = res.rounds_run;
		CHECK(maas_gbdt_fit(&cfg, &data, &val, NULL, &full, &err));
		mt = margins(&full, data.n, data.x);
		for (int64_t i = 0; i < data.n; i++)
		{
			double		p = 1.0 / (1.0 + exp(-(double) mt[i]));

			tl -= log(data.cls[i] ? p : 1.0 - p);
		}
		tl /= data.n;
		CHECK(fabs(tl - full.train_loss[full.rounds_run - 1]) < 1e-4 * (1.0 + tl));
		CHECK(fabs(full.train_loss[res.rounds_run - 1] - res.train_loss[res.rounds_run - 1]) < 1e-9);
		cfg.n_estimators = 500;
		cfg.early_stopping_rounds = 5;
	}

	/* without early stopping every round is kept, validation still reported */
	cfg.early_stopping_rounds = 0;
	cfg.n_estimators = 20;
	CHECK(maas_gbdt_fit(&cfg, &data, &val, NULL, &res, &err));
	CHECK(res.rounds_run == 20 && res.best_round == 20 && res.trees.n_trees == 20);
	CHECK(res.val_loss != NULL && res.val_loss[19] > 0.0);
}

static void
test_class_weights(void)
{
	int64_t		n = 4000;
	int			d = 4;
	float	   *x;
	int32_t    *cls;
	MaasTrainSet data;
	MaasGbdtConfig cfg;
	MaasGbdtResult plain,
				heavy,
				twice;
	MaasError	err;
	double		w[2] = {1.0, 5.0};
	double		w2[2] = {2.0, 2.0};
	float	   *a,
			   *b;
	int			pos_a = 0,
				pos_b = 0,
				hit_a = 0,
				hit_b = 0;

	make_problem(n, d, &x, &cls, 3);
	data = (MaasTrainSet) {n, d, x, cls, NULL};
	maas_gbdt_defaults(&cfg);
	cfg.n_estimators = 10;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &plain, &err));
	cfg.class_weight = w;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &heavy, &err));
	a = margins(&plain, n, x);
	b = margins(&heavy, n, x);
	for (int64_t i = 0; i < n; i++)
	{
		pos_a += a[i] > 0.0f;
		pos_b += b[i] > 0.0f;
		hit_a += a[i] > 0.0f && cls[i] == 1;
		hit_b += b[i] > 0.0f && cls[i] == 1;
	}
	/* class 1 weighs five times as much: predicted more often, found more */
	CHECK(pos_b > pos_a + n / 50 && hit_b > hit_a);
	CHECK(heavy.trees.base_score[0] > plain.trees.base_score[0] + 1.0f);

	/*
	 * Equal weights of 2 double every gradient and hessian exactly, so with
	 * lambda, min_child_weight and gamma doubled too the trees are the same
	 * (gamma above XGBoost's fixed 1e-6, which does not double), with gains
	 * and covers doubled.
	 */
	cfg.lambda = 0.5;
	cfg.min_child_weight = 0.5;
	cfg.gamma = 1e-5;
	cfg.class_weight = NULL;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &plain, &err));
	cfg.lambda = 1.0;
	cfg.min_child_weight = 1.0;
	cfg.gamma = 2e-5;
	cfg.class_weight = w2;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &twice, &err));
	CHECK(plain.trees.n_nodes == twice.trees.n_nodes);
	CHECK(memcmp(plain.trees.feature, twice.trees.feature, 4 * plain.trees.n_nodes) == 0);
	CHECK(memcmp(plain.trees.threshold, twice.trees.threshold, 4 * plain.trees.n_nodes) == 0);
	CHECK(memcmp(plain.trees.value, twice.trees.value, 4 * plain.trees.n_nodes) == 0);
	for (int i = 0; i < plain.trees.n_nodes; i++)
		CHECK(twice.trees.cover[i] == 2.0f * plain.trees.cover[i]);
}

static void
test_multiclass_groups(void)
{
	FxData		all;
	MaasGbdtConfig cfg;
	MaasGbdtResult res;
	MaasError	err;
	MaasTrainSet data;
	float	   *m;
	int			good = 0;

	CHECK(fx_load_dataset("iris.csv", false, &all));
	data = (MaasTrainSet) {all.n, all.d, all.x, all.cls, NULL};
	maas_gbdt_defaults(&cfg);
	cfg.objective = MAAS_GBDT_MULTI;
	cfg.n_classes = 3;
	cfg.n_estimators = 10;
	CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &res, &err));
	CHECK(res.trees.n_groups == 3 && res.trees.n_trees == 30);
	for (int t = 0; t < 30; t++)
		CHECK(res.trees.groups[t] == t % 3);
	m = margins(&res, all.n, all.x);
	for (int64_t i = 0; i < all.n; i++)
	{
		int			best = 0;

		for (int k = 1; k < 3; k++)
			if (m[i * 3 + k] > m[i * 3 + best])
				best = k;
		good += best == all.cls[i];
	}
	CHECK(good >= 145);
}

/* ---- a cancel: the tick does not return ---- */

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

/* what test_cancel fits: three rounds on two threads */
static void
cancel_config(MaasGbdtConfig *cfg)
{
	maas_gbdt_defaults(cfg);
	cfg->n_estimators = 3;
	cfg->threads = 2;
}

static void
test_cancel(void)
{
	int64_t		n = 300000;
	int			d = 4;
	float	   *x;
	int32_t    *cls;
	MaasTrainSet data;
	MaasTrainHooks hooks = {NULL, cancel_tick, NULL};
	int			total;

	make_problem(n, d, &x, &cls, 13);
	data = (MaasTrainSet) {n, d, x, cls, NULL};

	/* how many ticks a whole fit makes: binning ticks by slabs of rows */
	{
		MaasGbdtConfig cfg;
		MaasGbdtResult res;
		MaasError	err;

		cancel_config(&cfg);
		cancel_ticks = 0;
		cancel_at = -1;
		CHECK(maas_gbdt_fit(&cfg, &data, NULL, &hooks, &res, &err));
		total = cancel_ticks;
		CHECK(total > 3 * cfg.max_depth + 4);
	}
	/* unwound at every tick in turn, the next fit still works */
	for (int at = 1; at <= total; at += (at < 12 ? 1 : 5))
	{
		MaasGbdtConfig cfg;
		MaasGbdtResult res;
		MaasError	err;
		volatile bool returned = false;

		cancel_config(&cfg);
		cancel_ticks = 0;
		cancel_at = at;
		if (setjmp(cancel_jmp) == 0)
		{
			maas_gbdt_fit(&cfg, &data, NULL, &hooks, &res, &err);
			returned = true;
		}
		CHECK(!returned && cancel_ticks == at);
	}
	{
		MaasGbdtConfig cfg;
		MaasGbdtResult a,
					b;
		MaasError	err;

		cancel_config(&cfg);
		cancel_at = -1;
		CHECK(maas_gbdt_fit(&cfg, &data, NULL, &hooks, &a, &err));
		cfg.threads = 1;
		CHECK(maas_gbdt_fit(&cfg, &data, NULL, NULL, &b, &err));
		CHECK(same_trees(&a.trees, &b.trees));
	}
}

static void
test_out_of_memory(void)
{
	int64_t		n = 300;
	int			d = 3;
	float	   *x;
	int32_t    *cls;
	bool		done = false;
	long		i;

	make_problem(n, d, &x, &cls, 5);
	for (i = 0; i < 10000 && !done; i++)
	{
		MaasTrainSet data = {n, d, x, cls, NULL};
		MaasTrainSet val = {50, d, x, cls, NULL};
		MaasGbdtConfig cfg;
		MaasGbdtResult res;
		MaasError	err;

		maas_gbdt_defaults(&cfg);
		cfg.n_estimators = 40;	/* enough for the model arrays to grow */
		cfg.subsample = 0.8;
		cfg.class_weight = (double[]) {1.0, 2.0};
		arena_fail_after(i);
		done = maas_gbdt_fit(&cfg, &data, &val, NULL, &res, &err);
		arena_fail_after(-1);
		if (!done)
			CHECK(err.status == MAAS_ERR_NOMEM);
	}
	CHECK(done && i > 20);
}

static void
test_memory_bound(void)
{
	int64_t		n = 20000;
	int			d = 10;
	float	   *x;
	int32_t    *cls;
	MaasTrainSet data,
				val;
	MaasGbdtConfig cfg;
	MaasGbdtResult res;
	MaasError	err;
	size_t		bound,
				before,
				used;

	make_problem(n, d, &x, &cls, 9);
	data = (MaasTrainSet) {15000, d, x, cls, NULL};
	val = (MaasTrainSet) {5000, d, x + 15000 * d, cls + 15000, NULL};
	maas_gbdt_defaults(&cfg);
	cfg.n_estimators = 60;
	cfg.max_depth = 8;
	cfg.subsample = 0.9;
	cfg.threads = 2;
	CHECK(maas_gbdt_memory(&cfg, data.n, d, val.n, &bound));
	before = arena_in_use();
	CHECK(maas_gbdt_fit(&cfg, &data, &val, NULL, &res, &err));
	used = arena_in_use() - before;
	CHECK(used <= bound);
	CHECK(used > bound / 50);
	cfg.n_estimators = MAAS_GBDT_MAX_ROUNDS;
	cfg.objective = MAAS_GBDT_MULTI;
	cfg.n_classes = 100000;
	CHECK(maas_gbdt_memory(&cfg, INT64_C(1) << 40, 1000, 0, &bound) == false ||
		  bound > ((size_t) 1 << 40));
}

/* ---- against XGBoost ---- */

static double
jnum(const MaasJson *obj, const char *key)
{
	const MaasJson *v = maas_json_get(obj, key);

	return v && v->type == MAAS_JSON_NUMBER ? v->u.number : NAN;
}

static void
test_against_xgboost(void)
{
	size_t		len;
	char	   *text = fx_read("gbdt_reference.json", &len);
	MaasError	err;
	MaasJson   *root = text ? maas_json_parse(text, len, 0, NULL, &err) : NULL;
	const MaasJson *sets = maas_json_get(root, "datasets");

	CHECK(sets != NULL && sets->n == 5);
	for (int i = 0; sets && i < sets->n; i++)
	{
		const MaasJson *e = maas_json_at(sets, i);
		const char *file = maas_json_get(e, "file")->u.string;
		const char *obj = maas_json_get(e, "objective")->u.string;
		const MaasJson *params = maas_json_get(e, "params");
		bool		reg = strcmp(obj, "reg:squarederror") == 0;
		FxData		all,
					train,
					test;
		MaasGbdtConfig cfg;
		MaasGbdtResult res;
		MaasTrainSet tr;
		float	   *m;

		CHECK(fx_load_dataset(file, reg, &all));
		fx_split(&all, false, &train);
		fx_split(&all, true, &test);
		CHECK(train.n == (int64_t) jnum(e, "n_train") && test.n == (int64_t) jnum(e, "n_test"));
		maas_gbdt_defaults(&cfg);
		cfg.objective = reg ? MAAS_GBDT_REGRESSION :
			strcmp(obj, "binary:logistic") == 0 ? MAAS_GBDT_BINARY : MAAS_GBDT_MULTI;
		cfg.n_classes = reg ? 2 : (int) jnum(e, "n_classes");
		cfg.n_estimators = (int) jnum(params, "n_estimators");
		cfg.max_depth = (int) jnum(params, "max_depth");
		cfg.eta = jnum(params, "eta");
		cfg.base_score = 0.5;	/* XGBoost 1.7's, for the same parameters */
		tr = (MaasTrainSet) {train.n, train.d, train.x, train.cls, train.y};
		CHECK(maas_gbdt_fit(&cfg, &tr, NULL, NULL, &res, &err));
		m = margins(&res, test.n, test.x);
		if (reg)
		{
			MaasRegMetrics rm;

			maas_reg_metrics(test.n, test.y, m, &rm);
			printf("    %-18s mse %.2f r2 %.4f   xgboost mse %.2f r2 %.4f\n", file,
				   rm.mse, rm.r2, jnum(e, "mse"), jnum(e, "r2"));
			/* regression: R^2 within 0.02 of XGBoost's */
			CHECK(fabs(rm.r2 - jnum(e, "r2")) <= 0.02);
		}
		else
		{
			int			k = cfg.n_classes;
			float	   *proba = maas_kalloc(sizeof(float) * test.n * k);
			MaasClassMetrics cm;

			for (int64_t r = 0; r < test.n; r++)
			{
				if (res.trees.n_groups == 1)
				{
					float		p = 1.0f / (1.0f + expf(-m[r]));

					proba[2 * r] = 1.0f - p;
					proba[2 * r + 1] = p;
				}
				else
				{
					float		mx = m[r * k],
								sum = 0.0f;

					for (int c = 1; c < k; c++)
						mx = fmaxf(mx, m[r * k + c]);
					for (int c = 0; c < k; c++)
						sum += (proba[r * k + c] = expf(m[r * k + c] - mx));
					for (int c = 0; c < k; c++)
						proba[r * k + c] /= sum;
				}
			}
			CHECK(maas_class_metrics(test.n, k, test.cls, proba, &cm, &err));
			printf("    %-18s accuracy %.4f log loss %.4f   xgboost accuracy %.4f log loss %.4f\n",
				   file, cm.accuracy, cm.log_loss, jnum(e, "accuracy"), jnum(e, "log_loss"));
			/*
			 * classification: accuracy within 2 test rows' worth (at
			 * least 0.02) and log loss within 0.05 of XGBoost's; AUC
			 * within 0.005
			 */
			CHECK(fabs(cm.accuracy - jnum(e, "accuracy")) <= fmax(0.02, 2.0 / test.n) + 1e-9);
			CHECK(fabs(cm.log_loss - jnum(e, "log_loss")) <= 0.05);
			if (cm.has_auc)
			{
				printf("    %-18s auc %.4f   xgboost auc %.4f\n", file, cm.roc_auc,
					   jnum(e, "roc_auc"));
				CHECK(fabs(cm.roc_auc - jnum(e, "roc_auc")) <= 0.005);
			}
		}
	}
}

int
main(void)
{
	UNIT_RUN(test_separable);
	UNIT_RUN(test_missing_values);
	UNIT_RUN(test_regression);
	UNIT_RUN(test_config_errors);
	UNIT_RUN(test_data_errors);
	UNIT_RUN(test_threads_and_seeds);
	UNIT_RUN(test_early_stopping_and_progress);
	UNIT_RUN(test_class_weights);
	UNIT_RUN(test_multiclass_groups);
	UNIT_RUN(test_cancel);
	UNIT_RUN(test_out_of_memory);
	UNIT_RUN(test_memory_bound);
	UNIT_RUN(test_against_xgboost);
	return unit_finish("gbdt");
}
