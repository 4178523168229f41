/*
 * test_tokenizer_flat.c
 *		Unit tests of the flat form of the tokenizers (tokenizer_flat.c):
 *		a tokenizer read from its flat form encodes, decodes and looks up
 *		exactly as the one it was made from, on the fixtures' GPT-2 and BERT
 *		files and on small tokenizers written here; the form depends on
 *		nothing but its bytes; damaged bytes are refused with a message.
 *
 * "test_tokenizer_flat --corpus DIR" writes seed inputs for fuzz_tokflat.
 */
#include <stdlib.h>

#include "json.h"
#include "tokenizer_bpe_int.h"
#include "unit.h"
#include "utf8.h"

static MaasError err;

static uint64_t rng_state = 0x2545f4914f6cdd1d;

static uint32_t
rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t) (rng_state % n);
}

static char *
read_fixture(const char *rel, size_t *len)
{
	char		path[1024];
	const char *dir = getenv("MAAS_TEXT_FIXTURES");
	FILE	   *f;
	char	   *buf;
	long		n;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "../fixtures/text", rel);
	if ((f = fopen(path, "rb")) == NULL)
	{
		fprintf(stderr, "    cannot open %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = maas_kalloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
		n = -1;
	fclose(f);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	*len = (size_t) n;
	return buf;
}

static MaasTokenizer *
fixture_gpt2(void)
{
	size_t		vlen,
				mlen;
	char	   *vocab = read_fixture("tiny_gpt2/vocab.json", &vlen);
	char	   *merges = read_fixture("tiny_gpt2/merges.txt", &mlen);
	MaasJson   *v;

	if (vocab == NULL || merges == NULL)
		return NULL;
	v = maas_json_parse(vocab, vlen, 0, NULL, &err);
	if (v == NULL)
		return NULL;
	return maas_bpe_build(v, merges, mlen, 64, NULL, &err);
}

static MaasTokenizer *
fixture_bert(void)
{
	size_t		len;
	char	   *vocab = read_fixture("tiny_bert/vocab.txt", &len);

	if (vocab == NULL)
		return NULL;
	return maas_wordpiece_build(vocab, len, NULL, 32, NULL, &err);
}

/* texts of every kind the pre-tokenizers split differently */
static const char *const texts[] = {
	"Hello world", "The database is", "  leading and trailing  ", "it's we're I'll they've",
	"caf\xc3\xa9 na\xc3\xafve \xc3\x85ngstr\xc3\xb6m", "\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97",
	"emoji \xf0\x9f\x98\x80\xf0\x9f\x91\x8d!", "tabs\tand\nnewlines\r\n", "1234567 89",
	"UNAFFABLE running jumped, quickly.", "<|endoftext|> is text", "",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

/* a random valid UTF-8 text of up to n characters */
static char *
random_text(int n)
{
	char	   *s = maas_kalloc(4 * (size_t) n + 1);
	size_t		o = 0;

	for (int i = 0; i < n; i++)
	{
		uint32_t	cp;

		switch (rnd(4))
		{
			case 0:
				cp = ' ' + rnd(95);
				break;
			case 1:
				cp = "  \t\nabcdehlorst'"[rnd(16)];
				break;
			case 2:
				cp = 0xA0 + rnd(0x500);
				break;
			default:
				cp = rnd(2) ? 0x4E00 + rnd(0x100) : 0x1F600 + rnd(0x40);
				break;
		}
		o += maas_utf8_encode(cp, (uint8_t *) s + o);
	}
	s[o] = '\0';
	return s;
}

/* a and b encode, decode and look up alike */
static bool
same_tokenizer(const MaasTokenizer *a, const MaasTokenizer *b, int n_random)
{
	int			n_texts = (int) (sizeof(texts) / sizeof(texts[0]));

	if (a->kind != b->kind || a->n_vocab != b->n_vocab || a->unk_id != b->unk_id ||
		a->cls_id != b->cls_id || a->sep_id != b->sep_id || a->pad_id != b->pad_id ||
		a->mask_id != b->mask_id || a->bos_id != b->bos_id || a->eos_id != b->eos_id ||
		a->max_length != b->max_length)
		return false;
	for (int i = 0; i < n_texts + n_random; i++)
	{
		const char *s = i < n_texts ? texts[i] : random_text(1 + (int) rnd(80));
		int32_t		na,
					nb;
		int32_t    *ia = maas_tokenizer_encode(a, s, strlen(s), NULL, &na, NULL, &err);
		int32_t    *ib = maas_tokenizer_encode(b, s, strlen(s), NULL, &nb, NULL, &err);
		size_t		la,
					lb;
		char	   *da,
				   *db;

		if (ia == NULL || ib == NULL || na != nb ||
			memcmp(ia, ib, sizeof(int32_t) * (size_t) na) != 0)
		{
			fprintf(stderr, "    encodings of \"%s\" differ\n", s);
			return false;
		}
		for (int skip = 0; skip < 2; skip++)
		{
			da = maas_tokenizer_decode(a, ia, (size_t) na, skip, &la, NULL, &err);
			db = maas_tokenizer_decode(b, ib, (size_t) nb, skip, &lb, NULL, &err);
			if (da == NULL || db == NULL || la != lb || memcmp(da, db, la) != 0)
			{
				fprintf(stderr, "    decodings of \"%s\" differ\n", s);
				return false;
			}
		}
	}
	for (int32_t id = 0; id < a->n_vocab; id++)
	{
		size_t		la,
					lb;
		const uint8_t *ta = maas_tokenizer_token(a, id, &la);
		const uint8_t *tb = maas_tokenizer_token(b, id, &lb);

		if (la != lb || memcmp(ta, tb, la) != 0 ||
			maas_tokenizer_lookup(b, (const char *) tb, lb) !=
			maas_tokenizer_lookup(a, (const char *) ta, la))
		{
			fprintf(stderr, "    token %d differs\n", id);
			return false;
		}
	}
	return true;
}

/* the flat form in a buffer of its own (malloc: 16-byte aligned), freed never */
static uint8_t *
flat_copy(const MaasTokenizer *tok, size_t *len)
{
	uint8_t    *flat = maas_tokenizer_flatten(tok, len, &err);
	uint8_t    *copy;

	if (flat == NULL)
		return NULL;
	copy = malloc(*len);
	memcpy(copy, flat, *len);
	memset(flat, 0xAA, *len);	/* nothing may point into the first one */
	return copy;
}

static void
test_flat_bpe(void)
{
	MaasTokenizer *tok = fixture_gpt2();
	MaasTokenizer *flat;
	uint8_t    *bytes;
	size_t		len;

	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	bytes = flat_copy(tok, &len);
	CHECK(bytes != NULL && len % 8 == 0);
	flat = maas_tokenizer_from_flat(bytes, len, &err);
	CHECK(flat != NULL);
	if (flat == NULL)
		fprintf(stderr, "    %s\n", err.msg);
	else
	{
		CHECK(flat->bpe != NULL && flat->eos_id >= 0);
		CHECK(same_tokenizer(tok, flat, 300));
		/* flattening the flat one gives the same bytes */
		{
			size_t		len2;
			uint8_t    *again = maas_tokenizer_flatten(flat, &len2, &err);

			CHECK(again != NULL && len2 == len && memcmp(again, bytes, len) == 0);
		}
	}
	free(bytes);
}

static void
test_flat_wordpiece(void)
{
	MaasTokenizer *tok = fixture_bert();
	MaasWordPieceOptions opt;
	static const char vocab[] = "[UNK]\n[CLS]\n[SEP]\nun\n@@aff\n@@able\nhello\n,\n.\nthe\n@@s\n";
	MaasTokenizer *flat;
	uint8_t    *bytes;
	size_t		len;

	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	bytes = flat_copy(tok, &len);
	CHECK(bytes != NULL);
	flat = maas_tokenizer_from_flat(bytes, len, &err);
	CHECK(flat != NULL && flat->wordpiece != NULL);
	if (flat != NULL)
		CHECK(same_tokenizer(tok, flat, 300));
	free(bytes);

	/* the options travel too: no lower case, another prefix, a word limit */
	maas_wordpiece_defaults(&opt);
	opt.do_lower_case = false;
	opt.continuing_subword_prefix = "@@";
	opt.max_input_chars_per_word = 9;
	tok = maas_wordpiece_build(vocab, strlen(vocab), &opt, 0, NULL, &err);
	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	bytes = flat_copy(tok, &len);
	flat = maas_tokenizer_from_flat(bytes, len, &err);
	CHECK(flat != NULL);
	if (flat != NULL)
	{
		int32_t		n;
		int32_t    *ids = maas_tokenizer_encode(flat, "unaffable Unaffable hello helloworld", 36, NULL, &n,
												NULL, &err);

		CHECK(same_tokenizer(tok, flat, 100));
		/* [CLS] un @@aff @@able [UNK] (upper case) hello [UNK] (10 chars) [SEP] */
		CHECK(ids != NULL && n == 8 && ids[0] == 1 && ids[1] == 3 && ids[2] == 4 &&
			  ids[3] == 5 && ids[4] == 0 && ids[5] == 6 && ids[6] == 0 && ids[7] == 2);
	}
	free(bytes);
}

/* recompute the checksum after a change, so that the structure is what is tested */
static void
reseal(uint8_t *bytes, size_t len)
{
	TokFlatHeader h;

	memcpy(&h, bytes, sizeof(h));
	h.checksum = tok_flat_checksum(bytes, len);
	memcpy(bytes, &h, sizeof(h));
}

static bool
refused(const uint8_t *bytes, size_t len, const char *fragment)
{
	MaasError	e;

	if (maas_tokenizer_from_flat(bytes, len, &e) != NULL)
	{
		fprintf(stderr, "    accepted, expected \"%s\"\n", fragment);
		return false;
	}
	if (e.status != MAAS_ERR_INVALID || strstr(e.msg, fragment) == NULL)
	{
		fprintf(stderr, "    got \"%s\", expected \"%s\"\n", e.msg, fragment);
		return false;
	}
	return true;
}

static void
test_flat_damaged(void)
{
	MaasTokenizer *tok = fixture_gpt2();
	MaasTokenizer *wp = fixture_bert();
	uint8_t    *good,
			   *b;
	size_t		len,
				wlen;
	TokFlatHeader h;
	uint8_t    *wgood;

	CHECK(tok != NULL && wp != NULL);
	if (tok == NULL || wp == NULL)
		return;
	good = flat_copy(tok, &len);
	wgood = flat_copy(wp, &wlen);
	b = malloc(len + 8);
	memcpy(&h, good, sizeof(h));

	/* any flipped bit is seen: in the header, or by the checksum */
	for (int i = 0; i < 2000; i++)
	{
		size_t		at = i < (int) sizeof(h) ? (size_t) i : rnd((uint32_t) len);

		memcpy(b, good, len);
		b[at] ^= (uint8_t) (1 << rnd(8));
		CHECK(refused(b, len, "invalid flat tokenizer"));
	}
	memcpy(b, good, len);
	CHECK(refused(b, len - 8, "size does not match"));
	CHECK(refused(b, 100, "too short"));
	memcpy(b + 4, good, len);
	CHECK(refused(b + 4, len, "misaligned"));
	memcpy(b, good, len);
	memcpy(b, "maastok0", 8);
	CHECK(refused(b, len, "not a tokenizer of this format"));

	/* a consistent checksum over damaged tables: each check holds */
#define DAMAGE(fragment, stmt) \
	do { \
		memcpy(b, good, len); \
		stmt; \
		reseal(b, len); \
		CHECK(refused(b, len, fragment)); \
	} while (0)
	DAMAGE("outside the block", ((TokFlatHeader *) b)->sec[2].off += 8);
	DAMAGE("outside the block", ((TokFlatHeader *) b)->sec[7].len = len);
	DAMAGE("do not match its size", ((TokFlatHeader *) b)->n_vocab += 1);
	DAMAGE("vocabulary size", ((TokFlatHeader *) b)->n_vocab = 0);
	DAMAGE("special token", ((TokFlatHeader *) b)->ids[6] = h.n_vocab);
	DAMAGE("maximum length", ((TokFlatHeader *) b)->ids[7] = -5);
	DAMAGE("unknown kind", ((TokFlatHeader *) b)->kind = 3);
	DAMAGE("BPE setting", ((TokFlatHeader *) b)->p[1] = (uint64_t) MAAS_TOKENIZER_MAX_MERGES + 1);
	DAMAGE("out of order", ((uint32_t *) (b + h.sec[TOK_SEC_OFF].off))[5] = 1000000);
	DAMAGE("cover the pool", ((uint32_t *) (b + h.sec[TOK_SEC_OFF].off))[h.n_vocab] += 1);
	{
		uint64_t   *slots = (uint64_t *) (b + h.sec[TOK_SEC_SLOTS].off);
		uint64_t	n = h.sec[TOK_SEC_SLOTS].len / 8;
		uint64_t	i = 0;

		memcpy(b, good, len);
		while (slots[i] == 0)
			i++;
		slots[i] = (slots[i] & ~(uint64_t) UINT32_MAX) | ((uint64_t) h.n_vocab + 1);
		reseal(b, len);
		CHECK(refused(b, len, "id out of range"));
		memcpy(b, good, len);
		for (i = 0; i < n; i++)
			if (slots[i] == 0)
				slots[i] = 1;
		reseal(b, len);
		CHECK(refused(b, len, "hash is full"));
	}
	DAMAGE("byte 0x41", ((int32_t *) (b + h.sec[TOK_SEC_KIND].off))[0x41] = -1);
	{
		BpeSlot    *m = (BpeSlot *) (b + h.sec[TOK_SEC_KIND + 1].off);
		uint64_t	n = h.sec[TOK_SEC_KIND + 1].len / sizeof(BpeSlot);
		uint64_t	i = 0;

		memcpy(b, good, len);
		while (m[i].key == BPE_EMPTY)
			i++;
		m[i].merged = h.n_vocab;
		reseal(b, len);
		CHECK(refused(b, len, "merge slot"));
		memcpy(b, good, len);
		for (i = 0; i < n; i++)
			if (m[i].key == BPE_EMPTY)
				m[i] = (BpeSlot) {.key = 0, .rank = 1, .merged = 0};
		reseal(b, len);
		CHECK(refused(b, len, "merge table is full"));
	}

	/* WordPiece's trie */
	{
		TokFlatHeader wh;
		uint8_t    *w = malloc(wlen);
		MaasError	e;

		memcpy(&wh, wgood, sizeof(wh));
#define WDAMAGE(fragment, stmt) \
	do { \
		memcpy(w, wgood, wlen); \
		stmt; \
		reseal(w, wlen); \
		CHECK(refused(w, wlen, fragment)); \
	} while (0)
		WDAMAGE("WordPiece setting", ((TokFlatHeader *) w)->p[5] = 0);
		WDAMAGE("WordPiece setting", ((TokFlatHeader *) w)->p[6] = (uint64_t) wh.n_vocab);
		WDAMAGE("names a token", ((int32_t *) (w + wh.sec[TOK_SEC_KIND + 2].off))[3] = wh.n_vocab);
		{
			uint64_t   *keys = (uint64_t *) (w + wh.sec[TOK_SEC_KIND].off);
			int32_t    *vals = (int32_t *) (w + wh.sec[TOK_SEC_KIND + 1].off);
			uint64_t	i = 0;

			memcpy(w, wgood, wlen);
			while (keys[i] == 0)
				i++;
			vals[i] = (int32_t) (wh.sec[TOK_SEC_KIND + 2].len / 4);
			reseal(w, wlen);
			CHECK(refused(w, wlen, "leads out of the trie"));
		}
		WDAMAGE("not valid UTF-8", (w + wh.sec[TOK_SEC_POOL].off)[0] = 0xFF);
		memcpy(w, wgood, wlen);
		CHECK(maas_tokenizer_from_flat(w, wlen, &e) != NULL);
		free(w);
	}
	free(b);
	free(good);
	free(wgood);
}

static void
test_flat_out_of_memory(void)
{
	MaasTokenizer *tok = fixture_gpt2();
	uint8_t    *bytes;
	size_t		len;
	int			failures = 0;

	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	bytes = flat_copy(tok, &len);
	for (long n = 0; n < 4; n++)
	{
		size_t		l;

		arena_fail_after(n);
		if (maas_tokenizer_flatten(tok, &l, &err) == NULL)
		{
			CHECK(err.status == MAAS_ERR_NOMEM);
			failures++;
		}
		arena_fail_after(n);
		if (maas_tokenizer_from_flat(bytes, len, &err) == NULL)
		{
			CHECK(err.status == MAAS_ERR_NOMEM);
			failures++;
		}
		arena_fail_after(-1);
	}
	CHECK(failures >= 3);
	free(bytes);
}

/* seeds for fuzz_tokflat: a kind byte, then patches (see there) */
static int
write_corpus(const char *dir)
{
	static const uint8_t seeds[][8] = {
		{0x00}, {0x01}, {0x80, 0x10, 0x00, 0x07}, {0x81, 0x20, 0x01, 0xff},
		{0x80, 0x40, 0x02, 0x00, 0x41, 0x02, 0x00}, {0x02, 'h', 'i'},
	};
	static const int lens[] = {1, 1, 4, 4, 7, 3};

	for (int i = 0; i < (int) (sizeof(lens) / sizeof(lens[0])); i++)
	{
		char		name[32];

		snprintf(name, sizeof(name), "seed_%d", i);
		if (!unit_write_file(dir, name, seeds[i], (size_t) lens[i]))
			return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
		return write_corpus(argv[2]);

	UNIT_RUN(test_flat_bpe);
	UNIT_RUN(test_flat_wordpiece);
	UNIT_RUN(test_flat_damaged);
	UNIT_RUN(test_flat_out_of_memory);
	return unit_finish("tokenizer_flat");
}
