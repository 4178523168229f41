/*
 * test_http.c
 *		Unit tests of the HTTP client and its guard (src/kernel/http.c,
 *		http_guard.c), against the misbehaving local server of
 *		test/remote/server.py, which this test starts on 127.0.0.1 and stops.
 *
 * Nothing here connects anywhere but that server: the addresses of the
 * guard's matrix are refused before a socket is made, and names that must
 * resolve somewhere resolve through curl's fixed-resolution list.  The
 * server logs every request it gets (with a time stamp and a connection
 * number), so the tests count attempts and measure backoff from its side.
 * The protocol tests at the end go through client and parser together.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "json.h"
#include "remote_proto.h"
#include "sha256.h"
#include "unit.h"

#define SECRET "sk-test-secret-123456"
#define AUTH "Authorization: Bearer " SECRET

static pid_t server_pid = -1;
static pid_t tls_pid = -1;
static int	port;
static int	tls_port;
static char tls_dir[512];
static char log_path[512];
static MaasError err;
static MaasHttpResult res;
static int	key_counter = 0;

static volatile sig_atomic_t cancel_flag = 0;

/* ---- the server ---- */

/* start server.py (with TLS when tls is set), and read its port */
static bool
start_server(bool tls, pid_t *pid, int *port_out)
{
	const char *dir = getenv("MAAS_TEST_REMOTE");
	const char *py = getenv("MAAS_TEST_PYTHON");
	char		script[512];
	char		line[64];
	size_t		got = 0;
	int			fds[2];
	struct pollfd pfd;

	if (dir == NULL)
		dir = "../remote";
	if (py == NULL)
		py = "/usr/bin/python3";
	snprintf(script, sizeof(script), "%s/server.py", dir);
	snprintf(tls_dir, sizeof(tls_dir), "%s/tls", dir);
	snprintf(log_path, sizeof(log_path), "build/http_server.log");
	if (!tls)
		unlink(log_path);
	if (pipe(fds) != 0)
		return false;
	*pid = fork();
	if (*pid < 0)
		return false;
	if (*pid == 0)
	{
		prctl(PR_SET_PDEATHSIG, SIGTERM);	/* gone with the test, however it ends */
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		setenv("MAAS_TEST_AUTH", SECRET, 1);
		if (tls)
			execl(py, py, script, "--log", log_path, "--tls", tls_dir, (char *) NULL);
		else
			execl(py, py, script, "--log", log_path, (char *) NULL);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (got < sizeof(line) - 1 && memchr(line, '\n', got) == NULL)
	{
		ssize_t		n;

		if (poll(&pfd, 1, 15000) <= 0)
			break;
		n = read(fds[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t) n;
		line[got] = '\0';
	}
	close(fds[0]);
	line[got] = '\0';
	if (sscanf(line, "PORT %d", port_out) != 1)
	{
		fprintf(stderr, "the test server did not start (%s %s)\n", py, script);
		return false;
	}
	return true;
}

static void
stop_server(pid_t *pid)
{
	if (*pid > 0)
	{
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
		*pid = -1;
	}
}

/* ---- helpers ---- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
fmt(const char *f,...)
__attribute__((format(printf, 1, 2)));

static const char *
fmt(const char *f,...)
{
	static char bufs[8][4096];
	static int	next = 0;
	char	   *b = bufs[next++ % 8];
	va_list		ap;

	va_start(ap, f);
	vsnprintf(b, 4096, f, ap);
	va_end(ap);
	return b;
}

/* a fresh key, so a test finds its own requests in the log */
static const char *
new_key(void)
{
	char	   *k = maas_kalloc(32);

	snprintf(k, 32, "k%d_%d", (int) getpid(), ++key_counter);
	return k;
}

static const char *
url(const char *path_and_query)
{
	return fmt("http://127.0.0.1:%d%s", port, path_and_query);
}

static MaasAllowList *
list_of(const char *text)
{
	MaasAllowList *l = maas_kalloc(sizeof(MaasAllowList));
	MaasError	e;

	if (!maas_allowlist_parse(text, l, &e))
	{
		fprintf(stderr, "    list \"%s\": %s\n", text, e.msg);
		return NULL;
	}
	return l;
}

static MaasAllowList *
local_list(void)
{
	return list_of(fmt("127.0.0.1:%d", port));
}

/* options for the local server, with short backoff */
static void
local_options(MaasHttpOptions *opt)
{
	maas_http_options_init(opt, local_list());
	opt->backoff_initial_ms = 40;
	opt->backoff_max_ms = 200;
	opt->timeout_ms = 10000;
	opt->auth_header = AUTH;
	opt->cancel[0] = &cancel_flag;
}

static MaasHttp *
client(void)
{
	MaasHttp   *h = maas_http_new(&err);

	if (h == NULL)
		fprintf(stderr, "    maas_http_new: %s\n", err.msg);
	return h;
}

/* the logged requests whose query contains key, in order */
typedef struct Logged
{
	int			n;
	const MaasJson *req[64];
} Logged;

static Logged
logged(const char *key)
{
	Logged		l;
	FILE	   *f = fopen(log_path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;

	l.n = 0;
	if (f == NULL)
		return l;
	while ((len = getline(&line, &cap, f)) > 0)
	{
		MaasError	e;
		MaasJson   *j;
		const MaasJson *q;

		if (strstr(line, key) == NULL)
			continue;
		j = maas_json_parse(line, (size_t) len, 0, NULL, &e);
		if (j == NULL)
			continue;
		q = maas_json_get(j, "query");
		if (q == NULL || q->type != MAAS_JSON_STRING || strstr(q->u.string, key) == NULL)
			continue;
		if (l.n < 64)
			l.req[l.n++] = j;
	}
	free(line);
	fclose(f);
	return l;
}

static double
logged_time(const MaasJson *r)
{
	const MaasJson *t = maas_json_get(r, "t");

	return t != NULL ? t->u.number : -1;
}

static const char *
logged_str(const MaasJson *r, const char *name)
{
	const MaasJson *v = maas_json_get(r, name);

	return v != NULL && v->type == MAAS_JSON_STRING ? v->u.string : "";
}

static int64_t
logged_int(const MaasJson *r, const char *name)
{
	const MaasJson *v = maas_json_get(r, name);

	return v != NULL && v->integral ? v->integer : -1;
}

/* a free local port with nothing listening */
static int
dead_port(void)
{
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t	len = sizeof(a);
	int			p;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *) &a, sizeof(a));
	getsockname(fd, (struct sockaddr *) &a, &len);
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

static void
on_alarm(int sig)
{
	(void) sig;
	cancel_flag = 1;
}

/* set cancel_flag from a signal handler after ms, as a cancel would */
static void
cancel_after(int ms)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	cancel_flag = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void
no_cancel(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	cancel_flag = 0;
}

/* a failed call whose message contains fragment (which need not be a literal) */
#define CHECK_FAILS(ok, fragment) \
	do { \
		bool		ok_ = (ok); \
		if (ok_ || strstr(err.msg, (fragment)) == NULL) \
		{ \
			unit_fail(__FILE__, __LINE__, "a failure with the expected message"); \
			fprintf(stderr, "    got: %s (%s)\n    want: %s\n", ok_ ? "success" : "failure", \
					err.msg, (fragment)); \
		} \
	} while (0)

static bool
hint_has(const char *fragment)
{
	if (err.hint != NULL && strstr(err.hint, fragment) != NULL)
		return true;
	fprintf(stderr, "    hint: %s\n    lacks: %s\n", err.hint ? err.hint : "(none)", fragment);
	return false;
}

static bool
msg_has(const char *fragment)
{
	if (strstr(err.msg, fragment) != NULL)
		return true;
	fprintf(stderr, "    message: %s\n    lacks: %s\n", err.msg, fragment);
	return false;
}

/* ---- the allow-list ---- */

static void
test_allowlist_parse(void)
{
	MaasAllowList *l;

	l = list_of("  models.internal:8080 , API.Example.COM., 10.0.0.5:9000,"
				"[FD00::5]:8443, *.svc.cluster.local, [::1]\t");
	CHECK(l != NULL && l->n == 6);
	if (l == NULL)
		return;
	CHECK(l->hosts[0].kind == MAAS_HOST_NAME && l->hosts[0].port == 8080 &&
		  strcmp(l->hosts[0].host, "models.internal") == 0);
	CHECK(l->hosts[1].kind == MAAS_HOST_NAME && l->hosts[1].port == 0 &&
		  strcmp(l->hosts[1].host, "api.example.com") == 0);
	CHECK(l->hosts[2].kind == MAAS_HOST_IPV4 && l->hosts[2].port == 9000 &&
		  l->hosts[2].addr[0] == 10 && l->hosts[2].addr[3] == 5);
	CHECK(l->hosts[3].kind == MAAS_HOST_IPV6 && l->hosts[3].port == 8443 &&
		  l->hosts[3].addr[0] == 0xfd && l->hosts[3].addr[15] == 5);
	CHECK(l->hosts[4].kind == MAAS_HOST_WILDCARD &&
		  strcmp(l->hosts[4].host, ".svc.cluster.local") == 0);
	CHECK(l->hosts[5].kind == MAAS_HOST_IPV6 && l->hosts[5].addr[15] == 1);

	l = list_of("");
	CHECK(l != NULL && l->n == 0);
	l = list_of("  \t ");
	CHECK(l != NULL && l->n == 0);
	l = list_of("model_server:80");
	CHECK(l != NULL && l->n == 1);
}

static void
check_list_error(const char *text, MaasStatus status, const char *fragment)
{
	MaasAllowList l;
	bool		ok = maas_allowlist_parse(text, &l, &err);

	CHECK_FAILS(ok, fragment);
	if (!ok)
		CHECK(err.status == status);
}

static void
test_allowlist_errors(void)
{
	char		many[4096] = "";

	check_list_error("a.com,,b.com", MAAS_ERR_INVALID, "allowed hosts entry 2 is empty");
	check_list_error("a.com,", MAAS_ERR_INVALID, "allowed hosts entry 2 is empty");
	check_list_error("a.com:", MAAS_ERR_INVALID, "allowed host \"a.com:\" has an empty port");
	check_list_error("a.com:0", MAAS_ERR_INVALID,
					 "allowed host \"a.com:0\" has an invalid port: it must be a number from 1 to 65535");
	check_list_error("a.com:65536", MAAS_ERR_INVALID, "has an invalid port");
	check_list_error("a.com:99999999999999999999", MAAS_ERR_INVALID, "has an invalid port");
	check_list_error("a.com:http", MAAS_ERR_INVALID, "has an invalid port");
	check_list_error("a.com:-1", MAAS_ERR_INVALID, "has an invalid port");
	check_list_error("::1", MAAS_ERR_INVALID,
					 "allowed host \"::1\" looks like an IPv6 address: write it in brackets");
	check_list_error("[::1", MAAS_ERR_INVALID, "lacks the \"]\" closing its IPv6 address");
	check_list_error("[::1]x", MAAS_ERR_INVALID, "has text after its IPv6 address");
	check_list_error("[zz::1]", MAAS_ERR_INVALID, "is not a valid IPv6 address");
	check_list_error("[fe80::1%eth0]", MAAS_ERR_INVALID, "has a zone id");
	check_list_error("*", MAAS_ERR_INVALID,
					 "allowed host \"*\" is not a valid wildcard: write \"*.example.com\"");
	check_list_error("*:80", MAAS_ERR_INVALID, "is not a valid wildcard");
	check_list_error("foo*.com", MAAS_ERR_INVALID, "is not a valid host name");
	check_list_error("*.com", MAAS_ERR_INVALID,
					 "is too wide: a wildcard needs at least two labels");
	check_list_error("*.*.example.com", MAAS_ERR_INVALID, "is not a valid wildcard");
	check_list_error("127.1", MAAS_ERR_INVALID,
					 "allowed host \"127.1\" is not a valid IPv4 address");
	check_list_error("2130706433", MAAS_ERR_INVALID, "is not a valid IPv4 address");
	check_list_error("0x7f.0.0.1", MAAS_ERR_INVALID, "is not a valid IPv4 address");
	check_list_error("010.0.0.1", MAAS_ERR_INVALID, "is not a valid IPv4 address");
	check_list_error("1.2.3.256", MAAS_ERR_INVALID, "is not a valid IPv4 address");
	check_list_error("http://a.com", MAAS_ERR_INVALID,
					 "allowed host \"http://a.com\" is not a host: write \"host\" or \"host:port\", not a URL");
	check_list_error("user@a.com", MAAS_ERR_INVALID, "is not a host");
	check_list_error("-a.com", MAAS_ERR_INVALID, "is not a valid host name");
	check_list_error("a..com", MAAS_ERR_INVALID, "is not a valid host name");
	check_list_error("a.com b.com", MAAS_ERR_INVALID,
					 "allowed hosts entry 1 has a blank or a character that is not printable ASCII");
	check_list_error("m\xc3\xbcnchen.de", MAAS_ERR_INVALID, "not printable ASCII");
	check_list_error(":80", MAAS_ERR_INVALID, "has no host name");
	check_list_error(fmt("%0*d.com", 64, 0), MAAS_ERR_INVALID, "is not a valid host name");
	for (int i = 0; i < MAAS_ALLOW_MAX_HOSTS; i++)
		strcat(many, "a.b,");
	strcat(many, "a.b");
	check_list_error(many, MAAS_ERR_LIMIT,
					 "allowed hosts has 257 entries, more than the limit of 256");
}

/* ---- the URL check, without connecting ---- */

static void
url_ok(const MaasAllowList *l, const char *u, const char *where, bool explicit_entry)
{
	MaasUrlTarget t;
	bool		ok = maas_http_check_url(l, u, &t, &err);

	CHECK(ok);
	if (!ok)
		fprintf(stderr, "    %s: %s\n", u, err.msg);
	else
	{
		CHECK(strcmp(t.where, where) == 0);
		CHECK(t.explicit_entry == explicit_entry);
		if (strcmp(t.where, where) != 0)
			fprintf(stderr, "    %s: where \"%s\", not \"%s\"\n", u, t.where, where);
	}
}

static void
url_refused(const MaasAllowList *l, const char *u, const char *fragment)
{
	bool		ok = maas_http_check_url(l, u, NULL, &err);

	CHECK_FAILS(ok, fragment);
	if (!ok)
		CHECK(err.status == MAAS_ERR_INVALID);
	/* never the path or query, which may carry a key */
	CHECK(strstr(err.msg, "s3cr3t") == NULL);
}

static void
test_check_url(void)
{
	MaasAllowList *l = list_of("models.internal:8080, api.example.com, 10.0.0.5:9000, "
							   "[fd00::5]:8443, *.example.org, 127.0.0.1:5000");

	if (l == NULL)
		return;
	url_ok(l, "http://models.internal:8080/v2/models/x/infer", "models.internal:8080", true);
	url_ok(l, "HTTP://MODELS.Internal.:8080/", "models.internal:8080", true);
	url_ok(l, "https://api.example.com/v1/chat/completions", "api.example.com:443", true);
	url_ok(l, "http://api.example.com/", "api.example.com:80", true);
	url_ok(l, "https://api.example.com:443/", "api.example.com:443", true);
	url_ok(l, "http://10.0.0.5:9000/", "10.0.0.5:9000", true);
	url_ok(l, "http://[fd00::5]:8443/", "[fd00::5]:8443", true);
	url_ok(l, "http://[FD00:0::5]:8443/", "[fd00::5]:8443", true);
	url_ok(l, "https://a.example.org/x", "a.example.org:443", false);
	url_ok(l, "https://a.b.example.org/x", "a.b.example.org:443", false);
	/* curl's numeric IPv4 spellings are the address itself */
	url_ok(l, "http://2130706433:5000/", "127.0.0.1:5000", true);
	url_ok(l, "http://0x7f.1:5000/", "127.0.0.1:5000", true);
	url_ok(l, "http://127.1:5000/", "127.0.0.1:5000", true);
	url_ok(l, "http://%31%32%37.0.0.1:5000/", "127.0.0.1:5000", true);

	/* schemes */
	url_refused(l, "file:///etc/passwd", "URL scheme \"file\" is not allowed: only http and https are");
	url_refused(l, "gopher://models.internal:8080/_s3cr3t", "URL scheme \"gopher\" is not allowed");
	url_refused(l, "ftp://models.internal:8080/", "URL scheme \"ftp\" is not allowed");
	url_refused(l, "dict://models.internal:8080/", "URL scheme \"dict\" is not allowed");
	url_refused(l, "ldap://models.internal:8080/", "URL scheme \"ldap\" is not allowed");
	url_refused(l, "models.internal:8080/x", "URL is malformed");
	url_refused(l, "//models.internal:8080/x", "URL is malformed");
	/* credentials, zone ids, blanks */
	url_refused(l, "http://user:s3cr3t@models.internal:8080/", "URL must not contain a user name or password");
	url_refused(l, "http://user@models.internal:8080/", "URL must not contain a user name or password");
	CHECK(hint_has("Give a key as the model's secret"));
	url_refused(l, "http://models.internal:8080@127.0.0.1:5000/", "must not contain a user name");
	url_refused(l, "http://[fe80::1%25eth0]:8080/", "URL must not contain an IPv6 zone id");
	url_refused(l, "http://models.internal:8080/a b", "URL contains a blank or a control character");
	url_refused(l, "http://models.internal:8080/\r\nX: y", "URL contains a blank or a control character");
	/* hosts and ports not on the list */
	url_refused(l, "http://models.internal/", "host \"models.internal:80\" is not in the allowed hosts");
	CHECK(hint_has("in maas.remote_allowed_hosts"));
	url_refused(l, "http://models.internal:8081/?key=s3cr3t", "host \"models.internal:8081\" is not in the allowed hosts");
	url_refused(l, "https://api.example.com:8443/", "host \"api.example.com:8443\" is not in the allowed hosts");
	url_refused(l, "https://api.example.com:80/", "host \"api.example.com:80\" is not in the allowed hosts");
	url_refused(l, "https://xapi.example.com/", "host \"xapi.example.com:443\" is not in the allowed hosts");
	url_refused(l, "https://example.org/", "host \"example.org:443\" is not in the allowed hosts");
	url_refused(l, "http://127.0.0.1/", "host \"127.0.0.1:80\" is not in the allowed hosts");
	url_refused(l, "http://127.0.0.2:5000/", "host \"127.0.0.2:5000\" is not in the allowed hosts");
	url_refused(l, "http://localhost:5000/", "host \"localhost:5000\" is not in the allowed hosts");
	url_refused(l, "http://[::1]:5000/", "host \"[::1]:5000\" is not in the allowed hosts");
	url_refused(l, "http://[::ffff:127.0.0.1]:5000/", "is not in the allowed hosts");
	url_refused(l, "http://10.0.0.6:9000/", "host \"10.0.0.6:9000\" is not in the allowed hosts");
	url_refused(l, "http://169.254.169.254/latest/meta-data/", "host \"169.254.169.254:80\" is not in the allowed hosts");
	url_refused(l, "http://[fd00::6]:8443/", "is not in the allowed hosts");
	url_refused(l, "http://m\xc3\xbcnchen.example.org/", "is not a valid host name");
	url_refused(l, "http://models.internal:0/", "URL port \"0\" is not valid");
	url_refused(l, "http://models.internal:65536/", "URL port is not a number from 1 to 65535");
	/* the empty list allows nothing */
	url_refused(list_of(""), "https://api.example.com/", "is not in the allowed hosts");
}

/* ---- address classes and what an entry lets through ---- */

static MaasAddrClass
class_of(const char *text)
{
	uint8_t		a[16];

	if (inet_pton(AF_INET, text, a) == 1)
		return maas_addr_class(AF_INET, a);
	if (inet_pton(AF_INET6, text, a) == 1)
		return maas_addr_class(AF_INET6, a);
	return (MaasAddrClass) -1;
}

static void
test_address_classes(void)
{
	static const struct
	{
		const char *addr;
		MaasAddrClass c;
	}			cases[] = {
		{"8.8.8.8", MAAS_ADDR_PUBLIC},
		{"1.1.1.1", MAAS_ADDR_PUBLIC},
		{"172.15.255.255", MAAS_ADDR_PUBLIC},
		{"172.32.0.0", MAAS_ADDR_PUBLIC},
		{"100.63.255.255", MAAS_ADDR_PUBLIC},
		{"127.0.0.1", MAAS_ADDR_LOOPBACK},
		{"127.255.255.254", MAAS_ADDR_LOOPBACK},
		{"10.0.0.1", MAAS_ADDR_PRIVATE},
		{"10.255.255.255", MAAS_ADDR_PRIVATE},
		{"172.16.0.1", MAAS_ADDR_PRIVATE},
		{"172.31.255.255", MAAS_ADDR_PRIVATE},
		{"192.168.1.1", MAAS_ADDR_PRIVATE},
		{"100.64.0.1", MAAS_ADDR_SHARED},
		{"100.127.255.255", MAAS_ADDR_SHARED},
		{"169.254.169.254", MAAS_ADDR_LINK_LOCAL},
		{"169.254.0.1", MAAS_ADDR_LINK_LOCAL},
		{"0.0.0.0", MAAS_ADDR_UNSPECIFIED},
		{"0.1.2.3", MAAS_ADDR_UNSPECIFIED},
		{"224.0.0.1", MAAS_ADDR_MULTICAST},
		{"239.255.255.255", MAAS_ADDR_MULTICAST},
		{"240.0.0.1", MAAS_ADDR_RESERVED},
		{"255.255.255.255", MAAS_ADDR_RESERVED},
		{"192.0.2.1", MAAS_ADDR_RESERVED},
		{"198.18.0.1", MAAS_ADDR_RESERVED},
		{"203.0.113.9", MAAS_ADDR_RESERVED},
		{"2606:4700::1111", MAAS_ADDR_PUBLIC},
		{"::", MAAS_ADDR_UNSPECIFIED},
		{"::1", MAAS_ADDR_LOOPBACK},
		{"fc00::1", MAAS_ADDR_PRIVATE},
		{"fdff::1", MAAS_ADDR_PRIVATE},
		{"fe80::1", MAAS_ADDR_LINK_LOCAL},
		{"febf::1", MAAS_ADDR_LINK_LOCAL},
		{"fd00:ec2::254", MAAS_ADDR_LINK_LOCAL},
		{"fec0::1", MAAS_ADDR_RESERVED},
		{"ff02::1", MAAS_ADDR_MULTICAST},
		{"2001:db8::1", MAAS_ADDR_RESERVED},
		{"100::1", MAAS_ADDR_RESERVED},
		/* IPv4 carried in IPv6 */
		{"::ffff:127.0.0.1", MAAS_ADDR_LOOPBACK},
		{"::ffff:169.254.169.254", MAAS_ADDR_LINK_LOCAL},
		{"::ffff:10.1.2.3", MAAS_ADDR_PRIVATE},
		{"::ffff:8.8.8.8", MAAS_ADDR_PUBLIC},
		{"::127.0.0.1", MAAS_ADDR_LOOPBACK},
		{"::ffff:0:127.0.0.1", MAAS_ADDR_LOOPBACK},
		{"64:ff9b::a9fe:a9fe", MAAS_ADDR_LINK_LOCAL},
		{"64:ff9b::808:808", MAAS_ADDR_PUBLIC},
		{"64:ff9b:1::1", MAAS_ADDR_PRIVATE},
		{"2002:7f00:1::", MAAS_ADDR_LOOPBACK},
		{"2002:a00:1::", MAAS_ADDR_PRIVATE},
		{"2002:808:808::", MAAS_ADDR_PUBLIC},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		MaasAddrClass c = class_of(cases[i].addr);

		CHECK(c == cases[i].c);
		if (c != cases[i].c)
			fprintf(stderr, "    %s: %s, not %s\n", cases[i].addr,
					maas_addr_class_name(c), maas_addr_class_name(cases[i].c));
	}
	CHECK(strcmp(maas_addr_class_name(MAAS_ADDR_LINK_LOCAL), "link-local") == 0);
}

static bool
allowed(const MaasUrlTarget *t, const char *addr)
{
	uint8_t		a[16];
	MaasAddrClass why;

	if (inet_pton(AF_INET, addr, a) == 1)
		return maas_http_address_allowed(t, AF_INET, a, &why);
	inet_pton(AF_INET6, addr, a);
	return maas_http_address_allowed(t, AF_INET6, a, &why);
}

static void
test_address_rules(void)
{
	MaasAllowList *l = list_of("models.internal, *.example.org, 10.0.0.5, 169.254.169.254, [::1]");
	MaasUrlTarget named;
	MaasUrlTarget wild;
	MaasUrlTarget ip;
	MaasUrlTarget meta;
	MaasUrlTarget v6;

	if (l == NULL)
		return;
	CHECK(maas_http_check_url(l, "http://models.internal/", &named, &err));
	CHECK(maas_http_check_url(l, "http://x.example.org/", &wild, &err));
	CHECK(maas_http_check_url(l, "http://10.0.0.5/", &ip, &err));
	CHECK(maas_http_check_url(l, "http://169.254.169.254/", &meta, &err));
	CHECK(maas_http_check_url(l, "http://[::1]/", &v6, &err));

	/* a name entry: public and internal, never link-local and the like */
	CHECK(allowed(&named, "8.8.8.8"));
	CHECK(allowed(&named, "10.1.2.3"));
	CHECK(allowed(&named, "127.0.0.1"));
	CHECK(allowed(&named, "::1"));
	CHECK(allowed(&named, "fd12::1"));
	CHECK(allowed(&named, "100.64.1.1"));
	CHECK(!allowed(&named, "169.254.169.254"));
	CHECK(!allowed(&named, "::ffff:169.254.169.254"));
	CHECK(!allowed(&named, "fe80::1"));
	CHECK(!allowed(&named, "fd00:ec2::254"));
	CHECK(!allowed(&named, "0.0.0.0"));
	CHECK(!allowed(&named, "::"));
	CHECK(!allowed(&named, "224.0.0.1"));
	CHECK(!allowed(&named, "255.255.255.255"));

	/* a wildcard: public only */
	CHECK(allowed(&wild, "8.8.8.8"));
	CHECK(allowed(&wild, "2606:4700::1111"));
	CHECK(!allowed(&wild, "127.0.0.1"));
	CHECK(!allowed(&wild, "::1"));
	CHECK(!allowed(&wild, "::ffff:127.0.0.1"));
	CHECK(!allowed(&wild, "10.0.0.5"));
	CHECK(!allowed(&wild, "192.168.0.1"));
	CHECK(!allowed(&wild, "169.254.169.254"));
	CHECK(!allowed(&wild, "fc00::1"));
	CHECK(!allowed(&wild, "64:ff9b::7f00:1"));

	/* an address entry: exactly that address, whatever it is */
	CHECK(allowed(&ip, "10.0.0.5"));
	CHECK(!allowed(&ip, "10.0.0.6"));
	CHECK(!allowed(&ip, "::ffff:10.0.0.5"));
	CHECK(allowed(&meta, "169.254.169.254"));
	CHECK(allowed(&v6, "::1"));
	CHECK(!allowed(&v6, "127.0.0.1"));
}

/* ---- requests ---- */

static void
test_post_and_log(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	const char *key = new_key();
	const char *body = "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}]}";
	Logged		l;
	const MaasJson *headers;

	if (h == NULL)
		return;
	local_options(&opt);
	CHECK(maas_http_post_json(h, url(fmt("/v2/models/linear/infer?key=%s", key)),
							  body, strlen(body), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_OK && res.status == 200 && res.attempts == 1);
	CHECK(res.body != NULL && res.len == strlen(res.body));
	CHECK(res.body != NULL && strstr(res.body, "\"shape\": [1, 1]") != NULL);
	/* 0.5 - 2.5 + 6 + 0.25 */
	CHECK(res.body != NULL && strstr(res.body, "\"data\": [4.25]") != NULL);

	l = logged(key);
	CHECK(l.n == 1);
	if (l.n == 1)
	{
		CHECK(strcmp(logged_str(l.req[0], "method"), "POST") == 0);
		CHECK(strcmp(logged_str(l.req[0], "path"), "/v2/models/linear/infer") == 0);
		CHECK(strcmp(logged_str(l.req[0], "auth"), "ok") == 0);
		CHECK(logged_int(l.req[0], "body_len") == (int64_t) strlen(body));
		headers = maas_json_get(l.req[0], "headers");
		CHECK(strcmp(logged_str(headers, "Content-Type"), "application/json") == 0);
		CHECK(maas_json_get(headers, "Expect") == NULL);
		CHECK(maas_json_get(headers, "Authorization") == NULL);
	}

	/* a 2xx with no body is an empty body */
	CHECK(maas_http_get(h, url(fmt("/x?key=%s&status=204&body_hex=", key)), &opt, &res, &err));
	CHECK(res.status == 204 && res.len == 0 && res.body != NULL && res.body[0] == '\0');

	/* a wrong key arrives as sent, and the server says so */
	opt.auth_header = "Authorization: Bearer wrong";
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s", key)), &opt, &res, &err));
	l = logged(key);
	CHECK(l.n == 3 && strcmp(logged_str(l.req[2], "auth"), "wrong") == 0);
	opt.auth_header = NULL;
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s", key)), &opt, &res, &err));
	l = logged(key);
	CHECK(l.n == 4 && strcmp(logged_str(l.req[3], "auth"), "missing") == 0);
	maas_http_free(h);
}

static void
test_keep_alive(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	const char *key = new_key();
	Logged		l;

	if (h == NULL)
		return;
	local_options(&opt);
	for (int i = 0; i < 8; i++)
	{
		const char *path = i % 2 == 0 ? "/v2/models/logistic/infer" : "/v1/embeddings";
		const char *body = i % 2 == 0 ?
			"{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 4], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]}]}" :
			"{\"model\": \"e\", \"input\": [\"a\"]}";

		CHECK(maas_http_post_json(h, url(fmt("%s?key=%s", path, key)), body, strlen(body),
								  &opt, &res, &err));
		CHECK(res.reused == (i > 0));
	}
	/* a GET in between keeps it too */
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s", key)), &opt, &res, &err));
	CHECK(res.reused);
	CHECK(maas_http_connections(h) == 1);
	l = logged(key);
	CHECK(l.n == 9);
	for (int i = 1; i < l.n; i++)
		CHECK(logged_int(l.req[i], "conn") == logged_int(l.req[0], "conn"));

	/* the server dropping it costs one new connection, not an error */
	CHECK(!maas_http_get(h, url(fmt("/?key=%s&close_now=1", key)), &opt, &res, &err));
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s", key)), &opt, &res, &err));
	CHECK(!res.reused);
	maas_http_free(h);

	/* the backend's client is made once and kept */
	{
		MaasHttp   *a = maas_http_backend(&err);
		MaasHttp   *b = maas_http_backend(&err);

		CHECK(a != NULL && a == b);
		maas_http_backend_free();
		b = maas_http_backend(&err);
		CHECK(b != NULL);
		maas_http_backend_free();
	}
}

static void
test_retries_and_backoff(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	const char *key = new_key();
	Logged		l;

	if (h == NULL)
		return;
	local_options(&opt);
	opt.max_retries = 3;
	opt.backoff_initial_ms = 200;
	opt.backoff_max_ms = 400;

	/* 503 twice, then an answer: three attempts, waits in [100, 200] and [200, 400] ms */
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=503&times=2", key)),
						&opt, &res, &err));
	CHECK(res.status == 200 && res.attempts == 3);
	l = logged(key);
	CHECK(l.n == 3);
	if (l.n == 3)
	{
		double		gap1 = (logged_time(l.req[1]) - logged_time(l.req[0])) * 1000;
		double		gap2 = (logged_time(l.req[2]) - logged_time(l.req[1])) * 1000;

		CHECK(gap1 >= 100 && gap1 <= 200 + 250);
		CHECK(gap2 >= 200 && gap2 <= 400 + 250);
		if (gap1 < 100 || gap2 < 200)
			fprintf(stderr, "    gaps %.0f ms and %.0f ms\n", gap1, gap2);
	}

	/* 429 and the other retried statuses */
	key = new_key();
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=429&times=1", key)),
						&opt, &res, &err));
	CHECK(res.attempts == 2 && logged(key).n == 2);
	key = new_key();
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=502&times=1", key)),
						&opt, &res, &err));
	CHECK(res.attempts == 2);

	/* always failing: 1 + max_retries attempts, then the server's message */
	key = new_key();
	opt.max_retries = 2;
	opt.backoff_initial_ms = 10;
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=500&msg=model+crashed", key)),
						 &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_STATUS && res.status == 500 && res.attempts == 3);
	CHECK(err.status == MAAS_ERR_IO);
	CHECK(msg_has(fmt("\"127.0.0.1:%d\" answered HTTP 500: model crashed (after 3 attempts)", port)));
	CHECK(logged(key).n == 3);

	/* max_retries 0: one attempt */
	key = new_key();
	opt.max_retries = 0;
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=503", key)), &opt, &res, &err));
	CHECK(res.attempts == 1 && logged(key).n == 1);
	CHECK(msg_has("answered HTTP 503: failure on request") && strstr(err.msg, "attempts") == NULL);

	/* no retry for other 4xx, nor 501 */
	opt.max_retries = 3;
	for (int s = 0; s < 5; s++)
	{
		static const int statuses[] = {400, 401, 403, 404, 501};

		key = new_key();
		CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=%d", key, statuses[s])),
							 &opt, &res, &err));
		CHECK(res.status == statuses[s] && res.attempts == 1 && logged(key).n == 1);
		CHECK(msg_has(fmt("answered HTTP %d: failure on request", statuses[s])));
	}
	/* a 404 from the server's own routing */
	CHECK(!maas_http_get(h, url("/v2/models/nosuch"), &opt, &res, &err));
	CHECK(msg_has("answered HTTP 404: model 'nosuch' not found"));
	maas_http_free(h);
}

