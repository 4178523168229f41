/*
 * tokenizer.c
 *		The tokenizer interface (tokenizer.h) over its two kinds, and what
 *		they share: the vocabulary table and its hash, UTF-8 checks and the
 *		U+FFFD repair, growing id arrays.
 */
#include "tokenizer_int.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

/* ---- hashing ---- */

static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= UINT64_C(0xd6e8feb86659fd93);
	x ^= x >> 32;
	x *= UINT64_C(0xd6e8feb86659fd93);
	x ^= x >> 32;
	return x;
}

uint64_t
tok_hash(const uint8_t *s, size_t len, uint64_t seed)
{
	uint64_t	h = seed ^ ((uint64_t) len * UINT64_C(0x9e3779b97f4a7c15));
	uint64_t	k;

	while (len >= 8)
	{
		memcpy(&k, s, 8);
		h = (h ^ mix64(k ^ seed)) * UINT64_C(0x9e3779b97f4a7c15);
		h = (h << 29) | (h >> 35);
		s += 8;
		len -= 8;
	}
	k = 0;
	for (size_t i = 0; i < len; i++)
		k |= (uint64_t) s[i] << (8 * i);
	h = (h ^ mix64(k ^ seed ^ UINT64_C(0x5851f42d4c957f2d))) *
		UINT64_C(0x9e3779b97f4a7c15);
	return mix64(h);
}

/* ---- messages ---- */

