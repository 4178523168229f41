-- Canary and shadow deployments: maas_deploy(model, version, options),
-- maas_promote, the maas.rollout view, and routing in the serving core.
--
-- Model "ro" is a 1-feature linear regression y = w x + b whose versions
-- differ only in b (version n answers n), so each prediction says which
-- version served it.  ro_safetensors builds the bytes in SQL.
CREATE FUNCTION ro_safetensors(w real, b real) RETURNS bytea
LANGUAGE plpgsql AS $$
DECLARE
	header bytea := convert_to(replace(json_build_object(
		'w', json_build_object('dtype', 'F32', 'shape', json_build_array(1, 1),
							   'data_offsets', json_build_array(0, 4)),
		'b', json_build_object('dtype', 'F32', 'shape', json_build_array(1),
							   'data_offsets', json_build_array(4, 8)))::text,
		' ', ''), 'UTF8');
	data bytea := float4send(w) || float4send(b);
	n int;
	le_len bytea := ''::bytea;
	le_data bytea := ''::bytea;
BEGIN
	IF length(header) % 8 <> 0 THEN
		header := header || convert_to(repeat(' ', 8 - length(header) % 8), 'UTF8');
	END IF;
	n := length(header);
	FOR i IN REVERSE 8..1 LOOP
		le_len := le_len || substr(int8send(n::bigint), i, 1);
	END LOOP;
	FOR t IN 0..1 LOOP
		FOR i IN REVERSE 4..1 LOOP
			le_data := le_data || substr(data, 4 * t + i, 1);
		END LOOP;
	END LOOP;
	RETURN le_len || header || le_data;
END
$$;
-- one numeric input column "x", so the row form works too
SELECT jsonb_build_object('task', 'regression', 'n_features', 1,
	'inputs', jsonb_build_array(jsonb_build_object('name', 'x', 'kind', 'number', 'mean', 0)),
	'layers', jsonb_build_array(jsonb_build_object('op', 'dense', 'weight', 'w', 'bias', 'b')))
	AS ro_config \gset
SELECT maas_register('ro', 'linear', ro_safetensors(0, v), :'ro_config') AS version
  FROM generate_series(1, 3) v;
-- version 4 reads another column
SELECT maas_register('ro', 'linear', ro_safetensors(0, 4),
	jsonb_set(:'ro_config', '{inputs,0,name}', '"y"'));
SELECT maas_deploy('ro', 1);
CREATE TABLE ro_rows AS
  SELECT g AS customer_id, 0::real AS x FROM generate_series(1, 100000) g;
SELECT maas_stats_reset('ro') IS NOT NULL AS reset;

-- a canary of 10% by key: the share over 100k keys is within a point
SELECT maas_deploy('ro', 2, '{"strategy": "canary", "fraction": 0.1, "key": "customer_id"}');
SELECT abs(avg((maas_predict('ro', r) = 2)::int) - 0.1) < 0.01 AS share_within_a_point,
       bool_and(maas_predict('ro', r) IN (1, 2)) AS only_live_and_canary
  FROM ro_rows r;
