#!/usr/bin/python3
"""The conv, pool and batch-norm kernels (src/kernel/conv.c) against ONNX's own test data.

Runs every single-node Conv, MaxPool, AveragePool, GlobalAveragePool and
BatchNormalization model of Debian's libonnx-testdata (node tests and the
PyTorch-converted and PyTorch-operator models) whose input is float32 1-D or
2-D, through the kernels, called with ctypes from a shared library built here
from the kernel sources, and compares with the expected outputs (1e-4,
relative to the largest expected value).  This is how an importer maps ONNX
onto the kernels: explicit pads [top, left, bottom, right] as they are,
auto_pad SAME_UPPER / SAME_LOWER resolved to explicit pads (the odd pixel at
the end / the start), a 1-D op as 2-D with height 1, BatchNormalization
(inference) as maas_bn_affine.  Prints one line a model and

    onnx conv/pool conformance: N of M supported models pass, K skipped (why)

and exits 1 if any supported model fails.  Skipped: 3-D ops, integer inputs,
training-mode BatchNormalization, MaxPool's indices output.

    /usr/bin/python3 test/unit/onnx_conv_check.py [DATADIR...]

Needs gcc, OpenBLAS, python3-onnx, python3-numpy and libonnx-testdata.
"""
import ctypes
import glob
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
KERNEL = os.path.join(HERE, "..", "..", "src", "kernel")
DATA = "/usr/share/libonnx-testdata/data"
OPS = ("Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization")


def build():
    d = tempfile.mkdtemp(prefix="maas-conv-")
    stub = os.path.join(d, "kalloc.c")
    with open(stub, "w") as f:
        f.write("#include <stdlib.h>\nvoid *maas_kalloc(size_t s) { return malloc(s ? s : 1); }\n")
    so = os.path.join(d, "libconv.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-I" + KERNEL, "-o", so,
                    os.path.join(KERNEL, "conv.c"), os.path.join(KERNEL, "conv_direct.c"),
                    os.path.join(KERNEL, "pool.c"), os.path.join(KERNEL, "conv_bn.c"),
                    os.path.join(KERNEL, "error.c"),
                    stub, "-ldl", "-lm", "-lpthread"] +
                   [os.path.join(KERNEL, f) for f in ("blas.c", "blas_dispatch.c", "cpu.c", "quantize.c",
                                                      "gemm_int8.c", "gemm_bf16.c", "gemm_onednn.c")], check=True)
    return ctypes.CDLL(so)


lib = build()


# the structs of conv.h, field for field
class Conv2d(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int) for n in
                "c_in h w c_out kh kw stride_h stride_w pad_top pad_left pad_bottom pad_right "
                "dil_h dil_w groups algo h_out w_out chosen".split()]


class Pool2d(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int) for n in
                "c h w kh kw stride_h stride_w pad_top pad_left pad_bottom pad_right dil_h dil_w".split()] + \
               [("ceil_mode", ctypes.c_bool), ("count_include_pad", ctypes.c_bool),
                ("h_out", ctypes.c_int), ("w_out", ctypes.c_int)]


class MaasError(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("msg", ctypes.c_char * 256), ("hint", ctypes.c_char_p)]


lib.maas_blas_load.restype = ctypes.c_void_p
_err = ctypes.create_string_buffer(256)
BLAS = lib.maas_blas_load(None, 1, _err, 256)
if not BLAS:
    sys.exit("no BLAS: " + _err.value.decode())
FP = ctypes.POINTER(ctypes.c_float)


def fp(a):
    return None if a is None else a.ctypes.data_as(FP)


def explicit_pads(attrs, hw, k, s, d):
    ap = attrs.get("auto_pad", b"NOTSET")
    ap = ap.decode() if isinstance(ap, bytes) else ap
    if ap == "VALID":
        return [0, 0, 0, 0]
    if ap in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * 4
        for i in range(2):
            total = max((math.ceil(hw[i] / s[i]) - 1) * s[i] + (k[i] - 1) * d[i] + 1 - hw[i], 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + 2] = (small, big) if ap == "SAME_UPPER" else (big, small)
        return pads
    return list(attrs.get("pads", [0, 0, 0, 0]))


