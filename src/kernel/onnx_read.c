/*
 * onnx_read.c
 *		A checked, hand-written decoder of the subset of onnx.proto that
 *		maas imports: ModelProto, GraphProto, NodeProto, AttributeProto,
 *		TensorProto, ValueInfoProto/TypeProto shapes and opset imports,
 *		plus standalone TensorProto files.  Then the graph checks (names,
 *		producers, topological order) and the lookups the translator uses.
 *
 * Why not protobuf-c.  Debian ships onnx.proto and protobuf-c 1.4.1, which
 * would generate a reader at build time.  Measured on two ~100 MB models
 * that torch.onnx.export wrote (make -C test/onnx bench; rough figures, a
 * loaded 2-core machine): reading the file takes 50-180 ms; protobuf-c's
 * unpack takes another 15-200 ms and allocates a second copy of the model,
 * because it copies every bytes field (raw_data); this decoder takes
 * 0.04-0.3 ms and allocates 4-62 KB, because raw_data is used in place.
 * Beyond the memory, protobuf-c's unpack returns NULL without saying why or
 * where, so the errors maas must give ("truncated protobuf at byte N",
 * "node 12 (Conv ...)") would need a second decoder anyway; it recurses on
 * nested messages without a depth bound; and it adds three build
 * dependencies (libonnx-dev for the schema, protobuf-c-compiler,
 * libprotobuf-c-dev) and a code-generation rule.  The subset is small and
 * its wire format simple, so it is decoded here, against the field numbers
 * and types of onnx.proto (IR version 8, ONNX 1.12).
 *
 * How it reads.  The protobuf wire format allows fields in any order and
 * repeated fields interleaved, so each message is walked twice: the first
 * walk checks every tag, wire type, varint and length, keeps the last value
 * of each singular field (protobuf's rule) and counts the repeated ones; the
 * arrays are then allocated at their exact sizes and the second walk fills
 * them.  Singular embedded messages (a model's graph, a value's type) given
 * twice are refused rather than merged.  Nothing recurses: each message
 * type has its own reader, and subgraphs (the only recursive part of the
 * schema that maas meets) are refused or skipped whole.  Unknown fields are
 * skipped by their wire type; groups (wire types 3 and 4, absent from
 * onnx.proto) are refused.
 *
 * Every allocation is charged against a budget (MaasOnnxOptions), so a
 * small crafted file cannot make the reader allocate without bound: counts
 * are capped by the limits of onnx.h, and the rest is at most a small
 * multiple of the buffer.
 */
#include "onnx.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnx_read.c assumes a little-endian host (raw_data is little-endian)"
#endif

/* how often maas_tick() is called: every TICK_EVERY fields or elements */
#define TICK_EVERY		4096
/* longest name shown in a message, in bytes */
#define SHOW_NAME		96

static const uint8_t empty_data[8];


/* ----------------------------------------------------------------
 *		the reader: budget, ticks, messages with their context
 * ----------------------------------------------------------------
 */

typedef struct Rd
{
	const uint8_t *buf;
	size_t		len;
	uint32_t	flags;
	size_t		budget;			/* bytes left to allocate */
	size_t		max_memory;
	const MaasTick *tick;
	uint32_t	ticks;
	MaasError  *err;
	char		where[176];		/* "node 3 (Conv \"c\"), attribute \"pads\"" */
	size_t		where_len;
} Rd;

/* a span of the buffer: a length-delimited field's payload */
typedef struct Span
{
	size_t		pos;
	size_t		len;
	bool		set;
} Span;

static inline void
rd_tick(Rd *rd)
{
	if (++rd->ticks % TICK_EVERY == 0)
		maas_tick(rd->tick);
}

/* bytes of s to show in a message: at most SHOW_NAME, whole characters */
static int
show_len(const char *s)
{
	size_t		n = strlen(s);

	if (n <= SHOW_NAME)
		return (int) n;
	n = SHOW_NAME;
	while (n > 0 && ((uint8_t) s[n] & 0xC0) == 0x80)
		n--;
	return (int) n;
}

