/*
 * tokdrv.c
 *		A command-line driver of the tokenizer kernels, for the comparison
 *		scripts beside it (compare_bpe, compare_wordpiece) and the benchmark.
 *
 *	tokdrv encode SPEC [--no-special]	stdin: JSON strings, one a line;
 *										stdout: their ids, space-separated;
 *										also checks decode(encode(s)) == s
 *										for BPE and says so on stderr
 *	tokdrv decode SPEC					stdin: ids a line; stdout: the text,
 *										hex
 *	tokdrv unicode						every code point's flags, lower case
 *										and NFD, one a line, hex
 *	tokdrv classes						the code point ranges of GPT-2's
 *										classes L, N and \s, as JSON
 *	tokdrv bench SPEC CORPUS [ROUNDS]	build time, encode MB/s
 *
 * SPEC is a file holding the "tokenizer" object of a model config (any form
 * maas_tokenizer_build takes).  Exit status 0 on success, 1 on a failed
 * round trip or an error, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "tokenizer.h"
#include "unicode.h"

/* maas_kalloc: blocks on a list, freed per line once the tokenizer is built */
typedef struct Block
{
	struct Block *next;
	long double align;
} Block;

static Block *scratch_blocks = NULL;
static bool keep = true;

void *
maas_kalloc(size_t size)
{
	Block	   *b = malloc(sizeof(Block) + size);

	if (b == NULL)
		return NULL;
	if (!keep)
	{
		b->next = scratch_blocks;
		scratch_blocks = b;
	}
	return b + 1;
}

static void
scratch_reset(void)
{
	while (scratch_blocks != NULL)
	{
		Block	   *n = scratch_blocks->next;

		free(scratch_blocks);
		scratch_blocks = n;
	}
}

static char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		n;

	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t) n;
	return buf;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);	/* CPU time: the machine is shared */
	return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

static MaasTokenizer *
build(const char *path, double *parse_ms, double *build_ms)
{
	size_t		len;
	char	   *text = read_file(path, &len);
	MaasError	err;
	double		t0 = now();
	MaasJson   *spec = maas_json_parse(text, len, 0, NULL, &err);
	double		t1 = now();
	MaasTokenizer *tok;

	if (spec == NULL)
	{
		fprintf(stderr, "%s: %s\n", path, err.msg);
		exit(1);
	}
	tok = maas_tokenizer_build(spec, 0, NULL, &err);
	if (tok == NULL)
	{
		fprintf(stderr, "%s: %s (%s)\n", path, err.msg, maas_status_name(err.status));
		exit(1);
	}
	if (parse_ms)
		*parse_ms = (t1 - t0) * 1e3;
	if (build_ms)
		*build_ms = (now() - t1) * 1e3;
	free(text);
	return tok;
}

/* the next line of stdin, without its newline; NULL at the end */
static char *
next_line(size_t *len)
{
	static char *buf = NULL;
	static size_t cap = 0;
	ssize_t		n = getline(&buf, &cap, stdin);

	if (n < 0)
		return NULL;
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	*len = (size_t) n;
	return buf;
}

static int
cmd_encode(const char *path, bool special)
{
	MaasTokenizer *tok = build(path, NULL, NULL);
	MaasEncodeOptions opt = maas_encode_defaults(tok);
	char	   *line;
	size_t		len;
	long		lineno = 0;
	long		bad_trips = 0;

	opt.add_special = special;
	keep = false;
	while ((line = next_line(&len)) != NULL)
	{
		MaasError	err;
		MaasJson   *s = maas_json_parse(line, len, 0, NULL, &err);
		int32_t		n;
		int32_t    *ids;

		lineno++;
		if (s == NULL || s->type != MAAS_JSON_STRING)
		{
			fprintf(stderr, "line %ld: not a JSON string\n", lineno);
			return 1;
		}
		ids = maas_tokenizer_encode(tok, s->u.string, (size_t) s->n, &opt, &n,
									NULL, &err);
		if (ids == NULL)
		{
			printf("ERROR %s\n", err.msg);
			scratch_reset();
			continue;
		}
		for (int32_t i = 0; i < n; i++)
			printf(i ? " %d" : "%d", ids[i]);
		printf("\n");
		if (tok->kind == MAAS_TOKENIZER_BPE)
		{
			size_t		tlen;
			char	   *back = maas_tokenizer_decode(tok, ids, (size_t) n, false,
													 &tlen, NULL, &err);

			if (back == NULL || tlen != (size_t) s->n ||
				memcmp(back, s->u.string, tlen) != 0)
			{
				fprintf(stderr, "line %ld: decode(encode(s)) != s\n", lineno);
				bad_trips++;
			}
		}
		scratch_reset();
	}
	if (tok->kind == MAAS_TOKENIZER_BPE)
		fprintf(stderr, "round trips: %ld of %ld lines identical\n",
				lineno - bad_trips, lineno);
	return bad_trips == 0 ? 0 : 1;
}

