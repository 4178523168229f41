/*
 * remote_register.c
 *		Registering what lives on other servers: maas_register_remote (an
 *		HTTP endpoint as a model version) and maas_register_url (weights
 *		downloaded with their sha256 checked).
 *
 * An endpoint's description becomes an ordinary version: a config whose
 * layer program is one remote layer (ops_remote.h) -- and a softmax or
 * sigmoid when the server answers logits -- over an empty safetensors
 * file, stored by the common path of maas_register (maas_store_version),
 * so deploy, rollback, grants, drop, export and the statistics treat it as
 * any other version.  Before anything is stored, the URL is checked
 * against maas.remote_allowed_hosts, the secret it names against its
 * owner, and (unless "verify" is false) a KServe server's metadata for the
 * model against the shapes described.
 *
 * A download streams into a temporary file with the response size limit
 * of maas.remote_max_download_size, its SHA-256 computed as the bytes
 * arrive; only when the digest is the one given are the bytes read back
 * and registered, and the temporary file goes away with the statement
 * whatever happens.
 */
#include "remote.h"
#include "model.h"
#include "registry.h"
#include "remote_proto.h"
#include "services.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

/* what an endpoint description says, checked */
typedef struct Endpoint
{
	const char *protocol;
	const char *url;
	const char *model;
	const char *task;
	int64		n_features;		/* 0: not given */
	int64		n_outputs;		/* 0: not given */
	int			n_labels;		/* -1: no labels */
	char	   *labels_json;
	const char *output;
	const char *input_name;
	const char *scores;			/* "probabilities" or "logits" */
	const char *secret;
	const char *auth_header;
	const char *api;			/* openai */
	const char *system;
	int64		dimensions;
	bool		openai;
	MaasJson   *obj;			/* the whole description */
	int64		timeout_ms;		/* 0: not given */
	int64		connect_timeout_ms;
	int64		max_retries;	/* -1: not given */
	int64		batch_size;		/* 0: not given */
	int			n_columns;
	const char **columns;
	bool		verify;
} Endpoint;

#define endpoint_error(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
			 errmsg("invalid remote endpoint"), \
			 errdetail(__VA_ARGS__)))

static const char *const endpoint_keys[] = {
	"protocol", "url", "model", "task", "n_features", "labels", "n_outputs",
	"output", "input_name", "scores", "secret", "auth_header", "timeout_ms",
	"connect_timeout_ms", "max_retries", "batch_size", "columns", "verify",
	"api", "system", "dimensions", NULL
};

/* the keys only one protocol has */
static const char *const kserve_only[] = {
	"n_features", "labels", "n_outputs", "output", "input_name", "scores", "columns", NULL
};
static const char *const openai_only[] = {"api", "system", "dimensions", NULL};

static const char *
get_string(const MaasJson *obj, const char *key, bool required)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL || v->type == MAAS_JSON_NULL)
	{
		if (required)
			endpoint_error("The endpoint has no \"%s\".", key);
		return NULL;
	}
	if (v->type != MAAS_JSON_STRING)
		endpoint_error("\"%s\" must be a string.", key);
	if (v->u.string[0] == '\0')
		endpoint_error("\"%s\" must not be empty.", key);
	return v->u.string;
}

static int64
get_int(const MaasJson *obj, const char *key, int64 min, int64 max, int64 absent)
{
	const MaasJson *v = maas_json_get(obj, key);
	int64_t		n;

	if (v == NULL || v->type == MAAS_JSON_NULL)
		return absent;
	if (!maas_json_int(v, min, max, &n))
		endpoint_error("\"%s\" must be a whole number from " INT64_FORMAT " to " INT64_FORMAT ".",
					   key, min, max);
	return n;
}

