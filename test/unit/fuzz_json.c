/*
 * fuzz_json.c
 *		libFuzzer target for the kernel JSON reader and writer.
 *
 * Each input is parsed.  When it parses, the tree is written back with the
 * writer, which must give text that parses to an equal tree; when it does
 * not, the error must say where.  A broken promise traps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "unit.h"
#include "utf8.h"

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

static void
write_value(MaasBuf *b, const MaasJson *v)
{
	switch ((MaasJsonType) v->type)
	{
		case MAAS_JSON_NULL:
			maas_buf_puts(b, "null");
			break;
		case MAAS_JSON_BOOL:
			maas_buf_puts(b, v->u.boolean ? "true" : "false");
			break;
		case MAAS_JSON_NUMBER:
			if (v->integral)
				maas_buf_printf(b, "%lld", (long long) v->integer);
			else if (isfinite(v->u.number))
				maas_json_write_number(b, v->u.number, false);
			else
				maas_buf_puts(b, v->u.number > 0 ? "1e999" : "-1e999");
			break;
		case MAAS_JSON_STRING:
			REQUIRE(strlen(v->u.string) == (size_t) v->n);
			REQUIRE(maas_utf8_valid((const uint8_t *) v->u.string, (size_t) v->n));
			maas_json_write_string(b, v->u.string, (size_t) v->n);
			break;
		case MAAS_JSON_ARRAY:
			maas_buf_puts(b, "[");
			for (int i = 0; i < v->n; i++)
			{
				if (i)
					maas_buf_puts(b, ",");
				write_value(b, &v->u.items[i]);
			}
			maas_buf_puts(b, "]");
			break;
		case MAAS_JSON_OBJECT:
			maas_buf_puts(b, "{");
			for (int i = 0; i < v->n; i++)
			{
				const MaasJsonMember *m = &v->u.members[i];

				if (i)
					maas_buf_puts(b, ",");
				REQUIRE(maas_json_get(v, m->key) == &m->value);
				maas_json_write_string(b, m->key, (size_t) m->key_len);
				maas_buf_puts(b, ":");
				write_value(b, &m->value);
			}
			maas_buf_puts(b, "}");
			break;
		default:
			REQUIRE(false);
	}
}

static bool
same(const MaasJson *a, const MaasJson *b)
{
	if (a->type != b->type || a->n != b->n)
		return false;
	switch ((MaasJsonType) a->type)
	{
		case MAAS_JSON_NULL:
			return true;
		case MAAS_JSON_BOOL:
			return a->u.boolean == b->u.boolean;
		case MAAS_JSON_NUMBER:
			/* the writer may drop a ".0": compare what the numbers are */
			if (a->integral && b->integral)
				return a->integer == b->integer;
			return a->u.number == b->u.number;
		case MAAS_JSON_STRING:
			return memcmp(a->u.string, b->u.string, (size_t) a->n) == 0;
		case MAAS_JSON_ARRAY:
			for (int i = 0; i < a->n; i++)
				if (!same(&a->u.items[i], &b->u.items[i]))
					return false;
			return true;
		case MAAS_JSON_OBJECT:
			for (int i = 0; i < a->n; i++)
				if (strcmp(a->u.members[i].key, b->u.members[i].key) != 0 ||
					!same(&a->u.members[i].value, &b->u.members[i].value))
					return false;
			return true;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MaasError	err;
	MaasJson   *v = maas_json_parse((const char *) data, size, 16, NULL, &err);

	if (v != NULL)
	{
		MaasBuf		b;
		MaasJson   *again;

		maas_buf_init(&b);
		write_value(&b, v);
		REQUIRE(!b.oom);
		again = maas_json_parse(b.data, b.len, 16, NULL, &err);
		REQUIRE(again != NULL);
		REQUIRE(same(v, again));
	}
	else
	{
		REQUIRE(err.status == MAAS_ERR_INVALID || err.status == MAAS_ERR_NOMEM);
		REQUIRE(strlen(err.msg) > 0);
	}
	arena_reset();
	return 0;
}
