/*
 * test_conv.c
 *		Unit tests of the convolution, pooling and batch-norm folding
 *		kernels (src/kernel/conv.c), on OpenBLAS.
 *
 * Forward passes are compared with direct loops in double; backward
 * passes with central differences of those loops (the loss is sum(y *
 * dy), so the gradient is exact up to rounding), element by element on
 * small cases and along random directions on larger ones; every algorithm
 * with every other; and everything with torch's answers in
 * test/fixtures/conv_torch.safetensors (make_conv_fixtures.py).
 */
#include <math.h>
#include <stdlib.h>

#include "conv.h"
#include "safetensors.h"
#include "unit.h"

static const MaasBlas *blas;
static uint64_t rng = 12345;

static double
urand(void)
{
	return unit_urand(&rng);
}

/* n floats uniform in [-1, 1) */
static float *
rand_floats(size_t n)
{
	float	   *v = maas_kalloc_array(n > 0 ? n : 1, sizeof(float));

	for (size_t i = 0; i < n; i++)
		v[i] = (float) (2.0 * urand() - 1.0);
	return v;
}

static float *
floats(size_t n)
{
	return maas_kalloc_array(n > 0 ? n : 1, sizeof(float));
}

static double *
doubles(size_t n)
{
	double	   *v = maas_kalloc_array(n > 0 ? n : 1, sizeof(double));

	memset(v, 0, sizeof(double) * (n > 0 ? n : 1));
	return v;
}

static double *
widen(size_t n, const float *v)
{
	double	   *d = doubles(n);

	for (size_t i = 0; i < n; i++)
		d[i] = v ? v[i] : 0.0;
	return d;
}

static bool
close_floats(const char *what, size_t n, const float *got, const float *want, double tol)
{
	return unit_close(what, n, got, widen(n, want), tol);
}

/* ---- references in double ---- */

static void
ref_conv(const MaasConv2d *p, int n, const double *x, const double *w,
		 const double *b, double *y)
{
	int			cig = p->c_in / p->groups;
	int			cog = p->c_out / p->groups;

	for (int r = 0; r < n; r++)
		for (int oc = 0; oc < p->c_out; oc++)
			for (int oy = 0; oy < p->h_out; oy++)
				for (int ox = 0; ox < p->w_out; ox++)
				{
					double		s = b ? b[oc] : 0.0;

					for (int icg = 0; icg < cig; icg++)
					{
						int			ic = (oc / cog) * cig + icg;

						for (int ki = 0; ki < p->kh; ki++)
							for (int kj = 0; kj < p->kw; kj++)
							{
								int			iy = oy * p->stride_h - p->pad_top + ki * p->dil_h;
								int			ix = ox * p->stride_w - p->pad_left + kj * p->dil_w;

								if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
									continue;
								s += w[((oc * cig + icg) * p->kh + ki) * p->kw + kj] *
									x[((r * p->c_in + ic) * p->h + iy) * p->w + ix];
							}
					}
					y[((r * p->c_out + oc) * p->h_out + oy) * p->w_out + ox] = s;
				}
}

/* the window of output (oy, ox): taps in the input, and the avg divisor */
static void
ref_pool(const MaasPool2d *p, bool is_max, int n, const double *x, double *y,
		 int32_t *arg)
{
	for (int pl = 0; pl < n * p->c; pl++)
		for (int oy = 0; oy < p->h_out; oy++)
			for (int ox = 0; ox < p->w_out; ox++)
			{
				double		best = -INFINITY,
							sum = 0.0;
				int			at = -1,
							inside = 0,
							padded = 0;

				for (int ki = 0; ki < p->kh; ki++)
					for (int kj = 0; kj < p->kw; kj++)
					{
						int			iy = oy * p->stride_h - p->pad_top + ki * p->dil_h;
						int			ix = ox * p->stride_w - p->pad_left + kj * p->dil_w;

						if (iy >= -p->pad_top && iy < p->h + p->pad_bottom &&
							ix >= -p->pad_left && ix < p->w + p->pad_right)
							padded++;
						if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
							continue;
						inside++;
						sum += x[(pl * p->h + iy) * p->w + ix];
						if (at < 0 || x[(pl * p->h + iy) * p->w + ix] > best)
						{
							best = x[(pl * p->h + iy) * p->w + ix];
							at = iy * p->w + ix;
						}
					}
				if (is_max)
				{
					y[(pl * p->h_out + oy) * p->w_out + ox] = best;
					if (arg)
						arg[(pl * p->h_out + oy) * p->w_out + ox] = at;
				}
				else
					y[(pl * p->h_out + oy) * p->w_out + ox] =
						sum / (p->count_include_pad ? padded : inside);
			}
}

/* sum(ref_conv(x, w, b) * dy) */
static double
conv_loss(const MaasConv2d *p, int n, const double *x, const double *w,
		  const double *b, const double *dy, double *ybuf)
{
	size_t		ny = (size_t) n * maas_conv2d_out_size(p);
	double		s = 0.0;

	ref_conv(p, n, x, w, b, ybuf);
	for (size_t i = 0; i < ny; i++)
		s += ybuf[i] * dy[i];
	return s;
}

/* ---- convolution cases ---- */

typedef struct ConvCase
{
	int			n,
				c_in,
				h,
				w,
				c_out,
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
	bool		bias;
} ConvCase;

static const ConvCase conv_cases[] = {
	/* n  cin  h   w  cout kh kw sh sw pt pl pb pr dh dw  g  bias */
	{2, 1, 28, 28, 8, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},	/* the CNN's first layer */
	{3, 4, 13, 13, 6, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},	/* its second, smaller */
	{2, 3, 7, 9, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true},	/* odd sizes, stride 2 */
	{2, 3, 8, 7, 4, 3, 3, 1, 1, 0, 1, 2, 1, 1, 1, 1, false},	/* asymmetric padding */
	{2, 2, 9, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, true},	/* dilation 2 */
	{2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, true},	/* groups 2 */
	{3, 4, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, true},	/* depthwise */
	{2, 4, 6, 5, 8, 3, 3, 2, 2, 1, 0, 1, 2, 1, 1, 4, false},	/* depthwise x2, stride 2 */
	{2, 6, 5, 5, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},	/* 1x1 */
	{2, 6, 16, 17, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, true},	/* 1x1, groups 2, big map */
	{2, 6, 5, 5, 4, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, true},	/* 1x1 stride 2 */
	{2, 2, 9, 8, 3, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1, true},	/* 5x5 "same" */
	{1, 3, 6, 6, 3, 1, 3, 1, 2, 0, 1, 0, 1, 1, 1, 1, true},	/* 1x3, stride (1, 2) */
	{2, 2, 5, 5, 2, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},	/* kernel = input: 1x1 out */
	{2, 2, 3, 4, 3, 5, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1, true},	/* kernel > input, padded */
	{2, 3, 10, 9, 4, 3, 2, 3, 2, 2, 0, 1, 3, 2, 1, 1, true},	/* stride 3, mixed pads */
	{1, 2, 4, 4, 2, 3, 3, 1, 1, 5, 5, 5, 5, 1, 1, 1, true},	/* windows all padding */
	{70, 3, 13, 13, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},	/* many rows: 3 chunks */
	{40, 2, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, true},	/* many rows, groups */
};

#define N_CONV_CASES ((int) (sizeof(conv_cases) / sizeof(conv_cases[0])))

static void
case_params(const ConvCase *c, MaasConv2d *p, MaasConvAlgo algo)
{
	maas_conv2d_init(p, c->c_in, c->h, c->w, c->c_out, c->kh, c->kw);
	p->stride_h = c->sh;
	p->stride_w = c->sw;
	p->pad_top = c->pt;
	p->pad_left = c->pl;
	p->pad_bottom = c->pb;
	p->pad_right = c->pr;
	p->dil_h = c->dh;
	p->dil_w = c->dw;
	p->groups = c->groups;
	p->algo = algo;
}

static bool
pointwise(const ConvCase *c)
{
	return c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 &&
		c->pt == 0 && c->pl == 0 && c->pb == 0 && c->pr == 0;
}

static const char *const algo_names[] = {"auto", "im2col", "gemm", "direct"};

/* the algorithms a case runs with: every one that accepts it */
static int
case_algos(const ConvCase *c, MaasConvAlgo *algos)
{
	int			k = 0;

	algos[k++] = MAAS_CONV_AUTO;
	algos[k++] = MAAS_CONV_IM2COL;
	algos[k++] = MAAS_CONV_DIRECT;
	if (pointwise(c))
		algos[k++] = MAAS_CONV_GEMM;
	return k;
}

