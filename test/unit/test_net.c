/*
 * test_net.c
 *		Unit tests of the layer runtime (src/kernel/net.c) over the BLAS shim.
 *
 * Every op is checked against a plain C reference; a batch must give the
 * same outputs as its rows one at a time (sgemm and sgemv paths agree);
 * the chain checker must name the layer that does not fit.
 */
#include <math.h>
#include <stdlib.h>

#include "net.h"
#include "unit.h"

static const MaasBlas *blas;

static unsigned int seed = 12345;

static float
rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return ((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *
rnd_vec(size_t n)
{
	float	   *v = maas_kalloc(sizeof(float) * n);

	for (size_t i = 0; i < n; i++)
		v[i] = rnd();
	return v;
}

static float *
run(MaasNet *net, int n_rows, const float *x)
{
	size_t		nwork;
	float	   *work;
	char		err[256];

	CHECK(maas_net_check(net, err, sizeof(err)));
	CHECK(maas_net_workspace(net, n_rows, &nwork));
	work = maas_kalloc(sizeof(float) * nwork);
	return (float *) maas_net_forward(net, blas, n_rows, x, work);
}

/* a dense layer y = x W^T + b, against a double-precision reference */
static void
dense_case(int in, int out)
{
	float	   *w = rnd_vec((size_t) in * out);
	float	   *b = rnd_vec(out);
	MaasLayer	l = {.op = MAAS_OP_DENSE, .n_in = in, .n_out = out, .w = w, .b = b};
	MaasNet		net = {.n_layers = 1, .layers = &l, .n_in = in};

	for (int rows = 1; rows <= 9; rows += 4)
	{
		float	   *x = rnd_vec((size_t) rows * in);
		float	   *y = run(&net, rows, x);

		for (int r = 0; r < rows; r++)
			for (int j = 0; j < out; j++)
			{
				double		ref = b[j];

				for (int k = 0; k < in; k++)
					ref += (double) x[r * in + k] * w[j * in + k];
				CHECK(fabs(y[r * out + j] - ref) < 1e-5);
			}
	}

	/* without a bias */
	l.b = NULL;
	{
		float	   *x = rnd_vec(in);
		float	   *y = run(&net, 1, x);
		double		ref = 0;

		for (int k = 0; k < in; k++)
			ref += (double) x[k] * w[k];
		CHECK(fabs(y[0] - ref) < 1e-5);
	}
}

/* small layers run in a plain loop, larger ones through sgemv / sgemm */
static void
test_dense(void)
{
	dense_case(37, 11);
	dense_case(50, 1);
	dense_case(300, 40);
	dense_case(784, 64);
}

/* standardize and the elementwise ops */
static void
test_elementwise(void)
{
	float		shift[3] = {1, 2, 3};
	float		scale[3] = {0.5f, 2, 1};
	float		x[3] = {3, 2, -1};
	MaasLayer	l = {.op = MAAS_OP_STANDARDIZE, .n_in = 3, .shift = shift, .scale = scale};
	MaasNet		net = {.n_layers = 1, .layers = &l, .n_in = 3};
	float	   *y = run(&net, 1, x);

	CHECK(y[0] == 1.0f && y[1] == 0.0f && y[2] == -4.0f);
	CHECK(x[0] == 3 && x[1] == 2 && x[2] == -1);	/* input untouched */

	l = (MaasLayer) {.op = MAAS_OP_RELU};
	y = run(&net, 1, x);
	CHECK(y[0] == 3 && y[1] == 2 && y[2] == 0);

	l = (MaasLayer) {.op = MAAS_OP_TANH};
	y = run(&net, 1, x);
	CHECK(fabsf(y[0] - tanhf(3)) < 1e-7f && fabsf(y[2] - tanhf(-1)) < 1e-7f);

	l = (MaasLayer) {.op = MAAS_OP_DROPOUT};
	y = run(&net, 1, x);
	CHECK(y[0] == 3 && y[1] == 2 && y[2] == -1);
}

/* sigmoid and softmax stay finite and exact at the extremes */
static void
test_stable(void)
{
	float		x[4] = {-1000, -30, 30, 1000};
	float		big[3] = {1000, 999, -1000};
	MaasLayer	l = {.op = MAAS_OP_SIGMOID};
	MaasNet		net = {.n_layers = 1, .layers = &l, .n_in = 4};
	float	   *y = run(&net, 1, x);

	CHECK(maas_all_finite(y, 4));
	CHECK(y[0] == 0.0f && y[3] == 1.0f);
	CHECK(fabsf(y[1] - 9.357623e-14f) < 1e-18f);

	l = (MaasLayer) {.op = MAAS_OP_SOFTMAX};
	net.n_in = 3;
	y = run(&net, 1, big);
	CHECK(maas_all_finite(y, 3));
	CHECK(fabsf(y[0] + y[1] + y[2] - 1.0f) < 1e-6f);
	CHECK(fabsf(y[0] - 0.7310586f) < 1e-6f && y[2] == 0.0f);
}

/* a small MLP: a batch gives the same outputs as its rows one by one */
static void
test_batch_equals_rows(void)
{
	int			in = 64,
				hid = 32,
				out = 10,
				rows = 33;
	float		shift[64],
				scale[64];
	MaasLayer	layers[6];
	MaasNet		net = {.n_layers = 6, .layers = layers, .n_in = in};
	float	   *x = rnd_vec((size_t) rows * in);
	float	   *batch;
	float	   *copy = maas_kalloc(sizeof(float) * rows * out);

	for (int i = 0; i < in; i++)
	{
		shift[i] = rnd();
		scale[i] = 1.0f + rnd() * 0.5f;
	}
	layers[0] = (MaasLayer) {.op = MAAS_OP_STANDARDIZE, .n_in = in, .shift = shift, .scale = scale};
	layers[1] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = in, .n_out = hid,
	.w = rnd_vec((size_t) in * hid), .b = rnd_vec(hid)};
	layers[2] = (MaasLayer) {.op = MAAS_OP_RELU};
	layers[3] = (MaasLayer) {.op = MAAS_OP_DROPOUT};
	layers[4] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = hid, .n_out = out,
	.w = rnd_vec((size_t) hid * out), .b = rnd_vec(out)};
	layers[5] = (MaasLayer) {.op = MAAS_OP_SOFTMAX};

	batch = run(&net, rows, x);
	memcpy(copy, batch, sizeof(float) * rows * out);
	CHECK(net.n_out == out && net.max_width == in);

	for (int r = 0; r < rows; r++)
	{
		float	   *one = run(&net, 1, x + (size_t) r * in);
		float		sum = 0;

		for (int j = 0; j < out; j++)
		{
			CHECK(fabsf(one[j] - copy[r * out + j]) < 1e-6f);
			sum += one[j];
		}
		CHECK(fabsf(sum - 1.0f) < 1e-5f);
	}
}

