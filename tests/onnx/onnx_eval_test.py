"""onnx_eval.py against what it did not write: ONNX's own node conformance
cases (libonnx-testdata: each a one-op model with inputs and expected
outputs), and, for the recurrent ops in PyTorch's form (the GRU with
linear_before_reset = 1, which no conformance case uses), PyTorch's
nn.LSTM, nn.GRU and nn.RNN exported by torch.onnx. A case whose op or
attributes the evaluator refuses is skipped; every op sorac's exporter
writes must pass at least one case, and none may fail.

  onnx_eval_test.py [NODE_TEST_DIR]
"""

import glob
import io
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_eval import evaluate  # noqa: E402

# The ops OnnxExport.cpp writes.
EXPORTED = {
    "Add", "AveragePool", "Concat", "Conv", "Div", "Elu", "Erf",
    "Flatten", "GRU", "Gather", "Gemm", "GlobalAveragePool", "GlobalMaxPool",
    "Identity", "LSTM", "LeakyRelu", "MatMul", "MaxPool", "Mul", "RNN",
    "ReduceMean", "ReduceSum", "Relu", "Reshape", "Selu", "Sigmoid", "Slice",
    "Softmax", "Softplus", "Sqrt", "Squeeze", "Sub", "Tanh", "Transpose"}


def close(got, want):
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-4,
                                                   atol=1e-5)


def conformance(root, passed, failed):
    skipped = 0
    for case in sorted(glob.glob(os.path.join(root, "test_*"))):
        model = onnx.load(os.path.join(case, "model.onnx"))
        ops = {n.op_type for n in model.graph.node}
        if not ops <= EXPORTED:
            continue
        for data in sorted(glob.glob(os.path.join(case, "test_data_set_*"))):
            def tensors(prefix):
                out = []
                for path in sorted(glob.glob(os.path.join(data, prefix))):
                    t = onnx.TensorProto()
                    with open(path, "rb") as f:
                        t.ParseFromString(f.read())
                    out.append(numpy_helper.to_array(t))
                return out
            try:
                inputs = tensors("input_*.pb")
                outputs = tensors("output_*.pb")
            except ValueError:  # a sequence or optional, not a tensor
                skipped += 1
                continue
            names = [i.name for i in model.graph.input]
            try:
                got = evaluate(model, dict(zip(names, inputs)))
            except NotImplementedError:
                skipped += 1
                continue
            except Exception as e:  # a bug of the evaluator: a failure
                print(f"{os.path.basename(case)}: {e!r}", file=sys.stderr)
                got = []
            ok = len(got) == len(outputs) and all(
                close(np.asarray(g), w) for g, w in zip(got, outputs))
            for op in ops:
                (passed if ok else failed).setdefault(op, []).append(
                    os.path.basename(case))
    return skipped


def torch_recurrent(passed, failed):
    import torch

    torch.manual_seed(0)
    cases = {
        "LSTM": torch.nn.LSTM(5, 3),
        "GRU": torch.nn.GRU(5, 3),
        "RNN": torch.nn.RNN(5, 3, nonlinearity="relu"),
    }
    x = torch.randn(7, 2, 5)  # [time, batch, features]

    class Layer(torch.nn.Module):
        """The layer from a given state (else torch's graph derives the
        zero state from x's shape, with ops the evaluator lacks)."""

        def __init__(self, layer, lstm):
            super().__init__()
            self.layer = layer
            self.state = (torch.randn(1, 2, 3), torch.randn(1, 2, 3))
            self.lstm = lstm

        def forward(self, x):
            return self.layer(x, self.state if self.lstm else
                              self.state[0])[0]

    for op, layer in cases.items():
        module = Layer(layer, op == "LSTM")
        buf = io.BytesIO()
        torch.onnx.export(module, (x,), buf, opset_version=14,
                          input_names=["x"])
        model = onnx.load_from_string(buf.getvalue())
        with torch.no_grad():
            y = module(x)
        got = evaluate(model, {"x": x.numpy()})[0]
        ok = close(np.asarray(got), y.numpy())
        (passed if ok else failed).setdefault(op, []).append("torch." + op)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else \
        "/usr/share/libonnx-testdata/data/node"
    passed, failed = {}, {}
    skipped = conformance(root, passed, failed)
    torch_recurrent(passed, failed)
    print(f"{len(set(sum(passed.values(), [])))} cases passed, "
          f"{skipped} skipped (ops or attributes the evaluator refuses)")
    for op in sorted(EXPORTED):
        print(f"  {op}: {len(passed.get(op, []))} passed")
    status = 0
    for op, names in sorted(failed.items()):
        print(f"FAIL: {op}: {' '.join(names)}", file=sys.stderr)
        status = 1
    for op in sorted(EXPORTED - set(passed) - {"Identity"}):
        print(f"FAIL: {op}: no case passed", file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
