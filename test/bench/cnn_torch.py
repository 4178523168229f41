#!/usr/bin/python3
"""The PyTorch peer of the CNN benchmarks (issue 14): the classic Fashion-MNIST CNN.

Model: conv 3x3 1->32, ReLU, maxpool 2, conv 3x3 32->64, ReLU, maxpool 2,
flatten (1600), dense 128, ReLU, dropout 0.25, dense 10, softmax (the
exported and inference graph ends in softmax; training uses cross-entropy on
the logits).  torch's default initialisation.

Training: Adam lr 1e-3 (torch's betas and eps), batch 64, 3 epochs, the 60,000
training images scaled to [0, 1] as float32 [n, 1, 28, 28], shuffled each epoch
by a permutation (no DataLoader; batches gathered by index, as the peers' MLP
benchmark does).  The time covers the epoch loop only.  Then the test accuracy
on the 10,000 test images.

Inference (eval, inference_mode): the 10,000 test rows as one batch (median of
5), and 1,000 single-row calls (median of 3 runs), as rows/s.

--save DIR writes what the other peers need:
  DIR/cnn.pt          the state_dict
  DIR/cnn.onnx        torch.onnx.export, opset 13, input "pixels" [n, 1, 28, 28]
                      -> output "probs" [n, 10], batch axis dynamic (for
                      test/bench/cnn_ort.js and the ONNX import)
  DIR/cnn_pt.bytes    torch.save of the state_dict, for the PL/Python peer
                      (test/bench/cnn_plpython.sql loads it from a bytea)
  DIR/test_x.f32, DIR/test_y.u8   the 10,000 test rows, raw

Threads: torch.set_num_threads(THREADS) (default 2) with OMP_NUM_THREADS the
same, and OpenBLAS (torch's dense layers) at OPENBLAS_NUM_THREADS=1 unless set:
the peers found torch's own threads plus single-threaded OpenBLAS its best
setting on 2 cores.  OpenBLAS 0.3.21 takes this CPU (Xeon family 6 model 207)
for a Prescott and runs its slowest kernels; OPENBLAS_CORETYPE=SkylakeX is set
unless given, so the peer runs at its best.  torch's convolutions go through
its bundled oneDNN (mkldnn), which finds AVX-512 itself.

    /usr/bin/python3 test/bench/cnn_torch.py [--epochs 3] [--runs 1] [--save DIR] [--json FILE]
    /usr/bin/python3 test/bench/cnn_torch.py --infer-only DIR     (load DIR/cnn.pt, time inference)
    /usr/bin/python3 test/bench/cnn_torch.py --steps 200          (time single steps, random data)
"""
import argparse
import io
import json
import os
import statistics
import sys
import time

THREADS = int(os.environ.get("THREADS", "2"))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_fmnist import DIR, FILES, read_idx  # noqa: E402

torch.set_num_threads(THREADS)


