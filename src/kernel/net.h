/*
 * net.h
 *		The layer runtime: one forward pass for every model maas serves.
 *
 * A model is a MaasNet, a layer program: an ordered list of layers, each
 * reading one or more earlier values and writing one new value.  Value 0 is
 * the net's input; layer i writes value i + 1.  A layer reads the value
 * before it unless it names its inputs, so a plain chain (an MLP, a
 * logistic regression) needs no wiring, while residual adds, attention's
 * query/key/value and a classifier head beside an embedding head are a
 * graph.  Whatever made a model -- a registration, a trainer, an importer
 * -- produces this same structure, and this runtime executes it.
 *
 * Values.  Every value holds, for each of the batch's n rows, either one
 * vector (a "row" value: features, logits, a pooled embedding) or one
 * vector per position (a "sequence" value: token states of a text model,
 * t positions per row, t the same for the whole batch).  A vector has a
 * width; an image is a row value whose width is c * h * w, laid out NCHW as
 * in torch, with its (c, h, w) kept in the value's shape.  Activations are
 * float32, row-major, contiguous.
 *
 * Inputs.  A feature model's input is n rows of n_in floats.  A text
 * model's input is token ids: n rows of t ids, each row's valid length
 * (the rest is padding) and, for generation, a KV cache and the number of
 * positions already in it.
 *
 * Buffers.  maas_net_check() checks the graph once, when the net is built:
 * every input refers to an earlier value, shapes agree, and it assigns
 * every value a buffer so that values whose lifetimes do not overlap share
 * memory and elementwise layers run in place.  maas_net_workspace() then
 * gives the floats a forward pass over (n, t) needs, and maas_net_run()
 * trusts what the check established.
 *
 * Nothing here knows PostgreSQL.
 */
#ifndef MAAS_NET_H
#define MAAS_NET_H

#include "blas.h"
#include "conv.h"
#include "kernel.h"

typedef enum MaasOp
{
	MAAS_OP_STANDARDIZE,		/* y = (x - shift) * scale, per feature */
	MAAS_OP_DENSE,				/* y = x W^T + b, W [n_out, n_in] as torch */
	MAAS_OP_RELU,
	MAAS_OP_TANH,
	MAAS_OP_SIGMOID,
	MAAS_OP_SOFTMAX,			/* over each vector */
	MAAS_OP_DROPOUT,			/* identity at inference */
	MAAS_OP_ADD,				/* y = a + b, same shapes (residuals) */
	MAAS_OP_FLATTEN,			/* an image value as a plain vector */
	MAAS_OP_LOGSOFTMAX,			/* log of the softmax, over each vector */
	MAAS_OP_AFFINE,				/* y = x * scale + shift, per element */
	MAAS_OP_MUL,				/* y = a * b, same shapes (gates) */
	/* text models (ops_text.c) */
	MAAS_OP_EMBEDDING,			/* token + position (+ type) embeddings */
	MAAS_OP_LAYERNORM,
	MAAS_OP_GELU,
	MAAS_OP_ATTENTION,			/* multi-head self-attention, KV cache */
	MAAS_OP_POOL,				/* a sequence to one vector per row */
	MAAS_OP_REMOTE,				/* rows scored by a model server (ops_remote.h) */
	/* images (ops_conv.c) */
	MAAS_OP_CONV2D,
	MAAS_OP_MAXPOOL2D,
	MAAS_OP_AVGPOOL2D,
	MAAS_OP_GLOBAL_AVGPOOL,		/* [c, h, w] to [c, 1, 1] */
	MAAS_OP_BATCHNORM,			/* per channel (or feature): x * a + b */
	/* tabular models (ops_tabular.c) */
	MAAS_OP_TREES,				/* boosted trees: margins per output group */
	MAAS_OP_KMEANS,				/* distances to cluster centers */
	MAAS_N_OPS					/* new ops go before this, with a table entry
								 * in net.c */
} MaasOp;

/* what one row of a value is */
typedef struct MaasShape
{
	bool		seq;			/* one vector per position, else one per row */
	int			width;			/* floats in a vector */
	int			c,				/* image view (row values): width = c * h * w, */
				h,				/* or h = w = 0 */
				w;
} MaasShape;

#define MAAS_LAYER_MAX_INPUTS	4
#define MAAS_NET_MAX_BUFFERS	64	/* values alive at once */

