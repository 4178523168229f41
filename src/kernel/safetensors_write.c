/*
 * safetensors_write.c
 *		The writer of safetensors files (st_write, safetensors.h): the
 *		header is measured, then written with the tensors laid out in the
 *		order given, padded with spaces to a multiple of 8 bytes as the
 *		reference writer does, so that the reader accepts what it writes
 *		and writing a parsed file again gives the same bytes.
 */
#include "safetensors_int.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static bool
utf8_valid(const char *s)
{
	return maas_utf8_valid((const uint8_t *) s, strlen(s));
}

/* ----------------------------------------------------------------
 *		the writer
 * ----------------------------------------------------------------
 */

/* output that only counts when p is NULL */
typedef struct StOut
{
	uint8_t    *p;
	size_t		len;
	bool		overflow;
} StOut;

static void
out_bytes(StOut *o, const void *bytes, size_t n)
{
	if (o->overflow)
		return;
	if (o->p != NULL && n > 0)
		memcpy(o->p + o->len, bytes, n);
	if (!maas_add_size(o->len, n, &o->len))
		o->overflow = true;
}

static void
out_str(StOut *o, const char *s)
{
	out_bytes(o, s, strlen(s));
}

static void
out_int(StOut *o, uint64_t v)
{
	char		buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	out_str(o, buf);
}

/* a JSON string: quote, backslash and control characters escaped */
static void
out_quoted(StOut *o, const char *s)
{
	const uint8_t *p = (const uint8_t *) s;

	out_bytes(o, "\"", 1);
	while (*p)
	{
		size_t		run = 0;

		while (p[run] >= 0x20 && p[run] != '"' && p[run] != '\\')
			run++;
		out_bytes(o, p, run);
		p += run;
		if (*p == '"')
			out_bytes(o, "\\\"", 2);
		else if (*p == '\\')
			out_bytes(o, "\\\\", 2);
		else if (*p != '\0')
		{
			char		esc[8];

			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned) *p);
			out_bytes(o, esc, 6);
		}
		else
			break;
		p++;
	}
	out_bytes(o, "\"", 1);
}

static void
st_write_json(StOut *o, const StWriteTensor *tensors, int n_tensors,
			  const char *const *meta_keys, const char *const *meta_values,
			  int n_meta, const uint64_t *nbytes)
{
	uint64_t	begin = 0;
	int			i;
	int			d;

	out_str(o, "{");
	if (n_meta > 0)
	{
		out_str(o, "\"" ST_METADATA_KEY "\":{");
		for (i = 0; i < n_meta; i++)
		{
			if (i > 0)
				out_str(o, ",");
			out_quoted(o, meta_keys[i]);
			out_str(o, ":");
			out_quoted(o, meta_values[i]);
		}
		out_str(o, "}");
	}
	for (i = 0; i < n_tensors; i++)
	{
		const StWriteTensor *t = &tensors[i];

		if (i > 0 || n_meta > 0)
			out_str(o, ",");
		out_quoted(o, t->name);
		out_str(o, ":{\"dtype\":\"");
		out_str(o, st_dtype_name(t->dtype));
		out_str(o, "\",\"shape\":[");
		for (d = 0; d < t->ndim; d++)
		{
			if (d > 0)
				out_str(o, ",");
			out_int(o, (uint64_t) t->shape[d]);
		}
		out_str(o, "],\"data_offsets\":[");
		out_int(o, begin);
		out_str(o, ",");
		begin += nbytes[i];		/* the total was checked by the caller */
		out_int(o, begin);
		out_str(o, "]}");
	}
	out_str(o, "}");
}

/*
 * Check what st_write() was given; sets nbytes[i] for each tensor and the
 * total in *data_len.
 */
