# kevents — two commands matter: `make demo` and `make test` (each sets up what it needs).
PYVER ?= 3.11
VENV ?= .venv
PY := $(VENV)/bin/python
OTHER_PYVERS ?= 3.12 3.13

.PHONY: build demo test lint typecheck pytest pytest-other docs bench wine-test clean

build:
	@.ci/setup-venv.sh $(PYVER) $(VENV)

demo: build
	$(PY) -m kevents demo

lint: build
	$(VENV)/bin/ruff check kevents adapters tests examples
	$(VENV)/bin/ruff format --check kevents adapters tests examples

typecheck: build
	$(VENV)/bin/mypy

pytest: build
	$(PY) -m pytest -q $(PYTEST_ARGS)

pytest-other:
	@for v in $(OTHER_PYVERS); do \
		.ci/setup-venv.sh $$v .venv-$$v && \
		.venv-$$v/bin/python -m pytest -q -m "not slow" $(PYTEST_ARGS) || exit 1; \
	done

docs: build
	$(VENV)/bin/sphinx-build -q -W -b html docs docs/_build/html

wine-test: build
	@.ci/wine-tier.sh

bench: build
	$(PY) tests/benchmarks/run_all.py

test: lint typecheck pytest pytest-other docs wine-test

clean:
	rm -rf build docs/_build kevents/_native*.so *.egg-info
