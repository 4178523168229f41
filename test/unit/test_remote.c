/*
 * test_remote.c
 *		Unit tests of the protocol builders and parsers
 *		(src/kernel/remote_proto.c): every request body read back as JSON,
 *		every parser against good bodies and against each way a body can be
 *		wrong, with its message; out of memory at every allocation.
 *
 * Run without arguments to test.  "test_remote --corpus DIR" writes the
 * good bodies as seeds for fuzz_remote (each prefixed with the three bytes
 * that fuzz_remote reads as parser, rows and width), "--dict FILE" a
 * libFuzzer dictionary.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "json.h"
#include "remote_proto.h"
#include "unit.h"

static MaasError err;

#define CHECK_FAILS(ok, fragment) \
	do { \
		bool		ok_ = (ok); \
		if (ok_ || strstr(err.msg, (fragment)) == NULL) \
		{ \
			unit_fail(__FILE__, __LINE__, "a failure with the expected message"); \
			fprintf(stderr, "    got: %s (%s)\n    want: %s\n", ok_ ? "success" : "failure", \
					err.msg, (fragment)); \
		} \
		else \
			CHECK(err.status == MAAS_ERR_INVALID || err.status == MAAS_ERR_LIMIT); \
	} while (0)

static MaasJson *
parse(const MaasBuf *b)
{
	MaasJson   *j = maas_json_parse(b->data, b->len, 0, NULL, &err);

	if (j == NULL)
		fprintf(stderr, "    request is not JSON: %s\n    %s\n", err.msg, b->data);
	return j;
}

/* ---- URLs ---- */

static void
test_urls(void)
{
	char	   *u;

	u = maas_remote_url("https://api.example.com/v1", "/chat/completions", &err);
	CHECK(u != NULL && strcmp(u, "https://api.example.com/v1/chat/completions") == 0);
	u = maas_remote_url("https://api.example.com/v1//", "embeddings", &err);
	CHECK(u != NULL && strcmp(u, "https://api.example.com/v1/embeddings") == 0);
	u = maas_kserve_infer_url("http://models.internal:8080", "fraud", &err);
	CHECK(u != NULL && strcmp(u, "http://models.internal:8080/v2/models/fraud/infer") == 0);
	u = maas_kserve_model_url("http://m:8080/", "a b/c?d%\xc3\xa9", &err);
	CHECK(u != NULL && strcmp(u, "http://m:8080/v2/models/a%20b%2Fc%3Fd%25%C3%A9") == 0);
	u = maas_kserve_infer_url("http://m", "fr-aud_1.v~2", &err);
	CHECK(u != NULL && strcmp(u, "http://m/v2/models/fr-aud_1.v~2/infer") == 0);

	CHECK_FAILS(maas_remote_url("https://h/v1?key=x", "/embeddings", &err) != NULL,
				"the base URL must not have a query or a fragment");
	CHECK_FAILS(maas_remote_url("https://h/v1#x", "/embeddings", &err) != NULL,
				"must not have a query or a fragment");
	CHECK_FAILS(maas_kserve_infer_url("http://m", "", &err) != NULL,
				"a KServe model name must be 1 to 256 bytes of valid UTF-8");
	CHECK_FAILS(maas_kserve_infer_url("http://m", "\xff", &err) != NULL,
				"a KServe model name must be 1 to 256 bytes");
}

/* ---- OpenAI requests ---- */

