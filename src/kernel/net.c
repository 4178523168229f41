/*
 * net.c
 *		The layer runtime (see net.h): the op table, the graph check, the
 *		buffer plan and the forward pass.
 *
 * The plan.  Values are numbered as in net.h (0 the input, i + 1 written by
 * layer i).  Walking the layers in order, each output value gets a buffer:
 * its input's buffer when the layer is elementwise and that input is read
 * by nobody later (in place), else a free buffer, else a new one; then the
 * buffers of inputs read for the last time are freed.  A buffer's size is
 * the largest value it ever holds, counted per row and kept apart for
 * sequence values (which grow with t) and row values, so that the
 * workspace for any (n, t) is a sum over buffers.  Running to a value other
 * than the last runs only the layers it depends on, in order, and stops:
 * skipping layers only removes writes, so the plan stays valid.
 *
 * Tiles, layouts and threads for image layers: net_tiles.c.
 */
#include "net_plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>


/* the bytes of values a tile aims for (the benchmark may change it) */
size_t		maas_net_tile_bytes = MAAS_NET_TILE_BYTES;

extern const MaasOpInfo maas_op_standardize;
extern const MaasOpInfo maas_op_dense;
extern const MaasOpInfo maas_op_relu;
extern const MaasOpInfo maas_op_tanh;
extern const MaasOpInfo maas_op_sigmoid;
extern const MaasOpInfo maas_op_softmax;
extern const MaasOpInfo maas_op_dropout;
extern const MaasOpInfo maas_op_add;
extern const MaasOpInfo maas_op_flatten;
extern const MaasOpInfo maas_op_logsoftmax;
extern const MaasOpInfo maas_op_affine;
extern const MaasOpInfo maas_op_mul;
extern const MaasOpInfo maas_op_embedding;
extern const MaasOpInfo maas_op_layernorm;
extern const MaasOpInfo maas_op_gelu;
extern const MaasOpInfo maas_op_attention;
extern const MaasOpInfo maas_op_pool;
extern const MaasOpInfo maas_op_remote;
extern const MaasOpInfo maas_op_conv2d;
extern const MaasOpInfo maas_op_maxpool2d;
extern const MaasOpInfo maas_op_avgpool2d;
extern const MaasOpInfo maas_op_global_avgpool;
extern const MaasOpInfo maas_op_batchnorm;
extern const MaasOpInfo maas_op_trees;
extern const MaasOpInfo maas_op_kmeans;

static const MaasOpInfo *const op_table[MAAS_N_OPS] = {
	[MAAS_OP_STANDARDIZE] = &maas_op_standardize,
	[MAAS_OP_DENSE] = &maas_op_dense,
	[MAAS_OP_RELU] = &maas_op_relu,
	[MAAS_OP_TANH] = &maas_op_tanh,
	[MAAS_OP_SIGMOID] = &maas_op_sigmoid,
	[MAAS_OP_SOFTMAX] = &maas_op_softmax,
	[MAAS_OP_DROPOUT] = &maas_op_dropout,
	[MAAS_OP_ADD] = &maas_op_add,
	[MAAS_OP_FLATTEN] = &maas_op_flatten,
	[MAAS_OP_LOGSOFTMAX] = &maas_op_logsoftmax,
	[MAAS_OP_AFFINE] = &maas_op_affine,
	[MAAS_OP_MUL] = &maas_op_mul,
	[MAAS_OP_EMBEDDING] = &maas_op_embedding,
	[MAAS_OP_LAYERNORM] = &maas_op_layernorm,
	[MAAS_OP_GELU] = &maas_op_gelu,
	[MAAS_OP_ATTENTION] = &maas_op_attention,
	[MAAS_OP_POOL] = &maas_op_pool,
	[MAAS_OP_REMOTE] = &maas_op_remote,
	[MAAS_OP_CONV2D] = &maas_op_conv2d,
	[MAAS_OP_MAXPOOL2D] = &maas_op_maxpool2d,
	[MAAS_OP_AVGPOOL2D] = &maas_op_avgpool2d,
	[MAAS_OP_GLOBAL_AVGPOOL] = &maas_op_global_avgpool,
	[MAAS_OP_BATCHNORM] = &maas_op_batchnorm,
	[MAAS_OP_TREES] = &maas_op_trees,
	[MAAS_OP_KMEANS] = &maas_op_kmeans,
};

