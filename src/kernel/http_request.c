/*
 * http_request.c
 *		One request of the libcurl client (see http.h, and http.c for the
 *		client and its callbacks): the headers, the transfer driven through
 *		the multi handle in slices that read the cancel flags, waits and
 *		retries (Retry-After, backoff), and the outcome classified into a
 *		MaasHttpResult and a MaasError whose text never holds a secret.
 */
#include "http.h"
#include "http_int.h"
#include "json.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SHOWN_MAX		160		/* of a server's text in a message */
#define POLL_MS			50		/* longest slice of curl_multi_poll() */
#define SLEEP_STEP_MS	20		/* of the wait between attempts */
#define KEEP_BUF_MAX	(1024 * 1024)	/* a bigger buffer is freed after use */
#define MSG_MAX			1024	/* messages are composed here, maas_error cuts */

/* ---- one request ---- */

/* "Name: value" with a token name and no CR, LF */
static bool
valid_header_line(const char *line)
{
	const char *p = line;

	while (*p != '\0' && *p != ':')
	{
		if (strchr("!#$%&'*+-.^_`|~", *p) == NULL &&
			!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= 'A' && *p <= 'Z')))
			return false;
		p++;
	}
	if (p == line || *p != ':')
		return false;
	return strpbrk(p, "\r\n") == NULL;
}

static bool
set_headers(MaasHttp *h, bool json, const char *auth, MaasError *err)
{
	struct curl_slist *list = NULL;
	struct curl_slist *next;
	const char *lines[4];
	int			n = 0;

	maas_http_free_slist(h->headers);
	h->headers = NULL;
	if (json)
	{
		lines[n++] = "Content-Type: application/json";
		lines[n++] = "Accept: application/json";
	}
	lines[n++] = "Expect:";		/* no 100-continue round trip */
	if (auth != NULL)
		lines[n++] = auth;
	for (int i = 0; i < n; i++)
	{
		next = curl_slist_append(list, lines[i]);
		if (next == NULL)
		{
			maas_http_free_slist(list);
			return maas_error_nomem(err);
		}
		list = next;
	}
	h->headers = list;
	if (curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers) != CURLE_OK)
		return maas_error(err, MAAS_ERR_LIBRARY, "libcurl refused the request headers");
	return true;
}

/*
 * Run the transfer set up on h->easy to its end, a cancel, or the deadline;
 * the handle is out of the multi handle again when this returns.
 */
static CURLcode
run_transfer(MaasHttp *h, int64_t deadline)
{
	CURLcode	result = CURLE_OK;
	bool		done = false;

	if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	for (;;)
	{
		int			running = 0;
		int			queued;
		CURLMsg    *m;

		if (curl_multi_perform(h->multi, &running) != CURLM_OK)
		{
			result = CURLE_FAILED_INIT;
			break;
		}
		while ((m = curl_multi_info_read(h->multi, &queued)) != NULL)
		{
			if (m->msg == CURLMSG_DONE && m->easy_handle == h->easy)
			{
				result = m->data.result;
				done = true;
			}
		}
		if (done)
			break;
		if (running == 0)
		{
			result = CURLE_FAILED_INIT;
			break;
		}
		if (maas_http_cancel_pending(h->x.opt))
		{
			h->x.canceled = true;
			result = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (maas_http_now_ms() > deadline + 250)
		{
			/* curl keeps the timeout itself; this is only a backstop */
			result = CURLE_OPERATION_TIMEDOUT;
			break;
		}
		if (curl_multi_poll(h->multi, NULL, 0, POLL_MS, NULL) != CURLM_OK)
		{
			result = CURLE_FAILED_INIT;
			break;
		}
	}
	curl_multi_remove_handle(h->multi, h->easy);
	return result;
}

/* wait ms, in short steps; false when a cancel flag ends it */
static bool
wait_ms(long ms, const MaasHttpOptions *opt)
{
	int64_t		until = maas_http_now_ms() + ms;
	int64_t		left;

	while ((left = until - maas_http_now_ms()) > 0)
	{
		struct timespec ts;

		if (maas_http_cancel_pending(opt))
			return false;
		if (left > SLEEP_STEP_MS)
			left = SLEEP_STEP_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long) left * 1000000L;
		nanosleep(&ts, NULL);
	}
	return !maas_http_cancel_pending(opt);
}

