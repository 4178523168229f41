/*
 * predict_json.c
 *		The predict functions over jsonb, json and text: what a web client,
 *		an HTTP gateway or an untyped driver parameter sends.
 *
 * A JSON array is the features array, with the checks and errors of the
 * array forms (serve.c); a JSON object is a row by column name, encoded by
 * the model's inputs exactly as maas_predict(model, row) encodes a table's
 * row (inputs.c), so NULLs are imputed, categories one-hot encoded and keys
 * the model does not read ignored, as columns are.  Text is read by
 * maas_serve_text_input(): a feature model reads it as JSON or as an array
 * literal, a text model as its text (text.c answers for those).  Resolving
 * the model, the statistics and the answer are the serving core's, as for
 * every other form.
 */
#include "predict.h"
#include "rollout.h"
#include "text.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

static const char *
json_type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			return "value";
	}
}

static double
json_double(const JsonbValue *v)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(v->val.numeric)));
}

/* a JSON array as the features array, into st->input */
static const float *
json_array_features(MaasServeState *st, JsonbContainer *arr)
{
	int			n = JsonContainerSize(arr);
	int			n_in = st->m->net.n_in;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			i = 0;

	if (n != n_in)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wrong number of features for model \"%s\"", st->model),
				 errdetail("The model takes %d features; the array has %d.", n_in, n)));
	it = JsonbIteratorInit(arr);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		double		d;

		if (tok != WJB_ELEM)
			continue;
		switch (v.type)
		{
			case jbvNumeric:
				d = json_double(&v);
				st->input[i] = (float) d;
				/* JSON has no NaN or infinity: only a number past real's range */
				if (!isfinite(st->input[i]))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("features must be finite numbers"),
							 errdetail("Feature %d is out of range for real.", i + 1)));
				break;
			case jbvNull:
				if (st->m->missing_ok)
				{
					st->input[i] = NAN;		/* a missing value, for the trees */
					break;
				}
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("features must not contain nulls"),
						 errdetail("Feature %d is null.", i + 1)));
				break;
			case jbvBinary:
				if (JsonContainerIsArray(v.val.binary.data))
					ereport(ERROR,
							(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
							 errmsg("features must be a one-dimensional array"),
							 errdetail("Feature %d is an array.", i + 1)));
				/* FALLTHROUGH */
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("features must be numbers"),
						 errdetail("Feature %d is a JSON %s.", i + 1, json_type_name(&v)),
						 v.type == jbvString ?
						 errhint("Write the numbers without quotes.") : 0));
		}
		i++;
	}
	return st->input;
}

static const char *const kind_names[] = {
	[MAAS_INPUT_NUMBER] = "a number",
	[MAAS_INPUT_ARRAY] = "an array",
	[MAAS_INPUT_CATEGORY] = "a category",
};

static void
wrong_json_type(const MaasInput *in, const JsonbValue *v)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("column \"%s\" is a JSON %s, but the model reads it as %s",
					in->name, json_type_name(v), kind_names[in->kind]),
			 in->kind == MAAS_INPUT_CATEGORY ?
			 errhint("Write a category as a JSON string.") :
			 in->kind == MAAS_INPUT_ARRAY ?
			 errhint("Write it as a JSON array of %d numbers.", in->length) :
			 errhint("Write it as a JSON number.")));
}

/* a JSON array of numbers and nulls as a double precision[] (array inputs) */
static Datum
json_number_array(const MaasInput *in, JsonbContainer *arr)
{
	int			n = JsonContainerSize(arr);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	JsonbIterator *it = JsonbIteratorInit(arr);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			i = 0;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		nulls[i] = v.type == jbvNull;
		if (v.type == jbvNumeric)
			elems[i] = Float8GetDatum(json_double(&v));
		else if (v.type != jbvNull)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" must be an array of numbers", in->name),
					 errdetail("Element %d is a JSON %s.", i + 1, json_type_name(&v))));
		else
			elems[i] = (Datum) 0;
		i++;
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  FLOAT8OID, sizeof(float8),
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * A JSON object as a row by column name: each of the model's inputs read
 * from the key of its name and encoded as maas_predict(model, row) encodes
 * a column (a JSON null is a NULL), into st->input.
 */