const MaasOpInfo *
maas_op_info(MaasOp op)
{
	if ((int) op < 0 || op >= MAAS_N_OPS)
		return NULL;
	return op_table[op];
}

const char *
maas_op_name(MaasOp op)
{
	const MaasOpInfo *info = maas_op_info(op);

	return info ? info->name : "?";
}

bool
maas_op_from_name(const char *name, MaasOp *op)
{
	for (int i = 0; i < MAAS_N_OPS; i++)
	{
		if (op_table[i] != NULL && strcmp(name, op_table[i]->name) == 0)
		{
			*op = (MaasOp) i;
			return true;
		}
	}
	return false;
}

/* the value ids layer i reads */
int
maas_net_layer_inputs(const MaasLayer *l, int i, int *ids)
{
	if (l->n_inputs == 0)
	{
		ids[0] = i;				/* the value before: layer i-1's, or the input */
		return 1;
	}
	for (int k = 0; k < l->n_inputs; k++)
		ids[k] = l->inputs[k];
	return l->n_inputs;
}

static size_t
row_floats(const MaasShape *s)
{
	return (size_t) s->width;
}

/* the shape of value 0 */
static MaasShape
input_shape(const MaasNet *net)
{
	MaasShape	s = {0};

	if (net->input == MAAS_NET_TOKENS)
		s.seq = true;			/* ids, read from the batch by embeddings */
	else
	{
		s.width = net->n_in;
		if (net->in_h > 0)
		{
			s.c = net->in_c;
			s.h = net->in_h;
			s.w = net->in_w;
		}
	}
	return s;
}

/* shapes of every layer's inputs and output, in order */
static bool
check_layers(MaasNet *net, MaasError *err)
{
	MaasShape	in0 = input_shape(net);

	for (int i = 0; i < net->n_layers; i++)
	{
		MaasLayer  *l = &net->layers[i];
		const MaasOpInfo *info = maas_op_info(l->op);
		int			ids[MAAS_LAYER_MAX_INPUTS];
		MaasShape	in[MAAS_LAYER_MAX_INPUTS];
		int			n;

		if (info == NULL)
			return maas_error(err, MAAS_ERR_INVALID, "layer %d has an unknown op", i + 1);
		if (l->n_inputs < 0 || l->n_inputs > MAAS_LAYER_MAX_INPUTS)
			return maas_error(err, MAAS_ERR_INVALID, "layer %d (%s) has %d inputs",
							  i + 1, info->name, l->n_inputs);
		n = maas_net_layer_inputs(l, i, ids);
		if (n < info->min_inputs || n > info->max_inputs)
			return maas_error(err, MAAS_ERR_INVALID,
							  "layer %d (%s) reads %d values but takes %d%s",
							  i + 1, info->name, n, info->min_inputs,
							  info->max_inputs > info->min_inputs ? " or more" : "");
		for (int k = 0; k < n; k++)
		{
			if (ids[k] < 0 || ids[k] > i)
				return maas_error(err, MAAS_ERR_INVALID,
								  "layer %d (%s) reads a value that is not computed before it",
								  i + 1, info->name);
			in[k] = ids[k] == 0 ? in0 : net->layers[ids[k] - 1].shape;
			/* only embeddings read token ids */
			if (ids[k] == 0 && net->input == MAAS_NET_TOKENS && info->check == NULL)
				return maas_error(err, MAAS_ERR_INVALID,
								  "layer %d (%s) cannot read token ids", i + 1, info->name);
		}
		if (info->check != NULL)
		{
			if (!info->check(l, i + 1, in, &l->shape, err))
				return false;
		}
		else
		{
			if (in[0].width <= 0)
				return maas_error(err, MAAS_ERR_INVALID,
								  "layer %d (%s) has no input to work on", i + 1, info->name);
			l->shape = in[0];
			l->n_in = l->n_out = in[0].width;
		}
		if (l->shape.width <= 0)
			return maas_error(err, MAAS_ERR_INVALID,
							  "layer %d (%s) produces no values", i + 1, info->name);
	}
	return true;
}

