/*
 * json.c
 *		The checked JSON reader and the writer (see json.h).
 *
 * The reader is a recursive descent over the text, bounded by max_depth.
 * Elements of the arrays and objects being read wait on two scratch stacks
 * (values and members) and are copied into an array of their exact size
 * when their container closes, so the tree holds no slack; the stacks grow
 * by doubling, and since kernels never free, what they leave behind is at
 * most twice the deepest pending run of elements.
 */
#include "json.h"
#include "utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_EVERY 4096

typedef struct Reader
{
	const uint8_t *s;
	size_t		len;
	size_t		pos;
	int			max_depth;
	const MaasTick *tick;
	uint32_t	until_tick;
	MaasError  *err;

	MaasJson   *values;			/* scratch: elements of open arrays */
	size_t		n_values;
	size_t		cap_values;
	MaasJsonMember *members;	/* scratch: members of open objects */
	size_t		n_members;
	size_t		cap_members;
} Reader;

static bool
syntax_error(Reader *r, const char *what)
{
	return maas_error(r->err, MAAS_ERR_INVALID, "invalid JSON at byte %zu: %s",
					  r->pos, what);
}

static inline int
peek(const Reader *r)
{
	return r->pos < r->len ? r->s[r->pos] : -1;
}

static inline void
skip_ws(Reader *r)
{
	maas_json_skip_ws(r->s, r->len, &r->pos);
}

static inline bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* make room for one more element on a scratch stack */
static bool
grow(Reader *r, void **stack, size_t n, size_t *cap, size_t elsize)
{
	size_t		newcap;
	void	   *bigger;

	if (n < *cap)
		return true;
	newcap = *cap > 0 ? *cap * 2 : 64;
	bigger = maas_kalloc_array(newcap, elsize);
	if (bigger == NULL)
		return maas_error_nomem(r->err);
	if (n > 0)
		memcpy(bigger, *stack, n * elsize);
	*stack = bigger;
	*cap = newcap;
	return true;
}


/* ---- the lexer (json.h), shared with readers that walk the text ---- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* the four hex digits of a \u escape at *pos; advances past them */
static const char *
lex_hex4(const uint8_t *s, size_t len, size_t *pos, uint32_t *cp)
{
	uint32_t	v = 0;

	if (len - *pos < 4)
		return "truncated \\u escape";
	for (int i = 0; i < 4; i++)
	{
		int			d = hexval(s[*pos + (size_t) i]);

		if (d < 0)
			return "invalid \\u escape";
		v = (v << 4) | (uint32_t) d;
	}
	*pos += 4;
	*cp = v;
	return NULL;
}

/*
 * The escape at *pos (its backslash), decoded; advances past it.  A \u
 * escape of a high surrogate must be followed by one of a low surrogate;
 * the pair makes one code point.  \u0000 is refused: strings are C strings.
 */
static const char *
lex_escape(const uint8_t *s, size_t len, size_t *pos, uint32_t *cp)
{
	size_t		start = *pos;
	uint32_t	low;
	const char *what;

	if (len - *pos < 2)
		return "unterminated string";
	switch (s[*pos + 1])
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
			*pos += 2;
			if ((what = lex_hex4(s, len, pos, cp)) != NULL)
				return what;
			if (*cp >= 0xDC00 && *cp <= 0xDFFF)
			{
				*pos = start;
				return "unpaired low surrogate in \\u escape";
			}
			if (*cp >= 0xD800 && *cp <= 0xDBFF)
			{
				if (len - *pos < 2 || s[*pos] != '\\' || s[*pos + 1] != 'u')
				{
					*pos = start;
					return "unpaired high surrogate in \\u escape";
				}
				*pos += 2;
				if ((what = lex_hex4(s, len, pos, &low)) != NULL)
					return what;
				if (low < 0xDC00 || low > 0xDFFF)
				{
					*pos = start;
					return "unpaired high surrogate in \\u escape";
				}
				*cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
			}
			if (*cp == 0)
			{
				*pos = start;
				return "NUL character in string";
			}
			return NULL;
		default:
			return "invalid escape in string";
	}
	*pos += 2;
	return NULL;
}

