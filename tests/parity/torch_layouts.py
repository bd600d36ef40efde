"""Parameters, data and torch ops in sora's layouts, for the parity fixtures
(imported by make_fixtures.py): a dense weight is [units, inputs] as
torch.nn.Linear's, a conv2d kernel [filters, kh, kw, channels] and images
[N, H, W, C], which the ops here permute for torch."""
import math

import numpy as np
import torch.nn.functional as F


# --- Parameters and data ---------------------------------------------------

def glorot(rng, shape, fan_in, fan_out):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def dense_params(rng, name, inputs, units):
    return {f"{name}.weight": glorot(rng, (units, inputs), inputs, units),
            f"{name}.bias": np.zeros(units, np.float32)}


def conv_params(rng, name, channels, filters, k):
    return {f"{name}.weight": glorot(rng, (filters, k, k, channels),
                                     k * k * channels, k * k * filters),
            f"{name}.bias": np.zeros(filters, np.float32)}


def labels(rng, loss, width, n):
    """y rows as sora expects them for `loss` (float32)."""
    if loss == "categorical_crossentropy":
        y = np.zeros((n, width), np.float32)
        y[np.arange(n), rng.randint(0, width, size=n)] = 1
        return y
    if loss == "sparse_categorical_crossentropy":
        return rng.randint(0, width, size=(n, 1)).astype(np.float32)
    if loss == "binary_crossentropy":
        return rng.randint(0, 2, size=(n, width)).astype(np.float32)
    return rng.normal(size=(n, width)).astype(np.float32)


# --- Torch ops in sora's layouts -------------------------------------------

def dense(x, p, name):
    return F.linear(x, p[f"{name}.weight"], p[f"{name}.bias"])


def conv2d(x, p, name, stride=1, same=False):
    """x [N, H, W, C]; the kernel is sora's [F, kh, kw, C]."""
    w = p[f"{name}.weight"]
    _, h, wd, _ = x.shape
    k = w.shape[1]
    xc = x.permute(0, 3, 1, 2)
    if same:
        def pads(size):
            out = -(-size // stride)
            total = max((out - 1) * stride + k - size, 0)
            return total // 2, total - total // 2
        top, bottom = pads(h)
        left, right = pads(wd)
        xc = F.pad(xc, (left, right, top, bottom))
    y = F.conv2d(xc, w.permute(0, 3, 1, 2), p[f"{name}.bias"], stride=stride)
    return y.permute(0, 2, 3, 1)


def pool(x, size, kind):
    f = F.max_pool2d if kind == "max" else F.avg_pool2d
    return f(x.permute(0, 3, 1, 2), size, size).permute(0, 2, 3, 1)


def loss_of(loss, z, y):
    """The batch loss from the output's pre-activation `z` (logits)."""
    if loss == "categorical_crossentropy":
        return -(y * F.log_softmax(z, dim=1)).sum(dim=1).mean()
    if loss == "sparse_categorical_crossentropy":
        return F.cross_entropy(z, y[:, 0].long())
    if loss == "binary_crossentropy":
        return F.binary_cross_entropy_with_logits(z, y)
    return F.mse_loss(z, y)
