/*
 * remote_proto.c
 *		Request builders and response parsers of the OpenAI-compatible and
 *		KServe v2 protocols (see remote_proto.h).
 *
 * Each parser walks the tree the JSON reader made, field by field, and
 * names the field it found wanting in its message, as a path into the
 * response ("data[3].embedding[7]").  Numbers become floats only through
 * maas_json_finite(), so a NaN, an infinity or a value past float range
 * never reaches a caller.
 *
 * This file: the helpers both protocols use, URLs, and OpenAI's requests
 * and responses; remote_kserve.c: KServe v2's (remote_proto_int.h between
 * them).
 */
#include "remote_proto.h"
#include "remote_proto_int.h"
#include "http.h"
#include "utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ---- */

bool
remote_field_error(MaasError *err, const char *path, const char *fmt,...)
{
	char		what[192];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return maas_error(err, MAAS_ERR_INVALID, "response field \"%s\" %s", path, what);
}

static const char *
article(MaasJsonType t)
{
	return t == MAAS_JSON_ARRAY || t == MAAS_JSON_OBJECT ? "an" : "a";
}

/* "response field "x" must be an object, not a number" */
bool
remote_wrong_type(MaasError *err, const char *path, MaasJsonType want, const MaasJson *v)
{
	return remote_field_error(err, path, "must be %s %s, not %s %s",
					   article(want), maas_json_type_name(want),
					   article((MaasJsonType) v->type),
					   maas_json_type_name((MaasJsonType) v->type));
}

static const char *
type_name(const MaasJson *v)
{
	return maas_json_type_name((MaasJsonType) v->type);
}

/*
 * The member key of object obj (whose path is at), of the type wanted, or
 * NULL: with an error when it is required or present with another type.
 * An optional member that is null counts as absent.
 */
const MaasJson *
remote_member(const MaasJson *obj, const char *at, const char *key, MaasJsonType type,
	   bool required, bool *failed, MaasError *err)
{
	const MaasJson *v = maas_json_get(obj, key);
	char		path[PATH_MAX_LEN];

	if (at[0] != '\0')
		snprintf(path, sizeof(path), "%s.%s", at, key);
	else
		snprintf(path, sizeof(path), "%s", key);
	*failed = false;
	if (v == NULL || (v->type == MAAS_JSON_NULL && !required))
	{
		if (required)
		{
			*failed = true;
			remote_field_error(err, path, "is missing");
		}
		return NULL;
	}
	if (v->type != type)
	{
		*failed = true;
		if (v->type == MAAS_JSON_NULL)
			remote_field_error(err, path, "is null");
		else
			remote_wrong_type(err, path, type, v);
		return NULL;
	}
	return v;
}

