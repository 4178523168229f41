/*
 * test_preprocess.c
 *		Unit tests of maas_train's preprocessing (src/kernel/preprocess.c):
 *		the split (plain and stratified), the permutation, imputing,
 *		categories kept and one-hot encoded, scaling against a double
 *		reference, the errors, every out-of-memory path, and the tick.
 */
#include <math.h>
#include <stdlib.h>

#include "preprocess.h"
#include "train.h"
#include "unit.h"

static MaasError kerr;
static int	ticks;

static void
count_tick(void *arg)
{
	(void) arg;
	ticks++;
}

static const MaasTick tick = {count_tick, NULL};

static bool
near(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
}

/* is order[0 .. n) a permutation of 0 .. n-1? */
static bool
is_permutation(const int32_t *order, int64_t n)
{
	char	   *seen = calloc((size_t) n, 1);
	bool		ok = seen != NULL;

	for (int64_t i = 0; ok && i < n; i++)
	{
		if (order[i] < 0 || order[i] >= n || seen[order[i]])
			ok = false;
		else
			seen[order[i]] = 1;
	}
	free(seen);
	return ok;
}

/* ---- the split ---- */

static void
test_split_plain(void)
{
	int32_t		a[103];
	int32_t		b[103];
	int32_t		c[103];
	int64_t		n_test;
	bool		differ = false;

	CHECK(maas_prep_split(103, NULL, 0, 0.2, 42, a, &n_test, &kerr));
	CHECK(n_test == 21);		/* round(20.6) */
	CHECK(is_permutation(a, 103));
	/* the same seed gives the same order, another seed another one */
	CHECK(maas_prep_split(103, NULL, 0, 0.2, 42, b, &n_test, &kerr));
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK(maas_prep_split(103, NULL, 0, 0.2, 43, c, &n_test, &kerr));
	for (int i = 0; i < 103; i++)
		differ |= a[i] != c[i];
	CHECK(differ);
	/* the order is the shuffle of 0 .. n-1 from the seed */
	{
		int32_t		idx[103];
		uint64_t	rng = 42;

		for (int i = 0; i < 103; i++)
			idx[i] = i;
		maas_shuffle(idx, 103, &rng);
		CHECK(memcmp(a, idx, sizeof(a)) == 0);
	}
	CHECK(maas_prep_split(103, NULL, 0, 0.0, 42, a, &n_test, &kerr) && n_test == 0);
	CHECK(maas_prep_split(10, NULL, 0, 0.25, 1, a, &n_test, &kerr) && n_test == 3);	/* round(2.5) */
}

static void
test_split_stratified(void)
{
	/* 50 rows of class 0, 12 of class 1, 1 of class 2, 2 of class 3 */
	enum
	{
		N = 65
	};
	int32_t		cls[N];
	int32_t		order[N];
	int32_t		plain[N];
	int64_t		n_test;
	int64_t		held[4] = {0, 0, 0, 0};
	int64_t		j = 0;

	for (int i = 0; i < N; i++)
		cls[i] = i < 50 ? 0 : i < 62 ? 1 : i < 63 ? 2 : 3;
	/* quotas: round(50 * .7) = 35, round(8.4) = 8, round(.7) = 1 but class
	 * 2 keeps its one row, round(1.4) = 1 */
	CHECK(maas_prep_split(N, cls, 4, 0.7, 7, order, &n_test, &kerr));
	CHECK(n_test == 35 + 8 + 0 + 1);
	CHECK(is_permutation(order, N));
	for (int64_t i = N - n_test; i < N; i++)
		held[cls[order[i]]]++;
	CHECK(held[0] == 35 && held[1] == 8 && held[2] == 0 && held[3] == 1);

	/*
	 * Both parts keep the shuffled order: each is a subsequence of the
	 * plain split's order from the same seed.
	 */
	CHECK(maas_prep_split(N, NULL, 0, 0.7, 7, plain, &n_test, &kerr));
	for (int i = 0; i < N && j < N - 44; i++)
		if (plain[i] == order[j])
			j++;
	CHECK(j == N - 44);
	j = N - 44;
	for (int i = 0; i < N && j < N; i++)
		if (plain[i] == order[j])
			j++;
	CHECK(j == N);
}

