/*
 * conv_kernels.c
 *		The convolution and pooling kernels (src/kernel/conv.c) at the
 *		shapes of the Fashion-MNIST CNN, timed one by one, so that
 *		it shows where a training step's time goes and which algorithm
 *		wins at each shape.
 *
 * The CNN: conv 3x3 1->32 (28x28 -> 26x26), ReLU, maxpool 2 (-> 13x13),
 * conv 3x3 32->64 (-> 11x11), ReLU, maxpool 2 (-> 5x5), dense 1600->128,
 * ReLU, dropout, dense 128->10.  For a training batch (n = 64: forward and
 * backward) and an inference batch (n = 1024: forward), every algorithm
 * that applies, with the GEMM rate of each and the per-step total.
 *
 *	test/bench/conv_kernels.sh [threads...]		(builds and runs this)
 *	conv_kernels THREADS [step]		(step: only the whole training step)
 *
 * Prints one line per kernel: name, algorithm, n, milliseconds a call
 * (the fastest of the repeats), GFLOP/s (2 flops a multiply-add).  Never
 * fails on time; the figures depend on the machine and its load.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv.h"

#ifndef MAAS_CONV_COLS
#define MAAS_CONV_COLS 4096			/* as in conv.c */
#endif

void *
maas_kalloc(size_t size)
{
	void	   *p = NULL;

	if (posix_memalign(&p, 64, size > 0 ? size : 1) != 0)
		return NULL;
	return p;
}

static const MaasBlas *blas;
static double min_seconds = 0.25;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

typedef void (*bench_fn) (void *arg);

/*
 * The fastest of repeats that add up to min_seconds: on a shared machine
 * the minimum is the figure least disturbed by other work
 */
static double
timeit(bench_fn fn, void *arg)
{
	double		t[201];
	int			k = 0;
	double		start = now();

	fn(arg);					/* warm up */
	while (k < 201 && (k < 5 || now() - start < min_seconds))
	{
		double		t0 = now();

		fn(arg);
		t[k++] = now() - t0;
	}
	qsort(t, k, sizeof(double), cmp_double);
	return t[0];
}

static float *
rand_floats(size_t n)
{
	float	   *v = maas_kalloc(n * sizeof(float));
	uint64_t	s = 88172645463325252ULL ^ n;

	for (size_t i = 0; i < n; i++)
	{
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		v[i] = (float) ((double) (s >> 11) / 9007199254740992.0 - 0.5);
	}
	return v;
}

/* ---- one convolution ---- */

typedef struct ConvBench
{
	MaasConv2d	p;
	int			n;
	float	   *x,
			   *w,
			   *b,
			   *y,
			   *dx,
			   *dw,
			   *db,
			   *scratch;
	bool		want_dinp;
} ConvBench;

static void
run_conv_forward(void *arg)
{
	ConvBench  *c = arg;

	maas_conv2d_forward(&c->p, blas, c->n, c->x, c->w, c->b, c->y, c->scratch, NULL);
}

static void
run_conv_backward(void *arg)
{
	ConvBench  *c = arg;

	maas_conv2d_backward(&c->p, blas, c->n, c->y, c->x, c->w,
						 c->want_dinp ? c->dx : NULL, c->dw, c->db, c->scratch, NULL);
}

static const char *
algo_name(MaasConvAlgo a)
{
	switch (a)
	{
		case MAAS_CONV_IM2COL:
			return "im2col";
		case MAAS_CONV_GEMM:
			return "gemm";
		case MAAS_CONV_DIRECT:
			return "direct";
		default:
			return "auto";
	}
}

/*
 * Time forward (and backward when train) of one layer with algorithm
 * algo; returns the forward + backward milliseconds.
 */
