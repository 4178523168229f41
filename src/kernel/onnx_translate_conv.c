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
#include "conv.h"

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

/* the runtime's geometry of a Conv node, checked by the kernel itself */
static bool
conv_geometry(Tx *tx, const MaasOnnxNode *n, TxVal **in, MaasConv2d *geom)
{
	int64_t		c,
				h,
				w,
				group;
	int64_t		kernel[2];
	Window		win;
	TxVal	   *wt = in[1];
	MaasError	kerr;

	if (in[0]->kind != TX_RUN)
		return tx_unsupported(tx, "Conv of \"%s\", not a value computed at run time", in[0]->name);
	if (!image_of(tx, in[0], &c, &h, &w))
		return false;
	if (wt->kind != TX_CONST || wt->ndim != 4 || (in[2] != NULL && in[2]->kind != TX_CONST))
		return tx_unsupported(tx, "a Conv whose weight or bias is computed is not supported");
	if (!tx_attr_int(tx, n, "group", 1, &group))
		return false;
	for (int d = 0; d < 4; d++)
		if (wt->dims[d].k <= 0 || wt->dims[d].k > 65536)
			return tx_invalid(tx, "the weight \"%s\" has a dimension of %" PRId64,
							  wt->name, wt->dims[d].k);
	if (group <= 0 || group > c || c % group != 0 || wt->dims[0].k % group != 0 ||
		wt->dims[1].k * group != c)
		return tx_invalid(tx, "the weight %" PRId64 "x%" PRId64 " does not fit %" PRId64 " channels in %" PRId64 " groups",
						  wt->dims[0].k, wt->dims[1].k, c, group);
	if (in[2] != NULL && (in[2]->ndim != 1 || in[2]->dims[0].k != wt->dims[0].k))
		return tx_invalid(tx, "the bias \"%s\" does not have %" PRId64 " values",
						  in[2]->name, wt->dims[0].k);
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
	if (c > INT32_MAX || h > INT32_MAX || w > INT32_MAX)
		return tx_unsupported(tx, "the image is larger than maas convolves");
	maas_conv2d_init(geom, (int) c, (int) h, (int) w, (int) wt->dims[0].k,
					 (int) kernel[0], (int) kernel[1]);
	geom->stride_h = (int) win.stride[0];
	geom->stride_w = (int) win.stride[1];
	geom->dil_h = (int) win.dilation[0];
	geom->dil_w = (int) win.dilation[1];
	geom->pad_top = (int) win.pads[0];
	geom->pad_left = (int) win.pads[1];
	geom->pad_bottom = (int) win.pads[2];
	geom->pad_right = (int) win.pads[3];
	geom->groups = (int) group;
	if (!maas_conv2d_check(geom, &kerr))
		return tx_fail(tx, kerr.status == MAAS_ERR_LIMIT ? MAAS_ERR_UNSUPPORTED : MAAS_ERR_INVALID,
					   "%s", kerr.msg);
	if (geom->h_out != win.out[0] || geom->w_out != win.out[1])
		return tx_unsupported(tx, "the convolution's output %" PRId64 "x%" PRId64 " is not the runtime's %dx%d",
							  win.out[0], win.out[1], geom->h_out, geom->w_out);
	return true;
}