/* ---- the permutation ---- */

static void
test_permute(void)
{
	enum
	{
		N = 9000,
		W = 3
	};
	float	   *x = maas_kalloc(sizeof(float) * N * W);
	int32_t    *cls = maas_kalloc(sizeof(int32_t) * N);
	float	   *y = maas_kalloc(sizeof(float) * N);
	int32_t    *order = maas_kalloc(sizeof(int32_t) * N);
	int64_t		n_test;
	bool		ok = true;

	for (int r = 0; r < N; r++)
	{
		for (int j = 0; j < W; j++)
			x[r * W + j] = (float) (r * 10 + j);
		cls[r] = r % 7;
		y[r] = (float) r * 0.5f;
	}
	CHECK(maas_prep_split(N, NULL, 0, 0.3, 5, order, &n_test, &kerr));
	ticks = 0;
	CHECK(maas_prep_permute(N, order, x, W, cls, y, &tick, &kerr));
	CHECK(ticks >= 1);
	for (int r = 0; r < N; r++)
	{
		int			o = order[r];

		for (int j = 0; j < W; j++)
			ok &= x[r * W + j] == (float) (o * 10 + j);
		ok &= cls[r] == o % 7 && y[r] == (float) o * 0.5f;
	}
	CHECK(ok);

	/* without labels: the identity leaves the rows as they are */
	{
		float	   *copy = maas_kalloc(sizeof(float) * N * W);

		memcpy(copy, x, sizeof(float) * N * W);
		for (int r = 0; r < N; r++)
			order[r] = r;
		CHECK(maas_prep_permute(N, order, x, W, NULL, NULL, NULL, &kerr));
		CHECK(memcmp(copy, x, sizeof(float) * N * W) == 0);
	}
}

/* ---- a small table: a number, a 2-element array and a category ---- */

/*
 * Raw slots: 0 the number, 1..2 the array, 3 the category index.  Rows
 * 0..3 train, rows 4..5 are the holdout.  Categories collected: "b" (0),
 * "a" (1), "c" (2, holdout only), "d" (3, never).
 */
static char *const seen4[] = {"b", "a", "c", "d"};

static void
small_set(MaasPrepSet *s, MaasPrepColumn *cols, float *x)
{
	static const float rows[6][4] = {
		{1, 10, NAN, 0},
		{NAN, 20, 5, 1},
		{3, NAN, 7, -1},
		{5, 40, 9, 0},
		{NAN, NAN, 1, 2},	/* holdout */
		{7, 50, NAN, 1},	/* holdout */
	};

	memcpy(x, rows, sizeof(rows));
	memset(cols, 0, sizeof(MaasPrepColumn) * 3);
	cols[0] = (MaasPrepColumn) {.name = "n", .offset = 0, .width = 1};
	cols[1] = (MaasPrepColumn) {.name = "arr", .offset = 1, .width = 2};
	cols[2] = (MaasPrepColumn) {.name = "cat", .category = true, .offset = 3,
	.width = 1, .n_seen = 4, .seen = seen4};
	memset(s, 0, sizeof(*s));
	s->n = 6;
	s->n_train = 4;
	s->raw_width = 4;
	s->x = x;
	s->n_columns = 3;
	s->columns = cols;
}