def run(node, attrs, ins):
    """The kernels' output for one node, or (None, why) when refused."""
    x = np.ascontiguousarray(ins[0], dtype=np.float32)
    n, c, h, w = x.shape
    e = MaasError()
    if node.op_type == "BatchNormalization":
        scale, bias, mean, var = [np.ascontiguousarray(a, dtype=np.float32) for a in ins[1:5]]
        a = np.zeros(c, np.float32)
        b = np.zeros(c, np.float32)
        if not lib.maas_bn_affine(c, fp(scale), fp(bias), fp(mean), fp(var),
                                  ctypes.c_double(attrs.get("epsilon", 1e-5)), fp(a), fp(b), ctypes.byref(e)):
            return None, e.msg.decode()
        return x * a.reshape(1, c, 1, 1) + b.reshape(1, c, 1, 1), None
    if node.op_type == "GlobalAveragePool":
        y = np.zeros((n, c), np.float32)
        lib.maas_global_avgpool_forward(n, c, h * w, fp(x), fp(y))
        return y.reshape(n, c, 1, 1), None
    s = list(attrs.get("strides", [1, 1]))
    d = list(attrs.get("dilations", [1, 1]))
    if node.op_type == "Conv":
        wt = np.ascontiguousarray(ins[1], dtype=np.float32)
        k = list(attrs.get("kernel_shape", wt.shape[2:]))
        p = explicit_pads(attrs, (h, w), k, s, d)
        cv = Conv2d(c, h, w, wt.shape[0], k[0], k[1], s[0], s[1], p[0], p[1], p[2], p[3],
                    d[0], d[1], attrs.get("group", 1), 0, 0, 0, 0)
        if not lib.maas_conv2d_check(ctypes.byref(cv), ctypes.byref(e)):
            return None, e.msg.decode()
        nf = ctypes.c_size_t()
        lib.maas_conv2d_scratch(ctypes.byref(cv), n, ctypes.byref(nf))
        scratch = np.zeros(max(nf.value, 1), np.float32)
        bias = np.ascontiguousarray(ins[2], dtype=np.float32) if len(ins) > 2 else None
        y = np.zeros((n, cv.c_out, cv.h_out, cv.w_out), np.float32)
        lib.maas_conv2d_forward(ctypes.byref(cv), ctypes.c_void_p(BLAS), n, fp(x), fp(wt), fp(bias),
                                fp(y), fp(scratch), None)
        return y, None
    k = list(attrs["kernel_shape"])
    p = explicit_pads(attrs, (h, w), k, s, d)
    pl = Pool2d(c, h, w, k[0], k[1], s[0], s[1], p[0], p[1], p[2], p[3], d[0], d[1],
                bool(attrs.get("ceil_mode", 0)), bool(attrs.get("count_include_pad", 0)), 0, 0)
    if not lib.maas_pool2d_check(ctypes.byref(pl), ctypes.byref(e)):
        return None, e.msg.decode()
    y = np.zeros((n, c, pl.h_out, pl.w_out), np.float32)
    if node.op_type == "MaxPool":
        lib.maas_maxpool2d_forward(ctypes.byref(pl), n, fp(x), fp(y), None)
    else:
        lib.maas_avgpool2d_forward(ctypes.byref(pl), n, fp(x), fp(y))
    return y, None


def check(model_dir):
    """'pass', 'FAIL ...' or 'skip ...' for one test directory, or None if not ours."""
    m = onnx.load(os.path.join(model_dir, "model.onnx"))
    if len(m.graph.node) != 1 or m.graph.node[0].op_type not in OPS:
        return None
    node = m.graph.node[0]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    data = [numpy_helper.to_array(onnx.load_tensor(f))
            for f in sorted(glob.glob(os.path.join(model_dir, "test_data_set_0", "input_*.pb")))]
    want = [numpy_helper.to_array(onnx.load_tensor(f))
            for f in sorted(glob.glob(os.path.join(model_dir, "test_data_set_0", "output_*.pb")))]
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    values = dict(inits)
    values.update(zip([i.name for i in m.graph.input if i.name not in inits], data))
    ins = [values[name] for name in node.input if name]
    x = ins[0]
    if x.dtype != np.float32:
        return "skip (%s input)" % x.dtype
    if x.ndim not in (3, 4):
        return "skip (%d-D)" % (x.ndim - 2)
    if attrs.get("training_mode"):
        return "skip (training mode)"
    if len(node.output) > 1 or attrs.get("storage_order"):
        return "skip (indices output)"
    if x.ndim == 3:
        # 1-D as 2-D with height 1
        ins[0] = x.reshape(x.shape[0], x.shape[1], 1, x.shape[2])
        for key in ("kernel_shape", "strides", "dilations"):
            if key in attrs:
                attrs[key] = [1] + list(attrs[key])
        if "pads" in attrs:
            attrs["pads"] = [0, attrs["pads"][0], 0, attrs["pads"][1]]
        if node.op_type == "Conv":
            ins[1] = ins[1].reshape(ins[1].shape[0], ins[1].shape[1], 1, ins[1].shape[2])
    y, why = run(node, attrs, ins)
    if y is None:
        return "FAIL (refused: %s)" % why
    expected = want[0].reshape(y.shape) if want[0].size == y.size else want[0]
    if y.shape != expected.shape:
        return "FAIL (shape %s, expected %s)" % (y.shape, want[0].shape)
    diff = float(np.max(np.abs(y - expected))) if y.size else 0.0
    scale = max(1.0, float(np.max(np.abs(expected)))) if y.size else 1.0
    return ("pass" if diff <= 1e-4 * scale else "FAIL") + " (max difference %.2g)" % diff


def main():
    roots = sys.argv[1:] or [os.path.join(DATA, d) for d in ("node", "pytorch-converted", "pytorch-operator")]
    passed = failed = 0
    skipped = {}
    for root in roots:
        for model_dir in sorted(glob.glob(os.path.join(root, "test_*"))):
            r = check(model_dir)
            if r is None:
                continue
            print("%-60s %s" % (os.path.relpath(model_dir, DATA), r))
            if r.startswith("pass"):
                passed += 1
            elif r.startswith("FAIL"):
                failed += 1
            else:
                skipped[r] = skipped.get(r, 0) + 1
    why = ", ".join("%d %s" % (v, k[6:-1]) for k, v in sorted(skipped.items()))
    print("onnx conv/pool conformance: %d of %d supported models pass, %d skipped (%s)"
          % (passed, passed + failed, sum(skipped.values()), why))
    sys.exit(1 if failed or passed == 0 else 0)


if __name__ == "__main__":
    main()
