/*
 * optimize_prune.c
 *		maas_prune's new tensors: magnitude pruning of the dense layers'
 *		weights (set to zero, global or per layer), or whole hidden units
 *		removed from a plain chain of dense layers (the layers become
 *		smaller); and, with params.finetune_epochs, more epochs of
 *		maas_train's trainer on a units-pruned MLP from its pruned weights.
 *
 * quantize.h has the kernels; optimize.c writes the new version from the
 * Builder (optimize_int.h).
 */
#include "optimize_int.h"
#include "services.h"

#include "miscadmin.h"
#include "utils/memutils.h"

/* is layer i a dense layer whose weight is an F32 [n_out, n_in] tensor */
static const StTensor *
dense_f32(Opt *o, const MaasJson *l)
{
	const char *op = opt_layer_string(l, "op");
	const char *wname = opt_layer_string(l, "weight");
	const char *layout = opt_layer_string(l, "layout");
	const StTensor *t;

	if (op == NULL || strcmp(op, "dense") != 0 || wname == NULL ||
		(layout != NULL && strcmp(layout, "out_in") != 0) ||
		(t = st_find(&o->file, wname)) == NULL || t->ndim != 2 || t->dtype != ST_F32)
		return NULL;
	return t;
}

static int
tensor_index(const StFile *f, const StTensor *t)
{
	return (int) (t - f->tensors);
}

/* magnitude pruning of every dense layer's weights (not biases) */
void
opt_prune_magnitude(Opt *o, Builder *bd)
{
	int			n = 0;
	const float **w = palloc(sizeof(float *) * Max(bd->layers->n, 1));
	size_t	   *len = palloc(sizeof(size_t) * Max(bd->layers->n, 1));
	uint8_t   **mask = palloc(sizeof(uint8_t *) * Max(bd->layers->n, 1));
	int		   *idx = palloc(sizeof(int) * Max(bd->layers->n, 1));
	size_t		pruned = 0;
	MaasError	err;

	for (int i = 0; i < bd->layers->n; i++)
	{
		const StTensor *t = dense_f32(o, maas_json_at(bd->layers, i));

		if (t == NULL || bd->data[tensor_index(&o->file, t)] != NULL)
			continue;
		idx[n] = tensor_index(&o->file, t);
		bd->data[idx[n]] = opt_tensor_floats(t, false);
		w[n] = bd->data[idx[n]];
		len[n] = (size_t) t->numel;
		mask[n] = palloc_extended(Max(len[n], 1), MCXT_ALLOC_HUGE);
		o->total += t->numel;
		n++;
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %d of model \"%s\" has no float32 dense layers to prune",
						o->parent, o->model)));
	if (!maas_prune_magnitude(n, w, len, o->sparsity, o->scope, mask, &pruned,
							  &maas_interrupts_tick, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "could not prune the weights", NULL);
	for (int j = 0; j < n; j++)
		maas_prune_apply(bd->data[idx[j]], mask[j], len[j]);
	o->n_changed = n;
	o->pruned = (int64) pruned;
}

static bool
per_unit_op(const char *op)
{
	return strcmp(op, "relu") == 0 || strcmp(op, "tanh") == 0 ||
		strcmp(op, "sigmoid") == 0 || strcmp(op, "gelu") == 0 ||
		strcmp(op, "dropout") == 0;
}

/* a dense layer's weights as pruning leaves them, while they change */
typedef struct UnitsLayer
{
	float	   *w;				/* rows x cols, or NULL: the parent's */
	int			rows,
				cols;
	float	   *b;				/* rows, when the rows changed and it has one */
	const StTensor *bias;
} UnitsLayer;

/*
 * Structured pruning: in a plain chain of layers (none names its inputs),
 * each dense layer followed, through per-unit activations only, by another
 * dense layer loses the hidden units of lowest score (quantize.h:
 * maas_prune_units): its weight rows and biases, and the next layer's
 * columns.  Every hidden layer is pruned, in order: a layer whose inputs
 * the pair before pruned is scored on its remaining columns, and then
 * loses its own units.  The dense layers become smaller.
 */