static void
test_impute_mean(void)
{
	MaasPrepSet s;
	MaasPrepColumn cols[3];
	float		x[24];

	small_set(&s, cols, x);
	CHECK(maas_prep_impute(&s, MAAS_IMPUTE_MEAN, &tick, &kerr));
	/* training means: n (1+3+5)/3, arr[1] (10+20+40)/3, arr[2] (5+7+9)/3 */
	CHECK(cols[0].fill && cols[0].fill[0] == 3.0f);
	CHECK(cols[1].fill && cols[1].fill[0] == (float) (70.0 / 3.0) && cols[1].fill[1] == 7.0f);
	CHECK(cols[2].fill == NULL);
	/* every NaN replaced, the holdout's with the training means */
	CHECK(x[1 * 4 + 0] == 3.0f && x[0 * 4 + 2] == 7.0f && x[2 * 4 + 1] == (float) (70.0 / 3.0));
	CHECK(x[4 * 4 + 0] == 3.0f && x[4 * 4 + 1] == (float) (70.0 / 3.0) && x[5 * 4 + 2] == 7.0f);
	/* the rest untouched, category indices too */
	CHECK(x[3 * 4 + 0] == 5.0f && x[5 * 4 + 1] == 50.0f);
	CHECK(x[2 * 4 + 3] == -1.0f && x[4 * 4 + 3] == 2.0f);
	for (int i = 0; i < 24; i++)
		CHECK(!isnan(x[i]));
}

static void
test_impute_zero_and_error(void)
{
	MaasPrepSet s;
	MaasPrepColumn cols[3];
	float		x[24];

	small_set(&s, cols, x);
	CHECK(maas_prep_impute(&s, MAAS_IMPUTE_ZERO, NULL, &kerr));
	CHECK(cols[0].fill[0] == 0.0f && cols[1].fill[0] == 0.0f && cols[1].fill[1] == 0.0f);
	CHECK(x[1 * 4 + 0] == 0.0f && x[4 * 4 + 1] == 0.0f);

	/* "error" keeps no fill values (NULLs were refused while loading) */
	small_set(&s, cols, x);
	x[1 * 4 + 0] = 2;
	x[2 * 4 + 1] = 30;
	x[0 * 4 + 2] = 3;
	x[4 * 4 + 0] = x[4 * 4 + 1] = x[5 * 4 + 2] = 4;
	CHECK(maas_prep_impute(&s, MAAS_IMPUTE_ERROR, NULL, &kerr));
	CHECK(cols[0].fill == NULL && cols[1].fill == NULL);
	CHECK(x[1 * 4 + 0] == 2.0f && x[4 * 4 + 0] == 4.0f);

	/* a slot with no value in the training rows gets 0 */
	small_set(&s, cols, x);
	x[0 * 4 + 0] = x[2 * 4 + 0] = x[3 * 4 + 0] = NAN;
	CHECK(maas_prep_impute(&s, MAAS_IMPUTE_MEAN, NULL, &kerr));
	CHECK(cols[0].fill[0] == 0.0f && x[5 * 4 + 0] == 7.0f && x[0] == 0.0f);
}

static void
test_categories_and_onehot(void)
{
	MaasPrepSet s;
	MaasPrepColumn cols[3];
	float		x[24];
	float		out[6 * 5];

	small_set(&s, cols, x);
	CHECK(maas_prep_impute(&s, MAAS_IMPUTE_MEAN, NULL, &kerr));
	CHECK(maas_prep_categories(&s, &kerr));
	/* "b" and "a" occur in training rows, sorted; "c" (holdout) and "d" not */
	CHECK(cols[2].n_categories == 2);
	CHECK(strcmp(cols[2].categories[0], "a") == 0 && strcmp(cols[2].categories[1], "b") == 0);
	CHECK(cols[2].slot[0] == 1 && cols[2].slot[1] == 0 && cols[2].slot[2] == -1 &&
		  cols[2].slot[3] == -1);
	CHECK(s.has_categories && s.width == 5);
	CHECK(cols[0].out_offset == 0 && cols[0].out_width == 1);
	CHECK(cols[1].out_offset == 1 && cols[1].out_width == 2);
	CHECK(cols[2].out_offset == 3 && cols[2].out_width == 2);

	ticks = 0;
	maas_prep_onehot(&s, out, &tick);
	CHECK(ticks == 1);
	{
		static const float want[6][5] = {
			{1, 10, 7, 0, 1},	/* "b" */
			{3, 20, 5, 1, 0},	/* "a" */
			{3, (float) (70.0 / 3.0), 7, 0, 0}, /* NULL */
			{5, 40, 9, 0, 1},
			{3, (float) (70.0 / 3.0), 1, 0, 0}, /* "c": seen only in the holdout */
			{7, 50, 7, 1, 0},
		};

		CHECK(memcmp(out, want, sizeof(want)) == 0);
	}
}

