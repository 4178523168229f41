/*
 * ops_remote.c
 *		The remote op: a layer computed by a model server over HTTP (see
 *		ops_remote.h for its config and net_ops.h for how ops plug in).
 *
 * Parse reads and checks the endpoint (everything but reachability: the
 * URL is checked against the allowed hosts by the caller at registration
 * and by the client at every request); check makes the output n_outputs
 * wide; forward sends the batch's rows in requests of batch_size rows
 * through the caller's client and parses each answer into its slice of
 * the output.  Nothing here keeps state between calls: the client, its
 * connection and the secrets are the caller's (MaasRemoteEnv).
 */
#include "ops_remote.h"
#include "net_ops.h"
#include "remote_proto.h"

#include <stdio.h>
#include <string.h>

static const char *const protocol_names[] = {
	[MAAS_REMOTE_KSERVE_V2] = "kserve-v2",
	[MAAS_REMOTE_OPENAI] = "openai",
};

const char *
maas_remote_protocol_name(MaasRemoteProtocol p)
{
	return protocol_names[p];
}

/* a token of RFC 9110: what a header's name may be */
static bool
header_name_ok(const char *s)
{
	size_t		len = strlen(s);

	if (len == 0 || len > MAAS_REMOTE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  strchr("!#$%&'*+-.^_`|~", c) != NULL))
			return false;
	}
	return true;
}

/* a secret's name: letters, digits, '_', '-', '.' */
static bool
secret_name_ok(const char *s)
{
	size_t		len = strlen(s);

	if (len == 0 || len > MAAS_REMOTE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* the string key, or NULL when absent; false when it is not a string */
static bool
get_string(const MaasJson *obj, const char *key, bool required, const char **out,
		   MaasError *err)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL || v->type == MAAS_JSON_NULL)
	{
		if (required)
			return maas_error(err, MAAS_ERR_INVALID, "the endpoint has no \"%s\"", key);
		return true;
	}
	if (v->type != MAAS_JSON_STRING)
		return maas_error(err, MAAS_ERR_INVALID, "\"%s\" must be a string", key);
	*out = v->u.string;
	return true;
}

static bool
get_int(const MaasJson *obj, const char *key, int64_t min, int64_t max, int64_t *out,
		MaasError *err)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL || v->type == MAAS_JSON_NULL)
		return true;
	if (!maas_json_int(v, min, max, out))
		return maas_error(err, MAAS_ERR_INVALID,
						  "\"%s\" must be a whole number between %lld and %lld",
						  key, (long long) min, (long long) max);
	return true;
}

/*
 * An endpoint's keys into e: a KServe one for a remote layer (text false),
 * an OpenAI one for a text model (text true, api the default API).  The
 * caller checks for unknown keys.
 */
