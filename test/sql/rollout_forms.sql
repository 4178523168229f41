-- Routing of every call form while a canary runs: the jsonb, json and text
-- (JSON) forms route an object by its "key", as the row form routes a row;
-- text models (maas_generate, maas_embed, maas_predict on text) route by
-- call, and maas_generate by a "key" parameter.
--
-- Model "fo" is a 1-feature linear regression whose version n answers n.
CREATE FUNCTION fo_safetensors(b real) RETURNS bytea
LANGUAGE plpgsql AS $$
DECLARE
	header bytea := convert_to('{"w":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},'
							   '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 'UTF8');
	le bytea := substr(float4send(b), 4, 1) || substr(float4send(b), 3, 1) ||
				substr(float4send(b), 2, 1) || substr(float4send(b), 1, 1);
BEGIN
	header := header || convert_to(repeat(' ', (8 - length(header) % 8) % 8), 'UTF8');
	RETURN substr(int8send(length(header)::bigint), 8, 1) || '\x00000000000000'::bytea
		   || header || '\x00000000'::bytea || le;
END
$$;
SELECT maas_register('fo', 'linear', fo_safetensors(v),
	'{"task": "regression", "n_features": 1,
	  "inputs": [{"name": "x", "kind": "number", "mean": 0}],
	  "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}') AS version
  FROM generate_series(1, 2) v;
SELECT maas_deploy('fo', 1);
CREATE TABLE fo_rows AS SELECT g AS customer_id, 0::real AS x FROM generate_series(1, 2000) g;
SELECT maas_deploy('fo', 2, '{"strategy": "canary", "fraction": 0.3, "key": "customer_id"}');

-- a JSON object goes where its row goes: jsonb, json, text, the key as a
-- number or as a string
SELECT count(*) FILTER (WHERE maas_predict('fo', r) = 2) AS on_canary,
       count(*) FILTER (WHERE maas_predict('fo', to_jsonb(r)) <> maas_predict('fo', r)) AS jsonb_differs,
       count(*) FILTER (WHERE maas_predict('fo', to_json(r)) <> maas_predict('fo', r)) AS json_differs,
       count(*) FILTER (WHERE maas_predict('fo', to_jsonb(r)::text) <> maas_predict('fo', r)) AS text_differs,
       count(*) FILTER (WHERE maas_predict('fo', jsonb_build_object('customer_id', r.customer_id::text, 'x', 0))
                              <> maas_predict('fo', r)) AS string_key_differs,
       count(*) FILTER (WHERE maas_route('fo', r.customer_id::text) <> maas_predict('fo', to_jsonb(r))) AS route_differs
  FROM fo_rows r;
-- maas_predict_json says which version answered
SELECT count(*) FILTER (WHERE (maas_predict_json('fo', to_jsonb(r))::jsonb->>'version')::int
                              <> maas_route('fo', r.customer_id::text)) AS json_answer_differs
  FROM fo_rows r;
-- a JSON null key stays on the live version; a boolean hashes as t or f
SELECT maas_predict('fo', '{"customer_id": null, "x": 0}'::jsonb) AS null_key,
       maas_predict('fo', '{"customer_id": true, "x": 0}'::jsonb) = maas_route('fo', 't') AS true_as_t;
-- an array has no key: by call, about 30% of calls
SELECT abs(avg((maas_predict('fo', '[0]'::jsonb) = 2)::int) - 0.3) < 0.02 AS by_call_share
  FROM generate_series(1, 20000);
-- exact errors
SELECT maas_predict('fo', '{"x": 0}'::jsonb);
SELECT maas_predict('fo', '{"customer_id": [1], "x": 0}'::json);
SELECT maas_predict('fo', '{"customer_id": {"id": 1}, "x": 0}');
-- a canary without a key routes objects by call
SELECT maas_deploy('fo', 1);
SELECT maas_deploy('fo', 2, '{"strategy": "canary", "fraction": 0.3}');
SELECT abs(avg((maas_predict('fo', '{"x": 0}'::jsonb) = 2)::int) - 0.3) < 0.02 AS by_call_share
  FROM generate_series(1, 20000);
SELECT maas_deploy('fo', 1);

-- text models
\set ECHO none
\set gpt2_w `base64 -w0 test/fixtures/text/tiny_gpt2/model.safetensors`
\set gpt2_c `cat test/fixtures/text/tiny_gpt2/config.json`
\set gpt2_vocab `cat test/fixtures/text/tiny_gpt2/vocab.json`
\set gpt2_merges `cat test/fixtures/text/tiny_gpt2/merges.txt`
\set bert_w `base64 -w0 test/fixtures/text/tiny_bert/model.safetensors`
\set bert_c `cat test/fixtures/text/tiny_bert/config.json`
\set bert_vocab `cat test/fixtures/text/tiny_bert/vocab.txt`
\set bert_tok `cat test/fixtures/text/tiny_bert/tokenizer_config.json`
\set ECHO all
SELECT maas_register('fo_writer', 'gpt2', decode(:'gpt2_w', 'base64'),
         :'gpt2_c'::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
           'vocab', :'gpt2_vocab'::jsonb, 'merges', :'gpt2_merges'))) AS version
  FROM generate_series(1, 2);