void
opt_prune_units(Opt *o, Builder *bd)
{
	MaasError	err;
	int			nl = bd->layers->n;
	UnitsLayer *cur = palloc0(sizeof(UnitsLayer) * Max(nl, 1));

	for (int i = 0; i < nl; i++)
		if (maas_json_get(maas_json_at(bd->layers, i), "input") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("version %d of model \"%s\" is not a plain chain of layers", o->parent, o->model),
					 errdetail("Pruning whole units needs a network whose layers each read the one before (an MLP)."),
					 errhint("Use \"method\": \"magnitude\".")));

	for (int i = 0; i < nl; i++)
	{
		const MaasJson *a = maas_json_at(bd->layers, i);
		const StTensor *ta = dense_f32(o, a);
		const StTensor *tb = NULL;
		const char *bname;
		int			j;
		int			h,
					n_in,
					n_out,
					kept = 0;
		const float *wa,
				   *wb,
				   *ba = NULL;
		uint8_t    *keep;

		CHECK_FOR_INTERRUPTS();
		if (ta == NULL)
			continue;
		for (j = i + 1; j < nl; j++)
		{
			const MaasJson *l = maas_json_at(bd->layers, j);
			const char *op = opt_layer_string(l, "op");

			if (op == NULL)
				break;
			if (strcmp(op, "dense") == 0)
			{
				tb = dense_f32(o, l);
				break;
			}
			if (!per_unit_op(op))
				break;
		}
		if (tb == NULL || j >= nl)
			continue;
		h = (int) ta->shape[0];
		n_out = (int) tb->shape[0];
		if (tb->shape[1] != h || h < 2 ||
			bd->data[tensor_index(&o->file, ta)] != NULL ||
			bd->data[tensor_index(&o->file, tb)] != NULL)
			continue;
		/* layer i as the pair before left it (its inputs pruned), or the parent's */
		if (cur[i].w != NULL)
		{
			wa = cur[i].w;
			n_in = cur[i].cols;
		}
		else
		{
			wa = opt_tensor_floats(ta, false);
			n_in = (int) ta->shape[1];
		}
		wb = opt_tensor_floats(tb, false);
		keep = palloc(h);
		if (!maas_prune_units(h, n_in, wa, n_out, wb, o->sparsity, keep, &err))
			maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "could not prune the units", NULL);
		bname = opt_layer_string(a, "bias");
		cur[i].bias = bname ? st_find(&o->file, bname) : NULL;
		if (cur[i].bias != NULL && (cur[i].bias->dtype != ST_F32 || cur[i].bias->numel != h))
			cur[i].bias = NULL;
		if (cur[i].bias != NULL)
			ba = opt_tensor_floats(cur[i].bias, false);
		for (int u = 0; u < h; u++)
			kept += keep[u] ? 1 : 0;
		{
			float	   *na = palloc_extended(sizeof(float) * (size_t) kept * n_in, MCXT_ALLOC_HUGE);
			float	   *nb = palloc_extended(sizeof(float) * (size_t) n_out * kept, MCXT_ALLOC_HUGE);
			float	   *nba = ba ? palloc(sizeof(float) * kept) : NULL;
			int			c = 0;

			for (int u = 0; u < h; u++)
			{
				if (!keep[u])
					continue;
				memcpy(na + (size_t) c * n_in, wa + (size_t) u * n_in, sizeof(float) * n_in);
				if (nba)
					nba[c] = ba[u];
				for (int r = 0; r < n_out; r++)
					nb[(size_t) r * kept + c] = wb[(size_t) r * h + u];
				c++;
			}
			cur[i].w = na;
			cur[i].rows = kept;
			cur[i].cols = n_in;
			cur[i].b = nba;
			cur[j].w = nb;
			cur[j].rows = n_out;
			cur[j].cols = kept;
		}
		o->n_changed++;
		o->pruned += h - kept;
		o->total += h;
		/* layer j now reads fewer inputs, and its own units are next */
		i = j - 1;
	}
	if (o->n_changed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %d of model \"%s\" has no hidden units to prune", o->parent, o->model),
				 errdetail("Pruning units needs a dense layer followed, through activations, by another dense layer.")));

	/* the changed layers' tensors, and the config members that name them */
	for (int i = 0; i < nl; i++)
	{
		const StTensor *t;
		char	   *wname;

		if (cur[i].w == NULL)
			continue;
		t = dense_f32(o, maas_json_at(bd->layers, i));
		wname = psprintf("%s.pruned", t->name);
		opt_add_tensor(bd, wname, ST_F32, 2, cur[i].rows, cur[i].cols, cur[i].w);
		if (cur[i].b != NULL)
		{
			char	   *bn = psprintf("%s.pruned", cur[i].bias->name);

			opt_add_tensor(bd, bn, ST_F32, 1, cur[i].rows, 0, cur[i].b);
			bd->patch[i] = psprintf("\"weight\": %s, \"bias\": %s",
									opt_json_quote(wname), opt_json_quote(bn));
		}
		else
			bd->patch[i] = psprintf("\"weight\": %s", opt_json_quote(wname));
		bd->replaced[i] = pstrdup(t->name);
	}
}