static const float *
json_object_features(MaasRowState *rs, MaasServeState *st, JsonbContainer *obj)
{
	MaasInputs *inputs = maas_row_inputs(rs, st);

	for (int i = 0; i < inputs->n; i++)
	{
		MaasInput  *in = &inputs->in[i];
		JsonbValue *v = getKeyJsonValueFromContainer(obj, in->name, strlen(in->name), NULL);
		MaasBinding b;
		Datum		d = (Datum) 0;
		bool		isnull;

		if (v == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" does not exist", in->name),
					 errdetail("The JSON object has no key \"%s\"; the model reads a column of that name.",
							   in->name),
					 errhint("Model \"%s\" reads the columns it was trained on, by name.",
							 st->model)));
		memset(&b, 0, sizeof(b));
		isnull = v->type == jbvNull;
		switch (in->kind)
		{
			case MAAS_INPUT_NUMBER:
				if (v->type == jbvNumeric)
				{
					b.typid = NUMERICOID;
					d = NumericGetDatum(v->val.numeric);
				}
				else if (v->type == jbvBool)
				{
					b.typid = BOOLOID;
					d = BoolGetDatum(v->val.boolean);
				}
				else if (!isnull)
					wrong_json_type(in, v);
				break;
			case MAAS_INPUT_ARRAY:
				if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
				{
					b.typid = FLOAT8ARRAYOID;
					b.elemtype = b.elembase = FLOAT8OID;
					b.elmlen = sizeof(float8);
					b.elmbyval = FLOAT8PASSBYVAL;
					b.elmalign = TYPALIGN_DOUBLE;
					d = json_number_array(in, v->val.binary.data);
				}
				else if (!isnull)
					wrong_json_type(in, v);
				break;
			case MAAS_INPUT_CATEGORY:
				if (v->type == jbvString)
				{
					b.typid = TEXTOID;
					b.text_like = true;
					d = PointerGetDatum(cstring_to_text_with_len(v->val.string.val,
																 v->val.string.len));
				}
				else if (!isnull)
					wrong_json_type(in, v);
				break;
		}
		maas_encode(inputs, in, &b, d, isnull, st->input + in->offset, true, 0);
	}
	return st->input;
}

/* a JSON value as the model's input row: an array of features, or an object */
const float *
maas_json_features(MaasRowState *rs, MaasServeState *st, JsonbContainer *json)
{
	if (maas_model_is_text(st->m))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("model \"%s\" reads text, not features", st->model),
				 errhint("Pass the text itself: maas_predict('%s', body).", st->model)));
	if (JsonContainerIsArray(json) && !JsonContainerIsScalar(json))
		return json_array_features(st, json);
	if (JsonContainerIsObject(json))
		return json_object_features(rs, st, json);
	{
		JsonbValue	v;

		JsonbExtractScalar(json, &v);
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("features must be a JSON array or object"),
				 errdetail("The JSON value is a %s.", json_type_name(&v)),
				 errhint("Send the features as an array, or an object by column name.")));
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * The state that answers a JSON row while a rollout routes: a canary with
 * a "key" routes an object by the text of that key's value, as the row
 * form routes by the column's text (a number's text as numeric prints it,
 * a string's characters, a boolean as t or f; a JSON null stays on the
 * live version); an array, or a canary without a key, by call.
 */
static MaasServeState *
route_json(MaasServeState *st, JsonbContainer *json)
{
	MaasRollout *ro = st->routing;
	JsonbValue *v;
	char	   *key;
	size_t		len;

	if (ro->kind != MAAS_ROLLOUT_CANARY || ro->key[0] == '\0' ||
		!JsonContainerIsObject(json))
		return maas_serve_route(st, NULL, 0);
	v = getKeyJsonValueFromContainer(json, ro->key, strlen(ro->key), NULL);
	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("rollout key \"%s\" is not in the JSON object", ro->key),
				 errdetail("The canary of model \"%s\" routes rows by this key.", st->model)));
	switch (v->type)
	{
		case jbvNull:
			return st;
		case jbvString:
			key = v->val.string.val;
			len = v->val.string.len;
			break;
		case jbvNumeric:
			key = DatumGetCString(DirectFunctionCall1(numeric_out,
													  NumericGetDatum(v->val.numeric)));
			len = strlen(key);
			break;
		case jbvBool:
			key = v->val.boolean ? "t" : "f";
			len = 1;
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("rollout key \"%s\" must be a JSON string, number or boolean", ro->key),
					 errdetail("The key's value is a JSON %s.", json_type_name(v))));
			return st;			/* keep compiler quiet */
	}
	return maas_serve_route(st, key, len);
}

static Jsonb *
parse_json(text *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(text_to_cstring(json))));
}

/*
 * The arguments (model, [version,] jsonb or json) of a per-row call:
 * resolve, read the JSON as the row, run the model on it, and answer.
 */
static Datum
predict_jsonb(FunctionCallInfo fcinfo, MaasAnswer what)
{
	MaasRowState *rs = maas_row_state(fcinfo->flinfo);
	MaasServeState *st = maas_serve_state(&rs->shim);
	MaasServeState *use;
	int			argno = PG_NARGS() - 1;
	Jsonb	   *jb;
	const float *x;
	const float *out;

	maas_serve_call(fcinfo, st);
	if (get_fn_expr_argtype(fcinfo->flinfo, argno) == JSONOID)
		jb = parse_json(PG_GETARG_TEXT_PP(argno));
	else
		jb = PG_GETARG_JSONB_P(argno);
	x = maas_json_features(rs, st, &jb->root);
	/* a canary: by the object's key, or by call (rollout.h) */
	use = st->routing ? route_json(st, &jb->root) : st;
	out = maas_serve_forward(use, maas_get_blas(), 1, x, use->m->row_work);
	return maas_serve_answer(use, what, x, out);
}

