/*
 * st_testutil.c
 *		Helpers of the safetensors unit tests (test_safetensors.c and
 *		test_safetensors_errors.c): files made by hand, and checks of what
 *		the reader promises.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_testutil.h"

MaasError	kerr;

/* a file of the given header length field, header text and data bytes */
uint8_t *
mkfile_raw(uint64_t hlen, const void *json, size_t jlen, size_t dlen,
		   size_t *len)
{
	uint8_t    *buf;
	size_t		i;

	*len = 8 + jlen + dlen;
	buf = maas_kalloc(*len);
	if (buf == NULL)
		abort();
	for (i = 0; i < 8; i++)
		buf[i] = (uint8_t) (hlen >> (8 * i));
	memcpy(buf + 8, json, jlen);
	for (i = 0; i < dlen; i++)
		buf[8 + jlen + i] = (uint8_t) (i * 7 + 1);
	return buf;
}

uint8_t *
mkfile(const char *json, size_t dlen, size_t *len)
{
	return mkfile_raw(strlen(json), json, strlen(json), dlen, len);
}

bool
parse_json(const char *json, size_t dlen, StFile *f)
{
	size_t		len;
	uint8_t    *buf = mkfile(json, dlen, &len);

	return st_parse(buf, len, f, &kerr);
}

bool
parse_json_n(const char *json, size_t jlen, size_t dlen, StFile *f)
{
	size_t		len;
	uint8_t    *buf = mkfile_raw(jlen, json, jlen, dlen, &len);

	return st_parse(buf, len, f, &kerr);
}

/* does buf[0 .. n) contain the text needle? */
bool
contains(const uint8_t *buf, size_t n, const char *needle)
{
	size_t		k = strlen(needle);
	size_t		i;

	for (i = 0; i + k <= n; i++)
	{
		if (memcmp(buf + i, needle, k) == 0)
			return true;
	}
	return false;
}

