/*
 * onnx_translate.h
 *		An ONNX graph (as onnx.h reads it) translated into a layer program:
 *		the config the runtime reads (net_build.c) and the safetensors
 *		tensors it names.
 *
 * The translation happens once, at registration; the runtime never sees
 * ONNX.  It runs in three passes over the graph (onnx_translate.c says
 * more): every value is classified -- a constant (folded at import, shapes
 * included), a symbolic value of the batch and sequence sizes, or a value
 * computed per row at run time, with its shape --; the multi-node idioms of
 * torch.onnx.export (a decomposed LayerNorm, erf and tanh GELU, the
 * attention block, the embedding sum) are matched; then every node that
 * computes a run-time value becomes layers, fused where a layer absorbs it
 * (a bias, a batch norm, a scale).  What cannot be translated exactly is
 * refused, naming the node and saying why; nothing is approximated.
 *
 * The batch axis.  A graph input's first dimension is the batch (whatever
 * the file says it is: "batch", 1, 3): the runtime scores rows
 * independently, so an operator that mixes rows (a softmax over axis 0, a
 * reshape that moves the batch) is refused.  A text model's token inputs
 * are [batch, sequence]; the sequence axis must be symbolic.
 *
 * Tensors.  Initializers keep their ONNX names; those an op needs in
 * another form (a batch norm folded into a convolution, a Gemm's alpha) are
 * transformed, under the same name when nothing else uses them.  Float
 * tensors used as they are point into the model's buffer until written.
 */
#ifndef MAAS_ONNX_TRANSLATE_H
#define MAAS_ONNX_TRANSLATE_H

#include "json.h"
#include "onnx.h"
#include "safetensors.h"

/* how an imported graph input feeds the layer program */
typedef enum MaasOnnxInputRole
{
	MAAS_ONNX_IN_FEATURES,		/* the feature row (float) */
	MAAS_ONNX_IN_TOKENS,		/* token ids [batch, sequence] */
	MAAS_ONNX_IN_TYPES,			/* token type ids [batch, sequence] */
	MAAS_ONNX_IN_MASK,			/* attention mask [batch, sequence]: the
								 * runtime reads it as each row's length */
	MAAS_ONNX_IN_UNUSED			/* nothing the output depends on reads it */
} MaasOnnxInputRole;

typedef struct MaasOnnxTranslateOptions
{
	/* the graph output to serve; NULL: the graph must have exactly one */
	const char *output;

	/* keep every graph output, each as a named value (the conformance
	 * runner's; a registered model serves one) */
	bool		all_outputs;

	/* graph inputs given as constants, by name (the conformance runner's) */
	int			n_bound;
	const char *const *bound_names;
	const MaasOnnxTensor *const *bound;

	/* "classification", "regression", "generation", "embedding", or NULL
	 * to derive the task from the graph */
	const char *task;
	/* how an embedding model pools a sequence output: "mean", "first" or
	 * "last"; NULL: "mean" */
	const char *pool;
} MaasOnnxTranslateOptions;

/* one graph output of the translation */
typedef struct MaasOnnxOutput
{
	const char *name;
	const char *layer;			/* the layer that computes it; NULL when the
								 * output is a constant */
	int64_t		numel;			/* constant: elements; else per row (per
								 * position of a sequence) */
	bool		seq;			/* one vector per position */
	const float *constant;		/* constant: its values */
} MaasOnnxOutput;

/* one graph input of the translation */
typedef struct MaasOnnxInput
{
	const char *name;
	MaasOnnxInputRole role;
	int64_t		numel;			/* features: floats of a row */
} MaasOnnxInput;

typedef struct MaasOnnxImport
{
	/* the config: a JSON object with "task", "input" / "n_features" /
	 * "input_shape", "layers", "output" and an "onnx" object saying where
	 * it came from (producer, opset, inputs, output) */
	MaasBuf		config;

	/* the tensors the layers name, in order of first use */
	int			n_tensors;
	StWriteTensor *tensors;

	int			n_layers;
	const char *task;
	int			n_inputs;
	MaasOnnxInput *inputs;
	int			n_outputs;
	MaasOnnxOutput *outputs;
} MaasOnnxImport;

/*
 * Translate a model.  Returns false with err set: MAAS_ERR_UNSUPPORTED for
 * a graph maas cannot translate (the message names the node: "node 7 (Erf
 * \"/Erf\"): ..."; the hint says what to do), MAAS_ERR_INVALID for a graph
 * that is wrong (shapes that disagree), MAAS_ERR_LIMIT, MAAS_ERR_NOMEM.
 */
extern bool maas_onnx_translate(const MaasOnnxModel *model,
								const MaasOnnxTranslateOptions *opts,
								MaasOnnxImport *out, const MaasTick *tick,
								MaasError *err);

/*
 * The safetensors of the tensors a translation names (what the version
 * stores), in one copy from the model's bytes, or NULL with err set: an
 * initializer that holds NaN or infinite values is MAAS_ERR_INVALID.
 */
extern uint8_t *maas_onnx_write_weights(const MaasOnnxImport *imp, size_t *len,
										MaasError *err);

/* the operators it knows: maas_onnx_supported_ops (onnx.h) */

#endif							/* MAAS_ONNX_TRANSLATE_H */
