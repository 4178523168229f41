/*
 * test_train.c
 *		Unit tests of the trainers and metrics (src/kernel/train_nn.c,
 *		src/kernel/train_mlp.c, src/kernel/train_linear.c,
 *		src/kernel/metrics.c), on OpenBLAS.
 */
#include <math.h>
#include <stdlib.h>

#include "cpu.h"
#include "train.h"
#include "unit.h"

static const MaasBlas *blas;
static MaasError kerr;

static int	ticks;
static int	epochs_seen;

static void
count_tick(void *arg)
{
	(void) arg;
	ticks++;
}

static void
count_epoch(void *arg, const MaasEpochReport *r)
{
	(void) arg;
	(void) r;
	epochs_seen++;
}

static const MaasTrainHooks hooks = {NULL, count_tick, count_epoch};

static bool
near(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
}

/* ---- metrics ---- */

static void
test_class_metrics(void)
{
	/* 3 classes: true 0,0,1,1,2,2 predicted 0,1,1,1,2,0 */
	int32_t		y[6] = {0, 0, 1, 1, 2, 2};
	float		p[18] = {
		0.8f, 0.1f, 0.1f,
		0.3f, 0.6f, 0.1f,
		0.1f, 0.8f, 0.1f,
		0.2f, 0.7f, 0.1f,
		0.1f, 0.1f, 0.8f,
		0.5f, 0.2f, 0.3f,
	};
	MaasClassMetrics m;

	CHECK(maas_class_metrics(6, 3, y, p, &m, &kerr));
	CHECK(near(m.accuracy, 4.0 / 6.0, 1e-12));
	/* precision: 1/2, 2/3, 1/1; recall: 1/2, 1, 1/2 */
	CHECK(near(m.precision, (0.5 + 2.0 / 3.0 + 1.0) / 3.0, 1e-12));
	CHECK(near(m.recall, (0.5 + 1.0 + 0.5) / 3.0, 1e-12));
	CHECK(near(m.f1, (0.5 + 0.8 + 2.0 / 3.0) / 3.0, 1e-12));
	CHECK(near(m.log_loss, -(log(0.8) + log(0.3) + log(0.8) + log(0.7) + log(0.8) + log(0.3)) / 6.0, 1e-6));
	CHECK(m.confusion[0] == 1 && m.confusion[1] == 1 && m.confusion[2] == 0);
	CHECK(m.confusion[6] == 1 && m.confusion[8] == 1);
	CHECK(!m.has_auc);
	CHECK(!maas_class_metrics(0, 3, y, p, &m, &kerr));
}

static void
test_roc_auc(void)
{
	/* scores 0.1(neg) 0.4(pos) 0.4(neg) 0.8(pos): sklearn gives 0.875 */
	int32_t		y[4] = {0, 1, 0, 1};
	float		p[8] = {0.9f, 0.1f, 0.6f, 0.4f, 0.6f, 0.4f, 0.2f, 0.8f};
	MaasClassMetrics m;

	CHECK(maas_class_metrics(4, 2, y, p, &m, &kerr));
	CHECK(m.has_auc);
	CHECK(near(m.roc_auc, 0.875, 1e-12));
}

static void
test_reg_metrics(void)
{
	float		y[4] = {1, 2, 3, 4};
	float		p[4] = {1, 2, 3, 5};
	MaasRegMetrics m;

	maas_reg_metrics(4, y, p, &m);
	CHECK(near(m.mse, 0.25, 1e-12));
	CHECK(near(m.mae, 0.25, 1e-12));
	CHECK(near(m.r2, 1.0 - 1.0 / 5.0, 1e-12));
}

/* ---- linear ---- */

