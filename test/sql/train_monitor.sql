-- A trained model's statistics are the baseline of its drift and prediction
-- distribution (train_stats written by maas_train, read by maas.drift)
\i test/fixtures/load_train.psql
SET maas.training_notices = off;
SELECT model, version, algorithm, deployed
  FROM maas_train('tm_iris', 'iris_src', 'species', 'logistic', '{"seed": 1}');
SELECT count(maas_predict_label('tm_iris', i)) FROM iris_src i;
SELECT kind, feature_name, round(train_mean::numeric, 3) AS train_mean,
       round(serve_mean::numeric, 3) AS serve_mean, round(score::numeric, 3) AS score,
       rows_seen, note
  FROM maas.drift WHERE model = 'tm_iris' ORDER BY kind, feature;
SELECT class, label, train_count, serve_count
  FROM maas.prediction_distribution WHERE model = 'tm_iris' ORDER BY class;
-- serving rows that moved: petal lengths doubled
SELECT count(maas_predict_label('tm_iris', i))
  FROM (SELECT sepal_length, sepal_width, petal_length * 2 AS petal_length, petal_width
          FROM iris_src) i;
SELECT feature_name, rank, round(score::numeric, 3) AS score
  FROM maas.drift WHERE model = 'tm_iris' AND kind = 'feature' ORDER BY rank LIMIT 1;
SELECT maas_drop('tm_iris');
