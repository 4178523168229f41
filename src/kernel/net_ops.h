/*
 * net_ops.h
 *		How an op plugs into the layer runtime (net.h), for the files that
 *		define ops: ops_core.c (standardize, dense, activations, softmax,
 *		add, ...), and one file per family of layers after it.
 *
 * An op is a MaasOpInfo: its name in the config, how many values it reads,
 * whether it is elementwise (it may then write over its input), and four
 * functions -- parse (config + weights -> the layer's fields, at
 * registration and load), check (input shapes -> output shape, for every
 * net, however it was made), scratch (floats it needs for a batch) and
 * forward.  net.c keeps the table of every op, indexed by MaasOp.
 *
 * Forward functions get the batch, the BLAS shim, their scratch, and
 * pointers to their inputs' data; they write their output and return true,
 * or false with the error set (only ops that call out, such as a remote
 * model, can fail at run time: shapes were settled by check).
 */
#ifndef MAAS_NET_OPS_H
#define MAAS_NET_OPS_H

#include "json.h"
#include "net.h"
#include "safetensors.h"

/* what a forward function gets */
typedef struct MaasRun
{
	const MaasNet *net;
	const MaasBlas *blas;
	const MaasBatch *batch;
	float	   *scratch;		/* the largest op's scratch */
	MaasError  *err;
	bool		relu;			/* write max(0, value): the relu after
								 * this step fused into it (fuses_relu) */
	int			layout;			/* image layers: MAAS_CONV_IN_NHWC and
								 * MAAS_CONV_OUT_NHWC, the layouts of this
								 * step's input and output (net.c) */
	int			thread;			/* -1, or the thread of tiles in parallel
								 * this step runs on (net.c): then it may
								 * call no BLAS and return false (without
								 * err) to have the tile run again apart */
} MaasRun;

/* how many vectors a value holds for a batch: rows, or rows * positions */
static inline size_t
maas_run_vectors(const MaasRun *run, const MaasShape *s)
{
	return (size_t) run->batch->n * (s->seq ? (size_t) run->batch->t : 1);
}

/* the state of a config being turned into a net (net_build.c) */
typedef struct MaasBuild MaasBuild;

typedef struct MaasOpInfo
{
	const char *name;
	int			min_inputs;
	int			max_inputs;
	bool		elementwise;	/* output shape = input shape; may run in place */
	const char *const *keys;	/* config keys besides "op", "name", "input" */

	/*
	 * From the layer's config object: read its keys and tensors into the
	 * layer (in holds the shapes of its inputs).  NULL: nothing to read.
	 */
	bool		(*parse) (MaasBuild *b, MaasLayer *l, const MaasJson *obj,
						  const MaasShape *in);

	/*
	 * The output shape from the inputs' shapes; sets n_in and n_out.  Layer
	 * numbers in messages are 1-based (no is the layer's).  NULL for
	 * elementwise ops: the output is the input's shape.
	 */
	bool		(*check) (MaasLayer *l, int no, const MaasShape *in,
						  MaasShape *out, MaasError *err);

	/*
	 * floats of scratch for n rows of t positions (n_keys: positions a
	 * query may see, t or more with a cache), SIZE_MAX on overflow, or NULL
	 * for none
	 */
	size_t		(*scratch) (const MaasLayer *l, const MaasShape *in, int n, int t,
							int n_keys);

	/* the op keeps a KV cache in generation (a slot per layer) */
	bool		kv_cache;

	bool		(*forward) (const MaasLayer *l, MaasRun *run,
							const float *const *in, float *out);

	/*
	 * forward honours MaasRun.relu: writes max(0, value) when asked, so
	 * that net.c runs a relu layer that alone reads this one's value, in
	 * place, in the same step (a conv2d as it writes im2col's products, a
	 * dense layer in its int8 dequantization or after its product).
	 */
	bool		fuses_relu;
} MaasOpInfo;

/* the op table (net.c) */
extern const MaasOpInfo *maas_op_info(MaasOp op);

/* ---- for parse functions (net_build.c) ---- */

/* the layer's 1-based number and op name, for messages */
extern int	maas_build_layer_no(const MaasBuild *b);

/* where the build's errors go, and whether it reads every value */
extern MaasError *maas_build_err(MaasBuild *b);
extern bool maas_build_checks_values(const MaasBuild *b);

/* record an error about the current layer: "Layer 3 (dense) ..." */
extern bool maas_build_error(MaasBuild *b, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* a hint (a full sentence) to the error just recorded; returns false */
extern bool maas_build_hint(MaasBuild *b, const char *hint);

/* a string key, or NULL if absent (an error if present and not a string) */
extern bool maas_build_string(MaasBuild *b, const MaasJson *obj,
							  const char *key, bool required, const char **out);

/* an integer key in [min, max]; *out keeps its value when absent */
extern bool maas_build_int(MaasBuild *b, const MaasJson *obj, const char *key,
						   bool required, int64_t min, int64_t max, int64_t *out);

/* a number key, finite as a float */
extern bool maas_build_float(MaasBuild *b, const MaasJson *obj, const char *key,
							 bool required, double *out);

/* a boolean key */
extern bool maas_build_bool(MaasBuild *b, const MaasJson *obj, const char *key,
							bool required, bool *out);

/*
 * The float32 data of the tensor a layer names, checked for dtype, shape
 * (ndim dims; a dim of -1 takes any size, reported through shape) and
 * finite values.  F32 data aligned to 4 bytes is used in place (the
 * weights must outlive the net); other floating dtypes are converted into
 * new memory, as is everything when copy is true (the caller will change
 * it).
 */
extern const float *maas_build_tensor(MaasBuild *b, const char *name, int ndim,
									  int64_t *shape, bool copy);

/* the tensor a layer names, as stored (for integer or quantized data) */
extern const StTensor *maas_build_raw_tensor(MaasBuild *b, const char *name);

/*
 * One row of a small model without the run loop (ops_core.c, for net.c):
 * which layers may be its steps, and the row through n of them, step i
 * writing at work + off[i].  The same arithmetic as their forward
 * functions, so the same outputs; NULL when a layer must take its forward
 * function after all (a dense layer with int8 or bf16 weights).  *x_finite
 * is true when the pass proved every element of x finite (ops_core.c).
 */
extern bool maas_small_step_ok(const MaasLayer *l);
extern const float *maas_small_row(const MaasLayer *const *steps, const size_t *off,
								   int n, const float *x, float *work, bool *x_finite);

/*
 * A conv2d layer's weights packed for the layout and ReLU its step runs
 * with (ops_conv.c, MaasBlas.conv2d_pack; maas_net_pack_images, net.h)
 */
extern bool maas_conv2d_pack(MaasLayer *l, const MaasBlas *blas, int layout, bool relu,
							 MaasError *err);

#endif							/* MAAS_NET_OPS_H */
