/* 18_clients.sql: the predict functions take what drivers send: arrays of numeric,
 * integer, bigint and smallint, jsonb and json; maas_predict_json, also over text */

/*
 * Features as clients send them.  Drivers send a list as numeric[]
 * (psycopg2), integer[], bigint[] or smallint[] (psycopg 3, pgx), real[] or
 * double precision[] (JDBC, pgx), or untyped (node-postgres, and any quoted
 * literal); a web client or an HTTP gateway sends JSON.  Each form is
 * declared with its own type, so that each of these is an exact match and
 * resolution is never ambiguous (with only real[] and double precision[], a
 * numeric[] or integer[] could be cast to both).  An untyped argument
 * resolves to the text form (model, [version,] input text) of 60_text.sql,
 * the string category being preferred for unknowns, which reads it as the
 * model does: as an array literal or JSON for a feature model, as text for
 * a text model (predict_json.c).  A JSON array is the
 * features array; a JSON object is a row by column name.  All behave as the
 * real[] form (same checks, same errors), and like it are STABLE, PARALLEL
 * SAFE and not STRICT.
 */

CREATE FUNCTION maas_predict(model text, features numeric[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features integer[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features bigint[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features smallint[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features jsonb)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, features json)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features numeric[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features integer[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features bigint[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features smallint[])
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features jsonb)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict(model text, version integer, features json)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features numeric[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features integer[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features bigint[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features smallint[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features jsonb)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, features json)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features numeric[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features integer[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features bigint[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features smallint[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features jsonb)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_proba(model text, version integer, features json)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features numeric[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features integer[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features bigint[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features smallint[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, features json)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features numeric[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features integer[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features bigint[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features smallint[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_label(model text, version integer, features json)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

/*
 * maas_predict_json: the prediction, the label and the probabilities by
 * label, with the model and the version that answered, as one json object
 * (a regression's label and proba are null), for every form of features.
 */

CREATE FUNCTION maas_predict_json(model text, features real[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features double precision[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features numeric[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features integer[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features bigint[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features smallint[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features jsonb)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features json)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, input text)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_text'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, features record)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_row'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features real[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features double precision[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features numeric[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features integer[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features bigint[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features smallint[])
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features jsonb)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features json)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_jsonb'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, input text)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_text'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_predict_json(model text, version integer, features record)
RETURNS json
AS 'MODULE_PATHNAME', 'maas_predict_json_row'
LANGUAGE C STABLE PARALLEL SAFE COST 100;
