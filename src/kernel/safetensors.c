/*
 * safetensors.c
 *		The safetensors format, without PostgreSQL: its dtypes, finding
 *		tensors and metadata in a parsed file, conversion of floating
 *		tensors to float32, and the helpers the reader (safetensors_read.c)
 *		and the writer (safetensors_write.c) share.
 *
 * No PostgreSQL header is included; memory comes from maas_kalloc() and is
 * never freed here (see kernel.h).
 */
#include "safetensors_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

static const struct
{
	const char *name;
	size_t		size;
}			st_dtype_info[] =
{
	[ST_BOOL] = {"BOOL", 1},
	[ST_U8] = {"U8", 1},
	[ST_I8] = {"I8", 1},
	[ST_I16] = {"I16", 2},
	[ST_U16] = {"U16", 2},
	[ST_F16] = {"F16", 2},
	[ST_BF16] = {"BF16", 2},
	[ST_I32] = {"I32", 4},
	[ST_U32] = {"U32", 4},
	[ST_F32] = {"F32", 4},
	[ST_F64] = {"F64", 8},
	[ST_I64] = {"I64", 8},
	[ST_U64] = {"U64", 8},
};

#define ST_N_DTYPES ((int) (sizeof(st_dtype_info) / sizeof(st_dtype_info[0])))


/* ----------------------------------------------------------------
 *		helpers of the reader and the writer
 * ----------------------------------------------------------------
 */

/* a message about the file (MAAS_ERR_INVALID), and false */
bool
st_error(MaasError *err, const char *fmt,...)
{
	va_list		ap;
	char		msg[MAAS_ERRLEN];

	if (err == NULL)
		return false;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return maas_error(err, MAAS_ERR_INVALID, "%s", msg);
}

static int
st_cmp_strptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * Return the first of a set of strings that occurs twice, or NULL.  Sorts a
 * copy of the pointers, so it is O(n log n) even for huge headers.  *oom is
 * set when the copy cannot be made.
 */
const char *
st_find_duplicate(const char *const *strings, int n, bool *oom)
{
	const char **sorted;
	int			i;

	*oom = false;
	if (n < 2)
		return NULL;
	sorted = maas_kalloc((size_t) n * sizeof(char *));
	if (sorted == NULL)
	{
		*oom = true;
		return NULL;
	}
	memcpy(sorted, strings, (size_t) n * sizeof(char *));
	qsort(sorted, (size_t) n, sizeof(char *), st_cmp_strptr);
	for (i = 1; i < n; i++)
	{
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			return sorted[i];
	}
	return NULL;
}

/*
 * numel of a shape, or false when the product of its non-zero dimensions
 * does not fit in int64 (checked even when a zero dimension makes the
 * tensor empty, so callers can multiply any subset of the dimensions).
 */
bool
st_shape_numel(const int64_t *shape, int ndim, int64_t *numel)
{
	int64_t		product = 1;
	bool		empty = false;
	int			i;

	for (i = 0; i < ndim; i++)
	{
		if (shape[i] == 0)
			empty = true;
		else if (__builtin_mul_overflow(product, shape[i], &product))
			return false;
	}
	*numel = empty ? 0 : product;
	return true;
}


/* ----------------------------------------------------------------
 *		dtypes
 * ----------------------------------------------------------------
 */

const char *
st_dtype_name(StDtype dtype)
{
	if ((int) dtype < 0 || (int) dtype >= ST_N_DTYPES)
		return "unknown";
	return st_dtype_info[dtype].name;
}

bool
st_dtype_from_name(const char *name, size_t len, StDtype *dtype)
{
	int			i;

	for (i = 0; i < ST_N_DTYPES; i++)
	{
		if (strlen(st_dtype_info[i].name) == len &&
			memcmp(st_dtype_info[i].name, name, len) == 0)
		{
			*dtype = (StDtype) i;
			return true;
		}
	}
	return false;
}

size_t
st_dtype_size(StDtype dtype)
{
	if ((int) dtype < 0 || (int) dtype >= ST_N_DTYPES)
		return 0;
	return st_dtype_info[dtype].size;
}


/* ----------------------------------------------------------------
 *		lookups in a parsed file
 * ----------------------------------------------------------------
 */

const StTensor *
st_find(const StFile *file, const char *name)
{
	int			i;

	if (file == NULL || name == NULL)
		return NULL;
	for (i = 0; i < file->n_tensors; i++)
	{
		if (strcmp(file->tensors[i].name, name) == 0)
			return &file->tensors[i];
	}
	return NULL;
}

const char *
st_meta(const StFile *file, const char *key)
{
	int			i;

	if (file == NULL || key == NULL)
		return NULL;
	for (i = 0; i < file->n_meta; i++)
	{
		if (strcmp(file->meta_keys[i], key) == 0)
			return file->meta_values[i];
	}
	return NULL;
}


/* ----------------------------------------------------------------
 *		conversion to float32
 * ----------------------------------------------------------------
 */

static float
st_half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exp = (h >> 10) & 0x1F;
	uint32_t	mant = h & 0x3FF;
	uint32_t	bits;
	float		f;

	if (exp == 0)
	{
		/* zero or subnormal: mant * 2^-24, exact in float */
		f = (float) mant * 5.9604644775390625e-08f;
		return sign ? -f : f;
	}
	if (exp == 0x1F)
		bits = sign | 0x7F800000 | (mant << 13);	/* inf, or nan with its payload */
	else
		bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

bool
st_to_f32(const StTensor *t, float *dst)
{
	const uint8_t *src = t->data;
	int64_t		n = t->numel;
	int64_t		i;

	switch (t->dtype)
	{
		case ST_F32:
			if (n > 0)
				memcpy(dst, src, (size_t) n * sizeof(float));
			return true;
		case ST_F64:
			for (i = 0; i < n; i++)
			{
				double		d;

				memcpy(&d, src + i * 8, sizeof(d));
				dst[i] = (float) d;
			}
			return true;
		case ST_F16:
			for (i = 0; i < n; i++)
			{
				uint16_t	h;

				memcpy(&h, src + i * 2, sizeof(h));
				dst[i] = st_half_to_float(h);
			}
			return true;
		case ST_BF16:
			for (i = 0; i < n; i++)
			{
				uint16_t	h;
				uint32_t	bits;

				memcpy(&h, src + i * 2, sizeof(h));
				bits = (uint32_t) h << 16;
				memcpy(&dst[i], &bits, sizeof(float));
			}
			return true;
		default:
			return false;
	}
}
