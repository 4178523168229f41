/*
 * predict.h
 *		What the per-row predict functions share beyond the serving core
 *		(serve.h): the state of a call site whose rows may be read by column
 *		name.  maas_predict(model, row) keeps it (predict_row.c), and so do
 *		the jsonb and text forms (predict_json.c), whose JSON objects are rows
 *		by column name too.
 */
#ifndef MAAS_PREDICT_H
#define MAAS_PREDICT_H

#include "serve.h"
#include "inputs.h"

#include "access/htup.h"
#include "utils/jsonb.h"

typedef struct MaasRowState
{
	FmgrInfo	shim;			/* fn_extra holds the serving state */
	MemoryContext spec_cxt;		/* the current version's inputs and binding */
	Oid			catalog;
	int64		version_id;
	MaasInputs *inputs;
	/* records: the inputs bound to the row type last given */
	Oid			tuptype;
	int32		tuptypmod;
	TupleDesc	tupdesc;
	MaasBinding *bind;
	/* text: array_in, to read array literals as double precision[] */
	FmgrInfo	array_in;
	/* records: a canary's key column in the bound row type (rollout.h) */
	char		key[NAMEDATALEN];	/* "": not bound */
	Oid			key_tuptype;
	int32		key_tuptypmod;
	AttrNumber	key_attno;
	FmgrInfo	key_out;
} MaasRowState;

/* predict_row.c */
extern MaasRowState *maas_row_state(FmgrInfo *flinfo);
extern MaasInputs *maas_row_inputs(MaasRowState *rs, MaasServeState *st);

/* predict_json.c: a JSON array or object as the model's input row */
extern const float *maas_json_features(MaasRowState *rs, MaasServeState *st,
									   JsonbContainer *json);

#endif							/* MAAS_PREDICT_H */