/* drop a partial UTF-8 sequence that a cut left at the end of s[0 .. len) */
static size_t
utf8_trim(const char *s, size_t len)
{
	size_t		i = len;

	while (i > 0 && len - i < 4 && ((uint8_t) s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i > 0 && ((uint8_t) s[i - 1] & 0x80) != 0)
	{
		uint8_t		lead = (uint8_t) s[i - 1];
		size_t		need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;

		if (len - (i - 1) < need)
			return i - 1;
	}
	return len;
}

static void where_add(Rd *rd, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* append to the context of messages (", " between parts) */
static void
where_add(Rd *rd, const char *fmt,...)
{
	va_list		ap;
	size_t		cap = sizeof(rd->where);
	size_t		n = rd->where_len;
	int			k;

	if (n > 0 && n + 2 < cap)
	{
		rd->where[n++] = ',';
		rd->where[n++] = ' ';
	}
	if (n + 1 >= cap)
		return;
	va_start(ap, fmt);
	k = vsnprintf(rd->where + n, cap - n, fmt, ap);
	va_end(ap);
	if (k < 0)
		k = 0;
	n = (size_t) k >= cap - n ? cap - 1 : n + (size_t) k;
	n = utf8_trim(rd->where, n);
	rd->where[n] = '\0';
	rd->where_len = n;
}

static void
where_set(Rd *rd, size_t len)
{
	rd->where_len = len;
	rd->where[len] = '\0';
}

static bool rd_fail(Rd *rd, MaasStatus status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* record an error, prefixed by the context, and return false */
static bool
rd_fail(Rd *rd, MaasStatus status, const char *fmt,...)
{
	char		msg[MAAS_ERRLEN];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rd->where_len > 0)
		return maas_error(rd->err, status, "%s: %s", rd->where, msg);
	return maas_error(rd->err, status, "%s", msg);
}

static void *
rd_alloc(Rd *rd, size_t size)
{
	void	   *p;

	if (size > rd->budget)
	{
		maas_error(rd->err, MAAS_ERR_LIMIT,
				   "reading the model needs more than %zu bytes of memory",
				   rd->max_memory);
		return NULL;
	}
	p = maas_kalloc(size > 0 ? size : 1);
	if (p == NULL)
	{
		maas_error_nomem(rd->err);
		return NULL;
	}
	rd->budget -= size;
	return p;
}

static void *
rd_alloc_array(Rd *rd, size_t n, size_t size)
{
	size_t		bytes;

	if (!maas_mul_size(n, size, &bytes))
	{
		maas_error(rd->err, MAAS_ERR_LIMIT,
				   "reading the model needs more than %zu bytes of memory",
				   rd->max_memory);
		return NULL;
	}
	return rd_alloc(rd, bytes);
}


/* ----------------------------------------------------------------
 *		the wire format
 * ----------------------------------------------------------------
 */

enum
{
	WT_VARINT = 0,
	WT_I64 = 1,
	WT_LEN = 2,
	WT_SGROUP = 3,
	WT_EGROUP = 4,
	WT_I32 = 5
};

/* sets of wire types a field accepts */
#define W_VARINT	(1u << WT_VARINT)
#define W_I64		(1u << WT_I64)
#define W_LEN		(1u << WT_LEN)
#define W_I32		(1u << WT_I32)

typedef struct FieldSpec
{
	uint32_t	number;
	uint32_t	wires;			/* the wire types accepted (packed: two) */
	const char *name;
} FieldSpec;

typedef struct MsgSpec
{
	const char *name;
	const FieldSpec *fields;
	int			n_fields;
} MsgSpec;

#define MSG(name, fields) {name, fields, (int) (sizeof(fields) / sizeof(fields[0]))}

static const FieldSpec model_fields[] = {
	{1, W_VARINT, "ir_version"}, {2, W_LEN, "producer_name"},
	{3, W_LEN, "producer_version"}, {4, W_LEN, "domain"},
	{5, W_VARINT, "model_version"}, {6, W_LEN, "doc_string"},
	{7, W_LEN, "graph"}, {8, W_LEN, "opset_import"},
	{14, W_LEN, "metadata_props"}, {20, W_LEN, "training_info"},
	{25, W_LEN, "functions"},
};
static const FieldSpec opset_fields[] = {
	{1, W_LEN, "domain"}, {2, W_VARINT, "version"},
};
static const FieldSpec graph_fields[] = {
	{1, W_LEN, "node"}, {2, W_LEN, "name"}, {5, W_LEN, "initializer"},
	{10, W_LEN, "doc_string"}, {11, W_LEN, "input"}, {12, W_LEN, "output"},
	{13, W_LEN, "value_info"}, {14, W_LEN, "quantization_annotation"},
	{15, W_LEN, "sparse_initializer"},
};
static const FieldSpec node_fields[] = {
	{1, W_LEN, "input"}, {2, W_LEN, "output"}, {3, W_LEN, "name"},
	{4, W_LEN, "op_type"}, {5, W_LEN, "attribute"}, {6, W_LEN, "doc_string"},
	{7, W_LEN, "domain"},
};
static const FieldSpec attr_fields[] = {
	{1, W_LEN, "name"}, {2, W_I32, "f"}, {3, W_VARINT, "i"}, {4, W_LEN, "s"},
	{5, W_LEN, "t"}, {6, W_LEN, "g"}, {7, W_LEN | W_I32, "floats"},
	{8, W_LEN | W_VARINT, "ints"}, {9, W_LEN, "strings"},
	{10, W_LEN, "tensors"}, {11, W_LEN, "graphs"}, {13, W_LEN, "doc_string"},
	{14, W_LEN, "tp"}, {15, W_LEN, "type_protos"}, {20, W_VARINT, "type"},
	{21, W_LEN, "ref_attr_name"}, {22, W_LEN, "sparse_tensor"},
	{23, W_LEN, "sparse_tensors"},
};
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
static const FieldSpec value_info_fields[] = {
	{1, W_LEN, "name"}, {2, W_LEN, "type"}, {3, W_LEN, "doc_string"},
};
static const FieldSpec type_fields[] = {
	{1, W_LEN, "tensor_type"}, {4, W_LEN, "sequence_type"},
	{5, W_LEN, "map_type"}, {6, W_LEN, "denotation"},
	{8, W_LEN, "sparse_tensor_type"}, {9, W_LEN, "optional_type"},
};
static const FieldSpec type_tensor_fields[] = {
	{1, W_VARINT, "elem_type"}, {2, W_LEN, "shape"},
};
static const FieldSpec shape_fields[] = {
	{1, W_LEN, "dim"},
};
static const FieldSpec dim_fields[] = {
	{1, W_VARINT, "dim_value"}, {2, W_LEN, "dim_param"},
	{3, W_LEN, "denotation"},
};

static const MsgSpec ModelSpec = MSG("ModelProto", model_fields);
static const MsgSpec OpsetSpec = MSG("OperatorSetIdProto", opset_fields);
static const MsgSpec GraphSpec = MSG("GraphProto", graph_fields);
static const MsgSpec NodeSpec = MSG("NodeProto", node_fields);
static const MsgSpec AttrSpec = MSG("AttributeProto", attr_fields);
static const MsgSpec TensorSpec = MSG("TensorProto", tensor_fields);
static const MsgSpec EntrySpec = MSG("StringStringEntryProto", entry_fields);
static const MsgSpec ValueInfoSpec = MSG("ValueInfoProto", value_info_fields);
static const MsgSpec TypeSpec = MSG("TypeProto", type_fields);
static const MsgSpec TypeTensorSpec = MSG("TypeProto.Tensor", type_tensor_fields);
static const MsgSpec ShapeSpec = MSG("TensorShapeProto", shape_fields);
static const MsgSpec DimSpec = MSG("TensorShapeProto.Dimension", dim_fields);
/* the payload of a packed repeated field, for messages */
static const MsgSpec PackedSpec = {"packed field", NULL, 0};

/* a message being walked: [pos, end) of the buffer */
typedef struct Cursor
{
	size_t		pos;
	size_t		end;
	const MsgSpec *spec;
} Cursor;

typedef struct Field
{
	uint32_t	number;			/* 0 at the end of the message */
	int			wire;
	size_t		at;				/* offset of its tag */
	uint64_t	value;			/* VARINT, I64, I32 */
	size_t		pos;			/* LEN: offset of the payload */
	size_t		len;			/* LEN: its length */
	const FieldSpec *known;		/* NULL for a field onnx.proto does not have */
} Field;

static inline Cursor
cursor(size_t pos, size_t len, const MsgSpec *spec)
{
	Cursor		c = {pos, pos + len, spec};

	return c;
}

static inline Cursor
field_cursor(const Field *f, const MsgSpec *spec)
{
	return cursor(f->pos, f->len, spec);
}

static inline Span
field_span(const Field *f)
{
	Span		s = {f->pos, f->len, true};

	return s;
}

static bool
pb_varint(Rd *rd, Cursor *c, uint64_t *value)
{
	size_t		start = c->pos;
	uint64_t	v = 0;
	int			i;

	for (i = 0; i < 10; i++)
	{
		uint8_t		b;

		if (c->pos >= c->end)
			return rd_fail(rd, MAAS_ERR_INVALID,
						   "truncated protobuf at byte %zu: varint past the end of the %s",
						   start, c->spec->name);
		b = rd->buf[c->pos++];
		if (i == 9)
		{
			if (b & 0x80)
				return rd_fail(rd, MAAS_ERR_INVALID,
							   "invalid protobuf at byte %zu: varint longer than 10 bytes",
							   start);
			if (b > 1)
				return rd_fail(rd, MAAS_ERR_INVALID,
							   "invalid protobuf at byte %zu: varint overflows 64 bits",
							   start);
		}
		v |= (uint64_t) (b & 0x7F) << (7 * i);
		if ((b & 0x80) == 0)
			break;
	}
	*value = v;
	return true;
}

static const FieldSpec *
spec_field(const MsgSpec *spec, uint32_t number)
{
	int			i;

	for (i = 0; i < spec->n_fields; i++)
	{
		if (spec->fields[i].number == number)
			return &spec->fields[i];
	}
	return NULL;
}

static const char *
wires_name(uint32_t wires)
{
	switch (wires)
	{
		case W_VARINT:
			return "0 (varint)";
		case W_I64:
			return "1 (64-bit)";
		case W_LEN:
			return "2 (length-delimited)";
		case W_I32:
			return "5 (32-bit)";
		case W_LEN | W_VARINT:
			return "0 or 2 (packed)";
		case W_LEN | W_I32:
			return "5 or 2 (packed)";
		case W_LEN | W_I64:
			return "1 or 2 (packed)";
	}
	return "?";
}

/*
 * Read the next field of the message under c.  At the end of the message
 * f->number is 0.  Checks the tag, the wire type (against onnx.proto for a
 * known field), and that the value lies within the message.
 */
static bool
pb_next(Rd *rd, Cursor *c, Field *f)
{
	uint64_t	tag;
	uint64_t	number;

	f->number = 0;
	f->known = NULL;
	if (c->pos >= c->end)
		return true;
	rd_tick(rd);
	f->at = c->pos;
	if (!pb_varint(rd, c, &tag))
		return false;
	number = tag >> 3;
	f->wire = (int) (tag & 7);
	if (number == 0 || number > 0x1FFFFFFF)
		return rd_fail(rd, MAAS_ERR_INVALID,
					   "invalid protobuf at byte %zu: field number %" PRIu64 " in %s",
					   f->at, number, c->spec->name);
	f->known = spec_field(c->spec, (uint32_t) number);
	if (f->known != NULL && (f->known->wires & (1u << f->wire)) == 0)
		return rd_fail(rd, MAAS_ERR_INVALID,
					   "invalid protobuf at byte %zu: field %" PRIu64 " (%s) of %s has wire type %d, expected %s",
					   f->at, number, f->known->name, c->spec->name, f->wire,
					   wires_name(f->known->wires));
	switch (f->wire)
	{
		case WT_VARINT:
			if (!pb_varint(rd, c, &f->value))
				return false;
			break;
		case WT_I64:
		case WT_I32:
			{
				size_t		k = f->wire == WT_I64 ? 8 : 4;

				if (c->end - c->pos < k)
					return rd_fail(rd, MAAS_ERR_INVALID,
								   "truncated protobuf at byte %zu: %zu-byte value past the end of the %s",
								   c->pos, k, c->spec->name);
				f->value = 0;
				memcpy(&f->value, rd->buf + c->pos, k);
				c->pos += k;
				break;
			}
		case WT_LEN:
			{
				size_t		at = c->pos;
				uint64_t	len;

				if (!pb_varint(rd, c, &len))
					return false;
				if (len > c->end - c->pos)
					return rd_fail(rd, MAAS_ERR_INVALID,
								   "truncated protobuf at byte %zu: length %" PRIu64 " past the end (%zu bytes left in the %s)",
								   at, len, c->end - c->pos, c->spec->name);
				f->pos = c->pos;
				f->len = (size_t) len;
				c->pos += (size_t) len;
				break;
			}
		case WT_SGROUP:
		case WT_EGROUP:
			return rd_fail(rd, MAAS_ERR_INVALID,
						   "invalid protobuf at byte %zu: group (wire type %d) in %s",
						   f->at, f->wire, c->spec->name);
		default:
			return rd_fail(rd, MAAS_ERR_INVALID,
						   "invalid protobuf at byte %zu: wire type %d in %s",
						   f->at, f->wire, c->spec->name);
	}
	f->number = (uint32_t) number;
	return true;
}

/* a varint field declared int32 (or an enum): sign-extended on the wire */
static bool
pb_int32(Rd *rd, const Field *f, int32_t *out)
{
	int64_t		v = (int64_t) f->value;

	if (v < INT32_MIN || v > INT32_MAX)
		return rd_fail(rd, MAAS_ERR_INVALID,
					   "invalid protobuf at byte %zu: %s %" PRId64 " is out of range for int32",
					   f->at, f->known ? f->known->name : "value", v);
	*out = (int32_t) v;
	return true;
}

/*
 * Count the elements one occurrence of a repeated scalar field adds: one
 * when not packed, else the varints or fixed-size values of its payload.
 * size is 0 for varint elements.
 */
static bool
pb_count(Rd *rd, const Field *f, size_t size, size_t *count)
{
	size_t		n = 0;
	size_t		i;

	if (f->wire != WT_LEN)
	{
		*count += 1;
		return true;
	}
	if (size > 0)
	{
		if (f->len % size != 0)
			return rd_fail(rd, MAAS_ERR_INVALID,
						   "invalid protobuf at byte %zu: packed %s of %zu bytes is not a multiple of %zu",
						   f->at, f->known->name, f->len, size);
		*count += f->len / size;
		return true;
	}
	/* each varint ends with the one byte of it whose top bit is clear */
	for (i = 0; i < f->len; i++)
	{
		if ((rd->buf[f->pos + i] & 0x80) == 0)
			n++;
	}
	if (f->len > 0 && (rd->buf[f->pos + f->len - 1] & 0x80) != 0)
		return rd_fail(rd, MAAS_ERR_INVALID,
					   "truncated protobuf at byte %zu: varint past the end of packed %s",
					   f->pos + f->len - 1, f->known->name);
	*count += n;
	return true;
}

/*
 * Visit the elements of one occurrence of a repeated scalar field (as
 * counted by pb_count), each as its raw 64-bit value, appending through fn.
 */
typedef bool (*ElemFn) (Rd *rd, void *state, uint64_t value, size_t at);

static bool
pb_elements(Rd *rd, const Field *f, size_t size, ElemFn fn, void *state)
{
	Cursor		c;
	uint32_t	ticks = 0;

	if (f->wire != WT_LEN)
		return fn(rd, state, f->value, f->at);
	c = field_cursor(f, &PackedSpec);
	while (c.pos < c.end)
	{
		size_t		at = c.pos;
		uint64_t	v = 0;

		if (++ticks % (16 * TICK_EVERY) == 0)
			maas_tick(rd->tick);
		if (size == 0)
		{
			if (!pb_varint(rd, &c, &v))
				return false;
		}
		else
		{
			memcpy(&v, rd->buf + c.pos, size);
			c.pos += size;
		}
		if (!fn(rd, state, v, at))
			return false;
	}
	return true;
}

/* copy a string field, which must be valid UTF-8 without NUL bytes */
static bool
rd_name(Rd *rd, Span s, const char **out, const char *what)
{
	const uint8_t *p = rd->buf + s.pos;
	char	   *copy;

	if (!s.set || s.len == 0)
	{
		*out = "";
		return true;
	}
	if (memchr(p, 0, s.len) != NULL)
		return rd_fail(rd, MAAS_ERR_INVALID, "%s contains a NUL byte", what);
	if (!maas_utf8_valid(p, s.len))
		return rd_fail(rd, MAAS_ERR_INVALID, "%s is not valid UTF-8", what);
	if (s.len == SIZE_MAX || (copy = rd_alloc(rd, s.len + 1)) == NULL)
		return false;
	memcpy(copy, p, s.len);
	copy[s.len] = '\0';
	*out = copy;
	return true;
}

/* copy a bytes field, NUL-terminated (it may hold NUL bytes itself) */
static bool
rd_bytes(Rd *rd, Span s, const char **out, size_t *len)
{
	char	   *copy;

	*len = s.set ? s.len : 0;
	if (*len == 0)
	{
		*out = "";
		return true;
	}
	if ((copy = rd_alloc(rd, s.len + 1)) == NULL)
		return false;
	memcpy(copy, rd->buf + s.pos, s.len);
	copy[s.len] = '\0';
	*out = copy;
	return true;
}

/* does the span hold exactly the bytes of word */
static bool
span_is(const Rd *rd, Span s, const char *word)
{
	size_t		n = strlen(word);

	return s.set && s.len == n && memcmp(rd->buf + s.pos, word, n) == 0;
}


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
		return rd_fail(rd, MAAS_ERR_INVALID, "%s has too many values", fill->field);

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
				return rd_fail(rd, MAAS_ERR_INVALID,
							   "%s value %" PRIu64 " at byte %zu is out of range for UINT32",
							   fill->field, v, at);
			memcpy(out, &v, size);
			fill->n++;
			return true;
	}
	if (s < lo || s > hi)
		return rd_fail(rd, MAAS_ERR_INVALID,
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
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
			key = field_span(&f);
		else if (f.number == 2)
			value = field_span(&f);
	}
	if (span_is(rd, key, "location") && value.len > 0 &&
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
static bool
read_tensor(Rd *rd, Span s, const char *role, int32_t index, MaasOnnxTensor *t)
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
	t->data = empty_data;
	if (role != NULL && index >= 0)
		where_add(rd, "%s %d", role, index);
	for (;;)
	{
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		switch (f.number)
		{
			case 1:				/* dims */
				if (f.wire == WT_LEN)
				{
					Cursor		d = field_cursor(&f, &PackedSpec);

					while (d.pos < d.end)
					{
						uint64_t	v;

						if (!pb_varint(rd, &d, &v))
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
				if (!pb_int32(rd, &f, &t->dtype))
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
				if (!pb_count(rd, &f, typed_field_size(f.number), &counts[f.number]))
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
				if (!pb_int32(rd, &f, &location_kind))
					return false;
				break;
		}
	}

	if (!rd_name(rd, name, &t->name, "the name"))
		return false;
	where_set(rd, outer);
	if (role != NULL && t->name[0] != '\0')
		where_add(rd, "%s \"%.*s\"", role, show_len(t->name), t->name);
	else if (role != NULL && index >= 0)
		where_add(rd, "%s %d", role, index);

	if (segment)
		return rd_fail(rd, MAAS_ERR_UNSUPPORTED, "segmented tensors are not supported");
	if (location_kind != 0 && location_kind != 1)
		return rd_fail(rd, MAAS_ERR_INVALID, "data_location %d is not DEFAULT (0) or EXTERNAL (1)",
					   location_kind);
	if (location_kind == 1 || external)
	{
		if (location.set)
			rd_fail(rd, MAAS_ERR_UNSUPPORTED,
					"data is in the external file \"%.*s\"; external data is not supported",
					(int) utf8_trim((const char *) rd->buf + location.pos,
									location.len > SHOW_NAME ? SHOW_NAME : location.len),
					(const char *) rd->buf + location.pos);
		else
			rd_fail(rd, MAAS_ERR_UNSUPPORTED,
					"data is in an external file; external data is not supported");
		return maas_error_hint(rd->err,
							   "Save the model with its weights inside it: onnx.save(model, path, save_as_external_data=False).");
	}
	if (t->dtype == MAAS_ONNX_UNDEFINED)
		return rd_fail(rd, MAAS_ERR_INVALID, "no data type");
	elsize = maas_onnx_dtype_size(t->dtype);
	if (elsize == 0)
	{
		if (t->dtype < 0 || t->dtype >= N_DTYPE_NAMES)
			return rd_fail(rd, MAAS_ERR_UNSUPPORTED, "data type %d is not supported", t->dtype);
		return rd_fail(rd, MAAS_ERR_UNSUPPORTED, "data type %s is not supported",
					   maas_onnx_dtype_name(t->dtype));
	}
	if (ndim > MAAS_ONNX_MAX_DIMS)
		return rd_fail(rd, MAAS_ERR_LIMIT, "%zu dimensions, more than the %d supported",
					   ndim, MAAS_ONNX_MAX_DIMS);
	t->ndim = (int32_t) ndim;
	for (i = 0; i < t->ndim; i++)
	{
		if (t->dims[i] < 0)
			return rd_fail(rd, MAAS_ERR_INVALID, "dimension %d is %" PRId64, i, t->dims[i]);
	}
	format_type(type, sizeof(type), t->dtype, t->dims, t->ndim);
	for (i = 0; i < t->ndim; i++)
	{
		if (__builtin_mul_overflow(numel, t->dims[i], &numel))
			return rd_fail(rd, MAAS_ERR_LIMIT, "%s has too many elements", type);
	}
	if (!maas_mul_size((size_t) numel, elsize, &t->nbytes) || t->nbytes > SIZE_MAX / 2)
		return rd_fail(rd, MAAS_ERR_LIMIT, "%s has too many elements", type);
	t->numel = numel;

	want = typed_field_of(t->dtype);
	for (number = 4; number <= 11; number++)
	{
		const FieldSpec *fs = spec_field(&TensorSpec, number);

		if (counts[number] == 0 || number == 8 || number == 9)
			continue;
		if (raw.set)
			return rd_fail(rd, MAAS_ERR_INVALID, "both raw_data and %s", fs->name);
		if (number != want)
			return rd_fail(rd, MAAS_ERR_INVALID, "%s tensor has %s, expected its values in %s",
						   maas_onnx_dtype_name(t->dtype), fs->name,
						   spec_field(&TensorSpec, want)->name);
	}

	if (raw.set)
	{
		if (raw.len != t->nbytes)
			return rd_fail(rd, MAAS_ERR_INVALID, "raw_data has %zu bytes but %s needs %zu",
						   raw.len, type, t->nbytes);
		if (raw.len > 0)
		{
			t->data = rd->buf + raw.pos;
			t->in_place = true;
			t->offset = raw.pos;
		}
		where_set(rd, outer);
		return true;
	}
	if (counts[want] != (size_t) numel)
		return rd_fail(rd, MAAS_ERR_INVALID, "%s has %zu values but %s has %" PRId64 " elements",
					   spec_field(&TensorSpec, want)->name, counts[want], type, numel);
	if (numel > 0)
	{
		TypedFill	fill;

		fill.t = t;
		fill.n = 0;
		fill.field = spec_field(&TensorSpec, want)->name;
		if ((fill.dst = rd_alloc(rd, t->nbytes)) == NULL)
			return false;
		c = cursor(s.pos, s.len, &TensorSpec);
		for (;;)
		{
			if (!pb_next(rd, &c, &f))
				return false;
			if (f.number == 0)
				break;
			if (f.number == want &&
				!pb_elements(rd, &f, typed_field_size(want), typed_store, &fill))
				return false;
		}
		t->data = fill.dst;
	}
	where_set(rd, outer);
	return true;
}


/* ----------------------------------------------------------------
 *		ValueInfoProto and TypeProto
 * ----------------------------------------------------------------
 */

static bool
read_shape(Rd *rd, Span s, MaasOnnxValueInfo *v)
{
	Cursor		c = cursor(s.pos, s.len, &ShapeSpec);
	Field		f;
	size_t		n = 0;
	MaasOnnxDim *dims;

	for (;;)
	{
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
			n++;
	}
	if (n > MAAS_ONNX_MAX_RANK)
		return rd_fail(rd, MAAS_ERR_LIMIT, "%zu dimensions, more than the %d supported",
					   n, MAAS_ONNX_MAX_RANK);
	if ((dims = rd_alloc_array(rd, n, sizeof(MaasOnnxDim))) == NULL)
		return false;
	n = 0;
	c = cursor(s.pos, s.len, &ShapeSpec);
	for (;;)
	{
		Cursor		d;
		Field		g;
		Span		param = {0};
		bool		has_value = false;
		char		what[48];

		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number != 1)
			continue;
		dims[n].value = -1;
		dims[n].param = NULL;
		d = field_cursor(&f, &DimSpec);
		for (;;)
		{
			if (!pb_next(rd, &d, &g))
				return false;
			if (g.number == 0)
				break;
			if (g.number == 1)	/* oneof value: the last one given wins */
			{
				dims[n].value = (int64_t) g.value;
				has_value = true;
				param.set = false;
			}
			else if (g.number == 2)
			{
				param = field_span(&g);
				has_value = false;
			}
		}
		if (has_value && dims[n].value < 0)
			return rd_fail(rd, MAAS_ERR_INVALID, "dimension %zu is %" PRId64, n, dims[n].value);
		if (!has_value)
			dims[n].value = -1;
		snprintf(what, sizeof(what), "the name of dimension %zu", n);
		if (param.set && param.len > 0 && !rd_name(rd, param, &dims[n].param, what))
			return false;
		n++;
	}
	v->ndim = (int32_t) n;
	v->dims = dims;
	return true;
}

/* TypeProto.Tensor or TypeProto.SparseTensor */
static bool
read_tensor_type(Rd *rd, Span s, MaasOnnxValueInfo *v)
{
	Cursor		c = cursor(s.pos, s.len, &TypeTensorSpec);
	Field		f;
	Span		shape = {0};

	for (;;)
	{
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
		{
			if (!pb_int32(rd, &f, &v->elem_type))
				return false;
		}
		else if (f.number == 2)
		{
			if (shape.set)
				return rd_fail(rd, MAAS_ERR_INVALID,
							   "invalid protobuf at byte %zu: the type has two shapes", f.at);
			shape = field_span(&f);
		}
	}
	if (v->elem_type < 0)
		return rd_fail(rd, MAAS_ERR_INVALID, "element type %d", v->elem_type);
	if (shape.set)
		return read_shape(rd, shape, v);
	return true;
}

static bool
read_type(Rd *rd, Span s, MaasOnnxValueInfo *v)
{
	Cursor		c = cursor(s.pos, s.len, &TypeSpec);
	Field		f;
	Span		tensor = {0};

	for (;;)
	{
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		switch (f.number)		/* oneof value: the last one given wins */
		{
			case 1:
				v->kind = MAAS_ONNX_VALUE_TENSOR;
				tensor = field_span(&f);
				break;
			case 8:
				v->kind = MAAS_ONNX_VALUE_SPARSE_TENSOR;
				tensor = field_span(&f);
				break;
			case 4:
				v->kind = MAAS_ONNX_VALUE_SEQUENCE;
				break;
			case 5:
				v->kind = MAAS_ONNX_VALUE_MAP;
				break;
			case 9:
				v->kind = MAAS_ONNX_VALUE_OPTIONAL;
				break;
		}
	}
	if (v->kind == MAAS_ONNX_VALUE_TENSOR || v->kind == MAAS_ONNX_VALUE_SPARSE_TENSOR)
		return read_tensor_type(rd, tensor, v);
	return true;
}

const char *
maas_onnx_value_kind_name(int32_t kind)
{
	switch (kind)
	{
		case MAAS_ONNX_VALUE_UNKNOWN:
			return "untyped";
		case MAAS_ONNX_VALUE_TENSOR:
			return "tensor";
		case MAAS_ONNX_VALUE_SEQUENCE:
			return "sequence";
		case MAAS_ONNX_VALUE_MAP:
			return "map";
		case MAAS_ONNX_VALUE_OPTIONAL:
			return "optional";
		case MAAS_ONNX_VALUE_SPARSE_TENSOR:
			return "sparse tensor";
	}
	return "unknown";
}

/* role: "graph input", "graph output", "value_info" */
static bool
read_value_info(Rd *rd, Span s, const char *role, int32_t index, MaasOnnxValueInfo *v)
{
	Cursor		c = cursor(s.pos, s.len, &ValueInfoSpec);
	Field		f;
	Span		name = {0};
	Span		type = {0};
	size_t		outer = rd->where_len;

	memset(v, 0, sizeof(*v));
	v->ndim = -1;
	v->initializer = -1;
	where_add(rd, "%s %d", role, index);
	for (;;)
	{
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
			name = field_span(&f);
		else if (f.number == 2)
		{
			if (type.set)
				return rd_fail(rd, MAAS_ERR_INVALID,
							   "invalid protobuf at byte %zu: two types", f.at);
			type = field_span(&f);
		}
	}
	if (!rd_name(rd, name, &v->name, "the name"))
		return false;
	if (v->name[0] == '\0')
		return rd_fail(rd, MAAS_ERR_INVALID, "no name");
	where_set(rd, outer);
	where_add(rd, "%s \"%.*s\"", role, show_len(v->name), v->name);
	if (type.set && !read_type(rd, type, v))
		return false;
	where_set(rd, outer);
	return true;
}


/* ----------------------------------------------------------------
 *		AttributeProto
 * ----------------------------------------------------------------
 */

const char *
maas_onnx_attr_type_name(int32_t type)
{
	static const char *const names[] = {
		"undefined", "float", "int", "string", "tensor", "graph", "floats",
		"ints", "strings", "tensors", "graphs", "sparse tensor",
		"sparse tensors", "type proto", "type protos",
	};

	if (type < 0 || type >= (int32_t) (sizeof(names) / sizeof(names[0])))
		return "unknown";
	return names[type];
}

typedef struct ListFill
{
	void	   *dst;
	size_t		n;
	int			kind;			/* 0 floats, 1 ints */
} ListFill;

static bool
list_store(Rd *rd, void *state, uint64_t v, size_t at)
{
	ListFill   *fill = state;

	(void) rd;
	(void) at;
	if (fill->kind == 0)
	{
		uint32_t	bits = (uint32_t) v;

		memcpy((float *) fill->dst + fill->n, &bits, sizeof(float));
	}
	else
		((int64_t *) fill->dst)[fill->n] = (int64_t) v;
	fill->n++;
	return true;
}

/* the values of a FLOATS, INTS or STRINGS attribute: counts[] from the
 * first walk, so allocate and walk again to fill */
static bool
read_attr_list(Rd *rd, Span s, int32_t type, const size_t *counts, MaasOnnxAttr *a)
{
	uint32_t	number = type == MAAS_ONNX_ATTR_FLOATS ? 7 :
		type == MAAS_ONNX_ATTR_INTS ? 8 : 9;
	size_t		n = counts[number];
	ListFill	fill = {NULL, 0, type == MAAS_ONNX_ATTR_FLOATS ? 0 : 1};
	const char **strings = NULL;
	size_t	   *lens = NULL;
	Cursor		c;
	Field		f;

	if (n > MAAS_ONNX_MAX_LIST)
		return rd_fail(rd, MAAS_ERR_LIMIT, "%zu values, more than the %d supported",
					   n, MAAS_ONNX_MAX_LIST);
	if (type == MAAS_ONNX_ATTR_STRINGS)
	{
		if ((strings = rd_alloc_array(rd, n, sizeof(char *))) == NULL ||
			(lens = rd_alloc_array(rd, n, sizeof(size_t))) == NULL)
			return false;
	}
	else if ((fill.dst = rd_alloc_array(rd, n, type == MAAS_ONNX_ATTR_FLOATS ?
										sizeof(float) : sizeof(int64_t))) == NULL)
		return false;
	c = cursor(s.pos, s.len, &AttrSpec);
	for (;;)
	{
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number != number)
			continue;
		if (type == MAAS_ONNX_ATTR_STRINGS)
		{
			if (!rd_bytes(rd, field_span(&f), &strings[fill.n], &lens[fill.n]))
				return false;
			fill.n++;
		}
		else if (!pb_elements(rd, &f, type == MAAS_ONNX_ATTR_FLOATS ? 4 : 0,
							  list_store, &fill))
			return false;
	}
	a->n = (int32_t) n;
	a->floats = type == MAAS_ONNX_ATTR_FLOATS ? fill.dst : NULL;
	a->ints = type == MAAS_ONNX_ATTR_INTS ? fill.dst : NULL;
	a->strings = strings;
	a->string_lens = lens;
	return true;
}

static bool
read_attr(Rd *rd, Span s, int32_t index, MaasOnnxAttr *a)
{
	Cursor		c = cursor(s.pos, s.len, &AttrSpec);
	Field		f;
	Span		name = {0};
	Span		str = {0};
	Span		tensor = {0};
	size_t		counts[24] = {0};	/* by field number: occurrences/values */
	bool		has_ref = false;
	int32_t		type = 0;
	float		fval = 0.0f;
	int64_t		ival = 0;
	size_t		outer = rd->where_len;

	memset(a, 0, sizeof(*a));
	where_add(rd, "attribute %d", index);
	for (;;)
	{
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		switch (f.number)
		{
			case 1:
				name = field_span(&f);
				break;
			case 2:
				{
					uint32_t	bits = (uint32_t) f.value;

					memcpy(&fval, &bits, sizeof(float));
					counts[2] = 1;
					break;
				}
			case 3:
				ival = (int64_t) f.value;
				counts[3] = 1;
				break;
			case 4:
				str = field_span(&f);
				counts[4] = 1;
				break;
			case 5:
				if (tensor.set)
					return rd_fail(rd, MAAS_ERR_INVALID,
								   "invalid protobuf at byte %zu: two tensors", f.at);
				tensor = field_span(&f);
				counts[5] = 1;
				break;
			case 7:
				if (!pb_count(rd, &f, 4, &counts[7]))
					return false;
				break;
			case 8:
				if (!pb_count(rd, &f, 0, &counts[8]))
					return false;
				break;
			case 20:
				if (!pb_int32(rd, &f, &type))
					return false;
				break;
			case 21:
				has_ref = true;
				break;
			case 6:
			case 9:
			case 10:
			case 11:
			case 14:
			case 15:
			case 22:
			case 23:
				counts[f.number]++;
				break;
		}
	}
	if (!rd_name(rd, name, &a->name, "the name"))
		return false;
	if (a->name[0] == '\0')
		return rd_fail(rd, MAAS_ERR_INVALID, "no name");
	where_set(rd, outer);
	where_add(rd, "attribute \"%.*s\"", show_len(a->name), a->name);
	if (has_ref)
		return rd_fail(rd, MAAS_ERR_INVALID,
					   "refers to a function attribute (ref_attr_name) outside a function");

	if (type == 0)
	{
		/* no type given (old writers): the one kind of value present */
		static const struct
		{
			uint32_t	field;
			int32_t		type;
		}			kinds[] = {
			{2, MAAS_ONNX_ATTR_FLOAT}, {3, MAAS_ONNX_ATTR_INT},
			{4, MAAS_ONNX_ATTR_STRING}, {5, MAAS_ONNX_ATTR_TENSOR},
			{6, MAAS_ONNX_ATTR_GRAPH}, {7, MAAS_ONNX_ATTR_FLOATS},
			{8, MAAS_ONNX_ATTR_INTS}, {9, MAAS_ONNX_ATTR_STRINGS},
			{10, MAAS_ONNX_ATTR_TENSORS}, {11, MAAS_ONNX_ATTR_GRAPHS},
			{22, MAAS_ONNX_ATTR_SPARSE_TENSOR}, {23, MAAS_ONNX_ATTR_SPARSE_TENSORS},
			{14, MAAS_ONNX_ATTR_TYPE_PROTO}, {15, MAAS_ONNX_ATTR_TYPE_PROTOS},
		};
		int			present = 0;
		int			i;

		for (i = 0; i < (int) (sizeof(kinds) / sizeof(kinds[0])); i++)
		{
			if (counts[kinds[i].field] > 0)
			{
				present++;
				type = kinds[i].type;
			}
		}
		if (present != 1)
			return rd_fail(rd, MAAS_ERR_INVALID, "no type");
	}
	a->type = type;

	switch (type)
	{
		case MAAS_ONNX_ATTR_FLOAT:
			a->f = fval;
			break;
		case MAAS_ONNX_ATTR_INT:
			a->i = ival;
			break;
		case MAAS_ONNX_ATTR_STRING:
			if (!rd_bytes(rd, str, &a->s, &a->s_len))
				return false;
			break;
		case MAAS_ONNX_ATTR_TENSOR:
			{
				MaasOnnxTensor *t;

				if (!tensor.set)
					return rd_fail(rd, MAAS_ERR_INVALID, "a tensor attribute without a tensor");
				if ((t = rd_alloc(rd, sizeof(MaasOnnxTensor))) == NULL ||
					!read_tensor(rd, tensor, NULL, -1, t))
					return false;
				a->t = t;
				break;
			}
		case MAAS_ONNX_ATTR_GRAPH:
		case MAAS_ONNX_ATTR_GRAPHS:
			if ((rd->flags & MAAS_ONNX_OPAQUE_SUBGRAPHS) == 0)
			{
				rd_fail(rd, MAAS_ERR_UNSUPPORTED,
						"subgraphs (If, Loop, Scan) are not supported");
				return maas_error_hint(rd->err,
									   "Export a graph without control flow: torch.onnx.export traces a single path through Python branches and loops unless they are scripted.");
			}
			a->n = (int32_t) (type == MAAS_ONNX_ATTR_GRAPH ? 1 :
							  counts[11] > INT32_MAX ? INT32_MAX : counts[11]);
			break;
		case MAAS_ONNX_ATTR_FLOATS:
		case MAAS_ONNX_ATTR_INTS:
		case MAAS_ONNX_ATTR_STRINGS:
			if (!read_attr_list(rd, s, type, counts, a))
				return false;
			break;
		case MAAS_ONNX_ATTR_TENSORS:
			return rd_fail(rd, MAAS_ERR_UNSUPPORTED, "tensor list attributes are not supported");
		case MAAS_ONNX_ATTR_SPARSE_TENSOR:
		case MAAS_ONNX_ATTR_SPARSE_TENSORS:
			return rd_fail(rd, MAAS_ERR_UNSUPPORTED, "sparse tensors are not supported");
		case MAAS_ONNX_ATTR_TYPE_PROTO:
		case MAAS_ONNX_ATTR_TYPE_PROTOS:
			return rd_fail(rd, MAAS_ERR_UNSUPPORTED, "type attributes are not supported");
		default:
			return rd_fail(rd, MAAS_ERR_UNSUPPORTED, "attribute type %d is not supported", type);
	}

	where_set(rd, outer);
	return true;
}


/* ----------------------------------------------------------------
 *		NodeProto
 * ----------------------------------------------------------------
 */

static void
node_label(const MaasOnnxNode *node, int32_t index, char *buf, size_t cap)
{
	const char *dot = node->domain[0] != '\0' ? "." : "";

	if (node->name[0] != '\0')
		snprintf(buf, cap, "node %d (%.*s%s%.*s \"%.*s\")", index,
				 show_len(node->domain), node->domain, dot,
				 show_len(node->op_type), node->op_type,
				 show_len(node->name), node->name);
	else
		snprintf(buf, cap, "node %d (%.*s%s%.*s)", index,
				 show_len(node->domain), node->domain, dot,
				 show_len(node->op_type), node->op_type);
	buf[utf8_trim(buf, strlen(buf))] = '\0';
}

static int
cmp_strptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static bool
read_node(Rd *rd, Span s, int32_t index, MaasOnnxNode *node)
{
	Cursor		c = cursor(s.pos, s.len, &NodeSpec);
	Field		f;
	Span		name = {0};
	Span		op = {0};
	Span		domain = {0};
	size_t		n_in = 0;
	size_t		n_out = 0;
	size_t		n_attr = 0;
	const char **inputs;
	const char **outputs;
	MaasOnnxAttr *attrs;
	char		label[MAAS_ERRLEN];
	size_t		outer = rd->where_len;

	memset(node, 0, sizeof(*node));
	where_add(rd, "node %d", index);
	for (;;)
	{
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		switch (f.number)
		{
			case 1:
				n_in++;
				break;
			case 2:
				n_out++;
				break;
			case 3:
				name = field_span(&f);
				break;
			case 4:
				op = field_span(&f);
				break;
			case 5:
				n_attr++;
				break;
			case 7:
				domain = field_span(&f);
				break;
		}
	}
	if (!rd_name(rd, op, &node->op_type, "op_type") ||
		!rd_name(rd, name, &node->name, "the name") ||
		!rd_name(rd, domain, &node->domain, "the domain"))
		return false;
	if (node->op_type[0] == '\0')
		return rd_fail(rd, MAAS_ERR_INVALID, "no op_type");
	if (strcmp(node->domain, "ai.onnx") == 0)
		node->domain = "";
	node_label(node, index, label, sizeof(label));
	where_set(rd, outer);
	where_add(rd, "%s", label);

	if (n_in > MAAS_ONNX_MAX_NODE_IO || n_out > MAAS_ONNX_MAX_NODE_IO)
		return rd_fail(rd, MAAS_ERR_LIMIT, "%zu inputs and %zu outputs, more than the %d supported",
					   n_in, n_out, MAAS_ONNX_MAX_NODE_IO);
	if (n_attr > MAAS_ONNX_MAX_ATTRS)
		return rd_fail(rd, MAAS_ERR_LIMIT, "%zu attributes, more than the %d supported",
					   n_attr, MAAS_ONNX_MAX_ATTRS);
	if ((inputs = rd_alloc_array(rd, n_in, sizeof(char *))) == NULL ||
		(outputs = rd_alloc_array(rd, n_out, sizeof(char *))) == NULL ||
		(attrs = rd_alloc_array(rd, n_attr, sizeof(MaasOnnxAttr))) == NULL)
		return false;

	n_in = n_out = n_attr = 0;
	c = cursor(s.pos, s.len, &NodeSpec);
	for (;;)
	{
		char		what[32];

		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
		{
			snprintf(what, sizeof(what), "input %zu", n_in);
			if (!rd_name(rd, field_span(&f), &inputs[n_in], what))
				return false;
			n_in++;
		}
		else if (f.number == 2)
		{
			snprintf(what, sizeof(what), "output %zu", n_out);
			if (!rd_name(rd, field_span(&f), &outputs[n_out], what))
				return false;
			n_out++;
		}
		else if (f.number == 5)
		{
			if (!read_attr(rd, field_span(&f), (int32_t) n_attr, &attrs[n_attr]))
				return false;
			n_attr++;
		}
	}
	node->n_inputs = (int32_t) n_in;
	node->inputs = inputs;
	node->n_outputs = (int32_t) n_out;
	node->outputs = outputs;
	node->n_attrs = (int32_t) n_attr;
	node->attrs = attrs;

	/* attribute names are unique */
	if (n_attr > 1)
	{
		const char **sorted;
		size_t		i;

		if ((sorted = rd_alloc_array(rd, n_attr, sizeof(char *))) == NULL)
			return false;
		for (i = 0; i < n_attr; i++)
			sorted[i] = attrs[i].name;
		qsort(sorted, n_attr, sizeof(char *), cmp_strptr);
		for (i = 1; i < n_attr; i++)
		{
			if (strcmp(sorted[i - 1], sorted[i]) == 0)
				return rd_fail(rd, MAAS_ERR_INVALID, "attribute \"%.*s\" appears twice",
							   show_len(sorted[i]), sorted[i]);
		}
	}
	where_set(rd, outer);
	return true;
}


/* ----------------------------------------------------------------
 *		the name index
 * ----------------------------------------------------------------
 */

typedef struct NameSlot
{
	const char *name;			/* NULL: empty slot */
	uint32_t	hash;
	int32_t		source;			/* MaasOnnxSource */
	int32_t		index;
	int32_t		slot;
} NameSlot;

struct MaasOnnxNames
{
	size_t		mask;			/* capacity - 1; capacity a power of two */
	NameSlot   *slots;
};

static uint32_t
name_hash(const char *s)
{
	uint32_t	h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t) *s) * 16777619u;
	return h;
}

