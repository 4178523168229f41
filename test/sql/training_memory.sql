-- maas.max_training_memory counts everything a training allocates in
-- proportion to its data, before allocating it (issue 9, defect 10): the
-- rows, and also what each input value costs later (preprocessing
-- statistics, the stored statistics and config).  Before, with 64MB, a
-- 3-row source of 4,000,000 values a row failed only after the backend had
-- grown by 237 MB; now it fails before reading a row.
\set QUIET on
CREATE TABLE wide_source AS
  SELECT array_fill((i % 2)::real, ARRAY[4000000]) AS x, i % 2 AS y FROM generate_series(1, 3) i;
\set QUIET off
-- a fresh backend, so that its peak memory is the training's
\c
SET maas.training_notices = off;
CREATE FUNCTION pg_temp.peak_kb() RETURNS bigint LANGUAGE sql AS $$
  SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                       'VmHWM:\s+(\d+)'))[1]::bigint $$;
SELECT pg_temp.peak_kb() AS peak_before \gset
SET maas.max_training_memory = '64MB';
CREATE FUNCTION pg_temp.train_error(source text, params jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	msg text;
	detail text;
	state text;
BEGIN
	PERFORM maas_train('wide', source, 'y', 'logistic', params);
	RETURN 'trained';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
	-- the kB needed varies by a few with the server's allocations
	RETURN state || ': ' || msg || E'\n' || regexp_replace(detail, 'needs \d+ kB', 'needs ... kB');
END $$;
SELECT pg_temp.train_error('wide_source', '{"epochs": 1}');
SELECT pg_temp.peak_kb() - :peak_before < 65536 AS grew_less_than_the_limit;

-- categories become input slots only once their values are counted: the
-- check is made again then, before one-hot encoding
CREATE TEMP TABLE many_categories AS
  SELECT 'category ' || (i % 1000) || repeat('.', 2000) AS c, (i % 2)::real AS y
    FROM generate_series(1, 2000) i;
SET maas.max_training_memory = '4MB';
SELECT pg_temp.train_error('many_categories', '{"epochs": 1, "task": "classification"}');
RESET maas.max_training_memory;

-- what fits trains as before
SELECT model, version FROM maas_train('cats', 'SELECT c, y FROM many_categories LIMIT 300', 'y',
                                      'logistic', '{"epochs": 1, "task": "classification"}');
SELECT maas_drop('cats');
DROP TABLE wide_source;
SELECT count(*) FROM maas.models WHERE model IN ('wide', 'cats');
