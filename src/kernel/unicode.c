/*
 * unicode.c
 *		Lookups in the generated Unicode tables (unicode_table.h), and the two
 *		string operations built on them: Python's str.lower() and NFD.
 */
#include "unicode.h"

#include "unicode_table.h"

const char *const maas_unicode_version = UNICODE_TABLE_VERSION;

/* Hangul syllables decompose by arithmetic (Unicode 3.12) */
#define HANGUL_S 0xAC00
#define HANGUL_L 0x1100
#define HANGUL_V 0x1161
#define HANGUL_T 0x11A7
#define HANGUL_V_COUNT 21
#define HANGUL_T_COUNT 28
#define HANGUL_N_COUNT (HANGUL_V_COUNT * HANGUL_T_COUNT)
#define HANGUL_S_COUNT 11172

#define CAPITAL_SIGMA 0x03A3
#define SMALL_SIGMA 0x03C3
#define FINAL_SIGMA 0x03C2

uint16_t
maas_uc_flags_slow(uint32_t cp)
{
	int			lo = 0;
	int			hi = UC_N_FLAG_RANGES - 1;

	/* the last range whose start is <= cp */
	while (lo < hi)
	{
		int			mid = (lo + hi + 1) / 2;

		if (uc_flag_start[mid] <= cp)
			lo = mid;
		else
			hi = mid - 1;
	}
	return uc_flag_value[lo];
}

int
maas_uc_lower(uint32_t cp, uint32_t *out)
{
	int			lo = 0;
	int			hi = UC_N_LOWER_RUNS - 1;

	if (cp < 0x80)
	{
		out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
		return 1;
	}
	if (cp == 0x0130)
	{
		/* the one unconditional multi-character mapping (SpecialCasing) */
		out[0] = 0x0069;
		out[1] = 0x0307;
		return 2;
	}
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const UcLowerRun *r = &uc_lower_runs[mid];

		if (cp < r->first)
			hi = mid - 1;
		else if (cp > r->last)
			lo = mid + 1;
		else
		{
			if ((cp - r->first) % (uint32_t) r->stride == 0)
				cp = (uint32_t) ((int32_t) cp + r->delta);
			break;
		}
	}
	out[0] = cp;
	return 1;
}

uint8_t
maas_uc_ccc(uint32_t cp)
{
	int			lo = 0;
	int			hi = UC_N_CCC - 1;

	if (cp < 0x300)
		return 0;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (cp < uc_ccc[mid].first)
			hi = mid - 1;
		else if (cp > uc_ccc[mid].last)
			lo = mid + 1;
		else
			return uc_ccc[mid].ccc;
	}
	return 0;
}

int
maas_uc_decompose(uint32_t cp, uint32_t *out)
{
	int			lo = 0;
	int			hi = UC_N_DECOMP - 1;

	if (cp < 0xC0)
	{
		out[0] = cp;
		return 1;
	}
	if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_S_COUNT)
	{
		uint32_t	s = cp - HANGUL_S;
		uint32_t	t = s % HANGUL_T_COUNT;

		out[0] = HANGUL_L + s / HANGUL_N_COUNT;
		out[1] = HANGUL_V + (s % HANGUL_N_COUNT) / HANGUL_T_COUNT;
		if (t == 0)
			return 2;
		out[2] = HANGUL_T + t;
		return 3;
	}
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (cp < uc_decomp[mid].cp)
			hi = mid - 1;
		else if (cp > uc_decomp[mid].cp)
			lo = mid + 1;
		else
		{
			const UcDecomp *d = &uc_decomp[mid];

			for (int i = 0; i < d->len; i++)
				out[i] = uc_decomp_pool[d->offset + i];
			return d->len;
		}
	}
	out[0] = cp;
	return 1;
}

/*
 * CPython's final-sigma rule: U+03A3 at s[i] lower-cases to final sigma when
 * a cased character precedes it and none follows, skipping case-ignorable
 * characters both ways.
 */
static bool
final_sigma(const uint32_t *s, size_t n, size_t i)
{
	size_t		j = i;
	uint16_t	f = 0;

	while (j > 0)
	{
		f = maas_uc_flags(s[--j]);
		if (!(f & MAAS_UC_CASE_IGNORABLE))
			break;
	}
	if (j == i || (f & MAAS_UC_CASE_IGNORABLE) || !(f & MAAS_UC_CASED))
		return false;
	for (j = i + 1; j < n; j++)
	{
		f = maas_uc_flags(s[j]);
		if (!(f & MAAS_UC_CASE_IGNORABLE))
			return !(f & MAAS_UC_CASED);
	}
	return true;
}

size_t
maas_uc_lower_string(const uint32_t *s, size_t n, uint32_t *out)
{
	size_t		k = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (s[i] == CAPITAL_SIGMA)
			out[k++] = final_sigma(s, n, i) ? FINAL_SIGMA : SMALL_SIGMA;
		else
			k += (size_t) maas_uc_lower(s[i], out + k);
	}
	return k;
}

/* put out[from .. to) in canonical order: a stable sort by combining class */
static void
canonical_order(uint32_t *out, size_t from, size_t to, uint32_t *tmp)
{
	size_t		count[256];
	size_t		at;

	if (to - from < 2)
		return;
	if (to - from <= 8)
	{
		/* insertion sort, stable */
		for (size_t i = from + 1; i < to; i++)
		{
			uint32_t	c = out[i];
			uint8_t		cc = maas_uc_ccc(c);
			size_t		j = i;

			while (j > from && maas_uc_ccc(out[j - 1]) > cc)
			{
				out[j] = out[j - 1];
				j--;
			}
			out[j] = c;
		}
		return;
	}
	for (int c = 0; c < 256; c++)
		count[c] = 0;
	for (size_t i = from; i < to; i++)
		count[maas_uc_ccc(out[i])]++;
	at = 0;
	for (int c = 0; c < 256; c++)
	{
		size_t		n = count[c];

		count[c] = at;
		at += n;
	}
	for (size_t i = from; i < to; i++)
		tmp[count[maas_uc_ccc(out[i])]++] = out[i];
	for (size_t i = from; i < to; i++)
		out[i] = tmp[i - from];
}

size_t
maas_uc_nfd_length(const uint32_t *s, size_t n)
{
	uint32_t	d[MAAS_UC_MAX_DECOMP];
	size_t		k = 0;

	for (size_t i = 0; i < n; i++)
		k += (size_t) maas_uc_decompose(s[i], d);
	return k;
}

size_t
maas_uc_nfd(const uint32_t *s, size_t n, uint32_t *out, uint32_t *tmp)
{
	size_t		k = 0;
	size_t		run = 0;		/* start of the current run of ccc > 0 */
	bool		sorted = true;	/* that run is already in order */
	uint8_t		last = 0;

	for (size_t i = 0; i < n; i++)
	{
		int			m = maas_uc_decompose(s[i], out + k);

		for (int j = 0; j < m; j++)
		{
			uint8_t		cc = maas_uc_ccc(out[k]);

			if (cc == 0)
			{
				if (!sorted)
					canonical_order(out, run, k, tmp);
				sorted = true;
				run = k + 1;
			}
			else if (cc < last)
				sorted = false;
			last = cc;
			k++;
		}
	}
	if (!sorted)
		canonical_order(out, run, k, tmp);
	return k;
}
