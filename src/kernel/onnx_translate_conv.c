/*
 * onnx_translate_conv.c
 *		The ONNX ops of CNNs in the translator: Conv, MaxPool, AveragePool,
 *		GlobalAveragePool and BatchNormalization.
 *
 * Images are NCHW in ONNX and in the runtime alike (an image row is [C, H,
 * W] row-major), so a convolution's weight [C_out, C_in / groups, kH, kW]
 * is used as it is.  Padding is explicit per side; auto_pad's SAME_UPPER
 * and SAME_LOWER are turned into it here, since every shape is known.  A
 * batch norm folds into the convolution or dense layer before it when that
 * layer has no other reader, else it is an affine layer (its scale and
 * shift broadcast over each channel).
 */
#include "onnx_translate_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* the spatial parameters of a Conv or a pool, checked */
typedef struct Window
{
	int64_t		kernel[2];
	int64_t		stride[2];
	int64_t		dilation[2];
	int64_t		pads[4];		/* top, left, bottom, right */
	bool		ceil_mode;
	int64_t		out[2];
} Window;

/* an image value [B, C, H, W] with known C, H, W */
static bool
image_of(Tx *tx, const TxVal *x, int64_t *c, int64_t *h, int64_t *w)
{
	char		s[128];

	if (x->ndim != 4 || x->seq)
		return tx_unsupported(tx, "\"%s\" of shape %s is not an image [batch, channels, height, width]%s",
							  x->name, tx_shape_str(x, s, sizeof(s)),
							  x->ndim == 3 || x->ndim == 5 ? ": maas convolves and pools 2-D images" : "");
	for (int d = 1; d < 4; d++)
		if (!tx_dim_known(x->dims[d]) || x->dims[d].k <= 0)
			return tx_unsupported(tx, "\"%s\" has a dimension not known at import", x->name);
	*c = x->dims[1].k;
	*h = x->dims[2].k;
	*w = x->dims[3].k;
	return true;
}

static bool
ints2(Tx *tx, const MaasOnnxNode *n, const char *name, int64_t def, int64_t *out, int want)
{
	int			count;
	const int64_t *v;

	if (!tx_attr_ints(tx, n, name, &count, &v))
		return false;
	if (count < 0)
	{
		for (int k = 0; k < want; k++)
			out[k] = def;
		return true;
	}
	if (count != want)
		return tx_unsupported(tx, "\"%s\" has %d values; maas translates 2-D %s (%d)",
							  name, count, n->op_type, want);
	for (int k = 0; k < want; k++)
		out[k] = v[k];
	return true;
}

static bool
window_of(Tx *tx, const MaasOnnxNode *n, int64_t h, int64_t w, const int64_t *kernel,
		  Window *win)
{
	const char *auto_pad;
	int64_t		ceil_mode = 0;
	int64_t		in[2] = {h, w};

	win->kernel[0] = kernel[0];
	win->kernel[1] = kernel[1];
	if (!ints2(tx, n, "strides", 1, win->stride, 2) ||
		!ints2(tx, n, "dilations", 1, win->dilation, 2) ||
		!ints2(tx, n, "pads", 0, win->pads, 4) ||
		!tx_attr_string(tx, n, "auto_pad", "NOTSET", &auto_pad))
		return false;
	if (maas_onnx_attr(n, "ceil_mode") != NULL && !tx_attr_int(tx, n, "ceil_mode", 0, &ceil_mode))
		return false;
	win->ceil_mode = ceil_mode != 0;
	for (int k = 0; k < 2; k++)
		if (win->kernel[k] <= 0 || win->stride[k] <= 0 || win->dilation[k] <= 0 ||
			win->kernel[k] > 65536 || win->stride[k] > 65536 || win->dilation[k] > 65536)
			return tx_invalid(tx, "kernel, strides and dilations must be positive");
	for (int k = 0; k < 4; k++)
		if (win->pads[k] < 0 || win->pads[k] > 65536)
			return tx_invalid(tx, "pads must be between 0 and 65536");
	if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0)
	{
		for (int k = 0; k < 2; k++)
		{
			int64_t		o = (in[k] + win->stride[k] - 1) / win->stride[k];
			int64_t		ext = (win->kernel[k] - 1) * win->dilation[k] + 1;
			int64_t		total = (o - 1) * win->stride[k] + ext - in[k];

			if (total < 0)
				total = 0;
			win->pads[k] = auto_pad[5] == 'U' ? total / 2 : total - total / 2;
			win->pads[k + 2] = total - win->pads[k];
		}
	}
	else if (strcmp(auto_pad, "VALID") == 0)
		memset(win->pads, 0, sizeof(win->pads));
	else if (strcmp(auto_pad, "NOTSET") != 0)
		return tx_unsupported(tx, "auto_pad \"%s\" is not supported", auto_pad);
	for (int k = 0; k < 2; k++)
	{
		int64_t		ext = (win->kernel[k] - 1) * win->dilation[k] + 1;
		int64_t		span = in[k] + win->pads[k] + win->pads[k + 2] - ext;

		if (span < 0)
			return tx_invalid(tx, "the window is larger than the padded image");
		win->out[k] = (win->ceil_mode ? (span + win->stride[k] - 1) / win->stride[k] :
					   span / win->stride[k]) + 1;
		/* a last window that starts in the padding does not count (ceil) */
		if (win->ceil_mode && (win->out[k] - 1) * win->stride[k] >= in[k] + win->pads[k])
			win->out[k]--;
	}
	return true;
}

