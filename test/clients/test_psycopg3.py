#!/usr/bin/python3
"""maas from psycopg 3 (Debian's python3-psycopg), as an application uses it.

psycopg 3 binds parameters on the server with their types (the extended
protocol): a list of small ints is smallint[], of larger ones integer[] or
bigint[], of floats double precision[]; a str is untyped; Json and Jsonb
are json and jsonb; %b sends binary.  Registers from bytes, predicts from
each, sends and reads JSON, runs a server-side prepared statement across a
deploy made by another connection, and checks SQLSTATEs.  Prints TAP.
"""
import hashlib
import json

import psycopg
from psycopg.types.json import Json, Jsonb

from clientlib import (Tap, V2_NAMES, close, diabetes_rows, digits_rows,
                       fixture_bytes, fixture_text)

t = Tap()
conn = psycopg.connect("", autocommit=True)
other = psycopg.connect("", autocommit=True)


def one(sql, args=(), **kw):
    return conn.execute(sql, args, **kw).fetchone()[0]


weights = fixture_bytes("digits_mlp.safetensors")
t.ok(one("SELECT maas_register(%s, %s, %s, %s)",
         ("py3_digits", "mlp", weights, Jsonb(json.loads(fixture_text("digits_mlp.json"))))) == 1,
     "registered version 1 from bytes")
t.ok(one("SELECT sha256 FROM maas.versions WHERE model = 'py3_digits'") == hashlib.sha256(weights).hexdigest(),
     "the stored weights are the client's bytes")
one("SELECT maas_register(%s, %s, %s, %s::jsonb)",
    ("py3_digits", "mlp", fixture_bytes("digits_mlp_v2.safetensors"), fixture_text("digits_mlp_v2.json")))
t.ok(one("SELECT maas_deploy(%s, %s)", ("py3_digits", 1)) == 1, "deployed version 1")
one("SELECT maas_register('py3_diabetes', 'linear', %s, %s::jsonb)",
    (fixture_bytes("diabetes_linear.safetensors"), fixture_text("diabetes_linear.json")))
one("SELECT maas_deploy('py3_diabetes', 1)")

rows = digits_rows()
t.ok(conn.execute("SELECT pg_typeof(%s)::text, pg_typeof(%s)::text, pg_typeof(%s)::text, pg_typeof(%s)::text",
                  ([1, 2], [40000, 1], [2 ** 40, 1], [0.5, 1.0])).fetchone()
     == ("smallint[]", "integer[]", "bigint[]", "double precision[]"),
     "lists arrive typed: smallint[], integer[], bigint[], double precision[]")
bad = [i for i, f, c, p, c2 in rows if one("SELECT maas_predict(%s, %s)", ("py3_digits", f)) != c]
t.ok(not bad, "list of small ints (smallint[]): every class as PyTorch's", bad)
bad = [i for i, f, c, p, c2 in rows
       if one("SELECT maas_predict_proba(%s, %s)", ("py3_digits", [x * 1000 for x in f])) !=
       one("SELECT maas_predict_proba(%s, %s::real[])", ("py3_digits", [x * 1000.0 for x in f]))]
t.ok(not bad, "list of larger ints (integer[]): the probabilities of the same real[]", bad)
bad = [i for i, f, c, p, c2 in rows
       if not close(one("SELECT maas_predict_proba(%s, %s)", ("py3_digits", [float(x) for x in f])), p, 1e-5)]
t.ok(not bad, "list of floats (double precision[]): probabilities within 1e-5 of PyTorch's", bad)
bad = [i for i, f, c, p, c2 in rows
       if one("SELECT maas_predict_label(%b, %b, %b)", ("py3_digits", 2, [float(x) for x in f]),
              binary=True) != V2_NAMES[c2]]
t.ok(not bad, "binary parameters and results, pinned version 2: every label", bad)
bad = []
for i, f in diabetes_rows():
    if one("SELECT maas_predict(%s, %s)", ("py3_diabetes", f)) != \
            one("SELECT maas_predict(%s, %s::real[])", ("py3_diabetes", f)):
        bad.append(i)
t.ok(not bad, "fractional floats: the same value as the real[] cast", bad)
i, f, c, p, c2 = rows[0]
t.ok(one("SELECT maas_predict(%s, %s)", ("py3_digits", Json(f))) == c
     and one("SELECT maas_predict(%s, %s)", ("py3_digits", Jsonb(f))) == c
     and one("SELECT maas_predict(%s, %s)", ("py3_digits", json.dumps(f))) == c,
     "JSON in as json, jsonb and an untyped str")
ans = one("SELECT maas_predict_json(%s, %s)", ("py3_digits", f))
t.ok(ans["model"] == "py3_digits" and ans["version"] == 1 and ans["prediction"] == c and ans["label"] == str(c)
     and close([ans["proba"][str(k)] for k in range(10)], p, 1e-5),
     "maas_predict_json: a dict with the version, the class and PyTorch's probabilities", ans)

# a server-side prepared statement (prepare=True), across deploys
q = "SELECT maas_predict_json(%s, %s)"


def execute_prepared():
    a = conn.execute(q, ("py3_digits", f), prepare=True).fetchone()[0]
    return a["version"], a["label"]


t.ok(execute_prepared() == (1, str(c)), "prepared: version 1 answers")
t.ok(conn.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT maas_predict_json%'")
     .fetchone()[0] == 1, "the statement is prepared on the server")
other.execute("SELECT maas_deploy('py3_digits', 2)")
t.ok(execute_prepared() == (2, V2_NAMES[c2]), "another session deploys 2: the next execution answers with 2")
other.execute("SELECT maas_deploy('py3_digits', 1)")
t.ok(execute_prepared() == (1, str(c)), "and back to 1")

state = lambda e: e.sqlstate
t.sqlstate("wrong number of features", "22023", lambda: one(q, ("py3_digits", [1, 2])), state)
t.sqlstate("a None in the list", "22004", lambda: one(q, ("py3_digits", [None] + [0] * 63)), state)
t.sqlstate("infinity", "22023", lambda: one(q, ("py3_digits", [float("inf")] + [0.0] * 63)), state)
t.sqlstate("an unknown model", "42704", lambda: one(q, ("py3_nosuch", f)), state)
t.sqlstate("a JSON object without a column", "55000", lambda: one(q, ("py3_digits", Jsonb({"a": 1}))), state)
t.ok(one("SELECT maas_predict(%s, %s)", ("py3_digits", f)) == c, "the session still works after the errors")

one("SELECT maas_drop('py3_digits') + maas_drop('py3_diabetes')")
t.done()
