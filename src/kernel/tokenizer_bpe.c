/*
 * tokenizer_bpe.c
 *		GPT-2's byte-level BPE: building from vocab.json + merges.txt (or a
 *		tokenizer.json).  Encoding and decoding are in
 *		tokenizer_bpe_encode.c.
 *
 * In memory every token is the raw bytes it stands for: the byte-to-unicode
 * spelling of the files (GPT-2's bytes_to_unicode: printable Latin-1 bytes
 * are themselves, the other 68 bytes are U+0100 ..) is undone once, at
 * build time, so encoding works on the text's UTF-8 bytes directly.
 *
 * Encoding splits the text with GPT-2's pattern (a hand-written scanner over
 * the Unicode classes of unicode.h, no regex engine), then merges each
 * piece.  GPT-2's encoder.py merges a word by repeatedly taking the
 * lowest-ranked adjacent pair and merging all its occurrences left to right.
 * Short words do exactly that; longer ones (beyond direct_limit bytes) get
 * the same result in O(n log n) from a heap of (rank, position) over a
 * linked list of symbols, one rank at a time: every pair of the lowest rank
 * is taken from the heap before any pair a merge creates can be, which is
 * what makes it equal to the one-rank-per-pass loop even for merge tables
 * that are not consistent with training order.
 */
#include "tokenizer_bpe_int.h"

#include <string.h>

#include "unicode.h"
#include "utf8.h"

/* ---- GPT-2's byte-to-unicode table ---- */

