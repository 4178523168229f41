/*
 * test_sha256.c
 *		Unit tests of the kernel SHA-256 (src/kernel/sha256.c): the FIPS 180-4
 *		example messages, the padding boundaries, incremental updates split
 *		at every point, the SHA extensions against the plain C, and the hex
 *		reader and writer.
 */
#include <stdlib.h>

#include "cpu.h"
#include "sha256.h"
#include "unit.h"

static bool
digest_is(const uint8_t d[MAAS_SHA256_LEN], const char *hex)
{
	char		got[65];

	maas_sha256_hex(d, got);
	if (strcmp(got, hex) != 0)
	{
		fprintf(stderr, "    got %s\n    want %s\n", got, hex);
		return false;
	}
	return true;
}

static bool
message_is(const char *msg, size_t len, const char *hex)
{
	uint8_t		d[MAAS_SHA256_LEN];

	maas_sha256(msg, len, d);
	return digest_is(d, hex);
}

/* the one-block, two-block and long examples of FIPS 180-4 / its NIST annex */
static void
test_fips_vectors(void)
{
	MaasSha256	ctx;
	uint8_t		d[MAAS_SHA256_LEN];
	char		chunk[1000];

	CHECK(message_is("", 0,
					 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	CHECK(message_is("abc", 3,
					 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(message_is("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
					 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
	CHECK(message_is("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
					 "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
					 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));

	/* one million 'a', fed a thousand at a time */
	memset(chunk, 'a', sizeof(chunk));
	maas_sha256_init(&ctx);
	for (int i = 0; i < 1000; i++)
		maas_sha256_update(&ctx, chunk, sizeof(chunk));
	maas_sha256_final(&ctx, d);
	CHECK(digest_is(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

/*
 * Lengths around the padding boundary (55 fits the length in the last
 * block, 56..63 need another).  Digests from Python's hashlib.
 */
static void
test_padding_boundaries(void)
{
	static const struct
	{
		int			n;
		const char *hex;
	}			cases[] = {
		{55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
		{56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
		{63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
		{64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
		{65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
		{119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
		{120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
	};
	char		msg[128];

	for (int i = 0; i < 128; i++)
		msg[i] = (char) ((i * 7 + 3) & 255);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		CHECK(message_is(msg, (size_t) cases[c].n, cases[c].hex));
}

/* any split of a message into two or three updates gives the same digest */
static void
test_incremental(void)
{
	uint8_t		msg[300];
	uint8_t		whole[MAAS_SHA256_LEN];
	int			mismatches = 0;

	for (int i = 0; i < 300; i++)
		msg[i] = (uint8_t) (i * 131 + 17);
	maas_sha256(msg, sizeof(msg), whole);
	for (size_t a = 0; a <= sizeof(msg); a++)
	{
		for (size_t b = a; b <= sizeof(msg); b += 13)
		{
			MaasSha256	ctx;
			uint8_t		d[MAAS_SHA256_LEN];

			maas_sha256_init(&ctx);
			maas_sha256_update(&ctx, msg, a);
			maas_sha256_update(&ctx, msg + a, b - a);
			maas_sha256_update(&ctx, msg + b, sizeof(msg) - b);
			maas_sha256_final(&ctx, d);
			if (memcmp(d, whole, sizeof(d)) != 0)
				mismatches++;
		}
	}
	CHECK(mismatches == 0);
	/* and byte by byte */
	{
		MaasSha256	ctx;
		uint8_t		d[MAAS_SHA256_LEN];

		maas_sha256_init(&ctx);
		for (size_t i = 0; i < sizeof(msg); i++)
			maas_sha256_update(&ctx, msg + i, 1);
		maas_sha256_final(&ctx, d);
		CHECK(memcmp(d, whole, sizeof(d)) == 0);
	}
}

static void
test_parse_hex(void)
{
	const char *abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	uint8_t		want[MAAS_SHA256_LEN];
	uint8_t		d[MAAS_SHA256_LEN];
	char		text[80];

	maas_sha256("abc", 3, want);
	CHECK(maas_sha256_parse(abc, d) && memcmp(d, want, sizeof(d)) == 0);
	snprintf(text, sizeof(text), "sha256:%s", abc);
	CHECK(maas_sha256_parse(text, d) && memcmp(d, want, sizeof(d)) == 0);
	CHECK(maas_sha256_parse("SHA256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", d) &&
		  memcmp(d, want, sizeof(d)) == 0);
	/* short, long, bad digit, other prefixes */
	CHECK(!maas_sha256_parse("ba7816bf", d));
	CHECK(!maas_sha256_parse("", d));
	snprintf(text, sizeof(text), "%s0", abc);
	CHECK(!maas_sha256_parse(text, d));
	snprintf(text, sizeof(text), "%.63sg", abc);
	CHECK(!maas_sha256_parse(text, d));
	snprintf(text, sizeof(text), "md5:%s", abc);
	CHECK(!maas_sha256_parse(text, d));
	snprintf(text, sizeof(text), " %s", abc);
	CHECK(!maas_sha256_parse(text, d));
}

/*
 * Where the CPU has the SHA extensions, they and the plain C agree on
 * every length up to 4 KB and more (at odd offsets, in odd pieces); the
 * FIPS vectors above ran with the extensions, these run both.
 */
static void
test_extensions_match_plain(void)
{
	size_t		size = 70000;
	uint8_t    *buf = malloc(size + 8);
	bool		have;
	int			bad = 0;

	for (size_t i = 0; i < size + 8; i++)
		buf[i] = (uint8_t) ((i * 2654435761u) >> 13);
	have = maas_sha256_use_extensions(true);
	printf("    SHA extensions: %s\n", have ? "yes" : "no (both runs are the plain C)");
	for (size_t len = 0; len <= size; len += len < 4200 ? 1 : 997)
	{
		uint8_t		a[MAAS_SHA256_LEN];
		uint8_t		b[MAAS_SHA256_LEN];
		MaasSha256	ctx;
		const uint8_t *p = buf + len % 7;

		maas_sha256_use_extensions(true);
		maas_sha256_init(&ctx);
		for (size_t off = 0; off < len;)
		{
			size_t		k = 1 + (off * 37 + len) % 300;

			if (k > len - off)
				k = len - off;
			maas_sha256_update(&ctx, p + off, k);
			off += k;
		}
		maas_sha256_final(&ctx, a);
		maas_sha256_use_extensions(false);
		maas_sha256(p, len, b);
		if (memcmp(a, b, MAAS_SHA256_LEN) != 0)
			bad++;
	}
	maas_sha256_use_extensions(true);
	CHECK(bad == 0);
	free(buf);

	/* maas.cpu_features_disable = 'sha' turns the extensions off */
	maas_cpu_set_disabled(MAAS_CPU_BIT(MAAS_CPU_SHA));
	CHECK(!maas_sha256_use_extensions(true));
	maas_cpu_set_disabled(0);
	CHECK(maas_sha256_use_extensions(true) == have);
}

int
main(void)
{
	UNIT_RUN(test_fips_vectors);
	UNIT_RUN(test_padding_boundaries);
	UNIT_RUN(test_incremental);
	UNIT_RUN(test_extensions_match_plain);
	UNIT_RUN(test_parse_hex);
	return unit_finish("sha256");
}
