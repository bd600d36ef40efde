#!/usr/bin/env bash
# A PyTorch-trained model brought into the language and trained further:
# `sorac import` turns tests/onnx/models/cnn.onnx into cnn.sora and
# cnn.safetensors; with a train block appended, `sorac eval` of the imported
# weights gives PyTorch's test accuracy (models/expected.json), and
# `sorac run --init` trains from them to a lower test loss than PyTorch's;
# with the train block's optimizer changed, that checkpoint still loads.
# The MLP and the LSTM are imported and evaluated the same way.
#   import_finetune.sh SORAC SOURCE_DIR
set -euo pipefail
sorac=$1 src=$2
models=$src/tests/onnx/models
data=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expected() { # expected MODEL KEY: a number of models/expected.json
  /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])" \
    "$models/expected.json" "$1" "$2"
}
metric() { # metric NAME: the value after "NAME: " on the test line
  grep '^test:' | sed -E "s/.* $1: ([0-9.]+).*/\\1/"
}

for m in mlp cnn; do
  "$sorac" import "$models/$m.onnx" -o "$tmp/$m.sora"
  cat >> "$tmp/$m.sora" <<TRAIN

train $m {
    data      = idx(images: "$data/train-images-idx3-ubyte.gz",
                    labels: "$data/train-labels-idx1-ubyte.gz",
                    scale: 1/255, onehot: 10)
    test      = idx(images: "$data/t10k-images-idx3-ubyte.gz",
                    labels: "$data/t10k-labels-idx1-ubyte.gz",
                    scale: 1/255, onehot: 10)
    loss      = categorical_crossentropy
    optimizer = adam(lr: 1e-3)
    batch_size = 128
    epochs    = 1
    metrics   = [accuracy]
    seed      = 7
}
TRAIN
  before=$("$sorac" eval "$tmp/$m.sora" --weights "$tmp/$m.safetensors")
  acc=$(metric accuracy <<< "$before")
  loss=$(metric loss <<< "$before")
  want=$(expected "$m" test_accuracy)
  want_loss=$(expected "$m" test_loss)
  echo "$m: imported: test accuracy $acc, loss $loss (PyTorch: $want, $want_loss)"
  awk -v a="$acc" -v b="$want" 'BEGIN { exit !(a - b < 1e-4 && b - a < 1e-4) }' ||
    { echo "FAIL: $m: the imported model's accuracy is not PyTorch's" >&2; exit 1; }
done

after=$("$sorac" run "$tmp/cnn.sora" --init "$tmp/cnn.safetensors" \
  --limit 12000 --save "$tmp/tuned.safetensors" 2>&1)
echo "$after" | tail -2
tuned=$(metric loss <<< "$after")
awk -v a="$tuned" -v b="$(expected cnn test_loss)" 'BEGIN { exit !(a < b) }' ||
  { echo "FAIL: fine-tuning did not lower the test loss" >&2; exit 1; }
# A train block edited (another optimizer): the fine-tuned checkpoint still
# loads, its weights kept and its Adam state dropped, with a note.
sed -i 's/optimizer = adam(lr: 1e-3)/optimizer = sgd(lr: 0.01)/' "$tmp/cnn.sora"
"$sorac" run "$tmp/cnn.sora" --init "$tmp/tuned.safetensors" --limit 256 \
  2> "$tmp/note.log" > /dev/null
grep "optimizer state" "$tmp/note.log" ||
  { echo "FAIL: no note that the optimizer state was dropped" >&2; exit 1; }
echo "PASS: imported models evaluate to PyTorch's accuracy; the CNN fine-tuned to test loss $tuned"
