/*
 * train_mlp.c
 *		The MLP (and logistic regression, an MLP with no hidden layer): the
 *		dense stack of train_nn.c alone, described to the shared mini-batch
 *		loop (maas_nn_fit_run) as an NnFit; maas_nn_memory, maas_nn_fit and
 *		maas_nn_predict (see train.h).
 */
#include "train_int.h"

#include <string.h>

#define EVAL_ROWS		256

/* the dense layers of a net, in order, on params */
static void
point_dense(const NnDense *d, MaasNet *net, const float *params)
{
	int			l = 0;

	for (int i = 0; i < net->n_layers && l < d->n_layers; i++)
	{
		MaasLayer  *dl = &net->layers[i];

		if (dl->op == MAAS_OP_DENSE)
		{
			dl->w = params + d->w_off[l];
			dl->b = params + d->b_off[l];
			l++;
		}
	}
}

/* ---- the MLP: the dense stack alone ---- */

typedef struct MlpState
{
	NnFit		fit;
	NnDense		dense;
	MaasLayer	layers[2 * NN_MAX_LAYERS + 1];
} MlpState;

static double
mlp_step(NnFit *fit, const MaasBlas *blas, int m)
{
	MlpState   *st = fit->model;
	const float *z = maas_nn_dense_forward(&st->dense, blas, fit->params, fit->xb, m,
										   &fit->rng);
	double		loss = maas_nn_head_loss(fit->cfg, m, z, fit->cb, fit->yb, st->dense.g0);

	maas_nn_dense_backward(&st->dense, blas, fit->params, fit->grads, fit->xb, m, NULL);
	return loss;
}

static void
mlp_point(NnFit *fit, const float *params)
{
	MlpState   *st = fit->model;

	point_dense(&st->dense, &fit->net, params);
}

/* the layout, the loop's view and the evaluation net (on params, or NULL) */
static bool
mlp_setup(MlpState *st, const MaasNnConfig *cfg, bool train, MaasError *err)
{
	NnFit	   *fit = &st->fit;
	size_t		off = 0;
	int			n = 0;

	memset(fit, 0, sizeof(*fit));
	maas_nn_dense_layout(&st->dense, cfg, cfg->n_in, &off);
	fit->cfg = cfg;
	fit->n_in = cfg->n_in;
	fit->n_params = off;
	fit->batch = train ? cfg->batch_size : 0;
	fit->rng = cfg->seed;
	fit->eval_rows = EVAL_ROWS;
	fit->step = mlp_step;
	fit->point = mlp_point;
	fit->model = st;
	for (int l = 0; l < st->dense.n_layers; l++)
	{
		maas_nn_fit_segment(fit, st->dense.w_off[l],
							(size_t) st->dense.n_out[l] * st->dense.n_in[l], true);
		maas_nn_fit_segment(fit, st->dense.b_off[l], st->dense.n_out[l], false);
	}
	/* weights are pointed at later; the shapes are what the plan needs */
	maas_nn_dense_layers(&st->dense, cfg, NULL, st->layers, &n);
	fit->net.layers = st->layers;
	fit->net.n_layers = n;
	fit->net.n_in = cfg->n_in;
	return maas_net_check(&fit->net, err);
}

static bool
mlp_work(const MlpState *st, size_t *floats)
{
	return maas_net_workspace(&st->fit.net, st->fit.eval_rows, 1, floats);
}

bool
maas_nn_memory(const MaasNnConfig *cfg, int64_t n_train, size_t *bytes)
{
	MlpState	st;
	MaasError	err;
	size_t		work,
				dense,
				t;

	if (!mlp_setup(&st, cfg, true, &err) || !mlp_work(&st, &work) ||
		!maas_nn_dense_floats(&st.dense, (size_t) cfg->batch_size, &dense) ||
		!maas_add_size(work, dense, &work) ||
		!maas_nn_fit_bytes(&st.fit, n_train, work, &t))
		return false;
	*bytes = t;
	return true;
}

