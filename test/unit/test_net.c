/*
 * test_net.c
 *		Unit tests of the layer runtime (src/net.c) over the BLAS shim.
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
	MaasError	err;

	CHECK(maas_net_check(net, &err));
	CHECK(maas_net_workspace(net, n_rows, 1, &nwork));
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
				/* relative: backends sum in different orders */
				CHECK(fabs(y[r * out + j] - ref) < 1e-5 * (1 + fabs(ref)));
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

/* y against x W^T + b in double, for rows rows */
static void
check_dense_out(const float *x, const float *w, const float *b, int rows, int in,
				int out, const float *y)
{
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < out; j++)
		{
			double		ref = b ? b[j] : 0;

			for (int k = 0; k < in; k++)
				ref += (double) x[(size_t) r * in + k] * w[(size_t) j * in + k];
			CHECK(fabs(y[(size_t) r * out + j] - ref) < 1e-4 * (1 + fabs(ref)));
		}
}

/*
 * Dense layers through every backend the setting can force, unpacked and
 * packed (maas_net_pack), one row and a batch, small and large layers:
 * the same products.  Repointing the weights after packing runs the new
 * weights, never the stale packed copy.
 */
static void
test_dense_backends(void)
{
	static const MaasGemmBackend backends[] = {MAAS_BACKEND_AUTO, MAAS_BACKEND_BLAS,
	MAAS_BACKEND_ONEDNN};
	static const int shapes[][2] = {{784, 512}, {512, 10}, {50, 1}, {300, 41}};

	for (int bi = 0; bi < 3; bi++)
	{
		MaasBlasConfig config = {.threads = 1, .backend = backends[bi]};
		MaasError	err;
		const MaasBlas *bb = maas_blas_open(&config, &err);

		if (bb == NULL)
		{
			/* only oneDNN may be missing */
			CHECK(backends[bi] == MAAS_BACKEND_ONEDNN);
			fprintf(stderr, "    (oneDNN not available: %s)\n", err.msg);
			continue;
		}
		for (int si = 0; si < 4; si++)
		{
			int			in = shapes[si][0],
						out = shapes[si][1];
			float	   *w = rnd_vec((size_t) in * out);
			float	   *w2 = rnd_vec((size_t) in * out);
			float	   *b = rnd_vec(out);
			MaasLayer	l = {.op = MAAS_OP_DENSE, .n_in = in, .n_out = out, .w = w, .b = b};
			MaasNet		net = {.n_layers = 1, .layers = &l, .n_in = in};

			for (int packed = 0; packed < 2; packed++)
			{
				if (packed)
				{
					CHECK(maas_net_check(&net, &err));
					CHECK(maas_net_pack(&net, bb, &err));
					/* the copy is for these weights */
					CHECK(l.wt.data == NULL || l.wt.data == w);
				}
				for (int rows = 1; rows <= 37; rows += 36)
				{
					float	   *x = rnd_vec((size_t) rows * in);
					size_t		nwork;
					float	   *work;
					const float *y;
					MaasBatch	batch = {.n = rows, .t = 1, .x = x};

					CHECK(maas_net_check(&net, &err));
					CHECK(maas_net_workspace(&net, rows, 1, &nwork));
					work = maas_kalloc(sizeof(float) * nwork);
					y = maas_net_run(&net, bb, &batch, 0, work, &err);
					CHECK(y != NULL);
					if (y)
						check_dense_out(x, w, b, rows, in, out, y);
				}
			}
			/* new weights after packing: the packed copy is not used */
			l.w = w2;
			{
				float	   *x = rnd_vec(in);
				size_t		nwork;
				float	   *work;
				const float *y;
				MaasBatch	batch = {.n = 1, .t = 1, .x = x};

				CHECK(maas_net_workspace(&net, 1, 1, &nwork));
				work = maas_kalloc(sizeof(float) * nwork);
				y = maas_net_run(&net, bb, &batch, 0, work, &err);
				CHECK(y != NULL);
				if (y)
					check_dense_out(x, w2, b, 1, in, out, y);
			}
		}
	}
	/* back to what the other tests use */
	{
		MaasBlasConfig config = {.threads = 1};
		MaasError	err;

		blas = maas_blas_open(&config, &err);
		CHECK(blas != NULL);
	}
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

/*
 * A logistic or linear model's row skips the run loop (maas_small_row):
 * the same bits as the loop gives it.  The loop runs the same layers when
 * a relu (x for the nonnegative probabilities) follows them, or when the
 * net is run to an earlier value.
 */
static void
small_case(MaasLayer *layers, int n, int in, int out)
{
	MaasNet		small = {.n_layers = n, .layers = layers, .n_in = in};
	MaasNet		loop = {.n_layers = n + 1, .layers = layers, .n_in = in};
	float	   *copy = maas_kalloc(sizeof(float) * out);

	for (int r = 0; r < 5; r++)
	{
		float	   *x = rnd_vec(in);
		const float *y;
		size_t		nwork;
		float	   *work;
		MaasBatch	one = {.n = 1, .t = 1, .x = x};
		MaasError	err;

		bool		x_finite;

		if (r == 4)
			x[0] = 1e4f;		/* saturates sigmoid and softmax */
		memcpy(copy, run(&small, 1, x), sizeof(float) * out);
		/* maas_net_small_row: the same bits, and the row shown finite */
		CHECK(maas_net_workspace(&small, 1, 1, &nwork));
		work = maas_kalloc(sizeof(float) * nwork);
		y = maas_net_small_row(&small, x, work, &x_finite);
		CHECK(y != NULL && memcmp(y, copy, sizeof(float) * out) == 0 && x_finite);
		layers[n] = (MaasLayer) {.op = MAAS_OP_RELU};
		if (layers[n - 1].op == MAAS_OP_DENSE)
		{
			/* a linear model: the loop, to the dense layer's value */
			CHECK(maas_net_check(&loop, &err));
			CHECK(maas_net_workspace(&loop, 1, 1, &nwork));
			work = maas_kalloc(sizeof(float) * nwork);
			y = maas_net_run(&loop, blas, &one, n, work, &err);
		}
		else
			y = run(&loop, 1, x);
		CHECK(y != NULL && memcmp(y, copy, sizeof(float) * out) == 0);
	}
}

static void
test_small_row(void)
{
	int			in = 50;
	float		shift[50],
				scale[50];
	MaasLayer	layers[5];

	for (int i = 0; i < in; i++)
	{
		shift[i] = rnd();
		scale[i] = 1.0f + rnd() * 0.5f;
	}
	/* logistic: standardize, dense to one output, sigmoid */
	layers[0] = (MaasLayer) {.op = MAAS_OP_STANDARDIZE, .n_in = in, .shift = shift, .scale = scale};
	layers[1] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = in, .n_out = 1,
	.w = rnd_vec(in), .b = rnd_vec(1)};
	layers[2] = (MaasLayer) {.op = MAAS_OP_SIGMOID};
	small_case(layers, 3, in, 1);
	/* multinomial, no bias, a dropout between */
	layers[0] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = in, .n_out = 7, .w = rnd_vec(7 * in)};
	layers[1] = (MaasLayer) {.op = MAAS_OP_DROPOUT};
	layers[2] = (MaasLayer) {.op = MAAS_OP_SOFTMAX};
	small_case(layers, 3, in, 7);
	/* linear: standardize and dense; and 37 inputs, off the vector width */
	layers[0] = (MaasLayer) {.op = MAAS_OP_STANDARDIZE, .n_in = in, .shift = shift, .scale = scale};
	layers[1] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = in, .n_out = 3,
	.w = rnd_vec(3 * in), .b = rnd_vec(3)};
	small_case(layers, 2, in, 3);
	layers[0] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 37, .n_out = 2,
	.w = rnd_vec(2 * 37), .b = rnd_vec(2)};
	small_case(layers, 1, 37, 2);

	/*
	 * A small MLP: its dense layer runs the relu after it in the same step,
	 * so its plan is not small, and the relu is not lost
	 */
	{
		MaasNet		mlp = {.n_layers = 4, .layers = layers, .n_in = 6};
		float	   *x = rnd_vec(6);
		float	   *y;
		float		h[5],
					o[3],
					max = -INFINITY,
					sum = 0;

		layers[0] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 6, .n_out = 5,
		.w = rnd_vec(30), .b = rnd_vec(5)};
		layers[1] = (MaasLayer) {.op = MAAS_OP_RELU};
		layers[2] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 5, .n_out = 3,
		.w = rnd_vec(15), .b = rnd_vec(3)};
		layers[3] = (MaasLayer) {.op = MAAS_OP_SOFTMAX};
		y = run(&mlp, 1, x);
		for (int j = 0; j < 5; j++)
		{
			h[j] = layers[0].b[j];
			for (int k = 0; k < 6; k++)
				h[j] += layers[0].w[j * 6 + k] * x[k];
			h[j] = h[j] > 0 ? h[j] : 0;
		}
		for (int j = 0; j < 3; j++)
		{
			o[j] = layers[2].b[j];
			for (int k = 0; k < 5; k++)
				o[j] += layers[2].w[j * 5 + k] * h[k];
			max = o[j] > max ? o[j] : max;
		}
		for (int j = 0; j < 3; j++)
			sum += expf(o[j] - max);
		for (int j = 0; j < 3; j++)
			CHECK(fabsf(y[j] - expf(o[j] - max) / sum) < 1e-5f);
	}
}

