-- maas_train reads the rows of a table of real columns in place, from the
-- heap tuple, without deforming them (train_load.c); a query whose columns
-- are computed gives the same rows through the usual path.  Each model read
-- in place must have the same metrics, to the last digit, as the same rows
-- read the usual way; and the tuples that cannot be read in place (NULLs,
-- an attribute added after they were written, a value not finite) are
-- read the usual way in the same scan.
SET maas.training_notices = off;
CREATE TABLE ip_src AS
  SELECT g AS id, sin(g)::real AS a, cos(g * 0.7)::real AS b, (g % 13)::real AS c,
         (3 * sin(g) - 2 * cos(g * 0.7) + 0.5 * (g % 13) + 0.1 * sin(g * 1.3))::real AS y
    FROM generate_series(1, 3000) g;

-- the same rows as computed columns: a projection, read the usual way
CREATE FUNCTION ip_same(model text, source text, params jsonb DEFAULT '{}') RETURNS boolean
LANGUAGE sql AS $$
  SELECT (SELECT metrics FROM maas_train(model || '_in_place', source, 'y', 'linear',
                                         params || '{"deploy": "never"}'))
       = (SELECT metrics FROM maas_train(model || '_usual',
                                         format('SELECT a * 1::real AS a, b * 1::real AS b, '
                                                'c * 1::real AS c, y * 1::real AS y FROM %s', source),
                                         'y', 'linear', params || '{"deploy": "never"}'))
$$;

CREATE TABLE ip_t AS SELECT a, b, c, y FROM ip_src ORDER BY id;
SELECT ip_same('ip2', 'ip_t');
-- a query of the table's columns as they are: its scan's tuples
SELECT (SELECT metrics FROM maas_train('ip1_in_place', 'SELECT a, b, c, y FROM ip_t', 'y', 'linear',
                                       '{"deploy": "never"}'))
     = (SELECT metrics FROM maas_train('ip1_usual', 'SELECT a * 1::real AS a, b * 1::real AS b, c * 1::real AS c, y * 1::real AS y FROM ip_t',
                                       'y', 'linear', '{"deploy": "never"}'))
       AS same;
SELECT ip_same('ip3', 'ip_t', '{"l2": 5, "scale": "none"}');
-- the features in another order than the table's
SELECT (SELECT metrics FROM maas_train('ip4_in_place', 'ip_t', 'y', 'linear',
                                       '{"features": ["c", "a", "b"], "deploy": "never"}'))
     = (SELECT metrics FROM maas_train('ip4_usual', 'SELECT a * 1::real AS a, b * 1::real AS b, c * 1::real AS c, y * 1::real AS y FROM ip_t',
                                       'y', 'linear', '{"features": ["c", "a", "b"], "deploy": "never"}'))
       AS same;

-- a column of another type between them, and a text column after them
CREATE TABLE ip_mixed AS SELECT a, (c * 2)::int4 AS k, b, c, y::float8 AS y, 'x'::text AS note FROM ip_t;
SELECT (SELECT metrics FROM maas_train('ip5_in_place', 'ip_mixed', 'y', 'linear',
                                       '{"features": ["a", "b", "c"], "deploy": "never"}'))
     = (SELECT metrics FROM maas_train('ip5_usual', 'SELECT a * 1::real AS a, b * 1::real AS b, c * 1::real AS c, y * 1::float8 AS y FROM ip_mixed',
                                       'y', 'linear', '{"features": ["a", "b", "c"], "deploy": "never"}'))
       AS same;

-- rows written before a column was added have fewer attributes
CREATE TABLE ip_added AS SELECT a, b, y FROM ip_t;
ALTER TABLE ip_added ADD COLUMN c real NOT NULL DEFAULT 1;
INSERT INTO ip_added SELECT a, b, y, c FROM ip_t LIMIT 500;
ALTER TABLE ip_added ALTER COLUMN c DROP DEFAULT;
SELECT (SELECT metrics FROM maas_train('ip6_in_place', 'ip_added', 'y', 'linear', '{"deploy": "never"}'))
     = (SELECT metrics FROM maas_train('ip6_usual', 'SELECT a * 1::real AS a, b * 1::real AS b, c * 1::real AS c, y * 1::real AS y FROM ip_added',
                                       'y', 'linear', '{"deploy": "never"}'))
       AS same;

-- NULLs in some rows: imputed as always
UPDATE ip_t SET b = NULL WHERE a > 0.99;
SELECT ip_same('ip7', 'ip_t');

-- a value not finite is reported as on the usual path
UPDATE ip_t SET c = 'Infinity' WHERE ctid = (SELECT min(ctid) FROM ip_t WHERE b IS NOT NULL);
SELECT maas_train('ip8', 'ip_t', 'y', 'linear', '{"deploy": "never"}') IS NOT NULL AS trained;

SELECT count(*) FROM (SELECT maas_drop(model) FROM (SELECT DISTINCT model FROM maas.models WHERE model LIKE 'ip_\_%') m) d;
DROP FUNCTION ip_same;
DROP TABLE ip_src, ip_t, ip_mixed, ip_added;
