/*
 * onnx_tensor.c
 *		ONNX data types, TensorProto (initializers, tensor attributes,
 *		standalone .pb files: data in place from raw_data or decoded from
 *		the typed fields, external and segmented data refused), and tensor
 *		values as float or int64 for the translator.
 */
#include "onnx_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

const uint8_t onnx_empty_data[8];

static const FieldSpec tensor_fields[] = {
	{1, W_LEN | W_VARINT, "dims"}, {2, W_VARINT, "data_type"},
	{3, W_LEN, "segment"}, {4, W_LEN | W_I32, "float_data"},
	{5, W_LEN | W_VARINT, "int32_data"}, {6, W_LEN, "string_data"},
	{7, W_LEN | W_VARINT, "int64_data"}, {8, W_LEN, "name"},
	{9, W_LEN, "raw_data"}, {10, W_LEN | W_I64, "double_data"},
	{11, W_LEN | W_VARINT, "uint64_data"}, {12, W_LEN, "doc_string"},
	{13, W_LEN, "external_data"}, {14, W_VARINT, "data_location"},
};
static const FieldSpec entry_fields[] = {
	{1, W_LEN, "key"}, {2, W_LEN, "value"},
};
static const MsgSpec TensorSpec = MSG("TensorProto", tensor_fields);
static const MsgSpec EntrySpec = MSG("StringStringEntryProto", entry_fields);


/* ----------------------------------------------------------------
 *		data types and shapes
 * ----------------------------------------------------------------
 */

static const char *const dtype_names[] = {
	"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32",
	"INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64",
	"COMPLEX64", "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ",
	"FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1",
};

#define N_DTYPE_NAMES ((int32_t) (sizeof(dtype_names) / sizeof(dtype_names[0])))

const char *
maas_onnx_dtype_name(int32_t dtype)
{
	if (dtype < 0 || dtype >= N_DTYPE_NAMES)
		return "unknown";
	return dtype_names[dtype];
}

size_t
maas_onnx_dtype_size(int32_t dtype)
{
	switch (dtype)
	{
		case MAAS_ONNX_UINT8:
		case MAAS_ONNX_INT8:
		case MAAS_ONNX_BOOL:
			return 1;
		case MAAS_ONNX_UINT16:
		case MAAS_ONNX_INT16:
		case MAAS_ONNX_FLOAT16:
		case MAAS_ONNX_BFLOAT16:
			return 2;
		case MAAS_ONNX_FLOAT:
		case MAAS_ONNX_INT32:
		case MAAS_ONNX_UINT32:
			return 4;
		case MAAS_ONNX_INT64:
		case MAAS_ONNX_DOUBLE:
		case MAAS_ONNX_UINT64:
			return 8;
	}
	return 0;
}

bool
maas_onnx_st_dtype(int32_t dtype, StDtype *st)
{
	switch (dtype)
	{
		case MAAS_ONNX_FLOAT:
			*st = ST_F32;
			return true;
		case MAAS_ONNX_UINT8:
			*st = ST_U8;
			return true;
		case MAAS_ONNX_INT8:
			*st = ST_I8;
			return true;
		case MAAS_ONNX_UINT16:
			*st = ST_U16;
			return true;
		case MAAS_ONNX_INT16:
			*st = ST_I16;
			return true;
		case MAAS_ONNX_INT32:
			*st = ST_I32;
			return true;
		case MAAS_ONNX_INT64:
			*st = ST_I64;
			return true;
		case MAAS_ONNX_BOOL:
			*st = ST_BOOL;
			return true;
		case MAAS_ONNX_FLOAT16:
			*st = ST_F16;
			return true;
		case MAAS_ONNX_DOUBLE:
			*st = ST_F64;
			return true;
		case MAAS_ONNX_UINT32:
			*st = ST_U32;
			return true;
		case MAAS_ONNX_UINT64:
			*st = ST_U64;
			return true;
		case MAAS_ONNX_BFLOAT16:
			*st = ST_BF16;
			return true;
	}
	return false;
}

