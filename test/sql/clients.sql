-- What drivers send: every array type, untyped parameters, JSON in and out,
-- prepared statements; each form resolves without a cast and answers as
-- the real[] form does, with the same errors
\i test/fixtures/load.psql
SELECT maas_register('c_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_register('c_digits', 'mlp', decode(:'digits_v2_w', 'base64'), :'digits_v2_c');
SELECT maas_deploy('c_digits', 1);
SELECT maas_register('c_diabetes', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c');
SELECT maas_deploy('c_diabetes', 1);
-- the diabetes weights read by column name: a number, an array, a category
-- (one-hot, two slots), a number with a fill for NULL, and an array: 10 slots
SELECT maas_register('c_rows', 'linear', decode(:'diabetes_w', 'base64'),
  :'diabetes_c'::jsonb || '{"impute": "mean", "inputs": [
     {"name": "age", "kind": "number", "fill": 0.25},
     {"name": "bp", "kind": "array", "length": 3, "fill": [1, 2, 3]},
     {"name": "sex", "kind": "category", "categories": ["m", "f"]},
     {"name": "bmi", "kind": "number", "fill": -1},
     {"name": "s", "kind": "array", "length": 3, "fill": [0, 0, 0]}]}');
SELECT maas_deploy('c_rows', 1);
SELECT maas_register('c_strict', 'linear', decode(:'diabetes_w', 'base64'),
  :'diabetes_c'::jsonb || '{"impute": "error", "inputs": [
     {"name": "x", "kind": "array", "length": 10}]}');
SELECT maas_deploy('c_strict', 1);

-- every array type gives the real[] answers (the digits are small integers,
-- exact in every type), and so do text and JSON
SELECT count(*) AS rows,
       count(*) FILTER (WHERE maas_predict('c_digits', features::numeric[]) = r.v) AS num,
       count(*) FILTER (WHERE maas_predict('c_digits', features::int[]) = r.v) AS int4,
       count(*) FILTER (WHERE maas_predict('c_digits', features::bigint[]) = r.v) AS int8,
       count(*) FILTER (WHERE maas_predict('c_digits', features::smallint[]) = r.v) AS int2,
       count(*) FILTER (WHERE maas_predict('c_digits', features::float8[]) = r.v) AS float8,
       count(*) FILTER (WHERE maas_predict('c_digits', features::text) = r.v) AS text,
       count(*) FILTER (WHERE maas_predict('c_digits', to_jsonb(features)) = r.v) AS jsonb,
       count(*) FILTER (WHERE maas_predict('c_digits', to_json(features)) = r.v) AS json
  FROM digits_test, LATERAL (SELECT maas_predict('c_digits', features) AS v) r;
SELECT count(*) FILTER (WHERE maas_predict_proba('c_digits', features::numeric[]) = r.p) AS num,
       count(*) FILTER (WHERE maas_predict_proba('c_digits', features::int[]) = r.p) AS int4,
       count(*) FILTER (WHERE maas_predict_proba('c_digits', features::bigint[]) = r.p) AS int8,
       count(*) FILTER (WHERE maas_predict_proba('c_digits', features::smallint[]) = r.p) AS int2,
       count(*) FILTER (WHERE maas_predict_proba('c_digits', features::text) = r.p) AS text,
       count(*) FILTER (WHERE maas_predict_proba('c_digits', to_jsonb(features)) = r.p) AS jsonb,
       count(*) FILTER (WHERE maas_predict_proba('c_digits', to_json(features)) = r.p) AS json
  FROM digits_test, LATERAL (SELECT maas_predict_proba('c_digits', features) AS p) r;