static void
test_openai_requests(void)
{
	MaasBuf		b;
	MaasJson   *j;
	MaasChatMessage msgs[2] = {{"system", "Be brief."}, {"user", "Summarize: \"a\"\n\xc3\xa9"}};
	MaasRemoteGenParams p = {64, 0.25};
	MaasRemoteGenParams none = {0, NAN};
	const char *prompts[3] = {"one", "two", "three"};
	const MaasJson *m;

	CHECK(maas_openai_chat_request(&b, "gpt-4o-mini", msgs, 2, &p, &err));
	j = parse(&b);
	CHECK(j != NULL);
	if (j != NULL)
	{
		CHECK(strcmp(maas_json_get(j, "model")->u.string, "gpt-4o-mini") == 0);
		m = maas_json_get(j, "messages");
		CHECK(m->type == MAAS_JSON_ARRAY && m->n == 2);
		CHECK(strcmp(maas_json_get(maas_json_at(m, 0), "role")->u.string, "system") == 0);
		CHECK(strcmp(maas_json_get(maas_json_at(m, 1), "content")->u.string,
					 "Summarize: \"a\"\n\xc3\xa9") == 0);
		CHECK(maas_json_get(j, "max_tokens")->integer == 64);
		CHECK(maas_json_get(j, "temperature")->u.number == 0.25);
	}
	CHECK(maas_openai_chat_request(&b, "m", msgs, 1, &none, &err));
	j = parse(&b);
	CHECK(j != NULL && maas_json_get(j, "max_tokens") == NULL &&
		  maas_json_get(j, "temperature") == NULL);
	CHECK(maas_openai_chat_request(&b, "m", msgs, 1, NULL, &err));

	CHECK(maas_openai_completions_request(&b, "m", prompts, 3, &p, &err));
	j = parse(&b);
	CHECK(j != NULL && maas_json_get(j, "prompt")->n == 3 &&
		  strcmp(maas_json_at(maas_json_get(j, "prompt"), 2)->u.string, "three") == 0);

	CHECK(maas_openai_embeddings_request(&b, "e", prompts, 3, 0, &err));
	j = parse(&b);
	CHECK(j != NULL && maas_json_get(j, "input")->n == 3 && maas_json_get(j, "dimensions") == NULL);
	CHECK(j != NULL && strcmp(maas_json_get(j, "encoding_format")->u.string, "float") == 0);
	CHECK(maas_openai_embeddings_request(&b, "e", prompts, 1, 256, &err));
	j = parse(&b);
	CHECK(j != NULL && maas_json_get(j, "dimensions")->integer == 256);

	/* what is refused before anything is sent */
	CHECK_FAILS(maas_openai_chat_request(&b, "m", msgs, 0, NULL, &err),
				"the number of messages must be from 1 to 16777216, not 0");
	msgs[1].content = "bad \xff";
	CHECK_FAILS(maas_openai_chat_request(&b, "m", msgs, 2, NULL, &err),
				"a message is not valid UTF-8");
	msgs[1].content = NULL;
	CHECK_FAILS(maas_openai_chat_request(&b, "m", msgs, 2, NULL, &err), "a message is null");
	CHECK_FAILS(maas_openai_chat_request(&b, NULL, msgs, 1, NULL, &err), "the model name is null");
	p.temperature = 2.5;
	CHECK_FAILS(maas_openai_chat_request(&b, "m", msgs, 1, &p, &err),
				"temperature must be from 0 to 2");
	p.temperature = NAN;
	p.max_tokens = -1;
	CHECK_FAILS(maas_openai_completions_request(&b, "m", prompts, 1, &p, &err),
				"max_tokens must not be negative");
	prompts[1] = "";
	CHECK_FAILS(maas_openai_embeddings_request(&b, "e", prompts, 2, 0, &err),
				"input 2 is empty, which embedding servers refuse");
	CHECK_FAILS(maas_openai_embeddings_request(&b, "e", prompts, 1, -3, &err),
				"dimensions must not be negative");
}

/* ---- OpenAI responses ---- */

static bool
chat(const char *body, MaasRemoteGenOutput *out)
{
	return maas_openai_chat_response(body, strlen(body), out, NULL, &err);
}

static void
test_chat_response(void)
{
	MaasRemoteGenOutput o;

	CHECK(chat("{\"id\": \"x\", \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\","
			   " \"content\": \"Hello \\u00e9\"}, \"finish_reason\": \"stop\"}],"
			   " \"usage\": {\"prompt_tokens\": 12, \"completion_tokens\": 3, \"total_tokens\": 15}}",
			   &o));
	CHECK(strcmp(o.text, "Hello \xc3\xa9") == 0 && o.len == 8);
	CHECK(o.finish_reason != NULL && strcmp(o.finish_reason, "stop") == 0);
	CHECK(o.prompt_tokens == 12 && o.completion_tokens == 3);
	/* the minimum, and nulls where they are allowed */
	CHECK(chat("{\"choices\": [{\"message\": {\"content\": \"\"}, \"finish_reason\": null}],"
			   " \"usage\": null}", &o));
	CHECK(o.len == 0 && o.text[0] == '\0' && o.finish_reason == NULL && o.prompt_tokens == -1);

	CHECK_FAILS(chat("", &o), "response is not valid JSON: invalid JSON at byte 0");
	CHECK_FAILS(chat("{\"choices\": [", &o), "response is not valid JSON");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {\"content\": \"cut", &o), "response is not valid JSON");
	CHECK_FAILS(chat("[1]", &o), "response is a JSON array, not an object");
	CHECK_FAILS(chat("\"text\"", &o), "response is a JSON string, not an object");
	CHECK_FAILS(chat("{}", &o), "response field \"choices\" is missing");
	CHECK_FAILS(chat("{\"choices\": null}", &o), "response field \"choices\" is null");
	CHECK_FAILS(chat("{\"choices\": {}}", &o), "response field \"choices\" must be an array, not an object");
	CHECK_FAILS(chat("{\"choices\": []}", &o), "response field \"choices\" is empty");
	CHECK_FAILS(chat("{\"choices\": [7]}", &o), "response field \"choices[0]\" must be an object, not a number");
	CHECK_FAILS(chat("{\"choices\": [{}]}", &o), "response field \"choices[0].message\" is missing");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": \"hi\"}]}", &o),
				"response field \"choices[0].message\" must be an object, not a string");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {}}]}", &o),
				"response field \"choices[0].message.content\" is missing");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {\"content\": null}}]}", &o),
				"response field \"choices[0].message.content\" is null");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {\"content\": 42}}]}", &o),
				"response field \"choices[0].message.content\" must be a string, not a number");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {\"content\": [\"a\"]}}]}", &o),
				"must be a string, not an array");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {\"content\": null, \"refusal\": \"I can't\\n do that\"}}]}", &o),
				"the remote model refused: I can't  do that");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {\"content\": \"a\"}, \"finish_reason\": 1}]}", &o),
				"response field \"choices[0].finish_reason\" must be a string, not a number");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {\"content\": \"a\"}}], \"usage\": []}", &o),
				"response field \"usage\" must be an object, not an array");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {\"content\": \"a\"}}], \"usage\": {\"prompt_tokens\": -1}}", &o),
				"response field \"usage.prompt_tokens\" must be a whole number of at least 0");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {\"content\": \"a\"}}], \"usage\": {\"completion_tokens\": \"3\"}}", &o),
				"response field \"usage.completion_tokens\" must be a number, not a string");
	CHECK_FAILS(chat("{\"error\": {\"message\": \"Rate limit\\u001b[0m reached\", \"type\": \"x\"}}", &o),
				"the remote model answered with an error: Rate limit [0m reached");
	CHECK_FAILS(chat("{\"error\": \"overloaded\"}", &o), "the remote model answered with an error: overloaded");
	CHECK_FAILS(chat("{\"error\": 5}", &o), "the remote model answered with an error: (no message)");
	/* strict JSON: no NaN, no duplicate keys, no NUL */
	CHECK_FAILS(chat("{\"choices\": [], \"choices\": []}", &o), "response is not valid JSON");
	CHECK_FAILS(chat("{\"choices\": [{\"message\": {\"content\": \"a\\u0000b\"}}]}", &o),
				"response is not valid JSON");
}

