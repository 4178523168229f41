/*
 * test_ops_conv.c
 *		The image layers of the runtime (src/kernel/ops_conv.c) through the
 *		whole path a model takes: a config and safetensors weights, built by
 *		net_build.c, run by net.c.
 *
 * Each op's output is compared with a direct loop in double over the same
 * geometry (every convolution algorithm, padding on one side only,
 * dilation, groups, ceil mode, both average divisors); a batch must give
 * what its rows give one at a time; a small CNN is compared layer by layer
 * with the references composed; nets built in code (maas_layer_conv2d,
 * maas_layer_pool2d) run as their configs do; and every bad config gets
 * its message.
 */
#include <math.h>
#include <stdlib.h>

#include "json.h"
#include "net_build.h"
#include "net_ops.h"
#include "net_testutil.h"
#include "safetensors.h"
#include "unit.h"

/* the case tables leave the fields geom_out fills to it */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static const MaasBlas *blas;
static MaasError err;
static uint64_t rng = 2024;

static double
urand(void)
{
	return unit_urand(&rng);
}

static float *
rand_floats(size_t n)
{
	float	   *v = maas_kalloc_array(n > 0 ? n : 1, sizeof(float));

	for (size_t i = 0; i < n; i++)
		v[i] = (float) (2.0 * urand() - 1.0);
	return v;
}

static double *
doubles(size_t n)
{
	double	   *v = maas_kalloc_array(n > 0 ? n : 1, sizeof(double));

	memset(v, 0, sizeof(double) * (n > 0 ? n : 1));
	return v;
}

/* ---- building nets from configs ---- */

/* a batch gives what its rows give one at a time */
static bool
rows_agree(const MaasNet *net, int n, const float *x, const float *batch)
{
	bool		ok = true;

	for (int r = 0; r < n && ok; r++)
	{
		float	   *one = tw_run(net, blas, 1, x + (size_t) r * net->n_in);

		for (int j = 0; j < net->n_out && ok; j++)
			ok = fabsf(one[j] - batch[(size_t) r * net->n_out + j]) <=
				1e-5f * fmaxf(1.0f, fabsf(one[j]));
	}
	return ok;
}

/* ---- references in double ---- */

typedef struct Geom
{
	int			c,
				h,
				w;				/* input */
	int			c_out,
				kh,
				kw,
				sh,
				sw,
				pt,
				pl,
				pb,
				pr,
				dh,
				dw,
				groups;
	bool		ceil_mode,
				include_pad;
	int			h_out,
				w_out;
} Geom;

/* output length along an axis, as torch and ONNX define it */
static int
out_len(int in, int pa, int pb, int k, int d, int s, bool ceil_mode)
{
	int			span = in + pa + pb - d * (k - 1) - 1;
	int			n = (ceil_mode ? (span + s - 1) / s : span / s) + 1;

	if (ceil_mode && (n - 1) * s >= in + pa)
		n--;
	return n;
}

static void
geom_out(Geom *g)
{
	g->h_out = out_len(g->h, g->pt, g->pb, g->kh, g->dh, g->sh, g->ceil_mode);
	g->w_out = out_len(g->w, g->pl, g->pr, g->kw, g->dw, g->sw, g->ceil_mode);
}

static void
ref_conv(const Geom *g, int n, const float *x, const float *wt, const float *b, double *y)
{
	int			cig = g->c / g->groups,
				cog = g->c_out / g->groups;

	for (int r = 0; r < n; r++)
		for (int oc = 0; oc < g->c_out; oc++)
			for (int oy = 0; oy < g->h_out; oy++)
				for (int ox = 0; ox < g->w_out; ox++)
				{
					double		s = b ? b[oc] : 0.0;

					for (int icg = 0; icg < cig; icg++)
						for (int ki = 0; ki < g->kh; ki++)
							for (int kj = 0; kj < g->kw; kj++)
							{
								int			iy = oy * g->sh - g->pt + ki * g->dh;
								int			ix = ox * g->sw - g->pl + kj * g->dw;
								int			ic = (oc / cog) * cig + icg;

								if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
									continue;
								s += (double) wt[((oc * cig + icg) * g->kh + ki) * g->kw + kj] *
									x[((r * g->c + ic) * g->h + iy) * g->w + ix];
							}
					y[((r * g->c_out + oc) * g->h_out + oy) * g->w_out + ox] = s;
				}
}

