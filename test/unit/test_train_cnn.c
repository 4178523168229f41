/*
 * test_train_cnn.c
 *		Unit tests of the CNN trainer (src/kernel/train_cnn.c) and of the
 *		loop it shares with the MLP (train_nn.c), on OpenBLAS.
 *
 * The gradient: one full-batch SGD step of a tiny CNN (two convolutions,
 * padding, stride, pooling and not, a hidden dense layer) moves every
 * parameter by -lr times the gradient, which must match central
 * differences of a double-precision forward pass written here.  Then: the
 * same seed gives the same model, bit for bit, another seed another; a
 * CNN learns to tell bars from crosses; predictions go through the
 * runtime and match the reference forward pass; the memory estimate is
 * what the buffers take; bad geometries are refused with their messages.
 * The gradient and the seed again on two threads.
 */
#include <math.h>
#include <stdlib.h>

#include "train.h"
#include "unit.h"

static const MaasBlas *blas;
static MaasError kerr;
static int	ticks;

static void
count_tick(void *arg)
{
	(void) arg;
	ticks++;
}

static const MaasTrainHooks hooks = {NULL, count_tick, NULL};

static MaasCnnConfig
tiny_config(int c, int h, int w, int k)
{
	MaasCnnConfig cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.in_c = c;
	cfg.in_h = h;
	cfg.in_w = w;
	cfg.nn.n_in = c * h * w;
	cfg.nn.n_out = k;
	cfg.nn.loss = MAAS_LOSS_SOFTMAX_CE;
	cfg.nn.activation = MAAS_OP_RELU;
	cfg.nn.optimizer = MAAS_OPTIM_ADAM;
	cfg.nn.lr = 0.01f;
	cfg.nn.beta1 = 0.9f;
	cfg.nn.beta2 = 0.999f;
	cfg.nn.eps = 1e-8f;
	cfg.nn.batch_size = 16;
	cfg.nn.epochs = 3;
	cfg.nn.seed = 42;
	cfg.threads = blas != NULL && blas->info != NULL ? blas->info->threads : 1;
	return cfg;
}

/* ---- a double-precision forward pass of a CNN ---- */

typedef struct RefNet
{
	const MaasCnnConfig *cfg;
	const MaasCnnModel *m;		/* geometry */
	double	   *w[MAAS_CNN_MAX_CONV];
	double	   *b[MAAS_CNN_MAX_CONV];
	double	   *hw[MAAS_NN_MAX_HIDDEN + 1];
	double	   *hb[MAAS_NN_MAX_HIDDEN + 1];
} RefNet;

static double *
dup_d(const float *v, size_t n)
{
	double	   *d = maas_kalloc_array(n, sizeof(double));

	for (size_t i = 0; i < n; i++)
		d[i] = v[i];
	return d;
}

