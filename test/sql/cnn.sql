-- maas_train(..., 'cnn', params): a small CNN trained on digits (8x8
-- images) and served per row, as a row, and in batches; a torch-trained
-- CNN served as torch answers; and every bad input, with nothing stored.
\i test/fixtures/load.psql
\i test/fixtures/load_train.psql
\set ECHO none
\set QUIET on
\set cnn_w `base64 -w0 test/fixtures/digits_cnn.safetensors`
\set cnn_c `cat test/fixtures/digits_cnn.json`
CREATE TEMP TABLE cnn_digits (id int PRIMARY KEY, pixels real[], digit int);
\copy cnn_digits FROM 'test/fixtures/digits.csv' WITH (FORMAT csv, HEADER)
CREATE TEMP TABLE cnn_expected (id int, class int, proba real[]);
\copy cnn_expected FROM 'test/fixtures/digits_cnn_expected.csv' WITH (FORMAT csv, HEADER)
-- a real[64] as the real[1][8][8] image it is
CREATE FUNCTION pg_temp.img(a real[]) RETURNS real[] LANGUAGE sql IMMUTABLE AS
$$ SELECT ('{{' || string_agg('{' || array_to_string(a[r * 8 + 1:r * 8 + 8], ',') || '}', ','
                              ORDER BY r) || '}}')::real[]
     FROM generate_series(0, 7) r $$;
ALTER TABLE cnn_digits ADD COLUMN image real[];
UPDATE cnn_digits SET image = pg_temp.img(pixels);
-- training: the first 500 rows; serving: the next 300
CREATE TEMP VIEW cnn_train AS SELECT pixels, digit FROM cnn_digits WHERE id <= 500 ORDER BY id;
CREATE TEMP VIEW cnn_train3 AS SELECT image, digit FROM cnn_digits WHERE id <= 500 ORDER BY id;
CREATE TEMP TABLE cnn_new AS SELECT * FROM cnn_digits WHERE id > 500 AND id <= 800;
\set QUIET off
\set ECHO all
SET maas.training_notices = off;

-- conv 3x3 (8 filters, padding 1) -> max pool 2 -> relu -> dense 32 -> 10
\set p '{"input_shape": [1, 8, 8], "conv": [{"filters": 8, "kernel": 3, "padding": 1}], "pool": 2, "hidden": [32], "epochs": 30, "batch_size": 32, "lr": 0.003, "seed": 7}'
SELECT model, version, task, algorithm, (metrics->>'n_test')::int AS n_test,
       (metrics->>'accuracy')::float8 > 0.9 AS accurate, deployed
  FROM maas_train('c_digits', 'cnn_train', 'digit', 'cnn', :'p');

-- a layer program of image ops, and the params as used
SELECT config->'input_shape' AS input_shape,
       jsonb_path_query_array(config, '$.layers[*].op') AS ops,
       config->'params'->'conv' AS conv
  FROM maas_export('c_digits');
SELECT algorithm, rows_train, rows_test, epochs, jsonb_array_length(loss) AS losses, outcome
  FROM maas.training_runs WHERE model = 'c_digits';

-- the same rows as real[1][8][8] make the same model
SELECT version, (metrics->>'accuracy')::float8 > 0.9 AS accurate
  FROM maas_train('c_digits3', 'cnn_train3', 'digit', 'cnn', :'p');

