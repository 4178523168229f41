/*
 * sha256.c
 *		SHA-256 as FIPS 180-4 specifies it (see sha256.h).
 *
 * The message schedule is computed in a 16-word ring rather than all 64
 * words up front; each block is compressed straight from the caller's bytes
 * when they cover it, so large updates copy nothing.  On x86-64 CPUs with
 * the SHA extensions (SHA-NI: AMD since Zen, Intel since Ice Lake and the
 * Atoms), chosen at run time from cpu.c's features (so that
 * maas.cpu_features_disable = 'sha' turns them off), runs of whole blocks
 * go through sha256_blocks_ni instead: several times the plain C's speed.
 */
#include "sha256.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include "cpu.h"

#include <immintrin.h>
#define MAAS_SHA_NI 1
#endif

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static inline uint32_t
rotr(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t
load_be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

/* one 64-byte block into the state h[8] */
static void
compress(uint32_t h[8], const uint8_t *block)
{
	uint32_t	w[16];
	uint32_t	a = h[0], b = h[1], c = h[2], d = h[3];
	uint32_t	e = h[4], f = h[5], g = h[6], k = h[7];

	for (int t = 0; t < 64; t++)
	{
		uint32_t	wt;
		uint32_t	t1;
		uint32_t	t2;

		if (t < 16)
			wt = w[t] = load_be32(block + 4 * t);
		else
		{
			uint32_t	w15 = w[(t - 15) & 15];
			uint32_t	w2 = w[(t - 2) & 15];
			uint32_t	s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3);
			uint32_t	s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10);

			wt = w[t & 15] = w[t & 15] + s0 + w[(t - 7) & 15] + s1;
		}
		t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
			((e & f) ^ (~e & g)) + K[t] + wt;
		t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
			((a & b) ^ (a & c) ^ (b & c));
		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += k;
}

#ifdef MAAS_SHA_NI

/*
 * n blocks into h[8] with the SHA extensions.  The instructions keep the
 * state as two vectors, (a, b, e, f) and (c, d, g, h), highest lane first;
 * sha256rnds2 does two rounds, sha256msg1 and sha256msg2 the two halves of
 * the message schedule's next four words.
 */
__attribute__((target("sha,sse4.1,ssse3")))
static void
sha256_blocks_ni(uint32_t h[8], const uint8_t *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i		t = _mm_loadu_si128((const __m128i *) &h[0]);
	__m128i		s1 = _mm_loadu_si128((const __m128i *) &h[4]);
	__m128i		s0;

	t = _mm_shuffle_epi32(t, 0xB1);	/* (c, d, a, b) from lane 3 down */
	s1 = _mm_shuffle_epi32(s1, 0x1B);	/* (e, f, g, h) */
	s0 = _mm_alignr_epi8(t, s1, 8);	/* (a, b, e, f) */
	s1 = _mm_blend_epi16(s1, t, 0xF0);	/* (c, d, g, h) */

	for (; n > 0; n--, p += 64)
	{
		__m128i		save0 = s0;
		__m128i		save1 = s1;
		__m128i		w[4];

		for (int g = 0; g < 16; g++)
		{
			__m128i		wk;

			if (g < 4)
				w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + 16 * g)),
										bswap);
			else
			{
				/* words 4g .. 4g+3 from the four groups before, w[g & 3] the oldest */
				__m128i		x = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);

				x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
				w[g & 3] = _mm_sha256msg2_epu32(x, w[(g + 3) & 3]);
			}
			wk = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const __m128i *) &K[4 * g]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, wk);
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(wk, 0x0E));
		}
		s0 = _mm_add_epi32(s0, save0);
		s1 = _mm_add_epi32(s1, save1);
	}

	t = _mm_shuffle_epi32(s0, 0x1B);	/* (f, e, b, a) */
	s1 = _mm_shuffle_epi32(s1, 0xB1);	/* (h, g, d, c) */
	s0 = _mm_blend_epi16(t, s1, 0xF0);	/* (d, c, b, a) */
	s1 = _mm_alignr_epi8(s1, t, 8);	/* (h, g, f, e) */
	_mm_storeu_si128((__m128i *) &h[0], s0);
	_mm_storeu_si128((__m128i *) &h[4], s1);
}

static bool sha_ni_allowed = true;

