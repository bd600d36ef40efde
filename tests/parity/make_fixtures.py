#!/usr/bin/python3
"""Writes the PyTorch parity fixtures of sorac (run by hand; needs python3-torch).

    /usr/bin/python3 tests/parity/make_fixtures.py

For every loss x optimizer x learning-rate schedule on a tiny MLP, and for one
model that uses every op and one with the activations beyond Keras' classic
five, this trains the model for STEPS optimizer steps in
PyTorch and writes tests/parity/fixtures/<name>.json with:
  - "source": the complete .sora program (model + train block),
  - "steps", "batch_size", "batches": the batches, cycled over (step t, counted
    from 1, uses batch (t - 1) % len(batches)); x rows as sora's input rows
    (images flattened height x width x channels), y rows as sora expects them:
    one-hot rows for categorical_crossentropy, one float class index per row
    for sparse_categorical_crossentropy, floats for binary_crossentropy and mse,
  - "initial": every parameter by its sora name, in sora's layout (dense
    weights [units, inputs] like torch.nn.Linear; conv2d kernels
    [filters, kh, kw, channels]), with its shape,
  - "expected": PyTorch's parameters after "steps" steps, same names/layouts.
tests/unit/compiler/ParityTest.cpp trains the compiled model from "initial"
on the same batches and compares per tensor:
  max|sorac - torch| <= 1e-4 * max|torch| + 1e-6.

The PyTorch side follows sorac's documented semantics (docs/language.md),
not PyTorch's defaults where they differ:
  - Adam's epsilon is 1e-7 (torch: 1e-8); RMSprop's rho (torch's alpha) is
    0.9 (torch: 0.99) and its epsilon 1e-7 (torch: 1e-8);
  - leaky_relu's slope is the one in the source (torch's default is 0.01);
  - initial kernels are Glorot-uniform with Keras' fans (conv: k*k*C in,
    k*k*F out), biases zero, as sorac initialises them;
  - images are NHWC; conv2d 'same' pads like TensorFlow (total
    max((out-1)*stride + k - in, 0), the odd pixel after);
  - a schedule gives the rate at optimizer step t counted from 0: a LambdaLR
    stepped after every optimizer step;
  - categorical cross-entropies are batch means of -log softmax; binary
    cross-entropy and mse are means over every element.
PyTorch computes in float64 from the float32 values stored here, so the
fixtures hold the exact maths and sorac's float32 rounding is what the
tolerance allows for.

Dropout is left out: its masks come from sorac's own counter-based generator
and cannot match PyTorch's RNG (tests/unit/compiler/ImageOpsTest.cpp checks it
on its own).
"""

import json
import math
import os
import zlib

import numpy as np
import torch
import torch.nn.functional as F

import control_fixtures
from torch_layouts import (conv2d, conv_params, dense, dense_params, glorot,
                           labels, loss_of, pool)

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")
STEPS = 10
BATCH = 8
NUM_BATCHES = 3
DTYPE = torch.float64

# --- The combinations ------------------------------------------------------

# name, sora loss, output width, output activation
LOSSES = [
    ("cce", "categorical_crossentropy", 3, "softmax"),
    ("sparse", "sparse_categorical_crossentropy", 3, "softmax"),
    ("bce1", "binary_crossentropy", 1, "sigmoid"),
    ("bce3", "binary_crossentropy", 3, "sigmoid"),
    ("mse", "mse", 3, "linear"),
]

# name, sora call (with {lr} for the rate or schedule), base lr, torch factory
# The sora calls give only what differs from sora's defaults, so that those
# defaults (Adam's and RMSprop's epsilon 1e-7, RMSprop's rho 0.9) are checked
# too; the torch side spells every value out.
OPTIMIZERS = [
    ("sgd", "sgd(lr: {lr})", 0.1,
     lambda p, lr: torch.optim.SGD(p, lr=lr)),
    ("momentum", "sgd(lr: {lr}, momentum: 0.9)", 0.05,
     lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9)),
    ("nesterov", "sgd(lr: {lr}, momentum: 0.9, nesterov: true)", 0.05,
     lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True)),
    ("adam", "adam(lr: {lr})", 0.01,
     lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.9, 0.999), eps=1e-7)),
    ("rmsprop", "rmsprop(lr: {lr})", 0.01,
     lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-7)),
]

