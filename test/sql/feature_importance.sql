-- maas_feature_importance(model [, version]): one row an input slot, most
-- important first.  Boosted trees: XGBoost's "gain" (mean loss reduction of
-- a feature's splits), with the number of splits, total gain and mean
-- cover, the very numbers of XGBoost's Booster.get_score() on an imported
-- model.  Linear and logistic: |coefficient| on standardized inputs, here
-- |coef_| of scikit-learn's LinearRegression fitted on all 442 rows of
-- test/fixtures/diabetes.csv (as float32, then standardized in float64 by
-- their mean and population std): s1 37.679941, s5 35.734447, bmi
-- 24.726551, s2 22.676153, bp 15.429401, ..., age 0.476121.
\i test/fixtures/load_train.psql
\set ECHO none
\set QUIET on
\set xgb_diabetes `base64 -w0 test/fixtures/xgb_diabetes.json`
\set QUIET off
\set ECHO all

-- linear: standardized coefficients, as scikit-learn's
SELECT version FROM maas_train('fi_linear', 'diabetes_src', 'progression', 'linear', '{"test_size": 0}');
SELECT rank, feature, round(importance::numeric, 2) AS importance, weight, total_gain, cover
  FROM maas_feature_importance('fi_linear') ORDER BY rank LIMIT 5;
SELECT bool_and(abs(importance - ref) / ref < 1e-4) AS as_sklearn
  FROM maas_feature_importance('fi_linear')
  JOIN (VALUES ('s1', 37.679941356583086), ('s5', 35.73444734713949), ('bmi', 24.726551173085717),
               ('s2', 22.676153033104704), ('bp', 15.4294010707778), ('age', 0.476121337807273)) AS r(feature, ref)
  USING (feature);
-- without scaling the coefficient is multiplied by the column's std
SELECT version FROM maas_train('fi_linear', 'diabetes_src', 'progression', 'linear',
                               '{"test_size": 0, "scale": "none", "deploy": "never"}');
SELECT bool_and(abs(a.importance - b.importance) / b.importance < 1e-3) AS same_standardized
  FROM maas_feature_importance('fi_linear', 1) a JOIN maas_feature_importance('fi_linear', 2) b USING (feature);

-- logistic, multinomial: the mean over the classes; an array column and
-- one-hot categories name their slots
CREATE TEMP TABLE flowers AS
  SELECT sepal_length, CASE WHEN id % 2 = 0 THEN 'even' ELSE 'odd' END AS parity, species FROM iris;
SELECT version FROM maas_train('fi_logistic', 'flowers', 'species', 'logistic');
SELECT rank, feature, importance > 0 AS positive FROM maas_feature_importance('fi_logistic') ORDER BY rank;
SELECT version FROM maas_train('fi_cancer', 'cancer_src', 'diagnosis', 'logistic');
SELECT count(*) AS slots, min(feature) AS first_name, count(*) FILTER (WHERE feature LIKE 'features[%]') AS named
  FROM maas_feature_importance('fi_cancer');

-- boosted trees trained here: gain, splits, cover
SELECT version FROM maas_train('fi_gbdt', 'diabetes_src', 'progression', 'gbdt',
                               '{"n_estimators": 30, "max_depth": 3, "learning_rate": 0.1}');
SELECT count(*) AS features, bool_and(weight = 0 OR abs(importance - total_gain / weight) <= 1e-9 * importance) AS gain_is_mean,
       bool_and(rank = 1 OR importance <= lag_importance) AS ordered,
       sum(weight) > 0 AS has_splits
  FROM (SELECT *, lag(importance) OVER (ORDER BY rank) AS lag_importance
          FROM maas_feature_importance('fi_gbdt')) s;
-- an imported XGBoost model: XGBoost's own get_score(importance_type=...)
-- gives f8 gain 73775.046875, weight 15, total_gain 1106625.75, cover
-- 180.066666; f2 39341.34375, 25, 983533.5625, 218.08
SELECT maas_register('fi_xgb', 'xgboost', decode(:'xgb_diabetes', 'base64'));
SELECT maas_deploy('fi_xgb', 1);
SELECT rank, feature, weight,
       abs(importance - g) / g < 1e-5 AS gain_as_xgboost,
       abs(total_gain - tg) / tg < 1e-5 AS total_gain_as_xgboost,
       abs(cover - c) / c < 1e-5 AS cover_as_xgboost
  FROM maas_feature_importance('fi_xgb')
  JOIN (VALUES ('f8', 73775.046875, 1106625.75, 180.06666564941406),
               ('f2', 39341.34375, 983533.5625, 218.0800018310547)) AS r(feature, g, tg, c) USING (feature)
 ORDER BY rank;

-- models without importance, bad arguments
SELECT version FROM maas_train('fi_mlp', 'iris_src', 'species', 'mlp', '{"hidden": [4], "epochs": 5}');
SELECT * FROM maas_feature_importance('fi_mlp');
SELECT * FROM maas_feature_importance('fi_nothing');
SELECT * FROM maas_feature_importance('fi_linear', 9);
SELECT * FROM maas_feature_importance('fi_linear', 0);
SELECT * FROM maas_feature_importance(NULL);

SELECT maas_drop(m) FROM unnest(ARRAY['fi_linear', 'fi_logistic', 'fi_cancer', 'fi_gbdt', 'fi_xgb', 'fi_mlp']) m;
