#!/usr/bin/python3
"""`make bench`: the compiled example and the PyTorch peer, side by side on
the same machine and data, alternating, several repetitions; medians and
ratios. Writes bench/results.md and prints it. Reports only: it never fails
on a time, only on a real error (a build, a run or a parse that fails).

The sorac side is bench/bench_mlp.c linked with examples/mnist_mlp/model.sora,
compiled here by sorac -O2 into a temporary directory; the PyTorch side is
bench/torch_mlp.py (settings as shared/peers/torch_mlp.py: one thread,
OpenBLAS pinned, Debian's /usr/bin/python3). Beside it: the CNN
(examples/fashion_cnn, 1 and 2 threads), the other examples and their peers,
precision = bf16 against f32, the seed's inference builds in f32 and int8
(bench/bench_inference.c), compile times (bench/compile_times.py), and the
single core's FMA peak
(bench/fma_peak.c) that the GFLOP/s figures are read against.
Usage: run.py BUILD_DIR [REPETITIONS=3]
Environment: CNN_REPS (2), CNN_EPOCHS (1; 2 or more: per-epoch CNN figures),
MOVIELENS_REPS (3), LANGID_REPS (1), AUTOENC_REPS (1) (0 skips a section),
COMPILE_RUNS (5), FMNIST (the Fashion-MNIST directory)."""
import csv
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import compile_times
import machine
from report import how_it_is_measured, met, table

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
reps = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else 3
cnn_reps = int(os.environ.get("CNN_REPS", "2"))
cnn_epochs = int(os.environ.get("CNN_EPOCHS", "1"))
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
compile_runs = int(os.environ.get("COMPILE_RUNS", "5"))
if cnn_epochs < 1 or compile_runs < 1:
    sys.exit("run.py: CNN_EPOCHS and COMPILE_RUNS must be at least 1")

# FLOPs, 2 per multiply-add of the dense layers (784-64, 64-10); biases,
# activations, softmax, loss and the Adam update are not counted.
FWD_MACS = 784 * 64 + 64 * 10          # 50 816 per sample
# Training: the forward pass, both weight gradients, and the second layer's
# input gradient (the first layer has none).
TRAIN_MACS = FWD_MACS + FWD_MACS + 64 * 10  # 102 272 per sample


# The CNN (bench/cnn.md): multiply-adds per sample, forward and training
# (the forward, every weight gradient, the input gradients of conv2 and both
# dense layers); 54 000 images trained on and 6 000 validated per epoch.
CNN_FWD_MACS = 4241152
CNN_TRAIN_MACS = 12497664
CNN_SAMPLES = (54000, 6000)
CNN_EPOCH_FLOPS = 2 * (CNN_TRAIN_MACS * CNN_SAMPLES[0] + CNN_FWD_MACS * CNN_SAMPLES[1])


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


