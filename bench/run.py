#!/usr/bin/python3
"""`make bench`: the compiled example and the PyTorch peer, side by side on
the same machine and data, alternating, several repetitions; medians and
ratios. Writes bench/results.md and prints it. Reports only: it never fails
on a time, only on a real error (a build, a run or a parse that fails).

The sorac side is bench/bench_mlp.c linked with examples/mnist_mlp/model.sora,
compiled here by sorac -O2 into a temporary directory; the PyTorch side is
bench/torch_mlp.py (settings as shared/peers/torch_mlp.py: one thread,
OpenBLAS pinned, Debian's /usr/bin/python3).
Usage: run.py BUILD_DIR [REPETITIONS=3]"""
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
reps = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else 3
cnn_reps = int(os.environ.get("CNN_REPS", "2"))
movielens_reps = int(os.environ.get("MOVIELENS_REPS", "3"))
langid_reps = int(os.environ.get("LANGID_REPS", "1"))
autoenc_reps = int(os.environ.get("AUTOENC_REPS", "1"))
if reps < 1:
    sys.exit("run.py: REPETITIONS must be at least 1")
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sorac = os.path.join(build, "bin/sorac")
runtime_lib = os.path.join(build, "lib/libsora_rt.a")
model = os.path.join(root, "examples/mnist_mlp/model.sora")
cnn_model = os.path.join(root, "examples/fashion_cnn/model.sora")
movielens_model = os.path.join(root, "examples/movielens/model.sora")
# The character-level language classifier and its GRU variant.
langid_models = {"lstm": os.path.join(root, "examples/language_id/model.sora"),
                 "gru": os.path.join(root, "examples/language_id/gru.sora")}
autoenc_model = os.path.join(root, "examples/autoencoder/model.sora")
compile_runs = max(5, reps)

# FLOPs, 2 per multiply-add of the dense layers (784-64, 64-10); biases,
# activations, softmax, loss and the Adam update are not counted.
FWD_MACS = 784 * 64 + 64 * 10          # 50 816 per sample
# Training: the forward pass, both weight gradients, and the second layer's
# input gradient (the first layer has none).
TRAIN_MACS = FWD_MACS + FWD_MACS + 64 * 10  # 102 272 per sample


def train_flops(r):
    """Training FLOPs of one run: the training samples forward and backward,
    and the validation pass (forward only), every epoch."""
    return 2 * (TRAIN_MACS * r["train_samples"] + FWD_MACS * r["val_samples"]) * r["epochs"]


def infer_flops(r):
    return 2 * FWD_MACS * r["infer_images"]


def last_json(out, what):
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"run.py: {what} printed no JSON line:\n{out}")