/* assign buffers; see the top of the file */
static bool
plan_buffers(MaasNet *net, NetPlan *plan, MaasError *err)
{
	int			L = net->n_layers;
	int		   *free_list = maas_kalloc_array((size_t) L + 1, sizeof(int));
	int			n_free = 0;
	int			n_buffers = 0;

	plan->seq_width = maas_kalloc_array((size_t) L + 1, sizeof(size_t));
	plan->row_width = maas_kalloc_array((size_t) L + 1, sizeof(size_t));
	if (free_list == NULL || plan->seq_width == NULL || plan->row_width == NULL)
		return maas_error_nomem(err);

	for (int i = 0; i < L; i++)
	{
		MaasLayer  *l = &net->layers[i];
		const MaasOpInfo *info = maas_op_info(l->op);
		int			ids[MAAS_LAYER_MAX_INPUTS];
		int			n = maas_net_layer_inputs(l, i, ids);
		int			buf = -1;

		if (info->elementwise && ids[0] != 0 && plan->last_use[ids[0]] == i)
			buf = net->layers[ids[0] - 1].buffer;
		else if (n_free > 0)
			buf = free_list[--n_free];
		else
		{
			if (n_buffers == MAAS_NET_MAX_BUFFERS)
				return maas_error(err, MAAS_ERR_LIMIT,
								  "layer %d (%s): more than %d values are alive at once",
								  i + 1, info->name, MAAS_NET_MAX_BUFFERS);
			buf = n_buffers++;
			plan->seq_width[buf] = 0;
			plan->row_width[buf] = 0;
		}
		l->buffer = buf;
		if (l->shape.seq)
		{
			if ((size_t) l->shape.width > plan->seq_width[buf])
				plan->seq_width[buf] = (size_t) l->shape.width;
		}
		else if (row_floats(&l->shape) > plan->row_width[buf])
			plan->row_width[buf] = row_floats(&l->shape);

		/* inputs read for the last time free their buffers */
		for (int k = 0; k < n; k++)
		{
			int			v = ids[k];
			bool		seen = false;

			if (v == 0 || plan->last_use[v] != i || net->layers[v - 1].buffer == buf)
				continue;
			for (int j = 0; j < k; j++)
				if (ids[j] == v)
					seen = true;
			if (!seen)
				free_list[n_free++] = net->layers[v - 1].buffer;
		}
		/* a value nobody reads is dead at once, unless it is the output */
		if (plan->last_use[i + 1] < 0 && i + 1 != plan->output)
			free_list[n_free++] = buf;
	}
	net->n_buffers = n_buffers;
	return true;
}

/* does step b read step a's value alone, the last to, in place if in_place */
static bool
reads_only(const MaasNet *net, const NetPlan *plan, const NetStep *a, const NetStep *b,
		   bool in_place)
{
	int			v = (int) (a->layer - net->layers) + 1;
	int			r = (int) (b->layer - net->layers);
	int			ids[MAAS_LAYER_MAX_INPUTS];

	return v != plan->output && maas_net_layer_inputs(b->layer, r, ids) == 1 &&
		ids[0] == v && plan->last_use[v] == r && (!in_place || b->out_buf == a->out_buf);
}

