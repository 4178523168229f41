/*
 * train.h
 *		The trainers and metrics of maas_train, without PostgreSQL.
 *
 * A trainer takes a float32 matrix of rows that are already preprocessed
 * (imputed, one-hot encoded, standardized) and produces the weights of a
 * layer program the runtime in net.h serves: convolutions, pooling, dense
 * layers, activations, and a softmax or sigmoid head.  Three trainers
 * cover the algorithms:
 *
 *	- maas_linear_fit: least squares with an optional L2 penalty, solved
 *	  from the normal equations (Gram matrix by dsyrk over chunks of rows
 *	  widened to double, Cholesky by LAPACK's dpotrf); the same summed
 *	  while reading by MaasGram;
 *	- maas_nn_fit: a stack of dense layers trained by mini-batch gradient
 *	  descent (Adam or SGD with momentum), which is the logistic regression
 *	  (no hidden layer) and the MLP;
 *	- maas_cnn_fit: convolutions (ReLU, max pooling) before such a stack,
 *	  over images, trained by the same loop.
 *
 * The caller sees progress, and can stop a training, through the hooks:
 * tick is called at every mini-batch (in the server it checks for
 * interrupts and may not return), epoch after every epoch.  Memory comes
 * from maas_kalloc; a failed allocation (MAAS_ERR_NOMEM), a diverging loss
 * (MAAS_ERR_DIVERGED, "training diverged: ...") or a BLAS library without
 * LAPACK (MAAS_ERR_UNSUPPORTED) is returned as false with err filled in
 * (kernel.h), never an exit.
 */
#ifndef MAAS_TRAIN_H
#define MAAS_TRAIN_H

#include "blas.h"
#include "kernel.h"
#include "net.h"

#define MAAS_NN_MAX_HIDDEN		16

