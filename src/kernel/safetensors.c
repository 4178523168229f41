/*
 * safetensors.c
 *		Strict reader and writer of the safetensors format: a small JSON
 *		parser for the header, the layout checks, conversion of floating
 *		tensors to float32, and a writer whose output the reader accepts.
 *
 * No PostgreSQL header is included; memory comes from maas_kalloc() and is
 * never freed here (see kernel.h).
 *
 * The reader works in two passes over the header.  The first checks that it
 * is well-formed JSON (strict RFC 8259, UTF-8, no NUL, nesting at most
 * ST_JSON_MAX_DEPTH deep, nothing but whitespace after the top-level value),
 * so any syntax error is reported as such with its byte offset.  The second
 * walks the same text against the safetensors schema and builds the result.
 * Every number taken from the buffer is range-checked before it is used in
 * arithmetic, and all such arithmetic is overflow-checked.
 */
#include "safetensors.h"

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

/* length of the well-formed UTF-8 sequence at s[0 .. avail), or 0 */
static size_t
utf8_sequence(const uint8_t *s, size_t avail)
{
	uint8_t		c = s[0];
	uint8_t		lo = 0x80;
	uint8_t		hi = 0xBF;
	size_t		n;
	size_t		i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c == 0xE0)
	{
		n = 3;
		lo = 0xA0;				/* no overlong forms */
	}
	else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
		n = 3;
	else if (c == 0xED)
	{
		n = 3;
		hi = 0x9F;				/* no surrogates */
	}
	else if (c == 0xF0)
	{
		n = 4;
		lo = 0x90;
	}
	else if (c >= 0xF1 && c <= 0xF3)
		n = 4;
	else if (c == 0xF4)
	{
		n = 4;
		hi = 0x8F;				/* nothing above U+10FFFF */
	}
	else
		return 0;

	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	}
	return n;
}

