/*
 * conv.c
 *		Convolution kernels (see conv.h): the parameters and their check,
 *		scratch sizes, and the im2col and GEMM algorithms; the direct
 *		algorithm is in conv_direct.c, pooling in pool.c and batch-norm
 *		folding in conv_bn.c.
 *
 * Three ways to compute a convolution, all over NCHW rows:
 *
 *	- im2col: the input patches of a chunk of rows are laid out as columns,
 *	  col [c_in * kh * kw, nb * h_out * w_out] (row (ic, ki, kj), column
 *	  (image, oy, ox)), and each group's output is one sgemm W_g col_g.  The
 *	  chunk is as many rows as make about MAAS_CONV_COLS columns, so that
 *	  the GEMM is wide even when an image's output is small (an 11 x 11
 *	  map is 121 columns), while the scratch stays bounded.  The GEMM's
 *	  output [c_out, nb * hw] is then scattered into the rows with the bias;
 *	  a chunk of one row needs no scatter and the GEMM writes in place.
 *	  Backward rebuilds the columns from the forward input, gathers dout
 *	  the same way, and makes dW_g = dout_g col_g^T (one sgemm a chunk,
 *	  accumulated over chunks) and the column gradient W_g^T dout_g, which
 *	  col2im adds back into dinp.
 *	- GEMM: a 1x1 convolution with stride 1 and no padding is W [c_out,
 *	  c_in] times each row's input [c_in, h * w] as it lies: no columns.
 *	- direct (conv_direct.c): for every (output channel, input channel,
 *	  tap), a multiply-add of the shifted input plane into the output
 *	  plane.  For depthwise convolutions this beats a GEMM per group of one
 *	  output channel.
 *
 * maas_conv2d_check() picks one per shape (the rule and its figures are
 * at choose_algo); every algorithm handles every shape it accepts, so the
 * tests can compare them.
 */
#include "conv_int.h"

/* columns an im2col chunk aims for (rows of the chunk times h_out * w_out) */
#ifndef MAAS_CONV_COLS
#define MAAS_CONV_COLS 4096
#endif

/* ---- parameters ---- */

void
maas_conv2d_init(MaasConv2d *p, int c_in, int h, int w, int c_out, int kh, int kw)
{
	memset(p, 0, sizeof(*p));
	p->c_in = c_in;
	p->h = h;
	p->w = w;
	p->c_out = c_out;
	p->kh = kh;
	p->kw = kw;
	p->stride_h = p->stride_w = 1;
	p->dil_h = p->dil_w = 1;
	p->groups = 1;
	p->algo = MAAS_CONV_AUTO;
}

bool
maas_conv_positive(const char *layer, const char *what, int v, MaasError *err)
{
	if (v > 0)
		return true;
	return maas_error(err, MAAS_ERR_INVALID, "%s %s \"%d\" is not positive",
					  layer, what, v);
}

bool
maas_conv_pads(const char *layer, int top, int left, int bottom, int right,
		   MaasError *err)
{
	int			pads[4] = {top, left, bottom, right};

	for (int i = 0; i < 4; i++)
		if (pads[i] < 0)
			return maas_error(err, MAAS_ERR_INVALID, "%s padding \"%d\" is negative",
							  layer, pads[i]);
	return true;
}

/* v as an int, or an error naming what overflowed */
bool
maas_conv_fits_int(const char *layer, const char *what, int64_t v, MaasError *err)
{
	if (v <= INT_MAX)
		return true;
	return maas_error(err, MAAS_ERR_LIMIT,
					  "%s %s has more than %d elements", layer, what, INT_MAX);
}

/* a * b * c in int64, saturating past INT_MAX (all operands positive) */
int64_t
maas_conv_mul3(int64_t a, int64_t b, int64_t c)
{
	int64_t		r;

	if (__builtin_mul_overflow(a, b, &r) || __builtin_mul_overflow(r, c, &r))
		return INT64_MAX;
	return r;
}

/*
 * Output length along one axis, or an error when the padded input does
 * not fit an int (then every index the kernels compute does) or the
 * dilated kernel is larger than it.  All operands are non-negative ints,
 * so int64 cannot overflow.
 */
