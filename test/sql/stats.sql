-- Serving statistics: maas.stats, errors, reset, tracking, visibility
\i test/fixtures/load.psql
SELECT maas_stats_reset() <= now() + interval '1 minute' AS reset;
SELECT count(*) AS entries FROM maas.stats;
SELECT dealloc, stats_reset <= now() + interval '1 minute' AS has_reset_time, entries,
       max_entries
  FROM maas.stats_info;

SELECT maas_register('stats_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_register('stats_digits', 'mlp', decode(:'digits_v2_w', 'base64'), :'digits_v2_c');
SELECT maas_deploy('stats_digits', 1);
SELECT maas_register('stats_diabetes', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c');
SELECT maas_deploy('stats_diabetes', 1);

-- per-row calls: one call and one row each; pinned versions count apart
SELECT count(maas_predict('stats_digits', features)) FROM digits_test;
SELECT count(maas_predict_proba('stats_digits', features)) FROM digits_test WHERE id <= 100;
SELECT count(maas_predict_label('stats_digits', features)) FROM digits_test WHERE id <= 40;
SELECT count(maas_predict('stats_digits', 2, features::float8[])) FROM digits_test WHERE id <= 10;
SELECT count(maas_predict('stats_diabetes', features)) FROM diabetes_test;
SELECT model, version, calls, rows, errors,
       total_ms > 0 AS timed, mean_ms > 0 AS has_mean, max_ms > 0 AS has_max,
       last_call >= stats_since AS called_after_since
  FROM maas.stats ORDER BY 1, 2;

-- two call sites in one statement count apart
SELECT count(maas_predict('stats_digits', features) + maas_predict('stats_digits', features))
  FROM digits_test WHERE id <= 5;
SELECT calls, rows FROM maas.stats WHERE model = 'stats_digits' AND version = 1;

-- errors: counted although the statement failed and its transaction aborted
SELECT maas_predict('stats_digits', ARRAY[1, 2, 3]::real[]);
SELECT maas_predict('stats_digits', array_fill('NaN'::real, ARRAY[64]));
SELECT maas_predict('stats_digits', NULL::real[]);
SELECT maas_predict_proba('stats_diabetes', features) FROM diabetes_test WHERE id = 1;
-- a bad row late in a scan: the calls before it returned, and count
SELECT count(maas_predict('stats_digits', CASE WHEN id = 30 THEN ARRAY[1]::real[] ELSE features END))
  FROM digits_test;
-- errors caught in PL/pgSQL, each one counted
DO $$
BEGIN
	FOR i IN 1..3 LOOP
		BEGIN
			PERFORM maas_predict('stats_digits', ARRAY[1]::real[]);
		EXCEPTION WHEN invalid_parameter_value THEN
			NULL;
		END;
	END LOOP;
END
$$;
-- a rolled-back transaction still did the work
BEGIN;
SELECT count(maas_predict('stats_digits', features)) FROM digits_test WHERE id <= 5;
ROLLBACK;
-- an unknown model or version has no row to count in
SELECT maas_predict('stats_nothing', ARRAY[1]::real[]);
SELECT maas_predict('stats_digits', 9, features) FROM digits_test WHERE id = 1;
SELECT model, version, calls, rows, errors FROM maas.stats ORDER BY 1, 2;

-- a function called per row from PL/pgSQL
CREATE FUNCTION pg_temp.score(f real[]) RETURNS float8 LANGUAGE plpgsql AS
$$ BEGIN RETURN maas_predict('stats_diabetes', f); END $$;
SELECT count(pg_temp.score(features)) FROM diabetes_test WHERE id <= 20;
SELECT calls, rows, errors FROM maas.stats WHERE model = 'stats_diabetes';

-- a redeploy is seen by the next statement, and counted for its version
SELECT maas_deploy('stats_digits', 2);
SELECT count(maas_predict('stats_digits', features)) FROM digits_test WHERE id <= 7;
SELECT maas_deploy('stats_digits', 1);
SELECT version, calls, rows FROM maas.stats WHERE model = 'stats_digits' ORDER BY 1;

-- maas.stats_track = off stops counting
SET maas.stats_track = off;
SELECT count(maas_predict('stats_diabetes', features)) FROM diabetes_test;
RESET maas.stats_track;
SELECT calls FROM maas.stats WHERE model = 'stats_diabetes';

-- parallel workers count their own rows; the sum is exact
CREATE TABLE stats_big AS
  SELECT g AS n, t.features FROM digits_test t, generate_series(1, 30) g;
ANALYZE stats_big;
SELECT maas_stats_reset('stats_digits') <= now() + interval '1 minute' AS reset;
SELECT count(*) AS entries FROM maas.stats WHERE model = 'stats_digits';
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(maas_predict('stats_digits', features)) FROM stats_big;
SELECT count(maas_predict('stats_digits', features)) FROM stats_big;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT calls, rows, errors FROM maas.stats WHERE model = 'stats_digits';
DROP TABLE stats_big;

-- resetting one version, one model, and bad arguments
SELECT count(maas_predict('stats_digits', 2, features)) FROM digits_test WHERE id <= 3;
SELECT maas_stats_reset('stats_digits', 2) IS NOT NULL AS reset;
SELECT model, version FROM maas.stats WHERE model LIKE 'stats\_%' ORDER BY 1, 2;
SELECT maas_stats_reset('stats_diabetes') IS NOT NULL AS reset;
SELECT model, version FROM maas.stats WHERE model LIKE 'stats\_%' ORDER BY 1, 2;
SELECT maas_stats_reset(NULL, 1);
SELECT maas_stats_reset('stats_digits', 0);

-- visibility: a role sees the versions of models it may use
CREATE ROLE regress_maas_stats_owner;
CREATE ROLE regress_maas_stats_other;
GRANT EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb), maas_deploy(text, text)
   TO regress_maas_stats_owner;
SET ROLE regress_maas_stats_owner;
SELECT maas_register('stats_owned', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
SELECT maas_deploy('stats_owned', 'latest');
SELECT maas_predict('stats_owned', ARRAY[1, 2, 3]::real[]) IS NOT NULL AS predicted;
-- the owner sees its own model only
SELECT model, version, calls FROM maas.stats WHERE model LIKE 'stats\_%' ORDER BY 1, 2;
-- resetting is not for everyone
SELECT maas_stats_reset();
RESET ROLE;
-- a model granted to a role shows to it too
SELECT maas_grant('stats_digits', 'regress_maas_stats_owner');
SET ROLE regress_maas_stats_owner;
SELECT model, version, calls FROM maas.stats WHERE model LIKE 'stats\_%' ORDER BY 1, 2;
SELECT model, version, kind FROM maas.drift WHERE model LIKE 'stats\_%' AND kind = 'model' ORDER BY 1, 2;
RESET ROLE;
SELECT maas_revoke('stats_digits', 'regress_maas_stats_owner');
SET ROLE regress_maas_stats_other;
SELECT model, version, calls FROM maas.stats WHERE model LIKE 'stats\_%' ORDER BY 1, 2;
SELECT count(*) FROM maas.prediction_distribution WHERE model LIKE 'stats\_%';
RESET ROLE;
GRANT pg_read_all_stats TO regress_maas_stats_other;
SET ROLE regress_maas_stats_other;
SELECT model, version, calls FROM maas.stats WHERE model LIKE 'stats\_%' ORDER BY 1, 2;
RESET ROLE;
-- a DBA may grant the reset
GRANT EXECUTE ON FUNCTION maas_stats_reset(text, integer) TO regress_maas_stats_other;
SET ROLE regress_maas_stats_other;
SELECT maas_stats_reset('stats_owned') IS NOT NULL AS reset;
RESET ROLE;
SELECT count(*) AS entries FROM maas.stats WHERE model = 'stats_owned';

SELECT maas_drop('stats_owned');
REVOKE EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb), maas_deploy(text, text)
    FROM regress_maas_stats_owner;
REVOKE EXECUTE ON FUNCTION maas_stats_reset(text, integer) FROM regress_maas_stats_other;
DROP ROLE regress_maas_stats_owner;
DROP ROLE regress_maas_stats_other;

-- batch scoring: one call per batch, every row counted, bad batches are errors
SELECT maas_stats_reset('stats_digits') IS NOT NULL AS reset;
SELECT count(*) FROM maas_predict_batch('stats_digits', 'SELECT id, features FROM digits_test', 16);
SELECT maas_predict_batch('stats_digits', 'SELECT 1, ARRAY[1]::real[]');
SELECT calls, rows, errors FROM maas.stats WHERE model = 'stats_digits' AND version = 1;
SELECT sum(serve_count) AS predicted FROM maas.prediction_distribution
 WHERE model = 'stats_digits' AND version = 1;

-- a dropped version's counters are no longer shown
SELECT count(maas_predict('stats_digits', 2, features)) FROM digits_test WHERE id <= 3;
SELECT maas_drop('stats_digits', 2);
SELECT model, version FROM maas.stats WHERE model LIKE 'stats\_%' ORDER BY 1, 2;

SELECT maas_drop('stats_digits');
SELECT maas_drop('stats_diabetes');
SELECT count(*) AS entries FROM maas.stats WHERE model LIKE 'stats\_%';
