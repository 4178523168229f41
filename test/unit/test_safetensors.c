/*
 * test_safetensors.c
 *		Unit tests of src/safetensors.c: valid files of every dtype and
 *		shape, escapes, metadata, the writer and its round trip, conversion
 *		to float32, every error the reader reports, truncated and mutated
 *		files, and out-of-memory paths.
 *
 * Run without arguments to test.  "test_safetensors --corpus DIR" writes
 * a few small valid files into DIR as seeds for the fuzzer, and
 * "--dict FILE" a libFuzzer dictionary.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "unit.h"

#define N_DTYPES 13

static MaasError kerr;


/* ----------------------------------------------------------------
 *		helpers
 * ----------------------------------------------------------------
 */

/* a file of the given header length field, header text and data bytes */
static uint8_t *
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

static uint8_t *
mkfile(const char *json, size_t dlen, size_t *len)
{
	return mkfile_raw(strlen(json), json, strlen(json), dlen, len);
}

static bool
parse_json(const char *json, size_t dlen, StFile *f)
{
	size_t		len;
	uint8_t    *buf = mkfile(json, dlen, &len);

	return st_parse(buf, len, f, &kerr);
}

static bool
parse_json_n(const char *json, size_t jlen, size_t dlen, StFile *f)
{
	size_t		len;
	uint8_t    *buf = mkfile_raw(jlen, json, jlen, dlen, &len);

	return st_parse(buf, len, f, &kerr);
}

/* does buf[0 .. n) contain the text needle? */
static bool
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

static uint32_t
f32_bits(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static bool
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
static bool
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
static bool
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

static bool
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
static uint8_t *
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

static bool
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
		!file_consistent(out1, len1, &g) || !tensors_equal(f, &g))
		return false;
	out2 = rewrite(&g, &len2);
	if (out2 == NULL || len1 != len2 || memcmp(out1, out2, len1) != 0)
		return false;
	if (!st_parse(out2, len2, &h, &kerr) || !tensors_equal(&g, &h))
		return false;
	return true;
}

/* a small file with a bit of everything, for truncation and mutation */
static uint8_t *
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


/* ----------------------------------------------------------------
 *		valid files
 * ----------------------------------------------------------------
 */

static void
test_dtype_table(void)
{
	static const char *names[N_DTYPES] = {
		"BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
		"F64", "I64", "U64"
	};
	static const size_t sizes[N_DTYPES] = {1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};
	StDtype		dt;
	int			i;

	for (i = 0; i < N_DTYPES; i++)
	{
		CHECK(strcmp(st_dtype_name((StDtype) i), names[i]) == 0);
		CHECK(st_dtype_size((StDtype) i) == sizes[i]);
		CHECK(st_dtype_from_name(names[i], strlen(names[i]), &dt) && dt == (StDtype) i);
	}
	CHECK(!st_dtype_from_name("f32", 3, &dt));
	CHECK(!st_dtype_from_name("F3", 2, &dt));
	CHECK(!st_dtype_from_name("F32", 2, &dt) || dt != ST_F32);
	CHECK(!st_dtype_from_name("F322", 4, &dt));
	CHECK(!st_dtype_from_name("", 0, &dt));
	CHECK(!st_dtype_from_name("F8_E4M3", 7, &dt));
	CHECK(st_dtype_size((StDtype) 99) == 0);
	CHECK(strcmp(st_dtype_name((StDtype) -1), "unknown") == 0);
}

static void
test_every_dtype(void)
{
	int			i;

	for (i = 0; i < N_DTYPES; i++)
	{
		uint8_t		data[6 * 8];
		int64_t		shape[2] = {2, 3};
		StWriteTensor t = {"x", (StDtype) i, 2, shape, data};
		size_t		len;
		size_t		j;
		uint8_t    *buf;
		StFile		f;
		size_t		size = st_dtype_size((StDtype) i);

		for (j = 0; j < sizeof(data); j++)
			data[j] = (uint8_t) (j * 13 + i);
		buf = st_write(&t, 1, NULL, NULL, 0, &len, &kerr);
		CHECK(buf != NULL);
		if (buf == NULL)
			continue;
		CHECK(st_parse(buf, len, &f, &kerr));
		CHECK(f.n_tensors == 1 && f.n_meta == 0);
		CHECK(f.header_len % 8 == 0);
		CHECK(f.tensors[0].dtype == (StDtype) i);
		CHECK(f.tensors[0].ndim == 2);
		CHECK(f.tensors[0].shape[0] == 2 && f.tensors[0].shape[1] == 3);
		CHECK(f.tensors[0].numel == 6);
		CHECK(f.tensors[0].nbytes == 6 * size);
		CHECK(f.tensors[0].offset == 8 + f.header_len);
		CHECK(f.tensors[0].data == buf + 8 + f.header_len);
		CHECK(memcmp(f.tensors[0].data, data, 6 * size) == 0);
		CHECK(len == 8 + f.header_len + 6 * size);
		CHECK(file_consistent(buf, len, &f));
	}
}

/* a header as the reference writer makes it, tensors not in data order */
static void
test_hand_written(void)
{
	const char *json =
		"{\"__metadata__\":{\"format\":\"pt\"},"
		"\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16]},"
		"\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}    ";
	StFile		f;
	size_t		len;
	uint8_t    *buf = mkfile(json, 16, &len);
	const StTensor *a;
	const StTensor *b;

	CHECK(st_parse(buf, len, &f, &kerr));
	CHECK(f.n_tensors == 2);
	CHECK(strcmp(f.tensors[0].name, "a") == 0);
	CHECK(strcmp(f.tensors[1].name, "b") == 0);
	a = st_find(&f, "a");
	b = st_find(&f, "b");
	CHECK(a == &f.tensors[0] && b == &f.tensors[1]);
	CHECK(a->offset == 8 + strlen(json) && a->nbytes == 8);
	CHECK(b->offset == 16 + strlen(json) && b->nbytes == 8 && b->numel == 2);
	CHECK(b->data == buf + b->offset);
	CHECK(st_find(&f, "c") == NULL);
	CHECK(st_find(&f, "") == NULL);
	CHECK(st_find(&f, "A") == NULL);
	CHECK(strcmp(st_meta(&f, "format"), "pt") == 0);
	CHECK(st_meta(&f, "Format") == NULL);
	CHECK(f.header_len == strlen(json));
	CHECK(file_consistent(buf, len, &f));
}

static void
test_scalar_and_empty(void)
{
	StFile		f;

	/* a scalar */
	CHECK(parse_json("{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}",
					 8, &f));
	CHECK(f.n_tensors == 1 && f.tensors[0].ndim == 0 && f.tensors[0].numel == 1);
	CHECK(f.tensors[0].nbytes == 8);

	/* zero-size dimensions, alone and before and after other tensors */
	CHECK(parse_json("{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
					 "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
					 "\"y\":{\"dtype\":\"I64\",\"shape\":[3,0],\"data_offsets\":[0,0]},"
					 "\"e\":{\"dtype\":\"BOOL\",\"shape\":[0],\"data_offsets\":[4,4]}}",
					 4, &f));
	CHECK(f.n_tensors == 4);
	CHECK(strcmp(f.tensors[0].name, "y") == 0 && f.tensors[0].numel == 0);
	CHECK(strcmp(f.tensors[1].name, "a") == 0);
	/* equal offsets keep the header's order */
	CHECK(strcmp(f.tensors[2].name, "z") == 0 && f.tensors[2].nbytes == 0);
	CHECK(strcmp(f.tensors[3].name, "e") == 0);
	CHECK(f.tensors[2].shape[0] == 0 && f.tensors[2].shape[1] == 3);

	/* a zero dimension beside a huge one */
	CHECK(parse_json("{\"z\":{\"dtype\":\"U64\",\"shape\":[0,9223372036854775807],"
					 "\"data_offsets\":[0,0]}}", 0, &f));
	CHECK(f.n_tensors == 1 && f.tensors[0].numel == 0);

	/* the largest dimension that fits */
	CHECK(parse_json("{\"z\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,3],"
					 "\"data_offsets\":[0,3]}}", 3, &f));
	CHECK(f.tensors[0].ndim == 8 && f.tensors[0].numel == 3);

	/* no tensors at all */
	CHECK(parse_json("{}", 0, &f));
	CHECK(f.n_tensors == 0 && f.n_meta == 0 && f.tensors == NULL);
	CHECK(parse_json("{ }      ", 0, &f));
	CHECK(parse_json("{\"__metadata__\":{}}", 0, &f));
	CHECK(f.n_meta == 0);
	CHECK(st_find(&f, "x") == NULL && st_meta(&f, "x") == NULL);
	CHECK(parse_json("{\"__metadata__\":null}", 0, &f));
	CHECK(f.n_meta == 0);
	CHECK(st_find(NULL, "x") == NULL && st_meta(NULL, "x") == NULL);
}

