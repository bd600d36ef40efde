#!/usr/bin/env bash
# Cross-compilation end to end: an inference build of the seed's model for
# aarch64-linux-gnu, linked with the runtime built by Debian's
# aarch64-linux-gnu-gcc (without zlib), run under qemu-user, predicts the
# same class as the host's build of the same weights for all 10 000 test
# images, every probability within 1e-5.
#   run_aarch64.sh SORAC SOURCE_DIR      (CC: the host's C compiler)
# Exits 77 (skipped) when the cross tools are missing: scripts/setup.sh
# installs them.
set -euo pipefail
sorac=$1 src=$2
cc=${CC:-cc}
xcc=${XCC:-aarch64-linux-gnu-gcc}
data=${SORA_DATA_DIR:-/usr/share/datasets}/fashion-mnist
qemu=
for q in qemu-aarch64 qemu-aarch64-static; do
  if command -v "$q" > /dev/null; then qemu=$q; break; fi
done
if ! command -v "$xcc" > /dev/null || [[ -z $qemu ]]; then
  echo "SKIP: needs $xcc and qemu-aarch64 (scripts/setup.sh installs them)"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=$src/examples/mnist_mlp/model.sora
mkdir -p "$tmp/host" "$tmp/aarch64"

# The checkpoint, trained on the host; an inference object of it for each.
"$sorac" run "$model" --epochs 1 --limit 5000 --save "$tmp/w.safetensors" > /dev/null
"$sorac" "$model" --inference --weights "$tmp/w.safetensors" -o "$tmp/host/model.o"
"$sorac" "$model" --inference --weights "$tmp/w.safetensors" \
  --target=aarch64-linux-gnu -o "$tmp/aarch64/model.o"
machine=$(llvm-readelf -h "$tmp/aarch64/model.o" 2>/dev/null | sed -n 's/ *Machine: *//p' || true)
[[ -z $machine || $machine == AArch64 ]] || { echo "FAIL: the aarch64 object is for $machine" >&2; exit 1; }

# The same program for both: the runtime's sources compiled in, without
# zlib (the data are gunzipped first), statically linked for qemu-user.
build() { # CC DIR EXTRA...
  local c=$1 dir=$2
  shift 2
  "$c" -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -DSORA_NO_ZLIB \
    -I"$src/runtime/include" -I"$dir" "$src/tests/cross/classify.c" \
    "$src"/runtime/src/*.c "$dir/model.o" -lm -pthread "$@" -o "$dir/classify"
}
build "$cc" "$tmp/host" &
build "$xcc" "$tmp/aarch64" -static
wait $! # the host build
for f in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  gunzip -c "$data/$f.gz" > "$tmp/$f"
done
images=$tmp/t10k-images-idx3-ubyte labels=$tmp/t10k-labels-idx1-ubyte

# Without zlib, gzip input is refused with a message that says what to do.
if "$qemu" "$tmp/aarch64/classify" "$data/t10k-images-idx3-ubyte.gz" \
     "$data/t10k-labels-idx1-ubyte.gz" "$tmp/gz.txt" 2> "$tmp/gz.err" > /dev/null ||
   ! grep -q "built without zlib: decompress" "$tmp/gz.err"; then
  echo "FAIL: the zlib-less runtime did not refuse gzip input clearly:" >&2
  cat "$tmp/gz.err" >&2
  exit 1
fi

echo "host:    $("$tmp/host/classify" "$images" "$labels" "$tmp/host.txt")"
echo "aarch64: $("$qemu" "$tmp/aarch64/classify" "$images" "$labels" "$tmp/aarch64.txt") ($qemu)"

# Classes identical, probabilities within 1e-5.
awk -v tol=1e-5 '
  NR == FNR { host[FNR] = $0; next }
  {
    n++
    split(host[FNR], h, " ")
    if (h[1] != $1) { classes++; if (classes <= 5) print "image " FNR - 1 ": host class " h[1] ", aarch64 class " $1 }
    for (j = 2; j <= NF; j++) { d = h[j] - $j; if (d < 0) d = -d; if (d > worst) worst = d }
  }
  END {
    if (n != length(host)) { print "FAIL: " length(host) " host lines, " n " aarch64 lines"; exit 1 }
    printf "aarch64 vs host: same class for %d of %d test images; largest probability difference %.3g\n", n - classes, n, worst
    if (classes > 0 || worst > tol) { print "FAIL"; exit 1 }
  }' "$tmp/host.txt" "$tmp/aarch64.txt"
