#!/bin/sh
# Writes the movielens example's data: OUTDIR/train.csv, OUTDIR/test.csv and
# OUTDIR/stats.txt, from the `movielens` data frame of Debian's r-cran-dslabs
# (100 004 ratings of 9 066 movies by 671 users, MovieLens "latest-small").
#
# Usage: make_data.sh OUTDIR [--subset N]
#
# - User and movie ids become dense 0-based ids, in the order of the original
#   ids (user 0 is the smallest userId, and so on).
# - The ratings are first sorted by (userId, movieId) - each pair occurs once -
#   so the result does not depend on the data frame's row order; they are then
#   shuffled by sorting on SHA-256("movielens-split-1:<row>") of each row's
#   index in that order: no R or Python random generator is involved, so the
#   split is the same on any machine. The first floor(n / 10) shuffled rows
#   (10 000 of 100 004) are the test set, the rest (90 004) the training set,
#   both in shuffled order.
# - CSV lines are `user,movie,rating` after a header line `user,movie,rating`
#   (sorac's csv() skips a first line one of whose fields is not a number).
#   Ratings are multiples of 0.5 and are written with one decimal (3.0, 3.5),
#   as in MovieLens' own ratings.csv.
# - stats.txt: `key value` lines: users, movies, ratings, train, test, and
#   mean, the mean of the training ratings to 6 decimals (the model's constant).
# - --subset N writes only the first N training rows (test.csv unchanged); the
#   counts and the mean in stats.txt stay those of the whole training set, so
#   the model's constant does not change, and `train_written N` is added.
#
# Exits 77 (the test harness's "skipped") if Rscript or dslabs is missing.
# Files are written under temporary names and renamed: rerunning is safe.
set -eu

usage() { echo "usage: $0 OUTDIR [--subset N]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1
shift
subset=
while [ $# -gt 0 ]; do
  case $1 in
    --subset) [ $# -ge 2 ] || usage; subset=$2; shift 2 ;;
    --subset=*) subset=${1#--subset=}; shift ;;
    *) usage ;;
  esac
done
case $subset in
  '') ;;
  *[!0-9]*) usage ;;
esac

if ! command -v Rscript >/dev/null 2>&1; then
  echo "$0: skipped: Rscript not found (Debian packages r-base-core, r-cran-dslabs)" >&2
  exit 77
fi
if ! Rscript -e 'quit(status = if (requireNamespace("dslabs", quietly = TRUE)) 0 else 77)' \
     >/dev/null 2>&1; then
  echo "$0: skipped: R package dslabs not found (Debian packages r-base-core, r-cran-dslabs)" >&2
  exit 77
fi

mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/movielens.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# userId,movieId,rating with ratings at full precision (they are halves).
Rscript -e '
  data("movielens", package = "dslabs")
  write.table(movielens[, c("userId", "movieId", "rating")], file = commandArgs(TRUE)[1],
              sep = ",", row.names = FALSE, col.names = FALSE, quote = FALSE)
' "$tmp/ratings.csv"

python3 - "$tmp/ratings.csv" "$out" "$subset" <<'EOF'
import hashlib, os, sys

src, out, subset = sys.argv[1], sys.argv[2], sys.argv[3]
rows = []
with open(src) as f:
    for line in f:
        u, m, r = line.strip().split(",")
        twice = float(r) * 2
        if twice != int(twice) or not 0 < twice <= 10:
            sys.exit(f"make_data.sh: unexpected rating {r!r}")
        rows.append((int(u), int(m), int(twice)))  # ratings kept as whole halves
rows.sort()
if len({(u, m) for u, m, _ in rows}) != len(rows):
    sys.exit("make_data.sh: a (user, movie) pair is rated twice")
users = {u: i for i, u in enumerate(sorted({u for u, _, _ in rows}))}
movies = {m: i for i, m in enumerate(sorted({m for _, m, _ in rows}))}

def key(i):
    return hashlib.sha256(b"movielens-split-1:%d" % i).digest()

order = sorted(range(len(rows)), key=key)
n_test = len(rows) // 10
test = [rows[i] for i in order[:n_test]]
train = [rows[i] for i in order[n_test:]]
mean = sum(r for _, _, r in train) / (2 * len(train))  # exact sum of halves
written = train[:int(subset)] if subset else train

def write(name, text):
    tmp = os.path.join(out, "." + name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(out, name))

def csv(part):
    return "user,movie,rating\n" + "".join(
        "%d,%d,%d.%d\n" % (users[u], movies[m], r // 2, 5 * (r % 2)) for u, m, r in part)

stats = (f"users {len(users)}\nmovies {len(movies)}\nratings {len(rows)}\n"
         f"train {len(train)}\ntest {len(test)}\nmean {mean:.6f}\n")
if subset:
    stats += f"train_written {len(written)}\n"
write("train.csv", csv(written))
write("test.csv", csv(test))
write("stats.txt", stats)
sys.stdout.write(stats)
EOF
