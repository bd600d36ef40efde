#!/usr/bin/python3
"""Bad ONNX files get a clear error (exit 1, a message naming the problem),
never a crash, and no output file. Each case is made here with onnx.helper
(python3-onnx), compiled by sorac into an empty folder.
Usage: bad_files.py SORAC MLP_ONNX"""
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import TensorProto, helper

sorac, mlp_path = sys.argv[1], sys.argv[2]
F = TensorProto.FLOAT


def model(nodes, inputs, outputs, inits=(), opset=14):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    return m.SerializeToString()


def vi(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


x = vi("x", ["batch", 4])
y = vi("y", ["batch", 3])
w = helper.make_tensor("w", F, [3, 4], [0.5] * 12)
gemm = helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)
good = model([gemm], [x], [y], [w])

mlp = open(mlp_path, "rb").read()
outside = TensorProto()
outside.name, outside.data_type = "w", F
outside.dims.extend([3, 4])
outside.data_location = TensorProto.EXTERNAL
for k, v in {"location": "../secret.bin", "offset": "0", "length": "48"}.items():
    e = outside.external_data.add()
    e.key, e.value = k, v
absolute = TensorProto()
absolute.CopyFrom(outside)
absolute.external_data[0].value = "/etc/passwd"
short = TensorProto()
short.name, short.data_type = "w", F
short.dims.extend([3, 4])
short.float_data.extend([0.5] * 5)
def raw_shape(elem, value):
    """A Constant node 'shape' of one integer, as raw little-endian bytes."""
    t = helper.make_tensor("s", elem, [1], value.to_bytes(8, "little"), raw=True)
    return helper.make_node("Constant", [], ["shape"], name="shape", value=t)


reshape = helper.make_node("Reshape", ["x", "shape"], ["y"], name="r")
relu_a = helper.make_node("Relu", ["b"], ["a"], name="first")
relu_b = helper.make_node("Relu", ["a"], ["b"], name="second")

cases = [
    ("truncated protobuf", mlp[: len(mlp) // 2], "truncated or corrupt"),
    ("not a protobuf", b"\xff\xfe not onnx at all", "truncated or corrupt"),
    ("an empty file", b"", "holds no ONNX graph"),
    ("unknown opset", model([gemm], [x], [y], [w], opset=99),
     "opset 99 is not supported"),
    ("a string input", model([gemm], [vi("x", ["batch", 4], TensorProto.STRING)],
                             [y], [w]), "element type string"),
    ("a missing initializer", model([gemm], [x], [y]),
     "node 'fc' (Gemm, opset 14): error: input 'w' is not defined"),
    ("a cycle", model([relu_a, relu_b], [x], [vi("a", ["batch", 4])]),
     "node 'first' (Relu, opset 14): error: input 'b' is not defined"),
    ("too few initializer values", model([gemm], [x], [y], [short]),
     "has 5 values for 12 elements"),
    ("external data outside the folder", model([gemm], [x], [y], [outside]),
     "leaves the model's folder (refused)"),
    ("external data at an absolute path", model([gemm], [x], [y], [absolute]),
     "must be a path relative to the model's folder"),
    ("an unsupported operator",
     model([helper.make_node("Einsum", ["x"], ["y"], name="e", equation="ij")],
           [x], [y]), "node 'e' (Einsum, opset 14): error: operator Einsum "
                      "is not supported"),
    ("an unsupported attribute",
     model([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1,
                             frobnicate=2)], [x], [y], [w]),
     "attribute 'frobnicate' of Gemm is not supported"),
    ("an unsigned integer beyond int64",
     model([raw_shape(TensorProto.UINT64, 2**64 - 1), reshape], [x],
           [vi("y", ["batch"])]),
     "holds 18446744073709551615, beyond the largest 64-bit signed integer"),
    ("the largest int64 as a shape",
     model([raw_shape(TensorProto.INT64, 2**63 - 1), reshape], [x],
           [vi("y", ["batch"])]), "9223372036854775807"),
    ("a ConstantOfShape whose value holds no element",
     model([raw_shape(TensorProto.INT64, 3),
            helper.make_node("ConstantOfShape", ["shape"], ["c"], name="fill",
                             value=helper.make_tensor("v", F, [0], [])),
            helper.make_node("Mul", ["x", "c"], ["y"], name="m")],
           [vi("x", ["batch", 3])], [y]),
     "node 'fill' (ConstantOfShape, opset 14): error: its value holds 0 "
     "elements, not one"),
    ("two dynamic dimensions", model([gemm], [vi("x", ["batch", "n"])], [y], [w]),
     "dynamic dimension 1"),
]

failures = 0
with tempfile.TemporaryDirectory() as tmp:
    ok_path = os.path.join(tmp, "good.onnx")
    open(ok_path, "wb").write(good)
    r = subprocess.run([sorac, ok_path, "-o", os.path.join(tmp, "good.o")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL: the good model does not compile:", r.stderr)
        failures += 1
    for i, (what, data, expected) in enumerate(cases):
        sub = os.path.join(tmp, "case%d" % i)
        os.makedirs(sub)
        path = os.path.join(sub, "m.onnx")
        open(path, "wb").write(data)
        out = os.path.join(sub, "m.o")
        r = subprocess.run([sorac, path, "-o", out], capture_output=True,
                           text=True)
        left = sorted(set(os.listdir(sub)) - {"m.onnx"})
        if r.returncode != 1 or expected not in r.stderr or left:
            print("FAIL: %s: exit %d, files %s, stderr:\n%s" %
                  (what, r.returncode, left, r.stderr))
            failures += 1
        else:
            print("ok: %s: %s" % (what, r.stderr.strip().splitlines()[0]))
sys.exit(1 if failures else 0)
