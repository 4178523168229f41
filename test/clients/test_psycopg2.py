#!/usr/bin/python3
"""maas from psycopg2 (Debian's python3-psycopg2), as an application uses it.

psycopg2 writes parameters into the query text on the client: a list of
ints becomes ARRAY[1,2,...] (integer[]), a list of floats ARRAY[0.5,...]
(numeric[]), a str a quoted literal (unknown), Json(...) a quoted literal.
Registers models from client-side bytes, deploys, predicts from native
lists, sends and reads JSON, runs a prepared statement across deploys made
by another connection, and checks the SQLSTATE of each error.  Prints TAP.
"""
import hashlib

import psycopg2
from psycopg2.extras import Json

from clientlib import (Tap, V2_NAMES, close, diabetes_rows, digits_rows,
                       fixture_bytes, fixture_text, FIXTURES)

t = Tap()
conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
other = psycopg2.connect("")            # a second session, for deploys
other.autocommit = True
ocur = other.cursor()


def one(sql, args=()):
    cur.execute(sql, args)
    return cur.fetchone()[0]


# --- register from client bytes, deploy ---------------------------------
weights = fixture_bytes("digits_mlp.safetensors")
v = one("SELECT maas_register(%s, %s, %s, %s)",
        ("py2_digits", "mlp", psycopg2.Binary(weights), fixture_text("digits_mlp.json")))
t.ok(v == 1, "registered version 1 from client bytes (psycopg2.Binary)", v)
t.ok(one("SELECT sha256 FROM maas.versions WHERE model = %s AND version = 1", ("py2_digits",))
     == hashlib.sha256(weights).hexdigest(), "the stored weights are the client's bytes")
v = one("SELECT maas_register(%s, %s, %s, %s::jsonb)",
        ("py2_digits", "mlp", psycopg2.Binary(fixture_bytes("digits_mlp_v2.safetensors")),
         fixture_text("digits_mlp_v2.json")))
t.ok(v == 2, "registered version 2", v)
t.ok(one("SELECT maas_deploy(%s, %s)", ("py2_digits", 1)) == 1, "deployed version 1")
one("SELECT maas_register(%s, %s, %s, %s)",
    ("py2_diabetes", "linear", psycopg2.Binary(fixture_bytes("diabetes_linear.safetensors")),
     fixture_text("diabetes_linear.json")))
one("SELECT maas_deploy(%s, 1)", ("py2_diabetes",))

# --- native lists ---------------------------------------------------------
rows = digits_rows()
t.ok(cur.mogrify("SELECT maas_predict(%s, %s)", ("m", [1, 2])) == b"SELECT maas_predict('m', ARRAY[1,2])"
     and cur.mogrify("%s", ([0.5, 1.0],)) == b"ARRAY[0.5,1.0]",
     "psycopg2 sends lists as ARRAY[...] constructors, without a type")
bad = [i for i, f, c, p, c2 in rows if one("SELECT maas_predict(%s, %s)", ("py2_digits", f)) != c]
t.ok(not bad, "list of ints (integer[]): every class as PyTorch's (%d rows)" % len(rows), bad)
bad = [i for i, f, c, p, c2 in rows
       if not close(one("SELECT maas_predict_proba(%s, %s)", ("py2_digits", [float(x) for x in f])), p, 1e-5)]
t.ok(not bad, "list of floats (numeric[]): probabilities within 1e-5 of PyTorch's", bad)
bad = [i for i, f, c, p, c2 in rows
       if one("SELECT maas_predict_label(%s, %s, %s)", ("py2_digits", 2, f)) != V2_NAMES[c2]]
t.ok(not bad, "pinned version 2, list of ints: every label as PyTorch's", bad)
cur.execute("SELECT pg_typeof(%s)::text, pg_typeof(%s)::text, pg_typeof(%s)::text",
            ([1, 2], [2 ** 40, 1], [0.5, 1]))
t.ok(cur.fetchone() == ("integer[]", "bigint[]", "numeric[]"),
     "ints, big ints and floats arrive as integer[], bigint[] and numeric[]")
t.ok(one("SELECT maas_predict(%s, %s)", ("py2_digits", [2 ** 40] + [0] * 63)) in range(10),
     "a list with a big int (bigint[]) predicts a class")
bad = []
for i, f in diabetes_rows():
    a = one("SELECT maas_predict(%s, %s)", ("py2_diabetes", f))
    b = one("SELECT maas_predict(%s, %s::real[])", ("py2_diabetes", f))
    if a != b:
        bad.append((i, a, b))
t.ok(not bad, "fractional floats: the same value as the real[] cast", bad)
t.ok(one("SELECT maas_predict(%s, %s)", ("py2_digits", "{" + ",".join(map(str, rows[0][1])) + "}"))
     == rows[0][2], "a str array literal (unknown) predicts")

# --- JSON in --------------------------------------------------------------
bad = [i for i, f, c, p, c2 in rows if one("SELECT maas_predict(%s, %s)", ("py2_digits", Json(f))) != c]
t.ok(not bad, "JSON array (psycopg2.extras.Json): every class", bad)
cur.execute("CREATE TEMP TABLE iris (id int, sepal_length float8, sepal_width float8, "
            "petal_length float8, petal_width float8, species text)")
with open(FIXTURES + "/iris.csv") as f:
    cur.copy_expert("COPY iris FROM STDIN WITH (FORMAT csv, HEADER)", f)
cur.execute("SELECT version FROM maas_train(%s, %s, %s, %s)",
            ("py2_iris", "SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM iris",
             "species", "logistic"))
