#!/usr/bin/python3
"""Boosted trees and k-means: maas's kernels against their peers, side by side.

    /usr/bin/python3 test/bench/gbdt.py [--rows 1000000] [--trees 300] [--threads 2]
                                        [--only train|predict|kmeans|sql] [--skip-sklearn]
                                        [--sql-rows 200000]

Prints figures and ratios; never passes or fails.  Needs Debian's
python3-xgboost and python3-sklearn, gcc and OpenBLAS (for k-means); the
SQL part needs python3-psycopg2, a throw-away server with maas installed
and postgresql-plpython3-15 (devtest NAME psql prints the PG* variables to
export; never the system server).

1. Training: a synthetic classification table (make_classification, seeded,
   --rows x 30, 2% of three columns NaN), the first 80% to train, the rest
   held out.  300 trees of depth 6, learning rate 0.1, max_bin 256, the
   given threads: maas's trainer (test/bench/gbdt_bench.c on the same
   float32 rows, built here with the extension's flags) against XGBoost
   (tree_method=hist: DMatrix + train, and train alone) and scikit-learn's
   HistGradientBoostingClassifier (max_depth 6, no leaf limit, no early
   stopping).  Times and holdout AUC.
2. Prediction on the held-out rows with the trained models: batch (maas's
   evaluator on the given threads vs XGBoost's inplace_predict) and one row
   at a time (maas's kernel called per row vs XGBoost's inplace_predict per
   row from Python -- what PL/Python would do, without the SQL around it).
3. k-means, --rows x 10 blobs, k = 8, one k-means++ run for each of three
   seeds (a single run may end in a local optimum, on both sides): maas vs
   scikit-learn's KMeans(algorithm="lloyd"), time and inertia.

4. Through SQL (--only sql, or with the others when PGHOST is set): the
   same table's first --sql-rows rows (80% train, 20% holdout) loaded into
   the server, maas_train(..., 'gbdt', test_size 0) against XGBoost on the
   same rows from Python, the holdout AUC by maas_evaluate; prediction per
   row (maas_predict_proba against XGBoost's inplace_predict called per row
   from a PL/Python function, its booster kept in SD), and batch
   (maas_predict_proba_batch against inplace_predict); k-means through
   maas_train(..., 'kmeans') against scikit-learn.

On a shared machine the figures are rough; ratios from one run are what
counts.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build(tmp):
    import glob
    k = os.path.join(REPO, "src", "kernel")
    exe = os.path.join(tmp, "gbdt_bench")
    objs = []
    # every kernel (the layer runtime the metrics and k-means pull in reaches
    # most of them), as the extension compiles them
    for name in sorted(os.path.basename(f)[:-2] for f in glob.glob(os.path.join(k, "*.c"))):
        flags = ["-O2"]
        if name in ("train_gbdt", "gbdt_bin", "gbdt_hist", "gbdt_grow", "train_kmeans",
                    "kmeans_silhouette"):
            flags = ["-O3", "-fno-math-errno", "-fno-trapping-math"]
        obj = os.path.join(tmp, name + ".o")
        subprocess.run(["gcc", "-std=gnu99", "-fPIC", "-I" + k] + flags +
                       ["-c", os.path.join(k, name + ".c"), "-o", obj], check=True)
        objs.append(obj)
    subprocess.run(["gcc", "-std=gnu99", "-O2", "-I" + k, "-o", exe,
                    os.path.join(REPO, "test", "bench", "gbdt_bench.c")] + objs +
                   ["-lm", "-ldl", "-lpthread", "-lcurl"], check=True)
    return exe


def write_data(path, X, y, n_train, n_classes):
    import numpy as np
    with open(path, "wb") as f:
        np.array([X.shape[0], X.shape[1], n_train, n_classes], dtype=np.int64).tofile(f)
        np.ascontiguousarray(X, dtype=np.float32).tofile(f)
        y.astype(np.int32 if n_classes else np.float32).tofile(f)


def run_bench(exe, *args, env=None):
    t0 = time.perf_counter()
    out = subprocess.run([exe] + list(args), check=True, capture_output=True, text=True,
                         env=env)
    wall = time.perf_counter() - t0
    vals = {}
    for line in out.stdout.splitlines():
        k, _, v = line.partition(" ")
        try:
            vals[k] = float(v)
        except ValueError:
            pass
    vals["process_s"] = wall
    return vals


def ratio(a, b):
    return "%.2fx" % (a / b) if b else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", action="append", choices=["train", "predict", "kmeans", "sql"])
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--sql-rows", type=int, default=200_000)
    args = ap.parse_args()
    only = set(args.only or ["train", "predict", "kmeans"] + (["sql"] if os.environ.get("PGHOST") else []))
    th = args.threads
    os.environ["OMP_NUM_THREADS"] = str(th)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    import numpy as np
    import xgboost as xgb
    from sklearn.datasets import make_blobs, make_classification
    from sklearn.metrics import roc_auc_score

    tmp = tempfile.mkdtemp(prefix="maas-gbdt-")
    exe = build(tmp)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from train_peers import cpu_line, openblas_core

    print("machine: %s, load %s" % (os.uname().machine, " ".join("%.2f" % v for v in os.getloadavg())))
    print("%s; OpenBLAS as it detects this CPU: %s; xgboost %s" %
          (cpu_line(), openblas_core(), xgb.__version__))

    X = None
    if only & {"train", "predict", "sql"}:
        X, y = make_classification(n_samples=args.rows, n_features=30, n_informative=15,
                                   n_redundant=5, flip_y=0.05, class_sep=0.8, random_state=42)
        X = X.astype(np.float32)
        rng = np.random.RandomState(7)
        for c in (3, 11, 25):
            X[rng.rand(args.rows) < 0.02, c] = np.nan
        n_train = int(args.rows * 0.8)
        if "sql" in only:
            sql_bench(args, X, y, tmp)
        if not only & {"train", "predict"}:
            X = None
    if X is not None and only & {"train", "predict"}:
        data = os.path.join(tmp, "cls.bin")
        write_data(data, X, y, n_train, 2)
        Xtr, ytr, Xte, yte = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
        print("\n## boosted trees: %d x 30 (%d train, %d holdout), %d trees, depth 6, eta 0.1, "
              "%d threads" % (args.rows, n_train, args.rows - n_train, args.trees, th))

        ours = run_bench(exe, "train", data, "n_estimators=%d" % args.trees, "eta=0.1",
                         "max_depth=6", "max_bin=256", "threads=%d" % th,
                         "predict=%d" % (1 if "predict" in only else 0))
        print("maas     train %8.2f s   auc %.4f" % (ours["train_s"], ours["holdout_auc"]))

        t0 = time.perf_counter()
        dtrain = xgb.DMatrix(Xtr, label=ytr, nthread=th)
        t1 = time.perf_counter()
        params = {"tree_method": "hist", "max_depth": 6, "eta": 0.1, "max_bin": 256,
                  "objective": "binary:logistic", "nthread": th, "seed": 1}
        booster = xgb.train(params, dtrain, args.trees)
        t2 = time.perf_counter()
        booster.set_param({"nthread": th})
        auc_x = roc_auc_score(yte, booster.inplace_predict(Xte))
        xgb_total, xgb_train = t2 - t0, t2 - t1
        print("xgboost  train %8.2f s   auc %.4f   (DMatrix %.2f s + boosting %.2f s)"
              % (xgb_total, auc_x, t1 - t0, xgb_train))
        print("  maas / xgboost: %s of DMatrix + train, %s of boosting alone; auc %+.4f"
              % (ratio(ours["train_s"], xgb_total), ratio(ours["train_s"], xgb_train),
                 ours["holdout_auc"] - auc_x))

        if not args.skip_sklearn:
            from sklearn.ensemble import HistGradientBoostingClassifier
            hgb = HistGradientBoostingClassifier(max_iter=args.trees, max_depth=6,
                                                 max_leaf_nodes=None, learning_rate=0.1,
                                                 max_bins=255, early_stopping=False,
                                                 random_state=1)
            t0 = time.perf_counter()
            hgb.fit(Xtr, ytr)
            t_h = time.perf_counter() - t0
            auc_h = roc_auc_score(yte, hgb.predict_proba(Xte)[:, 1])
            print("sklearn  train %8.2f s   auc %.4f   (HistGradientBoostingClassifier)"
                  % (t_h, auc_h))
            print("  maas / sklearn: %s (target <= 0.5x)" % ratio(ours["train_s"], t_h))

        if "predict" in only:
            n_te = Xte.shape[0]
            print("\n## prediction on the %d holdout rows" % n_te)
            t0 = time.perf_counter()
            booster.inplace_predict(Xte)
            t_b = time.perf_counter() - t0
            print("batch    maas %.0f rows/s (%d threads), %.0f rows/s (1 thread); "
                  "xgboost inplace_predict %.0f rows/s (%d threads)"
                  % (ours["predict_batch_rows_per_s"], th, ours["predict_batch1_rows_per_s"],
                     n_te / t_b, th))
            print("  maas / xgboost batch rate: %s"
                  % ratio(ours["predict_batch_rows_per_s"], n_te / t_b))
            m = 2000
            t0 = time.perf_counter()
            for i in range(m):
                booster.inplace_predict(Xte[i:i + 1])
            t_r = (time.perf_counter() - t0) / m
            print("per row  maas kernel %.2f us; xgboost inplace_predict from Python %.1f us"
                  % (ours["predict_row_us"], t_r * 1e6))
            print("  (the SQL-level comparison, through maas_predict and PL/Python, needs the "
                  "server glue)")

    if "kmeans" in only:
        Xk, _ = make_blobs(n_samples=args.rows, n_features=10, centers=8, cluster_std=2.0,
                           random_state=3)
        Xk = Xk.astype(np.float32)
        data = os.path.join(tmp, "km.bin")
        write_data(data, Xk, np.zeros(args.rows, dtype=np.int32), args.rows, 1)
        print("\n## k-means: %d x 10 (8 blobs), k = 8, one k-means++ run each of 3 seeds, "
              "%d threads" % (args.rows, th))
        from sklearn.cluster import KMeans
        ours_t, ours_i, sk_t, sk_i = [], [], [], []
        for seed in range(3):
            o = run_bench(exe, "kmeans", data, "k=8", "n_init=1", "threads=%d" % th,
                          "seed=%d" % (seed + 1))
            ours_t.append(o["kmeans_s"])
            ours_i.append(o["inertia"])
            t0 = time.perf_counter()
            km = KMeans(n_clusters=8, n_init=1, algorithm="lloyd", random_state=seed).fit(Xk)
            sk_t.append(time.perf_counter() - t0)
            sk_i.append(km.inertia_)
        print("maas     %s s   inertia %s" % (" ".join("%.2f" % t for t in ours_t),
                                               " ".join("%.4g" % v for v in ours_i)))
        print("sklearn  %s s   inertia %s" % (" ".join("%.2f" % t for t in sk_t),
                                               " ".join("%.4g" % v for v in sk_i)))
        print("  maas / sklearn, mean time: %s (target <= 1.0x); best inertia ratio %.4f"
              % (ratio(sum(ours_t), sum(sk_t)), min(ours_i) / min(sk_i)))
        sil = run_bench(exe, "kmeans", data, "k=8", "n_init=1", "threads=%d" % th,
                        "silhouette=10000")
        print("maas with the silhouette on 10,000 rows: %.2f s (silhouette %.4f)"
              % (sil["kmeans_s"], sil["silhouette"]))


def copy_rows(cur, table, X, y):
    """COPY rows (x real[], label) into table, a chunk at a time."""
    import io
    import numpy as np
    for start in range(0, X.shape[0], 20000):
        buf = io.StringIO()
        for row, lab in zip(X[start:start + 20000], y[start:start + 20000]):
            buf.write("{%s}\t%s\n" % (",".join("NaN" if np.isnan(v) else "%.9g" % v for v in row), lab))
        buf.seek(0)
        cur.copy_expert("COPY %s FROM STDIN" % table, buf)


def sql_bench(args, X, y, tmp):
    """maas through SQL against XGBoost from Python and PL/Python, same rows."""
    import numpy as np
    import psycopg2
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    th = args.threads
    n = min(args.sql_rows, X.shape[0])
    n_tr = int(n * 0.8)
    Xtr, ytr, Xte, yte = X[:n_tr], y[:n_tr], X[n_tr:n], y[n_tr:n]
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET client_min_messages = warning")
    cur.execute("CREATE EXTENSION IF NOT EXISTS maas")
    cur.execute("DROP TABLE IF EXISTS bench_gbdt_train, bench_gbdt_test")
    cur.execute("CREATE TABLE bench_gbdt_train (x real[], label int)")
    cur.execute("CREATE TABLE bench_gbdt_test (id serial, x real[], label int)")
    copy_rows(cur, "bench_gbdt_train", Xtr, ytr)
    cur.execute("CREATE TEMP TABLE t (x real[], label int)")
    copy_rows(cur, "t", Xte, yte)
    cur.execute("INSERT INTO bench_gbdt_test (x, label) SELECT x, label FROM t")
    cur.execute("SELECT maas_drop('bench_gbdt') FROM maas.models WHERE model = 'bench_gbdt'")
    print("\n## through SQL: %d x 30 (%d train, %d holdout), %d trees, depth 6, eta 0.1, %d threads"
          % (n, n_tr, n - n_tr, args.trees, th))
    cur.execute("SET maas.training_notices = off")
    cur.execute("SET maas.training_threads = %d" % th)
    cur.execute("SET maas.max_training_memory = '8GB'")
    t0 = time.perf_counter()
    cur.execute("SELECT version FROM maas_train('bench_gbdt', 'SELECT x, label FROM bench_gbdt_train', "
                "'label', 'gbdt', %s)",
                ('{"n_estimators": %d, "max_depth": 6, "learning_rate": 0.1, "max_bin": 256, '
                 '"test_size": 0}' % args.trees,))
    t_sql = time.perf_counter() - t0
    cur.execute("SELECT (maas_evaluate('bench_gbdt', 'SELECT x, label FROM bench_gbdt_test', "
                "'label')->>'roc_auc')::float8")
    auc_sql = cur.fetchone()[0]
    t0 = time.perf_counter()
    booster = xgb.train({"tree_method": "hist", "max_depth": 6, "eta": 0.1, "max_bin": 256,
                         "objective": "binary:logistic", "nthread": th, "seed": 1},
                        xgb.DMatrix(Xtr, label=ytr, nthread=th), args.trees)
    t_x = time.perf_counter() - t0
    auc_x = roc_auc_score(yte, booster.inplace_predict(Xte))
    print("maas_train  %8.2f s   auc %.4f (maas_evaluate)" % (t_sql, auc_sql))
    print("xgboost     %8.2f s   auc %.4f (DMatrix + train, from Python)" % (t_x, auc_x))
    print("  maas_train / xgboost: %s; auc %+.4f" % (ratio(t_sql, t_x), auc_sql - auc_x))

    # per row: maas_predict_proba against XGBoost through PL/Python
    m = min(5000, n - n_tr)
    model_path = os.path.join(tmp, "bench_gbdt.json")
    booster.save_model(model_path)
    os.chmod(tmp, 0o755)
    os.chmod(model_path, 0o644)
    t0 = time.perf_counter()
    cur.execute("SELECT sum((maas_predict_proba('bench_gbdt', x))[2]) FROM "
                "(SELECT x FROM bench_gbdt_test ORDER BY id LIMIT %d) s" % m)
    t_row = (time.perf_counter() - t0) / m
    try:
        cur.execute("CREATE EXTENSION IF NOT EXISTS plpython3u")
        cur.execute("""CREATE OR REPLACE FUNCTION peer_xgb(x real[]) RETURNS real LANGUAGE plpython3u AS $$