typedef struct MaasLayer
{
	MaasOp		op;

	/*
	 * Which values the layer reads.  n_inputs 0 means the value of the layer
	 * before (the net input for the first layer): a chain needs no wiring.
	 */
	int			n_inputs;
	int			inputs[MAAS_LAYER_MAX_INPUTS];	/* value ids, < this layer's */

	/* the vector widths it reads and writes (set by maas_net_check) */
	int			n_in;
	int			n_out;

	/* dense */
	const float *w;				/* n_out * n_in, row-major (or n_in * n_out
								 * when w_in_out: GPT-2's Conv1D layout) */
	const float *b;				/* n_out, or NULL */
	bool		w_in_out;

	/*
	 * The weights as the matrix backend takes them (blas.h), for the
	 * n_out x n_in layout: set by maas_net_pack() (F32 with a packed copy)
	 * or by whatever gives the layer weights of another type.  Used only
	 * while wt.data is w for F32 weights, so a net whose w is repointed
	 * (a trainer's) simply runs unpacked; with wt.data NULL the layer runs
	 * w as float32.
	 */
	MaasWeights wt;
	/* standardize */
	const float *shift;			/* n_in */
	const float *scale;			/* n_in (1 / std) */

	const void *params;			/* ops of other files: their own struct */
	const char *name;			/* for messages and targets, or NULL */

	/* set by maas_net_check */
	MaasShape	shape;			/* of the value it writes */
	int			buffer;			/* where that value lives */
	int			cache_slot;		/* its KV cache, or -1 */
} MaasLayer;

typedef enum MaasNetInput
{
	MAAS_NET_FEATURES,		/* n rows of n_in floats */
	MAAS_NET_TOKENS			/* n rows of t token ids */
} MaasNetInput;

typedef struct MaasNet
{
	int			n_layers;
	MaasLayer  *layers;
	MaasNetInput input;
	int			n_in;			/* features a row must have */
	int			in_c,			/* an image input's (c, h, w), or 0 */
				in_h,
				in_w;
	int			output;			/* value returned by default: the last (0 =
								 * n_layers) */

	/* set by maas_net_check */
	int			n_out;			/* width of the output value */
	bool		out_seq;		/* the output is a sequence value */
	int			max_width;		/* widest vector of any value */
	int			n_buffers;
	int			n_caches;		/* layers with a KV cache slot */
	bool		accepts_missing;	/* NaN in the features means missing */
	void	   *plan;			/* buffer sizes and liveness */
} MaasNet;

/* a KV cache for generation (ops that keep one say so; see net_ops.h) */
typedef struct MaasKvCache
{
	int			n_rows;
	int			n_ctx;			/* positions it holds */
	int			n_slots;
	float	  **k;				/* per slot: n_rows * n_ctx * width */
	float	  **v;
	int		   *width;
} MaasKvCache;

/* one forward pass's input */
typedef struct MaasBatch
{
	int			n;				/* rows */
	int			t;				/* positions per row: 1 for feature models */
	const float *x;				/* features: n * n_in */
	const int32_t *ids;			/* tokens: n * t */
	const int32_t *lengths;		/* tokens: valid positions per row, or NULL */
	const int32_t *types;		/* tokens: type ids n * t, or NULL */
	int			past;			/* positions already in the cache */
	MaasKvCache *cache;			/* generation, or NULL */
	struct MaasRemoteEnv *remote;	/* what remote layers call with, or NULL */
} MaasBatch;

/* names of ops, as in the config ("dense", "relu", ...) */
extern const char *maas_op_name(MaasOp op);
extern bool maas_op_from_name(const char *name, MaasOp *op);

/*
 * Check a net's graph, fill in widths and shapes, and plan its buffers.
 * For elementwise layers n_in and n_out are set from their input; a dense
 * layer's n_in must match its input's width.  Allocates the plan with
 * maas_kalloc.  Returns false with a message ("layer 3 (dense) takes 3
 * inputs but receives 2").
 */
extern bool maas_net_check(MaasNet *net, MaasError *err);

/* floats of workspace maas_net_run needs for a batch of n rows, t positions */
extern bool maas_net_workspace(const MaasNet *net, int n_rows, int t,
							   size_t *nfloats);

/* the same when attention may see n_keys keys (past + t, with a cache) */
extern bool maas_net_workspace_kv(const MaasNet *net, int n_rows, int t,
								  int n_keys, size_t *nfloats);

/*
 * A KV cache for n_rows sequences of up to n_ctx positions, one slot per
 * attention layer that keeps one; NULL with err set when it cannot be had.
 */
extern MaasKvCache *maas_kv_cache_new(const MaasNet *net, int n_rows, int n_ctx,
									  MaasError *err);

