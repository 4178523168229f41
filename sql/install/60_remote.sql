/* 60_remote.sql: remote models, weights from URLs, and the secrets they send (part of the install script) */

/*
 * Secrets: API keys that remote models send to their servers.  The table
 * belongs to the extension's owner and nobody else has any privilege on
 * it; the values are read by C code for the model's owner only
 * (src/server/remote_secret.c).  It is deliberately not marked for
 * pg_dump: a dump never holds a key (set them again after a restore).
 * The C code reads this table by attribute number: add columns at the end.
 */
CREATE TABLE maas.secret (
	name		text COLLATE "C" NOT NULL,
	owner		name NOT NULL,
	value		text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT secret_pkey PRIMARY KEY (name)
);

-- the names and owners of the secrets a role has the privileges of; no values
CREATE VIEW maas.secrets AS
SELECT s.name, s.owner, s.created_at, s.updated_at
  FROM maas.secret s
 WHERE EXISTS (SELECT FROM pg_catalog.pg_roles r
				WHERE r.rolname OPERATOR(pg_catalog.=) s.owner
				  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

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
