/*
 * http.h
 *		The HTTP client of remote models: an allow-list of hosts with a guard
 *		against server-side request forgery (http_guard.c), and a libcurl
 *		client with timeouts, size limits, retries and cancel (http.c).
 *
 * Nothing here knows PostgreSQL, and nothing here runs PostgreSQL code from
 * inside libcurl: the callbacks only copy bytes into malloc'd buffers,
 * compare addresses and read the caller's cancel flags.  A transfer that
 * fails returns false with a MaasError after curl has returned; the server
 * raises it then.
 *
 * The guard, in the order it applies:
 *	1. the URL is parsed by libcurl's own URL parser, and that parsed handle
 *	   is what curl connects with (no second parser to disagree with);
 *	   only http and https, no user name or password in it, no zone id;
 *	2. its host and port must match an entry of the allow-list (before any
 *	   DNS lookup or connection);
 *	3. every address curl is about to connect to is checked in curl's
 *	   open-socket callback, which makes the socket itself, so the address
 *	   checked is the address connected (no window for DNS rebinding);
 *	4. no proxy (the environment's http_proxy is ignored), no redirects
 *	   for POST, and a GET follows at most max_redirects, each target going
 *	   through 1-3 again.
 *
 * Which addresses an entry lets through (step 3):
 *	- an IP address entry ("10.0.0.5:8080", "[::1]"): exactly that address;
 *	- a host name entry ("models.internal:8080"): public addresses, and
 *	  loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7) and shared
 *	  (100.64/10) ones, since naming an internal host is how a DBA says
 *	  it may be reached; never link-local (169.254/16 with the cloud
 *	  metadata address 169.254.169.254, fe80::/10), unspecified, multicast,
 *	  broadcast or reserved addresses -- those only by address;
 *	- a wildcard entry ("*.example.com"): public addresses only.
 * IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 addresses are judged
 * by the IPv4 address they carry.
 *
 * Secrets.  The authorization header is sent and never written anywhere:
 * not in an error message (a server's error text has it scrubbed out), not
 * in a log, and curl's verbose mode is never on.  Error messages name the
 * host and port only, never the path or query of a URL, which may carry
 * keys too.
 */
#ifndef MAAS_HTTP_H
#define MAAS_HTTP_H

#include <signal.h>

#include "kernel.h"
#include "sha256.h"

/* ---- the allow-list: maas.remote_allowed_hosts ---- */

typedef enum MaasHostKind
{
	MAAS_HOST_NAME,				/* "models.internal" */
	MAAS_HOST_WILDCARD,			/* "*.example.com": any name below it */
	MAAS_HOST_IPV4,				/* "10.0.0.5" */
	MAAS_HOST_IPV6				/* "[fd00::5]" */
} MaasHostKind;

#define MAAS_HOST_MAXLEN 253	/* longest DNS name */
#define MAAS_ALLOW_MAX_HOSTS 256

typedef struct MaasAllowedHost
{
	uint8_t		kind;			/* MaasHostKind */
	uint16_t	port;			/* 0: the scheme's default port only (80, 443) */
	char		host[MAAS_HOST_MAXLEN + 1]; /* lower case, no trailing dot;
											 * wildcard: the suffix with its
											 * dot (".example.com"); IP: as
											 * written, without brackets */
	uint8_t		addr[16];		/* IPv4 in addr[0..4), IPv6 in addr[0..16) */
} MaasAllowedHost;

typedef struct MaasAllowList
{
	int			n;
	MaasAllowedHost *hosts;		/* kernel memory */
} MaasAllowList;

/*
 * Parse a list: entries "host", "host:port", "1.2.3.4:port", "[v6]:port"
 * or "*.domain:port", separated by commas, blanks around them ignored.  An
 * empty (or all-blank) text is the empty list, which allows nothing.
 * Errors name the entry: MAAS_ERR_INVALID, MAAS_ERR_LIMIT (over
 * MAAS_ALLOW_MAX_HOSTS entries), MAAS_ERR_NOMEM.
 */
extern bool maas_allowlist_parse(const char *text, MaasAllowList *list,
								 MaasError *err);

/* where a checked URL goes */
typedef struct MaasUrlTarget
{
	bool		https;
	uint16_t	port;
	uint8_t		kind;			/* MaasHostKind of the host: NAME, IPV4, IPV6 */
	uint8_t		addr[16];		/* for IPV4 / IPV6 */
	bool		explicit_entry; /* matched by a name or address entry, not a
								 * wildcard */
	char		host[MAAS_HOST_MAXLEN + 1]; /* as curl connects to it, lower
											 * case, IPv6 without brackets */
	char		where[MAAS_HOST_MAXLEN + 16];	/* "host:port", "[v6]:port":
												 * what messages show */
} MaasUrlTarget;

