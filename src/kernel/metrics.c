/*
 * metrics.c
 *		Holdout metrics of classifiers and regressors (see train.h).
 *
 * Sums are kept in double whatever the size of the holdout.  The
 * definitions follow scikit-learn's, so that a number here can be checked
 * against sklearn.metrics on the same predictions.
 */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ScoredRow
{
	float		score;
	int32_t		positive;
} ScoredRow;

static int
cmp_score(const void *a, const void *b)
{
	float		x = ((const ScoredRow *) a)->score;
	float		y = ((const ScoredRow *) b)->score;

	return (x > y) - (x < y);
}

/* Mann-Whitney: the probability that a positive outranks a negative */
static bool
roc_auc(int64_t n, const int32_t *y, const float *proba, double *auc)
{
	ScoredRow  *rows;
	size_t		bytes;
	double		rank_sum = 0.0;
	int64_t		n_pos = 0;
	int64_t		i = 0;

	if (!maas_mul_size((size_t) n, sizeof(ScoredRow), &bytes) ||
		(rows = maas_kalloc(bytes)) == NULL)
		return false;
	for (int64_t r = 0; r < n; r++)
	{
		rows[r].score = proba[r * 2 + 1];
		rows[r].positive = y[r] == 1;
		n_pos += rows[r].positive;
	}
	qsort(rows, (size_t) n, sizeof(ScoredRow), cmp_score);
	while (i < n)
	{
		int64_t		j = i;
		int64_t		pos_here = 0;

		while (j < n && rows[j].score == rows[i].score)
			pos_here += rows[j++].positive;
		/* ranks i+1 .. j share their mean */
		rank_sum += (double) pos_here * ((double) (i + 1 + j) / 2.0);
		i = j;
	}
	if (n_pos == 0 || n_pos == n)
		*auc = NAN;
	else
		*auc = (rank_sum - (double) n_pos * (double) (n_pos + 1) / 2.0) /
			((double) n_pos * (double) (n - n_pos));
	return true;
}

bool
maas_class_metrics(int64_t n, int k, const int32_t *y, const float *proba,
				   MaasClassMetrics *out, MaasError *err)
{
	size_t		cells;
	int64_t		correct = 0;
	double		ll = 0.0;
	double		psum = 0.0,
				rsum = 0.0,
				fsum = 0.0;

	memset(out, 0, sizeof(*out));
	out->n = n;
	out->k = k;
	if (n <= 0)
		return maas_error(err, MAAS_ERR_INVALID, "there are no rows to score");
	if (k < 2)
		return maas_error(err, MAAS_ERR_INVALID,
						  "a classifier has at least 2 classes, not %d", k);
	if (!maas_mul_size((size_t) k, (size_t) k, &cells) ||
		!maas_mul_size(cells, sizeof(int64_t), &cells) ||
		(out->confusion = maas_kalloc(cells)) == NULL)
		return maas_error_nomem(err);
	memset(out->confusion, 0, cells);

	for (int64_t r = 0; r < n; r++)
	{
		const float *p = proba + r * k;
		int			pred = maas_argmax(p, k);
		double		pt = p[y[r]];

		out->confusion[(size_t) y[r] * k + pred]++;
		correct += (pred == y[r]);
		if (pt < 1e-15)
			pt = 1e-15;
		else if (pt > 1.0 - 1e-15)
			pt = 1.0 - 1e-15;
		ll -= log(pt);
	}
	out->accuracy = (double) correct / (double) n;
	out->log_loss = ll / (double) n;

	for (int c = 0; c < k; c++)
	{
		int64_t		tp = out->confusion[(size_t) c * k + c];
		int64_t		predicted = 0,
					actual = 0;
		double		prec,
					rec;

		for (int j = 0; j < k; j++)
		{
			predicted += out->confusion[(size_t) j * k + c];
			actual += out->confusion[(size_t) c * k + j];
		}
		prec = predicted > 0 ? (double) tp / (double) predicted : 0.0;
		rec = actual > 0 ? (double) tp / (double) actual : 0.0;
		psum += prec;
		rsum += rec;
		fsum += (prec + rec) > 0.0 ? 2.0 * prec * rec / (prec + rec) : 0.0;
	}
	out->precision = psum / k;
	out->recall = rsum / k;
	out->f1 = fsum / k;

	if (k == 2)
	{
		if (!roc_auc(n, y, proba, &out->roc_auc))
			return maas_error_nomem(err);
		out->has_auc = !isnan(out->roc_auc);
	}
	return true;
}

void
maas_reg_metrics(int64_t n, const float *y, const float *pred,
				 MaasRegMetrics *out)
{
	double		mean = 0.0,
				ss_res = 0.0,
				ss_tot = 0.0,
				abs_sum = 0.0;

	memset(out, 0, sizeof(*out));
	out->n = n;
	if (n <= 0)
		return;
	for (int64_t r = 0; r < n; r++)
		mean += y[r];
	mean /= (double) n;
	for (int64_t r = 0; r < n; r++)
	{
		double		e = (double) y[r] - (double) pred[r];
		double		t = (double) y[r] - mean;

		ss_res += e * e;
		ss_tot += t * t;
		abs_sum += fabs(e);
	}
	out->mse = ss_res / (double) n;
	out->mae = abs_sum / (double) n;
	if (ss_tot > 0.0)
		out->r2 = 1.0 - ss_res / ss_tot;
	else
		out->r2 = ss_res == 0.0 ? 1.0 : 0.0;
}
