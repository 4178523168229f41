/*
 * preprocess.c
 *		The holdout split, the permutation, imputing, one-hot categories and
 *		scaling of maas_train's rows (see preprocess.h).
 *
 * Sums are kept in double.  Means and variances come from one pass over
 * the training rows, each slot shifted by its value in the first row,
 * which keeps the variance accurate when the mean is large against the
 * spread.
 */
#include "preprocess.h"
#include "net.h"
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TICK_ROWS		4096
#define MAX_WIDTH		100000000

static inline double
max_double(double a, double b)
{
	return a > b ? a : b;
}

bool
maas_prep_split(int64_t n, const int32_t *cls, int n_classes,
				double test_size, uint64_t seed, int32_t *order,
				int64_t *n_test, MaasError *err)
{
	uint64_t	rng = seed;
	int64_t		held = 0;

	for (int64_t r = 0; r < n; r++)
		order[r] = (int32_t) r;
	maas_shuffle(order, n, &rng);

	if (cls != NULL)
	{
		int64_t    *count = maas_kalloc_array((size_t) n_classes, sizeof(int64_t));
		int64_t    *quota = maas_kalloc_array((size_t) n_classes, sizeof(int64_t));
		int32_t    *tmp = maas_kalloc_array((size_t) n, sizeof(int32_t));
		int64_t		ti = 0;
		int64_t		si;

		if (count == NULL || quota == NULL || tmp == NULL)
			return maas_error_nomem(err);
		memset(count, 0, sizeof(int64_t) * (size_t) n_classes);
		for (int64_t r = 0; r < n; r++)
			count[cls[r]]++;
		for (int c = 0; c < n_classes; c++)
		{
			quota[c] = (int64_t) floor((double) count[c] * test_size + 0.5);
			if (quota[c] > count[c] - 1)
				quota[c] = count[c] - 1;
			held += quota[c];
		}
		/* the first quota[c] rows of each class (in shuffled order) are held out */
		si = n - held;
		for (int64_t r = 0; r < n; r++)
		{
			int32_t		c = cls[order[r]];

			if (quota[c] > 0)
			{
				quota[c]--;
				tmp[si++] = order[r];
			}
			else
				tmp[ti++] = order[r];
		}
		memcpy(order, tmp, sizeof(int32_t) * (size_t) n);
	}
	else
	{
		/* shuffled already: the last rows are the holdout */
		held = (int64_t) floor((double) n * test_size + 0.5);
	}
	*n_test = held;
	return true;
}

/* rows of a cycle asked for ahead of their copy (maas_prep_permute) */
#define PERMUTE_AHEAD	6

/* ask for the bytes of a row, up to 4 kB of it */
static inline void
prefetch_row(const float *row, size_t bytes)
{
	const char *p = (const char *) row;

	for (size_t off = 0; off < bytes && off < 4096; off += 64)
		__builtin_prefetch(p + off);
}

bool
maas_prep_permute(int64_t n, const int32_t *order, float *x, int width,
				  int32_t *cls, float *y, const MaasTick *tick, MaasError *err)
{
	size_t		rb = sizeof(float) * (size_t) width;
	float	   *tmp = maas_kalloc_array((size_t) width, sizeof(float));
	bool	   *done = maas_kalloc_array((size_t) n, sizeof(bool));

	if (tmp == NULL || done == NULL)
		return maas_error_nomem(err);
	memset(done, 0, sizeof(bool) * (size_t) n);

	/*
	 * Follow each cycle of the permutation, one row held aside.  The rows
	 * are visited in random order: the row PERMUTE_AHEAD places further
	 * along the cycle is asked for before each copy, so that the cache
	 * misses of the next rows overlap the copies.
	 */
	for (int64_t start = 0; start < n; start++)
	{
		int64_t		j = start;
		int64_t		ahead = start;
		int32_t		tc = 0;
		float		ty = 0;

		if (done[start])
			continue;
		for (int d = 0; d < PERMUTE_AHEAD; d++)
			ahead = order[ahead];
		if ((start & (TICK_ROWS - 1)) == 0)
			maas_tick(tick);
		memcpy(tmp, x + (size_t) start * width, rb);
		if (cls)
			tc = cls[start];
		if (y)
			ty = y[start];
		for (;;)
		{
			int64_t		k = order[j];

			done[j] = true;
			if (k == start)
			{
				memcpy(x + (size_t) j * width, tmp, rb);
				if (cls)
					cls[j] = tc;
				if (y)
					y[j] = ty;
				break;
			}
			prefetch_row(x + (size_t) ahead * width, rb);
			ahead = order[ahead];
			memcpy(x + (size_t) j * width, x + (size_t) k * width, rb);
			if (cls)
				cls[j] = cls[k];
			if (y)
				y[j] = y[k];
			j = k;
		}
	}
	return true;
}