static bool
byte_is_printable(int b)
{
	return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

/*
 * code point -> byte, -1 when the code point spells no byte.  The 68 bytes
 * that are not printable (0x00-0x20, 0x7F-0xA0, 0xAD) are spelled U+0100 ..
 * U+0143 in byte order.
 */
static inline int
unicode_to_byte(uint32_t cp)
{
	if (cp < 256)
		return byte_is_printable((int) cp) ? (int) cp : -1;
	if (cp <= 256 + 0x20)
		return (int) (cp - 256);
	if (cp <= 256 + 0x20 + 34)
		return (int) (cp - 256 - 0x21 + 0x7F);
	if (cp == 256 + 0x20 + 35)
		return 0xAD;
	return -1;
}

/*
 * Undo the byte-level spelling of s[0 .. len) (valid UTF-8) into out
 * (len bytes at least); false when some character spells no byte.
 */
static bool
unspell(const uint8_t *s, size_t len, uint8_t *out, uint32_t *out_len)
{
	size_t		i = 0;
	uint32_t	o = 0;

	while (i < len)
	{
		uint32_t	cp;
		size_t		k = maas_utf8_decode(s + i, len - i, &cp);
		int			b;

		if (k == 0 || (b = unicode_to_byte(cp)) < 0)
			return false;
		out[o++] = (uint8_t) b;
		i += k;
	}
	*out_len = o;
	return true;
}

static MaasBpe *
bpe_build(const TokEntry *entries, int64_t n, const BpeMerge *merges,
		  int64_t n_merges, const char *merge_where, const MaasTick *tick,
		  MaasError *err)
{
	MaasBpe    *bpe = maas_kalloc(sizeof(MaasBpe));
	uint64_t	slots = 16;
	int64_t	   *rank_line;
	uint8_t    *scratch;
	uint32_t	max_len = 0;
	char		b1[80],
				b2[80],
				b3[80];

	if (bpe == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(bpe, 0, sizeof(MaasBpe));
	bpe->use_regex = true;
	bpe->direct_limit = BPE_DIRECT_LIMIT;
	if (!tok_vocab_build(&bpe->vocab, entries, n, "ids", tick, err))
		return NULL;

	for (int b = 0; b < 256; b++)
	{
		uint8_t		c = (uint8_t) b;

		bpe->byte_id[b] = tok_vocab_find(&bpe->vocab, &c, 1);
		if (bpe->byte_id[b] < 0)
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "vocabulary has no token for byte 0x%02x: a byte-level BPE needs all 256",
					   b);
			return NULL;
		}
	}

	if (n_merges > MAAS_TOKENIZER_MAX_MERGES)
	{
		maas_error(err, MAAS_ERR_LIMIT,
				   "tokenizer has %lld merges, more than the maximum of %d",
				   (long long) n_merges, MAAS_TOKENIZER_MAX_MERGES);
		return NULL;
	}
	while (slots < 2 * (uint64_t) n_merges)
		slots <<= 1;
	bpe->merges = maas_kalloc_array((size_t) slots, sizeof(BpeSlot));
	rank_line = maas_kalloc_array((size_t) slots, sizeof(int64_t));
	for (int64_t i = 0; i < n_merges; i++)
	{
		if (merges[i].alen > max_len)
			max_len = merges[i].alen;
		if (merges[i].blen > max_len)
			max_len = merges[i].blen;
	}
	scratch = maas_kalloc(2 * (size_t) max_len + 1);
	if (bpe->merges == NULL || rank_line == NULL ||
		scratch == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	for (uint64_t i = 0; i < slots; i++)
		bpe->merges[i].key = BPE_EMPTY;
	bpe->mmask = slots - 1;
	bpe->mseed = tok_hash((const uint8_t *) &bpe, sizeof(bpe), 0x51ed27);
	bpe->n_merges = (int32_t) n_merges;

	for (int64_t r = 0; r < n_merges; r++)
	{
		const BpeMerge *m = &merges[r];
		uint32_t	alen,
					blen;
		int32_t		a,
					b,
					ab;
		uint64_t	key,
					i;

		if ((r & 4095) == 0)
			maas_tick(tick);
		if (!unspell(m->a, m->alen, scratch, &alen) ||
			!unspell(m->b, m->blen, scratch + alen, &blen))
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "%s %lld: \"%s %s\" is not byte-level BPE: a character stands for no byte",
					   merge_where, (long long) m->where,
					   tok_show(m->a, m->alen, b1, sizeof(b1)),
					   tok_show(m->b, m->blen, b2, sizeof(b2)));
			return NULL;
		}
		a = tok_vocab_find(&bpe->vocab, scratch, alen);
		b = tok_vocab_find(&bpe->vocab, scratch + alen, blen);
		if (a < 0 || b < 0)
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "%s %lld: token \"%s\" is not in the vocabulary",
					   merge_where, (long long) m->where,
					   a < 0 ? tok_show(m->a, m->alen, b1, sizeof(b1)) :
					   tok_show(m->b, m->blen, b1, sizeof(b1)));
			return NULL;
		}
		ab = tok_vocab_find(&bpe->vocab, scratch, alen + blen);
		if (ab < 0)
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "%s %lld: \"%s\" and \"%s\" merge into a token that is not in the vocabulary",
					   merge_where, (long long) m->where,
					   tok_show(m->a, m->alen, b1, sizeof(b1)),
					   tok_show(m->b, m->blen, b2, sizeof(b2)));
			return NULL;
		}
		key = ((uint64_t) (uint32_t) a << 32) | (uint32_t) b;
		i = pair_slot(bpe, key);
		while (bpe->merges[i].key != BPE_EMPTY)
		{
			if (bpe->merges[i].key == key)
			{
				maas_error(err, MAAS_ERR_INVALID,
						   "%s %lld repeats the merge \"%s %s\" of %lld",
						   merge_where, (long long) m->where,
						   tok_show(m->a, m->alen, b1, sizeof(b1)),
						   tok_show(m->b, m->blen, b3, sizeof(b3)),
						   (long long) rank_line[i]);
				return NULL;
			}
			i = (i + 1) & bpe->mmask;
		}
		bpe->merges[i].key = key;
		bpe->merges[i].rank = (int32_t) r;
		bpe->merges[i].merged = ab;
		rank_line[i] = m->where;
	}
	return bpe;
}

/* ---- reading the files ---- */