static bool
endpoint_read(const MaasJson *obj, bool text, MaasRemoteApi api,
			  MaasRemoteEndpoint *e, MaasError *err)
{
	const char *protocol = NULL;
	const char *api_name = NULL;
	int64_t		v;

	memset(e, 0, sizeof(*e));
	e->input_name = "input-0";
	e->n_outputs = 1;
	e->batch_size = 100;
	e->max_retries = -1;
	e->api = api;

	if (!get_string(obj, "protocol", true, &protocol, err) ||
		!get_string(obj, "url", true, &e->url, err) ||
		!get_string(obj, "model", true, &e->model, err) ||
		!get_string(obj, "secret", false, &e->secret, err) ||
		!get_string(obj, "auth_header", false, &e->auth_header, err))
		return false;
	if (strcmp(protocol, "kserve-v2") == 0)
		e->protocol = MAAS_REMOTE_KSERVE_V2;
	else if (strcmp(protocol, "openai") == 0)
		e->protocol = MAAS_REMOTE_OPENAI;
	else
		return maas_error(err, MAAS_ERR_INVALID,
						  "\"protocol\" must be \"kserve-v2\" or \"openai\", not \"%s\"", protocol);
	if (!text && e->protocol == MAAS_REMOTE_OPENAI)
		return maas_error(err, MAAS_ERR_INVALID,
						  "an \"openai\" endpoint serves text, not feature rows; register it with task \"generation\" or \"embedding\"");
	if (text && e->protocol != MAAS_REMOTE_OPENAI)
		return maas_error(err, MAAS_ERR_INVALID,
						  "a text model's endpoint must be \"openai\", not \"%s\"", protocol);

	if (text)
	{
		if (!get_string(obj, "api", false, &api_name, err) ||
			!get_string(obj, "system", false, &e->system, err))
			return false;
		if (api_name != NULL)
		{
			if (strcmp(api_name, "chat") == 0)
				e->api = MAAS_REMOTE_API_CHAT;
			else if (strcmp(api_name, "completions") == 0)
				e->api = MAAS_REMOTE_API_COMPLETIONS;
			else if (strcmp(api_name, "embeddings") == 0)
				e->api = MAAS_REMOTE_API_EMBEDDINGS;
			else
				return maas_error(err, MAAS_ERR_INVALID,
								  "\"api\" must be \"chat\", \"completions\" or \"embeddings\", not \"%s\"",
								  api_name);
		}
		if ((api == MAAS_REMOTE_API_EMBEDDINGS) != (e->api == MAAS_REMOTE_API_EMBEDDINGS))
			return maas_error(err, MAAS_ERR_INVALID,
							  api == MAAS_REMOTE_API_EMBEDDINGS ?
							  "an embedding model's \"api\" must be \"embeddings\"" :
							  "a generation model's \"api\" must be \"chat\" or \"completions\"");
		if (e->system != NULL && e->api != MAAS_REMOTE_API_CHAT)
			return maas_error(err, MAAS_ERR_INVALID, "\"system\" is a message of the \"chat\" api");
		v = 0;
		if (!get_int(obj, "dimensions", 1, 1000000, &v, err))
			return false;
		if (v > 0 && e->api != MAAS_REMOTE_API_EMBEDDINGS)
			return maas_error(err, MAAS_ERR_INVALID, "\"dimensions\" is a key of the \"embeddings\" api");
		e->dimensions = (int) v;
	}
	else
	{
		if (!get_string(obj, "input_name", false, &e->input_name, err) ||
			!get_string(obj, "output", false, &e->output_name, err))
			return false;
		v = e->n_outputs;
		if (!get_int(obj, "n_outputs", 1, 1000000, &v, err))
			return false;
		e->n_outputs = (int) v;
		if (e->input_name[0] == '\0' || strlen(e->input_name) > 256)
			return maas_error(err, MAAS_ERR_INVALID, "\"input_name\" must be 1 to 256 bytes");
		if (e->output_name != NULL && (e->output_name[0] == '\0' || strlen(e->output_name) > 256))
			return maas_error(err, MAAS_ERR_INVALID, "\"output\" must be 1 to 256 bytes");
	}

	v = e->batch_size;
	if (!get_int(obj, "batch_size", 1, MAAS_REMOTE_MAX_BATCH, &v, err))
		return false;
	e->batch_size = (int) v;
	v = 0;
	if (!get_int(obj, "timeout_ms", 1, 86400000, &v, err))
		return false;
	e->timeout_ms = (long) v;
	v = 0;
	if (!get_int(obj, "connect_timeout_ms", 1, 86400000, &v, err))
		return false;
	e->connect_timeout_ms = (long) v;
	v = -1;
	if (!get_int(obj, "max_retries", 0, 100, &v, err))
		return false;
	e->max_retries = (int) v;

	if (e->secret != NULL && !secret_name_ok(e->secret))
		return maas_error(err, MAAS_ERR_INVALID,
						  "\"secret\" must be the name of a secret: 1 to %d letters, digits, '_', '-' or '.'",
						  MAAS_REMOTE_NAME_MAX);
	if (e->auth_header != NULL && !header_name_ok(e->auth_header))
		return maas_error(err, MAAS_ERR_INVALID, "\"auth_header\" must be the name of an HTTP header");
	if (e->auth_header != NULL && e->secret == NULL)
		return maas_error(err, MAAS_ERR_INVALID,
						  "\"auth_header\" names the header of a secret, but there is no \"secret\"");

	/* the URL's shape; whether it may be reached is checked per call */
	if (e->protocol == MAAS_REMOTE_KSERVE_V2)
		e->call_url = maas_kserve_infer_url(e->url, e->model, err);
	else
		e->call_url = maas_remote_url(e->url, e->api == MAAS_REMOTE_API_CHAT ? "chat/completions" :
									  e->api == MAAS_REMOTE_API_COMPLETIONS ? "completions" :
									  "embeddings", err);
	return e->call_url != NULL;
}