static float *
scratch_for(const MaasConv2d *p, int n)
{
	size_t		nf;

	if (!maas_conv2d_scratch(p, n, &nf))
		return NULL;
	return floats(nf);
}

static void
report_case(int i, MaasConvAlgo algo)
{
	fprintf(stderr, "    in case %d, algorithm %s\n", i, algo_names[algo]);
}

static void
test_conv_forward(void)
{
	for (int i = 0; i < N_CONV_CASES; i++)
	{
		const ConvCase *c = &conv_cases[i];
		MaasConvAlgo algos[4];
		int			na = case_algos(c, algos);
		MaasConv2d	p;
		MaasError	err;
		float	   *x,
				   *w,
				   *b,
				   *first = NULL;
		double	   *want;
		size_t		nx,
					ny;

		case_params(c, &p, MAAS_CONV_AUTO);
		CHECK(maas_conv2d_check(&p, &err));
		nx = (size_t) c->n * maas_conv2d_in_size(&p);
		ny = (size_t) c->n * maas_conv2d_out_size(&p);
		x = rand_floats(nx);
		w = rand_floats(maas_conv2d_weights(&p));
		b = c->bias ? rand_floats(c->c_out) : NULL;
		want = doubles(ny);
		ref_conv(&p, c->n, widen(nx, x), widen(maas_conv2d_weights(&p), w),
				 b ? widen(c->c_out, b) : NULL, want);

		for (int a = 0; a < na; a++)
		{
			float	   *y = floats(ny);

			case_params(c, &p, algos[a]);
			CHECK(maas_conv2d_check(&p, &err));
			maas_conv2d_forward(&p, blas, c->n, x, w, b, y, scratch_for(&p, c->n), NULL);
			if (!unit_close("forward", ny, y, want, 1e-5))
			{
				CHECK(!"forward matches the double reference");
				report_case(i, algos[a]);
			}
			/* with the ReLU fused: the same values through the ReLU, exactly */
			{
				float	   *yr = floats(ny);
				size_t		k;

				maas_conv2d_forward_act(&p, blas, c->n, x, w, b, true, yr,
										scratch_for(&p, c->n), NULL);
				for (k = 0; k < ny; k++)
					if (yr[k] != (y[k] > 0.0f ? y[k] : 0.0f))
						break;
				if (k < ny)
				{
					CHECK(!"forward with relu is relu(forward)");
					report_case(i, algos[a]);
				}
			}
			/* the algorithms agree with each other */
			if (first == NULL)
				first = y;
			else if (!close_floats("algorithms", ny, y, first, 1e-5))
			{
				CHECK(!"algorithms agree");
				report_case(i, algos[a]);
			}
		}
	}
}

/*
 * Backward against central differences of the double reference: element
 * by element when the case is small, else along random directions.
 */
static void
test_conv_backward(void)
{
	for (int i = 0; i < N_CONV_CASES; i++)
	{
		const ConvCase *c = &conv_cases[i];
		MaasConvAlgo algos[4];
		int			na = case_algos(c, algos);
		MaasConv2d	p;
		MaasError	err;
		size_t		nx,
					ny,
					nw;
		float	   *x,
				   *w,
				   *b,
				   *dy;
		double	   *xd,
				   *wd,
				   *bd,
				   *dyd,
				   *ybuf,
				   *gx,
				   *gw,
				   *gb;
		bool		small;
		const double eps = 1e-3;

		case_params(c, &p, MAAS_CONV_AUTO);
		CHECK(maas_conv2d_check(&p, &err));
		nx = (size_t) c->n * maas_conv2d_in_size(&p);
		ny = (size_t) c->n * maas_conv2d_out_size(&p);
		nw = maas_conv2d_weights(&p);
		x = rand_floats(nx);
		w = rand_floats(nw);
		b = rand_floats(c->c_out);
		dy = rand_floats(ny);
		xd = widen(nx, x);
		wd = widen(nw, w);
		bd = widen(c->c_out, b);
		dyd = widen(ny, dy);
		ybuf = doubles(ny);
		gx = doubles(nx);
		gw = doubles(nw);
		gb = doubles(c->c_out);
		small = (double) (nx + nw) * maas_conv2d_macs(&p) * c->n < 3e7;

		/* the numerical gradient (the bias one is exact: sum of dy) */
		for (int oc = 0; oc < c->c_out; oc++)
			for (int r = 0; r < c->n; r++)
				for (int k = 0; k < p.h_out * p.w_out; k++)
					gb[oc] += dyd[((size_t) r * c->c_out + oc) * p.h_out * p.w_out + k];
		if (small)
		{
			for (size_t k = 0; k < nx; k++)
			{
				double		v = xd[k],
							lp,
							lm;

				xd[k] = v + eps;
				lp = conv_loss(&p, c->n, xd, wd, bd, dyd, ybuf);
				xd[k] = v - eps;
				lm = conv_loss(&p, c->n, xd, wd, bd, dyd, ybuf);
				xd[k] = v;
				gx[k] = (lp - lm) / (2 * eps);
			}
			for (size_t k = 0; k < nw; k++)
			{
				double		v = wd[k],
							lp,
							lm;

				wd[k] = v + eps;
				lp = conv_loss(&p, c->n, xd, wd, bd, dyd, ybuf);
				wd[k] = v - eps;
				lm = conv_loss(&p, c->n, xd, wd, bd, dyd, ybuf);
				wd[k] = v;
				gw[k] = (lp - lm) / (2 * eps);
			}
		}

		for (int a = 0; a < na; a++)
		{
			float	   *dx = floats(nx),
					   *dw = floats(nw),
					   *db = floats(c->c_out),
					   *dw2 = floats(nw);
			float	   *scratch;

			case_params(c, &p, algos[a]);
			CHECK(maas_conv2d_check(&p, &err));
			scratch = scratch_for(&p, c->n);
			maas_conv2d_backward(&p, blas, c->n, dy, x, w, dx, dw, db, scratch, NULL);
			CHECK(unit_close("dbias", c->c_out, db, gb, 1e-5));
			if (small)
			{
				if (!unit_close("dinp", nx, dx, gx, 1e-5) ||
					!unit_close("dweight", nw, dw, gw, 1e-5))
				{
					CHECK(!"backward matches numerical gradients");
					report_case(i, algos[a]);
				}
			}
			else
			{
				/* three random directions through x and through w */
				for (int t = 0; t < 3; t++)
				{
					double	   *vx = widen(nx, rand_floats(nx));
					double	   *vw = widen(nw, rand_floats(nw));
					double	   *xp = doubles(nx),
							   *wp = doubles(nw);
					double		lp,
								lm,
								dot_x = 0.0,
								dot_w = 0.0,
								num_x,
								num_w;

					for (size_t k = 0; k < nx; k++)
						xp[k] = xd[k] + eps * vx[k];
					lp = conv_loss(&p, c->n, xp, wd, bd, dyd, ybuf);
					for (size_t k = 0; k < nx; k++)
						xp[k] = xd[k] - eps * vx[k];
					lm = conv_loss(&p, c->n, xp, wd, bd, dyd, ybuf);
					num_x = (lp - lm) / (2 * eps);
					for (size_t k = 0; k < nw; k++)
						wp[k] = wd[k] + eps * vw[k];
					lp = conv_loss(&p, c->n, xd, wp, bd, dyd, ybuf);
					for (size_t k = 0; k < nw; k++)
						wp[k] = wd[k] - eps * vw[k];
					lm = conv_loss(&p, c->n, xd, wp, bd, dyd, ybuf);
					num_w = (lp - lm) / (2 * eps);
					for (size_t k = 0; k < nx; k++)
						dot_x += dx[k] * vx[k];
					for (size_t k = 0; k < nw; k++)
						dot_w += dw[k] * vw[k];
					if (fabs(dot_x - num_x) > 1e-4 * (1 + fabs(num_x)) ||
						fabs(dot_w - num_w) > 1e-4 * (1 + fabs(num_w)))
					{
						CHECK(!"backward matches directional derivatives");
						fprintf(stderr, "    x: %.9g vs %.9g, w: %.9g vs %.9g\n",
								dot_x, num_x, dot_w, num_w);
						report_case(i, algos[a]);
					}
				}
			}

			/* without dinp (a first layer) and without dbias: same dweight */
			maas_conv2d_backward(&p, blas, c->n, dy, x, w, NULL, dw2, NULL, scratch, NULL);
			CHECK(memcmp(dw, dw2, sizeof(float) * nw) == 0);
		}
	}
}

