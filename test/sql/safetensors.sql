-- Bad weights and bad configs are refused, and nothing is stored
\i test/fixtures/load.psql
\set tiny_cfg '{"task": "regression", "n_features": 3, "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}'
CREATE TEMP TABLE registry_before AS SELECT model, version, sha256 FROM maas.versions;
-- the outcome of one registration attempt: 'stored' or the SQLSTATE
CREATE FUNCTION pg_temp.try_register(w bytea, c jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM maas_register('bad', 'linear', w, c);
  PERFORM maas_drop('bad');
  RETURN 'stored';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;

-- the good file registers
SELECT maas_register('tiny', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');

-- corrupted safetensors
\set f `base64 -w0 test/fixtures/bad/truncated.safetensors`
SELECT maas_register('bad', 'linear', decode(:'f', 'base64'), :'tiny_cfg');
\set f `base64 -w0 test/fixtures/bad/header_past_end.safetensors`
SELECT maas_register('bad', 'linear', decode(:'f', 'base64'), :'tiny_cfg');
\set f `base64 -w0 test/fixtures/bad/overlap.safetensors`
SELECT maas_register('bad', 'linear', decode(:'f', 'base64'), :'tiny_cfg');
\set f `base64 -w0 test/fixtures/bad/out_of_range.safetensors`
SELECT maas_register('bad', 'linear', decode(:'f', 'base64'), :'tiny_cfg');
\set f `base64 -w0 test/fixtures/bad/shape_mismatch.safetensors`
SELECT maas_register('bad', 'linear', decode(:'f', 'base64'), :'tiny_cfg');
\set f `base64 -w0 test/fixtures/bad/bad_dtype.safetensors`
SELECT maas_register('bad', 'linear', decode(:'f', 'base64'), :'tiny_cfg');
\set f `base64 -w0 test/fixtures/bad/invalid_json.safetensors`
SELECT maas_register('bad', 'linear', decode(:'f', 'base64'), :'tiny_cfg');
SELECT maas_register('bad', 'linear', '\x'::bytea, :'tiny_cfg');
SELECT maas_register('bad', 'linear', '\x0100000000000000'::bytea, :'tiny_cfg');
-- every proper prefix of a good file is refused cleanly
SELECT pg_temp.try_register(substring(w FROM 1 FOR n), :'tiny_c') AS outcome, count(*)
  FROM (SELECT decode(:'tiny_w', 'base64') AS w) f,
       generate_series(0, length(w) - 1) n
 GROUP BY 1 ORDER BY 1;
-- so is (or stores a valid model) every file with one byte inverted
SELECT pg_temp.try_register(set_byte(w, i, get_byte(w, i) # 255), :'tiny_c') AS outcome, count(*)
  FROM (SELECT decode(:'tiny_w', 'base64') AS w) f,
       generate_series(0, length(w) - 1) i
 GROUP BY 1 ORDER BY 1;
-- NaN in the weights
SELECT maas_register('bad', 'linear',
         overlay(decode(:'tiny_w', 'base64') PLACING '\x0000c07f'::bytea
                 FROM length(decode(:'tiny_w', 'base64')) - 3 FOR 4), :'tiny_c');

-- configs that do not fit the weights
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "regression", "n_features": 3, "layers": [{"op": "dense", "weight": "w", "bias": "nosuch"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "regression", "n_features": 4, "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "regression", "n_features": 3, "layers": [{"op": "dense", "weight": "w", "bias": "w"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "regression", "n_features": 3, "layers": [{"op": "transmogrify", "weight": "w"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "regression", "n_features": 3, "layers": [{"op": "dense", "weight": "w", "bais": "b"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "regression", "n_features": 3, "layers": [{"op": "dense", "weight": "w"}, {"op": "dense", "weight": "w"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "regression", "n_features": 3, "layers": []}');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "ranking", "n_features": 3, "layers": [{"op": "dense", "weight": "w"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "regression", "layers": [{"op": "dense", "weight": "w"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "regression", "n_features": 2.5, "layers": [{"op": "dense", "weight": "w"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'), '[1, 2]');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "regression", "n_features": 3, "layers": ["dense"]}');
-- output shapes that do not fit the task
SELECT maas_register('bad', 'linear', decode(:'tiny2_w', 'base64'), :'tiny2_c');
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'),
  '{"task": "classification", "n_features": 3, "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny2_w', 'base64'),
  '{"task": "classification", "n_features": 3, "labels": ["a", "b", "c"], "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}');
SELECT maas_register('bad', 'linear', decode(:'tiny2_w', 'base64'),
  '{"task": "classification", "n_features": 3, "labels": ["a", "a"], "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}');
-- standardize needs a positive std (b set to -1.0 here)
SELECT maas_register('bad', 'linear',
         overlay(decode(:'tiny_w', 'base64') PLACING '\x000080bf'::bytea
                 FROM length(decode(:'tiny_w', 'base64')) - 3 FOR 4),
  '{"task": "regression", "n_features": 1, "layers": [{"op": "standardize", "mean": "b", "std": "b"}]}');
-- no config and none in the file; bad names and NULLs
SELECT maas_register('bad', 'linear', decode(:'tiny_w', 'base64'));
SELECT maas_register('bad', 'linear', NULL, :'tiny_c');
SELECT maas_register('', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
SELECT maas_register(NULL, 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
SELECT maas_register('bad', 'linear regression', decode(:'tiny_w', 'base64'), :'tiny_c');
SELECT maas_register('bad', NULL, decode(:'tiny_w', 'base64'), :'tiny_c');
SELECT maas_register(repeat('m', 201), 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');

-- only the good file was stored
SELECT model, version FROM maas.versions
EXCEPT SELECT model, version FROM registry_before;
SELECT maas_drop('tiny');
SELECT count(*) FROM maas.models WHERE model = 'bad';