/* the runtime's geometry of a pooling node */
static bool
pool_geometry(Tx *tx, const MaasOnnxNode *n, TxVal **in, MaasPool2d *geom)
{
	int64_t		c,
				h,
				w;
	int64_t		kernel[2];
	int64_t		include_pad = 0,
				storage = 0;
	Window		win;
	MaasError	kerr;

	if (in[0]->kind != TX_RUN)
		return tx_unsupported(tx, "%s of \"%s\", not a value computed at run time",
							  n->op_type, in[0]->name);
	if (!image_of(tx, in[0], &c, &h, &w))
		return false;
	if (n->n_outputs > 1 && n->outputs[1][0] != '\0')
		return tx_unsupported(tx, "the indices output of MaxPool is not supported");
	if (c > INT32_MAX || h > INT32_MAX || w > INT32_MAX)
		return tx_unsupported(tx, "the image is larger than maas pools");
	if (strcmp(n->op_type, "GlobalAveragePool") == 0)
	{
		maas_pool2d_init(geom, (int) c, (int) h, (int) w, (int) h, (int) w);
		geom->h_out = geom->w_out = 1;
		return true;
	}
	if (!ints2(tx, n, "kernel_shape", 0, kernel, 2))
		return false;
	if (maas_onnx_attr(n, "kernel_shape") == NULL)
		return tx_invalid(tx, "kernel_shape is missing");
	if (!tx_attr_int(tx, n, "storage_order", 0, &storage) ||
		!tx_attr_int(tx, n, "count_include_pad", 0, &include_pad))
		return false;
	if (storage != 0)
		return tx_unsupported(tx, "storage_order %" PRId64 " is not supported", storage);
	if (!window_of(tx, n, h, w, kernel, &win))
		return false;
	maas_pool2d_init(geom, (int) c, (int) h, (int) w, (int) kernel[0], (int) kernel[1]);
	geom->stride_h = (int) win.stride[0];
	geom->stride_w = (int) win.stride[1];
	geom->dil_h = (int) win.dilation[0];
	geom->dil_w = (int) win.dilation[1];
	geom->pad_top = (int) win.pads[0];
	geom->pad_left = (int) win.pads[1];
	geom->pad_bottom = (int) win.pads[2];
	geom->pad_right = (int) win.pads[3];
	geom->ceil_mode = win.ceil_mode;
	geom->count_include_pad = include_pad != 0;
	if (!maas_pool2d_check(geom, &kerr))
		return tx_fail(tx, kerr.status == MAAS_ERR_LIMIT ? MAAS_ERR_UNSUPPORTED : MAAS_ERR_INVALID,
					   "%s", kerr.msg);
	if (geom->h_out != win.out[0] || geom->w_out != win.out[1])
		return tx_unsupported(tx, "the pooling's output %" PRId64 "x%" PRId64 " is not the runtime's %dx%d",
							  win.out[0], win.out[1], geom->h_out, geom->w_out);
	return true;
}

static bool
eval_conv(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	MaasConv2d	geom;

	if (!conv_geometry(tx, n, in, &geom))
		return false;
	image_out(out[0], in[0], geom.c_out, geom.h_out, geom.w_out);
	return true;
}

static bool
eval_pool(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	MaasPool2d	geom;

	if (!pool_geometry(tx, n, in, &geom))
		return false;
	image_out(out[0], in[0], geom.c, geom.h_out, geom.w_out);
	return true;
}

/*
 * The program value x lies in must be an image of x's shape to the
 * runtime: the net's image input, or what an image layer (or a layer that
 * keeps its input's view) wrote.  A vector reshaped into an image is not.
 */
static bool
require_image(Tx *tx, const TxVal *x)
{
	int			c,
				h,
				w;

	if (!tx_require_std(tx, x, "the input"))
		return false;
	if (x->layer == 0)
	{
		c = tx->in_c;
		h = tx->in_h;
		w = tx->in_w;
	}
	else
	{
		const TxLayer *l = tx_layer_of(tx, x->layer);

		c = l->c;
		h = l->h;
		w = l->w;
	}
	if (c != x->dims[1].k || h != x->dims[2].k || w != x->dims[3].k)
		return tx_unsupported(tx, "\"%s\" is a vector reshaped into an image, which maas does not convolve or pool",
							  x->name);
	return true;
}

static void
layer_image(TxLayer *l, int c, int h, int w)
{
	l->c = c;
	l->h = h;
	l->w = w;
	l->width = (int64_t) c * h * w;
	l->seq = false;
}

