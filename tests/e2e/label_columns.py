#!/usr/bin/env python3
"""Trains, through `sorac run`, models whose output is wider than one from
CSV files with several label columns (`label_columns:`): an mse regression
of three values and a binary_crossentropy multi-label output of two, and an
autoencoder of the CSV features (`target = x`). The data is generated
here, seeded. Each must learn far better than predicting the mean.
  label_columns.py SORAC OUT_DIR"""
import json
import os
import random
import subprocess
import sys

sorac, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = random.Random(7)
rows = []
for _ in range(2000):
    x = [rng.uniform(-1, 1) for _ in range(4)]
    # The labels sit between and after the features: columns 1, 3, 5
    # (regression) and 6, 7 (two independent 0/1 labels).
    reg = [x[0] + x[1], x[2] - x[3], 0.5 * x[0] * x[2]]
    cls = [float(x[0] > 0.2), float(x[1] + x[3] > 0)]
    rows.append([x[0], reg[0], x[1], reg[1], x[2], reg[2], cls[0], cls[1], x[3]])
with open(os.path.join(out, "data.csv"), "w") as f:
    f.write("x0,r0,x1,r1,x2,r2,c0,c1,x3\n")
    for r in rows:
        f.write(",".join(f"{v:.6f}" for v in r) + "\n")

MODELS = {
    "regression": """
model regression {
    input  x : f32[6]
    output y = x -> dense(32, activation: tanh) -> dense(3)
}
train regression {
    data = csv(path: "data.csv", label_columns: [1, 3, 5])
    loss = mse
    optimizer = adam(lr: 0.01)
    epochs = 30
    validation_split = 0.2
    metrics = [mae]
    seed = 3
}""",
    "multilabel": """
model multilabel {
    input  x : f32[7]
    output y = x -> dense(16, activation: relu) -> dense(2, activation: sigmoid)
}
train multilabel {
    data = csv(path: "data.csv", label_columns: [6, 7])
    loss = binary_crossentropy
    optimizer = adam(lr: 0.01)
    epochs = 20
    validation_split = 0.2
    metrics = [accuracy]
    seed = 3
}""",
    "autoencoder": """
model autoencoder {
    input  x : f32[9]
    output y = x -> dense(6, activation: tanh) -> dense(9)
}
train autoencoder {
    data = csv(path: "data.csv")
    test = csv(path: "data.csv")
    target = x
    loss = mse
    optimizer = adam(lr: 0.01)
    epochs = 30
    metrics = [loss, rmse]
    seed = 3
}""",
}


def run(name):
    path = os.path.join(out, name + ".sora")
    with open(path, "w") as f:
        f.write(MODELS[name])
    p = subprocess.run([sorac, "run", path, "--quiet", "--report", "json"],
                       capture_output=True, text=True)
    sys.stdout.write(p.stdout + p.stderr)
    if p.returncode != 0:
        sys.exit(f"FAIL: {name}: sorac run exited {p.returncode}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def variance(columns, part):
    total = 0
    for c in columns:
        values = [r[c] for r in part]
        mean = sum(values) / len(values)
        total += sum((v - mean) ** 2 for v in values) / len(values)
    return total / len(columns)


failed = []
val = rows[int(len(rows) * 0.8):]
reg = run("regression")
base = variance([1, 3, 5], val)
print(f"regression: val_loss {reg['val_loss']:.5f}, the mean's {base:.5f}")
if not reg["val_loss"] < 0.05 * base:
    failed.append("regression")
ml = run("multilabel")
print(f"multilabel: val_accuracy {ml['val_accuracy']:.4f}")
if not ml["val_accuracy"] >= 0.93:
    failed.append("multilabel")
ae = run("autoencoder")
base = variance(range(9), rows)
print(f"autoencoder: test_loss {ae['test_loss']:.5f}, the mean's {base:.5f}")
if not (ae["test_loss"] < 0.3 * base and ae["test_accuracy"] is None):
    failed.append("autoencoder")
sys.exit(f"FAIL: {', '.join(failed)}" if failed else 0)
