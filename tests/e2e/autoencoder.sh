#!/bin/sh
# The autoencoder example, short: two epochs (a few seconds), scored on the
# 10 000 test images. Its reconstruction error must beat predicting the test
# set's own mean image by a wide margin (the mean image scores about 0.087,
# two epochs of a 32-number code about 0.019), and the SVG of originals and
# reconstructions must be written.
#   autoencoder.sh PROGRAM OUT_DIR
set -eu
program=$1 out=$2
mkdir -p "$out"
rm -f "$out/reconstructions.svg"
"$program" --epochs 2 --seed 1 --svg "$out/reconstructions.svg" \
  > "$out/output.txt"
cat "$out/output.txt"
mse=$(sed -n 's/^test reconstruction mse: \([0-9.]*\).*/\1/p' "$out/output.txt")
mean=$(sed -n 's/^mean image mse: \([0-9.]*\).*/\1/p' "$out/output.txt")
[ -n "$mse" ] && [ -n "$mean" ] || { echo "FAIL: no mse in the output"; exit 1; }
awk -v m="$mse" -v b="$mean" 'BEGIN { exit !(m < 0.5 * b) }' ||
  { echo "FAIL: mse $mse is not under half the mean image's $mean"; exit 1; }
grep -q '</svg>' "$out/reconstructions.svg" ||
  { echo "FAIL: no SVG written"; exit 1; }
[ "$(grep -c '<path' "$out/reconstructions.svg")" -gt 100 ] ||
  { echo "FAIL: the SVG draws too little"; exit 1; }
echo "PASS: mse $mse < 0.5 x $mean"
