/*
 * test_tokenizer.c
 *		Unit tests of the tokenizers (src/kernel/tokenizer*.c) and their
 *		Unicode tables (src/kernel/unicode.c), on small vocabularies written
 *		here.  The comparisons with the real GPT-2 files and a BERT reference
 *		are in test/tokenizer/.
 *
 * "test_tokenizer --corpus DIR" writes seed inputs for fuzz_bpe and
 * fuzz_wordpiece; "--dict FILE" a libFuzzer dictionary.
 */
#include <setjmp.h>
#include <stdlib.h>

#include "json.h"
#include "tokenizer_int.h"
#include "unicode.h"
#include "unit.h"
#include "utf8.h"

static MaasError err;

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15;

static uint32_t
rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t) (rng_state % n);
}

static MaasJson *
parse(const char *s)
{
	MaasJson   *v = maas_json_parse(s, strlen(s), 0, NULL, &err);

	if (v == NULL)
		fprintf(stderr, "    bad test JSON: %s\n", err.msg);
	return v;
}

/* GPT-2's spelling of byte b */
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

/*
 * vocab.json text: the 256 bytes (id = byte), then extra tokens (already
 * in GPT-2's spelling, UTF-8) with ids 256 ..
 */
static char *
bpe_vocab_json(const char *const *extra, int n_extra)
{
	MaasBuf		b;

	maas_buf_init(&b);
	maas_buf_puts(&b, "{");
	for (int i = 0; i < 256; i++)
		maas_buf_printf(&b, "%s\"\\u%04x\": %d", i ? ", " : "", byte_cp(i), i);
	for (int i = 0; i < n_extra; i++)
	{
		maas_buf_puts(&b, ", ");
		maas_json_write_string(&b, extra[i], strlen(extra[i]));
		maas_buf_printf(&b, ": %d", 256 + i);
	}
	maas_buf_puts(&b, "}");
	return b.data;
}

static MaasTokenizer *
bpe_make(const char *const *extra, int n_extra, const char *merges)
{
	MaasJson   *vocab = parse(bpe_vocab_json(extra, n_extra));

	if (vocab == NULL)
		return NULL;
	return maas_bpe_build(vocab, merges, strlen(merges), 0, NULL, &err);
}

/* the hand-made GPT-2-like tokenizer of several tests ("Ġ" is a space) */
static const char *const small_tokens[] = {
	"he", "ll", "\xc4\xa0t", "\xc4\xa0the", "hell", "hello", "or",
	"\xc4\xa0w", "\xc4\xa0wor", "<|endoftext|>", "'s"
};
static const char *const small_merges =
	"#version: 0.2\n"
	"h e\n"
	"l l\n"
	"\xc4\xa0 t\n"
	"\xc4\xa0t he\n"
	"he ll\n"
	"hell o\n"
	"o r\n"
	"\xc4\xa0 w\n"
	"\xc4\xa0w or\n"
	"' s\n";

static MaasTokenizer *
small_bpe(void)
{
	return bpe_make(small_tokens, 11, small_merges);
}

static int32_t *
encode(const MaasTokenizer *tok, const char *s, int32_t *n)
{
	return maas_tokenizer_encode(tok, s, strlen(s), NULL, n, NULL, &err);
}

static bool
ids_are(const int32_t *ids, int32_t n, const int32_t *want, int32_t n_want)
{
	if (ids == NULL || n != n_want)
	{
		fprintf(stderr, "    got %d ids:", ids == NULL ? -1 : n);
		for (int32_t i = 0; ids != NULL && i < n; i++)
			fprintf(stderr, " %d", ids[i]);
		fprintf(stderr, "\n");
		return false;
	}
	for (int32_t i = 0; i < n; i++)
		if (ids[i] != want[i])
		{
			fprintf(stderr, "    id %d is %d, not %d\n", i, ids[i], want[i]);
			return false;
		}
	return true;
}

