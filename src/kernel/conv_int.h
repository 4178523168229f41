/*
 * conv_int.h
 *		What the convolution and pooling files share (conv.c, conv_direct.c,
 *		pool.c): the SIMD clones, index ranges, size checks with their
 *		messages, and the direct algorithm's entry points.  Not for callers
 *		of the kernels: they include conv.h.
 */
#ifndef MAAS_CONV_INT_H
#define MAAS_CONV_INT_H

#include "conv.h"

#include <string.h>

/*
 * The inner loops are small static functions that the compiler
 * vectorises, compiled for AVX-512, AVX2 and baseline x86-64 and picked
 * at load time (target_clones), never with -march=native.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	!defined(__SANITIZE_ADDRESS__)
#define MAAS_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MAAS_SIMD
#endif

/*
 * The outputs o in [0, n_out) whose input index o * stride + off falls in
 * [0, n_in): [*lo, *hi), empty when *lo == *hi.
 */
static inline void
maas_conv_valid_range(int n_out, int n_in, int stride, int off, int *lo, int *hi)
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
maas_conv_sum_floats(size_t n, const float *v)
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


/* every plane of out (n, c, hw) set to bias[c], or zero */
static inline void
maas_conv_fill_bias(int n, int c, size_t hw, const float *bias, float *out)
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

/* the direct algorithm runs over flattened planes at stride 1 (see below) */
static inline bool
maas_conv_flat_direct(const MaasConv2d *p)
{
	return p->stride_h == 1 && p->stride_w == 1;
}

/* ---- checks, with the layer's name in their messages (conv.c) ---- */

/* v > 0, else "<layer> <what> "<v>" is not positive" */
extern bool maas_conv_positive(const char *layer, const char *what, int v,
							   MaasError *err);

/* no padding negative */
extern bool maas_conv_pads(const char *layer, int top, int left, int bottom,
						   int right, MaasError *err);

/* v fits an int, else MAAS_ERR_LIMIT naming what */
extern bool maas_conv_fits_int(const char *layer, const char *what, int64_t v,
							   MaasError *err);

/* a * b * c, saturating at INT64_MAX (operands positive) */
extern int64_t maas_conv_mul3(int64_t a, int64_t b, int64_t c);

/*
 * The output length along one axis, as torch and ONNX define it (ceil_mode
 * included), or an error when the padded input overflows an int or the
 * dilated kernel does not fit it
 */
extern bool maas_conv_axis_out(const char *layer, const char *axis, int in,
							   int pad_a, int pad_b, int k, int dil, int stride,
							   bool ceil_mode, int *out, MaasError *err);

/* ---- the direct algorithm (conv_direct.c) ---- */

/* as maas_conv2d_forward, for chosen == MAAS_CONV_DIRECT */
extern void maas_conv_direct_forward(const MaasConv2d *p, int n, const float *inp,
									 const float *weight, const float *bias,
									 float *out, float *scratch,
									 const MaasTick *tick);

/* as maas_conv2d_backward without dbias, for chosen == MAAS_CONV_DIRECT */
extern void maas_conv_direct_backward(const MaasConv2d *p, int n,
									  const float *dout, const float *inp,
									  const float *weight, float *dinp,
									  float *dweight, float *scratch,
									  const MaasTick *tick);

#endif							/* MAAS_CONV_INT_H */
