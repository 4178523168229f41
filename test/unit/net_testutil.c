/*
 * net_testutil.c
 *		Nets from a config and random weights (see net_testutil.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "net_testutil.h"

float *
tw_add(TestWeights *w, float *(*fill) (size_t n), const char *name,
	   int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
	int64_t		dims[4] = {d0, d1, d2, d3};
	size_t		numel = 1;
	float	   *data;
	int			i = w->n++;

	if (i >= TW_MAX_TENSORS)
	{
		fprintf(stderr, "tw_add: more than %d tensors\n", TW_MAX_TENSORS);
		abort();
	}
	for (int k = 0; k < ndim; k++)
	{
		w->shapes[i][k] = dims[k];
		numel *= (size_t) dims[k];
	}
	data = fill(numel);
	w->t[i] = (StWriteTensor) {name, ST_F32, ndim, w->shapes[i], data};
	return data;
}

MaasNet *
tw_build(const char *config, const TestWeights *w, MaasError *err)
{
	uint8_t    *buf;
	size_t		len;
	StFile	   *f = maas_kalloc(sizeof(StFile));
	MaasJson   *cfg;
	MaasNet    *net = maas_kalloc(sizeof(MaasNet));

	buf = st_write(w->t, w->n, NULL, NULL, 0, &len, err);
	if (buf == NULL || !st_parse(buf, len, f, err))
	{
		fprintf(stderr, "    weights: %s\n", err->msg);
		return NULL;
	}
	cfg = maas_json_parse(config, strlen(config), 0, NULL, err);
	if (cfg == NULL)
	{
		fprintf(stderr, "    config: %s\n", err->msg);
		return NULL;
	}
	if (!maas_net_build(net, cfg, f, true, err))
		return NULL;
	return net;
}

float *
tw_run(const MaasNet *net, const MaasBlas *blas, int n, const float *x)
{
	size_t		nf;
	float	   *work;
	const float *y;
	float	   *out;

	CHECK(maas_net_workspace(net, n, 1, &nf));
	work = maas_kalloc_array(nf, sizeof(float));
	y = maas_net_forward(net, blas, n, x, work);
	CHECK(y != NULL);
	out = maas_kalloc_array((size_t) n * net->n_out, sizeof(float));
	if (y != NULL)
		memcpy(out, y, sizeof(float) * (size_t) n * net->n_out);
	return out;
}