tmp = tempfile.mkdtemp(prefix="sorac-bench-")
try:
    # The roof, measured again at the end (the higher is the peak).
    peak_runs = [machine.fma_peak(root, tmp)]
    print(f"FMA peak: {peak_runs[0]['gflops']:.1f} GFLOP/s ({peak_runs[0]['isa']})",
          flush=True)
    deep_src = os.path.join(tmp, "deep_mlp.sora")
    with open(deep_src, "w") as f:
        f.write(compile_times.deep_mlp_source(model))
    compiled = compile_times.measure(sorac, [("seed", model), ("cnn", cnn_model),
                                             ("deep", deep_src)], tmp, compile_runs)
    # The model at -O2 (object and header), then the benchmark program.
    obj = os.path.join(tmp, "model.o")
    check([sorac, model, "-O2", "-o", obj])
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
    # precision = bf16 against f32: the seed MLP with 3 seeds (5 epochs
    # each), the CNN CNN_REPS times (CNN_EPOCHS epochs), alternating.
    def variant(src, name, seed, bf16):
        with open(src) as f:
            text = f.read()
        line = "    seed             = 42\n"
        if line not in text:
            sys.exit(f"run.py: {src} has no '{line.strip()}' line")
        text = text.replace(line, f"    seed             = {seed}\n" +
                            ("    precision        = bf16\n" if bf16 else ""))
        path = os.path.join(tmp, f"{name}_{seed}_{'bf16' if bf16 else 'f32'}.sora")
        with open(path, "w") as f:
            f.write(text)
        return path
    bf16_runs = {"seed": [], "cnn": []}
    for seed in (1, 2, 3):
        bf16_runs["seed"].append([last_json(check(
            [sorac, "run", variant(model, "seed", seed, bf16), "--data", data_dir,
             "--quiet", "--report", "json"]), "sorac run") for bf16 in (False, True)])
    for i in range(cnn_reps):
        bf16_runs["cnn"].append([last_json(check(
            [sorac, "run", variant(cnn_model, "cnn", 42, bf16), "--epochs",
             str(cnn_epochs), "--quiet", "--report", "json"]), "sorac run")
            for bf16 in (False, True)])
        f32, bf = bf16_runs["cnn"][-1]
        print(f"bf16 rep {i + 1}/{cnn_reps}: CNN {f32['train_seconds']:.2f} s in f32, "
              f"{bf['train_seconds']:.2f} s in bf16", flush=True)
    # Inference builds of the seed, f32 and --quantize=int8, from one
    # trained checkpoint: accuracy, batch-1 latency (REPS runs alternating),
    # object size.
    weights = os.path.join(tmp, "seed.safetensors")
    check([sorac, "run", model, "--data", data_dir, "--quiet", "--save", weights])
    int8_bins, int8_bytes = {}, {}
    for kind, flags in (("f32", []), ("int8", ["--quantize=int8"])):
        kind_dir = os.path.join(tmp, "inference_" + kind)
        os.makedirs(kind_dir)
        kind_obj = os.path.join(kind_dir, "model.o")
        check([sorac, model, "--inference", "--weights", weights, *flags, "-o", kind_obj])
        int8_bytes[kind] = os.path.getsize(kind_obj)
        int8_bins[kind] = os.path.join(kind_dir, "bench_inference")
        check([os.environ.get("CC", "cc"), "-O2", "-I", os.path.join(root, "runtime/include"),
               "-I", kind_dir, os.path.join(root, "bench/bench_inference.c"), kind_obj,
               runtime_lib, "-lz", "-lm", "-o", int8_bins[kind]])
    int8_runs = []
    for i in range(reps):
        int8_runs.append({kind: last_json(check([b, "--data", data_dir]), "bench_inference")
                          for kind, b in int8_bins.items()})
        print(f"int8 rep {i + 1}/{reps}: batch-1 "
              f"{int8_runs[-1]['int8']['batch1_median_us']:.2f} us in int8, "
              f"{int8_runs[-1]['f32']['batch1_median_us']:.2f} us in f32", flush=True)
    # The convolutional example, CNN_EPOCHS epochs each side (CNN_REPS
    # times), and sorac's again on 2 threads.
    cnn_runs = []
    cnn_log = os.path.join(tmp, "cnn_log.csv")
    for i in range(cnn_reps):
        cnn_args = [sorac, "run", cnn_model, "--epochs", str(cnn_epochs), "--quiet",
                    "--report", "json"]
        report = last_json(check(cnn_args + ["--log", cnn_log]), "sorac run")
        with open(cnn_log) as f:
            log = list(csv.DictReader(f))
        report2 = last_json(check(cnn_args + ["--threads", "2"]), "sorac run")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        peer_cnn = last_json(check(["/usr/bin/python3",
                                    os.path.join(root, "bench/torch_cnn.py"), "1",
                                    str(cnn_epochs)], env=env), "torch_cnn.py")
        if (peer_cnn["train_samples"], peer_cnn["val_samples"]) != CNN_SAMPLES:
            sys.exit(f"run.py: torch_cnn.py's split is not {CNN_SAMPLES}")
        cnn_runs.append(dict(
            sorac=report["train_seconds"], torch=peer_cnn["train_s"],
            sorac_acc=report["test_accuracy"], torch_acc=peer_cnn["test_acc"],
            sorac_epochs=[float(row["seconds"]) for row in log],
            torch_epochs=peer_cnn["epoch_s"],
            sorac2=report2["train_seconds"], sorac2_acc=report2["test_accuracy"]))
        c = cnn_runs[-1]
        print(f"cnn rep {i + 1}/{cnn_reps}: {cnn_epochs} epoch(s) sorac {c['sorac']:.2f} s "
              f"(2 threads {c['sorac2']:.2f} s), pytorch {c['torch']:.2f} s", flush=True)
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
    peak_runs.append(machine.fma_peak(root, tmp))
