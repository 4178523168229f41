#!/usr/bin/python3
"""The canonical dump of an ONNX model (or a TensorProto .pb file) that
`onnx_conform dump FILE` prints, made with the onnx Python package: the
independent reader that test/onnx/crosscheck compares maas's reader with.

    /usr/bin/python3 test/onnx/dump_onnx.py FILE

Needs python3-onnx and python3-numpy (Debian).  Tensor data is shown as a
hash of its little-endian bytes: sum of b[i] * P^(i + 1) mod 2^64.
"""
import sys

import numpy as np
import onnx

DTYPES = ["UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32",
          "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64",
          "COMPLEX64", "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
          "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4",
          "FLOAT4E2M1"]
ATTR_TYPES = ["undefined", "float", "int", "string", "tensor", "graph",
              "floats", "ints", "strings", "tensors", "graphs",
              "sparse tensor", "sparse tensors", "type proto", "type protos"]
KINDS = {"tensor_type": "tensor", "sequence_type": "sequence",
         "map_type": "map", "optional_type": "optional",
         "sparse_tensor_type": "sparse tensor", None: "untyped"}
# numpy dtype of the elements, and the typed field that holds them
ELEMS = {1: ("<f4", "float_data"), 2: ("u1", "int32_data"),
         3: ("i1", "int32_data"), 4: ("<u2", "int32_data"),
         5: ("<i2", "int32_data"), 6: ("<i4", "int32_data"),
         7: ("<i8", "int64_data"), 9: ("u1", "int32_data"),
         10: ("<u2", "int32_data"), 11: ("<f8", "double_data"),
         12: ("<u4", "uint64_data"), 13: ("<u8", "uint64_data"),
         16: ("<u2", "int32_data")}
P = np.uint64(1099511628211)


def dtype_name(t):
    return DTYPES[t] if 0 <= t < len(DTYPES) else "unknown"


def q(s):
    if isinstance(s, bytes):
        s = s.decode("utf-8")
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def data_hash(b):
    if len(b) == 0:
        return 0
    a = np.frombuffer(b, dtype=np.uint8).astype(np.uint64)
    powers = np.cumprod(np.full(len(a), P, dtype=np.uint64), dtype=np.uint64)
    with np.errstate(over="ignore"):
        return int(np.sum(a * powers, dtype=np.uint64))


def tensor_bytes(t):
    if t.HasField("raw_data"):
        return t.raw_data
    np_type, field = ELEMS[t.data_type]
    values = list(getattr(t, field))
    if field in ("int32_data", "int64_data"):
        return np.array(values, dtype=np.int64).astype(np_type).tobytes()
    return np.array(values, dtype=np_type).tobytes()


def tensor_str(t):
    dims = ",".join(str(d) for d in t.dims)
    return "%s [%s] %016x" % (dtype_name(t.data_type), dims,
                              data_hash(tensor_bytes(t)))


def value_str(what, v):
    kind = v.type.WhichOneof("value")
    out = "%s %s %s" % (what, q(v.name), KINDS[kind])
    if kind in ("tensor_type", "sparse_tensor_type"):
        tt = getattr(v.type, kind)
        out += " " + dtype_name(tt.elem_type)
        if not tt.HasField("shape"):
            out += " ?"
        else:
            dims = []
            for d in tt.shape.dim:
                which = d.WhichOneof("value")
                if which == "dim_value":
                    dims.append(str(d.dim_value))
                elif which == "dim_param" and d.dim_param:
                    dims.append(q(d.dim_param))
                else:
                    dims.append("?")
            out += " [" + ",".join(dims) + "]"
    return out


def domain(d):
    return "" if d == "ai.onnx" else d


def attr_str(a):
    out = "  attr %s %s" % (q(a.name), ATTR_TYPES[a.type])
    t = a.type
    if t == 1:
        out += " %.9g" % a.f
    elif t == 2:
        out += " %d" % a.i
    elif t == 3:
        out += " x'" + a.s.hex() + "'"
    elif t == 4:
        out += " " + tensor_str(a.t)
    elif t == 5:
        out += " 1"
    elif t == 6:
        out += "".join(" %.9g" % f for f in a.floats)
    elif t == 7:
        out += "".join(" %d" % i for i in a.ints)
    elif t == 8:
        out += "".join(" x'" + s.hex() + "'" for s in a.strings)
    elif t == 10:
        out += " %d" % len(a.graphs)
    return out


def dump_model(m):
    print("ir_version %d" % m.ir_version)
    print("producer %s %s" % (q(m.producer_name), q(m.producer_version)))
    print("model %s %d" % (q(m.domain), m.model_version))
    for o in m.opset_import:
        print("opset %s %d" % (q(domain(o.domain)), o.version))
    g = m.graph
    print("graph %s" % q(g.name))
    for v in g.input:
        print(value_str("input", v))
    for v in g.output:
        print(value_str("output", v))
    for v in g.value_info:
        print(value_str("value_info", v))
    for t in g.initializer:
        print("initializer %s %s" % (q(t.name), tensor_str(t)))
    for i, n in enumerate(g.node):
        print("node %d %s %s %s in%s out%s" % (
            i, q(domain(n.domain)), q(n.op_type), q(n.name),
            "".join(" " + q(x) for x in n.input),
            "".join(" " + q(x) for x in n.output)))
        for a in n.attribute:
            print(attr_str(a))


def dump(path):
    data = open(path, "rb").read()
    if path.endswith(".pb"):
        t = onnx.TensorProto()
        t.ParseFromString(data)
        print("tensor %s %s" % (q(t.name), tensor_str(t)))
    else:
        m = onnx.ModelProto()
        m.ParseFromString(data)
        dump_model(m)


def main():
    dump(sys.argv[1])


if __name__ == "__main__":
    main()
