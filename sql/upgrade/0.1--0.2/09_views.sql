/*
 * 09_views.sql: a version's metrics shown only to roles that may use its
 * model (issue 9, defect 1)
 */

-- (every view is made a security barrier by 99_barriers.sql, which runs
-- last, after the parts of other issues that re-create views)

CREATE OR REPLACE VIEW maas.versions WITH (security_barrier) AS
SELECT m.name AS model,
	   v.version,
	   v.algorithm,
	   v.task,
	   v.n_features,
	   v.n_outputs,
	   v.dtype,
	   v.bytes,
	   pg_catalog.encode(v.sha256, 'hex') AS sha256,
	   CASE WHEN pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') OR maas_may_use(m.name)
			THEN v.metrics END AS metrics,
	   v.parent_version,
	   (v.version OPERATOR(pg_catalog.=) m.deployed_version) IS TRUE AS deployed,
	   v.created_by,
	   v.created_at
  FROM maas.version v
  JOIN maas.model m ON m.model_id OPERATOR(pg_catalog.=) v.model_id;
