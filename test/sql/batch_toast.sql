-- The batch path's reading of out-of-line features (src/server/toast_batch.c):
-- rows whose real[] is stored out of line and uncompressed have their values
-- fetched a batch at a time; rows whose real[] is compressed in line (pglz)
-- are decoded a batch at a time (src/kernel/pglz.c).  Whatever the storage,
-- the mix of rows and the batch size, the answers are those of the rows
-- read one by one (PLAIN rows go the way they always went), and bad rows
-- give the errors maas_predict gives, naming the row.
\set QUIET on
SET max_parallel_workers_per_gather = 0;
SET maas.batch_pipeline = off;
-- a 784-16-3 MLP, weights from sin(): its safetensors built here
CREATE FUNCTION pg_temp.le(v bigint, n int) RETURNS bytea LANGUAGE sql AS $$
  SELECT string_agg(substr(int8send(v), 9 - i, 1), ''::bytea ORDER BY i) FROM generate_series(1, n) i $$;
CREATE FUNCTION pg_temp.f32(n int, seed int, scale float8) RETURNS bytea LANGUAGE sql AS $$
  SELECT string_agg(substr(float4send((sin(i * 12.9898 + seed) * scale)::real), 5 - j, 1), ''::bytea
                    ORDER BY i, j)
    FROM generate_series(1, n) i, generate_series(1, 4) j $$;
CREATE FUNCTION pg_temp.mlp784() RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
	header text := '{"fc1.weight":{"dtype":"F32","shape":[16,784],"data_offsets":[0,50176]},'
	               '"fc1.bias":{"dtype":"F32","shape":[16],"data_offsets":[50176,50240]},'
	               '"fc2.weight":{"dtype":"F32","shape":[3,16],"data_offsets":[50240,50432]},'
	               '"fc2.bias":{"dtype":"F32","shape":[3],"data_offsets":[50432,50444]}}';
BEGIN
	header := header || repeat(' ', (8 - length(header) % 8) % 8);
	RETURN pg_temp.le(length(header), 8) || convert_to(header, 'UTF8')
	       || pg_temp.f32(16 * 784, 1, 0.08) || pg_temp.f32(16, 2, 0.1)
	       || pg_temp.f32(3 * 16, 3, 0.5) || pg_temp.f32(3, 4, 0.1);
END $$;
SELECT maas_register('t784', 'mlp', pg_temp.mlp784(),
       '{"task": "classification", "n_features": 784, "labels": [0, 1, 2],
         "layers": [{"op": "dense", "weight": "fc1.weight", "bias": "fc1.bias"}, {"op": "relu"},
                    {"op": "dense", "weight": "fc2.weight", "bias": "fc2.bias"}, {"op": "softmax"}]}') IS NOT NULL;
SELECT maas_deploy('t784', 1) IS NOT NULL;
-- 1,200 rows: even ids compress well (few distinct values), odd ids do not
CREATE TABLE t_src AS
SELECT i AS id,
       ARRAY(SELECT CASE WHEN i % 2 = 0 THEN ((i + j) % 5) / 4.0
                         ELSE sin(i * 7.1 + j * 0.37) END
               FROM generate_series(1, 784) j)::real[] AS f
  FROM generate_series(1, 1200) i;
