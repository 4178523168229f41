-- Registering models made with PyTorch (test/fixtures/make_fixtures.py)
\i test/fixtures/load.psql

-- version numbers start at 1 and count up per model
SELECT maas_register('digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_register('digits', 'mlp', decode(:'digits_v2_w', 'base64'), :'digits_v2_c');
SELECT maas_register('cancer', 'logistic', decode(:'cancer_w', 'base64'), :'cancer_c');
SELECT maas_register('diabetes', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c');

-- F64, F16 and BF16 weights are stored as F32
SELECT maas_register('digits_f64', 'mlp', decode(:'digits_f64_w', 'base64'), :'digits_c');
SELECT maas_register('digits_f16', 'mlp', decode(:'digits_f16_w', 'base64'), :'digits_c');
SELECT maas_register('digits_bf16', 'mlp', decode(:'digits_bf16_w', 'base64'), :'digits_c');

SELECT model, version, algorithm, task, n_features, n_outputs, dtype, bytes,
       deployed, parent_version, metrics, created_by
  FROM maas.versions ORDER BY model, version;

-- F32 weights are stored byte for byte
SELECT sha256 = encode(sha256(decode(:'digits_w', 'base64')), 'hex') AS same_bytes
  FROM maas.versions WHERE model = 'digits' AND version = 1;
SELECT bytes = length(decode(:'digits_w', 'base64')) AS same_length
  FROM maas.versions WHERE model = 'digits' AND version = 1;
-- converted F64 weights are the same floats, so the F32 bytes match too
SELECT a.sha256 = b.sha256 AS f64_converted_exactly
  FROM maas.versions a, maas.versions b
 WHERE a.model = 'digits' AND a.version = 1 AND b.model = 'digits_f64';

SELECT model, owner, task, algorithm, deployed_version, latest_version, versions, bytes
  FROM maas.models ORDER BY model;

-- the weights are stored uncompressed and out of line
SELECT attname, attstorage FROM pg_attribute
 WHERE attrelid = 'maas.version'::regclass AND attname IN ('weights', 'config');

-- versions are immutable
UPDATE maas.version SET algorithm = 'other' WHERE version = 1;
-- nothing can be predicted before a deploy
SELECT maas_predict('digits', features) FROM digits_test WHERE id = 1;