static void
test_linear_exact(void)
{
	int			n = 5000,
				d = 3;
	float	   *x = maas_kalloc(sizeof(float) * n * d);
	float	   *y = maas_kalloc(sizeof(float) * n);
	uint64_t	rng = 7;
	MaasTrainSet data = {n, d, x, NULL, y};
	MaasLinearResult res;

	for (int r = 0; r < n; r++)
	{
		x[r * d] = (float) maas_rng_uniform(&rng) * 10.0f;
		x[r * d + 1] = (float) maas_rng_uniform(&rng) - 0.5f;
		x[r * d + 2] = 4.0f;	/* constant */
		y[r] = 2.0f * x[r * d] - 3.0f * x[r * d + 1] + 1.0f;
	}
	ticks = 0;
	CHECK(maas_linear_fit(blas, &data, 0.0, &hooks, &res, &kerr));
	CHECK(ticks >= 3);
	CHECK(near(res.w[0], 2.0, 1e-4));
	CHECK(near(res.w[1], -3.0, 1e-4));
	CHECK(res.w[2] == 0.0f);
	CHECK(res.dropped == 1);
	CHECK(near(res.b, 1.0, 1e-3));

	/* a ridge shrinks the coefficients */
	CHECK(maas_linear_fit(blas, &data, 1e5, NULL, &res, &kerr));
	CHECK(res.w[0] > 0.0f && res.w[0] < 2.0f);
}

static void
test_linear_collinear(void)
{
	int			n = 1000,
				d = 2;
	float	   *x = maas_kalloc(sizeof(float) * n * d);
	float	   *y = maas_kalloc(sizeof(float) * n);
	uint64_t	rng = 8;
	MaasTrainSet data = {n, d, x, NULL, y};
	MaasLinearResult res;

	for (int r = 0; r < n; r++)
	{
		x[r * d] = (float) maas_rng_uniform(&rng);
		x[r * d + 1] = x[r * d];	/* the same column twice */
		y[r] = 3.0f * x[r * d];
	}
	CHECK(maas_linear_fit(blas, &data, 0.0, NULL, &res, &kerr));
	CHECK(res.jitter > 0.0);
	/* the minimum-norm solution splits the weight */
	CHECK(near(res.w[0], 1.5, 1e-2));
	CHECK(near(res.w[1], 1.5, 1e-2));
}

/*
 * The normal equations summed as the rows come (MaasGram), a fifth of them
 * taken away again, against the exact moments and against maas_linear_fit
 * on the same training rows scaled: one column's mean is 30,000 times its
 * spread, which the sums around the first row must survive.
 */
static void
test_linear_gram(void)
{
	int			n = 3000,
				d = 3,
				nt = 0;
	float	   *x = maas_kalloc(sizeof(float) * n * d);
	float	   *y = maas_kalloc(sizeof(float) * n);
	float	   *z = maas_kalloc(sizeof(float) * n * d);
	float	   *zy = maas_kalloc(sizeof(float) * n);
	float		shift[3],
				inv[3];
	double		mean[3],
				var[3],
				rm[3] = {0, 0, 0},
				rv[3] = {0, 0, 0};
	uint64_t	rng = 11;
	MaasGram	gr;
	MaasLinearResult res,
				ref;
	MaasTrainSet data;

	for (int r = 0; r < n; r++)
	{
		x[r * d] = 10000.0f + (float) maas_rng_uniform(&rng);
		x[r * d + 1] = (float) maas_rng_uniform(&rng) - 0.5f;
		x[r * d + 2] = 4.0f;	/* constant */
		y[r] = (float) (2.0 * ((double) x[r * d] - 10000.0) - 3.0 * x[r * d + 1] + 1.0);
	}
	CHECK(maas_gram_init(&gr, d, &kerr));
	for (int r = 0; r < n; r++)
		maas_gram_add(blas, &gr, x + r * d, y[r]);
	maas_gram_remove_begin(blas, &gr);
	for (int r = 0; r < n; r += 5)
		maas_gram_add(blas, &gr, x + r * d, y[r]);
	maas_gram_flush(blas, &gr);
	CHECK(gr.n == n - n / 5);

	/* the training rows' moments, in double */
	for (int r = 0; r < n; r++)
		if (r % 5 != 0)
			for (int j = 0; j < d; j++)
				rm[j] += x[r * d + j];
	for (int j = 0; j < d; j++)
		rm[j] /= gr.n;
	for (int r = 0; r < n; r++)
		if (r % 5 != 0)
			for (int j = 0; j < d; j++)
				rv[j] += (x[r * d + j] - rm[j]) * (x[r * d + j] - rm[j]);
	maas_gram_moments(&gr, mean, var);
	for (int j = 0; j < d; j++)
	{
		rv[j] /= gr.n;
		CHECK(near(mean[j], rm[j], 1e-9 * fabs(rm[j])));
		CHECK(near(var[j], rv[j], 1e-6 * rv[j] + 1e-12));
	}
	CHECK(var[2] == 0.0);

	/* scaled as the standardize layer does, and fit both ways */
	for (int j = 0; j < d; j++)
	{
		shift[j] = (float) mean[j];
		inv[j] = 1.0f / (var[j] > 0 ? (float) sqrt(var[j]) : 1.0f);
	}
	for (int r = 0; r < n; r++)
		if (r % 5 != 0)
		{
			for (int j = 0; j < d; j++)
				z[nt * d + j] = (x[r * d + j] - shift[j]) * inv[j];
			zy[nt++] = y[r];
		}
	data = (MaasTrainSet) {nt, d, z, NULL, zy};
	CHECK(maas_linear_fit(blas, &data, 0.0, NULL, &ref, &kerr));
	CHECK(maas_linear_fit_gram(blas, &gr, shift, inv, 0.0, NULL, &res, &kerr));
	CHECK(res.dropped == 1 && res.w[2] == 0.0f);
	CHECK(near(res.w[0] * inv[0], 2.0, 1e-4));
	CHECK(near(res.w[1] * inv[1], -3.0, 1e-4));
	for (int j = 0; j < 2; j++)
		CHECK(near(res.w[j], ref.w[j], 1e-4 * fabs(ref.w[j])));
	CHECK(near(res.b, ref.b, 1e-4 * fabs(ref.b)));

	/* a ridge on the sums is the ridge on the scaled rows */
	CHECK(maas_linear_fit(blas, &data, 100.0, NULL, &ref, &kerr));
	CHECK(maas_linear_fit_gram(blas, &gr, shift, inv, 100.0, NULL, &res, &kerr));
	for (int j = 0; j < 2; j++)
		CHECK(near(res.w[j], ref.w[j], 1e-4 * fabs(ref.w[j])));

	/* unscaled: the coefficients in the columns' units */
	CHECK(maas_linear_fit_gram(blas, &gr, NULL, NULL, 0.0, NULL, &res, &kerr));
	CHECK(near(res.w[0], 2.0, 1e-3));
	CHECK(near(res.w[1], -3.0, 1e-3));
}

