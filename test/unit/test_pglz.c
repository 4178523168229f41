/*
 * test_pglz.c
 *		Unit tests of maas's pglz decoder (src/kernel/pglz.c) against
 *		PostgreSQL's own compressor and decompressor (libpgcommon.a): what
 *		PostgreSQL compresses decodes to the same bytes; streams cut short,
 *		with trailing bytes, or with references out of range are refused;
 *		every stream maas accepts PostgreSQL accepts with the same bytes; and
 *		the batch of compressed arrays, on one thread and on two.
 */
#include <math.h>
#include <stdlib.h>

#include "pg_pglz.h"
#include "pglz.h"
#include "unit.h"

/* the bytes of one kind of input, n of them */
typedef enum Kind
{
	ZEROS, RANDOM, PERIODIC, FEW_FLOATS, TEXT, N_KINDS
} Kind;

static void
fill(uint8_t *buf, size_t n, Kind kind, uint64_t *seed)
{
	static const char *const words[] = {"model", "server", "the ", "rows ", "batch", "\n"};

	for (size_t i = 0; i < n; i++)
		switch (kind)
		{
			case ZEROS:
				buf[i] = 0;
				break;
			case RANDOM:
				buf[i] = (uint8_t) (unit_urand(seed) * 256);
				break;
			case PERIODIC:
				buf[i] = (uint8_t) "abcdefg"[i % 7];
				break;
			case FEW_FLOATS:
				/* an image's pixels: mostly 0, else one of 256 levels */
				if (i % 4 == 0 && i + 4 <= n)
				{
					float		v = unit_urand(seed) < 0.5 ? 0.0f :
						(float) ((int) (unit_urand(seed) * 256)) / 255.0f;

					memcpy(buf + i, &v, 4);
					i += 3;
				}
				else
					buf[i] = 0;
				break;
			case TEXT:
				{
					const char *w = words[(int) (unit_urand(seed) * 6)];

					for (; *w && i < n; w++)
						buf[i++] = (uint8_t) *w;
					i--;
				}
				break;
			case N_KINDS:
				break;
		}
}

/*
 * What PostgreSQL compresses, of every kind and many sizes, maas decodes to
 * the original bytes, and refuses for any other expected size
 */
static void
test_round_trip(void)
{
	uint64_t	seed = 7;
	int			compressed = 0;

	for (int kind = 0; kind < N_KINDS; kind++)
		for (size_t n = 1; n <= 20000; n = n < 64 ? n + 1 : n * 5 / 4)
		{
			uint8_t    *raw = malloc(n);
			uint8_t    *comp = malloc(n + 4);
			uint8_t    *out = malloc(n + 1);
			int32_t		clen;

			fill(raw, n, (Kind) kind, &seed);
			clen = pglz_compress((const char *) raw, (int32_t) n, (char *) comp,
								 PGLZ_strategy_always);
			if (clen >= 0)
			{
				compressed++;
				CHECK(maas_pglz_decode(comp, (size_t) clen, out, n));
				CHECK(memcmp(out, raw, n) == 0);
				/* the stream makes n bytes: not one more, not one fewer */
				CHECK(!maas_pglz_decode(comp, (size_t) clen, out, n + 1));
				CHECK(!maas_pglz_decode(comp, (size_t) clen, out, n - 1));
			}
			free(raw);
			free(comp);
			free(out);
		}
	/* random bytes do not shrink; everything else did */
	CHECK(compressed > 200);
}

/* a stream made by hand: literal bytes and references */
typedef struct Stream
{
	uint8_t		b[64];
	size_t		n;
	size_t		ctrl;			/* where the control byte being filled is */
	int			items;			/* items under it */
} Stream;

static void
item(Stream *s, bool ref)
{
	if (s->items % 8 == 0)
	{
		s->ctrl = s->n;
		s->b[s->n++] = 0;
	}
	if (ref)
		s->b[s->ctrl] |= (uint8_t) (1 << (s->items % 8));
	s->items++;
}

static void
lit(Stream *s, uint8_t c)
{
	item(s, false);
	s->b[s->n++] = c;
}

static void
ref(Stream *s, int off, int len)
{
	item(s, true);
	if (len >= 18)
	{
		s->b[s->n++] = (uint8_t) (((off >> 4) & 0xf0) | 0x0f);
		s->b[s->n++] = (uint8_t) (off & 0xff);
		s->b[s->n++] = (uint8_t) (len - 18);
	}
	else
	{
		s->b[s->n++] = (uint8_t) (((off >> 4) & 0xf0) | (len - 3));
		s->b[s->n++] = (uint8_t) (off & 0xff);
	}
}

/* does PostgreSQL's decoder take s as a whole stream of rawlen bytes */
static bool
pg_takes(const uint8_t *s, size_t n, size_t rawlen, uint8_t *out)
{
	return pglz_decompress((const char *) s, (int32_t) n, (char *) out, (int32_t) rawlen,
						   true) == (int32_t) rawlen;
}

