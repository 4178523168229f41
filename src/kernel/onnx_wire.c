/*
 * onnx_wire.c
 *		The ONNX reader's context -- the memory budget, interrupt ticks,
 *		messages that say where they are -- and the protobuf wire format:
 *		tags and wire types checked against onnx.proto, varints, lengths
 *		checked against the enclosing message, packed repeated fields,
 *		strings (onnx_read.c says how the reader walks a message).
 */
#include "onnx_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

const MsgSpec onnx_packed_spec = {"packed field", NULL, 0};


/* ----------------------------------------------------------------
 *		the reader: budget, ticks, messages with their context
 * ----------------------------------------------------------------
 */

/* bytes of s to show in a message: at most SHOW_NAME, whole characters */
int
onnx_show_len(const char *s)
{
	size_t		n = strlen(s);

	if (n <= SHOW_NAME)
		return (int) n;
	n = SHOW_NAME;
	while (n > 0 && ((uint8_t) s[n] & 0xC0) == 0x80)
		n--;
	return (int) n;
}

/* drop a partial UTF-8 sequence that a cut left at the end of s[0 .. len) */
size_t
onnx_utf8_trim(const char *s, size_t len)
{
	size_t		i = len;

	while (i > 0 && len - i < 4 && ((uint8_t) s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i > 0 && ((uint8_t) s[i - 1] & 0x80) != 0)
	{
		uint8_t		lead = (uint8_t) s[i - 1];
		size_t		need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;

		if (len - (i - 1) < need)
			return i - 1;
	}
	return len;
}

/* append to the context of messages (", " between parts) */
void
onnx_where_add(Rd *rd, const char *fmt,...)
{
	va_list		ap;
	size_t		cap = sizeof(rd->where);
	size_t		n = rd->where_len;
	int			k;

	if (n > 0 && n + 2 < cap)
	{
		rd->where[n++] = ',';
		rd->where[n++] = ' ';
	}
	if (n + 1 >= cap)
		return;
	va_start(ap, fmt);
	k = vsnprintf(rd->where + n, cap - n, fmt, ap);
	va_end(ap);
	if (k < 0)
		k = 0;
	n = (size_t) k >= cap - n ? cap - 1 : n + (size_t) k;
	n = onnx_utf8_trim(rd->where, n);
	rd->where[n] = '\0';
	rd->where_len = n;
}

void
onnx_where_set(Rd *rd, size_t len)
{
	rd->where_len = len;
	rd->where[len] = '\0';
}

/* record an error, prefixed by the context, and return false */
bool
onnx_fail(Rd *rd, MaasStatus status, const char *fmt,...)
{
	char		msg[MAAS_ERRLEN];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rd->where_len > 0)
		return maas_error(rd->err, status, "%s: %s", rd->where, msg);
	return maas_error(rd->err, status, "%s", msg);
}

void *
onnx_alloc(Rd *rd, size_t size)
{
	void	   *p;

	if (size > rd->budget)
	{
		maas_error(rd->err, MAAS_ERR_LIMIT,
				   "reading the model needs more than %zu bytes of memory",
				   rd->max_memory);
		return NULL;
	}
	p = maas_kalloc(size > 0 ? size : 1);
	if (p == NULL)
	{
		maas_error_nomem(rd->err);
		return NULL;
	}
	rd->budget -= size;
	return p;
}

void *
onnx_alloc_array(Rd *rd, size_t n, size_t size)
{
	size_t		bytes;

	if (!maas_mul_size(n, size, &bytes))
	{
		maas_error(rd->err, MAAS_ERR_LIMIT,
				   "reading the model needs more than %zu bytes of memory",
				   rd->max_memory);
		return NULL;
	}
	return onnx_alloc(rd, bytes);
}


/* ----------------------------------------------------------------
 *		the wire format
 * ----------------------------------------------------------------
 */

bool
onnx_pb_varint(Rd *rd, Cursor *c, uint64_t *value)
{
	size_t		start = c->pos;
	uint64_t	v = 0;
	int			i;

	for (i = 0; i < 10; i++)
	{
		uint8_t		b;

		if (c->pos >= c->end)
			return onnx_fail(rd, MAAS_ERR_INVALID,
						   "truncated protobuf at byte %zu: varint past the end of the %s",
						   start, c->spec->name);
		b = rd->buf[c->pos++];
		if (i == 9)
		{
			if (b & 0x80)
				return onnx_fail(rd, MAAS_ERR_INVALID,
							   "invalid protobuf at byte %zu: varint longer than 10 bytes",
							   start);
			if (b > 1)
				return onnx_fail(rd, MAAS_ERR_INVALID,
							   "invalid protobuf at byte %zu: varint overflows 64 bits",
							   start);
		}
		v |= (uint64_t) (b & 0x7F) << (7 * i);
		if ((b & 0x80) == 0)
			break;
	}
	*value = v;
	return true;
}

