/*
 * tokenizer_int.h
 *		What the tokenizer sources (tokenizer.c, tokenizer_flat.c, the BPE
 *		and WordPiece ones) and their unit tests share, and nobody else:
 *		the vocabulary table and its hash, WordPiece's struct and byte trie,
 *		the flat form's layout.
 */
#ifndef MAAS_TOKENIZER_INT_H
#define MAAS_TOKENIZER_INT_H

#include "tokenizer.h"

/*
 * A vocabulary: token id -> bytes, and bytes -> id through an open-
 * addressing hash (linear probing, at most half full).  Token i is
 * pool[off[i] .. off[i + 1]).  A slot holds 32 bits of the hash above
 * id + 1, 0 when empty.  Tokens with the TOK_UNMAPPED flag are left out of
 * the hash (BPE: tokens that are not byte-level, reachable by id only).
 */
#define TOK_SPECIAL		0x01	/* skipped by decode with skip_special */
#define TOK_UNMAPPED	0x02

typedef struct TokVocab
{
	int32_t		n;
	uint8_t    *pool;
	uint32_t   *off;			/* n + 1 offsets */
	uint8_t    *flags;			/* n: TOK_* */
	uint64_t   *slots;
	uint64_t	mask;			/* slots - 1 */
	uint64_t	seed;
} TokVocab;

/* a token met while reading a vocabulary file, before ids are checked */
typedef struct TokEntry
{
	const uint8_t *bytes;
	uint32_t	len;
	int64_t		id;
	uint8_t		flags;
	int64_t		where;			/* line or member, for messages */
} TokEntry;

extern uint64_t tok_hash(const uint8_t *s, size_t len, uint64_t seed);

/*
 * Build the vocabulary from n entries: ids must be exactly 0 .. n - 1, each
 * once, and mapped tokens distinct.  what names the source in messages
 * ("vocab.txt line", "vocab.json token").
 */
extern bool tok_vocab_build(TokVocab *v, const TokEntry *e, int64_t n,
							const char *what, const MaasTick *tick,
							MaasError *err);

/* the id of the mapped token s[0 .. len), or -1 */
extern int32_t tok_vocab_find(const TokVocab *v, const uint8_t *s, size_t len);

/* the same, unmapped tokens too (by a scan of the vocabulary: not per row) */
extern int32_t tok_vocab_find_any(const TokVocab *v, const uint8_t *s,
								  size_t len);

static inline const uint8_t *
tok_vocab_bytes(const TokVocab *v, int32_t id, size_t *len)
{
	*len = v->off[id + 1] - v->off[id];
	return v->pool + v->off[id];
}

/* a token for a message: quoted by the caller, cut to 60 bytes */
extern const char *tok_show(const uint8_t *s, size_t len, char *buf,
							size_t bufsize);

/*
 * The first byte offset in s[0 .. len) where UTF-8 is ill-formed, or len
 * when it is all well-formed.
 */
extern size_t tok_utf8_bad_at(const uint8_t *s, size_t len);

/* a growing array of int32 in maas_kalloc memory */
typedef struct TokIds
{
	int32_t    *v;
	size_t		n;
	size_t		cap;
} TokIds;

extern bool tok_ids_reserve(TokIds *ids, size_t more, MaasError *err);

static inline void
tok_ids_push(TokIds *ids, int32_t id)
{
	ids->v[ids->n++] = id;		/* after tok_ids_reserve */
}

/* the two kinds, behind the interface of tokenizer.h */
extern bool tok_bpe_encode(const MaasTokenizer *tok, const uint8_t *text,
						   size_t len, TokIds *out, size_t max_ids,
						   const MaasTick *tick, MaasError *err);
extern bool tok_wordpiece_encode(const MaasTokenizer *tok, const uint8_t *text,
								 size_t len, TokIds *out, size_t max_ids,
								 const MaasTick *tick, MaasError *err);
extern char *tok_bpe_decode(const MaasTokenizer *tok, const int32_t *ids,
							size_t n, bool skip_special, size_t *len,
							const MaasTick *tick, MaasError *err);
extern char *tok_wordpiece_decode(const MaasTokenizer *tok, const int32_t *ids,
								  size_t n, bool skip_special, size_t *len,
								  const MaasTick *tick, MaasError *err);
extern const TokVocab *tok_bpe_vocab(const MaasBpe *bpe);
extern const TokVocab *tok_wordpiece_vocab(const MaasWordPiece *wp);

/*
 * BERT's WordPiece: built in tokenizer_wordpiece.c (from the files, or over
 * a flat form), read by tokenizer_wordpiece_encode.c.  The vocabulary's
 * byte trie has two roots, word starts and continuations (tokens with the
 * prefix, taken off); its edges are an open-addressing hash, key 0 empty.
 */
#define WP_TRIE_EMPTY 0
#define WP_ROOT_WORD 0
#define WP_ROOT_CONTINUATION 1

struct MaasWordPiece
{
	TokVocab	vocab;
	/* the trie: edge (node << 8 | byte) + 1 -> child */
	uint64_t   *tkeys;
	int32_t    *tvals;
	uint64_t	tmask;
	uint64_t	tseed;
	int32_t    *node_id;		/* the token ending at a node, or -1 */
	int32_t		n_nodes;
	/* the flags */
	bool		do_lower_case;
	bool		strip_accents;
	bool		tokenize_chinese_chars;
	bool		clean_text;
	int32_t		max_chars;
	int32_t		unk_id;
	const uint8_t *prefix;
	size_t		prefix_len;
};

/* the first slot to probe for an edge key */
static inline uint64_t
wp_edge_slot(const MaasWordPiece *wp, uint64_t key)
{
	uint64_t	h = (key ^ wp->tseed) * UINT64_C(0x9e3779b97f4a7c15);

	h ^= h >> 31;
	h *= UINT64_C(0x94d049bb133111eb);
	h ^= h >> 29;
	return h & wp->tmask;
}

