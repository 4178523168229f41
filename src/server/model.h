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

typedef enum MaasTask
{
	MAAS_TASK_CLASSIFICATION,
	MAAS_TASK_REGRESSION
} MaasTask;

/*
 * A model ready to run: the net plus what is needed to read its output.
 * Everything it points to lives in one memory context.
 */
typedef struct MaasModel
{
	MaasTask	task;
	MaasNet		net;
	int			n_classes;		/* classification: 2 for a sigmoid output */
	bool		sigmoid_binary; /* one sigmoid output: p(class 1) */
	bool		outputs_proba;	/* the last layer yields probabilities */
	char	  **labels;			/* n_classes texts, or NULL */
	float8	   *label_values;	/* n_classes numbers if labels are numeric */
	float	   *row_work;		/* workspace for one row */
} MaasModel;

extern const char *maas_task_name(MaasTask task);

/* build a model from its config and parsed weights, or raise */
extern MaasModel *maas_model_build(Jsonb *config, const StFile *weights);

/* parse safetensors bytes or raise; tensors point into weights */
extern void maas_parse_safetensors(bytea *weights, StFile *file);

/* safetensors bytes as a bytea, or raise */
extern bytea *maas_write_safetensors(const StWriteTensor *tensors, int n_tensors,
									 const char *const *meta_keys,
									 const char *const *meta_values, int n_meta);

#endif							/* MAAS_MODEL_H */