static void
ref_pool(const Geom *g, bool is_max, int n, const double *x, double *y)
{
	for (int pl = 0; pl < n * g->c; pl++)
		for (int oy = 0; oy < g->h_out; oy++)
			for (int ox = 0; ox < g->w_out; ox++)
			{
				double		best = -INFINITY,
							sum = 0.0;
				int			inside = 0,
							padded = 0;

				for (int ki = 0; ki < g->kh; ki++)
					for (int kj = 0; kj < g->kw; kj++)
					{
						int			iy = oy * g->sh - g->pt + ki * g->dh;
						int			ix = ox * g->sw - g->pl + kj * g->dw;

						if (iy < g->h + g->pb && ix < g->w + g->pr)
							padded++;
						if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
							continue;
						inside++;
						sum += x[(pl * g->h + iy) * g->w + ix];
						if (x[(pl * g->h + iy) * g->w + ix] > best)
							best = x[(pl * g->h + iy) * g->w + ix];
					}
				y[(pl * g->h_out + oy) * g->w_out + ox] = is_max ? best :
					sum / (g->include_pad ? padded : inside);
			}
}

static double *
widen(size_t n, const float *v)
{
	double	   *d = doubles(n);

	for (size_t i = 0; i < n; i++)
		d[i] = v[i];
	return d;
}

static void
relu_d(size_t n, double *v)
{
	for (size_t i = 0; i < n; i++)
		v[i] = v[i] > 0 ? v[i] : 0;
}

/* ---- conv2d ---- */

typedef struct ConvCase
{
	Geom		g;
	bool		bias;
	const char *extra;			/* the layer's keys besides weight and bias */
} ConvCase;

static const ConvCase conv_cases[] = {
	/* c   h   w  cout kh kw sh sw pt pl pb pr dh dw  g */
	{{1, 12, 12, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1}, true, ""},	/* im2col */
	{{3, 7, 9, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1}, true,
	", \"stride\": 2, \"padding\": 1"},
	{{2, 8, 6, 4, 3, 2, 1, 2, 1, 0, 0, 1, 1, 1, 1}, false,
	", \"stride\": [1, 2], \"padding\": [1, 0, 0, 1]"},	/* asymmetric, ONNX's order */
	{{2, 9, 9, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1}, true,
	", \"dilation\": 2, \"padding\": [2, 2]"},
	{{4, 6, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2}, true,
	", \"groups\": 2, \"padding\": 1"},
	{{4, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4}, true,
	", \"groups\": 4, \"padding\": 1"},	/* depthwise: direct */
	{{5, 4, 4, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}, true, ""},	/* 1x1: GEMM */
	{{3, 5, 5, 2, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1}, false, ", \"bias\": null"},	/* 1x1 output */
};

