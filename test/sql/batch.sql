-- Batch scoring (maas_predict_batch) against per-row maas_predict, and
-- per-row maas_predict in parallel workers
\i test/fixtures/load.psql
SELECT maas_register('b_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_register('b_digits', 'mlp', decode(:'digits_v2_w', 'base64'), :'digits_v2_c');
SELECT maas_register('b_cancer', 'logistic', decode(:'cancer_w', 'base64'), :'cancer_c');
SELECT maas_register('b_diabetes', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c');
SELECT maas_deploy('b_digits', 1), maas_deploy('b_cancer', 1), maas_deploy('b_diabetes', 1);

-- regular tables (parallel workers cannot read temp tables)
CREATE TABLE b_digits_test AS SELECT * FROM digits_test;
CREATE TABLE b_digits_expected AS SELECT * FROM digits_expected;
ANALYZE b_digits_test, b_digits_expected;
-- two workers, though the table is small
ALTER TABLE b_digits_test SET (parallel_workers = 2);

-- batch and per-row give the same classes, and the same probabilities to
-- float32 rounding, whatever the batch size (1 row is a matrix-vector
-- product, like per-row; 7 leaves a partial last batch)
SELECT s.batch_size, count(*) AS rows,
       count(*) FILTER (WHERE b.prediction = maas_predict('b_digits', t.features)) AS same_as_per_row,
       count(*) FILTER (WHERE b.prediction = e.class) AS same_as_torch,
       max(pg_temp.max_abs_diff(b.proba, maas_predict_proba('b_digits', t.features))) < 1e-6 AS proba_same,
       max(pg_temp.max_abs_diff(b.proba, e.proba)) < 1e-5 AS proba_as_torch
  FROM (VALUES (1), (7), (40), (1024)) s(batch_size)
 CROSS JOIN LATERAL maas_predict_proba_batch('b_digits',
        'SELECT id, features FROM b_digits_test', s.batch_size) b
  JOIN b_digits_test t ON t.id = b.id
  JOIN b_digits_expected e ON e.id = b.id
 GROUP BY s.batch_size ORDER BY s.batch_size;

-- the default batch size (maas.batch_size), and the GUC changing it
SHOW maas.batch_size;
SET maas.batch_size = 3;
SELECT count(*) FILTER (WHERE b.prediction = maas_predict('b_digits', t.features)) AS same
  FROM maas_predict_batch('b_digits', 'SELECT id, features FROM b_digits_test') b
  JOIN b_digits_test t USING (id);
RESET maas.batch_size;

-- a binary (sigmoid) classifier and a regression
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.prediction = maas_predict('b_cancer', t.features)) AS same_class,
       max(pg_temp.max_abs_diff(b.proba, maas_predict_proba('b_cancer', t.features))) < 1e-6 AS proba_same
  FROM maas_predict_proba_batch('b_cancer', 'SELECT id, features FROM cancer_test', 16) b
  JOIN cancer_test t USING (id);
SELECT count(*) AS rows,
       max(abs(b.prediction - maas_predict('b_diabetes', t.features)) / abs(b.prediction)) < 1e-6 AS same_value
  FROM maas_predict_batch('b_diabetes', 'SELECT id, features FROM diabetes_test', 10) b
  JOIN diabetes_test t USING (id);

-- double precision features, smallint and bigint keys, a pinned version
SELECT count(*) FILTER (WHERE b.prediction = maas_predict('b_digits', 2, t.features)) AS same_v2
  FROM maas_predict_batch('b_digits', 'SELECT id::bigint, features::float8[] FROM b_digits_test',
                          version => 2) b
  JOIN b_digits_test t USING (id);
SELECT * FROM maas_predict_batch('b_digits',
  'SELECT id::smallint, features FROM b_digits_test WHERE id <= 3 ORDER BY id');

-- it composes: CREATE TABLE AS, INSERT ... SELECT, a join back by key
CREATE TABLE b_scored AS
  SELECT id, prediction::int AS class
    FROM maas_predict_batch('b_digits', 'SELECT id, features FROM b_digits_test');
INSERT INTO b_scored
  SELECT id + 100, prediction::int
    FROM maas_predict_batch('b_digits', 'SELECT id, features FROM b_digits_test WHERE id <= 5');
SELECT count(*) AS rows, count(*) FILTER (WHERE s.class = t.label) AS correct
  FROM b_scored s JOIN b_digits_test t ON t.id = s.id;
SELECT t.id, t.label, p.prediction
  FROM b_digits_test t
  JOIN maas_predict_batch('b_digits', 'SELECT id, features FROM b_digits_test WHERE label = 7') p
    ON p.id = t.id
 ORDER BY t.id LIMIT 3;
-- no rows in, no rows out
SELECT count(*) FROM maas_predict_batch('b_digits', 'SELECT id, features FROM b_digits_test WHERE false');

-- bad rows stop the statement with the error maas_predict gives, and the
-- context names the row's key; filter them in the query to skip them
SELECT maas_predict('b_digits', NULL::real[]);
SELECT * FROM maas_predict_batch('b_digits',
  'SELECT id, CASE WHEN id = 3 THEN NULL ELSE features END FROM b_digits_test ORDER BY id');
SELECT * FROM maas_predict_batch('b_digits',
  'SELECT id, CASE WHEN id = 5 THEN features[1:10] ELSE features END FROM b_digits_test ORDER BY id');
SELECT * FROM maas_predict_batch('b_digits',
  'SELECT id, CASE WHEN id = 2 THEN features[1:63] || ''NaN''::real ELSE features END FROM b_digits_test ORDER BY id');
SELECT * FROM maas_predict_batch('b_digits',
  'SELECT id, features[1:20] || NULL::real || features[22:64] FROM b_digits_test WHERE id = 4');
SELECT * FROM maas_predict_batch('b_digits', 'SELECT NULL::int, features FROM b_digits_test');
SELECT count(*) FROM maas_predict_batch('b_digits',
  'SELECT id, features FROM (SELECT id, CASE WHEN id = 3 THEN NULL ELSE features END AS features
                               FROM b_digits_test) s WHERE features IS NOT NULL');

-- a bad query or argument
SELECT * FROM maas_predict_batch('b_digits', 'SELECT features FROM b_digits_test');
SELECT * FROM maas_predict_batch('b_digits', 'SELECT id, features, label FROM b_digits_test');
SELECT * FROM maas_predict_batch('b_digits', 'SELECT id::text, features FROM b_digits_test');
SELECT * FROM maas_predict_batch('b_digits', 'SELECT id, features::text[] FROM b_digits_test');
SELECT * FROM maas_predict_batch('b_digits', 'DELETE FROM b_digits_test RETURNING id, features');
SELECT * FROM maas_predict_batch('b_digits', 'SELECT id, features FROM no_such_table');
SELECT * FROM maas_predict_batch('b_digits', 'SELECT id, features FROM b_digits_test', 0);
SELECT * FROM maas_predict_batch('b_digits', 'SELECT id, features FROM b_digits_test', version => 0);
SELECT * FROM maas_predict_batch('b_digits', 'SELECT id, features FROM b_digits_test', version => 9);
SELECT * FROM maas_predict_batch('no_model', 'SELECT id, features FROM b_digits_test');
SELECT * FROM maas_predict_batch(NULL, 'SELECT id, features FROM b_digits_test');
SELECT * FROM maas_predict_batch('b_digits', NULL);
SELECT * FROM maas_predict_proba_batch('b_diabetes', 'SELECT id, features FROM diabetes_test');
SET maas.batch_size = 0;

-- a cancel (here statement_timeout) stops a long batch promptly
SET statement_timeout = '300ms';
SELECT count(*) FROM maas_predict_batch('b_digits',
  'SELECT g, (SELECT features FROM b_digits_test WHERE id = 1) FROM generate_series(1, 100000000) g');
RESET statement_timeout;

-- per-row maas_predict runs in parallel workers and gives the same answers
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (VERBOSE, COSTS OFF)
  SELECT id, maas_predict('b_digits', features) FROM b_digits_test;
CREATE FUNCTION pg_temp.workers_launched(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    IF l ~ 'Workers Launched' THEN RETURN substring(l FROM '\d+')::int; END IF;
  END LOOP;
  RETURN 0;
END $$;
SELECT pg_temp.workers_launched('SELECT id, maas_predict(''b_digits'', features) FROM b_digits_test') > 0
       AS ran_in_workers;
SELECT count(*) AS rows, count(*) FILTER (WHERE p.class = e.class) AS same_class
  FROM (SELECT id, maas_predict('b_digits', features) AS class FROM b_digits_test) p
  JOIN b_digits_expected e USING (id);
-- the whole query in one worker (force_parallel_mode is PostgreSQL 15's name)
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF)
  SELECT count(*) FROM b_digits_test t JOIN b_digits_expected e USING (id)
   WHERE maas_predict('b_digits', t.features) = e.class
     AND maas_predict_label('b_digits', 2, t.features) IS NOT NULL;
SELECT count(*) AS same_class FROM b_digits_test t JOIN b_digits_expected e USING (id)
 WHERE maas_predict('b_digits', t.features) = e.class
   AND maas_predict_label('b_digits', 2, t.features) IS NOT NULL;
RESET force_parallel_mode;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;

-- maas.blas_threads changes take effect mid-session (same answers)
SET maas.blas_threads = 2;
SELECT count(*) FILTER (WHERE b.prediction = e.class) AS same_class
  FROM maas_predict_batch('b_digits', 'SELECT id, features FROM b_digits_test') b
  JOIN b_digits_expected e USING (id);
RESET maas.blas_threads;

DROP TABLE b_scored, b_digits_test, b_digits_expected;
SELECT maas_drop('b_digits'), maas_drop('b_cancer'), maas_drop('b_diabetes');
