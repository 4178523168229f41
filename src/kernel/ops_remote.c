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

static bool
remote_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	int			no = maas_build_layer_no(b);
	MaasRemoteEndpoint *e = maas_kalloc(sizeof(MaasRemoteEndpoint));
	const char *protocol = NULL;
	int64_t		v;
	MaasError	uerr;

	if (e == NULL)
		return maas_build_error(b, "Out of memory.");
	memset(e, 0, sizeof(*e));
	e->input_name = "input-0";
	e->n_outputs = 1;
	e->batch_size = 100;
	e->max_retries = -1;

	if (!maas_build_string(b, obj, "protocol", true, &protocol) ||
		!maas_build_string(b, obj, "url", true, &e->url) ||
		!maas_build_string(b, obj, "model", true, &e->model) ||
		!maas_build_string(b, obj, "input_name", false, &e->input_name) ||
		!maas_build_string(b, obj, "output", false, &e->output_name) ||
		!maas_build_string(b, obj, "secret", false, &e->secret) ||
		!maas_build_string(b, obj, "auth_header", false, &e->auth_header))
		return false;
	if (strcmp(protocol, "kserve-v2") == 0)
		e->protocol = MAAS_REMOTE_KSERVE_V2;
	else if (strcmp(protocol, "openai") == 0)
		return maas_build_error(b, "Layer %d (remote): an \"openai\" endpoint serves text, not feature rows; register it with task \"generation\" or \"embedding\".",
								no);
	else
		return maas_build_error(b, "Layer %d (remote): \"protocol\" must be \"kserve-v2\" or \"openai\", not \"%s\".",
								no, protocol);

	v = e->n_outputs;
	if (!maas_build_int(b, obj, "n_outputs", false, 1, 1000000, &v))
		return false;
	e->n_outputs = (int) v;
	v = e->batch_size;
	if (!maas_build_int(b, obj, "batch_size", false, 1, MAAS_REMOTE_MAX_BATCH, &v))
		return false;
	e->batch_size = (int) v;
	v = 0;
	if (!maas_build_int(b, obj, "timeout_ms", false, 1, 86400000, &v))
		return false;
	e->timeout_ms = (long) v;
	v = 0;
	if (!maas_build_int(b, obj, "connect_timeout_ms", false, 1, 86400000, &v))
		return false;
	e->connect_timeout_ms = (long) v;
	v = -1;
	if (!maas_build_int(b, obj, "max_retries", false, 0, 100, &v))
		return false;
	e->max_retries = (int) v;

	if (e->input_name[0] == '\0' || strlen(e->input_name) > 256)
		return maas_build_error(b, "Layer %d (remote): \"input_name\" must be 1 to 256 bytes.", no);
	if (e->output_name != NULL && (e->output_name[0] == '\0' || strlen(e->output_name) > 256))
		return maas_build_error(b, "Layer %d (remote): \"output\" must be 1 to 256 bytes.", no);
	if (e->secret != NULL && !secret_name_ok(e->secret))
		return maas_build_error(b, "Layer %d (remote): \"secret\" must be the name of a secret: 1 to %d letters, digits, '_', '-' or '.'.",
								no, MAAS_REMOTE_NAME_MAX);
	if (e->auth_header != NULL && !header_name_ok(e->auth_header))
		return maas_build_error(b, "Layer %d (remote): \"auth_header\" must be the name of an HTTP header.", no);
	if (e->auth_header != NULL && e->secret == NULL)
		return maas_build_error(b, "Layer %d (remote): \"auth_header\" names the header of a secret, but there is no \"secret\".", no);

	/* the URL's shape; whether it may be reached is checked per call */
	if ((e->call_url = maas_kserve_infer_url(e->url, e->model, &uerr)) == NULL)
	{
		if (uerr.status == MAAS_ERR_NOMEM)
			return maas_build_error(b, "Out of memory.");
		return maas_build_error(b, "Layer %d (remote): %s.", no, uerr.msg);
	}

	l->params = e;
	l->n_in = in[0].width;
	l->n_out = e->n_outputs;
	return true;
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
	char		auth[MAAS_REMOTE_HEADER_MAX];
	MaasHttpOptions opt;
	bool		ok = true;

	if (env == NULL || env->http == NULL || env->options.allow == NULL)
		return maas_error(run->err, MAAS_ERR_INVALID,
						  "a remote model can only be called by the server");
	env->fail = MAAS_HTTP_OK;
	env->http_status = 0;
	env->bad_response = false;
	if (!maas_remote_auth_line(e, env, auth, run->err))
		return false;
	maas_remote_options(e, env, auth, &opt);

	for (int start = 0; ok && start < n; start += e->batch_size)
	{
		int			rows = n - start < e->batch_size ? n - start : e->batch_size;
		MaasBuf		body;
		MaasHttpResult res;

		if (!maas_kserve_infer_request(&body, e->input_name, rows, l->n_in,
									   in[0] + (size_t) start * l->n_in, run->err))
		{
			ok = false;
			break;
		}
		ok = maas_http_post_json(env->http, e->call_url, body.data, body.len, &opt,
								 &res, run->err);
		env->requests++;
		env->attempts += res.attempts;
		env->reused += res.reused ? 1 : 0;
		env->fail = res.fail;
		env->http_status = res.status;
		if (!ok)
			break;
		if (!maas_kserve_infer_response(res.body, res.len, e->output_name, rows,
										e->n_outputs,
										out + (size_t) start * e->n_outputs,
										env->tick, run->err))
		{
			env->bad_response = true;
			ok = false;
		}
	}
	wipe(auth, strlen(auth));
	return ok;
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
