/*
 * bench_read.c
 *		Time and memory of reading an ONNX model: the file's bytes alone,
 *		maas's reader, the reader plus one copy of every initializer (what
 *		an import that writes safetensors costs at least), and, when built
 *		with WITH_PROTOBUF_C, protobuf-c's generated unpack of the same
 *		bytes.  This is the measurement behind onnx_read.c's choice.  Mode
 *		translate is the whole import as maas_register does it in the
 *		kernel (src/server/onnx.c): read, translate, write the safetensors.
 *
 *	bench_read MODE FILE		MODE: read, maas, import, translate, protobuf-c
 *
 * Each mode runs in its own process (make bench runs them in turn), so the
 * peak RSS it prints is its own.  Times are the best of REPS runs with the
 * file in the page cache; one line per mode:
 *	MODE: best T ms (median M ms), allocated A MB, peak RSS R MB
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "onnx.h"
#include "onnx_translate.h"

#ifdef WITH_PROTOBUF_C
#include "onnx.pb-c.h"
#endif

#define REPS 7

/* maas_kalloc for the benchmark: malloc, counting what is asked for */
static size_t allocated;

void *
maas_kalloc(size_t size)
{
	allocated += size;
	return malloc(size > 0 ? size : 1);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	   *fp = fopen(path, "rb");
	uint8_t    *buf;
	long		n;

	if (fp == NULL)
	{
		perror(path);
		exit(2);
	}
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, fp) != (size_t) n)
	{
		perror(path);
		exit(2);
	}
	fclose(fp);
	*len = (size_t) n;
	return buf;
}

#ifdef WITH_PROTOBUF_C
static void *
pbc_alloc(void *data, size_t size)
{
	(void) data;
	allocated += size;
	return malloc(size);
}

static void
pbc_free(void *data, void *p)
{
	(void) data;
	free(p);
}
#endif

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char *mode;
	double		times[REPS];
	size_t		alloc_once = 0;
	size_t		len = 0;
	struct rusage ru;
	int			r;

	if (argc != 3)
	{
		fprintf(stderr, "usage: bench_read read|maas|import|translate|protobuf-c FILE\n");
		return 2;
	}
	mode = argv[1];
	free(read_file(argv[2], &len));	/* into the page cache */

	for (r = 0; r < REPS; r++)
	{
		double		t0 = now_ms();
		uint8_t    *buf = read_file(argv[2], &len);
		double		t1 = now_ms();
		MaasError	err;

		allocated = 0;
		if (strcmp(mode, "read") == 0)
			times[r] = t1 - t0;
		else if (strcmp(mode, "maas") == 0 || strcmp(mode, "import") == 0 ||
				 strcmp(mode, "translate") == 0)
		{
			MaasOnnxModel *m = maas_onnx_read(buf, len, NULL, NULL, &err);
			double		t2;

			if (m == NULL)
			{
				fprintf(stderr, "%s: %s\n", argv[2], err.msg);
				return 1;
			}
			if (strcmp(mode, "translate") == 0)
			{
				MaasOnnxImport imp;
				size_t		st_len;
				uint8_t    *st;

				if (!maas_onnx_translate(m, NULL, &imp, NULL, &err) ||
					(st = maas_onnx_write_weights(&imp, &st_len, &err)) == NULL)
				{
					fprintf(stderr, "%s: %s\n", argv[2], err.msg);
					return 1;
				}
				times[r] = now_ms() - t0;	/* read + parse + translate + write */
				free(st);
			}
			else if (strcmp(mode, "import") == 0)
			{
				/* one copy of every initializer into one blob */
				size_t		total = 0;
				uint8_t    *blob;
				int32_t		i;

				for (i = 0; i < m->graph.n_initializers; i++)
					total += m->graph.initializers[i].nbytes;
				blob = maas_kalloc(total);
				total = 0;
				for (i = 0; i < m->graph.n_initializers; i++)
				{
					memcpy(blob + total, m->graph.initializers[i].data,
						   m->graph.initializers[i].nbytes);
					total += m->graph.initializers[i].nbytes;
				}
				t2 = now_ms();
				times[r] = t2 - t0;	/* read + parse + copy */
				free(blob);
			}
			else
				times[r] = now_ms() - t1;
			/* the reader's blocks leak here: counted, not reused */
		}
#ifdef WITH_PROTOBUF_C
		else if (strcmp(mode, "protobuf-c") == 0)
		{
			ProtobufCAllocator a = {pbc_alloc, pbc_free, NULL};
			Onnx__ModelProto *m = onnx__model_proto__unpack(&a, len, buf);
			double		t2 = now_ms();

			if (m == NULL)
			{
				fprintf(stderr, "%s: protobuf-c could not unpack it\n", argv[2]);
				return 1;
			}
			times[r] = t2 - t1;
			onnx__model_proto__free_unpacked(m, &a);
		}
#endif
		else
		{
			fprintf(stderr, "unknown mode \"%s\"%s\n", mode,
					strcmp(mode, "protobuf-c") == 0 ? " (built without protobuf-c)" : "");
			return 2;
		}
		if (r == 0)
			alloc_once = allocated;
		free(buf);
	}
	getrusage(RUSAGE_SELF, &ru);
	{
		double		best;
		double		median;

		qsort(times, REPS, sizeof(double), cmp_double);
		best = times[0];
		median = times[REPS / 2];
		printf("%-10s best %8.3f ms (median %8.3f ms), allocated %8.3f MB, peak RSS %6.1f MB (file %.1f MB)\n",
			   mode, best, median, alloc_once / 1e6, ru.ru_maxrss / 1024.0, len / 1e6);
	}
	return 0;
}
