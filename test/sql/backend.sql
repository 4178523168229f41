-- The matrix backend: every backend maas.gemm_backend can force gives the
-- PyTorch fixtures' predictions within 1e-5, per row and in batches, and
-- CPU features forced off by maas.cpu_features_disable fall back to
-- kernels that need less, without a crash and with the same answers.
-- Which kernel runs depends on the CPU, so only what holds on every CPU is
-- printed.
\i test/fixtures/load.psql
SELECT maas_register('k_digits', 'mlp', decode(:'digits_w', 'base64'), :'digits_c');
SELECT maas_register('k_digits', 'mlp', decode(:'digits_v2_w', 'base64'), :'digits_v2_c');
SELECT maas_register('k_cancer', 'logistic', decode(:'cancer_w', 'base64'), :'cancer_c');
SELECT maas_register('k_diabetes', 'linear', decode(:'diabetes_w', 'base64'), :'diabetes_c');
SELECT maas_deploy('k_digits', 1), maas_deploy('k_cancer', 1), maas_deploy('k_diabetes', 1);
CREATE TABLE k_digits_test AS SELECT * FROM digits_test;
CREATE TABLE k_cancer_test AS SELECT * FROM cancer_test;
CREATE TABLE k_diabetes_test AS SELECT * FROM diabetes_test;

