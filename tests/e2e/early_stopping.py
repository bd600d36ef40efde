#!/usr/bin/env python3
"""Early stopping on a real run: an MLP over 2000 Fashion-MNIST images, half
held out, overfits; `early_stopping(monitor: val_loss, patience: 2,
restore_best: true)` must
  - stop where Keras' EarlyStopping rule, applied here to the run's own
    recorded val_loss curve (its --log), stops, and name the same best epoch;
  - end with the best epoch's weights: the --save checkpoint equals, tensor
    for tensor and bit for bit, that of a run trained for best_epoch epochs;
  - report (--report json) the best epoch's validation metrics and the test
    metrics of the restored weights.
  early_stopping.py SORAC OUT_DIR"""
import csv
import json
import os
import struct
import subprocess
import sys

sorac, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
PATIENCE = 2
model = os.path.join(out, "stopper.sora")
with open(model, "w") as f:
    f.write(f"""
model stopper {{
    input  x : f32[784]
    output p = x -> dense(128, activation: relu) -> dense(10, activation: softmax)
}}
train stopper {{
    data             = idx(images: "fashion-mnist/train-images-idx3-ubyte.gz",
                           labels: "fashion-mnist/train-labels-idx1-ubyte.gz",
                           scale: 1/255)
    test             = idx(images: "fashion-mnist/t10k-images-idx3-ubyte.gz",
                           labels: "fashion-mnist/t10k-labels-idx1-ubyte.gz",
                           scale: 1/255)
    loss             = sparse_categorical_crossentropy
    optimizer        = adam(lr: 0.003)
    metrics          = [accuracy]
    batch_size       = 64
    validation_split = 0.5
    epochs           = 40
    seed             = 5
    early_stopping   = early_stopping(monitor: val_loss, patience: {PATIENCE},
                                      restore_best: true)
}}
""")


def run(*args):
    p = subprocess.run([sorac, "run", model, "--limit", "2000", "-q",
                        "--report", "json", *args],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: sorac run {' '.join(args)}: {p.returncode}\n"
                 f"{p.stdout}{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def tensors(path):
    data = open(path, "rb").read()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    return {name: data[8 + size + t["data_offsets"][0]:
                       8 + size + t["data_offsets"][1]]
            for name, t in header.items()
            if name != "__metadata__" and not name.startswith("optimizer.")}


log = os.path.join(out, "stopped.csv")
stopped = run("--log", log, "--save", os.path.join(out, "stopped.safetensors"))
val_loss = [float(r["val_loss"]) for r in csv.DictReader(open(log))]

# Keras' EarlyStopping.on_epoch_end (mode "min", min_delta 0, no baseline),
# epochs counted from 1 as sorac's lines are.
best, best_epoch, wait, keras_stop = float("inf"), 0, 0, None
for epoch, current in enumerate(val_loss, 1):
    wait += 1
    if current < best:
        best, best_epoch, wait = current, epoch, 0
        continue
    if wait >= PATIENCE and epoch > 1:
        keras_stop = epoch
        break

print(f"val_loss by epoch: {' '.join(f'{v:.4f}' for v in val_loss)}")
print(f"sorac: stopped_epoch {stopped['stopped_epoch']}, best_epoch "
      f"{stopped['best_epoch']}; Keras' rule: {keras_stop}, {best_epoch}")
if keras_stop is None or keras_stop >= 40:
    sys.exit("FAIL: the run did not overfit enough to stop early")
if (stopped["stopped_epoch"], stopped["best_epoch"]) != (keras_stop,
                                                         best_epoch):
    sys.exit("FAIL: sorac stopped elsewhere than Keras' rule says")
if stopped["epochs"] != keras_stop or len(val_loss) != keras_stop:
    sys.exit(f"FAIL: {stopped['epochs']} epochs done, "
             f"{len(val_loss)} logged, expected {keras_stop}")

best_run = run("--epochs", str(best_epoch), "--save",
               os.path.join(out, "best.safetensors"))
a = tensors(os.path.join(out, "stopped.safetensors"))
b = tensors(os.path.join(out, "best.safetensors"))
if a.keys() != b.keys() or any(a[k] != b[k] for k in a):
    sys.exit(f"FAIL: the saved weights are not those of epoch {best_epoch}")
if abs(stopped["val_loss"] - val_loss[best_epoch - 1]) > 1e-4 * best:
    sys.exit(f"FAIL: the report's val_loss {stopped['val_loss']} is not "
             f"the best epoch's {val_loss[best_epoch - 1]}")
for key in ("val_loss", "val_accuracy", "test_loss", "test_accuracy"):
    if stopped[key] != best_run[key]:
        sys.exit(f"FAIL: {key} {stopped[key]} differs from the run of "
                 f"{best_epoch} epochs: {best_run[key]}")
print(f"PASS: stopped after epoch {keras_stop}, restored epoch {best_epoch} "
      f"bit for bit (val_loss {stopped['val_loss']:.4f}, test accuracy "
      f"{stopped['test_accuracy']:.4f})")
