/*
 * remote_proto.h
 *		The request bodies and response parsers of the protocols remote
 *		models speak: OpenAI-compatible chat/completions, completions and
 *		embeddings, and KServe v2 / Open Inference Protocol inference and
 *		model metadata.
 *
 * Builders write JSON into a MaasBuf; parsers read a response body with
 * the checked JSON reader and check every field they use: its presence,
 * its type, counts and shapes against what the caller asked for, and that
 * numbers are finite (as float32, where the result is float).  A response
 * that is anything else fails with MAAS_ERR_INVALID and a message naming
 * the field ("response field \"outputs[0].shape\" ..."); none crashes.
 * Everything returned is kernel memory.  tick (may be NULL) is called while
 * big bodies are read.
 */
#ifndef MAAS_REMOTE_PROTO_H
#define MAAS_REMOTE_PROTO_H

#include "json.h"
#include "kernel.h"

/* ---- URLs ---- */

/*
 * base + path with exactly one slash between them ("https://h/v1" +
 * "/embeddings").  base must have no query or fragment.
 */
extern char *maas_remote_url(const char *base, const char *path, MaasError *err);

/* base + "/v2/models/{model}/infer" and base + "/v2/models/{model}", the
 * name percent-encoded */
extern char *maas_kserve_infer_url(const char *base, const char *model, MaasError *err);
extern char *maas_kserve_model_url(const char *base, const char *model, MaasError *err);

/* ---- OpenAI-compatible ---- */

typedef struct MaasRemoteGenParams
{
	int			max_tokens;		/* 0: not sent */
	double		temperature;	/* NAN: not sent; else within [0, 2] */
} MaasRemoteGenParams;

typedef struct MaasChatMessage
{
	const char *role;			/* "system", "user", "assistant" */
	const char *content;
} MaasChatMessage;

typedef struct MaasRemoteGenOutput
{
	char	   *text;			/* NUL-terminated, valid UTF-8, no NUL inside */
	int32_t		len;
	char	   *finish_reason;	/* NULL when absent or null */
	int64_t		prompt_tokens;	/* -1 when the response does not say */
	int64_t		completion_tokens;
} MaasRemoteGenOutput;

/* POST {base}/chat/completions */
extern bool maas_openai_chat_request(MaasBuf *out, const char *model,
									 const MaasChatMessage *msgs, int n_msgs,
									 const MaasRemoteGenParams *params, MaasError *err);

/* choices[0].message.content */
extern bool maas_openai_chat_response(const char *body, size_t len,
									  MaasRemoteGenOutput *out, const MaasTick *tick,
									  MaasError *err);

/* POST {base}/completions, n prompts in one request */
extern bool maas_openai_completions_request(MaasBuf *out, const char *model,
											const char *const *prompts, int n,
											const MaasRemoteGenParams *params,
											MaasError *err);

/* choices[i].text into outs[0 .. n), placed by their "index" */
extern bool maas_openai_completions_response(const char *body, size_t len, int n,
											 MaasRemoteGenOutput *outs,
											 const MaasTick *tick, MaasError *err);

/* POST {base}/embeddings, n inputs; dimensions 0: not sent */
extern bool maas_openai_embeddings_request(MaasBuf *out, const char *model,
										   const char *const *inputs, int n,
										   int dimensions, MaasError *err);

/*
 * data[i].embedding, placed by "index", as n * *dims floats (row i is input
 * i).  *dims > 0 is required of every embedding; *dims == 0 takes the first
 * one's and requires it of the rest, and is set.
 */
extern float *maas_openai_embeddings_response(const char *body, size_t len, int n,
											  int *dims, const MaasTick *tick,
											  MaasError *err);

/* ---- KServe v2 / Open Inference Protocol ---- */

/*
 * POST {base}/v2/models/{name}/infer with one FP32 input tensor named
 * input_name of shape [n, d] from x (n * d floats, row-major, finite).
 */
extern bool maas_kserve_infer_request(MaasBuf *out, const char *input_name,
									  int n, int d, const float *x,
									  MaasError *err);

/*
 * The output named output_name (NULL: the first) into out (n * n_out
 * floats).  Its shape must be [n, n_out] ([n] also when n_out is 1), its
 * datatype numeric (FP16/32/64, INT8..64, UINT8..64) or BOOL, and its data
 * the n * n_out values, flat or nested by the shape.
 */
extern bool maas_kserve_infer_response(const char *body, size_t len,
									   const char *output_name, int n, int n_out,
									   float *out, const MaasTick *tick,
									   MaasError *err);

#define MAAS_KSERVE_MAX_DIMS 8

typedef struct MaasKserveTensor
{
	char	   *name;
	char	   *datatype;
	int			n_dims;
	int64_t		dims[MAAS_KSERVE_MAX_DIMS]; /* -1: variable */
} MaasKserveTensor;

typedef struct MaasKserveMeta
{
	char	   *name;
	int			n_inputs;
	MaasKserveTensor *inputs;
	int			n_outputs;
	MaasKserveTensor *outputs;
} MaasKserveMeta;

/* GET {base}/v2/models/{name}: the model's metadata */
extern bool maas_kserve_metadata_parse(const char *body, size_t len,
									   MaasKserveMeta *meta, MaasError *err);

/*
 * For registration: the metadata describes one input taking rows of
 * n_features (shape [-1 or any, n_features]) as FP32 or FP64, and the
 * output output_name (NULL: the first) gives n_out values a row.
 */
extern bool maas_kserve_metadata_check(const MaasKserveMeta *meta,
									   int n_features, const char *output_name,
									   int n_out, MaasError *err);

#endif							/* MAAS_REMOTE_PROTO_H */