-- every fixture, per row and in batches of 1, 7 and 64 rows, against torch
-- (a function of its own, not a temporary one: the sessions below run it
-- again after loading the fixtures' temporary tables anew)
CREATE FUNCTION k_check_fixtures()
RETURNS TABLE (fixture text, path text, rows bigint, same_class bigint, within_1e5 boolean)
LANGUAGE sql AS $$
  SELECT 'digits', 'per row', count(*),
         count(*) FILTER (WHERE maas_predict('k_digits', t.features) = e.class),
         max(pg_temp.max_abs_diff(maas_predict_proba('k_digits', t.features), e.proba)) < 1e-5
    FROM digits_test t JOIN digits_expected e USING (id)
  UNION ALL
  SELECT 'digits v2', 'per row', count(*),
         count(*) FILTER (WHERE maas_predict('k_digits', 2, t.features) = e.class),
         max(pg_temp.max_abs_diff(maas_predict_proba('k_digits', 2, t.features), e.proba)) < 1e-5
    FROM digits_test t JOIN digits_v2_expected e USING (id)
  UNION ALL
  SELECT 'digits', 'batch of ' || s.n, count(*),
         count(*) FILTER (WHERE b.prediction = e.class),
         max(pg_temp.max_abs_diff(b.proba, e.proba)) < 1e-5
    FROM (VALUES (1), (7), (64)) s(n)
   CROSS JOIN LATERAL maas_predict_proba_batch('k_digits',
          'SELECT id, features FROM k_digits_test', s.n) b
    JOIN digits_expected e ON e.id = b.id
   GROUP BY s.n
  UNION ALL
  SELECT 'cancer', 'per row', count(*),
         count(*) FILTER (WHERE maas_predict('k_cancer', t.features) = e.class),
         max(pg_temp.max_abs_diff(maas_predict_proba('k_cancer', t.features), e.proba)) < 1e-5
    FROM cancer_test t JOIN cancer_expected e USING (id)
  UNION ALL
  SELECT 'cancer', 'batch of 64', count(*),
         count(*) FILTER (WHERE b.prediction = e.class),
         max(pg_temp.max_abs_diff(b.proba, e.proba)) < 1e-5
    FROM maas_predict_proba_batch('k_cancer', 'SELECT id, features FROM k_cancer_test', 64) b
    JOIN cancer_expected e ON e.id = b.id
  UNION ALL
  SELECT 'diabetes', 'per row', count(*), NULL,
         max(abs(maas_predict('k_diabetes', t.features) - e.value) / abs(e.value)) < 1e-5
    FROM diabetes_test t JOIN diabetes_expected e USING (id)
  UNION ALL
  SELECT 'diabetes', 'batch of 64', count(*), NULL,
         max(abs(b.prediction - e.value) / abs(e.value)) < 1e-5
    FROM maas_predict_batch('k_diabetes', 'SELECT id, features FROM k_diabetes_test', 64) b
    JOIN diabetes_expected e ON e.id = b.id
$$;

SHOW maas.gemm_backend;
SELECT * FROM k_check_fixtures() ORDER BY fixture, path;

-- the BLAS library for float32, maas's own kernels for the rest
SET maas.gemm_backend = blas;
SELECT * FROM k_check_fixtures() ORDER BY fixture, path;
SELECT component, backend FROM maas_blas_info()
 WHERE component IN ('sgemm', 'sgemv', 'gemm_f32 rows', 'gemm_f32 one row', 'gemm_s8 rows', 'conv2d')
 ORDER BY component;

-- oneDNN wherever it can (scripts/setup installs it)
SET maas.gemm_backend = onednn;
SELECT * FROM k_check_fixtures() ORDER BY fixture, path;
SELECT component, backend FROM maas_blas_info()
 WHERE component IN ('sgemm', 'gemm_f32 rows', 'gemm_f32 one row', 'conv2d')
 ORDER BY component;
RESET maas.gemm_backend;

-- what the info says on every CPU: the CPU, the two libraries, the
-- eight operations and the conv2d op, each with a backend and a kernel
SELECT count(*) AS rows,
       count(*) FILTER (WHERE kernel IS NOT NULL) AS with_kernel,
       bool_and(backend IN ('blas', 'onednn', 'maas')) FILTER (WHERE component NOT IN ('cpu', 'onednn'))
         AS known_backends,
       bool_and(threads = 1) FILTER (WHERE threads IS NOT NULL) AS one_thread
  FROM maas_blas_info();
SET maas.blas_threads = 2;
SELECT component, threads FROM maas_blas_info() WHERE component IN ('blas', 'sgemm');
RESET maas.blas_threads;

-- bad values are refused with the setting's own error
SET maas.cpu_features_disable = 'avx512f, warp_drive';
SET maas.gemm_backend = mkl;

-- a new session that forbids AVX-512 and AMX before its first product:
-- maas's own kernels follow, oneDNN runs nothing that needs them, and the
-- answers stay within 1e-5 of torch.  (OpenBLAS's core type and oneDNN's
-- ISA are chosen when the libraries are opened, by the postmaster when maas
-- is preloaded, so with postgresql.conf's setting: TAP 054 checks those.)
\c
\i test/fixtures/load.psql
SET maas.cpu_features_disable = 'avx512, amx';
SHOW maas.cpu_features_disable;
SELECT * FROM k_check_fixtures() ORDER BY fixture, path;
SELECT count(*) FILTER (WHERE component NOT IN ('cpu', 'blas', 'onednn')
                         AND backend IN ('maas', 'onednn') AND kernel ~ 'avx512|amx')
         AS kernels_with_avx512,
       bool_and(detail ~ 'disabled by maas.cpu_features_disable: avx512f')
         FILTER (WHERE component = 'cpu') AS cpu_says_so
  FROM maas_blas_info();

-- and one that forbids every feature: plain C kernels
\c
\i test/fixtures/load.psql
SET maas.cpu_features_disable = 'all';
SELECT * FROM k_check_fixtures() ORDER BY fixture, path;
SELECT component, backend, kernel FROM maas_blas_info()
 WHERE component IN ('gemm_f32 one row', 'gemm_s8 rows') ORDER BY component;

-- features forced off after the libraries were loaded: maas's kernels
-- follow at once, oneDNN is set aside where its ISA needs them
\c
\i test/fixtures/load.psql
SELECT count(*) FROM digits_test WHERE maas_predict('k_digits', features) >= 0;
SET maas.cpu_features_disable = 'avx2';
SELECT * FROM k_check_fixtures() ORDER BY fixture, path;
SELECT count(*) FILTER (WHERE backend = 'maas' AND kernel ~ 'avx2|avx512|vnni') AS maas_kernels_with_avx2
  FROM maas_blas_info();
RESET maas.cpu_features_disable;

DROP FUNCTION k_check_fixtures();
DROP TABLE k_digits_test, k_cancer_test, k_diabetes_test;
SELECT maas_drop('k_digits'), maas_drop('k_cancer'), maas_drop('k_diabetes');