static void
test_metadata(void)
{
	StFile		f;

	CHECK(parse_json("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
					 "\"__metadata__\":{\"format\":\"pt\",\"\":\"empty key\","
					 "\"k\\u00e9\":\"line\\nbreak \\\"q\\\"\",\"x\":\"\"}}",
					 1, &f));
	CHECK(f.n_meta == 4 && f.n_tensors == 1);
	CHECK(strcmp(f.meta_keys[0], "format") == 0);
	CHECK(strcmp(st_meta(&f, "format"), "pt") == 0);
	CHECK(strcmp(st_meta(&f, ""), "empty key") == 0);
	CHECK(strcmp(st_meta(&f, "k\xc3\xa9"), "line\nbreak \"q\"") == 0);
	CHECK(strcmp(st_meta(&f, "x"), "") == 0);
	CHECK(st_meta(&f, "t") == NULL);

	/* the key may be spelt with escapes, as any JSON key */
	CHECK(parse_json("{\"__metad\\u0061ta__\":{\"a\":\"b\"}}", 0, &f));
	CHECK(f.n_meta == 1 && strcmp(st_meta(&f, "a"), "b") == 0);
}

static void
test_escapes(void)
{
	StFile		f;
	const char *json =
		"{\"a\\\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
		"\"c\\\\d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
		"\"\\u00e9t\\u00C9\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
		"\"\\ud83d\\ude00\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]},"
		"\"\\/\\b\\f\\n\\r\\t\\u001f\\u007f\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[4,5]},"
		"\"raw \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[5,6]},"
		"\"\\u20ac\\uFFFF\\uDBFF\\uDFFF\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[6,7]},"
		"\"\":{\"d\\u0074ype\":\"U\\u0038\",\"shape\":[1],\"data_offsets\":[7,8]}}";

	CHECK(parse_json(json, 8, &f));
	CHECK(f.n_tensors == 8);
	if (f.n_tensors != 8)
		return;
	CHECK(strcmp(f.tensors[0].name, "a\"b") == 0);
	CHECK(strcmp(f.tensors[1].name, "c\\d") == 0);
	CHECK(strcmp(f.tensors[2].name, "\xc3\xa9t\xc3\x89") == 0);
	CHECK(strcmp(f.tensors[3].name, "\xf0\x9f\x98\x80") == 0);
	CHECK(strcmp(f.tensors[4].name, "/\b\f\n\r\t\x1f\x7f") == 0);
	CHECK(strcmp(f.tensors[5].name, "raw \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == 0);
	CHECK(strcmp(f.tensors[6].name, "\xe2\x82\xac\xef\xbf\xbf\xf4\x8f\xbf\xbf") == 0);
	CHECK(strcmp(f.tensors[7].name, "") == 0 && f.tensors[7].dtype == ST_U8);
	CHECK(st_find(&f, "\xf0\x9f\x98\x80") == &f.tensors[3]);
	CHECK(st_find(&f, "") == &f.tensors[7]);
	CHECK(round_trips(&f));
}

static void
test_whitespace(void)
{
	StFile		f;

	CHECK(parse_json("{ \"t\" :\n\t{\r\n \"dtype\" : \"U8\" , \"shape\" : [ 2 ] ,"
					 " \"data_offsets\" : [ 0 , 2 ] } \n}\n\t\r ", 2, &f));
	CHECK(f.n_tensors == 1 && f.tensors[0].nbytes == 2);
	CHECK(parse_json("{\"t\":{\"dtype\":\"U8\",\"shape\":[ ],\"data_offsets\":[0,1]}}",
					 1, &f));
	CHECK(f.tensors[0].ndim == 0);
}

static void
test_unaligned_and_order(void)
{
	/* an F32 tensor at an odd offset: st_to_f32 must not care */
	const char *json =
		"{\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]},"
		"\"b\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}";
	StFile		f;
	size_t		len;
	uint8_t    *buf = mkfile_raw(strlen(json), json, strlen(json), 9, &len);
	float		v[2] = {1.5f, -7.25f};
	float		out[2];

	memcpy(buf + 8 + strlen(json) + 1, v, sizeof(v));
	CHECK(st_parse(buf, len, &f, &kerr));
	CHECK(f.n_tensors == 2 && strcmp(f.tensors[1].name, "f") == 0);
	CHECK(st_to_f32(&f.tensors[1], out));
	CHECK(out[0] == 1.5f && out[1] == -7.25f);
	CHECK(!st_to_f32(&f.tensors[0], out));
}

static void
test_many_tensors(void)
{
	enum
	{
		N = 3000
	};
	StWriteTensor *t = maas_kalloc(N * sizeof(StWriteTensor));
	char	  **names = maas_kalloc(N * sizeof(char *));
	int64_t    *shapes = maas_kalloc(N * sizeof(int64_t));
	uint8_t    *data = maas_kalloc(N * 4);
	size_t		len;
	uint8_t    *buf;
	StFile		f;
	int			i;

	for (i = 0; i < N; i++)
	{
		names[i] = maas_kalloc(16);
		snprintf(names[i], 16, "layer.%d", N - i);
		shapes[i] = i % 5;
		t[i].name = names[i];
		t[i].dtype = ST_U8;
		t[i].ndim = 1;
		t[i].shape = &shapes[i];
		t[i].data = data;
	}
	memset(data, 0x42, N * 4);
	buf = st_write(t, N, NULL, NULL, 0, &len, &kerr);
	CHECK(buf != NULL);
	if (buf == NULL)
		return;
	CHECK(st_parse(buf, len, &f, &kerr));
	CHECK(f.n_tensors == N);
	CHECK(file_consistent(buf, len, &f));
	for (i = 0; i < N && f.n_tensors == N; i++)
	{
		CHECK(strcmp(f.tensors[i].name, names[i]) == 0);
		CHECK(st_find(&f, names[i]) == &f.tensors[i]);
	}
	CHECK(round_trips(&f));
}


/* ----------------------------------------------------------------
 *		the writer
 * ----------------------------------------------------------------
 */

static void
test_round_trip(void)
{
	static const float w[6] = {1, 2, 3, 4, 5, 6};
	static const uint16_t bf[4] = {0x3F80, 0xC049, 0x7F80, 0x0001};
	static const int64_t i64[2] = {INT64_MIN, INT64_MAX};
	static const uint8_t empty[1] = {0};
	static const int64_t s23[2] = {2, 3};
	static const int64_t s4[1] = {4};
	static const int64_t s2[1] = {2};
	static const int64_t s030[3] = {0, 3, 0};
	StWriteTensor t[5] = {
		{"model.layers.0.weight", ST_F32, 2, s23, w},
		{"q\"uote\\back\x01\x1f\x7f/sl\xc3\xa9\xf0\x9f\x98\x80", ST_BF16, 1, s4, bf},
		{"", ST_I64, 1, s2, i64},
		{"empty", ST_U16, 3, s030, NULL},
		{"scalar", ST_U8, 0, NULL, empty},
	};
	const char *keys[3] = {"format", "tab\tkey", "\xe2\x82\xac"};
	const char *values[3] = {"pt", "ctl\x01\x02", "\"x\"\\"};
	size_t		len;
	uint8_t    *buf;
	StFile		f;
	int			i;

	buf = st_write(t, 5, keys, values, 3, &len, &kerr);
	CHECK(buf != NULL);
	if (buf == NULL)
		return;
	CHECK(st_parse(buf, len, &f, &kerr));
	CHECK(f.header_len % 8 == 0);
	CHECK(f.n_tensors == 5 && f.n_meta == 3);
	if (f.n_tensors != 5 || f.n_meta != 3)
		return;
	for (i = 0; i < 5; i++)
	{
		const StTensor *p = &f.tensors[i];
		size_t		nbytes = (size_t) p->numel * st_dtype_size(t[i].dtype);

		CHECK(strcmp(p->name, t[i].name) == 0);
		CHECK(p->dtype == t[i].dtype && p->ndim == t[i].ndim);
		CHECK(t[i].ndim == 0 ||
			  memcmp(p->shape, t[i].shape, (size_t) t[i].ndim * sizeof(int64_t)) == 0);
		CHECK(p->nbytes == nbytes);
		CHECK(nbytes == 0 || memcmp(p->data, t[i].data, nbytes) == 0);
	}
	for (i = 0; i < 3; i++)
	{
		CHECK(strcmp(f.meta_keys[i], keys[i]) == 0);
		CHECK(strcmp(st_meta(&f, keys[i]), values[i]) == 0);
	}
	CHECK(f.tensors[4].numel == 1 && f.tensors[3].numel == 0);
	CHECK(file_consistent(buf, len, &f));
	CHECK(round_trips(&f));

	/* the header text: metadata first, escapes as asked, padded */
	CHECK(contains(buf + 8, 48, "{\"__metadata__\":{\"format\":\"pt\",\"tab\\u0009key\""));
	CHECK(contains(buf + 8, f.header_len, "\"q\\\"uote\\\\back\\u0001\\u001f\x7f/sl\xc3\xa9"));
	CHECK(contains(buf + 8, f.header_len, "\"ctl\\u0001\\u0002\""));
	CHECK(contains(buf + 8, f.header_len, ":\"\\\"x\\\"\\\\\"}"));
	CHECK(contains(buf + 8, f.header_len,
				   "},\"model.layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"));
	CHECK(contains(buf + 8, f.header_len,
				   "\"empty\":{\"dtype\":\"U16\",\"shape\":[0,3,0],\"data_offsets\":[48,48]},"
				   "\"scalar\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[48,49]}}"));
	CHECK(buf[8 + f.header_len - 1] == ' ' || buf[8 + f.header_len - 1] == '}');

	/* nothing at all */
	buf = st_write(NULL, 0, NULL, NULL, 0, &len, &kerr);
	CHECK(buf != NULL && len == 16 && memcmp(buf + 8, "{}      ", 8) == 0);
	CHECK(buf != NULL && buf[0] == 8 && buf[1] == 0 && buf[7] == 0);
	CHECK(buf != NULL && st_parse(buf, len, &f, &kerr) && f.n_tensors == 0);
}

/*
 * The writer makes the same bytes as the reference writer for the files in
 * its own tests: no spaces in the JSON, spaces after it up to a multiple of
 * 8, metadata first.
 */
static void
expect_bytes(const uint8_t *got, size_t got_len, const char *json,
			 const void *data, size_t dlen, int line)
{
	size_t		jlen = strlen(json);
	size_t		hlen = (jlen + 7) / 8 * 8;
	size_t		len = 8 + hlen + dlen;
	uint8_t    *want = maas_kalloc(len);
	size_t		i;

	for (i = 0; i < 8; i++)
		want[i] = (uint8_t) ((uint64_t) hlen >> (8 * i));
	memcpy(want + 8, json, jlen);
	memset(want + 8 + jlen, ' ', hlen - jlen);
	if (dlen > 0)
		memcpy(want + 8 + hlen, data, dlen);
	if (got == NULL || got_len != len || memcmp(got, want, len) != 0)
		unit_fail(__FILE__, line, json);
}

static void
test_reference_bytes(void)
{
	static const float v[6] = {0, 1, 2, 3, 4, 5};
	static const int64_t s123[3] = {1, 2, 3};
	static const int64_t s1123[4] = {1, 1, 2, 3};
	StWriteTensor t1 = {"attn.0", ST_F32, 3, s123, v};
	StWriteTensor t2 = {"attn0", ST_F32, 4, s1123, v};
	const char *keys[1] = {"framework"};
	const char *values[1] = {"pt"};
	size_t		len;
	uint8_t    *buf;
	StFile		f;

	buf = st_write(&t1, 1, NULL, NULL, 0, &len, &kerr);
	expect_bytes(buf, len,
				 "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}",
				 v, sizeof(v), __LINE__);
	CHECK(buf != NULL && len == 8 + 64 + 24);
	buf = st_write(&t2, 1, NULL, NULL, 0, &len, &kerr);
	expect_bytes(buf, len,
				 "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}",
				 v, sizeof(v), __LINE__);
	CHECK(buf != NULL && len == 8 + 72 + 24);
	CHECK(buf != NULL && st_parse(buf, len, &f, &kerr) &&
		  f.tensors[0].offset % 8 == 0 && f.tensors[0].numel == 6);
	buf = st_write(NULL, 0, keys, values, 1, &len, &kerr);
	expect_bytes(buf, len, "{\"__metadata__\":{\"framework\":\"pt\"}}",
				 NULL, 0, __LINE__);
	CHECK(buf != NULL && len == 8 + 40);
	CHECK(buf != NULL && st_parse(buf, len, &f, &kerr) &&
		  strcmp(st_meta(&f, "framework"), "pt") == 0);
}

static void
test_write_errors(void)
{
	static const float w[4] = {0};
	int64_t		shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	int64_t		neg[2] = {2, -1};
	int64_t		huge[2] = {INT64_MAX, 2};
	int64_t		big[2] = {INT64_MAX / 2, 3};
	StWriteTensor t[2] = {{"a", ST_F32, 1, shape, w}, {"a", ST_F32, 1, shape, w}};
	const char *keys[2] = {"k", "k"};
	const char *values[2] = {"1", "2"};
	const char *nullkey[1] = {NULL};
	const char *badutf[1] = {"\xc3"};
	size_t		len = 99;

	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "duplicate tensor name \"a\"");
	CHECK(len == 0);
	CHECK_ERR(st_write(t, 1, keys, values, 2, &len, &kerr) != NULL, kerr.msg,
			  "duplicate metadata key \"k\"");
	CHECK_ERR(st_write(t, 1, nullkey, values, 1, &len, &kerr) != NULL, kerr.msg,
			  "metadata entry 0 is null");
	CHECK_ERR(st_write(t, 1, badutf, values, 1, &len, &kerr) != NULL, kerr.msg,
			  "not valid UTF-8");
	CHECK_ERR(st_write(t, -1, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "negative count");
	CHECK_ERR(st_write(NULL, 1, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "missing array");
	CHECK_ERR(st_write(t, 1, NULL, NULL, 1, &len, &kerr) != NULL, kerr.msg,
			  "missing array");

	t[1].name = "b";
	t[1].ndim = 9;
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "tensor \"b\" has 9 dimensions, but must have between 0 and 8");
	t[1].ndim = -1;
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "tensor \"b\" has -1 dimensions");
	t[1].ndim = 2;
	t[1].shape = neg;
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "tensor \"b\" has negative dimension -1");
	t[1].shape = huge;
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "tensor \"b\" is too large");
	t[1].shape = big;
	t[1].dtype = ST_U8;
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "tensor \"b\" is too large");
	t[1].shape = NULL;
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "tensor \"b\" has no shape");
	t[1].shape = shape;
	t[1].data = NULL;
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "tensor \"b\" has no data");
	t[1].data = w;
	t[1].dtype = (StDtype) 13;
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "tensor \"b\" has invalid dtype 13");
	t[1].dtype = ST_F32;
	t[1].name = NULL;
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "tensor 1 has no name");
	t[1].name = "__metadata__";
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "tensor name \"__metadata__\" is reserved");
	t[1].name = "bad\xff";
	CHECK_ERR(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL, kerr.msg,
			  "name of tensor 1 is not valid UTF-8");
	t[1].name = "b";
	CHECK(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL && len > 0);

	/* a header over the limit */
	{
		size_t		n = ST_MAX_HEADER;
		char	   *big = malloc(n + 1);

		memset(big, 'a', n);
		big[n] = '\0';
		values[0] = big;
		CHECK_ERR(st_write(t, 1, keys, values, 1, &len, &kerr) != NULL, kerr.msg,
				  "header would exceed the maximum of 104857600 bytes");
		big[n - 200] = '\0';
		CHECK(st_write(t, 1, keys, values, 1, &len, &kerr) != NULL);
		free(big);
	}

	/* zero-size tensors need no data */
	neg[1] = 0;
	t[1].shape = neg;
	t[1].data = NULL;
	CHECK(st_write(t, 2, NULL, NULL, 0, &len, &kerr) != NULL);
}


