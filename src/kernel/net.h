/*
 * net.h
 *		The layer runtime: one forward pass for every model maas serves.
 *
 * A model is a MaasNet, an ordered list of layers over float32 rows.
 * Whatever made the model (a registration, a trainer, an import) produces
 * this same structure, and this one file executes it.  A batch of rows goes
 * through each dense layer as one sgemm; a single row as one sgemv, so the
 * per-row path does not pay for a batch it does not have.
 *
 * Nothing here knows PostgreSQL.  Shapes are checked by maas_net_check()
 * once, when a model is built; maas_net_forward() then trusts them.
 */
#ifndef MAAS_NET_H
#define MAAS_NET_H

#include "blas.h"
#include "kernel.h"

typedef enum MaasOp
{
	MAAS_OP_STANDARDIZE,		/* y = (x - shift) * scale, per feature */
	MAAS_OP_DENSE,				/* y = x W^T + b, W [n_out, n_in] as torch */
	MAAS_OP_RELU,
	MAAS_OP_TANH,
	MAAS_OP_SIGMOID,
	MAAS_OP_SOFTMAX,			/* over the row */
	MAAS_OP_DROPOUT				/* identity at inference */
} MaasOp;

typedef struct MaasLayer
{
	MaasOp		op;
	int			n_in;
	int			n_out;
	const float *w;				/* dense: n_out * n_in, row-major */
	const float *b;				/* dense: n_out, or NULL */
	const float *shift;			/* standardize: n_in */
	const float *scale;			/* standardize: n_in (1 / std) */
} MaasLayer;

typedef struct MaasNet
{
	int			n_layers;
	MaasLayer  *layers;
	int			n_in;			/* features a row must have */
	int			n_out;			/* values the last layer yields */
	int			max_width;		/* widest activation, for workspace */
} MaasNet;

/* names of ops, as in the config ("dense", "relu", ...) */
extern const char *maas_op_name(MaasOp op);
extern bool maas_op_from_name(const char *name, MaasOp *op);

/*
 * Check a net's layer chain and fill in n_in, n_out and max_width of the
 * net and the widths of elementwise layers.  The first layer's n_in must be
 * set by the caller for elementwise-only nets (copied from net->n_in).
 * Returns false with a message in err (ST_ERRLEN-sized buffer).
 */
extern bool maas_net_check(MaasNet *net, char *err, size_t errlen);

/* floats of workspace maas_net_forward needs for n_rows rows */
extern bool maas_net_workspace(const MaasNet *net, int n_rows, size_t *nfloats);

/*
 * Run the net over n_rows rows of x (n_rows * n_in floats, row-major).
 * Returns a pointer into work to n_rows * n_out outputs.
 */
extern const float *maas_net_forward(const MaasNet *net, const MaasBlas *blas,
									 int n_rows, const float *x, float *work);

/* index of the largest of v[0..n); the first one on ties */
extern int	maas_argmax(const float *v, int n);

/* in place, numerically stable */
extern void maas_softmax(float *v, int n);

/* true if all of v[0..n) are finite */
extern bool maas_all_finite(const float *v, size_t n);

#endif							/* MAAS_NET_H */
