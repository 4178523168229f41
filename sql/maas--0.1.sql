/* 00_core.sql: the model registry, its views, and serving (part of maas--0.1.sql) */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION maas" to load this file. \quit

/*
 * Catalog.  Tables live in schema maas and belong to the extension; users
 * read them through the views below and change them only through the
 * maas_* functions, which write as the catalog's owner after checking the
 * caller's rights.  The weights column holds safetensors bytes and is
 * stored EXTERNAL: floats do not compress, and pglz would only cost time.
 * The C code reads these tables by attribute number: add columns only at
 * the end.
 */
CREATE SCHEMA maas;
COMMENT ON SCHEMA maas IS 'model registry of the maas extension';

CREATE SEQUENCE maas.model_id_seq;
CREATE SEQUENCE maas.version_id_seq;
CREATE SEQUENCE maas.deployment_id_seq;

CREATE TABLE maas.model (
	model_id		 bigint NOT NULL DEFAULT pg_catalog.nextval('maas.model_id_seq'::pg_catalog.regclass),
	name			 text COLLATE "C" NOT NULL,
	owner			 name NOT NULL,
	last_version	 integer NOT NULL DEFAULT 0,
	deployed_version integer,
	created_at		 timestamptz NOT NULL DEFAULT pg_catalog.now(),
	acl				 aclitem[],	-- USAGE: who besides the owner may predict
	CONSTRAINT model_pkey PRIMARY KEY (model_id),
	CONSTRAINT model_name_key UNIQUE (name)
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
	weights			bytea NOT NULL,
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
	CONSTRAINT version_task_check CHECK (task OPERATOR(pg_catalog.=) ANY (ARRAY['classification', 'regression']))
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

/*
 * Views.  No weights here: names, shapes, metrics and history only.
 */
CREATE VIEW maas.versions AS
SELECT m.name AS model,
	   v.version,
	   v.algorithm,
	   v.task,
	   v.n_features,
	   v.n_outputs,
	   v.dtype,
	   v.bytes,
	   pg_catalog.encode(v.sha256, 'hex') AS sha256,
	   v.metrics,
	   v.parent_version,
	   (v.version OPERATOR(pg_catalog.=) m.deployed_version) IS TRUE AS deployed,
	   v.created_by,
	   v.created_at
  FROM maas.version v
  JOIN maas.model m ON m.model_id OPERATOR(pg_catalog.=) v.model_id;

CREATE VIEW maas.models AS
SELECT m.name AS model,
	   m.owner,
	   COALESCE(d.task, l.task) AS task,
	   COALESCE(d.algorithm, l.algorithm) AS algorithm,
	   m.deployed_version,
	   m.last_version AS latest_version,
	   s.versions,
	   s.bytes,
	   m.created_at,
	   m.acl
  FROM maas.model m
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

CREATE VIEW maas.deployments AS
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

-- may the current user predict with the model (false if there is none)
CREATE FUNCTION maas_may_use(model text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'maas_may_use'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

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
/* 30_train.sql: in-database training, evaluation, row-wise predict (part of maas--0.1.sql) */

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

CREATE VIEW maas.training_runs AS
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

/* trainings in flight, in every database (needs shared_preload_libraries) */
CREATE FUNCTION maas_training_progress(
	OUT pid integer, OUT datid oid, OUT userid oid, OUT model text,
	OUT algorithm text, OUT phase text, OUT epoch integer, OUT epochs integer,
	OUT rows bigint, OUT loss double precision, OUT started_at timestamptz,
	OUT elapsed double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_training_progress'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE VIEW maas.training_progress AS
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
/* 40_batch.sql: scoring a row set in batches (part of maas--0.1.sql) */

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
/* 50_stats.sql: serving statistics and drift (part of maas--0.1.sql) */

/*
 * Serving statistics live in shared memory (src/stats.c) and need maas in
 * shared_preload_libraries; without it these functions raise an error that
 * says so.  Each shows only the versions of models the caller may use
 * (doc/monitoring.md).
 */
CREATE FUNCTION maas_stats(
	OUT model text, OUT version integer,
	OUT calls bigint, OUT rows bigint, OUT errors bigint,
	OUT total_ms double precision, OUT mean_ms double precision,
	OUT max_ms double precision,
	OUT last_call timestamptz, OUT stats_since timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_stats'
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

CREATE VIEW maas.stats AS
SELECT model, version, calls, rows, errors, total_ms, mean_ms, max_ms,
	   last_call, stats_since
  FROM maas_stats();

CREATE VIEW maas.stats_info AS
SELECT dealloc, stats_reset, entries, max_entries FROM maas_stats_info();

-- rank: 1 for the feature that moved most in its version
CREATE VIEW maas.drift AS
SELECT model, version, kind, feature, feature_name,
	   train_mean, serve_mean, train_std, serve_std, score,
	   CASE WHEN kind OPERATOR(pg_catalog.=) 'feature' AND score IS NOT NULL THEN
		   pg_catalog.rank() OVER (PARTITION BY model, version, kind,
										   score IS NULL
								   ORDER BY score DESC)
	   END AS rank,
	   rows_seen, note
  FROM maas_stats_drift();

CREATE VIEW maas.prediction_distribution AS
SELECT model, version, class, label, train_count, train_share,
	   serve_count, serve_share
  FROM maas_stats_predictions();

GRANT SELECT ON maas.stats, maas.stats_info, maas.drift,
	  maas.prediction_distribution TO PUBLIC;
