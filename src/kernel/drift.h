/*
 * drift.h
 *		Running moments of features and the drift scores maas.drift shows.
 *
 * Serving statistics are gathered in two steps.  Within a statement, a call
 * site adds each row to shifted sums (sum of x - k and of (x - k)^2, with k
 * the first row seen: cheap per row, and exact enough even for large
 * values).  Once per statement those sums become a mean and a sum of
 * squared deviations (M2) and are merged into the shared totals with Chan's
 * formula, which stays accurate over any number of statements.
 *
 * Drift is the Hellinger distance between what training saw and what
 * serving sees: for a feature, between the two normal distributions with
 * their means and variances; for a classifier's predictions, between the
 * class shares.  It lies in [0, 1]: 0 for identical distributions, 1 for
 * ones that do not overlap.  doc/monitoring.md gives the thresholds.
 *
 * Nothing here knows PostgreSQL (kernel.h).
 */
#ifndef MAAS_DRIFT_H
#define MAAS_DRIFT_H

#include "kernel.h"

/*
 * Add rows of x (row-major, stride floats a row, the first n of each
 * counted) to the shifted sums sum[] and sumsq[] around shift[].
 */
extern void maas_moments_add(int n, int rows, int stride, const float *x,
							 const double *shift, double *sum, double *sumsq);

/*
 * Turn the shifted sums of rows rows into means and M2, in place: sum[]
 * becomes the mean, sumsq[] the M2.
 */
extern void maas_moments_finish(int n, int64_t rows, const double *shift,
								double *sum, double *sumsq);

/*
 * Merge the moments (nb rows, mean_b[], m2_b[]) into (na rows, mean_a[],
 * m2_a[]); the caller then counts na + nb rows.
 */
extern void maas_moments_merge(int n, int64_t na, double *mean_a, double *m2_a,
							   int64_t nb, const double *mean_b, const double *m2_b);

/*
 * Hellinger distance between N(mean1, var1) and N(mean2, var2).  Variances
 * below a tiny floor relative to the mean are raised to it, so a feature
 * that was constant in training scores 0 if it still is and close to 1 if
 * it moved.
 */
extern double maas_hellinger_normal(double mean1, double var1,
									double mean2, double var2);

/*
 * Hellinger distance between two distributions over n classes, given as
 * counts (or any non-negative weights); -1 if either has no weight.
 */
extern double maas_hellinger_counts(int n, const double *p, const double *q);

#endif							/* MAAS_DRIFT_H */