bool
maas_conv_axis_out(const char *layer, const char *axis, int in, int pad_a, int pad_b,
		 int k, int dil, int stride, bool ceil_mode, int *out, MaasError *err)
{
	int64_t		padded = (int64_t) in + pad_a + pad_b;
	int64_t		extent = (int64_t) dil * (k - 1) + 1;
	int64_t		n;

	if (padded > INT_MAX)
		return maas_error(err, MAAS_ERR_LIMIT,
						  "%s padded input %s \"%lld\" is larger than %d",
						  layer, axis, (long long) padded, INT_MAX);
	if (extent > padded)
		return maas_error(err, MAAS_ERR_INVALID,
						  "%s kernel %s \"%d\" with dilation \"%d\" exceeds the padded input %s \"%lld\"",
						  layer, axis, k, dil, axis, (long long) padded);
	n = (padded - extent + (ceil_mode ? stride - 1 : 0)) / stride + 1;
	/* ceil mode: the last window must start inside the input or left pad */
	if (ceil_mode && (n - 1) * stride >= (int64_t) in + pad_a)
		n--;
	if (!maas_conv_fits_int(layer, "output", n, err))
		return false;
	*out = (int) n;
	return true;
}

/*
 * The rule, from test/bench/conv_kernels.c (rough figures on a shared
 * 2-core machine, OpenBLAS SkylakeX kernels, one thread): a 1x1 is faster
 * as a GEMM on the input as it lies than through im2col on both a 28x28
 * and a 7x7 map (about 2x); a depthwise 3x3 runs about 7x faster direct
 * than as one-output-channel GEMMs; and everything else, the CNN's first
 * layer (one input channel) included, is fastest through im2col (the
 * first layer by a little, 0.8 against 1.2 ms forward for 64 rows).
 */
static MaasConvAlgo
choose_algo(const MaasConv2d *p)
{
	bool		pointwise = p->kh == 1 && p->kw == 1 && p->stride_h == 1 &&
		p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
		p->pad_bottom == 0 && p->pad_right == 0;

	if (pointwise)
		return MAAS_CONV_GEMM;
	if (p->groups > 1 && p->c_in == p->groups)
		return MAAS_CONV_DIRECT;
	return MAAS_CONV_IM2COL;
}

bool
maas_conv2d_check(MaasConv2d *p, MaasError *err)
{
	const char *L = "convolution";
	int64_t		cig;
	bool		columns_fit;

	if (!maas_conv_positive(L, "input channels", p->c_in, err) ||
		!maas_conv_positive(L, "input height", p->h, err) ||
		!maas_conv_positive(L, "input width", p->w, err) ||
		!maas_conv_positive(L, "output channels", p->c_out, err) ||
		!maas_conv_positive(L, "kernel height", p->kh, err) ||
		!maas_conv_positive(L, "kernel width", p->kw, err) ||
		!maas_conv_positive(L, "stride", p->stride_h, err) ||
		!maas_conv_positive(L, "stride", p->stride_w, err) ||
		!maas_conv_positive(L, "dilation", p->dil_h, err) ||
		!maas_conv_positive(L, "dilation", p->dil_w, err) ||
		!maas_conv_positive(L, "groups", p->groups, err) ||
		!maas_conv_pads(L, p->pad_top, p->pad_left, p->pad_bottom, p->pad_right, err))
		return false;
	if (p->c_in % p->groups != 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "convolution groups \"%d\" do not divide the input channels \"%d\"",
						  p->groups, p->c_in);
	if (p->c_out % p->groups != 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "convolution groups \"%d\" do not divide the output channels \"%d\"",
						  p->groups, p->c_out);
	if (!maas_conv_axis_out(L, "height", p->h, p->pad_top, p->pad_bottom, p->kh, p->dil_h,
				  p->stride_h, false, &p->h_out, err) ||
		!maas_conv_axis_out(L, "width", p->w, p->pad_left, p->pad_right, p->kw, p->dil_w,
				  p->stride_w, false, &p->w_out, err))
		return false;
	cig = p->c_in / p->groups;
	if (!maas_conv_fits_int(L, "input", maas_conv_mul3(p->c_in, p->h, p->w), err) ||
		!maas_conv_fits_int(L, "output", maas_conv_mul3(p->c_out, p->h_out, p->w_out), err) ||
		!maas_conv_fits_int(L, "weight", maas_conv_mul3(p->c_out, cig, maas_conv_mul3(p->kh, p->kw, 1)), err))
		return false;
	/* the columns of one row, which im2col's GEMM indexes with ints */
	columns_fit = maas_conv_mul3(p->c_in, maas_conv_mul3(p->kh, p->kw, 1), maas_conv_mul3(p->h_out, p->w_out, 1)) <= INT_MAX;

	switch (p->algo)
	{
		case MAAS_CONV_AUTO:
			p->chosen = choose_algo(p);
			if (p->chosen == MAAS_CONV_IM2COL && !columns_fit)
				p->chosen = MAAS_CONV_DIRECT;
			break;
		case MAAS_CONV_GEMM:
			if (p->kh != 1 || p->kw != 1 || p->stride_h != 1 || p->stride_w != 1 ||
				p->pad_top != 0 || p->pad_left != 0 || p->pad_bottom != 0 ||
				p->pad_right != 0)
				return maas_error(err, MAAS_ERR_INVALID,
								  "convolution algorithm \"gemm\" needs a 1x1 kernel, stride 1 and no padding");
			p->chosen = p->algo;
			break;
		case MAAS_CONV_IM2COL:
			if (!columns_fit)
				return maas_error(err, MAAS_ERR_LIMIT,
								  "convolution im2col columns of one row have more than %d elements",
								  INT_MAX);
			p->chosen = p->algo;
			break;
		case MAAS_CONV_DIRECT:
			p->chosen = p->algo;
			break;
		default:
			return maas_error(err, MAAS_ERR_INVALID, "unknown convolution algorithm \"%d\"",
							  (int) p->algo);
	}
	return true;
}