/* maas_prep_impute's pass over the training rows (see scale_sums) */
static bool
impute_sums(const float *x, int64_t nt, int rw, const MaasTick *tick,
			double *restrict sum, int64_t *restrict cnt)
{
	int			any_nan = 0;

	for (int64_t r = 0; r < nt; r++)
	{
		const float *restrict v = x + (size_t) r * rw;

		if ((r & (TICK_ROWS - 1)) == 0)
			maas_tick(tick);
		for (int j = 0; j < rw; j++)
		{
			int			nan = isnan(v[j]);

			sum[j] += nan ? 0.0 : v[j];
			cnt[j] += !nan;
			any_nan |= nan;
		}
	}
	return any_nan != 0;
}

bool
maas_prep_impute(MaasPrepSet *set, MaasImpute impute, const MaasTick *tick,
				 MaasError *err)
{
	int64_t		n = set->n;
	int64_t		nt = set->n_train;
	int			rw = set->raw_width;
	double	   *sum;
	int64_t    *cnt;
	float	   *fill;
	bool		any_nan = false;

	if (impute == MAAS_IMPUTE_NONE)
	{
		for (int i = 0; i < set->n_columns; i++)
			set->columns[i].fill = NULL;
		return true;
	}
	sum = maas_kalloc_array((size_t) rw, sizeof(double));
	cnt = maas_kalloc_array((size_t) rw, sizeof(int64_t));
	fill = maas_kalloc_array((size_t) rw, sizeof(float));
	if (sum == NULL || cnt == NULL || fill == NULL)
		return maas_error_nomem(err);
	memset(sum, 0, sizeof(double) * (size_t) rw);
	memset(cnt, 0, sizeof(int64_t) * (size_t) rw);
	memset(fill, 0, sizeof(float) * (size_t) rw);

	/*
	 * The training rows' sums and counts of every raw slot in one row-major
	 * pass (a category's slot holds its index, never NaN).
	 */
	any_nan = impute_sums(set->x, nt, rw, tick, sum, cnt);
	for (int64_t r = nt; r < n && !any_nan; r++)
		any_nan = !maas_all_finite(set->x + (size_t) r * rw, (size_t) rw);

	for (int i = 0; i < set->n_columns; i++)
	{
		MaasPrepColumn *col = &set->columns[i];

		col->fill = NULL;
		if (col->category)
			continue;
		for (int j = 0; j < col->width; j++)
		{
			int			k = col->offset + j;

			fill[k] = impute == MAAS_IMPUTE_MEAN && cnt[k] > 0 ?
				(float) (sum[k] / cnt[k]) : 0.0f;
		}
		if (impute != MAAS_IMPUTE_ERROR)
		{
			col->fill = maas_kalloc_array((size_t) col->width, sizeof(float));
			if (col->fill == NULL)
				return maas_error_nomem(err);
			memcpy(col->fill, fill + col->offset, sizeof(float) * (size_t) col->width);
		}
	}

	if (any_nan)
	{
		for (int64_t r = 0; r < n; r++)
		{
			float	   *v = set->x + (size_t) r * rw;

			if ((r & (TICK_ROWS - 1)) == 0)
				maas_tick(tick);
			for (int j = 0; j < rw; j++)
				if (isnan(v[j]))
					v[j] = fill[j];
		}
	}
	return true;
}

typedef struct TextIndex
{
	char	   *text;
	int			index;
} TextIndex;

