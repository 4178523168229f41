/*
 * onnx_translate_int.h
 *		What the files of the ONNX translator share (onnx_translate.h is
 *		its interface):
 *
 *	onnx_translate.c		the passes, the values and the graph inputs, the
 *							entry point
 *	onnx_translate_build.c	what the ops build: errors, attributes, layers and
 *							their keys, tensors
 *	onnx_translate_config.c	the end: the served output, layer names, the task,
 *							the import's inputs and tensors, the config
 *	onnx_fold.c				constants: folding arithmetic, symbolic shapes,
 *							slices
 *	onnx_fold_ops.c			the ops that only fold (Constant, Shape, Cast,
 *							Range, comparisons, Concat, Slice, ...)
 *	onnx_translate_dense.c	MLPs: Gemm, MatMul, elementwise ops, activations,
 *							softmax
 *	onnx_translate_view.c	views: Reshape, Flatten, Squeeze, Unsqueeze,
 *							Transpose, Identity, Dropout
 *	onnx_translate_conv.c	CNNs: Conv, pools, BatchNormalization
 *	onnx_translate_text.c	transformers: embeddings, masks, Gather, Split,
 *							Where, the LayerNorm and GELU ops
 *	onnx_translate_pattern.c	the LayerNorm, GELU and attention patterns
 *
 * Every op has an eval function (analysis: the kind and shape of its
 * outputs, and their values when they are constants) and a lower function
 * (the layers it becomes when it computes a run-time value).
 */
#ifndef MAAS_ONNX_TRANSLATE_INT_H
#define MAAS_ONNX_TRANSLATE_INT_H

#include "onnx_translate.h"

#define TX_RANK		MAAS_ONNX_MAX_DIMS

/*
 * A dimension, or an integer a graph computes from shapes: k * B^b * T^t,
 * B the batch size and T the sequence length (neither known at import);
 * k < 0 with b = t = 0 is a plain negative integer.  TX_UNKNOWN marks what
 * cannot be written so (a sum of B and 1, say).
 */
typedef struct TxDim
{
	int64_t		k;
	int8_t		b;
	int8_t		t;
	bool		unknown;
} TxDim;

static inline TxDim
tx_dim(int64_t k)
{
	TxDim		d = {k, 0, 0, false};

	return d;
}

/* a dimension that depends on the batch or sequence size, or is unknown */
static inline bool
tx_dim_symbolic(TxDim d)
{
	return d.unknown || d.b != 0 || d.t != 0;
}

static inline bool
tx_dim_is(TxDim d, int64_t k)
{
	return !d.unknown && d.b == 0 && d.t == 0 && d.k == k;
}

static inline bool
tx_dim_known(TxDim d)
{
	return !d.unknown && d.b == 0 && d.t == 0;
}

static inline bool
tx_dim_eq(TxDim a, TxDim c)
{
	return !a.unknown && !c.unknown && a.k == c.k && a.b == c.b && a.t == c.t;
}

/*
 * The bounds of every dimension an op sees (onnx_translate.c checks each
 * input against them before its op runs): a known part k of at most
 * TX_DIM_MAX, powers of B and T of at most TX_POW_MAX, and a product of
 * the known parts of at most TX_NUMEL_MAX, so that an op may multiply a
 * value's dimensions, or a few of them with a count, without overflow.
 */
#define TX_DIM_MAX		(INT64_C(1) << 31)
#define TX_POW_MAX		16
#define TX_NUMEL_MAX	(INT64_C(1) << 40)

/* a * b, false when it leaves the bounds above (the shape is too large) */
static inline bool
tx_dim_mul(TxDim a, TxDim c, TxDim *out)
{
	int64_t		k;

	if (a.unknown || c.unknown)
	{
		*out = (TxDim) {0, 0, 0, true};
		return true;
	}
	if (__builtin_mul_overflow(a.k, c.k, &k) || k > TX_NUMEL_MAX || k < -TX_NUMEL_MAX ||
		a.b + c.b > TX_POW_MAX || a.b + c.b < -TX_POW_MAX ||
		a.t + c.t > TX_POW_MAX || a.t + c.t < -TX_POW_MAX)
		return false;
	*out = (TxDim) {k, (int8_t) (a.b + c.b), (int8_t) (a.t + c.t), false};
	return true;
}

