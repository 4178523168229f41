/* 10_backend.sql: the matrix backend (issue 10) -- maas_blas_info() of sql/install/70_backend.sql */

CREATE FUNCTION maas_blas_info(
	OUT component text, OUT backend text, OUT kernel text,
	OUT library text, OUT version text, OUT threads integer,
	OUT detail text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_blas_info_rows'
LANGUAGE C VOLATILE PARALLEL SAFE;
