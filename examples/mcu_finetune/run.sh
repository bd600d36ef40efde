#!/usr/bin/env bash
# Fine-tuning on a Cortex-M4, end to end (docs/embedded.md):
#   1. the seed's model (examples/mnist_mlp) trained on the host, one epoch;
#   2. this model compiled for the Cortex-M4 with that checkpoint: its frozen
#      first layer baked into flash, the rest in the caller's RAM block;
#   3. linked with the OS-free runtime, the board's startup code and 256 KiB
#      of RAM (runtime/boards/mps2-an386), and run under qemu-system-arm:
#      held-out accuracy before and after training the last layer on 300
#      images stored in flash (make_data.py);
#   4. the same program on the host, whose trained weights must agree with
#      the device's within 1e-4 (relative to the largest);
#   5. the RAM block the program reserves (MEMORY_BYTES, in the linker's
#      symbol table) must be what sorac --emit=memory printed.
#   run.sh BUILD_DIR [WORK_DIR]   (BUILD_DIR: sorac's CMake build)
# Exits 77 (skipped) without arm-none-eabi-gcc, newlib or qemu-system-arm.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/examples/mcu_finetune
work=${2:-$(mktemp -d)}
[ $# -ge 2 ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work/host" "$work/device"
sorac=$build/bin/sorac
xcc=arm-none-eabi-gcc
flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
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

# The device: the model in flash and RAM, the board around it.
"$sorac" "$here/model.sora" --weights "$work/host.safetensors" \
  --target thumbv7em-none-eabihf -o "$work/device/model.o"
"$sorac" "$here/model.sora" --weights "$work/host.safetensors" \
  --target thumbv7em-none-eabihf --emit=memory | tee "$work/memory.txt"
board=$src/runtime/boards/mps2-an386
"$xcc" "${flags[@]}" -O2 -Wall -Wextra -Werror -I"$src/runtime/include" \
  -I"$work/device" -nostartfiles --specs=rdimon.specs -T "$board/memory.ld" \
  "$board/startup.c" "$here/main.c" "$work/data.c" "$work/device/model.o" \
  "$work/rt/libsora_rt.a" -lm -Wl,--no-warn-execstack -o "$work/device/finetune.elf"
arm-none-eabi-size "$work/device/finetune.elf"
echo "--- Cortex-M4 (qemu-system-arm -machine mps2-an386)"
status=0
timeout 600 qemu-system-arm -machine mps2-an386 -nographic -monitor none \
  -serial none -semihosting-config enable=on,target=native \
  -kernel "$work/device/finetune.elf" > "$work/device/out.txt" || status=$?
grep -v '^w ' "$work/device/out.txt"
[ "$status" -eq 0 ] || { echo "FAIL: the device run exited $status"; exit 1; }

# The host: the same program and model, for x86-64.
"$sorac" "$here/model.sora" --weights "$work/host.safetensors" \
  -o "$work/host/model.o"
"${CC:-cc}" -O2 -I"$src/runtime/include" -I"$work/host" "$here/main.c" \
  "$work/data.c" "$work/host/model.o" "$build/lib/libsora_rt.a" -lz -lm \
  -lpthread -o "$work/host/finetune"
echo "--- host"
"$work/host/finetune" > "$work/host/out.txt" ||
  { cat "$work/host/out.txt"; echo "FAIL: the host run"; exit 1; }
grep -v '^w ' "$work/host/out.txt"

python3 - "$work" <<'PY'
import re, struct, subprocess, sys
work = sys.argv[1]
def weights(side):
    return [struct.unpack("<f", struct.pack("<I", int(l.split()[1], 16)))[0]
            for l in open(f"{work}/{side}/out.txt") if l.startswith("w ")]
host, device = weights("host"), weights("device")
if not host or len(host) != len(device):
    sys.exit("FAIL: the runs printed different weights")
largest = max(abs(w) for w in host)
worst = max(abs(a - b) for a, b in zip(host, device))
same = sum(a == b for a, b in zip(host, device))
print(f"weights: {len(host)} floats, {same} identical; largest difference "
      f"{worst:.3g} ({worst / largest:.3g} of the largest weight)")
if worst > 1e-4 * largest:
    sys.exit("FAIL: the device's weights differ from the host's")
# The RAM block: its symbol's size in the program, against --emit=memory.
said = int(re.search(r"RAM[^:]*: (\d+) bytes", open(f"{work}/memory.txt").read()).group(1))
nm = subprocess.run(["arm-none-eabi-nm", "-S", f"{work}/device/finetune.elf"],
                    capture_output=True, text=True, check=True).stdout
size = next(int(l.split()[1], 16) for l in nm.splitlines() if l.endswith(" memory"))
print(f"RAM block: {size} bytes in the program, {said} printed by sorac")
if size != said:
    sys.exit("FAIL: the block is not the size sorac printed")
PY
echo PASS