extern const TxDim tx_dim_B;
extern const TxDim tx_dim_T;
extern const TxDim tx_dim_unknown;

typedef enum TxKind
{
	TX_NONE = 0,				/* an omitted input, an output nobody asked for */
	TX_CONST,					/* values known at import */
	TX_SYM,						/* integers of rank 0 or 1 known up to B and T */
	TX_IOTA,					/* integers c0 + sum coef[d] * index[d] over a
								 * shape of symbolic extent: Range(0, T) */
	TX_MASK,					/* booleans: c0 + sum coef[d] * index[d] >= 0 */
	TX_RUN,						/* computed per row at run time */
	TX_TOKENS,					/* the token ids input (or a view of it) */
	TX_TYPES,					/* the token types input */
	TX_MASKIN,					/* the attention mask input as a * m + c */
	TX_POS,						/* rows 0 .. T-1 of a constant table */
	TX_EMB						/* a sum of embeddings of tokens, positions,
								 * types */
} TxKind;

typedef struct TxVal
{
	const char *name;
	uint8_t		kind;
	int32_t		dtype;			/* MaasOnnxDtype */
	int			ndim;
	TxDim		dims[TX_RANK];
	int64_t		numel;			/* CONST, SYM: elements */

	/* TX_CONST: FLOAT-class dtypes in f, integers and BOOL in i */
	const float *f;
	const int64_t *i;
	const MaasOnnxTensor *src;	/* the tensor these values are, as read */

	/* TX_SYM */
	const TxDim *s;

	/* TX_IOTA, TX_MASK */
	int64_t		coef[TX_RANK];
	int64_t		c0;

	/* TX_MASKIN */
	double		a,
				c;

	/* TX_POS (pos_table), TX_EMB: value ids of constant tables, or -1 */
	int			tok_table;
	int			pos_table;
	int			type_table;

	/* TX_RUN */
	int			layer;			/* the program's value: 0 the input, k + 1
								 * the output of layer k */
	bool		seq;			/* axis 1 is the sequence */
	bool		std;			/* laid out as the runtime keeps a value (batch,
								 * then sequence, the rest row-major): layers
								 * may read it */

	int32_t		uses;			/* live nodes (and outputs) reading its data */
	int32_t		producer;		/* node index, or -1 */
} TxVal;

/* out takes in's kind and values, keeping its own name and producer */
static inline void
tx_copy_val(TxVal *out, const TxVal *in)
{
	const char *name = out->name;
	int32_t		producer = out->producer;

	*out = *in;
	out->name = name;
	out->producer = producer;
	out->uses = 0;
}

/* a key of a layer's config object */
typedef enum TxKeyType
{
	TK_TENSOR,
	TK_NUM,
	TK_INT,
	TK_STR,
	TK_BOOL,
	TK_INTS
} TxKeyType;

#define TX_MAX_KEYS 12

typedef struct TxKey
{
	const char *key;
	uint8_t		type;
	int			tensor;
	double		num;
	int64_t		ints[8];
	int			n_ints;
	const char *str;
	bool		b;
} TxKey;

typedef struct TxLayer
{
	const char *op;
	const char *name;
	int			n_in;			/* 0: the value before it */
	int			in[4];			/* program values */
	int			n_keys;
	TxKey		keys[TX_MAX_KEYS];
	/* what it writes */
	int64_t		width;
	bool		seq;
	int			c,
				h,
				w;
	int			uses;			/* reads of it not yet translated */
	int			node;			/* the node it came from */
} TxLayer;

typedef struct TxTensor
{
	const char *name;
	int			ndim;
	int64_t		shape[TX_RANK];
	int64_t		numel;
	float	   *data;			/* float32 values of our own, or NULL */
	const void *raw;			/* else the FLOAT bytes of an initializer as
								 * they lie in the model (maybe unaligned) */
	int			from;			/* the constant value it holds, or -1 */
	int			refs;			/* layer keys naming it */
} TxTensor;

/* an idiom of several nodes that becomes one layer */
typedef enum PatternType
{
	PAT_LAYERNORM,
	PAT_GELU,
	PAT_ATTENTION
} PatternType;