static bool
remote_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	MaasRemoteEndpoint *e = maas_kalloc(sizeof(MaasRemoteEndpoint));
	MaasError	err;

	if (e == NULL)
		return maas_build_error(b, "Out of memory.");
	if (!endpoint_read(obj, false, MAAS_REMOTE_API_CHAT, e, &err))
	{
		if (err.status == MAAS_ERR_NOMEM)
			return maas_build_error(b, "Out of memory.");
		return maas_build_error(b, "Layer %d (remote): %s.", maas_build_layer_no(b), err.msg);
	}
	l->params = e;
	l->n_in = in[0].width;
	l->n_out = e->n_outputs;
	return true;
}

static const char *const text_keys[] = {
	"protocol", "url", "model", "api", "system", "dimensions", "secret", "auth_header",
	"timeout_ms", "connect_timeout_ms", "max_retries", "batch_size", NULL
};

MaasRemoteEndpoint *
maas_remote_text_endpoint(const MaasJson *obj, bool embedding, MaasError *err)
{
	MaasRemoteEndpoint *e;

	if (obj == NULL || obj->type != MAAS_JSON_OBJECT)
	{
		maas_error(err, MAAS_ERR_INVALID, "the endpoint must be a JSON object");
		return NULL;
	}
	for (int i = 0; i < obj->n; i++)
	{
		bool		known = false;

		for (const char *const *k = text_keys; *k; k++)
			known |= strcmp(*k, obj->u.members[i].key) == 0;
		if (!known)
		{
			maas_error(err, MAAS_ERR_INVALID, "the endpoint has unknown key \"%s\"",
					   obj->u.members[i].key);
			return NULL;
		}
	}
	if ((e = maas_kalloc(sizeof(MaasRemoteEndpoint))) == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	if (!endpoint_read(obj, true, embedding ? MAAS_REMOTE_API_EMBEDDINGS : MAAS_REMOTE_API_CHAT,
					   e, err))
		return NULL;
	return e;
}

static bool
remote_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	const MaasRemoteEndpoint *e = l->params;

	if (e == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (remote) has no endpoint", no);
	if (in[0].seq || in[0].width <= 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (remote) sends rows of features, not sequences", no);
	if (l->n_in != in[0].width)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (remote) takes %d features but receives %d",
						  no, l->n_in, in[0].width);
	memset(out, 0, sizeof(*out));
	out->width = e->n_outputs;
	l->n_out = e->n_outputs;
	return true;
}

const MaasRemoteEndpoint *
maas_remote_endpoint(const MaasLayer *l)
{
	return l->op == MAAS_OP_REMOTE ? (const MaasRemoteEndpoint *) l->params : NULL;
}

const MaasRemoteEndpoint *
maas_net_remote(const MaasNet *net)
{
	for (int i = 0; i < net->n_layers; i++)
		if (net->layers[i].op == MAAS_OP_REMOTE)
			return net->layers[i].params;
	return NULL;
}

bool
maas_remote_auth_line(const MaasRemoteEndpoint *e, const MaasRemoteEnv *env,
					  char *out, MaasError *err)
{
	const char *value = NULL;

	out[0] = '\0';
	if (e->secret == NULL)
		return true;
	for (int i = 0; i < env->n_secrets; i++)
		if (strcmp(env->secrets[i].name, e->secret) == 0)
			value = env->secrets[i].value;
	if (value == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "secret \"%s\" was not given", e->secret);
	if (strlen(value) > MAAS_REMOTE_SECRET_MAX)
		return maas_error(err, MAAS_ERR_LIMIT, "secret \"%s\" is longer than %d bytes",
						  e->secret, MAAS_REMOTE_SECRET_MAX);
	if (e->auth_header == NULL)
		snprintf(out, MAAS_REMOTE_HEADER_MAX, "Authorization: Bearer %s", value);
	else
		snprintf(out, MAAS_REMOTE_HEADER_MAX, "%s: %s", e->auth_header, value);
	return true;
}

void
maas_remote_options(const MaasRemoteEndpoint *e, const MaasRemoteEnv *env,
					const char *auth, MaasHttpOptions *opt)
{
	*opt = env->options;
	if (e->timeout_ms > 0)
		opt->timeout_ms = e->timeout_ms;
	if (e->connect_timeout_ms > 0)
		opt->connect_timeout_ms = e->connect_timeout_ms;
	if (e->max_retries >= 0)
		opt->max_retries = e->max_retries;
	opt->max_redirects = 0;
	opt->auth_header = auth != NULL && auth[0] != '\0' ? auth : NULL;
}

/* wipe what held a secret, in a way the compiler keeps */
static void
wipe(char *s, size_t n)
{
	volatile char *p = s;

	while (n-- > 0)
		*p++ = 0;
}

/* start a call: what the last one said goes */
static void
call_begin(MaasRemoteEnv *env)
{
	env->fail = MAAS_HTTP_OK;
	env->http_status = 0;
	env->bad_response = false;
}

/* one request of a call: body to e's URL, with e's secret and limits */
static bool
post(const MaasRemoteEndpoint *e, MaasRemoteEnv *env, const MaasBuf *body,
	 MaasHttpResult *res, MaasError *err)
{
	char		auth[MAAS_REMOTE_HEADER_MAX];
	MaasHttpOptions opt;
	bool		ok;

	if (!maas_remote_auth_line(e, env, auth, err))
		return false;
	maas_remote_options(e, env, auth, &opt);
	ok = maas_http_post_json(env->http, e->call_url, body->data, body->len, &opt, res, err);
	wipe(auth, strlen(auth));
	env->requests++;
	env->attempts += res->attempts;
	env->reused += res->reused ? 1 : 0;
	env->fail = res->fail;
	env->http_status = res->status;
	return ok;
}

/* an answer that does not parse: the server answered, but not as asked */
static bool
bad_answer(MaasRemoteEnv *env)
{
	env->bad_response = true;
	return false;
}

static bool
env_ready(const MaasRemoteEnv *env, MaasError *err)
{
	if (env == NULL || env->http == NULL || env->options.allow == NULL)
		return maas_error(err, MAAS_ERR_INVALID,
						  "a remote model can only be called by the server");
	return true;
}

/*
 * in[0]: n rows of n_in features; out: n rows of n_outputs values.  One
 * request per batch_size rows, one after the other on the client's
 * connection.
 */
static bool
remote_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const MaasRemoteEndpoint *e = l->params;
	MaasRemoteEnv *env = run->batch->remote;
	int			n = run->batch->n;

	if (!env_ready(env, run->err))
		return false;
	call_begin(env);
	for (int start = 0; start < n; start += e->batch_size)
	{
		int			rows = n - start < e->batch_size ? n - start : e->batch_size;
		MaasBuf		body;
		MaasHttpResult res;

		if (!maas_kserve_infer_request(&body, e->input_name, rows, l->n_in,
									   in[0] + (size_t) start * l->n_in, run->err) ||
			!post(e, env, &body, &res, run->err))
			return false;
		if (!maas_kserve_infer_response(res.body, res.len, e->output_name, rows,
										e->n_outputs,
										out + (size_t) start * e->n_outputs,
										env->tick, run->err))
			return bad_answer(env);
	}
	return true;
}

