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

/*
 * Solve the centred system: g (d x d, full, centred, as sums over n rows)
 * and rhs (centred X^T y) are overwritten, mu holds the columns' means and
 * ybar the target's.  Columns without variance get coefficient 0.
 */
static bool
linear_solve(const MaasBlas *blas, int d, double *g, double *rhs,
			 const double *mu, double ybar, double l2,
			 const MaasTrainHooks *hooks, MaasLinearResult *result,
			 MaasError *err)
{
	size_t		dd = (size_t) d * d;
	double	   *a;
	bool	   *keep;
	double		max_diag = 0.0,
				mean_diag = 0.0,
				ridge = 0.0;
	int			kept = 0;
	int			info = 0,
				one = 1;
	char		uplo = 'L';

	if ((a = maas_kalloc(sizeof(double) * dd)) == NULL ||
		(keep = maas_kalloc(sizeof(bool) * d)) == NULL ||
		(result->w = maas_kalloc(sizeof(float) * d)) == NULL)
		return nomem(err);
	for (int i = 0; i < d; i++)
		if (g[(size_t) i * d + i] > max_diag)
			max_diag = g[(size_t) i * d + i];

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

static bool
has_lapack(const MaasBlas *blas, MaasError *err)
{
	if (blas->dsyrk == NULL || blas->dpotrf == NULL || blas->dpotrs == NULL)
		return maas_error(err, MAAS_ERR_UNSUPPORTED,
						  "the BLAS library has no dsyrk, dpotrf or dpotrs");
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
			   *chunk,
			   *mu,
			   *xty,
			   *rhs;
	double		ysum = 0.0,
				ybar;

	memset(result, 0, sizeof(*result));
	if (!has_lapack(blas, err))
		return false;
	if ((g = maas_kalloc(sizeof(double) * dd)) == NULL ||
		(chunk = maas_kalloc(sizeof(double) * (size_t) LINEAR_CHUNK_ROWS * d)) == NULL ||
		(mu = maas_kalloc(sizeof(double) * d)) == NULL ||
		(xty = maas_kalloc(sizeof(double) * d)) == NULL ||
		(rhs = maas_kalloc(sizeof(double) * d)) == NULL)
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
	}
	return linear_solve(blas, d, g, rhs, mu, ybar, l2, hooks, result, err);
}

/* ---- the normal equations summed while the rows are read ---- */

/*
 * A row in the block is [x - x0, y - y0, 1]: one rank-k update of the
 * block sums the products of the features, their products with the
 * target, and (by the last column) the plain sums of both.
 */
bool
maas_gram_init(MaasGram *gr, int d, MaasError *err)
{
	size_t		ld = ((size_t) d + 2 + 7) & ~(size_t) 7;

	memset(gr, 0, sizeof(*gr));
	gr->d = d;
	gr->ld = (int) ld;
	gr->block = d + 2 <= MAAS_GRAM_NARROW ? MAAS_GRAM_BLOCK_NARROW : MAAS_GRAM_BLOCK;
	gr->sign = 1.0;
	if ((gr->g = maas_kalloc_array(ld * ld, sizeof(double))) == NULL ||
		(gr->x0 = maas_kalloc_array((size_t) d, sizeof(float))) == NULL ||
		(gr->buf = maas_kalloc_array((size_t) gr->block * ld, sizeof(double))) == NULL)
		return nomem(err);
	memset(gr->g, 0, sizeof(double) * ld * ld);
	/* the padding after column d + 1 stays zero */
	memset(gr->buf, 0, sizeof(double) * (size_t) gr->block * ld);
	return true;
}

void
maas_gram_flush(const MaasBlas *blas, MaasGram *gr)
{
	int			w = gr->d + 2;

	if (gr->pending == 0)
		return;
	/*
	 * maas's tiles where the CPU has AVX2 or AVX-512; without them the
	 * BLAS's own SSE kernels beat a plain loop (5x, forced off on Zen 5)
	 */
	if (w <= MAAS_GRAM_NARROW && maas_syrk_isa(MAAS_SYRK_AUTO) != MAAS_SYRK_SCALAR)
		maas_syrk_upper(MAAS_SYRK_AUTO, w, gr->ld, gr->pending, gr->sign, gr->buf, gr->g);
	else
	{
		/* upper triangle, row-major: G += sign buf^T buf */
		blas->dsyrk(MAAS_CBLAS_ROW_MAJOR, MAAS_CBLAS_UPPER, MAAS_CBLAS_TRANS,
					w, gr->pending, gr->sign, gr->buf, gr->ld, 1.0, gr->g, gr->ld);
	}
	gr->pending = 0;
}

