/*
 * tokenizer_wordpiece.c
 *		BERT's tokenizer: building it from vocab.txt and flags, or from a
 *		tokenizer.json, with its vocabulary trie; its flat form (written and
 *		checked here for tokenizer_flat.c).  Encoding and decoding are in
 *		tokenizer_wordpiece_encode.c; the struct and the trie lookup both
 *		halves use are in tokenizer_int.h.
 *
 * Encoding follows BERT's tokenization.py, in its order: the BasicTokenizer
 * (clean text, CJK padding, lower case, accent stripping, punctuation split)
 * and WordPiece on each word:
 *
 *	1. clean: drop U+0000, U+FFFD and control characters (C* but \t \n \r),
 *	   every BERT whitespace (" \t\n\r", Zs) becomes a space;
 *	2. a space either side of every CJK ideograph;
 *	3. split on Python's whitespace (str.split());
 *	4. each of those tokens lower-cased with str.lower() (final sigma
 *	   included), then NFD with the Mn characters dropped, per the flags;
 *	5. split again so every punctuation character is a word of its own;
 *	6. each word: [UNK] when longer than max_input_chars_per_word
 *	   characters, else the longest vocabulary token that begins it, then
 *	   the longest "##" token that begins the rest, and so on; [UNK] for the
 *	   whole word when some rest has none.
 *
 * Step 6 walks a byte trie of the vocabulary (one for word starts, one for
 * continuations with the prefix taken off) instead of trying ever shorter
 * substrings, so a word costs the length of its pieces, not its square.  A
 * trie node that a whole token ends at is always at a character boundary,
 * as tokens and text are both valid UTF-8.
 *
 * Tokens that are ASCII all through take a byte-only path; the rest go
 * through unicode.c.
 */
#include "tokenizer_int.h"

#include <string.h>

#include "utf8.h"

void
maas_wordpiece_defaults(MaasWordPieceOptions *opt)
{
	opt->do_lower_case = true;
	opt->strip_accents = -1;
	opt->tokenize_chinese_chars = true;
	opt->clean_text = true;
	opt->max_input_chars_per_word = 100;
	opt->unk_token = "[UNK]";
	opt->cls_token = "[CLS]";
	opt->sep_token = "[SEP]";
	opt->pad_token = "[PAD]";
	opt->mask_token = "[MASK]";
	opt->continuing_subword_prefix = "##";
}

const TokVocab *
tok_wordpiece_vocab(const MaasWordPiece *wp)
{
	return &wp->vocab;
}

/* ---- the trie (its lookup, wp_trie_child, is in tokenizer_int.h) ---- */

static void
trie_insert(MaasWordPiece *wp, int32_t root, const uint8_t *s, size_t len,
			int32_t id)
{
	int32_t		node = root;

	for (size_t j = 0; j < len; j++)
	{
		uint64_t	key = (((uint64_t) node << 8) | s[j]) + 1;
		uint64_t	i = wp_edge_slot(wp, key);

		for (;;)
		{
			if (wp->tkeys[i] == key)
			{
				node = wp->tvals[i];
				break;
			}
			if (wp->tkeys[i] == WP_TRIE_EMPTY)
			{
				wp->tkeys[i] = key;
				wp->tvals[i] = wp->n_nodes;
				wp->node_id[wp->n_nodes] = -1;
				node = wp->n_nodes++;
				break;
			}
			i = (i + 1) & wp->tmask;
		}
	}
	wp->node_id[node] = id;
}