/*
 * A step whose op can apply a ReLU as it writes (MaasOpInfo.fuses_relu:
 * a conv2d as im2col's rows are written, maas_conv2d_forward_act; a dense
 * layer in its int8 dequantization or after its product), followed by a
 * relu step on its value alone, in place, which nobody else reads and
 * which is not the output, writes the relu's value itself, and the relu
 * step goes: one pass over the activations less.  The layers stay as they
 * are, so a run to the op's own value (run_to) still sees it before the
 * ReLU.  A ReLU after a max pooling of such a step's value (conv2d, max
 * pool, relu: PyTorch's relu(max_pool2d(conv(x))), and maas's own CNNs)
 * goes the same way: the ReLU commutes with the max of each window, so the
 * step writes the ReLU of its value, the pooling takes the relu's value
 * id, and the relu step goes.  Then the convolution's value is read by a
 * max pooling alone, and may stay NHWC (net_tiles.c).
 */
static void
fuse_relu(const MaasNet *net, NetPlan *plan)
{
	int			k = 0;

	for (int i = 0; i < plan->n_steps; i++)
	{
		NetStep    *s = &plan->steps[i];
		NetStep    *next = i + 1 < plan->n_steps ? &plan->steps[i + 1] : NULL;
		NetStep    *after = i + 2 < plan->n_steps ? &plan->steps[i + 2] : NULL;
		bool		fuses = maas_op_info(s->layer->op)->fuses_relu;

		plan->steps[k] = *s;
		if (fuses && next != NULL && next->layer->op == MAAS_OP_RELU &&
			reads_only(net, plan, s, next, true))
		{
			plan->steps[k].relu = true;
			plan->steps[k].value = (int) (next->layer - net->layers) + 1;
			i++;
		}
		else if (fuses && next != NULL && after != NULL &&
				 next->layer->op == MAAS_OP_MAXPOOL2D && after->layer->op == MAAS_OP_RELU &&
				 reads_only(net, plan, s, next, false) &&
				 reads_only(net, plan, next, after, true))
		{
			plan->steps[k].relu = true;
			plan->steps[++k] = *next;
			plan->steps[k].value = (int) (after->layer - net->layers) + 1;
			i += 2;
		}
		k++;
	}
	plan->n_steps = k;
}


/*
 * A plan that is a short chain of small layers (a logistic or linear
 * model: standardize, one dense layer of at most a few thousand weights,
 * sigmoid or softmax) runs one row through maas_small_row, step after step
 * in the buffers place_buffers would give a row, without the run loop and
 * its indirect calls: on the per-row path of such models the loop's fixed
 * costs weigh as much as the arithmetic.
 */
static void
plan_small(const MaasNet *net, NetPlan *plan)
{
	plan->n_small = 0;
	if (net->input != MAAS_NET_FEATURES || plan->n_steps > MAAS_SMALL_STEPS)
		return;
	for (int i = 0; i < plan->n_steps; i++)
	{
		const NetStep *s = &plan->steps[i];
		size_t		off = 0;

		/* a step that runs the relu after its layer too is not small */
		if (s->n_in != 1 || s->in_buf[0] != (i == 0 ? -1 : plan->steps[i - 1].out_buf) ||
			!maas_small_step_ok(s->layer) || s->relu)
			return;
		for (int b = 0; b < s->out_buf; b++)
			off += plan->seq_width[b] > plan->row_width[b] ?
				plan->seq_width[b] : plan->row_width[b];
		plan->small[i] = s->layer;
		plan->small_off[i] = off;
	}
	plan->n_small = plan->n_steps;
}

