/*
 * remote_text.c
 *		The remote branches of the text functions: maas_generate and
 *		maas_embed when the version is an OpenAI-compatible endpoint
 *		(text.c and text_generate.c call here), the batch path's remote
 *		embeddings going through maas_remote_embed_texts (remote.c).
 *
 * A remote text model has no tokenizer and no context of its own: the
 * prompt goes to the server as text (UTF-8), and what comes back is
 * checked by the kernel's parsers.  The generation parameters a server
 * understands are fewer than the local sampler's: max_new_tokens (sent as
 * max_tokens) and temperature; the others are an error rather than
 * silently ignored.
 */
#include "remote.h"
#include "stats.h"
#include "text.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

/* a text argument as NUL-terminated UTF-8 */
static char *
utf8_arg(FunctionCallInfo fcinfo, int argno, const char *what)
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
	return s == VARDATA_ANY(t) ? pnstrdup(s, n) : s;
}

/* a number parameter in [min, max], whole when whole, or raise */
static double
param_number(const char *key, JsonbValue *v, double min, double max, bool whole,
			 const char *what)
{
	double		d = NAN;

	if (v->type == jbvNumeric)
		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											   NumericGetDatum(v->val.numeric)));
	if (!(d >= min && d <= max) || (whole && d != floor(d)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid generation parameter \"%s\"", key),
				 errdetail("\"%s\" must be %s.", key, what)));
	return d;
}

/* the parameters of a remote generation (version was taken by the caller) */
static void
remote_params(Jsonb *params, const char *model, MaasRemoteGenParams *p)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	p->max_tokens = 0;			/* the server's default */
	p->temperature = NAN;
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
		(void) JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "max_new_tokens") == 0)
			p->max_tokens = (int) param_number(key, &v, 1, 1000000, true,
											   "a whole number from 1 to 1000000");
		else if (strcmp(key, "temperature") == 0)
			p->temperature = param_number(key, &v, 0, 2, false, "a number from 0 to 2");
		else if (strcmp(key, "version") == 0 || strcmp(key, "key") == 0)
			continue;			/* read when the call was resolved and routed */
		else
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("generation parameter \"%s\" is not supported by remote model \"%s\"",
							key, model),
					 errhint("A remote model takes max_new_tokens, temperature, version and key.")));
	}
}

Datum
maas_remote_generate_call(FunctionCallInfo fcinfo, MaasServeState *st)
{
	MaasRemoteGenParams params;
	MaasRemoteGenOutput *out;
	const char *prompt;

	prompt = utf8_arg(fcinfo, 1, "prompt");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("generation parameters must not be null"),
				 errhint("Pass '{}' for the defaults.")));
	remote_params(PG_GETARG_JSONB_P(2), st->model, &params);
	if (prompt[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the prompt is empty"),
				 errhint("A language model continues a text: give it at least one character.")));
	out = maas_remote_generate_texts(st, &prompt, 1, &params);
	if (out[0].completion_tokens > 0)
		maas_stats_tokens(st, (int) Min(out[0].completion_tokens, PG_INT32_MAX));
	maas_stats_end(st, 1, NULL, NULL);
	PG_RETURN_TEXT_P(maas_text_result(out[0].text, out[0].len));
}

Datum
maas_remote_embed_call(FunctionCallInfo fcinfo, MaasServeState *st)
{
	const char *input = utf8_arg(fcinfo, 1, "input");
	int			dims;
	float	   *v;
	Datum	   *d;

	if (input[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the input is empty")));
	v = maas_remote_embed_texts(st, &input, 1, &dims);
	maas_stats_end(st, 1, NULL, NULL);
	d = palloc(sizeof(Datum) * Max(dims, 1));
	for (int j = 0; j < dims; j++)
		d[j] = Float4GetDatum(v[j]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, dims, FLOAT4OID, sizeof(float4), true,
										  TYPALIGN_INT));
}
