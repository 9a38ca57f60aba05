# kevents — two commands matter: `make demo` and `make test` (each sets up what it needs).
PYVER ?= 3.11
VENV ?= .venv
PY := $(VENV)/bin/python
OTHER_PYVERS ?= 3.12 3.13

.PHONY: build demo test lint typecheck pytest pytest-nospeedups pytest-other docs bench \
	callgrind wine-test clean

build:
	@.ci/setup-venv.sh $(PYVER) $(VENV)

demo: build
	$(PY) -m kevents demo

SOURCES := kevents tests examples docs $(wildcard adapters)

lint: build
	$(VENV)/bin/ruff check $(SOURCES)
	$(VENV)/bin/ruff format --check $(SOURCES)

typecheck: build
	$(VENV)/bin/mypy kevents $(wildcard adapters)

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

# every benchmark beside its stdlib/peer baseline, then docs/_static/benchmarks.png
bench: build
	@.ci/install-valgrind.sh
	$(PY) tests/benchmarks/run_all.py

# instructions per ping-pong hop under callgrind alone (deterministic)
callgrind: build
	@.ci/install-valgrind.sh
	cd tests/benchmarks && ../../$(PY) bench_callgrind.py

test: lint typecheck pytest pytest-nospeedups pytest-other docs wine-test

clean:
	rm -rf build docs/_build kevents/_native*.so *.egg-info
