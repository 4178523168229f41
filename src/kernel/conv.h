/*
 * conv.h
 *		Convolution, pooling and batch-norm folding kernels, forward and
 *		backward, over NCHW float32 images.
 *
 * Layout, as torch and ONNX: an image row is [C, H, W] row-major, a batch
 * of n rows [n, C, H, W] back to back; a convolution weight is [c_out,
 * c_in / groups, kh, kw], its bias [c_out].  Each layer is a *_forward /
 * *_backward pair over plain arrays, shapes in the comment above it, as
 * in llm.c.
 *
 * A layer is described by a parameter struct that its checker validates
 * once and completes (output size, chosen algorithm); the forward and
 * backward functions then trust it and cannot fail.  Scratch space is the
 * caller's, sized by maas_conv2d_scratch().  GEMMs go through MaasBlas.
 *
 * What backward needs from forward: the convolution backward takes the
 * layer's forward input again (it rebuilds its im2col columns from it
 * rather than keeping them, which costs about 1% of the GEMMs and saves
 * c_in * kh * kw * h_out * w_out floats a row); max pooling keeps one
 * int32 argmax index per output value; average pooling and global average
 * pooling need nothing.  Backward overwrites its outputs (dinp, dweight,
 * dbias): gradients are summed over the n rows of the call, not added to
 * what was there.
 *
 * A residual add is elementwise and belongs to the runtime, as do the
 * activations; no kernel here.
 */
#ifndef MAAS_CONV_H
#define MAAS_CONV_H

#include "blas.h"
#include "kernel.h"

/* how a convolution is computed */
typedef enum MaasConvAlgo
{
	MAAS_CONV_AUTO = 0,			/* let maas_conv2d_check pick (see conv.c) */
	MAAS_CONV_IM2COL,			/* im2col of a chunk of rows, then sgemm: any shape */
	MAAS_CONV_GEMM,				/* 1x1, stride 1, no padding: sgemm on the
								 * input as it lies, no im2col; AUTO's pick
								 * for those */
	MAAS_CONV_DIRECT			/* loops over the taps: any shape; AUTO's pick
								 * for depthwise convolutions */
} MaasConvAlgo;

/*
 * A 2-D convolution.  Padding is given per side so that ONNX's explicit
 * pads (top, left, bottom, right = pads[0], pads[1], pads[2], pads[3]) and
 * torch's symmetric padding both map onto it.  maas_conv2d_init() sets the
 * defaults (stride 1, dilation 1, no padding, one group, algo AUTO).
 */
typedef struct MaasConv2d
{
	int			c_in,
				h,
				w;				/* input [c_in, h, w] */
	int			c_out;
	int			kh,
				kw;
	int			stride_h,
				stride_w;
	int			pad_top,
				pad_left,
				pad_bottom,
				pad_right;
	int			dil_h,
				dil_w;
	int			groups;			/* divides c_in and c_out */
	MaasConvAlgo algo;			/* requested; AUTO by default */
	/* set by maas_conv2d_check */
	int			h_out,
				w_out;
	MaasConvAlgo chosen;		/* what forward and backward run */
} MaasConv2d;

extern void maas_conv2d_init(MaasConv2d *p, int c_in, int h, int w,
							 int c_out, int kh, int kw);

/*
 * Validate p and fill in h_out, w_out and chosen.  Refuses (MAAS_ERR_INVALID)
 * sizes that are zero or negative, negative padding, groups that do not
 * divide the channels, a dilated kernel larger than the padded input; and
 * (MAAS_ERR_LIMIT) any per-row size that overflows int: the padded input
 * height and width, the input, output and weight element counts, and for
 * MAAS_CONV_IM2COL the im2col columns of one row (AUTO takes the direct
 * algorithm then).  A request for MAAS_CONV_GEMM on a shape it cannot do is
 * refused (MAAS_ERR_INVALID).
 */
extern bool maas_conv2d_check(MaasConv2d *p, MaasError *err);

/* weights: c_out * (c_in / groups) * kh * kw */
extern size_t maas_conv2d_weights(const MaasConv2d *p);

/* floats one row of input and of output hold */
static inline size_t
maas_conv2d_in_size(const MaasConv2d *p)
{
	return (size_t) p->c_in * p->h * p->w;
}

static inline size_t
maas_conv2d_out_size(const MaasConv2d *p)
{
	return (size_t) p->c_out * p->h_out * p->w_out;
}

/*
 * Multiply-adds of one row's forward pass (the backward pass costs twice
 * that with dinp, once without)
 */
extern double maas_conv2d_macs(const MaasConv2d *p);

/*
 * Floats of scratch that forward and backward need for up to n rows a call
 * (the same for both).  Bounded for any n: im2col works on chunks of rows
 * (the columns and the GEMM's output of one chunk), direct at stride 1 on
 * one row at a time (an output plane, and with padding two padded copies
 * of the row's input); direct at other strides and GEMM need none.  False
 * on overflow.
 */
extern bool maas_conv2d_scratch(const MaasConv2d *p, int n, size_t *floats);

/*
 * inp (n, c_in, h, w), weight (c_out, c_in/groups, kh, kw), bias (c_out)
 * or NULL -> out (n, c_out, h_out, w_out).  scratch as sized above.  tick
 * (may be NULL) is called between chunks of rows.
 */
extern void maas_conv2d_forward(const MaasConv2d *p, const MaasBlas *blas,
								int n, const float *inp, const float *weight,
								const float *bias, float *out, float *scratch,
								const MaasTick *tick);

/*
 * The same with relu: out = max(conv, 0) as the runtime's relu layer
 * computes it (NaN becomes 0), applied as the rows are written (im2col)
 * or in one pass after (the other algorithms).
 */