/* class probabilities of one row */
static void
ref_forward(const RefNet *r, const float *row, double *proba)
{
	const MaasCnnModel *m = r->m;
	double		buf[2][4096];
	int			cur = 0;
	int			n;

	n = r->cfg->nn.n_in;
	for (int i = 0; i < n; i++)
		buf[0][i] = row[i];
	for (int s = 0; s < m->n_conv; s++)
	{
		const MaasConv2d *g = &m->conv[s];
		double	   *in = buf[cur],
				   *out = buf[1 - cur];

		for (int oc = 0; oc < g->c_out; oc++)
			for (int oy = 0; oy < g->h_out; oy++)
				for (int ox = 0; ox < g->w_out; ox++)
				{
					double		v = r->b[s][oc];

					for (int ic = 0; ic < g->c_in; ic++)
						for (int ki = 0; ki < g->kh; ki++)
							for (int kj = 0; kj < g->kw; kj++)
							{
								int			iy = oy * g->stride_h - g->pad_top + ki;
								int			ix = ox * g->stride_w - g->pad_left + kj;

								if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w)
									v += r->w[s][((oc * g->c_in + ic) * g->kh + ki) * g->kw + kj] *
										in[(ic * g->h + iy) * g->w + ix];
							}
					out[(oc * g->h_out + oy) * g->w_out + ox] = v > 0 ? v : 0;
				}
		cur = 1 - cur;
		n = g->c_out * g->h_out * g->w_out;
		if (m->pooled[s])
		{
			const MaasPool2d *p = &m->pool[s];

			in = buf[cur];
			out = buf[1 - cur];
			for (int c = 0; c < p->c; c++)
				for (int oy = 0; oy < p->h_out; oy++)
					for (int ox = 0; ox < p->w_out; ox++)
					{
						double		best = -INFINITY;

						for (int ki = 0; ki < p->kh; ki++)
							for (int kj = 0; kj < p->kw; kj++)
							{
								double		v = in[(c * p->h + oy * p->stride_h + ki) * p->w +
												   ox * p->stride_w + kj];

								best = v > best ? v : best;
							}
						out[(c * p->h_out + oy) * p->w_out + ox] = best;
					}
			cur = 1 - cur;
			n = p->c * p->h_out * p->w_out;
		}
	}
	for (int l = 0; l < m->head.n_layers; l++)
	{
		double	   *in = buf[cur],
				   *out = buf[1 - cur];
		int			n_out = m->head.n_out[l];

		for (int j = 0; j < n_out; j++)
		{
			double		v = r->hb[l][j];

			for (int i = 0; i < n; i++)
				v += r->hw[l][j * n + i] * in[i];
			out[j] = l < m->head.n_layers - 1 && v < 0 ? 0 : v;
		}
		cur = 1 - cur;
		n = n_out;
	}
	{
		double		mx = -INFINITY,
					s = 0;

		for (int j = 0; j < n; j++)
			mx = buf[cur][j] > mx ? buf[cur][j] : mx;
		for (int j = 0; j < n; j++)
			s += exp(buf[cur][j] - mx);
		for (int j = 0; j < n; j++)
			proba[j] = exp(buf[cur][j] - mx) / s;
	}
}

static double
ref_loss(const RefNet *r, int n, const float *x, const int32_t *y)
{
	double		sum = 0,
				p[16];

	for (int i = 0; i < n; i++)
	{
		ref_forward(r, x + (size_t) i * r->cfg->nn.n_in, p);
		sum -= log(p[y[i]]);
	}
	return sum / n;
}

static RefNet
ref_of(const MaasCnnConfig *cfg, const MaasCnnModel *m)
{
	RefNet		r = {cfg, m, {0}, {0}, {0}, {0}};

	for (int s = 0; s < m->n_conv; s++)
	{
		r.w[s] = dup_d(m->w[s], maas_conv2d_weights(&m->conv[s]));
		r.b[s] = dup_d(m->b[s], (size_t) m->conv[s].c_out);
	}
	for (int l = 0; l < m->head.n_layers; l++)
	{
		r.hw[l] = dup_d(m->head.w[l], (size_t) m->head.n_out[l] * m->head.n_in[l]);
		r.hb[l] = dup_d(m->head.b[l], (size_t) m->head.n_out[l]);
	}
	return r;
}

static void
rand_data(int n, int d, int k, float *x, int32_t *y, uint64_t seed)
{
	for (int i = 0; i < n * d; i++)
		x[i] = (float) (2.0 * maas_rng_uniform(&seed) - 1.0);
	for (int i = 0; i < n; i++)
		y[i] = (int32_t) maas_rng_below(&seed, (uint32_t) k);
}

/* ---- tests ---- */

