/*
 * remote.c
 *		Remote models in the server: the settings of the HTTP client, the
 *		backend's one client, a call site's remote environment, and the
 *		errors of remote calls.
 *
 * A remote version is a layer program with a remote layer (ops_remote.c),
 * served by the same code as a local model (serve.c).  What its forward
 * pass needs from the server lives here, per call site: the client (one
 * per backend, made on first use, its connection kept alive between calls
 * and freed at exit), the allowed hosts and limits as the settings say at
 * the moment of the call, the cancel flags, and the values of the secrets
 * the version names -- read once per statement under its snapshot and for
 * the model's owner, kept in a memory context of their own that is wiped
 * before it is freed.  A call's requests and responses go to a context
 * reset at the next call, so a call site's memory stays bounded however
 * many rows it scores.
 *
 * Nothing here runs inside libcurl: the client's callbacks only read the
 * interrupt flags, and a cancel is raised here, after the client returned.
 */
#include "remote.h"
#include "registry.h"
#include "services.h"

#include <limits.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/memutils.h"

/* settings */
static char *allowed_hosts_text = NULL;
static MaasAllowList *allowed_hosts = NULL; /* the setting's extra */
static int	max_response_kb = 16384;
static int	max_download_kb = 1048576;
static int	timeout_ms = 30000;
static int	connect_timeout_ms = 10000;
static char *ca_file = NULL;

static bool client_exit_registered = false;

/* a call site's remote environment (serve.h keeps a pointer to it) */
struct MaasRemoteCall
{
	MemoryContext cxt;			/* this struct; the two below are children */
	MemoryContext secret_cxt;	/* the statement's secrets, wiped on reset */
	MemoryContext call_cxt;		/* one call's requests and responses */
	bool		ready;			/* secrets read for this statement */
	MaasRemoteEnv env;
};

/* a kernel message as a detail: a sentence */
char *
maas_remote_sentence(const char *msg)
{
	char	   *s = pstrdup(msg);
	size_t		len = strlen(s);

	if (len > 0 && s[0] >= 'a' && s[0] <= 'z')
		s[0] = (char) (s[0] - 'a' + 'A');
	if (len > 0 && s[len - 1] != '.')
		s = psprintf("%s.", s);
	return s;
}

/* ---- the allowed hosts ---- */

/*
 * Parse the list into one malloc'd block, as a setting's extra must be:
 * the list, then its hosts.
 */
static bool
check_allowed_hosts(char **newval, void **extra, GucSource source)
{
	MaasAllowList list;
	MaasError	err;
	MaasAllowList *copy;
	size_t		bytes;

	if (!maas_allowlist_parse(*newval ? *newval : "", &list, &err))
	{
		GUC_check_errdetail("%s", maas_remote_sentence(err.msg));
		if (err.hint)
			GUC_check_errhint("%s", err.hint);
		return false;
	}
	bytes = sizeof(MaasAllowList) + sizeof(MaasAllowedHost) * (size_t) list.n;
	copy = malloc(bytes);
	if (copy == NULL)
	{
		GUC_check_errdetail("Out of memory.");
		return false;
	}
	copy->n = list.n;
	copy->hosts = (MaasAllowedHost *) (copy + 1);
	if (list.n > 0)
		memcpy(copy->hosts, list.hosts, sizeof(MaasAllowedHost) * (size_t) list.n);
	*extra = copy;
	return true;
}

static void
assign_allowed_hosts(const char *newval, void *extra)
{
	allowed_hosts = (MaasAllowList *) extra;
}