/* Retry-After in ms: -1 when absent or unreadable */
static long
retry_after_ms(const char *v)
{
	if (v[0] == '\0')
		return -1;
	if (strspn(v, "0123456789") == strlen(v))
	{
		long		s = strlen(v) > 7 ? 9999999 : strtol(v, NULL, 10);

		return s * 1000;
	}
	else
	{
		time_t		when = curl_getdate(v, NULL);
		time_t		now = time(NULL);

		if (when == (time_t) -1)
			return -1;
		if (when <= now)
			return 0;
		if (when - now > 9999999)
			return 9999999L * 1000;
		return (long) (when - now) * 1000;
	}
}

static bool
retryable_status(long status)
{
	return status == 429 || (status >= 500 && status <= 599 &&
							 status != 501 && status != 505);
}

/* the value of a "Name: value" header line, and its token after a scheme */
static void
secret_parts(const char *auth, const char **value, const char **token)
{
	const char *v;
	const char *sp;

	*value = *token = NULL;
	if (auth == NULL || (v = strchr(auth, ':')) == NULL)
		return;
	v++;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v == '\0')
		return;
	*value = v;
	sp = strchr(v, ' ');
	if (sp != NULL && sp[1] != '\0')
		*token = sp + 1;
}

/* replace every occurrence of secret (4 bytes or longer) in s[0..*len) */
static void
scrub(char *s, size_t *len, const char *secret)
{
	static const char mark[] = "[secret]";
	size_t		sl;
	size_t		i = 0;

	if (secret == NULL || (sl = strlen(secret)) < 4)
		return;
	while (i + sl <= *len)
	{
		if (memcmp(s + i, secret, sl) == 0)
		{
			/* the mark, cut to the secret's length when that is shorter */
			size_t		ml = sl < sizeof(mark) - 1 ? sl : sizeof(mark) - 1;

			memcpy(s + i, mark, ml);
			memmove(s + i + ml, s + i + sl, *len - i - sl);
			*len -= sl - ml;
			i += ml;
		}
		else
			i++;
	}
	s[*len] = '\0';
}

/*
 * What to show of an error body: the message a JSON error carries
 * ({"error": {"message": ...}}, {"error": ...}, {"detail": ...},
 * {"message": ...}) or the text itself; secrets scrubbed, sanitized, cut.
 */
static void
error_snippet(const char *body, size_t len, const char *auth, char *out)
{
	MaasError	ignored;
	MaasJson   *j = len > 0 ? maas_json_parse(body, len, 8, NULL, &ignored) : NULL;
	const char *text = body;
	size_t		tl = len;
	char	   *copy;
	const char *value;
	const char *token;

	if (j != NULL && j->type == MAAS_JSON_OBJECT)
	{
		static const char *const keys[] = {"error", "detail", "message"};

		for (int i = 0; i < 3; i++)
		{
			const MaasJson *v = maas_json_get(j, keys[i]);

			if (v != NULL && v->type == MAAS_JSON_OBJECT)
				v = maas_json_get(v, "message");
			if (v != NULL && v->type == MAAS_JSON_STRING)
			{
				text = v->u.string;
				tl = (size_t) v->n;
				break;
			}
		}
	}
	while (tl > 0 && (*text == ' ' || *text == '\n' || *text == '\r' || *text == '\t'))
	{
		text++;
		tl--;
	}
	while (tl > 0 && (text[tl - 1] == ' ' || text[tl - 1] == '\n' ||
					  text[tl - 1] == '\r' || text[tl - 1] == '\t'))
		tl--;
	copy = maas_kalloc(tl + 1);
	if (copy == NULL)
	{
		strcpy(out, "(out of memory)");
		return;
	}
	memcpy(copy, text, tl);
	copy[tl] = '\0';
	secret_parts(auth, &value, &token);
	scrub(copy, &tl, value);
	scrub(copy, &tl, token);
	if (tl == 0)
		strcpy(out, "(no message)");
	else
		maas_http_sanitize(copy, tl, SHOWN_MAX, out);
}

