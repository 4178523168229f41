-- A model's owner and grants follow PostgreSQL's rules for owned objects
-- (issue 9, defect 2).  Each model owns a type, maas.model_<id>, whose
-- owner and ACL are the model's and which pg_shdepend tracks.  Before,
-- owners and grantees were names: DROP ROLE carol succeeded while carol
-- owned carol_m, and a later CREATE ROLE carol could export, deploy, drop
-- and grant it; a dropped grantee stayed in the ACL as a number.
\i test/fixtures/load.psql
\set QUIET on
CREATE ROLE regress_own_carol;
CREATE ROLE regress_own_dave;
CREATE ROLE regress_own_app;
GRANT regress_own_dave TO regress_own_carol;	-- so that carol may give dave her models
GRANT EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb), maas_deploy(text, integer),
      maas_drop(text, integer), maas_export(text, integer), maas_grant(text, text),
      maas_revoke(text, text)
   TO regress_own_carol, regress_own_dave;
CREATE FUNCTION pg_temp.models() RETURNS TABLE (model text, owner name, grantees text)
LANGUAGE sql AS $$
  SELECT m.model, m.owner,
         (SELECT string_agg(CASE e.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(e.grantee)::text END,
                            ',' ORDER BY 1)
            FROM aclexplode(m.acl) e WHERE e.grantee <> m.type::oid AND e.grantee NOT IN
                 (SELECT t.typowner FROM pg_type t WHERE t.oid = m.type))
    FROM maas.models m WHERE m.model LIKE 'own\_%' ORDER BY 1 $$;
\set QUIET off

SET ROLE regress_own_carol;
SELECT maas_register('own_carol', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
SELECT maas_deploy('own_carol', 1);
SELECT maas_grant('own_carol', 'regress_own_app');
RESET ROLE;
SELECT * FROM pg_temp.models();
-- the model's type: owned by carol, USAGE for app, nothing for PUBLIC
SELECT t.typname ~ '^model_[0-9]+$' AS named_by_id, pg_get_userbyid(t.typowner) AS owner,
       has_type_privilege('regress_own_app', t.oid, 'USAGE') AS app,
       has_type_privilege('regress_own_dave', t.oid, 'USAGE') AS dave,
       obj_description(t.oid, 'pg_type')
  FROM maas.models m JOIN pg_type t ON t.oid = m.type WHERE m.model = 'own_carol';

-- an owner or a grantee cannot be dropped
\set VERBOSITY terse
DROP ROLE regress_own_carol;
DROP ROLE regress_own_app;
\set VERBOSITY default

-- a renamed owner keeps her models
ALTER ROLE regress_own_carol RENAME TO regress_own_caroline;
SELECT * FROM pg_temp.models();
SET ROLE regress_own_caroline;
SELECT maas_deploy('own_carol', 1);
RESET ROLE;
ALTER ROLE regress_own_caroline RENAME TO regress_own_carol;

-- REASSIGN OWNED gives them to another role
REASSIGN OWNED BY regress_own_carol TO regress_own_dave;
SELECT * FROM pg_temp.models();
SET ROLE regress_own_dave;
SELECT algorithm FROM maas_export('own_carol');
RESET ROLE;
REVOKE regress_own_dave FROM regress_own_carol;
SET ROLE regress_own_carol;
SELECT algorithm FROM maas_export('own_carol');
RESET ROLE;

-- carol may be dropped now, and a new carol gets nothing of the old one
REVOKE EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb), maas_deploy(text, integer),
       maas_drop(text, integer), maas_export(text, integer), maas_grant(text, text),
       maas_revoke(text, text)
    FROM regress_own_carol;
DROP ROLE regress_own_carol;
CREATE ROLE regress_own_carol;
GRANT EXECUTE ON FUNCTION maas_export(text, integer), maas_deploy(text, integer) TO regress_own_carol;
SET ROLE regress_own_carol;
SELECT algorithm FROM maas_export('own_carol');
SELECT maas_deploy('own_carol', 1);
SELECT maas_predict('own_carol', ARRAY[1, 2, 3]::real[]);
RESET ROLE;

