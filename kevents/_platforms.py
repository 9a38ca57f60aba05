"""The one table of platform differences: what each backend provides, and how it
differs from FreeBSD (the reference). The docs render it (docs/platforms.rst) and the
tests read it (``tests/conftest.py: expect``), so they cannot drift apart.

Each row: feature -> {backend: (status, note)}; status is one of
``"yes"`` (as FreeBSD), ``"differs"`` (works, with the documented difference),
``"unsupported"`` (UnsupportedError / EV_ERROR ENOTSUP). Backends: ``linux``,
``linux-io_uring``, ``iocp`` (Windows), ``kqueue`` (FreeBSD/macOS native),
``kqueue-over-emulation`` (the kqueue translation layer run over the Linux emulation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ._backends.kqueue.constants import OsTable

Status = Literal["yes", "differs", "unsupported"]
Row = dict[str, tuple[Status, str]]

BACKENDS = ("linux", "linux-io_uring", "iocp", "kqueue", "kqueue-over-emulation")

TABLE: dict[str, Row] = {
    "READ udp data": {
        "linux": (
            "differs",
            "data is the size of the first queued datagram (FIONREAD), "
            "not the total of all datagrams (D32)",
        ),
    },
    "READ listener data": {
        "linux": (
            "differs",
            "TCP: accept-queue length from TCP_INFO; AF_UNIX listeners report 1 (D33)",
        ),
    },
    "READ NOTE_LOWAT": {
        "linux": (
            "differs",
            "sets SO_RCVLOWAT, which is per socket on Linux (restored on delete); sockets only",
        ),
    },
    "WRITE NOTE_LOWAT": {
        "linux": ("unsupported", "Linux has no SO_SNDLOWAT: EV_ERROR ENOTSUP (D34)"),
    },
    "WRITE data": {
        "linux": (
            "differs",
            "sockets: SO_SNDBUF - SIOCOUTQ (Linux doubles SO_SNDBUF, so "
            "this is an upper estimate); readiness threshold is Linux's (about a "
            "third of the buffer), not SO_SNDLOWAT",
        ),
    },
    "socket error in fflags": {
        "linux": (
            "unsupported",
            "fflags is 0 on EV_EOF: Linux can read a socket's error only by clearing "
            "it (SO_ERROR), which would hide a failed non-blocking connect from the "
            "program's own getsockopt(SO_ERROR); the error stays in the socket (D39)",
        ),
    },
    "close without EV_DELETE": {
        "linux": (
            "differs",
            "epoll keeps a registration while a dup of the file lives; "
            "kevents drops the knote when it sees the fd closed (next change or "
            "event) and rebuilds the epoll set if a dead registration fires; an fd "
            "number reused while a dup lives can be misattributed: delete before "
            "close, or use Queue.close_fd() (D13)",
        ),
    },
    "READ on a nested queue data": {
        "linux": ("differs", "data is 1, not the number of pending events"),
    },
    "PROC status of a non-child": {
        "linux": (
            "differs",
            "known only once its real parent reaped it (PIDFD_INFO_EXIT, "
            "Linux 6.15+); otherwise data is 0 and NoteProc.EXITSTATUS is not set "
            "(D19). Children: waitid(WNOWAIT), never reaped",
        ),
    },
    "PROC on a zombie": {
        "kqueue": (
            "differs",
            "macOS, OpenBSD and NetBSD answer ESRCH; FreeBSD and kevents "
            "elsewhere report the exit at once (D18)",
        ),
    },
    "PROC NOTE_FORK/EXEC/TRACK": {
        "linux": (
            "differs",
            "through the netlink proc connector (initial namespaces only; "
            "ENOBUFS under load gives NOTE_TRACKERR); ENOTSUP where it cannot be "
            "opened (D20)",
        ),
    },
    "SIGNAL counts": {
        "linux": (
            "differs",
            "counts deliveries, not generations: a standard signal sent again "
            "while one is pending (blocked, or not yet handled) coalesces in the "
            "kernel, so bursts may count less than on BSD; real-time signals queue "
            "and count exactly; a signal sent to self, unblocked, counts exactly (D17)",
        ),
    },
    "SIGNAL blocked or waited for": {
        "linux": (
            "differs",
            "a signal blocked in every thread is counted when it is unblocked and "
            "delivered; one taken by sigwait(), sigtimedwait() or a signalfd is never "
            "counted (BSD counts at generation, before any mask)",
        ),
    },
    "SIGNAL pending at registration": {
        "linux": (
            "differs",
            "a signal already pending (blocked) when the knote is added is counted "
            "when it is delivered after the add; BSD does not count it (C-89)",
        ),
    },
    "SIGNAL disposition": {
        "linux": (
            "differs",
            "a chaining sigaction handler is installed while knotes exist: Python "
            "handlers, KeyboardInterrupt and default actions still run, but SIG_IGN "
            "becomes a handler (with SA_RESTART), so a child spawned by subprocess "
            "or posix_spawn inherits SIG_DFL instead of SIG_IGN; a child made by "
            "os.fork gets its dispositions back (D16)",
        ),
    },
    "SIGNAL later signal.signal()": {
        "linux": (
            "differs",
            "replaces kevents' handler; kevents notices at the next EV_ADD or "
            "EV_ENABLE of a SIGNAL knote or delivery of a watched signal and "
            "installs it again on top (chaining to the new action); deliveries in "
            "between are not counted: set the disposition first, then add (D16)",
        ),
    },
    "SIGNAL SIGCHLD ignored": {
        "linux": (
            "differs",
            "refused with EPERM while SIGCHLD is SIG_IGN (a handler would end "
            "automatic reaping); BSD accepts the knote and never counts it",
        ),
    },
    "SIGNAL ident check": {
        "linux": (
            "differs",
            "0, numbers above 64, SIGKILL, SIGSTOP and the C library's reserved "
            "signals (32, 33) are refused with EINVAL; BSD registers any number",
        ),
    },
    "SIGNAL thread-directed": {
        "kqueue": (
            "differs",
            "macOS counts process-directed signals only: pthread_kill() is not seen",
        ),
    },
    "SIGNAL siginfo extra": {
        "linux": (
            "differs",
            "ev.ext is a kevents.SigInfo (pid, uid, si_code) of the last "
            "delivery: when several coalesce into one report, the last sender's; an "
            "extension no BSD has",
        ),
        "kqueue": ("unsupported", "kqueue gives no siginfo: ev.ext is None"),
        "kqueue-over-emulation": (
            "unsupported",
            "as on BSD: the translation layer carries no siginfo",
        ),
    },
    "VNODE truncate up": {
        "linux": (
            "differs",
            "a growing ftruncate is NOTE_WRITE|NOTE_EXTEND (inotify says "
            "IN_MODIFY); FreeBSD says NOTE_ATTRIB|NOTE_EXTEND",
        ),
    },
    "VNODE unlink": {
        "linux": (
            "differs",
            "every unlink of a name gives NOTE_DELETE|NOTE_LINK (FreeBSD: "
            "DELETE; macOS adds LINK), derived from st_nlink (D29)",
        ),
    },
    "VNODE extensions": {
        "linux": (
            "differs",
            "NoteVnode.TRUNCATE (size shrank), NoteVnode.RESCAN (inotify "
            "overflow: state unknown, D30) and NoteVnode.NAMES (entry names in "
            "ev.ext) are kevents extensions",
        ),
        "kqueue": (
            "unsupported",
            "TRUNCATE and NAMES are refused with ENOTSUP (no BSD "
            "kernel reports them); a kernel never loses VNODE events, so no RESCAN",
        ),
        "kqueue-over-emulation": ("unsupported", "as on BSD: TRUNCATE and NAMES refused"),
    },
    "VNODE OPEN/CLOSE/READ notes": {
        "kqueue": (
            "differs",
            "FreeBSD only; refused with ENOTSUP on macOS, OpenBSD and "
            "NetBSD (their values mean other things)",
        ),
    },
    "AIO engine": {
        "linux": (
            "differs",
            "a thread pool (preadv/pwritev/fsync) where io_uring is unavailable; same events",
        ),
        "linux-io_uring": (
            "yes",
            "io_uring READ/WRITE/FSYNC requests; completions through the queue's epoll",
        ),
    },
    "EVFILT_EMPTY": {
        "linux": ("unsupported", "no send-queue-empty notification on Linux (D31)"),
    },
    "EVFILT_FS, LIO, SENDFILE": {
        "linux": ("unsupported", "FreeBSD-only kernel facilities"),
    },
}


#: a variant inherits its parent's entries unless a row names the variant itself
#: (kqueue-over-emulation runs the BSD translation layer over the Linux emulation, so the
#: Linux entries apply to it, except where a row names it: what BSD itself lacks)
PARENT = {"linux-io_uring": "linux", "kqueue-over-emulation": "linux"}


def status(feature: str, backend: str) -> tuple[Status, str]:
    """The row entry for ``backend``; features not listed for it work as on FreeBSD."""
    row = TABLE.get(feature, {})
    if backend not in row and backend in PARENT:
        backend = PARENT[backend]
    return row.get(backend, ("yes", ""))


# -- the support matrix: every filter, flag and note on every platform -------------------

#: The platforms of the support matrix (docs/platforms.rst), in order.
MATRIX_PLATFORMS = ("Linux", "Linux+io_uring", "Windows", "FreeBSD", "macOS", "OpenBSD/NetBSD")

#: How the Linux backend provides each filter (tests/backends check it against the
#: backend's own ``mechanisms()``); filters not listed are unsupported there.
LINUX_FILTERS = {
    "READ": "epoll (files, dirs, /dev/null in user space)",
    "WRITE": "nested epoll",
    "AIO": "thread pool",
    "VNODE": "inotify",
    "PROC": "pidfd (+ proc connector)",
    "PROCDESC": "pidfd",
    "SIGNAL": "counting chaining handler",
    "TIMER": "heap + one timerfd",
    "USER": "user space + eventfd",
}
_IO_URING = {
    "AIO": "io_uring",
    "READ": "epoll; long change lists via io_uring",
    "WRITE": "nested epoll; long change lists via io_uring",
}
_WINDOWS = "not yet: the IOCP backend is planned"


def _bsd_tables() -> dict[str, OsTable]:
    from ._backends.kqueue import constants as c

    return {"FreeBSD": c.FREEBSD, "macOS": c.MACOS, "OpenBSD/NetBSD": c.OPENBSD}


def support_matrix() -> list[tuple[str, dict[str, str]]]:
    """Rows (item, {platform: how}) for every filter, flag and note: Linux from the
    backend's mechanisms, the BSDs from the same per-OS tables the kqueue backend
    translates with, Windows as not yet provided. Differences in detail are in TABLE."""
    from ._event import Filter, Flag, NoteProc, NoteTimer, NoteVnode

    bsd = _bsd_tables()
    rows: list[tuple[str, dict[str, str]]] = []
    for f in Filter:
        cells = {"Linux": LINUX_FILTERS.get(f.name, "unsupported")}
        cells["Linux+io_uring"] = _IO_URING.get(f.name, cells["Linux"])
        cells["Windows"] = _WINDOWS
        for name, t in bsd.items():
            native = f in t.filters
            if f == Filter.AIO:
                usable = Filter.USER in t.filters
                cells[name] = "thread pool via EVFILT_USER" if usable else "unsupported"
            else:
                cells[name] = "native" if native else "unsupported"
        rows.append((f"Filter.{f.name}", cells))
    for flag in (
        Flag.ONESHOT,
        Flag.CLEAR,
        Flag.DISPATCH,
        Flag.RECEIPT,
        Flag.FORCEONESHOT,
        Flag.KEEPUDATA,
    ):
        cells = {"Linux": "engine", "Linux+io_uring": "engine", "Windows": _WINDOWS}
        for name, t in bsd.items():
            cells[name] = "unsupported" if flag & t.missing_flags else "native"
        rows.append((f"Flag.{flag.name}", cells))
    for unit in (
        NoteTimer.SECONDS,
        NoteTimer.MSECONDS,
        NoteTimer.USECONDS,
        NoteTimer.NSECONDS,
        NoteTimer.ABSTIME,
    ):
        cells = {"Linux": "timerfd heap", "Linux+io_uring": "timerfd heap", "Windows": _WINDOWS}
        for name, t in bsd.items():
            if unit == NoteTimer.ABSTIME:
                ok = t.timer_abstime is not None
            else:
                ok = t.timer_units.get(int(unit)) is not None
            cells[name] = "native (translated)" if ok else "unsupported"
        rows.append((f"NoteTimer.{unit.name}", cells))
    for note in NoteVnode:
        ext = note in (NoteVnode.TRUNCATE, NoteVnode.RESCAN, NoteVnode.NAMES)
        cells = {"Linux": "kevents extension" if ext else "inotify + stat", "Windows": _WINDOWS}
        cells["Linux+io_uring"] = cells["Linux"]
        for name, t in bsd.items():
            missing = note & t.missing_vnode or note == NoteVnode.RESCAN
            cells[name] = "unsupported" if missing else "native"
        rows.append((f"NoteVnode.{note.name}", cells))
    for pnote in (NoteProc.EXIT, NoteProc.FORK, NoteProc.EXEC, NoteProc.TRACK):
        how = "pidfd" if pnote == NoteProc.EXIT else "netlink proc connector"
        cells = {"Linux": how, "Linux+io_uring": how, "Windows": _WINDOWS}
        for name, t in bsd.items():
            cells[name] = "unsupported" if pnote & t.missing_proc else "native"
        rows.append((f"NoteProc.{pnote.name}", cells))
    return rows