/* the slot for name: the one holding it, or the empty one it would take */
static NameSlot *
names_slot(const MaasOnnxNames *names, const char *name, uint32_t hash)
{
	size_t		i = hash & names->mask;

	for (;;)
	{
		NameSlot   *slot = &names->slots[i];

		if (slot->name == NULL ||
			(slot->hash == hash && strcmp(slot->name, name) == 0))
			return slot;
		i = (i + 1) & names->mask;
	}
}

static MaasOnnxNames *
names_create(Rd *rd, size_t n)
{
	MaasOnnxNames *names;
	size_t		cap = 16;

	while (cap < 2 * n)
	{
		if (cap > SIZE_MAX / 4)
		{
			maas_error(rd->err, MAAS_ERR_LIMIT, "too many names in the graph");
			return NULL;
		}
		cap *= 2;
	}
	if ((names = rd_alloc(rd, sizeof(MaasOnnxNames))) == NULL ||
		(names->slots = rd_alloc_array(rd, cap, sizeof(NameSlot))) == NULL)
		return NULL;
	memset(names->slots, 0, cap * sizeof(NameSlot));
	names->mask = cap - 1;
	return names;
}

/* "graph input \"x\"", "initializer \"w\"", "node 3 (Relu \"r\")" */
static void
producer_label(const MaasOnnxGraph *g, const NameSlot *slot, char *buf, size_t cap)
{
	if (slot->source == MAAS_ONNX_FROM_NODE)
		maas_onnx_node_label(g, slot->index, buf, cap);
	else if (slot->source == MAAS_ONNX_FROM_INPUT)
		snprintf(buf, cap, "graph input %d", slot->index);
	else
		snprintf(buf, cap, "initializer %d", slot->index);
}