/* "FLOAT [2, 3]" for messages; cut quietly if it does not fit */
static void
format_type(char *dst, size_t cap, int32_t dtype, const int64_t *dims, int ndim)
{
	size_t		used;
	int			i;

	used = (size_t) snprintf(dst, cap, "%s [", maas_onnx_dtype_name(dtype));
	for (i = 0; i < ndim && used < cap; i++)
		used += (size_t) snprintf(dst + used, cap - used, "%s%" PRId64,
								  i > 0 ? ", " : "", dims[i]);
	if (used < cap)
		snprintf(dst + used, cap - used, "]");
}


/* ----------------------------------------------------------------
 *		TensorProto
 * ----------------------------------------------------------------
 */

/* the typed field that holds the values of each dtype */
static uint32_t
typed_field_of(int32_t dtype)
{
	switch (dtype)
	{
		case MAAS_ONNX_FLOAT:
			return 4;			/* float_data */
		case MAAS_ONNX_INT32:
		case MAAS_ONNX_INT16:
		case MAAS_ONNX_INT8:
		case MAAS_ONNX_UINT16:
		case MAAS_ONNX_UINT8:
		case MAAS_ONNX_BOOL:
		case MAAS_ONNX_FLOAT16:
		case MAAS_ONNX_BFLOAT16:
			return 5;			/* int32_data */
		case MAAS_ONNX_INT64:
			return 7;			/* int64_data */
		case MAAS_ONNX_DOUBLE:
			return 10;			/* double_data */
		case MAAS_ONNX_UINT32:
		case MAAS_ONNX_UINT64:
			return 11;			/* uint64_data */
	}
	return 0;
}

/* wire element size of a typed field: 0 for varints */
static size_t
typed_field_size(uint32_t number)
{
	return number == 4 ? 4 : number == 10 ? 8 : 0;
}

typedef struct TypedFill
{
	MaasOnnxTensor *t;
	uint8_t    *dst;
	size_t		n;				/* elements written */
	const char *field;
} TypedFill;

/* store one typed value into the tensor, checking it fits the dtype */
static bool
typed_store(Rd *rd, void *state, uint64_t v, size_t at)
{
	TypedFill  *fill = state;
	int32_t		dtype = fill->t->dtype;
	size_t		size = maas_onnx_dtype_size(dtype);
	uint8_t    *out = fill->dst + fill->n * size;
	int64_t		lo = 0;
	int64_t		hi = 0;
	int64_t		s = (int64_t) v;

	if (fill->n >= (size_t) fill->t->numel)
		return onnx_fail(rd, MAAS_ERR_INVALID, "%s has too many values", fill->field);

	switch (dtype)
	{
		case MAAS_ONNX_FLOAT:
		case MAAS_ONNX_DOUBLE:
		case MAAS_ONNX_INT64:
		case MAAS_ONNX_UINT64:
			memcpy(out, &v, size);	/* little-endian: the low bytes */
			fill->n++;
			return true;
		case MAAS_ONNX_INT32:
			lo = INT32_MIN, hi = INT32_MAX;
			break;
		case MAAS_ONNX_INT16:
			lo = INT16_MIN, hi = INT16_MAX;
			break;
		case MAAS_ONNX_INT8:
			lo = INT8_MIN, hi = INT8_MAX;
			break;
		case MAAS_ONNX_UINT16:
		case MAAS_ONNX_FLOAT16:
		case MAAS_ONNX_BFLOAT16:
			lo = 0, hi = UINT16_MAX;
			break;
		case MAAS_ONNX_UINT8:
			lo = 0, hi = UINT8_MAX;
			break;
		case MAAS_ONNX_BOOL:
			lo = 0, hi = 1;
			break;
		case MAAS_ONNX_UINT32:
			if (v > UINT32_MAX)
				return onnx_fail(rd, MAAS_ERR_INVALID,
							   "%s value %" PRIu64 " at byte %zu is out of range for UINT32",
							   fill->field, v, at);
			memcpy(out, &v, size);
			fill->n++;
			return true;
	}
	if (s < lo || s > hi)
		return onnx_fail(rd, MAAS_ERR_INVALID,
					   "%s value %" PRId64 " at byte %zu is out of range for %s",
					   fill->field, s, at, maas_onnx_dtype_name(dtype));
	memcpy(out, &s, size);		/* little-endian: the low bytes */
	fill->n++;
	return true;
}