/* im2col and direct backward agree element by element on the big cases too */
static void
test_conv_backward_algos_agree(void)
{
	for (int i = 0; i < N_CONV_CASES; i++)
	{
		const ConvCase *c = &conv_cases[i];
		MaasConv2d	p,
					q;
		MaasError	err;
		size_t		nx,
					ny,
					nw;
		float	   *x,
				   *w,
				   *dy,
				   *dx1,
				   *dx2,
				   *dw1,
				   *dw2,
				   *db1,
				   *db2;

		case_params(c, &p, MAAS_CONV_IM2COL);
		case_params(c, &q, MAAS_CONV_DIRECT);
		CHECK(maas_conv2d_check(&p, &err) && maas_conv2d_check(&q, &err));
		nx = (size_t) c->n * maas_conv2d_in_size(&p);
		ny = (size_t) c->n * maas_conv2d_out_size(&p);
		nw = maas_conv2d_weights(&p);
		x = rand_floats(nx);
		w = rand_floats(nw);
		dy = rand_floats(ny);
		dx1 = floats(nx);
		dx2 = floats(nx);
		dw1 = floats(nw);
		dw2 = floats(nw);
		db1 = floats(c->c_out);
		db2 = floats(c->c_out);
		maas_conv2d_backward(&p, blas, c->n, dy, x, w, dx1, dw1, db1, scratch_for(&p, c->n), NULL);
		maas_conv2d_backward(&q, blas, c->n, dy, x, w, dx2, dw2, db2, scratch_for(&q, c->n), NULL);
		if (!close_floats("dinp", nx, dx1, dx2, 1e-5) ||
			!close_floats("dweight", nw, dw1, dw2, 1e-5) ||
			!close_floats("dbias", c->c_out, db1, db2, 1e-6))
		{
			CHECK(!"im2col and direct backward agree");
			fprintf(stderr, "    in case %d\n", i);
		}
	}
}

static int	ticks;

static void
count_tick(void *arg)
{
	(void) arg;
	ticks++;
}

/* ticks between chunks (im2col) and rows (direct), in both directions */
static void
test_conv_ticks(void)
{
	const MaasTick tick = {count_tick, NULL};
	MaasConv2d	p;
	MaasError	err;
	int			n = 100;
	float	   *x,
			   *w,
			   *y,
			   *dx,
			   *dw;

	/* 13x13 -> 11x11: 121 columns a row, 33 rows a chunk: 4 chunks */
	maas_conv2d_init(&p, 2, 13, 13, 3, 3, 3);
	p.algo = MAAS_CONV_IM2COL;
	CHECK(maas_conv2d_check(&p, &err));
	x = rand_floats(n * maas_conv2d_in_size(&p));
	w = rand_floats(maas_conv2d_weights(&p));
	y = floats(n * maas_conv2d_out_size(&p));
	dx = floats(n * maas_conv2d_in_size(&p));
	dw = floats(maas_conv2d_weights(&p));
	ticks = 0;
	maas_conv2d_forward(&p, blas, n, x, w, NULL, y, scratch_for(&p, n), &tick);
	CHECK(ticks == 4);
	ticks = 0;
	maas_conv2d_backward(&p, blas, n, y, x, w, dx, dw, NULL, scratch_for(&p, n), &tick);
	CHECK(ticks == 4);
	p.algo = MAAS_CONV_DIRECT;
	CHECK(maas_conv2d_check(&p, &err));
	ticks = 0;
	maas_conv2d_forward(&p, blas, n, x, w, NULL, y, scratch_for(&p, n), &tick);
	CHECK(ticks == n);
	ticks = 0;
	maas_conv2d_backward(&p, blas, n, y, x, w, dx, dw, NULL, scratch_for(&p, n), &tick);
	CHECK(ticks == n);
	p.stride_w = 2;				/* the row-by-row direct loops */
	CHECK(maas_conv2d_check(&p, &err));
	ticks = 0;
	maas_conv2d_forward(&p, blas, n, x, w, NULL, y, NULL, &tick);
	CHECK(ticks == n);
}

static void
test_conv_scratch(void)
{
	MaasConv2d	p;
	MaasError	err;
	size_t		nf,
				nf_big;

	/* im2col: (c_in * kh * kw + c_out) * rows a chunk * h_out * w_out */
	maas_conv2d_init(&p, 32, 13, 13, 64, 3, 3);
	CHECK(maas_conv2d_check(&p, &err));
	CHECK(p.chosen == MAAS_CONV_IM2COL);
	CHECK(maas_conv2d_scratch(&p, 1, &nf) && nf == (size_t) (288 + 64) * 121);
	CHECK(maas_conv2d_scratch(&p, 1000000, &nf_big));
	CHECK(nf_big <= (size_t) (288 + 64) * (4096 + 121));
	CHECK(maas_conv2d_scratch(&p, 0, &nf) && nf == 0);
	/*
	 * direct at stride 1: an output plane at the input's pitch, plus with
	 * padding two padded copies of a row's input; else none
	 */
	maas_conv2d_init(&p, 1, 28, 28, 32, 3, 3);
	p.algo = MAAS_CONV_DIRECT;
	CHECK(maas_conv2d_check(&p, &err));
	CHECK(maas_conv2d_scratch(&p, 64, &nf) && nf == 26 * 28);
	maas_conv2d_init(&p, 8, 10, 10, 8, 3, 3);
	p.groups = 8;
	p.pad_top = p.pad_left = 1;
	p.pad_bottom = p.pad_right = 2;
	CHECK(maas_conv2d_check(&p, &err));
	CHECK(p.chosen == MAAS_CONV_DIRECT && p.h_out == 11);
	CHECK(maas_conv2d_scratch(&p, 64, &nf) && nf == 11 * 13 + 2 * 8 * 13 * 13);
	p.stride_h = p.stride_w = 2;
	p.algo = MAAS_CONV_DIRECT;
	CHECK(maas_conv2d_check(&p, &err));
	CHECK(maas_conv2d_scratch(&p, 64, &nf) && nf == 0);
	/* gemm needs none */
	maas_conv2d_init(&p, 64, 32, 32, 64, 1, 1);
	CHECK(maas_conv2d_check(&p, &err));
	CHECK(p.chosen == MAAS_CONV_GEMM);
	CHECK(maas_conv2d_scratch(&p, 64, &nf) && nf == 0);
	CHECK(maas_conv2d_weights(&p) == 64 * 64);
	CHECK(maas_conv2d_macs(&p) == 64.0 * 64 * 32 * 32);
}

/* a failed check with this status and a message containing fragment */
static void
expect_error(bool ok, const MaasError *err, MaasStatus status, const char *fragment)
{
	if (!ok && err->status == status && strstr(err->msg, fragment) != NULL)
		return;
	CHECK(!"the expected error");
	fprintf(stderr, "    wanted \"%s\" (%s), got %s \"%s\" (%s)\n", fragment,
			maas_status_name(status), ok ? "success" : "failure", err->msg,
			maas_status_name(err->status));
}

/* what AUTO picks (the rule at choose_algo) */
static void
test_conv_auto(void)
{
	MaasConv2d	p;
	MaasError	err;

	maas_conv2d_init(&p, 1, 28, 28, 32, 3, 3);	/* the CNN's first layer */
	CHECK(maas_conv2d_check(&p, &err) && p.chosen == MAAS_CONV_IM2COL);
	maas_conv2d_init(&p, 32, 13, 13, 64, 3, 3);	/* its second */
	CHECK(maas_conv2d_check(&p, &err) && p.chosen == MAAS_CONV_IM2COL);
	maas_conv2d_init(&p, 32, 28, 28, 64, 3, 3);	/* depthwise, multiplier 2 */
	p.groups = 32;
	CHECK(maas_conv2d_check(&p, &err) && p.chosen == MAAS_CONV_DIRECT);
	p.groups = 16;				/* grouped, 2 channels a group */
	CHECK(maas_conv2d_check(&p, &err) && p.chosen == MAAS_CONV_IM2COL);
	maas_conv2d_init(&p, 64, 7, 7, 128, 1, 1);	/* 1x1 */
	CHECK(maas_conv2d_check(&p, &err) && p.chosen == MAAS_CONV_GEMM);
	p.stride_h = 2;				/* a strided 1x1 needs its columns */
	CHECK(maas_conv2d_check(&p, &err) && p.chosen == MAAS_CONV_IM2COL);
	/* a request is kept */
	p.stride_h = 1;
	p.algo = MAAS_CONV_DIRECT;
	CHECK(maas_conv2d_check(&p, &err) && p.chosen == MAAS_CONV_DIRECT);
}

