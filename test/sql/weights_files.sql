-- Versions of any size in and out: server files, uploads in parts, exports in parts
\i test/fixtures/load.psql

CREATE FUNCTION pg_temp.le64(n bigint) RETURNS bytea LANGUAGE sql AS $$
  SELECT decode(string_agg(lpad(to_hex((n >> (8 * i)) & 255), 2, '0'), '' ORDER BY i), 'hex')
    FROM generate_series(0, 7) i $$;
-- 600,000 features, y = 0.5 * sum(x) + 1: three chunks
CREATE FUNCTION pg_temp.wide_model(n int) RETURNS bytea LANGUAGE sql AS $$
  SELECT pg_temp.le64(length(j)) || convert_to(j, 'UTF8')
         || decode(repeat('0000003f', n), 'hex') || decode('0000803f', 'hex')
    FROM format('{"w":{"dtype":"F32","shape":[1,%s],"data_offsets":[0,%s]},'
                '"b":{"dtype":"F32","shape":[1],"data_offsets":[%s,%s]}}',
                n, 4 * n, 4 * n, 4 * n + 4) AS j $$;

SELECT maas_register('f_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_register('f_wide', 'linear', pg_temp.wide_model(600000),
                     '{"task": "regression", "n_features": 600000, "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}');
SELECT maas_deploy('f_digits', 1), maas_deploy('f_wide', 1);

-- uploaded in parts, in this session
SELECT maas_upload_begin() AS up \gset
SELECT maas_upload_append(:up, substring(decode(:'digits_w', 'base64') FROM 1 FOR 1000));
SELECT maas_upload_append(:up, substring(decode(:'digits_w', 'base64') FROM 1001));
SELECT maas_register_upload(:up, 'f_up', 'mlp', :'digits_c');
SELECT a.sha256 = b.sha256 AS same_as_original
  FROM maas.versions a, maas.versions b WHERE a.model = 'f_up' AND b.model = 'f_digits';
-- a registered upload is gone
SELECT maas_upload_append(:up, '\x00');
SELECT maas_register_upload(:up, 'f_up', 'mlp', :'digits_c');
-- one that fails to register stays, to be registered again
SELECT maas_upload_begin() AS up \gset
SELECT maas_upload_append(:up, decode(:'digits_w', 'base64'));
SELECT maas_register_upload(:up, 'f_up', 'mlp', '{"task": "regression"}');
SELECT maas_register_upload(:up, 'f_up', 'mlp', :'digits_c');
-- truncated, empty, without a config
SELECT maas_upload_begin() AS up \gset
SELECT maas_upload_append(:up, substring(decode(:'digits_w', 'base64') FROM 1 FOR 5000));
SELECT maas_register_upload(:up, 'f_up', 'mlp', :'digits_c');
SELECT maas_upload_begin() AS up_empty \gset
SELECT maas_register_upload(:up_empty, 'f_up', 'mlp', :'digits_c');
SELECT maas_upload_begin() AS up_noconfig \gset
SELECT maas_upload_append(:up_noconfig, decode(:'digits_w', 'base64'));
SELECT maas_register_upload(:up_noconfig, 'f_up', 'mlp');
SELECT maas_upload_append(NULL, '\x00');
SELECT maas_upload_append(:up_noconfig, NULL);
SELECT maas_register_upload(12345, 'f_up', 'mlp');
-- a session has at most 8 at once
SELECT count(maas_upload_begin()) FROM generate_series(1, 5);
SELECT maas_upload_begin();
-- the whole wide model, in parts of 1 MB, through another session's upload
\c
\i test/fixtures/load.psql
SELECT maas_upload_begin() AS up \gset
SELECT max(maas_upload_append(:up, data)) FROM (SELECT data FROM maas_export_parts('f_wide') ORDER BY part) p;
SELECT maas_register_upload(:up, 'f_up', 'linear');
SELECT maas_predict('f_up', 3, array_fill(1::real, ARRAY[600000]));

-- files go where the server removes them at its next start (made by the uploads)
SELECT 'base/pgsql_tmp/pgsql_tmp_maas_regress_' || pg_backend_pid() AS stem \gset
SET maas_regress.stem = :'stem';