-- the same rows in each storage a column can have
CREATE TABLE t_external (id int, f real[]);
ALTER TABLE t_external ALTER COLUMN f SET STORAGE EXTERNAL;
CREATE TABLE t_extended (id int, f real[]);
CREATE TABLE t_plain (id int, f real[]);
ALTER TABLE t_plain ALTER COLUMN f SET STORAGE PLAIN;
CREATE TABLE t_main (id int, f real[]);
ALTER TABLE t_main ALTER COLUMN f SET STORAGE MAIN;
-- (f[1:784] is a new array, stored as the column says: f would be the
-- source's datum, compressed or not)
INSERT INTO t_external SELECT id, f[1:784] FROM t_src ORDER BY id;
INSERT INTO t_extended SELECT id, f[1:784] FROM t_src ORDER BY id;
INSERT INTO t_plain SELECT id, f[1:784] FROM t_src ORDER BY id;
INSERT INTO t_main SELECT id, f[1:784] FROM t_src ORDER BY id;
CREATE UNIQUE INDEX ON t_plain (id);
-- the answers read one row at a time
CREATE TABLE t_ref AS
SELECT id, maas_predict('t784', f) AS prediction, maas_predict_proba('t784', f) AS proba FROM t_src;
CREATE FUNCTION pg_temp.max_abs_diff(a real[], b real[]) RETURNS float8
LANGUAGE sql IMMUTABLE AS
$$ SELECT max(abs(x::float8 - y::float8)) FROM unnest(a, b) AS u(x, y) $$;
-- a query's rows (id, f) scored at each batch size against the same rows
-- in the same order from t_plain (PLAIN rows are read as they always
-- were): the same bits; and against the per-row answers: the same
-- classes, the probabilities to float32 rounding (a batch's product is a
-- matrix-matrix one)
CREATE FUNCTION pg_temp.check(query text)
RETURNS TABLE (bs int, rows bigint, same_bits bigint, same_class bigint, proba_close bool)
LANGUAGE plpgsql AS $$
BEGIN
	CREATE TEMP TABLE c_batch AS
	SELECT s.bs, b.* FROM (VALUES (1), (2), (7), (64), (1000), (1024)) s(bs)
	 CROSS JOIN LATERAL maas_predict_proba_batch('t784', query, s.bs) b;
	CREATE TEMP TABLE c_plain AS
	SELECT s.bs, b.* FROM (VALUES (1), (2), (7), (64), (1000), (1024)) s(bs)
	 CROSS JOIN LATERAL maas_predict_proba_batch('t784',
	        'SELECT q.id, (SELECT f FROM t_plain p WHERE p.id = q.id) FROM (' || query || ') q', s.bs) b;
	RETURN QUERY
	SELECT b.bs, count(*), count(*) FILTER (WHERE b.proba = p.proba AND b.prediction = p.prediction),
	       count(*) FILTER (WHERE b.prediction = r.prediction),
	       max(pg_temp.max_abs_diff(b.proba, r.proba)) < 1e-6
	  FROM c_batch b JOIN c_plain p USING (bs, id) JOIN t_ref r USING (id)
	 GROUP BY b.bs ORDER BY b.bs;
	DROP TABLE c_batch, c_plain;
END $$;
\set QUIET off

-- the rows as stored: EXTERNAL all out of line and uncompressed; EXTENDED
-- compresses the even rows (inline) and stores the odd ones out of line,
-- uncompressed; PLAIN and MAIN inline
-- (pg_column_size: 3,160 bytes inline, the 3,156 bytes after the header out
-- of line)
SELECT t.name,
       count(*) FILTER (WHERE pg_column_size(f) = 3156 AND pg_column_compression(f) IS NULL) AS out_of_line,
       count(*) FILTER (WHERE pg_column_compression(f) IS NOT NULL) AS compressed,
       count(*) FILTER (WHERE pg_column_size(f) = 3160) AS inline
  FROM (SELECT 'external' AS name, f FROM t_external UNION ALL SELECT 'extended', f FROM t_extended
        UNION ALL SELECT 'plain', f FROM t_plain UNION ALL SELECT 'main', f FROM t_main) t
 GROUP BY t.name ORDER BY t.name;

-- every storage and batch size
SELECT * FROM pg_temp.check('SELECT id, f FROM t_external');
SELECT * FROM pg_temp.check('SELECT id, f FROM t_extended');
SELECT * FROM pg_temp.check('SELECT id, f FROM t_main');

-- the batched path ran: 1,200 values whose ids follow each other, in one
-- scan per batch (the first batch's matrix grows 8, 16, ... rows and
-- reads its rows before each growth: 8 scans; then 1 for the last 176)
SET client_min_messages = debug1;
SELECT count(*) FROM maas_predict_batch('t784', 'SELECT id, f FROM t_external');
-- EXTENDED: rows out of line and compressed ones alternate; these wait
-- too (a copy of each), decoded together once the others' values are
-- read, so the batch is still read at once
SELECT count(*) FROM maas_predict_batch('t784', 'SELECT id, f FROM t_extended');
-- MAIN: the even rows compressed in line, the odd ones in line
-- uncompressed; the compressed ones are decoded together, on one thread
-- or on two (the others are read as they come)
SELECT count(*) FROM maas_predict_batch('t784', 'SELECT id, f FROM t_main');
RESET client_min_messages;
SET maas.blas_threads = 2;
SELECT * FROM pg_temp.check('SELECT id, f FROM t_main');
SELECT * FROM pg_temp.check('SELECT id, f FROM t_extended');
RESET maas.blas_threads;
-- lz4-compressed rows are PostgreSQL's to decompress, as before
CREATE TABLE t_lz4 (id int, f real[] COMPRESSION lz4);
INSERT INTO t_lz4 SELECT id, f[1:784] FROM t_src ORDER BY id;
SELECT pg_column_compression(f) AS compression, count(*) FROM t_lz4 GROUP BY 1 ORDER BY 1;
SELECT * FROM pg_temp.check('SELECT id, f FROM t_lz4');

-- mixed rows in one batch: out of line, compressed, inline, a double
-- precision array, an integer one of a real[784]'s size (read into the
-- matrix, then converted, as maas_predict converts it)
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.prediction = maas_predict('t784', s.f)) AS same_class,
       max(pg_temp.max_abs_diff(b.proba, maas_predict_proba('t784', s.f))) < 1e-6 AS proba_close
  FROM maas_predict_proba_batch('t784', $q$
    SELECT id, CASE id % 5 WHEN 0 THEN e.f WHEN 1 THEN x.f WHEN 2 THEN p.f
                           WHEN 3 THEN (e.f::float8[])::real[] ELSE e.f END
      FROM t_external e JOIN t_extended x USING (id) JOIN t_plain p USING (id) $q$, 100) b
  JOIN t_src s USING (id);
