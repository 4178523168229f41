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