static int
cmp_text_index(const void *a, const void *b)
{
	return strcmp(((const TextIndex *) a)->text, ((const TextIndex *) b)->text);
}

bool
maas_sort_texts(int n, char **texts, int *index, MaasError *err)
{
	TextIndex  *ti = maas_kalloc_array((size_t) (n > 0 ? n : 1), sizeof(TextIndex));

	if (ti == NULL)
		return maas_error_nomem(err);
	for (int i = 0; i < n; i++)
	{
		ti[i].text = texts[i];
		ti[i].index = index[i];
	}
	qsort(ti, (size_t) n, sizeof(TextIndex), cmp_text_index);
	for (int i = 0; i < n; i++)
	{
		texts[i] = ti[i].text;
		index[i] = ti[i].index;
	}
	return true;
}

/* the categories of one column that occur in the training rows, sorted */
static bool
keep_categories(const MaasPrepSet *set, MaasPrepColumn *col, MaasError *err)
{
	size_t		n_seen = (size_t) (col->n_seen > 0 ? col->n_seen : 1);
	bool	   *seen = maas_kalloc_array(n_seen, sizeof(bool));
	int		   *index = maas_kalloc_array(n_seen, sizeof(int));
	int			k = 0;

	col->slot = maas_kalloc_array(n_seen, sizeof(int));
	col->categories = maas_kalloc_array(n_seen, sizeof(char *));
	if (seen == NULL || index == NULL || col->slot == NULL || col->categories == NULL)
		return maas_error_nomem(err);
	memset(seen, 0, sizeof(bool) * n_seen);
	for (int64_t r = 0; r < set->n_train; r++)
	{
		int			c = (int) set->x[(size_t) r * set->raw_width + col->offset];

		if (c >= 0)
			seen[c] = true;
	}
	for (int c = 0; c < col->n_seen; c++)
		if (seen[c])
		{
			col->categories[k] = col->seen[c];
			index[k++] = c;
		}
	if (k == 0)
		return maas_error(err, MAAS_ERR_INVALID,
						  "column \"%s\" has only null values in the training rows",
						  col->name);
	if (!maas_sort_texts(k, col->categories, index, err))
		return false;
	for (int c = 0; c < col->n_seen; c++)
		col->slot[c] = -1;
	col->n_categories = k;
	for (int c = 0; c < k; c++)
		col->slot[index[c]] = c;
	return true;
}

bool
maas_prep_categories(MaasPrepSet *set, MaasError *err)
{
	int			w = 0;

	set->has_categories = false;
	for (int i = 0; i < set->n_columns; i++)
	{
		MaasPrepColumn *col = &set->columns[i];

		col->out_width = col->width;
		if (!col->category)
			continue;
		set->has_categories = true;
		if (!keep_categories(set, col, err))
			return false;
		col->out_width = col->n_categories;
	}

	/* the model input: the columns' slots side by side */
	for (int i = 0; i < set->n_columns; i++)
	{
		MaasPrepColumn *col = &set->columns[i];

		col->out_offset = w;
		w += col->out_width;
		if (w > MAX_WIDTH)
			return maas_error(err, MAAS_ERR_LIMIT,
							  "the one-hot encoded features are too wide");
	}
	set->width = w;
	return true;
}

void
maas_prep_onehot(const MaasPrepSet *set, float *dst, const MaasTick *tick)
{
	int			rw = set->raw_width;
	int			w = set->width;

	for (int64_t r = 0; r < set->n; r++)
	{
		const float *src = set->x + (size_t) r * rw;
		float	   *row = dst + (size_t) r * w;

		if ((r & (TICK_ROWS - 1)) == 0)
			maas_tick(tick);
		for (int i = 0; i < set->n_columns; i++)
		{
			const MaasPrepColumn *col = &set->columns[i];
			float	   *out = row + col->out_offset;

			if (col->category)
			{
				int			c = (int) src[col->offset];

				memset(out, 0, sizeof(float) * (size_t) col->out_width);
				if (c >= 0 && col->slot[c] >= 0)
					out[col->slot[c]] = 1.0f;
			}
			else
				memcpy(out, src + col->offset, sizeof(float) * (size_t) col->out_width);
		}
	}
}