/* merges.txt: an optional "#version" line, then "a b" a line */
static BpeMerge *
read_merges_txt(const char *text, size_t len, int64_t *n_out,
				const MaasTick *tick, MaasError *err)
{
	const uint8_t *s = (const uint8_t *) text;
	size_t		bad;
	int64_t		lines = 1;
	int64_t		n = 0;
	int64_t		line = 0;
	size_t		i = 0;
	BpeMerge   *m;

	if (len >= UINT32_MAX)
	{
		maas_error(err, MAAS_ERR_LIMIT, "merges.txt is larger than 4 GB");
		return NULL;
	}
	bad = tok_utf8_bad_at(s, len);
	if (bad < len)
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "merges.txt is not valid UTF-8: invalid byte sequence at byte %zu",
				   bad);
		return NULL;
	}
	for (size_t j = 0; j < len; j++)
	{
		if (s[j] == '\n')
			lines++;
	}
	if (lines > MAAS_TOKENIZER_MAX_MERGES + 1)
	{
		maas_error(err, MAAS_ERR_LIMIT,
				   "merges.txt has %lld lines, more than the maximum of %d merges",
				   (long long) lines, MAAS_TOKENIZER_MAX_MERGES);
		return NULL;
	}
	m = maas_kalloc_array((size_t) lines, sizeof(BpeMerge));
	if (m == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	while (i < len)
	{
		const uint8_t *nl = memchr(s + i, '\n', len - i);
		size_t		end = nl != NULL ? (size_t) (nl - s) : len;
		size_t		stop = end;
		const uint8_t *sp;

		line++;
		if ((line & 4095) == 0)
			maas_tick(tick);
		if (stop > i && s[stop - 1] == '\r')
			stop--;
		if (line == 1 && stop - i >= 8 && memcmp(s + i, "#version", 8) == 0)
		{
			i = end + 1;
			continue;
		}
		if (stop == i)
		{
			/* blank lines (the one after the last newline, say) */
			i = end + 1;
			continue;
		}
		sp = memchr(s + i, ' ', stop - i);
		if (sp == NULL || sp == s + i || sp + 1 == s + stop ||
			memchr(sp + 1, ' ', (size_t) (s + stop - sp - 1)) != NULL)
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "merges.txt line %lld is not two tokens separated by a space",
					   (long long) line);
			return NULL;
		}
		m[n].a = s + i;
		m[n].alen = (uint32_t) (sp - (s + i));
		m[n].b = sp + 1;
		m[n].blen = (uint32_t) (s + stop - sp - 1);
		m[n].where = line;
		n++;
		i = end + 1;
	}
	*n_out = n;
	return m;
}