static double
bench_conv(const char *name, const MaasConv2d *shape, MaasConvAlgo algo, int n,
		   bool train, bool want_dinp)
{
	ConvBench	c;
	MaasError	err;
	size_t		nscratch;
	double		tf,
				tb = 0.0,
				flops;

	memset(&c, 0, sizeof(c));
	c.p = *shape;
	c.p.algo = algo;
	if (!maas_conv2d_check(&c.p, &err))
	{
		printf("%-14s %-7s n=%-5d (refused: %s)\n", name, algo_name(algo), n, err.msg);
		return 0.0;
	}
	c.n = n;
	c.want_dinp = want_dinp;
	c.x = rand_floats((size_t) n * maas_conv2d_in_size(&c.p));
	c.w = rand_floats(maas_conv2d_weights(&c.p));
	c.b = rand_floats(c.p.c_out);
	c.y = rand_floats((size_t) n * maas_conv2d_out_size(&c.p));
	c.dx = rand_floats((size_t) n * maas_conv2d_in_size(&c.p));
	c.dw = rand_floats(maas_conv2d_weights(&c.p));
	c.db = rand_floats(c.p.c_out);
	if (!maas_conv2d_scratch(&c.p, n, &nscratch))
		return 0.0;
	c.scratch = rand_floats(nscratch);

	flops = 2.0 * maas_conv2d_macs(&c.p) * n;
	tf = timeit(run_conv_forward, &c);
	printf("%-14s %-7s n=%-5d forward  %8.3f ms %7.1f GFLOP/s  scratch %.1f MB\n",
		   name, algo_name(c.p.chosen), n, tf * 1e3, flops / tf * 1e-9,
		   nscratch * 4.0 / 1e6);
	if (train)
	{
		double		bflops = flops * (want_dinp ? 2.0 : 1.0);

		tb = timeit(run_conv_backward, &c);
		printf("%-14s %-7s n=%-5d backward %8.3f ms %7.1f GFLOP/s%s\n",
			   name, algo_name(c.p.chosen), n, tb * 1e3, bflops / tb * 1e-9,
			   want_dinp ? "" : "  (no dinp)");
	}
	free(c.x);
	free(c.w);
	free(c.b);
	free(c.y);
	free(c.dx);
	free(c.dw);
	free(c.db);
	free(c.scratch);
	return (tf + tb) * 1e3;
}

/* ---- pooling ---- */

typedef struct PoolBench
{
	MaasPool2d	p;
	int			n;
	float	   *x,
			   *y,
			   *dx;
	int32_t    *arg;
} PoolBench;

static void
run_pool_forward(void *arg)
{
	PoolBench  *b = arg;

	maas_maxpool2d_forward(&b->p, b->n, b->x, b->y, b->arg);
}

static void
run_pool_backward(void *arg)
{
	PoolBench  *b = arg;

	maas_maxpool2d_backward(&b->p, b->n, b->y, b->arg, b->dx);
}

static double
bench_pool(const char *name, int c, int hw, int n, bool train)
{
	PoolBench	b;
	MaasError	err;
	double		tf,
				tb = 0.0;

	maas_pool2d_init(&b.p, c, hw, hw, 2, 2);
	if (!maas_pool2d_check(&b.p, &err))
		return 0.0;
	b.n = n;
	b.x = rand_floats((size_t) n * c * hw * hw);
	b.y = rand_floats((size_t) n * maas_pool2d_out_size(&b.p));
	b.dx = rand_floats((size_t) n * c * hw * hw);
	b.arg = maas_kalloc(sizeof(int32_t) * n * maas_pool2d_out_size(&b.p));
	tf = timeit(run_pool_forward, &b);
	printf("%-14s %-7s n=%-5d forward  %8.3f ms  %6.2f GB/s read\n", name, "max", n,
		   tf * 1e3, (double) n * c * hw * hw * 4 / tf * 1e-9);
	if (train)
	{
		tb = timeit(run_pool_backward, &b);
		printf("%-14s %-7s n=%-5d backward %8.3f ms\n", name, "max", n, tb * 1e3);
	}
	free(b.x);
	free(b.y);
	free(b.dx);
	free(b.arg);
	return (tf + tb) * 1e3;
}

