/*
 * net_build.c
 *		From a model's config (JSON) and weights (safetensors) to a net the
 *		runtime can run.
 *
 * The same code checks a model when it is registered and builds it when a
 * backend loads it, so a model that registered always loads.  The config's
 * keys the runtime reads:
 *
 *	"input"			"features" (the default) or "tokens"
 *	"n_features"	features a row has (feature models)
 *	"input_shape"	[c, h, w] of an image input, c * h * w = n_features
 *	"layers"		the layer program: objects with "op", optional "name" and
 *					"input" (a name or a list of names of earlier layers:
 *					"input" is the net's input, "_prev" the layer before,
 *					which is also the default),
 *					and the op's own keys (net_ops.h)
 *	"output"		the name of the layer whose value is the model's output
 *					(default: the last)
 *
 * Every tensor a layer names must exist, have a floating dtype (or the one
 * its op asks for), the shape the graph implies and finite values; errors
 * are sentences naming the layer and the tensor, because the server shows
 * them as the detail of "invalid model config".
 */
#include "net_build.h"
#include "net_ops.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_LAYERS 10000

struct MaasBuild
{
	const StFile *weights;
	MaasError  *err;
	int			layer_no;		/* 1-based, 0 outside layers */
	const char *op_name;
	bool		check_values;
};

int
maas_build_layer_no(const MaasBuild *b)
{
	return b->layer_no;
}

bool
maas_build_error(MaasBuild *b, const char *fmt,...)
{
	va_list		ap;
	char		msg[MAAS_ERRLEN];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return maas_error(b->err, MAAS_ERR_INVALID, "%s", msg);
}

bool
maas_build_hint(MaasBuild *b, const char *hint)
{
	return maas_error_hint(b->err, hint);
}

/* "\"key\"" for messages */
static bool
type_error(MaasBuild *b, const char *key, const char *what)
{
	return maas_build_error(b, "\"%s\" must be %s.", key, what);
}

bool
maas_build_string(MaasBuild *b, const MaasJson *obj, const char *key,
				  bool required, const char **out)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL)
	{
		if (required)
			return maas_build_error(b, "Layer %d (%s) has no \"%s\".",
									b->layer_no, b->op_name, key);
		return true;
	}
	if (v->type != MAAS_JSON_STRING)
		return type_error(b, key, "a string");
	*out = v->u.string;
	return true;
}

bool
maas_build_int(MaasBuild *b, const MaasJson *obj, const char *key,
			   bool required, int64_t min, int64_t max, int64_t *out)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL)
	{
		if (required)
			return maas_build_error(b, "Layer %d (%s) has no \"%s\".",
									b->layer_no, b->op_name, key);
		return true;
	}
	if (!maas_json_int(v, min, max, out))
		return maas_build_error(b, "\"%s\" must be a whole number between %" PRId64 " and %" PRId64 ".",
								key, min, max);
	return true;
}

bool
maas_build_float(MaasBuild *b, const MaasJson *obj, const char *key,
				 bool required, double *out)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL)
	{
		if (required)
			return maas_build_error(b, "Layer %d (%s) has no \"%s\".",
									b->layer_no, b->op_name, key);
		return true;
	}
	if (!maas_json_finite(v, true, out))
		return type_error(b, key, "a finite number");
	return true;
}

bool
maas_build_bool(MaasBuild *b, const MaasJson *obj, const char *key,
				bool required, bool *out)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL)
	{
		if (required)
			return maas_build_error(b, "Layer %d (%s) has no \"%s\".",
									b->layer_no, b->op_name, key);
		return true;
	}
	if (v->type != MAAS_JSON_BOOL)
		return type_error(b, key, "true or false");
	*out = v->u.boolean;
	return true;
}

static void
format_shape(char *dst, size_t cap, const int64_t *shape, int ndim)
{
	size_t		used = 0;

	for (int i = 0; i < ndim && used < cap; i++)
		used += (size_t) snprintf(dst + used, cap - used, "%s%" PRId64,
								  i ? ", " : "", shape[i]);
	if (ndim == 0 && cap > 0)
		dst[0] = '\0';
}

const StTensor *
maas_build_raw_tensor(MaasBuild *b, const char *name)
{
	const StTensor *t = st_find(b->weights, name);

	if (t == NULL)
		maas_build_error(b, "Layer %d (%s) names tensor \"%s\", which is not in the weights.",
						 b->layer_no, b->op_name, name);
	return t;
}

