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