bool
maas_net_check(MaasNet *net, MaasError *err)
{
	NetPlan    *plan;
	int			L = net->n_layers;

	if (net->input == MAAS_NET_FEATURES && net->n_in <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "the model must take at least one feature");
	if (L <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "the model has no layers");
	if (net->in_h > 0 &&
		((int64_t) net->in_c * net->in_h * net->in_w != net->n_in || net->in_c <= 0 ||
		 net->in_w <= 0))
		return maas_error(err, MAAS_ERR_INVALID,
						  "the input shape [%d, %d, %d] does not make %d features",
						  net->in_c, net->in_h, net->in_w, net->n_in);
	if (net->output < 0 || net->output > L)
		return maas_error(err, MAAS_ERR_INVALID, "the model's output is not one of its layers");

	if (!check_layers(net, err))
		return false;
	net->n_caches = 0;
	for (int i = 0; i < L; i++)
		net->layers[i].cache_slot = maas_op_info(net->layers[i].op)->kv_cache ?
			net->n_caches++ : -1;

	plan = maas_kalloc(sizeof(NetPlan));
	if (plan == NULL)
		return maas_error_nomem(err);
	plan->n_values = L + 1;
	plan->output = net->output > 0 ? net->output : L;
	plan->last_use = maas_kalloc_array((size_t) L + 1, sizeof(int));
	plan->needed = maas_kalloc_array((size_t) L, sizeof(bool));
	if (plan->last_use == NULL || plan->needed == NULL)
		return maas_error_nomem(err);
	for (int v = 0; v <= L; v++)
		plan->last_use[v] = -1;
	for (int i = 0; i < L; i++)
	{
		int			ids[MAAS_LAYER_MAX_INPUTS];
		int			n = maas_net_layer_inputs(&net->layers[i], i, ids);

		for (int k = 0; k < n; k++)
			plan->last_use[ids[k]] = i;
	}

	/* which layers the output depends on */
	memset(plan->needed, 0, sizeof(bool) * (size_t) L);
	plan->needed[plan->output - 1] = true;
	for (int i = plan->output - 1; i >= 0; i--)
	{
		int			ids[MAAS_LAYER_MAX_INPUTS];
		int			n;

		if (!plan->needed[i])
			continue;
		n = maas_net_layer_inputs(&net->layers[i], i, ids);
		for (int k = 0; k < n; k++)
			if (ids[k] > 0)
				plan->needed[ids[k] - 1] = true;
	}

	if (!plan_buffers(net, plan, err))
		return false;

	/* the steps of a run to the output */
	plan->steps = maas_kalloc_array((size_t) L, sizeof(NetStep));
	if (plan->steps == NULL)
		return maas_error_nomem(err);
	plan->n_steps = 0;
	for (int i = 0; i < plan->output; i++)
	{
		NetStep    *s;
		int			ids[MAAS_LAYER_MAX_INPUTS];

		if (!plan->needed[i])
			continue;
		s = &plan->steps[plan->n_steps++];
		s->layer = &net->layers[i];
		s->forward = maas_op_info(net->layers[i].op)->forward;
		s->n_in = maas_net_layer_inputs(&net->layers[i], i, ids);
		for (int k = 0; k < s->n_in; k++)
			s->in_buf[k] = ids[k] == 0 ? -1 : net->layers[ids[k] - 1].buffer;
		s->out_buf = net->layers[i].buffer;
		s->relu = false;
		s->value = i + 1;
		s->layout = 0;
	}
	fuse_relu(net, plan);

	plan_small(net, plan);

	net->n_out = net->layers[plan->output - 1].shape.width;
	net->out_seq = net->layers[plan->output - 1].shape.seq;
	net->max_width = net->input == MAAS_NET_FEATURES ? net->n_in : 0;
	net->accepts_missing = false;
	for (int i = 0; i < L; i++)
		if (net->layers[i].shape.width > net->max_width)
			net->max_width = net->layers[i].shape.width;
	maas_net_plan_tiles(net, plan);
	net->plan = plan;
	return true;
}

