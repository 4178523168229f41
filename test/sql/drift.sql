-- Drift: serving statistics against the training statistics of a version
\i test/fixtures/load.psql
SELECT maas_register('drift_diabetes', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c');
SELECT maas_deploy('drift_diabetes', 1);
SELECT maas_register('drift_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_deploy('drift_digits', 1);

-- registered without training statistics: serving is described, not scored
SELECT count(maas_predict('drift_diabetes', features)) FROM diabetes_test;
SELECT kind, feature, feature_name, train_mean, round(serve_mean::numeric, 4) AS serve_mean,
       train_std, round(serve_std::numeric, 4) AS serve_std, score, rank, rows_seen, note
  FROM maas.drift WHERE model = 'drift_diabetes' ORDER BY kind, feature;

-- training statistics as a trainer stores them (doc/monitoring.md), here
-- computed from the very rows served: every feature scores 0
CREATE TEMP TABLE diabetes_train_stats AS
SELECT jsonb_build_object(
         'n', (SELECT count(*) FROM diabetes_test),
         'features', jsonb_agg(jsonb_build_object('name', 'x' || i, 'mean', m, 'var', v) ORDER BY i),
         'target', (SELECT jsonb_build_object('mean', avg(label::float8), 'var', var_pop(label::float8))
                      FROM diabetes_test)) AS ts
  FROM (SELECT i, avg(x::float8) AS m, var_pop(x::float8) AS v
          FROM diabetes_test, unnest(features) WITH ORDINALITY AS u(x, i)
         GROUP BY i) f;
UPDATE maas.version SET train_stats = (SELECT ts FROM diabetes_train_stats)
 WHERE version_id = (SELECT version_id FROM maas.version v JOIN maas.model m USING (model_id)
                      WHERE m.name = 'drift_diabetes' AND v.version = 1);
SELECT kind, feature, feature_name, round(score::numeric, 4) AS score, rows_seen, note
  FROM maas.drift WHERE model = 'drift_diabetes' AND kind <> 'prediction' ORDER BY kind, feature;
SELECT bool_and(abs(train_mean - serve_mean) < 1e-9 AND abs(train_std - serve_std) < 1e-9) AS same
  FROM maas.drift WHERE model = 'drift_diabetes' AND kind = 'feature';
-- predictions against the training target
SELECT kind, round(train_mean::numeric, 1) AS train_mean, round(serve_mean::numeric, 1) AS serve_mean,
       round(train_std::numeric, 1) AS train_std, round(serve_std::numeric, 1) AS serve_std,
       round(score::numeric, 3) AS score
  FROM maas.drift WHERE model = 'drift_diabetes' AND kind = 'prediction';

-- feature 3 moves up by one training standard deviation: Hellinger
-- distance sqrt(1 - exp(-1/8)) = 0.343 for it, 0 for the others
SELECT maas_stats_reset('drift_diabetes') IS NOT NULL AS reset;
SELECT count(maas_predict('drift_diabetes',
                          features[1:2] || (features[3] + (SELECT (ts->'features'->2->>'var')::float8 ^ 0.5
                                                            FROM diabetes_train_stats))::real
                          || features[4:10]))
  FROM diabetes_test, generate_series(1, 3);
SELECT kind, feature, feature_name, round(score::numeric, 3) AS score, rank, rows_seen, note
  FROM maas.drift WHERE model = 'drift_diabetes' AND (rank = 1 OR kind = 'model')
 ORDER BY kind, rank;
SELECT count(*) AS features, max(round(score::numeric, 3)) AS max_score
  FROM maas.drift WHERE model = 'drift_diabetes' AND kind = 'feature' AND feature <> 3;

-- a sample too small to judge is flagged
SELECT maas_stats_reset('drift_diabetes') IS NOT NULL AS reset;
SELECT count(maas_predict('drift_diabetes', features)) FROM diabetes_test WHERE id <= 10;
SELECT kind, rows_seen, note FROM maas.drift WHERE model = 'drift_diabetes' AND kind = 'model';

-- a classifier: class balance at training against the predictions served
UPDATE maas.version SET train_stats = (
  SELECT jsonb_build_object('n', count(*), 'classes', jsonb_object_agg(label::text, n))
    FROM (SELECT label, count(*) AS n FROM digits_test GROUP BY label) c)
 WHERE version_id = (SELECT version_id FROM maas.version v JOIN maas.model m USING (model_id)
                      WHERE m.name = 'drift_digits' AND v.version = 1);
SELECT count(maas_predict('drift_digits', features)) FROM digits_test;
SELECT class, label, train_count, round(train_share::numeric, 4) AS train_share,
       serve_count, round(serve_share::numeric, 4) AS serve_share
  FROM maas.prediction_distribution WHERE model = 'drift_digits' ORDER BY class;
SELECT kind, feature, round(score::numeric, 3) AS score, rows_seen, note
  FROM maas.drift WHERE model = 'drift_digits' AND kind <> 'feature' ORDER BY kind;
-- features without training statistics are shown unscored
SELECT count(*) AS features, count(score) AS scored, min(note) AS note
  FROM maas.drift WHERE model = 'drift_digits' AND kind = 'feature';

-- only some classes served: the distribution moves
SELECT maas_stats_reset('drift_digits') IS NOT NULL AS reset;
SELECT count(maas_predict('drift_digits', features)) FROM digits_test WHERE label IN (0, 1);
SELECT kind, round(score::numeric, 3) AS score, note
  FROM maas.drift WHERE model = 'drift_digits' AND kind <> 'feature' ORDER BY kind;

-- malformed training statistics leave the scores empty, they do not fail
UPDATE maas.version SET train_stats = '{"features": "nope", "classes": [1, 2]}'
 WHERE version_id = (SELECT version_id FROM maas.version v JOIN maas.model m USING (model_id)
                      WHERE m.name = 'drift_digits' AND v.version = 1);
SELECT kind, score, note FROM maas.drift WHERE model = 'drift_digits' AND kind <> 'feature' ORDER BY kind;

SELECT maas_drop('drift_diabetes');
SELECT maas_drop('drift_digits');
SELECT count(*) FROM maas.drift WHERE model LIKE 'drift\_%';
