/*
 * onnx_int.h
 *		What the files of the ONNX reader share (onnx.h is its interface):
 *		the reader's state, the wire-format cursor, the name index, and the
 *		helpers each phase uses.
 *
 *	onnx_wire.c		the reader's context (budget, ticks, messages) and the
 *					protobuf wire format: tags, varints, lengths, strings
 *	onnx_tensor.c	dtypes, TensorProto, tensor values as float or int64
 *	onnx_node.c		ValueInfoProto and TypeProto, AttributeProto, NodeProto
 *	onnx_read.c		GraphProto and its checks (names, producers, order),
 *					ModelProto: the entry points
 *	onnx_lookup.c	lookups in a graph read, and the operators it uses
 *
 * Nothing here is for use outside the reader.
 */
#ifndef MAAS_ONNX_INT_H
#define MAAS_ONNX_INT_H

#include "onnx.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ONNX reader assumes a little-endian host (raw_data is little-endian)"
#endif

/* how often maas_tick() is called: every TICK_EVERY fields or elements */
#define TICK_EVERY		4096
/* longest name shown in a message, in bytes */
#define SHOW_NAME		96

/* ---- the reader: budget, ticks, messages with their context ---- */

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
extern int	onnx_show_len(const char *s);

/* drop a partial UTF-8 sequence that a cut left at the end of s[0 .. len) */
extern size_t onnx_utf8_trim(const char *s, size_t len);

/* append to the context of messages (", " between parts) */
extern void onnx_where_add(Rd *rd, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* cut the context back to len bytes */
extern void onnx_where_set(Rd *rd, size_t len);

/* record an error, prefixed by the context, and return false */
extern bool onnx_fail(Rd *rd, MaasStatus status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* memory charged against the budget; NULL with the error set */
extern void *onnx_alloc(Rd *rd, size_t size);
extern void *onnx_alloc_array(Rd *rd, size_t n, size_t size);

/* ---- the wire format ---- */

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

/* the payload of a packed repeated field, for messages */
extern const MsgSpec onnx_packed_spec;

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

/* a varint at c, advancing it */
extern bool onnx_pb_varint(Rd *rd, Cursor *c, uint64_t *value);

/* the field of a message type with this number, or NULL */
extern const FieldSpec *onnx_spec_field(const MsgSpec *spec, uint32_t number);

/*
 * Read the next field of the message under c.  At the end of the message
 * f->number is 0.  Checks the tag, the wire type (against onnx.proto for a
 * known field), and that the value lies within the message.
 */
extern bool onnx_pb_next(Rd *rd, Cursor *c, Field *f);

/*
 * A first pass over the message at s, before its repeated fields are read
 * into arrays of the right size: for each field of t, how many times it
 * appears (count) and its last occurrence (last; the one that wins for a
 * singular field).  A field marked stop ends the pass where it first
 * appears, with its count 1, for the caller to reject it.
 */
typedef struct Tally
{
	uint32_t	number;
	bool		stop;
	size_t		count;
	Span		last;
} Tally;

extern bool onnx_pb_tally(Rd *rd, Span s, const MsgSpec *spec, Tally *t, int n);

/* a varint field declared int32 (or an enum): sign-extended on the wire */
extern bool onnx_pb_int32(Rd *rd, const Field *f, int32_t *out);

/*
 * Count the elements one occurrence of a repeated scalar field adds: one
 * when not packed, else the varints or fixed-size values of its payload.
 * size is 0 for varint elements.
 */
extern bool onnx_pb_count(Rd *rd, const Field *f, size_t size, size_t *count);

/*
 * Visit the elements of one occurrence of a repeated scalar field (as
 * counted by onnx_pb_count), each as its raw 64-bit value, appending
 * through fn.
 */
typedef bool (*ElemFn) (Rd *rd, void *state, uint64_t value, size_t at);

extern bool onnx_pb_elements(Rd *rd, const Field *f, size_t size, ElemFn fn,
							 void *state);

/* copy a string field, which must be valid UTF-8 without NUL bytes */
extern bool onnx_rd_name(Rd *rd, Span s, const char **out, const char *what);

/* copy a bytes field, NUL-terminated (it may hold NUL bytes itself) */
extern bool onnx_rd_bytes(Rd *rd, Span s, const char **out, size_t *len);

/* does the span hold exactly the bytes of word */
extern bool onnx_span_is(const Rd *rd, Span s, const char *word);

/* ---- the messages (onnx_tensor.c, onnx_node.c) ---- */

/* the data of an empty tensor */
extern const uint8_t onnx_empty_data[8];

/*
 * Read a TensorProto at span s into t.  role names the tensor in messages:
 * "initializer 3" until its name is known, then "initializer \"w\"" (no
 * number when index < 0); NULL adds nothing to the caller's context (an
 * attribute's tensor).
 */
extern bool onnx_read_tensor_proto(Rd *rd, Span s, const char *role,
								   int32_t index, MaasOnnxTensor *t);

/* role: "graph input", "graph output", "value_info" */
extern bool onnx_read_value_info(Rd *rd, Span s, const char *role,
								 int32_t index, MaasOnnxValueInfo *v);

extern bool onnx_read_node(Rd *rd, Span s, int32_t index, MaasOnnxNode *node);

/* "node 3 (Conv \"c\")", as maas_onnx_node_label */
extern void onnx_node_label(const MaasOnnxNode *node, int32_t index, char *buf,
							size_t cap);

/* qsort comparison of two const char * */
extern int	onnx_cmp_strptr(const void *a, const void *b);

/* ---- the name index (onnx_read.c) ---- */

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

extern uint32_t onnx_name_hash(const char *s);

/* the slot of a name, or NULL */
extern const NameSlot *onnx_find_name(const MaasOnnxNames *names, const char *name);

#endif							/* MAAS_ONNX_INT_H */