SELECT count(*) FILTER (WHERE maas_predict_label('c_digits', 2, features::numeric[]) = r.l) AS num,
       count(*) FILTER (WHERE maas_predict_label('c_digits', 2, features::int[]) = r.l) AS int4,
       count(*) FILTER (WHERE maas_predict_label('c_digits', 2, features::bigint[]) = r.l) AS int8,
       count(*) FILTER (WHERE maas_predict_label('c_digits', 2, features::smallint[]) = r.l) AS int2,
       count(*) FILTER (WHERE maas_predict_label('c_digits', 2, features::text) = r.l) AS text,
       count(*) FILTER (WHERE maas_predict_label('c_digits', 2, to_jsonb(features)) = r.l) AS jsonb,
       count(*) FILTER (WHERE maas_predict_label('c_digits', 2, to_json(features)) = r.l) AS json
  FROM digits_test, LATERAL (SELECT maas_predict_label('c_digits', 2, features) AS l) r;
-- pinned versions of every form
SELECT count(*) FILTER (WHERE maas_predict('c_digits', 2, features::numeric[]) = r.v
                          AND maas_predict('c_digits', 2, features::int[]) = r.v
                          AND maas_predict('c_digits', 2, features::bigint[]) = r.v
                          AND maas_predict('c_digits', 2, features::smallint[]) = r.v
                          AND maas_predict('c_digits', 2, features::text) = r.v
                          AND maas_predict('c_digits', 2, to_jsonb(features)) = r.v
                          AND maas_predict('c_digits', 2, to_json(features)) = r.v) AS same_v2,
       count(*) FILTER (WHERE maas_predict_proba('c_digits', 2, features::int[]) = r.p
                          AND maas_predict_proba('c_digits', 2, features::text) = r.p
                          AND maas_predict_proba('c_digits', 2, to_jsonb(features)) = r.p) AS same_v2_proba
  FROM digits_test,
       LATERAL (SELECT maas_predict('c_digits', 2, features) AS v,
                       maas_predict_proba('c_digits', 2, features) AS p) r;
-- fractions: numeric and text round to the nearest real, as real[] does
-- (a real[] cast to numeric[] keeps 6 digits, so the numbers go as text)
SELECT count(*) FILTER (WHERE maas_predict('c_diabetes', features::text::numeric[]) = r.v) AS num,
       count(*) FILTER (WHERE maas_predict('c_diabetes', features::float8[]) = r.v) AS float8,
       count(*) FILTER (WHERE maas_predict('c_diabetes', features::text) = r.v) AS text,
       count(*) FILTER (WHERE maas_predict('c_diabetes', to_jsonb(features)) = r.v) AS jsonb
  FROM diabetes_test, LATERAL (SELECT maas_predict('c_diabetes', features) AS v) r;

-- resolution: an unknown literal, an untyped parameter, named arguments
-- (the text form's argument is "input"), NULL, array constructors of
-- integers and of decimals, varchar
SELECT maas_predict('c_diabetes', '{1,2,3,4,5,6,7,8,9,10}') = r AS unknown_literal,
       maas_predict('c_diabetes', '{"1","2","3","4","5","6","7","8","9","10"}') = r AS quoted_elements,
       maas_predict('c_diabetes', '[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]') = r AS json_literal,
       maas_predict('c_diabetes', '[1:10]={1,2,3,4,5,6,7,8,9,10}') = r AS with_bounds,
       maas_predict('c_diabetes', ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) = r AS int_constructor,
       maas_predict('c_diabetes', ARRAY[1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10]) = r AS numeric_constructor,
       maas_predict(model => 'c_diabetes', input => '{1,2,3,4,5,6,7,8,9,10}') = r AS named_input,
       maas_predict(model => 'c_diabetes', features => ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) = r AS named,
       maas_predict('c_diabetes', '{1,2,3,4,5,6,7,8,9,10}'::varchar) = r AS varchar,
       maas_predict('c_diabetes', 1, '{1,2,3,4,5,6,7,8,9,10}') = r AS pinned_unknown
  FROM maas_predict('c_diabetes', ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]::real[]) r;