static bool
trie_build(MaasWordPiece *wp, const MaasTick *tick, MaasError *err)
{
	const TokVocab *v = &wp->vocab;
	uint64_t	bytes = v->off[v->n];
	uint64_t	nodes = 2 + 2 * bytes;	/* each byte of each token, in both tries */
	uint64_t	slots = 16;

	while (slots < 2 * nodes)
		slots <<= 1;
	if (nodes > INT32_MAX)
		return maas_error(err, MAAS_ERR_LIMIT, "vocabulary is too large");
	wp->tkeys = maas_kalloc_array((size_t) slots, sizeof(uint64_t));
	wp->tvals = maas_kalloc_array((size_t) slots, sizeof(int32_t));
	wp->node_id = maas_kalloc_array((size_t) nodes, sizeof(int32_t));
	if (wp->tkeys == NULL || wp->tvals == NULL || wp->node_id == NULL)
		return maas_error_nomem(err);
	memset(wp->tkeys, 0, (size_t) slots * sizeof(uint64_t));
	wp->tmask = slots - 1;
	wp->tseed = tok_hash((const uint8_t *) &wp, sizeof(wp), 0x77a3);
	wp->node_id[WP_ROOT_WORD] = -1;
	wp->node_id[WP_ROOT_CONTINUATION] = -1;
	wp->n_nodes = 2;
	for (int32_t id = 0; id < v->n; id++)
	{
		size_t		len;
		const uint8_t *s = tok_vocab_bytes(v, id, &len);

		if ((id & 4095) == 0)
			maas_tick(tick);
		if (len == 0)
			continue;			/* an empty line: never a match */
		trie_insert(wp, WP_ROOT_WORD, s, len, id);
		if (len > wp->prefix_len && memcmp(s, wp->prefix, wp->prefix_len) == 0)
			trie_insert(wp, WP_ROOT_CONTINUATION, s + wp->prefix_len,
						len - wp->prefix_len, id);
	}
	return true;
}

/* ---- building ---- */

/* the id of a special token by name; -1 when absent (unless required) */
static bool
special_id(const MaasWordPiece *wp, const char *name, const char *what,
		   bool required, int32_t *id, MaasError *err)
{
	char		b1[80];

	*id = name == NULL ? -1 :
		tok_vocab_find(&wp->vocab, (const uint8_t *) name, strlen(name));
	if (*id < 0 && required)
		return maas_error(err, MAAS_ERR_INVALID,
						  "%s \"%s\" is not in the vocabulary", what,
						  tok_show((const uint8_t *) name, strlen(name), b1, sizeof(b1)));
	return true;
}

static MaasTokenizer *
wordpiece_build(const TokEntry *e, int64_t n, const char *where_name,
				const MaasWordPieceOptions *opt, int32_t max_length,
				const MaasTick *tick, MaasError *err)
{
	MaasWordPiece *wp = maas_kalloc(sizeof(MaasWordPiece));
	MaasTokenizer *tok = maas_kalloc(sizeof(MaasTokenizer));
	const char *prefix = opt->continuing_subword_prefix;
	int32_t		ids[4];
	const char *const names[4] = {opt->cls_token, opt->sep_token,
	opt->pad_token, opt->mask_token};

	if (wp == NULL || tok == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(wp, 0, sizeof(MaasWordPiece));
	memset(tok, 0, sizeof(MaasTokenizer));
	if (opt->max_input_chars_per_word < 1)
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "max_input_chars_per_word must be positive, not %d",
				   opt->max_input_chars_per_word);
		return NULL;
	}
	if (opt->unk_token == NULL)
	{
		maas_error(err, MAAS_ERR_INVALID, "WordPiece needs an unknown token");
		return NULL;
	}
	if (prefix == NULL)
		prefix = "";
	if (!maas_utf8_valid((const uint8_t *) prefix, strlen(prefix)))
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "continuing_subword_prefix is not valid UTF-8");
		return NULL;
	}
	wp->do_lower_case = opt->do_lower_case;
	wp->strip_accents = opt->strip_accents < 0 ? opt->do_lower_case :
		opt->strip_accents > 0;
	wp->tokenize_chinese_chars = opt->tokenize_chinese_chars;
	wp->clean_text = opt->clean_text;
	wp->max_chars = opt->max_input_chars_per_word;
	wp->prefix = (const uint8_t *) prefix;
	wp->prefix_len = strlen(prefix);

	if (!tok_vocab_build(&wp->vocab, e, n, where_name, tick, err) ||
		!trie_build(wp, tick, err))
		return NULL;
	if (!special_id(wp, opt->unk_token, "unknown token", true, &wp->unk_id, err))
		return NULL;
	for (int i = 0; i < 4; i++)
	{
		if (!special_id(wp, names[i], "", false, &ids[i], err))
			return NULL;
		if (ids[i] >= 0)
			wp->vocab.flags[ids[i]] |= TOK_SPECIAL;
	}
	wp->vocab.flags[wp->unk_id] |= TOK_SPECIAL;

	tok->kind = MAAS_TOKENIZER_WORDPIECE;
	tok->n_vocab = wp->vocab.n;
	tok->unk_id = wp->unk_id;
	tok->cls_id = ids[0];
	tok->sep_id = ids[1];
	tok->pad_id = ids[2];
	tok->mask_id = ids[3];
	tok->bos_id = tok->eos_id = -1;
	tok->max_length = max_length;
	tok->wordpiece = wp;
	return tok;
}