static void
check_gradient(int f0)
{
	enum
	{
		N = 10, C = 2, H = 7, W = 6, K = 3
	};
	MaasCnnConfig cfg = tiny_config(C, H, W, K);
	float	   *x = maas_kalloc(sizeof(float) * N * C * H * W);
	int32_t    *y = maas_kalloc(sizeof(int32_t) * N);
	MaasTrainSet data = {N, C * H * W, x, y, NULL};
	MaasCnnResult a,
				b;
	RefNet		r;
	double		lr = 1e-3,
				worst = 0,
				scale = 0;
	int			checked = 0;

	rand_data(N, C * H * W, K, x, y, 3);
	/* conv 3x3 pad 1 -> f0 x 7 x 6, pool 2 -> f0 x 3 x 3; conv 2x2 stride 1 -> 3 x 2 x 2 */
	cfg.n_conv = 2;
	cfg.conv[0] = (MaasCnnConv) {f0, 3, 1, 1, 2};
	cfg.conv[1] = (MaasCnnConv) {3, 2, 1, 0, 1};
	cfg.nn.n_hidden = 1;
	cfg.nn.hidden[0] = 5;
	cfg.nn.optimizer = MAAS_OPTIM_SGD;
	cfg.nn.batch_size = N;
	cfg.nn.epochs = 1;
	cfg.nn.lr = 1e-30f;
	CHECK(maas_cnn_fit(blas, &cfg, &data, NULL, NULL, &a, &kerr));
	cfg.nn.lr = (float) lr;
	CHECK(maas_cnn_fit(blas, &cfg, &data, NULL, NULL, &b, &kerr));
	CHECK(a.model.n_conv == 2 && a.model.pooled[0] && !a.model.pooled[1]);
	CHECK(a.model.head.n_in[0] == 12);
	r = ref_of(&cfg, &a.model);

	/* every parameter: the step taken against the numerical gradient */
	for (int t = 0; t < 2 * (a.model.n_conv + a.model.head.n_layers); t++)
	{
		int			s = t / 2;
		bool		conv = s < a.model.n_conv;
		int			l = s - a.model.n_conv;
		double	   *p;
		const float *pa,
				   *pb;
		size_t		np;

		if (conv)
		{
			p = t % 2 ? r.b[s] : r.w[s];
			pa = t % 2 ? a.model.b[s] : a.model.w[s];
			pb = t % 2 ? b.model.b[s] : b.model.w[s];
			np = t % 2 ? (size_t) a.model.conv[s].c_out : maas_conv2d_weights(&a.model.conv[s]);
		}
		else
		{
			p = t % 2 ? r.hb[l] : r.hw[l];
			pa = t % 2 ? a.model.head.b[l] : a.model.head.w[l];
			pb = t % 2 ? b.model.head.b[l] : b.model.head.w[l];
			np = (size_t) a.model.head.n_out[l] * (t % 2 ? 1 : a.model.head.n_in[l]);
		}
		for (size_t i = 0; i < np; i++)
		{
			double		save = p[i],
						up,
						down,
						num,
						got;

			p[i] = save + 1e-6;
			up = ref_loss(&r, N, x, y);
			p[i] = save - 1e-6;
			down = ref_loss(&r, N, x, y);
			p[i] = save;
			num = (up - down) / 2e-6;
			got = ((double) pa[i] - (double) pb[i]) / lr;
			if (fabs(num - got) > worst)
				worst = fabs(num - got);
			if (fabs(num) > scale)
				scale = fabs(num);
			checked++;
		}
	}
	if (worst > 5e-4)
		fprintf(stderr, "    worst gradient error %g of %d parameters (largest gradient %g)\n",
				worst, checked, scale);
	CHECK(checked == f0 * 2 * 9 + f0 + 3 * f0 * 4 + 3 + 5 * 12 + 5 + 3 * 5 + 3);
	CHECK(worst < 5e-4);
	CHECK(scale > 1e-2);		/* the gradients are not all zero */
}

static void
test_cnn_gradient(void)
{
	check_gradient(4);
}

/* images of 8x8: a vertical bar (class 0), a horizontal bar (1) or a cross (2) */
static void
bars(int n, float *x, int32_t *y, uint64_t seed)
{
	for (int r = 0; r < n; r++)
	{
		float	   *img = x + (size_t) r * 64;
		int			cls = (int) maas_rng_below(&seed, 3);
		int			at = 1 + (int) maas_rng_below(&seed, 6);
		int			at2 = 1 + (int) maas_rng_below(&seed, 6);

		for (int i = 0; i < 64; i++)
			img[i] = (float) (0.3 * maas_rng_uniform(&seed));
		for (int i = 0; i < 8; i++)
		{
			if (cls != 1)
				img[i * 8 + at] += 1.0f;
			if (cls != 0)
				img[at2 * 8 + i] += 1.0f;
		}
		y[r] = cls;
	}
}

