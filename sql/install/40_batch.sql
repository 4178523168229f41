/* 40_batch.sql: scoring a row set in batches (part of the install script) */

/*
 * query yields (key, features): key smallint, integer or bigint; features
 * real[] or double precision[].  STABLE like maas_predict: the query runs
 * read-only under the statement's snapshot.  PARALLEL RESTRICTED: it runs
 * its query itself (which may use a parallel plan of its own), so it must
 * run in the leader.  batch_size NULL means maas.batch_size; version NULL
 * means the deployed version.
 */
CREATE FUNCTION maas_predict_batch(model text, query text,
								   batch_size integer DEFAULT NULL,
								   version integer DEFAULT NULL)
RETURNS TABLE (id bigint, prediction double precision)
AS 'MODULE_PATHNAME', 'maas_predict_batch'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 1000 ROWS 1000;

CREATE FUNCTION maas_predict_proba_batch(model text, query text,
										 batch_size integer DEFAULT NULL,
										 version integer DEFAULT NULL)
RETURNS TABLE (id bigint, prediction double precision, proba real[])
AS 'MODULE_PATHNAME', 'maas_predict_proba_batch'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 1000 ROWS 1000;