bool
maas_remote_generate(const MaasRemoteEndpoint *e, MaasRemoteEnv *env,
					 const char *const *prompts, int n,
					 const MaasRemoteGenParams *params, MaasRemoteGenOutput *outs,
					 MaasError *err)
{
	if (!env_ready(env, err))
		return false;
	if (e->protocol != MAAS_REMOTE_OPENAI || e->api == MAAS_REMOTE_API_EMBEDDINGS)
		return maas_error(err, MAAS_ERR_INVALID, "the endpoint does not generate text");
	call_begin(env);
	if (e->api == MAAS_REMOTE_API_CHAT)
	{
		for (int i = 0; i < n; i++)
		{
			MaasChatMessage msgs[2];
			int			k = 0;
			MaasBuf		body;
			MaasHttpResult res;

			if (e->system != NULL)
			{
				msgs[k].role = "system";
				msgs[k++].content = e->system;
			}
			msgs[k].role = "user";
			msgs[k++].content = prompts[i];
			if (!maas_openai_chat_request(&body, e->model, msgs, k, params, err) ||
				!post(e, env, &body, &res, err))
				return false;
			if (!maas_openai_chat_response(res.body, res.len, &outs[i], env->tick, err))
				return bad_answer(env);
		}
		return true;
	}
	for (int start = 0; start < n; start += e->batch_size)
	{
		int			k = n - start < e->batch_size ? n - start : e->batch_size;
		MaasBuf		body;
		MaasHttpResult res;

		if (!maas_openai_completions_request(&body, e->model, prompts + start, k, params, err) ||
			!post(e, env, &body, &res, err))
			return false;
		if (!maas_openai_completions_response(res.body, res.len, k, outs + start,
											  env->tick, err))
			return bad_answer(env);
	}
	return true;
}