/* the endpoint as jsonb, through the kernel's checked reader */
static void
read_endpoint(Jsonb *jb, Endpoint *e)
{
	char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	MaasError	err;
	MaasJson   *obj = maas_json_parse(text, strlen(text), 0, NULL, &err);
	const MaasJson *v;

	if (obj == NULL)
		maas_remote_raise(&err, MAAS_HTTP_BAD_REQUEST, false, "invalid remote endpoint");
	if (obj->type != MAAS_JSON_OBJECT)
		endpoint_error("The endpoint must be a JSON object.");
	for (int i = 0; i < obj->n; i++)
	{
		const char *key = obj->u.members[i].key;
		bool		known = false;

		for (const char *const *k = endpoint_keys; *k; k++)
			known |= strcmp(*k, key) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid remote endpoint"),
					 errdetail("The endpoint has unknown key \"%s\".", key),
					 errhint("The keys of an endpoint are listed in doc/remote-models.md.")));
	}

	memset(e, 0, sizeof(*e));
	e->protocol = get_string(obj, "protocol", true);
	e->url = get_string(obj, "url", true);
	e->model = get_string(obj, "model", true);
	e->task = get_string(obj, "task", true);
	e->output = get_string(obj, "output", false);
	e->input_name = get_string(obj, "input_name", false);
	e->scores = get_string(obj, "scores", false);
	e->secret = get_string(obj, "secret", false);
	e->auth_header = get_string(obj, "auth_header", false);
	e->api = get_string(obj, "api", false);
	e->system = get_string(obj, "system", false);
	e->dimensions = get_int(obj, "dimensions", 1, 1000000, 0);
	e->obj = obj;
	e->n_features = get_int(obj, "n_features", 1, 100000000, 0);
	e->n_outputs = get_int(obj, "n_outputs", 1, 1000000, 0);
	e->timeout_ms = get_int(obj, "timeout_ms", 1, 86400000, 0);
	e->connect_timeout_ms = get_int(obj, "connect_timeout_ms", 1, 86400000, 0);
	e->max_retries = get_int(obj, "max_retries", 0, 100, -1);
	e->batch_size = get_int(obj, "batch_size", 1, MAAS_REMOTE_MAX_BATCH, 0);

	e->verify = true;
	if ((v = maas_json_get(obj, "verify")) != NULL && v->type != MAAS_JSON_NULL)
	{
		if (v->type != MAAS_JSON_BOOL)
			endpoint_error("\"verify\" must be true or false.");
		e->verify = v->u.boolean;
	}

	e->n_labels = -1;
	if ((v = maas_json_get(obj, "labels")) != NULL && v->type != MAAS_JSON_NULL)
	{
		JsonbValue *lv = getKeyJsonValueFromContainer(&jb->root, "labels", 6, NULL);

		if (v->type != MAAS_JSON_ARRAY || v->n < 2)
			endpoint_error("\"labels\" must be an array of at least 2 labels.");
		e->n_labels = v->n;
		e->labels_json = JsonbToCString(NULL, lv->val.binary.data, lv->val.binary.len);
	}

	if ((v = maas_json_get(obj, "columns")) != NULL && v->type != MAAS_JSON_NULL)
	{
		if (v->type != MAAS_JSON_ARRAY || v->n < 1)
			endpoint_error("\"columns\" must be an array of column names.");
		e->n_columns = v->n;
		e->columns = palloc(sizeof(char *) * v->n);
		for (int i = 0; i < v->n; i++)
		{
			const MaasJson *c = maas_json_at(v, i);

			if (c->type != MAAS_JSON_STRING || c->u.string[0] == '\0')
				endpoint_error("Column %d of \"columns\" must be a column name.", i + 1);
			for (int k = 0; k < i; k++)
				if (strcmp(e->columns[k], c->u.string) == 0)
					endpoint_error("Column \"%s\" appears more than once in \"columns\".",
								   c->u.string);
			e->columns[i] = c->u.string;
		}
	}
}

/* the checks that do not need the server */
static Jsonb *text_config(const Endpoint *e);

/* a key of the other protocol is an error */
static void
no_keys_of(const Endpoint *e, const char *const *keys, const char *protocol)
{
	for (const char *const *k = keys; *k; k++)
	{
		const MaasJson *v = maas_json_get(e->obj, *k);

		if (v != NULL && v->type != MAAS_JSON_NULL)
			endpoint_error("\"%s\" is a key of \"%s\" endpoints.", *k, protocol);
	}
}

