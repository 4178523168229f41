/* 12_chunks_move.sql: the weights of 0.1 versions move into chunks (issue 12) */

/*
 * Move the weights of existing versions into chunks.  substring() of an
 * EXTERNAL value reads only the TOAST chunks it needs, so this never holds
 * more than a chunk of a version at once.  The column stays, NULL, for the
 * attribute numbers the C code reads (and for 0.1 dumps restored into this
 * version, whose rows bring their weights inline).
 */
INSERT INTO maas.weight_chunk (version_id, chunk, data)
SELECT v.version_id, c.n,
	   pg_catalog.substring(v.weights, c.n * 8120 + 1, 8120)
  FROM maas.version v,
	   pg_catalog.generate_series(0, (pg_catalog.length(v.weights) - 1) / 8120) AS c(n)
 WHERE v.weights IS NOT NULL;

ALTER TABLE maas.version ALTER COLUMN weights DROP NOT NULL;
ALTER TABLE maas.version DISABLE TRIGGER version_immutable;
UPDATE maas.version SET weights = NULL WHERE weights IS NOT NULL;
ALTER TABLE maas.version ENABLE TRIGGER version_immutable;
