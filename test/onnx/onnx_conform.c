/*
 * onnx_conform.c
 *		The conformance harness over ONNX's own test data (Debian's
 *		libonnx-testdata): every model.onnx and every test_data_set_N of
 *		input_N.pb / output_N.pb, read with maas's ONNX reader.
 *
 *	onnx_conform parse [-v] ROOT...
 *		Reads every model (a directory holding model.onnx, at any depth under
 *		each ROOT) and every tensor of its test data, and prints
 *			onnx reader: N of M models parse, K refused (reason counts)
 *			test data: ...
 *		A refusal is deliberate when the reader says "unsupported" or
 *		"limit" (external data, a dtype such as STRING, subgraphs); anything
 *		else on these valid files is a reader failure, listed, and makes the
 *		exit status 1.  -v lists every refusal.
 *
 *	onnx_conform compare [-v] [-r] ROOT...
 *		Runs every model through a runner and compares its outputs with the
 *		expected ones, printing the max abs diff per output with -v, then
 *			onnx conformance: N of M supported models pass, K models refused (...)
 *		The runner is the plug: the translator's (the model translated into a
 *		layer program and run by maas's runtime, see run_translated), or with
 *		-r a reference evaluator of a few single elementwise operators (to
 *		check the reader's values and this comparison on their own).
 *
 *	onnx_conform dump FILE
 *		A canonical text dump of a model (or, for a .pb file, a tensor),
 *		compared line by line with test/onnx/dump_onnx.py's dump of the same
 *		file through the onnx Python package (test/onnx/crosscheck).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnx.h"
#include "onnx_testutil.h"
#include "unit.h"

#define MAX_SETS	64			/* test_data_set_N per model */
#define MAX_IO		64			/* inputs/outputs per model */

static int	verbose = 0;


/* ----------------------------------------------------------------
 *		files and directories
 * ----------------------------------------------------------------
 */

/* the whole file in a malloc'd buffer, or NULL (errno set) */
static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	   *fp = fopen(path, "rb");
	uint8_t    *buf;
	long		n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
	{
		fclose(fp);
		return NULL;
	}
	buf = malloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, fp) != (size_t) n)
	{
		free(buf);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	*len = (size_t) n;
	return buf;
}

static bool
is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

typedef struct StrList
{
	char	  **items;
	int			n;
	int			cap;
} StrList;

static void
list_add(StrList *l, const char *s)
{
	if (l->n == l->cap)
	{
		l->cap = l->cap ? 2 * l->cap : 64;
		l->items = realloc(l->items, (size_t) l->cap * sizeof(char *));
		if (l->items == NULL)
		{
			perror("realloc");
			exit(2);
		}
	}
	l->items[l->n++] = strdup(s);
}

/* every directory under root (root too) that holds a model.onnx, sorted */
static void
find_models(const char *root, StrList *out)
{
	char		path[4096];
	DIR		   *d;
	struct dirent *e;
	StrList		subs = {0};
	int			i;

	snprintf(path, sizeof(path), "%s/model.onnx", root);
	if (is_file(path))
		list_add(out, root);
	if ((d = opendir(root)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
		if (is_dir(path) && strncmp(e->d_name, "test_data_set_", 14) != 0)
			list_add(&subs, path);
	}
	closedir(d);
	if (subs.n > 1)
		qsort(subs.items, (size_t) subs.n, sizeof(char *), cmp_str);
	for (i = 0; i < subs.n; i++)
	{
		find_models(subs.items[i], out);
		free(subs.items[i]);
	}
	free(subs.items);
}

/* the test_data_set_N directories of a model, sorted */
static void
find_sets(const char *dir, StrList *out)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	char		path[4096];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		if (strncmp(e->d_name, "test_data_set_", 14) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (is_dir(path))
			list_add(out, path);
	}
	closedir(d);
	if (out->n > 1)
		qsort(out->items, (size_t) out->n, sizeof(char *), cmp_str);
}

