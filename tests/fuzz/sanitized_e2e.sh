#!/usr/bin/env bash
# The end-to-end path under AddressSanitizer and UndefinedBehaviorSanitizer,
# or ThreadSanitizer (make check-sanitize): programs built in a sanitizer
# build from the
# examples' main.c files and the sanitized runtime, linked with model
# objects that the normal build's sorac compiled (the generated kernels are
# not instrumented; everything around them is). Small subsets keep it short.
#   sanitized_e2e.sh MODE
# with, in the environment: SORAC (the normal build's), MNIST (mnist_mlp's
# main.c + the seed's model), RINGS (the same main.c + examples/binary, a
# CSV data set), CLASSIFY and FINETUNE (examples/classify and finetune),
# EXAMPLES (the examples directory).
# MODE: train      train one epoch on 1000 images, test on all 10 000; two
#                  epochs on the CSV example
#       checkpoint a checkpoint of sorac run: classify with it, fine-tune
#                  from it (load, train, save), classify with the result
#       bad_data   bad images, labels, CSV files and checkpoints: each run
#                  exits 1 with "error: " and a message naming the file
#       threads    train as `train` does, with two and four runtime threads
set -euo pipefail
mode=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fashion=/usr/share/datasets/fashion-mnist

# Fails unless the output has no sanitizer report.
clean() {
  if grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' "$1"; then
    echo "FAIL: sanitizer report above" >&2
    exit 1
  fi
}

# expect_error NAME WHAT COMMAND...: COMMAND must exit 1 and print
# "error: ...WHAT..." naming the file (WHAT holds it), and nothing from the
# sanitizers.
expect_error() {
  local name=$1 what=$2
  shift 2
  local status=0
  "$@" > "$tmp/out" 2>&1 || status=$?
  clean "$tmp/out"
  if [[ $status -ne 1 ]] || ! grep -qF -- "$what" "$tmp/out"; then
    echo "FAIL: $name: exit $status (want 1), output (want '$what'):" >&2
    cat "$tmp/out" >&2
    exit 1
  fi
  echo "ok: $name: $(grep -F -- "$what" "$tmp/out" | head -n 1)"
}

# idx FILE DIM... : an IDX header of unsigned bytes (the data follows).
idx() {
  local file=$1
  shift
  printf '\0\0\010'"$(printf '\\%03o' $#)" > "$file"
  for d in "$@"; do
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((d >> 24 & 255)) \
      $((d >> 16 & 255)) $((d >> 8 & 255)) $((d & 255)))" >> "$file"
  done
}

case $mode in
train)
  "$MNIST" --epochs 1 --limit 1000 --validation-split 0.2 > "$tmp/out" 2>&1
  clean "$tmp/out"
  cat "$tmp/out"
  grep -q '^test accuracy: 0\.[0-9]* (10000 images)$' "$tmp/out"
  "$RINGS" --epochs 2 > "$tmp/out" 2>&1
  clean "$tmp/out"
  cat "$tmp/out"
  grep -q '^train time: ' "$tmp/out"
  ;;
threads)
  for threads in 2 4; do
    "$MNIST" --epochs 1 --limit 1000 --threads $threads > "$tmp/out" 2>&1
    clean "$tmp/out"
    tail -n 1 "$tmp/out"
    grep -q '^test accuracy: 0\.[0-9]* (10000 images)$' "$tmp/out"
  done
  ;;
checkpoint)
  "$SORAC" run "$EXAMPLES/mnist_mlp/model.sora" --epochs 1 --limit 1000 -q \
    --save "$tmp/one.safetensors"
  "$CLASSIFY" "$tmp/one.safetensors" "$fashion/t10k-images-idx3-ubyte.gz" \
    "$fashion/t10k-labels-idx1-ubyte.gz" > "$tmp/out" 2>&1
  clean "$tmp/out"
  tail -n 1 "$tmp/out"
  grep -q '^accuracy: 0\.[0-9]* (10000 images)$' "$tmp/out"
  "$FINETUNE" "$tmp/one.safetensors" "$tmp/two.safetensors" --epochs 2 \
    --limit 1000 > "$tmp/out" 2>&1
  clean "$tmp/out"
  grep -v '^[0-9]*/' "$tmp/out"
  grep -q 'fine-tuning from epoch 1' "$tmp/out"
  "$CLASSIFY" "$tmp/two.safetensors" "$fashion/t10k-images-idx3-ubyte.gz" \
    "$fashion/t10k-labels-idx1-ubyte.gz" > "$tmp/out" 2>&1
  clean "$tmp/out"
  tail -n 1 "$tmp/out"
  ;;
