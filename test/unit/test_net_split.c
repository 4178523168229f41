/*
 * test_net_split.c
 *		A batch's forward pass in blocks of rows shared by two threads
 *		(net_split.c), as the batch pipeline's joined path runs it: the
 *		outputs are the whole batch's maas_net_run bit for bit, for batches
 *		of 1 row, odd sizes, 1024 and 10,000 rows, whichever thread takes
 *		which block (one taker alone, two threads at once), and after a stop by the interrupt flag and a resume; and
 *		no block has one row but a batch of one row.  On oneDNN's matmul
 *		(maas.gemm_backend auto, what the pipeline joins on) when it is
 *		installed, else on what the machine has.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_split.h"
#include "net_testutil.h"
#include "threads.h"
#include "unit.h"

static MaasError err;
static uint64_t rng = 2718;

/*
 * LeakSanitizer's scan of a thread's dynamic TLS faults at exit once
 * oneDNN's matmul has run on a thread other than the main one (its
 * thread_local scratch, in a dlopen()ed library): the leak check skips TLS
 * here, which holds no pointer of ours; what the libraries then seem to
 * leak (OpenMP's and the dynamic loader's, held in TLS) is theirs.
 */
const char *__lsan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_options(void)
{
	return "use_tls=0";
}

const char *
__lsan_default_suppressions(void)
{
	return "leak:libgomp.so\nleak:_dlerror_run\nleak:_dl_exception_create\n";
}

static float *
rand_floats(size_t n)
{
	float	   *v = maas_kalloc_array(n > 0 ? n : 1, sizeof(float));

	for (size_t i = 0; i < n; i++)
		v[i] = (float) (2.0 * unit_urand(&rng) - 1.0) * 0.1f;
	return v;
}

/* the benchmark's shape: 784-512-10, relu, softmax; packed as a model is */
static MaasNet *
mlp(const MaasBlas *blas)
{
	TestWeights w = {0};
	MaasNet    *net;

	tw_add(&w, rand_floats, "fc1.weight", 2, 512, 784, 0, 0);
	tw_add(&w, rand_floats, "fc1.bias", 1, 512, 0, 0, 0);
	tw_add(&w, rand_floats, "fc2.weight", 2, 10, 512, 0, 0);
	tw_add(&w, rand_floats, "fc2.bias", 1, 10, 0, 0, 0);
	net = tw_build("{\"n_features\": 784, \"layers\": ["
				   "{\"op\": \"dense\", \"weight\": \"fc1.weight\", \"bias\": \"fc1.bias\"},"
				   "{\"op\": \"relu\"},"
				   "{\"op\": \"dense\", \"weight\": \"fc2.weight\", \"bias\": \"fc2.bias\"},"
				   "{\"op\": \"softmax\"}]}", &w, &err);
	if (net != NULL)
		CHECK(maas_net_pack(net, blas, &err));
	return net;
}

typedef struct Takers
{
	MaasNetSplit *s;
	float	   *work[2];
	bool		ok[2];
} Takers;

/* part t of maas_parallel: taker t (the caller is 0, a pool thread 1) */
static void
take_part(void *arg, int t, int m)
{
	Takers	   *k = arg;

	(void) m;
	k->ok[t] = maas_net_split_take(k->s, t, k->work[t], NULL);
}

static void
test_blocks(void)
{
	MaasNetSplit s;
	MaasNet		net = {.n_in = 1, .n_out = 1};
	static const int sizes[][3] = {
		/* rows, block, blocks */
		{1, 128, 1}, {7, 128, 1}, {128, 128, 1}, {129, 128, 1}, {255, 128, 1},
		{256, 128, 2}, {1024, 128, 8}, {1025, 128, 8}, {10000, 128, 78}
	};

	for (int i = 0; i < (int) (sizeof(sizes) / sizeof(sizes[0])); i++)
	{
		maas_net_split_init(&s, &net, NULL, sizes[i][0], NULL, NULL, sizes[i][1]);
		CHECK(s.n_blocks == sizes[i][2]);
		/* the last block has the rest: between block and 2 * block - 1 rows */
		CHECK(sizes[i][0] < sizes[i][1] ||
			  (sizes[i][0] - (s.n_blocks - 1) * s.block >= s.block &&
			   sizes[i][0] - (s.n_blocks - 1) * s.block <= 2 * s.block - 1));
	}
}

static void
test_same_bits(void)
{
	MaasBlasConfig config = {.threads = 1};
	const MaasBlas *blas = maas_blas_open(&config, &err);
	MaasNet    *net;
	static const int sizes[] = {1, 7, 129, 1023, 1024, 10000};
	size_t		nwork;
	float	   *work0,
			   *work1;

	CHECK(blas != NULL);
	if (blas == NULL)
		return;
	printf("    gemm_f32 rows: %s %s\n", maas_blas_info(false)->ops[MAAS_GEMM_F32_ROWS].backend,
		   maas_blas_info(false)->ops[MAAS_GEMM_F32_ROWS].kernel);
	net = mlp(blas);
	CHECK(net != NULL);
	if (net == NULL)
		return;
	CHECK(maas_net_split_workspace(net, 10000, MAAS_SPLIT_BLOCK, &nwork));
	work0 = maas_kalloc_array(nwork, sizeof(float));
	work1 = maas_kalloc_array(nwork, sizeof(float));
	for (int i = 0; i < (int) (sizeof(sizes) / sizeof(sizes[0])); i++)
	{
		int			n = sizes[i];
		float	   *x = rand_floats((size_t) n * 784);
		float	   *want = tw_run(net, blas, n, x);
		size_t		bytes = sizeof(float) * (size_t) n * 10;
		float	   *y = maas_kalloc_array((size_t) n * 10, sizeof(float));
		MaasNetSplit s;
		Takers		k = {.s = &s, .work = {work0, work1}, .ok = {true, true}};
		volatile sig_atomic_t flag = 0;

		/* the backend's thread alone */
		memset(y, 0, bytes);
		maas_net_split_init(&s, net, blas, n, x, y, MAAS_SPLIT_BLOCK);
		CHECK(maas_net_split_take(&s, 0, work0, NULL));
		CHECK(maas_net_split_done(&s));
		CHECK(memcmp(y, want, bytes) == 0);

		/* the worker first, the caller joining: two threads at once */
		memset(y, 0, bytes);
		maas_net_split_init(&s, net, blas, n, x, y, MAAS_SPLIT_BLOCK);
		maas_parallel(2, take_part, &k);
		CHECK(k.ok[0] && k.ok[1]);
		CHECK(maas_net_split_done(&s));
		CHECK(s.taken[0] + s.taken[1] == s.n_blocks);
		CHECK(memcmp(y, want, bytes) == 0);

		/* an interrupt stops both; resumed, the rest gives the same bits */
		memset(y, 0, bytes);
		maas_net_split_init(&s, net, blas, n, x, y, MAAS_SPLIT_BLOCK);
		flag = 1;
		CHECK(maas_net_split_take(&s, 0, work0, &flag));
		CHECK(s.stop && s.finished == 0);
		CHECK(maas_net_split_take(&s, 1, work1, NULL));
		CHECK(s.finished == 0 && !maas_net_split_done(&s));
		maas_net_split_resume(&s);
		maas_parallel(2, take_part, &k);
		CHECK(maas_net_split_done(&s));
		CHECK(memcmp(y, want, bytes) == 0);
	}
}

int
main(void)
{
	UNIT_RUN(test_blocks);
	UNIT_RUN(test_same_bits);
	return unit_finish("net_split");
}
