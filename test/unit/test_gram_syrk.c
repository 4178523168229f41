/*
 * test_gram_syrk.c
 *		Unit tests of the narrow Gram update (src/kernel/gram_syrk.c):
 *		every code path this CPU can run against a long double reference,
 *		for widths of 1, odd, the tile sizes and around them, and large;
 *		blocks of 1 row, odd, around the row chunk, and large; adding and
 *		taking away.  Every entry the kernel may not touch must keep its bits.
 */
#include <math.h>
#include <stdlib.h>

#include "cpu.h"
#include "train.h"
#include "unit.h"

static uint64_t rng = 5;

static double
uniform(void)
{
	return maas_rng_uniform(&rng) * 2.0 - 1.0;
}

/* one update of g (ld x ld, random) by a random block; false on a mismatch */
static bool
check_one(MaasSyrkIsa isa, int w, int m, double sign)
{
	int			ld = (w + 7) & ~7;
	double	   *b = maas_kalloc(sizeof(double) * (size_t) m * ld);
	double	   *g = maas_kalloc(sizeof(double) * (size_t) ld * ld);
	double	   *g0 = maas_kalloc(sizeof(double) * (size_t) ld * ld);
	bool		ok = true;

	for (int r = 0; r < m; r++)
		for (int j = 0; j < ld; j++)
			/* a spread of magnitudes, and zero padding */
			b[(size_t) r * ld + j] = j < w ? uniform() * (1.0 + (r % 7) * 100.0) : 0.0;
	for (int i = 0; i < ld * ld; i++)
		g0[i] = g[i] = uniform() * 10.0;

	maas_syrk_upper(isa, w, ld, m, sign, b, g);

	for (int i = 0; i < ld && ok; i++)
		for (int j = 0; j < ld && ok; j++)
		{
			size_t		at = (size_t) i * ld + j;
			long double s = 0,
						mag = 0;
			double		want,
						tol;

			if (i >= w || j >= w)
			{
				/* padding: zeros added, or nothing */
				if (g[at] != g0[at])
				{
					fprintf(stderr, "    %s w %d m %d: padding [%d][%d] changed\n",
							maas_syrk_isa_name(isa), w, m, i, j);
					ok = false;
				}
				continue;
			}
			for (int r = 0; r < m; r++)
			{
				long double p = (long double) b[(size_t) r * ld + i] * b[(size_t) r * ld + j];

				s += p;
				mag += fabsl(p);
			}
			want = (double) (g0[at] + sign * s);
			tol = 1e-14 * (double) (mag + fabsl(g0[at])) + 1e-300;
			/* below the diagonal: untouched, or the symmetric sum */
			if (i > j && g[at] == g0[at])
				continue;
			if (!(fabs(g[at] - want) <= tol))
			{
				fprintf(stderr, "    %s w %d m %d sign %g: [%d][%d] %.17g, want %.17g\n",
						maas_syrk_isa_name(isa), w, m, sign, i, j, g[at], want);
				ok = false;
			}
		}
	arena_reset();
	return ok;
}

static const MaasSyrkIsa isas[] = {MAAS_SYRK_SCALAR, MAAS_SYRK_AVX2, MAAS_SYRK_AVX512};

static void
test_syrk_reference(void)
{
	static const int widths[] = {1, 2, 3, 7, 8, 9, 13, 15, 16, 17, 24, 31, 52, 100, 257};
	static const int rows[] = {1, 3, 63, 64, 65, 300};

	for (int k = 0; k < (int) (sizeof(isas) / sizeof(isas[0])); k++)
	{
		if (maas_syrk_isa(isas[k]) != isas[k])
		{
			printf("    %s: not on this CPU, skipped\n", maas_syrk_isa_name(isas[k]));
			continue;
		}
		for (int a = 0; a < (int) (sizeof(widths) / sizeof(widths[0])); a++)
			for (int c = 0; c < (int) (sizeof(rows) / sizeof(rows[0])); c++)
			{
				CHECK(check_one(isas[k], widths[a], rows[c], 1.0));
				CHECK(check_one(isas[k], widths[a], rows[c], -1.0));
			}
	}
}

/* the block sizes the loader uses, and a long one, at the ridge's width */
static void
test_syrk_large(void)
{
	for (int k = 0; k < (int) (sizeof(isas) / sizeof(isas[0])); k++)
		if (maas_syrk_isa(isas[k]) == isas[k])
		{
			CHECK(check_one(isas[k], 52, MAAS_GRAM_BLOCK_NARROW, 1.0));
			CHECK(check_one(isas[k], 52, 5001, -1.0));
			CHECK(check_one(isas[k], MAAS_GRAM_NARROW, 129, 1.0));
		}
}

/* the paths agree with each other as closely as with the reference */
static void
test_syrk_paths_agree(void)
{
	int			w = 51,
				ld = 56,
				m = 777;
	double	   *b = maas_kalloc(sizeof(double) * (size_t) m * ld);
	double	   *ref = maas_kalloc(sizeof(double) * (size_t) ld * ld);
	double	   *g = maas_kalloc(sizeof(double) * (size_t) ld * ld);

	for (int r = 0; r < m; r++)
		for (int j = 0; j < ld; j++)
			b[(size_t) r * ld + j] = j < w ? uniform() : 0.0;
	memset(ref, 0, sizeof(double) * ld * ld);
	maas_syrk_upper(MAAS_SYRK_SCALAR, w, ld, m, 1.0, b, ref);
	for (int k = 1; k < (int) (sizeof(isas) / sizeof(isas[0])); k++)
	{
		memset(g, 0, sizeof(double) * ld * ld);
		maas_syrk_upper(isas[k], w, ld, m, 1.0, b, g);
		for (int i = 0; i < w; i++)
			for (int j = i; j < w; j++)
				CHECK(fabs(g[i * ld + j] - ref[i * ld + j]) <= 1e-12 * m);
	}
	arena_reset();
}

/* a CPU without the feature (forced off) falls back, and still sums right */
static void
test_syrk_fallback(void)
{
	MaasCpuMask saved = maas_cpu_disabled();

	maas_cpu_set_disabled(MAAS_CPU_BIT(MAAS_CPU_AVX512F));
	CHECK(maas_syrk_isa(MAAS_SYRK_AUTO) != MAAS_SYRK_AVX512);
	CHECK(maas_syrk_isa(MAAS_SYRK_AVX512) != MAAS_SYRK_AVX512);
	CHECK(check_one(MAAS_SYRK_AVX512, 52, 100, 1.0));
	maas_cpu_set_disabled(MAAS_CPU_BIT(MAAS_CPU_AVX2));
	CHECK(maas_syrk_isa(MAAS_SYRK_AUTO) == MAAS_SYRK_SCALAR);
	CHECK(check_one(MAAS_SYRK_AUTO, 52, 100, -1.0));
	maas_cpu_set_disabled(saved);
	printf("    this CPU: %s\n", maas_syrk_isa_name(maas_syrk_isa(MAAS_SYRK_AUTO)));
	/* nothing to do is nothing done */
	maas_syrk_upper(MAAS_SYRK_AUTO, 0, 8, 10, 1.0, NULL, NULL);
	maas_syrk_upper(MAAS_SYRK_AUTO, 5, 8, 0, 1.0, NULL, NULL);
}

int
main(void)
{
	UNIT_RUN(test_syrk_reference);
	UNIT_RUN(test_syrk_large);
	UNIT_RUN(test_syrk_paths_agree);
	UNIT_RUN(test_syrk_fallback);
	return unit_finish("gram_syrk");
}