const char *
tok_show(const uint8_t *s, size_t len, char *buf, size_t bufsize)
{
	size_t		o = 0;
	size_t		i = 0;

	while (i < len && o + 8 < bufsize && o < 60)
	{
		uint32_t	cp;
		size_t		k = maas_utf8_decode(s + i, len - i, &cp);

		if (k == 0 || cp < 0x20 || cp == 0x7f || cp == '"' || cp == '\\')
		{
			if (k != 0 && (cp == '"' || cp == '\\'))
				o += (size_t) snprintf(buf + o, bufsize - o, "\\%c", (int) cp);
			else
				o += (size_t) snprintf(buf + o, bufsize - o, "\\x%02x", s[i]);
			i++;
			continue;
		}
		memcpy(buf + o, s + i, k);
		o += k;
		i += k;
	}
	if (i < len && o + 4 <= bufsize)
	{
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* ---- the vocabulary ---- */

static bool
tok_vocab_insert(TokVocab *v, int32_t id, const uint8_t *s, size_t len,
				 int32_t *dup)
{
	uint64_t	h = tok_hash(s, len, v->seed);
	uint64_t	tag = h >> 32;
	uint64_t	i = h & v->mask;

	for (;;)
	{
		uint64_t	slot = v->slots[i];

		if (slot == 0)
		{
			v->slots[i] = (tag << 32) | (uint64_t) (uint32_t) (id + 1);
			return true;
		}
		if ((slot >> 32) == tag)
		{
			int32_t		other = (int32_t) (uint32_t) slot - 1;
			size_t		olen = v->off[other + 1] - v->off[other];

			if (olen == len && memcmp(v->pool + v->off[other], s, len) == 0)
			{
				*dup = other;
				return false;
			}
		}
		i = (i + 1) & v->mask;
	}
}

int32_t
tok_vocab_find(const TokVocab *v, const uint8_t *s, size_t len)
{
	uint64_t	h = tok_hash(s, len, v->seed);
	uint64_t	tag = h >> 32;
	uint64_t	i = h & v->mask;

	for (;;)
	{
		uint64_t	slot = v->slots[i];

		if (slot == 0)
			return -1;
		if ((slot >> 32) == tag)
		{
			int32_t		id = (int32_t) (uint32_t) slot - 1;
			size_t		olen = v->off[id + 1] - v->off[id];

			if (olen == len && memcmp(v->pool + v->off[id], s, len) == 0)
				return id;
		}
		i = (i + 1) & v->mask;
	}
}

bool
tok_vocab_build(TokVocab *v, const TokEntry *e, int64_t n,
				const char *where_name, const MaasTick *tick, MaasError *err)
{
	int64_t    *at;				/* id -> entry index */
	uint64_t	total = 0;
	uint64_t	slots = 16;
	char		b1[80],
				b2[80];

	if (n > MAAS_TOKENIZER_MAX_VOCAB)
		return maas_error(err, MAAS_ERR_LIMIT,
						  "vocabulary has %lld tokens, more than the maximum of %d",
						  (long long) n, MAAS_TOKENIZER_MAX_VOCAB);
	if (n == 0)
		return maas_error(err, MAAS_ERR_INVALID, "vocabulary is empty");

	at = maas_kalloc_array((size_t) n, sizeof(int64_t));
	if (at == NULL)
		return maas_error_nomem(err);
	for (int64_t i = 0; i < n; i++)
		at[i] = -1;
	for (int64_t i = 0; i < n; i++)
	{
		int64_t		id = e[i].id;

		if ((i & 4095) == 0)
			maas_tick(tick);
		if (id < 0 || id >= n)
			return maas_error(err, MAAS_ERR_INVALID,
							  "token \"%s\" has id %lld, outside 0 .. %lld: the ids of %lld tokens must be 0 .. %lld without gaps",
							  tok_show(e[i].bytes, e[i].len, b1, sizeof(b1)),
							  (long long) id, (long long) n - 1, (long long) n,
							  (long long) n - 1);
		if (at[id] >= 0)
			return maas_error(err, MAAS_ERR_INVALID,
							  "tokens \"%s\" and \"%s\" have the same id %lld",
							  tok_show(e[at[id]].bytes, e[at[id]].len, b1, sizeof(b1)),
							  tok_show(e[i].bytes, e[i].len, b2, sizeof(b2)),
							  (long long) id);
		at[id] = i;
		total += e[i].len;
	}
	if (total >= UINT32_MAX)
		return maas_error(err, MAAS_ERR_LIMIT, "vocabulary is larger than 4 GB");

	v->n = (int32_t) n;
	v->pool = maas_kalloc(total == 0 ? 1 : (size_t) total);
	v->off = maas_kalloc_array((size_t) n + 1, sizeof(uint32_t));
	v->flags = maas_kalloc((size_t) n);
	while (slots < 2 * (uint64_t) n)
		slots <<= 1;
	v->slots = maas_kalloc_array((size_t) slots, sizeof(uint64_t));
	if (v->pool == NULL || v->off == NULL || v->flags == NULL || v->slots == NULL)
		return maas_error_nomem(err);
	v->mask = slots - 1;
	v->seed = mix64((uint64_t) (uintptr_t) v ^ UINT64_C(0x2545f4914f6cdd1d));
	memset(v->slots, 0, (size_t) slots * sizeof(uint64_t));

	total = 0;
	for (int64_t id = 0; id < n; id++)
	{
		const TokEntry *t = &e[at[id]];

		v->off[id] = (uint32_t) total;
		if (t->len > 0)
			memcpy(v->pool + total, t->bytes, t->len);
		v->flags[id] = t->flags;
		total += t->len;
	}
	v->off[n] = (uint32_t) total;

	for (int64_t id = 0; id < n; id++)
	{
		size_t		len;
		const uint8_t *s;
		int32_t		dup;

		if ((id & 4095) == 0)
			maas_tick(tick);
		if (v->flags[id] & TOK_UNMAPPED)
			continue;
		s = tok_vocab_bytes(v, (int32_t) id, &len);
		if (!tok_vocab_insert(v, (int32_t) id, s, len, &dup))
		{
			const TokEntry *a = &e[at[dup]];
			const TokEntry *b = &e[at[id]];

			return maas_error(err, MAAS_ERR_INVALID,
							  "token \"%s\" appears twice in the vocabulary (%s %lld and %lld)",
							  tok_show(b->bytes, b->len, b1, sizeof(b1)),
							  where_name, (long long) a->where, (long long) b->where);
		}
	}
	return true;
}

/* ---- UTF-8 ---- */

size_t
tok_utf8_bad_at(const uint8_t *s, size_t len)
{
	size_t		i = 0;
	uint32_t	cp;

	while (i < len)
	{
		size_t		k;

		/* ASCII eight bytes at a time */
		while (i + 8 <= len)
		{
			uint64_t	w;

			memcpy(&w, s + i, 8);
			if (w & UINT64_C(0x8080808080808080))
				break;
			i += 8;
		}
		if (i >= len)
			break;
		if (s[i] < 0x80)
		{
			i++;
			continue;
		}
		k = maas_utf8_decode(s + i, len - i, &cp);
		if (k == 0)
			return i;
		i += k;
	}
	return len;
}

size_t
maas_utf8_repair(const uint8_t *s, size_t len, uint8_t *out)
{
	size_t		i = 0;
	size_t		o = 0;

	while (i < len)
	{
		uint32_t	cp;
		size_t		k = maas_utf8_decode(s + i, len - i, &cp);
		uint8_t		c,
					lo = 0x80,
					hi = 0xBF;
		size_t		need,
					sub;

		if (k > 0)
		{
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
			continue;
		}

		/*
		 * The maximal subpart: the lead byte and the continuation bytes that
		 * could still have completed it.  A byte that cannot begin a
		 * sequence is a subpart of its own.
		 */
		c = s[i];
		if (c >= 0xC2 && c <= 0xDF)
			need = 2;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			need = 3;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			need = 4;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		}
		else
			need = 1;
		sub = 1;
		if (need > 1 && i + 1 < len && s[i + 1] >= lo && s[i + 1] <= hi)
		{
			sub = 2;
			while (sub < need - 1 && i + sub < len &&
				   s[i + sub] >= 0x80 && s[i + sub] <= 0xBF)
				sub++;
		}
		out[o++] = 0xEF;
		out[o++] = 0xBF;
		out[o++] = 0xBD;
		i += sub;
	}
	return o;
}

/* ---- ids ---- */

bool
tok_ids_reserve(TokIds *ids, size_t more, MaasError *err)
{
	size_t		want;
	size_t		cap;
	int32_t    *v;

	if (!maas_add_size(ids->n, more, &want))
		return maas_error_nomem(err);
	if (want <= ids->cap)
		return true;
	cap = ids->cap < 64 ? 64 : ids->cap;
	while (cap < want)
	{
		if (!maas_mul_size(cap, 2, &cap))
			return maas_error_nomem(err);
	}
	v = maas_kalloc_array(cap, sizeof(int32_t));
	if (v == NULL)
		return maas_error_nomem(err);
	if (ids->n > 0)
		memcpy(v, ids->v, ids->n * sizeof(int32_t));
	ids->v = v;
	ids->cap = cap;
	return true;
}

/* ---- the interface ---- */

const char *
maas_tokenizer_kind_name(MaasTokenizerKind kind)
{
	switch (kind)
	{
		case MAAS_TOKENIZER_BPE:
			return "bpe";
		case MAAS_TOKENIZER_WORDPIECE:
			return "wordpiece";
	}
	return "unknown";
}

MaasTokenizer *
maas_tokenizer_build(const MaasJson *spec, int32_t max_length,
					 const MaasTick *tick, MaasError *err)
{
	const MaasJson *model;
	const MaasJson *type;

	if (spec == NULL || spec->type != MAAS_JSON_OBJECT)
	{
		maas_error(err, MAAS_ERR_INVALID, "tokenizer must be an object, not %s",
				   spec == NULL ? "nothing" : maas_json_type_name(spec->type));
		return NULL;
	}
	if (max_length < 0)
	{
		maas_error(err, MAAS_ERR_INVALID, "maximum length %d is negative",
				   max_length);
		return NULL;
	}
	model = maas_json_get(spec, "model");
	if (model != NULL)
	{
		/* Hugging Face's tokenizer.json */
		if (model->type != MAAS_JSON_OBJECT)
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "tokenizer \"model\" must be an object, not %s",
					   maas_json_type_name(model->type));
			return NULL;
		}
		type = maas_json_get(model, "type");
		if (type == NULL || type->type != MAAS_JSON_STRING)
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "tokenizer \"model\" has no \"type\" string");
			return NULL;
		}
		if (strcmp(type->u.string, "BPE") == 0)
			return tok_bpe_from_json(spec, max_length, tick, err);
		if (strcmp(type->u.string, "WordPiece") == 0)
			return tok_wordpiece_from_json(spec, max_length, tick, err);
		maas_error(err, MAAS_ERR_UNSUPPORTED,
				   "tokenizer model type \"%.64s\" is not supported: use \"BPE\" or \"WordPiece\"",
				   type->u.string);
		return NULL;
	}
	if (maas_json_get(spec, "merges") != NULL)
		return tok_bpe_from_json(spec, max_length, tick, err);
	if (maas_json_get(spec, "vocab") != NULL)
		return tok_wordpiece_from_json(spec, max_length, tick, err);
	maas_error(err, MAAS_ERR_INVALID,
			   "tokenizer has neither \"vocab\" nor \"model\"");
	return NULL;
}