/* the child of node by byte c, or -1 */
static inline int32_t
wp_trie_child(const MaasWordPiece *wp, int32_t node, uint8_t c)
{
	uint64_t	key = (((uint64_t) node << 8) | c) + 1;
	uint64_t	i = wp_edge_slot(wp, key);

	for (;;)
	{
		uint64_t	k = wp->tkeys[i];

		if (k == key)
			return wp->tvals[i];
		if (k == WP_TRIE_EMPTY)
			return -1;
		i = (i + 1) & wp->tmask;
	}
}

/*
 * tokenizer.json: model.vocab (token -> id) and added_tokens into entries.
 * spell, when given, turns a vocabulary token into the bytes it stands for
 * (BPE's byte-level spelling) and fails for one that is not spelled so; such
 * tokens, and added tokens the vocabulary lacks, are then TOK_UNMAPPED.
 */
typedef bool (*TokSpell) (const uint8_t *s, size_t len, uint8_t *out,
						  uint32_t *out_len);
extern TokEntry *tok_json_entries(const MaasJson *vocab, const MaasJson *added,
								  TokSpell spell, int64_t *n_out,
								  const MaasTick *tick, MaasError *err);

/*
 * tokenizer.json's part key ("normalizer", ...): its "type" in *type (NULL
 * when the part is null or absent), the part itself returned; NULL with err
 * set when it is not an object with a type.
 */
extern const MaasJson *tok_json_part(const MaasJson *spec, const char *key,
									 const char **type, MaasError *err);
extern bool tok_json_bool(const MaasJson *obj, const char *key, bool *out,
						  MaasError *err);
extern bool tok_json_string(const MaasJson *obj, const char *key,
							const char **out, MaasError *err);

/* both forms of the tokenizer object, one kind each */
extern MaasTokenizer *tok_bpe_from_json(const MaasJson *spec, int32_t max_length,
										const MaasTick *tick, MaasError *err);
extern MaasTokenizer *tok_wordpiece_from_json(const MaasJson *spec,
											  int32_t max_length,
											  const MaasTick *tick,
											  MaasError *err);

/*
 * The end of the piece of GPT-2's pattern that starts at s[i] (s valid
 * UTF-8, i < len).
 */
extern size_t tok_bpe_next_piece(const uint8_t *s, size_t len, size_t i);

/*
 * For the unit tests: BPE words of at most this many bytes are merged by
 * the direct quadratic loop, longer ones with the heap (default 32).
 */
extern void tok_bpe_set_direct_limit(MaasBpe *bpe, int limit);

/*
 * The flat form (tokenizer_flat.c): a header, then sections, each at an
 * offset that is a multiple of 8 from the start.  Sections 0 .. 3 are the
 * vocabulary (pool, off, flags, slots); the kind's own follow.  Scalars
 * the kind needs go in p[].  Native byte order: the form is made and read
 * on one machine.
 */
#define TOK_FLAT_MAGIC		"maastok1"
#define TOK_FLAT_FORMAT		MAAS_TOKENIZER_FLAT_FORMAT
#define TOK_FLAT_SECTIONS	8
#define TOK_FLAT_CHECKSUM_SEED	UINT64_C(0x666c6174746f6b31)

enum
{
	TOK_SEC_POOL, TOK_SEC_OFF, TOK_SEC_FLAGS, TOK_SEC_SLOTS,
	TOK_SEC_KIND				/* the first of the kind's sections */
};

typedef struct TokFlatHeader
{
	char		magic[8];
	uint32_t	format;
	uint32_t	kind;			/* MaasTokenizerKind */
	uint64_t	total;			/* bytes, the header included */
	uint64_t	checksum;		/* tok_flat_checksum() */
	int32_t		n_vocab;
	int32_t		ids[8];			/* unk, cls, sep, pad, mask, bos, eos, max_length */
	int32_t		pad;
	uint64_t	vocab_seed;
	uint64_t	p[8];			/* the kind's scalars */
	struct
	{
		uint64_t	off;
		uint64_t	len;
	}			sec[TOK_FLAT_SECTIONS];
} TokFlatHeader;

/* a section's place in a flat form being written or read */
typedef struct TokFlatPart
{
	const void *data;			/* writing: where it comes from */
	uint64_t	len;
} TokFlatPart;

/*
 * Each kind: its scalars into h->p and its sections into parts[TOK_SEC_KIND
 * ..] (writing); from a checked header and base, its struct over vocab
 * (reading), every index it will follow checked, or NULL with err set.
 */
extern void tok_bpe_flat_parts(const MaasBpe *bpe, TokFlatHeader *h,
							   TokFlatPart *parts);
extern MaasBpe *tok_bpe_flat_view(const TokFlatHeader *h, const uint8_t *base,
								  const TokVocab *vocab, MaasError *err);
extern void tok_wordpiece_flat_parts(const MaasWordPiece *wp, TokFlatHeader *h,
									 TokFlatPart *parts);
extern MaasWordPiece *tok_wordpiece_flat_view(const TokFlatHeader *h,
											  const uint8_t *base,
											  const TokVocab *vocab,
											  MaasError *err);

/* a hash of the whole block (len >= the header), its checksum field as 0 */
extern uint64_t tok_flat_checksum(const uint8_t *bytes, size_t len);

/* a section of a checked flat form, when its length is a multiple of size */
extern const void *tok_flat_section(const TokFlatHeader *h, const uint8_t *base,
									int sec, size_t size, uint64_t *count);

#endif							/* MAAS_TOKENIZER_INT_H */