/* ---- dense layers, for the step total ---- */

typedef struct DenseBench
{
	int			m,
				n,
				k;
	float	   *a,
			   *b,
			   *c;
	int			ta,
				tb;
} DenseBench;

static void
run_gemm(void *arg)
{
	DenseBench *d = arg;

	blas->sgemm(MAAS_CBLAS_ROW_MAJOR, d->ta, d->tb, d->m, d->n, d->k, 1.0f,
				d->a, d->ta == MAAS_CBLAS_NO_TRANS ? d->k : d->m,
				d->b, d->tb == MAAS_CBLAS_NO_TRANS ? d->n : d->k,
				0.0f, d->c, d->n);
}

static double
bench_gemm(const char *name, int m, int n, int k, int ta, int tb)
{
	DenseBench	d = {m, n, k, rand_floats((size_t) m * k), rand_floats((size_t) k * n),
	rand_floats((size_t) m * n), ta, tb};
	double		t = timeit(run_gemm, &d);

	printf("%-14s %-7s %dx%dx%d %8.3f ms %7.1f GFLOP/s\n", name, "sgemm", m, n, k,
		   t * 1e3, 2.0 * m * n * k / t * 1e-9);
	free(d.a);
	free(d.b);
	free(d.c);
	return t * 1e3;
}

/*
 * ---- a whole training step ----
 *
 * The CNN's forward pass, softmax cross-entropy, backward pass and an Adam
 * update over 64 rows, with the kernels as the trainer will call them
 * (AUTO algorithms, one shared scratch) and plain loops for ReLU, bias and
 * the loss: the figure to put beside torch's step (cnn_torch.py --steps);
 * then the same step with the convolutions on the backend's own
 * primitives where it runs them (oneDNN's forward and backward), as the
 * trainer does.
 * Dropout is left out (one elementwise pass over 64 x 128).
 */
typedef struct Step
{
	int			n;
	MaasConv2d	c1,
				c2;
	MaasPool2d	p1,
				p2;
	float	   *x,
			   *a1,
			   *q1,
			   *a2,
			   *q2,
			   *h,
			   *z;
	int32_t    *m1,
			   *m2;
	float	   *d_a1,
			   *d_q1,
			   *d_a2,
			   *d_q2,
			   *d_h,
			   *d_z;
	float	   *params,
			   *grads,
			   *adam_m,
			   *adam_v;
	size_t		n_params;
	float	   *w1,
			   *b1,
			   *w2,
			   *b2,
			   *wf1,
			   *bf1,
			   *wf2,
			   *bf2;
	float	   *gw1,
			   *gb1,
			   *gw2,
			   *gb2,
			   *gwf1,
			   *gbf1,
			   *gwf2,
			   *gbf2;
	int32_t    *labels;
	float	   *scratch;
	int			t;
	bool		backend;		/* the convolutions on MaasBlas.conv2d and
								 * conv2d_backward when they run them, as
								 * the trainer (train_cnn.c) */
} Step;

static void
step_conv_forward(const Step *s, const MaasConv2d *c, const float *x, const float *w,
				  const float *b, float *y)
{
	if (s->backend && blas->conv2d != NULL && blas->conv2d(c, s->n, x, w, b, false, y))
		return;
	maas_conv2d_forward(c, blas, s->n, x, w, b, y, s->scratch, NULL);
}

static void
step_conv_backward(const Step *s, const MaasConv2d *c, const float *dy, const float *x,
				   const float *w, float *dx, float *dw, float *db)
{
	if (s->backend && blas->conv2d_backward != NULL &&
		blas->conv2d_backward(c, s->n, dy, x, w, dx, dw, db, -1))
		return;
	maas_conv2d_backward(c, blas, s->n, dy, x, w, dx, dw, db, s->scratch, NULL);
}