/* the checks that do not need the server */
static void
check_endpoint(Endpoint *e)
{
	if (strcmp(e->protocol, "openai") == 0)
	{
		/* a text model: the kernel reads the rest when it is stored */
		e->openai = true;
		if (strcmp(e->task, "generation") != 0 && strcmp(e->task, "embedding") != 0)
			endpoint_error("An \"openai\" endpoint's \"task\" must be \"generation\" or \"embedding\", not \"%s\".",
						   e->task);
		no_keys_of(e, kserve_only, "kserve-v2");
		if (e->secret != NULL &&
			(strlen(e->secret) > MAAS_REMOTE_NAME_MAX ||
			 strspn(e->secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
			 strlen(e->secret)))
			endpoint_error("\"secret\" must be the name of a secret: 1 to %d letters, digits, '_', '-' or '.'.",
						   MAAS_REMOTE_NAME_MAX);
		{
			/* the endpoint as the stored version will read it */
			MaasError	err;
			MaasJson   *tree = maas_config_tree(text_config(e));

			if (maas_remote_text_endpoint(maas_json_get(tree, "remote"),
										  strcmp(e->task, "embedding") == 0, &err) == NULL)
				maas_remote_raise(&err, MAAS_HTTP_BAD_REQUEST, false, "invalid remote endpoint");
		}
		maas_remote_check_url(e->url, "invalid remote endpoint");
		return;
	}
	if (strcmp(e->protocol, "kserve-v2") != 0)
		endpoint_error("\"protocol\" must be \"kserve-v2\" or \"openai\", not \"%s\".", e->protocol);
	no_keys_of(e, openai_only, "openai");
	if (strcmp(e->task, "classification") != 0 && strcmp(e->task, "regression") != 0)
		endpoint_error("A \"kserve-v2\" endpoint's \"task\" must be \"classification\" or \"regression\", not \"%s\".",
					   e->task);
	if (e->scores != NULL && strcmp(e->scores, "probabilities") != 0 &&
		strcmp(e->scores, "logits") != 0)
		endpoint_error("\"scores\" must be \"probabilities\" or \"logits\", not \"%s\".", e->scores);

	if (strcmp(e->task, "regression") == 0)
	{
		if (e->n_labels >= 0)
			endpoint_error("A regression endpoint has no \"labels\".");
		if (e->scores != NULL)
			endpoint_error("A regression endpoint has no \"scores\".");
		if (e->n_outputs > 1)
			endpoint_error("A regression endpoint answers 1 value a row, not " INT64_FORMAT ".",
						   e->n_outputs);
		e->n_outputs = 1;
	}
	else if (e->n_labels >= 0)
	{
		if (e->n_outputs == 0)
			e->n_outputs = e->n_labels;
		else if (e->n_outputs != e->n_labels && !(e->n_outputs == 1 && e->n_labels == 2))
			endpoint_error("\"n_outputs\" is " INT64_FORMAT " but there are %d labels.",
						   e->n_outputs, e->n_labels);
	}

	if (e->secret != NULL &&
		(strlen(e->secret) > MAAS_REMOTE_NAME_MAX ||
		 strspn(e->secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
		 strlen(e->secret)))
		endpoint_error("\"secret\" must be the name of a secret: 1 to %d letters, digits, '_', '-' or '.'.",
					   MAAS_REMOTE_NAME_MAX);
	if (e->auth_header != NULL && e->secret == NULL)
		endpoint_error("\"auth_header\" names the header of a secret, but there is no \"secret\".");
	if (e->n_columns > 0 && e->n_features > 0 && e->n_columns != e->n_features)
		endpoint_error("\"columns\" names %d columns but \"n_features\" is " INT64_FORMAT ".",
					   e->n_columns, e->n_features);
	if (e->n_features == 0 && e->n_columns > 0)
		e->n_features = e->n_columns;

	{
		MaasError	err;

		if (maas_kserve_infer_url(e->url, e->model, &err) == NULL)
			maas_remote_raise(&err, MAAS_HTTP_BAD_REQUEST, false, "invalid remote endpoint");
	}
	maas_remote_check_url(e->url, "invalid remote endpoint");
}

/*
 * The owner of a model that exists (after checking the caller owns it),
 * or the caller for a new one.
 */
static Oid
model_owner(const char *model)
{
	MaasCatalogSession cs;
	Oid			owner;

	maas_catalog_begin(&cs);
	owner = maas_catalog_model_owner(&cs, model);
	if (!OidIsValid(owner))
		owner = cs.caller;
	maas_catalog_end(&cs);
	return owner;
}

/* GET the body of url (with the endpoint's secret), or raise */
static char *
http_get(const Endpoint *e, Oid owner, const char *model, const char *url, size_t *len)
{
	MaasRemoteEndpoint re;
	MaasRemoteEnv env;
	MaasRemoteSecret secret;
	MaasHttpOptions opt;
	MaasHttpResult res;
	MaasError	err;
	char		auth[MAAS_REMOTE_HEADER_MAX];
	bool		ok;

	memset(&re, 0, sizeof(re));
	re.secret = e->secret;
	re.auth_header = e->auth_header;
	re.timeout_ms = (long) e->timeout_ms;
	re.connect_timeout_ms = (long) e->connect_timeout_ms;
	re.max_retries = (int) e->max_retries;
	memset(&env, 0, sizeof(env));
	maas_remote_http_options(&env.options, maas_remote_max_response());
	if (e->secret != NULL)
	{
		secret.name = e->secret;
		secret.value = maas_secret_value(e->secret, owner, model);
		env.n_secrets = 1;
		env.secrets = &secret;
	}
	if (!maas_remote_auth_line(&re, &env, auth, &err))
		maas_remote_raise(&err, MAAS_HTTP_BAD_REQUEST, false, "invalid remote endpoint");
	maas_remote_options(&re, &env, auth, &opt);
	ok = maas_http_get(maas_remote_client(), url, &opt, &res, &err);
	explicit_bzero(auth, sizeof(auth));
	if (e->secret != NULL)
		explicit_bzero((char *) secret.value, strlen(secret.value));
	if (!ok)
		maas_remote_raise(&err, res.fail, false,
						  psprintf("could not read the metadata of remote model \"%s\"", model));
	*len = res.len;
	return res.body;
}

/* the width of a metadata tensor's rows: its last dimension, 1 for [n] */
static int64
row_width(const MaasKserveTensor *t)
{
	if (t->n_dims == 1)
		return 1;
	if (t->n_dims == 2 && t->dims[1] > 0)
		return t->dims[1];
	return 0;
}

/*
 * Ask the KServe server what the model takes and gives, fill in what the
 * endpoint left out (features, input name, outputs), and check the rest.
 */
static void
verify_kserve(Endpoint *e, Oid owner, const char *model)
{
	MaasError	err;
	char	   *url = maas_kserve_model_url(e->url, e->model, &err);
	char	   *body;
	size_t		len;
	MaasKserveMeta meta;
	const MaasKserveTensor *out = NULL;

	if (url == NULL)
		maas_remote_raise(&err, MAAS_HTTP_BAD_REQUEST, false, "invalid remote endpoint");
	body = http_get(e, owner, model, url, &len);
	if (!maas_kserve_metadata_parse(body, len, &meta, &err))
		maas_remote_raise(&err, MAAS_HTTP_OK, true,
						  psprintf("could not read the metadata of remote model \"%s\"", model));
	if (meta.n_inputs == 1)
	{
		if (e->n_features == 0)
			e->n_features = row_width(&meta.inputs[0]);
		if (e->input_name == NULL)
			e->input_name = meta.inputs[0].name;
	}
	for (int i = 0; i < meta.n_outputs; i++)
		if (out == NULL && (e->output == NULL || strcmp(meta.outputs[i].name, e->output) == 0))
			out = &meta.outputs[i];
	if (e->n_outputs == 0 && out != NULL)
		e->n_outputs = row_width(out);
	if (e->n_features == 0)
		endpoint_error("The server does not say how many features the model takes: give \"n_features\".");
	if (e->n_outputs == 0)
		endpoint_error("The server does not say how many values the model answers: give \"labels\" or \"n_outputs\".");
	if (!maas_kserve_metadata_check(&meta, (int) e->n_features, e->output,
									(int) e->n_outputs, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("remote model \"%s\" does not match its endpoint", model),
				 errdetail("%s", maas_remote_sentence(err.msg)),
				 errhint("Correct the endpoint, or register it with \"verify\": false to skip this check.")));
}

static void
append_key_string(StringInfo s, const char *key, const char *value)
{
	if (value == NULL)
		return;
	appendStringInfo(s, ", \"%s\": ", key);
	escape_json(s, value);
}

static void
append_key_int(StringInfo s, const char *key, int64 value, int64 absent)
{
	if (value != absent)
		appendStringInfo(s, ", \"%s\": " INT64_FORMAT, key, value);
}

/* a text model's config: the task and the endpoint, no layers */
static Jsonb *
text_config(const Endpoint *e)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"task\": ");
	escape_json(&s, e->task);
	appendStringInfoString(&s, ", \"remote\": {\"protocol\": \"openai\"");
	append_key_string(&s, "url", e->url);
	append_key_string(&s, "model", e->model);
	append_key_string(&s, "api", e->api);
	append_key_string(&s, "system", e->system);
	append_key_int(&s, "dimensions", e->dimensions, 0);
	append_key_string(&s, "secret", e->secret);
	append_key_string(&s, "auth_header", e->auth_header);
	append_key_int(&s, "timeout_ms", e->timeout_ms, 0);
	append_key_int(&s, "connect_timeout_ms", e->connect_timeout_ms, 0);
	append_key_int(&s, "max_retries", e->max_retries, -1);
	append_key_int(&s, "batch_size", e->batch_size, 0);
	appendStringInfoString(&s, "}}");
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

/* the version's config: the endpoint as a layer program */
static Jsonb *
endpoint_config(const Endpoint *e)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"task\": ");
	escape_json(&s, e->task);
	appendStringInfo(&s, ", \"n_features\": " INT64_FORMAT, e->n_features);
	if (e->labels_json)
		appendStringInfo(&s, ", \"labels\": %s", e->labels_json);
	if (e->n_columns > 0)
	{
		/* the row form reads these columns; a NULL is an error, not imputed */
		appendStringInfoString(&s, ", \"impute\": \"error\", \"inputs\": [");
		for (int i = 0; i < e->n_columns; i++)
		{
			appendStringInfoString(&s, i ? ", {\"name\": " : "{\"name\": ");
			escape_json(&s, e->columns[i]);
			appendStringInfoString(&s, ", \"kind\": \"number\"}");
		}
		appendStringInfoChar(&s, ']');
	}
	appendStringInfoString(&s, ", \"layers\": [{\"op\": \"remote\", \"name\": \"remote\"");
	append_key_string(&s, "protocol", e->protocol);
	append_key_string(&s, "url", e->url);
	append_key_string(&s, "model", e->model);
	append_key_int(&s, "n_outputs", e->n_outputs, 0);
	append_key_string(&s, "input_name", e->input_name);
	append_key_string(&s, "output", e->output);
	append_key_string(&s, "secret", e->secret);
	append_key_string(&s, "auth_header", e->auth_header);
	append_key_int(&s, "timeout_ms", e->timeout_ms, 0);
	append_key_int(&s, "connect_timeout_ms", e->connect_timeout_ms, 0);
	append_key_int(&s, "max_retries", e->max_retries, -1);
	append_key_int(&s, "batch_size", e->batch_size, 0);
	appendStringInfoChar(&s, '}');
	if (e->scores != NULL && strcmp(e->scores, "logits") == 0)
		appendStringInfoString(&s, e->n_outputs == 1 ? ", {\"op\": \"sigmoid\"}" :
							   ", {\"op\": \"softmax\"}");
	appendStringInfoString(&s, "]}");
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

