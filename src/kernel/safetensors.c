/*
 * safetensors.c
 *		Strict reader and writer of the safetensors format: the header read
 *		against its schema, the layout checks, conversion of floating
 *		tensors to float32, and a writer whose output the reader accepts.
 *
 * No PostgreSQL header is included; memory comes from maas_kalloc() and is
 * never freed here (see kernel.h).
 *
 * The reader works in two passes over the header, with the JSON lexer of
 * json.h for strings and numbers.  The first checks that it is well-formed
 * JSON (strict RFC 8259, UTF-8, no NUL, nesting at most ST_JSON_MAX_DEPTH
 * deep, nothing but whitespace after the top-level value), so any syntax
 * error is reported as such with its byte offset.  The second walks the
 * same text against the safetensors schema and builds the result, so a
 * duplicate key or a wrong value is reported with the tensor it belongs to.
 * (json.c's tree reader would do for the first pass but for its messages:
 * it takes duplicate keys for syntax errors, and says "unexpected end of
 * text" where this reader says what it expected; both are tested to the
 * byte.)  Every number taken from the buffer is range-checked before it is
 * used in arithmetic, and all such arithmetic is overflow-checked.
 */
#include "safetensors.h"
#include "json.h"
#include "utf8.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

#define ST_JSON_MAX_DEPTH	8
#define ST_METADATA_KEY		"__metadata__"

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
 *		errors and small helpers
 * ----------------------------------------------------------------
 */

static bool
utf8_valid(const char *s)
{
	return maas_utf8_valid((const uint8_t *) s, strlen(s));
}