/*
 * maas_net_small_row proves a row finite only when it is: every infinity
 * and NaN, at any place (the vector lanes, the tail), with weights of zero
 * (inf * 0) and a standardize whose scale is zero, and never through a
 * sigmoid (sigmoid(inf) is 1).  Finite features whose sum overflows are not
 * proven, and the caller's check then finds them finite.
 */
static void
test_small_row_finite(void)
{
	int			in = 50;
	const float bad[] = {INFINITY, -INFINITY, NAN};
	float		shift[50],
				scale[50],
				zero[2 * 50] = {0};
	MaasLayer	layers[3];
	MaasNet		net = {.n_layers = 2, .layers = layers, .n_in = in};
	MaasNet		sig = {.n_layers = 2, .layers = layers, .n_in = 1};
	MaasError	err;
	size_t		nwork;
	float	   *work;
	float	   *x;
	bool		x_finite;

	for (int i = 0; i < in; i++)
	{
		shift[i] = rnd();
		scale[i] = i % 7 == 3 ? 0.0f : 1.0f + rnd() * 0.5f;
	}
	for (int wz = 0; wz < 2; wz++)
	{
		/* standardize, dense to two outputs (random or zero weights) */
		layers[0] = (MaasLayer) {.op = MAAS_OP_STANDARDIZE, .n_in = in, .shift = shift,
		.scale = scale};
		layers[1] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = in, .n_out = 2,
		.w = wz ? zero : rnd_vec(2 * in), .b = rnd_vec(2)};
		CHECK(maas_net_check(&net, &err));
		CHECK(maas_net_workspace(&net, 1, 1, &nwork));
		work = maas_kalloc(sizeof(float) * nwork);
		for (int pos = 0; pos < in; pos++)
			for (int b = 0; b < 3; b++)
			{
				x = rnd_vec(in);
				x[pos] = bad[b];
				CHECK(maas_net_small_row(&net, x, work, &x_finite) != NULL && !x_finite);
			}
		x = rnd_vec(in);
		CHECK(maas_net_small_row(&net, x, work, &x_finite) != NULL && x_finite);
	}

	/* finite features that overflow: not proven, and finite */
	x = rnd_vec(in);
	for (int i = 0; i < in; i++)
		x[i] = 1e38f;
	layers[0] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = in, .n_out = 1,
	.w = x, .b = rnd_vec(1)};
	layers[1] = (MaasLayer) {.op = MAAS_OP_SIGMOID};
	CHECK(maas_net_check(&net, &err));
	CHECK(maas_net_workspace(&net, 1, 1, &nwork));
	work = maas_kalloc(sizeof(float) * nwork);
	x = rnd_vec(in);
	for (int i = 0; i < in; i++)
		x[i] = 3e38f;
	CHECK(maas_net_small_row(&net, x, work, &x_finite) != NULL && !x_finite &&
		  maas_all_finite(x, in));

	/* a sigmoid before the dense layer hides an infinity: not proven */
	layers[0] = (MaasLayer) {.op = MAAS_OP_SIGMOID};
	layers[1] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 1, .n_out = 1,
	.w = rnd_vec(1), .b = rnd_vec(1)};
	CHECK(maas_net_check(&sig, &err));
	CHECK(maas_net_workspace(&sig, 1, 1, &nwork));
	work = maas_kalloc(sizeof(float) * nwork);
	x = rnd_vec(1);
	x[0] = INFINITY;
	CHECK(maas_net_small_row(&sig, x, work, &x_finite) != NULL && !x_finite);
	x[0] = 0.5f;
	CHECK(maas_net_small_row(&sig, x, work, &x_finite) != NULL && !x_finite);

	/* a net that is not small has no such row */
	layers[0] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 1, .n_out = 1,
	.w = rnd_vec(1), .b = rnd_vec(1)};
	layers[1] = (MaasLayer) {.op = MAAS_OP_RELU};
	layers[2] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 1, .n_out = 1,
	.w = rnd_vec(1), .b = rnd_vec(1)};
	sig.n_layers = 3;
	CHECK(maas_net_check(&sig, &err));
	CHECK(maas_net_small_row(&sig, x, work, &x_finite) == NULL && !x_finite);
}

