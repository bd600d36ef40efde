#!/usr/bin/env bash
# batch_norm's running statistics through checkpoints and inference builds:
#  - a train run saves <layer>.running_mean and running_var, moved off their
#    initial zeros and ones;
#  - sorac eval on the saved checkpoint reports the run's test metrics
#    (evaluation normalises with the restored running statistics);
#  - an inference build (--inference --weights) predicts what the trained
#    model with the checkpoint loaded does, each row alone as in a batch.
#   batch_norm.sh SORAC CC RUNTIME_INCLUDE RUNTIME_LIB SOURCE_DIR PYTHON
set -euo pipefail
sorac=$1 cc=$2 include=$3 lib=$4 src=$5 python=$6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/bn.sora" <<SORA
model bn {
    input x : f32[4]
    h = x -> dense(8, use_bias: false) -> batch_norm(momentum: 0.5, name: "norm") -> relu
    output p = dense(h, 3, activation: softmax)
}
train bn {
    data       = csv(path: "$src/tests/lit/CodeGen/Inputs/tiny.csv", label_column: 4, onehot: 3)
    test       = csv(path: "$src/tests/lit/CodeGen/Inputs/tiny.csv", label_column: 4, onehot: 3)
    loss       = categorical_crossentropy
    optimizer  = adam(lr: 0.01)
    batch_size = 8
    epochs     = 3
    seed       = 2
}
SORA

run=$("$sorac" run "$tmp/bn.sora" --save "$tmp/w.safetensors" | grep '^test:')
"$python" - "$tmp/w.safetensors" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
size = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + size])
def tensor(name):
    begin, end = header[name]["data_offsets"]
    raw = data[8 + size + begin:8 + size + end]
    return struct.unpack(f"<{len(raw) // 4}f", raw)
mean, var = tensor("norm.running_mean"), tensor("norm.running_var")
assert len(mean) == len(var) == 8, (mean, var)
assert any(abs(m) > 1e-3 for m in mean), mean
assert any(abs(v - 1) > 1e-3 for v in var), var
assert "optimizer.norm.running_mean.m" not in header, "a statistic has state"
print("PASS: the checkpoint holds the running statistics, moved:",
      " ".join(f"{m:.3f}" for m in mean[:3]), "...")
PY
eval=$("$sorac" eval "$tmp/bn.sora" --weights "$tmp/w.safetensors" | grep '^test:' | sed 's/ (.*//')
echo "run:  $run"
echo "eval: $eval"
[[ "$run" == "$eval" ]] || { echo "FAIL: eval differs from the run" >&2; exit 1; }
echo "PASS: sorac eval restores the running statistics"

"$sorac" "$tmp/bn.sora" --inference --weights "$tmp/w.safetensors" -o "$tmp/baked.o"
"$sorac" "$tmp/bn.sora" --name bn_trained -o "$tmp/trained.o"
"$cc" -O2 -I"$include" -I"$tmp" "$src/tests/e2e/inference/batch_norm.c" \
  "$tmp/baked.o" "$tmp/trained.o" "$lib" -lz -lm -lpthread -o "$tmp/compare"
"$tmp/compare" "$tmp/w.safetensors"
echo "PASS: the inference build uses the trained running statistics"
