/*
 * pg_pglz.h
 *		PostgreSQL's own pglz compressor and decompressor, from the server's
 *		libpgcommon.a (src/common/pg_lzcompress.c), for the tests and the
 *		fuzzer of maas's decoder (src/kernel/pglz.c) to compare against.
 *
 * Declared here as PostgreSQL 15 defines them, so that no server header is
 * needed; the strategies are opaque.
 */
#ifndef MAAS_PG_PGLZ_H
#define MAAS_PG_PGLZ_H

#include <stdbool.h>
#include <stdint.h>

typedef struct PGLZ_Strategy PGLZ_Strategy;

/* compress anything that shrinks at all (default: only what shrinks 25%) */
extern const PGLZ_Strategy *const PGLZ_strategy_always;
extern const PGLZ_Strategy *const PGLZ_strategy_default;

/* the compressed size at dest (slen + 4 bytes at most), or -1 */
extern int32_t pglz_compress(const char *source, int32_t slen, char *dest,
							 const PGLZ_Strategy *strategy);

/* the bytes written to dest, or -1 when source is corrupt */
extern int32_t pglz_decompress(const char *source, int32_t slen, char *dest,
							   int32_t rawsize, bool check_complete);

#endif							/* MAAS_PG_PGLZ_H */
