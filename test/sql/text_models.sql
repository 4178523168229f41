-- Text models: the tiny GPT-2 and BERT of test/fixtures/text (made by
-- make_text_fixtures.py with random weights, in Hugging Face's layout),
-- registered from their own files and checked against the plain-torch
-- reference the script saved.
\set ECHO none
\set QUIET on
\set gpt2_w `base64 -w0 test/fixtures/text/tiny_gpt2/model.safetensors`
\set gpt2_w16 `base64 -w0 test/fixtures/text/tiny_gpt2/model.fp16.safetensors`
\set gpt2_wbf16 `base64 -w0 test/fixtures/text/tiny_gpt2/model.bf16.safetensors`
\set gpt2_c `cat test/fixtures/text/tiny_gpt2/config.json`
\set gpt2_vocab `cat test/fixtures/text/tiny_gpt2/vocab.json`
\set gpt2_merges `cat test/fixtures/text/tiny_gpt2/merges.txt`
\set gpt2_expect `cat test/fixtures/text/tiny_gpt2/expected.json`
\set bert_w `base64 -w0 test/fixtures/text/tiny_bert/model.safetensors`
\set bert_c `cat test/fixtures/text/tiny_bert/config.json`
\set bert_vocab `cat test/fixtures/text/tiny_bert/vocab.txt`
\set bert_tok `cat test/fixtures/text/tiny_bert/tokenizer_config.json`
\set bert_expect `cat test/fixtures/text/tiny_bert/expected.json`
CREATE TEMP TABLE gpt2_expect AS SELECT :'gpt2_expect'::jsonb AS e;
CREATE TEMP TABLE bert_expect AS SELECT :'bert_expect'::jsonb AS e;
CREATE TEMP TABLE prompts AS
  SELECT ord - 1 AS i, p->>'text' AS text, p
    FROM gpt2_expect, jsonb_array_elements(e->'prompts') WITH ORDINALITY AS t(p, ord);
CREATE TEMP TABLE reviews AS
  SELECT ord - 1 AS id, b->>'text' AS body, b
    FROM bert_expect, jsonb_array_elements(e->'batch') WITH ORDINALITY AS t(b, ord)
   WHERE b->'text_pair' = 'null';
CREATE FUNCTION pg_temp.max_abs_diff(a real[], b jsonb) RETURNS float8
LANGUAGE sql IMMUTABLE AS
$$ SELECT max(abs(x::float8 - (y #>> '{}')::float8))
     FROM unnest(a) WITH ORDINALITY AS u(x, i)
     JOIN jsonb_array_elements(b) WITH ORDINALITY AS v(y, j) ON i = j $$;
CREATE FUNCTION pg_temp.ids(j jsonb) RETURNS int[] LANGUAGE sql IMMUTABLE AS
$$ SELECT array_agg(x::int ORDER BY o) FROM jsonb_array_elements_text(j) WITH ORDINALITY AS t(x, o) $$;
\set QUIET off
\set ECHO all

-- GPT-2 as Hugging Face publishes it: model.safetensors, config.json and the tokenizer's files
SELECT maas_register('t_writer', 'gpt2', decode(:'gpt2_w', 'base64'),
         :'gpt2_c'::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
           'vocab', :'gpt2_vocab'::jsonb, 'merges', :'gpt2_merges')));
SELECT maas_deploy('t_writer', 'latest');
SELECT model, version, algorithm, task, n_features, n_outputs, dtype FROM maas.versions WHERE model = 't_writer';
SELECT config->>'architecture' AS architecture, config->>'input' AS input, config->>'output' AS output,
       jsonb_array_length(config->'layers') AS layers
  FROM maas.version v JOIN maas.model m USING (model_id) WHERE m.name = 't_writer';

-- the tokenizer gives the fixture's ids, and decodes them back
SELECT i, maas_tokenize('t_writer', text) = pg_temp.ids(p->'ids') AS same_ids,
       maas_detokenize('t_writer', maas_tokenize('t_writer', text)) = text AS round_trip
  FROM prompts ORDER BY i;

-- next-token logits after each prompt, against torch
SELECT i, pg_temp.max_abs_diff(maas_logits('t_writer', pg_temp.ids(p->'ids')), p->'last_logits') < 1e-4 AS logits_match
  FROM prompts ORDER BY i;

-- greedy generation: torch's tokens, decoded with U+FFFD where a character is cut
SELECT i, maas_generate('t_writer', text, '{"max_new_tokens": 20}') = p->>'greedy_text' AS greedy_matches
  FROM prompts ORDER BY i;
SELECT maas_generate('t_writer', 'The database is', '{"max_new_tokens": 5}');
-- over token ids: the ids torch generated
SELECT i, maas_generate_ids('t_writer', pg_temp.ids(p->'ids'), '{"max_new_tokens": 20}') = pg_temp.ids(p->'greedy') AS same_ids
  FROM prompts ORDER BY i;
SELECT maas_generate_ids('t_writer', '{447, 39}', '{"max_new_tokens": 3, "ignore_eos": true}');
-- three untyped literals resolve
SELECT maas_generate('t_writer', 'The database is', '{"max_new_tokens": 5}') = maas_generate('t_writer'::text, 'The database is'::text, '{"max_new_tokens": 5}'::jsonb) AS resolves;
-- the default is greedy too
SELECT maas_generate('t_writer', 'The database is') LIKE (SELECT left(p->>'greedy_text', 3) FROM prompts WHERE i = 0) || '%' AS default_greedy;

-- seeded sampling: the same seed gives the same text, run after run
SELECT count(DISTINCT maas_generate('t_writer', 'Hello world',
         '{"max_new_tokens": 12, "temperature": 0.8, "top_k": 40, "top_p": 0.95, "seed": 7}')) AS texts
  FROM generate_series(1, 5);
SELECT maas_generate('t_writer', 'Hello world', '{"max_new_tokens": 12, "temperature": 0.8, "seed": 7}')
    <> maas_generate('t_writer', 'Hello world', '{"max_new_tokens": 12, "temperature": 0.8, "seed": 8}') AS seeds_differ;
-- a stop string ends the text before it
SELECT maas_generate('t_writer', 'The database is', '{"max_new_tokens": 20, "stop": "77"}') AS stopped;
SELECT maas_generate('t_writer', 'The database is', '{"max_new_tokens": 20, "stop": ["x", "7"]}') AS stopped;

-- F16 and BF16 checkpoints (with the "transformer." prefix) register and generate as torch did
SELECT maas_register('t_writer16', 'gpt2', decode(:'gpt2_w16', 'base64'),
         :'gpt2_c'::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
           'vocab', :'gpt2_vocab'::jsonb, 'merges', :'gpt2_merges')));