def check(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"run.py: {' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


def run_sorac(binary, threads=1):
    args = [binary, "--threads", str(threads)]
    if "FMNIST" in os.environ:  # the peer's data directory; ours is its parent
        args += ["--data", os.path.dirname(os.path.abspath(os.environ["FMNIST"]))]
    return last_json(check(args), "bench_mlp")


def run_torch():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return last_json(check(["/usr/bin/python3", os.path.join(root, "bench/torch_mlp.py"), "1", "5"],
                           env=env), "torch_mlp.py")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "unknown", False
    name = next((l.split(":", 1)[1].strip() for l in info.splitlines()
                 if l.startswith("model name")), "unknown")
    flags = next((l.split(":", 1)[1].split() for l in info.splitlines()
                  if l.startswith("flags")), [])
    return name, "avx512f" in flags


tmp = tempfile.mkdtemp(prefix="sorac-bench-")
try:
    # The model at -O2 (object and header), then the benchmark program.
    obj = os.path.join(tmp, "model.o")
    compile_times = []
    for _ in range(compile_runs):
        t = time.perf_counter()
        check([sorac, model, "-O2", "-o", obj])
        compile_times.append(time.perf_counter() - t)
    object_bytes = os.path.getsize(obj)
    binary = os.path.join(tmp, "bench_mlp")
    check([os.environ.get("CC", "cc"), "-O2", "-I", os.path.join(root, "runtime/include"),
           "-I", tmp, os.path.join(root, "bench/bench_mlp.c"), obj, runtime_lib,
           "-lz", "-lm", "-o", binary])

    load = os.getloadavg()[0]
    sorac_runs, torch_runs, sorac2_runs = [], [], []
    for i in range(reps):
        sorac_runs.append(run_sorac(binary))
        torch_runs.append(run_torch())
        sorac2_runs.append(run_sorac(binary, threads=2))
        s, p = sorac_runs[-1], torch_runs[-1]
        print(f"rep {i + 1}/{reps}: training sorac {s['train_s']:.3f} s, {p['peer']} "
              f"{p['train_s']:.3f} s; batch-1 {s['batch1_median_us']:.2f} / "
              f"{p['batch1_median_us']:.2f} us; 10k images {1e3 * s['infer10k_s']:.2f} / "
              f"{1e3 * p['infer10k_s']:.2f} ms", flush=True)
    # clip_norm's cost: the seed MLP with and without it (its gradients
    # stored and summed before the updates, instead of each update inside
    # the loop that finishes its gradient), 2 epochs each, alternating.
    clip_src = os.path.join(tmp, "clip_norm.sora")
    with open(model) as f:
        text = f.read()
    clipped = text.replace("adam(lr: 1e-3)", "adam(lr: 1e-3, clip_norm: 1.0)")
    if clipped == text:
        sys.exit("run.py: the example's optimizer is not adam(lr: 1e-3)")
    with open(clip_src, "w") as f:
        f.write(clipped)
    data_dir = os.path.dirname(os.path.abspath(os.environ["FMNIST"])) \
        if "FMNIST" in os.environ else os.path.dirname(os.path.abspath(model))
    clip_runs = []
    for i in range(reps):
        pair = []
        for src in (model, clip_src):
            report = last_json(check([sorac, "run", src, "--data", data_dir,
                                      "--epochs", "2", "--quiet", "--report",
                                      "json"]), "sorac run")
            pair.append(report["train_seconds"] / 2)
        clip_runs.append(pair)
        print(f"clip_norm rep {i + 1}/{reps}: seconds per epoch {pair[0]:.3f} "
              f"without, {pair[1]:.3f} with", flush=True)
    # The convolutional example, one epoch each side (CNN_REPS times).
    cnn_runs = []
    for i in range(cnn_reps):
        report = last_json(check([sorac, "run", cnn_model, "--epochs", "1",
                                  "--report", "json"]), "sorac run")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        peer_cnn = last_json(check(["/usr/bin/python3",
                                    os.path.join(root, "bench/torch_cnn.py"), "1", "1"],
                                   env=env), "torch_cnn.py")
        cnn_runs.append((report["train_seconds"], peer_cnn["epoch_s"][0],
                         report["test_accuracy"], peer_cnn["test_acc"]))
        print(f"cnn rep {i + 1}/{cnn_reps}: one epoch sorac {cnn_runs[-1][0]:.2f} s, "
              f"pytorch {cnn_runs[-1][1]:.2f} s", flush=True)
    # The recommender (examples/movielens), 5 epochs each side, on the data
    # make_data.sh exports from R's dslabs (skipped where R is missing).
    movielens_runs = []
    ml_dir = os.path.join(tmp, "movielens")
    made = subprocess.run([os.path.join(root, "examples/movielens/make_data.sh"),
                           ml_dir], capture_output=True, text=True)
    if made.returncode not in (0, 77):
        sys.exit(f"run.py: make_data.sh failed:\n{made.stdout}{made.stderr}")
    for i in range(movielens_reps if made.returncode == 0 else 0):
        report = last_json(check([sorac, "run", movielens_model, "--data", ml_dir,
                                  "--quiet", "--report", "json"]), "sorac run")
        # Generous to PyTorch: without this its first epoch pays for glibc
        # mmapping each step's 1.2 MB gradient (bench/torch_movielens.py).
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MALLOC_MMAP_THRESHOLD_="67108864")
        peer_ml = last_json(check(["/usr/bin/python3",
                                   os.path.join(root, "bench/torch_movielens.py"),
                                   ml_dir, "5", "1"], env=env), "torch_movielens.py")
        movielens_runs.append((report["train_seconds"], peer_ml["seconds"],
                               report["test_rmse"], peer_ml["test_rmse"]))
        print(f"movielens rep {i + 1}/{movielens_reps}: 5 epochs sorac "
              f"{movielens_runs[-1][0]:.3f} s, pytorch {movielens_runs[-1][1]:.3f} s",
              flush=True)
    # The character-level LSTM and GRU (examples/language_id), 5 epochs
    # each side, on Debian's word lists (skipped where a list is missing).
    langid_runs = {kind: [] for kind in langid_models}
    lid_dir = os.path.join(tmp, "language_id")
    made = subprocess.run(["python3", os.path.join(root, "examples/language_id/make_data.py"),
                           lid_dir], capture_output=True, text=True)
    if made.returncode not in (0, 77):
        sys.exit(f"run.py: make_data.py failed:\n{made.stdout}{made.stderr}")
    for i in range(langid_reps if made.returncode == 0 else 0):
        for kind, path in langid_models.items():
            report = last_json(check([sorac, "run", path, "--data", lid_dir,
                                      "--quiet", "--report", "json"]), "sorac run")
            env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
            peer_lid = last_json(check(["/usr/bin/python3",
                                        os.path.join(root, "bench/torch_language_id.py"),
                                        lid_dir, "5", "1", kind], env=env),
                                 "torch_language_id.py")
            runs = langid_runs[kind]
            runs.append((report["train_seconds"], peer_lid["seconds"],
                         report["test_accuracy"], peer_lid["test_acc"]))
            print(f"language_id {kind} rep {i + 1}/{langid_reps}: 5 epochs sorac "
                  f"{runs[-1][0]:.1f} s, pytorch {runs[-1][1]:.1f} s", flush=True)
    # The autoencoder (examples/autoencoder), 10 epochs each side, on
    # Fashion-MNIST; its test loss is the reconstruction MSE.
    autoenc_runs = []
    for i in range(autoenc_reps):
        args = [sorac, "run", autoenc_model, "--quiet", "--report", "json"]
        if "FMNIST" in os.environ:
            args += ["--data", os.path.dirname(os.path.abspath(os.environ["FMNIST"]))]
        report = last_json(check(args), "sorac run")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        peer_ae = last_json(check(["/usr/bin/python3",
                                   os.path.join(root, "bench/torch_autoencoder.py"),
                                   "10", "1"], env=env), "torch_autoencoder.py")
        autoenc_runs.append((report["train_seconds"], peer_ae["seconds"],
                             report["test_loss"], peer_ae["test_mse"]))
        print(f"autoencoder rep {i + 1}/{autoenc_reps}: 10 epochs sorac "
              f"{autoenc_runs[-1][0]:.2f} s, pytorch {autoenc_runs[-1][1]:.2f} s",
              flush=True)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

