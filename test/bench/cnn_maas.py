#!/usr/bin/python3
"""The CNN benchmark, maas side by side with its peers (issue 14).

Run against a cluster with maas installed and preloaded (PG* environment),
e.g. the one test/bench/run starts, or a private one:

    /usr/bin/python3 test/bench/cnn_maas.py [--epochs 3] [--threads 2] [--train-rows N]
        [--reuse-torch] [--dir DIR]

1. Fashion-MNIST (Debian's dataset-fashion-mnist) into fmnist_train and
   fmnist_test as real[784] of pixels / 255 (test/bench/load_fmnist.py
   --scaled: what the PyTorch peer trains on), unless already there.
2. maas_train 'cnn' with the settings of test/bench/cnn_torch.py: conv 3x3
   32, max pool 2, conv 3x3 64, max pool 2, dense 128, dropout 0.25,
   softmax; Adam 1e-3, batch 64, the epochs given, scale "none" (the
   pixels are already in [0, 1]), no holdout (test_size 0); its time
   (maas.training_runs.seconds) and its accuracy on the 10,000 test rows
   (maas_evaluate).
3. The PyTorch peer (cnn_torch.py --save DIR): the same CNN, the same
   settings, its training time and test accuracy; it saves its model,
   which this script converts to safetensors + config and registers in
   maas, so that inference compares the very same model.
4. Inference of that model: maas_predict_batch over the 10,000 test rows
   and maas_predict per row over 1,000, each the first statement of a new
   session (connection, loading the model and making its primitives
   included), and the batch again warm (the second call of a session),
   against torch's (from step 3) and
   ONNX Runtime's on torch's cnn.onnx (test/bench/cnn_ort.js), when node
   and onnxruntime-node are installed (test/bench/cnn_peers.sh installs
   it under MAAS_BENCH_DIR; or ORT_NODE_DIR names its node_modules).

Prints figures and ratios; never fails on time.  The machine is shared:
figures are rough.
"""
import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOADER = os.path.join(HERE, "load_fmnist.py")
TORCH_PEER = os.path.join(HERE, "cnn_torch.py")
ORT_PEER = os.path.join(HERE, "cnn_ort.js")
PY = "/usr/bin/python3"


def psql(sql):
    t0 = time.perf_counter()
    out = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip(), time.perf_counter() - t0


def psql_warm(setup, sql):
    """sql's time in seconds as the second call of one session (after setup), by psql's \\timing"""
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], check=True,
                         capture_output=True, text=True,
                         input="%s\n%s \\g /dev/null\n\\timing on\n%s \\g /dev/null\n"
                         % (setup, sql, sql)).stdout
    return [float(l.split()[1]) for l in out.splitlines() if l.startswith("Time:")][-1] / 1000


def load_fmnist():
    psql("CREATE EXTENSION IF NOT EXISTS maas")
    have, _ = psql("SELECT count(*) FROM pg_tables WHERE tablename IN ('fmnist_train', 'fmnist_test')")
    if have == "2":
        return
    t0 = time.perf_counter()
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], check=True, text=True, input=(
        "CREATE TABLE fmnist_train (id int PRIMARY KEY, pixels real[] NOT NULL, label int NOT NULL);\n"
        "CREATE TABLE fmnist_test (id int PRIMARY KEY, pixels real[] NOT NULL, label int NOT NULL);\n"
        "\\copy fmnist_train FROM PROGRAM '%s %s --scaled train'\n"
        "\\copy fmnist_test FROM PROGRAM '%s %s --scaled test'\n"
        "VACUUM ANALYZE fmnist_train, fmnist_test;\n" % (PY, LOADER, PY, LOADER)))
    print("loaded Fashion-MNIST: %.1f s" % (time.perf_counter() - t0), flush=True)


