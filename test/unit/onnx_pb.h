/*
 * onnx_pb.h
 *		A protobuf encoder and ONNX message builders for tests (onnx_pb.c).
 */
#ifndef MAAS_ONNX_PB_H
#define MAAS_ONNX_PB_H

#include "onnx.h"

typedef struct Pb
{
	uint8_t    *p;
	size_t		len;
	size_t		cap;
} Pb;

extern Pb pb_new(void);
extern void pb_raw(Pb *b, const void *data, size_t n);
extern void pb_byte(Pb *b, uint8_t c);
extern void pb_varint(Pb *b, uint64_t v);
extern void pb_key(Pb *b, uint32_t field, int wire);
extern void pb_int(Pb *b, uint32_t field, int64_t v);
extern void pb_blob(Pb *b, uint32_t field, const void *data, size_t n);
extern void pb_str(Pb *b, uint32_t field, const char *s);
extern void pb_sub(Pb *b, uint32_t field, const Pb *sub);
extern void pb_f32(Pb *b, uint32_t field, float f);
extern void pb_packed(Pb *b, uint32_t field, const int64_t *v, int n);
extern Pb mk_tensor(const char *name, int32_t dtype, int ndim, const int64_t *dims,
				   const void *raw, size_t rawlen);
extern Pb mk_value(const char *name, int32_t elem, int ndim, const int64_t *dims);
extern Pb mk_node(const char *op, const char *name, const char *ins, const char *outs);
extern void node_attr(Pb *node, const Pb *attr);
extern Pb mk_attr_int(const char *name, int64_t v);
extern Pb mk_attr_ints(const char *name, const int64_t *v, int n, bool packed);
extern Pb mk_attr_float(const char *name, float f);
extern Pb mk_attr_str(const char *name, const char *s);
extern Pb mk_model(const Pb *graph, int64_t opset);

#endif							/* MAAS_ONNX_PB_H */
