#!/usr/bin/env python3
"""Feature scaling and validation data of its own, through `sorac run`.

A CSV of mixed-scale columns (age 0-100, rooms 1-8, area 20-400; the price
a linear function of them plus noise), generated here, seeded:
  - plain sgd on the raw columns diverges (a NaN error) or learns nothing
    (validation MSE at least 90 % of the price's variance);
  - with `standardize: true` the same model and optimizer reach a
    validation MSE of at most 10 % of the variance, and with
    `normalize: true` too;
  - the checkpoint holds the statistics (x.scale = 1 / std, x.shift =
    -mean / std of the training rows, the population std), and `sorac
    eval`, an inference build and the ONNX export compiled back predict
    the test rows alike;
  - `validation = <the test file>` gives val_loss equal to the test loss:
    the validation metrics come from the given file, not from a split.
  feature_scaling.py SORAC OUT_DIR CC RUNTIME_INCLUDE RUNTIME_LIB SOURCE_DIR"""
import json
import math
import os
import random
import struct
import subprocess
import sys

sorac, out, cc, include, lib, src = sys.argv[1:7]
os.makedirs(out, exist_ok=True)
rng = random.Random(17)


def house():
    age, rooms, area = rng.uniform(0, 100), rng.randint(1, 8), rng.uniform(20, 400)
    price = 0.04 * age + 0.5 * rooms + 0.02 * area + rng.gauss(0, 0.3)
    return [age, rooms, area, price]


parts = {"train": [house() for _ in range(1000)],
         "validation": [house() for _ in range(200)],
         "test": [house() for _ in range(200)]}
for name, rows in parts.items():
    with open(os.path.join(out, name + ".csv"), "w") as f:
        f.write("age,rooms,area,price\n")
        for r in rows:
            f.write(",".join(f"{v:.6f}" for v in r) + "\n")


def variance(values):
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


# The values as the runtime reads them (f32).
def f32(v):
    return struct.unpack("f", struct.pack("f", float(f"{v:.6f}")))[0]


val_var = variance([f32(r[3]) for r in parts["validation"]])


def model(data_args, validation="validation.csv", epochs=30):
    return f"""
model houses {{
    input  x : f32[3]
    output price = x -> dense(16, activation: relu) -> dense(1)
}}
train houses {{
    data       = csv(path: "train.csv", label_column: 3{data_args})
    validation = csv(path: "{validation}", label_column: 3)
    test       = csv(path: "test.csv", label_column: 3)
    loss       = mse
    optimizer  = sgd(lr: 0.01)
    epochs     = {epochs}
    seed       = 5
}}"""


def run(name, text, *args, check=True):
    path = os.path.join(out, name + ".sora")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([sorac, "run", path, "--quiet", "--report", "json", *args],
                       capture_output=True, text=True)
    sys.stdout.write(p.stdout + p.stderr)
    if p.returncode != 0:
        if check:
            sys.exit(f"FAIL: {name}: sorac run exited {p.returncode}")
        return None, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


def close(a, b, rel):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


failed = []

# Raw columns: the gradient of the area's weight is some 10^4 times the
# others'; sgd at a rate that suits standardized inputs blows up.
plain, error = run("plain", model(""), check=False)
if plain is None:
    print(f"plain: fails as expected: {error.strip()}")
    if "NaN" not in error and "infinite" not in error:
        failed.append("plain (an error that is not the loss's)")
else:
    print(f"plain: val_loss {plain['val_loss']}, the variance {val_var:.4f}")
    if not (plain["val_loss"] is None or plain["val_loss"] >= 0.9 * val_var):
        failed.append("plain (trains without scaling: the test shows nothing)")

ckpt = os.path.join(out, "standardized.safetensors")
std, _ = run("standardized", model(", standardize: true"), "--save", ckpt)
print(f"standardize: val_loss {std['val_loss']:.5f}, "
      f"10 % of the variance {0.1 * val_var:.5f}")
if not std["val_loss"] <= 0.1 * val_var:
    failed.append("standardize")

norm, _ = run("normalized", model(", normalize: true", epochs=60))
print(f"normalize: val_loss {norm['val_loss']:.5f}")
if not norm["val_loss"] <= 0.1 * val_var:
    failed.append("normalize")

# The checkpoint's statistics: those of the training rows.
with open(ckpt, "rb") as f:
    size = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(size))
    blob = f.read()


def tensor(name):
    begin, end = header[name]["data_offsets"]
    return struct.unpack(f"<{(end - begin) // 4}f", blob[begin:end])


train_cols = [[f32(r[c]) for r in parts["train"]] for c in range(3)]
means = [sum(c) / len(c) for c in train_cols]
stds = [math.sqrt(variance(c)) for c in train_cols]
scale, shift = tensor("x.scale"), tensor("x.shift")
print(f"x.scale {scale}, x.shift {shift}")
for j in range(3):
    if not (close(scale[j], 1 / stds[j], 1e-5) and
            close(shift[j], -means[j] / stds[j], 1e-4)):
        failed.append(f"checkpoint statistics of column {j}")

# sorac eval applies them: the run's test loss again.
p = subprocess.run([sorac, "eval", os.path.join(out, "standardized.sora"),
                    "--weights", ckpt, "--quiet", "--report", "json"],
                   capture_output=True, text=True)
sys.stdout.write(p.stdout + p.stderr)
evaluated = json.loads(p.stdout.strip().splitlines()[-1])["test_loss"]
print(f"sorac eval: test_loss {evaluated:.6f} (the run's {std['test_loss']:.6f})")
if not close(evaluated, std["test_loss"], 1e-6):
    failed.append("sorac eval")


# An inference build, and the ONNX export compiled back, predict the raw
# test rows with the same error.
def predicted_mse(build_args):
    subprocess.run([sorac, *build_args, "--name", "houses", "-o",
                    os.path.join(out, "baked.o")], check=True)
    exe = os.path.join(out, "scaled_predict")
    subprocess.run([cc, "-O2", f"-I{include}", f"-I{out}",
                    os.path.join(src, "tests/e2e/inference/scaled_predict.c"),
                    os.path.join(out, "baked.o"), lib, "-lz", "-lm",
                    "-lpthread", "-o", exe], check=True)
    p = subprocess.run([exe, os.path.join(out, "test.csv"), "3"],
                       capture_output=True, text=True, check=True)
    return float(p.stdout)


baked = predicted_mse([os.path.join(out, "standardized.sora"), "--inference",
                       "--weights", ckpt])
onnx = os.path.join(out, "standardized.onnx")
subprocess.run([sorac, os.path.join(out, "standardized.sora"), "--weights",
                ckpt, "--emit=onnx", "-o", onnx], check=True)
exported = predicted_mse([onnx])
print(f"inference build: mse {baked:.6f}; ONNX export: mse {exported:.6f}")
for name, mse in [("inference build", baked), ("onnx export", exported)]:
    if not close(mse, evaluated, 1e-4):
        failed.append(name)

# Validation data of its own: the test file as the validation data gives
# the test loss as val_loss (the same weights, the same rows); --limit
# leaves it whole.
same, _ = run("own_validation", model(", standardize: true",
                                      validation="test.csv", epochs=1),
              "--limit", "500")
print(f"validation = test.csv: val_loss {same['val_loss']:.6f}, "
      f"test_loss {same['test_loss']:.6f}")
if not close(same["val_loss"], same["test_loss"], 1e-6):
    failed.append("validation source")
sys.exit(f"FAIL: {', '.join(failed)}" if failed else 0)
