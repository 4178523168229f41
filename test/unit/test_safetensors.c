/*
 * test_safetensors.c
 *		Unit tests of the safetensors kernel (src/kernel/safetensors*.c):
 *		valid files of every dtype and shape, escapes, metadata, the writer
 *		and its round trip, and conversion to float32.  Every error the
 *		reader reports, and hostile files, are in test_safetensors_errors.c.
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

#include "st_testutil.h"


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
	CHECK(header_only_agrees(buf, len));

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
 * A file read in parts: its header alone, with the file's length; the
 * tensors' places without their bytes, for files larger than memory.
 */
static void
test_header_only(void)
{
	size_t		len;
	uint8_t    *buf = sample_file(&len);
	StFile		f;
	StFile		g;
	size_t		need;
	uint64_t	huge = (uint64_t) 3 << 30;
	static const int64_t shape[2] = {(int64_t) 3 << 28, 1};
	StWriteTensor big = {"w", ST_F32, 2, shape, NULL};
	uint8_t    *hdr;
	size_t		hlen;
	uint64_t	dlen;

	CHECK(buf != NULL && st_parse(buf, len, &f, &kerr));
	if (buf == NULL)
		return;
	CHECK(header_only_agrees(buf, len));

	/* the first 8 bytes say how many to read */
	CHECK(st_header_size(buf, 8, len, &need, &kerr) && need == 8 + f.header_len);
	CHECK_ERR(st_header_size(buf, 7, len, &g.header_len, &kerr), kerr.msg,
			  "the 7 bytes given hold only part of the 8-byte header length");
	CHECK_ERR(st_header_size(buf, 8, 7, &g.header_len, &kerr), kerr.msg,
			  "file of 7 bytes is too short for the 8-byte header length");
	CHECK_ERR(st_header_size(buf, 8, 12, &g.header_len, &kerr), kerr.msg,
			  "exceeds the 4 bytes that follow it");
	CHECK_ERR(st_parse_header_only(buf, need - 1, len, &g, &kerr), kerr.msg,
			  "hold only part of the");
	CHECK(g.n_tensors == 0 && g.tensors == NULL);

	/* the header alone: places and sizes, no data */
	CHECK(st_parse_header_only(buf, need, len, &g, &kerr));
	CHECK(g.n_tensors == f.n_tensors && g.header_len == f.header_len);
	for (int i = 0; i < g.n_tensors && i < f.n_tensors; i++)
		CHECK(g.tensors[i].data == NULL && g.tensors[i].offset == f.tensors[i].offset &&
			  g.tensors[i].nbytes == f.tensors[i].nbytes);
	CHECK(st_meta(&g, "format") != NULL);

	/* the file's length is checked against the tensors as st_parse does */
	CHECK_ERR(st_parse_header_only(buf, need, len - 1, &g, &kerr), kerr.msg,
			  "of the data region, which has only");
	CHECK_ERR(st_parse_header_only(buf, need, len + 4, &g, &kerr), kerr.msg,
			  "the 4 bytes at offset");

	/* a 3 GB tensor: its header is written and read without its bytes */
	hdr = st_write_header(&big, 1, NULL, NULL, 0, &hlen, &dlen, &kerr);
	CHECK(hdr != NULL && dlen == huge && hlen % 8 == 0);
	if (hdr == NULL)
		return;
	CHECK(contains(hdr + 8, hlen - 8, "\"data_offsets\":[0,3221225472]"));
	CHECK(st_header_size(hdr, hlen, hlen + huge, &need, &kerr) && need == hlen);
	CHECK(st_parse_header_only(hdr, hlen, hlen + huge, &g, &kerr));
	CHECK(g.n_tensors == 1 && g.tensors[0].nbytes == huge &&
		  g.tensors[0].offset == hlen && g.tensors[0].data == NULL);
	/* but writing the whole file needs the data */
	CHECK_ERR(st_write(&big, 1, NULL, NULL, 0, &hlen, &kerr) != NULL, kerr.msg,
			  "tensor \"w\" has no data");
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
	UNIT_RUN(test_header_only);
	UNIT_RUN(test_reference_bytes);
	UNIT_RUN(test_write_errors);
	UNIT_RUN(test_f16);
	UNIT_RUN(test_f16_exhaustive);
	UNIT_RUN(test_bf16_f64_f32);
	return unit_finish("test_safetensors");
}
