/*
 * import.c
 *		Importers: models registered in another system's own format,
 *		translated into a layer program once, at registration.
 *
 * maas_register(model, 'gpt2' | 'bert', weights, config) takes a Hugging
 * Face checkpoint as published: model.safetensors as the weights, its
 * config.json (plus a "tokenizer" key with the tokenizer's files) as the
 * config.  Unless the config already holds a layer program ("layers"), the
 * kernel (hf_import.c) writes the program and the keys the runtime reads,
 * and they are merged over the given config, whose own keys are kept for
 * reference.  The version stores the merged config; serving never looks at
 * the Hugging Face keys again.
 *
 * maas_register(model, 'onnx', bytes [, config]) takes a .onnx file: its
 * importer (onnx.c) replaces the bytes themselves, before anything reads
 * them as safetensors, with the weights of the layer program it derives
 * from the graph, and derives the config.
 *
 * maas_register(model, 'xgboost', json_bytes [, config]) takes the JSON
 * that XGBoost's save_model("model.json") writes instead of safetensors:
 * the kernel (xgboost_json.c) reads it into the trees form, which becomes
 * the version's tensors ("trees.*", doc/model-format.md) and a layer
 * program of one "trees" layer and the objective's transform (sigmoid,
 * softmax or none), merged under the given config (whose "task" and
 * "labels" win).  Named features give the config "inputs", so rows can be
 * passed by column name; the serving path never calls XGBoost.
 */
#include "model.h"
#include "services.h"

#include "hf_import.h"

#include "trees.h"

#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

static void xgboost_import(Jsonb **config, const uint8 **data, size_t *len);

bool
maas_import_derives_config(const char *algorithm)
{
	return strcmp(algorithm, "onnx") == 0 || strcmp(algorithm, "xgboost") == 0;
}

void
maas_import_weights(const char *algorithm, Jsonb **config, const uint8 **data, size_t *len)
{
	if (strcmp(algorithm, "onnx") == 0)
		maas_onnx_import(config, data, len);
	else if (strcmp(algorithm, "xgboost") == 0)
		xgboost_import(config, data, len);
}

Jsonb *
maas_import_config(const char *algorithm, Jsonb *config, const StFile *weights)
{
	MaasHfArch	arch;
	MaasJson   *hf;
	MaasBuf		out;
	MaasError	err;
	Jsonb	   *program;

	if (strcmp(algorithm, "gpt2") == 0)
		arch = MAAS_HF_GPT2;
	else if (strcmp(algorithm, "bert") == 0)
		arch = MAAS_HF_BERT;
	else
		return config;

	hf = maas_config_tree(config);
	if (maas_json_get(hf, "layers") != NULL)
		return config;			/* a layer program already: as for any model */

	maas_buf_init(&out);
	if (!maas_hf_translate(arch, hf, weights, &out, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "invalid model config",
				   arch == MAAS_HF_GPT2 ?
				   "Register GPT-2 with its config.json and model.safetensors as Hugging Face publishes them." :
				   "Register BERT with its config.json and model.safetensors as Hugging Face publishes them.");
	program = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(config),
											  JsonbPGetDatum(program)));
}

/*
 * The arrays of a tree ensemble as the tensors "trees.*" of a version
 * (doc/model-format.md), into out (MAAS_TREES_TENSORS entries; shapes
 * holds 3 int64s for them); returns how many.
 */
int
maas_trees_tensors(const MaasTrees *t, StWriteTensor *out, int64 *shapes)
{
	int			k = 0;

	shapes[0] = t->n_trees;
	shapes[1] = t->n_groups;
	shapes[2] = t->n_nodes;
	out[k++] = (StWriteTensor) {"trees.roots", ST_I32, 1, &shapes[0], t->roots};
	out[k++] = (StWriteTensor) {"trees.groups", ST_I32, 1, &shapes[0], t->groups};
	out[k++] = (StWriteTensor) {"trees.base_score", ST_F32, 1, &shapes[1], t->base_score};
	out[k++] = (StWriteTensor) {"trees.feature", ST_I32, 1, &shapes[2], t->feature};
	out[k++] = (StWriteTensor) {"trees.threshold", ST_F32, 1, &shapes[2], t->threshold};
	out[k++] = (StWriteTensor) {"trees.left", ST_I32, 1, &shapes[2], t->left};
	out[k++] = (StWriteTensor) {"trees.right", ST_I32, 1, &shapes[2], t->right};
	out[k++] = (StWriteTensor) {"trees.default_left", ST_U8, 1, &shapes[2], t->default_left};
	out[k++] = (StWriteTensor) {"trees.value", ST_F32, 1, &shapes[2], t->value};
	if (t->gain)
		out[k++] = (StWriteTensor) {"trees.gain", ST_F32, 1, &shapes[2], t->gain};
	if (t->cover)
		out[k++] = (StWriteTensor) {"trees.cover", ST_F32, 1, &shapes[2], t->cover};
	return k;
}

