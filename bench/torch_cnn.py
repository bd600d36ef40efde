#!/usr/bin/python3
"""The PyTorch peer of examples/fashion_cnn: the convolutional model of the
language reference, conv2d(32, 3x3, same, relu) -> maxpool 2 ->
conv2d(64, 3x3, same, relu) -> maxpool 2 -> flatten -> dropout 0.25 ->
dense(128, relu) -> dense(10, softmax); Adam 1e-3 (epsilon 1e-7, as Keras),
categorical cross-entropy, batch 128, the last 10 % held out, Keras' defaults
for the weights (Glorot-uniform kernels with receptive-field fans, zero
biases), on Fashion-MNIST from Debian's dataset-fashion-mnist. Settings as
bench/torch_mlp.py: one thread, OpenBLAS pinned, Debian's /usr/bin/python3.

The images are read as sorac reads them, NHWC [N, 28, 28, 1] scaled by
1/255, and permuted to PyTorch's NCHW once, before training. The flatten
before the dense layers is PyTorch's (C, H, W) order rather than sorac's
(H, W, C): a fixed permutation of the dense layer's inputs, the same model.

Each epoch is timed like sorac's (the runtime's per-epoch seconds): the
shuffled training batches forward and backward, then the validation pass.
Prints one JSON line. LIMIT uses only the first LIMIT training images (as
sorac run --limit) before the split.
Usage: torch_cnn.py [THREADS=1] [EPOCHS=5] [LIMIT=60000]"""
import os
import sys

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
limit = int(sys.argv[3]) if len(sys.argv) > 3 else 60000
# OpenBLAS sizes its thread pool when it loads: pin it first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
os.environ.setdefault("OMP_NUM_THREADS", str(threads))

import gzip, json, resource, struct, time  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

DATA = os.environ.get("FMNIST", "/usr/share/datasets/fashion-mnist")
BATCH = 128
VALIDATION_SPLIT = 0.1


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    _, _, ndim = struct.unpack(">HBB", raw[:4])
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def nchw(images):
    """uint8 [N, 28, 28] as sorac's NHWC floats [N, 28, 28, 1], then NCHW."""
    nhwc = images.reshape(-1, 28, 28, 1).astype(np.float32) / 255
    return torch.from_numpy(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))


torch.set_num_threads(threads)
torch.manual_seed(0)
x_all = nchw(read_idx("train-images-idx3-ubyte.gz"))[:limit]
y_all = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz").astype(np.int64))[:limit]
x_test = nchw(read_idx("t10k-images-idx3-ubyte.gz"))
y_test = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
split = len(x_all) - int(len(x_all) * VALIDATION_SPLIT)
x_train, y_train = x_all[:split], y_all[:split]
x_val, y_val = x_all[split:], y_all[split:]

nn = torch.nn
model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Dropout(0.25),
    nn.Linear(7 * 7 * 64, 128), nn.ReLU(), nn.Linear(128, 10))
for layer in model:
    if isinstance(layer, (nn.Conv2d, nn.Linear)):
        # xavier_uniform_ takes the receptive field into the fans of a
        # conv kernel, as Keras' glorot_uniform does.
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
loss_fn = nn.CrossEntropyLoss()  # softmax + categorical cross-entropy


def accuracy(x, y):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
                      for i in range(0, len(x), 1000))
    model.train()
    return correct / max(len(x), 1)


epoch_seconds = []
val_acc = 0.0
start = time.perf_counter()
for _ in range(epochs):
    t = time.perf_counter()
    order = torch.randperm(len(x_train))
    for i in range(0, len(x_train), BATCH):
        rows = order[i:i + BATCH]
        optimizer.zero_grad()
        loss_fn(model(x_train[rows]), y_train[rows]).backward()
        optimizer.step()
    val_acc = accuracy(x_val, y_val)
    epoch_seconds.append(time.perf_counter() - t)
train_seconds = time.perf_counter() - start

t = time.perf_counter()
test_acc = accuracy(x_test, y_test)
infer_seconds = time.perf_counter() - t

print(json.dumps({"peer": "pytorch-" + torch.__version__, "threads": threads,
                  "mkldnn": torch.backends.mkldnn.is_available(),
                  "train_s": train_seconds, "epochs": epochs, "epoch_s": epoch_seconds,
                  "epoch_median_s": sorted(epoch_seconds)[len(epoch_seconds) // 2],
                  "train_samples": len(x_train), "val_samples": len(x_val),
                  "val_acc": val_acc, "test_acc": test_acc,
                  "infer10k_s": infer_seconds, "infer_images": len(x_test),
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