/*
 * may the SHA extensions run: the CPU has them, with SSE4.1 and SSSE3, and
 * maas.cpu_features_disable does not turn them off (cpu.c)
 */
static bool
have_sha_ni(void)
{
	return maas_cpu_has(MAAS_CPU_BIT(MAAS_CPU_SHA) | MAAS_CPU_BIT(MAAS_CPU_SSE41) |
						MAAS_CPU_BIT(MAAS_CPU_SSSE3));
}
#endif

bool
maas_sha256_use_extensions(bool use)
{
#ifdef MAAS_SHA_NI
	sha_ni_allowed = use;
	return have_sha_ni();
#else
	(void) use;
	return false;
#endif
}

/* n whole blocks into h[8] */
static void
compress_blocks(uint32_t h[8], const uint8_t *p, size_t n)
{
#ifdef MAAS_SHA_NI
	if (sha_ni_allowed && have_sha_ni())
	{
		sha256_blocks_ni(h, p, n);
		return;
	}
#endif
	for (; n > 0; n--, p += 64)
		compress(h, p);
}

void
maas_sha256_init(MaasSha256 *ctx)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};

	memcpy(ctx->h, iv, sizeof(iv));
	ctx->bytes = 0;
	ctx->fill = 0;
}

void
maas_sha256_update(MaasSha256 *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;

	ctx->bytes += len;
	if (ctx->fill > 0)
	{
		size_t		take = 64 - ctx->fill;

		if (take > len)
			take = len;
		memcpy(ctx->block + ctx->fill, p, take);
		ctx->fill += (uint32_t) take;
		p += take;
		len -= take;
		if (ctx->fill < 64)
			return;
		compress_blocks(ctx->h, ctx->block, 1);
		ctx->fill = 0;
	}
	if (len >= 64)
	{
		compress_blocks(ctx->h, p, len / 64);
		p += len & ~(size_t) 63;
		len &= 63;
	}
	if (len > 0)
	{
		memcpy(ctx->block, p, len);
		ctx->fill = (uint32_t) len;
	}
}

void
maas_sha256_final(MaasSha256 *ctx, uint8_t digest[MAAS_SHA256_LEN])
{
	uint64_t	bits = ctx->bytes * 8;

	/* a 1 bit, zeros up to 56 mod 64, then the length in bits, big-endian */
	ctx->block[ctx->fill++] = 0x80;
	if (ctx->fill > 56)
	{
		memset(ctx->block + ctx->fill, 0, 64 - ctx->fill);
		compress_blocks(ctx->h, ctx->block, 1);
		ctx->fill = 0;
	}
	memset(ctx->block + ctx->fill, 0, 56 - ctx->fill);
	for (int i = 0; i < 8; i++)
		ctx->block[56 + i] = (uint8_t) (bits >> (56 - 8 * i));
	compress_blocks(ctx->h, ctx->block, 1);
	for (int i = 0; i < 8; i++)
	{
		digest[4 * i] = (uint8_t) (ctx->h[i] >> 24);
		digest[4 * i + 1] = (uint8_t) (ctx->h[i] >> 16);
		digest[4 * i + 2] = (uint8_t) (ctx->h[i] >> 8);
		digest[4 * i + 3] = (uint8_t) ctx->h[i];
	}
	memset(ctx, 0, sizeof(*ctx));
}

void
maas_sha256(const void *data, size_t len, uint8_t digest[MAAS_SHA256_LEN])
{
	MaasSha256	ctx;

	maas_sha256_init(&ctx);
	maas_sha256_update(&ctx, data, len);
	maas_sha256_final(&ctx, digest);
}

void
maas_sha256_hex(const uint8_t digest[MAAS_SHA256_LEN], char out[65])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < MAAS_SHA256_LEN; i++)
	{
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[64] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
maas_sha256_parse(const char *text, uint8_t digest[MAAS_SHA256_LEN])
{
	if (strncmp(text, "sha256:", 7) == 0 || strncmp(text, "SHA256:", 7) == 0)
		text += 7;
	for (int i = 0; i < MAAS_SHA256_LEN; i++)
	{
		int			hi = hex_value(text[2 * i]);
		int			lo = hi < 0 ? -1 : hex_value(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		digest[i] = (uint8_t) (hi << 4 | lo);
	}
	return text[64] == '\0';
}