size_t
maas_conv2d_weights(const MaasConv2d *p)
{
	return (size_t) p->c_out * (p->c_in / p->groups) * p->kh * p->kw;
}

double
maas_conv2d_macs(const MaasConv2d *p)
{
	return (double) p->c_out * p->h_out * p->w_out *
		(double) (p->c_in / p->groups) * p->kh * p->kw;
}

/* rows an im2col chunk holds, for calls of up to n rows */
static int
chunk_rows(const MaasConv2d *p, int n)
{
	int			hw = p->h_out * p->w_out;
	int			nb = MAAS_CONV_COLS / hw;

	if (nb < 1)
		nb = 1;
	if (nb > n)
		nb = n;
	return nb;
}

bool
maas_conv2d_scratch(const MaasConv2d *p, int n, size_t *floats)
{
	size_t		rows,
				cols;

	*floats = 0;
	if (n <= 0)
		return true;
	if (p->chosen == MAAS_CONV_DIRECT)
	{
		size_t		hp = (size_t) p->h + p->pad_top + p->pad_bottom;
		size_t		wp = (size_t) p->w + p->pad_left + p->pad_right;
		size_t		acc,
					planes = 0;

		if (!maas_conv_flat_direct(p))
			return true;
		/* one output plane at the padded pitch; padded input and its gradient */
		if (!maas_mul_size((size_t) p->h_out, wp, &acc) ||
			(hp * wp != (size_t) p->h * p->w &&
			 (!maas_mul_size(hp * wp, 2 * (size_t) p->c_in, &planes))))
			return false;
		return maas_add_size(acc, planes, floats);
	}
	if (p->chosen != MAAS_CONV_IM2COL)
		return true;
	/* the columns, and the GEMM output (backward: the gathered dout) */
	rows = (size_t) p->c_in * p->kh * p->kw + (size_t) p->c_out;
	return maas_mul_size((size_t) chunk_rows(p, n), (size_t) p->h_out * p->w_out, &cols) &&
		maas_mul_size(rows, cols, floats);
}

/* ---- im2col and col2im ---- */

/*
 * inp (nb, c_in, h, w) -> col [c_in * kh * kw, nb * h_out * w_out]; taps
 * that fall in the padding are zeros.
 */