MaasError *
maas_build_err(MaasBuild *b)
{
	return b->err;
}

bool
maas_build_checks_values(const MaasBuild *b)
{
	return b->check_values;
}

const float *
maas_build_tensor(MaasBuild *b, const char *name, int ndim, int64_t *shape,
				  bool copy)
{
	const StTensor *t = maas_build_raw_tensor(b, name);
	bool		fits;
	float	   *data;

	if (t == NULL)
		return NULL;
	if (t->dtype != ST_F32 && t->dtype != ST_F64 &&
		t->dtype != ST_F16 && t->dtype != ST_BF16)
	{
		maas_build_error(b, "Tensor \"%s\" has dtype %s; layers need F32, F64, F16 or BF16.",
						 name, st_dtype_name(t->dtype));
		return NULL;
	}

	/* a free dimension takes the tensor's size when it can */
	for (int i = 0; i < ndim; i++)
		if (shape[i] < 0)
			shape[i] = t->ndim == ndim && t->shape[i] > 0 && t->shape[i] <= INT_MAX ?
				t->shape[i] : 1;
	fits = t->ndim == ndim;
	for (int i = 0; fits && i < ndim; i++)
		fits = t->shape[i] == shape[i];
	if (!fits)
	{
		char		want[128],
					have[128];

		format_shape(want, sizeof(want), shape, ndim);
		format_shape(have, sizeof(have), t->shape, t->ndim);
		maas_build_error(b, "Layer %d (%s) needs tensor \"%s\" of shape [%s], but it has shape [%s].",
						 b->layer_no, b->op_name, name, want, have);
		return NULL;
	}

	if (t->dtype == ST_F32 && !copy && ((uintptr_t) t->data % sizeof(float)) == 0)
		data = (float *) t->data;
	else
	{
		data = maas_kalloc_array((size_t) t->numel, sizeof(float));
		if (data == NULL)
		{
			maas_error_nomem(b->err);
			return NULL;
		}
		if (!st_to_f32(t, data))
		{
			maas_build_error(b, "Tensor \"%s\" could not be converted.", name);
			return NULL;
		}
	}
	if (b->check_values && !maas_all_finite(data, (size_t) t->numel))
	{
		maas_build_error(b, "Tensor \"%s\" holds NaN or infinite values.", name);
		return NULL;
	}
	return data;
}

static bool
known_key(const char *key, const char *const *keys)
{
	static const char *const common[] = {"op", "name", "input", NULL};

	for (const char *const *k = common; *k; k++)
		if (strcmp(key, *k) == 0)
			return true;
	for (const char *const *k = keys; k && *k; k++)
		if (strcmp(key, *k) == 0)
			return true;
	return false;
}

/* the value id a name refers to among the first n layers, or -1 */
static int
find_value(const MaasNet *net, int n, const char *name)
{
	if (strcmp(name, "input") == 0)
		return 0;
	if (strcmp(name, "_prev") == 0)
		return n;				/* the value of the layer before */
	for (int i = n - 1; i >= 0; i--)
		if (net->layers[i].name != NULL && strcmp(net->layers[i].name, name) == 0)
			return i + 1;
	return -1;
}

static bool
parse_inputs(MaasBuild *b, MaasNet *net, int i, MaasLayer *l, const MaasJson *obj)
{
	const MaasJson *v = maas_json_get(obj, "input");
	const MaasJson *names[MAAS_LAYER_MAX_INPUTS];
	int			n = 0;

	if (v == NULL)
		return true;
	if (v->type == MAAS_JSON_STRING)
		names[n++] = v;
	else if (v->type == MAAS_JSON_ARRAY && v->n >= 1 && v->n <= MAAS_LAYER_MAX_INPUTS)
		for (int k = 0; k < v->n; k++)
			names[n++] = maas_json_at(v, k);
	else
		return maas_build_error(b, "Layer %d (%s): \"input\" must be a layer name or a list of 1 to %d names.",
								i + 1, b->op_name, MAAS_LAYER_MAX_INPUTS);
	for (int k = 0; k < n; k++)
	{
		int			id;

		if (names[k]->type != MAAS_JSON_STRING)
			return maas_build_error(b, "Layer %d (%s): \"input\" must be a layer name or a list of 1 to %d names.",
									i + 1, b->op_name, MAAS_LAYER_MAX_INPUTS);
		id = find_value(net, i, names[k]->u.string);
		if (id < 0)
			return maas_build_error(b, "Layer %d (%s) reads \"%s\", which is not the name of a layer before it.",
									i + 1, b->op_name, names[k]->u.string);
		l->inputs[k] = id;
	}
	l->n_inputs = n;
	return true;
}