static char *
arg_text(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * maas_register_remote(model, endpoint): an HTTP endpoint as the model's
 * next version; returns the version number.  The endpoint (jsonb) is
 * described in doc/remote-models.md.
 */
PG_FUNCTION_INFO_V1(maas_register_remote);
Datum
maas_register_remote(PG_FUNCTION_ARGS)
{
	char	   *model = arg_text(fcinfo, 0, "model name");
	Endpoint	e;
	Oid			owner;
	bytea	   *weights;
	Jsonb	   *config;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("endpoint must not be null")));
	PreventCommandIfReadOnly("maas_register_remote()");
	maas_check_model_name(model);
	read_endpoint(PG_GETARG_JSONB_P(1), &e);
	check_endpoint(&e);
	owner = model_owner(model);
	if (e.secret != NULL)
		maas_secret_check(e.secret, owner);
	if (e.openai)
	{
		/* nothing to ask the server: an OpenAI endpoint has no metadata */
		weights = maas_write_safetensors(NULL, 0, NULL, NULL, 0);
		PG_RETURN_INT32(maas_store_version(model, e.protocol, weights, text_config(&e),
										   NULL, NULL, 0));
	}
	if (e.verify)
		verify_kserve(&e, owner, model);
	else
	{
		if (e.n_features == 0)
			endpoint_error("Without \"verify\", the endpoint must give \"n_features\".");
		if (e.n_outputs == 0)
			endpoint_error("Without \"verify\", a classification endpoint must give \"labels\" or \"n_outputs\".");
	}

	config = endpoint_config(&e);
	weights = maas_write_safetensors(NULL, 0, NULL, NULL, 0);
	PG_RETURN_INT32(maas_store_version(model, e.protocol, weights, config, NULL, NULL, 0));
}

