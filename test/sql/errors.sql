-- Bad input to the predict functions: a clear error, nothing changed
\i test/fixtures/load.psql
CREATE TEMP TABLE registry_before AS
  SELECT model, version, sha256, deployed FROM maas.versions;

-- wrong number of features
SELECT maas_predict('digits', ARRAY[1, 2, 3]::real[]);
SELECT maas_predict('digits', '{}'::real[]);
-- NULL array, NULL element, NULL model, NULL version
SELECT maas_predict('digits', NULL::real[]);
SELECT maas_predict('diabetes', ARRAY[1, 2, NULL, 4, 5, 6, 7, 8, 9, 10]::real[]);
SELECT maas_predict(NULL, ARRAY[1]::real[]);
SELECT maas_predict('digits', NULL, ARRAY[1]::real[]);
SELECT maas_predict('digits', 0, ARRAY[1]::real[]);
-- NaN, infinities, and doubles beyond the range of real
SELECT maas_predict('diabetes', ARRAY[1, 2, 'NaN', 4, 5, 6, 7, 8, 9, 10]::real[]);
SELECT maas_predict('diabetes', ARRAY[1, 2, 3, 'Infinity', 5, 6, 7, 8, 9, 10]::real[]);
SELECT maas_predict('diabetes', ARRAY[1, 2, 3, 4, '-Infinity', 6, 7, 8, 9, 10]::float8[]);
SELECT maas_predict('diabetes', ARRAY[1, 2, 3, 4, 5, 1e300, 7, 8, 9, 10]::float8[]);
-- a linear model's real[] is shown finite by its forward pass: a NaN or an
-- infinity at any place is still refused, the first one named
DO $$
DECLARE
  x real[];
  detail text;
  refused int := 0;
BEGIN
  FOR i IN 1..10 LOOP
    FOREACH detail IN ARRAY ARRAY['NaN', 'Infinity', '-Infinity'] LOOP
      x := array_fill(1::real, ARRAY[10]);
      x[i] := detail::real;
      x[10] := CASE WHEN i < 10 THEN 'NaN'::real ELSE x[10] END;
      BEGIN
        PERFORM maas_predict('diabetes', x);
      EXCEPTION WHEN invalid_parameter_value THEN
        GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
        IF detail = format('Feature %s is %s.', i,
                           CASE WHEN x[i]::text = 'NaN' THEN 'NaN' ELSE 'infinite' END) THEN
          refused := refused + 1;
        END IF;
      END;
    END LOOP;
  END LOOP;
  RAISE NOTICE 'refused % of 30, each naming its first bad feature', refused;
END
$$;
-- finite features whose sums overflow are answered, as before
SELECT maas_predict('diabetes', array_fill(3e38::real, ARRAY[10]))::text;
-- a two-dimensional array
SELECT maas_predict('diabetes', ARRAY[[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]::real[]);
-- unknown model, unknown version
SELECT maas_predict('nosuch', ARRAY[1]::real[]);
SELECT maas_predict('digits', 99, features) FROM digits_test WHERE id = 1;
-- probabilities and labels of a regression model
SELECT maas_predict_proba('diabetes', features) FROM diabetes_test WHERE id = 1;
SELECT maas_predict_label('diabetes', features) FROM diabetes_test WHERE id = 1;
-- the error is raised for the bad row, whatever came before it
SELECT id, maas_predict('diabetes', CASE WHEN id = 3 THEN ARRAY[1]::real[] ELSE features END)
  FROM diabetes_test ORDER BY id;

-- a good call still works after the errors, and the registry is unchanged
SELECT maas_predict('diabetes', features) IS NOT NULL AS ok FROM diabetes_test WHERE id = 1;
SELECT count(*) AS changed FROM (
  (SELECT model, version, sha256, deployed FROM maas.versions
   EXCEPT SELECT * FROM registry_before)
  UNION ALL
  (SELECT * FROM registry_before
   EXCEPT SELECT model, version, sha256, deployed FROM maas.versions)) d;
