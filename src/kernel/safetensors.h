/*
 * safetensors.h
 *		Reader and writer of the safetensors format, without PostgreSQL.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (an object: tensor name -> {"dtype", "shape", "data_offsets": [begin, end]},
 * plus an optional "__metadata__" object of string -> string), then the
 * tensor bytes.  Offsets are relative to the first byte after the header.
 *
 * st_parse() trusts nothing in the buffer: every length, offset and shape
 * is checked against the buffer, with overflow-checked arithmetic, before
 * anything is read through it.  Errors follow kernel.h: false (or NULL)
 * with err filled in -- MAAS_ERR_INVALID for anything wrong with the bytes,
 * MAAS_ERR_LIMIT for what would be too large to write, MAAS_ERR_NOMEM.
 */
#ifndef MAAS_SAFETENSORS_H
#define MAAS_SAFETENSORS_H

#include "kernel.h"

#define ST_MAX_DIMS			8
#define ST_MAX_HEADER		(100 * 1024 * 1024)	/* as the reference reader */

typedef enum StDtype
{
	ST_BOOL,
	ST_U8,
	ST_I8,
	ST_I16,
	ST_U16,
	ST_F16,
	ST_BF16,
	ST_I32,
	ST_U32,
	ST_F32,
	ST_F64,
	ST_I64,
	ST_U64
} StDtype;

typedef struct StTensor
{
	char	   *name;			/* NUL-terminated, unescaped */
	StDtype		dtype;
	int			ndim;			/* 0 .. ST_MAX_DIMS; 0 is a scalar */
	int64_t		shape[ST_MAX_DIMS];
	int64_t		numel;			/* product of shape (1 for a scalar) */
	size_t		offset;			/* of the data, from the start of the buffer */
	size_t		nbytes;
	const uint8_t *data;		/* points into the parsed buffer */
} StTensor;

typedef struct StFile
{
	int			n_tensors;
	StTensor   *tensors;		/* in order of data_offsets */
	int			n_meta;
	char	  **meta_keys;
	char	  **meta_values;
	size_t		header_len;		/* N */
} StFile;

/* parse buf[0..len); tensors point into buf, which must outlive out */
extern bool st_parse(const uint8_t *buf, size_t len, StFile *out,
					 MaasError *err);

/*
 * A file too large to hold in memory, read in parts: st_header_size()
 * checks the 8-byte header length at the start of a file of len bytes
 * (buf holds its first avail >= 8 bytes) and sets *need to 8 + N, the
 * bytes before the tensors; st_parse_header_only() then parses those
 * (head holds at least the first *need bytes) with every check st_parse()
 * makes of the header and the layout, but the tensors have no data (NULL):
 * their offsets and sizes say where their bytes are in the file.
 */
extern bool st_header_size(const uint8_t *buf, size_t avail, uint64_t len,
						   size_t *need, MaasError *err);
extern bool st_parse_header_only(const uint8_t *head, size_t head_len,
								 uint64_t len, StFile *out, MaasError *err);

extern const StTensor *st_find(const StFile *file, const char *name);
extern const char *st_meta(const StFile *file, const char *key);

extern const char *st_dtype_name(StDtype dtype);
extern bool st_dtype_from_name(const char *name, size_t len, StDtype *dtype);
extern size_t st_dtype_size(StDtype dtype);

/*
 * Convert a floating tensor (F32, F64, F16, BF16) to float32 in dst, which
 * holds numel floats.  Returns false for other dtypes.  Reads the source
 * with memcpy, so unaligned data is fine.
 */
extern bool st_to_f32(const StTensor *t, float *dst);

/*
 * Writing.  A tensor to write names its bytes in data (little-endian,
 * nbytes = numel * dtype size).  Tensors are laid out in the order given,
 * the header padded with spaces to a multiple of 8 bytes as the reference
 * writer does.  st_write() returns a maas_kalloc'd buffer and its length,
 * or NULL with err set.
 */
typedef struct StWriteTensor
{
	const char *name;
	StDtype		dtype;
	int			ndim;
	const int64_t *shape;
	const void *data;
} StWriteTensor;

extern uint8_t *st_write(const StWriteTensor *tensors, int n_tensors,
						 const char *const *meta_keys,
						 const char *const *meta_values, int n_meta,
						 size_t *len, MaasError *err);

/*
 * st_write() that hands every block of bytes it copies, just after copying
 * it (while it is in the cache), to check(arg, tensor index, copy, n): a
 * check of the values costs no second pass over the tensors.  Blocks of
 * one tensor come in order and hold whole elements.  A check that returns
 * false has set err: st_write_checked() then returns NULL.
 */
typedef bool (*StCopyCheck) (void *arg, int tensor, const uint8_t *copy, size_t n);

extern uint8_t *st_write_checked(const StWriteTensor *tensors, int n_tensors,
								 StCopyCheck check, void *arg,
								 size_t *len, MaasError *err);

/*
 * Only the first 8 + N bytes st_write() would write for the same tensors
 * and metadata (whose data may then be NULL); *data_len is the size of the
 * tensors' bytes that follow them.  A parsed file's tensors (which tile its
 * data region in order) after a new header make the file st_write() would
 * write, so a file's header can be rewritten without holding its data.
 */
extern uint8_t *st_write_header(const StWriteTensor *tensors, int n_tensors,
								const char *const *meta_keys,
								const char *const *meta_values, int n_meta,
								size_t *len, uint64_t *data_len, MaasError *err);

/*
 * The tensors of a parsed file as tensors to write, in the file's order and
 * pointing into its buffer; with to_f32, the floating ones that are not F32
 * (F64, F16, BF16) converted to F32 in new memory.  NULL when out of memory.
 */
extern StWriteTensor *st_tensors_for_write(const StFile *file, bool to_f32,
										   MaasError *err);

#endif							/* MAAS_SAFETENSORS_H */