/*
 * The two passes of maas_prep_scale over the rows, each column's sums in
 * row order; the arrays apart from the rows (restrict), so that the loops
 * over a row's columns vectorise.
 */
static void
scale_sums(const float *x, int64_t nt, int w, const MaasTick *tick,
		   const float *restrict x0, double *restrict sum, double *restrict ss,
		   float *restrict lo, float *restrict hi)
{
	for (int64_t r = 0; r < nt; r++)
	{
		const float *restrict v = x + (size_t) r * w;

		if ((r & (TICK_ROWS - 1)) == 0)
			maas_tick(tick);
		for (int j = 0; j < w; j++)
		{
			double		d = (double) v[j] - (double) x0[j];

			sum[j] += d;
			ss[j] += d * d;
			lo[j] = v[j] < lo[j] ? v[j] : lo[j];
			hi[j] = v[j] > hi[j] ? v[j] : hi[j];
		}
	}
}

static void
scale_rows(float *x, int64_t n, int w, const MaasTick *tick,
		   const float *restrict shift, const float *restrict inv)
{
	for (int64_t r = 0; r < n; r++)
	{
		float	   *restrict v = x + (size_t) r * w;

		if ((r & (TICK_ROWS - 1)) == 0)
			maas_tick(tick);
		for (int j = 0; j < w; j++)
			v[j] = (v[j] - shift[j]) * inv[j];
	}
}

/*
 * The statistics of maas_prep_scale from each slot's mean and population
 * variance, and what the standardize layer stores (lo and hi: the range,
 * for min-max; hi becomes the divisor).
 */
static void
scale_finish(MaasPrepSet *set, MaasScale scale, const double *mean,
			 const double *var, float *lo, float *hi)
{
	int			w = set->width;

	for (int j = 0; j < w; j++)
	{
		double		sd = sqrt(var[j]);

		set->var[j] = var[j];
		set->mean[j] = (float) mean[j];
		set->std[j] = (float) (sd > 1e-6 * max_double(1.0, fabs(mean[j])) ? sd : 1.0);
	}

	/* what the standardize layer stores: shift and divisor */
	set->shift = set->mean;
	set->div = set->std;
	if (scale == MAAS_SCALE_MINMAX)
	{
		set->shift = lo;
		set->div = hi;
		for (int j = 0; j < w; j++)
		{
			double		range = (double) hi[j] - (double) lo[j];

			set->div[j] = (float) (range > 1e-6 * max_double(1.0, fabs(lo[j])) ? range : 1.0);
		}
	}
}

bool
maas_prep_moments(MaasPrepSet *set, MaasImpute impute, MaasScale scale,
				  const double *mean, const double *var, MaasError *err)
{
	int			w = set->raw_width;

	if (scale == MAAS_SCALE_MINMAX)
		return maas_error(err, MAAS_ERR_UNSUPPORTED, "min-max scaling needs the rows");
	for (int i = 0; i < set->n_columns; i++)
	{
		MaasPrepColumn *col = &set->columns[i];

		if (col->category)
			return maas_error(err, MAAS_ERR_UNSUPPORTED, "categories need the rows");
		col->fill = NULL;
		if (impute == MAAS_IMPUTE_MEAN || impute == MAAS_IMPUTE_ZERO)
		{
			col->fill = maas_kalloc_array((size_t) col->width, sizeof(float));
			if (col->fill == NULL)
				return maas_error_nomem(err);
			for (int j = 0; j < col->width; j++)
				col->fill[j] = impute == MAAS_IMPUTE_MEAN ? (float) mean[col->offset + j] : 0.0f;
		}
		col->out_offset = col->offset;
		col->out_width = col->width;
	}
	set->width = w;
	set->has_categories = false;
	set->mean = maas_kalloc_array((size_t) w, sizeof(float));
	set->std = maas_kalloc_array((size_t) w, sizeof(float));
	set->var = maas_kalloc_array((size_t) w, sizeof(double));
	if (set->mean == NULL || set->std == NULL || set->var == NULL)
		return maas_error_nomem(err);
	scale_finish(set, scale, mean, var, NULL, NULL);
	return true;
}