/*
 * The sums of 52 columns (maas's tiles, or dsyrk on a CPU without AVX2:
 * forced off here) agree, in blocks of every size and with rows taken
 * away again.
 */
static void
gram_of(int n, int d, const float *x, const float *y, MaasGram *gr)
{
	CHECK(maas_gram_init(gr, d, &kerr));
	for (int r = 0; r < n; r++)
		maas_gram_add(blas, gr, x + (size_t) r * d, y[r]);
	maas_gram_remove_begin(blas, gr);
	for (int r = 0; r < n; r += 7)
		maas_gram_add(blas, gr, x + (size_t) r * d, y[r]);
	maas_gram_flush(blas, gr);
}

static void
test_linear_gram_paths(void)
{
	int			n = 1000,
				d = 50;
	float	   *x = maas_kalloc(sizeof(float) * n * d);
	float	   *y = maas_kalloc(sizeof(float) * n);
	uint64_t	rng = 3;
	MaasCpuMask saved = maas_cpu_disabled();
	MaasGram	tiles,
				plain;

	for (int i = 0; i < n * d; i++)
		x[i] = (float) maas_rng_uniform(&rng) * 4.0f - 1.0f;
	for (int r = 0; r < n; r++)
		y[r] = x[r * d] - 2.0f * x[r * d + 7] + (float) maas_rng_uniform(&rng);
	gram_of(n, d, x, y, &tiles);
	maas_cpu_set_disabled(MAAS_CPU_BIT(MAAS_CPU_AVX2));
	gram_of(n, d, x, y, &plain);
	maas_cpu_set_disabled(saved);
	CHECK(tiles.n == plain.n && tiles.n == n - (n + 6) / 7);
	for (int i = 0; i < d + 2; i++)
		for (int j = i; j < d + 2; j++)
		{
			double		a = tiles.g[(size_t) i * tiles.ld + j],
						b = plain.g[(size_t) i * plain.ld + j];

			CHECK(near(a, b, 1e-12 * (fabs(b) + n)));
		}
}

/* ---- networks ---- */