static void
set_model(const NnDense *d, const float *params, MaasNnModel *model)
{
	model->n_layers = d->n_layers;
	for (int l = 0; l < d->n_layers; l++)
	{
		model->n_in[l] = d->n_in[l];
		model->n_out[l] = d->n_out[l];
		model->w[l] = (float *) params + d->w_off[l];
		model->b[l] = (float *) params + d->b_off[l];
	}
}

bool
maas_nn_fit(const MaasBlas *blas, const MaasNnConfig *cfg,
			const MaasTrainSet *data, const MaasTrainSet *val,
			const MaasTrainHooks *hooks, MaasNnResult *result, MaasError *err)
{
	MlpState   *st = maas_kalloc(sizeof(MlpState));
	NnCurve		curve;
	size_t		work;
	bool		ok;

	memset(result, 0, sizeof(*result));
	if (st == NULL || !mlp_setup(st, cfg, true, err) || !mlp_work(st, &work) ||
		!maas_nn_fit_alloc(&st->fit, data->n, work) ||
		!maas_nn_dense_alloc(&st->dense, (size_t) cfg->batch_size))
		return maas_error(err, MAAS_ERR_NOMEM, "out of memory for the network");

	/* Glorot uniform weights, zero biases (Keras' defaults), or the given ones */
	maas_nn_dense_init(&st->dense, st->fit.params, false, &st->fit.rng);
	if (cfg->init != NULL)
	{
		if (cfg->init->n_layers != st->dense.n_layers)
			return maas_error(err, MAAS_ERR_INVALID, "the initial weights have %d layers, not %d",
							  cfg->init->n_layers, st->dense.n_layers);
		for (int l = 0; l < st->dense.n_layers; l++)
		{
			if (cfg->init->n_in[l] != st->dense.n_in[l] || cfg->init->n_out[l] != st->dense.n_out[l])
				return maas_error(err, MAAS_ERR_INVALID, "the initial weights of layer %d are [%d, %d], not [%d, %d]",
								  l + 1, cfg->init->n_out[l], cfg->init->n_in[l],
								  st->dense.n_out[l], st->dense.n_in[l]);
			memcpy(st->fit.params + st->dense.w_off[l], cfg->init->w[l],
				   sizeof(float) * (size_t) st->dense.n_out[l] * st->dense.n_in[l]);
			memcpy(st->fit.params + st->dense.b_off[l], cfg->init->b[l],
				   sizeof(float) * st->dense.n_out[l]);
		}
	}
	mlp_point(&st->fit, st->fit.params);

	ok = maas_nn_fit_run(&st->fit, blas, data, val, hooks, &curve, err);
	result->epochs_run = curve.epochs_run;
	result->best_epoch = curve.best_epoch;
	result->loss = curve.loss;
	result->val_loss = curve.val_loss;
	result->val_score = curve.val_score;
	result->diverged_epoch = curve.diverged_epoch;
	if (!ok)
		return false;
	set_model(&st->dense, curve.weights, &result->model);
	return true;
}

bool
maas_nn_predict(const MaasBlas *blas, const MaasNnConfig *cfg,
				const MaasNnModel *model, const float *x, int64_t n,
				const MaasTrainHooks *hooks, float *out, MaasError *err)
{
	MlpState   *st = maas_kalloc(sizeof(MlpState));
	size_t		work;
	float	   *params;

	if (st == NULL || !mlp_setup(st, cfg, false, err) || !mlp_work(st, &work) ||
		!maas_nn_fit_alloc(&st->fit, 0, work))
		return maas_error(err, MAAS_ERR_NOMEM, "out of memory for prediction");
	params = st->fit.params;
	for (int l = 0; l < st->dense.n_layers; l++)
	{
		memcpy(params + st->dense.w_off[l], model->w[l],
			   sizeof(float) * (size_t) st->dense.n_out[l] * st->dense.n_in[l]);
		memcpy(params + st->dense.b_off[l], model->b[l], sizeof(float) * st->dense.n_out[l]);
	}
	mlp_point(&st->fit, params);
	maas_nn_fit_evaluate(&st->fit, blas, x, n, NULL, NULL, hooks, out, NULL, NULL);
	return true;
}