# name, sora expression for base lr `lr`, rate at step t (from 0) / lr
SCHEDULES = [
    ("constant", lambda lr: fmt(lr), lambda t: 1.0),
    ("exponential",
     lambda lr: f"exponential_decay(initial: {fmt(lr)}, rate: 0.5, steps: 4)",
     lambda t: 0.5 ** (t / 4)),
    ("step",
     lambda lr: f"step_decay(initial: {fmt(lr)}, factor: 0.5, every: 3)",
     lambda t: 0.5 ** math.floor(t / 3)),
    # reaches its final rate at step 6, so the clamp is exercised
    ("linear",
     lambda lr: f"linear_decay(initial: {fmt(lr)}, final: {fmt(lr / 10)}, steps: 6)",
     lambda t: lr_lin(t)),
]


# The losses with arguments, and mae and huber, each with sgd at a constant
# rate (Adam would hide a wrong gradient scale, such as a mean over the sum
# of the class weights): name, sora loss, the loss whose labels it takes,
# output width, output activation, torch's loss of (logits z, labels y).
# Class weights are Keras' (each sample's loss times its class's weight, the
# mean over the batch size): torch's weight= with reduction="sum" over N.
# With both, each class term is weighted by the sample's class (Keras) and
# not by its own class (torch's weight= with label_smoothing=): by hand.
def smoothed_cce(z, y, ls, w=None):
    t = y * (1 - ls) + ls / y.shape[1]
    per = -(t * F.log_softmax(z, dim=1)).sum(dim=1)
    if w is not None:
        per = per * torch.tensor(w, dtype=DTYPE)[y.argmax(dim=1)]
    return per.sum() / z.shape[0]


def class_index(y):
    return y[:, 0].long()


CE_WEIGHTS = [0.5, 2.0, 1.5]
LOSS_VARIANTS = [
    ("mae", "mae", "mse", 3, "linear", lambda z, y: F.l1_loss(z, y)),
    ("huber", "huber", "mse", 3, "linear",
     lambda z, y: F.huber_loss(z, y, delta=1.0)),
    ("huber_delta", "huber(delta: 0.3)", "mse", 3, "linear",
     lambda z, y: F.huber_loss(z, y, delta=0.3)),
    ("cce_smoothing", "categorical_crossentropy(label_smoothing: 0.2)",
     "categorical_crossentropy", 3, "softmax",
     lambda z, y: F.cross_entropy(z, y.argmax(dim=1), label_smoothing=0.2)),
    ("cce_weights", "categorical_crossentropy(class_weights: [0.5, 2, 1.5])",
     "categorical_crossentropy", 3, "softmax",
     lambda z, y: F.cross_entropy(z, y.argmax(dim=1),
                                  weight=torch.tensor(CE_WEIGHTS, dtype=DTYPE),
                                  reduction="sum") / z.shape[0]),
    ("cce_smoothing_weights",
     "categorical_crossentropy(label_smoothing: 0.1, class_weights: "
     "[0.5, 2, 1.5])",
     "categorical_crossentropy", 3, "softmax",
     lambda z, y: smoothed_cce(z, y, 0.1, CE_WEIGHTS)),
    ("sparse_smoothing", "sparse_categorical_crossentropy(label_smoothing: "
     "0.2)", "sparse_categorical_crossentropy", 3, "softmax",
     lambda z, y: F.cross_entropy(z, class_index(y), label_smoothing=0.2)),
    ("sparse_weights", "sparse_categorical_crossentropy(class_weights: "
     "[0.5, 2, 1.5])", "sparse_categorical_crossentropy", 3, "softmax",
     lambda z, y: F.cross_entropy(z, class_index(y),
                                  weight=torch.tensor(CE_WEIGHTS, dtype=DTYPE),
                                  reduction="sum") / z.shape[0]),
    ("sparse_smoothing_weights",
     "sparse_categorical_crossentropy(label_smoothing: 0.1, class_weights: "
     "[0.5, 2, 1.5])", "sparse_categorical_crossentropy", 3, "softmax",
     lambda z, y: smoothed_cce(z, F.one_hot(class_index(y), 3).to(DTYPE), 0.1,
                               CE_WEIGHTS)),
    ("bce_smoothing", "binary_crossentropy(label_smoothing: 0.2)",
     "binary_crossentropy", 3, "sigmoid",
     lambda z, y: F.binary_cross_entropy_with_logits(z, y * 0.8 + 0.1)),
    ("bce_weights", "binary_crossentropy(class_weights: [0.5, 3])",
     "binary_crossentropy", 1, "sigmoid",
     lambda z, y: F.binary_cross_entropy_with_logits(
         z, y, weight=torch.tensor([0.5, 3.0], dtype=DTYPE)[y.long()])),
    ("bce_smoothing_weights",
     "binary_crossentropy(label_smoothing: 0.1, class_weights: [0.5, 3])",
     "binary_crossentropy", 1, "sigmoid",
     lambda z, y: F.binary_cross_entropy_with_logits(
         z, y * 0.9 + 0.05,
         weight=torch.tensor([0.5, 3.0], dtype=DTYPE)[y.long()])),
]


