-- maas_train(model, source, NULL, 'kmeans', params): k-means against
-- scikit-learn 1.2's KMeans(init=centers, n_init=1, algorithm="lloyd") on
-- the same rows with the same initial centers
-- (test/fixtures/kmeans_reference.json, make_gbdt_fixtures.py): the same
-- cluster for every row, inertia within 1e-5 and the silhouette (every
-- row: fewer than 10000) within 1e-4, relative.
\i test/fixtures/load_train.psql
\set ECHO none
\set QUIET on
CREATE TEMP TABLE digits (id int PRIMARY KEY, pixels real[], digit int);
\copy digits FROM 'test/fixtures/digits.csv' WITH (FORMAT csv, HEADER)
\set ref `cat test/fixtures/kmeans_reference.json`
CREATE TEMP VIEW ref AS
  SELECT c->>'file' AS file, c FROM jsonb_array_elements((:'ref'::jsonb)->'cases') c;
-- the initial centers: the reference's rows (0-based, so id = row + 1)
CREATE TEMP VIEW iris_init AS
  SELECT jsonb_build_object('k', 3, 'init', jsonb_agg(jsonb_build_array(sepal_length, sepal_width,
                            petal_length, petal_width) ORDER BY id)) AS params
    FROM iris WHERE id - 1 IN (SELECT jsonb_array_elements_text(c->'init_rows')::int FROM ref
                               WHERE file = 'iris.csv');
CREATE TEMP VIEW wine_init AS
  SELECT jsonb_build_object('k', 3, 'init', jsonb_agg(jsonb_build_array(alcohol, malic_acid, ash,
           alcalinity_of_ash, magnesium, total_phenols, flavanoids, nonflavanoid_phenols,
           proanthocyanins, color_intensity, hue, od280_od315_of_diluted_wines, proline) ORDER BY id)) AS params
    FROM wine WHERE id - 1 IN (SELECT jsonb_array_elements_text(c->'init_rows')::int FROM ref
                               WHERE file = 'wine.csv');
CREATE TEMP VIEW digits_init AS
  SELECT jsonb_build_object('k', 10, 'init', jsonb_agg(to_jsonb(pixels) ORDER BY id)) AS params
    FROM digits WHERE id - 1 IN (SELECT jsonb_array_elements_text(c->'init_rows')::int FROM ref
                                 WHERE file = 'digits.csv');
CREATE TEMP VIEW iris_x AS
  SELECT id, sepal_length, sepal_width, petal_length, petal_width FROM iris;
CREATE TEMP VIEW wine_x AS
  SELECT id, alcohol, malic_acid, ash, alcalinity_of_ash, magnesium, total_phenols, flavanoids,
         nonflavanoid_phenols, proanthocyanins, color_intensity, hue,
         od280_od315_of_diluted_wines, proline FROM wine;
\set QUIET off
\set ECHO all

-- iris, 3 clusters
SELECT model, version, task, algorithm, deployed,
       abs((metrics->>'inertia')::float8 - (c->>'inertia')::float8) / (c->>'inertia')::float8 < 1e-5 AS inertia_as_sklearn,
       abs((metrics->>'silhouette')::float8 - (c->>'silhouette')::float8) / (c->>'silhouette')::float8 < 1e-4 AS silhouette_as_sklearn,
       (metrics->>'n_iter')::int = (c->>'n_iter')::int AS iterations_as_sklearn,
       metrics->'sizes' AS sizes, metrics->>'converged' AS converged
  FROM iris_init, ref,
       maas_train('k_iris', 'SELECT sepal_length, sepal_width, petal_length, petal_width FROM iris ORDER BY id',
                  NULL, 'kmeans', params)
 WHERE file = 'iris.csv';
-- maas_predict is the cluster: every row's is sklearn's
SELECT count(*) AS rows,
       count(*) FILTER (WHERE maas_predict('k_iris', i)::int <> (c->'labels'->>(id - 1))::int) AS differ
  FROM iris_x i, ref WHERE file = 'iris.csv';
-- maas_predict_proba gives the distances to the centers: the nearest is the cluster
SELECT id, maas_predict('k_iris', i) AS cluster, maas_predict_label('k_iris', i) AS label,
       (SELECT array_agg(round(d::numeric, 4)) FROM unnest(maas_predict_proba('k_iris', i)) d) AS distances
  FROM iris_x i WHERE id IN (1, 51, 101) ORDER BY id;
SELECT count(*) AS rows,
       bool_and((SELECT o - 1 FROM unnest(maas_predict_proba('k_iris', i)) WITH ORDINALITY u(d, o)
                 ORDER BY d, o LIMIT 1) = maas_predict('k_iris', i)) AS nearest_is_cluster
  FROM iris_x i;
SELECT maas_predict_json('k_iris', '{"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 4.2, "petal_width": 1.5}'::jsonb)::jsonb - 'distances' AS answer;
-- the batch path agrees
SELECT count(*) AS rows, bool_and(b.prediction = maas_predict('k_iris', i)) AS batch_as_per_row
  FROM maas_predict_batch('k_iris', 'SELECT id, ARRAY[sepal_length, sepal_width, petal_length, petal_width] FROM iris') b
  JOIN iris_x i USING (id);
