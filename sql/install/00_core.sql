/* 00_core.sql: the model registry, its views, and serving (part of the install script) */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION maas" to load this file. \quit

/*
 * Catalog.  Tables live in schema maas and belong to the extension; users
 * read them through the views below and change them only through the
 * maas_* functions, which write as the catalog's owner after checking the
 * caller's rights.  A version's weights (safetensors bytes) are in
 * maas.weight_chunk (20_weights.sql); the weights column here holds them
 * only for versions written by maas 0.1 and restored from a 0.1 dump, and
 * is NULL otherwise.  It is stored EXTERNAL: floats do not compress, and
 * pglz would only cost time.  The C code reads these tables by attribute
 * number: add columns only at the end.
 */
CREATE SCHEMA maas;
COMMENT ON SCHEMA maas IS 'model registry of the maas extension';

CREATE SEQUENCE maas.model_id_seq;
CREATE SEQUENCE maas.version_id_seq;
CREATE SEQUENCE maas.deployment_id_seq;

/*
 * A model's owner and grants are those of its type, maas.model_<model_id>
 * (anchor; created by 10_owners.sql's trigger), an object PostgreSQL's
 * shared dependencies track: DROP ROLE of its owner or of a grantee fails
 * as for any object, REASSIGN OWNED and DROP OWNED handle it, a rename
 * keeps it.  owner and acl hold 0.1's names and grants only until the
 * model has its type (an upgrade, or a 0.1 dump restored), then NULL.
 */
CREATE TABLE maas.model (
	model_id		 bigint NOT NULL DEFAULT pg_catalog.nextval('maas.model_id_seq'::pg_catalog.regclass),
	name			 text COLLATE "C" NOT NULL,
	owner			 name,
	last_version	 integer NOT NULL DEFAULT 0,
	deployed_version integer,
	created_at		 timestamptz NOT NULL DEFAULT pg_catalog.now(),
	acl				 aclitem[],
	anchor			 pg_catalog.regtype,
	CONSTRAINT model_pkey PRIMARY KEY (model_id),
	CONSTRAINT model_name_key UNIQUE (name),
	CONSTRAINT model_anchor_key UNIQUE (anchor)
);

CREATE TABLE maas.version (
	version_id		bigint NOT NULL DEFAULT pg_catalog.nextval('maas.version_id_seq'::pg_catalog.regclass),
	model_id		bigint NOT NULL,
	version			integer NOT NULL,
	algorithm		text NOT NULL,
	task			text NOT NULL,
	n_features		integer NOT NULL,
	n_outputs		integer NOT NULL,
	config			jsonb NOT NULL,
	weights			bytea,
	sha256			bytea NOT NULL,
	bytes			bigint NOT NULL,
	dtype			text NOT NULL,
	metrics			jsonb,
	train_stats		jsonb,
	parent_version	integer,
	created_by		name NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT version_pkey PRIMARY KEY (version_id),
	CONSTRAINT version_model_version_key UNIQUE (model_id, version),
	CONSTRAINT version_model_fkey FOREIGN KEY (model_id)
		REFERENCES maas.model (model_id) ON DELETE CASCADE,
	CONSTRAINT version_task_check CHECK (task OPERATOR(pg_catalog.=) ANY (ARRAY['classification', 'regression', 'generation', 'embedding', 'clustering']))
);
ALTER TABLE maas.version ALTER COLUMN weights SET STORAGE EXTERNAL;

CREATE TABLE maas.deployment (
	deployment_id	 bigint NOT NULL DEFAULT pg_catalog.nextval('maas.deployment_id_seq'::pg_catalog.regclass),
	model_id		 bigint NOT NULL,
	version			 integer NOT NULL,
	previous_version integer,
	strategy		 text NOT NULL,
	deployed_by		 name NOT NULL,
	deployed_at		 timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT deployment_pkey PRIMARY KEY (deployment_id),
	CONSTRAINT deployment_model_fkey FOREIGN KEY (model_id)
		REFERENCES maas.model (model_id) ON DELETE CASCADE
);
CREATE INDEX deployment_model_idx ON maas.deployment (model_id, deployment_id);

-- a version is immutable once written
CREATE FUNCTION maas.version_immutable() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RAISE EXCEPTION 'model versions are immutable'
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  HINT = 'Register a new version instead.';
END
$$;
CREATE TRIGGER version_immutable
	BEFORE UPDATE OF model_id, version, algorithm, task, n_features, n_outputs,
					 config, weights, sha256, bytes, dtype
	ON maas.version FOR EACH ROW EXECUTE FUNCTION maas.version_immutable();