peer = torch_runs[0]["peer"]


def med(runs, f):
    return statistics.median(f(r) for r in runs)


fig = {}
for name, runs in (("sorac", sorac_runs), ("torch", torch_runs)):
    fig[name] = dict(
        train=med(runs, lambda r: r["train_s"]),
        epoch=med(runs, lambda r: r["train_s"] / r["epochs"]),
        acc=med(runs, lambda r: r["test_acc"]),
        train_gflops=med(runs, lambda r: train_flops(r) / r["train_s"] / 1e9),
        infer=med(runs, lambda r: r["infer10k_s"]),
        infer_gflops=med(runs, lambda r: infer_flops(r) / r["infer10k_s"] / 1e9),
        lat=med(runs, lambda r: r["batch1_median_us"]),
        lat_mean=med(runs, lambda r: r["batch1_mean_us"]),
        lat_p99=med(runs, lambda r: r["batch1_p99_us"]),
        rss=med(runs, lambda r: r["max_rss_kib"] / 1024),
    )
S, P = fig["sorac"], fig["torch"]
cnn = dict(sorac=statistics.median(r[0] for r in cnn_runs),
           torch=statistics.median(r[1] for r in cnn_runs),
           sorac_acc=statistics.median(r[2] for r in cnn_runs),
           torch_acc=statistics.median(r[3] for r in cnn_runs))