MaasTokenizer *
maas_wordpiece_build(const char *vocab, size_t vocab_len,
					 const MaasWordPieceOptions *opt, int32_t max_length,
					 const MaasTick *tick, MaasError *err)
{
	const uint8_t *s = (const uint8_t *) vocab;
	MaasWordPieceOptions defaults;
	int64_t		lines = 1;
	int64_t		n = 0;
	size_t		i = 0;
	TokEntry   *e;

	if (opt == NULL)
	{
		maas_wordpiece_defaults(&defaults);
		opt = &defaults;
	}
	if (max_length < 0)
	{
		maas_error(err, MAAS_ERR_INVALID, "maximum length %d is negative",
				   max_length);
		return NULL;
	}
	if (vocab_len >= UINT32_MAX)
	{
		maas_error(err, MAAS_ERR_LIMIT, "vocab.txt is larger than 4 GB");
		return NULL;
	}
	for (size_t j = 0; j < vocab_len; j++)
	{
		if (s[j] == '\n')
			lines++;
	}
	if (lines > MAAS_TOKENIZER_MAX_VOCAB + 1)
	{
		maas_error(err, MAAS_ERR_LIMIT,
				   "vocab.txt has %lld lines, more than the maximum of %d tokens",
				   (long long) lines, MAAS_TOKENIZER_MAX_VOCAB);
		return NULL;
	}
	e = maas_kalloc_array((size_t) lines, sizeof(TokEntry));
	if (e == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	while (i < vocab_len)
	{
		const uint8_t *nl = memchr(s + i, '\n', vocab_len - i);
		size_t		end = nl != NULL ? (size_t) (nl - s) : vocab_len;
		size_t		stop = end;

		if ((n & 4095) == 0)
			maas_tick(tick);
		if (stop > i && s[stop - 1] == '\r')
			stop--;
		if (!maas_utf8_valid(s + i, stop - i))
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "vocab.txt line %lld is not valid UTF-8", (long long) n + 1);
			return NULL;
		}
		e[n].bytes = s + i;
		e[n].len = (uint32_t) (stop - i);
		e[n].id = n;
		e[n].where = n + 1;
		e[n].flags = 0;
		n++;
		i = end + 1;
	}
	return wordpiece_build(e, n, "vocab.txt lines", opt, max_length, tick, err);
}


/* ---- both forms of the tokenizer object ---- */

static bool
json_int(const MaasJson *obj, const char *key, int32_t *out, MaasError *err)
{
	const MaasJson *v = maas_json_get(obj, key);
	int64_t		i;

	if (v == NULL || v->type == MAAS_JSON_NULL)
		return true;
	if (!maas_json_int(v, 1, INT32_MAX, &i))
		return maas_error(err, MAAS_ERR_INVALID,
						  "tokenizer \"%s\" must be a positive integer", key);
	*out = (int32_t) i;
	return true;
}

/* strip_accents: null (as lower case), true or false */
static bool
json_tristate(const MaasJson *obj, const char *key, int *out, MaasError *err)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL || v->type == MAAS_JSON_NULL)
		return true;
	if (v->type != MAAS_JSON_BOOL)
		return maas_error(err, MAAS_ERR_INVALID,
						  "tokenizer \"%s\" must be true, false or null", key);
	*out = v->u.boolean ? 1 : 0;
	return true;
}