-- the same key routes the same way in every statement and session (the hash
-- is computed by maas over the key's text, seeded by model and version)
CREATE TABLE ro_routes AS
  SELECT customer_id, maas_predict('ro', r) AS version FROM ro_rows r WHERE customer_id <= 1000;
\c
SELECT count(*) FILTER (WHERE maas_predict('ro', r) <> o.version) AS rerouted,
       count(*) FILTER (WHERE o.version = 2) AS on_canary
  FROM ro_rows r JOIN ro_routes o USING (customer_id);
-- which keys: fixed by the hash, the same on every platform and release
SELECT array_agg(customer_id ORDER BY customer_id) AS first_canary_keys
  FROM (SELECT customer_id FROM ro_routes WHERE version = 2 ORDER BY customer_id LIMIT 10) k;
-- maas_route says which version answers a key: the same as the row form
SELECT count(*) FILTER (WHERE maas_route('ro', customer_id::text) <> version) AS differ,
       count(*) FILTER (WHERE maas_route('ro', customer_id::text) = 2) AS on_canary,
       maas_route('ro', NULL) AS null_key
  FROM ro_routes;
-- outcome feedback: labels that arrive later, joined by key, give each
-- version's live error (here the label is 2 for every customer)
SELECT maas_route('ro', r.customer_id::text) AS version,
       count(*) AS labelled, avg(abs(maas_predict('ro', r) - 2)) AS mean_abs_error
  FROM ro_rows r WHERE r.customer_id <= 1000 GROUP BY 1 ORDER BY 1;
-- an array call has no key: routed by call, about 10% too
SELECT abs(avg((maas_predict('ro', ARRAY[0::real]) = 2)::int) - 0.1) < 0.01 AS by_call_share
  FROM generate_series(1, 100000);
-- a version asked for by number is never routed
SELECT bool_and(maas_predict('ro', 1, ARRAY[0::real]) = 1) AS pinned_v1
  FROM generate_series(1, 1000);

-- the view: live and canary, with what maas.stats counted for each
SELECT model, version, role, fraction, key, since <= now() AS has_since,
       calls > 0 AS called, share BETWEEN 0 AND 1 AS share_ok, errors,
       compared, agreement, mean_abs_diff
  FROM maas.rollout WHERE model = 'ro' ORDER BY version;
SELECT version, previous_version, strategy FROM maas.deployments
 WHERE model = 'ro' ORDER BY id;

-- bad input, exact errors
SELECT maas_deploy('ro', 3, '{"strategy": "canary", "fraction": 0.1}');
SELECT maas_deploy('ro', 3, '{"strategy": "canary", "fraction": 1.5}');
SELECT maas_deploy('ro', 3, '{"strategy": "canary", "fraction": 0}');
SELECT maas_deploy('ro', 3, '{"strategy": "canary"}');
SELECT maas_deploy('ro', 1, '{"strategy": "canary", "fraction": 0.5}');
SELECT maas_deploy('ro', 3, '{"strategy": "blue-green"}');
SELECT maas_deploy('ro', 3, '{"strategy": "canary", "fraction": "half"}');
SELECT maas_deploy('ro', 3, '{"strategy": "canary", "fraction": 0.1, "weight": 2}');
SELECT maas_deploy('ro', 3, '{"strategy": "shadow", "fraction": 0.1}');
SELECT maas_deploy('ro', 3, '{"fraction": 0.1}');
SELECT maas_deploy('ro', 3, '[1]');
SELECT maas_deploy('ro', 4, '{"strategy": "shadow"}');
SELECT maas_deploy('ro', 9, '{"strategy": "shadow"}');
SELECT maas_deploy('ro', 3, NULL);
SELECT maas_deploy('nosuch', 3, '{"strategy": "shadow"}');
SELECT maas_promote('nosuch');

-- promote: the canary is the live version, a deployment of strategy 'promote'
SELECT maas_promote('ro');
SELECT bool_and(maas_predict('ro', r) = 2) AS all_on_2 FROM ro_rows r WHERE customer_id <= 1000;
SELECT maas_promote('ro');
SELECT count(*) AS rollouts FROM maas.rollout WHERE model = 'ro';

-- a key column that the row does not have
SELECT maas_deploy('ro', 3, '{"strategy": "canary", "fraction": 0.5, "key": "account"}');
SELECT maas_predict('ro', r) FROM ro_rows r WHERE customer_id = 1;
SELECT maas_route('ro', '1');
-- a NULL key stays on the live version
SELECT maas_deploy('ro', 2);
SELECT maas_deploy('ro', 3, '{"strategy": "canary", "fraction": 0.9, "key": "customer_id"}');
SELECT maas_predict('ro', r) FROM (SELECT NULL::int AS customer_id, 0::real AS x) r;
-- the batch path routes each row by its key's text, as the row form does
-- with an integer key column: the same rows go to the canary
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.prediction <> maas_predict('ro', r)) AS routed_otherwise,
       abs(avg((b.prediction = 3)::int) - 0.9) < 0.01 AS share_within_a_point
  FROM maas_predict_batch('ro', 'SELECT customer_id, ARRAY[x] FROM ro_rows', 1000) b
  JOIN ro_rows r ON r.customer_id = b.id;
