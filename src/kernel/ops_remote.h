/*
 * ops_remote.h
 *		The remote op (ops_remote.c): a layer whose forward pass is an HTTP
 *		call to a model server, so that a remote endpoint is a model version
 *		like any other -- one layer program, served, counted and deployed by
 *		the same code as a local model.
 *
 * The layer's config is the endpoint's description: protocol, URL, the
 * model's name on the server, timeouts, retries, rows a request, and the
 * *name* of the secret sent with each request -- never the secret itself.
 * What a call needs besides -- the client, the allowed hosts, the cancel
 * flags, the size limit, the secrets' values -- is the caller's: it comes
 * with the batch (MaasBatch.remote), because it belongs to the server and
 * to the moment of the call, not to the immutable version.
 *
 *	{"op": "remote", "protocol": "kserve-v2", "url": "http://h:8080",
 *	 "model": "fraud", "n_outputs": 2}
 *
 * keys: protocol ("kserve-v2"), url, model (required); n_outputs (values a
 * row, default 1); input_name (default "input-0"); output (the output
 * tensor's name, default the first); secret, auth_header (the header that
 * carries it: default "Authorization" with "Bearer "); timeout_ms,
 * connect_timeout_ms, max_retries (default: the caller's); batch_size
 * (rows a request, default 100).
 *
 * A batch of n rows goes out as ceil(n / batch_size) requests on the one
 * kept-alive connection of the caller's client, and their answers are
 * checked (shape, count, finite values) into the n x n_outputs output.
 */
#ifndef MAAS_OPS_REMOTE_H
#define MAAS_OPS_REMOTE_H

#include "http.h"
#include "json.h"
#include "net.h"
#include "remote_proto.h"

typedef enum MaasRemoteProtocol
{
	MAAS_REMOTE_KSERVE_V2,		/* POST {url}/v2/models/{model}/infer */
	MAAS_REMOTE_OPENAI			/* text models: chat, completions, embeddings */
} MaasRemoteProtocol;

/* what an OpenAI-compatible endpoint is called for */
typedef enum MaasRemoteApi
{
	MAAS_REMOTE_API_CHAT,		/* POST {url}/chat/completions: one prompt a request */
	MAAS_REMOTE_API_COMPLETIONS,	/* POST {url}/completions: batch_size prompts */
	MAAS_REMOTE_API_EMBEDDINGS	/* POST {url}/embeddings: batch_size texts */
} MaasRemoteApi;

#define MAAS_REMOTE_SECRET_MAX	4096	/* bytes of a secret's value */
#define MAAS_REMOTE_NAME_MAX	63		/* bytes of a secret's or header's name */
#define MAAS_REMOTE_MAX_BATCH	100000	/* rows a request */

/* a remote layer's endpoint, as its config describes it */
typedef struct MaasRemoteEndpoint
{
	MaasRemoteProtocol protocol;
	const char *url;			/* the base URL, as configured */
	const char *call_url;		/* where rows are posted */
	const char *model;			/* the model's name on the server */
	const char *input_name;
	const char *output_name;	/* NULL: the first output */
	const char *secret;			/* the secret's name, or NULL */
	const char *auth_header;	/* NULL: "Authorization: Bearer <secret>" */
	int			n_outputs;
	int			batch_size;
	long		timeout_ms;		/* 0: the caller's default */
	long		connect_timeout_ms; /* 0: the caller's default */
	int			max_retries;	/* -1: the caller's default */

	/* OpenAI-compatible (text models) */
	MaasRemoteApi api;
	const char *system;			/* chat: a system message first, or NULL */
	int			dimensions;		/* embeddings: asked for, 0: the model's */
} MaasRemoteEndpoint;

/* a secret's value, by name */
typedef struct MaasRemoteSecret
{
	const char *name;
	const char *value;
} MaasRemoteSecret;

/*
 * What a call needs from its caller, and what the op reports back.  The
 * server fills one per call site (src/server/remote.c); the unit tests
 * fill their own.
 */
typedef struct MaasRemoteEnv
{
	MaasHttp   *http;			/* the client: one kept-alive connection */

	/*
	 * The allowed hosts, cancel flags, CA file and response size limit,
	 * and the timeouts and retries of endpoints that set none.  Its
	 * auth_header is ignored: each endpoint names its secret.
	 */
	MaasHttpOptions options;

	int			n_secrets;
	const MaasRemoteSecret *secrets;
	const MaasTick *tick;		/* while big responses are parsed, or NULL */

	/* set by the op: the last call, and what all calls did so far */
	MaasHttpFail fail;			/* MAAS_HTTP_OK when the response was bad */
	long		http_status;
	bool		bad_response;	/* the server answered, but not as asked */
	int64_t		requests;		/* requests made (not counting retries) */
	int64_t		attempts;		/* with retries */
	int64_t		reused;			/* requests that used a kept connection */
} MaasRemoteEnv;

/*
 * A text model's endpoint (protocol "openai"), from a JSON object with the
 * keys protocol, url, model (required), api ("chat" or "completions" for
 * generation, default chat; "embeddings" for an embedding model, the
 * default), system (chat), dimensions (embeddings), and secret,
 * auth_header, timeout_ms, connect_timeout_ms, max_retries, batch_size as
 * for a remote layer.  NULL with err set (a message naming the key).
 */
extern MaasRemoteEndpoint *maas_remote_text_endpoint(const MaasJson *obj,
													 bool embedding, MaasError *err);

/*
 * Generate a continuation of each of n prompts (UTF-8) with a generation
 * endpoint into outs[0 .. n): chat sends one request a prompt (after the
 * endpoint's system message), completions batch_size prompts a request.
 */
extern bool maas_remote_generate(const MaasRemoteEndpoint *e, MaasRemoteEnv *env,
								 const char *const *prompts, int n,
								 const MaasRemoteGenParams *params,
								 MaasRemoteGenOutput *outs, MaasError *err);

/*
 * The embeddings of n texts, batch_size texts a request, as n * *dims
 * floats (row i is text i).  *dims: the endpoint's dimensions, or the
 * first answer's, which every other must have.
 */
extern float *maas_remote_embed(const MaasRemoteEndpoint *e, MaasRemoteEnv *env,
								const char *const *texts, int n, int *dims,
								MaasError *err);

/* the layer's endpoint, or NULL when it is not a remote layer */
extern const MaasRemoteEndpoint *maas_remote_endpoint(const MaasLayer *l);

/* the first remote layer of a net, or NULL: does running it call out? */
extern const MaasRemoteEndpoint *maas_net_remote(const MaasNet *net);

/* the protocol's name in configs ("kserve-v2", "openai") */
extern const char *maas_remote_protocol_name(MaasRemoteProtocol p);

/*
 * The header line a call to e sends, "Name: value", from env's secrets,
 * into out (MAAS_REMOTE_SECRET_MAX + 128 bytes), or "" when e has no
 * secret.  False when env lacks e's secret.  The caller wipes out after
 * the call.
 */
#define MAAS_REMOTE_HEADER_MAX	(MAAS_REMOTE_SECRET_MAX + 128)
extern bool maas_remote_auth_line(const MaasRemoteEndpoint *e,
								  const MaasRemoteEnv *env, char *out,
								  MaasError *err);

/*
 * The options of one call to e: env's, with e's timeouts, retries and
 * header line (auth, which may be "").
 */
extern void maas_remote_options(const MaasRemoteEndpoint *e,
								const MaasRemoteEnv *env, const char *auth,
								MaasHttpOptions *opt);

#endif							/* MAAS_OPS_REMOTE_H */