static void
relu(size_t n, float *v)
{
	for (size_t i = 0; i < n; i++)
		v[i] = v[i] > 0.0f ? v[i] : 0.0f;
}

static void
relu_back(size_t n, float *g, const float *y)
{
	for (size_t i = 0; i < n; i++)
		g[i] = y[i] > 0.0f ? g[i] : 0.0f;
}

static void
dense_forward(int m, int n_out, int n_in, const float *x, const float *w,
			  const float *b, float *y)
{
	for (int r = 0; r < m; r++)
		memcpy(y + (size_t) r * n_out, b, sizeof(float) * n_out);
	blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
				m, n_out, n_in, 1.0f, x, n_in, w, n_in, 1.0f, y, n_out);
}

static void
dense_backward(int m, int n_out, int n_in, const float *dy, const float *x,
			   const float *w, float *dx, float *dw, float *db)
{
	blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_TRANS, MAAS_CBLAS_NO_TRANS,
				n_out, n_in, m, 1.0f, dy, n_out, x, n_in, 0.0f, dw, n_in);
	memset(db, 0, sizeof(float) * n_out);
	for (int r = 0; r < m; r++)
		for (int j = 0; j < n_out; j++)
			db[j] += dy[(size_t) r * n_out + j];
	blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
				m, n_in, n_out, 1.0f, dy, n_out, w, n_in, 0.0f, dx, n_in);
}

static void
run_step(void *arg)
{
	Step	   *s = arg;
	int			n = s->n;
	size_t		na1 = (size_t) n * maas_conv2d_out_size(&s->c1);
	size_t		na2 = (size_t) n * maas_conv2d_out_size(&s->c2);

	/* forward */
	step_conv_forward(s, &s->c1, s->x, s->w1, s->b1, s->a1);
	relu(na1, s->a1);
	maas_maxpool2d_forward(&s->p1, n, s->a1, s->q1, s->m1);
	step_conv_forward(s, &s->c2, s->q1, s->w2, s->b2, s->a2);
	relu(na2, s->a2);
	maas_maxpool2d_forward(&s->p2, n, s->a2, s->q2, s->m2);
	dense_forward(n, 128, 1600, s->q2, s->wf1, s->bf1, s->h);
	relu((size_t) n * 128, s->h);
	dense_forward(n, 10, 128, s->h, s->wf2, s->bf2, s->z);
	/* softmax cross-entropy: dz = (softmax - onehot) / n */
	for (int r = 0; r < n; r++)
	{
		float	   *z = s->z + r * 10,
				   *d = s->d_z + r * 10;
		float		mx = z[0],
					sum = 0.0f;

		for (int j = 1; j < 10; j++)
			mx = z[j] > mx ? z[j] : mx;
		for (int j = 0; j < 10; j++)
			sum += (d[j] = expf(z[j] - mx));
		for (int j = 0; j < 10; j++)
			d[j] = d[j] / sum / n;
		d[s->labels[r]] -= 1.0f / n;
	}
	/* backward */
	dense_backward(n, 10, 128, s->d_z, s->h, s->wf2, s->d_h, s->gwf2, s->gbf2);
	relu_back((size_t) n * 128, s->d_h, s->h);
	dense_backward(n, 128, 1600, s->d_h, s->q2, s->wf1, s->d_q2, s->gwf1, s->gbf1);
	maas_maxpool2d_backward(&s->p2, n, s->d_q2, s->m2, s->d_a2);
	relu_back(na2, s->d_a2, s->a2);
	step_conv_backward(s, &s->c2, s->d_a2, s->q1, s->w2, s->d_q1, s->gw2, s->gb2);
	maas_maxpool2d_backward(&s->p1, n, s->d_q1, s->m1, s->d_a1);
	relu_back(na1, s->d_a1, s->a1);
	step_conv_backward(s, &s->c1, s->d_a1, s->x, s->w1, NULL, s->gw1, s->gb1);
	/* Adam */
	s->t++;
	{
		float		b1 = 0.9f,
					b2 = 0.999f,
					lr = 1e-3f;
		float		c1 = 1.0f - powf(b1, s->t),
					c2 = 1.0f - powf(b2, s->t);

		for (size_t i = 0; i < s->n_params; i++)
		{
			float		g = s->grads[i];

			s->adam_m[i] = b1 * s->adam_m[i] + (1.0f - b1) * g;
			s->adam_v[i] = b2 * s->adam_v[i] + (1.0f - b2) * g * g;
			s->params[i] -= lr * (s->adam_m[i] / c1) / (sqrtf(s->adam_v[i] / c2) + 1e-8f);
		}
	}
}

