/*
 * conv.c
 *		Convolution, pooling and batch-norm folding kernels (see conv.h).
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
 *	- direct: for every (output channel, input channel, tap), a
 *	  multiply-add of the shifted input plane into the output plane: at
 *	  stride 1 one long loop over flattened planes, else row by row.  For
 *	  depthwise convolutions this beats a GEMM per group of one output
 *	  channel.
 *
 * maas_conv2d_check() picks one per shape (the rule and its figures are
 * at choose_algo); every algorithm handles every shape it accepts, so the
 * tests can compare them.
 *
 * The inner loops are small static functions that the compiler
 * vectorises, compiled for AVX-512, AVX2 and baseline x86-64 and picked
 * at load time (target_clones), never with -march=native.
 */
#include "conv.h"

#include <float.h>
#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	!defined(__SANITIZE_ADDRESS__)
#define MAAS_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MAAS_SIMD
#endif

/* columns an im2col chunk aims for (rows of the chunk times h_out * w_out) */
#ifndef MAAS_CONV_COLS
#define MAAS_CONV_COLS 4096
#endif

/*
 * The outputs o in [0, n_out) whose input index o * stride + off falls in
 * [0, n_in): [*lo, *hi), empty when *lo == *hi.
 */
static inline void
valid_range(int n_out, int n_in, int stride, int off, int *lo, int *hi)
{
	int64_t		a,
				b;

	a = off >= 0 ? 0 : ((int64_t) -off + stride - 1) / stride;
	b = (int64_t) n_in - 1 - off < 0 ? 0 : ((int64_t) n_in - 1 - off) / stride + 1;
	if (a > n_out)
		a = n_out;
	if (b > n_out)
		b = n_out;
	if (b < a)
		b = a;
	*lo = (int) a;
	*hi = (int) b;
}

/* sum of v[0..n), in 16 float lanes the compiler can vectorise */
static inline double
sum_floats(size_t n, const float *v)
{
	float		acc[16] = {0};
	double		s = 0.0;
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
		for (int j = 0; j < 16; j++)
			acc[j] += v[i + j];
	for (; i < n; i++)
		s += v[i];
	for (int j = 0; j < 16; j++)
		s += acc[j];
	return s;
}

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

static bool
check_positive(const char *layer, const char *what, int v, MaasError *err)
{
	if (v > 0)
		return true;
	return maas_error(err, MAAS_ERR_INVALID, "%s %s \"%d\" is not positive",
					  layer, what, v);
}