/* the chain checker names the layer that does not fit */
static void
test_check(void)
{
	float		w[6] = {0};
	MaasLayer	layers[3];
	MaasNet		net = {.n_layers = 3, .layers = layers, .n_in = 3};
	MaasError	err;

	layers[0] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 3, .n_out = 2, .w = w};
	layers[1] = (MaasLayer) {.op = MAAS_OP_TANH};
	layers[2] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 3, .n_out = 2, .w = w};
	CHECK_ERR(maas_net_check(&net, &err), err.msg,
			  "layer 3 (dense) takes 3 inputs but receives 2");

	layers[2].n_in = 2;
	CHECK(maas_net_check(&net, &err));
	CHECK(net.n_out == 2 && layers[1].n_in == 2 && layers[1].n_out == 2);

	net.n_layers = 0;
	CHECK_ERR(maas_net_check(&net, &err), err.msg, "no layers");
	net.n_layers = 3;
	net.n_in = 0;
	CHECK_ERR(maas_net_check(&net, &err), err.msg, "at least one feature");

	net.n_in = 3;
	layers[0] = (MaasLayer) {.op = MAAS_OP_STANDARDIZE, .n_in = 3};
	CHECK_ERR(maas_net_check(&net, &err), err.msg, "no mean or std");

	/* a layer can only read values computed before it */
	layers[0] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 3, .n_out = 2, .w = w};
	layers[1] = (MaasLayer) {.op = MAAS_OP_TANH, .n_inputs = 1, .inputs = {2}};
	CHECK_ERR(maas_net_check(&net, &err), err.msg,
			  "layer 2 (tanh) reads a value that is not computed before it");
	layers[1] = (MaasLayer) {.op = MAAS_OP_ADD, .n_inputs = 2, .inputs = {0, 1}};
	CHECK_ERR(maas_net_check(&net, &err), err.msg,
			  "layer 2 (add) adds values of different shapes (3 and 2 wide)");
	layers[1] = (MaasLayer) {.op = MAAS_OP_ADD};
	CHECK_ERR(maas_net_check(&net, &err), err.msg, "layer 2 (add) reads 1 values but takes 2");
}

