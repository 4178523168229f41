/*
 * fixture_data.h
 *		Reading the CSV fixtures of test/fixtures into float arrays, for the
 *		tests of the trees, the trainer and k-means.  Static functions in a
 *		header: each test includes what it needs.
 *
 * Two shapes of file:
 *	- a data set (breast_cancer.csv, iris.csv, wine.csv, diabetes.csv,
 *	  digits.csv): first column an id, last column the target (text or a
 *	  number), every column between them features, where a quoted array
 *	  literal "{v1,v2,...}" counts as its elements.  Classes are the
 *	  distinct targets sorted (numbers numerically, text bytewise), as
 *	  make_gbdt_fixtures.py sorts them.
 *	- a table (xgb_*_test.csv): a header of column names, then numbers
 *	  ("nan" for a missing value).
 *
 * Files are found in $MAAS_FIXTURES, else ../fixtures (the Makefile runs
 * the tests from test/unit).  Memory comes from the test arena.
 */
#ifndef MAAS_FIXTURE_DATA_H
#define MAAS_FIXTURE_DATA_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static char * __attribute__((unused))
fx_read(const char *name, size_t *len)
{
	const char *dir = getenv("MAAS_FIXTURES");
	char		path[1024];
	FILE	   *f;
	long		size;
	char	   *buf;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "../fixtures", name);
	f = fopen(path, "rb");
	if (f == NULL)
	{
		fprintf(stderr, "cannot open fixture %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = maas_kalloc((size_t) size + 1);
	if (buf == NULL || fread(buf, 1, (size_t) size, f) != (size_t) size)
	{
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[size] = '\0';
	if (len)
		*len = (size_t) size;
	return buf;
}

typedef struct FxData
{
	int64_t		n;
	int			d;
	float	   *x;				/* n * d */
	int32_t    *cls;			/* classification */
	float	   *y;				/* regression */
	int			n_classes;
} FxData;

/* the fields of one CSV line (quotes removed); returns the count */
static int __attribute__((unused))
fx_fields(char *line, char **fields, int max)
{
	int			n = 0;
	char	   *p = line;

	while (*p && n < max)
	{
		if (*p == '"')
		{
			char	   *end = strchr(p + 1, '"');

			fields[n++] = p + 1;
			if (end == NULL)
				break;
			*end = '\0';
			p = end + 1;
			if (*p == ',')
				p++;
			continue;
		}
		fields[n++] = p;
		while (*p && *p != ',')
			p++;
		if (*p == ',')
			*p++ = '\0';
	}
	return n;
}

static int __attribute__((unused))
fx_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int __attribute__((unused))
fx_cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static bool __attribute__((unused))
fx_load_dataset(const char *name, bool regression, FxData *out)
{
	char	   *text = fx_read(name, NULL);
	char	   *line;
	char	   *save = NULL;
	int64_t		cap = 4096;
	int64_t		n = 0;
	int			d = -1;
	char	  **targets;
	float	   *x;

	if (text == NULL)
		return false;
	targets = maas_kalloc(sizeof(char *) * cap);
	x = NULL;
	line = strtok_r(text, "\n", &save);	/* the header */
	while ((line = strtok_r(NULL, "\n", &save)) != NULL)
	{
		char	   *fields[4096];
		int			nf = fx_fields(line, fields, 4096);
		int			k = 0;
		float		row[4096];

		if (nf < 3 || n >= cap)
			return false;
		for (int i = 1; i < nf - 1; i++)
		{
			char	   *p = fields[i];

			while (*p)
			{
				char	   *end;

				if (*p == '{' || *p == '}' || *p == ',')
				{
					p++;
					continue;
				}
				row[k++] = strtof(p, &end);
				if (end == p)
					return false;
				p = end;
			}
		}
		if (d < 0)
		{
			d = k;
			x = maas_kalloc(sizeof(float) * cap * d);
		}
		if (k != d)
			return false;
		memcpy(x + n * d, row, sizeof(float) * d);
		targets[n++] = fields[nf - 1];
	}
	out->n = n;
	out->d = d;
	out->x = x;
	out->cls = maas_kalloc(sizeof(int32_t) * (n ? n : 1));
	out->y = maas_kalloc(sizeof(float) * (n ? n : 1));
	out->n_classes = 0;
	if (regression)
	{
		for (int64_t i = 0; i < n; i++)
			out->y[i] = strtof(targets[i], NULL);
		return true;
	}
	{
		char	   *end;
		bool		numeric = true;

		for (int64_t i = 0; i < n; i++)
		{
			strtod(targets[i], &end);
			numeric &= end != targets[i] && *end == '\0';
		}
		if (numeric)
		{
			double	   *keys = maas_kalloc(sizeof(double) * n);
			int			nk = 0;

			for (int64_t i = 0; i < n; i++)
				keys[i] = strtod(targets[i], NULL);
			qsort(keys, n, sizeof(double), fx_cmp_double);
			for (int64_t i = 0; i < n; i++)
				if (i == 0 || keys[i] != keys[nk - 1])
					keys[nk++] = keys[i];
			for (int64_t i = 0; i < n; i++)
			{
				double		v = strtod(targets[i], NULL);

				for (int c = 0; c < nk; c++)
					if (keys[c] == v)
						out->cls[i] = c;
			}
			out->n_classes = nk;
		}
		else
		{
			char	  **keys = maas_kalloc(sizeof(char *) * n);
			int			nk = 0;

			memcpy(keys, targets, sizeof(char *) * n);
			qsort(keys, n, sizeof(char *), fx_cmp_str);
			for (int64_t i = 0; i < n; i++)
				if (i == 0 || strcmp(keys[i], keys[nk - 1]) != 0)
					keys[nk++] = keys[i];
			for (int64_t i = 0; i < n; i++)
				for (int c = 0; c < nk; c++)
					if (strcmp(keys[c], targets[i]) == 0)
						out->cls[i] = c;
			out->n_classes = nk;
		}
	}
	return true;
}

/* the rows with (i % 5 == 4) == test, as make_gbdt_fixtures.py splits */
static void __attribute__((unused))
fx_split(const FxData *all, bool test, FxData *out)
{
	int64_t		m = 0;

	*out = *all;
	out->x = maas_kalloc(sizeof(float) * all->n * all->d);
	out->cls = maas_kalloc(sizeof(int32_t) * all->n);
	out->y = maas_kalloc(sizeof(float) * all->n);
	for (int64_t i = 0; i < all->n; i++)
		if ((i % 5 == 4) == test)
		{
			memcpy(out->x + m * all->d, all->x + i * all->d, sizeof(float) * all->d);
			out->cls[m] = all->cls[i];
			out->y[m] = all->y[i];
			m++;
		}
	out->n = m;
}

typedef struct FxTable
{
	int			n_cols;
	int64_t		n_rows;
	char	  **names;
	float	   *v;				/* n_rows * n_cols */
} FxTable;

static bool __attribute__((unused))
fx_load_table(const char *name, FxTable *t)
{
	char	   *text = fx_read(name, NULL);
	char	   *line;
	char	   *save = NULL;
	char	   *fields[4096];
	int64_t		cap = 4096;

	if (text == NULL)
		return false;
	line = strtok_r(text, "\n", &save);
	t->n_cols = fx_fields(line, fields, 4096);
	t->names = maas_kalloc(sizeof(char *) * t->n_cols);
	memcpy(t->names, fields, sizeof(char *) * t->n_cols);
	t->v = maas_kalloc(sizeof(float) * cap * t->n_cols);
	t->n_rows = 0;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL)
	{
		int			nf = fx_fields(line, fields, 4096);

		if (nf != t->n_cols || t->n_rows >= cap)
			return false;
		for (int i = 0; i < nf; i++)
			t->v[t->n_rows * t->n_cols + i] = strcmp(fields[i], "nan") == 0 ? NAN :
				strtof(fields[i], NULL);
		t->n_rows++;
	}
	return true;
}

/* index of the first column whose name starts with prefix, or -1 */
static int __attribute__((unused))
fx_column(const FxTable *t, const char *prefix)
{
	for (int i = 0; i < t->n_cols; i++)
		if (strncmp(t->names[i], prefix, strlen(prefix)) == 0)
			return i;
	return -1;
}

#endif							/* MAAS_FIXTURE_DATA_H */
