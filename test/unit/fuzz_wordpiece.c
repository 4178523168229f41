/*
 * fuzz_wordpiece.c
 *		libFuzzer target for BERT's WordPiece (tokenizer_wordpiece*.c).
 *
 * The first byte picks what the rest is:
 *	0x01	vocab.txt: building must succeed or fail with a message;
 *	0x02	a "tokenizer" object (JSON) for maas_tokenizer_build;
 *	else	text, encoded with a fixed small vocabulary: invalid UTF-8 must be
 *			refused; valid text gives [CLS] ... [SEP] with ids in range; a
 *			truncated encoding is the full one cut; and when no piece is
 *			[UNK], encoding the decoded text gives the same ids again (the
 *			basic tokenizer is idempotent and the pieces glue back into
 *			their words).
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

static const char vocab_txt[] =
	"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
	"un\n##aff\n##able\nhello\n,\n.\n!\n\xe4\xb8\xad\nthe\n##s\n"
	"\xce\xbf\xce\xb4\xce\xbf\xcf\x82\ncafe\n##llo\nhe\na\nb\n##b\n##a\n"
	"istanbul\n\xe1\x84\x92\n##\xe1\x85\xa1\n\xcf\x83\n##\xcf\x83\n##\xcf\x82\n"
	"e\n##e\n'\n#\n";

static void
check_error(const MaasError *err)
{
	REQUIRE(err->status == MAAS_ERR_INVALID || err->status == MAAS_ERR_UNSUPPORTED ||
			err->status == MAAS_ERR_LIMIT || err->status == MAAS_ERR_NOMEM);
	REQUIRE(strlen(err->msg) > 0);
}

/* the fixed tokenizers stay in the arena across inputs, as in fuzz_bpe.c */
static MaasTokenizer *uncased;
static MaasTokenizer *cased;

static void
setup(void)
{
	MaasError	err;
	MaasWordPieceOptions opt;

	if (uncased != NULL && arena_in_use() < 64 * 1024 * 1024)
		return;
	arena_reset();
	maas_wordpiece_defaults(&opt);
	uncased = maas_wordpiece_build(vocab_txt, sizeof(vocab_txt) - 1, &opt, 0, NULL, &err);
	opt.do_lower_case = false;
	cased = maas_wordpiece_build(vocab_txt, sizeof(vocab_txt) - 1, &opt, 0, NULL, &err);
	REQUIRE(uncased != NULL && cased != NULL);
}

static void
fuzz_text(const uint8_t *data, size_t size, bool lower)
{
	MaasError	err;
	MaasTokenizer *tok = lower ? uncased : cased;
	MaasEncodeOptions eo;
	int32_t		n,
				n2,
				n3;
	int32_t    *ids,
			   *ids2,
			   *ids3;
	size_t		len;
	char	   *text;
	bool		unk = false;

	eo = maas_encode_defaults(tok);
	ids = maas_tokenizer_encode(tok, (const char *) data, size, &eo, &n, NULL, &err);
	if (!maas_utf8_valid(data, size))
	{
		REQUIRE(ids == NULL && err.status == MAAS_ERR_INVALID);
		return;
	}
	REQUIRE(ids != NULL && n >= 2 && ids[0] == tok->cls_id && ids[n - 1] == tok->sep_id);
	for (int32_t i = 0; i < n; i++)
	{
		REQUIRE(ids[i] >= 0 && ids[i] < tok->n_vocab);
		if (ids[i] == tok->unk_id)
			unk = true;
	}

	/* truncated: the same ids, cut, with [SEP] last */
	eo.max_length = 6;
	ids3 = maas_tokenizer_encode(tok, (const char *) data, size, &eo, &n3, NULL, &err);
	REQUIRE(ids3 != NULL && n3 == (n < 6 ? n : 6) && ids3[n3 - 1] == tok->sep_id);
	REQUIRE(memcmp(ids, ids3, (size_t) (n3 - 1) * sizeof(int32_t)) == 0);

	text = maas_tokenizer_decode(tok, ids, (size_t) n, true, &len, NULL, &err);
	REQUIRE(text != NULL && maas_utf8_valid((const uint8_t *) text, len));
	if (unk)
		return;
	eo.max_length = 0;
	ids2 = maas_tokenizer_encode(tok, text, len, &eo, &n2, NULL, &err);
	REQUIRE(ids2 != NULL && n2 == n && memcmp(ids, ids2, (size_t) n * sizeof(int32_t)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MaasError	err;

	setup();
	if (size > 0 && data[0] == 0x01)
	{
		MaasTokenizer *tok = maas_wordpiece_build((const char *) data + 1, size - 1,
												  NULL, 0, NULL, &err);

		if (tok == NULL)
			check_error(&err);
		else
		{
			int32_t		n;

			REQUIRE(maas_tokenizer_encode(tok, "Hello, unaffable \xe4\xb8\xad!", 22,
										  NULL, &n, NULL, &err) != NULL);
		}
	}
	else if (size > 0 && data[0] == 0x02)
	{
		MaasJson   *spec = maas_json_parse((const char *) data + 1, size - 1, 0, NULL, &err);
		MaasTokenizer *tok = spec == NULL ? NULL :
			maas_tokenizer_build(spec, 0, NULL, &err);

		if (tok == NULL)
			check_error(&err);
		else
		{
			int32_t		n;
			int32_t    *ids = maas_tokenizer_encode(tok, "Hello, unaffable \xe4\xb8\xad!", 22,
													NULL, &n, NULL, &err);

			if (ids == NULL)
				check_error(&err);
			else
				for (int32_t i = 0; i < n; i++)
					REQUIRE(ids[i] >= 0 && ids[i] < tok->n_vocab);
		}
	}
	else
		fuzz_text(data, size, size == 0 || (data[0] & 1) == 0);
	return 0;
}
