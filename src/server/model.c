/*
 * model.c
 *		From a version's config (jsonb) and weights (safetensors) to a model
 *		the layer runtime can run.
 *
 * The same code validates a model when it is registered and builds it when
 * a backend loads it, so a model that registered always loads.  The layer
 * program is built by the kernel (net_build.c) from the config's JSON;
 * here is what only the server knows: the task and how to read the output,
 * and the labels.
 */
#include "model.h"
#include "inputs.h"
#include "net_build.h"
#include "ops_remote.h"
#include "services.h"
#include "text.h"

#include "miscadmin.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

static const char *const task_names[] = {
	[MAAS_TASK_CLASSIFICATION] = "classification",
	[MAAS_TASK_REGRESSION] = "regression",
	[MAAS_TASK_GENERATION] = "generation",
	[MAAS_TASK_EMBEDDING] = "embedding",
	[MAAS_TASK_CLUSTERING] = "clustering",
};

const char *
maas_task_name(MaasTask task)
{
	return task_names[task];
}

int
maas_model_outputs(const MaasModel *m)
{
	if (m->remote != NULL)		/* what the server answers: known for embeddings */
		return m->task == MAAS_TASK_EMBEDDING ? m->remote->dimensions : 0;
	switch (m->task)
	{
		case MAAS_TASK_CLASSIFICATION:
		case MAAS_TASK_CLUSTERING:
			return m->n_classes;
		case MAAS_TASK_REGRESSION:
			return 1;
		case MAAS_TASK_GENERATION:
			return m->vocab;
		case MAAS_TASK_EMBEDDING:
			return m->net.layers[m->embed_value - 1].shape.width;
	}
	return 0;
}

/* parse or raise; tensors in file point into weights */
void
maas_parse_safetensors(bytea *weights, StFile *file)
{
	MaasError	err;

	if (!st_parse((const uint8_t *) VARDATA_ANY(weights),
				  VARSIZE_ANY_EXHDR(weights), file, &err))
		maas_raise(&err, ERRCODE_INVALID_BINARY_REPRESENTATION,
				   "invalid safetensors data", NULL);
}

/*
 * Safetensors bytes as a bytea, or an error: st_write with the metadata
 * given, checked against the size a value can hold.
 */
bytea *
maas_write_safetensors(const StWriteTensor *tensors, int n_tensors,
					   const char *const *meta_keys,
					   const char *const *meta_values, int n_meta)
{
	MaasError	err;
	size_t		len;
	uint8_t    *out;
	bytea	   *result;

	out = st_write(tensors, n_tensors, meta_keys, meta_values, n_meta, &len, &err);
	if (out == NULL)
		maas_raise(&err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
				   "could not write safetensors data", NULL);
	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model weights are too large to store"),
				 errdetail("The weights take %zu bytes; a value holds at most 1 GB.", len)));
	result = palloc(len + VARHDRSZ);
	SET_VARSIZE(result, len + VARHDRSZ);
	memcpy(VARDATA(result), out, len);
	return result;
}

#define config_error(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
			 errmsg("invalid model config"), \
			 errdetail(__VA_ARGS__)))

static JsonbValue *
config_get(JsonbContainer *obj, const char *key)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

