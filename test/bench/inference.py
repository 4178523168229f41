"""Driver of test/bench/inference: loads the benchmark database, times each
case and its peer on the same machine in the same run, prints one table.

Timings are the median of --runs runs of each query (psql \\timing), after
one warm-up run in the same session (model cache filled, numpy imported).
Rates are rows per second.  Run through test/bench/inference, which
installs everything and starts the cluster this talks to.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import tempfile

N_TEST = 10000
N_SYN = 1000000

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--port", default="5497")
ap.add_argument("--floor", required=True)
ap.add_argument("--floor-dnnl", help="floor.c built with -DFLOOR_DNNL (oneDNN sgemm)")
ap.add_argument("--ort-dir", required=True)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--batch-size", type=int, default=1024)
ap.add_argument("--pgbench-seconds", type=int, default=10)
ap.add_argument("--json")
ap.add_argument("--setup-only", action="store_true")
a = ap.parse_args()
DATA = a.data
CORETYPE = None		# the OpenBLAS core type maas chose (maas_blas_info), set in main
FLOOR_LIB = {}		# threads -> {case: the library that gave the floor}


def psql(script, db="postgres"):
    cmd = ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-At", "-h", "/tmp",
           "-p", a.port, "-d", db, "-v", "ON_ERROR_STOP=1"]
    r = subprocess.run(cmd, input=script, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"psql failed:\n{script[:2000]}\n{r.stderr}")
    return r.stdout


def timed(sql, setup="", warm=True):
    """median seconds of sql, run --runs times in one session after setup"""
    script = setup + "\n" + (sql + ";\n" if warm else "") + "\\timing on\n" + (sql + ";\n") * a.runs
    out = psql(script)
    t = [float(x) / 1e3 for x in re.findall(r"^Time: ([\d.]+) ms", out, re.M)][-a.runs:]
    return statistics.median(t)


def floor_run(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return {m[0]: float(m[1]) for m in re.findall(r"^RESULT (\S+) (\S+)", out, re.M)}


def floor_c(threads, batch):
    """the best of OpenBLAS as it detects the CPU, OpenBLAS with the core
    type maas chose (maas_blas_info), and oneDNN's sgemm, per case"""
    variants = {"OpenBLAS as detected": dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))}
    if CORETYPE:
        variants[f"OpenBLAS {CORETYPE}"] = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads),
                                                 OPENBLAS_CORETYPE=CORETYPE)
    if a.floor_dnnl:
        variants["oneDNN sgemm"] = dict(os.environ, OMP_NUM_THREADS=str(threads))
    best, who = {}, {}
    for name, env in variants.items():
        exe = a.floor_dnnl if name.startswith("oneDNN") else a.floor
        for k, v in floor_run([exe, DATA, str(batch)], env).items():
            if k not in best or v < best[k]:
                best[k], who[k] = v, name
    FLOOR_LIB[threads] = who
    return best


def ort():
    env = dict(os.environ, ORT_NODE_DIR=a.ort_dir)
    out = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "ort.js"), DATA],
                         env=env, capture_output=True, text=True, check=True).stdout
    return {m[0]: float(m[1]) / float(m[2]) for m in re.findall(r"^RESULT (\S+) (\S+) (\S+)", out, re.M)}