/* ----------------------------------------------------------------
 *		GraphProto: reading, then the checks
 * ----------------------------------------------------------------
 */

/* index every value the graph produces: inputs, initializers, node outputs */
static bool
index_names(Rd *rd, MaasOnnxGraph *g, MaasOnnxValueInfo *inputs)
{
	MaasOnnxNames *names;
	size_t		n = (size_t) g->n_inputs + (size_t) g->n_initializers;
	int32_t		i;
	int32_t		k;

	for (i = 0; i < g->n_nodes; i++)
		n += (size_t) g->nodes[i].n_outputs;
	if ((names = names_create(rd, n)) == NULL)
		return false;
	g->names = names;

	for (i = 0; i < g->n_inputs; i++)
	{
		const char *name = inputs[i].name;
		uint32_t	h = name_hash(name);
		NameSlot   *slot = names_slot(names, name, h);

		rd_tick(rd);
		if (slot->name != NULL)
			return rd_fail(rd, MAAS_ERR_INVALID, "graph input \"%.*s\" appears twice",
						   show_len(name), name);
		*slot = (NameSlot) {name, h, MAAS_ONNX_FROM_INPUT, i, 0};
	}
	for (i = 0; i < g->n_initializers; i++)
	{
		const char *name = g->initializers[i].name;
		uint32_t	h;
		NameSlot   *slot;

		rd_tick(rd);
		if (name[0] == '\0')
			return rd_fail(rd, MAAS_ERR_INVALID, "initializer %d has no name", i);
		h = name_hash(name);
		slot = names_slot(names, name, h);
		if (slot->name != NULL && slot->source == MAAS_ONNX_FROM_INITIALIZER)
			return rd_fail(rd, MAAS_ERR_INVALID, "initializer \"%.*s\" appears twice",
						   show_len(name), name);
		if (slot->name != NULL)
			inputs[slot->index].initializer = i;	/* an input with a default */
		*slot = (NameSlot) {name, h, MAAS_ONNX_FROM_INITIALIZER, i, 0};
	}
	for (i = 0; i < g->n_nodes; i++)
	{
		const MaasOnnxNode *node = &g->nodes[i];

		rd_tick(rd);
		for (k = 0; k < node->n_outputs; k++)
		{
			const char *name = node->outputs[k];
			uint32_t	h;
			NameSlot   *slot;

			if (name[0] == '\0')
				continue;
			h = name_hash(name);
			slot = names_slot(names, name, h);
			if (slot->name != NULL)
			{
				char		self[MAAS_ERRLEN];
				char		other[MAAS_ERRLEN];

				maas_onnx_node_label(g, i, self, sizeof(self));
				producer_label(g, slot, other, sizeof(other));
				if (slot->source == MAAS_ONNX_FROM_NODE && slot->index == i)
					snprintf(other, sizeof(other), "another output of the node");
				return maas_error(rd->err, MAAS_ERR_INVALID,
								  "%s: output \"%.*s\" is already produced by %s",
								  self, show_len(name), name, other);
			}
			*slot = (NameSlot) {name, h, MAAS_ONNX_FROM_NODE, i, k};
		}
	}
	return true;
}

