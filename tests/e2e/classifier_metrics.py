#!/usr/bin/env python3
"""precision, recall, auc and top_k_accuracy against numbers computed here.

  classifier_metrics.py SORAC WORKDIR

Writes models whose output is a known function of the input (a dense
layer set by --init to the identity: p = sigmoid(x), or softmax(x)), data
whose outputs are chosen probabilities and scores, then `sorac eval
--report json`, and compares the test metrics with those computed in plain
Python from the same numbers: precision and recall at 0.5, Keras' AUC
(ROC at 200 thresholds, trapezoids) and the exact AUC (every positive-
negative pair), top-k accuracy with ties counted in. The probabilities
are kept 0.3/199 away from every threshold, so float rounding cannot move
one across."""
import json
import math
import os
import random
import struct
import subprocess
import sys

sorac, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
rng = random.Random(17)
failed = False


def check(name, got, want, tol):
    global failed
    ok = got is not None and abs(got - want) <= tol
    print(f"{'ok' if ok else 'FAIL'}: {name} = {got}, expected {want} "
          f"(within {tol})")
    failed |= not ok


def safetensors(path, tensors):
    """tensors: name -> (shape, flat floats)."""
    header, data = {}, b""
    for name, (shape, values) in tensors.items():
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def evaluate(name, source, rows, tensors):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.sora"), "w") as f:
        f.write(source)
    with open(os.path.join(d, "data.csv"), "w") as f:
        f.write("\n".join(",".join(repr(v) for v in r) for r in rows) + "\n")
    safetensors(os.path.join(d, "w.safetensors"), tensors)
    run = subprocess.run([sorac, "eval", os.path.join(d, "model.sora"),
                          "--weights", os.path.join(d, "w.safetensors"),
                          "--report", "json"], capture_output=True, text=True)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    if run.returncode != 0:
        sys.exit(f"FAIL: sorac eval exited {run.returncode}")
    return json.loads(run.stdout.strip().splitlines()[-1])


# --- Binary: p = sigmoid(x) ------------------------------------------------
N = 600
probs, labels = [], []
for _ in range(N):
    b = rng.choice([b for b in range(1, 200) if b != 100])  # 0.5 is in 100
    p = (b - 0.5 + rng.uniform(-0.2, 0.2)) / 199
    probs.append(p)
    labels.append(1 if rng.random() < 0.2 + 0.6 * p else 0)  # informative
rows = [[math.log(p / (1 - p)), y] for p, y in zip(probs, labels)]
source = """model binary {
    input x : f32[1]
    output p = dense(x, 1, activation: sigmoid)
}
train binary {
    test    = csv(path: "data.csv", label_column: 1)
    loss    = binary_crossentropy
    metrics = [accuracy, precision, recall, auc]
}
"""
report = evaluate("binary", source, rows,
                  {"p.weight": ([1, 1], [1.0]), "p.bias": ([1], [0.0])})

tp = sum(1 for p, y in zip(probs, labels) if p > 0.5 and y == 1)
fp = sum(1 for p, y in zip(probs, labels) if p > 0.5 and y == 0)
fn = sum(1 for p, y in zip(probs, labels) if p <= 0.5 and y == 1)
check("test_precision", report["test_precision"], tp / (tp + fp), 1e-6)
check("test_recall", report["test_recall"], tp / (tp + fn), 1e-6)

# Keras' AUC: thresholds -eps, 1/199, ..., 198/199, 1 + eps; ROC points;
# trapezoids between neighbours.
thresholds = [-1e-7] + [(i + 1) / 199 for i in range(198)] + [1 + 1e-7]
pos = [p for p, y in zip(probs, labels) if y == 1]
neg = [p for p, y in zip(probs, labels) if y == 0]
tpr = [sum(p > t for p in pos) / len(pos) for t in thresholds]
fpr = [sum(p > t for p in neg) / len(neg) for t in thresholds]
keras_auc = sum((fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2
                for i in range(len(thresholds) - 1))
exact_auc = sum(1.0 if a > b else 0.5 if a == b else 0.0
                for a in pos for b in neg) / (len(pos) * len(neg))
check("test_auc (Keras' formula)", report["test_auc"], keras_auc, 1e-5)
# The 200 thresholds make the pairs of a positive and a negative between
# the same two thresholds ties (half a pair each): at most that far apart.
bucket = lambda p: math.ceil(p * 199)
same = sum(bucket(a) == bucket(b) for a in pos for b in neg)
check("test_auc (exact)", report["test_auc"], exact_auc,
      0.5 * same / (len(pos) * len(neg)) + 1e-6)
print(f"AUC: exact {exact_auc:.6f}, Keras' 200 thresholds {keras_auc:.6f}, "
      f"sorac {report['test_auc']}")
for key in ("test_top_k_accuracy",):
    if report[key] is not None:
        print(f"FAIL: {key} is {report[key]}, not null (not asked for)")
        failed = True

# --- Classes: p = softmax(x), top-k --------------------------------------
C, K = 6, 2
scores, classes = [], []
for _ in range(400):
    s = [round(rng.uniform(-3, 3), 3) for _ in range(C)]
    if rng.random() < 0.1:
        s[rng.randrange(C)] = max(s)  # a tie at the top
    scores.append(s)
    classes.append(rng.randrange(C))


def in_top_k(s, c, k):
    return sum(v > s[c] for v in s) < k  # ties counted in, as in_top_k


want = sum(in_top_k(s, c, K) for s, c in zip(scores, classes)) / len(scores)
identity = [1.0 if i == j else 0.0 for i in range(C) for j in range(C)]
weights = {"p.weight": ([C, C], identity), "p.bias": ([C], [0.0] * C)}
for loss, label in (("sparse_categorical_crossentropy", "label_column: 6"),
                    ("categorical_crossentropy",
                     f"label_column: 6, onehot: {C}")):
    source = f"""model classes {{
    input x : f32[{C}]
    output p = dense(x, {C}, activation: softmax)
}}
train classes {{
    test    = csv(path: "data.csv", {label})
    loss    = {loss}
    metrics = [accuracy, top_k_accuracy(k: {K})]
}}
"""
    rows = [s + [c] for s, c in zip(scores, classes)]
    report = evaluate(loss, source, rows, weights)
    check(f"test_top_k_accuracy ({loss})", report["test_top_k_accuracy"],
          want, 1e-6)
    for key in ("test_precision", "test_recall", "test_auc"):
        if report[key] is not None:
            print(f"FAIL: {key} is {report[key]}, not null (not asked for)")
            failed = True

sys.exit(1 if failed else 0)