/*
 * The [CLS] / [SEP] of a tokenizer.json post-processor: BertProcessing's
 * "cls" and "sep" pairs, or TemplateProcessing's "single" template when it
 * is a special token, the sequence, a special token.  None when there is
 * no post-processor.
 */
static bool
post_processor(const MaasJson *spec, MaasWordPieceOptions *opt, MaasError *err)
{
	const char *type;
	const MaasJson *pp = tok_json_part(spec, "post_processor", &type, err);

	if (pp == NULL)
		return false;
	if (type == NULL)
	{
		opt->cls_token = opt->sep_token = NULL;
		return true;
	}
	if (strcmp(type, "BertProcessing") == 0)
	{
		const MaasJson *cls = maas_json_get(pp, "cls");
		const MaasJson *sep = maas_json_get(pp, "sep");
		const MaasJson *c0 = maas_json_at(cls, 0);
		const MaasJson *s0 = maas_json_at(sep, 0);

		if (c0 == NULL || c0->type != MAAS_JSON_STRING ||
			s0 == NULL || s0->type != MAAS_JSON_STRING)
			return maas_error(err, MAAS_ERR_INVALID,
							  "tokenizer BertProcessing needs \"cls\" and \"sep\" as [token, id]");
		opt->cls_token = c0->u.string;
		opt->sep_token = s0->u.string;
		return true;
	}
	if (strcmp(type, "TemplateProcessing") == 0)
	{
		const MaasJson *single = maas_json_get(pp, "single");
		const MaasJson *parts[3];
		const MaasJson *a,
				   *b;

		for (int i = 0; i < 3; i++)
			parts[i] = maas_json_at(single, i);
		a = maas_json_get(maas_json_get(parts[0], "SpecialToken"), "id");
		b = maas_json_get(maas_json_get(parts[2], "SpecialToken"), "id");
		if (single == NULL || single->type != MAAS_JSON_ARRAY || single->n != 3 ||
			maas_json_get(parts[1], "Sequence") == NULL ||
			a == NULL || a->type != MAAS_JSON_STRING ||
			b == NULL || b->type != MAAS_JSON_STRING)
			return maas_error(err, MAAS_ERR_UNSUPPORTED,
							  "tokenizer TemplateProcessing is supported only as BERT's \"[CLS] $A [SEP]\"");
		opt->cls_token = a->u.string;
		opt->sep_token = b->u.string;
		return true;
	}
	return maas_error(err, MAAS_ERR_UNSUPPORTED,
					  "tokenizer post-processor \"%.64s\" is not supported with WordPiece",
					  type);
}

static MaasTokenizer *
wordpiece_from_tokenizer_json(const MaasJson *spec, int32_t max_length,
							  const MaasTick *tick, MaasError *err)
{
	const MaasJson *model = maas_json_get(spec, "model");
	const MaasJson *norm;
	const char *type;
	MaasWordPieceOptions opt;
	TokEntry   *e;
	int64_t		n;

	maas_wordpiece_defaults(&opt);
	if (!tok_json_string(model, "unk_token", &opt.unk_token, err) ||
		!tok_json_string(model, "continuing_subword_prefix",
						 &opt.continuing_subword_prefix, err) ||
		!json_int(model, "max_input_chars_per_word",
				  &opt.max_input_chars_per_word, err))
		return NULL;

	if ((norm = tok_json_part(spec, "normalizer", &type, err)) == NULL)
		return NULL;
	if (type == NULL)
	{
		opt.clean_text = opt.tokenize_chinese_chars = opt.do_lower_case = false;
		opt.strip_accents = 0;
	}
	else if (strcmp(type, "BertNormalizer") == 0)
	{
		if (!tok_json_bool(norm, "clean_text", &opt.clean_text, err) ||
			!tok_json_bool(norm, "handle_chinese_chars", &opt.tokenize_chinese_chars, err) ||
			!tok_json_bool(norm, "lowercase", &opt.do_lower_case, err) ||
			!json_tristate(norm, "strip_accents", &opt.strip_accents, err))
			return NULL;
	}
	else
	{
		maas_error(err, MAAS_ERR_UNSUPPORTED,
				   "tokenizer normalizer \"%.64s\" is not supported with WordPiece: only \"BertNormalizer\" is",
				   type);
		return NULL;
	}
	if (tok_json_part(spec, "pre_tokenizer", &type, err) == NULL)
		return NULL;
	if (type == NULL || strcmp(type, "BertPreTokenizer") != 0)
	{
		maas_error(err, MAAS_ERR_UNSUPPORTED,
				   "tokenizer pre-tokenizer \"%.64s\" is not supported with WordPiece: only \"BertPreTokenizer\" is",
				   type == NULL ? "null" : type);
		return NULL;
	}
	if (!post_processor(spec, &opt, err))
		return NULL;

	e = tok_json_entries(maas_json_get(model, "vocab"),
						 maas_json_get(spec, "added_tokens"), NULL, &n, tick, err);
	if (e == NULL)
		return NULL;
	return wordpiece_build(e, n, "ids", &opt, max_length, tick, err);
}

