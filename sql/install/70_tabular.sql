/* 70_tabular.sql: boosted trees and k-means (issue 16) (part of the install script) */

/* k-means trains without a target: its runs record none */
ALTER TABLE maas.training_run ALTER COLUMN target DROP NOT NULL;

/*
 * The importance of each input of a version (the deployed one by
 * default), most important first: gain for boosted trees, the absolute
 * standardized coefficient for linear and logistic models.  Reads what
 * the caller may predict with.
 */
CREATE FUNCTION maas_feature_importance(model text, version integer DEFAULT NULL,
	OUT feature text, OUT importance double precision, OUT weight bigint,
	OUT total_gain double precision, OUT cover double precision,
	OUT rank integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_feature_importance'
LANGUAGE C STABLE PARALLEL SAFE ROWS 100;