static bool
parse_layer(MaasBuild *b, MaasNet *net, int i, const MaasJson *obj)
{
	MaasLayer  *l = &net->layers[i];
	const MaasOpInfo *info;
	const char *opname = NULL;
	const char *name = NULL;
	MaasShape	in[MAAS_LAYER_MAX_INPUTS];
	int			ids[MAAS_LAYER_MAX_INPUTS];
	int			n;

	b->layer_no = i + 1;
	b->op_name = "?";
	if (obj == NULL || obj->type != MAAS_JSON_OBJECT)
		return maas_build_error(b, "Layer %d must be a JSON object.", i + 1);
	if (maas_json_get(obj, "op") == NULL)
		return maas_build_error(b, "Layer %d has no \"op\".", i + 1);
	if (!maas_build_string(b, obj, "op", true, &opname))
		return false;
	if (!maas_op_from_name(opname, &l->op))
	{
		maas_build_error(b, "Layer %d has unknown op \"%s\".", i + 1, opname);
		return maas_error_hint(b->err, "The layer ops are listed in doc/model-format.md.");
	}
	info = maas_op_info(l->op);
	b->op_name = info->name;
	for (int k = 0; k < obj->n; k++)
		if (!known_key(obj->u.members[k].key, info->keys))
			return maas_build_error(b, "Layer %d (%s) has unknown key \"%s\".",
									i + 1, info->name, obj->u.members[k].key);
	if (!maas_build_string(b, obj, "name", false, &name))
		return false;
	if (name != NULL)
	{
		if (strcmp(name, "input") == 0 || strcmp(name, "_prev") == 0 ||
			find_value(net, i, name) >= 0)
			return maas_build_error(b, "Layer %d (%s) is named \"%s\", which %s.",
									i + 1, info->name, name,
									name[0] == '_' || strcmp(name, "input") == 0 ? "is reserved" :
									"an earlier layer is named already");
		l->name = name;
	}
	if (!parse_inputs(b, net, i, l, obj))
		return false;

	/* the shapes of its inputs, from the layers checked so far */
	if (l->n_inputs == 0)
	{
		ids[0] = i;
		n = 1;
	}
	else
	{
		n = l->n_inputs;
		memcpy(ids, l->inputs, sizeof(int) * n);
	}
	for (int k = 0; k < n; k++)
	{
		if (ids[k] == 0)
		{
			memset(&in[k], 0, sizeof(MaasShape));
			in[k].seq = net->input == MAAS_NET_TOKENS;
			in[k].width = net->input == MAAS_NET_TOKENS ? 0 : net->n_in;
			if (net->in_h > 0)
			{
				in[k].c = net->in_c;
				in[k].h = net->in_h;
				in[k].w = net->in_w;
			}
		}
		else
			in[k] = net->layers[ids[k] - 1].shape;
	}
	if (info->parse != NULL && !info->parse(b, l, obj, in))
		return false;

	/* check it now, so that the next layer knows its input's shape */
	if (info->check != NULL)
	{
		char		msg[MAAS_ERRLEN];

		if (n < info->min_inputs || n > info->max_inputs)
			return maas_build_error(b, "Layer %d (%s) reads %d values but takes %d.",
									i + 1, info->name, n, info->min_inputs);
		if (!info->check(l, i + 1, in, &l->shape, b->err))
		{
			const char *hint = b->err->hint;

			/* as a sentence: capitalised, with a period */
			snprintf(msg, sizeof(msg), "%s", b->err->msg);
			if (msg[0] >= 'a' && msg[0] <= 'z')
				msg[0] = (char) (msg[0] - 'a' + 'A');
			maas_build_error(b, "%s.", msg);
			return maas_error_hint(b->err, hint);
		}
	}
	else
	{
		l->shape = in[0];
		l->n_in = l->n_out = in[0].width;
	}
	return true;
}

