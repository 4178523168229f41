/*
 * train_linear.c
 *		Linear least squares with an optional L2 penalty (see train.h).
 *
 * One pass over the rows builds the normal equations in double: each
 * chunk of rows is widened to double and added to the Gram matrix with
 * dsyrk, while the column sums and X^T y are summed alongside.  Centering
 * happens afterwards (G - n mu mu^T), so the intercept is not penalised and
 * the rows need not be centred.  The d x d system is then solved by
 * Cholesky.  A column without variance gets coefficient 0; collinear
 * columns make the factorisation fail or leave a vanishing pivot, and then
 * a ridge growing by 100x from 1e-10 of the mean diagonal is added until
 * it succeeds, which tends to the minimum-norm solution.
 */
#include "train.h"

#include <math.h>
#include <string.h>

#define LINEAR_CHUNK_ROWS	2048

static bool
nomem(MaasError *err)
{
	return maas_error(err, MAAS_ERR_NOMEM, "out of memory for the normal equations");
}

/*
 * Factor a (copied from g plus ridge on the diagonal of kept columns) and
 * check the pivots; true if usable.
 */
static bool
try_cholesky(const MaasBlas *blas, int d, const double *g, const bool *keep,
			 double ridge, double *a)
{
	int			info = 0;
	char		uplo = 'L';

	memcpy(a, g, sizeof(double) * (size_t) d * d);
	for (int j = 0; j < d; j++)
		if (keep[j])
			a[(size_t) j * d + j] += ridge;
	blas->dpotrf(&uplo, &d, a, &d, &info);
	if (info != 0)
		return false;
	for (int j = 0; j < d; j++)
	{
		double		l = a[(size_t) j * d + j];

		if (keep[j] && !(l * l > 1e-11 * g[(size_t) j * d + j]))
			return false;
	}
	return true;
}

bool
maas_linear_fit(const MaasBlas *blas, const MaasTrainSet *data, double l2,
				const MaasTrainHooks *hooks, MaasLinearResult *result,
				MaasError *err)
{
	int			d = data->d;
	int64_t		n = data->n;
	size_t		dd = (size_t) d * d;
	double	   *g,
			   *a,
			   *chunk,
			   *mu,
			   *xty,
			   *rhs;
	bool	   *keep;
	double		ysum = 0.0,
				ybar,
				max_diag = 0.0,
				mean_diag = 0.0,
				ridge = 0.0;
	int			kept = 0;
	int			info = 0,
				one = 1;
	char		uplo = 'L';

	memset(result, 0, sizeof(*result));
	if (blas->dsyrk == NULL || blas->dpotrf == NULL || blas->dpotrs == NULL)
		return maas_error(err, MAAS_ERR_UNSUPPORTED,
						  "the BLAS library has no dsyrk, dpotrf or dpotrs");
	if ((g = maas_kalloc(sizeof(double) * dd)) == NULL ||
		(a = maas_kalloc(sizeof(double) * dd)) == NULL ||
		(chunk = maas_kalloc(sizeof(double) * (size_t) LINEAR_CHUNK_ROWS * d)) == NULL ||
		(mu = maas_kalloc(sizeof(double) * d)) == NULL ||
		(xty = maas_kalloc(sizeof(double) * d)) == NULL ||
		(rhs = maas_kalloc(sizeof(double) * d)) == NULL ||
		(keep = maas_kalloc(sizeof(bool) * d)) == NULL ||
		(result->w = maas_kalloc(sizeof(float) * d)) == NULL)
		return nomem(err);
	memset(g, 0, sizeof(double) * dd);
	memset(mu, 0, sizeof(double) * d);
	memset(xty, 0, sizeof(double) * d);

	for (int64_t start = 0; start < n; start += LINEAR_CHUNK_ROWS)
	{
		int			m = (int) (n - start < LINEAR_CHUNK_ROWS ? n - start : LINEAR_CHUNK_ROWS);
		const float *x = data->x + (size_t) start * d;
		const float *y = data->y + start;

		if (hooks && hooks->tick)
			hooks->tick(hooks->arg);
		for (size_t i = 0; i < (size_t) m * d; i++)
			chunk[i] = x[i];
		for (int r = 0; r < m; r++)
		{
			const double *row = chunk + (size_t) r * d;
			double		yr = y[r];

			ysum += yr;
			for (int j = 0; j < d; j++)
			{
				mu[j] += row[j];
				xty[j] += row[j] * yr;
			}
		}
		/* upper triangle, row-major: G += chunk^T chunk */
		blas->dsyrk(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_UPPER, MAAS_CBLAS_TRANS,
					d, m, 1.0, chunk, d, 1.0, g, d);
	}

	/* centre: G - n mu mu^T, X^T y - n mu ybar; mirror to a full matrix */
	ybar = ysum / (double) n;
	for (int j = 0; j < d; j++)
		mu[j] /= (double) n;
	for (int i = 0; i < d; i++)
	{
		for (int j = i; j < d; j++)
		{
			double		v = g[(size_t) i * d + j] - (double) n * mu[i] * mu[j];

			g[(size_t) i * d + j] = v;
			g[(size_t) j * d + i] = v;
		}
		rhs[i] = xty[i] - (double) n * mu[i] * ybar;
		if (g[(size_t) i * d + i] > max_diag)
			max_diag = g[(size_t) i * d + i];
	}

	/* columns without variance: coefficient 0, out of the system */
	for (int j = 0; j < d; j++)
	{
		keep[j] = g[(size_t) j * d + j] > 1e-12 * max_diag && max_diag > 0.0;
		if (!keep[j])
		{
			for (int i = 0; i < d; i++)
				g[(size_t) i * d + j] = g[(size_t) j * d + i] = 0.0;
			g[(size_t) j * d + j] = 1.0;
			rhs[j] = 0.0;
			result->dropped++;
		}
		else
		{
			mean_diag += g[(size_t) j * d + j];
			kept++;
			g[(size_t) j * d + j] += l2;
		}
	}
	mean_diag = kept > 0 ? mean_diag / kept : 1.0;

	if (hooks && hooks->tick)
		hooks->tick(hooks->arg);
	if (!try_cholesky(blas, d, g, keep, 0.0, a))
	{
		bool		ok = false;

		for (ridge = 1e-10 * mean_diag; ridge < mean_diag; ridge *= 100.0)
		{
			if (hooks && hooks->tick)
				hooks->tick(hooks->arg);
			if (try_cholesky(blas, d, g, keep, ridge, a))
			{
				ok = true;
				break;
			}
		}
		if (!ok)
			return maas_error(err, MAAS_ERR_DIVERGED,
							  "training diverged: the normal equations could not be solved");
	}
	result->jitter = ridge;
	blas->dpotrs(&uplo, &d, &one, a, &d, rhs, &d, &info);
	if (info != 0)
		return maas_error(err, MAAS_ERR_DIVERGED,
						  "training diverged: the normal equations could not be solved");

	{
		double		b = ybar;

		for (int j = 0; j < d; j++)
		{
			if (!keep[j])
				rhs[j] = 0.0;
			result->w[j] = (float) rhs[j];
			b -= mu[j] * rhs[j];
		}
		result->b = (float) b;
	}
	if (!maas_all_finite(result->w, d) || !isfinite(result->b))
		return maas_error(err, MAAS_ERR_DIVERGED,
						  "training diverged: the coefficients are not finite");
	return true;
}
