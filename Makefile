# Valkyria: the two commands a fresh Debian machine needs.
#   make run    install dependencies, build, start the seed's hello server
#   make test   install dependencies, build, run every test
#   make install  build, then install valk and its manual page under PREFIX
# Both install missing Debian packages first (scripts/install-deps.sh).

BUILD ?= build
JOBS ?= $(shell nproc)

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build run demo test test-quick fuzz bench install clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The seed's HTTP/2 hello server over TLS on https://localhost:8443/
run: build
	@bash scripts/run-hello.sh

# The language tour.
demo: build
	@./$(BUILD)/valk examples/demo.valk

# Everything: unit tests, .valk suites, CLI and HTTP tests, a short run of
# every fuzz target, and the whole suite again under AddressSanitizer +
# UndefinedBehaviorSanitizer. The builds use -DVALK_WERROR=ON: a warning fails
# them. The last line is "N passed, M failed, K skipped" (scripts/run-tests.sh).
test: deps
	@bash scripts/run-tests.sh

# The release build's tests only (no sanitizer or fuzz builds).
test-quick: deps
	@VALK_TEST_QUICK=1 bash scripts/run-tests.sh

# A longer run of every fuzz target, FUZZ_SECONDS each: make fuzz FUZZ_SECONDS=600
FUZZ_SECONDS ?= 300
fuzz: deps
	@VALK_FUZZ_SECONDS=$(FUZZ_SECONDS) VALK_TEST_ONLY=fuzz bash scripts/run-tests.sh

bench: build
	@bash scripts/install-deps.sh --bench
	@bash bench/run.sh

# valk in $(DESTDIR)$(PREFIX)/bin, its manual page in share/man/man1. A build
# directory configured before (by make test, say) is built as it is.
install: deps
	@[ -f $(BUILD)/CMakeCache.txt ] || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

clean:
	rm -rf build build-asan build-fuzz