def load(split):
    images, labels = FILES[split]
    (n, rows, cols), pixels = read_idx(os.path.join(DIR, images))
    _, label_bytes = read_idx(os.path.join(DIR, labels))
    x = np.frombuffer(pixels, np.uint8).reshape(n, 1, rows, cols).astype(np.float32) / np.float32(255)
    y = np.frombuffer(label_bytes, np.uint8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.drop = nn.Dropout(0.25)
        self.fc2 = nn.Linear(128, 10)

    def logits(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(self.drop(torch.relu(self.fc1(x))))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def train(xtr, ytr, batch, epochs, seed):
    torch.manual_seed(seed)
    model = CNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    n = xtr.shape[0]
    model.train()
    t0 = time.perf_counter()
    for ep in range(epochs):
        perm = torch.randperm(n)
        tot = 0.0
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = xtr[idx], ytr[idx]
            opt.zero_grad(set_to_none=True)
            loss = lossf(model.logits(xb), yb)
            loss.backward()
            opt.step()
            tot += loss.item() * len(idx)
        print(f"  epoch {ep + 1}: loss {tot / n:.4f}  t={time.perf_counter() - t0:.1f}s", flush=True)
    return model, time.perf_counter() - t0


def accuracy(model, x, y):
    model.eval()
    with torch.inference_mode():
        return (model(x).argmax(1) == y).float().mean().item()


def infer_bench(model, xte):
    model.eval()
    with torch.inference_mode():
        model(xte)
        tb = []
        for _ in range(5):
            t0 = time.perf_counter()
            model(xte)
            tb.append(time.perf_counter() - t0)
        rows = [xte[i:i + 1] for i in range(1000)]
        for r in rows[:100]:
            model(r)
        tr = []
        for _ in range(3):
            t0 = time.perf_counter()
            for r in rows:
                model(r)
            tr.append(time.perf_counter() - t0)
    b, r = statistics.median(tb), statistics.median(tr)
    return {"batch10k_s": b, "batch10k_rows_per_s": xte.shape[0] / b,
            "row_1000_s": r, "row_rows_per_s": 1000 / r, "row_us": r / 1000 * 1e6}


def step_bench(steps, batch):
    """Time single training steps on random data: the figure beside
    test/bench/conv_kernels.c's whole step.  Returns (fastest, median) ms."""
    torch.manual_seed(0)
    model = CNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    model.train()
    ts = []
    for i in range(steps + 10):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        lossf(model.logits(x), y).backward()
        opt.step()
        if i >= 10:
            ts.append(time.perf_counter() - t0)
    return min(ts) * 1e3, statistics.median(ts) * 1e3


def save(model, xte, yte, d):
    os.makedirs(d, exist_ok=True)
    model.eval()
    torch.save(model.state_dict(), os.path.join(d, "cnn.pt"))
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    with open(os.path.join(d, "cnn_pt.bytes"), "wb") as f:
        f.write(buf.getvalue())
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), os.path.join(d, "cnn.onnx"),
                      input_names=["pixels"], output_names=["probs"],
                      dynamic_axes={"pixels": {0: "n"}, "probs": {0: "n"}}, opset_version=13)
    xte.numpy().astype("<f4").tofile(os.path.join(d, "test_x.f32"))
    yte.numpy().astype(np.uint8).tofile(os.path.join(d, "test_y.u8"))
    print("saved", d + "/{cnn.pt,cnn_pt.bytes,cnn.onnx,test_x.f32,test_y.u8}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--save", default=None, metavar="DIR")
    ap.add_argument("--json", default=None)
    ap.add_argument("--infer-only", default=None, metavar="DIR")
    ap.add_argument("--steps", type=int, default=0,
                    help="only time this many training steps on random data")
    a = ap.parse_args()
    if a.steps:
        fastest, median = step_bench(a.steps, a.batch)
        print(f"torch {torch.__version__} threads={torch.get_num_threads()}: training step, "
              f"n = {a.batch}: fastest {fastest:.2f} ms, median {median:.2f} ms", flush=True)
        return
    xte, yte = load("test")
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} "
          f"mkldnn={torch.backends.mkldnn.is_available()} "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')} batch={a.batch}", flush=True)
    if a.infer_only:
        model = CNN()
        model.load_state_dict(torch.load(os.path.join(a.infer_only, "cnn.pt")))
        res = {"test_acc": accuracy(model, xte, yte), **infer_bench(model, xte)}
    else:
        xtr, ytr = load("train")
        times, accs = [], []
        for r in range(a.runs):
            model, t = train(xtr, ytr, a.batch, a.epochs, seed=r)
            acc = accuracy(model, xte, yte)
            times.append(t)
            accs.append(acc)
            print(f"run {r}: train {t:.2f} s  test acc {acc:.4f}", flush=True)
        res = {"batch": a.batch, "epochs": a.epochs, "threads": THREADS, "train_s": times,
               "train_s_median": statistics.median(times), "test_acc": accs,
               "test_acc_median": statistics.median(accs), **infer_bench(model, xte)}
        if a.save:
            save(model, xte, yte, a.save)
    print("RESULT", json.dumps(res), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
