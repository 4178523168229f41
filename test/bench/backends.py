"""The 784-512-10 MLP per backend, side by side in one run (issue 10).

For each cluster given (LABEL=HOST:PORT; a second cluster lets two builds of
maas be compared in the same run) and each backend configuration, times
per-row maas_predict and maas_predict_batch (maas.blas_threads 1 and 2) over
the 10k Fashion-MNIST test rows in EXTERNAL storage, and the plain scan, and
prints each configuration's kernels (maas_blas_info) and one table.  The
configurations, each in its own session (the OpenBLAS core type is read
when the library is loaded):

  auto            maas.gemm_backend = auto: what maas picks on this CPU
  blas            the BLAS library, OPENBLAS_CORETYPE set from the features
  blas-detected   the BLAS library as its own detection would run it on a
                  CPU it does not know (Prescott: maas.cpu_features_disable
                  = 'sse3' leaves SSE2 only, so maas asks for Prescott)

Batch timings, per configuration, taking turns in one session (so that a
change of the machine's load falls on all three alike): 1 thread (serial,
as maas.blas_threads = 1 always is), 2 threads with maas.batch_pipeline =
on (the worker thread runs batch k's products while the backend reads
batch k + 1: with one BLAS thread where that changes no output, oneDNN's
matmul, which is also what auto does; with both for OpenBLAS, which auto
leaves serial; maas.batch_join = on, its default: the backend's thread
joins the products once it has read the next batch), the same with
maas.batch_join = off (the worker alone on the products, as before the
join), and 2 threads with maas.batch_pipeline = off (the
libraries' two threads run each batch's products, serially with the
reading).  With
--floor, the best f32 GEMM floor of the MLP (test/bench/gemm_bench.c, a
batch of 1024 rows, 1 and 2 threads, the fastest implementation) is
measured in the same run, and the batch is compared with the floor "scan +
best GEMM"; with --ort, ONNX Runtime's one 10k batch (test/bench/ort.js,
2 threads) too.

Timings are the median of --runs runs after a warm-up run in the same
session.  Needs the data of test/bench/prepare.py.

  /usr/bin/python3 test/bench/backends.py --data DIR --cluster new=/tmp/x:5432 [--cluster old=...]
      [--configs auto] [--floor] [--ort]
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile

N = 10000
CONFIGS = [
    ("auto", {}),
    ("blas", {"maas.gemm_backend": "blas"}),
    ("blas-detected", {"maas.gemm_backend": "blas", "maas.cpu_features_disable": "sse3"}),
]

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--cluster", action="append", required=True, help="LABEL=HOST:PORT")
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--configs", default=",".join(c[0] for c in CONFIGS))
ap.add_argument("--floor", action="store_true", help="time the GEMM floor (gcc, oneDNN)")
ap.add_argument("--ort", action="store_true", help="time ONNX Runtime (node, onnxruntime-node)")
a = ap.parse_args()
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def psql(where, script, options=None):
    host, port = where
    env = dict(os.environ, PGHOST=host, PGPORT=port, PGUSER="postgres", PGDATABASE="postgres")
    if options:
        env["PGOPTIONS"] = " ".join(f"-c {k}={v}" for k, v in options.items())
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], input=script,
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"psql failed:\n{script[:1500]}\n{r.stderr}")
    return r.stdout


def timed(where, sql, setup="", options=None):
    script = setup + "\n" + sql + ";\n\\timing on\n" + (sql + ";\n") * a.runs
    out = psql(where, script, options)
    t = [float(x) / 1e3 for x in re.findall(r"^Time: ([\d.]+) ms", out, re.M)][-a.runs:]
    return statistics.median(t)


def timed_rounds(where, sql, variants, setup="", options=None):
    """medians of sql under each variant's SETs, the variants taking turns in one session"""
    script = setup + "\n"
    for v in variants:
        script += v + "\n" + sql + ";\n"
    for _ in range(a.runs):
        for v in variants:
            script += v + "\n\\timing on\n" + sql + ";\n\\timing off\n"
    out = psql(where, script, options)
    t = [float(x) / 1e3 for x in re.findall(r"^Time: ([\d.]+) ms", out, re.M)]
    return [statistics.median(t[i::len(variants)]) for i in range(len(variants))]


