/*
 * remote_kserve.c
 *		KServe v2 (the Open Inference Protocol): the infer request, its
 *		response read into rows of floats, and a model's metadata (see
 *		remote_proto.h; the helpers are remote_proto.c's).
 */
#include "remote_proto.h"
#include "remote_proto_int.h"
#include "http.h"
#include "utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- KServe v2 ---- */

bool
maas_kserve_infer_request(MaasBuf *out, const char *input_name, int n, int d,
						  const float *x, MaasError *err)
{
	size_t		total;
	char		num[32];

	if (!remote_check_text(input_name, "the input name", err) ||
		!remote_check_count(n, "the number of rows", err) ||
		!remote_check_count(d, "the number of features", err))
		return false;
	if (!maas_mul_size((size_t) n, (size_t) d, &total) || total > MAX_ITEMS)
		return maas_error(err, MAAS_ERR_LIMIT,
						  "a request of %d rows of %d features is too large", n, d);
	for (size_t i = 0; i < total; i++)
		if (!isfinite(x[i]))
			return maas_error(err, MAAS_ERR_INVALID,
							  "feature %zu of row %zu is not finite", i % (size_t) d + 1,
							  i / (size_t) d + 1);

	maas_buf_init(out);
	maas_buf_puts(out, "{\"inputs\": [{\"name\": ");
	maas_json_write_string(out, input_name, strlen(input_name));
	maas_buf_printf(out, ", \"shape\": [%d, %d], \"datatype\": \"FP32\", \"data\": [", n, d);
	for (size_t i = 0; i < total; i++)
	{
		/* 9 significant digits read back as the same float */
		int			k = snprintf(num, sizeof(num), i > 0 ? ", %.9g" : "%.9g", (double) x[i]);

		maas_buf_append(out, num, (size_t) k);
	}
	maas_buf_puts(out, "]}]}");
	return remote_buf_done(out, err);
}

static bool
numeric_datatype(const char *t, bool *boolean)
{
	static const char *const types[] = {
		"FP16", "FP32", "FP64", "BF16", "INT8", "INT16", "INT32", "INT64",
		"UINT8", "UINT16", "UINT32", "UINT64"
	};

	*boolean = strcmp(t, "BOOL") == 0;
	if (*boolean)
		return true;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i]) == 0)
			return true;
	return false;
}

/* one value of a tensor into *f */
static bool
tensor_value(const MaasJson *v, bool boolean, const char *path, float *f, MaasError *err)
{
	double		d;

	if (boolean)
	{
		if (v->type != MAAS_JSON_BOOL)
			return remote_wrong_type(err, path, MAAS_JSON_BOOL, v);
		*f = v->u.boolean ? 1.0f : 0.0f;
		return true;
	}
	if (!maas_json_finite(v, true, &d))
		return remote_field_error(err, path, "%s", v->type == MAAS_JSON_NUMBER ?
						   "is not a finite float" : "is not a number");
	*f = (float) d;
	return true;
}

/* "[2, 3]" */
static void
shape_text(const MaasJson *shape, char *out, size_t size)
{
	size_t		o = 0;

	o += (size_t) snprintf(out, size, "[");
	for (int i = 0; i < shape->n && o < size; i++)
	{
		const MaasJson *v = &shape->u.items[i];

		if (v->integral)
			o += (size_t) snprintf(out + o, size - o, i > 0 ? ", %lld" : "%lld",
								   (long long) v->integer);
		else
			o += (size_t) snprintf(out + o, size - o, i > 0 ? ", ?" : "?");
	}
	if (o < size)
		snprintf(out + o, size - o, "]");
}

