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
