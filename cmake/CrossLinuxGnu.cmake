# What every Linux toolchain file of cmake/toolchains/ shares: Debian's cross
# gcc for SORA_CROSS_PROCESSOR-linux-gnu (make runtime TARGET=...;
# docs/cross.md), libraries and headers (zlib, if the target's is
# installed) from the target's side only, programs from the host.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${SORA_CROSS_PROCESSOR})
set(CMAKE_C_COMPILER ${SORA_CROSS_PROCESSOR}-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/${SORA_CROSS_PROCESSOR}-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