/* ----------------------------------------------------------------
 *		conversion
 * ----------------------------------------------------------------
 */

static bool
convert_one(StDtype dtype, const void *bytes, size_t size, float *out)
{
	StTensor	t;

	memset(&t, 0, sizeof(t));
	t.name = "t";
	t.dtype = dtype;
	t.ndim = 1;
	t.shape[0] = 1;
	t.numel = 1;
	t.nbytes = size;
	t.data = bytes;
	return st_to_f32(&t, out);
}

static float
from_half(uint16_t h)
{
	float		f = -12345.0f;

	if (!convert_one(ST_F16, &h, 2, &f))
		return -99999.0f;
	return f;
}

static float
from_bf16(uint16_t h)
{
	float		f = -12345.0f;

	if (!convert_one(ST_BF16, &h, 2, &f))
		return -99999.0f;
	return f;
}

static float
from_f64(double d)
{
	float		f = -12345.0f;

	if (!convert_one(ST_F64, &d, 8, &f))
		return -99999.0f;
	return f;
}

static void
test_f16(void)
{
	CHECK(from_half(0x3C00) == 1.0f);
	CHECK(from_half(0xC000) == -2.0f);
	CHECK(from_half(0x3555) == 0.333251953125f);
	CHECK(from_half(0x7BFF) == 65504.0f);
	CHECK(from_half(0x0400) == ldexpf(1.0f, -14));	/* smallest normal */
	CHECK(from_half(0x0001) == ldexpf(1.0f, -24));	/* smallest subnormal */
	CHECK(from_half(0x03FF) == ldexpf(1023.0f, -24));	/* largest subnormal */
	CHECK(from_half(0x8200) == -ldexpf(1.0f, -15));
	CHECK(f32_bits(from_half(0x0000)) == 0x00000000);
	CHECK(f32_bits(from_half(0x8000)) == 0x80000000);	/* -0 keeps its sign */
	CHECK(from_half(0x7C00) == INFINITY);
	CHECK(from_half(0xFC00) == -INFINITY);
	CHECK(isnan(from_half(0x7E00)));
	CHECK(isnan(from_half(0xFC01)));
	CHECK(f32_bits(from_half(0x7E00)) == 0x7FC00000);
	CHECK(from_half(0x5640) == 100.0f);
}

