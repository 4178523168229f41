#!/bin/bash
# Overhead of rollout routing on per-row maas_predict (issue 17).
#
#   test/bench/rollout_overhead.sh [rows] [rounds]
#
# Needs maas installed; runs on a throw-away cluster (pg_virtualenv) with
# maas in shared_preload_libraries, unless PGPORT/PGHOST already point at
# one.  Model bench_ro has two versions with the same weights (the digits
# MLP, and the diabetes linear model as bench_ro_lin), so any difference in
# time is routing, not model cost.  Rounds alternate three runs over the
# same rows: "a1" and "a2" with no rollout (an A/A pair: the noise), and
# "canary" with a 10% canary of the second version routed by call.  Prints
# the best and median time of each and the ratios; never fails on time.
#
# The no-rollout path against a build without rollouts (main before issue
# 17) is the same script run on both builds: compare their a1 figures.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${MAAS_BENCH_IN_ENV:-}" ] && [ -z "${PGPORT:-}" ]; then
	exec env MAAS_BENCH_IN_ENV=1 pg_virtualenv -t -o shared_preload_libraries=maas "$0" "$@"
fi

rows=${1:-40000}
rounds=${2:-7}

PGOPTIONS="-c bench.rounds=$rounds ${PGOPTIONS:-}" psql -X -q -v ON_ERROR_STOP=1 -v rows="$rows" -v rounds="$rounds" <<'SQL'
\set QUIET on
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS maas CASCADE;
CREATE EXTENSION maas;
\i test/fixtures/load.psql
\set QUIET on
\set ECHO none
SELECT maas_register('bench_ro', 'mlp', decode(:'digits_w', 'base64'), :'digits_c') \gset
SELECT maas_register('bench_ro', 'mlp', decode(:'digits_w', 'base64'), :'digits_c') \gset
SELECT maas_deploy('bench_ro', 1) \gset
SELECT maas_register('bench_ro_lin', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c') \gset
SELECT maas_register('bench_ro_lin', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c') \gset
SELECT maas_deploy('bench_ro_lin', 1) \gset
CREATE TABLE bench_ro_rows AS
  SELECT g AS id, t.features FROM generate_series(1, :rows) g
  JOIN digits_test t ON t.id = 1 + g % 40;
CREATE TABLE bench_ro_lin_rows AS
  SELECT g AS id, t.features FROM generate_series(1, :rows) g
  JOIN diabetes_test t ON t.id = 1 + g % 40;
VACUUM ANALYZE bench_ro_rows;
VACUUM ANALYZE bench_ro_lin_rows;
SET max_parallel_workers_per_gather = 0;

CREATE FUNCTION pg_temp.run_ms(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	EXECUTE q;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

CREATE TEMP TABLE timings (model text, run text, round int, ms float8);
-- each round: a1 and a2 with no rollout, then a 10% canary (deployed and
-- ended inside the loop: the session's next statement sees each)
DO $$
DECLARE
	m text;
	q text;
BEGIN
	FOREACH m IN ARRAY ARRAY['bench_ro', 'bench_ro_lin'] LOOP
		q := format('SELECT sum(maas_predict(%L, features)) FROM %I', m, m || '_rows');
		EXECUTE q;				-- warm the cache
		FOR r IN 1..current_setting('bench.rounds')::int LOOP
			INSERT INTO timings VALUES (m, 'a1', r, pg_temp.run_ms(q));
			INSERT INTO timings VALUES (m, 'a2', r, pg_temp.run_ms(q));
			PERFORM maas_deploy(m, 2, '{"strategy": "canary", "fraction": 0.1}');
			INSERT INTO timings VALUES (m, 'canary', r, pg_temp.run_ms(q));
			PERFORM maas_deploy(m, 1);
		END LOOP;
	END LOOP;
END $$;
\echo
\echo per-row maas_predict, :rounds rounds of :rows rows: no rollout twice (A/A), then a 10% canary
SELECT model,
       round(min(ms) FILTER (WHERE run = 'a1')::numeric, 1) AS a1_best_ms,
       round(min(ms) FILTER (WHERE run = 'a2')::numeric, 1) AS a2_best_ms,
       round(min(ms) FILTER (WHERE run = 'canary')::numeric, 1) AS canary_best_ms,
       round((:rows / min(ms) FILTER (WHERE run = 'a1') * 1000)::numeric) AS a1_rows_s,
       round((min(ms) FILTER (WHERE run = 'a2') / min(ms) FILTER (WHERE run = 'a1'))::numeric, 4) AS aa_ratio,
       round((min(ms) FILTER (WHERE run = 'canary') /
              least(min(ms) FILTER (WHERE run = 'a1'), min(ms) FILTER (WHERE run = 'a2')))::numeric, 4)
         AS canary_ratio,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE run = 'canary') /
              percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE run <> 'canary'))::numeric, 4)
         AS canary_median_ratio
  FROM timings GROUP BY model ORDER BY model;
\echo calls each version answered (about 10% of the canary runs on version 2)
SELECT model, version, calls FROM maas.stats WHERE model LIKE 'bench\_ro%' ORDER BY 1, 2;
DROP TABLE bench_ro_rows, bench_ro_lin_rows;
SELECT maas_drop('bench_ro') + maas_drop('bench_ro_lin') AS dropped \gset
SQL
