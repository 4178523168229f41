/*
 * test_conv_dnn.c
 *		oneDNN's convolution primitive behind the conv2d op (MaasBlas.conv2d,
 *		gemm_onednn_conv.c) against the im2col algorithm it stands in for:
 *		within 1e-5 on shapes with stride 2, asymmetric padding, dilation,
 *		groups (depthwise too), with and without bias and the fused ReLU;
 *		weights packed once for the primitive of one row (conv2d_pack)
 *		read as they are, NCHW and NHWC, and ignored by another shape;
 *		Winograd for the wide 3x3 layers, its transformed weights kept per
 *		layer; and that maas.gemm_backend 'blas' and maas.cpu_features_disable put
 *		the op back on im2col.  The backward primitives of the trainer
 *		(MaasBlas.conv2d_backward, gemm_onednn_convbwd.c) against im2col's
 *		backward pass, within 1e-4 relative, on the same shapes and odd
 *		ones, with and without the gradient at the input.  Without oneDNN
 *		installed it checks only that the ops fall back.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "cpu.h"
#include "gemm.h"
#include "unit.h"

typedef struct DnnCase
{
	int			n,
				c_in,
				h,
				w,
				c_out,
				kh,
				kw,
				stride,
				pt,
				pl,
				pb,
				pr,
				dil,
				groups;
	bool		bias;
} DnnCase;

static const DnnCase cases[] = {
	{5, 1, 28, 28, 32, 3, 3, 1, 0, 0, 0, 0, 1, 1, true},	/* the CNN's first */
	{7, 32, 13, 13, 64, 3, 3, 1, 0, 0, 0, 0, 1, 1, true},	/* and second */
	{3, 8, 11, 9, 16, 3, 3, 2, 1, 1, 1, 1, 1, 1, true},	/* stride 2, padding */
	{2, 6, 10, 12, 9, 3, 2, 2, 0, 1, 2, 0, 1, 1, false},	/* asymmetric */
	{2, 8, 12, 12, 12, 3, 3, 1, 2, 2, 2, 2, 2, 4, true},	/* dilation, groups */
	{3, 16, 9, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16, true},	/* depthwise */
	{1, 24, 7, 7, 40, 1, 1, 1, 0, 0, 0, 0, 1, 1, true},	/* 1x1 */
};
#define N_CASES ((int) (sizeof(cases) / sizeof(cases[0])))

static unsigned long long seed = 88172645463325252ull;