static bool
check_pads(const char *layer, int top, int left, int bottom, int right,
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
static bool
fits_int(const char *layer, const char *what, int64_t v, MaasError *err)
{
	if (v <= INT_MAX)
		return true;
	return maas_error(err, MAAS_ERR_LIMIT,
					  "%s %s has more than %d elements", layer, what, INT_MAX);
}

/* a * b * c in int64, saturating past INT_MAX (all operands positive) */
static int64_t
mul3(int64_t a, int64_t b, int64_t c)
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
static bool
axis_out(const char *layer, const char *axis, int in, int pad_a, int pad_b,
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
	if (!fits_int(layer, "output", n, err))
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

	if (!check_positive(L, "input channels", p->c_in, err) ||
		!check_positive(L, "input height", p->h, err) ||
		!check_positive(L, "input width", p->w, err) ||
		!check_positive(L, "output channels", p->c_out, err) ||
		!check_positive(L, "kernel height", p->kh, err) ||
		!check_positive(L, "kernel width", p->kw, err) ||
		!check_positive(L, "stride", p->stride_h, err) ||
		!check_positive(L, "stride", p->stride_w, err) ||
		!check_positive(L, "dilation", p->dil_h, err) ||
		!check_positive(L, "dilation", p->dil_w, err) ||
		!check_positive(L, "groups", p->groups, err) ||
		!check_pads(L, p->pad_top, p->pad_left, p->pad_bottom, p->pad_right, err))
		return false;
	if (p->c_in % p->groups != 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "convolution groups \"%d\" do not divide the input channels \"%d\"",
						  p->groups, p->c_in);
	if (p->c_out % p->groups != 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "convolution groups \"%d\" do not divide the output channels \"%d\"",
						  p->groups, p->c_out);
	if (!axis_out(L, "height", p->h, p->pad_top, p->pad_bottom, p->kh, p->dil_h,
				  p->stride_h, false, &p->h_out, err) ||
		!axis_out(L, "width", p->w, p->pad_left, p->pad_right, p->kw, p->dil_w,
				  p->stride_w, false, &p->w_out, err))
		return false;
	cig = p->c_in / p->groups;
	if (!fits_int(L, "input", mul3(p->c_in, p->h, p->w), err) ||
		!fits_int(L, "output", mul3(p->c_out, p->h_out, p->w_out), err) ||
		!fits_int(L, "weight", mul3(p->c_out, cig, mul3(p->kh, p->kw, 1)), err))
		return false;
	/* the columns of one row, which im2col's GEMM indexes with ints */
	columns_fit = mul3(p->c_in, mul3(p->kh, p->kw, 1), mul3(p->h_out, p->w_out, 1)) <= INT_MAX;

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

/* the direct algorithm runs over flattened planes at stride 1 (see below) */
static inline bool
flat_direct(const MaasConv2d *p)
{
	return p->stride_h == 1 && p->stride_w == 1;
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

		if (!flat_direct(p))
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

			valid_range(p->h_out, p->h, p->stride_h, yoff, &ylo, &yhi);
			for (int kj = 0; kj < p->kw; kj++, row++)
			{
				int			xoff = kj * p->dil_w - p->pad_left;
				int			xlo,
							xhi;
				float	   *dst = col + row * cols;

				valid_range(w_out, p->w, p->stride_w, xoff, &xlo, &xhi);
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

			valid_range(p->h_out, p->h, p->stride_h, yoff, &ylo, &yhi);
			for (int kj = 0; kj < p->kw; kj++, row++)
			{
				int			xoff = kj * p->dil_w - p->pad_left;
				int			xlo,
							xhi;
				const float *src = col + row * cols;

				valid_range(w_out, p->w, p->stride_w, xoff, &xlo, &xhi);
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

/* ---- direct loops ---- */

/*
 * out [h_out, w_out] += the convolution of one input plane in [h, w] with
 * one kernel wk [kh, kw]
 */
MAAS_SIMD static void
direct_plane(const MaasConv2d *p, const float *in, const float *wk, float *out)
{
	int			w_out = p->w_out;
	int			sw = p->stride_w;

	for (int ki = 0; ki < p->kh; ki++)
	{
		int			yoff = ki * p->dil_h - p->pad_top;
		int			ylo,
					yhi;

		valid_range(p->h_out, p->h, p->stride_h, yoff, &ylo, &yhi);
		for (int kj = 0; kj < p->kw; kj++)
		{
			int			xoff = kj * p->dil_w - p->pad_left;
			int			xlo,
						xhi;
			float		wv = wk[ki * p->kw + kj];

			valid_range(w_out, p->w, sw, xoff, &xlo, &xhi);
			for (int oy = ylo; oy < yhi; oy++)
			{
				const float *restrict s = in + (size_t) (oy * p->stride_h + yoff) * p->w;
				float	   *restrict o = out + (size_t) oy * w_out;

				if (sw == 1)
					for (int ox = xlo; ox < xhi; ox++)
						o[ox] += wv * s[ox + xoff];
				else
					for (int ox = xlo; ox < xhi; ox++)
						o[ox] += wv * s[ox * sw + xoff];
			}
		}
	}
}

/*
 * One (input plane, output plane) pair of the backward pass: dwk [kh, kw]
 * += the correlation of the input plane with dout, and, when din is not
 * NULL, din [h, w] += the transposed convolution of dout with wk.
 */
MAAS_SIMD static void
direct_plane_backward(const MaasConv2d *p, const float *in, const float *dout,
					  const float *wk, float *dwk, float *din)
{
	int			w_out = p->w_out;
	int			sw = p->stride_w;

	for (int ki = 0; ki < p->kh; ki++)
	{
		int			yoff = ki * p->dil_h - p->pad_top;
		int			ylo,
					yhi;

		valid_range(p->h_out, p->h, p->stride_h, yoff, &ylo, &yhi);
		for (int kj = 0; kj < p->kw; kj++)
		{
			int			xoff = kj * p->dil_w - p->pad_left;
			int			xlo,
						xhi;
			float		wv = wk[ki * p->kw + kj];
			float		acc[16] = {0};
			float		sum = 0.0f;

			valid_range(w_out, p->w, sw, xoff, &xlo, &xhi);
			for (int oy = ylo; oy < yhi; oy++)
			{
				size_t		irow = (size_t) (oy * p->stride_h + yoff) * p->w;
				const float *restrict s = in + irow;
				const float *restrict g = dout + (size_t) oy * w_out;
				int			ox = xlo;

				if (sw == 1)
				{
					for (; ox + 16 <= xhi; ox += 16)
						for (int j = 0; j < 16; j++)
							acc[j] += g[ox + j] * s[ox + j + xoff];
				}
				for (; ox < xhi; ox++)
					sum += g[ox] * s[ox * sw + xoff];
				if (din != NULL)
				{
					float	   *restrict d = din + irow;

					if (sw == 1)
						for (ox = xlo; ox < xhi; ox++)
							d[ox + xoff] += wv * g[ox];
					else
						for (ox = xlo; ox < xhi; ox++)
							d[ox * sw + xoff] += wv * g[ox];
				}
			}
			for (int j = 0; j < 16; j++)
				sum += acc[j];
			dwk[ki * p->kw + kj] += sum;
		}
	}
}

/*
 * The direct algorithm at stride 1 works on flattened planes.  With the
 * input at its padded size hp x wp (copied with zero borders when there is
 * padding), output (oy, ox) is stored at oy * wp + ox of a plane of the
 * same pitch, and each tap (ki, kj) becomes one long contiguous
 * multiply-add, acc[t] += w * in[t + ki * dil_h * wp + kj * dil_w] for t
 * in [0, (h_out - 1) * wp + w_out): the columns past w_out are computed
 * and dropped.  Every index stays inside the padded plane.
 */

/* in (c, h, w) -> dst (c, hp, wp), zero borders */
static void
pad_planes(const MaasConv2d *p, int c, const float *in, float *dst)
{
	size_t		wp = (size_t) p->w + p->pad_left + p->pad_right;
	size_t		hp = (size_t) p->h + p->pad_top + p->pad_bottom;

	memset(dst, 0, sizeof(float) * c * hp * wp);
	for (int ic = 0; ic < c; ic++)
		for (int y = 0; y < p->h; y++)
			memcpy(dst + ((size_t) ic * hp + y + p->pad_top) * wp + p->pad_left,
				   in + ((size_t) ic * p->h + y) * p->w, sizeof(float) * p->w);
}

/* acc [len] += the taps of one kernel wk [kh, kw] over one padded plane */
MAAS_SIMD static void
flat_taps(const MaasConv2d *p, size_t wp, size_t len, const float *restrict src,
		  const float *wk, float *restrict acc)
{
	for (int ki = 0; ki < p->kh; ki++)
		for (int kj = 0; kj < p->kw; kj++)
		{
			const float *restrict s = src + (size_t) ki * p->dil_h * wp + (size_t) kj * p->dil_w;
			float		wv = wk[ki * p->kw + kj];

			for (size_t t = 0; t < len; t++)
				acc[t] += wv * s[t];
		}
}

/*
 * dwk [kh, kw] += the correlation of a padded plane with dp [len] (dout at
 * the padded pitch, zeros in the dropped columns); dsrc (a padded plane,
 * or NULL) += the kernel spread back along dp
 */
MAAS_SIMD static void
flat_taps_backward(const MaasConv2d *p, size_t wp, size_t len,
				   const float *restrict src, const float *restrict dp,
				   const float *wk, float *dwk, float *restrict dsrc)
{
	for (int ki = 0; ki < p->kh; ki++)
		for (int kj = 0; kj < p->kw; kj++)
		{
			size_t		off = (size_t) ki * p->dil_h * wp + (size_t) kj * p->dil_w;
			const float *restrict s = src + off;
			float		wv = wk[ki * p->kw + kj];
			float		acc[16] = {0};
			float		sum = 0.0f;
			size_t		t = 0;

			for (; t + 16 <= len; t += 16)
				for (int j = 0; j < 16; j++)
					acc[j] += dp[t + j] * s[t + j];
			for (; t < len; t++)
				sum += dp[t] * s[t];
			for (int j = 0; j < 16; j++)
				sum += acc[j];
			dwk[ki * p->kw + kj] += sum;
			if (dsrc != NULL)
			{
				float	   *restrict d = dsrc + off;

				for (t = 0; t < len; t++)
					d[t] += wv * dp[t];
			}
		}
}

static void
forward_flat(const MaasConv2d *p, int n, const float *inp, const float *weight,
			 const float *bias, float *out, float *scratch, const MaasTick *tick)
{
	int			cig = p->c_in / p->groups;
	int			cog = p->c_out / p->groups;
	size_t		wp = (size_t) p->w + p->pad_left + p->pad_right;
	size_t		hp = (size_t) p->h + p->pad_top + p->pad_bottom;
	size_t		pplane = hp * wp;
	bool		padded = pplane != (size_t) p->h * p->w;
	size_t		len = (size_t) (p->h_out - 1) * wp + p->w_out;
	size_t		hw = (size_t) p->h_out * p->w_out;
	size_t		taps = (size_t) p->kh * p->kw;
	float	   *acc = scratch;
	float	   *pin = scratch + (size_t) p->h_out * wp;

	for (int b = 0; b < n; b++)
	{
		const float *src = inp + (size_t) b * maas_conv2d_in_size(p);

		maas_tick(tick);
		if (padded)
		{
			pad_planes(p, p->c_in, src, pin);
			src = pin;
		}
		for (int oc = 0; oc < p->c_out; oc++)
		{
			int			g = oc / cog;
			float	   *o = out + ((size_t) b * p->c_out + oc) * hw;
			float		bv = bias ? bias[oc] : 0.0f;

			memset(acc, 0, sizeof(float) * len);
			for (int icg = 0; icg < cig; icg++)
				flat_taps(p, wp, len, src + (size_t) (g * cig + icg) * pplane,
						  weight + ((size_t) oc * cig + icg) * taps, acc);
			for (int oy = 0; oy < p->h_out; oy++)
				for (int ox = 0; ox < p->w_out; ox++)
					o[(size_t) oy * p->w_out + ox] = acc[(size_t) oy * wp + ox] + bv;
		}
	}
}

/* dinp, when wanted, was zeroed by the caller */
static void
backward_flat(const MaasConv2d *p, int n, const float *dout, const float *inp,
			  const float *weight, float *dinp, float *dweight, float *scratch,
			  const MaasTick *tick)
{
	int			cig = p->c_in / p->groups;
	int			cog = p->c_out / p->groups;
	size_t		wp = (size_t) p->w + p->pad_left + p->pad_right;
	size_t		hp = (size_t) p->h + p->pad_top + p->pad_bottom;
	size_t		pplane = hp * wp;
	bool		padded = pplane != (size_t) p->h * p->w;
	size_t		len = (size_t) (p->h_out - 1) * wp + p->w_out;
	size_t		hw = (size_t) p->h_out * p->w_out;
	size_t		taps = (size_t) p->kh * p->kw;
	float	   *dp = scratch;
	float	   *pin = scratch + (size_t) p->h_out * wp;
	float	   *pdin = pin + (size_t) p->c_in * pplane;

	for (int b = 0; b < n; b++)
	{
		const float *src = inp + (size_t) b * maas_conv2d_in_size(p);
		float	   *dsrc = dinp ? dinp + (size_t) b * maas_conv2d_in_size(p) : NULL;

		maas_tick(tick);
		if (padded)
		{
			pad_planes(p, p->c_in, src, pin);
			src = pin;
			if (dsrc)
			{
				memset(pdin, 0, sizeof(float) * p->c_in * pplane);
				dsrc = pdin;
			}
		}
		for (int oc = 0; oc < p->c_out; oc++)
		{
			int			g = oc / cog;
			const float *d = dout + ((size_t) b * p->c_out + oc) * hw;

			/* dout at the padded pitch, zeros in the dropped columns */
			for (int oy = 0; oy < p->h_out; oy++)
			{
				float	   *r = dp + (size_t) oy * wp;

				memcpy(r, d + (size_t) oy * p->w_out, sizeof(float) * p->w_out);
				if (oy < p->h_out - 1)
					memset(r + p->w_out, 0, sizeof(float) * (wp - p->w_out));
			}
			for (int icg = 0; icg < cig; icg++)
			{
				size_t		ic = (size_t) g * cig + icg;
				size_t		wo = ((size_t) oc * cig + icg) * taps;

				flat_taps_backward(p, wp, len, src + ic * pplane, dp, weight + wo,
								   dweight + wo, dsrc ? dsrc + ic * pplane : NULL);
			}
		}
		if (padded && dinp)
		{
			float	   *dst = dinp + (size_t) b * maas_conv2d_in_size(p);

			for (int ic = 0; ic < p->c_in; ic++)
				for (int y = 0; y < p->h; y++)
					memcpy(dst + ((size_t) ic * p->h + y) * p->w,
						   pdin + ((size_t) ic * hp + y + p->pad_top) * wp + p->pad_left,
						   sizeof(float) * p->w);
		}
	}
}

/* ---- forward ---- */

/* every plane of out (n, c, hw) set to bias[c], or zero */
static void
fill_bias(int n, int c, size_t hw, const float *bias, float *out)
{
	for (int b = 0; b < n; b++)
		for (int oc = 0; oc < c; oc++)
		{
			float	   *o = out + ((size_t) b * c + oc) * hw;
			float		v = bias ? bias[oc] : 0.0f;

			for (size_t i = 0; i < hw; i++)
				o[i] = v;
		}
}

static void
forward_direct(const MaasConv2d *p, int n, const float *inp, const float *weight,
			   const float *bias, float *out, const MaasTick *tick)
{
	int			cig = p->c_in / p->groups;
	int			cog = p->c_out / p->groups;
	size_t		plane = (size_t) p->h * p->w;
	size_t		hw = (size_t) p->h_out * p->w_out;
	size_t		taps = (size_t) p->kh * p->kw;

	for (int b = 0; b < n; b++)
	{
		maas_tick(tick);
		fill_bias(1, p->c_out, hw, bias, out + (size_t) b * p->c_out * hw);
		for (int oc = 0; oc < p->c_out; oc++)
		{
			int			g = oc / cog;
			float	   *o = out + ((size_t) b * p->c_out + oc) * hw;

			for (int icg = 0; icg < cig; icg++)
			{
				int			ic = g * cig + icg;

				direct_plane(p, inp + ((size_t) b * p->c_in + ic) * plane,
							 weight + ((size_t) oc * cig + icg) * taps, o);
			}
		}
	}
}

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
		fill_bias(1, p->c_out, hw, bias, o);
		for (int g = 0; g < p->groups; g++)
			blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
						cog, hw, cig, 1.0f, weight + (size_t) g * cog * cig, cig,
						inp + ((size_t) b * p->c_in + (size_t) g * cig) * hw, hw,
						1.0f, o + (size_t) g * cog * hw, hw);
	}
}

/* tmp [c, nb * hw] -> out (nb, c, hw), plus the bias */
MAAS_SIMD static void
scatter_bias(int nb, int c, size_t hw, const float *tmp, const float *bias,
			 float *out)
{
	size_t		cols = (size_t) nb * hw;

	for (int b = 0; b < nb; b++)
		for (int oc = 0; oc < c; oc++)
		{
			const float *restrict s = tmp + (size_t) oc * cols + (size_t) b * hw;
			float	   *restrict o = out + ((size_t) b * c + oc) * hw;
			float		v = bias ? bias[oc] : 0.0f;

			for (size_t i = 0; i < hw; i++)
				o[i] = s[i] + v;
		}
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
			   const float *weight, const float *bias, float *out,
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
			fill_bias(1, p->c_out, hw, bias, o);
			for (int g = 0; g < p->groups; g++)
				blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
							cog, hw, kg, 1.0f, weight + (size_t) g * cog * kg, kg,
							col + (size_t) g * kg * hw, hw,
							1.0f, o + (size_t) g * cog * hw, hw);
			continue;
		}
		for (int g = 0; g < p->groups; g++)
			blas->sgemm(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_NO_TRANS, MAAS_CBLAS_NO_TRANS,
						cog, cols, kg, 1.0f, weight + (size_t) g * cog * kg, kg,
						col + (size_t) g * kg * cols, cols,
						0.0f, tmp + (size_t) g * cog * cols, cols);
		scatter_bias(nb, p->c_out, hw, tmp, bias, o);
	}
}