static char *
config_string(JsonbValue *v, const char *what)
{
	if (v->type != jbvString)
		config_error("%s must be a string.", what);
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static bool
container_is(JsonbValue *v, bool object)
{
	if (v->type != jbvBinary)
		return false;
	return object ? JsonContainerIsObject(v->val.binary.data)
		: JsonContainerIsArray(v->val.binary.data);
}

/*
 * The class labels, one per class: strings, numbers or booleans, each
 * distinct as text (numbers as numeric_out writes them) and numbers finite
 * as doubles.  Duplicates are found by hashing, and the loop checks for
 * interrupts: a config may list millions of labels, and this runs at every
 * load of the model in every backend.
 */
static void
build_labels(MaasModel *model, JsonbValue *labels)
{
	JsonbContainer *arr;
	int			n;
	bool		numeric = true;
	MaasStringSet *seen;

	if (!container_is(labels, false))
		config_error("\"labels\" must be an array.");
	arr = labels->val.binary.data;
	n = JsonContainerSize(arr);
	if (n != model->n_classes)
		config_error("\"labels\" has %d entries but the model outputs %d classes.",
					 n, model->n_classes);

	model->labels = palloc_extended(sizeof(char *) * n, MCXT_ALLOC_HUGE);
	model->label_values = palloc_extended(sizeof(float8) * n, MCXT_ALLOC_HUGE);
	seen = maas_string_set_create(n);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(arr, i);
		bool		full;

		CHECK_FOR_INTERRUPTS();
		if (v->type == jbvString)
		{
			model->labels[i] = pnstrdup(v->val.string.val, v->val.string.len);
			numeric = false;
		}
		else if (v->type == jbvNumeric)
		{
			float8		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
															   NumericGetDatum(v->val.numeric)));

			if (!isfinite(d))
				config_error("Label %d is not a finite number.", i + 1);
			model->labels[i] = DatumGetCString(DirectFunctionCall1(numeric_out,
																   NumericGetDatum(v->val.numeric)));
			model->label_values[i] = d;
		}
		else if (v->type == jbvBool)
		{
			model->labels[i] = pstrdup(v->val.boolean ? "true" : "false");
			model->label_values[i] = v->val.boolean ? 1 : 0;
		}
		else
			config_error("Label %d must be a string, a number or a boolean.", i + 1);
		pfree(v);

		if (maas_string_set_add(seen, model->labels[i], &full) != i)
			config_error("Label \"%s\" appears more than once.", model->labels[i]);
	}
	maas_string_set_free(seen);
	if (!numeric)
	{
		pfree(model->label_values);
		model->label_values = NULL;
	}
}

/* check for interrupts from inside a kernel (kernel.h: may not return) */
static void
model_tick(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

static const MaasTick tick = {model_tick, NULL};

/*
 * What a text model needs beside its net: the tokenizer (built from the
 * config's "tokenizer", or the server's shared copy of it: text_shared.c),
 * the sizes of its embedding tables, and the value maas_embed returns.
 */
static void
build_text(MaasModel *model, const MaasJson *config, Jsonb *jconfig, bool share)
{
	const MaasJson *v;
	const MaasTokenizer *tok;

	if (!maas_net_token_limits(&model->net, &model->vocab, &model->n_positions,
							   &model->n_types))
		config_error("A model that reads tokens needs an embedding layer.");
	tok = maas_text_tokenizer(jconfig, model->n_positions, share);
	if (tok->n_vocab > model->vocab)
		config_error("The tokenizer has %d tokens but the model's embedding has %d.",
					 tok->n_vocab, model->vocab);
	model->tok = tok;

	if ((v = maas_json_get(config, "embedding")) != NULL && v->type != MAAS_JSON_NULL)
	{
		if (v->type != MAAS_JSON_STRING ||
			(model->embed_value = maas_net_find(&model->net, v->u.string)) <= 0)
			config_error("\"embedding\" must name a layer.");
		if (model->net.layers[model->embed_value - 1].shape.seq)
			config_error("\"embedding\" names layer %d, whose value is a sequence; pool it.",
						 model->embed_value);
	}
	else if (model->task == MAAS_TASK_EMBEDDING)
		model->embed_value = model->net.output > 0 ? model->net.output : model->net.n_layers;
}

/* the config as the kernel's JSON tree */
MaasJson *
maas_config_tree(Jsonb *config)
{
	char	   *text = JsonbToCString(NULL, &config->root, VARSIZE(config));
	MaasError	err;
	MaasJson   *tree = maas_json_parse(text, strlen(text), 0, &tick, &err);

	if (tree == NULL)
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "invalid model config", NULL);
	return tree;
}

/*
 * Build a model from its config and parsed weights, in the current memory
 * context; the weights must outlive it (tensors are used in place).
 * Raises an error naming the first problem found.  check_values: also
 * check that every tensor holds finite numbers, which means reading all
 * of them.
 */
