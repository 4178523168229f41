/*
 * ops_conv.c
 *		The image layers of the runtime: conv2d, maxpool2d, avgpool2d,
 *		global_avgpool and batchnorm (see net_ops.h), over the kernels of
 *		conv.h.
 *
 * An image is a row value with a (c, h, w) view, NCHW as in torch: the
 * net's input when the config has "input_shape", and what these layers
 * write.  Elementwise layers (relu, dropout, add) keep the view; flatten
 * drops it, after which dense layers read the c * h * w floats as torch's
 * flatten(x, 1) lays them out.
 *
 * Config keys (a "pair" is a whole number or a list [height, width]; a
 * padding is a whole number, a pair, or [top, left, bottom, right] as ONNX
 * orders its pads):
 *	conv2d		"weight" [c_out, c_in / groups, kh, kw], "bias" [c_out]
 *				(optional), "stride" (pair, 1), "padding" (0), "dilation"
 *				(pair, 1), "groups" (1)
 *	maxpool2d	"kernel" (pair, required), "stride" (pair, the kernel),
 *				"padding" (0), "dilation" (pair, 1), "ceil_mode" (false)
 *	avgpool2d	the same, and "count_include_pad" (true, as torch)
 *	global_avgpool	no keys: [c, h, w] to [c, 1, 1]
 *	batchnorm	"mean", "var" [c], "weight", "bias" [c] (optional: 1 and 0),
 *				"eps" (1e-5): y = (x - mean) / sqrt(var + eps) * weight +
 *				bias per channel of an image, or per feature of a vector,
 *				run as the affine y = x * a + b computed once at load
 *
 * The layer's params are its own (made by parse, or by maas_layer_conv2d
 * and maas_layer_pool2d for nets built in code): check completes the
 * kernel's geometry from the input's shape and validates it, so forward
 * trusts it.
 */
#include "net_ops.h"

#include <stdio.h>
#include <string.h>

#define MAX_SIZE	100000		/* a kernel, stride, dilation or padding */

typedef struct ConvParams
{
	MaasConv2d	geom;			/* c_in, h, w: from the input, at check */
	const float *weight;
	const float *bias;
	const void *packed;			/* MaasBlas.conv2d_pack's copy, or NULL */
} ConvParams;

typedef struct PoolParams
{
	MaasPool2d	geom;			/* c, h, w: from the input, at check */
} PoolParams;

typedef struct BnParams
{
	int			channels;
	const float *a;				/* y = x * a + b */
	const float *b;
} BnParams;

/* ---- reading the keys ---- */

/*
 * key as [v0, v1] (a whole number is both), or, with four, as [top, left,
 * bottom, right] (a pair [h, w] is [h, w, h, w]).  out keeps its values
 * when the key is absent; *given says whether it was there.
 */
static bool
parse_sizes(MaasBuild *b, const MaasJson *obj, const char *op, const char *key,
			int64_t min, bool four, int *out, bool *given)
{
	const MaasJson *v = maas_json_get(obj, key);
	int64_t		d[4];
	int			n;

	if (given)
		*given = v != NULL && v->type != MAAS_JSON_NULL;
	if (v == NULL || v->type == MAAS_JSON_NULL)
		return true;
	if (v->type == MAAS_JSON_NUMBER)
	{
		if (!maas_json_int(v, min, MAX_SIZE, &d[0]))
			goto bad;
		d[1] = d[2] = d[3] = d[0];
	}
	else if (v->type == MAAS_JSON_ARRAY && (v->n == 2 || (four && v->n == 4)))
	{
		for (int i = 0; i < v->n; i++)
			if (!maas_json_int(maas_json_at(v, i), min, MAX_SIZE, &d[i]))
				goto bad;
		if (v->n == 2)
		{
			d[2] = d[0];
			d[3] = d[1];
		}
	}
	else
		goto bad;
	n = four ? 4 : 2;
	for (int i = 0; i < n; i++)
		out[i] = (int) d[i];
	return true;

bad:
	return maas_build_error(b, "Layer %d (%s): \"%s\" must be a whole number from %d to %d%s.",
							maas_build_layer_no(b), op, key, (int) min, MAX_SIZE,
							four ? ", a list [height, width] or a list [top, left, bottom, right] of them" :
							", or a list [height, width] of them");
}