MaasTokenizer *
tok_wordpiece_from_json(const MaasJson *spec, int32_t max_length,
						const MaasTick *tick, MaasError *err)
{
	const MaasJson *vocab = maas_json_get(spec, "vocab");
	MaasWordPieceOptions opt;
	int32_t		model_max = 0;

	if (maas_json_get(spec, "model") != NULL)
		return wordpiece_from_tokenizer_json(spec, max_length, tick, err);

	/* {"vocab": "<vocab.txt>", flags as BertTokenizer's} */
	if (vocab == NULL || vocab->type != MAAS_JSON_STRING)
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "tokenizer \"vocab\" must be the text of vocab.txt (WordPiece) or, with \"merges\", an object (BPE), not %s",
				   vocab == NULL ? "nothing" : maas_json_type_name(vocab->type));
		return NULL;
	}
	maas_wordpiece_defaults(&opt);
	if (!tok_json_bool(spec, "do_lower_case", &opt.do_lower_case, err) ||
		!json_tristate(spec, "strip_accents", &opt.strip_accents, err) ||
		!tok_json_bool(spec, "tokenize_chinese_chars", &opt.tokenize_chinese_chars, err) ||
		!tok_json_bool(spec, "clean_text", &opt.clean_text, err) ||
		!json_int(spec, "max_input_chars_per_word", &opt.max_input_chars_per_word, err) ||
		!tok_json_string(spec, "unk_token", &opt.unk_token, err) ||
		!tok_json_string(spec, "cls_token", &opt.cls_token, err) ||
		!tok_json_string(spec, "sep_token", &opt.sep_token, err) ||
		!tok_json_string(spec, "pad_token", &opt.pad_token, err) ||
		!tok_json_string(spec, "mask_token", &opt.mask_token, err) ||
		!tok_json_string(spec, "continuing_subword_prefix",
						 &opt.continuing_subword_prefix, err))
		return NULL;
	/* tokenizer_config.json's model_max_length (huge when unknown) */
	{
		const MaasJson *mml = maas_json_get(spec, "model_max_length");
		int64_t		v;

		if (mml != NULL && maas_json_int(mml, 1, INT32_MAX, &v))
			model_max = (int32_t) v;
	}
	if (max_length == 0)
		max_length = model_max;
	return maas_wordpiece_build(vocab->u.string, (size_t) vocab->n, &opt,
								max_length, tick, err);
}

/* ---- the flat form (tokenizer_flat.c) ---- */

void
tok_wordpiece_flat_parts(const MaasWordPiece *wp, TokFlatHeader *h,
						 TokFlatPart *parts)
{
	h->p[0] = wp->tseed;
	h->p[1] = wp->do_lower_case;
	h->p[2] = wp->strip_accents;
	h->p[3] = wp->tokenize_chinese_chars;
	h->p[4] = wp->clean_text;
	h->p[5] = (uint64_t) wp->max_chars;
	h->p[6] = (uint64_t) wp->unk_id;
	parts[TOK_SEC_KIND] = (TokFlatPart) {wp->tkeys, (wp->tmask + 1) * sizeof(uint64_t)};
	parts[TOK_SEC_KIND + 1] = (TokFlatPart) {wp->tvals, (wp->tmask + 1) * sizeof(int32_t)};
	parts[TOK_SEC_KIND + 2] = (TokFlatPart) {wp->node_id, (uint64_t) wp->n_nodes * sizeof(int32_t)};
	parts[TOK_SEC_KIND + 3] = (TokFlatPart) {wp->prefix, wp->prefix_len};
}

