-- Buffers are sized from the rows actually read and the memory settings
-- (issue 9, defect 6).  A model may take up to 100,000,000 features; one of
-- 2,000,000 made maas_evaluate allocate a 256-row chunk of 2 GB (XX000:
-- invalid memory alloc request size), and maas_predict_batch a batch of
-- batch_size rows whatever the query returned.  Now a batch or chunk has
-- as many rows as fit maas.batch_memory (at least one), grows with the rows
-- read, and what maas_evaluate keeps is counted against
-- maas.max_training_memory before it is allocated.
\set QUIET on
-- y = b (all weights zero): a regression on 2,000,000 features
CREATE FUNCTION pg_temp.le(v bigint, n int) RETURNS bytea LANGUAGE sql AS $$
  SELECT string_agg(substr(int8send(v), 9 - i, 1), ''::bytea ORDER BY i) FROM generate_series(1, n) i $$;
CREATE FUNCTION pg_temp.wide_safetensors(n int, b real) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
	header text := format('{"w":{"dtype":"F32","shape":[1,%s],"data_offsets":[0,%s]},'
	                      '"b":{"dtype":"F32","shape":[1],"data_offsets":[%s,%s]}}',
	                      n, 4 * n, 4 * n, 4 * n + 4);
BEGIN
	header := header || repeat(' ', (8 - length(header) % 8) % 8);
	RETURN pg_temp.le(length(header), 8) || convert_to(header, 'UTF8')
	       || decode(repeat('00', 4 * n), 'hex')
	       || (SELECT string_agg(substr(float4send(b), 5 - i, 1), ''::bytea ORDER BY i) FROM generate_series(1, 4) i);
END $$;
SELECT maas_register('wide', 'linear', pg_temp.wide_safetensors(2000000, 7),
       '{"task": "regression", "n_features": 2000000,
         "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}') AS version;
SELECT maas_deploy('wide', 1);
CREATE TEMP TABLE wide_rows AS
  SELECT i AS id, array_fill(i::real, ARRAY[2000000]) AS x, 7::real AS y FROM generate_series(1, 3) i;
\set QUIET off

-- a whole table of wide rows, evaluated and scored in batches
SELECT maas_evaluate('wide', 'SELECT x, y FROM wide_rows', 'y');
SELECT id, prediction FROM maas_predict_batch('wide', 'SELECT id, x FROM wide_rows') ORDER BY id;
-- a batch size no memory could hold: the batch is what maas.batch_memory holds
SELECT count(*) FROM maas_predict_batch('wide', 'SELECT id, x FROM wide_rows', 1000000);
SET maas.batch_memory = '1MB';
SELECT count(*) FROM maas_predict_batch('wide', 'SELECT id, x FROM wide_rows', 1000000);
SELECT maas_evaluate('wide', 'SELECT x, y FROM wide_rows', 'y')->>'n' AS n;
RESET maas.batch_memory;
SELECT maas_drop('wide');

-- a classifier of 60,000 classes: its metrics' confusion matrix alone would
-- take 27 GB, which maas_evaluate says before reading a row
SELECT decode('0800000000000000' || encode('{}      ', 'hex'), 'hex') AS empty_st \gset
SELECT maas_register('manyclasses', 'x', :'empty_st',
                     jsonb_build_object('task', 'classification', 'n_features', 60000,
                                        'layers', jsonb_build_array(jsonb_build_object('op', 'softmax'))));
SELECT maas_deploy('manyclasses', 1);
SELECT maas_evaluate('manyclasses', 'SELECT array_fill(0::real, ARRAY[60000]) AS x, 1 AS label', 'label');
SELECT maas_drop('manyclasses');

-- what maas_evaluate keeps of each row is counted too
CREATE TEMP TABLE many AS SELECT ARRAY[i % 7, i % 5]::real[] AS x, (i % 7)::real AS y
  FROM generate_series(1, 300000) i;
SELECT maas_register('small', 'x', :'empty_st',
                     '{"task": "classification", "n_features": 2, "layers": [{"op": "softmax"}]}');
SELECT maas_deploy('small', 1);
SET maas.max_training_memory = '1MB';
SELECT maas_evaluate('small', 'SELECT x, (y::int % 2) AS label FROM many', 'label');
RESET maas.max_training_memory;
SELECT maas_evaluate('small', 'SELECT x, (y::int % 2) AS label FROM many', 'label')->>'n' AS n;
SELECT maas_drop('small');
