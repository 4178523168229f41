/*
 * test_net_nhwc.c
 *		The layer runtime's image layers on oneDNN (net_tiles.c): the NHWC
 *		layout kept between convolutions and pooling, the tiles run on two
 *		threads, and the steps after the tiles over the whole batch, against
 *		the same nets with every convolution on im2col, within 1e-5: tiles
 *		of one row, a few and the whole batch, odd batch sizes, one and two
 *		threads, maas.gemm_backend auto, onednn and blas, and a backend
 *		that refuses the convolutions (everywhere, or on the second thread
 *		only) so that the transposes and the tiles run again apart are
 *		taken; each net also with its weights packed (maas_net_pack: the
 *		convolutions' for oneDNN's primitive of one row).  And the NHWC
 *		max pooling kernel against the NCHW one.  A CNN in PyTorch's order
 *		(the ReLU after each pooling, a standardize first) plans as the
 *		classic order does and gives its outputs.
 *		Without oneDNN only the NCHW paths run, and must agree too.
 */
#include <math.h>
#include <stdlib.h>

#include "conv.h"
#include "cpu.h"
#include "json.h"
#include "net_build.h"
#include "net_ops.h"
#include "net_plan.h"
#include "net_testutil.h"
#include "safetensors.h"
#include "unit.h"

static MaasError err;
static uint64_t rng = 1414;

static float *
rand_floats(size_t n)
{
	float	   *v = maas_kalloc_array(n > 0 ? n : 1, sizeof(float));

	for (size_t i = 0; i < n; i++)
		v[i] = (float) (2.0 * unit_urand(&rng) - 1.0);
	return v;
}

/* ---- nets from configs ---- */

/* the classic CNN's convolutions and dense layers (but the last bias) */
static void
classic_weights(TestWeights *w)
{
	tw_add(w, rand_floats, "c1.w", 4, 16, 1, 3, 3);
	tw_add(w, rand_floats, "c1.b", 1, 16, 0, 0, 0);
	tw_add(w, rand_floats, "c2.w", 4, 32, 16, 3, 3);
	tw_add(w, rand_floats, "c2.b", 1, 32, 0, 0, 0);
	tw_add(w, rand_floats, "d1.w", 2, 24, 32 * 2 * 2, 0, 0);
	tw_add(w, rand_floats, "d1.b", 1, 24, 0, 0, 0);
	tw_add(w, rand_floats, "d2.w", 2, 5, 24, 0, 0);
}

/* the classic CNN, small: conv 3x3, relu, pool 2, conv 3x3, relu, pool 2, dense */
static MaasNet *
classic_cnn(void)
{
	TestWeights w = {0};

	classic_weights(&w);
	tw_add(&w, rand_floats, "d2.b", 1, 5, 0, 0, 0);
	return tw_build("{\"n_features\": 196, \"input_shape\": [1, 14, 14], \"layers\": ["
				    "{\"op\": \"conv2d\", \"weight\": \"c1.w\", \"bias\": \"c1.b\"}, {\"op\": \"relu\"},"
				    "{\"op\": \"maxpool2d\", \"kernel\": 2},"
				    "{\"op\": \"conv2d\", \"weight\": \"c2.w\", \"bias\": \"c2.b\"}, {\"op\": \"relu\"},"
				    "{\"op\": \"maxpool2d\", \"kernel\": 2}, {\"op\": \"flatten\"},"
				    "{\"op\": \"dense\", \"weight\": \"d1.w\", \"bias\": \"d1.b\"}, {\"op\": \"relu\"},"
				    "{\"op\": \"dense\", \"weight\": \"d2.w\", \"bias\": \"d2.b\"},"
				    "{\"op\": \"softmax\"}]}", &w, &err);
}

/*
 * Odd shapes: three input channels (NCHW in, NHWC out), stride 2 and
 * padding, a 3x3 stride 2 padded pool (the general NHWC kernel), a 1x1
 * convolution of 20 channels without relu, a pool of an odd map, and the
 * output read right after the last pooling
 */