/* floats of scratch the largest op needs */
static bool
scratch_floats(const MaasNet *net, int n, int t, int n_keys, size_t *out)
{
	MaasShape	in0 = input_shape(net);
	size_t		most = 0;

	for (int i = 0; i < net->n_layers; i++)
	{
		const MaasLayer *l = &net->layers[i];
		const MaasOpInfo *info = maas_op_info(l->op);
		int			ids[MAAS_LAYER_MAX_INPUTS];
		MaasShape	in[MAAS_LAYER_MAX_INPUTS];
		int			k = maas_net_layer_inputs(l, i, ids);
		size_t		s;

		if (info->scratch == NULL)
			continue;
		for (int j = 0; j < k; j++)
			in[j] = ids[j] == 0 ? in0 : net->layers[ids[j] - 1].shape;
		s = info->scratch(l, in, n, t, n_keys);
		if (s == SIZE_MAX)
			return false;
		if (s > most)
			most = s;
	}
	*out = most;
	return true;
}

bool
maas_net_workspace(const MaasNet *net, int n_rows, int t, size_t *nfloats)
{
	return maas_net_workspace_kv(net, n_rows, t, t, nfloats);
}

bool
maas_net_workspace_kv(const MaasNet *net, int n_rows, int t, int n_keys,
					  size_t *nfloats)
{
	const NetPlan *plan = net->plan;
	size_t		total = 0;
	size_t		scratch;

	if (n_rows <= 0 || t <= 0 || n_keys < t || plan == NULL)
		return false;
	/* a tiled net's front: the rows of its tiled value (net_tiles.c) */
	if (plan->tile_row_bytes > 0 &&
		!maas_mul_size((size_t) n_rows, plan->row_width[plan->tiled_buf], &total))
		return false;
	for (int b = 0; b < net->n_buffers; b++)
	{
		size_t		seq,
					per_row;

		if (!maas_mul_size(plan->seq_width[b], (size_t) t, &seq))
			return false;
		per_row = seq > plan->row_width[b] ? seq : plan->row_width[b];
		if (!maas_mul_size(per_row, (size_t) n_rows, &per_row) ||
			!maas_add_size(total, per_row, &total))
			return false;
	}
	if (!scratch_floats(net, n_rows, t, n_keys, &scratch) ||
		!maas_add_size(total, scratch, &total))
		return false;
	*nfloats = total > 0 ? total : 1;
	return true;
}

/* where each buffer starts for this batch; returns the scratch */
static float *
place_buffers(const MaasNet *net, const MaasBatch *batch, float *work, float **bufs)
{
	const NetPlan *plan = net->plan;
	size_t		off = 0;

	/* a tiled net's front first (net_tiles.c) */
	if (plan->tile_row_bytes > 0)
		off = (size_t) batch->n * plan->row_width[plan->tiled_buf];
	for (int b = 0; b < net->n_buffers; b++)
	{
		size_t		per_row = plan->seq_width[b] * (size_t) batch->t;

		if (plan->row_width[b] > per_row)
			per_row = plan->row_width[b];
		bufs[b] = work + off;
		off += per_row * (size_t) batch->n;
	}
	return work + off;
}

/* a run to another value than the output: the layers it needs */
static const float *
run_to(const MaasNet *net, MaasRun *run, float **bufs, int target)
{
	int			L = net->n_layers;
	bool		small[256];
	bool	   *want = small;
	const float *result = NULL;

	if (L > (int) sizeof(small) &&
		(want = maas_kalloc_array((size_t) L, sizeof(bool))) == NULL)
	{
		maas_error_nomem(run->err);
		return NULL;
	}
	memset(want, 0, sizeof(bool) * (size_t) L);
	want[target - 1] = true;
	for (int i = target - 1; i >= 0; i--)
	{
		int			ids[MAAS_LAYER_MAX_INPUTS];
		int			n;

		if (!want[i])
			continue;
		n = maas_net_layer_inputs(&net->layers[i], i, ids);
		for (int k = 0; k < n; k++)
			if (ids[k] > 0)
				want[ids[k] - 1] = true;
	}
	for (int i = 0; i < target; i++)
	{
		const MaasLayer *l = &net->layers[i];
		int			ids[MAAS_LAYER_MAX_INPUTS];
		const float *in[MAAS_LAYER_MAX_INPUTS];
		int			n;

		if (!want[i])
			continue;
		n = maas_net_layer_inputs(l, i, ids);
		for (int k = 0; k < n; k++)
			in[k] = ids[k] == 0 ? run->batch->x : bufs[net->layers[ids[k] - 1].buffer];
		if (!maas_op_info(l->op)->forward(l, run, in, bufs[l->buffer]))
			return NULL;
		result = bufs[l->buffer];
	}
	return result;
}

