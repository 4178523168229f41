/*
 * tokenizer_bpe.c
 *		GPT-2's byte-level BPE: building from vocab.json + merges.txt (or a
 *		tokenizer.json), encoding, decoding.
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
#include "tokenizer_int.h"

#include <string.h>

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

/* ---- merges ---- */

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

/* ---- encoding ---- */

/* per-call scratch for the heap path, grown to the longest word */
typedef struct BpeScratch
{
	size_t		cap;
	int32_t    *sym;			/* id, -1 once merged into its left */
	int32_t    *next;
	int32_t    *prev;
	int32_t    *rank;			/* of the pair starting here */
	int32_t    *merged;			/* what that pair makes */
	int32_t    *heap;			/* positions, ordered by (rank, position) */
	int32_t    *where;			/* position -> heap index, -1 */
	int32_t    *batch;			/* the positions of one rank */
	int32_t		heap_n;
	struct BpeCache *cache;		/* short words seen in this call, or NULL */
} BpeScratch;

static bool
scratch_reserve(BpeScratch *sc, size_t n, MaasError *err)
{
	/* just enough: a longer word later takes a block of its own size */
	size_t		cap = n < 256 ? 256 : n;
	int32_t    *block;

	if (n <= sc->cap)
		return true;
	block = maas_kalloc_array(cap, 8 * sizeof(int32_t));
	if (block == NULL)
		return maas_error_nomem(err);
	sc->sym = block;
	sc->next = block + cap;
	sc->prev = block + 2 * cap;
	sc->rank = block + 3 * cap;
	sc->merged = block + 4 * cap;
	sc->heap = block + 5 * cap;
	sc->where = block + 6 * cap;
	sc->batch = block + 7 * cap;
	sc->cap = cap;
	return true;
}

static inline bool
heap_less(const BpeScratch *sc, int32_t a, int32_t b)
{
	return sc->rank[a] < sc->rank[b] || (sc->rank[a] == sc->rank[b] && a < b);
}

static void
heap_up(BpeScratch *sc, int32_t i)
{
	int32_t		p = sc->heap[i];

	while (i > 0)
	{
		int32_t		parent = (i - 1) / 2;

		if (!heap_less(sc, p, sc->heap[parent]))
			break;
		sc->heap[i] = sc->heap[parent];
		sc->where[sc->heap[i]] = i;
		i = parent;
	}
	sc->heap[i] = p;
	sc->where[p] = i;
}

static void
heap_down(BpeScratch *sc, int32_t i)
{
	int32_t		p = sc->heap[i];

	for (;;)
	{
		int32_t		c = 2 * i + 1;

		if (c >= sc->heap_n)
			break;
		if (c + 1 < sc->heap_n && heap_less(sc, sc->heap[c + 1], sc->heap[c]))
			c++;
		if (!heap_less(sc, sc->heap[c], p))
			break;
		sc->heap[i] = sc->heap[c];
		sc->where[sc->heap[i]] = i;
		i = c;
	}
	sc->heap[i] = p;
	sc->where[p] = i;
}

static void
heap_remove(BpeScratch *sc, int32_t pos)
{
	int32_t		i = sc->where[pos];
	int32_t		last;

	if (i < 0)
		return;
	sc->where[pos] = -1;
	last = sc->heap[--sc->heap_n];
	if (i == sc->heap_n)
		return;
	sc->heap[i] = last;
	sc->where[last] = i;
	heap_up(sc, i);
	heap_down(sc, sc->where[last]);
}

/* recompute the pair starting at pos and put it in (or out of) the heap */
static void
heap_update(const MaasBpe *bpe, BpeScratch *sc, int32_t pos)
{
	int32_t		nx = sc->next[pos];
	int32_t		r = BPE_NO_RANK;

	if (nx >= 0)
		r = pair_rank(bpe, sc->sym[pos], sc->sym[nx], &sc->merged[pos]);
	if (sc->where[pos] >= 0)
	{
		if (r == BPE_NO_RANK)
		{
			heap_remove(sc, pos);
			sc->rank[pos] = r;
			return;
		}
		sc->rank[pos] = r;
		heap_up(sc, sc->where[pos]);
		heap_down(sc, sc->where[pos]);
		return;
	}
	sc->rank[pos] = r;
	if (r == BPE_NO_RANK)
		return;
	sc->heap[sc->heap_n] = pos;
	sc->where[pos] = sc->heap_n;
	sc->heap_n++;
	heap_up(sc, sc->heap_n - 1);
}

