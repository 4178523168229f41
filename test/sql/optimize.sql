-- maas_quantize and maas_prune (doc/optimization.md): each makes a new
-- version with its parent recorded, measured against the parent on the
-- same rows, that serves on every path and exports and registers again.
\i test/fixtures/load.psql
SET maas.training_notices = off;
CREATE TEMP TABLE digits (id int PRIMARY KEY, pixels real[], digit int);
\copy digits FROM 'test/fixtures/digits.csv' WITH (FORMAT csv, HEADER)
CREATE TEMP VIEW digits_src AS SELECT pixels, digit FROM digits ORDER BY id;

-- a digits MLP trained in maas (64-128-10): its holdout is 359 rows
SELECT version, (metrics->>'accuracy')::float8 > 0.95 AS accurate, metrics->>'n_test' AS n_test
  FROM maas_train('q_digits', 'digits_src', 'digit', 'mlp',
                  '{"hidden": [128], "epochs": 30, "seed": 1}');

-- int8: measured on the parent's holdout (the same 359 rows), agreeing on
-- at least 99% of them, accuracy within half a point, under half the bytes;
-- the 10-output layer stays float32 (narrower than min_outputs 64)
SELECT model, version, parent_version, method,
       bytes_after < bytes_before / 2 AS smaller,
       metrics_before->>'n_test' AS rows_before, metrics_after->>'n_test' AS rows_after,
       abs((metrics_after->>'accuracy')::float8 - (metrics_before->>'accuracy')::float8) <= 0.005 AS accuracy_kept,
       agreement >= 0.99 AS agrees, max_abs_diff < 0.1 AS close,
       speed_before > 0 AND speed_after > 0 AS timed, deployed
  FROM maas_quantize('q_digits', 1, 'int8');
-- stored: lineage, dtype, the metrics on the same holdout, the record
SELECT version, parent_version, dtype, metrics->>'n_test' AS n_test,
       metrics->'optimization'->>'method' AS method,
       metrics->'optimization'->>'evaluated_on' AS evaluated_on,
       (metrics->'optimization'->>'top1_agreement')::float8 >= 0.99 AS agrees
  FROM maas.versions WHERE model = 'q_digits' ORDER BY version;
SELECT v.config->'quantization'->>'method' AS method,
       v.config->'quantization'->>'parent_version' AS parent,
       v.config->'quantization'->>'layers' AS layers,
       v.config->'quantization'->>'float_layers' AS float_layers,
       v.train_stats = p.train_stats AS same_train_stats
  FROM maas.version v JOIN maas.version p ON p.model_id = v.model_id AND p.version = 1
 WHERE v.model_id = (SELECT model_id FROM maas.model WHERE name = 'q_digits') AND v.version = 2;

-- serving: per row (array and row form), batch; the same answer as the
-- parent on at least 99% of all 1797 rows
SELECT count(*) FILTER (WHERE maas_predict('q_digits', 1, pixels) = maas_predict('q_digits', 2, pixels))
       >= 0.99 * count(*) AS agree_all_rows
  FROM digits;
SELECT maas_deploy('q_digits', 2);
SELECT count(*) FILTER (WHERE maas_predict('q_digits', d) = maas_predict('q_digits', 1, d.pixels))
       >= 0.99 * count(*) AS row_form_agrees
  FROM digits_src d;
SELECT count(*) = 1797 AS batch_rows,
       count(*) FILTER (WHERE b.prediction = maas_predict('q_digits', 1, d.pixels)) >= 0.99 * 1797 AS batch_agrees
  FROM maas_predict_batch('q_digits', 'SELECT id, pixels FROM digits') b JOIN digits d ON d.id = b.id;
SELECT round(sum(p)::numeric, 3) AS proba_sum
  FROM unnest(maas_predict_proba('q_digits', (SELECT pixels FROM digits WHERE id = 7))) p;
