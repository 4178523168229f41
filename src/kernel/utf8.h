/*
 * utf8.h
 *		Strict UTF-8: the one decoder every kernel that reads outside text
 *		uses (JSON, safetensors names, tokenizers).
 *
 * Well-formed means RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF.  Everything is inline and bounds-checked against the bytes
 * available, so it is safe on any input.
 */
#ifndef MAAS_UTF8_H
#define MAAS_UTF8_H

#include "kernel.h"

/*
 * Length of the well-formed UTF-8 sequence at s[0 .. avail), or 0 when the
 * bytes there are not one (or avail is 0).  *cp receives its code point.
 */
static inline size_t
maas_utf8_decode(const uint8_t *s, size_t avail, uint32_t *cp)
{
	uint8_t		c;
	uint8_t		lo = 0x80;
	uint8_t		hi = 0xBF;
	size_t		n;
	uint32_t	v;

	if (avail == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
	{
		n = 2;
		v = c & 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;			/* no overlong forms */
		else if (c == 0xED)
			hi = 0x9F;			/* no surrogates */
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;			/* nothing above U+10FFFF */
	}
	else
		return 0;

	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	v = (v << 6) | (s[1] & 0x3F);
	for (size_t i = 2; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	*cp = v;
	return n;
}

/* true when all of s[0 .. len) is well-formed UTF-8 */
static inline bool
maas_utf8_valid(const uint8_t *s, size_t len)
{
	size_t		i = 0;
	uint32_t	cp;

	while (i < len)
	{
		size_t		k = maas_utf8_decode(s + i, len - i, &cp);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* encode a code point (at most U+10FFFF, not a surrogate) into out[0..4) */
static inline size_t
maas_utf8_encode(uint32_t cp, uint8_t *out)
{
	if (cp < 0x80)
	{
		out[0] = (uint8_t) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (uint8_t) (0xC0 | (cp >> 6));
		out[1] = (uint8_t) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (uint8_t) (0xE0 | (cp >> 12));
		out[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (uint8_t) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t) (0xF0 | (cp >> 18));
	out[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (uint8_t) (0x80 | (cp & 0x3F));
	return 4;
}

#endif							/* MAAS_UTF8_H */
