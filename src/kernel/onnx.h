/*
 * onnx.h
 *		A checked reader of ONNX models (the protobuf ModelProto of
 *		onnx.proto) and of standalone TensorProto files, into an in-memory
 *		graph that the translator turns into a layer program.
 *
 * The reader is hand-written (onnx_read.c says why) and trusts nothing in
 * the buffer: every varint, length and offset is checked against the
 * enclosing message before use, wire types against the field's declared
 * type, counts against fixed limits, sizes with overflow checks, and the
 * memory it takes against a budget.  It never recurses: subgraphs (If,
 * Loop, Scan) are refused, or kept as opaque stubs on request.
 *
 * What it guarantees of a graph it returns:
 *	- every name is non-empty where ONNX requires one, valid UTF-8 and free
 *	  of NUL bytes (attribute STRING values are bytes and may hold anything);
 *	- every tensor has a supported fixed-size dtype, a rank of at most
 *	  MAAS_ONNX_MAX_DIMS, non-negative dims, and exactly numel elements of
 *	  data, in place in the buffer (raw_data) or decoded from the typed
 *	  fields into kernel memory;
 *	- every node input is produced exactly once (by a graph input, an
 *	  initializer or an earlier node output), no name is produced twice,
 *	  every graph output is produced, and there is no cycle: order[] lists
 *	  the nodes so that each comes after the producers of its inputs;
 *	- every node's domain has an opset import.
 *
 * Everything lives in maas_kalloc memory (never freed here).  Tensors read
 * in place point into the caller's buffer, which must outlive the model.
 */
#ifndef MAAS_ONNX_H
#define MAAS_ONNX_H

#include "kernel.h"
#include "safetensors.h"

/* ---- limits (beyond them: MAAS_ERR_LIMIT) ---- */

#define MAAS_ONNX_MAX_DIMS		8	/* rank of a tensor with data */
#define MAAS_ONNX_MAX_RANK		64	/* rank of a graph input/output/value_info */
#define MAAS_ONNX_MAX_NODES		(1 << 20)
#define MAAS_ONNX_MAX_VALUES	(1 << 20)	/* initializers, inputs, outputs,
											 * value_info: each */
#define MAAS_ONNX_MAX_NODE_IO	(1 << 16)	/* inputs, outputs of one node */
#define MAAS_ONNX_MAX_ATTRS		1024	/* attributes of one node */
#define MAAS_ONNX_MAX_LIST		(1 << 24)	/* values of one list attribute */
#define MAAS_ONNX_MAX_OPSETS	64
/* what one read may allocate unless MaasOnnxOptions says otherwise */
#define MAAS_ONNX_DEFAULT_MAX_MEMORY ((size_t) 1 << 30)

/* ---- data types: TensorProto.DataType, by ONNX's own numbers ---- */

typedef enum MaasOnnxDtype
{
	MAAS_ONNX_UNDEFINED = 0,
	MAAS_ONNX_FLOAT = 1,
	MAAS_ONNX_UINT8 = 2,
	MAAS_ONNX_INT8 = 3,
	MAAS_ONNX_UINT16 = 4,
	MAAS_ONNX_INT16 = 5,
	MAAS_ONNX_INT32 = 6,
	MAAS_ONNX_INT64 = 7,
	MAAS_ONNX_STRING = 8,		/* refused for tensor data */
	MAAS_ONNX_BOOL = 9,
	MAAS_ONNX_FLOAT16 = 10,
	MAAS_ONNX_DOUBLE = 11,
	MAAS_ONNX_UINT32 = 12,
	MAAS_ONNX_UINT64 = 13,
	MAAS_ONNX_COMPLEX64 = 14,	/* refused */
	MAAS_ONNX_COMPLEX128 = 15,	/* refused */
	MAAS_ONNX_BFLOAT16 = 16
	/* 17 .. 23 (float8, int4, float4) are named in errors and refused */
} MaasOnnxDtype;

/* "FLOAT", "INT64", ...; "UNDEFINED"; "unknown" beyond what ONNX defines */
extern const char *maas_onnx_dtype_name(int32_t dtype);

/* bytes per element of a dtype a tensor may hold, 0 for any other */
extern size_t maas_onnx_dtype_size(int32_t dtype);