-- any deploy ends the rollout: redeploying the live version keeps it
SELECT maas_deploy('ro', 2);
SELECT count(*) AS rollouts FROM maas.rollout WHERE model = 'ro';
SELECT bool_and(maas_predict('ro', r) = 2) AS all_on_2 FROM ro_rows r WHERE customer_id <= 1000;

-- shadow: the answer is always the live version's; the candidate is compared
SELECT maas_stats_reset('ro') IS NOT NULL AS reset;
SELECT maas_deploy('ro', 3, '{"strategy": "shadow"}');
SELECT bool_and(maas_predict('ro', ARRAY[0::real]) = 2) AS answers_live,
       bool_and(maas_predict('ro', r) = 2) AS rows_answer_live
  FROM ro_rows r WHERE customer_id <= 500;
SELECT version, role, fraction, calls, errors, compared, agreement, mean_abs_diff
  FROM maas.rollout WHERE model = 'ro' ORDER BY version;
-- a batch too: answered by the live version, every row compared
SELECT count(*) AS rows, bool_and(prediction = 2) AS answers_live
  FROM maas_predict_batch('ro', 'SELECT customer_id, ARRAY[x] FROM ro_rows WHERE customer_id <= 2500', 1000);
SELECT version, role, calls, compared, mean_abs_diff
  FROM maas.rollout WHERE model = 'ro' ORDER BY version;
-- maas.shadow_fraction bounds the shadow's share of calls
SET maas.shadow_fraction = 0;
SELECT count(maas_predict('ro', ARRAY[0::real])) FROM generate_series(1, 100);
SELECT compared FROM maas.rollout WHERE model = 'ro' AND role = 'shadow';
RESET maas.shadow_fraction;
-- two candidates at once
SELECT maas_deploy('ro', 1, '{"strategy": "canary", "fraction": 0.1}');
-- dropping the candidate ends the rollout
SELECT maas_drop('ro', 3);
SELECT count(*) AS rollouts FROM maas.rollout WHERE model = 'ro';
-- rolling back ends a rollout and goes back, as always
SELECT maas_deploy('ro', 1, '{"strategy": "canary", "fraction": 0.2}');
SELECT maas_route('ro', '1');
-- the JSON and text forms route by call too
SELECT abs(avg((maas_predict('ro', '{"x": 0}'::jsonb) = 1)::int) - 0.2) < 0.01 AS jsonb_share,
       abs(avg((maas_predict('ro', '[0]'::text) = 1)::int) - 0.2) < 0.01 AS text_share
  FROM generate_series(1, 100000);
SELECT maas_deploy('ro', 'previous');
SELECT count(*) AS rollouts FROM maas.rollout WHERE model = 'ro';
SELECT version, previous_version, strategy FROM maas.deployments
 WHERE model = 'ro' ORDER BY id;

-- a classifier's shadow agrees with the live version on the rows whose
-- class both predict alike (digits: versions 1 and 2 of test/fixtures)
\i test/fixtures/load.psql
\set QUIET on
SELECT maas_register('ro_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_register('ro_digits', 'mlp', decode(:'digits_v2_w', 'base64'), :'digits_v2_c');
SELECT maas_deploy('ro_digits', 1);
SELECT maas_deploy('ro_digits', 2, '{"strategy": "shadow"}');
SELECT bool_and(maas_predict_label('ro_digits', features) = maas_predict_label('ro_digits', 1, features))
	   AS answers_live
  FROM digits_test;
SELECT r.compared = (SELECT count(*) FROM digits_test) AS compared_all,
	   r.agreement = (SELECT avg((maas_predict('ro_digits', 1, features) =
								  maas_predict('ro_digits', 2, features))::int)::float8
						FROM digits_test) AS agreement_exact,
	   r.agreement < 1 AS some_disagree, r.mean_abs_diff
  FROM maas.rollout r WHERE model = 'ro_digits' AND role = 'shadow';
SELECT maas_drop('ro_digits');

SELECT maas_drop('ro');
DROP TABLE ro_rows, ro_routes;
DROP FUNCTION ro_safetensors(real, real);
