# Two commands do all set-up on a fresh machine:  make reproduce   and   make test
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: install reproduce test checks figures appendix clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[nt,test]"
	touch $@

install: $(VENV)/.installed

reproduce: install          ## quick reproduction: experiments, figures, checks, appendix
	$(VENV)/bin/ntk-bridge reproduce --quick

test: install               ## the test suite (what CI runs)
	$(PY) -m pytest -q

checks: install             ## every proofs_checks statement, as a table
	$(PY) -m proofs_checks

clean:
	rm -rf $(VENV) .pytest_cache
