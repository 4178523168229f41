/*
 * text.c
 *		The functions of text models: maas_tokenize, maas_detokenize,
 *		maas_logits, maas_generate, maas_embed, and the answer of the
 *		maas_predict family over a text (whose entry points, predict_json.c,
 *		also read text as features for feature models).
 *
 * A text model is a version whose layer program reads token ids (GPT-2,
 * BERT, registered from Hugging Face's files; see import.c).  Its
 * tokenizer is built when the model is loaded and cached with it.  Each
 * function resolves the model through the serving core (serve.c), so
 * versions, deployments, grants, standbys and maas.stats work as for every
 * other model; generation also counts the tokens it produced.
 *
 * Text crosses the boundary as UTF-8: arguments are converted from the
 * database encoding, results back to it, so the text returned is always
 * valid there (a character the database encoding cannot hold is an error,
 * as for any conversion).  Decoded bytes that are not valid UTF-8 -- a
 * generation cut inside a character -- are U+FFFD, as in Hugging Face's
 * decoder, and so is a NUL, which text cannot hold.
 */
#include "remote.h"
#include "rollout.h"
#include "serve.h"
#include "stats.h"
#include "text.h"

#include "generate.h"

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

static void
text_tick(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

const MaasTick maas_text_tick = {text_tick, NULL};

/*
 * The call (model, [version,] input...) of a text function: the model
 * resolved and counted, and checked to be a text model.  version_argno is
 * -1 when the function has no version argument.
 */
MaasServeState *
maas_text_call(FunctionCallInfo fcinfo, int version_argno)
{
	if (version_argno >= 0 && PG_ARGISNULL(0))
		return maas_text_call_version(fcinfo, 0);	/* says the name is null */
	return maas_text_call_version(fcinfo, version_argno >= 0 ?
								  maas_arg_version(fcinfo, version_argno, false) : 0);
}

/* the same with the version given (0: the deployed one) */
MaasServeState *
maas_text_call_version(FunctionCallInfo fcinfo, int32 version)
{
	MaasServeState *st = maas_serve_state(fcinfo->flinfo);

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	maas_serve_resolve(st, PG_GETARG_TEXT_PP(0), version);
	if (!maas_model_is_text(st->m))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" does not read text", st->model),
				 errdetail("It takes %d features a row.", st->m->net.n_in),
				 errhint("Pass its features as an array: maas_predict('%s', ARRAY[...]).",
						 st->model)));
	maas_stats_begin(st, false);
	return st;
}

/* the UTF-8 bytes of a text argument (not NUL-terminated) */
static const char *
utf8_arg(FunctionCallInfo fcinfo, int argno, const char *what, size_t *len)
{
	text	   *t;
	int			n;
	char	   *s;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	t = PG_GETARG_TEXT_PP(argno);
	n = VARSIZE_ANY_EXHDR(t);
	s = pg_server_to_any(VARDATA_ANY(t), n, PG_UTF8);
	*len = s == VARDATA_ANY(t) ? (size_t) n : strlen(s);
	return s;
}

/* UTF-8 (no NUL-termination needed) as text in the database encoding */
text *
maas_text_result(const char *s, size_t len)
{
	char	   *clean = NULL;
	char	   *conv;
	text	   *result;

	/* text cannot hold NUL: U+FFFD instead, as for other undecodable bytes */
	if (memchr(s, '\0', len) != NULL)
	{
		size_t		w = 0;

		clean = palloc(len * 3 + 1);
		for (size_t i = 0; i < len; i++)
		{
			if (s[i] == '\0')
			{
				memcpy(clean + w, "\xEF\xBF\xBD", 3);
				w += 3;
			}
			else
				clean[w++] = s[i];
		}
		s = clean;
		len = w;
	}
	conv = pg_any_to_server(s, (int) len, PG_UTF8);
	result = cstring_to_text_with_len(conv, conv == s ? (int) len : (int) strlen(conv));
	if (clean)
		pfree(clean);
	return result;
}

int32 *
maas_text_encode(MaasServeState *st, const char *s, size_t len, bool specials,
				 int32 *n_ids)
{
	MaasEncodeOptions opt = maas_encode_defaults(st->m->tok);
	MaasError	err;
	int32	   *ids;

	opt.add_special = opt.add_special && specials;
	ids = maas_tokenizer_encode(st->m->tok, s, len, &opt, n_ids, &maas_text_tick, &err);
	if (ids == NULL)
		maas_raise(&err, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
				   psprintf("could not tokenize the text for model \"%s\"", st->model), NULL);
	return ids;
}

/* an int[] argument as checked token ids of the model */
int32 *
maas_text_ids_arg(FunctionCallInfo fcinfo, MaasServeState *st, int argno, int *n)
{
	ArrayType  *arr;
	int32	   *ids;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("token ids must not be null")));
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("token ids must be a one-dimensional array")));
	if (ARR_HASNULL(arr))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("token ids must not contain nulls")));
	*n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	ids = (int32 *) ARR_DATA_PTR(arr);
	for (int i = 0; i < *n; i++)
		if (ids[i] < 0 || ids[i] >= st->m->vocab)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("token id %d is out of range for model \"%s\"", ids[i], st->model),
					 errdetail("The model's vocabulary has %d tokens (ids 0 to %d).",
							   st->m->vocab, st->m->vocab - 1)));
	return ids;
}