/* the input must be an image */
static bool
need_image(MaasBuild *b, const char *op, const MaasShape *in)
{
	if (!in[0].seq && in[0].h > 0)
		return true;
	maas_build_error(b, "Layer %d (%s) needs an image, but its input is %s.",
					 maas_build_layer_no(b), op,
					 in[0].seq ? "a sequence" : "a plain vector");
	return maas_build_hint(b, "Give the model an \"input_shape\" [channels, height, width], and put flatten only after the image layers.");
}

static bool
check_image(const char *op, int no, const MaasShape *in, MaasError *err)
{
	if (!in[0].seq && in[0].h > 0 && in[0].c > 0 && in[0].w > 0 &&
		(int64_t) in[0].c * in[0].h * in[0].w == in[0].width)
		return true;
	return maas_error(err, MAAS_ERR_INVALID, "layer %d (%s) needs an image input", no, op);
}

/* a kernel's message ("convolution kernel height ...") about layer no */
static bool
kernel_error(const char *op, int no, MaasError *err)
{
	char		msg[MAAS_ERRLEN];
	const char *hint = err->hint;

	snprintf(msg, sizeof(msg), "%s", err->msg);
	maas_error(err, err->status, "layer %d (%s): %s", no, op, msg);
	return maas_error_hint(err, hint);
}

static MaasShape
image_shape(int c, int h, int w)
{
	MaasShape	s;

	memset(&s, 0, sizeof(s));
	s.c = c;
	s.h = h;
	s.w = w;
	s.width = c * h * w;		/* the kernels' checks keep it within int */
	return s;
}

/* ---- conv2d ---- */

static bool
conv2d_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	ConvParams *p;
	const char *weight = NULL;
	const char *bias = NULL;
	const MaasJson *bv = maas_json_get(obj, "bias");
	int			stride[2] = {1, 1},
				dil[2] = {1, 1},
				pad[4] = {0, 0, 0, 0};
	int64_t		groups = 1;
	int64_t		shape[4];

	if (!need_image(b, "conv2d", in))
		return false;
	if ((p = maas_kalloc(sizeof(ConvParams))) == NULL)
		return maas_build_error(b, "out of memory");
	memset(p, 0, sizeof(*p));
	if (!maas_build_string(b, obj, "weight", true, &weight) ||
		(bv != NULL && bv->type != MAAS_JSON_NULL &&
		 !maas_build_string(b, obj, "bias", false, &bias)) ||
		!parse_sizes(b, obj, "conv2d", "stride", 1, false, stride, NULL) ||
		!parse_sizes(b, obj, "conv2d", "dilation", 1, false, dil, NULL) ||
		!parse_sizes(b, obj, "conv2d", "padding", 0, true, pad, NULL) ||
		!maas_build_int(b, obj, "groups", false, 1, MAX_SIZE, &groups))
		return false;
	if (in[0].c % groups != 0)
		return maas_build_error(b, "Layer %d (conv2d): \"groups\" %d does not divide the %d input channels.",
								maas_build_layer_no(b), (int) groups, in[0].c);

	/* [c_out, c_in / groups, kh, kw], as torch.nn.Conv2d stores it */
	shape[0] = -1;
	shape[1] = in[0].c / groups;
	shape[2] = -1;
	shape[3] = -1;
	if ((p->weight = maas_build_tensor(b, weight, 4, shape, false)) == NULL)
		return false;
	maas_conv2d_init(&p->geom, in[0].c, in[0].h, in[0].w, (int) shape[0],
					 (int) shape[2], (int) shape[3]);
	p->geom.stride_h = stride[0];
	p->geom.stride_w = stride[1];
	p->geom.dil_h = dil[0];
	p->geom.dil_w = dil[1];
	p->geom.pad_top = pad[0];
	p->geom.pad_left = pad[1];
	p->geom.pad_bottom = pad[2];
	p->geom.pad_right = pad[3];
	p->geom.groups = (int) groups;
	if (bias != NULL)
	{
		int64_t		bshape[1] = {shape[0]};

		if ((p->bias = maas_build_tensor(b, bias, 1, bshape, false)) == NULL)
			return false;
	}
	l->params = p;
	return true;
}