-- statistics and drift count the quantized version as any other
SELECT calls > 0 AS counted FROM maas.stats WHERE model = 'q_digits' AND version = 2;
SELECT count(*) > 0 AS drift_rows FROM maas.drift WHERE model = 'q_digits' AND version = 2;

-- the exported file says what it is and registers again, serving the same
SELECT (config->'quantization'->>'method') AS method,
       maas_register('q_digits_copy', algorithm, weights) AS version
  FROM maas_export('q_digits', 2);
SELECT dtype, bytes = (SELECT bytes FROM maas.versions WHERE model = 'q_digits' AND version = 2) AS same_bytes
  FROM maas.versions WHERE model = 'q_digits_copy';
SELECT count(*) FILTER (WHERE maas_predict_proba('q_digits_copy', 1, pixels) = maas_predict_proba('q_digits', 2, pixels))
       = 1797 AS same_probabilities
  FROM digits;

-- bf16 and f16: half the bytes of the dense weights, the same answers
SELECT version, parent_version, method, bytes_after < bytes_before AS smaller,
       agreement >= 0.99 AS agrees, max_abs_diff < 0.01 AS close
  FROM maas_quantize('q_digits', '1', 'bf16');
SELECT version, method, agreement >= 0.99 AS agrees, max_abs_diff < 0.01 AS close
  FROM maas_quantize('q_digits', 1, 'f16');
SELECT version, dtype FROM maas.versions WHERE model = 'q_digits' AND version IN (3, 4) ORDER BY 1;
SELECT count(*) FILTER (WHERE maas_predict('q_digits', 3, pixels) = maas_predict('q_digits', 1, pixels))
       >= 0.99 * count(*) AS bf16_agrees
  FROM digits;

-- pruning: the smallest half of the weights set to zero (same size), or a
-- quarter of the hidden units removed (smaller dense layers)
SELECT version, parent_version, method, bytes_after = bytes_before AS same_size,
       metrics_after->>'n_test' AS n_test, agreement > 0.9 AS mostly_agrees
  FROM maas_prune('q_digits', 1, '{"sparsity": 0.5}');
SELECT (config->'pruning'->>'pruned')::int = (config->'pruning'->>'of')::int / 2 AS half_pruned,
       config->'pruning'->>'scope' AS scope
  FROM maas.version WHERE version = 5 AND model_id = (SELECT model_id FROM maas.model WHERE name = 'q_digits');
SELECT version, method, bytes_after < bytes_before * 0.8 AS smaller, agreement > 0.8 AS mostly_agrees
  FROM maas_prune('q_digits', 1, '{"sparsity": 0.25, "method": "units"}');
SELECT config->'pruning'->>'pruned' AS units_pruned, config->'pruning'->>'of' AS of_units,
       config->'layers'->1->>'weight' AS hidden_weight
  FROM maas.version WHERE version = 6 AND model_id = (SELECT model_id FROM maas.model WHERE name = 'q_digits');
-- half the hidden units removed, then fine-tuned for 5 epochs on the
-- training rows: better than without, near the parent
CREATE TEMP TABLE pruned_acc AS
SELECT (metrics_after->>'accuracy')::float8 AS acc, (metrics_before->>'accuracy')::float8 AS parent
  FROM maas_prune('q_digits', 1, '{"sparsity": 0.5, "method": "units"}');
SELECT version, method, (metrics_after->>'accuracy')::float8 > p.acc AS better_than_unfinetuned,
       (metrics_after->>'accuracy')::float8 >= p.parent - 0.03 AS near_parent,
       bytes_after < bytes_before * 0.6 AS smaller
  FROM maas_prune('q_digits', 1, '{"sparsity": 0.5, "method": "units", "finetune_epochs": 5}'), pruned_acc p;
SELECT config->'pruning'->>'finetune_epochs' AS finetune_epochs, config->'pruning'->>'pruned' AS pruned
  FROM maas.version WHERE version = 8 AND model_id = (SELECT model_id FROM maas.model WHERE name = 'q_digits');
