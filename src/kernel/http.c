/*
 * http.c
 *		The libcurl client of remote models (see http.h).
 *
 * One easy handle, driven through a multi handle of its own, is kept per
 * client: the multi handle owns the connection cache, so consecutive
 * requests to a host reuse one kept-alive connection, and driving the
 * transfer with curl_multi_poll() in 50 ms slices lets this loop read the
 * cancel flags itself -- curl_easy_perform() would only call the progress
 * callback about once a second while a server is silent.
 *
 * What runs inside libcurl's callbacks, and only that:
 *	- write: appends to a malloc'd buffer (or hands bytes to the caller's
 *	  sink and the SHA-256), and stops the transfer once over the limit;
 *	- header: copies Retry-After;
 *	- progress: reads the cancel flags;
 *	- open socket: checks the address against the guard and makes the
 *	  socket.
 * None of them allocates kernel memory (maas_kalloc is palloc in the
 * server) or calls anything that could raise.  After curl returns, the
 * outcome is classified here, the body copied into kernel memory, and an
 * error, if any, written into the MaasError for the server to raise.
 *
 * This file: the client (handles, callbacks, the backend's one client);
 * http_request.c: one request (headers, the transfer, retries, errors).
 */
#include "http.h"
#include "http_int.h"
#include "json.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static MaasHttp *backend_client = NULL;
static bool curl_ready = false;

/* ---- small helpers ---- */

int64_t
maas_http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
maas_http_cancel_pending(const MaasHttpOptions *opt)
{
	for (int i = 0; i < 2; i++)
		if (opt->cancel[i] != NULL && *opt->cancel[i] != 0)
			return true;
	return false;
}

uint64_t
maas_http_next_random(MaasHttp *h)
{
	/* xorshift64*: jitter only, nothing secret depends on it */
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545F4914F6CDD1DULL;
}

void
maas_http_free_slist(struct curl_slist *list)
{
	/* header values may be secrets: wipe them before they go back */
	for (struct curl_slist *l = list; l != NULL; l = l->next)
		if (l->data != NULL)
			memset(l->data, 0, strlen(l->data));
	curl_slist_free_all(list);
}

void
maas_http_sanitize(const char *text, size_t len, size_t max, char *out)
{
	size_t		o = 0;
	size_t		i = 0;

	while (i < len)
	{
		uint32_t	cp;
		size_t		k = maas_utf8_decode((const uint8_t *) text + i, len - i, &cp);
		const char *piece = text + i;
		size_t		plen = k;

		if (k == 0)
		{
			piece = "\xEF\xBF\xBD";
			plen = 3;
			k = 1;
		}
		else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) ||
				 cp == 0x2028 || cp == 0x2029 ||
				 (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
		{
			/* controls, line separators, bidirectional overrides */
			piece = " ";
			plen = 1;
		}
		if (o + plen > max)
		{
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, piece, plen);
		o += plen;
		i += k;
	}
	out[o] = '\0';
}

/* ---- callbacks: no PostgreSQL, no kernel memory ---- */

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	MaasHttp   *h = arg;
	Transfer   *x = &h->x;
	size_t		total = size * n;

	if (!x->body_started)
	{
		long		code = 0;
		curl_off_t	declared = -1;

		x->body_started = true;
		curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
		x->success = code >= 200 && code < 300;
		curl_easy_getinfo(h->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &declared);
		if (x->success && !x->encoded && declared > 0 && (uint64_t) declared > x->limit)
		{
			x->too_large = true;	/* say so before reading any of it */
			return 0;
		}
	}

	if (!x->success)
	{
		/* an error body: keep its start for the message, stop after that */
		size_t		room = ERROR_BODY_MAX - h->len;
		size_t		take = total < room ? total : room;

		memcpy(h->buf + h->len, data, take);
		h->len += take;
		h->buf[h->len] = '\0';
		if (take < total)
		{
			x->error_body_full = true;
			return 0;
		}
		return total;
	}

	if (total > x->limit - x->bytes)
	{
		x->too_large = true;
		return 0;
	}
	if (x->sink != NULL)
	{
		maas_sha256_update(&x->sha, data, total);
		if (!x->sink->write(x->sink->arg, data, total))
		{
			x->sink_failed = true;
			return 0;
		}
		x->bytes += total;
		return total;
	}
	if (h->len + total + 1 > h->cap)
	{
		size_t		cap = h->cap;
		char	   *bigger;

		while (cap < h->len + total + 1)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		bigger = realloc(h->buf, cap);
		if (bigger == NULL)
		{
			x->nomem = true;
			return 0;
		}
		h->buf = bigger;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, data, total);
	h->len += total;
	h->buf[h->len] = '\0';
	x->bytes += total;
	return total;
}

static size_t
header_cb(char *line, size_t size, size_t n, void *arg)
{
	MaasHttp   *h = arg;
	Transfer   *x = &h->x;
	size_t		total = size * n;
	static const char name[] = "retry-after:";
	size_t		nl = sizeof(name) - 1;

	if (total >= 5 && memcmp(line, "HTTP/", 5) == 0)
	{
		x->retry_after[0] = '\0';	/* a new response begins */
		x->encoded = false;
	}
	else if (total > 17 && strncasecmp(line, "content-encoding:", 17) == 0)
		x->encoded = true;		/* Content-Length counts the encoded bytes */
	else if (total > nl && strncasecmp(line, name, nl) == 0)
	{
		const char *v = line + nl;
		const char *end = line + total;
		size_t		vl;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
						   end[-1] == ' ' || end[-1] == '\t'))
			end--;
		vl = (size_t) (end - v);
		if (vl >= sizeof(x->retry_after))
			vl = 0;				/* no valid value is that long */
		memcpy(x->retry_after, v, vl);
		x->retry_after[vl] = '\0';
	}
	return total;
}

