#!/bin/sh
# The speech_digits example end to end on a subset: make_data.py --small
# has espeak-ng say the ten digits with 4 voices, 2 rates and 2 pitches
# (160 clips; skipped, 77, without espeak-ng or numpy), then sorac trains
# the conv1d + GRU model for 30 epochs and the test accuracy (32 clips) must
# be at least MIN_ACCURACY (chance: 0.1).
# Usage: speech_digits.sh SORAC DIR MIN_ACCURACY
set -eu
sorac=$1 dir=$2 min=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir"
/usr/bin/python3 "$src/examples/speech_digits/make_data.py" "$dir" --small \
  >/dev/null || exit $?
exec python3 "$src/tests/e2e/expect_report.py" "$sorac" \
  "$src/examples/speech_digits/model.sora" --data "$dir" --epochs 30 \
  --quiet -- "test_accuracy>=$min"
