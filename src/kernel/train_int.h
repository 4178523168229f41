/*
 * train_int.h
 *		What the mini-batch trainers (train_mlp.c, train_cnn.c) share from
 *		train_nn.c: the dense stack (an MLP, or a CNN's head), the loss at
 *		the head, and the loop that owns the optimizer, shuffling, early
 *		stopping, divergence checks, validation through the runtime and
 *		the hooks.
 *
 * A trainer describes its model to the loop as an NnFit: one contiguous
 * buffer of parameters (its layout is the trainer's), the parts of it that
 * take weight decay, a step function (forward, loss, backward for the m
 * rows gathered into xb, filling grads) and a point function that aims
 * the evaluation net at a set of parameters.  The loop does the rest the
 * same way for every model, so the MLP and the CNN differ only in what a
 * step computes.
 */
#ifndef MAAS_TRAIN_INT_H
#define MAAS_TRAIN_INT_H

#include "train.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	!defined(__SANITIZE_ADDRESS__)
#define MAAS_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MAAS_SIMD
#endif

#define NN_MAX_LAYERS		(MAAS_NN_MAX_HIDDEN + 1)
#define NN_MAX_SEGMENTS		64

/* ---- the dense stack ---- */

typedef struct NnDense
{
	int			n_layers;		/* n_hidden + 1 */
	int			n_hidden;
	MaasOp		activation;
	float		dropout;
	int			n_in[NN_MAX_LAYERS];
	int			n_out[NN_MAX_LAYERS];
	size_t		w_off[NN_MAX_LAYERS];	/* into the model's parameters */
	size_t		b_off[NN_MAX_LAYERS];
	int			max_width;		/* of the input and every layer */
	/* one mini-batch (maas_nn_dense_alloc) */
	float	   *h[NN_MAX_LAYERS];	/* activations, before dropout */
	float	   *d[NN_MAX_LAYERS];	/* after dropout (== h without dropout) */
	float	   *mask[NN_MAX_LAYERS];
	uint32_t   *rnd;
	float	   *g0;
	float	   *g1;
} NnDense;

/*
 * The layers of cfg's hidden sizes and outputs over n_in inputs, their
 * parameters placed from *off on (advanced past them)
 */
extern void maas_nn_dense_layout(NnDense *d, const MaasNnConfig *cfg, int n_in,
								 size_t *off);

/* floats maas_nn_dense_alloc takes for batches of B rows; false on overflow */
extern bool maas_nn_dense_floats(const NnDense *d, size_t B, size_t *floats);

extern bool maas_nn_dense_alloc(NnDense *d, size_t B);

/*
 * Initial weights in params: Glorot uniform with zero biases (Keras'
 * defaults, the MLP's), or torch's default for nn.Linear (weights and
 * biases uniform in +-1/sqrt(fan_in))
 */
extern void maas_nn_dense_init(const NnDense *d, float *params, bool torch_init,
							   uint64_t *rng);

/* forward for m rows of in; returns the head's outputs (m x n_out) */
extern const float *maas_nn_dense_forward(NnDense *d, const MaasBlas *blas,
										  const float *params, const float *in,
										  int m, uint64_t *rng);

/*
 * backward from dz (the gradient at the head, m x n_out, in d->g0): fills
 * the stack's part of grads, and dx (m x n_in, the gradient at the input)
 * unless it is NULL
 */
extern void maas_nn_dense_backward(NnDense *d, const MaasBlas *blas,
								   const float *params, float *grads,
								   const float *in, int m, float *dx);

/* g *= (h > 0): ReLU's backward pass, h its output */
extern void maas_nn_relu_backward(size_t n, float *g, const float *h);

/*
 * Sum of the losses of m rows of head outputs z, and dz, the gradient of
 * their mean
 */
extern double maas_nn_head_loss(const MaasNnConfig *cfg, int m, const float *z,
								const int32_t *cls, const float *y, float *dz);

/* ---- the loop ---- */

typedef struct NnSegment
{
	size_t		off;
	size_t		n;
	bool		decay;			/* weight decay applies (weights, not biases) */
} NnSegment;

typedef struct NnFit NnFit;

struct NnFit
{
	const MaasNnConfig *cfg;	/* loss, optimizer, batches, epochs, stopping */
	int			n_in;			/* floats a row */
	size_t		n_params;
	float	   *params;
	float	   *grads;
	float	   *m1;				/* Adam first moment, or SGD velocity */
	float	   *m2;				/* Adam second moment */
	float	   *best;
	int			n_segments;
	NnSegment	segments[NN_MAX_SEGMENTS];
	/* one mini-batch, gathered by the loop */
	int			batch;
	float	   *xb;
	int32_t    *cb;
	float	   *yb;
	int32_t    *idx;
	uint64_t	rng;
	float		lr;				/* the current learning rate */
	/* evaluation through the runtime, eval_rows rows at a time */
	MaasNet		net;
	int			eval_rows;
	float	   *eval_work;
	float	   *eval_out;

	/* forward, loss and backward of the m rows in xb: the summed loss */
	double		(*step) (NnFit *fit, const MaasBlas *blas, int m);
	/* the evaluation net on these parameters */
	void		(*point) (NnFit *fit, const float *params);
	void	   *model;			/* the trainer's state */
};

/* what the loop leaves: as the fields of MaasNnResult */
typedef struct NnCurve
{
	int			epochs_run;
	int			best_epoch;
	double	   *loss;
	double	   *val_loss;
	double	   *val_score;
	int			diverged_epoch;
	const float *weights;		/* the best (early stopping) or last parameters */
} NnCurve;

/* a segment of the parameters */
extern void maas_nn_fit_segment(NnFit *fit, size_t off, size_t n, bool decay);

/*
 * The loop's buffers: parameters, gradients, moments, best copy, one
 * mini-batch of rows and targets, the shuffle index (n_train rows), and
 * the evaluation outputs; the evaluation workspace is work_floats
 */
extern bool maas_nn_fit_alloc(NnFit *fit, int64_t n_train, size_t work_floats);

/* bytes maas_nn_fit_alloc takes, for the memory budget */
extern bool maas_nn_fit_bytes(const NnFit *fit, int64_t n_train,
							  size_t work_floats, size_t *bytes);

/* train; on an error, curve->epochs_run and diverged_epoch say where */
extern bool maas_nn_fit_run(NnFit *fit, const MaasBlas *blas,
							const MaasTrainSet *data, const MaasTrainSet *val,
							const MaasTrainHooks *hooks, NnCurve *curve,
							MaasError *err);

/*
 * fit->net over n rows of x in chunks; out gets probabilities (n * k) or
 * values (n).  With cls/y given, also the mean loss and the score.
 */
extern void maas_nn_fit_evaluate(NnFit *fit, const MaasBlas *blas, const float *x,
								 int64_t n, const int32_t *cls, const float *y,
								 const MaasTrainHooks *hooks, float *out,
								 double *loss, double *score);

/* columns of the evaluation outputs: k classes (2 for a sigmoid), or 1 */
extern int	maas_nn_out_columns(const MaasNnConfig *cfg);

/*
 * The dense layers of d as layers of a net, from layers[*n] on, on params
 * (NULL: on no weights yet, for the plan)
 */
extern void maas_nn_dense_layers(const NnDense *d, const MaasNnConfig *cfg,
								 const float *params, MaasLayer *layers, int *n);

#endif							/* MAAS_TRAIN_INT_H */