b = SD.get('b')
if b is None:
    import os
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    import numpy as np
    import xgboost as xgb
    b = xgb.Booster()
    b.load_model(%s)
    b.set_param({'nthread': 1})
    SD['b'] = b
    SD['np'] = np
np = SD['np']
return float(b.inplace_predict(np.array([x], dtype=np.float32))[0])
$$""" % ("'" + model_path + "'",))
        cur.execute("SELECT peer_xgb(x) FROM bench_gbdt_test LIMIT 1")
        t0 = time.perf_counter()
        cur.execute("SELECT sum(peer_xgb(x)) FROM (SELECT x FROM bench_gbdt_test ORDER BY id LIMIT %d) s" % m)
        t_py = (time.perf_counter() - t0) / m
        print("per row     maas_predict_proba %.1f us; PL/Python + xgboost %.1f us; "
              "maas is %.1fx the rows/s (target >= 3x)" % (t_row * 1e6, t_py * 1e6, t_py / t_row))
    except psycopg2.Error as e:
        print("per row     maas_predict_proba %.1f us; PL/Python peer not run: %s"
              % (t_row * 1e6, str(e).strip()))
    t0 = time.perf_counter()
    cur.execute("SELECT count(*) FROM maas_predict_proba_batch('bench_gbdt', "
                "'SELECT id, x FROM bench_gbdt_test', 4096)")
    t_b = time.perf_counter() - t0
    t0 = time.perf_counter()
    booster.set_param({"nthread": th})
    booster.inplace_predict(Xte)
    t_xb = time.perf_counter() - t0
    print("batch       maas_predict_proba_batch %.0f rows/s; xgboost inplace_predict %.0f rows/s "
          "(Python, no SQL); ratio %s (target >= 1.0x)"
          % ((n - n_tr) / t_b, (n - n_tr) / t_xb, ratio(t_xb, t_b)))

    # k-means through SQL
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs
    Xk, _ = make_blobs(n_samples=n, n_features=10, centers=8, cluster_std=2.0, random_state=3)
    Xk = Xk.astype(np.float32)
    cur.execute("DROP TABLE IF EXISTS bench_kmeans")
    cur.execute("CREATE TABLE bench_kmeans (x real[], label int)")
    copy_rows(cur, "bench_kmeans", Xk, np.zeros(n, dtype=np.int32))
    cur.execute("SELECT maas_drop('bench_kmeans') FROM maas.models WHERE model = 'bench_kmeans'")
    t0 = time.perf_counter()
    cur.execute("SELECT (metrics->>'inertia')::float8 FROM maas_train('bench_kmeans', "
                "'SELECT x FROM bench_kmeans', NULL, 'kmeans', "
                "'{\"k\": 8, \"silhouette_sample\": 0}')")
    inertia = cur.fetchone()[0]
    t_k = time.perf_counter() - t0
    t0 = time.perf_counter()
    km = KMeans(n_clusters=8, n_init=1, algorithm="lloyd", random_state=0).fit(Xk)
    t_sk = time.perf_counter() - t0
    print("k-means %d x 10, k 8: maas_train %.2f s (inertia %.4g); sklearn %.2f s (inertia %.4g); "
          "ratio %s (target <= 1.0x)" % (n, t_k, inertia, t_sk, km.inertia_, ratio(t_k, t_sk)))
    cur.execute("DROP TABLE bench_gbdt_train, bench_gbdt_test, bench_kmeans")
    cur.execute("SELECT maas_drop(m) FROM unnest(ARRAY['bench_gbdt', 'bench_kmeans']) m")
    conn.close()


if __name__ == "__main__":
    sys.exit(main())
