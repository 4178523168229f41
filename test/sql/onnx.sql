-- ONNX import (doc/onnx.md): the torch exports of test/fixtures/onnx
-- registered with maas_register(model, 'onnx', bytes [, config]), served,
-- and compared with torch's outputs on every fixture row; maas_onnx_inspect;
-- bad files refused with their error, nothing stored.
\set ECHO none
\set QUIET on
\set mlp `base64 -w0 test/fixtures/onnx/mlp.onnx`
\set mlp_tanh `base64 -w0 test/fixtures/onnx/mlp_tanh.onnx`
\set mlp_bn `base64 -w0 test/fixtures/onnx/mlp_bn.onnx`
\set cnn_bn `base64 -w0 test/fixtures/onnx/cnn_bn.onnx`
\set resblock `base64 -w0 test/fixtures/onnx/resblock.onnx`
\set gpt2 `base64 -w0 test/fixtures/onnx/gpt2_tiny.onnx`
\set bert `base64 -w0 test/fixtures/onnx/bert_tiny.onnx`
\set mlp_rows `cat test/fixtures/onnx/mlp.rows.json`
\set mlp_tanh_rows `cat test/fixtures/onnx/mlp_tanh.rows.json`
\set mlp_bn_rows `cat test/fixtures/onnx/mlp_bn.rows.json`
\set cnn_bn_rows `cat test/fixtures/onnx/cnn_bn.rows.json`
\set resblock_rows `cat test/fixtures/onnx/resblock.rows.json`
\set gpt2_rows `cat test/fixtures/onnx/gpt2_tiny.rows.json`
\set gpt2_vocab `cat test/fixtures/text/tiny_gpt2/vocab.json`
\set gpt2_merges `cat test/fixtures/text/tiny_gpt2/merges.txt`
\set bert_vocab `cat test/fixtures/text/tiny_bert/vocab.txt`
\set bad_ok '\\x080812096d6161732d746573743a4a0a0f0a01781201791a0172220452656c7512036261645a180a017812130a110801120d0a07120562617463680a02080262180a017912130a110801120d0a07120562617463680a02080242040a00100d'
\set bad_unknown '\\x080812096d6161732d746573743a4a0a0f0a01781201791a0163220443656c7512036261645a180a017812130a110801120d0a07120562617463680a02080262180a017912130a110801120d0a07120562617463680a02080242040a00100d'
\set bad_rawbad '\\x080812096d6161732d746573743a680a140a01780a01771201791a016d22064d61744d756c12036261642a170802080210014201774a0c0000000000000000000000005a180a017812130a110801120d0a07120562617463680a02080262180a017912130a110801120d0a07120562617463680a02080242040a00100d'
\set bad_ext '\\x080812096d6161732d746573743a750a140a01780a01771201791a016d22064d61744d756c12036261642a240802080210014201776a170a086c6f636174696f6e120b776569676874732e62696e70015a180a017812130a110801120d0a07120562617463680a02080262180a017912130a110801120d0a07120562617463680a02080242040a00100d'
\set bad_cyc '\\x080812096d6161732d746573743a720a100a01621201611a027231220452656c750a100a01611201621a027232220452656c750a130a01780a01611201791a03616464220341646412036261645a180a017812130a110801120d0a07120562617463680a02080262180a017912130a110801120d0a07120562617463680a02080242040a00100d'
CREATE TEMP TABLE onnx_rows AS
  SELECT name, ord AS row, r
    FROM (VALUES ('o_mlp', :'mlp_rows'::jsonb), ('o_mlp_tanh', :'mlp_tanh_rows'::jsonb),
                 ('o_mlp_bn', :'mlp_bn_rows'::jsonb), ('o_cnn', :'cnn_bn_rows'::jsonb),
                 ('o_resblock', :'resblock_rows'::jsonb), ('o_gpt2', :'gpt2_rows'::jsonb)) AS f(name, j),
         jsonb_array_elements(j->'rows') WITH ORDINALITY AS t(r, ord);