def setup(where):
    d = a.data
    if psql(where, "SELECT count(*) FROM pg_extension WHERE extname = 'maas'").strip() == "0":
        psql(where, "CREATE EXTENSION maas;")
    if psql(where, "SELECT count(*) FROM pg_class WHERE relname = 'fmnist_external'").strip() == "0":
        psql(where, f"""
CREATE TABLE fmnist_load (id int PRIMARY KEY, pixels real[] NOT NULL, label int NOT NULL);
\\copy fmnist_load FROM '{d}/fmnist_test.copy'
CREATE TABLE fmnist_external (id int PRIMARY KEY, pixels real[] NOT NULL, label int NOT NULL);
ALTER TABLE fmnist_external ALTER COLUMN pixels SET STORAGE EXTERNAL;
INSERT INTO fmnist_external SELECT id, pixels[1:784], label FROM fmnist_load;
DROP TABLE fmnist_load;
VACUUM ANALYZE fmnist_external;
SELECT maas_register('fmnist', 'mlp', pg_read_binary_file('{d}/mlp.safetensors'),
                     pg_read_file('{d}/mlp.json')::jsonb);
SELECT maas_deploy('fmnist', 'latest');
""")


def gemm_floor():
    """seconds for the 10k rows at the best f32 rate for batches of 1024, per thread count"""
    k = os.path.join(ROOT, "src", "kernel")
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "gemm_bench")
        srcs = [os.path.join(k, f) for f in ("blas.c", "blas_dispatch.c", "cpu.c", "quantize.c",
                                             "gemm_int8.c", "gemm_bf16.c", "gemm_onednn.c",
                                             "gemm_onednn_conv.c", "gemm_onednn_convbwd.c", "gemm_onednn_stub.c", "error.c")]
        subprocess.run(["gcc", "-std=gnu99", "-O2", "-I" + k, "-o", exe,
                        os.path.join(HERE, "gemm_bench.c")] + srcs + ["-ldl", "-lpthread", "-lm"],
                       check=True)
        out = {}
        for t in (1, 2):
            r = subprocess.run([exe, "run", str(t)], capture_output=True, text=True, check=True).stdout
            rates = [float(x) for x in re.findall(r"f32 +batch of 1024: +[\d.]+ us = +(\d+) rows/s", r)]
            mlp = [float(x) for x in re.findall(r"f32 +batch of 1024 +[\d.]+ us = +(\d+) rows/s", r)]
            out[t] = N / max(rates + mlp)
            print(f"[floor] {t} thread(s): best f32 layers {rates[0]:,.0f} rows/s, MLP through maas's"
                  f" interface {mlp[0] if mlp else 0:,.0f} rows/s", flush=True)
    return out


def ort_batch():
    env = dict(os.environ)
    r = subprocess.run(["node", os.path.join(HERE, "ort.js"), a.data], capture_output=True, text=True,
                       env=env, check=True).stdout
    m = re.search(r"RESULT batch(\d+) ([\d.]+) (\d+)", r)
    return float(m.group(2)) * N / int(m.group(1))


