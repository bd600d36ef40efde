# Toolchain file: the runtime for riscv64-linux-gnu (make runtime
# TARGET=riscv64-linux-gnu; docs/cross.md), with Debian's cross gcc
# (gcc-riscv64-linux-gnu libc6-dev-riscv64-cross: scripts/setup.sh
# gcc-riscv64-linux-gnu libc6-dev-riscv64-cross installs them).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(CMAKE_C_COMPILER riscv64-linux-gnu-gcc)
# Libraries and headers (zlib, if the target's is installed) from the
# target's side only; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/riscv64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
