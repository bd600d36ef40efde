#!/usr/bin/python3
"""The PyTorch peer of examples/movielens: matrix factorisation with biases on
the MovieLens ratings of Debian's r-cran-dslabs, as written by
examples/movielens/make_data.sh DATADIR. The model: user and movie embeddings
(671 x 32, 9 066 x 32, normal(0, 0.05)), user and movie bias embeddings
(671 x 1, 9 066 x 1, zeros); rating = dot(u, m) + ub + mb + MEAN, MEAN the
training ratings' mean (stats.txt's `mean`, the constant of sorac's model, or
computed from train.csv without it). MSE loss, Adam 1e-3, batch 256, the
training rows shuffled each epoch (torch.manual_seed(0)), dense embedding
gradients (nn.Embedding's default sparse=False), as sorac computes them.
Settings as bench/torch_mlp.py: one thread, OpenBLAS pinned, Debian's
/usr/bin/python3.

Each epoch is timed like sorac's: the shuffled batches forward, backward and
step. Loading the CSVs is not timed. After each epoch the test set is
evaluated (one forward pass, under torch.no_grad(), outside the timing: sorac
evaluates `test` once, after the last epoch) and a line printed; the last
line is one JSON object.

The first epoch is slow by default (about 3 s against 0.4-0.9 s for the
others, on 90 004 rows): each step's dense gradient of the 9 066 x 32 movie
table (1.2 MB) is above glibc's initial mmap threshold, so it is mmapped,
faulted in and unmapped per step until the dynamic threshold has risen.
MALLOC_MMAP_THRESHOLD_=67108864 in the environment removes that (about
0.4 s every epoch); this script leaves the allocator as it is.
Usage: torch_movielens.py DATADIR [EPOCHS=5] [THREADS=1]"""
import os
import sys

if len(sys.argv) < 2:
    sys.exit(__doc__.rsplit("\n", 1)[-1])
data_dir = sys.argv[1]
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
# OpenBLAS sizes its thread pool when it loads: pin it first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
os.environ.setdefault("OMP_NUM_THREADS", str(threads))

import json, math, resource, time  # noqa: E402
import torch  # noqa: E402

USERS, MOVIES, DIM = 671, 9066, 32
BATCH = 256


def read_csv(name):
    """user,movie,rating rows (a header line skipped, as sorac's csv() does)."""
    users, movies, ratings = [], [], []
    with open(os.path.join(data_dir, name)) as f:
        for line in f:
            fields = line.split(",")
            try:
                u, m, r = int(fields[0]), int(fields[1]), float(fields[2])
            except ValueError:
                continue  # the header
            users.append(u)
            movies.append(m)
            ratings.append(r)
    return (torch.tensor(users, dtype=torch.int64), torch.tensor(movies, dtype=torch.int64),
            torch.tensor(ratings, dtype=torch.float32))


def read_mean():
    try:
        with open(os.path.join(data_dir, "stats.txt")) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "mean":
                    return float(value)
    except FileNotFoundError:
        pass
    return None


torch.set_num_threads(threads)
torch.manual_seed(0)
t = time.perf_counter()
u_train, m_train, r_train = read_csv("train.csv")
u_test, m_test, r_test = read_csv("test.csv")
mean = read_mean()
if mean is None:
    mean = r_train.double().mean().item()
load_seconds = time.perf_counter() - t


class MF(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.u = torch.nn.Embedding(USERS, DIM)
        self.m = torch.nn.Embedding(MOVIES, DIM)
        self.ub = torch.nn.Embedding(USERS, 1)
        self.mb = torch.nn.Embedding(MOVIES, 1)
        torch.nn.init.normal_(self.u.weight, 0.0, 0.05)
        torch.nn.init.normal_(self.m.weight, 0.0, 0.05)
        torch.nn.init.zeros_(self.ub.weight)
        torch.nn.init.zeros_(self.mb.weight)

    def forward(self, user, movie):
        dot = (self.u(user) * self.m(movie)).sum(-1)
        return dot + self.ub(user).squeeze(-1) + self.mb(movie).squeeze(-1) + mean


model = MF()
# eps=1e-7: sorac's Adam epsilon (Keras'), not PyTorch's default 1e-8.
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
loss_fn = torch.nn.MSELoss()


def test_mse():
    with torch.no_grad():
        return torch.mean((model(u_test, m_test) - r_test) ** 2).item()


n = len(r_train)
epoch_seconds, epoch_loss, epoch_test_rmse = [], [], []
for epoch in range(epochs):
    t = time.perf_counter()
    order = torch.randperm(n)
    total = 0.0
    for i in range(0, n, BATCH):
        rows = order[i:i + BATCH]
        optimizer.zero_grad()
        loss = loss_fn(model(u_train[rows], m_train[rows]), r_train[rows])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(rows)
    epoch_seconds.append(time.perf_counter() - t)
    epoch_loss.append(total / n)
    epoch_test_rmse.append(math.sqrt(test_mse()))
    print(f"epoch {epoch + 1}/{epochs}: {epoch_seconds[-1]:.3f} s, loss {epoch_loss[-1]:.4f}, "
          f"rmse {math.sqrt(epoch_loss[-1]):.4f}, test_rmse {epoch_test_rmse[-1]:.4f}",
          flush=True)

mse = test_mse()
print(json.dumps({"peer": "pytorch-" + torch.__version__, "threads": threads,
                  "epochs": epochs, "train_samples": n, "test_samples": len(r_test),
                  "mean": mean, "load_s": load_seconds,
                  "seconds": sum(epoch_seconds), "epoch_s": epoch_seconds,
                  "epoch_median_s": sorted(epoch_seconds)[len(epoch_seconds) // 2],
                  "epoch_loss": epoch_loss, "epoch_test_rmse": epoch_test_rmse,
                  "test_mse": mse, "test_rmse": math.sqrt(mse),
                  "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