typedef struct TxPattern
{
	PatternType type;
	int			anchor;			/* its last node */
	int			out;			/* value ids */
	int			x;				/* layernorm, gelu: the input; attention: q */
	int			k,
				v;
	int			fused;			/* attention: the value split into q, k, v */
	int			gamma,
				beta;			/* layernorm: constants or -1 */
	double		eps;
	bool		tanh;			/* gelu */
	int			heads;
	bool		causal;
	bool		padded;
} TxPattern;

typedef struct Tx Tx;

/*
 * What a node of an operator may have: min_in to max_in inputs (-1: any
 * number), the bits of optional the ones that may be omitted (an empty
 * name, or past the last given), min_out to max_out outputs.  The
 * translator checks a node against it before any of the op's functions
 * runs, so these see every required input present and computed, and an
 * optional one either NULL or computed: no op checks its arity itself.
 */
typedef struct TxArity
{
	int16_t		since;			/* the first opset it holds for */
	int8_t		min_in;
	int8_t		max_in;
	uint16_t	optional;
	int8_t		min_out;
	int8_t		max_out;
} TxArity;

/* inputs min..max (the ones of mask optional), outputs min_out..max_out */
#define TX_ARITY(min, max, mask, min_out, max_out) \
	{{0, min, max, mask, min_out, max_out}, {0, 0, 0, 0, 0, 0}}
/* one arity before opset `since`, another from it on */
#define TX_ARITY2(min, max, mask, min_out, max_out, since, min2, max2, mask2) \
	{{0, min, max, mask, min_out, max_out}, {since, min2, max2, mask2, min_out, max_out}}
#define TX_OPT(k)	(1u << (k))
#define TX_ANY		(-1)

/* one operator: analysis, then layers */
typedef struct TxOp
{
	const char *op_type;
	const char *const *attrs;	/* the attributes it reads (others refused) */
	bool		(*eval) (Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out);
	bool		(*lower) (Tx *tx, const MaasOnnxNode *n, TxVal **in, TxVal **out);
	bool		reads_shape_only;	/* Shape, Size: their input's data is not read */
	TxArity		arity[2];		/* [1] replaces [0] from opset arity[1].since
								 * on, when that is set */
} TxOp;

struct Tx
{
	const MaasOnnxModel *m;
	const MaasOnnxGraph *g;
	const MaasOnnxTranslateOptions *opts;
	MaasError  *err;
	const MaasTick *tick;
	int64_t		opset;

	int			n_vals;
	TxVal	   *vals;
	int32_t    *out_base;		/* per node: value id of its first output */
	int32_t    *in_base;		/* per node: into in_val */
	int32_t    *in_val;			/* per node input: value id, -1 if omitted */
	const TxOp **ops;			/* per node */
	bool	   *live;			/* per node */
	int32_t    *covered;		/* per node: the pattern covering it, or -1 */
	int32_t    *anchor;			/* per node: the pattern it emits, or -1 */

	/* patterns (onnx_translate_pattern.c) */
	int			n_patterns;
	int			cap_patterns;
	struct TxPattern *patterns;

	TxLayer    *layers;
	int			n_layers;
	int			cap_layers;
	TxTensor   *tensors;
	int			n_tensors;
	int			cap_tensors;

	int64_t		batch0;			/* the batch size the inputs declare, -1
								 * when symbolic */
	bool		text;			/* the program reads tokens */
	int			n_features;
	int			in_c,
				in_h,
				in_w;
	int			tokens_in;		/* graph input value ids, or -1 */
	int			types_in;
	int			mask_in;
	int			features_in;

	int			node;			/* the node being translated, or -1 */
	char		label[MAAS_ERRLEN];
};

/* ---- onnx_translate.c ---- */

/* the tensor the options bind a graph input to, or NULL */
extern const MaasOnnxTensor *tx_bound_input(const Tx *tx, const char *name);

/* ---- onnx_translate_build.c ---- */