static bool
conv2d_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	ConvParams *p = (ConvParams *) l->params;

	if (p == NULL || p->weight == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (conv2d) has no weights", no);
	if (!check_image("conv2d", no, in, err))
		return false;
	p->geom.c_in = in[0].c;
	p->geom.h = in[0].h;
	p->geom.w = in[0].w;
	if (!maas_conv2d_check(&p->geom, err))
		return kernel_error("conv2d", no, err);
	*out = image_shape(p->geom.c_out, p->geom.h_out, p->geom.w_out);
	l->n_in = in[0].width;
	l->n_out = out->width;
	return true;
}

static size_t
conv2d_scratch(const MaasLayer *l, const MaasShape *in, int n, int t, int n_keys)
{
	const ConvParams *p = l->params;
	size_t		floats;

	(void) in;
	(void) t;
	(void) n_keys;
	if (!maas_conv2d_scratch(&p->geom, n, &floats))
		return SIZE_MAX;
	/* and a row of input and of output for the NHWC fallback */
	if (!maas_add_size(floats, maas_conv2d_in_size(&p->geom), &floats) ||
		!maas_add_size(floats, maas_conv2d_out_size(&p->geom), &floats))
		return SIZE_MAX;
	return floats;
}

/*
 * A convolution with NHWC input or output (run->layout) that the backend
 * did not run: im2col a row at a time, through the transposes
 */
static void
conv2d_nhwc_apart(const ConvParams *p, MaasRun *run, const float *inp, float *out)
{
	const MaasConv2d *g = &p->geom;
	size_t		isz = maas_conv2d_in_size(g),
				osz = maas_conv2d_out_size(g);
	float	   *xin = run->scratch,
			   *yout = xin + isz,
			   *rest = yout + osz;

	for (int r = 0; r < run->batch->n; r++)
	{
		const float *x = inp + r * isz;
		float	   *y = run->layout & MAAS_CONV_OUT_NHWC ? yout : out + r * osz;

		if (run->layout & MAAS_CONV_IN_NHWC)
		{
			maas_image_to_nchw(1, g->c_in, g->h, g->w, x, xin);
			x = xin;
		}
		maas_conv2d_forward_act(g, run->blas, 1, x, p->weight, p->bias, run->relu,
								y, rest, NULL);
		if (run->layout & MAAS_CONV_OUT_NHWC)
			maas_image_to_nhwc(1, g->c_out, g->h_out, g->w_out, yout, out + r * osz);
	}
}

static bool
conv2d_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const ConvParams *p = l->params;
	const MaasBlas *blas = run->blas;

	if (run->layout != 0 || run->thread >= 0)
	{
		if (blas->conv2d_at != NULL &&
			blas->conv2d_at(&p->geom, run->batch->n, in[0], p->weight, p->packed, p->bias,
							run->relu, out, run->layout, run->thread))
			return true;
		/* no BLAS on a thread of tiles in parallel: the tile runs apart */
		if (run->thread >= 0)
			return false;
		conv2d_nhwc_apart(p, run, in[0], out);
		return true;
	}
	/* oneDNN's convolution when the backend has it for the shape */
	if (blas->conv2d != NULL &&
		blas->conv2d(&p->geom, run->batch->n, in[0], p->weight, p->bias, run->relu, out))
		return true;
	maas_conv2d_forward_act(&p->geom, blas, run->batch->n, in[0], p->weight,
							p->bias, run->relu, out, run->scratch, NULL);
	return true;
}