const char *
maas_json_lex_string(const uint8_t *s, size_t len, size_t *pos,
					 char *dst, size_t cap, size_t *outlen)
{
	size_t		n = 0;			/* decoded length */
	size_t		w = 0;			/* bytes written to dst */
	bool		full = (dst == NULL || cap == 0);

	(*pos)++;					/* the opening quote */
	for (;;)
	{
		uint8_t		enc[4];
		uint32_t	cp;
		size_t		k;
		uint8_t		c;

		if (*pos >= len)
			return "unterminated string";
		c = s[*pos];
		if (c == '"')
		{
			(*pos)++;
			break;
		}
		if (c == '\\')
		{
			const char *what = lex_escape(s, len, pos, &cp);

			if (what != NULL)
				return what;
			k = maas_utf8_encode(cp, enc);
		}
		else if (c < 0x20)
			return c == 0 ? "NUL byte in string" :
				"unescaped control character in string";
		else
		{
			k = maas_utf8_decode(s + *pos, len - *pos, &cp);
			if (k == 0)
				return "invalid UTF-8 in string";
			memcpy(enc, s + *pos, k);
			*pos += k;
		}

		/* whole characters only, so a cut string stays valid UTF-8 */
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
	return NULL;
}

const char *
maas_json_lex_number(const uint8_t *s, size_t len, size_t *pos,
					 MaasJsonLexNumber *num)
{
	num->negative = false;
	num->integral = true;
	num->overflow = false;
	num->magnitude = 0;

#define PEEK() (*pos < len ? s[*pos] : -1)
	if (PEEK() == '-')
	{
		num->negative = true;
		(*pos)++;
	}
	if (!is_digit(PEEK()))
		return "expected a digit";
	if (PEEK() == '0')
	{
		(*pos)++;
		if (is_digit(PEEK()))
			return "leading zero in number";
	}
	else
	{
		while (is_digit(PEEK()))
		{
			uint64_t	d = (uint64_t) (s[*pos] - '0');

			if (num->overflow || num->magnitude > (UINT64_MAX - d) / 10)
				num->overflow = true;
			else
				num->magnitude = num->magnitude * 10 + d;
			(*pos)++;
		}
	}
	if (PEEK() == '.')
	{
		num->integral = false;
		(*pos)++;
		if (!is_digit(PEEK()))
			return "expected a digit after the decimal point";
		while (is_digit(PEEK()))
			(*pos)++;
	}
	if (PEEK() == 'e' || PEEK() == 'E')
	{
		num->integral = false;
		(*pos)++;
		if (PEEK() == '+' || PEEK() == '-')
			(*pos)++;
		if (!is_digit(PEEK()))
			return "expected a digit in the exponent";
		while (is_digit(PEEK()))
			(*pos)++;
	}
#undef PEEK
	return NULL;
}

const char *
maas_json_lex_literal(const uint8_t *s, size_t len, size_t *pos,
					  const char *word)
{
	size_t		n = strlen(word);

	if (len - *pos < n || memcmp(s + *pos, word, n) != 0)
		return "unexpected character";
	*pos += n;
	return NULL;
}


/* ---- the reader ---- */

/* the string whose opening quote is at r->pos, decoded into new memory */
static bool
read_string(Reader *r, const char **out, int32_t *outlen)
{
	size_t		raw = maas_json_string_bound(r->s, r->len, r->pos);
	size_t		n;
	char	   *dst;
	const char *what;

	if (raw > INT32_MAX)
		return maas_error(r->err, MAAS_ERR_LIMIT,
						  "string at byte %zu of the JSON is too long", r->pos);
	dst = maas_kalloc(raw + 1);
	if (dst == NULL)
		return maas_error_nomem(r->err);
	if ((what = maas_json_lex_string(r->s, r->len, &r->pos, dst, raw + 1, &n)) != NULL)
		return syntax_error(r, what);
	*out = dst;
	*outlen = (int32_t) n;
	return true;
}

static bool
read_number(Reader *r, MaasJson *v)
{
	size_t		start = r->pos;
	MaasJsonLexNumber num;
	const char *what;
	char		small[64];
	char	   *copy = small;
	size_t		n;

	if ((what = maas_json_lex_number(r->s, r->len, &r->pos, &num)) != NULL)
		return syntax_error(r, what);

	/* strtod wants a terminated string; the grammar above was checked */
	n = r->pos - start;
	if (n >= sizeof(small))
	{
		copy = maas_kalloc(n + 1);
		if (copy == NULL)
			return maas_error_nomem(r->err);
	}
	memcpy(copy, r->s + start, n);
	copy[n] = '\0';
	errno = 0;
	v->u.number = strtod(copy, NULL);

	v->type = MAAS_JSON_NUMBER;
	v->integral = false;
	v->integer = 0;
	if (num.integral && !num.overflow)
	{
		uint64_t	mag = num.magnitude;

		if (!num.negative && mag <= (uint64_t) INT64_MAX)
		{
			v->integral = true;
			v->integer = (int64_t) mag;
		}
		else if (num.negative && mag <= (uint64_t) INT64_MAX + 1)
		{
			v->integral = true;
			v->integer = mag == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) mag;
		}
	}
	return true;
}