static void
test_f16_exhaustive(void)
{
	uint32_t	h;

	/* every half converts to the float with the same value */
	for (h = 0; h < 0x10000; h++)
	{
		int			sign = (h & 0x8000) ? -1 : 1;
		int			exp = (h >> 10) & 0x1F;
		int			mant = h & 0x3FF;
		float		f = from_half((uint16_t) h);
		float		want;

		if (exp == 0x1F)
		{
			if (mant == 0)
				CHECK(f == sign * INFINITY);
			else
				CHECK(isnan(f));
			continue;
		}
		if (exp == 0)
			want = sign * ldexpf((float) mant, -24);
		else
			want = sign * ldexpf((float) (mant + 1024), exp - 25);
		if (f != want || signbit(f) != signbit((float) sign))
		{
			CHECK(f == want);
			break;
		}
	}
}

static void
test_bf16_f64_f32(void)
{
	double		d[4] = {0.1, -2.5, 1e300, ldexp(1.0, -149)};
	float		out[4];
	float		fsrc[3] = {1.0f, -0.0f, 3.25f};
	StTensor	t;
	int32_t		ints[1] = {7};

	CHECK(from_bf16(0x3F80) == 1.0f);
	CHECK(from_bf16(0xC049) == -3.140625f);
	CHECK(from_bf16(0x7F80) == INFINITY);
	CHECK(from_bf16(0xFF80) == -INFINITY);
	CHECK(isnan(from_bf16(0x7FC0)));
	CHECK(f32_bits(from_bf16(0x0001)) == 0x00010000);	/* subnormal */
	CHECK(f32_bits(from_bf16(0x8000)) == 0x80000000);

	CHECK(from_f64(1.0) == 1.0f);
	CHECK(from_f64(0.1) == 0.1f);	/* rounds as a cast does */
	CHECK(from_f64(-2.5) == -2.5f);
	CHECK(from_f64(1e300) == INFINITY);
	CHECK(from_f64(-1e300) == -INFINITY);
	CHECK(from_f64(ldexp(1.0, -149)) == ldexpf(1.0f, -149));
	CHECK(from_f64(1e-50) == 0.0f);
	CHECK(f32_bits(from_f64(-0.0)) == 0x80000000);
	CHECK(isnan(from_f64(NAN)));
	CHECK(from_f64(INFINITY) == INFINITY);

	memset(&t, 0, sizeof(t));
	t.dtype = ST_F64;
	t.ndim = 1;
	t.shape[0] = 4;
	t.numel = 4;
	t.nbytes = sizeof(d);
	t.data = (const uint8_t *) d;
	CHECK(st_to_f32(&t, out));
	CHECK(out[0] == 0.1f && out[1] == -2.5f && out[2] == INFINITY);
	CHECK(out[3] == ldexpf(1.0f, -149));

	t.dtype = ST_F32;
	t.numel = 3;
	t.nbytes = sizeof(fsrc);
	t.data = (const uint8_t *) fsrc;
	CHECK(st_to_f32(&t, out));
	CHECK(memcmp(out, fsrc, sizeof(fsrc)) == 0);

	/* nothing to convert is fine; non-float dtypes are refused */
	t.numel = 0;
	t.data = NULL;
	CHECK(st_to_f32(&t, NULL));
	t.dtype = ST_I32;
	t.numel = 1;
	t.data = (const uint8_t *) ints;
	CHECK(!st_to_f32(&t, out));
	t.dtype = ST_U8;
	CHECK(!st_to_f32(&t, out));
	t.dtype = ST_BOOL;
	CHECK(!st_to_f32(&t, out));
}


/* ----------------------------------------------------------------
 *		errors
 * ----------------------------------------------------------------
 */

#define ENTRY(name, dtype, shape, offsets) \
	"\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}"

static void
expect_json_error(const char *json, size_t dlen, const char *fragment,
				  int line)
{
	StFile		f;
	bool		ok = parse_json(json, dlen, &f);

	if (ok || strstr(kerr.msg, fragment) == NULL)
	{
		char		what[512];

		snprintf(what, sizeof(what), "error containing \"%s\" for %s (line %d)",
				 fragment, json, line);
		unit_fail(__FILE__, line, what);
		fprintf(stderr, "    got: %s (%s)\n", ok ? "success" : "failure", kerr.msg);
	}
	else
	{
		/* failures leave out empty */
		CHECK(f.n_tensors == 0 && f.tensors == NULL && f.n_meta == 0);
		CHECK(strlen(kerr.msg) < MAAS_ERRLEN && kerr.msg[0] != '\0');
	}
}