static const char *const conv2d_keys[] = {"weight", "bias", "stride", "padding",
"dilation", "groups", NULL};

const MaasOpInfo maas_op_conv2d = {
	.name = "conv2d", .min_inputs = 1, .max_inputs = 1,
	.keys = conv2d_keys, .parse = conv2d_parse, .check = conv2d_check,
	.scratch = conv2d_scratch, .forward = conv2d_forward, .fuses_relu = true,
};

bool
maas_layer_conv2d(MaasLayer *l, const MaasConv2d *geom, const float *weight,
				  const float *bias, MaasError *err)
{
	ConvParams *p = maas_kalloc(sizeof(ConvParams));

	if (p == NULL)
		return maas_error_nomem(err);
	memset(p, 0, sizeof(*p));
	p->geom = *geom;
	p->weight = weight;
	p->bias = bias;
	l->op = MAAS_OP_CONV2D;
	l->params = p;
	return true;
}

void
maas_layer_conv2d_point(MaasLayer *l, const float *weight, const float *bias)
{
	ConvParams *p = (ConvParams *) l->params;

	p->weight = weight;
	p->bias = bias;
	p->packed = NULL;
}

/*
 * Pack l's weights for the backend's convolution of one row with layout
 * (and the ReLU it absorbed), as the run calls conv2d_at (maas_net_pack);
 * false only on out of memory or a library failure, the layer unpacked
 */
bool
maas_conv2d_pack(MaasLayer *l, const MaasBlas *blas, int layout, bool relu, MaasError *err)
{
	ConvParams *p = (ConvParams *) l->params;
	const void *packed = NULL;

	if (blas->conv2d_pack == NULL || p->packed != NULL)
		return true;
	if (!blas->conv2d_pack(&p->geom, p->weight, p->bias != NULL, relu, layout, &packed, err))
		return false;
	p->packed = packed;
	return true;
}

/* ---- max and average pooling ---- */

static bool
pool_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in,
		   const char *op, bool average)
{
	PoolParams *p;
	int			kernel[2] = {0, 0},
				stride[2],
				dil[2] = {1, 1},
				pad[4] = {0, 0, 0, 0};
	bool		has_kernel,
				has_stride;
	bool		ceil_mode = false;
	bool		include_pad = true;

	if (!need_image(b, op, in))
		return false;
	if ((p = maas_kalloc(sizeof(PoolParams))) == NULL)
		return maas_build_error(b, "out of memory");
	if (!parse_sizes(b, obj, op, "kernel", 1, false, kernel, &has_kernel) ||
		!parse_sizes(b, obj, op, "stride", 1, false, stride, &has_stride) ||
		!parse_sizes(b, obj, op, "dilation", 1, false, dil, NULL) ||
		!parse_sizes(b, obj, op, "padding", 0, true, pad, NULL) ||
		!maas_build_bool(b, obj, "ceil_mode", false, &ceil_mode) ||
		(average && !maas_build_bool(b, obj, "count_include_pad", false, &include_pad)))
		return false;
	if (!has_kernel)
		return maas_build_error(b, "Layer %d (%s) has no \"kernel\".",
								maas_build_layer_no(b), op);
	maas_pool2d_init(&p->geom, in[0].c, in[0].h, in[0].w, kernel[0], kernel[1]);
	if (has_stride)
	{
		p->geom.stride_h = stride[0];
		p->geom.stride_w = stride[1];
	}
	p->geom.dil_h = dil[0];
	p->geom.dil_w = dil[1];
	p->geom.pad_top = pad[0];
	p->geom.pad_left = pad[1];
	p->geom.pad_bottom = pad[2];
	p->geom.pad_right = pad[3];
	p->geom.ceil_mode = ceil_mode;
	p->geom.count_include_pad = average && include_pad;
	l->params = p;
	return true;
}

static bool
maxpool2d_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	return pool_parse(b, l, obj, in, "maxpool2d", false);
}

static bool
avgpool2d_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	return pool_parse(b, l, obj, in, "avgpool2d", true);
}