ml = dict(sorac=med(movielens_runs, lambda r: r[0]),
          torch=med(movielens_runs, lambda r: r[1]),
          sorac_rmse=med(movielens_runs, lambda r: r[2]),
          torch_rmse=med(movielens_runs, lambda r: r[3])) if movielens_runs else None
lids = {kind: dict(sorac=med(runs, lambda r: r[0]),
                  torch=med(runs, lambda r: r[1]),
                  sorac_acc=med(runs, lambda r: r[2]),
                  torch_acc=med(runs, lambda r: r[3]))
        for kind, runs in langid_runs.items() if runs}
ae = dict(sorac=med(autoenc_runs, lambda r: r[0]),
          torch=med(autoenc_runs, lambda r: r[1]),
          sorac_mse=med(autoenc_runs, lambda r: r[2]),
          torch_mse=med(autoenc_runs, lambda r: r[3])) if autoenc_runs else None
clip = dict(plain=med(clip_runs, lambda r: r[0]),
            clipped=med(clip_runs, lambda r: r[1]),
            ratio=med(clip_runs, lambda r: r[1] / r[0]))
S2 = dict(train=med(sorac2_runs, lambda r: r["train_s"]),
          acc=med(sorac2_runs, lambda r: r["test_acc"]))
compile_s = statistics.median(compile_times)
acc_diff = 100 * (S["acc"] - P["acc"])  # points
train_ratio = S["train"] / P["train"]
gflop_train = train_flops(sorac_runs[0]) / 1e9
gflop_infer = infer_flops(sorac_runs[0]) / 1e9


def met(ok):
    return "**met**" if ok else "**not met**"


targets = [
    ("training time at the same test accuracy",
     f"≤ 0.5 x PyTorch, accuracy within 0.5 points",
     f"{train_ratio:.2f} x, accuracy {acc_diff:+.2f} points",
     met(train_ratio <= 0.5 and abs(acc_diff) <= 0.5)),
    ("batch-1 latency (median)", "≤ 2 us", f"{S['lat']:.2f} us", met(S["lat"] <= 2.0)),
    ("10 000-image inference", "≥ 75 GFLOP/s", f"{S['infer_gflops']:.1f} GFLOP/s",
     met(S["infer_gflops"] >= 75.0)),
    ("compiling the example at -O2", "< 0.5 s", f"{compile_s:.3f} s", met(compile_s < 0.5)),
    ("the CNN's seconds per epoch", "sorac faster than PyTorch",
     f"{cnn['sorac']:.2f} s vs {cnn['torch']:.2f} s", met(cnn["sorac"] < cnn["torch"])),
] + ([
    ("movielens: training time", "≤ 0.2 x PyTorch",
     f"{ml['sorac'] / ml['torch']:.3f} x", met(ml["sorac"] <= 0.2 * ml["torch"])),
    ("movielens: test RMSE on the seeded hold-out", "≤ 0.89",
     f"{ml['sorac_rmse']:.4f} (PyTorch {ml['torch_rmse']:.4f})",
     met(ml["sorac_rmse"] <= 0.89)),
] if ml else []) + ([
    (f"language_id ({kind}): training time, accuracy within 1 point",
     "≤ 0.5 x PyTorch (goal 0.3 x)",
     f"{l['sorac'] / l['torch']:.2f} x, accuracy "
     f"{100 * (l['sorac_acc'] - l['torch_acc']):+.2f} points",
     met(l["sorac"] <= 0.5 * l["torch"] and
         l["sorac_acc"] >= l["torch_acc"] - 0.01))
    for kind, l in lids.items()
]) + ([
    ("autoencoder: test reconstruction MSE", "within 5 % of PyTorch's",
     f"{ae['sorac_mse']:.5f} (PyTorch {ae['torch_mse']:.5f})",
     met(abs(ae["sorac_mse"] - ae["torch_mse"]) <= 0.05 * ae["torch_mse"])),
] if ae else [])