bool
maas_kserve_infer_response(const char *body, size_t len, const char *output_name,
						   int n, int n_out, float *out, const MaasTick *tick,
						   MaasError *err)
{
	const MaasJson *root;
	const MaasJson *outputs;
	const MaasJson *t = NULL;
	const MaasJson *shape;
	const MaasJson *dtype;
	const MaasJson *data;
	char		at[40];
	char		path[PATH_MAX_LEN];
	bool		failed;
	bool		boolean;
	bool		shape_ok;
	size_t		total;
	int			which = 0;

	if (!remote_check_count(n, "the number of rows", err) ||
		!remote_check_count(n_out, "the number of outputs a row", err))
		return false;
	if (!maas_mul_size((size_t) n, (size_t) n_out, &total) || total > MAX_ITEMS)
		return maas_error(err, MAAS_ERR_LIMIT, "%d rows of %d outputs are too many", n, n_out);
	root = remote_parse_root(body, len, tick, err);
	if (root == NULL)
		return false;
	outputs = remote_member(root, "", "outputs", MAAS_JSON_ARRAY, true, &failed, err);
	if (outputs == NULL)
		return false;
	if (outputs->n == 0)
		return remote_field_error(err, "outputs", "is empty");
	for (int i = 0; i < outputs->n; i++)
	{
		const MaasJson *o = &outputs->u.items[i];
		const MaasJson *name;

		snprintf(at, sizeof(at), "outputs[%d]", i);
		if (o->type != MAAS_JSON_OBJECT)
			return remote_wrong_type(err, at, MAAS_JSON_OBJECT, o);
		name = remote_member(o, at, "name", MAAS_JSON_STRING, true, &failed, err);
		if (name == NULL)
			return false;
		if (output_name == NULL ? i == 0 : strcmp(name->u.string, output_name) == 0)
		{
			t = o;
			which = i;
			if (output_name == NULL)
				break;
		}
	}
	if (t == NULL)
	{
		char		shown[72];

		maas_http_sanitize(output_name, strlen(output_name), 64, shown);
		return maas_error(err, MAAS_ERR_INVALID, "response has no output named \"%s\"", shown);
	}
	snprintf(at, sizeof(at), "outputs[%d]", which);

	dtype = remote_member(t, at, "datatype", MAAS_JSON_STRING, true, &failed, err);
	if (dtype == NULL)
		return false;
	if (!numeric_datatype(dtype->u.string, &boolean))
	{
		char		shown[40];

		snprintf(path, sizeof(path), "%s.datatype", at);
		maas_http_sanitize(dtype->u.string, (size_t) dtype->n, 32, shown);
		return remote_field_error(err, path, "is \"%s\", not a numeric type", shown);
	}

	shape = remote_member(t, at, "shape", MAAS_JSON_ARRAY, true, &failed, err);
	if (shape == NULL)
		return false;
	shape_ok = shape->n >= 1 && shape->n <= 2 &&
		shape->u.items[0].integral && shape->u.items[0].integer == n &&
		(shape->n == 1 ? n_out == 1 :
		 shape->u.items[1].integral && shape->u.items[1].integer == n_out);
	if (!shape_ok)
	{
		char		got[64];

		shape_text(shape, got, sizeof(got));
		snprintf(path, sizeof(path), "%s.shape", at);
		return remote_field_error(err, path, "is %s, not [%d, %d]", got, n, n_out);
	}

	data = remote_member(t, at, "data", MAAS_JSON_ARRAY, true, &failed, err);
	if (data == NULL)
		return false;
	if (shape->n == 2 && data->n == n && data->u.items[0].type == MAAS_JSON_ARRAY)
	{
		/* nested by the shape: n rows of n_out */
		for (int i = 0; i < n; i++)
		{
			const MaasJson *row = &data->u.items[i];

			snprintf(path, sizeof(path), "%s.data[%d]", at, i);
			if (row->type != MAAS_JSON_ARRAY || row->n != n_out)
				return remote_field_error(err, path, "must be an array of %d values", n_out);
			for (int j = 0; j < n_out; j++)
			{
				snprintf(path, sizeof(path), "%s.data[%d][%d]", at, i, j);
				if (!tensor_value(&row->u.items[j], boolean, path,
								  &out[(size_t) i * (size_t) n_out + (size_t) j], err))
					return false;
			}
		}
		return true;
	}
	if ((size_t) data->n == total)
	{
		/* flat, row-major */
		for (size_t i = 0; i < total; i++)
		{
			snprintf(path, sizeof(path), "%s.data[%zu]", at, i);
			if (!tensor_value(&data->u.items[i], boolean, path, &out[i], err))
				return false;
			if ((i & 4095) == 4095)
				maas_tick(tick);
		}
		return true;
	}
	snprintf(path, sizeof(path), "%s.data", at);
	return remote_field_error(err, path, "has %d values, not %zu", data->n, total);
}