/* bytes such a cache takes, or false on overflow */
extern bool maas_kv_cache_bytes(const MaasNet *net, int n_rows, int n_ctx,
								size_t *bytes);

/*
 * Run the net over a batch up to value target (0: net->output).  Returns a
 * pointer into work to the target's n * (t or 1) * width floats, or NULL
 * with err set (an op that can fail, such as a remote call, failed).
 */
extern const float *maas_net_run(const MaasNet *net, const MaasBlas *blas,
								 const MaasBatch *batch, int target,
								 float *work, MaasError *err);

/*
 * A net of image layers runs a batch in tiles of rows whose values take
 * about this many bytes a thread of maas.blas_threads (net.c says why;
 * each core has its own L2); a tunable of the benchmark.
 */
#define MAAS_NET_TILE_BYTES ((size_t) 1 << 20)
extern size_t maas_net_tile_bytes;

/*
 * Pack the weights of every dense layer (n_out x n_in, float32) for the
 * backend blas chooses (MaasBlas.pack), and of the conv2d layers the
 * backend's convolution runs in NHWC (MaasBlas.conv2d_pack, the layout its
 * primitive for one row reads), in the caller's memory (maas_kalloc:
 * the packed copies live and go with the model).  Layers the backend has no
 * faster layout for stay as they are.  The weights must not change after.
 * False with err set when a copy could not be made (MAAS_ERR_NOMEM, or the
 * library failed); the net then still runs, unpacked where it failed.
 */
extern bool maas_net_pack(MaasNet *net, const MaasBlas *blas, MaasError *err);

/*
 * maas_net_pack's part for the convolutions alone: every conv2d step of the
 * net's NHWC chain (net_tiles.c), each for the layout and ReLU its step
 * runs with.  Their packed copies are about the weights' size (a few
 * hundred kB for a CNN), so a model on a shared copy of its weights, whose
 * dense layers stay unpacked, packs these.  False with err set on out of
 * memory or a library failure; those layers stay unpacked.
 */
extern bool maas_net_pack_images(const MaasNet *net, const MaasBlas *blas, MaasError *err);

/*
 * maas_net_run of one row x to the output, for a net whose plan is a short
 * chain of small layers (a logistic or linear model), without the run loop;
 * NULL when the net has no such plan or it cannot run so (the caller takes
 * maas_net_run).  *x_finite is set true when the pass proved every element
 * of x finite (the outputs of its dense layer are, see ops_core.c), so a
 * caller that must refuse non-finite features checks x only when it is
 * false.
 */
extern const float *maas_net_small_row(const MaasNet *net, const float *x,
									   float *work, bool *x_finite);

/* maas_net_run of a feature model's n_rows rows of x to its output */
extern const float *maas_net_forward(const MaasNet *net, const MaasBlas *blas,
									 int n_rows, const float *x, float *work);

/*
 * The sizes of a text model's embedding tables (ops_text.c): ids it takes,
 * positions, token types (0 if none); false when the net has no embedding.
 */
extern bool maas_net_token_limits(const MaasNet *net, int *vocab, int *positions,
								  int *types);

/* the value id of the layer named name, or -1 */
extern int	maas_net_find(const MaasNet *net, const char *name);

/* the op of the layer that writes value id (MAAS_N_OPS for the input) */
extern MaasOp maas_net_value_op(const MaasNet *net, int value);

/*
 * Image layers of a net built in code, as a trainer builds one (ops_conv.c):
 * the layer's op and params, from a geometry whose input size (c_in, h, w;
 * c, h, w) maas_net_check takes from the layer's input.  The weights must
 * outlive the net.  False only when out of memory.
 */
extern bool maas_layer_conv2d(MaasLayer *l, const MaasConv2d *geom,
							  const float *weight, const float *bias,
							  MaasError *err);
extern bool maas_layer_pool2d(MaasLayer *l, MaasOp op, const MaasPool2d *geom,
							  MaasError *err);

/* a conv2d layer of maas_layer_conv2d on other weights of the same shapes */
extern void maas_layer_conv2d_point(MaasLayer *l, const float *weight,
									const float *bias);

/* index of the largest of v[0..n); the first one on ties */
extern int	maas_argmax(const float *v, int n);

/* in place, numerically stable */
extern void maas_softmax(float *v, int n);

/* true if all of v[0..n) are finite */
extern bool maas_all_finite(const float *v, size_t n);

#endif							/* MAAS_NET_H */
