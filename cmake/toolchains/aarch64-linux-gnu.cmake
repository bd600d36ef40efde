# Toolchain file: the runtime for aarch64-linux-gnu, with Debian's
# gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (scripts/setup.sh installs
# them).
set(SORA_CROSS_PROCESSOR aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/../CrossLinuxGnu.cmake)
