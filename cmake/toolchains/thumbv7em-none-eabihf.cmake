# Toolchain file: the OS-free runtime for thumbv7em-none-eabihf (Cortex-M4F
# and the like; make runtime TARGET=thumbv7em-none-eabihf; docs/cross.md),
# with Arm's bare-metal gcc and newlib (Debian: gcc-arm-none-eabi
# libnewlib-arm-none-eabi; not in scripts/setup.sh's default set: it is big,
# `scripts/setup.sh gcc-arm-none-eabi libnewlib-arm-none-eabi` adds it).
# Generic: no operating system, so runtime/ builds with SORA_RT_NO_OS.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
# What sorac --target thumbv7em-none-eabihf compiles for: its default CPU,
# cortex-m4 with the FPv4-SP unit, floats passed in registers.
set(CMAKE_C_FLAGS_INIT
    "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
# No operating system to link a test program for: test with a library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
