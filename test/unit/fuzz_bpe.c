/*
 * fuzz_bpe.c
 *		libFuzzer target for GPT-2's byte-level BPE (tokenizer_bpe.c).
 *
 * The first byte picks what the rest is:
 *	0x01	merges.txt for a fixed vocabulary: building must succeed or fail
 *			with a message, never crash;
 *	0x02	a "tokenizer" object (JSON) for maas_tokenizer_build, any form;
 *	else	text, encoded with a fixed small tokenizer: invalid UTF-8 must be
 *			refused, valid text must give ids in range that decode back to
 *			exactly the text, the heap and the direct merge loop must agree,
 *			and any ids must decode to valid UTF-8.
 * A broken promise traps.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tokenizer_int.h"
#include "unit.h"
#include "utf8.h"

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

static const char *const extra[] = {
	"he", "ll", "hell", "hello", "\xc4\xa0t", "\xc4\xa0the", "aa", "aaaa",
	"\xc3\xa4\xc2\xb8", "\xc3\xa4\xc2\xb8\xc5\x83", "'s", "\xc4\xa0\xc4\xa0",
	"<|endoftext|>"
};
static const char *const merges =
	"#version: 0.2\nh e\nl l\nhe ll\nhell o\n\xc4\xa0 t\n\xc4\xa0t he\na a\naa aa\n"
	"\xc3\xa4 \xc2\xb8\n\xc3\xa4\xc2\xb8 \xc5\x83\n' s\n\xc4\xa0 \xc4\xa0\n";

static uint32_t
byte_cp(int b)
{
	int			n = 0;

	if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
		return (uint32_t) b;
	for (int c = 0; c < b; c++)
		if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE))
			n++;
	return 256 + (uint32_t) n;
}

static MaasJson *
vocab_json(void)
{
	MaasBuf		b;
	MaasError	err;

	maas_buf_init(&b);
	maas_buf_puts(&b, "{");
	for (int i = 0; i < 256; i++)
		maas_buf_printf(&b, "%s\"\\u%04x\": %d", i ? ", " : "", byte_cp(i), i);
	for (int i = 0; i < (int) (sizeof(extra) / sizeof(extra[0])); i++)
	{
		maas_buf_puts(&b, ", ");
		maas_json_write_string(&b, extra[i], strlen(extra[i]));
		maas_buf_printf(&b, ": %d", 256 + i);
	}
	maas_buf_puts(&b, "}");
	REQUIRE(!b.oom);
	return maas_json_parse(b.data, b.len, 0, NULL, &err);
}

static void
check_error(const MaasError *err)
{
	REQUIRE(err->status == MAAS_ERR_INVALID || err->status == MAAS_ERR_UNSUPPORTED ||
			err->status == MAAS_ERR_LIMIT || err->status == MAAS_ERR_NOMEM);
	REQUIRE(strlen(err->msg) > 0);
}

/*
 * The fixed tokenizers live in the arena across inputs (building them for
 * each would be most of the time); the arena is emptied and they are built
 * again when it has grown.
 */
static MaasTokenizer *tok;
static MaasTokenizer *heap;

static void
setup(void)
{
	MaasError	err;
	MaasJson   *vocab;

	if (tok != NULL && arena_in_use() < 64 * 1024 * 1024)
		return;
	arena_reset();
	vocab = vocab_json();
	tok = maas_bpe_build(vocab, merges, strlen(merges), 0, NULL, &err);
	heap = maas_bpe_build(vocab, merges, strlen(merges), 0, NULL, &err);
	REQUIRE(tok != NULL && heap != NULL);
	tok_bpe_set_direct_limit((MaasBpe *) heap->bpe, 0);
}

static void
fuzz_text(const uint8_t *data, size_t size)
{
	MaasError	err;
	int32_t		n,
				n2;
	int32_t    *ids,
			   *ids2;
	size_t		len;
	char	   *back;
	int32_t		arbitrary[64];
	size_t		k = 0;

	ids = maas_tokenizer_encode(tok, (const char *) data, size, NULL, &n, NULL, &err);
	if (!maas_utf8_valid(data, size))
	{
		REQUIRE(ids == NULL && err.status == MAAS_ERR_INVALID);
	}
	else
	{
		REQUIRE(ids != NULL && (size_t) n <= size);
		for (int32_t i = 0; i < n; i++)
			REQUIRE(ids[i] >= 0 && ids[i] < tok->n_vocab);
		back = maas_tokenizer_decode(tok, ids, (size_t) n, false, &len, NULL, &err);
		REQUIRE(back != NULL && len == size && memcmp(back, data, size) == 0);
		ids2 = maas_tokenizer_encode(heap, (const char *) data, size, NULL, &n2, NULL, &err);
		REQUIRE(ids2 != NULL && n2 == n && memcmp(ids, ids2, (size_t) n * sizeof(int32_t)) == 0);
	}
	/* any ids decode to valid UTF-8 */
	for (size_t i = 0; i + 1 < size && k < 64; i += 2)
		arbitrary[k++] = (int32_t) ((data[i] << 8 | data[i + 1]) % (uint32_t) tok->n_vocab);
	back = maas_tokenizer_decode(tok, arbitrary, k, (size & 1) != 0, &len, NULL, &err);
	REQUIRE(back != NULL && back[len] == '\0' && maas_utf8_valid((const uint8_t *) back, len));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MaasError	err;

	setup();
	if (size > 0 && data[0] == 0x01)
	{
		MaasJson   *vocab = vocab_json();
		MaasTokenizer *t = maas_bpe_build(vocab, (const char *) data + 1, size - 1,
										  0, NULL, &err);

		if (t == NULL)
			check_error(&err);
		else
		{
			int32_t		n;
			int32_t    *ids = maas_tokenizer_encode(t, "hello the aaaa", 14, NULL, &n,
													NULL, &err);

			REQUIRE(ids != NULL);
		}
	}
	else if (size > 0 && data[0] == 0x02)
	{
		MaasJson   *spec = maas_json_parse((const char *) data + 1, size - 1, 0, NULL, &err);
		MaasTokenizer *t = spec == NULL ? NULL :
			maas_tokenizer_build(spec, 0, NULL, &err);

		if (t == NULL)
			check_error(&err);
		else
		{
			int32_t		n;
			size_t		len;
			int32_t    *ids = maas_tokenizer_encode(t, "Hello the ABC, it's \xc3\xa9", 22,
													NULL, &n, NULL, &err);

			if (ids == NULL)
				check_error(&err);
			else
			{
				for (int32_t i = 0; i < n; i++)
					REQUIRE(ids[i] >= 0 && ids[i] < t->n_vocab);
				REQUIRE(maas_tokenizer_decode(t, ids, (size_t) n, false, &len, NULL,
											  &err) != NULL);
			}
		}
	}
	else
		fuzz_text(data, size);
	return 0;
}
