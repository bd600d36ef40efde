#!/usr/bin/env bash
# The image lowerings (convolutions, their gradients, pooling) share their
# loops among the runtime's threads, never a sum: training at one and at two
# threads must save the same checkpoint, byte for byte (weights, optimizer
# state, step), and print the same metrics.
#   threads_same_weights.sh SORAC MODEL.sora [sorac run options...]
set -euo pipefail
sorac=$1 model=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for threads in 1 2; do
  "$sorac" run "$model" "$@" --threads $threads \
    --save "$tmp/w$threads.safetensors" | grep -v '^Epoch' > "$tmp/log$threads"
done
sed -i 's/ - [0-9.]*s - / - /' "$tmp/log1" "$tmp/log2"
echo "1 thread:  $(cat "$tmp/log1")"
echo "2 threads: $(cat "$tmp/log2")"
cmp "$tmp/log1" "$tmp/log2" || { echo "FAIL: the metrics differ" >&2; exit 1; }
cmp "$tmp/w1.safetensors" "$tmp/w2.safetensors" ||
  { echo "FAIL: the checkpoints differ" >&2; exit 1; }
echo "PASS: identical checkpoints ($(wc -c < "$tmp/w1.safetensors") bytes)"
