"""sorac --emit=onnx: each model, trained briefly, is exported; the file must
pass onnx.checker's full check (shape inference included), and its outputs,
computed by onnx_eval.py from the ONNX operator specification, must match
sorac's own predictions (an inference build of the same checkpoint) within
1e-4 on every output of every sample. The round trip: the exported file
compiled by sorac's importer (`sorac model.onnx`) must predict the same,
and written back by it (`sorac model.onnx --emit=onnx`) compute the same;
required of the models whose ops the importer takes (ROUND_TRIP), tried
on the others. PyTorch's models (tests/onnx/models) imported and written
back must pass the checker and give PyTorch's outputs, as the originals do
under the evaluator. Also: a layer that cannot be exported is an error
naming it, and --emit=onnx without --weights a usage error.

  export_test.py SORAC CC RUNTIME_INCLUDE RUNTIME_LIB SOURCE_DIR
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_eval import evaluate  # noqa: E402

SORAC, CC, INCLUDE, LIB, SRC = sys.argv[1:6]
HERE = os.path.join(SRC, "tests", "onnx")
TOLERANCE = 1e-4
ROUND_TRIP = {"model", "vision", "sequence"}
failures = []


def sh(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, **kw)


def train(model, tmp, data_dir=None, limit=None):
    weights = os.path.join(tmp, os.path.basename(model) + ".safetensors")
    args = [SORAC, "run", model, "--epochs", "1", "--quiet", "--save", weights]
    if data_dir:
        args += ["--data", data_dir]
    if limit:
        args += ["--limit", limit]
    sh(*args)
    return weights


def sorac_predictions(model, weights, inputs, tmp):
    """sorac's outputs: an inference build of `model` with `weights` (none:
    an ONNX model's own), run by predict.c."""
    name = os.path.basename(model).replace(".", "-")
    obj = os.path.join(tmp, name + ".o")
    exe = os.path.join(tmp, name + "-predict")
    weighted = ["--inference", "--weights", weights] if weights else []
    sh(SORAC, model, *weighted, "--name", "export_test", "-o", obj)
    sh(CC, "-O1", "-I" + INCLUDE, os.path.join(HERE, "predict.c"), obj, LIB,
       "-lz", "-lm", "-lpthread", "-o", exe)
    files = []
    for k, x in enumerate(inputs):
        path = os.path.join(tmp, f"{name}.in{k}")
        x.tofile(path)
        files.append(path)
    out = os.path.join(tmp, name + ".out")
    n = len(inputs[0])
    sh(exe, "-", n, out, *files)  # the weights are baked in
    return np.fromfile(out, dtype=np.float32).reshape(n, -1)


def check(model, weights, inputs, tmp):
    name = os.path.splitext(os.path.basename(model))[0]
    path = os.path.join(tmp, name + ".onnx")
    sh(SORAC, model, "--weights", weights, "--emit=onnx", "-o", path)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    problems = []
    if [(o.domain, o.version) for o in proto.opset_import] != [("", 14)]:
        problems.append(f"opsets {proto.opset_import}")
    if proto.ir_version not in (7, 8):
        problems.append(f"ir_version {proto.ir_version}")
    # The inputs keep sora's per-sample shapes after a dynamic batch.
    for value, x in zip(proto.graph.input, inputs):
        dims = value.type.tensor_type.shape.dim
        shape = [d.dim_param or d.dim_value for d in dims]
        if shape != ["batch"] + list(x.shape[1:]):
            problems.append(f"input {value.name} is {shape}")
        want = (onnx.TensorProto.INT32 if x.dtype == np.int32
                else onnx.TensorProto.FLOAT)
        if value.type.tensor_type.elem_type != want:
            problems.append(f"input {value.name} has element type "
                            f"{value.type.tensor_type.elem_type}")
    feeds = {v.name: x for v, x in zip(proto.graph.input, inputs)}
    got = evaluate(proto, feeds)[0].reshape(len(inputs[0]), -1)
    want = sorac_predictions(model, weights, inputs, tmp)
    diff = float(np.abs(got - want).max())
    ops = sorted({node.op_type for node in proto.graph.node})
    print(f"{name}: {len(proto.graph.node)} nodes, "
          f"{len(proto.graph.initializer)} initializers, ops {' '.join(ops)}; "
          f"{len(inputs[0])} samples x {want.shape[1]} outputs, largest "
          f"difference from sorac {diff:.3g}")
    if diff > TOLERANCE:
        problems.append(f"outputs differ by {diff:.3g} > {TOLERANCE}")
    problems += round_trip(name, path, inputs, want, tmp)
    failures.extend(f"{name}: {p}" for p in problems)
    return proto


