/*
 * remote.h
 *		Remote models in the server: the settings of the HTTP client, the
 *		environment a call site's remote layers run with (remote.c), the
 *		secrets they send (remote_secret.c), and registering endpoints and
 *		weights from URLs (remote_register.c).
 */
#ifndef MAAS_REMOTE_H
#define MAAS_REMOTE_H

#include "postgres.h"

#include "http.h"
#include "ops_remote.h"
#include "serve.h"

/* ---- remote.c ---- */

/* maas.remote_* settings, from _PG_init */
extern void maas_remote_init(void);

/*
 * Client options from the settings: the allowed hosts, the CA file, the
 * cancel flags (QueryCancelPending, ProcDiePending), the default timeouts
 * and retries, and max_bytes as the response size limit.
 */
extern void maas_remote_http_options(MaasHttpOptions *opt, size_t max_bytes);

/* maas.remote_max_response_size and maas.remote_max_download_size, in bytes */
extern size_t maas_remote_max_response(void);
extern size_t maas_remote_max_download(void);

/* the backend's one client (freed at exit), or raise */
extern MaasHttp *maas_remote_client(void);

/* a kernel's message as an error detail: capitalised, with a period */
extern char *maas_remote_sentence(const char *msg);

/* check a URL against the allowed hosts now, or raise */
extern void maas_remote_check_url(const char *url, const char *what);

/*
 * Raise a failed remote call: message is the primary message, the
 * kernel's the detail; the errcode follows what happened (fail, and
 * whether the server answered with something else than asked).  A cancel
 * raises the server's own cancel or timeout error.
 */
extern void maas_remote_raise(const MaasError *err, MaasHttpFail fail,
							  bool bad_response, const char *message)
			pg_attribute_noreturn();

/*
 * A call site's remote environment.  maas_serve_resolve attaches it when
 * the version it resolved has remote layers (once per statement, so that
 * secrets are read again), and detaches it when the version is local.
 */
extern void maas_remote_attach(MaasServeState *st, const char *model);
extern void maas_remote_detach(MaasServeState *st);

/* maas_net_run over a remote model, raising its errors (serve.c) */
extern const float *maas_remote_forward(MaasServeState *st, const MaasBlas *blas,
										int n, const float *x, float *work);
extern const float *maas_remote_forward_quiet(MaasServeState *st, const MaasBlas *blas,
											  int n, const float *x, float *work);

/*
 * A remote text model's calls (its endpoint is st->m->remote): n prompts'
 * continuations, n texts' embeddings (n * *dims floats), in the current
 * memory context, or raise.
 */
extern MaasRemoteGenOutput *maas_remote_generate_texts(MaasServeState *st,
													   const char *const *prompts, int n,
													   const MaasRemoteGenParams *params);
extern float *maas_remote_embed_texts(MaasServeState *st, const char *const *texts,
									  int n, int *dims);

/* ---- remote_text.c: the text functions' remote branches ---- */

/* maas_generate(model, prompt, params) and maas_embed(model, input) */
extern Datum maas_remote_generate_call(FunctionCallInfo fcinfo, MaasServeState *st);
extern Datum maas_remote_embed_call(FunctionCallInfo fcinfo, MaasServeState *st);

/* ---- remote_secret.c ---- */

/*
 * The value of secret name for a model of role owner, read under the
 * active snapshot, in the current memory context; raises when there is no
 * such secret or owner may not use it.
 */
extern char *maas_secret_value(const char *name, Oid owner, const char *model);

/* raise unless secret name exists and a model of role owner may use it */
extern void maas_secret_check(const char *name, Oid owner);

#endif							/* MAAS_REMOTE_H */