static bool
completions(const char *body, int n, MaasRemoteGenOutput *outs)
{
	return maas_openai_completions_response(body, strlen(body), n, outs, NULL, &err);
}

static void
test_completions_response(void)
{
	MaasRemoteGenOutput o[3];

	/* placed by index, in any order */
	CHECK(completions("{\"choices\": [{\"index\": 2, \"text\": \"c\", \"finish_reason\": \"length\"},"
					  " {\"index\": 0, \"text\": \"a\"}, {\"index\": 1, \"text\": \"b\"}]}", 3, o));
	CHECK(strcmp(o[0].text, "a") == 0 && strcmp(o[1].text, "b") == 0 && strcmp(o[2].text, "c") == 0);
	CHECK(o[2].finish_reason != NULL && strcmp(o[2].finish_reason, "length") == 0);
	CHECK(o[0].finish_reason == NULL);
	/* without indexes: by position */
	CHECK(completions("{\"choices\": [{\"text\": \"x\"}, {\"text\": \"y\"}]}", 2, o));
	CHECK(strcmp(o[0].text, "x") == 0 && strcmp(o[1].text, "y") == 0);

	CHECK_FAILS(completions("{\"choices\": [{\"text\": \"x\"}]}", 2, o),
				"response field \"choices\" has 1 entries, not 2");
	CHECK_FAILS(completions("{\"choices\": [{\"index\": 0, \"text\": \"x\"}, {\"index\": 0, \"text\": \"y\"}]}", 2, o),
				"response field \"choices[1].index\" repeats index 0");
	CHECK_FAILS(completions("{\"choices\": [{\"index\": 5, \"text\": \"x\"}]}", 1, o),
				"response field \"choices[0].index\" must be a whole number from 0 to 0");
	CHECK_FAILS(completions("{\"choices\": [{\"index\": 0.5, \"text\": \"x\"}]}", 1, o),
				"must be a whole number from 0 to 0");
	CHECK_FAILS(completions("{\"choices\": [{\"index\": 0, \"text\": [\"x\"]}]}", 1, o),
				"response field \"choices[0].text\" must be a string, not an array");
	CHECK_FAILS(completions("{\"choices\": [{\"index\": 0}]}", 1, o),
				"response field \"choices[0].text\" is missing");
	CHECK_FAILS(completions("{\"choices\": [{\"text\": \"x\"}]}", 0, o),
				"the number of prompts must be from 1");
}

static float *
embeddings(const char *body, int n, int *dims)
{
	return maas_openai_embeddings_response(body, strlen(body), n, dims, NULL, &err);
}

