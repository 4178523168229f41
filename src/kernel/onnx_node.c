/*
 * onnx_node.c
 *		The messages of a graph's parts: ValueInfoProto with its TypeProto
 *		and shape (graph inputs, outputs, value_info), AttributeProto (every
 *		type maas reads; subgraphs refused or kept as stubs) and NodeProto.
 */
#include "onnx_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static const MsgSpec NodeSpec = MSG("NodeProto", node_fields);
static const MsgSpec AttrSpec = MSG("AttributeProto", attr_fields);
static const MsgSpec ValueInfoSpec = MSG("ValueInfoProto", value_info_fields);
static const MsgSpec TypeSpec = MSG("TypeProto", type_fields);
static const MsgSpec TypeTensorSpec = MSG("TypeProto.Tensor", type_tensor_fields);
static const MsgSpec ShapeSpec = MSG("TensorShapeProto", shape_fields);
static const MsgSpec DimSpec = MSG("TensorShapeProto.Dimension", dim_fields);


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
		if (!onnx_pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
			n++;
	}
	if (n > MAAS_ONNX_MAX_RANK)
		return onnx_fail(rd, MAAS_ERR_LIMIT, "%zu dimensions, more than the %d supported",
					   n, MAAS_ONNX_MAX_RANK);
	if ((dims = onnx_alloc_array(rd, n, sizeof(MaasOnnxDim))) == NULL)
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

		if (!onnx_pb_next(rd, &c, &f))
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
			if (!onnx_pb_next(rd, &d, &g))
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
			return onnx_fail(rd, MAAS_ERR_INVALID, "dimension %zu is %" PRId64, n, dims[n].value);
		if (!has_value)
			dims[n].value = -1;
		snprintf(what, sizeof(what), "the name of dimension %zu", n);
		if (param.set && param.len > 0 && !onnx_rd_name(rd, param, &dims[n].param, what))
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
		if (!onnx_pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
		{
			if (!onnx_pb_int32(rd, &f, &v->elem_type))
				return false;
		}
		else if (f.number == 2)
		{
			if (shape.set)
				return onnx_fail(rd, MAAS_ERR_INVALID,
							   "invalid protobuf at byte %zu: the type has two shapes", f.at);
			shape = field_span(&f);
		}
	}
	if (v->elem_type < 0)
		return onnx_fail(rd, MAAS_ERR_INVALID, "element type %d", v->elem_type);
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
		if (!onnx_pb_next(rd, &c, &f))
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
bool
onnx_read_value_info(Rd *rd, Span s, const char *role, int32_t index, MaasOnnxValueInfo *v)
{
	Cursor		c = cursor(s.pos, s.len, &ValueInfoSpec);
	Field		f;
	Span		name = {0};
	Span		type = {0};
	size_t		outer = rd->where_len;

	memset(v, 0, sizeof(*v));
	v->ndim = -1;
	v->initializer = -1;
	onnx_where_add(rd, "%s %d", role, index);
	for (;;)
	{
		if (!onnx_pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
			name = field_span(&f);
		else if (f.number == 2)
		{
			if (type.set)
				return onnx_fail(rd, MAAS_ERR_INVALID,
							   "invalid protobuf at byte %zu: two types", f.at);
			type = field_span(&f);
		}
	}
	if (!onnx_rd_name(rd, name, &v->name, "the name"))
		return false;
	if (v->name[0] == '\0')
		return onnx_fail(rd, MAAS_ERR_INVALID, "no name");
	onnx_where_set(rd, outer);
	onnx_where_add(rd, "%s \"%.*s\"", role, onnx_show_len(v->name), v->name);
	if (type.set && !read_type(rd, type, v))
		return false;
	onnx_where_set(rd, outer);
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
		return onnx_fail(rd, MAAS_ERR_LIMIT, "%zu values, more than the %d supported",
					   n, MAAS_ONNX_MAX_LIST);
	if (type == MAAS_ONNX_ATTR_STRINGS)
	{
		if ((strings = onnx_alloc_array(rd, n, sizeof(char *))) == NULL ||
			(lens = onnx_alloc_array(rd, n, sizeof(size_t))) == NULL)
			return false;
	}
	else if ((fill.dst = onnx_alloc_array(rd, n, type == MAAS_ONNX_ATTR_FLOATS ?
										sizeof(float) : sizeof(int64_t))) == NULL)
		return false;
	c = cursor(s.pos, s.len, &AttrSpec);
	for (;;)
	{
		if (!onnx_pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number != number)
			continue;
		if (type == MAAS_ONNX_ATTR_STRINGS)
		{
			if (!onnx_rd_bytes(rd, field_span(&f), &strings[fill.n], &lens[fill.n]))
				return false;
			fill.n++;
		}
		else if (!onnx_pb_elements(rd, &f, type == MAAS_ONNX_ATTR_FLOATS ? 4 : 0,
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
	onnx_where_add(rd, "attribute %d", index);
	for (;;)
	{
		if (!onnx_pb_next(rd, &c, &f))
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
					return onnx_fail(rd, MAAS_ERR_INVALID,
								   "invalid protobuf at byte %zu: two tensors", f.at);
				tensor = field_span(&f);
				counts[5] = 1;
				break;
			case 7:
				if (!onnx_pb_count(rd, &f, 4, &counts[7]))
					return false;
				break;
			case 8:
				if (!onnx_pb_count(rd, &f, 0, &counts[8]))
					return false;
				break;
			case 20:
				if (!onnx_pb_int32(rd, &f, &type))
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
	if (!onnx_rd_name(rd, name, &a->name, "the name"))
		return false;
	if (a->name[0] == '\0')
		return onnx_fail(rd, MAAS_ERR_INVALID, "no name");
	onnx_where_set(rd, outer);
	onnx_where_add(rd, "attribute \"%.*s\"", onnx_show_len(a->name), a->name);
	if (has_ref)
		return onnx_fail(rd, MAAS_ERR_INVALID,
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
			return onnx_fail(rd, MAAS_ERR_INVALID, "no type");
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
			if (!onnx_rd_bytes(rd, str, &a->s, &a->s_len))
				return false;
			break;
		case MAAS_ONNX_ATTR_TENSOR:
			{
				MaasOnnxTensor *t;

				if (!tensor.set)
					return onnx_fail(rd, MAAS_ERR_INVALID, "a tensor attribute without a tensor");
				if ((t = onnx_alloc(rd, sizeof(MaasOnnxTensor))) == NULL ||
					!onnx_read_tensor_proto(rd, tensor, NULL, -1, t))
					return false;
				a->t = t;
				break;
			}
		case MAAS_ONNX_ATTR_GRAPH:
		case MAAS_ONNX_ATTR_GRAPHS:
			if ((rd->flags & MAAS_ONNX_OPAQUE_SUBGRAPHS) == 0)
			{
				onnx_fail(rd, MAAS_ERR_UNSUPPORTED,
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
			return onnx_fail(rd, MAAS_ERR_UNSUPPORTED, "tensor list attributes are not supported");
		case MAAS_ONNX_ATTR_SPARSE_TENSOR:
		case MAAS_ONNX_ATTR_SPARSE_TENSORS:
			return onnx_fail(rd, MAAS_ERR_UNSUPPORTED, "sparse tensors are not supported");
		case MAAS_ONNX_ATTR_TYPE_PROTO:
		case MAAS_ONNX_ATTR_TYPE_PROTOS:
			return onnx_fail(rd, MAAS_ERR_UNSUPPORTED, "type attributes are not supported");
		default:
			return onnx_fail(rd, MAAS_ERR_UNSUPPORTED, "attribute type %d is not supported", type);
	}

	onnx_where_set(rd, outer);
	return true;
}


/* ----------------------------------------------------------------
 *		NodeProto
 * ----------------------------------------------------------------
 */

void
onnx_node_label(const MaasOnnxNode *node, int32_t index, char *buf, size_t cap)
{
	const char *dot = node->domain[0] != '\0' ? "." : "";

	if (node->name[0] != '\0')
		snprintf(buf, cap, "node %d (%.*s%s%.*s \"%.*s\")", index,
				 onnx_show_len(node->domain), node->domain, dot,
				 onnx_show_len(node->op_type), node->op_type,
				 onnx_show_len(node->name), node->name);
	else
		snprintf(buf, cap, "node %d (%.*s%s%.*s)", index,
				 onnx_show_len(node->domain), node->domain, dot,
				 onnx_show_len(node->op_type), node->op_type);
	buf[onnx_utf8_trim(buf, strlen(buf))] = '\0';
}

int
onnx_cmp_strptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

bool
onnx_read_node(Rd *rd, Span s, int32_t index, MaasOnnxNode *node)
{
	enum
	{
		T_INPUT, T_OUTPUT, T_NAME, T_OP, T_ATTR, T_DOMAIN
	};
	Tally		t[] = {
		{.number = 1}, {.number = 2}, {.number = 3}, {.number = 4}, {.number = 5},
		{.number = 7}
	};
	Cursor		c;
	Field		f;
	size_t		n_in;
	size_t		n_out;
	size_t		n_attr;
	const char **inputs;
	const char **outputs;
	MaasOnnxAttr *attrs;
	char		label[MAAS_ERRLEN];
	size_t		outer = rd->where_len;

	memset(node, 0, sizeof(*node));
	onnx_where_add(rd, "node %d", index);
	if (!onnx_pb_tally(rd, s, &NodeSpec, t, (int) (sizeof(t) / sizeof(t[0]))))
		return false;
	n_in = t[T_INPUT].count;
	n_out = t[T_OUTPUT].count;
	n_attr = t[T_ATTR].count;
	if (!onnx_rd_name(rd, t[T_OP].last, &node->op_type, "op_type") ||
		!onnx_rd_name(rd, t[T_NAME].last, &node->name, "the name") ||
		!onnx_rd_name(rd, t[T_DOMAIN].last, &node->domain, "the domain"))
		return false;
	if (node->op_type[0] == '\0')
		return onnx_fail(rd, MAAS_ERR_INVALID, "no op_type");
	if (strcmp(node->domain, "ai.onnx") == 0)
		node->domain = "";
	onnx_node_label(node, index, label, sizeof(label));
	onnx_where_set(rd, outer);
	onnx_where_add(rd, "%s", label);

	if (n_in > MAAS_ONNX_MAX_NODE_IO || n_out > MAAS_ONNX_MAX_NODE_IO)
		return onnx_fail(rd, MAAS_ERR_LIMIT, "%zu inputs and %zu outputs, more than the %d supported",
					   n_in, n_out, MAAS_ONNX_MAX_NODE_IO);
	if (n_attr > MAAS_ONNX_MAX_ATTRS)
		return onnx_fail(rd, MAAS_ERR_LIMIT, "%zu attributes, more than the %d supported",
					   n_attr, MAAS_ONNX_MAX_ATTRS);
	if ((inputs = onnx_alloc_array(rd, n_in, sizeof(char *))) == NULL ||
		(outputs = onnx_alloc_array(rd, n_out, sizeof(char *))) == NULL ||
		(attrs = onnx_alloc_array(rd, n_attr, sizeof(MaasOnnxAttr))) == NULL)
		return false;

	n_in = n_out = n_attr = 0;
	c = cursor(s.pos, s.len, &NodeSpec);
	for (;;)
	{
		char		what[32];

		if (!onnx_pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			break;
		if (f.number == 1)
		{
			snprintf(what, sizeof(what), "input %zu", n_in);
			if (!onnx_rd_name(rd, field_span(&f), &inputs[n_in], what))
				return false;
			n_in++;
		}
		else if (f.number == 2)
		{
			snprintf(what, sizeof(what), "output %zu", n_out);
			if (!onnx_rd_name(rd, field_span(&f), &outputs[n_out], what))
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

		if ((sorted = onnx_alloc_array(rd, n_attr, sizeof(char *))) == NULL)
			return false;
		for (i = 0; i < n_attr; i++)
			sorted[i] = attrs[i].name;
		qsort(sorted, n_attr, sizeof(char *), onnx_cmp_strptr);
		for (i = 1; i < n_attr; i++)
		{
			if (strcmp(sorted[i - 1], sorted[i]) == 0)
				return onnx_fail(rd, MAAS_ERR_INVALID, "attribute \"%.*s\" appears twice",
							   onnx_show_len(sorted[i]), sorted[i]);
		}
	}
	onnx_where_set(rd, outer);
	return true;
}
