#!/usr/bin/python3
"""Writes the PyTorch fixtures of tests/onnx/pytorch_models.sh: three of the
examples' models trained briefly by PyTorch, exported to ONNX, with inputs
and PyTorch's outputs for sorac's imported models to reproduce.

Regenerate (about 3 minutes on one core; `make check` does not run this, it
uses the committed files, so the test suite needs no PyTorch):
    /usr/bin/python3 tests/onnx/make_models.py [LANGUAGE_DATA_DIR]
(Debian's python3-torch 1.13, python3-numpy, python3-onnx; Fashion-MNIST from
dataset-fashion-mnist; the language_id data from
examples/language_id/make_data.py, made in a temporary folder unless
LANGUAGE_DATA_DIR already holds it.) Seeds are fixed and one thread is used,
so the same torch writes the same files.

The models are the architectures of the bench peers, each ending in its
softmax (the exported outputs are probabilities, as sorac's are):
- mlp:  bench/torch_mlp.py (examples/mnist_mlp), 784-64 relu-10; input
        `image` [batch, 784], output `probs` [batch, 10]. One epoch.
- cnn:  bench/torch_cnn.py (examples/fashion_cnn); input `image`
        [batch, 1, 28, 28] (NCHW), output `probs` [batch, 10]. One epoch on
        the first 12 000 training images.
- lstm: bench/torch_language_id.py (examples/language_id), Embedding(61, 32)
        -> LSTM(32, 128) -> the last step -> Linear(128, 8); input `word`
        [batch, 16] int64 ids, output `language` [batch, 8]. One epoch on the
        first 24 000 training words.
- mlp_static: the same trained mlp exported with a static batch of 1
        (input [1, 784], output [1, 10]); its fixtures are mlp's.

Each is exported with opset 14 and, except mlp_static, a dynamic batch
dimension. Files under tests/onnx/models/:
- <m>.onnx
- <m>.input.bin: the first 256 test samples, raw little-endian; float32
  [256, 784] (mlp), float32 [256, 1, 28, 28] (cnn, which with one channel is
  also NHWC's order) or int32 [256, 16] ids (lstm: sorac's ids are int32).
- <m>.expected.bin: PyTorch's probabilities for them, float32 [256, classes].
- expected.json: per model, the accuracy and mean cross-entropy loss on the
  whole test set (10 000 images; 19 200 words) and the file shapes."""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import gzip, json, struct, subprocess, tempfile  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "models")
FMNIST = os.environ.get("FMNIST", "/usr/share/datasets/fashion-mnist")
FIXTURE_ROWS = 256
OPSET = 14
nn = torch.nn


def read_idx(name):
    with gzip.open(os.path.join(FMNIST, name), "rb") as f:
        raw = f.read()
    _, _, ndim = struct.unpack(">HBB", raw[:4])
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def train(model, x, y, epochs, seed):
    """Adam 1e-3 (epsilon 1e-7, sorac's), batch 128, softmax cross-entropy
    on the logits, the rows shuffled from `seed`."""
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            rows = order[i:i + 128]
            optimizer.zero_grad()
            loss_fn(model(x[rows]), y[rows]).backward()
            optimizer.step()
    model.eval()


def score(model, x, y):
    """Accuracy and mean cross-entropy over the whole set."""
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            logits = model(x[i:i + 1000])
            correct += (logits.argmax(1) == y[i:i + 1000]).sum().item()
            loss += nn.functional.cross_entropy(
                logits, y[i:i + 1000], reduction="sum").item()
    return correct / len(x), loss / len(x)


def export(name, probs, x, input_name, output_name, input_dtype, dynamic=True):
    """<name>.onnx of probs (the model with its softmax); for a dynamic model
    also the fixture rows' inputs and PyTorch's probabilities."""
    probs.eval()
    sample = x[:FIXTURE_ROWS] if dynamic else x[:1]
    axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic else None
    torch.onnx.export(probs, (sample,), os.path.join(OUT, name + ".onnx"),
                      opset_version=OPSET, input_names=[input_name],
                      output_names=[output_name], dynamic_axes=axes)
    if not dynamic:
        return None
    with torch.no_grad():
        expected = probs(sample).numpy().astype("<f4")
    sample.numpy().astype(input_dtype).tofile(os.path.join(OUT, name + ".input.bin"))
    expected.tofile(os.path.join(OUT, name + ".expected.bin"))
    return {"input": [FIXTURE_ROWS] + list(sample.shape[1:]),
            "input_type": "int32" if input_dtype == "<i4" else "float32",
            "output": list(expected.shape)}


