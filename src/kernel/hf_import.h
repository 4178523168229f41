/*
 * hf_import.h
 *		Hugging Face transformer checkpoints (GPT-2, BERT) as layer programs.
 *
 * A checkpoint registers in Hugging Face's own layout: model.safetensors as
 * stored, config.json as the config.  At registration its config is turned
 * into the layer program the runtime runs (net.h), once; serving never
 * looks at the Hugging Face keys again.  Tensor names are taken with or
 * without their "transformer." / "bert." prefix; buffers (attn.bias,
 * attn.masked_bias, embeddings.position_ids) are ignored; a GPT-2 without
 * lm_head.weight ties its head to the token embedding.
 */
#ifndef MAAS_HF_IMPORT_H
#define MAAS_HF_IMPORT_H

#include "json.h"
#include "safetensors.h"

typedef enum MaasHfArch
{
	MAAS_HF_GPT2,
	MAAS_HF_BERT
} MaasHfArch;

/*
 * Write to out a JSON object of the keys the runtime reads ("task",
 * "input", "layers", "output", "embedding", "labels", "n_positions",
 * "vocab_size", "architecture"), made from a Hugging Face config and the
 * tensors present.  The caller merges it over the user's config.  Errors
 * are sentences (they become the detail of "invalid model config").
 */
extern bool maas_hf_translate(MaasHfArch arch, const MaasJson *hf,
							  const StFile *weights, MaasBuf *out,
							  MaasError *err);

#endif							/* MAAS_HF_IMPORT_H */
