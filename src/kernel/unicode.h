/*
 * unicode.h
 *		The Unicode facts the tokenizers use: character classes, Python's
 *		lower-casing, canonical decomposition (NFD).
 *
 * The data is one Unicode version, the one Python's unicodedata has on the
 * build machine's Debian (14.0.0 for Debian 12's Python 3.11), generated into
 * unicode_table.h by gen_unicode.py.  Both tokenizers answer with these
 * tables, so BERT's BasicTokenizer (written against unicodedata) is matched
 * exactly; see doc in tokenizer.h for where other implementations' Unicode
 * versions differ.
 *
 * Code points passed in must be at most U+10FFFF; surrogates have no flags.
 */
#ifndef MAAS_UNICODE_H
#define MAAS_UNICODE_H

#include "kernel.h"

/* flags of a code point */
#define MAAS_UC_LETTER			0x0001	/* general category L* */
#define MAAS_UC_NUMBER			0x0002	/* N* */
#define MAAS_UC_SPACE			0x0004	/* White_Space (GPT-2's \s) */
#define MAAS_UC_BERT_SPACE		0x0008	/* BERT _is_whitespace: " \t\n\r", Zs */
#define MAAS_UC_BERT_CONTROL	0x0010	/* BERT _is_control: C* but \t \n \r */
#define MAAS_UC_BERT_PUNCT		0x0020	/* BERT _is_punctuation: ASCII
										 * !-/ :-@ [-` {-~ and P* */
#define MAAS_UC_CJK				0x0040	/* BERT _is_chinese_char */
#define MAAS_UC_MN				0x0080	/* Mn: what accent stripping drops */
#define MAAS_UC_PY_SPACE		0x0100	/* Python str.isspace() */
#define MAAS_UC_CASED			0x0200	/* Cased, as str.lower() sees it */
#define MAAS_UC_CASE_IGNORABLE	0x0400	/* Case_Ignorable, likewise */

/* the longest full canonical decomposition of one code point */
#define MAAS_UC_MAX_DECOMP		4

/* the longest lower-case mapping (U+0130 -> U+0069 U+0307) */
#define MAAS_UC_MAX_LOWER		2

/* "14.0.0" */
extern const char *const maas_unicode_version;

extern uint16_t maas_uc_flags_slow(uint32_t cp);
extern const uint16_t maas_uc_latin1[256];

static inline uint16_t
maas_uc_flags(uint32_t cp)
{
	if (cp < 256)
		return maas_uc_latin1[cp];
	return maas_uc_flags_slow(cp);
}

/*
 * The lower case of cp as Python's str.lower() writes it, ignoring the
 * final-sigma context (U+03A3 gives U+03C3 here; maas_uc_lower_string
 * applies the context): writes 1 or 2 code points to out, returns how many.
 */
extern int	maas_uc_lower(uint32_t cp, uint32_t *out);

/* canonical combining class */
extern uint8_t maas_uc_ccc(uint32_t cp);

/*
 * The full canonical decomposition of cp (Hangul syllables included):
 * writes 1 .. MAAS_UC_MAX_DECOMP code points, returns how many.
 */
extern int	maas_uc_decompose(uint32_t cp, uint32_t *out);

/*
 * str.lower() of s[0 .. n): writes at most MAAS_UC_MAX_LOWER * n code points
 * to out, returns how many.  out must not overlap s.
 */
extern size_t maas_uc_lower_string(const uint32_t *s, size_t n, uint32_t *out);

/* the length of maas_uc_nfd's result, in code points */
extern size_t maas_uc_nfd_length(const uint32_t *s, size_t n);

/*
 * unicodedata.normalize("NFD", s[0 .. n)): writes at most
 * MAAS_UC_MAX_DECOMP * n code points to out, returns how many.  tmp is
 * scratch of the same size as out (a long run of combining marks is put in
 * canonical order by a counting sort, never in quadratic time).  Neither
 * may overlap s.
 */
extern size_t maas_uc_nfd(const uint32_t *s, size_t n, uint32_t *out,
						  uint32_t *tmp);

#endif							/* MAAS_UNICODE_H */