static bool
fail(MaasHttpResult *res, MaasHttpFail why, MaasError *err, MaasStatus status,
	 const char *fmt,...)
__attribute__((format(printf, 5, 6)));

static bool
fail(MaasHttpResult *res, MaasHttpFail why, MaasError *err, MaasStatus status,
	 const char *fmt,...)
{
	va_list		ap;
	char		msg[MSG_MAX];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	res->fail = why;
	return maas_error(err, status, "%s", msg);
}

/* a curl failure that another attempt may cure */
static bool
retryable_curl(CURLcode rc)
{
	switch (rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
		case CURLE_OPERATION_TIMEDOUT:	/* the connect timeout, when time is left */
			return true;
		default:
			return false;
	}
}

/* the message of a curl failure, into msg; its MaasHttpFail */
static MaasHttpFail
describe_curl(CURLcode rc, const char *where, long timeout_ms, char *msg, size_t size)
{
	switch (rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
			snprintf(msg, size, "could not resolve the host of \"%s\"", where);
			return MAAS_HTTP_CONNECT;
		case CURLE_COULDNT_CONNECT:
			snprintf(msg, size, "could not connect to \"%s\"", where);
			return MAAS_HTTP_CONNECT;
		case CURLE_SEND_ERROR:
			snprintf(msg, size, "sending to \"%s\" failed", where);
			return MAAS_HTTP_CONNECT;
		case CURLE_RECV_ERROR:
			snprintf(msg, size, "receiving from \"%s\" failed", where);
			return MAAS_HTTP_CONNECT;
		case CURLE_GOT_NOTHING:
			snprintf(msg, size, "\"%s\" closed the connection without answering", where);
			return MAAS_HTTP_CONNECT;
		case CURLE_PARTIAL_FILE:
			snprintf(msg, size, "\"%s\" closed the connection before the end of the response", where);
			return MAAS_HTTP_CONNECT;
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			snprintf(msg, size, "the HTTP/2 stream from \"%s\" broke", where);
			return MAAS_HTTP_CONNECT;
		case CURLE_OPERATION_TIMEDOUT:
			snprintf(msg, size, "the call to \"%s\" timed out after %ld ms", where, timeout_ms);
			return MAAS_HTTP_TIMEOUT;
		case CURLE_WEIRD_SERVER_REPLY:
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_BAD_CONTENT_ENCODING:
			snprintf(msg, size, "\"%s\" did not answer in valid HTTP", where);
			return MAAS_HTTP_CONNECT;
		case CURLE_PEER_FAILED_VERIFICATION:
			snprintf(msg, size, "the TLS certificate of \"%s\" could not be verified", where);
			return MAAS_HTTP_TLS;
		case CURLE_SSL_CONNECT_ERROR:
			snprintf(msg, size, "the TLS handshake with \"%s\" failed", where);
			return MAAS_HTTP_TLS;
		case CURLE_SSL_CACERT_BADFILE:
			snprintf(msg, size, "the CA file for \"%s\" could not be read", where);
			return MAAS_HTTP_TLS;
		case CURLE_OUT_OF_MEMORY:
			snprintf(msg, size, "out of memory");
			return MAAS_HTTP_NOMEM;
		default:
			snprintf(msg, size, "the call to \"%s\" failed (%s)", where, curl_easy_strerror(rc));
			return MAAS_HTTP_LIBRARY;
	}
}

static MaasStatus
status_of(MaasHttpFail why)
{
	switch (why)
	{
		case MAAS_HTTP_OK:
			return MAAS_OK;
		case MAAS_HTTP_BAD_REQUEST:
		case MAAS_HTTP_REFUSED:
		case MAAS_HTTP_CHECKSUM:
			return MAAS_ERR_INVALID;
		case MAAS_HTTP_TOO_LARGE:
			return MAAS_ERR_LIMIT;
		case MAAS_HTTP_CANCELED:
			return MAAS_ERR_CANCELED;
		case MAAS_HTTP_NOMEM:
			return MAAS_ERR_NOMEM;
		case MAAS_HTTP_LIBRARY:
			return MAAS_ERR_LIBRARY;
		default:
			return MAAS_ERR_IO;
	}
}