MaasEncodeOptions
maas_encode_defaults(const MaasTokenizer *tok)
{
	MaasEncodeOptions opt;

	opt.add_special = tok->kind == MAAS_TOKENIZER_WORDPIECE &&
		tok->cls_id >= 0 && tok->sep_id >= 0;
	opt.max_length = tok->kind == MAAS_TOKENIZER_WORDPIECE ? tok->max_length : 0;
	opt.truncate = true;
	return opt;
}

int32_t *
maas_tokenizer_encode(const MaasTokenizer *tok, const char *text, size_t len,
					  const MaasEncodeOptions *opt, int32_t *n_ids,
					  const MaasTick *tick, MaasError *err)
{
	MaasEncodeOptions o = opt != NULL ? *opt : maas_encode_defaults(tok);
	TokIds		ids = {NULL, 0, 0};
	size_t		bad;
	bool		special = o.add_special && tok->kind == MAAS_TOKENIZER_WORDPIECE;
	size_t		n_special = special ? 2 : 0;
	size_t		cap = SIZE_MAX;
	bool		ok;

	*n_ids = 0;
	if (len > MAAS_TOKENIZER_MAX_TEXT)
	{
		maas_error(err, MAAS_ERR_LIMIT,
				   "text of %zu bytes is too long to tokenize (the maximum is %d bytes)",
				   len, MAAS_TOKENIZER_MAX_TEXT);
		return NULL;
	}
	if (o.max_length < 0)
	{
		maas_error(err, MAAS_ERR_INVALID, "maximum length %d is negative",
				   o.max_length);
		return NULL;
	}
	if (special && (tok->cls_id < 0 || tok->sep_id < 0))
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "vocabulary has no %s token to add",
				   tok->cls_id < 0 ? "classifier (\"cls_token\")" : "separator (\"sep_token\")");
		return NULL;
	}
	if (o.max_length > 0)
	{
		if ((size_t) o.max_length < n_special)
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "maximum length %d leaves no room for [CLS] and [SEP]",
					   o.max_length);
			return NULL;
		}
		/* one more than fits, to tell "exactly full" from "too long" */
		cap = (size_t) o.max_length - n_special + 1;
	}
	bad = tok_utf8_bad_at((const uint8_t *) text, len);
	if (bad < len)
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "text is not valid UTF-8: invalid byte sequence at byte %zu",
				   bad);
		return NULL;
	}
	if (!tok_ids_reserve(&ids, n_special + 16, err))
		return NULL;
	if (special)
		tok_ids_push(&ids, tok->cls_id);
	if (cap != SIZE_MAX)
		cap += ids.n;
	if (tok->kind == MAAS_TOKENIZER_BPE)
		ok = tok_bpe_encode(tok, (const uint8_t *) text, len, &ids, cap, tick, err);
	else
		ok = tok_wordpiece_encode(tok, (const uint8_t *) text, len, &ids, cap,
								  tick, err);
	if (!ok)
		return NULL;
	if (o.max_length > 0 && ids.n + (special ? 1 : 0) > (size_t) o.max_length)
	{
		if (!o.truncate)
		{
			maas_error(err, MAAS_ERR_LIMIT,
					   "text is more than %d tokens long", o.max_length);
			return NULL;
		}
		ids.n = (size_t) o.max_length - (special ? 1 : 0);
	}
	if (special)
	{
		if (!tok_ids_reserve(&ids, 1, err))
			return NULL;
		tok_ids_push(&ids, tok->sep_id);
	}
	*n_ids = (int32_t) ids.n;
	return ids.v;
}