/* the chain checker names the layer that does not fit */
static void
test_check(void)
{
	float		w[6] = {0};
	MaasLayer	layers[3];
	MaasNet		net = {.n_layers = 3, .layers = layers, .n_in = 3};
	char		err[256];

	layers[0] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 3, .n_out = 2, .w = w};
	layers[1] = (MaasLayer) {.op = MAAS_OP_TANH};
	layers[2] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 3, .n_out = 2, .w = w};
	CHECK_ERR(maas_net_check(&net, err, sizeof(err)), err,
			  "layer 3 (dense) takes 3 inputs but receives 2");

	layers[2].n_in = 2;
	CHECK(maas_net_check(&net, err, sizeof(err)));
	CHECK(net.n_out == 2 && layers[1].n_in == 2 && layers[1].n_out == 2);

	net.n_layers = 0;
	CHECK_ERR(maas_net_check(&net, err, sizeof(err)), err, "no layers");
	net.n_layers = 3;
	net.n_in = 0;
	CHECK_ERR(maas_net_check(&net, err, sizeof(err)), err, "at least one feature");

	net.n_in = 3;
	layers[0] = (MaasLayer) {.op = MAAS_OP_STANDARDIZE, .n_in = 3};
	CHECK_ERR(maas_net_check(&net, err, sizeof(err)), err, "no mean or std");
}

static void
test_helpers(void)
{
	float		v[5] = {1, 3, 3, 2, -1};
	float		bad[3] = {0, NAN, 1};
	size_t		n;
	MaasNet		net = {.max_width = 1 << 30};
	MaasOp		op;

	CHECK(maas_argmax(v, 5) == 1);	/* first of the ties */
	CHECK(maas_all_finite(v, 5));
	CHECK(!maas_all_finite(bad, 3));
	bad[1] = INFINITY;
	CHECK(!maas_all_finite(bad, 3));

	/* workspace sizes never overflow silently */
	CHECK(!maas_net_workspace(&net, 0, &n));
	CHECK(maas_net_workspace(&net, 1, &n) && n == (size_t) 2 << 30);
	net.max_width = 0x7fffffff;
	CHECK(maas_net_workspace(&net, 0x7fffffff, &n) == (sizeof(size_t) > 4));

	CHECK(maas_op_from_name("softmax", &op) && op == MAAS_OP_SOFTMAX);
	CHECK(!maas_op_from_name("conv2d", &op));
	CHECK(strcmp(maas_op_name(MAAS_OP_DENSE), "dense") == 0);
}

int
main(void)
{
	char		err[256];

	blas = maas_blas_load(NULL, 1, err, sizeof(err));
	if (blas == NULL)
	{
		fprintf(stderr, "cannot load BLAS: %s\n", err);
		return 1;
	}

	UNIT_RUN(test_dense);
	UNIT_RUN(test_elementwise);
	UNIT_RUN(test_stable);
	UNIT_RUN(test_batch_equals_rows);
	UNIT_RUN(test_check);
	UNIT_RUN(test_helpers);
	return unit_finish("net");
}
