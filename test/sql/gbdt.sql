-- maas_train(..., 'gbdt'): boosted trees on the data sets scikit-learn
-- ships, against XGBoost 1.7 with the same parameters
-- (test/fixtures/gbdt_reference.json, made by make_gbdt_fixtures.py with
-- tree_method hist, base_score 0.5, min_child_weight 1, lambda 1).  Both
-- sides train on the same rows: the reference split (row i of the CSV, from
-- 0, is a test row when i % 5 = 4, i.e. id % 5 = 0), trained with
-- test_size 0 and scored with maas_evaluate on the test rows.  Tolerances,
-- as the kernel's unit test: accuracy within 2 test rows (at least 0.03:
-- maas_train shuffles its rows even with test_size 0, so the histograms sum
-- in another order than the unit test's and near-tied splits may go the
-- other way; breast cancer comes out 3 rows better than XGBoost here, 2 in
-- the unit test), log loss within 0.05, ROC AUC within 0.005, R^2 within
-- 0.02.
\i test/fixtures/load_train.psql
\set ECHO none
\set QUIET on
CREATE TEMP TABLE digits (id int PRIMARY KEY, pixels real[], digit int);
\copy digits FROM 'test/fixtures/digits.csv' WITH (FORMAT csv, HEADER)
\set ref `cat test/fixtures/gbdt_reference.json`
CREATE TEMP VIEW ref AS
  SELECT e->>'file' AS file, e FROM jsonb_array_elements((:'ref'::jsonb)->'datasets') e;
-- a view of the training rows and one of the test rows of each data set
SELECT format('CREATE TEMP VIEW %s_fit AS SELECT * FROM %s WHERE id %% 5 <> 0 ORDER BY id', t, src),
       format('CREATE TEMP VIEW %s_test AS SELECT * FROM %s WHERE id %% 5 = 0 ORDER BY id', t, src)
  FROM (VALUES ('cancer', '(SELECT id, features, diagnosis FROM cancer) s'),
               ('iris', 'iris'), ('wine', 'wine'), ('digits', 'digits'),
               ('diabetes', 'diabetes')) AS v(t, src) \gexec
\set QUIET off
\set ECHO all

-- breast cancer, binary (text labels: benign is class 0, as in the reference)
SELECT version, task, algorithm, metrics IS NULL AS no_holdout
  FROM maas_train('g_cancer', 'SELECT features, diagnosis FROM cancer_fit', 'diagnosis', 'gbdt',
                  '{"n_estimators": 50, "max_depth": 4, "learning_rate": 0.3, "base_score": 0.5, "test_size": 0}');
SELECT abs((m->>'accuracy')::float8 - (e->>'accuracy')::float8) <= greatest(0.03, 2.0 / 113) AS accuracy_near_xgboost,
       abs((m->>'log_loss')::float8 - (e->>'log_loss')::float8) <= 0.05 AS log_loss_near_xgboost,
       abs((m->>'roc_auc')::float8 - (e->>'roc_auc')::float8) <= 0.005 AS auc_near_xgboost,
       m->>'n' AS n
  FROM maas_evaluate('g_cancer', 'SELECT features, diagnosis FROM cancer_test', 'diagnosis') m,
       ref WHERE file = 'breast_cancer.csv';

-- iris, wine, digits: multiclass (softmax over a tree per class a round)
SELECT task, algorithm
  FROM maas_train('g_iris', 'SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM iris_fit',
                  'species', 'gbdt',
                  '{"n_estimators": 30, "max_depth": 3, "eta": 0.3, "base_score": 0.5, "test_size": 0}');
SELECT abs((m->>'accuracy')::float8 - (e->>'accuracy')::float8) <= greatest(0.03, 2.0 / 30) AS accuracy_near_xgboost,
       abs((m->>'log_loss')::float8 - (e->>'log_loss')::float8) <= 0.05 AS log_loss_near_xgboost
  FROM maas_evaluate('g_iris', 'SELECT * FROM iris_test', 'species') m, ref WHERE file = 'iris.csv';
SELECT task, algorithm
  FROM maas_train('g_wine', 'SELECT * FROM wine_fit', 'class', 'gbdt',
                  '{"n_estimators": 50, "max_depth": 3, "eta": 0.3, "base_score": 0.5, "test_size": 0,
                    "features": ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium",
                                 "total_phenols", "flavanoids", "nonflavanoid_phenols", "proanthocyanins",
                                 "color_intensity", "hue", "od280_od315_of_diluted_wines", "proline"]}');
