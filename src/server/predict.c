/*
 * predict.c
 *		The maas_predict family over a feature array (of real, double
 *		precision, numeric, smallint, integer or bigint): one row in, one
 *		prediction out.
 *
 * The serving core (serve.c) resolves the model once per statement and
 * checks the array; per row, what remains is running the net on one row
 * (sgemv).  Each call is counted for maas.stats between maas_stats_begin()
 * and maas_stats_end() (stats.h), in local memory flushed once per
 * statement.
 */
#include "serve.h"
#include "rollout.h"
#include "stats.h"

#include "utils/array.h"

/*
 * The arguments (model, [version,] features) of a per-row call: resolve,
 * check, run the model on the row, and answer.
 */
static Datum
predict_array(FunctionCallInfo fcinfo, MaasAnswer what)
{
	MaasServeState *st = maas_serve_state(fcinfo->flinfo);
	MaasServeState *use;
	ArrayType  *arr;
	const float *x;
	const float *out;

	/* after a statement's first call, (model, features) needs no lookup */
	if (likely(PG_NARGS() == 2 && !PG_ARGISNULL(0) && !PG_ARGISNULL(1) &&
			   maas_serve_current(st)))
		maas_stats_begin(st, false);
	else
		maas_serve_call(fcinfo, st);
	arr = PG_GETARG_ARRAYTYPE_P(PG_NARGS() - 1);
	/* a plain real[n_in] for a logistic or linear model, and no canary */
	if (st->routing == NULL && (x = maas_serve_plain_features(st, arr)) != NULL &&
		(out = maas_serve_small_row(st, arr, x)) != NULL)
	{
		/* its value, once maas_serve_answer has checked the model answers it */
		if (what == MAAS_ANSWER_VALUE && likely(st->answers_checked == st->m))
		{
			maas_stats_end(st, 1, x, out);
			return Float8GetDatum(maas_serve_value(st->m, out));
		}
		return maas_serve_answer(st, what, x, out);
	}
	x = maas_serve_features(st, arr, NULL);
	/* a canary answers a share of calls, routed by call (rollout.h) */
	use = maas_serve_route(st, NULL, 0);
	out = maas_serve_forward(use, maas_get_blas(), 1, x, use->m->row_work);
	return maas_serve_answer(use, what, x, out);
}

/*
 * maas_predict(model, [version,] features): the predicted value, or for a
 * classifier the class (its label when labels are numbers, else its index).
 */
PG_FUNCTION_INFO_V1(maas_predict);
Datum
maas_predict(PG_FUNCTION_ARGS)
{
	return predict_array(fcinfo, MAAS_ANSWER_VALUE);
}

/*
 * maas_predict_proba(model, [version,] features): class probabilities, in
 * the order of the model's labels.
 */
PG_FUNCTION_INFO_V1(maas_predict_proba);
Datum
maas_predict_proba(PG_FUNCTION_ARGS)
{
	return predict_array(fcinfo, MAAS_ANSWER_PROBA);
}

/*
 * maas_predict_label(model, [version,] features): the predicted class as
 * text: its label, or its index when the model has no labels.
 */
PG_FUNCTION_INFO_V1(maas_predict_label);
Datum
maas_predict_label(PG_FUNCTION_ARGS)
{
	return predict_array(fcinfo, MAAS_ANSWER_LABEL);
}

/*
 * maas_predict_json(model, [version,] features): the value, the label and
 * the probabilities by label, with the model and the version that answered,
 * as one json object (serve.c, maas_serve_json).
 */
PG_FUNCTION_INFO_V1(maas_predict_json);
Datum
maas_predict_json(PG_FUNCTION_ARGS)
{
	return predict_array(fcinfo, MAAS_ANSWER_JSON);
}
