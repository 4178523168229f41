-- Dropping and re-creating the extension, in a session that has models cached
\i test/fixtures/load.psql
SELECT maas_predict_label('digits', features) FROM digits_test WHERE id = 1;

-- each model owns a type in schema maas (doc/privileges.md): dropping the
-- extension drops the models, which takes CASCADE, as a schema does
\set VERBOSITY terse
DROP EXTENSION maas;
\set VERBOSITY default
SET client_min_messages = warning;
DROP EXTENSION maas CASCADE;
RESET client_min_messages;
SELECT count(*) FROM pg_namespace WHERE nspname = 'maas';
SELECT count(*) AS model_types FROM pg_type WHERE typname ~ '^_?model_[0-9]+$';
SELECT maas_predict('digits', ARRAY[1]::real[]);

-- the schema maas must not exist beforehand: nobody can prepare it for us
CREATE SCHEMA maas;
CREATE EXTENSION maas;
DROP SCHEMA maas;
CREATE EXTENSION maas;

-- version ids start over; the cache must not serve the old model for them
SELECT maas_register('digits', 'mlp', decode(:'digits_v2_w', 'base64'), :'digits_v2_c');
SELECT maas_deploy('digits', 1);
SELECT maas_predict_label('digits', features) FROM digits_test WHERE id = 1;
SELECT maas_drop('digits');