SELECT config->'layers' AS layers FROM maas_export('k_iris');
-- the prediction distribution counts clusters
SELECT maas_stats_reset('k_iris') IS NOT NULL AS reset;
SELECT count(maas_predict('k_iris', i)) FROM iris_x i;
SELECT class, serve_count FROM maas.prediction_distribution WHERE model = 'k_iris' ORDER BY class;

-- wine (13 columns), digits (an array of 64 pixels)
SELECT task,
       abs((metrics->>'inertia')::float8 - (c->>'inertia')::float8) / (c->>'inertia')::float8 < 1e-5 AS inertia_as_sklearn,
       abs((metrics->>'silhouette')::float8 - (c->>'silhouette')::float8) / (c->>'silhouette')::float8 < 1e-4 AS silhouette_as_sklearn
  FROM wine_init, ref,
       maas_train('k_wine', 'SELECT * FROM wine_x ORDER BY id', NULL, 'kmeans',
                  params || '{"features": ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium",
                                "total_phenols", "flavanoids", "nonflavanoid_phenols", "proanthocyanins",
                                "color_intensity", "hue", "od280_od315_of_diluted_wines", "proline"]}')
 WHERE file = 'wine.csv';
SELECT count(*) FILTER (WHERE maas_predict('k_wine', w)::int <> (c->'labels'->>(id - 1))::int) AS differ
  FROM wine_x w, ref WHERE file = 'wine.csv';
SELECT task,
       abs((metrics->>'inertia')::float8 - (c->>'inertia')::float8) / (c->>'inertia')::float8 < 1e-5 AS inertia_as_sklearn,
       abs((metrics->>'silhouette')::float8 - (c->>'silhouette')::float8) / (c->>'silhouette')::float8 < 1e-4 AS silhouette_as_sklearn
  FROM digits_init, ref,
       maas_train('k_digits', 'SELECT pixels FROM digits ORDER BY id', NULL, 'kmeans', params)
 WHERE file = 'digits.csv';
SELECT count(*) FILTER (WHERE maas_predict('k_digits', pixels)::int <> (c->'labels'->>(id - 1))::int) AS differ
  FROM digits, ref WHERE file = 'digits.csv';

-- k-means++ from the seed: reproducible; a run without a target
SELECT (metrics->'sizes') AS sizes FROM maas_train('k_seeded', 'SELECT petal_length, petal_width FROM iris', NULL,
                                                   'kmeans', '{"k": 3, "seed": 7, "n_init": 4}');
SELECT (metrics->'sizes') AS sizes FROM maas_train('k_seeded', 'SELECT petal_length, petal_width FROM iris', NULL,
                                                   'kmeans', '{"k": 3, "seed": 7, "n_init": 4}');
SELECT version, algorithm, task, target, rows_train, rows_test, epochs > 0 AS iterated, params->>'init' AS init
  FROM maas.training_runs WHERE model = 'k_seeded' ORDER BY version;
-- standardized inputs: a standardize layer before the centers
SELECT task FROM maas_train('k_scaled', 'SELECT sepal_length, petal_length FROM iris', NULL, 'kmeans',
                            '{"k": 2, "scale": "standard"}');
SELECT config->'layers' AS layers FROM maas_export('k_scaled');
-- importance is not defined for clusters
SELECT * FROM maas_feature_importance('k_iris');

-- bad input: exact errors, nothing stored
SELECT maas_train('k_bad', 'SELECT petal_length FROM iris WHERE id <= 3', NULL, 'kmeans', '{"k": 5}');
SELECT maas_train('k_bad', 'iris_src', NULL, 'kmeans', '{"k": 0}');
SELECT maas_train('k_bad', 'iris_src', 'species', 'kmeans', '{"k": 2}');
SELECT maas_train('k_bad', 'SELECT petal_length FROM iris', NULL, 'kmeans', '{"init": [[1, 2], [3, 4]]}');
SELECT maas_train('k_bad', 'SELECT petal_length FROM iris', NULL, 'kmeans', '{"init": [[1], [3, 4]]}');
SELECT maas_train('k_bad', 'SELECT petal_length FROM iris', NULL, 'kmeans', '{"init": [[1], [2]], "n_init": 3}');
SELECT maas_train('k_bad', 'SELECT petal_length FROM iris', NULL, 'kmeans', '{"learning_rate": 0.1}');
SELECT maas_train('k_bad', 'SELECT petal_length FROM iris WHERE false', NULL, 'kmeans');
SELECT maas_train('k_bad', 'SELECT NULL::real AS x UNION ALL SELECT 1', NULL, 'kmeans', '{"k": 1, "impute": "error"}');
SELECT count(*) AS stored FROM maas.versions WHERE model = 'k_bad';

SELECT maas_drop(model) FROM (SELECT DISTINCT model FROM maas.versions WHERE model LIKE 'k\_%') m ORDER BY model;