bool
maas_net_build(MaasNet *net, const MaasJson *config, const StFile *weights,
			   bool check_values, MaasError *err)
{
	MaasBuild	b = {.weights = weights, .err = err, .check_values = check_values};
	const MaasJson *v;
	const MaasJson *layers;
	int64_t		n_features = 0;

	memset(net, 0, sizeof(*net));
	if (config == NULL || config->type != MAAS_JSON_OBJECT)
		return maas_build_error(&b, "The config must be a JSON object.");

	net->input = MAAS_NET_FEATURES;
	if ((v = maas_json_get(config, "input")) != NULL)
	{
		if (v->type != MAAS_JSON_STRING ||
			(strcmp(v->u.string, "features") != 0 && strcmp(v->u.string, "tokens") != 0))
			return maas_build_error(&b, "\"input\" must be \"features\" or \"tokens\".");
		if (strcmp(v->u.string, "tokens") == 0)
			net->input = MAAS_NET_TOKENS;
	}
	if (net->input == MAAS_NET_FEATURES)
	{
		if ((v = maas_json_get(config, "n_features")) == NULL)
			return maas_build_error(&b, "The config has no \"n_features\".");
		if (v->type != MAAS_JSON_NUMBER)
			return maas_build_error(&b, "\"n_features\" must be a number.");
		if (!maas_json_int(v, 1, 100000000, &n_features))
			return maas_build_error(&b, "\"n_features\" must be a whole number between 1 and 100000000.");
		net->n_in = (int) n_features;
	}
	if ((v = maas_json_get(config, "input_shape")) != NULL && v->type != MAAS_JSON_NULL)
	{
		int64_t		d[3];

		if (v->type != MAAS_JSON_ARRAY || v->n != 3 ||
			!maas_json_int(maas_json_at(v, 0), 1, 100000000, &d[0]) ||
			!maas_json_int(maas_json_at(v, 1), 1, 100000000, &d[1]) ||
			!maas_json_int(maas_json_at(v, 2), 1, 100000000, &d[2]))
			return maas_build_error(&b, "\"input_shape\" must be [channels, height, width] of positive whole numbers.");
		if (d[0] * d[1] * d[2] != n_features)
			return maas_build_error(&b, "\"input_shape\" [%d, %d, %d] makes %" PRId64 " features, but \"n_features\" is %" PRId64 ".",
									(int) d[0], (int) d[1], (int) d[2], d[0] * d[1] * d[2], n_features);
		net->in_c = (int) d[0];
		net->in_h = (int) d[1];
		net->in_w = (int) d[2];
	}

	if ((layers = maas_json_get(config, "layers")) == NULL)
		return maas_build_error(&b, "The config has no \"layers\".");
	if (layers->type != MAAS_JSON_ARRAY)
		return maas_build_error(&b, "\"layers\" must be an array.");
	if (layers->n == 0)
		return maas_build_error(&b, "\"layers\" is empty.");
	if (layers->n > MAX_LAYERS)
		return maas_build_error(&b, "\"layers\" has %d layers; at most %d are allowed.",
								layers->n, MAX_LAYERS);
	net->n_layers = layers->n;
	net->layers = maas_kalloc_array((size_t) layers->n, sizeof(MaasLayer));
	if (net->layers == NULL)
		return maas_error_nomem(err);
	memset(net->layers, 0, sizeof(MaasLayer) * (size_t) layers->n);

	for (int i = 0; i < layers->n; i++)
		if (!parse_layer(&b, net, i, maas_json_at(layers, i)))
			return false;
	b.layer_no = 0;

	if ((v = maas_json_get(config, "output")) != NULL && v->type != MAAS_JSON_NULL)
	{
		int			id;

		if (v->type != MAAS_JSON_STRING)
			return maas_build_error(&b, "\"output\" must be the name of a layer.");
		id = find_value(net, net->n_layers, v->u.string);
		if (id <= 0)
			return maas_build_error(&b, "\"output\" names \"%s\", which is not the name of a layer.",
									v->u.string);
		net->output = id;
	}

	if (!maas_net_check(net, err))
	{
		char		msg[MAAS_ERRLEN];

		if (err->status == MAAS_ERR_NOMEM)
			return false;
		snprintf(msg, sizeof(msg), "%s", err->msg);
		if (msg[0] >= 'a' && msg[0] <= 'z')
			msg[0] = (char) (msg[0] - 'a' + 'A');
		return maas_build_error(&b, "%s.", msg);
	}
	return true;
}
