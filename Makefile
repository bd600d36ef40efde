# Thin wrapper over CMake: every target first installs missing packages.
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: all setup configure build demo check bench clean

all: build

setup:
	@scripts/setup.sh

configure: setup
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Compile the seed's model, link the example, train on Fashion-MNIST and
# print the test accuracy.
demo: build
	$(BUILD)/bin/mnist_mlp

# Every test: unit tests, the lit suite, the end-to-end training test.
check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@scripts/setup.sh python3-torch libopenblas0-pthread
	bench/run.py $(BUILD)

clean:
	rm -rf $(BUILD)
