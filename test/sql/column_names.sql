-- A name maas reads names one column (issue 9, defect 7).  Training reads
-- a source's columns and serving and evaluation find them again by name,
-- so a source or a row with two columns of one name would be trained by
-- position and served by name: refused, with the name, wherever maas reads
-- columns by name.  Columns nothing reads may share a name.
SET maas.training_notices = off;
CREATE TEMP TABLE dup AS
  SELECT (g % 17)::real AS a, (g % 5)::real AS b, (3 * (g % 17) - 2 * (g % 5) + 1)::real AS y
    FROM generate_series(1, 200) g;

-- training: every column of the source but the target is a feature
SELECT model FROM maas_train('dupcol', 'SELECT a AS x, b AS x, y FROM dup', 'y', 'linear');
SELECT model FROM maas_train('dupcol', 'SELECT a AS x, b AS x, y FROM dup', 'y', 'linear',
                             '{"features": ["x"]}');
SELECT model FROM maas_train('dupcol', 'SELECT a, b AS y, y FROM dup', 'y', 'linear');
-- a column named twice that params.features leaves out is not read
SELECT model, version FROM maas_train('dupcol', 'SELECT a, b, y, a AS junk, b AS junk FROM dup', 'y',
                                      'linear', '{"features": ["a", "b"], "test_size": 0}');

-- serving a row and evaluating a source find the model's columns by name
SELECT maas_predict('dupcol', r) FROM (SELECT a, b AS a, b FROM dup LIMIT 1) r;
SELECT maas_evaluate('dupcol', 'SELECT a, b, b AS a, y FROM dup', 'y');
SELECT maas_evaluate('dupcol', 'SELECT a, b, y, a AS y FROM dup', 'y');
-- ... and nothing else: other columns may share a name
SELECT count(*) FROM (SELECT maas_predict('dupcol', r) FROM (SELECT a, b, 1 AS z, 2 AS z FROM dup) r) s;
SELECT (maas_evaluate('dupcol', 'SELECT a, b, y, 1 AS z, 2 AS z FROM dup', 'y')->>'r2')::float8 > 0.999 AS fits;

-- one rule for all: the row form and the array form agree on every row
SELECT count(*) FILTER (WHERE maas_predict('dupcol', d) <> maas_predict('dupcol', ARRAY[d.a, d.b]))
       AS disagree, count(*) AS rows
  FROM dup d;
SELECT maas_drop('dupcol');
