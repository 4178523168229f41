/*
 * predict_row.c
 *		maas_predict, maas_predict_proba, maas_predict_label and
 *		maas_predict_json for a whole row: maas_predict('m', t) with t a
 *		table's row (or any record).
 *
 * The model's config names the columns it reads ("inputs", written by
 * maas_train; see inputs.h).  Each call site keeps, next to the usual
 * serving state (serve.c), the inputs of the version it resolved and
 * their binding to the row type it was last given, so per row what is left
 * is reading those columns, encoding them (imputing NULLs, one-hot
 * categories) into the input vector and running the net on it.  The jsonb,
 * json and text forms (predict_json.c) keep the same state, for JSON
 * objects.
 */
#include "predict.h"
#include "rollout.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

/* the state of a call site that reads rows by name, made on first use */
MaasRowState *
maas_row_state(FmgrInfo *flinfo)
{
	MaasRowState *rs = (MaasRowState *) flinfo->fn_extra;

	if (rs == NULL)
	{
		rs = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(MaasRowState));
		rs->shim.fn_mcxt = flinfo->fn_mcxt;
		rs->spec_cxt = AllocSetContextCreate(flinfo->fn_mcxt, "maas row inputs",
											 ALLOCSET_SMALL_SIZES);
		rs->version_id = -1;
		flinfo->fn_extra = rs;
	}
	return rs;
}

/* the inputs of the resolved version, read from its config once */
MaasInputs *
maas_row_inputs(MaasRowState *rs, MaasServeState *st)
{
	MemoryContext old;
	Jsonb	   *config;

	if (rs->version_id == st->ref.version_id && rs->catalog == st->ref.catalog)
		return rs->inputs;
	MemoryContextReset(rs->spec_cxt);
	rs->inputs = NULL;
	rs->tuptype = InvalidOid;
	rs->version_id = -1;
	old = MemoryContextSwitchTo(rs->spec_cxt);
	config = maas_fetch_config(&st->ref, NULL);
	rs->inputs = maas_inputs_from_config(config);
	MemoryContextSwitchTo(old);
	if (rs->inputs == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" does not name the columns it reads", st->model),
				 errdetail("Only models trained by maas_train record their input columns."),
				 errhint("Pass the features as an array: maas_predict('%s', ARRAY[...]).",
						 st->model)));
	maas_check_inputs_width(rs->inputs, st->m->net.n_in);
	rs->catalog = st->ref.catalog;
	rs->version_id = st->ref.version_id;
	return rs->inputs;
}

/* bind the inputs to the row's type, when it changes */
static void
bind_row(MaasRowState *rs, MaasServeState *st, HeapTupleHeader th)
{
	Oid			tuptype = HeapTupleHeaderGetTypeId(th);
	int32		tuptypmod = HeapTupleHeaderGetTypMod(th);
	TupleDesc	td;
	MemoryContext old;
	char	   *hint;

	if (rs->tuptype == tuptype && rs->tuptypmod == tuptypmod && OidIsValid(tuptype))
		return;
	rs->tuptype = InvalidOid;
	td = lookup_rowtype_tupdesc(tuptype, tuptypmod);
	old = MemoryContextSwitchTo(rs->spec_cxt);
	rs->tupdesc = CreateTupleDescCopy(td);
	ReleaseTupleDesc(td);
	rs->bind = palloc0(sizeof(MaasBinding) * Max(rs->inputs->n, 1));
	hint = psprintf("Model \"%s\" reads the columns it was trained on, by name.", st->model);
	for (int i = 0; i < rs->inputs->n; i++)
		maas_bind_input(&rs->inputs->in[i], rs->tupdesc, &rs->bind[i], "row", hint);
	MemoryContextSwitchTo(old);
	rs->tuptype = tuptype;
	rs->tuptypmod = tuptypmod;
}

/*
 * The state that answers a row while a canary routes by a key column: the
 * hash of the column's text decides.  A NULL key stays on the live version.
 */