const FieldSpec *
onnx_spec_field(const MsgSpec *spec, uint32_t number)
{
	int			i;

	for (i = 0; i < spec->n_fields; i++)
	{
		if (spec->fields[i].number == number)
			return &spec->fields[i];
	}
	return NULL;
}

static const char *
wires_name(uint32_t wires)
{
	switch (wires)
	{
		case W_VARINT:
			return "0 (varint)";
		case W_I64:
			return "1 (64-bit)";
		case W_LEN:
			return "2 (length-delimited)";
		case W_I32:
			return "5 (32-bit)";
		case W_LEN | W_VARINT:
			return "0 or 2 (packed)";
		case W_LEN | W_I32:
			return "5 or 2 (packed)";
		case W_LEN | W_I64:
			return "1 or 2 (packed)";
	}
	return "?";
}

/*
 * Read the next field of the message under c.  At the end of the message
 * f->number is 0.  Checks the tag, the wire type (against onnx.proto for a
 * known field), and that the value lies within the message.
 */
bool
onnx_pb_next(Rd *rd, Cursor *c, Field *f)
{
	uint64_t	tag;
	uint64_t	number;

	f->number = 0;
	f->known = NULL;
	if (c->pos >= c->end)
		return true;
	rd_tick(rd);
	f->at = c->pos;
	if (!onnx_pb_varint(rd, c, &tag))
		return false;
	number = tag >> 3;
	f->wire = (int) (tag & 7);
	if (number == 0 || number > 0x1FFFFFFF)
		return onnx_fail(rd, MAAS_ERR_INVALID,
					   "invalid protobuf at byte %zu: field number %" PRIu64 " in %s",
					   f->at, number, c->spec->name);
	f->known = onnx_spec_field(c->spec, (uint32_t) number);
	if (f->known != NULL && (f->known->wires & (1u << f->wire)) == 0)
		return onnx_fail(rd, MAAS_ERR_INVALID,
					   "invalid protobuf at byte %zu: field %" PRIu64 " (%s) of %s has wire type %d, expected %s",
					   f->at, number, f->known->name, c->spec->name, f->wire,
					   wires_name(f->known->wires));
	switch (f->wire)
	{
		case WT_VARINT:
			if (!onnx_pb_varint(rd, c, &f->value))
				return false;
			break;
		case WT_I64:
		case WT_I32:
			{
				size_t		k = f->wire == WT_I64 ? 8 : 4;

				if (c->end - c->pos < k)
					return onnx_fail(rd, MAAS_ERR_INVALID,
								   "truncated protobuf at byte %zu: %zu-byte value past the end of the %s",
								   c->pos, k, c->spec->name);
				f->value = 0;
				memcpy(&f->value, rd->buf + c->pos, k);
				c->pos += k;
				break;
			}
		case WT_LEN:
			{
				size_t		at = c->pos;
				uint64_t	len;

				if (!onnx_pb_varint(rd, c, &len))
					return false;
				if (len > c->end - c->pos)
					return onnx_fail(rd, MAAS_ERR_INVALID,
								   "truncated protobuf at byte %zu: length %" PRIu64 " past the end (%zu bytes left in the %s)",
								   at, len, c->end - c->pos, c->spec->name);
				f->pos = c->pos;
				f->len = (size_t) len;
				c->pos += (size_t) len;
				break;
			}
		case WT_SGROUP:
		case WT_EGROUP:
			return onnx_fail(rd, MAAS_ERR_INVALID,
						   "invalid protobuf at byte %zu: group (wire type %d) in %s",
						   f->at, f->wire, c->spec->name);
		default:
			return onnx_fail(rd, MAAS_ERR_INVALID,
						   "invalid protobuf at byte %zu: wire type %d in %s",
						   f->at, f->wire, c->spec->name);
	}
	f->number = (uint32_t) number;
	return true;
}

/* the first pass over a message: see onnx_int.h */
bool
onnx_pb_tally(Rd *rd, Span s, const MsgSpec *spec, Tally *t, int n)
{
	Cursor		c = cursor(s.pos, s.len, spec);
	Field		f;
	int			i;

	for (i = 0; i < n; i++)
	{
		t[i].count = 0;
		memset(&t[i].last, 0, sizeof(Span));
	}
	for (;;)
	{
		if (!onnx_pb_next(rd, &c, &f))
			return false;
		if (f.number == 0)
			return true;
		for (i = 0; i < n && t[i].number != f.number; i++)
			;
		if (i == n)
			continue;
		t[i].count++;
		t[i].last = field_span(&f);
		if (t[i].stop)
			return true;
	}
}

