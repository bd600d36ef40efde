#!/usr/bin/env bash
# The runtime's threads share loops, never reductions: one and two threads
# must print the same losses and accuracies, digit for digit.
#   threads_agree.sh PROGRAM ARGS...
set -euo pipefail
metrics() { sed -n -e 's/^[0-9]*\/[0-9]* - [0-9.]*s - //p' -e '/^test:/p'; }
one=$("$@" --threads 1 | metrics)
two=$("$@" --threads 2 | metrics)
echo "1 thread:  $one"
echo "2 threads: $two"
[[ -n "$one" && "$one" == "$two" ]] && echo "PASS: identical" || { echo "FAIL: they differ" >&2; exit 1; }
