/* 70_backend.sql: the matrix backend, as a DBA sees it (part of the install script) */

/*
 * One row for the CPU (its brand, family and model, the features maas may
 * use and those maas.cpu_features_disable took away), one for the BLAS
 * library (the OpenBLAS core it runs, and the core type maas set), one for
 * oneDNN (its ISA, or why it is not loaded), and one per matrix operation:
 * which library runs it, with which kernel, on how many threads.  It opens
 * the backend in the session when nothing has yet.  VOLATILE: what it says
 * follows the session's settings.
 */
CREATE FUNCTION maas_blas_info(
	OUT component text, OUT backend text, OUT kernel text,
	OUT library text, OUT version text, OUT threads integer,
	OUT detail text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_blas_info_rows'
LANGUAGE C VOLATILE PARALLEL SAFE;
