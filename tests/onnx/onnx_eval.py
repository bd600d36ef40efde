"""A small numpy evaluator for the ONNX ops sorac's exporter writes.

Debian's onnx 1.12 has no reference evaluator and there is no onnxruntime,
so each op here is written from the ONNX operator specification (opset 14)
for the attributes the exporter uses; any other op or attribute value is
refused rather than guessed.
"""

import math

import numpy as np
from onnx import numpy_helper


def _attrs(node):
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = a.i
        elif a.type == a.FLOAT:
            out[a.name] = a.f
        elif a.type == a.INTS:
            out[a.name] = list(a.ints)
        elif a.type == a.STRING:
            out[a.name] = a.s.decode()
        elif a.type == a.STRINGS:
            out[a.name] = [s.decode() for s in a.strings]
        elif a.type == a.TENSOR:
            out[a.name] = numpy_helper.to_array(a.t)
        else:
            raise NotImplementedError(f"attribute type {a.type} of {a.name}")
    return out


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _conv(x, w, b, strides, pads):
    """Cross-correlation over N spatial axes, x [N, C, ...], w [F, C, ...]."""
    nd = x.ndim - 2
    padding = [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)]
    x = np.pad(x, padding)
    kernel = w.shape[2:]
    out = [(x.shape[2 + i] - kernel[i]) // strides[i] + 1 for i in range(nd)]
    y = np.zeros((x.shape[0], w.shape[0], *out), dtype=np.float64)
    for idx in np.ndindex(*out):
        window = tuple(
            slice(idx[i] * strides[i], idx[i] * strides[i] + kernel[i])
            for i in range(nd))
        patch = x[(slice(None), slice(None)) + window]
        y[(slice(None), slice(None)) + idx] = np.tensordot(
            patch, w, axes=(list(range(1, nd + 2)), list(range(1, nd + 2))))
    if b is not None:
        y += b.reshape((1, -1) + (1,) * nd)
    return y


def _pool(x, kernel, strides, reduce):
    nd = x.ndim - 2
    out = [(x.shape[2 + i] - kernel[i]) // strides[i] + 1 for i in range(nd)]
    y = np.zeros(x.shape[:2] + tuple(out), dtype=np.float64)
    for idx in np.ndindex(*out):
        window = tuple(
            slice(idx[i] * strides[i], idx[i] * strides[i] + kernel[i])
            for i in range(nd))
        patch = x[(slice(None), slice(None)) + window]
        y[(slice(None), slice(None)) + idx] = reduce(
            patch.reshape(patch.shape[0], patch.shape[1], -1), axis=2)
    return y


def _recurrent(kind, a, ins):
    """ONNX's LSTM, GRU and RNN (one direction, no sequence_lens, no
    peepholes): returns Y [T, 1, batch, U] and Y_h [1, batch, U]."""
    x, w, r = ins[0], ins[1][0], ins[2][0]
    if len(ins) > 4 and ins[4] is not None:
        raise NotImplementedError("sequence_lens")
    u = a["hidden_size"]
    g = w.shape[0] // u
    given_b = len(ins) > 3 and ins[3] is not None
    b = ins[3][0] if given_b else np.zeros(2 * g * u)
    wb, rb = b[:g * u], b[g * u:]
    direction = a.get("direction", "forward")
    if direction not in ("forward", "reverse"):
        raise NotImplementedError(direction)
    if len(ins) > 7 and ins[7] is not None:
        raise NotImplementedError("peepholes")
    if a.get("layout", 0) or a.get("clip") is not None or a.get(
            "input_forget", 0) or "activation_alpha" in a:
        raise NotImplementedError("recurrent layout, clip or input_forget")
    if kind != "RNN" and "activations" in a:
        raise NotImplementedError("activations of an LSTM or GRU")
    steps, batch = x.shape[0], x.shape[1]
    given = [v[0] if len(ins) > k and ins[k] is not None else None
             for k, v in ((5, ins[5] if len(ins) > 5 else None),
                          (6, ins[6] if len(ins) > 6 else None))]
    h = given[0] if given[0] is not None else np.zeros((batch, u))
    c = given[1] if given[1] is not None else np.zeros((batch, u))
    ys = [None] * steps
    order = (range(steps - 1, -1, -1) if direction == "reverse"
             else range(steps))
    for t in order:
        xw = x[t] @ w.T + wb
        hr = h @ r.T + rb
        if kind == "LSTM":  # gates i, o, f, c
            gates = xw + hr
            i = _sigmoid(gates[:, 0:u])
            o = _sigmoid(gates[:, u:2 * u])
            f = _sigmoid(gates[:, 2 * u:3 * u])
            cand = np.tanh(gates[:, 3 * u:4 * u])
            c = f * c + i * cand
            h = o * np.tanh(c)
        elif kind == "GRU":  # gates z, r, h
            if a.get("linear_before_reset", 0) != 1:
                raise NotImplementedError("GRU without linear_before_reset")
            z = _sigmoid(xw[:, 0:u] + hr[:, 0:u])
            rr = _sigmoid(xw[:, u:2 * u] + hr[:, u:2 * u])
            n = np.tanh(xw[:, 2 * u:] + rr * hr[:, 2 * u:])
            h = (1 - z) * n + z * h
        else:
            act = a.get("activations", ["Tanh"])[0]
            pre = xw + hr
            h = np.tanh(pre) if act == "Tanh" else np.maximum(pre, 0)
        ys[t] = h
    y = np.stack(ys)[:, None]
    return y, h[None]


def _reduce_axes(x, axes):
    """Axes counted from the end made positive; none given: every axis."""
    if axes is None or len(axes) == 0:
        return tuple(range(x.ndim))
    return tuple(sorted(int(ax) % x.ndim for ax in axes))


def run_node(node, ins):
    """The outputs of one node, its inputs given as numpy arrays."""
    a = _attrs(node)
    t = node.op_type
    x = ins[0] if ins else None
    if t == "Identity":
        return [x]
    if t == "Constant":
        if "value" not in a:
            raise NotImplementedError("Constant without a tensor value")
        return [a["value"]]
    if t == "Gemm":
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get(
                "beta", 1.0) != 1.0:
            raise NotImplementedError("Gemm attributes")
        w = ins[1].T if a.get("transB", 0) else ins[1]
        y = x @ w
        if len(ins) > 2 and ins[2] is not None:
            y = y + ins[2]
        return [y]
    if t == "MatMul":
        return [x @ ins[1]]
    if t == "Div" and np.issubdtype(np.asarray(x).dtype, np.integer):
        raise NotImplementedError("integer Div")  # sorac's are float
    if t in ("Add", "Sub", "Mul", "Div"):
        op = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
              "Div": np.divide}[t]
        return [op(x, ins[1])]
    if t == "Relu":
        return [np.maximum(x, 0)]
    if t == "Sigmoid":
        return [_sigmoid(x)]
    if t == "Tanh":
        return [np.tanh(x)]
    if t == "LeakyRelu":
        return [np.where(x >= 0, x, a.get("alpha", 0.01) * x)]
    if t == "Elu":
        return [np.where(x >= 0, x, a.get("alpha", 1.0) * (np.exp(x) - 1))]
    if t == "Selu":
        alpha = a.get("alpha", 1.67326319217681884765625)
        gamma = a.get("gamma", 1.05070102214813232421875)
        return [gamma * np.where(x > 0, x, alpha * (np.exp(x) - 1))]
    if t == "Softplus":  # log(exp(x) + 1), computed without overflow
        return [np.logaddexp(0, x)]
    if t == "Erf":
        return [np.vectorize(math.erf)(x)]
    if t == "Sqrt":
        return [np.sqrt(x)]
    if t == "Softmax":
        axis = a.get("axis", -1)
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return [e / e.sum(axis=axis, keepdims=True)]
    if t == "Flatten":
        axis = a.get("axis", 1)
        return [x.reshape(int(np.prod(x.shape[:axis])), -1)]
    if t == "Reshape":
        if a.get("allowzero", 0):
            raise NotImplementedError("allowzero")
        shape = [x.shape[i] if d == 0 else int(d)
                 for i, d in enumerate(ins[1])]
        return [x.reshape(shape)]
    if t == "Transpose":
        return [np.transpose(x, a.get("perm"))]
    if t == "Slice":
        steps = ins[4] if len(ins) > 4 and ins[4] is not None else \
            np.ones(len(ins[1]), dtype=np.int64)
        axes = ins[3] if len(ins) > 3 and ins[3] is not None else \
            np.arange(len(ins[1]))
        index = [slice(None)] * x.ndim
        for start, end, axis, step in zip(ins[1], ins[2], axes, steps):
            # numpy's slices clamp out-of-range bounds as ONNX's do.
            index[int(axis) % x.ndim] = slice(
                int(start), int(max(min(end, 2**62), -2**62)), int(step))
        return [x[tuple(index)]]
    if t == "Squeeze":
        return [np.squeeze(x, axis=_reduce_axes(x, ins[1]))]
    if t == "Concat":
        return [np.concatenate(ins, axis=a["axis"])]
    if t == "Gather":
        return [np.take(x, ins[1].astype(np.int64), axis=a.get("axis", 0))]
    if t in ("ReduceMean", "ReduceMax"):
        op = np.mean if t == "ReduceMean" else np.max
        axes = _reduce_axes(x, a.get("axes"))
        return [op(x, axis=axes, keepdims=bool(a.get("keepdims", 1)))]
    if t == "ReduceSum":
        given = ins[1] if len(ins) > 1 else None
        if (given is None or len(given) == 0) and a.get(
                "noop_with_empty_axes", 0):
            return [x]
        axes = _reduce_axes(x, given)
        return [np.sum(x, axis=axes, keepdims=bool(a.get("keepdims", 1)))]
    if t == "Conv":
        for key in ("dilations",):
            if key in a and any(d != 1 for d in a[key]):
                raise NotImplementedError(key)
        if a.get("group", 1) != 1 or a.get("auto_pad", "NOTSET") != "NOTSET":
            raise NotImplementedError("Conv group or auto_pad")
        nd = x.ndim - 2
        return [_conv(x, ins[1], ins[2] if len(ins) > 2 else None,
                      a.get("strides", [1] * nd), a.get("pads", [0] * 2 * nd))]
    if t in ("GlobalMaxPool", "GlobalAveragePool"):
        op = np.max if t == "GlobalMaxPool" else np.mean
        return [op(x, axis=tuple(range(2, x.ndim)), keepdims=True)]
    if t in ("MaxPool", "AveragePool"):
        nd = x.ndim - 2
        if any(p != 0 for p in a.get("pads", [])) or a.get("ceil_mode", 0):
            raise NotImplementedError("pooling pads or ceil_mode")
        if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or any(
                d != 1 for d in a.get("dilations", [])):
            raise NotImplementedError("pooling auto_pad or dilations")
        if len(node.output) > 1 or a.get("storage_order", 0):
            raise NotImplementedError("MaxPool's indices")
        reduce = np.max if t == "MaxPool" else np.mean
        return [_pool(x, a["kernel_shape"], a.get("strides", [1] * nd),
                      reduce)]
    # Shape arithmetic, which PyTorch's exporter writes for a state.
    if t == "Shape":
        return [np.array(x.shape, dtype=np.int64)]
    if t == "ConstantOfShape":
        value = a.get("value", np.zeros(1, dtype=np.float32))
        return [np.full(tuple(int(d) for d in x), value.reshape(-1)[0],
                        dtype=value.dtype)]
    if t == "Unsqueeze":
        return [np.expand_dims(x, tuple(int(ax) for ax in ins[1]))]
    if t == "Expand":
        shape = np.broadcast_shapes(x.shape, tuple(int(d) for d in ins[1]))
        return [np.broadcast_to(x, shape)]
    if t in ("LSTM", "GRU", "RNN"):
        return list(_recurrent(t, a, ins))
    raise NotImplementedError(f"op {t}")


def evaluate(model, feeds):
    """The graph's outputs (float64 arrays) for `feeds`, a dict from input
    name to array; nodes run in the order given (ONNX requires them to be
    sorted topologically)."""
    env = {}
    for init in model.graph.initializer:
        value = numpy_helper.to_array(init)
        env[init.name] = (value.astype(np.float64)
                          if value.dtype == np.float32 else value)
    for name, value in feeds.items():
        env[name] = (value.astype(np.float64)
                     if value.dtype == np.float32 else value)
    for node in model.graph.node:
        ins = [env[n] if n else None for n in node.input]
        outs = run_node(node, ins)
        for name, value in zip(node.output, outs):
            if name:
                env[name] = value
    return [env[o.name] for o in model.graph.output]
