#!/usr/bin/env bash
# The PyTorch models of pytorch_models.sh through `sorac import`: each .onnx
# becomes OUT.sora and OUT.safetensors, the source is compiled as an
# inference build with those weights (`sorac OUT.sora --inference --weights
# OUT.safetensors`) and must reproduce PyTorch's probabilities for the 256
# test samples within 1e-5, as the .onnx compiled directly does. So the
# written source and weights are the imported model, exactly (the LSTM's
# `out[:, -1]` is its lstm layer without sequences). mlp_static's dense
# reads [1, 784]: the language has no form for that, so its import must
# fail cleanly (exit 1, no file written). Every model is tried; the test
# fails if any does.
#   import_models.sh SORAC CC RUNTIME_INCLUDE RUNTIME_LIB SOURCE_DIR
set -uo pipefail
sorac=$1 cc=$2 include=$3 lib=$4 src=$5
models=$src/tests/onnx/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()
for m in mlp_static; do
  "$sorac" import "$models/$m.onnx" -o "$tmp/$m.sora" 2>"$tmp/$m.err"
  status=$?
  if [ $status -ne 1 ] || [ -e "$tmp/$m.sora" ] ||
    [ -e "$tmp/$m.safetensors" ] ||
    ! grep -q "cannot be written as .sora" "$tmp/$m.err"; then
    echo "$m: expected a clean refusal, got exit $status:" >&2
    cat "$tmp/$m.err" >&2
    failed+=("$m")
  fi
done
for m in mlp cnn lstm; do
  # The model is named after the .onnx file's stem (mlp_create...).
  if "$sorac" import "$models/$m.onnx" -o "$tmp/$m.sora" &&
    "$sorac" "$tmp/$m.sora" --inference --weights "$tmp/$m.safetensors" \
      -o "$tmp/$m.o" &&
    "$cc" -O2 -DMODEL="$m" -include "$tmp/$m.h" -I"$include" \
      "$src/tests/onnx/predict_compare.c" "$tmp/$m.o" "$lib" \
      -lz -lm -lpthread -o "$tmp/compare_$m" &&
    "$tmp/compare_$m" "$models/$m.input.bin" \
      "$models/$m.expected.bin"; then
    :
  else
    echo "--- $m.sora:" >&2
    cat "$tmp/$m.sora" >&2 2>/dev/null
    failed+=("$m")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: ${failed[*]}" >&2
  exit 1
fi
