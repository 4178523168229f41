#!/usr/bin/python3
"""The training benchmark's peers, on the data bench_train.py gives maas.

    /usr/bin/python3 test/bench/train_peers.py mlp [--threads N]
    /usr/bin/python3 test/bench/train_peers.py logreg

mlp: PyTorch, the MLP bench_train.py trains in maas (784-512-10, ReLU,
dropout 0.2, Adam 1e-3, batch 32, 5 epochs, shuffled every epoch) on the
60,000 Fashion-MNIST training images scaled to [0, 1], timed over the
training loop only (the data is already a tensor in memory), test accuracy
on the 10,000 test images.

logreg: scikit-learn's LogisticRegression (lbfgs, 100 iterations,
multinomial) on the same images after min-max scaling, as maas's logistic
training scales them.

Prints one line "RESULT {json}" for bench_train.py, after lines for people:
the CPU, its SIMD features and the kernels the libraries run.  Reads the
Debian package dataset-fashion-mnist through load_fmnist.read_idx.
Debian's python3-torch and python3-sklearn only.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_fmnist import DIR, FILES, read_idx  # noqa: E402


def fmnist(split):
    images, labels = FILES[split]
    (n, rows, cols), pixels = read_idx(os.path.join(DIR, images))
    (_,), label_bytes = read_idx(os.path.join(DIR, labels))
    x = np.frombuffer(pixels, dtype=np.uint8).reshape(n, rows * cols).astype(np.float32) / 255.0
    y = np.frombuffer(label_bytes, dtype=np.uint8).astype(np.int64)
    return x, y


def cpu_line():
    model, flags = "unknown", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    simd = [s for s in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
            if s in flags]
    return "cpu: %s; %s" % (model, " ".join(simd) or "no AVX")


def openblas_core():
    """The kernel set Debian's OpenBLAS picked for this CPU, as torch uses it."""
    import ctypes

    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "unknown"


def bench_mlp(threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(42)
    xtr, ytr = fmnist("train")
    xte, yte = fmnist("test")
    xtr, ytr = torch.from_numpy(xtr), torch.from_numpy(ytr)
    xte, yte = torch.from_numpy(xte), torch.from_numpy(yte)
    net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(512, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    print("torch %s, %d thread(s), OpenBLAS core %s (torch's Linear runs its sgemm)"
          % (torch.__version__, torch.get_num_threads(), openblas_core()))
    n = xtr.shape[0]
    t0 = time.perf_counter()
    for _ in range(5):
        perm = torch.randperm(n)
        for s in range(0, n, 32):
            idx = perm[s:s + 32]
            opt.zero_grad()
            loss = loss_fn(net(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
    secs = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        acc = (net(xte).argmax(1) == yte).float().mean().item()
    return {"train_s": secs, "test_acc": acc, "threads": threads}


def bench_logreg():
    import sklearn
    from sklearn.linear_model import LogisticRegression

    xtr, ytr = fmnist("train")
    xte, yte = fmnist("test")
    lo, hi = xtr.min(axis=0), xtr.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    xtr, xte = (xtr - lo) / span, (xte - lo) / span
    print("scikit-learn %s" % sklearn.__version__)
    m = LogisticRegression(max_iter=100)
    t0 = time.perf_counter()
    m.fit(xtr, ytr)
    secs = time.perf_counter() - t0
    return {"fit_s": secs, "test_acc": float(m.score(xte, yte))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["mlp", "logreg"])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    print(cpu_line())
    res = bench_mlp(a.threads) if a.which == "mlp" else bench_logreg()
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
