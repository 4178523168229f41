/*
 * text_generate.c
 *		maas_generate(model, prompt, params): text from a language model.
 *
 * The prompt is tokenized, run once, and continued one token at a time
 * with the KV cache (the kernel's generate.c), greedy unless the params
 * ask for sampling.  The result is the continuation only, never the
 * prompt.  Each token checks for interrupts, so cancel and
 * statement_timeout stop a long generation at once; the tokens produced
 * are counted in maas.stats.
 */
#include "remote.h"
#include "rollout.h"
#include "stats.h"
#include "text.h"

#include "generate.h"

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "mb/pg_wchar.h"

#include <math.h>

#define MAX_STOPS	16

#define DEFAULT_MAX_NEW_TOKENS	50

static void
param_error(const char *key, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid generation parameter \"%s\"", key),
			 errdetail("\"%s\" must be %s.", key, what)));
}

static double
param_number(const char *key, JsonbValue *v, const char *what)
{
	if (v->type != jbvNumeric)
		param_error(key, what);
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(v->val.numeric)));
}

static int64
param_int(const char *key, JsonbValue *v, int64 min, int64 max, const char *what)
{
	double		d = param_number(key, v, what);

	if (!(d >= (double) min && d <= (double) max) || d != floor(d))
		param_error(key, what);
	return (int64) d;
}

static char *
utf8_of(JsonbValue *v, size_t *len)
{
	char	   *s = pg_server_to_any(v->val.string.val, v->val.string.len, PG_UTF8);

	*len = s == v->val.string.val ? (size_t) v->val.string.len : strlen(s);
	return s;
}

/* the "version" of a params object: a pinned version, or 0 */
static int32
params_version(Jsonb *params)
{
	JsonbValue *v;

	if (!JsonContainerIsObject(&params->root) || JsonContainerIsScalar(&params->root))
		return 0;				/* parse_params says what is wrong */
	v = getKeyJsonValueFromContainer(&params->root, "version", 7, NULL);
	if (v == NULL)
		return 0;
	return (int32) param_int("version", v, 1, PG_INT32_MAX, "a positive whole number");
}

/*
 * The "key" of a params object, which routes the call while the model has
 * a canary (rollout.c): a string's characters or a number's text, as the
 * row form hashes a column's text; NULL without one (route by call).
 */
static const char *
params_key(Jsonb *params, size_t *len)
{
	JsonbValue *v;
	char	   *s;

	if (!JsonContainerIsObject(&params->root) || JsonContainerIsScalar(&params->root))
		return NULL;
	v = getKeyJsonValueFromContainer(&params->root, "key", 3, NULL);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
	{
		*len = v->val.string.len;
		return v->val.string.val;
	}
	if (v->type != jbvNumeric)
		param_error("key", "a string or a number");
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	*len = strlen(s);
	return s;
}

/* the generation parameters of a params object (see doc/text-models.md) */
static void
parse_params(Jsonb *params, const MaasModel *m, MaasGenParams *p,
			 const char **stops, size_t *stop_lens)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	bool		seeded = false;

	memset(p, 0, sizeof(*p));
	p->max_new_tokens = DEFAULT_MAX_NEW_TOKENS;
	p->sampling.top_p = 1.0f;
	p->stop_at_eos = true;
	p->stop = stops;
	p->stop_len = stop_lens;

	if (!JsonContainerIsObject(&params->root) || JsonContainerIsScalar(&params->root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("generation parameters must be a JSON object")));
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "max_new_tokens") == 0)
			p->max_new_tokens = (int) param_int(key, &v, 1, m->n_positions,
												psprintf("a whole number from 1 to the model's context, %d",
														 m->n_positions));
		else if (strcmp(key, "temperature") == 0)
		{
			double		t = param_number(key, &v, "a number of at least 0");

			if (!(t >= 0) || !isfinite((float) t))
				param_error(key, "a number of at least 0");
			p->sampling.temperature = (float) t;
		}
		else if (strcmp(key, "top_k") == 0)
			p->sampling.top_k = (int) param_int(key, &v, 0, m->vocab,
												"a whole number from 0 (all tokens) to the vocabulary's size");
		else if (strcmp(key, "top_p") == 0)
		{
			double		t = param_number(key, &v, "a number above 0 and at most 1");

			if (!(t > 0 && t <= 1))
				param_error(key, "a number above 0 and at most 1");
			p->sampling.top_p = (float) t;
		}
		else if (strcmp(key, "seed") == 0)
		{
			p->seed = (uint64) param_int(key, &v, 0, INT64CONST(9007199254740991),
										 "a whole number from 0 to 2^53 - 1");
			seeded = true;
		}
		else if (strcmp(key, "version") == 0)
			;					/* read before the model was resolved */
		else if (strcmp(key, "key") == 0)
		{
			/* read when the call was routed (params_key) */
			if (v.type != jbvString && v.type != jbvNumeric && v.type != jbvNull)
				param_error(key, "a string or a number");
		}
		else if (strcmp(key, "ignore_eos") == 0)
		{
			if (v.type != jbvBool)
				param_error(key, "true or false");
			p->stop_at_eos = !v.val.boolean;
		}
		else if (strcmp(key, "stop") == 0)
		{
			if (v.type == jbvString)
			{
				stops[0] = utf8_of(&v, &stop_lens[0]);
				p->n_stop = 1;
			}
			else if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
			{
				int			n = JsonContainerSize(v.val.binary.data);

				if (n > MAX_STOPS)
					param_error(key, psprintf("a string or an array of at most %d strings", MAX_STOPS));
				for (int i = 0; i < n; i++)
				{
					JsonbValue *e = getIthJsonbValueFromContainer(v.val.binary.data, i);

					if (e->type != jbvString || e->val.string.len == 0)
						param_error(key, "a string or an array of non-empty strings");
					stops[i] = utf8_of(e, &stop_lens[i]);
				}
				p->n_stop = n;
			}
			else
				param_error(key, "a string or an array of strings");
			for (int i = 0; i < p->n_stop; i++)
				if (stop_lens[i] == 0)
					param_error(key, "a string or an array of non-empty strings");
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown generation parameter \"%s\"", key),
					 errhint("The parameters are max_new_tokens, temperature, top_k, top_p, seed, stop, ignore_eos, version and key.")));
	}
	/* sampling without a seed: a fresh one each call */
	if (!seeded && (p->sampling.temperature > 0 && p->sampling.top_k != 1))
		p->seed = pg_prng_uint64(&pg_global_prng_state);
}