def lr_lin(t):
    # (initial + (final - initial) * min(t / steps, 1)) / initial, final = initial / 10
    return 1.0 + (0.1 - 1.0) * min(t / 6, 1.0)


def fmt(v):
    return f"{v:.9g}"


# --- The models ------------------------------------------------------------

def mlp_model(loss, width, activation):
    source = f"""model mlp {{
    input x : f32[4]
    hidden = dense(x, 5, activation: tanh)
    output head = dense(hidden, {width}, activation: {activation})
}}
"""

    def init(rng):
        p = dense_params(rng, "hidden", 4, 5)
        p.update(dense_params(rng, "head", 5, width))
        return p

    def forward(p, x):  # the output's pre-activation
        return dense(torch.tanh(dense(x, p, "hidden")), p, "head")

    return source, init, forward, (4,), width


def frozen_model():
    """The middle layer frozen (trainable: false), as PyTorch's
    requires_grad=False: no update for it, and the gradient still flows
    through it to the first layer."""
    source = """model frozen {
    input x : f32[4]
    a = dense(x, 5, activation: tanh)
    b = dense(a, 6, activation: relu, trainable: false)
    output head = dense(b, 3, activation: softmax)
}
"""

    def init(rng):
        p = dense_params(rng, "a", 4, 5)
        p.update(dense_params(rng, "b", 5, 6))
        p.update(dense_params(rng, "head", 6, 3))
        return p

    def forward(p, x):
        a = torch.tanh(dense(x, p, "a"))
        return dense(torch.relu(dense(a, p, "b")), p, "head")

    return source, init, forward, (4,), 3, {"statistics": ["b.weight",
                                                           "b.bias"]}


EVERY_OP_SOURCE = """model every_op {
    input x : f32[6, 6, 2]
    a = x -> conv2d(4, kernel: 3, padding: same, activation: relu)   # 6x6x4
    b = a -> maxpool2d(2)                                             # 3x3x4
    c = x -> conv2d(4, kernel: 2, stride: 2, activation: tanh)       # valid, 3x3x4
    d = a -> avgpool2d(2)
    s = d -> sigmoid
    e = b * c + d - c / (s + 1)
    r = 2 / (s + 1)
    f = (e * 2 + 1) * r / 2
    g = (1 - f) -> leaky_relu(alpha: 0.2)                           # both signs
    h = g -> conv2d(3, kernel: 2, padding: same)                     # even kernel: pad after
    z = h -> flatten -> dense(6, activation: tanh) -> reshape([2, 3]) -> relu
    output p = z -> flatten -> dense(3, activation: softmax)
}
"""


