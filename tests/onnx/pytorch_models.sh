#!/usr/bin/env bash
# Models trained and exported by PyTorch (tests/onnx/make_models.py, whose
# outputs are committed under models/) compiled by sorac from their .onnx
# files: each must reproduce PyTorch's probabilities for 256 test samples
# within 1e-5, and its classes (tests/onnx/predict_compare.c). mlp_static
# (a static batch of 1: one [1, 784] sample per row) uses mlp's fixtures;
# gru and rnn (tests/onnx/make_recurrent.py) are two-layer GRU and RNN
# (tanh, relu) models, for the cells' gate orders.
# Every model is tried; the test fails if any does.
#   pytorch_models.sh SORAC CC RUNTIME_INCLUDE RUNTIME_LIB SOURCE_DIR
set -uo pipefail
sorac=$1 cc=$2 include=$3 lib=$4 src=$5
models=$src/tests/onnx/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()
for m in mlp cnn lstm mlp_static gru rnn; do
  fixtures=$m
  [ "$m" = mlp_static ] && fixtures=mlp
  # The object's symbols are named after the .onnx file (mlp_create...).
  if "$sorac" "$models/$m.onnx" -o "$tmp/$m.o" &&
    "$cc" -O2 -DMODEL="$m" -include "$tmp/$m.h" -I"$include" \
      "$src/tests/onnx/predict_compare.c" "$tmp/$m.o" "$lib" \
      -lz -lm -lpthread -o "$tmp/compare_$m" &&
    "$tmp/compare_$m" "$models/$fixtures.input.bin" \
      "$models/$fixtures.expected.bin"; then
    :
  else
    failed+=("$m")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: ${failed[*]}" >&2
  exit 1
fi
