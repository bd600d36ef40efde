#!/usr/bin/env bash
# bench/mpi.sh [BUILD] [LIMIT]: data-parallel training throughput of the
# seed's model (examples/mnist_mlp) at 1 and 2 ranks, and the time of one
# allreduce of its gradient block. Reports; never fails on a time. Needs
# sorac built with MPI (libopenmpi-dev, openmpi-bin) and Fashion-MNIST.
set -euo pipefail
build=${1:-build}
limit=${2:-0}
src=$(cd "$(dirname "$0")/.." && pwd)
sorac=$build/bin/sorac
model=$src/examples/mnist_mlp/model.sora
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# sorac run rejects --limit 0 (it would mean "all"): pass it only when set.
limit_args=()
[[ $limit -gt 0 ]] && limit_args=(--limit "$limit")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Samples per second of training: the train split over the median epoch's
# seconds, of $epochs epochs (one epoch of 0.1 s is at the mercy of a
# moment's load on a shared machine).
epochs=5
rate() { # RANKS
  local launch=()
  [[ $1 -gt 1 ]] && launch=(mpirun -np "$1" --bind-to core)
  "${launch[@]}" "$sorac" run "$model" --epochs "$epochs" "${limit_args[@]}" \
    --quiet --log "$work/log$1.csv"
  python3 -c '
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
seconds = statistics.median(float(r["seconds"]) for r in rows)
samples = '"$samples"'
print("%d rank(s): %.3f s per epoch (median of %d), %.0f samples/s" % (
    '"$1"', seconds, len(rows), samples / seconds))' "$work/log$1.csv"
}
count=60000
[[ $limit -gt 0 && $limit -lt $count ]] && count=$limit
samples=$(python3 -c "print(int($count * 0.8))")  # validation_split 0.2
echo "seed MLP (784-64-10, Adam, batch 128), $samples training samples:"
one=$(rate 1)
two=$(rate 2)
printf '%s\n%s\n' "$one" "$two"
# Scaling: 2-rank throughput over 1-rank (2.00 would be perfect).
speed() { sed -E 's/.* ([0-9]+) samples\/s.*/\1/' <<<"$1"; }
python3 -c "print('scaling at 2 ranks: %.2fx the 1-rank throughput' % ($(speed "$two") / $(speed "$one")))"

# The allreduce block: the weights' floats (each tensor 64-byte aligned),
# the step's SORA_NUM_STATS (408) statistics and its stop request.
floats=$(( (784*64 + 15)/16*16 + (64+15)/16*16 + (64*10+15)/16*16 + (10+15)/16*16 + 409 ))
mpicc -O2 -o "$work/mpi_allreduce" "$src/bench/mpi_allreduce.c"
mpirun -np 2 --bind-to core "$work/mpi_allreduce" "$floats" 500
# Would overlapping it with backward pay here? ~110 us: a rank's grad_step.
mpicc -O2 -o "$work/mpi_overlap" "$src/bench/mpi_overlap.c"
mpirun -np 2 --bind-to core "$work/mpi_overlap" "$floats" 110