static double
bench_step(int n)
{
	Step		s;
	MaasError	e;
	size_t		sc1,
				sc2,
				off = 0;
	size_t		sizes[8];
	float	  **pp[8] = {&s.w1, &s.b1, &s.w2, &s.b2, &s.wf1, &s.bf1, &s.wf2, &s.bf2};
	float	  **gp[8] = {&s.gw1, &s.gb1, &s.gw2, &s.gb2, &s.gwf1, &s.gbf1, &s.gwf2, &s.gbf2};
	double		t;

	memset(&s, 0, sizeof(s));
	s.n = n;
	maas_conv2d_init(&s.c1, 1, 28, 28, 32, 3, 3);
	maas_conv2d_init(&s.c2, 32, 13, 13, 64, 3, 3);
	maas_pool2d_init(&s.p1, 32, 26, 26, 2, 2);
	maas_pool2d_init(&s.p2, 64, 11, 11, 2, 2);
	if (!maas_conv2d_check(&s.c1, &e) || !maas_conv2d_check(&s.c2, &e) ||
		!maas_pool2d_check(&s.p1, &e) || !maas_pool2d_check(&s.p2, &e) ||
		!maas_conv2d_scratch(&s.c1, n, &sc1) || !maas_conv2d_scratch(&s.c2, n, &sc2))
		return 0.0;
	sizes[0] = maas_conv2d_weights(&s.c1);
	sizes[1] = 32;
	sizes[2] = maas_conv2d_weights(&s.c2);
	sizes[3] = 64;
	sizes[4] = 128 * 1600;
	sizes[5] = 128;
	sizes[6] = 10 * 128;
	sizes[7] = 10;
	for (int i = 0; i < 8; i++)
		s.n_params += sizes[i];
	s.params = rand_floats(s.n_params);
	s.grads = rand_floats(s.n_params);
	s.adam_m = calloc(s.n_params, sizeof(float));
	s.adam_v = calloc(s.n_params, sizeof(float));
	for (int i = 0; i < 8; i++)
	{
		*pp[i] = s.params + off;
		*gp[i] = s.grads + off;
		off += sizes[i];
	}
	for (size_t i = 0; i < s.n_params; i++)
		s.params[i] *= 0.1f;
	s.x = rand_floats((size_t) n * 784);
	s.a1 = rand_floats((size_t) n * maas_conv2d_out_size(&s.c1));
	s.d_a1 = rand_floats((size_t) n * maas_conv2d_out_size(&s.c1));
	s.q1 = rand_floats((size_t) n * maas_pool2d_out_size(&s.p1));
	s.d_q1 = rand_floats((size_t) n * maas_pool2d_out_size(&s.p1));
	s.m1 = maas_kalloc(sizeof(int32_t) * n * maas_pool2d_out_size(&s.p1));
	s.a2 = rand_floats((size_t) n * maas_conv2d_out_size(&s.c2));
	s.d_a2 = rand_floats((size_t) n * maas_conv2d_out_size(&s.c2));
	s.q2 = rand_floats((size_t) n * 1600);
	s.d_q2 = rand_floats((size_t) n * 1600);
	s.m2 = maas_kalloc(sizeof(int32_t) * n * 1600);
	s.h = rand_floats((size_t) n * 128);
	s.d_h = rand_floats((size_t) n * 128);
	s.z = rand_floats((size_t) n * 10);
	s.d_z = rand_floats((size_t) n * 10);
	s.labels = maas_kalloc(sizeof(int32_t) * n);
	for (int r = 0; r < n; r++)
		s.labels[r] = r % 10;
	for (size_t i = 0; i < (size_t) n * 784; i++)
		s.x[i] += 0.5f;
	s.scratch = rand_floats(sc1 > sc2 ? sc1 : sc2);
	t = timeit(run_step, &s);
	printf("## whole training step, n = %d, AUTO (conv1 %s, conv2 %s): %.2f ms;"
		   " x 2814 steps (3 epochs of 60000) = %.1f s\n",
		   n, algo_name(s.c1.chosen), algo_name(s.c2.chosen), t * 1e3, t * 2814);
	/* as the trainer runs it: the backend's convolutions where it has them */
	s.backend = true;
	{
		double		tb = timeit(run_step, &s);

		printf("## whole training step, n = %d, the trainer's (backend convolutions: %s): %.2f ms;"
			   " x 2814 steps = %.1f s\n", n, blas->info->conv2d, tb * 1e3, tb * 2814);
	}
	return t;
}

