/*
 * model.h
 *		A model ready to run, built from a version's config and weights
 *		(model.c), and the safetensors glue around the kernel.
 */
#ifndef MAAS_MODEL_H
#define MAAS_MODEL_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "net.h"
#include "safetensors.h"
#include "json.h"
#include "tokenizer.h"

typedef enum MaasTask
{
	MAAS_TASK_CLASSIFICATION,
	MAAS_TASK_REGRESSION,
	MAAS_TASK_GENERATION,		/* a language model: next-token logits */
	MAAS_TASK_EMBEDDING,		/* a text encoder: one vector per text */
	MAAS_TASK_CLUSTERING		/* k-means: distances to k centers, the
								 * nearest is the cluster */
} MaasTask;

/*
 * A model ready to run: the net plus what is needed to read its output.
 * Everything it points to lives in one memory context.
 */
typedef struct MaasModel
{
	MaasTask	task;
	MaasNet		net;
	int			n_classes;		/* classification: 2 for a sigmoid output;
								 * clustering: the clusters */
	bool		missing_ok;		/* only trees read the features: NaN (and a
								 * NULL array element) is a missing value */
	bool		sigmoid_binary; /* one sigmoid output: p(class 1) */
	bool		outputs_proba;	/* the last layer yields probabilities */
	char	  **labels;			/* n_classes texts, or NULL */
	float8	   *label_values;	/* n_classes numbers if labels are numeric */
	float	   *row_work;		/* workspace for one row (NULL: text model) */
	Size		packed_bytes;	/* copies of the weights maas_model_pack made */

	/* text models (the net's input is token ids) */
	const MaasTokenizer *tok;	/* from the config's "tokenizer" */
	int			vocab;			/* ids the embedding takes: 0 .. vocab-1 */
	int			n_positions;	/* the context: positions the model has */
	int			n_types;		/* token types (BERT's segments), or 0 */
	int			embed_value;	/* value maas_embed returns, or 0 */

	/*
	 * A remote text model: an OpenAI-compatible endpoint (ops_remote.h)
	 * instead of layers, tokenizer and context; NULL for every other.
	 */
	const struct MaasRemoteEndpoint *remote;
} MaasModel;

/* a text model, whose input is token ids */
#define maas_model_is_text(m)	((m)->net.input == MAAS_NET_TOKENS || (m)->remote != NULL)

extern const char *maas_task_name(MaasTask task);

/* a config as the kernel's JSON tree, or raise */
extern MaasJson *maas_config_tree(Jsonb *config);

/*
 * The config a version is stored with: for an algorithm with an importer
 * (gpt2, bert: Hugging Face configs), the layer program it translates the
 * given config into, merged over it; else the config as given (import.c).
 */
extern Jsonb *maas_import_config(const char *algorithm, Jsonb *config,
								 const StFile *weights);

/*
 * Importers that replace the bytes given (import.c): for those algorithms
 * ('onnx'), maas_import_weights turns *data into safetensors weights and
 * *config (which may be NULL) into the config to store; for the others it
 * changes nothing.  maas_import_derives_config says whether an algorithm's
 * config may be omitted because its importer derives it.
 */
extern bool maas_import_derives_config(const char *algorithm);
extern void maas_import_weights(const char *algorithm, Jsonb **config,
								const uint8 **data, size_t *len);
/* onnx.c */
extern void maas_onnx_import(Jsonb **config, const uint8 **data, size_t *len);

/* a tree ensemble's arrays as a version's tensors "trees.*" (import.c) */
#define MAAS_TREES_TENSORS	11
struct MaasTrees;
extern int	maas_trees_tensors(const struct MaasTrees *trees, StWriteTensor *out,
							   int64 *shapes);

/* the number of outputs maas.version records for a model */
extern int	maas_model_outputs(const MaasModel *m);

/* build a model from its config and parsed weights, or raise */
extern MaasModel *maas_model_build(Jsonb *config, const StFile *weights);

/* the same for the bytes of a stored version, without reading every value */
extern MaasModel *maas_model_load(Jsonb *config, const StFile *weights);

/* check the rest of a config a stored version's callers read, or raise */
extern void maas_model_check_config(Jsonb *config, const MaasModel *model);

/*
 * Give a feature model's dense layers weights packed for this backend's
 * matrix kernels (maas_net_pack), in the current memory context: the
 * model's, so the copies go with it.  Text models keep their weights in
 * place.
 */
extern void maas_model_pack(MaasModel *m, bool convs_only);

/* parse safetensors bytes or raise; tensors point into weights */
extern void maas_parse_safetensors(bytea *weights, StFile *file);

/* safetensors bytes as a bytea, or raise */
extern bytea *maas_write_safetensors(const StWriteTensor *tensors, int n_tensors,
									 const char *const *meta_keys,
									 const char *const *meta_values, int n_meta);

#endif							/* MAAS_MODEL_H */