SELECT maas_predict('c_diabetes', NULL);
SELECT maas_predict('c_diabetes', 1, NULL);
-- what a JSON answer holds, in order, with its numbers rounded (to 3
-- places, to 1 from 100 up), as floats may differ in their last bits
CREATE FUNCTION pg_temp.num(t text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN t ~ '^-?[0-9]+$' THEN t
              ELSE round(t::numeric, CASE WHEN abs(t::numeric) >= 100 THEN 1 ELSE 3 END)::text END $$;
CREATE FUNCTION pg_temp.show(j json) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(k || ': ' ||
           CASE json_typeof(v)
             WHEN 'number' THEN pg_temp.num(v::text)
             WHEN 'object' THEN (SELECT '{' || string_agg(k2 || ': ' || pg_temp.num(v2), ', ' ORDER BY o2) || '}'
                                   FROM json_each_text(v) WITH ORDINALITY AS y(k2, v2, o2))
             ELSE v::text END, ', ' ORDER BY o)
    FROM json_each(j) WITH ORDINALITY AS x(k, v, o) $$;
PREPARE c_untyped AS SELECT round(maas_predict($1, $2)::numeric, 1) AS v, pg_temp.show(maas_predict_json($1, $3, $2)) AS j;
SELECT parameter_types FROM pg_prepared_statements WHERE name = 'c_untyped';
EXECUTE c_untyped('c_diabetes', '{1,2,3,4,5,6,7,8,9,10}', 1);
EXECUTE c_untyped('c_diabetes', '[1,2,3,4,5,6,7,8,9,10]', 1);
DEALLOCATE c_untyped;
-- types the functions do not take get PostgreSQL's own error
SELECT maas_predict('c_diabetes', ARRAY['1', '2']);
SELECT maas_predict('c_diabetes', ARRAY[true]);
SELECT maas_predict('c_diabetes', 1.5);
-- each family resolves every type to its own function
SELECT p.proname, string_agg(format_type(p.proargtypes[pronargs - 1], NULL), ', '
                             ORDER BY format_type(p.proargtypes[pronargs - 1], NULL)) AS features,
       count(*) FILTER (WHERE pronargs = 3) AS pinned
  FROM pg_proc p WHERE proname IN ('maas_predict', 'maas_predict_proba', 'maas_predict_label', 'maas_predict_json')
 GROUP BY 1 ORDER BY 1;

-- the same errors in every form: wrong count, nulls, NaN, infinity, range
SELECT maas_predict('c_diabetes', ARRAY[1, 2, 3]::numeric[]);
SELECT maas_predict('c_diabetes', ARRAY[1, 2, 3]);
SELECT maas_predict('c_diabetes', '{1,2,3}');
SELECT maas_predict('c_diabetes', '[1, 2, 3]'::jsonb);
SELECT maas_predict('c_diabetes', '{}');
SELECT maas_predict('c_diabetes', ARRAY[1, 2, NULL, 4, 5, 6, 7, 8, 9, 10]::bigint[]);
SELECT maas_predict('c_diabetes', ARRAY[1, 2, NULL, 4, 5, 6, 7, 8, 9, 10]::smallint[]);
SELECT maas_predict('c_diabetes', '{1,2,NULL,4,5,6,7,8,9,10}');
SELECT maas_predict('c_diabetes', '[1, 2, null, 4, 5, 6, 7, 8, 9, 10]');
SELECT maas_predict('c_diabetes', ARRAY[1, 2, 3, 'NaN', 5, 6, 7, 8, 9, 10]::numeric[]);
SELECT maas_predict('c_diabetes', ARRAY[1, 2, 3, 4, 'Infinity', 6, 7, 8, 9, 10]::numeric[]);
SELECT maas_predict('c_diabetes', ARRAY[1, 2, 3, 4, '-Infinity', 6, 7, 8, 9, 10]::numeric[]);
SELECT maas_predict('c_diabetes', ARRAY[1, 2, 3, 4, 5, 1e39, 7, 8, 9, 10]::numeric[]);
SELECT maas_predict('c_diabetes', ARRAY[1, 2, 3, 4, 5, 6, 1e400, 8, 9, 10]::numeric[]);
SELECT maas_predict('c_diabetes', '{1,2,3,4,5,6,7,NaN,9,10}');
SELECT maas_predict('c_diabetes', '{1,2,3,4,5,6,7,8,1e39,10}');
SELECT maas_predict('c_diabetes', '[1, 2, 3, 4, 5, 6, 7, 8, 9, 1e39]');
SELECT maas_predict('c_diabetes', '{{1,2,3,4,5},{6,7,8,9,10}}');
SELECT maas_predict('c_diabetes', ARRAY[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]);
SELECT maas_predict('c_diabetes', '[1, 2, 3, 4, 5, 6, 7, 8, 9, [10]]');
-- text that is neither features nor JSON, and JSON that is not features
SELECT maas_predict('c_diabetes', '1,2,3,4,5,6,7,8,9,10');
SELECT maas_predict('c_diabetes', '{1,2,3,4,5,6,7,8,9,ten}');
SELECT maas_predict('c_diabetes', '[1, 2, 3, 4, 5, 6, 7, 8, 9, 10');
SELECT maas_predict('c_diabetes', '[1, 2, 3, 4, 5, 6, 7, 8, 9, "10"]');
SELECT maas_predict('c_diabetes', '[1, 2, 3, 4, 5, 6, 7, 8, 9, true]'::jsonb);
SELECT maas_predict('c_diabetes', '"1, 2, 3"'::jsonb);
SELECT maas_predict('c_diabetes', 'null'::json);
SELECT maas_predict('c_diabetes', '5'::jsonb);
-- an object needs a model that names its columns
SELECT maas_predict('c_diabetes', '{"age": 1}');
SELECT maas_predict('c_diabetes', '{"age": 1}'::jsonb);

-- JSON objects are rows by column name: the same answers as a table's rows,
-- with NULLs imputed, unseen and NULL categories all zeros, and other
-- columns or keys ignored
CREATE TEMP TABLE c_people (id int, age float8, bp real[], sex text, bmi numeric, s int[], note text);
INSERT INTO c_people VALUES
  (1, 0.5, '{0.1,0.2,0.3}', 'm', 0.25, '{1,2,3}', 'a'),
  (2, -0.5, '{0.3,0.2,0.1}', 'f', -0.25, '{3,2,1}', NULL),
  (3, NULL, '{0.3,NULL,0.1}', NULL, NULL, NULL, 'nulls'),
  (4, 1, NULL, 'other', 1, '{0,0,0}', 'unseen'),
  (5, 2, '{1,1,1}', 'f', 3, '{1,1,1}', 'b');
SELECT id, maas_predict('c_rows', p) = maas_predict('c_rows', to_jsonb(p)) AS jsonb_same,
       maas_predict('c_rows', p) = maas_predict('c_rows', to_json(p)) AS json_same,
       maas_predict('c_rows', p) = maas_predict('c_rows', to_jsonb(p)::text) AS text_same,
       maas_predict('c_rows', 1, p) = maas_predict('c_rows', 1, to_jsonb(p) - 'note' - 'id') AS pinned_same
  FROM c_people p ORDER BY id;
-- the fills: row 3's NULLs read as age 0.25, bp[2] 2, no sex, bmi -1, s zeros
SELECT maas_predict('c_rows', '{"age": null, "bp": [0.3, null, 0.1], "sex": null, "bmi": null, "s": null}') =
       maas_predict('c_rows', '{"age": 0.25, "bp": [0.3, 2, 0.1], "sex": "neither", "bmi": -1, "s": [0, 0, 0]}')
         AS fills_used,
       maas_predict('c_rows', '{"age": true, "bp": [1, 2, 3], "sex": "m", "bmi": false, "s": [0, 0, 0]}') =
       maas_predict('c_rows', '{"age": 1, "bp": [1, 2, 3], "sex": "m", "bmi": 0, "s": [0, 0, 0]}')
         AS booleans_are_numbers;
-- ... and the row form's errors
SELECT maas_predict('c_rows', '{"age": 1, "bp": [1, 2, 3], "sex": "m", "s": [0, 0, 0]}');
SELECT maas_predict('c_rows', '{"age": "1", "bp": [1, 2, 3], "sex": "m", "bmi": 0, "s": [0, 0, 0]}');
SELECT maas_predict('c_rows', '{"age": 1, "bp": 1, "sex": "m", "bmi": 0, "s": [0, 0, 0]}');
SELECT maas_predict('c_rows', '{"age": 1, "bp": [1, 2], "sex": "m", "bmi": 0, "s": [0, 0, 0]}');
SELECT maas_predict('c_rows', '{"age": 1, "bp": [1, "2", 3], "sex": "m", "bmi": 0, "s": [0, 0, 0]}');
SELECT maas_predict('c_rows', '{"age": 1, "bp": [1, 2, 3], "sex": 1, "bmi": 0, "s": [0, 0, 0]}');
SELECT maas_predict('c_rows', '{"age": 1e39, "bp": [1, 2, 3], "sex": "m", "bmi": 0, "s": [0, 0, 0]}');
SELECT maas_predict('c_strict', '{"x": [1, 2, 3, 4, 5, 6, 7, 8, 9, null]}');
SELECT maas_predict('c_strict', '{"x": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}') =
       maas_predict('c_diabetes', ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) AS strict_same;

-- maas_predict_json: the other functions' answers and the version, in one
-- object, for every form
SELECT pg_temp.show(maas_predict_json('c_digits', features)) FROM digits_test WHERE id = 1;
SELECT pg_temp.show(maas_predict_json('c_digits', 2, features::int[])) FROM digits_test WHERE id = 1;
SELECT pg_temp.show(maas_predict_json('c_diabetes', features::text)) FROM diabetes_test WHERE id = 1;
SELECT pg_temp.show(maas_predict_json('c_rows', p)) FROM c_people p WHERE id = 1;
SELECT maas_predict_json('c_digits', features)::jsonb ?& ARRAY['model', 'version', 'prediction', 'label', 'proba']
         AS is_json
  FROM digits_test WHERE id = 1;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (j->>'prediction')::float8 = maas_predict('c_digits', 2, features)) AS same_value,
       count(*) FILTER (WHERE j->>'label' = maas_predict_label('c_digits', 2, features)) AS same_label,
       count(*) FILTER (WHERE (SELECT array_agg((j->'proba'->>l)::real ORDER BY o)
                                 FROM jsonb_array_elements_text(:'digits_v2_c'::jsonb->'labels')
                                      WITH ORDINALITY AS x(l, o))
                              = maas_predict_proba('c_digits', 2, features)) AS same_proba,
       count(*) FILTER (WHERE (j->>'version')::int = 2 AND j->>'model' = 'c_digits') AS says_version
  FROM digits_test, LATERAL (SELECT maas_predict_json('c_digits', 2, features)::jsonb AS j) r;
