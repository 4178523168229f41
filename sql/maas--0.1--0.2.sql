-- Assembled by scripts/sql-script (make) from sql/upgrade/0.1--0.2/: edit those parts, not this file.
\echo Use "ALTER EXTENSION maas UPDATE TO '0.2'" to load this file. \quit

/*
 * 09_owners.sql: a model's owner and grants become those of a type it owns,
 * which PostgreSQL's shared dependencies track (issue 9, defect 2).  0.1
 * recorded them by name, so that DROP ROLE left models behind for the next
 * role of that name; here each model of 0.1 gets its type, owned by its
 * owner (or, if 0.1 let that role be dropped, by the registry's owner, with
 * a warning) and granted to its grantees that still exist.
 */

ALTER TABLE maas.model ALTER COLUMN owner DROP NOT NULL;
ALTER TABLE maas.model ADD COLUMN anchor pg_catalog.regtype;
ALTER TABLE maas.model ADD CONSTRAINT model_anchor_key UNIQUE (anchor);

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

/* 09_owners_types_migrate.sql: the models of 0.1 get their types (issue 9, defect 2) */
-- the models of 0.1: their types are theirs, not the extension's
DO $$
DECLARE
	m record;
	t regtype;
BEGIN
	FOR m IN SELECT model_id, name, owner, acl FROM maas.model ORDER BY model_id
	LOOP
		t := maas.make_model_type(m.model_id, m.name, m.owner, m.acl);
		EXECUTE format('ALTER EXTENSION maas DROP TYPE %s', t);
		UPDATE maas.model SET anchor = t, owner = NULL, acl = NULL
		 WHERE model_id OPERATOR(pg_catalog.=) m.model_id;
	END LOOP;
END
$$;

CREATE OR REPLACE VIEW maas.models WITH (security_barrier) AS
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

-- 0.1 kept the training runs of dropped models, which a later model of the
-- name showed its owner: those older than their model go
DELETE FROM maas.training_run r
 WHERE NOT EXISTS (SELECT 1 FROM maas.model m
					WHERE m.name OPERATOR(pg_catalog.=) r.model
					  AND m.created_at OPERATOR(pg_catalog.<=) r.started_at);

/*
 * 09_views.sql: a version's metrics shown only to roles that may use its
 * model (issue 9, defect 1)
 */

-- (every view is made a security barrier by 99_barriers.sql, which runs
-- last, after the parts of other issues that re-create views)

CREATE OR REPLACE VIEW maas.versions WITH (security_barrier) AS
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

/* 11_tasks.sql: versions of text models (generation, embedding) and of clusterings */

ALTER TABLE maas.version DROP CONSTRAINT version_task_check;
ALTER TABLE maas.version ADD CONSTRAINT version_task_check
	CHECK (task OPERATOR(pg_catalog.=) ANY (ARRAY['classification', 'regression', 'generation', 'embedding', 'clustering']));

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

/* 11_text_stats.sql: maas.stats counts the tokens text models generate (issue 11) */

-- maas.stats gains the tokens generated; the 0.1 C function stays for 0.1 installs
DROP VIEW maas.stats;
DROP FUNCTION maas_stats();
CREATE FUNCTION maas_stats(
	OUT model text, OUT version integer,
	OUT calls bigint, OUT rows bigint, OUT tokens bigint, OUT errors bigint,
	OUT total_ms double precision, OUT mean_ms double precision,
	OUT max_ms double precision,
	OUT last_call timestamptz, OUT stats_since timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_stats_0_2'
LANGUAGE C VOLATILE PARALLEL SAFE;
CREATE VIEW maas.stats AS
SELECT model, version, calls, rows, tokens, errors, total_ms, mean_ms, max_ms,
	   last_call, stats_since
  FROM maas_stats();
GRANT SELECT ON maas.stats TO PUBLIC;

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

/* 12_chunks_move.sql: the weights of 0.1 versions move into chunks (issue 12) */

/*
 * Move the weights of existing versions into chunks.  substring() of an
 * EXTERNAL value reads only the TOAST chunks it needs, so this never holds
 * more than a chunk of a version at once.  The column stays, NULL, for the
 * attribute numbers the C code reads (and for 0.1 dumps restored into this
 * version, whose rows bring their weights inline).
 */
INSERT INTO maas.weight_chunk (version_id, chunk, data)
SELECT v.version_id, c.n,
	   pg_catalog.substring(v.weights, c.n * 8120 + 1, 8120)
  FROM maas.version v,
	   pg_catalog.generate_series(0, (pg_catalog.length(v.weights) - 1) / 8120) AS c(n)
 WHERE v.weights IS NOT NULL;

ALTER TABLE maas.version ALTER COLUMN weights DROP NOT NULL;
ALTER TABLE maas.version DISABLE TRIGGER version_immutable;
UPDATE maas.version SET weights = NULL WHERE weights IS NOT NULL;
ALTER TABLE maas.version ENABLE TRIGGER version_immutable;

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
