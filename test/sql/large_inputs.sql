-- Work proportional to what a caller passes: duplicate checks hash (or sort)
-- instead of comparing every pair, and long loops check for interrupts.
-- Each statement here took seconds before (60,000 labels: 7 s, 60,000
-- feature names: 9 s, whatever statement_timeout said) and takes
-- milliseconds now, so it succeeds or fails cleanly within its timeout.
\set QUIET on
-- safetensors with no tensors: an 8-byte header length, then '{}' padded
SELECT decode('0800000000000000' || encode('{}      ', 'hex'), 'hex') AS empty_st \gset
CREATE TEMP TABLE big_config AS
SELECT jsonb_build_object('task', 'classification', 'n_features', 60000,
         'layers', jsonb_build_array(jsonb_build_object('op', 'softmax')),
         'labels', (SELECT jsonb_agg('L' || g) FROM generate_series(1, 60000) g)) AS c;
CREATE TEMP TABLE big_features AS
SELECT jsonb_build_object('features', (SELECT jsonb_agg('c' || g) FROM generate_series(1, 60000) g)) AS p;
\set QUIET off
SET statement_timeout = '2s';

-- 60,000 labels: registered, and loaded again by another backend
SELECT maas_register('manylabels', 'x', :'empty_st', c) FROM big_config;
SELECT maas_deploy('manylabels', 1);
SELECT maas_predict_label('manylabels', array_fill(0::real, ARRAY[59999]) || 1::real);
-- a duplicate among them is still found, and named
SELECT maas_register('manylabels', 'x', :'empty_st',
                     jsonb_set(c, '{labels,59999}', '"L17"')) FROM big_config;
-- numbers and strings are labels by their text: 1 and "1" are one label
SELECT maas_register('dup_label', 'x', :'empty_st',
                     '{"task": "classification", "n_features": 2, "layers": [{"op": "softmax"}],
                       "labels": [1, "1"]}');

-- 60,000 column names in params.features: checked for duplicates by
-- hashing, then looked up
SELECT r.* FROM big_features, maas_train('f', 'SELECT 1 AS c1, 2 AS y', 'y', 'linear', p) r;
SELECT r.* FROM big_features,
       maas_train('f', 'SELECT 1 AS c1, 2 AS y', 'y', 'linear', jsonb_set(p, '{features,59999}', '"c5"')) r;

-- a new backend loads the model again
\c
SET statement_timeout = '2s';
SELECT maas_predict_label('manylabels', array_fill(0::real, ARRAY[59999]) || 1::real);
SELECT maas_predict_label('manylabels', 1::real || array_fill(0::real, ARRAY[59999]));

RESET statement_timeout;
SELECT maas_drop('manylabels');
SELECT count(*) FROM maas.models WHERE model IN ('manylabels', 'dup_label', 'f');