void
maas_conv2d_forward(const MaasConv2d *p, const MaasBlas *blas, int n,
					const float *inp, const float *weight, const float *bias,
					float *out, float *scratch, const MaasTick *tick)
{
	switch (p->chosen)
	{
		case MAAS_CONV_DIRECT:
			if (flat_direct(p))
				forward_flat(p, n, inp, weight, bias, out, scratch, tick);
			else
				forward_direct(p, n, inp, weight, bias, out, tick);
			break;
		case MAAS_CONV_GEMM:
			forward_gemm(p, blas, n, inp, weight, bias, out, tick);
			break;
		default:
			forward_im2col(p, blas, n, inp, weight, bias, out, scratch, tick);
			break;
	}
}

/* ---- backward ---- */

static void
backward_direct(const MaasConv2d *p, int n, const float *dout, const float *inp,
				const float *weight, float *dinp, float *dweight,
				const MaasTick *tick)
{
	int			cig = p->c_in / p->groups;
	int			cog = p->c_out / p->groups;
	size_t		plane = (size_t) p->h * p->w;
	size_t		hw = (size_t) p->h_out * p->w_out;
	size_t		taps = (size_t) p->kh * p->kw;

	for (int b = 0; b < n; b++)
	{
		maas_tick(tick);
		for (int oc = 0; oc < p->c_out; oc++)
		{
			int			g = oc / cog;
			const float *d = dout + ((size_t) b * p->c_out + oc) * hw;

			for (int icg = 0; icg < cig; icg++)
			{
				size_t		ip = ((size_t) b * p->c_in + g * cig + icg) * plane;
				size_t		wo = ((size_t) oc * cig + icg) * taps;

				direct_plane_backward(p, inp + ip, d, weight + wo, dweight + wo,
									  dinp ? dinp + ip : NULL);
			}
		}
	}
}

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
				s += sum_floats(hw, dout + ((size_t) b * p->c_out + oc) * hw);
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
			memset(dweight, 0, sizeof(float) * maas_conv2d_weights(p));
			if (dinp)
				memset(dinp, 0, sizeof(float) * maas_conv2d_in_size(p) * n);
			if (flat_direct(p))
				backward_flat(p, n, dout, inp, weight, dinp, dweight, scratch, tick);
			else
				backward_direct(p, n, dout, inp, weight, dinp, dweight, tick);
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

