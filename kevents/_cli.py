"""The ``kevents`` command: ``info``, ``watch`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence

from ._errors import UnsupportedError
from ._event import VNODE_CHANGES, Filter, Flag, KEvent, NoteProc, NoteTimer, NoteVnode
from ._info import backend_info
from ._queue import Queue
from ._version import __version__

_VNODE_ALL = VNODE_CHANGES | int(NoteVnode.REVOKE)
#: exit status of a refusal (argparse's own, for bad arguments)
REFUSED = 2


class Refused(Exception):
    """A request the command cannot carry out: one line on stderr, exit status 2."""


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {n}")
    return n


def _seconds(text: str) -> float:
    try:
        t = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not t >= 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, not {text}")
    return t


def _duration(text: str) -> int:
    """'1s', '250ms', '10us', '5ns' or a bare number of seconds -> nanoseconds."""
    units = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9}
    for suffix in ("ns", "us", "ms", "s", "m"):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return _ns(float(text[: -len(suffix)]) * units[suffix], text)
    try:
        return _ns(float(text) * 10**9, text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 1s, 250ms)") from None


def _ns(value: float, text: str) -> int:
    if not 0 <= value < 2**63:  # also refuses NaN and infinity
        raise argparse.ArgumentTypeError(f"not a duration kevents can time: {text!r}")
    return int(value)


def _pid(text: str) -> int:
    try:
        pid = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a process id: {text!r}") from None
    if not 0 < pid < 2**31:
        raise argparse.ArgumentTypeError(f"not a process id: {pid}")
    return pid


def _signals(text: str) -> list[int]:
    out = []
    for name in text.split(","):
        name = name.strip().upper()
        if not name:
            continue
        if name.isdigit():
            out.append(int(name))
            continue
        sig = getattr(signal, name if name.startswith("SIG") else f"SIG{name}", None)
        if not isinstance(sig, int) or name.startswith("SIG_"):  # SIG_IGN is no signal
            raise argparse.ArgumentTypeError(f"unknown signal {name!r}")
        out.append(int(sig))
    return out


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:  # a real-time signal between SIGRTMIN and SIGRTMAX, say
        return str(sig)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kevents",
        description="kqueue-style events on every OS: inspect the backend, watch "
        "processes, signals, timers and files, or run the demo.",
    )
    p.add_argument("--version", action="version", version=f"kevents {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print how each filter is provided here")
    info.add_argument("--backend", help="describe this backend instead of the default")
    info.add_argument("--json", action="store_true", help="print JSON")
    w = sub.add_parser(
        "watch",
        help="print one JSON line per event until --count events or --timeout",
        description="Watch processes, signals, timers and files in one queue; print one "
        "JSON object per event. Exits 0 after --count events, at --timeout, or once "
        "every --pid process has exited; exits 2 with a one-line message when a "
        "registration is refused.",
    )
    w.add_argument(
        "--pid",
        type=_pid,
        action="append",
        default=[],
        help="a process to wait for (any pid, child or not); repeatable",
    )
    w.add_argument(
        "--signal",
        type=_signals,
        action="append",
        default=[],
        help="signals to count, e.g. TERM,HUP (their default action is "
        "replaced by 'ignore' while watching, as BSD programs do)",
    )
    w.add_argument(
        "--timer",
        type=_duration,
        action="append",
        default=[],
        help="a periodic timer, e.g. 1s or 250ms; repeatable",
    )
    w.add_argument(
        "--path",
        action="append",
        default=[],
        help="a file or directory whose changes to report; repeatable",
    )
    w.add_argument(
        "--count", type=_count, default=0, help="stop after this many events (0: no limit)"
    )
    w.add_argument("--timeout", type=_seconds, default=None, help="stop after this many seconds")
    sub.add_parser("demo", help="run the demo (what `make demo` runs)")
    return p


def _info(args: argparse.Namespace) -> int:
    try:
        info = backend_info(args.backend)
    except (UnsupportedError, ValueError) as exc:
        raise Refused(str(exc)) from None
    if args.json:
        print(
            json.dumps(
                {
                    "backend": info.backend,
                    "chosen_by": info.chosen_by,
                    "platform": info.platform,
                    "filters": {
                        f.filter.name: {
                            "supported": f.supported,
                            "mechanism": f.mechanism,
                            "why": f.why,
                        }
                        for f in info.filters
                    },
                },
                indent=2,
            )
        )
        return 0
    print(f"kevents backend: {info.backend} ({info.chosen_by}) on {info.platform}")
    for f in info.filters:
        mech = f.mechanism if f.supported else "unsupported"
        print(f"  {f.filter.name:9s} {mech}\n            {f.why}")
    return 0


def _event_json(ev: KEvent, paths: dict[int, str]) -> str:
    filt = Filter(ev.filter)
    record: dict[str, object] = {
        "time": round(time.time(), 6),
        "filter": filt.name,
        "ident": ev.ident,
        "flags": [f.name for f in Flag if f.value & ev.flags and f.name and f != Flag.SYSFLAGS],
        "fflags": ev.fflags,
        "data": ev.data,
    }
    if filt == Filter.PROC:
        record["notes"] = [n.name for n in NoteProc if n.value & ev.fflags]
        if ev.fflags & NoteProc.EXIT:
            if ev.fflags & NoteProc.EXITSTATUS:
                record["exit_status"] = os.waitstatus_to_exitcode(ev.data)
            else:
                record["exit_status"] = None
    if filt == Filter.VNODE:
        record["path"] = paths.get(ev.ident)
        record["notes"] = [n.name for n in NoteVnode if n.value & ev.fflags]
    if filt == Filter.SIGNAL:
        record["signal"] = _signal_name(ev.ident)
    return json.dumps(record)


def _open_path(path: str) -> int:
    """A descriptor for a VNODE knote; O_NONBLOCK so that a FIFO never blocks the
    open (the VNODE change then refuses it)."""
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise Refused(f"--path {path}: {exc.strerror}") from None


def _ignore(sig: int) -> None:
    """BSD style: let the queue count the signal instead of dying of it."""
    try:
        signal.signal(sig, signal.SIG_IGN)
    except (OSError, ValueError) as exc:  # SIGKILL, SIGSTOP, a number out of range
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise Refused(f"--signal {_signal_name(sig)}: cannot be watched ({why})") from None


def _watch(args: argparse.Namespace) -> int:
    sigs = [s for group in args.signal for s in group]
    if not (args.pid or sigs or args.timer or args.path):
        raise Refused("nothing to watch: give --pid, --signal, --timer or --path")
    changes: list[KEvent] = []
    for pid in args.pid:
        changes.append(KEvent(pid, Filter.PROC, Flag.ADD, NoteProc.EXIT))
    for sig in sigs:
        changes.append(KEvent(sig, Filter.SIGNAL, Flag.ADD))
    for i, ns in enumerate(args.timer, start=1):
        changes.append(KEvent(i, Filter.TIMER, Flag.ADD, NoteTimer.NSECONDS, ns))
    paths: dict[int, str] = {}
    running = set(args.pid)  # the command ends once every one of them has exited
    with Queue() as kq:
        try:
            for path in args.path:
                fd = _open_path(path)
                paths[fd] = path
                changes.append(KEvent(fd, Filter.VNODE, Flag.ADD | Flag.CLEAR, _VNODE_ALL))
            for sig in sigs:
                _ignore(sig)
            # with room and no error, this first call also collects what is ready at
            # once (a process that exited before the watch began): printed first
            first = kq.control(changes, len(changes), 0)
            for ev in first:
                if ev.flags & Flag.ERROR and ev.data:
                    what = paths.get(ev.ident, ev.ident) if ev.filter == Filter.VNODE else ev.ident
                    raise Refused(f"{Filter(ev.filter).name} {what}: {os.strerror(ev.data)}")
            return _print_events(kq, args, paths, running, first)
        except UnsupportedError as exc:
            raise Refused(str(exc)) from None
        finally:
            for fd in paths:
                kq.close_fd(fd)  # deletes its knote, then closes it


def _print_events(
    kq: Queue,
    args: argparse.Namespace,
    paths: dict[int, str],
    running: set[int],
    first: list[KEvent],
) -> int:
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    seen = 0
    batch = [ev for ev in first if not ev.flags & Flag.ERROR]  # receipts are no events
    while True:
        for ev in batch:
            print(_event_json(ev, paths), flush=True)
            seen += 1
            if ev.filter == Filter.PROC and ev.fflags & NoteProc.EXIT:
                running.discard(ev.ident)
                if args.pid and not running:
                    return 0
            if args.count and seen >= args.count:
                return 0
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if left == 0.0:
            return 0
        batch = kq.control(None, 64, left)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "info":
            return _info(args)
        if args.command == "watch":
            return _watch(args)
        from ._demo import run

        return run()
    except Refused as exc:
        print(f"kevents {args.command}: {exc}", file=sys.stderr)
        return REFUSED
    except KeyboardInterrupt:
        return 130  # 128 + SIGINT, as a shell reports it; no traceback
    except BrokenPipeError:
        # the reader went away (kevents watch | head -1): stop quietly, and keep the
        # interpreter's final flush of stdout from raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it