static bool
merge_heap(const MaasBpe *bpe, const uint8_t *w, int32_t n, BpeScratch *sc,
		   TokIds *out, const MaasTick *tick, MaasError *err)
{
	int32_t		steps = 0;

	if (!scratch_reserve(sc, (size_t) n, err))
		return false;
	sc->heap_n = 0;
	for (int32_t i = 0; i < n; i++)
	{
		sc->sym[i] = bpe->byte_id[w[i]];
		sc->next[i] = i + 1 < n ? i + 1 : -1;
		sc->prev[i] = i - 1;
		sc->where[i] = -1;
	}
	for (int32_t i = 0; i < n; i++)
		heap_update(bpe, sc, i);

	while (sc->heap_n > 0)
	{
		int32_t		r = sc->rank[sc->heap[0]];
		int32_t		nb = 0;

		/* every pair of the lowest rank, in position order */
		while (sc->heap_n > 0 && sc->rank[sc->heap[0]] == r)
		{
			int32_t		p = sc->heap[0];

			heap_remove(sc, p);
			sc->batch[nb++] = p;
		}
		for (int32_t k = 0; k < nb; k++)
		{
			int32_t		p = sc->batch[k];
			int32_t		q = sc->next[p];

			if ((++steps & 4095) == 0)
				maas_tick(tick);
			/* gone, or no longer that pair, after a merge to its left */
			if (sc->sym[p] < 0 || q < 0 || sc->rank[p] != r)
				continue;
			sc->sym[p] = sc->merged[p];
			sc->sym[q] = -1;
			heap_remove(sc, q);
			sc->next[p] = sc->next[q];
			if (sc->next[q] >= 0)
				sc->prev[sc->next[q]] = p;
			heap_update(bpe, sc, p);
			if (sc->prev[p] >= 0)
				heap_update(bpe, sc, sc->prev[p]);
		}
	}
	if (!tok_ids_reserve(out, (size_t) n, err))
		return false;
	for (int32_t i = 0; i >= 0; i = sc->next[i])
		tok_ids_push(out, sc->sym[i]);
	return true;
}

/*
 * GPT-2's loop, for short words: w[0 .. n), n <= 64.  The rank of each
 * adjacent pair is kept, so a pass looks up only the pairs a merge made.
 */
static bool
merge_direct(const MaasBpe *bpe, const uint8_t *w, int32_t n, TokIds *out,
			 MaasError *err)
{
	int32_t		sym[64];
	int32_t		rank[64];		/* of (sym[i], sym[i + 1]) */
	int32_t		made[64];		/* what that pair merges into */
	bool		fresh[64];		/* sym[i] was made by the last pass */
	int32_t		m = n;

	for (int32_t i = 0; i < n; i++)
		sym[i] = bpe->byte_id[w[i]];
	for (int32_t i = 0; i + 1 < n; i++)
		rank[i] = pair_rank(bpe, sym[i], sym[i + 1], &made[i]);
	while (m > 1)
	{
		int32_t		best = 0;
		int32_t		a,
					b,
					ab;
		int32_t		j = 0;

		for (int32_t i = 1; i + 1 < m; i++)
			if (rank[i] < rank[best])
				best = i;
		if (rank[best] == BPE_NO_RANK)
			break;
		a = sym[best];
		b = sym[best + 1];
		ab = made[best];
		/* every occurrence, left to right; ranks move with their pairs */
		for (int32_t i = 0; i < m; j++)
		{
			if (i + 1 < m && sym[i] == a && sym[i + 1] == b)
			{
				sym[j] = ab;
				fresh[j] = true;
				i += 2;
			}
			else
			{
				sym[j] = sym[i];
				rank[j] = rank[i];
				made[j] = made[i];
				fresh[j] = false;
				i++;
			}
		}
		m = j;
		for (int32_t i = 0; i + 1 < m; i++)
			if (fresh[i] || fresh[i + 1])
				rank[i] = pair_rank(bpe, sym[i], sym[i + 1], &made[i]);
	}
	if (!tok_ids_reserve(out, (size_t) m, err))
		return false;
	for (int32_t i = 0; i < m; i++)
		tok_ids_push(out, sym[i]);
	return true;
}

/*
 * A per-call cache of short words' ids: prose repeats its words.  A call
 * makes it once it has seen CACHE_AFTER pieces; it never grows past
 * CACHE_SLOTS / 2 words.
 */
#define CACHE_SLOTS 8192
#define CACHE_MAX_WORD 32
#define CACHE_AFTER 64

typedef struct BpeCache
{
	uint64_t   *key;			/* hash of the word, 0 for empty */
	uint32_t   *at;				/* its ids in pool */
	uint8_t    *len;			/* word bytes */
	uint8_t    *n_ids;
	uint8_t    *words;			/* CACHE_SLOTS * CACHE_MAX_WORD bytes */
	TokIds		pool;
	int			used;
} BpeCache;

