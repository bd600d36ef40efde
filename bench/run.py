#!/usr/bin/python3
"""`make bench`: the compiled example and the PyTorch peer, side by side on
the same machine and data, alternating, several repetitions; medians and
ratios. Writes bench/results.md. Reports only: it never fails on a time.
Usage: run.py BUILD_DIR [REPETITIONS=3]"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
example = os.path.join(build, "bin/mnist_mlp")
sorac = os.path.join(build, "bin/sorac")
model = os.path.join(root, "examples/mnist_mlp/model.sora")


def run_sorac():
    out = subprocess.run([example], check=True, capture_output=True, text=True).stdout
    train = float(re.search(r"^train time: ([0-9.]+)", out, re.M).group(1))
    acc = float(re.search(r"^test accuracy: ([0-9.]+)", out, re.M).group(1))
    return train, acc


def run_torch():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run(["/usr/bin/python3", os.path.join(root, "bench/torch_mlp.py"), "1", "5"],
                         check=True, capture_output=True, text=True, env=env).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["train_s"], r["test_acc"], r["peer"]


sorac_runs, torch_runs, peer = [], [], "pytorch"
for i in range(reps):
    sorac_runs.append(run_sorac())
    t, a, peer = run_torch()
    torch_runs.append((t, a))
    print(f"rep {i + 1}/{reps}: sorac {sorac_runs[-1][0]:.3f} s, {peer} {t:.3f} s", flush=True)

with tempfile.TemporaryDirectory() as tmp:
    compile_times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([sorac, model, "-O2", "-o", os.path.join(tmp, "m.o")], check=True)
        compile_times.append(time.perf_counter() - t)
    object_bytes = os.path.getsize(os.path.join(tmp, "m.o"))

s_train = statistics.median(r[0] for r in sorac_runs)
t_train = statistics.median(r[0] for r in torch_runs)
rows = [
    ("training, 5 epochs (s)", f"{s_train:.3f}", f"{t_train:.3f}", f"{t_train / s_train:.2f}x"),
    ("seconds per epoch", f"{s_train / 5:.3f}", f"{t_train / 5:.3f}", ""),
    ("test accuracy", f"{statistics.median(r[1] for r in sorac_runs):.4f}",
     f"{statistics.median(r[1] for r in torch_runs):.4f}", ""),
    ("achieved GFLOP/s (training)", f"{55.0 / s_train:.1f}", f"{55.0 / t_train:.1f}", ""),
    ("compile time at -O2 (s)", f"{statistics.median(compile_times):.3f}", "", ""),
    ("object size (bytes)", f"{object_bytes}", "", ""),
]
lines = [
    "# Benchmark: the seed's MLP on Fashion-MNIST",
    "",
    f"`make bench`, {reps} repetitions alternating sorac and {peer} (one thread,",
    "OpenBLAS pinned), medians. Training time includes the per-epoch",
    "validation pass for both. FLOPs: 2 x the dense layers' multiply-adds,",
    "forward and backward, about 55 GFLOP for 5 epochs.",
    "",
    f"| figure | sorac | {peer} | speed-up |",
    "|---|---|---|---|",
] + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
text = "\n".join(lines) + "\n"
with open(os.path.join(root, "bench/results.md"), "w") as f:
    f.write(text)
print(text)