/* an error about the node being translated: "node 3 (Relu \"r\"): ..." */
extern bool tx_fail(Tx *tx, MaasStatus status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern bool tx_unsupported(Tx *tx, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern bool tx_invalid(Tx *tx, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
/* tx_fail, then a hint; false */
extern bool tx_hint(Tx *tx, const char *hint);

extern void *tx_alloc(Tx *tx, size_t n, size_t size);
extern const char *tx_strdup(Tx *tx, const char *s);

/* "[batch, 4, 8]" for messages */
extern const char *tx_shape_str(const TxVal *v, char *buf, size_t cap);

/* attributes: false (with the error set) when present with the wrong type */
extern bool tx_attr_int(Tx *tx, const MaasOnnxNode *n, const char *name,
						int64_t def, int64_t *out);
extern bool tx_attr_float(Tx *tx, const MaasOnnxNode *n, const char *name,
						  double def, double *out);
extern bool tx_attr_ints(Tx *tx, const MaasOnnxNode *n, const char *name,
						 int *count, const int64_t **out);
extern bool tx_attr_string(Tx *tx, const MaasOnnxNode *n, const char *name,
						   const char *def, const char **out);

/* a new layer reading the given program values (n_in 0: the one before) */
extern TxLayer *tx_layer(Tx *tx, const char *op, int n_in, const int *in);
extern bool tx_key_tensor(Tx *tx, TxLayer *l, const char *key, int tensor);
extern bool tx_key_num(Tx *tx, TxLayer *l, const char *key, double v);
extern bool tx_key_int(Tx *tx, TxLayer *l, const char *key, int64_t v);
extern bool tx_key_str(Tx *tx, TxLayer *l, const char *key, const char *v);
extern bool tx_key_bool(Tx *tx, TxLayer *l, const char *key, bool v);
extern bool tx_key_ints(Tx *tx, TxLayer *l, const char *key, const int64_t *v,
						int n);
/* the tensor a layer key names, or -1 */
extern int	tx_layer_tensor(const TxLayer *l, const char *key);
/* the layer that writes a program value (NULL for the input) */
extern TxLayer *tx_layer_of(Tx *tx, int value);

/*
 * Output value out is computed by layer l (just made): it gets the
 * layer's program value, and the layer its pending reads.
 */
extern void tx_set_output(Tx *tx, TxVal *out, TxLayer *l);
/* out is a view of in (same program value) */
extern void tx_alias(Tx *tx, TxVal *out, const TxVal *in);
/* the only read left of in's program value is this node's */
extern bool tx_sole_reader(Tx *tx, const TxVal *in);

/* a tensor holding a constant as it is (used in place when it can be) */
extern int	tx_tensor_const(Tx *tx, int val, const char *suffix);
/* a new tensor of our own (numel floats, zeroed), named */
extern int	tx_tensor_new(Tx *tx, const char *name, int ndim, const int64_t *shape);
/* the float32 values of a tensor, made its own to change (copied if need
 * be, and renamed if another layer names it too) */
extern float *tx_tensor_mut(Tx *tx, int tensor);
/* read-only float32 values (NULL when they lie unaligned in the model:
 * then tx_tensor_read copies them) */
extern const float *tx_tensor_read(Tx *tx, int tensor);

extern int	tx_val_id(const Tx *tx, const TxVal *v);

/* ---- onnx_translate_config.c ---- */

/* the net's served value for output v: a layer, made if v is the input */
extern bool tx_output_layer(Tx *tx, TxVal *v);
/* a generation model's last position, pooled before its position-wise
 * head; *value, the served value, moves */
extern bool tx_pool_for_generation(Tx *tx, int *value);
/* every layer a unique name that is not reserved */
extern bool tx_name_layers(Tx *tx);
/* the task the served value's layer implies (vocab: of the token table) */
extern const char *tx_derive_task(Tx *tx, int value, int vocab);
/* the import's inputs, its tensors, and the config JSON */
extern bool tx_describe_inputs(Tx *tx, MaasOnnxImport *out);
extern bool tx_collect_tensors(Tx *tx, MaasOnnxImport *out);
extern bool tx_write_config(Tx *tx, MaasOnnxImport *out, int served,
							const char *task);

/* ---- onnx_fold.c ---- */

/* broadcasting over an output of rank n: row-major strides of v (0 along
 * broadcast axes), and the flat source offsets of output element k */
extern void tx_bcast_strides(const TxVal *v, int n, const int64_t *out_dims,
							 int64_t *strides);
extern void tx_bcast_offsets(int n, const int64_t *dims, int64_t k,
							 const int64_t *sa, const int64_t *sb,
							 int64_t *oa, int64_t *ob);
/* symbolic integers (k B^b T^t): x (op) y */
extern TxDim tx_sym_op(const char *op, TxDim x, TxDim y);
/* a constant or symbolic value as symbolic integers */
extern bool tx_as_sym(Tx *tx, const TxVal *v, TxDim *out);
/* a symbolic result: a constant when every element is known */
extern bool tx_set_sym(Tx *tx, TxVal *out, int32_t dtype, int ndim,
					   int64_t numel, TxDim *s);
/* a constant of a FLOAT-class or integer dtype, numel elements, zeroed */
extern bool tx_make_const(Tx *tx, TxVal *v, int32_t dtype, int ndim,
						  const int64_t *dims);
/* the constant's values as float or int64 (converted when need be) */
extern const float *tx_const_f(Tx *tx, const TxVal *v);
extern const int64_t *tx_const_i(Tx *tx, const TxVal *v);
/* a constant or symbolic integer list of a shape argument */
extern bool tx_int_list(Tx *tx, const TxVal *v, const char *what, int *n,
						TxDim *out, int cap);
/* one integer (a scalar or one-element constant) */
extern bool tx_int_scalar(Tx *tx, const TxVal *v, const char *what, int64_t *out);
/* one float (a scalar or a one-element constant) */
extern bool tx_float_scalar(const Tx *tx, const TxVal *v, double *out);
extern bool tx_is_float_dtype(int32_t dtype);
/* a negative axis counted from the end, checked against rank */
extern bool tx_axis(Tx *tx, int64_t axis, int rank, const char *what, int *out);
/* the shape of the broadcast of a and b (numpy rules) */
extern bool tx_broadcast(Tx *tx, const TxVal *a, const TxVal *b, TxVal *out);
/* elementwise folding of constants (numpy broadcasting) */
extern bool tx_fold_binary(Tx *tx, const char *op, const TxVal *a,
						   const TxVal *b, TxVal *out);
extern bool tx_fold_unary(Tx *tx, const char *op, const TxVal *a, TxVal *out);
extern bool tx_is_value(const TxVal *v);	/* a constant or symbolic value */
/* a slice of a constant or shape value (Slice, Split) */
extern bool tx_slice(Tx *tx, TxVal *x, int n, const TxDim *starts, const TxDim *ends,
					 const TxDim *axes, const TxDim *steps, TxVal *out);

/* onnx_fold_ops.c */
extern const TxOp tx_fold_ops[];
extern const int tx_n_fold_ops;

/* ---- the families ---- */

extern const TxOp tx_dense_ops[];
extern const int tx_n_dense_ops;
extern const TxOp tx_view_ops[];
extern const int tx_n_view_ops;
extern const TxOp tx_conv_ops[];
extern const int tx_n_conv_ops;
extern const TxOp tx_text_ops[];
extern const int tx_n_text_ops;

/* onnx_translate_dense.c: batch first (then the sequence), the rest known */
extern bool tx_std_shape(const TxVal *v);
/* floats of v's vector (after the batch and sequence), or -1 if a
 * dimension is not known */
extern int64_t tx_vec_width(const TxVal *v);
/* a value a layer may read: computed by a layer, batch first */
extern bool tx_require_std(Tx *tx, const TxVal *v, const char *what);
/* the layers for x (op) c, c a constant broadcast over each vector */
extern bool tx_lower_affine(Tx *tx, TxVal *x, const TxVal *scale,
							const TxVal *shift, TxVal *out);

/* onnx_translate_text.c: the embedding sums and mask arithmetic of Add,
 * Sub, Mul, Div (*handled says whether it was one) */
extern bool tx_text_add(Tx *tx, const MaasOnnxNode *n, TxVal *a, TxVal *b,
						TxVal *out, bool *handled);
/* a layernorm layer over x's vector, weight and bias constants or -1 */
extern bool tx_emit_layernorm(Tx *tx, TxVal *x, int gamma, int beta,
							  double eps, TxVal *out);

/* onnx_translate_pattern.c: match the patterns, emit one at its anchor */
extern bool tx_find_patterns(Tx *tx);
extern bool tx_emit_pattern(Tx *tx, int pattern);
/* an embedding sum becomes an embedding layer when a layer reads it */
extern bool tx_materialize(Tx *tx, TxVal *v);

#endif							/* MAAS_ONNX_TRANSLATE_INT_H */