static void
conv_error(MaasConv2d *p, MaasStatus status, const char *fragment)
{
	MaasError	err;

	err.status = MAAS_OK;
	err.msg[0] = '\0';
	expect_error(maas_conv2d_check(p, &err), &err, status, fragment);
}

static void
test_conv_check_errors(void)
{
	MaasConv2d	p,
				ok;
	MaasError	err;

	maas_conv2d_init(&ok, 4, 10, 12, 6, 3, 3);
	CHECK(maas_conv2d_check(&ok, &err));
	CHECK(ok.h_out == 8 && ok.w_out == 10);

#define BAD(field, value, status, fragment) \
	do { p = ok; p.field = (value); conv_error(&p, status, fragment); } while (0)

	BAD(c_in, 0, MAAS_ERR_INVALID, "convolution input channels \"0\" is not positive");
	BAD(h, -3, MAAS_ERR_INVALID, "convolution input height \"-3\" is not positive");
	BAD(w, 0, MAAS_ERR_INVALID, "convolution input width \"0\" is not positive");
	BAD(c_out, 0, MAAS_ERR_INVALID, "convolution output channels \"0\" is not positive");
	BAD(kh, 0, MAAS_ERR_INVALID, "convolution kernel height \"0\" is not positive");
	BAD(kw, -1, MAAS_ERR_INVALID, "convolution kernel width \"-1\" is not positive");
	BAD(stride_h, 0, MAAS_ERR_INVALID, "convolution stride \"0\" is not positive");
	BAD(stride_w, -2, MAAS_ERR_INVALID, "convolution stride \"-2\" is not positive");
	BAD(dil_h, 0, MAAS_ERR_INVALID, "convolution dilation \"0\" is not positive");
	BAD(dil_w, 0, MAAS_ERR_INVALID, "convolution dilation \"0\" is not positive");
	BAD(groups, 0, MAAS_ERR_INVALID, "convolution groups \"0\" is not positive");
	BAD(pad_top, -1, MAAS_ERR_INVALID, "convolution padding \"-1\" is negative");
	BAD(pad_right, -4, MAAS_ERR_INVALID, "convolution padding \"-4\" is negative");
	BAD(groups, 3, MAAS_ERR_INVALID,
		"convolution groups \"3\" do not divide the input channels \"4\"");
	BAD(groups, 4, MAAS_ERR_INVALID,
		"convolution groups \"4\" do not divide the output channels \"6\"");
	BAD(kh, 11, MAAS_ERR_INVALID,
		"convolution kernel height \"11\" with dilation \"1\" exceeds the padded input height \"10\"");
	BAD(dil_w, 7, MAAS_ERR_INVALID,
		"convolution kernel width \"3\" with dilation \"7\" exceeds the padded input width \"12\"");
	BAD(algo, MAAS_CONV_GEMM, MAAS_ERR_INVALID,
		"convolution algorithm \"gemm\" needs a 1x1 kernel, stride 1 and no padding");
	BAD(algo, (MaasConvAlgo) 9, MAAS_ERR_INVALID, "unknown convolution algorithm \"9\"");
#undef BAD

	/* padding makes a large kernel fit */
	p = ok;
	p.kh = 11;
	p.pad_bottom = 1;
	CHECK(maas_conv2d_check(&p, &err) && p.h_out == 1);

	/* products past INT_MAX, with each factor fine on its own */
	maas_conv2d_init(&p, 2048, 1024, 1024, 1, 1, 1);
	conv_error(&p, MAAS_ERR_LIMIT, "convolution input has more than 2147483647 elements");
	maas_conv2d_init(&p, 1, 2, 2, 4096, 1, 1);
	p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 400;
	conv_error(&p, MAAS_ERR_LIMIT, "convolution output has more than 2147483647 elements");
	maas_conv2d_init(&p, 65536, 200, 200, 65536, 1, 1);
	conv_error(&p, MAAS_ERR_LIMIT, "convolution input has more than");
	maas_conv2d_init(&p, 1024, 50, 50, 1024, 50, 50);
	conv_error(&p, MAAS_ERR_LIMIT, "convolution weight has more than 2147483647 elements");
	/* im2col columns past INT_MAX: refused for im2col, direct for AUTO */
	maas_conv2d_init(&p, 1, 1000, 1000, 1, 50, 50);
	p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 25;
	CHECK(maas_conv2d_check(&p, &err) && p.chosen == MAAS_CONV_DIRECT);
	p.algo = MAAS_CONV_IM2COL;
	conv_error(&p, MAAS_ERR_LIMIT,
			   "convolution im2col columns of one row have more than 2147483647 elements");
	/* padding near INT_MAX: the padded size is computed without overflow */
	maas_conv2d_init(&p, 1, 4, 4, 1, 3, 3);
	p.pad_top = p.pad_bottom = INT_MAX;
	conv_error(&p, MAAS_ERR_LIMIT,
			   "convolution padded input height \"4294967298\" is larger than 2147483647");
	maas_conv2d_init(&p, 1, 4, 4, 1, 3, 3);
	p.pad_left = INT_MAX - 4;
	p.stride_w = INT_MAX;
	CHECK(maas_conv2d_check(&p, &err) && p.w_out == 1);
	maas_conv2d_init(&p, 1, 4, 4, 1, 3, 3);
	p.dil_h = INT_MAX;
	conv_error(&p, MAAS_ERR_INVALID, "exceeds the padded input height \"4\"");
}

/* ---- pooling ---- */

typedef struct PoolCase
{
	int			n,
				c,
				h,
				w,
				kh,
				kw,
				sh,
				sw,
				pt,
				pl,
				pb,
				pr,
				dh,
				dw;
	bool		ceil,
				cip;
} PoolCase;

static const PoolCase pool_cases[] = {
	/* n  c  h   w  kh kw sh sw pt pl pb pr dh dw ceil cip */
	{2, 3, 26, 26, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false, false},	/* the CNN's pools */
	{2, 3, 11, 11, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false, false},
	{2, 2, 11, 11, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, true, false},
	{2, 2, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, true},
	{2, 2, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, false},
	{1, 2, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, true, true},	/* last window dropped */
	{2, 2, 9, 8, 3, 2, 2, 1, 1, 1, 1, 1, 2, 1, false, true},	/* dilation */
	{1, 3, 8, 9, 3, 3, 2, 3, 0, 1, 2, 0, 1, 1, false, true},	/* asymmetric pads */
	{1, 3, 8, 9, 3, 3, 2, 3, 0, 1, 2, 0, 1, 1, true, false},
	{1, 2, 6, 7, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, true, true},	/* dilation 2, padded */
	{3, 1, 4, 4, 4, 4, 1, 1, 0, 0, 0, 0, 1, 1, false, false},	/* global, as a window */
};

#define N_POOL_CASES ((int) (sizeof(pool_cases) / sizeof(pool_cases[0])))

static void
pool_params(const PoolCase *c, MaasPool2d *p)
{
	maas_pool2d_init(p, c->c, c->h, c->w, c->kh, c->kw);
	p->stride_h = c->sh;
	p->stride_w = c->sw;
	p->pad_top = c->pt;
	p->pad_left = c->pl;
	p->pad_bottom = c->pb;
	p->pad_right = c->pr;
	p->dil_h = c->dh;
	p->dil_w = c->dw;
	p->ceil_mode = c->ceil;
	p->count_include_pad = c->cip;
}

