/*
 * test_ops_quant.c
 *		Unit tests of the dense layer's stored quantized weights
 *		(ops_core.c, doc/optimization.md): an I8 weight tensor with an F32
 *		scale per output channel runs through gemm_s8 and gives exactly
 *		what maas_dense gives for the same int8 weights (one row and a
 *		batch, packed or not), close to the float32 layer; a BF16 tensor
 *		runs as bf16, close to float32; damaged or inconsistent tensors are
 *		refused when the net is built, with their message.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_build.h"
#include "quantize.h"
#include "safetensors.h"
#include "unit.h"

static const MaasBlas *blas;
static unsigned int seed = 4242;

#define N_OUT	96
#define N_IN	40
#define ROWS	7

static float
frand(void)
{
	seed = seed * 1103515245u + 12345u;
	return ((float) ((seed >> 8) & 0xffff) / 65536.0f) * 2.0f - 1.0f;
}

static MaasNet *
build(const char *config, const uint8_t *buf, size_t len, MaasError *err)
{
	StFile	   *f = maas_kalloc(sizeof(StFile));
	MaasJson   *c;
	MaasNet    *net = maas_kalloc(sizeof(MaasNet));

	if (!st_parse(buf, len, f, err))
		return NULL;
	c = maas_json_parse(config, strlen(config), 0, NULL, err);
	CHECK(c != NULL);
	if (c == NULL || !maas_net_build(net, c, f, true, err))
		return NULL;
	return net;
}

static float *
run(const MaasNet *net, int n, const float *x)
{
	size_t		nf;
	float	   *work;
	float	   *out;
	const float *y;
	MaasBatch	b;
	MaasError	err;

	CHECK(maas_net_workspace(net, n, 1, &nf));
	work = maas_kalloc(sizeof(float) * (nf > 0 ? nf : 1));
	memset(&b, 0, sizeof(b));
	b.n = n;
	b.t = 1;
	b.x = x;
	y = maas_net_run(net, blas, &b, 0, work, &err);
	CHECK(y != NULL);
	out = maas_kalloc(sizeof(float) * n * net->n_out);
	memcpy(out, y, sizeof(float) * n * net->n_out);
	return out;
}

typedef struct Fixture
{
	float		w[N_OUT * N_IN];
	float		b[N_OUT];
	float		x[ROWS * N_IN];
	MaasWeights q;
	uint16_t	h[N_OUT * N_IN];
} Fixture;

static Fixture fx;

static void
make_fixture(void)
{
	MaasError	err;

	for (int i = 0; i < N_OUT * N_IN; i++)
		fx.w[i] = frand() * 0.5f;
	for (int i = 0; i < N_OUT; i++)
		fx.b[i] = frand();
	for (int i = 0; i < ROWS * N_IN; i++)
		fx.x[i] = frand() * 3.0f;
	CHECK(maas_quantize_weights_s8(fx.w, N_OUT, N_IN, &fx.q, &err));
	maas_f32_to_bf16_n(fx.w, N_OUT * N_IN, fx.h);
}

/* the weights as a file: F32 "w", I8 "w.int8", F32 "w.scale", BF16 "w.bf16", "b" */
static uint8_t *
write_file(const float *scale, size_t *len)
{
	static int64_t s2[2] = {N_OUT, N_IN},
				s1[1] = {N_OUT},
				s2t[2] = {N_IN, N_OUT};
	StWriteTensor t[6] = {
		{"w", ST_F32, 2, s2, fx.w},
		{"b", ST_F32, 1, s1, fx.b},
		{"w.scale", ST_F32, 1, s1, scale},
		{"w.bf16", ST_BF16, 2, s2, fx.h},
		{"w.bf16t", ST_BF16, 2, s2t, fx.h},
		{"w.int8", ST_I8, 2, s2, fx.q.data},
	};
	MaasError	err;
	uint8_t    *buf = st_write(t, 6, NULL, NULL, 0, len, &err);

	CHECK(buf != NULL);
	return buf;
}

#define DENSE(w, extra) \
	"{\"n_features\": 40, \"layers\": [{\"op\": \"dense\", \"weight\": \"" w "\", \"bias\": \"b\"" extra "}]}"