def round_trip(name, path, inputs, want, tmp):
    """The exported file back through sorac's importer: compiled, and
    written out again. Returns the problems."""
    again = os.path.join(tmp, name + ".again.onnx")
    r = subprocess.run([SORAC, path, "--emit=onnx", "-o", again],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name}: round trip: {r.stderr.strip()}")
        return ([f"the importer refuses it: {r.stderr.strip()}"]
                if name in ROUND_TRIP else [])
    proto = onnx.load(again)
    onnx.checker.check_model(proto, full_check=True)
    feeds = {v.name: x for v, x in zip(proto.graph.input, inputs)}
    rewritten = evaluate(proto, feeds)[0].reshape(len(inputs[0]), -1)
    imported = sorac_predictions(path, None, inputs, tmp)
    diffs = (float(np.abs(imported - want).max()),
             float(np.abs(rewritten - want).max()))
    ops = sorted({node.op_type for node in proto.graph.node})
    print(f"{name}: round trip: the import predicts within {diffs[0]:.3g}, "
          f"written back ({len(proto.graph.node)} nodes, ops {' '.join(ops)}) "
          f"within {diffs[1]:.3g}")
    return [f"round trip differs by {d:.3g} > {TOLERANCE}" for d in diffs
            if d > TOLERANCE]


def pytorch_written_back(tmp):
    """Each PyTorch model of the import tests through sorac and back out."""
    models = os.path.join(HERE, "models")
    with open(os.path.join(models, "expected.json")) as f:
        expected = json.load(f)
    for name in ("mlp", "cnn", "lstm"):
        e = expected[name]
        x = np.fromfile(os.path.join(models, name + ".input.bin"),
                        dtype=e["input_type"]).reshape(e["input"])
        want = np.fromfile(os.path.join(models, name + ".expected.bin"),
                           dtype=np.float32).reshape(e["output"])
        again = os.path.join(tmp, name + ".pytorch.onnx")
        sh(SORAC, os.path.join(models, name + ".onnx"), "--emit=onnx", "-o",
           again)
        diffs = []
        for path in (os.path.join(models, name + ".onnx"), again):
            proto = onnx.load(path)
            onnx.checker.check_model(proto, full_check=True)
            got = evaluate(proto, {proto.graph.input[0].name: x})[0]
            diffs.append(float(np.abs(got - want).max()))
        ops = " ".join(sorted({n.op_type for n in proto.graph.node}))
        print(f"PyTorch's {name}: written back by sorac "
              f"({len(proto.graph.node)} nodes, ops {ops}), {len(x)} samples "
              f"within {diffs[1]:.3g} of PyTorch's outputs (the original "
              f"under the evaluator: {diffs[0]:.3g})")
        failures.extend(f"PyTorch's {name}: differs by {d:.3g}" for d in diffs
                        if d > TOLERANCE)


def csv(path, columns):
    np.savetxt(path, np.column_stack(columns), delimiter=",", fmt="%.6g")


def main():
    rng = np.random.default_rng(16)
    with tempfile.TemporaryDirectory() as tmp:
        # The seed model on Fashion-MNIST.
        mlp = os.path.join(SRC, "examples", "mnist_mlp", "model.sora")
        proto = check(mlp, train(mlp, tmp, limit=3000),
                      [rng.random((64, 784), dtype=np.float32)], tmp)
        names = {t.name for t in proto.graph.initializer}
        if not {"hidden.weight", "hidden.bias"} <= names:
            failures.append(f"mnist_mlp: initializers {sorted(names)}")

        # Every other exportable layer, on random data.
        n = 256
        csv(os.path.join(tmp, "vision.csv"),
            [rng.random((n, 108)), rng.integers(0, 4, n)])
        csv(os.path.join(tmp, "sequence.csv"),
            [rng.integers(0, 20, (n, 8)), rng.integers(0, 3, n)])
        csv(os.path.join(tmp, "arith.csv"),
            [rng.normal(size=(n, 8)), rng.normal(size=(n, 2))])
        samples = 32
        inputs = {
            "vision": [rng.normal(size=(samples, 6, 6, 3)).astype(np.float32)],
            "sequence": [rng.integers(0, 20, (samples, 8)).astype(np.int32)],
            "arith": [rng.normal(size=(samples, 4)).astype(np.float32),
                      rng.normal(size=(samples, 4)).astype(np.float32)],
        }
        for name, xs in inputs.items():
            model = os.path.join(HERE, name + ".sora")
            check(model, train(model, tmp, data_dir=tmp), xs, tmp)

        pytorch_written_back(tmp)

        # What cannot be exported is an error naming the layer.
        masked = os.path.join(tmp, "masked.sora")
        with open(masked, "w") as f:
            f.write("model masked {\n input w : i32[8]\n"
                    " h = w -> embedding(20, 3, mask_zero: true) -> gru(2)\n"
                    " output y = dense(h, 3, activation: softmax)\n}\n"
                    "train masked {\n data = csv(path: \"sequence.csv\", "
                    "label_column: 8)\n"
                    " loss = sparse_categorical_crossentropy\n}\n")
        weights = train(masked, tmp, data_dir=tmp)
        r = subprocess.run([SORAC, masked, "--weights", weights, "--emit=onnx",
                            "-o", os.path.join(tmp, "masked.onnx")],
                           capture_output=True, text=True)
        print("mask_zero:", r.stderr.strip())
        if r.returncode == 0 or "'h'" not in r.stderr:
            failures.append(f"mask_zero: exit {r.returncode}: {r.stderr}")

        r = subprocess.run([SORAC, mlp, "--emit=onnx"], capture_output=True,
                           text=True)
        print("no weights:", r.stderr.strip())
        if r.returncode != 2 or "--weights" not in r.stderr:
            failures.append(f"no --weights: exit {r.returncode}: {r.stderr}")

    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