void
maas_gram_add(const MaasBlas *blas, MaasGram *gr, const float *restrict x, float y)
{
	int			d = gr->d;
	double	   *restrict row;
	const float *restrict x0 = gr->x0;

	if (!gr->have_x0)
	{
		memcpy(gr->x0, x, sizeof(float) * (size_t) d);
		gr->y0 = y;
		gr->have_x0 = true;
	}
	row = gr->buf + (size_t) gr->pending * gr->ld;
	for (int j = 0; j < d; j++)
		row[j] = (double) x[j] - (double) x0[j];
	row[d] = (double) y - gr->y0;
	row[d + 1] = 1.0;
	gr->n += gr->sign > 0 ? 1 : -1;
	if (++gr->pending == gr->block)
		maas_gram_flush(blas, gr);
}

void
maas_gram_remove_begin(const MaasBlas *blas, MaasGram *gr)
{
	maas_gram_flush(blas, gr);
	gr->sign = -1.0;
}

/* sum (x_j - x0_j) and its like, from the upper triangle */
#define GRAM_AT(gr, i, j)	((gr)->g[(size_t) (i) * (gr)->ld + (j)])
#define GRAM_SUM(gr, j)		GRAM_AT(gr, j, (gr)->d + 1)

void
maas_gram_moments(const MaasGram *gr, double *mean, double *var)
{
	int			d = gr->d;
	double		n = (double) gr->n;

	/* as maas_prep_scale: sums around a row, the square of the mean taken off */
	for (int j = 0; j < d; j++)
	{
		double		m = GRAM_SUM(gr, j) / n;
		double		ss = GRAM_AT(gr, j, j) - m * m * n;

		mean[j] = m + (double) gr->x0[j];
		var[j] = ss > 0 ? ss / n : 0.0;
	}
}

bool
maas_linear_fit_gram(const MaasBlas *blas, const MaasGram *gr,
					 const float *shift, const float *inv, double l2,
					 const MaasTrainHooks *hooks, MaasLinearResult *result,
					 MaasError *err)
{
	int			d = gr->d;
	double		n = (double) gr->n;
	size_t		dd = (size_t) d * d;
	double	   *g,
			   *mu,
			   *dbar,
			   *rhs;
	double		ebar = GRAM_SUM(gr, d) / n;

	memset(result, 0, sizeof(*result));
	if (!has_lapack(blas, err))
		return false;
	if (gr->n < 1 || gr->pending != 0)
		return maas_error(err, MAAS_ERR_INVALID, "the normal equations have no rows");
	if ((g = maas_kalloc_array(dd, sizeof(double))) == NULL ||
		(mu = maas_kalloc_array((size_t) d, sizeof(double))) == NULL ||
		(dbar = maas_kalloc_array((size_t) d, sizeof(double))) == NULL ||
		(rhs = maas_kalloc_array((size_t) d, sizeof(double))) == NULL)
		return nomem(err);

	/*
	 * Centred sums of the rows as scaled, z = (x - shift) * inv: the sums
	 * around x0 less n times the square of their mean, times inv_i inv_j.
	 * The means of z are those of x, shifted and scaled.
	 */
	for (int j = 0; j < d; j++)
	{
		double		sc = inv ? (double) inv[j] : 1.0;

		dbar[j] = GRAM_SUM(gr, j) / n;
		mu[j] = ((double) gr->x0[j] + dbar[j] - (shift ? (double) shift[j] : 0.0)) * sc;
		rhs[j] = (GRAM_AT(gr, j, d) - n * dbar[j] * ebar) * sc;
	}
	for (int i = 0; i < d; i++)
	{
		double		si = inv ? (double) inv[i] : 1.0;

		for (int j = i; j < d; j++)
		{
			double		sj = inv ? (double) inv[j] : 1.0;
			double		v = (GRAM_AT(gr, i, j) - n * dbar[i] * dbar[j]) * si * sj;

			g[(size_t) i * d + j] = v;
			g[(size_t) j * d + i] = v;
		}
	}
	return linear_solve(blas, d, g, rhs, mu, gr->y0 + ebar, l2, hooks, result, err);
}
