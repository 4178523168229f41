/*
 * tokenizer_bpe_int.h
 *		What the two halves of GPT-2's byte-level BPE share: building
 *		(tokenizer_bpe.c) and encoding/decoding (tokenizer_bpe_encode.c).
 */
#ifndef MAAS_TOKENIZER_BPE_INT_H
#define MAAS_TOKENIZER_BPE_INT_H

#include "tokenizer_int.h"

#include "unicode.h"
#include "utf8.h"

#define BPE_NO_RANK INT32_MAX
#define BPE_EMPTY UINT64_MAX
#define BPE_DIRECT_LIMIT 32

typedef struct BpeSlot
{
	uint64_t	key;			/* BPE_EMPTY when free */
	int32_t		rank;
	int32_t		merged;
} BpeSlot;

struct MaasBpe
{
	TokVocab	vocab;			/* raw bytes */
	int32_t		byte_id[256];
	/* merges: (left << 32 | right) -> rank, merged, in one cache line */
	BpeSlot    *merges;
	uint64_t	mmask;
	uint64_t	mseed;
	int32_t		n_merges;
	bool		add_prefix_space;
	bool		use_regex;		/* split with GPT-2's pattern */
	bool		ignore_merges;	/* a piece in the vocabulary is one token */
	int			direct_limit;
};

/* a merge being read: both sides in the files' spelling */
typedef struct BpeMerge
{
	const uint8_t *a;
	const uint8_t *b;
	uint32_t	alen;
	uint32_t	blen;
	int64_t		where;
} BpeMerge;

/* the merge table: (left, right) -> rank and merged id, open addressing */
static inline uint64_t
pair_slot(const MaasBpe *bpe, uint64_t key)
{
	uint64_t	h = (key ^ bpe->mseed) * UINT64_C(0x9e3779b97f4a7c15);

	h ^= h >> 29;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 32;
	return h & bpe->mmask;
}

/* rank and merged id of the pair (left, right), or BPE_NO_RANK */
static inline int32_t
pair_rank(const MaasBpe *bpe, int32_t left, int32_t right, int32_t *merged)
{
	uint64_t	key = ((uint64_t) (uint32_t) left << 32) | (uint32_t) right;
	uint64_t	i = pair_slot(bpe, key);

	for (;;)
	{
		uint64_t	k = bpe->merges[i].key;

		if (k == key)
		{
			*merged = bpe->merges[i].merged;
			return bpe->merges[i].rank;
		}
		if (k == BPE_EMPTY)
			return BPE_NO_RANK;
		i = (i + 1) & bpe->mmask;
	}
}

#endif							/* MAAS_TOKENIZER_BPE_INT_H */
