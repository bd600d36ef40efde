#!/usr/bin/env bash
# Ctrl-C during `sorac run --save` writes a checkpoint of the last finished
# step and exits 130; resuming from it with --init ends with the same
# weights, optimizer state and position as a run never interrupted (the
# checkpoint files are identical, bit for bit).
#   interrupt_resume.sh SORAC MODEL.sora [run options]
set -euo pipefail
sorac=$1 model=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$sorac" run "$model" "$@" --save "$tmp/straight.safetensors" > /dev/null

"$sorac" run "$model" "$@" --save "$tmp/cut.safetensors" > "$tmp/cut.log" 2>&1 &
pid=$!
# Interrupt once training has started (the first epoch line is out).
for _ in $(seq 200); do
  grep -q "^Epoch 1/" "$tmp/cut.log" && break
  sleep 0.05
done
kill -INT "$pid"
status=0
wait "$pid" || status=$?
cat "$tmp/cut.log"
if [[ $status -eq 0 ]]; then
  echo "(the run finished before the interrupt arrived)"
elif [[ $status -ne 130 ]]; then
  echo "FAIL: exit status $status, expected 130" >&2
  exit 1
fi
"$sorac" run "$model" "$@" --init "$tmp/cut.safetensors" \
  --save "$tmp/resumed.safetensors" > /dev/null
cmp "$tmp/straight.safetensors" "$tmp/resumed.safetensors"
echo "PASS: interrupted and resumed == straight through, bit for bit"