static void
test_cnn_learns_and_serves(void)
{
	int			n = 600,
				nv = 200;
	MaasCnnConfig cfg = tiny_config(1, 8, 8, 3);
	float	   *x = maas_kalloc(sizeof(float) * (n + nv) * 64);
	int32_t    *y = maas_kalloc(sizeof(int32_t) * (n + nv));
	MaasTrainSet data = {n, 64, x, y, NULL};
	MaasTrainSet val = {nv, 64, x + (size_t) n * 64, y + n, NULL};
	MaasCnnResult res;
	float	   *proba = maas_kalloc(sizeof(float) * nv * 3);
	int			correct = 0;
	double		worst = 0;
	RefNet		r;

	bars(n + nv, x, y, 5);
	cfg.n_conv = 2;
	cfg.conv[0] = (MaasCnnConv) {6, 3, 1, 1, 2};
	cfg.conv[1] = (MaasCnnConv) {8, 3, 1, 0, 1};
	cfg.nn.n_hidden = 1;
	cfg.nn.hidden[0] = 16;
	cfg.nn.dropout = 0.1f;
	cfg.nn.epochs = 8;
	ticks = 0;
	CHECK(maas_cnn_fit(blas, &cfg, &data, &val, &hooks, &res, &kerr));
	CHECK(ticks >= 8 * (n / 16));
	CHECK(res.epochs_run == 8 && res.val_score != NULL);
	CHECK(res.loss[7] < res.loss[0]);
	CHECK(res.val_score[7] > 0.95);

	/* predictions through the runtime, against the double forward pass */
	CHECK(maas_cnn_predict(blas, &cfg, &res.model, val.x, nv, NULL, proba, &kerr));
	r = ref_of(&cfg, &res.model);
	for (int i = 0; i < nv; i++)
	{
		double		p[3];

		ref_forward(&r, val.x + (size_t) i * 64, p);
		for (int j = 0; j < 3; j++)
			if (fabs(p[j] - proba[i * 3 + j]) > worst)
				worst = fabs(p[j] - proba[i * 3 + j]);
		correct += maas_argmax(proba + i * 3, 3) == val.cls[i];
	}
	CHECK(worst < 1e-5);
	CHECK(fabs((double) correct / nv - res.val_score[7]) < 1e-9);
}

static void
test_cnn_seed(void)
{
	int			n = 96;
	MaasCnnConfig cfg = tiny_config(1, 8, 8, 3);
	float	   *x = maas_kalloc(sizeof(float) * n * 64);
	int32_t    *y = maas_kalloc(sizeof(int32_t) * n);
	MaasTrainSet data = {n, 64, x, y, NULL};
	MaasCnnResult a,
				b,
				c;
	size_t		nw;

	bars(n, x, y, 9);
	cfg.n_conv = 1;
	cfg.conv[0] = (MaasCnnConv) {4, 3, 1, 0, 2};
	cfg.nn.n_hidden = 1;
	cfg.nn.hidden[0] = 8;
	cfg.nn.dropout = 0.3f;
	CHECK(maas_cnn_fit(blas, &cfg, &data, NULL, NULL, &a, &kerr));
	CHECK(maas_cnn_fit(blas, &cfg, &data, NULL, NULL, &b, &kerr));
	cfg.nn.seed = 43;
	CHECK(maas_cnn_fit(blas, &cfg, &data, NULL, NULL, &c, &kerr));
	nw = maas_conv2d_weights(&a.model.conv[0]);
	CHECK(memcmp(a.model.w[0], b.model.w[0], sizeof(float) * nw) == 0);
	CHECK(memcmp(a.model.head.w[1], b.model.head.w[1], sizeof(float) * 3 * 8) == 0);
	CHECK(memcmp(a.loss, b.loss, sizeof(double) * 3) == 0);
	CHECK(memcmp(a.model.w[0], c.model.w[0], sizeof(float) * nw) != 0);
}