-- per row (real[64] and real[1][8][8]), as a row, in batches: the same
-- answers, from either training (batches run the convolutions over many
-- rows at once: float32 rounding apart); and right on rows never seen (an
-- mlp with the same dense layers gets 0.77 of them)
SELECT count(*) AS rows,
       count(*) FILTER (WHERE maas_predict('c_digits', n.image) = p.prediction) AS same_3d,
       count(*) FILTER (WHERE maas_predict('c_digits', r) = p.prediction) AS same_row_form,
       count(*) FILTER (WHERE b.prediction = p.prediction) AS same_batch,
       count(*) FILTER (WHERE maas_predict('c_digits3', n.pixels) = p.prediction) AS same_model_3d,
       max(pg_temp.max_abs_diff(b.proba, maas_predict_proba('c_digits', n.pixels))) < 1e-5 AS proba_same,
       max(pg_temp.max_abs_diff(maas_predict_proba('c_digits3', n.image),
                                maas_predict_proba('c_digits', n.pixels))) < 1e-6 AS proba_same_3d,
       avg((p.prediction = n.digit)::int) > 0.75 AS accurate
  FROM cnn_new n
  CROSS JOIN LATERAL (SELECT maas_predict('c_digits', n.pixels) AS prediction) p
  CROSS JOIN LATERAL (SELECT n.pixels) r
  JOIN maas_predict_proba_batch('c_digits', 'SELECT id, pixels FROM cnn_new', 64) b ON b.id = n.id;
SELECT (maas_evaluate('c_digits', 'SELECT pixels, digit FROM cnn_new', 'digit')->>'accuracy')::float8 > 0.75
       AS evaluate_accurate;
-- served like any model: counted, watched for drift, exported and
-- registered again as it is
SELECT calls > 0 AS called, rows >= 900 AS rows_counted
  FROM maas.stats WHERE model = 'c_digits' AND version = 1;
SELECT count(*) FILTER (WHERE kind = 'feature') AS features, bool_and(rows_seen >= 300) AS seen
  FROM maas.drift WHERE model = 'c_digits';
SELECT maas_register('c_copy', e.algorithm, e.weights, e.config) FROM maas_export('c_digits') e;
SELECT maas_deploy('c_copy', 1);
SELECT count(*) FILTER (WHERE maas_predict('c_copy', pixels) = maas_predict('c_digits', pixels)) AS same_copy
  FROM cnn_new;

-- a regression cnn: the digit as a number
SELECT task, (metrics->>'r2')::float8 > 0.6 AS fits
  FROM maas_train('c_reg', 'cnn_train', 'digit', 'cnn',
                  '{"task": "regression", "input_shape": [1, 8, 8], "conv": [{"filters": 4, "kernel": 3}],
                    "pool": 1, "hidden": [16], "epochs": 30, "lr": 0.003}');
SELECT 1 - sum((maas_predict('c_reg', pixels) - digit) ^ 2) / sum((digit - a.m) ^ 2) > 0.6 AS served_fits
  FROM cnn_new, (SELECT avg(digit) AS m FROM cnn_new) a;

-- early stopping on a validation split; two convolutions, stride, no pooling
SELECT (metrics->>'accuracy')::float8 > 0.6 AS learned
  FROM maas_train('c_early', 'cnn_train', 'digit', 'cnn',
                  '{"input_shape": [1, 8, 8], "conv": [{"filters": 4, "kernel": 3, "padding": 1, "pool": 1},
                                                       {"filters": 8, "kernel": 3, "stride": 2}],
                    "hidden": [16], "epochs": 200, "early_stopping": true, "patience": 3, "lr": 0.01}');
SELECT epochs < 200 AS stopped_early, jsonb_array_length(val_loss) = epochs AS validated,
       params->'early_stopping' AS early_stopping
  FROM maas.training_runs WHERE model = 'c_early';

-- number columns make an image too: iris' four measures as a 2x2 image
SELECT task, (metrics->>'accuracy')::float8 > 0.8 AS accurate
  FROM maas_train('c_iris', 'iris_src', 'species', 'cnn',
                  '{"input_shape": [1, 2, 2], "conv": [{"filters": 8, "kernel": 2}], "pool": 1,
                    "hidden": [16], "epochs": 100, "lr": 0.01}');
SELECT count(*) AS rows, avg((maas_predict_label('c_iris', i) = i.species)::int) > 0.8 AS accurate
  FROM iris i;