static MaasNet *
odd_cnn(void)
{
	TestWeights w = {0};

	tw_add(&w, rand_floats, "c1.w", 4, 12, 3, 3, 3);
	tw_add(&w, rand_floats, "c1.b", 1, 12, 0, 0, 0);
	tw_add(&w, rand_floats, "c2.w", 4, 20, 12, 1, 1);
	tw_add(&w, rand_floats, "d.w", 2, 7, 20 * 1 * 1, 0, 0);
	return tw_build("{\"n_features\": 297, \"input_shape\": [3, 11, 9], \"layers\": ["
				    "{\"op\": \"conv2d\", \"weight\": \"c1.w\", \"bias\": \"c1.b\", \"stride\": 2, \"padding\": 1},"
				    "{\"op\": \"relu\"},"
				    "{\"op\": \"maxpool2d\", \"kernel\": 3, \"stride\": 2, \"padding\": 1},"
				    "{\"op\": \"conv2d\", \"weight\": \"c2.w\"},"
				    "{\"op\": \"maxpool2d\", \"kernel\": 2}, {\"op\": \"flatten\"},"
				    "{\"op\": \"dense\", \"weight\": \"d.w\"}]}", &w, &err);
}

/* 0.5 to 1.5: a standardize's std */
static float *
pos_floats(size_t n)
{
	float	   *v = rand_floats(n);

	for (size_t i = 0; i < n; i++)
		v[i] = 1.0f + 0.5f * v[i];
	return v;
}

/*
 * The classic CNN with each ReLU after its pooling, as PyTorch's
 * relu(max_pool2d(conv(x))) and maas's own CNNs have it (torch_order), or
 * before; with a standardize first (maas's CNNs), or not.  The same
 * weights every time.
 */
static MaasNet *
ordered_cnn(bool torch_order, bool standardize)
{
	TestWeights w = {0};
	const char *block = torch_order ?
		"{\"op\": \"maxpool2d\", \"kernel\": 2}, {\"op\": \"relu\"}," :
		"{\"op\": \"relu\"}, {\"op\": \"maxpool2d\", \"kernel\": 2},";
	char		config[1024];

	rng = 2718;
	tw_add(&w, rand_floats, "s.mean", 1, 196, 0, 0, 0);
	tw_add(&w, pos_floats, "s.std", 1, 196, 0, 0, 0);
	classic_weights(&w);
	snprintf(config, sizeof(config),
			 "{\"n_features\": 196, \"input_shape\": [1, 14, 14], \"layers\": [%s"
			 "{\"op\": \"conv2d\", \"weight\": \"c1.w\", \"bias\": \"c1.b\"}, %s"
			 "{\"op\": \"conv2d\", \"weight\": \"c2.w\", \"bias\": \"c2.b\"}, %s"
			 "{\"op\": \"flatten\"},"
			 "{\"op\": \"dense\", \"weight\": \"d1.w\", \"bias\": \"d1.b\"}, {\"op\": \"relu\"},"
			 "{\"op\": \"dense\", \"weight\": \"d2.w\"}, {\"op\": \"softmax\"}]}",
			 standardize ? "{\"op\": \"standardize\", \"mean\": \"s.mean\", \"std\": \"s.std\"}," : "",
			 block, block);
	return tw_build(config, &w, &err);
}

/* ---- backends ---- */

static const MaasBlas *
open_with(MaasGemmBackend backend, int threads)
{
	MaasBlasConfig config = {.threads = threads, .backend = backend};
	MaasError	e;

	return maas_blas_open(&config, &e);
}

/* a backend as real but refusing convolutions: always, or on threads >= 1 */
static const MaasBlas *real_blas;
static bool refuse_all;

static bool
refusing_conv2d_at(const struct MaasConv2d *p, int n, const float *inp,
				   const float *weight, const void *packed, const float *bias,
				   bool relu, float *out, int layout, int thread)
{
	if (refuse_all || thread >= 1)
		return false;
	return real_blas->conv2d_at(p, n, inp, weight, packed, bias, relu, out, layout, thread);
}

static bool
refusing_conv2d(const struct MaasConv2d *p, int n, const float *inp,
				const float *weight, const float *bias, bool relu, float *out)
{
	if (refuse_all)
		return false;
	return real_blas->conv2d(p, n, inp, weight, bias, relu, out);
}