static MaasNnConfig
base_config(int n_in, int n_out, MaasLoss loss)
{
	MaasNnConfig c;

	memset(&c, 0, sizeof(c));
	c.n_in = n_in;
	c.n_out = n_out;
	c.loss = loss;
	c.activation = MAAS_OP_RELU;
	c.optimizer = MAAS_OPTIM_ADAM;
	c.lr = 0.01f;
	c.beta1 = 0.9f;
	c.beta2 = 0.999f;
	c.eps = 1e-8f;
	c.batch_size = 16;
	c.epochs = 50;
	c.seed = 42;
	return c;
}

/* two blobs in 2-D, labels 0/1 */
static void
blobs(int n, float *x, int32_t *cls, uint64_t seed)
{
	for (int r = 0; r < n; r++)
	{
		cls[r] = r % 2;
		x[r * 2] = (float) (maas_rng_uniform(&seed) - 0.5) + (cls[r] ? 2.0f : -2.0f);
		x[r * 2 + 1] = (float) (maas_rng_uniform(&seed) - 0.5);
	}
}

static void
test_logistic_binary(void)
{
	int			n = 200;
	float	   *x = maas_kalloc(sizeof(float) * n * 2);
	int32_t    *cls = maas_kalloc(sizeof(int32_t) * n);
	float	   *proba = maas_kalloc(sizeof(float) * n * 2);
	MaasNnConfig c = base_config(2, 1, MAAS_LOSS_SIGMOID_CE);
	MaasTrainSet data = {n, 2, x, cls, NULL};
	MaasNnResult res;
	MaasClassMetrics m;

	blobs(n, x, cls, 1);
	epochs_seen = 0;
	CHECK(maas_nn_fit(blas, &c, &data, NULL, &hooks, &res, &kerr));
	CHECK(epochs_seen == 50);
	CHECK(res.epochs_run == 50);
	CHECK(res.loss[49] < res.loss[0]);
	CHECK(maas_nn_predict(blas, &c, &res.model, x, n, NULL, proba, &kerr));
	CHECK(maas_class_metrics(n, 2, cls, proba, &m, &kerr));
	CHECK(m.accuracy == 1.0);
	CHECK(m.has_auc && m.roc_auc == 1.0);
}

static void
test_mlp_xor_deterministic(void)
{
	int			n = 400;
	float	   *x = maas_kalloc(sizeof(float) * n * 2);
	int32_t    *cls = maas_kalloc(sizeof(int32_t) * n);
	float	   *proba = maas_kalloc(sizeof(float) * n * 2);
	MaasNnConfig c = base_config(2, 2, MAAS_LOSS_SOFTMAX_CE);
	MaasTrainSet data = {n, 2, x, cls, NULL};
	MaasNnResult a,
				b;
	MaasClassMetrics m;
	uint64_t	seed = 3;

	for (int r = 0; r < n; r++)
	{
		float		u = (float) maas_rng_uniform(&seed) * 2 - 1;
		float		v = (float) maas_rng_uniform(&seed) * 2 - 1;

		x[r * 2] = u;
		x[r * 2 + 1] = v;
		cls[r] = (u > 0) != (v > 0);
	}
	c.n_hidden = 1;
	c.hidden[0] = 32;
	c.dropout = 0.1f;
	c.epochs = 60;
	CHECK(maas_nn_fit(blas, &c, &data, NULL, NULL, &a, &kerr));
	CHECK(maas_nn_predict(blas, &c, &a.model, x, n, NULL, proba, &kerr));
	CHECK(maas_class_metrics(n, 2, cls, proba, &m, &kerr));
	CHECK(m.accuracy > 0.95);

	/* the same seed gives the same weights, bit for bit */
	CHECK(maas_nn_fit(blas, &c, &data, NULL, NULL, &b, &kerr));
	CHECK(memcmp(a.model.w[0], b.model.w[0], sizeof(float) * 64) == 0);
	CHECK(memcmp(a.model.w[1], b.model.w[1], sizeof(float) * 64) == 0);

	/* tanh and SGD with momentum learn it too */
	c.activation = MAAS_OP_TANH;
	c.optimizer = MAAS_OPTIM_SGD;
	c.lr = 0.1f;
	c.momentum = 0.9f;
	CHECK(maas_nn_fit(blas, &c, &data, NULL, NULL, &a, &kerr));
	CHECK(maas_nn_predict(blas, &c, &a.model, x, n, NULL, proba, &kerr));
	CHECK(maas_class_metrics(n, 2, cls, proba, &m, &kerr));
	CHECK(m.accuracy > 0.9);
}