static void
test_embeddings_response(void)
{
	float	   *e;
	int			d = 0;

	e = embeddings("{\"object\": \"list\", \"data\": [{\"object\": \"embedding\", \"index\": 1,"
				   " \"embedding\": [0.5, -1, 3e-3]}, {\"index\": 0, \"embedding\": [1, 2, 3]}],"
				   " \"model\": \"e\"}", 2, &d);
	CHECK(e != NULL && d == 3);
	if (e != NULL)
	{
		CHECK(e[0] == 1 && e[1] == 2 && e[2] == 3);
		CHECK(e[3] == 0.5f && e[4] == -1 && e[5] == 3e-3f);
	}
	d = 3;
	CHECK(embeddings("{\"data\": [{\"embedding\": [1, 2, 3]}]}", 1, &d) != NULL && d == 3);

	d = 0;
	CHECK_FAILS(embeddings("{\"data\": [{\"embedding\": [1, 2, 3]}]}", 2, &d) != NULL,
				"response field \"data\" has 1 embeddings, not 2");
	d = 4;
	CHECK_FAILS(embeddings("{\"data\": [{\"embedding\": [1, 2, 3]}]}", 1, &d) != NULL,
				"response field \"data[0].embedding\" has 3 values, not 4");
	d = 0;
	CHECK_FAILS(embeddings("{\"data\": [{\"embedding\": [1, 2]}, {\"embedding\": [1]}]}", 2, &d) != NULL,
				"response field \"data[1].embedding\" has 1 values, not 2");
	CHECK_FAILS(embeddings("{\"data\": [{\"embedding\": []}]}", 1, &d) != NULL,
				"response field \"data[0].embedding\" is empty");
	CHECK_FAILS(embeddings("{\"data\": [{\"embedding\": [1, \"2\"]}]}", 1, &d) != NULL,
				"response field \"data[0].embedding[1]\" is not a number");
	CHECK_FAILS(embeddings("{\"data\": [{\"embedding\": [1, 1e999]}]}", 1, &d) != NULL,
				"response field \"data[0].embedding[1]\" is not a finite float");
	CHECK_FAILS(embeddings("{\"data\": [{\"embedding\": [1e39]}]}", 1, &d) != NULL,
				"response field \"data[0].embedding[0]\" is not a finite float");
	CHECK_FAILS(embeddings("{\"data\": [{\"embedding\": [NaN]}]}", 1, &d) != NULL,
				"response is not valid JSON");
	CHECK_FAILS(embeddings("{\"data\": [{\"embedding\": [null]}]}", 1, &d) != NULL,
				"is not a number");
	CHECK_FAILS(embeddings("{\"data\": [{\"embedding\": \"AAAAPw==\"}]}", 1, &d) != NULL,
				"response field \"data[0].embedding\" is a string: base64 embeddings are not supported");
	CHECK_FAILS(embeddings("{\"data\": [{\"index\": 0, \"embedding\": [1]}, {\"index\": 0, \"embedding\": [2]}]}", 2, &d) != NULL,
				"response field \"data[1].index\" repeats index 0");
	CHECK_FAILS(embeddings("{\"data\": [{\"index\": -1, \"embedding\": [1]}]}", 1, &d) != NULL,
				"response field \"data[0].index\" must be a whole number from 0 to 0");
	CHECK_FAILS(embeddings("{\"data\": [[1, 2]]}", 1, &d) != NULL,
				"response field \"data[0]\" must be an object, not an array");
	CHECK_FAILS(embeddings("{\"data\": {}}", 1, &d) != NULL,
				"response field \"data\" must be an array, not an object");
	CHECK_FAILS(embeddings("{\"object\": \"list\"}", 1, &d) != NULL,
				"response field \"data\" is missing");
	CHECK_FAILS(embeddings("{\"data\": [{}]}", 1, &d) != NULL,
				"response field \"data[0].embedding\" is missing");
	d = -1;
	CHECK_FAILS(embeddings("{\"data\": []}", 1, &d) != NULL, "dimensions must not be negative");
}

/* ---- KServe v2 ---- */

