-- maas demo: register a PyTorch model, deploy it, predict in SQL, roll back.
-- Run from the repository root (scripts/demo does), against a server with
-- shared_preload_libraries = 'maas'.
\set ECHO queries
CREATE EXTENSION IF NOT EXISTS maas;

-- A digits classifier trained with PyTorch (test/fixtures/make_fixtures.py):
-- safetensors weights plus a config that names its layers.
\set weights `base64 -w0 test/fixtures/digits_mlp.safetensors`
\set config `cat test/fixtures/digits_mlp.json`
\set weights_v2 `base64 -w0 test/fixtures/digits_mlp_v2.safetensors`
\set config_v2 `cat test/fixtures/digits_mlp_v2.json`

SELECT maas_register('digits', 'mlp', decode(:'weights', 'base64'), :'config') AS version;
SELECT maas_deploy('digits', 1);

-- rows to score: 8x8 digit images as real[64]
CREATE TABLE digits_test (id int PRIMARY KEY, features real[], label int);
\copy digits_test FROM 'test/fixtures/digits_test.csv' WITH (FORMAT csv, HEADER)

-- one prediction per row, in an ordinary query
SELECT id, label, maas_predict('digits', features) AS predicted
  FROM digits_test ORDER BY id LIMIT 5;
SELECT round(avg((maas_predict('digits', features) = label)::int), 3) AS accuracy
  FROM digits_test;
SELECT id, maas_predict_proba('digits', features) AS probabilities
  FROM digits_test ORDER BY id LIMIT 2;

-- a second version with text labels; compare it pinned, then deploy it
SELECT maas_register('digits', 'mlp', decode(:'weights_v2', 'base64'), :'config_v2') AS version;
SELECT id, maas_predict('digits', 1, features) AS v1,
       maas_predict_label('digits', 2, features) AS v2
  FROM digits_test ORDER BY id LIMIT 3;
SELECT maas_deploy('digits', 'latest');
SELECT maas_predict_label('digits', features) FROM digits_test WHERE id = 1;

-- the registry
SELECT model, owner, task, algorithm, deployed_version, versions, bytes FROM maas.models;
SELECT model, version, n_features, n_outputs, dtype, bytes, deployed FROM maas.versions;

-- roll back in one call; the history keeps every deploy
SELECT maas_deploy('digits', 'previous');
SELECT model, version, previous_version, strategy FROM maas.deployments ORDER BY id;

-- export: safetensors bytes that carry their config, ready to register anywhere
SELECT algorithm, length(weights) AS bytes FROM maas_export('digits');
SELECT maas_register('digits_copy', algorithm, weights) AS version FROM maas_export('digits');

-- bad input gets a clear error
\set ON_ERROR_STOP 0
SELECT maas_predict('digits', ARRAY[1, 2, 3]::real[]);
SELECT maas_drop('digits', 1);
\set ON_ERROR_STOP 1

SELECT maas_drop('digits_copy');
