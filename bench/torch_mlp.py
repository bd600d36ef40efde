#!/usr/bin/python3
"""The PyTorch peer of the seed's model for `make bench`: 784-64 relu-10
softmax, Adam 1e-3 (epsilon 1e-7, as Keras), categorical cross-entropy, batch
128, 5 epochs, the last 20 % held out, Glorot-uniform kernels and zero biases,
on Fashion-MNIST from Debian's dataset-fashion-mnist. Settings as
shared/peers/torch_mlp.py. Prints one JSON line.
Usage: torch_mlp.py [THREADS=1] [EPOCHS=5]"""
import os
import sys

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
# OpenBLAS sizes its thread pool when it loads: pin it first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
os.environ.setdefault("OMP_NUM_THREADS", str(threads))

import gzip, json, struct, time  # noqa: E402
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
    t = time.perf_counter()
    logits = model(x_test)
    infer_seconds = time.perf_counter() - t
    test_acc = (logits.argmax(1) == y_test).float().mean().item()

print(json.dumps({"peer": "pytorch-" + torch.__version__, "threads": threads,
                  "train_s": train_seconds, "epoch_s": epoch_seconds,
                  "val_acc": val_acc, "test_acc": test_acc,
                  "infer10k_s": infer_seconds}))
