/*
 * net_plan.h
 *		The layer runtime's plan of a net, shared by net.c (the plan and
 *		the run loop) and net_tiles.c (image layers in tiles of rows, their
 *		layouts, the tiles on several threads).  Private to those two.
 */
#ifndef MAAS_NET_PLAN_H
#define MAAS_NET_PLAN_H

#include "net_ops.h"

/* the most steps a plan run by maas_small_row has */
#define MAAS_SMALL_STEPS	4

/* one layer of a run, as the run loop wants it */
typedef struct NetStep
{
	bool		(*forward) (const MaasLayer *l, MaasRun *run,
							const float *const *in, float *out);
	const MaasLayer *layer;
	int			n_in;
	int			in_buf[MAAS_LAYER_MAX_INPUTS];	/* -1: the batch's x */
	int			out_buf;
	int			value;			/* the value id it writes (its relu's, fused) */
	bool		relu;			/* a conv2d that absorbed the relu after it */
	int			layout;			/* MaasRun.layout when the net runs NHWC */
} NetStep;

typedef struct NetPlan
{
	int			n_values;		/* n_layers + 1 */
	NetStep    *steps;			/* the layers net->output needs, in order */
	int			n_steps;
	int		   *last_use;		/* per value: last layer reading it, or -1 */
	size_t	   *seq_width;		/* per buffer: widest sequence vector */
	size_t	   *row_width;		/* per buffer: widest row value (all of a row) */
	bool	   *needed;			/* per layer: needed for net->output */
	int			output;			/* value id of net->output */
	size_t		tile_row_bytes;	/* bytes a row of every value takes, when
								 * the net runs in tiles (net_tiles.c);
								 * 0: one pass over the batch */
	int			n_tiled;		/* the steps run in tiles: the first ones */
	int			tiled_buf;		/* the buffer of the last of them, whose
								 * rows gather in the workspace's front */
	bool		tiles_apart;	/* the tiles may run on several threads */
	bool		nhwc;			/* some step has a layout (NetStep.layout) */
	/* a chain of maas_small_step_ok layers, for maas_small_row, or 0 */
	int			n_small;
	const MaasLayer *small[MAAS_SMALL_STEPS];
	size_t		small_off[MAAS_SMALL_STEPS];	/* where each writes its row */
} NetPlan;

/* the value ids layer i reads (net.c) */
extern int	maas_net_layer_inputs(const MaasLayer *l, int i, int *ids);

/* every step in [from, to) of the plan over run->batch, its input x (net.c) */
extern bool maas_net_run_steps(const NetPlan *plan, MaasRun *run, const float *x,
							   float *const *bufs, int from, int to, bool nhwc);

/*
 * net_tiles.c: the plan's layouts, tiles and threads (at maas_net_check,
 * after the buffers and steps), and the run of a batch in tiles: NULL when
 * the batch is one tile (the caller runs the steps), else the output.
 */
extern void maas_net_plan_tiles(const MaasNet *net, NetPlan *plan);
/* does the plan run its layouts on this backend now */
extern bool maas_net_nhwc(const NetPlan *plan, const MaasBlas *blas);
extern bool maas_net_run_tiles(const MaasNet *net, MaasRun *run, float *const *bufs,
							   float *front, const float **result);

#endif							/* MAAS_NET_PLAN_H */
