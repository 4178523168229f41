-- Weights stored in chunks, and served from one shared copy per server
\i test/fixtures/load.psql

-- a model of several chunks, made here: 600,000 features, y = 0.5 * sum(x) + 1
CREATE FUNCTION pg_temp.le64(n bigint) RETURNS bytea LANGUAGE sql AS $$
  SELECT decode(string_agg(lpad(to_hex((n >> (8 * i)) & 255), 2, '0'), '' ORDER BY i), 'hex')
    FROM generate_series(0, 7) i $$;
CREATE FUNCTION pg_temp.wide_model(n int) RETURNS bytea LANGUAGE sql AS $$
  SELECT pg_temp.le64(length(j)) || convert_to(j, 'UTF8')
         || decode(repeat('0000003f', n), 'hex') || decode('0000803f', 'hex')
    FROM format('{"w":{"dtype":"F32","shape":[1,%s],"data_offsets":[0,%s]},'
                '"b":{"dtype":"F32","shape":[1],"data_offsets":[%s,%s]}}',
                n, 4 * n, 4 * n, 4 * n + 4) AS j $$;
CREATE TEMP VIEW chunks AS
  SELECT m.name AS model, v.version, c.chunk, length(c.data) AS bytes, c.data
    FROM maas.weight_chunk c JOIN maas.version v USING (version_id) JOIN maas.model m USING (model_id);

SELECT maas_register('w_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_register('w_wide', 'linear', pg_temp.wide_model(600000),
                     '{"task": "regression", "n_features": 600000, "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}');
SELECT maas_deploy('w_digits', 1), maas_deploy('w_wide', 1);

-- chunks of 8120 bytes (a row a page), the last one shorter, numbered from 0,
-- holding exactly the registered bytes
SELECT model, version, count(*) AS chunks, max(chunk) AS last,
       count(*) FILTER (WHERE bytes = 8120) AS full,
       (array_agg(bytes ORDER BY chunk DESC))[1] AS last_bytes
  FROM chunks WHERE model LIKE 'w\_%' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT c.model, sum(c.bytes) = v.bytes AS all_bytes,
       encode(sha256(string_agg(c.data, ''::bytea ORDER BY c.chunk)), 'hex') = v.sha256 AS same_sha256
  FROM chunks c JOIN maas.versions v USING (model, version)
 WHERE c.model LIKE 'w\_%' GROUP BY c.model, v.bytes, v.sha256 ORDER BY 1;
SELECT sha256 = encode(sha256(pg_temp.wide_model(600000)), 'hex') AS stored_as_given
  FROM maas.versions WHERE model = 'w_wide';
-- the row keeps none of them
SELECT count(*) FROM maas.version WHERE weights IS NOT NULL;

-- a table no longer as the extension made it (here an index of its own) is
-- written through SQL instead, one INSERT a chunk: the same rows
BEGIN;
CREATE INDEX regress_weight_chunk_extra ON maas.weight_chunk (chunk);
SELECT maas_register('w_spi', 'linear', pg_temp.wide_model(5000),
                     '{"task": "regression", "n_features": 5000, "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}');
SELECT count(*) AS chunks, max(chunk) AS last, sum(c.bytes) = v.bytes AS all_bytes,
       encode(sha256(string_agg(c.data, ''::bytea ORDER BY c.chunk)), 'hex') = v.sha256 AS same_sha256
  FROM chunks c JOIN maas.versions v USING (model, version)
 WHERE c.model = 'w_spi' GROUP BY v.bytes, v.sha256;
ROLLBACK;

-- nothing is loaded before a prediction; then one copy, mapped by this backend
SELECT count(*) FROM maas.loaded_models WHERE model LIKE 'w\_%';
SELECT maas_predict('w_wide', array_fill(1::real, ARRAY[600000]));
SELECT maas_predict('w_wide', array_fill(2::real, ARRAY[600000]));
SELECT model, version, state, bytes = (SELECT bytes FROM maas.versions WHERE model = 'w_wide') AS bytes,
       sha256 = (SELECT sha256 FROM maas.versions WHERE model = 'w_wide') AS sha256,
       users, in_use, loaded_from, load_ms >= 0 AS timed, loaded_at <= last_used AS used_after_load
  FROM maas.loaded_models WHERE model = 'w_wide';
-- a statement that is running uses it
SELECT (SELECT in_use FROM maas.loaded_models WHERE model = 'w_wide') AS in_use_while_predicting
  FROM (SELECT maas_predict('w_wide', array_fill(1::real, ARRAY[600000])) AS p) s WHERE p > 0;

-- the fixture predicts as before from its copy
SELECT bool_and(maas_predict_label('w_digits', t.features) = e.class::text) AS same_classes
  FROM digits_test t JOIN digits_expected e USING (id);