float *
maas_remote_embed(const MaasRemoteEndpoint *e, MaasRemoteEnv *env,
				  const char *const *texts, int n, int *dims, MaasError *err)
{
	float	   *out = NULL;
	int			d = e->dimensions;

	if (!env_ready(env, err))
		return NULL;
	if (e->protocol != MAAS_REMOTE_OPENAI || e->api != MAAS_REMOTE_API_EMBEDDINGS)
	{
		maas_error(err, MAAS_ERR_INVALID, "the endpoint does not embed text");
		return NULL;
	}
	if (n < 1)
	{
		maas_error(err, MAAS_ERR_INVALID, "there is no text to embed");
		return NULL;
	}
	call_begin(env);
	for (int start = 0; start < n; start += e->batch_size)
	{
		int			k = n - start < e->batch_size ? n - start : e->batch_size;
		MaasBuf		body;
		MaasHttpResult res;
		float	   *part;

		if (!maas_openai_embeddings_request(&body, e->model, texts + start, k,
											e->dimensions, err) ||
			!post(e, env, &body, &res, err))
			return NULL;
		if ((part = maas_openai_embeddings_response(res.body, res.len, k, &d,
													env->tick, err)) == NULL)
		{
			bad_answer(env);
			return NULL;
		}
		if (out == NULL)
		{
			/* d is known now: the first answer's, kept for the others */
			if ((out = maas_kalloc_array((size_t) n * (size_t) d, sizeof(float))) == NULL)
			{
				maas_error_nomem(err);
				return NULL;
			}
		}
		memcpy(out + (size_t) start * d, part, sizeof(float) * (size_t) k * d);
	}
	*dims = d;
	return out;
}

static const char *const remote_keys[] = {
	"protocol", "url", "model", "n_outputs", "input_name", "output", "secret",
	"auth_header", "timeout_ms", "connect_timeout_ms", "max_retries", "batch_size",
	NULL
};

const MaasOpInfo maas_op_remote = {
	.name = "remote", .min_inputs = 1, .max_inputs = 1,
	.keys = remote_keys, .parse = remote_parse,
	.check = remote_check, .forward = remote_forward,
};