/* early stopping keeps the best epoch's weights, as for the MLP */
static void
test_cnn_early_stopping(void)
{
	int			n = 120,
				nv = 40;
	MaasCnnConfig cfg = tiny_config(1, 8, 8, 3);
	float	   *x = maas_kalloc(sizeof(float) * (n + nv) * 64);
	int32_t    *y = maas_kalloc(sizeof(int32_t) * (n + nv));
	MaasTrainSet data = {n, 64, x, y, NULL};
	MaasTrainSet val = {nv, 64, x + (size_t) n * 64, y + n, NULL};
	MaasCnnResult res;
	float	   *proba = maas_kalloc(sizeof(float) * nv * 3);
	double		loss = 0;

	/* random labels: the validation loss soon stops improving */
	rand_data(n + nv, 64, 3, x, y, 21);
	cfg.n_conv = 1;
	cfg.conv[0] = (MaasCnnConv) {8, 3, 1, 0, 2};
	cfg.nn.n_hidden = 1;
	cfg.nn.hidden[0] = 32;
	cfg.nn.lr = 0.01f;
	cfg.nn.epochs = 60;
	cfg.nn.patience = 3;
	cfg.nn.monitor_val = true;
	CHECK(maas_cnn_fit(blas, &cfg, &data, &val, NULL, &res, &kerr));
	CHECK(res.epochs_run < 60);
	CHECK(res.epochs_run == res.best_epoch + 3);
	CHECK(maas_cnn_predict(blas, &cfg, &res.model, val.x, nv, NULL, proba, &kerr));
	for (int i = 0; i < nv; i++)
		loss -= log(proba[i * 3 + val.cls[i]]);
	CHECK(fabs(loss / nv - res.val_loss[res.best_epoch - 1]) < 1e-6);
}

static void
test_cnn_memory(void)
{
	MaasCnnConfig cfg = tiny_config(1, 28, 28, 10);
	size_t		bytes;
	size_t		params = 32 * 9 + 32 + 64 * 32 * 9 + 64 + 1600 * 128 + 128 + 128 * 10 + 10;

	cfg.n_conv = 2;
	cfg.conv[0] = (MaasCnnConv) {32, 3, 1, 0, 2};
	cfg.conv[1] = (MaasCnnConv) {64, 3, 1, 0, 2};
	cfg.nn.n_hidden = 1;
	cfg.nn.hidden[0] = 128;
	cfg.nn.dropout = 0.25f;
	cfg.nn.batch_size = 64;
	CHECK(maas_cnn_memory(&cfg, 60000, &bytes));
	/* 5 copies of the parameters, the index, and the batch's activations:
	 * 64 rows of 3 x 21,632 (conv 1's output), 2 x 5,408 (pooled and argmax)... */
	CHECK(bytes > 5 * params * 4 + 60000 * 4 + 64 * 3 * 21632 * 4);
	CHECK(bytes < 5 * params * 4 + 60000 * 4 + 64 * 12 * 21632 * 4 + 64 * 21632 * 4 * 4);
	cfg.conv[1].filters = 1000000;
	cfg.conv[0].filters = 1000000;
	CHECK(!maas_cnn_memory(&cfg, 60000, &bytes) || bytes > ((size_t) 1 << 36));
}

static void
test_cnn_check_errors(void)
{
	MaasCnnConfig cfg = tiny_config(1, 8, 8, 3);
	MaasCnnModel m;

	cfg.n_conv = 1;
	cfg.conv[0] = (MaasCnnConv) {4, 9, 1, 0, 1};
	CHECK_ERR(maas_cnn_check(&cfg, &m, &kerr), kerr.msg,
			  "convolution 1 has a 9x9 kernel, larger than its 8x8 input");
	cfg.conv[0] = (MaasCnnConv) {4, 3, 1, 0, 2};
	cfg.n_conv = 3;
	cfg.conv[1] = (MaasCnnConv) {4, 3, 1, 0, 1};
	cfg.conv[2] = (MaasCnnConv) {4, 5, 1, 1, 1};
	CHECK_ERR(maas_cnn_check(&cfg, &m, &kerr), kerr.msg,
			  "convolution 3 has a 5x5 kernel, larger than its 1x1 input with its padding");
	cfg.n_conv = 2;
	cfg.conv[1] = (MaasCnnConv) {4, 2, 1, 0, 2};
	CHECK(maas_cnn_check(&cfg, &m, &kerr));
	CHECK(m.head.n_in[0] == 4 * 1 * 1);
	cfg.conv[1].pool = 3;
	CHECK_ERR(maas_cnn_check(&cfg, &m, &kerr), kerr.msg,
			  "the pooling after convolution 2 has a 3x3 window, larger than its 2x2 input");
	cfg.in_h = 7;
	CHECK_ERR(maas_cnn_check(&cfg, &m, &kerr), kerr.msg,
			  "the input shape [1, 7, 8] does not make 64 features");
	cfg.in_h = 8;
	cfg.n_conv = 0;
	CHECK_ERR(maas_cnn_check(&cfg, &m, &kerr), kerr.msg, "a cnn has 1 to 8 convolutions");
	/* the trainer refuses what the check refuses */
	{
		float		x[64] = {0};
		int32_t		y[1] = {0};
		MaasTrainSet data = {1, 64, x, y, NULL};
		MaasCnnResult res;

		CHECK(!maas_cnn_fit(blas, &cfg, &data, NULL, NULL, &res, &kerr));
		CHECK(kerr.status == MAAS_ERR_INVALID);
	}
}

