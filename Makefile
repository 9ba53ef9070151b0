# heapdump: `make help` lists the targets.
#
# Every target that needs them installs what is missing first: Debian's
# packages (deps), a virtualenv per supported Python under .venv/ with the
# test requirements (venvs), and the extension built in place (build).

SHELL := /bin/bash
# "VERSION PLACE INTERPRETER" per supported Python (tools/pythons.sh):
# PLACE is host, or sid for 3.14 and 3.15 when this machine has no such
# interpreter (they run in the Debian sid chroot of tools/sid-chroot.sh)
PYTHONS := $(shell tools/pythons.sh)
VERSIONS := $(shell tools/pythons.sh | cut -d' ' -f1)
NEWEST := $(lastword $(VERSIONS))
OLDEST := $(firstword $(VERSIONS))
# the web integrations' tests (against the real frameworks of
# requirements-integrations.txt) and the install test run on the oldest
# Python, on 3.14 and on the newest, to keep CI short
INTEGRATIONS := $(sort $(OLDEST) $(filter 3.14,$(VERSIONS)) $(NEWEST))
# the Pythons `make bench` compares: 3.13 and the ones after it
BENCH := $(filter 3.13 3.14 3.15,$(VERSIONS))
# the newest Python of this machine (not the chroot's)
HOST_NEWEST := $(lastword $(shell tools/pythons.sh | awk '$$2 == "host" {print $$1}'))
# the sanitizers run on it (they preload the host's libasan / run the
# host's valgrind)
SAN_PYTHON := $(HOST_NEWEST)
# the interpreters of this machine (not the chroot's), newest last
HOST_PYTHONS := $(shell tools/pythons.sh | awk '$$2 == "host" {print $$3}')
# runs the project's virtualenv of a version, in the chroot if need be
PY := tools/py.sh
DEBS := pkg-config gcc libzstd-dev libmsgpack-dev zstd
SID_DEBS := debootstrap
LINT_DEBS := clang-format cppcheck
# every C file of the project, for clang-format
C_FILES := $(shell find src tests/helpers tests/fuzz -name '*.[ch]' | sort)
# the msgpack reader's libFuzzer target: the reader alone (no Python)
FUZZ_SOURCES := src/reader/mpread.c tests/fuzz/fuzz_mpread.c
FUZZ_BIN ?= build/fuzz_mpread
SAN_DEBS := clang libclang-rt-14-dev valgrind
export PYTHONDEVMODE := 1
export PYTHONFAULTHANDLER := 1
PYTEST_ARGS ?=

.PHONY: help deps venvs build test test-html demo wheels bench lint format san-deps asan asan-unit valgrind tsan fuzz fuzz-binary clean

help:  ## this list
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

deps:  ## install the Debian packages the build needs (when missing), and the sid chroot for 3.14/3.15
	@tools/deps.sh $(DEBS)
	@if grep -q ' sid ' <<< "$$(tools/pythons.sh)"; then \
	  tools/deps.sh $(SID_DEBS) && tools/sid-chroot.sh ensure; fi

venvs: deps  ## a virtualenv per supported Python, with the test requirements
	@test -n "$(VERSIONS)" || { echo "no supported Python (3.9 to 3.15) found" >&2; exit 1; }
	@tools/pythons.sh | while read -r v place p; do \
	  d=.venv/py$$v; \
	  reqs="-r requirements-test.txt"; want=requirements-test.txt; \
	  case " $(INTEGRATIONS) " in *" $$v "*) \
	    reqs="$$reqs -r requirements-integrations.txt"; \
	    want="requirements-test.txt requirements-integrations.txt";; esac; \
	  if ! $(PY) $$v -c '' 2>/dev/null || ! cat $$want | cmp -s - $$d/.requirements; then \
	    echo "== venv $$d ($$place)"; \
	    if [ $$place = sid ]; then run="tools/sid-chroot.sh run"; else run=; fi; \
	    $$run env -u PYTHONDEVMODE $$p -m venv --clear $$d && \
	    env -u PYTHONDEVMODE $(PY) $$v -m pip install -q --disable-pip-version-check $$reqs && \
	    cat $$want > $$d/.requirements || exit 1; \
	  fi; \
	done