static bool
st_write_check(const StWriteTensor *tensors, int n_tensors,
			   const char *const *meta_keys,
			   const char *const *meta_values, int n_meta,
			   bool need_data, uint64_t *nbytes, uint64_t *data_len,
			   MaasError *err)
{
	const char **names = NULL;
	const char *dup;
	bool		oom;
	int			i;

	*data_len = 0;
	for (i = 0; i < n_meta; i++)
	{
		if (meta_keys[i] == NULL || meta_values[i] == NULL)
			return st_error(err, "metadata entry %d is null", i);
		if (!utf8_valid(meta_keys[i]) || !utf8_valid(meta_values[i]))
			return st_error(err, "metadata entry %d is not valid UTF-8", i);
	}
	dup = st_find_duplicate(meta_keys, n_meta, &oom);
	if (oom)
		return maas_error_nomem(err);
	if (dup != NULL)
		return st_error(err, "duplicate metadata key \"%s\"", dup);

	if (n_tensors > 0)
	{
		names = maas_kalloc((size_t) n_tensors * sizeof(char *));
		if (names == NULL)
			return maas_error_nomem(err);
	}
	for (i = 0; i < n_tensors; i++)
	{
		const StWriteTensor *t = &tensors[i];
		int64_t		numel;
		int			d;

		if (t->name == NULL)
			return st_error(err, "tensor %d has no name", i);
		if (!utf8_valid(t->name))
			return st_error(err, "name of tensor %d is not valid UTF-8", i);
		if (strcmp(t->name, ST_METADATA_KEY) == 0)
			return st_error(err, "tensor name \"" ST_METADATA_KEY "\" is reserved");
		if (st_dtype_size(t->dtype) == 0)
			return st_error(err, "tensor \"%s\" has invalid dtype %d",
							t->name, (int) t->dtype);
		if (t->ndim < 0 || t->ndim > ST_MAX_DIMS)
			return st_error(err,
							"tensor \"%s\" has %d dimensions, but must have between 0 and %d",
							t->name, t->ndim, ST_MAX_DIMS);
		if (t->ndim > 0 && t->shape == NULL)
			return st_error(err, "tensor \"%s\" has no shape", t->name);
		for (d = 0; d < t->ndim; d++)
		{
			if (t->shape[d] < 0)
				return st_error(err,
								"tensor \"%s\" has negative dimension %" PRId64,
								t->name, t->shape[d]);
		}
		if (!st_shape_numel(t->shape, t->ndim, &numel) ||
			__builtin_mul_overflow((uint64_t) numel,
								   (uint64_t) st_dtype_size(t->dtype),
								   &nbytes[i]) ||
			__builtin_add_overflow(*data_len, nbytes[i], data_len) ||
			*data_len > (uint64_t) INT64_MAX)
			return maas_error(err, MAAS_ERR_LIMIT, "tensor \"%s\" is too large", t->name);
		if (need_data && nbytes[i] > 0 && t->data == NULL)
			return st_error(err, "tensor \"%s\" has no data", t->name);
		names[i] = t->name;
	}
	dup = st_find_duplicate(names, n_tensors, &oom);
	if (oom)
		return maas_error_nomem(err);
	if (dup != NULL)
		return st_error(err, "duplicate tensor name \"%s\"", dup);
	return true;
}

/*
 * Ask for transparent huge pages over the 2 MB pages that lie wholly
 * inside a large fresh buffer (Linux, THP in "madvise" mode as Debian sets
 * it): writing the tensors into it then takes one page fault every 2 MB
 * instead of every 4 KB, which is most of an import's cost past the read
 * (doc/onnx.md).  Only advice: nothing changes if the kernel says no.
 */
static void
want_huge_pages(uint8_t *buf, size_t len)
{
#if defined(MADV_HUGEPAGE) && !defined(MAAS_ST_NO_HUGE_PAGES)
	const uintptr_t huge = (uintptr_t) 2 << 20;
	uintptr_t	lo = ((uintptr_t) buf + huge - 1) & ~(huge - 1);
	uintptr_t	hi = ((uintptr_t) buf + len) & ~(huge - 1);

	if (len >= 4 * huge && hi > lo)
		(void) madvise((void *) lo, hi - lo, MADV_HUGEPAGE);
#else
	(void) buf;
	(void) len;
#endif
}

/*
 * The file, or with header_only its first 8 + N bytes (the length and the
 * padded header); *data_len is the size of the tensors' bytes either way.
 */
/* what a check is handed at a time: small enough to be in L2 still */
#define ST_CHECK_BLOCK ((size_t) 64 << 10)

/* tensor i's bytes copied to dst, block by block through check if any */
static bool
copy_checked(uint8_t *dst, const uint8_t *src, size_t n, int i,
			 StCopyCheck check, void *arg)
{
	if (check == NULL)
	{
		memcpy(dst, src, n);
		return true;
	}
	for (size_t off = 0; off < n; off += ST_CHECK_BLOCK)
	{
		size_t		part = n - off < ST_CHECK_BLOCK ? n - off : ST_CHECK_BLOCK;

		memcpy(dst + off, src + off, part);
		if (!check(arg, i, dst + off, part))
			return false;
	}
	return true;
}