static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	MaasHttp   *h = arg;

	(void) dltotal;
	(void) dlnow;
	(void) ultotal;
	(void) ulnow;
	if (maas_http_cancel_pending(h->x.opt))
	{
		h->x.canceled = true;
		return 1;
	}
	return 0;
}

static curl_socket_t
open_socket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	MaasHttp   *h = arg;
	Transfer   *x = &h->x;
	struct sockaddr_storage ss;
	const uint8_t *bytes;
	uint16_t	port;
	MaasAddrClass why = MAAS_ADDR_RESERVED;
	curl_socket_t fd;

	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &a->addr, a->addrlen < sizeof(ss) ? a->addrlen : sizeof(ss));
	if (purpose != CURLSOCKTYPE_IPCXN)
		goto refuse;
	if (a->family == AF_INET && a->addrlen >= sizeof(struct sockaddr_in))
	{
		struct sockaddr_in *in = (struct sockaddr_in *) &ss;

		bytes = (const uint8_t *) &in->sin_addr;
		port = ntohs(in->sin_port);
	}
	else if (a->family == AF_INET6 && a->addrlen >= sizeof(struct sockaddr_in6))
	{
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;

		bytes = (const uint8_t *) &in6->sin6_addr;
		port = ntohs(in6->sin6_port);
	}
	else
		goto refuse;
	if (port != x->target->port ||
		!maas_http_address_allowed(x->target, a->family, bytes, &why))
	{
		x->refused = true;
		x->refused_family = a->family;
		memcpy(x->refused_addr, bytes, a->family == AF_INET ? 4 : 16);
		x->refused_class = port != x->target->port ? MAAS_ADDR_RESERVED : why;
		return CURL_SOCKET_BAD;
	}
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd >= 0)
		h->sockets++;
	return fd;

refuse:
	x->refused = true;
	x->refused_family = 0;
	x->refused_class = MAAS_ADDR_RESERVED;
	return CURL_SOCKET_BAD;
}

/* ---- the client ---- */

MaasHttp *
maas_http_new(MaasError *err)
{
	MaasHttp   *h;

	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		{
			maas_error(err, MAAS_ERR_LIBRARY, "libcurl could not be initialized");
			return NULL;
		}
		curl_ready = true;
	}
	h = calloc(1, sizeof(MaasHttp));
	if (h == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	h->multi = curl_multi_init();
	h->easy = curl_easy_init();
	h->url = curl_url();
	h->cap = ERROR_BODY_MAX + 1;
	h->buf = malloc(h->cap);
	if (h->multi == NULL || h->easy == NULL || h->url == NULL || h->buf == NULL)
	{
		maas_http_free(h);
		maas_error(err, MAAS_ERR_NOMEM, "out of memory making an HTTP client");
		return NULL;
	}
	{
		char	   *ca = NULL;

		/* remembered so that a call without ca_file gets it back */
		if (curl_easy_getinfo(h->easy, CURLINFO_CAINFO, &ca) == CURLE_OK && ca != NULL &&
			(h->default_ca = strdup(ca)) == NULL)
		{
			maas_http_free(h);
			maas_error_nomem(err);
			return NULL;
		}
	}
	h->rng = (uint64_t) maas_http_now_ms() * 0x9E3779B97F4A7C15ULL ^
		(uint64_t) getpid() << 32 ^ (uint64_t) (uintptr_t) h;
	if (h->rng == 0)
		h->rng = 1;

	/* what never changes: the guard, the callbacks, no signals, no proxy */
	if (curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_PROXY, "") != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_OPENSOCKETDATA, h) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, h) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_XFERINFOFUNCTION, progress_cb) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_XFERINFODATA, h) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_USERAGENT, "maas") != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_CURLU, h->url) != CURLE_OK)
	{
		maas_http_free(h);
		maas_error(err, MAAS_ERR_LIBRARY,
				   "libcurl lacks an option maas needs (version 7.85 or later is required)");
		return NULL;
	}
	return h;
}

void
maas_http_free(MaasHttp *h)
{
	if (h == NULL)
		return;
	if (h->easy != NULL)
		curl_easy_cleanup(h->easy);
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	if (h->url != NULL)
		curl_url_cleanup(h->url);
	maas_http_free_slist(h->headers);
	curl_slist_free_all(h->resolve);
	free(h->buf);
	free(h->default_ca);
	if (backend_client == h)
		backend_client = NULL;
	free(h);
}

MaasHttp *
maas_http_backend(MaasError *err)
{
	if (backend_client == NULL)
		backend_client = maas_http_new(err);
	return backend_client;
}

void
maas_http_backend_free(void)
{
	maas_http_free(backend_client);
	backend_client = NULL;
}

long
maas_http_connections(const MaasHttp *h)
{
	return h->sockets;
}

void
maas_http_options_init(MaasHttpOptions *opt, const MaasAllowList *allow)
{
	memset(opt, 0, sizeof(*opt));
	opt->allow = allow;
	opt->connect_timeout_ms = 10000;
	opt->timeout_ms = 30000;
	opt->max_response_bytes = 16 * 1024 * 1024;
	opt->max_retries = 2;
	opt->backoff_initial_ms = 200;
	opt->backoff_max_ms = 10000;
	opt->max_redirects = 0;
}

bool
maas_http_fd_write(void *arg, const void *data, size_t len)
{
	int			fd = *(int *) arg;
	const char *p = data;

	while (len > 0)
	{
		ssize_t		w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t) w;
	}
	return true;
}

bool
maas_http_fd_rewind(void *arg)
{
	int			fd = *(int *) arg;

	return ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0;
}

