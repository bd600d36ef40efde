#!/usr/bin/python3
"""The PyTorch peer of examples/language_id: which of 8 languages is a word?
Data as written by examples/language_id/make_data.py DATADIR: 16 character
ids per word (0 = padding, padded on the left) and a label 0..7; V, the
number of ids, read from stats.txt's `vocab` line.

Model: nn.Embedding(V, 32) (PyTorch's default init, N(0, 1)) ->
nn.LSTM(32, 128, batch_first=True) over all 16 steps, no masking (PyTorch's
default init, U(-1/sqrt(128), 1/sqrt(128)), both bias vectors) -> the last
step's hidden state -> nn.Linear(128, 8) -> softmax cross-entropy
(CrossEntropyLoss on the logits). MODEL=gru uses nn.GRU(32, 128) instead.
Adam 1e-3 with epsilon 1e-7 (sorac's, as Keras', not PyTorch's default
1e-8), batch 128, the training rows shuffled each epoch (torch.manual_seed(0)).
Settings as bench/torch_mlp.py: one thread, OpenBLAS pinned, Debian's
/usr/bin/python3.

Each epoch is timed like sorac's: the shuffled batches forward, backward and
step. Loading the CSVs is not timed. The test set is evaluated once, after
the last epoch, outside the timing (one forward pass under
torch.no_grad()). Per-epoch lines, then one JSON object as the last line.

Measured (12 000 words a language: 76 800 training, 19 200 test words,
V = 61; a 2-core machine shared with compilers): LSTM 12.6-15.3 s an epoch,
training accuracy 0.709 / 0.834 / 0.863 / 0.881 / 0.892, test accuracy
0.883 (loss 0.341); GRU 10.5-16.2 s an epoch, test accuracy 0.884. Without
libopenblas0-pthread (Debian's torch then uses the reference BLAS,
BLAS_INFO=generic) the LSTM takes 130-180 s an epoch, the same numbers.
Usage: torch_language_id.py DATADIR [EPOCHS=5] [THREADS=1] [MODEL=lstm|gru]"""
import os
import sys

if len(sys.argv) < 2:
    sys.exit(__doc__.rsplit("\n", 1)[-1])
data_dir = sys.argv[1]
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
model_kind = sys.argv[4] if len(sys.argv) > 4 else "lstm"
if model_kind not in ("lstm", "gru"):
    sys.exit(__doc__.rsplit("\n", 1)[-1])
# OpenBLAS sizes its thread pool when it loads: pin it first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
os.environ.setdefault("OMP_NUM_THREADS", str(threads))

import json, resource, time  # noqa: E402
import torch  # noqa: E402

STEPS, EMBED, HIDDEN, CLASSES = 16, 32, 128, 8
BATCH = 128


def read_csv(name):
    """c0..c15,language rows (the header line skipped, as sorac's csv() does)."""
    xs, ys = [], []
    with open(os.path.join(data_dir, name)) as f:
        for line in f:
            try:
                row = [int(v) for v in line.split(",")]
            except ValueError:
                continue  # the header
            xs.append(row[:STEPS])
            ys.append(row[STEPS])
    return torch.tensor(xs, dtype=torch.int64), torch.tensor(ys, dtype=torch.int64)


def read_vocab():
    with open(os.path.join(data_dir, "stats.txt")) as f:
        for line in f:
            key, _, value = line.partition(" ")
            if key == "vocab":
                return int(value)
    sys.exit(f"{data_dir}/stats.txt has no vocab line")


torch.set_num_threads(threads)
torch.manual_seed(0)
t = time.perf_counter()
x_train, y_train = read_csv("train.csv")
x_test, y_test = read_csv("test.csv")
vocab = read_vocab()
load_seconds = time.perf_counter() - t


class LanguageId(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, EMBED)
        rnn = torch.nn.LSTM if model_kind == "lstm" else torch.nn.GRU
        self.rnn = rnn(EMBED, HIDDEN, batch_first=True)
        self.out = torch.nn.Linear(HIDDEN, CLASSES)

    def forward(self, ids):
        seq, _ = self.rnn(self.embed(ids))  # [batch, 16, 128]
        # The last step's state: words are left-padded, so it has read the
        # whole word (the zeros come first and are not masked).
        return self.out(seq[:, -1, :])


model = LanguageId()
# eps=1e-7: sorac's Adam epsilon (Keras'), not PyTorch's default 1e-8.
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
loss_fn = torch.nn.CrossEntropyLoss()

n = len(y_train)
epoch_seconds, epoch_loss, epoch_acc = [], [], []
for epoch in range(epochs):
    t = time.perf_counter()
    order = torch.randperm(n)
    total, correct = 0.0, 0
    for i in range(0, n, BATCH):
        rows = order[i:i + BATCH]
        optimizer.zero_grad()
        logits = model(x_train[rows])
        loss = loss_fn(logits, y_train[rows])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(rows)
        correct += (logits.argmax(1) == y_train[rows]).sum().item()
    epoch_seconds.append(time.perf_counter() - t)
    epoch_loss.append(total / n)
    epoch_acc.append(correct / n)
    print(f"epoch {epoch + 1}/{epochs}: {epoch_seconds[-1]:.3f} s, loss {epoch_loss[-1]:.4f}, "
          f"accuracy {epoch_acc[-1]:.4f}", flush=True)

with torch.no_grad():
    logits = model(x_test)
    test_loss = loss_fn(logits, y_test).item()
    test_acc = (logits.argmax(1) == y_test).float().mean().item()
print(f"test: loss {test_loss:.4f}, accuracy {test_acc:.4f}", flush=True)
print(json.dumps({"peer": "pytorch-" + torch.__version__, "model": model_kind,
                  "threads": threads, "epochs": epochs, "vocab": vocab,
                  "train_samples": n, "test_samples": len(y_test),
                  "load_s": load_seconds,
                  "seconds": sum(epoch_seconds), "epoch_s": epoch_seconds,
                  "epoch_median_s": sorted(epoch_seconds)[len(epoch_seconds) // 2],
                  "epoch_loss": epoch_loss, "epoch_acc": epoch_acc,
                  "test_acc": test_acc, "test_loss": test_loss,
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