static void
test_int8(void)
{
	size_t		len;
	uint8_t    *buf;
	MaasError	err;
	MaasNet    *f32,
			   *s8;
	float	   *yf,
			   *yq,
			   *y1,
			   *ref;

	make_fixture();
	buf = write_file(fx.q.scale, &len);
	f32 = build(DENSE("w", ""), buf, len, &err);
	s8 = build(DENSE("w.int8", ", \"scale\": \"w.scale\""), buf, len, &err);
	CHECK(f32 != NULL && s8 != NULL);
	if (f32 == NULL || s8 == NULL)
		return;
	CHECK(s8->layers[0].wt.type == MAAS_W_S8 && s8->layers[0].w == NULL);
	CHECK(s8->n_out == N_OUT);

	/* exactly the backend's int8 product, batch and one row */
	ref = maas_kalloc(sizeof(float) * ROWS * N_OUT);
	CHECK(maas_dense(blas, &s8->layers[0].wt, ROWS, fx.x, N_IN, fx.b, ref, N_OUT, &err));
	yq = run(s8, ROWS, fx.x);
	CHECK(memcmp(yq, ref, sizeof(float) * ROWS * N_OUT) == 0);
	for (int r = 0; r < ROWS; r++)
	{
		y1 = run(s8, 1, fx.x + r * N_IN);
		CHECK(memcmp(y1, ref + r * N_OUT, sizeof(float) * N_OUT) == 0);
	}

	/* close to float32: weights within scale / 2, activations within range / 510 */
	yf = run(f32, ROWS, fx.x);
	for (int r = 0; r < ROWS; r++)
	{
		float		lo = 0,
					hi = 0;

		for (int i = 0; i < N_IN; i++)
		{
			lo = fminf(lo, fx.x[r * N_IN + i]);
			hi = fmaxf(hi, fx.x[r * N_IN + i]);
		}
		for (int j = 0; j < N_OUT; j++)
		{
			double		bound = 0;

			for (int i = 0; i < N_IN; i++)
				bound += fabs(fx.x[r * N_IN + i]) * fx.q.scale[j] * 0.5 +
					fabs(fx.w[j * N_IN + i]) * (hi - lo) / 510.0 * 1.01;
			CHECK(fabs(yq[r * N_OUT + j] - yf[r * N_OUT + j]) <= bound + 1e-5);
		}
	}

	/* packed for the backend, the same numbers */
	CHECK(maas_net_pack(s8, blas, &err));
	y1 = run(s8, ROWS, fx.x);
	CHECK(memcmp(y1, ref, sizeof(float) * ROWS * N_OUT) == 0);
}

/*
 * A dense layer and the relu after it run as one step (net.c, the int8
 * dequantization taking the relu): the same bits as the two layers apart,
 * which they are when the dense output is read by another layer too, or
 * asked for as the target; for int8 and float32 weights, a batch and one
 * row.
 */
#define CHAIN \
	"{\"n_features\": 40, \"layers\": [{\"op\": \"dense\", \"name\": \"d\", \"weight\": \"%s\", " \
	"\"bias\": \"b\"%s}, {\"op\": \"relu\", \"name\": \"r\"}%s]}"

static void
test_fused_relu(void)
{
	static const char *const weights[2][2] = {{"w", ""}, {"w.int8", ", \"scale\": \"w.scale\""}};
	size_t		len;
	uint8_t    *buf;
	MaasError	err;

	make_fixture();
	buf = write_file(fx.q.scale, &len);
	for (int t = 0; t < 2; t++)
	{
		char		fused[512],
					apart[512],
					dense[512];
		MaasNet    *nf,
				   *na,
				   *nd;

		/* apart: the dense value is read by the relu and by an add after it */
		snprintf(fused, sizeof(fused), CHAIN, weights[t][0], weights[t][1], "");
		snprintf(apart, sizeof(apart), CHAIN, weights[t][0], weights[t][1],
				 ", {\"op\": \"add\", \"input\": [\"r\", \"d\"]}");
		snprintf(dense, sizeof(dense),
				 "{\"n_features\": 40, \"layers\": [{\"op\": \"dense\", \"weight\": \"%s\", "
				 "\"bias\": \"b\"%s}]}", weights[t][0], weights[t][1]);
		nf = build(fused, buf, len, &err);
		na = build(apart, buf, len, &err);
		nd = build(dense, buf, len, &err);
		CHECK(nf != NULL && na != NULL && nd != NULL);
		if (nf == NULL || na == NULL || nd == NULL)
			continue;
		for (int packed = 0; packed < 2; packed++)
		{
			float	   *yf,
					   *ya;
			size_t		nw;
			float	   *work;
			MaasBatch	b;
			const float *v;

			if (packed)
				CHECK(maas_net_pack(nf, blas, &err) && maas_net_pack(na, blas, &err) &&
					  maas_net_pack(nd, blas, &err));
			yf = run(nf, ROWS, fx.x);
			/* na's value 2 is the relu's, computed from the dense value apart */
			CHECK(maas_net_workspace(na, ROWS, 1, &nw));
			work = maas_kalloc(sizeof(float) * nw);
			memset(&b, 0, sizeof(b));
			b.n = ROWS;
			b.t = 1;
			b.x = fx.x;
			v = maas_net_run(na, blas, &b, 2, work, &err);
			CHECK(v != NULL);
			if (v == NULL)
				continue;
			ya = maas_kalloc(sizeof(float) * ROWS * N_OUT);
			memcpy(ya, v, sizeof(float) * ROWS * N_OUT);
			CHECK(memcmp(yf, ya, sizeof(float) * ROWS * N_OUT) == 0);
			/* and the dense layer alone, relu'd here */
			{
				float	   *yd = run(nd, ROWS, fx.x);

				for (int i = 0; i < ROWS * N_OUT; i++)
				{
					float		e = yd[i] > 0.0f ? yd[i] : 0.0f;

					CHECK(memcmp(&e, &yf[i], sizeof(float)) == 0);
				}
			}
			/* one row (float32's one-row kernel rounds its own way) */
			for (int r = 0; r < ROWS; r++)
			{
				float	   *y1 = run(nf, 1, fx.x + r * N_IN);
				float	   *d1 = run(nd, 1, fx.x + r * N_IN);

				for (int j = 0; j < N_OUT; j++)
					d1[j] = d1[j] > 0.0f ? d1[j] : 0.0f;
				CHECK(memcmp(y1, d1, sizeof(float) * N_OUT) == 0);
				if (t == 1)
					CHECK(memcmp(y1, yf + r * N_OUT, sizeof(float) * N_OUT) == 0);
			}
		}
	}
}

