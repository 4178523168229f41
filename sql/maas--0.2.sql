-- Assembled by scripts/sql-script (make) from sql/install/*.sql: edit those parts, not this file.
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
/* 10_owners.sql: a model's owner and grants are its type's (part of the install script) */

/*
 * Each model owns a type, maas.model_<model_id>: an empty enum that
 * nothing uses, whose owner is the model's owner and whose ACL (USAGE) is
 * who may predict with it.  PostgreSQL tracks both in pg_shdepend, so
 * models follow its rules for owned objects: DROP ROLE of an owner or a
 * grantee fails ("some objects depend on it"), REASSIGN OWNED gives models
 * to another role, DROP OWNED drops them (with sql_drop below), a renamed
 * role keeps them, and a grant to a dropped role cannot remain.  A type,
 * rather than a sequence or a function, because only roles granted USAGE
 * on it can make objects depend on it (columns, casts), its one privilege
 * is USAGE, and pg_dump dumps it with its owner, grants and comment, before
 * the registry's rows, whose anchor (regtype) names it.  (Why it is built
 * so: doc/privileges.md.)
 *
 * make_anchor_type makes maas.<type_name>, such an empty enum, commented
 * about, owned by owner (the caller when owner is NULL) and usable by
 * nobody else: a model's here, a secret's in 60_remote.sql.
 *
 * make_model_type makes a model's type from a role name and grants: those
 * of the caller for a new model, and those 0.1 recorded by name for a model
 * updated from 0.1 or restored from a 0.1 dump.  A 0.1 owner that no longer
 * exists (0.1 let its role be dropped) leaves the model to the registry's
 * owner, and grants to dropped roles are left out.
 */
CREATE FUNCTION maas.make_anchor_type(type_name text, about text, owner name)
RETURNS pg_catalog.regtype
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t regtype;
BEGIN
	EXECUTE format('CREATE TYPE maas.%I AS ENUM ()', type_name);
	t := to_regtype(format('maas.%I', type_name));
	EXECUTE format('COMMENT ON TYPE %s IS %L', t, about);
	IF owner IS NOT NULL THEN
		EXECUTE format('ALTER TYPE %s OWNER TO %I', t, owner);
	END IF;
	EXECUTE format('REVOKE ALL ON TYPE %s FROM PUBLIC', t);
	RETURN t;
END
$$;
REVOKE ALL ON FUNCTION maas.make_anchor_type(text, text, name) FROM PUBLIC;

CREATE FUNCTION maas.make_model_type(model_id bigint, model text, owner name, acl aclitem[])
RETURNS pg_catalog.regtype
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	known boolean := to_regrole(quote_ident(owner)) IS NOT NULL;
	t regtype;
	grantee oid;
BEGIN
	t := maas.make_anchor_type('model_' || model_id,
							   format('owner and grants of maas model %s', quote_literal(model)),
							   CASE WHEN known THEN owner END);
	IF NOT known THEN
		RAISE WARNING 'role "%", the owner of model "%", does not exist', owner, model
			USING DETAIL = 'The model now belongs to the owner of the maas registry.',
				  HINT = format('Give it to a role with ALTER TYPE %s OWNER TO role.', t);
	END IF;
	FOR grantee IN SELECT DISTINCT e.grantee FROM aclexplode(acl) e WHERE e.privilege_type = 'USAGE'
	LOOP
		IF grantee = 0 THEN
			EXECUTE format('GRANT USAGE ON TYPE %s TO PUBLIC', t);
		ELSIF EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = grantee) THEN
			EXECUTE format('GRANT USAGE ON TYPE %s TO %I', t, pg_get_userbyid(grantee));
		END IF;
	END LOOP;
	RETURN t;
END
$$;
REVOKE ALL ON FUNCTION maas.make_model_type(bigint, text, name, aclitem[]) FROM PUBLIC;

-- a model inserted without its type gets it: new models, and 0.1 rows restored
CREATE FUNCTION maas.model_type_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	UPDATE maas.model
	   SET anchor = maas.make_model_type(NEW.model_id, NEW.name, NEW.owner, NEW.acl),
		   owner = NULL, acl = NULL
	 WHERE model_id OPERATOR(pg_catalog.=) NEW.model_id;
	RETURN NULL;
END
$$;
CREATE TRIGGER model_type AFTER INSERT ON maas.model
	FOR EACH ROW WHEN (NEW.anchor IS NULL) EXECUTE FUNCTION maas.model_type_trigger();

/*
 * A model whose type is dropped -- by DROP OWNED, DROP TYPE, DROP SCHEMA
 * CASCADE of a schema its owner moved it to -- is dropped with it, with
 * its versions, deployments and training runs; so is a secret
 * (maas.secret, 60_remote.sql, read only when the trigger fires: no part
 * of the install or upgrade scripts drops a type or schema).  The
 * function runs for any role that drops (it can drop only its own types),
 * as the registry's owner, and deletes only the models and secrets of the
 * types just dropped.
 */