#define EXPECT_ERROR(json, dlen, fragment) \
	expect_json_error(json, dlen, fragment, __LINE__)

static void
test_err_header_length(void)
{
	StFile		f;
	uint8_t		small[7] = {0};
	size_t		len;
	uint8_t    *buf;

	CHECK_ERR(st_parse(small, 0, &f, &kerr), kerr.msg,
			  "file of 0 bytes is too short for the 8-byte header length");
	CHECK_ERR(st_parse(small, 7, &f, &kerr), kerr.msg, "file of 7 bytes is too short");
	CHECK_ERR(st_parse(NULL, 0, &f, &kerr), kerr.msg, "too short");

	buf = mkfile_raw(0, "{}", 2, 0, &len);
	CHECK_ERR(st_parse(buf, len, &f, &kerr), kerr.msg, "header length is 0");
	buf = mkfile_raw((uint64_t) ST_MAX_HEADER + 1, "{}", 2, 0, &len);
	CHECK_ERR(st_parse(buf, len, &f, &kerr), kerr.msg,
			  "header length 104857601 exceeds the maximum of 104857600 bytes");
	buf = mkfile_raw(UINT64_MAX, "{}", 2, 0, &len);
	CHECK_ERR(st_parse(buf, len, &f, &kerr), kerr.msg,
			  "header length 18446744073709551615 exceeds the maximum");
	buf = mkfile_raw(3, "{}", 2, 0, &len);
	CHECK_ERR(st_parse(buf, len, &f, &kerr), kerr.msg,
			  "header length 3 exceeds the 2 bytes that follow it");
	buf = mkfile_raw(11, "{}", 2, 8, &len);
	CHECK_ERR(st_parse(buf, len, &f, &kerr), kerr.msg,
			  "header length 11 exceeds the 10 bytes that follow it");
	/* the header length excludes data that would make it valid JSON */
	buf = mkfile_raw(1, "{}", 2, 0, &len);
	CHECK_ERR(st_parse(buf, len, &f, &kerr), kerr.msg,
			  "invalid JSON at byte 1 of the header");

	/* no err buffer is fine */
	CHECK(!st_parse(small, 3, &f, NULL));
	buf = mkfile_raw(2, "{]", 2, 0, &len);
	CHECK(!st_parse(buf, len, &f, NULL));
}

static void
test_err_json(void)
{
	EXPECT_ERROR("{\"a\":}", 0, "invalid JSON at byte 5 of the header: unexpected character");
	EXPECT_ERROR("{\"a\"", 0, "invalid JSON at byte 4 of the header: expected \":\"");
	EXPECT_ERROR("{\"a", 0, "invalid JSON at byte 3 of the header: unterminated string");
	EXPECT_ERROR("{", 0, "invalid JSON at byte 1 of the header: expected a string as object key");
	EXPECT_ERROR("{} x", 0, "invalid JSON at byte 3 of the header: unexpected data after the top-level value");
	EXPECT_ERROR("{}{}", 0, "unexpected data after the top-level value");
	EXPECT_ERROR("{}\f", 0, "unexpected data after the top-level value");
	EXPECT_ERROR("{,}", 0, "expected a string as object key");
	EXPECT_ERROR("{'a':1}", 0, "expected a string as object key");
	EXPECT_ERROR("{a:1}", 0, "expected a string as object key");
	EXPECT_ERROR("{\"a\":1,}", 0, "expected a string as object key");
	EXPECT_ERROR("{\"a\":[1,]}", 0, "unexpected character");
	EXPECT_ERROR("{\"a\":[1 2]}", 0, "expected \",\" or \"]\"");
	EXPECT_ERROR("{\"a\":1 \"b\":2}", 0, "expected \",\" or \"}\"");
	EXPECT_ERROR("{\"a\":01}", 0, "leading zero in number");
	EXPECT_ERROR("{\"a\":1.}", 0, "expected a digit after the decimal point");
	EXPECT_ERROR("{\"a\":.5}", 0, "unexpected character");
	EXPECT_ERROR("{\"a\":-}", 0, "expected a digit");
	EXPECT_ERROR("{\"a\":1e}", 0, "expected a digit in the exponent");
	EXPECT_ERROR("{\"a\":+1}", 0, "unexpected character");
	EXPECT_ERROR("{\"a\":tru}", 0, "unexpected character");
	EXPECT_ERROR("{\"a\":nul", 0, "unexpected character");
	EXPECT_ERROR("{\"a\":NaN}", 0, "unexpected character");
	EXPECT_ERROR("{\"a\":\"\\x\"}", 0, "invalid escape in string");
	EXPECT_ERROR("{\"a\":\"\\u12\"}", 0, "invalid \\u escape");
	EXPECT_ERROR("{\"a\":\"\\u12", 0, "truncated \\u escape");
	EXPECT_ERROR("{\"a\":\"\\", 0, "unterminated string");
	EXPECT_ERROR("{\"a\":\"\\u0000\"}", 0, "invalid JSON at byte 6 of the header: NUL character in string");
	EXPECT_ERROR("{\"a\\u0000b\":1}", 0, "NUL character in string");
	EXPECT_ERROR("{\"a\":\"\\udc00\"}", 0, "unpaired low surrogate");
	EXPECT_ERROR("{\"a\":\"\\ud800\"}", 0, "unpaired high surrogate");
	EXPECT_ERROR("{\"a\":\"\\ud800x\"}", 0, "unpaired high surrogate");
	EXPECT_ERROR("{\"a\":\"\\ud800\\n\"}", 0, "unpaired high surrogate");
	EXPECT_ERROR("{\"a\":\"\\ud800\\ud800\"}", 0, "unpaired high surrogate");
	EXPECT_ERROR("{\"a\":\"\\ud800\\u", 0, "truncated \\u escape");
	EXPECT_ERROR("{\"a\":\"x\ty\"}", 0, "unescaped control character in string");
	EXPECT_ERROR("{\"a\":\"x\ny\"}", 0, "unescaped control character in string");
	EXPECT_ERROR("{\"a\":\"\xc0\x80\"}", 0, "invalid UTF-8 in string");
	EXPECT_ERROR("{\"a\":\"\xe0\x80\xaf\"}", 0, "invalid UTF-8 in string");
	EXPECT_ERROR("{\"a\":\"\xed\xa0\x80\"}", 0, "invalid UTF-8 in string");
	EXPECT_ERROR("{\"a\":\"\xf4\x90\x80\x80\"}", 0, "invalid UTF-8 in string");
	EXPECT_ERROR("{\"a\":\"\xf5\x80\x80\x80\"}", 0, "invalid UTF-8 in string");
	EXPECT_ERROR("{\"a\":\"\xc3\"}", 0, "invalid UTF-8 in string");
	EXPECT_ERROR("{\"a\":\"\x80\"}", 0, "invalid UTF-8 in string");
	EXPECT_ERROR("{\"a\":\"\xe2\x82\"", 0, "invalid UTF-8 in string");
	EXPECT_ERROR("{\"\xff\":1}", 0, "invalid UTF-8 in string");
	EXPECT_ERROR("{\"a\":\xc3\xa9}", 0, "unexpected character");

	/* every form of JSON number is well-formed, if not what we want */
	EXPECT_ERROR("{\"__metadata__\":{\"k\":[0,-0,1e+5,2E-3,-0.5e10,1.25,10E5]}}", 0,
				 "value of __metadata__ key \"k\" is not a string");
	EXPECT_ERROR("{\"a\":1e+}", 0, "expected a digit in the exponent");

	/* nesting: 8 levels are well-formed JSON, 9 are not */
	EXPECT_ERROR("{\"__metadata__\":{\"k\":[[[[[[1]]]]]]}}", 0,
				 "value of __metadata__ key \"k\" is not a string");
	EXPECT_ERROR("{\"__metadata__\":{\"k\":[[[[[[[1]]]]]]]}}", 0,
				 "invalid JSON at byte 27 of the header: nesting too deep");
	EXPECT_ERROR("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 0,
				 "nesting too deep");
	/* JSON errors are found before schema errors */
	EXPECT_ERROR("{\"a\":1,\"b\":", 0, "invalid JSON at byte 11");
}