/* ---- pooling ---- */

void
maas_pool2d_init(MaasPool2d *p, int c, int h, int w, int kh, int kw)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	p->h = h;
	p->w = w;
	p->kh = kh;
	p->kw = kw;
	p->stride_h = kh;
	p->stride_w = kw;
	p->dil_h = p->dil_w = 1;
}

/*
 * The taps j in [0, k) of a window starting at start whose position start
 * + j * dil falls in [lo, hi): [*j0, *j1), empty when *j0 >= *j1.
 */
static inline void
window_taps(int64_t start, int k, int dil, int64_t lo, int64_t hi,
			int *j0, int *j1)
{
	int64_t		a,
				b;

	if (dil == 1)
	{
		/* no division: this runs for every output row */
		a = start >= lo ? 0 : lo - start;
		b = start >= hi ? 0 : hi - start;
	}
	else
	{
		a = start >= lo ? 0 : (lo - start + dil - 1) / dil;
		b = start >= hi ? 0 : (hi - 1 - start) / dil + 1;
	}

	if (b > k)
		b = k;
	*j0 = (int) (a < k ? a : k);
	*j1 = (int) (b > *j0 ? b : *j0);
}

static bool
every_window_covers(const char *axis, int n_out, int in, int stride, int pad,
					int k, int dil, MaasError *err)
{
	for (int o = 0; o < n_out; o++)
	{
		int			j0,
					j1;

		window_taps((int64_t) o * stride - pad, k, dil, 0, in, &j0, &j1);
		if (j0 >= j1)
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "pooling window \"%d\" along the %s covers only padding", o, axis);
			return maas_error_hint(err, "Every pooling window must cover at least one input value: use less padding or a smaller dilation.");
		}
	}
	return true;
}