static void
test_helpers(void)
{
	float		v[5] = {1, 3, 3, 2, -1};
	float		bad[3] = {0, NAN, 1};
	float		dummy = 0;
	size_t		n;
	MaasLayer	layers[2];
	MaasNet		net = {.n_layers = 2, .layers = layers, .n_in = 1 << 30};
	MaasError	err;
	MaasOp		op;

	CHECK(maas_argmax(v, 5) == 1);	/* first of the ties */
	CHECK(maas_all_finite(v, 5));
	CHECK(!maas_all_finite(bad, 3));
	bad[1] = INFINITY;
	CHECK(!maas_all_finite(bad, 3));

	/* workspace sizes never overflow silently (nothing here is allocated) */
	layers[0] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 1 << 30, .n_out = 1 << 30, .w = &dummy};
	layers[1] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = 1 << 30, .n_out = 1 << 30, .w = &dummy};
	CHECK(maas_net_check(&net, &err));
	CHECK(!maas_net_workspace(&net, 0, 1, &n));
	CHECK(maas_net_workspace(&net, 1, 1, &n) && n == (size_t) 2 << 30);
	net.n_in = layers[0].n_in = layers[0].n_out = layers[1].n_in = layers[1].n_out = 0x7fffffff;
	CHECK(maas_net_check(&net, &err));
	CHECK(maas_net_workspace(&net, 0x7fffffff, 1, &n) == (sizeof(size_t) > 4));

	CHECK(maas_op_from_name("softmax", &op) && op == MAAS_OP_SOFTMAX);
	CHECK(!maas_op_from_name("conv99", &op));
	CHECK(strcmp(maas_op_name(MAAS_OP_DENSE), "dense") == 0);
}