static void
test_kserve_request(void)
{
	MaasBuf		b;
	MaasJson   *j;
	const MaasJson *in;
	const MaasJson *data;
	float		x[6] = {0.1f, -2.5f, 3.0f, 1e-30f, 3.4028235e38f, 1.17549435e-38f};

	CHECK(maas_kserve_infer_request(&b, "input-0", 2, 3, x, &err));
	j = parse(&b);
	CHECK(j != NULL);
	if (j == NULL)
		return;
	in = maas_json_at(maas_json_get(j, "inputs"), 0);
	CHECK(in != NULL && strcmp(maas_json_get(in, "name")->u.string, "input-0") == 0);
	CHECK(strcmp(maas_json_get(in, "datatype")->u.string, "FP32") == 0);
	CHECK(maas_json_get(in, "shape")->n == 2 &&
		  maas_json_at(maas_json_get(in, "shape"), 0)->integer == 2 &&
		  maas_json_at(maas_json_get(in, "shape"), 1)->integer == 3);
	data = maas_json_get(in, "data");
	CHECK(data->n == 6);
	/* every float reads back exactly */
	for (int i = 0; i < 6; i++)
		CHECK((float) maas_json_at(data, i)->u.number == x[i]);

	x[4] = NAN;
	CHECK_FAILS(maas_kserve_infer_request(&b, "input-0", 2, 3, x, &err),
				"feature 2 of row 2 is not finite");
	x[4] = INFINITY;
	CHECK_FAILS(maas_kserve_infer_request(&b, "input-0", 2, 3, x, &err), "is not finite");
	CHECK_FAILS(maas_kserve_infer_request(&b, "input-0", 0, 3, x, &err),
				"the number of rows must be from 1");
	CHECK_FAILS(maas_kserve_infer_request(&b, "input-0", 1, 0, x, &err),
				"the number of features must be from 1");
	CHECK_FAILS(maas_kserve_infer_request(&b, "input-0", 1 << 20, 1 << 10, x, &err),
				"a request of 1048576 rows of 1024 features is too large");
	CHECK_FAILS(maas_kserve_infer_request(&b, "in\xff", 1, 1, x, &err),
				"the input name is not valid UTF-8");
}

static bool
infer(const char *body, const char *name, int n, int n_out, float *out)
{
	return maas_kserve_infer_response(body, strlen(body), name, n, n_out, out, NULL, &err);
}