static bool
utf8_valid(const char *s)
{
	const uint8_t *p = (const uint8_t *) s;
	size_t		len = strlen(s);
	size_t		i = 0;

	while (i < len)
	{
		size_t		k = utf8_sequence(p + i, len - i);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

static bool st_error(char *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/*
 * Format a message into err (ST_ERRLEN bytes, may be NULL) and return false.
 * When a long name cut the message short, a partial UTF-8 sequence left at
 * the end is removed, so the message stays valid UTF-8.
 */
static bool
st_error(char *err, const char *fmt,...)
{
	va_list		ap;
	size_t		len;
	size_t		i;

	if (err == NULL)
		return false;
	va_start(ap, fmt);
	vsnprintf(err, ST_ERRLEN, fmt, ap);
	va_end(ap);

	len = strlen(err);
	i = len;
	while (i > 0 && len - i < 4 && ((uint8_t) err[i - 1] & 0xC0) == 0x80)
		i--;
	if (i > 0 && ((uint8_t) err[i - 1] & 0x80) != 0)
	{
		uint8_t		lead = (uint8_t) err[i - 1];
		size_t		need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;

		if (len - (i - 1) < need)
			err[i - 1] = '\0';
	}
	return false;
}

static bool
st_oom(char *err)
{
	return st_error(err, "out of memory");
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
 *		JSON scanning
 * ----------------------------------------------------------------
 */

typedef struct JsonCursor
{
	const uint8_t *s;			/* the header text */
	size_t		len;
	size_t		pos;
	char	   *err;
} JsonCursor;

typedef struct JsonNumber
{
	bool		negative;
	bool		integral;		/* no fraction, no exponent */
	bool		overflow;		/* integer part exceeds INT64_MAX */
	uint64_t	value;			/* the integer part unless overflow */
} JsonNumber;

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
	while (js->pos < js->len)
	{
		uint8_t		c = js->s[js->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		js->pos++;
	}
}

static inline bool
js_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
js_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* the four hex digits of a \u escape at js->pos; advances past them */
static bool
js_hex4(JsonCursor *js, uint32_t *cp)
{
	uint32_t	v = 0;
	int			i;

	if (js->len - js->pos < 4)
		return js_syntax_error(js, "truncated \\u escape");
	for (i = 0; i < 4; i++)
	{
		int			d = js_hexval(js->s[js->pos + (size_t) i]);

		if (d < 0)
			return js_syntax_error(js, "invalid \\u escape");
		v = (v << 4) | (uint32_t) d;
	}
	js->pos += 4;
	*cp = v;
	return true;
}

static size_t
utf8_encode(uint32_t cp, uint8_t *out)
{
	if (cp < 0x80)
	{
		out[0] = (uint8_t) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (uint8_t) (0xC0 | (cp >> 6));
		out[1] = (uint8_t) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (uint8_t) (0xE0 | (cp >> 12));
		out[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (uint8_t) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t) (0xF0 | (cp >> 18));
	out[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (uint8_t) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Decode the escape sequence at js->pos (at its backslash) and advance past
 * it.  A \u escape of a high surrogate must be followed by one of a low
 * surrogate; the pair makes one code point.  \u0000 is refused: names and
 * metadata are C strings.
 */
static bool
js_escape(JsonCursor *js, uint32_t *cp)
{
	size_t		start = js->pos;
	uint32_t	low;

	if (js->len - js->pos < 2)
		return js_syntax_error(js, "unterminated string");
	switch (js->s[js->pos + 1])
	{
		case '"':
			*cp = '"';
			break;
		case '\\':
			*cp = '\\';
			break;
		case '/':
			*cp = '/';
			break;
		case 'b':
			*cp = '\b';
			break;
		case 'f':
			*cp = '\f';
			break;
		case 'n':
			*cp = '\n';
			break;
		case 'r':
			*cp = '\r';
			break;
		case 't':
			*cp = '\t';
			break;
		case 'u':
			js->pos += 2;
			if (!js_hex4(js, cp))
				return false;
			if (*cp >= 0xDC00 && *cp <= 0xDFFF)
			{
				js->pos = start;
				return js_syntax_error(js, "unpaired low surrogate in \\u escape");
			}
			if (*cp >= 0xD800 && *cp <= 0xDBFF)
			{
				if (js->len - js->pos < 2 ||
					js->s[js->pos] != '\\' || js->s[js->pos + 1] != 'u')
				{
					js->pos = start;
					return js_syntax_error(js, "unpaired high surrogate in \\u escape");
				}
				js->pos += 2;
				if (!js_hex4(js, &low))
					return false;
				if (low < 0xDC00 || low > 0xDFFF)
				{
					js->pos = start;
					return js_syntax_error(js, "unpaired high surrogate in \\u escape");
				}
				*cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
			}
			if (*cp == 0)
			{
				js->pos = start;
				return js_syntax_error(js, "NUL character in string");
			}
			return true;
		default:
			return js_syntax_error(js, "invalid escape in string");
	}
	js->pos += 2;
	return true;
}

/*
 * Scan the string whose opening quote is at js->pos and advance past its
 * closing quote.  The decoded text goes to dst when dst is not NULL: whole
 * UTF-8 characters only, at most cap - 1 bytes, NUL-terminated.  *outlen is
 * the full decoded length, which tells a caller whether dst was too short.
 */
static bool
js_string(JsonCursor *js, char *dst, size_t cap, size_t *outlen)
{
	size_t		n = 0;			/* decoded length */
	size_t		w = 0;			/* bytes written to dst */
	bool		full = (dst == NULL || cap == 0);

	js->pos++;					/* the opening quote */
	for (;;)
	{
		uint8_t		enc[4];
		size_t		k;
		uint8_t		c;

		if (js->pos >= js->len)
			return js_syntax_error(js, "unterminated string");
		c = js->s[js->pos];
		if (c == '"')
		{
			js->pos++;
			break;
		}
		if (c == '\\')
		{
			uint32_t	cp;

			if (!js_escape(js, &cp))
				return false;
			k = utf8_encode(cp, enc);
		}
		else if (c < 0x20)
			return js_syntax_error(js, c == 0 ? "NUL byte in string" :
								   "unescaped control character in string");
		else
		{
			k = utf8_sequence(js->s + js->pos, js->len - js->pos);
			if (k == 0)
				return js_syntax_error(js, "invalid UTF-8 in string");
			memcpy(enc, js->s + js->pos, k);
			js->pos += k;
		}

		if (!full && w + k < cap)
		{
			memcpy(dst + w, enc, k);
			w += k;
		}
		else
			full = true;
		n += k;
	}
	if (dst != NULL && cap > 0)
		dst[w] = '\0';
	*outlen = n;
	return true;
}

/*
 * Scan a number at js->pos according to JSON's grammar and advance past it.
 * The integer part is accumulated while it fits in int64.
 */
static bool
js_number(JsonCursor *js, JsonNumber *num)
{
	num->negative = false;
	num->integral = true;
	num->overflow = false;
	num->value = 0;

	if (js_peek(js) == '-')
	{
		num->negative = true;
		js->pos++;
	}
	if (!js_is_digit(js_peek(js)))
		return js_syntax_error(js, "expected a digit");
	if (js_peek(js) == '0')
	{
		js->pos++;
		if (js_is_digit(js_peek(js)))
			return js_syntax_error(js, "leading zero in number");
	}
	else
	{
		while (js_is_digit(js_peek(js)))
		{
			uint64_t	d = (uint64_t) (js->s[js->pos] - '0');

			if (!num->overflow)
			{
				if (num->value > ((uint64_t) INT64_MAX - d) / 10)
					num->overflow = true;
				else
					num->value = num->value * 10 + d;
			}
			js->pos++;
		}
	}
	if (js_peek(js) == '.')
	{
		num->integral = false;
		js->pos++;
		if (!js_is_digit(js_peek(js)))
			return js_syntax_error(js, "expected a digit after the decimal point");
		while (js_is_digit(js_peek(js)))
			js->pos++;
	}
	if (js_peek(js) == 'e' || js_peek(js) == 'E')
	{
		num->integral = false;
		js->pos++;
		if (js_peek(js) == '+' || js_peek(js) == '-')
			js->pos++;
		if (!js_is_digit(js_peek(js)))
			return js_syntax_error(js, "expected a digit in the exponent");
		while (js_is_digit(js_peek(js)))
			js->pos++;
	}
	return true;
}

static bool
js_literal(JsonCursor *js, const char *word)
{
	size_t		n = strlen(word);

	if (js->len - js->pos < n || memcmp(js->s + js->pos, word, n) != 0)
		return js_syntax_error(js, "unexpected character");
	js->pos += n;
	return true;
}

static bool js_skip_value(JsonCursor *js, int depth);

/* skip an object or array at js->pos, which is at nesting level depth */
static bool
js_skip_container(JsonCursor *js, int depth)
{
	bool		object = js->s[js->pos] == '{';
	int			close = object ? '}' : ']';

	js->pos++;
	js_skip_ws(js);
	if (js_peek(js) == close)
	{
		js->pos++;
		return true;
	}
	for (;;)
	{
		int			c;

		if (object)
		{
			size_t		n;

			js_skip_ws(js);
			if (js_peek(js) != '"')
				return js_syntax_error(js, "expected a string as object key");
			if (!js_string(js, NULL, 0, &n))
				return false;
			js_skip_ws(js);
			if (js_peek(js) != ':')
				return js_syntax_error(js, "expected \":\"");
			js->pos++;
		}
		if (!js_skip_value(js, depth))
			return false;
		js_skip_ws(js);
		c = js_peek(js);
		if (c == ',')
			js->pos++;
		else if (c == close)
		{
			js->pos++;
			return true;
		}
		else
			return js_syntax_error(js, object ? "expected \",\" or \"}\"" :
								   "expected \",\" or \"]\"");
	}
}

/* check and skip any JSON value; depth is the nesting level around it */
static bool
js_skip_value(JsonCursor *js, int depth)
{
	int			c;
	size_t		n;
	JsonNumber	num;

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
 * Helpers of pass two.  The text is known to be well-formed by then, but
 * they still check what they rely on, so they are safe on their own.
 */

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

/* a key and its colon, decoded into a small buffer (truncated if long) */
static bool
js_small_key(JsonCursor *js, char *buf, size_t cap, size_t *len)
{
	js_skip_ws(js);
	if (js_peek(js) != '"')
		return js_syntax_error(js, "expected a string as object key");
	if (!js_string(js, buf, cap, len))
		return false;
	return js_expect(js, ':', "expected \":\"");
}

/* a string of any length, in memory of its own */
static bool
js_alloc_string(JsonCursor *js, char **out)
{
	size_t		p = js->pos + 1;
	size_t		raw;
	size_t		len;
	char	   *buf;

	/* the decoded text is never longer than the raw text */
	while (p < js->len && js->s[p] != '"')
		p += js->s[p] == '\\' ? 2 : 1;
	raw = p - js->pos;
	buf = maas_kalloc(raw + 1);
	if (buf == NULL)
		return st_oom(js->err);
	if (!js_string(js, buf, raw + 1, &len))
		return false;
	if (len > raw)				/* cannot happen, but never hand out a cut name */
		return js_syntax_error(js, "string decoding error");
	*out = buf;
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
	JsonNumber	num;

	if (c != '-' && !js_is_digit(c))
		return 1;
	if (!js_number(js, &num))
		return -1;
	if (num.negative || !num.integral)
		return 1;
	if (num.overflow)
		return 2;
	*value = num.value;
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
	bool		more = true;

	if (js_peek(js) != '[')
		return st_error(js->err, "shape of tensor \"%s\" is not an array", name);
	js->pos++;
	js_skip_ws(js);
	e->t.ndim = 0;
	if (js_peek(js) == ']')
	{
		js->pos++;
		return true;
	}
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
	char	   *err = ps->js.err;
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
	bool		more = true;

	if (js_peek(js) != '{')
		return st_error(js->err, "entry for tensor \"%s\" is not an object",
						name);
	js->pos++;
	js_skip_ws(js);
	if (js_peek(js) == '}')
	{
		js->pos++;
		more = false;
	}
	while (more)
	{
		char		key[32];
		size_t		keylen;
		bool	   *seen;
		bool		ok;

		if (!js_small_key(js, key, sizeof(key), &keylen))
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
	bool		more = true;

	if (ps->seen_meta)
		return st_error(js->err, "duplicate key \"" ST_METADATA_KEY "\" in header");
	ps->seen_meta = true;

	/* the reference reader takes null as no metadata; so do we */
	if (js_peek(js) == 'n')
		return js_literal(js, "null");
	if (js_peek(js) != '{')
		return st_error(js->err, ST_METADATA_KEY " is not an object");
	js->pos++;
	js_skip_ws(js);
	if (js_peek(js) == '}')
	{
		js->pos++;
		more = false;
	}
	while (more)
	{
		char	   *key;
		char	   *value;

		js_skip_ws(js);
		if (js_peek(js) != '"')
			return js_syntax_error(js, "expected a string as object key");
		if (!js_alloc_string(js, &key) ||
			!js_expect(js, ':', "expected \":\""))
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
			return st_oom(js->err);
		ps->meta_values = st_grow(ps->meta_values, ps->n_meta, &ps->cap_values,
								  sizeof(char *));
		if (ps->meta_values == NULL)
			return st_oom(js->err);
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
	bool		more = true;

	js->pos = 0;
	if (js_peek(js) != '{')
	{
		js_skip_ws(js);
		if (js_peek(js) == '{')
			return st_error(js->err, "header does not start with \"{\"");
		return st_error(js->err, "header is not a JSON object");
	}
	js->pos++;
	js_skip_ws(js);
	if (js_peek(js) == '}')
	{
		js->pos++;
		more = false;
	}
	while (more)
	{
		char	   *key;
		StEntry    *e;

		js_skip_ws(js);
		if (js_peek(js) != '"')
			return js_syntax_error(js, "expected a string as object key");
		if (!js_alloc_string(js, &key) ||
			!js_expect(js, ':', "expected \":\""))
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
				return st_oom(js->err);
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
	char	   *err = ps->js.err;
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
			return st_oom(err);
		for (i = 0; i < ps->n_entries; i++)
			names[i] = ps->entries[i].t.name;
		dup = st_find_duplicate(names, ps->n_entries, &oom);
		if (oom)
			return st_oom(err);
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
			return st_oom(err);
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
st_parse(const uint8_t *buf, size_t len, StFile *out, char *err)
{
	StParser	ps;
	uint64_t	header_len = 0;
	int			i;

	memset(out, 0, sizeof(StFile));
	if (err != NULL)
		err[0] = '\0';

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
			return st_oom(err);
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
			   uint64_t *nbytes, uint64_t *data_len, char *err)
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
		return st_oom(err);
	if (dup != NULL)
		return st_error(err, "duplicate metadata key \"%s\"", dup);

	if (n_tensors > 0)
	{
		names = maas_kalloc((size_t) n_tensors * sizeof(char *));
		if (names == NULL)
			return st_oom(err);
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
			return st_error(err, "tensor \"%s\" is too large", t->name);
		if (nbytes[i] > 0 && t->data == NULL)
			return st_error(err, "tensor \"%s\" has no data", t->name);
		names[i] = t->name;
	}
	dup = st_find_duplicate(names, n_tensors, &oom);
	if (oom)
		return st_oom(err);
	if (dup != NULL)
		return st_error(err, "duplicate tensor name \"%s\"", dup);
	return true;
}

uint8_t *
st_write(const StWriteTensor *tensors, int n_tensors,
		 const char *const *meta_keys,
		 const char *const *meta_values, int n_meta,
		 size_t *len, char *err)
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
		err[0] = '\0';
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
			st_oom(err);
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
		st_error(err, "header would exceed the maximum of %d bytes",
				 ST_MAX_HEADER);
		return NULL;
	}
	if (data_len > (uint64_t) SIZE_MAX ||
		!maas_add_size(8 + header_len, (size_t) data_len, &total))
	{
		st_error(err, "file would be too large");
		return NULL;
	}
	buf = maas_kalloc(total);
	if (buf == NULL)
	{
		st_oom(err);
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
