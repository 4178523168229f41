/*
 * fuzz_tokflat.c
 *		libFuzzer target for the flat form of the tokenizers
 *		(tokenizer_flat.c), which a backend reads from a file.
 *
 * The first byte picks a flat form, made once from a small BPE (even) or
 * WordPiece (odd) tokenizer; with its top bit set, the checksum is made
 * right again after the changes, so that the checks of the structure are
 * what is tested.  Byte 2 is 0x02 for raw input: the rest is the block
 * itself.  Otherwise the rest is patches of three bytes each (offset low,
 * offset high, value: the offset taken modulo the block's size).  Reading
 * must then fail with a message or give a tokenizer that encodes, decodes
 * and looks up without crashing or looping, with ids in range and decoded
 * text valid UTF-8.  A broken promise traps.
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
	"he", "ll", "hell", "hello", "\xc4\xa0t", "\xc4\xa0the", "aa", "aaaa", "<|endoftext|>"
};
static const char *const merges =
	"#version: 0.2\nh e\nl l\nhe ll\nhell o\n\xc4\xa0 t\n\xc4\xa0t he\na a\naa aa\n";
static const char vocab_txt[] =
	"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\nhello\n,\n.\nthe\n##s\n\xe4\xb8\xad\n";

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

static uint8_t *forms[2];
static size_t form_len[2];

static void
make_forms(void)
{
	MaasBuf		b;
	MaasError	err;
	MaasJson   *vocab;
	MaasTokenizer *tok[2];

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
	vocab = maas_json_parse(b.data, b.len, 0, NULL, &err);
	REQUIRE(vocab != NULL);
	tok[0] = maas_bpe_build(vocab, merges, strlen(merges), 16, NULL, &err);
	tok[1] = maas_wordpiece_build(vocab_txt, strlen(vocab_txt), NULL, 16, NULL, &err);
	REQUIRE(tok[0] != NULL && tok[1] != NULL);
	for (int k = 0; k < 2; k++)
	{
		uint8_t    *f = maas_tokenizer_flatten(tok[k], &form_len[k], &err);

		REQUIRE(f != NULL);
		forms[k] = malloc(form_len[k]);
		memcpy(forms[k], f, form_len[k]);
	}
}

static const char *const texts[] = {
	"hello the world", "  aaaa  aa hell", "unaffable, the \xe4\xb8\xad.", "<|endoftext|>", "x"
};

static void
exercise(const MaasTokenizer *tok)
{
	MaasError	err;

	for (int t = 0; t < (int) (sizeof(texts) / sizeof(texts[0])); t++)
	{
		int32_t		n;
		int32_t    *ids = maas_tokenizer_encode(tok, texts[t], strlen(texts[t]), NULL, &n,
											NULL, &err);
		size_t		len;
		char	   *s;

		if (ids == NULL)
			continue;
		for (int32_t i = 0; i < n; i++)
			REQUIRE(ids[i] >= 0 && ids[i] < tok->n_vocab);
		s = maas_tokenizer_decode(tok, ids, (size_t) n, false, &len, NULL, &err);
		REQUIRE(s == NULL || maas_utf8_valid((const uint8_t *) s, len));
	}
	for (int32_t id = 0; id < tok->n_vocab && id < 400; id++)
	{
		size_t		len;
		const uint8_t *s = maas_tokenizer_token(tok, id, &len);

		REQUIRE(s != NULL);
		(void) maas_tokenizer_lookup(tok, (const char *) s, len);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t buf[65536];
	uint8_t    *b = (uint8_t *) buf;
	size_t		len;
	int			k;
	MaasError	err;
	MaasTokenizer *tok;

	if (forms[0] == NULL)
		make_forms();
	if (size < 1)
		return 0;
	k = data[0] & 1;
	if (size >= 2 && data[1] == 0x02)
	{
		len = size - 2 < sizeof(buf) ? size - 2 : sizeof(buf);
		memcpy(b, data + 2, len);
	}
	else
	{
		len = form_len[k];
		REQUIRE(len <= sizeof(buf));
		memcpy(b, forms[k], len);
		for (size_t i = 1; i + 3 <= size; i += 3)
			b[(data[i] | (size_t) data[i + 1] << 8) % len] = data[i + 2];
		if ((data[0] & 0x80) && len >= sizeof(TokFlatHeader))
		{
			TokFlatHeader h;

			memcpy(&h, b, sizeof(h));
			h.checksum = tok_flat_checksum(b, len);
			memcpy(b, &h, sizeof(h));
		}
	}
	tok = maas_tokenizer_from_flat(b, len, &err);
	if (tok == NULL)
	{
		REQUIRE(err.status == MAAS_ERR_INVALID || err.status == MAAS_ERR_NOMEM);
		REQUIRE(strlen(err.msg) > 0);
	}
	else
		exercise(tok);
	arena_reset();
	return 0;
}
