-- The batch pipeline (maas.batch_pipeline): a worker thread runs the forward
-- pass of batch k while the backend reads batch k + 1.  Its answers are the
-- serial path's, exactly, whatever the batch size and the threads.
\i test/fixtures/load.psql
\set cnn_w `base64 -w0 test/fixtures/digits_cnn.safetensors`
\set cnn_c `cat test/fixtures/digits_cnn.json`
SHOW maas.batch_pipeline;
SELECT maas_register('p_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_register('p_digits', 'mlp', decode(:'digits_v2_w', 'base64'), :'digits_v2_c');
SELECT maas_register('p_bf16', 'mlp', decode(:'digits_bf16_w', 'base64'), :'digits_c');
SELECT maas_register('p_cancer', 'logistic', decode(:'cancer_w', 'base64'), :'cancer_c');
SELECT maas_register('p_diabetes', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c');
SELECT maas_register('p_cnn', 'cnn', decode(:'cnn_w', 'base64'), :'cnn_c');
SELECT maas_deploy('p_digits', 1), maas_deploy('p_bf16', 1), maas_deploy('p_cancer', 1),
       maas_deploy('p_diabetes', 1), maas_deploy('p_cnn', 1);

-- 1000 rows: the 40 fixture digits, shifted 25 ways
CREATE TEMP TABLE p_rows AS
SELECT g * 100 + t.id AS id,
       ARRAY(SELECT f + g * 0.05 FROM unnest(t.features) f)::real[] AS features
  FROM digits_test t, generate_series(0, 24) g;
SELECT count(*) FROM p_rows;

-- serial answers, one thread: batches of 1 row, a partial last batch (7),
-- batches that end exactly at the last row (250, 1000), one short batch
SET maas.batch_pipeline = off;
CREATE TEMP TABLE p_serial AS
SELECT s.bs, b.*
  FROM (VALUES (1), (7), (250), (1000), (1024)) s(bs)
 CROSS JOIN LATERAL maas_predict_proba_batch('p_digits', 'SELECT id, features FROM p_rows', s.bs) b;

-- pipelined, with one and two BLAS threads, against serial with as many
CREATE FUNCTION pg_temp.same(pipeline text, threads int)
RETURNS TABLE (bs int, rows bigint, same bigint) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('maas.blas_threads', threads::text, true);
	PERFORM set_config('maas.batch_pipeline', 'off', true);
	CREATE TEMP TABLE p_ref ON COMMIT DROP AS
	SELECT s.bs, b.*
	  FROM (VALUES (1), (7), (250), (1000), (1024)) s(bs)
	 CROSS JOIN LATERAL maas_predict_proba_batch('p_digits', 'SELECT id, features FROM p_rows', s.bs) b;
	PERFORM set_config('maas.batch_pipeline', pipeline, true);
	RETURN QUERY
	SELECT s.bs, count(*),
	       count(*) FILTER (WHERE b.prediction = p.prediction AND b.proba = p.proba)
	  FROM (VALUES (1), (7), (250), (1000), (1024)) s(bs)
	 CROSS JOIN LATERAL maas_predict_proba_batch('p_digits', 'SELECT id, features FROM p_rows', s.bs) b
	  LEFT JOIN p_ref p ON p.bs = s.bs AND p.id = b.id
	 GROUP BY s.bs ORDER BY s.bs;
	DROP TABLE p_ref;
END
$$;
SELECT * FROM pg_temp.same('on', 1);
SELECT * FROM pg_temp.same('on', 2);
SELECT * FROM pg_temp.same('auto', 2);
SELECT * FROM pg_temp.same('on', 3);
-- OpenBLAS's results may depend on its threads: the worker takes them all
SET maas.gemm_backend = blas;
SELECT * FROM pg_temp.same('on', 2);
RESET maas.gemm_backend;

-- the other kinds of model, pipelined against serial: a sigmoid classifier,
-- a regression, a CNN, bfloat16 weights (which stay serial)
CREATE FUNCTION pg_temp.both(model text, q text, bs int)
RETURNS TABLE (rows bigint, same bigint) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('maas.batch_pipeline', 'off', true);
	CREATE TEMP TABLE p_one ON COMMIT DROP AS
	SELECT * FROM maas_predict_proba_batch(model, q, bs);
	PERFORM set_config('maas.batch_pipeline', 'on', true);
	RETURN QUERY
	SELECT count(*), count(*) FILTER (WHERE b.prediction = o.prediction AND b.proba = o.proba)
	  FROM maas_predict_proba_batch(model, q, bs) b LEFT JOIN p_one o USING (id);
	DROP TABLE p_one;
END
$$;
SELECT * FROM pg_temp.both('p_cancer', 'SELECT g * 100 + id, features FROM cancer_test, generate_series(1, 10) g', 16);
SELECT * FROM pg_temp.both('p_cnn', 'SELECT id, features FROM p_rows', 64);
SELECT * FROM pg_temp.both('p_bf16', 'SELECT id, features FROM p_rows', 64);
SET maas.batch_pipeline = off;
CREATE TEMP TABLE p_reg AS
SELECT * FROM maas_predict_batch('p_diabetes', 'SELECT g * 100 + id, features FROM diabetes_test, generate_series(1, 10) g', 3);
SET maas.batch_pipeline = on;
SELECT count(*) AS rows, count(*) FILTER (WHERE b.prediction = r.prediction) AS same
  FROM maas_predict_batch('p_diabetes', 'SELECT g * 100 + id, features FROM diabetes_test, generate_series(1, 10) g', 3) b
  LEFT JOIN p_reg r USING (id);

-- the source query may itself predict (on the backend's thread, which
-- waits for the worker's products)
SELECT count(*) AS rows, count(*) FILTER (WHERE b.prediction = p.prediction) AS same
  FROM maas_predict_batch('p_digits',
        'SELECT id, features FROM p_rows WHERE maas_predict(''p_digits'', features) >= 0', 7) b
  LEFT JOIN p_serial p ON p.bs = 7 AND p.id = b.id;

-- a bad row in a later batch, with a batch in flight: the serial path's
-- error, and the next call works
SELECT count(*) FROM maas_predict_batch('p_digits',
  'SELECT id, CASE WHEN id = 1210 THEN ARRAY[1]::real[] ELSE features END FROM p_rows ORDER BY id', 7);
SELECT count(*) FROM maas_predict_batch('p_digits',
  'SELECT id, CASE WHEN id = 1210 THEN NULL ELSE features END FROM p_rows ORDER BY id', 250);
SELECT count(*) FROM maas_predict_batch('p_digits', 'SELECT id, features FROM p_rows', 7);

-- maas.stats counts the same calls, rows and errors as serially
CREATE FUNCTION pg_temp.counts(pipeline text)
RETURNS TABLE (calls bigint, rows bigint, errors bigint) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM maas_stats_reset();
	PERFORM set_config('maas.batch_pipeline', pipeline, false);
	PERFORM count(*) FROM maas_predict_batch('p_digits', 'SELECT id, features FROM p_rows', 7);
	BEGIN
		PERFORM count(*) FROM maas_predict_batch('p_digits',
		  'SELECT id, CASE WHEN id = 1210 THEN NULL ELSE features END FROM p_rows ORDER BY id', 7);
	EXCEPTION WHEN null_value_not_allowed THEN
		NULL;
	END;
	RETURN QUERY SELECT s.calls, s.rows, s.errors FROM maas.stats s WHERE s.model = 'p_digits';
END
$$;
SELECT * FROM pg_temp.counts('off');
SELECT * FROM pg_temp.counts('on');

-- a batch too wide for maas.batch_memory has fewer rows, pipelined too
SET maas.batch_memory = '1MB';
SELECT count(*) AS rows, count(*) FILTER (WHERE b.prediction = p.prediction AND b.proba = p.proba) AS same
  FROM maas_predict_proba_batch('p_digits', 'SELECT id, features FROM p_rows', 1000) b
  LEFT JOIN p_serial p ON p.bs = 1000 AND p.id = b.id;
RESET maas.batch_memory;

-- a canary routes serially: the same rows either way
SELECT maas_deploy('p_digits', 2, '{"strategy": "canary", "fraction": 0.5}');
SELECT * FROM pg_temp.both('p_digits', 'SELECT id, features FROM p_rows', 7);

-- joined (maas.batch_join): with two BLAS threads on oneDNN the backend's
-- thread takes blocks of 128 rows of the batch in flight once it has read
-- the next batch.  A 784-512-10 MLP (its products on oneDNN's matmul), 10k
-- rows: serial, joined and not joined give the same bits for batches of
-- 1 row (of the first 2,000), 7, 1024 and 10,000 rows.
SET maas.blas_threads = 1;
SET client_min_messages = warning;
SELECT count(*) FROM maas_train('p_wide',
  $q$SELECT ARRAY(SELECT ((i * 7 + j * 13) % 255) / 255.0 FROM generate_series(1, 784) j)::real[] AS f,
            i % 10 AS label FROM generate_series(1, 200) i$q$,
  'label', 'mlp', '{"hidden": [512], "epochs": 1, "seed": 1}');
RESET client_min_messages;
CREATE TEMP TABLE p_wide_rows AS
SELECT i AS id, ARRAY(SELECT ((i * 3 + j * (1 + i % 5)) % 255) / 255.0 FROM generate_series(1, 784) j)::real[] AS f
  FROM generate_series(1, 10000) i;
CREATE FUNCTION pg_temp.wide(pipeline text, joined bool, bs int)
RETURNS TABLE (id bigint, prediction float8, proba real[]) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('maas.blas_threads', '2', true);
	PERFORM set_config('maas.batch_pipeline', pipeline, true);
	PERFORM set_config('maas.batch_join', joined::text, true);
	RETURN QUERY SELECT b.id, b.prediction, b.proba FROM maas_predict_proba_batch('p_wide',
	  CASE WHEN bs = 1 THEN 'SELECT id, f FROM p_wide_rows WHERE id <= 2000'
	  ELSE 'SELECT id, f FROM p_wide_rows' END, bs) b;
END
$$;
CREATE TEMP TABLE p_wide_out AS
SELECT s.bs, m.mode, w.*
  FROM (VALUES (1), (7), (1024), (10000)) s(bs)
 CROSS JOIN (VALUES ('serial', 'off', false), ('joined', 'on', true),
                    ('joined auto', 'auto', true), ('not joined', 'on', false)) m(mode, pipeline, joined)
 CROSS JOIN LATERAL pg_temp.wide(m.pipeline, m.joined, s.bs) w;
SELECT o.bs, o.mode, count(*) AS rows,
       count(*) FILTER (WHERE o.prediction = s.prediction AND o.proba = s.proba) AS same
  FROM p_wide_out o JOIN p_wide_out s ON s.bs = o.bs AND s.mode = 'serial' AND s.id = o.id
 WHERE o.mode <> 'serial' GROUP BY 1, 2 ORDER BY 1, 2;
-- joined: a bad row in a later batch raises the serial path's error; a
-- small maas.batch_memory; maas.stats counts as serially
SET maas.blas_threads = 2;
SET maas.batch_pipeline = on;
SELECT count(*) FROM maas_predict_batch('p_wide',
  'SELECT id, CASE WHEN id = 3000 THEN ARRAY[1]::real[] ELSE f END FROM p_wide_rows ORDER BY id', 1024);
SET maas.batch_memory = '4MB';
SELECT count(*) AS rows, count(*) FILTER (WHERE b.prediction = s.prediction AND b.proba = s.proba) AS same
  FROM maas_predict_proba_batch('p_wide', 'SELECT id, f FROM p_wide_rows', 10000) b
  JOIN p_wide_out s ON s.bs = 10000 AND s.mode = 'serial' AND s.id = b.id;
RESET maas.batch_memory;
SELECT count(*) FROM (SELECT maas_stats_reset()) r;
SELECT count(*) FROM maas_predict_batch('p_wide', 'SELECT id, f FROM p_wide_rows', 1000);
SELECT s.calls, s.rows, s.errors FROM maas.stats s WHERE s.model = 'p_wide';
SELECT maas_drop('p_wide');
SET maas.batch_join = nonsense;
RESET maas.batch_join;

SET maas.batch_pipeline = nonsense;
RESET maas.batch_pipeline;
RESET maas.blas_threads;
SELECT maas_drop('p_digits'), maas_drop('p_bf16'), maas_drop('p_cancer'), maas_drop('p_diabetes'),
       maas_drop('p_cnn');