char *
remote_copy_string(const MaasJson *v, MaasError *err)
{
	char	   *s = maas_kalloc((size_t) v->n + 1);

	if (s == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memcpy(s, v->u.string, (size_t) v->n + 1);
	return s;
}

/* the body as a JSON object, or NULL; an "error" member is the error */
const MaasJson *
remote_parse_root(const char *body, size_t len, const MaasTick *tick, MaasError *err)
{
	MaasError	e;
	MaasJson   *root = maas_json_parse(body, len, 0, tick, &e);
	const MaasJson *error;

	if (root == NULL)
	{
		if (e.status == MAAS_ERR_NOMEM)
			maas_error_nomem(err);
		else
			maas_error(err, e.status, "response is not valid JSON: %s", e.msg);
		return NULL;
	}
	if (root->type != MAAS_JSON_OBJECT)
	{
		maas_error(err, MAAS_ERR_INVALID, "response is a JSON %s, not an object",
				   type_name(root));
		return NULL;
	}
	error = maas_json_get(root, "error");
	if (error != NULL && error->type != MAAS_JSON_NULL)
	{
		const MaasJson *m = error;
		char		shown[164];

		if (m->type == MAAS_JSON_OBJECT)
			m = maas_json_get(m, "message");
		if (m != NULL && m->type == MAAS_JSON_STRING)
			maas_http_sanitize(m->u.string, (size_t) m->n, 160, shown);
		else
			strcpy(shown, "(no message)");
		maas_error(err, MAAS_ERR_INVALID, "the remote model answered with an error: %s", shown);
		return NULL;
	}
	return root;
}

bool
remote_check_text(const char *s, const char *what, MaasError *err)
{
	if (s == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "%s is null", what);
	if (!maas_utf8_valid((const uint8_t *) s, strlen(s)))
		return maas_error(err, MAAS_ERR_INVALID, "%s is not valid UTF-8", what);
	return true;
}

bool
remote_check_count(int n, const char *what, MaasError *err)
{
	if (n < 1 || n > MAX_ITEMS)
		return maas_error(err, MAAS_ERR_INVALID, "%s must be from 1 to %d, not %d",
						  what, MAX_ITEMS, n);
	return true;
}

bool
remote_buf_done(MaasBuf *out, MaasError *err)
{
	if (out->oom)
		return maas_error_nomem(err);
	return true;
}

static void
write_params(MaasBuf *out, const MaasRemoteGenParams *p)
{
	if (p == NULL)
		return;
	if (p->max_tokens > 0)
		maas_buf_printf(out, ", \"max_tokens\": %d", p->max_tokens);
	if (!isnan(p->temperature))
	{
		maas_buf_puts(out, ", \"temperature\": ");
		maas_json_write_number(out, p->temperature, false);
	}
}

static bool
check_params(const MaasRemoteGenParams *p, MaasError *err)
{
	if (p == NULL)
		return true;
	if (p->max_tokens < 0)
		return maas_error(err, MAAS_ERR_INVALID, "max_tokens must not be negative");
	if (!isnan(p->temperature) && !(p->temperature >= 0 && p->temperature <= 2))
		return maas_error(err, MAAS_ERR_INVALID, "temperature must be from 0 to 2");
	return true;
}

/* ---- URLs ---- */

char *
maas_remote_url(const char *base, const char *path, MaasError *err)
{
	size_t		bl = strlen(base);
	MaasBuf		b;

	if (strpbrk(base, "?#") != NULL)
	{
		maas_error(err, MAAS_ERR_INVALID, "the base URL must not have a query or a fragment");
		return NULL;
	}
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	while (path[0] == '/')
		path++;
	maas_buf_init(&b);
	maas_buf_append(&b, base, bl);
	maas_buf_puts(&b, "/");
	maas_buf_puts(&b, path);
	if (b.oom)
	{
		maas_error_nomem(err);
		return NULL;
	}
	return b.data;
}

static char *
kserve_url(const char *base, const char *model, const char *tail, MaasError *err)
{
	static const char hex[] = "0123456789ABCDEF";
	MaasBuf		path;
	size_t		ml = strlen(model);

	if (ml == 0 || ml > 256 || !maas_utf8_valid((const uint8_t *) model, ml))
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "a KServe model name must be 1 to 256 bytes of valid UTF-8");
		return NULL;
	}
	maas_buf_init(&path);
	maas_buf_puts(&path, "v2/models/");
	for (size_t i = 0; i < ml; i++)
	{
		unsigned char c = (unsigned char) model[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~')
			maas_buf_append(&path, (const char *) &c, 1);
		else
		{
			char		esc[3] = {'%', hex[c >> 4], hex[c & 15]};

			maas_buf_append(&path, esc, 3);
		}
	}
	maas_buf_puts(&path, tail);
	if (path.oom)
	{
		maas_error_nomem(err);
		return NULL;
	}
	return maas_remote_url(base, path.data, err);
}

char *
maas_kserve_infer_url(const char *base, const char *model, MaasError *err)
{
	return kserve_url(base, model, "/infer", err);
}

char *
maas_kserve_model_url(const char *base, const char *model, MaasError *err)
{
	return kserve_url(base, model, "", err);
}

/* ---- OpenAI: requests ---- */

