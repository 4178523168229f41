-- maas_register(model, 'xgboost', json): models saved by XGBoost 1.7's
-- save_model() (test/fixtures/make_gbdt_fixtures.py) become versions served
-- by the trees layer; on the test rows their outputs equal XGBoost's own
-- predictions (in the xgb_*_test.csv files) within 1e-5.  The cancer model
-- was trained with 5% of its values missing (NaN), which the test rows
-- have too: they take the default direction of each split.
\set ECHO none
\set QUIET on
\set xgb_cancer `base64 -w0 test/fixtures/xgb_cancer.json`
\set xgb_iris `base64 -w0 test/fixtures/xgb_iris.json`
\set xgb_diabetes `base64 -w0 test/fixtures/xgb_diabetes.json`
\set xgb_dart `base64 -w0 test/fixtures/xgb_diabetes_dart.json`
\set xgb_truncated `head -c 4000 test/fixtures/xgb_cancer.json | base64 -w0`
\set not_xgb `base64 -w0 test/fixtures/digits_mlp.json`
\set safetensors `base64 -w0 test/fixtures/digits_mlp.safetensors`
-- the test rows: features f0.., then XGBoost's outputs
SELECT format('CREATE TEMP TABLE %I (%s, %s)', t, string_agg(format('f%s real', i), ', ' ORDER BY i), outs)
  FROM (VALUES ('xgb_cancer_test', 30, 'margin real, proba real'),
               ('xgb_iris_test', 4, 'margin0 real, margin1 real, margin2 real, proba0 real, proba1 real, proba2 real'),
               ('xgb_diabetes_test', 10, 'value real'),
               ('xgb_diabetes_dart_test', 10, 'value real')) AS v(t, n, outs),
       generate_series(0, n - 1) AS i
 GROUP BY t, outs \gexec
\copy xgb_cancer_test FROM 'test/fixtures/xgb_cancer_test.csv' WITH (FORMAT csv, HEADER)
\copy xgb_iris_test FROM 'test/fixtures/xgb_iris_test.csv' WITH (FORMAT csv, HEADER)
\copy xgb_diabetes_test FROM 'test/fixtures/xgb_diabetes_test.csv' WITH (FORMAT csv, HEADER)
\copy xgb_diabetes_dart_test FROM 'test/fixtures/xgb_diabetes_dart_test.csv' WITH (FORMAT csv, HEADER)
-- each table's features as one real[] column x
SELECT format('CREATE TEMP VIEW %s AS SELECT ARRAY[%s]::real[] AS x, * FROM %s', t || '_x',
              string_agg(format('f%s', i), ', ' ORDER BY i), t)
  FROM (VALUES ('xgb_cancer_test', 30), ('xgb_iris_test', 4), ('xgb_diabetes_test', 10),
               ('xgb_diabetes_dart_test', 10)) AS v(t, n),
       generate_series(0, n - 1) AS i
 GROUP BY t \gexec
\set QUIET off
\set ECHO all

-- binary:logistic, missing values in training and test rows
SELECT maas_register('x_cancer', 'xgboost', decode(:'xgb_cancer', 'base64'));
SELECT maas_deploy('x_cancer', 1);
SELECT task, algorithm, n_features, n_outputs FROM maas.versions WHERE model = 'x_cancer';
SELECT config->'layers' AS layers, config->'xgboost' AS xgboost FROM maas_export('x_cancer');
SELECT count(*) AS rows, count(*) FILTER (WHERE x::text LIKE '%NaN%') AS rows_with_nan,
       max(abs((maas_predict_proba('x_cancer', x))[2] - proba)) < 1e-5 AS proba_as_xgboost,
       bool_and(maas_predict('x_cancer', x) = (proba >= 0.5)::int) AS class_as_xgboost
  FROM xgb_cancer_test_x;
-- a NULL element is a missing value too, as NaN is
SELECT maas_predict_proba('x_cancer', x) = maas_predict_proba('x_cancer',
         (SELECT array_agg(CASE WHEN v = 'NaN' THEN NULL ELSE v END ORDER BY o)
            FROM unnest(x) WITH ORDINALITY AS u(v, o))) AS null_is_nan
  FROM xgb_cancer_test_x WHERE x::text LIKE '%NaN%' LIMIT 1;
