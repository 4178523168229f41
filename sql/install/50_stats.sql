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