/* a varint field declared int32 (or an enum): sign-extended on the wire */
bool
onnx_pb_int32(Rd *rd, const Field *f, int32_t *out)
{
	int64_t		v = (int64_t) f->value;

	if (v < INT32_MIN || v > INT32_MAX)
		return onnx_fail(rd, MAAS_ERR_INVALID,
					   "invalid protobuf at byte %zu: %s %" PRId64 " is out of range for int32",
					   f->at, f->known ? f->known->name : "value", v);
	*out = (int32_t) v;
	return true;
}

/*
 * Count the elements one occurrence of a repeated scalar field adds: one
 * when not packed, else the varints or fixed-size values of its payload.
 * size is 0 for varint elements.
 */
bool
onnx_pb_count(Rd *rd, const Field *f, size_t size, size_t *count)
{
	size_t		n = 0;
	size_t		i;

	if (f->wire != WT_LEN)
	{
		*count += 1;
		return true;
	}
	if (size > 0)
	{
		if (f->len % size != 0)
			return onnx_fail(rd, MAAS_ERR_INVALID,
						   "invalid protobuf at byte %zu: packed %s of %zu bytes is not a multiple of %zu",
						   f->at, f->known->name, f->len, size);
		*count += f->len / size;
		return true;
	}
	/* each varint ends with the one byte of it whose top bit is clear */
	for (i = 0; i < f->len; i++)
	{
		if ((rd->buf[f->pos + i] & 0x80) == 0)
			n++;
	}
	if (f->len > 0 && (rd->buf[f->pos + f->len - 1] & 0x80) != 0)
		return onnx_fail(rd, MAAS_ERR_INVALID,
					   "truncated protobuf at byte %zu: varint past the end of packed %s",
					   f->pos + f->len - 1, f->known->name);
	*count += n;
	return true;
}

/*
 * Visit the elements of one occurrence of a repeated scalar field (as
 * counted by onnx_pb_count), each as its raw 64-bit value, appending through
 * fn (an ElemFn, onnx_int.h).
 */
bool
onnx_pb_elements(Rd *rd, const Field *f, size_t size, ElemFn fn, void *state)
{
	Cursor		c;
	uint32_t	ticks = 0;

	if (f->wire != WT_LEN)
		return fn(rd, state, f->value, f->at);
	c = field_cursor(f, &onnx_packed_spec);
	while (c.pos < c.end)
	{
		size_t		at = c.pos;
		uint64_t	v = 0;

		if (++ticks % (16 * TICK_EVERY) == 0)
			maas_tick(rd->tick);
		if (size == 0)
		{
			if (!onnx_pb_varint(rd, &c, &v))
				return false;
		}
		else
		{
			memcpy(&v, rd->buf + c.pos, size);
			c.pos += size;
		}
		if (!fn(rd, state, v, at))
			return false;
	}
	return true;
}

/* copy a string field, which must be valid UTF-8 without NUL bytes */
bool
onnx_rd_name(Rd *rd, Span s, const char **out, const char *what)
{
	const uint8_t *p = rd->buf + s.pos;
	char	   *copy;

	if (!s.set || s.len == 0)
	{
		*out = "";
		return true;
	}
	if (memchr(p, 0, s.len) != NULL)
		return onnx_fail(rd, MAAS_ERR_INVALID, "%s contains a NUL byte", what);
	if (!maas_utf8_valid(p, s.len))
		return onnx_fail(rd, MAAS_ERR_INVALID, "%s is not valid UTF-8", what);
	if (s.len == SIZE_MAX || (copy = onnx_alloc(rd, s.len + 1)) == NULL)
		return false;
	memcpy(copy, p, s.len);
	copy[s.len] = '\0';
	*out = copy;
	return true;
}

/* copy a bytes field, NUL-terminated (it may hold NUL bytes itself) */
bool
onnx_rd_bytes(Rd *rd, Span s, const char **out, size_t *len)
{
	char	   *copy;

	*len = s.set ? s.len : 0;
	if (*len == 0)
	{
		*out = "";
		return true;
	}
	if ((copy = onnx_alloc(rd, s.len + 1)) == NULL)
		return false;
	memcpy(copy, rd->buf + s.pos, s.len);
	copy[s.len] = '\0';
	*out = copy;
	return true;
}

/* does the span hold exactly the bytes of word */
bool
onnx_span_is(const Rd *rd, Span s, const char *word)
{
	size_t		n = strlen(word);

	return s.set && s.len == n && memcmp(rd->buf + s.pos, word, n) == 0;
}