static const NameSlot *
find_name(const MaasOnnxNames *names, const char *name)
{
	const NameSlot *slot = names_slot(names, name, name_hash(name));

	return slot->name != NULL ? slot : NULL;
}

/*
 * Check that every node input and graph output is produced, and sort the
 * nodes topologically (Kahn's algorithm over the producer edges), or name
 * a node on a cycle.
 */
static bool
order_nodes(Rd *rd, MaasOnnxGraph *g)
{
	int32_t		n = g->n_nodes;
	int32_t    *order;
	int32_t    *indeg;
	int32_t    *first;			/* CSR: edges from node p are
								 * consumer[first[p] .. first[p + 1]) */
	int32_t    *consumer;
	size_t		n_edges = 0;
	bool		sorted = true;
	int32_t		i;
	int32_t		k;
	int32_t		head;
	int32_t		tail;

	for (i = 0; i < n; i++)
	{
		const MaasOnnxNode *node = &g->nodes[i];

		rd_tick(rd);
		for (k = 0; k < node->n_inputs; k++)
		{
			const NameSlot *slot;

			if (node->inputs[k][0] == '\0')
				continue;
			slot = find_name(g->names, node->inputs[k]);
			if (slot == NULL)
			{
				char		self[MAAS_ERRLEN];

				maas_onnx_node_label(g, i, self, sizeof(self));
				return maas_error(rd->err, MAAS_ERR_INVALID,
								  "%s: input \"%.*s\" is not produced by any node, initializer or graph input",
								  self, show_len(node->inputs[k]), node->inputs[k]);
			}
			if (slot->source == MAAS_ONNX_FROM_NODE)
			{
				n_edges++;
				if (slot->index >= i)
					sorted = false;
			}
		}
	}
	if (n_edges > INT32_MAX)
		return maas_error(rd->err, MAAS_ERR_LIMIT, "the graph has more than %d edges", INT32_MAX);
	for (i = 0; i < g->n_outputs; i++)
	{
		if (find_name(g->names, g->outputs[i].name) == NULL)
			return maas_error(rd->err, MAAS_ERR_INVALID,
							  "graph output \"%.*s\" is not produced by any node, initializer or graph input",
							  show_len(g->outputs[i].name), g->outputs[i].name);
	}

	if (g->n_outputs > 1)		/* graph outputs are unique */
	{
		const char **sorted;

		if ((sorted = rd_alloc_array(rd, (size_t) g->n_outputs, sizeof(char *))) == NULL)
			return false;
		for (i = 0; i < g->n_outputs; i++)
			sorted[i] = g->outputs[i].name;
		qsort(sorted, (size_t) g->n_outputs, sizeof(char *), cmp_strptr);
		for (i = 1; i < g->n_outputs; i++)
		{
			if (strcmp(sorted[i - 1], sorted[i]) == 0)
				return maas_error(rd->err, MAAS_ERR_INVALID, "graph output \"%.*s\" appears twice",
								  show_len(sorted[i]), sorted[i]);
		}
	}

	if ((order = rd_alloc_array(rd, (size_t) n, sizeof(int32_t))) == NULL)
		return false;
	g->order = order;
	if (sorted)
	{
		for (i = 0; i < n; i++)
			order[i] = i;
		return true;
	}

	if ((indeg = rd_alloc_array(rd, (size_t) n, sizeof(int32_t))) == NULL ||
		(first = rd_alloc_array(rd, (size_t) n + 1, sizeof(int32_t))) == NULL ||
		(consumer = rd_alloc_array(rd, n_edges, sizeof(int32_t))) == NULL)
		return false;
	memset(indeg, 0, (size_t) n * sizeof(int32_t));
	memset(first, 0, ((size_t) n + 1) * sizeof(int32_t));
	for (i = 0; i < n; i++)		/* count the edges of each producer */
	{
		const MaasOnnxNode *node = &g->nodes[i];

		for (k = 0; k < node->n_inputs; k++)
		{
			const NameSlot *slot;

			if (node->inputs[k][0] == '\0')
				continue;
			slot = find_name(g->names, node->inputs[k]);
			if (slot->source == MAAS_ONNX_FROM_NODE)
			{
				first[slot->index + 1]++;
				indeg[i]++;
			}
		}
	}
	for (i = 0; i < n; i++)
		first[i + 1] += first[i];
	for (i = 0; i < n; i++)		/* fill them (indeg as a cursor) */
	{
		const MaasOnnxNode *node = &g->nodes[i];

		rd_tick(rd);
		for (k = 0; k < node->n_inputs; k++)
		{
			const NameSlot *slot;

			if (node->inputs[k][0] == '\0')
				continue;
			slot = find_name(g->names, node->inputs[k]);
			if (slot->source == MAAS_ONNX_FROM_NODE)
				consumer[first[slot->index]++] = i;
		}
	}
	for (i = n; i > 0; i--)		/* first[] was advanced: shift it back */
		first[i] = first[i - 1];
	first[0] = 0;

	head = tail = 0;
	for (i = 0; i < n; i++)
	{
		if (indeg[i] == 0)
			order[tail++] = i;
	}
	while (head < tail)
	{
		int32_t		p = order[head++];
		int32_t		e;

		rd_tick(rd);
		for (e = first[p]; e < first[p + 1]; e++)
		{
			if (--indeg[consumer[e]] == 0)
				order[tail++] = consumer[e];
		}
	}
	if (tail < n)
	{
		/*
		 * A cycle.  From any node left over, step to a producer of one of
		 * its inputs that is left over too (one exists: its in-degree is
		 * not zero), until a node comes round again: that one is on a
		 * cycle.  indeg[] marks the steps taken.
		 */
		int32_t		u = -1;
		int32_t		step = 1;
		const char *via = NULL;
		char		self[MAAS_ERRLEN];

		for (i = 0; i < n && u < 0; i++)
		{
			if (indeg[i] > 0)
				u = i;
		}
		for (i = 0; i < n; i++)
			indeg[i] = indeg[i] > 0 ? -1 : 0;	/* -1: left over, unvisited */
		while (u >= 0 && indeg[u] == -1)
		{
			const MaasOnnxNode *node = &g->nodes[u];
			int32_t		next = -1;

			indeg[u] = step++;
			for (k = 0; k < node->n_inputs && next < 0; k++)
			{
				const NameSlot *slot;

				if (node->inputs[k][0] == '\0')
					continue;
				slot = find_name(g->names, node->inputs[k]);
				if (slot->source == MAAS_ONNX_FROM_NODE && indeg[slot->index] != 0)
				{
					next = slot->index;
					via = node->inputs[k];
				}
			}
			u = next;
		}
		if (u < 0 || via == NULL)	/* cannot happen: see above */
			return maas_error(rd->err, MAAS_ERR_INVALID, "the graph has a cycle");
		maas_onnx_node_label(g, u, self, sizeof(self));
		return maas_error(rd->err, MAAS_ERR_INVALID,
						  "the graph has a cycle: %s depends on its own output \"%.*s\"",
						  self, show_len(via), via);
	}
	return true;
}

