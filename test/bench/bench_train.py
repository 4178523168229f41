#!/usr/bin/python3
"""Training benchmark: maas_train against its peers, side by side, on this machine.

Run inside a throw-away cluster, with the library preloaded (progress view) and
under the install lock (the machine is shared):

    flock /tmp/maas-install.lock sh -c 'make -s install && \
        pg_virtualenv -t -o shared_preload_libraries=maas /usr/bin/python3 test/bench/bench_train.py'

It prints figures and ratios; it never passes or fails on time.

1. Fashion-MNIST (Debian package dataset-fashion-mnist) loaded into
   fmnist_train / fmnist_test (pixels / 255 in real[784], as the peers see
   them) with test/bench/load_fmnist.py.
2. MLP 784-512-10 relu, dropout 0.2, Adam 1e-3, batch 32, 5 epochs, on all
   60,000 training rows (test_size 0), test accuracy by maas_evaluate on the
   10,000 test rows; then the PyTorch peer (test/bench/train_peers.py mlp,
   torch on 2 threads), same data, same model, same run.
3. Logistic regression (minmax scaling, default epochs) against scikit-learn's
   LogisticRegression (test/bench/train_peers.py logreg).
4. Ridge on 1,000,000 x 50 rows of a table against the time of a scan that
   reads every column of those rows (SELECT sum(y): y is the last column).

Options: --threads N (maas.training_threads, default 1), --skip-peers,
--only mlp|logistic|ridge (repeatable).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS = os.path.join(REPO, "test", "bench", "train_peers.py")
LOADER = os.path.join(REPO, "test", "bench", "load_fmnist.py")


def psql(sql, quiet=True):
    """Run SQL through psql; return (stdout, seconds)."""
    t0 = time.perf_counter()
    out = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip(), time.perf_counter() - t0


def psql_script(sql):
    t0 = time.perf_counter()
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], input=sql, check=True,
                   capture_output=True, text=True)
    return time.perf_counter() - t0


def peer(cmd, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    for line in out.stdout.splitlines():
        if not line.startswith("RESULT "):
            print("  peer: " + line)
        else:
            return json.loads(line[len("RESULT "):])
    raise RuntimeError("no RESULT line from %s:\n%s" % (cmd, out.stdout))


def load_fmnist():
    psql("CREATE EXTENSION IF NOT EXISTS maas")
    psql("DROP TABLE IF EXISTS fmnist_train, fmnist_test")
    secs = psql_script(
        "CREATE TABLE fmnist_train (id int PRIMARY KEY, pixels real[] NOT NULL, label int NOT NULL);\n"
        "CREATE TABLE fmnist_test (id int PRIMARY KEY, pixels real[] NOT NULL, label int NOT NULL);\n"
        "\\copy fmnist_train FROM PROGRAM '/usr/bin/python3 %s --scaled train'\n"
        "\\copy fmnist_test FROM PROGRAM '/usr/bin/python3 %s --scaled test'\n"
        "VACUUM ANALYZE fmnist_train, fmnist_test;\n" % (LOADER, LOADER))
    print("loaded Fashion-MNIST: %.1f s" % secs)


def last_run():
    out, _ = psql("SELECT seconds, peak_memory, epochs FROM maas.training_runs ORDER BY id DESC LIMIT 1")
    s, peak, epochs = out.split("|")
    return float(s), int(peak), int(epochs)


def bench_mlp(threads, skip_peers):
    params = {"features": ["pixels"], "hidden": [512], "activation": "relu", "dropout": 0.2,
              "optimizer": "adam", "lr": 0.001, "batch_size": 32, "epochs": 5, "seed": 42,
              "test_size": 0, "scale": "none", "deploy": "always"}
    _, wall = psql("SET maas.training_notices = off; SET maas.training_threads = %d; "
                   "SELECT version FROM maas_train('bench_mlp', 'fmnist_train', 'label', 'mlp', '%s')"
                   % (threads, json.dumps(params)))
    secs, peak, _ = last_run()
    acc, _ = psql("SELECT maas_evaluate('bench_mlp', 'fmnist_test', 'label')->>'accuracy'")
    acc = float(acc)
    print("maas MLP 784-512-10, batch 32, 5 epochs, %d BLAS thread(s): %.2f s wall (%.2f s in "
          "maas_train, reading the table included), test acc %.4f, peak training memory %.0f MB"
          % (threads, wall, secs, acc, peak / 1e6))
    if skip_peers:
        return
    res = peer(["/usr/bin/python3", PEERS, "mlp", "--threads", "2"])
    t = res["train_s"]
    print("PyTorch same MLP (torch 2 threads): %.2f s train loop (data in memory), "
          "test acc %.4f" % (t, res["test_acc"]))
    print("ratio maas / PyTorch time: %.2f (maas_train includes reading 60,000 rows from the table)"
          % (secs / t))


def bench_logistic(threads, skip_peers):
    params = {"features": ["pixels"], "scale": "minmax", "test_size": 0, "deploy": "always"}
    _, wall = psql("SET maas.training_notices = off; SET maas.training_threads = %d; "
                   "SELECT version FROM maas_train('bench_logreg', 'fmnist_train', 'label', 'logistic', '%s')"
                   % (threads, json.dumps(params)))
    secs, peak, epochs = last_run()
    acc, _ = psql("SELECT maas_evaluate('bench_logreg', 'fmnist_test', 'label')->>'accuracy'")
    print("maas logistic (multinomial, Adam, %d epochs): %.2f s, test acc %.4f, peak %.0f MB"
          % (epochs, secs, float(acc), peak / 1e6))
    if skip_peers:
        return
    res = peer(["/usr/bin/python3", PEERS, "logreg"])
    print("scikit-learn LogisticRegression (lbfgs, 100 iterations): %.2f s, test acc %.4f"
          % (res["fit_s"], res["test_acc"]))
    print("ratio maas / scikit-learn time: %.2f" % (secs / res["fit_s"]))


def bench_ridge(threads):
    cols = ", ".join("random()::real AS x%d" % i for i in range(1, 51))
    expr = " + ".join("%g * x%d" % (((i * 37) % 19 - 9) / 3.0, i) for i in range(1, 51))
    psql("CREATE EXTENSION IF NOT EXISTS maas")
    psql("DROP TABLE IF EXISTS ridge_1m")
    _, gen = psql("CREATE TABLE ridge_1m AS SELECT *, (%s + 0.1 * random())::real AS y "
                  "FROM (SELECT %s FROM generate_series(1, 1000000)) s" % (expr, cols))
    psql("VACUUM ANALYZE ridge_1m")
    print("made ridge_1m (1,000,000 x 50 real + y): %.1f s" % gen)
    scans = []
    for _ in range(3):
        _, s = psql("SELECT sum(y) FROM ridge_1m")
        scans.append(s)
    scan = sorted(scans)[1]
    fits = []
    for _ in range(3):
        psql("SET maas.training_notices = off; SET maas.training_threads = %d; "
             "SELECT version FROM maas_train('bench_ridge', 'ridge_1m', 'y', 'linear', "
             "'{\"l2\": 1, \"deploy\": \"never\"}')" % threads)
        fits.append(last_run())
    secs = sorted(f[0] for f in fits)[1]
    peak = fits[-1][1]
    print("scan of ridge_1m reading every column (SELECT sum(y)): %.3f s (median of 3)" % scan)
    print("maas ridge on ridge_1m (1M x 50, 20%% holdout scored): %.3f s (median of 3), peak %.0f MB"
          % (secs, peak / 1e6))
    print("ratio maas ridge / scan: %.2f" % (secs / scan))
    psql("SELECT maas_drop('bench_ridge')")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--only", action="append", choices=["mlp", "logistic", "ridge"])
    a = ap.parse_args()
    which = a.only or ["mlp", "logistic", "ridge"]
    print("maas training benchmark; %s" % " ".join(os.uname()[1:3]))
    if "mlp" in which or "logistic" in which:
        load_fmnist()
    if "mlp" in which:
        bench_mlp(a.threads, a.skip_peers)
    if "logistic" in which:
        bench_logistic(a.threads, a.skip_peers)
    if "ridge" in which:
        bench_ridge(a.threads)


if __name__ == "__main__":
    sys.exit(main())