finally:
    shutil.rmtree(tmp, ignore_errors=True)

peer = torch_runs[0]["peer"]


def med(runs, f):
    return statistics.median(f(r) for r in runs)


def first_and_later(epoch_s):
    """Epoch 1, the median of the later epochs, and epoch 1 / that."""
    later = statistics.median(epoch_s[1:])
    return epoch_s[0], later, epoch_s[0] / later


peak = max(r["gflops"] for r in peak_runs)


def pct(gflops):
    return f"{100 * gflops / peak:.0f} %"


fig = {}
for name, runs in (("sorac", sorac_runs), ("torch", torch_runs)):
    fig[name] = dict(
        train=med(runs, lambda r: r["train_s"]),
        epoch=med(runs, lambda r: r["train_s"] / r["epochs"]),
        epoch1=med(runs, lambda r: first_and_later(r["epoch_s"])[0]),
        later=med(runs, lambda r: first_and_later(r["epoch_s"])[1]),
        first_ratio=med(runs, lambda r: first_and_later(r["epoch_s"])[2]),
        acc=med(runs, lambda r: r["test_acc"]),
        train_gflops=med(runs, lambda r: train_flops(r) / r["train_s"] / 1e9),
        steady_gflops=med(runs, lambda r: train_flops(r) / r["epochs"]
                          / first_and_later(r["epoch_s"])[1] / 1e9),
        infer=med(runs, lambda r: r["infer10k_s"]),
        infer_gflops=med(runs, lambda r: infer_flops(r) / r["infer10k_s"] / 1e9),
        lat=med(runs, lambda r: r["batch1_median_us"]),
        lat_mean=med(runs, lambda r: r["batch1_mean_us"]),
        lat_p99=med(runs, lambda r: r["batch1_p99_us"]),
        rss=med(runs, lambda r: r["max_rss_kib"] / 1024),
    )
S, P = fig["sorac"], fig["torch"]
cnn = None
if cnn_runs:
    cnn = {k: med(cnn_runs, lambda r: r[k] / (cnn_epochs if k in ("sorac", "torch", "sorac2")
                                              else 1))
           for k in ("sorac", "torch", "sorac_acc", "torch_acc", "sorac2", "sorac2_acc")}
    cnn["speedup"] = med(cnn_runs, lambda r: r["sorac"] / r["sorac2"])
    for side in ("sorac", "torch"):
        epochs = [r[side + "_epochs"] for r in cnn_runs]
        cnn[side + "_epoch1"] = statistics.median(e[0] for e in epochs)
        # Steady: the median of the later epochs where there are any.
        cnn[side + "_steady"] = statistics.median(
            first_and_later(e)[1] if len(e) > 1 else e[0] for e in epochs)
        if cnn_epochs > 1:
            cnn[side + "_first_ratio"] = statistics.median(first_and_later(e)[2]
                                                           for e in epochs)
        cnn[side + "_gflops"] = CNN_EPOCH_FLOPS / cnn[side + "_steady"] / 1e9
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
def bf16_figures(runs):
    """Medians of bf16 / f32 training time, and the mean accuracy difference."""
    return dict(ratio=med(runs, lambda r: r[1]["train_seconds"] / r[0]["train_seconds"]),
                f32=med(runs, lambda r: r[0]["train_seconds"]),
                bf16=med(runs, lambda r: r[1]["train_seconds"]),
                acc_f32=statistics.mean(r[0]["test_accuracy"] for r in runs),
                acc_diff=100 * statistics.mean(r[1]["test_accuracy"] - r[0]["test_accuracy"]
                                               for r in runs))
