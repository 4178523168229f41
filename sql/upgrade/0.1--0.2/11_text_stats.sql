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
