# Two commands do all set-up on a fresh machine:  make reproduce   and   make test
#
# Two stacks, one virtual environment each:
#   $(VENV)   pinned: jax 0.4.30 + neural-tangents 0.6.5 (+ tensorflow, ~2 GB) + ray, constraints.txt, .[nt,ray,test]
#   $(LATEST) the newest JAX on PyPI, no neural-tangents, no Ray, .[test,docs]; tests needing them are skipped
# `make test` runs the fast tier (everything not marked `slow`) on both stacks, each in one pytest
# process, and fails if either fails (what CI runs: .ci/run); `make test-all` runs every test.
# The latest stack also builds the documentation site with `mkdocs build --strict` (into a temporary
# folder); `make docs` builds it into site/.
# Pin the latest stack too with  make test-latest LATEST_CONSTRAINTS=constraints-latest.txt
# (the newest set last verified); `make clean-latest` makes the next run fetch the newest again.
PYTHON ?= python3
VENV   ?= .venv
LATEST ?= .venv-latest
LATEST_CONSTRAINTS ?=
PYTEST_ARGS ?= -q
TIER ?= -m "not slow"
PY        = $(VENV)/bin/python
PY_LATEST = $(LATEST)/bin/python

.PHONY: install install-latest reproduce reference test test-all test-pinned test-latest docs docs-check checks clean clean-latest

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[nt,ray,test]"
	touch $@

$(LATEST)/.installed: pyproject.toml $(LATEST_CONSTRAINTS)
	$(PYTHON) -m venv $(LATEST)
	$(PY_LATEST) -m pip install -q --upgrade pip
	$(PY_LATEST) -m pip install -q --upgrade $(if $(LATEST_CONSTRAINTS),-c $(LATEST_CONSTRAINTS)) -e ".[test,docs]"
	touch $@

install: $(VENV)/.installed

install-latest: $(LATEST)/.installed

reproduce: install          ## quick reproduction: experiments, figures, checks, appendix
	$(VENV)/bin/ntk-bridge reproduce --quick

# pytest's exit status 5 ("no tests collected") is a failure like any other non-zero status.
define run_pytest
	@$(1) -c 'import sys, jax; print(f"== tests on $(2): python {sys.version.split()[0]}, jax {jax.__version__}")'
	@$(1) -m pytest $(PYTEST_ARGS) $(TIER); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests on $(2) (exit 5): a failure" >&2; fi; \
	exit $$rc
endef

# The two stacks run side by side (most tests are single-threaded compilation: one core each);
# each stack's output is printed whole when its run ends, pinned first.
test: install install-latest  ## the fast tier on both stacks (what CI runs); fails if either fails
	@logs=$$(mktemp -d); status=0; \
	echo "make test: the pinned and the latest stack run side by side; each one's output follows when it ends"; \
	$(MAKE) --no-print-directory test-pinned TIER='$(TIER)' > $$logs/pinned 2>&1 & pinned=$$!; \
	$(MAKE) --no-print-directory test-latest TIER='$(TIER)' > $$logs/latest 2>&1 & latest=$$!; \
	wait $$pinned || status=1; cat $$logs/pinned; \
	wait $$latest || status=1; cat $$logs/latest; rm -rf $$logs; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED on at least one stack (see above)" >&2; fi; \
	exit $$status

test-all:                   ## every test, the slow tier included, on both stacks
	@$(MAKE) --no-print-directory test TIER=

test-pinned: install        ## the suite on the pinned stack only (TIER= for every test)
	$(call run_pytest,$(PY),the pinned stack ($(VENV)))

test-latest: install-latest ## the suite on the newest JAX only, in one process (TIER= for every test), and the site
	$(call run_pytest,$(PY_LATEST),the latest stack ($(LATEST)))
	@$(MAKE) --no-print-directory docs-check

# The documentation site: mkdocs.yml, docs/ (tutorials, API reference from the docstrings, the
# generated paper_repro.md).  --strict: any warning (a broken link or anchor, a docstring the
# API reference cannot parse, a missing include) fails the build.
MKDOCS = NO_MKDOCS_2_WARNING=1 $(LATEST)/bin/mkdocs
docs-check: install-latest  ## mkdocs build --strict into a temporary folder (nothing written into the checkout)
	@site=$$(mktemp -d); echo "== mkdocs build --strict (the documentation site)"; \
	$(MKDOCS) build --strict -d $$site; rc=$$?; rm -rf $$site; \
	if [ $$rc -ne 0 ]; then echo "mkdocs build --strict FAILED" >&2; fi; exit $$rc

docs: install-latest        ## build the documentation site into site/ (open site/index.html; `mkdocs serve` to preview)
	$(MKDOCS) build --strict -d site

# The reference record (results/reference, what README and paper_repro.md cite), regenerated with
# this code, every experiment's full config (the quick ones are for `reproduce --quick`): about 4
# CPU-hours on the 2-core machine (finite-closeness ~60 min since it reads each net under both heads and
# trains MAML/FOMAML on their own grid, closeness and accuracy ~45 min each, ablate ~20, conditioning ~15,
# ntk-fluctuation ~15, distribution (384 uncentered nets) about an hour, conv ~35 min (CNTKs with pooling and 33
# trained conv nets), feature-learning ~25 min (456 nets under two parameterizations); measured 2026-11-23 to
# 2026-12-05).  Resumable: points
# already made by the current algorithm versions are read back; records made by older code (or
# summaries in an older layout) are removed first, so nothing reads them meanwhile.  Then
# results/reference/manifest.json lists every summary with its code identity;
# selection.json names the summaries figures and the appendix read (the full sweeps, --select).
# On a GPU machine, the finite-width parts run there: `NTK=ntk-bridge make reference` with jax[cuda].
REF ?= results/reference
NTK ?= $(VENV)/bin/ntk-bridge
reference: install          ## regenerate every reference result with this code, then its manifest
	if [ -d $(REF) ]; then $(NTK) verify --results $(REF) --remove-stale; fi
	for e in kernel-share closeness cost accuracy ablate conditioning ntk-fluctuation distribution conv feature-learning; do \
	  $(NTK) $$e --results $(REF) --select || exit 1; done
	for e in closeness accuracy kernel-share ablate; do \
	  $(NTK) $$e --family digits --results $(REF) --select || exit 1; done
	$(NTK) width --depths 2 --widths 256 1024 4096 --seeds 2 --results $(REF) --select
	$(NTK) finite-closeness --results $(REF) --select
	$(NTK) finite-closeness --family digits --results $(REF) --select
	$(NTK) verify --results $(REF) --remove-stale --manifest
	$(VENV)/bin/python -m proofs_checks --out $(REF)/checks.json
	$(NTK) figures --results $(REF) --out $(REF)/figures
	$(NTK) appendix --results $(REF) --out $(REF)/appendix

checks: install             ## every proofs_checks statement, as a table
	$(PY) -m proofs_checks

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache

clean-latest:
	rm -rf $(LATEST)
