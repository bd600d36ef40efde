#!/usr/bin/env bash
# Checkpoints outlive the compiler that wrote them: mnist_mlp_0.1.0.safetensors
# was saved by sorac 0.1.0 (`sorac run examples/mnist_mlp/model.sora
# --epochs 1 --limit 1000 --save ...`, which then reported test loss 1.70271,
# accuracy 0.4764). Today's sorac must load it (same model hash), evaluate
# it to those numbers, and resume from it exactly as a run never stopped.
#   check.sh SORAC EXAMPLES_DIR
set -euo pipefail
sorac=$1
model=$2/mnist_mlp/model.sora
ckpt=$(dirname "$0")/mnist_mlp_0.1.0.safetensors
field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])[sys.argv[1]])' "$1"; }

eval=$("$sorac" eval "$model" --weights "$ckpt" -q --report json)
loss=$(field test_loss <<< "$eval")
accuracy=$(field test_accuracy <<< "$eval")
echo "evaluated: test loss $loss, accuracy $accuracy (saved: 1.70271, 0.4764)"
python3 -c "import sys; sys.exit(not (abs($loss - 1.70271) < 1e-4 and abs($accuracy - 0.4764) < 1e-9))" ||
  { echo "FAIL: the old checkpoint evaluates differently" >&2; exit 1; }

resumed=$("$sorac" run "$model" --init "$ckpt" --epochs 2 --limit 1000 -q --report json)
straight=$("$sorac" run "$model" --epochs 2 --limit 1000 -q --report json)
for key in steps train_loss val_loss test_loss; do
  a=$(field $key <<< "$resumed")
  b=$(field $key <<< "$straight")
  echo "$key: resumed $a, straight $b"
  [[ "$a" == "$b" ]] || { echo "FAIL: resuming the old checkpoint differs" >&2; exit 1; }
done
echo "PASS: the 0.1.0 checkpoint loads, evaluates and resumes"
