-- Remote models without a server to call: the allowed hosts, endpoint
-- descriptions and their errors, secrets and who may use them, remote
-- versions in deploy/rollback/export/drop, and calls refused before any
-- connection.  test/t/060_remote.pl calls real (misbehaving) servers.
CREATE ROLE regress_maas_remote_ann;
CREATE ROLE regress_maas_remote_ben;
CREATE ROLE regress_maas_remote_team;
GRANT regress_maas_remote_team TO regress_maas_remote_ann;
GRANT EXECUTE ON FUNCTION maas_register_remote(text, jsonb), maas_secret_set(text, text),
      maas_register(text, text, bytea, jsonb),
      maas_secret_drop(text), maas_deploy(text, integer), maas_drop(text, integer),
      maas_export(text, integer)
   TO regress_maas_remote_ann, regress_maas_remote_ben, regress_maas_remote_team;

-- the allowed hosts: nothing by default, set by a superuser, checked
SHOW maas.remote_allowed_hosts;
SET maas.remote_allowed_hosts = 'models.internal:8080, 10.0.0.5, [fd00::1]:443, *.example.com';
SHOW maas.remote_allowed_hosts;
SET maas.remote_allowed_hosts = 'http://models.internal';
SET maas.remote_allowed_hosts = 'models.internal:0';
SET maas.remote_allowed_hosts = 'a.example.com,,b.example.com';
SET maas.remote_allowed_hosts = '*.com';
SET maas.remote_allowed_hosts = '::1';
SET ROLE regress_maas_remote_ann;
SET maas.remote_allowed_hosts = 'evil.example.org';
RESET ROLE;
SHOW maas.remote_allowed_hosts;

-- an endpoint as a version (no metadata check: there is no server here)
SELECT maas_register_remote('r_fraud', '{"protocol": "kserve-v2", "url": "http://models.internal:8080",
        "model": "fraud", "task": "classification", "n_features": 4, "labels": [0, 1],
        "verify": false}') AS version;
SELECT model, version, algorithm, task, n_features, n_outputs, dtype, deployed
  FROM maas.versions WHERE model = 'r_fraud';
SELECT algorithm, config FROM maas_export('r_fraud', 1);
-- a second version: logits, rows by column name, its own timeouts
SELECT maas_register_remote('r_fraud', '{"protocol": "kserve-v2", "url": "http://models.internal:8080/",
        "model": "fraud-v2", "task": "classification", "labels": ["ok", "fraud"], "scores": "logits",
        "columns": ["amount", "age", "hour", "country_risk"], "timeout_ms": 2000,
        "connect_timeout_ms": 500, "max_retries": 1, "batch_size": 256, "output": "logits",
        "input_name": "x", "verify": false}') AS version;
SELECT config FROM maas_export('r_fraud', 2);
-- deploy, roll back, drop: as for any version
SELECT maas_deploy('r_fraud', 1), maas_deploy('r_fraud', 2), maas_deploy('r_fraud', 'previous');
SELECT version, previous_version, strategy FROM maas.deployments WHERE model = 'r_fraud' ORDER BY id;
SELECT maas_drop('r_fraud', 2);
SELECT model, deployed_version, latest_version, versions FROM maas.models WHERE model = 'r_fraud';

-- text models: an OpenAI-compatible endpoint, no layers (nothing asked at registration)
SELECT maas_register_remote('r_llm', '{"protocol": "openai", "url": "https://api.example.com/v1",
        "model": "gpt-4o-mini", "task": "generation", "system": "Answer in one sentence.",
        "timeout_ms": 30000, "max_retries": 3}') AS version;
SELECT maas_register_remote('r_embedder', '{"protocol": "openai", "url": "https://api.example.com/v1",
        "model": "text-embedding-3-small", "task": "embedding", "dimensions": 256, "batch_size": 64}') AS version;
SELECT model, version, algorithm, task, n_features, n_outputs FROM maas.versions
 WHERE model IN ('r_llm', 'r_embedder') ORDER BY model;
SELECT config FROM maas_export('r_llm');
SELECT maas_deploy('r_llm', 1);
SELECT maas_tokenize('r_llm', 'hello');
SELECT maas_predict('r_llm', 'hello');
SELECT maas_embed('r_llm', 'hello');
SELECT maas_generate('r_llm', 'hello', '{"top_k": 5}');
SELECT maas_generate('r_llm', 'hello', '{"temperature": 3}');
SELECT maas_generate('r_llm', 'hello', '{"max_new_tokens": 0.5}');
SELECT maas_generate('r_llm', '', '{}');
-- calls are refused before connecting (or resolving) once the host is not allowed
SET maas.remote_allowed_hosts = 'models.internal:8080';
SELECT maas_generate('r_llm', 'hello', '{}');
SELECT maas_deploy('r_embedder', 1);
SELECT maas_embed('r_embedder', 'hello');
SELECT * FROM maas_embed_batch('r_embedder', 'SELECT 1, ''hello''');
SET maas.remote_allowed_hosts = 'models.internal:8080, 10.0.0.5, [fd00::1]:443, *.example.com';
SELECT maas_drop('r_llm'), maas_drop('r_embedder');

