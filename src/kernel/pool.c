/*
 * pool.c
 *		Pooling kernels (see conv.h): max pooling with its argmax for
 *		backward, average pooling under both divisor rules, and global
 *		average pooling, forward and backward.
 *
 * Windows wholly inside the input (most of them) skip the bounds
 * arithmetic; the few at each border go through window_taps.  The common
 * 2x2, stride-2 max pooling has a branch-free row kernel.
 */
#include "conv_int.h"

#include <math.h>

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

	if (!maas_conv_positive(L, "channels", p->c, err) ||
		!maas_conv_positive(L, "input height", p->h, err) ||
		!maas_conv_positive(L, "input width", p->w, err) ||
		!maas_conv_positive(L, "kernel height", p->kh, err) ||
		!maas_conv_positive(L, "kernel width", p->kw, err) ||
		!maas_conv_positive(L, "stride", p->stride_h, err) ||
		!maas_conv_positive(L, "stride", p->stride_w, err) ||
		!maas_conv_positive(L, "dilation", p->dil_h, err) ||
		!maas_conv_positive(L, "dilation", p->dil_w, err) ||
		!maas_conv_pads(L, p->pad_top, p->pad_left, p->pad_bottom, p->pad_right, err))
		return false;
	if (!maas_conv_axis_out(L, "height", p->h, p->pad_top, p->pad_bottom, p->kh, p->dil_h,
				  p->stride_h, p->ceil_mode, &p->h_out, err) ||
		!maas_conv_axis_out(L, "width", p->w, p->pad_left, p->pad_right, p->kw, p->dil_w,
				  p->stride_w, p->ceil_mode, &p->w_out, err))
		return false;
	if (!maas_conv_fits_int(L, "input", maas_conv_mul3(p->c, p->h, p->w), err) ||
		!maas_conv_fits_int(L, "output", maas_conv_mul3(p->c, p->h_out, p->w_out), err))
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
		maas_conv_valid_range(n_out, (int) span, stride, -pad, lo, hi);
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
 * window_max.  am is NULL at inference.
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
		if (am)
			am[ox] = base + 2 * ox + k;
	}
}

/* b if it beats a (greater, or NaN), else a: the first max, NaN wins */
#define FIRST_MAX(a, b) ((b) > (a) || (b) != (b) ? (b) : (a))

/* floats of the column maxima a block of planes of plane_2x2 takes at most */
#define COLMAX_FLOATS 8192

/*
 * Inference (no argmax) of the 2x2, stride 2 pooling without padding or
 * ceil mode, the CNN's, for planes planes: the maxima of each column pair
 * of rows first (over whole rows, contiguous), then of each pair of those
 * (over whole blocks of planes: the output index j reads column maxima 2j
 * and 2j + 1, so the loop is flat).  Both loops vectorize; the per-row
 * path (max2x2_row) runs rows of 13 or 5 outputs in scalar code.  The
 * value is the general path's: the maximum, NaN if any tap is NaN; only
 * the sign of an equal zero and which NaN may differ, as the order of the
 * comparisons does.
 */
MAAS_SIMD static void
max2x2_planes(const MaasPool2d *p, size_t planes, const float *inp, float *out)
{
	int			wo2 = 2 * p->w_out;
	size_t		plane = (size_t) p->h * p->w;
	size_t		oplane = (size_t) p->h_out * p->w_out;
	size_t		block = COLMAX_FLOATS / (2 * oplane);
	float		colmax[COLMAX_FLOATS];

	for (size_t pl0 = 0; pl0 < planes; pl0 += block)
	{
		size_t		nb = planes - pl0 < block ? planes - pl0 : block;
		float	   *restrict cm = colmax;
		float	   *restrict o = out + pl0 * oplane;

		for (size_t pl = 0; pl < nb; pl++)
			for (int oy = 0; oy < p->h_out; oy++)
			{
				const float *restrict r0 = inp + (pl0 + pl) * plane + (size_t) 2 * oy * p->w;
				const float *restrict r1 = r0 + p->w;

				for (int i = 0; i < wo2; i++)
					cm[i] = FIRST_MAX(r0[i], r1[i]);
				cm += wo2;
			}
		for (size_t j = 0; j < nb * oplane; j++)
			o[j] = FIRST_MAX(colmax[2 * j], colmax[2 * j + 1]);
	}
}