def pgbench(sql, clients=8):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False, dir="/tmp") as f:
        f.write("\\set id random(0, %d)\n%s\n" % (N_TEST - 1, sql))
    os.chmod(f.name, 0o644)
    try:
        r = subprocess.run(["runuser", "-u", "postgres", "--", "pgbench", "-n", "-h", "/tmp", "-p", a.port,
                            "-c", str(clients), "-j", "2", "-T", str(a.pgbench_seconds), "-f", f.name,
                            "postgres"], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        raise SystemExit("pgbench failed:\n" + r.stdout + r.stderr)
    tps = float(re.search(r"tps = ([\d.]+) \(without initial", r.stdout).group(1))
    lat = float(re.search(r"latency average = ([\d.]+) ms", r.stdout).group(1))
    sd = re.search(r"latency stddev = ([\d.]+) ms", r.stdout)
    return tps, lat, float(sd.group(1)) if sd else None


def setup():
    d = DATA
    psql(f"""
CREATE EXTENSION maas;
CREATE EXTENSION plpython3u;
-- the Fashion-MNIST test set in the three storages a real[784] column can have
CREATE TABLE fmnist (id int PRIMARY KEY, pixels real[] NOT NULL, label int NOT NULL);
\\copy fmnist FROM '{d}/fmnist_test.copy'
CREATE TABLE fmnist_external (id int PRIMARY KEY, pixels real[] NOT NULL, label int NOT NULL);
ALTER TABLE fmnist_external ALTER COLUMN pixels SET STORAGE EXTERNAL;
CREATE TABLE fmnist_plain (id int PRIMARY KEY, pixels real[] NOT NULL, label int NOT NULL);
ALTER TABLE fmnist_plain ALTER COLUMN pixels SET STORAGE PLAIN;
-- pixels[1:784] makes a new, uncompressed array: INSERT ... SELECT pixels would
-- copy the compressed datum as it is
INSERT INTO fmnist_external SELECT id, pixels[1:784], label FROM fmnist;
INSERT INTO fmnist_plain SELECT id, pixels[1:784], label FROM fmnist;
-- 1,000,000 rows of 50 features
CREATE TABLE syn1m AS
  SELECT g AS id, ARRAY[{", ".join(["(random() * 2 - 1)::real"] * 50)}] AS f
    FROM generate_series(1, {N_SYN}) g;
VACUUM ANALYZE fmnist, fmnist_external, fmnist_plain, syn1m;
SELECT maas_register('fmnist', 'mlp', pg_read_binary_file('{d}/mlp.safetensors'),
                     pg_read_file('{d}/mlp.json')::jsonb);
SELECT maas_deploy('fmnist', 'latest');
SELECT maas_register('logreg50', 'logistic', pg_read_binary_file('{d}/logreg50.safetensors'),
                     pg_read_file('{d}/logreg50.json')::jsonb);
SELECT maas_deploy('logreg50', 'latest');
-- the PL/Python + NumPy peer: the same MLP from the .npz, weights kept in SD
CREATE TABLE peer_model (name text PRIMARY KEY, npz bytea NOT NULL);
INSERT INTO peer_model VALUES ('mlp', pg_read_binary_file('{d}/mlp.npz'));
CREATE FUNCTION peer_mlp_np(pixels real[]) RETURNS int LANGUAGE plpython3u AS $$
m = SD.get('m')
if m is None:
    import io
    import numpy
    z = numpy.load(io.BytesIO(plpy.execute("SELECT npz FROM peer_model WHERE name = 'mlp'")[0]['npz']))
    m = SD['m'] = (numpy, z['W1'], z['b1'], z['W2'], z['b2'])
np, w1, b1, w2, b2 = m
h = np.maximum(np.asarray(pixels, dtype=np.float32) @ w1 + b1, 0)
return int((h @ w2 + b2).argmax())
$$;
""")


def main():
    setup()
    if a.setup_only:
        print(f"cluster loaded: psql -h /tmp -p {a.port} -U postgres postgres")
        return
    res = {}
    global CORETYPE
    res["blas_info"] = psql("SELECT component, backend, kernel, library, threads FROM maas_blas_info()"
                            " WHERE component <> 'cpu' ORDER BY 1").strip()
    CORETYPE = psql("SELECT kernel FROM maas_blas_info() WHERE component = 'blas'").strip().split("|")[0] or None
    sizes = psql("""SELECT c.relname, pg_relation_size(c.oid), pg_total_relation_size(c.reltoastrelid)
                      FROM pg_class c WHERE relname IN ('fmnist', 'fmnist_external', 'fmnist_plain', 'syn1m')
                     ORDER BY 1""")
    res["sizes"] = {r.split("|")[0]: [int(r.split("|")[1]), int(r.split("|")[2])]
                    for r in sizes.strip().splitlines()}

    serial = "SET max_parallel_workers_per_gather = 0;"
    batch_set = serial + f"SET maas.blas_threads = 2; SET maas.batch_size = {a.batch_size};"
    storages = [("default", "fmnist"), ("external", "fmnist_external"), ("plain", "fmnist_plain")]

    # correctness first: batch, per-row and the peer agree
    res["agree"] = psql(f"""{serial}
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.prediction = maas_predict('fmnist', t.pixels)) AS batch_eq_row,
       count(*) FILTER (WHERE b.prediction = peer_mlp_np(t.pixels)) AS batch_eq_plpython,
       round(avg((b.prediction = t.label)::int), 4) AS accuracy
  FROM maas_predict_batch('fmnist', 'SELECT id, pixels FROM fmnist') b JOIN fmnist t USING (id);""").strip()
    print("agreement (rows | batch = per-row | batch = PL/Python | accuracy):", res["agree"], flush=True)

    for name, tbl in storages:
        res[f"scan_{name}"] = timed(f"SELECT sum(array_length(pixels, 1)) FROM {tbl}", serial)
        res[f"batch_{name}"] = timed(
            f"SELECT sum(prediction) FROM maas_predict_batch('fmnist', 'SELECT id, pixels FROM {tbl}')",
            batch_set)
        res[f"row_{name}"] = timed(f"SELECT sum(maas_predict('fmnist', pixels)) FROM {tbl}", serial)
        print(f"{name:9s} scan {res[f'scan_{name}'] * 1e3:8.1f} ms   batch {res[f'batch_{name}'] * 1e3:8.1f} ms"
              f"   per-row {res[f'row_{name}'] * 1e3:8.1f} ms", flush=True)
    res["batch_external_1thread"] = timed(
        "SELECT sum(prediction) FROM maas_predict_batch('fmnist', 'SELECT id, pixels FROM fmnist_external')",
        serial + f"SET maas.batch_size = {a.batch_size};")
    res["row_default_parallel2"] = timed(
        "SELECT sum(maas_predict('fmnist', pixels)) FROM fmnist",
        "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;"
        "SET min_parallel_table_scan_size = 0; ALTER TABLE fmnist SET (parallel_workers = 2);")
    res["plpython_row"] = timed("SELECT sum(peer_mlp_np(pixels)) FROM fmnist", serial)
    print(f"PL/Python per-row {res['plpython_row'] * 1e3:.1f} ms", flush=True)

    res["syn_scan"] = timed("SELECT sum(cardinality(f)) FROM syn1m", serial)
    res["syn_row"] = timed("SELECT sum(maas_predict('logreg50', f)) FROM syn1m", serial)
    res["syn_batch"] = timed(
        "SELECT sum(prediction) FROM maas_predict_batch('logreg50', 'SELECT id, f FROM syn1m')", batch_set)
    print(f"syn1m scan {res['syn_scan']:.3f} s  per-row {res['syn_row']:.3f} s  batch {res['syn_batch']:.3f} s",
          flush=True)

    res["floor2"] = floor_c(2, a.batch_size)
    res["floor1"] = floor_c(1, a.batch_size)
    res["ort"] = ort()
    print("floor (2 threads):", res["floor2"], " floor (1 thread):", res["floor1"], " ORT s/row:", res["ort"],
          flush=True)

    res["pgbench_maas"] = pgbench("SELECT maas_predict('fmnist', pixels) FROM fmnist WHERE id = :id;")
    res["pgbench_plpython"] = pgbench("SELECT peer_mlp_np(pixels) FROM fmnist WHERE id = :id;")

    report(res)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


def report(r):
    sgemm = r["floor2"][f"batch{a.batch_size}"]
    ort_batch = 1 / r["ort"][f"batch{N_TEST}"]
    ort_row = 1 / r["ort"]["row"]
    rate = lambda s, n=N_TEST: n / s  # noqa: E731
    rows = []

    def line(case, maas, peer, peer_name, ratio, target, met):
        rows.append((case, maas, peer, peer_name, ratio, target, "met" if met else "MISSED"))

    for name in ("external", "default"):
        floor = r[f"scan_{name}"] + sgemm
        b = r[f"batch_{name}"]
        if name == "external":
            line("batch 10k, EXTERNAL storage", rate(b), ort_batch, "ONNX Runtime batch",
                 rate(b) / ort_batch, ">= 1.00", rate(b) >= ort_batch)
        line(f"batch 10k, {name.upper() if name == 'external' else 'default (pglz)'} storage",
             rate(b), rate(floor), "floor: scan + sgemm", b / floor, "<= 1.15x time", b <= 1.15 * floor)
    line("batch 10k, EXTERNAL, maas.blas_threads = 1", rate(r["batch_external_1thread"]),
         rate(r["scan_external"] + r["floor1"][f"batch{a.batch_size}"]), "floor: scan + sgemm 1 thread",
         r["batch_external_1thread"] / (r["scan_external"] + r["floor1"][f"batch{a.batch_size}"]), "(info)", True)
    line("batch 10k, PLAIN storage", rate(r["batch_plain"]), rate(r["scan_plain"] + sgemm),
         "floor: scan + sgemm", r["batch_plain"] / (r["scan_plain"] + sgemm), "(info)", True)
    pr = r["row_default"]
    line("per-row maas_predict, 10k, default storage", rate(pr), rate(r["plpython_row"]), "PL/Python + NumPy",
         r["plpython_row"] / pr, ">= 2.50", r["plpython_row"] / pr >= 2.5)
    line("per-row maas_predict, 10k, default storage", rate(pr), ort_row, "ONNX Runtime single row",
         rate(pr) / ort_row, ">= 1.00 (aim)", rate(pr) >= ort_row)
    line("per-row maas_predict, 10k, EXTERNAL storage", rate(r["row_external"]),
         1 / r["floor1"]["row"] * N_TEST, "GEMV floor (C, 1 thread)",
         r["row_external"] / r["floor1"]["row"], "<= 1.20x time", r["row_external"] <= 1.2 * r["floor1"]["row"])
    line("per-row, 10k, default, 2 parallel workers", rate(r["row_default_parallel2"]), rate(r["plpython_row"]),
         "PL/Python + NumPy (serial)", r["plpython_row"] / r["row_default_parallel2"], "(info)", True)
    line("logistic (50 features) per row, 1M rows", rate(r["syn_row"], N_SYN), rate(r["syn_scan"], N_SYN),
         "floor: scan reading each array", r["syn_row"] / r["syn_scan"], "<= 1.60x time",
         r["syn_row"] <= 1.6 * r["syn_scan"])
    line("logistic (50 features) batch, 1M rows", rate(r["syn_batch"], N_SYN), rate(r["syn_scan"], N_SYN),
         "floor: scan reading each array", r["syn_batch"] / r["syn_scan"], "(info)", True)
    tm, lm, _ = r["pgbench_maas"]
    tp, lp, _ = r["pgbench_plpython"]
    line(f"pgbench 8 clients, TPS (latency {lm:.2f} ms vs {lp:.2f} ms)", tm, tp, "PL/Python + NumPy",
         tm / tp, "(report)", True)

    cpu = "?"
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1)
    except OSError:
        pass
    print()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, {platform.platform()}; median of {a.runs} runs;"
          f" batch_size {a.batch_size}, maas.blas_threads 2 for batch, 1 per row")
    flags = set()
    try:
        flags = set(re.search(r"^flags\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M).group(1).split())
    except (OSError, AttributeError):
        pass
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                        "amx_tile", "amx_bf16", "amx_int8") if f in flags]
    print("SIMD features:", " ".join(simd) or "none of AVX2/AVX-512/AMX")
    print("kernels maas chose (maas_blas_info: component | backend | kernel | library | threads):")
    for line_ in r.get("blas_info", "").splitlines():
        print("   ", line_)
    print("floor libraries (fastest per case): 2 threads", FLOOR_LIB.get(2), "; 1 thread", FLOOR_LIB.get(1))
    print(f"sgemm floor (best of C + OpenBLAS / oneDNN, 2 threads, batches of {a.batch_size}): {sgemm * 1e3:.1f} ms for 10k rows;"
          f" scans: default {r['scan_default'] * 1e3:.1f} ms, EXTERNAL {r['scan_external'] * 1e3:.1f} ms,"
          f" PLAIN {r['scan_plain'] * 1e3:.1f} ms")
    print()
    hdr = ("case", "maas rows/s", "peer rows/s", "peer", "ratio", "target", "")
    w = [max(len(hdr[0]), *(len(x[0]) for x in rows)), 12, 12, max(len(x[3]) for x in rows), 7, 14, 6]
    fmt = lambda c: " | ".join(str(v).ljust(w[i]) if i in (0, 3, 5, 6) else str(v).rjust(w[i])  # noqa: E731
                               for i, v in enumerate(c))
    print(fmt(hdr))
    print("-+-".join("-" * x for x in w))
    for c in rows:
        print(fmt((c[0], f"{c[1]:,.0f}", f"{c[2]:,.0f}", c[3], f"{c[4]:.2f}", c[5], c[6] if "(" not in c[5] else "")))
    missed = [c[0] + " vs " + c[3] for c in rows if c[6] == "MISSED" and "(" not in c[5]]
    print()
    print("missed:", "; ".join(missed) if missed else "none")
    print("table sizes (heap, toast bytes):", r["sizes"])


main()