static MaasTokenizer *
finish(MaasBpe *bpe, int32_t max_length, const char *bos, const char *eos,
	   MaasError *err)
{
	MaasTokenizer *tok = maas_kalloc(sizeof(MaasTokenizer));

	if (tok == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(tok, 0, sizeof(MaasTokenizer));
	tok->kind = MAAS_TOKENIZER_BPE;
	tok->n_vocab = bpe->vocab.n;
	tok->unk_id = tok->cls_id = tok->sep_id = tok->pad_id = tok->mask_id = -1;
	tok->bos_id = tok_vocab_find_any(&bpe->vocab, (const uint8_t *) bos, strlen(bos));
	tok->eos_id = tok_vocab_find_any(&bpe->vocab, (const uint8_t *) eos, strlen(eos));
	if (tok->bos_id >= 0)
		bpe->vocab.flags[tok->bos_id] |= TOK_SPECIAL;
	if (tok->eos_id >= 0)
		bpe->vocab.flags[tok->eos_id] |= TOK_SPECIAL;
	tok->max_length = max_length;
	tok->bpe = bpe;
	return tok;
}

MaasTokenizer *
maas_bpe_build(const MaasJson *vocab, const char *merges, size_t merges_len,
			   int32_t max_length, const MaasTick *tick, MaasError *err)
{
	TokEntry   *e;
	BpeMerge   *m;
	int64_t		n_merges;
	MaasBpe    *bpe;

	int64_t		n;

	e = tok_json_entries(vocab, NULL, unspell, &n, tick, err);
	if (e == NULL)
		return NULL;
	m = read_merges_txt(merges, merges_len, &n_merges, tick, err);
	if (m == NULL)
		return NULL;
	bpe = bpe_build(e, n, m, n_merges, "merges.txt line", tick, err);
	if (bpe == NULL)
		return NULL;
	return finish(bpe, max_length, "<|endoftext|>", "<|endoftext|>", err);
}

void
tok_bpe_set_direct_limit(MaasBpe *bpe, int limit)
{
	bpe->direct_limit = limit;
}

const TokVocab *
tok_bpe_vocab(const MaasBpe *bpe)
{
	return &bpe->vocab;
}

/* ---- tokenizer.json and the files' form, from the JSON object ---- */

/* tokenizer.json's model.merges: "a b" strings or ["a", "b"] pairs */
static BpeMerge *
read_merges_json(const MaasJson *merges, int64_t *n_out, MaasError *err)
{
	BpeMerge   *m;

	if (merges == NULL || merges->type != MAAS_JSON_ARRAY)
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "tokenizer model \"merges\" must be an array, not %s",
				   merges == NULL ? "nothing" : maas_json_type_name(merges->type));
		return NULL;
	}
	if (merges->n > MAAS_TOKENIZER_MAX_MERGES)
	{
		maas_error(err, MAAS_ERR_LIMIT,
				   "tokenizer has %d merges, more than the maximum of %d",
				   merges->n, MAAS_TOKENIZER_MAX_MERGES);
		return NULL;
	}
	m = maas_kalloc_array((size_t) merges->n + 1, sizeof(BpeMerge));
	if (m == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	for (int i = 0; i < merges->n; i++)
	{
		const MaasJson *v = &merges->u.items[i];

		m[i].where = i;
		if (v->type == MAAS_JSON_STRING)
		{
			const uint8_t *s = (const uint8_t *) v->u.string;
			const uint8_t *sp = memchr(s, ' ', (size_t) v->n);

			if (sp == NULL || sp == s || sp + 1 == s + v->n ||
				memchr(sp + 1, ' ', (size_t) (s + v->n - sp - 1)) != NULL)
			{
				maas_error(err, MAAS_ERR_INVALID,
						   "tokenizer merge %d is not two tokens separated by a space",
						   i);
				return NULL;
			}
			m[i].a = s;
			m[i].alen = (uint32_t) (sp - s);
			m[i].b = sp + 1;
			m[i].blen = (uint32_t) (s + v->n - sp - 1);
		}
		else if (v->type == MAAS_JSON_ARRAY && v->n == 2 &&
				 v->u.items[0].type == MAAS_JSON_STRING &&
				 v->u.items[1].type == MAAS_JSON_STRING &&
				 v->u.items[0].n > 0 && v->u.items[1].n > 0)
		{
			m[i].a = (const uint8_t *) v->u.items[0].u.string;
			m[i].alen = (uint32_t) v->u.items[0].n;
			m[i].b = (const uint8_t *) v->u.items[1].u.string;
			m[i].blen = (uint32_t) v->u.items[1].n;
		}
		else
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "tokenizer merge %d is neither \"a b\" nor [\"a\", \"b\"]", i);
			return NULL;
		}
	}
	*n_out = merges->n;
	return m;
}

/* a member that must be null, absent, false or the empty string */
static bool
unset(const MaasJson *obj, const char *key)
{
	const MaasJson *v = maas_json_get(obj, key);

	return v == NULL || v->type == MAAS_JSON_NULL ||
		(v->type == MAAS_JSON_BOOL && !v->u.boolean) ||
		(v->type == MAAS_JSON_STRING && v->n == 0);
}