static MaasServeState *
route_row(MaasRowState *rs, MaasServeState *st, HeapTuple tup)
{
	MaasRollout *ro = st->routing;
	bool		isnull;
	Datum		d;
	char	   *key;
	MaasServeState *use;

	if (ro->key[0] == '\0')
		return maas_serve_route(st, NULL, 0);
	if (strcmp(rs->key, ro->key) != 0 || rs->key_tuptype != rs->tuptype ||
		rs->key_tuptypmod != rs->tuptypmod)
	{
		AttrNumber	attno = InvalidAttrNumber;
		Oid			typoutput;
		bool		varlena;

		rs->key[0] = '\0';
		for (int i = 0; i < rs->tupdesc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(rs->tupdesc, i);

			if (!att->attisdropped && strcmp(NameStr(att->attname), ro->key) == 0)
			{
				attno = i + 1;
				getTypeOutputInfo(att->atttypid, &typoutput, &varlena);
				fmgr_info_cxt(typoutput, &rs->key_out, rs->spec_cxt);
				break;
			}
		}
		if (attno == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("rollout key column \"%s\" does not exist in the row", ro->key),
					 errdetail("The canary of model \"%s\" routes rows by this column.",
							   st->model)));
		rs->key_attno = attno;
		rs->key_tuptype = rs->tuptype;
		rs->key_tuptypmod = rs->tuptypmod;
		strlcpy(rs->key, ro->key, sizeof(rs->key));
	}
	d = heap_getattr(tup, rs->key_attno, rs->tupdesc, &isnull);
	if (isnull)
		return st;
	key = OutputFunctionCall(&rs->key_out, d);
	use = maas_serve_route(st, key, strlen(key));
	pfree(key);
	return use;
}

/*
 * The arguments (model, [version,] row): resolve, encode the row, run the
 * model, and answer.
 */
static Datum
predict_record(FunctionCallInfo fcinfo, MaasAnswer what)
{
	MaasRowState *rs = maas_row_state(fcinfo->flinfo);
	MaasServeState *st = maas_serve_state(&rs->shim);
	MaasServeState *use;
	int			argno = PG_NARGS() - 1;
	HeapTupleHeader th;
	HeapTupleData tup;
	const float *out;

	maas_serve_call(fcinfo, st);
	maas_row_inputs(rs, st);
	th = PG_GETARG_HEAPTUPLEHEADER(argno);
	bind_row(rs, st, th);

	tup.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tup.t_self);
	tup.t_tableOid = InvalidOid;
	tup.t_data = th;
	/* a canary answers a share of rows; both versions read the same inputs */
	use = st->routing ? route_row(rs, st, &tup) : st;
	for (int i = 0; i < rs->inputs->n; i++)
	{
		MaasInput  *in = &rs->inputs->in[i];
		bool		isnull;
		Datum		d = heap_getattr(&tup, rs->bind[i].attno, rs->tupdesc, &isnull);

		maas_encode(rs->inputs, in, &rs->bind[i], d, isnull, st->input + in->offset,
					true, 0);
	}

	out = maas_serve_forward(use, maas_get_blas(), 1, st->input, use->m->row_work);
	return maas_serve_answer(use, what, st->input, out);
}

/* maas_predict(model, [version,] row): as maas_predict with an array */
PG_FUNCTION_INFO_V1(maas_predict_row);
Datum
maas_predict_row(PG_FUNCTION_ARGS)
{
	return predict_record(fcinfo, MAAS_ANSWER_VALUE);
}

/* maas_predict_proba(model, [version,] row): class probabilities */
PG_FUNCTION_INFO_V1(maas_predict_proba_row);
Datum
maas_predict_proba_row(PG_FUNCTION_ARGS)
{
	return predict_record(fcinfo, MAAS_ANSWER_PROBA);
}

/* maas_predict_label(model, [version,] row): the class as text */
PG_FUNCTION_INFO_V1(maas_predict_label_row);
Datum
maas_predict_label_row(PG_FUNCTION_ARGS)
{
	return predict_record(fcinfo, MAAS_ANSWER_LABEL);
}

/* maas_predict_json(model, [version,] row): everything, as json */
PG_FUNCTION_INFO_V1(maas_predict_json_row);
Datum
maas_predict_json_row(PG_FUNCTION_ARGS)
{
	return predict_record(fcinfo, MAAS_ANSWER_JSON);
}
