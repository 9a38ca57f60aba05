"""The io_uring gate: every way io_uring can be unavailable falls back silently, with
the reason in backend_info(); overrides come from the argument, then KEVENTS_IO_URING."""

from __future__ import annotations

import errno
import sys

import pytest

if not sys.platform.startswith("linux"):
    pytest.skip("io_uring is Linux-only", allow_module_level=True)

import kevents
import kevents.testing
from kevents import Filter, UnsupportedError
from kevents._backends.linux import io_uring
from kevents._backends.linux.io_uring import AIO_OPS, BATCH_OPS, Decision, decide, probe


class FakeRing:
    def __init__(self, missing: set[int]) -> None:
        self.missing = missing

    def supports(self, op: int) -> bool:
        return op not in self.missing

    def close(self) -> None:
        pass


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.ENOMEM])
def test_setup_errors_mean_not_available(code: int) -> None:
    def failing(entries: int) -> FakeRing:
        raise OSError(code, "injected")

    d = probe(failing)
    assert not d.aio and not d.batch
    assert errno.errorcode[code] in d.reason


def test_missing_opcodes_disable_only_what_needs_them() -> None:
    d = probe(lambda entries: FakeRing({BATCH_OPS["EPOLL_CTL"]}))
    assert d.aio and not d.batch and "EPOLL_CTL" in d.reason
    d = probe(lambda entries: FakeRing({AIO_OPS["ASYNC_CANCEL"]}))
    assert not d.aio and d.batch and "ASYNC_CANCEL" in d.reason


def test_probe_failure_is_not_available() -> None:
    class Broken(FakeRing):
        def supports(self, op: int) -> bool:
            raise OSError(errno.EINVAL, "no probe")

    assert probe(lambda entries: Broken(set())) == Decision(
        False, False, "io_uring opcode probe failed: [Errno 22] no probe"
    )


def test_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(io_uring, "_probed", Decision(True, True, "probed"))
    monkeypatch.setenv("KEVENTS_IO_URING", "0")
    assert not decide().aio
    assert decide(True).aio  # the explicit argument wins over the environment
    monkeypatch.setenv("KEVENTS_IO_URING", "1")
    assert not decide(False).aio
    monkeypatch.setattr(io_uring, "_probed", Decision(False, False, "EPERM injected"))
    with pytest.raises(UnsupportedError, match="EPERM injected"):
        decide()
    monkeypatch.delenv("KEVENTS_IO_URING")
    assert decide() == Decision(False, False, "EPERM injected")  # silent fallback


def test_fallback_queue_still_does_aio(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(io_uring, "_probed", Decision(False, False, "ENOSYS injected"))
    info = kevents.backend_info("linux")
    assert info.filter(Filter.AIO).mechanism == "thread pool"
    assert "ENOSYS injected" in info.filter(Filter.AIO).why
    path = tmp_path / "f"
    path.write_bytes(b"abcdef")
    with kevents.Queue("linux") as kq, open(path, "rb") as f:
        buf = bytearray(3)
        rid = kq.aio_read(f.fileno(), buf, 2)
        (ev,) = kq.control(None, 1, 5)
        assert ev.ident == rid and ev.data == 3 and buf == b"cde"


def test_forced_on_where_unavailable_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(io_uring, "_probed", Decision(False, False, "EPERM injected"))
    with pytest.raises(UnsupportedError):
        kevents.Queue("linux-io_uring")


def test_no_ring_before_first_need() -> None:
    proc = kevents.testing.run_isolated("""
        import os, kevents
        def rings():
            return sum(os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[io_uring]"
                       for fd in os.listdir("/proc/self/fd")
                       if os.path.exists(f"/proc/self/fd/{fd}"))
        kq = kevents.Queue(io_uring=None)
        kq.control(None, 1, 0)
        assert rings() == 0, rings()
        print("ok")
        kq.close()
    """)
    assert proc.stdout.strip() == "ok"


def test_support_matrix_matches_the_linux_backend() -> None:
    from kevents import _platforms

    info = kevents.backend_info("linux")
    supported = {i.filter.name for i in info.filters if i.supported}
    assert supported == set(_platforms.LINUX_FILTERS)
    rows = dict(_platforms.support_matrix())
    for name in supported:
        assert rows[f"Filter.{name}"]["Linux"] != "unsupported"
    assert rows["Flag.KEEPUDATA"]["macOS"] == "unsupported"
    assert rows["NoteProc.TRACK"]["macOS"] == "unsupported"