-- the batch path gives the same
CREATE TEMP TABLE xgb_cancer_rows AS SELECT row_number() OVER () AS id, x, proba FROM xgb_cancer_test_x;
SELECT count(*) AS rows, max(abs(b.proba[2] - t.proba)) < 1e-5 AS batch_as_xgboost
  FROM maas_predict_proba_batch('x_cancer', 'SELECT id, x FROM xgb_cancer_rows', 16) b
  JOIN xgb_cancer_rows t USING (id);

-- multi:softprob, 3 classes, a tree per class and round
SELECT maas_register('x_iris', 'xgboost', decode(:'xgb_iris', 'base64'),
                     '{"labels": ["setosa", "versicolor", "virginica"]}');
SELECT maas_deploy('x_iris', 1);
SELECT task, n_outputs FROM maas.versions WHERE model = 'x_iris';
SELECT count(*) AS rows,
       max(greatest(abs(p[1] - proba0), abs(p[2] - proba1), abs(p[3] - proba2))) < 1e-5 AS proba_as_xgboost
  FROM (SELECT maas_predict_proba('x_iris', x) AS p, * FROM xgb_iris_test_x) s;
SELECT maas_predict_label('x_iris', x) AS label, count(*) FROM xgb_iris_test_x GROUP BY 1 ORDER BY 1;

-- reg:squarederror, and dart (each tree scaled by its weight_drop)
SELECT maas_register('x_diabetes', 'xgboost', decode(:'xgb_diabetes', 'base64'));
SELECT maas_register('x_dart', 'xgboost', decode(:'xgb_dart', 'base64'));
SELECT maas_deploy('x_diabetes', 1), maas_deploy('x_dart', 1);
SELECT model, task, n_outputs FROM maas.versions WHERE model IN ('x_diabetes', 'x_dart') ORDER BY model;
SELECT count(*) AS rows,
       max(abs(maas_predict('x_diabetes', x) - value) / greatest(abs(value), 1)) < 1e-5 AS value_as_xgboost
  FROM xgb_diabetes_test_x;
SELECT count(*) AS rows,
       max(abs(maas_predict('x_dart', x) - value) / greatest(abs(value), 1)) < 1e-5 AS value_as_xgboost
  FROM xgb_diabetes_dart_test_x;

-- a model that names its features reads rows by column name too
SELECT maas_register('x_named', 'xgboost', convert_to(jsonb_set(convert_from(decode(:'xgb_diabetes', 'base64'), 'UTF8')::jsonb,
         '{learner,feature_names}', '["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]')::text, 'UTF8'));
SELECT maas_deploy('x_named', 1);
\i test/fixtures/load_train.psql
SELECT count(*) AS rows,
       bool_and(maas_predict('x_named', d) = maas_predict('x_diabetes', ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6])) AS by_name
  FROM diabetes d;
SELECT feature, rank FROM maas_feature_importance('x_named') ORDER BY rank LIMIT 2;

-- importance from the model's own gain and cover
SELECT feature, weight > 0 AS splits, importance > 0 AS gains, rank
  FROM maas_feature_importance('x_diabetes') ORDER BY rank LIMIT 3;

-- an export registers again as it is (safetensors carrying its config)
SELECT maas_register('x_cancer', 'xgboost', (maas_export('x_cancer', 1)).weights) AS version;
SELECT max(abs((maas_predict_proba('x_cancer', 2, x))[2] - proba)) < 1e-5 AS same_predictions
  FROM xgb_cancer_test_x;

-- bad input: exact errors, nothing stored
SELECT maas_register('x_bad', 'xgboost', decode(:'xgb_truncated', 'base64'));
SELECT maas_register('x_bad', 'xgboost', decode(:'not_xgb', 'base64'));
SELECT maas_register('x_bad', 'xgboost', '\x000102030405'::bytea);
SELECT maas_register('x_bad', 'xgboost', convert_to('{"learner": {"gradient_booster": {"name": "gblinear"}}}', 'UTF8'));
SELECT maas_register('x_bad', 'xgboost', decode(:'safetensors', 'base64'));
SELECT maas_register('x_bad', 'xgboost', decode(:'xgb_diabetes', 'base64'), '{"task": "classification"}');
SELECT count(*) AS stored FROM maas.versions WHERE model = 'x_bad';

SELECT maas_drop('x_cancer'), maas_drop('x_iris'), maas_drop('x_diabetes'), maas_drop('x_dart'), maas_drop('x_named');
