/*
 * conv_bn.c
 *		Batch normalization at inference as a per-channel affine, and folded
 *		into the convolution or dense layer before it (see conv.h), in double.
 */
#include "conv.h"

#include <float.h>
#include <math.h>

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
