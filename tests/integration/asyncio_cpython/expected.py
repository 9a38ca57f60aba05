"""CPython asyncio tests that pass with asyncio's default loop and are expected to fail
with kevents' loop, each with its reason. All of them check how asyncio's own loop is
built (its self-pipe, its child watchers, its signal plumbing, by mocking
``asyncio.unix_events.signal``); none checks behaviour a program could see. The
behaviour they stand for is tested against the kevents loop in
``tests/integration/test_asyncio_adapter.py``. A listed test that starts to pass makes
``test_asyncio_cpython.py`` fail, so this list cannot go stale.
"""

from __future__ import annotations

_SELF_PIPE = (
    "asyncio's signal plumbing, mocked: the test patches asyncio.unix_events.signal "
    "and expects set_wakeup_fd/signal.signal calls in a given order; kevents' loop "
    "counts signals with a SIGNAL knote and never calls set_wakeup_fd"
)

EXPECTED: dict[str, str] = {
    "EPollEventLoopTests.test_internal_fds": (
        "asserts one internal fd (asyncio's self-pipe socketpair); kevents' loop is "
        "woken by a USER event and has none"
    ),
    "GenericWatcherTests.test_create_subprocess_fails_with_inactive_watcher": (
        "asserts RuntimeError when asyncio's child watcher is inactive; kevents' loop "
        "takes child exits from PROC knotes and needs no watcher"
    ),
    "SubprocessThreadedWatcherTests.test_pid_not_reaped_before_exit_published": (
        "3.14+: inspects asyncio's threaded child watcher (loop._watcher._threads) and "
        "joins its thread; kevents' loop has no watcher thread. What the test stands "
        "for (the child stays an unreaped zombie until the loop reaps it and publishes "
        "its returncode in one step) is test_a_reaped_child_is_never_signalled, and "
        "CPython's test_send_signal_never_targets_reaped_pid passes (D64)"
    ),
    "SelectorEventLoopSignalTests.test_add_signal_handler_install_error": _SELF_PIPE,
    "SelectorEventLoopSignalTests.test_add_signal_handler_install_error2": _SELF_PIPE,
    "SelectorEventLoopSignalTests.test_add_signal_handler_install_error3": _SELF_PIPE,
    "SelectorEventLoopSignalTests.test_add_signal_handler_setup_error": _SELF_PIPE,
    "SelectorEventLoopSignalTests.test_close": _SELF_PIPE,
    "SelectorEventLoopSignalTests.test_close_on_finalizing": _SELF_PIPE,
    "SelectorEventLoopSignalTests.test_remove_signal_handler": _SELF_PIPE,
    "SelectorEventLoopSignalTests.test_remove_signal_handler_2": _SELF_PIPE,
    "SelectorEventLoopSignalTests.test_remove_signal_handler_error": _SELF_PIPE,
    "SelectorEventLoopSignalTests.test_remove_signal_handler_error2": _SELF_PIPE,
}