CREATE TABLE t_typed (id int, d float8[], n int[]);
ALTER TABLE t_typed ALTER COLUMN d SET STORAGE EXTERNAL, ALTER COLUMN n SET STORAGE EXTERNAL;
INSERT INTO t_typed SELECT id, f::float8[], ARRAY(SELECT (x * 4)::int FROM unnest(f) x) FROM t_src
  WHERE id <= 300;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.prediction = maas_predict('t784', t.d)) AS float8_same
  FROM maas_predict_batch('t784', 'SELECT id, d FROM t_typed', 64) b JOIN t_typed t USING (id);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.prediction = maas_predict('t784', t.n)) AS int_same
  FROM maas_predict_batch('t784', 'SELECT id, n FROM t_typed', 64) b JOIN t_typed t USING (id);
-- rows alternating between out of line and inline, in one order
SELECT * FROM pg_temp.check($q$
  SELECT id, f FROM (SELECT * FROM t_external WHERE id % 2 = 0
                     UNION ALL SELECT * FROM t_plain WHERE id % 2 = 1) u ORDER BY id $q$);

-- a join of two toasted tables: values of two toast tables in one batch,
-- and the same value several times in a batch (read once, copied)
CREATE TABLE t_external2 (id int, f real[]);
ALTER TABLE t_external2 ALTER COLUMN f SET STORAGE EXTERNAL;
INSERT INTO t_external2 SELECT id, f[1:784] FROM t_src ORDER BY id DESC;
SELECT * FROM pg_temp.check($q$
  SELECT a.id, CASE WHEN a.id % 3 = 0 THEN a.f ELSE b.f END
    FROM t_external a JOIN t_external2 b USING (id) $q$);
SELECT count(*) AS rows, count(DISTINCT b.id / 10) AS distinct_rows,
       count(*) FILTER (WHERE b.prediction = r.prediction) AS same_class
  FROM maas_predict_batch('t784', $q$
    SELECT e.id * 10 + g, e.f FROM t_external e, generate_series(1, 3) g WHERE e.id <= 200 $q$, 50) b
  JOIN t_ref r ON r.id = b.id / 10;

-- rows sparse over the toast value ids: each value a scan of its own
SELECT * FROM pg_temp.check('SELECT id, f FROM t_external WHERE id % 97 = 0');
SELECT * FROM pg_temp.check('SELECT id, f FROM t_external WHERE id % 5 = 0 OR id > 1100');

-- rows updated and deleted in the same transaction: the values the
-- statement sees, the new ones out of line too
BEGIN;
UPDATE t_external SET f = (SELECT f FROM t_src s WHERE s.id = 1201 - t_external.id) WHERE id % 3 = 0;
DELETE FROM t_external WHERE id % 7 = 0;
SELECT count(*) AS rows, count(*) FILTER (WHERE b.prediction = maas_predict('t784', e.f)) AS same_class,
       max(pg_temp.max_abs_diff(b.proba, maas_predict_proba('t784', e.f))) < 1e-6 AS proba_close,
       count(*) FILTER (WHERE e.id % 3 = 0) AS updated
  FROM maas_predict_proba_batch('t784', 'SELECT id, f FROM t_external', 128) b JOIN t_external e USING (id);
