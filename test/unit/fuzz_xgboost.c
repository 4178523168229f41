/*
 * fuzz_xgboost.c
 *		libFuzzer target for the XGBoost JSON model reader.
 *
 * Each input is read as a model.  When it reads, the result must pass the
 * trees checker, compile, and evaluate rows (with missing values); the
 * margins are finite when no leaf is huge (a sum of huge leaves may
 * overflow, which the server checks on output); when it does not, the error must have a status and a
 * message.  A broken promise traps.
 */
#include <math.h>
#include <string.h>

#include "trees.h"
#include "unit.h"

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MaasXgbModel m;
	MaasError	err;

	memset(&err, 0, sizeof(err));
	if (maas_xgb_read((const char *) data, size, NULL, &m, &err))
	{
		MaasTreesPlan *p;

		REQUIRE(maas_trees_check(&m.trees, &err));
		p = maas_trees_compile(&m.trees, &err);
		REQUIRE(p != NULL);
		if (m.trees.n_features <= 64)
		{
			bool		small = true;

			float		x[4 * 64];
			float	   *out = maas_kalloc(sizeof(float) * 4 * m.trees.n_groups);

			for (int i = 0; i < 4 * 64; i++)
				x[i] = (i % 7 == 0) ? NAN : (float) (i % 13) - 6.0f;
			REQUIRE(out != NULL);
			for (int i = 0; i < m.trees.n_nodes; i++)
				small &= fabsf(m.trees.value[i]) <= 1e20f;
			for (int g = 0; g < m.trees.n_groups; g++)
				small &= fabsf(m.trees.base_score[g]) <= 1e20f;
			maas_trees_forward(p, 4, x, out);
			for (int i = 0; i < 4 * m.trees.n_groups && small; i++)
				REQUIRE(isfinite(out[i]));
			maas_trees_forward(p, 1, x, out);
		}
	}
	else
	{
		REQUIRE(err.status == MAAS_ERR_INVALID || err.status == MAAS_ERR_UNSUPPORTED ||
				err.status == MAAS_ERR_LIMIT || err.status == MAAS_ERR_NOMEM);
		REQUIRE(strlen(err.msg) > 0);
	}
	arena_reset();
	return 0;
}