/*
 * Training (with argmax) of the same 2x2, stride 2 pooling without padding
 * or ceil mode, one plane.  The winner of each horizontal pair first, for
 * both rows of every window (hm, hk: value and index in the plane), then
 * of each window's top and bottom pair.  That order gives window_max's
 * answer, argmax included (the first max in the order (0,0), (0,1), (1,0),
 * (1,1); NaN wins): the first max of a pair, then the top pair's unless
 * the bottom's is greater or NaN.  Rows are short (13 or 5 windows), so
 * both loops run flat over the plane, reading through index tables made
 * once a call (gathers; the pairs need none when the width is even),
 * rather than row by row, where the vector loop
 * never ran and the scalar tail branched on the data: a row kernel ran at
 * a sixth of the speed of the pooling without argmax.
 */
MAAS_SIMD static void
max2x2_argmax_plane(size_t oplane, int wo, const int32_t *restrict idx1,
					const int32_t *restrict idx2, const float *restrict in,
					float *restrict hm, int32_t *restrict hk,
					float *restrict out, int32_t *restrict am)
{
	if (idx1 == NULL)
		/* an even width: the pairs lie end to end, pair j at 2 j */
		for (size_t j = 0; j < 2 * oplane; j++)
		{
			float		a = in[2 * j],
						b = in[2 * j + 1];
			bool		right = (b > a) | (b != b);

			hm[j] = right ? b : a;
			hk[j] = (int32_t) (2 * j) + right;
		}
	else
		for (size_t j = 0; j < 2 * oplane; j++)
		{
			int32_t		i = idx1[j];
			float		a = in[i],
						b = in[i + 1];
			bool		right = (b > a) | (b != b);

			hm[j] = right ? b : a;
			hk[j] = right ? i + 1 : i;
		}
	for (size_t j = 0; j < oplane; j++)
	{
		int32_t		r = idx2[j];
		float		t = hm[r],
					d = hm[r + wo];
		int32_t		kt = hk[r],
					kd = hk[r + wo];
		int32_t		down = (d > t) | (d != d);

		out[j] = down ? d : t;
		am[j] = kt + down * (kd - kt);
	}
}

/* planes of max2x2_argmax_plane, with its tables and pairs on the stack */
static void
max2x2_argmax_planes(const MaasPool2d *p, size_t planes, const float *inp,
					 float *out, int32_t *argmax)
{
	size_t		plane = (size_t) p->h * p->w;
	size_t		oplane = (size_t) p->h_out * p->w_out;
	int			wo = p->w_out;
	int32_t		idx1[2 * COLMAX_FLOATS],
				idx2[COLMAX_FLOATS],
				hk[2 * COLMAX_FLOATS];
	float		hm[2 * COLMAX_FLOATS];

	/* pair j: row j / wo of the plane's first 2 h_out, its pair j % wo */
	for (size_t j = 0; j < 2 * oplane; j++)
		idx1[j] = (int32_t) ((j / wo) * p->w + 2 * (j % wo));
	/* window j: the top pair of the pairs of rows 2 (j / wo), 2 (j / wo) + 1 */
	for (size_t j = 0; j < oplane; j++)
		idx2[j] = (int32_t) (2 * (j / wo) * wo + j % wo);
	for (size_t pl = 0; pl < planes; pl++)
		max2x2_argmax_plane(oplane, wo, p->w == 2 * wo ? NULL : idx1, idx2,
							inp + pl * plane, hm, hk,
							out + pl * oplane, argmax + pl * oplane);
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

	if (argmax == NULL && two && p->kh == 2 && p->stride_h == 2 &&
		p->pad_top == 0 && p->pad_left == 0 && p->pad_bottom == 0 && p->pad_right == 0 &&
		p->h_out == p->h / 2 && p->w_out == p->w / 2 && 2 * oplane <= COLMAX_FLOATS)
	{
		max2x2_planes(p, planes, inp, out);
		return;
	}
	if (argmax != NULL && two && p->kh == 2 && p->stride_h == 2 &&
		p->pad_top == 0 && p->pad_left == 0 && p->pad_bottom == 0 && p->pad_right == 0 &&
		p->h_out == p->h / 2 && p->w_out == p->w / 2 && oplane <= COLMAX_FLOATS)
	{
		max2x2_argmax_planes(p, planes, inp, out, argmax);
		return;
	}
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
			if (two && i0 == 0 && i1 == 2)
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
		out[pl] = (float) (maas_conv_sum_floats(hw, inp + pl * hw) / hw);
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