bool
maas_openai_chat_request(MaasBuf *out, const char *model, const MaasChatMessage *msgs,
						 int n_msgs, const MaasRemoteGenParams *params, MaasError *err)
{
	if (!remote_check_text(model, "the model name", err) ||
		!remote_check_count(n_msgs, "the number of messages", err) || !check_params(params, err))
		return false;
	for (int i = 0; i < n_msgs; i++)
		if (!remote_check_text(msgs[i].role, "a message role", err) ||
			!remote_check_text(msgs[i].content, "a message", err))
			return false;

	maas_buf_init(out);
	maas_buf_puts(out, "{\"model\": ");
	maas_json_write_string(out, model, strlen(model));
	maas_buf_puts(out, ", \"messages\": [");
	for (int i = 0; i < n_msgs; i++)
	{
		maas_buf_puts(out, i > 0 ? ", {\"role\": " : "{\"role\": ");
		maas_json_write_string(out, msgs[i].role, strlen(msgs[i].role));
		maas_buf_puts(out, ", \"content\": ");
		maas_json_write_string(out, msgs[i].content, strlen(msgs[i].content));
		maas_buf_puts(out, "}");
	}
	maas_buf_puts(out, "]");
	write_params(out, params);
	maas_buf_puts(out, "}");
	return remote_buf_done(out, err);
}

bool
maas_openai_completions_request(MaasBuf *out, const char *model, const char *const *prompts,
								int n, const MaasRemoteGenParams *params, MaasError *err)
{
	if (!remote_check_text(model, "the model name", err) ||
		!remote_check_count(n, "the number of prompts", err) || !check_params(params, err))
		return false;
	for (int i = 0; i < n; i++)
		if (!remote_check_text(prompts[i], "a prompt", err))
			return false;

	maas_buf_init(out);
	maas_buf_puts(out, "{\"model\": ");
	maas_json_write_string(out, model, strlen(model));
	maas_buf_puts(out, ", \"prompt\": [");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			maas_buf_puts(out, ", ");
		maas_json_write_string(out, prompts[i], strlen(prompts[i]));
	}
	maas_buf_puts(out, "]");
	write_params(out, params);
	maas_buf_puts(out, "}");
	return remote_buf_done(out, err);
}

bool
maas_openai_embeddings_request(MaasBuf *out, const char *model, const char *const *inputs,
							   int n, int dimensions, MaasError *err)
{
	if (!remote_check_text(model, "the model name", err) ||
		!remote_check_count(n, "the number of inputs", err))
		return false;
	if (dimensions < 0)
		return maas_error(err, MAAS_ERR_INVALID, "dimensions must not be negative");
	for (int i = 0; i < n; i++)
	{
		if (!remote_check_text(inputs[i], "an input", err))
			return false;
		if (inputs[i][0] == '\0')
			return maas_error(err, MAAS_ERR_INVALID,
							  "input %d is empty, which embedding servers refuse", i + 1);
	}

	maas_buf_init(out);
	maas_buf_puts(out, "{\"model\": ");
	maas_json_write_string(out, model, strlen(model));
	maas_buf_puts(out, ", \"input\": [");
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			maas_buf_puts(out, ", ");
		maas_json_write_string(out, inputs[i], strlen(inputs[i]));
	}
	maas_buf_puts(out, "], \"encoding_format\": \"float\"");
	if (dimensions > 0)
		maas_buf_printf(out, ", \"dimensions\": %d", dimensions);
	maas_buf_puts(out, "}");
	return remote_buf_done(out, err);
}

/* ---- OpenAI: responses ---- */

/* usage.prompt_tokens, usage.completion_tokens, when there */
static bool
read_usage(const MaasJson *root, MaasRemoteGenOutput *out, MaasError *err)
{
	bool		failed;
	const MaasJson *usage = remote_member(root, "", "usage", MAAS_JSON_OBJECT, false, &failed, err);
	static const char *const keys[] = {"prompt_tokens", "completion_tokens"};

	out->prompt_tokens = out->completion_tokens = -1;
	if (failed)
		return false;
	for (int k = 0; usage != NULL && k < 2; k++)
	{
		const MaasJson *v = remote_member(usage, "usage", keys[k], MAAS_JSON_NUMBER, false, &failed, err);
		int64_t		count;

		if (failed)
			return false;
		if (v == NULL)
			continue;
		if (!maas_json_int(v, 0, INT64_MAX, &count))
		{
			char		path[PATH_MAX_LEN];

			snprintf(path, sizeof(path), "usage.%s", keys[k]);
			return remote_field_error(err, path, "must be a whole number of at least 0");
		}
		if (k == 0)
			out->prompt_tokens = count;
		else
			out->completion_tokens = count;
	}
	return true;
}

