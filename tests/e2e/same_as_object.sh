#!/usr/bin/env bash
# `sorac run` (JIT) and the linked object file must compute the same thing:
# the same training run prints the same epoch metrics and test line.
#   same_as_object.sh SORAC MODEL.sora PROGRAM ARGS...
set -euo pipefail
sorac=$1 model=$2 program=$3
shift 3
metrics() { sed -n -e 's/^[0-9]*\/[0-9]* - [0-9.]*s - //p' -e '/^test:/p'; }
a=$("$sorac" run "$model" "$@" | metrics)
b=$("$program" "$@" | metrics)
echo "sorac run:   $a"
echo "object file: $b"
[[ -n "$a" && "$a" == "$b" ]] && echo "PASS: identical" || { echo "FAIL: they differ" >&2; exit 1; }
