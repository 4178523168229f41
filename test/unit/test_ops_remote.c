/*
 * test_ops_remote.c
 *		Unit tests of the remote op (src/kernel/ops_remote.c): its config
 *		through the net builder, and forward passes against the local
 *		KServe v2 server of test/remote/server.py, started on 127.0.0.1.
 *
 * The server's "linear" model computes 0.5 x0 - 1.25 x1 + 2 x2 + 0.25, and
 * its "logistic" model [1 - p, p]; the tests compare every output with
 * those, count the requests a batch makes in the server's log, and have
 * the server misbehave (through its /q/PARAMS/ path prefix) to see each
 * failure reported with what happened.
 */
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "net_build.h"
#include "ops_remote.h"
#include "safetensors.h"
#include "sha256.h"
#include "unit.h"

#define SECRET "sk-op-test-7d1f0a9b"

static pid_t server_pid = -1;
static int	port;
static const char *log_path = "build/ops_remote_server.log";
static MaasBlas *blas_unused = NULL;
static StFile empty;
static MaasError err;
static int	key_counter = 0;

static bool
start_server(void)
{
	const char *dir = getenv("MAAS_TEST_REMOTE");
	const char *py = getenv("MAAS_TEST_PYTHON");
	char		script[512];
	char		line[64];
	size_t		got = 0;
	int			fds[2];
	struct pollfd pfd;

	snprintf(script, sizeof(script), "%s/server.py", dir ? dir : "../remote");
	if (py == NULL)
		py = "/usr/bin/python3";
	unlink(log_path);
	if (pipe(fds) != 0 || (server_pid = fork()) < 0)
		return false;
	if (server_pid == 0)
	{
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		setenv("MAAS_TEST_AUTH", SECRET, 1);
		execl(py, py, script, "--log", log_path, (char *) NULL);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	line[0] = '\0';
	while (got < sizeof(line) - 1 && memchr(line, '\n', got) == NULL)
	{
		ssize_t		n;

		if (poll(&pfd, 1, 15000) <= 0 ||
			(n = read(fds[0], line + got, sizeof(line) - 1 - got)) <= 0)
			break;
		got += (size_t) n;
		line[got] = '\0';
	}
	close(fds[0]);
	return sscanf(line, "PORT %d", &port) == 1;
}

static const char *
fmt(const char *f,...)
__attribute__((format(printf, 1, 2)));

static const char *
fmt(const char *f,...)
{
	static char bufs[8][2048];
	static int	next = 0;
	char	   *b = bufs[next++ % 8];
	va_list		ap;

	va_start(ap, f);
	vsnprintf(b, 2048, f, ap);
	va_end(ap);
	return b;
}

/* a fresh key, so a test finds its own requests in the log (kernel memory:
 * fmt's buffers are reused) */
static const char *
new_key(void)
{
	char	   *k = maas_kalloc(32);

	snprintf(k, 32, "op%d_%d_", (int) getpid(), ++key_counter);
	return k;
}

/* requests in the server's log whose line contains what */
static int
logged(const char *what, const char *also)
{
	FILE	   *f = fopen(log_path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	int			n = 0;

	if (f == NULL)
		return -1;
	while (getline(&line, &cap, f) > 0)
		if (strstr(line, what) != NULL && (also == NULL || strstr(line, also) != NULL))
			n++;
	free(line);
	fclose(f);
	return n;
}

/* build a net from config text; false with err set */
static bool
build(MaasNet *net, const char *config)
{
	MaasJson   *tree = maas_json_parse(config, strlen(config), 0, NULL, &err);

	if (tree == NULL)
		return false;
	return maas_net_build(net, tree, &empty, true, &err);
}

static const char *
remote_config(int n_features, const char *extra)
{
	return fmt("{\"n_features\": %d, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
			   "\"url\": \"http://127.0.0.1:%d\", %s}]}", n_features, port, extra);
}

static MaasAllowList allow;
static volatile sig_atomic_t cancel_flag = 0;
static MaasHttp *http;

/* kernel memory of a test's own: the arena is reset after each test */
static void
setup(void)
{
	uint8_t    *bytes;
	size_t		len;

	bytes = st_write(NULL, 0, NULL, NULL, 0, &len, &err);
	if (bytes == NULL || !st_parse(bytes, len, &empty, &err) ||
		!maas_allowlist_parse(fmt("127.0.0.1:%d", port), &allow, &err))
		unit_fail(__FILE__, __LINE__, err.msg);
}

static void
env_init(MaasRemoteEnv *env)
{
	memset(env, 0, sizeof(*env));
	env->http = http;
	maas_http_options_init(&env->options, &allow);
	env->options.backoff_initial_ms = 20;
	env->options.backoff_max_ms = 50;
	env->options.cancel[0] = &cancel_flag;
}

static double
linear(const float *x)
{
	return 0.5 * x[0] - 1.25 * x[1] + 2.0 * x[2] + 0.25;
}

static const float *
run(const MaasNet *net, MaasRemoteEnv *env, int n, const float *x)
{
	MaasBatch	batch = {.n = n, .t = 1, .x = x, .remote = env};
	size_t		nwork;
	float	   *work;

	if (!maas_net_workspace(net, n, 1, &nwork) ||
		(work = maas_kalloc_array(nwork, sizeof(float))) == NULL)
		return NULL;
	return maas_net_run(net, blas_unused, &batch, 0, work, &err);
}

/* ---- config ---- */

static void
test_config(void)
{
	MaasNet		net;
	const MaasRemoteEndpoint *e;

	setup();

	CHECK(build(&net, remote_config(3, "\"model\": \"linear\"")));
	CHECK(net.n_out == 1 && net.n_in == 3);
	e = maas_net_remote(&net);
	CHECK(e != NULL);
	CHECK(e != NULL && e->batch_size == 100 && e->n_outputs == 1 && e->max_retries == -1);
	CHECK(e != NULL && strcmp(e->call_url, fmt("http://127.0.0.1:%d/v2/models/linear/infer", port)) == 0);
	CHECK(e != NULL && strcmp(e->input_name, "input-0") == 0 && e->output_name == NULL);
	CHECK(maas_net_value_op(&net, 1) == MAAS_OP_REMOTE);
	CHECK(strcmp(maas_op_name(MAAS_OP_REMOTE), "remote") == 0);

	/* a remote layer followed by local ones: outputs of the right width */
	CHECK(build(&net, fmt("{\"n_features\": 4, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
						  "\"url\": \"http://h\", \"model\": \"m\", \"n_outputs\": 3, \"batch_size\": 7, "
						  "\"timeout_ms\": 500, \"max_retries\": 0, \"secret\": \"k\", \"auth_header\": \"api-key\"}, "
						  "{\"op\": \"softmax\"}]}")));
	CHECK(net.n_out == 3);
	e = maas_net_remote(&net);
	CHECK(e != NULL && e->batch_size == 7 && e->timeout_ms == 500 && e->max_retries == 0);
	CHECK(e != NULL && strcmp(e->secret, "k") == 0 && strcmp(e->auth_header, "api-key") == 0);

	/* a local net has no remote layer */
	{
		MaasNet		local;

		memset(&local, 0, sizeof(local));
		CHECK(maas_net_remote(&local) == NULL);
	}
}

static void
test_config_errors(void)
{
	MaasNet		net;

	setup();

	CHECK_ERR(build(&net, remote_config(3, "\"protocol2\": 1")), err.msg,
			  "Layer 1 (remote) has unknown key \"protocol2\".");
	CHECK_ERR(build(&net, "{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"url\": \"http://h\", \"model\": \"m\"}]}"),
			  err.msg, "Layer 1 (remote): the endpoint has no \"protocol\".");
	CHECK_ERR(build(&net, "{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"grpc\", \"url\": \"http://h\", \"model\": \"m\"}]}"),
			  err.msg, "\"protocol\" must be \"kserve-v2\" or \"openai\", not \"grpc\".");
	CHECK_ERR(build(&net, "{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"openai\", \"url\": \"http://h\", \"model\": \"m\"}]}"),
			  err.msg, "serves text, not feature rows");
	CHECK_ERR(build(&net, "{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", \"model\": \"m\"}]}"),
			  err.msg, "Layer 1 (remote): the endpoint has no \"url\".");
	CHECK_ERR(build(&net, remote_config(3, "\"model\": \"linear\", \"n_outputs\": 0")), err.msg,
			  "\"n_outputs\" must be a whole number between 1 and 1000000.");
	CHECK_ERR(build(&net, remote_config(3, "\"model\": \"linear\", \"batch_size\": 100001")), err.msg,
			  "\"batch_size\" must be a whole number between 1 and 100000.");
	CHECK_ERR(build(&net, remote_config(3, "\"model\": \"linear\", \"timeout_ms\": 0")), err.msg,
			  "\"timeout_ms\" must be a whole number between 1 and 86400000.");
	CHECK_ERR(build(&net, remote_config(3, "\"model\": \"linear\", \"max_retries\": -1")), err.msg,
			  "\"max_retries\" must be a whole number between 0 and 100.");
	CHECK_ERR(build(&net, remote_config(3, "\"model\": \"linear\", \"secret\": \"a b\"")), err.msg,
			  "\"secret\" must be the name of a secret");
	CHECK_ERR(build(&net, remote_config(3, "\"model\": \"linear\", \"secret\": \"k\", \"auth_header\": \"Bad: x\"")),
			  err.msg, "\"auth_header\" must be the name of an HTTP header.");
	CHECK_ERR(build(&net, remote_config(3, "\"model\": \"linear\", \"auth_header\": \"api-key\"")), err.msg,
			  "but there is no \"secret\"");
	CHECK_ERR(build(&net, remote_config(3, "\"model\": \"\"")), err.msg,
			  "a KServe model name must be 1 to 256 bytes");
	CHECK_ERR(build(&net, "{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", \"url\": \"http://h/?x=1\", \"model\": \"m\"}]}"),
			  err.msg, "the base URL must not have a query or a fragment");
	CHECK_ERR(build(&net, remote_config(3, "\"model\": \"linear\", \"input_name\": \"\"")), err.msg,
			  "\"input_name\" must be 1 to 256 bytes.");
	CHECK_ERR(build(&net, remote_config(3, "\"model\": 5")), err.msg, "\"model\" must be a string.");
}

/* ---- forward passes ---- */

static void
test_forward_batches(void)
{
	MaasNet		net;
	MaasRemoteEnv env;
	float		x[250 * 3];
	const float *y;
	const char *key = new_key();
	int			before = logged("\"path\": \"/v2/models/linear/infer\"", NULL);

	setup();

	for (int i = 0; i < 250 * 3; i++)
		x[i] = (float) ((i * 37) % 101) / 25.0f - 2.0f;
	CHECK(build(&net, fmt("{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
						  "\"url\": \"http://127.0.0.1:%d/q/key=%s\", \"model\": \"linear\", \"batch_size\": 100}]}",
						  port, key)));
	env_init(&env);
	y = run(&net, &env, 250, x);
	CHECK(y != NULL);
	if (y == NULL)
	{
		fprintf(stderr, "    %s\n", err.msg);
		return;
	}
	for (int r = 0; r < 250; r++)
		CHECK(fabs(y[r] - linear(x + r * 3)) < 1e-5);
	/* 250 rows in requests of 100: three requests, on one connection */
	CHECK(env.requests == 3 && env.attempts == 3);
	CHECK(env.reused >= 2);
	CHECK(logged(key, NULL) == 3);
	CHECK(logged("\"path\": \"/v2/models/linear/infer\"", NULL) == before + 3);
	CHECK(maas_http_connections(http) <= 1 + 1);

	/* one row a call: one request each, on the kept connection */
	for (int r = 0; r < 5; r++)
	{
		y = run(&net, &env, 1, x + r * 3);
		CHECK(y != NULL && fabs(y[0] - linear(x + r * 3)) < 1e-5);
	}
	CHECK(env.requests == 8 && env.reused >= 7);
	CHECK(logged(key, NULL) == 8);
}

static void
test_forward_classifier_and_secret(void)
{
	MaasNet		net;
	MaasRemoteEnv env;
	MaasRemoteSecret secret = {"k1", SECRET};
	MaasRemoteSecret wrong = {"k1", "sk-not-it"};
	float		x[2 * 4] = {0.5f, -1, 2, 0.25f, -3, 1, 0, 0.5f};
	const float *y;
	const char *key = new_key();

	setup();

	CHECK(build(&net, fmt("{\"n_features\": 4, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
						  "\"url\": \"http://127.0.0.1:%d/q/key=%s\", \"model\": \"logistic\", \"n_outputs\": 2, "
						  "\"output\": \"probabilities\", \"secret\": \"k1\"}]}", port, key)));
	env_init(&env);

	/* without the secret's value, no request goes out */
	y = run(&net, &env, 2, x);
	CHECK_ERR(y != NULL, err.msg, "secret \"k1\" was not given");
	CHECK(logged(key, NULL) == 0);

	env.n_secrets = 1;
	env.secrets = &secret;
	y = run(&net, &env, 2, x);
	CHECK(y != NULL);
	for (int r = 0; y != NULL && r < 2; r++)
	{
		const float *v = x + r * 4;
		double		z = v[0] - 2 * v[1] + 0.5 * v[2] + 3 * v[3] - 0.5;
		double		p = 1 / (1 + exp(-z));

		CHECK(fabs(y[r * 2] - (1 - p)) < 1e-6 && fabs(y[r * 2 + 1] - p) < 1e-6);
	}
	CHECK(logged(key, "\"auth\": \"ok\"") == 1);

	env.secrets = &wrong;
	CHECK(run(&net, &env, 2, x) != NULL);
	CHECK(logged(key, "\"auth\": \"wrong\"") == 1);
}

static void
test_forward_failures(void)
{
	MaasNet		net;
	MaasRemoteEnv env;
	float		x[3] = {1, 2, 3};
	const float *y;

	setup();

	env_init(&env);

	/* bad answers: the server answered, but not as asked */
	{
		static const struct
		{
			const char *bad;
			const char *msg;
		}			cases[] = {
			{"shape", "shape"},
			{"count", "values"},
			{"type", "is not a number"},
			{"nonfinite", "finite"},
			{"missing", "data"},
			{"nooutputs", "output"},
			{"datatype", "datatype"},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		{
			CHECK(build(&net, fmt("{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
								  "\"url\": \"http://127.0.0.1:%d/q/bad=%s\", \"model\": \"linear\"}]}",
								  port, cases[i].bad)));
			y = run(&net, &env, 1, x);
			CHECK(y == NULL && strstr(err.msg, cases[i].msg) != NULL);
			if (y != NULL || strstr(err.msg, cases[i].msg) == NULL)
				fprintf(stderr, "    bad=%s: %s\n", cases[i].bad, y ? "success" : err.msg);
			CHECK(env.bad_response && env.fail == MAAS_HTTP_OK && env.http_status == 200);
			CHECK(err.status == MAAS_ERR_INVALID);
		}
	}

	/* an error status, not retried: what the server said */
	CHECK(build(&net, fmt("{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
						  "\"url\": \"http://127.0.0.1:%d/q/status=400&msg=no+such+input\", \"model\": \"linear\"}]}",
						  port)));
	y = run(&net, &env, 1, x);
	CHECK_ERR(y != NULL, err.msg, "no such input");
	CHECK(!env.bad_response && env.fail == MAAS_HTTP_STATUS && env.http_status == 400);
	CHECK(err.status == MAAS_ERR_IO);

	/* retried 503s: two failures, then an answer */
	{
		const char *key = new_key();

		CHECK(build(&net, fmt("{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
							  "\"url\": \"http://127.0.0.1:%d/q/status=503&times=2&key=%s\", \"model\": \"linear\", "
							  "\"max_retries\": 3}]}", port, key)));
		env.attempts = 0;
		y = run(&net, &env, 1, x);
		CHECK(y != NULL && fabs(y[0] - linear(x)) < 1e-5);
		CHECK(env.attempts == 3);
		CHECK(logged(key, NULL) == 3);

		/* and with retries off, the first 503 is the answer */
		key = new_key();
		CHECK(build(&net, fmt("{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
							  "\"url\": \"http://127.0.0.1:%d/q/status=503&times=2&key=%s\", \"model\": \"linear\", "
							  "\"max_retries\": 0}]}", port, key)));
		y = run(&net, &env, 1, x);
		CHECK(y == NULL && env.fail == MAAS_HTTP_STATUS && env.http_status == 503);
		CHECK(logged(key, NULL) == 1);
	}

	/* the endpoint's timeout */
	CHECK(build(&net, fmt("{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
						  "\"url\": \"http://127.0.0.1:%d/q/sleep=2\", \"model\": \"linear\", "
						  "\"timeout_ms\": 300, \"max_retries\": 0}]}", port)));
	y = run(&net, &env, 1, x);
	CHECK_ERR(y != NULL, err.msg, "timed out after 300 ms");
	CHECK(env.fail == MAAS_HTTP_TIMEOUT);

	/* a host the list does not have: refused before connecting */
	CHECK(build(&net, "{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
				"\"url\": \"http://10.1.2.3:8080\", \"model\": \"linear\"}]}"));
	y = run(&net, &env, 1, x);
	CHECK_ERR(y != NULL, err.msg, "is not in the allowed hosts");
	CHECK(env.fail == MAAS_HTTP_REFUSED);

	/* cancel */
	CHECK(build(&net, fmt("{\"n_features\": 3, \"layers\": [{\"op\": \"remote\", \"protocol\": \"kserve-v2\", "
						  "\"url\": \"http://127.0.0.1:%d/q/sleep=3\", \"model\": \"linear\"}]}", port)));
	cancel_flag = 1;
	y = run(&net, &env, 1, x);
	cancel_flag = 0;
	CHECK(y == NULL && err.status == MAAS_ERR_CANCELED && env.fail == MAAS_HTTP_CANCELED);

	/* without the server's environment a remote layer cannot run */
	CHECK(build(&net, remote_config(3, "\"model\": \"linear\"")));
	y = run(&net, NULL, 1, x);
	CHECK_ERR(y != NULL, err.msg, "a remote model can only be called by the server");
}

static void
test_auth_line(void)
{
	MaasNet		net;
	MaasRemoteEnv env;
	MaasRemoteSecret s = {"key.1", "abc"};
	char		line[MAAS_REMOTE_HEADER_MAX];
	char	   *long_value = maas_kalloc(MAAS_REMOTE_SECRET_MAX + 2);
	MaasHttpOptions opt;

	setup();

	env_init(&env);
	env.n_secrets = 1;
	env.secrets = &s;
	CHECK(build(&net, remote_config(3, "\"model\": \"m\", \"secret\": \"key.1\"")));
	CHECK(maas_remote_auth_line(maas_net_remote(&net), &env, line, &err));
	CHECK(strcmp(line, "Authorization: Bearer abc") == 0);
	maas_remote_options(maas_net_remote(&net), &env, line, &opt);
	CHECK(opt.auth_header == line && opt.timeout_ms == env.options.timeout_ms);

	CHECK(build(&net, remote_config(3, "\"model\": \"m\", \"secret\": \"key.1\", \"auth_header\": \"x-api-key\", "
									"\"timeout_ms\": 1234, \"connect_timeout_ms\": 55, \"max_retries\": 7")));
	CHECK(maas_remote_auth_line(maas_net_remote(&net), &env, line, &err));
	CHECK(strcmp(line, "x-api-key: abc") == 0);
	maas_remote_options(maas_net_remote(&net), &env, line, &opt);
	CHECK(opt.timeout_ms == 1234 && opt.connect_timeout_ms == 55 && opt.max_retries == 7);
	CHECK(opt.max_redirects == 0);

	memset(long_value, 'a', MAAS_REMOTE_SECRET_MAX + 1);
	long_value[MAAS_REMOTE_SECRET_MAX + 1] = '\0';
	s.value = long_value;
	CHECK_ERR(maas_remote_auth_line(maas_net_remote(&net), &env, line, &err), err.msg,
			  "is longer than 4096 bytes");

	/* no secret: no header */
	CHECK(build(&net, remote_config(3, "\"model\": \"m\"")));
	CHECK(maas_remote_auth_line(maas_net_remote(&net), &env, line, &err) && line[0] == '\0');
	maas_remote_options(maas_net_remote(&net), &env, line, &opt);
	CHECK(opt.auth_header == NULL);
}

/* ---- text endpoints: OpenAI-compatible ---- */

static MaasRemoteEndpoint *
text_endpoint(const char *json, bool embedding)
{
	MaasJson   *obj = maas_json_parse(json, strlen(json), 0, NULL, &err);

	return obj ? maas_remote_text_endpoint(obj, embedding, &err) : NULL;
}

static void
test_text_endpoints(void)
{
	MaasRemoteEndpoint *e;

	setup();
	e = text_endpoint("{\"protocol\": \"openai\", \"url\": \"https://api.example.com/v1/\", \"model\": \"gpt-x\"}", false);
	CHECK(e != NULL && e->api == MAAS_REMOTE_API_CHAT);
	CHECK(e != NULL && strcmp(e->call_url, "https://api.example.com/v1/chat/completions") == 0);
	e = text_endpoint("{\"protocol\": \"openai\", \"url\": \"http://h/v1\", \"model\": \"m\", \"api\": \"completions\", \"batch_size\": 8}", false);
	CHECK(e != NULL && e->api == MAAS_REMOTE_API_COMPLETIONS && e->batch_size == 8);
	CHECK(e != NULL && strcmp(e->call_url, "http://h/v1/completions") == 0);
	e = text_endpoint("{\"protocol\": \"openai\", \"url\": \"http://h/v1\", \"model\": \"m\", \"dimensions\": 16, \"secret\": \"k\"}", true);
	CHECK(e != NULL && e->api == MAAS_REMOTE_API_EMBEDDINGS && e->dimensions == 16);
	CHECK(e != NULL && strcmp(e->call_url, "http://h/v1/embeddings") == 0);

	CHECK_ERR(text_endpoint("{\"protocol\": \"kserve-v2\", \"url\": \"http://h\", \"model\": \"m\"}", false) != NULL,
			  err.msg, "a text model's endpoint must be \"openai\", not \"kserve-v2\"");
	CHECK_ERR(text_endpoint("{\"protocol\": \"openai\", \"url\": \"http://h\", \"model\": \"m\", \"api\": \"embeddings\"}", false) != NULL,
			  err.msg, "a generation model's \"api\" must be \"chat\" or \"completions\"");
	CHECK_ERR(text_endpoint("{\"protocol\": \"openai\", \"url\": \"http://h\", \"model\": \"m\", \"api\": \"chat\"}", true) != NULL,
			  err.msg, "an embedding model's \"api\" must be \"embeddings\"");
	CHECK_ERR(text_endpoint("{\"protocol\": \"openai\", \"url\": \"http://h\", \"model\": \"m\", \"api\": \"edits\"}", false) != NULL,
			  err.msg, "\"api\" must be \"chat\", \"completions\" or \"embeddings\", not \"edits\"");
	CHECK_ERR(text_endpoint("{\"protocol\": \"openai\", \"url\": \"http://h\", \"model\": \"m\", \"api\": \"completions\", \"system\": \"x\"}", false) != NULL,
			  err.msg, "\"system\" is a message of the \"chat\" api");
	CHECK_ERR(text_endpoint("{\"protocol\": \"openai\", \"url\": \"http://h\", \"model\": \"m\", \"dimensions\": 8}", false) != NULL,
			  err.msg, "\"dimensions\" is a key of the \"embeddings\" api");
	CHECK_ERR(text_endpoint("{\"protocol\": \"openai\", \"url\": \"http://h\", \"model\": \"m\", \"n_outputs\": 2}", false) != NULL,
			  err.msg, "the endpoint has unknown key \"n_outputs\"");
	CHECK_ERR(text_endpoint("{\"protocol\": \"openai\", \"url\": \"http://h\"}", false) != NULL,
			  err.msg, "the endpoint has no \"model\"");
	CHECK_ERR(text_endpoint("{\"protocol\": \"openai\", \"url\": \"http://h?x\", \"model\": \"m\"}", false) != NULL,
			  err.msg, "the base URL must not have a query or a fragment");
	CHECK_ERR(text_endpoint("[1]", false) != NULL, err.msg, "the endpoint must be a JSON object");
}

static const char *
openai(const char *path_params, const char *extra)
{
	return fmt("{\"protocol\": \"openai\", \"url\": \"http://127.0.0.1:%d%s/v1\", \"model\": \"m\"%s%s}",
			   port, path_params, extra[0] ? ", " : "", extra);
}

static void
test_generate(void)
{
	MaasRemoteEndpoint *e;
	MaasRemoteEnv env;
	MaasRemoteGenParams p = {0, NAN};
	MaasRemoteGenOutput outs[5];
	const char *prompts[5] = {"one", "two", "three", "f\xc3\xbcnf", "five"};
	const char *key = new_key();

	setup();
	env_init(&env);
	/* chat: one request a prompt, after the system message */
	e = text_endpoint(openai(fmt("/q/key=%s", key), "\"system\": \"be brief\""), false);
	CHECK(e != NULL);
	CHECK(maas_remote_generate(e, &env, prompts, 5, &p, outs, &err));
	for (int i = 0; i < 5; i++)
		CHECK(strcmp(outs[i].text, fmt("echo: %s", prompts[i])) == 0);
	CHECK(strcmp(outs[3].finish_reason, "stop") == 0 && outs[3].prompt_tokens == 2);
	CHECK(logged(key, "/v1/chat/completions") == 5);
	/* max_tokens cuts the echo */
	p.max_tokens = 4;
	CHECK(maas_remote_generate(e, &env, prompts, 1, &p, outs, &err));
	CHECK(strcmp(outs[0].text, "echo") == 0 && strcmp(outs[0].finish_reason, "length") == 0);
	p.max_tokens = 0;

	/* completions: batch_size prompts a request, answers by index */
	key = new_key();
	e = text_endpoint(openai(fmt("/q/key=%s&bad=order", key), "\"api\": \"completions\", \"batch_size\": 2"), false);
	CHECK(maas_remote_generate(e, &env, prompts, 5, &p, outs, &err));
	for (int i = 0; i < 5; i++)
		CHECK(strcmp(outs[i].text, fmt("echo: %s", prompts[i])) == 0);
	CHECK(logged(key, "/v1/completions") == 3);

	/* answers that are not what was asked */
	e = text_endpoint(openai("/q/bad=type", ""), false);
	CHECK_ERR(maas_remote_generate(e, &env, prompts, 1, &p, outs, &err), err.msg,
			  "\"choices[0].message.content\"");
	CHECK(env.bad_response && env.http_status == 200);
	e = text_endpoint(openai("/q/bad=count", "\"api\": \"completions\""), false);
	CHECK_ERR(maas_remote_generate(e, &env, prompts, 3, &p, outs, &err), err.msg,
			  "\"choices\" has 2 entries, not 3");
	CHECK(env.bad_response);
	e = text_endpoint(openai("/q/status=429&msg=slow+down", "\"max_retries\": 0"), false);
	CHECK_ERR(maas_remote_generate(e, &env, prompts, 1, &p, outs, &err), err.msg,
			  "answered HTTP 429: slow down");
	CHECK(!env.bad_response && env.fail == MAAS_HTTP_STATUS && env.http_status == 429);

	/* an embedding endpoint does not generate */
	e = text_endpoint(openai("", ""), true);
	CHECK_ERR(maas_remote_generate(e, &env, prompts, 1, &p, outs, &err), err.msg,
			  "the endpoint does not generate text");
	CHECK_ERR(maas_remote_generate(e, NULL, prompts, 1, &p, outs, &err), err.msg,
			  "a remote model can only be called by the server");
}

/* the test server's embedding: (sha256(t)[j % 32] - 128) / 128 */
static bool
embedding_is(const float *v, const char *t, int dims)
{
	uint8_t		h[MAAS_SHA256_LEN];

	maas_sha256(t, strlen(t), h);
	for (int j = 0; j < dims; j++)
		if (v[j] != (float) ((h[j % 32] - 128) / 128.0))
			return false;
	return true;
}

static void
test_embed(void)
{
	MaasRemoteEndpoint *e;
	MaasRemoteEnv env;
	const char *texts[7] = {"a", "bb", "ccc", "d d", "\xc3\xa9t\xc3\xa9", "f", "g"};
	const char *key = new_key();
	float	   *v;
	int			dims = 0;

	setup();
	env_init(&env);
	e = text_endpoint(openai(fmt("/q/key=%s&bad=order", key), "\"batch_size\": 3"), true);
	v = maas_remote_embed(e, &env, texts, 7, &dims, &err);
	CHECK(v != NULL && dims == 8);
	for (int i = 0; v != NULL && i < 7; i++)
		CHECK(embedding_is(v + i * 8, texts[i], 8));
	CHECK(logged(key, "/v1/embeddings") == 3);

	/* dimensions asked for, and checked in every answer */
	e = text_endpoint(openai("", "\"dimensions\": 40"), true);
	v = maas_remote_embed(e, &env, texts, 2, &dims, &err);
	CHECK(v != NULL && dims == 40 && embedding_is(v + 40, texts[1], 40));
	e = text_endpoint(openai("/q/bad=dims", "\"batch_size\": 2"), true);
	CHECK_ERR(maas_remote_embed(e, &env, texts, 3, &dims, &err) != NULL, err.msg,
			  "\"data[1].embedding\"");
	CHECK(env.bad_response);
	e = text_endpoint(openai("/q/bad=nonfinite", ""), true);
	CHECK_ERR(maas_remote_embed(e, &env, texts, 2, &dims, &err) != NULL, err.msg, "finite");
	e = text_endpoint(openai("/q/bad=index", ""), true);
	CHECK_ERR(maas_remote_embed(e, &env, texts, 2, &dims, &err) != NULL, err.msg, "index");
	e = text_endpoint(openai("", ""), true);
	CHECK_ERR(maas_remote_embed(e, &env, texts, 0, &dims, &err) != NULL, err.msg,
			  "there is no text to embed");
	e = text_endpoint(openai("", ""), false);
	CHECK_ERR(maas_remote_embed(e, &env, texts, 1, &dims, &err) != NULL, err.msg,
			  "the endpoint does not embed text");
}

int
main(void)
{
	if (!start_server())
	{
		unit_fail(__FILE__, __LINE__, "the test server started");
		return unit_finish("ops_remote");
	}
	if ((http = maas_http_new(&err)) == NULL)
	{
		unit_fail(__FILE__, __LINE__, err.msg);
		return unit_finish("ops_remote");
	}
	UNIT_RUN(test_config);
	UNIT_RUN(test_config_errors);
	UNIT_RUN(test_forward_batches);
	UNIT_RUN(test_forward_classifier_and_secret);
	UNIT_RUN(test_forward_failures);
	UNIT_RUN(test_auth_line);
	UNIT_RUN(test_text_endpoints);
	UNIT_RUN(test_generate);
	UNIT_RUN(test_embed);
	maas_http_free(http);
	kill(server_pid, SIGTERM);
	waitpid(server_pid, NULL, 0);
	curl_global_cleanup();
	return unit_finish("ops_remote");
}
