#!/bin/bash
# Per-row cost of maas_predict by the type the features come in.
#
#   test/bench/predict_types.sh [rows] [rounds]
#
# Needs maas installed; runs on a throw-away cluster (pg_virtualenv) with
# maas in shared_preload_libraries, unless PGPORT/PGHOST already point at
# one.  The digits MLP (64 features) scores the same rows held as real[],
# double precision[], numeric[], integer[], text (an array literal, what
# an untyped driver parameter becomes), jsonb, and a row of 64 columns;
# the forms are run in turn, rounds times, and the best time of each is
# printed as ns/row next to a floor: a scan of the same real[] rows that
# reads every array.  A small model makes the per-call overhead, which is
# what the type changes, most of the time.  A form the installed version
# lacks prints no figure, so two builds can be compared side by side.
# Prints figures only: it never fails on time.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${MAAS_BENCH_IN_ENV:-}" ] && [ -z "${PGPORT:-}" ]; then
	exec env MAAS_BENCH_IN_ENV=1 pg_virtualenv -t -o shared_preload_libraries=maas "$0" "$@"
fi

rows=${1:-100000}
rounds=${2:-7}

PGOPTIONS="-c bench.rounds=$rounds ${PGOPTIONS:-}" psql -X -q -v ON_ERROR_STOP=1 -v rows="$rows" -v rounds="$rounds" <<'SQL'
\set QUIET on
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS maas CASCADE;
CREATE EXTENSION maas;
DROP TABLE IF EXISTS bench_rows, bench_cols;	-- left by a run stopped early
\i test/fixtures/load.psql
\set QUIET on
\set ECHO none
SELECT maas_register('bench_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c') \gset
SELECT maas_deploy('bench_digits', 1) \gset
CREATE TABLE bench_rows AS
  SELECT g AS id, t.features AS f4, t.features::float8[] AS f8,
         t.features::numeric[] AS num, t.features::int[] AS i4,
         t.features::text AS txt, to_jsonb(t.features) AS js
    FROM generate_series(1, :rows) g JOIN digits_test t ON t.id = 1 + g % 40;
-- the same rows as 64 columns c1..c64 and a model that reads them by name
SELECT format('CREATE TABLE bench_cols AS SELECT id, %s FROM bench_rows',
              string_agg(format('f4[%s] AS c%s', i, i), ', ' ORDER BY i))
  FROM generate_series(1, 64) i \gexec
SELECT maas_register('bench_digits_cols', 'mlp', decode(:'digits_w', 'base64'),
         jsonb_set(:'digits_c'::jsonb, '{inputs}',
                   (SELECT jsonb_agg(jsonb_build_object('name', 'c' || i, 'kind', 'number') ORDER BY i)
                      FROM generate_series(1, 64) i))) \gset
SELECT maas_deploy('bench_digits_cols', 1) \gset
VACUUM ANALYZE bench_rows;
VACUUM ANALYZE bench_cols;
SET max_parallel_workers_per_gather = 0;
SET jit = off;

-- milliseconds to run a query once, or NULL if this version cannot (before
-- this branch, the text form was text models' only: wrong_object_type)
CREATE FUNCTION pg_temp.run_ms(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	EXECUTE q;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
EXCEPTION WHEN undefined_function OR ambiguous_function OR datatype_mismatch
		  OR object_not_in_prerequisite_state OR wrong_object_type THEN
	RETURN NULL;
END $$;

CREATE TEMP TABLE forms (ord int, form text, q text);
INSERT INTO forms VALUES
  (0, 'floor: scan reading each real[]', 'SELECT sum(f4[64]) FROM bench_rows'),
  (1, 'real[]', 'SELECT sum(maas_predict(''bench_digits'', f4)) FROM bench_rows'),
  (2, 'double precision[]', 'SELECT sum(maas_predict(''bench_digits'', f8)) FROM bench_rows'),
  (3, 'numeric[]', 'SELECT sum(maas_predict(''bench_digits'', num)) FROM bench_rows'),
  (4, 'integer[]', 'SELECT sum(maas_predict(''bench_digits'', i4)) FROM bench_rows'),
  (5, 'text (array literal)', 'SELECT sum(maas_predict(''bench_digits'', txt)) FROM bench_rows'),
  (6, 'jsonb (array)', 'SELECT sum(maas_predict(''bench_digits'', js)) FROM bench_rows'),
  (7, 'row (64 columns)', 'SELECT sum(maas_predict(''bench_digits_cols'', c)) FROM bench_cols c');
CREATE TEMP TABLE timings (ord int, round int, ms float8);
DO $$
DECLARE
	f record;
BEGIN
	FOR f IN SELECT * FROM forms ORDER BY ord LOOP
		PERFORM pg_temp.run_ms(f.q);			-- warm the cache
	END LOOP;
	FOR r IN 1..current_setting('bench.rounds')::int LOOP
		FOR f IN SELECT * FROM forms ORDER BY ord LOOP
			INSERT INTO timings VALUES (f.ord, r, pg_temp.run_ms(f.q));
		END LOOP;
	END LOOP;
END $$;
\echo
\echo per-row maas_predict by feature type, digits MLP, best of :rounds rounds, :rows rows each
SELECT f.form,
       round(min(t.ms)::numeric, 1) AS best_ms,
       round((min(t.ms) * 1e6 / :rows)::numeric) AS ns_per_row,
       round((min(t.ms) / (SELECT min(ms) FROM timings WHERE ord = 1))::numeric, 3) AS ratio_to_real
  FROM forms f JOIN timings t USING (ord)
 GROUP BY f.ord, f.form ORDER BY f.ord;
DROP TABLE bench_rows, bench_cols;
SELECT maas_drop('bench_digits') + maas_drop('bench_digits_cols') AS dropped \gset
SQL