def main():
    clusters = []
    for c in a.cluster:
        label, hp = c.split("=", 1)
        host, port = hp.rsplit(":", 1)
        clusters.append((label, (host, port)))
    configs = [c for c in CONFIGS if c[0] in a.configs.split(",")]
    serial = "SET max_parallel_workers_per_gather = 0;"
    batch = "SELECT sum(prediction) FROM maas_predict_batch('fmnist', 'SELECT id, pixels FROM fmnist_external')"
    row = "SELECT sum(maas_predict('fmnist', pixels)) FROM fmnist_external"
    scan = "SELECT sum(array_length(pixels, 1)) FROM fmnist_external"
    res = []
    for label, where in clusters:
        setup(where)
        agree = psql(where, serial + """
SELECT count(*) FILTER (WHERE b.prediction = maas_predict('fmnist', t.pixels)) = count(*),
       round(avg((b.prediction = t.label)::int), 4)
  FROM maas_predict_batch('fmnist', 'SELECT id, pixels FROM fmnist_external') b
  JOIN fmnist_external t USING (id)""").strip()
        print(f"[{label}] batch = per-row, accuracy: {agree}", flush=True)
    for label, where in clusters:
        for name, opts in configs:
            kernels = psql(where, "SELECT component || ': ' || coalesce(backend, '') || ' ' || coalesce(kernel, '')"
                           " FROM maas_blas_info() WHERE component IN ('blas', 'gemm_f32 rows', 'gemm_f32 one row')", opts)
            print(f"[{label} {name}] " + "; ".join(kernels.strip().splitlines()), flush=True)
            r = {"cluster": label, "config": name}
            r["scan"] = timed(where, scan, serial, opts)
            r["row"] = timed(where, row, serial + "SET maas.blas_threads = 1;", opts)
            r["batch1"], r["batch2"], r["batch2n"], r["batch2s"] = timed_rounds(where, batch, [
                "SET maas.blas_threads = 1; SET maas.batch_pipeline = off;",
                "SET maas.blas_threads = 2; SET maas.batch_pipeline = on; SET maas.batch_join = on;",
                "SET maas.blas_threads = 2; SET maas.batch_pipeline = on; SET maas.batch_join = off;",
                "SET maas.blas_threads = 2; SET maas.batch_pipeline = off;"], serial, opts)
            print(f"[{label} {name}] scan {r['scan'] * 1e3:.1f} ms, per-row {r['row'] * 1e3:.1f} ms,"
                  f" batch 1 thread {r['batch1'] * 1e3:.1f} ms, 2 threads pipelined {r['batch2'] * 1e3:.1f} ms"
                  f" (not joined {r['batch2n'] * 1e3:.1f} ms),"
                  f" 2 threads serial {r['batch2s'] * 1e3:.1f} ms", flush=True)
            res.append(r)
    floor = gemm_floor() if a.floor else None
    ort = ort_batch() if a.ort else None

    cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1)
    load = open("/proc/loadavg").read().split()[:3]
    print(f"\nmachine: {cpu}, {os.cpu_count()} CPUs, load average {' '.join(load)}; median of {a.runs} runs;"
          " 10k rows, EXTERNAL storage, no parallel query")
    hdr = ("build", "backend", "scan ms", "per-row us/row", "per-row us (less scan)",
           "batch rows/s 1 thr", "batch rows/s 2 thr pipelined", "batch rows/s 2 thr not joined",
           "batch rows/s 2 thr serial",
           "pipelined / serial 2 thr (speed)", "2 thr / scan")
    print(" | ".join(hdr))
    for r in res:
        print(" | ".join([r["cluster"], r["config"], f"{r['scan'] * 1e3:.1f}", f"{r['row'] / N * 1e6:.1f}",
                          f"{(r['row'] - r['scan']) / N * 1e6:.1f}", f"{N / r['batch1']:,.0f}",
                          f"{N / r['batch2']:,.0f}", f"{N / r['batch2n']:,.0f}", f"{N / r['batch2s']:,.0f}",
                          f"{r['batch2s'] / r['batch2']:.2f}x", f"{r['batch2'] / r['scan']:.2f}x"]))
    if floor or ort:
        print("\nbatch against the floor (scan + best f32 GEMM, same threads; time ratio, target <= 1.15x"
              " with 2 threads) and ONNX Runtime (rows/s ratio, target >= 1.0x):")
    for r in res:
        if floor:
            print(f"[{r['cluster']} {r['config']}] floor 1 thr {(r['scan'] + floor[1]) * 1e3:.1f} ms,"
                  f" 2 thr {(r['scan'] + floor[2]) * 1e3:.1f} ms; 1 thr serial {r['batch1'] / (r['scan'] + floor[1]):.2f}x,"
                  f" 2 thr pipelined {r['batch2'] / (r['scan'] + floor[2]):.2f}x"
                  f" (not joined {r['batch2n'] / (r['scan'] + floor[2]):.2f}x),"
                  f" 2 thr serial {r['batch2s'] / (r['scan'] + floor[2]):.2f}x the floor")
        if ort:
            print(f"[{r['cluster']} {r['config']}] ONNX Runtime {N / ort:,.0f} rows/s;"
                  f" 2 thr pipelined {ort / r['batch2']:.2f}x (not joined {ort / r['batch2n']:.2f}x),"
                  f" 2 thr serial {ort / r['batch2s']:.2f}x its rows/s")


main()
