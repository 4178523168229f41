-- Windowed serving statistics: maas.stats_window and maas.drift_window,
-- hour by hour, moved through time with maas.stats_window_test_offset
\i test/fixtures/load.psql
SELECT maas_stats_reset() IS NOT NULL AS reset;
SELECT count(*) AS windows FROM maas.stats_window;
SELECT maas_register('win_diabetes', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c');
SELECT maas_deploy('win_diabetes', 1);
SELECT maas_register('win_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_register('win_digits', 'mlp', decode(:'digits_v2_w', 'base64'), :'digits_v2_c');
SELECT maas_deploy('win_digits', 1);
-- training statistics from the rows served (as drift.sql does)
UPDATE maas.version SET train_stats = (
  SELECT jsonb_build_object(
           'n', (SELECT count(*) FROM diabetes_test),
           'features', jsonb_agg(jsonb_build_object('name', 'x' || i, 'mean', m, 'var', v) ORDER BY i),
           'target', (SELECT jsonb_build_object('mean', avg(label::float8), 'var', var_pop(label::float8))
                        FROM diabetes_test))
    FROM (SELECT i, avg(x::float8) AS m, var_pop(x::float8) AS v
            FROM diabetes_test, unnest(features) WITH ORDINALITY AS u(x, i)
           GROUP BY i) f)
 WHERE version_id = (SELECT version_id FROM maas.version v JOIN maas.model m USING (model_id)
                      WHERE m.name = 'win_diabetes' AND v.version = 1);

-- the windows' clock at the middle of an hour, so that each statement
-- below stays in the hour it is meant for
SELECT 1800 - floor(extract(epoch FROM clock_timestamp()))::bigint % 3600 AS base \gset
SELECT set_config('maas.stats_window_test_offset', :'base', false) IS NOT NULL AS hour_0;
SELECT count(maas_predict('win_diabetes', features)) FROM diabetes_test WHERE id <= 25;
SELECT count(maas_predict('win_digits', features)) FROM digits_test WHERE id <= 30;
SELECT set_config('maas.stats_window_test_offset', (:base + 3600)::text, false) IS NOT NULL AS hour_1;
SELECT count(maas_predict('win_diabetes', features)) FROM diabetes_test WHERE id > 25;
SELECT maas_predict('win_diabetes', ARRAY[1, 2]::real[]);
SELECT set_config('maas.stats_window_test_offset', (:base + 3 * 3600)::text, false) IS NOT NULL AS hour_3;
SELECT count(maas_predict_batch) FROM maas_predict_batch('win_digits', 'SELECT id, features FROM digits_test WHERE id <= 10');

SELECT min(window_start) AS h0 FROM maas.stats_window \gset
SELECT model, version, (extract(epoch FROM window_start - :'h0') / 3600)::int AS hour,
       extract(epoch FROM window_end - window_start)::int AS seconds,
       calls, rows, tokens, errors, mean_ms > 0 AS timed, max_ms > 0 AS has_max,
       last_call IS NOT NULL AS has_last_call, compared, agreement, mean_abs_diff
  FROM maas.stats_window WHERE model LIKE 'win_%' ORDER BY model, window_start;
-- the windows add up to maas.stats
SELECT s.model, s.calls = w.calls AND s.rows = w.rows AND s.errors = w.errors AS adds_up,
       abs(s.total_ms - w.total_ms) < 1e-6 AS same_time
  FROM maas.stats s
  JOIN (SELECT model, version, sum(calls) AS calls, sum(rows) AS rows, sum(errors) AS errors,
               sum(total_ms) AS total_ms
          FROM maas.stats_window GROUP BY 1, 2) w USING (model, version)
 WHERE s.model LIKE 'win_%' ORDER BY 1;

-- drift per window: the serving means of hour 0 are those of its 25 rows
SELECT (extract(epoch FROM window_start - :'h0') / 3600)::int AS hour, kind, count(*) AS rows,
       min(rows_seen) AS rows_seen, max(rank) AS max_rank, string_agg(DISTINCT note, '; ') AS notes
  FROM maas.drift_window WHERE model = 'win_diabetes' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT bool_and(abs(d.serve_mean - f.m) < 1e-6) AS hour_0_means
  FROM maas.drift_window d
  JOIN (SELECT i, avg(x::float8) AS m
          FROM diabetes_test, unnest(features) WITH ORDINALITY AS u(x, i)
         WHERE id <= 25 GROUP BY i) f ON f.i = d.feature
 WHERE d.model = 'win_diabetes' AND d.kind = 'feature' AND d.window_start = :'h0';
SELECT bool_and(abs(d.serve_mean - f.m) < 1e-6) AS hour_1_means
  FROM maas.drift_window d
  JOIN (SELECT i, avg(x::float8) AS m
          FROM diabetes_test, unnest(features) WITH ORDINALITY AS u(x, i)
         WHERE id > 25 GROUP BY i) f ON f.i = d.feature
 WHERE d.model = 'win_diabetes' AND d.kind = 'feature' AND d.window_start = :'h0'::timestamptz + interval '1 hour';
-- a classifier: class shares per window, its first 32 features tracked
SELECT (extract(epoch FROM window_start - :'h0') / 3600)::int AS hour, kind, count(*) AS rows,
       min(rows_seen) AS rows_seen, string_agg(DISTINCT note, '; ') AS notes
  FROM maas.drift_window WHERE model = 'win_digits' GROUP BY 1, 2 ORDER BY 1, 2;

-- a shadow's comparisons are windowed too
SELECT maas_deploy('win_digits', 2, '{"strategy": "shadow"}');
SELECT count(maas_predict('win_digits', features)) FROM digits_test WHERE id <= 40;
SELECT w.version, w.compared, abs(w.agreement - r.agreement) < 1e-12 AS as_rollout
  FROM maas.stats_window w JOIN maas.rollout r USING (model, version)
 WHERE w.model = 'win_digits' AND w.compared IS NOT NULL;
SELECT maas_deploy('win_digits', 1);

-- a day later: hour 0 is more than maas.stats_window_hours (24) old and
-- is not shown; the next window made drops it
SELECT set_config('maas.stats_window_test_offset', (:base + 24 * 3600)::text, false) IS NOT NULL AS day_later;
SELECT (extract(epoch FROM window_start - :'h0') / 3600)::int AS hour, count(*) AS windows
  FROM maas.stats_window WHERE model LIKE 'win_%' GROUP BY 1 ORDER BY 1;
SELECT count(maas_predict('win_diabetes', features)) FROM diabetes_test WHERE id <= 5;
SELECT set_config('maas.stats_window_test_offset', :'base', false) IS NOT NULL AS back_to_hour_0;
SELECT (extract(epoch FROM window_start - :'h0') / 3600)::int AS hour, count(*) AS windows
  FROM maas.stats_window WHERE model LIKE 'win_%' GROUP BY 1 ORDER BY 1;
RESET maas.stats_window_test_offset;

-- resets remove windows as they remove counters
SELECT maas_stats_reset('win_digits') IS NOT NULL AS reset;
SELECT model, count(*) AS windows FROM maas.stats_window WHERE model LIKE 'win_%' GROUP BY 1;
SELECT model, count(*) AS drift_rows FROM maas.drift_window WHERE model LIKE 'win_%' GROUP BY 1;

-- who sees what: as maas.stats
CREATE ROLE regress_maas_window_other;
SET ROLE regress_maas_window_other;
SELECT count(*) AS windows FROM maas.stats_window WHERE model LIKE 'win_%';
SELECT count(*) AS drift_rows FROM maas.drift_window WHERE model LIKE 'win_%';
-- only a superuser moves the clock
SET maas.stats_window_test_offset = 3600;
RESET ROLE;
GRANT pg_read_all_stats TO regress_maas_window_other;
SET ROLE regress_maas_window_other;
SELECT count(*) AS windows FROM maas.stats_window WHERE model LIKE 'win_%';
RESET ROLE;
DROP ROLE regress_maas_window_other;

-- bad settings
SET maas.stats_window_test_offset = 'soon';
SET maas.stats_window_test_offset = '2000000000';
SET maas.stats_window_hours = 2;

SELECT maas_drop('win_diabetes');
SELECT maas_drop('win_digits');
SELECT count(*) AS windows FROM maas.stats_window WHERE model LIKE 'win_%';