bool
maas_pool2d_check(MaasPool2d *p, MaasError *err)
{
	const char *L = "pooling";

	if (!check_positive(L, "channels", p->c, err) ||
		!check_positive(L, "input height", p->h, err) ||
		!check_positive(L, "input width", p->w, err) ||
		!check_positive(L, "kernel height", p->kh, err) ||
		!check_positive(L, "kernel width", p->kw, err) ||
		!check_positive(L, "stride", p->stride_h, err) ||
		!check_positive(L, "stride", p->stride_w, err) ||
		!check_positive(L, "dilation", p->dil_h, err) ||
		!check_positive(L, "dilation", p->dil_w, err) ||
		!check_pads(L, p->pad_top, p->pad_left, p->pad_bottom, p->pad_right, err))
		return false;
	if (!axis_out(L, "height", p->h, p->pad_top, p->pad_bottom, p->kh, p->dil_h,
				  p->stride_h, p->ceil_mode, &p->h_out, err) ||
		!axis_out(L, "width", p->w, p->pad_left, p->pad_right, p->kw, p->dil_w,
				  p->stride_w, p->ceil_mode, &p->w_out, err))
		return false;
	if (!fits_int(L, "input", mul3(p->c, p->h, p->w), err) ||
		!fits_int(L, "output", mul3(p->c, p->h_out, p->w_out), err))
		return false;
	return every_window_covers("height", p->h_out, p->h, p->stride_h, p->pad_top,
							   p->kh, p->dil_h, err) &&
		every_window_covers("width", p->w_out, p->w, p->stride_w, p->pad_left,
							p->kw, p->dil_w, err);
}

