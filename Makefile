# Thin wrapper over CMake: every target first installs missing packages.
BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
JOBS  ?= $(shell nproc)
FUZZ_SECONDS ?= 600

.PHONY: all setup configure build install demo check bench fuzz sanitize clean

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

# Compile the seed's model, link the example, train on Fashion-MNIST and
# print the test accuracy.
demo: build
	$(BUILD)/bin/mnist_mlp

# Every test: unit tests, the lit suite, the end-to-end training test; then
# the front end's unit tests under ASan + UBSan and a 60-second fuzz run.
check: build sanitize
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(SANITIZE_BUILD)/bin/dsl_tests --gtest_brief=1
	scripts/fuzz.sh $(SANITIZE_BUILD) 60

# The front end, its unit tests and its fuzzer built with clang-19 under
# AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize: setup
	@scripts/setup.sh clang-19 libclang-rt-19-dev
	@test -f $(SANITIZE_BUILD)/build.ninja || CC=clang-19 CXX=clang++-19 \
	  cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSORAC_SANITIZE=ON
	cmake --build $(SANITIZE_BUILD) -j $(JOBS) --target dsl_tests fuzz_frontend

# Fuzz the front end for FUZZ_SECONDS (default 600).
fuzz: sanitize
	scripts/fuzz.sh $(SANITIZE_BUILD) $(FUZZ_SECONDS)

# The compiled example against the PyTorch peer, REPS repetitions (default
# 3) alternating; writes bench/results.md. Reports; never fails on a time.
REPS ?= 3
bench: build
	@scripts/setup.sh python3-torch libopenblas0-pthread
	bench/run.py $(BUILD) $(REPS)

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD)
