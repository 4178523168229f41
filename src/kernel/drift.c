/*
 * drift.c
 *		Running moments and drift scores (see drift.h).
 */
#include "drift.h"

#include <math.h>

void
maas_moments_add(int n, int rows, int stride, const float *x,
				 const double *shift, double *sum, double *sumsq)
{
	for (int r = 0; r < rows; r++)
	{
		const float *row = x + (size_t) r * stride;

		for (int j = 0; j < n; j++)
		{
			double		d = (double) row[j] - shift[j];

			sum[j] += d;
			sumsq[j] += d * d;
		}
	}
}

void
maas_moments_finish(int n, int64_t rows, const double *shift,
					double *sum, double *sumsq)
{
	double		dn = (double) rows;

	for (int j = 0; j < n; j++)
	{
		double		s = sum[j];
		double		m2 = sumsq[j] - s * s / dn;

		sum[j] = shift[j] + s / dn;
		sumsq[j] = m2 > 0 ? m2 : 0;
	}
}

void
maas_moments_merge(int n, int64_t na, double *mean_a, double *m2_a,
				   int64_t nb, const double *mean_b, const double *m2_b)
{
	double		dn;
	double		fb;
	double		w;

	if (nb <= 0)
		return;
	if (na <= 0)
	{
		for (int j = 0; j < n; j++)
		{
			mean_a[j] = mean_b[j];
			m2_a[j] = m2_b[j];
		}
		return;
	}
	dn = (double) na + (double) nb;
	fb = (double) nb / dn;
	w = (double) na * fb;		/* na * nb / n */
	for (int j = 0; j < n; j++)
	{
		double		delta = mean_b[j] - mean_a[j];

		mean_a[j] += delta * fb;
		m2_a[j] += m2_b[j] + delta * delta * w;
	}
}

/* the variance floor: a millionth of the mean's scale, squared */
static double
var_floor(double mean)
{
	double		scale = fabs(mean) > 1.0 ? fabs(mean) : 1.0;

	return (1e-6 * scale) * (1e-6 * scale);
}

double
maas_hellinger_normal(double mean1, double var1, double mean2, double var2)
{
	double		f = var_floor(fabs(mean1) > fabs(mean2) ? mean1 : mean2);
	double		v1 = var1 > f ? var1 : f;
	double		v2 = var2 > f ? var2 : f;
	double		vs = v1 + v2;
	double		d = mean1 - mean2;
	double		bc;

	/* Bhattacharyya coefficient of two normals */
	bc = sqrt(2.0 * sqrt(v1) * sqrt(v2) / vs) * exp(-d * d / (4.0 * vs));
	if (!(bc < 1.0))
		return 0.0;
	return sqrt(1.0 - bc);
}

double
maas_hellinger_counts(int n, const double *p, const double *q)
{
	double		sp = 0;
	double		sq = 0;
	double		bc = 0;

	for (int i = 0; i < n; i++)
	{
		sp += p[i];
		sq += q[i];
	}
	if (!(sp > 0) || !(sq > 0))
		return -1.0;
	for (int i = 0; i < n; i++)
		bc += sqrt((p[i] / sp) * (q[i] / sq));
	if (!(bc < 1.0))
		return 0.0;
	return sqrt(1.0 - bc);
}