static void
test_err_raw_bytes(void)
{
	StFile		f;

	CHECK_ERR(parse_json_n("{\"a\x00\":1}", 8, 0, &f), kerr.msg,
			  "invalid JSON at byte 3 of the header: NUL byte in string");
	CHECK_ERR(parse_json_n("{\"a\":\"\x00\"}", 9, 0, &f), kerr.msg,
			  "NUL byte in string");
	CHECK_ERR(parse_json_n("\x00{}", 3, 0, &f), kerr.msg, "unexpected character");
	CHECK_ERR(parse_json_n("{}\x00", 3, 0, &f), kerr.msg,
			  "unexpected data after the top-level value");
}

static void
test_err_structure(void)
{
	EXPECT_ERROR("[]", 0, "header is not a JSON object");
	EXPECT_ERROR("\"x\"", 0, "header is not a JSON object");
	EXPECT_ERROR("1", 0, "header is not a JSON object");
	EXPECT_ERROR("null", 0, "header is not a JSON object");
	EXPECT_ERROR("  [1]", 0, "header is not a JSON object");
	EXPECT_ERROR(" {}", 0, "header does not start with \"{\"");
	EXPECT_ERROR("\n{}", 0, "header does not start with \"{\"");

	EXPECT_ERROR("{\"a\":[1]}", 0, "entry for tensor \"a\" is not an object");
	EXPECT_ERROR("{\"a\":null}", 0, "entry for tensor \"a\" is not an object");
	EXPECT_ERROR("{\"a\":\"F32\"}", 0, "entry for tensor \"a\" is not an object");
	EXPECT_ERROR("{\"a\":{}}", 0, "tensor \"a\" has no dtype");
	EXPECT_ERROR("{\"a\":{\"shape\":[],\"data_offsets\":[0,1]}}", 1,
				 "tensor \"a\" has no dtype");
	EXPECT_ERROR("{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1,
				 "tensor \"a\" has no shape");
	EXPECT_ERROR("{\"a\":{\"dtype\":\"U8\",\"shape\":[]}}", 1,
				 "tensor \"a\" has no data_offsets");
	EXPECT_ERROR("{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],\"extra\":1}}", 1,
				 "tensor \"a\" has unknown key \"extra\"");
	EXPECT_ERROR("{\"a\":{\"Dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1,
				 "tensor \"a\" has unknown key \"Dtype\"");
	EXPECT_ERROR("{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],"
				 "\"an_unknown_key_that_is_much_longer_than_thirty_two_bytes\":1}}", 1,
				 "has unknown key \"an_unknown_key_that_is_much_lon...\"");
	EXPECT_ERROR("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1,
				 "tensor \"a\" has duplicate key \"dtype\"");
	EXPECT_ERROR("{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],\"sh\\u0061pe\":[]}}", 1,
				 "tensor \"a\" has duplicate key \"shape\"");
	EXPECT_ERROR("{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],\"data_offsets\":[0,1]}}", 1,
				 "tensor \"a\" has duplicate key \"data_offsets\"");
}

static void
test_err_dtype_shape(void)
{
	EXPECT_ERROR("{" ENTRY("a", "F8", "[1]", "[0,1]") "}", 1,
				 "unsupported dtype \"F8\" for tensor \"a\"");
	EXPECT_ERROR("{" ENTRY("w", "f32", "[1]", "[0,4]") "}", 4,
				 "unsupported dtype \"f32\" for tensor \"w\"");
	EXPECT_ERROR("{" ENTRY("w", "", "[1]", "[0,4]") "}", 4,
				 "unsupported dtype \"\" for tensor \"w\"");
	EXPECT_ERROR("{" ENTRY("w", "F32 ", "[1]", "[0,4]") "}", 4,
				 "unsupported dtype \"F32 \" for tensor \"w\"");
	EXPECT_ERROR("{" ENTRY("w", "F8_E4M3_WITH_A_VERY_LONG_NAME_INDEED", "[1]", "[0,4]") "}", 4,
				 "unsupported dtype \"F8_E4M3_WITH_A_VERY_LONG_NAME_I...\" for tensor \"w\"");
	EXPECT_ERROR("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
				 "dtype of tensor \"w\" is not a string");
	EXPECT_ERROR("{\"w\":{\"dtype\":null,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
				 "dtype of tensor \"w\" is not a string");

	EXPECT_ERROR("{" ENTRY("w", "U8", "{}", "[0,1]") "}", 1,
				 "shape of tensor \"w\" is not an array");
	EXPECT_ERROR("{" ENTRY("w", "U8", "1", "[0,1]") "}", 1,
				 "shape of tensor \"w\" is not an array");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]") "}", 1,
				 "tensor \"w\" has more than 8 dimensions");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[-1]", "[0,1]") "}", 1,
				 "shape of tensor \"w\" has a dimension that is not a non-negative integer");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[-0]", "[0,0]") "}", 0,
				 "shape of tensor \"w\" has a dimension that is not a non-negative integer");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1.0]", "[0,1]") "}", 1,
				 "not a non-negative integer");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1e0]", "[0,1]") "}", 1,
				 "not a non-negative integer");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[\"1\"]", "[0,1]") "}", 1,
				 "not a non-negative integer");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[[1]]", "[0,1]") "}", 1,
				 "not a non-negative integer");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[true]", "[0,1]") "}", 1,
				 "not a non-negative integer");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[9223372036854775808]", "[0,1]") "}", 1,
				 "shape of tensor \"w\" has a dimension larger than 9223372036854775807");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[99999999999999999999999]", "[0,1]") "}", 1,
				 "has a dimension larger than");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[9223372036854775807,2]", "[0,1]") "}", 1,
				 "shape of tensor \"w\" has too many elements");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[4294967296,4294967296]", "[0,1]") "}", 1,
				 "shape of tensor \"w\" has too many elements");
	/* the element count fits but the byte count does not */
	EXPECT_ERROR("{" ENTRY("w", "F64", "[4611686018427387904]", "[0,1]") "}", 1,
				 "shape of tensor \"w\" has too many elements");
	/* checked whatever the order of a zero and the rest */
	EXPECT_ERROR("{" ENTRY("w", "U8", "[9223372036854775807,2,0]", "[0,0]") "}", 0,
				 "has too many elements");
}

static void
test_err_offsets(void)
{
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "{}") "}", 1,
				 "data_offsets of tensor \"w\" is not an array of two non-negative integers");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[]") "}", 1,
				 "is not an array of two non-negative integers");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[0]") "}", 1,
				 "is not an array of two non-negative integers");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[0,1,2]") "}", 1,
				 "is not an array of two non-negative integers");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[-1,0]") "}", 1,
				 "is not an array of two non-negative integers");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[0,1.0]") "}", 1,
				 "is not an array of two non-negative integers");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[0,\"1\"]") "}", 1,
				 "is not an array of two non-negative integers");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[0,null]") "}", 1,
				 "is not an array of two non-negative integers");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[0,9223372036854775808]") "}", 1,
				 "data_offsets of tensor \"w\" are larger than 9223372036854775807");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[18446744073709551615,0]") "}", 1,
				 "data_offsets of tensor \"w\" are larger than");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[2,1]") "}", 2,
				 "data_offsets of tensor \"w\" begin at 2, after their end at 1");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[16]", "[0,16]") "}", 8,
				 "tensor \"w\" ends at byte 16 of the data region, which has only 8 bytes");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[0]", "[9,9]") "}", 8,
				 "tensor \"w\" ends at byte 9 of the data region, which has only 8 bytes");
	EXPECT_ERROR("{" ENTRY("w", "U8", "[1]", "[0,9223372036854775807]") "}", 8,
				 "ends at byte 9223372036854775807 of the data region");
	EXPECT_ERROR("{" ENTRY("w", "F32", "[2,3]", "[0,20]") "}", 20,
				 "tensor \"w\" has 20 bytes but its shape [2, 3] and dtype F32 need 24");
	EXPECT_ERROR("{" ENTRY("w", "BF16", "[]", "[0,4]") "}", 4,
				 "tensor \"w\" has 4 bytes but its shape [] and dtype BF16 need 2");
	EXPECT_ERROR("{" ENTRY("w", "I64", "[0,5]", "[0,8]") "}", 8,
				 "tensor \"w\" has 8 bytes but its shape [0, 5] and dtype I64 need 0");
}