static void
test_kserve_response(void)
{
	float		o[6];

	CHECK(infer("{\"model_name\": \"m\", \"outputs\": [{\"name\": \"p\", \"datatype\": \"FP32\","
				" \"shape\": [2, 2], \"data\": [0.25, 0.75, 1, 0]}]}", NULL, 2, 2, o));
	CHECK(o[0] == 0.25f && o[1] == 0.75f && o[2] == 1 && o[3] == 0);
	/* by name among several; nested data; [n] for one value a row */
	CHECK(infer("{\"outputs\": [{\"name\": \"label\", \"datatype\": \"INT64\", \"shape\": [3], \"data\": [1, 0, 2]},"
				" {\"name\": \"p\", \"datatype\": \"FP64\", \"shape\": [3, 2],"
				" \"data\": [[0.5, 0.5], [1, 0], [0, 1]]}]}", "p", 3, 2, o));
	CHECK(o[0] == 0.5f && o[2] == 1 && o[5] == 1);
	CHECK(infer("{\"outputs\": [{\"name\": \"label\", \"datatype\": \"INT64\", \"shape\": [3], \"data\": [1, 0, 2]}]}",
				"label", 3, 1, o));
	CHECK(o[0] == 1 && o[1] == 0 && o[2] == 2);
	CHECK(infer("{\"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [2, 1], \"data\": [4.25, -1]}]}",
				NULL, 2, 1, o));
	CHECK(o[0] == 4.25f && o[1] == -1);
	CHECK(infer("{\"outputs\": [{\"name\": \"b\", \"datatype\": \"BOOL\", \"shape\": [2, 1], \"data\": [true, false]}]}",
				NULL, 2, 1, o));
	CHECK(o[0] == 1 && o[1] == 0);

#define T(shape, dtype, data) \
	"{\"outputs\": [{\"name\": \"y\", \"datatype\": \"" dtype "\", \"shape\": " shape ", \"data\": " data "}]}"

	CHECK_FAILS(infer(T("[2, 1]", "FP32", "[1, 2]"), "z", 2, 1, o), "response has no output named \"z\"");
	CHECK_FAILS(infer(T("[2, 2]", "FP32", "[1, 2, 3, 4]"), NULL, 2, 1, o),
				"response field \"outputs[0].shape\" is [2, 2], not [2, 1]");
	CHECK_FAILS(infer(T("[3, 1]", "FP32", "[1, 2, 3]"), NULL, 2, 1, o),
				"response field \"outputs[0].shape\" is [3, 1], not [2, 1]");
	CHECK_FAILS(infer(T("[2]", "FP32", "[1, 2]"), NULL, 2, 2, o), "is [2], not [2, 2]");
	CHECK_FAILS(infer(T("[2, 1, 1]", "FP32", "[1, 2]"), NULL, 2, 1, o), "is [2, 1, 1], not [2, 1]");
	CHECK_FAILS(infer(T("[2, 1.5]", "FP32", "[1, 2]"), NULL, 2, 1, o), "is [2, ?], not [2, 1]");
	CHECK_FAILS(infer(T("[]", "FP32", "[1, 2]"), NULL, 2, 1, o), "is [], not [2, 1]");
	CHECK_FAILS(infer(T("\"2x1\"", "FP32", "[1, 2]"), NULL, 2, 1, o),
				"response field \"outputs[0].shape\" must be an array, not a string");
	CHECK_FAILS(infer(T("[2, 1]", "BYTES", "[\"a\", \"b\"]"), NULL, 2, 1, o),
				"response field \"outputs[0].datatype\" is \"BYTES\", not a numeric type");
	CHECK_FAILS(infer(T("[2, 1]", "FP32", "[1]"), NULL, 2, 1, o),
				"response field \"outputs[0].data\" has 1 values, not 2");
	CHECK_FAILS(infer(T("[2, 1]", "FP32", "[1, 2, 3]"), NULL, 2, 1, o), "has 3 values, not 2");
	CHECK_FAILS(infer(T("[2, 1]", "FP32", "[1, \"2\"]"), NULL, 2, 1, o),
				"response field \"outputs[0].data[1]\" is not a number");
	CHECK_FAILS(infer(T("[2, 1]", "FP32", "[1, 1e999]"), NULL, 2, 1, o),
				"response field \"outputs[0].data[1]\" is not a finite float");
	CHECK_FAILS(infer(T("[2, 1]", "FP32", "[1, -1e300]"), NULL, 2, 1, o), "is not a finite float");
	CHECK_FAILS(infer(T("[2, 1]", "FP32", "[1, null]"), NULL, 2, 1, o), "is not a number");
	CHECK_FAILS(infer(T("[2, 1]", "FP32", "[1, NaN]"), NULL, 2, 1, o), "response is not valid JSON");
	CHECK_FAILS(infer(T("[2, 1]", "BOOL", "[1, 0]"), NULL, 2, 1, o),
				"response field \"outputs[0].data[0]\" must be a boolean, not a number");
	CHECK_FAILS(infer(T("[2, 2]", "FP32", "[[1, 2], 3, 4]"), NULL, 2, 2, o),
				"response field \"outputs[0].data\" has 3 values, not 4");
	CHECK_FAILS(infer(T("[2, 2]", "FP32", "[[1, 2], 3, 4, 5]"), NULL, 2, 2, o),
				"response field \"outputs[0].data[0]\" is not a number");
	CHECK_FAILS(infer(T("[2, 2]", "FP32", "[[1, 2], [3, 4], 5, 6]"), NULL, 2, 2, o),
				"response field \"outputs[0].data[0]\" is not a number");
	CHECK(infer(T("[2, 1]", "FP32", "[[7], [8]]"), NULL, 2, 1, o) && o[0] == 7 && o[1] == 8);
	CHECK_FAILS(infer(T("[2, 2]", "FP32", "[[1, 2], [3]]"), NULL, 2, 2, o),
				"response field \"outputs[0].data[1]\" must be an array of 2 values");
	CHECK_FAILS(infer(T("[2, 2]", "FP32", "[[1, 2], [3, [4]]]"), NULL, 2, 2, o),
				"response field \"outputs[0].data[1][1]\" is not a number");
	CHECK_FAILS(infer(T("[2, 1]", "FP32", "{\"a\": 1}"), NULL, 2, 1, o),
				"response field \"outputs[0].data\" must be an array, not an object");
	CHECK_FAILS(infer("{\"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [2, 1]}]}",
					  NULL, 2, 1, o), "response field \"outputs[0].data\" is missing");
	CHECK_FAILS(infer("{\"outputs\": [{\"datatype\": \"FP32\", \"shape\": [1, 1], \"data\": [1]}]}",
					  NULL, 1, 1, o), "response field \"outputs[0].name\" is missing");
	CHECK_FAILS(infer("{\"outputs\": [{\"name\": \"y\", \"shape\": [1, 1], \"data\": [1]}]}",
					  NULL, 1, 1, o), "response field \"outputs[0].datatype\" is missing");
	CHECK_FAILS(infer("{\"outputs\": []}", NULL, 1, 1, o), "response field \"outputs\" is empty");
	CHECK_FAILS(infer("{\"outputs\": [5]}", NULL, 1, 1, o),
				"response field \"outputs[0]\" must be an object, not a number");
	CHECK_FAILS(infer("{\"model_name\": \"m\"}", NULL, 1, 1, o), "response field \"outputs\" is missing");
	CHECK_FAILS(infer("{\"error\": \"Model m is not ready\"}", NULL, 1, 1, o),
				"the remote model answered with an error: Model m is not ready");
	CHECK_FAILS(infer(T("[1, 1]", "FP32", "[1]"), NULL, 0, 1, o), "the number of rows must be from 1");
	CHECK_FAILS(infer(T("[1, 1]", "FP32", "[1]"), NULL, 1 << 20, 1 << 10, o),
				"1048576 rows of 1024 outputs are too many");
#undef T
}

static bool
meta(const char *body, MaasKserveMeta *m)
{
	return maas_kserve_metadata_parse(body, strlen(body), m, &err);
}