rows = [
    ("training, 5 epochs (s)", f"{S['train']:.3f}", f"{P['train']:.3f}", f"{train_ratio:.2f}"),
    ("seconds per epoch", f"{S['epoch']:.3f}", f"{P['epoch']:.3f}", f"{S['epoch'] / P['epoch']:.2f}"),
    ("training, 5 epochs, sorac on 2 threads (s)", f"{S2['train']:.3f}", "",
     f"{S2['train'] / P['train']:.2f}"),
    ("test accuracy, sorac on 2 threads", f"{S2['acc']:.4f}", "", "same weights"
     if S2['acc'] == S['acc'] else "differs!"),
    ("test accuracy", f"{S['acc']:.4f}", f"{P['acc']:.4f}", f"{acc_diff:+.2f} points"),
    ("achieved GFLOP/s, training", f"{S['train_gflops']:.1f}", f"{P['train_gflops']:.1f}",
     f"{S['train_gflops'] / P['train_gflops']:.2f}"),
    ("10 000-image inference (ms)", f"{1e3 * S['infer']:.2f}", f"{1e3 * P['infer']:.2f}",
     f"{S['infer'] / P['infer']:.2f}"),
    ("achieved GFLOP/s, 10 000-image inference", f"{S['infer_gflops']:.1f}",
     f"{P['infer_gflops']:.1f}", f"{S['infer_gflops'] / P['infer_gflops']:.2f}"),
    ("batch-1 latency, median of 10 000 calls (us)", f"{S['lat']:.2f}", f"{P['lat']:.2f}",
     f"{S['lat'] / P['lat']:.3f}"),
    ("batch-1 latency, mean (us)", f"{S['lat_mean']:.2f}", f"{P['lat_mean']:.2f}",
     f"{S['lat_mean'] / P['lat_mean']:.3f}"),
    ("batch-1 latency, 99th percentile (us)", f"{S['lat_p99']:.2f}", f"{P['lat_p99']:.2f}",
     f"{S['lat_p99'] / P['lat_p99']:.3f}"),
    ("peak RSS (MiB)", f"{S['rss']:.0f}", f"{P['rss']:.0f}", f"{S['rss'] / P['rss']:.2f}"),
    (f"sorac compile time at -O2, median of {compile_runs} (s)", f"{compile_s:.3f}", "", ""),
    ("object size at -O2 (bytes)", f"{object_bytes}", "", ""),
    ("MLP seconds per epoch with clip_norm (sorac run, 2 epochs)",
     f"{clip['clipped']:.3f}", "", ""),
    ("MLP seconds per epoch without it, same runs", f"{clip['plain']:.3f}", "", ""),
    ("clip_norm_ratio: with / without, median of the pairs", f"{clip['ratio']:.2f}",
     "", ""),
    ("CNN (fashion_cnn): seconds per epoch", f"{cnn['sorac']:.2f}", f"{cnn['torch']:.2f}",
     f"{cnn['sorac'] / cnn['torch']:.2f}"),
    ("CNN: test accuracy after that epoch", f"{cnn['sorac_acc']:.4f}",
     f"{cnn['torch_acc']:.4f}", ""),
] + ([
    ("recommender (movielens), 5 epochs (s)", f"{ml['sorac']:.3f}", f"{ml['torch']:.3f}",
     f"{ml['sorac'] / ml['torch']:.3f}"),
    ("recommender: test RMSE", f"{ml['sorac_rmse']:.4f}", f"{ml['torch_rmse']:.4f}", ""),
] if ml else []) + ([
    row for kind, l in lids.items() for row in (
        (f"character {kind.upper()} (language_id), 5 epochs (s)", f"{l['sorac']:.1f}",
         f"{l['torch']:.1f}", f"{l['sorac'] / l['torch']:.2f}"),
        (f"character {kind.upper()}: test accuracy", f"{l['sorac_acc']:.4f}",
         f"{l['torch_acc']:.4f}", ""))
]) + ([
    ("autoencoder (784-32-784), 10 epochs (s)", f"{ae['sorac']:.2f}",
     f"{ae['torch']:.2f}", f"{ae['sorac'] / ae['torch']:.2f}"),
    ("autoencoder: test reconstruction MSE", f"{ae['sorac_mse']:.5f}",
     f"{ae['torch_mse']:.5f}", f"{ae['sorac_mse'] / ae['torch_mse']:.3f}"),
] if ae else [])

