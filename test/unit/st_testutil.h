/*
 * st_testutil.h
 *		Helpers of the safetensors unit tests (st_testutil.c).
 */
#ifndef MAAS_ST_TESTUTIL_H
#define MAAS_ST_TESTUTIL_H

#include "safetensors.h"
#include "unit.h"

#define N_DTYPES 13

/* the error of the last call, for CHECK_ERR */
extern MaasError kerr;

extern uint8_t *mkfile_raw(uint64_t hlen, const void *json, size_t jlen, size_t dlen, size_t *len);
extern uint8_t *mkfile(const char *json, size_t dlen, size_t *len);
extern bool parse_json(const char *json, size_t dlen, StFile *f);
extern bool parse_json_n(const char *json, size_t jlen, size_t dlen, StFile *f);
extern bool contains(const uint8_t *buf, size_t n, const char *needle);
extern uint32_t f32_bits(float f);
extern bool utf8_ok(const char *s);
extern bool file_consistent(const uint8_t *buf, size_t len, const StFile *f);
extern bool convert_all(const StFile *f);
extern bool tensors_equal(const StFile *a, const StFile *b);
extern uint8_t *rewrite(const StFile *f, size_t *len);
extern bool round_trips(const StFile *f);
extern bool header_only_agrees(const uint8_t *buf, size_t len);
extern uint8_t *sample_file(size_t *len);

#endif							/* MAAS_ST_TESTUTIL_H */
