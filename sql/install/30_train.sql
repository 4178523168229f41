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
