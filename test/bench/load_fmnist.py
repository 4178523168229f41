#!/usr/bin/python3
"""Fashion-MNIST from the Debian package dataset-fashion-mnist, as PostgreSQL COPY text.

    /usr/bin/python3 test/bench/load_fmnist.py train > fmnist_train.copy
    /usr/bin/python3 test/bench/load_fmnist.py test  > fmnist_test.copy

or straight into a table from psql:

    \\copy fmnist_train FROM PROGRAM '/usr/bin/python3 test/bench/load_fmnist.py train'

Rows are "id <TAB> {p1,...,p784} <TAB> label": id from 1, the 28x28 pixels row by
row as integers 0..255 (for a real[] column), or with --scaled as v / 255 in [0, 1]
(what the PyTorch peer trains on), label 0..9.  The files are gzip'd IDX:
a big-endian header (0, 0, type 8 = uint8, ndim, then ndim uint32 sizes) and the bytes.
Only the standard library is used.
"""
import gzip
import os
import struct
import sys

DIR = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 8:
        sys.exit("%s: not an IDX file of uint8" % path)
    dims = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    size = 1
    for d in dims:
        size *= d
    if len(body) != size:
        sys.exit("%s: %d bytes of data, expected %d" % (path, len(body), size))
    return dims, body


# v / 255 as the float32 nearest to it, printed so that it reads back exactly
SCALED = ["%.9g" % (v / 255.0) for v in range(256)]


def main():
    scaled = "--scaled" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "--scaled"]
    if len(args) != 1 or args[0] not in FILES:
        sys.exit("usage: load_fmnist.py [--scaled] train|test")
    images, labels = FILES[args[0]]
    (n, rows, cols), pixels = read_idx(os.path.join(DIR, images))
    (n_labels,), label_bytes = read_idx(os.path.join(DIR, labels))
    if n != n_labels:
        sys.exit("%d images but %d labels" % (n, n_labels))
    width = rows * cols
    out = sys.stdout
    for i in range(n):
        row = pixels[i * width:(i + 1) * width]
        text = ",".join(SCALED[v] for v in row) if scaled else ",".join(map(str, row))
        out.write("%d\t{%s}\t%d\n" % (i + 1, text, label_bytes[i]))


if __name__ == "__main__":
    main()