extern void maas_conv2d_forward_act(const MaasConv2d *p, const MaasBlas *blas,
									int n, const float *inp, const float *weight,
									const float *bias, bool relu, float *out,
									float *scratch, const MaasTick *tick);

/*
 * dout (n, c_out, h_out, w_out), inp (n, c_in, h, w) the forward input,
 * weight as forward -> dinp (n, c_in, h, w) or NULL when not wanted (the
 * first layer), dweight (as weight), dbias (c_out) or NULL.  Any groups.
 */
extern void maas_conv2d_backward(const MaasConv2d *p, const MaasBlas *blas,
								 int n, const float *dout, const float *inp,
								 const float *weight, float *dinp,
								 float *dweight, float *dbias, float *scratch,
								 const MaasTick *tick);

/* ---- pooling ---- */

/*
 * Max or average pooling over each channel.  ceil_mode as torch and ONNX
 * define it: the output size is rounded up, but a last window that would
 * start in the bottom or right padding is dropped.  count_include_pad
 * (average only): divide by the taps inside the padded input (torch's and
 * ONNX's rule, so a window hanging past the padding in ceil mode counts
 * only what lies inside it), else by the taps inside the input.
 * maas_pool2d_init() sets stride = kernel, no padding, dilation 1.
 */
typedef struct MaasPool2d
{
	int			c,
				h,
				w;				/* input [c, h, w] */
	int			kh,
				kw;
	int			stride_h,
				stride_w;
	int			pad_top,
				pad_left,
				pad_bottom,
				pad_right;
	int			dil_h,
				dil_w;
	bool		ceil_mode;
	bool		count_include_pad;
	/* set by maas_pool2d_check */
	int			h_out,
				w_out;
} MaasPool2d;

extern void maas_pool2d_init(MaasPool2d *p, int c, int h, int w, int kh, int kw);

/*
 * Validate p and fill in h_out and w_out.  Besides sizes that are zero,
 * negative or overflow int, it refuses a shape with a window that covers
 * no input value at all (possible with large padding or dilation), whose
 * maximum or average would be undefined.
 */
extern bool maas_pool2d_check(MaasPool2d *p, MaasError *err);

static inline size_t
maas_pool2d_out_size(const MaasPool2d *p)
{
	return (size_t) p->c * p->h_out * p->w_out;
}

/*
 * inp (n, c, h, w) -> out (n, c, h_out, w_out), and argmax (n, c, h_out,
 * w_out) the index in its channel's h * w plane of the value taken (the
 * first of equal maxima; a NaN wins), or argmax NULL at inference.
 */
extern void maas_maxpool2d_forward(const MaasPool2d *p, int n,
								   const float *inp, float *out,
								   int32_t *argmax);

/* dout (n, c, h_out, w_out), argmax from forward -> dinp (n, c, h, w) */
extern void maas_maxpool2d_backward(const MaasPool2d *p, int n,
									const float *dout, const int32_t *argmax,
									float *dinp);

/* inp (n, c, h, w) -> out (n, c, h_out, w_out) */
extern void maas_avgpool2d_forward(const MaasPool2d *p, int n,
								   const float *inp, float *out);

/*
 * The NHWC layout (pool_nhwc.c): a row as (h, w, c).  Max pooling at
 * inference from NHWC rows inp (n, h, w, c) to out in NHWC (n, h_out,
 * w_out, c) or, out_nhwc false, NCHW; the values maas_maxpool2d_forward
 * gives.  And the transposes of n rows between (c, h, w) and (h, w, c);
 * in and out apart.
 */
extern void maas_maxpool2d_nhwc(const MaasPool2d *p, int n, const float *inp,
								float *out, bool out_nhwc);
extern void maas_image_to_nhwc(int n, int c, int h, int w, const float *in,
							   float *out);
extern void maas_image_to_nchw(int n, int c, int h, int w, const float *in,
							   float *out);

/* dout (n, c, h_out, w_out) -> dinp (n, c, h, w) */
extern void maas_avgpool2d_backward(const MaasPool2d *p, int n,
									const float *dout, float *dinp);

/* inp (n, c, hw) -> out (n, c): the mean of each channel; hw > 0 */
extern void maas_global_avgpool_forward(int n, int c, int hw,
										const float *inp, float *out);

/* dout (n, c) -> dinp (n, c, hw) */
extern void maas_global_avgpool_backward(int n, int c, int hw,
										 const float *dout, float *dinp);

/* ---- batch normalization ---- */

/*
 * BatchNormalization at inference, y = bn_scale * (x - mean) / sqrt(var +
 * eps) + bn_bias per channel, as the per-channel affine y = x * a + b
 * (out_a, out_b: c floats each).  Computed in double.  Refuses
 * (MAAS_ERR_INVALID) a non-finite parameter, var + eps not positive, or a
 * result that does not fit a float, naming the channel; writes nothing
 * then.
 */
extern bool maas_bn_affine(int c, const float *bn_scale, const float *bn_bias,
						   const float *mean, const float *var, double eps,
						   float *out_a, float *out_b, MaasError *err);

/*
 * Fold a BatchNormalization into the conv or dense layer before it:
 * weight [c_out, per] (conv: per = c_in / groups * kh * kw; dense: per =
 * n_in) and bias [c_out] (NULL: zero) become w_out and b_out, which may be
 * the same arrays as weight and bias.  Computed in double; the same
 * refusals as maas_bn_affine, plus a folded weight that does not fit a
 * float.  Nothing is written unless everything succeeds.
 */
extern bool maas_bn_fold(int c_out, size_t per, const float *weight,
						 const float *bias, const float *bn_scale,
						 const float *bn_bias, const float *mean,
						 const float *var, double eps, float *w_out,
						 float *b_out, MaasError *err);

#endif							/* MAAS_CONV_H */