SELECT count(*) FILTER (WHERE maas_predict_json('c_digits', features::numeric[])::text = r.j
                          AND maas_predict_json('c_digits', features::float8[])::text = r.j
                          AND maas_predict_json('c_digits', features::bigint[])::text = r.j
                          AND maas_predict_json('c_digits', features::smallint[])::text = r.j
                          AND maas_predict_json('c_digits', features::text)::text = r.j
                          AND maas_predict_json('c_digits', to_json(features))::text = r.j
                          AND maas_predict_json('c_digits', to_jsonb(features))::text = r.j) AS same_json
  FROM digits_test, LATERAL (SELECT maas_predict_json('c_digits', features)::text AS j) r;
SELECT count(*) FILTER (WHERE (maas_predict_json('c_diabetes', features)->>'prediction')::float8
                              = maas_predict('c_diabetes', features)) AS same_value
  FROM diabetes_test;
SELECT maas_predict_json('c_digits', '{1,2}');
SELECT maas_predict_json('c_digits', NULL::real[]);

-- a prepared statement follows deploys, as a plain query does, with a
-- generic plan and with a custom one
SELECT features AS row1 FROM digits_test WHERE id = 1 \gset
PREPARE c_deployed(text, real[]) AS SELECT maas_predict_json($1, $2)->>'version' AS version;
PREPARE c_deployed_untyped AS SELECT maas_predict_json($1, $2)->>'version' AS version;
SET plan_cache_mode = force_generic_plan;
EXECUTE c_deployed('c_digits', :'row1');
EXECUTE c_deployed_untyped('c_digits', :'row1');
SELECT maas_deploy('c_digits', 2);
EXECUTE c_deployed('c_digits', :'row1');
EXECUTE c_deployed_untyped('c_digits', :'row1');
SET plan_cache_mode = force_custom_plan;
EXECUTE c_deployed('c_digits', :'row1');
SELECT maas_deploy('c_digits', 1);
EXECUTE c_deployed('c_digits', :'row1');
EXECUTE c_deployed_untyped('c_digits', :'row1');
RESET plan_cache_mode;
DEALLOCATE c_deployed;
DEALLOCATE c_deployed_untyped;

