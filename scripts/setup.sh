#!/usr/bin/env bash
# Installs the Debian packages sorac needs, and only those that are missing.
# Works as root or through sudo; never prompts. Usage: scripts/setup.sh [extra packages...]
set -euo pipefail

packages=(
  cmake ninja-build g++ python3
  llvm-19-dev llvm-19-tools     # LLVM C++ API; FileCheck, lit, not
  libzstd-dev                   # LLVM's static libraries link zstd
  libboost-dev                  # Spirit X3 (header-only)
  libfmt-dev zlib1g-dev
  googletest libgtest-dev
  dataset-fashion-mnist         # the example's data, /usr/share/datasets
  graphviz                      # dot, for the graph pictures and their test
  pkg-config                    # the install test checks sora-runtime.pc
  # ONNX import and export (compiler/Onnx); the checker and ONNX's own
  # backend test suite for the conformance test (tests/onnx).
  libonnx-dev libprotobuf-dev python3-onnx libonnx-testdata
  # Cross-compilation (tests/cross): the aarch64 example is linked by
  # Debian's cross gcc against its glibc and run under qemu-user.
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  qemu-user                     # qemu-aarch64
  # Data-parallel training (sora_rt_mpi, tests/mpi, bench/mpi.sh).
  libopenmpi-dev openmpi-bin
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}"
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
