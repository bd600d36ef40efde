#!/usr/bin/env bash
# Trains with each seed and checks the mean test accuracy the program prints.
# One short run's accuracy varies by about +-0.02 with the seed (PyTorch's
# does too), so a threshold near the typical value is checked on the mean
# of a few seeds rather than on one draw.
#   expect_accuracy.sh MIN "SEED..." PROGRAM [ARGS...]
set -euo pipefail
min=$1
seeds=$2
shift 2
sum=0
for seed in $seeds; do
  out=$("$@" --seed "$seed")
  echo "$out"
  acc=$(echo "$out" | sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p')
  if [[ -z "$acc" ]]; then
    echo "FAIL: no 'test accuracy:' line" >&2
    exit 1
  fi
  sum=$(awk -v s="$sum" -v a="$acc" 'BEGIN { print s + a }')
done
mean=$(awk -v s="$sum" -v n="$(echo $seeds | wc -w)" 'BEGIN { printf "%.4f", s / n }')
if awk -v a="$mean" -v m="$min" 'BEGIN { exit !(a >= m) }'; then
  echo "PASS: mean test accuracy $mean >= $min (seeds $seeds)"
else
  echo "FAIL: mean test accuracy $mean < $min (seeds $seeds)" >&2
  exit 1
fi
