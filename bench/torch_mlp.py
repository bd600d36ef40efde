#!/usr/bin/python3
"""The PyTorch peer of the seed's model for `make bench`: 784-64 relu-10
softmax, Adam 1e-3 (epsilon 1e-7, as Keras), categorical cross-entropy, batch
128, 5 epochs, the last 20 % held out, Glorot-uniform kernels and zero biases,
on Fashion-MNIST from Debian's dataset-fashion-mnist. Settings as
shared/peers/torch_mlp.py. After training, on the 10 000 test images (under
torch.no_grad()): one forward pass over all of them (after a warm-up pass;
median of INFER_RUNS), and LATENCY_CALLS warm one-image forward passes, each
timed with perf_counter_ns (median and mean). Prints one JSON line, with the
process's peak RSS (ru_maxrss, KiB), which includes the torch import.
Usage: torch_mlp.py [THREADS=1] [EPOCHS=5] [INFER_RUNS=11] [LATENCY_CALLS=10000]"""
import os
import sys

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
infer_runs = int(sys.argv[3]) if len(sys.argv) > 3 else 11
latency_calls = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
# OpenBLAS sizes its thread pool when it loads: pin it first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
os.environ.setdefault("OMP_NUM_THREADS", str(threads))

import gzip, json, resource, statistics, struct, time  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

DATA = os.environ.get("FMNIST", "/usr/share/datasets/fashion-mnist")


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    _, _, ndim = struct.unpack(">HBB", raw[:4])
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


torch.set_num_threads(threads)
torch.manual_seed(0)
x_all = read_idx("train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
y_all = read_idx("train-labels-idx1-ubyte.gz").astype(np.int64)
x_test = torch.from_numpy(read_idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255)
y_test = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
split = int(len(x_all) * 0.8)
x_train, y_train = torch.from_numpy(x_all[:split]), torch.from_numpy(y_all[:split])
x_val, y_val = torch.from_numpy(x_all[split:]), torch.from_numpy(y_all[split:])

model = torch.nn.Sequential(torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
for layer in (model[0], model[2]):
    torch.nn.init.xavier_uniform_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
loss_fn = torch.nn.CrossEntropyLoss()

epoch_seconds = []
start = time.perf_counter()
for _ in range(epochs):
    t = time.perf_counter()
    order = torch.randperm(len(x_train))
    for i in range(0, len(x_train), 128):
        rows = order[i:i + 128]
        optimizer.zero_grad()
        loss_fn(model(x_train[rows]), y_train[rows]).backward()
        optimizer.step()
    with torch.no_grad():
        val_acc = (model(x_val).argmax(1) == y_val).float().mean().item()
    epoch_seconds.append(time.perf_counter() - t)
train_seconds = time.perf_counter() - start

with torch.no_grad():
    logits = model(x_test)  # warm-up
    infer_times = []
    for _ in range(infer_runs):
        t = time.perf_counter()
        logits = model(x_test)
        infer_times.append(time.perf_counter() - t)
    test_acc = (logits.argmax(1) == y_test).float().mean().item()

    # Batch 1: one-row views of the test images, made before timing.
    rows = [x_test[i:i + 1] for i in range(len(x_test))]
    for i in range(1000):  # warm-up
        model(rows[i % len(rows)])
    lat_ns = []
    clock = time.perf_counter_ns
    loop = clock()
    for i in range(latency_calls):
        x1 = rows[i % len(rows)]
        t = clock()
        model(x1)
        lat_ns.append(clock() - t)
    loop = clock() - loop
    clock_ns = []
    for _ in range(latency_calls):
        t = clock()
        clock_ns.append(clock() - t)

print(json.dumps({"peer": "pytorch-" + torch.__version__, "threads": threads,
                  "train_s": train_seconds, "epochs": epochs, "epoch_s": epoch_seconds,
                  "train_samples": len(x_train), "val_samples": len(x_val),
                  "val_acc": val_acc, "test_acc": test_acc,
                  "infer10k_s": statistics.median(infer_times),
                  "infer10k_min_s": min(infer_times), "infer_images": len(x_test),
                  "infer_runs": infer_runs,
                  "batch1_median_us": statistics.median(lat_ns) / 1e3,
                  "batch1_mean_us": statistics.fmean(lat_ns) / 1e3,
                  "batch1_loop_us": loop / latency_calls / 1e3,
                  "batch1_p99_us": sorted(lat_ns)[int((latency_calls - 1) * 0.99)] / 1e3,
                  "batch1_calls": latency_calls,
                  "clock_overhead_us": statistics.median(clock_ns) / 1e3,
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