/* the safetensors dtype of the same elements; false for none */
extern bool maas_onnx_st_dtype(int32_t dtype, StDtype *st);

/* ---- the graph ---- */

/* A tensor with data: an initializer, a TENSOR attribute, a .pb file. */
typedef struct MaasOnnxTensor
{
	const char *name;			/* "" when the file gives none */
	int32_t		dtype;			/* MaasOnnxDtype with a size */
	int32_t		ndim;			/* 0 .. MAAS_ONNX_MAX_DIMS; 0 is a scalar */
	int64_t		dims[MAAS_ONNX_MAX_DIMS];
	int64_t		numel;			/* product of dims (1 for a scalar) */
	size_t		nbytes;			/* numel * maas_onnx_dtype_size(dtype) */
	const void *data;			/* nbytes of little-endian elements, never
								 * NULL; not aligned when in_place */
	bool		in_place;		/* data points into the parsed buffer */
	size_t		offset;			/* in_place: data - buffer (alignment is
								 * offset % 8); else 0 */
} MaasOnnxTensor;

/* AttributeProto.AttributeType, by ONNX's numbers */
typedef enum MaasOnnxAttrType
{
	MAAS_ONNX_ATTR_FLOAT = 1,
	MAAS_ONNX_ATTR_INT = 2,
	MAAS_ONNX_ATTR_STRING = 3,
	MAAS_ONNX_ATTR_TENSOR = 4,
	MAAS_ONNX_ATTR_GRAPH = 5,	/* only with MAAS_ONNX_OPAQUE_SUBGRAPHS */
	MAAS_ONNX_ATTR_FLOATS = 6,
	MAAS_ONNX_ATTR_INTS = 7,
	MAAS_ONNX_ATTR_STRINGS = 8,
	MAAS_ONNX_ATTR_TENSORS = 9, /* refused */
	MAAS_ONNX_ATTR_GRAPHS = 10, /* only with MAAS_ONNX_OPAQUE_SUBGRAPHS */
	MAAS_ONNX_ATTR_SPARSE_TENSOR = 11,	/* refused */
	MAAS_ONNX_ATTR_SPARSE_TENSORS = 12, /* refused */
	MAAS_ONNX_ATTR_TYPE_PROTO = 13, /* refused */
	MAAS_ONNX_ATTR_TYPE_PROTOS = 14 /* refused */
} MaasOnnxAttrType;

/* "float", "ints", "graph", ... */
extern const char *maas_onnx_attr_type_name(int32_t type);

/*
 * One attribute.  Only the members of its type are set; the others are
 * zero/NULL.  A GRAPH or GRAPHS stub carries no graph: n is the number of
 * graphs and nothing else is read of them.
 */
typedef struct MaasOnnxAttr
{
	const char *name;			/* non-empty, unique within the node */
	int32_t		type;			/* MaasOnnxAttrType */
	int32_t		n;				/* FLOATS, INTS, STRINGS, GRAPHS: values */
	float		f;				/* FLOAT */
	int64_t		i;				/* INT */
	const char *s;				/* STRING: its bytes and a NUL after them */
	size_t		s_len;			/* STRING: bytes, not counting that NUL */
	const MaasOnnxTensor *t;	/* TENSOR */
	const float *floats;		/* FLOATS */
	const int64_t *ints;		/* INTS */
	const char *const *strings; /* STRINGS: n byte strings, each NUL-ended */
	const size_t *string_lens;	/* STRINGS: their lengths */
} MaasOnnxAttr;

typedef struct MaasOnnxNode
{
	const char *op_type;		/* non-empty */
	const char *domain;			/* "" for the default domain (the file may
								 * say "ai.onnx"); has an opset import */
	const char *name;			/* may be "" */
	int32_t		n_inputs;
	const char *const *inputs;	/* "" marks an omitted optional input */
	int32_t		n_outputs;
	const char *const *outputs; /* "" marks an output not asked for */
	int32_t		n_attrs;
	const MaasOnnxAttr *attrs;
} MaasOnnxNode;