SELECT abs((m->>'accuracy')::float8 - (e->>'accuracy')::float8) <= greatest(0.03, 2.0 / 35) AS accuracy_near_xgboost,
       abs((m->>'log_loss')::float8 - (e->>'log_loss')::float8) <= 0.05 AS log_loss_near_xgboost
  FROM maas_evaluate('g_wine', 'SELECT * FROM wine_test', 'class') m, ref WHERE file = 'wine.csv';
SELECT task, algorithm
  FROM maas_train('g_digits', 'SELECT pixels, digit FROM digits_fit', 'digit', 'gbdt',
                  '{"n_estimators": 50, "max_depth": 4, "eta": 0.3, "base_score": 0.5, "test_size": 0}');
SELECT abs((m->>'accuracy')::float8 - (e->>'accuracy')::float8) <= greatest(0.03, 2.0 / 359) AS accuracy_near_xgboost,
       abs((m->>'log_loss')::float8 - (e->>'log_loss')::float8) <= 0.05 AS log_loss_near_xgboost
  FROM maas_evaluate('g_digits', 'SELECT pixels, digit FROM digits_test', 'digit') m,
       ref WHERE file = 'digits.csv';

-- diabetes, regression
SELECT task, algorithm
  FROM maas_train('g_diabetes', 'SELECT age, sex, bmi, bp, s1, s2, s3, s4, s5, s6, progression FROM diabetes_fit',
                  'progression', 'gbdt',
                  '{"n_estimators": 50, "max_depth": 3, "learning_rate": 0.1, "base_score": 0.5, "test_size": 0}');
SELECT abs((m->>'r2')::float8 - (e->>'r2')::float8) <= 0.02 AS r2_near_xgboost
  FROM maas_evaluate('g_diabetes', 'SELECT * FROM diabetes_test', 'progression') m,
       ref WHERE file = 'diabetes.csv';

-- the stored version: a trees layer and the output transform, as any model
SELECT model, version, task, algorithm, n_features, n_outputs
  FROM maas.versions WHERE model LIKE 'g\_%' ORDER BY model;
SELECT config->'layers' AS layers, config->>'impute' AS impute, config->'labels' AS labels
  FROM maas_export('g_cancer');
-- every serving path: per row (array and row by name), batch, JSON
SELECT id, diagnosis, maas_predict_label('g_cancer', c) AS label,
       maas_predict_label('g_cancer', features) = maas_predict_label('g_cancer', c) AS same_by_array
  FROM cancer c WHERE id IN (1, 20, 300) ORDER BY id;
SELECT count(*) AS rows, bool_and(b.prediction = maas_predict('g_iris', i)) AS batch_as_per_row
  FROM maas_predict_batch('g_iris', 'SELECT id, ARRAY[sepal_length, sepal_width, petal_length, petal_width] FROM iris') b
  JOIN iris i USING (id);
SELECT maas_predict_json('g_iris', '{"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}'::jsonb)::jsonb->>'label' AS label;

-- maas's own split, with early stopping on the holdout; the loss curves
-- and rounds are in maas.training_runs
SELECT version, (metrics->>'accuracy')::float8 > 0.9 AS accurate, metrics->>'n_test' AS n_test
  FROM maas_train('g_cancer', 'cancer_src', 'diagnosis', 'gbdt',
                  '{"n_estimators": 200, "max_depth": 3, "learning_rate": 0.3, "early_stopping_rounds": 5,
                    "deploy": "never"}');
SELECT version, epochs < 200 AS stopped_early, jsonb_array_length(loss) = epochs AS loss_per_round,
       jsonb_array_length(val_loss) = epochs AS holdout_loss_per_round,
       (loss->>0)::float8 > (loss->>(epochs - 1))::float8 AS loss_falls,
       params->>'early_stopping_rounds' AS early_stopping_rounds, target
  FROM maas.training_runs WHERE model = 'g_cancer' AND version = 2;

-- NULLs (and NaN) go to the trees: no imputation (impute "none"); a row with a NULL
-- takes each split's learned default direction
CREATE TEMP TABLE diabetes_nulls AS
  SELECT id, CASE WHEN id % 4 = 0 THEN NULL ELSE bmi END AS bmi,
         CASE WHEN id % 3 = 0 THEN NULL ELSE s5 END AS s5,
         CASE WHEN id = 7 THEN 'NaN' ELSE bp END AS bp, age, progression
    FROM diabetes;