static void
test_retry_after(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	const char *key = new_key();
	Logged		l;
	int64_t		t0;

	if (h == NULL)
		return;
	local_options(&opt);
	opt.backoff_initial_ms = 10;
	opt.backoff_max_ms = 10;

	/* seconds: waits that long, not the 10 ms backoff */
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=429&retry_after=1&times=1", key)),
						&opt, &res, &err));
	l = logged(key);
	CHECK(res.attempts == 2 && l.n == 2);
	if (l.n == 2)
	{
		double		gap = (logged_time(l.req[1]) - logged_time(l.req[0])) * 1000;

		CHECK(gap >= 980 && gap <= 1000 + 400);
	}

	/* an HTTP date two seconds ahead (whole seconds: 1 to 2 s from now) */
	key = new_key();
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=503&retry_after_date=2&times=1", key)),
						&opt, &res, &err));
	l = logged(key);
	CHECK(res.attempts == 2 && l.n == 2);
	if (l.n == 2)
	{
		double		gap = (logged_time(l.req[1]) - logged_time(l.req[0])) * 1000;

		CHECK(gap >= 900 && gap <= 2000 + 400);
	}

	/* a date in the past: no wait */
	key = new_key();
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=503&retry_after_date=-60&times=1", key)),
						&opt, &res, &err));
	l = logged(key);
	CHECK(l.n == 2 && (logged_time(l.req[1]) - logged_time(l.req[0])) * 1000 < 300);

	/* unreadable: the backoff instead */
	key = new_key();
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=503&retry_after=soon&times=1", key)),
						&opt, &res, &err));
	CHECK(res.attempts == 2);

	/* past the timeout: gives up at once, without waiting */
	key = new_key();
	opt.timeout_ms = 3000;
	t0 = now_ms();
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=429&retry_after=60", key)),
						 &opt, &res, &err));
	CHECK(now_ms() - t0 < 1000);
	CHECK(res.attempts == 1 && res.fail == MAAS_HTTP_STATUS && res.status == 429);
	CHECK(msg_has("answered HTTP 429: failure on request (it asked to retry after 60 s, past the timeout)"));
	maas_http_free(h);
}

