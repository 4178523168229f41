/*
 * fuzz_safetensors.c
 *		libFuzzer target for the safetensors reader and writer.
 *
 * Each input is parsed; when it parses, every promise of st_parse() is
 * checked (tensors inside the buffer, tiling the data region, sizes
 * consistent), every floating tensor is converted to float32, and the
 * file is written back with st_write(), which must succeed and give a file
 * that parses to the same tensors and metadata and writes back to the same
 * bytes; reading it in parts (the header alone, then a new header before
 * its data region) agrees with reading it whole.  A broken promise traps.  Build with "make -C test/unit fuzz".
 */
#include <string.h>

#include "st_testutil.h"

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	StFile		f;

	REQUIRE(header_only_agrees(data, size));
	arena_reset();
	memset(&kerr, 'x', sizeof(kerr));
	if (!st_parse(data, size, &f, &kerr))
	{
		REQUIRE(memchr(kerr.msg, '\0', sizeof(kerr.msg)) != NULL && kerr.msg[0] != '\0');
		REQUIRE(kerr.status == MAAS_ERR_INVALID || kerr.status == MAAS_ERR_NOMEM);
		REQUIRE(f.n_tensors == 0 && f.tensors == NULL && f.n_meta == 0);
		arena_reset();
		return 0;
	}
	REQUIRE(file_consistent(data, size, &f));
	REQUIRE(convert_all(&f));
	REQUIRE(round_trips(&f));

	arena_reset();
	return 0;
}