static bool
pool_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	PoolParams *p = (PoolParams *) l->params;
	const char *op = maas_op_name(l->op);

	if (p == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (%s) has no kernel", no, op);
	if (!check_image(op, no, in, err))
		return false;
	p->geom.c = in[0].c;
	p->geom.h = in[0].h;
	p->geom.w = in[0].w;
	if (!maas_pool2d_check(&p->geom, err))
		return kernel_error(op, no, err);
	*out = image_shape(p->geom.c, p->geom.h_out, p->geom.w_out);
	l->n_in = in[0].width;
	l->n_out = out->width;
	return true;
}

static bool
maxpool2d_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const PoolParams *p = l->params;

	if (run->layout & MAAS_CONV_IN_NHWC)
		maas_maxpool2d_nhwc(&p->geom, run->batch->n, in[0], out,
							(run->layout & MAAS_CONV_OUT_NHWC) != 0);
	else
		maas_maxpool2d_forward(&p->geom, run->batch->n, in[0], out, NULL);
	return true;
}

static bool
avgpool2d_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const PoolParams *p = l->params;

	maas_avgpool2d_forward(&p->geom, run->batch->n, in[0], out);
	return true;
}

static const char *const maxpool2d_keys[] = {"kernel", "stride", "padding", "dilation",
"ceil_mode", NULL};
static const char *const avgpool2d_keys[] = {"kernel", "stride", "padding", "dilation",
"ceil_mode", "count_include_pad", NULL};

const MaasOpInfo maas_op_maxpool2d = {
	.name = "maxpool2d", .min_inputs = 1, .max_inputs = 1,
	.keys = maxpool2d_keys, .parse = maxpool2d_parse, .check = pool_check,
	.forward = maxpool2d_forward,
};

const MaasOpInfo maas_op_avgpool2d = {
	.name = "avgpool2d", .min_inputs = 1, .max_inputs = 1,
	.keys = avgpool2d_keys, .parse = avgpool2d_parse, .check = pool_check,
	.forward = avgpool2d_forward,
};

bool
maas_layer_pool2d(MaasLayer *l, MaasOp op, const MaasPool2d *geom, MaasError *err)
{
	PoolParams *p;

	if (op != MAAS_OP_MAXPOOL2D && op != MAAS_OP_AVGPOOL2D)
		return maas_error(err, MAAS_ERR_INVALID, "op \"%s\" is not a pooling", maas_op_name(op));
	if ((p = maas_kalloc(sizeof(PoolParams))) == NULL)
		return maas_error_nomem(err);
	p->geom = *geom;
	l->op = op;
	l->params = p;
	return true;
}

/* ---- global average pooling ---- */

static bool
global_avgpool_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out,
					 MaasError *err)
{
	if (!check_image("global_avgpool", no, in, err))
		return false;
	*out = image_shape(in[0].c, 1, 1);
	l->n_in = in[0].width;
	l->n_out = in[0].c;
	return true;
}

static bool
global_avgpool_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	(void) l;
	(void) obj;
	return need_image(b, "global_avgpool", in);
}

static bool
global_avgpool_forward(const MaasLayer *l, MaasRun *run, const float *const *in,
					   float *out)
{
	const MaasShape *s = &l->shape;

	maas_global_avgpool_forward(run->batch->n, s->c, l->n_in / s->c, in[0], out);
	return true;
}

static const char *const no_keys[] = {NULL};

const MaasOpInfo maas_op_global_avgpool = {
	.name = "global_avgpool", .min_inputs = 1, .max_inputs = 1,
	.keys = no_keys, .parse = global_avgpool_parse, .check = global_avgpool_check,
	.forward = global_avgpool_forward,
};

/* ---- batch normalization, as a per-channel affine ---- */

/* channels of a value: an image's c, else each feature of a vector */
static int
bn_channels(const MaasShape *s)
{
	return !s->seq && s->h > 0 ? s->c : s->width;
}