/*
 * Fine-tuning a pruned MLP trained by maas_train: finetune_epochs more
 * epochs on its training rows (those of the rebuilt holdout's split), from
 * the pruned weights, with the parent's optimizer and params.  The new
 * weights are written over the pruned ones in the new version's file.
 */
/* does p point into the new version's stored bytes (a tensor used in place) */
static bool
in_file(const Opt *o, const float *p)
{
	const char *d = VARDATA_ANY(o->new_weights);

	return (const char *) p >= d && (const char *) p < d + VARSIZE_ANY_EXHDR(o->new_weights);
}

void
opt_finetune(Opt *o, TrainJob *job)
{
	MaasNnConfig c;
	MaasNnModel init;
	MaasNnResult res;
	MaasTrainSet data;
	MaasTrainSet val;
	MaasTrainHooks hooks = {job, maas_check_interrupts, NULL};
	MaasError	err;
	MaasLayer  *dense[MAAS_NN_MAX_HIDDEN + 1];
	int			nd = 0;
	size_t		need;

	if (job->p.algorithm != ALG_MLP || job->task != MAAS_TASK_CLASSIFICATION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("parameter \"finetune_epochs\" fine-tunes classifiers trained by maas_train with algorithm \"mlp\""),
				 errdetail("Version %d of model \"%s\" is a %s %s.", o->parent, o->model,
						   maas_task_name(job->task), maas_train_algorithm_name(job->p.algorithm))));
	for (int i = 0; i < o->cm->net.n_layers; i++)
	{
		MaasLayer  *l = &o->cm->net.layers[i];

		if (l->op != MAAS_OP_DENSE)
			continue;
		if (nd == MAAS_NN_MAX_HIDDEN + 1 || l->w == NULL || l->b == NULL || l->w_in_out ||
			!in_file(o, l->w) || !in_file(o, l->b))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("version %d of model \"%s\" is not a network maas_train can fine-tune", o->parent, o->model)));
		dense[nd++] = l;
	}
	memset(&c, 0, sizeof(c));
	memset(&init, 0, sizeof(init));
	c.n_in = job->width;
	c.n_hidden = nd - 1;
	for (int l = 0; l < nd; l++)
	{
		if (l < nd - 1)
			c.hidden[l] = dense[l]->n_out;
		init.n_in[l] = dense[l]->n_in;
		init.n_out[l] = dense[l]->n_out;
		init.w[l] = (float *) dense[l]->w;
		init.b[l] = (float *) dense[l]->b;
	}
	init.n_layers = nd;
	c.activation = job->p.activation;
	c.dropout = (float) job->p.dropout;
	c.weight_decay = (float) job->p.weight_decay;
	c.n_out = job->n_classes == 2 ? 1 : job->n_classes;
	c.loss = job->n_classes == 2 ? MAAS_LOSS_SIGMOID_CE : MAAS_LOSS_SOFTMAX_CE;
	c.optimizer = job->p.optimizer;
	c.lr = (float) job->p.lr;
	c.momentum = (float) job->p.momentum;
	c.beta1 = 0.9f;
	c.beta2 = 0.999f;
	c.eps = 1e-8f;
	c.batch_size = (int) Max(1, Min((int64) job->p.batch_size, job->n_train));
	c.epochs = o->finetune_epochs;
	c.seed = job->p.seed;
	c.init = &init;
	if (!maas_nn_memory(&c, job->n_train, &need))
		need = SIZE_MAX;
	maas_train_check_memory(job, "The network, its optimizer state and workspace", need);

	memset(&data, 0, sizeof(data));
	memset(&val, 0, sizeof(val));
	data.d = job->width;
	data.x = job->x;
	data.n = job->n_train;
	data.cls = job->cls;
	val.d = job->width;
	if (!maas_nn_fit(maas_get_blas(), &c, &data, &val, &hooks, &res, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "could not fine-tune the pruned network",
				   err.status == MAAS_ERR_DIVERGED ? "Use fewer finetune_epochs." : NULL);
	/* in place: the layers' weights are the new file's tensors */
	for (int l = 0; l < nd; l++)
	{
		memcpy((float *) dense[l]->w, res.model.w[l],
			   sizeof(float) * (size_t) dense[l]->n_out * dense[l]->n_in);
		memcpy((float *) dense[l]->b, res.model.b[l], sizeof(float) * dense[l]->n_out);
	}
}
