# Entry points: `make demo`, `make test`, `make bench`, `make fuzz`, `make soak`, `make build`, `make clean`.
# Each installs missing packages first (scripts/install-deps.sh), configures
# the Meson build directory when it is missing, builds, then runs.

BUILD      ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?= --buildtype=debugoptimized -Dwerror=true
ASAN_OPTS  ?= --buildtype=debugoptimized -Dwerror=true \
              -Db_sanitize=address,undefined -Db_lundef=false \
              -Dlaunchers=false -Dexamples=false
# Suites that run again under AddressSanitizer + UndefinedBehaviorSanitizer.
ASAN_SUITES ?= unit sim integration capi
# How many simulation seeds run there (DWS_SIM_SEEDS, read by lib/sim);
# the default build runs the full 100; under the sanitizers the store simulation
# is about 10x slower, so 20 seeds run there (empty: the full set).
ASAN_SIM_SEEDS ?= 20

# ThreadSanitizer: the unit and integration suites again in a tree of their
# own (the sim suites are single-threaded). -Wno-tsan: GCC warns that TSan
# does not model atomic_thread_fence, which Asio's handler invocation uses
# (asio/detail/std_fenced_block.hpp); the handoffs it fences are also done
# under the scheduler's mutex, which TSan does see.
TSAN_BUILD ?= build-tsan
TSAN_OPTS  ?= --buildtype=debugoptimized -Dwerror=true -Db_sanitize=thread -Db_lundef=false \
              -Dlaunchers=false -Dexamples=false -Dcpp_args=-Wno-tsan
# The unit and integration tests, but store_http: 5 minutes under TSan, and
# its threads are the ones ring_http and client run too (docs/design.md).
TSAN_TESTS ?= unit_core unit_net unit_store unit_accounts unit_msg unit_node \
              ring_http client accounts_http limits_http peer_http http_server tls
TSAN_TARGETS = $(addprefix tests/unit/unit_,core net store accounts msg node) \
               $(addprefix tests/integration/test_,ring_http client accounts_http limits_http peer_http http_server tls)
# Reports from third-party code only (each line says why); a report in ours fails.
TSAN_ENV = TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp"

# libFuzzer targets (tests/fuzz), built with clang in a directory of their
# own; `make test` runs each for FUZZ_SECONDS, `make fuzz` for longer.
FUZZ_BUILD ?= build-fuzz
FUZZ_OPTS  ?= --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
              -Dcpp_args=-fsanitize=fuzzer-no-link -Dtests=false -Dlaunchers=false -Dexamples=false -Dfuzz=true
FUZZ_SECONDS ?= 30
FUZZ_LONG_SECONDS ?= 300

# Sanitizer reports must fail the test that triggered them.
export ASAN_OPTIONS  ?= halt_on_error=1:abort_on_error=1:detect_leaks=1:print_summary=1
export UBSAN_OPTIONS ?= halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1

T0 := $(shell date +%s)

.PHONY: all build test demo bench fuzz soak clean deps

# `make soak` (not in CI): 5 nodes, one SIGKILLed and restarted every
# SOAK_KILL_EVERY seconds, 10 users, for SOAK_MINUTES (at most 10).
SOAK_MINUTES ?= 10
SOAK_KILL_EVERY ?= 5

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) $(ASAN_OPTS)

$(TSAN_BUILD)/build.ninja: | deps
	meson setup $(TSAN_BUILD) $(TSAN_OPTS)

$(FUZZ_BUILD)/build.ninja: | deps
	CXX=clang++ meson setup $(FUZZ_BUILD) $(FUZZ_OPTS)

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

test: build $(ASAN_BUILD)/build.ninja $(FUZZ_BUILD)/build.ninja $(TSAN_BUILD)/build.ninja
	@meson test -C $(BUILD) --print-errorlogs; main=$$?; \
	meson compile -C $(ASAN_BUILD) && \
	DWS_SIM_SEEDS=$(ASAN_SIM_SEEDS) meson test -C $(ASAN_BUILD) --print-errorlogs $(addprefix --suite ,$(ASAN_SUITES)); asan=$$?; \
	meson compile -C $(FUZZ_BUILD) && \
	DWS_FUZZ_SECONDS=$(FUZZ_SECONDS) meson test -C $(FUZZ_BUILD) --print-errorlogs --suite fuzz; fuzz=$$?; \
	t1=$$(date +%s); \
	meson compile -C $(TSAN_BUILD) $(TSAN_TARGETS) && \
	$(TSAN_ENV) meson test -C $(TSAN_BUILD) --no-rebuild --print-errorlogs $(TSAN_TESTS); tsan=$$?; \
	tsecs=$$(( $$(date +%s) - $$t1 )); \
	secs=$$(( $$(date +%s) - $(T0) )); \
	word() { if [ "$$1" -eq 0 ]; then echo passed; else echo FAILED; fi; }; \
	echo; \
	echo "make test: all suites $$(word $$main) ($(BUILD)); $(ASAN_SUITES) under ASan+UBSan $$(word $$asan) ($(ASAN_BUILD)); fuzz targets $$(word $$fuzz) ($(FUZZ_BUILD), $(FUZZ_SECONDS) s each); unit and integration (but store_http) under TSan $$(word $$tsan) ($(TSAN_BUILD), $${tsecs}s); $${secs}s"; \
	python3 scripts/test-summary.py $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD); \
	[ $$main -eq 0 ] && [ $$asan -eq 0 ] && [ $$fuzz -eq 0 ] && [ $$tsan -eq 0 ]

fuzz: deps $(FUZZ_BUILD)/build.ninja
	meson compile -C $(FUZZ_BUILD)
	DWS_FUZZ_SECONDS=$(FUZZ_LONG_SECONDS) meson test -C $(FUZZ_BUILD) --print-errorlogs --suite fuzz

demo: build
	python3 scripts/demo.py $(BUILD)/launchers/dws-node

soak: build
	python3 scripts/soak.py --node $(BUILD)/launchers/dws-node --chat $(BUILD)/launchers/dws-chat \
	  --minutes $(SOAK_MINUTES) --kill-every $(SOAK_KILL_EVERY)

bench: build
	python3 scripts/run-bench.py $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