/* ---- weights from a URL ---- */

/* the URL without its query and fragment, as lineage */
static char *
url_for_lineage(const char *url)
{
	size_t		len = strcspn(url, "?#");

	return pnstrdup(url, len);
}

/* the downloaded file's bytes as a bytea */
static bytea *
read_back(File file, uint64 bytes, const char *model)
{
	bytea	   *out;
	uint64		done = 0;

	if (bytes > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("weights of model \"%s\" are too large to store", model),
				 errdetail("The file has " UINT64_FORMAT " bytes; a value holds at most 1 GB.", bytes)));
	out = palloc(bytes + VARHDRSZ);
	SET_VARSIZE(out, bytes + VARHDRSZ);
	while (done < bytes)
	{
		int			want = (int) Min(bytes - done, (uint64) 1 << 20);
		int			got = FileRead(file, VARDATA(out) + done, want, (off_t) done,
								   WAIT_EVENT_BUFFILE_READ);

		if (got <= 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the downloaded weights of model \"%s\": %m", model)));
		done += (uint64) got;
		CHECK_FOR_INTERRUPTS();
	}
	return out;
}

/*
 * maas_register_url(model, algorithm, url, sha256, config): download
 * safetensors weights, check their SHA-256, and register them as the
 * model's next version (config NULL: the one the file carries, as
 * maas_export writes it).  Returns the version number.
 */