SELECT maas_register('t_writer16', 'gpt2', decode(:'gpt2_wbf16', 'base64'),
         :'gpt2_c'::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
           'vocab', :'gpt2_vocab'::jsonb, 'merges', :'gpt2_merges')));
SELECT maas_deploy('t_writer16', 1);
SELECT i, maas_detokenize('t_writer16', pg_temp.ids(p->'greedy_fp16'))
          = maas_generate('t_writer16', text, '{"max_new_tokens": 20, "version": 1}') AS fp16_greedy,
       maas_detokenize('t_writer16', pg_temp.ids(p->'greedy_bf16'))
          = maas_generate('t_writer16', text, '{"max_new_tokens": 20, "version": 2}') AS bf16_greedy
  FROM prompts ORDER BY i;

-- bad input, each with its error, and nothing stored after any of them
SELECT count(*) AS versions_before FROM maas.versions;
SELECT maas_generate('t_writer', '');
SELECT maas_generate('t_writer', repeat('database ', 40));
SELECT maas_generate('t_writer', 'The database is', '{"max_new_tokens": 62}');
SELECT maas_generate('t_writer', 'The database is', '{"max_new_tokens": 0}');
SELECT maas_generate('t_writer', 'The database is', '{"temperature": -1}');
SELECT maas_generate('t_writer', 'The database is', '{"top_p": 0}');
SELECT maas_generate('t_writer', 'The database is', '{"top_p": 1.5}');
SELECT maas_generate('t_writer', 'The database is', '{"top_k": -1}');
SELECT maas_generate('t_writer', 'The database is', '{"beams": 4}');
SELECT maas_generate('t_writer', 'The database is', '{"version": 9}');
SELECT maas_generate('t_writer', 'The database is', '{"version": 0}');
SELECT maas_generate('t_writer', 'The database is', '[1]');
SELECT maas_generate('t_writer', 'The database is', '{"stop": [1]}');
SELECT maas_generate('t_writer', NULL);
SELECT maas_generate(NULL, 'x');
SELECT maas_generate('t_writer', 'x', NULL);
SELECT maas_generate('t_writer', convert_from('\xc3'::bytea, 'UTF8'));
SELECT maas_detokenize('t_writer', '{15496, 448}');
SELECT maas_detokenize('t_writer', '{1, NULL}');
SELECT maas_generate_ids('t_writer', '{}');
SELECT maas_generate_ids('t_writer', '{448}');
SELECT maas_generate_ids('t_writer', array_fill(1, ARRAY[60]), '{"max_new_tokens": 5}');
SELECT maas_logits('t_writer', '{-1}');
SELECT maas_logits('t_writer', '{}');
SELECT maas_logits('t_writer', array_fill(1, ARRAY[65]));
SELECT maas_predict('t_writer', 'The database is');
SELECT maas_embed('t_writer', 'The database is');
SELECT maas_tokenize('t_writer', NULL);
SELECT maas_predict('t_writer', ARRAY[1, 2]::real[]);
-- a checkpoint missing a tensor, a wrong head count, no tokenizer, an odd shape
SELECT maas_register('t_bad', 'gpt2', decode(:'gpt2_w', 'base64'),
         :'gpt2_c'::jsonb || '{"n_layer": 3}' || jsonb_build_object('tokenizer', jsonb_build_object(
           'vocab', :'gpt2_vocab'::jsonb, 'merges', :'gpt2_merges')));
