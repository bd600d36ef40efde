#!/usr/bin/env bash
# Training on a Cortex-M4, end to end (docs/embedded.md):
#   1. the seed's model (examples/mnist_mlp) trained on the host, one epoch;
#   2. model.sora compiled for the Cortex-M4 with that checkpoint: its
#      frozen first layer baked into flash, the rest in the caller's RAM
#      block; scratch.sora (784-32-10, every layer trained) too;
#   3. each linked with main.c, the OS-free runtime, the board's startup
#      code and 256 KiB of RAM (runtime/boards/mps2-an386), and run under
#      qemu-system-arm: held-out accuracy before and after training on 300
#      images stored in flash (make_data.py), which must rise;
#   4. the same programs on the host, whose trained weights must agree with
#      the device's within 1e-4 (relative to the largest);
#   5. the RAM block each program reserves (MEMORY_BYTES, in the linker's
#      symbol table) must be what sorac --emit=memory printed;
#   6. the seed's model as an int8 inference build (--quantize=int8, 52 KB
#      of weights in flash) classifying the held-out images (infer.c): the
#      same classes on the device as on the host.
#   run.sh BUILD_DIR [WORK_DIR]   (BUILD_DIR: sorac's CMake build)
# Exits 77 (skipped) without arm-none-eabi-gcc, newlib or qemu-system-arm.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/examples/mcu_finetune
work=${2:-$(mktemp -d)}
[ $# -ge 2 ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
sorac=$build/bin/sorac
xcc=arm-none-eabi-gcc
flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
board=$src/runtime/boards/mps2-an386
if ! command -v "$xcc" > /dev/null || ! command -v qemu-system-arm > /dev/null; then
  echo "SKIP: needs $xcc, newlib and qemu-system-arm"
  exit 77
fi

"$here/make_data.py" "$work/data.c"
"$sorac" run "$src/examples/mnist_mlp/model.sora" --epochs 1 --quiet \
  --save "$work/host.safetensors"
make -s -C "$src" runtime TARGET=thumbv7em-none-eabihf \
  RUNTIME_BUILD="$work/rt" SETUP=true JOBS=2 > "$work/make.log" 2>&1 ||
  { cat "$work/make.log"; exit 1; }

# run NAME PROGRAM.c MODEL.sora EPOCHS SORAC_ARGS...: the program around
# the model on the device and on the host, then compare.py.
run() {
  local name=$1 program=$here/$2 epochs=$4 dir=$work/$1
  local model=("$3" --name mcu_finetune "${@:5}")
  mkdir -p "$dir/host" "$dir/device"
  "$sorac" "${model[@]}" --target thumbv7em-none-eabihf -o "$dir/device/model.o"
  "$sorac" "${model[@]}" --target thumbv7em-none-eabihf --emit=memory |
    tee "$dir/memory.txt"
  "$xcc" "${flags[@]}" -O2 -Wall -Wextra -Werror -DEPOCHS="$epochs" \
    -I"$src/runtime/include" -I"$dir/device" -nostartfiles \
    --specs=rdimon.specs -T "$board/memory.ld" "$board/startup.c" \
    "$program" "$work/data.c" "$dir/device/model.o" \
    "$work/rt/libsora_rt.a" -lm -Wl,--no-warn-execstack -o "$dir/device/run.elf"
  arm-none-eabi-size "$dir/device/run.elf"
  echo "--- $name on the Cortex-M4 (qemu-system-arm -machine mps2-an386)"
  local status=0
  timeout 600 qemu-system-arm -machine mps2-an386 -nographic -monitor none \
    -serial none -semihosting-config enable=on,target=native \
    -kernel "$dir/device/run.elf" > "$dir/device/out.txt" || status=$?
  grep -v '^[wc] ' "$dir/device/out.txt"
  [ "$status" -eq 0 ] || { echo "FAIL: the device run exited $status"; exit 1; }

  "$sorac" "${model[@]}" -o "$dir/host/model.o"
  "${CC:-cc}" -O2 -DEPOCHS="$epochs" -I"$src/runtime/include" -I"$dir/host" \
    "$program" "$work/data.c" "$dir/host/model.o" \
    "$build/lib/libsora_rt.a" -lz -lm -lpthread -o "$dir/host/run"
  echo "--- $name on the host"
  "$dir/host/run" > "$dir/host/out.txt" ||
    { cat "$dir/host/out.txt"; echo "FAIL: the host run"; exit 1; }
  grep -v '^[wc] ' "$dir/host/out.txt"
  python3 "$here/compare.py" "$dir"
}

run model main.c "$here/model.sora" 4 --weights "$work/host.safetensors"
run scratch main.c "$here/scratch.sora" 8
run int8 infer.c "$src/examples/mnist_mlp/model.sora" 0 --inference \
  --weights "$work/host.safetensors" --quantize=int8
echo PASS