-- the batch path takes the same arrays
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.prediction = maas_predict('c_digits', t.features)) AS same_int,
       count(*) FILTER (WHERE n.prediction = maas_predict('c_digits', t.features)) AS same_numeric
  FROM maas_predict_batch('c_digits', 'SELECT id, features::int[] FROM digits_test') b
  JOIN maas_predict_batch('c_digits', 'SELECT id, features::numeric[] FROM digits_test') n USING (id)
  JOIN digits_test t USING (id);

-- the new forms are counted in maas.stats, errors included
SELECT maas_stats_reset('c_diabetes') IS NOT NULL AS reset;
SELECT count(maas_predict('c_diabetes', features::text)) + count(maas_predict('c_diabetes', to_jsonb(features)))
       + count(maas_predict_json('c_diabetes', features::numeric[])) AS calls
  FROM diabetes_test WHERE id <= 10;
SELECT maas_predict('c_diabetes', '[1]'::jsonb);
SELECT calls, rows, errors FROM maas.stats WHERE model = 'c_diabetes';

-- a text model takes its text in the text form, whatever it looks like,
-- and the JSON answer too; features and JSON are refused
\set bert_w `base64 -w0 test/fixtures/text/tiny_bert/model.safetensors`
\set bert_c `cat test/fixtures/text/tiny_bert/config.json`
\set bert_vocab `cat test/fixtures/text/tiny_bert/vocab.txt`
\set bert_tok `cat test/fixtures/text/tiny_bert/tokenizer_config.json`
SELECT maas_register('c_bert', 'bert', decode(:'bert_w', 'base64'),
         :'bert_c'::jsonb || jsonb_build_object('tokenizer',
           :'bert_tok'::jsonb || jsonb_build_object('vocab', :'bert_vocab'))) AS version;
SELECT maas_deploy('c_bert', 1);
SELECT t, maas_predict_json('c_bert', t)::jsonb ->> 'label' = maas_predict_label('c_bert', t) AS same_label,
       (maas_predict_json('c_bert', 1, t)::jsonb ->> 'prediction')::float8 = maas_predict('c_bert', t) AS same_class,
       maas_predict_proba('c_bert', t) = maas_predict_proba('c_bert', t::varchar) AS same_proba
  FROM (VALUES ('a good movie'), ('{1,2,3}'), ('[1, 2]'), ('{"a": 1}')) v(t);
SELECT maas_predict_label('c_bert', '{1,2,3}') IN ('negative', 'neutral', 'positive') AS unknown_literal_read_as_text;
SELECT maas_predict('c_bert', NULL);
SELECT maas_predict('c_bert', '[1, 2]'::jsonb);
SELECT maas_predict('c_bert', ARRAY[1, 2]);

SELECT maas_drop('c_digits') + maas_drop('c_diabetes') + maas_drop('c_rows') + maas_drop('c_strict')
       + maas_drop('c_bert') AS dropped;