SELECT maas_register('fo_reader', 'bert', decode(:'bert_w', 'base64'),
         :'bert_c'::jsonb || jsonb_build_object('tokenizer',
           :'bert_tok'::jsonb || jsonb_build_object('vocab', :'bert_vocab'))) AS version
  FROM generate_series(1, 2);
SELECT maas_deploy('fo_writer', 1), maas_deploy('fo_reader', 1);
SELECT maas_deploy('fo_writer', 2, '{"strategy": "canary", "fraction": 0.5}');
SELECT maas_deploy('fo_reader', 2, '{"strategy": "canary", "fraction": 0.5}');
SELECT maas_stats_reset('fo_writer') IS NOT NULL AS reset, maas_stats_reset('fo_reader') IS NOT NULL AS reset;
-- by call: each version answers about half the calls (maas.stats counts them)
SELECT count(maas_generate('fo_writer', 'The database is', '{"max_new_tokens": 1}')) FROM generate_series(1, 200);
SELECT count(maas_embed('fo_reader', 'a good film')) FROM generate_series(1, 200);
SELECT count(maas_predict_label('fo_reader', 'a good film')) FROM generate_series(1, 200);
SELECT model, sum(calls) AS calls, bool_and(calls BETWEEN 60 AND 340) AS both_answer
  FROM maas.stats WHERE model IN ('fo_writer', 'fo_reader') GROUP BY model ORDER BY model;
-- maas_generate by a "key" parameter: the keys maas_route sends to the canary
SELECT maas_stats_reset('fo_writer') IS NOT NULL AS reset;
SELECT maas_deploy('fo_writer', 1);
SELECT maas_deploy('fo_writer', 2, '{"strategy": "canary", "fraction": 0.3, "key": "user_id"}');
SELECT count(maas_generate('fo_writer', 'The database is',
                           jsonb_build_object('max_new_tokens', 1, 'key', g)))
  FROM generate_series(1, 300) g;
SELECT count(maas_generate('fo_writer', 'The database is',
                           jsonb_build_object('max_new_tokens', 1, 'key', 'user-' || g)))
  FROM generate_series(1, 300) g;
SELECT (SELECT calls FROM maas.stats WHERE model = 'fo_writer' AND version = 2) =
       (SELECT count(*) FILTER (WHERE maas_route('fo_writer', g::text) = 2)
             + count(*) FILTER (WHERE maas_route('fo_writer', 'user-' || g) = 2)
          FROM generate_series(1, 300) g) AS canary_calls_as_routed,
       (SELECT sum(calls) FROM maas.stats WHERE model = 'fo_writer') AS calls;
SELECT maas_generate('fo_writer', 'The database is', '{"key": [1]}');
-- a text model has no shadow
SELECT maas_deploy('fo_writer', 1);
SELECT maas_deploy('fo_writer', 2, '{"strategy": "shadow"}');
SELECT maas_deploy('fo_reader', 1);
SELECT maas_deploy('fo_reader', 2, '{"strategy": "shadow"}');
-- without a rollout, a "key" is checked all the same
SELECT maas_generate('fo_writer', 'The database is', '{"key": {"user": 1}}');
SELECT maas_generate('fo_writer', 'The database is', '{"max_new_tokens": 1, "key": "u1"}') IS NOT NULL AS generated;

SELECT maas_drop('fo'), maas_drop('fo_writer'), maas_drop('fo_reader');
DROP TABLE fo_rows;
DROP FUNCTION fo_safetensors(real);