static bool
key_pads(Tx *tx, TxLayer *l, int top, int left, int bottom, int right)
{
	int64_t		pads[4] = {top, left, bottom, right};

	return tx_key_ints(tx, l, "padding", pads, 4);
}

static bool
key_pair(Tx *tx, TxLayer *l, const char *key, int a, int b)
{
	int64_t		v[2] = {a, b};

	return tx_key_ints(tx, l, key, v, 2);
}

static bool
lower_conv(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	MaasConv2d	geom;
	TxLayer    *l;
	int			weight,
				bias = -1;

	if (!conv_geometry(tx, n, in, &geom) || !require_image(tx, in[0]))
		return false;
	if ((weight = tx_tensor_const(tx, tx_val_id(tx, in[1]), NULL)) < 0)
		return false;
	if (in[2] != NULL && (bias = tx_tensor_const(tx, tx_val_id(tx, in[2]), NULL)) < 0)
		return false;
	if ((l = tx_layer(tx, "conv2d", 1, &in[0]->layer)) == NULL ||
		!tx_key_tensor(tx, l, "weight", weight) ||
		(bias >= 0 && !tx_key_tensor(tx, l, "bias", bias)) ||
		!key_pair(tx, l, "stride", geom.stride_h, geom.stride_w) ||
		!key_pads(tx, l, geom.pad_top, geom.pad_left, geom.pad_bottom, geom.pad_right) ||
		!key_pair(tx, l, "dilation", geom.dil_h, geom.dil_w) ||
		(geom.groups != 1 && !tx_key_int(tx, l, "groups", geom.groups)))
		return false;
	layer_image(l, geom.c_out, geom.h_out, geom.w_out);
	l->name = out[0]->name;
	tx_set_output(tx, out[0], l);
	return true;
}

static bool
lower_pool(Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out)
{
	MaasPool2d	geom;
	TxLayer    *l;
	bool		global = strcmp(n->op_type, "GlobalAveragePool") == 0;
	bool		average = strcmp(n->op_type, "AveragePool") == 0;

	if (!pool_geometry(tx, n, in, &geom) || !require_image(tx, in[0]))
		return false;
	l = tx_layer(tx, global ? "global_avgpool" : average ? "avgpool2d" : "maxpool2d",
				 1, &in[0]->layer);
	if (l == NULL)
		return false;
	if (!global &&
		(!key_pair(tx, l, "kernel", geom.kh, geom.kw) ||
		 !key_pair(tx, l, "stride", geom.stride_h, geom.stride_w) ||
		 !key_pads(tx, l, geom.pad_top, geom.pad_left, geom.pad_bottom, geom.pad_right) ||
		 (!average && !key_pair(tx, l, "dilation", geom.dil_h, geom.dil_w)) ||
		 !tx_key_bool(tx, l, "ceil_mode", geom.ceil_mode) ||
		 (average && !tx_key_bool(tx, l, "count_include_pad", geom.count_include_pad))))
		return false;
	layer_image(l, geom.c, geom.h_out, geom.w_out);
	l->name = out[0]->name;
	tx_set_output(tx, out[0], l);
	return true;
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
	{"Conv", conv_attrs, eval_conv, lower_conv, false,
	TX_ARITY(2, 3, TX_OPT(2), 1, 1)},
	{"MaxPool", maxpool_attrs, eval_pool, lower_pool, false,
	TX_ARITY(1, 1, 0, 1, 2)},
	{"AveragePool", avgpool_attrs, eval_pool, lower_pool, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"GlobalAveragePool", no_attrs, eval_pool, lower_pool, false,
	TX_ARITY(1, 1, 0, 1, 1)},
	{"BatchNormalization", bn_attrs, eval_batchnorm, lower_batchnorm, false,
	TX_ARITY(5, 5, 0, 1, 5)},
};

const int	tx_n_conv_ops = (int) (sizeof(tx_conv_ops) / sizeof(tx_conv_ops[0]));