/* a shuffled set of distinct values, so that no window has a tie */
static float *
distinct_floats(size_t n)
{
	float	   *v = floats(n);

	for (size_t i = 0; i < n; i++)
		v[i] = (float) ((double) i / (double) n - 0.5);
	for (size_t i = n; i > 1; i--)
	{
		size_t		j = (size_t) (urand() * (double) i);
		float		t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
	return v;
}

static void
test_pool_forward(void)
{
	for (int i = 0; i < N_POOL_CASES; i++)
	{
		const PoolCase *c = &pool_cases[i];
		MaasPool2d	p;
		MaasError	err;
		size_t		nx,
					ny;
		float	   *x,
				   *y;
		double	   *want;
		int32_t    *arg,
				   *want_arg;

		pool_params(c, &p);
		CHECK(maas_pool2d_check(&p, &err));
		nx = (size_t) c->n * c->c * c->h * c->w;
		ny = (size_t) c->n * maas_pool2d_out_size(&p);
		x = rand_floats(nx);
		y = floats(ny);
		want = doubles(ny);
		arg = maas_kalloc_array(ny, sizeof(int32_t));
		want_arg = maas_kalloc_array(ny, sizeof(int32_t));

		ref_pool(&p, true, c->n, widen(nx, x), want, want_arg);
		maas_maxpool2d_forward(&p, c->n, x, y, arg);
		CHECK(unit_close("maxpool", ny, y, want, 0.0));
		CHECK(memcmp(arg, want_arg, sizeof(int32_t) * ny) == 0);
		maas_maxpool2d_forward(&p, c->n, x, y, NULL);
		CHECK(unit_close("maxpool without argmax", ny, y, want, 0.0));

		ref_pool(&p, false, c->n, widen(nx, x), want, NULL);
		maas_avgpool2d_forward(&p, c->n, x, y);
		if (!unit_close("avgpool", ny, y, want, 1e-6))
		{
			CHECK(!"avgpool matches the double reference");
			fprintf(stderr, "    in case %d\n", i);
		}
	}
}

static double
pool_loss(const MaasPool2d *p, bool is_max, int n, const double *x,
		  const double *dy, double *ybuf)
{
	size_t		ny = (size_t) n * maas_pool2d_out_size(p);
	double		s = 0.0;

	ref_pool(p, is_max, n, x, ybuf, NULL);
	for (size_t i = 0; i < ny; i++)
		s += ybuf[i] * dy[i];
	return s;
}

static void
test_pool_backward(void)
{
	for (int i = 0; i < N_POOL_CASES; i++)
	{
		const PoolCase *c = &pool_cases[i];
		MaasPool2d	p;
		MaasError	err;
		size_t		nx,
					ny;
		float	   *x,
				   *y,
				   *dy,
				   *dx;
		double	   *xd,
				   *dyd,
				   *ybuf,
				   *g;
		int32_t    *arg;
		const double eps = 1e-6;	/* well below the gap between values */

		pool_params(c, &p);
		CHECK(maas_pool2d_check(&p, &err));
		nx = (size_t) c->n * c->c * c->h * c->w;
		ny = (size_t) c->n * maas_pool2d_out_size(&p);
		x = distinct_floats(nx);
		y = floats(ny);
		dy = rand_floats(ny);
		dx = floats(nx);
		xd = widen(nx, x);
		dyd = widen(ny, dy);
		ybuf = doubles(ny);
		g = doubles(nx);
		arg = maas_kalloc_array(ny, sizeof(int32_t));

		for (int is_max = 0; is_max <= 1; is_max++)
		{
			for (size_t k = 0; k < nx; k++)
			{
				double		v = xd[k],
							lp,
							lm;

				xd[k] = v + eps;
				lp = pool_loss(&p, is_max, c->n, xd, dyd, ybuf);
				xd[k] = v - eps;
				lm = pool_loss(&p, is_max, c->n, xd, dyd, ybuf);
				xd[k] = v;
				g[k] = (lp - lm) / (2 * eps);
			}
			if (is_max)
			{
				maas_maxpool2d_forward(&p, c->n, x, y, arg);
				maas_maxpool2d_backward(&p, c->n, dy, arg, dx);
			}
			else
				maas_avgpool2d_backward(&p, c->n, dy, dx);
			if (!unit_close(is_max ? "maxpool dinp" : "avgpool dinp", nx, dx, g, 1e-5))
			{
				CHECK(!"pool backward matches numerical gradients");
				fprintf(stderr, "    in case %d\n", i);
			}
		}
	}
}

static void
test_global_avgpool(void)
{
	int			n = 3,
				c = 5,
				hw = 37;
	size_t		nx = (size_t) n * c * hw;
	float	   *x = rand_floats(nx),
			   *y = floats(n * c),
			   *dy = rand_floats(n * c),
			   *dx = floats(nx);
	double	   *want = doubles(n * c),
			   *g = doubles(nx);
	const double eps = 1e-3;

	for (int k = 0; k < n * c; k++)
	{
		for (int i = 0; i < hw; i++)
			want[k] += x[(size_t) k * hw + i];
		want[k] /= hw;
	}
	maas_global_avgpool_forward(n, c, hw, x, y);
	CHECK(unit_close("global avgpool", n * c, y, want, 1e-6));

	/* numerical gradient of sum(y * dy) */
	for (size_t k = 0; k < nx; k++)
	{
		double		lp = 0.0,
					lm = 0.0;
		size_t		pl = k / hw;

		for (int i = 0; i < hw; i++)
		{
			double		v = x[pl * hw + i];

			lp += (pl * hw + i == k ? v + eps : v);
			lm += (pl * hw + i == k ? v - eps : v);
		}
		g[k] = (lp / hw - lm / hw) * dy[pl] / (2 * eps);
	}
	maas_global_avgpool_backward(n, c, hw, dy, dx);
	CHECK(unit_close("global avgpool dinp", nx, dx, g, 1e-6));

	/* it is the average pooling whose window is the whole plane */
	{
		MaasPool2d	p;
		MaasError	err;
		float	   *y2 = floats(n * c),
				   *dx2 = floats(nx);

		maas_pool2d_init(&p, c, 1, hw, 1, hw);
		CHECK(maas_pool2d_check(&p, &err) && p.h_out == 1 && p.w_out == 1);
		maas_avgpool2d_forward(&p, n, x, y2);
		maas_avgpool2d_backward(&p, n, dy, dx2);
		CHECK(close_floats("as avgpool", n * c, y2, y, 1e-6));
		CHECK(close_floats("as avgpool dinp", nx, dx2, dx, 1e-7));
	}
}

/*
 * The inference path of the 2x2, stride 2 pooling without padding
 * (max2x2_planes in pool.c) against the path that keeps the argmax: the
 * same values on the CNN's maps (26 and 11 wide, so an odd last column and
 * row are dropped), with NaNs, infinities and ties of equal values, over
 * more planes than one block of its column maxima
 */
static void
test_maxpool_inference_path(void)
{
	static const int shapes[][3] = {{32, 26, 26}, {64, 11, 11}, {3, 2, 2}, {5, 7, 4}, {40, 64, 64}};

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		MaasPool2d	p;
		MaasError	err;
		int			n = 3;
		size_t		nx,
					ny;
		float	   *x,
				   *y,
				   *want;
		int32_t    *arg;

		maas_pool2d_init(&p, shapes[s][0], shapes[s][1], shapes[s][2], 2, 2);
		CHECK(maas_pool2d_check(&p, &err));
		nx = (size_t) n * p.c * p.h * p.w;
		ny = (size_t) n * maas_pool2d_out_size(&p);
		x = rand_floats(nx);
		for (size_t i = 0; i < nx; i += 7)
			x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? x[i + 1 < nx ? i + 1 : i] :
				(i & 8 ? INFINITY : -INFINITY);
		y = floats(ny);
		want = floats(ny);
		arg = maas_kalloc_array(ny, sizeof(int32_t));
		maas_maxpool2d_forward(&p, n, x, want, arg);
		maas_maxpool2d_forward(&p, n, x, y, NULL);
		for (size_t i = 0; i < ny; i++)
			if (!(y[i] == want[i] || (isnan(y[i]) && isnan(want[i]))))
			{
				printf("    maxpool %dx%dx%d at %zu: %g, with argmax %g\n",
					   p.c, p.h, p.w, i, y[i], want[i]);
				CHECK(false);
				break;
			}
	}
}