/*
 * The outputs along one axis whose whole window lies inside the input:
 * [*lo, *hi).  Those need no bounds checks; the others (at most a few at
 * each border) go through window_taps.
 */
static inline void
inside_range(int n_out, int n_in, int stride, int pad, int k, int dil,
			 int *lo, int *hi)
{
	int64_t		span = (int64_t) n_in - (int64_t) (k - 1) * dil;

	if (span <= 0)
		*lo = *hi = 0;
	else
		valid_range(n_out, (int) span, stride, -pad, lo, hi);
}

/* the maximum of the taps [i0, i1) x [j0, j1) of a window; first max, NaN wins */
static inline float
window_max(const MaasPool2d *p, const float *in, int ys, int i0, int i1,
		   int xs, int j0, int j1, int32_t *at)
{
	float		best = 0.0f;
	int			k_best = -1;

	for (int i = i0; i < i1; i++)
	{
		int			row = (ys + i * p->dil_h) * p->w + xs;

		for (int j = j0; j < j1; j++)
		{
			int			k = row + j * p->dil_w;
			float		v = in[k];

			if (k_best < 0 || v > best || isnan(v))
			{
				best = v;
				k_best = k;
			}
		}
	}
	*at = k_best;
	return best;
}

/* mask ? b : a, computed on the bits so that no branch depends on the data */
static inline float
select_bits(uint32_t mask, float a, float b)
{
	uint32_t	ua,
				ub,
				r;
	float		f;

	memcpy(&ua, &a, 4);
	memcpy(&ub, &b, 4);
	r = (ub & mask) | (ua & ~mask);
	memcpy(&f, &r, 4);
	return f;
}

/*
 * One output row of the common 2x2, stride 2 pooling, windows inside.
 * Rows are short (13 outputs for a 26-wide map), so this is scalar code
 * without data-dependent branches: the first max, NaN wins, as
 * window_max.
 */
static void
max2x2_row(int n, const float *restrict r0, const float *restrict r1,
		   int32_t base, float *restrict o, int32_t *restrict am, int w)
{
	for (int ox = 0; ox < n; ox++)
	{
		float		a = r0[2 * ox],
					b = r0[2 * ox + 1],
					c = r1[2 * ox],
					d = r1[2 * ox + 1];
		uint32_t	tb = -(uint32_t) ((b > a) | (b != b));
		float		m = select_bits(tb, a, b);
		int32_t		k = (int32_t) (tb & 1);
		uint32_t	tc = -(uint32_t) ((c > m) | (c != c));
		uint32_t	td;

		m = select_bits(tc, m, c);
		k = (int32_t) ((tc & (uint32_t) w) | (~tc & (uint32_t) k));
		td = -(uint32_t) ((d > m) | (d != d));
		o[ox] = select_bits(td, m, d);
		k = (int32_t) ((td & (uint32_t) (w + 1)) | (~td & (uint32_t) k));
		am[ox] = base + 2 * ox + k;
	}
}

