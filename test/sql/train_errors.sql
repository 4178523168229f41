-- maas_train on bad input: a clear error, and nothing stored
\i test/fixtures/load_train.psql
\set QUIET on
CREATE TEMP TABLE versions_before AS SELECT model, version FROM maas.versions;
\set QUIET off
CREATE TEMP TABLE t (id int, x real, y real, arr real[], txt text[], d date, label text);
INSERT INTO t SELECT i, i, i * 2, ARRAY[i, i + 1], ARRAY['a'], '2020-01-01', CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END
  FROM generate_series(1, 20) i;

-- unknown algorithm, parameters, values out of range
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'forest');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '{"colour": 1}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '{"hidden": [8]}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'auto', '{"hidden": [8]}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"lr": -0.1}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"lr": "fast"}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"epochs": 1000000000}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"epochs": 2.5}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"batch_size": 0}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"hidden": []}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"hidden": [0]}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"activation": "gelu"}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"dropout": 1}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"optimizer": "lbfgs"}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"early_stopping": "yes"}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '{"test_size": 1.5}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '{"impute": "median"}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '{"deploy": "sometimes"}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '{"scale": "log"}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '[1, 2]');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '{"features": []}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '{"features": ["x", "x"]}');
-- nulls, names
SELECT * FROM maas_train(NULL, 'iris_src', 'species');
SELECT * FROM maas_train('bad', NULL, 'species');
SELECT * FROM maas_train('bad', 'iris_src', NULL);
SELECT * FROM maas_train('', 'iris_src', 'species');

-- unknown source, target or column
SELECT * FROM maas_train('bad', 'no_such_table', 'species');
SELECT * FROM maas_train('bad', 'iris_src', 'colour');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '{"features": ["petal_size"]}');
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'logistic', '{"features": ["species"]}');
-- features of the wrong type: text[] and date
SELECT * FROM maas_train('bad', 'SELECT x, txt, label FROM t', 'label');
SELECT * FROM maas_train('bad', 'SELECT x, d, label FROM t', 'label');
SELECT * FROM maas_train('bad', 'SELECT x, arr AS label FROM t', 'label');
-- ragged arrays, arrays that are all NULL
SELECT * FROM maas_train('bad', 'SELECT CASE WHEN id = 7 THEN ARRAY[1, 2, 3]::real[] ELSE arr END AS arr, label FROM t ORDER BY id', 'label');
SELECT * FROM maas_train('bad', 'SELECT NULL::real[] AS arr, x, label FROM t', 'label');
-- NaN in a feature or the target
SELECT * FROM maas_train('bad', 'SELECT CASE WHEN id = 5 THEN ''NaN''::real ELSE x END AS x, label FROM t ORDER BY id', 'label');
SELECT * FROM maas_train('bad', 'SELECT x, CASE WHEN id = 5 THEN ''Infinity''::real ELSE y END AS y FROM t ORDER BY id', 'y');
-- NULLs with impute "error"
SELECT * FROM maas_train('bad', 'SELECT CASE WHEN id = 5 THEN NULL ELSE x END AS x, label FROM t ORDER BY id', 'label', 'logistic', '{"impute": "error"}');

-- targets: all NULL, one class, no rows, too few rows
SELECT * FROM maas_train('bad', 'SELECT x, NULL::text AS label FROM t', 'label');
SELECT * FROM maas_train('bad', 'SELECT x, ''same''::text AS label FROM t', 'label');
SELECT * FROM maas_train('bad', 'SELECT x, label FROM t WHERE false', 'label');
SELECT * FROM maas_train('bad', 'SELECT x, y FROM t WHERE id <= 2', 'y');
SELECT * FROM maas_train('bad', 'SELECT x, label FROM t WHERE id <= 2', 'label');
-- the algorithm does not fit the task
SELECT * FROM maas_train('bad', 'SELECT x, label FROM t', 'label', 'linear');
SELECT * FROM maas_train('bad', 'SELECT x, y FROM t', 'y', 'logistic', '{"task": "regression"}');
SELECT * FROM maas_train('bad', 'SELECT x, label FROM t', 'label', 'auto', '{"task": "regression"}');

-- memory: a hidden layer too large, data beyond maas.max_training_memory
SELECT * FROM maas_train('bad', 'iris_src', 'species', 'mlp', '{"hidden": [100000, 100000]}');
SET maas.max_training_memory = '1MB';
SELECT * FROM maas_train('bad', 'SELECT ARRAY(SELECT generate_series(1, 100))::real[] AS a, i % 2 AS label FROM generate_series(1, 10000) i', 'label');
SELECT * FROM maas_train('bad', 'SELECT ARRAY(SELECT generate_series(1, 1000))::real[] AS a, i % 2 AS label FROM generate_series(1, 10) i', 'label');
RESET maas.max_training_memory;

-- a diverging training stops with an error that says so
SELECT * FROM maas_train('bad', 'diabetes_src', 'progression', 'mlp',
                         '{"optimizer": "sgd", "lr": 10, "momentum": 0.99, "epochs": 50, "scale": "none"}');

-- maas_evaluate and maas_predict(model, row) on unsuitable input
SELECT maas_train('ok', 'iris_src', 'species', 'logistic') IS NOT NULL AS trained;
SELECT maas_evaluate('ok', 'SELECT sepal_length, sepal_width, petal_length, petal_width, ''rose''::text AS species FROM iris', 'species');
SELECT maas_evaluate('ok', 'iris', 'kind');
SELECT maas_evaluate('ok', 'SELECT sepal_length, species FROM iris', 'species');
SELECT maas_evaluate('ok', 'SELECT sepal_length, sepal_width, petal_length, petal_width::text, species FROM iris', 'species');
SELECT maas_predict('ok', NULL::record);

-- nothing stored by any of the failures above
SELECT maas_drop('ok');
SELECT v.model, v.version FROM maas.versions v
  EXCEPT SELECT model, version FROM versions_before;
SELECT count(*) AS runs FROM maas.training_runs WHERE model = 'bad';

-- several statements in a source are refused (their rows would not have the
-- shape planned from the last one)
SELECT maas_train('te_multi', 'SELECT 1::float8 AS x, 2::float8 AS y; SELECT 3::float8 AS x, 4::float8 AS y', 'y', 'linear');
SELECT maas_train('te_multi', 'SELECT 12345::int8 AS x, 1::float8 AS y) s; SELECT ''a''::text AS x, 1::float8 AS y FROM (SELECT 1', 'y', 'linear');
SELECT maas_train('te_multi', 'SELECT 1 AS x;', 'x', 'linear');
-- a binary target with a single input: the validation pass expands the
-- sigmoid output to two columns (used to overflow its buffer)
SELECT model, version, task, algorithm, (metrics->>'accuracy')::float8 > 0.9 AS accurate
  FROM maas_train('te_binary1', 'SELECT x::float8 AS x, (x > 0) AS y FROM generate_series(-1000, 1000) x',
                  'y', 'logistic', '{"epochs": 3, "seed": 1}');
SELECT maas_drop('te_binary1');
-- -0 and 0 are one class
SELECT model, task
  FROM maas_train('te_zero', 'SELECT x::float8 AS x, CASE WHEN x % 3 = 0 THEN ''-0''::float8 WHEN x % 3 = 1 THEN 0::float8 ELSE 1::float8 END AS y FROM generate_series(1, 300) x',
                  'y', 'logistic', '{"epochs": 2, "seed": 1, "task": "classification"}');
SELECT n_outputs AS classes FROM maas.versions WHERE model = 'te_zero';
SELECT maas_drop('te_zero');