SELECT task, (metrics->>'r2')::float8 > 0.2 AS fits
  FROM maas_train('g_nulls', 'SELECT bmi, s5, bp, age, progression FROM diabetes_nulls ORDER BY id',
                  'progression', 'gbdt', '{"n_estimators": 40, "max_depth": 3, "learning_rate": 0.1}');
SELECT count(*) AS rows_with_null, count(DISTINCT round(maas_predict('g_nulls', d)::numeric, 3)) > 1 AS varied,
       bool_and(maas_predict('g_nulls', d) = maas_predict('g_nulls', ARRAY[bmi, s5, bp, age])) AS array_form_agrees
  FROM diabetes_nulls d WHERE bmi IS NULL OR s5 IS NULL;
SELECT maas_predict('g_nulls', ARRAY['NaN', 0.05, 0.01, 0.02]::real[]) =
       maas_predict('g_nulls', ARRAY[NULL, 0.05, 0.01, 0.02]::real[]) AS nan_is_null;
SELECT maas_predict('g_nulls', ARRAY['Infinity', 0.05, 0.01, 0.02]::real[]);
-- drift: rows with a missing value are served, not sampled for the feature
-- moments, which stay numbers; the training statistics leave NULLs out too
SELECT maas_stats_reset('g_nulls') IS NOT NULL AS reset;
SELECT count(maas_predict('g_nulls', d)) FROM diabetes_nulls d;
SELECT kind, count(*) AS n, bool_and(serve_mean::text <> 'NaN' AND train_mean::text <> 'NaN') AS numbers,
       min(rows_seen) AS rows_seen
  FROM maas.drift WHERE model = 'g_nulls' GROUP BY kind ORDER BY kind;

-- class weights: scale_pos_weight (binary) and class_weight by label;
-- seeded: the same params give the same model, other weights another one
SELECT version FROM maas_train('g_weighted', 'cancer_src', 'diagnosis', 'gbdt',
                               '{"n_estimators": 20, "scale_pos_weight": 3}');
SELECT version FROM maas_train('g_weighted', 'iris_src', 'species', 'gbdt',
                               '{"n_estimators": 10, "class_weight": {"virginica": 2, "setosa": 0.5},
                                 "deploy": "never"}');
SELECT version FROM maas_train('g_weighted', 'iris_src', 'species', 'gbdt',
                               '{"n_estimators": 10, "class_weight": {"virginica": 2, "setosa": 0.5},
                                 "deploy": "never"}');
SELECT version FROM maas_train('g_weighted', 'iris_src', 'species', 'gbdt',
                               '{"n_estimators": 10, "deploy": "never"}');
SELECT version, params->'scale_pos_weight' AS scale_pos_weight, params->'class_weight' AS class_weight
  FROM maas.training_runs WHERE model = 'g_weighted' ORDER BY version;
SELECT (SELECT sha256 FROM maas.versions WHERE model = 'g_weighted' AND version = 2) =
       (SELECT sha256 FROM maas.versions WHERE model = 'g_weighted' AND version = 3) AS reproducible,
       (SELECT sha256 FROM maas.versions WHERE model = 'g_weighted' AND version = 2) <>
       (SELECT sha256 FROM maas.versions WHERE model = 'g_weighted' AND version = 4) AS weights_matter;

-- bad input: exact errors, nothing stored
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"max_depth": 0}');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"max_depth": 100}');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"learning_rate": -0.1}');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"eta": 0}');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"n_estimators": 0}');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"subsample": 1.5}');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"max_bin": 1000}');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"hidden": [10]}');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"impute": "mean"}');
SELECT maas_train('g_bad', 'SELECT * FROM iris_src WHERE species = ''setosa''', 'species', 'gbdt');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"early_stopping_rounds": 5, "test_size": 0}');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"scale_pos_weight": 2}');
SELECT maas_train('g_bad', 'iris_src', 'species', 'gbdt', '{"class_weight": {"daisy": 2}}');
SELECT maas_train('g_bad', 'diabetes_src', 'progression', 'gbdt', '{"class_weight": {"1": 2}}');
SELECT maas_train('g_bad', 'iris_src', NULL, 'gbdt');
SET maas.max_training_memory = '1MB';
SELECT maas_train('g_bad', 'SELECT pixels, digit FROM digits', 'digit', 'gbdt');
RESET maas.max_training_memory;
SELECT count(*) AS stored FROM maas.versions WHERE model = 'g_bad';
SELECT count(*) AS runs FROM maas.training_runs WHERE model = 'g_bad';

SELECT maas_drop(model) FROM (SELECT DISTINCT model FROM maas.versions WHERE model LIKE 'g\_%') m ORDER BY model;