static void
test_maxpool_ties_nan(void)
{
	MaasPool2d	p;
	MaasError	err;
	/* one channel 2x4: windows [1 3; 3 0] and [2 2; NaN 2] */
	float		x[8] = {1, 3, 2, 2, 3, 0, NAN, 2};
	float		y[2],
				dx[8];
	float		dy[2] = {10, 20};
	int32_t		arg[2];

	maas_pool2d_init(&p, 1, 2, 4, 2, 2);
	CHECK(maas_pool2d_check(&p, &err));
	maas_maxpool2d_forward(&p, 1, x, y, arg);
	CHECK(y[0] == 3 && arg[0] == 1);	/* the first of the two 3s */
	CHECK(isnan(y[1]) && arg[1] == 6);	/* NaN wins */
	maas_maxpool2d_backward(&p, 1, dy, arg, dx);
	CHECK(dx[1] == 10 && dx[4] == 0 && dx[6] == 20 && dx[0] == 0 && dx[2] == 0);

	/*
	 * The 2x2 windows (their own code path): a NaN in each of the four
	 * places wins over a larger value; equal values give the first
	 */
	{
		float		v[2 * 10] = {
			NAN, 5, 1, NAN, 1, 5, 1, 1, 7, 7,
			5, 1, 5, 1, NAN, 1, 5, NAN, 7, 7,
		};
		float		o[5];
		int32_t		a[5];

		maas_pool2d_init(&p, 1, 2, 10, 2, 2);
		CHECK(maas_pool2d_check(&p, &err));
		maas_maxpool2d_forward(&p, 1, v, o, a);
		CHECK(isnan(o[0]) && isnan(o[1]) && isnan(o[2]) && isnan(o[3]) && o[4] == 7);
		CHECK(a[0] == 0 && a[1] == 3 && a[2] == 14 && a[3] == 17 && a[4] == 8);
	}

	/* overlapping windows: the gradient of a value taken twice adds up */
	{
		float		v[9] = {0, 0, 0, 0, 9, 0, 0, 0, 0};
		float		o[4],
					g[4] = {1, 2, 3, 4},
					d[9];
		int32_t		a[4];

		maas_pool2d_init(&p, 1, 3, 3, 2, 2);
		p.stride_h = p.stride_w = 1;
		CHECK(maas_pool2d_check(&p, &err));
		maas_maxpool2d_forward(&p, 1, v, o, a);
		CHECK(o[0] == 9 && o[3] == 9 && a[0] == 4 && a[3] == 4);
		maas_maxpool2d_backward(&p, 1, g, a, d);
		CHECK(d[4] == 10 && d[0] == 0);
	}
}

/* output sizes as torch computes them */
static void
test_pool_shapes(void)
{
	MaasPool2d	p;
	MaasError	err;

	maas_pool2d_init(&p, 1, 5, 5, 2, 2);
	p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
	CHECK(maas_pool2d_check(&p, &err) && p.h_out == 3);
	p.ceil_mode = true;			/* 4 rounded up, but the 4th starts in the pad */
	CHECK(maas_pool2d_check(&p, &err) && p.h_out == 3 && p.w_out == 3);

	maas_pool2d_init(&p, 1, 6, 6, 3, 3);
	p.stride_h = p.stride_w = 2;
	p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
	CHECK(maas_pool2d_check(&p, &err) && p.h_out == 3);
	p.ceil_mode = true;
	CHECK(maas_pool2d_check(&p, &err) && p.h_out == 4);

	maas_pool2d_init(&p, 1, 11, 11, 2, 2);
	CHECK(maas_pool2d_check(&p, &err) && p.h_out == 5);
	p.ceil_mode = true;
	CHECK(maas_pool2d_check(&p, &err) && p.h_out == 6);
	CHECK(maas_pool2d_out_size(&p) == 36);
}

static void
pool_error(MaasPool2d *p, MaasStatus status, const char *fragment)
{
	MaasError	err;

	err.status = MAAS_OK;
	err.msg[0] = '\0';
	expect_error(maas_pool2d_check(p, &err), &err, status, fragment);
}

static void
test_pool_check_errors(void)
{
	MaasPool2d	p,
				ok;
	MaasError	err;

	maas_pool2d_init(&ok, 3, 8, 8, 2, 2);
	CHECK(maas_pool2d_check(&ok, &err) && ok.h_out == 4);

#define BAD(field, value, status, fragment) \
	do { p = ok; p.field = (value); pool_error(&p, status, fragment); } while (0)

	BAD(c, 0, MAAS_ERR_INVALID, "pooling channels \"0\" is not positive");
	BAD(h, 0, MAAS_ERR_INVALID, "pooling input height \"0\" is not positive");
	BAD(w, -1, MAAS_ERR_INVALID, "pooling input width \"-1\" is not positive");
	BAD(kh, 0, MAAS_ERR_INVALID, "pooling kernel height \"0\" is not positive");
	BAD(kw, 0, MAAS_ERR_INVALID, "pooling kernel width \"0\" is not positive");
	BAD(stride_h, 0, MAAS_ERR_INVALID, "pooling stride \"0\" is not positive");
	BAD(stride_w, 0, MAAS_ERR_INVALID, "pooling stride \"0\" is not positive");
	BAD(dil_h, -1, MAAS_ERR_INVALID, "pooling dilation \"-1\" is not positive");
	BAD(dil_w, 0, MAAS_ERR_INVALID, "pooling dilation \"0\" is not positive");
	BAD(pad_left, -1, MAAS_ERR_INVALID, "pooling padding \"-1\" is negative");
	BAD(kw, 9, MAAS_ERR_INVALID,
		"pooling kernel width \"9\" with dilation \"1\" exceeds the padded input width \"8\"");
	/* a window of only padding: the first one, or one between dilated taps */
	BAD(pad_top, 2, MAAS_ERR_INVALID, "pooling window \"0\" along the height covers only padding");
#undef BAD
	maas_pool2d_init(&p, 1, 1, 5, 2, 2);
	p.dil_h = 3;
	p.pad_top = 1;
	p.pad_bottom = 2;
	p.stride_h = 1;
	pool_error(&p, MAAS_ERR_INVALID, "pooling window \"0\" along the height covers only padding");
	maas_pool2d_init(&p, 1, 4, 4, 1, 1);
	p.pad_right = 1;
	p.stride_w = 1;
	pool_error(&p, MAAS_ERR_INVALID, "pooling window \"4\" along the width covers only padding");
	err.hint = NULL;
	CHECK(!maas_pool2d_check(&p, &err) && err.hint != NULL &&
		  strstr(err.hint, "use less padding or a smaller dilation") != NULL);
	maas_pool2d_init(&p, 65536, 256, 256, 1, 1);
	pool_error(&p, MAAS_ERR_LIMIT, "pooling input has more than 2147483647 elements");
}

/* ---- batch normalization ---- */

static void
test_bn_fold_conv(void)
{
	MaasConv2d	p;
	MaasError	err;
	int			n = 2,
				c = 6;
	size_t		nx,
				ny,
				nw,
				hw;
	float	   *x,
			   *w,
			   *b,
			   *scale,
			   *shift,
			   *mean,
			   *var,
			   *wf,
			   *bf,
			   *y;
	double	   *unfolded,
			   *folded;
	double		eps = 1e-5;

	maas_conv2d_init(&p, 3, 7, 6, c, 3, 3);
	p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
	CHECK(maas_conv2d_check(&p, &err));
	nx = n * maas_conv2d_in_size(&p);
	ny = n * maas_conv2d_out_size(&p);
	nw = maas_conv2d_weights(&p);
	hw = (size_t) p.h_out * p.w_out;
	x = rand_floats(nx);
	w = rand_floats(nw);
	b = rand_floats(c);
	scale = rand_floats(c);
	shift = rand_floats(c);
	mean = rand_floats(c);
	var = rand_floats(c);
	for (int i = 0; i < c; i++)
		var[i] = var[i] * var[i] * 3.0f + (i == 0 ? 0.0f : 0.01f);	/* one var of 0 */
	wf = floats(nw);
	bf = floats(c);
	y = floats(ny);

	/* conv then BN, in double */
	unfolded = doubles(ny);
	ref_conv(&p, n, widen(nx, x), widen(nw, w), widen(c, b), unfolded);
	for (int r = 0; r < n; r++)
		for (int oc = 0; oc < c; oc++)
			for (size_t k = 0; k < hw; k++)
			{
				double	   *v = &unfolded[((size_t) r * c + oc) * hw + k];

				*v = scale[oc] * (*v - mean[oc]) / sqrt((double) var[oc] + eps) + shift[oc];
			}

	CHECK(maas_bn_fold(c, nw / c, w, b, scale, shift, mean, var, eps, wf, bf, &err));
	folded = doubles(ny);
	ref_conv(&p, n, widen(nx, x), widen(nw, wf), widen(c, bf), folded);
	{
		float	   *f = floats(ny);

		for (size_t i = 0; i < ny; i++)
			f[i] = (float) folded[i];
		CHECK(unit_close("folded, double", ny, f, unfolded, 1e-6));
	}
	maas_conv2d_forward(&p, blas, n, x, wf, bf, y, scratch_for(&p, n), NULL);
	CHECK(unit_close("folded, kernel", ny, y, unfolded, 1e-5));

	/* in place, and without a conv bias */
	{
		float	   *w2 = floats(nw),
				   *b2 = floats(c),
				   *bz = floats(c);

		memcpy(w2, w, sizeof(float) * nw);
		memcpy(b2, b, sizeof(float) * c);
		CHECK(maas_bn_fold(c, nw / c, w2, b2, scale, shift, mean, var, eps, w2, b2, &err));
		CHECK(memcmp(w2, wf, sizeof(float) * nw) == 0 && memcmp(b2, bf, sizeof(float) * c) == 0);
		CHECK(maas_bn_fold(c, nw / c, w, NULL, scale, shift, mean, var, eps, w2, bz, &err));
		for (int i = 0; i < c; i++)
			CHECK(fabs(bz[i] - (shift[i] - mean[i] * scale[i] / sqrt(var[i] + eps))) < 1e-5);
	}
}

