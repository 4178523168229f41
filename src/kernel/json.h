/*
 * json.h
 *		A checked JSON reader (to a tree) and a small writer, for the kernels
 *		that read outside JSON without a server: model configs, tokenizer
 *		files (vocab.json, tokenizer.json), XGBoost models, HTTP bodies.
 *
 * The reader is strict RFC 8259: UTF-8 only, no NUL (escaped or not), no
 * duplicate keys in an object, nesting at most max_depth deep, nothing but
 * whitespace after the top-level value.  Every error names its byte offset.
 * The tree lives in maas_kalloc memory and copies what it keeps, so the
 * text may go away after parsing.  Values are 24 bytes and arrays hold them
 * inline, so a tree costs a small multiple of its text.
 */
#ifndef MAAS_JSON_H
#define MAAS_JSON_H

#include "kernel.h"

typedef enum MaasJsonType
{
	MAAS_JSON_NULL,
	MAAS_JSON_BOOL,
	MAAS_JSON_NUMBER,
	MAAS_JSON_STRING,
	MAAS_JSON_ARRAY,
	MAAS_JSON_OBJECT
} MaasJsonType;

typedef struct MaasJsonMember MaasJsonMember;

typedef struct MaasJson
{
	uint8_t		type;			/* MaasJsonType */
	bool		integral;		/* number written without fraction or exponent
								 * that fits in int64: integer is exact */
	int32_t		n;				/* string: bytes; array, object: entries */
	union
	{
		bool		boolean;
		double		number;		/* the nearest double (±HUGE_VAL if too big) */
		const char *string;		/* decoded, NUL-terminated, valid UTF-8 */
		struct MaasJson *items; /* array: n values */
		MaasJsonMember *members;	/* object: n members, in document order */
	}			u;
	int64_t		integer;		/* number: exact when integral */
} MaasJson;

struct MaasJsonMember
{
	const char *key;			/* decoded, NUL-terminated */
	int32_t		key_len;
	MaasJson	value;
};

#define MAAS_JSON_MAX_DEPTH 64

/*
 * Parse text[0 .. len).  max_depth bounds the nesting (0 means
 * MAAS_JSON_MAX_DEPTH); tick is called every few thousand values.  Returns
 * the root, or NULL with err set (MAAS_ERR_INVALID for bad text,
 * MAAS_ERR_LIMIT for a string or container over 2^31 - 1, MAAS_ERR_NOMEM).
 */
extern MaasJson *maas_json_parse(const char *text, size_t len, int max_depth,
								 const MaasTick *tick, MaasError *err);

/* the member of an object named key, or NULL (also when v is no object) */
extern const MaasJson *maas_json_get(const MaasJson *v, const char *key);

/* element i of an array, or NULL */
static inline const MaasJson *
maas_json_at(const MaasJson *v, int i)
{
	if (v == NULL || v->type != MAAS_JSON_ARRAY || i < 0 || i >= v->n)
		return NULL;
	return &v->u.items[i];
}

/* "null", "boolean", "number", "string", "array", "object" */
extern const char *maas_json_type_name(MaasJsonType type);

/* a number that is a whole number in [min, max], as int64 */
extern bool maas_json_int(const MaasJson *v, int64_t min, int64_t max,
						  int64_t *out);

/* a number that is finite as a double (and as a float when as_float) */
extern bool maas_json_finite(const MaasJson *v, bool as_float, double *out);

/*
 * The lexer under the reader, for a kernel that walks JSON text itself
 * rather than through a tree (the safetensors header reader checks its
 * schema as it goes, with messages of its own).  Each function reads one
 * token at *pos of s[0 .. len) and moves *pos past it; on a syntax error
 * it returns the reason as a static string ("invalid escape in string")
 * with *pos at the byte the reason is about, and NULL on success.
 */

/* skip JSON whitespace at *pos */
static inline void
maas_json_skip_ws(const uint8_t *s, size_t len, size_t *pos)
{
	while (*pos < len &&
		   (s[*pos] == ' ' || s[*pos] == '\t' || s[*pos] == '\n' || s[*pos] == '\r'))
		(*pos)++;
}

/* a bound on the decoded length of the string whose quote is at pos */
static inline size_t
maas_json_string_bound(const uint8_t *s, size_t len, size_t pos)
{
	size_t		p = pos + 1;

	/* the decoded text is never longer than the raw text */
	while (p < len && s[p] != '"')
		p += s[p] == '\\' ? 2 : 1;
	return p - pos;
}

/*
 * The string whose opening quote is at *pos, decoded: to dst when dst is
 * not NULL, whole UTF-8 characters only, at most cap - 1 bytes and
 * NUL-terminated.  *outlen is the full decoded length, which tells a
 * caller whether dst was too short.
 */
extern const char *maas_json_lex_string(const uint8_t *s, size_t len,
										size_t *pos, char *dst, size_t cap,
										size_t *outlen);

typedef struct MaasJsonLexNumber
{
	bool		negative;
	bool		integral;		/* no fraction, no exponent */
	bool		overflow;		/* the integer part exceeds UINT64_MAX */
	uint64_t	magnitude;		/* the integer part, unless overflow */
} MaasJsonLexNumber;

/* a number at *pos by JSON's grammar */
extern const char *maas_json_lex_number(const uint8_t *s, size_t len,
										size_t *pos, MaasJsonLexNumber *num);

/* the literal word (true, false, null) at *pos */
extern const char *maas_json_lex_literal(const uint8_t *s, size_t len,
										 size_t *pos, const char *word);

/*
 * The writer: text appended to a growing buffer of maas_kalloc memory.  An
 * allocation failure is remembered in oom (later appends do nothing), so a
 * caller checks once at the end.
 */
typedef struct MaasBuf
{
	char	   *data;			/* NUL-terminated while not oom */
	size_t		len;
	size_t		cap;
	bool		oom;
} MaasBuf;

extern void maas_buf_init(MaasBuf *buf);
extern void maas_buf_append(MaasBuf *buf, const char *s, size_t len);
extern void maas_buf_puts(MaasBuf *buf, const char *s);
extern void maas_buf_printf(MaasBuf *buf, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* a JSON string literal, quoted and escaped; s must be valid UTF-8 */
extern void maas_json_write_string(MaasBuf *buf, const char *s, size_t len);

/*
 * A number that reads back as the same double (or float, when as_float,
 * in the fewest digits that do); non-finite values are written as null.
 */
extern void maas_json_write_number(MaasBuf *buf, double v, bool as_float);

#endif							/* MAAS_JSON_H */