-- a deeper MLP (64-32-16-10): every hidden layer loses its units, and the
-- layer after each reads fewer inputs (8 of 32 and 4 of 16 pruned)
SELECT version FROM maas_train('q_deep', 'digits_src', 'digit', 'mlp',
                               '{"hidden": [32, 16], "epochs": 10, "seed": 1}');
SELECT version, method, bytes_after < bytes_before * 0.8 AS smaller, agreement > 0.5 AS agrees
  FROM maas_prune('q_deep', 1, '{"sparsity": 0.25, "method": "units"}');
SELECT config->'pruning'->>'pruned' AS units_pruned, config->'pruning'->>'of' AS of_units,
       config->'pruning'->>'layers' AS layers,
       jsonb_path_query_array(config->'layers', '$[*] ? (@.op == "dense").weight') AS weights
  FROM maas.version WHERE version = 2 AND model_id = (SELECT model_id FROM maas.model WHERE name = 'q_deep');
SELECT count(*) FILTER (WHERE maas_predict_label('q_deep', 2, pixels) IS NOT NULL) AS served
  FROM digits;
-- a pruned version quantizes
SELECT version, parent_version, method, agreement > 0.95 AS agrees
  FROM maas_quantize('q_digits', 6, 'int8');

-- the deploy rule compares with the parent on the same rows
SELECT maas_deploy('q_digits', 1);
SELECT version, deployed FROM maas_quantize('q_digits', 1, 'int8', '{"deploy": "if_better"}');
SELECT deployed_version FROM maas.models WHERE model = 'q_digits';

-- a model registered from elsewhere: on the rows of a query given, or by
-- agreement on rows drawn at random
SELECT maas_register('q_reg', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT version, parent_version, metrics_before->>'n' AS rows, metrics_after->>'n' AS rows_after,
       abs((metrics_after->>'accuracy')::float8 - (metrics_before->>'accuracy')::float8) <= 0.01 AS accuracy_kept,
       agreement >= 0.95 AS agrees
  FROM maas_quantize('q_reg', 1, 'int8', '{"min_outputs": 8, "evaluate": "SELECT features, label FROM digits_test", "target": "label"}');
SELECT metrics->>'n' AS n, metrics->'optimization'->>'evaluated_on' AS evaluated_on
  FROM maas.versions WHERE model = 'q_reg' AND version = 2;
SELECT version, metrics_before IS NULL AS no_metrics, agreement >= 0.95 AS agrees
  FROM maas_quantize('q_reg', 1, 'bf16');
SELECT metrics->'optimization'->>'evaluated_on' AS evaluated_on, metrics->'optimization'->>'rows' AS rows
  FROM maas.versions WHERE model = 'q_reg' AND version = 3;

-- text models: GPT-2's projections, MLP and tied LM head in int8 (the
-- embedding reads the LM head's int8 table, so the float32 one goes), on
-- random token ids; generation and logits serve from the new version
\set gpt2_w `base64 -w0 test/fixtures/text/tiny_gpt2/model.safetensors`
\set gpt2_c `cat test/fixtures/text/tiny_gpt2/config.json`
\set gpt2_vocab `cat test/fixtures/text/tiny_gpt2/vocab.json`
\set gpt2_merges `cat test/fixtures/text/tiny_gpt2/merges.txt`
SELECT maas_register('q_writer', 'gpt2', decode(:'gpt2_w', 'base64'),
         :'gpt2_c'::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
           'vocab', :'gpt2_vocab'::jsonb, 'merges', :'gpt2_merges')));
SELECT maas_deploy('q_writer', 1);
CREATE TEMP TABLE writer_logits AS SELECT maas_logits('q_writer', maas_tokenize('q_writer', 'The database is')) AS l;
SELECT version, parent_version, method, bytes_after < 0.4 * bytes_before AS under_40_percent,
       agreement >= 0.8 AS mostly_agrees, speed_before > 0 AS tokens_per_second
  FROM maas_quantize('q_writer', 'latest', 'int8', '{"min_outputs": 8}');
