/*
 * net_util.c
 *		What the layer runtime's callers use beside the forward pass
 *		(net.h): the KV cache of a text model's attention layers, finding a
 *		layer by name and a value's op, and the small vector helpers
 *		(argmax, softmax, the finite check).
 */
#include "net_ops.h"

#include <math.h>
#include <string.h>

bool
maas_kv_cache_bytes(const MaasNet *net, int n_rows, int n_ctx, size_t *bytes)
{
	size_t		total = 0;

	if (n_rows <= 0 || n_ctx <= 0)
		return false;
	for (int i = 0; i < net->n_layers; i++)
	{
		const MaasLayer *l = &net->layers[i];
		size_t		one;

		if (l->cache_slot < 0)
			continue;
		if (!maas_mul_size((size_t) n_rows * (size_t) n_ctx, (size_t) l->shape.width, &one) ||
			!maas_mul_size(one, 2 * sizeof(float), &one) ||
			!maas_add_size(total, one, &total))
			return false;
	}
	*bytes = total;
	return true;
}

MaasKvCache *
maas_kv_cache_new(const MaasNet *net, int n_rows, int n_ctx, MaasError *err)
{
	MaasKvCache *c;
	size_t		bytes;

	if (!maas_kv_cache_bytes(net, n_rows, n_ctx, &bytes))
	{
		maas_error(err, MAAS_ERR_LIMIT, "a KV cache of %d rows of %d positions is too large",
				   n_rows, n_ctx);
		return NULL;
	}
	c = maas_kalloc(sizeof(MaasKvCache));
	if (c == NULL)
		goto nomem;
	c->n_rows = n_rows;
	c->n_ctx = n_ctx;
	c->n_slots = net->n_caches;
	c->k = maas_kalloc_array((size_t) net->n_caches + 1, sizeof(float *));
	c->v = maas_kalloc_array((size_t) net->n_caches + 1, sizeof(float *));
	c->width = maas_kalloc_array((size_t) net->n_caches + 1, sizeof(int));
	if (c->k == NULL || c->v == NULL || c->width == NULL)
		goto nomem;
	for (int i = 0; i < net->n_layers; i++)
	{
		const MaasLayer *l = &net->layers[i];
		size_t		n = (size_t) n_rows * (size_t) n_ctx * (size_t) l->shape.width;
		int			s = l->cache_slot;

		if (s < 0)
			continue;
		c->width[s] = l->shape.width;
		c->k[s] = maas_kalloc_array(n, sizeof(float));
		c->v[s] = maas_kalloc_array(n, sizeof(float));
		if (c->k[s] == NULL || c->v[s] == NULL)
			goto nomem;
	}
	return c;

nomem:
	maas_error_nomem(err);
	return NULL;
}

int
maas_net_find(const MaasNet *net, const char *name)
{
	for (int i = 0; i < net->n_layers; i++)
		if (net->layers[i].name != NULL && strcmp(net->layers[i].name, name) == 0)
			return i + 1;
	return -1;
}

MaasOp
maas_net_value_op(const MaasNet *net, int value)
{
	if (value <= 0 || value > net->n_layers)
		return MAAS_N_OPS;
	return net->layers[value - 1].op;
}

int
maas_argmax(const float *v, int n)
{
	int			best = 0;

	for (int j = 1; j < n; j++)
		if (v[j] > v[best])
			best = j;
	return best;
}

void
maas_softmax(float *v, int n)
{
	float		max = v[0];
	float		sum = 0.0f;

	for (int j = 1; j < n; j++)
		if (v[j] > max)
			max = v[j];
	for (int j = 0; j < n; j++)
	{
		v[j] = expf(v[j] - max);
		sum += v[j];
	}
	for (int j = 0; j < n; j++)
		v[j] /= sum;
}

/*
 * A float is finite unless its exponent bits are all ones.  The bits of
 * every element are or-ed together without a branch (GCC's vector
 * extension: SSE on any x86-64), since the serving path runs this over
 * every row's features and they are nearly always finite.
 */
typedef uint32_t v4su __attribute__((vector_size(16)));

bool
maas_all_finite(const float *v, size_t n)
{
	const v4su	exp = {0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u};
	v4su		bad0 = {0},
				bad1 = {0};
	uint32_t	bad;
	size_t		j = 0;

	for (; j + 8 <= n; j += 8)
	{
		v4su		u0,
					u1;

		memcpy(&u0, v + j, sizeof(u0));
		memcpy(&u1, v + j + 4, sizeof(u1));
		bad0 |= (v4su) ((u0 & exp) == exp);
		bad1 |= (v4su) ((u1 & exp) == exp);
	}
	bad0 |= bad1;
	bad = bad0[0] | bad0[1] | bad0[2] | bad0[3];
	for (; j < n; j++)
		bad |= !isfinite(v[j]);
	return bad == 0;
}