static void
list_free(StrList *l)
{
	int			i;

	for (i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}


/* ----------------------------------------------------------------
 *		refusal reasons
 * ----------------------------------------------------------------
 */

typedef struct Reasons
{
	char	   *name[64];
	int			count[64];
	int			n;
} Reasons;

static void
reason_add(Reasons *r, const char *name)
{
	int			i;

	for (i = 0; i < r->n; i++)
	{
		if (strcmp(r->name[i], name) == 0)
		{
			r->count[i]++;
			return;
		}
	}
	if (r->n < 64)
	{
		r->name[r->n] = strdup(name);
		r->count[r->n++] = 1;
	}
}

static void
reasons_print(const Reasons *r)
{
	int			i;

	for (i = 0; i < r->n; i++)
		printf("%s%s %d", i > 0 ? ", " : "", r->name[i], r->count[i]);
}

/*
 * The reason of a deliberate refusal, as a short phrase to count, or NULL
 * when the error is not a deliberate refusal (a reader failure).
 */
static const char *
refusal_reason(const MaasError *err, char *buf, size_t cap)
{
	const char *p;

	if (err->status != MAAS_ERR_UNSUPPORTED && err->status != MAAS_ERR_LIMIT)
		return NULL;
	if (strstr(err->msg, "subgraphs (If, Loop, Scan)") != NULL)
		return "subgraph attribute";
	if (strstr(err->msg, "external data") != NULL)
		return "external data";
	if (strstr(err->msg, "sparse") != NULL)
		return "sparse tensor";
	if ((p = strstr(err->msg, "data type ")) != NULL &&
		strstr(p, " is not supported") != NULL)
	{
		int			k = (int) strcspn(p + 10, " ");

		snprintf(buf, cap, "dtype %.*s", k, p + 10);
		return buf;
	}
	snprintf(buf, cap, "%s: %s", maas_status_name(err->status), err->msg);
	return buf;
}


/* ----------------------------------------------------------------
 *		a model's test data
 * ----------------------------------------------------------------
 */

typedef struct TestData
{
	int			n_sets;
	int			n_in;			/* graph inputs that are no initializers */
	int			n_out;
	const MaasOnnxValueInfo *in[MAX_IO];
	const MaasOnnxValueInfo *out[MAX_IO];
} TestData;

typedef struct Tally
{
	int			models;
	int			parsed;
	int			refused;
	int			failed;
	Reasons		refusals;
	int			tensors;
	int			tensors_read;
	int			tensors_refused;
	int			tensors_failed;
	int			not_tensors;	/* sequence/map/optional data: not read */
	Reasons		tensor_refusals;
	StrList		failures;
} Tally;

static void
model_io(const MaasOnnxModel *m, TestData *td)
{
	int32_t		i;

	td->n_in = td->n_out = 0;
	for (i = 0; i < m->graph.n_inputs && td->n_in < MAX_IO; i++)
	{
		if (m->graph.inputs[i].initializer < 0)
			td->in[td->n_in++] = &m->graph.inputs[i];
	}
	for (i = 0; i < m->graph.n_outputs && td->n_out < MAX_IO; i++)
		td->out[td->n_out++] = &m->graph.outputs[i];
}

/* read one input_N.pb / output_N.pb; NULL when absent, refused or failed */
static MaasOnnxTensor *
read_pb(Tally *tally, const char *set, const char *kind, int n,
		const MaasOnnxValueInfo *vi)
{
	char		path[4096];
	uint8_t    *buf;
	size_t		len;
	MaasError	err = {0};
	MaasOnnxTensor *t;
	char		why[MAAS_ERRLEN + 32];
	const char *reason;

	snprintf(path, sizeof(path), "%s/%s_%d.pb", set, kind, n);
	if (!is_file(path))
		return NULL;
	tally->tensors++;
	if (vi != NULL && vi->kind != MAAS_ONNX_VALUE_TENSOR && vi->kind != MAAS_ONNX_VALUE_UNKNOWN)
	{
		/* a SequenceProto, MapProto or OptionalProto: not a tensor */
		tally->not_tensors++;
		snprintf(why, sizeof(why), "%s value", maas_onnx_value_kind_name(vi->kind));
		reason_add(&tally->tensor_refusals, why);
		return NULL;
	}
	if ((buf = read_file(path, &len)) == NULL)
	{
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		tally->tensors_failed++;
		return NULL;
	}
	/* the buffer stays allocated with the tensor: freed with the arena */
	{
		uint8_t    *copy = maas_kalloc(len + 1);

		if (copy == NULL)
		{
			free(buf);
			tally->tensors_failed++;
			return NULL;
		}
		memcpy(copy, buf, len);
		free(buf);
		buf = copy;
	}
	t = maas_onnx_read_tensor(buf, len, NULL, NULL, &err);
	if (t != NULL)
	{
		tally->tensors_read++;
		return t;
	}
	reason = refusal_reason(&err, why, sizeof(why));
	if (reason != NULL)
	{
		tally->tensors_refused++;
		reason_add(&tally->tensor_refusals, reason);
		if (verbose)
			printf("refused %s: %s\n", path, err.msg);
	}
	else
	{
		char		line[8192];

		tally->tensors_failed++;
		snprintf(line, sizeof(line), "%s: %s", path, err.msg);
		list_add(&tally->failures, line);
	}
	return NULL;
}


/* ----------------------------------------------------------------
 *		the runner: where translated models will plug in
 * ----------------------------------------------------------------
 */

/*
 * A runner computes a model's outputs from its inputs.  run() gets the
 * model, its n_in input tensors (in the order of the graph inputs that are
 * no initializers) and fills out[0 .. n_out) with float outputs, each
 * out_numel[i] long.  It returns false with err set to MAAS_ERR_UNSUPPORTED
 * when it cannot run the model (counted as refused), to anything else when
 * it fails.  The translator's runner will translate the model to a layer
 * program and run it with maas's runtime.
 */
typedef struct Runner
{
	const char *name;
	bool		(*run) (const MaasOnnxModel *m, int n_in,
						MaasOnnxTensor *const *in, int n_out, float **out,
						int64_t *out_numel, MaasError *err);
} Runner;

/* the reference evaluator of single elementwise nodes */
static bool
run_reference(const MaasOnnxModel *m, int n_in, MaasOnnxTensor *const *in,
			  int n_out, float **out, int64_t *out_numel, MaasError *err)
{
	static const char *const unary[] = {"Relu", "Abs", "Neg", "Sigmoid", "Tanh",
	"Exp", "Identity", NULL};
	static const char *const binary[] = {"Add", "Sub", "Mul", "Div", NULL};
	const MaasOnnxNode *node;
	float	   *a;
	float	   *b = NULL;
	int64_t		i;
	int			op = -1;
	bool		is_unary = false;
	int			k;

	if (m->graph.n_nodes != 1 || n_out != 1)
		return maas_error(err, MAAS_ERR_UNSUPPORTED, "not a single-node graph");
	node = &m->graph.nodes[0];
	for (k = 0; unary[k] != NULL; k++)
		if (strcmp(node->op_type, unary[k]) == 0)
			op = k, is_unary = true;
	for (k = 0; binary[k] != NULL; k++)
		if (strcmp(node->op_type, binary[k]) == 0)
			op = k;
	if (op < 0 || node->domain[0] != '\0' || node->n_attrs != 0)
		return maas_error(err, MAAS_ERR_UNSUPPORTED, "operator \"%s\" is not supported",
						  node->op_type);
	if (n_in != (is_unary ? 1 : 2))
		return maas_error(err, MAAS_ERR_UNSUPPORTED, "unexpected inputs");
	for (k = 0; k < n_in; k++)
	{
		if (in[k]->dtype != MAAS_ONNX_FLOAT)
			return maas_error(err, MAAS_ERR_UNSUPPORTED, "input of type %s",
							  maas_onnx_dtype_name(in[k]->dtype));
		if (in[k]->numel != in[0]->numel)
			return maas_error(err, MAAS_ERR_UNSUPPORTED, "broadcasting");
	}
	a = maas_kalloc_array((size_t) in[0]->numel + 1, sizeof(float));
	if (!is_unary)
		b = maas_kalloc_array((size_t) in[1]->numel + 1, sizeof(float));
	out[0] = maas_kalloc_array((size_t) in[0]->numel + 1, sizeof(float));
	if (a == NULL || out[0] == NULL || (!is_unary && b == NULL))
		return maas_error_nomem(err);
	if (!maas_onnx_tensor_f32(in[0], a, err) ||
		(!is_unary && !maas_onnx_tensor_f32(in[1], b, err)))
		return false;
	for (i = 0; i < in[0]->numel; i++)
	{
		float		x = a[i];
		float		y = 0.0f;

		if (is_unary)
		{
			switch (op)
			{
				case 0:
					y = x > 0.0f ? x : 0.0f;
					break;
				case 1:
					y = fabsf(x);
					break;
				case 2:
					y = -x;
					break;
				case 3:
					y = 1.0f / (1.0f + expf(-x));
					break;
				case 4:
					y = tanhf(x);
					break;
				case 5:
					y = expf(x);
					break;
				case 6:
					y = x;
					break;
			}
		}
		else
		{
			switch (op)
			{
				case 0:
					y = x + b[i];
					break;
				case 1:
					y = x - b[i];
					break;
				case 2:
					y = x * b[i];
					break;
				case 3:
					y = x / b[i];
					break;
			}
		}
		out[0][i] = y;
	}
	out_numel[0] = in[0]->numel;
	return true;
}

static const Runner reference_runner = {"reference elementwise", run_reference};

static const MaasBlas *conform_blas;

/*
 * The translator's runner.  The first graph input of type float is the
 * feature input, its first dimension the batch (as a registered model's);
 * every other input is bound as a constant.  Every graph output is kept
 * (all_outputs) and the program run to each.  Graphs whose served input is
 * no float tensor (token ids), or whose outputs are sequences, are refused.
 */
static bool
run_translated(const MaasOnnxModel *m, int n_in, MaasOnnxTensor *const *in,
			   int n_out, float **out, int64_t *out_numel, MaasError *err)
{
	MaasOnnxTranslateOptions opts;
	const char *names[MAX_IO];
	const MaasOnnxTensor *bound[MAX_IO];
	const MaasOnnxTensor *features = NULL;
	OnnxNet		on;
	int			k = 0;
	int64_t		rows = 1;
	float	   *x = NULL;
	float	   *work = NULL;
	size_t		nwork;

	memset(&opts, 0, sizeof(opts));
	opts.all_outputs = true;
	for (int32_t i = 0; i < m->graph.n_inputs; i++)
	{
		const MaasOnnxValueInfo *vi = &m->graph.inputs[i];

		if (vi->initializer >= 0)
			continue;
		if (k >= n_in)
			return maas_error(err, MAAS_ERR_INVALID, "fewer test inputs than graph inputs");
		if (features == NULL && in[k]->dtype == MAAS_ONNX_FLOAT && in[k]->ndim >= 1 &&
			in[k]->dims[0] > 0)
			features = in[k];
		else
		{
			const MaasOnnxTensor *t = in[k];

			/* ONNX's test data stores BFLOAT16 inputs as their UINT16 bits */
			if (vi->elem_type == MAAS_ONNX_BFLOAT16 && t->dtype == MAAS_ONNX_UINT16)
			{
				MaasOnnxTensor *c = maas_kalloc(sizeof(MaasOnnxTensor));

				if (c == NULL)
					return maas_error_nomem(err);
				*c = *t;
				c->dtype = MAAS_ONNX_BFLOAT16;
				t = c;
			}
			names[opts.n_bound] = vi->name;
			bound[opts.n_bound++] = t;
		}
		k++;
	}
	opts.bound_names = names;
	opts.bound = bound;
	if (!onnx_import(m->buf, m->len, &opts, &on, err))
		return false;
	if (on.imp.n_outputs != n_out)
		return maas_error(err, MAAS_ERR_INVALID, "%d outputs, expected %d",
						  on.imp.n_outputs, n_out);
	if (on.imp.n_layers > 0)
	{
		if (features == NULL)
			return maas_error(err, MAAS_ERR_UNSUPPORTED, "no float input to serve");
		rows = features->dims[0];
		if (features->numel / rows != on.net.n_in)
			return maas_error(err, MAAS_ERR_INVALID, "%" PRId64 " features a row, the net takes %d",
							  features->numel / rows, on.net.n_in);
		x = maas_kalloc_array((size_t) features->numel + 1, sizeof(float));
		if (x == NULL || !maas_onnx_tensor_f32(features, x, err))
			return x == NULL ? maas_error_nomem(err) : false;
		if (!maas_net_workspace(&on.net, (int) rows, 1, &nwork) ||
			(work = maas_kalloc_array(nwork + 1, sizeof(float))) == NULL)
			return maas_error(err, MAAS_ERR_LIMIT, "no workspace");
	}
	for (k = 0; k < n_out; k++)
	{
		const MaasOnnxOutput *o = &on.imp.outputs[k];
		MaasBatch	batch = {0};
		const float *y;
		int			target;
		int64_t		numel;

		if (o->layer == NULL)
		{
			out[k] = (float *) o->constant;
			out_numel[k] = o->numel;
			continue;
		}
		if (o->seq)
			return maas_error(err, MAAS_ERR_UNSUPPORTED, "output \"%s\" is a sequence", o->name);
		if ((target = maas_net_find(&on.net, o->layer)) < 0)
			return maas_error(err, MAAS_ERR_INVALID, "no layer \"%s\"", o->layer);
		batch.n = (int) rows;
		batch.t = 1;
		batch.x = x;
		if ((y = maas_net_run(&on.net, conform_blas, &batch, target, work, err)) == NULL)
			return false;
		numel = rows * o->numel;
		if ((out[k] = maas_kalloc_array((size_t) numel + 1, sizeof(float))) == NULL)
			return maas_error_nomem(err);
		memcpy(out[k], y, sizeof(float) * (size_t) numel);
		out_numel[k] = numel;
	}
	return true;
}

static const Runner translated_runner = {"translator", run_translated};
static const Runner *runner = &translated_runner;


/* ----------------------------------------------------------------
 *		parse and compare
 * ----------------------------------------------------------------
 */

typedef struct Conformance
{
	int			models;
	int			supported;
	int			passed;
	int			refused;
	Reasons		refusals;
	StrList		failures;
} Conformance;

/* tolerances of ONNX's own backend tests */
#define RTOL 1e-3
#define ATOL 1e-7

/*
 * The largest |got - want| over an output; *pass tells whether every
 * element is within ATOL + RTOL * |want| (NaN matching NaN, infinities
 * matching themselves).  false with err set when the sizes differ.
 */
static bool
compare_output(const float *got, int64_t got_numel, const MaasOnnxTensor *want,
			   double *max_diff, bool *pass, MaasError *err)
{
	float	   *w;
	int64_t		i;

	*max_diff = 0.0;
	*pass = true;
	if (got_numel != want->numel)
		return maas_error(err, MAAS_ERR_INVALID, "%" PRId64 " elements, expected %" PRId64,
						  got_numel, want->numel);
	if ((w = maas_kalloc_array((size_t) want->numel + 1, sizeof(float))) == NULL)
		return maas_error_nomem(err);
	if (want->dtype == MAAS_ONNX_FLOAT || want->dtype == MAAS_ONNX_FLOAT16 ||
		want->dtype == MAAS_ONNX_BFLOAT16 || want->dtype == MAAS_ONNX_DOUBLE)
	{
		if (!maas_onnx_tensor_f32(want, w, err))
			return false;
	}
	else
	{
		/* integer and BOOL outputs (folded shapes, comparisons) as floats */
		int64_t    *iv = maas_kalloc_array((size_t) want->numel + 1, sizeof(int64_t));

		if (iv == NULL)
			return maas_error_nomem(err);
		if (!maas_onnx_tensor_i64(want, iv, err))
			return false;
		for (i = 0; i < want->numel; i++)
			w[i] = (float) iv[i];
	}
	for (i = 0; i < want->numel; i++)
	{
		double		d;

		if (isnan(w[i]) && isnan(got[i]))
			continue;
		if (isinf(w[i]) && w[i] == got[i])
			continue;
		d = fabs((double) got[i] - (double) w[i]);
		if (isnan(d))
			d = INFINITY;
		if (d > *max_diff)
			*max_diff = d;
		if (!(d <= ATOL + RTOL * fabs((double) w[i])))
			*pass = false;
	}
	return true;
}

/*
 * One model: read it and every tensor of its test data sets; in compare
 * mode (conf not NULL), run each data set and compare the outputs.  All of
 * it in kernel memory, released by the caller's arena_reset().
 */
static void
do_model(const char *dir, Tally *tally, Conformance *conf, const Runner *runner)
{
	char		path[4096];
	uint8_t    *file;
	uint8_t    *buf;
	size_t		len;
	MaasError	err = {0};
	MaasOnnxModel *m;
	StrList		sets = {0};
	TestData	td;
	char		why[MAAS_ERRLEN + 32];
	const char *reason;
	bool		model_ok = true;
	bool		ran = false;
	int			s;

	snprintf(path, sizeof(path), "%s/model.onnx", dir);
	tally->models++;
	if ((file = read_file(path, &len)) == NULL)
	{
		char		line[8192];

		snprintf(line, sizeof(line), "%s: %s", path, strerror(errno));
		list_add(&tally->failures, line);
		tally->failed++;
		return;
	}
	buf = maas_kalloc(len + 1);
	if (buf == NULL)
	{
		perror("maas_kalloc");
		exit(2);
	}
	memcpy(buf, file, len);
	free(file);

	m = maas_onnx_read(buf, len, NULL, NULL, &err);
	if (m == NULL)
	{
		reason = refusal_reason(&err, why, sizeof(why));
		if (reason != NULL)
		{
			tally->refused++;
			reason_add(&tally->refusals, reason);
			if (verbose)
				printf("refused %s: %s\n", path, err.msg);
		}
		else
		{
			char		line[8192];

			tally->failed++;
			snprintf(line, sizeof(line), "%s: %s", path, err.msg);
			list_add(&tally->failures, line);
		}
		if (conf != NULL)
		{
			conf->models++;
			conf->refused++;
			reason_add(&conf->refusals, "refused by the reader");
			conf = NULL;
		}

		/*
		 * Its test data is still read: with subgraphs kept as stubs, the
		 * model tells which values are tensors.
		 */
		{
			MaasOnnxOptions opts = {MAAS_ONNX_OPAQUE_SUBGRAPHS, 0};

			m = maas_onnx_read(buf, len, &opts, NULL, &err);
			if (m == NULL)
				return;
		}
	}
	else
		tally->parsed++;
	model_io(m, &td);
	find_sets(dir, &sets);
	if (conf != NULL)
		conf->models++;

	for (s = 0; s < sets.n; s++)
	{
		MaasOnnxTensor *in[MAX_IO];
		MaasOnnxTensor *want[MAX_IO];
		float	   *got[MAX_IO];
		int64_t		got_numel[MAX_IO];
		bool		complete = true;
		int			k;

		for (k = 0; k < td.n_in; k++)
			if ((in[k] = read_pb(tally, sets.items[s], "input", k, td.in[k])) == NULL)
				complete = false;
		for (k = 0; k < td.n_out; k++)
			if ((want[k] = read_pb(tally, sets.items[s], "output", k, td.out[k])) == NULL)
				complete = false;
		if (conf == NULL || !model_ok)
			continue;
		if (!complete)
		{
			model_ok = false;
			conf->refused++;
			reason_add(&conf->refusals, "test data not read");
			continue;
		}
		memset(&err, 0, sizeof(err));
		if (!runner->run(m, td.n_in, in, td.n_out, got, got_numel, &err))
		{
			model_ok = false;
			if (err.status == MAAS_ERR_UNSUPPORTED)
			{
				conf->refused++;
				reason_add(&conf->refusals, "unsupported op");
			}
			else
			{
				char		line[8192];

				snprintf(line, sizeof(line), "%s: run failed: %s", dir, err.msg);
				list_add(&conf->failures, line);
			}
			continue;
		}
		ran = true;
		for (k = 0; k < td.n_out; k++)
		{
			bool		pass;
			double		d;
			bool		ok = compare_output(got[k], got_numel[k], want[k], &d, &pass, &err);

			if (verbose)
				printf("%s %s output %d \"%s\": max abs diff %.3g\n", dir,
					   sets.items[s] + strlen(dir) + 1, k, td.out[k]->name, d);
			if (!ok || !pass)
			{
				char		line[8192];

				model_ok = false;
				snprintf(line, sizeof(line), "%s %s: output %d: %s", dir,
						 sets.items[s] + strlen(dir) + 1, k,
						 ok ? "differs" : err.msg);
				list_add(&conf->failures, line);
			}
		}
	}
	if (conf != NULL && ran)
	{
		conf->supported++;
		if (model_ok)
			conf->passed++;
	}
	list_free(&sets);
}

static int
run_all(int argc, char **argv, bool compare)
{
	Tally		tally;
	Conformance conf;
	StrList		models = {0};
	int			i;

	memset(&tally, 0, sizeof(tally));
	memset(&conf, 0, sizeof(conf));
	for (i = 0; i < argc; i++)
		find_models(argv[i], &models);
	if (models.n == 0)
	{
		fprintf(stderr, "no model.onnx under the directories given\n");
		return 2;
	}
	for (i = 0; i < models.n; i++)
	{
		do_model(models.items[i], &tally, compare ? &conf : NULL, runner);
		arena_reset();
	}

	printf("onnx reader: %d of %d models parse, %d refused (", tally.parsed,
		   tally.models, tally.refused);
	reasons_print(&tally.refusals);
	printf(")%s\n", tally.failed > 0 ? "" : ", no reader failure");
	printf("test data: %d of %d tensors read, %d refused (", tally.tensors_read,
		   tally.tensors, tally.tensors_refused + tally.not_tensors);
	reasons_print(&tally.tensor_refusals);
	printf(")\n");
	if (compare)
	{
		printf("onnx conformance (runner: %s): %d of %d supported models pass, %d models refused (",
			   runner->name, conf.passed, conf.supported, conf.refused);
		reasons_print(&conf.refusals);
		printf(")\n");
	}
	for (i = 0; i < tally.failures.n; i++)
		printf("READER FAILURE %s\n", tally.failures.items[i]);
	for (i = 0; i < tally.refusals.n; i++)
		free(tally.refusals.name[i]);
	for (i = 0; i < tally.tensor_refusals.n; i++)
		free(tally.tensor_refusals.name[i]);
	for (i = 0; i < conf.refusals.n; i++)
		free(conf.refusals.name[i]);
	for (i = 0; i < conf.failures.n; i++)
		printf("MISMATCH %s\n", conf.failures.items[i]);
	list_free(&models);
	list_free(&tally.failures);
	list_free(&conf.failures);
	return tally.failed + tally.tensors_failed + conf.failures.n > 0 ? 1 : 0;
}


/* ----------------------------------------------------------------
 *		dump: the canonical text crosscheck compares with dump_onnx.py
 * ----------------------------------------------------------------
 */

/* sum of b[i] * P^(i + 1) mod 2^64: cheap to compute in numpy as well */
static uint64_t
data_hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t	h = 0;
	uint64_t	pw = 1;
	size_t		i;

	for (i = 0; i < n; i++)
	{
		pw *= 1099511628211ull;
		h += b[i] * pw;
	}
	return h;
}