static MaasModel *
model_build(Jsonb *config, const StFile *file, bool check_values, bool share)
{
	MaasModel  *model = palloc0(sizeof(MaasModel));
	JsonbContainer *root = &config->root;
	JsonbValue *v;
	char	   *task;
	MaasJson   *tree;
	MaasError	err;
	size_t		nwork;

	if (!JsonContainerIsObject(root) || JsonContainerIsScalar(root))
		config_error("The config must be a JSON object.");

	if ((v = config_get(root, "task")) == NULL)
		config_error("The config has no \"task\".");
	task = config_string(v, "\"task\"");
	if (strcmp(task, "classification") == 0)
		model->task = MAAS_TASK_CLASSIFICATION;
	else if (strcmp(task, "regression") == 0)
		model->task = MAAS_TASK_REGRESSION;
	else if (strcmp(task, "generation") == 0)
		model->task = MAAS_TASK_GENERATION;
	else if (strcmp(task, "embedding") == 0)
		model->task = MAAS_TASK_EMBEDDING;
	else if (strcmp(task, "clustering") == 0)
		model->task = MAAS_TASK_CLUSTERING;
	else
		config_error("\"task\" must be \"classification\", \"regression\", \"generation\", \"embedding\" or \"clustering\", not \"%s\".",
					 task);

	/*
	 * The tree of everything but the tokenizer (its files are most of a
	 * text model's config, and a tree of them tens of MB): the tokenizer is
	 * read from the jsonb when it is built (text_shared.c).
	 */
	if (config_get(root, "tokenizer") != NULL)
		tree = maas_config_tree(DatumGetJsonbP(DirectFunctionCall2(jsonb_delete,
																   JsonbPGetDatum(config),
																   CStringGetTextDatum("tokenizer"))));
	else
		tree = maas_config_tree(config);

	/* a remote text model: its endpoint, checked by the kernel, and no layers */
	if ((model->task == MAAS_TASK_GENERATION || model->task == MAAS_TASK_EMBEDDING) &&
		(v = config_get(root, "remote")) != NULL)
	{
		model->remote = maas_remote_text_endpoint(maas_json_get(tree, "remote"),
												  model->task == MAAS_TASK_EMBEDDING, &err);
		if (model->remote == NULL)
		{
			if (err.status == MAAS_ERR_NOMEM)
				maas_raise(&err, 0, NULL, NULL);
			config_error("In \"remote\": %s.", err.msg);
		}
		return model;
	}
	if (!maas_net_build(&model->net, tree, file, check_values, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "invalid model config", NULL);
	if (maas_model_is_text(model))
		build_text(model, tree, config, share);
	else if (model->task == MAAS_TASK_GENERATION || model->task == MAAS_TASK_EMBEDDING)
		config_error("A %s model reads text: its config needs \"input\": \"tokens\".",
					 maas_task_name(model->task));

	/* how to read the output */
	{
		MaasOp		last = maas_net_value_op(&model->net,
											 model->net.output > 0 ? model->net.output :
											 model->net.n_layers);

		if (model->task == MAAS_TASK_GENERATION)
		{
			if (model->net.out_seq || model->net.n_out != model->vocab)
				config_error("A generation model must output %d next-token logits (one per token of its vocabulary); this one outputs %d.",
							 model->vocab, model->net.n_out);
		}
		else if (model->task == MAAS_TASK_EMBEDDING)
		{
			if (model->net.out_seq)
				config_error("An embedding model must output one vector per text; pool its last states.");
		}
		else if (model->net.out_seq)
			config_error("A %s model must output one vector per row; pool its sequence.",
						 maas_task_name(model->task));
		else if (model->task == MAAS_TASK_CLUSTERING)
		{
			if (last != MAAS_OP_KMEANS)
				config_error("A clustering model must end with a kmeans layer.");
			model->n_classes = model->net.n_out;
		}
		else if (model->task == MAAS_TASK_REGRESSION)
		{
			if (model->net.n_out != 1)
				config_error("A regression model must output 1 value; this one outputs %d.",
							 model->net.n_out);
		}
		else if (model->net.n_out == 1)
		{
			/* a remote classifier answers probabilities (ops_remote.h) */
			if (last != MAAS_OP_SIGMOID && last != MAAS_OP_REMOTE)
				config_error("A classification model with 1 output must end with a sigmoid layer.");
			model->sigmoid_binary = true;
			model->outputs_proba = true;
			model->n_classes = 2;
		}
		else
		{
			model->n_classes = model->net.n_out;
			model->outputs_proba = (last == MAAS_OP_SOFTMAX || last == MAAS_OP_REMOTE);
		}
	}

	/* missing values are the trees' to route when only trees read the input */
	model->missing_ok = model->net.n_layers > 0;
	for (int i = 0; i < model->net.n_layers; i++)
	{
		const MaasLayer *l = &model->net.layers[i];
		bool		reads_input = i == 0 && l->n_inputs == 0;

		for (int j = 0; j < l->n_inputs; j++)
			reads_input |= l->inputs[j] == 0;
		if (reads_input && l->op != MAAS_OP_TREES)
			model->missing_ok = false;
	}

	if ((v = config_get(root, "labels")) != NULL && v->type != jbvNull)
	{
		if (model->task != MAAS_TASK_CLASSIFICATION)
			config_error("A %s model has no \"labels\".", maas_task_name(model->task));
		build_labels(model, v);
	}

	/* a text model's calls size their workspace to their tokens (text.c) */
	if (maas_model_is_text(model))
		return model;
	if (!maas_net_workspace(&model->net, 1, 1, &nwork))
		config_error("The model is too large.");
	model->row_work = palloc_extended(sizeof(float) * nwork, MCXT_ALLOC_HUGE);
	return model;
}

/* a model to register: everything checked, the weights' values too */
MaasModel *
maas_model_build(Jsonb *config, const StFile *file)
{
	return model_build(config, file, true, false);
}

/*
 * A model of a stored version from bytes known to be the ones registered
 * (a shared copy, weights_shared.c), which maas_model_build checked: the
 * config and shapes are checked again, the values are not read, so a
 * backend starts serving without touching all of its weights.
 */
MaasModel *
maas_model_load(Jsonb *config, const StFile *file)
{
	return model_build(config, file, false, true);
}

/*
 * Check what later calls read of a config besides the net and the labels
 * (maas_model_build): the inputs and their fill values, which
 * maas_predict(model, row) and maas_evaluate parse, and that they make the
 * model's features.  Registration calls it, so that a stored version
 * always serves.
 */
void
maas_model_check_config(Jsonb *config, const MaasModel *model)
{
	MaasInputs *inputs = maas_inputs_from_config(config);

	if (inputs != NULL)
		maas_check_inputs_width(inputs, model->net.n_in);
}

/*
 * Packing is done once per backend, when the model enters its cache: one
 * row of the 784-512-10 MLP takes about 31 us with packed weights against
 * 40 us without (doc/performance.md), and a copy costs the weights' size
 * again, counted in the cache entry (maas.cache_size).  Text models keep
 * their weights where they are, shared, and unpacked: their products are
 * large batches, where packing gains little, and their weights are large.
 * Nor does a model served from a shared copy of its weights (cache.c),
 * but for its convolutions (convs_only): their packed copies are about
 * their weights' size, and save a reorder of them on every call (a fifth
 * of the Fashion-MNIST CNN's second convolution with one row a call).
 */
void
maas_model_pack(MaasModel *m, bool convs_only)
{
	MemoryContext cxt = CurrentMemoryContext;
	Size		before = MemoryContextMemAllocated(cxt, true);
	MaasError	err;

	if (maas_model_is_text(m))
		return;
	if (!(convs_only ? maas_net_pack_images(&m->net, maas_get_blas(), &err)
		  : maas_net_pack(&m->net, maas_get_blas(), &err)))
	{
		if (err.status == MAAS_ERR_NOMEM)
			maas_raise(&err, 0, "could not pack the model's weights", NULL);
		/* a library failed: the layers it did not pack run unpacked */
		elog(DEBUG1, "maas: packing weights failed: %s", err.msg);
	}
	m->packed_bytes = MemoryContextMemAllocated(cxt, true) - before;
}