/*
 * Check a URL against the list without connecting or resolving anything:
 * for registration-time errors, and the first step of every request.
 * target may be NULL.  MAAS_ERR_INVALID for a malformed URL, a scheme other
 * than http and https, credentials in it, or a host or port not on the list.
 */
extern bool maas_http_check_url(const MaasAllowList *list, const char *url,
								MaasUrlTarget *target, MaasError *err);

/* what an address is, for the guard's third step */
typedef enum MaasAddrClass
{
	MAAS_ADDR_PUBLIC,
	MAAS_ADDR_LOOPBACK,			/* 127/8, ::1 */
	MAAS_ADDR_PRIVATE,			/* 10/8, 172.16/12, 192.168/16, fc00::/7 */
	MAAS_ADDR_SHARED,			/* 100.64/10, carrier-grade NAT */
	MAAS_ADDR_LINK_LOCAL,		/* 169.254/16, fe80::/10 */
	MAAS_ADDR_UNSPECIFIED,		/* 0/8, :: */
	MAAS_ADDR_MULTICAST,		/* 224/4, ff00::/8, 255.255.255.255 */
	MAAS_ADDR_RESERVED			/* 240/4, documentation, benchmarking,
								 * 192.0.0/24, fec0::/10, 100::/64 */
} MaasAddrClass;

/* family AF_INET (addr[0..4)) or AF_INET6 (addr[0..16)) */
extern MaasAddrClass maas_addr_class(int family, const uint8_t *addr);
extern const char *maas_addr_class_name(MaasAddrClass c);

/*
 * Whether a checked target may connect to an address (the rules above).
 * On false, *why is set to the address's class.
 */
extern bool maas_http_address_allowed(const MaasUrlTarget *target, int family,
									  const uint8_t *addr, MaasAddrClass *why);

/* ---- the client ---- */

/*
 * A client holds a libcurl handle and its connection cache, so requests to
 * the same host reuse one kept-alive connection.  It is malloc'd (libcurl
 * memory, not kernel memory) and lives until maas_http_free().
 */
typedef struct MaasHttp MaasHttp;

extern MaasHttp *maas_http_new(MaasError *err);
extern void maas_http_free(MaasHttp *http);

/*
 * The process's one client, made on first use and kept: what a backend
 * uses.  The server frees it at exit with maas_http_backend_free().
 */
extern MaasHttp *maas_http_backend(MaasError *err);
extern void maas_http_backend_free(void);

/* sockets the client has opened so far (connections made, not reused) */
extern long maas_http_connections(const MaasHttp *http);

typedef struct MaasHttpOptions
{
	const MaasAllowList *allow; /* required */
	long		connect_timeout_ms; /* each connection attempt */
	long		timeout_ms;		/* the whole call: every attempt and wait */
	size_t		max_response_bytes; /* body of a successful response */
	int			max_retries;	/* attempts after the first */
	long		backoff_initial_ms; /* wait before the first retry */
	long		backoff_max_ms; /* longest wait the doubling reaches */
	int			max_redirects;	/* GET only; POST never follows one */

	/*
	 * A header line sent with every request of the call, as "Name: value"
	 * (typically "Authorization: Bearer ..."), or NULL.  It is a secret:
	 * never shown, and scrubbed from servers' error texts.
	 */
	const char *auth_header;

	/*
	 * The call stops when any of these is non-zero (in the server:
	 * &QueryCancelPending and &ProcDiePending), within about 50 ms, also
	 * during a wait between attempts.  They are only read.
	 */
	const volatile sig_atomic_t *cancel[2];

	const char *ca_file;		/* PEM bundle of trusted CAs; NULL: system's */

	/*
	 * Fixed name resolutions, curl's "host:port:address" form, NULL-
	 * terminated; NULL for none.  For tests: they make a name resolve to
	 * chosen addresses without DNS, and the guard still checks them.
	 */
	const char *const *resolve;
} MaasHttpOptions;

/*
 * Defaults: connect 10 s, total 30 s, 16 MB, 2 retries, backoff 200 ms
 * doubling to 10 s, no redirects, no authorization, no cancel flags.
 */
extern void maas_http_options_init(MaasHttpOptions *opt,
								   const MaasAllowList *allow);