static void
test_err_layout(void)
{
	EXPECT_ERROR("{" ENTRY("a", "U8", "[4]", "[0,4]") ","
				 ENTRY("b", "U8", "[4]", "[2,6]") "}", 6,
				 "tensors \"a\" and \"b\" overlap");
	EXPECT_ERROR("{" ENTRY("b", "U8", "[4]", "[0,4]") ","
				 ENTRY("a", "U8", "[4]", "[0,4]") "}", 4,
				 "tensors \"b\" and \"a\" overlap");
	EXPECT_ERROR("{" ENTRY("a", "U8", "[8]", "[0,8]") ","
				 ENTRY("z", "U8", "[0]", "[4,4]") "}", 8,
				 "tensors \"a\" and \"z\" overlap");
	EXPECT_ERROR("{" ENTRY("a", "U8", "[4]", "[0,4]") ","
				 ENTRY("b", "U8", "[4]", "[6,10]") "}", 10,
				 "the 2 bytes at offset 4 of the data region belong to no tensor");
	EXPECT_ERROR("{" ENTRY("a", "U8", "[4]", "[4,8]") "}", 8,
				 "the 4 bytes at offset 0 of the data region belong to no tensor");
	EXPECT_ERROR("{" ENTRY("a", "U8", "[4]", "[0,4]") "}", 5,
				 "the 1 bytes at offset 4 of the data region belong to no tensor");
	EXPECT_ERROR("{" ENTRY("a", "U8", "[0]", "[0,0]") "}", 3,
				 "the 3 bytes at offset 0 of the data region belong to no tensor");
	EXPECT_ERROR("{}", 1,
				 "the 1 bytes at offset 0 of the data region belong to no tensor");
	EXPECT_ERROR("{\"__metadata__\":{}}    ", 8, "belong to no tensor");

	EXPECT_ERROR("{" ENTRY("a", "U8", "[1]", "[0,1]") ","
				 ENTRY("a", "U8", "[1]", "[1,2]") "}", 2,
				 "duplicate tensor name \"a\"");
	EXPECT_ERROR("{" ENTRY("a", "U8", "[1]", "[0,1]") ","
				 ENTRY("\\u0061", "U8", "[1]", "[1,2]") "}", 2,
				 "duplicate tensor name \"a\"");
	EXPECT_ERROR("{" ENTRY("x", "U8", "[1]", "[0,1]") ","
				 ENTRY("a", "U8", "[1]", "[1,2]") ","
				 ENTRY("y", "U8", "[1]", "[2,3]") ","
				 ENTRY("a", "U8", "[1]", "[3,4]") "}", 4,
				 "duplicate tensor name \"a\"");
}

static void
test_err_metadata(void)
{
	EXPECT_ERROR("{\"__metadata__\":[]}", 0, "__metadata__ is not an object");
	EXPECT_ERROR("{\"__metadata__\":\"pt\"}", 0, "__metadata__ is not an object");
	EXPECT_ERROR("{\"__metadata__\":1}", 0, "__metadata__ is not an object");
	EXPECT_ERROR("{\"__metadata__\":true}", 0, "__metadata__ is not an object");
	EXPECT_ERROR("{\"__metadata__\":{\"k\":1}}", 0,
				 "value of __metadata__ key \"k\" is not a string");
	EXPECT_ERROR("{\"__metadata__\":{\"k\":null}}", 0,
				 "value of __metadata__ key \"k\" is not a string");
	EXPECT_ERROR("{\"__metadata__\":{\"k\":{\"a\":\"b\"}}}", 0,
				 "value of __metadata__ key \"k\" is not a string");
	EXPECT_ERROR("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
				 "duplicate __metadata__ key \"k\"");
	EXPECT_ERROR("{\"__metadata__\":{},\"__metadata__\":{}}", 0,
				 "duplicate key \"__metadata__\" in header");
	EXPECT_ERROR("{\"__metadata__\":null,\"__metadata__\":null}", 0,
				 "duplicate key \"__metadata__\" in header");
}

/* long names are cut in messages without breaking a UTF-8 character */
static void
test_err_long_names(void)
{
	char		json[2048];
	char		name[600];
	size_t		i;
	int			shift;

	for (shift = 0; shift < 4; shift++)
	{
		size_t		n = 0;
		StFile		f;

		for (i = 0; i < (size_t) shift; i++)
			name[n++] = 'x';
		while (n < 500)
		{
			memcpy(name + n, "\xf0\x9f\x98\x80\xc3\xa9\xe2\x82\xac", 9);
			n += 9;
		}
		name[n] = '\0';
		snprintf(json, sizeof(json), "{\"%s\":{\"dtype\":\"F7\",\"shape\":[],\"data_offsets\":[0,1]}}", name);
		CHECK_ERR(parse_json(json, 1, &f), kerr.msg, "unsupported dtype \"F7\" for tensor \"");
		CHECK(strlen(kerr.msg) == MAAS_ERRLEN - 1 || strlen(kerr.msg) >= MAAS_ERRLEN - 4);
		CHECK(utf8_ok(kerr.msg));
	}
}


/* ----------------------------------------------------------------
 *		hostile files
 * ----------------------------------------------------------------
 */

static void
test_truncation(void)
{
	size_t		len;
	uint8_t    *full = sample_file(&len);
	StFile		f;
	size_t		cut;

	CHECK(full != NULL);
	if (full == NULL)
		return;
	CHECK(st_parse(full, len, &f, &kerr));
	CHECK(f.n_tensors == 4 && f.n_meta == 2);
	CHECK(convert_all(&f));
	CHECK(round_trips(&f));

	for (cut = 0; cut < len; cut++)
	{
		/* a block of exactly cut bytes, so ASan sees any read past it */
		uint8_t    *prefix = malloc(cut > 0 ? cut : 1);

		memcpy(prefix, full, cut);
		kerr.msg[0] = '\0';
		if (st_parse(prefix, cut, &f, &kerr) || kerr.msg[0] == '\0')
		{
			CHECK(!"a truncated file parsed");
			fprintf(stderr, "    at length %zu of %zu\n", cut, len);
		}
		free(prefix);
	}
}

static int
check_mutant(const uint8_t *buf, size_t len)
{
	StFile		f;

	kerr.msg[0] = '\0';
	if (!st_parse(buf, len, &f, &kerr))
	{
		if (kerr.msg[0] == '\0' || strlen(kerr.msg) >= MAAS_ERRLEN || f.n_tensors != 0)
			return -1;
		return 0;
	}
	if (!file_consistent(buf, len, &f) || !convert_all(&f) || !round_trips(&f))
		return -1;
	return 1;
}

static void
test_mutations(void)
{
	size_t		len;
	uint8_t    *sample = sample_file(&len);
	uint8_t    *orig;
	uint8_t    *buf;
	size_t		pos;
	int			accepted = 0;
	int			bad = 0;

	CHECK(sample != NULL);
	if (sample == NULL)
		return;
	/* out of the arena, which is reset after each mutant */
	orig = malloc(len);
	memcpy(orig, sample, len);
	buf = malloc(len);
	for (pos = 0; pos < len; pos++)
	{
		int			v;

		/* every value of every byte, which includes every bit flip */
		for (v = 0; v < 256; v++)
		{
			int			r;

			memcpy(buf, orig, len);
			if (buf[pos] == v)
				continue;
			buf[pos] = (uint8_t) v;
			r = check_mutant(buf, len);
			if (r < 0 && bad++ < 5)
			{
				CHECK(!"a mutant broke an invariant");
				fprintf(stderr, "    byte %zu set to 0x%02x: %s\n", pos, v, kerr.msg);
			}
			accepted += r > 0;
			arena_reset();
		}
	}
	/* data bytes and a few header bytes may change without harm */
	CHECK(accepted > 0);
	free(buf);
	free(orig);
}