def every_op_model():
    def init(rng):
        p = conv_params(rng, "a", 2, 4, 3)
        p.update(conv_params(rng, "c", 2, 4, 2))
        p.update(conv_params(rng, "h", 4, 3, 2))
        p.update(dense_params(rng, "z_1", 27, 6))
        p.update(dense_params(rng, "p", 6, 3))
        return p

    def forward(p, x):
        a = torch.relu(conv2d(x, p, "a", same=True))
        b = pool(a, 2, "max")
        c = torch.tanh(conv2d(x, p, "c", stride=2))
        d = pool(a, 2, "avg")
        s = torch.sigmoid(d)
        e = b * c + d - c / (s + 1)
        r = 2 / (s + 1)
        f = (e * 2 + 1) * r / 2
        g = F.leaky_relu(1 - f, negative_slope=0.2)
        h = conv2d(g, p, "h", same=True)
        z = torch.tanh(dense(h.reshape(h.shape[0], -1), p, "z_1"))
        z = torch.relu(z.reshape(-1, 2, 3))
        return dense(z.reshape(z.shape[0], -1), p, "p")

    return EVERY_OP_SOURCE, init, forward, (6, 6, 2), 3


# PyTorch's activations beyond Keras' classic five: F.gelu (the exact erf
# form), F.elu, F.selu, F.softplus and F.silu (sorac's swish).
ACTIVATIONS_SOURCE = """model activations {
    input x : f32[6]
    a = dense(x, 5, activation: gelu)
    b = dense(x, 5, activation: elu(alpha: 0.5))
    c = dense(x, 5, activation: selu)
    d = dense(x, 5, activation: softplus)
    e = dense(x, 5, activation: swish)
    f = (a * b + c - d * e) * 3                                      # both tails
    output p = f -> elu -> dense(3, activation: softmax)
}
"""


def activations_model():
    def init(rng):
        p = {}
        for name in "abcde":
            p.update(dense_params(rng, name, 6, 5))
        p.update(dense_params(rng, "p", 5, 3))
        return p

    def forward(p, x):
        a = F.gelu(dense(x, p, "a"))
        b = F.elu(dense(x, p, "b"), alpha=0.5)
        c = F.selu(dense(x, p, "c"))
        d = F.softplus(dense(x, p, "d"))
        e = F.silu(dense(x, p, "e"))
        f = (a * b + c - d * e) * 3
        return dense(F.elu(f), p, "p")

    return ACTIVATIONS_SOURCE, init, forward, (6,), 3


# Ids and several inputs: x rows are sorac's packed sample rows (the word's
# three ids, then the four numbers), ids written as numbers; an embedding
# (PyTorch's F.embedding, dense gradient), concat and a row-wise dot.
IDS_SOURCE = """model ids_and_inputs {
    input word : i32[3]
    input x : f32[4]
    f = word -> embedding(7, 2) -> flatten
    h = concat(f, x) -> dense(5, activation: tanh)
    k = dense(x, 5, activation: sigmoid)
    output p = concat(h, dot(h, k)) -> dense(3, activation: softmax)
}
"""


def ids_model():
    def init(rng):
        p = {"f_1.weight": rng.normal(size=(7, 2)).astype(np.float32)}
        p.update(dense_params(rng, "h", 10, 5))
        p.update(dense_params(rng, "k", 4, 5))
        p.update(dense_params(rng, "p", 6, 3))
        return p

    def rows(rng):
        ids = rng.randint(0, 7, size=(BATCH, 3)).astype(np.float32)
        return np.concatenate([ids, rng.normal(size=(BATCH, 4))], 1) \
                 .astype(np.float32)

    def forward(p, x):
        word, feats = x[:, :3].long(), x[:, 3:]
        f = F.embedding(word, p["f_1.weight"]).reshape(x.shape[0], -1)
        h = torch.tanh(dense(torch.cat([f, feats], 1), p, "h"))
        k = torch.sigmoid(dense(feats, p, "k"))
        d = (h * k).sum(1, keepdim=True)
        return dense(torch.cat([h, d], 1), p, "p")

    return IDS_SOURCE, init, forward, rows, 3


# Recurrent layers: PyTorch's own LSTM, GRU and RNN kernels (torch._VF.lstm,
# .gru and .rnn_tanh, what nn.LSTM, nn.GRU and nn.RNN call), given the
# fixture's tensors as their weights; `reverse: true` is the layer over the
# time-reversed input, its outputs reversed back (as the backward half of a
# bidirectional PyTorch layer).
RECURRENT_SOURCE = """model recurrent {
    input word : i32[4]
    e = word -> embedding(6, 3)
    a = e -> lstm(4)
    b = e -> gru(3, sequences: true, reverse: true) -> flatten
    c = e -> simple_rnn(2, sequences: true) -> lstm(2, reverse: true)
    output p = concat(concat(a, b), c) -> dense(3, activation: softmax)
}
"""