SELECT maas_register('t_bad', 'gpt2', decode(:'gpt2_w', 'base64'),
         :'gpt2_c'::jsonb || '{"n_head": 5}' || jsonb_build_object('tokenizer', jsonb_build_object(
           'vocab', :'gpt2_vocab'::jsonb, 'merges', :'gpt2_merges')));
SELECT maas_register('t_bad', 'gpt2', decode(:'gpt2_w', 'base64'), :'gpt2_c');
SELECT maas_register('t_bad', 'gpt2', decode(:'gpt2_w', 'base64'),
         :'gpt2_c'::jsonb || jsonb_build_object('tokenizer', jsonb_build_object('vocab', '{"a": 0}'::jsonb, 'merges', '')));
SELECT maas_register('t_bad', 'bert', decode(:'gpt2_w', 'base64'), :'bert_c');
SELECT maas_register('t_bad', 'gpt2', decode(:'bert_w', 'base64'), :'gpt2_c');
SELECT count(*) AS versions_after FROM maas.versions;

-- a BERT sequence classifier: model.safetensors, config.json (with id2label), vocab.txt
SELECT maas_register('t_sentiment', 'bert', decode(:'bert_w', 'base64'),
         :'bert_c'::jsonb || jsonb_build_object('tokenizer',
           :'bert_tok'::jsonb || jsonb_build_object('vocab', :'bert_vocab')));
SELECT maas_deploy('t_sentiment', 'latest');
SELECT model, task, n_features, n_outputs FROM maas.versions WHERE model = 't_sentiment';
SELECT id, maas_predict_label('t_sentiment', body) AS label, b->>'label_text' AS torch_label,
       maas_predict('t_sentiment', body) = (b->>'label')::int AS same_class,
       pg_temp.max_abs_diff(maas_predict_proba('t_sentiment', body), b->'probabilities') < 1e-4 AS proba_match,
       pg_temp.max_abs_diff(maas_embed('t_sentiment', body), b->'mean_pooled') < 1e-4 AS embedding_match
  FROM reviews ORDER BY id;
SELECT maas_tokenize('t_sentiment', 'Café naïve?');
SELECT maas_detokenize('t_sentiment', maas_tokenize('t_sentiment', 'Café naïve?'));
SELECT maas_predict_label('t_sentiment', 1, 'x');

-- batched: many texts a forward pass, the same answers as one at a time
SELECT r.id, p.prediction = maas_predict('t_sentiment', r.body) AS same_class,
       pg_temp.max_abs_diff(p.proba, to_jsonb(maas_predict_proba('t_sentiment', r.body))) < 1e-5 AS same_proba
  FROM maas_predict_proba_batch('t_sentiment', 'SELECT id, body FROM reviews') p
  JOIN reviews r ON r.id = p.id ORDER BY r.id;
SELECT r.id, pg_temp.max_abs_diff(e.embedding, to_jsonb(maas_embed('t_sentiment', r.body))) < 1e-5 AS same_embedding
  FROM maas_embed_batch('t_sentiment', 'SELECT id, body FROM reviews', 2) e
  JOIN reviews r ON r.id = e.id ORDER BY r.id;
SELECT * FROM maas_predict_batch('t_sentiment', 'SELECT id, NULL::text FROM reviews');
SELECT * FROM maas_predict_batch('t_sentiment', 'SELECT id, ARRAY[1.0] FROM reviews');
SELECT * FROM maas_embed_batch('t_writer', 'SELECT 1, ''x''');

-- served and counted like every other model; generation counts its tokens
SELECT model, version, calls > 0 AS called, tokens
  FROM maas.stats WHERE model IN ('t_writer', 't_sentiment') ORDER BY 1, 2;

-- the export round trip keeps everything, tokenizer included
SELECT maas_register('t_writer_copy', algorithm, weights) FROM maas_export('t_writer');
SELECT maas_deploy('t_writer_copy', 1);
SELECT maas_generate('t_writer_copy', 'Hello world', '{"max_new_tokens": 8}')
     = maas_generate('t_writer', 'Hello world', '{"max_new_tokens": 8}') AS same_text;

SELECT maas_drop('t_writer');
SELECT maas_drop('t_writer16');
SELECT maas_drop('t_writer_copy');
SELECT maas_drop('t_sentiment');
