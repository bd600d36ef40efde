"""The training controls' parity fixtures (imported by make_fixtures.py).

Weight decay (torch.optim's weight_decay, L2 added to the gradient) for
sgd, momentum, adam and rmsprop; AdamW (torch.optim.AdamW, decoupled);
decay_biases: false as torch param groups (1-D tensors, the biases of the
MLP, get weight_decay 0); gradient clipping by global norm
(torch.nn.utils.clip_grad_norm_, with a threshold below the gradients'
norm so that it clips) and by value (clip_grad_value_), applied before the
step; and the schedules cosine_decay (Keras' CosineDecay), warmup and
piecewise (Keras' PiecewiseConstantDecay) as LambdaLR factors of their
documented formulas.
"""

import math

import torch


def grouped(params, decay, decay_biases):
    """torch param groups: without decay_biases, 1-D tensors get none."""
    if decay_biases:
        return [{"params": params, "weight_decay": decay}]
    return [{"params": [p for p in params if p.dim() > 1],
             "weight_decay": decay},
            {"params": [p for p in params if p.dim() <= 1],
             "weight_decay": 0.0}]


def clipping(cls, clip):
    """`cls` whose step clips every gradient first (`clip(params)`)."""
    class Clipped(cls):
        def step(self, closure=None):
            clip([p for g in self.param_groups for p in g["params"]])
            return super().step(closure)
    return Clipped


def clip_norm(limit):
    """clip_grad_norm_ that must clip: the fixture checks the scaling."""
    def clip(params):
        norm = torch.nn.utils.clip_grad_norm_(params, limit)
        assert norm > limit, f"the norm {float(norm)} is not clipped"
    return clip


def clip_value(limit):
    """clip_grad_value_ that must clip some element."""
    def clip(params):
        assert any(float(p.grad.abs().max()) > limit for p in params)
        torch.nn.utils.clip_grad_value_(params, limit)
    return clip


def sgd(**kw):
    return lambda cls=torch.optim.SGD: lambda p, lr: cls(p, lr=lr, **kw)


def adam(**kw):
    return lambda cls=torch.optim.Adam: lambda p, lr: cls(
        p, lr=lr, betas=(0.9, 0.999), eps=1e-7, **kw)


def rmsprop(**kw):
    return lambda cls=torch.optim.RMSprop: lambda p, lr: cls(
        p, lr=lr, alpha=0.9, eps=1e-7, **kw)


def decayed(make, decay, decay_biases=True):
    """An optimizer factory with torch param groups for the decay."""
    return lambda p, lr: make(grouped(p, decay, decay_biases), lr)


# name, sora call ({lr}: the rate), base lr, torch factory
CONTROLS = [
    ("sgd_decay", "sgd(lr: {lr}, weight_decay: 0.05)", 0.1,
     decayed(sgd()(), 0.05)),
    ("momentum_decay",
     "sgd(lr: {lr}, momentum: 0.9, weight_decay: 0.05, decay_biases: false)",
     0.05, decayed(sgd(momentum=0.9)(), 0.05, False)),
    ("nesterov_decay",
     "sgd(lr: {lr}, momentum: 0.9, nesterov: true, weight_decay: 0.05)",
     0.05, decayed(sgd(momentum=0.9, nesterov=True)(), 0.05)),
    ("adam_decay", "adam(lr: {lr}, weight_decay: 0.1)", 0.01,
     decayed(adam()(), 0.1)),
    ("adam_decay_nobias",
     "adam(lr: {lr}, weight_decay: 0.1, decay_biases: false)", 0.01,
     decayed(adam()(), 0.1, False)),
    ("rmsprop_decay", "rmsprop(lr: {lr}, weight_decay: 0.1)", 0.01,
     decayed(rmsprop()(), 0.1)),
    # AdamW with its default weight_decay (0.01), and a large one without
    # the biases' decay, so that the decoupled term is well above rounding.
    ("adamw", "adamw(lr: {lr})", 0.01,
     decayed(adam()(torch.optim.AdamW), 0.01)),
    ("adamw_nobias",
     "adamw(lr: {lr}, weight_decay: 0.5, decay_biases: false)", 0.01,
     decayed(adam()(torch.optim.AdamW), 0.5, False)),
    # A threshold below the gradients' global norm: every step clips.
    ("sgd_clip_norm", "sgd(lr: {lr}, clip_norm: 0.1)", 0.1,
     sgd()(clipping(torch.optim.SGD, clip_norm(0.1)))),
    ("adam_clip_norm", "adam(lr: {lr}, clip_norm: 0.1, weight_decay: 0.1)",
     0.01,
     decayed(adam()(clipping(torch.optim.Adam, clip_norm(0.1))), 0.1)),
    # Clipping with a decay the biases do not get: the fused update loop
    # runs one loop per weight.
    ("adamw_clip_norm_nobias",
     "adamw(lr: {lr}, weight_decay: 0.5, decay_biases: false, clip_norm: 0.1)",
     0.01,
     decayed(adam()(clipping(torch.optim.AdamW, clip_norm(0.1))), 0.5,
             False)),
    ("momentum_clip_value", "sgd(lr: {lr}, momentum: 0.9, clip_value: 0.05)",
     0.05,
     sgd(momentum=0.9)(clipping(torch.optim.SGD, clip_value(0.05)))),
    ("rmsprop_clip_value", "rmsprop(lr: {lr}, clip_value: 0.02)", 0.01,
     rmsprop()(clipping(torch.optim.RMSprop, clip_value(0.02)))),
]