static void
image_out(TxVal *out, const TxVal *x, int64_t c, int64_t h, int64_t w)
{
	out->kind = TX_RUN;
	out->dtype = x->dtype;
	out->ndim = 4;
	out->dims[0] = tx_dim_B;
	out->dims[1] = tx_dim(c);
	out->dims[2] = tx_dim(h);
	out->dims[3] = tx_dim(w);
	out->std = true;
	out->seq = false;
	out->layer = -1;
}

static bool
eval_conv(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		c,
				h,
				w,
				group;
	int64_t		kernel[2];
	Window		win;
	TxVal	   *wt = in[1];

	if (in[0]->kind != TX_RUN)
		return tx_unsupported(tx, "Conv of \"%s\", not a value computed at run time", in[0]->name);
	if (!image_of(tx, in[0], &c, &h, &w))
		return false;
	if (wt == NULL || wt->kind != TX_CONST || wt->ndim != 4 ||
		(in[2] != NULL && in[2]->kind != TX_CONST))
		return tx_unsupported(tx, "a Conv whose weight or bias is computed is not supported");
	if (!tx_attr_int(tx, n, "group", 1, &group))
		return false;
	if (group <= 0 || c % group != 0 || wt->dims[0].k % group != 0 ||
		wt->dims[1].k * group != c)
		return tx_invalid(tx, "the weight %" PRId64 "x%" PRId64 " does not fit %" PRId64 " channels in %" PRId64 " groups",
						  wt->dims[0].k, wt->dims[1].k, c, group);
	if (!ints2(tx, n, "kernel_shape", 0, kernel, 2))
		return false;
	if (maas_onnx_attr(n, "kernel_shape") == NULL)
	{
		kernel[0] = wt->dims[2].k;
		kernel[1] = wt->dims[3].k;
	}
	if (kernel[0] != wt->dims[2].k || kernel[1] != wt->dims[3].k)
		return tx_invalid(tx, "kernel_shape disagrees with the weight");
	if (!window_of(tx, n, h, w, kernel, &win))
		return false;
	image_out(out[0], in[0], wt->dims[0].k, win.out[0], win.out[1]);
	return true;
}

static bool
eval_pool(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		c,
				h,
				w;
	int64_t		kernel[2];
	Window		win;

	if (in[0]->kind != TX_RUN)
		return tx_unsupported(tx, "%s of \"%s\", not a value computed at run time",
							  n->op_type, in[0]->name);
	if (!image_of(tx, in[0], &c, &h, &w))
		return false;
	if (n->n_outputs > 1 && n->outputs[1][0] != '\0')
		return tx_unsupported(tx, "the indices output of MaxPool is not supported");
	if (strcmp(n->op_type, "GlobalAveragePool") == 0)
	{
		image_out(out[0], in[0], c, 1, 1);
		return true;
	}
	if (!ints2(tx, n, "kernel_shape", 0, kernel, 2))
		return false;
	if (maas_onnx_attr(n, "kernel_shape") == NULL)
		return tx_invalid(tx, "kernel_shape is missing");
	if (!window_of(tx, n, h, w, kernel, &win))
		return false;
	image_out(out[0], in[0], c, win.out[0], win.out[1]);
	return true;
}

static bool
lower_not_yet(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	(void) in;
	(void) out;
	return tx_unsupported(tx, "%s needs the runtime's convolution layers, which this build lacks",
						  n->op_type);
}

/* ----------------------------------------------------------------
 *		BatchNormalization
 * ----------------------------------------------------------------
 */