static bool
check_options(const MaasHttpOptions *opt, MaasHttpResult *res, MaasError *err)
{
	if (opt == NULL || opt->allow == NULL)
		return fail(res, MAAS_HTTP_BAD_REQUEST, err, MAAS_ERR_INVALID,
					"an HTTP call needs the allowed hosts");
	if (opt->timeout_ms < 1 || opt->connect_timeout_ms < 1)
		return fail(res, MAAS_HTTP_BAD_REQUEST, err, MAAS_ERR_INVALID,
					"timeouts must be at least 1 ms");
	if (opt->max_response_bytes < 1)
		return fail(res, MAAS_HTTP_BAD_REQUEST, err, MAAS_ERR_INVALID,
					"the response size limit must be at least 1 byte");
	if (opt->max_retries < 0 || opt->max_retries > 100 ||
		opt->max_redirects < 0 || opt->max_redirects > 20)
		return fail(res, MAAS_HTTP_BAD_REQUEST, err, MAAS_ERR_INVALID,
					"retries must be from 0 to 100 and redirects from 0 to 20");
	if (opt->backoff_initial_ms < 0 || opt->backoff_max_ms < opt->backoff_initial_ms)
		return fail(res, MAAS_HTTP_BAD_REQUEST, err, MAAS_ERR_INVALID,
					"backoff must be non-negative and its maximum at least its start");
	if (opt->auth_header != NULL && !valid_header_line(opt->auth_header))
		return fail(res, MAAS_HTTP_BAD_REQUEST, err, MAAS_ERR_INVALID,
					"the authorization header is malformed: it must be one \"Name: value\" line");
	return true;
}

/*
 * The one request loop: attempts, redirects and waits, for post_json (body
 * != NULL), get and download (sink != NULL).
 */
