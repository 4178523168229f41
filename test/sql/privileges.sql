-- Who may register, deploy and predict
\i test/fixtures/load.psql
CREATE ROLE regress_maas_alice;
CREATE ROLE regress_maas_bob;
CREATE ROLE regress_maas_carol;
GRANT regress_maas_carol TO regress_maas_bob;

-- management functions are not executable by PUBLIC
SELECT p.oid::regprocedure AS function, has_function_privilege('regress_maas_alice', p.oid, 'EXECUTE') AS alice_may
  FROM pg_proc p WHERE proname LIKE 'maas\_%' ORDER BY 1::text;

SET ROLE regress_maas_alice;
SELECT maas_register('alice_model', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
SELECT maas_deploy('digits', 1);
SELECT maas_drop('digits');
SELECT * FROM maas_export('digits');
-- the catalog tables are closed; the views are open
SELECT count(*) FROM maas.version;
SELECT count(*) > 0 AS sees_models FROM maas.models;
-- a model serves its owner; others need a grant on the model
SELECT maas_predict('diabetes', array_fill(0::real, ARRAY[10])) IS NOT NULL AS predicted;
SELECT maas_predict('diabetes', 1, array_fill(0::real, ARRAY[10])) IS NOT NULL AS predicted;
RESET ROLE;
SELECT maas_grant('diabetes', 'regress_maas_alice');
SELECT maas_grant('diabetes', 'regress_maas_alice');
SELECT model, acl FROM maas.models WHERE model = 'diabetes';
SET ROLE regress_maas_alice;
SELECT maas_predict('diabetes', array_fill(0::real, ARRAY[10])) IS NOT NULL AS predicted;
SELECT maas_predict('diabetes', 1, array_fill(0::real, ARRAY[10])) IS NOT NULL AS predicted;
-- a grant lets alice predict, not manage
SELECT maas_deploy('diabetes', 1);
RESET ROLE;
SELECT maas_revoke('diabetes', 'regress_maas_alice');
SELECT model, acl FROM maas.models WHERE model = 'diabetes';
SET ROLE regress_maas_alice;
SELECT maas_predict('diabetes', array_fill(0::real, ARRAY[10])) IS NOT NULL AS predicted;
RESET ROLE;
-- PUBLIC, and through a group role
SELECT maas_grant('diabetes', 'public');
SET ROLE regress_maas_alice;
SELECT maas_predict('diabetes', array_fill(0::real, ARRAY[10])) IS NOT NULL AS predicted;
RESET ROLE;
SELECT maas_revoke('diabetes', 'PUBLIC');
SELECT maas_grant('diabetes', 'regress_maas_carol');
SET ROLE regress_maas_bob;
SELECT maas_predict('diabetes', array_fill(0::real, ARRAY[10])) IS NOT NULL AS predicted;
RESET ROLE;
SELECT maas_revoke('diabetes', 'regress_maas_carol');
SELECT model, acl FROM maas.models WHERE model = 'diabetes';
SELECT maas_grant('diabetes', 'regress_maas_nosuch');
SELECT maas_grant('nosuch', 'public');
SELECT maas_grant('diabetes', NULL);

-- a DBA grants the management functions (doc/privileges.md)
GRANT EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb),
                          maas_deploy(text, integer), maas_deploy(text, text),
                          maas_drop(text, integer), maas_export(text, integer),
                          maas_grant(text, text), maas_revoke(text, text)
   TO regress_maas_alice, regress_maas_bob;

SET ROLE regress_maas_alice;
SELECT maas_register('alice_model', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
SELECT maas_deploy('alice_model', 1);
SELECT model, owner FROM maas.models WHERE model = 'alice_model';
SELECT created_by FROM maas.versions WHERE model = 'alice_model';
SELECT deployed_by FROM maas.deployments WHERE model = 'alice_model';
-- alice's model serves alice; she grants it to bob
SELECT maas_predict('alice_model', ARRAY[1, 2, 3]::real[]) IS NOT NULL AS predicted;
SELECT maas_grant('alice_model', 'regress_maas_bob');
-- granted EXECUTE, but not the owner of someone else's model
SELECT maas_grant('digits', 'regress_maas_alice');
SELECT maas_deploy('digits', 2);
SELECT maas_register('digits', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
SELECT maas_drop('digits', 2);
SELECT algorithm FROM maas_export('digits');
RESET ROLE;

-- bob is neither the owner nor a member of alice: he may predict, not manage
SET ROLE regress_maas_bob;
SELECT maas_predict('alice_model', ARRAY[1, 2, 3]::real[]) IS NOT NULL AS predicted;
SELECT maas_revoke('alice_model', 'regress_maas_bob');
SELECT maas_deploy('alice_model', 'latest');
SELECT maas_drop('alice_model');
RESET ROLE;

-- a model owned by a group role is managed by its members (bob is in carol)
GRANT EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb) TO regress_maas_carol;
SET ROLE regress_maas_carol;
SELECT maas_register('carol_model', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
RESET ROLE;
SET ROLE regress_maas_bob;
SELECT maas_deploy('carol_model', 1);
SELECT maas_register('carol_model', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
RESET ROLE;
SET ROLE regress_maas_alice;
SELECT maas_deploy('carol_model', 2);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb) FROM regress_maas_carol;

-- the superuser manages every model
SELECT maas_deploy('alice_model', 1);
SELECT maas_drop('alice_model');
SELECT maas_drop('carol_model');

REVOKE EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb),
                           maas_deploy(text, integer), maas_deploy(text, text),
                           maas_drop(text, integer), maas_export(text, integer),
                           maas_grant(text, text), maas_revoke(text, text)
    FROM regress_maas_alice, regress_maas_bob;
DROP ROLE regress_maas_alice;
DROP ROLE regress_maas_bob;
DROP ROLE regress_maas_carol;