static void
test_conv2d(void)
{
	for (size_t c = 0; c < sizeof(conv_cases) / sizeof(conv_cases[0]); c++)
	{
		ConvCase	cc = conv_cases[c];
		Geom	   *g = &cc.g;
		TestWeights w = {0};
		float	   *wt,
				   *bias = NULL;
		char		config[1024];
		MaasNet    *net;
		int			n = 5;
		float	   *x,
				   *y;
		double	   *want;
		size_t		n_in = (size_t) g->c * g->h * g->w;

		geom_out(g);
		wt = tw_add(&w, rand_floats, "conv.weight", 4, g->c_out, g->c / g->groups, g->kh, g->kw);
		if (cc.bias)
			bias = tw_add(&w, rand_floats, "conv.bias", 1, g->c_out, 0, 0, 0);
		snprintf(config, sizeof(config),
				 "{\"n_features\": %zu, \"input_shape\": [%d, %d, %d], \"layers\": ["
				 "{\"op\": \"conv2d\", \"weight\": \"conv.weight\"%s%s}]}",
				 n_in, g->c, g->h, g->w, cc.bias ? ", \"bias\": \"conv.bias\"" : "", cc.extra);
		net = tw_build(config, &w, &err);
		CHECK(net != NULL);
		if (net == NULL)
		{
			fprintf(stderr, "    case %zu: %s\n", c, err.msg);
			continue;
		}
		CHECK(net->n_out == g->c_out * g->h_out * g->w_out);
		CHECK(net->layers[0].shape.c == g->c_out && net->layers[0].shape.h == g->h_out &&
			  net->layers[0].shape.w == g->w_out);
		x = rand_floats((size_t) n * n_in);
		y = tw_run(net, blas, n, x);
		want = doubles((size_t) n * net->n_out);
		ref_conv(g, n, x, wt, bias, want);
		CHECK(unit_close("conv2d", (size_t) n * net->n_out, y, want, 1e-5));
		CHECK(rows_agree(net, n, x, y));
	}
}