static void
test_bf16(void)
{
	size_t		len;
	uint8_t    *buf;
	MaasError	err;
	MaasNet    *f32,
			   *h,
			   *ht;
	float	   *yf,
			   *yh,
			   *yt;

	make_fixture();
	buf = write_file(fx.q.scale, &len);
	f32 = build(DENSE("w", ""), buf, len, &err);
	h = build(DENSE("w.bf16", ""), buf, len, &err);
	/* a BF16 tensor in GPT-2's [in, out] layout is widened to float32 */
	ht = build(DENSE("w.bf16t", ", \"layout\": \"in_out\""), buf, len, &err);
	CHECK(f32 != NULL && h != NULL && ht != NULL);
	if (f32 == NULL || h == NULL || ht == NULL)
		return;
	CHECK(h->layers[0].wt.type == MAAS_W_BF16 && h->layers[0].w == NULL);
	CHECK(ht->layers[0].w != NULL);
	yf = run(f32, ROWS, fx.x);
	yh = run(h, ROWS, fx.x);
	yt = run(ht, 1, fx.x);
	for (int i = 0; i < ROWS * N_OUT; i++)
		CHECK(fabsf(yh[i] - yf[i]) <= 0.05f);
	CHECK(yt != NULL);
	for (int r = 0; r < ROWS; r++)
	{
		float	   *y1 = run(h, 1, fx.x + r * N_IN);

		for (int j = 0; j < N_OUT; j++)
			CHECK(fabsf(y1[j] - yf[r * N_OUT + j]) <= 0.05f);
	}
}

static void
test_refused(void)
{
	size_t		len;
	uint8_t    *buf;
	MaasError	err;
	float		bad[N_OUT];

	make_fixture();
	buf = write_file(fx.q.scale, &len);
	CHECK_ERR(build(DENSE("w.int8", ""), buf, len, &err) != NULL, err.msg,
			  "int8 tensor \"w.int8\" needs \"scale\"");
	CHECK_ERR(build(DENSE("w.int8", ", \"scale\": \"b.missing\""), buf, len, &err) != NULL, err.msg,
			  "names tensor \"b.missing\", which is not in the weights");
	CHECK_ERR(build(DENSE("w.int8", ", \"scale\": \"w\""), buf, len, &err) != NULL, err.msg,
			  "needs tensor \"w\" of shape [96]");
	CHECK_ERR(build(DENSE("w", ", \"scale\": \"w.scale\""), buf, len, &err) != NULL, err.msg,
			  "\"scale\" goes only with an int8 weight tensor");
	CHECK_ERR(build(DENSE("w.bf16", ", \"scale\": \"w.scale\""), buf, len, &err) != NULL, err.msg,
			  "\"scale\" goes only with an int8 weight tensor");
	CHECK_ERR(build(DENSE("w.int8", ", \"scale\": \"w.scale\", \"layout\": \"in_out\""), buf, len, &err) != NULL,
			  err.msg, "of dtype I8 needs \"layout\" \"out_in\"");
	CHECK_ERR(build("{\"n_features\": 41, \"layers\": [{\"op\": \"dense\", \"weight\": \"w.int8\", \"scale\": \"w.scale\"}]}",
					buf, len, &err) != NULL, err.msg, "needs tensor \"w.int8\" of shape [?, 41]");

	/* a negative scale */
	memcpy(bad, fx.q.scale, sizeof(bad));
	bad[5] = -1.0f;
	buf = write_file(bad, &len);
	CHECK_ERR(build(DENSE("w.int8", ", \"scale\": \"w.scale\""), buf, len, &err) != NULL, err.msg,
			  "scale of output channel 5 is not a finite non-negative number");
	/* a NaN among the bf16 weights */
	fx.h[17] = 0x7fc0;
	buf = write_file(fx.q.scale, &len);
	CHECK_ERR(build(DENSE("w.bf16", ""), buf, len, &err) != NULL, err.msg,
			  "Tensor \"w.bf16\" holds NaN or infinite values");
}

int
main(void)
{
	char		err[256];

	blas = maas_blas_load(NULL, 1, err, sizeof(err));
	if (blas == NULL)
	{
		fprintf(stderr, "cannot load BLAS: %s\n", err);
		return 1;
	}
	UNIT_RUN(test_int8);
	UNIT_RUN(test_fused_relu);
	UNIT_RUN(test_bf16);
	UNIT_RUN(test_refused);
	return unit_finish("ops_quant");
}
