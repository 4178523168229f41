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