/* the kernels OpenBLAS picked for this CPU, when it says */
static const char *
blas_core(void)
{
	void	   *h = dlopen(maas_blas_library(), RTLD_NOW | RTLD_NOLOAD);
	char	   *(*corename) (void) = h ? (char *(*) (void)) dlsym(h, "openblas_get_corename") : NULL;

	return corename ? corename() : "?";
}

static MaasConv2d
conv_shape(int c_in, int hw, int c_out)
{
	MaasConv2d	p;

	maas_conv2d_init(&p, c_in, hw, hw, c_out, 3, 3);
	return p;
}

int
main(int argc, char **argv)
{
	char		err[256];
	int			threads = argc > 1 ? atoi(argv[1]) : 1;
	MaasConv2d	conv1 = conv_shape(1, 28, 32);
	MaasConv2d	conv2 = conv_shape(32, 13, 64);
	const MaasConvAlgo algos[] = {MAAS_CONV_IM2COL, MAAS_CONV_DIRECT};
	double		step,
				best1 = 1e30,
				best2 = 1e30,
				pools,
				dense;
	MaasConv2d	probe;
	MaasError	e;

	if (getenv("BENCH_SECONDS"))
		min_seconds = atof(getenv("BENCH_SECONDS"));
	blas = maas_blas_load(NULL, threads, err, sizeof(err));
	if (blas == NULL)
	{
		fprintf(stderr, "no BLAS: %s\n", err);
		return 1;
	}
	if (argc > 2 && strcmp(argv[2], "step") == 0)
	{
		printf("# %s (%s kernels), %d thread(s)\n", maas_blas_library(), blas_core(), threads);
		bench_step(64);
		return 0;
	}
	probe = conv2;
	maas_conv2d_check(&probe, &e);
	printf("# %s (%s kernels), %d thread(s), im2col chunk %d columns (%d rows of conv2)\n",
		   maas_blas_library(), blas_core(), threads, MAAS_CONV_COLS, MAAS_CONV_COLS / 121);

	printf("## training batch, n = 64 (forward + backward)\n");
	for (int a = 0; a < 2; a++)
	{
		/* the first layer needs no input gradient */
		double		t1 = bench_conv("conv1 1->32", &conv1, algos[a], 64, true, false);
		double		t2 = bench_conv("conv2 32->64", &conv2, algos[a], 64, true, true);

		if (t1 > 0 && t1 < best1)
			best1 = t1;
		if (t2 > 0 && t2 < best2)
			best2 = t2;
	}
	pools = bench_pool("pool1 32x26", 32, 26, 64, true) +
		bench_pool("pool2 64x11", 64, 11, 64, true);
	/* dense 1600->128 and 128->10: forward, dW, dX (as train_nn.c does them) */
	dense = bench_gemm("dense1 fwd", 64, 128, 1600, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS) +
		bench_gemm("dense1 dW", 128, 1600, 64, MAAS_CBLAS_TRANS, MAAS_CBLAS_NO_TRANS) +
		bench_gemm("dense1 dX", 64, 1600, 128, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS) +
		bench_gemm("dense2 fwd", 64, 10, 128, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS) +
		bench_gemm("dense2 dW", 10, 128, 64, MAAS_CBLAS_TRANS, MAAS_CBLAS_NO_TRANS) +
		bench_gemm("dense2 dX", 64, 128, 10, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS);
	step = best1 + best2 + pools + dense;
	printf("## step (best algorithm each): conv1 %.2f + conv2 %.2f + pools %.2f + dense %.2f"
		   " = %.2f ms; x 2814 steps (3 epochs of 60000 at 64) = %.1f s"
		   " before elementwise passes and Adam\n",
		   best1, best2, pools, dense, step, step * 2814 / 1e3);

	bench_step(64);

	printf("## inference batch, n = 1024 (forward)\n");
	best1 = best2 = 1e30;
	for (int a = 0; a < 2; a++)
	{
		double		t1 = bench_conv("conv1 1->32", &conv1, algos[a], 1024, false, false);
		double		t2 = bench_conv("conv2 32->64", &conv2, algos[a], 1024, false, false);

		if (t1 > 0 && t1 < best1)
			best1 = t1;
		if (t2 > 0 && t2 < best2)
			best2 = t2;
	}
	pools = bench_pool("pool1 32x26", 32, 26, 1024, false) +
		bench_pool("pool2 64x11", 64, 11, 1024, false);
	dense = bench_gemm("dense1 fwd", 1024, 128, 1600, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS) +
		bench_gemm("dense2 fwd", 1024, 10, 128, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS);
	step = best1 + best2 + pools + dense;
	printf("## 1024 rows: %.2f ms -> %.0f rows/s before elementwise passes\n",
		   step, 1024 / (step / 1e3));

	/*
	 * Shapes beyond this CNN that the rule in choose_algo covers: a
	 * depthwise 3x3 (one GEMM of one output channel per group for
	 * im2col), and a 1x1 on a large and a small map
	 */
	printf("## other shapes, n = 64 (forward + backward)\n");
	{
		MaasConv2d	dw = conv_shape(32, 28, 32);
		MaasConv2d	pw = conv_shape(64, 28, 64);
		MaasConv2d	pw_small = conv_shape(64, 7, 64);
		const MaasConvAlgo all[] = {MAAS_CONV_IM2COL, MAAS_CONV_DIRECT, MAAS_CONV_GEMM};

		dw.groups = 32;
		dw.pad_top = dw.pad_left = dw.pad_bottom = dw.pad_right = 1;
		pw.kh = pw.kw = pw_small.kh = pw_small.kw = 1;
		for (int a = 0; a < 3; a++)
		{
			if (all[a] != MAAS_CONV_GEMM)
				bench_conv("depthwise 32", &dw, all[a], 64, true, true);
			bench_conv("1x1 64 28x28", &pw, all[a], 64, true, true);
			bench_conv("1x1 64 7x7", &pw_small, all[a], 64, true, true);
		}
	}

	printf("## one row (forward)\n");
	bench_conv("conv1 1->32", &conv1, MAAS_CONV_DIRECT, 1, false, false);
	bench_conv("conv1 1->32", &conv1, MAAS_CONV_IM2COL, 1, false, false);
	bench_conv("conv2 32->64", &conv2, MAAS_CONV_IM2COL, 1, false, false);
	bench_conv("conv2 32->64", &conv2, MAAS_CONV_DIRECT, 1, false, false);
	return 0;
}