-- a CNN trained by torch (make_cnn_fixtures.py: conv, batchnorm, max and avg
-- pooling) answers as torch does on every fixture row
SELECT maas_register('c_torch', 'cnn', decode(:'cnn_w', 'base64'), :'cnn_c');
SELECT maas_deploy('c_torch', 1);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE maas_predict('c_torch', t.features) = e.class) AS same_class,
       max(pg_temp.max_abs_diff(maas_predict_proba('c_torch', t.features), e.proba)) < 1e-4 AS proba_as_torch,
       max(pg_temp.max_abs_diff(maas_predict_proba('c_torch', pg_temp.img(t.features)), e.proba)) < 1e-4
         AS proba_as_torch_3d
  FROM digits_test t JOIN cnn_expected e USING (id);
SELECT count(*) FILTER (WHERE b.prediction = e.class) AS batch_as_torch,
       max(pg_temp.max_abs_diff(b.proba, e.proba)) < 1e-4 AS batch_proba_as_torch
  FROM maas_predict_proba_batch('c_torch', 'SELECT id, features FROM digits_test', 7) b
  JOIN cnn_expected e USING (id);

-- serving: an image of the wrong dimensions
SELECT maas_predict('c_digits', '{{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16},{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16},{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16},{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}}'::real[]);
SELECT maas_predict('c_digits', array_fill(1, ARRAY[2, 8, 8])::real[]);
SELECT maas_predict('c_digits', array_fill(1, ARRAY[63])::real[]);

-- bad params and inputs: exact errors, nothing stored
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"epochs": 1}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8, 9]}');
SELECT * FROM maas_train('c_bad', 'cnn_train3', 'digit', 'cnn', '{"input_shape": [1, 4, 16]}');
SELECT * FROM maas_train('c_bad', 'SELECT substr(image::text, 2, length(image::text) - 2)::real[] AS i2, digit FROM cnn_digits',
                         'digit', 'cnn', '{"input_shape": [2, 4, 8]}');
SELECT * FROM maas_train('c_bad', 'SELECT image AS a, digit FROM cnn_digits', 'digit', 'cnn',
                         '{"input_shape": [4, 4, 4]}');
SELECT * FROM maas_train('c_bad', 'SELECT pixels, digit, ''x''::text AS tag FROM cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8, 0]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8, 8.5]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [10000, 10000, 10]}');
-- a kernel or a pooling window larger than the image it meets
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8], "conv": [{"filters": 4, "kernel": 9}]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8], "conv": [{"filters": 4, "kernel": 3}], "pool": 7}');
-- (the default: two 3x3 convolutions, each pooled 2x2, are for larger images)
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8, 8]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8], "conv": [{"filters": 4, "kernel": 5, "stride": 3}, {"filters": 4, "kernel": 3}], "pool": 1}');
-- absurd filters: out of range, or more memory than the setting allows
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8], "conv": [{"filters": 100000, "kernel": 3}]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8], "conv": [{"filters": 0, "kernel": 3}]}');
SET maas.max_training_memory = '64MB';
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8], "conv": [{"filters": 4096, "kernel": 3, "padding": 1, "pool": 1},
                                                              {"filters": 4096, "kernel": 3, "padding": 1}]}');
RESET maas.max_training_memory;
-- the shape of conv
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8, 8], "conv": []}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8, 8], "conv": {"filters": 4}}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8, 8], "conv": [3]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8], "conv": [{"filters": 4}]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8], "conv": [{"filters": 4, "kernel": 3, "dilation": 2}]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8], "conv": [{"filters": 4, "kernel": 3, "stride": 0}]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8, 8], "pool": 0}');
-- NULLs
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', NULL, '{"input_shape": [1, 8, 8]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": null}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, null, 8]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8], "conv": [{"filters": null, "kernel": 3}]}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', NULL);
SELECT * FROM maas_train('c_bad', 'SELECT NULL::real[] AS pixels, digit FROM cnn_train', 'digit', 'cnn',
                         '{"input_shape": [1, 8, 8]}');
SELECT * FROM maas_train('c_bad', 'SELECT CASE WHEN digit = 3 THEN NULL ELSE pixels END AS pixels, digit FROM cnn_train',
                         'digit', 'cnn', '{"input_shape": [1, 8, 8], "conv": [{"filters": 4, "kernel": 3}], "impute": "error"}');
-- epochs, and the params of other algorithms
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8, 8], "epochs": 0}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'cnn', '{"input_shape": [1, 8, 8], "l2": 0.1}');
SELECT * FROM maas_train('c_bad', 'cnn_train', 'digit', 'mlp', '{"input_shape": [1, 8, 8]}');
SELECT count(*) AS stored FROM maas.versions WHERE model = 'c_bad';
SELECT count(*) AS runs FROM maas.training_runs WHERE model = 'c_bad';