static int
cmd_decode(const char *path)
{
	MaasTokenizer *tok = build(path, NULL, NULL);
	char	   *line;
	size_t		len;
	int32_t    *ids = NULL;
	size_t		cap = 0;

	keep = false;
	while ((line = next_line(&len)) != NULL)
	{
		size_t		n = 0;
		char	   *p = line;
		MaasError	err;
		size_t		tlen;
		char	   *text;

		for (;;)
		{
			char	   *end;
			long		v = strtol(p, &end, 10);

			if (end == p)
				break;
			if (n == cap)
			{
				cap = cap ? 2 * cap : 64;
				ids = realloc(ids, cap * sizeof(int32_t));
			}
			ids[n++] = (int32_t) v;
			p = end;
		}
		text = maas_tokenizer_decode(tok, ids, n, false, &tlen, NULL, &err);
		if (text == NULL)
			printf("ERROR %s\n", err.msg);
		else
		{
			for (size_t i = 0; i < tlen; i++)
				printf("%02x", (unsigned char) text[i]);
			printf("\n");
		}
		scratch_reset();
	}
	return 0;
}

static int
cmd_unicode(void)
{
	static uint32_t tmp[64];

	for (uint32_t cp = 0; cp < 0x110000; cp++)
	{
		uint32_t	out[8];
		uint32_t	nfd[8];
		int			n;
		size_t		m;

		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		printf("%x %x", cp, maas_uc_flags(cp));
		n = maas_uc_lower(cp, out);
		printf(" ");
		for (int i = 0; i < n; i++)
			printf(i ? ".%x" : "%x", out[i]);
		m = maas_uc_nfd(&cp, 1, nfd, tmp);
		printf(" ");
		for (size_t i = 0; i < m; i++)
			printf(i ? ".%x" : "%x", nfd[i]);
		printf(" %d\n", maas_uc_ccc(cp));
	}
	return 0;
}

/* the ranges of code points with GPT-2's classes, as JSON */
static int
cmd_classes(void)
{
	static const struct
	{
		const char *name;
		uint16_t	flag;
	}			classes[] = {
		{"L", MAAS_UC_LETTER}, {"N", MAAS_UC_NUMBER}, {"S", MAAS_UC_SPACE}
	};

	printf("{\"version\": \"%s\"", maas_unicode_version);
	for (int c = 0; c < 3; c++)
	{
		int			n = 0;
		uint32_t	start = 0;
		bool		in = false;

		printf(", \"%s\": [", classes[c].name);
		for (uint32_t cp = 0; cp <= 0x110000; cp++)
		{
			bool		has = cp < 0x110000 && (maas_uc_flags(cp) & classes[c].flag);

			if (has && !in)
				start = cp;
			if (!has && in)
				printf("%s[%u, %u]", n++ ? ", " : "", start, cp - 1);
			in = has;
		}
		printf("]");
	}
	printf("}\n");
	return 0;
}

static int
cmd_bench(const char *path, const char *corpus, int rounds)
{
	double		parse_ms,
				build_ms;
	MaasTokenizer *tok = build(path, &parse_ms, &build_ms);
	MaasEncodeOptions opt = maas_encode_defaults(tok);
	size_t		len;
	char	   *text = read_file(corpus, &len);
	double		best = 1e30;
	long		ids_total = 0;

	opt.max_length = 0;
	keep = false;
	for (int r = 0; r < rounds; r++)
	{
		double		t0 = now();
		char	   *p = text;
		char	   *end = text + len;

		ids_total = 0;
		while (p < end)
		{
			char	   *nl = memchr(p, '\n', (size_t) (end - p));
			size_t		n = nl ? (size_t) (nl - p) : (size_t) (end - p);
			MaasError	err;
			int32_t		k;

			if (maas_tokenizer_encode(tok, p, n, &opt, &k, NULL, &err) == NULL)
			{
				fprintf(stderr, "encode: %s\n", err.msg);
				return 1;
			}
			ids_total += k;
			scratch_reset();
			p += n + 1;
		}
		if (now() - t0 < best)
			best = now() - t0;
	}
	printf("%s build_ms %.1f (json parse %.1f) encode_mb_s %.2f ids %ld bytes %zu\n",
		   maas_tokenizer_kind_name(tok->kind), build_ms, parse_ms,
		   len / best / 1e6, ids_total, len);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "encode") == 0)
		return cmd_encode(argv[2], !(argc >= 4 && strcmp(argv[3], "--no-special") == 0));
	if (argc == 3 && strcmp(argv[1], "decode") == 0)
		return cmd_decode(argv[2]);
	if (argc == 2 && strcmp(argv[1], "unicode") == 0)
		return cmd_unicode();
	if (argc == 2 && strcmp(argv[1], "classes") == 0)
		return cmd_classes();
	if (argc >= 4 && strcmp(argv[1], "bench") == 0)
		return cmd_bench(argv[2], argv[3], argc >= 5 ? atoi(argv[4]) : 3);
	fprintf(stderr, "usage: tokdrv encode|decode|unicode|bench ...\n");
	return 2;
}