/* why a call failed (MaasError.status is the coarser code) */
typedef enum MaasHttpFail
{
	MAAS_HTTP_OK,
	MAAS_HTTP_BAD_REQUEST,		/* bad URL or options (MAAS_ERR_INVALID) */
	MAAS_HTTP_REFUSED,			/* the guard refused a host or address
								 * (MAAS_ERR_INVALID) */
	MAAS_HTTP_CONNECT,			/* DNS, connect, or the connection broke
								 * (MAAS_ERR_IO) */
	MAAS_HTTP_TLS,				/* handshake or certificate (MAAS_ERR_IO) */
	MAAS_HTTP_TIMEOUT,			/* timeout_ms passed (MAAS_ERR_IO) */
	MAAS_HTTP_STATUS,			/* the server answered with an error status
								 * or a redirect (MAAS_ERR_IO) */
	MAAS_HTTP_TOO_LARGE,		/* body over max_response_bytes
								 * (MAAS_ERR_LIMIT) */
	MAAS_HTTP_CANCELED,			/* a cancel flag was set (MAAS_ERR_CANCELED) */
	MAAS_HTTP_SINK,				/* the download sink failed (MAAS_ERR_IO) */
	MAAS_HTTP_CHECKSUM,			/* download: sha256 differs (MAAS_ERR_INVALID) */
	MAAS_HTTP_NOMEM,			/* (MAAS_ERR_NOMEM) */
	MAAS_HTTP_LIBRARY			/* libcurl failed otherwise (MAAS_ERR_LIBRARY) */
} MaasHttpFail;

typedef struct MaasHttpResult
{
	MaasHttpFail fail;
	long		status;			/* HTTP status of the last response, 0: none */
	int			attempts;		/* requests sent (retries + 1, and redirects) */
	bool		reused;			/* the last attempt used a kept connection */
	char	   *body;			/* on success: kernel memory, NUL-terminated */
	size_t		len;
} MaasHttpResult;

/*
 * POST a JSON body to url and return the response body.  Success is a 2xx
 * status.  429 and 5xx (but 501 and 505) and connection failures are
 * retried with exponential backoff and jitter (each wait uniform in
 * [d/2, d], d doubling from backoff_initial_ms to backoff_max_ms), or after
 * the server's Retry-After (seconds or an HTTP date) when it sends one; a
 * wait that would end past timeout_ms is not started.  Other statuses fail
 * at once with the server's message, cut short and sanitized.  res
 * receives the body, and on failure what happened.
 */
extern bool maas_http_post_json(MaasHttp *http, const char *url,
								const char *body, size_t len,
								const MaasHttpOptions *opt,
								MaasHttpResult *res, MaasError *err);

/* GET url, with the same rules; follows up to opt->max_redirects */
extern bool maas_http_get(MaasHttp *http, const char *url,
						  const MaasHttpOptions *opt, MaasHttpResult *res,
						  MaasError *err);

/*
 * Where a download's bytes go.  write() runs inside libcurl's callback: it
 * must not call PostgreSQL (in the server: write(2) to a file descriptor
 * opened beforehand) and returns false to stop the transfer.  rewind()
 * drops what was written so a failed attempt can be retried from the
 * start; NULL means an attempt that already delivered bytes is not retried.
 */
typedef struct MaasHttpSink
{
	bool		(*write) (void *arg, const void *data, size_t len);
	bool		(*rewind) (void *arg);
	void	   *arg;
} MaasHttpSink;

/* a sink writing to the file descriptor *(int *) arg, from its start */
extern bool maas_http_fd_write(void *arg, const void *data, size_t len);
extern bool maas_http_fd_rewind(void *arg);

/*
 * GET url into sink, at most opt->max_response_bytes, computing SHA-256 as
 * the bytes stream.  sha256 (may be NULL) receives the digest and *bytes
 * (may be NULL) the size; when expect is not NULL a different digest fails
 * with MAAS_HTTP_CHECKSUM.  Redirects up to opt->max_redirects, each
 * checked.  res->body stays NULL.
 */
extern bool maas_http_download(MaasHttp *http, const char *url,
							   const MaasHttpOptions *opt,
							   const MaasHttpSink *sink,
							   const uint8_t *expect,
							   uint8_t sha256[MAAS_SHA256_LEN],
							   uint64_t *bytes, MaasHttpResult *res,
							   MaasError *err);

/*
 * A server's text made fit for an error message: at most max bytes (cut at
 * a character), control characters replaced by spaces and invalid UTF-8 by
 * U+FFFD, "..." when cut.  out has room for max + 4 bytes.
 */
extern void maas_http_sanitize(const char *text, size_t len, size_t max,
							   char *out);

#endif							/* MAAS_HTTP_H */
