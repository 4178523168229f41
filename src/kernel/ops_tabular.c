/*
 * ops_tabular.c
 *		The layers of tabular models that are no matrix products: "trees"
 *		(a boosted-trees ensemble, trees.h) and "kmeans" (distances to
 *		cluster centers, train_kmeans.h); see net_ops.h.
 *
 * Config keys:
 *	trees	"tensors": the prefix P of the ensemble's tensors (default
 *			"trees"): P.roots, P.groups, P.base_score, P.feature,
 *			P.threshold, P.left, P.right, P.default_left, P.value and the
 *			optional P.gain, P.cover, with the dtypes and lengths trees.h
 *			gives.  Reads one row value of n features (NaN: missing) and
 *			writes the n_groups margins; the output transform (sigmoid,
 *			softmax) is the next layer.
 *	kmeans	"centers": the tensor of the k centers, F32 [k, n] (default
 *			"kmeans.centers").  Reads one row value of n features and
 *			writes the k Euclidean distances to the centers; the cluster is
 *			the nearest one.
 *
 * The trees are checked (maas_trees_check: indices in range, children
 * after parents, depth bounded) and packed when the net is built, so a
 * damaged model is refused at registration and a served one cannot loop.
 */
#include "net_ops.h"
#include "train_kmeans.h"
#include "trees.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- trees ---- */

/*
 * The data of tensor prefix.suffix, 1-D of dtype with n elements (n < 0:
 * any length, returned through n), or NULL with the build error set.
 * Misaligned data is copied.
 */
static const void *
trees_tensor(MaasBuild *b, const char *prefix, const char *suffix, StDtype dtype,
			 int64_t *n)
{
	char		name[256];
	const StTensor *t;
	size_t		esize = st_dtype_size(dtype);
	void	   *copy;

	if ((size_t) snprintf(name, sizeof(name), "%s.%s", prefix, suffix) >= sizeof(name))
	{
		maas_build_error(b, "Layer %d (trees): \"tensors\" is too long.",
						 maas_build_layer_no(b));
		return NULL;
	}
	if ((t = maas_build_raw_tensor(b, name)) == NULL)
		return NULL;
	if (t->dtype != dtype || t->ndim != 1 || (*n >= 0 && t->shape[0] != *n) ||
		t->shape[0] > MAAS_TREES_MAX_NODES)
	{
		char		want[32];
		char		have[64] = "";
		size_t		used = 0;

		if (*n >= 0)
			snprintf(want, sizeof(want), "[%lld]", (long long) *n);
		else
			snprintf(want, sizeof(want), "1-D");
		for (int i = 0; i < t->ndim && used < sizeof(have); i++)
			used += (size_t) snprintf(have + used, sizeof(have) - used, "%s%lld",
									  i ? ", " : "", (long long) t->shape[i]);
		maas_build_error(b, "Layer %d (trees): tensor \"%s\" must be %s %s, not %s [%s].",
						 maas_build_layer_no(b), name, st_dtype_name(dtype), want,
						 st_dtype_name(t->dtype), have);
		return NULL;
	}
	*n = t->shape[0];
	if (((uintptr_t) t->data % esize) == 0)
		return t->data;
	copy = maas_kalloc_array((size_t) (*n > 0 ? *n : 1), esize);
	if (copy == NULL)
	{
		maas_build_error(b, "Out of memory reading tensor \"%s\".", name);
		return NULL;
	}
	memcpy(copy, t->data, (size_t) *n * esize);
	return copy;
}

static bool
trees_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	const char *prefix = "trees";
	MaasTrees	tr;
	MaasTreesPlan *plan;
	MaasError	cerr;
	int64_t		n_trees = -1,
				n_nodes = -1,
				n_groups = -1;

	if (!maas_build_string(b, obj, "tensors", false, &prefix))
		return false;
	if (in[0].seq)
		return maas_build_error(b, "Layer %d (trees) takes a row value, not a sequence.",
								maas_build_layer_no(b));
	memset(&tr, 0, sizeof(tr));
	tr.n_features = in[0].width;
	if ((tr.roots = trees_tensor(b, prefix, "roots", ST_I32, &n_trees)) == NULL ||
		(tr.groups = trees_tensor(b, prefix, "groups", ST_I32, &n_trees)) == NULL ||
		(tr.base_score = trees_tensor(b, prefix, "base_score", ST_F32, &n_groups)) == NULL ||
		(tr.feature = trees_tensor(b, prefix, "feature", ST_I32, &n_nodes)) == NULL ||
		(tr.threshold = trees_tensor(b, prefix, "threshold", ST_F32, &n_nodes)) == NULL ||
		(tr.left = trees_tensor(b, prefix, "left", ST_I32, &n_nodes)) == NULL ||
		(tr.right = trees_tensor(b, prefix, "right", ST_I32, &n_nodes)) == NULL ||
		(tr.default_left = trees_tensor(b, prefix, "default_left", ST_U8, &n_nodes)) == NULL ||
		(tr.value = trees_tensor(b, prefix, "value", ST_F32, &n_nodes)) == NULL)
		return false;
	tr.n_trees = (int32_t) n_trees;
	tr.n_nodes = (int32_t) n_nodes;
	tr.n_groups = (int32_t) n_groups;
	if (n_groups > MAAS_TREES_MAX_GROUPS)
		return maas_build_error(b, "Layer %d (trees) has %lld output groups; at most %d are allowed.",
								maas_build_layer_no(b), (long long) n_groups,
								MAAS_TREES_MAX_GROUPS);

	memset(&cerr, 0, sizeof(cerr));
	if ((plan = maas_trees_compile(&tr, &cerr)) == NULL)
	{
		if (cerr.status == MAAS_ERR_NOMEM)
			return maas_build_error(b, "Out of memory packing the trees of layer %d.",
									maas_build_layer_no(b));
		return maas_build_error(b, "Layer %d (trees): %s.", maas_build_layer_no(b), cerr.msg);
	}
	l->params = plan;
	l->n_in = in[0].width;
	l->n_out = plan->n_groups;
	return true;
}