/*
 * The generation of one call: the model resolved (pinned by params.version
 * if given), the prompt's ids checked against the context, the tokens
 * generated and counted.  ids_argno is the argument of integer[] prompt
 * ids, or -1 when the prompt (argument 1) is text.
 */
static MaasServeState *
run_generation(FunctionCallInfo fcinfo, bool ids_prompt, MaasGenResult *r)
{
	MaasServeState *st;
	const MaasModel *m;
	int32		n;
	int32	   *ids;
	MaasGenParams params;
	int32		version = 0;
	const char *stops[MAX_STOPS];
	size_t		stop_lens[MAX_STOPS];
	MaasError	err;

	if (!PG_ARGISNULL(2) && !PG_ARGISNULL(0))
		version = params_version(PG_GETARG_JSONB_P(2));
	st = maas_text_call_version(fcinfo, version);
	if (st->routing != NULL)
	{
		const char *key = NULL;
		size_t		len = 0;

		/* a canary: by the params' "key", or by call (rollout.h) */
		if (!PG_ARGISNULL(2))
			key = params_key(PG_GETARG_JSONB_P(2), &len);
		st = maas_serve_route(st, key, len);
	}
	m = st->m;
	if (m->task != MAAS_TASK_GENERATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is a %s model", st->model, maas_task_name(m->task)),
				 errhint("maas_generate needs a generation model such as GPT-2.")));
	if (m->remote != NULL)
	{
		/* a remote model reads text, not ids: maas_generate calls it */
		if (ids_prompt)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("model \"%s\" is a remote model", st->model),
					 errdetail("maas_generate_ids needs a model that runs here, with a tokenizer of its own.")));
		return st;
	}
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("prompt must not be null")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("generation parameters must not be null"),
				 errhint("Pass '{}' for the defaults.")));
	parse_params(PG_GETARG_JSONB_P(2), m, &params, stops, stop_lens);

	if (ids_prompt)
		ids = maas_text_ids_arg(fcinfo, st, 1, &n);
	else
	{
		text	   *prompt = PG_GETARG_TEXT_PP(1);
		char	   *s = pg_server_to_any(VARDATA_ANY(prompt), VARSIZE_ANY_EXHDR(prompt), PG_UTF8);
		size_t		len = s == VARDATA_ANY(prompt) ? VARSIZE_ANY_EXHDR(prompt) : strlen(s);

		ids = maas_text_encode(st, s, len, false, &n);
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the prompt is empty"),
				 errhint("A language model continues a text: give it at least one token.")));
	if (n > m->n_positions)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the prompt has %d tokens, more than model \"%s\" can read", n, st->model),
				 errdetail("The model's context is %d tokens.", m->n_positions)));
	if (params.max_new_tokens > m->n_positions - n)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the prompt and max_new_tokens do not fit the context of model \"%s\"", st->model),
				 errdetail("The prompt has %d tokens and max_new_tokens is %d; the context is %d tokens.",
						   n, params.max_new_tokens, m->n_positions),
				 errhint("Lower max_new_tokens to %d or less, or shorten the prompt.",
						 m->n_positions - n)));

	if (!maas_lm_generate(&m->net, maas_get_blas(), m->tok, m->n_positions, ids, n,
						  &params, r, &maas_text_tick, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE,
				   psprintf("could not generate with model \"%s\"", st->model), NULL);
	maas_stats_tokens(st, r->n_ids);
	maas_stats_end(st, 1, NULL, NULL);
	return st;
}

/*
 * maas_generate(model, prompt, params): the continuation of a prompt by a
 * language model; greedy unless params ask to sample (temperature, top_k,
 * top_p, seed), up to max_new_tokens tokens, ending early at the model's
 * end-of-text token or a stop string.
 */
PG_FUNCTION_INFO_V1(maas_generate);
Datum
maas_generate(PG_FUNCTION_ARGS)
{
	MaasGenResult r;
	MaasServeState *st = run_generation(fcinfo, false, &r);

	if (st->m->remote != NULL)
		return maas_remote_generate_call(fcinfo, st);
	PG_RETURN_TEXT_P(maas_text_result(r.text, r.len));
}

/*
 * maas_generate_ids(model, ids, params): the same over a prompt of token
 * ids (special tokens included, as a chat template makes them), returning
 * the ids generated.
 */
PG_FUNCTION_INFO_V1(maas_generate_ids);
Datum
maas_generate_ids(PG_FUNCTION_ARGS)
{
	MaasGenResult r;
	Datum	   *d;

	run_generation(fcinfo, true, &r);
	d = palloc(sizeof(Datum) * Max(r.n_ids, 1));
	for (int i = 0; i < r.n_ids; i++)
		d[i] = Int32GetDatum(r.ids[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, r.n_ids, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}