static bool
read_graph(Rd *rd, Span s, MaasOnnxGraph *g)
{
	Cursor		c = cursor(s.pos, s.len, &GraphSpec);
	Field		f;
	Span		name = {0};
	size_t		n_node = 0;
	size_t		n_init = 0;
	size_t		n_in = 0;
	size_t		n_out = 0;
	size_t		n_vi = 0;
	MaasOnnxNode *nodes;
	MaasOnnxTensor *inits;
	MaasOnnxValueInfo *inputs;
	MaasOnnxValueInfo *outputs;
	MaasOnnxValueInfo *value_info;

	memset(g, 0, sizeof(*g));
	for (;;)
	{
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		switch (f.number)
		{
			case 1:
				n_node++;
				break;
			case 2:
				name = field_span(&f);
				break;
			case 5:
				n_init++;
				break;
			case 11:
				n_in++;
				break;
			case 12:
				n_out++;
				break;
			case 13:
				n_vi++;
				break;
			case 15:
				return rd_fail(rd, MAAS_ERR_UNSUPPORTED, "sparse initializers are not supported");
		}
	}
	if (!rd_name(rd, name, &g->name, "the graph name"))
		return false;
	if (n_node > MAAS_ONNX_MAX_NODES)
		return rd_fail(rd, MAAS_ERR_LIMIT, "the graph has %zu nodes, more than the %d supported",
					   n_node, MAAS_ONNX_MAX_NODES);
	if (n_init > MAAS_ONNX_MAX_VALUES || n_in > MAAS_ONNX_MAX_VALUES ||
		n_out > MAAS_ONNX_MAX_VALUES || n_vi > MAAS_ONNX_MAX_VALUES)
		return rd_fail(rd, MAAS_ERR_LIMIT,
					   "the graph has %zu initializers, %zu inputs, %zu outputs and %zu value_info entries, more than the %d supported",
					   n_init, n_in, n_out, n_vi, MAAS_ONNX_MAX_VALUES);
	if ((nodes = rd_alloc_array(rd, n_node, sizeof(MaasOnnxNode))) == NULL ||
		(inits = rd_alloc_array(rd, n_init, sizeof(MaasOnnxTensor))) == NULL ||
		(inputs = rd_alloc_array(rd, n_in, sizeof(MaasOnnxValueInfo))) == NULL ||
		(outputs = rd_alloc_array(rd, n_out, sizeof(MaasOnnxValueInfo))) == NULL ||
		(value_info = rd_alloc_array(rd, n_vi, sizeof(MaasOnnxValueInfo))) == NULL)
		return false;

	n_node = n_init = n_in = n_out = n_vi = 0;
	c = cursor(s.pos, s.len, &GraphSpec);
	for (;;)
	{
		size_t		outer = rd->where_len;
		bool		ok = true;

		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		switch (f.number)
		{
			case 1:
				ok = read_node(rd, field_span(&f), (int32_t) n_node, &nodes[n_node]);
				n_node++;
				break;
			case 5:
				ok = read_tensor(rd, field_span(&f), "initializer", (int32_t) n_init, &inits[n_init]);
				n_init++;
				break;
			case 11:
				ok = read_value_info(rd, field_span(&f), "graph input", (int32_t) n_in, &inputs[n_in]);
				n_in++;
				break;
			case 12:
				ok = read_value_info(rd, field_span(&f), "graph output", (int32_t) n_out, &outputs[n_out]);
				n_out++;
				break;
			case 13:
				ok = read_value_info(rd, field_span(&f), "value_info", (int32_t) n_vi, &value_info[n_vi]);
				n_vi++;
				break;
		}
		if (!ok)
			return false;
		where_set(rd, outer);
	}
	g->n_nodes = (int32_t) n_node;
	g->nodes = nodes;
	g->n_initializers = (int32_t) n_init;
	g->initializers = inits;
	g->n_inputs = (int32_t) n_in;
	g->inputs = inputs;
	g->n_outputs = (int32_t) n_out;
	g->outputs = outputs;
	g->n_value_info = (int32_t) n_vi;
	g->value_info = value_info;

	return index_names(rd, g, inputs) && order_nodes(rd, g);
}


