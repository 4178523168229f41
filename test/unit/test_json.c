/*
 * test_json.c
 *		Unit tests of the kernel JSON reader and writer (src/kernel/json.c).
 */
#include <math.h>
#include <stdlib.h>

#include "json.h"
#include "unit.h"
#include "utf8.h"

static MaasError err;

static MaasJson *
parse(const char *s)
{
	return maas_json_parse(s, strlen(s), 0, NULL, &err);
}

static void
test_values(void)
{
	MaasJson   *v = parse(" {\"a\": [1, -2.5, true, false, null, \"x\\u00e9\\ud83d\\ude00\"],"
						  " \"b\": {}, \"c\": [], \"\": 0} ");
	const MaasJson *a;

	CHECK(v != NULL);
	CHECK(v->type == MAAS_JSON_OBJECT && v->n == 4);
	a = maas_json_get(v, "a");
	CHECK(a != NULL && a->type == MAAS_JSON_ARRAY && a->n == 6);
	CHECK(maas_json_at(a, 0)->integral && maas_json_at(a, 0)->integer == 1);
	CHECK(!maas_json_at(a, 1)->integral && maas_json_at(a, 1)->u.number == -2.5);
	CHECK(maas_json_at(a, 2)->type == MAAS_JSON_BOOL && maas_json_at(a, 2)->u.boolean);
	CHECK(maas_json_at(a, 3)->type == MAAS_JSON_BOOL && !maas_json_at(a, 3)->u.boolean);
	CHECK(maas_json_at(a, 4)->type == MAAS_JSON_NULL);
	CHECK(maas_json_at(a, 5)->type == MAAS_JSON_STRING);
	CHECK(strcmp(maas_json_at(a, 5)->u.string, "x\xc3\xa9\xf0\x9f\x98\x80") == 0);
	CHECK(maas_json_at(a, 5)->n == 7);
	CHECK(maas_json_at(a, 6) == NULL && maas_json_at(a, -1) == NULL);
	CHECK(maas_json_get(v, "b")->type == MAAS_JSON_OBJECT && maas_json_get(v, "b")->n == 0);
	CHECK(maas_json_get(v, "c")->type == MAAS_JSON_ARRAY && maas_json_get(v, "c")->n == 0);
	CHECK(maas_json_get(v, "")->integer == 0);
	CHECK(maas_json_get(v, "zz") == NULL);
	CHECK(maas_json_get(a, "a") == NULL);
	CHECK(parse("7")->integer == 7);
	CHECK(parse("\"\"")->n == 0);
}

static void
test_numbers(void)
{
	int64_t		i;
	double		d;

	CHECK(parse("9223372036854775807")->integral);
	CHECK(parse("9223372036854775807")->integer == INT64_MAX);
	CHECK(parse("-9223372036854775808")->integer == INT64_MIN);
	CHECK(!parse("9223372036854775808")->integral);
	CHECK(parse("9223372036854775808")->u.number == 9223372036854775808.0);
	CHECK(!parse("-0.0")->integral);
	CHECK(parse("1e400")->u.number == HUGE_VAL);
	CHECK(maas_json_int(parse("1e3"), 0, 5000, &i) && i == 1000);
	CHECK(maas_json_int(parse("3.0"), 0, 5, &i) && i == 3);
	CHECK(!maas_json_int(parse("3.5"), 0, 5, &i));
	CHECK(!maas_json_int(parse("6"), 0, 5, &i));
	CHECK(!maas_json_int(parse("\"6\""), 0, 9, &i));
	CHECK(!maas_json_int(parse("1e300"), INT64_MIN, INT64_MAX, &i));
	CHECK(maas_json_finite(parse("1e38"), true, &d));
	CHECK(!maas_json_finite(parse("1e39"), true, &d));
	CHECK(maas_json_finite(parse("1e39"), false, &d));
	CHECK(!maas_json_finite(parse("1e400"), false, &d));
	CHECK(parse("0.1")->u.number == 0.1);
	CHECK(parse("-12.5e-1")->u.number == -1.25);
	/* a long number goes through its own buffer */
	CHECK(parse("1.00000000000000000000000000000000000000000000000000000000000000000001")
		  ->u.number == 1.0);
}

static void
check_bad(const char *text, const char *fragment)
{
	MaasJson   *v = parse(text);

	if (v != NULL || strstr(err.msg, fragment) == NULL)
	{
		unit_fail(__FILE__, __LINE__, text);
		fprintf(stderr, "    wanted: %s\n    got: %s\n", fragment,
				v != NULL ? "success" : err.msg);
	}
	else
		CHECK(err.status == MAAS_ERR_INVALID);
}