static void
test_bn_fold_dense(void)
{
	int			n_in = 7,
				n_out = 4,
				rows = 3;
	float	   *w = rand_floats(n_in * n_out),
			   *b = rand_floats(n_out),
			   *x = rand_floats(rows * n_in),
			   *scale = rand_floats(n_out),
			   *shift = rand_floats(n_out),
			   *mean = rand_floats(n_out),
			   *var = rand_floats(n_out),
			   *wf = floats(n_in * n_out),
			   *bf = floats(n_out),
			   *a = floats(n_out),
			   *ab = floats(n_out);
	MaasError	err;
	double		eps = 1e-3;

	for (int i = 0; i < n_out; i++)
		var[i] = fabsf(var[i]) + 0.1f;
	CHECK(maas_bn_fold(n_out, n_in, w, b, scale, shift, mean, var, eps, wf, bf, &err));
	CHECK(maas_bn_affine(n_out, scale, shift, mean, var, eps, a, ab, &err));
	for (int r = 0; r < rows; r++)
		for (int o = 0; o < n_out; o++)
		{
			double		z = b[o],
						zf = bf[o];

			for (int i = 0; i < n_in; i++)
			{
				z += (double) w[o * n_in + i] * x[r * n_in + i];
				zf += (double) wf[o * n_in + i] * x[r * n_in + i];
			}
			/* unfolded, and through the affine */
			CHECK(fabs(zf - (scale[o] * (z - mean[o]) / sqrt(var[o] + eps) + shift[o])) < 1e-5);
			CHECK(fabs(zf - (z * a[o] + ab[o])) < 1e-5);
		}
}

static void
test_bn_errors(void)
{
	float		w[6] = {1, 2, 3, 4, 5, 6},
				b[2] = {0.5f, -0.5f},
				scale[2] = {1, 2},
				shift[2] = {0, 1},
				mean[2] = {0.1f, 0.2f},
				var[2] = {1, 2};
	float		wc[6],
				bc[2],
				bad[2];
	MaasError	err;

	memcpy(wc, w, sizeof(w));
	memcpy(bc, b, sizeof(b));

	/* each refused, and the weights (folded in place) left as they were */
	memcpy(bad, var, sizeof(bad));
	bad[1] = -1.0f;
	CHECK_ERR(maas_bn_fold(2, 3, w, b, scale, shift, mean, bad, 1e-5, w, b, &err), err.msg,
			  "batch normalization variance plus epsilon of channel \"1\" is not positive");
	CHECK(err.status == MAAS_ERR_INVALID);
	CHECK(err.hint != NULL && strstr(err.hint, "A running variance is never negative") != NULL);
	bad[1] = 0.0f;
	CHECK_ERR(maas_bn_fold(2, 3, w, b, scale, shift, mean, bad, 0.0, w, b, &err), err.msg,
			  "variance plus epsilon of channel \"1\" is not positive");
	CHECK(maas_bn_fold(2, 3, w, b, scale, shift, mean, bad, 1e-5, wc, bc, &err));
	memcpy(wc, w, sizeof(w));
	memcpy(bc, b, sizeof(b));
	memcpy(bad, mean, sizeof(bad));
	bad[0] = NAN;
	CHECK_ERR(maas_bn_fold(2, 3, w, b, scale, shift, bad, var, 1e-5, w, b, &err), err.msg,
			  "batch normalization parameters of channel \"0\" are not finite");
	memcpy(bad, scale, sizeof(bad));
	bad[1] = INFINITY;
	CHECK_ERR(maas_bn_fold(2, 3, w, b, bad, shift, mean, var, 1e-5, w, b, &err), err.msg,
			  "parameters of channel \"1\" are not finite");
	CHECK_ERR(maas_bn_fold(2, 3, w, b, scale, shift, mean, var, INFINITY, w, b, &err), err.msg,
			  "batch normalization epsilon is not finite");
	/* a scale of 3e38 over sqrt(1e-6): the factor itself overflows */
	{
		float		tiny[2] = {1, 1e-6f};

		memcpy(bad, scale, sizeof(bad));
		bad[1] = 3e38f;
		CHECK_ERR(maas_bn_fold(2, 3, w, b, bad, shift, mean, tiny, 0.0, w, b, &err), err.msg,
				  "batch normalization of channel \"1\" does not fit a float");
		CHECK_ERR(maas_bn_affine(2, bad, shift, mean, tiny, 0.0, bc, bc, &err), err.msg,
				  "batch normalization of channel \"1\" does not fit a float");
	}
	/* a factor of 7e37 that fits, times a weight of 5: the folded weight does not */
	bad[1] = 1e38f;
	CHECK_ERR(maas_bn_fold(2, 3, w, NULL, bad, shift, mean, var, 0.0, w, b, &err), err.msg,
			  "folding batch normalization into channel \"1\" gives a weight that does not fit a float");
	/* the conv bias times the factor */
	{
		float		big_b[2] = {0, 3e38f};

		bad[1] = 2.0f;
		CHECK_ERR(maas_bn_fold(2, 3, w, big_b, bad, shift, mean, var, 0.0, w, big_b, &err), err.msg,
				  "folding batch normalization into channel \"1\" gives a bias that does not fit a float");
		CHECK(big_b[1] == 3e38f);
	}
	CHECK_ERR(maas_bn_affine(2, scale, shift, mean, var, -3.0, bc, bc, &err), err.msg,
			  "variance plus epsilon of channel \"0\" is not positive");
	CHECK(memcmp(w, wc, sizeof(w)) == 0 && memcmp(b, bc, sizeof(b)) == 0);
}

/* ---- against torch ---- */

/*
 * The torch fixtures, read for each test that uses them (the parsed
 * header lives in the arena, which every test ends by freeing)
 */
static StFile torch_file;
static bool torch_loaded;
static uint8_t *torch_buf;

static void
unload_torch_fixtures(void)
{
	free(torch_buf);
	torch_buf = NULL;
	torch_loaded = false;
}

static void
load_torch_fixtures(void)
{
	const char *dir = getenv("MAAS_FIXTURES");
	char		path[1024];
	FILE	   *fp;
	uint8_t    *buf;
	long		len;
	MaasError	err;

	snprintf(path, sizeof(path), "%s/conv_torch.safetensors", dir ? dir : "../fixtures");
	fp = fopen(path, "rb");
	if (fp == NULL)
	{
		fprintf(stderr, "cannot open %s\n", path);
		return;
	}
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc(len > 0 ? len : 1);
	if (buf == NULL || fread(buf, 1, len, fp) != (size_t) len)
	{
		free(buf);
		fclose(fp);
		return;
	}
	fclose(fp);
	torch_buf = buf;
	torch_loaded = st_parse(buf, len, &torch_file, &err);
	if (!torch_loaded)
		fprintf(stderr, "%s: %s\n", path, err.msg);
}

static const StTensor *
fixture(const char *name, const char *part)
{
	char		key[64];

	snprintf(key, sizeof(key), "%s.%s", name, part);
	return st_find(&torch_file, key);
}

static float *
fixture_floats(const char *name, const char *part, size_t want)
{
	const StTensor *t = fixture(name, part);
	float	   *v;

	if (t == NULL || t->dtype != ST_F32 || (size_t) t->numel != want)
	{
		fprintf(stderr, "    fixture %s.%s missing or of the wrong size\n", name, part);
		return NULL;
	}
	v = floats(want);
	st_to_f32(t, v);
	return v;
}

static bool
fixture_params(const char *name, int32_t *out, int count)
{
	const StTensor *t = fixture(name, "params");

	if (t == NULL || t->dtype != ST_I32 || t->numel != count)
		return false;
	memcpy(out, t->data, sizeof(int32_t) * count);
	return true;
}

/* got within tol * max(1, |want|) of want, element by element */
static bool
torch_close(const char *what, size_t n, const float *got, const float *want, double tol)
{
	if (got == NULL || want == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		double		scale = fabs(want[i]) > 1.0 ? fabs(want[i]) : 1.0;

		if (!(fabs((double) got[i] - want[i]) <= tol * scale))
		{
			fprintf(stderr, "    %s: element %zu is %.9g, torch says %.9g\n",
					what, i, got[i], want[i]);
			return false;
		}
	}
	return true;
}