bad_data)
  # mnist_mlp looks for fashion-mnist/<file> under --data first.
  d=$tmp/data/fashion-mnist
  mkdir -p "$d"
  images=$d/train-images-idx3-ubyte.gz labels=$d/train-labels-idx1-ubyte.gz
  good_labels() { idx "$labels" 3 && printf '\001\002\003' >> "$labels"; }

  head -c 20000 "$fashion/train-images-idx3-ubyte.gz" > "$images"
  good_labels
  expect_error truncated-gzip "images file '$images': corrupt or truncated gzip data" \
    "$MNIST" --data "$tmp/data" --epochs 1
  idx "$tmp/raw" 3 28 28 && head -c 2352 /dev/zero >> "$tmp/raw"
  gzip -c -n < "$tmp/raw" > "$images"
  size=$(stat -c %s "$images") # its CRC-32 (the trailer's first 4 bytes): bad
  printf 'XXXX' | dd of="$images" bs=1 seek=$((size - 8)) conv=notrunc 2> /dev/null
  expect_error corrupt-gzip "images file '$images': corrupt or truncated gzip data: incorrect data check" \
    "$MNIST" --data "$tmp/data" --epochs 1
  printf 'P5 28 28 255\n' > "$images"
  expect_error wrong-magic "images file '$images': not an IDX file (bad magic number" \
    "$MNIST" --data "$tmp/data" --epochs 1
  idx "$images" 65536 32768 && printf 'abc' >> "$images"
  expect_error overflowing-dimensions "images file '$images': truncated: the header announces 2147483648 bytes" \
    "$MNIST" --data "$tmp/data" --epochs 1
  idx "$images" 65536 65536 2
  expect_error dimensions-too-large "images file '$images': too large (more than 2147483648 elements)" \
    "$MNIST" --data "$tmp/data" --epochs 1
  idx "$images" 3 28 28 && head -c 2000 /dev/zero >> "$images"
  expect_error truncated-idx "images file '$images': truncated: the header announces 2352 bytes of data, the file holds only 2000" \
    "$MNIST" --data "$tmp/data" --epochs 1
  idx "$images" 4 28 28 && head -c 3136 /dev/zero >> "$images"
  expect_error count-mismatch "images file '$images' holds 4 samples but labels file '$labels' holds 3 labels" \
    "$MNIST" --data "$tmp/data" --epochs 1
  idx "$images" 3 2 2 && head -c 12 /dev/zero >> "$images"
  expect_error shape-mismatch "data 'fashion-mnist/train-images-idx3-ubyte.gz' has 4 values per sample, but the model takes 784" \
    "$MNIST" --data "$tmp/data" --epochs 1
  idx "$images" 3 28 28 && head -c 2352 /dev/zero >> "$images"
  idx "$labels" 3 && printf '\001\014\003' >> "$labels"
  expect_error label-out-of-range "labels file '$labels': label 12 of sample 1 is out of range for onehot: 10" \
    "$MNIST" --data "$tmp/data" --epochs 1

  # The CSV example looks for data.csv under --data first.
  csv=$tmp/data/data.csv
  printf 'x,y,label\n0.5,0.25,1\n0.5,0.25\n' > "$csv"
  expect_error csv-missing-column "$csv:3: 2 columns, but line 1 has 3" \
    "$RINGS" --data "$tmp/data" --epochs 1
  printf 'x,y,label\n0.5,0.25,1\n0.5,abc,0\n' > "$csv"
  expect_error csv-not-a-number "$csv:3: column 1 ('abc') is not a number" \
    "$RINGS" --data "$tmp/data" --epochs 1
  printf '0.5,0.25,1\nnan,0.25,0\n' > "$csv"
  expect_error csv-nan "$csv:2: column 0 ('nan') is not a number" \
    "$RINGS" --data "$tmp/data" --epochs 1
  printf '0.5,0.25,1\n0.5,-inf,0\n' > "$csv"
  expect_error csv-inf "$csv:2: column 1 ('-inf') is not a number" \
    "$RINGS" --data "$tmp/data" --epochs 1
  printf '0.5,0.25,1\n0.5,1e999,0\n' > "$csv"
  expect_error csv-overflow "$csv:2: column 1 ('1e999') is out of range" \
    "$RINGS" --data "$tmp/data" --epochs 1

  # Checkpoints for classify (the test set is fine; the weights are not).
  ck=$tmp/bad.safetensors
  printf '\377\377\377\377\000\000\000\000{}' > "$ck"
  expect_error lying-header-length "checkpoint '$ck': header length 4294967295 exceeds the limit" \
    "$CLASSIFY" "$ck" "$fashion/t10k-images-idx3-ubyte.gz" "$fashion/t10k-labels-idx1-ubyte.gz"
  printf '\020\000\000\000\000\000\000\000not json at all!' > "$ck"
  expect_error header-not-json "checkpoint '$ck': malformed header at byte 0: expected '{'" \
    "$CLASSIFY" "$ck" "$fashion/t10k-images-idx3-ubyte.gz" "$fashion/t10k-labels-idx1-ubyte.gz"
  printf '\010\000\000\000\000\000\000\000{}      ' > "$ck"
  expect_error missing-tensors "checkpoint '$ck' has no tensor 'hidden.weight' (model 'mnist_mlp')" \
    "$CLASSIFY" "$ck" "$fashion/t10k-images-idx3-ubyte.gz" "$fashion/t10k-labels-idx1-ubyte.gz"
  ;;
*)
  echo "usage: $0 train|checkpoint|bad_data|threads" >&2
  exit 2
  ;;
esac
echo "PASS: $mode"
