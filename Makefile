# Thin wrapper over CMake: every target first installs missing packages.
BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
TSAN_BUILD ?= build-tsan
JOBS  ?= $(shell nproc)
FUZZ_SECONDS ?= 600

.PHONY: all setup configure build install demo check check-sanitize bench fuzz \
        sanitize clean runtime

all: build

setup:
	@scripts/setup.sh

configure: setup
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Install sorac, the runtime library and header, the CMake package
# (find_package(sorac)) and sora-runtime.pc under PREFIX (may need sudo).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# The runtime for another target (docs/cross.md): TARGET is sorac's --target
# triple, aarch64-linux-gnu, riscv64-linux-gnu or thumbv7em-none-eabihf
# (arm-none-eabi, gcc's name, means the latter). Builds
# build-$(TARGET)/libsora_rt.a with the target's gcc through
# cmake/toolchains/$(TARGET).cmake, after installing that gcc if missing:
# only here, sorac's own build needs none of them. (RUNTIME_BUILD: another
# folder; SETUP=true: install nothing, as tests/cross does.)
TARGET ?=
RUNTIME_TARGET = $(if $(filter arm-none-eabi,$(TARGET)),thumbv7em-none-eabihf,$(TARGET))
RUNTIME_BUILD ?= build-$(RUNTIME_TARGET)
SETUP ?= scripts/setup.sh
CROSS_PACKAGES_aarch64-linux-gnu = gcc-aarch64-linux-gnu libc6-dev-arm64-cross
CROSS_PACKAGES_riscv64-linux-gnu = gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
CROSS_PACKAGES_thumbv7em-none-eabihf = gcc-arm-none-eabi libnewlib-arm-none-eabi
runtime:
	@test -f cmake/toolchains/$(RUNTIME_TARGET).cmake || { echo \
	  "make runtime TARGET=...: one of $(patsubst cmake/toolchains/%.cmake,%,$(wildcard cmake/toolchains/*.cmake))"; exit 2; }
	@$(SETUP) $(CROSS_PACKAGES_$(RUNTIME_TARGET))
	@test -f $(RUNTIME_BUILD)/build.ninja || cmake -S runtime -B $(RUNTIME_BUILD) \
	  -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_TOOLCHAIN_FILE=$(abspath cmake/toolchains/$(RUNTIME_TARGET).cmake)
	cmake --build $(RUNTIME_BUILD) -j $(JOBS)
	@echo "runtime for $(RUNTIME_TARGET): $(RUNTIME_BUILD)/libsora_rt.a"

# Compile the seed's model, link the example, train on Fashion-MNIST and
# print the test accuracy.
demo: build
	$(BUILD)/bin/mnist_mlp

# Every test: unit tests, the lit suite, the end-to-end training test; then
# the front end's unit tests under ASan + UBSan and a 60-second fuzz smoke
# run (15 seconds for each of the five fuzz targets).
# The examples' data sets that tests make from Debian packages: MovieLens
# from R's dslabs (examples/movielens/make_data.sh), words of eight
# languages (examples/language_id/make_data.py), spoken digits
# (examples/speech_digits/make_data.py: espeak-ng, numpy); PyTorch's
# recurrent layers, exported to ONNX, for tests/onnx/onnx_eval_test.py; the
# Arm toolchain, newlib and qemu for the Cortex-M4 tests (tests/cross).
CHECK_PACKAGES = r-base-core r-cran-dslabs wamerican wngerman wfrench \
  wspanish witalian wportuguese wdutch wpolish espeak-ng python3-numpy \
  python3-torch gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
check: build sanitize
	@scripts/setup.sh $(CHECK_PACKAGES)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(SANITIZE_BUILD)/bin/dsl_tests --gtest_brief=1
	scripts/fuzz.sh $(SANITIZE_BUILD) 15

# The sanitizer build: clang-19, AddressSanitizer and UndefinedBehaviorSanitizer
# (SORAC_SANITIZE=ON). `sanitize` builds the front end's unit tests and the
# libFuzzer targets; check-sanitize builds and runs the rest (see there).
SANITIZE_TARGETS = dsl_tests fuzz_frontend fuzz_onnx fuzz_idx fuzz_csv \
  fuzz_safetensors
HOST_SORAC = $(abspath $(BUILD))/bin/sorac
sanitize: setup
	@scripts/setup.sh clang-19 libclang-rt-19-dev
	@test -f $(SANITIZE_BUILD)/build.ninja || CC=clang-19 CXX=clang++-19 \
	  cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSORAC_SANITIZE=ON -DSORAC_HOST_SORAC=$(HOST_SORAC)
	cmake --build $(SANITIZE_BUILD) -j $(JOBS) --target $(SANITIZE_TARGETS)

# Under ASan + UBSan: the runtime's, the front end's and the compiler's unit
# tests (runtime_tests, dsl_tests, compiler_tests), the fuzz targets'
# kept regression inputs (tests/fuzz/regressions/), and the end-to-end path
# on small subsets: the examples' programs built with the sanitized runtime
# around models compiled by this build's sorac (tests/fuzz/sanitized_e2e.sh:
# training, checkpoints, bad data), and the concurrent-callers test.
# Then under ThreadSanitizer (SORAC_SANITIZE_THREAD, in $(TSAN_BUILD)): the
# runtime's unit tests, the examples' programs (one to four threads) and
# the concurrent-callers test.
SANITIZED_PROGRAMS = sanitized_mnist_mlp sanitized_rings sanitized_classify \
  sanitized_finetune sanitized_concurrent
CHECK_SANITIZE_TARGETS = $(SANITIZE_TARGETS) runtime_tests compiler_tests \
  $(SANITIZED_PROGRAMS)
TSAN_TARGETS = runtime_tests $(SANITIZED_PROGRAMS)
check-sanitize: build sanitize
	@grep -q '^SORAC_HOST_SORAC:FILEPATH=$(HOST_SORAC)$$' $(SANITIZE_BUILD)/CMakeCache.txt || \
	  cmake -DSORAC_HOST_SORAC=$(HOST_SORAC) $(SANITIZE_BUILD) > /dev/null
	cmake --build $(SANITIZE_BUILD) -j $(JOBS) --target $(CHECK_SANITIZE_TARGETS)
	cd $(SANITIZE_BUILD) && ctest --output-on-failure -j $(JOBS)
	@test -f $(TSAN_BUILD)/build.ninja || CC=clang-19 CXX=clang++-19 \
	  cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSORAC_SANITIZE_THREAD=ON -DSORAC_HOST_SORAC=$(HOST_SORAC)
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TARGETS)
	cd $(TSAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# Runs every fuzz target (FUZZ_TARGETS: some of fuzz_frontend fuzz_onnx fuzz_idx
# fuzz_csv fuzz_safetensors; default all) for FUZZ_SECONDS each (default
# 600); a finding fails it (see scripts/fuzz.sh).
FUZZ_TARGETS ?=
fuzz: sanitize
	scripts/fuzz.sh $(SANITIZE_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The compiled example against the PyTorch peer, REPS repetitions (default
# 3) alternating; writes bench/results.md. Reports; never fails on a time.
REPS ?= 3
bench: build
	@scripts/setup.sh libopenblas0-pthread $(CHECK_PACKAGES)
	bench/run.py $(BUILD) $(REPS)
	bench/mpi.sh $(BUILD) | tee bench/mpi_results.txt

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD) $(TSAN_BUILD) build-*-*
