#!/bin/sh
# The speech_digits example end to end on a subset: make_data.py synthesises
# 40 utterances of each digit with espeak-ng (skipped, 77, where espeak-ng
# or numpy is missing), then sorac trains the conv1d + GRU model for 15
# epochs and the test accuracy, on speakers never heard in training, must
# be at least MIN_ACCURACY (chance: 0.1).
# Usage: speech_digits.sh SORAC DIR MIN_ACCURACY
set -eu
sorac=$1 dir=$2 min=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir"
/usr/bin/python3 "$src/examples/speech_digits/make_data.py" "$dir" --per-digit 40 >/dev/null || exit $?
exec python3 "$src/tests/e2e/expect_report.py" "$sorac" \
  "$src/examples/speech_digits/model.sora" --data "$dir" --epochs 15 --quiet -- \
  "test_accuracy>=$min"
