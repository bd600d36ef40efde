#!/usr/bin/python3
"""The PyTorch peer of examples/autoencoder: 784-32 relu-784 sigmoid,
trained to reproduce its input (MSE over every pixel, as torch.nn.MSELoss
and sorac's mse), Adam 1e-3 (epsilon 1e-7, as Keras), batch 128, the 60 000
training images shuffled each epoch (torch.manual_seed(0)), Glorot-uniform
kernels and zero biases, on Fashion-MNIST from Debian's
dataset-fashion-mnist scaled to [0, 1]. Settings as bench/torch_mlp.py: one
thread, OpenBLAS pinned, Debian's /usr/bin/python3.

Each epoch is timed like sorac's: the shuffled batches forward, backward and
step; loading is not. After training, the test reconstruction MSE over the
10 000 test images (under torch.no_grad()). Prints one JSON line.
Usage: torch_autoencoder.py [EPOCHS=10] [THREADS=1]"""
import os
import sys

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
# OpenBLAS sizes its thread pool when it loads: pin it first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
os.environ.setdefault("OMP_NUM_THREADS", str(threads))

import gzip, json, struct, time  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

DATA = os.environ.get("FMNIST", "/usr/share/datasets/fashion-mnist")
BATCH = 128


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    _, _, ndim = struct.unpack(">HBB", raw[:4])
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def images(name):
    return torch.from_numpy(read_idx(name).reshape(-1, 784).astype(np.float32) / 255)


torch.set_num_threads(threads)
torch.manual_seed(0)
x_train = images("train-images-idx3-ubyte.gz")
x_test = images("t10k-images-idx3-ubyte.gz")

model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(),
                            torch.nn.Linear(32, 784), torch.nn.Sigmoid())
for layer in (model[0], model[2]):
    torch.nn.init.xavier_uniform_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
loss_fn = torch.nn.MSELoss()

epoch_seconds, train_mse = [], []
for epoch in range(epochs):
    t = time.perf_counter()
    order = torch.randperm(len(x_train))
    total = 0.0
    for i in range(0, len(x_train), BATCH):
        x = x_train[order[i:i + BATCH]]
        optimizer.zero_grad()
        loss = loss_fn(model(x), x)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
    epoch_seconds.append(time.perf_counter() - t)
    train_mse.append(total / len(x_train))
    print(f"epoch {epoch + 1}: train mse {train_mse[-1]:.6f} "
          f"({epoch_seconds[-1]:.2f} s)", file=sys.stderr, flush=True)

with torch.no_grad():
    test_mse = loss_fn(model(x_test), x_test).item()
    mean_mse = loss_fn(x_test.mean(0).expand_as(x_test), x_test).item()

print(json.dumps({"peer": "pytorch-" + torch.__version__, "threads": threads,
                  "epochs": epochs, "seconds": sum(epoch_seconds),
                  "epoch_s": epoch_seconds, "train_mse": train_mse,
                  "test_mse": test_mse, "mean_image_mse": mean_mse}))