/* the "location" of a tensor's external_data entries, for the message */
static bool
external_location(Rd *rd, const Field *entry, Span *location)
{
	Cursor		c = field_cursor(entry, &EntrySpec);
	Field		f;
	Span		key = {0};
	Span		value = {0};

	for (;;)
	{
		if (!onnx_pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
			key = field_span(&f);
		else if (f.number == 2)
			value = field_span(&f);
	}
	if (onnx_span_is(rd, key, "location") && value.len > 0 &&
		maas_utf8_valid(rd->buf + value.pos, value.len) &&
		memchr(rd->buf + value.pos, 0, value.len) == NULL)
		*location = value;
	return true;
}

/*
 * Read a TensorProto at span s into t.  role names the tensor in messages:
 * "initializer 3" until its name is known, then "initializer \"w\"" (no
 * number when index < 0); NULL adds nothing to the caller's context (an
 * attribute's tensor).
 */
bool
onnx_read_tensor_proto(Rd *rd, Span s, const char *role, int32_t index, MaasOnnxTensor *t)
{
	Cursor		c = cursor(s.pos, s.len, &TensorSpec);
	Field		f;
	Span		name = {0};
	Span		raw = {0};
	Span		location = {0};
	bool		segment = false;
	bool		external = false;
	int32_t		location_kind = 0;
	size_t		ndim = 0;
	size_t		counts[12] = {0};	/* by field number: typed values */
	uint32_t	want;
	uint32_t	number;
	size_t		elsize;
	int64_t		numel = 1;
	char		type[200];
	size_t		outer = rd->where_len;
	int			i;

	memset(t, 0, sizeof(*t));
	t->data = onnx_empty_data;
	if (role != NULL && index >= 0)
		onnx_where_add(rd, "%s %d", role, index);
	for (;;)
	{
		if (!onnx_pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		switch (f.number)
		{
			case 1:				/* dims */
				if (f.wire == WT_LEN)
				{
					Cursor		d = field_cursor(&f, &onnx_packed_spec);

					while (d.pos < d.end)
					{
						uint64_t	v;

						if (!onnx_pb_varint(rd, &d, &v))
							return false;
						if (ndim < MAAS_ONNX_MAX_DIMS)
							t->dims[ndim] = (int64_t) v;
						ndim++;
						rd_tick(rd);
					}
				}
				else
				{
					if (ndim < MAAS_ONNX_MAX_DIMS)
						t->dims[ndim] = (int64_t) f.value;
					ndim++;
				}
				break;
			case 2:
				if (!onnx_pb_int32(rd, &f, &t->dtype))
					return false;
				break;
			case 3:
				segment = true;
				break;
			case 4:
			case 5:
			case 7:
			case 10:
			case 11:
				if (!onnx_pb_count(rd, &f, typed_field_size(f.number), &counts[f.number]))
					return false;
				break;
			case 6:
				counts[6]++;
				break;
			case 8:
				name = field_span(&f);
				break;
			case 9:
				raw = field_span(&f);
				break;
			case 13:
				external = true;
				if (!external_location(rd, &f, &location))
					return false;
				break;
			case 14:
				if (!onnx_pb_int32(rd, &f, &location_kind))
					return false;
				break;
		}
	}

	if (!onnx_rd_name(rd, name, &t->name, "the name"))
		return false;
	onnx_where_set(rd, outer);
	if (role != NULL && t->name[0] != '\0')
		onnx_where_add(rd, "%s \"%.*s\"", role, onnx_show_len(t->name), t->name);
	else if (role != NULL && index >= 0)
		onnx_where_add(rd, "%s %d", role, index);

	if (segment)
		return onnx_fail(rd, MAAS_ERR_UNSUPPORTED, "segmented tensors are not supported");
	if (location_kind != 0 && location_kind != 1)
		return onnx_fail(rd, MAAS_ERR_INVALID, "data_location %d is not DEFAULT (0) or EXTERNAL (1)",
					   location_kind);
	if (location_kind == 1 || external)
	{
		if (location.set)
			onnx_fail(rd, MAAS_ERR_UNSUPPORTED,
					"data is in the external file \"%.*s\"; external data is not supported",
					(int) onnx_utf8_trim((const char *) rd->buf + location.pos,
									location.len > SHOW_NAME ? SHOW_NAME : location.len),
					(const char *) rd->buf + location.pos);
		else
			onnx_fail(rd, MAAS_ERR_UNSUPPORTED,
					"data is in an external file; external data is not supported");
		return maas_error_hint(rd->err,
							   "Save the model with its weights inside it: onnx.save(model, path, save_as_external_data=False).");
	}
	if (t->dtype == MAAS_ONNX_UNDEFINED)
		return onnx_fail(rd, MAAS_ERR_INVALID, "no data type");
	elsize = maas_onnx_dtype_size(t->dtype);
	if (elsize == 0)
	{
		if (t->dtype < 0 || t->dtype >= N_DTYPE_NAMES)
			return onnx_fail(rd, MAAS_ERR_UNSUPPORTED, "data type %d is not supported", t->dtype);
		return onnx_fail(rd, MAAS_ERR_UNSUPPORTED, "data type %s is not supported",
					   maas_onnx_dtype_name(t->dtype));
	}
	if (ndim > MAAS_ONNX_MAX_DIMS)
		return onnx_fail(rd, MAAS_ERR_LIMIT, "%zu dimensions, more than the %d supported",
					   ndim, MAAS_ONNX_MAX_DIMS);
	t->ndim = (int32_t) ndim;
	for (i = 0; i < t->ndim; i++)
	{
		if (t->dims[i] < 0)
			return onnx_fail(rd, MAAS_ERR_INVALID, "dimension %d is %" PRId64, i, t->dims[i]);
	}
	format_type(type, sizeof(type), t->dtype, t->dims, t->ndim);
	for (i = 0; i < t->ndim; i++)
	{
		if (__builtin_mul_overflow(numel, t->dims[i], &numel))
			return onnx_fail(rd, MAAS_ERR_LIMIT, "%s has too many elements", type);
	}
	if (!maas_mul_size((size_t) numel, elsize, &t->nbytes) || t->nbytes > SIZE_MAX / 2)
		return onnx_fail(rd, MAAS_ERR_LIMIT, "%s has too many elements", type);
	t->numel = numel;

	want = typed_field_of(t->dtype);
	for (number = 4; number <= 11; number++)
	{
		const FieldSpec *fs = onnx_spec_field(&TensorSpec, number);

		if (counts[number] == 0 || number == 8 || number == 9)
			continue;
		if (raw.set)
			return onnx_fail(rd, MAAS_ERR_INVALID, "both raw_data and %s", fs->name);
		if (number != want)
			return onnx_fail(rd, MAAS_ERR_INVALID, "%s tensor has %s, expected its values in %s",
						   maas_onnx_dtype_name(t->dtype), fs->name,
						   onnx_spec_field(&TensorSpec, want)->name);
	}

	if (raw.set)
	{
		if (raw.len != t->nbytes)
			return onnx_fail(rd, MAAS_ERR_INVALID, "raw_data has %zu bytes but %s needs %zu",
						   raw.len, type, t->nbytes);
		if (raw.len > 0)
		{
			t->data = rd->buf + raw.pos;
			t->in_place = true;
			t->offset = raw.pos;
		}
		onnx_where_set(rd, outer);
		return true;
	}
	if (counts[want] != (size_t) numel)
		return onnx_fail(rd, MAAS_ERR_INVALID, "%s has %zu values but %s has %" PRId64 " elements",
					   onnx_spec_field(&TensorSpec, want)->name, counts[want], type, numel);
	if (numel > 0)
	{
		TypedFill	fill;

		fill.t = t;
		fill.n = 0;
		fill.field = onnx_spec_field(&TensorSpec, want)->name;
		if ((fill.dst = onnx_alloc(rd, t->nbytes)) == NULL)
			return false;
		c = cursor(s.pos, s.len, &TensorSpec);
		for (;;)
		{
			if (!onnx_pb_next(rd, &c, &f))
				return false;
			if (f.number == 0)
				break;
			if (f.number == want &&
				!onnx_pb_elements(rd, &f, typed_field_size(want), typed_store, &fill))
				return false;
		}
		t->data = fill.dst;
	}
	onnx_where_set(rd, outer);
	return true;
}


/* ----------------------------------------------------------------
 *		tensor values
 * ----------------------------------------------------------------
 */

bool
maas_onnx_tensor_f32(const MaasOnnxTensor *t, float *dst, MaasError *err)
{
	StTensor	st;

	memset(&st, 0, sizeof(st));
	if (t->dtype != MAAS_ONNX_FLOAT && t->dtype != MAAS_ONNX_FLOAT16 &&
		t->dtype != MAAS_ONNX_BFLOAT16 && t->dtype != MAAS_ONNX_DOUBLE)
		return maas_error(err, MAAS_ERR_UNSUPPORTED,
						  "tensor \"%.*s\" of type %s is not floating point",
						  onnx_show_len(t->name), t->name, maas_onnx_dtype_name(t->dtype));
	(void) maas_onnx_st_dtype(t->dtype, &st.dtype);
	st.numel = t->numel;
	st.nbytes = t->nbytes;
	st.data = t->data;
	return st_to_f32(&st, dst);
}

bool
maas_onnx_tensor_i64(const MaasOnnxTensor *t, int64_t *dst, MaasError *err)
{
	const uint8_t *p = t->data;
	int64_t		i;

	if (t->dtype == MAAS_ONNX_FLOAT || t->dtype == MAAS_ONNX_FLOAT16 ||
		t->dtype == MAAS_ONNX_BFLOAT16 || t->dtype == MAAS_ONNX_DOUBLE ||
		maas_onnx_dtype_size(t->dtype) == 0)
		return maas_error(err, MAAS_ERR_UNSUPPORTED,
						  "tensor \"%.*s\" of type %s is not an integer tensor",
						  onnx_show_len(t->name), t->name, maas_onnx_dtype_name(t->dtype));
	for (i = 0; i < t->numel; i++)
	{
		switch (t->dtype)
		{
			case MAAS_ONNX_INT8:
				dst[i] = (int8_t) p[i];
				break;
			case MAAS_ONNX_UINT8:
			case MAAS_ONNX_BOOL:
				dst[i] = p[i];
				break;
			case MAAS_ONNX_INT16:
				{
					int16_t		v;

					memcpy(&v, p + 2 * i, 2);
					dst[i] = v;
					break;
				}
			case MAAS_ONNX_UINT16:
				{
					uint16_t	v;

					memcpy(&v, p + 2 * i, 2);
					dst[i] = v;
					break;
				}
			case MAAS_ONNX_INT32:
				{
					int32_t		v;

					memcpy(&v, p + 4 * i, 4);
					dst[i] = v;
					break;
				}
			case MAAS_ONNX_UINT32:
				{
					uint32_t	v;

					memcpy(&v, p + 4 * i, 4);
					dst[i] = v;
					break;
				}
			case MAAS_ONNX_INT64:
				memcpy(&dst[i], p + 8 * i, 8);
				break;
			case MAAS_ONNX_UINT64:
				{
					uint64_t	v;

					memcpy(&v, p + 8 * i, 8);
					if (v > INT64_MAX)
						return maas_error(err, MAAS_ERR_UNSUPPORTED,
										  "tensor \"%.*s\": value %" PRIu64 " does not fit in int64",
										  onnx_show_len(t->name), t->name, v);
					dst[i] = (int64_t) v;
					break;
				}
		}
	}
	return true;
}