SELECT config->'quantization'->>'layers' AS layers, config->'quantization'->>'tied_embeddings' AS tied,
       config->'layers'->0->>'tokens' AS tokens
  FROM maas.version WHERE version = 2 AND model_id = (SELECT model_id FROM maas.model WHERE name = 'q_writer');
SELECT maas_deploy('q_writer', 2);
SELECT (SELECT max(abs(a - b)) FROM unnest(maas_logits('q_writer', maas_tokenize('q_writer', 'The database is')), l) AS u(a, b)) < 0.5
       AS logits_close,
       length(maas_generate('q_writer', 'The database is', '{"max_new_tokens": 5}')) > 0 AS generates
  FROM writer_logits;
SELECT version, method, bytes_after < bytes_before AS smaller, agreement >= 0.8 AS mostly_agrees
  FROM maas_quantize('q_writer', 1, 'bf16');
SELECT version, dtype FROM maas.versions WHERE model = 'q_writer' ORDER BY version;

-- bad input: exact errors, and nothing stored
SELECT * FROM maas_quantize('q_digits', 1, 'int4');
SELECT * FROM maas_quantize('q_digits', 2, 'int8');
SELECT * FROM maas_quantize('q_digits', 2, 'bf16');
SELECT * FROM maas_prune('q_digits', 2, '{"sparsity": 0.5}');
SELECT * FROM maas_prune('q_digits', 1, '{"sparsity": 1}');
SELECT * FROM maas_prune('q_digits', 1, '{"sparsity": -0.1}');
SELECT * FROM maas_prune('q_digits', 1, '{}');
SELECT * FROM maas_prune('q_digits', 1, '{"sparsity": 0.5, "method": "random"}');
SELECT * FROM maas_prune('q_digits', 1, '{"sparsity": 0.5, "finetune_epochs": 3}');
SELECT * FROM maas_prune('q_reg', 1, '{"sparsity": 0.5, "method": "units", "finetune_epochs": 3}');
SELECT * FROM maas_quantize('q_digits', 1, 'int8', '{"bits": 4}');
SELECT * FROM maas_quantize('q_digits', 1, 'int8', '{"evaluate": "SELECT 1"}');
SELECT * FROM maas_quantize('q_digits', 1, 'int8', '{"min_outputs": 100000}');
SELECT * FROM maas_quantize('q_digits', 99, 'int8');
SELECT * FROM maas_quantize('q_digits', 'newest', 'int8');
SELECT * FROM maas_quantize('q_digits', 0, 'int8');
SELECT * FROM maas_quantize('no_such_model', 1, 'int8');
SELECT * FROM maas_quantize(NULL, 1, 'int8');
SELECT * FROM maas_quantize('q_digits', NULL::int, 'int8');
SELECT * FROM maas_quantize('q_digits', 1, NULL);
SELECT * FROM maas_prune('q_digits', 1, NULL);
-- a model without dense layers
SELECT maas_register('q_nodense', 'custom', decode(:'digits_w', 'base64'),
       '{"task": "classification", "n_features": 64, "layers": [{"op": "standardize", "mean": "scaler.mean", "std": "scaler.std"}, {"op": "softmax"}]}');
SELECT * FROM maas_quantize('q_nodense', 1, 'int8');
SELECT * FROM maas_prune('q_nodense', 1, '{"sparsity": 0.5}');
SELECT model, count(*) AS versions FROM maas.versions
 WHERE model IN ('q_digits', 'q_reg', 'q_nodense') GROUP BY model ORDER BY model;

SELECT maas_drop('q_digits') AS q_digits, maas_drop('q_digits_copy') AS copy, maas_drop('q_reg') AS reg,
       maas_drop('q_nodense') AS nodense, maas_drop('q_writer') AS writer, maas_drop('q_deep') AS deep;