/* ----------------------------------------------------------------
 *		ModelProto
 * ----------------------------------------------------------------
 */

static bool
read_opset(Rd *rd, Span s, int32_t index, MaasOnnxOpset *op)
{
	Cursor		c = cursor(s.pos, s.len, &OpsetSpec);
	Field		f;
	Span		domain = {0};
	size_t		outer = rd->where_len;

	op->version = 0;
	where_add(rd, "opset_import %d", index);
	for (;;)
	{
		if (!pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
			domain = field_span(&f);
		else if (f.number == 2)
			op->version = (int64_t) f.value;
	}
	if (!rd_name(rd, domain, &op->domain, "the domain"))
		return false;
	if (strcmp(op->domain, "ai.onnx") == 0)
		op->domain = "";
	if (op->version < 1)
		return rd_fail(rd, MAAS_ERR_INVALID, "version %" PRId64 " of domain \"%.*s\"",
					   op->version, show_len(op->domain), op->domain);
	where_set(rd, outer);
	return true;
}

static void
rd_init(Rd *rd, const uint8_t *buf, size_t len, const MaasOnnxOptions *opts,
		const MaasTick *tick, MaasError *err)
{
	memset(rd, 0, sizeof(*rd));
	rd->buf = buf;
	rd->len = len;
	rd->flags = opts != NULL ? opts->flags : 0;
	rd->max_memory = opts != NULL && opts->max_memory > 0 ?
		opts->max_memory : MAAS_ONNX_DEFAULT_MAX_MEMORY;
	rd->budget = rd->max_memory;
	rd->tick = tick;
	rd->err = err;
}

MaasOnnxModel *
maas_onnx_read(const uint8_t *buf, size_t len, const MaasOnnxOptions *opts,
			   const MaasTick *tick, MaasError *err)
{
	Rd			rd;
	Cursor		c;
	Field		f;
	MaasOnnxModel *m;
	MaasOnnxOpset *opsets;
	Span		producer = {0};
	Span		producer_version = {0};
	Span		domain = {0};
	Span		graph = {0};
	size_t		n_opsets = 0;
	size_t		n_functions = 0;
	int32_t		i;
	int32_t		j;

	rd_init(&rd, buf, len, opts, tick, err);
	if (buf == NULL && len > 0)
	{
		maas_error(err, MAAS_ERR_INVALID, "no buffer");
		return NULL;
	}
	if ((m = rd_alloc(&rd, sizeof(MaasOnnxModel))) == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->len = len;

	c = cursor(0, len, &ModelSpec);
	for (;;)
	{
		if (!pb_next(&rd, &c, &f))
			return NULL;
		if (f.number == 0)
			break;
		switch (f.number)
		{
			case 1:
				m->ir_version = (int64_t) f.value;
				break;
			case 2:
				producer = field_span(&f);
				break;
			case 3:
				producer_version = field_span(&f);
				break;
			case 4:
				domain = field_span(&f);
				break;
			case 5:
				m->model_version = (int64_t) f.value;
				break;
			case 7:
				if (graph.set)
				{
					rd_fail(&rd, MAAS_ERR_INVALID,
							"invalid protobuf at byte %zu: the model has two graphs", f.at);
					return NULL;
				}
				graph = field_span(&f);
				break;
			case 8:
				n_opsets++;
				break;
			case 25:
				n_functions++;
				break;
		}
	}
	if (!rd_name(&rd, producer, &m->producer_name, "producer_name") ||
		!rd_name(&rd, producer_version, &m->producer_version, "producer_version") ||
		!rd_name(&rd, domain, &m->domain, "the model domain"))
		return NULL;
	if (!graph.set)
	{
		maas_error(err, MAAS_ERR_INVALID, "the model has no graph");
		return NULL;
	}
	if (n_opsets > MAAS_ONNX_MAX_OPSETS)
	{
		maas_error(err, MAAS_ERR_LIMIT, "the model imports %zu opsets, more than the %d supported",
				   n_opsets, MAAS_ONNX_MAX_OPSETS);
		return NULL;
	}
	m->n_functions = (int32_t) (n_functions > INT32_MAX ? INT32_MAX : n_functions);
	if ((opsets = rd_alloc_array(&rd, n_opsets, sizeof(MaasOnnxOpset))) == NULL)
		return NULL;
	n_opsets = 0;
	c = cursor(0, len, &ModelSpec);
	for (;;)
	{
		if (!pb_next(&rd, &c, &f))
			return NULL;
		if (f.number == 0)
			break;
		if (f.number == 8)
		{
			if (!read_opset(&rd, field_span(&f), (int32_t) n_opsets, &opsets[n_opsets]))
				return NULL;
			for (j = 0; j < (int32_t) n_opsets; j++)
			{
				if (strcmp(opsets[j].domain, opsets[n_opsets].domain) == 0)
				{
					maas_error(err, MAAS_ERR_INVALID, "the opset of domain \"%.*s\" is imported twice",
							   show_len(opsets[j].domain), opsets[j].domain);
					return NULL;
				}
			}
			n_opsets++;
		}
	}
	m->n_opsets = (int32_t) n_opsets;
	m->opsets = opsets;

	if (!read_graph(&rd, graph, &m->graph))
		return NULL;

	/* every node's domain has an opset */
	for (i = 0; i < m->graph.n_nodes; i++)
	{
		const MaasOnnxNode *node = &m->graph.nodes[i];

		rd_tick(&rd);
		if (i > 0 && strcmp(node->domain, m->graph.nodes[i - 1].domain) == 0)
			continue;
		if (maas_onnx_opset(m, node->domain) == 0)
		{
			char		self[MAAS_ERRLEN];

			maas_onnx_node_label(&m->graph, i, self, sizeof(self));
			maas_error(err, MAAS_ERR_INVALID, "%s: the model imports no opset for domain \"%.*s\"",
					   self, show_len(node->domain), node->domain);
			return NULL;
		}
	}
	return m;
}

MaasOnnxTensor *
maas_onnx_read_tensor(const uint8_t *buf, size_t len, const MaasOnnxOptions *opts,
					  const MaasTick *tick, MaasError *err)
{
	Rd			rd;
	MaasOnnxTensor *t;
	Span		all = {0, len, true};

	rd_init(&rd, buf, len, opts, tick, err);
	if (buf == NULL && len > 0)
	{
		maas_error(err, MAAS_ERR_INVALID, "no buffer");
		return NULL;
	}
	if ((t = rd_alloc(&rd, sizeof(MaasOnnxTensor))) == NULL ||
		!read_tensor(&rd, all, "tensor", -1, t))
		return NULL;
	return t;
}


/* ----------------------------------------------------------------
 *		lookups
 * ----------------------------------------------------------------
 */

bool
maas_onnx_lookup(const MaasOnnxGraph *graph, const char *name, MaasOnnxProducer *producer)
{
	const NameSlot *slot;

	if (graph->names == NULL || name == NULL || name[0] == '\0')
		return false;
	slot = find_name(graph->names, name);
	if (slot == NULL)
		return false;
	producer->source = slot->source;
	producer->index = slot->index;
	producer->slot = slot->slot;
	return true;
}

const MaasOnnxTensor *
maas_onnx_initializer(const MaasOnnxGraph *graph, const char *name)
{
	MaasOnnxProducer p;

	if (!maas_onnx_lookup(graph, name, &p) || p.source != MAAS_ONNX_FROM_INITIALIZER)
		return NULL;
	return &graph->initializers[p.index];
}

const MaasOnnxAttr *
maas_onnx_attr(const MaasOnnxNode *node, const char *name)
{
	int32_t		i;

	for (i = 0; i < node->n_attrs; i++)
	{
		if (strcmp(node->attrs[i].name, name) == 0)
			return &node->attrs[i];
	}
	return NULL;
}

int64_t
maas_onnx_opset(const MaasOnnxModel *model, const char *domain)
{
	int32_t		i;

	if (strcmp(domain, "ai.onnx") == 0)
		domain = "";
	for (i = 0; i < model->n_opsets; i++)
	{
		if (strcmp(model->opsets[i].domain, domain) == 0)
			return model->opsets[i].version;
	}
	return 0;
}

void
maas_onnx_node_label(const MaasOnnxGraph *graph, int32_t index, char *buf, size_t cap)
{
	if (cap == 0)
		return;
	if (index < 0 || index >= graph->n_nodes)
	{
		snprintf(buf, cap, "node %d", index);
		return;
	}
	node_label(&graph->nodes[index], index, buf, cap);
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
						  show_len(t->name), t->name, maas_onnx_dtype_name(t->dtype));
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
						  show_len(t->name), t->name, maas_onnx_dtype_name(t->dtype));
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
										  show_len(t->name), t->name, v);
					dst[i] = (int64_t) v;
					break;
				}
		}
	}
	return true;
}