static bool
request(MaasHttp *h, const char *url, const char *body, size_t body_len,
		const MaasHttpOptions *opt, const MaasHttpSink *sink,
		MaasHttpResult *res, MaasError *err)
{
	Transfer   *x = &h->x;
	MaasUrlTarget target;
	MaasUrlTarget first;
	int64_t		start = maas_http_now_ms();
	int64_t		deadline;
	int			retries = 0;
	int			redirects = 0;
	const char *auth;
	char		msg[MSG_MAX];

	memset(res, 0, sizeof(*res));
	if (!check_options(opt, res, err))
		return false;
	deadline = start + opt->timeout_ms;
	auth = opt->auth_header;

	if (!maas_http_parse_url(h->url, url, err))
	{
		res->fail = MAAS_HTTP_BAD_REQUEST;
		return false;
	}
	if (!maas_http_check_curlu(opt->allow, h->url, &target, err))
	{
		res->fail = MAAS_HTTP_REFUSED;
		return false;
	}
	first = target;

	/* the request */
	if (!set_headers(h, body != NULL, auth, err))
		return fail(res, err->status == MAAS_ERR_NOMEM ? MAAS_HTTP_NOMEM : MAAS_HTTP_LIBRARY,
					err, err->status, "%s", err->msg);
	if (body != NULL)
	{
		if (curl_easy_setopt(h->easy, CURLOPT_POST, 1L) != CURLE_OK ||
			curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
			curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len) != CURLE_OK)
			return fail(res, MAAS_HTTP_LIBRARY, err, MAAS_ERR_LIBRARY,
						"libcurl refused the request body");
	}
	else if (curl_easy_setopt(h->easy, CURLOPT_HTTPGET, 1L) != CURLE_OK)
		return fail(res, MAAS_HTTP_LIBRARY, err, MAAS_ERR_LIBRARY,
					"libcurl refused a GET request");
	curl_slist_free_all(h->resolve);
	h->resolve = NULL;
	for (int i = 0; opt->resolve != NULL && opt->resolve[i] != NULL; i++)
	{
		struct curl_slist *next = curl_slist_append(h->resolve, opt->resolve[i]);

		if (next == NULL)
			return fail(res, MAAS_HTTP_NOMEM, err, MAAS_ERR_NOMEM, "out of memory");
		h->resolve = next;
	}
	if (curl_easy_setopt(h->easy, CURLOPT_RESOLVE, h->resolve) != CURLE_OK ||
		curl_easy_setopt(h->easy, CURLOPT_CAINFO,
						 opt->ca_file != NULL ? opt->ca_file : h->default_ca) != CURLE_OK)
		return fail(res, MAAS_HTTP_LIBRARY, err, MAAS_ERR_LIBRARY,
					"libcurl refused the resolve list or CA file");

	for (;;)
	{
		int64_t		left = deadline - maas_http_now_ms();
		CURLcode	rc;
		long		status = 0;
		long		connects = 0;
		long		wait;
		long		after;
		MaasHttpFail why;

		if (maas_http_cancel_pending(opt))
			return fail(res, MAAS_HTTP_CANCELED, err, MAAS_ERR_CANCELED,
						"the call to \"%s\" was canceled", target.where);
		if (left <= 0)
		{
			fail(res, MAAS_HTTP_TIMEOUT, err, MAAS_ERR_IO,
				 "the call to \"%s\" timed out after %ld ms",
				 target.where, opt->timeout_ms);
			return maas_error_hint(err, "Raise the model's timeout, or send fewer rows a request.");
		}

		/* one attempt */
		memset(x, 0, sizeof(*x));
		x->opt = opt;
		x->target = &target;
		x->sink = sink;
		x->limit = opt->max_response_bytes;
		if (sink != NULL)
			maas_sha256_init(&x->sha);
		h->len = 0;
		h->buf[0] = '\0';
		if (curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, (long) left) != CURLE_OK ||
			curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS,
							 (long) (opt->connect_timeout_ms < left ? opt->connect_timeout_ms : left)) != CURLE_OK)
			return fail(res, MAAS_HTTP_LIBRARY, err, MAAS_ERR_LIBRARY,
						"libcurl refused a timeout");
		res->attempts++;
		rc = run_transfer(h, deadline);
		curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h->easy, CURLINFO_NUM_CONNECTS, &connects);
		res->status = status;
		res->reused = connects == 0 && status != 0;

		/* what stopped it */
		if (x->canceled || maas_http_cancel_pending(opt))
			return fail(res, MAAS_HTTP_CANCELED, err, MAAS_ERR_CANCELED,
						"the call to \"%s\" was canceled", target.where);
		if (x->too_large)
		{
			fail(res, MAAS_HTTP_TOO_LARGE, err, MAAS_ERR_LIMIT,
				 "the response from \"%s\" is larger than the limit of %zu bytes",
				 target.where, opt->max_response_bytes);
			return maas_error_hint(err, "Raise the response size limit, or send fewer rows a request.");
		}
		if (x->sink_failed)
			return fail(res, MAAS_HTTP_SINK, err, MAAS_ERR_IO,
						"writing the download from \"%s\" failed", target.where);
		if (x->nomem)
			return fail(res, MAAS_HTTP_NOMEM, err, MAAS_ERR_NOMEM,
						"out of memory receiving from \"%s\"", target.where);
		if (rc == CURLE_COULDNT_CONNECT && x->refused)
		{
			char		addr[INET6_ADDRSTRLEN] = "?";

			if (x->refused_family != 0)
				inet_ntop(x->refused_family, x->refused_addr, addr, sizeof(addr));
			fail(res, MAAS_HTTP_REFUSED, err, MAAS_ERR_INVALID,
				 "host \"%s\" resolves to %s address \"%s\", which the allowed hosts do not permit",
				 target.where, maas_addr_class_name(x->refused_class), addr);
			return maas_error_hint(err, "A host reaches loopback and private addresses only when maas.remote_allowed_hosts names it, and link-local, multicast or reserved ones only when it lists the address itself.");
		}

		if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && x->error_body_full))
		{
			char		shown[SHOWN_MAX + 4];
			char	   *location = NULL;

			if (status >= 200 && status < 300)
			{
				if (sink == NULL)
				{
					res->body = maas_kalloc(h->len + 1);
					if (res->body == NULL)
						return fail(res, MAAS_HTTP_NOMEM, err, MAAS_ERR_NOMEM,
									"out of memory");
					memcpy(res->body, h->buf, h->len + 1);
					res->len = h->len;
				}
				else
				{
					maas_sha256_final(&x->sha, h->digest);
					res->len = (size_t) x->bytes;
				}
				if (h->cap > KEEP_BUF_MAX)
				{
					char	   *small = realloc(h->buf, ERROR_BODY_MAX + 1);

					if (small != NULL)
					{
						h->buf = small;
						h->cap = ERROR_BODY_MAX + 1;
					}
				}
				res->fail = MAAS_HTTP_OK;
				return true;
			}

			curl_easy_getinfo(h->easy, CURLINFO_REDIRECT_URL, &location);
			if (status >= 300 && status < 400 && location != NULL)
			{
				MaasUrlTarget next;
				MaasError	why_not;
				CURLU	   *probe;
				bool		allowed;

				probe = curl_url();
				if (probe == NULL)
					return fail(res, MAAS_HTTP_NOMEM, err, MAAS_ERR_NOMEM, "out of memory");
				allowed = maas_http_parse_url(probe, location, &why_not) &&
					maas_http_check_curlu(opt->allow, probe, &next, &why_not);
				curl_url_cleanup(probe);
				if (!allowed)
				{
					fail(res, MAAS_HTTP_REFUSED, err, MAAS_ERR_INVALID,
						 "\"%s\" redirected (HTTP %ld) to a URL that is not allowed: %s",
						 target.where, status, why_not.msg);
					return maas_error_hint(err, why_not.hint);
				}
				if (body != NULL || redirects >= opt->max_redirects)
				{
					fail(res, MAAS_HTTP_STATUS, err, MAAS_ERR_IO,
						 "\"%s\" redirected (HTTP %ld) to \"%s\"; %s",
						 target.where, status, next.where,
						 body != NULL ? "a POST does not follow redirects" :
						 "no more redirects are followed");
					return maas_error_hint(err, "Register the URL the server redirects to.");
				}
				if (!maas_http_parse_url(h->url, location, err) ||
					!maas_http_check_curlu(opt->allow, h->url, &target, err))
					return fail(res, MAAS_HTTP_REFUSED, err, MAAS_ERR_INVALID, "%s", err->msg);
				/* the secret goes only to the host it was given for */
				if (auth != NULL && strcmp(target.where, first.where) != 0)
				{
					auth = NULL;
					if (!set_headers(h, false, NULL, err))
						return fail(res, MAAS_HTTP_NOMEM, err, err->status, "%s", err->msg);
				}
				redirects++;
				continue;
			}

			if (!retryable_status(status))
			{
				error_snippet(h->buf, h->len, opt->auth_header, shown);
				return fail(res, MAAS_HTTP_STATUS, err, MAAS_ERR_IO,
							"\"%s\" answered HTTP %ld: %s", target.where, status, shown);
			}
			error_snippet(h->buf, h->len, opt->auth_header, shown);
			snprintf(msg, sizeof(msg), "\"%s\" answered HTTP %ld: %s",
					 target.where, status, shown);
			why = MAAS_HTTP_STATUS;
		}
		else
		{
			bool		timed_out = rc == CURLE_OPERATION_TIMEDOUT && maas_http_now_ms() >= deadline - 5;

			why = describe_curl(rc, target.where, opt->timeout_ms, msg, sizeof(msg));
			if (rc == CURLE_OPERATION_TIMEDOUT && !timed_out)
			{
				snprintf(msg, sizeof(msg), "connecting to \"%s\" timed out after %ld ms",
						 target.where, opt->connect_timeout_ms);
				why = MAAS_HTTP_CONNECT;
			}
			if (timed_out || !retryable_curl(rc))
			{
				fail(res, why, err, status_of(why), "%s", msg);
				if (why == MAAS_HTTP_TIMEOUT)
					maas_error_hint(err, "Raise the model's timeout, or send fewer rows a request.");
				else if (why == MAAS_HTTP_TLS)
					maas_error_hint(err, "The server's certificate must be signed by a certificate authority this server trusts.");
				return false;
			}
		}

		/* a failure another attempt may cure: wait, then retry */
		if (retries >= opt->max_retries)
		{
			if (res->attempts > 1)
				return fail(res, why, err, status_of(why), "%s (after %d attempts)",
							msg, res->attempts);
			return fail(res, why, err, status_of(why), "%s", msg);
		}
		if (sink != NULL && x->bytes > 0 &&
			(sink->rewind == NULL || !sink->rewind(sink->arg)))
			return fail(res, why, err, status_of(why), "%s", msg);

		after = why == MAAS_HTTP_STATUS ? retry_after_ms(x->retry_after) : -1;
		if (after >= 0)
			wait = after;
		else
		{
			long		d = opt->backoff_initial_ms;

			for (int i = 0; i < retries && d < opt->backoff_max_ms; i++)
				d = d > opt->backoff_max_ms / 2 ? opt->backoff_max_ms : d * 2;
			if (d > opt->backoff_max_ms)
				d = opt->backoff_max_ms;
			wait = d / 2 + (long) (maas_http_next_random(h) % (uint64_t) (d / 2 + 1));
		}
		if (maas_http_now_ms() + wait >= deadline)
		{
			if (after >= 0)
				return fail(res, why, err, status_of(why),
							"%s (it asked to retry after %ld s, past the timeout)",
							msg, (after + 999) / 1000);
			return fail(res, why, err, status_of(why), "%s (no time left to retry)", msg);
		}
		if (!wait_ms(wait, opt))
			return fail(res, MAAS_HTTP_CANCELED, err, MAAS_ERR_CANCELED,
						"the call to \"%s\" was canceled", target.where);
		retries++;
	}
}