MAAS_SIMD static void
im2col(const MaasConv2d *p, int nb, const float *inp, float *col)
{
	int			w_out = p->w_out;
	size_t		hw = (size_t) p->h_out * w_out;
	size_t		cols = (size_t) nb * hw;
	size_t		plane = (size_t) p->h * p->w;
	size_t		row = 0;

	for (int ic = 0; ic < p->c_in; ic++)
		for (int ki = 0; ki < p->kh; ki++)
		{
			int			yoff = ki * p->dil_h - p->pad_top;
			int			ylo,
						yhi;

			maas_conv_valid_range(p->h_out, p->h, p->stride_h, yoff, &ylo, &yhi);
			for (int kj = 0; kj < p->kw; kj++, row++)
			{
				int			xoff = kj * p->dil_w - p->pad_left;
				int			xlo,
							xhi;
				float	   *dst = col + row * cols;

				maas_conv_valid_range(w_out, p->w, p->stride_w, xoff, &xlo, &xhi);
				for (int b = 0; b < nb; b++)
				{
					const float *src = inp + ((size_t) b * p->c_in + ic) * plane;
					float	   *d = dst + (size_t) b * hw;

					memset(d, 0, sizeof(float) * (size_t) ylo * w_out);
					for (int oy = ylo; oy < yhi; oy++)
					{
						const float *s = src + (size_t) (oy * p->stride_h + yoff) * p->w;
						float	   *dr = d + (size_t) oy * w_out;

						/* ox * stride + xoff is in [0, w) for ox in [xlo, xhi) */
						for (int ox = 0; ox < xlo; ox++)
							dr[ox] = 0.0f;
						if (p->stride_w == 1)
							memcpy(dr + xlo, s + xlo + xoff, sizeof(float) * (xhi - xlo));
						else
							for (int ox = xlo; ox < xhi; ox++)
								dr[ox] = s[ox * p->stride_w + xoff];
						for (int ox = xhi; ox < w_out; ox++)
							dr[ox] = 0.0f;
					}
					memset(d + (size_t) yhi * w_out, 0,
						   sizeof(float) * (size_t) (p->h_out - yhi) * w_out);
				}
			}
		}
}

/* adds col [c_in * kh * kw, nb * h_out * w_out] back into dinp (nb, c_in, h, w) */
MAAS_SIMD static void
col2im(const MaasConv2d *p, int nb, const float *col, float *dinp)
{
	int			w_out = p->w_out;
	size_t		hw = (size_t) p->h_out * w_out;
	size_t		cols = (size_t) nb * hw;
	size_t		plane = (size_t) p->h * p->w;
	size_t		row = 0;

	for (int ic = 0; ic < p->c_in; ic++)
		for (int ki = 0; ki < p->kh; ki++)
		{
			int			yoff = ki * p->dil_h - p->pad_top;
			int			ylo,
						yhi;

			maas_conv_valid_range(p->h_out, p->h, p->stride_h, yoff, &ylo, &yhi);
			for (int kj = 0; kj < p->kw; kj++, row++)
			{
				int			xoff = kj * p->dil_w - p->pad_left;
				int			xlo,
							xhi;
				const float *src = col + row * cols;

				maas_conv_valid_range(w_out, p->w, p->stride_w, xoff, &xlo, &xhi);
				for (int b = 0; b < nb; b++)
				{
					float	   *dst = dinp + ((size_t) b * p->c_in + ic) * plane;
					const float *s = src + (size_t) b * hw;

					for (int oy = ylo; oy < yhi; oy++)
					{
						float	   *d = dst + (size_t) (oy * p->stride_h + yoff) * p->w;
						const float *sr = s + (size_t) oy * w_out;

						if (p->stride_w == 1)
							for (int ox = xlo; ox < xhi; ox++)
								d[ox + xoff] += sr[ox];
						else
							for (int ox = xlo; ox < xhi; ox++)
								d[ox * p->stride_w + xoff] += sr[ox];
					}
				}
			}
		}
}

/* ---- forward ---- */

static void
forward_gemm(const MaasConv2d *p, const MaasBlas *blas, int n, const float *inp,
			 const float *weight, const float *bias, float *out,
			 const MaasTick *tick)
{
	int			cig = p->c_in / p->groups;
	int			cog = p->c_out / p->groups;
	int			hw = p->h * p->w;

	for (int b = 0; b < n; b++)
	{
		float	   *o = out + (size_t) b * p->c_out * hw;

		maas_tick(tick);
		maas_conv_fill_bias(1, p->c_out, hw, bias, o);
		for (int g = 0; g < p->groups; g++)
			blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
						cog, hw, cig, 1.0f, weight + (size_t) g * cog * cig, cig,
						inp + ((size_t) b * p->c_in + (size_t) g * cig) * hw, hw,
						1.0f, o + (size_t) g * cog * hw, hw);
	}
}

/* tmp [c, nb * hw] -> out (nb, c, hw), plus the bias, through a ReLU or not */
MAAS_SIMD static void
scatter_bias(int nb, int c, size_t hw, const float *tmp, const float *bias,
			 bool relu, float *out)
{
	size_t		cols = (size_t) nb * hw;

	for (int b = 0; b < nb; b++)
		for (int oc = 0; oc < c; oc++)
		{
			const float *restrict s = tmp + (size_t) oc * cols + (size_t) b * hw;
			float	   *restrict o = out + ((size_t) b * c + oc) * hw;
			float		v = bias ? bias[oc] : 0.0f;

			if (relu)
				for (size_t i = 0; i < hw; i++)
				{
					float		y = s[i] + v;

					o[i] = y > 0.0f ? y : 0.0f;
				}
			else
				for (size_t i = 0; i < hw; i++)
					o[i] = s[i] + v;
		}
}