char *
maas_tokenizer_decode(const MaasTokenizer *tok, const int32_t *ids, size_t n,
					  bool skip_special, size_t *len, const MaasTick *tick,
					  MaasError *err)
{
	*len = 0;
	for (size_t i = 0; i < n; i++)
	{
		if (ids[i] < 0 || ids[i] >= tok->n_vocab)
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "token id \"%d\" is out of range for a vocabulary of %d tokens",
					   ids[i], tok->n_vocab);
			return NULL;
		}
	}
	if (tok->kind == MAAS_TOKENIZER_BPE)
		return tok_bpe_decode(tok, ids, n, skip_special, len, tick, err);
	return tok_wordpiece_decode(tok, ids, n, skip_special, len, tick, err);
}

static const TokVocab *
vocab_of(const MaasTokenizer *tok)
{
	if (tok->kind == MAAS_TOKENIZER_BPE)
		return tok_bpe_vocab(tok->bpe);
	return tok_wordpiece_vocab(tok->wordpiece);
}

const uint8_t *
maas_tokenizer_token(const MaasTokenizer *tok, int32_t id, size_t *len)
{
	if (id < 0 || id >= tok->n_vocab)
	{
		*len = 0;
		return NULL;
	}
	return tok_vocab_bytes(vocab_of(tok), id, len);
}

