/*
 * fuzz_pglz.c
 *		libFuzzer target for maas's pglz decoder (src/kernel/pglz.c), against
 *		PostgreSQL's own (libpgcommon.a).
 *
 * An input is two bytes of expected size (little-endian, below 8 KB) and a
 * stream.  The decoder must not read or write outside the stream and the
 * output (AddressSanitizer sees both: each is a block of its exact size),
 * and a stream it takes PostgreSQL must take too, with the same bytes.  A
 * broken promise traps.
 */
#include <stdlib.h>
#include <string.h>

#include "pg_pglz.h"
#include "pglz.h"
#include "unit.h"

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		rawlen;
	size_t		n;
	uint8_t    *src;
	uint8_t    *out;
	uint8_t    *pg;

	if (size < 2)
		return 0;
	rawlen = (data[0] | (size_t) data[1] << 8) & 0x1fff;
	n = size - 2;
	src = malloc(n ? n : 1);
	out = malloc(rawlen ? rawlen : 1);
	pg = malloc(rawlen + 1);
	memcpy(src, data + 2, n);
	if (maas_pglz_decode(src, n, out, rawlen))
	{
		REQUIRE(pglz_decompress((const char *) src, (int32_t) n, (char *) pg,
								(int32_t) rawlen, true) == (int32_t) rawlen);
		REQUIRE(memcmp(out, pg, rawlen) == 0);
	}
	free(src);
	free(out);
	free(pg);
	return 0;
}