cpu, avx512 = cpu_model()
ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [
    "# Benchmark: the seed's MLP on Fashion-MNIST",
    "",
    f"`make bench` (`bench/run.py`), {now}, on {cpu} ({ncpu} CPUs as `nproc`",
    f"counts them; AVX-512 {'yes' if avx512 else 'no'}; load average {load:.2f} at the start).",
    f"{reps} repetitions alternating sorac (`bench/bench_mlp.c` linked with",
    "`examples/mnist_mlp/model.sora` compiled by `sorac -O2`) and",
    f"{peer} (`bench/torch_mlp.py`: one thread, OpenBLAS pinned to one",
    "thread, Debian's `/usr/bin/python3`); every figure is the median over the",
    "repetitions; ratio = sorac / PyTorch (below 1: sorac takes less time or",
    "memory; above 1: sorac does more GFLOP/s). The figures are a report, not a",
    "test: on a shared machine they move by 10-20 % from run to run.",
    "",
    "| figure | sorac | PyTorch | ratio |",
    "|---|---|---|---|",
] + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows] + [
    "",
    "## Targets",
    "",
    "| target | wanted | measured | |",
    "|---|---|---|---|",
] + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets] + [
    "",
    "## How it is measured",
    "",
    "- **Training**: the train block as written (5 epochs, batch 128, Adam",
    "  1e-3, the last 20 % held out for validation), same data, same",
    "  Glorot-uniform initialisation and Adam epsilon 1e-7 on both sides. The",
    "  time is the sum of the epochs' times: shuffling, the training steps",
    "  and the per-epoch validation pass, for both; loading the data and the",
    "  final test evaluation are outside it. Test accuracy is over the",
    "  10 000 test images.",
    "- **10 000-image inference**: one `sora_model_predict` call over the",
    "  10 000 test images (one `model(x_test)` under `torch.no_grad()`), after",
    "  a warm-up call; median of 11 calls.",
    "- **Batch-1 latency**: 10 000 warm one-image calls (after 1 000 warm-up",
    "  calls), cycling through the test images, each timed on its own",
    "  (`clock_gettime(CLOCK_MONOTONIC)`; `time.perf_counter_ns`); the",
    "  median, mean and 99th percentile of those times.",
    "- **FLOPs**: 2 per multiply-add of the dense layers (784x64 and 64x10);",
    "  biases, activations, softmax, loss and the Adam update are not counted.",
    f"  Inference: 2 x (784x64 + 64x10) x images = {gflop_infer:.4f} GFLOP for",
    "  10 000 images. Training: per training sample the forward pass, both",
    "  weight gradients and the second layer's input gradient (the first",
    "  layer has none), 2 x (2 x (784x64 + 64x10) + 64x10) = 204 544 FLOPs,",
    "  plus the validation pass, 2 x (784x64 + 64x10) = 101 632 FLOPs per",
    "  validation sample, every epoch: 5 x (48 000 x 204 544 + 12 000 x",
    f"  101 632) = {gflop_train:.2f} GFLOP.",
    "- **Recommender** (`examples/movielens`, `bench/torch_movielens.py`):",
    "  the ratings of R's dslabs (`make_data.sh`: 90 004 training rows, a",
    "  seeded 10 000-row hold-out), 5 epochs of batch 256, Adam 1e-3, the",
    "  same model on both sides (embeddings N(0, 0.05^2), zero biases).",
    "  sorac's time is `sorac run`'s train_seconds (the JIT, as the object",
    "  would run); PyTorch's is the sum of its epochs, run with",
    "  MALLOC_MMAP_THRESHOLD_=67108864 (without it its first epoch is ~3 s",
    "  slower). Test RMSE over the hold-out after the 5 epochs."
    f" Median of {movielens_reps} runs.",
    "- **Character LSTM** (`examples/language_id`,",
    "  `bench/torch_language_id.py`): 12 000 words of each of 8 Debian word",
    "  lists (`make_data.py`: 76 800 training words, 19 200 test), 16",
    "  character ids each; embedding 32, LSTM 128 units (PyTorch's default",
    "  init on both sides), dense 8; Adam 1e-3, batch 128, 5 epochs; the GRU",
    "  variant (`gru.sora`, `torch_language_id.py ... gru`) the same with a",
    "  GRU of 128 units. sorac's",
    "  time is `sorac run`'s train_seconds; PyTorch's, the sum of its epochs."
    f" Median of {langid_reps} run(s).",
    "- **Autoencoder** (`examples/autoencoder`, `bench/torch_autoencoder.py`):",
    "  784-32 relu-784 sigmoid trained to reproduce Fashion-MNIST images",
    "  (`target = image`), MSE, Adam 1e-3, batch 128, 10 epochs, Glorot",
    "  uniform and zero biases on both sides. sorac's time is `sorac run`'s",
    "  train_seconds; PyTorch's, the sum of its epochs. The MSE is over every",
    "  pixel of the 10 000 test images."
    f" Median of {autoenc_reps} run(s).",
    "- **clip_norm**: `sorac run` of the example as written and of a copy",
    "  whose optimizer is `adam(lr: 1e-3, clip_norm: 1.0)`, 2 epochs each,",
    "  alternating; seconds per epoch from train_seconds. With clip_norm",
    "  every gradient is stored and their norm taken before the updates,",
    "  which otherwise run inside the loops that finish the gradients."
    f" Median of {reps} pair(s).",
    "- **Peak RSS**: the process's `ru_maxrss` (`getrusage(RUSAGE_SELF)`) at",
    "  the end; PyTorch's includes the interpreter and the torch import.",
    f"- **Compile time**: wall time of `sorac model.sora -O2 -o model.o`",
    f"  (a whole process: parsing, graph passes, LLVM, object and header),",
    f"  median of {compile_runs} runs; object size is that `model.o`.",
    "",
    "## Repetitions",
    "",
    "| rep | sorac training (s) | PyTorch training (s) | sorac batch-1 (us) | PyTorch batch-1 (us) | sorac 10k (ms) | PyTorch 10k (ms) |",
    "|---|---|---|---|---|---|---|",
] + [f"| {i + 1} | {s['train_s']:.3f} | {p['train_s']:.3f} | {s['batch1_median_us']:.2f} | "
     f"{p['batch1_median_us']:.2f} | {1e3 * s['infer10k_s']:.2f} | {1e3 * p['infer10k_s']:.2f} |"
     for i, (s, p) in enumerate(zip(sorac_runs, torch_runs))] + [
    "",
    "Compile times (s): " + ", ".join(f"{t:.3f}" for t in compile_times) + ".",
]
text = "\n".join(lines) + "\n"
with open(os.path.join(root, "bench/results.md"), "w") as f:
    f.write(text)
print(text)
