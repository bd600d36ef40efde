#!/usr/bin/env bash
# Bare metal: the OS-free runtime (make runtime TARGET=thumbv7em-none-eabihf,
# SORA_NO_OS) builds with arm-none-eabi-gcc and newlib, refers to no file,
# thread, clock or zlib function, and links with a thumbv7em object of the
# binary example and the MPS2 AN386 board's startup code
# (runtime/boards/mps2-an386: 256 KiB of RAM) into a Cortex-M4F program
# (bare_metal.c), which runs under qemu-system-arm and must exit 0.
# docs/cross.md describes it.
#   thumbv7em.sh SORAC SOURCE_DIR
# Exits 77 (skipped) without arm-none-eabi-gcc, newlib and qemu-system-arm,
# which make check installs (scripts/setup.sh gcc-arm-none-eabi
# libnewlib-arm-none-eabi qemu-system-arm).
set -euo pipefail
sorac=$1 src=$2
xcc=arm-none-eabi-gcc
flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! command -v "$xcc" > /dev/null || ! command -v qemu-system-arm > /dev/null ||
   ! echo '#include <stdlib.h>' | "$xcc" "${flags[@]}" -x c -c - -o "$tmp/t.o" 2> /dev/null; then
  echo "SKIP: needs $xcc, newlib and qemu-system-arm (scripts/setup.sh gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
  exit 77
fi

# The runtime, as the docs build it (installing nothing: SETUP=true).
make -s -C "$src" runtime TARGET=thumbv7em-none-eabihf \
  RUNTIME_BUILD="$tmp/rt" SETUP=true JOBS=2 > "$tmp/make.log" 2>&1 ||
  { cat "$tmp/make.log"; echo "FAIL: make runtime TARGET=thumbv7em-none-eabihf"; exit 1; }
lib=$tmp/rt/libsora_rt.a
needs=$(arm-none-eabi-nm -u "$lib" | awk '{print $2}' | sort -u)
if bad=$(grep -E '^(f?open|fopen|fread|fwrite|pthread_|clock_gettime|gz|stat$|rename)' <<< "$needs"); then
  echo "FAIL: the OS-free runtime needs: $bad"
  exit 1
fi
echo "ok: $lib ($(wc -c < "$lib") bytes) needs no files, threads or clock"

# A model object for the target, and the program around it.
"$sorac" "$src/examples/binary/model.sora" --target thumbv7em-none-eabihf \
  -o "$tmp/model.o"
board=$src/runtime/boards/mps2-an386
"$xcc" "${flags[@]}" -O2 -Wall -Wextra -Werror -I"$src/runtime/include" \
  -I"$tmp" -nostartfiles --specs=rdimon.specs -T "$board/memory.ld" \
  "$board/startup.c" "$src/tests/cross/bare_metal.c" "$tmp/model.o" "$lib" \
  -lm -Wl,--no-warn-execstack -o "$tmp/bare.elf"
arm-none-eabi-size "$tmp/bare.elf"
# Emulated: printf over semihosting; main's status is qemu's.
status=0
timeout 120 qemu-system-arm -machine mps2-an386 -nographic -monitor none \
  -serial none -semihosting-config enable=on,target=native \
  -kernel "$tmp/bare.elf" || status=$?
if [ "$status" -ne 0 ]; then
  echo "FAIL: bare.elf under qemu-system-arm exited $status"
  exit 1
fi
echo "PASS"
