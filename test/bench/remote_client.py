#!/usr/bin/python3
"""The peer of the remote-scoring benchmark: Python's http.client with one
kept-alive connection, scoring the same rows in the same batches against the
KServe v2 test server (test/remote/server.py, model fraud30) as the C driver
(remote_bench.c) does with maas's client.

    remote_client.py PORT [ROWS [BATCH]]    prints "python rows/s N"
Also "python per-row us N": the median of single-row requests.
"""
import http.client
import json
import sys
import time

FEATURES = 30


def row(i):
    return [((i * 31 + j * 17) % 101) / 50.0 - 1.0 for j in range(FEATURES)]


def score(conn, rows):
    body = json.dumps({"inputs": [{"name": "input-0", "shape": [len(rows), FEATURES],
                                   "datatype": "FP32", "data": [v for r in rows for v in r]}]})
    conn.request("POST", "/v2/models/fraud30/infer", body,
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise SystemExit("HTTP %d: %s" % (resp.status, data[:200]))
    out = json.loads(data)["outputs"][0]
    if out["shape"] != [len(rows), 2] or len(out["data"]) != 2 * len(rows):
        raise SystemExit("bad shape %s" % out["shape"])
    return out["data"]


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    rows = [row(i) for i in range(n)]
    conn = http.client.HTTPConnection("127.0.0.1", port)
    score(conn, rows[:batch])                       # warm up
    t = time.perf_counter()
    for i in range(0, n, batch):
        score(conn, rows[i:i + batch])
    el = time.perf_counter() - t
    print("python rows/s %.0f" % (n / el))
    times = []
    for i in range(1000):
        t = time.perf_counter()
        score(conn, rows[i % n:i % n + 1])
        times.append(time.perf_counter() - t)
    times.sort()
    print("python per-row us %.0f" % (times[len(times) // 2] * 1e6))


if __name__ == "__main__":
    main()