static void
test_categories_errors(void)
{
	MaasPrepSet s;
	MaasPrepColumn cols[3];
	float		x[24];

	/* a category column with only NULLs in the training rows */
	small_set(&s, cols, x);
	for (int r = 0; r < 4; r++)
		x[r * 4 + 3] = -1;
	CHECK_ERR(maas_prep_categories(&s, &kerr), kerr.msg,
			  "column \"cat\" has only null values in the training rows");
	CHECK(kerr.status == MAAS_ERR_INVALID);

	/* more than 100 million model input slots */
	small_set(&s, cols, x);
	cols[0].width = 60000000;
	cols[1].width = 40000001;
	CHECK_ERR(maas_prep_categories(&s, &kerr), kerr.msg,
			  "the one-hot encoded features are too wide");
	CHECK(kerr.status == MAAS_ERR_LIMIT);

	/* no category: the layout is the raw one */
	small_set(&s, cols, x);
	cols[2].category = false;
	CHECK(maas_prep_categories(&s, &kerr));
	CHECK(!s.has_categories && s.width == 4 && cols[2].out_offset == 3);
}

/* ---- scaling ---- */

/* n rows of w slots: column j varies as j, plus a constant and a big one */
static float *
scale_rows(int64_t n, int w)
{
	float	   *x = maas_kalloc(sizeof(float) * (size_t) (n * w));

	for (int64_t r = 0; r < n; r++)
		for (int j = 0; j < w; j++)
			x[r * w + j] = j == 0 ? 4.0f :	/* constant */
				j == 1 ? 1e6f + (float) (r % 4) :	/* big mean, small spread */
				(float) ((r * 7 + j * 3) % 11) - 5.0f;
	return x;
}

static void
test_scale_standard(void)
{
	enum
	{
		N = 10000,
		NT = 8000,
		W = 4
	};
	float	   *x = scale_rows(N, W);
	float	   *raw = maas_kalloc(sizeof(float) * N * W);
	MaasPrepSet s;
	bool		ok = true;

	memcpy(raw, x, sizeof(float) * N * W);
	memset(&s, 0, sizeof(s));
	s.n = N;
	s.n_train = NT;
	s.width = W;
	s.x = x;
	ticks = 0;
	CHECK(maas_prep_scale(&s, MAAS_SCALE_STANDARD, &tick, &kerr));
	CHECK(ticks == 2 + 3);		/* the training rows' pass, then all rows */
	for (int j = 0; j < W; j++)
	{
		double		m = 0,
					v = 0;

		for (int r = 0; r < NT; r++)
			m += raw[r * W + j];
		m /= NT;
		for (int r = 0; r < NT; r++)
			v += (raw[r * W + j] - m) * (raw[r * W + j] - m);
		v /= NT;
		CHECK(near(s.mean[j], m, fabs(m) * 1e-7 + 1e-6));
		CHECK(near(s.var[j], v, v * 1e-9 + 1e-12));
		CHECK(s.std[j] == (j == 0 ? 1.0f : (float) sqrt(v)));
	}
	CHECK(s.var[0] == 0 && s.var[1] == 1.25);
	CHECK(s.shift == s.mean && s.div == s.std);
	/* every row, the holdout too, scaled by the training rows' statistics */
	for (int r = 0; r < N; r++)
		for (int j = 0; j < W; j++)
			ok &= x[r * W + j] == (raw[r * W + j] - s.mean[j]) * (1.0f / s.std[j]);
	CHECK(ok);
}