static void
test_hand_made(void)
{
	Stream		s = {0};
	uint8_t		out[600];
	uint8_t		want[600];

	/* "ab", then a reference overlapping what it writes: a run of "ab" */
	lit(&s, 'a');
	lit(&s, 'b');
	ref(&s, 2, 273);
	for (int i = 0; i < 275; i++)
		want[i] = (uint8_t) "ab"[i % 2];
	CHECK(maas_pglz_decode(s.b, s.n, out, 275));
	CHECK(memcmp(out, want, 275) == 0);
	CHECK(pg_takes(s.b, s.n, 275, out) && memcmp(out, want, 275) == 0);
	/* a second control byte: eight items, then more */
	for (int i = 0; i < 6; i++)
		lit(&s, (uint8_t) ('0' + i));
	ref(&s, 4, 3);
	memcpy(want + 275, "012345234", 9);
	CHECK(maas_pglz_decode(s.b, s.n, out, 284));
	CHECK(memcmp(out, want, 284) == 0);
	/* cut anywhere, the stream is refused; so is a byte more */
	for (size_t cut = 0; cut < s.n; cut++)
		CHECK(!maas_pglz_decode(s.b, cut, out, 284));
	s.b[s.n] = 0;
	CHECK(!maas_pglz_decode(s.b, s.n + 1, out, 284));
	/*
	 * a last group of literals, in a block of its own size, expected to
	 * make a byte more than it has: refused, without a read past its end
	 */
	{
		uint8_t    *last = malloc(8);

		memcpy(last, "\0abcdefg", 8);
		CHECK(maas_pglz_decode(last, 8, out, 7) && memcmp(out, "abcdefg", 7) == 0);
		CHECK(!maas_pglz_decode(last, 8, out, 8));
		CHECK(!maas_pglz_decode(last, 7, out, 7));
		free(last);
	}
	/* nothing to decode is good only for nothing */
	CHECK(maas_pglz_decode(s.b, 0, out, 0));
	CHECK(!maas_pglz_decode(s.b, 0, out, 1));
}

/* references PostgreSQL's decoder refuses too */
static void
test_bad_references(void)
{
	uint8_t		out[64];

	{
		/* an offset of 0 */
		Stream		s = {0};

		lit(&s, 'x');
		ref(&s, 0, 3);
		CHECK(!maas_pglz_decode(s.b, s.n, out, 4));
		CHECK(!pg_takes(s.b, s.n, 4, out));
	}
	{
		/* an offset back before the output */
		Stream		s = {0};

		lit(&s, 'x');
		lit(&s, 'y');
		ref(&s, 3, 3);
		CHECK(!maas_pglz_decode(s.b, s.n, out, 5));
		CHECK(!pg_takes(s.b, s.n, 5, out));
	}
	{
		/* a reference first of all */
		Stream		s = {0};

		ref(&s, 1, 3);
		CHECK(!maas_pglz_decode(s.b, s.n, out, 3));
		CHECK(!pg_takes(s.b, s.n, 3, out));
	}
	{
		/* a tag cut after its first byte, and a long one before its third */
		Stream		s = {0};

		lit(&s, 'x');
		ref(&s, 1, 20);
		CHECK(maas_pglz_decode(s.b, s.n, out, 21));
		CHECK(!maas_pglz_decode(s.b, s.n - 1, out, 21));
		CHECK(!maas_pglz_decode(s.b, s.n - 2, out, 21));
		CHECK(!pg_takes(s.b, s.n - 1, 21, out));
	}
	{
		/*
		 * a reference past the end of the output: PostgreSQL cuts it short
		 * and takes the stream; maas refuses it, so its caller asks
		 * PostgreSQL, which decides
		 */
		Stream		s = {0};

		lit(&s, 'x');
		ref(&s, 1, 10);
		CHECK(!maas_pglz_decode(s.b, s.n, out, 5));
		CHECK(maas_pglz_decode(s.b, s.n, out, 11));
	}
}

/*
 * Every change of one byte, and every cut, of streams PostgreSQL made: what
 * maas takes, PostgreSQL takes, with the same bytes
 */
static void
test_never_more_than_postgres(void)
{
	uint64_t	seed = 11;
	size_t		n = 3156;
	uint8_t    *raw = malloc(n);
	uint8_t    *comp = malloc(n + 4);
	uint8_t    *a = malloc(n);
	uint8_t    *b = malloc(n);
	long		taken = 0,
				refused = 0;

	for (int kind = 0; kind < N_KINDS; kind++)
	{
		int32_t		clen;

		fill(raw, n, (Kind) kind, &seed);
		clen = pglz_compress((const char *) raw, (int32_t) n, (char *) comp, PGLZ_strategy_always);
		if (clen < 0)
			continue;
		/* each stream in a block of its own size: AddressSanitizer sees a read past it */
		for (int32_t at = 0; at < clen; at++)
			for (int v = 0; v < 256; v += 37)
			{
				uint8_t    *bad = malloc((size_t) clen);

				memcpy(bad, comp, (size_t) clen);
				bad[at] ^= (uint8_t) (v + 1);
				if (maas_pglz_decode(bad, (size_t) clen, a, n))
				{
					taken++;
					CHECK(pg_takes(bad, (size_t) clen, n, b));
					CHECK(memcmp(a, b, n) == 0);
				}
				else
					refused++;
				free(bad);
			}
		for (int32_t cut = 0; cut < clen; cut++)
		{
			uint8_t    *part = malloc((size_t) cut);

			memcpy(part, comp, (size_t) cut);
			CHECK(!maas_pglz_decode(part, (size_t) cut, a, n));
			free(part);
		}
	}
	/* both outcomes were seen */
	CHECK(taken > 0 && refused > 0);
	free(raw);
	free(comp);
	free(a);
	free(b);
}