-- a grantee's grants go with DROP OWNED, and then so can the grantee: no
-- number is left in the ACL
SET ROLE regress_own_app;
SELECT maas_predict('own_carol', ARRAY[1, 2, 3]::real[]);
RESET ROLE;
DROP OWNED BY regress_own_app;
DROP ROLE regress_own_app;
SELECT * FROM pg_temp.models();
CREATE ROLE regress_own_app;
SET ROLE regress_own_app;
SELECT maas_predict('own_carol', ARRAY[1, 2, 3]::real[]);
RESET ROLE;

-- maas_grant and GRANT on the type are one and the same
SET ROLE regress_own_dave;
SELECT maas_grant('own_carol', 'regress_own_app');
SELECT maas_grant('own_carol', 'public');
RESET ROLE;
SELECT * FROM pg_temp.models();
SET ROLE regress_own_dave;
SELECT maas_revoke('own_carol', 'PUBLIC');
DO $$ BEGIN EXECUTE format('REVOKE USAGE ON TYPE %s FROM regress_own_app',
                            (SELECT type FROM maas.models WHERE model = 'own_carol')); END $$;
RESET ROLE;
SELECT * FROM pg_temp.models();

-- DROP OWNED drops the models of its role, with their versions and history
SET ROLE regress_own_dave;
SELECT maas_register('own_dave', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
RESET ROLE;
SELECT count(*) AS versions FROM maas.versions WHERE model LIKE 'own\_%';
DROP OWNED BY regress_own_dave;
SELECT * FROM pg_temp.models();
SELECT count(*) AS versions FROM maas.versions WHERE model LIKE 'own\_%';
SELECT count(*) AS deployments FROM maas.deployments WHERE model LIKE 'own\_%';
SELECT count(*) AS types FROM pg_type WHERE obj_description(oid, 'pg_type') LIKE '%maas model ''own\_%';
-- (DROP OWNED also took back dave's EXECUTE on the functions)
GRANT EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb), maas_drop(text, integer),
      maas_grant(text, text)
   TO regress_own_dave;

-- so does DROP TYPE of a model's type, by its owner
SET ROLE regress_own_dave;
SELECT maas_register('own_dave2', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
DO $$ BEGIN EXECUTE format('DROP TYPE %s', (SELECT type FROM maas.models WHERE model = 'own_dave2')); END $$;
RESET ROLE;
SELECT * FROM pg_temp.models();

-- a grantee who made an object of the type keeps the model from being
-- dropped without it, as for any type
SET ROLE regress_own_dave;
SELECT maas_register('own_dave3', 'linear', decode(:'tiny_w', 'base64'), :'tiny_c');
SELECT maas_grant('own_dave3', 'regress_own_app');
RESET ROLE;
SET ROLE regress_own_app;
DO $$ BEGIN EXECUTE format('CREATE TEMP TABLE uses_the_type (x %s)',
                            (SELECT type FROM maas.models WHERE model = 'own_dave3')); END $$;
RESET ROLE;
SET ROLE regress_own_dave;
-- 2BP01: dependent objects still exist (the type's name has the model's id)
\set VERBOSITY sqlstate
SELECT maas_drop('own_dave3');
\set VERBOSITY default
RESET ROLE;
DROP TABLE uses_the_type;
SET ROLE regress_own_dave;
SELECT maas_drop('own_dave3');
RESET ROLE;

-- other drops are not affected
CREATE TABLE own_unrelated (x int);
DROP TABLE own_unrelated;
SELECT * FROM pg_temp.models();

REVOKE EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb), maas_deploy(text, integer),
       maas_drop(text, integer), maas_export(text, integer), maas_grant(text, text),
       maas_revoke(text, text)
    FROM regress_own_dave;
REVOKE EXECUTE ON FUNCTION maas_export(text, integer), maas_deploy(text, integer) FROM regress_own_carol;
DROP ROLE regress_own_carol;
DROP ROLE regress_own_dave;
DROP ROLE regress_own_app;
