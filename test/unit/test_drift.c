/*
 * test_drift.c
 *		Unit tests of the running moments and drift scores (src/kernel/drift.c).
 *
 * Needs in test/unit/Makefile:  test_drift_SRCS = $(SRC)/drift.c
 */
#include <math.h>

#include "unit.h"
#include "drift.h"

#define CLOSE(a, b, tol) (fabs((a) - (b)) <= (tol) * (1.0 + fabs(b)))

/* shifted sums, finished, give the mean and M2 of the rows */
static void
moments_of_rows(void)
{
	float		x[4 * 2] = {1, 10, 2, 20, 3, 30, 4, 40};
	double		shift[2] = {1, 10};
	double		sum[2] = {0, 0};
	double		sumsq[2] = {0, 0};

	maas_moments_add(2, 4, 2, x, shift, sum, sumsq);
	maas_moments_finish(2, 4, shift, sum, sumsq);
	CHECK(CLOSE(sum[0], 2.5, 1e-15));
	CHECK(CLOSE(sum[1], 25.0, 1e-15));
	CHECK(CLOSE(sumsq[0], 5.0, 1e-15));		/* M2 = n * var_pop */
	CHECK(CLOSE(sumsq[1], 500.0, 1e-15));
}

/* merging two halves gives the moments of the whole */
static void
merge_halves(void)
{
	double		ma[1] = {2.0};	/* 1, 2, 3 */
	double		m2a[1] = {2.0};
	double		mb[1] = {5.5};	/* 5, 6 */
	double		m2b[1] = {0.5};
	double		me[1] = {0};
	double		m2e[1] = {0};

	maas_moments_merge(1, 3, ma, m2a, 2, mb, m2b);
	CHECK(CLOSE(ma[0], 17.0 / 5, 1e-15));
	/* 1,2,3,5,6: mean 3.4, M2 = sum (x - 3.4)^2 = 17.2 */
	CHECK(CLOSE(m2a[0], 17.2, 1e-14));
	/* into an empty side: a copy */
	maas_moments_merge(1, 0, me, m2e, 2, mb, m2b);
	CHECK(me[0] == 5.5 && m2e[0] == 0.5);
	/* nothing to merge: unchanged */
	maas_moments_merge(1, 3, mb, m2b, 0, me, m2e);
	CHECK(mb[0] == 5.5 && m2b[0] == 0.5);
}

/* large values with a small spread keep their variance (the shift) */
static void
large_values(void)
{
	float		x[3] = {1.0e8f, 1.0e8f + 8, 1.0e8f + 16};
	double		shift[1] = {x[0]};
	double		sum[1] = {0};
	double		sumsq[1] = {0};

	maas_moments_add(1, 3, 1, x, shift, sum, sumsq);
	maas_moments_finish(1, 3, shift, sum, sumsq);
	CHECK(CLOSE(sumsq[0] / 3, 128.0 / 3, 1e-12));
}

static void
hellinger_normal(void)
{
	/* identical: 0; a shift of one sd: sqrt(1 - exp(-1/8)) */
	CHECK(maas_hellinger_normal(3, 4, 3, 4) == 0);
	CHECK(CLOSE(maas_hellinger_normal(0, 1, 1, 1), sqrt(1 - exp(-1.0 / 8)), 1e-12));
	/* symmetric */
	CHECK(CLOSE(maas_hellinger_normal(0, 1, 2, 9), maas_hellinger_normal(2, 9, 0, 1), 1e-15));
	/* twice the spread, same mean: sqrt(1 - sqrt(0.8)) */
	CHECK(CLOSE(maas_hellinger_normal(0, 1, 0, 4), sqrt(1 - sqrt(0.8)), 1e-12));
	/* constant in training: 0 if still the same, about 1 if it moved */
	CHECK(maas_hellinger_normal(0, 0, 0, 0) == 0);
	CHECK(maas_hellinger_normal(0, 0, 0.5, 0) > 0.999);
	CHECK(maas_hellinger_normal(5, 0, 5, 1) > 0.99);
	/* never NaN, never above 1 */
	CHECK(maas_hellinger_normal(0, 1, 1e300, 1) <= 1.0);
}

static void
hellinger_counts(void)
{
	double		p[3] = {10, 20, 30};
	double		q[3] = {1, 2, 3};
	double		r[3] = {0, 0, 5};
	double		z[3] = {0, 0, 0};

	CHECK(maas_hellinger_counts(3, p, q) == 0);		/* same shares */
	CHECK(CLOSE(maas_hellinger_counts(3, p, r), sqrt(1 - sqrt(0.5)), 1e-12));
	CHECK(maas_hellinger_counts(3, p, z) == -1);
	{
		double		a[2] = {1, 0};
		double		b[2] = {0, 1};

		CHECK(maas_hellinger_counts(2, a, b) == 1);
	}
}

int
main(void)
{
	UNIT_RUN(moments_of_rows);
	UNIT_RUN(merge_halves);
	UNIT_RUN(large_values);
	UNIT_RUN(hellinger_normal);
	UNIT_RUN(hellinger_counts);
	return unit_finish("drift");
}
