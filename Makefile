# kevents — two commands matter: `make demo` and `make test` (each sets up what it needs).
PYVER ?= 3.11
VENV ?= .venv
PY := $(VENV)/bin/python
OTHER_PYVERS ?= 3.12 3.13
# the newest CPythons, from Debian's forky suite in a cached chroot (pyenv stops at 3.13)
CHROOT_PYVERS ?= 3.14 3.15

.PHONY: build demo test lint typecheck pytest pytest-nospeedups pytest-other pytest-chroot flake \
	docs bench callgrind wine-test artefact-test clean

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

# the integration tests FLAKE_RUNS more times in a row, stopping at the first failure, so
# that an intermittent failure shows up here rather than at a user's (`make test` runs
# the bounded default after its own run; `make flake FLAKE_RUNS=20` for a long hunt)
FLAKE_RUNS ?= 2
flake: build
	@for i in $$(seq $(FLAKE_RUNS)); do \
		echo "flake: integration run $$i of $(FLAKE_RUNS)"; \
		$(PY) -m pytest -q -x -m "not slow" -p no:cacheprovider tests/integration || exit 1; \
	done

pytest-other:
	@for v in $(OTHER_PYVERS); do \
		.ci/setup-venv.sh $$v .venv-$$v && \
		.venv-$$v/bin/python -m pytest -q -m "not slow" -p no:cacheprovider $(PYTEST_ARGS) \
			|| exit 1; \
	done

# the suite (-m "not slow", with CPython's own kqueue/selectors/asyncio tests of each
# version) built and run inside the chroot of .ci/chroot/setup.sh; skipped without root
pytest-chroot:
	@.ci/chroot-tier.sh $(CHROOT_PYVERS)

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

# what a user installs, as a user gets it: sdist -> wheel -> fresh venv -> smoke test (D59)
artefact-test:
	@.ci/artefact-test.sh

test: lint typecheck pytest flake pytest-nospeedups pytest-other pytest-chroot docs wine-test \
	artefact-test

clean:
	rm -rf build docs/_build kevents/_native*.so *.egg-info
