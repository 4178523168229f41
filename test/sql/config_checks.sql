-- A stored version always serves: everything later calls read of a config
-- is checked when it is registered -- the inputs (their kinds, names,
-- categories, fill values and that they make the model's features), the
-- impute policy, and every number, finite and in range for its type
-- (issue 9, defects 8 and 9).  Before, each of these registered, then
-- failed at every row-form predict or served Infinity or NaN.
\i test/fixtures/load.psql
\set QUIET on
-- y = x1 + 2 x2 + 3 x3 + 0.5, with the columns a, b, c
CREATE TEMP TABLE abc (a real, b real, c real);
INSERT INTO abc VALUES (NULL, 1, 1);
CREATE FUNCTION pg_temp.cfg(inputs jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('task', 'regression', 'n_features', 3,
           'layers', jsonb_build_array(jsonb_build_object('op', 'dense', 'weight', 'w', 'bias', 'b')),
           'inputs', inputs) $$;
-- safetensors with no tensors, for models of one softmax layer
SELECT decode('0800000000000000' || encode('{}      ', 'hex'), 'hex') AS empty_st \gset
\set QUIET off

-- inputs that are not a list, or make 1 feature for a 3-feature model
SELECT maas_register('cfg', 'linear', decode(:'tiny_w', 'base64'), pg_temp.cfg('"garbage"'));
SELECT maas_register('cfg', 'linear', decode(:'tiny_w', 'base64'),
                     pg_temp.cfg('[{"name": "a", "kind": "number"}]'));
SELECT maas_predict('cfg', r) FROM abc r;
-- a name twice, an unknown kind, an impute policy that is none
SELECT maas_register('cfg', 'linear', decode(:'tiny_w', 'base64'),
                     pg_temp.cfg('[{"name": "a", "kind": "number"}, {"name": "a", "kind": "number"},
                                   {"name": "c", "kind": "number"}]'));
SELECT maas_register('cfg', 'linear', decode(:'tiny_w', 'base64'),
                     pg_temp.cfg('[{"name": "a", "kind": "text"}]'));
SELECT maas_register('cfg', 'linear', decode(:'tiny_w', 'base64'),
                     pg_temp.cfg('[{"name": "a", "kind": "array", "length": 3}]') || '{"impute": "median"}');
SELECT maas_register('cfg', 'linear', decode(:'tiny_w', 'base64'),
                     pg_temp.cfg('[{"name": "a", "kind": "array", "length": 3}]') || '{"impute": 1}');

-- fill values that overflow real, one or in an array
SELECT maas_register('cfg', 'linear', decode(:'tiny_w', 'base64'),
                     pg_temp.cfg('[{"name": "a", "kind": "number", "fill": 1e39},
                                   {"name": "b", "kind": "number"}, {"name": "c", "kind": "number"}]'));
SELECT maas_register('cfg', 'linear', decode(:'tiny_w', 'base64'),
                     pg_temp.cfg('[{"name": "a", "kind": "array", "length": 3, "fill": [1e39, -1e39, 0]}]'));
SELECT maas_register('cfg', 'linear', decode(:'tiny_w', 'base64'),
                     pg_temp.cfg('[{"name": "a", "kind": "number", "fill": "zero"},
                                   {"name": "b", "kind": "number"}, {"name": "c", "kind": "number"}]'));
SELECT maas_predict('cfg', r) FROM abc r;

-- a label that overflows double precision
SELECT maas_register('cfg2', 'x', :'empty_st',
                     '{"task": "classification", "n_features": 2, "layers": [{"op": "softmax"}],
                       "labels": [0, 1e400]}');
SELECT maas_predict('cfg2', ARRAY[0, 1]::real[]);

-- what is valid registers and serves: a finite fill replaces a NULL
SELECT maas_register('cfg', 'linear', decode(:'tiny_w', 'base64'),
                     pg_temp.cfg('[{"name": "a", "kind": "number", "fill": 10},
                                   {"name": "b", "kind": "number"}, {"name": "c", "kind": "number"}]'));
SELECT maas_deploy('cfg', 'latest');
SELECT maas_predict('cfg', r) FROM abc r;

-- categories: each is the slot it is listed at, in any order, once
SELECT maas_register('cat', 'x', :'empty_st',
                     '{"task": "classification", "n_features": 2, "layers": [{"op": "softmax"}],
                       "labels": ["first", "second"],
                       "inputs": [{"name": "c", "kind": "category", "categories": ["b", "a"]}]}');
SELECT maas_deploy('cat', 1);
SELECT c, maas_predict_label('cat', r) FROM (VALUES ('a'), ('b')) r(c) ORDER BY c;
SELECT maas_register('cat', 'x', :'empty_st',
                     '{"task": "classification", "n_features": 3, "layers": [{"op": "softmax"}],
                       "labels": ["first", "second", "third"],
                       "inputs": [{"name": "c", "kind": "category", "categories": ["b", "a", "b"]}]}');

-- only the two valid versions were stored
SELECT model, version FROM maas.versions WHERE model IN ('cfg', 'cfg2', 'cat') ORDER BY 1, 2;
SELECT maas_drop('cfg');
SELECT maas_drop('cat');
