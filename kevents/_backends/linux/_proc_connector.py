"""NOTE_FORK, NOTE_EXEC and NOTE_TRACK via the netlink process connector.

Story (spec §6.6, D20): only the proc connector (NETLINK_CONNECTOR, group CN_IDX_PROC,
CONFIG_PROC_EVENTS) tells of fork and exec in other processes. It reports every process
of the system, so events are filtered by pid here. It works only in the initial user
and pid namespaces (containers usually cannot use it) and needed CAP_NET_ADMIN before a
2023 patch series (unprivileged on 6.18 here). Multicast netlink drops messages under
load (ENOBUFS): the knotes then get NOTE_TRACKERR. Where the connector cannot be opened
or subscribed, NOTE_FORK/EXEC/TRACK are refused with ENOTSUP, never accepted silently.

One connector socket per queue, opened at the first knote that needs it. NOTE_TRACK
follows FreeBSD: on each fork of a tracked process a knote for the child is added to
the same queue with the same notes and udata; the child reports NOTE_CHILD once with
``data`` = the parent's pid.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

from ..._event import Filter, NoteProc
from ..._knote import Knote

if TYPE_CHECKING:
    from ..._engine import Engine
    from . import LinuxBackend

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_EVENT_FORK = 0x00000001
PROC_EVENT_EXEC = 0x00000002
PROC_EVENT_EXIT = 0x80000000
_NLMSG_DONE = 3
_NLMSG_HDR = struct.Struct("=IHHII")
_CN_MSG = struct.Struct("=IIIIHH")
_EVENT_HDR = struct.Struct("=IIQ")
_FORK = struct.Struct("=IIII")
_EXEC = struct.Struct("=II")
_EXIT = struct.Struct("=IIII")  # pid, tgid, exit_code (a wait status), exit_signal

_FORK_NOTE = int(NoteProc.FORK)
_EXEC_NOTE = int(NoteProc.EXEC)
_TRACK = int(NoteProc.TRACK)
_CHILD = int(NoteProc.CHILD)
_TRACKERR = int(NoteProc.TRACKERR)


def _subscribe() -> socket.socket:
    sock = socket.socket(
        socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_CONNECTOR
    )
    try:
        sock.bind((0, CN_IDX_PROC))
        op = struct.pack("=I", PROC_CN_MCAST_LISTEN)
        cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0) + op
        sock.send(_NLMSG_HDR.pack(_NLMSG_HDR.size + len(cn), _NLMSG_DONE, 0, 0, os.getpid()) + cn)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Connector:
    def __init__(self, backend: LinuxBackend, engine: Engine) -> None:
        try:
            self.sock = _subscribe()
        except OSError as exc:
            raise OSError(
                errno.ENOTSUP,
                "NOTE_FORK/NOTE_EXEC/NOTE_TRACK need the netlink "
                f"proc connector, which is not available here ({exc})",
            ) from exc
        self.backend = backend
        self.engine = engine
        self.tracked: dict[int, Knote] = {}
        #: pid -> CLOCK_MONOTONIC ns from which its events count: messages are read
        #: later than they happen, and an exec that came before the knote (the one
        #: that started the program, say) must not be reported
        self.since: dict[int, int] = {}
        backend.add_internal(self.sock.fileno(), 0x001, self._readable)

    def track(self, kn: Knote) -> None:
        self.tracked[kn.ident] = kn
        self.since[kn.ident] = time.monotonic_ns()

    def untrack(self, kn: Knote) -> None:
        if self.tracked.get(kn.ident) is kn:
            del self.tracked[kn.ident]
            self.since.pop(kn.ident, None)

    def _readable(self, events: int) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:  # the kernel dropped events for us
                    for kn in list(self.tracked.values()):
                        kn.source.note(kn, _TRACKERR)
                    continue
                raise
            self._parse(data)

    def _parse(self, data: bytes) -> None:
        pos = 0
        while pos + _NLMSG_HDR.size <= len(data):
            length = _NLMSG_HDR.unpack_from(data, pos)[0]
            body = pos + _NLMSG_HDR.size + _CN_MSG.size
            if length < _NLMSG_HDR.size or body + _EVENT_HDR.size > len(data):
                return
            what, _cpu, stamp = _EVENT_HDR.unpack_from(data, body)
            payload = body + _EVENT_HDR.size
            if what == PROC_EVENT_FORK:
                _ppid, ptgid, cpid, ctgid = _FORK.unpack_from(data, payload)
                kn = self._knote(ptgid, stamp)
                if cpid == ctgid and kn is not None:  # a new process, not a new thread
                    self._forked(kn, cpid, stamp)
            elif what == PROC_EVENT_EXEC:
                _pid, tgid = _EXEC.unpack_from(data, payload)
                kn = self._knote(tgid, stamp)
                if kn is not None and kn.sfflags & _EXEC_NOTE:
                    kn.source.note(kn, _EXEC_NOTE)
            elif what == PROC_EVENT_EXIT:
                pid, tgid, status, _sig = _EXIT.unpack_from(data, payload)
                kn = self._knote(tgid, stamp)
                if pid == tgid and kn is not None and kn.priv is not None and kn.priv.fd < 0:
                    kn.source.connector_exit(kn, status)
            pos += (length + 3) & ~3

    def _knote(self, pid: int, stamp: int) -> Knote | None:
        """The knote tracking ``pid``, if an event stamped ``stamp`` is for it."""
        kn = self.tracked.get(pid)
        if kn is None or stamp < self.since.get(pid, 0):
            return None
        return kn

    def _forked(self, kn: Knote, child: int, stamp: int) -> None:
        if not kn.alive:
            return
        notes = 0
        if kn.sfflags & _FORK_NOTE:
            notes |= _FORK_NOTE
        tracks = kn.sfflags & _TRACK and (child, Filter.PROC) not in self.engine.knotes
        if tracks and not self._add_child(kn, child, stamp):
            notes |= _TRACKERR
        if notes:
            kn.source.note(kn, notes)

    def _add_child(self, parent: Knote, child: int, stamp: int) -> bool:
        src: Any = parent.source
        kn = Knote(child, Filter.PROC, parent.flags, parent.sfflags, 0, parent.udata)
        kn.source = src
        try:
            src.attach(kn)
        except OSError as exc:
            # The child ran, exited and was reaped before this message was read (its
            # parent waits for it at once, say): no pidfd can be opened any more. FreeBSD
            # attaches at fork and misses nothing; here the child's later EXEC and EXIT
            # messages follow in this same stream, so the knote is fed from them.
            if exc.errno != errno.ESRCH:
                return False
            src.attach_gone(kn)
        self.engine.knotes[(child, Filter.PROC)] = kn
        self.since[child] = stamp  # the child's events count from its fork
        src.note(kn, _CHILD, parent.ident)
        return True

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.backend.remove_internal(self.sock.fileno())
            self.sock.close()

    def forget(self) -> None:
        self.sock.close()


def connector_for(backend: LinuxBackend, engine: Engine) -> Connector:
    """The queue's connector, opened at first need (raises OSError ENOTSUP)."""
    conn: Connector | None = getattr(backend, "proc_connector", None)
    if conn is None:
        conn = Connector(backend, engine)
        backend.proc_connector = conn  # type: ignore[attr-defined]
    return conn
