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

_VNODE_ALL = VNODE_CHANGES | int(NoteVnode.REVOKE)


def _duration(text: str) -> int:
    """'1s', '250ms', '10us', '5ns' or a bare number of seconds -> nanoseconds."""
    units = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9}
    for suffix in ("ns", "us", "ms", "s", "m"):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return int(float(text[: -len(suffix)]) * units[suffix])
    try:
        return int(float(text) * 10**9)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 1s, 250ms)") from None


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
        if not isinstance(sig, int):
            raise argparse.ArgumentTypeError(f"unknown signal {name!r}")
        out.append(int(sig))
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kevents",
        description="kqueue-style events on every OS: inspect the backend, watch "
        "processes, signals, timers and files, or run the demo.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print how each filter is provided here")
    info.add_argument("--backend", help="describe this backend instead of the default")
    info.add_argument("--json", action="store_true", help="print JSON")
    w = sub.add_parser(
        "watch",
        help="print one JSON line per event until --count events or --timeout",
        description="Watch processes, signals, timers and files in one queue; print one "
        "JSON object per event. Exits 0 after --count events or at --timeout; "
        "exits 2 when a registration is refused.",
    )
    w.add_argument(
        "--pid",
        type=int,
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
    w.add_argument("--count", type=int, default=0, help="stop after this many events")
    w.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    sub.add_parser("demo", help="run the demo (what `make demo` runs)")
    return p


def _info(args: argparse.Namespace) -> int:
    info = backend_info(args.backend)
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
    if filt == Filter.PROC and ev.fflags & NoteProc.EXIT:
        if ev.fflags & NoteProc.EXITSTATUS:
            record["exit_status"] = os.waitstatus_to_exitcode(ev.data)
        else:
            record["exit_status"] = None
    if filt == Filter.VNODE:
        record["path"] = paths.get(ev.ident)
        record["notes"] = [n.name for n in NoteVnode if n.value & ev.fflags]
    if filt == Filter.SIGNAL:
        record["signal"] = signal.Signals(ev.ident).name
    return json.dumps(record)


def _watch(args: argparse.Namespace) -> int:
    changes: list[KEvent] = []
    for pid in args.pid:
        changes.append(KEvent(pid, Filter.PROC, Flag.ADD, NoteProc.EXIT))
    sigs = [s for group in args.signal for s in group]
    for sig in sigs:
        changes.append(KEvent(sig, Filter.SIGNAL, Flag.ADD))
    for i, ns in enumerate(args.timer, start=1):
        changes.append(KEvent(i, Filter.TIMER, Flag.ADD, NoteTimer.NSECONDS, ns))
    paths: dict[int, str] = {}
    fds: list[int] = []
    with Queue() as kq:
        try:
            for path in args.path:
                fd = os.open(path, os.O_RDONLY)
                fds.append(fd)
                paths[fd] = path
                changes.append(KEvent(fd, Filter.VNODE, Flag.ADD | Flag.CLEAR, _VNODE_ALL))
            for sig in sigs:  # BSD style: let the queue count them instead of dying
                signal.signal(sig, signal.SIG_IGN)
            errors = kq.control(changes, len(changes), 0)
            for ev in errors:
                if ev.flags & Flag.ERROR and ev.data:
                    print(
                        f"kevents watch: {Filter(ev.filter).name} {ev.ident}: "
                        f"{os.strerror(ev.data)}",
                        file=sys.stderr,
                    )
                    return 2
            deadline = None if args.timeout is None else time.monotonic() + args.timeout
            seen = 0
            while not args.count or seen < args.count:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if left == 0.0:
                    break
                for ev in kq.control(None, 64, left):
                    print(_event_json(ev, paths), flush=True)
                    seen += 1
                    if args.count and seen >= args.count:
                        break
            return 0
        except UnsupportedError as exc:
            print(f"kevents watch: {exc}", file=sys.stderr)
            return 2
        finally:
            for fd in fds:
                kq.close_fd(fd)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "info":
        return _info(args)
    if args.command == "watch":
        return _watch(args)
    from ._demo import run

    return run()