-- versions with the same bytes share one copy
SELECT maas_register('w_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT count(maas_predict('w_digits', 2, features)) FROM digits_test;
SELECT version, state, users FROM maas.loaded_models WHERE model = 'w_digits' ORDER BY version;
SELECT count(DISTINCT sha256) AS copies FROM maas.loaded_models WHERE model = 'w_digits';

-- maas_unload removes copies no statement is using; the next use loads again
SELECT maas_unload('w_wide');
SELECT count(*) FROM maas.loaded_models WHERE model = 'w_wide';
SELECT maas_predict('w_wide', array_fill(1::real, ARRAY[600000]));
SELECT state, users, loaded_from FROM maas.loaded_models WHERE model = 'w_wide';
SELECT maas_unload('w_digits', 7);
SELECT maas_unload('w_nosuch');
SELECT maas_unload(NULL, 1);

-- damaged chunks are found when the copy is made, and nothing is served from them
BEGIN;
DELETE FROM maas.weight_chunk WHERE version_id = (SELECT version_id FROM maas.version v
  JOIN maas.model m USING (model_id) WHERE m.name = 'w_wide') AND chunk = 1;
SELECT maas_unload('w_wide');
SELECT maas_predict('w_wide', array_fill(1::real, ARRAY[600000]));
ROLLBACK;
BEGIN;
INSERT INTO maas.weight_chunk SELECT version_id, 296, '\x00' FROM maas.version v
  JOIN maas.model m USING (model_id) WHERE m.name = 'w_wide';
SELECT maas_unload('w_wide');
SELECT maas_predict('w_wide', array_fill(1::real, ARRAY[600000]));
ROLLBACK;
BEGIN;
UPDATE maas.weight_chunk SET data = '\x00' WHERE chunk = 0;
ROLLBACK;
SELECT maas_unload('w_wide');
SELECT maas_predict('w_wide', array_fill(1::real, ARRAY[600000]));

-- text models serve from shared copies too: GPT-2 and BERT of test/fixtures/text
\set gpt2_w `base64 -w0 test/fixtures/text/tiny_gpt2/model.safetensors`
\set gpt2_c `cat test/fixtures/text/tiny_gpt2/config.json`
\set gpt2_vocab `cat test/fixtures/text/tiny_gpt2/vocab.json`
\set gpt2_merges `cat test/fixtures/text/tiny_gpt2/merges.txt`
\set bert_w `base64 -w0 test/fixtures/text/tiny_bert/model.safetensors`
\set bert_c `cat test/fixtures/text/tiny_bert/config.json`
\set bert_vocab `cat test/fixtures/text/tiny_bert/vocab.txt`
\set bert_tok `cat test/fixtures/text/tiny_bert/tokenizer_config.json`
SELECT maas_register('w_writer', 'gpt2', decode(:'gpt2_w', 'base64'),
         :'gpt2_c'::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
           'vocab', :'gpt2_vocab'::jsonb, 'merges', :'gpt2_merges')));
SELECT maas_register('w_reader', 'bert', decode(:'bert_w', 'base64'),
         :'bert_c'::jsonb || jsonb_build_object('tokenizer', :'bert_tok'::jsonb || jsonb_build_object(
           'vocab', :'bert_vocab')));
SELECT maas_deploy('w_writer', 1), maas_deploy('w_reader', 1);
SELECT count(*) FROM maas.loaded_models WHERE model IN ('w_writer', 'w_reader');
SELECT length(maas_generate('w_writer', 'The database is', '{"max_new_tokens": 4}')) > 0 AS generated,
       array_length(maas_embed('w_reader', 'a good film'), 1) > 0 AS embedded;
SELECT l.model, l.version, l.state, l.users, l.loaded_from, l.bytes = v.bytes AS all_bytes
  FROM maas.loaded_models l JOIN maas.versions v USING (model, version)
 WHERE l.model IN ('w_writer', 'w_reader') ORDER BY 1;
SELECT maas_drop('w_writer'), maas_drop('w_reader');

-- dropping a version removes its copy when the drop commits
BEGIN;
SELECT maas_drop('w_digits', 2);
SELECT count(*) FROM maas.loaded_models WHERE model = 'w_digits';
COMMIT;
SELECT count(*) FROM maas.loaded_models WHERE sha256 = (SELECT sha256 FROM maas.versions WHERE model = 'w_digits');
-- and the version that has the same bytes loads them again
SELECT maas_predict_label('w_digits', features) FROM digits_test WHERE id = 1;
SELECT version, state FROM maas.loaded_models WHERE model = 'w_digits';
-- a drop that rolls back keeps it
BEGIN;
SELECT maas_drop('w_wide');
ROLLBACK;
SELECT count(*) FROM maas.loaded_models WHERE model = 'w_wide';

-- a role that may use none of the models sees none of their copies, through
-- the view or the function behind it; a grant shows that model's copy
CREATE ROLE regress_maas_wstranger;
SET ROLE regress_maas_wstranger;
SELECT count(*) AS view_rows FROM maas.loaded_models;
SELECT count(*) AS function_rows FROM maas_loaded_models();
RESET ROLE;
SELECT maas_grant('w_wide', 'regress_maas_wstranger');
SET ROLE regress_maas_wstranger;
SELECT count(*) AS function_rows FROM maas_loaded_models();
SELECT model FROM maas.loaded_models;
RESET ROLE;
SELECT maas_revoke('w_wide', 'regress_maas_wstranger');
DROP ROLE regress_maas_wstranger;

SELECT maas_drop('w_digits'), maas_drop('w_wide');
SELECT count(*) FROM maas.weight_chunk c WHERE NOT EXISTS (SELECT FROM maas.version v WHERE v.version_id = c.version_id);