static bool
trees_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	const MaasTreesPlan *plan = l->params;

	if (plan == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (trees) has no trees", no);
	if (in[0].seq)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (trees) takes a row value, not a sequence", no);
	if (in[0].width != plan->n_features)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (trees) takes %d features but receives %d",
						  no, plan->n_features, in[0].width);
	memset(out, 0, sizeof(*out));
	out->width = plan->n_groups;
	l->n_in = plan->n_features;
	l->n_out = plan->n_groups;
	return true;
}

static bool
trees_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	maas_trees_forward(l->params, run->batch->n, in[0], out);
	return true;
}

static const char *const trees_keys[] = {"tensors", NULL};

const MaasOpInfo maas_op_trees = {
	.name = "trees", .min_inputs = 1, .max_inputs = 1,
	.keys = trees_keys, .parse = trees_parse,
	.check = trees_check, .forward = trees_forward,
};

/* ---- kmeans ---- */

typedef struct KmeansParams
{
	int			k;
	int			d;
	const float *centers;		/* k * d */
	float	   *norms;			/* k: |c|^2 */
} KmeansParams;

static bool
kmeans_parse(MaasBuild *b, MaasLayer *l, const MaasJson *obj, const MaasShape *in)
{
	const char *name = "kmeans.centers";
	int64_t		shape[2] = {-1, in[0].width};
	KmeansParams *p;

	if (!maas_build_string(b, obj, "centers", false, &name))
		return false;
	if (in[0].seq)
		return maas_build_error(b, "Layer %d (kmeans) takes a row value, not a sequence.",
								maas_build_layer_no(b));
	if ((p = maas_kalloc(sizeof(*p))) == NULL)
		return maas_build_error(b, "Out of memory building layer %d.", maas_build_layer_no(b));
	if ((p->centers = maas_build_tensor(b, name, 2, shape, false)) == NULL)
		return false;
	if (shape[0] < 1 || shape[0] > MAAS_KMEANS_MAX_K)
		return maas_build_error(b, "Layer %d (kmeans) has %lld centers; it needs 1 to %d.",
								maas_build_layer_no(b), (long long) shape[0],
								MAAS_KMEANS_MAX_K);
	p->k = (int) shape[0];
	p->d = in[0].width;
	if ((p->norms = maas_kalloc_array((size_t) p->k, sizeof(float))) == NULL)
		return maas_build_error(b, "Out of memory building layer %d.", maas_build_layer_no(b));
	maas_kmeans_norms(p->k, p->d, p->centers, p->norms);
	l->params = p;
	l->n_in = p->d;
	l->n_out = p->k;
	return true;
}

static bool
kmeans_check(MaasLayer *l, int no, const MaasShape *in, MaasShape *out, MaasError *err)
{
	const KmeansParams *p = l->params;

	if (p == NULL)
		return maas_error(err, MAAS_ERR_INVALID, "layer %d (kmeans) has no centers", no);
	if (in[0].seq)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (kmeans) takes a row value, not a sequence", no);
	if (in[0].width != p->d)
		return maas_error(err, MAAS_ERR_INVALID,
						  "layer %d (kmeans) takes %d features but receives %d",
						  no, p->d, in[0].width);
	memset(out, 0, sizeof(*out));
	out->width = p->k;
	l->n_in = p->d;
	l->n_out = p->k;
	return true;
}

static size_t
kmeans_scratch(const MaasLayer *l, const MaasShape *in, int n, int t, int n_keys)
{
	const KmeansParams *p = l->params;

	(void) in;
	(void) t;
	(void) n_keys;
	return maas_kmeans_workspace(p->k, n);
}

static bool
kmeans_forward(const MaasLayer *l, MaasRun *run, const float *const *in, float *out)
{
	const KmeansParams *p = l->params;

	maas_kmeans_distances(run->blas, p->k, p->d, p->centers, p->norms,
						  run->batch->n, in[0], out, run->scratch);
	return true;
}

static const char *const kmeans_keys[] = {"centers", NULL};

const MaasOpInfo maas_op_kmeans = {
	.name = "kmeans", .min_inputs = 1, .max_inputs = 1,
	.keys = kmeans_keys, .parse = kmeans_parse,
	.check = kmeans_check, .scratch = kmeans_scratch, .forward = kmeans_forward,
};