/* every backend and tile size against im2col, for batches of n rows */
static void
check_net(const char *name, MaasNet *net)
{
	static const int sizes[] = {1, 2, 7, 33};
	static const size_t tiles[] = {1, 30000, MAAS_NET_TILE_BYTES, SIZE_MAX};
	MaasBlas	im2col,
				refusing;
	const MaasBlas *ref;

	CHECK(net != NULL);
	if (net == NULL)
		return;
	ref = open_with(MAAS_BACKEND_AUTO, 1);
	CHECK(ref != NULL);
	if (ref == NULL)
		return;
	im2col = *ref;
	im2col.conv2d = NULL;
	im2col.conv2d_at = NULL;
	im2col.conv2d_ready = NULL;

	for (int si = 0; si < (int) (sizeof(sizes) / sizeof(sizes[0])); si++)
	{
		int			n = sizes[si];
		float	   *x = rand_floats((size_t) n * net->n_in);
		float	   *want;
		size_t		ny = (size_t) n * net->n_out;

		maas_net_tile_bytes = MAAS_NET_TILE_BYTES;
		want = tw_run(net, &im2col, n, x);
		for (int v = 0; v < 7; v++)
			for (int ti = 0; ti < (int) (sizeof(tiles) / sizeof(tiles[0])); ti++)
			{
				const MaasBlas *blas;
				char		what[128];
				float	   *got;

				/* auto 1 and 2 threads, onednn 2, blas 2, refusing */
				blas = open_with(v == 2 ? MAAS_BACKEND_ONEDNN :
								 v == 3 ? MAAS_BACKEND_BLAS : MAAS_BACKEND_AUTO,
								 v == 0 ? 1 : 2);
				if (blas == NULL)
					blas = open_with(MAAS_BACKEND_AUTO, 2);	/* no oneDNN */
				CHECK(blas != NULL);
				if (blas == NULL)
					continue;
				if (v >= 4)
				{
					real_blas = blas;
					refusing = *blas;
					refusing.conv2d = refusing_conv2d;
					refusing.conv2d_at = refusing_conv2d_at;
					refuse_all = v == 4;
					blas = &refusing;
				}
				maas_net_tile_bytes = tiles[ti];
				got = tw_run(net, blas, n, x);
				snprintf(what, sizeof(what), "%s, %d rows, variant %d, tiles of %zu bytes",
						 name, n, v, tiles[ti]);
				CHECK(unit_close_f(what, ny, got, want, 1e-5));
				/* twice: the primitives from the caches */
				if (v == 1 && ti == 2)
					CHECK(unit_close_f(what, ny, tw_run(net, blas, n, x), want, 1e-5));
			}
	}
	maas_net_tile_bytes = MAAS_NET_TILE_BYTES;
	ref = open_with(MAAS_BACKEND_AUTO, 1);
	printf("    %s: conv2d %s, on the backend: %s\n", name, ref->info->conv2d,
		   ref->conv2d_ready() ? "yes" : "no");
}

/* net with its weights packed as the server packs a model it loads */
static MaasNet *
packed(MaasNet *net)
{
	const MaasBlas *blas = open_with(MAAS_BACKEND_AUTO, 1);
	MaasError	err;

	CHECK(net != NULL && blas != NULL);
	if (net != NULL && blas != NULL)
		CHECK(maas_net_pack(net, blas, &err));
	return net;
}

static void
test_classic_cnn(void)
{
	check_net("classic cnn", classic_cnn());
	check_net("classic cnn, packed", packed(classic_cnn()));
}

static void
test_odd_cnn(void)
{
	check_net("odd cnn", odd_cnn());
	check_net("odd cnn, packed", packed(odd_cnn()));
}

/*
 * PyTorch's order: the ReLU after a max pooling is fused into the
 * convolution before it (net.c's fuse_relu; it commutes with the max of
 * each window), so the plan has the classic order's steps, its values stay
 * NHWC, and a standardize first runs on the tiles' threads too
 * (net_tiles.c); the outputs are the classic order's, on every backend
 */
