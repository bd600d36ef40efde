# Toolchain file: the runtime for riscv64-linux-gnu, with Debian's
# gcc-riscv64-linux-gnu and libc6-dev-riscv64-cross (make runtime installs
# them).
set(SORA_CROSS_PROCESSOR riscv64)
include(${CMAKE_CURRENT_LIST_DIR}/../CrossLinuxGnu.cmake)