/* one entry of "inputs" or "outputs" of the metadata */
static bool
read_tensor_meta(const MaasJson *v, const char *at, MaasKserveTensor *t, MaasError *err)
{
	const MaasJson *name;
	const MaasJson *dtype;
	const MaasJson *shape;
	bool		failed;
	char		path[PATH_MAX_LEN + 24];

	if (v->type != MAAS_JSON_OBJECT)
		return remote_wrong_type(err, at, MAAS_JSON_OBJECT, v);
	if ((name = remote_member(v, at, "name", MAAS_JSON_STRING, true, &failed, err)) == NULL ||
		(dtype = remote_member(v, at, "datatype", MAAS_JSON_STRING, true, &failed, err)) == NULL ||
		(shape = remote_member(v, at, "shape", MAAS_JSON_ARRAY, true, &failed, err)) == NULL)
		return false;
	if (shape->n > MAAS_KSERVE_MAX_DIMS)
	{
		snprintf(path, sizeof(path), "%s.shape", at);
		return remote_field_error(err, path, "has more than %d dimensions", MAAS_KSERVE_MAX_DIMS);
	}
	t->n_dims = shape->n;
	for (int i = 0; i < shape->n; i++)
	{
		if (!maas_json_int(&shape->u.items[i], -1, INT32_MAX, &t->dims[i]))
		{
			snprintf(path, sizeof(path), "%s.shape[%d]", at, i);
			return remote_field_error(err, path, "must be a whole number of at least -1");
		}
	}
	return (t->name = remote_copy_string(name, err)) != NULL &&
		(t->datatype = remote_copy_string(dtype, err)) != NULL;
}

bool
maas_kserve_metadata_parse(const char *body, size_t len, MaasKserveMeta *meta,
						   MaasError *err)
{
	const MaasJson *root = remote_parse_root(body, len, NULL, err);
	const MaasJson *name;
	bool		failed;
	static const char *const lists[] = {"inputs", "outputs"};

	memset(meta, 0, sizeof(*meta));
	if (root == NULL)
		return false;
	name = remote_member(root, "", "name", MAAS_JSON_STRING, true, &failed, err);
	if (name == NULL || (meta->name = remote_copy_string(name, err)) == NULL)
		return false;
	for (int l = 0; l < 2; l++)
	{
		const MaasJson *arr = remote_member(root, "", lists[l], MAAS_JSON_ARRAY, true, &failed, err);
		MaasKserveTensor *ts;

		if (arr == NULL)
			return false;
		ts = maas_kalloc_array(arr->n > 0 ? (size_t) arr->n : 1, sizeof(MaasKserveTensor));
		if (ts == NULL)
			return maas_error_nomem(err);
		for (int i = 0; i < arr->n; i++)
		{
			char		at[PATH_MAX_LEN];

			snprintf(at, sizeof(at), "%s[%d]", lists[l], i);
			if (!read_tensor_meta(&arr->u.items[i], at, &ts[i], err))
				return false;
		}
		if (l == 0)
		{
			meta->n_inputs = arr->n;
			meta->inputs = ts;
		}
		else
		{
			meta->n_outputs = arr->n;
			meta->outputs = ts;
		}
	}
	return true;
}

/* the last dimension of t, with the leading one (rows) free */
static bool
row_width_is(const MaasKserveTensor *t, int64_t want)
{
	if (t->n_dims == 1)
		return want == 1;
	return t->n_dims == 2 && (t->dims[1] == want || t->dims[1] == -1);
}

bool
maas_kserve_metadata_check(const MaasKserveMeta *meta, int n_features,
						   const char *output_name, int n_out, MaasError *err)
{
	const MaasKserveTensor *in;
	const MaasKserveTensor *out = NULL;
	char		shown[72];

	if (meta->n_inputs != 1)
		return maas_error(err, MAAS_ERR_INVALID,
						  "the remote model takes %d inputs; maas sends one tensor of features",
						  meta->n_inputs);
	in = &meta->inputs[0];
	if (strcmp(in->datatype, "FP32") != 0 && strcmp(in->datatype, "FP64") != 0)
	{
		maas_http_sanitize(in->datatype, strlen(in->datatype), 32, shown);
		return maas_error(err, MAAS_ERR_INVALID,
						  "the remote model's input has datatype \"%s\", not FP32", shown);
	}
	if (!row_width_is(in, n_features))
		return maas_error(err, MAAS_ERR_INVALID,
						  "the remote model's input does not take rows of %d features",
						  n_features);
	for (int i = 0; i < meta->n_outputs; i++)
	{
		if (output_name == NULL || strcmp(meta->outputs[i].name, output_name) == 0)
		{
			out = &meta->outputs[i];
			break;
		}
	}
	if (out == NULL)
	{
		if (output_name == NULL)
			return maas_error(err, MAAS_ERR_INVALID, "the remote model has no outputs");
		maas_http_sanitize(output_name, strlen(output_name), 64, shown);
		return maas_error(err, MAAS_ERR_INVALID, "the remote model has no output named \"%s\"",
						  shown);
	}
	if (!row_width_is(out, n_out))
		return maas_error(err, MAAS_ERR_INVALID,
						  "the remote model's output does not give %d values a row", n_out);
	return true;
}
