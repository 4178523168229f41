-- Predictions match PyTorch's, on the same float32 inputs
\i test/fixtures/load.psql
SELECT maas_deploy('digits', 1);
SELECT maas_deploy('cancer', 1);
SELECT maas_deploy('diabetes', 1);
SELECT maas_deploy('digits_f64', 1);
SELECT maas_deploy('digits_f16', 1);
SELECT maas_deploy('digits_bf16', 1);

-- digits MLP: every class, and probabilities within 1e-5
SELECT count(*) AS rows,
       count(*) FILTER (WHERE maas_predict('digits', t.features) = e.class) AS same_class,
       max(pg_temp.max_abs_diff(maas_predict_proba('digits', t.features), e.proba)) < 1e-5 AS proba_within_1e5
  FROM digits_test t JOIN digits_expected e USING (id);

-- accuracy against the true labels
SELECT round(avg((maas_predict('digits', features) = label)::int), 3) AS accuracy
  FROM digits_test;

-- a pinned version (2: tanh, text labels) next to the deployed one
SELECT count(*) FILTER (WHERE maas_predict('digits', 2, t.features) = e.class) AS same_class,
       max(pg_temp.max_abs_diff(maas_predict_proba('digits', 2, t.features), e.proba)) < 1e-5 AS proba_within_1e5
  FROM digits_test t JOIN digits_v2_expected e USING (id);
SELECT id, maas_predict('digits', features) AS v1, maas_predict('digits', 2, features) AS v2,
       maas_predict_label('digits', 2, features) AS v2_label,
       maas_predict_label('digits', 1, features) AS v1_label
  FROM digits_test WHERE id <= 5 ORDER BY id;

-- double precision input gives the same answers
SELECT bool_and(maas_predict('digits', features::float8[]) = maas_predict('digits', features))
         AS same_class,
       bool_and(maas_predict_proba('digits', features::float8[]) = maas_predict_proba('digits', features))
         AS same_proba
  FROM digits_test;

-- binary classifier with one sigmoid output: two probabilities
SELECT count(*) FILTER (WHERE maas_predict('cancer', t.features) = e.class) AS same_class,
       max(pg_temp.max_abs_diff(maas_predict_proba('cancer', t.features), e.proba)) < 1e-5 AS proba_within_1e5
  FROM cancer_test t JOIN cancer_expected e USING (id);
SELECT maas_predict_proba('cancer', features) AS proba, maas_predict_label('cancer', features) AS label
  FROM cancer_test WHERE id = 1;

-- regression: relative error within 1e-6 (values are in the hundreds)
SELECT count(*) AS rows,
       max(abs(maas_predict('diabetes', t.features) - e.value) / abs(e.value)) < 1e-6 AS within_1e6
  FROM diabetes_test t JOIN diabetes_expected e USING (id);

-- converted weights: F64 exactly, F16 and BF16 to their precision
SELECT max(pg_temp.max_abs_diff(maas_predict_proba('digits_f64', features),
                                 maas_predict_proba('digits', features))) = 0 AS f64_same,
       bool_and(maas_predict('digits_f16', features) = maas_predict('digits', features)) AS f16_same_class,
       max(pg_temp.max_abs_diff(maas_predict_proba('digits_f16', features),
                                 maas_predict_proba('digits', features))) < 1e-3 AS f16_close,
       bool_and(maas_predict('digits_bf16', features) = maas_predict('digits', features)) AS bf16_same_class,
       max(pg_temp.max_abs_diff(maas_predict_proba('digits_bf16', features),
                                 maas_predict_proba('digits', features))) < 5e-3 AS bf16_close
  FROM digits_test;

-- integer and numeric arrays reach the real[] or float8[] forms
SELECT maas_predict('diabetes', ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::real[]) =
       maas_predict('diabetes', ARRAY[0.0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::float8[]) AS same;

-- prediction in a view and in a parallel plan
CREATE TEMP VIEW scored AS
  SELECT id, maas_predict('digits', features) AS class FROM digits_test;
SELECT count(*) FROM scored s JOIN digits_expected e USING (id) WHERE s.class = e.class;

SELECT proname, provolatile, proparallel FROM pg_proc
 WHERE proname IN ('maas_predict', 'maas_predict_proba', 'maas_predict_label')
 GROUP BY 1, 2, 3 ORDER BY 1;

-- the model cache: with no room, models are reloaded per statement and
-- predictions do not change; BLAS threads do not change them either
SET maas.cache_size = 0;
SELECT count(*) FILTER (WHERE maas_predict('digits', t.features) = e.class) AS same_class
  FROM digits_test t JOIN digits_expected e USING (id);
SELECT count(*) FILTER (WHERE maas_predict('digits', 2, t.features) = e.class) AS same_class
  FROM digits_test t JOIN digits_v2_expected e USING (id);
RESET maas.cache_size;
SET maas.blas_threads = 2;
SELECT max(pg_temp.max_abs_diff(maas_predict_proba('digits', t.features), e.proba)) < 1e-5 AS same
  FROM digits_test t JOIN digits_expected e USING (id);
RESET maas.blas_threads;
-- settings are checked, and the maas prefix is reserved
SET maas.cache_size = -1;
SET maas.blas_threads = 0;
SET maas.cache_sise = '1MB';
SHOW maas.cache_size;
