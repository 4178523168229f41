/*
 * tokenizer_flat.c
 *		The flat form of a tokenizer (tokenizer.h): writing it, and checking
 *		and reading it in place.  The vocabulary's sections are here; each
 *		kind writes and checks its own (tokenizer_bpe.c,
 *		tokenizer_wordpiece.c).
 *
 * A built GPT-2 tokenizer is a few MB of tables (50,257 tokens and their
 * hash, 50,000 merges and theirs) that take tens of milliseconds to build
 * from the config's JSON; in the flat form a backend gets it by mapping a
 * file and checking it, in about a millisecond, and every backend shares
 * the same pages.  Because the bytes come from a file, reading them trusts
 * nothing: the header, the checksum of the rest, each section inside the
 * block and of the size its count implies, and every index a lookup will
 * follow (token ids, offsets, trie nodes; hash tables with a free slot so
 * that probing ends).
 */
#include "tokenizer_int.h"

#include <string.h>

static inline uint64_t
align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t) 7;
}

static const TokVocab *
vocab_of(const MaasTokenizer *tok)
{
	return tok->kind == MAAS_TOKENIZER_BPE ? tok_bpe_vocab(tok->bpe) :
		tok_wordpiece_vocab(tok->wordpiece);
}

uint8_t *
maas_tokenizer_flatten(const MaasTokenizer *tok, size_t *len, MaasError *err)
{
	const TokVocab *v = vocab_of(tok);
	TokFlatHeader h;
	TokFlatPart parts[TOK_FLAT_SECTIONS];
	uint64_t	total = sizeof(TokFlatHeader);
	uint8_t    *out;

	memset(&h, 0, sizeof(h));
	memset(parts, 0, sizeof(parts));
	memcpy(h.magic, TOK_FLAT_MAGIC, sizeof(h.magic));
	h.format = TOK_FLAT_FORMAT;
	h.kind = (uint32_t) tok->kind;
	h.n_vocab = tok->n_vocab;
	h.ids[0] = tok->unk_id;
	h.ids[1] = tok->cls_id;
	h.ids[2] = tok->sep_id;
	h.ids[3] = tok->pad_id;
	h.ids[4] = tok->mask_id;
	h.ids[5] = tok->bos_id;
	h.ids[6] = tok->eos_id;
	h.ids[7] = tok->max_length;
	h.vocab_seed = v->seed;
	parts[TOK_SEC_POOL] = (TokFlatPart) {v->pool, v->off[v->n]};
	parts[TOK_SEC_OFF] = (TokFlatPart) {v->off, ((uint64_t) v->n + 1) * sizeof(uint32_t)};
	parts[TOK_SEC_FLAGS] = (TokFlatPart) {v->flags, (uint64_t) v->n};
	parts[TOK_SEC_SLOTS] = (TokFlatPart) {v->slots, (v->mask + 1) * sizeof(uint64_t)};
	if (tok->kind == MAAS_TOKENIZER_BPE)
		tok_bpe_flat_parts(tok->bpe, &h, parts);
	else
		tok_wordpiece_flat_parts(tok->wordpiece, &h, parts);

	for (int s = 0; s < TOK_FLAT_SECTIONS; s++)
	{
		h.sec[s].off = total;
		h.sec[s].len = parts[s].len;
		total = align8(total + parts[s].len);
	}
	if (total > SIZE_MAX / 2)
	{
		maas_error(err, MAAS_ERR_LIMIT, "tokenizer is too large to flatten");
		return NULL;
	}
	h.total = total;
	out = maas_kalloc((size_t) total);
	if (out == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(out, 0, (size_t) total);
	for (int s = 0; s < TOK_FLAT_SECTIONS; s++)
		if (parts[s].len > 0)
			memcpy(out + h.sec[s].off, parts[s].data, (size_t) parts[s].len);
	memcpy(out, &h, sizeof(h));
	h.checksum = tok_flat_checksum(out, (size_t) total);
	memcpy(out, &h, sizeof(h));
	*len = (size_t) total;
	return out;
}

uint64_t
tok_flat_checksum(const uint8_t *bytes, size_t len)
{
	TokFlatHeader h;

	memcpy(&h, bytes, sizeof(h));
	h.checksum = 0;
	return tok_hash(bytes + sizeof(h), len - sizeof(h),
					tok_hash((const uint8_t *) &h, sizeof(h), TOK_FLAT_CHECKSUM_SEED));
}

const void *
tok_flat_section(const TokFlatHeader *h, const uint8_t *base, int sec,
				 size_t size, uint64_t *count)
{
	if (h->sec[sec].len % size != 0)
		return NULL;
	*count = h->sec[sec].len / size;
	return base + h->sec[sec].off;
}

static bool
bad(MaasError *err, const char *what)
{
	return maas_error(err, MAAS_ERR_INVALID, "invalid flat tokenizer: %s", what);
}

/* the vocabulary's sections: offsets in order, ids in the hash in range */
static bool
vocab_view(const TokFlatHeader *h, const uint8_t *base, TokVocab *v,
		   MaasError *err)
{
	uint64_t	n_pool,
				n_off,
				n_flags,
				n_slots,
				empty = 0;
	int32_t		n = h->n_vocab;

	v->n = n;
	v->pool = (uint8_t *) tok_flat_section(h, base, TOK_SEC_POOL, 1, &n_pool);
	v->off = (uint32_t *) tok_flat_section(h, base, TOK_SEC_OFF, sizeof(uint32_t), &n_off);
	v->flags = (uint8_t *) tok_flat_section(h, base, TOK_SEC_FLAGS, 1, &n_flags);
	v->slots = (uint64_t *) tok_flat_section(h, base, TOK_SEC_SLOTS, sizeof(uint64_t), &n_slots);
	if (v->off == NULL || v->slots == NULL ||
		n_off != (uint64_t) n + 1 || n_flags != (uint64_t) n)
		return bad(err, "the vocabulary's sections do not match its size");
	if (v->off[0] != 0 || v->off[n] != n_pool)
		return bad(err, "the token offsets do not cover the pool");
	for (int32_t i = 0; i < n; i++)
		if (v->off[i + 1] < v->off[i])
			return bad(err, "the token offsets are out of order");
	if (n_slots < 2 || (n_slots & (n_slots - 1)) != 0)
		return bad(err, "the vocabulary's hash is not a power of 2");
	for (uint64_t i = 0; i < n_slots; i++)
	{
		uint64_t	id1 = v->slots[i] & UINT32_MAX;

		if (v->slots[i] == 0)
			empty++;
		else if (id1 == 0 || id1 > (uint64_t) n)
			return bad(err, "the vocabulary's hash holds an id out of range");
	}
	if (empty == 0)
		return bad(err, "the vocabulary's hash is full");
	v->mask = n_slots - 1;
	v->seed = h->vocab_seed;
	return true;
}

MaasTokenizer *
maas_tokenizer_from_flat(const uint8_t *bytes, size_t len, MaasError *err)
{
	TokFlatHeader h;
	MaasTokenizer *tok;
	TokVocab	vocab;
	uint64_t	end = sizeof(TokFlatHeader);

	if (len < sizeof(h) || ((uintptr_t) bytes % 8) != 0)
	{
		bad(err, "too short or misaligned");
		return NULL;
	}
	memcpy(&h, bytes, sizeof(h));
	if (memcmp(h.magic, TOK_FLAT_MAGIC, sizeof(h.magic)) != 0 ||
		h.format != TOK_FLAT_FORMAT)
	{
		bad(err, "not a tokenizer of this format");
		return NULL;
	}
	if (h.total != len)
	{
		bad(err, "its size does not match its header");
		return NULL;
	}
	if (tok_flat_checksum(bytes, len) != h.checksum)
	{
		bad(err, "checksum mismatch");
		return NULL;
	}
	/* sections in order, each inside the block, 8-byte aligned */
	for (int s = 0; s < TOK_FLAT_SECTIONS; s++)
	{
		if (h.sec[s].off != end || h.sec[s].len > len - h.sec[s].off)
		{
			bad(err, "a section lies outside the block");
			return NULL;
		}
		end = align8(h.sec[s].off + h.sec[s].len);
		if (end > len)
		{
			bad(err, "a section lies outside the block");
			return NULL;
		}
	}
	if (h.n_vocab < 1 || h.n_vocab > MAAS_TOKENIZER_MAX_VOCAB)
	{
		bad(err, "vocabulary size out of range");
		return NULL;
	}
	for (int i = 0; i < 7; i++)
		if (h.ids[i] < -1 || h.ids[i] >= h.n_vocab)
		{
			bad(err, "a special token's id is out of range");
			return NULL;
		}
	if (h.ids[7] < 0)
	{
		bad(err, "negative maximum length");
		return NULL;
	}
	memset(&vocab, 0, sizeof(vocab));
	if (!vocab_view(&h, bytes, &vocab, err))
		return NULL;

	tok = maas_kalloc(sizeof(MaasTokenizer));
	if (tok == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(tok, 0, sizeof(MaasTokenizer));
	tok->n_vocab = h.n_vocab;
	tok->unk_id = h.ids[0];
	tok->cls_id = h.ids[1];
	tok->sep_id = h.ids[2];
	tok->pad_id = h.ids[3];
	tok->mask_id = h.ids[4];
	tok->bos_id = h.ids[5];
	tok->eos_id = h.ids[6];
	tok->max_length = h.ids[7];
	if (h.kind == MAAS_TOKENIZER_BPE)
	{
		tok->kind = MAAS_TOKENIZER_BPE;
		if ((tok->bpe = tok_bpe_flat_view(&h, bytes, &vocab, err)) == NULL)
			return NULL;
	}
	else if (h.kind == MAAS_TOKENIZER_WORDPIECE)
	{
		tok->kind = MAAS_TOKENIZER_WORDPIECE;
		if ((tok->wordpiece = tok_wordpiece_flat_view(&h, bytes, &vocab, err)) == NULL)
			return NULL;
	}
	else
	{
		bad(err, "unknown kind");
		return NULL;
	}
	return tok;
}
