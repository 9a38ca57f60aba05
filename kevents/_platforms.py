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
            "sets SO_RCVLOWAT, which is per socket on Linux (restored on delete); sockets "
            "only; a mark beyond what the socket takes is clamped to it (D47)",
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
    "WRITE EV_CLEAR on a pipe": {
        "linux": (
            "differs",
            "a new edge only when a reader frees space in a full pipe: Linux wakes a "
            "pipe's writers only then, where BSD's knote shares the reader's list and "
            "re-activates after every read or write that leaves PIPE_BUF free "
            "(sockets and eventfds re-fire as on BSD)",
        ),
    },
    "READ/WRITE data with counts=False": {
        "linux": (
            "differs",
            "Queue(counts=False): sockets, pipes and other polled objects report data 0 "
            "and a READ event is not re-checked for bytes (no system call per event); "
            "regular files keep their user-space data. Counting backends ignore it (D43)",
        ),
        "kqueue-over-emulation": ("yes", "a kqueue counts for free: the argument is ignored"),
    },
    "READ/WRITE data with Flag.NODATA": {
        "linux": (
            "differs",
            "a knote made with Flag.NODATA (kevents' own bit) reports data 0 on sockets, "
            "pipes and other polled objects, and its READ events are not re-checked for "
            "bytes (no system call per event); the queue's other knotes count; regular "
            "files keep their user-space data (D78)",
        ),
        "iocp": ("yes", "accepted and ignored: readiness is evaluated from the count"),
        "kqueue-over-emulation": ("yes", "accepted and ignored: a kqueue counts for free"),
    },
    "registration atomic for other threads": {
        "linux": (
            "differs",
            "with the C core (kevents._speedups) no other Python thread runs between a "
            "change list's start and each knote's registration; without it "
            "(KEVENTS_SPEEDUPS=0) cffi and os.fstat release the GIL in between (D46)",
        ),
        "iocp": (
            "unsupported",
            "cffi releases the GIL around each Windows call; a VNODE watch is issued by the "
            "waiting thread (D41), so a change made before the next wait can be missed",
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
    "ident that is a kevents descriptor": {
        "linux": (
            "differs",
            "the queue's own descriptors (nested epoll, eventfds, timerfd, inotify, "
            "pidfds, rings) are EBADF as idents of fd-based filters; on BSD they have no "
            "number (D48)",
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
    "VNODE removed directory": {
        "linux": (
            "differs",
            "inotify reports nothing on a directory removed while a descriptor holds "
            "it: its NOTE_DELETE is derived when the same queue also watches the parent "
            "directory (after the parent's event, as FreeBSD orders them); watched "
            "alone it never comes (D53)",
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


# -- the Windows (iocp) backend; "Wine 8:" marks what only the Wine test tier lacks ------
_IOCP_ROWS: dict[str, tuple[Status, str]] = {
    "queue fileno": (
        "unsupported",
        "Queue.fileno() raises UnsupportedError: an I/O completion port is not a "
        "descriptor that select() or another queue can poll (nesting a queue, "
        "select()/selectors on it are not possible)",
    ),
    "READ/WRITE non-socket": (
        "differs",
        "CRT descriptors work (pipes, console input, regular files, character devices "
        "such as NUL), see the rows below; a handle of unknown type is EV_ERROR ENOTSUP "
        "(D70)",
    ),
    "READ on anonymous pipes": (
        "differs",
        "one helper thread per knote, blocked in a zero-byte ReadFile: os.pipe() and "
        "subprocess pipes (CreatePipe) cannot be overlapped, and Windows has no "
        "asynchronous wait on a synchronous handle; a pipe opened overlapped (named "
        "pipes with FILE_FLAG_OVERLAPPED, asyncio's) is waited on with no thread (D70)",
    ),
    "READ on pipes while the program blocks on them": (
        "differs",
        "Windows serialises I/O on a synchronous handle: while a program thread is "
        "blocked in a read or write of the same pipe, kevents' check of that pipe "
        "(PeekNamedPipe, the pipe's state) waits for it",
    ),
    "READ regular file at EOF": (
        "differs",
        "re-checked every 20 ms while offset == size (no inotify; ReadDirectoryChangesW "
        "reports sizes only at the cache flush), so growth is seen up to 20 ms late",
    ),
    "READ console input data": (
        "differs",
        "data is the number of console input records (GetNumberOfConsoleInputEvents), "
        "which counts key-up, mouse and focus records too, not bytes. Wine tier: "
        "skipped (no console; under a pty, e.g. script(1), Wine has one and the test "
        "passes)",
    ),
    "EV_CLEAR on pipes and files": (
        "differs",
        "a pipe's zero-byte read completes at once while data is buffered (level), so "
        "after a report an EV_CLEAR knote on a pipe, console or file is re-checked "
        "every 20 ms and reports again when data grows or EOF appears",
    ),
    "WRITE on a full pipe": (
        "differs",
        "re-checked every 20 ms while the pipe has no free space (Windows signals "
        "nothing when a reader frees space), and after an EV_CLEAR report (to see the "
        "reader go): such a knote wakes a blocked wait every 20 ms",
    ),
    "WRITE EV_CLEAR on a pipe": (
        "differs",
        "a new edge only after the pipe was seen with no free space (the 20 ms re-check "
        "of the row above), as for sockets; a read or write that leaves space is no new "
        "edge (verified under Wine 8, where a pipe never looks full: see WRITE data)",
    ),
    "READ listener data": (
        "differs",
        "1 while a connection is pending: Windows cannot count the accept backlog",
    ),
    "READ NOTE_LOWAT": (
        "differs",
        "filtered in user space (Winsock has no SO_RCVLOWAT): a socket holding fewer "
        "bytes than the mark is re-checked every 20 ms instead of waking the port",
    ),
    "WRITE NOTE_LOWAT": ("unsupported", "Winsock has no SO_SNDLOWAT: EV_ERROR ENOTSUP"),
    "WRITE data": (
        "differs",
        "sockets: SO_SNDBUF, constant (Windows has no send-queue free-space query); "
        "pipes: WriteQuotaAvailable. Wine 8: that is always 0, so a pipe counts as "
        "writable with data = its buffer size",
    ),
    "EV_CLEAR on sockets": (
        "differs",
        "AFD readiness is level-only: an EV_CLEAR socket knote reports again when "
        "FIONREAD grows or EOF appears, detected by re-checking every 20 ms while "
        "it holds unread data (a blocking wait is sliced meanwhile). A count cannot "
        "tell a drain and a refill between two checks: a program that reads what was "
        "reported and gets as many new bytes before its next wait sees no new edge "
        "(EV_CLEAR|EV_DISPATCH with EV_ENABLE after each read is exact). WRITE with "
        "EV_CLEAR reports again only after the socket was seen not writable",
    ),
    "socket error in fflags": (
        "differs",
        "the Winsock error (WSAECONNRESET...) from the AFD poll's status, which is the "
        "errno value Python uses on Windows (errno.ECONNRESET == 10054); SO_ERROR is "
        "never read, so the program's own getsockopt still sees it (D39)",
    ),
    "close without EV_DELETE": (
        "differs",
        "AFD_POLL_LOCAL_CLOSE or a failing select()/FIONREAD drops the knote; that "
        "does not happen while a duplicated handle keeps the socket open. A pipe READ "
        "knote reads through its own duplicate of the handle, so a pipe closed without "
        "EV_DELETE stays open (its writer does not see it broken) until the knote is "
        "deleted or woken: delete before close, or use Queue.close_fd()",
    ),
    "WRITE EOF after peer close": (
        "differs",
        "socket.socketpair() is a TCP loopback pair on Windows: after the peer's "
        "close (a FIN) the socket may still send (half-close), so WRITE has no "
        "EV_EOF until a reset, as with TCP on BSD (an AF_UNIX pair there has it)",
    ),
    "READ EOF with buffered data": (
        "differs",
        "Wine 8: AFD reports DISCONNECT only once the buffered bytes are read, so "
        "EV_EOF comes with the last read instead of at once (real Windows: at once, "
        "unverified here)",
    ),
    "SO_ERROR after reset": (
        "differs",
        "Winsock does not set SO_ERROR on a reset connection; EV_EOF's fflags carry "
        "WSAECONNRESET from the AFD status or a failing MSG_PEEK",
    ),
    "PROC NOTE_FORK/EXEC/TRACK": (
        "unsupported",
        "no Windows equivalent for arbitrary processes (job-object messages are "
        "documented as unreliable): EV_ERROR ENOTSUP",
    ),
    "PROC exit status": (
        "differs",
        "data is the 32-bit exit code << 8 (what os.waitpid returns on Windows; use "
        "os.waitstatus_to_exitcode); no bits lost. No signals: os.kill/terminate is "
        "TerminateProcess with an exit code, os.WIFSIGNALED does not exist",
    ),
    "PROC wait mechanism": (
        "differs",
        "wait completion packets on Windows 8+ (self-tested); Wine 8: not exported, so "
        "helper threads (WaitForMultipleObjects, 63 handles each) post to the port "
        "(KEVENTS_WIN_WAIT=thread forces them). The Wine tier runs both paths, the "
        "packet one against an emulation of the three ntdll calls; the GitHub "
        "workflow's Windows job runs both on a real kernel (D74)",
    ),
    "SIGNAL numbers": (
        "unsupported",
        "SIGINT, SIGBREAK, SIGTERM, SIGABRT (raised in the process or console events) "
        "and SIGHUP = 1 (CTRL_CLOSE only); SIGFPE, SIGILL, SIGSEGV (a Python handler "
        "cannot return from a fault) and other numbers are EV_ERROR ENOTSUP. Wine 8: "
        "CTRL_BREAK cannot be generated and CTRL_C needs a console",
    ),
    "SIGNAL counts": (
        "differs",
        "counts runs of kevents' chaining Python handler (signal.raise_signal, C "
        "raise(), console events of those signals) and console CTRL_CLOSE events; "
        "Python runs handlers in the main thread, so deliveries raised by other threads "
        "before it gets there count once, and a count waits for the main thread to run "
        "Python (a wakeup fd wakes a main thread blocked in a queue) (D73)",
    ),
    "SIGNAL disposition": (
        "differs",
        "while a knote watches SIGINT/SIGBREAK/SIGTERM/SIGABRT, a chaining Python "
        "handler is installed (signal.signal) that applies the previous disposition "
        "after counting (SIG_DFL: restored and raised again); restored when the last "
        "knote goes. A console control handler returning FALSE is installed with the "
        "first queue (kept for the process's life); Python's handlers still run",
    ),
    "SIGNAL later signal.signal()": (
        "differs",
        "replaces kevents' handler; adding or enabling a knote installs it again on "
        "top, chaining to the new handler (as on Linux). signal.set_wakeup_fd: kevents "
        "sets its own and forwards every byte to the one set before; one set after "
        "replaces it (counts then wait for the main thread to run Python)",
    ),
    "SIGNAL outside the main thread": (
        "differs",
        "Python installs handlers in the main thread only: a knote added by another "
        "thread counts SIGINT/SIGBREAK console events only; SIGTERM/SIGABRT ones are "
        "EV_ERROR ENOTSUP",
    ),
    "VNODE directories": (
        "differs",
        "os.open cannot open a directory on Windows: get its descriptor from "
        "kevents.open_for_vnode(path) (D71). A move between directories is an "
        "add and a remove to ReadDirectoryChangesW, so it is NOTE_WRITE (+ NOTE_LINK "
        "for a directory) without BSD's NOTE_EXTEND, as on Linux",
    ),
    "VNODE rename and delete": (
        "differs",
        "files opened by os.open lack FILE_SHARE_DELETE, so such a watched file cannot "
        "be renamed or deleted while the descriptor is open (sharing violation); one "
        "from kevents.open_for_vnode(path) shares deletion, and its rename is reported "
        "and followed. Wine 8: "
        "a deleted file stays in its directory until its last handle closes, and "
        "GetFinalPathNameByHandleW keeps a renamed file's old name (kevents takes the "
        "new name from the rename's own notification)",
    ),
    "VNODE extensions": (
        "differs",
        "TRUNCATE from the re-stat (the size shrank), NAMES from a watched directory's "
        "entries; RESCAN is delivered when ReadDirectoryChangesW's buffer overflows "
        "(zero-byte completion)",
    ),
    "VNODE OPEN/CLOSE/READ notes": (
        "unsupported",
        "ReadDirectoryChangesW reports no opens, closes or reads: ENOTSUP",
    ),
    "VNODE timing": (
        "differs",
        "real Windows reports size/mtime changes when data reaches the cache flush, "
        "so NOTE_WRITE can lag; Wine 8 (inotify underneath) is prompt",
    ),
    "AIO engine": (
        "differs",
        "overlapped ReadFile/WriteFile on a private ReOpenFile twin of the descriptor's "
        "handle; fsync is FlushFileBuffers on a helper thread",
    ),
    "TIMER resolution": (
        "differs",
        "a high-resolution waitable timer (CREATE_WAITABLE_TIMER_HIGH_RESOLUTION, "
        "Windows 10 1803+) wakes the port through a wait packet at the deadline; "
        "without one (older Windows, or no wait packets: Wine 8) the port wait is in "
        "whole milliseconds, rounded up (never early), and real Windows ends it on "
        "the ~15.6 ms system tick. Wine 8: the port wait is precise (D72)",
    ),
    "EVFILT_EMPTY": ("unsupported", "no send-queue-empty notification"),
    "EVFILT_FS, LIO, SENDFILE": ("unsupported", "FreeBSD-only kernel facilities"),
    "EVFILT_PROCDESC": ("unsupported", "no process descriptors on Windows"),
}
for _feature, _entry in _IOCP_ROWS.items():
    TABLE.setdefault(_feature, {})["iocp"] = _entry


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
#: How the Windows (iocp) backend provides each filter; others are unsupported there.
WINDOWS_FILTERS = {
    "READ": "AFD poll; zero-byte pipe reads",
    "WRITE": "AFD poll; pipe quota",
    "AIO": "overlapped I/O",
    "VNODE": "ReadDirectoryChangesW",
    "PROC": "process handle wait",
    "SIGNAL": "chaining Python handler + console events",
    "TIMER": "heap + port timeout",
    "USER": "user space + posted packet",
}
_WINDOWS = "engine"


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
        cells["Windows"] = WINDOWS_FILTERS.get(f.name, "unsupported")
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
        cells = {"Linux": "timerfd heap", "Linux+io_uring": "timerfd heap", "Windows": "heap"}
        for name, t in bsd.items():
            if unit == NoteTimer.ABSTIME:
                ok = t.timer_abstime is not None
            else:
                ok = t.timer_units.get(int(unit)) is not None
            cells[name] = "native (translated)" if ok else "unsupported"
        rows.append((f"NoteTimer.{unit.name}", cells))
    for note in NoteVnode:
        ext = note in (NoteVnode.TRUNCATE, NoteVnode.RESCAN, NoteVnode.NAMES)
        win_ok = note in (
            NoteVnode.DELETE,
            NoteVnode.WRITE,
            NoteVnode.EXTEND,
            NoteVnode.ATTRIB,
            NoteVnode.LINK,
            NoteVnode.RENAME,
            NoteVnode.REVOKE,
            NoteVnode.RESCAN,
            NoteVnode.TRUNCATE,
            NoteVnode.NAMES,
        )
        cells = {
            "Linux": "kevents extension" if ext else "inotify + stat",
            "Windows": "ReadDirectoryChangesW + stat" if win_ok else "unsupported",
        }
        cells["Linux+io_uring"] = cells["Linux"]
        for name, t in bsd.items():
            missing = note & t.missing_vnode or note == NoteVnode.RESCAN
            cells[name] = "unsupported" if missing else "native"
        rows.append((f"NoteVnode.{note.name}", cells))
    for pnote in (NoteProc.EXIT, NoteProc.FORK, NoteProc.EXEC, NoteProc.TRACK):
        how = "pidfd" if pnote == NoteProc.EXIT else "netlink proc connector"
        win = "process handle wait" if pnote == NoteProc.EXIT else "unsupported"
        cells = {"Linux": how, "Linux+io_uring": how, "Windows": win}
        for name, t in bsd.items():
            cells[name] = "unsupported" if pnote & t.missing_proc else "native"
        rows.append((f"NoteProc.{pnote.name}", cells))
    return rows
