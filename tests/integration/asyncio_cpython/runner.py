"""Run CPython's own asyncio event-loop tests against an event loop, as uvloop does.

    python runner.py default|kevents MODULE OUT.json

``default``: asyncio's selector loop (epoll on Linux), the baseline. ``kevents``: the
same tests with kevents' loop: every test class that picks a selector gets its epoll
variant re-created over :class:`kevents_asyncio.KeventsEventLoop` under the same name
(so results compare test by test), and everything that asks asyncio for "a loop"
(``asyncio.new_event_loop()``, ``asyncio.SelectorEventLoop()`` with no selector, the
policy) gets a kevents loop. Classes that test other selectors (select, poll, kqueue)
or Windows' proactor are not run in either mode.

Writes ``{test id: outcome}`` (pass, fail, error, skip, xfail, xpass) to OUT.json.
"""

from __future__ import annotations

import asyncio
import faulthandler
import importlib
import json
import sys
import unittest
import warnings
from typing import Any

#: per-selector classes: only the epoll ones run (the default loop on Linux)
OTHER_SELECTORS = (
    "SelectEventLoopTests",
    "PollEventLoopTests",
    "KqueueEventLoopTests",
    "ProactorEventLoopTests",
    "SubprocessProactorTests",
)
#: test_subprocess: the child-watcher variants; the threaded one (asyncio's default
#: watcher on 3.11-3.13) is the baseline and becomes the kevents class
WATCHER_BASELINE = "SubprocessThreadedWatcherTests"
OTHER_WATCHERS = (
    "SubprocessSafeWatcherTests",
    "SubprocessFastWatcherTests",
    "SubprocessPidfdWatcherTests",
)


def _kevents_twin(cls: type, module: Any) -> type:
    """``cls`` re-created over a kevents loop, under the same name."""
    import kevents_asyncio

    attrs: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
    if cls.__name__ == WATCHER_BASELINE:
        # SubprocessWatcherMixin's setUp and tearDown, without the child watcher
        def setUp(self: Any) -> None:
            super(module.SubprocessWatcherMixin, self).setUp()
            self.loop = kevents_asyncio.new_event_loop()
            self.set_event_loop(self.loop)

        def tearDown(self: Any) -> None:
            super(module.SubprocessWatcherMixin, self).tearDown()

        attrs.update(setUp=setUp, tearDown=tearDown)
    else:
        attrs["create_event_loop"] = lambda self: kevents_asyncio.new_event_loop()
    return type(cls.__name__, (cls,), attrs)


def _install_kevents() -> None:
    import kevents_asyncio

    original = asyncio.SelectorEventLoop

    def selector_event_loop(selector: Any = None) -> Any:
        if selector is None:
            return kevents_asyncio.new_event_loop()
        return original(selector)  # a test that wants a specific selector gets it

    asyncio.SelectorEventLoop = selector_event_loop  # type: ignore[misc,assignment]
    if sys.platform != "win32":
        asyncio.unix_events.SelectorEventLoop = selector_event_loop  # type: ignore[misc,assignment]
    kevents_asyncio.install()


def suite(modname: str, mode: str) -> unittest.TestSuite:
    module = importlib.import_module(f"test.test_asyncio.{modname}")
    loader = unittest.TestLoader()
    out = unittest.TestSuite()
    for name in sorted(dir(module)):
        cls = getattr(module, name)
        if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
            continue
        if cls.__module__ != module.__name__ or name in OTHER_SELECTORS + OTHER_WATCHERS:
            continue
        if mode == "kevents" and (name.startswith("EPoll") or name == WATCHER_BASELINE):
            cls = _kevents_twin(cls, module)
        out.addTests(loader.loadTestsFromTestCase(cls))
    return out


class Recorder(unittest.TextTestResult):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, str] = {}
        self.details: dict[str, str] = {}

    def _id(self, test: Any) -> str:
        return f"{test.__class__.__name__}.{getattr(test, '_testMethodName', str(test))}"

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        self.outcomes.setdefault(self._id(test), "pass")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self.outcomes[self._id(test)] = "fail"
        self.details[self._id(test)] = self._exc_info_to_string(err, test)[-2000:]

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self.outcomes[self._id(test)] = "error"
        self.details[self._id(test)] = self._exc_info_to_string(err, test)[-2000:]

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self.outcomes[self._id(test)] = "skip"

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self.outcomes[self._id(test)] = "xfail"

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self.outcomes[self._id(test)] = "xpass"


def main() -> int:
    mode, modname, out = sys.argv[1:4]
    faulthandler.dump_traceback_later(900, exit=True)  # a hang shows where, then ends
    warnings.simplefilter("ignore", DeprecationWarning)
    if mode == "kevents":
        _install_kevents()
    runner = unittest.TextTestRunner(resultclass=Recorder, verbosity=0, stream=sys.stderr)
    result: Any = runner.run(suite(modname, mode))
    with open(out, "w") as f:
        json.dump({"outcomes": result.outcomes, "details": result.details}, f, indent=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