/* every allocation of a parse and a write may fail, cleanly */
static void
test_out_of_memory(void)
{
	size_t		len;
	uint8_t    *file = sample_file(&len);
	uint8_t    *copy = malloc(len);
	long		n;
	bool		done = false;

	memcpy(copy, file, len);
	arena_reset();
	for (n = 0; n < 1000 && !done; n++)
	{
		StFile		f;

		arena_fail_after(n);
		if (st_parse(copy, len, &f, &kerr))
		{
			arena_fail_after(-1);
			CHECK(file_consistent(copy, len, &f));
			done = true;
		}
		else
			CHECK(strcmp(kerr.msg, "out of memory") == 0);
		arena_reset();
	}
	CHECK(done && n > 3);

	done = false;
	for (n = 0; n < 1000 && !done; n++)
	{
		uint8_t    *out;

		arena_fail_after(n);
		out = sample_file(&len);
		if (out != NULL)
		{
			arena_fail_after(-1);
			CHECK(len > 0);
			done = true;
		}
		else
			CHECK(strcmp(kerr.msg, "out of memory") == 0 && len == 0);
		arena_reset();
	}
	CHECK(done && n > 2);
	free(copy);
}

/* a header of many tensors is handled in n log n, not n squared */
static void
test_large_header(void)
{
	enum
	{
		N = 200000
	};
	size_t		cap = (size_t) N * 80 + 16;
	char	   *json = malloc(cap);
	size_t		n = 0;
	int			i;
	StFile		f;
	size_t		len;
	uint8_t    *buf;

	n += (size_t) snprintf(json + n, cap - n, "{");
	for (i = 0; i < N; i++)
		n += (size_t) snprintf(json + n, cap - n,
							   "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
							   i > 0 ? "," : "", i, N - 1 - i, N - i);
	n += (size_t) snprintf(json + n, cap - n, "}");
	buf = mkfile_raw(n, json, n, N, &len);
	CHECK(st_parse(buf, len, &f, &kerr));
	CHECK(f.n_tensors == N);
	CHECK(f.n_tensors == N && strcmp(f.tensors[0].name, "t199999") == 0);
	CHECK(file_consistent(buf, len, &f));

	/* the same with one duplicate name at the end */
	snprintf(json + n - 1, cap - n + 1, ",\"t7\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}");
	n = strlen(json);
	buf = mkfile_raw(n, json, n, N, &len);
	CHECK_ERR(st_parse(buf, len, &f, &kerr), kerr.msg, "duplicate tensor name \"t7\"");
	free(json);
}


/* ----------------------------------------------------------------
 *		seeds for the fuzzer
 * ----------------------------------------------------------------
 */

static int
write_seed(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char		path[1024];
	FILE	   *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (fp == NULL || buf == NULL || fwrite(buf, 1, len, fp) != len)
	{
		fprintf(stderr, "cannot write %s\n", path);
		if (fp)
			fclose(fp);
		return 1;
	}
	fclose(fp);
	return 0;
}

static int
write_corpus(const char *dir)
{
	static const uint16_t h[4] = {0x3C00, 0x0001, 0x7C00, 0x7E00};
	static const double d[2] = {0.1, -1e300};
	static const int64_t s22[2] = {2, 2};
	static const int64_t s2[1] = {2};
	StWriteTensor t[3] = {
		{"h", ST_F16, 2, s22, h},
		{"b\\\"\xc3\xa9", ST_BF16, 1, s2, h},
		{"d", ST_F64, 0, NULL, d},
	};
	const char *keys[1] = {"format"};
	const char *values[1] = {"pt"};
	const char *esc = "{\"\\ud83d\\ude00\\u00e9\\n\":{\"dtype\":\"U8\",\"shape\":[0,2],"
		"\"data_offsets\":[0,0]},\"__metadata__\":null}";
	const char *ws = "{ \"x\" : { \"shape\" : [ 1 ] , \"data_offsets\" : [ 0 , 4 ] ,"
		" \"dtype\" : \"I32\" } }  ";
	size_t		len;
	uint8_t    *buf;
	int			rc = 0;

	buf = sample_file(&len);
	rc |= write_seed(dir, "sample.safetensors", buf, len);
	buf = st_write(t, 3, keys, values, 1, &len, &kerr);
	rc |= write_seed(dir, "floats.safetensors", buf, len);
	buf = st_write(NULL, 0, NULL, NULL, 0, &len, &kerr);
	rc |= write_seed(dir, "empty.safetensors", buf, len);
	buf = mkfile(esc, 0, &len);
	rc |= write_seed(dir, "escapes.safetensors", buf, len);
	buf = mkfile(ws, 4, &len);
	rc |= write_seed(dir, "spaces.safetensors", buf, len);
	return rc;
}

static int
write_dict(const char *path)
{
	static const char *const words[] = {
		"\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"",
		"\"F16\"", "\"BF16\"", "\"F32\"", "\"F64\"", "\"BOOL\"", "\"U8\"",
		"\"I64\"", "\"U64\"", "\\u", "\\ud83d\\ude00", "\\\"", "\\\\",
		"null", "true", "9223372036854775807", "9223372036854775808",
		"[]", "{}", "[0,0]", "1e5", "-0", "0.5", "\\xc3\\xa9", "\\xf0\\x9f\\x98\\x80"
	};
	FILE	   *fp = fopen(path, "w");
	size_t		i;

	if (fp == NULL)
	{
		fprintf(stderr, "cannot write %s\n", path);
		return 1;
	}
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
	{
		const char *w = words[i];

		/* libFuzzer's dictionary syntax: quote and backslash escaped */
		fputc('"', fp);
		for (; *w; w++)
		{
			if (*w == '"' || (*w == '\\' && w[1] != 'x'))
				fputc('\\', fp);
			fputc(*w, fp);
		}
		fputs("\"\n", fp);
	}
	fclose(fp);
	return 0;
}


int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
	{
		int			rc = write_corpus(argv[2]);

		arena_reset();
		return rc;
	}
	if (argc == 3 && strcmp(argv[1], "--dict") == 0)
		return write_dict(argv[2]);

	UNIT_RUN(test_dtype_table);
	UNIT_RUN(test_every_dtype);
	UNIT_RUN(test_hand_written);
	UNIT_RUN(test_scalar_and_empty);
	UNIT_RUN(test_metadata);
	UNIT_RUN(test_escapes);
	UNIT_RUN(test_whitespace);
	UNIT_RUN(test_unaligned_and_order);
	UNIT_RUN(test_many_tensors);
	UNIT_RUN(test_round_trip);
	UNIT_RUN(test_reference_bytes);
	UNIT_RUN(test_write_errors);
	UNIT_RUN(test_f16);
	UNIT_RUN(test_f16_exhaustive);
	UNIT_RUN(test_bf16_f64_f32);
	UNIT_RUN(test_err_header_length);
	UNIT_RUN(test_err_json);
	UNIT_RUN(test_err_raw_bytes);
	UNIT_RUN(test_err_structure);
	UNIT_RUN(test_err_dtype_shape);
	UNIT_RUN(test_err_offsets);
	UNIT_RUN(test_err_layout);
	UNIT_RUN(test_err_metadata);
	UNIT_RUN(test_err_long_names);
	UNIT_RUN(test_truncation);
	UNIT_RUN(test_mutations);
	UNIT_RUN(test_out_of_memory);
	UNIT_RUN(test_large_header);
	return unit_finish("test_safetensors");
}