-- exported in parts: the header, then up to 1 MB each; together the file maas_export gives
SELECT part, length(data) FROM maas_export_parts('f_wide') ORDER BY part;
SELECT string_agg(data, ''::bytea ORDER BY part) = (SELECT weights FROM maas_export('f_wide')) AS same_file
  FROM maas_export_parts('f_wide');
SELECT string_agg(data, ''::bytea ORDER BY part) = (SELECT weights FROM maas_export('f_digits', 1)) AS same_file
  FROM maas_export_parts('f_digits', 1);
SELECT count(*) FROM (SELECT * FROM maas_export_parts('f_wide') LIMIT 2) s;
SELECT * FROM maas_export_parts('f_digits', 5);
SELECT * FROM maas_export_parts('f_nosuch');

-- exported to a file on the server: the same bytes; never over an existing file
SELECT maas_export_file('f_wide', :'stem' || '_wide.safetensors')
       = length((SELECT weights FROM maas_export('f_wide'))) AS same_size;
SELECT pg_read_binary_file(:'stem' || '_wide.safetensors') = (SELECT weights FROM maas_export('f_wide')) AS same_bytes;
DO $$
BEGIN
	PERFORM maas_export_file('f_wide', current_setting('maas_regress.stem') || '_wide.safetensors');
EXCEPTION WHEN duplicate_file THEN
	RAISE NOTICE 'refused to overwrite: %', SQLSTATE;
END $$;
SELECT maas_export_file('f_digits', :'stem' || '_digits.safetensors', 1) > 0 AS written;

-- registered from a file on the server: the config comes with it, or is given
SELECT maas_register_file('f_copy', 'linear', :'stem' || '_wide.safetensors');
SELECT maas_register_file('f_copy', 'mlp', :'stem' || '_digits.safetensors', :'digits_c');
-- (the fixture's header is written as maas writes one, so its bytes come back)
SELECT a.sha256 = b.sha256 AS same_as_original
  FROM maas.versions a, maas.versions b WHERE a.model = 'f_copy' AND a.version = 2 AND b.model = 'f_digits';
SELECT maas_predict('f_copy', 1, array_fill(1::real, ARRAY[600000]));
SELECT bool_and(maas_predict_label('f_copy', 2, features) = maas_predict_label('f_digits', features)) AS same
  FROM digits_test;
-- what is not a model file
SELECT maas_register_file('f_copy', 'mlp', '/nonexistent/maas.safetensors');
-- a name too long for the file system is the caller's error (42622), not XX000
DO $$ BEGIN PERFORM maas_register_file('f_copy', 'mlp', repeat('x', 300));
EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'register_file: %', SQLSTATE; END $$;
DO $$ BEGIN PERFORM maas_export_file('f_digits', repeat('x/', 3000));
EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'export_file: %', SQLSTATE; END $$;
SELECT maas_register_file('f_copy', 'mlp', 'base');
SELECT maas_register_file('f_copy', 'mlp', 'PG_VERSION', :'digits_c');
SELECT maas_register_file('f_copy', 'mlp', :'stem' || '_digits.safetensors', '{"task": "regression"}');
SELECT maas_register_file('f_copy', 'mlp', NULL);
SELECT version FROM maas.versions WHERE model = 'f_copy' ORDER BY 1;

-- who may: EXECUTE, and pg_read_server_files / pg_write_server_files for files
CREATE ROLE regress_maas_files;
GRANT EXECUTE ON FUNCTION maas_register_file(text, text, text, jsonb), maas_export_file(text, text, integer),
                          maas_upload_begin(), maas_upload_append(integer, bytea),
                          maas_register_upload(integer, text, text, jsonb), maas_export_parts(text, integer)
   TO regress_maas_files;
SET ROLE regress_maas_files;
SELECT maas_register_file('f_dave', 'mlp', 'PG_VERSION');
SELECT maas_export_file('f_digits', 'x.safetensors');
SELECT count(*) FROM maas_export_parts('f_digits');
SELECT maas_upload_begin() > 0 AS may_upload;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION maas_register_file(text, text, text, jsonb), maas_export_file(text, text, integer),
                           maas_upload_begin(), maas_upload_append(integer, bytea),
                           maas_register_upload(integer, text, text, jsonb), maas_export_parts(text, integer)
    FROM regress_maas_files;
DROP ROLE regress_maas_files;

SELECT maas_drop('f_digits'), maas_drop('f_wide'), maas_drop('f_copy'), maas_drop('f_up');
