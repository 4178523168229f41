/*
 * fuzz_safetensors.c
 *		libFuzzer target for the safetensors reader and writer.
 *
 * Each input is parsed; when it parses, every promise of st_parse() is
 * checked (tensors inside the buffer, tiling the data region, sizes
 * consistent), every floating tensor is converted to float32, and the
 * file is written back with st_write(), which must succeed and give a file
 * that parses to the same tensors and metadata and writes back to the same
 * bytes.  A broken promise traps.  Build with "make -C test/unit fuzz".
 */
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "unit.h"

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

static void
check_file(const uint8_t *buf, size_t len, const StFile *f)
{
	size_t		pos = 8 + f->header_len;
	int			i;

	REQUIRE(f->header_len > 0 && f->header_len <= len - 8);
	REQUIRE(f->header_len <= ST_MAX_HEADER);
	for (i = 0; i < f->n_tensors; i++)
	{
		const StTensor *t = &f->tensors[i];
		int64_t		numel = 1;
		int			d;

		REQUIRE(t->name != NULL);
		REQUIRE(t->ndim >= 0 && t->ndim <= ST_MAX_DIMS);
		REQUIRE(st_dtype_size(t->dtype) > 0);
		for (d = 0; d < t->ndim; d++)
		{
			REQUIRE(t->shape[d] >= 0);
			REQUIRE(!__builtin_mul_overflow(numel, t->shape[d], &numel));
		}
		REQUIRE(numel == t->numel);
		REQUIRE((uint64_t) t->numel * st_dtype_size(t->dtype) == t->nbytes);
		REQUIRE(t->offset == pos);
		REQUIRE(t->offset <= len && t->nbytes <= len - t->offset);
		REQUIRE(t->data == buf + t->offset);
		REQUIRE(st_find(f, t->name) == t);
		pos += t->nbytes;
	}
	REQUIRE(pos == len);
	for (i = 0; i < f->n_meta; i++)
		REQUIRE(st_meta(f, f->meta_keys[i]) == f->meta_values[i]);
}

static void
convert(const StFile *f)
{
	int			i;

	for (i = 0; i < f->n_tensors; i++)
	{
		const StTensor *t = &f->tensors[i];
		bool		floating = t->dtype == ST_F32 || t->dtype == ST_F64 ||
			t->dtype == ST_F16 || t->dtype == ST_BF16;
		float	   *dst = malloc(((size_t) t->numel + 1) * sizeof(float));

		REQUIRE(dst != NULL);
		REQUIRE(st_to_f32(t, dst) == floating);
		free(dst);
	}
}

static uint8_t *
rewrite(const StFile *f, size_t *len, MaasError *err)
{
	StWriteTensor *wt = st_tensors_for_write(f, false, err);

	REQUIRE(wt != NULL);
	return st_write(wt, f->n_tensors,
					(const char *const *) f->meta_keys,
					(const char *const *) f->meta_values, f->n_meta,
					len, err);
}

static void
same_file(const StFile *a, const StFile *b)
{
	int			i;

	REQUIRE(a->n_tensors == b->n_tensors && a->n_meta == b->n_meta);
	for (i = 0; i < a->n_tensors; i++)
	{
		const StTensor *x = &a->tensors[i];
		const StTensor *y = &b->tensors[i];

		REQUIRE(strcmp(x->name, y->name) == 0);
		REQUIRE(x->dtype == y->dtype && x->ndim == y->ndim);
		REQUIRE(memcmp(x->shape, y->shape, (size_t) x->ndim * sizeof(int64_t)) == 0);
		REQUIRE(x->nbytes == y->nbytes && x->numel == y->numel);
		REQUIRE(x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0);
	}
	for (i = 0; i < a->n_meta; i++)
	{
		REQUIRE(strcmp(a->meta_keys[i], b->meta_keys[i]) == 0);
		REQUIRE(strcmp(a->meta_values[i], b->meta_values[i]) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MaasError	err;
	StFile		f;
	StFile		g;
	uint8_t    *out1;
	uint8_t    *out2;
	size_t		len1;
	size_t		len2;

	memset(&err, 'x', sizeof(err));
	if (!st_parse(data, size, &f, &err))
	{
		REQUIRE(memchr(err.msg, '\0', sizeof(err.msg)) != NULL && err.msg[0] != '\0');
		REQUIRE(err.status == MAAS_ERR_INVALID || err.status == MAAS_ERR_NOMEM);
		REQUIRE(f.n_tensors == 0 && f.tensors == NULL && f.n_meta == 0);
		arena_reset();
		return 0;
	}
	check_file(data, size, &f);
	convert(&f);

	out1 = rewrite(&f, &len1, &err);
	REQUIRE(out1 != NULL);
	REQUIRE(st_parse(out1, len1, &g, &err));
	check_file(out1, len1, &g);
	same_file(&f, &g);
	REQUIRE(g.header_len % 8 == 0);
	out2 = rewrite(&g, &len2, &err);
	REQUIRE(out2 != NULL && len2 == len1 && memcmp(out1, out2, len1) == 0);

	arena_reset();
	return 0;
}