static ArrayType *
float_array(const float *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Float4GetDatum(v[i]);
	return construct_array(d, n, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
}

/*
 * Run a text model over one row of ids to value target (0: its output),
 * with a workspace of this call's memory.  Returns the value's floats.
 */
const float *
maas_text_run(MaasServeState *st, const int32 *ids, int n_ids, int target)
{
	const MaasModel *m = st->m;
	MaasBatch	b = {.n = 1, .t = n_ids, .ids = ids};
	MaasError	err;
	size_t		nwork;
	float	   *work;
	const float *out;

	if (n_ids <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the input has no tokens")));
	if (n_ids > m->n_positions)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the input has %d tokens, more than model \"%s\" can read", n_ids, st->model),
				 errdetail("The model's context is %d tokens.", m->n_positions)));
	if (!maas_net_workspace(&m->net, 1, n_ids, &nwork))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the input is too long for model \"%s\"", st->model)));
	work = palloc_extended(sizeof(float) * nwork, MCXT_ALLOC_HUGE);
	out = maas_net_run(&m->net, maas_get_blas(), &b, target, work, &err);
	if (out == NULL)
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE,
				   psprintf("could not run model \"%s\"", st->model), NULL);
	return out;
}

/* the functions that need a model's own tokenizer or layers */
static void
require_local(MaasServeState *st, const char *fn)
{
	if (st->m->remote != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is a remote model", st->model),
				 errdetail("%s needs a model that runs here, with a tokenizer of its own.", fn)));
}

/* maas_tokenize(model, input): the token ids of a text, as the model reads it */
PG_FUNCTION_INFO_V1(maas_tokenize);
Datum
maas_tokenize(PG_FUNCTION_ARGS)
{
	MaasServeState *st = maas_text_call(fcinfo, -1);
	size_t		len;
	const char *s;
	int32		n;
	int32	   *ids;
	Datum	   *d;

	require_local(st, "maas_tokenize");
	s = utf8_arg(fcinfo, 1, "input", &len);
	ids = maas_text_encode(st, s, len, true, &n);
	d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int32GetDatum(ids[i]);
	maas_stats_end(st, 1, NULL, NULL);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/* maas_detokenize(model, ids): the text of token ids */
PG_FUNCTION_INFO_V1(maas_detokenize);
Datum
maas_detokenize(PG_FUNCTION_ARGS)
{
	MaasServeState *st = maas_text_call(fcinfo, -1);
	int			n;
	int32	   *ids;
	size_t		len;
	MaasError	err;
	char	   *s;

	require_local(st, "maas_detokenize");
	ids = maas_text_ids_arg(fcinfo, st, 1, &n);
	s = maas_tokenizer_decode(st->m->tok, ids, (size_t) n, false, &len,
							  &maas_text_tick, &err);

	if (s == NULL)
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE,
				   psprintf("could not decode the ids for model \"%s\"", st->model), NULL);
	maas_stats_end(st, 1, NULL, NULL);
	PG_RETURN_TEXT_P(maas_text_result(s, len));
}

static void
require_task(MaasServeState *st, MaasTask task, const char *fn)
{
	if (st->m->task == task)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("model \"%s\" is a %s model", st->model, maas_task_name(st->m->task)),
			 errhint("%s needs a %s model.", fn, maas_task_name(task))));
}

/* maas_logits(model, ids): the next-token logits after the ids */
PG_FUNCTION_INFO_V1(maas_logits);
Datum
maas_logits(PG_FUNCTION_ARGS)
{
	MaasServeState *st = maas_text_call(fcinfo, -1);
	int			n;
	int32	   *ids;
	const float *out;

	require_task(st, MAAS_TASK_GENERATION, "maas_logits");
	require_local(st, "maas_logits");
	ids = maas_text_ids_arg(fcinfo, st, 1, &n);
	out = maas_text_run(st, ids, n, 0);
	maas_stats_end(st, 1, NULL, NULL);
	PG_RETURN_ARRAYTYPE_P(float_array(out, st->m->net.n_out));
}

/* maas_embed(model, input): the sentence embedding of a text */
PG_FUNCTION_INFO_V1(maas_embed);
Datum
maas_embed(PG_FUNCTION_ARGS)
{
	MaasServeState *st = maas_text_call(fcinfo, -1);
	size_t		len;
	const char *s;
	int32		n;
	int32	   *ids;
	const float *out;

	st = maas_serve_route(st, NULL, 0);	/* a canary: by call (rollout.h) */
	if (st->m->remote != NULL)
	{
		require_task(st, MAAS_TASK_EMBEDDING, "maas_embed");
		return maas_remote_embed_call(fcinfo, st);
	}
	if (st->m->embed_value <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" has no embedding output", st->model),
				 errhint("maas_embed needs a text encoder such as BERT.")));
	s = utf8_arg(fcinfo, 1, "input", &len);
	ids = maas_text_encode(st, s, len, true, &n);
	out = maas_text_run(st, ids, n, st->m->embed_value);
	maas_stats_end(st, 1, NULL, NULL);
	PG_RETURN_ARRAYTYPE_P(float_array(out, st->m->net.layers[st->m->embed_value - 1].shape.width));
}

/*
 * The answer of maas_predict, _proba, _label or _json (model, [version,]
 * input text) for a text classifier: st resolved, checked to be a text
 * model and counted by the caller, predict_json.c, which takes every text
 * argument and reads it as its model does (serve.c, maas_serve_text_input).
 */
Datum
maas_text_predict(FunctionCallInfo fcinfo, MaasServeState *st, MaasAnswer what)
{
	size_t		len;
	const char *s = utf8_arg(fcinfo, PG_NARGS() - 1, "input", &len);
	int32		n;
	int32	   *ids;
	const float *out;

	st = maas_serve_route(st, NULL, 0);	/* a canary: by call (rollout.h) */
	maas_serve_require_predictor(st);
	ids = maas_text_encode(st, s, len, true, &n);
	out = maas_text_run(st, ids, n, 0);
	return maas_serve_answer(st, what, out, out);
}
