#!/usr/bin/env bash
# tests/mpi/run.sh SORAC MPIEXEC SOURCE_DIR
#
# Data-parallel training over MPI: `mpiexec -np 2 sorac run` must end with
# the weights of single-process training with the same (global) batch size,
# within float tolerance (the two sum the gradients in different orders:
# the single process in its fused train step, the ranks in grad_step, one
# allreduce and apply_update). Runs the binary example (SGD + Nesterov, 2
# epochs) and, where Fashion-MNIST is installed, the seed MLP (Adam) on
# 4000 samples.
set -euo pipefail
sorac=$1 mpiexec=$2 src=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Root in CI containers; more ranks than cores on small machines.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
compare="python3 $src/tests/mpi/compare_weights.py"

check() { # NAME MODEL ARGS...
  local name=$1 model=$2
  shift 2
  echo "== $name: 1 process"
  "$sorac" run "$model" "$@" --save "$work/$name.1.safetensors" --quiet
  echo "== $name: mpiexec -np 2"
  timeout 120 "$mpiexec" -np 2 --oversubscribe "$sorac" run "$model" "$@" \
    --save "$work/$name.2.safetensors" > "$work/$name.out"
  cat "$work/$name.out"
  # Only rank 0 prints: one line per epoch, not two.
  local epochs
  epochs=$(grep -c '^Epoch ' "$work/$name.out" || true)
  if [[ $epochs -ne $(grep -o -- '--epochs [0-9]*' <<< "$*" | cut -d' ' -f2) ]]
  then
    echo "FAIL: $epochs 'Epoch' lines: did more than rank 0 print?"
    exit 1
  fi
  $compare "$work/$name.2.safetensors" "$work/$name.1.safetensors" \
    --rtol 1e-4 --atol 1e-5
}

check binary "$src/examples/binary/model.sora" --epochs 2

# The metrics summed over an epoch before they are divided or integrated
# (precision and recall from counts, auc from a histogram per threshold)
# must be reduced across the ranks like the loss: the same figures as one
# process's.
sed -e 's/\[accuracy\]/[accuracy, precision, recall, auc]/' \
    -e "s|\"data.csv\"|\"$src/examples/binary/data.csv\"|" \
    "$src/examples/binary/model.sora" > "$work/metrics.sora"
echo "== metrics: 1 process, then mpiexec -np 2"
"$sorac" run "$work/metrics.sora" --epochs 1 --quiet --report json \
  | tail -n 1 > "$work/metrics.1.json"
timeout 120 "$mpiexec" -np 2 --oversubscribe "$sorac" run "$work/metrics.sora" \
  --epochs 1 --quiet --report json | tail -n 1 > "$work/metrics.2.json"
python3 - "$work/metrics.1.json" "$work/metrics.2.json" <<'EOF'
import json, sys
one, two = (json.load(open(p)) for p in sys.argv[1:])
for key in ("train_precision", "train_recall", "train_auc", "val_precision",
            "val_recall", "val_auc"):
    a, b = one[key], two[key]
    print(f"{key}: 1 process {a}, 2 ranks {b}")
    if a is None or b is None or abs(a - b) > 2e-3:
        sys.exit(f"FAIL: {key} differs")
EOF
# Clipping by global norm runs in apply_update, on the summed gradients
# (a norm of one rank's share would differ), and decay_biases: false gives
# the biases an update loop of their own inside the fused update.
sed 's/nesterov: true)/nesterov: true, clip_norm: 0.5, weight_decay: 0.01, decay_biases: false)/' \
  "$src/examples/binary/model.sora" > "$work/clipped.sora"
grep -q clip_norm "$work/clipped.sora"
check clipped "$work/clipped.sora" --epochs 2 --data "$src/examples/binary"
if [[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  check mnist_mlp "$src/examples/mnist_mlp/model.sora" --epochs 1 --limit 4000
else
  echo "(no Fashion-MNIST: the seed MLP's check skipped)"
fi
echo "PASS"