ROLLBACK;
SELECT count(*) FROM t_external;

-- bad out-of-line rows: the error maas_predict gives, naming the row; a
-- bad row after rows still waiting for their values comes after theirs
INSERT INTO t_external VALUES
  (2001, array_fill(0.5::real, ARRAY[785])),
  (2002, array_fill(0.5::real, ARRAY[783]) || ARRAY['Infinity'::real]),
  (2003, array_fill(0.5::real, ARRAY[28, 28])),
  (2004, array_fill(0.5::real, ARRAY[783]) || ARRAY[NULL::real]);
SELECT * FROM maas_predict_batch('t784', 'SELECT id, f FROM t_external WHERE id <= 20 OR id = 2001');
SELECT * FROM maas_predict_batch('t784', 'SELECT id, f FROM t_external WHERE id <= 20 OR id = 2002');
SELECT * FROM maas_predict_batch('t784', 'SELECT id, f FROM t_external WHERE id <= 20 OR id = 2003');
SELECT * FROM maas_predict_batch('t784', 'SELECT id, f FROM t_external WHERE id <= 20 OR id = 2004');
SELECT * FROM maas_predict_batch('t784', 'SELECT id, CASE WHEN id = 15 THEN NULL ELSE f END FROM t_external WHERE id <= 20');
SELECT * FROM maas_predict_batch('t784', $q$
  SELECT id, f FROM t_external WHERE id = 2001 UNION ALL SELECT id, f FROM t_plain WHERE id = 1 $q$);
SELECT maas_predict('t784', f) FROM t_external WHERE id = 2001;
DELETE FROM t_external WHERE id > 2000;

-- compressed rows of a real[784]'s size that are not clean real[784]s:
-- decoded, found unclean, and read as maas_predict reads them, its error
-- naming the row (an Infinity, a NaN); an int[] and a real[] whose
-- subscripts start at 0 get maas_predict's answers
INSERT INTO t_extended VALUES
  (3001, array_fill(0.5::real, ARRAY[783]) || ARRAY['Infinity'::real]),
  (3002, array_fill(0.5::real, ARRAY[783]) || ARRAY['NaN'::real]);
SELECT id, pg_column_compression(f) AS compression FROM t_extended WHERE id > 3000 ORDER BY id;
SELECT * FROM maas_predict_batch('t784', 'SELECT id, f FROM t_extended WHERE id <= 20 OR id = 3001');
SELECT * FROM maas_predict_batch('t784', 'SELECT id, f FROM t_extended WHERE id = 3002');
SELECT maas_predict('t784', f) FROM t_extended WHERE id = 3002;
DELETE FROM t_extended WHERE id > 3000;
CREATE TABLE t_odd (id int, n int[], z real[]);
INSERT INTO t_odd
SELECT id, ARRAY(SELECT (x * 4)::int FROM unnest(f) x), ('[0:783]=' || f::text)::real[]
  FROM t_src WHERE id % 2 = 0 AND id <= 400;
SELECT pg_column_compression(n) AS n_compression, pg_column_compression(z) AS z_compression,
       array_lower(z, 1) AS z_lower, count(*)
  FROM t_odd GROUP BY 1, 2, 3;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.prediction = maas_predict('t784', t.n)) AS int_same
  FROM maas_predict_batch('t784', 'SELECT id, n FROM t_odd', 64) b JOIN t_odd t USING (id);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.prediction = maas_predict('t784', t.z)) AS same_class,
       max(pg_temp.max_abs_diff(b.proba, maas_predict_proba('t784', t.z))) < 1e-6 AS proba_close
  FROM maas_predict_proba_batch('t784', 'SELECT id, z FROM t_odd', 64) b JOIN t_odd t USING (id);

DROP TABLE t_src, t_external, t_extended, t_plain, t_main, t_ref, t_typed, t_external2, t_lz4, t_odd;
SELECT maas_drop('t784');
RESET maas.batch_pipeline;
RESET max_parallel_workers_per_gather;
