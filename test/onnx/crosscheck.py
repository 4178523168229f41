#!/usr/bin/python3
"""Compare maas's ONNX reader with the onnx Python package on every model
and tensor of ONNX's test data (or the directories given):

    /usr/bin/python3 test/onnx/crosscheck.py BUILD/onnx_conform [ROOT...]

For each model.onnx, `onnx_conform dump` (maas's reader, subgraphs kept as
stubs) and dump_onnx.py must print the same lines; for each input_N.pb /
output_N.pb of a tensor-typed value, the same tensor line, or maas refuses it
as "unsupported" while its dtype is one maas does not hold (STRING).
Prints "crosscheck: N of M models and K of L tensors agree" and the first
difference of each file that does not; exit status 1 if any.
"""
import contextlib
import glob
import io
import os
import subprocess
import sys

import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dump_onnx  # noqa: E402

REFUSED_DTYPES = {8, 14, 15}     # STRING, COMPLEX64, COMPLEX128


def python_dump(path):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        dump_onnx.dump(path)
    return out.getvalue().splitlines()


def c_dump(tool, path):
    r = subprocess.run([tool, "dump", path], capture_output=True, text=True)
    if r.returncode != 0:
        return ["exit %d: %s" % (r.returncode, r.stderr.strip())], r.stderr
    return r.stdout.splitlines(), r.stderr.strip()


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "line %d:\n    maas: %s\n    onnx: %s" % (i + 1, x, y)
    return "maas has %d lines, onnx %d" % (len(a), len(b))


def main():
    tool = sys.argv[1]
    roots = sys.argv[2:] or ["/usr/share/libonnx-testdata/data"]
    models = sorted(m for r in roots
                    for m in glob.glob(os.path.join(r, "**", "model.onnx"),
                                       recursive=True))
    bad = 0
    n_models = agree_models = n_tensors = agree_tensors = 0
    for path in models:
        n_models += 1
        mine, why = c_dump(tool, path)
        theirs = python_dump(path)
        if mine == theirs:
            agree_models += 1
        else:
            bad += 1
            print("DIFFERS %s (%s)\n  %s" % (path, why,
                                             first_difference(mine, theirs)))
        m = onnx.load(path)
        inits = {t.name for t in m.graph.initializer}
        ins = [v for v in m.graph.input if v.name not in inits]
        for d in sorted(glob.glob(os.path.join(os.path.dirname(path),
                                               "test_data_set_*"))):
            for kind, values in (("input", ins), ("output", m.graph.output)):
                for i, v in enumerate(values):
                    pb = os.path.join(d, "%s_%d.pb" % (kind, i))
                    if not os.path.exists(pb) or \
                            v.type.WhichOneof("value") != "tensor_type":
                        continue
                    n_tensors += 1
                    mine, why = c_dump(tool, pb)
                    t = onnx.TensorProto()
                    t.ParseFromString(open(pb, "rb").read())
                    if mine == ["error unsupported"] and \
                            t.data_type in REFUSED_DTYPES:
                        agree_tensors += 1
                        continue
                    theirs = python_dump(pb)
                    if mine == theirs:
                        agree_tensors += 1
                    else:
                        bad += 1
                        print("DIFFERS %s (%s)\n  %s" % (
                            pb, why, first_difference(mine, theirs)))
    print("crosscheck: %d of %d models and %d of %d tensors agree" % (
        agree_models, n_models, agree_tensors, n_tensors))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
