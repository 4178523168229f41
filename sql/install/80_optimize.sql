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
