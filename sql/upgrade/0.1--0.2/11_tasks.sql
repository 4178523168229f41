/* 11_tasks.sql: versions of text models (generation, embedding) and of clusterings */

ALTER TABLE maas.version DROP CONSTRAINT version_task_check;
ALTER TABLE maas.version ADD CONSTRAINT version_task_check
	CHECK (task OPERATOR(pg_catalog.=) ANY (ARRAY['classification', 'regression', 'generation', 'embedding', 'clustering']));
