/* 09_owners_types_migrate.sql: the models of 0.1 get their types (issue 9, defect 2) */
-- the models of 0.1: their types are theirs, not the extension's
DO $$
DECLARE
	m record;
	t regtype;
BEGIN
	FOR m IN SELECT model_id, name, owner, acl FROM maas.model ORDER BY model_id
	LOOP
		t := maas.make_model_type(m.model_id, m.name, m.owner, m.acl);
		EXECUTE format('ALTER EXTENSION maas DROP TYPE %s', t);
		UPDATE maas.model SET anchor = t, owner = NULL, acl = NULL
		 WHERE model_id OPERATOR(pg_catalog.=) m.model_id;
	END LOOP;
END
$$;

CREATE OR REPLACE VIEW maas.models WITH (security_barrier) AS
SELECT m.name AS model,
	   pg_catalog.pg_get_userbyid(t.typowner) AS owner,
	   COALESCE(d.task, l.task) AS task,
	   COALESCE(d.algorithm, l.algorithm) AS algorithm,
	   m.deployed_version,
	   m.last_version AS latest_version,
	   s.versions,
	   s.bytes,
	   m.created_at,
	   t.typacl AS acl,
	   m.anchor AS type
  FROM maas.model m
  LEFT JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) m.anchor::pg_catalog.oid
  LEFT JOIN maas.version d
	ON d.model_id OPERATOR(pg_catalog.=) m.model_id
   AND d.version OPERATOR(pg_catalog.=) m.deployed_version
  LEFT JOIN LATERAL (
	SELECT v.task, v.algorithm FROM maas.version v
	 WHERE v.model_id OPERATOR(pg_catalog.=) m.model_id
	 ORDER BY v.version DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (
	SELECT pg_catalog.count(*) AS versions,
		   COALESCE(pg_catalog.sum(v.bytes), 0)::bigint AS bytes
	  FROM maas.version v
	 WHERE v.model_id OPERATOR(pg_catalog.=) m.model_id) s ON true;

-- 0.1 kept the training runs of dropped models, which a later model of the
-- name showed its owner: those older than their model go
DELETE FROM maas.training_run r
 WHERE NOT EXISTS (SELECT 1 FROM maas.model m
					WHERE m.name OPERATOR(pg_catalog.=) r.model
					  AND m.created_at OPERATOR(pg_catalog.<=) r.started_at);