/*
 * A graph: two branches off one hidden layer, joined by a residual add;
 * the result against a plain reference, the buffers shared where values
 * do not overlap, and a run to an inner value computing only what it needs.
 */
static void
test_graph(void)
{
	int			in = 5,
				hid = 7;
	float	   *w1 = rnd_vec((size_t) in * hid),
			   *b1 = rnd_vec(hid),
			   *w2 = rnd_vec((size_t) hid * hid),
			   *w3 = rnd_vec((size_t) hid * 3);
	MaasLayer	layers[6];
	MaasNet		net = {.n_layers = 6, .layers = layers, .n_in = in};
	MaasError	err;
	float	   *x = rnd_vec((size_t) 4 * in);
	size_t		nwork;
	float	   *work;
	const float *y;
	MaasBatch	batch = {.n = 4, .t = 1, .x = x};

	/* h = relu(x W1 + b1); r = h + tanh(h W2); out = softmax(r W3) */
	layers[0] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = in, .n_out = hid, .w = w1, .b = b1};
	layers[1] = (MaasLayer) {.op = MAAS_OP_RELU, .name = "h"};
	layers[2] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = hid, .n_out = hid, .w = w2};
	layers[3] = (MaasLayer) {.op = MAAS_OP_TANH};
	layers[4] = (MaasLayer) {.op = MAAS_OP_ADD, .n_inputs = 2, .inputs = {2, 4}};
	layers[5] = (MaasLayer) {.op = MAAS_OP_DENSE, .n_in = hid, .n_out = 3, .w = w3};
	CHECK(maas_net_check(&net, &err));
	CHECK(net.n_out == 3 && net.n_buffers <= 3);
	CHECK(maas_net_find(&net, "h") == 2 && maas_net_find(&net, "nope") == -1);
	CHECK(maas_net_value_op(&net, 4) == MAAS_OP_TANH);
	CHECK(maas_net_value_op(&net, 0) == MAAS_N_OPS);
	CHECK(maas_net_workspace(&net, 4, 1, &nwork));
	work = maas_kalloc(sizeof(float) * nwork);

	y = maas_net_run(&net, blas, &batch, 0, work, &err);
	CHECK(y != NULL);
	for (int r = 0; r < 4 && y; r++)
	{
		double		h[7],
					t[7],
					o[3];

		for (int j = 0; j < hid; j++)
		{
			double		s = b1[j];

			for (int k = 0; k < in; k++)
				s += (double) x[r * in + k] * w1[j * in + k];
			h[j] = s > 0 ? s : 0;
		}
		for (int j = 0; j < hid; j++)
		{
			double		s = 0;

			for (int k = 0; k < hid; k++)
				s += h[k] * w2[j * hid + k];
			t[j] = h[j] + tanh(s);
		}
		for (int j = 0; j < 3; j++)
		{
			o[j] = 0;
			for (int k = 0; k < hid; k++)
				o[j] += t[k] * w3[j * hid + k];
			CHECK(fabs(y[r * 3 + j] - o[j]) < 1e-5);
		}
	}

	/* run to "h" only: the relu's output */
	y = maas_net_run(&net, blas, &batch, maas_net_find(&net, "h"), work, &err);
	CHECK(y != NULL);
	for (int r = 0; r < 4 && y; r++)
		for (int j = 0; j < hid; j++)
		{
			double		s = b1[j];

			for (int k = 0; k < in; k++)
				s += (double) x[r * in + k] * w1[j * in + k];
			CHECK(fabs(y[r * hid + j] - (s > 0 ? s : 0)) < 1e-5);
		}

	/* another output than the last layer: the others are not run */
	net.output = 2;
	CHECK(maas_net_check(&net, &err));
	CHECK(net.n_out == hid);
	net.output = 7;
	CHECK_ERR(maas_net_check(&net, &err), err.msg, "not one of its layers");
}

