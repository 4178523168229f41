/*
 * conv_direct.c
 *		The direct convolution algorithm (see conv.c for when it is chosen):
 *		for every (output channel, input channel, tap), a multiply-add of
 *		the shifted input plane into the output plane.  At stride 1 over
 *		flattened planes, one long loop a tap; at other strides row by row.
 */
#include "conv_int.h"

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

		maas_conv_valid_range(p->h_out, p->h, p->stride_h, yoff, &ylo, &yhi);
		for (int kj = 0; kj < p->kw; kj++)
		{
			int			xoff = kj * p->dil_w - p->pad_left;
			int			xlo,
						xhi;
			float		wv = wk[ki * p->kw + kj];

			maas_conv_valid_range(w_out, p->w, sw, xoff, &xlo, &xhi);
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

		maas_conv_valid_range(p->h_out, p->h, p->stride_h, yoff, &ylo, &yhi);
		for (int kj = 0; kj < p->kw; kj++)
		{
			int			xoff = kj * p->dil_w - p->pad_left;
			int			xlo,
						xhi;
			float		wv = wk[ki * p->kw + kj];
			float		acc[16] = {0};
			float		sum = 0.0f;

			maas_conv_valid_range(w_out, p->w, sw, xoff, &xlo, &xhi);
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
		maas_conv_fill_bias(1, p->c_out, hw, bias, out + (size_t) b * p->c_out * hw);
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


void
maas_conv_direct_forward(const MaasConv2d *p, int n, const float *inp,
						 const float *weight, const float *bias, float *out,
						 float *scratch, const MaasTick *tick)
{
	if (maas_conv_flat_direct(p))
		forward_flat(p, n, inp, weight, bias, out, scratch, tick);
	else
		forward_direct(p, n, inp, weight, bias, out, tick);
}

void
maas_conv_direct_backward(const MaasConv2d *p, int n, const float *dout,
						  const float *inp, const float *weight, float *dinp,
						  float *dweight, float *scratch, const MaasTick *tick)
{
	memset(dweight, 0, sizeof(float) * maas_conv2d_weights(p));
	if (dinp)
		memset(dinp, 0, sizeof(float) * maas_conv2d_in_size(p) * n);
	if (maas_conv_flat_direct(p))
		backward_flat(p, n, dout, inp, weight, dinp, dweight, scratch, tick);
	else
		backward_direct(p, n, dout, inp, weight, dinp, dweight, tick);
}