B16 = {name: bf16_figures(runs) for name, runs in bf16_runs.items() if runs}
I8 = {kind: dict(lat=med(int8_runs, lambda r: r[kind]["batch1_median_us"]),
                 p99=med(int8_runs, lambda r: r[kind]["batch1_p99_us"]),
                 acc=int8_runs[0][kind]["accuracy"], bytes=int8_bytes[kind])
      for kind in ("f32", "int8")}
int8_acc_diff = 100 * (I8["int8"]["acc"] - I8["f32"]["acc"])  # points
S2 = dict(train=med(sorac2_runs, lambda r: r["train_s"]),
          acc=med(sorac2_runs, lambda r: r["test_acc"]))
acc_diff = 100 * (S["acc"] - P["acc"])  # points
train_ratio = S["train"] / P["train"]
gflop_train = train_flops(sorac_runs[0]) / 1e9
gflop_infer = infer_flops(sorac_runs[0]) / 1e9
# Issue 18's compile-time targets (seconds), by compile_times.measure's names.
compile_targets = {"seed": ("the seed MLP", 0.3), "cnn": ("the CNN", 1.0),
                   "deep": ("the generated 33-layer MLP", 3.0)}
cnn_later = f"median of epochs 2-{cnn_epochs}" if cnn_epochs > 2 else "epoch 2"
cnn_steady_what = cnn_later if cnn_epochs > 1 else "epoch 1 (CNN_EPOCHS=1)"

