-- What each role sees in the views (issue 9, defect 1; doc/privileges.md).
-- Every view of schema maas is a security barrier: a cheap function in a
-- caller's WHERE clause -- the probe of the issue -- sees only the rows
-- and values the view shows that caller.  The probe runs over every column
-- of every view, listed from the catalog, so views added later are probed
-- too.  What describes a model is shown to all; what was learnt from data
-- (a version's metrics, training runs, serving statistics) only to roles
-- that may use the model and to pg_read_all_stats.
\set QUIET on
SET maas.training_notices = off;
CREATE ROLE regress_views_alice;
CREATE ROLE regress_views_bob;
CREATE ROLE regress_views_mallory;
CREATE ROLE regress_views_auditor IN ROLE pg_read_all_stats;
GRANT EXECUTE ON FUNCTION maas_train(text, text, text, text, jsonb), maas_grant(text, text)
   TO regress_views_alice;
CREATE TABLE views_data AS
  SELECT g::real AS x, (g % 3 = 0) AS y FROM generate_series(1, 60) g;
GRANT SELECT ON views_data TO regress_views_alice;
SET ROLE regress_views_alice;
SELECT version FROM maas_train('alice_model', 'SELECT x, y FROM views_data /* alice''s secret source */',
                               'y', 'logistic', '{"epochs": 2}');
SELECT maas_grant('alice_model', 'regress_views_bob');
SELECT count(maas_predict('alice_model', ARRAY[x])) FROM views_data;
RESET ROLE;
\set QUIET off

-- the probe, as a role with no grant: every column of every view
SET ROLE regress_views_mallory;
CREATE TEMP TABLE seen (view name, col name, v text);
CREATE FUNCTION pg_temp.peek(view name, col name, v text) RETURNS boolean
LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
	INSERT INTO pg_temp.seen VALUES (view, col, v);
	RETURN false;
END $$;
CREATE TEMP TABLE shown (view name, col name, v text);
CREATE TEMP TABLE probed (view name, col name);
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT c.relname, a.attname
	           FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
	          WHERE c.relnamespace = 'maas'::regnamespace AND c.relkind = 'v'
	            AND a.attnum > 0 AND NOT a.attisdropped
	LOOP
		EXECUTE format('SELECT count(*) FROM maas.%I WHERE pg_temp.peek(%L, %L, %I::text)',
					   r.relname, r.relname, r.attname, r.attname);
		EXECUTE format('INSERT INTO pg_temp.shown SELECT %L, %L, %I::text FROM maas.%I',
					   r.relname, r.attname, r.attname, r.relname);
		INSERT INTO pg_temp.probed VALUES (r.relname, r.attname);
	END LOOP;
END $$;
SELECT count(DISTINCT view) >= 9 AS views_probed, count(*) >= 90 AS columns_probed FROM probed;
SELECT count(*) > 0 AS values_seen FROM seen;
-- what the probe saw that the views do not show: nothing
SELECT view, col, v FROM seen EXCEPT SELECT view, col, v FROM shown ORDER BY 1, 2, 3;

-- what mallory sees: the model and its versions, not what they learnt
SELECT model, owner FROM maas.models WHERE model = 'alice_model';
SELECT model, version, metrics FROM maas.versions WHERE model = 'alice_model';
SELECT count(*) AS runs FROM maas.training_runs WHERE model = 'alice_model';
SELECT count(*) AS stats FROM maas.stats WHERE model = 'alice_model';
RESET ROLE;

-- bob was granted the model; the auditor is in pg_read_all_stats
SET ROLE regress_views_bob;
SELECT model, version, metrics ? 'confusion_matrix' AS metrics FROM maas.versions WHERE model = 'alice_model';
SELECT model, source, target FROM maas.training_runs WHERE model = 'alice_model';
SELECT model, version, calls FROM maas.stats WHERE model = 'alice_model';
RESET ROLE;
SET ROLE regress_views_auditor;
SELECT model, version, metrics ? 'confusion_matrix' AS metrics FROM maas.versions WHERE model = 'alice_model';
SELECT model, source FROM maas.training_runs WHERE model = 'alice_model';
RESET ROLE;

SELECT maas_drop('alice_model');
DROP TABLE views_data, seen, shown, probed;
DROP FUNCTION pg_temp.peek(name, name, text);
REVOKE EXECUTE ON FUNCTION maas_train(text, text, text, text, jsonb), maas_grant(text, text)
    FROM regress_views_alice;
DROP ROLE regress_views_alice;
DROP ROLE regress_views_bob;
DROP ROLE regress_views_mallory;
DROP ROLE regress_views_auditor;