-- two training threads: each convolution's mini-batch is split by rows
-- over them (the second convolution has 8 input channels, so with oneDNN
-- it runs on the primitives of each thread's own slot); the same seed on
-- the same threads gives the same model again, and it learns
SET maas.training_threads = 2;
\set p2 '{"input_shape": [1, 8, 8], "conv": [{"filters": 8, "kernel": 3, "padding": 1}, {"filters": 8, "kernel": 3, "padding": 1}], "pool": 2, "hidden": [32], "epochs": 30, "batch_size": 32, "lr": 0.003, "seed": 7, "deploy": "always"}'
SELECT version, (metrics->>'accuracy')::float8 > 0.85 AS accurate
  FROM maas_train('c_two', 'cnn_train', 'digit', 'cnn', :'p2');
SELECT version, (metrics->>'accuracy')::float8 > 0.85 AS accurate
  FROM maas_train('c_two', 'cnn_train', 'digit', 'cnn', :'p2');
SELECT count(*) AS versions, count(DISTINCT sha256) AS models FROM maas.versions WHERE model = 'c_two';
RESET maas.training_threads;

-- maas.conv_algorithm: a second convolution of 16 channels in and out
-- runs on oneDNN's Winograd primitive in batches where the CPU has it
-- (auto, the default), on the direct one with direct; the same classes
-- either way, per row and in batches, the probabilities to float32
-- rounding
\set p16 '{"input_shape": [1, 8, 8], "conv": [{"filters": 16, "kernel": 3, "padding": 1}, {"filters": 16, "kernel": 3, "padding": 1}], "pool": 2, "hidden": [32], "epochs": 10, "batch_size": 32, "lr": 0.003, "seed": 7}'
SELECT version, (metrics->>'accuracy')::float8 > 0.8 AS accurate
  FROM maas_train('c_wide', 'cnn_train', 'digit', 'cnn', :'p16');
SHOW maas.conv_algorithm;
CREATE TEMP TABLE c_auto AS
SELECT * FROM maas_predict_proba_batch('c_wide', 'SELECT id, pixels FROM cnn_new', 64);
SET maas.conv_algorithm = direct;
CREATE TEMP TABLE c_direct AS
SELECT * FROM maas_predict_proba_batch('c_wide', 'SELECT id, pixels FROM cnn_new', 64);
SELECT count(*) AS rows, count(*) FILTER (WHERE a.prediction = d.prediction) AS same_class,
       count(*) FILTER (WHERE a.prediction = maas_predict('c_wide', n.pixels)) AS same_as_row,
       max(pg_temp.max_abs_diff(a.proba, d.proba)) < 1e-5 AS proba_close
  FROM c_auto a JOIN c_direct d USING (id) JOIN cnn_new n USING (id);
RESET maas.conv_algorithm;
-- only those two
SET maas.conv_algorithm = winograd;
DROP TABLE c_auto, c_direct;

SELECT maas_drop('c_digits'), maas_drop('c_digits3'), maas_drop('c_reg'), maas_drop('c_early'),
       maas_drop('c_torch'), maas_drop('c_copy'), maas_drop('c_iris'), maas_drop('c_two'),
       maas_drop('c_wide');