/* GPT-2's Conv1D layout: W stored [n_in, n_out], same results */
static void
test_dense_in_out(void)
{
	int			in = 33,
				out = 70;
	float	   *w = rnd_vec((size_t) in * out);	/* [out, in] */
	float	   *wt = maas_kalloc(sizeof(float) * in * out);	/* [in, out] */
	float	   *b = rnd_vec(out);
	MaasLayer	l1 = {.op = MAAS_OP_DENSE, .n_in = in, .n_out = out, .w = w, .b = b};
	MaasLayer	l2 = {.op = MAAS_OP_DENSE, .n_in = in, .n_out = out, .w = wt, .b = b, .w_in_out = true};
	MaasNet		n1 = {.n_layers = 1, .layers = &l1, .n_in = in};
	MaasNet		n2 = {.n_layers = 1, .layers = &l2, .n_in = in};

	for (int i = 0; i < in; i++)
		for (int j = 0; j < out; j++)
			wt[i * out + j] = w[j * in + i];
	for (int rows = 1; rows <= 5; rows += 4)
	{
		float	   *x = rnd_vec((size_t) rows * in);
		float	   *y1 = run(&n1, rows, x);
		float	   *copy = maas_kalloc(sizeof(float) * rows * out);
		float	   *y2;

		memcpy(copy, y1, sizeof(float) * rows * out);
		y2 = run(&n2, rows, x);
		for (int j = 0; j < rows * out; j++)
			CHECK(fabsf(copy[j] - y2[j]) < 1e-5f);
	}
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
	UNIT_RUN(test_small_row);
	UNIT_RUN(test_small_row_finite);
	UNIT_RUN(test_check);
	UNIT_RUN(test_helpers);
	UNIT_RUN(test_graph);
	UNIT_RUN(test_dense_in_out);
	UNIT_RUN(test_dense_backends);
	return unit_finish("net");
}