/*
 * The arguments (model, [version,] text) of a per-row call: resolve, read
 * the text as the model reads it (serve.c, maas_serve_text_input), run the
 * model, and answer.
 */
static Datum
predict_text(FunctionCallInfo fcinfo, MaasAnswer what)
{
	MaasRowState *rs = maas_row_state(fcinfo->flinfo);
	MaasServeState *st = maas_serve_state(&rs->shim);
	MaasServeState *use;
	text	   *input;
	const float *x = NULL;
	const float *out;
	Jsonb	   *jb = NULL;

	maas_serve_call(fcinfo, st);
	input = PG_GETARG_TEXT_PP(PG_NARGS() - 1);
	switch (maas_serve_text_input(st, input))
	{
		case MAAS_TEXT_TOKENS:
			return maas_text_predict(fcinfo, st, what);
		case MAAS_TEXT_JSON:
			jb = parse_json(input);
			x = maas_json_features(rs, st, &jb->root);
			break;
		case MAAS_TEXT_ARRAY:
			if (rs->array_in.fn_oid == InvalidOid)
				fmgr_info_cxt(F_ARRAY_IN, &rs->array_in, rs->shim.fn_mcxt);
			x = maas_serve_features(st,
									DatumGetArrayTypeP(InputFunctionCall(&rs->array_in,
																		 text_to_cstring(input),
																		 FLOAT8OID, -1)),
									NULL);
			break;
	}
	/* a canary: a JSON object by its key, else by call (rollout.h) */
	use = st->routing == NULL ? st :
		jb != NULL ? route_json(st, &jb->root) : maas_serve_route(st, NULL, 0);
	out = maas_serve_forward(use, maas_get_blas(), 1, x, use->m->row_work);
	return maas_serve_answer(use, what, x, out);
}

/* maas_predict(model, [version,] jsonb or json): as with an array, or a row */
PG_FUNCTION_INFO_V1(maas_predict_jsonb);
Datum
maas_predict_jsonb(PG_FUNCTION_ARGS)
{
	return predict_jsonb(fcinfo, MAAS_ANSWER_VALUE);
}

/* maas_predict_proba(model, [version,] jsonb or json): class probabilities */
PG_FUNCTION_INFO_V1(maas_predict_proba_jsonb);
Datum
maas_predict_proba_jsonb(PG_FUNCTION_ARGS)
{
	return predict_jsonb(fcinfo, MAAS_ANSWER_PROBA);
}

/* maas_predict_label(model, [version,] jsonb or json): the class as text */
PG_FUNCTION_INFO_V1(maas_predict_label_jsonb);
Datum
maas_predict_label_jsonb(PG_FUNCTION_ARGS)
{
	return predict_jsonb(fcinfo, MAAS_ANSWER_LABEL);
}

/* maas_predict_json(model, [version,] jsonb or json): everything, as json */
PG_FUNCTION_INFO_V1(maas_predict_json_jsonb);
Datum
maas_predict_json_jsonb(PG_FUNCTION_ARGS)
{
	return predict_jsonb(fcinfo, MAAS_ANSWER_JSON);
}

/*
 * maas_predict(model, [version,] text): features as text (an array literal
 * or JSON) for a feature model, the text itself for a text model.  An
 * untyped parameter or a quoted literal resolves to this form.
 */
PG_FUNCTION_INFO_V1(maas_predict_text);
Datum
maas_predict_text(PG_FUNCTION_ARGS)
{
	return predict_text(fcinfo, MAAS_ANSWER_VALUE);
}

/* maas_predict_proba(model, [version,] text): class probabilities */
PG_FUNCTION_INFO_V1(maas_predict_proba_text);
Datum
maas_predict_proba_text(PG_FUNCTION_ARGS)
{
	return predict_text(fcinfo, MAAS_ANSWER_PROBA);
}

/* maas_predict_label(model, [version,] text): the class as text */
PG_FUNCTION_INFO_V1(maas_predict_label_text);
Datum
maas_predict_label_text(PG_FUNCTION_ARGS)
{
	return predict_text(fcinfo, MAAS_ANSWER_LABEL);
}

/* maas_predict_json(model, [version,] text): everything, as json */
PG_FUNCTION_INFO_V1(maas_predict_json_text);
Datum
maas_predict_json_text(PG_FUNCTION_ARGS)
{
	return predict_text(fcinfo, MAAS_ANSWER_JSON);
}