static bool
batchnorm_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	BnParams   *p;
	const char *names[4] = {NULL, NULL, NULL, NULL};	/* mean, var, weight, bias */
	static const char *const keys[4] = {"mean", "var", "weight", "bias"};
	const float *t[4] = {NULL, NULL, NULL, NULL};
	float	   *a,
			   *c;
	float	   *ones;
	double		eps = 1e-5;
	int			ch = bn_channels(&in[0]);
	int64_t		shape[1] = {ch};
	MaasError	kerr;

	if (ch <= 0)
		return maas_build_error(b, "Layer %d (batchnorm) has no input to work on.",
								maas_build_layer_no(b));
	for (int i = 0; i < 4; i++)
	{
		const MaasJson *v = maas_json_get(obj, keys[i]);

		if (i >= 2 && v != NULL && v->type == MAAS_JSON_NULL)
			continue;
		if (!maas_build_string(b, obj, keys[i], i < 2, &names[i]))
			return false;
	}
	if (!maas_build_float(b, obj, "eps", false, &eps))
		return false;
	if (!(eps > 0))
		return maas_build_error(b, "Layer %d (batchnorm): \"eps\" must be positive.",
								maas_build_layer_no(b));
	for (int i = 0; i < 4; i++)
		if (names[i] != NULL && (t[i] = maas_build_tensor(b, names[i], 1, shape, false)) == NULL)
			return false;

	p = maas_kalloc(sizeof(BnParams));
	a = maas_kalloc_array((size_t) ch, sizeof(float));
	c = maas_kalloc_array((size_t) ch, sizeof(float));
	ones = maas_kalloc_array((size_t) ch * 2, sizeof(float));
	if (p == NULL || a == NULL || c == NULL || ones == NULL)
		return maas_build_error(b, "out of memory");
	for (int i = 0; i < ch; i++)
	{
		ones[i] = 1.0f;
		ones[ch + i] = 0.0f;
	}
	if (!maas_bn_affine(ch, t[2] ? t[2] : ones, t[3] ? t[3] : ones + ch, t[0], t[1],
						eps, a, c, &kerr))
	{
		char		msg[MAAS_ERRLEN];

		snprintf(msg, sizeof(msg), "%s", kerr.msg);
		maas_build_error(b, "Layer %d (batchnorm): %s.", maas_build_layer_no(b), msg);
		return kerr.hint ? maas_build_hint(b, kerr.hint) : false;
	}
	p->channels = ch;
	p->a = a;
	p->b = c;
	l->params = p;
	return true;
}

static bool
batchnorm_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	const BnParams *p = l->params;

	if (p == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (batchnorm) has no parameters", no);
	if (in[0].width <= 0 || bn_channels(&in[0]) != p->channels)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (batchnorm) has %d channels but receives %d",
						  no, p->channels, bn_channels(&in[0]));
	*out = in[0];
	l->n_in = l->n_out = in[0].width;
	return true;
}

static bool
batchnorm_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const BnParams *p = l->params;
	size_t		vectors = maas_run_vectors(run, &l->shape);
	size_t		per = (size_t) l->n_in / p->channels;	/* floats a channel */
	const float *x = in[0];

	for (size_t r = 0; r < vectors; r++)
		for (int ch = 0; ch < p->channels; ch++)
		{
			/* in place when out == x */
			const float *s = x + (r * p->channels + ch) * per;
			float	   *d = out + (r * p->channels + ch) * per;
			float		a = p->a[ch],
						b = p->b[ch];

			for (size_t i = 0; i < per; i++)
				d[i] = s[i] * a + b;
		}
	return true;
}

static const char *const batchnorm_keys[] = {"mean", "var", "weight", "bias", "eps", NULL};

const MaasOpInfo maas_op_batchnorm = {
	.name = "batchnorm", .min_inputs = 1, .max_inputs = 1, .elementwise = true,
	.keys = batchnorm_keys, .parse = batchnorm_parse, .check = batchnorm_check,
	.forward = batchnorm_forward,
};