CREATE FUNCTION maas.anchors_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	DELETE FROM maas.training_run r
	 USING maas.model m, pg_event_trigger_dropped_objects() d
	 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::regclass
	   AND m.anchor::oid OPERATOR(pg_catalog.=) d.objid
	   AND r.model OPERATOR(pg_catalog.=) m.name;
	DELETE FROM maas.model m
	 USING pg_event_trigger_dropped_objects() d
	 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::regclass
	   AND m.anchor::oid OPERATOR(pg_catalog.=) d.objid;
	DELETE FROM maas.secret s
	 USING pg_event_trigger_dropped_objects() d
	 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::regclass
	   AND s.anchor::oid OPERATOR(pg_catalog.=) d.objid;
END
$$;
REVOKE ALL ON FUNCTION maas.anchors_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER maas_anchors_dropped ON sql_drop
	WHEN TAG IN ('DROP TYPE', 'DROP OWNED', 'DROP SCHEMA')
	EXECUTE FUNCTION maas.anchors_dropped();
/* 20_weights.sql: weights of any size, and one copy of them per server (part of the install script) */

/*
 * A version's weights, the safetensors bytes whose sha256 and size
 * maas.version keeps, cut into chunks of 8120 bytes (the last one
 * shorter): chunk n holds bytes [n * 8120, (n + 1) * 8120).  So a version
 * may be larger than the 1 GB a value can hold, and is written and read a
 * chunk at a time.  A chunk's row fills an 8 KB page with its bytes in line
 * (STORAGE PLAIN): no TOAST, whose own 2 KB pieces, index entries and WAL
 * records cost most of a registration (doc/onnx.md).  maas_register inserts
 * the rows straight into the heap and this primary key (weights_store.c).
 * Written with the version, never changed, dropped with it; dumped and
 * replicated as any table.
 */
CREATE TABLE maas.weight_chunk (
	version_id	bigint NOT NULL,
	chunk		integer NOT NULL,
	data		bytea NOT NULL,
	CONSTRAINT weight_chunk_pkey PRIMARY KEY (version_id, chunk),
	CONSTRAINT weight_chunk_version_fkey FOREIGN KEY (version_id)
		REFERENCES maas.version (version_id) ON DELETE CASCADE
);
ALTER TABLE maas.weight_chunk ALTER COLUMN data SET STORAGE PLAIN;

CREATE TRIGGER weight_chunk_immutable
	BEFORE UPDATE ON maas.weight_chunk
	FOR EACH ROW EXECUTE FUNCTION maas.version_immutable();

SELECT pg_catalog.pg_extension_config_dump('maas.weight_chunk', '');

/*
 * Registering and exporting versions of any size (maas_register and
 * maas_export stop at 1 GB, the size of a bytea): from and to a file on the
 * server, for members of pg_read_server_files and pg_write_server_files;
 * uploaded in parts by a client, in one session; exported as a set of
 * parts.  Not executable by PUBLIC, like maas_register and maas_export.
 */