/* steps [from, to) of the plan over run->batch, its input x */
bool
maas_net_run_steps(const NetPlan *plan, MaasRun *run, const float *x,
				   float *const *bufs, int from, int to, bool nhwc)
{
	bool		ok = true;

	for (int i = from; ok && i < to; i++)
	{
		const NetStep *s = &plan->steps[i];
		const float *in[MAAS_LAYER_MAX_INPUTS];

		for (int k = 0; k < s->n_in; k++)
			in[k] = s->in_buf[k] < 0 ? x : bufs[s->in_buf[k]];
		run->relu = s->relu;
		run->layout = nhwc ? s->layout : 0;
		ok = s->forward(s->layer, run, in, bufs[s->out_buf]);
	}
	run->relu = false;
	run->layout = 0;
	return ok;
}

/* the run loop; apart from maas_net_run so that a small row skips its frame */
static __attribute__((noinline)) const float *
run_loop(const MaasNet *net, const MaasBlas *blas, const MaasBatch *batch,
		 int target, float *work, MaasError *err)
{
	const NetPlan *plan = net->plan;
	float	   *bufs[MAAS_NET_MAX_BUFFERS];
	MaasRun		run;

	run.net = net;
	run.blas = blas;
	run.batch = batch;
	run.err = err;
	run.relu = false;
	run.layout = 0;
	run.thread = -1;
	run.scratch = place_buffers(net, batch, work, bufs);

	if (target > 0 && target != plan->output)
	{
		if (target > net->n_layers)
		{
			maas_error(err, MAAS_ERR_INVALID, "the model has no value %d", target);
			return NULL;
		}
		return run_to(net, &run, bufs, target);
	}

	if (plan->tile_row_bytes > 0)
	{
		const float *out;

		if (!maas_net_run_tiles(net, &run, bufs, work, &out))
			return NULL;
		if (out != NULL)
			return out;
	}
	if (!maas_net_run_steps(plan, &run, batch->x, bufs, 0, plan->n_steps,
							plan->tile_row_bytes > 0 && maas_net_nhwc(plan, blas)))
		return NULL;
	return bufs[plan->steps[plan->n_steps - 1].out_buf];
}

const float *
maas_net_run(const MaasNet *net, const MaasBlas *blas, const MaasBatch *batch,
			 int target, float *work, MaasError *err)
{
	const NetPlan *plan = net->plan;

	/* one row of a small model: no run loop (plan_small) */
	if (plan->n_small > 0 && batch->n == 1 && batch->t == 1 && batch->x != NULL &&
		(target <= 0 || target == plan->output))
	{
		bool		x_finite;
		const float *out = maas_small_row(plan->small, plan->small_off, plan->n_small,
										  batch->x, work, &x_finite);

		if (out != NULL)
			return out;
	}
	return run_loop(net, blas, batch, target, work, err);
}

const float *
maas_net_small_row(const MaasNet *net, const float *x, float *work, bool *x_finite)
{
	const NetPlan *plan = net->plan;

	*x_finite = false;
	if (plan == NULL || plan->n_small == 0)
		return NULL;
	return maas_small_row(plan->small, plan->small_off, plan->n_small, x, work, x_finite);
}

const float *
maas_net_forward(const MaasNet *net, const MaasBlas *blas,
				 int n_rows, const float *x, float *work)
{
	MaasBatch	batch = {.n = n_rows, .t = 1, .x = x};
	MaasError	err;

	return maas_net_run(net, blas, &batch, 0, work, &err);
}
