#!/usr/bin/env bash
# The classify and finetune examples on a checkpoint of one short epoch:
# classify labels the test images (and its accuracy is the checkpoint's);
# finetune continues to epoch 2 and improves the test accuracy.
#   classify_finetune.sh SORAC CLASSIFY FINETUNE EXAMPLES
set -euo pipefail
sorac=$1 classify=$2 finetune=$3 examples=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=/usr/share/datasets/fashion-mnist
"$sorac" run "$examples/mnist_mlp/model.sora" --epochs 1 --limit 3000 \
  --save "$tmp/one.safetensors" | grep '^test:'
"$classify" "$tmp/one.safetensors" "$data/t10k-images-idx3-ubyte.gz" \
  "$data/t10k-labels-idx1-ubyte.gz" > "$tmp/classes.txt"
head -3 "$tmp/classes.txt"
tail -1 "$tmp/classes.txt"
[[ $(wc -l < "$tmp/classes.txt") -eq 10001 ]]
before=$(sed -n 's/^accuracy: \([0-9.]*\).*/\1/p' "$tmp/classes.txt")
"$finetune" "$tmp/one.safetensors" "$tmp/two.safetensors" --epochs 2 \
  --limit 3000 | tee "$tmp/finetune.log" | grep -v '^[0-9]*/'
grep -q "fine-tuning from epoch 1" "$tmp/finetune.log"
after=$(sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p' "$tmp/finetune.log")
awk -v a="$after" -v b="$before" 'BEGIN { exit !(a > b) }' ||
  { echo "FAIL: fine-tuning did not improve $before -> $after" >&2; exit 1; }
echo "PASS: classify ($before) and finetune ($before -> $after)"
