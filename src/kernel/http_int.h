/*
 * http_int.h
 *		What http.c, http_request.c and http_guard.c share beyond http.h:
 *		the client's state and a transfer's, a few helpers, and the steps of
 *		the URL check on a libcurl URL handle, which is what curl connects
 *		with.  Kept out of http.h so that its users need no curl header.
 */
#ifndef MAAS_HTTP_INT_H
#define MAAS_HTTP_INT_H

#include <curl/curl.h>

#include "http.h"

/* set u from url; messages never repeat the URL (it may carry a key) */
extern bool maas_http_parse_url(CURLU *u, const char *url, MaasError *err);

/* check the URL in u against list, describing it in *t */
extern bool maas_http_check_curlu(const MaasAllowList *list, CURLU *u,
								  MaasUrlTarget *t, MaasError *err);

#define ERROR_BODY_MAX	4096	/* of an error response: kept for its message */

/* the state of one transfer, which the callbacks see */
typedef struct Transfer
{
	const MaasHttpOptions *opt;
	const MaasUrlTarget *target;
	const MaasHttpSink *sink;	/* download, or NULL: into buf */
	size_t		limit;

	bool		body_started;	/* the status is known from here on */
	bool		success;		/* a 2xx status */
	uint64_t	bytes;			/* of a 2xx body so far */
	MaasSha256	sha;

	/* why curl stopped, when it was us */
	bool		too_large;
	bool		canceled;
	bool		sink_failed;
	bool		nomem;
	bool		error_body_full;

	/* the last address the open-socket callback refused */
	bool		refused;
	int			refused_family;
	uint8_t		refused_addr[16];
	MaasAddrClass refused_class;

	char		retry_after[48];	/* from the last response's headers */
	bool		encoded;		/* it has a Content-Encoding */
} Transfer;

struct MaasHttp
{
	CURLM	   *multi;
	CURL	   *easy;
	CURLU	   *url;
	struct curl_slist *headers;
	struct curl_slist *resolve;
	long		sockets;
	uint64_t	rng;

	char	   *buf;			/* malloc'd: the body, or an error body */
	size_t		len;
	size_t		cap;
	uint8_t		digest[MAAS_SHA256_LEN];	/* of the last download */
	char	   *default_ca;		/* libcurl's built-in CA bundle, or NULL */

	Transfer	x;
};

/* http.c */
extern int64_t maas_http_now_ms(void);
extern bool maas_http_cancel_pending(const MaasHttpOptions *opt);
extern uint64_t maas_http_next_random(MaasHttp *h);
extern void maas_http_free_slist(struct curl_slist *list);

#endif							/* MAAS_HTTP_INT_H */