-- pg_dump keeps the registry's rows and counters
SELECT pg_catalog.pg_extension_config_dump('maas.model', '');
SELECT pg_catalog.pg_extension_config_dump('maas.version', '');
SELECT pg_catalog.pg_extension_config_dump('maas.deployment', '');
SELECT pg_catalog.pg_extension_config_dump('maas.model_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('maas.version_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('maas.deployment_id_seq', '');

-- may the current user predict with the model (false if there is none); the
-- views show what was learnt from a model to those it is true for
CREATE FUNCTION maas_may_use(model text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'maas_may_use'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

/*
 * Views.  No weights here: names, shapes, metrics and history only.  What
 * describes a model -- its name, owner, grants, versions and their shapes,
 * deployments -- is shown to everyone, as pg_class shows every table; what
 * was learnt from data -- a version's metrics, training runs, serving
 * statistics -- only to roles that may use the model and to
 * pg_read_all_stats (doc/privileges.md).  Every view is a security
 * barrier, so a function in a caller's WHERE clause sees only what the
 * view shows that caller.
 */
CREATE VIEW maas.versions WITH (security_barrier) AS
SELECT m.name AS model,
	   v.version,
	   v.algorithm,
	   v.task,
	   v.n_features,
	   v.n_outputs,
	   v.dtype,
	   v.bytes,
	   pg_catalog.encode(v.sha256, 'hex') AS sha256,
	   CASE WHEN pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') OR maas_may_use(m.name)
			THEN v.metrics END AS metrics,
	   v.parent_version,
	   (v.version OPERATOR(pg_catalog.=) m.deployed_version) IS TRUE AS deployed,
	   v.created_by,
	   v.created_at
  FROM maas.version v
  JOIN maas.model m ON m.model_id OPERATOR(pg_catalog.=) v.model_id;

CREATE VIEW maas.models WITH (security_barrier) AS
SELECT m.name AS model,
	   pg_catalog.pg_get_userbyid(t.typowner) AS owner,
	   COALESCE(d.task, l.task) AS task,
	   COALESCE(d.algorithm, l.algorithm) AS algorithm,
	   m.deployed_version,
	   m.last_version AS latest_version,
	   s.versions,
	   s.bytes,
	   m.created_at,
	   t.typacl AS acl,
	   m.anchor AS type
  FROM maas.model m
  LEFT JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) m.anchor::pg_catalog.oid
  LEFT JOIN maas.version d
	ON d.model_id OPERATOR(pg_catalog.=) m.model_id
   AND d.version OPERATOR(pg_catalog.=) m.deployed_version
  LEFT JOIN LATERAL (
	SELECT v.task, v.algorithm FROM maas.version v
	 WHERE v.model_id OPERATOR(pg_catalog.=) m.model_id
	 ORDER BY v.version DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (
	SELECT pg_catalog.count(*) AS versions,
		   COALESCE(pg_catalog.sum(v.bytes), 0)::bigint AS bytes
	  FROM maas.version v
	 WHERE v.model_id OPERATOR(pg_catalog.=) m.model_id) s ON true;

CREATE VIEW maas.deployments WITH (security_barrier) AS
SELECT d.deployment_id AS id,
	   m.name AS model,
	   d.version,
	   d.previous_version,
	   d.strategy,
	   d.deployed_by,
	   d.deployed_at
  FROM maas.deployment d
  JOIN maas.model m ON m.model_id OPERATOR(pg_catalog.=) d.model_id;

GRANT USAGE ON SCHEMA maas TO PUBLIC;
GRANT SELECT ON maas.models, maas.versions, maas.deployments TO PUBLIC;

/*
 * Management.  Not executable by PUBLIC: a DBA grants EXECUTE to the roles
 * that may register and deploy models (doc/privileges.md).  Changing an
 * existing model also requires owning it.
 */
CREATE FUNCTION maas_register(model text, algorithm text, weights bytea,
							  config jsonb DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_register'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_deploy(model text, version integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_deploy'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_deploy(model text, strategy text)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_deploy'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_drop(model text, version integer DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_drop'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_export(model text, version integer DEFAULT NULL,
							OUT algorithm text, OUT weights bytea, OUT config jsonb)
RETURNS record
AS 'MODULE_PATHNAME', 'maas_export'
LANGUAGE C STABLE PARALLEL UNSAFE;

CREATE FUNCTION maas_grant(model text, grantee text)
RETURNS void
AS 'MODULE_PATHNAME', 'maas_grant'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_revoke(model text, grantee text)
RETURNS void
AS 'MODULE_PATHNAME', 'maas_revoke'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION maas_register(text, text, bytea, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_grant(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_revoke(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_deploy(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_deploy(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_drop(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_export(text, integer) FROM PUBLIC;

/*
 * Serving.  Executable by PUBLIC, but a model serves only its owner (and
 * members of the owner role), superusers, and roles granted USAGE on it
 * with maas_grant.  STABLE: within one statement the deployed version does not
 * change.  PARALLEL SAFE: they write nothing, so they also run on standbys.
 * Not STRICT, so that a NULL gets an error rather than a silent NULL.
 */
CREATE FUNCTION maas_predict(model text, features real[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features double precision[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features real[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features double precision[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features real[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features double precision[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features real[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features double precision[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features real[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features double precision[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features real[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features double precision[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;