static void
test_errors(void)
{
	check_bad("", "byte 0: unexpected end of text");
	check_bad("   ", "byte 3: unexpected end of text");
	check_bad("{", "byte 1: unexpected end of text");
	check_bad("[1,", "byte 3: unexpected end of text");
	check_bad("[1 2]", "byte 3: expected \",\" or \"]\"");
	check_bad("{\"a\" 1}", "expected \":\"");
	check_bad("{\"a\":1,}", "expected a string as object key");
	check_bad("{1:2}", "expected a string as object key");
	check_bad("[01]", "leading zero");
	check_bad("[1.]", "expected a digit after the decimal point");
	check_bad("[1e]", "expected a digit in the exponent");
	check_bad("[-]", "expected a digit");
	check_bad("[+1]", "unexpected character");
	check_bad("tru", "unexpected character");
	check_bad("nul", "unexpected character");
	check_bad("1 2", "byte 2: unexpected data after the top-level value");
	check_bad("\"abc", "unterminated string");
	check_bad("\"a\\x\"", "invalid escape");
	check_bad("\"\\u12zz\"", "invalid \\u escape");
	check_bad("\"\\u12", "truncated \\u escape");
	check_bad("\"\\u0000\"", "NUL character in string");
	check_bad("\"\\udc00\"", "unpaired low surrogate");
	check_bad("\"\\ud800\"", "unpaired high surrogate");
	check_bad("\"\\ud800\\u0041\"", "unpaired high surrogate");
	check_bad("\"a\tb\"", "unescaped control character");
	check_bad("\"\xc3\x28\"", "invalid UTF-8");
	check_bad("\"\xed\xa0\x80\"", "invalid UTF-8");	/* a surrogate */
	check_bad("\"\xc0\xaf\"", "invalid UTF-8");		/* overlong */
	check_bad("{\"a\":1,\"a\":2}", "duplicate key \"a\"");
	check_bad("{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,"
			  "\"k7\":7,\"k8\":8,\"k9\":9,\"k3\":3}", "duplicate key \"k3\"");
	{
		MaasJson   *v = maas_json_parse("a\0b", 3, 0, NULL, &err);

		CHECK_ERR(v != NULL, err.msg, "unexpected character");
		v = maas_json_parse("\"a\0b\"", 5, 0, NULL, &err);
		CHECK_ERR(v != NULL, err.msg, "NUL byte in string");
	}
}

static void
test_depth(void)
{
	char		deep[200];
	MaasJson   *v;

	for (int i = 0; i < 64; i++)
		deep[i] = '[';
	for (int i = 0; i < 64; i++)
		deep[64 + i] = ']';
	deep[128] = '\0';
	CHECK(parse(deep) != NULL);
	memmove(deep + 1, deep, 129);
	deep[0] = '[';
	strcat(deep, "]");
	check_bad(deep, "nesting too deep");
	v = maas_json_parse("[[1]]", 5, 1, NULL, &err);
	CHECK_ERR(v != NULL, err.msg, "nesting too deep");
	CHECK(maas_json_parse("[[1]]", 5, 2, NULL, &err) != NULL);
}

static int	ticks;

static void
count_tick(void *arg)
{
	(void) arg;
	ticks++;
}

static void
test_big_and_ticks(void)
{
	size_t		n = 100000;
	char	   *text = malloc(n * 16 + 16);
	size_t		len = 0;
	MaasTick	tick = {count_tick, NULL};
	MaasJson   *v;

	text[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t) sprintf(text + len, "%s\"%zu\":%zu", i ? "," : "", i, i % 7);
	text[len++] = '}';
	ticks = 0;
	v = maas_json_parse(text, len, 0, &tick, &err);
	CHECK(v != NULL && v->n == (int) n);
	CHECK(ticks >= (int) (n / 4096));
	CHECK(v != NULL && maas_json_get(v, "99999")->integer == 99999 % 7);
	/*
	 * The tree and the scratch stacks cost a bounded multiple of the text:
	 * for one flat object of short members, the worst shape, about 16x.
	 */
	CHECK(arena_in_use() < len * 24);
	free(text);
}