CREATE FUNCTION pg_temp.reals(j jsonb) RETURNS real[] LANGUAGE sql IMMUTABLE AS
$$ SELECT array_agg(x::real ORDER BY o) FROM jsonb_array_elements_text(j) WITH ORDINALITY AS t(x, o) $$;
CREATE FUNCTION pg_temp.ints(j jsonb, n int) RETURNS int[] LANGUAGE sql IMMUTABLE AS
$$ SELECT array_agg(x::int ORDER BY o) FROM jsonb_array_elements_text(j) WITH ORDINALITY AS t(x, o) WHERE o <= n $$;
-- torch's outputs as probabilities: softmax of logits (or of log-probabilities)
CREATE FUNCTION pg_temp.softmax(j jsonb) RETURNS float8[] LANGUAGE sql IMMUTABLE AS
$$ WITH v AS (SELECT x::float8 AS x, o FROM jsonb_array_elements_text(j) WITH ORDINALITY AS t(x, o)),
        m AS (SELECT max(x) AS m FROM v),
        s AS (SELECT sum(exp(x - m)) AS s FROM v, m)
   SELECT array_agg(exp(x - m) / s ORDER BY o) FROM v, m, s $$;
CREATE FUNCTION pg_temp.max_abs_diff(a real[], b float8[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN cardinality(a) = cardinality(b) THEN
     (SELECT max(abs(x::float8 - y)) FROM unnest(a, b) AS u(x, y)) END $$;
CREATE FUNCTION pg_temp.argmax(j jsonb) RETURNS int LANGUAGE sql IMMUTABLE AS
$$ SELECT (o - 1)::int FROM jsonb_array_elements_text(j) WITH ORDINALITY AS t(x, o)
    ORDER BY x::float8 DESC, o LIMIT 1 $$;
\set QUIET off
\set ECHO all

-- what a model uses, before registering it: every operator, its first node, whether maas translates it
SELECT * FROM maas_onnx_inspect(decode(:'cnn_bn', 'base64'));
SELECT op, nodes, supported FROM maas_onnx_inspect(decode(:'bert', 'base64')) ORDER BY op;
SELECT op, supported FROM maas_onnx_inspect(:'bad_unknown'::bytea);

-- register the feature models: the config is derived from the graph
SELECT maas_register('o_mlp', 'onnx', decode(:'mlp', 'base64'));
SELECT maas_register('o_mlp_tanh', 'onnx', decode(:'mlp_tanh', 'base64'));
SELECT maas_register('o_mlp_bn', 'onnx', decode(:'mlp_bn', 'base64'));
SELECT maas_register('o_cnn', 'onnx', decode(:'cnn_bn', 'base64'), '{"labels": ["a", "b", "c"]}');
SELECT maas_register('o_resblock', 'onnx', decode(:'resblock', 'base64'));
SELECT model, version, algorithm, task, n_features, n_outputs, dtype
  FROM maas.versions WHERE model LIKE 'o\_%' ORDER BY model;
-- the layer programs: batch norms folded into the convolutions, flatten and dropout no layer
SELECT m.name, jsonb_path_query_array(v.config, '$.layers[*].op') AS ops,
       v.config->'input_shape' AS input_shape, v.config->'labels' AS labels
  FROM maas.version v JOIN maas.model m USING (model_id) WHERE m.name LIKE 'o\_%' ORDER BY m.name;
SELECT maas_deploy(name, 'latest') FROM (VALUES ('o_mlp'), ('o_mlp_tanh'), ('o_mlp_bn'), ('o_cnn'), ('o_resblock')) AS t(name);

-- every fixture row against torch: probabilities within 1e-4 (torch's logits through a softmax;
-- mlp ends with its own softmax), the same class, the regression's value
SELECT name, count(*) AS rows,
       max(pg_temp.max_abs_diff(maas_predict_proba(name, pg_temp.reals(r->'x')),
                                CASE WHEN name = 'o_mlp' THEN pg_temp.reals(r->'y')::float8[]
                                     ELSE pg_temp.softmax(r->'y') END)) < 1e-4 AS proba_match,
       bool_and(maas_predict(name, pg_temp.reals(r->'x')) = pg_temp.argmax(r->'y')) AS same_class
  FROM onnx_rows WHERE name IN ('o_mlp', 'o_mlp_tanh', 'o_cnn', 'o_resblock')
 GROUP BY name ORDER BY name;
SELECT count(*) AS rows,
       max(abs(maas_predict('o_mlp_bn', pg_temp.reals(r->'x')) - (r->'y'->>0)::float8)) < 1e-4 AS value_match
  FROM onnx_rows WHERE name = 'o_mlp_bn';
SELECT bool_and(maas_predict_label('o_cnn', pg_temp.reals(r->'x')) =
                (ARRAY['a', 'b', 'c'])[pg_temp.argmax(r->'y') + 1]) AS labels_match
  FROM onnx_rows WHERE name = 'o_cnn';

-- the tiny GPT-2, with the tokenizer merged into the derived config: next-token logits within 1e-4
SELECT maas_register('o_gpt2', 'onnx', decode(:'gpt2', 'base64'),
         jsonb_build_object('tokenizer', jsonb_build_object('vocab', :'gpt2_vocab'::jsonb,
                                                            'merges', :'gpt2_merges')));
SELECT maas_deploy('o_gpt2', 'latest');
SELECT task, config->>'input' AS input, config ? 'tokenizer' AS has_tokenizer
  FROM maas.version v JOIN maas.model m USING (model_id) WHERE m.name = 'o_gpt2';
SELECT count(*) AS rows,
       max(pg_temp.max_abs_diff(maas_logits('o_gpt2', pg_temp.ints(r->'ids', (r->>'length')::int)),
                                pg_temp.reals(r->'y')::float8[])) < 1e-4 AS logits_match
  FROM onnx_rows WHERE name = 'o_gpt2';

-- the tiny BERT classifier with its WordPiece vocabulary; it classifies text
SELECT maas_register('o_bert', 'onnx', decode(:'bert', 'base64'),
         jsonb_build_object('tokenizer', jsonb_build_object('vocab', :'bert_vocab')));
SELECT task, n_outputs FROM maas.versions WHERE model = 'o_bert';
SELECT maas_deploy('o_bert', 'latest');
SELECT cardinality(maas_predict_proba('o_bert', 'the database is fast'::text)) AS classes;

-- an imported version exports as safetensors and its config, like any other
SELECT algorithm, length(weights) > 0 AS has_weights, config ? 'layers' AS has_layers
  FROM maas_export('o_cnn');

-- bad input: exact errors, and nothing stored
SELECT count(*) AS versions_before FROM maas.version;
SELECT maas_register('o_bad', 'onnx', substring(:'bad_ok'::bytea FROM 1 FOR 40));
SELECT maas_register('o_bad', 'onnx', set_byte(:'bad_ok'::bytea, 14, 127));
SELECT maas_register('o_bad', 'onnx', :'bad_rawbad'::bytea);
SELECT maas_register('o_bad', 'onnx', :'bad_unknown'::bytea);
SELECT maas_register('o_bad', 'onnx', :'bad_ext'::bytea);
SELECT maas_register('o_bad', 'onnx', :'bad_cyc'::bytea);
SELECT maas_register('o_bad', 'onnx', '\x'::bytea);
SELECT maas_register('o_bad', 'onnx', decode(:'mlp', 'base64'), '{"onnx": "y"}');
SELECT maas_register('o_bad', 'onnx', decode(:'mlp', 'base64'), '{"onnx": {"output": "nope"}}');
SELECT maas_register('o_bad', 'onnx', decode(:'mlp', 'base64'), '{"layers": []}');
SELECT * FROM maas_onnx_inspect(NULL);
SELECT * FROM maas_onnx_inspect(substring(:'bad_ok'::bytea FROM 1 FOR 40));
SELECT count(*) AS versions_after FROM maas.version;
SELECT count(*) AS bad_models FROM maas.model WHERE name = 'o_bad';
-- the well-formed model registers
SELECT maas_register('o_relu', 'onnx', :'bad_ok'::bytea);
SELECT task, n_features, n_outputs FROM maas.versions WHERE model = 'o_relu';

SELECT maas_drop(name) FROM maas.model WHERE name LIKE 'o\_%' ORDER BY name;
