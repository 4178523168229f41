"""Data and model for the inference benchmark (test/bench/inference).

Trains the peers' Fashion-MNIST MLP shape (784 -> 512 relu -> dropout 0.2 ->
10 softmax) with PyTorch for a couple of epochs (the benchmark measures
speed, not accuracy, but the accuracy is printed so that a broken export
shows), and writes everything the benchmark needs into OUTDIR:

  mlp.safetensors + mlp.json   the model for maas_register (torch names, F32)
  mlp.npz                      W1 (784,512), b1, W2 (512,10), b2 for PL/Python
  mlp.onnx                     input "pixels" [n,784] -> output "probs" [n,10]
  mlp.<W1|b1|W2|b2>.f32        raw float32, torch layout (out,in), for floor.c
  test_x.f32, test_y.u8        the 10k test rows, raw, for floor.c and ORT
  fmnist_test.copy             COPY text: id, {784 pixels}, label
  logreg50.safetensors + .json a 50-feature logistic model for the 1M-row case

Usage: /usr/bin/python3 test/bench/prepare.py OUTDIR [--epochs 2]
"""
import argparse
import gzip
import json
import os
import struct
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # torch's own threads do the work
import numpy as np
import torch
import torch.nn as nn

SRC = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx(name):
    with gzip.open(os.path.join(SRC, name), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def safetensors_bytes(tensors):
    """tensors: list of (name, float32 array); written in that order."""
    header, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, a in tensors:
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        return torch.softmax(self.fc2(self.drop(torch.relu(self.fc1(x)))), dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--epochs", type=int, default=2)
    a = ap.parse_args()
    out = a.outdir
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(2)

    xtr = idx("train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    ytr = idx("train-labels-idx1-ubyte.gz").astype(np.int64)
    xte = idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    yte = idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)

    model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    lossf = nn.NLLLoss()
    X, Y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    model.train()
    for ep in range(a.epochs):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 128):
            j = perm[i:i + 128]
            opt.zero_grad()
            lossf(torch.log(model(X[j]) + 1e-12), Y[j]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean()
    print(f"mlp: {a.epochs} epochs, test accuracy {acc:.4f}")

    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    with open(os.path.join(out, "mlp.safetensors"), "wb") as f:
        f.write(safetensors_bytes([(k, sd[k]) for k in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")]))
    with open(os.path.join(out, "mlp.json"), "w") as f:
        json.dump({"task": "classification", "n_features": 784, "labels": list(range(10)),
                   "layers": [{"op": "dense", "weight": "fc1.weight", "bias": "fc1.bias"},
                              {"op": "relu"}, {"op": "dropout"},
                              {"op": "dense", "weight": "fc2.weight", "bias": "fc2.bias"},
                              {"op": "softmax"}]}, f)
    np.savez(os.path.join(out, "mlp.npz"), W1=sd["fc1.weight"].T.copy(), b1=sd["fc1.bias"],
             W2=sd["fc2.weight"].T.copy(), b2=sd["fc2.bias"])
    for short, k in (("W1", "fc1.weight"), ("b1", "fc1.bias"), ("W2", "fc2.weight"), ("b2", "fc2.bias")):
        sd[k].astype("<f4").tofile(os.path.join(out, f"mlp.{short}.f32"))
    torch.onnx.export(model, torch.zeros(1, 784), os.path.join(out, "mlp.onnx"),
                      input_names=["pixels"], output_names=["probs"],
                      dynamic_axes={"pixels": {0: "n"}, "probs": {0: "n"}}, opset_version=13)

    xte.astype("<f4").tofile(os.path.join(out, "test_x.f32"))
    yte.astype(np.uint8).tofile(os.path.join(out, "test_y.u8"))
    with open(os.path.join(out, "fmnist_test.copy"), "w") as f:
        for i in range(len(xte)):
            # %.9g round-trips float32, so the real[] holds the very values torch saw
            vals = ",".join("0" if v == 0 else "%.9g" % v for v in xte[i].tolist())
            f.write(f"{i}\t{{{vals}}}\t{yte[i]}\n")

    rng = np.random.default_rng(50)
    w = (rng.standard_normal((1, 50)) / np.sqrt(50)).astype(np.float32)
    b = np.array([0.1], np.float32)
    with open(os.path.join(out, "logreg50.safetensors"), "wb") as f:
        f.write(safetensors_bytes([("weight", w), ("bias", b)]))
    with open(os.path.join(out, "logreg50.json"), "w") as f:
        json.dump({"task": "classification", "n_features": 50, "labels": [0, 1],
                   "layers": [{"op": "dense", "weight": "weight", "bias": "bias"}, {"op": "sigmoid"}]}, f)
    print("wrote", out)


if __name__ == "__main__":
    sys.exit(main())