PG_FUNCTION_INFO_V1(maas_register_url);
Datum
maas_register_url(PG_FUNCTION_ARGS)
{
	char	   *model = arg_text(fcinfo, 0, "model name");
	char	   *algorithm = arg_text(fcinfo, 1, "algorithm");
	char	   *url = arg_text(fcinfo, 2, "url");
	char	   *sha_text = arg_text(fcinfo, 3, "sha256");
	uint8_t		expect[MAAS_SHA256_LEN];
	uint8_t		digest[MAAS_SHA256_LEN];
	char		hex[65];
	uint64_t	bytes = 0;
	MaasHttpOptions opt;
	MaasHttpResult res;
	MaasHttpSink sink;
	MaasError	err;
	File		file;
	int			fd;
	bytea	   *weights;
	Jsonb	   *config;
	bool		ok;

	PreventCommandIfReadOnly("maas_register_url()");
	maas_check_model_name(model);
	if (!maas_sha256_parse(sha_text, expect))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid sha256 \"%s\"", sha_text),
				 errhint("Write the file's SHA-256 as 64 hexadecimal digits, optionally after \"sha256:\".")));
	maas_remote_check_url(url, "invalid weights URL");
	(void) model_owner(model);	/* a non-owner is refused before any download */

	file = OpenTemporaryFile(false);
	fd = FileGetRawDesc(file);
	sink.write = maas_http_fd_write;
	sink.rewind = maas_http_fd_rewind;
	sink.arg = &fd;
	maas_remote_http_options(&opt, maas_remote_max_download());
	opt.timeout_ms = 86400000L;	/* a big file: statement_timeout bounds it */
	opt.max_redirects = 5;
	ok = maas_http_download(maas_remote_client(), url, &opt, &sink, expect, digest,
							&bytes, &res, &err);
	if (!ok)
		maas_remote_raise(&err, res.fail, false,
						  psprintf("could not download the weights of model \"%s\"", model));
	weights = read_back(file, bytes, model);
	FileClose(file);

	if (!PG_ARGISNULL(4))
		config = PG_GETARG_JSONB_P(4);
	else
	{
		StFile		st;
		const char *embedded;

		maas_parse_safetensors(weights, &st);
		embedded = st_meta(&st, "maas.config");
		if (embedded == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("config must not be null"),
					 errhint("Pass the model's config, or download a file written by maas_export, which carries one.")));
		config = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(embedded)));
	}

	/* where the weights came from, with the query (which may hold a key) cut */
	if (JsonContainerIsObject(&config->root) && !JsonContainerIsScalar(&config->root))
	{
		StringInfoData s;

		maas_sha256_hex(digest, hex);
		initStringInfo(&s);
		appendStringInfoString(&s, "{\"source\": {\"url\": ");
		escape_json(&s, url_for_lineage(url));
		appendStringInfo(&s, ", \"sha256\": \"%s\"}}", hex);
		config = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(config),
													DirectFunctionCall1(jsonb_in,
																		CStringGetDatum(s.data))));
	}
	PG_RETURN_INT32(maas_store_version(model, algorithm, weights, config, NULL, NULL, 0));
}
