/*
 * test_safetensors_errors.c
 *		Unit tests of the safetensors reader against bad input: every error
 *		it reports with its exact message, truncation at every length,
 *		every single-byte mutation of a file, out-of-memory at every
 *		allocation, and large headers.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_testutil.h"


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
		if (!header_only_agrees(prefix, cut))
		{
			CHECK(!"reading a truncated file in parts disagreed with st_parse");
			fprintf(stderr, "    at length %zu of %zu\n", cut, len);
		}
		free(prefix);
	}
}

static int
check_mutant(const uint8_t *buf, size_t len)
{
	StFile		f;

	if (!header_only_agrees(buf, len))
		return -1;
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

int
main(void)
{
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
	return unit_finish("test_safetensors_errors");
}