/* finish_reason of choice c (path at) */
static bool
read_finish(const MaasJson *c, const char *at, MaasRemoteGenOutput *out, MaasError *err)
{
	bool		failed;
	const MaasJson *f = remote_member(c, at, "finish_reason", MAAS_JSON_STRING, false, &failed, err);

	out->finish_reason = NULL;
	if (failed)
		return false;
	if (f != NULL && (out->finish_reason = remote_copy_string(f, err)) == NULL)
		return false;
	return true;
}

/* the choices array: an array of n objects (n 0: at least one) */
static const MaasJson *
read_choices(const MaasJson *root, int n, MaasError *err)
{
	bool		failed;
	const MaasJson *choices = remote_member(root, "", "choices", MAAS_JSON_ARRAY, true, &failed, err);

	if (choices == NULL)
		return NULL;
	if (choices->n == 0)
	{
		remote_field_error(err, "choices", "is empty");
		return NULL;
	}
	if (n > 0 && choices->n != n)
	{
		remote_field_error(err, "choices", "has %d entries, not %d", choices->n, n);
		return NULL;
	}
	for (int i = 0; i < choices->n; i++)
	{
		if (choices->u.items[i].type != MAAS_JSON_OBJECT)
		{
			char		path[PATH_MAX_LEN];

			snprintf(path, sizeof(path), "choices[%d]", i);
			remote_wrong_type(err, path, MAAS_JSON_OBJECT, &choices->u.items[i]);
			return NULL;
		}
	}
	return choices;
}

bool
maas_openai_chat_response(const char *body, size_t len, MaasRemoteGenOutput *out,
						  const MaasTick *tick, MaasError *err)
{
	const MaasJson *root = remote_parse_root(body, len, tick, err);
	const MaasJson *choices;
	const MaasJson *message;
	const MaasJson *content;
	bool		failed;

	if (root == NULL || (choices = read_choices(root, 0, err)) == NULL)
		return false;
	message = remote_member(&choices->u.items[0], "choices[0]", "message", MAAS_JSON_OBJECT, true,
					 &failed, err);
	if (message == NULL)
		return false;
	content = maas_json_get(message, "content");
	if (content == NULL || content->type == MAAS_JSON_NULL)
	{
		const MaasJson *refusal = maas_json_get(message, "refusal");

		if (refusal != NULL && refusal->type == MAAS_JSON_STRING)
		{
			char		shown[164];

			maas_http_sanitize(refusal->u.string, (size_t) refusal->n, 160, shown);
			return maas_error(err, MAAS_ERR_INVALID, "the remote model refused: %s", shown);
		}
		return remote_field_error(err, "choices[0].message.content", "is %s",
						   content == NULL ? "missing" : "null");
	}
	if (content->type != MAAS_JSON_STRING)
		return remote_wrong_type(err, "choices[0].message.content", MAAS_JSON_STRING, content);
	if ((out->text = remote_copy_string(content, err)) == NULL)
		return false;
	out->len = content->n;
	return read_finish(&choices->u.items[0], "choices[0]", out, err) &&
		read_usage(root, out, err);
}

/*
 * The position entry i of an array of n belongs at: its "index" member,
 * or i when it has none; each position taken once.
 */
static bool
placed_index(const MaasJson *entry, const char *array, int i, int n, bool *taken,
			 int *at, MaasError *err)
{
	const MaasJson *index = maas_json_get(entry, "index");
	char		path[PATH_MAX_LEN];
	int64_t		k = i;

	snprintf(path, sizeof(path), "%s[%d].index", array, i);
	if (index != NULL && !maas_json_int(index, 0, n - 1, &k))
		return remote_field_error(err, path, "must be a whole number from 0 to %d", n - 1);
	if (taken[k])
		return remote_field_error(err, path, "repeats index %lld", (long long) k);
	taken[k] = true;
	*at = (int) k;
	return true;
}

