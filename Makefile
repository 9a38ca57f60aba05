# kevents — two commands matter: `make demo` and `make test` (each sets up what it needs).
PYVER ?= 3.11
VENV ?= .venv
PY := $(VENV)/bin/python
OTHER_PYVERS ?= 3.12 3.13

.PHONY: build demo test lint typecheck pytest pytest-nospeedups pytest-other docs bench \
	wine-test artefact-test clean

build:
	@.ci/setup-venv.sh $(PYVER) $(VENV)

demo: build
	$(PY) -m kevents demo

SOURCES := kevents tests examples docs $(wildcard adapters) $(wildcard .ci/*.py)

lint: build
	$(VENV)/bin/ruff check $(SOURCES)
	$(VENV)/bin/ruff format --check $(SOURCES)

typecheck: build
	$(VENV)/bin/mypy kevents $(wildcard adapters) $(wildcard .ci/*.py) tests/typing/user_sample.py

pytest: build
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# the C fast path off: the Python engine alone must pass the conformance suite too
pytest-nospeedups: build
	KEVENTS_SPEEDUPS=0 $(PY) -m pytest -q -m "not slow" -p no:cacheprovider tests/conformance

pytest-other:
	@for v in $(OTHER_PYVERS); do \
		.ci/setup-venv.sh $$v .venv-$$v && \
		.venv-$$v/bin/python -m pytest -q -m "not slow" -p no:cacheprovider $(PYTEST_ARGS) \
			|| exit 1; \
	done

docs: build
	$(VENV)/bin/sphinx-build -q -W -b html docs docs/_build/html

wine-test: build
	@.ci/wine-tier.sh

bench: build
	$(PY) tests/benchmarks/run_all.py

# what a user installs, as a user gets it: sdist -> wheel -> fresh venv -> smoke test (D71)
artefact-test:
	@.ci/artefact-test.sh

test: lint typecheck pytest pytest-nospeedups pytest-other docs wine-test artefact-test

clean:
	rm -rf build docs/_build kevents/_native*.so *.egg-info
