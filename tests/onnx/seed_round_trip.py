#!/usr/bin/python3
"""The seed model out to ONNX and back: trained briefly, exported with
--emit=onnx (onnx.checker's full check must pass), the .onnx compiled by
sorac's importer, and both builds run on all 10 000 Fashion-MNIST test
images: every image must get the same class, and the probabilities agree
within 1e-5.
  seed_round_trip.py SORAC CC RUNTIME_INCLUDE RUNTIME_LIB SOURCE_DIR"""
import gzip
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

SORAC, CC, INCLUDE, LIB, SRC = sys.argv[1:6]
IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def sh(*args):
    subprocess.run([str(a) for a in args], check=True)


def predict(tmp, name, source, extra, images, n):
    """Outputs of `source` built as an inference object (predict.c)."""
    obj = os.path.join(tmp, name + ".o")
    exe = os.path.join(tmp, name)
    sh(SORAC, source, *extra, "--name", "export_test", "-o", obj)
    sh(CC, "-O1", "-I" + INCLUDE, os.path.join(SRC, "tests/onnx/predict.c"),
       obj, LIB, "-lz", "-lm", "-lpthread", "-o", exe)
    out = os.path.join(tmp, name + ".out")
    sh(exe, "-", n, out, images)
    return np.fromfile(out, dtype=np.float32).reshape(n, -1)


with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(SRC, "examples/mnist_mlp/model.sora")
    weights = os.path.join(tmp, "w.safetensors")
    sh(SORAC, "run", model, "--epochs", "1", "--limit", "6000", "--quiet",
       "--save", weights)
    exported = os.path.join(tmp, "seed.onnx")
    sh(SORAC, model, "--weights", weights, "--emit=onnx", "-o", exported)
    onnx.checker.check_model(onnx.load(exported), full_check=True)

    with gzip.open(IMAGES) as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    images = os.path.join(tmp, "test.f32")
    (raw.reshape(-1, 784).astype(np.float32) / 255).tofile(images)
    n = raw.size // 784

    original = predict(tmp, "original", model,
                       ["--inference", "--weights", weights], images, n)
    again = predict(tmp, "imported", exported, [], images, n)
    same = int((original.argmax(1) == again.argmax(1)).sum())
    diff = float(np.abs(original - again).max())
    print(f"{n} test images: the same class for {same}; largest difference "
          f"{diff:.3g}")
    sys.exit(0 if same == n and diff <= 1e-5 else 1)