/* a deterministic generator (splitmix64): same seed, same model, anywhere */
static inline uint64_t
maas_rng_next(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static inline double
maas_rng_uniform(uint64_t *state)
{
	return (double) (maas_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform integer in [0, n) */
static inline uint32_t
maas_rng_below(uint64_t *state, uint32_t n)
{
	return (uint32_t) (((maas_rng_next(state) >> 32) * (uint64_t) n) >> 32);
}

/* Fisher-Yates shuffle of idx[0..n) */
extern void maas_shuffle(int32_t *idx, int64_t n, uint64_t *rng);

/*
 * The rows a trainer learns from: n rows of d features (row-major), and
 * either class indices (classification) or target values (regression).
 */
typedef struct MaasTrainSet
{
	int64_t		n;
	int			d;
	const float *x;
	const int32_t *cls;			/* classification: 0 .. n_classes-1 */
	const float *y;				/* regression */
} MaasTrainSet;

/* what a trainer reports after each epoch */
typedef struct MaasEpochReport
{
	int			epoch;			/* 1-based */
	int			epochs;			/* the most that will run */
	double		loss;			/* mean training loss over the epoch */
	bool		has_val;
	double		val_loss;
	double		val_score;		/* accuracy (classification) or R^2 */
	bool		improved;		/* best validation (or training) loss so far */
} MaasEpochReport;

typedef struct MaasTrainHooks
{
	void	   *arg;
	void		(*tick) (void *arg);	/* every mini-batch; may not return */
	void		(*epoch) (void *arg, const MaasEpochReport *report);
} MaasTrainHooks;

/* ---- linear least squares ---- */

typedef struct MaasLinearResult
{
	float	   *w;				/* d coefficients */
	float		b;				/* intercept */
	int			dropped;		/* columns with no variance: coefficient 0 */
	double		jitter;			/* ridge added to make the system solvable */
} MaasLinearResult;

/*
 * Minimise ||y - X w - b||^2 + l2 ||w||^2 (b not penalised), rows of X in
 * any scale.  Columns without variance get a zero coefficient; when the
 * remaining system is singular (collinear columns) a small ridge is added
 * and reported in jitter.  Calls hooks->tick between chunks.
 */
extern bool maas_linear_fit(const MaasBlas *blas, const MaasTrainSet *data,
							double l2, const MaasTrainHooks *hooks,
							MaasLinearResult *result, MaasError *err);

/*
 * The same normal equations summed while the rows are read, for a caller
 * that knows the holdout only once every row is in: each row is added
 * (maas_gram_add), the sums are complete after maas_gram_flush, and the
 * holdout rows are then taken away again (maas_gram_remove_begin, then
 * maas_gram_add of each).  The rows are summed around the first one added
 * (x0, y0) in double, in blocks of rows widened while they are in the
 * cache: up to MAAS_GRAM_NARROW columns by maas_syrk_upper (when the CPU
 * has AVX2 or AVX-512; else by dsyrk) from blocks of
 * MAAS_GRAM_BLOCK_NARROW rows that stay in the L2 cache, wider ones by the
 * BLAS's dsyrk from blocks of MAAS_GRAM_BLOCK rows.  Centring afterwards
 * loses to cancellation a factor of 1 + (mean - x0)^2 / var of a column's
 * precision, and x0 is one of the rows, so that factor is at most n
 * (Samuelson's inequality) and for most data a few units: in double this
 * is more precise than the float32 rows maas_linear_fit sums.
 */
#define MAAS_GRAM_BLOCK			2048
#define MAAS_GRAM_BLOCK_NARROW	256
#define MAAS_GRAM_NARROW		256

typedef struct MaasGram
{
	int			d;
	int			ld;				/* row stride of g and buf: d + 2 rounded
								 * up to a multiple of 8 */
	int			block;			/* rows buf holds */
	int64_t		n;				/* rows in the sums */
	double		sign;			/* 1 adding, -1 taking away */
	bool		have_x0;
	float	   *x0;				/* the first row added, d values */
	double		y0;

	/*
	 * ld x ld, the upper triangle of its first d + 2 rows and columns: the
	 * sums over the rows of v v^T for v = [x - x0, y - y0, 1]
	 */
	double	   *g;
	int			pending;		/* rows in buf, not yet summed */
	double	   *buf;			/* block rows of v, zero after column d + 1 */
} MaasGram;

extern bool maas_gram_init(MaasGram *gr, int d, MaasError *err);
extern void maas_gram_add(const MaasBlas *blas, MaasGram *gr, const float *x, float y);
extern void maas_gram_flush(const MaasBlas *blas, MaasGram *gr);
extern void maas_gram_remove_begin(const MaasBlas *blas, MaasGram *gr);

/*
 * G += sign B^T B (gram_syrk.c): B is m rows of w doubles with row stride
 * ld, a multiple of 8, its columns w .. ld - 1 zero; G is ld x ld,
 * row-major.  At least the upper triangle of G's first w rows and columns
 * is updated; entries just below the diagonal may be too, to their
 * symmetric values, and the padding columns get zeros added.  isa names a
 * code path; one the CPU cannot run falls back to the next below it
 * (maas_syrk_isa says which runs), MAAS_SYRK_AUTO is the best there is.
 */
typedef enum MaasSyrkIsa
{
	MAAS_SYRK_AUTO,
	MAAS_SYRK_SCALAR,
	MAAS_SYRK_AVX2,				/* AVX2 and FMA */
	MAAS_SYRK_AVX512			/* AVX-512 F */
} MaasSyrkIsa;

extern MaasSyrkIsa maas_syrk_isa(MaasSyrkIsa want);
extern const char *maas_syrk_isa_name(MaasSyrkIsa isa);
extern void maas_syrk_upper(MaasSyrkIsa isa, int w, int ld, int m, double sign,
							const double *b, double *g);

/* each column's mean and population variance over the rows summed (flushed) */
extern void maas_gram_moments(const MaasGram *gr, double *mean, double *var);

/*
 * maas_linear_fit on the rows summed (flushed), as scaled by the
 * standardize layer, z = (x - shift) * inv (either NULL: 0 and 1), with
 * the centring done on the sums; the same solution up to rounding.
 */
extern bool maas_linear_fit_gram(const MaasBlas *blas, const MaasGram *gr,
								 const float *shift, const float *inv, double l2,
								 const MaasTrainHooks *hooks,
								 MaasLinearResult *result, MaasError *err);

/* ---- dense networks (logistic regression, MLP) ---- */

typedef enum MaasLoss
{
	MAAS_LOSS_SOFTMAX_CE,		/* k outputs, softmax, cross-entropy */
	MAAS_LOSS_SIGMOID_CE,		/* 1 output, sigmoid, binary cross-entropy */
	MAAS_LOSS_MSE				/* 1 output, squared error (reported as MSE) */
} MaasLoss;

typedef enum MaasOptimizer
{
	MAAS_OPTIM_ADAM,
	MAAS_OPTIM_SGD				/* with (optional) momentum */
} MaasOptimizer;

typedef struct MaasNnConfig
{
	int			n_in;
	int			n_hidden;		/* hidden layers, 0 for logistic regression */
	int			hidden[MAAS_NN_MAX_HIDDEN];
	MaasOp		activation;		/* MAAS_OP_RELU, _TANH or _SIGMOID */
	float		dropout;		/* after each hidden activation, [0, 1) */
	int			n_out;
	MaasLoss	loss;
	MaasOptimizer optimizer;
	float		lr;
	float		momentum;		/* SGD */
	float		beta1;			/* Adam */
	float		beta2;
	float		eps;
	float		weight_decay;	/* L2 on weights (not biases), added to the gradient */
	int			batch_size;
	int			epochs;
	uint64_t	seed;
	/* stopping: after patience epochs whose monitored loss did not improve
	 * by more than tol, stop and keep the best weights; patience 0: never */
	int			patience;
	double		tol;
	bool		monitor_val;	/* monitor the validation loss (else training) */
	bool		halve_on_plateau;	/* halve lr after an epoch without improvement */
	/* start from these weights (fine-tuning a pruned net), or NULL: Glorot */
	const struct MaasNnModel *init;
} MaasNnConfig;

/* the weights of layer l are w[l] [n_out, n_in] (torch layout) and b[l] */
typedef struct MaasNnModel
{
	int			n_layers;		/* dense layers: n_hidden + 1 */
	int			n_in[MAAS_NN_MAX_HIDDEN + 1];
	int			n_out[MAAS_NN_MAX_HIDDEN + 1];
	float	   *w[MAAS_NN_MAX_HIDDEN + 1];
	float	   *b[MAAS_NN_MAX_HIDDEN + 1];
} MaasNnModel;

typedef struct MaasNnResult
{
	MaasNnModel model;			/* the best weights seen */
	int			epochs_run;
	int			best_epoch;
	double	   *loss;			/* epochs_run training losses */
	double	   *val_loss;		/* epochs_run validation losses, or NULL */
	double	   *val_score;
	int			diverged_epoch; /* MAAS_ERR_DIVERGED: where */
} MaasNnResult;

/*
 * Bytes maas_nn_fit allocates for a config (weights, gradients, optimizer
 * state, best copy, one mini-batch of activations, the shuffle index), or
 * false on overflow.  The caller checks this against its memory budget
 * before training.
 */
extern bool maas_nn_memory(const MaasNnConfig *cfg, int64_t n_train,
						   size_t *bytes);

/*
 * Train on data; val (n may be 0) gives the per-epoch validation loss and
 * score, and is what cfg->monitor_val stops on.
 */
extern bool maas_nn_fit(const MaasBlas *blas, const MaasNnConfig *cfg,
						const MaasTrainSet *data, const MaasTrainSet *val,
						const MaasTrainHooks *hooks, MaasNnResult *result,
						MaasError *err);

/*
 * Outputs of a trained net for n rows: class probabilities (n * k, k = 2
 * for a sigmoid head: 1-p, p) or regression values (n).  Rows go through
 * in chunks; tick is called between them.
 */
extern bool maas_nn_predict(const MaasBlas *blas, const MaasNnConfig *cfg,
							const MaasNnModel *model, const float *x,
							int64_t n, const MaasTrainHooks *hooks,
							float *out, MaasError *err);

/* ---- convolutional networks ---- */

#define MAAS_CNN_MAX_CONV		8

/* one convolution of a CNN, with the max pooling after it */
typedef struct MaasCnnConv
{
	int			filters;
	int			kernel;			/* square */
	int			stride;
	int			padding;		/* zeros on every side */
	int			pool;			/* max pooling window and stride; 1: none */
} MaasCnnConv;

/*
 * The CNN: each convolution followed by ReLU (and max pooling), then
 * flatten and the dense layers of nn (n_hidden, hidden, activation,
 * dropout after each hidden activation), and the head.  nn.n_in is the
 * input's c * h * w; everything else in nn (loss, optimizer, batches,
 * epochs, stopping, seed) is as for the MLP.
 */
typedef struct MaasCnnConfig
{
	MaasNnConfig nn;
	int			in_c,
				in_h,
				in_w;
	int			n_conv;
	MaasCnnConv conv[MAAS_CNN_MAX_CONV];
	int			threads;		/* the fit's BLAS threads, over which it splits
								 * each convolution's mini-batch (conv_split in
								 * train_cnn.c; maas_cnn_memory counts the
								 * parts' gradients); 0 or 1: no split */
} MaasCnnConfig;

/* a CNN's layers: checked geometries and the weights in torch's layouts */
typedef struct MaasCnnModel
{
	int			n_conv;
	MaasConv2d	conv[MAAS_CNN_MAX_CONV];
	bool		pooled[MAAS_CNN_MAX_CONV];
	MaasPool2d	pool[MAAS_CNN_MAX_CONV];
	float	   *w[MAAS_CNN_MAX_CONV];	/* [filters, c_in, kernel, kernel] */
	float	   *b[MAAS_CNN_MAX_CONV];
	MaasNnModel head;			/* n_in[0]: the last image, flattened */
} MaasCnnModel;

typedef struct MaasCnnResult
{
	MaasCnnModel model;			/* the best weights seen */
	int			epochs_run;
	int			best_epoch;
	double	   *loss;
	double	   *val_loss;
	double	   *val_score;
	int			diverged_epoch;
} MaasCnnResult;

/*
 * The geometry of cfg's layers over its input: fills model's conv, pool
 * and head sizes (no weights).  Refuses (MAAS_ERR_INVALID) a kernel or a
 * pooling window larger than the image it meets, naming the layer, and
 * (MAAS_ERR_LIMIT) sizes that overflow.
 */
extern bool maas_cnn_check(const MaasCnnConfig *cfg, MaasCnnModel *model,
						   MaasError *err);

/*
 * Bytes maas_cnn_fit allocates (weights, gradients, optimizer state, best
 * copy, one mini-batch of every layer's activations and gradients, the
 * convolutions' scratch, the evaluation workspace, the shuffle index), or
 * false on overflow or a config maas_cnn_check refuses.
 */
extern bool maas_cnn_memory(const MaasCnnConfig *cfg, int64_t n_train,
							size_t *bytes);

/* the convolutions maas_cnn_fit ran split over its threads, counted (for the tests) */
extern long maas_cnn_split_runs;

/* as maas_nn_fit; weights start as torch's defaults for Conv2d and Linear */
extern bool maas_cnn_fit(const MaasBlas *blas, const MaasCnnConfig *cfg,
						 const MaasTrainSet *data, const MaasTrainSet *val,
						 const MaasTrainHooks *hooks, MaasCnnResult *result,
						 MaasError *err);

/* as maas_nn_predict, through the runtime's image layers */
extern bool maas_cnn_predict(const MaasBlas *blas, const MaasCnnConfig *cfg,
							 const MaasCnnModel *model, const float *x,
							 int64_t n, const MaasTrainHooks *hooks,
							 float *out, MaasError *err);

/* ---- metrics ---- */

typedef struct MaasClassMetrics
{
	int64_t		n;
	int			k;
	double		accuracy;
	double		precision;		/* macro averages over the k classes */
	double		recall;
	double		f1;
	double		log_loss;
	bool		has_auc;		/* binary only */
	double		roc_auc;
	int64_t    *confusion;		/* k * k: row = true class, column = predicted */
} MaasClassMetrics;

typedef struct MaasRegMetrics
{
	int64_t		n;
	double		mse;
	double		mae;
	double		r2;
} MaasRegMetrics;

/*
 * Metrics of class probabilities proba (n * k) against true classes y.
 * Precision of a class never predicted counts as 0, as scikit-learn does.
 * Log loss clips probabilities to [1e-15, 1 - 1e-15].  ROC AUC (k = 2)
 * ranks proba[:, 1], ties sharing their mean rank.  Fails when there are no
 * rows or fewer than two classes (MAAS_ERR_INVALID), or an allocation fails.
 */
extern bool maas_class_metrics(int64_t n, int k, const int32_t *y,
							   const float *proba, MaasClassMetrics *out,
							   MaasError *err);

/* MSE, MAE and R^2 (0 when y has no variance and the fit is not exact) */
extern void maas_reg_metrics(int64_t n, const float *y, const float *pred,
							 MaasRegMetrics *out);

#endif							/* MAAS_TRAIN_H */