static bool
eval_batchnorm(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	int64_t		training = 0;
	int64_t		c;

	if (!tx_attr_int(tx, n, "training_mode", 0, &training))
		return false;
	if (training)
		return tx_unsupported(tx, "batch norm in training mode");
	for (int k = 1; k < 5; k++)
		if (in[k] == NULL || in[k]->kind != TX_CONST || in[k]->ndim != 1)
			return tx_unsupported(tx, "a batch norm whose statistics are not constants of one dimension");
	if (in[0]->kind != TX_RUN || in[0]->ndim < 2 || in[0]->seq)
		return tx_unsupported(tx, "a batch norm of \"%s\" is not supported", in[0]->name);
	c = in[0]->dims[1].k;
	for (int k = 1; k < 5; k++)
		if (in[k]->dims[0].k != c)
			return tx_invalid(tx, "the statistics have %" PRId64 " values for %" PRId64 " channels",
							  in[k]->dims[0].k, c);
	for (int k = 1; k < n->n_outputs; k++)
		if (n->outputs[k][0] != '\0')
			return tx_unsupported(tx, "the running statistics outputs of a batch norm");
	out[0]->kind = TX_RUN;
	out[0]->dtype = in[0]->dtype;
	out[0]->ndim = in[0]->ndim;
	memcpy(out[0]->dims, in[0]->dims, sizeof(TxDim) * (size_t) in[0]->ndim);
	out[0]->std = in[0]->std;
	out[0]->layer = -1;
	return true;
}

/*
 * y = (x - mean) / sqrt(var + eps) * gamma + beta per channel: scale s =
 * gamma / sqrt(var + eps), shift b = beta - mean * s, applied as an affine
 * layer over [C, spatial...] (each channel's value repeated), which the
 * layer before absorbs when it can.
 */
static bool
lower_batchnorm(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	double		eps;
	int64_t		c = in[0]->dims[1].k;
	const float *gamma,
			   *beta,
			   *mean,
			   *var;
	TxVal		scale,
				shift;
	int64_t		dims[TX_RANK];
	int			r = in[0]->ndim;

	if (!tx_attr_float(tx, n, "epsilon", 1e-5, &eps))
		return false;
	if ((gamma = tx_const_f(tx, in[1])) == NULL || (beta = tx_const_f(tx, in[2])) == NULL ||
		(mean = tx_const_f(tx, in[3])) == NULL || (var = tx_const_f(tx, in[4])) == NULL)
		return false;
	/* constants of shape [C, 1, 1...] to broadcast over the value */
	dims[0] = c;
	for (int d = 1; d < r - 1; d++)
		dims[d] = 1;
	memset(&scale, 0, sizeof(scale));
	memset(&shift, 0, sizeof(shift));
	if (!tx_make_const(tx, &scale, MAAS_ONNX_FLOAT, r - 1, dims) ||
		!tx_make_const(tx, &shift, MAAS_ONNX_FLOAT, r - 1, dims))
		return false;
	scale.name = in[1]->name;
	shift.name = in[2]->name;
	for (int64_t j = 0; j < c; j++)
	{
		double		s = (double) gamma[j] / sqrt((double) var[j] + eps);

		if (!((double) var[j] + eps > 0))
			return tx_invalid(tx, "the variance of channel %" PRId64 " plus epsilon is not positive", j);
		((float *) scale.f)[j] = (float) s;
		((float *) shift.f)[j] = (float) ((double) beta[j] - (double) mean[j] * s);
	}
	return tx_lower_affine(tx, in[0], &scale, &shift, out[0]);
}

static const char *const conv_attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
"pads", "strides", NULL};
static const char *const maxpool_attrs[] = {"auto_pad", "ceil_mode", "dilations",
"kernel_shape", "pads", "storage_order", "strides", NULL};
static const char *const avgpool_attrs[] = {"auto_pad", "ceil_mode", "count_include_pad",
"kernel_shape", "pads", "strides", NULL};
static const char *const no_attrs[] = {NULL};
static const char *const bn_attrs[] = {"epsilon", "momentum", "training_mode", "spatial", NULL};

const TxOp	tx_conv_ops[] = {
	{"Conv", conv_attrs, eval_conv, lower_not_yet, false},
	{"MaxPool", maxpool_attrs, eval_pool, lower_not_yet, false},
	{"AveragePool", avgpool_attrs, eval_pool, lower_not_yet, false},
	{"GlobalAveragePool", no_attrs, eval_pool, lower_not_yet, false},
	{"BatchNormalization", bn_attrs, eval_batchnorm, lower_batchnorm, false},
};

const int	tx_n_conv_ops = (int) (sizeof(tx_conv_ops) / sizeof(tx_conv_ops[0]));