def fashion_mnist():
    x_train = read_idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255
    x_test = read_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    y_train = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    y_test = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    return torch.from_numpy(x_train), y_train, torch.from_numpy(x_test), y_test


def mlp(data, results):
    x_train, y_train, x_test, y_test = (t.reshape(len(t), -1) if t.dim() > 1 else t
                                        for t in data)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    for layer in (model[0], model[2]):
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
    train(model, x_train, y_train, epochs=1, seed=2)
    acc, loss = score(model, x_test, y_test)
    # The softmax appended to the same layers: the tensors keep their names.
    probs = nn.Sequential(*model, nn.Softmax(dim=1))
    results["mlp"] = {"test_accuracy": acc, "test_loss": loss,
                      **export("mlp", probs, x_test, "image", "probs", "<f4")}
    export("mlp_static", probs, x_test, "image", "probs", "<f4", dynamic=False)
    results["mlp_static"] = dict(results["mlp"], input=[FIXTURE_ROWS, 1, 784],
                                 output=[FIXTURE_ROWS, 1, 10],
                                 fixtures="mlp")


def cnn(data, results):
    x_train, y_train, x_test, y_test = data
    x_train, x_test = x_train.reshape(-1, 1, 28, 28), x_test.reshape(-1, 1, 28, 28)
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(7 * 7 * 64, 128), nn.ReLU(), nn.Linear(128, 10))
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    train(model, x_train[:12000], y_train[:12000], epochs=1, seed=4)
    acc, loss = score(model, x_test, y_test)
    results["cnn"] = {"test_accuracy": acc, "test_loss": loss,
                      **export("cnn", nn.Sequential(*model, nn.Softmax(dim=1)),
                               x_test, "image", "probs", "<f4")}


class LanguageId(nn.Module):
    """bench/torch_language_id.py's LSTM model."""

    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.rnn = nn.LSTM(32, 128, batch_first=True)
        self.out = nn.Linear(128, 8)
        self.softmax = False  # logits for training, probabilities exported

    def forward(self, ids):
        seq, _ = self.rnn(self.embed(ids))
        logits = self.out(seq[:, -1, :])  # words are left-padded
        return logits.softmax(1) if self.softmax else logits


def read_words(path):
    rows = np.loadtxt(path, dtype=np.int64, delimiter=",", skiprows=1)
    return torch.from_numpy(rows[:, :16].copy()), torch.from_numpy(rows[:, 16].copy())


def language_data(data_dir):
    if not os.path.exists(os.path.join(data_dir, "test.csv")):
        subprocess.run([sys.executable, os.path.join(SRC, "examples/language_id/make_data.py"),
                        data_dir], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(data_dir, "stats.txt")) as f:
        vocab = int(dict(line.rstrip("\n").split(" ", 1) for line in f)["vocab"])
    # examples/language_id/model.sora's embedding(61, 32): the same ids.
    if vocab != 61:
        sys.exit(f"{data_dir}: vocab {vocab}, not the example's 61")
    return read_words(os.path.join(data_dir, "train.csv")) + \
        read_words(os.path.join(data_dir, "test.csv")) + (vocab,)


def lstm(data_dir, results):
    x_train, y_train, x_test, y_test, vocab = language_data(data_dir)
    torch.manual_seed(5)
    model = LanguageId(vocab)
    train(model, x_train[:24000], y_train[:24000], epochs=1, seed=6)
    acc, loss = score(model, x_test, y_test)
    model.softmax = True
    results["lstm"] = {"test_accuracy": acc, "test_loss": loss, "vocab": vocab,
                       **export("lstm", model, x_test, "word", "language", "<i4")}


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    results = {"torch": torch.__version__, "opset": OPSET, "rows": FIXTURE_ROWS}
    data = fashion_mnist()
    mlp(data, results)
    cnn(data, results)
    if len(sys.argv) > 1:
        lstm(sys.argv[1], results)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            lstm(tmp, results)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    for name in ("mlp", "cnn", "lstm"):
        print(f"{name}: test accuracy {results[name]['test_accuracy']:.4f}, "
              f"loss {results[name]['test_loss']:.4f}")


if __name__ == "__main__":
    main()
