#!/usr/bin/env bash
# Two builds of one example must reach the same test accuracy within TOL.
#   same_accuracy.sh TOL "ARGS" PROGRAM_A PROGRAM_B
set -euo pipefail
tol=$1
args=$2
acc() {
  # shellcheck disable=SC2086
  "$1" $args | sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p'
}
a=$(acc "$3")
b=$(acc "$4")
echo "test accuracy: $a ($(basename "$3")) vs $b ($(basename "$4"))"
if awk -v a="$a" -v b="$b" -v t="$tol" \
     'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t) }'; then
  echo "PASS: they differ by at most $tol"
else
  echo "FAIL: they differ by more than $tol" >&2
  exit 1
fi
