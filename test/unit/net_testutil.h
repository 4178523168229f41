/*
 * net_testutil.h
 *		Nets of the runtime made from a config and random weights, for the
 *		unit tests of layers (net_testutil.c).
 */
#ifndef MAAS_NET_TESTUTIL_H
#define MAAS_NET_TESTUTIL_H

#include "net_build.h"
#include "safetensors.h"
#include "unit.h"

#define TW_MAX_TENSORS 16

/* the tensors of a net to be: names, shapes and their float32 data */
typedef struct TestWeights
{
	int			n;
	StWriteTensor t[TW_MAX_TENSORS];
	int64_t		shapes[TW_MAX_TENSORS][4];
} TestWeights;

/*
 * Add tensor name of ndim dimensions (d0.. d3; the unused ones ignored),
 * its data from fill(number of elements); returns the data
 */
extern float *tw_add(TestWeights *w, float *(*fill) (size_t n), const char *name,
					 int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

/*
 * The net config makes over w, or NULL with err set (a bad file or config,
 * which is the test's own mistake, is also printed)
 */
extern MaasNet *tw_build(const char *config, const TestWeights *w, MaasError *err);

/* the net's output for n rows of x, in a copy (checked to run) */
extern float *tw_run(const MaasNet *net, const MaasBlas *blas, int n, const float *x);

#endif							/* MAAS_NET_TESTUTIL_H */
