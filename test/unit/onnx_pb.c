/*
 * onnx_pb.c
 *		A small protobuf encoder and the ONNX messages built with it, for
 *		the tests that make models byte by byte (test_onnx.c,
 *		test_onnx_translate.c).  The buffers live in the test arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_pb.h"

/* ----------------------------------------------------------------
 *		a protobuf encoder, for building test inputs
 * ----------------------------------------------------------------
 */

Pb
pb_new(void)
{
	Pb			b = {NULL, 0, 0};

	return b;
}

void
pb_raw(Pb *b, const void *data, size_t n)
{
	if (b->len + n > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 64;
		uint8_t    *p;

		while (cap < b->len + n)
			cap *= 2;
		p = maas_kalloc(cap);
		if (p == NULL)
		{
			fprintf(stderr, "test allocation failed\n");
			exit(1);
		}
		if (b->len > 0)
			memcpy(p, b->p, b->len);
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

void
pb_byte(Pb *b, uint8_t c)
{
	pb_raw(b, &c, 1);
}

void
pb_varint(Pb *b, uint64_t v)
{
	while (v >= 0x80)
	{
		pb_byte(b, (uint8_t) (v | 0x80));
		v >>= 7;
	}
	pb_byte(b, (uint8_t) v);
}

void
pb_key(Pb *b, uint32_t field, int wire)
{
	pb_varint(b, ((uint64_t) field << 3) | (uint64_t) wire);
}

void
pb_int(Pb *b, uint32_t field, int64_t v)
{
	pb_key(b, field, 0);
	pb_varint(b, (uint64_t) v);
}

void
pb_blob(Pb *b, uint32_t field, const void *data, size_t n)
{
	pb_key(b, field, 2);
	pb_varint(b, n);
	pb_raw(b, data, n);
}

void
pb_str(Pb *b, uint32_t field, const char *s)
{
	pb_blob(b, field, s, strlen(s));
}

void
pb_sub(Pb *b, uint32_t field, const Pb *sub)
{
	pb_blob(b, field, sub->p, sub->len);
}

void
pb_f32(Pb *b, uint32_t field, float f)
{
	pb_key(b, field, 5);
	pb_raw(b, &f, 4);
}

/* a packed repeated varint field */
void
pb_packed(Pb *b, uint32_t field, const int64_t *v, int n)
{
	Pb			body = pb_new();
	int			i;

	for (i = 0; i < n; i++)
		pb_varint(&body, (uint64_t) v[i]);
	pb_sub(b, field, &body);
}


/* ----------------------------------------------------------------
 *		ONNX messages
 * ----------------------------------------------------------------
 */

/* TensorProto: dims packed; raw_data when raw is not NULL */
Pb
mk_tensor(const char *name, int32_t dtype, int ndim, const int64_t *dims,
		  const void *raw, size_t rawlen)
{
	Pb			t = pb_new();

	if (ndim > 0)
		pb_packed(&t, 1, dims, ndim);
	pb_int(&t, 2, dtype);
	if (name != NULL)
		pb_str(&t, 8, name);
	if (raw != NULL)
		pb_blob(&t, 9, raw, rawlen);
	return t;
}

/* ValueInfoProto of a tensor; a dim of -1 is the symbolic "N" */
Pb
mk_value(const char *name, int32_t elem, int ndim, const int64_t *dims)
{
	Pb			v = pb_new();
	Pb			type = pb_new();
	Pb			tensor = pb_new();
	Pb			shape = pb_new();
	int			i;

	for (i = 0; i < ndim; i++)
	{
		Pb			dim = pb_new();

		if (dims[i] == -1)
			pb_str(&dim, 2, "N");
		else
			pb_int(&dim, 1, dims[i]);
		pb_sub(&shape, 1, &dim);
	}
	pb_int(&tensor, 1, elem);
	if (ndim >= 0)
		pb_sub(&tensor, 2, &shape);
	pb_sub(&type, 1, &tensor);
	pb_str(&v, 1, name);
	pb_sub(&v, 2, &type);
	return v;
}

/* NodeProto; ins and outs are space-separated, "-" for an empty name */
Pb
mk_node(const char *op, const char *name, const char *ins, const char *outs)
{
	Pb			n = pb_new();
	const char *lists[2] = {ins, outs};
	int			k;

	for (k = 0; k < 2; k++)
	{
		const char *s = lists[k];

		while (s != NULL && *s != '\0')
		{
			size_t		w = strcspn(s, " ");

			if (w == 1 && s[0] == '-')
				pb_blob(&n, (uint32_t) (k + 1), "", 0);
			else if (w > 0)
				pb_blob(&n, (uint32_t) (k + 1), s, w);
			s += w;
			while (*s == ' ')
				s++;
		}
	}
	if (name != NULL)
		pb_str(&n, 3, name);
	pb_str(&n, 4, op);
	return n;
}

void
node_attr(Pb *node, const Pb *attr)
{
	pb_sub(node, 5, attr);
}

Pb
mk_attr_int(const char *name, int64_t v)
{
	Pb			a = pb_new();

	pb_str(&a, 1, name);
	pb_int(&a, 20, MAAS_ONNX_ATTR_INT);
	pb_int(&a, 3, v);
	return a;
}

Pb
mk_attr_ints(const char *name, const int64_t *v, int n, bool packed)
{
	Pb			a = pb_new();
	int			i;

	pb_str(&a, 1, name);
	pb_int(&a, 20, MAAS_ONNX_ATTR_INTS);
	if (packed)
		pb_packed(&a, 8, v, n);
	else
		for (i = 0; i < n; i++)
			pb_int(&a, 8, v[i]);
	return a;
}

Pb
mk_attr_float(const char *name, float f)
{
	Pb			a = pb_new();

	pb_str(&a, 1, name);
	pb_int(&a, 20, MAAS_ONNX_ATTR_FLOAT);
	pb_f32(&a, 2, f);
	return a;
}

Pb
mk_attr_str(const char *name, const char *s)
{
	Pb			a = pb_new();

	pb_str(&a, 1, name);
	pb_int(&a, 20, MAAS_ONNX_ATTR_STRING);
	pb_str(&a, 4, s);
	return a;
}

Pb
mk_model(const Pb *graph, int64_t opset)
{
	Pb			m = pb_new();
	Pb			op = pb_new();

	pb_int(&m, 1, 8);
	pb_str(&m, 2, "test");
	pb_str(&m, 3, "1.0");
	pb_sub(&m, 7, graph);
	pb_str(&op, 1, "");
	pb_int(&op, 2, opset);
	pb_sub(&m, 8, &op);
	return m;
}