def recurrent_model():
    layers = {"a": ("lstm", 3, 4), "b_1": ("gru", 3, 3),
              "c_1": ("rnn_tanh", 3, 2), "c": ("lstm", 2, 2)}
    gates = {"lstm": 4, "gru": 3, "rnn_tanh": 1}

    def init(rng):
        p = {"e.weight": rng.normal(size=(6, 3)).astype(np.float32)}
        for name, (kind, inputs, units) in layers.items():
            g, k = gates[kind] * units, 1 / math.sqrt(units)
            for suffix, shape in (("weight_ih", (g, inputs)),
                                  ("weight_hh", (g, units)),
                                  ("bias_ih", (g,)), ("bias_hh", (g,))):
                p[f"{name}.{suffix}"] = rng.uniform(-k, k, shape) \
                    .astype(np.float32)
        p.update(dense_params(rng, "p", 4 + 12 + 2, 3))
        return p

    def run(p, name, x, reverse):
        kind, inputs, units = layers[name]
        weights = [p[f"{name}.{s}"]
                   for s in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if reverse:
            x = torch.flip(x, [1])
        h0 = torch.zeros(1, x.shape[0], units, dtype=DTYPE)
        hx = (h0, h0) if kind == "lstm" else h0
        # (input, hx, weights, has_biases, layers, dropout, train,
        #  bidirectional, batch_first)
        out, *state = getattr(torch._VF, kind)(x, hx, weights, True, 1, 0.0,
                                               True, False, True)
        last = state[0][0]
        return (torch.flip(out, [1]) if reverse else out), last

    def rows(rng):
        return rng.randint(0, 6, size=(BATCH, 4)).astype(np.float32)

    def forward(p, x):
        e = F.embedding(x.long(), p["e.weight"])
        _, a = run(p, "a", e, False)
        b, _ = run(p, "b_1", e, True)
        c1, _ = run(p, "c_1", e, False)
        _, c = run(p, "c", c1, True)
        z = torch.cat([a, b.reshape(x.shape[0], -1), c], 1)
        return dense(z, p, "p")

    return RECURRENT_SOURCE, init, forward, rows, 3


# layer_norm over features and over lines, batch_norm over features and
# over images, in train mode (batch statistics, running statistics moved
# towards them: Keras' momentum convention with the biased batch variance,
# computed here by hand since PyTorch's running_var takes the unbiased one);
# after training, predict normalises with the running statistics (PyTorch's
# eval mode), which the fixture's "predict" checks.
NORMS_SOURCE = """model norms {
    input x : f32[12]
    a = x -> dense(6) -> layer_norm() -> tanh
    b = x -> reshape([2, 2, 3]) -> layer_norm(epsilon: 0.01) -> flatten
    c = x -> dense(5, use_bias: false) -> batch_norm() -> tanh
    d = x -> reshape([2, 2, 3]) -> batch_norm(momentum: 0.9, epsilon: 0.01)
    output p = concat(concat(a, b), concat(c, flatten(d))) -> dense(3, activation: softmax)
}
"""
NORMS = {"a_2": 6, "b_1": 3, "c_2": 5, "d": 3}
NORM_STATS = {"c_2": (0.99, 1e-3), "d": (0.9, 1e-2)}


def norms_model():
    def init(rng):
        # No bias before a batch norm: its gradient is zero, and Adam would
        # turn float32's rounding noise in it into steps of the full rate.
        p = {**dense_params(rng, "a_1", 12, 6),
             "c_1.weight": dense_params(rng, "c_1", 12, 5)["c_1.weight"]}
        for name, c in NORMS.items():
            # Moved off PyTorch's ones and zeros so every path carries signal.
            p[f"{name}.weight"] = (1 + rng.uniform(-0.3, 0.3, c)) \
                .astype(np.float32)
            p[f"{name}.bias"] = rng.uniform(-0.3, 0.3, c).astype(np.float32)
        for name in NORM_STATS:
            c = NORMS[name]
            p[f"{name}.running_mean"] = np.zeros(c, np.float32)
            p[f"{name}.running_var"] = np.ones(c, np.float32)
        p.update(dense_params(rng, "p", 6 + 12 + 5 + 12, 3))
        return p

    def batch_norm(p, name, x, training):
        momentum, eps = NORM_STATS[name]
        # [n, C] or NHWC -> N C ... as PyTorch's batch norm wants
        xc = x if x.dim() == 2 else x.permute(0, 3, 1, 2)
        mean, var = p[f"{name}.running_mean"], p[f"{name}.running_var"]
        y = F.batch_norm(xc, None if training else mean,
                         None if training else var, p[f"{name}.weight"],
                         p[f"{name}.bias"], training, 0.0, eps)
        if training:
            with torch.no_grad():
                dims = [0] if x.dim() == 2 else [0, 1, 2]
                mean.mul_(momentum).add_((1 - momentum) * x.mean(dims))
                var.mul_(momentum).add_(
                    (1 - momentum) * x.var(dims, unbiased=False))
        return y if x.dim() == 2 else y.permute(0, 2, 3, 1)

    def layer_norm(p, name, x, eps):
        return F.layer_norm(x, (x.shape[-1],), p[f"{name}.weight"],
                            p[f"{name}.bias"], eps)

    def forward(p, x, training=True):
        n = x.shape[0]
        a = torch.tanh(layer_norm(p, "a_2", dense(x, p, "a_1"), 1e-5))
        b = layer_norm(p, "b_1", x.reshape(n, 2, 2, 3), 1e-2).reshape(n, -1)
        c = torch.tanh(batch_norm(p, "c_2", F.linear(x, p["c_1.weight"]),
                                  training))
        d = batch_norm(p, "d", x.reshape(n, 2, 2, 3), training)
        return dense(torch.cat([a, b, c, d.reshape(n, -1)], 1), p, "p")

    def predict(p, x):
        return torch.softmax(forward(p, x, training=False), 1)

    return NORMS_SOURCE, init, forward, (12,), 3, \
        {"statistics": [f"{n}.running_{s}" for n in NORM_STATS
                        for s in ("mean", "var")],
         "predict": predict}
# 1-D convolution and pooling over [time, channels] (PyTorch's F.conv1d,
# F.max_pool1d and F.avg_pool1d on NCL, 'same' padded explicitly as
# TensorFlow does) and global pooling over sequences and images.
CONV1D_SOURCE = """model conv1d {
    input x : f32[10, 3]
    a = x -> conv1d(4, kernel: 3, padding: same, activation: relu)  # 10x4
    b = a -> maxpool1d(2)                                           # 5x4
    c = x -> conv1d(4, kernel: 2, stride: 2, activation: tanh)      # 5x4
    d = a -> avgpool1d(3, stride: 2)                                # 4x4
    e = (b + c) -> conv1d(3, kernel: 4, stride: 2, padding: same)   # 3x3
    f = d -> conv1d(2, kernel: 2) -> reshape([3, 1, 2])             # image
    g = concat(global_avgpool(e), global_maxpool(a))                # 3 + 4
    h = concat(global_maxpool(f), maxpool1d(d, 2, stride: 1) -> flatten)
    output p = concat(g, h) -> dense(3, activation: softmax)
}
"""


def conv1d_model():
    def init(rng):
        p = {}
        for name, c, f, k in (("a", 3, 4, 3), ("c", 3, 4, 2), ("e", 4, 3, 4),
                              ("f_1", 4, 2, 2)):
            p[f"{name}.weight"] = glorot(rng, (f, k, c), k * c, k * f)
            p[f"{name}.bias"] = np.zeros(f, np.float32)
        p.update(dense_params(rng, "p", 7 + 2 + 12, 3))
        return p

    def conv(x, p, name, stride=1, same=False):
        """x [N, T, C]; the kernel is sora's [F, k, C]."""
        w = p[f"{name}.weight"]
        k, xc = w.shape[1], x.permute(0, 2, 1)
        if same:
            out = -(-x.shape[1] // stride)
            total = max((out - 1) * stride + k - x.shape[1], 0)
            xc = F.pad(xc, (total // 2, total - total // 2))
        y = F.conv1d(xc, w.permute(0, 2, 1), p[f"{name}.bias"],
                     stride=stride)
        return y.permute(0, 2, 1)

    def pool1d(x, size, stride, kind):
        f = F.max_pool1d if kind == "max" else F.avg_pool1d
        return f(x.permute(0, 2, 1), size, stride).permute(0, 2, 1)

    def forward(p, x):
        a = torch.relu(conv(x, p, "a", same=True))
        b = pool1d(a, 2, 2, "max")
        c = torch.tanh(conv(x, p, "c", stride=2))
        d = pool1d(a, 3, 2, "avg")
        e = conv(b + c, p, "e", stride=2, same=True)
        f = conv(d, p, "f_1").reshape(-1, 3, 1, 2)
        # Global max pooling as max_pool over everything: the gradient goes
        # to the first maximum, as sorac's does (amax would split ties).
        g = torch.cat([e.mean(1), pool1d(a, 10, 1, "max")[:, 0]], 1)
        fmax = F.max_pool2d(f.permute(0, 3, 1, 2), (3, 1))[:, :, 0, 0]
        h = torch.cat([fmax, pool1d(d, 2, 1, "max").reshape(x.shape[0], -1)],
                      1)
        return dense(torch.cat([g, h], 1), p, "p")

    return CONV1D_SOURCE, init, forward, (10, 3), 3


# --- Training and writing --------------------------------------------------

def train(name, model, loss, opt_name, opt_call, base_lr, make_opt,
          sched_name, sched_expr, sched_factor, labels_of=None,
          torch_loss=None):
    """labels_of: the loss whose labels `loss` takes (when it is a call);
    torch_loss: torch's loss of (logits, labels), else loss_of's."""
    labels_of = labels_of or loss
    torch_loss = torch_loss or (lambda z, y: loss_of(loss, z, y))
    source, init, forward, in_shape, width, *hooks = model
    hooks = hooks[0] if hooks else {}
    stats = hooks.get("statistics", [])
    rng = np.random.RandomState(zlib.crc32(name.encode()))
    initial = init(rng)
    batches = []
    for _ in range(NUM_BATCHES):
        x = in_shape(rng) if callable(in_shape) else \
            rng.normal(size=(BATCH,) + in_shape).astype(np.float32)
        batches.append((x, labels(rng, labels_of, width, BATCH)))

    # The schedule through the optimizer's lr: for sgd, the lr key otherwise,
    # so both ways of giving it are covered.
    rate = sched_expr(base_lr)
    if opt_name in ("adam", "rmsprop") and sched_name != "constant":
        train_block = f"    optimizer  = {opt_call.split('(')[0]}()\n" \
                      f"    lr         = {rate}\n"
    else:
        train_block = f"    optimizer  = {opt_call.format(lr=rate)}\n"
    source += f"""
train {source.split()[1]} {{
    loss       = {loss}
{train_block}    batch_size = {BATCH}
    epochs     = 1
    seed       = 1
}}
"""

    params = {k: torch.tensor(v, dtype=DTYPE, requires_grad=k not in stats)
              for k, v in initial.items()}
    opt = make_opt([v for k, v in params.items() if k not in stats], base_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, sched_factor)
    for t in range(STEPS):
        x, y = batches[t % NUM_BATCHES]
        opt.zero_grad()
        l = torch_loss(forward(params, torch.tensor(x, dtype=DTYPE)),
                       torch.tensor(y, dtype=DTYPE))
        l.backward()
        opt.step()
        sched.step()
    expected = {k: v.detach().numpy() for k, v in params.items()}
    moved = max(float(np.abs(expected[k] - initial[k]).max()) for k in initial)
    assert moved > 1e-3, f"{name}: the weights barely move ({moved})"

    predict = None
    if "predict" in hooks:  # after training, on the first batch's inputs
        x = batches[0][0]
        with torch.no_grad():
            out = hooks["predict"](params, torch.tensor(x, dtype=DTYPE))
        predict = (x, out.numpy())
    write(name, source, batches, initial, expected, predict)


def numbers(a):
    return "[" + ", ".join(fmt(float(v)) for v in np.asarray(a).ravel()) + "]"


def tensors(d):
    lines = []
    for k in sorted(d):
        shape = ", ".join(str(s) for s in d[k].shape)
        lines.append(f'  {json.dumps(k)}: {{"shape": [{shape}], '
                     f'"data": {numbers(d[k])}}}')
    return "{\n" + ",\n".join(lines) + "\n }"


def write(name, source, batches, initial, expected, predict=None):
    rows = []
    for x, y in batches:
        xs = ", ".join(numbers(r) for r in x.reshape(x.shape[0], -1))
        ys = ", ".join(numbers(r) for r in y)
        rows.append(f'  {{"x": [{xs}],\n   "y": [{ys}]}}')
    text = "{\n" \
        f' "name": {json.dumps(name)},\n' \
        f' "source": {json.dumps(source)},\n' \
        f' "steps": {STEPS},\n' \
        f' "batch_size": {BATCH},\n' \
        f' "batches": [\n' + ",\n".join(rows) + "\n ],\n" \
        f' "initial": {tensors(initial)},\n' \
        f' "expected": {tensors(expected)}' + \
        ("" if predict is None else
         ',\n "predict": {"x": [' +
         ", ".join(numbers(r) for r in predict[0]) + '],\n  "output": [' +
         ", ".join(numbers(r) for r in predict[1]) + "]}") + \
        "\n}\n"
    json.loads(text)  # well-formed
    with open(os.path.join(OUT_DIR, name + ".json"), "w") as f:
        f.write(text)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for old in os.listdir(OUT_DIR):
        if old.endswith(".json"):
            os.remove(os.path.join(OUT_DIR, old))
    count = 0
    for lname, loss, width, act in LOSSES:
        for oname, call, base_lr, make in OPTIMIZERS:
            for sname, sexpr, sfactor in SCHEDULES:
                train(f"{lname}_{oname}_{sname}", mlp_model(loss, width, act),
                      loss, oname, call, base_lr, make, sname, sexpr, sfactor)
                count += 1
    _, adam_call, adam_lr, adam = OPTIMIZERS[3]
    cname, cexpr, cfactor = SCHEDULES[0]
    train("every_op_adam_cce", every_op_model(), "categorical_crossentropy",
          "adam", adam_call, adam_lr, adam, cname, cexpr, cfactor)
    train("activations_adam_cce", activations_model(),
          "categorical_crossentropy", "adam", adam_call, adam_lr, adam, cname,
          cexpr, cfactor)
    train("ids_adam_cce", ids_model(), "categorical_crossentropy", "adam",
          adam_call, adam_lr, adam, cname, cexpr, cfactor)
    train("recurrent_adam_cce", recurrent_model(), "categorical_crossentropy",
          "adam", adam_call, adam_lr, adam, cname, cexpr, cfactor)
    count += 4
    train("norms_adam_cce", norms_model(), "categorical_crossentropy", "adam",
          adam_call, adam_lr, adam, cname, cexpr, cfactor)
    train("conv1d_adam_cce", conv1d_model(), "categorical_crossentropy",
          "adam", adam_call, adam_lr, adam, cname, cexpr, cfactor)
    train("frozen_adam_cce", frozen_model(), "categorical_crossentropy",
          "adam", adam_call, adam_lr, adam, cname, cexpr, cfactor)
    count += 3
    sgd_name, sgd_call, sgd_lr, sgd = OPTIMIZERS[0]
    for lname, loss, labels_of, width, act, torch_loss in LOSS_VARIANTS:
        train(f"{lname}_sgd_constant", mlp_model(labels_of, width, act), loss,
              sgd_name, sgd_call, sgd_lr, sgd, cname, cexpr, cfactor,
              labels_of, torch_loss)
        count += 1
    count += control_fixtures.write_all(train, mlp_model, SCHEDULES[0])
    size = sum(os.path.getsize(os.path.join(OUT_DIR, f))
               for f in os.listdir(OUT_DIR))
    print(f"wrote {count} fixtures ({size / 1e6:.2f} MB) to {OUT_DIR}")


if __name__ == "__main__":
    main()
