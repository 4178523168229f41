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
 */
#include "model.h"
#include "services.h"

#include "hf_import.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

bool
maas_import_derives_config(const char *algorithm)
{
	return strcmp(algorithm, "onnx") == 0;
}

void
maas_import_weights(const char *algorithm, Jsonb **config, const uint8 **data, size_t *len)
{
	if (strcmp(algorithm, "onnx") == 0)
		maas_onnx_import(config, data, len);
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