/* one array of a batch: a header of five int32, then n floats */
#define HEAD_INTS	5

static int32_t
compress_array(const int32_t head[HEAD_INTS], const float *v, size_t n, uint8_t *out)
{
	size_t		raw = sizeof(int32_t) * HEAD_INTS + sizeof(float) * n;
	uint8_t    *buf = malloc(raw);
	int32_t		clen;

	memcpy(buf, head, sizeof(int32_t) * HEAD_INTS);
	memcpy(buf + sizeof(int32_t) * HEAD_INTS, v, sizeof(float) * n);
	clen = pglz_compress((const char *) buf, (int32_t) raw, (char *) out, PGLZ_strategy_always);
	free(buf);
	return clen;
}

static void
arrays_on(int threads)
{
	enum
	{
		N = 200, F = 784
	};
	const int32_t head[HEAD_INTS] = {1, 0, 700, F, 1};
	MaasPglzArray a[N];
	uint8_t    *comp = malloc((size_t) N * (F * 4 + 64));
	float	   *rows = malloc(sizeof(float) * N * F);
	float	   *want = malloc(sizeof(float) * N * F);
	uint8_t    *scratch = malloc((size_t) threads * (HEAD_INTS * 4 + F * 4));
	uint64_t	seed = 3;
	size_t		at = 0;

	for (int i = 0; i < N; i++)
	{
		int32_t		h[HEAD_INTS];
		int32_t		clen;

		memcpy(h, head, sizeof(h));
		for (int j = 0; j < F; j++)
			want[i * F + j] = unit_urand(&seed) < 0.6 ? 0.0f : (float) (j % 17) / 16.0f;
		if (i == 10)
			want[i * F + 5] = INFINITY;
		if (i == 11)
			want[i * F + F - 1] = NAN;
		if (i == 12)
			h[2] = 23;			/* another element type */
		if (i == 13)
			h[3] = F - 1;		/* another length */
		if (i == 14)
			h[4] = 0;			/* subscripts from 0: not looked at */
		clen = compress_array(h, want + (size_t) i * F, F, comp + at);
		CHECK(clen > 0);
		a[i].src = comp + at;
		a[i].srclen = (size_t) clen;
		a[i].row = rows + (size_t) i * F;
		a[i].ok = false;
		if (i == 15)
			a[i].srclen--;		/* cut short */
		if (i == 16)
			a[i].srclen++;		/* a byte after its end */
		at += (size_t) clen;
	}
	memset(rows, 0xff, sizeof(float) * N * F);
	maas_pglz_arrays(a, N, head, HEAD_INTS * 4, 4 * 4, F, scratch, threads);
	for (int i = 0; i < N; i++)
	{
		bool		bad = i >= 10 && i <= 16 && i != 14;

		CHECK(a[i].ok == !bad);
		if (a[i].ok)
			CHECK(memcmp(a[i].row, want + (size_t) i * F, sizeof(float) * F) == 0);
	}
	free(comp);
	free(rows);
	free(want);
	free(scratch);
}

static void
test_arrays_one_thread(void)
{
	arrays_on(1);
}

static void
test_arrays_two_threads(void)
{
	arrays_on(2);
}

/*
 * The fuzzer's seeds (fuzz_pglz.c's inputs: the size, two bytes, then the
 * stream), one of PostgreSQL's streams of each kind
 */
static int
write_corpus(const char *dir)
{
	uint64_t	seed = 5;

	for (int kind = 0; kind < N_KINDS; kind++)
	{
		uint8_t		raw[1000];
		uint8_t		comp[1006];
		char		name[32];
		int32_t		clen;

		fill(raw, sizeof(raw), (Kind) kind, &seed);
		clen = pglz_compress((const char *) raw, sizeof(raw), (char *) comp + 2,
							 PGLZ_strategy_always);
		if (clen < 0)
			continue;
		comp[0] = sizeof(raw) & 0xff;
		comp[1] = sizeof(raw) >> 8;
		snprintf(name, sizeof(name), "kind%d", kind);
		if (!unit_write_file(dir, name, comp, (size_t) clen + 2))
			return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
		return write_corpus(argv[2]);
	if (argc > 1)
		return 0;				/* no dictionary */
	UNIT_RUN(test_round_trip);
	UNIT_RUN(test_hand_made);
	UNIT_RUN(test_bad_references);
	UNIT_RUN(test_never_more_than_postgres);
	UNIT_RUN(test_arrays_one_thread);
	UNIT_RUN(test_arrays_two_threads);
	return unit_finish("pglz");
}