int32_t
tok_vocab_find_any(const TokVocab *v, const uint8_t *s, size_t len)
{
	int32_t		id = tok_vocab_find(v, s, len);

	/* the few tokens kept out of the hash: by a scan */
	for (int32_t i = 0; id < 0 && i < v->n; i++)
	{
		if ((v->flags[i] & TOK_UNMAPPED) && v->off[i + 1] - v->off[i] == len &&
			memcmp(v->pool + v->off[i], s, len) == 0)
			id = i;
	}
	return id;
}

int32_t
maas_tokenizer_lookup(const MaasTokenizer *tok, const char *token, size_t len)
{
	return tok_vocab_find_any(vocab_of(tok), (const uint8_t *) token, len);
}

/* ---- tokenizer.json: model.vocab and added_tokens ---- */

TokEntry *
tok_json_entries(const MaasJson *vocab, const MaasJson *added, TokSpell spell,
				 int64_t *n_out, const MaasTick *tick, MaasError *err)
{
	int64_t		n_v,
				n_a,
				n = 0,
				total;
	TokEntry   *e;
	int64_t    *at;				/* id -> entry */
	size_t		bytes = 0;
	uint8_t    *raw = NULL;
	char		b1[80],
				b2[80];

	if (vocab == NULL || vocab->type != MAAS_JSON_OBJECT)
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "tokenizer \"vocab\" must be an object of token -> id, not %s",
				   vocab == NULL ? "nothing" : maas_json_type_name(vocab->type));
		return NULL;
	}
	if (added != NULL && added->type != MAAS_JSON_ARRAY && added->type != MAAS_JSON_NULL)
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "tokenizer \"added_tokens\" must be an array, not %s",
				   maas_json_type_name(added->type));
		return NULL;
	}
	n_v = vocab->n;
	n_a = added != NULL && added->type == MAAS_JSON_ARRAY ? added->n : 0;
	total = n_v + n_a;
	if (total > MAAS_TOKENIZER_MAX_VOCAB)
	{
		maas_error(err, MAAS_ERR_LIMIT,
				   "vocabulary has %lld tokens, more than the maximum of %d",
				   (long long) total, MAAS_TOKENIZER_MAX_VOCAB);
		return NULL;
	}
	for (int64_t i = 0; i < n_v; i++)
		bytes += (size_t) vocab->u.members[i].key_len;
	e = maas_kalloc_array((size_t) total + 1, sizeof(TokEntry));
	at = maas_kalloc_array((size_t) total + 1, sizeof(int64_t));
	if (spell != NULL)
		raw = maas_kalloc(bytes + 1);
	if (e == NULL || at == NULL || (spell != NULL && raw == NULL))
	{
		maas_error_nomem(err);
		return NULL;
	}
	for (int64_t i = 0; i < total; i++)
		at[i] = -1;

	for (int64_t i = 0; i < n_v; i++)
	{
		const MaasJsonMember *m = &vocab->u.members[i];
		const uint8_t *key = (const uint8_t *) m->key;
		int64_t		id;
		uint32_t	len;

		if ((i & 4095) == 0)
			maas_tick(tick);
		if (!maas_json_int(&m->value, INT32_MIN, INT32_MAX, &id))
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "vocabulary token \"%s\" has an id that is not a 32-bit integer",
					   tok_show(key, (size_t) m->key_len, b1, sizeof(b1)));
			return NULL;
		}
		e[n].id = id;
		e[n].where = id;
		e[n].flags = 0;
		if (spell == NULL)
		{
			e[n].bytes = key;
			e[n].len = (uint32_t) m->key_len;
		}
		else if (spell(key, (size_t) m->key_len, raw, &len))
		{
			e[n].bytes = raw;
			e[n].len = len;
			raw += len;
		}
		else
		{
			e[n].bytes = key;
			e[n].len = (uint32_t) m->key_len;
			e[n].flags = TOK_UNMAPPED;
		}
		if (id >= 0 && id < total)
		{
			if (at[id] >= 0)
			{
				maas_error(err, MAAS_ERR_INVALID,
						   "tokens \"%s\" and \"%s\" have the same id %lld",
						   tok_show((const uint8_t *) vocab->u.members[at[id]].key,
									(size_t) vocab->u.members[at[id]].key_len, b1, sizeof(b1)),
						   tok_show(key, (size_t) m->key_len, b2, sizeof(b2)),
						   (long long) id);
				return NULL;
			}
			at[id] = n;
		}
		n++;
	}

	for (int64_t i = 0; i < n_a; i++)
	{
		const MaasJson *a = &added->u.items[i];
		const MaasJson *idv = maas_json_get(a, "id");
		const MaasJson *content = maas_json_get(a, "content");
		const MaasJson *special = maas_json_get(a, "special");
		int64_t		id;
		uint8_t		flags;

		if ((i & 4095) == 0)
			maas_tick(tick);
		if (a->type != MAAS_JSON_OBJECT || content == NULL ||
			content->type != MAAS_JSON_STRING ||
			!maas_json_int(idv, INT32_MIN, INT32_MAX, &id) ||
			(special != NULL && special->type != MAAS_JSON_BOOL))
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "tokenizer added token %lld is not an object with an integer \"id\", a string \"content\" and a boolean \"special\"",
					   (long long) i);
			return NULL;
		}
		flags = special != NULL && special->u.boolean ? TOK_SPECIAL : 0;
		if (id < 0 || id >= total)
		{
			maas_error(err, MAAS_ERR_INVALID,
					   "added token \"%s\" has id %lld, outside 0 .. %lld",
					   tok_show((const uint8_t *) content->u.string,
								(size_t) content->n, b1, sizeof(b1)),
					   (long long) id, (long long) total - 1);
			return NULL;
		}
		if (at[id] >= 0)
		{
			/* the vocabulary's own token, or this added token again */
			int64_t		j = at[id];
			const uint8_t *same;
			size_t		same_len;

			if (j < n_v)
			{
				same = (const uint8_t *) vocab->u.members[j].key;
				same_len = (size_t) vocab->u.members[j].key_len;
			}
			else
			{
				same = e[j].bytes;
				same_len = e[j].len;
			}
			if (same_len != (size_t) content->n ||
				memcmp(same, content->u.string, same_len) != 0)
			{
				maas_error(err, MAAS_ERR_INVALID,
						   "added token \"%s\" has id %lld, which the vocabulary gives to \"%s\"",
						   tok_show((const uint8_t *) content->u.string,
									(size_t) content->n, b1, sizeof(b1)),
						   (long long) id, tok_show(same, same_len, b2, sizeof(b2)));
				return NULL;
			}
			e[j].flags |= flags;
			continue;
		}
		e[n].bytes = (const uint8_t *) content->u.string;
		e[n].len = (uint32_t) content->n;
		e[n].id = id;
		e[n].where = id;
		e[n].flags = flags | (spell != NULL ? TOK_UNMAPPED : 0);
		at[id] = n;
		n++;
	}
	*n_out = n;
	return e;
}