void
maas_remote_init(void)
{
	DefineCustomStringVariable("maas.remote_allowed_hosts",
							   "Hosts remote models and weight downloads may reach.",
							   "A comma-separated list of host, host:port, IP addresses "
							   "and *.domain wildcards; empty allows none.",
							   &allowed_hosts_text,
							   "",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   check_allowed_hosts, assign_allowed_hosts, NULL);

	DefineCustomIntVariable("maas.remote_max_response_size",
							"Largest response a remote model may send to one request.",
							"A larger body fails the call before it is read to the end.",
							&max_response_kb,
							16384, 1, 1048576,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("maas.remote_max_download_size",
							"Largest file maas_register_url downloads.",
							NULL,
							&max_download_kb,
							1048576, 1, MAX_KILOBYTES,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("maas.remote_timeout",
							"Time one request to a remote model may take, retries included.",
							"Used when the model's endpoint sets no timeout_ms.",
							&timeout_ms,
							30000, 1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("maas.remote_connect_timeout",
							"Time connecting to a remote model may take.",
							"Used when the model's endpoint sets no connect_timeout_ms.",
							&connect_timeout_ms,
							10000, 1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("maas.remote_ca_file",
							   "File of PEM certificates that HTTPS servers are verified against.",
							   "Empty means the system's certificate store.",
							   &ca_file,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
}

size_t
maas_remote_max_response(void)
{
	return (size_t) max_response_kb * 1024;
}

size_t
maas_remote_max_download(void)
{
	return (size_t) max_download_kb * 1024;
}

void
maas_remote_http_options(MaasHttpOptions *opt, size_t max_bytes)
{
	static const MaasAllowList none = {0, NULL};

	maas_http_options_init(opt, allowed_hosts ? allowed_hosts : &none);
	opt->timeout_ms = timeout_ms;
	opt->connect_timeout_ms = connect_timeout_ms;
	opt->max_response_bytes = max_bytes;
	opt->cancel[0] = &QueryCancelPending;
	opt->cancel[1] = &ProcDiePending;
	opt->ca_file = ca_file != NULL && ca_file[0] != '\0' ? ca_file : NULL;
}

void
maas_remote_check_url(const char *url, const char *what)
{
	static const MaasAllowList none = {0, NULL};
	MaasError	err;

	if (!maas_http_check_url(allowed_hosts ? allowed_hosts : &none, url, NULL, &err))
		maas_remote_raise(&err, strstr(err.msg, "is not in the allowed hosts") ? MAAS_HTTP_REFUSED :
						  MAAS_HTTP_BAD_REQUEST, false, what);
}

/* ---- the client ---- */

static void
free_client(int code, Datum arg)
{
	maas_http_backend_free();
}

MaasHttp *
maas_remote_client(void)
{
	MaasError	err;
	MaasHttp   *http;

	if (!client_exit_registered)
	{
		on_proc_exit(free_client, (Datum) 0);
		client_exit_registered = true;
	}
	http = maas_http_backend(&err);
	if (http == NULL)
		maas_raise(&err, ERRCODE_INTERNAL_ERROR, "could not make an HTTP client", NULL);
	return http;
}

/* ---- errors ---- */

void
maas_remote_raise(const MaasError *err, MaasHttpFail fail, bool bad_response,
				  const char *message)
{
	int			code;

	if (err->status == MAAS_ERR_CANCELED)
	{
		/* the server's own error: cancel, statement timeout, termination */
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling statement due to user request")));
	}
	if (bad_response)
		code = ERRCODE_PROTOCOL_VIOLATION;
	else
		switch (fail)
		{
			case MAAS_HTTP_REFUSED:
				code = ERRCODE_INSUFFICIENT_PRIVILEGE;
				break;
			case MAAS_HTTP_BAD_REQUEST:
				code = ERRCODE_INVALID_PARAMETER_VALUE;
				break;
			case MAAS_HTTP_CONNECT:
			case MAAS_HTTP_TLS:
			case MAAS_HTTP_TIMEOUT:
				code = ERRCODE_CONNECTION_FAILURE;
				break;
			case MAAS_HTTP_STATUS:
			case MAAS_HTTP_LIBRARY:
				code = ERRCODE_CONNECTION_EXCEPTION;
				break;
			case MAAS_HTTP_TOO_LARGE:
				code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
				break;
			case MAAS_HTTP_SINK:
				code = ERRCODE_IO_ERROR;
				break;
			case MAAS_HTTP_CHECKSUM:
				code = ERRCODE_DATA_CORRUPTED;
				break;
			case MAAS_HTTP_NOMEM:
				code = ERRCODE_OUT_OF_MEMORY;
				break;
			default:
				/* not the client's: the op's own checks, by status */
				code = err->status == MAAS_ERR_LIMIT ? ERRCODE_PROGRAM_LIMIT_EXCEEDED :
					err->status == MAAS_ERR_NOMEM ? ERRCODE_OUT_OF_MEMORY :
					ERRCODE_INVALID_PARAMETER_VALUE;
				break;
		}
	ereport(ERROR,
			(errcode(code),
			 errmsg("%s", message),
			 errdetail("%s", maas_remote_sentence(err->msg)),
			 err->hint ? errhint("%s", err->hint) : 0));
	pg_unreachable();
}

/* ---- a call site's environment ---- */

static void
wipe_secrets(void *arg)
{
	MaasRemoteEnv *env = (MaasRemoteEnv *) arg;

	for (int i = 0; i < env->n_secrets; i++)
		explicit_bzero((char *) env->secrets[i].value, strlen(env->secrets[i].value));
	env->n_secrets = 0;
	env->secrets = NULL;
}

void
maas_remote_attach(MaasServeState *st, const char *model)
{
	MaasRemoteCall *rc = st->remote;

	if (rc == NULL)
	{
		MemoryContext cxt = AllocSetContextCreate(st->cxt, "maas remote call site",
												  ALLOCSET_SMALL_SIZES);

		rc = MemoryContextAllocZero(cxt, sizeof(MaasRemoteCall));
		rc->cxt = cxt;
		rc->secret_cxt = AllocSetContextCreate(cxt, "maas remote secrets",
											   ALLOCSET_SMALL_SIZES);
		rc->call_cxt = AllocSetContextCreate(cxt, "maas remote call",
											 ALLOCSET_DEFAULT_SIZES);
		st->remote = rc;
	}
	/* a new statement: its secrets are read again before the first call */
	MemoryContextReset(rc->secret_cxt);
	rc->ready = false;
}

void
maas_remote_detach(MaasServeState *st)
{
	if (st->remote != NULL)
	{
		MemoryContextDelete(st->remote->cxt);
		st->remote = NULL;
	}
}

/* the secrets the version's remote layers name, for its owner */
static void
read_secrets(MaasRemoteCall *rc, MaasServeState *st)
{
	const MaasNet *net = &st->m->net;
	Oid			owner = InvalidOid;
	MaasRemoteSecret *secrets;
	MemoryContextCallback *cb;
	MemoryContext old;
	int			n = 0;

	MemoryContextReset(rc->secret_cxt);
	old = MemoryContextSwitchTo(rc->secret_cxt);
	secrets = palloc0(sizeof(MaasRemoteSecret) * (net->n_layers + 1));
	/* the layers' endpoints, and a remote text model's */
	for (int i = 0; i <= net->n_layers; i++)
	{
		const MaasRemoteEndpoint *e = i < net->n_layers ?
			maas_remote_endpoint(&net->layers[i]) : st->m->remote;
		bool		have = false;

		if (e == NULL || e->secret == NULL)
			continue;
		for (int k = 0; k < n; k++)
			have |= strcmp(secrets[k].name, e->secret) == 0;
		if (have)
			continue;
		if (!OidIsValid(owner))
		{
			MaasVersionInfo info;

			if (!maas_version_info(&st->ref, &info) || !OidIsValid(info.owner))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("version %d of model \"%s\" was dropped while in use",
								st->ref.version, st->model)));
			owner = info.owner;
		}
		secrets[n].name = e->secret;
		secrets[n].value = maas_secret_value(e->secret, owner, st->model);
		n++;
	}
	rc->env.secrets = secrets;
	rc->env.n_secrets = n;
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = wipe_secrets;
	cb->arg = &rc->env;
	MemoryContextRegisterResetCallback(rc->secret_cxt, cb);
	MemoryContextSwitchTo(old);
	rc->ready = true;
}

/*
 * The call site's environment for a call: its secrets (once per
 * statement), the client, the settings of the moment; the call's memory
 * is rc->call_cxt, emptied here.
 */
static MaasRemoteCall *
call_ready(MaasServeState *st)
{
	MaasRemoteCall *rc = st->remote;

	if (!rc->ready)
		read_secrets(rc, st);
	rc->env.http = maas_remote_client();
	maas_remote_http_options(&rc->env.options, maas_remote_max_response());
	rc->env.tick = &maas_interrupts_tick;
	MemoryContextReset(rc->call_cxt);
	return rc;
}

static void
call_failed(MaasServeState *st, const MaasError *err)
{
	maas_remote_raise(err, st->remote->env.fail, st->remote->env.bad_response,
					  psprintf("call to remote model \"%s\" failed", st->model));
}

/* the remote model's outputs for n rows; NULL with err set when it failed */
static const float *
remote_run(MaasServeState *st, const MaasBlas *blas, int n, const float *x,
		   float *work, MaasError *err)
{
	MaasRemoteCall *rc = call_ready(st);
	MaasBatch	batch;
	const float *y;
	MemoryContext old;

	memset(&batch, 0, sizeof(batch));
	batch.n = n;
	batch.t = 1;
	batch.x = x;
	batch.remote = &rc->env;
	old = MemoryContextSwitchTo(rc->call_cxt);
	y = maas_net_run(&st->m->net, blas, &batch, 0, work, err);
	MemoryContextSwitchTo(old);
	return y;
}

const float *
maas_remote_forward(MaasServeState *st, const MaasBlas *blas, int n,
					const float *x, float *work)
{
	MaasError	err;
	const float *y = remote_run(st, blas, n, x, work, &err);

	if (y == NULL)
		call_failed(st, &err);
	return y;
}

/*
 * The same for a shadow (rollout.c): a failed call returns NULL and raises
 * nothing (reading the version's secrets still may).
 */
const float *
maas_remote_forward_quiet(MaasServeState *st, const MaasBlas *blas, int n,
						  const float *x, float *work)
{
	MaasError	err;

	return remote_run(st, blas, n, x, work, &err);
}

MaasRemoteGenOutput *
maas_remote_generate_texts(MaasServeState *st, const char *const *prompts, int n,
						   const MaasRemoteGenParams *params)
{
	MaasRemoteCall *rc = call_ready(st);
	MaasRemoteGenOutput *outs = palloc0(sizeof(MaasRemoteGenOutput) * Max(n, 1));
	MaasRemoteGenOutput *got;
	MaasError	err;
	MemoryContext old = MemoryContextSwitchTo(rc->call_cxt);
	bool		ok;

	got = palloc0(sizeof(MaasRemoteGenOutput) * Max(n, 1));
	ok = maas_remote_generate(st->m->remote, &rc->env, prompts, n, params, got, &err);
	MemoryContextSwitchTo(old);
	if (!ok)
		call_failed(st, &err);
	/* out of the call's memory, which the next call empties */
	for (int i = 0; i < n; i++)
	{
		outs[i] = got[i];
		outs[i].text = pnstrdup(got[i].text, got[i].len);
		outs[i].finish_reason = got[i].finish_reason ? pstrdup(got[i].finish_reason) : NULL;
	}
	return outs;
}

float *
maas_remote_embed_texts(MaasServeState *st, const char *const *texts, int n, int *dims)
{
	MaasRemoteCall *rc = call_ready(st);
	MaasError	err;
	MemoryContext old = MemoryContextSwitchTo(rc->call_cxt);
	float	   *v;
	float	   *out;

	*dims = 0;
	v = maas_remote_embed(st->m->remote, &rc->env, texts, n, dims, &err);
	MemoryContextSwitchTo(old);
	if (v == NULL)
		call_failed(st, &err);
	out = palloc(sizeof(float) * (size_t) n * (size_t) *dims);
	memcpy(out, v, sizeof(float) * (size_t) n * (size_t) *dims);
	return out;
}