static bool
literal(Reader *r, const char *word)
{
	const char *what = maas_json_lex_literal(r->s, r->len, &r->pos, word);

	return what == NULL || syntax_error(r, what);
}

static int
cmp_member_key(const void *a, const void *b)
{
	const MaasJsonMember *x = *(const MaasJsonMember *const *) a;
	const MaasJsonMember *y = *(const MaasJsonMember *const *) b;

	return strcmp(x->key, y->key);
}

/* the first key of an object's members that occurs twice, or NULL */
static bool
check_duplicates(Reader *r, const MaasJsonMember *m, int n, size_t at)
{
	const MaasJsonMember **sorted;
	const char *dup = NULL;

	if (n < 2)
		return true;
	if (n <= 8)
	{
		for (int i = 1; i < n && dup == NULL; i++)
			for (int j = 0; j < i; j++)
				if (strcmp(m[i].key, m[j].key) == 0)
				{
					dup = m[i].key;
					break;
				}
	}
	else
	{
		sorted = maas_kalloc_array((size_t) n, sizeof(*sorted));
		if (sorted == NULL)
			return maas_error_nomem(r->err);
		for (int i = 0; i < n; i++)
			sorted[i] = &m[i];
		qsort(sorted, (size_t) n, sizeof(*sorted), cmp_member_key);
		for (int i = 1; i < n; i++)
			if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0)
			{
				dup = sorted[i]->key;
				break;
			}
	}
	if (dup != NULL)
		return maas_error(r->err, MAAS_ERR_INVALID,
						  "invalid JSON at byte %zu: duplicate key \"%s\"", at, dup);
	return true;
}

static bool read_value(Reader *r, MaasJson *v, int depth);

static bool
read_array(Reader *r, MaasJson *v, int depth)
{
	size_t		base = r->n_values;
	size_t		n;

	r->pos++;					/* [ */
	skip_ws(r);
	if (peek(r) != ']')
	{
		for (;;)
		{
			MaasJson	item;
			int			c;

			if (!read_value(r, &item, depth))
				return false;
			if (!grow(r, (void **) &r->values, r->n_values, &r->cap_values,
					  sizeof(MaasJson)))
				return false;
			r->values[r->n_values++] = item;
			skip_ws(r);
			c = peek(r);
			if (c == ',')
			{
				r->pos++;
				continue;
			}
			if (c == ']')
				break;
			return syntax_error(r, c < 0 ? "unexpected end of text" :
								"expected \",\" or \"]\"");
		}
	}
	r->pos++;					/* ] */

	n = r->n_values - base;
	if (n > INT32_MAX)
		return maas_error(r->err, MAAS_ERR_LIMIT, "a JSON array is too long");
	v->type = MAAS_JSON_ARRAY;
	v->integral = false;
	v->n = (int32_t) n;
	v->u.items = NULL;
	if (n > 0)
	{
		v->u.items = maas_kalloc_array(n, sizeof(MaasJson));
		if (v->u.items == NULL)
			return maas_error_nomem(r->err);
		memcpy(v->u.items, r->values + base, n * sizeof(MaasJson));
	}
	r->n_values = base;
	return true;
}