def cosine(t, steps, alpha):
    """Keras' CosineDecay factor at step t."""
    return (1 - alpha) * 0.5 * (1 + math.cos(math.pi * min(t, steps) / steps)) \
        + alpha


def warmup(t, steps, then):
    """sorac's warmup: (t + 1) / steps of `then`'s first rate, then `then`
    from its own step 0."""
    return then(0) * (t + 1) / steps if t < steps else then(t - steps)


def piecewise(t, boundaries, values):
    """Keras' PiecewiseConstantDecay: values[i] for b[i-1] < t <= b[i]."""
    return values[sum(1 for b in boundaries if t > b)]


# name, sora expression for base lr `lr`, factor at step t (from 0)
SCHEDULES = [
    # reaches its end at step 6: the clamp and alpha are exercised
    ("cosine",
     lambda lr: f"cosine_decay(initial: {lr:.9g}, steps: 6, alpha: 0.1)",
     lambda t: cosine(t, 6, 0.1)),
    ("warmup_cosine",
     lambda lr: f"warmup(steps: 3, then: cosine_decay(initial: {lr:.9g}, "
                f"steps: 5))",
     lambda t: warmup(t, 3, lambda u: cosine(u, 5, 0.0))),
    ("warmup_constant", lambda lr: f"warmup(steps: 4, then: {lr:.9g})",
     lambda t: warmup(t, 4, lambda u: 1.0)),
    ("piecewise",
     lambda lr: f"piecewise(boundaries: [2, 5], values: [{lr:.9g}, "
                f"{lr / 2:.9g}, {lr / 10:.9g}])",
     lambda t: piecewise(t, [2, 5], [1.0, 0.5, 0.1])),
    ("warmup_piecewise",
     lambda lr: f"warmup(steps: 2, then: piecewise(boundaries: [3], "
                f"values: [{lr:.9g}, {lr / 4:.9g}]))",
     lambda t: warmup(t, 2, lambda u: piecewise(u, [3], [1.0, 0.25]))),
]


def write_all(train, mlp_model, constant_schedule):
    """Writes the fixtures through make_fixtures.py's `train`; returns how
    many."""
    count = 0
    cname, cexpr, cfactor = constant_schedule
    for name, call, lr, make in CONTROLS:
        train(f"cce_{name}", mlp_model("categorical_crossentropy", 3,
                                       "softmax"),
              "categorical_crossentropy", name, call, lr, make, cname, cexpr,
              cfactor)
        count += 1
    # Schedules through sgd's lr: (and one through adam's, with decay).
    for sname, sexpr, sfactor in SCHEDULES:
        train(f"mse_sgd_{sname}", mlp_model("mse", 3, "linear"), "mse",
              "sgd", "sgd(lr: {lr})", 0.1, sgd()(), sname, sexpr, sfactor)
        count += 1
    sname, sexpr, sfactor = SCHEDULES[1]
    train("cce_adamw_warmup_cosine",
          mlp_model("categorical_crossentropy", 3, "softmax"),
          "categorical_crossentropy", "adamw_sched",
          "adamw(lr: {lr}, weight_decay: 0.1)", 0.01,
          decayed(adam()(torch.optim.AdamW), 0.1), sname, sexpr, sfactor)
    return count + 1