static MaasWordPiece *
flat_error(MaasError *err, const char *what)
{
	maas_error(err, MAAS_ERR_INVALID, "invalid flat tokenizer: %s", what);
	return NULL;
}

MaasWordPiece *
tok_wordpiece_flat_view(const TokFlatHeader *h, const uint8_t *base,
						const TokVocab *vocab, MaasError *err)
{
	MaasWordPiece *wp;
	uint64_t	n_keys,
				n_vals,
				n_nodes,
				n_prefix,
				empty = 0;
	int32_t		n = vocab->n;

	for (int32_t id = 0; id < n; id++)
	{
		size_t		len;
		const uint8_t *s = tok_vocab_bytes(vocab, id, &len);

		if (tok_utf8_bad_at(s, len) < len)
			return flat_error(err, "a token is not valid UTF-8");
	}
	if (h->p[1] > 1 || h->p[2] > 1 || h->p[3] > 1 || h->p[4] > 1 ||
		h->p[5] < 1 || h->p[5] > INT32_MAX || h->p[6] >= (uint64_t) n)
		return flat_error(err, "a WordPiece setting is out of range");
	wp = maas_kalloc(sizeof(MaasWordPiece));
	if (wp == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(wp, 0, sizeof(MaasWordPiece));
	wp->vocab = *vocab;
	wp->tkeys = (uint64_t *) tok_flat_section(h, base, TOK_SEC_KIND, sizeof(uint64_t), &n_keys);
	wp->tvals = (int32_t *) tok_flat_section(h, base, TOK_SEC_KIND + 1, sizeof(int32_t), &n_vals);
	wp->node_id = (int32_t *) tok_flat_section(h, base, TOK_SEC_KIND + 2, sizeof(int32_t), &n_nodes);
	wp->prefix = tok_flat_section(h, base, TOK_SEC_KIND + 3, 1, &n_prefix);
	if (wp->tkeys == NULL || wp->tvals == NULL || wp->node_id == NULL ||
		n_keys < 2 || (n_keys & (n_keys - 1)) != 0 || n_vals != n_keys ||
		n_nodes < 2 || n_nodes > INT32_MAX)
		return flat_error(err, "the trie's sections do not match");
	for (uint64_t i = 0; i < n_nodes; i++)
		if (wp->node_id[i] < -1 || wp->node_id[i] >= n)
			return flat_error(err, "a trie node names a token out of range");
	for (uint64_t i = 0; i < n_keys; i++)
	{
		if (wp->tkeys[i] == WP_TRIE_EMPTY)
			empty++;
		else if (wp->tvals[i] < 0 || (uint64_t) wp->tvals[i] >= n_nodes)
			return flat_error(err, "a trie edge leads out of the trie");
	}
	if (empty == 0)
		return flat_error(err, "the trie's hash is full");
	if (tok_utf8_bad_at(wp->prefix, (size_t) n_prefix) < n_prefix)
		return flat_error(err, "the continuation prefix is not valid UTF-8");
	wp->tmask = n_keys - 1;
	wp->n_nodes = (int32_t) n_nodes;
	wp->prefix_len = (size_t) n_prefix;
	wp->tseed = h->p[0];
	wp->do_lower_case = h->p[1] != 0;
	wp->strip_accents = h->p[2] != 0;
	wp->tokenize_chinese_chars = h->p[3] != 0;
	wp->clean_text = h->p[4] != 0;
	wp->max_chars = (int32_t) h->p[5];
	wp->unk_id = (int32_t) h->p[6];
	return wp;
}