static void
test_kserve_metadata(void)
{
	MaasKserveMeta m;

	CHECK(meta("{\"name\": \"fraud\", \"versions\": [\"1\"], \"platform\": \"x\","
			   " \"inputs\": [{\"name\": \"input-0\", \"datatype\": \"FP32\", \"shape\": [-1, 30]}],"
			   " \"outputs\": [{\"name\": \"label\", \"datatype\": \"INT64\", \"shape\": [-1]},"
			   " {\"name\": \"probabilities\", \"datatype\": \"FP32\", \"shape\": [-1, 2]}]}", &m));
	CHECK(strcmp(m.name, "fraud") == 0 && m.n_inputs == 1 && m.n_outputs == 2);
	CHECK(m.inputs[0].n_dims == 2 && m.inputs[0].dims[0] == -1 && m.inputs[0].dims[1] == 30);
	CHECK(strcmp(m.outputs[1].name, "probabilities") == 0);
	CHECK(maas_kserve_metadata_check(&m, 30, "probabilities", 2, &err));
	CHECK(maas_kserve_metadata_check(&m, 30, "label", 1, &err));
	CHECK(maas_kserve_metadata_check(&m, 30, NULL, 1, &err));
	CHECK_FAILS(maas_kserve_metadata_check(&m, 31, NULL, 1, &err),
				"the remote model's input does not take rows of 31 features");
	CHECK_FAILS(maas_kserve_metadata_check(&m, 30, "probabilities", 3, &err),
				"the remote model's output does not give 3 values a row");
	CHECK_FAILS(maas_kserve_metadata_check(&m, 30, "nope", 1, &err),
				"the remote model has no output named \"nope\"");
	m.inputs[0].datatype = "BYTES";
	CHECK_FAILS(maas_kserve_metadata_check(&m, 30, NULL, 1, &err),
				"the remote model's input has datatype \"BYTES\", not FP32");
	m.n_inputs = 2;
	CHECK_FAILS(maas_kserve_metadata_check(&m, 30, NULL, 1, &err),
				"the remote model takes 2 inputs; maas sends one tensor of features");

	CHECK_FAILS(meta("{\"inputs\": [], \"outputs\": []}", &m), "response field \"name\" is missing");
	CHECK_FAILS(meta("{\"name\": \"m\", \"outputs\": []}", &m), "response field \"inputs\" is missing");
	CHECK_FAILS(meta("{\"name\": \"m\", \"inputs\": {\"name\": \"x\"}, \"outputs\": []}", &m),
				"response field \"inputs\" must be an array, not an object");
	CHECK_FAILS(meta("{\"name\": \"m\", \"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-2, 3]}], \"outputs\": []}", &m),
				"response field \"inputs[0].shape[0]\" must be a whole number of at least -1");
	CHECK_FAILS(meta("{\"name\": \"m\", \"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,1,1,1,1,1,1,1,1]}], \"outputs\": []}", &m),
				"response field \"inputs[0].shape\" has more than 8 dimensions");
	CHECK_FAILS(meta("{\"name\": \"m\", \"inputs\": [], \"outputs\": [{\"name\": 1}]}", &m),
				"response field \"outputs[0].name\" must be a string, not a number");
	CHECK(meta("{\"name\": \"m\", \"inputs\": [], \"outputs\": []}", &m));
	CHECK_FAILS(maas_kserve_metadata_check(&m, 3, NULL, 1, &err), "the remote model takes 0 inputs");
}

/* every parser fails cleanly when any allocation fails */
static void
test_out_of_memory(void)
{
	static const char *chat_body = "{\"choices\": [{\"message\": {\"content\": \"hi\"}, \"finish_reason\": \"stop\"}]}";
	static const char *emb_body = "{\"data\": [{\"embedding\": [1, 2]}, {\"embedding\": [3, 4]}]}";
	static const char *inf_body = "{\"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [2, 1], \"data\": [1, 2]}]}";
	static const char *meta_body = "{\"name\": \"m\", \"inputs\": [], \"outputs\": []}";
	int			ok_at = -1;

	for (long k = 0; k < 200; k++)
	{
		MaasRemoteGenOutput o;
		MaasKserveMeta m;
		float		out[2];
		int			d = 0;
		bool		a,
					b,
					c,
					e;

		arena_fail_after(k);
		a = maas_openai_chat_response(chat_body, strlen(chat_body), &o, NULL, &err);
		if (!a)
			CHECK(err.status == MAAS_ERR_NOMEM);
		arena_fail_after(k);
		b = maas_openai_embeddings_response(emb_body, strlen(emb_body), 2, &d, NULL, &err) != NULL;
		if (!b)
			CHECK(err.status == MAAS_ERR_NOMEM);
		arena_fail_after(k);
		c = maas_kserve_infer_response(inf_body, strlen(inf_body), NULL, 2, 1, out, NULL, &err);
		if (!c)
			CHECK(err.status == MAAS_ERR_NOMEM);
		arena_fail_after(k);
		e = maas_kserve_metadata_parse(meta_body, strlen(meta_body), &m, &err);
		if (!e)
			CHECK(err.status == MAAS_ERR_NOMEM);
		arena_fail_after(-1);
		if (a && b && c && e)
		{
			ok_at = (int) k;
			break;
		}
	}
	CHECK(ok_at > 0);
}

