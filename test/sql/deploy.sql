-- Deploy, roll back, drop, export
\i test/fixtures/load.psql

-- digits has versions 1 and 2 (register.sql); 1 is deployed (predict.sql)
SELECT maas_deploy('digits', 2);
SELECT maas_predict_label('digits', features) FROM digits_test WHERE id = 1;
-- rolling back returns to the version deployed before
SELECT maas_deploy('digits', 'previous');
SELECT maas_predict_label('digits', features) FROM digits_test WHERE id = 1;
-- and again toggles forward, like "cd -"
SELECT maas_deploy('digits', 'previous');
SELECT maas_deploy('digits', 'latest');
SELECT maas_deploy('digits', '1');
-- deploying the deployed version changes nothing
SELECT maas_deploy('digits', 1);

SELECT model, version, previous_version, strategy, deployed_by
  FROM maas.deployments WHERE model = 'digits' ORDER BY id;

-- a deploy is seen by the next statement of the same transaction
BEGIN;
SELECT maas_predict_label('digits', features) FROM digits_test WHERE id = 1;
SELECT maas_deploy('digits', 2);
SELECT maas_predict_label('digits', features) FROM digits_test WHERE id = 1;
ROLLBACK;
-- and is gone with a rollback
SELECT maas_predict_label('digits', features) FROM digits_test WHERE id = 1;
SELECT deployed_version FROM maas.models WHERE model = 'digits';

-- 'best' needs metrics; registered models have none
SELECT maas_deploy('digits', 'best');
SELECT maas_deploy('digits', 'newest');
SELECT maas_deploy('digits', 7);
SELECT maas_deploy('nosuch', 1);
SELECT maas_deploy('digits', NULL::int);
SELECT maas_deploy('digits', NULL::text);

-- export: the safetensors carry the config, so the bytes alone register again
SELECT algorithm, config = :'digits_v2_c'::jsonb AS same_config, length(weights) > 0 AS has_weights
  FROM maas_export('digits', 2);
SELECT maas_register('digits_copy', e.algorithm, e.weights) FROM maas_export('digits', 2) e;
SELECT maas_register('digits_copy', e.algorithm, e.weights, e.config) FROM maas_export('digits', 1) e;
SELECT maas_deploy('digits_copy', 1);
SELECT bool_and(maas_predict_proba('digits_copy', features) = maas_predict_proba('digits', 2, features)) AS same_v2,
       bool_and(maas_predict_proba('digits_copy', 2, features) = maas_predict_proba('digits', 1, features)) AS same_v1
  FROM digits_test;
-- the stored weights do not keep the export's metadata
SELECT a.sha256 = b.sha256 AS same_bytes_as_original
  FROM maas.versions a, maas.versions b
 WHERE a.model = 'digits_copy' AND a.version = 1 AND b.model = 'digits' AND b.version = 2;
-- without a version, export takes the deployed one
SELECT (SELECT config FROM maas_export('digits')) = :'digits_c'::jsonb AS deployed_v1;
SELECT * FROM maas_export('digits', 9);

-- drop: never the deployed version
SELECT maas_drop('digits_copy', 1);
SELECT maas_drop('digits_copy', 2);
SELECT version FROM maas.versions WHERE model = 'digits_copy';
-- a dropped version cannot be deployed, and its number is not reused
SELECT maas_deploy('digits_copy', 2);
SELECT maas_register('digits_copy', e.algorithm, e.weights) FROM maas_export('digits', 2) e;
SELECT maas_predict('digits_copy', 2, features) FROM digits_test WHERE id = 1;
-- rolling back to a dropped version is refused
SELECT maas_deploy('digits_copy', 3);
SELECT maas_drop('digits_copy', 1);
SELECT maas_deploy('digits_copy', 'previous');
-- dropping the model takes every version and its history
SELECT maas_drop('digits_copy');
SELECT count(*) FROM maas.versions WHERE model = 'digits_copy';
SELECT count(*) FROM maas.deployments WHERE model = 'digits_copy';
SELECT maas_predict('digits_copy', features) FROM digits_test WHERE id = 1;
SELECT maas_drop('digits_copy');
-- a model registered again under the same name starts over
SELECT maas_register('digits_copy', e.algorithm, e.weights) FROM maas_export('digits', 2) e;
SELECT maas_drop('digits_copy');