static bool
read_object(Reader *r, MaasJson *v, int depth)
{
	size_t		base = r->n_members;
	size_t		at = r->pos;
	size_t		n;

	r->pos++;					/* { */
	skip_ws(r);
	if (peek(r) != '}')
	{
		for (;;)
		{
			MaasJsonMember m;
			int			c;

			skip_ws(r);
			if (peek(r) != '"')
				return syntax_error(r, peek(r) < 0 ? "unexpected end of text" :
									"expected a string as object key");
			if (!read_string(r, &m.key, &m.key_len))
				return false;
			skip_ws(r);
			if (peek(r) != ':')
				return syntax_error(r, "expected \":\"");
			r->pos++;
			if (!read_value(r, &m.value, depth))
				return false;
			if (!grow(r, (void **) &r->members, r->n_members, &r->cap_members,
					  sizeof(MaasJsonMember)))
				return false;
			r->members[r->n_members++] = m;
			skip_ws(r);
			c = peek(r);
			if (c == ',')
			{
				r->pos++;
				continue;
			}
			if (c == '}')
				break;
			return syntax_error(r, c < 0 ? "unexpected end of text" :
								"expected \",\" or \"}\"");
		}
	}
	r->pos++;					/* } */

	n = r->n_members - base;
	if (n > INT32_MAX)
		return maas_error(r->err, MAAS_ERR_LIMIT, "a JSON object is too long");
	if (n > 1 && !check_duplicates(r, r->members + base, (int) n, at))
		return false;
	v->type = MAAS_JSON_OBJECT;
	v->integral = false;
	v->n = (int32_t) n;
	v->u.members = NULL;
	if (n > 0)
	{
		v->u.members = maas_kalloc_array(n, sizeof(MaasJsonMember));
		if (v->u.members == NULL)
			return maas_error_nomem(r->err);
		memcpy(v->u.members, r->members + base, n * sizeof(MaasJsonMember));
	}
	r->n_members = base;
	return true;
}

/* any value at r->pos; depth is the nesting around it */
static bool
read_value(Reader *r, MaasJson *v, int depth)
{
	int			c;

	if (--r->until_tick == 0)
	{
		r->until_tick = TICK_EVERY;
		maas_tick(r->tick);
	}
	memset(v, 0, sizeof(*v));
	skip_ws(r);
	c = peek(r);
	switch (c)
	{
		case '{':
		case '[':
			if (depth >= r->max_depth)
				return syntax_error(r, "nesting too deep");
			return c == '{' ? read_object(r, v, depth + 1) : read_array(r, v, depth + 1);
		case '"':
			v->type = MAAS_JSON_STRING;
			return read_string(r, &v->u.string, &v->n);
		case 't':
			v->type = MAAS_JSON_BOOL;
			v->u.boolean = true;
			return literal(r, "true");
		case 'f':
			v->type = MAAS_JSON_BOOL;
			v->u.boolean = false;
			return literal(r, "false");
		case 'n':
			v->type = MAAS_JSON_NULL;
			return literal(r, "null");
		case -1:
			return syntax_error(r, "unexpected end of text");
		default:
			if (c == '-' || is_digit(c))
				return read_number(r, v);
			return syntax_error(r, "unexpected character");
	}
}

MaasJson *
maas_json_parse(const char *text, size_t len, int max_depth,
				const MaasTick *tick, MaasError *err)
{
	Reader		r;
	MaasJson   *root;

	memset(&r, 0, sizeof(r));
	r.s = (const uint8_t *) text;
	r.len = len;
	r.max_depth = max_depth > 0 ? max_depth : MAAS_JSON_MAX_DEPTH;
	r.tick = tick;
	r.until_tick = TICK_EVERY;
	r.err = err;

	root = maas_kalloc(sizeof(MaasJson));
	if (root == NULL)
	{
		maas_error_nomem(err);
		return NULL;
	}
	if (!read_value(&r, root, 0))
		return NULL;
	skip_ws(&r);
	if (r.pos != r.len)
	{
		syntax_error(&r, "unexpected data after the top-level value");
		return NULL;
	}
	return root;
}

const MaasJson *
maas_json_get(const MaasJson *v, const char *key)
{
	if (v == NULL || v->type != MAAS_JSON_OBJECT)
		return NULL;
	for (int i = 0; i < v->n; i++)
		if (strcmp(v->u.members[i].key, key) == 0)
			return &v->u.members[i].value;
	return NULL;
}

