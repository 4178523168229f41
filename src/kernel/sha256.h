/*
 * sha256.h
 *		SHA-256 (FIPS 180-4), incremental, for checking weights while they
 *		stream in and for naming them by content.
 *
 * Plain C, no tables beyond the 64 round constants, no allocation.  Feed
 * any number of maas_sha256_update() calls of any length, then
 * maas_sha256_final() once.
 */
#ifndef MAAS_SHA256_H
#define MAAS_SHA256_H

#include "kernel.h"

#define MAAS_SHA256_LEN 32

typedef struct MaasSha256
{
	uint32_t	h[8];
	uint64_t	bytes;			/* message length so far */
	uint8_t		block[64];		/* the partial block */
	uint32_t	fill;			/* bytes in block */
} MaasSha256;

extern void maas_sha256_init(MaasSha256 *ctx);
extern void maas_sha256_update(MaasSha256 *ctx, const void *data, size_t len);
extern void maas_sha256_final(MaasSha256 *ctx, uint8_t digest[MAAS_SHA256_LEN]);

/*
 * Whole blocks go through the CPU's SHA extensions when it has them
 * (x86-64 SHA-NI, chosen at run time); false here makes this process use
 * the plain C (the unit tests compare the two).  Returns whether the
 * extensions are there.
 */
extern bool maas_sha256_use_extensions(bool use);

/* one call: digest of data[0 .. len) */
extern void maas_sha256(const void *data, size_t len, uint8_t digest[MAAS_SHA256_LEN]);

/* 64 lower-case hex digits and a NUL into out[65] */
extern void maas_sha256_hex(const uint8_t digest[MAAS_SHA256_LEN], char out[65]);

/*
 * Read a digest written as 64 hex digits, optionally after "sha256:"
 * (either case).  Returns false when text is anything else.
 */
extern bool maas_sha256_parse(const char *text, uint8_t digest[MAAS_SHA256_LEN]);

#endif							/* MAAS_SHA256_H */