void
maas_maxpool2d_forward(const MaasPool2d *p, int n, const float *inp, float *out,
					   int32_t *argmax)
{
	size_t		plane = (size_t) p->h * p->w;
	size_t		oplane = (size_t) p->h_out * p->w_out;
	size_t		planes = (size_t) n * p->c;
	int			xa,
				xb;
	bool		two = p->kh == 2 && p->kw == 2 && p->stride_w == 2 &&
		p->dil_h == 1 && p->dil_w == 1;

	inside_range(p->w_out, p->w, p->stride_w, p->pad_left, p->kw, p->dil_w, &xa, &xb);
	for (size_t pl = 0; pl < planes; pl++)
	{
		const float *in = inp + pl * plane;

		for (int oy = 0; oy < p->h_out; oy++)
		{
			int			ys = oy * p->stride_h - p->pad_top;
			int			i0,
						i1;
			float	   *o = out + pl * oplane + (size_t) oy * p->w_out;
			int32_t    *am = argmax ? argmax + pl * oplane + (size_t) oy * p->w_out : NULL;
			int32_t		at;

			window_taps(ys, p->kh, p->dil_h, 0, p->h, &i0, &i1);
			if (two && i0 == 0 && i1 == 2 && am)
			{
				int			xs = xa * 2 - p->pad_left;
				int32_t		base = ys * p->w + xs;

				max2x2_row(xb - xa, in + base, in + base + p->w, base, o + xa,
						   am ? am + xa : NULL, p->w);
			}
			else
				for (int ox = xa; ox < xb; ox++)
				{
					o[ox] = window_max(p, in, ys, i0, i1, ox * p->stride_w - p->pad_left,
									   0, p->kw, &at);
					if (am)
						am[ox] = at;
				}
			/* the windows that cross the left or right border */
			for (int ox = 0; ox < p->w_out; ox++)
			{
				int			xs = ox * p->stride_w - p->pad_left;
				int			j0,
							j1;

				if (ox == xa && xb > xa)
				{
					ox = xb - 1;
					continue;
				}
				window_taps(xs, p->kw, p->dil_w, 0, p->w, &j0, &j1);
				o[ox] = window_max(p, in, ys, i0, i1, xs, j0, j1, &at);
				if (am)
					am[ox] = at;
			}
		}
	}
}

void
maas_maxpool2d_backward(const MaasPool2d *p, int n, const float *dout,
						const int32_t *argmax, float *dinp)
{
	size_t		plane = (size_t) p->h * p->w;
	size_t		oplane = (size_t) p->h_out * p->w_out;
	size_t		planes = (size_t) n * p->c;

	memset(dinp, 0, sizeof(float) * planes * plane);
	for (size_t pl = 0; pl < planes; pl++)
	{
		float	   *d = dinp + pl * plane;
		const float *g = dout + pl * oplane;
		const int32_t *am = argmax + pl * oplane;

		for (size_t i = 0; i < oplane; i++)
			d[am[i]] += g[i];
	}
}

/* the divisor of the window at (ys, xs) of an average pooling */
static inline int
avg_divisor(const MaasPool2d *p, int ys, int xs)
{
	int			i0,
				i1,
				j0,
				j1;

	if (p->count_include_pad)
	{
		window_taps(ys, p->kh, p->dil_h, -p->pad_top, (int64_t) p->h + p->pad_bottom, &i0, &i1);
		window_taps(xs, p->kw, p->dil_w, -p->pad_left, (int64_t) p->w + p->pad_right, &j0, &j1);
	}
	else
	{
		window_taps(ys, p->kh, p->dil_h, 0, p->h, &i0, &i1);
		window_taps(xs, p->kw, p->dil_w, 0, p->w, &j0, &j1);
	}
	return (i1 - i0) * (j1 - j0);
}

/*
 * Average pooling, forward (dout NULL: out = the averages of in) or
 * backward (din += each dout spread over its window), one plane.  Windows
 * wholly inside the input have the divisor kh * kw under both rules.
 */
static void
avg_plane(const MaasPool2d *p, int xa, int xb, const float *in, float *out,
		  const float *dout, float *din)
{
	for (int oy = 0; oy < p->h_out; oy++)
	{
		int			ys = oy * p->stride_h - p->pad_top;
		int			i0,
					i1;
		bool		full_y;

		window_taps(ys, p->kh, p->dil_h, 0, p->h, &i0, &i1);
		full_y = i0 == 0 && i1 == p->kh;
		for (int ox = 0; ox < p->w_out; ox++)
		{
			int			xs = ox * p->stride_w - p->pad_left;
			int			j0 = 0,
						j1 = p->kw,
						div;

			if (full_y && ox >= xa && ox < xb)
				div = p->kh * p->kw;
			else
			{
				window_taps(xs, p->kw, p->dil_w, 0, p->w, &j0, &j1);
				div = avg_divisor(p, ys, xs);
			}
			if (dout == NULL)
			{
				float		s = 0.0f;

				for (int i = i0; i < i1; i++)
				{
					const float *r = in + (size_t) (ys + i * p->dil_h) * p->w;

					for (int j = j0; j < j1; j++)
						s += r[xs + j * p->dil_w];
				}
				out[oy * p->w_out + ox] = s / (float) div;
			}
			else
			{
				float		v = dout[oy * p->w_out + ox] / (float) div;

				for (int i = i0; i < i1; i++)
				{
					float	   *r = din + (size_t) (ys + i * p->dil_h) * p->w;

					for (int j = j0; j < j1; j++)
						r[xs + j * p->dil_w] += v;
				}
			}
		}
	}
}

void
maas_avgpool2d_forward(const MaasPool2d *p, int n, const float *inp, float *out)
{
	size_t		plane = (size_t) p->h * p->w;
	size_t		oplane = (size_t) p->h_out * p->w_out;
	size_t		planes = (size_t) n * p->c;
	int			xa,
				xb;

	inside_range(p->w_out, p->w, p->stride_w, p->pad_left, p->kw, p->dil_w, &xa, &xb);
	for (size_t pl = 0; pl < planes; pl++)
		avg_plane(p, xa, xb, inp + pl * plane, out + pl * oplane, NULL, NULL);
}

