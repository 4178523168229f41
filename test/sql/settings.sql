-- Every maas.* setting the server defines is in doc/settings.md, with the
-- default SHOW gives and who may set it, and nothing else is.
\set doc `cat doc/settings.md`
CREATE TEMP TABLE documented AS
  SELECT m[1] AS name,
         CASE m[2] WHEN 'empty' THEN '' ELSE pg_catalog.btrim(m[2], '`') END AS default_value,
         m[3] AS who
    FROM pg_catalog.regexp_matches(:'doc', '^\| `(maas\.[a-z_]+)` \| ([^|]*?) \| ([^|]*?) \|', 'gn') AS m;
RESET ALL;
SELECT coalesce(s.name, d.name) AS setting,
       current_setting(s.name, true) AS server_default,
       CASE s.context WHEN 'user' THEN 'any user' WHEN 'sighup' THEN 'reload'
                      WHEN 'postmaster' THEN 'restart' ELSE s.context END AS server_who,
       s.name IS NOT NULL AND d.name IS NOT NULL
         AND d.default_value = current_setting(s.name, true)
         AND d.who = CASE s.context WHEN 'user' THEN 'any user' WHEN 'sighup' THEN 'reload'
                                    WHEN 'postmaster' THEN 'restart' ELSE s.context END
         AS documented
  FROM (SELECT name, context FROM pg_catalog.pg_settings WHERE name LIKE 'maas.%') s
  FULL JOIN documented d ON d.name = s.name
 ORDER BY 1;
DROP TABLE documented;
