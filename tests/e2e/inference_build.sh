#!/usr/bin/env bash
# An inference build of the seed's model (--inference --weights) predicts
# the same class as the trained model for every test image; its size is
# reported. The trained model is the same source compiled with --name.
# --quantize=int8 loses at most half a point of test accuracy against the
# f32 build, with AVX512_VNNI and without (the same sums: the same figures),
# and makes a smaller object.
#   inference_build.sh SORAC CC RUNTIME_INCLUDE RUNTIME_LIB SOURCE_DIR
set -euo pipefail
sorac=$1 cc=$2 include=$3 lib=$4 src=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=$src/examples/mnist_mlp/model.sora
"$sorac" run "$model" --epochs 1 --limit 5000 --save "$tmp/w.safetensors" > /dev/null
# Baked against trained: the model as it is, then with precision = bf16,
# whose inference build rounds its weights to bfloat16 at compile time
# where the trained model rounds them on every call.
bf16=$tmp/bf16/model.sora
mkdir -p "$tmp/bf16"
sed 's/^\( *seed *= *[0-9]*\)$/\1\n    precision = bf16/' "$model" > "$bf16"
grep -q 'precision = bf16' "$bf16"
for m in "$model" "$bf16"; do
  "$sorac" "$m" --inference --weights "$tmp/w.safetensors" -o "$tmp/baked.o"
  "$sorac" "$m" --name mnist_mlp_trained -o "$tmp/trained.o"
  "$cc" -O2 -I"$include" -I"$tmp" "$src/tests/e2e/inference/compare.c" \
    "$tmp/baked.o" "$tmp/trained.o" "$lib" -lz -lm -lpthread -o "$tmp/compare"
  "$tmp/compare" "$tmp/w.safetensors" /usr/share/datasets
done
"$sorac" "$model" --inference --weights "$tmp/w.safetensors" -o "$tmp/baked.o"
echo "inference object: $(stat -c %s "$tmp/baked.o") bytes (trainable object: $(stat -c %s "$tmp/trained.o") bytes)"
if llvm-nm "$tmp/baked.o" 2>/dev/null | grep -q train_step; then
  echo "FAIL: the inference object has training code" >&2
  exit 1
fi

# int8 against f32, on this CPU and on one without VNNI (skylake-avx512) or
# AVX-512 (haswell), where the sums are plain vector code; every line the
# same.
f32=$tmp/baked.o
for cpu in native skylake-avx512 haswell; do
  mcpu=(); [ "$cpu" = native ] || mcpu=(--mcpu="$cpu")
  "$sorac" "$model" --inference --weights "$tmp/w.safetensors" \
    --quantize=int8 --name mnist_mlp_int8 "${mcpu[@]}" -o "$tmp/int8.o"
  cp "$tmp/baked.h" "$tmp/f32.h"
  "$cc" -O2 -I"$include" -I"$tmp" "$src/tests/e2e/inference/int8.c" \
    "$f32" "$tmp/int8.o" "$lib" -lz -lm -lpthread -o "$tmp/int8"
  "$tmp/int8" /usr/share/datasets | tee "$tmp/int8_$cpu.txt"
  cmp "$tmp/int8_native.txt" "$tmp/int8_$cpu.txt"
done
echo "int8 object: $(stat -c %s "$tmp/int8.o") bytes (f32: $(stat -c %s "$f32") bytes)"
[ "$(stat -c %s "$tmp/int8.o")" -lt "$(stat -c %s "$f32")" ]