static bool st_error(MaasError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* a message about the file (MAAS_ERR_INVALID), and false */
static bool
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

/*
 * Make room for one more element in a growing array of maas_kalloc'd
 * memory.  Returns the (possibly new) array, or NULL when out of memory.
 * The old array is simply left behind: kernels never free.
 */
static void *
st_grow(void *array, int n, int *cap, size_t elsize)
{
	int			newcap;
	size_t		bytes;
	void	   *bigger;

	if (n < *cap)
		return array;
	if (*cap > INT_MAX / 2)
		return NULL;
	newcap = *cap > 0 ? *cap * 2 : 16;
	if (!maas_mul_size((size_t) newcap, elsize, &bytes))
		return NULL;
	bigger = maas_kalloc(bytes);
	if (bigger == NULL)
		return NULL;
	if (n > 0)
		memcpy(bigger, array, (size_t) n * elsize);
	*cap = newcap;
	return bigger;
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
static const char *
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

/* "[2, 3]" for messages; truncated quietly if it does not fit */
static void
st_format_shape(char *dst, size_t cap, const int64_t *shape, int ndim)
{
	size_t		used = 0;
	int			i;

	used += (size_t) snprintf(dst, cap, "[");
	for (i = 0; i < ndim && used < cap; i++)
		used += (size_t) snprintf(dst + used, cap - used, "%s%" PRId64,
								  i > 0 ? ", " : "", shape[i]);
	if (used < cap)
		snprintf(dst + used, cap - used, "]");
}

/*
 * numel of a shape, or false when the product of its non-zero dimensions
 * does not fit in int64 (checked even when a zero dimension makes the
 * tensor empty, so callers can multiply any subset of the dimensions).
 */
static bool
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
 *		JSON scanning, over the lexer of json.h
 * ----------------------------------------------------------------
 */

typedef struct JsonCursor
{
	const uint8_t *s;			/* the header text */
	size_t		len;
	size_t		pos;
	MaasError  *err;
} JsonCursor;

static bool
js_syntax_error(JsonCursor *js, const char *what)
{
	return st_error(js->err, "invalid JSON at byte %zu of the header: %s",
					js->pos, what);
}

static inline int
js_peek(const JsonCursor *js)
{
	return js->pos < js->len ? js->s[js->pos] : -1;
}

static inline void
js_skip_ws(JsonCursor *js)
{
	maas_json_skip_ws(js->s, js->len, &js->pos);
}

static inline bool
js_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* the string at js->pos, decoded to dst (see maas_json_lex_string) */
static bool
js_string(JsonCursor *js, char *dst, size_t cap, size_t *outlen)
{
	const char *what = maas_json_lex_string(js->s, js->len, &js->pos, dst, cap,
											outlen);

	return what == NULL || js_syntax_error(js, what);
}

static bool
js_number(JsonCursor *js, MaasJsonLexNumber *num)
{
	const char *what = maas_json_lex_number(js->s, js->len, &js->pos, num);

	return what == NULL || js_syntax_error(js, what);
}

static bool
js_literal(JsonCursor *js, const char *word)
{
	const char *what = maas_json_lex_literal(js->s, js->len, &js->pos, word);

	return what == NULL || js_syntax_error(js, what);
}

static bool
js_expect(JsonCursor *js, int c, const char *what)
{
	js_skip_ws(js);
	if (js_peek(js) != c)
		return js_syntax_error(js, what);
	js->pos++;
	js_skip_ws(js);
	return true;
}

/* at an opening bracket: step in; *more is false when it closes at once */
static void
js_open(JsonCursor *js, bool *more)
{
	int			close = js->s[js->pos] == '{' ? '}' : ']';

	js->pos++;
	js_skip_ws(js);
	*more = true;
	if (js_peek(js) == close)
	{
		js->pos++;
		*more = false;
	}
}

/* after an element: a comma (*more = true) or the closer (*more = false) */
static bool
js_next(JsonCursor *js, int close, bool *more)
{
	int			c;

	js_skip_ws(js);
	c = js_peek(js);
	if (c == ',')
	{
		js->pos++;
		js_skip_ws(js);
		*more = true;
		return true;
	}
	if (c == close)
	{
		js->pos++;
		*more = false;
		return true;
	}
	return js_syntax_error(js, close == '}' ? "expected \",\" or \"}\"" :
						   "expected \",\" or \"]\"");
}

/* an object member's key, decoded into buf (cut if long), and its colon */
static bool
js_key(JsonCursor *js, char *buf, size_t cap, size_t *len)
{
	js_skip_ws(js);
	if (js_peek(js) != '"')
		return js_syntax_error(js, "expected a string as object key");
	return js_string(js, buf, cap, len) &&
		js_expect(js, ':', "expected \":\"");
}

/* a string of any length, in memory of its own */
static bool
js_alloc_string(JsonCursor *js, char **out)
{
	size_t		raw = maas_json_string_bound(js->s, js->len, js->pos);
	size_t		len;
	char	   *buf;

	buf = maas_kalloc(raw + 1);
	if (buf == NULL)
		return maas_error_nomem(js->err);
	if (!js_string(js, buf, raw + 1, &len))
		return false;
	if (len > raw)				/* cannot happen, but never hand out a cut name */
		return js_syntax_error(js, "string decoding error");
	*out = buf;
	return true;
}

/* an object member's key, in memory of its own, and its colon */
static bool
js_alloc_key(JsonCursor *js, char **key)
{
	js_skip_ws(js);
	if (js_peek(js) != '"')
		return js_syntax_error(js, "expected a string as object key");
	return js_alloc_string(js, key) &&
		js_expect(js, ':', "expected \":\"");
}

static bool js_skip_value(JsonCursor *js, int depth);

/* skip an object or array at js->pos, which is at nesting level depth */
static bool
js_skip_container(JsonCursor *js, int depth)
{
	bool		object = js->s[js->pos] == '{';
	bool		more;

	js_open(js, &more);
	while (more)
	{
		if (object)
		{
			size_t		n;

			if (!js_key(js, NULL, 0, &n))
				return false;
		}
		if (!js_skip_value(js, depth) ||
			!js_next(js, object ? '}' : ']', &more))
			return false;
	}
	return true;
}

/* check and skip any JSON value; depth is the nesting level around it */
static bool
js_skip_value(JsonCursor *js, int depth)
{
	int			c;
	size_t		n;
	MaasJsonLexNumber num;

	js_skip_ws(js);
	c = js_peek(js);
	switch (c)
	{
		case '{':
		case '[':
			if (depth >= ST_JSON_MAX_DEPTH)
				return js_syntax_error(js, "nesting too deep");
			return js_skip_container(js, depth + 1);
		case '"':
			return js_string(js, NULL, 0, &n);
		case 't':
			return js_literal(js, "true");
		case 'f':
			return js_literal(js, "false");
		case 'n':
			return js_literal(js, "null");
		case -1:
			return js_syntax_error(js, "unexpected end of header");
		default:
			if (c == '-' || js_is_digit(c))
				return js_number(js, &num);
			return js_syntax_error(js, "unexpected character");
	}
}

/* pass one: the whole header is one JSON value and trailing whitespace */
static bool
js_validate(JsonCursor *js)
{
	js->pos = 0;
	if (!js_skip_value(js, 0))
		return false;
	js_skip_ws(js);
	if (js->pos != js->len)
		return js_syntax_error(js, "unexpected data after the top-level value");
	return true;
}

/*
 * A non-negative integer at js->pos.  Returns 0 when *value is set, 1 when
 * the value is not a non-negative integer (nothing consumed if it is not a
 * number), 2 when it exceeds INT64_MAX, -1 on a syntax error (err set).
 */
static int
js_uint(JsonCursor *js, uint64_t *value)
{
	int			c = js_peek(js);
	MaasJsonLexNumber num;

	if (c != '-' && !js_is_digit(c))
		return 1;
	if (!js_number(js, &num))
		return -1;
	if (num.negative || !num.integral)
		return 1;
	if (num.overflow || num.magnitude > (uint64_t) INT64_MAX)
		return 2;
	*value = num.magnitude;
	return 0;
}


/* ----------------------------------------------------------------
 *		the reader
 * ----------------------------------------------------------------
 */

typedef struct StEntry
{
	StTensor	t;
	uint64_t	begin;			/* data_offsets, relative to the data region */
	uint64_t	end;
	int			index;			/* position in the header, to break ties */
} StEntry;

typedef struct StParser
{
	JsonCursor	js;
	const uint8_t *buf;
	size_t		data_start;		/* 8 + N */
	size_t		data_len;		/* len - 8 - N */

	StEntry    *entries;
	int			n_entries;
	int			cap_entries;

	bool		seen_meta;
	char	  **meta_keys;
	char	  **meta_values;
	int			n_meta;
	int			cap_keys;
	int			cap_values;
} StParser;

static bool
st_parse_dtype(StParser *ps, StEntry *e)
{
	JsonCursor *js = &ps->js;
	char		name[32];
	size_t		len;

	if (js_peek(js) != '"')
		return st_error(js->err, "dtype of tensor \"%s\" is not a string",
						e->t.name);
	if (!js_string(js, name, sizeof(name), &len))
		return false;
	if (len >= sizeof(name) || !st_dtype_from_name(name, len, &e->t.dtype))
		return st_error(js->err, "unsupported dtype \"%s%s\" for tensor \"%s\"",
						name, len >= sizeof(name) ? "..." : "", e->t.name);
	return true;
}

static bool
st_parse_shape(StParser *ps, StEntry *e)
{
	JsonCursor *js = &ps->js;
	const char *name = e->t.name;
	bool		more;

	if (js_peek(js) != '[')
		return st_error(js->err, "shape of tensor \"%s\" is not an array", name);
	e->t.ndim = 0;
	js_open(js, &more);
	while (more)
	{
		uint64_t	dim = 0;

		if (e->t.ndim == ST_MAX_DIMS)
			return st_error(js->err,
							"tensor \"%s\" has more than %d dimensions",
							name, ST_MAX_DIMS);
		switch (js_uint(js, &dim))
		{
			case 0:
				break;
			case 1:
				return st_error(js->err,
								"shape of tensor \"%s\" has a dimension that is not a non-negative integer",
								name);
			case 2:
				return st_error(js->err,
								"shape of tensor \"%s\" has a dimension larger than %" PRId64,
								name, INT64_MAX);
			default:
				return false;
		}
		e->t.shape[e->t.ndim++] = (int64_t) dim;
		if (!js_next(js, ']', &more))
			return false;
	}
	return true;
}

static bool
st_parse_offsets(StParser *ps, StEntry *e)
{
	JsonCursor *js = &ps->js;
	uint64_t	v[2] = {0, 0};
	int			i;

	if (js_peek(js) != '[')
		goto not_two;
	js->pos++;
	js_skip_ws(js);
	for (i = 0; i < 2; i++)
	{
		bool		more;

		switch (js_uint(js, &v[i]))
		{
			case 0:
				break;
			case 1:
				goto not_two;
			case 2:
				return st_error(js->err,
								"data_offsets of tensor \"%s\" are larger than %" PRId64,
								e->t.name, INT64_MAX);
			default:
				return false;
		}
		if (!js_next(js, ']', &more))
			return false;
		if (more != (i == 0))
			goto not_two;
	}
	e->begin = v[0];
	e->end = v[1];
	return true;

not_two:
	return st_error(js->err,
					"data_offsets of tensor \"%s\" is not an array of two non-negative integers",
					e->t.name);
}

/* checks that need the whole entry; fills in the derived fields */
static bool
st_check_entry(StParser *ps, StEntry *e)
{
	StTensor   *t = &e->t;
	MaasError  *err = ps->js.err;
	uint64_t	need;
	uint64_t	have;

	if (!st_shape_numel(t->shape, t->ndim, &t->numel) ||
		__builtin_mul_overflow((uint64_t) t->numel,
							   (uint64_t) st_dtype_size(t->dtype), &need))
		return st_error(err, "shape of tensor \"%s\" has too many elements",
						t->name);
	if (e->begin > e->end)
		return st_error(err,
						"data_offsets of tensor \"%s\" begin at %" PRIu64 ", after their end at %" PRIu64,
						t->name, e->begin, e->end);
	if (e->end > (uint64_t) ps->data_len)
		return st_error(err,
						"tensor \"%s\" ends at byte %" PRIu64 " of the data region, which has only %zu bytes",
						t->name, e->end, ps->data_len);
	have = e->end - e->begin;
	if (have != need)
	{
		char		shape[128];

		st_format_shape(shape, sizeof(shape), t->shape, t->ndim);
		return st_error(err,
						"tensor \"%s\" has %" PRIu64 " bytes but its shape %s and dtype %s need %" PRIu64,
						t->name, have, shape, st_dtype_name(t->dtype), need);
	}
	/* all below data_len, so none of this can overflow */
	t->offset = ps->data_start + (size_t) e->begin;
	t->nbytes = (size_t) have;
	t->data = ps->buf + t->offset;
	return true;
}

static bool
st_parse_entry(StParser *ps, StEntry *e)
{
	JsonCursor *js = &ps->js;
	const char *name = e->t.name;
	bool		have_dtype = false;
	bool		have_shape = false;
	bool		have_offsets = false;
	bool		more;

	if (js_peek(js) != '{')
		return st_error(js->err, "entry for tensor \"%s\" is not an object",
						name);
	js_open(js, &more);
	while (more)
	{
		char		key[32];
		size_t		keylen;
		bool	   *seen;
		bool		ok;

		if (!js_key(js, key, sizeof(key), &keylen))
			return false;
		if (keylen == 5 && memcmp(key, "dtype", 5) == 0)
			seen = &have_dtype;
		else if (keylen == 5 && memcmp(key, "shape", 5) == 0)
			seen = &have_shape;
		else if (keylen == 12 && memcmp(key, "data_offsets", 12) == 0)
			seen = &have_offsets;
		else
			return st_error(js->err, "tensor \"%s\" has unknown key \"%s%s\"",
							name, key, keylen >= sizeof(key) ? "..." : "");
		if (*seen)
			return st_error(js->err, "tensor \"%s\" has duplicate key \"%s\"",
							name, key);
		*seen = true;
		if (seen == &have_dtype)
			ok = st_parse_dtype(ps, e);
		else if (seen == &have_shape)
			ok = st_parse_shape(ps, e);
		else
			ok = st_parse_offsets(ps, e);
		if (!ok || !js_next(js, '}', &more))
			return false;
	}

	if (!have_dtype)
		return st_error(js->err, "tensor \"%s\" has no dtype", name);
	if (!have_shape)
		return st_error(js->err, "tensor \"%s\" has no shape", name);
	if (!have_offsets)
		return st_error(js->err, "tensor \"%s\" has no data_offsets", name);
	return st_check_entry(ps, e);
}

static bool
st_parse_metadata(StParser *ps)
{
	JsonCursor *js = &ps->js;
	bool		more;

	if (ps->seen_meta)
		return st_error(js->err, "duplicate key \"" ST_METADATA_KEY "\" in header");
	ps->seen_meta = true;

	/* the reference reader takes null as no metadata; so do we */
	if (js_peek(js) == 'n')
		return js_literal(js, "null");
	if (js_peek(js) != '{')
		return st_error(js->err, ST_METADATA_KEY " is not an object");
	js_open(js, &more);
	while (more)
	{
		char	   *key;
		char	   *value;

		if (!js_alloc_key(js, &key))
			return false;
		if (js_peek(js) != '"')
			return st_error(js->err,
							"value of " ST_METADATA_KEY " key \"%s\" is not a string",
							key);
		if (!js_alloc_string(js, &value))
			return false;

		ps->meta_keys = st_grow(ps->meta_keys, ps->n_meta, &ps->cap_keys,
								sizeof(char *));
		if (ps->meta_keys == NULL)
			return maas_error_nomem(js->err);
		ps->meta_values = st_grow(ps->meta_values, ps->n_meta, &ps->cap_values,
								  sizeof(char *));
		if (ps->meta_values == NULL)
			return maas_error_nomem(js->err);
		ps->meta_keys[ps->n_meta] = key;
		ps->meta_values[ps->n_meta] = value;
		ps->n_meta++;

		if (!js_next(js, '}', &more))
			return false;
	}
	return true;
}

static int
st_cmp_entry(const void *a, const void *b)
{
	const StEntry *x = a;
	const StEntry *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* the header object, entry by entry */
static bool
st_parse_header(StParser *ps)
{
	JsonCursor *js = &ps->js;
	bool		more;

	js->pos = 0;
	if (js_peek(js) != '{')
	{
		js_skip_ws(js);
		if (js_peek(js) == '{')
			return st_error(js->err, "header does not start with \"{\"");
		return st_error(js->err, "header is not a JSON object");
	}
	js_open(js, &more);
	while (more)
	{
		char	   *key;
		StEntry    *e;

		if (!js_alloc_key(js, &key))
			return false;

		if (strcmp(key, ST_METADATA_KEY) == 0)
		{
			if (!st_parse_metadata(ps))
				return false;
		}
		else
		{
			ps->entries = st_grow(ps->entries, ps->n_entries, &ps->cap_entries,
								  sizeof(StEntry));
			if (ps->entries == NULL)
				return maas_error_nomem(js->err);
			e = &ps->entries[ps->n_entries];
			memset(e, 0, sizeof(StEntry));
			e->t.name = key;
			e->index = ps->n_entries;
			if (!st_parse_entry(ps, e))
				return false;
			ps->n_entries++;
		}
		if (!js_next(js, '}', &more))
			return false;
	}
	return true;
}

/* names unique, and the tensors tile the data region exactly */
static bool
st_check_layout(StParser *ps)
{
	MaasError  *err = ps->js.err;
	const char **names;
	const char *dup;
	bool		oom;
	uint64_t	pos = 0;
	const StEntry *prev = NULL;
	int			i;

	if (ps->n_entries > 1)
	{
		names = maas_kalloc((size_t) ps->n_entries * sizeof(char *));
		if (names == NULL)
			return maas_error_nomem(err);
		for (i = 0; i < ps->n_entries; i++)
			names[i] = ps->entries[i].t.name;
		dup = st_find_duplicate(names, ps->n_entries, &oom);
		if (oom)
			return maas_error_nomem(err);
		if (dup != NULL)
			return st_error(err, "duplicate tensor name \"%s\"", dup);
		qsort(ps->entries, (size_t) ps->n_entries, sizeof(StEntry),
			  st_cmp_entry);
	}
	if (ps->n_meta > 1)
	{
		dup = st_find_duplicate((const char *const *) ps->meta_keys,
								ps->n_meta, &oom);
		if (oom)
			return maas_error_nomem(err);
		if (dup != NULL)
			return st_error(err, "duplicate " ST_METADATA_KEY " key \"%s\"", dup);
	}

	for (i = 0; i < ps->n_entries; i++)
	{
		const StEntry *e = &ps->entries[i];

		if (e->begin < pos)
			return st_error(err, "tensors \"%s\" and \"%s\" overlap",
							prev->t.name, e->t.name);
		if (e->begin > pos)
			return st_error(err,
							"the %" PRIu64 " bytes at offset %" PRIu64 " of the data region belong to no tensor",
							e->begin - pos, pos);
		pos = e->end;
		prev = e;
	}
	if (pos != (uint64_t) ps->data_len)
		return st_error(err,
						"the %" PRIu64 " bytes at offset %" PRIu64 " of the data region belong to no tensor",
						(uint64_t) ps->data_len - pos, pos);
	return true;
}

bool
st_parse(const uint8_t *buf, size_t len, StFile *out, MaasError *err)
{
	StParser	ps;
	uint64_t	header_len = 0;
	int			i;

	memset(out, 0, sizeof(StFile));
	if (err != NULL)
	{
		err->status = MAAS_OK;
		err->msg[0] = '\0';
	}

	if (buf == NULL || len < 8)
		return st_error(err,
						"file of %zu bytes is too short for the 8-byte header length",
						buf == NULL ? (size_t) 0 : len);
	for (i = 7; i >= 0; i--)
		header_len = (header_len << 8) | buf[i];
	if (header_len == 0)
		return st_error(err, "header length is 0");
	if (header_len > ST_MAX_HEADER)
		return st_error(err,
						"header length %" PRIu64 " exceeds the maximum of %d bytes",
						header_len, ST_MAX_HEADER);
	if (header_len > (uint64_t) (len - 8))
		return st_error(err,
						"header length %" PRIu64 " exceeds the %zu bytes that follow it",
						header_len, len - 8);

	memset(&ps, 0, sizeof(ps));
	ps.js.s = buf + 8;
	ps.js.len = (size_t) header_len;
	ps.js.err = err;
	ps.buf = buf;
	ps.data_start = 8 + (size_t) header_len;
	ps.data_len = len - ps.data_start;

	if (!js_validate(&ps.js) ||
		!st_parse_header(&ps) ||
		!st_check_layout(&ps))
		return false;

	if (ps.n_entries > 0)
	{
		out->tensors = maas_kalloc((size_t) ps.n_entries * sizeof(StTensor));
		if (out->tensors == NULL)
			return maas_error_nomem(err);
		for (i = 0; i < ps.n_entries; i++)
			out->tensors[i] = ps.entries[i].t;
	}
	out->n_tensors = ps.n_entries;
	out->n_meta = ps.n_meta;
	out->meta_keys = ps.meta_keys;
	out->meta_values = ps.meta_values;
	out->header_len = (size_t) header_len;
	return true;
}

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
			   uint64_t *nbytes, uint64_t *data_len, MaasError *err)
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
		if ((int) t->dtype < 0 || (int) t->dtype >= ST_N_DTYPES)
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
		if (nbytes[i] > 0 && t->data == NULL)
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

uint8_t *
st_write(const StWriteTensor *tensors, int n_tensors,
		 const char *const *meta_keys,
		 const char *const *meta_values, int n_meta,
		 size_t *len, MaasError *err)
{
	uint64_t   *nbytes = NULL;
	uint64_t	data_len;
	StOut		o;
	size_t		json_len;
	size_t		header_len;
	size_t		total;
	uint8_t    *buf;
	size_t		pos;
	int			i;

	*len = 0;
	if (err != NULL)
	{
		err->status = MAAS_OK;
		err->msg[0] = '\0';
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
						nbytes, &data_len, err))
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
	if (data_len > (uint64_t) SIZE_MAX ||
		!maas_add_size(8 + header_len, (size_t) data_len, &total))
	{
		maas_error(err, MAAS_ERR_LIMIT, "file would be too large");
		return NULL;
	}
	buf = maas_kalloc(total);
	if (buf == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}

	for (i = 0; i < 8; i++)
		buf[i] = (uint8_t) ((uint64_t) header_len >> (8 * i));
	o.p = buf + 8;
	o.len = 0;
	st_write_json(&o, tensors, n_tensors, meta_keys, meta_values, n_meta,
				  nbytes);
	memset(buf + 8 + json_len, ' ', header_len - json_len);
	pos = 8 + header_len;
	for (i = 0; i < n_tensors; i++)
	{
		if (nbytes[i] > 0)
			memcpy(buf + pos, tensors[i].data, (size_t) nbytes[i]);
		pos += (size_t) nbytes[i];
	}
	*len = total;
	return buf;
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