static BpeCache *
cache_make(MaasError *err)
{
	BpeCache   *c = maas_kalloc(sizeof(BpeCache));

	if (c == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(c, 0, sizeof(BpeCache));
	c->key = maas_kalloc_array(CACHE_SLOTS, sizeof(uint64_t));
	c->at = maas_kalloc_array(CACHE_SLOTS, sizeof(uint32_t));
	c->len = maas_kalloc(CACHE_SLOTS);
	c->n_ids = maas_kalloc(CACHE_SLOTS);
	c->words = maas_kalloc_array(CACHE_SLOTS, CACHE_MAX_WORD);
	if (c->key == NULL || c->at == NULL || c->len == NULL || c->n_ids == NULL ||
		c->words == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	memset(c->key, 0, CACHE_SLOTS * sizeof(uint64_t));
	return c;
}

/* the slot holding w, or the empty one where it would go; -1 when full */
static int
cache_slot(const BpeCache *c, const uint8_t *w, size_t n, uint64_t h)
{
	uint32_t	i = (uint32_t) (h & (CACHE_SLOTS - 1));

	for (;;)
	{
		if (c->key[i] == 0)
			return c->used < CACHE_SLOTS / 2 ? (int) i : -1;
		if (c->key[i] == h && c->len[i] == n &&
			memcmp(c->words + (size_t) i * CACHE_MAX_WORD, w, n) == 0)
			return (int) i;
		i = (i + 1) & (CACHE_SLOTS - 1);
	}
}

/* merge_direct through the cache */
static bool
merge_cached(const MaasBpe *bpe, const uint8_t *w, size_t n, BpeCache *c,
			 TokIds *out, MaasError *err)
{
	uint64_t	h;
	int			slot;
	size_t		first = out->n;
	size_t		k;

	if (c == NULL || n > CACHE_MAX_WORD)
		return merge_direct(bpe, w, (int32_t) n, out, err);
	h = tok_hash(w, n, UINT64_C(0x2d358dccaa6c78a5)) | 1;
	slot = cache_slot(c, w, n, h);
	if (slot >= 0 && c->key[slot] == h)
	{
		if (!tok_ids_reserve(out, c->n_ids[slot], err))
			return false;
		memcpy(out->v + out->n, c->pool.v + c->at[slot],
			   c->n_ids[slot] * sizeof(int32_t));
		out->n += c->n_ids[slot];
		return true;
	}
	if (!merge_direct(bpe, w, (int32_t) n, out, err))
		return false;
	if (slot < 0)
		return true;
	k = out->n - first;
	if (!tok_ids_reserve(&c->pool, k, err))
		return false;
	c->key[slot] = h;
	c->at[slot] = (uint32_t) c->pool.n;
	c->len[slot] = (uint8_t) n;
	c->n_ids[slot] = (uint8_t) k;
	memcpy(c->words + (size_t) slot * CACHE_MAX_WORD, w, n);
	memcpy(c->pool.v + c->pool.n, out->v + first, k * sizeof(int32_t));
	c->pool.n += k;
	c->used++;
	return true;
}

static bool
encode_word(const MaasBpe *bpe, const uint8_t *w, size_t n, BpeScratch *sc,
			TokIds *out, const MaasTick *tick, MaasError *err)
{
	if (n == 1)
	{
		if (!tok_ids_reserve(out, 1, err))
			return false;
		tok_ids_push(out, bpe->byte_id[w[0]]);
		return true;
	}
	if (bpe->ignore_merges)
	{
		int32_t		id = tok_vocab_find(&bpe->vocab, w, n);

		if (id >= 0)
		{
			if (!tok_ids_reserve(out, 1, err))
				return false;
			tok_ids_push(out, id);
			return true;
		}
	}
	if (n <= (size_t) bpe->direct_limit && n <= 64)
		return merge_cached(bpe, w, n, sc->cache, out, err);
	return merge_heap(bpe, w, (int32_t) n, sc, out, tick, err);
}

/* the classes GPT-2's pattern tells apart */
enum
{
	CLS_OTHER,
	CLS_LETTER,
	CLS_NUMBER,
	CLS_SPACE
};

static inline int
class_at(const uint8_t *s, size_t len, size_t i, size_t *k)
{
	uint32_t	cp = s[i];
	uint16_t	f;

	*k = 1;
	if (cp >= 0x80)
	{
		/* the text was checked, but never loop on a bad byte */
		*k = maas_utf8_decode(s + i, len - i, &cp);
		if (*k == 0)
		{
			*k = 1;
			cp = 0xFFFD;
		}
	}
	f = maas_uc_flags(cp);
	if (f & MAAS_UC_LETTER)
		return CLS_LETTER;
	if (f & MAAS_UC_NUMBER)
		return CLS_NUMBER;
	if (f & MAAS_UC_SPACE)
		return CLS_SPACE;
	return CLS_OTHER;
}

/* the end of the run of class cls starting at i */
static inline size_t
run_end(const uint8_t *s, size_t len, size_t i, int cls)
{
	while (i < len)
	{
		size_t		k;

		if (class_at(s, len, i, &k) != cls)
			break;
		i += k;
	}
	return i;
}

/*
 * The end of the piece of GPT-2's pattern that starts at i:
 *	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * tried in that order, as the regex engine does.
 */
size_t
tok_bpe_next_piece(const uint8_t *s, size_t len, size_t i)
{
	size_t		k;
	int			cls;

	if (s[i] == '\'' && i + 1 < len)
	{
		uint8_t		c = s[i + 1];

		if (c == 's' || c == 't' || c == 'm' || c == 'd')
			return i + 2;
		if (i + 2 < len &&
			((c == 'r' && s[i + 2] == 'e') || (c == 'v' && s[i + 2] == 'e') ||
			 (c == 'l' && s[i + 2] == 'l')))
			return i + 3;
	}
	cls = class_at(s, len, i, &k);
	if (s[i] == ' ' && i + 1 < len)
	{
		size_t		k1;
		int			cls1 = class_at(s, len, i + 1, &k1);

		if (cls1 != CLS_SPACE)
			return run_end(s, len, i + 1 + k1, cls1);
	}
	if (cls != CLS_SPACE)
		return run_end(s, len, i + k, cls);

	/* whitespace: all of it before the end, or all but the last character */
	{
		size_t		j = i + k;
		size_t		last = i;

		while (j < len)
		{
			size_t		kj;

			if (class_at(s, len, j, &kj) != CLS_SPACE)
				break;
			last = j;
			j += kj;
		}
		if (j == len || last == i)
			return j;
		return last;
	}
}

bool
tok_bpe_encode(const MaasTokenizer *tok, const uint8_t *text, size_t len,
			   TokIds *out, size_t max_ids, const MaasTick *tick, MaasError *err)
{
	const MaasBpe *bpe = tok->bpe;
	BpeScratch	sc;
	size_t		i = 0;
	size_t		pieces = 0;
	uint8_t    *buf = NULL;

	memset(&sc, 0, sizeof(sc));
	if (len == 0)
		return true;
	if (bpe->add_prefix_space && text[0] != ' ')
	{
		buf = maas_kalloc(len + 1);
		if (buf == NULL)
			return maas_error_nomem(err);
		buf[0] = ' ';
		memcpy(buf + 1, text, len);
		text = buf;
		len++;
	}
	if (!bpe->use_regex)
		return encode_word(bpe, text, len, &sc, out, tick, err);
	while (i < len && out->n < max_ids)
	{
		size_t		end = tok_bpe_next_piece(text, len, i);

		if ((++pieces & 1023) == 0)
			maas_tick(tick);
		if (pieces == CACHE_AFTER && (sc.cache = cache_make(err)) == NULL)
			return false;
		if (!encode_word(bpe, text + i, end - i, &sc, out, tick, err))
			return false;
		i = end;
	}
	return true;
}

/* ---- decoding ---- */

char *
tok_bpe_decode(const MaasTokenizer *tok, const int32_t *ids, size_t n,
			   bool skip_special, size_t *len, const MaasTick *tick,
			   MaasError *err)
{
	const TokVocab *v = &tok->bpe->vocab;
	size_t		total = 0;
	size_t		o = 0;
	uint8_t    *raw;
	char	   *text;

	for (size_t i = 0; i < n; i++)
	{
		if (!(skip_special && (v->flags[ids[i]] & TOK_SPECIAL)))
			total += v->off[ids[i] + 1] - v->off[ids[i]];
	}
	if (total > MAAS_TOKENIZER_MAX_TEXT * (size_t) 4)
	{
		maas_error(err, MAAS_ERR_LIMIT, "decoded text would be longer than %d bytes",
				   MAAS_TOKENIZER_MAX_TEXT * 4);
		return NULL;
	}
	raw = maas_kalloc(total + 1);
	text = maas_kalloc(3 * total + 1);
	if (raw == NULL || text == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
	{
		size_t		k;
		const uint8_t *s;

		if ((i & 4095) == 4095)
			maas_tick(tick);
		if (skip_special && (v->flags[ids[i]] & TOK_SPECIAL))
			continue;
		s = tok_vocab_bytes(v, ids[i], &k);
		memcpy(raw + o, s, k);
		o += k;
	}
	*len = maas_utf8_repair(raw, total, (uint8_t *) text);
	text[*len] = '\0';
	return text;
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