build: venvs  ## build the extension in place for every Python
	@for v in $(VERSIONS); do \
	  env -u PYTHONDEVMODE $(PY) $$v setup.py -q build_ext --inplace 2>&1 \
	    | grep -v -E '^(running|copying|creating)|_BetaConfiguration|warnings.warn' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# the binary wheels are tried on clean Debian roots by the tests of one
# Python of this machine (tests/integration/test_wheels.py: they make and
# enter those roots, which the sid chroot cannot)
WHEELS_TESTER := $(HOST_NEWEST)

test: build wheels  ## run the tests on every supported Python (3.9 to 3.15)
	@set -e; for v in $(VERSIONS); do \
	  echo "== tests on Python $$v ($$($(PY) --where $$v))"; \
	  case " $(INTEGRATIONS) " in *" $$v "*) req=1;; *) req=0;; esac; \
	  wheels=; [ $$v = $(WHEELS_TESTER) ] && wheels=$(CURDIR)/dist; \
	  HEAPDUMP_REQUIRE_INTEGRATIONS=$$req HEAPDUMP_WHEELS=$$wheels \
	    $(PY) $$v -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests; \
	done

test-html: build  ## the HTML report in headless Chromium (installs Debian's chromium)
	@tools/deps.sh chromium
	.venv/py$(HOST_NEWEST)/bin/python -m pytest -q -p no:cacheprovider tests/integration/test_heap_html.py
	@echo "screenshot: build/test-artifacts/heap-report.png"

# the demo needs one Python and no test requirements: a virtualenv of its
# own with setuptools alone, so that it is quick on a fresh machine
DEMO_PYTHON := $(lastword $(HOST_PYTHONS))

