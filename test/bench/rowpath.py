#!/usr/bin/python3
"""The two tiny-model cases of issue 10, each beside its floor in one run.

1. Per row: SELECT sum(maas_predict('logreg50', f)) over 1,000,000 rows of
   real[50] (a 50-feature logistic model), against the scan that reads
   each array (SELECT sum(cardinality(f))).
2. Ridge from a table: maas_train(..., 'linear', l2 1) on 1,000,000 x 50
   real columns + y, against the scan that reads every column
   (SELECT sum(y): y is the last column).

It talks to the server libpq's environment names (PGHOST, PGPORT, ...), in
which maas is installed, makes its tables once (syn1m, ridge_1m: about
600 MB) and keeps them.  Each round times the four statements one after the
other, each in its own session after a warm-up, with psql's \\timing; the
figures are the medians over the rounds and the ratios are taken within a
round, so that both sides of a ratio see the same load.  It prints figures
and ratios and never fails on time.

    /usr/bin/python3 test/bench/rowpath.py [--rounds 5] [--only row|ridge]
"""
import argparse
import re
import statistics
import struct
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--only", choices=["row", "ridge"])
ap.add_argument("--rows", type=int, default=1000000)
a = ap.parse_args()


def psql(script):
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], input=script,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("psql failed:\n%s\n%s" % (script[:2000], r.stderr))
    return r.stdout


CPU = "SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint"


def timed(sql, setup=""):
    """(wall, cpu) seconds of sql, run once in a session after setup and a
    warm-up run; cpu is the backend's time on a CPU (/proc/self/schedstat)"""
    out = psql(setup + "\n" + sql + ";\n" + CPU + " AS c0 \\gset\n\\timing on\n" + sql +
               ";\n\\timing off\n" + CPU + " - :c0;\n")
    wall = float(re.findall(r"^Time: ([\d.]+) ms", out, re.M)[-1]) / 1e3
    return wall, int(out.strip().splitlines()[-1]) / 1e9


def safetensors_hex(tensors):
    header, off, blobs = {}, 0, []
    for name, vals in tensors:
        b = struct.pack("<%df" % len(vals), *vals)
        header[name] = '{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}' % (
            "[1,%d]" % len(vals) if name == "weight" else "[1]", off, off + len(b))
        off += len(b)
        blobs.append(b)
    h = ("{" + ",".join('"%s":%s' % kv for kv in header.items()) + "}").encode()
    h += b" " * (-len(h) % 8)
    return (struct.pack("<Q", len(h)) + h + b"".join(blobs)).hex()


def setup():
    psql("CREATE EXTENSION IF NOT EXISTS maas")
    have = psql("SELECT string_agg(relname, ',') FROM pg_class WHERE relname IN ('syn1m', 'ridge_1m')")
    if a.only != "ridge" and "syn1m" not in have:
        psql("CREATE TABLE syn1m AS SELECT g AS id, ARRAY[%s] AS f FROM generate_series(1, %d) g;"
             "VACUUM ANALYZE syn1m" % (", ".join(["(random() * 2 - 1)::real"] * 50), a.rows))
    if a.only != "row" and "ridge_1m" not in have:
        cols = ", ".join("random()::real AS x%d" % i for i in range(1, 51))
        expr = " + ".join("%g * x%d" % (((i * 37) % 19 - 9) / 3.0, i) for i in range(1, 51))
        psql("CREATE TABLE ridge_1m AS SELECT *, (%s + 0.1 * random())::real AS y "
             "FROM (SELECT %s FROM generate_series(1, %d)) s; VACUUM ANALYZE ridge_1m"
             % (expr, cols, a.rows))
    if a.only != "ridge":
        # the weights of test/bench/prepare.py's logreg50 are random too; these are fixed
        w = [((i * 7919) % 101 - 50) / 354.0 for i in range(50)]
        psql("SELECT maas_drop('logreg50') FROM maas.models WHERE model = 'logreg50';"
             "SELECT maas_register('logreg50', 'logistic', '\\x%s'::bytea, "
             "'{\"task\": \"classification\", \"n_features\": 50, \"labels\": [0, 1], "
             "\"layers\": [{\"op\": \"dense\", \"weight\": \"weight\", \"bias\": \"bias\"}, "
             "{\"op\": \"sigmoid\"}]}'::jsonb); SELECT maas_deploy('logreg50', 'latest')"
             % safetensors_hex([("weight", w), ("bias", [0.1])]))


def main():
    setup()
    serial = "SET max_parallel_workers_per_gather = 0; SET maas.blas_threads = 1;"
    train = ("SELECT version FROM maas_train('bench_ridge', 'ridge_1m', 'y', 'linear', "
             "'{\"l2\": 1, \"deploy\": \"never\"}')")
    cases = []
    if a.only != "ridge":
        cases += [("row_scan", "SELECT sum(cardinality(f)) FROM syn1m", serial),
                  ("row", "SELECT sum(maas_predict('logreg50', f)) FROM syn1m", serial)]
    if a.only != "row":
        cases += [("ridge_scan", "SELECT sum(y) FROM ridge_1m", serial),
                  ("ridge", train, serial + "SET maas.training_notices = off;"
                   "SET maas.training_threads = 1;")]
    r = {k: [] for k, _, _ in cases}
    for i in range(a.rounds):
        for k, sql, set_ in cases:
            r[k].append(timed(sql, set_))
        if a.only != "row":
            psql("SELECT maas_drop('bench_ridge')")
        print("round %d: %s" % (i + 1, "  ".join("%s %.3f s (cpu %.3f s)" % ((k,) + r[k][-1])
                                                 for k in r)), flush=True)
    print("load average:%s" % open("/proc/loadavg").read().rsplit(" ", 2)[0])
    for name, k, floor, target in (("logistic 50 features, per row, %d rows" % a.rows, "row", "row_scan", 1.6),
                                   ("ridge %d x 50 from a table" % a.rows, "ridge", "ridge_scan", 2.0)):
        if k not in r:
            continue
        for j, what in ((0, "wall"), (1, "cpu")):
            ratios = [x[j] / y[j] for x, y in zip(r[k], r[floor])]
            print("%s, %s: %.3f s, floor %.3f s (medians of %d); ratio %.2fx (median of the "
                  "rounds' ratios, range %.2f-%.2f), target <= %.1fx"
                  % (name, what, statistics.median(x[j] for x in r[k]),
                     statistics.median(x[j] for x in r[floor]), a.rounds,
                     statistics.median(ratios), min(ratios), max(ratios), target))

if __name__ == "__main__":
    sys.exit(main())