#define CHECK_IDS(tok, text, ...) \
	do { \
		const int32_t want_[] = {__VA_ARGS__}; \
		int32_t		n_; \
		int32_t    *ids_ = encode((tok), (text), &n_); \
		if (!ids_are(ids_, n_, want_, (int32_t) (sizeof(want_) / sizeof(want_[0])))) \
			unit_fail(__FILE__, __LINE__, "ids of " #text); \
	} while (0)

static char *
decode(const MaasTokenizer *tok, const int32_t *ids, size_t n, bool skip)
{
	size_t		len;

	return maas_tokenizer_decode(tok, ids, n, skip, &len, NULL, &err);
}

/* a random well-formed UTF-8 string of about n characters */
static char *
random_text(int n, size_t *len)
{
	static const uint32_t pool[] = {
		' ', ' ', ' ', '\n', '\t', 'a', 'e', 'h', 'l', 'o', 'r', 't', 'w', 's',
		'\'', '.', ',', '!', '1', '7', 0xE9, 0x301, 0x3A3, 0x4E2D, 0xAC00,
		0x1F600, 0x200D, 0xA0, 0x3000, 0x85, 0xFEFF, 0x2028, 0xFFFD, 0x10FFFF
	};
	uint8_t    *s = maas_kalloc(4 * (size_t) n + 1);
	size_t		o = 0;

	for (int i = 0; i < n; i++)
	{
		uint32_t	cp = pool[rnd(sizeof(pool) / sizeof(pool[0]))];

		if (rnd(8) == 0)
		{
			cp = rnd(0x110000);
			if (cp >= 0xD800 && cp <= 0xDFFF)
				cp = 'x';
		}
		if (cp == 0)
			cp = 'z';
		o += maas_utf8_encode(cp, s + o);
	}
	s[o] = '\0';
	*len = o;
	return (char *) s;
}

/* ---- Unicode ---- */

static void
test_unicode(void)
{
	uint32_t	out[8];
	uint32_t	tmp[64];
	uint32_t	s[8];
	size_t		n;

	CHECK(strcmp(maas_unicode_version, "14.0.0") == 0);
	CHECK(maas_uc_flags('a') & MAAS_UC_LETTER);
	CHECK(maas_uc_flags(0x4E2D) & MAAS_UC_LETTER);
	CHECK(maas_uc_flags(0x4E2D) & MAAS_UC_CJK);
	CHECK(!(maas_uc_flags(0xAC00) & MAAS_UC_CJK));	/* Hangul is not */
	CHECK(maas_uc_flags(0x0663) & MAAS_UC_NUMBER);	/* Arabic-Indic 3 */
	CHECK(maas_uc_flags(0x00BD) & MAAS_UC_NUMBER);	/* one half */
	CHECK(maas_uc_flags(0x85) & MAAS_UC_SPACE);
	CHECK(!(maas_uc_flags(0xFEFF) & MAAS_UC_SPACE));
	CHECK(maas_uc_flags(0xFEFF) & MAAS_UC_BERT_CONTROL);	/* Cf */
	CHECK(!(maas_uc_flags('\t') & MAAS_UC_BERT_CONTROL));
	CHECK(maas_uc_flags(0x1C) & MAAS_UC_PY_SPACE);
	CHECK(!(maas_uc_flags(0x1C) & MAAS_UC_SPACE));
	CHECK(maas_uc_flags('$') & MAAS_UC_BERT_PUNCT);	/* ASCII, though Sc */
	CHECK(maas_uc_flags(0x00BF) & MAAS_UC_BERT_PUNCT);	/* ¿ */
	CHECK(!(maas_uc_flags(0x00A7 + 1) & MAAS_UC_BERT_PUNCT));	/* ¨ is Sk */
	CHECK(maas_uc_flags(0x0301) & MAAS_UC_MN);
	CHECK(maas_uc_flags(0x10FFFF) == maas_uc_flags(0x10FFFE));
	CHECK(maas_uc_flags(0x30000) & MAAS_UC_LETTER);	/* CJK ext G, 13.0 */
	CHECK(!(maas_uc_flags(0x31350) & MAAS_UC_LETTER));	/* ext H is 15.0 */

	CHECK(maas_uc_lower('A', out) == 1 && out[0] == 'a');
	CHECK(maas_uc_lower(0xC9, out) == 1 && out[0] == 0xE9);
	CHECK(maas_uc_lower(0x0130, out) == 2 && out[0] == 'i' && out[1] == 0x0307);
	CHECK(maas_uc_lower(0x212A, out) == 1 && out[0] == 'k');	/* Kelvin */
	CHECK(maas_uc_lower(0x1E9E, out) == 1 && out[0] == 0xDF);	/* ẞ */
	CHECK(maas_uc_lower(0x01C5, out) == 1 && out[0] == 0x01C6);	/* ǅ */
	CHECK(maas_uc_lower(0x0100, out) == 1 && out[0] == 0x0101);	/* a stride-2 run */
	CHECK(maas_uc_lower(0x0101, out) == 1 && out[0] == 0x0101);
	CHECK(maas_uc_lower(0x10400, out) == 1 && out[0] == 0x10428);	/* Deseret */
	CHECK(maas_uc_lower(0x4E2D, out) == 1 && out[0] == 0x4E2D);

	/* final sigma, as str.lower(): "ΟΔΟΣ ΑΣ.Β Σ xΣ'" */
	s[0] = 0x039F;
	s[1] = 0x03A3;
	n = maas_uc_lower_string(s, 2, out);
	CHECK(n == 2 && out[0] == 0x03BF && out[1] == 0x03C2);
	s[2] = '.';
	s[3] = 0x0392;
	n = maas_uc_lower_string(s, 4, out);
	CHECK(n == 4 && out[1] == 0x03C3);	/* '.' is case-ignorable, Β cased */
	n = maas_uc_lower_string(s, 3, out);
	CHECK(n == 3 && out[1] == 0x03C2);
	n = maas_uc_lower_string(s + 1, 1, out);
	CHECK(n == 1 && out[0] == 0x03C3);	/* nothing cased before it */
	s[0] = '\'';
	n = maas_uc_lower_string(s, 2, out);
	CHECK(n == 2 && out[1] == 0x03C3);	/* only ignorable before it */

	CHECK(maas_uc_decompose(0xE9, out) == 2 && out[0] == 'e' && out[1] == 0x301);
	CHECK(maas_uc_decompose(0x1F82, out) == 4);	/* ᾂ */
	CHECK(maas_uc_decompose(0xAC00, out) == 2 && out[0] == 0x1100 && out[1] == 0x1161);
	CHECK(maas_uc_decompose(0xAC01, out) == 3 && out[2] == 0x11A8);
	CHECK(maas_uc_decompose(0xD7A3, out) == 3);
	CHECK(maas_uc_decompose(0xF900, out) == 1 && out[0] == 0x8C48);
	CHECK(maas_uc_decompose('A', out) == 1 && out[0] == 'A');
	CHECK(maas_uc_ccc(0x301) == 230 && maas_uc_ccc(0x323) == 220 && maas_uc_ccc('a') == 0);

	/* canonical order: a + acute (230) + dot below (220) -> dot first */
	s[0] = 'a';
	s[1] = 0x301;
	s[2] = 0x323;
	n = maas_uc_nfd(s, 3, out, tmp);
	CHECK(n == 3 && out[1] == 0x323 && out[2] == 0x301);
	/* the two musical marks, 226 then 216 */
	s[0] = 0x1D16D;
	s[1] = 0x1D165;
	n = maas_uc_nfd(s, 2, out, tmp);
	CHECK(n == 2 && out[0] == 0x1D165 && out[1] == 0x1D16D);
	s[0] = 0x1E69;				/* ṩ: s + dot below + dot above */
	n = maas_uc_nfd(s, 1, out, tmp);
	CHECK(n == 3 && out[0] == 's' && out[1] == 0x323 && out[2] == 0x307);
}

static void
test_unicode_long_mark_runs(void)
{
	/* a long run of alternating classes sorts by counting, stably */
	size_t		n = 5001;
	uint32_t   *s = maas_kalloc_array(n, sizeof(uint32_t));
	uint32_t   *out = maas_kalloc_array(4 * n, sizeof(uint32_t));
	uint32_t   *tmp = maas_kalloc_array(4 * n, sizeof(uint32_t));
	size_t		m;
	bool		sorted = true;

	s[0] = 'x';
	for (size_t i = 1; i < n; i++)
		s[i] = i % 2 ? 0x301 : (i % 4 ? 0x300 : 0x323);
	m = maas_uc_nfd(s, n, out, tmp);
	CHECK(m == n && out[0] == 'x');
	for (size_t i = 2; i < m; i++)
		if (maas_uc_ccc(out[i - 1]) > maas_uc_ccc(out[i]))
			sorted = false;
	CHECK(sorted);
	/* stable: the 230s keep their order (0x301, 0x300, 0x301, ...) */
	CHECK(out[1] == 0x323 && out[n / 4 + 1] == 0x301 && out[n / 4 + 2] == 0x300);
}

/* ---- UTF-8 repair ---- */

static bool
repairs_to(const char *in, size_t len, const char *want)
{
	uint8_t		out[64];
	size_t		n = maas_utf8_repair((const uint8_t *) in, len, out);

	if (n == strlen(want) && memcmp(out, want, n) == 0)
		return true;
	fprintf(stderr, "    repair of %zu bytes gave %zu bytes:", len, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", out[i]);
	fprintf(stderr, "\n");
	return false;
}

#define R "\xef\xbf\xbd"

static void
test_utf8_repair(void)
{
	/* Unicode's maximal subparts (3.9, U+FFFD substitution) */
	CHECK(repairs_to("abc", 3, "abc"));
	CHECK(repairs_to("", 0, ""));
	CHECK(repairs_to("\xc3", 1, R));
	CHECK(repairs_to("\xc3\xa9", 2, "\xc3\xa9"));
	CHECK(repairs_to("\xe2\x82", 2, R));
	CHECK(repairs_to("\xe2\x82" "A", 3, R "A"));
	CHECK(repairs_to("\xf0\x9f\x98", 3, R));
	CHECK(repairs_to("\xf0\x9f", 2, R));
	CHECK(repairs_to("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80"));
	CHECK(repairs_to("\xed\xa0\x80", 3, R R R));	/* a surrogate */
	CHECK(repairs_to("\xc0\x80", 2, R R));	/* overlong */
	CHECK(repairs_to("\xc1\xbf", 2, R R));
	CHECK(repairs_to("\xe0\x80\x80", 3, R R R));
	CHECK(repairs_to("\xe0\xa0", 2, R));
	CHECK(repairs_to("\xf4\x90\x80\x80", 4, R R R R));	/* > U+10FFFF */
	CHECK(repairs_to("\xf5\x80", 2, R R));
	CHECK(repairs_to("\xff\xfe", 2, R R));
	CHECK(repairs_to("\x80\xbf", 2, R R));
	CHECK(repairs_to("\xf1\x80\x80", 3, R));
	CHECK(repairs_to("\xf1\x80\x80\xe1\x80\xc2", 6, R R R));
	CHECK(repairs_to("a\xe2\x82\xac\xe2\x82", 6, "a\xe2\x82\xac" R));
	/* Unicode's own example, table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 */
	CHECK(repairs_to("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", 13,
					 "a" R R R "b" R "c" R R "d"));
}

/* ---- BPE ---- */

static void
test_bpe_small(void)
{
	MaasTokenizer *tok = small_bpe();
	int32_t		n;
	int32_t    *ids;
	char	   *text;

	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	CHECK(tok->kind == MAAS_TOKENIZER_BPE && tok->n_vocab == 256 + 11);
	CHECK(tok->bos_id == 256 + 9 && tok->eos_id == 256 + 9);
	CHECK(tok->cls_id == -1 && tok->unk_id == -1);
	/* hello: h e -> he, l l -> ll, he ll -> hell, hell o -> hello */
	CHECK_IDS(tok, "hello the world", 256 + 5, 256 + 3, 256 + 8, 'l', 'd');
	CHECK_IDS(tok, "hello", 256 + 5);
	CHECK_IDS(tok, "hellohello", 256 + 5, 256 + 5);
	CHECK_IDS(tok, "it's", 'i', 't', 256 + 10);
	CHECK_IDS(tok, "IT'S", 'I', 'T', '\'', 'S');	/* 'S is not a contraction */
	CHECK_IDS(tok, "<|endoftext|>", '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', '>');
	/* the special token is text; and still decodes */
	ids = encode(tok, "", &n);
	CHECK(ids != NULL && n == 0);
	text = decode(tok, (const int32_t[]) {256 + 5, 256 + 9, 256 + 3}, 3, false);
	CHECK(text != NULL && strcmp(text, "hello<|endoftext|> the") == 0);
	text = decode(tok, (const int32_t[]) {256 + 5, 256 + 9, 256 + 3}, 3, true);
	CHECK(text != NULL && strcmp(text, "hello the") == 0);
	CHECK(maas_tokenizer_lookup(tok, " the", 4) == 256 + 3);
	CHECK(maas_tokenizer_lookup(tok, "\xc4\xa0the", 5) == -1);	/* raw bytes only */
	{
		size_t		len;
		const uint8_t *b = maas_tokenizer_token(tok, 256 + 8, &len);

		CHECK(b != NULL && len == 4 && memcmp(b, " wor", 4) == 0);
		CHECK(maas_tokenizer_token(tok, 267, &len) == NULL);
		CHECK(maas_tokenizer_token(tok, -1, &len) == NULL);
	}
}

/* the pieces of GPT-2's pattern, joined by '|' */
static char *
pieces(const char *s)
{
	static char out[512];
	size_t		len = strlen(s);
	size_t		i = 0;
	size_t		o = 0;

	while (i < len)
	{
		size_t		end = tok_bpe_next_piece((const uint8_t *) s, len, i);

		if (end <= i)
			return strcpy(out, "NO PROGRESS");
		if (o)
			out[o++] = '|';
		memcpy(out + o, s + i, end - i);
		o += end - i;
		i = end;
	}
	out[o] = '\0';
	return out;
}

#define CHECK_PIECES(text, want) \
	do { \
		const char *got_ = pieces(text); \
		if (strcmp(got_, want) != 0) \
		{ \
			unit_fail(__FILE__, __LINE__, "pieces of " #text); \
			fprintf(stderr, "    got \"%s\"\n", got_); \
		} \
	} while (0)

static void
test_bpe_pattern(void)
{
	CHECK_PIECES("Hello world", "Hello| world");
	CHECK_PIECES("it's we're they've I'm we'll he'd don't", "it|'s| we|'re| they|'ve| I|'m| we|'ll| he|'d| don|'t");
	CHECK_PIECES("'sfoo ''s 'S 'LL", "'s|foo| ''|s| '|S| '|LL");
	CHECK_PIECES("x?'s", "x|?'|s");
	CHECK_PIECES("a  b", "a| | b");
	CHECK_PIECES("a   b", "a|  | b");
	CHECK_PIECES("a\n\nb", "a|\n|\n|b");
	CHECK_PIECES("a \n b", "a| \n| b");
	CHECK_PIECES("end   ", "end|   ");
	CHECK_PIECES("   ", "   ");
	CHECK_PIECES(" ", " ");
	CHECK_PIECES("\t\tx", "\t|\t|x");
	CHECK_PIECES("a1 22 x3y", "a|1| 22| x|3|y");
	CHECK_PIECES("!!! ?? .", "!!!| ??| .");
	CHECK_PIECES(" !x", " !|x");
	CHECK_PIECES("caf\xc3\xa9 na\xc3\xafve", "caf\xc3\xa9| na\xc3\xafve");
	CHECK_PIECES("\xe4\xb8\xad\xe6\x96\x87 ok", "\xe4\xb8\xad\xe6\x96\x87| ok");
	CHECK_PIECES("a\xc2\x85" "b", "a|\xc2\x85|b");	/* U+0085 is \s */
	CHECK_PIECES("a\xef\xbb\xbf" "b", "a|\xef\xbb\xbf|b");	/* U+FEFF is not: own run */
	CHECK_PIECES("x\xe3\x80\x80\xe3\x80\x80y", "x|\xe3\x80\x80|\xe3\x80\x80|y");
	CHECK_PIECES("\xf0\x9f\x98\x80\xf0\x9f\x98\x80 \xf0\x9f\x98\x80", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80| \xf0\x9f\x98\x80");
	CHECK_PIECES("\xc2\xbd\xc2\xb2", "\xc2\xbd\xc2\xb2");	/* No */
	CHECK_PIECES("e\xcc\x81", "e|\xcc\x81");	/* Mn is not L */
}

/*
 * GPT-2's merge loop written out here, for comparison: the word as an
 * array of ids, the lowest-ranked pair found by scanning the merge list.
 */
typedef struct RefMerge
{
	int32_t		a,
				b,
				ab;
} RefMerge;

static int
ref_bpe(const RefMerge *m, int n_merges, int32_t *w, int n)
{
	for (;;)
	{
		int			best = -1;
		int			j = 0;

		for (int i = 0; i + 1 < n; i++)
			for (int r = 0; r < n_merges && (best < 0 || r < best); r++)
				if (m[r].a == w[i] && m[r].b == w[i + 1])
				{
					best = r;
					break;
				}
		if (best < 0)
			return n;
		for (int i = 0; i < n;)
		{
			if (i + 1 < n && w[i] == m[best].a && w[i + 1] == m[best].b)
			{
				w[j++] = m[best].ab;
				i += 2;
			}
			else
				w[j++] = w[i++];
		}
		n = j;
	}
}

static void
test_bpe_merge_order(void)
{
	/*
	 * Random merge tables over "abc", consistent with training order or
	 * not: the direct loop, the heap, and the reference must agree on every
	 * word, short and long.
	 */
	for (int round = 0; round < 40; round++)
	{
		char	   *names[64];
		const char *extra[64];
		RefMerge	m[64];
		char		merges[4096];
		size_t		mo = 0;
		int			n_tok = 3;	/* a b c are ids 'a' 'b' 'c' */
		int			n_merges = 0;
		int32_t		id_of[64];
		MaasTokenizer *tok,
				   *heap;

		names[0] = "a";
		names[1] = "b";
		names[2] = "c";
		id_of[0] = 'a';
		id_of[1] = 'b';
		id_of[2] = 'c';
		while (n_merges < 20)
		{
			int			x = (int) rnd((uint32_t) n_tok);
			int			y = (int) rnd((uint32_t) n_tok);
			size_t		lx = strlen(names[x]),
						ly = strlen(names[y]);
			char	   *xy;
			bool		dup = false;

			if (lx + ly > 12)
				continue;
			xy = maas_kalloc(lx + ly + 1);
			memcpy(xy, names[x], lx);
			memcpy(xy + lx, names[y], ly + 1);
			for (int i = 0; i < n_merges; i++)
				if (m[i].a == id_of[x] && m[i].b == id_of[y])
					dup = true;
			if (dup)
				continue;
			/* the merged token may exist already (another split of it) */
			{
				int			found = -1;

				for (int i = 0; i < n_tok; i++)
					if (strcmp(names[i], xy) == 0)
						found = i;
				if (found < 0)
				{
					names[n_tok] = xy;
					extra[n_tok - 3] = xy;
					id_of[n_tok] = 256 + n_tok - 3;
					found = n_tok++;
				}
				m[n_merges].a = id_of[x];
				m[n_merges].b = id_of[y];
				m[n_merges].ab = id_of[found];
			}
			mo += (size_t) snprintf(merges + mo, sizeof(merges) - mo, "%s %s\n",
									names[x], names[y]);
			n_merges++;
		}
		/* half the rounds: shuffle the ranks, so later tokens merge first */
		if (round % 2)
		{
			char	   *lines[64];
			char	   *p = merges;
			RefMerge	mm[64];
			int			order[64];
			MaasBuf		b;

			for (int i = 0; i < n_merges; i++)
			{
				lines[i] = p;
				p = strchr(p, '\n');
				*p++ = '\0';
				order[i] = i;
			}
			for (int i = n_merges - 1; i > 0; i--)
			{
				int			j = (int) rnd((uint32_t) i + 1);
				int			t = order[i];

				order[i] = order[j];
				order[j] = t;
			}
			maas_buf_init(&b);
			for (int i = 0; i < n_merges; i++)
			{
				maas_buf_printf(&b, "%s\n", lines[order[i]]);
				mm[i] = m[order[i]];
			}
			memcpy(m, mm, sizeof(mm));
			strcpy(merges, b.data);
		}
		tok = bpe_make(extra, n_tok - 3, merges);
		heap = bpe_make(extra, n_tok - 3, merges);
		CHECK(tok != NULL && heap != NULL);
		if (tok == NULL || heap == NULL)
			return;
		tok_bpe_set_direct_limit((MaasBpe *) tok->bpe, 64);
		tok_bpe_set_direct_limit((MaasBpe *) heap->bpe, 0);
		for (int t = 0; t < 60; t++)
		{
			int			len = 1 + (int) rnd(t < 50 ? 20 : 300);
			char		word[301];
			int32_t		w[301];
			int32_t		n1,
						n2;
			int32_t    *i1,
					   *i2;
			int			nr;

			for (int i = 0; i < len; i++)
			{
				word[i] = (char) ('a' + rnd(3));
				w[i] = word[i];
			}
			word[len] = '\0';
			nr = ref_bpe(m, n_merges, w, len);
			i1 = encode(tok, word, &n1);
			i2 = encode(heap, word, &n2);
			CHECK(ids_are(i1, n1, w, nr));
			CHECK(ids_are(i2, n2, w, nr));
		}
	}
}

static void
test_bpe_round_trips(void)
{
	MaasTokenizer *tok = small_bpe();

	CHECK(tok != NULL);
	for (int t = 0; tok != NULL && t < 300; t++)
	{
		size_t		len;
		char	   *s = random_text(1 + (int) rnd(60), &len);
		int32_t		n;
		int32_t    *ids = maas_tokenizer_encode(tok, s, len, NULL, &n, NULL, &err);
		size_t		back_len;
		char	   *back;

		CHECK(ids != NULL);
		if (ids == NULL)
			continue;
		back = maas_tokenizer_decode(tok, ids, (size_t) n, false, &back_len,
									 NULL, &err);
		CHECK(back != NULL && back_len == len && memcmp(back, s, len) == 0);
		for (int32_t i = 0; i < n; i++)
			CHECK(ids[i] >= 0 && ids[i] < tok->n_vocab);
	}
}

static void
test_bpe_decode_cut_characters(void)
{
	MaasTokenizer *tok = small_bpe();
	char	   *text;

	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	/* é is c3 a9: one byte token each */
	text = decode(tok, (const int32_t[]) {0xC3, 0xA9}, 2, false);
	CHECK(text != NULL && strcmp(text, "\xc3\xa9") == 0);
	text = decode(tok, (const int32_t[]) {'a', 0xC3}, 2, false);
	CHECK(text != NULL && strcmp(text, "a" R) == 0);
	text = decode(tok, (const int32_t[]) {0xC3, 'a', 0xA9}, 3, false);
	CHECK(text != NULL && strcmp(text, R "a" R) == 0);
	text = decode(tok, (const int32_t[]) {0xF0, 0x9F, 0x98, 256 + 5}, 4, false);
	CHECK(text != NULL && strcmp(text, R "hello") == 0);
	text = decode(tok, (const int32_t[]) {0xF0, 0x9F, 0x98, 0x80}, 4, false);
	CHECK(text != NULL && strcmp(text, "\xf0\x9f\x98\x80") == 0);
	text = decode(tok, NULL, 0, false);
	CHECK(text != NULL && text[0] == '\0');
	CHECK_ERR(decode(tok, (const int32_t[]) {5, 267}, 2, false) != NULL, err.msg,
			  "token id \"267\" is out of range for a vocabulary of 267 tokens");
	CHECK_ERR(decode(tok, (const int32_t[]) {-1}, 1, false) != NULL, err.msg,
			  "token id \"-1\" is out of range");
	CHECK(err.status == MAAS_ERR_INVALID);
}

static void
test_bpe_long_word(void)
{
	/* a long run of one letter goes through the heap, in O(n log n) */
	static const char *const toks[] = {"aa", "aaaa", "aaaaaaaa"};
	MaasTokenizer *tok = bpe_make(toks, 3, "a a\naa aa\naaaa aaaa\n");
	size_t		len = 100003;
	char	   *s = maas_kalloc(len + 1);
	int32_t		n;
	int32_t    *ids;
	size_t		back_len;
	char	   *back;

	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	memset(s, 'a', len);
	s[len] = '\0';
	ids = maas_tokenizer_encode(tok, s, len, NULL, &n, NULL, &err);
	/* 100003 = 12500 * 8 + 2 + 1 */
	CHECK(ids != NULL && n == 12502);
	CHECK(ids != NULL && ids[0] == 256 + 2 && ids[12499] == 256 + 2 &&
		  ids[12500] == 256 && ids[12501] == 'a');
	back = maas_tokenizer_decode(tok, ids, (size_t) n, false, &back_len, NULL, &err);
	CHECK(back != NULL && back_len == len && memcmp(back, s, len) == 0);
}

static void
test_bpe_cache(void)
{
	/*
	 * A long text (its call caches short words) gives the ids of its
	 * pieces encoded one by one (too few for a cache each).
	 */
	static const char *const words[] = {
		"hello", " the", " world", " hellohello", "'s", " aaaa", "\n\n", " x",
		" caf\xc3\xa9", " \xe4\xb8\xad\xe6\x96\x87", "!!", " 12"
	};
	MaasTokenizer *tok = small_bpe();
	MaasBuf		b;
	TokIds		want = {NULL, 0, 0};
	int32_t		n;
	int32_t    *ids;
	size_t		i = 0;

	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	maas_buf_init(&b);
	for (int k = 0; k < 5000; k++)
		maas_buf_puts(&b, words[rnd(sizeof(words) / sizeof(words[0]))]);
	while (i < b.len)
	{
		size_t		end = tok_bpe_next_piece((const uint8_t *) b.data, b.len, i);
		int32_t    *p = maas_tokenizer_encode(tok, b.data + i, end - i, NULL, &n, NULL, &err);

		CHECK(p != NULL && tok_ids_reserve(&want, (size_t) n, &err));
		memcpy(want.v + want.n, p, (size_t) n * sizeof(int32_t));
		want.n += (size_t) n;
		i = end;
	}
	ids = maas_tokenizer_encode(tok, b.data, b.len, NULL, &n, NULL, &err);
	CHECK(ids_are(ids, n, want.v, (int32_t) want.n));
}

static int	ticks;
static jmp_buf tick_jump;
static int	tick_limit;

static void
count_tick(void *arg)
{
	(void) arg;
	if (++ticks == tick_limit)
		longjmp(tick_jump, 1);
}

static void
test_ticks(void)
{
	MaasTokenizer *tok = small_bpe();
	MaasTick	tick = {count_tick, NULL};
	size_t		len = 200000;
	char	   *s = maas_kalloc(len + 1);
	int32_t		n;
	int32_t    *ids;

	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	for (size_t i = 0; i < len; i++)
		s[i] = "hello the world "[i % 16];
	ticks = 0;
	tick_limit = -1;
	ids = maas_tokenizer_encode(tok, s, len, NULL, &n, &tick, &err);
	CHECK(ids != NULL && ticks > 10);
	ticks = 0;
	CHECK(maas_tokenizer_decode(tok, ids, (size_t) n, false, &len, &tick, &err) != NULL);
	CHECK(ticks > 10);

	/* a tick that does not return (the server's cancel) leaves nothing broken */
	ticks = 0;
	tick_limit = 3;
	if (setjmp(tick_jump) == 0)
	{
		maas_tokenizer_encode(tok, s, 200000, NULL, &n, &tick, &err);
		CHECK(false);
	}
	CHECK(ticks == 3);
	tick_limit = -1;
	ids = encode(tok, "hello", &n);
	CHECK(ids != NULL && n == 1);
}

static void
check_bpe_error(const char *vocab_json, const char *merges, MaasStatus status,
				const char *fragment)
{
	MaasJson   *vocab = parse(vocab_json);
	MaasTokenizer *tok = vocab == NULL ? NULL :
		maas_bpe_build(vocab, merges, strlen(merges), 0, NULL, &err);

	CHECK(vocab != NULL);
	CHECK_ERR(tok != NULL, err.msg, "");
	if (tok == NULL && (strstr(err.msg, fragment) == NULL || err.status != status))
	{
		unit_fail(__FILE__, __LINE__, fragment);
		fprintf(stderr, "    got: %s (%s)\n", err.msg, maas_status_name(err.status));
	}
}

static void
test_bpe_errors(void)
{
	static const char *const two[] = {"ab", "abc"};
	char	   *v2 = bpe_vocab_json(two, 2);
	char	   *v0 = bpe_vocab_json(NULL, 0);
	MaasBuf		b;
	MaasJson	huge;

	check_bpe_error("[]", "", MAAS_ERR_INVALID,
					"tokenizer \"vocab\" must be an object of token -> id, not array");
	check_bpe_error("{\"a\": \"1\"}", "", MAAS_ERR_INVALID,
					"vocabulary token \"a\" has an id that is not a 32-bit integer");
	check_bpe_error("{\"a\": 1.5}", "", MAAS_ERR_INVALID, "not a 32-bit integer");
	check_bpe_error("{}", "", MAAS_ERR_INVALID, "vocabulary is empty");
	check_bpe_error("{\"a\": 0, \"b\": 0}", "", MAAS_ERR_INVALID,
					"tokens \"a\" and \"b\" have the same id 0");
	check_bpe_error("{\"a\": 0, \"b\": 2}", "", MAAS_ERR_INVALID,
					"token \"b\" has id 2, outside 0 .. 1: the ids of 2 tokens must be 0 .. 1 without gaps");
	check_bpe_error("{\"a\": -1}", "", MAAS_ERR_INVALID, "token \"a\" has id -1");
	check_bpe_error("{\"a\": 99999999999}", "", MAAS_ERR_INVALID, "not a 32-bit integer");
	check_bpe_error("{\"a\": 0}", "", MAAS_ERR_INVALID,
					"vocabulary has no token for byte 0x00: a byte-level BPE needs all 256");

	check_bpe_error(v2, "a b\nab", MAAS_ERR_INVALID,
					"merges.txt line 2 is not two tokens separated by a space");
	check_bpe_error(v2, "a  b", MAAS_ERR_INVALID,
					"merges.txt line 1 is not two tokens separated by a space");
	check_bpe_error(v2, " a", MAAS_ERR_INVALID, "line 1 is not two tokens");
	check_bpe_error(v2, "a b c", MAAS_ERR_INVALID, "line 1 is not two tokens");
	check_bpe_error(v2, "#version: 0.2\na b\nab x\n", MAAS_ERR_INVALID,
					"merges.txt line 3: \"ab\" and \"x\" merge into a token that is not in the vocabulary");
	check_bpe_error(v2, "a b\nab cd", MAAS_ERR_INVALID,
					"merges.txt line 2: token \"cd\" is not in the vocabulary");
	check_bpe_error(v2, "a b\nab c\na b\n", MAAS_ERR_INVALID,
					"merges.txt line 3 repeats the merge \"a b\" of 1");
	check_bpe_error(v2, "a \xe4\xb8\xad", MAAS_ERR_INVALID,
					"merges.txt line 1: \"a \xe4\xb8\xad\" is not byte-level BPE");
	check_bpe_error(v2, "a b\n\xff", MAAS_ERR_INVALID,
					"merges.txt is not valid UTF-8: invalid byte sequence at byte 4");
	/* the same mistakes through the files' object */
	{
		MaasBuf		s;
		MaasJson   *spec;
		MaasTokenizer *tok;

		maas_buf_init(&s);
		maas_buf_printf(&s, "{\"vocab\": %s, \"merges\": \"a b\\nab d\"}", v2);
		spec = parse(s.data);
		tok = maas_tokenizer_build(spec, 0, NULL, &err);
		CHECK_ERR(tok != NULL, err.msg, "merges.txt line 2: \"ab\" and \"d\" merge into");
		spec = parse("{\"vocab\": {}, \"merges\": 7}");
		CHECK_ERR(maas_tokenizer_build(spec, 0, NULL, &err) != NULL, err.msg,
				  "tokenizer \"merges\" must be the text of merges.txt, not number");
		maas_buf_init(&s);
		maas_buf_printf(&s, "{\"vocab\": %s, \"merges\": \"\", \"eos_token\": 1}", v0);
		CHECK_ERR(maas_tokenizer_build(parse(s.data), 0, NULL, &err) != NULL, err.msg,
				  "tokenizer \"eos_token\" must be a string, not number");
	}

	/* limits, checked before any work */
	memset(&huge, 0, sizeof(huge));
	huge.type = MAAS_JSON_OBJECT;
	huge.n = MAAS_TOKENIZER_MAX_VOCAB + 1;
	CHECK_ERR(maas_bpe_build(&huge, "", 0, 0, NULL, &err) != NULL, err.msg,
			  "vocabulary has 1048577 tokens, more than the maximum of 1048576");
	CHECK(err.status == MAAS_ERR_LIMIT);
	{
		size_t		len = MAAS_TOKENIZER_MAX_MERGES + 2;
		char	   *nl = maas_kalloc(len);
		MaasJson   *vocab = parse(v0);

		memset(nl, '\n', len);
		CHECK_ERR(maas_bpe_build(vocab, nl, len, 0, NULL, &err) != NULL, err.msg,
				  "merges.txt has 2097155 lines, more than the maximum of 2097152 merges");
		CHECK(err.status == MAAS_ERR_LIMIT);
	}
	/* a length past 4 GB is refused before a byte is read */
	CHECK_ERR(maas_bpe_build(parse(v0), "x", (size_t) UINT32_MAX, 0, NULL, &err) != NULL,
			  err.msg, "merges.txt is larger than 4 GB");
	CHECK_ERR(maas_wordpiece_build("x", (size_t) UINT32_MAX, NULL, 0, NULL, &err) != NULL,
			  err.msg, "vocab.txt is larger than 4 GB");
	CHECK(err.status == MAAS_ERR_LIMIT);
	/* a vocabulary with a blank line and CRLF line ends is fine */
	maas_buf_init(&b);
	maas_buf_puts(&b, "#version: 0.2\r\na b\r\n\r\nab c\r\n");
	{
		MaasJson   *vocab = parse(v2);
		MaasTokenizer *tok = maas_bpe_build(vocab, b.data, b.len, 0, NULL, &err);
		int32_t		n;

		CHECK(tok != NULL);
		if (tok != NULL)
			CHECK_IDS(tok, "abcab", 256 + 1, 256);
		(void) n;
	}
}

static void
test_encode_errors(void)
{
	MaasTokenizer *tok = small_bpe();
	int32_t		n;
	MaasEncodeOptions opt;
	size_t		big = MAAS_TOKENIZER_MAX_TEXT + 1;
	char	   *s;

	CHECK(tok != NULL);
	if (tok == NULL)
		return;
	CHECK_ERR(maas_tokenizer_encode(tok, "ab\xc3(", 4, NULL, &n, NULL, &err) != NULL,
			  err.msg, "text is not valid UTF-8: invalid byte sequence at byte 2");
	CHECK(err.status == MAAS_ERR_INVALID);
	CHECK_ERR(maas_tokenizer_encode(tok, "\xed\xa0\x80", 3, NULL, &n, NULL, &err) != NULL,
			  err.msg, "invalid byte sequence at byte 0");
	/* NUL is a character like any other here */
	CHECK(maas_tokenizer_encode(tok, "a\0b", 3, NULL, &n, NULL, &err) != NULL && n == 3);
	s = maas_kalloc(big);
	memset(s, 'a', big);
	CHECK_ERR(maas_tokenizer_encode(tok, s, big, NULL, &n, NULL, &err) != NULL, err.msg,
			  "text of 16777217 bytes is too long to tokenize (the maximum is 16777216 bytes)");
	CHECK(err.status == MAAS_ERR_LIMIT);

	opt = maas_encode_defaults(tok);
	CHECK(!opt.add_special && opt.max_length == 0);
	opt.max_length = 3;
	opt.truncate = false;
	CHECK_ERR(maas_tokenizer_encode(tok, "hello the world", 15, &opt, &n, NULL, &err) != NULL,
			  err.msg, "text is more than 3 tokens long");
	CHECK(err.status == MAAS_ERR_LIMIT);
	CHECK(maas_tokenizer_encode(tok, "hello the wor", 13, &opt, &n, NULL, &err) != NULL && n == 3);
	opt.truncate = true;
	CHECK(maas_tokenizer_encode(tok, "hello the world", 15, &opt, &n, NULL, &err) != NULL && n == 3);
	opt.max_length = -1;
	CHECK_ERR(maas_tokenizer_encode(tok, "x", 1, &opt, &n, NULL, &err) != NULL, err.msg,
			  "maximum length -1 is negative");
}

/* ---- tokenizer.json ---- */

static char *
bpe_tokenizer_json(const char *model_extra, const char *pre, const char *added)
{
	static const char *const toks[] = {"ab", "abc", "\xc4\xa0" "a"};
	MaasBuf		b;

	maas_buf_init(&b);
	maas_buf_printf(&b, "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,"
					" \"added_tokens\": %s, \"normalizer\": null,"
					" \"pre_tokenizer\": %s,"
					" \"post_processor\": {\"type\": \"ByteLevel\", \"trim_offsets\": false},"
					" \"decoder\": {\"type\": \"ByteLevel\"},"
					" \"model\": {\"type\": \"BPE\", \"unk_token\": null,"
					" \"continuing_subword_prefix\": \"\", \"end_of_word_suffix\": \"\","
					" \"fuse_unk\": false%s,"
					" \"vocab\": %s, \"merges\": [\"a b\", [\"ab\", \"c\"], \"\xc4\xa0 a\"]}}",
					added, pre, model_extra, bpe_vocab_json(toks, 3));
	return b.data;
}

static void
test_bpe_tokenizer_json(void)
{
	const char *bytelevel = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false,"
		" \"trim_offsets\": true, \"use_regex\": true}";
	const char *added = "[{\"id\": 259, \"content\": \"<|endoftext|>\", \"single_word\": false,"
		" \"lstrip\": false, \"rstrip\": false, \"normalized\": true, \"special\": true}]";
	MaasTokenizer *tok = maas_tokenizer_build(parse(bpe_tokenizer_json("", bytelevel, added)),
											  1024, NULL, &err);
	char	   *text;

	CHECK(tok != NULL);
	if (tok == NULL)
	{
		fprintf(stderr, "    %s\n", err.msg);
		return;
	}
	CHECK(tok->n_vocab == 260 && tok->eos_id == 259 && tok->max_length == 1024);
	CHECK_IDS(tok, "abc ab a", 257, ' ', 256, 258);
	text = decode(tok, (const int32_t[]) {259, 257}, 2, false);
	CHECK(text != NULL && strcmp(text, "<|endoftext|>abc") == 0);
	text = decode(tok, (const int32_t[]) {259, 257}, 2, true);
	CHECK(text != NULL && strcmp(text, "abc") == 0);

	/* add_prefix_space, and no pattern at all */
	tok = maas_tokenizer_build(parse(bpe_tokenizer_json(", \"dropout\": null, \"byte_fallback\": false",
														"{\"type\": \"ByteLevel\", \"add_prefix_space\": true}", "[]")),
							   0, NULL, &err);
	CHECK(tok != NULL);
	if (tok != NULL)
		CHECK_IDS(tok, "abc", ' ', 257);
	tok = maas_tokenizer_build(parse(bpe_tokenizer_json(", \"ignore_merges\": true",
														"{\"type\": \"ByteLevel\", \"use_regex\": false}", "[]")),
							   0, NULL, &err);
	CHECK(tok != NULL);
	if (tok != NULL)
	{
		CHECK_IDS(tok, "abc", 257);
		CHECK_IDS(tok, "abc abc", 257, ' ', 257);
	}

	/* what is not supported says so */
	CHECK_ERR(maas_tokenizer_build(parse(bpe_tokenizer_json(", \"dropout\": 0.1", bytelevel, "[]")),
								   0, NULL, &err) != NULL, err.msg,
			  "tokenizer BPE \"dropout\" is not supported");
	CHECK(err.status == MAAS_ERR_UNSUPPORTED);
	CHECK_ERR(maas_tokenizer_build(parse(bpe_tokenizer_json(", \"byte_fallback\": true", bytelevel, "[]")),
								   0, NULL, &err) != NULL, err.msg,
			  "tokenizer BPE \"byte_fallback\" is not supported");
	CHECK_ERR(maas_tokenizer_build(parse(bpe_tokenizer_json("", "{\"type\": \"Metaspace\"}", "[]")),
								   0, NULL, &err) != NULL, err.msg,
			  "tokenizer pre-tokenizer \"Metaspace\" is not supported with BPE: only \"ByteLevel\" is");
	CHECK_ERR(maas_tokenizer_build(parse(bpe_tokenizer_json("", "null", "[]")),
								   0, NULL, &err) != NULL, err.msg,
			  "pre-tokenizer \"null\" is not supported");
	CHECK_ERR(maas_tokenizer_build(parse(bpe_tokenizer_json("", "[1]", "[]")),
								   0, NULL, &err) != NULL, err.msg,
			  "tokenizer \"pre_tokenizer\" must be an object with a \"type\" string");
	CHECK_ERR(maas_tokenizer_build(parse(bpe_tokenizer_json("", bytelevel,
															"[{\"id\": 256, \"content\": \"xy\", \"special\": true}]")),
								   0, NULL, &err) != NULL, err.msg,
			  "added token \"xy\" has id 256, which the vocabulary gives to \"ab\"");
	CHECK_ERR(maas_tokenizer_build(parse(bpe_tokenizer_json("", bytelevel,
															"[{\"id\": 999, \"content\": \"xy\"}]")),
								   0, NULL, &err) != NULL, err.msg,
			  "added token \"xy\" has id 999, outside 0 .. 259");
	CHECK_ERR(maas_tokenizer_build(parse(bpe_tokenizer_json("", bytelevel, "[{\"id\": 1}]")),
								   0, NULL, &err) != NULL, err.msg,
			  "tokenizer added token 0 is not an object");
	CHECK_ERR(maas_tokenizer_build(parse(bpe_tokenizer_json("", bytelevel, "{}")),
								   0, NULL, &err) != NULL, err.msg,
			  "tokenizer \"added_tokens\" must be an array, not object");
	CHECK_ERR(maas_tokenizer_build(parse("{\"model\": {\"type\": \"Unigram\"}}"), 0, NULL, &err) != NULL,
			  err.msg, "tokenizer model type \"Unigram\" is not supported: use \"BPE\" or \"WordPiece\"");
	CHECK_ERR(maas_tokenizer_build(parse("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": [7]},"
										 " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}"), 0, NULL, &err) != NULL,
			  err.msg, "tokenizer merge 0 is neither");
	CHECK_ERR(maas_tokenizer_build(parse("{\"model\": 3}"), 0, NULL, &err) != NULL,
			  err.msg, "tokenizer \"model\" must be an object, not number");
	CHECK_ERR(maas_tokenizer_build(parse("{\"model\": {}}"), 0, NULL, &err) != NULL,
			  err.msg, "tokenizer \"model\" has no \"type\" string");
	CHECK_ERR(maas_tokenizer_build(parse("{\"merge\": 1}"), 0, NULL, &err) != NULL,
			  err.msg, "tokenizer has neither \"vocab\" nor \"model\"");
	CHECK_ERR(maas_tokenizer_build(parse("[]"), 0, NULL, &err) != NULL,
			  err.msg, "tokenizer must be an object, not array");
	CHECK_ERR(maas_tokenizer_build(parse("{\"vocab\": \"a\"}"), -2, NULL, &err) != NULL,
			  err.msg, "maximum length -2 is negative");
	{
		MaasBuf		s;

		maas_buf_init(&s);
		maas_buf_printf(&s, "{\"model\": {\"type\": \"BPE\", \"vocab\": %s, \"merges\": [\"a\"]},"
						" \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", bpe_vocab_json(NULL, 0));
		CHECK_ERR(maas_tokenizer_build(parse(s.data), 0, NULL, &err) != NULL, err.msg,
				  "tokenizer merge 0 is not two tokens separated by a space");
		maas_buf_init(&s);
		maas_buf_printf(&s, "{\"model\": {\"type\": \"BPE\", \"vocab\": %s, \"merges\": [[\"a\", 1]]},"
						" \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", bpe_vocab_json(NULL, 0));
		CHECK_ERR(maas_tokenizer_build(parse(s.data), 0, NULL, &err) != NULL, err.msg,
				  "tokenizer merge 0 is neither \"a b\" nor [\"a\", \"b\"]");
	}
}

/* ---- WordPiece ---- */

static const char *const small_vocab_txt =
	"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"	/* 0-4 */
	"un\n##aff\n##able\nhello\n,\n"		/* 5-9 */
	".\n!\n\xe4\xb8\xad\nthe\n##s\n"	/* 10-14: 中 */
	"\xce\xbf\xce\xb4\xce\xbf\xcf\x82\n"	/* 15: οδος */
	"cafe\n##llo\nhe\na\n"		/* 16-19 */
	"b\n##b\nistanbul\n\xe1\x84\x92\n";	/* 20-23: ᄒ (a jamo) */

static MaasTokenizer *
small_wp(const MaasWordPieceOptions *opt)
{
	return maas_wordpiece_build(small_vocab_txt, strlen(small_vocab_txt), opt,
								0, NULL, &err);
}

static void
test_wordpiece_small(void)
{
	MaasTokenizer *tok = small_wp(NULL);
	char	   *text;
	int32_t		n;
	int32_t    *ids;

	CHECK(tok != NULL);
	if (tok == NULL)
	{
		fprintf(stderr, "    %s\n", err.msg);
		return;
	}
	CHECK(tok->kind == MAAS_TOKENIZER_WORDPIECE && tok->n_vocab == 24);
	CHECK(tok->unk_id == 1 && tok->cls_id == 2 && tok->sep_id == 3 &&
		  tok->pad_id == 0 && tok->mask_id == 4 && tok->bos_id == -1);
	CHECK_IDS(tok, "UNaffable hello!", 2, 5, 6, 7, 8, 11, 3);
	CHECK_IDS(tok, "", 2, 3);
	CHECK_IDS(tok, "  \t\n ", 2, 3);
	/* greedy longest first: "hello" beats "he" + "##llo" */
	CHECK_IDS(tok, "hello he hellos", 2, 8, 18, 8, 14, 3);
	/* a word no pieces cover is one [UNK], however long */
	CHECK_IDS(tok, "unaffablex the", 2, 1, 13, 3);
	/* accents stripped, punctuation split, CJK padded */
	CHECK_IDS(tok, "Caf\xc3\xa9,the.", 2, 16, 9, 13, 10, 3);
	CHECK_IDS(tok, "cafe\xcc\x81", 2, 16, 3);	/* decomposed already */
	CHECK_IDS(tok, "the\xe4\xb8\xadthe\xe6\x96\x87", 2, 13, 12, 13, 1, 3);
	/* final sigma: ΟΔΟΣ -> οδος */
	CHECK_IDS(tok, "\xce\x9f\xce\x94\xce\x9f\xce\xa3", 2, 15, 3);
	/* İ -> i + dot above, stripped */
	CHECK_IDS(tok, "\xc4\xb0stanbul", 2, 22, 3);
	/* Hangul is decomposed to jamo by NFD: 하 -> ᄒ ᅡ: ᅡ is not in the vocab */
	CHECK_IDS(tok, "\xed\x95\x98", 2, 1, 3);
	/* cleaning: controls, NUL, U+FFFD gone; Zs and U+2028 split */
	CHECK_IDS(tok, "th\x01" "e \xef\xbf\xbd" "a\xc2\xa0" "b\xe2\x80\xa8" "a", 2, 13, 19, 20, 19, 3);
	ids = maas_tokenizer_encode(tok, "a\0b", 3, NULL, &n, NULL, &err);
	CHECK(ids != NULL && n == 4 && ids[1] == 19 && ids[2] == 21);
	/* a word over max_input_chars_per_word is [UNK] even if it could be covered */
	{
		char		w[102];

		memset(w, 'b', 101);
		w[101] = '\0';
		CHECK_IDS(tok, w, 2, 1, 3);
		w[100] = '\0';
		ids = encode(tok, w, &n);
		CHECK(ids != NULL && n == 102 && ids[1] == 20 && ids[2] == 21 && ids[100] == 21);
	}

	/* decode: join, glue "##" pieces */
	text = decode(tok, (const int32_t[]) {2, 5, 6, 7, 8, 11, 3}, 7, false);
	CHECK(text != NULL && strcmp(text, "[CLS] unaffable hello ! [SEP]") == 0);
	text = decode(tok, (const int32_t[]) {2, 5, 6, 7, 8, 11, 3}, 7, true);
	CHECK(text != NULL && strcmp(text, "unaffable hello !") == 0);
	text = decode(tok, (const int32_t[]) {14, 13, 1}, 3, false);
	CHECK(text != NULL && strcmp(text, "##s the [UNK]") == 0);
	text = decode(tok, (const int32_t[]) {1, 14}, 2, true);
	CHECK(text != NULL && strcmp(text, "##s") == 0);
	CHECK_ERR(decode(tok, (const int32_t[]) {24}, 1, false) != NULL, err.msg,
			  "token id \"24\" is out of range for a vocabulary of 24 tokens");
	CHECK(maas_tokenizer_lookup(tok, "##aff", 5) == 6);
	CHECK(maas_tokenizer_lookup(tok, "aff", 3) == -1);
}

static void
test_wordpiece_flags(void)
{
	MaasWordPieceOptions opt;
	MaasTokenizer *tok;

	maas_wordpiece_defaults(&opt);
	opt.do_lower_case = false;	/* cased: accents kept too */
	tok = small_wp(&opt);
	CHECK(tok != NULL);
	if (tok != NULL)
	{
		CHECK_IDS(tok, "Hello hello cafe caf\xc3\xa9", 2, 1, 8, 16, 1, 3);
		CHECK_IDS(tok, "\xce\xbf\xce\xb4\xce\xbf\xcf\x82", 2, 15, 3);
	}
	opt.strip_accents = 1;		/* cased, accents stripped */
	tok = small_wp(&opt);
	CHECK(tok != NULL);
	if (tok != NULL)
		CHECK_IDS(tok, "Caf\xc3\xa9 caf\xc3\xa9", 2, 1, 16, 3);
	maas_wordpiece_defaults(&opt);
	opt.strip_accents = 0;		/* lower case, accents kept */
	tok = small_wp(&opt);
	CHECK(tok != NULL);
	if (tok != NULL)
		CHECK_IDS(tok, "CAFE CAF\xc3\x89", 2, 16, 1, 3);
	maas_wordpiece_defaults(&opt);
	opt.tokenize_chinese_chars = false;
	tok = small_wp(&opt);
	CHECK(tok != NULL);
	if (tok != NULL)
		CHECK_IDS(tok, "the\xe4\xb8\xad the \xe4\xb8\xad", 2, 1, 13, 12, 3);
	maas_wordpiece_defaults(&opt);
	opt.clean_text = false;
	tok = small_wp(&opt);
	CHECK(tok != NULL);
	if (tok != NULL)
		CHECK_IDS(tok, "th\x01" "e the", 2, 1, 13, 3);
	maas_wordpiece_defaults(&opt);
	opt.max_input_chars_per_word = 4;
	tok = small_wp(&opt);
	CHECK(tok != NULL);
	if (tok != NULL)
		CHECK_IDS(tok, "cafe hello", 2, 16, 1, 3);
}

static void
test_wordpiece_truncation(void)
{
	MaasTokenizer *tok = maas_wordpiece_build(small_vocab_txt, strlen(small_vocab_txt),
											  NULL, 5, NULL, &err);
	MaasEncodeOptions opt;
	int32_t		n;
	int32_t    *ids;

	CHECK(tok != NULL && tok->max_length == 5);
	if (tok == NULL)
		return;
	opt = maas_encode_defaults(tok);
	CHECK(opt.add_special && opt.truncate && opt.max_length == 5);
	CHECK_IDS(tok, "a b a b a b", 2, 19, 20, 19, 3);
	CHECK_IDS(tok, "a b a", 2, 19, 20, 19, 3);
	CHECK_IDS(tok, "a b", 2, 19, 20, 3);
	opt.truncate = false;
	CHECK_ERR(maas_tokenizer_encode(tok, "a b a b", 7, &opt, &n, NULL, &err) != NULL,
			  err.msg, "text is more than 5 tokens long");
	ids = maas_tokenizer_encode(tok, "a b a", 5, &opt, &n, NULL, &err);
	CHECK(ids != NULL && n == 5);
	opt.max_length = 1;
	CHECK_ERR(maas_tokenizer_encode(tok, "a", 1, &opt, &n, NULL, &err) != NULL,
			  err.msg, "maximum length 1 leaves no room for [CLS] and [SEP]");
	opt.max_length = 0;
	opt.add_special = false;
	ids = maas_tokenizer_encode(tok, "a b a b a b", 11, &opt, &n, NULL, &err);
	CHECK(ids != NULL && n == 6 && ids[0] == 19);
	opt.max_length = 2;
	opt.truncate = true;
	ids = maas_tokenizer_encode(tok, "a b a b a b", 11, &opt, &n, NULL, &err);
	CHECK(ids != NULL && n == 2 && ids[1] == 20);
}

static void
check_wp_error(const char *vocab, const MaasWordPieceOptions *opt, MaasStatus status,
			   const char *fragment)
{
	MaasTokenizer *tok = maas_wordpiece_build(vocab, strlen(vocab), opt, 0, NULL, &err);

	if (tok != NULL || strstr(err.msg, fragment) == NULL || err.status != status)
	{
		unit_fail(__FILE__, __LINE__, fragment);
		fprintf(stderr, "    got: %s (%s)\n", tok != NULL ? "success" : err.msg,
				maas_status_name(err.status));
	}
}

static void
test_wordpiece_errors(void)
{
	MaasWordPieceOptions opt;
	MaasTokenizer *tok;
	size_t		len;
	char	   *big;

	check_wp_error("", NULL, MAAS_ERR_INVALID, "vocabulary is empty");
	check_wp_error("a\nb\n", NULL, MAAS_ERR_INVALID,
				   "unknown token \"[UNK]\" is not in the vocabulary");
	check_wp_error("[UNK]\na\nb\na\n", NULL, MAAS_ERR_INVALID,
				   "token \"a\" appears twice in the vocabulary (vocab.txt lines 2 and 4)");
	check_wp_error("[UNK]\na\r\na\n", NULL, MAAS_ERR_INVALID, "appears twice");
	check_wp_error("[UNK]\n\xc3\n", NULL, MAAS_ERR_INVALID,
				   "vocab.txt line 2 is not valid UTF-8");
	maas_wordpiece_defaults(&opt);
	opt.max_input_chars_per_word = 0;
	check_wp_error("[UNK]\n", &opt, MAAS_ERR_INVALID,
				   "max_input_chars_per_word must be positive, not 0");
	maas_wordpiece_defaults(&opt);
	opt.unk_token = "<unk>";
	check_wp_error("[UNK]\n", &opt, MAAS_ERR_INVALID,
				   "unknown token \"<unk>\" is not in the vocabulary");
	opt.unk_token = NULL;
	check_wp_error("[UNK]\n", &opt, MAAS_ERR_INVALID, "WordPiece needs an unknown token");
	CHECK(maas_wordpiece_build("[UNK]\n", 6, NULL, -1, NULL, &err) == NULL);

	/* without [CLS]/[SEP], add_special is an error, not a guess */
	tok = maas_wordpiece_build("[UNK]\na\n", 8, NULL, 0, NULL, &err);
	CHECK(tok != NULL && tok->cls_id == -1 && tok->sep_id == -1);
	if (tok != NULL)
	{
		MaasEncodeOptions o = maas_encode_defaults(tok);
		int32_t		n;

		o.add_special = true;
		CHECK_ERR(maas_tokenizer_encode(tok, "a", 1, &o, &n, NULL, &err) != NULL, err.msg,
				  "vocabulary has no classifier (\"cls_token\") token to add");
	}

	/* too many lines: refused before anything is built */
	len = MAAS_TOKENIZER_MAX_VOCAB + 1;
	big = maas_kalloc(len);
	memset(big, '\n', len);
	CHECK_ERR(maas_wordpiece_build(big, len, NULL, 0, NULL, &err) != NULL, err.msg,
			  "vocab.txt has 1048578 lines, more than the maximum of 1048576 tokens");
	CHECK(err.status == MAAS_ERR_LIMIT);

	/* the files' object: wrong types */
	CHECK_ERR(maas_tokenizer_build(parse("{\"vocab\": 1}"), 0, NULL, &err) != NULL, err.msg,
			  "tokenizer \"vocab\" must be the text of vocab.txt (WordPiece) or, with \"merges\", an object (BPE), not number");
	CHECK_ERR(maas_tokenizer_build(parse("{\"vocab\": \"[UNK]\", \"do_lower_case\": 1}"), 0, NULL, &err) != NULL,
			  err.msg, "tokenizer \"do_lower_case\" must be true or false, not number");
	CHECK_ERR(maas_tokenizer_build(parse("{\"vocab\": \"[UNK]\", \"strip_accents\": \"no\"}"), 0, NULL, &err) != NULL,
			  err.msg, "tokenizer \"strip_accents\" must be true, false or null");
	CHECK_ERR(maas_tokenizer_build(parse("{\"vocab\": \"[UNK]\", \"unk_token\": []}"), 0, NULL, &err) != NULL,
			  err.msg, "tokenizer \"unk_token\" must be a string, not array");
	CHECK_ERR(maas_tokenizer_build(parse("{\"vocab\": \"[UNK]\", \"max_input_chars_per_word\": -3}"), 0, NULL, &err) != NULL,
			  err.msg, "tokenizer \"max_input_chars_per_word\" must be a positive integer");
}

static void
test_wordpiece_big_vocab(void)
{
	/* a million tokens: built with hashing, quickly */
	int			n = 1000000;
	MaasBuf		b;
	MaasTokenizer *tok;

	maas_buf_init(&b);
	maas_buf_puts(&b, "[UNK]\n");
	for (int i = 1; i < n; i++)
		maas_buf_printf(&b, "t%d\n", i);
	tok = maas_wordpiece_build(b.data, b.len, NULL, 0, NULL, &err);
	CHECK(tok != NULL && tok->n_vocab == n);
	if (tok != NULL)
	{
		CHECK_IDS(tok, "t999999 t5", 999999, 5);	/* no [CLS], no [SEP] */
	}
}

static void
test_wordpiece_tokenizer_json(void)
{
	const char *json =
		"{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,"
		" \"added_tokens\": [{\"id\": 0, \"content\": \"[PAD]\", \"special\": true},"
		"  {\"id\": 1, \"content\": \"[UNK]\", \"special\": true},"
		"  {\"id\": 5, \"content\": \"[NEW]\", \"special\": true}],"
		" \"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": true,"
		"  \"handle_chinese_chars\": true, \"strip_accents\": null, \"lowercase\": true},"
		" \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
		" \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 3], \"cls\": [\"[CLS]\", 2]},"
		" \"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\", \"cleanup\": true},"
		" \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\","
		"  \"continuing_subword_prefix\": \"##\", \"max_input_chars_per_word\": 100,"
		"  \"vocab\": {\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"ab\": 4, \"##c\": 6}}}";
	MaasTokenizer *tok = maas_tokenizer_build(parse(json), 0, NULL, &err);
	char	   *text;

	CHECK(tok != NULL);
	if (tok == NULL)
	{
		fprintf(stderr, "    %s\n", err.msg);
		return;
	}
	CHECK(tok->n_vocab == 7 && tok->cls_id == 2 && tok->sep_id == 3 && tok->mask_id == -1);
	CHECK_IDS(tok, "ABC ab", 2, 4, 6, 4, 3);
	text = decode(tok, (const int32_t[]) {2, 4, 6, 5, 4, 3}, 6, true);
	CHECK(text != NULL && strcmp(text, "abc ab") == 0);

	/* TemplateProcessing of another shape, other normalizers */
	CHECK_ERR(maas_tokenizer_build(parse(
										 "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}},"
										 " \"normalizer\": {\"type\": \"BertNormalizer\"},"
										 " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
										 " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": []}}"),
								   0, NULL, &err) != NULL, err.msg,
			  "tokenizer TemplateProcessing is supported only as BERT's \"[CLS] $A [SEP]\"");
	CHECK_ERR(maas_tokenizer_build(parse(
										 "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}},"
										 " \"normalizer\": {\"type\": \"NFKC\"},"
										 " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}"),
								   0, NULL, &err) != NULL, err.msg,
			  "tokenizer normalizer \"NFKC\" is not supported with WordPiece: only \"BertNormalizer\" is");
	CHECK_ERR(maas_tokenizer_build(parse(
										 "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}},"
										 " \"pre_tokenizer\": {\"type\": \"Whitespace\"}}"),
								   0, NULL, &err) != NULL, err.msg,
			  "tokenizer pre-tokenizer \"Whitespace\" is not supported with WordPiece");
	/* a null normalizer: nothing lower-cased, nothing cleaned */
	tok = maas_tokenizer_build(parse(
									 "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"Ab\": 1}},"
									 " \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
									 " \"post_processor\": null}"), 0, NULL, &err);
	CHECK(tok != NULL);
	if (tok != NULL)
	{
		CHECK(!maas_encode_defaults(tok).add_special || tok->cls_id >= 0);
		CHECK(tok->cls_id == -1);
	}
}

/* ---- out of memory at every allocation ---- */

typedef MaasTokenizer *(*Builder) (void);

static const char *oom_spec;

static MaasTokenizer *
build_spec(void)
{
	MaasJson   *spec = maas_json_parse(oom_spec, strlen(oom_spec), 0, NULL, &err);

	return spec == NULL ? NULL : maas_tokenizer_build(spec, 16, NULL, &err);
}

static MaasTokenizer *
build_small_wp(void)
{
	return small_wp(NULL);
}

static void
check_oom(Builder build, const char *text)
{
	long		k;
	bool		done = false;

	for (k = 0; k < 100000 && !done; k++)
	{
		MaasTokenizer *tok;
		int32_t		n;
		int32_t    *ids;
		size_t		len;

		arena_reset();
		arena_fail_after(k);
		tok = build();
		if (tok == NULL)
		{
			if (err.status != MAAS_ERR_NOMEM)
			{
				unit_fail(__FILE__, __LINE__, "a failed allocation is not out of memory");
				fprintf(stderr, "    allocation %ld: %s\n", k, err.msg);
				return;
			}
			continue;
		}
		ids = maas_tokenizer_encode(tok, text, strlen(text), NULL, &n, NULL, &err);
		if (ids == NULL)
		{
			if (err.status != MAAS_ERR_NOMEM)
				unit_fail(__FILE__, __LINE__, "encode: not out of memory");
			continue;
		}
		if (maas_tokenizer_decode(tok, ids, (size_t) n, false, &len, NULL, &err) == NULL)
		{
			if (err.status != MAAS_ERR_NOMEM)
				unit_fail(__FILE__, __LINE__, "decode: not out of memory");
			continue;
		}
		done = true;
	}
	CHECK(done && k > 3);
	arena_fail_after(-1);
}

static void
test_out_of_memory(void)
{
	MaasBuf		b;
	const char *text = "Hello the world, it's caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xce\xa3!";

	maas_buf_init(&b);
	maas_buf_puts(&b, "{\"vocab\": ");
	maas_buf_puts(&b, bpe_vocab_json(small_tokens, 11));
	maas_buf_puts(&b, ", \"merges\": ");
	maas_json_write_string(&b, small_merges, strlen(small_merges));
	maas_buf_puts(&b, "}");
	oom_spec = strdup(b.data);
	check_oom(build_spec, text);
	free((void *) oom_spec);
	oom_spec = bpe_tokenizer_json("", "{\"type\": \"ByteLevel\"}",
								  "[{\"id\": 259, \"content\": \"<s>\", \"special\": true}]");
	oom_spec = strdup(oom_spec);
	check_oom(build_spec, text);
	free((void *) oom_spec);
	check_oom(build_small_wp, text);
	oom_spec = "{\"vocab\": \"[UNK]\\n[CLS]\\n[SEP]\\nhello\\n##s\", \"do_lower_case\": false}";
	check_oom(build_spec, text);
}

/* ---- seeds for the fuzzers ---- */

static int
write_seed(const char *dir, const char *name, const char *data, size_t len)
{
	char		path[1024];
	FILE	   *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (fp == NULL || fwrite(data, 1, len, fp) != len)
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
	static const char *const seeds[] = {
		"Hello world, it's the database.",
		"UNaffable hello! caf\xc3\xa9 na\xc3\xafve \xe4\xb8\xad\xe6\x96\x87",
		"  \n\n\t x 'll 'S 123 4.5 \xf0\x9f\x98\x80\xe2\x80\x8d\xf0\x9f\x98\x80",
		"\xce\x9f\xce\x94\xce\x9f\xce\xa3 \xc4\xb0stanbul \xed\x95\x9c\xea\xb5\xad",
		"a\xcc\x81\xcc\xa3 \xef\xbb\xbf\xc2\x85\xe3\x80\x80 \xe2\x80\xa8",
		"\xc3(\xe2\x82 bad",
	};
	int			rc = 0;

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
	{
		char		name[32];

		snprintf(name, sizeof(name), "seed%zu", i);
		rc |= write_seed(dir, name, seeds[i], strlen(seeds[i]));
	}
	return rc;
}

static int
write_dict(const char *path)
{
	static const char *const words[] = {
		"'s", "'t", "'re", "'ve", "'m", "'ll", "'d", " ", "  ", "\\x0a", "\\x09",
		"hello", "the", "un", "aff", "able", "##", "[UNK]", "[CLS]",
		"\\xc3\\xa9", "\\xe4\\xb8\\xad", "\\xce\\xa3", "\\xcc\\x81",
		"\\xc2\\x85", "\\xef\\xbb\\xbf", "\\xe3\\x80\\x80", "\\xf0\\x9f\\x98\\x80",
		"\\xed\\x95\\x9c", "\\xc4\\xb0", "\\xe2\\x80\\xa8", "\\xef\\xbf\\xbd"
	};
	FILE	   *fp = fopen(path, "w");

	if (fp == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		fprintf(fp, "\"%s\"\n", words[i]);
	fclose(fp);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
		return write_corpus(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--dict") == 0)
		return write_dict(argv[2]);

	UNIT_RUN(test_unicode);
	UNIT_RUN(test_unicode_long_mark_runs);
	UNIT_RUN(test_utf8_repair);
	UNIT_RUN(test_bpe_small);
	UNIT_RUN(test_bpe_pattern);
	UNIT_RUN(test_bpe_merge_order);
	UNIT_RUN(test_bpe_round_trips);
	UNIT_RUN(test_bpe_decode_cut_characters);
	UNIT_RUN(test_bpe_long_word);
	UNIT_RUN(test_bpe_cache);
	UNIT_RUN(test_ticks);
	UNIT_RUN(test_bpe_errors);
	UNIT_RUN(test_encode_errors);
	UNIT_RUN(test_bpe_tokenizer_json);
	UNIT_RUN(test_wordpiece_small);
	UNIT_RUN(test_wordpiece_flags);
	UNIT_RUN(test_wordpiece_truncation);
	UNIT_RUN(test_wordpiece_errors);
	UNIT_RUN(test_wordpiece_big_vocab);
	UNIT_RUN(test_wordpiece_tokenizer_json);
	UNIT_RUN(test_out_of_memory);
	return unit_finish("tokenizer");
}
