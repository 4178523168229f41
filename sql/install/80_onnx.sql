/* 80_onnx.sql: ONNX import -- maas_onnx_inspect (part of maas--0.2.sql) */

/*
 * A .onnx file registers with maas_register(model, 'onnx', bytes [,
 * config]): its graph is translated into a layer program at registration
 * (doc/onnx.md).  maas_onnx_inspect lists what a model uses before that:
 * one row per operator, in order of first use, with how many nodes use it,
 * the first of them, and whether maas translates it.  It reads only its
 * argument, so PUBLIC may run it; not STRICT, so that a NULL gets an error.
 */
CREATE FUNCTION maas_onnx_inspect(model bytea,
								  OUT op text, OUT domain text, OUT nodes integer,
								  OUT first_node integer, OUT first_node_name text,
								  OUT supported boolean, OUT note text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'maas_onnx_inspect'
LANGUAGE C IMMUTABLE PARALLEL SAFE COST 1000 ROWS 20;