void
maas_avgpool2d_backward(const MaasPool2d *p, int n, const float *dout, float *dinp)
{
	size_t		plane = (size_t) p->h * p->w;
	size_t		oplane = (size_t) p->h_out * p->w_out;
	size_t		planes = (size_t) n * p->c;
	int			xa,
				xb;

	inside_range(p->w_out, p->w, p->stride_w, p->pad_left, p->kw, p->dil_w, &xa, &xb);
	memset(dinp, 0, sizeof(float) * planes * plane);
	for (size_t pl = 0; pl < planes; pl++)
		avg_plane(p, xa, xb, NULL, NULL, dout + pl * oplane, dinp + pl * plane);
}

void
maas_global_avgpool_forward(int n, int c, int hw, const float *inp, float *out)
{
	size_t		planes = (size_t) n * c;

	for (size_t pl = 0; pl < planes; pl++)
		out[pl] = (float) (sum_floats(hw, inp + pl * hw) / hw);
}

void
maas_global_avgpool_backward(int n, int c, int hw, const float *dout, float *dinp)
{
	size_t		planes = (size_t) n * c;

	for (size_t pl = 0; pl < planes; pl++)
	{
		float		v = dout[pl] / (float) hw;
		float	   *d = dinp + pl * hw;

		for (int i = 0; i < hw; i++)
			d[i] = v;
	}
}

/* ---- batch normalization ---- */

static bool
fits_float(double v)
{
	return isfinite(v) && fabs(v) <= FLT_MAX;
}

/* channel i's affine a, b, or an error */
static bool
bn_channel(int i, const float *bn_scale, const float *bn_bias, const float *mean,
		   const float *var, double eps, double *a, double *b, MaasError *err)
{
	double		d;

	if (!isfinite(bn_scale[i]) || !isfinite(bn_bias[i]) || !isfinite(mean[i]) ||
		!isfinite(var[i]))
		return maas_error(err, MAAS_ERR_INVALID,
						  "batch normalization parameters of channel \"%d\" are not finite", i);
	d = (double) var[i] + eps;
	if (!(d > 0.0))
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "batch normalization variance plus epsilon of channel \"%d\" is not positive", i);
		return maas_error_hint(err, "A running variance is never negative, and epsilon is positive.");
	}
	*a = (double) bn_scale[i] / sqrt(d);
	*b = (double) bn_bias[i] - (double) mean[i] * *a;
	if (!fits_float(*a) || !fits_float(*b))
		return maas_error(err, MAAS_ERR_INVALID,
						  "batch normalization of channel \"%d\" does not fit a float", i);
	return true;
}

bool
maas_bn_affine(int c, const float *bn_scale, const float *bn_bias,
			   const float *mean, const float *var, double eps,
			   float *out_a, float *out_b, MaasError *err)
{
	double		a,
				b;

	if (!isfinite(eps))
		return maas_error(err, MAAS_ERR_INVALID, "batch normalization epsilon is not finite");
	for (int i = 0; i < c; i++)
		if (!bn_channel(i, bn_scale, bn_bias, mean, var, eps, &a, &b, err))
			return false;
	for (int i = 0; i < c; i++)
	{
		bn_channel(i, bn_scale, bn_bias, mean, var, eps, &a, &b, NULL);
		out_a[i] = (float) a;
		out_b[i] = (float) b;
	}
	return true;
}

bool
maas_bn_fold(int c_out, size_t per, const float *weight, const float *bias,
			 const float *bn_scale, const float *bn_bias, const float *mean,
			 const float *var, double eps, float *w_out, float *b_out,
			 MaasError *err)
{
	double		a,
				b;

	if (!isfinite(eps))
		return maas_error(err, MAAS_ERR_INVALID, "batch normalization epsilon is not finite");
	/* first every check, so that nothing is written on an error */
	for (int i = 0; i < c_out; i++)
	{
		const float *w = weight + (size_t) i * per;

		if (!bn_channel(i, bn_scale, bn_bias, mean, var, eps, &a, &b, err))
			return false;
		if (bias && !fits_float((double) bias[i] * a + b))
			return maas_error(err, MAAS_ERR_INVALID,
							  "folding batch normalization into channel \"%d\" gives a bias that does not fit a float", i);
		for (size_t j = 0; j < per; j++)
			if (!fits_float((double) w[j] * a))
				return maas_error(err, MAAS_ERR_INVALID,
								  "folding batch normalization into channel \"%d\" gives a weight that does not fit a float", i);
	}
	for (int i = 0; i < c_out; i++)
	{
		const float *w = weight + (size_t) i * per;
		float	   *wo = w_out + (size_t) i * per;

		bn_channel(i, bn_scale, bn_bias, mean, var, eps, &a, &b, NULL);
		for (size_t j = 0; j < per; j++)
			wo[j] = (float) ((double) w[j] * a);
		b_out[i] = (float) ((bias ? (double) bias[i] * a : 0.0) + b);
	}
	return true;
}