/* a NaN in the data makes the loss NaN: the loop's divergence check */
static void
test_cnn_diverges(void)
{
	int			n = 32;
	MaasCnnConfig cfg = tiny_config(1, 8, 8, 3);
	float	   *x = maas_kalloc(sizeof(float) * n * 64);
	int32_t    *y = maas_kalloc(sizeof(int32_t) * n);
	MaasTrainSet data = {n, 64, x, y, NULL};
	MaasCnnResult res;

	rand_data(n, 64, 3, x, y, 4);
	cfg.n_conv = 1;
	cfg.conv[0] = (MaasCnnConv) {2, 3, 1, 0, 1};
	cfg.nn.optimizer = MAAS_OPTIM_SGD;
	cfg.nn.lr = 1e30f;
	CHECK_ERR(maas_cnn_fit(blas, &cfg, &data, NULL, NULL, &res, &kerr), kerr.msg,
			  "training diverged");
	CHECK(kerr.status == MAAS_ERR_DIVERGED && res.diverged_epoch >= 1);
}

/*
 * The same on two threads: the step's passes over the activations split
 * by rows (train_cnn.c's row_pass), the gradient still the reference's,
 * the seed still the model.  Then on oneDNN (when it is there) with two
 * threads, the convolutions split by rows too (conv_split): the second
 * one's forward and backward (8 input channels), the first one's backward
 * (no gradient at its input), each part on its own slot's primitives.
 */
static void
test_cnn_two_threads(void)
{
	const MaasBlas *one = blas;
	MaasBlasConfig config = {.threads = 2, .backend = MAAS_BACKEND_AUTO};
	char		err[256];
	long		before;

	blas = maas_blas_load(NULL, 2, err, sizeof(err));
	CHECK(blas != NULL && blas->info->threads == 2);
	if (blas != NULL)
	{
		test_cnn_gradient();
		test_cnn_seed();
	}
	blas = maas_blas_open(&config, &kerr);
	CHECK(blas != NULL);
	if (blas != NULL)
	{
		before = maas_cnn_split_runs;
		check_gradient(8);
		test_cnn_seed();
		if (blas->conv2d_ready != NULL && blas->conv2d_ready())
			CHECK(maas_cnn_split_runs > before);
		else
			printf("    no oneDNN: the convolutions were not split\n");
	}
	blas = one;
}

int
main(void)
{
	char		err[256];

	blas = maas_blas_load(NULL, 1, err, sizeof(err));
	if (blas == NULL)
	{
		fprintf(stderr, "no BLAS: %s\n", err);
		return unit_finish("train_cnn");
	}
	UNIT_RUN(test_cnn_gradient);
	UNIT_RUN(test_cnn_learns_and_serves);
	UNIT_RUN(test_cnn_seed);
	UNIT_RUN(test_cnn_early_stopping);
	UNIT_RUN(test_cnn_memory);
	UNIT_RUN(test_cnn_check_errors);
	UNIT_RUN(test_cnn_diverges);
	UNIT_RUN(test_cnn_two_threads);
	return unit_finish("train_cnn");
}
