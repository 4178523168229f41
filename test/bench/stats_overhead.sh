#!/bin/bash
# Overhead of the serving statistics on per-row maas_predict.
#
#   test/bench/stats_overhead.sh [rows] [rounds]
#
# Needs maas installed; runs on a throw-away cluster (pg_virtualenv) with
# maas in shared_preload_libraries, unless PGPORT/PGHOST already point at
# one.  For each model it scores the same rows with maas.stats_track off
# and on, alternating, rounds times, and prints the best time of each, the
# rows/s and the ratio on/off.  Prints figures only: it never fails on
# time.  The counters' cost is the gap between "on" and "off" ("off" still
# runs the prediction through the same functions, minus the counting).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${MAAS_BENCH_IN_ENV:-}" ] && [ -z "${PGPORT:-}" ]; then
	exec env MAAS_BENCH_IN_ENV=1 pg_virtualenv -t -o shared_preload_libraries=maas "$0" "$@"
fi

rows=${1:-40000}
rounds=${2:-7}

PGOPTIONS="-c bench.rounds=$rounds -c bench.aa=${MAAS_BENCH_AA:-off} ${PGOPTIONS:-}" psql -X -q -v ON_ERROR_STOP=1 -v rows="$rows" -v rounds="$rounds" <<'SQL'
\set QUIET on
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS maas CASCADE;
CREATE EXTENSION maas;
\i test/fixtures/load.psql
\set QUIET on
\set ECHO none
SELECT maas_register('bench_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c') \gset
SELECT maas_deploy('bench_digits', 1) \gset
SELECT maas_register('bench_diabetes', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c') \gset
SELECT maas_deploy('bench_diabetes', 1) \gset
-- one table per model: :rows rows, cycling through the test set
CREATE TABLE bench_digits_rows AS
  SELECT g AS id, t.features FROM generate_series(1, :rows) g
  JOIN digits_test t ON t.id = 1 + g % 40;
CREATE TABLE bench_diabetes_rows AS
  SELECT g AS id, t.features FROM generate_series(1, :rows) g
  JOIN diabetes_test t ON t.id = 1 + g % 40;
VACUUM ANALYZE bench_digits_rows;
VACUUM ANALYZE bench_diabetes_rows;
SET max_parallel_workers_per_gather = 0;

-- milliseconds to run a query once, with stats tracking on or off
CREATE FUNCTION pg_temp.run_ms(q text, track bool) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
BEGIN
	-- bench.aa = on: an A/A run, both "on" and "off" untracked (the noise)
	PERFORM set_config('maas.stats_track',
					   (track AND NOT current_setting('bench.aa')::bool)::text, true);
	t0 := clock_timestamp();
	EXECUTE q;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

CREATE TEMP TABLE timings (model text, track bool, round int, ms float8);
DO $$
DECLARE
	m text;
	q text;
BEGIN
	FOREACH m IN ARRAY ARRAY['bench_digits', 'bench_diabetes'] LOOP
		q := format('SELECT sum(maas_predict(%L, features)) FROM %I', m, m || '_rows');
		EXECUTE q;				-- warm the cache
		FOR r IN 1..current_setting('bench.rounds')::int LOOP
			INSERT INTO timings VALUES (m, false, r, pg_temp.run_ms(q, false));
			INSERT INTO timings VALUES (m, true, r, pg_temp.run_ms(q, true));
		END LOOP;
	END LOOP;
END $$;
\echo
\echo per-row maas_predict, best of :rounds rounds, :rows rows each
SELECT model,
       round(min(ms) FILTER (WHERE NOT track)::numeric, 1) AS off_ms,
       round(min(ms) FILTER (WHERE track)::numeric, 1) AS on_ms,
       round((:rows / min(ms) FILTER (WHERE NOT track) * 1000)::numeric) AS off_rows_s,
       round((:rows / min(ms) FILTER (WHERE track) * 1000)::numeric) AS on_rows_s,
       round((min(ms) FILTER (WHERE track) / min(ms) FILTER (WHERE NOT track))::numeric, 4) AS ratio_on_off,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE track) /
              percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE NOT track))::numeric, 4)
         AS median_ratio
  FROM timings GROUP BY model ORDER BY model;
\echo what maas.stats measured (mean time inside the function, sampled)
SELECT model, calls, rows, errors, round(mean_ms::numeric * 1000, 3) AS mean_us
  FROM maas.stats WHERE model LIKE 'bench\_%' ORDER BY model;
DROP TABLE bench_digits_rows, bench_diabetes_rows;
SELECT maas_drop('bench_digits') + maas_drop('bench_diabetes') AS dropped \gset
SQL