/* the runtime's ReLU (ops_core.c), in place */
MAAS_SIMD static void
relu_inplace(size_t n, float *x)
{
	for (size_t i = 0; i < n; i++)
		x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* dout (nb, c, hw) -> tmp [c, nb * hw] */
static void
gather(int nb, int c, size_t hw, const float *dout, float *tmp)
{
	size_t		cols = (size_t) nb * hw;

	for (int b = 0; b < nb; b++)
		for (int oc = 0; oc < c; oc++)
			memcpy(tmp + (size_t) oc * cols + (size_t) b * hw,
				   dout + ((size_t) b * c + oc) * hw, sizeof(float) * hw);
}

static void
forward_im2col(const MaasConv2d *p, const MaasBlas *blas, int n, const float *inp,
			   const float *weight, const float *bias, bool relu, float *out,
			   float *scratch, const MaasTick *tick)
{
	int			cig = p->c_in / p->groups;
	int			cog = p->c_out / p->groups;
	int			kg = cig * p->kh * p->kw;
	int			hw = p->h_out * p->w_out;
	size_t		in_size = maas_conv2d_in_size(p);
	size_t		out_size = maas_conv2d_out_size(p);
	int			chunk = chunk_rows(p, n);
	float	   *col = scratch;
	float	   *tmp = scratch + (size_t) p->c_in * p->kh * p->kw * chunk * hw;

	for (int n0 = 0; n0 < n; n0 += chunk)
	{
		int			nb = n - n0 < chunk ? n - n0 : chunk;
		int			cols = nb * hw;
		float	   *o = out + (size_t) n0 * out_size;

		maas_tick(tick);
		im2col(p, nb, inp + (size_t) n0 * in_size, col);
		if (nb == 1)
		{
			/* the GEMM's [c_out, hw] is the row's layout: write in place */
			maas_conv_fill_bias(1, p->c_out, hw, bias, o);
			for (int g = 0; g < p->groups; g++)
				blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
							cog, hw, kg, 1.0f, weight + (size_t) g * cog * kg, kg,
							col + (size_t) g * kg * hw, hw,
							1.0f, o + (size_t) g * cog * hw, hw);
			if (relu)
				relu_inplace(out_size, o);
			continue;
		}
		for (int g = 0; g < p->groups; g++)
			blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
						cog, cols, kg, 1.0f, weight + (size_t) g * cog * kg, kg,
						col + (size_t) g * kg * cols, cols,
						0.0f, tmp + (size_t) g * cog * cols, cols);
		scatter_bias(nb, p->c_out, hw, tmp, bias, relu, o);
	}
}

void
maas_conv2d_forward(const MaasConv2d *p, const MaasBlas *blas, int n,
					const float *inp, const float *weight, const float *bias,
					float *out, float *scratch, const MaasTick *tick)
{
	maas_conv2d_forward_act(p, blas, n, inp, weight, bias, false, out, scratch, tick);
}

void
maas_conv2d_forward_act(const MaasConv2d *p, const MaasBlas *blas, int n,
						const float *inp, const float *weight, const float *bias,
						bool relu, float *out, float *scratch, const MaasTick *tick)
{
	switch (p->chosen)
	{
		case MAAS_CONV_DIRECT:
			maas_conv_direct_forward(p, n, inp, weight, bias, out, scratch, tick);
			break;
		case MAAS_CONV_GEMM:
			forward_gemm(p, blas, n, inp, weight, bias, out, tick);
			break;
		default:
			/* im2col applies the ReLU as it writes the rows */
			forward_im2col(p, blas, n, inp, weight, bias, relu, out, scratch, tick);
			return;
	}
	if (relu && n > 0)
		relu_inplace((size_t) n * maas_conv2d_out_size(p), out);
}

/* ---- backward ---- */

