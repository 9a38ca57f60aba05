"""Run CPython's own test_kqueue and test_selectors' KqueueSelector tests against
kevents.compat.select (installed into the select module, as code written for BSD would
see it). Used by test_compat_select.py
in a child interpreter, because install() changes process-global state."""

import sys
import unittest

import kevents.compat.select as compat

compat.install()

import selectors  # noqa: E402 - after install(), as a BSD program sees it

assert hasattr(selectors, "KqueueSelector")
from test import test_kqueue, test_selectors  # noqa: E402

suite = unittest.TestSuite()
loader = unittest.TestLoader()
suite.addTests(loader.loadTestsFromModule(test_kqueue))
suite.addTests(loader.loadTestsFromTestCase(test_selectors.KqueueSelectorTestCase))
result = unittest.TextTestRunner(verbosity=1).run(suite)
for test, reason in result.skipped:
    print(f"SKIPPED {test.id()}: {reason!r}")
print(
    f"RESULT ran={result.testsRun} failures={len(result.failures)} "
    f"errors={len(result.errors)} skipped={len(result.skipped)}"
)
sys.exit(0 if result.wasSuccessful() else 1)