uint32_t
f32_bits(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

bool
utf8_ok(const char *s)
{
	const uint8_t *p = (const uint8_t *) s;

	while (*p)
	{
		int			n = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
		int			i;

		if (*p >= 0x80 && *p < 0xC2)
			return false;
		for (i = 1; i < n; i++)
		{
			if ((p[i] & 0xC0) != 0x80)
				return false;
		}
		p += n;
	}
	return true;
}

/*
 * Everything a successful parse promises: tensors inside the buffer, in
 * order of offset, tiling the data region exactly, sizes consistent.
 */
bool
file_consistent(const uint8_t *buf, size_t len, const StFile *f)
{
	size_t		pos = 8 + f->header_len;
	int			i;

	if (f->header_len == 0 || f->header_len > len - 8)
		return false;
	if (f->n_tensors < 0 || f->n_meta < 0)
		return false;
	for (i = 0; i < f->n_tensors; i++)
	{
		const StTensor *t = &f->tensors[i];
		int64_t		numel = 1;
		int			d;

		if (t->name == NULL || !utf8_ok(t->name))
			return false;
		if (t->ndim < 0 || t->ndim > ST_MAX_DIMS)
			return false;
		if ((int) t->dtype < 0 || (int) t->dtype >= N_DTYPES)
			return false;
		for (d = 0; d < t->ndim; d++)
		{
			if (t->shape[d] < 0 ||
				__builtin_mul_overflow(numel, t->shape[d], &numel))
				numel = -1;
			if (numel < 0)
				return false;
		}
		if (numel != t->numel)
			return false;
		if ((uint64_t) t->numel * st_dtype_size(t->dtype) != t->nbytes)
			return false;
		if (t->offset != pos || t->offset > len || t->nbytes > len - t->offset)
			return false;
		if (t->data != buf + t->offset)
			return false;
		/* st_find is a linear search: sample it in big files */
		if ((f->n_tensors <= 512 || i % 997 == 0) && st_find(f, t->name) != t)
			return false;
		pos += t->nbytes;
	}
	if (pos != len)
		return false;
	for (i = 0; i < f->n_meta; i++)
	{
		if (f->meta_keys[i] == NULL || f->meta_values[i] == NULL ||
			!utf8_ok(f->meta_keys[i]) || !utf8_ok(f->meta_values[i]))
			return false;
		if (strcmp(st_meta(f, f->meta_keys[i]), f->meta_values[i]) != 0)
			return false;
	}
	return true;
}

/* convert every floating tensor; true if nothing went wrong */
bool
convert_all(const StFile *f)
{
	int			i;

	for (i = 0; i < f->n_tensors; i++)
	{
		const StTensor *t = &f->tensors[i];
		bool		floating = t->dtype == ST_F32 || t->dtype == ST_F64 ||
			t->dtype == ST_F16 || t->dtype == ST_BF16;
		float	   *dst = malloc(((size_t) t->numel + 1) * sizeof(float));
		bool		ok;

		if (dst == NULL)
			return false;
		ok = st_to_f32(t, dst);
		free(dst);
		if (ok != floating)
			return false;
	}
	return true;
}

bool
tensors_equal(const StFile *a, const StFile *b)
{
	int			i;

	if (a->n_tensors != b->n_tensors || a->n_meta != b->n_meta)
		return false;
	for (i = 0; i < a->n_tensors; i++)
	{
		const StTensor *x = &a->tensors[i];
		const StTensor *y = &b->tensors[i];

		if (strcmp(x->name, y->name) != 0 || x->dtype != y->dtype ||
			x->ndim != y->ndim || x->nbytes != y->nbytes ||
			x->numel != y->numel ||
			memcmp(x->shape, y->shape, (size_t) x->ndim * sizeof(int64_t)) != 0 ||
			(x->nbytes > 0 && memcmp(x->data, y->data, x->nbytes) != 0))
			return false;
	}
	for (i = 0; i < a->n_meta; i++)
	{
		if (strcmp(a->meta_keys[i], b->meta_keys[i]) != 0 ||
			strcmp(a->meta_values[i], b->meta_values[i]) != 0)
			return false;
	}
	return true;
}

/* write a parsed file back; the result parses to the same thing */
uint8_t *
rewrite(const StFile *f, size_t *len)
{
	StWriteTensor *wt = st_tensors_for_write(f, false, &kerr);

	if (wt == NULL)
		return NULL;
	return st_write(wt, f->n_tensors,
					(const char *const *) f->meta_keys,
					(const char *const *) f->meta_values, f->n_meta,
					len, &kerr);
}

/*
 * A parsed file written back parses to the same tensors and metadata, with
 * its header padded to a multiple of 8 bytes, and writes back to the same
 * bytes.
 */
bool
round_trips(const StFile *f)
{
	size_t		len1;
	size_t		len2;
	uint8_t    *out1;
	uint8_t    *out2;
	StFile		g;
	StFile		h;

	out1 = rewrite(f, &len1);
	if (out1 == NULL || !st_parse(out1, len1, &g, &kerr) ||
		!file_consistent(out1, len1, &g) || !tensors_equal(f, &g) ||
		g.header_len % 8 != 0)
		return false;
	out2 = rewrite(&g, &len2);
	if (out2 == NULL || len1 != len2 || memcmp(out1, out2, len1) != 0)
		return false;
	if (!st_parse(out2, len2, &h, &kerr) || !tensors_equal(&g, &h))
		return false;
	return true;
}

/* g, parsed from the header alone, has f's tensors (without data unless whole) */
static bool
same_header(const StFile *f, const StFile *g, bool whole)
{
	if (f->n_tensors != g->n_tensors || f->n_meta != g->n_meta ||
		f->header_len != g->header_len)
		return false;
	for (int i = 0; i < f->n_tensors; i++)
	{
		const StTensor *x = &f->tensors[i];
		const StTensor *y = &g->tensors[i];

		if (strcmp(x->name, y->name) != 0 || x->dtype != y->dtype ||
			x->ndim != y->ndim || x->numel != y->numel ||
			x->offset != y->offset || x->nbytes != y->nbytes ||
			(y->data != NULL) != whole ||
			memcmp(x->shape, y->shape, (size_t) x->ndim * sizeof(int64_t)) != 0)
			return false;
	}
	for (int i = 0; i < f->n_meta; i++)
		if (strcmp(f->meta_keys[i], g->meta_keys[i]) != 0 ||
			strcmp(f->meta_values[i], g->meta_values[i]) != 0)
			return false;
	return true;
}

/*
 * Reading the file in parts agrees with st_parse(): st_header_size() on
 * its first bytes, then st_parse_header_only() on exactly the bytes it
 * asks for (in a block of that size, so ASan sees a read past them),
 * succeed or fail with the same message as st_parse() on the whole; and a
 * new header from st_write_header() followed by the file's data region is
 * what st_write() writes for it.
 */
bool
header_only_agrees(const uint8_t *buf, size_t len)
{
	MaasError	e1;
	MaasError	e2;
	StFile		f;
	StFile		g;
	size_t		need;
	bool		full;
	bool		ok;
	uint8_t    *head;
	StWriteTensor *wt;
	uint8_t    *hdr;
	uint8_t    *out;
	size_t		hlen;
	size_t		olen;
	uint64_t	dlen;

	full = st_parse(buf, len, &f, &e1);
	if (!st_header_size(buf, len, len, &need, &e2))
		return !full && strcmp(e1.msg, e2.msg) == 0;
	if (need > len)
		return false;
	head = malloc(need);
	if (head == NULL)
		return false;
	memcpy(head, buf, need);
	ok = st_parse_header_only(head, need, len, &g, &e2);
	if (ok != full || (!ok && strcmp(e1.msg, e2.msg) != 0))
	{
		free(head);
		return false;
	}
	if (!ok)
	{
		free(head);
		return g.n_tensors == 0 && g.tensors == NULL;
	}
	ok = same_header(&f, &g, need == len) &&
		!st_parse_header_only(head, need - 1, len, &g, &e2) &&
		st_parse_header_only(head, need, len, &g, &e2);
	free(head);
	if (!ok)
		return false;

	wt = st_tensors_for_write(&g, false, &kerr);
	if (wt == NULL)
		return false;
	hdr = st_write_header(wt, g.n_tensors, (const char *const *) g.meta_keys,
						  (const char *const *) g.meta_values, g.n_meta,
						  &hlen, &dlen, &kerr);
	out = rewrite(&f, &olen);
	return hdr != NULL && out != NULL && dlen == len - need &&
		olen == hlen + (size_t) dlen && memcmp(out, hdr, hlen) == 0 &&
		memcmp(out + hlen, buf + need, (size_t) dlen) == 0;
}

/* a small file with a bit of everything, for truncation and mutation */
uint8_t *
sample_file(size_t *len)
{
	static const float w[6] = {1, -2, 0.5f, 3, 4, 1e-3f};
	static const uint16_t h[2] = {0x3C00, 0x0001};
	static const uint8_t flags[3] = {1, 0, 1};
	static const int64_t s23[2] = {2, 3};
	static const int64_t s2[1] = {2};
	static const int64_t s3[1] = {3};
	StWriteTensor t[4] = {
		{"w\"\\\x01\xc3\xa9", ST_F32, 2, s23, w},
		{"h", ST_F16, 1, s2, h},
		{"flags", ST_BOOL, 1, s3, flags},
		{"scalar", ST_F64, 0, NULL, NULL},
	};
	const char *keys[2] = {"format", "k\xc3\xa9y"};
	const char *values[2] = {"pt", "v"};
	double		one = 1.0;

	t[3].data = &one;
	return st_write(t, 4, keys, values, 2, len, &kerr);
}


