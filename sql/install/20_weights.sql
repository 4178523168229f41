/* 20_weights.sql: weights of any size, and one copy of them per server (part of the install script) */

/*
 * A version's weights, the safetensors bytes whose sha256 and size
 * maas.version keeps, cut into chunks of 1 MB (the last one shorter):
 * chunk n holds bytes [n MB, (n + 1) MB).  So a version may be larger than
 * the 1 GB a value can hold, and is written and read a chunk at a time.
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
ALTER TABLE maas.weight_chunk ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TRIGGER weight_chunk_immutable
	BEFORE UPDATE ON maas.weight_chunk
	FOR EACH ROW EXECUTE FUNCTION maas.version_immutable();

SELECT pg_catalog.pg_extension_config_dump('maas.weight_chunk', '');
