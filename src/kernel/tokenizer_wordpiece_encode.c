/*
 * tokenizer_wordpiece_encode.c
 *		BERT's WordPiece: encoding and decoding (tokenizer_wordpiece.c
 *		builds the trie they read; see its header for the steps).
 */
#include "tokenizer_int.h"

#include <string.h>

#include "unicode.h"
#include "utf8.h"

/* ---- encoding ---- */

/* per-call buffers, grown as needed */
typedef struct WpScratch
{
	uint32_t   *cps;			/* the current whitespace token */
	size_t		cps_cap;
	uint32_t   *low;			/* lower-cased */
	size_t		low_cap;
	uint32_t   *nfd;			/* decomposed, and its sort scratch */
	uint32_t   *tmp;
	size_t		nfd_cap;
	uint8_t    *utf8;			/* the token after step 4, as UTF-8 */
	size_t		utf8_cap;
	size_t	   *starts;			/* byte offset of each of its characters */
	size_t		starts_cap;
} WpScratch;

static bool
grow_u32(uint32_t **p, size_t *cap, size_t n, MaasError *err)
{
	size_t		c = *cap < 64 ? 64 : *cap;

	if (n <= *cap)
		return true;
	while (c < n)
		c *= 2;
	*p = maas_kalloc_array(c, sizeof(uint32_t));
	if (*p == NULL)
		return maas_error_nomem(err);
	*cap = c;
	return true;
}

/*
 * WordPiece on one word, w[0 .. len) (UTF-8, chars characters), its ids
 * appended to out.
 */
static bool
wordpiece_word(const MaasWordPiece *wp, const uint8_t *w, size_t len,
			   size_t chars, TokIds *out, MaasError *err)
{
	size_t		start = 0;
	size_t		first = out->n;

	if (len == 0)
		return true;
	if (chars > (size_t) wp->max_chars)
	{
		if (!tok_ids_reserve(out, 1, err))
			return false;
		tok_ids_push(out, wp->unk_id);
		return true;
	}
	while (start < len)
	{
		int32_t		node = start == 0 ? WP_ROOT_WORD : WP_ROOT_CONTINUATION;
		int32_t		best = -1;
		size_t		best_end = 0;

		for (size_t j = start; j < len; j++)
		{
			node = wp_trie_child(wp, node, w[j]);
			if (node < 0)
				break;
			if (wp->node_id[node] >= 0)
			{
				best = wp->node_id[node];
				best_end = j + 1;
			}
		}
		if (best < 0)
		{
			/* a rest no token begins: the whole word is unknown */
			out->n = first;
			best = wp->unk_id;
			best_end = len;
		}
		if (!tok_ids_reserve(out, 1, err))
			return false;
		tok_ids_push(out, best);
		start = best_end;
	}
	return true;
}

/* steps 4 to 6 on one whitespace token s[0 .. n) (code points) */
static bool
wordpiece_token(const MaasWordPiece *wp, const uint32_t *s, size_t n,
				uint32_t max_cp, WpScratch *sc, TokIds *out, MaasError *err)
{
	const uint32_t *t = s;
	size_t		m = n;
	size_t		bytes = 0;
	size_t		k = 0;
	size_t		word = 0;		/* byte offset where the current word began */
	size_t		word_chars = 0;

	if (max_cp >= 0x80 && wp->do_lower_case)
	{
		if (!grow_u32(&sc->low, &sc->low_cap, MAAS_UC_MAX_LOWER * n, err))
			return false;
		m = maas_uc_lower_string(t, m, sc->low);
		t = sc->low;
	}
	if (max_cp >= 0x80 && wp->strip_accents)
	{
		size_t		kept = 0;
		size_t		cap = sc->nfd_cap;
		size_t		need = maas_uc_nfd_length(t, m);

		if (!grow_u32(&sc->nfd, &sc->nfd_cap, need, err) ||
			!grow_u32(&sc->tmp, &cap, sc->nfd_cap, err))
			return false;
		m = maas_uc_nfd(t, m, sc->nfd, sc->tmp);
		for (size_t i = 0; i < m; i++)
		{
			if (!(maas_uc_flags(sc->nfd[i]) & MAAS_UC_MN))
				sc->nfd[kept++] = sc->nfd[i];
		}
		m = kept;
		t = sc->nfd;
	}

	/* as UTF-8, then cut at punctuation */
	if (sc->utf8_cap < 4 * m + 1)
	{
		size_t		c = sc->utf8_cap < 256 ? 256 : sc->utf8_cap;

		while (c < 4 * m + 1)
			c *= 2;
		sc->utf8 = maas_kalloc(c);
		if (sc->utf8 == NULL)
			return maas_error_nomem(err);
		sc->utf8_cap = c;
	}
	for (size_t i = 0; i < m; i++)
	{
		uint32_t	c = t[i];
		bool		punct;

		if (c < 0x80)
		{
			if (wp->do_lower_case && c >= 'A' && c <= 'Z')
				c += 32;
			punct = (maas_uc_latin1[c] & MAAS_UC_BERT_PUNCT) != 0;
		}
		else
			punct = (maas_uc_flags(c) & MAAS_UC_BERT_PUNCT) != 0;
		if (punct)
		{
			if (!wordpiece_word(wp, sc->utf8 + word, bytes - word, word_chars,
								out, err))
				return false;
			word = bytes;
		}
		k = maas_utf8_encode(c, sc->utf8 + bytes);
		bytes += k;
		word_chars++;
		if (punct)
		{
			if (!wordpiece_word(wp, sc->utf8 + word, bytes - word, 1, out, err))
				return false;
			word = bytes;
			word_chars = 0;
		}
	}
	return wordpiece_word(wp, sc->utf8 + word, bytes - word, word_chars, out, err);
}

