#!/usr/bin/env bash
# Checkpoints of compiled models, through sorac run and sorac eval:
#  - resuming from a checkpoint gives the same weights and optimizer state as
#    training straight through, bit for bit (the files are identical);
#  - sorac eval on the saved weights reports the test metrics the run did;
#  - a checkpoint of another model is refused with a clear error.
#   checkpoints.sh SORAC EXAMPLES_DIR
set -euo pipefail
sorac=$1 examples=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rings=$examples/binary/model.sora

"$sorac" run "$rings" --epochs 4 --save "$tmp/straight.safetensors" > /dev/null
"$sorac" run "$rings" --epochs 2 --save "$tmp/half.safetensors" > /dev/null
"$sorac" run "$rings" --epochs 4 --init "$tmp/half.safetensors" \
  --save "$tmp/resumed.safetensors" > "$tmp/resumed.log"
grep -q "Epoch 3/4" "$tmp/resumed.log" || { echo "FAIL: did not resume at epoch 3" >&2; exit 1; }
cmp "$tmp/straight.safetensors" "$tmp/resumed.safetensors"
echo "PASS: 2 + 2 epochs through a checkpoint == 4 epochs, bit for bit"

mlp=$examples/mnist_mlp/model.sora
run=$("$sorac" run "$mlp" --epochs 1 --limit 2000 --save "$tmp/mlp.safetensors" | grep '^test:')
eval=$("$sorac" eval "$mlp" --weights "$tmp/mlp.safetensors" | grep '^test:' | sed 's/ (.*//')
echo "run:  $run"
echo "eval: $eval"
[[ "$run" == "$eval" ]] || { echo "FAIL: eval differs from the run" >&2; exit 1; }
echo "PASS: sorac eval reports the run's test metrics"

if "$sorac" run "$examples/regression/model.sora" --init "$tmp/straight.safetensors" \
    > /dev/null 2> "$tmp/err.log"; then
  echo "FAIL: a checkpoint of another model was accepted" >&2
  exit 1
fi
cat "$tmp/err.log"
grep -q "straight.safetensors" "$tmp/err.log"
echo "PASS: a checkpoint of another model is refused"