static void
test_mlp_regression_early_stop(void)
{
	int			n = 300,
				nv = 100;
	float	   *x = maas_kalloc(sizeof(float) * (n + nv));
	float	   *y = maas_kalloc(sizeof(float) * (n + nv));
	MaasNnConfig c = base_config(1, 1, MAAS_LOSS_MSE);
	MaasTrainSet data = {n, 1, x, NULL, y};
	MaasTrainSet val = {nv, 1, x + n, NULL, y + n};
	MaasNnResult res;
	uint64_t	seed = 5;

	for (int r = 0; r < n + nv; r++)
	{
		x[r] = (float) maas_rng_uniform(&seed) * 2 - 1;
		y[r] = x[r] * x[r];
	}
	c.n_hidden = 2;
	c.hidden[0] = 16;
	c.hidden[1] = 8;
	c.epochs = 500;
	c.patience = 10;
	c.tol = 1e-5;
	c.monitor_val = true;
	CHECK(maas_nn_fit(blas, &c, &data, &val, NULL, &res, &kerr));
	CHECK(res.epochs_run < 500);
	CHECK(res.best_epoch <= res.epochs_run);
	CHECK(res.val_loss[res.best_epoch - 1] < 0.01);
}

/* mean cross-entropy of a 1-hidden-layer relu net, in double */
static double
mlp_loss(int n, int d, int h, int k, const float *x, const int32_t *y,
		 const double *w1, const double *b1, const double *w2, const double *b2)
{
	double		total = 0;

	for (int r = 0; r < n; r++)
	{
		double		hid[64],
					z[8],
					max = -1e300,
					s = 0;

		for (int j = 0; j < h; j++)
		{
			double		a = b1[j];

			for (int i = 0; i < d; i++)
				a += w1[j * d + i] * x[r * d + i];
			hid[j] = a > 0 ? a : 0;
		}
		for (int c = 0; c < k; c++)
		{
			z[c] = b2[c];
			for (int j = 0; j < h; j++)
				z[c] += w2[c * h + j] * hid[j];
			if (z[c] > max)
				max = z[c];
		}
		for (int c = 0; c < k; c++)
			s += exp(z[c] - max);
		total += log(s) + max - z[y[r]];
	}
	return total / n;
}

/*
 * One full-batch SGD step moves every weight by -lr * gradient: compare
 * with finite differences, on inputs that are not centred.
 */
static void
test_gradient(void)
{
	enum
	{
		N = 40, D = 6, H = 5, K = 3
	};
	float	   *x = maas_kalloc(sizeof(float) * N * D);
	int32_t    *y = maas_kalloc(sizeof(int32_t) * N);
	MaasNnConfig c = base_config(D, K, MAAS_LOSS_SOFTMAX_CE);
	MaasTrainSet data = {N, D, x, y, NULL};
	MaasNnResult a,
				b;
	uint64_t	seed = 11;
	double		w1[H * D],
				b1[H],
				w2[K * H],
				b2[K];
	double		lr = 1e-3,
				worst = 0;

	for (int i = 0; i < N * D; i++)
		x[i] = (float) maas_rng_uniform(&seed) * 3.0f + 1.0f;
	for (int r = 0; r < N; r++)
		y[r] = r % K;
	c.n_hidden = 1;
	c.hidden[0] = H;
	c.optimizer = MAAS_OPTIM_SGD;
	c.batch_size = N;
	c.epochs = 1;
	c.lr = 1e-30f;
	CHECK(maas_nn_fit(blas, &c, &data, NULL, NULL, &a, &kerr));
	c.lr = (float) lr;
	CHECK(maas_nn_fit(blas, &c, &data, NULL, NULL, &b, &kerr));

	for (int i = 0; i < H * D; i++)
		w1[i] = a.model.w[0][i];
	for (int i = 0; i < H; i++)
		b1[i] = a.model.b[0][i];
	for (int i = 0; i < K * H; i++)
		w2[i] = a.model.w[1][i];
	for (int i = 0; i < K; i++)
		b2[i] = a.model.b[1][i];

	/* every parameter: the step taken vs the numerical gradient */
	for (int t = 0; t < 4; t++)
	{
		double	   *p = t == 0 ? w1 : t == 1 ? b1 : t == 2 ? w2 : b2;
		int			np = t == 0 ? H * D : t == 1 ? H : t == 2 ? K * H : K;
		const float *pa = t == 0 ? a.model.w[0] : t == 1 ? a.model.b[0] : t == 2 ? a.model.w[1] : a.model.b[1];
		const float *pb = t == 0 ? b.model.w[0] : t == 1 ? b.model.b[0] : t == 2 ? b.model.w[1] : b.model.b[1];

		for (int i = 0; i < np; i++)
		{
			double		save = p[i],
						up,
						down,
						num,
						got;

			p[i] = save + 1e-5;
			up = mlp_loss(N, D, H, K, x, y, w1, b1, w2, b2);
			p[i] = save - 1e-5;
			down = mlp_loss(N, D, H, K, x, y, w1, b1, w2, b2);
			p[i] = save;
			num = (up - down) / 2e-5;
			got = ((double) pa[i] - (double) pb[i]) / lr;
			if (fabs(num - got) > worst)
				worst = fabs(num - got);
		}
	}
	if (worst > 2e-3)
		fprintf(stderr, "    worst gradient error %g\n", worst);
	CHECK(worst < 2e-3);
}