/* what a TypeProto says a value is */
typedef enum MaasOnnxValueKind
{
	MAAS_ONNX_VALUE_UNKNOWN = 0,	/* no type given */
	MAAS_ONNX_VALUE_TENSOR,
	MAAS_ONNX_VALUE_SEQUENCE,
	MAAS_ONNX_VALUE_MAP,
	MAAS_ONNX_VALUE_OPTIONAL,
	MAAS_ONNX_VALUE_SPARSE_TENSOR
} MaasOnnxValueKind;

/* "tensor", "sequence", "map", "optional", "sparse tensor", "untyped" */
extern const char *maas_onnx_value_kind_name(int32_t kind);

typedef struct MaasOnnxDim
{
	int64_t		value;			/* >= 0, or -1 when not a number */
	const char *param;			/* symbolic name ("batch"), or NULL */
} MaasOnnxDim;

/* a graph input, output or value_info entry */
typedef struct MaasOnnxValueInfo
{
	const char *name;			/* non-empty */
	int32_t		kind;			/* MaasOnnxValueKind */
	int32_t		elem_type;		/* TENSOR, SPARSE_TENSOR: dtype or 0; any
								 * number ONNX defines (STRING too) */
	int32_t		ndim;			/* TENSOR, SPARSE_TENSOR: 0 ..
								 * MAAS_ONNX_MAX_RANK, or -1 when no shape is
								 * given (rank unknown) */
	const MaasOnnxDim *dims;	/* ndim of them */
	int32_t		initializer;	/* graph inputs: the index of the initializer
								 * of the same name (old IR versions list
								 * them as inputs too), or -1 */
} MaasOnnxValueInfo;

typedef struct MaasOnnxNames MaasOnnxNames;	/* the name index, opaque */

typedef struct MaasOnnxGraph
{
	const char *name;			/* may be "" */
	int32_t		n_nodes;
	const MaasOnnxNode *nodes;	/* in file order */
	const int32_t *order;		/* n_nodes indexes into nodes, topologically
								 * sorted (file order when it already is) */
	int32_t		n_initializers;
	const MaasOnnxTensor *initializers;
	int32_t		n_inputs;
	const MaasOnnxValueInfo *inputs;	/* initializers among them are marked */
	int32_t		n_outputs;
	const MaasOnnxValueInfo *outputs;
	int32_t		n_value_info;
	const MaasOnnxValueInfo *value_info;	/* shapes of inner values, as
											 * given (not checked against
											 * the graph) */
	const MaasOnnxNames *names;
} MaasOnnxGraph;

typedef struct MaasOnnxOpset
{
	const char *domain;			/* "" for the default domain; unique */
	int64_t		version;		/* >= 1 */
} MaasOnnxOpset;

typedef struct MaasOnnxModel
{
	int64_t		ir_version;
	const char *producer_name;	/* "" when not given */
	const char *producer_version;
	const char *domain;
	int64_t		model_version;
	int32_t		n_opsets;
	const MaasOnnxOpset *opsets;
	int32_t		n_functions;	/* model-local functions: counted, not read */
	MaasOnnxGraph graph;
	const uint8_t *buf;			/* what was read; in-place data points here */
	size_t		len;
} MaasOnnxModel;

/* ---- reading ---- */

/* keep If/Loop/Scan subgraph attributes as GRAPH/GRAPHS stubs (for
 * inspection) instead of refusing the model */
#define MAAS_ONNX_OPAQUE_SUBGRAPHS	0x1

typedef struct MaasOnnxOptions
{
	uint32_t	flags;			/* MAAS_ONNX_* */
	size_t		max_memory;		/* bytes the read may allocate; 0 means
								 * MAAS_ONNX_DEFAULT_MAX_MEMORY */
} MaasOnnxOptions;

/*
 * Read a ModelProto from buf[0 .. len).  opts may be NULL (defaults); tick
 * is called every few thousand fields or elements.  Returns the model, or
 * NULL with err set: MAAS_ERR_INVALID for bytes that are not a valid ONNX
 * model, MAAS_ERR_UNSUPPORTED for a valid one using what the reader refuses
 * (external data, a dtype such as STRING, subgraphs, sparse tensors,
 * segmented tensors), MAAS_ERR_LIMIT beyond a limit above or the memory
 * budget, MAAS_ERR_NOMEM.  Messages name where: "node 12 (Conv
 * \"/conv1/Conv\"), attribute \"pads\": ...", "initializer \"fc.weight\":
 * ...", "truncated protobuf at byte N: ...".
 */
