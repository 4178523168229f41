/*
 * http_int.h
 *		What http.c and http_guard.c share beyond http.h: the steps of the
 *		URL check on a libcurl URL handle, which is what curl connects with.
 *		Kept out of http.h so that its users need no curl header.
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

#endif							/* MAAS_HTTP_INT_H */