static void
test_scale_minmax_and_none(void)
{
	enum
	{
		N = 50,
		NT = 40,
		W = 4
	};
	float	   *x = scale_rows(N, W);
	float	   *raw = maas_kalloc(sizeof(float) * N * W);
	MaasPrepSet s;
	bool		ok = true;

	memcpy(raw, x, sizeof(float) * N * W);
	memset(&s, 0, sizeof(s));
	s.n = N;
	s.n_train = NT;
	s.width = W;
	s.x = x;
	CHECK(maas_prep_scale(&s, MAAS_SCALE_MINMAX, NULL, &kerr));
	CHECK(s.shift[0] == 4.0f && s.div[0] == 1.0f);	/* constant: divisor 1 */
	CHECK(s.shift[1] == 1e6f && s.div[1] == 3.0f);
	CHECK(s.shift[2] == -5.0f && s.div[2] == 10.0f);
	CHECK(s.shift != s.mean);
	for (int r = 0; r < N; r++)
		for (int j = 0; j < W; j++)
			ok &= x[r * W + j] == (raw[r * W + j] - s.shift[j]) * (1.0f / s.div[j]);
	CHECK(ok);

	/* none: statistics for the drift baseline, rows untouched */
	memcpy(x, raw, sizeof(float) * N * W);
	CHECK(maas_prep_scale(&s, MAAS_SCALE_NONE, NULL, &kerr));
	CHECK(memcmp(x, raw, sizeof(float) * N * W) == 0);
	CHECK(s.mean[0] == 4.0f && s.std[0] == 1.0f);
}

/* ---- out of memory, at every allocation of every step ---- */

static void
test_out_of_memory(void)
{
	int			failures = 0;

	for (long k = 0; k < 64; k++)
	{
		MaasPrepSet s;
		MaasPrepColumn cols[3];
		float		x[24];
		int32_t		order[6];
		int32_t		cls[6] = {0, 1, 0, 1, 0, 1};
		int64_t		n_test;
		bool		ok;

		small_set(&s, cols, x);
		arena_fail_after(k);
		memset(&kerr, 0, sizeof(kerr));
		ok = maas_prep_split(6, cls, 2, 0.3, 1, order, &n_test, &kerr) &&
			maas_prep_permute(6, order, x, 4, cls, NULL, NULL, &kerr) &&
			maas_prep_impute(&s, MAAS_IMPUTE_MEAN, NULL, &kerr) &&
			maas_prep_categories(&s, &kerr);
		if (ok)
		{
			s.width = 4;		/* scale the raw slots: enough for the test */
			ok = maas_prep_scale(&s, MAAS_SCALE_STANDARD, NULL, &kerr);
		}
		arena_fail_after(-1);
		if (ok)
			break;
		failures++;
		CHECK(kerr.status == MAAS_ERR_NOMEM && strcmp(kerr.msg, "out of memory") == 0);
	}
	/* every step allocates, so the first allocations all fail cleanly */
	CHECK(failures >= 10);
}

/* "none" (boosted trees): no fill values, every NaN left for the trees */
static void
test_impute_none(void)
{
	MaasPrepSet s;
	MaasPrepColumn cols[3];
	float		x[24];
	float		before[24];

	small_set(&s, cols, x);
	memcpy(before, x, sizeof(x));
	cols[0].fill = cols[1].fill = (float *) before;	/* must be cleared */
	CHECK(maas_prep_impute(&s, MAAS_IMPUTE_NONE, &tick, &kerr));
	CHECK(cols[0].fill == NULL && cols[1].fill == NULL && cols[2].fill == NULL);
	for (int i = 0; i < 24; i++)
		CHECK(isnan(before[i]) ? isnan(x[i]) : x[i] == before[i]);
	/* the categories and the one-hot layout still follow */
	CHECK(maas_prep_categories(&s, &kerr));
	CHECK(s.width == 3 + cols[2].n_categories);
}

/*
 * The statistics from moments match maas_prep_scale's on the same rows;
 * gathering scales as maas_prep_scale does, bit for bit; a row of words
 * becomes floats, and a NULL or a NaN is seen.
 */