t.ok(cur.fetchone()[0] == 1, "trained a model on a table the client loaded (COPY)")
cur.execute("SELECT id, sepal_length, sepal_width, petal_length, petal_width, maas_predict_label('py2_iris', i) "
            "FROM iris i ORDER BY id")
bad = []
for i, sl, sw, pl, pw, label in cur.fetchall():
    obj = {"sepal_length": sl, "sepal_width": sw, "petal_length": pl, "petal_width": pw, "id": i}
    got = one("SELECT maas_predict_label(%s, %s)", ("py2_iris", Json(obj)))
    if got != label:
        bad.append((i, got, label))
t.ok(not bad, "JSON object by column name: the label of the table's row, for all 150 rows", bad)

# --- JSON out -------------------------------------------------------------
i, f, c, p, c2 = rows[0]
ans = one("SELECT maas_predict_json(%s, %s)", ("py2_digits", f))
t.ok(isinstance(ans, dict) and set(ans) == {"model", "version", "prediction", "label", "proba"},
     "maas_predict_json arrives as a dict with model, version, prediction, label, proba", ans)
t.ok(ans["model"] == "py2_digits" and ans["version"] == 1 and ans["prediction"] == c
     and ans["label"] == str(c), "it says which version answered, and what", ans)
t.ok(close([ans["proba"][str(k)] for k in range(10)], p, 1e-5),
     "its probabilities by label are PyTorch's", ans["proba"])
ans = one("SELECT maas_predict_json(%s, %s)", ("py2_diabetes", Json(diabetes_rows()[0][1])))
t.ok(ans["label"] is None and ans["proba"] is None
     and ans["prediction"] == one("SELECT maas_predict(%s, %s::real[])", ("py2_diabetes", diabetes_rows()[0][1])),
     "a regression: the value, no label, no probabilities", ans)

# --- a prepared statement across deploys -----------------------------------
cur.execute("PREPARE p AS SELECT maas_predict_json($1, $2)")
cur.execute("SELECT parameter_types::text FROM pg_prepared_statements WHERE name = 'p'")
t.ok(cur.fetchone()[0] == "{text,text}", "untyped parameters resolve to the text form")


def execute_p():
    cur.execute("EXECUTE p(%s, %s)", ("py2_digits", Json(f)))
    a = cur.fetchone()[0]
    return a["version"], a["label"]


t.ok(execute_p() == (1, str(c)), "prepared: version 1 answers")
ocur.execute("SELECT maas_deploy('py2_digits', 2)")
t.ok(execute_p() == (2, V2_NAMES[c2]), "another session deploys 2: the next execution answers with 2")
conn.autocommit = False
cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
first = execute_p()
ocur.execute("SELECT maas_deploy('py2_digits', 1)")
t.ok(first == execute_p() == (2, V2_NAMES[c2]),
     "inside a REPEATABLE READ transaction the version does not change")
conn.commit()
conn.autocommit = True
t.ok(execute_p() == (1, str(c)), "after it, the deploy of 1 is seen")
cur.execute("DEALLOCATE p")

# --- errors and their SQLSTATE ---------------------------------------------
code = lambda e: e.pgcode
t.sqlstate("wrong number of features", "22023", lambda: one("SELECT maas_predict(%s, %s)", ("py2_digits", [1, 2])), code)
t.sqlstate("a None in the list", "22004",
           lambda: one("SELECT maas_predict(%s, %s)", ("py2_digits", [None] + [0] * 63)), code)
t.sqlstate("NaN", "22023",
           lambda: one("SELECT maas_predict(%s, %s)", ("py2_digits", [float("nan")] + [0.0] * 63)), code)
t.sqlstate("a float past real's range", "22023",
           lambda: one("SELECT maas_predict(%s, %s)", ("py2_digits", [1e39] + [0.0] * 63)), code)
t.sqlstate("features None", "22004", lambda: one("SELECT maas_predict(%s, %s)", ("py2_digits", None)), code)
t.sqlstate("an unknown model", "42704", lambda: one("SELECT maas_predict(%s, %s)", ("py2_nosuch", f)), code)
t.sqlstate("probabilities of a regression", "42809",
           lambda: one("SELECT maas_predict_proba(%s, %s)", ("py2_diabetes", [0] * 10)), code)
t.sqlstate("a str that is no array", "22P02", lambda: one("SELECT maas_predict(%s, %s)", ("py2_digits", "1,2,3")), code)
t.sqlstate("a JSON string as a feature", "42804",
           lambda: one("SELECT maas_predict(%s, %s)", ("py2_digits", Json(["1"] * 64))), code)
t.sqlstate("a JSON object without a column", "42703",
           lambda: one("SELECT maas_predict(%s, %s)", ("py2_iris", Json({"sepal_length": 5.1}))), code)
cur.execute("DROP ROLE IF EXISTS py2_app")
cur.execute("CREATE ROLE py2_app")
cur.execute("SET ROLE py2_app")
t.sqlstate("a model not granted", "42501", lambda: one("SELECT maas_predict(%s, %s)", ("py2_digits", f)), code)
cur.execute("RESET ROLE")
one("SELECT maas_grant(%s, %s)", ("py2_digits", "py2_app"))
cur.execute("SET ROLE py2_app")
t.ok(one("SELECT maas_predict(%s, %s)", ("py2_digits", f)) == c, "granted: the role predicts")
cur.execute("RESET ROLE")
t.ok(one("SELECT maas_predict(%s, %s)", ("py2_digits", f)) == c, "the session still works after the errors")

for m in ("py2_digits", "py2_diabetes", "py2_iris"):
    one("SELECT maas_drop(%s)", (m,))
cur.execute("DROP ROLE py2_app")
t.done()
