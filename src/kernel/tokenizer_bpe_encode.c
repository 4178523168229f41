/*
 * tokenizer_bpe_encode.c
 *		GPT-2's byte-level BPE: encoding and decoding (tokenizer_bpe.c
 *		builds the tables they read; see its header for the algorithm).
 */
#include "tokenizer_bpe_int.h"

#include <string.h>

#include "unicode.h"
#include "utf8.h"

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