static void
test_moments_gather_words(void)
{
	float		x[8] = {1, 10, 2, 10, 3, 10, 4, 10};
	float		xs[8];
	float		g[4];
	int32_t		rows[2] = {3, 1};
	double		mean[2] = {2.0, 10.0},
				var[2] = {2.0 / 3.0, 0.0};
	MaasPrepColumn col[2] = {{.name = "a", .offset = 0, .width = 1},
	{.name = "b", .offset = 1, .width = 1}};
	MaasPrepColumn col2[2];
	MaasPrepSet s = {.n = 4, .n_train = 3, .raw_width = 2, .x = xs, .n_columns = 2, .columns = col2};
	MaasPrepSet m = {.n = 4, .n_train = 3, .raw_width = 2, .x = x, .n_columns = 2, .columns = col};
	uint64_t	words[3];
	bool		nulls[3] = {false, false, false};
	float		out[3];
	float		nan = NAN;

	memcpy(xs, x, sizeof(x));
	memcpy(col2, col, sizeof(col));
	CHECK(maas_prep_categories(&s, &kerr));
	CHECK(maas_prep_scale(&s, MAAS_SCALE_STANDARD, NULL, &kerr));
	CHECK(maas_prep_moments(&m, MAAS_IMPUTE_MEAN, MAAS_SCALE_STANDARD, mean, var, &kerr));
	CHECK(m.width == 2 && !m.has_categories);
	CHECK(col[0].fill && col[0].fill[0] == 2.0f && col[1].fill[0] == 10.0f);
	CHECK(col[1].out_offset == 1 && col[1].out_width == 1);
	for (int j = 0; j < 2; j++)
		CHECK(m.mean[j] == s.mean[j] && m.std[j] == s.std[j] && near(m.var[j], s.var[j], 1e-12));
	{
		float		inv[2] = {1.0f / m.div[0], 1.0f / m.div[1]};

		maas_prep_gather(x, 2, rows, 2, m.shift, inv, g);
		CHECK(memcmp(g, xs + 6, 2 * sizeof(float)) == 0);
		CHECK(memcmp(g + 2, xs + 2, 2 * sizeof(float)) == 0);
		maas_prep_gather(x, 2, rows, 2, NULL, NULL, g);
		CHECK(g[0] == 4 && g[2] == 2);
	}
	CHECK(!maas_prep_moments(&m, MAAS_IMPUTE_MEAN, MAAS_SCALE_MINMAX, mean, var, &kerr));
	CHECK(maas_prep_moments(&m, MAAS_IMPUTE_ERROR, MAAS_SCALE_NONE, mean, var, &kerr));
	CHECK(col[0].fill == NULL);

	for (int i = 0; i < 3; i++)
	{
		float		f = 1.5f * (float) (i - 1);
		uint32_t	bits;

		memcpy(&bits, &f, sizeof(bits));
		words[i] = (uint64_t) (int64_t) (int32_t) bits;	/* sign-extended, as a Datum */
	}
	CHECK(maas_prep_float_words(words, nulls, 3, out));
	CHECK(out[0] == -1.5f && out[1] == 0.0f && out[2] == 1.5f);
	nulls[1] = true;
	CHECK(!maas_prep_float_words(words, nulls, 3, out));
	nulls[1] = false;
	memcpy(&words[2], &nan, sizeof(nan));
	CHECK(!maas_prep_float_words(words, nulls, 3, out));
}

int
main(void)
{
	UNIT_RUN(test_split_plain);
	UNIT_RUN(test_split_stratified);
	UNIT_RUN(test_permute);
	UNIT_RUN(test_impute_mean);
	UNIT_RUN(test_impute_zero_and_error);
	UNIT_RUN(test_impute_none);
	UNIT_RUN(test_categories_and_onehot);
	UNIT_RUN(test_categories_errors);
	UNIT_RUN(test_scale_standard);
	UNIT_RUN(test_scale_minmax_and_none);
	UNIT_RUN(test_out_of_memory);
	UNIT_RUN(test_moments_gather_words);
	return unit_finish("preprocess");
}