-- a regression endpoint answers one value
SELECT maas_register_remote('r_price', '{"protocol": "kserve-v2", "url": "https://api.example.com/kserve",
        "model": "price", "task": "regression", "n_features": 3, "verify": false}') AS version;
SELECT task, n_outputs FROM maas.versions WHERE model = 'r_price';

-- descriptions that are wrong, each with its error
SELECT maas_register_remote('r_bad', NULL);
SELECT maas_register_remote('r_bad', '[1, 2]');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "n_features": 3, "verify": false, "timeout": 5}');
SELECT maas_register_remote('r_bad', '{"url": "http://models.internal:8080", "model": "m", "task": "regression"}');
SELECT maas_register_remote('r_bad', '{"protocol": "grpc", "url": "http://models.internal:8080", "model": "m", "task": "regression"}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "generation"}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "labels": [0, 1]}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "classification", "labels": [0, 1, 2], "n_outputs": 2}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "classification", "n_features": 3, "verify": false}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "verify": false}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "n_features": 3, "batch_size": 0}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "n_features": "3"}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "n_features": 3, "scores": "logits"}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "n_features": 3, "auth_header": "api-key"}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "n_features": 3, "secret": "no spaces please"}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "columns": ["a", "a"]}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "columns": ["a", "b"], "n_features": 3}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080/?key=1", "model": "m", "task": "regression", "n_features": 3}');
SELECT maas_register_remote('r_bad', '{"protocol": "openai", "url": "https://api.example.com/v1", "model": "gpt", "task": "classification"}');
SELECT maas_register_remote('r_bad', '{"protocol": "openai", "url": "https://api.example.com/v1", "model": "gpt", "task": "generation", "labels": [0, 1]}');
SELECT maas_register_remote('r_bad', '{"protocol": "openai", "url": "https://api.example.com/v1", "model": "gpt", "task": "generation", "api": "embeddings"}');
SELECT maas_register_remote('r_bad', '{"protocol": "openai", "url": "https://api.example.com/v1", "model": "gpt", "task": "embedding", "system": "be brief"}');
SELECT maas_register_remote('r_bad', '{"protocol": "openai", "url": "https://api.example.com/v1", "model": "gpt", "task": "generation", "dimensions": 8}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "n_features": 3, "api": "chat"}');
SELECT maas_register_remote('', '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "n_features": 3}');
-- URLs the allowed hosts refuse: before any connection or DNS lookup
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://models.internal:9090", "model": "m", "task": "regression", "n_features": 3}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://127.0.0.1:8080", "model": "m", "task": "regression", "n_features": 3}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://[::1]:8080", "model": "m", "task": "regression", "n_features": 3}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://169.254.169.254", "model": "m", "task": "regression", "n_features": 3}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://10.0.0.6", "model": "m", "task": "regression", "n_features": 3}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "file:///etc/passwd", "model": "m", "task": "regression", "n_features": 3}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "gopher://models.internal:8080/", "model": "m", "task": "regression", "n_features": 3}');
SELECT maas_register_remote('r_bad', '{"protocol": "kserve-v2", "url": "http://user:pw@models.internal:8080", "model": "m", "task": "regression", "n_features": 3}');
SELECT count(*) AS nothing_stored FROM maas.models WHERE model = 'r_bad';

-- secrets: set by their owner, shown by name only, never readable
SET ROLE regress_maas_remote_ann;
SELECT maas_secret_set('r_ann_key', 'sk-ann-0123456789');
SELECT maas_secret_set('r_ann_key', 'sk-ann-rotated-0123');
SELECT name, owner FROM maas.secrets ORDER BY name;
SELECT * FROM maas.secret;
SELECT maas_secret_set('r bad name', 'x');
SELECT maas_secret_set('r_ann_key2', '');
SELECT maas_secret_set('r_ann_key2', E'two\nlines');
SELECT maas_secret_set('r_ann_key2', NULL);
SELECT maas_secret_set(repeat('k', 64), 'x');
SELECT maas_secret_set('r_ann_key2', repeat('x', 4097));
-- a model of ann's may name ann's secret; the config holds the name only
SELECT maas_register_remote('r_ann_model', '{"protocol": "kserve-v2", "url": "http://models.internal:8080",
        "model": "m", "task": "regression", "n_features": 3, "secret": "r_ann_key", "verify": false}') AS version;
SELECT config->'layers'->0->>'secret' AS secret_name,
       position('sk-ann' IN config::text) AS value_in_config FROM maas_export('r_ann_model');
SELECT count(*) FILTER (WHERE position('sk-ann' IN v::text) > 0) AS values_in_versions
  FROM maas.versions v;