static void
print_str(const char *s)
{
	putchar('"');
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void
print_hex(const char *s, size_t n)
{
	size_t		i;

	printf("x'");
	for (i = 0; i < n; i++)
		printf("%02x", (uint8_t) s[i]);
	printf("'");
}

static void
print_tensor(const MaasOnnxTensor *t)
{
	int			i;

	printf("%s [", maas_onnx_dtype_name(t->dtype));
	for (i = 0; i < t->ndim; i++)
		printf("%s%" PRId64, i ? "," : "", t->dims[i]);
	printf("] %016" PRIx64, data_hash(t->data, t->nbytes));
}

static void
print_value(const char *what, const MaasOnnxValueInfo *v)
{
	int			i;

	printf("%s ", what);
	print_str(v->name);
	printf(" %s", maas_onnx_value_kind_name(v->kind));
	if (v->kind == MAAS_ONNX_VALUE_TENSOR || v->kind == MAAS_ONNX_VALUE_SPARSE_TENSOR)
	{
		printf(" %s", maas_onnx_dtype_name(v->elem_type));
		if (v->ndim < 0)
			printf(" ?");
		else
		{
			printf(" [");
			for (i = 0; i < v->ndim; i++)
			{
				if (i)
					putchar(',');
				if (v->dims[i].param != NULL)
					print_str(v->dims[i].param);
				else if (v->dims[i].value >= 0)
					printf("%" PRId64, v->dims[i].value);
				else
					putchar('?');
			}
			printf("]");
		}
	}
	putchar('\n');
}

static int
dump(const char *path)
{
	uint8_t    *buf;
	size_t		len;
	MaasError	err = {0};
	MaasOnnxOptions opts = {MAAS_ONNX_OPAQUE_SUBGRAPHS, 0};
	size_t		n = strlen(path);
	int32_t		i;
	int32_t		k;

	if ((buf = read_file(path, &len)) == NULL)
	{
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 2;
	}
	if (n > 3 && strcmp(path + n - 3, ".pb") == 0)
	{
		MaasOnnxTensor *t = maas_onnx_read_tensor(buf, len, &opts, NULL, &err);

		if (t == NULL)
		{
			printf("error %s\n", maas_status_name(err.status));
			fprintf(stderr, "%s: %s\n", path, err.msg);
			free(buf);
			return 0;
		}
		printf("tensor ");
		print_str(t->name);
		putchar(' ');
		print_tensor(t);
		putchar('\n');
	}
	else
	{
		MaasOnnxModel *m = maas_onnx_read(buf, len, &opts, NULL, &err);
		const MaasOnnxGraph *g;

		if (m == NULL)
		{
			printf("error %s\n", maas_status_name(err.status));
			fprintf(stderr, "%s: %s\n", path, err.msg);
			free(buf);
			return 0;
		}
		g = &m->graph;
		printf("ir_version %" PRId64 "\n", m->ir_version);
		printf("producer ");
		print_str(m->producer_name);
		putchar(' ');
		print_str(m->producer_version);
		printf("\nmodel ");
		print_str(m->domain);
		printf(" %" PRId64 "\n", m->model_version);
		for (i = 0; i < m->n_opsets; i++)
		{
			printf("opset ");
			print_str(m->opsets[i].domain);
			printf(" %" PRId64 "\n", m->opsets[i].version);
		}
		printf("graph ");
		print_str(g->name);
		putchar('\n');
		for (i = 0; i < g->n_inputs; i++)
			print_value("input", &g->inputs[i]);
		for (i = 0; i < g->n_outputs; i++)
			print_value("output", &g->outputs[i]);
		for (i = 0; i < g->n_value_info; i++)
			print_value("value_info", &g->value_info[i]);
		for (i = 0; i < g->n_initializers; i++)
		{
			printf("initializer ");
			print_str(g->initializers[i].name);
			putchar(' ');
			print_tensor(&g->initializers[i]);
			putchar('\n');
		}
		for (i = 0; i < g->n_nodes; i++)
		{
			const MaasOnnxNode *node = &g->nodes[i];

			printf("node %d ", i);
			print_str(node->domain);
			putchar(' ');
			print_str(node->op_type);
			putchar(' ');
			print_str(node->name);
			printf(" in");
			for (k = 0; k < node->n_inputs; k++)
			{
				putchar(' ');
				print_str(node->inputs[k]);
			}
			printf(" out");
			for (k = 0; k < node->n_outputs; k++)
			{
				putchar(' ');
				print_str(node->outputs[k]);
			}
			putchar('\n');
			for (k = 0; k < node->n_attrs; k++)
			{
				const MaasOnnxAttr *a = &node->attrs[k];
				int32_t		j;

				printf("  attr ");
				print_str(a->name);
				printf(" %s", maas_onnx_attr_type_name(a->type));
				switch (a->type)
				{
					case MAAS_ONNX_ATTR_FLOAT:
						printf(" %.9g", (double) a->f);
						break;
					case MAAS_ONNX_ATTR_INT:
						printf(" %" PRId64, a->i);
						break;
					case MAAS_ONNX_ATTR_STRING:
						putchar(' ');
						print_hex(a->s, a->s_len);
						break;
					case MAAS_ONNX_ATTR_TENSOR:
						putchar(' ');
						print_tensor(a->t);
						break;
					case MAAS_ONNX_ATTR_FLOATS:
						for (j = 0; j < a->n; j++)
							printf(" %.9g", (double) a->floats[j]);
						break;
					case MAAS_ONNX_ATTR_INTS:
						for (j = 0; j < a->n; j++)
							printf(" %" PRId64, a->ints[j]);
						break;
					case MAAS_ONNX_ATTR_STRINGS:
						for (j = 0; j < a->n; j++)
						{
							putchar(' ');
							print_hex(a->strings[j], a->string_lens[j]);
						}
						break;
					case MAAS_ONNX_ATTR_GRAPH:
					case MAAS_ONNX_ATTR_GRAPHS:
						printf(" %d", a->n);
						break;
				}
				putchar('\n');
			}
		}
	}
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	int			first = 2;
	char		msg[256];

	while (argc > first && argv[first][0] == '-')
	{
		if (strcmp(argv[first], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[first], "-r") == 0)
			runner = &reference_runner;
		else
			break;
		first++;
	}
	if (argc > first && strcmp(argv[1], "compare") == 0 && runner == &translated_runner &&
		(conform_blas = maas_blas_load(NULL, 1, msg, sizeof(msg))) == NULL)
	{
		fprintf(stderr, "cannot load BLAS: %s\n", msg);
		return 2;
	}
	if (argc > first && strcmp(argv[1], "parse") == 0)
		return run_all(argc - first, argv + first, false);
	if (argc > first && strcmp(argv[1], "compare") == 0)
		return run_all(argc - first, argv + first, true);
	if (argc == 3 && strcmp(argv[1], "dump") == 0)
		return dump(argv[2]);
	fprintf(stderr, "usage: onnx_conform parse|compare [-v] [-r] ROOT...\n"
			"       onnx_conform dump FILE\n");
	return 2;
}
