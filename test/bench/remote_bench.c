/*
 * remote_bench.c
 *		The C side of the remote-scoring benchmark: maas's HTTP client and
 *		KServe v2 protocol kernels scoring rows in batches against the test
 *		server (test/remote/server.py, model fraud30), the same rows and
 *		batches as remote_client.py; then the per-request overhead of the
 *		client over a raw round trip on a plain socket (the same request
 *		bytes, keep-alive, read to Content-Length), the two alternating
 *		request by request, as medians.
 *
 *	remote_bench PORT [ROWS [BATCH]]
 *
 * Linked with the kernel sources and test/unit/arena.c (maas_kalloc).
 */
#define _GNU_SOURCE				/* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "remote_proto.h"
#include "unit.h"

#define FEATURES 30

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
die(const char *what, const MaasError *err)
{
	fprintf(stderr, "%s: %s\n", what, err != NULL ? err->msg : "");
	exit(1);
}

/* one scored batch through the maas client: request, POST, parse */
static void
score(MaasHttp *h, const char *url, const MaasHttpOptions *opt, const float *x, int n, float *out)
{
	MaasBuf		b;
	MaasHttpResult res;
	MaasError	err;

	if (!maas_kserve_infer_request(&b, "input-0", n, FEATURES, x, &err))
		die("request", &err);
	if (!maas_http_post_json(h, url, b.data, b.len, opt, &res, &err))
		die("post", &err);
	if (!maas_kserve_infer_response(res.body, res.len, "probabilities", n, 2, out, NULL, &err))
		die("response", &err);
}

/* a raw keep-alive round trip: write the request, read headers and body */
static int raw_fd = -1;

static void
raw_round_trip(int port, const char *body, size_t len)
{
	static char resp[1 << 20];
	char		head[256];
	size_t		got = 0;
	char	   *end = NULL;
	long		clen = -1;
	int			hl;

	if (raw_fd < 0)
	{
		struct sockaddr_in a;
		int			one = 1;

		raw_fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t) port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(raw_fd, (struct sockaddr *) &a, sizeof(a)) != 0)
			die("raw connect", NULL);
		setsockopt(raw_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	hl = snprintf(head, sizeof(head),
				  "POST /v2/models/fraud30/infer HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				  "Content-Type: application/json\r\nAccept: application/json\r\n"
				  "Content-Length: %zu\r\n\r\n", port, len);
	if (write(raw_fd, head, (size_t) hl) != hl || write(raw_fd, body, len) != (ssize_t) len)
		die("raw write", NULL);
	for (;;)
	{
		ssize_t		r = read(raw_fd, resp + got, sizeof(resp) - 1 - got);

		if (r <= 0)
			die("raw read", NULL);
		got += (size_t) r;
		resp[got] = '\0';
		if (end == NULL && (end = strstr(resp, "\r\n\r\n")) != NULL)
		{
			char	   *cl = strcasestr(resp, "\r\nContent-Length:");

			if (cl == NULL || cl > end)
				die("raw: no Content-Length", NULL);
			clen = strtol(cl + 17, NULL, 10);
		}
		if (end != NULL && got >= (size_t) (end + 4 - resp) + (size_t) clen)
			break;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int			port = argc > 1 ? atoi(argv[1]) : 0;
	int			n = argc > 2 ? atoi(argv[2]) : 10000;
	int			batch = argc > 3 ? atoi(argv[3]) : 100;
	float	   *x = malloc(sizeof(float) * (size_t) n * FEATURES);
	float	   *out = malloc(sizeof(float) * (size_t) batch * 2);
	MaasAllowList allow;
	MaasHttpOptions opt;
	MaasError	err;
	MaasHttp   *h;
	char		url[128];
	char		allowed[64];
	double		t;
	enum
	{
		k = 1000
	};
	static double t_maas[k];
	static double t_raw[k];
	MaasBuf		one;

	if (port <= 0 || n <= 0 || batch <= 0)
	{
		fprintf(stderr, "usage: remote_bench PORT [ROWS [BATCH]]\n");
		return 2;
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < FEATURES; j++)
			x[i * FEATURES + j] = (float) (((i * 31 + j * 17) % 101) / 50.0 - 1.0);
	snprintf(allowed, sizeof(allowed), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/models/fraud30/infer", port);
	if (!maas_allowlist_parse(allowed, &allow, &err))
		die("allow-list", &err);
	maas_http_options_init(&opt, &allow);
	opt.max_retries = 0;
	if ((h = maas_http_new(&err)) == NULL)
		die("client", &err);

	score(h, url, &opt, x, batch, out);	/* warm up, and connect */
	t = now_s();
	for (int i = 0; i < n; i += batch)
	{
		int			m = n - i < batch ? n - i : batch;

		score(h, url, &opt, x + (size_t) i * FEATURES, m, out);
		arena_reset();
	}
	printf("maas rows/s %.0f\n", n / (now_s() - t));

	/*
	 * One row a request: through maas, and the same bytes raw, alternating,
	 * so both see the same load; medians of each.
	 */
	if (!maas_kserve_infer_request(&one, "input-0", 1, FEATURES, x, &err))
		die("request", &err);
	raw_round_trip(port, one.data, one.len);
	for (int i = 0; i < k; i++)
	{
		t = now_s();
		score(h, url, &opt, x + (size_t) (i % n) * FEATURES, 1, out);
		arena_reset();
		t_maas[i] = now_s() - t;
		t = now_s();
		raw_round_trip(port, one.data, one.len);
		t_raw[i] = now_s() - t;
	}
	qsort(t_maas, (size_t) k, sizeof(double), cmp_double);
	qsort(t_raw, (size_t) k, sizeof(double), cmp_double);
	printf("maas per-row us %.0f\n", t_maas[k / 2] * 1e6);
	printf("raw per-row us %.0f\n", t_raw[k / 2] * 1e6);
	if (!maas_kserve_infer_request(&one, "input-0", 1, FEATURES, x, &err))
		die("request", &err);
	if (maas_http_connections(h) != 1)
		printf("note: maas opened %ld connections\n", maas_http_connections(h));
	maas_http_free(h);
	return 0;
}