targets = [
    ("seed: training time at the same test accuracy (issue 18)",
     "≤ 0.35 x PyTorch, accuracy within 0.5 points",
     f"{train_ratio:.2f} x, accuracy {acc_diff:+.2f} points",
     met(train_ratio <= 0.35 and abs(acc_diff) <= 0.5)),
    ("seed: steady epochs' GFLOP/s (issue 18)", "≥ 55 % of the FMA peak",
     f"{pct(S['steady_gflops'])} ({S['steady_gflops']:.1f} of {peak:.0f} GFLOP/s)",
     met(S["steady_gflops"] >= 0.55 * peak)),
    ("seed: epoch 1 within 10 % of epochs 2-5 (issue 18)", "epoch 1 / median(2-5) ≤ 1.10",
     f"{S['first_ratio']:.2f}", met(S["first_ratio"] <= 1.10)),
    ("batch-1 latency (median)", "≤ 2 us", f"{S['lat']:.2f} us", met(S["lat"] <= 2.0)),
    ("10 000-image inference", "≥ 75 GFLOP/s", f"{S['infer_gflops']:.1f} GFLOP/s",
     met(S["infer_gflops"] >= 75.0)),
] + [
    (f"compiling {what} at -O2 (issue 18)", f"≤ {limit:g} s",
     f"{compiled[name]['median']:.3f} s", met(compiled[name]["median"] <= limit))
    for name, (what, limit) in compile_targets.items()
] + ([
    ("the CNN's seconds per epoch", "sorac faster than PyTorch",
     f"{cnn['sorac']:.2f} s vs {cnn['torch']:.2f} s", met(cnn["sorac"] < cnn["torch"])),
    (f"CNN: steady epoch's GFLOP/s, {cnn_steady_what} (issue 18)",
     "≥ 65 % of the FMA peak",
     f"{pct(cnn['sorac_gflops'])} ({cnn['sorac_gflops']:.0f} of {peak:.0f} GFLOP/s)",
     met(cnn["sorac_gflops"] >= 0.65 * peak)),
    ("CNN: 2 threads vs 1 (issue 18)", "≥ 1.6 x faster", f"{cnn['speedup']:.2f} x",
     met(cnn["speedup"] >= 1.6)),
] if cnn else []) + ([
    ("bf16: the CNN's training vs f32 (issue 18)",
     "≥ 1.5 x faster, accuracy within 0.3 points",
     f"{1 / B16['cnn']['ratio']:.2f} x, accuracy {B16['cnn']['acc_diff']:+.2f} points",
     met(B16["cnn"]["ratio"] <= 1 / 1.5 and abs(B16["cnn"]["acc_diff"]) <= 0.3)),
] if "cnn" in B16 else []) + ([
    ("bf16: the seed's accuracy, mean of 3 seeds (issue 18)", "within 0.3 points of f32",
     f"{B16['seed']['acc_diff']:+.2f} points", met(abs(B16["seed"]["acc_diff"]) <= 0.3)),
] if "seed" in B16 else []) + [
    ("int8: the seed's batch-1 latency (issue 18)", "≤ 1 us",
     f"{I8['int8']['lat']:.2f} us", met(I8["int8"]["lat"] <= 1.0)),
    ("int8: the seed's test accuracy vs f32 (issue 18)", "within 0.5 points",
     f"{int8_acc_diff:+.2f} points", met(abs(int8_acc_diff) <= 0.5)),
    ("int8: object size (issue 18)", "smaller than the f32 inference object",
     f"{I8['int8']['bytes']} vs {I8['f32']['bytes']} bytes",
     met(I8["int8"]["bytes"] < I8["f32"]["bytes"])),
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
    ("epoch 1 (s)", f"{S['epoch1']:.3f}", f"{P['epoch1']:.3f}",
     f"{S['epoch1'] / P['epoch1']:.2f}"),
    ("median of epochs 2-5 (s)", f"{S['later']:.3f}", f"{P['later']:.3f}",
     f"{S['later'] / P['later']:.2f}"),
    ("epoch 1 / median of epochs 2-5", f"{S['first_ratio']:.2f}", f"{P['first_ratio']:.2f}", ""),
    ("training, 5 epochs, sorac on 2 threads (s)", f"{S2['train']:.3f}", "",
     f"{S2['train'] / P['train']:.2f}"),
    ("test accuracy, sorac on 2 threads", f"{S2['acc']:.4f}", "", "same weights"
     if S2['acc'] == S['acc'] else "differs!"),
    ("test accuracy", f"{S['acc']:.4f}", f"{P['acc']:.4f}", f"{acc_diff:+.2f} points"),
    ("achieved GFLOP/s, training", f"{S['train_gflops']:.1f}", f"{P['train_gflops']:.1f}",
     f"{S['train_gflops'] / P['train_gflops']:.2f}"),
    ("  as a share of the FMA peak", pct(S["train_gflops"]), pct(P["train_gflops"]), ""),
    ("achieved GFLOP/s, steady epochs (2-5)", f"{S['steady_gflops']:.1f}",
     f"{P['steady_gflops']:.1f}", f"{S['steady_gflops'] / P['steady_gflops']:.2f}"),
    ("  as a share of the FMA peak", pct(S["steady_gflops"]), pct(P["steady_gflops"]), ""),
    ("10 000-image inference (ms)", f"{1e3 * S['infer']:.2f}", f"{1e3 * P['infer']:.2f}",
     f"{S['infer'] / P['infer']:.2f}"),
    ("achieved GFLOP/s, 10 000-image inference", f"{S['infer_gflops']:.1f}",
     f"{P['infer_gflops']:.1f}", f"{S['infer_gflops'] / P['infer_gflops']:.2f}"),
    ("  as a share of the FMA peak", pct(S["infer_gflops"]), pct(P["infer_gflops"]), ""),
    ("batch-1 latency, median of 10 000 calls (us)", f"{S['lat']:.2f}", f"{P['lat']:.2f}",
     f"{S['lat'] / P['lat']:.3f}"),
    ("batch-1 latency, mean (us)", f"{S['lat_mean']:.2f}", f"{P['lat_mean']:.2f}",
     f"{S['lat_mean'] / P['lat_mean']:.3f}"),
    ("batch-1 latency, 99th percentile (us)", f"{S['lat_p99']:.2f}", f"{P['lat_p99']:.2f}",
     f"{S['lat_p99'] / P['lat_p99']:.3f}"),
    ("peak RSS (MiB)", f"{S['rss']:.0f}", f"{P['rss']:.0f}", f"{S['rss'] / P['rss']:.2f}"),
    ("object size at -O2 (bytes)", f"{object_bytes}", "", ""),
    ("MLP seconds per epoch with clip_norm (sorac run, 2 epochs)",
     f"{clip['clipped']:.3f}", "", ""),
    ("MLP seconds per epoch without it, same runs", f"{clip['plain']:.3f}", "", ""),
    ("clip_norm_ratio: with / without, median of the pairs", f"{clip['ratio']:.2f}",
     "", ""),
] + [
    (f"seed inference build ({kind}): batch-1 latency, median (us)",
     f"{I8[kind]['lat']:.2f}", "", f"99th percentile {I8[kind]['p99']:.2f} us")
    for kind in ("f32", "int8")
] + [
    (f"seed inference build ({kind}): test accuracy, object bytes",
     f"{I8[kind]['acc']:.4f}", "", f"{I8[kind]['bytes']}")
    for kind in ("f32", "int8")
] + [
    (f"{what} with precision = bf16: training (s)", f"{B16[name]['bf16']:.3f}", "",
     f"{B16[name]['ratio']:.2f} of f32's {B16[name]['f32']:.3f} s")
    for name, what in (("seed", "seed MLP, 5 epochs"), ("cnn", f"CNN, {cnn_epochs} epoch(s)"))
    if name in B16
] + [
    (f"{what}: test accuracy bf16 - f32 (points, mean of {len(bf16_runs[name])})",
     f"{B16[name]['acc_diff']:+.2f}", "", f"f32 {B16[name]['acc_f32']:.4f}")
    for name, what in (("seed", "seed MLP"), ("cnn", "CNN")) if name in B16
] + ([
    ("CNN (fashion_cnn): seconds per epoch", f"{cnn['sorac']:.2f}", f"{cnn['torch']:.2f}",
     f"{cnn['sorac'] / cnn['torch']:.2f}"),
    (f"CNN: test accuracy after {cnn_epochs} epoch(s)", f"{cnn['sorac_acc']:.4f}",
     f"{cnn['torch_acc']:.4f}", ""),
] + ([
    ("CNN: epoch 1 (s)", f"{cnn['sorac_epoch1']:.2f}", f"{cnn['torch_epoch1']:.2f}",
     f"{cnn['sorac_epoch1'] / cnn['torch_epoch1']:.2f}"),
    (f"CNN: {cnn_later} (s)", f"{cnn['sorac_steady']:.2f}",
     f"{cnn['torch_steady']:.2f}", f"{cnn['sorac_steady'] / cnn['torch_steady']:.2f}"),
    (f"CNN: epoch 1 / {cnn_later}", f"{cnn['sorac_first_ratio']:.2f}",
     f"{cnn['torch_first_ratio']:.2f}", ""),
] if cnn_epochs > 1 else []) + [
    (f"CNN: achieved GFLOP/s, training, {cnn_steady_what}", f"{cnn['sorac_gflops']:.0f}",
     f"{cnn['torch_gflops']:.0f}", f"{cnn['sorac_gflops'] / cnn['torch_gflops']:.2f}"),
    ("  as a share of the FMA peak", pct(cnn["sorac_gflops"]), pct(cnn["torch_gflops"]), ""),
    ("CNN: seconds per epoch, sorac on 2 threads", f"{cnn['sorac2']:.2f}", "",
     f"{cnn['sorac2'] / cnn['torch']:.2f}"),
    ("CNN: 2-thread speed-up (1-thread time / 2-thread time)", f"{cnn['speedup']:.2f}",
     "", ""),
    ("CNN: test accuracy, sorac on 2 threads", f"{cnn['sorac2_acc']:.4f}", "",
     "same" if cnn["sorac2_acc"] == cnn["sorac_acc"] else "differs"),
] if cnn else []) + ([
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

cpu, avx512 = machine.cpu_model()
ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [
    "# Benchmark: the seed's MLP on Fashion-MNIST",
    "",
    f"`make bench` (`bench/run.py`), {now}, on {cpu} ({ncpu} CPUs as `nproc`",
    f"counts them; AVX-512 {'yes' if avx512 else 'no'}; load average {load:.2f} at the start;",
    f"single-core FMA peak {peak:.1f} GFLOP/s, `bench/fma_peak.c`, {peak_runs[0]['isa']}).",
    f"{reps} repetitions alternating sorac (`bench/bench_mlp.c` linked with",
    "`examples/mnist_mlp/model.sora` compiled by `sorac -O2`) and",
    f"{peer} (`bench/torch_mlp.py`: one thread, OpenBLAS pinned to one",
    "thread, Debian's `/usr/bin/python3`); every figure is the median over the",
    "repetitions; ratio = sorac / PyTorch (below 1: sorac takes less time or",
    "memory; above 1: sorac does more GFLOP/s). The figures are a report, not a",
    "test: on a shared machine they move by 10-20 % from run to run.",
    "",
] + table(("figure", "sorac", "PyTorch", "ratio"), rows) + [
    "",
] + compile_times.markdown(compiled, compile_targets, compile_runs) + [
    "",
    "## Targets",
    "",
] + table(("target", "wanted", "measured", ""), targets) + [
    "",
] + how_it_is_measured(dict(
    gflop_infer=gflop_infer, gflop_train=gflop_train, peak_isa=peak_runs[0]["isa"],
    peak_lanes=peak_runs[0]["lanes"], peak_accumulators=peak_runs[0]["accumulators"],
    cnn_epochs=cnn_epochs, cnn_reps=cnn_reps, movielens_reps=movielens_reps,
    langid_reps=langid_reps, autoenc_reps=autoenc_reps, reps=reps,
    compile_runs=compile_runs)) + [
    "",
    "## Repetitions",
    "",
] + table(("rep", "sorac training (s)", "PyTorch training (s)", "sorac epochs (s)",
           "PyTorch epochs (s)", "sorac batch-1 (us)", "PyTorch batch-1 (us)",
           "sorac 10k (ms)", "PyTorch 10k (ms)"),
          [(i + 1, f"{s['train_s']:.3f}", f"{p['train_s']:.3f}",
            ", ".join(f"{e:.3f}" for e in s["epoch_s"]),
            ", ".join(f"{e:.3f}" for e in p["epoch_s"]),
            f"{s['batch1_median_us']:.2f}", f"{p['batch1_median_us']:.2f}",
            f"{1e3 * s['infer10k_s']:.2f}", f"{1e3 * p['infer10k_s']:.2f}")
           for i, (s, p) in enumerate(zip(sorac_runs, torch_runs))]) + ([
    "",
] + table(("CNN rep", "sorac epochs (s)", "PyTorch epochs (s)", "sorac, 2 threads (s)"),
          [(i + 1, ", ".join(f"{e:.2f}" for e in r["sorac_epochs"]),
            ", ".join(f"{e:.2f}" for e in r["torch_epochs"]), f"{r['sorac2']:.2f}")
           for i, r in enumerate(cnn_runs)]) if cnn_runs else []) + [
    "",
    "FMA peak runs (GFLOP/s, start and end): "
    + ", ".join(f"{r['gflops']:.1f}" for r in peak_runs) + ".",
]
text = "\n".join(lines) + "\n"
with open(os.path.join(root, "bench/results.md"), "w") as f:
    f.write(text)
print(text)
