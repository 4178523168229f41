/*
 * onnx.c
 *		ONNX in SQL: the importer behind maas_register(model, 'onnx', bytes
 *		[, config]), and maas_onnx_inspect(bytes).
 *
 * The importer reads the model (onnx_read.c: every length and offset
 * checked, raw_data in place), translates the graph into a layer program
 * (onnx_translate.c), and writes the tensors the program names as
 * safetensors, in one copy from the model's bytes.  The version stores
 * that program and those weights, as for any other model: serving never
 * sees ONNX.  The config given is merged under the derived one: its keys
 * are kept (a tokenizer, labels) unless the translation writes the same
 * key.  Its "onnx" object chooses what the graph cannot say: "output" (the
 * graph output to serve), "task", "pool" (onnx_translate.h).
 *
 * Errors: bytes that are not a valid model are
 * ERRCODE_INVALID_BINARY_REPRESENTATION ("invalid ONNX model"), a valid
 * graph maas cannot translate ERRCODE_FEATURE_NOT_SUPPORTED (the node and
 * a hint), both before anything is stored.
 */
#include "model.h"
#include "services.h"

#include "onnx.h"
#include "onnx_translate.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

/* the reader's budget: what a model of len bytes may allocate besides */
static size_t
read_budget(size_t len)
{
	size_t		extra = (size_t) 256 << 20;

	return len > (SIZE_MAX - extra) / 2 ? SIZE_MAX : 2 * len + extra;
}

static MaasOnnxModel *
read_model(const uint8 *data, size_t len, uint32 flags)
{
	MaasOnnxOptions opts = {flags, read_budget(len)};
	MaasOnnxModel *m;
	MaasError	err;

	m = maas_onnx_read(data, len, &opts, &maas_interrupts_tick, &err);
	if (m == NULL && err.status == MAAS_ERR_INVALID)
		maas_raise(&err, ERRCODE_INVALID_BINARY_REPRESENTATION, "invalid ONNX model",
				   "Pass the bytes of a .onnx file, as torch.onnx.export writes it.");
	if (m == NULL)
		maas_raise(&err, ERRCODE_INVALID_BINARY_REPRESENTATION, NULL, NULL);
	return m;
}

/* a string key of the config's "onnx" object, or NULL */
static const char *
onnx_option(const MaasJson *opts, const char *key)
{
	const MaasJson *v = opts != NULL ? maas_json_get(opts, key) : NULL;

	if (v == NULL || v->type == MAAS_JSON_NULL)
		return NULL;
	if (v->type != MAAS_JSON_STRING)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("config key \"onnx.%s\" must be a string", key)));
	return v->u.string;
}

/*
 * maas_register(model, 'onnx', bytes [, config]): the config to store
 * (derived, over the one given) and the weights (safetensors) replacing
 * the bytes.
 */
void
maas_onnx_import(Jsonb **config, const uint8 **data, size_t *len)
{
	MaasOnnxModel *m = read_model(*data, *len, 0);
	MaasOnnxTranslateOptions opts;
	MaasOnnxImport imp;
	MaasError	err;
	const MaasJson *given = NULL;
	uint8	   *st;
	size_t		st_len;
	Jsonb	   *program;

	memset(&opts, 0, sizeof(opts));
	if (*config != NULL)
	{
		MaasJson   *tree = maas_config_tree(*config);

		given = maas_json_get(tree, "onnx");
		if (given != NULL && given->type != MAAS_JSON_OBJECT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("config key \"onnx\" must be an object"),
					 errhint("Choose the graph output to serve with '{\"onnx\": {\"output\": \"name\"}}'.")));
		if (maas_json_get(tree, "layers") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the config of an ONNX model must not hold \"layers\""),
					 errdetail("The layer program is derived from the graph.")));
	}
	opts.output = onnx_option(given, "output");
	opts.task = onnx_option(given, "task");
	opts.pool = onnx_option(given, "pool");

	if (!maas_onnx_translate(m, &opts, &imp, &maas_interrupts_tick, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL);
	st = maas_onnx_write_weights(&imp, &st_len, &err);
	if (st == NULL)
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL);

	program = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(imp.config.data)));
	if (*config != NULL)
		program = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(*config),
													 JsonbPGetDatum(program)));
	*config = program;
	*data = st;
	*len = st_len;
}

#define INSPECT_COLS 7

/*
 * maas_onnx_inspect(bytes): one row per operator of the graph, in order of
 * first use (op, domain, nodes, first_node, first_node_name, supported,
 * note).  If, Loop and Scan are read as stubs, so a model with subgraphs
 * lists them as unsupported rather than failing.  "supported" says the
 * translator knows the operator; a node may still be refused for its
 * attributes or shapes, which maas_register says.
 */
PG_FUNCTION_INFO_V1(maas_onnx_inspect);
Datum
maas_onnx_inspect(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bytea	   *bytes;
	MaasOnnxModel *m;
	MaasOnnxOpCount *ops;
	int32_t		n_ops;
	MaasError	err;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be null")));
	bytes = PG_GETARG_BYTEA_PP(0);
	InitMaterializedSRF(fcinfo, 0);
	m = read_model((const uint8 *) VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes),
				   MAAS_ONNX_OPAQUE_SUBGRAPHS);
	ops = maas_onnx_op_counts(m, maas_onnx_supported_ops, &n_ops, &err);
	if (ops == NULL)
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL);
	for (int32_t i = 0; i < n_ops; i++)
	{
		Datum		values[INSPECT_COLS];
		bool		nulls[INSPECT_COLS];
		const MaasOnnxNode *first = &m->graph.nodes[ops[i].first_node];

		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(ops[i].op_type);
		values[1] = CStringGetTextDatum(ops[i].domain[0] ? ops[i].domain : "ai.onnx");
		values[2] = Int32GetDatum(ops[i].count);
		values[3] = Int32GetDatum(ops[i].first_node);
		values[4] = CStringGetTextDatum(first->name);
		values[5] = BoolGetDatum(ops[i].supported);
		if (ops[i].note != NULL)
			values[6] = CStringGetTextDatum(ops[i].note);
		else
			nulls[6] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