/* every prefix of a document is refused cleanly, never read past */
static void
test_truncations(void)
{
	const char *doc = "{\"name\": \"v\\u00e9\\ud83d\\ude00\", \"shape\": [1, 2.5e3, -7],"
		" \"ok\": true, \"no\": null, \"deep\": {\"x\": [[]]}}";
	size_t		len = strlen(doc);

	for (size_t k = 0; k < len; k++)
	{
		char	   *copy = malloc(k ? k : 1);

		memcpy(copy, doc, k);
		CHECK(maas_json_parse(copy, k, 0, NULL, &err) == NULL);
		CHECK(err.status == MAAS_ERR_INVALID);
		free(copy);
	}
	CHECK(maas_json_parse(doc, len, 0, NULL, &err) != NULL);
}

static void
test_out_of_memory(void)
{
	const char *doc = "{\"a\": [1, 2, {\"b\": \"c\"}], \"d\": [\"e\", \"f\"],"
		" \"g\": 1.000000000000000000000000000000000000000000000000000000000000001}";
	int			failures = 0;

	for (long n = 0; n < 200; n++)
	{
		MaasJson   *v;

		arena_fail_after(n);
		v = maas_json_parse(doc, strlen(doc), 0, NULL, &err);
		arena_fail_after(-1);
		if (v == NULL)
		{
			CHECK(err.status == MAAS_ERR_NOMEM);
			CHECK(strcmp(err.msg, "out of memory") == 0);
			failures++;
		}
		else
			break;
	}
	CHECK(failures > 3);
}

static void
test_writer(void)
{
	MaasBuf		b;
	MaasJson   *v;
	const char *s = "q\"b\\s\n\t\x01\xc3\xa9";

	maas_buf_init(&b);
	maas_buf_puts(&b, "[");
	maas_json_write_string(&b, s, strlen(s));
	maas_buf_puts(&b, ",");
	maas_json_write_number(&b, 0.1, false);
	maas_buf_puts(&b, ",");
	maas_json_write_number(&b, (double) 0.1f, true);
	maas_buf_puts(&b, ",");
	maas_json_write_number(&b, NAN, false);
	maas_buf_printf(&b, ",%d]", 42);
	CHECK(!b.oom);
	CHECK(strcmp(b.data, "[\"q\\\"b\\\\s\\n\\t\\u0001\xc3\xa9\",0.1,0.1,null,42]") == 0);
	v = maas_json_parse(b.data, b.len, 0, NULL, &err);
	CHECK(v != NULL && strcmp(maas_json_at(v, 0)->u.string, s) == 0);
	CHECK(maas_json_at(v, 1)->u.number == 0.1);
	CHECK((float) maas_json_at(v, 2)->u.number == 0.1f);

	/* every double in a sample reads back exactly */
	{
		uint64_t	x = 88172645463325252ULL;

		for (int i = 0; i < 2000; i++)
		{
			double		d;
			MaasBuf		one;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(&d, &x, sizeof(d));
			if (!isfinite(d))
				continue;
			maas_buf_init(&one);
			maas_json_write_number(&one, d, false);
			CHECK(parse(one.data)->u.number == d);
		}
	}

	/* an allocation failure sticks */
	arena_fail_after(1);
	maas_buf_init(&b);
	for (int i = 0; i < 100; i++)
		maas_buf_puts(&b, "0123456789");
	arena_fail_after(-1);
	CHECK(b.oom);
}

static void
test_error_convention(void)
{
	MaasError	e;
	char		big[400];

	CHECK(!maas_error(&e, MAAS_ERR_LIMIT, "x %d", 5));
	CHECK(e.status == MAAS_ERR_LIMIT && strcmp(e.msg, "x 5") == 0);
	CHECK(!maas_error(NULL, MAAS_ERR_LIMIT, "ignored"));
	/* a cut message does not end inside a character */
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	for (int i = 250; i < 260; i += 2)
	{
		big[i] = '\xc3';
		big[i + 1] = '\xa9';
	}
	for (int shift = 0; shift < 4; shift++)
	{
		maas_error(&e, MAAS_ERR_INVALID, "%.*s%s", shift, "bbb", big);
		CHECK(maas_utf8_valid((const uint8_t *) e.msg, strlen(e.msg)));
	}
	CHECK(strcmp(maas_status_name(MAAS_ERR_NOMEM), "nomem") == 0);
	CHECK(strcmp(maas_status_name((MaasStatus) 99), "unknown") == 0);
}

int
main(void)
{
	UNIT_RUN(test_values);
	UNIT_RUN(test_numbers);
	UNIT_RUN(test_errors);
	UNIT_RUN(test_depth);
	UNIT_RUN(test_big_and_ticks);
	UNIT_RUN(test_truncations);
	UNIT_RUN(test_out_of_memory);
	UNIT_RUN(test_writer);
	UNIT_RUN(test_error_convention);
	return unit_finish("json");
}
