#!/bin/sh
# The language_id example end to end on a subset: make_data.py takes 1 000
# words of each language from Debian's word lists (skipped, 77, where a list
# is missing), then sorac trains the character-level LSTM for 2 epochs and
# the test accuracy must be at least MIN_ACCURACY (chance: 0.125).
# Usage: language_id.sh SORAC DIR MIN_ACCURACY
set -eu
sorac=$1 dir=$2 min=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir"
python3 "$src/examples/language_id/make_data.py" "$dir" --words 1000 >/dev/null || exit $?
exec python3 "$src/tests/e2e/expect_report.py" "$sorac" \
  "$src/examples/language_id/model.sora" --data "$dir" --epochs 2 --quiet -- \
  "test_accuracy>=$min"