static void
test_diverges(void)
{
	int			n = 64;
	float	   *x = maas_kalloc(sizeof(float) * n);
	float	   *y = maas_kalloc(sizeof(float) * n);
	MaasNnConfig c = base_config(1, 1, MAAS_LOSS_MSE);
	MaasTrainSet data = {n, 1, x, NULL, y};
	MaasNnResult res;

	for (int r = 0; r < n; r++)
	{
		x[r] = (float) r;
		y[r] = 1e6f * r;
	}
	c.optimizer = MAAS_OPTIM_SGD;
	c.lr = 1e3f;
	CHECK_ERR(maas_nn_fit(blas, &c, &data, NULL, NULL, &res, &kerr),
			  kerr.msg, "became");
	CHECK(kerr.status == MAAS_ERR_DIVERGED);
	CHECK(res.diverged_epoch >= 1);
}

static void
test_memory_estimate(void)
{
	MaasNnConfig c = base_config(784, 10, MAAS_LOSS_SOFTMAX_CE);
	size_t		bytes;

	c.n_hidden = 1;
	c.hidden[0] = 512;
	c.batch_size = 32;
	CHECK(maas_nn_memory(&c, 48000, &bytes));
	/* 5 copies of 407,050 parameters, plus a little */
	CHECK(bytes > 5 * 407050 * 4 && bytes < 5 * 407050 * 4 + 4000000);
	c.hidden[0] = 2000000000;
	c.n_hidden = 2;
	c.hidden[1] = 2000000000;
	CHECK(!maas_nn_memory(&c, 48000, &bytes) || bytes > ((size_t) 1 << 40));
}

static void
test_shuffle(void)
{
	int32_t		idx[100];
	int			seen[100] = {0};
	uint64_t	rng = 9;

	for (int i = 0; i < 100; i++)
		idx[i] = i;
	maas_shuffle(idx, 100, &rng);
	for (int i = 0; i < 100; i++)
		seen[idx[i]]++;
	for (int i = 0; i < 100; i++)
		CHECK(seen[i] == 1);
	CHECK(maas_rng_below(&rng, 10) < 10);
}

int
main(void)
{
	char		err[256];

	blas = maas_blas_load(NULL, 1, err, sizeof(err));
	if (blas == NULL)
	{
		fprintf(stderr, "no BLAS: %s\n", err);
		return unit_finish("train");
	}
	UNIT_RUN(test_class_metrics);
	UNIT_RUN(test_roc_auc);
	UNIT_RUN(test_reg_metrics);
	UNIT_RUN(test_linear_exact);
	UNIT_RUN(test_linear_collinear);
	UNIT_RUN(test_linear_gram);
	UNIT_RUN(test_linear_gram_paths);
	UNIT_RUN(test_logistic_binary);
	UNIT_RUN(test_mlp_xor_deterministic);
	UNIT_RUN(test_mlp_regression_early_stop);
	UNIT_RUN(test_gradient);
	UNIT_RUN(test_diverges);
	UNIT_RUN(test_memory_estimate);
	UNIT_RUN(test_shuffle);
	return unit_finish("train");
}
