/*
 * pool_nhwc.c
 *		The image kernels of the NHWC layout the layer runtime keeps between
 *		convolutions (net.c, "Layouts"): max pooling from NHWC rows to NHWC
 *		or NCHW rows, and the transposes between the two layouts.
 *
 * In NHWC a row's values are (h, w, c), the channels of a pixel side by
 * side, as oneDNN's fast convolutions read and write them; a pooling
 * window is then a max over whole vectors of channels, with no shuffle,
 * where in NCHW (c, h, w) the 2x2 pooling of a 26-wide map reads pairs of
 * neighbours and keeps every other maximum.  The value of each output is
 * the NCHW kernel's (pool.c): the taps in the same order, the first
 * maximum, NaN wins.
 */
#include "conv_int.h"

/* b if it beats a (greater, or NaN), else a: the first max, NaN wins */
#define FIRST_MAX(a, b) ((b) > (a) || (b) != (b) ? (b) : (a))

/* the channels a block of the output pixel loop works on at once */
#define CH_BLOCK 256

/*
 * The taps of a window along one axis that fall inside [0, n): [*j0, *j1)
 * (pool.c's window_taps, for the positions of start + j * dil)
 */
static inline void
taps(int64_t start, int k, int dil, int n, int *j0, int *j1)
{
	int			a = 0,
				b = 0;

	for (int j = 0; j < k; j++)
	{
		int64_t		at = start + (int64_t) j * dil;

		if (at < 0)
			a = j + 1;
		else if (at < n)
			b = j + 1;
	}
	*j0 = a;
	*j1 = b > a ? b : a;
}

/* the 2x2, stride 2 windows without padding: four vectors a pixel */
MAAS_SIMD static void
max2x2_nhwc(const MaasPool2d *p, const float *restrict in, float *restrict o,
			bool out_nhwc)
{
	int			c = p->c;
	size_t		oplane = (size_t) p->h_out * p->w_out;

	for (int oy = 0; oy < p->h_out; oy++)
		for (int ox = 0; ox < p->w_out; ox++)
		{
			const float *restrict a = in + ((size_t) 2 * oy * p->w + 2 * ox) * c;
			const float *restrict b = a + c;
			const float *restrict d = a + (size_t) p->w * c;
			const float *restrict e = d + c;
			size_t		pix = (size_t) oy * p->w_out + ox;

			if (out_nhwc)
			{
				float	   *restrict t = o + pix * c;

				for (int ch = 0; ch < c; ch++)
				{
					float		m = FIRST_MAX(a[ch], b[ch]);

					m = FIRST_MAX(m, d[ch]);
					t[ch] = FIRST_MAX(m, e[ch]);
				}
			}
			else
				for (int ch = 0; ch < c; ch++)
				{
					float		m = FIRST_MAX(a[ch], b[ch]);

					m = FIRST_MAX(m, d[ch]);
					o[ch * oplane + pix] = FIRST_MAX(m, e[ch]);
				}
		}
}

/* any window: the taps inside the input, a block of channels at a time */
MAAS_SIMD static void
max_any_nhwc(const MaasPool2d *p, const float *restrict in, float *restrict o,
			 bool out_nhwc)
{
	int			c = p->c;
	size_t		oplane = (size_t) p->h_out * p->w_out;
	float		m[CH_BLOCK];

	for (int oy = 0; oy < p->h_out; oy++)
	{
		int			i0,
					i1;
		int64_t		ys = (int64_t) oy * p->stride_h - p->pad_top;

		taps(ys, p->kh, p->dil_h, p->h, &i0, &i1);
		for (int ox = 0; ox < p->w_out; ox++)
		{
			int			j0,
						j1;
			int64_t		xs = (int64_t) ox * p->stride_w - p->pad_left;
			size_t		pix = (size_t) oy * p->w_out + ox;

			taps(xs, p->kw, p->dil_w, p->w, &j0, &j1);
			for (int c0 = 0; c0 < c; c0 += CH_BLOCK)
			{
				int			nc = c - c0 < CH_BLOCK ? c - c0 : CH_BLOCK;
				bool		first = true;

				/* maas_pool2d_check: every window covers some input */
				for (int i = i0; i < i1; i++)
					for (int j = j0; j < j1; j++)
					{
						const float *restrict v = in +
							((size_t) (ys + (int64_t) i * p->dil_h) * p->w +
							 (size_t) (xs + (int64_t) j * p->dil_w)) * c + c0;

						if (first)
							for (int ch = 0; ch < nc; ch++)
								m[ch] = v[ch];
						else
							for (int ch = 0; ch < nc; ch++)
								m[ch] = FIRST_MAX(m[ch], v[ch]);
						first = false;
					}
				if (out_nhwc)
					for (int ch = 0; ch < nc; ch++)
						o[pix * c + c0 + ch] = m[ch];
				else
					for (int ch = 0; ch < nc; ch++)
						o[(size_t) (c0 + ch) * oplane + pix] = m[ch];
			}
		}
	}
}

void
maas_maxpool2d_nhwc(const MaasPool2d *p, int n, const float *inp, float *out,
					bool out_nhwc)
{
	size_t		in_row = (size_t) p->c * p->h * p->w;
	size_t		out_row = (size_t) p->c * p->h_out * p->w_out;
	bool		two = p->kh == 2 && p->kw == 2 && p->stride_h == 2 && p->stride_w == 2 &&
		p->dil_h == 1 && p->dil_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
		p->h_out == p->h / 2 && p->w_out == p->w / 2;

	for (int r = 0; r < n; r++)
	{
		if (two)
			max2x2_nhwc(p, inp + r * in_row, out + r * out_row, out_nhwc);
		else
			max_any_nhwc(p, inp + r * in_row, out + r * out_row, out_nhwc);
	}
}

/* one row (c, hw) to (hw, c), in blocks of pixels that stay in the cache */
MAAS_SIMD static void
to_nhwc_row(int c, size_t hw, const float *restrict in, float *restrict out)
{
	for (size_t p0 = 0; p0 < hw; p0 += 16)
	{
		size_t		np = hw - p0 < 16 ? hw - p0 : 16;

		for (int ch = 0; ch < c; ch++)
			for (size_t q = 0; q < np; q++)
				out[(p0 + q) * c + ch] = in[(size_t) ch * hw + p0 + q];
	}
}

MAAS_SIMD static void
to_nchw_row(int c, size_t hw, const float *restrict in, float *restrict out)
{
	for (size_t p0 = 0; p0 < hw; p0 += 16)
	{
		size_t		np = hw - p0 < 16 ? hw - p0 : 16;

		for (int ch = 0; ch < c; ch++)
			for (size_t q = 0; q < np; q++)
				out[(size_t) ch * hw + p0 + q] = in[(p0 + q) * c + ch];
	}
}

void
maas_image_to_nhwc(int n, int c, int h, int w, const float *in, float *out)
{
	size_t		hw = (size_t) h * w,
				row = hw * c;

	for (int r = 0; r < n; r++)
		to_nhwc_row(c, hw, in + r * row, out + r * row);
}

void
maas_image_to_nchw(int n, int c, int h, int w, const float *in, float *out)
{
	size_t		hw = (size_t) h * w,
				row = hw * c;

	for (int r = 0; r < n; r++)
		to_nchw_row(c, hw, in + r * row, out + r * row);
}