/* bytes that start, after white space, as a JSON object does */
static bool
looks_like_json(const uint8 *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		if (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')
			continue;
		return data[i] == '{';
	}
	return false;
}

/*
 * XGBoost's JSON model (as the header says): the safetensors of
 * its trees into *data and *len, and the config (the given one over the
 * layer program).  Anything that is not safetensors is read as JSON, so a
 * wrong file gets the reader's error.
 */
static void
xgboost_import(Jsonb **config, const uint8 **data, size_t *len)
{
	MaasXgbModel xm;
	MaasError	err;
	int64		shapes[3];
	const MaasTrees *tr = &xm.trees;
	StringInfoData s;
	const char *meta_keys[1] = {"format"};
	const char *meta_vals[1] = {"pt"};
	bytea	   *weights;
	Jsonb	   *program;
	JsonbValue	kv;
	JsonbValue *given_task = NULL;
	bool		classification;

	/* what maas_export wrote of an imported version is safetensors already */
	if (*len > 8 && !looks_like_json(*data, *len) && (*data)[8] == '{')
		return;
	if (*len < 2 || !looks_like_json(*data, *len))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid XGBoost model"),
				 errdetail("The bytes are not JSON."),
				 errhint("Register the JSON file XGBoost's save_model(\"model.json\") writes; "
						 "convert a binary or UBJSON model with XGBoost first.")));

	if (!maas_xgb_read((const char *) *data, *len, &maas_interrupts_tick, &xm, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "invalid XGBoost model",
				   "Register the JSON file XGBoost's save_model(\"model.json\") writes.");

	{
		StWriteTensor t[MAAS_TREES_TENSORS];
		int			n = maas_trees_tensors(tr, t, shapes);

		weights = maas_write_safetensors(t, n, meta_keys, meta_vals, 1);
	}

	/* the task: the given config's, else the objective's */
	classification = xm.classification;
	if (*config != NULL && JsonContainerIsObject(&(*config)->root))
	{
		kv.type = jbvString;
		kv.val.string.val = "task";
		kv.val.string.len = 4;
		given_task = findJsonbValueFromContainer(&(*config)->root, JB_FOBJECT, &kv);
		if (given_task && given_task->type == jbvString)
			classification = given_task->val.string.len == 14 &&
				memcmp(given_task->val.string.val, "classification", 14) == 0;
	}

	initStringInfo(&s);
	appendStringInfo(&s, "{\"task\": \"%s\", \"n_features\": %d, \"layers\": [{\"op\": \"trees\"}%s]",
					 classification ? "classification" : "regression", tr->n_features,
					 xm.transform == MAAS_TREES_LOGISTIC ? ", {\"op\": \"sigmoid\"}" :
					 xm.transform == MAAS_TREES_SOFTMAX ? ", {\"op\": \"softmax\"}" : "");
	if (xm.feature_names)
	{
		appendStringInfoString(&s, ", \"impute\": \"none\", \"inputs\": [");
		for (int i = 0; i < tr->n_features; i++)
		{
			appendStringInfoString(&s, i ? ", {\"name\": " : "{\"name\": ");
			escape_json(&s, xm.feature_names[i]);
			appendStringInfoString(&s, ", \"kind\": \"number\"}");
		}
		appendStringInfoChar(&s, ']');
	}
	appendStringInfoString(&s, ", \"xgboost\": {\"objective\": ");
	escape_json(&s, xm.objective);
	appendStringInfo(&s, ", \"base_score\": %.9g, \"rounds\": %d, \"best_iteration\": %d}}",
					 xm.base_score, xm.n_rounds, xm.best_iteration);
	program = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
	if (*config != NULL)
		program = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(program),
													 JsonbPGetDatum(*config)));
	*config = program;
	*data = (const uint8 *) VARDATA(weights);
	*len = VARSIZE(weights) - VARHDRSZ;
}