/* ----------------------------------------------------------------
 *		what a model uses
 * ----------------------------------------------------------------
 */

const MaasOnnxOpSupport maas_onnx_issue_ops[] = {
	/* MLPs */
	{"", "Gemm"}, {"", "MatMul"}, {"", "Add"}, {"", "Relu"}, {"", "Tanh"},
	{"", "Sigmoid"}, {"", "Softmax"}, {"", "LogSoftmax"}, {"", "Flatten"},
	{"", "Reshape"}, {"", "Identity"}, {"", "Dropout"},
	/* CNNs */
	{"", "Conv"}, {"", "MaxPool"}, {"", "AveragePool"},
	{"", "GlobalAveragePool"}, {"", "BatchNormalization"},
	/* transformers: LayerNormalization or its decomposed form, GELU forms */
	{"", "Gather"}, {"", "LayerNormalization"}, {"", "ReduceMean"},
	{"", "Sub"}, {"", "Pow"}, {"", "Sqrt"}, {"", "Div"}, {"", "Mul"},
	{"", "Erf"}, {"", "Transpose"}, {"", "Split"}, {"", "Slice"},
	{"", "Concat"}, {"", "Where"},
	/* constant-folded at import */
	{"", "Shape"}, {"", "Unsqueeze"}, {"", "Cast"}, {"", "Constant"},
	{NULL, NULL}
};

static bool
op_supported(const MaasOnnxOpSupport *table, const char *domain, const char *op)
{
	if (table == NULL)
		return false;
	for (; table->op_type != NULL; table++)
	{
		const char *d = table->domain != NULL ? table->domain : "";

		if (strcmp(table->op_type, op) == 0 &&
			(strcmp(d, domain) == 0 || (strcmp(d, "ai.onnx") == 0 && domain[0] == '\0')))
			return true;
	}
	return false;
}

MaasOnnxOpCount *
maas_onnx_op_counts(const MaasOnnxModel *model, const MaasOnnxOpSupport *supported,
					int32_t *n_ops, MaasError *err)
{
	const MaasOnnxGraph *g = &model->graph;
	MaasOnnxOpCount *ops;
	int32_t    *table;			/* hash of (domain, op_type) -> index + 1 */
	size_t		cap = 16;
	int32_t		n = 0;
	int32_t		i;

	while (cap < 2 * (size_t) g->n_nodes)
		cap *= 2;
	ops = maas_kalloc_array((size_t) g->n_nodes + 1, sizeof(MaasOnnxOpCount));
	table = maas_kalloc_array(cap, sizeof(int32_t));
	if (ops == NULL || table == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(table, 0, cap * sizeof(int32_t));
	for (i = 0; i < g->n_nodes; i++)
	{
		const MaasOnnxNode *node = &g->nodes[i];
		uint32_t	h = name_hash(node->op_type) * 31u + name_hash(node->domain);
		size_t		k = h & (cap - 1);

		while (table[k] != 0)
		{
			MaasOnnxOpCount *op = &ops[table[k] - 1];

			if (strcmp(op->op_type, node->op_type) == 0 &&
				strcmp(op->domain, node->domain) == 0)
				break;
			k = (k + 1) & (cap - 1);
		}
		if (table[k] == 0)
		{
			ops[n].domain = node->domain;
			ops[n].op_type = node->op_type;
			ops[n].count = 0;
			ops[n].first_node = i;
			ops[n].supported = op_supported(supported, node->domain, node->op_type);
			table[k] = ++n;
		}
		ops[table[k] - 1].count++;
	}
	*n_ops = n;
	return ops;
}
