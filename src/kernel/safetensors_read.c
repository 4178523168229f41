/*
 * safetensors_read.c
 *		The strict reader of safetensors files (st_parse, safetensors.h).
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
#include "safetensors_int.h"
#include "json.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_JSON_MAX_DEPTH	8

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
	const uint8_t *buf;			/* the whole file, or NULL: header only */
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
	t->data = ps->buf != NULL ? ps->buf + t->offset : NULL;
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

/*
 * The 8-byte header length of a file of len bytes, checked: 8 + N, the
 * bytes a reader needs before the tensors.
 */
static bool
st_check_header_length(const uint8_t *buf, size_t avail, uint64_t len,
					   size_t *need, MaasError *err)
{
	uint64_t	header_len = 0;
	int			i;

	if (buf == NULL || len < 8)
		return st_error(err,
						"file of %" PRIu64 " bytes is too short for the 8-byte header length",
						buf == NULL ? (uint64_t) 0 : len);
	if (avail < 8)
		return st_error(err, "the %zu bytes given hold only part of the 8-byte header length",
						avail);
	for (i = 7; i >= 0; i--)
		header_len = (header_len << 8) | buf[i];
	if (header_len == 0)
		return st_error(err, "header length is 0");
	if (header_len > ST_MAX_HEADER)
		return st_error(err,
						"header length %" PRIu64 " exceeds the maximum of %d bytes",
						header_len, ST_MAX_HEADER);
	if (header_len > len - 8)
		return st_error(err,
						"header length %" PRIu64 " exceeds the %" PRIu64 " bytes that follow it",
						header_len, len - 8);
	*need = 8 + (size_t) header_len;
	return true;
}

static void
st_clear(StFile *out, MaasError *err)
{
	memset(out, 0, sizeof(StFile));
	if (err != NULL)
	{
		err->status = MAAS_OK;
		err->msg[0] = '\0';
		err->hint = NULL;
	}
}

/*
 * Parse a file of len bytes of which buf holds the first avail (at least
 * the header); tensors point into buf when it holds the whole file, and
 * have no data (NULL) otherwise.
 */
static bool
st_parse_some(const uint8_t *buf, size_t avail, uint64_t len, StFile *out,
			  MaasError *err)
{
	StParser	ps;
	size_t		need;
	int			i;

	if (!st_check_header_length(buf, avail, len, &need, err))
		return false;
	if (avail < need)
		return st_error(err, "the %zu bytes given hold only part of the %zu-byte header",
						avail, need);
	if (len - need > (uint64_t) SIZE_MAX)
		return maas_error(err, MAAS_ERR_LIMIT, "file of %" PRIu64 " bytes is too large", len);

	memset(&ps, 0, sizeof(ps));
	ps.js.s = buf + 8;
	ps.js.len = need - 8;
	ps.js.err = err;
	ps.buf = avail >= len ? buf : NULL;
	ps.data_start = need;
	ps.data_len = (size_t) (len - need);

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
	out->header_len = need - 8;
	return true;
}

bool
st_parse(const uint8_t *buf, size_t len, StFile *out, MaasError *err)
{
	st_clear(out, err);
	return st_parse_some(buf, len, len, out, err);
}

bool
st_header_size(const uint8_t *buf, size_t avail, uint64_t len, size_t *need,
			   MaasError *err)
{
	if (err != NULL)
	{
		err->status = MAAS_OK;
		err->msg[0] = '\0';
		err->hint = NULL;
	}
	*need = 0;
	return st_check_header_length(buf, avail, len, need, err);
}

bool
st_parse_header_only(const uint8_t *head, size_t head_len, uint64_t len,
					 StFile *out, MaasError *err)
{
	st_clear(out, err);
	return st_parse_some(head, head_len, len, out, err);
}