static void
test_torch_conv(void)
{
	int			cases = 0;

	load_torch_fixtures();
	CHECK(torch_loaded);
	for (int i = 0; torch_loaded; i++)
	{
		char		name[32];
		int32_t		v[17];
		MaasConv2d	p;
		MaasError	err;
		size_t		nx,
					ny,
					nw;
		float	   *x,
				   *w,
				   *b,
				   *y,
				   *dy;
		MaasConvAlgo algos[3] = {MAAS_CONV_IM2COL, MAAS_CONV_DIRECT, MAAS_CONV_GEMM};

		snprintf(name, sizeof(name), "conv%d", i);
		if (!fixture_params(name, v, 17))
			break;
		cases++;
		for (int a = 0; a < 3; a++)
		{
			float	   *out,
					   *dx,
					   *dw,
					   *db = NULL,
					   *scratch;

			maas_conv2d_init(&p, v[1], v[2], v[3], v[4], v[5], v[6]);
			p.stride_h = v[7];
			p.stride_w = v[8];
			p.pad_top = v[9];
			p.pad_left = v[10];
			p.pad_bottom = v[11];
			p.pad_right = v[12];
			p.dil_h = v[13];
			p.dil_w = v[14];
			p.groups = v[15];
			p.algo = algos[a];
			if (!maas_conv2d_check(&p, &err))
			{
				/* only gemm may refuse, and only a shape that is not 1x1 */
				CHECK(algos[a] == MAAS_CONV_GEMM && p.kh * p.kw > 1);
				continue;
			}
			nx = (size_t) v[0] * maas_conv2d_in_size(&p);
			ny = (size_t) v[0] * maas_conv2d_out_size(&p);
			nw = maas_conv2d_weights(&p);
			x = fixture_floats(name, "x", nx);
			w = fixture_floats(name, "w", nw);
			b = v[16] ? fixture_floats(name, "b", v[4]) : NULL;
			y = fixture_floats(name, "y", ny);
			dy = fixture_floats(name, "dy", ny);
			if (x == NULL || w == NULL || y == NULL || dy == NULL || (v[16] && b == NULL))
			{
				CHECK(!"fixture complete");
				break;
			}
			out = floats(ny);
			dx = floats(nx);
			dw = floats(nw);
			if (v[16])
				db = floats(v[4]);
			scratch = scratch_for(&p, v[0]);
			maas_conv2d_forward(&p, blas, v[0], x, w, b, out, scratch, NULL);
			maas_conv2d_backward(&p, blas, v[0], dy, x, w, dx, dw, db, scratch, NULL);
			if (!torch_close("forward", ny, out, y, 1e-4) ||
				!torch_close("dinp", nx, dx, fixture_floats(name, "dx", nx), 1e-3) ||
				!torch_close("dweight", nw, dw, fixture_floats(name, "dw", nw), 1e-3) ||
				(v[16] && !torch_close("dbias", v[4], db, fixture_floats(name, "db", v[4]), 1e-3)))
			{
				CHECK(!"conv matches torch");
				fprintf(stderr, "    in %s, algorithm %s\n", name, algo_names[algos[a]]);
			}
		}
	}
	CHECK(cases >= 7);
	unload_torch_fixtures();
}

static void
test_torch_pool(void)
{
	int			max_cases = 0,
				avg_cases = 0,
				gap_cases = 0;

	load_torch_fixtures();
	CHECK(torch_loaded);
	for (int kind = 0; kind < 2 && torch_loaded; kind++)
		for (int i = 0;; i++)
		{
			char		name[32];
			int32_t		v[13];
			MaasPool2d	p;
			MaasError	err;
			size_t		nx,
						ny;
			float	   *x,
					   *y,
					   *dy,
					   *out,
					   *dx;
			int32_t    *arg;

			snprintf(name, sizeof(name), "%s%d", kind == 0 ? "maxpool" : "avgpool", i);
			if (!fixture_params(name, v, kind == 0 ? 13 : 12))
				break;
			maas_pool2d_init(&p, v[1], v[2], v[3], v[4], v[5]);
			p.stride_h = v[6];
			p.stride_w = v[7];
			p.pad_top = p.pad_bottom = v[8];
			p.pad_left = p.pad_right = v[9];
			if (kind == 0)
			{
				p.dil_h = v[10];
				p.dil_w = v[11];
				p.ceil_mode = v[12];
				max_cases++;
			}
			else
			{
				p.ceil_mode = v[10];
				p.count_include_pad = v[11];
				avg_cases++;
			}
			CHECK(maas_pool2d_check(&p, &err));
			nx = (size_t) v[0] * v[1] * v[2] * v[3];
			ny = (size_t) v[0] * maas_pool2d_out_size(&p);
			x = fixture_floats(name, "x", nx);
			y = fixture_floats(name, "y", ny);	/* also checks torch's output size */
			dy = fixture_floats(name, "dy", ny);
			if (x == NULL || y == NULL || dy == NULL)
			{
				CHECK(!"fixture complete");
				continue;
			}
			out = floats(ny);
			dx = floats(nx);
			arg = maas_kalloc_array(ny, sizeof(int32_t));
			if (kind == 0)
			{
				maas_maxpool2d_forward(&p, v[0], x, out, arg);
				maas_maxpool2d_backward(&p, v[0], dy, arg, dx);
			}
			else
			{
				maas_avgpool2d_forward(&p, v[0], x, out);
				maas_avgpool2d_backward(&p, v[0], dy, dx);
			}
			if (!torch_close("forward", ny, out, y, 1e-4) ||
				!torch_close("dinp", nx, dx, fixture_floats(name, "dx", nx), 1e-3))
			{
				CHECK(!"pooling matches torch");
				fprintf(stderr, "    in %s\n", name);
			}
		}

	for (int i = 0; torch_loaded; i++)
	{
		char		name[32];
		int32_t		v[4];
		size_t		nx;
		float	   *x,
				   *y,
				   *dy,
				   *out,
				   *dx;

		snprintf(name, sizeof(name), "gap%d", i);
		if (!fixture_params(name, v, 4))
			break;
		gap_cases++;
		nx = (size_t) v[0] * v[1] * v[2] * v[3];
		x = fixture_floats(name, "x", nx);
		y = fixture_floats(name, "y", (size_t) v[0] * v[1]);
		dy = fixture_floats(name, "dy", (size_t) v[0] * v[1]);
		if (x == NULL || y == NULL || dy == NULL)
		{
			CHECK(!"fixture complete");
			continue;
		}
		out = floats((size_t) v[0] * v[1]);
		dx = floats(nx);
		maas_global_avgpool_forward(v[0], v[1], v[2] * v[3], x, out);
		maas_global_avgpool_backward(v[0], v[1], v[2] * v[3], dy, dx);
		CHECK(torch_close("global forward", (size_t) v[0] * v[1], out, y, 1e-4));
		CHECK(torch_close("global dinp", nx, dx, fixture_floats(name, "dx", nx), 1e-3));
	}
	CHECK(max_cases >= 6 && avg_cases >= 6 && gap_cases >= 1);
	unload_torch_fixtures();
}

int
main(void)
{
	char		err[256];

	blas = maas_blas_load(NULL, 1, err, sizeof(err));
	if (blas == NULL)
	{
		fprintf(stderr, "no BLAS: %s\n", err);
		return unit_finish("conv");
	}
	UNIT_RUN(test_conv_forward);
	UNIT_RUN(test_conv_backward);
	UNIT_RUN(test_conv_backward_algos_agree);
	UNIT_RUN(test_conv_ticks);
	UNIT_RUN(test_conv_scratch);
	UNIT_RUN(test_conv_auto);
	UNIT_RUN(test_conv_check_errors);
	UNIT_RUN(test_pool_forward);
	UNIT_RUN(test_pool_backward);
	UNIT_RUN(test_global_avgpool);
	UNIT_RUN(test_maxpool_ties_nan);
	UNIT_RUN(test_maxpool_inference_path);
	UNIT_RUN(test_pool_shapes);
	UNIT_RUN(test_pool_check_errors);
	UNIT_RUN(test_bn_fold_conv);
	UNIT_RUN(test_bn_fold_dense);
	UNIT_RUN(test_bn_errors);
	UNIT_RUN(test_torch_conv);
	UNIT_RUN(test_torch_pool);
	return unit_finish("conv");
}
