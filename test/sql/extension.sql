-- Dropping and re-creating the extension, in a session that has models cached
\i test/fixtures/load.psql
SELECT maas_predict_label('digits', features) FROM digits_test WHERE id = 1;

DROP EXTENSION maas;
SELECT count(*) FROM pg_namespace WHERE nspname = 'maas';
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