static void
backward_gemm(const MaasConv2d *p, const MaasBlas *blas, int n, const float *dout,
			  const float *inp, const float *weight, float *dinp, float *dweight,
			  const MaasTick *tick)
{
	int			cig = p->c_in / p->groups;
	int			cog = p->c_out / p->groups;
	int			hw = p->h * p->w;

	for (int b = 0; b < n; b++)
	{
		const float *d = dout + (size_t) b * p->c_out * hw;
		const float *x = inp + (size_t) b * p->c_in * hw;

		maas_tick(tick);
		for (int g = 0; g < p->groups; g++)
		{
			const float *dg = d + (size_t) g * cog * hw;
			const float *xg = x + (size_t) g * cig * hw;
			const float *wg = weight + (size_t) g * cog * cig;

			blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
						cog, cig, hw, 1.0f, dg, hw, xg, hw,
						b == 0 ? 0.0f : 1.0f, dweight + (size_t) g * cog * cig, cig);
			if (dinp)
				blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_TRANS, MAAS_CBLAS_NO_TRANS,
							cig, hw, cog, 1.0f, wg, cig, dg, hw,
							0.0f, dinp + ((size_t) b * p->c_in + (size_t) g * cig) * hw, hw);
		}
	}
}

static void
backward_im2col(const MaasConv2d *p, const MaasBlas *blas, int n,
				const float *dout, const float *inp, const float *weight,
				float *dinp, float *dweight, float *scratch,
				const MaasTick *tick)
{
	int			cig = p->c_in / p->groups;
	int			cog = p->c_out / p->groups;
	int			kg = cig * p->kh * p->kw;
	int			hw = p->h_out * p->w_out;
	size_t		in_size = maas_conv2d_in_size(p);
	size_t		out_size = maas_conv2d_out_size(p);
	int			chunk = chunk_rows(p, n);
	float	   *col = scratch;
	float	   *tmp = scratch + (size_t) p->c_in * p->kh * p->kw * chunk * hw;

	for (int n0 = 0; n0 < n; n0 += chunk)
	{
		int			nb = n - n0 < chunk ? n - n0 : chunk;
		int			cols = nb * hw;
		const float *dt;

		maas_tick(tick);
		/* dout as [c_out, nb * hw]: a one-row chunk already is */
		if (nb == 1)
			dt = dout + (size_t) n0 * out_size;
		else
		{
			gather(nb, p->c_out, hw, dout + (size_t) n0 * out_size, tmp);
			dt = tmp;
		}
		im2col(p, nb, inp + (size_t) n0 * in_size, col);
		for (int g = 0; g < p->groups; g++)
			blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_TRANS,
						cog, kg, cols, 1.0f, dt + (size_t) g * cog * cols, cols,
						col + (size_t) g * kg * cols, cols,
						n0 == 0 ? 0.0f : 1.0f, dweight + (size_t) g * cog * kg, kg);
		if (dinp == NULL)
			continue;
		/* the columns are spent: their gradient takes their place */
		for (int g = 0; g < p->groups; g++)
			blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_TRANS, MAAS_CBLAS_NO_TRANS,
						kg, cols, cog, 1.0f, weight + (size_t) g * cog * kg, kg,
						dt + (size_t) g * cog * cols, cols,
						0.0f, col + (size_t) g * kg * cols, cols);
		memset(dinp + (size_t) n0 * in_size, 0, sizeof(float) * nb * in_size);
		col2im(p, nb, col, dinp + (size_t) n0 * in_size);
	}
}

void
maas_conv2d_backward(const MaasConv2d *p, const MaasBlas *blas, int n,
					 const float *dout, const float *inp, const float *weight,
					 float *dinp, float *dweight, float *dbias, float *scratch,
					 const MaasTick *tick)
{
	size_t		hw = (size_t) p->h_out * p->w_out;

	/* dbias: each channel summed over the rows in double */
	if (dbias)
		for (int oc = 0; oc < p->c_out; oc++)
		{
			double		s = 0.0;

			for (int b = 0; b < n; b++)
				s += maas_conv_sum_floats(hw, dout + ((size_t) b * p->c_out + oc) * hw);
			dbias[oc] = (float) s;
		}
	if (n <= 0)
	{
		memset(dweight, 0, sizeof(float) * maas_conv2d_weights(p));
		return;
	}

	switch (p->chosen)
	{
		case MAAS_CONV_DIRECT:
			maas_conv_direct_backward(p, n, dout, inp, weight, dinp, dweight,
									  scratch, tick);
			break;
		case MAAS_CONV_GEMM:
			backward_gemm(p, blas, n, dout, inp, weight, dinp, dweight, tick);
			break;
		default:
			backward_im2col(p, blas, n, dout, inp, weight, dinp, dweight,
							scratch, tick);
			break;
	}
}

