"""Run CPython's own test_kqueue and test_selectors' KqueueSelector tests against
kevents.compat.select (installed into the select module, as code written for BSD would
see it). Used by test_compat_select.py
in a child interpreter, because install() changes process-global state.

A test that fails is an error unless EXPECTED lists it for this Python version, with its
reason; a listed test that passes is an error too, so the list cannot go stale. Subtest
failures count against their test. The RESULT line counts only what was not expected."""

import sys
import unittest

import kevents.compat.select as compat

#: test id -> (the first Python version whose test differs, why)
EXPECTED: dict[str, tuple[tuple[int, int], str]] = {
    # none: compat.select follows each version (D49, D50), 3.14/3.15 included
}

compat.install()

import selectors  # noqa: E402 - after install(), as a BSD program sees it

assert hasattr(selectors, "KqueueSelector")
from test import test_kqueue, test_selectors  # noqa: E402


def _test_id(test: unittest.TestCase) -> str:
    parent = getattr(test, "test_case", None)  # a failed subtest names its test
    return (parent or test).id()


def _flat(suite: unittest.TestSuite) -> list[unittest.TestCase]:
    out: list[unittest.TestCase] = []
    for item in suite:
        out += _flat(item) if isinstance(item, unittest.TestSuite) else [item]
    return out


suite = unittest.TestSuite()
loader = unittest.TestLoader()
suite.addTests(loader.loadTestsFromModule(test_kqueue))
suite.addTests(loader.loadTestsFromTestCase(test_selectors.KqueueSelectorTestCase))
ids = {test.id() for test in _flat(suite)}
result = unittest.TextTestRunner(verbosity=1).run(suite)
expected = {name: why for name, (since, why) in EXPECTED.items() if sys.version_info >= since}
failed = {_test_id(test) for test, _ in result.failures + result.errors}
skipped = {_test_id(test) for test, _ in result.skipped}
for test, reason in result.skipped:
    print(f"SKIPPED {test.id()}: {reason!r}")
for name in sorted(failed & set(expected)):
    print(f"EXPECTED {name}: {expected[name]}")
stale = sorted(name for name in expected if name in ids and name not in failed | skipped)
for name in stale:
    print(f"STALE {name}: listed as an expected difference, but passes")
failures = [test for test, _ in result.failures if _test_id(test) not in expected]
errors = [test for test, _ in result.errors if _test_id(test) not in expected]
print(
    f"RESULT ran={result.testsRun} failures={len(failures)} errors={len(errors)} "
    f"skipped={len(result.skipped)} expected={len(failed & set(expected))} stale={len(stale)}"
)
sys.exit(1 if failures or errors or stale else 0)