bool
maas_http_post_json(MaasHttp *h, const char *url, const char *body, size_t len,
					const MaasHttpOptions *opt, MaasHttpResult *res,
					MaasError *err)
{
	if (body == NULL)
		body = "";
	return request(h, url, body, len, opt, NULL, res, err);
}

bool
maas_http_get(MaasHttp *h, const char *url, const MaasHttpOptions *opt,
			  MaasHttpResult *res, MaasError *err)
{
	return request(h, url, NULL, 0, opt, NULL, res, err);
}

bool
maas_http_download(MaasHttp *h, const char *url, const MaasHttpOptions *opt,
				   const MaasHttpSink *sink, const uint8_t *expect,
				   uint8_t sha256[MAAS_SHA256_LEN], uint64_t *bytes,
				   MaasHttpResult *res, MaasError *err)
{
	uint8_t		digest[MAAS_SHA256_LEN];

	if (sink == NULL || sink->write == NULL)
	{
		memset(res, 0, sizeof(*res));
		return fail(res, MAAS_HTTP_BAD_REQUEST, err, MAAS_ERR_INVALID,
					"a download needs a sink");
	}
	if (!request(h, url, NULL, 0, opt, sink, res, err))
		return false;
	memcpy(digest, h->digest, MAAS_SHA256_LEN);
	if (sha256 != NULL)
		memcpy(sha256, digest, MAAS_SHA256_LEN);
	if (bytes != NULL)
		*bytes = (uint64_t) res->len;
	if (expect != NULL && memcmp(expect, digest, MAAS_SHA256_LEN) != 0)
	{
		char		want[65];
		char		got[65];

		maas_sha256_hex(expect, want);
		maas_sha256_hex(digest, got);
		fail(res, MAAS_HTTP_CHECKSUM, err, MAAS_ERR_INVALID,
			 "the download has sha256 \"%s\", not the expected \"%s\"", got, want);
		return maas_error_hint(err, "Check that the URL and the sha256 name the same file; nothing was stored.");
	}
	return true;
}
