/*
 * 09_owners.sql: a model's owner and grants become those of a type it owns,
 * which PostgreSQL's shared dependencies track (issue 9, defect 2).  0.1
 * recorded them by name, so that DROP ROLE left models behind for the next
 * role of that name; here each model of 0.1 gets its type, owned by its
 * owner (or, if 0.1 let that role be dropped, by the registry's owner, with
 * a warning) and granted to its grantees that still exist.
 */

ALTER TABLE maas.model ALTER COLUMN owner DROP NOT NULL;
ALTER TABLE maas.model ADD COLUMN anchor pg_catalog.regtype;
ALTER TABLE maas.model ADD CONSTRAINT model_anchor_key UNIQUE (anchor);