/* ---- fuzzing seeds ---- */

static const struct
{
	uint8_t		parser;			/* as fuzz_remote reads the first 3 bytes */
	uint8_t		n;
	uint8_t		width;
	const char *body;
}			seeds[] = {
	{0, 1, 0, "{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"hi\"},"
	 " \"finish_reason\": \"stop\"}], \"usage\": {\"prompt_tokens\": 1, \"completion_tokens\": 2}}"},
	{1, 2, 0, "{\"choices\": [{\"index\": 1, \"text\": \"b\"}, {\"index\": 0, \"text\": \"a\", \"finish_reason\": \"length\"}]}"},
	{2, 2, 3, "{\"data\": [{\"index\": 1, \"embedding\": [0.5, -1, 3e-3]}, {\"index\": 0, \"embedding\": [1, 2, 3]}]}"},
	{3, 2, 2, "{\"outputs\": [{\"name\": \"p\", \"datatype\": \"FP32\", \"shape\": [2, 2], \"data\": [0.25, 0.75, 1, 0]}]}"},
	{3, 2, 2, "{\"outputs\": [{\"name\": \"p\", \"datatype\": \"FP64\", \"shape\": [2, 2], \"data\": [[0.5, 0.5], [1, 0]]}]}"},
	{4, 1, 2, "{\"name\": \"m\", \"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 2]}],"
	 " \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [-1, 2]}]}"},
	{0, 1, 0, "{\"error\": {\"message\": \"rate limited\"}}"},
};

static int
write_corpus(const char *dir)
{
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
	{
		char		path[1024];
		FILE	   *f;

		snprintf(path, sizeof(path), "%s/seed_%02zu", dir, i);
		f = fopen(path, "wb");
		if (f == NULL)
			return 1;
		fputc(seeds[i].parser, f);
		fputc(seeds[i].n, f);
		fputc(seeds[i].width, f);
		fputs(seeds[i].body, f);
		fclose(f);
	}
	return 0;
}

static int
write_dict(const char *path)
{
	static const char *const words[] = {
		"choices", "message", "content", "finish_reason", "usage", "prompt_tokens",
		"completion_tokens", "index", "text", "data", "embedding", "outputs", "name",
		"datatype", "shape", "FP32", "FP64", "INT64", "BOOL", "BYTES", "inputs", "error",
		"refusal", "null", "true", "false", "1e999", "-1", "[]", "{}", "\\u0000",
	};
	FILE	   *f = fopen(path, "w");

	if (f == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
	{
		fputc('"', f);
		for (const char *c = words[i]; *c; c++)
		{
			if (*c == '"' || *c == '\\')
				fputc('\\', f);
			fputc(*c, f);
		}
		fputs("\"\n", f);
	}
	fclose(f);
	return 0;
}

/* the seeds parse as their parser expects */
static void
test_seeds(void)
{
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
	{
		const char *b = seeds[i].body;
		size_t		len = strlen(b);
		MaasRemoteGenOutput o[4];
		MaasKserveMeta m;
		float		out[16];
		int			d = seeds[i].width;
		bool		ok = false;

		switch (seeds[i].parser)
		{
			case 0:
				ok = maas_openai_chat_response(b, len, o, NULL, &err);
				break;
			case 1:
				ok = maas_openai_completions_response(b, len, seeds[i].n, o, NULL, &err);
				break;
			case 2:
				ok = maas_openai_embeddings_response(b, len, seeds[i].n, &d, NULL, &err) != NULL;
				break;
			case 3:
				ok = maas_kserve_infer_response(b, len, NULL, seeds[i].n, seeds[i].width, out, NULL, &err);
				break;
			case 4:
				ok = maas_kserve_metadata_parse(b, len, &m, &err) &&
					maas_kserve_metadata_check(&m, seeds[i].width, NULL, seeds[i].width, &err);
				break;
		}
		/* the last seed is an error response on purpose */
		CHECK(ok == (i + 1 < sizeof(seeds) / sizeof(seeds[0])));
	}
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
		return write_corpus(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--dict") == 0)
		return write_dict(argv[2]);

	UNIT_RUN(test_urls);
	UNIT_RUN(test_openai_requests);
	UNIT_RUN(test_chat_response);
	UNIT_RUN(test_completions_response);
	UNIT_RUN(test_embeddings_response);
	UNIT_RUN(test_kserve_request);
	UNIT_RUN(test_kserve_response);
	UNIT_RUN(test_kserve_metadata);
	UNIT_RUN(test_out_of_memory);
	UNIT_RUN(test_seeds);
	return unit_finish("remote");
}