extern MaasOnnxModel *maas_onnx_read(const uint8_t *buf, size_t len,
									 const MaasOnnxOptions *opts,
									 const MaasTick *tick, MaasError *err);

/*
 * Read a standalone TensorProto (the input_N.pb / output_N.pb files of
 * ONNX's test data), with the same checks as an initializer.
 */
extern MaasOnnxTensor *maas_onnx_read_tensor(const uint8_t *buf, size_t len,
											 const MaasOnnxOptions *opts,
											 const MaasTick *tick,
											 MaasError *err);

/* ---- looking things up ---- */

typedef enum MaasOnnxSource
{
	MAAS_ONNX_FROM_INPUT = 1,	/* a graph input that is no initializer */
	MAAS_ONNX_FROM_INITIALIZER, /* (also when it is listed as an input) */
	MAAS_ONNX_FROM_NODE
} MaasOnnxSource;

typedef struct MaasOnnxProducer
{
	int32_t		source;			/* MaasOnnxSource */
	int32_t		index;			/* into inputs, initializers or nodes */
	int32_t		slot;			/* FROM_NODE: which of the node's outputs */
} MaasOnnxProducer;

/* what produces the value named name; false when nothing does */
extern bool maas_onnx_lookup(const MaasOnnxGraph *graph, const char *name,
							 MaasOnnxProducer *producer);

/* the initializer named name, or NULL */
extern const MaasOnnxTensor *maas_onnx_initializer(const MaasOnnxGraph *graph,
												   const char *name);

/* the attribute of a node named name, or NULL */
extern const MaasOnnxAttr *maas_onnx_attr(const MaasOnnxNode *node,
										  const char *name);

/* the opset version imported for a domain ("" or "ai.onnx": the default
 * one), or 0 when it is not imported */
extern int64_t maas_onnx_opset(const MaasOnnxModel *model, const char *domain);

/*
 * "node 12 (Conv \"/conv1/Conv\")" (or "node 12 (Conv)" without a name,
 * "node 12 (com.microsoft.Gelu ...)" outside the default domain), the way
 * every message about a node starts; cut to fit cap.
 */
extern void maas_onnx_node_label(const MaasOnnxGraph *graph, int32_t index,
								 char *buf, size_t cap);

/* ---- tensor values ---- */

/* the elements of a FLOAT, FLOAT16, BFLOAT16 or DOUBLE tensor as float */
extern bool maas_onnx_tensor_f32(const MaasOnnxTensor *t, float *dst,
								 MaasError *err);

/* the elements of an integer or BOOL tensor as int64 (a UINT64 above
 * INT64_MAX is an error) */
extern bool maas_onnx_tensor_i64(const MaasOnnxTensor *t, int64_t *dst,
								 MaasError *err);

/* ---- what a model uses ---- */

/* an operator maas translates: domain "" is the default domain */
typedef struct MaasOnnxOpSupport
{
	const char *domain;
	const char *op_type;
	const char *note;			/* how it is translated, or NULL */
} MaasOnnxOpSupport;

/*
 * The operators the translator knows (onnx_translate*.c), ending with {NULL,
 * NULL, NULL}, each with a note saying how it becomes layers: "dense",
 * "folded at import", "within a LayerNorm", ...  A node of a known operator
 * may still be refused for its attributes or shapes.
 */
extern const MaasOnnxOpSupport maas_onnx_supported_ops[];

typedef struct MaasOnnxOpCount
{
	const char *domain;
	const char *op_type;
	int32_t		count;			/* nodes with this operator */
	int32_t		first_node;		/* index of the first of them */
	bool		supported;		/* listed in the table given */
	const char *note;			/* the table's note, or NULL */
} MaasOnnxOpCount;

/*
 * Every operator of the graph with its count, in order of first use, and
 * whether supported (a table ending with {NULL, NULL}; NULL means none)
 * lists it.  Returns the array and its length in *n_ops, or NULL with err
 * set (only when out of memory; an empty graph gives a non-NULL array).
 */
extern MaasOnnxOpCount *maas_onnx_op_counts(const MaasOnnxModel *model,
											const MaasOnnxOpSupport *supported,
											int32_t *n_ops, MaasError *err);

#endif							/* MAAS_ONNX_H */