def maas_train(epochs, threads, rows):
    params = {"input_shape": [1, 28, 28],
              "conv": [{"filters": 32, "kernel": 3}, {"filters": 64, "kernel": 3}],
              "pool": 2, "hidden": [128], "dropout": 0.25, "epochs": epochs,
              "batch_size": 64, "lr": 0.001, "scale": "none", "test_size": 0,
              "deploy": "always"}
    src = "SELECT pixels, label FROM fmnist_train" + (" WHERE id <= %d" % rows if rows else "")
    psql("SELECT maas_drop('fmnist_cnn') FROM maas.models WHERE model = 'fmnist_cnn'")
    _, wall = psql("SET maas.training_threads = %d; SET maas.training_notices = off; "
                   "SELECT version FROM maas_train('fmnist_cnn', $q$%s$q$, 'label', 'cnn', '%s')"
                   % (threads, src, json.dumps(params)))
    secs, _ = psql("SELECT seconds FROM maas.training_runs WHERE model = 'fmnist_cnn' "
                   "ORDER BY id DESC LIMIT 1")
    acc, _ = psql("SET maas.blas_threads = %d; SELECT maas_evaluate('fmnist_cnn', "
                  "'SELECT pixels, label FROM fmnist_test', 'label')->>'accuracy'" % threads)
    return float(secs), wall, float(acc)


def register_torch(d):
    """cnn.pt (torch's state_dict) as safetensors + a layer config, registered"""
    import torch
    sd = torch.load(os.path.join(d, "cnn.pt"))
    header, data = {}, b""
    for k, v in sd.items():
        raw = v.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape),
                     "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    path = os.path.join(d, "cnn.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)
    config = {"task": "classification", "n_features": 784, "input_shape": [1, 28, 28],
              "labels": list(range(10)),
              "layers": [{"op": "conv2d", "weight": "conv1.weight", "bias": "conv1.bias"},
                         {"op": "maxpool2d", "kernel": 2}, {"op": "relu"},
                         {"op": "conv2d", "weight": "conv2.weight", "bias": "conv2.bias"},
                         {"op": "maxpool2d", "kernel": 2}, {"op": "relu"},
                         {"op": "flatten"},
                         {"op": "dense", "weight": "fc1.weight", "bias": "fc1.bias"},
                         {"op": "relu"},
                         {"op": "dense", "weight": "fc2.weight", "bias": "fc2.bias"},
                         {"op": "softmax"}]}
    psql("SELECT maas_drop('fmnist_torch') FROM maas.models WHERE model = 'fmnist_torch'")
    # the bytes through psql, not pg_read_binary_file: the server may not read DIR
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], check=True, text=True,
                   stdout=subprocess.DEVNULL, input=(
                       "\\set w `base64 -w0 %s`\n"
                       "SELECT maas_register('fmnist_torch', 'cnn', decode(:'w', 'base64'), '%s');\n"
                       "SELECT maas_deploy('fmnist_torch', 1);\n" % (path, json.dumps(config))))


def maas_inference(model, threads):
    acc, _ = psql("SET maas.blas_threads = %d; SELECT maas_evaluate('%s', "
                  "'SELECT pixels, label FROM fmnist_test', 'label')->>'accuracy'" % (threads, model))
    batch, row, warm = [], [], []
    q_batch = "SELECT count(*) FROM maas_predict_batch('%s', 'SELECT id, pixels FROM fmnist_test')" % model
    for _ in range(3):
        _, t = psql("SET maas.blas_threads = %d; %s" % (threads, q_batch))
        batch.append(t)
        _, t = psql("SET maas.blas_threads = %d; SELECT count(maas_predict('%s', pixels)) "
                    "FROM (SELECT pixels FROM fmnist_test ORDER BY id LIMIT 1000) s" % (threads, model))
        row.append(t)
        warm.append(psql_warm("SET maas.blas_threads = %d;" % threads, q_batch + ";"))
    return (float(acc), 10000 / statistics.median(batch), 1000 / statistics.median(row),
            10000 / statistics.median(warm))