demo: deps  ## a small program fails and dumps; print the dump's summary
	@test -n "$(DEMO_PYTHON)" || { echo "no supported Python found" >&2; exit 1; }
	@if [ ! -x .venv/demo/bin/python ]; then \
	  echo "== venv .venv/demo ($(DEMO_PYTHON))"; \
	  env -u PYTHONDEVMODE $(DEMO_PYTHON) -m venv .venv/demo && \
	  env -u PYTHONDEVMODE .venv/demo/bin/python -m pip install -q \
	    --disable-pip-version-check 'setuptools>=77' || exit 1; fi
	@env -u PYTHONDEVMODE .venv/demo/bin/python setup.py -q build_ext --inplace 2>&1 \
	  | grep -v -E '^(running|copying|creating)|_BetaConfiguration|warnings.warn'; \
	  test $${PIPESTATUS[0]} -eq 0
	@rm -rf demo-dumps && mkdir -p demo-dumps
	@PYTHONPATH=$(CURDIR) .venv/demo/bin/python tests/programs/demo.py demo-dumps || true
	@PYTHONPATH=$(CURDIR) .venv/demo/bin/python -m heapdump.open --summary demo-dumps/*.dump

wheels: venvs  ## the sdist and a manylinux wheel per supported Python, into dist/
	@HEAPDUMP_TOOLS_PYTHON=$(lastword $(HOST_PYTHONS)) \
	  tools/wheels.sh $(foreach v,$(VERSIONS),"$(PY) $(v)")

# BENCH_QUICK=1: the heap shapes at 1.3 M objects only (callgrind on
# 100,000, the way in on 1.3 M) and 10 Django rounds without callgrind
BENCH_QUICK ?=
# callgrind's instruction counts, the fsync times of the Django profile
BENCH_DEBS := valgrind strace
bench: build  ## the speed and memory benchmarks (issue 14's heap shapes and Django site, then the dumper on 3.13 beside 3.14 and 3.15, the heap analysis); BENCH_QUICK=1 for a shorter run
	@tools/deps.sh $(BENCH_DEBS)
	@cmp -s requirements-bench.txt .venv/py$(HOST_NEWEST)/.bench-requirements || { \
	  env -u PYTHONDEVMODE .venv/py$(HOST_NEWEST)/bin/python -m pip install -q --disable-pip-version-check -r requirements-bench.txt && \
	  cp requirements-bench.txt .venv/py$(HOST_NEWEST)/.bench-requirements; }
	@env -u PYTHONDEVMODE PYTHONPATH=$(CURDIR) nice .venv/py$(HOST_NEWEST)/bin/python benchmarks/bench_shapes.py \
	  $(if $(BENCH_QUICK),--quick) $(BENCH_SHAPES_ARGS)
	@env -u PYTHONDEVMODE PYTHONPATH=$(CURDIR) nice .venv/py$(HOST_NEWEST)/bin/python benchmarks/bench_django.py \
	  $(if $(BENCH_QUICK),--rounds 10,--callgrind) $(BENCH_DJANGO_ARGS)
	@env -u PYTHONDEVMODE PYTHONPATH=$(CURDIR) $(PY) $(firstword $(BENCH)) benchmarks/bench_dump.py \
	  $(foreach v,$(BENCH),--python $(v)="$(PY) $(v)")
	@env -u PYTHONDEVMODE PYTHONPATH=$(CURDIR) .venv/py$(HOST_NEWEST)/bin/python benchmarks/bench_heap.py $(BENCH_ARGS)

lint: venvs  ## clang-format, cppcheck, ruff, and tools/deps.py (cycles, sizes)
	@tools/deps.sh $(LINT_DEBS)
	clang-format --dry-run --Werror $(C_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I src src
	$(PY) $(NEWEST) -m ruff check heapdump tests benchmarks tools setup.py
	$(PY) $(NEWEST) tools/deps.py --baseline tools/deps-baseline.txt

format:  ## reformat the C sources
	clang-format -i $(C_FILES)

san-deps:  ## install the sanitizers' Debian packages (clang's runtimes, valgrind)
	@tools/deps.sh $(SAN_DEBS)

asan: venvs  ## the tests under AddressSanitizer + UBSan (newest host Python)
	@tools/deps.sh $(SAN_DEBS)
	@tools/sanitize.sh asan .venv/py$(SAN_PYTHON)/bin/python $(PYTEST_ARGS)

asan-unit: venvs  ## the unit tests but the slow ones under AddressSanitizer + UBSan (what CI runs)
	@tools/deps.sh $(SAN_DEBS)
	@tools/sanitize.sh asan .venv/py$(SAN_PYTHON)/bin/python tests/unit -m "not slow"

valgrind: venvs  ## the unit tests but the slow ones under valgrind, definite leaks as errors (newest host Python)
	@tools/deps.sh $(SAN_DEBS)
	@tools/sanitize.sh valgrind .venv/py$(SAN_PYTHON)/bin/python $(PYTEST_ARGS)

tsan: venvs  ## the signal-dump tests (watcher and acquirer threads) and the writer thread's under ThreadSanitizer (newest host Python)
	@tools/sanitize.sh tsan .venv/py$(SAN_PYTHON)/bin/python $(PYTEST_ARGS)

FUZZ_SECONDS ?= 60
fuzz:  ## the msgpack reader under libFuzzer + ASan/UBSan for FUZZ_SECONDS (60)
	@tools/deps.sh $(SAN_DEBS)
	@$(MAKE) -s fuzz-binary
	@mkdir -p build/fuzz-corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  build/fuzz-corpus tests/fuzz/corpus

fuzz-binary:  ## build the fuzz target alone into FUZZ_BIN (the short run of tests/unit/test_fuzz.py uses it)
	@mkdir -p $(dir $(FUZZ_BIN))
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -I src $(FUZZ_SOURCES) -o $(FUZZ_BIN)

clean:  ## remove build products (keeps .venv)
	rm -rf build dist heapdump/*.so demo-dumps .pytest_cache
