# The two set-up commands of the README: `make demo` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
CAMKIT := $(BUILD)/camkit

.PHONY: all deps build test sanitize demo bench clean

all: build

deps:
	tools/install_deps.sh darknet chromium

# One build folder, configured the same way by every target, so `make demo` followed by
# `make test` (or the reverse) only builds what the first did not.
CONFIGURE = cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCAMKIT_WERROR=ON

build: deps
	$(CONFIGURE)
	cmake --build $(BUILD) -j$(JOBS)

# CI runs only `make test`, so the sanitizer and fuzzing step (tools/sanitize.sh, its own clang
# build folder) is part of it.
test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	JOBS=$(JOBS) tools/sanitize.sh $(BUILD)/sanitize

# The sanitizer build, its tests and the fuzzers alone; FUZZ_SECONDS=3600 runs them longer.
sanitize: deps
	JOBS=$(JOBS) tools/sanitize.sh $(BUILD)/sanitize

demo: deps
	$(CONFIGURE)
	cmake --build $(BUILD) -j$(JOBS) --target camkit_cli
	tools/demo.sh $(CAMKIT) demo-out

bench: build
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) demo-out camkit-out
