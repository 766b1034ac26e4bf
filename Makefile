# Two commands do all set-up on a fresh machine:  make reproduce   and   make test
#
# Two stacks, one virtual environment each:
#   $(VENV)   pinned: jax 0.4.30 + neural-tangents 0.6.5 (+ tensorflow, ~2 GB) + ray, constraints.txt, .[nt,ray,test]
#   $(LATEST) the newest JAX on PyPI, no neural-tangents, no Ray, .[test]; tests needing them are skipped
# `make test` runs the suite on both and fails if either fails (what CI runs: .ci/run).
# Pin the latest stack too with  make test-latest LATEST_CONSTRAINTS=constraints-latest.txt
# (the newest set last verified); `make clean-latest` makes the next run fetch the newest again.
PYTHON ?= python3
VENV   ?= .venv
LATEST ?= .venv-latest
LATEST_CONSTRAINTS ?=
PYTEST_ARGS ?= -q
PY        = $(VENV)/bin/python
PY_LATEST = $(LATEST)/bin/python

.PHONY: install install-latest reproduce test test-pinned test-latest checks clean clean-latest

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[nt,ray,test]"
	touch $@

$(LATEST)/.installed: pyproject.toml $(LATEST_CONSTRAINTS)
	$(PYTHON) -m venv $(LATEST)
	$(PY_LATEST) -m pip install -q --upgrade pip
	$(PY_LATEST) -m pip install -q --upgrade $(if $(LATEST_CONSTRAINTS),-c $(LATEST_CONSTRAINTS)) -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-latest: $(LATEST)/.installed

reproduce: install          ## quick reproduction: experiments, figures, checks, appendix
	$(VENV)/bin/ntk-bridge reproduce --quick

# pytest's exit status 5 ("no tests collected") is a failure like any other non-zero status.
define run_pytest
	@$(1) -c 'import sys, jax; print(f"== tests on $(2): python {sys.version.split()[0]}, jax {jax.__version__}")'
	@$(1) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests on $(2) (exit 5): a failure" >&2; fi; \
	exit $$rc
endef

# The two stacks run side by side (most tests are single-threaded compilation: one core each);
# each stack's output is printed whole when its run ends, pinned first.
test: install install-latest  ## the test suite on both stacks (what CI runs); fails if either fails
	@logs=$$(mktemp -d); status=0; \
	echo "make test: the pinned and the latest stack run side by side; each one's output follows when it ends"; \
	$(MAKE) --no-print-directory test-pinned > $$logs/pinned 2>&1 & pinned=$$!; \
	$(MAKE) --no-print-directory test-latest > $$logs/latest 2>&1 & latest=$$!; \
	wait $$pinned || status=1; cat $$logs/pinned; \
	wait $$latest || status=1; cat $$logs/latest; rm -rf $$logs; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED on at least one stack (see above)" >&2; fi; \
	exit $$status

test-pinned: install        ## the suite on the pinned stack only
	$(call run_pytest,$(PY),the pinned stack ($(VENV)))

# On the newest JAX (0.10.2) the whole suite in one process crashed (failures, then a segfault
# inside XLA) in tests that pass when their file runs alone: each test file runs in its own
# process there, and every file must pass.
TEST_FILES ?= $(sort $(wildcard tests/test_*.py))

test-latest: install-latest ## the suite on the newest JAX only (one process per test file)
	@$(PY_LATEST) -c 'import sys, jax; print(f"== tests on the latest stack ($(LATEST)): python {sys.version.split()[0]}, jax {jax.__version__}, one process per file")'
	@status=0; for f in $(TEST_FILES); do \
	  $(PY_LATEST) -m pytest $(PYTEST_ARGS) $$f; rc=$$?; \
	  if [ $$rc -ne 0 ]; then echo "FAILED on the latest stack: $$f (pytest exit $$rc)" >&2; status=1; fi; \
	done; \
	if [ $$status -ne 0 ]; then echo "the latest stack: at least one test file failed (see above)" >&2; fi; \
	exit $$status

checks: install             ## every proofs_checks statement, as a table
	$(PY) -m proofs_checks

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache

clean-latest:
	rm -rf $(LATEST)