static uint8_t *
st_write_some(const StWriteTensor *tensors, int n_tensors,
			  const char *const *meta_keys,
			  const char *const *meta_values, int n_meta, bool header_only,
			  StCopyCheck check, void *arg,
			  size_t *len, uint64_t *data_len, MaasError *err)
{
	uint64_t   *nbytes = NULL;
	StOut		o;
	size_t		json_len;
	size_t		header_len;
	size_t		total;
	uint8_t    *buf;
	size_t		pos;
	int			i;

	*len = 0;
	*data_len = 0;
	if (err != NULL)
	{
		err->status = MAAS_OK;
		err->msg[0] = '\0';
		err->hint = NULL;
	}
	if (n_tensors < 0 || n_meta < 0)
	{
		st_error(err, "negative count of tensors or metadata entries");
		return NULL;
	}
	if ((n_tensors > 0 && tensors == NULL) ||
		(n_meta > 0 && (meta_keys == NULL || meta_values == NULL)))
	{
		st_error(err, "missing array of tensors or metadata");
		return NULL;
	}
	if (n_tensors > 0)
	{
		nbytes = maas_kalloc((size_t) n_tensors * sizeof(uint64_t));
		if (nbytes == NULL)
		{
			maas_error_nomem(err);
			return NULL;
		}
	}
	if (!st_write_check(tensors, n_tensors, meta_keys, meta_values, n_meta,
						!header_only, nbytes, data_len, err))
		return NULL;

	/* measure the header, then write everything */
	memset(&o, 0, sizeof(o));
	st_write_json(&o, tensors, n_tensors, meta_keys, meta_values, n_meta,
				  nbytes);
	json_len = o.len;
	header_len = (json_len + 7) & ~(size_t) 7;
	if (o.overflow || json_len > ST_MAX_HEADER || header_len > ST_MAX_HEADER)
	{
		maas_error(err, MAAS_ERR_LIMIT, "header would exceed the maximum of %d bytes",
				   ST_MAX_HEADER);
		return NULL;
	}
	if (*data_len > (uint64_t) SIZE_MAX ||
		!maas_add_size(8 + header_len, (size_t) *data_len, &total))
	{
		maas_error(err, MAAS_ERR_LIMIT, "file would be too large");
		return NULL;
	}
	if (header_only)
		total = 8 + header_len;
	buf = maas_kalloc(total);
	if (buf == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	want_huge_pages(buf, total);

	for (i = 0; i < 8; i++)
		buf[i] = (uint8_t) ((uint64_t) header_len >> (8 * i));
	o.p = buf + 8;
	o.len = 0;
	st_write_json(&o, tensors, n_tensors, meta_keys, meta_values, n_meta,
				  nbytes);
	memset(buf + 8 + json_len, ' ', header_len - json_len);
	pos = 8 + header_len;
	for (i = 0; !header_only && i < n_tensors; i++)
	{
		if (nbytes[i] > 0 &&
			!copy_checked(buf + pos, tensors[i].data, (size_t) nbytes[i], i,
						  check, arg))
			return NULL;
		pos += (size_t) nbytes[i];
	}
	*len = total;
	return buf;
}

uint8_t *
st_write(const StWriteTensor *tensors, int n_tensors,
		 const char *const *meta_keys,
		 const char *const *meta_values, int n_meta,
		 size_t *len, MaasError *err)
{
	uint64_t	data_len;

	return st_write_some(tensors, n_tensors, meta_keys, meta_values, n_meta,
						 false, NULL, NULL, len, &data_len, err);
}

uint8_t *
st_write_checked(const StWriteTensor *tensors, int n_tensors,
				 StCopyCheck check, void *arg, size_t *len, MaasError *err)
{
	uint64_t	data_len;

	return st_write_some(tensors, n_tensors, NULL, NULL, 0, false, check, arg,
						 len, &data_len, err);
}

uint8_t *
st_write_header(const StWriteTensor *tensors, int n_tensors,
				const char *const *meta_keys,
				const char *const *meta_values, int n_meta,
				size_t *len, uint64_t *data_len, MaasError *err)
{
	return st_write_some(tensors, n_tensors, meta_keys, meta_values, n_meta,
						 true, NULL, NULL, len, data_len, err);
}

StWriteTensor *
st_tensors_for_write(const StFile *file, bool to_f32, MaasError *err)
{
	StWriteTensor *w = maas_kalloc_array((size_t) (file->n_tensors > 0 ? file->n_tensors : 1),
										 sizeof(StWriteTensor));

	if (w == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	for (int i = 0; i < file->n_tensors; i++)
	{
		const StTensor *t = &file->tensors[i];

		w[i].name = t->name;
		w[i].dtype = t->dtype;
		w[i].ndim = t->ndim;
		w[i].shape = t->shape;
		w[i].data = t->data;
		if (to_f32 && (t->dtype == ST_F64 || t->dtype == ST_F16 || t->dtype == ST_BF16))
		{
			float	   *f = maas_kalloc_array((size_t) (t->numel > 0 ? t->numel : 1),
											  sizeof(float));

			if (f == NULL)
			{
				maas_error_nomem(err);
				return NULL;
			}
			st_to_f32(t, f);
			w[i].dtype = ST_F32;
			w[i].data = f;
		}
	}
	return w;
}