bool
maas_prep_scale(MaasPrepSet *set, MaasScale scale, const MaasTick *tick,
				MaasError *err)
{
	int64_t		n = set->n;
	int64_t		nt = set->n_train;
	int			w = set->width;
	float	   *x = set->x;
	double	   *sum = maas_kalloc_array((size_t) w, sizeof(double));
	double	   *ss = maas_kalloc_array((size_t) w, sizeof(double));
	float	   *lo = maas_kalloc_array((size_t) w, sizeof(float));
	float	   *hi = maas_kalloc_array((size_t) w, sizeof(float));
	float	   *inv = maas_kalloc_array((size_t) w, sizeof(float));
	float	   *first = maas_kalloc_array((size_t) w, sizeof(float));

	set->mean = maas_kalloc_array((size_t) w, sizeof(float));
	set->std = maas_kalloc_array((size_t) w, sizeof(float));
	set->var = maas_kalloc_array((size_t) w, sizeof(double));
	if (sum == NULL || ss == NULL || lo == NULL || hi == NULL || inv == NULL ||
		first == NULL || set->mean == NULL || set->std == NULL || set->var == NULL)
		return maas_error_nomem(err);
	memset(sum, 0, sizeof(double) * (size_t) w);
	memset(ss, 0, sizeof(double) * (size_t) w);
	memcpy(lo, x, sizeof(float) * (size_t) w);
	memcpy(hi, x, sizeof(float) * (size_t) w);
	memcpy(first, x, sizeof(float) * (size_t) w);

	/* sums and sums of squares around the first row, and the range */
	scale_sums(x, nt, w, tick, first, sum, ss, lo, hi);
	for (int j = 0; j < w; j++)
	{
		double		m = sum[j] / (double) nt;

		ss[j] = ss[j] - m * m * (double) nt;
		if (ss[j] < 0)
			ss[j] = 0;
		sum[j] = m + (double) x[j];
		ss[j] /= (double) nt;
	}
	scale_finish(set, scale, sum, ss, lo, hi);
	if (scale == MAAS_SCALE_NONE)
		return true;

	for (int j = 0; j < w; j++)
		inv[j] = 1.0f / set->div[j];	/* as the runtime computes it */
	scale_rows(x, n, w, tick, set->shift, inv);
	return true;
}

void
maas_prep_gather(const float *x, int w, const int32_t *rows, int64_t n,
				 const float *shift, const float *inv, float *dst)
{
	size_t		rb = sizeof(float) * (size_t) w;

	for (int64_t i = 0; i < n; i++)
	{
		const float *restrict v = x + (size_t) rows[i] * w;
		float	   *restrict o = dst + (size_t) i * w;

		if (i + PERMUTE_AHEAD < n)
			prefetch_row(x + (size_t) rows[i + PERMUTE_AHEAD] * w, rb);
		if (shift == NULL)
			memcpy(o, v, rb);
		else
			for (int j = 0; j < w; j++)
				o[j] = (v[j] - shift[j]) * inv[j];
	}
}

bool
maas_prep_copy_finite(const void *restrict src, int n, float *restrict dst)
{
	const unsigned char *restrict p = src;
	uint32_t	bad = 0;

	/* in one loop the compiler vectorises: a copy, and the exponents' test */
	for (int i = 0; i < n; i++)
	{
		uint32_t	bits;

		memcpy(&bits, p + sizeof(bits) * i, sizeof(bits));
		memcpy(dst + i, &bits, sizeof(bits));
		bad |= (bits & 0x7f800000u) == 0x7f800000u;
	}
	return bad == 0;
}

bool
maas_prep_float_words(const uint64_t *restrict words, const bool *restrict isnull,
					  int n, float *restrict dst)
{
	int			bad = 0;

	for (int i = 0; i < n; i++)
	{
		uint32_t	bits = (uint32_t) words[i];
		float		f;

		memcpy(&f, &bits, sizeof(f));
		dst[i] = f;
		bad |= isnull[i] | !isfinite(f);
	}
	return bad == 0;
}