static float *
rand_floats(size_t n)
{
	float	   *v = maas_kalloc_array(n > 0 ? n : 1, sizeof(float));

	for (size_t i = 0; i < n; i++)
	{
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		v[i] = (float) ((seed >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
	}
	return v;
}

static void
params(const DnnCase *c, MaasConv2d *p, MaasConvAlgo algo)
{
	maas_conv2d_init(p, c->c_in, c->h, c->w, c->c_out, c->kh, c->kw);
	p->stride_h = p->stride_w = c->stride;
	p->pad_top = c->pt;
	p->pad_left = c->pl;
	p->pad_bottom = c->pb;
	p->pad_right = c->pr;
	p->dil_h = p->dil_w = c->dil;
	p->groups = c->groups;
	p->algo = algo;
}

static const MaasBlas *
open_with(MaasGemmBackend backend, const char *disable)
{
	MaasBlasConfig config = {.threads = 1, .backend = backend};
	MaasError	err;

	if (disable != NULL && !maas_cpu_parse_features(disable, &config.cpu_disable, &err))
		return NULL;
	return maas_blas_open(&config, &err);
}

/* im2col's output for case c, relu or not, into a new array */
static float *
im2col_out(const MaasBlas *blas, const DnnCase *c, const float *x, const float *w,
		   const float *b, bool relu)
{
	MaasConv2d	p;
	MaasError	err;
	size_t		scratch;
	float	   *y;

	params(c, &p, MAAS_CONV_IM2COL);
	CHECK(maas_conv2d_check(&p, &err));
	CHECK(maas_conv2d_scratch(&p, c->n, &scratch));
	y = rand_floats((size_t) c->n * maas_conv2d_out_size(&p));
	maas_conv2d_forward_act(&p, blas, c->n, x, w, b, relu, y,
							rand_floats(scratch), NULL);
	return y;
}

static void
test_dnn_matches_im2col(void)
{
	const MaasBlas *blas = open_with(MAAS_BACKEND_ONEDNN, NULL);

	if (blas == NULL)
	{
		printf("    oneDNN not available: only the fallback is checked\n");
		return;
	}
	CHECK(blas->conv2d != NULL);
	for (int i = 0; i < N_CASES; i++)
		for (int relu = 0; relu < 2; relu++)
		{
			const DnnCase *c = &cases[i];
			MaasConv2d	p;
			MaasError	err;
			size_t		ny;
			float	   *x,
					   *w,
					   *b,
					   *want,
					   *got;
			double		d;

			params(c, &p, MAAS_CONV_AUTO);
			CHECK(maas_conv2d_check(&p, &err));
			ny = (size_t) c->n * maas_conv2d_out_size(&p);
			x = rand_floats((size_t) c->n * maas_conv2d_in_size(&p));
			w = rand_floats(maas_conv2d_weights(&p));
			b = c->bias ? rand_floats(c->c_out) : NULL;
			want = im2col_out(blas, c, x, w, b, relu);
			got = rand_floats(ny);
			if (!blas->conv2d(&p, c->n, x, w, b, relu, got))
			{
				CHECK(!"oneDNN ran the convolution");
				fprintf(stderr, "    case %d\n", i);
				continue;
			}
			d = unit_rel_diff_f(ny, got, want);
			if (!(d <= 1e-5))
			{
				CHECK(!"oneDNN within 1e-5 of im2col");
				fprintf(stderr, "    case %d relu %d: %.3g\n", i, relu, d);
			}
			/* again from the cache, the same values */
			{
				float	   *again = rand_floats(ny);

				CHECK(blas->conv2d(&p, c->n, x, w, b, relu, again));
				CHECK(memcmp(again, got, ny * sizeof(float)) == 0);
			}
			if (relu)
				for (size_t k = 0; k < ny; k++)
					if (got[k] < 0.0f)
					{
						CHECK(!"relu fused");
						break;
					}
		}
	printf("    conv2d: %s\n", blas->info->conv2d);
	CHECK(strncmp(blas->info->conv2d, "onednn ", 7) == 0);
}

/* conv2d_at of case c with layout and packed weights, NCHW out */
static float *
dnn_at(const MaasBlas *blas, const DnnCase *c, int n, const float *x, const float *w,
	   const void *packed, const float *b, bool relu, int layout)
{
	MaasConv2d	p;
	MaasError	err;
	float	   *xin = rand_floats((size_t) n * c->c_in * c->h * c->w),
			   *y,
			   *got;

	params(c, &p, MAAS_CONV_AUTO);
	CHECK(maas_conv2d_check(&p, &err));
	y = rand_floats((size_t) n * maas_conv2d_out_size(&p));
	got = rand_floats((size_t) n * maas_conv2d_out_size(&p));
	if (layout & MAAS_CONV_IN_NHWC)
		maas_image_to_nhwc(n, c->c_in, c->h, c->w, x, xin);
	else
		memcpy(xin, x, sizeof(float) * n * c->c_in * c->h * c->w);
	if (!blas->conv2d_at(&p, n, xin, w, packed, b, relu, y, layout, -1))
		return NULL;
	if (layout & MAAS_CONV_OUT_NHWC)
		maas_image_to_nchw(n, c->c_out, p.h_out, p.w_out, y, got);
	else
		memcpy(got, y, sizeof(float) * n * maas_conv2d_out_size(&p));
	return got;
}

/*
 * Case c's geometry into p (checked), and random inputs: its n rows, two
 * sets of weights, and a bias when it has one
 */
static void
case_inputs(const DnnCase *c, MaasConv2d *p, float **x, float **w, float **w2, float **b)
{
	MaasError	err;

	params(c, p, MAAS_CONV_AUTO);
	CHECK(maas_conv2d_check(p, &err));
	*x = rand_floats((size_t) c->n * maas_conv2d_in_size(p));
	*w = rand_floats(maas_conv2d_weights(p));
	*w2 = rand_floats(maas_conv2d_weights(p));
	*b = c->bias ? rand_floats(c->c_out) : NULL;
}

/*
 * Weights packed for the primitive of one row (MaasBlas.conv2d_pack, as a
 * model is loaded): read as they are by calls of one row and of n rows,
 * NCHW and NHWC, within 1e-5 of im2col; a packed copy made for another
 * shape is ignored, and a call without it after one with it reorders its
 * own weights again
 */
static void
test_dnn_packed(void)
{
	const MaasBlas *blas = open_with(MAAS_BACKEND_ONEDNN, NULL);
	int			packed_some = 0;

	if (blas == NULL)
		return;
	CHECK(blas->conv2d_pack != NULL);
	for (int i = 0; i < N_CASES; i++)
		for (int v = 0; v < 4; v++)
		{
			const DnnCase *c = &cases[i];
			bool		relu = (v & 1) != 0;
			int			layout = (v & 2) ? MAAS_CONV_IN_NHWC | MAAS_CONV_OUT_NHWC : 0;
			const DnnCase *other = &cases[(i + 1) % N_CASES];
			MaasConv2d	p;
			MaasError	err;
			const void *packed = NULL,
					   *foreign = NULL;
			float	   *x,
					   *w,
					   *w2,
					   *b,
					   *wo;

			case_inputs(c, &p, &x, &w, &w2, &b);
			CHECK(blas->conv2d_pack(&p, w, b != NULL, relu, layout, &packed, &err));
			packed_some += packed != NULL;
			for (int n = 1; n <= c->n; n += c->n > 1 ? c->n - 1 : 1)
			{
				DnnCase		cn = *c;
				float	   *want,
						   *got;

				cn.n = n;
				want = im2col_out(blas, &cn, x, w, b, relu);
				got = dnn_at(blas, c, n, x, w, packed, b, relu, layout);
				CHECK(got != NULL);
				if (got != NULL && !(unit_rel_diff_f((size_t) n * maas_conv2d_out_size(&p),
													 got, want) <= 1e-5))
				{
					CHECK(!"packed weights within 1e-5 of im2col");
					fprintf(stderr, "    case %d v %d n %d\n", i, v, n);
				}
				/* the same primitive without the packed copy, other weights */
				want = im2col_out(blas, &cn, x, w2, b, relu);
				got = dnn_at(blas, c, n, x, w2, NULL, b, relu, layout);
				CHECK(got != NULL && unit_rel_diff_f((size_t) n * maas_conv2d_out_size(&p),
													 got, want) <= 1e-5);
			}
			/* another shape's packed copy is not read */
			params(other, &p, MAAS_CONV_AUTO);
			CHECK(maas_conv2d_check(&p, &err));
			wo = rand_floats(maas_conv2d_weights(&p));
			CHECK(blas->conv2d_pack(&p, wo, other->bias, relu, layout, &foreign, &err));
			params(c, &p, MAAS_CONV_AUTO);
			CHECK(maas_conv2d_check(&p, &err));
			if (foreign != NULL)
			{
				float	   *want = im2col_out(blas, c, x, w, b, relu),
						   *got = dnn_at(blas, c, c->n, x, w, foreign, b, relu, layout);

				CHECK(got != NULL && unit_rel_diff_f((size_t) c->n * maas_conv2d_out_size(&p),
													 got, want) <= 1e-5);
			}
		}
	printf("    %d of %d shapes and layouts packed\n", packed_some, N_CASES * 4);
	CHECK(packed_some > 0);
	/* im2col packs nothing */
	blas = open_with(MAAS_BACKEND_BLAS, NULL);
	CHECK(blas != NULL);
	if (blas != NULL)
	{
		MaasConv2d	p;
		MaasError	err;
		const void *packed = (const void *) 1;

		params(&cases[1], &p, MAAS_CONV_AUTO);
		CHECK(maas_conv2d_check(&p, &err));
		CHECK(blas->conv2d_pack(&p, rand_floats(maas_conv2d_weights(&p)), true, false,
								MAAS_CONV_IN_NHWC | MAAS_CONV_OUT_NHWC, &packed, &err));
		CHECK(packed == NULL);
	}
	blas = open_with(MAAS_BACKEND_AUTO, NULL);
}

/* a NaN in the input: the fused ReLU makes it 0, as maas's ReLU does */
/*
 * Winograd (maas_dnn_conv_winograd): a packed 3x3 layer of 16 channels or
 * more on 4 rows or more runs on it where oneDNN has it, within 1e-5 of
 * im2col, NCHW and NHWC, with and without the ReLU; the weights it keeps
 * transformed are its layer's: two layers of one shape alternating on the
 * same primitive, and the layer's plain weights without its packed copy,
 * each get their own answers; and with the setting off the direct
 * primitive gives them too
 */
static void
test_dnn_winograd(void)
{
	const MaasBlas *blas = open_with(MAAS_BACKEND_ONEDNN, NULL);
	const DnnCase shapes[] = {
		{8, 32, 13, 13, 64, 3, 3, 1, 0, 0, 0, 0, 1, 1, true},	/* the CNN's second */
		{5, 16, 9, 11, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, false},	/* padded, odd */
	};
	bool		ran = false;
	char		impl[200] = "";

	if (blas == NULL)
		return;
	for (int i = 0; i < 2; i++)
		for (int v = 0; v < 4; v++)
			for (int wino = 1; wino >= 0; wino--)
			{
				const DnnCase *c = &shapes[i];
				bool		relu = (v & 1) != 0;
				int			layout = (v & 2) ? MAAS_CONV_IN_NHWC | MAAS_CONV_OUT_NHWC : 0;
				size_t		out = (size_t) c->n * c->c_out * (c->h + c->pt + c->pb - 2) *
					(c->w + c->pl + c->pr - 2);
				MaasConv2d	p;
				MaasError	err;
				const void *pa = NULL,
						   *pb = NULL;
				float	   *x,
						   *wa,
						   *wb,
						   *b,
						   *want_a,
						   *want_b;

				maas_dnn_conv_winograd = wino;
				maas_dnn_conv_clear();
				case_inputs(c, &p, &x, &wa, &wb, &b);
				want_a = im2col_out(blas, c, x, wa, b, relu);
				want_b = im2col_out(blas, c, x, wb, b, relu);
				CHECK(blas->conv2d_pack(&p, wa, b != NULL, relu, layout, &pa, &err));
				CHECK(blas->conv2d_pack(&p, wb, b != NULL, relu, layout, &pb, &err));
				/* a, a again (kept), b, a, the plain weights of b, a */
				for (int k = 0; k < 6; k++)
				{
					bool		is_b = k == 2 || k == 4;
					const void *packed = k == 4 ? NULL : is_b ? pb : pa;
					float	   *got = dnn_at(blas, c, c->n, x, is_b ? wb : wa, packed, b,
											 relu, layout);

					CHECK(got != NULL);
					if (got != NULL &&
						!(unit_rel_diff_f(out, got, is_b ? want_b : want_a) <= 1e-5))
					{
						CHECK(!"Winograd within 1e-5 of im2col");
						fprintf(stderr, "    shape %d v %d winograd %d call %d\n", i, v, wino, k);
					}
				}
				if (wino && strstr(maas_dnn_conv_impl(), "wino") != NULL)
				{
					ran = true;
					snprintf(impl, sizeof(impl), "%s", maas_dnn_conv_impl());
				}
				if (!wino)
					CHECK(strstr(maas_dnn_conv_impl(), "wino") == NULL);
			}
	maas_dnn_conv_winograd = true;
	maas_dnn_conv_clear();
	printf("    Winograd %s%s%s\n", ran ? "ran: " : "did not run", impl, "");
	/* oneDNN 2.6 has a float32 Winograd for AVX-512 only */
	if (strstr(blas->info->onednn_isa, "avx512") != NULL)
		CHECK(ran);
}

static void
test_dnn_relu_nan(void)
{
	const MaasBlas *blas = open_with(MAAS_BACKEND_ONEDNN, NULL);
	const DnnCase *c = &cases[2];
	MaasConv2d	p;
	MaasError	err;
	size_t		ny;
	float	   *x,
			   *w,
			   *b,
			   *want,
			   *got;

	if (blas == NULL)
		return;
	params(c, &p, MAAS_CONV_AUTO);
	CHECK(maas_conv2d_check(&p, &err));
	ny = (size_t) c->n * maas_conv2d_out_size(&p);
	x = rand_floats((size_t) c->n * maas_conv2d_in_size(&p));
	x[5] = NAN;
	w = rand_floats(maas_conv2d_weights(&p));
	b = rand_floats(c->c_out);
	want = im2col_out(blas, c, x, w, b, true);
	got = rand_floats(ny);
	CHECK(blas->conv2d(&p, c->n, x, w, b, true, got));
	for (size_t k = 0; k < ny; k++)
		if (isnan(got[k]) || fabs((double) got[k] - want[k]) > 1e-5 * (1.0 + fabs(want[k])))
		{
			fprintf(stderr, "    element %zu: %g, im2col %g\n", k, got[k], want[k]);
			CHECK(!"NaN through the fused ReLU is 0");
			break;
		}
	blas = open_with(MAAS_BACKEND_AUTO, NULL);
}

/* "auto" leaves few input channels a group on im2col, takes the others */
static void
test_dnn_auto_rule(void)
{
	const MaasBlas *blas = open_with(MAAS_BACKEND_AUTO, NULL);
	MaasConv2d	p;
	MaasError	err;
	const DnnCase *first = &cases[0],
			   *second = &cases[1];
	float	   *x,
			   *w,
			   *y;

	CHECK(blas != NULL);
	if (blas == NULL || !blas->info->onednn_loaded)
		return;
	params(first, &p, MAAS_CONV_AUTO);
	CHECK(maas_conv2d_check(&p, &err));
	x = rand_floats((size_t) first->n * maas_conv2d_in_size(&p));
	w = rand_floats(maas_conv2d_weights(&p));
	y = rand_floats((size_t) first->n * maas_conv2d_out_size(&p));
	CHECK(!blas->conv2d(&p, first->n, x, w, NULL, false, y));
	params(second, &p, MAAS_CONV_AUTO);
	CHECK(maas_conv2d_check(&p, &err));
	x = rand_floats((size_t) second->n * maas_conv2d_in_size(&p));
	w = rand_floats(maas_conv2d_weights(&p));
	y = rand_floats((size_t) second->n * maas_conv2d_out_size(&p));
	CHECK(blas->conv2d(&p, second->n, x, w, NULL, false, y));
}

/* 'blas' and features disabled after the load: the op is back on im2col */
static void
test_dnn_fallback(void)
{
	const DnnCase *c = &cases[1];
	const MaasBlas *blas;
	MaasConv2d	p;
	MaasError	err;
	float	   *x,
			   *w,
			   *y;

	params(c, &p, MAAS_CONV_AUTO);
	CHECK(maas_conv2d_check(&p, &err));
	x = rand_floats((size_t) c->n * maas_conv2d_in_size(&p));
	w = rand_floats(maas_conv2d_weights(&p));
	y = rand_floats((size_t) c->n * maas_conv2d_out_size(&p));

	blas = open_with(MAAS_BACKEND_BLAS, NULL);
	CHECK(blas != NULL);
	if (blas == NULL)
		return;
	CHECK(!blas->conv2d(&p, c->n, x, w, NULL, false, y));
	CHECK(strcmp(blas->info->conv2d, "im2col") == 0);

	blas = open_with(MAAS_BACKEND_AUTO, "all");
	CHECK(blas != NULL);
	if (blas == NULL)
		return;
	CHECK(!blas->conv2d(&p, c->n, x, w, NULL, false, y));
	CHECK(strcmp(blas->info->conv2d, "im2col") == 0);
	blas = open_with(MAAS_BACKEND_AUTO, NULL);
	CHECK(blas != NULL);
}

/* shapes beside cases[] for the backward pass: odd batches and maps */
static const DnnCase odd_cases[] = {
	{3, 3, 9, 7, 5, 3, 3, 1, 0, 0, 0, 0, 1, 1, true},
	{1, 5, 6, 5, 7, 2, 3, 2, 1, 0, 1, 1, 1, 1, true},
	{13, 9, 5, 11, 3, 3, 1, 1, 1, 0, 0, 1, 1, 1, true},
};
#define N_ODD ((int) (sizeof(odd_cases) / sizeof(odd_cases[0])))

/* im2col's backward pass of case c into dx (when not NULL), dw, db */
static void
im2col_backward(const MaasBlas *blas, const DnnCase *c, const float *dy,
				const float *x, const float *w, float *dx, float *dw, float *db)
{
	MaasConv2d	p;
	MaasError	err;
	size_t		scratch;

	params(c, &p, MAAS_CONV_IM2COL);
	CHECK(maas_conv2d_check(&p, &err));
	CHECK(maas_conv2d_scratch(&p, c->n, &scratch));
	maas_conv2d_backward(&p, blas, c->n, dy, x, w, dx, dw, db, rand_floats(scratch), NULL);
}

static void
check_backward(const MaasBlas *blas, const DnnCase *c, int i, bool with_dx)
{
	MaasConv2d	p;
	MaasError	err;
	size_t		nx,
				ny,
				nw;
	float	   *x,
			   *w,
			   *dy,
			   *dx = NULL,
			   *dw,
			   *db,
			   *want_dx = NULL,
			   *want_dw,
			   *want_db;
	double		d;

	params(c, &p, MAAS_CONV_AUTO);
	CHECK(maas_conv2d_check(&p, &err));
	nx = (size_t) c->n * maas_conv2d_in_size(&p);
	ny = (size_t) c->n * maas_conv2d_out_size(&p);
	nw = maas_conv2d_weights(&p);
	x = rand_floats(nx);
	w = rand_floats(nw);
	dy = rand_floats(ny);
	want_dw = rand_floats(nw);
	want_db = rand_floats(c->c_out);
	dw = rand_floats(nw);
	db = rand_floats(c->c_out);
	if (with_dx)
	{
		want_dx = rand_floats(nx);
		dx = rand_floats(nx);
	}
	im2col_backward(blas, c, dy, x, w, want_dx, want_dw, want_db);
	if (!blas->conv2d_backward(&p, c->n, dy, x, w, dx, dw, db, -1))
	{
		CHECK(!"oneDNN ran the backward pass");
		fprintf(stderr, "    case %d dx %d\n", i, with_dx);
		return;
	}
	d = unit_rel_diff_f(nw, dw, want_dw);
	if (!(d <= 1e-4))
	{
		CHECK(!"oneDNN's weights gradient within 1e-4 of im2col's");
		fprintf(stderr, "    case %d dx %d: %.3g\n", i, with_dx, d);
	}
	d = unit_rel_diff_f(c->c_out, db, want_db);
	if (!(d <= 1e-4))
	{
		CHECK(!"oneDNN's bias gradient within 1e-4 of im2col's");
		fprintf(stderr, "    case %d dx %d: %.3g\n", i, with_dx, d);
	}
	if (with_dx)
	{
		d = unit_rel_diff_f(nx, dx, want_dx);
		if (!(d <= 1e-4))
		{
			CHECK(!"oneDNN's input gradient within 1e-4 of im2col's");
			fprintf(stderr, "    case %d: %.3g\n", i, d);
		}
	}
	/* again from the cache, into dirty buffers: the same values */
	{
		float	   *dw2 = rand_floats(nw),
				   *db2 = rand_floats(c->c_out),
				   *dx2 = with_dx ? rand_floats(nx) : NULL;

		CHECK(blas->conv2d_backward(&p, c->n, dy, x, w, dx2, dw2, db2, -1));
		CHECK(memcmp(dw2, dw, nw * sizeof(float)) == 0);
		CHECK(memcmp(db2, db, c->c_out * sizeof(float)) == 0);
		if (with_dx)
			CHECK(memcmp(dx2, dx, nx * sizeof(float)) == 0);
	}
}

static void
test_dnn_backward_matches_im2col(void)
{
	const MaasBlas *blas = open_with(MAAS_BACKEND_ONEDNN, NULL);

	if (blas == NULL)
		return;
	CHECK(blas->conv2d_backward != NULL);
	for (int with_dx = 0; with_dx < 2; with_dx++)
	{
		for (int i = 0; i < N_CASES; i++)
			check_backward(blas, &cases[i], i, with_dx);
		for (int i = 0; i < N_ODD; i++)
			check_backward(blas, &odd_cases[i], N_CASES + i, with_dx);
	}
	blas = open_with(MAAS_BACKEND_AUTO, NULL);
}

/*
 * "auto" runs a layer of few input channels backward on oneDNN only
 * without the gradient at its input (a first layer), else on im2col;
 * 'blas' every layer on im2col.  A thread's slot (thread >= 0) gives what
 * the backend's threads give, within float noise.
 */
static void
test_dnn_backward_rule(void)
{
	const MaasBlas *blas = open_with(MAAS_BACKEND_AUTO, NULL);
	const DnnCase *first = &cases[0],
			   *second = &cases[1];
	MaasConv2d	p1,
				p2;
	MaasError	err;
	float	   *x1,
			   *x2,
			   *w1,
			   *w2,
			   *d1,
			   *d2,
			   *dw,
			   *db,
			   *dx,
			   *dx1,
			   *dw2,
			   *db2;

	CHECK(blas != NULL);
	if (blas == NULL)
		return;
	params(first, &p1, MAAS_CONV_AUTO);
	params(second, &p2, MAAS_CONV_AUTO);
	CHECK(maas_conv2d_check(&p1, &err));
	CHECK(maas_conv2d_check(&p2, &err));
	x1 = rand_floats((size_t) first->n * maas_conv2d_in_size(&p1));
	w1 = rand_floats(maas_conv2d_weights(&p1));
	d1 = rand_floats((size_t) first->n * maas_conv2d_out_size(&p1));
	x2 = rand_floats((size_t) second->n * maas_conv2d_in_size(&p2));
	w2 = rand_floats(maas_conv2d_weights(&p2));
	d2 = rand_floats((size_t) second->n * maas_conv2d_out_size(&p2));
	dw = rand_floats(maas_conv2d_weights(&p2));
	db = rand_floats(second->c_out);
	dx = rand_floats((size_t) second->n * maas_conv2d_in_size(&p2));
	dx1 = rand_floats((size_t) first->n * maas_conv2d_in_size(&p1));
	dw2 = rand_floats(maas_conv2d_weights(&p2));
	db2 = rand_floats(second->c_out);
	CHECK(blas->conv2d_backward(&p1, first->n, d1, x1, w1, NULL, dw, db, -1) ==
		  blas->info->onednn_loaded);
	CHECK(!blas->conv2d_backward(&p1, first->n, d1, x1, w1, dx1, dw, db, -1));
	CHECK(blas->conv2d_backward(&p2, second->n, d2, x2, w2, dx, dw, db, -1) ==
		  blas->info->onednn_loaded);
	/* on a thread's own slot, the slot's primitives on one thread */
	for (int t = 0; t < 2 && blas->info->onednn_loaded; t++)
	{
		CHECK(blas->conv2d_backward(&p2, second->n, d2, x2, w2, NULL, dw2, db2, t));
		CHECK(unit_close_f("backward weights on a slot", maas_conv2d_weights(&p2), dw2, dw, 1e-4));
		CHECK(unit_close_f("backward bias on a slot", (size_t) second->c_out, db2, db, 1e-4));
	}
	CHECK(!blas->conv2d_backward(&p2, second->n, d2, x2, w2, dx, dw, db, MAAS_CONV_SLOTS));
	/* both gradients are required */
	CHECK(!blas->conv2d_backward(&p2, second->n, d2, x2, w2, dx, dw, NULL, -1));
	blas = open_with(MAAS_BACKEND_BLAS, NULL);
	CHECK(blas != NULL);
	if (blas == NULL)
		return;
	CHECK(!blas->conv2d_backward(&p2, second->n, d2, x2, w2, dx, dw, db, -1));
	blas = open_with(MAAS_BACKEND_AUTO, NULL);
	CHECK(blas != NULL);
}

int
main(void)
{
	UNIT_RUN(test_dnn_matches_im2col);
	UNIT_RUN(test_dnn_relu_nan);
	UNIT_RUN(test_dnn_packed);
	UNIT_RUN(test_dnn_winograd);
	UNIT_RUN(test_dnn_auto_rule);
	UNIT_RUN(test_dnn_fallback);
	UNIT_RUN(test_dnn_backward_matches_im2col);
	UNIT_RUN(test_dnn_backward_rule);
	return unit_finish("conv_dnn");
}