SELECT maas_register_remote('r_ann_model', '{"protocol": "kserve-v2", "url": "http://models.internal:8080",
        "model": "m", "task": "regression", "n_features": 3, "secret": "r_nobody_key", "verify": false}');
-- ben sees no secret of ann's and may not use, change or drop them
SET ROLE regress_maas_remote_ben;
SELECT name, owner FROM maas.secrets ORDER BY name;
SELECT maas_secret_set('r_ann_key', 'sk-ben-taking-over');
SELECT maas_secret_drop('r_ann_key');
SELECT maas_register_remote('r_ben_model', '{"protocol": "kserve-v2", "url": "http://models.internal:8080",
        "model": "m", "task": "regression", "n_features": 3, "secret": "r_ann_key", "verify": false}');
-- a secret of a group role serves the models of its members
SET ROLE regress_maas_remote_team;
SELECT maas_secret_set('r_team_key', 'sk-team-abcdef');
SET ROLE regress_maas_remote_ann;
SELECT name, owner FROM maas.secrets ORDER BY name;
SELECT maas_register_remote('r_ann_model', '{"protocol": "kserve-v2", "url": "http://models.internal:8080",
        "model": "m", "task": "regression", "n_features": 3, "secret": "r_team_key", "auth_header": "api-key",
        "verify": false}') AS version;
-- a config written by hand cannot borrow a secret: the call checks again
RESET ROLE;
CREATE TABLE r_price_export AS SELECT * FROM maas_export('r_price');
GRANT SELECT ON r_price_export TO regress_maas_remote_ben;
SET ROLE regress_maas_remote_ben;
SELECT maas_register('r_ben_model', 'kserve-v2', weights,
        jsonb_set(config, '{layers,0,secret}', '"r_team_key"')) AS version
  FROM r_price_export;
SELECT maas_predict('r_ben_model', 1, ARRAY[1, 2, 3]::real[]);
RESET ROLE;
SELECT name, owner FROM maas.secrets ORDER BY name;

-- a call is refused before connecting when the host is no longer allowed
SELECT maas_deploy('r_ann_model', 1);
SELECT maas_grant('r_ann_model', 'regress_maas_remote_ben');
SET maas.remote_allowed_hosts = 'other.internal';
SET ROLE regress_maas_remote_ben;
SELECT maas_predict('r_ann_model', ARRAY[1, 2, 3]::real[]);
SELECT * FROM maas_predict_batch('r_ann_model', 'SELECT 1, ARRAY[1, 2, 3]::real[]');
RESET ROLE;
-- and fails naming the secret once its owner dropped it
SET maas.remote_allowed_hosts = 'models.internal:8080';
SET ROLE regress_maas_remote_ann;
SELECT maas_secret_drop('r_ann_key');
SELECT maas_secret_drop('r_ann_key');
SET ROLE regress_maas_remote_ben;
SELECT maas_predict('r_ann_model', ARRAY[1, 2, 3]::real[]);
RESET ROLE;
-- the failed calls are errors of the version in maas.stats
SELECT model, version, calls, rows, errors FROM maas.stats WHERE model = 'r_ann_model';

-- weights from a URL: the digest and the URL are checked before anything
SELECT maas_register_url('r_url', 'mlp', 'https://models.internal/w.safetensors', 'sha256:abc');
SELECT maas_register_url('r_url', 'mlp', 'https://models.internal/w.safetensors', NULL);
SELECT maas_register_url('r_url', 'mlp', 'https://weights.example.org/w.safetensors', repeat('ab', 32));
SELECT maas_register_url('r_url', 'mlp', 'file:///var/lib/postgresql/w.safetensors', repeat('ab', 32));
SELECT maas_register_url('r_url', 'mlp', 'ftp://models.internal/w.safetensors', repeat('ab', 32));
SET ROLE regress_maas_remote_ben;
SELECT maas_register_url('r_url', 'mlp', 'http://models.internal:8080/w.safetensors', repeat('ab', 32));
RESET ROLE;

-- clean up
SELECT maas_drop('r_fraud'), maas_drop('r_price'), maas_drop('r_ann_model'), maas_drop('r_ben_model');
SET ROLE regress_maas_remote_team;
SELECT maas_secret_drop('r_team_key');
RESET ROLE;
DROP TABLE r_price_export;
SELECT count(*) AS secrets_left FROM maas.secret;
RESET maas.remote_allowed_hosts;
REVOKE EXECUTE ON FUNCTION maas_register_remote(text, jsonb), maas_secret_set(text, text),
       maas_register(text, text, bytea, jsonb),
       maas_secret_drop(text), maas_deploy(text, integer), maas_drop(text, integer),
       maas_export(text, integer)
  FROM regress_maas_remote_ann, regress_maas_remote_ben, regress_maas_remote_team;
DROP ROLE regress_maas_remote_ann, regress_maas_remote_ben, regress_maas_remote_team;