static MaasTokenizer *
bpe_from_tokenizer_json(const MaasJson *spec, int32_t max_length,
						const MaasTick *tick, MaasError *err)
{
	const MaasJson *model = maas_json_get(spec, "model");
	const MaasJson *part;
	const char *type;
	bool		add_prefix_space = false;
	bool		use_regex = true;
	bool		ignore_merges = false;
	const MaasJson *dropout = maas_json_get(model, "dropout");
	static const char *const unsupported[] = {
		"continuing_subword_prefix", "end_of_word_suffix", "byte_fallback"
	};
	TokEntry   *e;
	int64_t		n;
	BpeMerge   *m;
	int64_t		n_merges;
	MaasBpe    *bpe;
	MaasTokenizer *tok;

	if (dropout != NULL && dropout->type != MAAS_JSON_NULL &&
		!(dropout->type == MAAS_JSON_NUMBER && dropout->u.number == 0))
	{
		maas_error(err, MAAS_ERR_UNSUPPORTED,
				   "tokenizer BPE \"dropout\" is not supported: it makes encoding random");
		return NULL;
	}
	for (int i = 0; i < 3; i++)
	{
		if (!unset(model, unsupported[i]))
		{
			maas_error(err, MAAS_ERR_UNSUPPORTED,
					   "tokenizer BPE \"%s\" is not supported", unsupported[i]);
			return NULL;
		}
	}
	if (!tok_json_bool(model, "ignore_merges", &ignore_merges, err))
		return NULL;

	/* GPT-2's: no normalizer, a ByteLevel pre-tokenizer */
	if ((part = tok_json_part(spec, "normalizer", &type, err)) == NULL)
		return NULL;
	if (type != NULL)
	{
		maas_error(err, MAAS_ERR_UNSUPPORTED,
				   "tokenizer normalizer \"%.64s\" is not supported with BPE", type);
		return NULL;
	}
	if ((part = tok_json_part(spec, "pre_tokenizer", &type, err)) == NULL)
		return NULL;
	if (type == NULL || strcmp(type, "ByteLevel") != 0)
	{
		maas_error(err, MAAS_ERR_UNSUPPORTED,
				   "tokenizer pre-tokenizer \"%.64s\" is not supported with BPE: only \"ByteLevel\" is",
				   type == NULL ? "null" : type);
		return NULL;
	}
	if (!tok_json_bool(part, "add_prefix_space", &add_prefix_space, err) ||
		!tok_json_bool(part, "use_regex", &use_regex, err))
		return NULL;
	if ((part = tok_json_part(spec, "decoder", &type, err)) == NULL)
		return NULL;
	if (type != NULL && strcmp(type, "ByteLevel") != 0)
	{
		maas_error(err, MAAS_ERR_UNSUPPORTED,
				   "tokenizer decoder \"%.64s\" is not supported with BPE: only \"ByteLevel\" is",
				   type);
		return NULL;
	}
	if ((part = tok_json_part(spec, "post_processor", &type, err)) == NULL)
		return NULL;
	if (type != NULL && strcmp(type, "ByteLevel") != 0)
	{
		maas_error(err, MAAS_ERR_UNSUPPORTED,
				   "tokenizer post-processor \"%.64s\" is not supported with BPE: only \"ByteLevel\" is",
				   type);
		return NULL;
	}

	e = tok_json_entries(maas_json_get(model, "vocab"),
						 maas_json_get(spec, "added_tokens"), unspell, &n,
						 tick, err);
	if (e == NULL)
		return NULL;
	m = read_merges_json(maas_json_get(model, "merges"), &n_merges, err);
	if (m == NULL)
		return NULL;
	bpe = bpe_build(e, n, m, n_merges, "tokenizer merge", tick, err);
	if (bpe == NULL)
		return NULL;
	bpe->add_prefix_space = add_prefix_space;
	bpe->use_regex = use_regex;
	bpe->ignore_merges = ignore_merges;
	tok = finish(bpe, max_length, "<|endoftext|>", "<|endoftext|>", err);
	return tok;
}

MaasTokenizer *
tok_bpe_from_json(const MaasJson *spec, int32_t max_length,
				  const MaasTick *tick, MaasError *err)
{
	const MaasJson *merges = maas_json_get(spec, "merges");
	const char *bos = "<|endoftext|>";
	const char *eos = "<|endoftext|>";
	TokEntry   *e;
	int64_t		n;
	BpeMerge   *m;
	int64_t		n_merges;
	MaasBpe    *bpe;

	if (maas_json_get(spec, "model") != NULL)
		return bpe_from_tokenizer_json(spec, max_length, tick, err);

	/* {"vocab": <vocab.json>, "merges": "<merges.txt>", ...} */
	if (merges == NULL || merges->type != MAAS_JSON_STRING)
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "tokenizer \"merges\" must be the text of merges.txt, not %s",
				   merges == NULL ? "nothing" : maas_json_type_name(merges->type));
		return NULL;
	}
	if (!tok_json_string(spec, "bos_token", &bos, err) ||
		!tok_json_string(spec, "eos_token", &eos, err))
		return NULL;
	e = tok_json_entries(maas_json_get(spec, "vocab"), NULL, unspell, &n,
						 tick, err);
	if (e == NULL)
		return NULL;
	m = read_merges_txt(merges->u.string, (size_t) merges->n, &n_merges,
						tick, err);
	if (m == NULL)
		return NULL;
	bpe = bpe_build(e, n, m, n_merges, "merges.txt line", tick, err);
	if (bpe == NULL)
		return NULL;
	return finish(bpe, max_length, bos, eos, err);
}