def ort(d, threads):
    mods = os.environ.get("ORT_NODE_DIR") or os.path.join(
        os.environ.get("MAAS_BENCH_DIR", "/var/tmp/maas-bench"), "ortnode", "node_modules")
    if not shutil.which("node") or not os.path.isdir(os.path.join(mods, "onnxruntime-node")):
        return None
    env = dict(os.environ, ORT_NODE_DIR=mods, THREADS=str(threads))
    out = subprocess.run(["node", ORT_PEER, d], check=True, capture_output=True, text=True,
                         env=env).stdout
    res = {l.split()[1]: l.split()[2:] for l in out.splitlines() if l.startswith("RESULT")}
    return (float(res["accuracy"][0]),
            float(res["batch10000"][1]) / float(res["batch10000"][0]),
            float(res["row"][1]) / float(res["row"][0]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-rows", type=int, default=0, help="train on the first N rows (0: all)")
    ap.add_argument("--reuse-torch", action="store_true",
                    help="take the PyTorch peer's figures and model from DIR if it ran the same epochs")
    ap.add_argument("--dir", default=os.path.join(os.environ.get("MAAS_BENCH_DIR", "/var/tmp/maas-bench"),
                                                  "cnn"))
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    load_fmnist()

    print("== maas_train 'cnn': %d epochs, %s rows, %d threads" %
          (a.epochs, a.train_rows or "all", a.threads), flush=True)
    m_secs, m_wall, m_acc = maas_train(a.epochs, a.threads, a.train_rows)
    print("maas:  train %.1f s (%.1f s with loading), test accuracy %.4f" % (m_secs, m_wall, m_acc),
          flush=True)

    print("== PyTorch: the same CNN, the same settings", flush=True)
    env = dict(os.environ, THREADS=str(a.threads))
    cmd = [PY, TORCH_PEER, "--epochs", str(a.epochs), "--save", a.dir,
           "--json", os.path.join(a.dir, "torch.json")]
    if a.train_rows:
        print("(torch trains on all 60,000 rows: compare times per row)")
    tj = os.path.join(a.dir, "torch.json")
    if a.reuse_torch and os.path.exists(tj) and json.load(open(tj))["epochs"] == a.epochs:
        print("(the figures of an earlier run, from %s)" % tj)
    else:
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    t = json.load(open(tj))
    print("torch: train %.1f s, test accuracy %.4f" % (t["train_s_median"], t["test_acc_median"]))
    rows = a.train_rows or 60000
    print("RATIO training time maas/torch %.2f (per row: %.2f; target <= 0.7), "
          "accuracy maas - torch %+.4f (target >= -0.003)"
          % (m_secs / t["train_s_median"], (m_secs / rows) / (t["train_s_median"] / 60000),
             m_acc - t["test_acc_median"]), flush=True)

    print("== inference of torch's model: maas (registered), torch, ONNX Runtime", flush=True)
    register_torch(a.dir)
    acc, b, r, bw = maas_inference("fmnist_torch", a.threads)
    print("maas:  accuracy %.4f, batch 10k %.0f rows/s, per row %.0f rows/s (through SQL, each a new "
          "session: connection, model load and primitives included)" % (acc, b, r))
    print("maas:  batch 10k %.0f rows/s warm (the second call of a session)" % bw)
    print("torch: accuracy %.4f, batch 10k %.0f rows/s, per row %.0f rows/s (in process)"
          % (t["test_acc_median"], t["batch10k_rows_per_s"], t["row_rows_per_s"]))
    o = ort(a.dir, a.threads)
    if o is None:
        print("ONNX Runtime: skipped (install onnxruntime-node with test/bench/cnn_peers.sh)")
    else:
        print("ORT:   accuracy %.4f, batch 10k %.0f rows/s, per row %.0f rows/s" % o)
        print("RATIO batch rows/s maas/ORT %.2f warm, %.2f a new session each (target >= 1.0; "
              "ONNX Runtime's is its warm run)" % (bw / o[1], b / o[1]))
    print("RATIO batch rows/s maas/torch %.2f" % (b / t["batch10k_rows_per_s"]))


if __name__ == "__main__":
    sys.exit(main())
