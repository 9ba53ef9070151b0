# heapdump: `make help` lists the targets.
#
# Every target that needs them installs what is missing first: Debian's
# packages (deps), a virtualenv per supported Python under .venv/ with the
# test requirements (venvs), and the extension built in place (build).

SHELL := /bin/bash
PYTHONS := $(shell tools/pythons.sh)
VERSIONS := $(foreach p,$(PYTHONS),$(shell $(p) -c 'import sys;print("%d.%d"%sys.version_info[:2])'))
NEWEST := $(lastword $(VERSIONS))
OLDEST := $(firstword $(VERSIONS))
# the web integrations' tests (against the real frameworks of
# requirements-integrations.txt) and the install test run on the oldest and
# newest Python only, to keep CI short
INTEGRATIONS := $(sort $(OLDEST) $(NEWEST))
VENV = .venv/py$(1)
DEBS := pkg-config gcc libzstd-dev libmsgpack-dev zstd
LINT_DEBS := clang-format cppcheck
SAN_DEBS := clang libclang-rt-14-dev valgrind
export PYTHONDEVMODE := 1
export PYTHONFAULTHANDLER := 1
PYTEST_ARGS ?=

.PHONY: help deps venvs build test test-html demo wheels bench lint format asan valgrind fuzz clean

help:  ## this list
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

deps:  ## install the Debian packages the build needs (when missing)
	@tools/deps.sh $(DEBS)

venvs: deps  ## a virtualenv per supported Python, with the test requirements
	@test -n "$(PYTHONS)" || { echo "no supported Python (3.9 to 3.13) found" >&2; exit 1; }
	@for p in $(PYTHONS); do \
	  v=$$($$p -c 'import sys;print("%d.%d"%sys.version_info[:2])'); d=.venv/py$$v; \
	  reqs="-r requirements-test.txt"; want=requirements-test.txt; \
	  case " $(INTEGRATIONS) " in *" $$v "*) \
	    reqs="$$reqs -r requirements-integrations.txt"; \
	    want="requirements-test.txt requirements-integrations.txt";; esac; \
	  if [ ! -x $$d/bin/python ] || ! cat $$want | cmp -s - $$d/.requirements; then \
	    echo "== venv $$d"; env -u PYTHONDEVMODE $$p -m venv --clear $$d && \
	    env -u PYTHONDEVMODE $$d/bin/python -m pip install -q --disable-pip-version-check $$reqs && \
	    cat $$want > $$d/.requirements || exit 1; \
	  fi; \
	done

build: venvs  ## build the extension in place for every Python
	@for v in $(VERSIONS); do \
	  env -u PYTHONDEVMODE .venv/py$$v/bin/python setup.py -q build_ext --inplace 2>&1 \
	    | grep -v -E '^(running|copying|creating)|_BetaConfiguration|warnings.warn' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# the binary wheels are tried on clean Debian roots by the tests of one
# Python of this machine (tests/integration/test_wheels.py)
WHEELS_TESTER := $(NEWEST)

test: build wheels  ## run the tests on every supported Python found
	@set -e; for v in $(VERSIONS); do \
	  echo "== tests on Python $$v"; \
	  case " $(INTEGRATIONS) " in *" $$v "*) req=1;; *) req=0;; esac; \
	  wheels=; [ $$v = $(WHEELS_TESTER) ] && wheels=$(CURDIR)/dist; \
	  HEAPDUMP_REQUIRE_INTEGRATIONS=$$req HEAPDUMP_WHEELS=$$wheels \
	    .venv/py$$v/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests; \
	done

test-html: build  ## the HTML report in headless Chromium (installs Debian's chromium)
	@tools/deps.sh chromium
	.venv/py$(NEWEST)/bin/python -m pytest -q -p no:cacheprovider tests/integration/test_heap_html.py
	@echo "screenshot: build/test-artifacts/heap-report.png"

# the demo needs one Python and no test requirements: a virtualenv of its
# own with setuptools alone, so that it is quick on a fresh machine
DEMO_PYTHON := $(lastword $(PYTHONS))

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
	@HEAPDUMP_TOOLS_PYTHON=$(lastword $(PYTHONS)) \
	  tools/wheels.sh $(foreach v,$(VERSIONS),.venv/py$(v)/bin/python)

bench: build  ## the speed and memory benchmarks (print figures and ratios)
	@env -u PYTHONDEVMODE PYTHONPATH=$(CURDIR) .venv/py$(NEWEST)/bin/python benchmarks/bench_dump.py
	@cmp -s requirements-bench.txt .venv/py$(NEWEST)/.bench-requirements || { \
	  env -u PYTHONDEVMODE .venv/py$(NEWEST)/bin/python -m pip install -q --disable-pip-version-check -r requirements-bench.txt && \
	  cp requirements-bench.txt .venv/py$(NEWEST)/.bench-requirements; }
	@env -u PYTHONDEVMODE PYTHONPATH=$(CURDIR) .venv/py$(NEWEST)/bin/python benchmarks/bench_heap.py $(BENCH_ARGS)

lint: venvs  ## clang-format, cppcheck and ruff
	@tools/deps.sh $(LINT_DEBS)
	clang-format --dry-run --Werror src/*.c src/*.h tests/helpers/*.c tests/fuzz/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I src src
	.venv/py$(NEWEST)/bin/python -m ruff check heapdump tests benchmarks setup.py

format:  ## reformat the C sources
	clang-format -i src/*.c src/*.h tests/helpers/*.c tests/fuzz/*.c

asan: venvs  ## the tests under AddressSanitizer + UBSan (newest Python)
	@tools/deps.sh $(SAN_DEBS)
	@tools/sanitize.sh asan .venv/py$(NEWEST)/bin/python $(PYTEST_ARGS)

valgrind: venvs  ## the unit tests but the slow ones under valgrind (newest Python)
	@tools/deps.sh $(SAN_DEBS)
	@tools/sanitize.sh valgrind .venv/py$(NEWEST)/bin/python $(PYTEST_ARGS)

FUZZ_SECONDS ?= 60
fuzz:  ## the msgpack reader under libFuzzer + ASan/UBSan for FUZZ_SECONDS (60)
	@tools/deps.sh $(SAN_DEBS)
	@mkdir -p build/fuzz-corpus
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -I src src/mpread.c tests/fuzz/fuzz_mpread.c -o build/fuzz_mpread
	build/fuzz_mpread -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  build/fuzz-corpus tests/fuzz/corpus

clean:  ## remove build products (keeps .venv)
	rm -rf build dist heapdump/*.so demo-dumps .pytest_cache