/* ---- the flat form (tokenizer_flat.c) ---- */

void
tok_bpe_flat_parts(const MaasBpe *bpe, TokFlatHeader *h, TokFlatPart *parts)
{
	h->p[0] = bpe->mseed;
	h->p[1] = (uint64_t) bpe->n_merges;
	h->p[2] = bpe->add_prefix_space;
	h->p[3] = bpe->use_regex;
	h->p[4] = bpe->ignore_merges;
	h->p[5] = (uint64_t) bpe->direct_limit;
	parts[TOK_SEC_KIND] = (TokFlatPart) {bpe->byte_id, sizeof(bpe->byte_id)};
	parts[TOK_SEC_KIND + 1] = (TokFlatPart) {bpe->merges, (bpe->mmask + 1) * sizeof(BpeSlot)};
}

MaasBpe *
tok_bpe_flat_view(const TokFlatHeader *h, const uint8_t *base,
				  const TokVocab *vocab, MaasError *err)
{
	MaasBpe    *bpe;
	const int32_t *byte_id;
	uint64_t	n_bytes,
				n_slots,
				empty = 0;
	int32_t		n = vocab->n;

	byte_id = tok_flat_section(h, base, TOK_SEC_KIND, sizeof(int32_t), &n_bytes);
	if (byte_id == NULL || n_bytes != 256)
	{
		maas_error(err, MAAS_ERR_INVALID, "invalid flat tokenizer: the byte table is not 256 ids");
		return NULL;
	}
	for (int b = 0; b < 256; b++)
		if (byte_id[b] < 0 || byte_id[b] >= n)
		{
			maas_error(err, MAAS_ERR_INVALID, "invalid flat tokenizer: byte 0x%02x has an id out of range", b);
			return NULL;
		}
	if (h->p[1] > MAAS_TOKENIZER_MAX_MERGES || h->p[2] > 1 || h->p[3] > 1 ||
		h->p[4] > 1 || h->p[5] > INT32_MAX)
	{
		maas_error(err, MAAS_ERR_INVALID, "invalid flat tokenizer: a BPE setting is out of range");
		return NULL;
	}
	bpe = maas_kalloc(sizeof(MaasBpe));
	if (bpe == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(bpe, 0, sizeof(MaasBpe));
	bpe->vocab = *vocab;
	memcpy(bpe->byte_id, byte_id, sizeof(bpe->byte_id));
	bpe->merges = (BpeSlot *) tok_flat_section(h, base, TOK_SEC_KIND + 1, sizeof(BpeSlot), &n_slots);
	if (bpe->merges == NULL || n_slots < 2 || (n_slots & (n_slots - 1)) != 0)
	{
		maas_error(err, MAAS_ERR_INVALID, "invalid flat tokenizer: the merge table is not a power of 2");
		return NULL;
	}
	for (uint64_t i = 0; i < n_slots; i++)
	{
		const BpeSlot *s = &bpe->merges[i];

		if (s->key == BPE_EMPTY)
			empty++;
		else if ((s->key >> 32) >= (uint64_t) n || (s->key & UINT32_MAX) >= (uint64_t) n ||
				 s->merged < 0 || s->merged >= n || s->rank < 0 || s->rank == BPE_NO_RANK)
		{
			maas_error(err, MAAS_ERR_INVALID, "invalid flat tokenizer: merge slot %llu is out of range",
					   (unsigned long long) i);
			return NULL;
		}
	}
	if (empty == 0)
	{
		maas_error(err, MAAS_ERR_INVALID, "invalid flat tokenizer: the merge table is full");
		return NULL;
	}
	bpe->mmask = n_slots - 1;
	bpe->mseed = h->p[0];
	bpe->n_merges = (int32_t) h->p[1];
	bpe->add_prefix_space = h->p[2] != 0;
	bpe->use_regex = h->p[3] != 0;
	bpe->ignore_merges = h->p[4] != 0;
	bpe->direct_limit = (int) h->p[5];
	return bpe;
}