const char *
maas_json_type_name(MaasJsonType type)
{
	switch (type)
	{
		case MAAS_JSON_NULL:
			return "null";
		case MAAS_JSON_BOOL:
			return "boolean";
		case MAAS_JSON_NUMBER:
			return "number";
		case MAAS_JSON_STRING:
			return "string";
		case MAAS_JSON_ARRAY:
			return "array";
		case MAAS_JSON_OBJECT:
			return "object";
	}
	return "unknown";
}

bool
maas_json_int(const MaasJson *v, int64_t min, int64_t max, int64_t *out)
{
	int64_t		i;

	if (v == NULL || v->type != MAAS_JSON_NUMBER)
		return false;
	if (v->integral)
		i = v->integer;
	else
	{
		/* 3.0 and 1e3 are whole numbers too */
		double		d = v->u.number;

		if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
			d != floor(d))
			return false;
		i = (int64_t) d;
	}
	if (i < min || i > max)
		return false;
	*out = i;
	return true;
}

bool
maas_json_finite(const MaasJson *v, bool as_float, double *out)
{
	double		d;

	if (v == NULL || v->type != MAAS_JSON_NUMBER)
		return false;
	d = v->u.number;
	if (!isfinite(d))
		return false;
	if (as_float && !isfinite((float) d))
		return false;
	*out = d;
	return true;
}


/* ---- the writer ---- */

void
maas_buf_init(MaasBuf *buf)
{
	buf->len = 0;
	buf->cap = 256;
	buf->oom = false;
	buf->data = maas_kalloc(buf->cap);
	if (buf->data == NULL)
		buf->oom = true;
	else
		buf->data[0] = '\0';
}

static bool
buf_reserve(MaasBuf *buf, size_t more)
{
	size_t		need;
	size_t		cap;
	char	   *bigger;

	if (buf->oom)
		return false;
	if (!maas_add_size(buf->len, more, &need) || !maas_add_size(need, 1, &need))
	{
		buf->oom = true;
		return false;
	}
	if (need <= buf->cap)
		return true;
	cap = buf->cap;
	while (cap < need)
	{
		if (!maas_mul_size(cap, 2, &cap))
		{
			buf->oom = true;
			return false;
		}
	}
	bigger = maas_kalloc(cap);
	if (bigger == NULL)
	{
		buf->oom = true;
		return false;
	}
	memcpy(bigger, buf->data, buf->len + 1);
	buf->data = bigger;
	buf->cap = cap;
	return true;
}

void
maas_buf_append(MaasBuf *buf, const char *s, size_t len)
{
	if (!buf_reserve(buf, len))
		return;
	memcpy(buf->data + buf->len, s, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void
maas_buf_puts(MaasBuf *buf, const char *s)
{
	maas_buf_append(buf, s, strlen(s));
}

void
maas_buf_printf(MaasBuf *buf, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (buf->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(buf, (size_t) n))
	{
		buf->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t) n;
}

void
maas_json_write_string(MaasBuf *buf, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		run = 0;

	maas_buf_append(buf, "\"", 1);
	for (size_t i = 0; i < len; i++)
	{
		uint8_t		c = (uint8_t) s[i];
		char		esc[7];
		size_t		n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		maas_buf_append(buf, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c)
		{
			case '"':
				esc[1] = '"';
				break;
			case '\\':
				esc[1] = '\\';
				break;
			case '\n':
				esc[1] = 'n';
				break;
			case '\r':
				esc[1] = 'r';
				break;
			case '\t':
				esc[1] = 't';
				break;
			default:
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				n = 6;
				break;
		}
		maas_buf_append(buf, esc, n);
	}
	maas_buf_append(buf, s + run, len - run);
	maas_buf_append(buf, "\"", 1);
}

void
maas_json_write_number(MaasBuf *buf, double v, bool as_float)
{
	char		text[40];

	if (!isfinite(v) || (as_float && !isfinite((float) v)))
	{
		maas_buf_puts(buf, "null");
		return;
	}
	/* the fewest significant digits that read back to the same value */
	for (int digits = as_float ? 6 : 15; digits <= (as_float ? 9 : 17); digits++)
	{
		snprintf(text, sizeof(text), "%.*g", digits, v);
		if (as_float ? (float) strtod(text, NULL) == (float) v
			: strtod(text, NULL) == v)
			break;
	}
	maas_buf_puts(buf, text);
}