static void
test_error_messages(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	char		hex[2048];
	char		text[600];

	if (h == NULL)
		return;
	local_options(&opt);

	/* control characters and invalid UTF-8 in a non-JSON body */
	CHECK(!maas_http_get(h, url("/?status=400&body_hex=6261640a1b5b33316d626f6479ff21"),
						 &opt, &res, &err));
	CHECK(msg_has("answered HTTP 400: bad  [31mbody\xEF\xBF\xBD!"));
	CHECK(strchr(err.msg, '\n') == NULL && strchr(err.msg, '\x1b') == NULL);

	/* the forms of JSON errors */
	CHECK(!maas_http_get(h, url("/?status=422&body_hex=7b2264657461696c223a2022626164207368617065227d"),
						 &opt, &res, &err));	/* {"detail": "bad shape"} */
	CHECK(msg_has("answered HTTP 422: bad shape"));
	CHECK(!maas_http_get(h, url("/?status=400&body_hex=7b226572726f72223a2022626164206461746174797065227d"),
						 &opt, &res, &err));	/* {"error": "bad datatype"} */
	CHECK(msg_has("answered HTTP 400: bad datatype"));
	CHECK(!maas_http_get(h, url("/?status=400&body_hex="), &opt, &res, &err));
	CHECK(msg_has("answered HTTP 400: (no message)"));

	/* a long one is cut */
	memset(text, 'a', 500);
	text[500] = '\0';
	CHECK(!maas_http_get(h, url(fmt("/?status=400&msg=%s", text)), &opt, &res, &err));
	CHECK(msg_has(fmt("answered HTTP 400: %.160s...", text)));
	CHECK(strlen(err.msg) < MAAS_ERRLEN);

	/* a server echoing the key shows it scrubbed */
	CHECK(!maas_http_get(h, url("/?status=401&msg=Incorrect+API+key+provided:+" SECRET),
						 &opt, &res, &err));
	CHECK(msg_has("Incorrect API key provided: [secret]"));
	CHECK(strstr(err.msg, SECRET) == NULL);
	CHECK(!maas_http_get(h, url("/?status=401&msg=bad+header+Bearer+" SECRET "+given"),
						 &opt, &res, &err));
	CHECK(strstr(err.msg, SECRET) == NULL && msg_has("[secret]"));

	/* a big error body: its start is enough, the rest is not read */
	CHECK(!maas_http_get(h, url("/?status=400&body_hex=" "7b226572726f72223a20227a7a7a"), &opt, &res, &err));
	CHECK(msg_has("answered HTTP 400: {\"error\": \"zzz"));
	memset(hex, 0, sizeof(hex));
	for (int i = 0; i < 1000; i++)
		strcat(hex, "41");
	CHECK(!maas_http_get(h, url(fmt("/?status=400&body_hex=%s", hex)), &opt, &res, &err));
	CHECK(msg_has("answered HTTP 400: AAAAAAAA"));

	/* sanitize on its own */
	{
		char		out[64];

		maas_http_sanitize("a\tb\x7f" "c\xc2\x85" "d\xe2\x80\xae" "e", 12, 60, out);
		CHECK(strcmp(out, "a b c d e") == 0);
		maas_http_sanitize("\xc3\xa9\xc3\xa9\xc3\xa9", 6, 5, out);
		CHECK(strcmp(out, "\xc3\xa9\xc3\xa9...") == 0);
		maas_http_sanitize("\xed\xa0\x80x", 4, 60, out);	/* a surrogate */
		CHECK(strcmp(out, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx") == 0);
	}
	maas_http_free(h);
}

static void
test_timeouts_and_connections(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	const char *key;
	int64_t		t0;
	int64_t		took;
	int			dead = dead_port();

	if (h == NULL)
		return;
	local_options(&opt);

	/* a server that says nothing for 5 s, with 600 ms to spend */
	opt.timeout_ms = 600;
	key = new_key();
	t0 = now_ms();
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&sleep=5", key)), &opt, &res, &err));
	took = now_ms() - t0;
	CHECK(res.fail == MAAS_HTTP_TIMEOUT && err.status == MAAS_ERR_IO);
	CHECK(msg_has(fmt("the call to \"127.0.0.1:%d\" timed out after 600 ms", port)));
	CHECK(hint_has("Raise the model's timeout"));
	CHECK(took >= 590 && took < 1100);
	CHECK(res.attempts == 1 && logged(key).n == 1);

	/* a body that stalls half-way */
	t0 = now_ms();
	CHECK(!maas_http_get(h, url("/v2/models/linear?stall=5"), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_TIMEOUT && now_ms() - t0 < 1100);

	/* nothing listening: retried, then refused */
	opt.timeout_ms = 5000;
	opt.max_retries = 2;
	opt.allow = list_of(fmt("127.0.0.1:%d", dead));
	CHECK(!maas_http_get(h, fmt("http://127.0.0.1:%d/", dead), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_CONNECT && res.attempts == 3 && res.status == 0);
	CHECK(msg_has(fmt("could not connect to \"127.0.0.1:%d\" (after 3 attempts)", dead)));
	opt.allow = local_list();

	/* closed before the end of the body: retried (the first attempt only) */
	key = new_key();
	CHECK(maas_http_get(h, url(fmt("/v2/models/linear?key=%s&close_mid=1&times=1", key)), &opt, &res, &err));
	CHECK(res.attempts == 2 && res.status == 200);
	key = new_key();
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&close_mid=1", key)), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_CONNECT && res.attempts == 3 && logged(key).n == 3);
	CHECK(msg_has(fmt("\"127.0.0.1:%d\" closed the connection before the end of the response (after 3 attempts)", port)));

	/* closed without an answer */
	key = new_key();
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&close_now=1", key)), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_CONNECT && res.attempts == 3);
	CHECK(msg_has("closed the connection without answering (after 3 attempts)"));

	/* not HTTP: not retried */
	key = new_key();
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&garbage=1", key)), &opt, &res, &err));
	CHECK(res.attempts == 1 && msg_has("did not answer in valid HTTP"));

	/* the total timeout bounds retries too: 503 forever with 10 retries in 700 ms */
	key = new_key();
	opt.timeout_ms = 700;
	opt.max_retries = 10;
	opt.backoff_initial_ms = 200;
	opt.backoff_max_ms = 1000;
	t0 = now_ms();
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=503", key)), &opt, &res, &err));
	took = now_ms() - t0;
	CHECK(took < 800);
	CHECK(res.attempts >= 2 && res.attempts <= 4);
	CHECK(msg_has("answered HTTP 503: failure on request (no time left to retry)"));
	maas_http_free(h);
}

static void
test_cancel(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	const char *key;
	int64_t		t0;
	int64_t		took;

	if (h == NULL)
		return;
	local_options(&opt);

	/* during a slow response */
	key = new_key();
	cancel_after(300);
	t0 = now_ms();
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&sleep=10", key)), &opt, &res, &err));
	took = now_ms() - t0;
	no_cancel();
	CHECK(res.fail == MAAS_HTTP_CANCELED && err.status == MAAS_ERR_CANCELED);
	CHECK(msg_has(fmt("the call to \"127.0.0.1:%d\" was canceled", port)));
	CHECK(took >= 290 && took < 300 + 400);
	fprintf(stderr, "    canceled a slow response in %lld ms after the flag\n", (long long) took - 300);

	/* during a body that stalls */
	cancel_after(300);
	t0 = now_ms();
	CHECK(!maas_http_post_json(h, url("/v1/embeddings?stall=10"), "{\"model\": \"e\", \"input\": \"x\"}",
							   28, &opt, &res, &err));
	took = now_ms() - t0;
	no_cancel();
	CHECK(res.fail == MAAS_HTTP_CANCELED && took < 300 + 400);

	/* during the wait before a retry */
	key = new_key();
	opt.timeout_ms = 30000;
	cancel_after(300);
	t0 = now_ms();
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s&status=503&retry_after=20", key)),
						 &opt, &res, &err));
	took = now_ms() - t0;
	no_cancel();
	CHECK(res.fail == MAAS_HTTP_CANCELED && res.attempts == 1 && took < 300 + 200);
	CHECK(logged(key).n == 1);
	fprintf(stderr, "    canceled a backoff wait in %lld ms after the flag\n", (long long) took - 300);

	/* a flag already set: nothing is sent */
	key = new_key();
	cancel_flag = 1;
	CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s", key)), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_CANCELED && logged(key).n == 0);
	/* the second flag works alike */
	{
		volatile sig_atomic_t other = 1;

		cancel_flag = 0;
		opt.cancel[1] = &other;
		CHECK(!maas_http_get(h, url(fmt("/v2/models/linear?key=%s", key)), &opt, &res, &err));
		CHECK(res.fail == MAAS_HTTP_CANCELED);
		opt.cancel[1] = NULL;
	}

	/* and the client is fine afterwards */
	CHECK(maas_http_get(h, url("/v2/models/linear"), &opt, &res, &err));
	CHECK(res.status == 200);
	maas_http_free(h);
}

static void
test_size_limit(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	int64_t		t0;

	if (h == NULL)
		return;
	local_options(&opt);
	opt.max_response_bytes = 1024 * 1024;

	/* 1 GB declared: refused from its Content-Length */
	t0 = now_ms();
	CHECK(!maas_http_get(h, url("/?huge=1073741824"), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_TOO_LARGE && err.status == MAAS_ERR_LIMIT);
	CHECK(msg_has(fmt("the response from \"127.0.0.1:%d\" is larger than the limit of 1048576 bytes", port)));
	CHECK(hint_has("Raise the response size limit"));
	CHECK(now_ms() - t0 < 2000);

	/* 1 GB chunked: stopped once past the limit */
	t0 = now_ms();
	CHECK(!maas_http_get(h, url("/?huge=1073741824&chunked=1"), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_TOO_LARGE && res.attempts == 1);
	CHECK(now_ms() - t0 < 3000);

	/* exactly the limit passes, one byte more does not */
	CHECK(maas_http_get(h, url("/?huge=1048576"), &opt, &res, &err));
	CHECK(res.len == 1024 * 1024 && res.body[0] == 'x' && res.body[res.len - 1] == 'x');
	CHECK(!maas_http_get(h, url("/?huge=1048577&chunked=1"), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_TOO_LARGE);

	/* a chunked body that never ends: the limit, or else the timeout */
	opt.max_response_bytes = 64;
	CHECK(!maas_http_get(h, url("/?endless=1"), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_TOO_LARGE);
	opt.max_response_bytes = 1024 * 1024;
	opt.timeout_ms = 700;
	t0 = now_ms();
	CHECK(!maas_http_get(h, url("/?endless=1"), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_TIMEOUT && now_ms() - t0 < 1200);
	maas_http_free(h);
}

static void
test_redirects(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	const char *key;
	Logged		l;

	if (h == NULL)
		return;
	local_options(&opt);

	/* to a forbidden host: refused, whatever the method */
	key = new_key();
	CHECK(!maas_http_get(h, url(fmt("/?key=%s&redirect=http://169.254.169.254/latest/meta-data/", key)),
						 &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_REFUSED && res.status == 302 && logged(key).n == 1);
	CHECK(msg_has(fmt("\"127.0.0.1:%d\" redirected (HTTP 302) to a URL that is not allowed: "
					  "host \"169.254.169.254:80\" is not in the allowed hosts", port)));
	CHECK(hint_has("maas.remote_allowed_hosts"));
	CHECK(!maas_http_post_json(h, url("/?redirect=http://10.0.0.1:8080/"), "{}", 2, &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_REFUSED);
	CHECK(!maas_http_get(h, url("/?redirect=file:///etc/passwd"), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_REFUSED && msg_has("URL scheme \"file\" is not allowed"));
	CHECK(!maas_http_get(h, url("/?redirect=gopher://127.0.0.1:70/"), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_REFUSED);

	/* to an allowed one: a POST does not follow */
	key = new_key();
	CHECK(!maas_http_post_json(h, url(fmt("/?key=%s&redirect=/v1/embeddings", key)), "{}", 2, &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_STATUS && res.status == 302 && res.attempts == 1);
	CHECK(msg_has(fmt("redirected (HTTP 302) to \"127.0.0.1:%d\"; a POST does not follow redirects", port)));
	CHECK(hint_has("Register the URL the server redirects to."));
	/* nor a GET with max_redirects 0 */
	CHECK(!maas_http_get(h, url("/?redirect=/blob?size=10"), &opt, &res, &err));
	CHECK(msg_has("no more redirects are followed"));

	/* a GET follows up to max_redirects, each checked */
	opt.max_redirects = 2;
	key = new_key();
	CHECK(maas_http_get(h, url(fmt("/?key=%s&redirect=/blob?size%%3D10%%26key%%3D%s", key, key)),
						&opt, &res, &err));
	CHECK(res.status == 200 && res.len == 10 && res.attempts == 2);
	l = logged(key);
	CHECK(l.n == 2 && strcmp(logged_str(l.req[1], "path"), "/blob") == 0);
	CHECK(l.n == 2 && strcmp(logged_str(l.req[1], "auth"), "ok") == 0);

	/* to another allowed host: the authorization header stays behind */
	opt.allow = list_of(fmt("127.0.0.1:%d, localhost:%d", port, port));
	key = new_key();
	CHECK(maas_http_get(h, url(fmt("/?key=%s&redirect=http://localhost:%d/blob?size%%3D5%%26key%%3D%s",
								   key, port, key)), &opt, &res, &err));
	CHECK(res.status == 200 && res.len == 5);
	l = logged(key);
	CHECK(l.n == 2);
	if (l.n == 2)
	{
		CHECK(strcmp(logged_str(l.req[0], "auth"), "ok") == 0);
		CHECK(strcmp(logged_str(l.req[1], "auth"), "missing") == 0);
	}
	maas_http_free(h);
}

/*
 * The guard with real connections: names resolve (through curl's fixed
 * list) to the addresses of the matrix, and only the local server's
 * address is ever connected to.
 */
static void
test_guard_connecting(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	const char *resolve[3] = {NULL, NULL, NULL};
	const char *key;
	static const struct
	{
		const char *addr;
		const char *cls;
	}			matrix[] = {
		{"127.0.0.1", "loopback"},
		{"[::1]", "loopback"},
		{"10.1.2.3", "private"},
		{"192.168.0.10", "private"},
		{"169.254.169.254", "link-local"},
		{"[::ffff:127.0.0.1]", "loopback"},
		{"[fe80::1]", "link-local"},
		{"0.0.0.0", "unspecified"},
	};

	if (h == NULL)
		return;
	local_options(&opt);
	opt.resolve = resolve;

	/* through a wildcard entry, every non-public address is refused */
	opt.allow = list_of(fmt("*.attacker.test:%d", port));
	for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++)
	{
		const char *name = fmt("h%zu.attacker.test", i);

		key = new_key();
		resolve[0] = fmt("%s:%d:%s", name, port, matrix[i].addr);
		CHECK(!maas_http_get(h, fmt("http://%s:%d/v2/models/linear?key=%s", name, port, key),
							 &opt, &res, &err));
		CHECK(res.fail == MAAS_HTTP_REFUSED && err.status == MAAS_ERR_INVALID);
		CHECK(res.attempts == 1);
		CHECK(msg_has(fmt("host \"%s:%d\" resolves to %s address", name, port, matrix[i].cls)));
		CHECK(logged(key).n == 0);
	}
	CHECK(maas_http_connections(h) == 0);

	/* a name entry reaches loopback (this server), not link-local */
	opt.allow = list_of(fmt("models.test:%d, meta.test:%d", port, port));
	resolve[0] = fmt("models.test:%d:127.0.0.1", port);
	resolve[1] = fmt("meta.test:%d:169.254.169.254", port);
	CHECK(maas_http_get(h, fmt("http://models.test:%d/v2/models/linear", port), &opt, &res, &err));
	CHECK(res.status == 200);
	CHECK(!maas_http_get(h, fmt("http://meta.test:%d/latest/meta-data/", port), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_REFUSED);
	CHECK(msg_has(fmt("host \"meta.test:%d\" resolves to link-local address \"169.254.169.254\"", port)));
	CHECK(hint_has("only when it lists the address itself"));
	resolve[1] = NULL;

	/* "localhost" through the system resolver: only when named */
	opt.resolve = NULL;
	opt.allow = list_of(fmt("localhost:%d", port));
	CHECK(maas_http_get(h, fmt("http://localhost:%d/v2/models/linear", port), &opt, &res, &err));
	CHECK(res.status == 200);
	opt.allow = local_list();
	CHECK(!maas_http_get(h, fmt("http://localhost:%d/v2/models/linear", port), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_REFUSED && res.attempts == 0);
	CHECK(msg_has(fmt("host \"localhost:%d\" is not in the allowed hosts", port)));

	/* the address matrix as URLs, none listed: refused before connecting */
	{
		static const char *const urls[] = {
			"http://127.0.0.1:%d/", "http://[::1]:%d/", "http://10.0.0.1:%d/",
			"http://169.254.169.254:%d/", "http://[::ffff:127.0.0.1]:%d/",
			"http://0.0.0.0:%d/", "http://2130706433:%d/",
		};

		opt.allow = list_of("models.example.com");
		for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		{
			CHECK(!maas_http_get(h, fmt(urls[i], port), &opt, &res, &err));
			CHECK(res.fail == MAAS_HTTP_REFUSED && res.attempts == 0);
		}
		CHECK(!maas_http_get(h, "file:///etc/passwd", &opt, &res, &err));
		CHECK(res.fail == MAAS_HTTP_REFUSED && res.attempts == 0);
		CHECK(!maas_http_get(h, "gopher://models.example.com:70/", &opt, &res, &err));
		CHECK(res.fail == MAAS_HTTP_REFUSED);
		CHECK(!maas_http_get(h, "http://u:p@models.example.com/", &opt, &res, &err));
		CHECK(res.fail == MAAS_HTTP_REFUSED);
		CHECK(!maas_http_get(h, "http://models.example.com:8080/", &opt, &res, &err));
		CHECK(res.fail == MAAS_HTTP_REFUSED);
		CHECK(!maas_http_get(h, "http://", &opt, &res, &err));
		CHECK(res.fail == MAAS_HTTP_BAD_REQUEST);
	}

	/* a proxy in the environment is not used */
	opt.allow = local_list();
	setenv("http_proxy", "http://127.0.0.1:1/", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:1/", 1);
	CHECK(maas_http_get(h, url("/v2/models/linear"), &opt, &res, &err));
	CHECK(res.status == 200);
	unsetenv("http_proxy");
	unsetenv("ALL_PROXY");
	maas_http_free(h);
}

static void
test_options(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;

	if (h == NULL)
		return;
	local_options(&opt);
	opt.auth_header = "Authorization: Bearer " SECRET "\r\nX-Injected: 1";
	CHECK(!maas_http_get(h, url("/"), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_BAD_REQUEST);
	CHECK(msg_has("the authorization header is malformed"));
	CHECK(strstr(err.msg, SECRET) == NULL);
	opt.auth_header = "no colon " SECRET;
	CHECK(!maas_http_get(h, url("/"), &opt, &res, &err));
	CHECK(strstr(err.msg, SECRET) == NULL && res.fail == MAAS_HTTP_BAD_REQUEST);

	local_options(&opt);
	opt.allow = NULL;
	CHECK(!maas_http_get(h, url("/"), &opt, &res, &err));
	CHECK(msg_has("an HTTP call needs the allowed hosts"));
	local_options(&opt);
	opt.timeout_ms = 0;
	CHECK(!maas_http_get(h, url("/"), &opt, &res, &err));
	CHECK(msg_has("timeouts must be at least 1 ms"));
	local_options(&opt);
	opt.max_retries = -1;
	CHECK(!maas_http_get(h, url("/"), &opt, &res, &err));
	CHECK(msg_has("retries must be from 0 to 100"));
	local_options(&opt);
	opt.backoff_max_ms = 1;
	CHECK(!maas_http_get(h, url("/"), &opt, &res, &err));
	CHECK(msg_has("backoff must be non-negative"));
	local_options(&opt);
	opt.max_response_bytes = 0;
	CHECK(!maas_http_get(h, url("/"), &opt, &res, &err));
	CHECK(msg_has("the response size limit must be at least 1 byte"));
	maas_http_free(h);
}

static void
test_tls(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	char		ca[600];
	const char *key = new_key();
	Logged		l;

	if (h == NULL)
		return;
	snprintf(ca, sizeof(ca), "%s/cert.pem", tls_dir);
	local_options(&opt);
	opt.allow = list_of(fmt("127.0.0.1:%d, localhost:%d", tls_port, tls_port));

	/* trusted through ca_file: works, by address and by name, kept alive */
	opt.ca_file = ca;
	CHECK(maas_http_get(h, fmt("https://127.0.0.1:%d/v2/models/linear?key=%s", tls_port, key),
						&opt, &res, &err));
	CHECK(res.status == 200);
	CHECK(maas_http_post_json(h, fmt("https://127.0.0.1:%d/v1/embeddings?key=%s", tls_port, key),
							  "{\"model\": \"e\", \"input\": \"x\"}", 28, &opt, &res, &err));
	CHECK(res.status == 200 && res.reused);
	l = logged(key);
	CHECK(l.n == 2 && strcmp(logged_str(l.req[1], "auth"), "ok") == 0);
	CHECK(maas_http_get(h, fmt("https://localhost:%d/v2/models/linear", tls_port), &opt, &res, &err));
	CHECK(res.status == 200);

	/* not trusted: a TLS error, not retried */
	opt.ca_file = NULL;
	key = new_key();
	CHECK_FAILS(maas_http_get(h, fmt("https://127.0.0.1:%d/v2/models/linear?key=%s", tls_port, key),
							  &opt, &res, &err),
				fmt("the TLS certificate of \"127.0.0.1:%d\" could not be verified", tls_port));
	CHECK(hint_has("certificate authority"));
	CHECK(res.fail == MAAS_HTTP_TLS && res.attempts == 1 && logged(key).n == 0);

	/* a CA file that is not there */
	opt.ca_file = "/nonexistent/ca.pem";
	CHECK(!maas_http_get(h, fmt("https://127.0.0.1:%d/", tls_port), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_TLS);

	/* plain HTTP to the TLS port */
	CHECK(!maas_http_get(h, fmt("http://127.0.0.1:%d/", tls_port), &opt, &res, &err));
	CHECK(res.fail == MAAS_HTTP_CONNECT || res.fail == MAAS_HTTP_TIMEOUT);
	maas_http_free(h);
}

/* ---- downloads ---- */

typedef struct MemSink
{
	int			fd;
	int			writes;
	int			fail_at;		/* write number that fails, 0: none */
} MemSink;

static bool
counting_write(void *arg, const void *data, size_t len)
{
	MemSink    *s = arg;

	if (++s->writes == s->fail_at)
		return false;
	return maas_http_fd_write(&s->fd, data, len);
}

static bool
counting_rewind(void *arg)
{
	return maas_http_fd_rewind(&((MemSink *) arg)->fd);
}

static bool
file_is_blob(int fd, size_t size, int seed)
{
	uint8_t    *b = malloc(size + 1);
	ssize_t		n;
	bool		ok;

	lseek(fd, 0, SEEK_SET);
	n = read(fd, b, size + 1);
	ok = n == (ssize_t) size;
	for (size_t i = 0; ok && i < size; i++)
		ok = b[i] == (uint8_t) ((i * 31 + (size_t) seed) % 251);
	free(b);
	return ok;
}

static void
blob_digest(size_t size, int seed, uint8_t d[MAAS_SHA256_LEN])
{
	MaasSha256	ctx;

	maas_sha256_init(&ctx);
	for (size_t i = 0; i < size; i++)
	{
		uint8_t		b = (uint8_t) ((i * 31 + (size_t) seed) % 251);

		maas_sha256_update(&ctx, &b, 1);
	}
	maas_sha256_final(&ctx, d);
}

static void
test_download(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	char		path[] = "build/download_XXXXXX";
	MemSink		ms = {0};
	MaasHttpSink sink = {counting_write, counting_rewind, &ms};
	uint8_t		want[MAAS_SHA256_LEN];
	uint8_t		got[MAAS_SHA256_LEN];
	uint64_t	bytes = 0;
	const char *key;
	char		hex[65];

	if (h == NULL)
		return;
	ms.fd = mkstemp(path);
	CHECK(ms.fd >= 0);
	unlink(path);
	local_options(&opt);
	opt.max_response_bytes = 1 << 20;

	blob_digest(300000, 7, want);
	CHECK(maas_http_download(h, url("/blob?size=300000&seed=7"), &opt, &sink, want, got, &bytes,
							 &res, &err));
	CHECK(memcmp(got, want, sizeof(got)) == 0 && bytes == 300000);
	CHECK(res.body == NULL && res.len == 300000);
	CHECK(file_is_blob(ms.fd, 300000, 7));
	CHECK(ms.writes > 1);		/* it streamed */

	/* the digest differs */
	maas_http_fd_rewind(&ms.fd);
	want[0] ^= 1;
	CHECK(!maas_http_download(h, url("/blob?size=1000&seed=1"), &opt, &sink, want, got, &bytes,
							  &res, &err));
	CHECK(res.fail == MAAS_HTTP_CHECKSUM && err.status == MAAS_ERR_INVALID);
	blob_digest(1000, 1, want);
	maas_sha256_hex(want, hex);
	CHECK(msg_has(fmt("the download has sha256 \"%s\", not the expected", hex)));
	CHECK(hint_has("nothing was stored"));

	/* over the limit */
	maas_http_fd_rewind(&ms.fd);
	CHECK(!maas_http_download(h, url("/blob?size=1048577"), &opt, &sink, NULL, got, &bytes,
							  &res, &err));
	CHECK(res.fail == MAAS_HTTP_TOO_LARGE);

	/* gzip-encoded: the limit counts the decoded bytes (no zip bombs) */
	maas_http_fd_rewind(&ms.fd);
	blob_digest(50000, 5, want);
	CHECK(maas_http_download(h, url("/blob?size=50000&seed=5&gzip=1"), &opt, &sink, want, got,
							 &bytes, &res, &err));
	CHECK(bytes == 50000 && file_is_blob(ms.fd, 50000, 5));
	maas_http_fd_rewind(&ms.fd);
	opt.max_response_bytes = 100000;
	CHECK(!maas_http_download(h, url("/blob?size=1000000&gzip=1"), &opt, &sink, NULL, got, &bytes,
							  &res, &err));
	CHECK(res.fail == MAAS_HTTP_TOO_LARGE);
	opt.max_response_bytes = 50000;
	CHECK(maas_http_get(h, url("/blob?size=50000&seed=5&gzip=1"), &opt, &res, &err));
	CHECK(res.len == 50000);
	opt.max_response_bytes = 1 << 20;

	/* a 503 first: retried, and its body never reaches the sink */
	maas_http_fd_rewind(&ms.fd);
	key = new_key();
	CHECK(maas_http_download(h, url(fmt("/blob?size=5000&seed=3&key=%s&status=503&times=1", key)),
							 &opt, &sink, NULL, got, &bytes, &res, &err));
	CHECK(res.attempts == 2 && bytes == 5000 && file_is_blob(ms.fd, 5000, 3));

	/* broken mid-body after bytes were written: rewound, then whole */
	maas_http_fd_rewind(&ms.fd);
	key = new_key();
	blob_digest(5000, 4, want);
	CHECK(maas_http_download(h, url(fmt("/blob?size=5000&seed=4&key=%s&close_mid=1&times=1", key)),
							 &opt, &sink, want, got, &bytes, &res, &err));
	CHECK(res.attempts == 2 && file_is_blob(ms.fd, 5000, 4));

	/* ... and without a rewind it is not retried */
	maas_http_fd_rewind(&ms.fd);
	sink.rewind = NULL;
	key = new_key();
	CHECK(!maas_http_download(h, url(fmt("/blob?size=5000&key=%s&close_mid=1&times=1", key)),
							  &opt, &sink, NULL, got, &bytes, &res, &err));
	CHECK(res.attempts == 1 && res.fail == MAAS_HTTP_CONNECT);
	sink.rewind = counting_rewind;

	/* the sink fails */
	maas_http_fd_rewind(&ms.fd);
	ms.writes = 0;
	ms.fail_at = 2;
	CHECK(!maas_http_download(h, url("/blob?size=300000"), &opt, &sink, NULL, got, &bytes,
							  &res, &err));
	CHECK(res.fail == MAAS_HTTP_SINK && msg_has("writing the download from"));
	ms.fail_at = 0;

	/* the same guard */
	CHECK(!maas_http_download(h, "http://169.254.169.254/latest/meta-data/", &opt, &sink, NULL,
							  got, &bytes, &res, &err));
	CHECK(res.fail == MAAS_HTTP_REFUSED);
	CHECK(!maas_http_download(h, "file:///etc/passwd", &opt, &sink, NULL, got, &bytes, &res, &err));
	CHECK(res.fail == MAAS_HTTP_REFUSED);
	close(ms.fd);
	maas_http_free(h);
}

/* ---- the protocols, end to end ---- */

static bool
post(MaasHttp *h, const MaasHttpOptions *opt, const char *path, const MaasBuf *body)
{
	bool		ok = maas_http_post_json(h, url(path), body->data, body->len, opt, &res, &err);

	if (!ok)
		fprintf(stderr, "    POST %s: %s\n", path, err.msg);
	return ok;
}

static void
test_kserve_end_to_end(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	MaasBuf		b;
	float		x[40];
	float		out[20];
	int			n = 10;
	static const double w[4] = {1.0, -2.0, 0.5, 3.0};
	MaasKserveMeta meta;
	static const struct
	{
		const char *bad;
		const char *msg;
	}			bad[] = {
		{"shape", "response field \"outputs[0].shape\" is [10, 3], not [10, 2]"},
		{"datatype", "response field \"outputs[0].datatype\" is \"BYTES\", not a numeric type"},
		{"count", "response field \"outputs[0].data\" has 19 values, not 20"},
		{"type", "response field \"outputs[0].data[0]\" is not a number"},
		{"nonfinite", "response field \"outputs[0].data[0]\" is not a finite float"},
		{"nan", "response is not valid JSON"},
		{"missing", "response field \"outputs[0].data\" is missing"},
		{"nooutputs", "response field \"outputs\" is empty"},
		{"ragged", "response field \"outputs[0].data[0]\" is not a number"},
	};

	if (h == NULL)
		return;
	local_options(&opt);
	for (int i = 0; i < n * 4; i++)
		x[i] = (float) ((i * 37 % 17) - 8) / 4.0f;

	/* logistic: [1 - p, p] with p = sigmoid(x w + b), as the server's model */
	CHECK(maas_kserve_infer_request(&b, "input-0", n, 4, x, &err));
	CHECK(post(h, &opt, "/v2/models/logistic/infer", &b));
	CHECK(maas_kserve_infer_response(res.body, res.len, "probabilities", n, 2, out, NULL, &err));
	for (int i = 0; i < n; i++)
	{
		double		z = -0.5;
		double		p;

		for (int j = 0; j < 4; j++)
			z += w[j] * x[i * 4 + j];
		p = 1 / (1 + exp(-z));
		CHECK(fabs(out[2 * i + 1] - p) < 1e-6 && fabs(out[2 * i] - (1 - p)) < 1e-6);
	}
	/* the wrong output name, the wrong width */
	CHECK_FAILS(maas_kserve_infer_response(res.body, res.len, "label", n, 2, out, NULL, &err),
				"response has no output named \"label\"");
	CHECK_FAILS(maas_kserve_infer_response(res.body, res.len, NULL, n, 1, out, NULL, &err),
				"response field \"outputs[0].shape\" is [10, 2], not [10, 1]");

	/* linear, one value a row */
	CHECK(maas_kserve_infer_request(&b, "input-0", 2, 3, x, &err));
	CHECK(post(h, &opt, "/v2/models/linear/infer", &b));
	CHECK(maas_kserve_infer_response(res.body, res.len, NULL, 2, 1, out, NULL, &err));
	CHECK(fabs(out[0] - (0.5 * x[0] - 1.25 * x[1] + 2 * x[2] + 0.25)) < 1e-6);
	CHECK(fabs(out[1] - (0.5 * x[3] - 1.25 * x[4] + 2 * x[5] + 0.25)) < 1e-6);

	/* the server refuses rows of the wrong width, and says why */
	CHECK_FAILS(maas_http_post_json(h, url("/v2/models/logistic/infer"), b.data, b.len, &opt, &res, &err),
				"answered HTTP 400: bad request: expected 4 features, got 3");
	CHECK(res.attempts == 1);

	/* every wrong body, with its message */
	CHECK(maas_kserve_infer_request(&b, "input-0", n, 4, x, &err));
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
	{
		CHECK(post(h, &opt, fmt("/v2/models/logistic/infer?bad=%s", bad[k].bad), &b));
		CHECK_FAILS(maas_kserve_infer_response(res.body, res.len, NULL, n, 2, out, NULL, &err),
					bad[k].msg);
	}
	CHECK(post(h, &opt, "/v2/models/logistic/infer?malformed=1", &b));
	CHECK_FAILS(maas_kserve_infer_response(res.body, res.len, NULL, n, 2, out, NULL, &err),
				"response is not valid JSON");

	/* metadata, for registration */
	CHECK(maas_http_get(h, url("/v2/models/logistic"), &opt, &res, &err));
	CHECK(maas_kserve_metadata_parse(res.body, res.len, &meta, &err));
	CHECK(maas_kserve_metadata_check(&meta, 4, "probabilities", 2, &err));
	CHECK_FAILS(maas_kserve_metadata_check(&meta, 30, NULL, 2, &err),
				"the remote model's input does not take rows of 30 features");
	CHECK(maas_http_get(h, url("/v2/models/logistic?bad=datatype"), &opt, &res, &err));
	CHECK(maas_kserve_metadata_parse(res.body, res.len, &meta, &err));
	CHECK_FAILS(maas_kserve_metadata_check(&meta, 4, NULL, 2, &err),
				"the remote model's input has datatype \"BYTES\", not FP32");
	CHECK(maas_http_get(h, url("/v2/models/logistic?bad=type"), &opt, &res, &err));
	CHECK_FAILS(maas_kserve_metadata_parse(res.body, res.len, &meta, &err),
				"response field \"inputs\" must be an array, not an object");
	CHECK_FAILS(maas_http_get(h, url("/v2/models/fraud"), &opt, &res, &err),
				"answered HTTP 404: model 'fraud' not found");
	maas_http_free(h);
}

static void
test_openai_end_to_end(void)
{
	MaasHttp   *h = client();
	MaasHttpOptions opt;
	MaasBuf		b;
	const char *texts[5] = {"alpha", "beta", "\xc3\xa9t\xc3\xa9", "a \"quoted\"\nline", "e"};
	MaasChatMessage msgs[2] = {{"system", "You echo."}, {"user", "Summarize: caf\xc3\xa9"}};
	MaasRemoteGenParams p = {0, NAN};
	MaasRemoteGenOutput g;
	MaasRemoteGenOutput gs[5];
	float	   *e;
	int			d;
	static const struct
	{
		const char *bad;
		const char *msg;
	}			bad_emb[] = {
		{"count", "response field \"data\" has 4 embeddings, not 5"},
		{"index", "response field \"data[4].index\" repeats index 0"},
		{"dims", "response field \"data[4].embedding\" has 7 values, not 8"},
		{"type", "response field \"data[0].embedding[0]\" is not a number"},
		{"nonfinite", "response field \"data[0].embedding[0]\" is not a finite float"},
		{"nodata", "response field \"data\" is missing"},
	}, bad_chat[] = {
		{"null", "response field \"choices[0].message.content\" is null"},
		{"type", "response field \"choices[0].message.content\" must be a string, not a number"},
		{"nochoices", "response field \"choices\" is empty"},
		{"choices", "response field \"choices\" must be an array, not an object"},
		{"nomessage", "response field \"choices[0].message\" is missing"},
	}, bad_cmpl[] = {
		{"count", "response field \"choices\" has 4 entries, not 5"},
		{"index", "response field \"choices[4].index\" repeats index 0"},
		{"type", "response field \"choices[0].text\" must be a string, not an array"},
	};

	if (h == NULL)
		return;
	local_options(&opt);

	/* embeddings of a batch, placed by index even when sent back reversed */
	for (int order = 0; order < 2; order++)
	{
		CHECK(maas_openai_embeddings_request(&b, "embedder", texts, 5, 8, &err));
		CHECK(post(h, &opt, order == 0 ? "/v1/embeddings" : "/v1/embeddings?bad=order", &b));
		d = 0;
		e = maas_openai_embeddings_response(res.body, res.len, 5, &d, NULL, &err);
		CHECK(e != NULL && d == 8);
		for (int i = 0; e != NULL && i < 5; i++)
		{
			uint8_t		digest[MAAS_SHA256_LEN];
			int			wrong = 0;

			maas_sha256(texts[i], strlen(texts[i]), digest);
			for (int j = 0; j < 8; j++)
				if (e[i * 8 + j] != (digest[j] - 128) / 128.0f)
					wrong++;
			CHECK(wrong == 0);
		}
	}
	CHECK(maas_openai_embeddings_request(&b, "embedder", texts, 5, 8, &err));
	for (size_t k = 0; k < sizeof(bad_emb) / sizeof(bad_emb[0]); k++)
	{
		CHECK(post(h, &opt, fmt("/v1/embeddings?bad=%s", bad_emb[k].bad), &b));
		d = 8;
		CHECK_FAILS(maas_openai_embeddings_response(res.body, res.len, 5, &d, NULL, &err) != NULL,
					bad_emb[k].msg);
	}

	/* chat */
	CHECK(maas_openai_chat_request(&b, "gpt-test", msgs, 2, &p, &err));
	CHECK(post(h, &opt, "/v1/chat/completions", &b));
	CHECK(maas_openai_chat_response(res.body, res.len, &g, NULL, &err));
	CHECK(strcmp(g.text, "echo: Summarize: caf\xc3\xa9") == 0);
	CHECK(g.finish_reason != NULL && strcmp(g.finish_reason, "stop") == 0);
	CHECK(g.prompt_tokens == 2);
	p.max_tokens = 9;
	CHECK(maas_openai_chat_request(&b, "gpt-test", msgs, 2, &p, &err));
	CHECK(post(h, &opt, "/v1/chat/completions", &b));
	CHECK(maas_openai_chat_response(res.body, res.len, &g, NULL, &err));
	CHECK(strcmp(g.text, "echo: Sum") == 0 && strcmp(g.finish_reason, "length") == 0);
	for (size_t k = 0; k < sizeof(bad_chat) / sizeof(bad_chat[0]); k++)
	{
		CHECK(post(h, &opt, fmt("/v1/chat/completions?bad=%s", bad_chat[k].bad), &b));
		CHECK_FAILS(maas_openai_chat_response(res.body, res.len, &g, NULL, &err), bad_chat[k].msg);
	}
	CHECK(post(h, &opt, "/v1/chat/completions?malformed=1", &b));
	CHECK_FAILS(maas_openai_chat_response(res.body, res.len, &g, NULL, &err),
				"response is not valid JSON");

	/* completions, a batch of prompts */
	p.max_tokens = 0;
	for (int order = 0; order < 2; order++)
	{
		CHECK(maas_openai_completions_request(&b, "m", texts, 5, &p, &err));
		CHECK(post(h, &opt, order == 0 ? "/v1/completions" : "/v1/completions?bad=order", &b));
		CHECK(maas_openai_completions_response(res.body, res.len, 5, gs, NULL, &err));
		for (int i = 0; i < 5; i++)
			CHECK(strcmp(gs[i].text, fmt("echo: %s", texts[i])) == 0);
	}
	for (size_t k = 0; k < sizeof(bad_cmpl) / sizeof(bad_cmpl[0]); k++)
	{
		CHECK(post(h, &opt, fmt("/v1/completions?bad=%s", bad_cmpl[k].bad), &b));
		CHECK_FAILS(maas_openai_completions_response(res.body, res.len, 5, gs, NULL, &err),
					bad_cmpl[k].msg);
	}
	/* the server's 400 for a body it cannot use */
	CHECK_FAILS(maas_http_post_json(h, url("/v1/embeddings"), "{\"input\": 5}", 12, &opt, &res, &err),
				"answered HTTP 400: input must be a string or a list of strings");
	maas_http_free(h);
}

/* nothing the tests sent as a secret reached the server's log */
static void
test_secret_not_logged(void)
{
	FILE	   *f = fopen(log_path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	int			lines = 0;
	int			leaks = 0;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	while (getline(&line, &cap, f) > 0)
	{
		lines++;
		/* the query of the scrub test carries it on purpose */
		if (strstr(line, SECRET) != NULL && strstr(line, "status=401") == NULL)
			leaks++;
	}
	free(line);
	fclose(f);
	CHECK(lines > 50);
	CHECK(leaks == 0);
}

int
main(void)
{
	UNIT_RUN(test_allowlist_parse);
	UNIT_RUN(test_allowlist_errors);
	UNIT_RUN(test_check_url);
	UNIT_RUN(test_address_classes);
	UNIT_RUN(test_address_rules);
	if (!start_server(false, &server_pid, &port) ||
		!start_server(true, &tls_pid, &tls_port))
	{
		unit_fail(__FILE__, __LINE__, "the test servers started");
		stop_server(&server_pid);
		return unit_finish("http");
	}
	UNIT_RUN(test_post_and_log);
	UNIT_RUN(test_keep_alive);
	UNIT_RUN(test_retries_and_backoff);
	UNIT_RUN(test_retry_after);
	UNIT_RUN(test_error_messages);
	UNIT_RUN(test_timeouts_and_connections);
	UNIT_RUN(test_cancel);
	UNIT_RUN(test_size_limit);
	UNIT_RUN(test_redirects);
	UNIT_RUN(test_guard_connecting);
	UNIT_RUN(test_options);
	UNIT_RUN(test_tls);
	UNIT_RUN(test_download);
	UNIT_RUN(test_kserve_end_to_end);
	UNIT_RUN(test_openai_end_to_end);
	UNIT_RUN(test_secret_not_logged);
	stop_server(&server_pid);
	stop_server(&tls_pid);
	curl_global_cleanup();
	return unit_finish("http");
}
