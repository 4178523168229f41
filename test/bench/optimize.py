#!/usr/bin/python3
"""The model-optimization benchmark of doc/optimization.md, peers in the same run.

  MLP: a 784-512-10 MLP trained in PyTorch on Fashion-MNIST (Debian's
  dataset-fashion-mnist), registered in maas, then maas_quantize int8 and
  bf16 and maas_prune (50% of the hidden units): holdout accuracy of each
  (the 10k test rows, maas_evaluate through params.evaluate), rows/s of
  the runtime on the 10k rows as one batch (what maas_quantize measures),
  and rows/s of maas_predict_batch end to end; against PyTorch's f32 model
  and torch.quantization.quantize_dynamic (fbgemm) of the same weights,
  one thread each.

  GPT-2: GPT-2 small's shape with random weights (gpt2_shape.py), int8 and
  bf16: weight bytes, and greedy tokens/s of maas_generate_ids (10-token
  prompt, 64 new tokens).  --no-gpt2 skips it.

Connects with libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE) to a
server with maas installed; run it on a quiet machine for final figures.

    /usr/bin/python3 test/bench/optimize.py [--dir D] [--no-gpt2]
"""

import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np
import psycopg2
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FM = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx(name):
    with gzip.open(os.path.join(FM, name), "rb") as f:
        data = f.read()
    _, _, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def safetensors(tensors):
    header, offset, blobs = {}, 0, []
    for name, a in tensors:
        a = np.ascontiguousarray(a, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def best(fn, runs=3):
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def mlp(cur, out, d):
    torch.manual_seed(1)
    torch.set_num_threads(2)
    xtr = torch.from_numpy(idx("train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255)
    ytr = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte_u8 = idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784)
    yte = idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
    xte = torch.from_numpy(xte_u8.astype(np.float32) / 255)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    cached = os.path.join(d, "fmnist_mlp.pt")
    if os.path.exists(cached):
        model.load_state_dict(torch.load(cached))
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for epoch in range(3):
            perm = torch.randperm(len(xtr))
            for i in range(0, len(xtr), 256):
                b = perm[i:i + 256]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(xtr[b]), ytr[b]).backward()
                opt.step()
        torch.save(model.state_dict(), cached)
    model.eval()

    # peers: one thread, the 10k rows as one batch; dynamic int8 on fbgemm,
    # or the engine this build of torch has (Debian's: onednn, qnnpack)
    torch.set_num_threads(1)
    engines = torch.backends.quantized.supported_engines
    engine = next(e for e in ("fbgemm", "x86", "onednn", "qnnpack") if e in engines)
    torch.backends.quantized.engine = engine
    out["torch_int8_engine"] = engine
    q = torch.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    with torch.no_grad():
        for name, m in (("torch_f32", model), ("torch_int8_dynamic", q)):
            acc = float((m(xte).argmax(1).numpy() == yte).mean())
            t = best(lambda: m(xte), 5)
            out[name + "_rows_per_s"] = len(xte) / t
            out[name + "_accuracy"] = acc

    # maas: the same weights, pixels 0..255 scaled by a standardize layer
    w = safetensors([("scaler.mean", np.zeros(784)), ("scaler.std", np.full(784, 255.0)),
                     ("fc1.weight", model[0].weight.detach().numpy()), ("fc1.bias", model[0].bias.detach().numpy()),
                     ("fc2.weight", model[2].weight.detach().numpy()), ("fc2.bias", model[2].bias.detach().numpy())])
    config = {"task": "classification", "n_features": 784, "labels": list(range(10)), "layers": [
        {"op": "standardize", "mean": "scaler.mean", "std": "scaler.std"},
        {"op": "dense", "weight": "fc1.weight", "bias": "fc1.bias"}, {"op": "relu"},
        {"op": "dense", "weight": "fc2.weight", "bias": "fc2.bias"}, {"op": "softmax"}]}
    cur.execute("SELECT maas_drop(model) FROM maas.models WHERE model = 'bench_fm'")
    cur.execute("DROP TABLE IF EXISTS bench_fm_test")
    cur.execute("CREATE TABLE bench_fm_test (id int PRIMARY KEY, pixels real[], label int)")
    rows = "".join("%d\t{%s}\t%d\n" % (i + 1, ",".join(map(str, xte_u8[i])), yte[i]) for i in range(len(yte)))
    import io
    cur.copy_from(io.StringIO(rows), "bench_fm_test")
    cur.execute("ANALYZE bench_fm_test")
    cur.execute("SELECT maas_register('bench_fm', 'mlp', %s, %s)", (psycopg2.Binary(w), json.dumps(config)))
    ev = {"evaluate": "SELECT pixels, label FROM bench_fm_test", "target": "label", "sample_rows": 10000}
    versions = {"f32": 1}
    for method, call, params in (("int8", "maas_quantize('bench_fm', 1, 'int8', %s)", ev),
                                 ("bf16", "maas_quantize('bench_fm', 1, 'bf16', %s)", ev),
                                 ("pruned_units_50", "maas_prune('bench_fm', 1, %s)",
                                  dict(ev, sparsity=0.5, method="units"))):
        cur.execute("SELECT version, bytes_before, bytes_after, metrics_before->>'accuracy', "
                    "metrics_after->>'accuracy', speed_before, speed_after, agreement FROM " + call,
                    (json.dumps(params),))
        v, bb, ba, acc_b, acc_a, sb, sa, agree = cur.fetchone()
        versions[method] = v
        out["maas_f32_accuracy"] = float(acc_b)
        out["maas_%s_accuracy" % method] = float(acc_a)
        out["maas_f32_bytes"] = bb
        out["maas_%s_bytes" % method] = ba
        out["maas_%s_runtime_rows_per_s" % method] = sa
        out["maas_f32_runtime_rows_per_s_vs_%s" % method] = sb
        out["maas_%s_agreement" % method] = agree
    cur.execute("SET maas.blas_threads = 1")
    for method, v in versions.items():
        sql = "SELECT count(*) FROM maas_predict_batch('bench_fm', 'SELECT id, pixels FROM bench_fm_test', NULL, %d)" % v
        cur.execute(sql)
        t = best(lambda: cur.execute(sql))
        out["maas_%s_batch_rows_per_s" % method] = 10000 / t


def gpt2(cur, out, d):
    ck = os.path.join(d, "gpt2_shape")
    if not os.path.exists(os.path.join(ck, "model.safetensors")):
        subprocess.check_call([sys.executable, os.path.join(HERE, "gpt2_shape.py"), ck])
    os.chmod(d, 0o755)
    os.chmod(ck, 0o755)
    os.chmod(os.path.join(ck, "model.safetensors"), 0o644)
    cfg = json.load(open(os.path.join(ck, "config.json")))
    # a byte-level BPE tokenizer of 256 tokens stands in for GPT-2's (ids are what is timed)
    from itertools import chain
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xa1, 0xad)) + list(range(0xae, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = {chr(c): i for i, c in enumerate(cs)}
    for i in range(256, cfg["vocab_size"]):  # the ids the random model may generate, decodable
        vocab["t%d" % i] = i
    cfg["tokenizer"] = {"vocab": vocab, "merges": ""}
    cur.execute("SELECT maas_drop(model) FROM maas.models WHERE model = 'bench_gpt2'")
    cur.execute("SELECT maas_register_file('bench_gpt2', 'gpt2', %s, %s)",
                (os.path.join(ck, "model.safetensors"), json.dumps(cfg)))
    res = {}
    for method in ("int8", "bf16"):
        cur.execute("SELECT version, bytes_before, bytes_after, speed_before, speed_after, agreement "
                    "FROM maas_quantize('bench_gpt2', 1, %s)", (method,))
        res[method] = cur.fetchone()
        print(method, res[method], flush=True)
    out["gpt2_f32_bytes"] = res["int8"][1]
    ids = "{" + ",".join(str(i) for i in range(10, 20)) + "}"
    for method, v in (("f32", 1), ("int8", res["int8"][0]), ("bf16", res["bf16"][0])):
        if method != "f32":
            out["gpt2_%s_bytes" % method] = res[method][2]
            out["gpt2_%s_agreement_random_ids" % method] = res[method][5]
        cur.execute("SELECT maas_deploy('bench_gpt2', %s)", (v,))
        sql = "SELECT maas_generate_ids('bench_gpt2', '%s', '{\"max_new_tokens\": 64}')" % ids
        cur.execute(sql)
        t = best(lambda: cur.execute(sql), 2)
        out["gpt2_%s_tokens_per_s" % method] = 64 / t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.environ.get("MAAS_BENCH_DIR", "/var/tmp/maas-bench"))
    ap.add_argument("--no-gpt2", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS maas")
    cur.execute("SET maas.training_notices = off")
    out = {}
    print("== MLP 784-512-10, Fashion-MNIST, 10k rows, one thread", flush=True)
    mlp(cur, out, a.dir)
    print(json.dumps(out, indent=1), flush=True)
    if not a.no_gpt2:
        print("== GPT-2 small's shape", flush=True)
        gpt2(cur, out, a.dir)
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)

    def r(x, y):
        return "%.2fx" % (out[x] / out[y]) if x in out and y in out and out[y] else "-"
    print("\n%-44s %14s" % ("figure", "value"))
    for k in sorted(out):
        v = out[k]
        print("%-44s %14s" % (k, ("%.4f" % v) if isinstance(v, float) and v < 10 else
                              ("%.0f" % v if isinstance(v, float) else v)))
    print("\nratios")
    print("  maas int8 / f32, runtime rows/s:    ", r("maas_int8_runtime_rows_per_s", "maas_f32_runtime_rows_per_s_vs_int8"))
    print("  maas int8 / f32, batch rows/s:      ", r("maas_int8_batch_rows_per_s", "maas_f32_batch_rows_per_s"))
    print("  maas bf16 / f32, runtime rows/s:    ", r("maas_bf16_runtime_rows_per_s", "maas_f32_runtime_rows_per_s_vs_bf16"))
    print("  maas pruned / f32, runtime rows/s:  ", r("maas_pruned_units_50_runtime_rows_per_s",
                                                      "maas_f32_runtime_rows_per_s_vs_pruned_units_50"))
    print("  torch int8 dynamic / torch f32:     ", r("torch_int8_dynamic_rows_per_s", "torch_f32_rows_per_s"))
    print("  maas int8 runtime / torch int8:     ", r("maas_int8_runtime_rows_per_s", "torch_int8_dynamic_rows_per_s"))
    if "maas_int8_accuracy" in out:
        print("  int8 accuracy change (points):       %+.2f" % (100 * (out["maas_int8_accuracy"] - out["maas_f32_accuracy"])))
        print("  pruned accuracy change (points):     %+.2f" % (100 * (out["maas_pruned_units_50_accuracy"] - out["maas_f32_accuracy"])))
    if "gpt2_int8_tokens_per_s" in out:
        print("  GPT-2 int8 / f32 tokens/s:          ", r("gpt2_int8_tokens_per_s", "gpt2_f32_tokens_per_s"))
        print("  GPT-2 bf16 / f32 tokens/s:          ", r("gpt2_bf16_tokens_per_s", "gpt2_f32_tokens_per_s"))
        print("  GPT-2 int8 / f32 weight bytes:      ", r("gpt2_int8_bytes", "gpt2_f32_bytes"))
        print("  GPT-2 bf16 / f32 weight bytes:      ", r("gpt2_bf16_bytes", "gpt2_f32_bytes"))


if __name__ == "__main__":
    main()