/* a tokenizer.json member that must be an object (or null / absent) */
const MaasJson *
tok_json_part(const MaasJson *spec, const char *key, const char **type,
			  MaasError *err)
{
	const MaasJson *v = maas_json_get(spec, key);
	const MaasJson *t;

	*type = NULL;
	if (v == NULL || v->type == MAAS_JSON_NULL)
		return spec;			/* present: the caller sees *type == NULL */
	t = maas_json_get(v, "type");
	if (v->type != MAAS_JSON_OBJECT || t == NULL || t->type != MAAS_JSON_STRING)
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "tokenizer \"%s\" must be an object with a \"type\" string", key);
		return NULL;
	}
	*type = t->u.string;
	return v;
}

/* an optional boolean member; false with err set when it is not one */
bool
tok_json_bool(const MaasJson *obj, const char *key, bool *out, MaasError *err)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL || v->type == MAAS_JSON_NULL)
		return true;
	if (v->type != MAAS_JSON_BOOL)
		return maas_error(err, MAAS_ERR_INVALID,
						  "tokenizer \"%s\" must be true or false, not %s", key,
						  maas_json_type_name(v->type));
	*out = v->u.boolean;
	return true;
}

/* an optional string member */
bool
tok_json_string(const MaasJson *obj, const char *key, const char **out,
				MaasError *err)
{
	const MaasJson *v = maas_json_get(obj, key);

	if (v == NULL || v->type == MAAS_JSON_NULL)
		return true;
	if (v->type != MAAS_JSON_STRING)
		return maas_error(err, MAAS_ERR_INVALID,
						  "tokenizer \"%s\" must be a string, not %s", key,
						  maas_json_type_name(v->type));
	*out = v->u.string;
	return true;
}
