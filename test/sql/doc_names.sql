-- Every function and view of the extension is documented, and every
-- function, view and setting the documentation names exists (issue 19).
-- Read: README.md and doc/*.md but doc/architecture.md and doc/testing.md,
-- which are for contributors and name C functions.  The settings' own
-- table in doc/settings.md is compared with pg_settings by settings.sql.
--
-- A function is documented where its name and "(" appear in a heading, a
-- table row, an inline code span or a fenced block without a language (a
-- signature); a view where "maas.<name>" appears in a heading, or starts
-- a table row or a list item.
\set docs `cat README.md $(ls doc/*.md | grep -v -e '^doc/architecture.md$' -e '^doc/testing.md$')`
\set QUIET on
CREATE TEMP TABLE doc_lines AS
  SELECT n, line,
         -- inside a fenced block: after an odd number of fences
         sum((line ~ '^\s*```')::int) OVER (ORDER BY n) % 2 = 1 AND line !~ '^\s*```' AS fenced
    FROM regexp_split_to_table(:'docs', E'\n') WITH ORDINALITY AS t(line, n);
-- the language of the block each fenced line is in
CREATE TEMP TABLE doc_blocks AS
  SELECT l.n, l.line, l.fenced,
         (SELECT substring(o.line FROM '^\s*```\s*([A-Za-z0-9_+-]*)') FROM doc_lines o
           WHERE o.n < l.n AND o.line ~ '^\s*```' ORDER BY o.n DESC LIMIT 1) AS lang
    FROM doc_lines l;
-- the prose, with inline code spans that may run over lines
CREATE TEMP TABLE doc_spans AS
  SELECT m[1] AS span
    FROM (SELECT string_agg(line, E'\n' ORDER BY n) AS prose FROM doc_blocks WHERE NOT fenced
            AND line !~ '^\s*```') p,
         regexp_matches(p.prose, '`([^`]+)`', 'g') AS m;
CREATE TEMP TABLE ext_functions AS
  SELECT DISTINCT p.proname::text AS name
    FROM pg_proc p
    JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'maas'
   WHERE p.pronamespace = e.extnamespace;	-- schema maas holds only trigger functions
CREATE TEMP TABLE ext_views AS
  SELECT c.relname::text AS name FROM pg_class c
   WHERE c.relnamespace = 'maas'::regnamespace AND c.relkind = 'v';
CREATE TEMP TABLE documented_functions AS
  SELECT DISTINCT m[1] AS name
    FROM (SELECT line AS t FROM doc_blocks
           WHERE (NOT fenced AND line ~ '^\s*(#|\|)') OR (fenced AND lang = '')
          UNION ALL SELECT span FROM doc_spans) s,
         regexp_matches(s.t, '\m(maas_[a-z0-9_]+)\(', 'g') AS m;
CREATE TEMP TABLE documented_views AS
  SELECT DISTINCT m[1] AS name
    FROM doc_blocks, regexp_matches(line, '\mmaas\.([a-z_][a-z0-9_]*)', 'g') AS m
   WHERE NOT fenced AND (line ~ '^\s*#' OR line ~ '^\s*(\||[-*]) `maas\.')
     AND (line ~ '^\s*#' OR m[1] = substring(line FROM '^\s*(?:\||[-*]) `maas\.([a-z_][a-z0-9_]*)'));
-- names written as SQL calls that are not functions of maas, on purpose:
-- C functions of the kernels (training.md) and a design not taken (batch.md)
CREATE TEMP TABLE not_functions (name text);
INSERT INTO not_functions VALUES ('maas_gbdt_fit'), ('maas_gbdt_memory'), ('maas_kmeans_fit'),
  ('maas_predict_agg');
CREATE TEMP TABLE named_functions AS
  SELECT DISTINCT m[1] AS name
    FROM regexp_matches(:'docs', '\m(maas_[a-z0-9_]+)\(', 'g') AS m;
-- maas.<name>: a table, view or type of schema maas (maas.model_<id> is a
-- model's type, maas.secret_<hash> a secret's), a setting, or a metadata
-- key of the safetensors files maas_export writes (model-format.md)
CREATE TEMP TABLE named_objects AS
  SELECT DISTINCT m[1] AS name
    FROM regexp_matches(:'docs', '(?<!/)\mmaas\.([a-z_][a-z0-9_]*)', 'g') AS m;
\set QUIET off

SELECT count(*) > 40 AS functions_found, (SELECT count(*) > 10 FROM ext_views) AS views_found,
       (SELECT count(*) > 40 FROM named_functions) AS names_found
  FROM ext_functions;

-- functions and views of the extension that no page documents
SELECT 'function' AS kind, name FROM ext_functions EXCEPT SELECT 'function', name FROM documented_functions
UNION ALL
(SELECT 'view', name FROM ext_views EXCEPT SELECT 'view', name FROM documented_views)
ORDER BY 1, 2;

-- functions the pages name that do not exist
SELECT name FROM named_functions
EXCEPT SELECT name FROM ext_functions
EXCEPT SELECT name FROM not_functions
ORDER BY 1;

-- maas.<name>s the pages name that are neither a relation, a type, a
-- setting nor a metadata key
SELECT name FROM named_objects
EXCEPT SELECT relname FROM pg_class WHERE relnamespace = 'maas'::regnamespace
EXCEPT SELECT typname FROM pg_type WHERE typnamespace = 'maas'::regnamespace
EXCEPT SELECT substr(name, 6) FROM pg_settings WHERE name LIKE 'maas.%'
EXCEPT VALUES ('model_'), ('secret_'), ('config'), ('algorithm'), ('model'), ('version')
ORDER BY 1;

-- and the exceptions above are still needed: each is named, and none exists
SELECT n.name, n.name IN (SELECT name FROM named_functions) AS named,
       n.name IN (SELECT name FROM ext_functions) AS exists
  FROM not_functions n ORDER BY 1;

DROP TABLE doc_lines, doc_blocks, doc_spans, ext_functions, ext_views, documented_functions,
  documented_views, not_functions, named_functions, named_objects;
