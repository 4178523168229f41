-- A secret's owner follows PostgreSQL's rules for owned objects, as a
-- model's does (owners.sql).  Each secret owns a type,
-- maas.secret_<hash of its name>, whose owner is the secret's and which
-- pg_shdepend tracks.  Before, the owner was a name: DROP ROLE left the
-- secret behind for the next role of that name, which could then use it
-- in its remote models and saw it in maas.secrets, and a rename lost it.
\set QUIET on
CREATE ROLE regress_sec_users NOLOGIN;
GRANT EXECUTE ON FUNCTION maas_secret_set(text, text), maas_secret_drop(text),
      maas_register_remote(text, jsonb)
   TO regress_sec_users;
CREATE ROLE regress_sec_ann IN ROLE regress_sec_users;
CREATE ROLE regress_sec_ben IN ROLE regress_sec_users;
SET maas.remote_allowed_hosts = 'models.internal:8080';
\set endpoint '{"protocol": "kserve-v2", "url": "http://models.internal:8080", "model": "m", "task": "regression", "n_features": 3, "secret": "sec_key", "verify": false}'
\set QUIET off

SET ROLE regress_sec_ann;
SELECT maas_secret_set('sec_key', 'sk-ann-0123');
SELECT name, owner, type::text = 'maas.' || maas.secret_type_name('sec_key') AS its_type
  FROM maas.secrets;
RESET ROLE;
-- the type: ann's, usable by nobody else, named after the secret
SELECT t.typname ~ '^secret_[0-9a-f]{32}$' AS named_by_hash, pg_get_userbyid(t.typowner) AS owner,
       has_type_privilege('regress_sec_ben', t.oid, 'USAGE') AS ben,
       obj_description(t.oid, 'pg_type')
  FROM maas.secret s JOIN pg_type t ON t.oid = s.anchor WHERE s.name = 'sec_key';

-- the owner cannot be dropped
DROP ROLE regress_sec_ann;

-- a renamed owner keeps the secret, may change it, and its models use it
ALTER ROLE regress_sec_ann RENAME TO regress_sec_ann2;
SELECT name, owner FROM maas.secrets;
SET ROLE regress_sec_ann2;
SELECT name, owner FROM maas.secrets;
SELECT maas_secret_set('sec_key', 'sk-ann-4567');
SELECT maas_register_remote('sec_ann_model', :'endpoint') AS version;
RESET ROLE;

-- a new role of the old name gets nothing of it
CREATE ROLE regress_sec_ann IN ROLE regress_sec_users;
SET ROLE regress_sec_ann;
SELECT name, owner FROM maas.secrets;
SELECT maas_secret_set('sec_key', 'sk-impostor');
SELECT maas_secret_drop('sec_key');
SELECT maas_register_remote('sec_imp_model', :'endpoint');
RESET ROLE;

-- REASSIGN OWNED gives it (and the model) to ben
REASSIGN OWNED BY regress_sec_ann2 TO regress_sec_ben;
SELECT name, owner FROM maas.secrets;
SELECT model, owner FROM maas.models WHERE model LIKE 'sec\_%';
SET ROLE regress_sec_ann2;
SELECT name, owner FROM maas.secrets;
SELECT maas_secret_set('sec_key', 'sk-ann-again');
SET ROLE regress_sec_ben;
SELECT name, owner FROM maas.secrets;
SELECT maas_secret_set('sec_key', 'sk-ben-0123');
RESET ROLE;
DROP ROLE regress_sec_ann2;

-- DROP OWNED drops it with its type (and ben's model)
DROP OWNED BY regress_sec_ben;
SELECT count(*) AS secrets FROM maas.secret;
SELECT count(*) AS types FROM pg_type WHERE typname = maas.secret_type_name('sec_key');
SELECT count(*) AS models FROM maas.models WHERE model LIKE 'sec\_%';
DROP ROLE regress_sec_ben;
CREATE ROLE regress_sec_ben IN ROLE regress_sec_users;
SET ROLE regress_sec_ben;
SELECT name, owner FROM maas.secrets;
SELECT maas_register_remote('sec_ben_model', :'endpoint');
RESET ROLE;

-- DROP TYPE by its owner, and maas_secret_drop, take both the row and the type
SET ROLE regress_sec_ann;
SELECT maas_secret_set('sec_key', 'sk-ann-0123');
SELECT maas_secret_set('sec_key2', 'sk-ann-0123');
SELECT format('DROP TYPE %s', type) AS drop_type FROM maas.secrets WHERE name = 'sec_key' \gset
:drop_type;
SELECT maas_secret_drop('sec_key2');
SELECT count(*) AS secrets FROM maas.secrets;
RESET ROLE;
SELECT count(*) AS types FROM pg_type
 WHERE typname IN (maas.secret_type_name('sec_key'), maas.secret_type_name('sec_key2'));

-- after a restore (pg_dump keeps the type, not the row), the secret's
-- name is still its owner's: only the owner sets its value again
SET ROLE regress_sec_ann;
SELECT maas_secret_set('sec_key', 'sk-ann-0123');
SELECT maas_secret_set('sec_key2', 'sk-ann-0123');
RESET ROLE;
DELETE FROM maas.secret WHERE name LIKE 'sec\_%';	-- a restore leaves the types only
SET ROLE regress_sec_ben;
SELECT maas_secret_set('sec_key', 'sk-ben-taking-over');
SELECT maas_secret_drop('sec_key');
SET ROLE regress_sec_ann;
SELECT name, owner FROM maas.secrets;
SELECT maas_secret_set('sec_key', 'sk-ann-restored');
SELECT maas_secret_drop('sec_key2');	-- a secret without its value goes too
SELECT name, owner FROM maas.secrets;
SELECT maas_secret_drop('sec_key');
RESET ROLE;
SELECT count(*) AS types FROM pg_type
 WHERE typname IN (maas.secret_type_name('sec_key'), maas.secret_type_name('sec_key2'));

-- clean up
RESET maas.remote_allowed_hosts;
REVOKE EXECUTE ON FUNCTION maas_secret_set(text, text), maas_secret_drop(text),
       maas_register_remote(text, jsonb)
  FROM regress_sec_users;
DROP ROLE regress_sec_ann, regress_sec_ben, regress_sec_users;