/* every algorithm the kernel has, run as a layer built in code */
static void
test_conv2d_in_code(void)
{
	Geom		g = {3, 10, 10, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	MaasConvAlgo algos[] = {MAAS_CONV_AUTO, MAAS_CONV_IM2COL, MAAS_CONV_DIRECT};
	float	   *wt = rand_floats(4 * 3 * 9),
			   *b = rand_floats(4);
	int			n = 3;
	float	   *x = rand_floats((size_t) n * 300);
	double	   *want = doubles((size_t) n * 400);

	geom_out(&g);
	ref_conv(&g, n, x, wt, b, want);
	for (int a = 0; a < 3; a++)
	{
		MaasLayer	l[2];
		MaasNet		net = {.n_layers = 2, .layers = l, .n_in = 300, .in_c = 3, .in_h = 10, .in_w = 10};
		MaasConv2d	geom;
		float	   *y;

		memset(l, 0, sizeof(l));
		maas_conv2d_init(&geom, 0, 0, 0, 4, 3, 3);
		geom.pad_top = geom.pad_left = geom.pad_bottom = geom.pad_right = 1;
		geom.algo = algos[a];
		CHECK(maas_layer_conv2d(&l[0], &geom, wt, b, &err));
		l[1].op = MAAS_OP_FLATTEN;
		CHECK(maas_net_check(&net, &err));
		CHECK(net.n_out == 400 && !net.layers[1].shape.h);
		y = tw_run(&net, blas, n, x);
		CHECK(unit_close("conv2d in code", (size_t) n * 400, y, want, 1e-5));
	}
}

/* ---- pooling ---- */

typedef struct PoolCase
{
	Geom		g;
	bool		is_max;
	const char *keys;
} PoolCase;

static const PoolCase pool_cases[] = {
	/* c   h   w  -  kh kw sh sw pt pl pb pr dh dw  -  ceil  pad */
	{{3, 8, 8, 0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, false, true}, true, "\"kernel\": 2"},
	{{2, 9, 7, 0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, false, true}, true, "\"kernel\": 2"},	/* odd: last row dropped */
	{{2, 9, 7, 0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, true, true}, true,
	"\"kernel\": 2, \"ceil_mode\": true"},
	{{2, 7, 7, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, false, true}, true,
	"\"kernel\": 3, \"stride\": 2, \"padding\": 1"},
	{{1, 8, 9, 0, 3, 2, 1, 2, 0, 1, 1, 0, 2, 1, 1, false, true}, true,
	"\"kernel\": [3, 2], \"stride\": [1, 2], \"padding\": [0, 1, 1, 0], \"dilation\": [2, 1]"},
	{{3, 8, 8, 0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, false, true}, false, "\"kernel\": 2"},
	{{2, 7, 7, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, false, true}, false,
	"\"kernel\": 3, \"stride\": 2, \"padding\": 1"},	/* count_include_pad by default */
	{{2, 7, 7, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, false, false}, false,
	"\"kernel\": 3, \"stride\": 2, \"padding\": 1, \"count_include_pad\": false"},
	{{2, 8, 8, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, true}, false,
	"\"kernel\": 3, \"stride\": 2, \"padding\": 1, \"ceil_mode\": true"},
};

static void
test_pool2d(void)
{
	for (size_t c = 0; c < sizeof(pool_cases) / sizeof(pool_cases[0]); c++)
	{
		PoolCase	pc = pool_cases[c];
		Geom	   *g = &pc.g;
		TestWeights w = {0};
		char		config[1024];
		MaasNet    *net;
		int			n = 4;
		size_t		n_in = (size_t) g->c * g->h * g->w;
		float	   *x,
				   *y;
		double	   *want;

		geom_out(g);
		snprintf(config, sizeof(config),
				 "{\"n_features\": %zu, \"input_shape\": [%d, %d, %d], \"layers\": ["
				 "{\"op\": \"%s\", %s}]}", n_in, g->c, g->h, g->w,
				 pc.is_max ? "maxpool2d" : "avgpool2d", pc.keys);
		tw_add(&w, rand_floats, "unused", 1, 1, 0, 0, 0);
		net = tw_build(config, &w, &err);
		CHECK(net != NULL);
		if (net == NULL)
		{
			fprintf(stderr, "    case %zu: %s\n", c, err.msg);
			continue;
		}
		CHECK(net->n_out == g->c * g->h_out * g->w_out);
		x = rand_floats((size_t) n * n_in);
		y = tw_run(net, blas, n, x);
		want = doubles((size_t) n * net->n_out);
		ref_pool(g, pc.is_max, n, widen((size_t) n * n_in, x), want);
		if (!unit_close(pc.is_max ? "maxpool2d" : "avgpool2d", (size_t) n * net->n_out, y, want, 1e-6))
		{
			fprintf(stderr, "    case %zu\n", c);
			CHECK(false);
		}
		CHECK(rows_agree(net, n, x, y));
	}
}

static void
test_global_avgpool(void)
{
	TestWeights w = {0};
	MaasNet    *net;
	float	   *x,
			   *y,
			   *fc,
			   *fb;
	double	   *want;
	int			n = 3;

	fc = tw_add(&w, rand_floats, "fc.weight", 2, 2, 4, 0, 0);
	fb = tw_add(&w, rand_floats, "fc.bias", 1, 2, 0, 0, 0);
	net = tw_build("{\"n_features\": 60, \"input_shape\": [4, 3, 5], \"layers\": ["
				   "{\"op\": \"global_avgpool\", \"name\": \"gap\"}, {\"op\": \"flatten\"},"
				   "{\"op\": \"dense\", \"weight\": \"fc.weight\", \"bias\": \"fc.bias\"}]}", &w, &err);
	CHECK(net != NULL);
	if (net == NULL)
		return;
	CHECK(net->layers[0].shape.c == 4 && net->layers[0].shape.h == 1 &&
		  net->layers[0].shape.w == 1 && net->layers[0].shape.width == 4);
	x = rand_floats((size_t) n * 60);
	y = tw_run(net, blas, n, x);
	want = doubles((size_t) n * 2);
	for (int r = 0; r < n; r++)
		for (int o = 0; o < 2; o++)
		{
			double		s = fb[o];

			for (int ch = 0; ch < 4; ch++)
			{
				double		m = 0;

				for (int i = 0; i < 15; i++)
					m += x[(r * 4 + ch) * 15 + i];
				s += fc[o * 4 + ch] * (m / 15);
			}
			want[r * 2 + o] = s;
		}
	CHECK(unit_close("global_avgpool", (size_t) n * 2, y, want, 1e-5));
}

/* ---- batchnorm ---- */

static void
test_batchnorm(void)
{
	TestWeights w = {0};
	MaasNet    *net;
	float	   *mean,
			   *var,
			   *scale,
			   *shift,
			   *x,
			   *y;
	double	   *want;
	int			n = 3;

	mean = tw_add(&w, rand_floats, "bn.running_mean", 1, 3, 0, 0, 0);
	var = tw_add(&w, rand_floats, "bn.running_var", 1, 3, 0, 0, 0);
	scale = tw_add(&w, rand_floats, "bn.weight", 1, 3, 0, 0, 0);
	shift = tw_add(&w, rand_floats, "bn.bias", 1, 3, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		var[i] = fabsf(var[i]) + 0.1f;

	/* per channel of an image, in place after a relu */
	net = tw_build("{\"n_features\": 12, \"input_shape\": [3, 2, 2], \"layers\": [{\"op\": \"relu\"},"
				   "{\"op\": \"batchnorm\", \"mean\": \"bn.running_mean\", \"var\": \"bn.running_var\","
				   " \"weight\": \"bn.weight\", \"bias\": \"bn.bias\", \"eps\": 0.001}]}", &w, &err);
	CHECK(net != NULL);
	if (net == NULL)
		return;
	CHECK(net->layers[1].buffer == net->layers[0].buffer);
	CHECK(net->layers[1].shape.c == 3 && net->layers[1].shape.h == 2);
	x = rand_floats((size_t) n * 12);
	y = tw_run(net, blas, n, x);
	want = doubles((size_t) n * 12);
	for (int r = 0; r < n; r++)
		for (int ch = 0; ch < 3; ch++)
			for (int i = 0; i < 4; i++)
			{
				double		v = x[(r * 3 + ch) * 4 + i];

				v = v > 0 ? v : 0;
				want[(r * 3 + ch) * 4 + i] = (v - mean[ch]) / sqrt((double) var[ch] + 0.001) *
					scale[ch] + shift[ch];
			}
	CHECK(unit_close("batchnorm image", (size_t) n * 12, y, want, 1e-5));

	/* per feature of a vector (BatchNorm1d), without weight and bias */
	net = tw_build("{\"n_features\": 3, \"layers\": [{\"op\": \"batchnorm\", "
				   "\"mean\": \"bn.running_mean\", \"var\": \"bn.running_var\"}]}", &w, &err);
	CHECK(net != NULL);
	if (net == NULL)
		return;
	y = tw_run(net, blas, n, x);
	for (int r = 0; r < n; r++)
		for (int j = 0; j < 3; j++)
			want[r * 3 + j] = (x[r * 3 + j] - mean[j]) / sqrt((double) var[j] + 1e-5);
	CHECK(unit_close("batchnorm vector", (size_t) n * 3, y, want, 1e-5));
}

/* ---- a small CNN, as the trainer stores one ---- */

static void
test_small_cnn(void)
{
	TestWeights w = {0};
	Geom		c1 = {1, 10, 10, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},
				p1 = {4, 8, 8, 0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1},
				c2 = {4, 4, 4, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
				p2 = {6, 4, 4, 0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1};
	float	   *w1,
			   *b1,
			   *w2,
			   *b2,
			   *fw,
			   *fb,
			   *x,
			   *y;
	int			n = 37;
	MaasNet    *net;
	double	   *a,
			   *b,
			   *want;
	float	   *tmp;

	w1 = tw_add(&w, rand_floats, "conv1.weight", 4, 4, 1, 3, 3);
	b1 = tw_add(&w, rand_floats, "conv1.bias", 1, 4, 0, 0, 0);
	w2 = tw_add(&w, rand_floats, "conv2.weight", 4, 6, 4, 3, 3);
	b2 = tw_add(&w, rand_floats, "conv2.bias", 1, 6, 0, 0, 0);
	fw = tw_add(&w, rand_floats, "fc.weight", 2, 3, 24, 0, 0);
	fb = tw_add(&w, rand_floats, "fc.bias", 1, 3, 0, 0, 0);
	net = tw_build("{\"n_features\": 100, \"input_shape\": [1, 10, 10], \"layers\": ["
				   "{\"op\": \"conv2d\", \"weight\": \"conv1.weight\", \"bias\": \"conv1.bias\"},"
				   "{\"op\": \"maxpool2d\", \"kernel\": 2}, {\"op\": \"relu\"},"
				   "{\"op\": \"conv2d\", \"weight\": \"conv2.weight\", \"bias\": \"conv2.bias\", \"padding\": 1},"
				   "{\"op\": \"relu\"}, {\"op\": \"maxpool2d\", \"kernel\": 2}, {\"op\": \"flatten\"},"
				   "{\"op\": \"dense\", \"weight\": \"fc.weight\", \"bias\": \"fc.bias\"},"
				   "{\"op\": \"softmax\"}]}", &w, &err);
	CHECK(net != NULL);
	if (net == NULL)
	{
		fprintf(stderr, "    %s\n", err.msg);
		return;
	}
	CHECK(net->n_out == 3);
	geom_out(&c1);
	geom_out(&p1);
	geom_out(&c2);
	geom_out(&p2);
	x = rand_floats((size_t) n * 100);
	y = tw_run(net, blas, n, x);

	/* the references, composed (relu and max pooling commute) */
	a = doubles((size_t) n * 256);
	ref_conv(&c1, n, x, w1, b1, a);
	relu_d((size_t) n * 256, a);
	b = doubles((size_t) n * 64);
	ref_pool(&p1, true, n, a, b);
	tmp = maas_kalloc_array((size_t) n * 64, sizeof(float));
	for (size_t i = 0; i < (size_t) n * 64; i++)
		tmp[i] = (float) b[i];
	a = doubles((size_t) n * 96);
	ref_conv(&c2, n, tmp, w2, b2, a);
	relu_d((size_t) n * 96, a);
	b = doubles((size_t) n * 24);
	ref_pool(&p2, true, n, a, b);
	want = doubles((size_t) n * 3);
	for (int r = 0; r < n; r++)
	{
		double		z[3],
					m = -INFINITY,
					s = 0;

		for (int o = 0; o < 3; o++)
		{
			z[o] = fb[o];
			for (int k = 0; k < 24; k++)
				z[o] += fw[o * 24 + k] * b[r * 24 + k];
			m = z[o] > m ? z[o] : m;
		}
		for (int o = 0; o < 3; o++)
			s += exp(z[o] - m);
		for (int o = 0; o < 3; o++)
			want[r * 3 + o] = exp(z[o] - m) / s;
	}
	CHECK(unit_close("small cnn", (size_t) n * 3, y, want, 1e-5));
	CHECK(rows_agree(net, n, x, y));

	/*
	 * In tiles of rows (net.c): of one row, of a few, of more rows than
	 * the batch (one pass: what y was)
	 */
	{
		const size_t bytes[] = {1, 9000, 30000, SIZE_MAX};

		for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++)
		{
			float	   *t;
			double	   *yd = doubles((size_t) n * 3);

			maas_net_tile_bytes = bytes[i];
			t = tw_run(net, blas, n, x);
			for (size_t j = 0; j < (size_t) n * 3; j++)
				yd[j] = y[j];
			if (!unit_close("small cnn in tiles", (size_t) n * 3, t, yd, 1e-6))
			{
				printf("    tiles of %zu bytes\n", bytes[i]);
				CHECK(false);
			}
		}
		maas_net_tile_bytes = MAAS_NET_TILE_BYTES;
	}
}

/* ---- errors ---- */

typedef struct BadCase
{
	const char *config;
	const char *message;
} BadCase;

#define IMG "{\"n_features\": 48, \"input_shape\": [3, 4, 4], "

static const BadCase bad_cases[] = {
	{"{\"n_features\": 48, \"layers\": [{\"op\": \"conv2d\", \"weight\": \"w\"}]}",
	"Layer 1 (conv2d) needs an image, but its input is a plain vector."},
	{IMG "\"layers\": [{\"op\": \"flatten\"}, {\"op\": \"maxpool2d\", \"kernel\": 2}]}",
	"Layer 2 (maxpool2d) needs an image, but its input is a plain vector."},
	{IMG "\"layers\": [{\"op\": \"conv2d\"}]}", "Layer 1 (conv2d) has no \"weight\"."},
	{IMG "\"layers\": [{\"op\": \"conv2d\", \"weight\": \"w\", \"groups\": 2}]}",
	"Layer 1 (conv2d): \"groups\" 2 does not divide the 3 input channels."},
	{IMG "\"layers\": [{\"op\": \"conv2d\", \"weight\": \"w2\"}]}",
	"Layer 1 (conv2d) needs tensor \"w2\" of shape [2, 3, 2, 2], but it has shape [2, 2, 2, 2]."},
	{IMG "\"layers\": [{\"op\": \"conv2d\", \"weight\": \"big\"}]}",
	"Layer 1 (conv2d): convolution kernel height \"5\" with dilation \"1\" exceeds the padded input height \"4\"."},
	{IMG "\"layers\": [{\"op\": \"conv2d\", \"weight\": \"w\", \"stride\": 0}]}",
	"Layer 1 (conv2d): \"stride\" must be a whole number from 1 to 100000, or a list [height, width] of them."},
	{IMG "\"layers\": [{\"op\": \"conv2d\", \"weight\": \"w\", \"padding\": [1, 1, 1]}]}",
	"Layer 1 (conv2d): \"padding\" must be a whole number from 0 to 100000, a list [height, width] or a list [top, left, bottom, right] of them."},
	{IMG "\"layers\": [{\"op\": \"conv2d\", \"weight\": \"w\", \"bias\": \"b3\"}]}",
	"Layer 1 (conv2d) needs tensor \"b3\" of shape [2], but it has shape [3]."},
	{IMG "\"layers\": [{\"op\": \"conv2d\", \"weight\": \"w\", \"kernel\": 3}]}",
	"Layer 1 (conv2d) has unknown key \"kernel\"."},
	{IMG "\"layers\": [{\"op\": \"maxpool2d\"}]}", "Layer 1 (maxpool2d) has no \"kernel\"."},
	{IMG "\"layers\": [{\"op\": \"maxpool2d\", \"kernel\": 5}]}",
	"Layer 1 (maxpool2d): pooling kernel height \"5\" with dilation \"1\" exceeds the padded input height \"4\"."},
	{IMG "\"layers\": [{\"op\": \"avgpool2d\", \"kernel\": 2, \"padding\": 3}]}",
	"Layer 1 (avgpool2d): pooling window \"0\" along the height covers only padding."},
	{IMG "\"layers\": [{\"op\": \"maxpool2d\", \"kernel\": 2, \"count_include_pad\": true}]}",
	"Layer 1 (maxpool2d) has unknown key \"count_include_pad\"."},
	{IMG "\"layers\": [{\"op\": \"maxpool2d\", \"kernel\": 2, \"ceil_mode\": 1}]}",
	"\"ceil_mode\" must be true or false."},
	{IMG "\"layers\": [{\"op\": \"batchnorm\", \"mean\": \"b3\", \"var\": \"b3\"}]}", NULL},
	{IMG "\"layers\": [{\"op\": \"batchnorm\", \"mean\": \"b3\"}]}",
	"Layer 1 (batchnorm) has no \"var\"."},
	{IMG "\"layers\": [{\"op\": \"batchnorm\", \"mean\": \"b2\", \"var\": \"b2\"}]}",
	"Layer 1 (batchnorm) needs tensor \"b2\" of shape [3], but it has shape [2]."},
	{IMG "\"layers\": [{\"op\": \"batchnorm\", \"mean\": \"b3\", \"var\": \"neg\"}]}",
	"Layer 1 (batchnorm): batch normalization variance plus epsilon of channel \"0\" is not positive."},
	{IMG "\"layers\": [{\"op\": \"batchnorm\", \"mean\": \"b3\", \"var\": \"b3\", \"eps\": 0}]}",
	"Layer 1 (batchnorm): \"eps\" must be positive."},
	{IMG "\"layers\": [{\"op\": \"global_avgpool\"}, {\"op\": \"conv2d\", \"weight\": \"w\"}]}",
	"Layer 2 (conv2d): convolution kernel height \"2\" with dilation \"1\" exceeds the padded input height \"1\"."},
	{"{\"n_features\": 48, \"input_shape\": [3, 4, 5], \"layers\": [{\"op\": \"relu\"}]}",
	"\"input_shape\" [3, 4, 5] makes 60 features, but \"n_features\" is 48."},
};

static void
test_errors(void)
{
	TestWeights w = {0};
	float	   *neg;

	tw_add(&w, rand_floats, "w", 4, 2, 3, 2, 2);
	tw_add(&w, rand_floats, "w2", 4, 2, 2, 2, 2);
	tw_add(&w, rand_floats, "big", 4, 2, 3, 5, 5);
	tw_add(&w, rand_floats, "b2", 1, 2, 0, 0, 0);
	tw_add(&w, rand_floats, "b3", 1, 3, 0, 0, 0);
	neg = tw_add(&w, rand_floats, "neg", 1, 3, 0, 0, 0);
	neg[0] = -1.0f;
	for (int i = 0; i < w.n; i++)
		if (strcmp(w.t[i].name, "b3") == 0)
			for (int j = 0; j < 3; j++)
				((float *) w.t[i].data)[j] = 0.5f;
	for (size_t c = 0; c < sizeof(bad_cases) / sizeof(bad_cases[0]); c++)
	{
		MaasNet    *net = tw_build(bad_cases[c].config, &w, &err);

		if (bad_cases[c].message == NULL)
		{
			CHECK(net != NULL);	/* a good one among them */
			continue;
		}
		CHECK(net == NULL);
		if (net == NULL && strcmp(err.msg, bad_cases[c].message) != 0)
		{
			fprintf(stderr, "    case %zu: got \"%s\"\n          want \"%s\"\n", c, err.msg,
					bad_cases[c].message);
			CHECK(false);
		}
	}

	/* the hint that says how to make an image input */
	CHECK(tw_build(bad_cases[0].config, &w, &err) == NULL);
	CHECK(err.hint != NULL && strstr(err.hint, "input_shape") != NULL);

	/* nets built in code are checked as well */
	{
		MaasLayer	l;
		MaasNet		net = {.n_layers = 1, .layers = &l, .n_in = 48};
		MaasConv2d	geom;
		MaasPool2d	pg;
		float		wt[24];

		memset(&l, 0, sizeof(l));
		maas_conv2d_init(&geom, 0, 0, 0, 2, 2, 2);
		CHECK(maas_layer_conv2d(&l, &geom, wt, NULL, &err));
		CHECK_ERR(maas_net_check(&net, &err), err.msg, "layer 1 (conv2d) needs an image input");
		net.in_c = 3;
		net.in_h = net.in_w = 4;
		CHECK(maas_net_check(&net, &err));
		CHECK(net.n_out == 2 * 3 * 3);
		maas_pool2d_init(&pg, 0, 0, 0, 5, 5);
		CHECK(maas_layer_pool2d(&l, MAAS_OP_MAXPOOL2D, &pg, &err));
		CHECK_ERR(maas_net_check(&net, &err), err.msg,
				  "layer 1 (maxpool2d): pooling kernel height \"5\"");
		CHECK_ERR(maas_layer_pool2d(&l, MAAS_OP_RELU, &pg, &err), err.msg, "is not a pooling");
	}
}

int
main(void)
{
	char		msg[256];

	blas = maas_blas_load(NULL, 1, msg, sizeof(msg));
	if (blas == NULL)
	{
		fprintf(stderr, "no BLAS: %s\n", msg);
		return unit_finish("ops_conv");
	}
	UNIT_RUN(test_conv2d);
	UNIT_RUN(test_conv2d_in_code);
	UNIT_RUN(test_pool2d);
	UNIT_RUN(test_global_avgpool);
	UNIT_RUN(test_batchnorm);
	UNIT_RUN(test_small_cnn);
	UNIT_RUN(test_errors);
	return unit_finish("ops_conv");
}