bool
maas_openai_completions_response(const char *body, size_t len, int n, MaasRemoteGenOutput *outs,
								 const MaasTick *tick, MaasError *err)
{
	const MaasJson *root;
	const MaasJson *choices;
	MaasRemoteGenOutput usage;
	bool	   *taken;

	if (!remote_check_count(n, "the number of prompts", err))
		return false;
	root = remote_parse_root(body, len, tick, err);
	if (root == NULL || (choices = read_choices(root, n, err)) == NULL ||
		!read_usage(root, &usage, err))
		return false;
	taken = maas_kalloc_array((size_t) n, sizeof(bool));
	if (taken == NULL)
		return maas_error_nomem(err);
	memset(taken, 0, (size_t) n * sizeof(bool));
	for (int i = 0; i < n; i++)
	{
		const MaasJson *c = &choices->u.items[i];
		const MaasJson *text;
		char		at[PATH_MAX_LEN];
		bool		failed;
		int			k;

		snprintf(at, sizeof(at), "choices[%d]", i);
		if (!placed_index(c, "choices", i, n, taken, &k, err))
			return false;
		text = remote_member(c, at, "text", MAAS_JSON_STRING, true, &failed, err);
		if (text == NULL)
			return false;
		if ((outs[k].text = remote_copy_string(text, err)) == NULL)
			return false;
		outs[k].len = text->n;
		if (!read_finish(c, at, &outs[k], err))
			return false;
		outs[k].prompt_tokens = outs[k].completion_tokens = -1;
	}
	return true;
}

float *
maas_openai_embeddings_response(const char *body, size_t len, int n, int *dims,
								const MaasTick *tick, MaasError *err)
{
	const MaasJson *root;
	const MaasJson *data;
	bool		failed;
	bool	   *taken;
	float	   *out = NULL;
	int			d = *dims;

	if (!remote_check_count(n, "the number of inputs", err))
		return NULL;
	if (d < 0)
	{
		maas_error(err, MAAS_ERR_INVALID, "dimensions must not be negative");
		return NULL;
	}
	root = remote_parse_root(body, len, tick, err);
	if (root == NULL)
		return NULL;
	data = remote_member(root, "", "data", MAAS_JSON_ARRAY, true, &failed, err);
	if (data == NULL)
		return NULL;
	if (data->n != n)
	{
		remote_field_error(err, "data", "has %d embeddings, not %d", data->n, n);
		return NULL;
	}
	taken = maas_kalloc_array((size_t) n, sizeof(bool));
	if (taken == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(taken, 0, (size_t) n * sizeof(bool));

	for (int i = 0; i < n; i++)
	{
		const MaasJson *e = &data->u.items[i];
		const MaasJson *vec;
		char		at[PATH_MAX_LEN];
		int			k;

		snprintf(at, sizeof(at), "data[%d]", i);
		if (e->type != MAAS_JSON_OBJECT)
		{
			remote_wrong_type(err, at, MAAS_JSON_OBJECT, e);
			return NULL;
		}
		if (!placed_index(e, "data", i, n, taken, &k, err))
			return NULL;
		vec = maas_json_get(e, "embedding");
		if (vec != NULL && vec->type == MAAS_JSON_STRING)
		{
			snprintf(at, sizeof(at), "data[%d].embedding", i);
			remote_field_error(err, at, "is a string: base64 embeddings are not supported");
			return NULL;
		}
		vec = remote_member(e, at, "embedding", MAAS_JSON_ARRAY, true, &failed, err);
		if (vec == NULL)
			return NULL;
		if (d == 0)
		{
			if (vec->n == 0 || vec->n > MAX_ITEMS)
			{
				snprintf(at, sizeof(at), "data[%d].embedding", i);
				remote_field_error(err, at, "%s", vec->n == 0 ? "is empty" : "is too long");
				return NULL;
			}
			d = vec->n;
		}
		if (vec->n != d)
		{
			snprintf(at, sizeof(at), "data[%d].embedding", i);
			remote_field_error(err, at, "has %d values, not %d", vec->n, d);
			return NULL;
		}
		if (out == NULL)
		{
			out = maas_kalloc_array((size_t) n * (size_t) d, sizeof(float));
			if (out == NULL)
			{
				maas_error_nomem(err);
				return NULL;
			}
		}
		for (int j = 0; j < d; j++)
		{
			double		v;

			if (!maas_json_finite(&vec->u.items[j], true, &v))
			{
				snprintf(at, sizeof(at), "data[%d].embedding[%d]", i, j);
				remote_field_error(err, at, "%s", vec->u.items[j].type == MAAS_JSON_NUMBER ?
							"is not a finite float" : "is not a number");
				return NULL;
			}
			out[(size_t) k * (size_t) d + (size_t) j] = (float) v;
		}
		maas_tick(tick);
	}
	*dims = d;
	return out;
}