CREATE FUNCTION maas_register_file(model text, algorithm text, path text,
								   config jsonb DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_register_file'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_upload_begin()
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_upload_begin'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

CREATE FUNCTION maas_upload_append(upload integer, data bytea)
RETURNS bigint
AS 'MODULE_PATHNAME', 'maas_upload_append'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_register_upload(upload integer, model text, algorithm text,
									 config jsonb DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_register_upload'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_export_file(model text, path text, version integer DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'maas_export_file'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_export_parts(model text, version integer DEFAULT NULL,
								  OUT part integer, OUT data bytea)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_export_parts'
LANGUAGE C STABLE PARALLEL UNSAFE ROWS 1000;

REVOKE ALL ON FUNCTION maas_register_file(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_upload_begin() FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_upload_append(integer, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_register_upload(integer, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_export_file(text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_export_parts(text, integer) FROM PUBLIC;

/*
 * The shared copies (src/server/weights_shared.c): one per version's
 * weights and server, mapped by every backend that serves it, within
 * maas.shared_model_memory.  Needs shared_preload_libraries, like the
 * statistics.  A role sees the copies of the models it may use; members
 * of pg_read_all_stats see every copy, those of other databases too.
 */
CREATE FUNCTION maas_loaded_models(
	OUT sha256 bytea, OUT bytes bigint, OUT state text,
	OUT users integer, OUT in_use integer,
	OUT loaded_at timestamptz, OUT load_ms double precision,
	OUT last_used timestamptz, OUT loaded_from text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_loaded_models'
LANGUAGE C VOLATILE PARALLEL SAFE;

-- removes shared copies no statement is using: a version's, a model's, or all
CREATE FUNCTION maas_unload(model text DEFAULT NULL, version integer DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_unload'
LANGUAGE C VOLATILE PARALLEL SAFE;

REVOKE ALL ON FUNCTION maas_unload(text, integer) FROM PUBLIC;

CREATE VIEW maas.loaded_models WITH (security_barrier) AS
SELECT m.name AS model,
	   v.version,
	   pg_catalog.encode(l.sha256, 'hex') AS sha256,
	   l.bytes,
	   l.state,
	   l.users,
	   l.in_use,
	   l.loaded_at,
	   l.load_ms,
	   l.last_used,
	   l.loaded_from
  FROM maas_loaded_models() l
  LEFT JOIN maas.version v ON v.sha256 OPERATOR(pg_catalog.=) l.sha256
  LEFT JOIN maas.model m ON m.model_id OPERATOR(pg_catalog.=) v.model_id
 WHERE pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
	OR (m.name IS NOT NULL AND maas_may_use(m.name));

GRANT SELECT ON maas.loaded_models TO PUBLIC;
/* 25_clients.sql: the predict functions take what drivers send (part of the install script) */

/*
 * Features as clients send them.  Drivers send a list as numeric[]
 * (psycopg2), integer[], bigint[] or smallint[] (psycopg 3, pgx), real[] or
 * double precision[] (JDBC, pgx), or untyped (node-postgres, and any quoted
 * literal); a web client or an HTTP gateway sends JSON.  Each form is
 * declared with its own type, so that each of these is an exact match and
 * resolution is never ambiguous (with only real[] and double precision[], a
 * numeric[] or integer[] could be cast to both).  An untyped argument
 * resolves to the text form (model, [version,] input text) of 60_text.sql,
 * the string category being preferred for unknowns, which reads it as the
 * model does: as an array literal or JSON for a feature model, as text for
 * a text model (predict_json.c).  A JSON array is the
 * features array; a JSON object is a row by column name.  All behave as the
 * real[] form (same checks, same errors), and like it are STABLE, PARALLEL
 * SAFE and not STRICT.
 */

CREATE FUNCTION maas_predict(model text, features numeric[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features integer[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features bigint[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features smallint[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features jsonb)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features json)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features numeric[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features integer[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features bigint[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features smallint[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features jsonb)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features json)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features numeric[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features integer[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features bigint[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features smallint[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features jsonb)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features json)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features numeric[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features integer[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features bigint[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features smallint[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features jsonb)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features json)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features numeric[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features integer[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features bigint[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features smallint[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features json)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features numeric[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features integer[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features bigint[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features smallint[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features json)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

/*
 * maas_predict_json: the prediction, the label and the probabilities by
 * label, with the model and the version that answered, as one json object
 * (a regression's label and proba are null), for every form of features.
 */

CREATE FUNCTION maas_predict_json(model text, features real[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features double precision[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features numeric[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features integer[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features bigint[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features smallint[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features jsonb)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features json)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, input text)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_text'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features record)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_row'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features real[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features double precision[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features numeric[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features integer[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features bigint[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features smallint[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features jsonb)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features json)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, input text)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_text'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features record)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_row'
LANGUAGE C STABLE PARALLEL SAFE COST 100;
/* 30_train.sql: in-database training, evaluation, row-wise predict (part of the install script) */

/*
 * One row per successful maas_train call, written in the caller's
 * transaction together with the version it made.  A training that fails
 * or is cancelled rolls back with its transaction and leaves no row: its
 * error goes to the client and the server log (doc/training.md).
 */
CREATE SEQUENCE maas.training_run_id_seq;

CREATE TABLE maas.training_run (
	run_id		bigint NOT NULL DEFAULT pg_catalog.nextval('maas.training_run_id_seq'::pg_catalog.regclass),
	model		text COLLATE "C" NOT NULL,
	version		integer NOT NULL,
	algorithm	text NOT NULL,
	task		text NOT NULL,
	source		text NOT NULL,
	target		text NOT NULL,
	params		jsonb NOT NULL,
	rows_train	bigint NOT NULL,
	rows_test	bigint NOT NULL,
	n_features	integer NOT NULL,
	epochs		integer NOT NULL,
	seconds		double precision NOT NULL,
	loss		jsonb,
	val_loss	jsonb,
	peak_memory bigint NOT NULL,
	outcome		text NOT NULL,
	trained_by	name NOT NULL,
	started_at	timestamptz NOT NULL,
	finished_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	CONSTRAINT training_run_pkey PRIMARY KEY (run_id),
	CONSTRAINT training_run_outcome_check CHECK (outcome OPERATOR(pg_catalog.=) ANY (ARRAY['deployed', 'stored']))
);
CREATE INDEX training_run_model_idx ON maas.training_run (model, version);

SELECT pg_catalog.pg_extension_config_dump('maas.training_run', '');
SELECT pg_catalog.pg_extension_config_dump('maas.training_run_id_seq', '');

CREATE VIEW maas.training_runs WITH (security_barrier) AS
SELECT r.run_id AS id,
	   r.model,
	   r.version,
	   r.algorithm,
	   r.task,
	   r.source,
	   r.target,
	   r.rows_train,
	   r.rows_test,
	   r.n_features,
	   r.epochs,
	   r.seconds,
	   r.loss,
	   r.val_loss,
	   r.peak_memory,
	   r.outcome,
	   r.params,
	   r.trained_by,
	   r.started_at,
	   r.finished_at
  FROM maas.training_run r
 WHERE pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
	OR maas_may_use(r.model);

/*
 * trainings in flight, in every database (needs shared_preload_libraries);
 * what each trains only to its role and pg_read_all_stats, as
 * pg_stat_activity shows queries
 */
CREATE FUNCTION maas_training_progress(
	OUT pid integer, OUT datid oid, OUT userid oid, OUT model text,
	OUT algorithm text, OUT phase text, OUT epoch integer, OUT epochs integer,
	OUT rows bigint, OUT loss double precision, OUT started_at timestamptz,
	OUT elapsed double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_training_progress'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE VIEW maas.training_progress WITH (security_barrier) AS
SELECT p.pid,
	   d.datname AS database,
	   a.rolname AS trained_by,
	   p.model,
	   p.algorithm,
	   p.phase,
	   p.epoch,
	   p.epochs,
	   p.rows,
	   p.loss,
	   p.started_at,
	   pg_catalog.make_interval(secs => p.elapsed) AS elapsed
  FROM maas_training_progress() p
  LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) p.datid
  LEFT JOIN pg_catalog.pg_roles a ON a.oid OPERATOR(pg_catalog.=) p.userid;

GRANT SELECT ON maas.training_runs, maas.training_progress TO PUBLIC;

/*
 * Training writes the registry: like maas_register, not executable by
 * PUBLIC (doc/privileges.md).
 */
CREATE TYPE maas.train_result AS (
	model		text,
	version		integer,
	task		text,
	algorithm	text,
	metrics		jsonb,
	deployed	boolean
);

CREATE FUNCTION maas_train(model text, source text, target text,
						   algorithm text DEFAULT 'auto', params jsonb DEFAULT '{}')
RETURNS maas.train_result
AS 'MODULE_PATHNAME', 'maas_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION maas_train(text, text, text, text, jsonb) FROM PUBLIC;

/* reads what the caller may read, writes nothing */
CREATE FUNCTION maas_evaluate(model text, source text, target text,
							  version integer DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'maas_evaluate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

/* a whole row, matched to the model's input columns by name */
CREATE FUNCTION maas_predict(model text, features record)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_row'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features record)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_row'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features record)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_row'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features record)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_row'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features record)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_row'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features record)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_row'
LANGUAGE C STABLE PARALLEL SAFE COST 100;
/* 40_batch.sql: scoring a row set in batches (part of the install script) */

/*
 * query yields (key, features): key smallint, integer or bigint; features
 * real[] or double precision[].  STABLE like maas_predict: the query runs
 * read-only under the statement's snapshot.  PARALLEL RESTRICTED: it runs
 * its query itself (which may use a parallel plan of its own), so it must
 * run in the leader.  batch_size NULL means maas.batch_size; version NULL
 * means the deployed version.
 */
CREATE FUNCTION maas_predict_batch(model text, query text,
								   batch_size integer DEFAULT NULL,
								   version integer DEFAULT NULL)
RETURNS TABLE (id bigint, prediction double precision)
AS 'MODULE_PATHNAME', 'maas_predict_batch'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 1000 ROWS 1000;

CREATE FUNCTION maas_predict_proba_batch(model text, query text,
										 batch_size integer DEFAULT NULL,
										 version integer DEFAULT NULL)
RETURNS TABLE (id bigint, prediction double precision, proba real[])
AS 'MODULE_PATHNAME', 'maas_predict_proba_batch'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 1000 ROWS 1000;
/* 50_stats.sql: serving statistics and drift (part of the install script) */

/*
 * Serving statistics live in shared memory (src/server/stats.c) and need maas in
 * shared_preload_libraries; without it these functions raise an error that
 * says so.  Each shows only the versions of models the caller may use
 * (doc/monitoring.md).
 */
CREATE FUNCTION maas_stats(
	OUT model text, OUT version integer,
	OUT calls bigint, OUT rows bigint, OUT tokens bigint, OUT errors bigint,
	OUT total_ms double precision, OUT mean_ms double precision,
	OUT max_ms double precision,
	OUT last_call timestamptz, OUT stats_since timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_stats_0_2'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION maas_stats_info(
	OUT dealloc bigint, OUT stats_reset timestamptz,
	OUT entries bigint, OUT max_entries integer)
RETURNS record
AS 'MODULE_PATHNAME', 'maas_stats_info'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION maas_stats_drift(
	OUT model text, OUT version integer, OUT kind text,
	OUT feature integer, OUT feature_name text,
	OUT train_mean double precision, OUT serve_mean double precision,
	OUT train_std double precision, OUT serve_std double precision,
	OUT score double precision, OUT rows_seen bigint, OUT note text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_stats_drift'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION maas_stats_predictions(
	OUT model text, OUT version integer, OUT class integer, OUT label text,
	OUT train_count bigint, OUT train_share double precision,
	OUT serve_count bigint, OUT serve_share double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_stats_predictions'
LANGUAGE C VOLATILE PARALLEL SAFE;

-- forgets counters: all of them, or one model's (or version's) here
CREATE FUNCTION maas_stats_reset(model text DEFAULT NULL, version integer DEFAULT NULL)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'maas_stats_reset'
LANGUAGE C VOLATILE PARALLEL SAFE;

REVOKE ALL ON FUNCTION maas_stats_reset(text, integer) FROM PUBLIC;

CREATE VIEW maas.stats WITH (security_barrier) AS
SELECT model, version, calls, rows, tokens, errors, total_ms, mean_ms, max_ms,
	   last_call, stats_since
  FROM maas_stats();

CREATE VIEW maas.stats_info WITH (security_barrier) AS
SELECT dealloc, stats_reset, entries, max_entries FROM maas_stats_info();

-- rank: 1 for the feature that moved most in its version
CREATE VIEW maas.drift WITH (security_barrier) AS
SELECT model, version, kind, feature, feature_name,
	   train_mean, serve_mean, train_std, serve_std, score,
	   CASE WHEN kind OPERATOR(pg_catalog.=) 'feature' AND score IS NOT NULL THEN
		   pg_catalog.rank() OVER (PARTITION BY model, version, kind,
										   score IS NULL
								   ORDER BY score DESC)
	   END AS rank,
	   rows_seen, note
  FROM maas_stats_drift();

CREATE VIEW maas.prediction_distribution WITH (security_barrier) AS
SELECT model, version, class, label, train_count, train_share,
	   serve_count, serve_share
  FROM maas_stats_predictions();

GRANT SELECT ON maas.stats, maas.stats_info, maas.drift,
	  maas.prediction_distribution TO PUBLIC;
/* 60_remote.sql: remote models, weights from URLs, and the secrets they send (part of the install script) */

/*
 * Secrets: API keys that remote models send to their servers.  The table
 * belongs to the extension's owner and nobody else has any privilege on
 * it; the values are read by C code for the model's owner only
 * (src/server/remote_secret.c).  It is deliberately not marked for
 * pg_dump: a dump never holds a key (set them again after a restore).
 * The C code reads this table by attribute number: add columns at the end.
 *
 * A secret's owner is that of its type (anchor), as a model's is
 * (10_owners.sql): maas.secret_<32 hex digits of the sha256 of its name>,
 * made by maas_secret_set, so that DROP ROLE of its owner fails, REASSIGN
 * OWNED gives it away, DROP OWNED drops it (anchors_dropped there), and a
 * renamed role keeps it.  pg_dump dumps the type, not the row: a restore
 * brings back the secret's name and owner without its value, which
 * maas_secret_set gives it again (only for its owner); maas_secret_drop,
 * DROP TYPE or DROP OWNED remove it (doc/remote-models.md).
 */
CREATE TABLE maas.secret (
	name		text COLLATE "C" NOT NULL,
	anchor		pg_catalog.regtype NOT NULL,
	value		text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT secret_pkey PRIMARY KEY (name),
	CONSTRAINT secret_anchor_key UNIQUE (anchor)
);

-- the name of the type of secret name, in schema maas
CREATE FUNCTION maas.secret_type_name(name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
SELECT 'secret_' || substr(encode(sha256(convert_to(name, 'UTF8')), 'hex'), 1, 32)
$$;

-- the names and owners of the secrets a role has the privileges of; no values
CREATE VIEW maas.secrets AS
SELECT s.name, pg_catalog.pg_get_userbyid(t.typowner) AS owner, s.created_at, s.updated_at,
	   s.anchor AS type
  FROM maas.secret s
  JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) s.anchor::pg_catalog.oid
 WHERE pg_catalog.pg_has_role(t.typowner, 'USAGE');

GRANT SELECT ON maas.secrets TO PUBLIC;

CREATE FUNCTION maas_secret_set(name text, value text)
RETURNS void
AS 'MODULE_PATHNAME', 'maas_secret_set'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_secret_drop(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'maas_secret_drop'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- an HTTP endpoint (KServe v2) as the model's next version (doc/remote-models.md)
CREATE FUNCTION maas_register_remote(model text, endpoint jsonb)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_register_remote'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- safetensors weights downloaded from url, checked against sha256, registered
CREATE FUNCTION maas_register_url(model text, algorithm text, url text, sha256 text,
								  config jsonb DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_register_url'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

/* management, like maas_register: a DBA grants EXECUTE (doc/privileges.md) */
REVOKE ALL ON FUNCTION maas_secret_set(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_secret_drop(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_register_remote(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_register_url(text, text, text, text, jsonb) FROM PUBLIC;
/* 60_text.sql: text models -- tokenizers, generation, embeddings, text classification (part of maas--0.2.sql) */

/*
 * GPT-2 and BERT register with maas_register(model, 'gpt2' | 'bert',
 * weights, config): Hugging Face's model.safetensors and config.json with
 * the tokenizer's files under "tokenizer" (doc/text-models.md).  These
 * functions serve them.  Like maas_predict they resolve the deployed (or a
 * pinned) version once per statement, serve the model's owner and whom it
 * is granted to, write nothing and run on standbys.  maas_generate is
 * VOLATILE: it samples when asked to.  It takes a pinned version as the
 * "version" key of its params: an overload with a version argument would
 * make a call with three untyped literals ambiguous.
 */
CREATE FUNCTION maas_tokenize(model text, input text)
RETURNS integer[]
AS 'MODULE_PATHNAME', 'maas_tokenize'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_detokenize(model text, ids integer[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_detokenize'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_logits(model text, ids integer[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_logits'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_embed(model text, input text)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_embed'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_generate(model text, prompt text, params jsonb DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'maas_generate'
LANGUAGE C VOLATILE PARALLEL SAFE COST 100000;

/* the same over a prompt of token ids, special tokens included: the new ids */
CREATE FUNCTION maas_generate_ids(model text, ids integer[], params jsonb DEFAULT '{}')
RETURNS integer[]
AS 'MODULE_PATHNAME', 'maas_generate_ids'
LANGUAGE C VOLATILE PARALLEL SAFE COST 100000;

/* a text classifier's answers for one text */
CREATE FUNCTION maas_predict(model text, input text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_predict(model text, version integer, input text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_predict_proba(model text, input text)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_predict_proba(model text, version integer, input text)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_predict_label(model text, input text)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_predict_label(model text, version integer, input text)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

/* embeddings of a row set, many texts a forward pass: query yields (key, text) */
CREATE FUNCTION maas_embed_batch(model text, query text,
								 batch_size integer DEFAULT NULL,
								 version integer DEFAULT NULL)
RETURNS TABLE (id bigint, embedding real[])
AS 'MODULE_PATHNAME', 'maas_embed_batch'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 1000 ROWS 1000;
/* 70_backend.sql: the matrix backend, as a DBA sees it (part of the install script) */

/*
 * One row for the CPU (its brand, family and model, the features maas may
 * use and those maas.cpu_features_disable took away), one for the BLAS
 * library (the OpenBLAS core it runs, and the core type maas set), one for
 * oneDNN (its ISA, or why it is not loaded), and one per matrix operation:
 * which library runs it, with which kernel, on how many threads.  It opens
 * the backend in the session when nothing has yet.  VOLATILE: what it says
 * follows the session's settings.
 */
CREATE FUNCTION maas_blas_info(
	OUT component text, OUT backend text, OUT kernel text,
	OUT library text, OUT version text, OUT threads integer,
	OUT detail text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_blas_info_rows'
LANGUAGE C VOLATILE PARALLEL SAFE;
/* 70_tabular.sql: boosted trees and k-means (issue 16) (part of the install script) */

/* k-means trains without a target: its runs record none */
ALTER TABLE maas.training_run ALTER COLUMN target DROP NOT NULL;

/*
 * The importance of each input of a version (the deployed one by
 * default), most important first: gain for boosted trees, the absolute
 * standardized coefficient for linear and logistic models.  Reads what
 * the caller may predict with.
 */
CREATE FUNCTION maas_feature_importance(model text, version integer DEFAULT NULL,
	OUT feature text, OUT importance double precision, OUT weight bigint,
	OUT total_gain double precision, OUT cover double precision,
	OUT rank integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_feature_importance'
LANGUAGE C STABLE PARALLEL SAFE ROWS 100;
/* 75_rollouts.sql: canary and shadow deployments (part of the install script) */

/*
 * A rollout: the candidate version that serves a share of a model's calls
 * next to the deployed one (canary), or scores them in its shadow
 * (shadow).  One row per model at most, while the rollout lasts:
 * maas_promote deploys the candidate and removes the row, and any other
 * deploy of the model removes it too; dropping the candidate version ends
 * the rollout.  The serving core reads this table under each statement's
 * snapshot (src/server/rollout.c).  The C code reads it by attribute
 * number: add columns only at the end.
 */
CREATE TABLE maas.candidate (
	model_id		bigint NOT NULL,
	version			integer NOT NULL,
	strategy		text NOT NULL,
	fraction		double precision,	-- canary: share of calls; shadow: NULL
	key				text,				-- canary: routing column; NULL: by call
	deployment_id	bigint NOT NULL,
	started_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT candidate_pkey PRIMARY KEY (model_id),
	CONSTRAINT candidate_model_fkey FOREIGN KEY (model_id)
		REFERENCES maas.model (model_id) ON DELETE CASCADE,
	CONSTRAINT candidate_version_fkey FOREIGN KEY (model_id, version)
		REFERENCES maas.version (model_id, version) ON DELETE CASCADE,
	CONSTRAINT candidate_strategy_check
		CHECK (strategy OPERATOR(pg_catalog.=) ANY (ARRAY['canary', 'shadow']))
);
SELECT pg_catalog.pg_extension_config_dump('maas.candidate', '');

-- the options a canary or shadow was deployed with
ALTER TABLE maas.deployment ADD COLUMN params jsonb;

CREATE FUNCTION maas_deploy(model text, version integer, options jsonb)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_deploy_rollout'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_promote(model text)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_promote'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION maas_deploy(text, integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_promote(text) FROM PUBLIC;

-- the version that answers a call with this key now (the canary's or the
-- live one): with labels that arrive later, live accuracy per version
CREATE FUNCTION maas_route(model text, key text)
RETURNS integer
AS 'MODULE_PATHNAME', 'maas_route'
LANGUAGE C STABLE PARALLEL SAFE;

-- what a shadow was compared on, per candidate version (src/server/stats.c)
CREATE FUNCTION maas_rollout_stats(
	OUT model text, OUT version integer,
	OUT compared bigint, OUT agreed bigint, OUT abs_diff double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_rollout_stats'
LANGUAGE C VOLATILE PARALLEL SAFE;

/*
 * Per version of each model with a rollout under way: the live version and
 * its candidate, what maas.stats counted for each, and how the shadow
 * agreed with the live version.
 */
CREATE VIEW maas.rollout WITH (security_barrier) AS
SELECT m.name AS model,
	   r.version,
	   r.role,
	   c.fraction,
	   c.key,
	   c.started_at AS since,
	   s.calls,
	   s.calls::double precision OPERATOR(pg_catalog./)
		 NULLIF(pg_catalog.sum(s.calls) OVER (PARTITION BY m.name), 0) AS share,
	   s.errors,
	   s.mean_ms,
	   x.compared,
	   x.agreed::double precision OPERATOR(pg_catalog./) NULLIF(x.compared, 0) AS agreement,
	   x.abs_diff OPERATOR(pg_catalog./) NULLIF(x.compared, 0) AS mean_abs_diff,
	   s.stats_since
  FROM maas.candidate c
  JOIN maas.model m ON m.model_id OPERATOR(pg_catalog.=) c.model_id
  CROSS JOIN LATERAL (VALUES (m.deployed_version, 'live'::text),
							 (c.version, c.strategy)) r(version, role)
  LEFT JOIN maas_stats() s
	ON s.model OPERATOR(pg_catalog.=) m.name AND s.version OPERATOR(pg_catalog.=) r.version
  LEFT JOIN maas_rollout_stats() x
	ON x.model OPERATOR(pg_catalog.=) m.name AND x.version OPERATOR(pg_catalog.=) r.version;

GRANT SELECT ON maas.rollout TO PUBLIC;
/* 76_windows.sql: hourly windows of the serving statistics (part of the install script) */

/*
 * What maas.stats and maas.drift count, per version and hour, for the last
 * maas.stats_window_hours hours (src/server/stats_window.c).  Like the
 * other statistics they need maas in shared_preload_libraries, and show
 * only the versions of models the caller may use (doc/monitoring.md).
 */
CREATE FUNCTION maas_stats_window(
	OUT model text, OUT version integer,
	OUT window_start timestamptz, OUT window_end timestamptz,
	OUT calls bigint, OUT rows bigint, OUT tokens bigint, OUT errors bigint,
	OUT total_ms double precision, OUT mean_ms double precision,
	OUT max_ms double precision, OUT last_call timestamptz,
	OUT compared bigint, OUT agreed bigint, OUT abs_diff double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_stats_window'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION maas_stats_drift_window(
	OUT model text, OUT version integer,
	OUT window_start timestamptz, OUT window_end timestamptz,
	OUT kind text, OUT feature integer, OUT feature_name text,
	OUT train_mean double precision, OUT serve_mean double precision,
	OUT train_std double precision, OUT serve_std double precision,
	OUT score double precision, OUT rows_seen bigint, OUT note text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_stats_drift_window'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE VIEW maas.stats_window WITH (security_barrier) AS
SELECT model, version, window_start, window_end, calls, rows, tokens, errors,
	   total_ms, mean_ms, max_ms, last_call, compared,
	   agreed::double precision OPERATOR(pg_catalog./) NULLIF(compared, 0) AS agreement,
	   abs_diff OPERATOR(pg_catalog./) NULLIF(compared, 0) AS mean_abs_diff
  FROM maas_stats_window();

-- rank: 1 for the feature that moved most in its version and window
CREATE VIEW maas.drift_window WITH (security_barrier) AS
SELECT model, version, window_start, window_end, kind, feature, feature_name,
	   train_mean, serve_mean, train_std, serve_std, score,
	   CASE WHEN kind OPERATOR(pg_catalog.=) 'feature' AND score IS NOT NULL THEN
		   pg_catalog.rank() OVER (PARTITION BY model, version, window_start, kind,
										   score IS NULL
								   ORDER BY score DESC)
	   END AS rank,
	   rows_seen, note
  FROM maas_stats_drift_window();

GRANT SELECT ON maas.stats_window, maas.drift_window TO PUBLIC;
/* 80_onnx.sql: ONNX import -- maas_onnx_inspect (part of maas--0.2.sql) */

/*
 * A .onnx file registers with maas_register(model, 'onnx', bytes [,
 * config]): its graph is translated into a layer program at registration
 * (doc/onnx.md).  maas_onnx_inspect lists what a model uses before that:
 * one row per operator, in order of first use, with how many nodes use it,
 * the first of them, and whether maas translates it.  It reads only its
 * argument, so PUBLIC may run it; not STRICT, so that a NULL gets an error.
 */
CREATE FUNCTION maas_onnx_inspect(model bytea,
								  OUT op text, OUT domain text, OUT nodes integer,
								  OUT first_node integer, OUT first_node_name text,
								  OUT supported boolean, OUT note text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_onnx_inspect'
LANGUAGE C IMMUTABLE PARALLEL SAFE COST 1000 ROWS 20;
/* 80_optimize.sql: quantization and pruning, each a new version (part of the install script) */

/*
 * What maas_quantize and maas_prune return: the new version, its parent,
 * the method, and the two measured side by side on the same rows
 * (doc/optimization.md).  speed_* are rows per second (tokens per second
 * for a text model) of one batch; agreement is the share of rows whose
 * top class (or token) is the same, max_abs_diff the largest difference of
 * any output.  The same numbers are stored in the version's metrics,
 * under "optimization".
 */
CREATE TYPE maas.optimize_result AS (
	model			text,
	version			integer,
	parent_version	integer,
	method			text,
	bytes_before	bigint,
	bytes_after		bigint,
	metrics_before	jsonb,
	metrics_after	jsonb,
	speed_before	double precision,
	speed_after		double precision,
	agreement		double precision,
	max_abs_diff	double precision,
	deployed		boolean
);

CREATE FUNCTION maas_quantize(model text, version integer, method text,
							  params jsonb DEFAULT NULL)
RETURNS maas.optimize_result
AS 'MODULE_PATHNAME', 'maas_quantize'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- version 'latest' (or a number as text)
CREATE FUNCTION maas_quantize(model text, version text, method text,
							  params jsonb DEFAULT NULL)
RETURNS maas.optimize_result
AS 'MODULE_PATHNAME', 'maas_quantize'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_prune(model text, version integer, params jsonb)
RETURNS maas.optimize_result
AS 'MODULE_PATHNAME', 'maas_prune'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION maas_prune(model text, version text, params jsonb)
RETURNS maas.optimize_result
AS 'MODULE_PATHNAME', 'maas_prune'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION maas_quantize(text, integer, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_quantize(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_prune(text, integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION maas_prune(text, text, jsonb) FROM PUBLIC;
/* 99_barriers.sql: every view a security barrier (part of the install script) */

/*
 * Every view of schema maas is a security barrier (issue 9, defect 1): a
 * function in a caller's WHERE clause must see only what the view shows
 * that caller.  The views are made so where they are defined; this part
 * comes last and makes sure of it for every view, so that it holds for
 * views other parts define or re-create too (test/sql/views_privacy.sql
 * probes them all).
 */
DO $$
DECLARE
	v regclass;
BEGIN
	FOR v IN SELECT c.oid FROM pg_catalog.pg_class c
			  WHERE c.relnamespace OPERATOR(pg_catalog.=) 'maas'::pg_catalog.regnamespace
				AND c.relkind OPERATOR(pg_catalog.=) 'v'
			  ORDER BY c.relname
	LOOP
		EXECUTE pg_catalog.format('ALTER VIEW %s SET (security_barrier = true)', v);
	END LOOP;
END
$$;
