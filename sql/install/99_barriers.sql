/* 99_barriers.sql: every view a security barrier (part of the install script) */

/*
 * Every view of schema maas is a security barrier (issue 9, defect 1): a
 * function in a caller's WHERE clause must see only what the view shows
 * that caller.  The views are made so where they are defined; this part
 * comes last and makes sure of it for every view, so that it holds for
 * views other parts define or re-create too (test/sql/views_privacy.sql
 * probes them all).
 */
DO $$
DECLARE
	v regclass;
BEGIN
	FOR v IN SELECT c.oid FROM pg_catalog.pg_class c
			  WHERE c.relnamespace OPERATOR(pg_catalog.=) 'maas'::pg_catalog.regnamespace
				AND c.relkind OPERATOR(pg_catalog.=) 'v'
			  ORDER BY c.relname
	LOOP
		EXECUTE pg_catalog.format('ALTER VIEW %s SET (security_barrier = true)', v);
	END LOOP;
END
$$;