static void
test_torch_order(void)
{
	static const int sizes[] = {1, 2, 7, 33};

	for (int st = 0; st < 2; st++)
	{
		MaasNet    *torch = ordered_cnn(true, st == 1);
		MaasNet    *classic = ordered_cnn(false, st == 1);
		const NetPlan *tp,
				   *cp;
		const MaasBlas *one = open_with(MAAS_BACKEND_AUTO, 1);

		CHECK(torch != NULL && classic != NULL && one != NULL);
		if (torch == NULL || classic == NULL || one == NULL)
			return;
		tp = torch->plan;
		cp = classic->plan;
		/* standardize, conv+relu, pool, conv+relu, pool, flatten, dense+relu, dense, softmax */
		CHECK(tp->n_steps == cp->n_steps && tp->n_steps == 8 + st);
		CHECK(tp->tiles_apart && cp->tiles_apart);
		CHECK(tp->nhwc == cp->nhwc);
		if (one->conv2d_ready != NULL && one->conv2d_ready())
			CHECK(maas_net_nhwc(tp, one));
		for (int i = 0; i < tp->n_steps && i < cp->n_steps; i++)
			CHECK(tp->steps[i].layer->op == cp->steps[i].layer->op &&
				  tp->steps[i].relu == cp->steps[i].relu &&
				  tp->steps[i].layout == cp->steps[i].layout);
		for (int si = 0; si < (int) (sizeof(sizes) / sizeof(sizes[0])); si++)
		{
			int			n = sizes[si];
			float	   *x = rand_floats((size_t) n * 196);

			for (int v = 0; v < 4; v++)
			{
				const MaasBlas *blas = open_with(v == 2 ? MAAS_BACKEND_ONEDNN :
												 v == 3 ? MAAS_BACKEND_BLAS : MAAS_BACKEND_AUTO,
												 v == 0 ? 1 : 2);
				char		what[96];
				float	   *want;

				if (blas == NULL)
					blas = open_with(MAAS_BACKEND_AUTO, 2);
				CHECK(blas != NULL);
				if (blas == NULL)
					continue;
				want = tw_run(classic, blas, n, x);
				snprintf(what, sizeof(what), "pytorch order%s, %d rows, variant %d",
						 st ? ", standardized" : "", n, v);
				CHECK(unit_close_f(what, (size_t) n * 5, tw_run(torch, blas, n, x), want, 0));
			}
		}
		check_net(st ? "pytorch-order cnn, standardized" : "pytorch-order cnn", torch);
	}
}

/* ---- the NHWC max pooling against the NCHW kernel ---- */

static void
test_maxpool_nhwc(void)
{
	/* c, h, w, k, stride, pad, dilation */
	static const int geoms[][7] = {
		{32, 26, 26, 2, 2, 0, 1}, {64, 11, 11, 2, 2, 0, 1}, {5, 7, 9, 3, 2, 1, 1},
		{17, 8, 8, 2, 1, 0, 2}, {3, 5, 5, 5, 1, 2, 1}, {300, 4, 4, 2, 2, 0, 1},
	};

	for (int g = 0; g < (int) (sizeof(geoms) / sizeof(geoms[0])); g++)
	{
		MaasPool2d	p;
		int			n = 3;
		size_t		in_sz,
					out_sz;
		float	   *x,
				   *xn,
				   *want,
				   *got,
				   *gotn;

		maas_pool2d_init(&p, geoms[g][0], geoms[g][1], geoms[g][2], geoms[g][3], geoms[g][3]);
		p.stride_h = p.stride_w = geoms[g][4];
		p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = geoms[g][5];
		p.dil_h = p.dil_w = geoms[g][6];
		CHECK(maas_pool2d_check(&p, &err));
		in_sz = (size_t) p.c * p.h * p.w;
		out_sz = (size_t) p.c * p.h_out * p.w_out;
		x = rand_floats(n * in_sz);
		x[7] = NAN;				/* a NaN wins its windows */
		xn = rand_floats(n * in_sz);
		want = rand_floats(n * out_sz);
		got = rand_floats(n * out_sz);
		gotn = rand_floats(n * out_sz);
		maas_maxpool2d_forward(&p, n, x, want, NULL);
		maas_image_to_nhwc(n, p.c, p.h, p.w, x, xn);
		maas_maxpool2d_nhwc(&p, n, xn, got, false);
		maas_maxpool2d_nhwc(&p, n, xn, gotn, true);
		maas_image_to_nchw(n, p.c, p.h_out, p.w_out, gotn, xn);
		for (size_t i = 0; i < n * out_sz; i++)
			if (!(got[i] == want[i] || (isnan(got[i]) && isnan(want[i]))) ||
				!(xn[i] == want[i] || (isnan(xn[i]) && isnan(want[i]))))
			{
				fprintf(stderr, "    geometry %d, element %zu: %g and %g, want %g\n",
						g, i, got[i], xn[i], want[i]);
				CHECK(!"NHWC pooling gives the NCHW values");
				break;
			}
	}
}

int
main(void)
{
	UNIT_RUN(test_maxpool_nhwc);
	UNIT_RUN(test_classic_cnn);
	UNIT_RUN(test_odd_cnn);
	UNIT_RUN(test_torch_order);
	return unit_finish("net_nhwc");
}