bool
tok_wordpiece_encode(const MaasTokenizer *tok, const uint8_t *text, size_t len,
					 TokIds *out, size_t max_ids, const MaasTick *tick,
					 MaasError *err)
{
	const MaasWordPiece *wp = tok->wordpiece;
	WpScratch	sc;
	size_t		i = 0;
	size_t		n = 0;			/* code points in the current token */
	uint32_t	max_cp = 0;
	size_t		tokens = 0;

	memset(&sc, 0, sizeof(sc));
	if (!grow_u32(&sc.cps, &sc.cps_cap, 256, err))
		return false;
	while (i <= len && out->n < max_ids)
	{
		uint32_t	cp = 0;
		uint16_t	f = 0;
		size_t		k = 1;
		bool		split = false;	/* the token ends here */
		bool		alone = false;	/* cp is a token of its own */

		if (i < len)
		{
			cp = text[i];
			if (cp >= 0x80)
			{
				k = maas_utf8_decode(text + i, len - i, &cp);
				if (k == 0)		/* checked before: cannot happen */
					return maas_error(err, MAAS_ERR_INVALID, "text is not valid UTF-8");
			}
			f = maas_uc_flags(cp);
			if (wp->clean_text)
			{
				if (cp == 0 || cp == 0xFFFD || (f & MAAS_UC_BERT_CONTROL))
				{
					i += k;
					continue;
				}
				if (f & MAAS_UC_BERT_SPACE)
				{
					cp = ' ';
					f = maas_uc_latin1[' '];
				}
			}
			if (f & MAAS_UC_PY_SPACE)
				split = true;
			else if (wp->tokenize_chinese_chars && (f & MAAS_UC_CJK))
				split = alone = true;
		}
		else
			split = true;

		if (split && n > 0)
		{
			if ((++tokens & 255) == 0)
				maas_tick(tick);
			if (!wordpiece_token(wp, sc.cps, n, max_cp, &sc, out, err))
				return false;
			n = 0;
			max_cp = 0;
		}
		if (alone)
		{
			if (!wordpiece_token(wp, &cp, 1, cp, &sc, out, err))
				return false;
		}
		else if (!split)
		{
			if (n == sc.cps_cap)
			{
				uint32_t   *old = sc.cps;

				if (!grow_u32(&sc.cps, &sc.cps_cap, n + 1, err))
					return false;
				memcpy(sc.cps, old, n * sizeof(uint32_t));
			}
			sc.cps[n++] = cp;
			if (cp > max_cp)
				max_cp = cp;
		}
		i += k;
	}
	return true;
}

/* ---- decoding ---- */

char *
tok_wordpiece_decode(const MaasTokenizer *tok, const int32_t *ids, size_t n,
					 bool skip_special, size_t *len, const MaasTick *tick,
					 MaasError *err)
{
	const MaasWordPiece *wp = tok->wordpiece;
	const TokVocab *v = &wp->vocab;
	size_t		total = 0;
	size_t		o = 0;
	size_t		emitted = 0;
	char	   *text;

	for (size_t i = 0; i < n; i++)
		total += v->off[ids[i] + 1] - v->off[ids[i]] + 1;
	if (total > MAAS_TOKENIZER_MAX_TEXT * (size_t) 4)
	{
		maas_error(err, MAAS_ERR_LIMIT, "decoded text would be longer than %d bytes",
				   MAAS_TOKENIZER_MAX_TEXT * 4);
		return NULL;
	}
	text = maas_kalloc(total + 1);
	if (text == NULL)
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
		if (emitted > 0)
		{
			if (k >= wp->prefix_len && wp->prefix_len > 0 &&
				memcmp(s, wp->prefix, wp->prefix_len) == 0)
			{
				s += wp->prefix_len;
				k -= wp->prefix_len;
			}
			else
				text[o++] = ' ';
		}
		memcpy(text + o, s, k);
		o += k;
		emitted++;
	}
	text[o] = '\0';
	*len = o;
	return text;
}
